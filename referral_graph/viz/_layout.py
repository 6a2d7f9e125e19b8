"""Where the nodes go: vis-network's physics for small views, seeded positions above (private).

``physics="auto"`` lets vis-network lay out views of at most
:data:`PHYSICS_NODE_LIMIT` nodes and :data:`PHYSICS_EDGE_LIMIT` ties in the
browser; larger ones get igraph's Fruchterman-Reingold positions, seeded and
scaled to pixels (:func:`layout`), and open with physics off. Nothing here is
part of the public API.

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph([("a", "b"), ("b", "c")])
>>> uses_physics(G, "auto"), uses_physics(G, False)
(True, False)
>>> positions(G, list(G), {}, seed=0) == positions(G, list(G), {}, seed=0)
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence

import networkx as nx

from referral_graph.viz._encoding import DEFAULT_NODE_SIZE
from referral_graph.viz._options import Physics

__all__ = [
    "LAYOUT_SPACING",
    "PHYSICS_EDGE_LIMIT",
    "PHYSICS_NODE_LIMIT",
    "layout",
    "positions",
    "uses_physics",
]

#: physics="auto" lets vis-network lay out at most this many nodes and ties; larger views
#: get precomputed positions with physics off (stabilising 300 nodes and 2,400 ties in the
#: browser takes several seconds before anything is drawn).
PHYSICS_NODE_LIMIT = 300
PHYSICS_EDGE_LIMIT = 1000
#: Layout radius (98th percentile, pixels) is this times sqrt(number of nodes), or more
#: for big nodes (3 mean diameters).
LAYOUT_SPACING = 38.0


def uses_physics(graph: nx.DiGraph, physics: Physics) -> bool:
    """Whether vis-network lays `graph` out in the browser (else :func:`positions` do)."""
    if physics == "auto":
        n_nodes: int = graph.number_of_nodes()
        n_edges: int = graph.number_of_edges()
        return n_nodes <= PHYSICS_NODE_LIMIT and n_edges <= PHYSICS_EDGE_LIMIT
    return physics


def positions(
    graph: nx.DiGraph, nodes: Sequence[Hashable], sizes: Mapping[Hashable, float], seed: int
) -> dict[Hashable, tuple[float, float]]:
    """Precomputed positions of `nodes`, spread wider when the nodes are big."""
    mean_size = sum(sizes.get(node, DEFAULT_NODE_SIZE) for node in nodes) / max(len(nodes), 1)
    spacing = max(LAYOUT_SPACING, 3.0 * mean_size)
    return dict(zip(nodes, layout(graph, nodes, seed, spacing), strict=True))


def layout(
    graph: nx.DiGraph, nodes: Sequence[Hashable], seed: int, spacing: float = LAYOUT_SPACING
) -> list[tuple[float, float]]:
    """Fruchterman-Reingold positions (igraph, seeded) scaled to pixels."""
    import igraph as ig
    import numpy as np

    n = len(nodes)
    if n <= 1:
        return [(0.0, 0.0)] * n
    index = {node: i for i, node in enumerate(nodes)}
    pairs = [(index[u], index[v]) for u, v in graph.edges() if u != v]
    undirected = ig.Graph(n=n, edges=pairs, directed=False)
    undirected.simplify()
    # igraph draws from one global generator: swap in a seeded one, then restore the default.
    ig.set_random_number_generator(random.Random(seed))
    try:
        coords = np.asarray(undirected.layout_fruchterman_reingold(niter=500).coords, dtype=float)
    finally:
        ig.set_random_number_generator(random)
    coords -= np.median(coords, axis=0)
    radius = float(np.quantile(np.hypot(coords[:, 0], coords[:, 1]), 0.98)) or 1.0
    coords *= spacing * math.sqrt(n) / radius
    return [(round(float(x), 1), round(float(y), 1)) for x, y in coords]
