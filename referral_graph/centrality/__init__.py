"""Provider measures on a referral graph: who receives, who refers, who brokers.

Every function takes the referral graph as a ``networkx.DiGraph`` (nodes are
provider ids, edges ``source -> target`` carry ``referrals`` and optionally
``patients``) or as a :class:`CompactGraph`, the same ties held in four NumPy
arrays. Converting once with :meth:`CompactGraph.from_networkx` and passing
the compact form to several measures saves the (slow, Python-level) walk over
the networkx edges each time.

Conventions used throughout:

* **Weights.** ``weight`` names the edge attribute used as tie strength
  (default ``"referrals"``); an edge without it counts as ``1.0`` (logged);
  a negative, NaN, infinite or non-numeric value raises
  :class:`~referral_graph.exceptions.ParameterError`. ``weight=None`` treats
  every tie as ``1.0``.
* **Path length.** Shortest-path measures (betweenness, harmonic closeness)
  need a *length*, the opposite of a strength: with ``distance="inverse"``
  (default) an edge of weight ``w`` has length ``1 / w``, so a tie with many
  referrals is a short, strong path; ties of weight 0 are ignored there.
  ``distance="hops"`` counts edges and ignores weights.
* **Results** are ``pandas.Series`` indexed by provider id (named ``id``) in
  the node order of the graph, or a ``DataFrame`` with an ``id`` column.

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph()
>>> G.add_edge("A", "D", referrals=30)
>>> G.add_edge("B", "D", referrals=10)
>>> G.add_edge("B", "E", referrals=10)
>>> pagerank(G).idxmax()
'D'
>>> hubs, authorities = hits(G)
>>> authorities.idxmax(), hubs.idxmax()
('D', 'A')
"""

from __future__ import annotations

from referral_graph._compact import CompactGraph
from referral_graph.centrality._common import AUTO_EXACT_LIMIT, AUTO_SAMPLE_SOURCES
from referral_graph.centrality._measures import provider_measures
from referral_graph.centrality._paths import betweenness
from referral_graph.centrality._spectral import hits, pagerank

__all__ = [
    "AUTO_EXACT_LIMIT",
    "AUTO_SAMPLE_SOURCES",
    "CompactGraph",
    "betweenness",
    "hits",
    "pagerank",
    "provider_measures",
]
