"""Tests for referral_graph.pipeline: load_network and ReferralNetwork."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from referral_graph import datasets
from referral_graph.centrality import CompactGraph
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.pipeline import ReferralNetwork, load_network, providers_of


@pytest.fixture(scope="module")
def sample():
    paths = datasets.sample_paths()
    return load_network(events=paths["events"], providers=paths["providers"])


def test_the_graph_is_built_on_first_use(sample):
    paths = datasets.sample_paths()
    net = load_network(events=paths["events"], providers=paths["providers"])
    assert not net.graph_built
    period = net.period
    assert period == (pd.Timestamp("2024-01-01"), pd.Timestamp("2026-06-30"))
    cg = net.compact()
    assert cg is net.compact() and not net.graph_built  # cached, no networkx
    G = net.graph
    assert net.graph_built and net.graph is G
    assert net.period == period  # the same from the graph
    assert G.number_of_edges() == len(net.ties) == cg.n_edges
    assert list(G.nodes) == cg.ids.tolist()
    assert "graph built" in repr(net) and "1,200 providers" in repr(net)


def test_compact_equals_the_graph_converted(sample):
    via_graph = CompactGraph.from_networkx(sample.graph)
    cg = sample.compact()
    assert cg.ids.tolist() == via_graph.ids.tolist()
    assert (cg.weight == via_graph.weight).all()
    assert sample.compact(None).weight.tolist() == [1.0] * cg.n_edges


def test_size_is_the_graphs_without_building_it(sample):
    """size() counts the tables; the oracle is the networkx graph of the same tables, also
    with ids absent from the providers, a tie given twice and a monthly panel as ties."""
    paths = datasets.sample_paths()
    net = load_network(events=paths["events"], providers=paths["providers"], panel=False)
    assert net.panel is None and net.period == sample.period  # no panel, the same dates
    assert_frame_equal(net.ties, sample.ties)
    assert net.size() == (sample.graph.number_of_nodes(), sample.graph.number_of_edges())
    assert not net.graph_built and net._compact == {}
    ties = pd.DataFrame({"source": ["A", "A", "B", "A"], "target": ["B", "C", "A", "B"],
                         "month": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"]),
                         "referrals": [1, 2, 3, 4]})  # fmt: skip
    for providers in (pd.DataFrame({"id": ["D", "B"]}), pd.DataFrame({"id": []})):
        other = ReferralNetwork(ties=ties, providers=providers)
        G = other.graph
        fresh = ReferralNetwork(ties=ties, providers=providers)
        assert fresh.size() == (G.number_of_nodes(), G.number_of_edges()) == other.size()


def test_edges_without_providers_get_a_providers_table():
    edges = pd.DataFrame({"from": ["B", "A"], "to": ["C", "B"], "n": [12, 30]})
    net = load_network(edges=edges, columns={"source_col": "from", "target_col": "to",
                                             "weight_col": "n"})  # fmt: skip
    assert net.providers["id"].tolist() == ["B", "C", "A"] == list(net.graph.nodes)
    assert net.period is None and not net.has_dates
    with pytest.raises(InsufficientDataError, match="trend needs dated referrals"):
        net.require_dates("trend")


def test_providers_of_keeps_first_appearance():
    ties = pd.DataFrame({"source": ["B", "A", "B"], "target": ["C", "B", "A"]})
    expected = pd.DataFrame({"id": pd.Series(["B", "C", "A"], dtype="str")})
    assert_frame_equal(providers_of(ties), expected)


def test_a_given_graph_is_used_as_it_is():
    G = nx.DiGraph([("A", "B", {"referrals": 3})])
    G.graph.update(period_start="2024-01-01", period_end="2024-03-31")
    net = ReferralNetwork(G, pd.DataFrame(), pd.DataFrame())
    assert net.graph is G and net.graph_built
    assert net.period == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-31"))


def test_exactly_one_input():
    with pytest.raises(ParameterError, match="exactly one"):
        load_network()


def test_scores_do_not_need_the_networkx_graph():
    from referral_graph.scores import score_network

    paths = datasets.sample_paths()
    lazy = load_network(events=paths["events"], providers=paths["providers"])
    built = load_network(events=paths["events"], providers=paths["providers"])
    assert built.graph.number_of_edges() > 0
    lazy_tables = score_network(lazy, focus="Riverside Health")
    built_tables = score_network(built, focus="Riverside Health")
    assert not lazy.graph_built
    assert lazy_tables.keys() == built_tables.keys()
    for name in lazy_tables:
        assert_frame_equal(lazy_tables[name], built_tables[name], obj=name)


@pytest.mark.parametrize("graph", ["lazy", "built"])
def test_scores_are_the_same_with_a_worker_process(
    graph: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Communities and betweenness computed in the worker process give the same tables."""
    from referral_graph import _worker
    from referral_graph.scores import score_network

    paths = datasets.sample_paths()
    net = load_network(events=paths["events"], providers=paths["providers"])
    if graph == "built":
        assert net.graph.number_of_edges() > 0
    in_process = score_network(net, focus="Riverside Health", seed=4)
    monkeypatch.setattr(_worker, "WORKER_MIN_TIES", 0)  # the sample is far below 1M ties
    with caplog.at_level("INFO", logger="referral_graph"):
        in_worker = score_network(net, focus="Riverside Health", seed=4)
    assert in_process.keys() == in_worker.keys()
    for name in in_process:
        assert_frame_equal(in_worker[name], in_process[name], obj=name)
    assert in_worker["providers"]["betweenness"].notna().all()
    # the worker's log records are logged here
    assert any(r.getMessage().startswith("detect_communities (leiden)") for r in caplog.records)
    assert any("betweenness not computed" in r.getMessage() for r in caplog.records)
