"""``build`` and ``score`` on a large edge file: the out-of-core path (_cli_national, _national).

A file is large from ``LARGE_EDGE_FILES`` bytes, or with ``--engine files``; here small
header-less CMS files of a few thousand rows go that way with ``--engine files`` (or with
the threshold lowered), and each output is checked against an oracle that shares none
of its code: the graph folder against the in-memory ``build`` of the same file, the
degrees and strengths against pandas group sums of the file, PageRank against networkx,
the tables against the in-memory ``score``, and the suppression against the rules
written out again here (no count from 1 to 10 shown; a provider's hidden ties never
alone beside its shown strength).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from privacy_scan import scan_outputs
from test_edge_files import cms_rows, dirty_file

from referral_graph import _national, cli
from referral_graph.compact import load_compact
from referral_graph.graph import load_graph


def run(*argv: str) -> int:
    return cli.main([*argv, "-q"])


@pytest.fixture
def cms(tmp_path: Path) -> Path:
    path = tmp_path / "cms.txt"
    path.write_text("\n".join(cms_rows(300, 2500)) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_counts(tmp_path: Path) -> Path:
    """A generic edge file whose referrals are often 1 to 10 (the complementary case)."""
    rng = np.random.default_rng(3)
    ids = [f"P{i:03d}" for i in range(120)]
    pairs = {(a, b) for a, b in rng.integers(0, 120, (900, 2)) if a != b}
    rows = sorted(pairs)
    frame = pd.DataFrame(
        {
            "source": [ids[a] for a, _ in rows],
            "target": [ids[b] for _, b in rows],
            "referrals": rng.integers(1, 40, len(rows)),
            "patients": rng.integers(1, 30, len(rows)),
        }
    )
    path = tmp_path / "edges.csv"
    frame.to_csv(path, index=False)
    return path


def _graphs_equal(a: nx.DiGraph, b: nx.DiGraph) -> None:
    assert a.graph == b.graph
    assert list(a.nodes) == list(b.nodes)
    assert list(a.edges) == list(b.edges)
    assert all(a.nodes[n] == b.nodes[n] for n in a)
    assert all(a.edges[e] == b.edges[e] for e in a.edges)


@pytest.mark.parametrize("threshold", ["11", "1"])
def test_build_out_of_core_writes_the_folder_the_in_memory_build_writes(
    tmp_path: Path, cms: Path, capsys: pytest.CaptureFixture[str], threshold: str
) -> None:
    providers = tmp_path / "providers.csv"
    ids = pd.read_csv(cms, header=None, dtype=str)[0].drop_duplicates()
    pd.DataFrame(
        {"npi": ids.iloc[::2], "name": [f"Dr {i}" for i in range(len(ids.iloc[::2]))]}
    ).to_csv(providers, index=False)
    common = ["--edges", str(cms), "--providers", str(providers), "--threshold", threshold]
    assert run("build", *common, "--out", str(tmp_path / "memory")) == 0
    capsys.readouterr()
    assert run("build", *common, "--engine", "files", "--out", str(tmp_path / "files")) == 0
    out = capsys.readouterr().out
    _graphs_equal(load_graph(tmp_path / "memory"), load_graph(tmp_path / "files"))
    for table, key in (("nodes", ["id"]), ("edges", ["source", "target"])):
        mine = pd.read_parquet(tmp_path / "files" / f"{table}.parquet")
        theirs = pd.read_parquet(tmp_path / "memory" / f"{table}.parquet")
        mine = mine[list(theirs.columns)].sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(mine, theirs.sort_values(key, ignore_index=True))
    assert "2,500 rows read" in out and "read out of core (--engine files" in out
    cg = load_compact(tmp_path / "files" / "edges.parquet", weight=None)  # the compact graph
    assert (cg.n_nodes, cg.n_edges) == (300, 2500)
    if threshold == "11":
        assert "pass --threshold 1" in out and "marked small_cell" in out
        problems, _ = scan_outputs(tmp_path / "files")
        assert problems == []


def test_build_of_a_dirty_file_reports_what_the_in_memory_build_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = dirty_file(tmp_path / "dirty.csv")
    assert run("build", "--edges", str(path), "--out", str(tmp_path / "m")) == 0
    memory = capsys.readouterr().out
    assert (
        run("build", "--edges", str(path), "--engine", "files", "--out", str(tmp_path / "f")) == 0
    )
    files = capsys.readouterr().out
    assert memory.splitlines()[0] == files.splitlines()[0]  # rows read, excluded by reason
    assert "excluded" in files.splitlines()[0]
    _graphs_equal(load_graph(tmp_path / "m"), load_graph(tmp_path / "f"))


def test_large_file_refuses_graphml_unless_the_format_is_named(
    tmp_path: Path, cms: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_national, "LARGE_EDGE_FILES", 1000)
    target = tmp_path / "g.graphml"
    assert run("build", "--edges", str(cms), "--out", str(target)) == 1
    said = capsys.readouterr()
    assert said.out == "" and not target.exists()
    assert not said.err.startswith("error:") and len(said.err.strip().splitlines()) == 1
    assert "is a large edge file" in said.err and "--format graphml" in said.err
    assert "Nothing was written" in said.err
    assert run("build", "--edges", str(cms), "--out", str(tmp_path / "g.gexf")) == 1
    assert "--format gexf" in capsys.readouterr().err
    # named, it is written (in memory, the warning says so)
    assert run("build", "--edges", str(cms), "--out", str(target), "--format", "graphml") == 0
    assert load_graph(target).number_of_edges() == 2500
    # without a suffix the large file goes out of core by itself
    assert run("build", "--edges", str(cms), "--out", str(tmp_path / "folder")) == 0
    assert "is a large edge file" in capsys.readouterr().out
    assert run("build", "--edges", str(cms), "--out", str(target), "--format", "parquet") == 1
    assert "disagree" in capsys.readouterr().err


def test_score_out_of_core_against_pandas_networkx_and_the_in_memory_score(
    tmp_path: Path, cms: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    memory, files = tmp_path / "memory", tmp_path / "files"
    assert run("score", "--edges", str(cms), "--out", str(memory), "--parquet") == 0
    capsys.readouterr()
    assert run("score", "--edges", str(cms), "--engine", "files", "--out", str(files)) == 0
    out = capsys.readouterr().out
    assert "providers: 300 rows" in out and "ties: 2,500 rows" in out
    assert "betweenness not computed (--betweenness-k" in out
    mine = pd.read_parquet(files / "providers.parquet").set_index("id")
    theirs = pd.read_parquet(memory / "providers.parquet").set_index("id")
    both = [c for c in theirs.columns if not c.startswith("betweenness")]
    pd.testing.assert_frame_equal(mine[both], theirs[both], check_dtype=False)
    assert mine["betweenness"].isna().all()
    pd.testing.assert_frame_equal(
        pd.read_parquet(files / "communities.parquet"),
        pd.read_parquet(memory / "communities.parquet"),
        check_dtype=False,
    )
    # the oracle: group sums of the file, networkx's PageRank
    raw = pd.read_csv(
        cms, header=None, names=["s", "t", "pair", "bene", "same"], dtype={0: str, 1: str}
    )
    out_strength = raw.groupby("s")["pair"].sum()
    got = mine["out_strength"].dropna()
    assert (got == out_strength.reindex(got.index).fillna(0)).all()
    assert mine["out_strength"].isna().sum() == ((out_strength > 0) & (out_strength < 11)).sum()
    in_degree = raw.groupby("t").size().reindex(mine.index, fill_value=0)
    shown = mine["in_degree"].notna()
    assert (mine.loc[shown, "in_degree"] == in_degree[shown]).all()
    assert ((in_degree[~shown] > 0) & (in_degree[~shown] < 11)).all()
    G = nx.DiGraph()
    G.add_weighted_edges_from(raw[["s", "t", "pair"]].itertuples(index=False), weight="w")
    pagerank = pd.Series(nx.pagerank(G, weight="w", tol=1e-12))
    assert np.allclose(mine["pagerank"], pagerank.reindex(mine.index), atol=1e-8)
    # the ties as read, small counts hidden (pair_count >= 11 here, same_day_count often not)
    ties = pd.read_parquet(files / "ties.parquet")
    assert len(ties) == len(raw)
    assert (ties["referrals"].to_numpy() == raw["pair"].to_numpy()).all()
    small = (raw["same"] > 0) & (raw["same"] < 11)
    assert ties["same_day_count"].isna().to_numpy().tolist() == small.tolist()
    problems, n_files = scan_outputs(files)
    assert problems == [] and n_files == 5


def test_score_hides_a_tie_that_its_strength_would_give_back(
    tmp_path: Path, small_counts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    assert run("score", "--edges", str(small_counts), "--engine", "files", "--out", str(out)) == 0
    said = capsys.readouterr().out
    assert "that would reveal one" in said and "--threshold 1" in said
    raw = pd.read_csv(small_counts, dtype={"source": str, "target": str})
    ties = pd.read_parquet(out / "ties.parquet")
    providers = pd.read_csv(out / "providers.csv", dtype={"id": str}).set_index("id")
    hidden = ties["referrals"].isna()
    shown = ties["referrals"].dropna()
    assert ((shown >= 11) | (shown == 0)).all()
    assert hidden.sum() > (raw["referrals"] < 11).sum()  # some complementary ones
    for end, strength in (("source", "out_strength"), ("target", "in_strength")):
        lone = hidden.groupby(ties[end]).sum() == 1
        alone = lone[lone].index
        assert providers.loc[alone, strength].isna().all() if len(alone) else True
    assert scan_outputs(out)[0] == []
    # PageRank and HITS from the ties as written (a hidden count taken as 5.5; oracle:
    # networkx on ties.parquet), not from the counts it hides
    G = nx.DiGraph()
    G.add_nodes_from(providers.index)
    G.add_weighted_edges_from(
        zip(ties["source"], ties["target"], ties["referrals"].astype("float64").fillna(5.5),
            strict=True),
        weight="w",
    )  # fmt: skip
    pagerank = pd.Series(nx.pagerank(G, weight="w", tol=1e-13, max_iter=10_000))
    assert np.allclose(providers["pagerank"], pagerank.reindex(providers.index), atol=1e-8)
    # --threshold 1 keeps every count
    assert run("score", "--edges", str(small_counts), "--engine", "files", "--out",
               str(tmp_path / "all"), "--threshold", "1") == 0  # fmt: skip
    everything = pd.read_parquet(tmp_path / "all" / "ties.parquet")
    assert (everything["referrals"].to_numpy() == raw["referrals"].to_numpy()).all()


def test_score_out_of_core_refuses_a_focus_and_keeps_the_old_folder(
    tmp_path: Path, cms: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scores"
    out.mkdir()
    (out / "providers.csv").write_text("id\nold\n")
    argv = ["score", "--edges", str(cms), "--engine", "files", "--out", str(out)]
    assert run(*argv, "--focus", "General") == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--focus" in err and "--engine pandas" in err
    assert run(*argv, "--strict", "--ids", "npi", "--betweenness-k", "1") == 1
    assert "--betweenness-k must be an int >= 2" in capsys.readouterr().err
    assert (out / "providers.csv").read_text() == "id\nold\n"


def test_score_samples_betweenness_when_asked(tmp_path: Path, cms: Path) -> None:
    out = tmp_path / "s"
    argv = ["score", "--edges", str(cms), "--engine", "files", "--out", str(out)]
    assert run(*argv, "--betweenness-k", "16") == 0
    table = pd.read_parquet(out / "providers.parquet")
    assert table["betweenness"].notna().all() and (table["betweenness_stderr"] >= 0).all()


def test_score_names_providers_from_the_nppes_file(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The NPPES file is read for the network's providers only, on both paths alike."""
    nppes = shared_data / "nppes_samples" / "npidata_2018_head_499.csv"
    npis = pd.read_csv(nppes, usecols=["NPI"], dtype=str)["NPI"].tolist()[:200]
    rng = np.random.default_rng(5)
    pairs = {(a, b) for a, b in rng.integers(0, 220, (1500, 2)) if a != b}
    extra = [f"{100000000 + i:09d}" for i in range(20)]  # NPIs absent from the file
    from conftest import make_npi

    ids = npis + [make_npi(e) for e in extra]
    rows = [f"{ids[a]},{ids[b]},{20 + a % 7},{11 + b % 5},{a % 4}" for a, b in sorted(pairs)]
    edges = tmp_path / "cms.txt"
    edges.write_text("\n".join(rows) + "\n", encoding="utf-8")
    common = ["score", "--edges", str(edges), "--providers", str(nppes)]
    assert run(*common, "--out", str(tmp_path / "m"), "--parquet") == 0
    memory = capsys.readouterr().out
    assert run(*common, "--engine", "files", "--out", str(tmp_path / "f")) == 0
    files = capsys.readouterr().out
    assert memory.splitlines()[:2] == files.splitlines()[:2]  # both reports' lines
    mine = pd.read_parquet(tmp_path / "f" / "providers.parquet")
    theirs = pd.read_parquet(tmp_path / "m" / "providers.parquet")
    both = [c for c in theirs.columns if not c.startswith("betweenness")]
    pd.testing.assert_frame_equal(mine[both], theirs[both], check_dtype=False)
    assert mine["name"].notna().sum() > 150
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "f" / "communities.parquet"),
        pd.read_parquet(tmp_path / "m" / "communities.parquet"),
        check_dtype=False,
    )
