"""The command line, invoked as a user would: in-process through ``main``, and as a program."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import networkx as nx
import pandas as pd
import pytest

from referral_graph import cli
from referral_graph.graph import load_graph


def run(*argv: str) -> int:
    return cli.main([*argv, "-q"])


@pytest.fixture
def foreign_edges(tmp_path):
    """An edge list the toolkit has never seen: other column names, non-NPI ids, other scripts."""
    frame = pd.DataFrame(
        {
            "hospital_from": ["010000024", "2A0000030", "Клиника-7", "病院-東京", "010000024"],
            "hospital_to": ["2A0000030", "Клиника-7", "病院-東京", "010000024", "病院-東京"],
            "n_transfers": [15, 40, 12, 7, 3],
        }
    )
    path = tmp_path / "transfers.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")
    return path


def test_help_on_every_command(capsys):
    for command in ("generate", "validate", "build", "demo"):
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: referral-graph" in capsys.readouterr().out


def test_build_foreign_edge_list(foreign_edges, tmp_path, capsys):
    out = tmp_path / "g.graphml"
    code = run(
        "build",
        "--edges",
        str(foreign_edges),
        "--source-col",
        "hospital_from",
        "--target-col",
        "hospital_to",
        "--weight-col",
        "n_transfers",
        "--ids",
        "any",
        "--out",
        str(out),
    )
    assert code == 0
    G = load_graph(out)
    assert set(G.nodes) == {"010000024", "2A0000030", "Клиника-7", "病院-東京"}
    assert G.edges["010000024", "2A0000030"]["referrals"] == 15
    assert G.number_of_edges() == 5
    assert "4 providers, 5 ties" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".graphml", ".gexf", ""])
def test_build_events_formats(tmp_path, suffix):
    events = pd.DataFrame(
        {
            "ref_doc": ["A1", "A1", "B2", "B2", "C3"],
            "seen_by": ["X9", "X9", "X9", "Y8", "Y8"],
            "visit_dt": ["05/01/2024", "20/01/2024", "03/02/2024", "13/02/2024", "28/02/2024"],
        }
    )
    src = tmp_path / "extract.csv"
    events.to_csv(src, index=False)
    before = src.read_bytes()
    out = tmp_path / f"net{suffix}"
    code = run(
        "build",
        "--events",
        str(src),
        "--source-col",
        "ref_doc",
        "--target-col",
        "seen_by",
        "--date-col",
        "visit_dt",
        "--date-format",
        "%d/%m/%Y",
        "--threshold",
        "1",
        "--out",
        str(out),
    )
    assert code == 0
    assert src.read_bytes() == before  # input never modified
    G = load_graph(out)
    assert isinstance(G, nx.DiGraph)
    assert G.edges["A1", "X9"]["referrals"] == 2  # --threshold 1: every count written
    suppressed = tmp_path / f"default{suffix}"
    assert (
        run(
            "build",
            "--events",
            str(src),
            "--source-col",
            "ref_doc",
            "--target-col",
            "seen_by",
            "--date-col",
            "visit_dt",
            "--date-format",
            "%d/%m/%Y",
            "--out",
            str(suppressed),
        )
        == 0
    )
    H = load_graph(suppressed)
    assert set(H.edges) == set(G.edges) and "referrals" not in H.edges["A1", "X9"]
    if suffix != ".gexf":  # GEXF (as networkx writes it) keeps no graph attributes
        assert G.graph["period_start"] == "2024-01-05"
        assert G.graph["period_end"] == "2024-02-28"


def test_bad_input_one_clear_error(tmp_path, capsys):
    src = tmp_path / "bad.csv"
    src.write_text("doctor,clinic\nA,B\n")
    code = run("build", "--events", str(src), "--out", str(tmp_path / "g.graphml"))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert "bad.csv" in err and "--source-col" in err
    assert "Traceback" not in err


def test_strict_turns_warnings_into_errors(tmp_path, capsys):
    src = tmp_path / "events.csv"
    src.write_text("source,target,date\nA,B,2024-01-01\nA,A,2024-01-02\n")
    assert run("build", "--events", str(src), "--out", str(tmp_path / "g.graphml")) == 0
    assert "excluded 1 (self_referral)" in capsys.readouterr().out
    assert run("build", "--events", str(src), "--strict", "--out", str(tmp_path / "h.graphml")) == 1
    err = capsys.readouterr().err
    assert "events.csv" in err and "row 3" in err and "'source'" in err
    assert not (tmp_path / "h.graphml").exists()


def test_validate_prints_full_report(tmp_path, capsys):
    src = tmp_path / "events.csv"
    src.write_text("source,target,date\nA,B,2024-01-01\nA,B,not-a-date\n")
    assert run("validate", "--events", str(src)) == 0
    out = capsys.readouterr().out
    assert "column 'date', row 3" in out and "not-a-date" in out


def test_generate_writes_market(tmp_path, capsys):
    assert (
        run(
            "generate",
            "--out",
            str(tmp_path / "m"),
            "--providers",
            "80",
            "--months",
            "6",
            "--seed",
            "3",
        )
        == 0
    )
    events = pd.read_csv(tmp_path / "m" / "events.csv", dtype=str)
    assert {"source", "target", "date"} <= set(events.columns)
    assert "Generated" in capsys.readouterr().out


def test_program_entry_point(tmp_path, foreign_edges):
    """The installed console script runs, and a missing file is one line and exit code 1."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "referral_graph.cli",
            "build",
            "--edges",
            "nope.csv",
            "--out",
            str(tmp_path / "x.graphml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: nope.csv: no such file."]


@pytest.fixture(scope="module")
def sample_market(tmp_path_factory):
    """A small generated market written as files (events, providers)."""
    folder = tmp_path_factory.mktemp("market")
    assert (
        cli.main(
            [
                "generate",
                "--out",
                str(folder),
                "--providers",
                "300",
                "--months",
                "18",
                "--seed",
                "5",
                "-q",
            ]
        )
        == 0
    )
    return folder


def _small_counts(frame: pd.DataFrame, columns: list[str]) -> int:
    values = frame[columns].apply(pd.to_numeric, errors="coerce")
    return int(((values > 0) & (values < 11)).sum().sum())


def test_score_writes_suppressed_tables(sample_market, tmp_path):
    out = tmp_path / "scores"
    code = run(
        "score",
        "--events",
        str(sample_market / "events.csv"),
        "--providers",
        str(sample_market / "providers.csv"),
        "--focus",
        "riverside health",
        "--out",
        str(out),
    )
    assert code == 0
    names = {p.stem for p in out.glob("*.csv")}
    assert {"providers", "ties", "communities", "key_referrers", "share_of_wallet"} <= names
    providers = pd.read_csv(out / "providers.csv", dtype={"id": str})
    for col in (
        "id",
        "in_strength",
        "out_strength",
        "pagerank",
        "hub",
        "authority",
        "betweenness",
        "community",
    ):
        assert col in providers.columns
    ties = pd.read_csv(out / "ties.csv", dtype={"source": str, "target": str})
    assert {"score", "volume", "recency", "share_of_wallet"} <= set(ties.columns)
    assert _small_counts(ties, ["referrals"]) == 0
    assert ties["referrals"].isna().any()  # small ties exist and were suppressed
    sow = pd.read_csv(out / "share_of_wallet.csv", dtype={"source": str})
    assert _small_counts(sow, ["to_focus", "to_competitors", "total"]) == 0
    assert set(sow["segment"]) <= {"loyalist", "splitter", "dissenter"}


def test_score_unknown_focus_is_one_clear_error(sample_market, tmp_path, capsys):
    code = run(
        "score",
        "--events",
        str(sample_market / "events.csv"),
        "--providers",
        str(sample_market / "providers.csv"),
        "--focus",
        "Riversde Helth",
        "--out",
        str(tmp_path / "s"),
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Riverside Health" in err  # suggests the close match


@pytest.mark.parametrize("view", ["network", "ego", "community", "focus"])
def test_viz_views(sample_market, tmp_path, view):
    providers = pd.read_csv(sample_market / "providers.csv", dtype={"id": str})
    extra = {
        "ego": ["--provider", providers["id"].iloc[0]],
        "community": ["--community", "0"],
        "focus": ["--focus", "Riverside Health"],
        "network": ["--top", "50"],
    }[view]
    out = tmp_path / f"{view}.html"
    code = run(
        "viz",
        "--events",
        str(sample_market / "events.csv"),
        "--providers",
        str(sample_market / "providers.csv"),
        "--view",
        view,
        *extra,
        "--out",
        str(out),
    )
    assert code == 0
    html = out.read_text()
    assert re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html) is None
    assert list(tmp_path.iterdir()) == [out]  # nothing written beside the page


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "-q"]) == 0
    assert (out / "referral_graph.graphml").exists()
    for name in ("providers", "ties", "key_referrers", "share_of_wallet", "communities"):
        assert (out / "tables" / f"{name}.csv").exists()
    for name in ("network", "focus", "ego_top_referrer", "community_0"):
        assert (out / "views" / f"{name}.html").exists()
    text = capsys.readouterr().out
    assert "Focus: Riverside Health" in text


def test_engine_files_gives_the_same_scores(sample_market, tmp_path):
    """Out-of-core aggregation (DuckDB over the files) matches the in-memory engine."""
    common = [
        "score",
        "--events",
        str(sample_market / "events.csv"),
        "--providers",
        str(sample_market / "providers.csv"),
    ]
    assert run(*common, "--out", str(tmp_path / "mem")) == 0
    assert (
        run(*common, "--engine", "files", "--memory-limit", "1GB", "--out", str(tmp_path / "files"))
        == 0
    )
    ids = {"id": str, "source": str, "target": str}
    for name in ("ties", "providers"):
        a = pd.read_csv(tmp_path / "mem" / f"{name}.csv", dtype=ids)
        b = pd.read_csv(tmp_path / "files" / f"{name}.csv", dtype=ids)
        # providers' own patient panels need the events in memory: not in the files engine
        assert set(a.columns) - set(b.columns) <= {"patients", "sharing_degree_per_100"}
        a = a[list(b.columns)]
        # amounts are summed in another order: equal up to floating-point rounding
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_at_risk_ranking_choices_are_the_rules() -> None:
    from referral_graph import churn
    from referral_graph.cli import _RULE_NAMES

    assert list(_RULE_NAMES) == list(churn.RULES)


def test_edge_file_with_quarters_and_years_builds_and_says_its_resolution(tmp_path, capsys):
    """Issue 19, item 2: `2024Q1` periods excluded every row, then build died on NaT."""
    quarters = tmp_path / "q.csv"
    quarters.write_text(
        "from_npi,to_npi,transfers,quarter\n"
        "1234567893,1003033051,25,2024Q1\n1234567893,1003033051,30,2024-Q3\n"
        "1003033051,1234567893,12,Q2 2024\n"
    )
    out = tmp_path / "q.graphml"
    assert run("build", "--edges", str(quarters), "--weight-col", "transfers",
               "--period-col", "quarter", "--out", str(out)) == 0  # fmt: skip
    said = capsys.readouterr()
    assert "Period: 2024-01-01" in said.out
    G = load_graph(out)
    assert G.edges["1234567893", "1003033051"]["referrals"] == 55  # 25 + 30, by hand
    assert run("validate", "--edges", str(quarters), "--period-col", "quarter") == 0
    assert "the periods are quarters" in capsys.readouterr().out


def test_a_file_whose_every_row_is_excluded_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "seasons.csv"
    bad.write_text("from_npi,to_npi,transfers,season\n1234567893,1003033051,25,Spring\n")
    code = run("build", "--edges", str(bad), "--period-col", "season", "--out",
               str(tmp_path / "g.graphml"))  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "seasons.csv: its only row was excluded" in err and "'Spring'" in err


def test_output_into_a_closed_pipe_is_not_a_traceback(tmp_path):
    """`referral-graph ... | head`: the reader leaves early; no BrokenPipeError traceback."""
    events = tmp_path / "e.csv"
    events.write_text("source,target\n" + "".join(f"A{i},B{i}\n" for i in range(50)))
    for argv in (["validate", "--events", str(events)], ["--help"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "referral_graph.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before anything is written
        with proc.stderr:
            err = proc.stderr.read().decode()
        proc.wait()
        assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_viz_colours_any_view_by_segment_once_a_focus_is_given(tmp_path, capsys):
    """Issue 19, item 1: cli.md's own example failed."""
    from referral_graph import datasets

    paths = datasets.sample_paths()
    base = ["viz", "--events", str(paths["events"]), "--providers", str(paths["providers"])]
    for view in ("focus", "network"):
        out = tmp_path / f"{view}.html"
        assert run(*base, "--view", view, "--focus", datasets.SAMPLE_FOCUS,
                   "--color-by", "segment", "--out", str(out)) == 0  # fmt: skip
        page = out.read_text(encoding="utf-8")
        assert "Loyalist" in page and "Splitter" in page
    capsys.readouterr()
    assert run(*base, "--view", "network", "--color-by", "segment", "--out",
               str(tmp_path / "x.html")) == 1  # fmt: skip
    assert "--color-by segment needs a focus" in capsys.readouterr().err


def test_every_option_of_every_command_has_help_text():
    """Issue 19, item 9: `--help` showed no text for --view, --color-by, --model, --out..."""
    parser = cli.build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [
        f"{name} {action.option_strings[0]}"
        for name, sub in subparsers.choices.items()
        for action in sub._actions
        if action.option_strings and not action.help and action.dest != "help"
    ]
    assert missing == []


# --- validate shows the column → role mapping it used (issue 19) ----------------------------


@pytest.mark.parametrize("engine", ["files", "duckdb"])
def test_validate_prints_the_columns_matched_to_roles(tmp_path, capsys, engine):
    events = tmp_path / "extract.csv"
    events.write_text(
        "ref_doc,seen_by,visit_dt,MRN,Charges\n"
        "1234567893,1003033051,05/03/2024,A1,10.5\n"
        "1234567893,1003033051,19/03/2024,A2,20\n"
    )
    providers = tmp_path / "providers.csv"
    providers.write_text("NPI,Provider Name\n1234567893,Dr A\n1003033051,Dr B\n")
    activities = tmp_path / "log.csv"
    activities.write_text("contact_date,npi,rep\n2024-03-01,1234567893,Lee\n")
    code = run(
        "validate", "--events", str(events), "--providers", str(providers),
        "--activities", str(activities), "--source-col", "ref_doc", "--target-col", "seen_by",
        "--date-col", "visit_dt", "--date-format", "%d/%m/%Y", "--engine", engine,
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert (
        f"  Columns of {events}: 'ref_doc' → source, 'seen_by' → target, 'visit_dt' → date, "
        "'MRN' → patient_id, 'Charges' → amount; not found: service_line, payer.\n"
    ) in out
    assert (
        f"  Columns of {providers}: 'NPI' → id, 'Provider Name' → name; not found: "
        "taxonomy_code, specialty, organization, city, state, zip, lat, lon, in_network.\n"
    ) in out
    assert (
        f"  Columns of {activities}: 'contact_date' → date, 'npi' → provider, 'rep' → liaison; "
        "not found: kind.\n"
    ) in out


def test_validate_prints_the_columns_of_an_edge_file(foreign_edges, capsys):
    code = run(
        "validate", "--edges", str(foreign_edges), "--source-col", "hospital_from",
        "--target-col", "hospital_to", "--weight-col", "n_transfers", "--ids", "any",
    )  # fmt: skip
    assert code == 0
    assert (
        f"  Columns of {foreign_edges}: 'hospital_from' → source, 'hospital_to' → target, "
        "'n_transfers' → weight; not found: patients, period.\n"
    ) in capsys.readouterr().out
