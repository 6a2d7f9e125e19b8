"""Every file the commands write, scanned for small counts, recoverable ones and patient ids.

The scanner (``privacy_scan.py``) is checked first on files with planted violations, so that
a scan that finds nothing means something.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from privacy_scan import scan_outputs, scan_table

from referral_graph import cli, synthetic
from referral_graph.privacy import PARTITIONS, suppress_counts
from referral_graph.scores import write_tables


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
    (bad / "r.html").write_text(  # with the attributes the table macro writes for tables.js
        "<table><thead><tr><th data-search>Referrer</th><th>Referrals to us</th><th>Trend</th>"
        '</tr></thead><tbody><tr data-ids="1234567893"><td>Dr. A</td><td class="num">7</td>'
        '<td class="num">1</td></tr></tbody></table>'
    )
    (bad / "leak.csv").write_text("note\nMRN-000042 was seen\n")
    # a folder whose tables give a hidden count back by subtraction (found by hand):
    # A's ties are 30 and a hidden one; A's out_strength 34 shows it is 4
    sums = bad / "tables"
    sums.mkdir()
    pd.DataFrame({"source": ["A", "A", "B"], "target": ["B", "C", "C"],
                  "target_specialty": ["FM", "FM", "FM"], "referrals": [30, None, 12]}
                 ).to_csv(sums / "ties.csv", index=False)  # fmt: skip
    strengths = pd.DataFrame({"id": ["A", "B", "C"], "out_strength": [34, 12, None],
                              "organization": ["X", "Y", "Z"]})  # fmt: skip
    strengths.to_csv(sums / "providers.csv", index=False)
    # the last 3 months' referrals to the focus, 175, beside two of its three months shown
    months = pd.DataFrame({"month": ["2026-04-01", "2026-05-01", "2026-06-01"],
                           "to_focus": [None, 80, 90]})  # fmt: skip
    months.to_csv(sums / "monthly_trend.csv", index=False)
    pd.DataFrame({"measure": ["Referrals received"], "current": [175], "unit": ["count"]}).to_csv(
        sums / "headline.csv", index=False
    )
    # a prospect's referrals to competitors (14) that share_of_wallet hides
    copies = bad / "copies"
    copies.mkdir()
    pd.DataFrame({"source": ["A", "B"], "to_competitors": [None, 40]}).to_csv(
        copies / "share_of_wallet.csv", index=False
    )
    pd.DataFrame({"id": ["A", "B"], "referrals_to_competitors": [14, 40]}).to_csv(
        copies / "prospects.csv", index=False
    )
    problems, n = scan_outputs(bad, patient_ids=["MRN-000042"])
    assert n == 12
    text = "\n".join(problems)
    for expected in (
        "t1.csv: 1 small counts in 'referrals'",
        "t2.csv: 1 rows show 'amount' where 'referrals' is hidden",
        "t3.csv: 1 rows show 'total' beside all but one",
        "g.graphml: a edge has referrals=3",
        "g.graphml: a edge shows 'amount' without its count",
        "r.html: 'Referrals to us' shows '7'",
        "leak.csv: a patient id appears",
        "tables: 1 providers show out_strength beside all but one of their ties' referrals",
        "tables: headline.csv shows 'Referrals received' (current) beside all but one",
        "copies: prospects.csv shows 1 referrals_to_competitors that share_of_wallet.csv hides",
    ):
        assert expected in text, (expected, text)
    assert scan_table(pd.DataFrame({"referrals": [0, 11, None]}), "ok.csv") == []


def _period(title: str, us: tuple[int, int], them: tuple[int, int]) -> str:
    """A period of a profile's chart: its tooltip and its two bars (x, height)."""
    bars = "".join(
        f'<rect x="{x}" y="10" width="35.6" height="{h}" fill="{c}"/>'
        for (x, h), c in ((us, "#2f6fad"), (them, "#d64545"))
    )
    return f'<g class="rg-month"><title>{title}</title>{bars}</g>'


def _row(cells: list[str], ids: str = "") -> str:
    attrs = f' data-ids="{ids}"' if ids else ""
    return f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _table(headings: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _card(label: str, value: str) -> str:
    value = f'<div class="value">{value}</div>'
    return f'<div class="card"><div class="label">{label}</div>{value}</div>'


#: A profile page with violations planted by hand, in the template's markup
#: (templates/profile.html.j2): the summary's cards, the chart's periods (tooltips, bars,
#: share dots), the ties to our providers, the activities and the ego view.
PLANTED_PROFILE = "\n".join(
    [
        "<h1>Dr. P</h1>",
        '<div class="cards">',
        _card("Referrals to us", "30"),
        _card("To competitors", "&lt;11"),
        _card("Share of wallet", "75 %"),
        "</div>",
        '<svg class="rg-chart" viewBox="0 0 1000 304" width="100%">',
        _period("Jan 2024: to us 7, to competitors 20, share of wallet 26 %", (61, 20), (97, 60)),
        _period("Feb 2024: to us –, to competitors 15, share of wallet –", (155, 80), (191, 45)),
        '<circle cx="79" cy="240" r="3"/><circle cx="173" cy="250" r="3"/>',
        "</svg>",
        _table(
            ["Our provider", "Referrals", "Patients", "Strength", "Components (0–1)", "Trend"],
            [
                _row(["Dr. F", "30", "12", "55", "volume 0.80 · recency 0.78 · share 0.43"], "F"),
                _row(["Dr. G", "&lt;11", "&lt;11", "40", "volume – · share 0.10"], "G"),
            ],
        ),
        _table(
            ["Date", "Liaison", "Kind", "Referrals to us, the month before", "The month after"],
            [_row(["03 Feb 2024", "L. One", "visit", "7", "4"])],
        ),
        '<script>var data = {"nodes":[],"edges":[{"from":"P","to":"F","width":3.9,'
        '"title":"Dr. P \\u2192 Dr. F\\nReferrals: 30\\nPatients: 3"}]};</script>',
    ]
)

#: A second page whose chart gives its totals back (by hand, against the wallet below:
#: to us 25 + 15 = 40, which share_of_wallet.csv hides; to competitors 35, shown there,
#: minus the shown 20 gives the hidden month's 15).
PLANTED_SUMS = "\n".join(
    [
        "<h1>Dr. Q</h1>",
        '<svg class="rg-chart" viewBox="0 0 1000 304" width="100%">',
        _period("Jan 2024: to us 25, to competitors 20, share of wallet 56 %", (61, 50), (97, 40)),
        _period("Feb 2024: to us 15, to competitors –, share of wallet –", (155, 30), (191, 2)),
        '<circle cx="79" cy="240" r="3"/>',
        "</svg>",
    ]
)


def test_the_scanner_finds_planted_violations_on_profiles(tmp_path):
    """Every profile check fails on a page that breaks it, and on a clean one none does."""
    tables, profiles = tmp_path / "tables", tmp_path / "profiles"
    tables.mkdir()
    profiles.mkdir()
    # ties.csv hides P->F (complementary suppression) and P->G (small)
    pd.DataFrame({"source": ["P", "P"], "target": ["F", "G"], "referrals": [None, None],
                  "patients": [12, None]}).to_csv(tables / "ties.csv", index=False)  # fmt: skip
    pd.DataFrame({"source": ["P", "Q"], "to_focus": [None, None], "to_competitors": [35, 35]}
                 ).to_csv(tables / "share_of_wallet.csv", index=False)  # fmt: skip
    (profiles / "P.html").write_text(PLANTED_PROFILE, encoding="utf-8")
    (profiles / "Q.html").write_text(PLANTED_SUMS, encoding="utf-8")
    problems, _ = scan_outputs(tmp_path)
    text = "\n".join(problems)
    for expected in (
        "profiles/P.html: the chart's Jan 2024 shows '7' (us)",
        "profiles/P.html: the chart's Feb 2024 shows a share beside a hidden count",
        "profiles/P.html: the chart's Feb 2024 draws a hidden count's bar",
        "profiles/P.html: the card 'Share of wallet' is shown beside a hidden count",
        "profiles/P.html: the card 'Referrals to us' shows a total that share_of_wallet.csv hides",
        "profiles/P.html: a tie shows its Strength beside its hidden referrals",
        "profiles/P.html: a tie shows its share beside its hidden referrals",
        "profiles/P.html: 'Referrals to us, the month before' shows '7'",
        "profiles/P.html: 'The month after' shows '4'",
        "profiles/P.html: the ego view's tie P→F shows patients '3'",
        "profiles/P.html: shows the referrals of the tie P→F (30), which ties.csv hides",
        "profiles/Q.html: the chart's periods sum to the to_focus that share_of_wallet.csv hides",
        "profiles/Q.html: the chart's one hidden to_competitors is share_of_wallet.csv's total",
    ):
        assert expected in text, (expected, text)
    # the table row and the ego view each show P->F's hidden referrals
    assert text.count("shows the referrals of the tie P→F (30)") == 2
    assert "profiles/P.html: a tie shows its volume" not in text  # shown beside shown counts
    # a page as a profile writes it: nothing found
    clean = tmp_path / "clean"
    (clean / "profiles").mkdir(parents=True)
    (clean / "profiles" / "Q.html").write_text(
        PLANTED_SUMS.replace("to us 15,", "to us –,").replace('height="30"', 'height="2"'),
        encoding="utf-8",
    )
    assert scan_outputs(clean)[0] == []


def _edge(start: str, end: str, width: float, title: str, extra: str = "") -> str:
    return (
        f'{{"from":"{start}","to":"{end}","width":{width},"title":'
        f"{json.dumps(title, ensure_ascii=True)}{extra}}}"
    )


def test_the_scanner_finds_planted_violations_on_views(tmp_path):
    """Every view check fails on a view that breaks it; a view as the report draws it
    (hidden ties "–" and the thinnest) passes."""
    tables, views = tmp_path / "tables", tmp_path / "views"
    tables.mkdir()
    views.mkdir()
    # ties.csv hides P->F (complementary suppression), P->G (small) and Q->F's patients
    pd.DataFrame({"source": ["P", "P", "Q"], "target": ["F", "G", "F"],
                  "referrals": [None, None, 40], "patients": [12, None, None]}
                 ).to_csv(tables / "ties.csv", index=False)  # fmt: skip
    edges = [
        _edge("P", "F", 3.9, "Dr. P → Dr. F\nReferrals: 30\nPatients: 12"),
        _edge("P", "G", 2.9, "Dr. P → Dr. G\nReferrals: 7\nPatients: <11"),
        _edge("Q", "F", 4.4, "Dr. Q → Dr. F\nReferrals: 40\nPatients: 18"),
        _edge("R", "F", 1.0, "Dr. R → Dr. F\nReferrals: 35"),
    ]
    page = '<script>var data = {"nodes":[],"edges":[' + ",".join(edges) + "]};</script>"
    (views / "network.html").write_text(page, encoding="utf-8")
    blanked = page.replace("Referrals: 30", "Referrals: –").replace(
        "Referrals: 7", "Referrals: <11"
    )
    blanked = blanked.replace("Patients: 18", "Patients: –")
    (views / "focus.html").write_text(blanked, encoding="utf-8")  # P->F's width still 3.9
    problems, _ = scan_outputs(tmp_path)
    text = "\n".join(problems)
    for expected in (
        "views/network.html: the tie P→G shows referrals '7'",
        "views/network.html: shows the referrals of the tie P→F (30), which ties.csv hides",
        "views/network.html: shows the patients of the tie Q→F (18), which ties.csv hides",
        "views/focus.html: draws the tie P→F, whose referrals ties.csv hides, 3.9 wide",
    ):
        assert expected in text, (expected, text)
    assert "views/network.html: shows the referrals of the tie Q→F" not in text  # shown there
    assert not [p for p in problems if p.startswith("views/focus.html") and "shows" in p]
    # as the report draws it: the hidden tie the thinnest (or an at-risk tie, dashed, as
    # wide as its referrals at stake)
    (views / "network.html").unlink()
    for clean in (
        blanked.replace('"width":3.9', '"width":1.0'),
        blanked.replace('"width":3.9,', '"width":3.9,"dashes":[14,10],'),
    ):
        (views / "focus.html").write_text(clean, encoding="utf-8")
        assert [p for p in scan_outputs(tmp_path)[0] if p.startswith("views/")] == []


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
    assert run("report", *base, *focus, "--graphml", "--out", str(out / "report")) == 0
    assert run("score", *base, *focus, "--parquet", "--out", str(out / "score")) == 0
    assert run("at-risk", *base, *focus, "--out", str(out / "at_risk.csv")) == 0
    for name in ("graph.graphml", "graph.gexf", "graph_tables"):
        assert run("build", *base, "--out", str(out / name)) == 0
    return out, list(codes.values())


def test_no_output_of_any_command_shows_a_small_or_recoverable_count(unseen_outputs):
    out, patient_ids = unseen_outputs
    problems, n_files = scan_outputs(out, patient_ids=patient_ids)
    assert n_files >= 40, n_files
    # the report's profiles and views are among the files scanned (scan_profiles,
    # scan_views: against its tables)
    assert len(list((out / "report" / "profiles").glob("*.html"))) >= 20
    assert len(list((out / "report" / "views").glob("*.html"))) >= 4
    # and the graph file written with it (--graphml), against its tables/ties.csv
    assert (out / "report" / "referral_graph.graphml").exists()
    assert not (out / "score" / "referral_graph.graphml").exists()
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


# ------------------------------------------- complementary suppression across rows and tables


def test_a_lone_hidden_row_of_a_split_total_takes_the_next_smallest_with_it():
    """By hand: each specialty's referrals sum to a market total shown elsewhere."""
    table = pd.DataFrame(
        {
            "specialty": ["A", "B", "C", "D", "E"],
            "to_focus": [4, 30, 12, 0, 15],  # 4 hidden; next smallest non-zero: 12
            "to_competitors": [20, 25, 40, 11, 50],  # nothing hidden: nothing to do
            "total": [24, 55, 52, 11, 65],  # 24 and 52 hidden: each is a part plus a hidden one
        }
    )
    safe = suppress_counts(table, partitions=PARTITIONS["leakage_by_specialty"])
    assert safe["to_focus"].isna().tolist() == [True, False, True, False, False]
    assert safe["to_competitors"].isna().tolist() == [False] * 5
    assert safe["total"].isna().tolist() == [True, False, True, False, False]
    assert safe.attrs["suppression"]["hidden"] == {"to_focus": 1}
    assert safe.attrs["suppression"]["complementary"] == {"to_focus": 1, "total": 2}


def test_a_cell_alone_in_another_group_is_picked_last():
    """By hand: ties split by source and by target (their providers' strengths)."""
    ties = pd.DataFrame(
        {
            "source": ["A", "A", "A", "B", "B"],
            "target": ["X", "Y", "Z", "X", "Z"],
            "referrals": [5, 13, 20, 30, 40],
        }
    )
    safe = suppress_counts(ties, partitions=PARTITIONS["ties"])
    # A->X (5) is hidden, alone among A's ties: another of A's goes. A->Y (13) is the
    # smallest, but it is Y's only tie: hidden, Y's in_strength (13) would show it. So A->Z
    # (20) goes; then X and Z each hold one hidden tie: B->X (30) and B->Z (40) go too.
    assert safe["referrals"].isna().tolist() == [True, False, True, True, True]
    # A dense table: every tie ends up hidden (worked out the same way, step by step).
    dense = pd.DataFrame(
        {
            "source": ["A", "A", "A", "B", "B", "C"],
            "target": ["X", "Y", "Z", "X", "Y", "Z"],
            "referrals": [5, 40, 20, 30, 12, 50],
        }
    )
    assert suppress_counts(dense, partitions=PARTITIONS["ties"])["referrals"].isna().all()


def test_a_table_that_repeats_cells_hides_what_the_other_hid(tmp_path):
    """key_referrers repeats share_of_wallet's counts: a cell hidden there (complementary
    suppression, not small) is hidden here too; by hand."""
    wallet = pd.DataFrame(
        {
            "source": ["A", "B", "C"],
            "to_focus": [3, 14, 25],  # 3 small; 14 the next smallest
            "to_competitors": [40, 40, 40],
            "total": [43, 54, 65],
        }
    )
    key = pd.DataFrame({"rank": [1, 2], "source": ["C", "B"], "to_focus": [25, 14],
                        "to_competitors": [40, 40], "share": [25 / 65, 14 / 54]})  # fmt: skip
    written = write_tables({"key_referrers": key, "share_of_wallet": wallet}, tmp_path)
    safe_wallet = pd.read_csv(written["share_of_wallet"][0])
    safe_key = pd.read_csv(written["key_referrers"][0])
    assert safe_wallet["to_focus"].isna().tolist() == [True, True, False]
    assert safe_wallet["total"].isna().tolist() == [True, True, False]
    assert safe_key["to_focus"].isna().tolist() == [False, True]
    assert safe_key["share"].isna().tolist() == [False, True]  # 14 / 54 would give 14 back


@pytest.mark.parametrize("calls", ["one", "two"])
def test_a_prospects_referrals_to_competitors_are_hidden_with_its_to_competitors(tmp_path, calls):
    """prospects repeats share_of_wallet's to_competitors (a prospect's referrals to
    competitors): the 14 that share_of_wallet hides by complementary suppression (beside the
    small 3 of its column's total) is hidden in prospects too, written in the same call or
    in a later one given the first's result (as the report writes them); by hand."""
    wallet = pd.DataFrame(
        {
            "source": ["A", "B", "C"],
            "to_focus": [0, 0, 30],
            "to_competitors": [3, 14, 25],  # 3 small; 14 the next smallest
            "total": [3, 14, 55],
        }
    )
    prospects = pd.DataFrame(
        {"rank": [1, 2, 3], "id": ["B", "A", "Z"], "referrals_to_competitors": [14, 3, 40]}
    )
    if calls == "one":
        written = write_tables({"share_of_wallet": wallet, "prospects": prospects}, tmp_path)
    else:
        first = write_tables({"share_of_wallet": wallet}, tmp_path)
        written = write_tables({"prospects": prospects}, tmp_path, written=first)
        assert list(first.linked_keys["share_of_wallet"].columns) == ["source"]
    safe_wallet = pd.read_csv(tmp_path / "share_of_wallet.csv")
    safe = pd.read_csv(written["prospects"][0])
    assert safe_wallet["to_competitors"].isna().tolist() == [True, True, False]
    assert safe["referrals_to_competitors"].isna().tolist() == [True, True, False]
    assert safe["rank"].tolist() == [1, 2, 3]
    record = written.records["prospects"]  # the 3 said as small, the 14 as complementary
    assert record["hidden"] == {"referrals_to_competitors": 1}
    assert record["complementary"] == {"referrals_to_competitors": 1}


def test_link_scores_are_written_as_computed_from_the_ties_shown(tmp_path):
    """PageRank, hub and authority solve back to the counts they weigh: the tables carry
    them as computed on the ties as ties.csv shows them, each hidden count taken as 5.5
    (half the threshold). Oracle: networkx on the graph of the shown ties, by hand."""
    ties = pd.DataFrame(
        {
            "source": ["A", "A", "B", "C", "D", "D"],
            "target": ["B", "C", "C", "A", "A", "C"],
            "referrals": [30, 4, 20, 15, 40, 25],  # A->C small
        }
    )
    true = nx.DiGraph()
    true.add_weighted_edges_from(ties.itertuples(index=False), weight="referrals")
    ids = ["A", "B", "C", "D"]
    pagerank = nx.pagerank(true, weight="referrals")
    hubs = dict(zip(ids, [0.4, 0.3, 0.2, 0.1], strict=True))  # as given: any values
    authorities = dict.fromkeys(ids, 0.25)
    providers = pd.DataFrame(
        {
            "id": ids,
            "pagerank": [pagerank[i] for i in ids],
            "hub": [hubs[i] for i in ids],
            "authority": [authorities[i] for i in ids],
        }
    )
    providers.attrs["link_weight"] = "referrals"
    key = pd.DataFrame({"rank": [1, 2], "source": ["D", "B"], "pagerank": [0.3, 0.2],
                        "hub": [0.1, None]})  # fmt: skip
    written = write_tables({"providers": providers, "ties": ties, "key_referrers": key}, tmp_path)
    shown = nx.DiGraph()
    shown.add_weighted_edges_from(
        [("A", "B", 30.0), ("A", "C", 5.5), ("B", "C", 20.0), ("C", "A", 15.0), ("D", "A", 40.0),
         ("D", "C", 25.0)],
        weight="referrals",
    )  # fmt: skip
    expected_pr = nx.pagerank(shown, weight="referrals", tol=1e-13, max_iter=10_000)
    adjacency = nx.to_numpy_array(shown, nodelist=ids, weight="referrals")
    # HITS by hand: the principal eigenvectors of A A^T (hubs) and A^T A (authorities)
    _, vecs = np.linalg.eigh(adjacency @ adjacency.T)
    expected_hub = np.abs(vecs[:, -1]) / np.abs(vecs[:, -1]).sum()
    _, vecs = np.linalg.eigh(adjacency.T @ adjacency)
    expected_authority = np.abs(vecs[:, -1]) / np.abs(vecs[:, -1]).sum()
    out = pd.read_csv(written["providers"][0]).set_index("id").loc[ids]
    assert expected_hub[0] > 0.01 and expected_authority[2] > 0.01  # A->C weighs in both
    from_true = np.linalg.eigh(
        nx.to_numpy_array(true, nodelist=ids, weight="referrals")
        @ nx.to_numpy_array(true, nodelist=ids, weight="referrals").T
    )[1][:, -1]
    assert abs(abs(from_true[0]) / np.abs(from_true).sum() - expected_hub[0]) > 1e-3
    np.testing.assert_allclose(out["pagerank"], [expected_pr[i] for i in ids], rtol=1e-6)
    np.testing.assert_allclose(out["hub"], expected_hub, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out["authority"], expected_authority, rtol=1e-6, atol=1e-9)
    safe_key = pd.read_csv(written["key_referrers"][0])
    assert safe_key["pagerank"].tolist() == pytest.approx(
        [expected_pr["D"], expected_pr["B"]], rel=1e-6
    )
    assert safe_key["hub"].iloc[0] == pytest.approx(expected_hub[3], rel=1e-6)
    assert safe_key["hub"].isna().iloc[1]  # missing stays missing
    assert ties["referrals"].tolist() == [30, 4, 20, 15, 40, 25]  # the input unchanged
    # a provider met in the ties only (D): a node all the same, the others' scores alike
    without_d = providers.iloc[:3].copy()
    without_d.attrs["link_weight"] = "referrals"
    partial = write_tables({"providers": without_d, "ties": ties}, tmp_path / "partial")
    np.testing.assert_allclose(
        pd.read_csv(partial["providers"][0])["pagerank"], [expected_pr[i] for i in ids[:3]],
        rtol=1e-6,
    )  # fmt: skip
    # nothing hidden (threshold 1): the scores as given
    kept = write_tables({"providers": providers, "ties": ties}, tmp_path / "all", threshold=1)
    assert pd.read_csv(kept["providers"][0])["pagerank"].tolist() == pytest.approx(
        providers["pagerank"].tolist()
    )


def test_ties_and_their_organisation_rows_are_suppressed_together(tmp_path):
    """By hand: referrer P's ties to two cardiologists of Rival (30 and 4) make one row of
    share_by_specialty (34); its tie to Ours (20) another; specialty total 54."""
    providers = pd.DataFrame(
        {
            "id": ["P", "R1", "R2", "O1"],
            "specialty": ["FM", "Cardiology", "Cardiology", "Cardiology"],
            "organization": ["P practice", "Rival", "Rival", "Ours"],
            "out_strength": [54, 0, 0, 0],
        }
    )
    ties = pd.DataFrame(
        {
            "source": ["P", "P", "P"],
            "target": ["R1", "R2", "O1"],
            "target_specialty": ["Cardiology"] * 3,
            "referrals": [30, 4, 20],
        }
    )
    cells = pd.DataFrame(
        {
            "source": ["P", "P"],
            "specialty": ["Cardiology", "Cardiology"],
            "organization": ["Rival", "Ours"],
            "is_focus": [False, True],
            "referrals": [34, 20],
            "specialty_total": [54, 54],
            "share": [34 / 54, 20 / 54],
        }
    )
    tables = {"providers": providers, "ties": ties, "share_by_specialty": cells}
    written = write_tables(tables, tmp_path)
    safe_ties = pd.read_csv(written["ties"][0])
    safe_cells = pd.read_csv(written["share_by_specialty"][0])
    # 1. The 4 is hidden; P's out_strength (54) minus its other ties would give it back:
    #    another of P's ties goes, the 30 (the 20 is alone in the Ours row, which shows it).
    # 2. P's hidden ties (30, 4) now make the whole Rival row: out_strength minus the shown
    #    20 gives the row back, hidden or not; so the 20 goes too.
    # 3. The Ours row (20) is shown and holds one hidden tie, its only one: the row goes.
    # 4. P's cardiology then has one hidden row beside the total of 54: the Rival row goes.
    # The specialty total (54 = two hidden rows, three hidden ties) stays.
    assert safe_ties["referrals"].isna().tolist() == [True, True, True]
    assert safe_cells["referrals"].isna().tolist() == [True, True]
    assert safe_cells["specialty_total"].tolist() == [54, 54]
    problems, _ = scan_outputs(tmp_path)
    assert problems == []


def test_tables_are_suppressed_alike_in_any_order_and_kept_on_request(tmp_path):
    """A table that repeats another's cells (key_referrers, share_of_wallet) is suppressed
    after it whichever comes first; `keep` says which written tables are returned."""
    import filecmp

    import referral_graph as rg
    from referral_graph import datasets
    from referral_graph.scores import score_network, write_tables

    paths = datasets.sample_paths()
    net = rg.load_network(events=paths["events"], providers=paths["providers"])
    tables = score_network(net, focus=datasets.SAMPLE_FOCUS)
    names = list(tables)
    assert names.index("key_referrers") < names.index("share_of_wallet")
    given = write_tables(tables, tmp_path / "given")
    reverse = write_tables(dict(reversed(tables.items())), tmp_path / "reverse", keep=["ties"])
    for name in names:
        assert filecmp.cmp(given[name][0], reverse[name][0], shallow=False), name
    assert sorted(given.tables) == sorted(names) and list(reverse.tables) == ["ties"]


def test_a_period_sum_with_one_hidden_month_is_hidden_with_its_ratio(tmp_path):
    """headline sums monthly_trend over periods (privacy.SUMMED); by hand: to_focus by month
    50, 60, 70, 5, 80, 90. The 5 is small; monthly_trend's own total then takes the next
    smallest, January's 50. Each period (Jan-Mar, Apr-Jun) holds one hidden month, so its
    referrals received (180, 175) would give it back: both are hidden, and the share of
    wallet beside them (received / (received + leakage) with leakage shown). Leakage to
    competitors has no hidden month: shown. A period's small sum is hidden as small."""
    months = pd.date_range("2026-01-01", periods=6, freq="MS")
    monthly = pd.DataFrame(
        {"month": months, "to_focus": [50, 60, 70, 5, 80, 90], "to_competitors": [200] * 6}
    )
    headline = pd.DataFrame(
        {
            "measure": ["Referrals received", "Share of wallet", "Leakage to competitors",
                        "New referrers"],
            "current": [175.0, 175 / 775, 600.0, 4.0],
            "previous": [180.0, 180 / 780, 600.0, 12.0],
            "unit": ["count", "share", "count", "count"],
        }
    )  # fmt: skip
    headline.attrs["periods"] = {"current": list(months[3:]), "previous": list(months[:3])}
    written = write_tables({"headline": headline, "monthly_trend": monthly}, tmp_path)
    safe_monthly = pd.read_csv(written["monthly_trend"][0])
    safe = pd.read_csv(written["headline"][0]).set_index("measure")
    assert safe_monthly["to_focus"].isna().tolist() == [True, False, False, True, False, False]
    assert safe["current"].isna().to_dict() == {
        "Referrals received": True,
        "Share of wallet": True,
        "Leakage to competitors": False,
        "New referrers": True,  # 4: small
    }
    assert safe["previous"].isna().to_dict() == {
        "Referrals received": True,
        "Share of wallet": True,
        "Leakage to competitors": False,
        "New referrers": False,
    }
    # said as a value that would reveal one (2 sums and 2 shares), the 4 as a small count
    record = written.records["headline"]
    assert record["complementary"] == {"current": 2, "previous": 2}
    assert record["hidden"] == {"current": 1}


def test_the_headline_periods_are_the_months_it_sums():
    """The headline's attrs name the months of each period; checked against a pandas sum."""
    from referral_graph.report import headline_figures

    panel = pd.DataFrame(
        {
            "source": ["A"] * 8,
            "target": ["F"] * 4 + ["C"] * 4,
            "month": list(pd.date_range("2026-01-01", periods=4, freq="MS")) * 2,
            "referrals": [10, 20, 30, 40, 1, 2, 3, 4],
        }
    )
    providers = pd.DataFrame({"id": ["A", "F", "C"], "organization": ["X", "Us", "Them"]})
    h = headline_figures(panel, providers, ["F"], window=2)
    periods = h.attrs["periods"]
    assert set(periods) == {"current", "previous"}  # no year-ago period in 4 months
    for col, months in periods.items():
        received = panel[(panel["target"] == "F") & panel["month"].isin(months)]["referrals"]
        assert h.set_index("measure").loc["Referrals received", col] == received.sum()


def test_write_tables_says_when_the_joint_suppression_is_decided(tmp_path):
    """on_decided is called once, before the first file is written, and also when the
    call fails first (a caller waiting on it must not wait forever)."""
    seen: list[bool] = []
    tables = {"t": pd.DataFrame({"referrals": [3, 30]})}

    def decided() -> None:
        seen.append(any(tmp_path.rglob("*.csv")))

    write_tables(tables, tmp_path / "a", on_decided=decided)
    assert seen == [False]
    assert (tmp_path / "a" / "t.csv").exists()
    with pytest.raises(ValueError, match="formats"):
        write_tables(tables, tmp_path / "b", formats=["xlsx"], on_decided=decided)
    assert len(seen) == 2


# ------------------------------------ hidden counts whose sum is known; organisations' sums


def test_the_scanner_finds_sums_that_give_hidden_counts_away(tmp_path):
    """Planted by hand: an organisation's counts beside its referrers', and a provider's
    out_strength beside two hidden ties of 1."""
    pd.DataFrame(
        {
            "id": ["A", "B", "C", "E", "D1", "D2", "D3", "P", "R1", "R2", "R3"],
            "organization": ["X", "X", "Y", "Y", "", None, " ", None, "S", "S", "S"],
            "out_strength": [None, None, None, None, None, None, None, 52, 0, 0, 0],
        }
    ).to_csv(tmp_path / "providers.csv", index=False)
    pd.DataFrame(
        {
            "source": ["A", "B", "C", "E", "D1", "D2", "D3"],
            # X's to_focus 34 minus B's 30 gives A's back
            "to_focus": [None, 30, 20, 25, 40, 30, 50],
            # Y hides its to_competitors while C's and E's are shown: their sum gives it back
            "to_competitors": [20, 15, 40, 11, 20, 20, 60],
            # the unaffiliated referrers' total 52 minus D3's 50: D1 and D2 are 1 each
            "total": [None, 45, 60, 36, None, None, 50],
        }
    ).to_csv(tmp_path / "share_of_wallet.csv", index=False)
    pd.DataFrame(
        {
            "referrer_organization": ["X", "Y", "(unaffiliated)"],
            "to_focus": [34, 45, 120],
            "to_competitors": [35, None, 100],
            "total": [None, 96, 52],
        }
    ).to_csv(tmp_path / "leakage_by_referrer_organization.csv", index=False)
    # P's out_strength, 52, minus its shown tie of 50: its two hidden ties are 1 each
    pd.DataFrame(
        {"source": ["P", "P", "P"], "target": ["R1", "R2", "R3"], "referrals": [None, None, 50]}
    ).to_csv(tmp_path / "ties.csv", index=False)
    problems, _ = scan_outputs(tmp_path)
    text = "\n".join(problems)
    for expected in (
        "1 organisations show to_focus in leakage_by_referrer_organization.csv beside all but "
        "one of their referrers'",
        "1 organisations hide to_competitors while their referrers' in share_of_wallet.csv are "
        "all shown",
        "1 organisations' total gives their referrers' hidden counts in share_of_wallet.csv away",
        "ties.csv by source against providers.csv out_strength: 1 shown totals give two or more "
        "hidden counts away",
    ):
        assert expected in text, (expected, text)
    # X: 34 beside A's hidden and B's 30; Y: hidden beside C's and E's; (unaffiliated): the
    # total beside D1, D2 hidden, no more
    assert sum("organisations" in p for p in problems) == 3, text


def test_hidden_counts_whose_sum_pins_them_down_take_the_next_smallest_with_them():
    """By hand. Each column's rows sum to a total shown elsewhere; a hidden count is at
    least 1, so k hidden counts summing to S each lie between 1 and S - (k - 1), which
    must hold every value from 1 to 10."""
    table = pd.DataFrame(
        {
            "specialty": ["A", "B", "C", "D", "E"],
            # 1 and 1 beside 50 (total 52 shown elsewhere): both 1; the 50 goes (S = 52)
            "to_focus": [1, 1, 50, 0, 0],
            # 3, 4 and 5: S = 12, each between 1 and 10: nothing more
            "to_competitors": [3, 4, 5, 40, 60],
            # 2, 3 and 4: S = 9, each at most 7; the 40 goes (S = 49)
            "total": [2, 3, 4, 40, 60],
        }
    )
    partitions = [("to_focus", ()), ("to_competitors", ()), ("total", ())]
    # (to_focus + to_competitors is not total here: no row sum applies)
    safe = suppress_counts(table, partitions=partitions)
    assert safe["to_focus"].isna().tolist() == [True, True, True, False, False]
    assert safe["to_competitors"].isna().tolist() == [True, True, True, False, False]
    assert safe["total"].isna().tolist() == [True, True, True, True, False]
    assert safe.attrs["suppression"]["complementary"] == {"to_focus": 1, "total": 1}
    # a row's two hidden parts beside its shown total of 11: each between 1 and 10
    row = pd.DataFrame({"to_focus": [5], "to_competitors": [6], "total": [11]})
    assert suppress_counts(row)["total"].tolist() == [11]


def test_a_providers_strength_that_pins_its_hidden_ties_down_is_hidden(tmp_path):
    """By hand: P's 12 ties of 1 make its out_strength 12 (each tie exactly 1); Q's ties
    of 5 and 6 make 11 (each between 1 and 10): P's is hidden, Q's shown."""
    receivers = [f"R{i}" for i in range(12)]
    ties = pd.DataFrame(
        {
            "source": ["P"] * 12 + ["Q", "Q"],
            "target": [*receivers, "R0", "R1"],
            "referrals": [1] * 12 + [5, 6],
        }
    )
    providers = pd.DataFrame(
        {
            "id": ["P", "Q", *receivers],
            "out_strength": [12, 11] + [0] * 12,
            "in_strength": [0, 0, 6, 7] + [1] * 10,
        }
    )
    written = write_tables({"providers": providers, "ties": ties}, tmp_path)
    safe = pd.read_csv(written["providers"][0])
    assert safe["out_strength"].isna().tolist()[:2] == [True, False]
    assert written.records["providers"]["complementary"] == {"out_strength": 1}
    assert pd.read_csv(written["ties"][0])["referrals"].isna().all()
    problems, _ = scan_outputs(tmp_path)
    assert problems == []


def test_organisations_and_their_referrers_are_suppressed_together(tmp_path):
    """By hand: leakage_by_referrer_organization sums share_of_wallet's referrers by their
    organisation (the providers' ``organization``; D has none: "(unaffiliated)").

    ========  ======  ========  ==============  =====
    referrer  org     to_focus  to_competitors  total
    ========  ======  ========  ==============  =====
    F         Z       3         40              43
    H         W       12        30              42
    I         W       60        20              80
    J         W       30        14              44
    B         X       20        15              35
    G         X       25        20              45
    K         V       5         40              45
    L         V       70        20              90
    D         (none)  50        60              110
    ========  ======  ========  ==============  =====

    1. share_of_wallet: F's 3 and K's 5 are small, with their totals (43 - 40, 45 - 40).
       Its to_focus split the market's referrals to the focus: two hidden summing to 8
       (each at most 7), so the smallest other goes, H's 12 (not D's 50: alone in its
       organisation, D shows the organisation's value: picked last), with H's total.
    2. leakage_by_referrer_organization: Z's 3 is small, with Z's total. One hidden
       to_focus among the organisations: the smallest other goes, X's 45 (not the
       unaffiliated 50: one referrer, picked last), with X's total.
    3. W shows 102 and 166 beside H's hidden 12 and 42: the smallest of its two shown
       referrers goes, J's 30 and 44. V shows 75 and 135 beside K's hidden 5 and 45 and
       one shown referrer, L: V's own counts go. X hides 45 and 80 while B's and G's are
       all shown (their sums give them back): the smallest, B's 20 and 35, goes.
    Nothing else: to_competitors are all shown, D and the unaffiliated row too.
    """
    referrers = ["F", "H", "I", "J", "B", "G", "K", "L", "D"]
    providers = pd.DataFrame(
        {"id": referrers, "organization": ["Z", "W", "W", "W", "X", "X", "V", "V", None]}
    )
    wallet = pd.DataFrame(
        {
            "source": referrers,
            "to_focus": [3, 12, 60, 30, 20, 25, 5, 70, 50],
            "to_competitors": [40, 30, 20, 14, 15, 20, 40, 20, 60],
            "total": [43, 42, 80, 44, 35, 45, 45, 90, 110],
        }
    )
    wallet["share"] = wallet["to_focus"] / wallet["total"]
    orgs = pd.DataFrame(
        {
            "referrer_organization": ["Z", "W", "X", "V", "(unaffiliated)"],
            "to_focus": [3, 102, 45, 75, 50],
            "to_competitors": [40, 64, 35, 60, 60],
            "total": [43, 166, 80, 135, 110],
        }
    )
    orgs["leakage_rate"] = orgs["to_competitors"] / orgs["total"]
    tables = {
        "providers": providers,
        "share_of_wallet": wallet,
        "leakage_by_referrer_organization": orgs,
    }
    written = write_tables(tables, tmp_path)
    safe_wallet = pd.read_csv(written["share_of_wallet"][0])
    safe_orgs = pd.read_csv(written["leakage_by_referrer_organization"][0])
    hidden = [True, True, False, True, True, False, True, False, False]
    assert safe_wallet["to_focus"].isna().tolist() == hidden
    assert safe_wallet["total"].isna().tolist() == hidden
    assert safe_wallet["share"].isna().tolist() == hidden
    assert safe_wallet["to_competitors"].notna().all()
    assert safe_orgs["to_focus"].isna().tolist() == [True, False, True, True, False]
    assert safe_orgs["total"].isna().tolist() == [True, False, True, True, False]
    assert safe_orgs["leakage_rate"].isna().tolist() == [True, False, True, True, False]
    assert safe_orgs["to_competitors"].notna().all()
    problems, _ = scan_outputs(tmp_path)
    assert problems == []
    # each table alone (no joint step) would give W's, X's and V's back: the scanner says so
    alone = tmp_path / "alone"
    for name, table in tables.items():
        write_tables({name: table}, alone)
    problems, _ = scan_outputs(alone)
    assert any("leakage_by_referrer_organization.csv beside all but one" in p for p in problems)


def test_a_period_sum_whose_hidden_months_it_pins_down_is_hidden(tmp_path):
    """By hand: to_focus by month 3, 4, 100, 5, 120, 130. monthly_trend's own total keeps
    its three hidden months (sum 12: each between 1 and 10). Jan-Mar's referrals received,
    107, minus the shown 100 says the 3 and the 4 sum to 7 (each at most 6): hidden, with
    its share of wallet; Apr-Jun's, 255, holds the 5 alone: hidden too."""
    months = pd.date_range("2026-01-01", periods=6, freq="MS")
    monthly = pd.DataFrame(
        {"month": months, "to_focus": [3, 4, 100, 5, 120, 130], "to_competitors": [200] * 6}
    )
    headline = pd.DataFrame(
        {
            "measure": ["Referrals received", "Share of wallet", "Leakage to competitors"],
            "current": [255.0, 255 / 855, 600.0],
            "previous": [107.0, 107 / 707, 600.0],
            "unit": ["count", "share", "count"],
        }
    )
    headline.attrs["periods"] = {"current": list(months[3:]), "previous": list(months[:3])}
    written = write_tables({"headline": headline, "monthly_trend": monthly}, tmp_path)
    safe_monthly = pd.read_csv(written["monthly_trend"][0])
    safe = pd.read_csv(written["headline"][0]).set_index("measure")
    assert safe_monthly["to_focus"].isna().tolist() == [True, True, False, True, False, False]
    for column in ("current", "previous"):
        assert safe[column].isna().tolist() == [True, True, False], column
    problems, _ = scan_outputs(tmp_path)
    assert problems == []


def test_ego_network_measures_are_hidden_with_the_degree_they_give_back(tmp_path):
    """A referrer sending to 3 providers that do not refer among themselves has an
    effective size of 3 (Burt: its degree, worked out by hand), a constraint of about 1/3
    and a core number of at most 3: with its degree hidden, they are hidden too. A referrer
    with 12 such receivers shows all of them."""
    rows = [("P", f"H{i}", 40) for i in range(3)] + [("Q", f"K{i}", 40) for i in range(12)]
    edges = pd.DataFrame(rows, columns=["source", "target", "referrals"])
    edges.to_csv(tmp_path / "edges.csv", index=False)
    star = nx.Graph([(source, target) for source, target, _ in rows])
    assert nx.effective_size(star)["P"] == 3
    for threshold, out in ((1, "kept"), (11, "hidden")):
        assert run("score", "--edges", str(tmp_path / "edges.csv"), "--out", str(tmp_path / out),
                   "--threshold", str(threshold)) == 0  # fmt: skip
    kept = pd.read_csv(tmp_path / "kept" / "providers.csv").set_index("id")
    hidden = pd.read_csv(tmp_path / "hidden" / "providers.csv").set_index("id")
    measures = ["effective_size", "constraint", "core_number"]
    assert kept.loc["P", "effective_size"] == 3 and kept.loc["P", "out_degree"] == 3
    assert hidden.loc["P", ["out_degree", *measures]].isna().all()
    assert hidden.loc["Q", "out_degree"] == 12 and hidden.loc["Q", "effective_size"] == 12
    assert hidden.loc["Q", measures].notna().all()
    # the receivers' in-degree of 1 is hidden, and with it their ego-network measures
    assert hidden.loc[["H0", "K0"], ["in_degree", *measures]].isna().all().all()
    problems, _ = scan_outputs(tmp_path / "hidden")
    assert problems == []


def test_threshold_one_keeps_every_value_fractions_included(tmp_path, capsys):
    """``threshold=1`` keeps every value (the docs' "1 disables suppression"): an expected
    loss of 0.4 referrals too, which 0 < value < 1 had hidden."""
    from referral_graph.privacy import format_count, small_cells, suppress, suppress_counts

    values = pd.Series([0.4, 3.0, 12.0])
    assert suppress(values, threshold=1).tolist() == [0.4, 3.0, 12.0]
    assert not small_cells(values, threshold=1).any()
    assert small_cells(values, threshold=11).tolist() == [True, True, False]
    assert format_count(0.4, threshold=1) == "0.4"
    table = pd.DataFrame({"expected_loss": [0.4, 7.5], "referrals": [1, 30]})
    kept = suppress_counts(table, threshold=1)
    assert kept["expected_loss"].tolist() == [0.4, 7.5] and kept["referrals"].tolist() == [1, 30]
    from referral_graph import datasets

    paths = datasets.sample_paths()
    out = tmp_path / "at_risk.csv"
    argv = ["at-risk", "--events", str(paths["events"]), "--providers", str(paths["providers"]),
            "--focus", datasets.SAMPLE_FOCUS, "--threshold", "1", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    assert "left out" not in capsys.readouterr().out
    risk = pd.read_csv(out)
    shown = risk["risk"].notna() & risk["at_stake"].notna()
    assert risk.loc[shown, "expected_loss"].notna().all()
    assert (risk.loc[shown, "expected_loss"] < 1).any()  # the fractions that were hidden


def test_a_key_referrers_hidden_counts_take_their_ranks_and_shares_with_them():
    """Worked by hand: 223 referrals to us at a share of 0.965368 give 8 to competitors back
    (223 / 0.965368 - 223 = 8.0); a percentile rank of referrals to us takes one level per
    count, so the level of a hidden count lies between the shown counts' levels."""
    frame = pd.DataFrame(
        {
            "source": ["A", "B", "C"],
            "to_focus": [223, 5, 40],
            "to_competitors": [8, 30, 20],
            "share": [223 / 231, 5 / 35, 40 / 60],
            "to_focus_pct": [1.0, 1 / 3, 2 / 3],
            "share_pct": [1.0, 1 / 3, 2 / 3],
            "strength": [90.0, 20.0, 50.0],
            "strength_pct": [1.0, 1 / 3, 2 / 3],
            "rank_score": [95.0, 30.0, 60.0],
            "pagerank_pct": [0.5, 1.0, 0.2],
        }
    )
    assert round(223 / frame.loc[0, "share"] - 223) == 8
    out = suppress_counts(frame, threshold=11).set_index("source")
    derived = ["share", "share_pct", "rank_score"]
    assert out.loc["A", ["to_competitors", *derived]].isna().all()  # 8 hidden: its share too
    by_rank = ["to_focus_pct", "strength", "strength_pct"]
    assert out.loc["A", by_rank].notna().all()
    assert out.loc["B", ["to_focus", *by_rank, *derived]].isna().all()
    assert out.loc["C"].notna().all() and out.loc["B", "pagerank_pct"] == 1.0


def test_a_ties_active_months_are_hidden_with_its_referrals():
    """A tie active in 3 months sent 3 referrals at least: beside its referrer's shown total
    and its other ties, that bound would pin its hidden count down (worked by hand: a total
    of 24 over a shown 18 and two hidden ties active in 3 months each gives 3 and 3)."""
    ties = pd.DataFrame(
        {
            "source": ["A", "A", "A"],
            "target": ["X", "Y", "Z"],
            "referrals": [18, 3, 3],
            "active_months": [9, 3, 3],
            "active_share": [0.75, 0.25, 0.25],
            "regularity": [0.75, 0.25, 0.25],
        }
    )
    out = suppress_counts(ties, threshold=11)
    hidden = ["referrals", "active_months", "active_share", "regularity"]
    assert out.loc[1:, hidden].isna().all().all()
    assert out.loc[0, hidden].notna().all()
    assert str(out["active_months"].dtype) == "Int64"


def test_a_reverse_tie_hidden_by_complementary_suppression_is_hidden_where_repeated(tmp_path):
    """By hand: A sends 5 to B (small) and 30 to C, and its out_strength 35 is shown, so the 30
    is hidden too (35 - 30 = 5). C -> A repeats that 30 as its reverse_referrals: hidden
    there as well, with the reciprocity computed from it."""
    ties = pd.DataFrame(
        {
            "source": ["A", "A", "C"],
            "target": ["B", "C", "A"],
            "referrals": [5, 30, 50],
            "reverse_referrals": [0, 50, 30],
            "reciprocity": [0.0, 0.75, 0.75],
        }
    )
    providers = pd.DataFrame(
        {"id": ["A", "B", "C"], "out_strength": [35.0, 0.0, 50.0], "in_strength": [50.0, 5, 30]}
    )
    written = write_tables({"providers": providers, "ties": ties}, tmp_path)
    safe = pd.read_csv(written["ties"][0]).set_index(["source", "target"])
    assert safe["referrals"].isna().to_dict() == {
        ("A", "B"): True,
        ("A", "C"): True,
        ("C", "A"): False,
    }
    assert safe.loc[("C", "A"), ["reverse_referrals", "reciprocity"]].isna().all()
    assert safe.loc[("A", "C"), "reverse_referrals"] == 50  # C -> A's 50 is shown
