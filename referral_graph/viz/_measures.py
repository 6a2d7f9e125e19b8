"""The provider measures a view shows: the caller's, else computed on the graph (private).

Sizes and tooltips read a table ``{measure: {provider id: value}}``: the
columns of the caller's ``measures`` first, what it lacks computed
(referrals received / sent, PageRank, hub and authority scores). PageRank, hub
and authority are computed as the tables write them with a threshold
(:func:`referral_graph.scores.published_link_scores`): each small count taken as
half the threshold, so that their equations give no hidden count back. Nothing
here is part of the public API.

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph()
>>> G.add_edge("a", "b", referrals=3)
>>> compute_measures(G, ["in_strength"])["in_strength"]
{'a': 0.0, 'b': 3.0}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import pandas as pd

from referral_graph import centrality
from referral_graph.privacy import DEFAULT_THRESHOLD, STAND_IN
from referral_graph.viz._encoding import COUNT_MEASURES, number
from referral_graph.viz._options import check_frame

__all__ = ["compute_measures", "full_table", "measure_columns", "merge_measures"]


def measure_columns(func: str, measures: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """The user's measures table as {column: {provider id: value}}."""
    if measures is None:
        return {}
    frame = check_frame(func, "measures", measures, ["id"])
    ids = [str(i) for i in frame["id"]]
    return {
        str(col): dict(zip(ids, frame[col].tolist(), strict=True))
        for col in frame.columns
        if col != "id"
    }


def compute_measures(
    graph: nx.DiGraph, names: Iterable[str], *, threshold: int = DEFAULT_THRESHOLD
) -> dict[str, dict[str, Any]]:
    """Compute the named measures on `graph` ({measure: {provider id: value}}); the link
    scores on its referrals as shown with `threshold` (:func:`_as_shown`)."""
    need = set(names)
    out: dict[str, dict[str, Any]] = {}
    if need & COUNT_MEASURES:
        ins = dict.fromkeys(graph, 0.0)
        outs = dict.fromkeys(graph, 0.0)
        for u, v, referrals in graph.edges(data="referrals"):
            weight = number(referrals) or 0.0
            outs[u] += weight
            ins[v] += weight
        out["in_strength"] = {str(n): ins[n] for n in graph}
        out["out_strength"] = {str(n): outs[n] for n in graph}
        out["referrals"] = {str(n): ins[n] + outs[n] for n in graph}
    if need & {"pagerank", "hub", "authority"}:
        shown = _as_shown(graph, threshold)
    if "pagerank" in need:
        out["pagerank"] = {str(k): float(v) for k, v in centrality.pagerank(shown).items()}
    if need & {"hub", "authority"}:
        hubs, authorities = centrality.hits(shown)
        out["hub"] = {str(k): float(v) for k, v in hubs.items()}
        out["authority"] = {str(k): float(v) for k, v in authorities.items()}
    return out


def _as_shown(graph: nx.DiGraph, threshold: int) -> centrality.CompactGraph:
    """`graph` as arrays, its referrals from 1 to ``threshold - 1`` taken as
    ``STAND_IN * threshold`` (the link scores as the tables write them)."""
    cg = centrality.CompactGraph.from_networkx(graph, weight="referrals")
    if threshold <= 1:
        return cg
    weight = cg.weight.copy()
    weight[(weight > 0) & (weight < threshold)] = STAND_IN * threshold
    return centrality.CompactGraph(cg.ids, cg.src, cg.dst, weight)


def merge_measures(
    func: str,
    graph: nx.DiGraph,
    measures: pd.DataFrame | None,
    needed: Iterable[str],
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, dict[str, Any]]:
    """User measures first; what they lack is computed on `graph`."""
    table = measure_columns(func, measures)
    missing = [name for name in needed if name not in table]
    table.update(compute_measures(graph, missing, threshold=threshold))
    return table


def full_table(
    func: str,
    graph: nx.DiGraph,
    measures: pd.DataFrame | None,
    *names: object,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, dict[str, Any]]:
    """Measures on the whole graph (so a view's figures do not depend on what it leaves out)."""
    needed = {"in_strength", "out_strength"} | {n for n in names if isinstance(n, str)}
    return merge_measures(func, graph, measures, needed, threshold=threshold)
