"""Tests for referral_graph.scale: out-of-core aggregation, the compact graph, subgraphs."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import BAD_NPI, NPI_A, NPI_B, NPI_C, NPI_D, SECRET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from referral_graph import aggregate, engines, io, synthetic
from referral_graph.centrality import CompactGraph, provider_measures
from referral_graph.communities import detect_communities
from referral_graph.exceptions import (
    InputError,
    ParameterError,
    SchemaError,
    ValidationError,
)
from referral_graph.graph import graph_from_tables
from referral_graph.scale import (
    aggregate_files,
    compact_measures,
    ego_network,
    load_compact,
    read_output,
    subgraph,
)


def issues(report) -> list[tuple]:
    """What must agree between engines: every field of every issue, rows and examples too."""
    return [
        (i.check, i.level, i.column, i.count, i.rows, i.examples, i.excluded, i.message, i.hint)
        for i in report.issues
    ]


def assert_same_as_in_memory(events_path: Path, result, **read_kwargs) -> pd.DataFrame:
    events = io.read_events(events_path, **read_kwargs)
    expected = events.attrs["report"]
    assert result.report.excluded_by_reason == expected.excluded_by_reason
    assert issues(result.report) == issues(expected)
    assert result.report.rows_read == expected.rows_read
    assert str(result.report) == str(expected)  # the summary a person reads
    assert result.events == len(events)
    ties = read_output(result.paths["ties"])
    assert_frame_equal(ties, aggregate.tie_table(events, engine="duckdb"))
    if "date" in events.columns:
        panel = read_output(result.paths["panel"])
        assert_frame_equal(panel, aggregate.edge_panel(events, engine="duckdb"))
    if "patient_key" in events.columns:
        panels = pd.read_parquet(result.paths["patients"])
        expected_panels = aggregate.provider_patients(events)
        assert panels["id"].tolist() == expected_panels.index.tolist()
        assert panels["patients"].tolist() == expected_panels.tolist()
    else:
        assert "patients" not in result.paths
    return events


@pytest.fixture(scope="module")
def dirty_market(tmp_path_factory) -> Path:
    """A small market with every kind of planted bad row, as CSV, plus a malformed line."""
    market = synthetic.generate_market(n_providers=150, n_months=8, seed=11, dirty=0.06)
    folder = tmp_path_factory.mktemp("dirty")
    path = folder / "events.csv"
    market.events.to_csv(path, index=False)
    with path.open("a", encoding="utf-8") as f:
        f.write("1,2,3\n,,,,,,\n")
    return path


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    m = synthetic.generate_market(n_providers=300, n_months=12, seed=5)
    folder = tmp_path_factory.mktemp("market")
    paths = synthetic.write_market(m, folder, format="parquet", include_truth=False)
    return m, paths, folder


# ----------------------------------------------------------------------------- aggregate_files


def test_dirty_csv_equals_the_in_memory_path(dirty_market, tmp_path):
    result = aggregate_files(dirty_market, tmp_path / "out", memory_limit="1GB", threads=2)
    assert_same_as_in_memory(dirty_market, result)
    assert [(i.message, i.hint) for i in result.report.issues] == [
        (i.message, i.hint) for i in io.read_events(dirty_market).attrs["report"].issues
    ]
    reasons = result.report.excluded_by_reason
    for check in (
        "wrong_field_count",
        "blank_line",
        "missing_id",
        "self_referral",
        "unparsable_date",
        "duplicate_row",
    ):
        assert reasons[check] > 0, check
    negative = next(i for i in result.report.issues if i.check == "negative")
    assert not negative.excluded and negative.count > 0
    wrong = next(i for i in result.report.issues if i.check == "wrong_field_count")
    lines = dirty_market.read_text(encoding="utf-8").splitlines()
    assert wrong.rows == (lines.index("1,2,3") + 1,)  # the line number
    assert wrong.examples == ("3 fields",)
    assert set(result.paths) == {"panel", "ties", "patients", "report"}
    assert pd.read_csv(result.paths["report"])["check"].tolist() == [
        i.check for i in result.report.issues
    ]


#: A dirty file whose row numbers are counted by hand (spreadsheet rows: the header is row 1,
#: a quoted value over two lines is one row, an empty line is a row).
HAND_COUNTED = (
    "source,target,date,patient_id,amount\n"  # 1
    f"{NPI_A},{NPI_B},2024-01-05,p1,10\n"  # 2 kept
    "\n"  # 3 empty line: DuckDB skips it without a trace
    f'{NPI_A},{NPI_C},2024-01-06,p2,"12\n5"\n'  # 4 (two lines): amount not a number, kept
    f"{NPI_C},{NPI_C},2024-01-07,p3,5\n"  # 5 self-referral
    f"{NPI_A},{NPI_B},2024-01-05,p1,10\n"  # 6 duplicate of row 2
    f"{BAD_NPI},{NPI_B},2024-01-08,p4,-3\n"  # 7 bad check digit (kept), negative amount
    ",,,,\n"  # 8 blank
    f"{NPI_A},{NPI_B}\n"  # 9 two fields
    f",{NPI_B},2024-02-01,p5,1\n"  # 10 missing source
    f"{NPI_A},{NPI_C},n/a,p6,abc\n"  # 11 unparsable date, amount not a number
    f"{NPI_A},{NPI_C},,p7,2\n"  # 12 missing date
    f"{NPI_D},{NPI_C},2024-03-01,p8,3\n"  # 13 source not in the providers table
    f"{NPI_D},{NPI_C},2024-03-01,p8,3\n"  # 14 duplicate of row 13 (so not reported unknown)
    f"{NPI_A},{NPI_B},2024-01-05,p1,10\n"  # 15 duplicate of row 2
    "\n"  # 16 empty line at the end
)

#: (check, column): (rows, examples), counted by hand on HAND_COUNTED.
HAND_ROWS = {
    ("wrong_field_count", None): ((9,), ("2 fields",)),
    ("blank_line", None): ((3, 8, 16), ()),
    ("missing_id", "source"): ((10,), ()),
    ("invalid_npi", "source"): ((7,), (BAD_NPI,)),
    ("self_referral", "source"): ((5,), (NPI_C,)),
    ("missing_date", "date"): ((12,), ()),
    ("unparsable_date", "date"): ((11,), ("n/a",)),
    ("non_numeric", "amount"): ((4, 11), ("12\n5", "abc")),
    ("negative", "amount"): ((7,), ("-3",)),
    ("duplicate_row", "source, target, date, patient_id, amount"): ((6, 14, 15), ()),
    ("unknown_provider", "source"): ((7, 13), (BAD_NPI, NPI_D)),
}


@pytest.mark.parametrize("name", ["hand.csv", "hand.csv.gz", "hand_crlf.csv"])
def test_row_numbers_counted_by_hand_in_both_engines(tmp_path, name):
    """Both engines give the rows counted by hand, empty lines and a two-line value included."""
    newline = "\r\n" if "crlf" in name else "\n"  # also inside the two-line value
    text = HAND_COUNTED.replace("\n", newline)
    expected = {
        k: (rows, tuple(e.replace("\n", newline) for e in examples))
        for k, (rows, examples) in HAND_ROWS.items()
    }
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    providers = pd.DataFrame({"id": [NPI_A, NPI_B, NPI_C]})
    result = aggregate_files(path, tmp_path / "out", providers=providers)
    in_memory = io.read_events(path, providers=providers).attrs["report"]
    for report in (result.report, in_memory):
        assert {(i.check, i.column): (i.rows, i.examples) for i in report.issues} == expected
        assert report.rows_read == 15  # every row but the header, empty lines too
        assert report.excluded_by_reason["blank_line"] == 3
    assert_same_as_in_memory(path, result, providers=providers)
    # several files: each row number is its own file's, with the file named
    both = aggregate_files([path, path], tmp_path / "both", providers=providers)
    blank = next(i for i in both.report.issues if i.check == "blank_line")
    assert blank.count == 6
    assert blank.rows == tuple(f"{path}:{row}" for row in (3, 8, 16, 3, 8, 16))
    wrong = next(i for i in both.report.issues if i.check == "wrong_field_count")
    assert wrong.rows == (f"{path}:9", f"{path}:9")


def test_parquet_rows_are_numbered_from_1(tmp_path):
    frame = pd.DataFrame(
        {
            "source": [NPI_A, NPI_C, "", NPI_A, NPI_A],
            "target": [NPI_B, NPI_C, NPI_B, NPI_B, NPI_B],
            "date": ["2024-01-05", "2024-01-06", "2024-01-07", "2024-13-01", "2024-01-09"],
        }
    )
    path = tmp_path / "e.parquet"
    frame.to_parquet(path)
    result = aggregate_files(path, tmp_path / "out")
    assert {i.check: i.rows for i in result.report.issues} == {
        "self_referral": (2,),
        "missing_id": (3,),
        "unparsable_date": (4,),
    }
    assert_same_as_in_memory(path, result)
    # several files: rows of each, numbered in its own file
    other = tmp_path / "f.parquet"
    frame.iloc[::-1].drop(columns="date").to_parquet(other)  # the date column absent
    both = aggregate_files([path, other], tmp_path / "both")
    assert {(i.check, i.column): i.rows for i in both.report.issues} == {
        ("self_referral", "source"): (f"{path}:2", f"{other}:4"),
        ("missing_id", "source"): (f"{path}:3", f"{other}:3"),
        ("unparsable_date", "date"): (f"{path}:4",),
        ("missing_date", "date"): tuple(f"{other}:{row}" for row in (1, 2, 3, 4, 5)),
    }


def test_a_clean_file_is_read_once(market, dirty_market, tmp_path):
    """The ordered pass runs only when the first found a problem: clean files pay nothing."""
    _, paths, _ = market
    steps: list[str] = []
    result = aggregate_files(paths["events"], tmp_path / "clean", progress=steps.append)
    assert result.report.excluded_by_reason == {}
    assert "numbering the problem rows" not in steps
    steps.clear()
    aggregate_files(dirty_market, tmp_path / "dirty", progress=steps.append)
    assert "numbering the problem rows" in steps


def test_parquet_and_several_files(market, tmp_path):
    m, paths, _ = market
    result = aggregate_files(paths["events"], tmp_path / "out", memory_limit="1GB")
    events = assert_same_as_in_memory(paths["events"], result)
    assert result.period == (events["date"].min(), events["date"].max())
    assert result.ties == len(aggregate.tie_table(events))
    # the same events split in two gzipped CSV files give the same tables
    frame = m.events.assign(date=m.events["date"].dt.strftime("%Y-%m-%d"))
    half = len(frame) // 2
    for i, part in enumerate((frame.iloc[:half], frame.iloc[half:])):
        with gzip.open(tmp_path / f"part{i}.csv.gz", "wt", encoding="utf-8") as f:
            part.to_csv(f, index=False)
    split = aggregate_files(
        [tmp_path / "part0.csv.gz", tmp_path / "part1.csv.gz"], tmp_path / "split"
    )
    assert split.report.name.endswith("(+1 more files)")
    assert_frame_equal(read_output(split.paths["ties"]), read_output(result.paths["ties"]))
    assert_frame_equal(read_output(split.paths["panel"]), read_output(result.paths["panel"]))
    glob = aggregate_files(str(tmp_path / "part*.csv.gz"), tmp_path / "glob")
    assert glob.ties == split.ties


def test_typed_parquet_columns(tmp_path):
    """Dates as timestamps, numeric ids and amounts, no patient ids (identical rows kept)."""
    frame = pd.DataFrame(
        {
            "referring_npi": [1234567893.0] * 3 + [1003033051.0, np.nan, np.nan],
            "receiving_npi": pd.array([1003033051] * 5 + [None], dtype="Int64"),
            "service_date": pd.to_datetime(
                ["2024-01-05", "2024-01-05", "2024-03-01", "2024-01-06", "2024-01-07", None]
            ),
            "revenue": [10.0, 10.0, -1.0, np.inf, 2.0, np.nan],
        }
    )  # the last row is all missing: no blank line in Parquet, missing ids
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path)
    result = aggregate_files(path, tmp_path / "out")
    events = assert_same_as_in_memory(path, result)
    assert len(events) == 3  # blank ids, self-referral out; the two identical rows kept
    assert [i.check for i in result.report.issues] == [
        "missing_id",
        "missing_id",
        "self_referral",
        "missing_date",
        "non_numeric",
        "negative",
        "identical_rows",
    ]
    assert [i.hint for i in result.report.issues] == [i.hint for i in events.attrs["report"].issues]
    ties = read_output(result.paths["ties"])
    assert ties["source"].tolist() == ["1234567893"]


def test_declared_npis_day_first_dates_and_unknown_providers(tmp_path):
    rows = [
        (NPI_A, NPI_B, "05/01/2024", "p1"),
        (NPI_A, NPI_B, "25/01/2024", "p2"),
        (NPI_A, "1234567890", "26/01/2024", "p3"),  # bad check digit
        (NPI_C, NPI_D, "13/02/2024", SECRET),
        (NPI_C, NPI_D, " 13/02/2024", " "),  # blank patient: kept, not a duplicate
        (NPI_C, NPI_D, "31/02/2024", "p4"),  # no such day
        ("  ", NPI_D, "01/03/2024", "p5"),
    ]
    path = tmp_path / "e.csv"
    pd.DataFrame(rows, columns=["ref", "to", "when", "member"]).to_csv(path, index=False, sep=";")
    providers = pd.DataFrame({"id": [NPI_A, NPI_B, NPI_C]})
    kwargs = {
        "source_col": "ref",
        "target_col": "to",
        "date_col": "when",
        "patient_col": "member",
        "npi": True,
        "date_format": "%d/%m/%Y",
        "providers": providers,
    }
    result = aggregate_files(path, tmp_path / "out", **kwargs)
    assert_same_as_in_memory(path, result, **kwargs)
    unknown = next(i for i in result.report.issues if i.check == "unknown_provider")
    assert unknown.examples == (NPI_D,) and unknown.count == 2
    invalid = next(i for i in result.report.issues if i.check == "invalid_npi")
    assert invalid.excluded and invalid.examples == ("1234567890",)
    # the patient id appears nowhere in what was written
    for written in (tmp_path / "out").iterdir():
        assert SECRET.encode() not in written.read_bytes()


def test_detected_date_format_notes(tmp_path):
    path = tmp_path / "e.csv"
    pd.DataFrame(
        {"source": ["A", "B"], "target": ["C", "C"], "date": ["03/04/2024", "05/26/2024"]}
    ).to_csv(path, index=False)
    result = aggregate_files(path, tmp_path / "out")
    events = assert_same_as_in_memory(path, result)
    assert events["date"].dt.month.tolist() == [3, 5]  # month-first, as noted
    assert "date_format" in [i.check for i in result.report.issues]


def test_ambiguous_dates_stop_the_files_engine_as_in_memory(tmp_path):
    path = tmp_path / "e.csv"
    pd.DataFrame(
        {"source": ["A", "B"], "target": ["C", "C"], "date": ["03/04/2024", "05/06/2024"]}
    ).to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"e\.csv, column 'date'.*--date-format"):
        aggregate_files(path, tmp_path / "out")
    with pytest.raises(SchemaError, match=r"e\.csv, column 'date'.*--date-format"):
        io.read_events(path)


def test_strict_raises_before_writing(dirty_market, tmp_path):
    with pytest.raises(ValidationError, match="excluded"):
        aggregate_files(dirty_market, tmp_path / "out", strict=True)
    assert not (tmp_path / "out" / "ties.parquet").exists()


def test_undated_events(tmp_path):
    path = tmp_path / "e.csv"
    pd.DataFrame({"from": ["A", "A", "B"], "to": ["B", "B", "B"]}).to_csv(path, index=False)
    result = aggregate_files(path, tmp_path / "out")
    assert "panel" not in result.paths
    assert_same_as_in_memory(path, result)


def test_bad_arguments(tmp_path, dirty_market):
    with pytest.raises(ParameterError, match="memory_limit"):
        aggregate_files(dirty_market, tmp_path, memory_limit="lots")
    with pytest.raises(ParameterError, match="encoding"):
        aggregate_files(dirty_market, tmp_path, encoding="cp1252")
    with pytest.raises(InputError, match="no such file"):
        aggregate_files(tmp_path / "nope.csv", tmp_path)
    with pytest.raises(SchemaError, match="required column"):
        bad = tmp_path / "x.csv"
        bad.write_text("a,b\n1,2\n")
        aggregate_files(bad, tmp_path / "out")
    parquet = tmp_path / "e.parquet"
    pd.DataFrame({"source": ["A"], "target": ["B"]}).to_parquet(parquet)
    with pytest.raises(ParameterError, match="all CSV or all Parquet"):
        aggregate_files([dirty_market, parquet], tmp_path / "out")


def test_spills_within_a_small_memory_limit(market, tmp_path):
    _, paths, _ = market
    spill = tmp_path / "spill"
    spill.mkdir()
    result = aggregate_files(
        paths["events"], tmp_path / "out", memory_limit="64MB", temp_directory=spill, threads=1
    )
    assert result.ties > 0
    assert list(spill.iterdir()) == []  # the spill folder is cleaned up


def test_progress_steps(dirty_market, tmp_path):
    steps: list[str] = []
    aggregate_files(dirty_market, tmp_path / "out", progress=steps.append)
    assert steps[0] == "reading" and steps[-2:] == ["writing the ties", "counting patient panels"]


ids = st.sampled_from(["A", "B", "C", " D", "D", "\xa0E\t", "E", "", "1234567893", "1234567890"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            ids,
            ids,
            st.sampled_from(["2024-01-05", "2024-02-29", "2024-13-01", "", "2024-01-31"]),
            st.sampled_from(["p1", "p2", "", "p3", " p1", "p2\xa0"]),
            st.sampled_from(["1.5", "-2", "x", "", "10", " 7 ", "\xa02.5"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_any_small_table_agrees_with_the_in_memory_path(tmp_path, rows):
    folder = tmp_path / f"h{abs(hash(tuple(rows)))}"
    folder.mkdir()
    path = folder / "e.csv"
    pd.DataFrame(rows, columns=["source", "target", "date", "patient_id", "amount"]).to_csv(
        path, index=False
    )
    try:
        events = io.read_events(path)
    except InputError:  # e.g. every line blank: both paths refuse it
        with pytest.raises(InputError):
            aggregate_files(path, folder / "out", threads=1)
        return
    result = aggregate_files(path, folder / "out", threads=1)
    assert result.report.excluded_by_reason == events.attrs["report"].excluded_by_reason
    assert issues(result.report) == issues(events.attrs["report"])
    ties = read_output(result.paths["ties"])
    expected = aggregate.tie_table(events, engine="pandas")
    if len(expected):
        assert_frame_equal(ties, expected)
    else:
        assert len(ties) == 0


# ----------------------------------------------------------------------------- compact graph


@pytest.fixture(scope="module")
def network(market, tmp_path_factory):
    """Tie and panel files from aggregate_files, and the networkx graph of the same ties."""
    _, paths, _ = market
    out = tmp_path_factory.mktemp("network")
    result = aggregate_files(paths["events"], out)
    providers = io.read_providers(paths["providers"])
    ties = read_output(result.paths["ties"])
    G = graph_from_tables(ties, providers)
    return result, providers, G


def test_load_compact_equals_from_networkx(network):
    result, providers, G = network
    expected = CompactGraph.from_networkx(G)
    cg = load_compact(result.paths["ties"], nodes=providers)
    assert cg.ids.tolist() == expected.ids.tolist()
    for attr in ("src", "dst", "weight"):
        np.testing.assert_array_equal(getattr(cg, attr), getattr(expected, attr))
    # a panel is summed over months; without providers the node order is the ties'
    from_panel = load_compact(result.paths["panel"])
    H = graph_from_tables(read_output(result.paths["panel"]))
    np.testing.assert_array_equal(from_panel.ids, CompactGraph.from_networkx(H).ids)
    np.testing.assert_array_equal(from_panel.weight, CompactGraph.from_networkx(H).weight)
    patients = load_compact(result.paths["ties"], weight="patients")
    assert patients.weight.sum() == read_output(result.paths["ties"])["patients"].sum()


def test_compact_measures_equal_networkx_measures(network):
    result, providers, G = network
    cg = load_compact(result.paths["ties"], nodes=providers)
    table = compact_measures(cg, betweenness_k=16, seed=3)
    expected = provider_measures(G, betweenness_k=16, seed=3)
    for col in (
        "id",
        "in_degree",
        "out_degree",
        "in_strength",
        "out_strength",
        "pagerank",
        "hub",
        "authority",
        "core_number",
        "betweenness",
        "betweenness_stderr",
    ):
        assert_frame_equal(table[[col]], expected[[col]], check_exact=False, rtol=1e-12)
    labels = detect_communities(G, seed=3, n_iterations=2)
    assert table["community"].tolist() == labels.tolist()
    assert set(table.attrs["seconds"]) == {
        "degree",
        "pagerank",
        "hits",
        "communities",
        "core_number",
        "betweenness",
    }
    core = nx.core_number(nx.Graph(G.to_undirected()))
    assert table["core_number"].tolist() == [core[u] for u in table["id"]]
    # and against networkx's own algorithms
    pr = nx.pagerank(G, weight="referrals", tol=1e-12)
    np.testing.assert_allclose(table["pagerank"], [pr[u] for u in table["id"]], atol=1e-6)


def test_load_compact_errors(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"source": ["A", None], "target": ["B", "C"], "referrals": [1, 2]}).to_parquet(
        path
    )
    with pytest.raises(ParameterError, match="missing ids"):
        load_compact(path)
    with pytest.raises(SchemaError, match="'weight'"):
        load_compact(path, weight="weight")
    neg = tmp_path / "n.parquet"
    pd.DataFrame({"source": ["A"], "target": ["B"], "referrals": [-1]}).to_parquet(neg)
    with pytest.raises(ParameterError, match=">= 0"):
        load_compact(neg)
    gaps = tmp_path / "g.parquet"
    pd.DataFrame({"source": ["A", "A"], "target": ["B", "C"], "referrals": [3, None]}).to_parquet(
        gaps
    )
    assert load_compact(gaps).weight.tolist() == [3.0, 1.0]  # as from_networkx counts it


def _same_graph(H: nx.DiGraph, expected: nx.DiGraph) -> None:
    assert dict(H.nodes(data=True)) == dict(expected.nodes(data=True))
    assert {(u, v): d for u, v, d in H.edges(data=True)} == {
        (u, v): d for u, v, d in expected.edges(data=True)
    }


def test_subgraph_by_ids_predicate_and_sql(network):
    result, providers, G = network
    ties = result.paths["ties"]
    town = providers["city"].iloc[0]
    chosen = providers.loc[providers["city"] == town, "id"].tolist()
    expected = G.subgraph(chosen)
    _same_graph(subgraph(ties, chosen, providers=providers), expected)
    _same_graph(subgraph(ties, lambda p: p["city"] == town, providers=providers), expected)
    _same_graph(subgraph(ties, where=f"city = '{town}'", providers=providers), expected)
    touching = subgraph(ties, chosen[:3], providers=providers, touching=True)
    assert touching.number_of_edges() == len(
        {(u, v) for u, v in G.edges() if u in chosen[:3] or v in chosen[:3]}
    )
    labels = detect_communities(load_compact(ties, nodes=providers))
    community = labels.index[labels == 1].tolist()
    _same_graph(subgraph(ties, community, providers=providers), G.subgraph(community))
    with pytest.raises(ParameterError, match="exactly one"):
        subgraph(ties)
    with pytest.raises(ParameterError, match="SQL condition"):
        subgraph(ties, where="no_such_column = 1", providers=providers)
    with pytest.raises(ParameterError, match="pass"):
        subgraph(ties, chosen[0])


def test_ego_network(network):
    result, providers, G = network
    center = max(G.degree, key=lambda item: item[1])[0]
    for hops, direction in ((1, "both"), (2, "out"), (1, "in")):
        H = ego_network(result.paths["ties"], center, hops=hops, direction=direction,
                        providers=providers)  # fmt: skip
        base = G.reverse() if direction == "in" else G
        expected = nx.ego_graph(base, center, radius=hops, undirected=direction == "both")
        assert set(H) == set(expected)
        assert set(H.edges()) == set(G.subgraph(expected).edges())
    with pytest.raises(ParameterError, match="not in the network"):
        ego_network(result.paths["ties"], "no-such-provider")


def test_outputs_read_by_the_other_readers(network, tmp_path):
    """ties.parquet and panel.parquet are read by io.read_edges (the CLI's --edges)."""
    result, _, _ = network
    edges = io.read_edges(result.paths["ties"])
    ties = read_output(result.paths["ties"])
    assert edges["referrals"].tolist() == ties["referrals"].tolist()
    panel_edges = io.read_edges(result.paths["panel"])
    assert "month" in panel_edges.columns
    copy = tmp_path / "copy"
    shutil.copytree(Path(result.paths["ties"]).parent, copy)
    assert load_compact(copy / "ties.parquet").n_edges == len(ties)


def test_load_network_files_equals_load_network():
    from referral_graph import datasets
    from referral_graph.pipeline import load_network
    from referral_graph.scale import load_network_files

    paths = datasets.sample_paths()
    expected = load_network(events=paths["events"], providers=paths["providers"])
    net = load_network_files(paths["events"], providers=paths["providers"], memory_limit="1GB")
    assert net.events is None and net.source_kind == "events"
    assert_frame_equal(net.ties, expected.ties)
    assert_frame_equal(net.panel, expected.panel)
    assert net.period == expected.period
    # providers' own patient panels are counted out of core too
    assert_frame_equal(net.providers, expected.providers)
    assert dict(net.graph.nodes(data=True)) == dict(expected.graph.nodes(data=True))
    got, want = list(net.graph.edges(data=True)), list(expected.graph.edges(data=True))
    assert [(u, v) for u, v, _ in got] == [(u, v) for u, v, _ in want]
    for (_, _, d), (_, _, e) in zip(got, want, strict=True):  # amounts: summation order
        assert d.pop("amount") == pytest.approx(e.pop("amount"), rel=1e-12)
        assert d == e
    assert [r.excluded_by_reason for r in net.reports] == [
        r.excluded_by_reason for r in expected.reports
    ]


def test_auto_engine_sends_event_files_out_of_core(monkeypatch, caplog, tmp_path):
    """``auto`` sends an event file of any size to ``files``, in memory only where needed.

    Until issue 18, files under 1 GB were read into memory, for the one thing ``files``
    lacked: the row numbers of its validation report. It gives them now, and is the
    faster path, so the size no longer decides; what does is whether the caller wants
    the events themselves in memory, and whether the file is one ``files`` reads.
    """
    import logging

    from referral_graph import datasets, engines, pipeline

    paths = datasets.sample_paths()
    events = paths["events"]  # a few MB of gzipped CSV
    assert engines.resolve(events) == "files"
    assert pipeline.auto_engine(events, keep_events=False) == "files"
    net = pipeline.load_network(events=events, providers=paths["providers"], keep_events=False)
    assert net.events is None  # aggregated by DuckDB out of core, never held in pandas
    # load_network keeps the events by default: only the in-memory reader gives them, so
    # below LARGE_EVENT_FILES it reads the file, and from that size on the file goes out
    # of core without them, as before (a compressed file counts five times its size)
    assert pipeline.auto_engine(events) == "duckdb"
    assert pipeline.load_network(events=events).events is not None
    size = Path(events).stat().st_size
    monkeypatch.setattr(engines, "LARGE_EVENT_FILES", size * engines.PACKED_FACTOR)
    assert pipeline.auto_engine(events) == "files"
    with caplog.at_level(logging.INFO, logger="referral_graph.engines"):
        net = pipeline.load_network(events=events, providers=paths["providers"])
    assert net.events is None
    assert "aggregating out of core" in caplog.text
    monkeypatch.setattr(engines, "LARGE_EVENT_FILES", size * engines.PACKED_FACTOR + 1)
    assert pipeline.auto_engine(events) == "duckdb"
    # what the files engine does not read is read in memory
    assert engines.resolve(Path("no/such/file.csv")) == "duckdb"  # the reader says so
    assert engines.resolve(events, encoding="cp1252") == "duckdb"
    assert engines.resolve(events, encoding="latin-1") == "files"
    frame = pd.DataFrame({"source": ["A"], "target": ["B"], "date": ["2024-01-05"]})
    frame.to_csv(tmp_path / "e.csv.bz2", index=False)
    assert engines.resolve(tmp_path / "e.csv.bz2") == "duckdb"
    frame.assign(date=pd.to_datetime(frame["date"])).to_parquet(tmp_path / "naive.parquet")
    assert engines.resolve(tmp_path / "naive.parquet") == "files"
    zoned = frame.assign(date=pd.to_datetime(frame["date"]).dt.tz_localize("America/Chicago"))
    zoned.to_parquet(tmp_path / "zoned.parquet")  # read in memory: dates of its own zone
    assert engines.resolve(tmp_path / "zoned.parquet") == "duckdb"
    assert engines.resolve(tmp_path) == "files"  # a folder of Parquet files


def test_auto_engine_reads_text_files_cannot_read_in_memory(tmp_path):
    """cp1252 and UTF-16 text: ``files`` refuses it, ``auto`` then reads it in memory."""
    from referral_graph import engines

    rows = "source,target,note\nA,B,caf\u00e9\nB,C,x\n"
    (tmp_path / "cp.csv").write_bytes(rows.encode("cp1252"))
    (tmp_path / "wide.csv").write_bytes(rows.encode("utf-16"))
    for name, note in (("cp.csv", "read as cp1252"), ("wide.csv", "read as UTF-16")):
        result = engines.aggregate(tmp_path / name)
        assert result.engine == "duckdb" and result.ties["referrals"].tolist() == [1, 1]
        assert any(note in i.message for i in result.report.issues)
        with pytest.raises(InputError, match="UTF"):
            engines.aggregate(tmp_path / name, engine="files")
    with pytest.raises(ParameterError, match="'sheet' parameter is for spreadsheet workbooks"):
        engines.aggregate(tmp_path / "cp.csv", encoding="latin-1", sheet="Referrals")


def test_tables_in_memory_and_without_the_panel_are_the_files_tables(dirty_market, tmp_path):
    """out_dir=None gives the tables it would write, and panel=False the same ties (the
    amounts summed in the same order: the same bytes) without a panel."""
    written = aggregate_files(dirty_market, tmp_path / "out")
    kept = aggregate_files(dirty_market, None)
    bare = aggregate_files(dirty_market, None, panel=False)
    assert kept.paths == {} and list(kept.frames) == ["panel", "ties", "patients"]
    assert list(bare.frames) == ["ties", "patients"]
    assert_frame_equal(kept.frames["panel"], read_output(written.paths["panel"]))
    for result in (kept, bare):
        assert_frame_equal(result.frames["ties"], read_output(written.paths["ties"]))
        assert result.frames["ties"]["amount"].to_numpy().tobytes() == (
            read_output(written.paths["ties"])["amount"].to_numpy().tobytes()
        )
        assert_frame_equal(result.frames["patients"], pd.read_parquet(written.paths["patients"]))
        assert str(result.report) == str(written.report)
        assert (result.period, result.ties, result.events) == (
            written.period, written.ties, written.events
        )  # fmt: skip
    assert (bare.tie_months, kept.tie_months) == (0, written.tie_months)


def test_amount_sums_do_not_depend_on_duckdbs_thread_order() -> None:
    # Summed with plain floating-point addition in the order DuckDB's threads take the rows,
    # about 2,600 of the sample's 15,416 tie amounts changed in their last bits from one run to
    # the next; compensated summation (fsum) gives the same bytes every time.
    sample = Path(__file__).resolve().parents[1] / "sample_data" / "events.csv.gz"
    runs = [engines.aggregate(sample, engine="files") for _ in range(2)]
    first, second = (r.ties["amount"].to_numpy() for r in runs)
    assert first.tobytes() == second.tobytes()
    in_memory = engines.aggregate(sample, engine="pandas").ties["amount"].to_numpy()
    np.testing.assert_allclose(first, in_memory, rtol=1e-14)


def test_files_engine_writes_the_validated_events_with_keyed_patients(tmp_path: Path) -> None:
    """events_out: one row per distinct event with its copies, the patient id replaced by its
    keyed hash (the same id gives the same key, another secret another key); tables=False
    writes no table but the report."""
    rows = pd.DataFrame(
        {
            "source": ["A", "A", "A", "C", "C", ""],
            "target": ["B", "B", "B", "B", "B", "B"],
            "date": ["2024-01-05", "2024-01-05"] + ["2024-02-01"] * 3 + ["2024-02-02"],
            "patient_id": ["MRN-77", "MRN-77", "MRN-77", "", "", "MRN-78"],
        }
    )  # fmt: skip
    rows.to_csv(tmp_path / "e.csv", index=False)
    keys = {}
    for secret in ("one", "two"):
        out = tmp_path / secret
        done = aggregate_files(
            tmp_path / "e.csv",
            out,
            memory_limit="1GB",
            events_out=out / "events.parquet",
            patient_secret=secret,
            tables=False,
        )
        assert sorted(p.name for p in out.iterdir()) == ["events.parquet", "validation.csv"]
        assert done.report.excluded_by_reason == {"missing_id": 1, "duplicate_row": 1}
        events = pd.read_parquet(out / "events.parquet").sort_values(["source", "date"])
        assert b"MRN-77" not in (out / "events.parquet").read_bytes()
        # A-B on 5 Jan once (its repeat is a duplicate), A-B on 1 Feb, C-B twice (no patient)
        assert events[["source", "copies"]].values.tolist() == [["A", 1], ["A", 1], ["C", 2]]
        a = events.loc[events["source"] == "A", "patient"]
        assert a.nunique() == 1 and events.loc[events["source"] == "C", "patient"].isna().all()
        keys[secret] = int(a.iloc[0])
    assert keys["one"] != keys["two"]
