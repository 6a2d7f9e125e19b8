"""Tests for referral_graph.centrality: hand-checked fixture, networkx equality, invariants."""

from __future__ import annotations

import copy
import math
from fractions import Fraction
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_graph.centrality import (
    CompactGraph,
    _paths,
    _structure,
    betweenness,
    hits,
    pagerank,
    provider_measures,
)
from referral_graph.exceptions import InsufficientDataError, ParameterError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NASHVILLE = DATA / "hop_teaming_nashville"


# --------------------------------------------------------------------------------------
# The hand-checkable referral graph
# --------------------------------------------------------------------------------------


@pytest.fixture
def referrals() -> nx.DiGraph:
    """Three PCPs (A, B, C), a cardiologist D, a hospital E and a new PCP F with no ties.

    ::

        A --10--> D --3--> E        lengths 1/w: A->D 0.1, A->E 0.5, B->D 0.2,
        A --2-----------> E                      C->E 0.25, D->E 1/3
        B --5--> D
        C --4-----------> E

    * PageRank: E (sink fed by A, C, D) > D > A = B = C = F.
    * HITS: AᵀA on (D, E) = [[125, 20], [20, 29]], leading eigenvalue 129, eigenvector
      (1, 0.2): authority D = 5/6, E = 1/6; hubs ∝ A·a = (A 26/3, B 25/6, C 2/3, D 1/2)
      over 14: A is the top hub (it sends most to the top authority D).
    * Betweenness: A->E is shorter through D (0.1 + 1/3 < 0.5) and B->E only goes
      through D, so D brokers 2 of the 5·4 = 20 ordered pairs: 0.1. Counting hops,
      A->E is direct and D brokers only B->E: 0.05.
    """
    g = nx.DiGraph()
    for pcp in "ABC":
        g.add_node(pcp, specialty="Family Medicine", name=f"Dr {pcp}")
    g.add_node("D", specialty="Cardiology", name="Heart Clinic")
    g.add_node("E", specialty="Hospital", name="General Hospital")
    g.add_edge("A", "D", referrals=10, patients=8)
    g.add_edge("A", "E", referrals=2, patients=2)
    g.add_edge("B", "D", referrals=5, patients=4)
    g.add_edge("C", "E", referrals=4, patients=3)
    g.add_edge("D", "E", referrals=3, patients=2)
    g.add_node("F", specialty="Family Medicine")
    return g


def test_pagerank_order_by_hand(referrals: nx.DiGraph) -> None:
    pr = pagerank(referrals)
    assert pr.index.tolist() == list(referrals)
    assert pr.name == "pagerank" and pr.index.name == "id"
    assert pr["E"] > pr["D"] > pr["A"]
    assert pr["A"] == pytest.approx(pr["B"]) == pytest.approx(pr["C"]) == pytest.approx(pr["F"])
    assert pr.sum() == pytest.approx(1.0)


def test_hits_by_hand(referrals: nx.DiGraph) -> None:
    hubs, authorities = hits(referrals)
    assert authorities["D"] == pytest.approx(5 / 6)
    assert authorities["E"] == pytest.approx(1 / 6)
    assert authorities[["A", "B", "C", "F"]].tolist() == [0.0, 0.0, 0.0, 0.0]
    expected = {"A": 26 / 3 / 14, "B": 25 / 6 / 14, "C": 2 / 3 / 14, "D": 0.5 / 14}
    for provider, value in expected.items():
        assert hubs[provider] == pytest.approx(value)
    assert hubs.idxmax() == "A"
    assert hubs.sort_values(ascending=False).index[:4].tolist() == ["A", "B", "C", "D"]


def test_betweenness_of_broker_by_hand(referrals: nx.DiGraph) -> None:
    strong = betweenness(referrals)
    assert strong["D"] == pytest.approx(2 / 20)
    assert (strong.drop("D") == 0).all()
    assert strong.attrs["exact"] is True
    hops = betweenness(referrals, distance="hops")
    assert hops["D"] == pytest.approx(1 / 20)
    raw = betweenness(referrals, normalized=False)
    assert raw["D"] == pytest.approx(2.0)


def test_provider_measures_by_hand(referrals: nx.DiGraph) -> None:
    table = provider_measures(referrals)
    assert table.columns.tolist() == [
        "id",
        "in_degree",
        "out_degree",
        "in_strength",
        "out_strength",
        "pagerank",
        "hub",
        "authority",
        "betweenness",
        "betweenness_stderr",
        "harmonic_closeness",
        "core_number",
        "constraint",
        "effective_size",
        "patient_sharing_degree",
        "patients_shared",
        "care_density",
    ]
    assert table["id"].tolist() == ["A", "B", "C", "D", "E", "F"]
    assert str(table["id"].dtype) == "string"
    row = table.set_index("id")
    assert row["in_degree"].tolist() == [0, 0, 0, 2, 3, 0]
    assert row["out_strength"].tolist() == [12.0, 5.0, 4.0, 3.0, 0.0, 0.0]
    assert row["in_strength"]["E"] == 9.0
    # Triangle A-D-E in the undirected projection; B and C hang off it; F is isolated.
    assert row["core_number"].tolist() == [2, 1, 1, 2, 2, 0]
    # B's one contact D: fully constrained, effective size 1.
    assert row.loc["B", "constraint"] == pytest.approx(1.0)
    assert row.loc["B", "effective_size"] == pytest.approx(1.0)
    assert pd.isna(row.loc["F", "constraint"]) and pd.isna(row.loc["F", "effective_size"])
    # Patients: A's team {A, D, E}: (8 + 2 + D-E 2) / 3 pairs = 4; D's team {D, A, B, E}:
    # (8 + 4 + 2 + A-E 2) / 6; E's team {E, A, C, D}: (2 + 3 + 2 + A-D 8) / 6.
    assert row["patient_sharing_degree"].tolist() == [2, 1, 1, 3, 3, 0]
    assert row["patients_shared"].tolist() == [10.0, 4.0, 3.0, 14.0, 7.0, 0.0]
    assert row.loc["A", "care_density"] == pytest.approx(4.0)
    assert row.loc["D", "care_density"] == pytest.approx(16 / 6)
    assert row.loc["E", "care_density"] == pytest.approx(15 / 6)
    assert row.loc["B", "care_density"] == pytest.approx(4.0)
    assert pd.isna(row.loc["F", "care_density"])
    assert row.loc["D", "betweenness"] == pytest.approx(0.1)
    # Harmonic closeness of E: mean over the 5 others of 1 / d(v -> E).
    expected = (1 / (0.1 + 1 / 3) + 0 + 1 / (0.2 + 1 / 3) + 1 / 0.25 + 3) / 5
    assert row.loc["E", "harmonic_closeness"] == pytest.approx(expected)
    dtypes = table.dtypes.astype(str).to_dict()
    assert dtypes["in_degree"] == "int64" and dtypes["core_number"] == "int64"
    assert dtypes["pagerank"] == "float64" and dtypes["in_strength"] == "float64"
    assert dtypes["constraint"] == "Float64" and dtypes["harmonic_closeness"] == "Float64"
    assert dtypes["care_density"] == "Float64" and dtypes["patient_sharing_degree"] == "int64"
    assert "specialty" not in table.columns and "name" not in table.columns


def test_provider_measures_does_not_mutate(referrals: nx.DiGraph) -> None:
    before = copy.deepcopy(referrals)
    provider_measures(referrals)
    assert nx.utils.graphs_equal(before, referrals)
    assert list(before.nodes(data=True)) == list(referrals.nodes(data=True))


def test_provider_measures_without_patients(referrals: nx.DiGraph) -> None:
    table = provider_measures(referrals, patient_weight=None)
    assert "patients_shared" not in table.columns
    g = nx.DiGraph([("A", "B", {"referrals": 3})])
    assert "care_density" not in provider_measures(g).columns


def test_provider_measures_auto_limits(
    referrals: nx.DiGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    from referral_graph.centrality import _common  # where the limits are read

    monkeypatch.setattr(_common, "AUTO_EXACT_LIMIT", 3)
    monkeypatch.setattr(_common, "AUTO_SAMPLE_SOURCES", 4)
    table = provider_measures(referrals)
    assert table["harmonic_closeness"].isna().all()
    assert table["constraint"].isna().all() and table["care_density"].isna().all()
    assert table["core_number"].notna().all()
    # Sampled betweenness: 4 of 6 sources.
    assert (table["betweenness_stderr"].dropna() >= 0).all()
    forced = provider_measures(referrals, closeness=True, structural_holes=True, care_density=True)
    assert forced["constraint"].notna().sum() == 5


def test_provider_measures_empty_graph() -> None:
    table = provider_measures(nx.DiGraph())
    assert len(table) == 0 and "pagerank" in table.columns


# --------------------------------------------------------------------------------------
# The compact form
# --------------------------------------------------------------------------------------


def test_compact_from_networkx(referrals: nx.DiGraph) -> None:
    cg = CompactGraph.from_networkx(referrals)
    assert cg.ids.tolist() == ["A", "B", "C", "D", "E", "F"]
    assert cg.src.dtype == np.int32 and cg.dst.dtype == np.int32
    assert cg.weight.dtype == np.float64
    edges = {(cg.ids[s], cg.ids[t]): w for s, t, w in zip(cg.src, cg.dst, cg.weight, strict=True)}
    assert edges == {("A", "D"): 10, ("A", "E"): 2, ("B", "D"): 5, ("C", "E"): 4, ("D", "E"): 3}
    dense = cg.to_csr().toarray()
    assert dense[0, 3] == 10 and dense.sum() == 24
    patients = CompactGraph.from_networkx(referrals, weight="patients")
    assert patients.weight.sum() == 19
    assert CompactGraph.from_networkx(referrals, weight=None).weight.tolist() == [1.0] * 5


def test_compact_missing_weight_counts_one(caplog: pytest.LogCaptureFixture) -> None:
    g = nx.DiGraph([("A", "B", {"referrals": 4}), ("B", "C", {})])
    with caplog.at_level("INFO", logger="referral_graph.centrality"):
        assert CompactGraph.from_networkx(g).weight.tolist() == [4.0, 1.0]
    assert "1 of 2 ties have no 'referrals'" in caplog.text


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "12"])
def test_compact_rejects_bad_weights(bad: object) -> None:
    g = nx.DiGraph([("A", "B", {"referrals": 4}), ("B", "C", {"referrals": bad})])
    with pytest.raises(ParameterError, match="'referrals'") as info:
        CompactGraph.from_networkx(g)
    assert "('B', 'C')" in str(info.value)


def test_compact_undirected_and_multigraph() -> None:
    und = nx.Graph([("A", "B", {"referrals": 2}), ("B", "B", {"referrals": 1})])
    cg = CompactGraph.from_networkx(und)
    assert sorted(zip(cg.src.tolist(), cg.dst.tolist(), cg.weight.tolist(), strict=True)) == [
        (0, 1, 2.0),
        (1, 0, 2.0),
        (1, 1, 1.0),
    ]
    multi = nx.MultiDiGraph()
    multi.add_edge("A", "B", referrals=2)
    multi.add_edge("A", "B", referrals=3)
    multi.add_edge("B", "A", referrals=1)
    cg = CompactGraph.from_networkx(multi)
    assert cg.n_edges == 2 and cg.weight.tolist() == [5.0, 1.0]


def test_compact_from_edges_matches_networkx_order() -> None:
    edges = pd.DataFrame(
        {
            "source": pd.array(["007", "B", "007", "C", "B"], dtype="string"),
            "target": pd.array(["B", "C", "D", "007", "C"], dtype="string"),
            "referrals": [1, 2, 3, 4, 5],
        }
    )
    cg = CompactGraph.from_edges(edges["source"], edges["target"], edges["referrals"])
    g = nx.from_pandas_edgelist(edges, create_using=nx.DiGraph)
    assert cg.ids.tolist() == list(g) == ["007", "B", "C", "D"]
    # The repeated B -> C row is summed.
    assert cg.n_edges == 4 and cg.weight.tolist() == [1.0, 7.0, 3.0, 4.0]
    with_isolated = CompactGraph.from_edges(["A"], ["B"], nodes=["Z"])
    assert with_isolated.ids.tolist() == ["Z", "A", "B"] and with_isolated.src.tolist() == [1]


def test_compact_from_edges_errors() -> None:
    with pytest.raises(ParameterError, match="same length"):
        CompactGraph.from_edges(["A", "B"], ["B"])
    with pytest.raises(ParameterError, match="missing ids"):
        CompactGraph.from_edges(pd.Series(["A", None]), ["B", "C"])
    with pytest.raises(ParameterError, match=">= 0"):
        CompactGraph.from_edges(["A"], ["B"], [-2])
    with pytest.raises(ParameterError, match="numbers"):
        CompactGraph.from_edges(["A"], ["B"], ["x"])


def test_compact_input_is_reused(referrals: nx.DiGraph) -> None:
    cg = CompactGraph.from_networkx(referrals)
    pd.testing.assert_series_equal(pagerank(cg), pagerank(referrals))
    pd.testing.assert_series_equal(betweenness(cg), betweenness(referrals))


# --------------------------------------------------------------------------------------
# Options and errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, -0.1, 1.5, "0.85", True])
def test_pagerank_bad_alpha(referrals: nx.DiGraph, alpha: object) -> None:
    with pytest.raises(ParameterError, match=r"The 'alpha' parameter of pagerank must be"):
        pagerank(referrals, alpha=alpha)  # type: ignore[arg-type]


def test_error_messages_follow_house_format(referrals: nx.DiGraph) -> None:
    with pytest.raises(ParameterError) as info:
        betweenness(referrals, distance="miles")  # type: ignore[arg-type]
    assert str(info.value) == (
        "The 'distance' parameter of betweenness must be one of 'inverse', 'hops'. "
        "Got 'miles' instead."
    )
    with pytest.raises(ParameterError, match="an int >= 2"):
        betweenness(referrals, k=1)
    with pytest.raises(ParameterError, match=r"networkx\.DiGraph or a CompactGraph"):
        pagerank([("A", "B")])  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # ParameterError is also a ValueError
        provider_measures(referrals, closeness="sometimes")  # type: ignore[arg-type]


def test_not_converged_raises(referrals: nx.DiGraph) -> None:
    with pytest.raises(InsufficientDataError, match="did not converge"):
        pagerank(referrals, max_iter=2)
    # HITS falls back to a direct eigensolver when power iteration is slow: same answer
    fast, slow = hits(referrals, max_iter=1), hits(referrals)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-8)


def test_empty_and_edgeless_graphs() -> None:
    assert pagerank(nx.DiGraph()).empty
    g = nx.DiGraph()
    g.add_nodes_from(["A", "B"])
    assert pagerank(g).tolist() == [0.5, 0.5]
    hubs, authorities = hits(g)
    assert hubs.tolist() == [0.5, 0.5] and authorities.tolist() == [0.5, 0.5]
    assert betweenness(g).tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------------------
# Equality with networkx on random graphs
# --------------------------------------------------------------------------------------


def random_referral_graph(seed: int, n: int = 60, p: float = 0.05) -> nx.DiGraph:
    """Directed G(n, p) with integer referrals 1..19, reciprocal pairs, isolated and
    dangling providers and one self-loop; also stores `weight` (for nx.hits) and exact
    `length` = Fraction(1, referrals)."""
    g = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    rng = np.random.default_rng(seed)
    edges = list(g.edges)
    for u, v in edges[:5]:
        g.add_edge(v, u)  # reciprocal ties
    g.add_edge(0, 0)
    g.add_nodes_from([n, n + 1])  # isolated providers
    for u, v in g.edges:
        w = int(rng.integers(1, 20))
        g[u][v].update(referrals=w, weight=w, length=Fraction(1, w), flength=1.0 / w)
    assert any(g.out_degree(u) == 0 and g.in_degree(u) > 0 for u in g)  # dangling
    return g


def assert_close(ours: pd.Series, theirs: dict[object, float], tol: float = 1e-6) -> None:
    expected = np.array([float(theirs[u]) for u in ours.index], dtype=float)
    np.testing.assert_allclose(ours.to_numpy(), expected, atol=tol, rtol=0)


SEEDS = [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", SEEDS)
def test_pagerank_equals_networkx(seed: int) -> None:
    g = random_referral_graph(seed)
    for alpha in (0.85, 0.5):
        ref = nx.pagerank(g, alpha=alpha, weight="referrals", tol=1e-12, max_iter=10_000)
        assert_close(pagerank(g, alpha=alpha), ref)


@pytest.mark.parametrize("seed", SEEDS)
def test_hits_equals_networkx(seed: int) -> None:
    g = random_referral_graph(seed)
    ref_hubs, ref_authorities = nx.hits(g, max_iter=10_000, tol=1e-12)  # reads 'weight'
    hubs, authorities = hits(g)
    assert_close(hubs, ref_hubs)
    assert_close(authorities, ref_authorities)


@pytest.mark.parametrize("seed", SEEDS)
def test_exact_betweenness_equals_networkx(seed: int) -> None:
    g = random_referral_graph(seed)
    # Exact rational lengths: networkx sees the same ties between equally short paths.
    assert_close(betweenness(g), nx.betweenness_centrality(g, weight="length"))
    assert_close(betweenness(g, distance="hops"), nx.betweenness_centrality(g))
    raw = nx.betweenness_centrality(g, weight="length", normalized=False)
    assert_close(betweenness(g, normalized=False), raw)


@pytest.mark.parametrize("seed", SEEDS)
def test_betweenness_equals_networkx_float_lengths_without_ties(seed: int) -> None:
    g = random_referral_graph(seed)
    rng = np.random.default_rng(seed)
    for u, v in g.edges:  # real-valued weights: equal path lengths have probability 0
        w = float(rng.lognormal(1.0, 1.0))
        g[u][v].update(referrals=w, flength=1.0 / w)
    assert_close(betweenness(g), nx.betweenness_centrality(g, weight="flength"))


@pytest.mark.parametrize("seed", SEEDS)
def test_sampled_betweenness_equals_networkx_same_seed(seed: int) -> None:
    g = random_referral_graph(seed)
    ours = betweenness(g, k=20, seed=seed)
    assert_close(ours, nx.betweenness_centrality(g, k=20, seed=seed, weight="length"))
    assert ours.attrs["exact"] is False and ours.attrs["sources"] == 20
    assert ours.attrs["batches"] == 16
    assert ours.attrs["stderr_max"] >= 0
    # k >= n is exact.
    assert betweenness(g, k=len(g) + 5).attrs["exact"] is True


def test_sampled_betweenness_standard_error_is_honest() -> None:
    """For the 20 main brokers, the exact value lies within 3 standard errors of the
    sampled estimate in > 90% of (seed, provider) cases (92% here; the sampling
    distribution is skewed, so this is below the normal 99.7%)."""
    g = random_referral_graph(11, n=150, p=0.03)
    cg = CompactGraph.from_networkx(g)
    exact = betweenness(cg).to_numpy()
    top = np.argsort(-exact)[:20]
    inside = []
    for seed in range(20):
        value, stderr, _ = _paths._betweenness_arrays(
            cg, k=48, seed=seed, normalized=True, distance="inverse"
        )
        inside.append(np.abs(value - exact)[top] <= 3 * stderr[top])
    assert np.mean(inside) > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_other_measures_equal_networkx(seed: int) -> None:
    g = random_referral_graph(seed)
    n = len(g)
    table = provider_measures(g, patient_weight=None).set_index("id")
    harmonic = nx.harmonic_centrality(g, distance="flength")
    assert_close(
        table["harmonic_closeness"].astype(float), {u: h / (n - 1) for u, h in harmonic.items()}
    )
    # Undirected weighted projection (both directions summed, loops dropped).
    und = nx.Graph()
    und.add_nodes_from(g)
    for u, v, w in g.edges(data="referrals"):
        if u != v:
            und.add_edge(u, v, weight=w + (und[u][v]["weight"] if und.has_edge(u, v) else 0))
    assert table["core_number"].to_dict() == nx.core_number(und)
    constraint = nx.constraint(und, weight="weight")
    # networkx 3.6's vectorised effective_size (nodes=None) mis-normalises weighted graphs
    # (networkx PR #8906); its per-node path is Burt's formula.
    effective = nx.effective_size(und, nodes=list(und), weight="weight")
    for column, ref in (("constraint", constraint), ("effective_size", effective)):
        ours = table[column].astype(float)
        isolated = [u for u in und if und.degree(u) == 0]
        assert ours[isolated].isna().all() and all(math.isnan(ref[u]) for u in isolated)
        assert_close(ours.drop(isolated), {u: ref[u] for u in ours.index if u not in isolated})


# --------------------------------------------------------------------------------------
# Invariants (Hypothesis)
# --------------------------------------------------------------------------------------

edge_lists = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(1, 50)), min_size=1, max_size=40
)


def graph_from(edges: list[tuple[int, int, int]], scale: float = 1.0) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(10))
    for u, v, w in edges:
        g.add_edge(u, v, referrals=w * scale)
    return g


@settings(max_examples=60, deadline=None)
@given(edges=edge_lists, alpha=st.floats(0.05, 0.95))
def test_pagerank_is_a_distribution(edges: list[tuple[int, int, int]], alpha: float) -> None:
    pr = pagerank(graph_from(edges), alpha=alpha)
    assert (pr >= 0).all()
    assert pr.sum() == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(edges=edge_lists, scale=st.floats(0.01, 1000))
def test_scaling_weights_changes_nothing(edges: list[tuple[int, int, int]], scale: float) -> None:
    g, scaled = graph_from(edges), graph_from(edges, scale)
    np.testing.assert_allclose(pagerank(g), pagerank(scaled), atol=1e-9)
    for ours, theirs in zip(hits(g), hits(scaled), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-7)
    np.testing.assert_allclose(betweenness(g), betweenness(scaled), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(edges=edge_lists)
def test_hits_scores_are_distributions(edges: list[tuple[int, int, int]]) -> None:
    hubs, authorities = hits(graph_from(edges))
    for scores in (hubs, authorities):
        assert (scores >= -1e-12).all()
        assert scores.sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------------------
# Real data: CareSet Hop Teaming, Nashville
# --------------------------------------------------------------------------------------


def load_nashville() -> nx.DiGraph:
    if not (NASHVILLE / "edges.csv").exists():
        pytest.skip(f"real data not available: {NASHVILLE} is absent")
    edges = pd.read_csv(
        NASHVILLE / "edges.csv", dtype=str, na_values=["NULL"], keep_default_na=False
    )
    g = nx.DiGraph()
    for row in edges.itertuples(index=False):
        g.add_node(row.from_npi, name=row.full_name, role="pcp", specialty=row.pcp_class)
        g.add_node(row.to_npi, name=row.to_organization, role="hospital")
    for row in edges.itertuples(index=False):
        g.add_edge(
            row.from_npi,
            row.to_npi,
            referrals=int(row.transaction_count),
            patients=int(row.patient_count),
        )
    return g


def test_nashville_top_providers() -> None:
    g = load_nashville()
    assert (g.number_of_nodes(), g.number_of_edges()) == (1443, 2785)
    hospitals = {u for u, role in g.nodes(data="role") if role == "hospital"}

    def show(title: str, scores: pd.Series) -> list[str]:
        top = scores.sort_values(ascending=False, kind="stable").head(10)
        print(f"\n{title}")
        for rank, (npi, value) in enumerate(top.items(), start=1):
            specialty = g.nodes[npi].get("specialty") or ""
            print(f"  {rank:2d}. {npi}  {g.nodes[npi]['name']:<50} {specialty:<18} {value:.4f}")
        return top.index.tolist()

    hubs, authorities = hits(g, weight="patients")
    top_authorities = show("Top 10 hospitals by authority (weight = patient_count)", authorities)
    top_pagerank = show(
        "Top 10 hospitals by PageRank (weight = patient_count)", pagerank(g, weight="patients")
    )
    top_hubs = show("Top 10 PCPs by hub score (weight = patient_count)", hubs)
    show("Top 10 hospitals by authority (weight = transaction_count)", hits(g)[1])

    vumc = "1396882205"
    assert g.nodes[vumc]["name"] == "VANDERBILT UNIVERSITY MEDICAL CENTER"
    assert vumc in top_authorities[:5]
    assert vumc in top_pagerank[:5]
    assert set(top_authorities) <= hospitals and set(top_pagerank) <= hospitals
    assert not set(top_hubs) & hospitals
    # Hubs are PCPs who send to the top authority.
    assert all(g.has_edge(pcp, vumc) for pcp in top_hubs)

    table = provider_measures(g)
    assert len(table) == 1443 and table["patients_shared"].sum() == 2 * 557_571
    assert (table["betweenness"] == 0).all()  # PCP -> hospital only: no one brokers
    assert table.set_index("id").loc[list(hospitals), "out_degree"].eq(0).all()


def test_sampled_betweenness_with_few_sources_does_not_warn():
    """Regression: nodes estimated by a single batch made np.nanstd warn (an error here)."""
    G = nx.gnp_random_graph(40, 0.08, seed=1, directed=True)
    G = nx.relabel_nodes(G, {n: str(n) for n in G})
    nx.set_edge_attributes(G, 3, "referrals")
    for k in (2, 3):
        scores = betweenness(G, k=k, seed=0)
        assert len(scores) == 40 and bool((scores >= 0).all())


def test_hits_with_nearly_equal_singular_values():
    """Regression (found by Hypothesis): power iteration needs ~15,000 steps here."""
    G = nx.DiGraph()
    G.add_edge("0", "0", referrals=1)
    G.add_edge("0", "1", referrals=25)
    G.add_edge("1", "2", referrals=25)
    hubs, authorities = hits(G)
    # A^T A = [[1, 25, 0], [25, 625, 0], [0, 0, 625]]: leading eigenvalue 626, vector (1, 25, 0)
    assert authorities.tolist() == pytest.approx([1 / 26, 25 / 26, 0.0], abs=1e-9)
    assert hubs.tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-9)


def test_sharing_degree_per_100_patients():
    """Landon et al. 2012: patient-sharing partners per 100 of the provider's own patients."""
    G = nx.DiGraph()
    G.add_node("A", patients=50)
    G.add_node("B", patients=200)
    G.add_node("C")  # panel unknown
    G.add_edge("A", "B", referrals=30, patients=20)
    G.add_edge("A", "C", referrals=15, patients=12)
    table = provider_measures(G).set_index("id")
    assert table.loc["A", "patient_sharing_degree"] == 2
    assert table.loc["A", "sharing_degree_per_100"] == pytest.approx(4.0)  # 2 / 50 * 100
    assert table.loc["B", "sharing_degree_per_100"] == pytest.approx(0.5)  # 1 / 200 * 100
    assert pd.isna(table.loc["C", "sharing_degree_per_100"])


@pytest.fixture(scope="module")
def sample_network():
    from referral_graph import datasets
    from referral_graph.pipeline import load_network

    paths = datasets.sample_paths()
    return load_network(events=paths["events"], providers=paths["providers"])


def test_compact_from_tables_equals_from_networkx(sample_network):
    from pandas.testing import assert_frame_equal

    from referral_graph.communities import community_summary, detect_communities

    net = sample_network
    via_nx = CompactGraph.from_networkx(net.graph)
    cg = CompactGraph.from_tables(net.ties, net.providers)
    assert cg.ids.tolist() == via_nx.ids.tolist()
    np.testing.assert_array_equal(cg.src, via_nx.src)
    np.testing.assert_array_equal(cg.dst, via_nx.dst)
    np.testing.assert_array_equal(cg.weight, via_nx.weight)
    # Every measure, the patient-sharing ones included, and the communities agree.
    assert_frame_equal(provider_measures(cg, seed=3), provider_measures(net.graph, seed=3))
    labels = detect_communities(cg, seed=3)
    pd.testing.assert_series_equal(labels, detect_communities(net.graph, seed=3))
    assert_frame_equal(community_summary(cg, labels), community_summary(net.graph, labels))


def test_compact_from_tables_sums_a_panel_and_checks_columns():
    panel = pd.DataFrame(
        {
            "source": ["A", "A", "B"],
            "target": ["B", "B", "A"],
            "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"]),
            "referrals": [2, 3, 1],
            "patients": [2, 2, 1],
        }
    )
    cg = CompactGraph.from_tables(panel)
    assert cg.weight.tolist() == [5.0, 1.0]
    assert cg.edge_attrs == {}  # distinct patients do not add up over months
    with pytest.raises(ParameterError, match="'source'"):
        CompactGraph.from_tables(panel.drop(columns="source"))
    with pytest.raises(ParameterError, match="'referrals' column must hold numbers"):
        CompactGraph.from_tables(panel.assign(referrals=["x", "y", "z"]))
    with pytest.raises(ParameterError, match="one value per node"):
        CompactGraph(cg.ids, cg.src, cg.dst, cg.weight, node_attrs={"name": ["only one"]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_core_number_peeling_equals_networkx(seed: int) -> None:
    # dense enough for many peeling levels and rounds; isolated nodes, a self-loop, and
    # ties in both directions (one neighbour)
    rng = np.random.default_rng(seed)
    n = 400
    src = rng.integers(0, n - 5, 6000)
    dst = np.minimum(src + rng.geometric(0.02, 6000), n - 6)
    src = np.append(src, [3, 7])
    dst = np.append(dst, [3, src[0]])
    cg = CompactGraph.from_edges(src.astype(str), dst.astype(str), nodes=np.arange(n).astype(str))
    a, b, _ = cg.undirected_edges(self_loops=False)
    core = _structure._core_number(cg.n_nodes, a, b)
    und = nx.Graph()
    und.add_nodes_from(range(cg.n_nodes))
    und.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    assert core.tolist() == [nx.core_number(und)[i] for i in range(cg.n_nodes)]
    assert core.max() > 5


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("as_series", [False, True])
def test_node_codes_match_the_interleaved_first_appearance(seed: int, as_series: bool) -> None:
    """Node order: lead first, then ids by first appearance in s0, t0, s1, t1, ... (networkx's)."""
    from referral_graph._compact import _node_codes

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    pool = np.array([f"P{i}" for i in range(60)], dtype=object)
    lead = pool[rng.integers(0, 60, int(rng.integers(0, 30)))]  # repeats, ids without ties
    sources, targets = pool[rng.integers(0, 60, n)], pool[rng.integers(0, 60, n)]
    # the reference: one factorisation of the interleaved sequence
    both = np.empty(len(lead) + 2 * n, dtype=object)
    both[: len(lead)], both[len(lead) :: 2], both[len(lead) + 1 :: 2] = lead, sources, targets
    codes, uniques = pd.factorize(both)
    parts = (lead, sources, targets)
    if as_series:
        parts = tuple(pd.Series(list(p), dtype="str") for p in parts)  # type: ignore[assignment]
    ids, src, dst = _node_codes(*parts)
    assert ids.tolist() == list(uniques)
    assert src.tolist() == codes[len(lead) :: 2].tolist()
    assert dst.tolist() == codes[len(lead) + 1 :: 2].tolist()


def test_pagerank_default_damping_is_networkx_s_on_an_unweighted_graph() -> None:
    """Issue 19: a changed default damping was caught by no test. The oracle is networkx,
    called with its own defaults (alpha=0.85), on a graph with dangling and isolated nodes."""
    G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("a", "d"), ("e", "a")])
    G.add_node("f")
    ours = pagerank(G, weight=None)
    theirs = nx.pagerank(G, weight=None, tol=1e-12)
    for node, value in theirs.items():
        assert ours[node] == pytest.approx(value, abs=1e-9), node
