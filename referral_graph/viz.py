"""Interactive referral-network views that open offline and leak nothing.

Every view returns a :class:`pyvis.network.Network` whose ``nodes``,
``edges`` and ``options`` are plain lists and dicts (edit them freely), and
writes one self-contained HTML page when given ``path=``: vis-network's
JavaScript and CSS are inlined from the copy bundled with pyvis, there is no
Bootstrap, no CDN, no font or image request, and a Content-Security-Policy
forbids the page to fetch anything. Counts from 1 to ``threshold - 1`` are
shown as ``"<11"`` and drawn as if they were ``threshold``, so neither the
tooltips nor the node sizes and edge widths reveal a small count.

* :func:`render` – the core renderer (a graph in, a ``Network`` out).
* :func:`to_html` – the ``Network`` as one self-contained page (atomic write).
* :func:`network_view`, :func:`focus_view`, :func:`ego_view`,
  :func:`community_view`, :func:`at_risk_view` – ready-made views.
* :func:`show_inline` – the page in a Jupyter cell (an ``<iframe srcdoc>``).

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

import functools
import html
import json
import logging
import math
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, cast

import networkx as nx
import pandas as pd

from referral_graph import centrality
from referral_graph._checks import check_choice, check_int, parameter_error
from referral_graph.exceptions import (
    InputError,
    InsufficientDataError,
    ParameterError,
    SchemaError,
)
from referral_graph.graph import induced_subgraph
from referral_graph.io import atomic_path
from referral_graph.privacy import DEFAULT_THRESHOLD, format_count

if TYPE_CHECKING:
    from IPython.core.display import HTML
    from pyvis.network import Network

__all__ = [
    "RenderOptions",
    "at_risk_view",
    "community_view",
    "ego_view",
    "focus_view",
    "network_view",
    "rank_at_risk",
    "render",
    "show_inline",
    "to_html",
]

logger = logging.getLogger(__name__)

SizeBy = Literal["in_strength", "out_strength", "pagerank", "hub", "authority", "referrals"]
ColorBy = Literal["specialty", "organization", "community", "segment", "in_network", "city"]
EdgeWidthBy = Literal["referrals", "strength"]
Physics = bool | Literal["auto"]
PathLike = str | os.PathLike[str]

_SIZE_BY: tuple[str, ...] = (
    "in_strength",
    "out_strength",
    "pagerank",
    "hub",
    "authority",
    "referrals",
)
_COLOR_BY: tuple[str, ...] = (
    "specialty",
    "organization",
    "community",
    "segment",
    "in_network",
    "city",
)
_EDGE_WIDTH_BY: tuple[str, ...] = ("referrals", "strength")
#: Measures that are counts of referrals, hence small-cell suppressed.
_COUNT_MEASURES = frozenset({"in_strength", "out_strength", "referrals"})
_MEASURE_LABELS = {
    "in_strength": "referrals received",
    "out_strength": "referrals sent",
    "referrals": "referrals sent and received",
    "pagerank": "PageRank",
    "hub": "hub score",
    "authority": "authority score",
}
_SEGMENTS = ("loyalist", "splitter", "dissenter")

#: physics="auto" lets vis-network lay out at most this many nodes and ties; larger views
#: get precomputed positions with physics off (stabilising 300 nodes and 2,400 ties in the
#: browser takes several seconds before anything is drawn).
PHYSICS_NODE_LIMIT = 300
PHYSICS_EDGE_LIMIT = 1000
#: Above this many edges, edges are drawn straight and hidden while dragging.
_CURVED_EDGE_LIMIT = 3000

# Tableau 10 and two more: distinguishable, and stable (categories are ranked by size, then name).
_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
    "#bcbd22",
    "#8c564b",
)
_OTHER_COLOR = "#a3acb9"
_UNKNOWN_COLOR = "#d5dae0"
_DEFAULT_NODE_COLOR = "#4e79a7"
_EDGE_COLOR = "#9aa5b1"
_RISK_COLOR = "#d62728"
_FIXED_COLORS: dict[str, dict[str, str]] = {
    "segment": {
        "Focus provider": "#4e79a7",
        "Loyalist": "#59a14f",
        "Splitter": "#f28e2b",
        "Dissenter": "#e15759",
        "Not segmented": _UNKNOWN_COLOR,
    },
    "in_network": {
        "In network": "#4e79a7",
        "Out of network": "#f28e2b",
        "Unknown": _UNKNOWN_COLOR,
    },
}
_NODE_SIZE = (8.0, 40.0)
_EDGE_WIDTH = (1.0, 8.0)
_RISK_EDGE_WIDTH = (2.5, 10.0)
#: Layout radius (98th percentile, pixels) is this times sqrt(number of nodes), or more
#: for big nodes (3 mean diameters).
_LAYOUT_SPACING = 38.0


class RenderOptions(TypedDict, total=False):
    """Keyword options every view passes on to :func:`render`."""

    size_by: SizeBy | None
    color_by: ColorBy | None
    edge_width_by: EdgeWidthBy
    title: str
    period: str | None
    threshold: int
    max_nodes: int
    physics: Physics
    seed: int
    height: str | int


@dataclass
class _Extras:
    """What a view adds to the plain rendering of a graph (all keyed by node / edge)."""

    categories: Mapping[Hashable, str] | None = None
    #: "segment" or "in_network" for their fixed colours; None for the palette.
    category_kind: str | None = None
    category_title: str | None = None
    #: Categories in the order they get palette colours (default: most frequent first).
    category_order: Sequence[str] = ()
    node_lines: Mapping[Hashable, list[str]] = field(default_factory=dict)
    node_style: Mapping[Hashable, dict[str, Any]] = field(default_factory=dict)
    edge_lines: Mapping[tuple[Hashable, Hashable], list[str]] = field(default_factory=dict)
    edge_style: Mapping[tuple[Hashable, Hashable], dict[str, Any]] = field(default_factory=dict)
    #: Count behind the width of the highlighted edges (suppressed like any count).
    edge_weight: Mapping[tuple[Hashable, Hashable], float | None] = field(default_factory=dict)
    legend_edges: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    show_ids: bool = True


# --------------------------------------------------------------------------- validation


def _check_graph(func: str, graph: object) -> None:
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        expected = "a networkx.DiGraph (not a multigraph or undirected graph)"
        raise parameter_error("G", func, expected, type(graph).__name__)


def _check_height(func: str, height: object) -> str:
    if isinstance(height, int) and not isinstance(height, bool) and height > 0:
        return f"{height}px"
    if isinstance(height, str) and re.fullmatch(r"\d+(\.\d+)?(px|vh|em|rem|%)", height):
        return height
    raise parameter_error(
        "height", func, "a CSS height such as '800px' or a positive int (pixels)", height
    )


def _check_frame(func: str, name: str, frame: object, required: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise parameter_error(name, func, "a pandas DataFrame", type(frame).__name__)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"The {name!r} table passed to {func} lacks the column(s) {missing}; "
            f"it has {list(map(str, frame.columns))}."
        )
    return frame


def _check_ids_in_graph(func: str, name: str, graph: nx.DiGraph, ids: Iterable[Hashable]) -> None:
    unknown = sorted({str(i) for i in ids if i not in graph})
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        raise ParameterError(
            f"The {name!r} parameter of {func} names provider(s) not in the graph: "
            f"{shown}{more}. Ids are strings and must match the graph's node ids exactly."
        )


# --------------------------------------------------------------------------- small helpers


def _text(value: object) -> str | None:
    """Return a stripped non-empty string, or None for missing values."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def _number(value: object) -> float | None:
    """Return `value` as a finite float, or None when missing or not a number."""
    if value is None or value is pd.NA or isinstance(value, bool | str):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _shorten(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _scale(values: Mapping[Any, float | None], bounds: tuple[float, float]) -> dict[Any, float]:
    """Scale non-negative values to `bounds` by square root (missing -> the lower bound)."""
    low, high = bounds
    finite = [v for v in values.values() if v is not None and v > 0]
    top = max(finite, default=0.0)
    out: dict[Any, float] = {}
    for key, value in values.items():
        if value is None or value <= 0 or top <= 0:
            out[key] = low
        else:
            out[key] = round(low + (high - low) * math.sqrt(value / top), 1)
    return out


def _floor_small(value: float | None, threshold: int) -> float | None:
    """Draw a suppressed count as if it were `threshold`, so its size reveals nothing."""
    if value is not None and 0 < value < threshold:
        return float(threshold)
    return value


def _count(value: float | None, threshold: int) -> str:
    """A count for display, small cells suppressed (:func:`privacy.format_count`)."""
    # format_count is annotated with numbers.Real, which mypy does not match to float.
    return format_count(cast(Any, value), threshold=threshold)


def _fmt_score(value: float) -> str:
    return f"{value:.3g}"


def _community_label(value: object) -> str | None:
    number = _number(value)
    if number is not None and number.is_integer():
        return f"Community {int(number)}"
    return _text(value)


# --------------------------------------------------------------------------- measures


def _measure_columns(func: str, measures: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """The user's measures table as {column: {provider id: value}}."""
    if measures is None:
        return {}
    frame = _check_frame(func, "measures", measures, ["id"])
    ids = [str(i) for i in frame["id"]]
    return {
        str(col): dict(zip(ids, frame[col].tolist(), strict=True))
        for col in frame.columns
        if col != "id"
    }


def _compute_measures(graph: nx.DiGraph, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Compute the named measures on `graph` ({measure: {provider id: value}})."""
    need = set(names)
    out: dict[str, dict[str, Any]] = {}
    if need & _COUNT_MEASURES:
        ins = dict.fromkeys(graph, 0.0)
        outs = dict.fromkeys(graph, 0.0)
        for u, v, referrals in graph.edges(data="referrals"):
            weight = _number(referrals) or 0.0
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


def _merge_measures(
    func: str, graph: nx.DiGraph, measures: pd.DataFrame | None, needed: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """User measures first; what they lack is computed on `graph`."""
    table = _measure_columns(func, measures)
    missing = [name for name in needed if name not in table]
    table.update(_compute_measures(graph, missing))
    return table


# --------------------------------------------------------------------------- layout


def _layout(
    graph: nx.DiGraph, nodes: Sequence[Hashable], seed: int, spacing: float = _LAYOUT_SPACING
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


# --------------------------------------------------------------------------- colours


def _color_categories(
    func: str,
    graph: nx.DiGraph,
    color_by: str | None,
    table: Mapping[str, Mapping[str, Any]],
    extras: _Extras,
) -> tuple[dict[Hashable, str], str | None, list[tuple[str, str]]]:
    """Map nodes to colours; return (colours, legend title, legend items)."""
    if extras.categories is not None:
        raw: dict[Hashable, str | None] = {n: extras.categories.get(n) for n in graph}
    elif color_by is None:
        return {}, None, []
    elif color_by == "in_network":
        raw = {}
        for node, flag in graph.nodes(data="in_network"):
            if flag is None or flag is pd.NA:
                raw[node] = None
            else:
                raw[node] = "In network" if bool(flag) else "Out of network"
    else:
        column = table.get(color_by, {})
        raw = {}
        for node, attrs in graph.nodes(data=True):
            value = column.get(str(node), attrs.get(color_by))
            raw[node] = _community_label(value) if color_by == "community" else _text(value)
            if color_by == "segment" and raw[node]:
                raw[node] = str(raw[node]).capitalize()
        if color_by in ("community", "segment") and len(graph) and not any(raw.values()):
            raise ParameterError(
                f"render was asked for color_by={color_by!r} but no node has a {color_by!r}: "
                f"pass `measures` with a {color_by!r} column (or set the node attribute)."
            )
    kind = extras.category_kind if extras.categories is not None else color_by
    title = extras.category_title or (color_by or "").replace("_", " ").capitalize()
    fixed = _FIXED_COLORS.get(kind or "")
    unknown = "Not segmented" if kind == "segment" else "Unknown"
    labels = {node: (value or unknown) for node, value in raw.items()}
    if fixed is not None:
        colors = {node: fixed.get(label, _OTHER_COLOR) for node, label in labels.items()}
        present = set(labels.values())
        legend = [(c, label) for label, c in fixed.items() if label in present]
        legend += [(_OTHER_COLOR, lab) for lab in sorted(present - set(fixed))]
        return colors, title, legend
    counts = Counter(label for label in labels.values() if label != unknown)
    first = [label for label in extras.category_order if label in counts]
    ranked = first + sorted(set(counts) - set(first), key=lambda label: (-counts[label], label))
    palette = dict(zip(ranked, _PALETTE, strict=False))
    colors = {
        node: _UNKNOWN_COLOR if label == unknown else palette.get(label, _OTHER_COLOR)
        for node, label in labels.items()
    }
    legend = [(palette[label], label) for label in ranked[: len(_PALETTE)]]
    if len(ranked) > len(_PALETTE):
        legend.append((_OTHER_COLOR, f"Other ({len(ranked) - len(_PALETTE):,} more)"))
    if unknown in labels.values():
        legend.append((_UNKNOWN_COLOR, unknown))
    return colors, title, legend


# --------------------------------------------------------------------------- render


def render(
    G: nx.DiGraph,
    *,
    measures: pd.DataFrame | None = None,
    size_by: SizeBy | None = "in_strength",
    color_by: ColorBy | None = "specialty",
    edge_width_by: EdgeWidthBy = "referrals",
    title: str = "Referral network",
    period: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    max_nodes: int = 2000,
    physics: Physics = "auto",
    seed: int = 0,
    height: str | int = "800px",
) -> Network:
    """Turn a referral graph into a pyvis ``Network`` ready for :func:`to_html`.

    Node and edge dicts are built directly (pyvis' ``from_nx`` / ``add_edge``
    are quadratic), with tooltips, sizes, colours and widths that never show
    a small count.

    Parameters
    ----------
    G : networkx.DiGraph
        Nodes are provider ids with optional ``name``, ``specialty``,
        ``organization``, ``city``, ``in_network``; edges carry ``referrals``
        and optionally ``patients`` and ``strength`` (0-100). Other attributes
        are never put on the page.
    measures : pandas.DataFrame, optional
        Provider measures (``id`` plus e.g. ``pagerank``, ``hub``,
        ``authority``, ``in_strength``, ``out_strength``, ``community``).
        Measures it lacks are computed on `G` when needed.
    size_by : str or None, default "in_strength"
        Node size (square-root scaled, 8-40 px): ``"in_strength"``,
        ``"out_strength"``, ``"referrals"`` (in + out), ``"pagerank"``,
        ``"hub"``, ``"authority"``, or None for equal sizes.
    color_by : str or None, default "specialty"
        Node colour: ``"specialty"``, ``"organization"``, ``"community"``,
        ``"segment"``, ``"in_network"``, ``"city"`` or None. The 12 largest
        categories get their own colour, the rest are "Other"; a legend is
        drawn on the page.
    edge_width_by : {"referrals", "strength"}, default "referrals"
        Edge width (1-8 px, square-root scaled for referrals).
    title : str, default "Referral network"
        Shown as the page heading and ``<title>``.
    period : str, optional
        The data period shown under the title, e.g. ``"Jan 2024 – Jun 2026"``.
    threshold : int, default 11
        Small-cell threshold: counts 1 .. threshold-1 show as ``"<11"`` and
        are drawn as if they were `threshold`.
    max_nodes : int, default 2000
        Refuse larger graphs (they make unreadable, slow pages).
    physics : bool or "auto", default "auto"
        ``"auto"``: vis-network physics up to 300 nodes and 1,000 ties,
        precomputed igraph positions with physics off above. ``False``
        always precomputes, ``True`` always uses physics.
    seed : int, default 0
        Seed of the layout (igraph and vis-network).
    height : str or int, default "800px"
        Height of the drawing area.

    Returns
    -------
    pyvis.network.Network
        ``net.nodes`` / ``net.edges`` are lists of vis-network dicts and
        ``net.options`` a dict of vis-network options; the page title, period,
        legend and notes are in ``net.referral_graph_page``. Write it with
        :func:`to_html` (not pyvis' ``show``/``write_html``, which load CDNs).

    Raises
    ------
    ParameterError
        A parameter is invalid, or `G` has more than `max_nodes` nodes.
    SchemaError
        `measures` has no ``id`` column.

    Notes
    -----
    The layout swaps a seeded generator into igraph's global random number
    generator and restores Python's ``random`` module (igraph's default)
    afterwards.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_node("1", name="Dr A", specialty="Cardiology")
    >>> G.add_edge("2", "1", referrals=25)
    >>> G.add_edge("3", "1", referrals=2)
    >>> net = render(G, period="Jan 2024 – Jun 2024")
    >>> len(net.nodes), len(net.edges)
    (3, 2)
    >>> print(net.nodes[0]["title"])
    Dr A
    ID: 1
    Specialty: Cardiology
    Referrals received: 27
    Referrals sent: 0
    """
    func = "render"
    _check_graph(func, G)
    needed = {"in_strength", "out_strength"} | ({size_by} if isinstance(size_by, str) else set())
    return _render(
        G,
        func=func,
        table=_merge_measures(func, G, measures, needed),
        size_by=size_by,
        color_by=color_by,
        edge_width_by=edge_width_by,
        title=title,
        period=period,
        threshold=threshold,
        max_nodes=max_nodes,
        physics=physics,
        seed=seed,
        height=height,
    )


def _render(
    G: nx.DiGraph,
    *,
    func: str,
    table: Mapping[str, Mapping[str, Any]],
    size_by: str | None = "in_strength",
    color_by: str | None = "specialty",
    edge_width_by: str = "referrals",
    title: str = "Referral network",
    period: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    max_nodes: int = 2000,
    physics: Physics = "auto",
    seed: int = 0,
    height: str | int = "800px",
    extras: _Extras | None = None,
) -> Network:
    _check_graph(func, G)
    check_choice(size_by, "size_by", func, (*_SIZE_BY, None))
    check_choice(color_by, "color_by", func, (*_COLOR_BY, None))
    check_choice(edge_width_by, "edge_width_by", func, _EDGE_WIDTH_BY)
    if not isinstance(title, str):
        raise parameter_error("title", func, "a str", title)
    if period is not None and not isinstance(period, str):
        raise parameter_error("period", func, "a str or None", period)
    threshold = check_int(threshold, "threshold", func, low=1, allow_numpy=False)
    max_nodes = check_int(max_nodes, "max_nodes", func, low=1, allow_numpy=False)
    seed = check_int(seed, "seed", func, low=0, allow_numpy=False)
    if physics != "auto" and not isinstance(physics, bool):
        raise parameter_error("physics", func, "True, False or 'auto'", physics)
    css_height = _check_height(func, height)
    extras = extras or _Extras()

    n = G.number_of_nodes()
    if n > max_nodes:
        raise ParameterError(
            f"{func} cannot draw {n:,} providers: more than max_nodes={max_nodes:,} make an "
            "unreadable page that is slow to open. Narrow the view first: "
            "network_view(G, top=300) keeps the 300 most central providers, "
            "network_view(G, collapse='organization') draws one node per organisation, "
            "ego_view(G, provider) shows one provider's neighbourhood and "
            "community_view(G, labels, community) one community. "
            f"Or pass max_nodes={n} to draw them all anyway."
        )

    nodes = list(G.nodes)
    ids = {node: str(node) for node in nodes}
    if len(set(ids.values())) != n:
        raise ParameterError(
            f"The 'G' parameter of {func} has node ids that collide once turned into strings "
            "(such as 1 and '1'); use string ids."
        )
    # Measures the caller did not supply are computed on the graph drawn.
    needed = {"in_strength", "out_strength"} | ({size_by} if size_by else set())
    table = {**_compute_measures(G, needed - table.keys()), **table}
    colors, legend_title, legend = _color_categories(func, G, color_by, table, extras)

    # Node sizes: suppressed counts are drawn as `threshold`.
    if size_by is None:
        sizes: dict[Any, float] = {}
    else:
        column = table.get(size_by, {})
        values = {node: _number(column.get(ids[node])) for node in nodes}
        if size_by in _COUNT_MEASURES:
            values = {node: _floor_small(v, threshold) for node, v in values.items()}
        sizes = _scale(values, _NODE_SIZE)

    if physics == "auto":
        use_physics = n <= PHYSICS_NODE_LIMIT and G.number_of_edges() <= PHYSICS_EDGE_LIMIT
    else:
        use_physics = physics
    positions = {}
    if not use_physics:
        mean_size = sum(sizes.get(node, 14.0) for node in nodes) / max(n, 1)
        spacing = max(_LAYOUT_SPACING, 3.0 * mean_size)
        positions = dict(zip(nodes, _layout(G, nodes, seed, spacing), strict=True))

    labels = {node: _text(G.nodes[node].get("name")) for node in nodes}
    score_rows = [
        (key, label)
        for key, label in (("pagerank", "PageRank"), ("hub", "Hub"), ("authority", "Authority"))
        if key in table
    ]
    vis_nodes: list[dict[str, Any]] = []
    for node in nodes:
        attrs = G.nodes[node]
        sid = ids[node]
        name = labels[node]
        lines = [name or sid]
        if name and extras.show_ids:
            lines.append(f"ID: {sid}")
        for key in ("specialty", "organization", "city"):
            value = _text(attrs.get(key))
            if value:
                lines.append(f"{key.capitalize()}: {value}")
        flag = attrs.get("in_network")
        if flag is not None and flag is not pd.NA:
            lines.append(f"In network: {'yes' if bool(flag) else 'no'}")
        for key, label in (
            ("in_strength", "Referrals received"),
            ("out_strength", "Referrals sent"),
        ):
            lines.append(f"{label}: {_count(_number(table[key].get(sid)), threshold)}")
        for key, label in score_rows:
            score = _number(table[key].get(sid))
            if score is not None:
                lines.append(f"{label}: {_fmt_score(score)}")
        community = _community_label(table.get("community", {}).get(sid, attrs.get("community")))
        if community and color_by != "community":
            lines.append(community)
        lines.extend(extras.node_lines.get(node, []))
        item: dict[str, Any] = {
            "id": sid,
            "label": _shorten(name or sid),
            "title": "\n".join(lines),
            "color": colors.get(node, _DEFAULT_NODE_COLOR),
            "size": sizes.get(node, 14.0),
        }
        if node in positions:
            item["x"], item["y"] = positions[node]
        for key, style in extras.node_style.get(node, {}).items():
            item[key] = {"background": item["color"], **style} if key == "color" else style
        vis_nodes.append(item)

    # Edges: the width never encodes an exact small count.
    raw_widths: dict[Any, float | None] = {}
    for u, v, attrs in G.edges(data=True):
        weight = _number(attrs.get(edge_width_by))
        if edge_width_by == "referrals":
            weight = _floor_small(weight, threshold)
        raw_widths[(u, v)] = weight
    if edge_width_by == "strength":
        low, high = _EDGE_WIDTH
        widths = {
            key: round(low + (high - low) * min(max(value or 0.0, 0.0), 100.0) / 100.0, 1)
            for key, value in raw_widths.items()
        }
    else:
        widths = _scale(raw_widths, _EDGE_WIDTH)
    highlighted = {
        key: _floor_small(_number(value), threshold) for key, value in extras.edge_weight.items()
    }
    widths.update(_scale(highlighted, _RISK_EDGE_WIDTH))
    vis_edges: list[dict[str, Any]] = []
    for u, v, attrs in G.edges(data=True):
        lines = [f"{labels[u] or ids[u]} → {labels[v] or ids[v]}"]
        lines.append(f"Referrals: {_count(_number(attrs.get('referrals')), threshold)}")
        if attrs.get("patients") is not None:
            patients = _number(attrs.get("patients"))
            lines.append(f"Patients: {_count(patients, threshold)}")
        strength = _number(attrs.get("strength"))
        if strength is not None:
            lines.append(f"Strength: {strength:.0f} / 100")
        lines.extend(extras.edge_lines.get((u, v), []))
        edge: dict[str, Any] = {
            "from": ids[u],
            "to": ids[v],
            "width": widths[(u, v)],
            "title": "\n".join(lines),
        }
        edge.update(extras.edge_style.get((u, v), {}))
        vis_edges.append(edge)

    curved = len(vis_edges) <= _CURVED_EDGE_LIMIT
    options: dict[str, Any] = {
        "autoResize": True,
        "nodes": {
            "shape": "dot",
            "borderWidth": 1,
            "font": {"size": 14, "face": "Helvetica, Arial, sans-serif", "color": "#1f2933"},
            "scaling": {"label": {"drawThreshold": 7}},
        },
        "edges": {
            "arrows": {"to": {"enabled": True, "scaleFactor": 0.5}},
            "color": {"color": _EDGE_COLOR, "highlight": "#1f2933", "hover": "#52606d"},
            "smooth": (
                {"enabled": True, "type": "curvedCW", "roundness": 0.12}
                if curved
                else {"enabled": False}
            ),
            "selectionWidth": 1.5,
        },
        "interaction": {
            "hover": True,
            "tooltipDelay": 100,
            "hideEdgesOnDrag": not curved,
            "hideEdgesOnZoom": not curved,
            "multiselect": True,
        },
        "layout": {"randomSeed": seed, "improvedLayout": bool(use_physics and n <= 100)},
        "physics": (
            {
                "enabled": True,
                "solver": "forceAtlas2Based",
                "forceAtlas2Based": {
                    "gravitationalConstant": -70,
                    "springLength": 110,
                    "springConstant": 0.05,
                    "avoidOverlap": 0.4,
                },
                "stabilization": {"enabled": True, "iterations": 300, "fit": True},
                "minVelocity": 1.0,
            }
            if use_physics
            else {"enabled": False}
        ),
    }

    notes = []
    if size_by:
        kind = (
            " (counts below the threshold drawn as the threshold)"
            if size_by in _COUNT_MEASURES
            else ""
        )
        notes.append(f"Node size: {_MEASURE_LABELS[size_by]}{kind}.")
    width_label = "referrals" if edge_width_by == "referrals" else "tie strength (0–100)"
    notes.append(f"Edge width: {width_label}; arrows point from the referring provider.")
    notes.extend(extras.notes)
    if threshold > 1:
        notes.append(
            f"Counts from 1 to {threshold - 1:,} are shown as “<{threshold:,}” "
            "(small-cell suppression)."
        )

    from pyvis.network import Network

    net = Network(
        height=css_height, width="100%", directed=True, heading=title, cdn_resources="in_line"
    )
    net.nodes = vis_nodes
    net.edges = vis_edges
    net.node_ids = [item["id"] for item in vis_nodes]
    net.node_map = {item["id"]: item for item in vis_nodes}
    net.options = options
    net.referral_graph_page = {
        "title": title,
        "period": period,
        "legend_title": legend_title,
        "legend": legend,
        "legend_edges": list(extras.legend_edges),
        "notes": notes,
    }
    logger.info("Rendered %s with %d nodes and %d edges", func, len(vis_nodes), len(vis_edges))
    return net


# --------------------------------------------------------------------------- HTML


@functools.lru_cache(maxsize=1)
def _vis_assets() -> tuple[str, str]:
    """vis-network's JS and CSS from pyvis' bundled copy, made safe to inline."""
    import pyvis

    lib = Path(pyvis.__file__).parent / "lib" / "vis-9.1.2"
    try:
        js = (lib / "vis-network.min.js").read_text(encoding="utf-8")
        css = (lib / "vis-network.css").read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"vis-network 9.1.2 is not where pyvis 0.3.2 bundles it ({lib}): {exc}. "
            "Reinstall pyvis (pip install 'pyvis==0.3.2')."
        ) from exc
    # No source-map fetches, and nothing that could close the inline elements early.
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.MULTILINE)
    css = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", css)
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    if re.search(r"</style", css, flags=re.IGNORECASE) or re.search(
        r"url\((?!\s*[\"']?data:)", css
    ):
        raise InputError(f"{lib / 'vis-network.css'} cannot be inlined safely (outside url())")
    return js, css


def _json_for_html(value: object) -> str:
    """JSON that is safe inside an HTML ``<script>`` element."""

    def default(obj: object) -> object:
        item = getattr(obj, "item", None)  # numpy scalars
        if callable(item):
            return item()
        raise TypeError(f"Cannot put a {type(obj).__name__} on the page")

    text = json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=default
    )
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_PAGE_CSS = """
html, body { margin: 0; padding: 0; background: #fff; color: #1f2933;
  font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
.rg-header { padding: 12px 16px 6px; }
.rg-header h1 { font-size: 20px; margin: 0 0 2px; font-weight: 600; }
.rg-period { margin: 0; color: #52606d; font-size: 14px; }
.rg-main { position: relative; margin: 0 16px; border: 1px solid #d9e2ec; border-radius: 4px; }
#rg-network { width: 100%; }
.rg-legend { position: absolute; top: 8px; right: 8px; z-index: 5; max-width: 260px;
  max-height: calc(100% - 16px); overflow: auto; background: rgba(255, 255, 255, 0.92);
  border: 1px solid #d9e2ec; border-radius: 4px; padding: 8px 10px; font-size: 13px; }
.rg-legend h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
.rg-legend ul { list-style: none; margin: 0 0 4px; padding: 0; }
.rg-legend li { display: flex; align-items: center; margin: 3px 0; }
.rg-swatch { flex: none; width: 12px; height: 12px; margin-right: 7px; border-radius: 50%;
  border: 1px solid rgba(0, 0, 0, 0.25); }
.rg-line { flex: none; width: 24px; height: 0; margin-right: 7px; border-top: 3px solid #9aa5b1; }
.rg-line.rg-risk { border-top-style: dashed; border-color: #d62728; }
.rg-notes { margin: 6px 16px 12px; padding: 0; list-style: none; font-size: 12px; color: #52606d; }
div.vis-tooltip { font-family: inherit; font-size: 13px; max-width: 360px; white-space: normal; }
"""

_PAGE_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("rg-data").textContent);
  var container = document.getElementById("rg-network");
  window.__drawn = false;
  var network = new vis.Network(
    container,
    { nodes: new vis.DataSet(data.nodes), edges: new vis.DataSet(data.edges) },
    data.options
  );
  window.network = network;
  window.__rg_ready_ms = performance.now() - window.__rg_t0;
  network.on("afterDrawing", function () {
    if (!window.__drawn) {
      window.__drawn = true;
      window.__rg_first_draw_ms = performance.now() - window.__rg_t0;
    }
  });
})();
"""


def _legend_html(page: Mapping[str, Any]) -> str:
    items = page.get("legend") or []
    edges = page.get("legend_edges") or []
    if not items and not edges:
        return ""
    parts = ['<aside class="rg-legend" id="rg-legend">']
    if items:
        title = html.escape(str(page.get("legend_title") or "Legend"))
        parts.append(f"<h2>{title}</h2><ul>")
        for color, label in items:
            parts.append(
                f'<li><span class="rg-swatch" style="background:{html.escape(str(color))}">'
                f"</span>{html.escape(str(label))}</li>"
            )
        parts.append("</ul>")
    if edges:
        parts.append("<h2>Ties</h2><ul>")
        for kind, label in edges:
            css = "rg-line rg-risk" if kind == "risk" else "rg-line"
            parts.append(f'<li><span class="{css}"></span>{html.escape(str(label))}</li>')
        parts.append("</ul>")
    parts.append("</aside>")
    return "".join(parts)


def _options_dict(net: Network) -> dict[str, Any]:
    options = net.options
    if isinstance(options, dict):
        return options
    return dict(json.loads(options.to_json()))  # a pyvis Options object


def to_html(net: Network, path: PathLike | None = None) -> str:
    """Return `net` as one self-contained HTML page; write it atomically to `path`.

    vis-network's JS and CSS are inlined from pyvis' bundled copy; the data and
    options are embedded as JSON; a Content-Security-Policy (``default-src
    'none'``) stops the page from loading anything. The page exposes the
    drawing as ``window.network`` and sets ``window.__drawn`` after the first
    frame.

    Parameters
    ----------
    net : pyvis.network.Network
        Usually from :func:`render` or a view; any pyvis ``Network`` whose
        ``nodes`` / ``edges`` are vis-network dicts works.
    path : str or os.PathLike, optional
        Where to write the page. It is written to a temporary file in the same
        directory and moved into place, so readers never see half a page and
        nothing else is left beside it.

    Returns
    -------
    str
        The page.

    Examples
    --------
    >>> import networkx as nx
    >>> net = render(nx.DiGraph([("a", "b")]), title="Tiny")
    >>> page = to_html(net)
    >>> page.startswith("<!DOCTYPE html>"), "<script src" in page, "<link" in page
    (True, False, False)
    """
    js, css = _vis_assets()
    page: Mapping[str, Any] = getattr(net, "referral_graph_page", None) or {
        "title": getattr(net, "heading", "") or "Network"
    }
    title = html.escape(str(page.get("title") or "Network"))
    period = page.get("period")
    height = _check_height("to_html", getattr(net, "height", "800px"))
    data = _json_for_html({"nodes": net.nodes, "edges": net.edges, "options": _options_dict(net)})
    notes = "".join(f"<li>{html.escape(str(note))}</li>" for note in page.get("notes") or [])
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{title}</title>\n",
        "<script>window.__rg_t0 = performance.now();</script>\n",
        f"<style>\n{css}\n</style>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n",
        f'<header class="rg-header"><h1>{title}</h1>',
        f'<p class="rg-period">Data period: {html.escape(period)}</p>' if period else "",
        "</header>\n",
        f'<main class="rg-main"><div id="rg-network" style="height:{height}"></div>',
        _legend_html(page),
        "</main>\n",
        f'<ul class="rg-notes">{notes}</ul>\n' if notes else "",
        f'<script type="application/json" id="rg-data">{data}</script>\n',
        f"<script>\n{js}\n</script>\n<script>{_PAGE_JS}</script>\n</body>\n</html>\n",
    ]
    text = "".join(parts)
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        logger.info("Wrote %s (%d characters)", path, len(text))
    return text


def show_inline(net: Network, *, height: str | int | None = None) -> HTML:
    """Display `net` in a Jupyter cell as an ``<iframe srcdoc>`` of its self-contained page.

    Works in JupyterLab and the classic notebook, offline, and writes no file
    (pyvis' ``Network.show`` writes to the working directory and fails in
    JupyterLab). The iframe is sandboxed (scripts only).

    Parameters
    ----------
    net : pyvis.network.Network
        From :func:`render` or a view.
    height : str or int, optional
        Iframe height; by default the drawing height plus room for the title
        and notes.

    Returns
    -------
    IPython.display.HTML
        Shown when it is the last expression of a cell.

    Examples
    --------
    >>> import networkx as nx
    >>> shown = show_inline(render(nx.DiGraph([("a", "b")])))
    >>> "<iframe srcdoc=" in shown.data
    True
    """
    from IPython.core.display import HTML

    if height is None:
        drawing = _check_height("show_inline", getattr(net, "height", "800px"))
        match = re.fullmatch(r"(\d+(?:\.\d+)?)px", drawing)
        css_height = f"{float(match.group(1)) + 170:.0f}px" if match else "960px"
    else:
        css_height = _check_height("show_inline", height)
    page = to_html(net)
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'style="width:100%;height:{css_height};border:0" title="Referral network view">'
        "</iframe>"
    )
    # Wrapped in a div: IPython warns about bare iframes.
    return HTML(f'<div class="referral-graph-view">{frame}</div>')  # type: ignore[no-untyped-call]


# --------------------------------------------------------------------------- views


def _view(
    drawn: nx.DiGraph,
    *,
    func: str,
    table: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[str, Any],
    options: Mapping[str, Any],
    path: PathLike | None,
    extras: _Extras | None = None,
) -> Network:
    """Render a view (the caller's options over the view's defaults) and write it if asked."""
    net = _render(drawn, func=func, table=table, extras=extras, **{**defaults, **options})
    if path is not None:
        to_html(net, path)
    return net


def _full_table(
    func: str, graph: nx.DiGraph, measures: pd.DataFrame | None, *names: object
) -> dict[str, dict[str, Any]]:
    """Measures on the whole graph (so a view's figures do not depend on what it leaves out)."""
    needed = {"in_strength", "out_strength"} | {n for n in names if isinstance(n, str)}
    return _merge_measures(func, graph, measures, needed)


def network_view(
    G: nx.DiGraph,
    *,
    top: int = 300,
    by: SizeBy = "pagerank",
    measures: pd.DataFrame | None = None,
    collapse: Literal["organization", "community"] | None = None,
    path: PathLike | None = None,
    **options: Unpack[RenderOptions],
) -> Network:
    """The whole network reduced to a readable size.

    Either the `top` providers by a measure with the ties among them, or
    (``collapse=``) one node per organisation or community with the referrals
    between groups summed, keeping the `top` groups by the measure.

    Parameters
    ----------
    G : networkx.DiGraph
        The referral graph (see :func:`render`).
    top : int, default 300
        How many providers (or groups) to keep.
    by : str, default "pagerank"
        Ranking measure, also the default node size: ``"pagerank"``,
        ``"in_strength"``, ``"out_strength"``, ``"referrals"``, ``"hub"`` or
        ``"authority"``; taken from `measures` or computed on the whole `G`.
        For groups, scores are summed over their providers and referral
        counts are those between groups.
    measures : pandas.DataFrame, optional
        Provider measures (``id`` plus measure columns; ``community`` for
        ``collapse="community"`` unless nodes carry a ``community`` attribute).
    collapse : {"organization", "community"}, optional
        Draw groups instead of providers; each group gets its own colour
        (``color_by`` cannot be combined with it).
    path : str or os.PathLike, optional
        Also write the self-contained page there.
    **options
        Passed to :func:`render` (``title``, ``period``, ``color_by``, ...).

    Returns
    -------
    pyvis.network.Network

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")])
    >>> len(network_view(G, top=2).nodes)
    2
    >>> nx.set_node_attributes(G, {"a": "X", "b": "X", "c": "Y", "d": "Y"}, "organization")
    >>> sorted(n["label"] for n in network_view(G, collapse="organization").nodes)
    ['X', 'Y']
    """
    func = "network_view"
    _check_graph(func, G)
    top = check_int(top, "top", func, low=1, allow_numpy=False)
    check_choice(by, "by", func, _SIZE_BY)
    check_choice(collapse, "collapse", func, ("organization", "community", None))
    size_by = options.get("size_by", by)
    table = _full_table(func, G, measures, by, size_by)

    if collapse is None:
        score = table[by]
        keep = sorted(G, key=lambda n: (-(_number(score.get(str(n))) or 0.0), str(n)))[:top]
        defaults = {
            "title": f"Referral network: top {len(keep):,} providers by {_MEASURE_LABELS[by]}",
            "size_by": by,
        }
        return _view(
            induced_subgraph(G, keep),
            func=func,
            table=table,
            defaults=defaults,
            options=options,
            path=path,
        )

    if "color_by" in options:
        raise ParameterError(
            f"The 'color_by' parameter of {func} cannot be combined with collapse={collapse!r}: "
            "each group is drawn in its own colour."
        )
    group_of: dict[Hashable, str] = {}
    for node, attrs in G.nodes(data=True):
        if collapse == "organization":
            group_of[node] = _text(attrs.get("organization")) or "Unknown organization"
        else:
            label = table.get("community", {}).get(str(node), attrs.get("community"))
            group_of[node] = _community_label(label) or "No community"
    if collapse == "community" and set(group_of.values()) <= {"No community"}:
        raise ParameterError(
            f"{func}(collapse='community') needs community labels: pass `measures` with a "
            "'community' column (or set the 'community' node attribute)."
        )
    members = Counter(group_of.values())
    within: defaultdict[str, float] = defaultdict(float)
    between: defaultdict[tuple[str, str], float] = defaultdict(float)
    for u, v, referrals in G.edges(data="referrals"):
        weight = _number(referrals) or 0.0
        if group_of[u] == group_of[v]:
            within[group_of[u]] += weight
        else:
            between[(group_of[u], group_of[v])] += weight
    ext_in: defaultdict[str, float] = defaultdict(float)
    ext_out: defaultdict[str, float] = defaultdict(float)
    for (gu, gv), weight in between.items():
        ext_out[gu] += weight
        ext_in[gv] += weight
    group_table: dict[str, dict[str, Any]] = {
        "in_strength": {g: ext_in[g] for g in members},
        "out_strength": {g: ext_out[g] for g in members},
        "referrals": {g: ext_in[g] + ext_out[g] for g in members},
    }
    for name in {by, size_by} - _COUNT_MEASURES - {None}:
        column = table.get(str(name), {})
        sums: defaultdict[str, float] = defaultdict(float)
        for node in G:
            sums[group_of[node]] += _number(column.get(str(node))) or 0.0
        group_table[str(name)] = {g: sums[g] for g in members}
    keep_groups = sorted(members, key=lambda g: (-group_table[by][g], g))[:top]
    kept = set(keep_groups)
    groups = nx.DiGraph()
    groups.add_nodes_from((g, {"name": g}) for g in keep_groups)
    groups.add_edges_from(
        (gu, gv, {"referrals": weight})
        for (gu, gv), weight in between.items()
        if gu in kept and gv in kept
    )
    threshold = options.get("threshold", DEFAULT_THRESHOLD)
    extras = _Extras(
        categories={g: g for g in keep_groups},
        category_title=collapse.capitalize(),
        category_order=keep_groups,
        node_lines={
            g: [
                f"Providers: {_count(members[g], threshold)}",
                f"Referrals within: {_count(within[g], threshold)}",
            ]
            for g in keep_groups
        },
        notes=["Referrals received and sent count ties between groups; scores are summed."],
        show_ids=False,
    )
    noun = "organisations" if collapse == "organization" else "communities"
    defaults = {
        "title": f"Referral network by {collapse}: {len(keep_groups):,} {noun}",
        "size_by": by,
    }
    return _view(
        groups,
        func=func,
        table=group_table,
        defaults=defaults,
        options=options,
        path=path,
        extras=extras,
    )


def focus_view(
    G: nx.DiGraph,
    focus_ids: str | Iterable[str],
    *,
    segments: pd.DataFrame | None = None,
    top: int | None = None,
    measures: pd.DataFrame | None = None,
    path: PathLike | None = None,
    **options: Unpack[RenderOptions],
) -> Network:
    """The focus organisation's referral base: its providers and who refers to them.

    Focus providers are drawn in blue and their referrers coloured by segment
    (loyalist / splitter / dissenter, from `segments`) unless ``color_by`` is
    given; only the referrals into the focus providers are drawn.

    Parameters
    ----------
    G : networkx.DiGraph
        The referral graph.
    focus_ids : str or iterable of str
        The focus organisation's provider ids.
    segments : pandas.DataFrame, optional
        Columns ``source`` (referrer id) and ``segment`` in
        {"loyalist", "splitter", "dissenter"}, one segment per referrer.
    top : int, optional
        Keep only the `top` referrers by referrals sent to the focus providers.
    measures : pandas.DataFrame, optional
        Provider measures for sizes and tooltips.
    path : str or os.PathLike, optional
        Also write the self-contained page there.
    **options
        Passed to :func:`render` (default ``size_by="referrals"``).

    Returns
    -------
    pyvis.network.Network

    Raises
    ------
    ParameterError
        A focus id is not in `G`, or a segment is unknown or given twice.
    SchemaError
        `segments` lacks ``source`` or ``segment``.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> G = nx.DiGraph([("r1", "f"), ("r2", "f"), ("r1", "r2")])
    >>> seg = pd.DataFrame({"source": ["r1"], "segment": ["loyalist"]})
    >>> net = focus_view(G, "f", segments=seg)
    >>> len(net.nodes), len(net.edges)
    (3, 2)
    >>> net.referral_graph_page["legend"]
    [('#4e79a7', 'Focus provider'), ('#59a14f', 'Loyalist'), ('#d5dae0', 'Not segmented')]
    """
    func = "focus_view"
    _check_graph(func, G)
    if isinstance(focus_ids, str):
        focus = [focus_ids]
    elif isinstance(focus_ids, Iterable):
        focus = list(dict.fromkeys(focus_ids))
    else:
        focus = []
    if not focus:
        raise parameter_error(
            "focus_ids", func, "a provider id or a non-empty list of ids", focus_ids
        )
    _check_ids_in_graph(func, "focus_ids", G, focus)
    if top is not None:
        top = check_int(top, "top", func, low=1, allow_numpy=False)
    segment_of = _segments(func, segments)

    focus_set = set(focus)
    sent: defaultdict[Hashable, float] = defaultdict(float)
    for target in focus:
        for source, referrals in G.pred[target].items():
            if source not in focus_set:
                sent[source] += _number(referrals.get("referrals")) or 0.0
    referrers = sorted(sent, key=lambda n: (-sent[n], str(n)))[:top]
    kept = focus_set | set(referrers)
    base = nx.DiGraph()
    base.add_nodes_from((n, G.nodes[n]) for n in [*focus, *referrers])
    base.add_edges_from((u, v, attrs) for v in focus for u, attrs in G.pred[v].items() if u in kept)

    categories: dict[Hashable, str] = dict.fromkeys(focus, "Focus provider")
    categories.update({n: segment_of.get(str(n), "not segmented").capitalize() for n in referrers})
    extras = _Extras(
        categories=None if "color_by" in options else categories,
        category_kind="segment",
        category_title="Segment",
        node_lines={
            n: [f"Segment: {segment_of[str(n)]}"] for n in referrers if str(n) in segment_of
        },
    )
    defaults = {
        "title": f"Referral base of {len(focus):,} focus provider(s): {len(referrers):,} referrers",
        "size_by": "referrals",
    }
    table = _full_table(func, G, measures, options.get("size_by", "referrals"))
    return _view(
        base, func=func, table=table, defaults=defaults, options=options, path=path, extras=extras
    )


def _segments(func: str, segments: pd.DataFrame | None) -> dict[str, str]:
    """Validate a segments table; return {referrer id: segment}."""
    if segments is None:
        return {}
    frame = _check_frame(func, "segments", segments, ["source", "segment"])
    pairs = {
        (str(source), str(segment).strip().lower())
        for source, segment in zip(frame["source"], frame["segment"], strict=True)
        if _text(source) is not None and _text(segment) is not None
    }
    bad = sorted({segment for _, segment in pairs} - set(_SEGMENTS))
    if bad:
        raise ParameterError(
            f"The 'segments' table of {func} has unknown segment(s) {bad}; "
            f"expected {list(_SEGMENTS)}."
        )
    seen = Counter(source for source, _ in pairs)
    clashing = sorted(source for source, count in seen.items() if count > 1)
    if clashing:
        raise ParameterError(
            f"The 'segments' table of {func} gives several segments to {clashing[:5]}; "
            "give each referrer one segment."
        )
    return dict(pairs)


def ego_view(
    G: nx.DiGraph,
    provider: str,
    *,
    hops: int = 1,
    direction: Literal["both", "in", "out"] = "both",
    measures: pd.DataFrame | None = None,
    path: PathLike | None = None,
    **options: Unpack[RenderOptions],
) -> Network:
    """One provider's neighbourhood: everyone within `hops` ties, and the ties among them.

    Parameters
    ----------
    G : networkx.DiGraph
        The referral graph.
    provider : str
        The centre provider's id (drawn with a thick dark outline).
    hops : int, default 1
        Radius, in the range [1, 5].
    direction : {"both", "in", "out"}, default "both"
        Follow ties both ways, only to referrers ("in") or only to receivers
        ("out").
    measures : pandas.DataFrame, optional
        Provider measures for sizes and tooltips.
    path : str or os.PathLike, optional
        Also write the self-contained page there.
    **options
        Passed to :func:`render`.

    Returns
    -------
    pyvis.network.Network

    Raises
    ------
    ParameterError
        `provider` is not in `G`, or `hops` / `direction` is invalid.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d")])
    >>> sorted(n["id"] for n in ego_view(G, "b").nodes)
    ['a', 'b', 'c']
    >>> sorted(n["id"] for n in ego_view(G, "b", direction="out", hops=2).nodes)
    ['b', 'c', 'd']
    """
    func = "ego_view"
    _check_graph(func, G)
    if not isinstance(provider, Hashable) or provider not in G:
        raise ParameterError(
            f"The 'provider' parameter of {func} must be a provider id in the graph. "
            f"Got {provider!r} instead (ids are strings and must match exactly)."
        )
    hops = check_int(hops, "hops", func, low=1, high=5, allow_numpy=False)
    check_choice(direction, "direction", func, ("both", "in", "out"))
    graph: nx.DiGraph | nx.Graph = G
    if direction == "in":
        graph = G.reverse(copy=False)
    elif direction == "both":
        graph = G.to_undirected(as_view=True)
    reached = nx.single_source_shortest_path_length(graph, provider, cutoff=hops)
    name = _text(G.nodes[provider].get("name")) or str(provider)
    extras = _Extras(
        node_style={provider: {"borderWidth": 5, "color": {"border": "#1f2933"}}},
        notes=[f"Thick dark outline: {name}, the centre of this view."],
    )
    plural = "s" if hops > 1 else ""
    defaults = {"title": f"Referral neighbourhood of {name} ({hops} hop{plural}, {direction})"}
    table = _full_table(func, G, measures, options.get("size_by", "in_strength"))
    return _view(
        induced_subgraph(G, reached),
        func=func,
        table=table,
        defaults=defaults,
        options=options,
        path=path,
        extras=extras,
    )


def community_view(
    G: nx.DiGraph,
    labels: pd.Series,
    community: int,
    *,
    measures: pd.DataFrame | None = None,
    path: PathLike | None = None,
    **options: Unpack[RenderOptions],
) -> Network:
    """The providers of one community and the ties among them.

    Parameters
    ----------
    G : networkx.DiGraph
        The referral graph.
    labels : pandas.Series
        Community label (int) per provider id (the index).
    community : int
        The community to draw.
    measures : pandas.DataFrame, optional
        Provider measures for sizes and tooltips.
    path : str or os.PathLike, optional
        Also write the self-contained page there.
    **options
        Passed to :func:`render` (default ``color_by="specialty"``).

    Returns
    -------
    pyvis.network.Network

    Raises
    ------
    ParameterError
        `community` is not one of the labels, or none of its providers is in `G`.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d")])
    >>> labels = pd.Series({"a": 0, "b": 0, "c": 1, "d": 1})
    >>> sorted(n["id"] for n in community_view(G, labels, 1).nodes)
    ['c', 'd']
    """
    func = "community_view"
    _check_graph(func, G)
    if not isinstance(labels, pd.Series):
        raise parameter_error(
            "labels", func, "a pandas Series of community per provider id", labels
        )
    number = None if isinstance(community, bool) else _number(community)
    if number is None or not number.is_integer():
        raise parameter_error("community", func, "an int community label", community)
    label_of = {str(i): _number(v) for i, v in labels.items()}
    available = sorted({int(v) for v in label_of.values() if v is not None})
    if number not in available:
        shown = ", ".join(map(str, available[:10])) + (", ..." if len(available) > 10 else "")
        raise ParameterError(
            f"The 'community' parameter of {func} must be one of the labels ({shown}). "
            f"Got {community!r} instead."
        )
    nodes = [n for n in G if label_of.get(str(n)) == number]
    if not nodes:
        raise ParameterError(
            f"Community {community} of {func} has no provider in the graph: are `labels` "
            "indexed by the graph's provider ids?"
        )
    table = _full_table(func, G, measures, options.get("size_by", "in_strength"))
    table["community"] = {i: v for i, v in label_of.items() if v is not None}
    defaults = {"title": f"Community {int(number)}: {len(nodes):,} providers"}
    return _view(
        induced_subgraph(G, nodes),
        func=func,
        table=table,
        defaults=defaults,
        options=options,
        path=path,
    )


def rank_at_risk(at_risk: pd.DataFrame) -> pd.DataFrame:
    """At-risk ties in the order :func:`at_risk_view` draws them.

    By ``expected_loss``, else ``risk``, else ``at_stake`` (largest first, missing
    last, ties kept in table order); the table's order when it has none of them.

    Examples
    --------
    >>> t = pd.DataFrame({"source": ["a", "b"], "target": ["c", "c"], "risk": [0.2, 0.9]})
    >>> rank_at_risk(t)["source"].tolist()
    ['b', 'a']
    """
    order = next((c for c in ("expected_loss", "risk", "at_stake") if c in at_risk.columns), None)
    ranked = at_risk.reset_index(drop=True)
    if order is not None:
        ranked = ranked.sort_values(order, ascending=False, kind="stable", na_position="last")
    return ranked


def at_risk_view(
    G: nx.DiGraph,
    at_risk: pd.DataFrame,
    *,
    top: int = 100,
    measures: pd.DataFrame | None = None,
    path: PathLike | None = None,
    **options: Unpack[RenderOptions],
) -> Network:
    """The ties most at risk, red and dashed, among the other ties of their providers.

    Parameters
    ----------
    G : networkx.DiGraph
        The referral graph.
    at_risk : pandas.DataFrame
        ``source``, ``target`` and optionally ``risk`` (0-1), ``at_stake``
        (referrals at stake: the width, drawn as the threshold when small),
        ``expected_loss``, ``segment`` and ``reasons`` (text or a list of
        texts, shown as given: keep small counts out of them upstream).
    top : int, default 100
        Keep the `top` ties by ``expected_loss`` (else ``risk``, else
        ``at_stake``, else table order).
    measures : pandas.DataFrame, optional
        Provider measures for sizes and tooltips.
    path : str or os.PathLike, optional
        Also write the self-contained page there.
    **options
        Passed to :func:`render`.

    Returns
    -------
    pyvis.network.Network

    Raises
    ------
    SchemaError
        `at_risk` lacks ``source`` or ``target``.
    ParameterError
        A tie names a provider not in `G`.
    InsufficientDataError
        `at_risk` has no rows.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> G = nx.DiGraph([("a", "b"), ("c", "b"), ("a", "c")])
    >>> ties = pd.DataFrame({"source": ["a"], "target": ["b"], "risk": [0.8], "at_stake": [40]})
    >>> net = at_risk_view(G, ties)
    >>> [(e["from"], e["to"]) for e in net.edges if e.get("dashes")]
    [('a', 'b')]
    """
    func = "at_risk_view"
    _check_graph(func, G)
    frame = _check_frame(func, "at_risk", at_risk, ["source", "target"])
    top = check_int(top, "top", func, low=1, allow_numpy=False)
    if frame.empty:
        raise InsufficientDataError(f"The 'at_risk' table passed to {func} has no rows.")
    ranked = rank_at_risk(frame)
    # each tie's first row in rank order, for the first `top` ties
    first = ~ranked[["source", "target"]].astype("str").duplicated().to_numpy()
    rows = ranked.loc[first].head(top).to_dict("records")
    ties = {(str(row["source"]), str(row["target"])): row for row in rows}
    _check_ids_in_graph(func, "at_risk", G, [end for tie in ties for end in tie])

    threshold = options.get("threshold", DEFAULT_THRESHOLD)
    drawn = induced_subgraph(G, {end for tie in ties for end in tie})
    edge_lines: dict[tuple[Hashable, Hashable], list[str]] = {}
    edge_weight: dict[tuple[Hashable, Hashable], float | None] = {}
    for key, row in ties.items():
        if not drawn.has_edge(*key):
            drawn.add_edge(*key)
        risk = _number(row.get("risk"))
        lines = [f"At risk: {risk:.0%} chance of lapsing" if risk is not None else "At risk"]
        segment = _text(row.get("segment"))
        if segment:
            lines.append(f"Segment: {segment}")
        if "at_stake" in row:
            edge_weight[key] = _number(row["at_stake"])
            stake = _count(edge_weight[key], threshold)
            lines.append(f"Referrals at stake: {stake}")
        if "expected_loss" in row:
            loss = _count(_number(row["expected_loss"]), threshold)
            lines.append(f"Expected loss: {loss} referrals")
        reasons: Any = row.get("reasons")
        if not isinstance(reasons, str) and hasattr(reasons, "tolist"):
            reasons = reasons.tolist()  # a NumPy array from a list column
        if isinstance(reasons, list | tuple):
            reasons = "; ".join(str(r) for r in reasons)
        reason_text = _text(reasons)
        if reason_text:
            lines.append(f"Reasons: {reason_text}")
        edge_lines[key] = lines
    extras = _Extras(
        edge_lines=edge_lines,
        edge_style={
            key: {
                "color": {"color": _RISK_COLOR, "highlight": _RISK_COLOR, "hover": _RISK_COLOR},
                "dashes": True,
            }
            for key in edge_lines
        },
        edge_weight=edge_weight,
        legend_edges=[
            ("risk", "At-risk tie (width: referrals at stake)" if edge_weight else "At-risk tie"),
            ("plain", "Other tie"),
        ],
    )
    defaults = {"title": f"Referral ties at risk: top {len(ties):,}"}
    table = _full_table(func, G, measures, options.get("size_by", "in_strength"))
    return _view(
        drawn, func=func, table=table, defaults=defaults, options=options, path=path, extras=extras
    )
