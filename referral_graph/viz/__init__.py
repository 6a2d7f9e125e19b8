"""Interactive referral-network views that open offline and leak nothing.

Every view returns a :class:`pyvis.network.Network` whose ``nodes``,
``edges`` and ``options`` are plain lists and dicts (edit them freely), and
writes one self-contained HTML page when given ``path=``: vis-network's
JavaScript and CSS are inlined from the copy bundled with pyvis, there is no
Bootstrap, no CDN, no font or image request, and a Content-Security-Policy
forbids the page to fetch anything. The page is rendered from the template
``referral_graph/templates/view.html.j2``, on the layout and stylesheet the
report uses too. Counts from 1 to ``threshold - 1`` are
shown as ``"<11"`` and drawn as if they were ``threshold``, so neither the
tooltips nor the node sizes and edge widths reveal a small count.

* :func:`render` – the core renderer (a graph in, a ``Network`` out).
* :func:`to_html` – the ``Network`` as one self-contained page (atomic write).
* :func:`network_view`, :func:`focus_view`, :func:`ego_view`,
  :func:`community_view`, :func:`at_risk_view` – ready-made views.
* :func:`show_inline` – the page in a Jupyter cell (an ``<iframe srcdoc>`` laid out to a
  600 px frame, vis-network gzipped, and a line that an untrusted notebook shows instead).

On every page the mouse wheel scrolls the page until the drawing is clicked, then zooms
the drawing until Escape or the pointer leaves it.

Views of more than 300 nodes or 1,000 ties get precomputed positions
(igraph's Fruchterman-Reingold layout, seeded) with physics off, so they
open in a second or two; smaller ones settle with vis-network's physics.

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph()
>>> G.add_edge("a", "b", referrals=40)
>>> G.add_edge("c", "b", referrals=3)
>>> net = render(G, title="Demo")
>>> len(net.nodes), len(net.edges)
(3, 2)
>>> sorted(e["title"].splitlines()[1] for e in net.edges)
['Referrals: 40', 'Referrals: <11']
>>> "https://" in to_html(net).split("<script>")[0]
False
"""

from __future__ import annotations

from referral_graph.viz._encoding import category_colors
from referral_graph.viz._jupyter import show_inline
from referral_graph.viz._layout import PHYSICS_EDGE_LIMIT as PHYSICS_EDGE_LIMIT
from referral_graph.viz._layout import PHYSICS_NODE_LIMIT as PHYSICS_NODE_LIMIT
from referral_graph.viz._network_view import network_view
from referral_graph.viz._options import ColorBy as ColorBy
from referral_graph.viz._options import EdgeWidthBy as EdgeWidthBy
from referral_graph.viz._options import PathLike as PathLike
from referral_graph.viz._options import Physics as Physics
from referral_graph.viz._options import RenderOptions
from referral_graph.viz._options import SizeBy as SizeBy
from referral_graph.viz._page import to_html
from referral_graph.viz._render import render
from referral_graph.viz._views import (
    at_risk_view,
    community_view,
    ego_view,
    focus_view,
    rank_at_risk,
)

__all__ = [
    "RenderOptions",
    "at_risk_view",
    "category_colors",
    "community_view",
    "ego_view",
    "focus_view",
    "network_view",
    "rank_at_risk",
    "render",
    "show_inline",
    "to_html",
]
