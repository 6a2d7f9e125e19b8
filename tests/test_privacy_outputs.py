"""Every file the commands write, scanned for small counts, recoverable ones and patient ids.

The scanner (``privacy_scan.py``) is checked first on files with planted violations, so that
a scan that finds nothing means something.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from privacy_scan import scan_outputs, scan_table

from referral_graph import cli, synthetic


def run(*argv: str) -> int:
    return cli.main([*argv, "-q"])


def test_the_scanner_finds_planted_violations(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.DataFrame({"source": ["A", "B"], "referrals": [5, 40]}).to_csv(bad / "t1.csv", index=False)
    pd.DataFrame({"referrals": [None, 40], "amount": [95.0, 800.0]}).to_csv(
        bad / "t2.csv", index=False
    )
    pd.DataFrame({"to_focus": [None, 20], "to_competitors": [50, 30], "total": [54, 50]}).to_csv(
        bad / "t3.csv", index=False
    )
    G = nx.DiGraph()
    G.add_edge("a", "b", referrals=3)
    G.add_edge("b", "c", referrals=30, amount=10.0)
    G.add_edge("c", "a", amount=12.0)  # an amount whose count was left out
    nx.write_graphml(G, bad / "g.graphml")
    (bad / "r.html").write_text(
        "<table><thead><tr><th>Referrer</th><th>Referrals to us</th><th>Trend</th></tr></thead>"
        '<tbody><tr><td>Dr. A</td><td class="num">7</td><td class="num">1</td></tr></tbody></table>'
    )
    (bad / "leak.csv").write_text("note\nMRN-000042 was seen\n")
    problems, n = scan_outputs(bad, patient_ids=["MRN-000042"])
    assert n == 6
    text = "\n".join(problems)
    for expected in (
        "t1.csv: 1 small counts in 'referrals'",
        "t2.csv: 1 rows show 'amount' where 'referrals' is hidden",
        "t3.csv: 1 rows show 'total' beside all but one",
        "g.graphml: a edge has referrals=3",
        "g.graphml: a edge shows 'amount' without its count",
        "r.html: 'Referrals to us' shows '7'",
        "leak.csv: a patient id appears",
    ):
        assert expected in text, (expected, text)
    assert scan_table(pd.DataFrame({"referrals": [0, 11, None]}), "ok.csv") == []


@pytest.fixture(scope="module")
def unseen_outputs(tmp_path_factory) -> tuple[Path, list[str]]:
    """Every command's output on a market the toolkit has not seen, with planted patient ids."""
    root = tmp_path_factory.mktemp("unseen")
    market = synthetic.generate_market(
        n_providers=500, n_months=24, seed=23, n_competitors=3, churn_rate=0.15,
        focus="Northside Care",
    )  # fmt: skip
    events = market.events.rename(
        columns={"source": "ref_npi", "target": "rend_npi", "date": "dos", "patient_id": "mrn"}
    )
    codes = {p: f"MRN-{i:06d}" for i, p in enumerate(events["mrn"].unique())}
    events["mrn"] = events["mrn"].map(codes)
    events.to_csv(root / "claims.csv", index=False)
    market.providers.to_csv(root / "providers.csv", index=False)
    out = root / "out"
    base = ["--events", str(root / "claims.csv"), "--providers", str(root / "providers.csv"),
            "--source-col", "ref_npi", "--target-col", "rend_npi", "--date-col", "dos",
            "--patient-col", "mrn"]  # fmt: skip
    focus = ["--focus", "Northside Care"]
    assert run("report", *base, *focus, "--out", str(out / "report")) == 0
    assert run("score", *base, *focus, "--parquet", "--out", str(out / "score")) == 0
    assert run("at-risk", *base, *focus, "--out", str(out / "at_risk.csv")) == 0
    for name in ("graph.graphml", "graph.gexf", "graph_tables"):
        assert run("build", *base, "--out", str(out / name)) == 0
    return out, list(codes.values())


def test_no_output_of_any_command_shows_a_small_or_recoverable_count(unseen_outputs):
    out, patient_ids = unseen_outputs
    problems, n_files = scan_outputs(out, patient_ids=patient_ids)
    assert n_files >= 40, n_files
    assert problems == []


def test_the_commands_say_what_they_left_out(tmp_path, capsys):
    market = synthetic.generate_market(n_providers=300, n_months=18, seed=4, focus="Northside Care")
    market.events.to_csv(tmp_path / "e.csv", index=False)
    market.providers.to_csv(tmp_path / "p.csv", index=False)
    base = ["--events", str(tmp_path / "e.csv"), "--providers", str(tmp_path / "p.csv")]
    assert run("build", *base, "--out", str(tmp_path / "g.graphml")) == 0
    said = capsys.readouterr().out
    assert "Small-cell suppression:" in said and "--threshold 1" in said
    G = nx.read_graphml(tmp_path / "g.graphml")
    assert G.graph["suppression_threshold"] == 11 and G.graph["suppressed_counts"] > 0
    assert run("score", *base, "--focus", "Northside Care", "--out", str(tmp_path / "s")) == 0
    said = capsys.readouterr().out
    assert "counts from 1 to 10 left out" in said and "--threshold 1" in said
    # with --threshold 1 nothing is left out, and nothing is said
    assert run("build", *base, "--threshold", "1", "--out", str(tmp_path / "all.graphml")) == 0
    assert "Small-cell suppression" not in capsys.readouterr().out
    assert nx.read_graphml(tmp_path / "all.graphml").graph["suppression_threshold"] == 1
