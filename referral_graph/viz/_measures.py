"""The provider measures a view shows: the caller's, else computed on the graph (private).

Sizes and tooltips read a table ``{measure: {provider id: value}}``: the
columns of the caller's ``measures`` first, what it lacks computed
(referrals received / sent, PageRank, hub and authority scores). Nothing here
is part of the public API.

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


def compute_measures(graph: nx.DiGraph, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Compute the named measures on `graph` ({measure: {provider id: value}})."""
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
    if "pagerank" in need:
        out["pagerank"] = {str(k): float(v) for k, v in centrality.pagerank(graph).items()}
    if need & {"hub", "authority"}:
        hubs, authorities = centrality.hits(graph)
        out["hub"] = {str(k): float(v) for k, v in hubs.items()}
        out["authority"] = {str(k): float(v) for k, v in authorities.items()}
    return out


def merge_measures(
    func: str, graph: nx.DiGraph, measures: pd.DataFrame | None, needed: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """User measures first; what they lack is computed on `graph`."""
    table = measure_columns(func, measures)
    missing = [name for name in needed if name not in table]
    table.update(compute_measures(graph, missing))
    return table


def full_table(
    func: str, graph: nx.DiGraph, measures: pd.DataFrame | None, *names: object
) -> dict[str, dict[str, Any]]:
    """Measures on the whole graph (so a view's figures do not depend on what it leaves out)."""
    needed = {"in_strength", "out_strength"} | {n for n in names if isinstance(n, str)}
    return merge_measures(func, graph, measures, needed)
