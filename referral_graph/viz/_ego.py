"""The neighbourhood an ego view draws: everyone within some hops, capped by strength (private).

A hub's whole neighbourhood (hundreds of providers, thousands of ties) draws as a
hairball. :func:`strongest_neighbourhood` keeps, ring by ring out from the centre,
the neighbours who exchange the most referrals with the providers kept one ring
closer, up to a cap, and counts what it leaves out. Nothing here is part of the
public API (:func:`referral_graph.viz.ego_view` documents the rule).

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph()
>>> G.add_edge("a", "hub", referrals=50)
>>> G.add_edge("hub", "b", referrals=20)
>>> G.add_edge("c", "hub", referrals=5)
>>> G.add_edge("c", "a", referrals=9)
>>> hood = strongest_neighbourhood(G, "hub", hops=1, direction="both", top=2)
>>> hood.kept, hood.left_out, hood.left_out_ties
(['hub', 'a', 'b'], 1, 2)
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import networkx as nx

from referral_graph.viz._encoding import number

__all__ = ["Neighbourhood", "strongest_neighbourhood"]


@dataclass(frozen=True)
class Neighbourhood:
    """What an ego view draws of a provider's neighbourhood, and what it leaves out."""

    #: The centre, then the neighbours kept: ring by ring, strongest first.
    kept: list[Hashable]
    #: Neighbours within reach that are not drawn.
    left_out: int
    #: Ties among the providers within reach that are not drawn.
    left_out_ties: int


def strongest_neighbourhood(
    G: nx.DiGraph,
    centre: Hashable,
    *,
    hops: int,
    direction: Literal["both", "in", "out"],
    top: int | None,
) -> Neighbourhood:
    """The centre's neighbourhood within `hops`, at most `top` neighbours (None: all).

    Ring by ring (providers 1 hop away, then 2, ...), a neighbour is ranked by the
    referrals it exchanges with the providers kept in the ring before (the centre
    for the first ring), following ties as `direction` says: "in", ties from it
    (its referrals to them), "out", ties to it, "both", both summed. Larger first,
    ties broken by id; a neighbour whose only ties lead to neighbours left out is
    left out too. Missing referral counts count as 0.
    """
    graph: nx.DiGraph | nx.Graph = G
    if direction == "in":
        graph = G.reverse(copy=False)
    elif direction == "both":
        graph = G.to_undirected(as_view=True)
    reached = nx.single_source_shortest_path_length(graph, centre, cutoff=hops)
    rings: dict[int, list[Hashable]] = {}
    for node, distance in reached.items():
        if distance:
            rings.setdefault(distance, []).append(node)
    kept = [centre]
    inner = {centre}
    room = math.inf if top is None else top
    for distance in sorted(rings):
        ranked = []
        for node in rings[distance]:
            linked, referrals = _exchanged(G, node, inner, direction)
            if linked:
                ranked.append((-referrals, str(node), node))
        ranked.sort(key=lambda item: (item[0], item[1]))
        chosen = [node for _, _, node in ranked[: int(min(room, len(ranked)))]]
        kept.extend(chosen)
        room -= len(chosen)
        inner = set(chosen)
        if not inner:
            break
    within, drawn = set(reached), set(kept)
    left_ties = sum(
        1 for u in within for v in G.succ[u] if v in within and not (u in drawn and v in drawn)
    )
    return Neighbourhood(kept=kept, left_out=len(within) - len(drawn), left_out_ties=left_ties)


def _exchanged(
    G: nx.DiGraph, node: Hashable, inner: set[Hashable], direction: str
) -> tuple[bool, float]:
    """Whether `node` has a followed tie with `inner`, and the referrals on those ties."""
    linked, total = False, 0.0
    ends = []
    if direction in ("both", "out"):  # ties from the inner ring to the node
        ends.append(G.pred[node].items())
    if direction in ("both", "in"):  # ties from the node to the inner ring
        ends.append(G.succ[node].items())
    for items in ends:
        for other, attrs in items:
            if other in inner:
                linked = True
                total += number(attrs.get("referrals")) or 0.0
    return linked, total
