"""The core renderer: a referral graph in, a pyvis ``Network`` of vis-network dicts out (private).

:func:`render` is the public entry; :func:`render_graph` is what every view
calls, with the measures table it has already built and what it adds to the
plain drawing (:class:`~referral_graph.viz._options.Extras`). The work is done
in steps: check the arguments, size and colour the nodes, place them (or leave
them to vis-network's physics), write each node's and tie's tooltip, pick the
vis-network options and the notes under the drawing. Nothing here but
:func:`render` is part of the public API.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx
import pandas as pd

from referral_graph._checks import check_choice, check_int, parameter_error
from referral_graph.exceptions import ParameterError
from referral_graph.privacy import DEFAULT_THRESHOLD, is_small_cell
from referral_graph.viz._encoding import (
    COUNT_MEASURES,
    DEFAULT_NODE_COLOR,
    DEFAULT_NODE_SIZE,
    EDGE_COLOR,
    EDGE_WIDTH,
    MEASURE_LABELS,
    NODE_SIZE,
    RISK_EDGE_WIDTH,
    color_categories,
    community_label,
    count,
    floor_small,
    fmt_score,
    number,
    scale,
    shorten,
    text,
)
from referral_graph.viz._layout import positions, uses_physics
from referral_graph.viz._measures import compute_measures, merge_measures
from referral_graph.viz._options import (
    COLOR_BY,
    EDGE_WIDTH_BY,
    HIDDEN_COUNTS,
    SIZE_BY,
    ColorBy,
    EdgeWidthBy,
    Extras,
    Physics,
    SizeBy,
    check_graph,
    check_height,
    check_hidden_counts,
)

if TYPE_CHECKING:
    from pyvis.network import Network

    # named under Raises: imported for the API reference's link
    from referral_graph.exceptions import SchemaError  # noqa: F401

__all__ = ["CURVED_EDGE_LIMIT", "render", "render_graph"]

logger = logging.getLogger("referral_graph.viz")

#: Above this many edges, edges are drawn straight and hidden while dragging.
CURVED_EDGE_LIMIT = 3000


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
    palette: Mapping[str, str] | None = None,
    hidden_counts: Mapping[str, Collection[tuple[Hashable, Hashable]]] | None = None,
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
    palette : mapping of str to str, optional
        A fixed colour per category label (e.g. from :func:`category_colors` over
        the whole network), so that several views colour a specialty or a
        community alike; labels it lacks are drawn as "Other". By default the
        12 largest categories of the view get the palette's colours in order.
    hidden_counts : mapping, optional
        Tie counts to leave out, as a table that shows the same ties leaves them
        out: ``{"referrals": [(source, target), ...], "patients": [...]}``. Such
        a tie's count reads ``–`` in its tooltip (a small one still ``<11``), its
        strength too, and it is drawn with the thinnest line when its width
        would show it (:func:`referral_graph.report.write_report` passes what
        its ``ties.csv`` hides by complementary suppression). Which ties are
        drawn does not change. By default every count is shown as `G` holds it,
        small ones as ``<11``.

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
    check_graph(func, G)
    needed = {"in_strength", "out_strength"} | ({size_by} if isinstance(size_by, str) else set())
    return render_graph(
        G,
        func=func,
        table=merge_measures(func, G, measures, needed, threshold=threshold),
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
        palette=palette,
        hidden_counts=hidden_counts,
    )


def render_graph(
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
    palette: Mapping[str, str] | None = None,
    hidden_counts: Mapping[str, Collection[tuple[Hashable, Hashable]]] | None = None,
    extras: Extras | None = None,
) -> Network:
    """Render `G` for the public function `func`, as :func:`render` documents.

    `table` holds the measures already at hand ({measure: {provider id: value}});
    those the drawing needs and it lacks are computed on `G`. `extras` is what
    a view adds (categories, tooltip lines, styles, legend entries, notes).
    """
    check_graph(func, G)
    threshold, max_nodes, seed, css_height = _checked_options(
        func,
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
    hidden = check_hidden_counts(func, hidden_counts)
    extras = extras or Extras()
    ids = _string_ids(func, G, max_nodes)
    nodes = list(ids)
    # Measures the caller did not supply are computed on the graph drawn.
    needed = {"in_strength", "out_strength"} | ({size_by} if size_by else set())
    table = {**compute_measures(G, needed - table.keys(), threshold=threshold), **table}
    colors, legend_title, legend = color_categories(
        func, G, color_by, table, extras, palette=palette
    )
    sizes = _node_sizes(ids, table, size_by, threshold)
    use_physics = uses_physics(G, physics)
    placed = {} if use_physics else positions(G, nodes, sizes, seed)
    names = {node: text(G.nodes[node].get("name")) for node in nodes}
    vis_nodes = _vis_nodes(
        G,
        ids,
        names,
        table,
        colors=colors,
        sizes=sizes,
        placed=placed,
        color_by=color_by,
        threshold=threshold,
        extras=extras,
    )
    blank = _blanked(G, ids, hidden, threshold)
    widths = _edge_widths(G, edge_width_by, threshold, extras, blank)
    vis_edges = _vis_edges(G, ids, names, widths, threshold=threshold, extras=extras, blank=blank)
    options = _vis_options(
        seed=seed,
        use_physics=use_physics,
        n_nodes=len(nodes),
        curved=len(vis_edges) <= CURVED_EDGE_LIMIT,
    )
    page = {
        "title": title,
        "period": period,
        "legend_title": legend_title,
        "legend": legend,
        "legend_edges": list(extras.legend_edges),
        "notes": _notes(size_by, edge_width_by, threshold, extras, blanked=any(blank.values())),
    }
    net = _network(css_height, title, vis_nodes, vis_edges, options, page)
    logger.info("Rendered %s with %d nodes and %d edges", func, len(vis_nodes), len(vis_edges))
    return net


# --------------------------------------------------------------------------- arguments


def _checked_options(
    func: str,
    *,
    size_by: str | None,
    color_by: str | None,
    edge_width_by: str,
    title: object,
    period: object,
    threshold: int,
    max_nodes: int,
    physics: object,
    seed: int,
    height: str | int,
) -> tuple[int, int, int, str]:
    """Check the rendering options; return threshold, max_nodes, seed and the CSS height."""
    check_choice(size_by, "size_by", func, (*SIZE_BY, None))
    check_choice(color_by, "color_by", func, (*COLOR_BY, None))
    check_choice(edge_width_by, "edge_width_by", func, EDGE_WIDTH_BY)
    if not isinstance(title, str):
        raise parameter_error("title", func, "a str", title)
    if period is not None and not isinstance(period, str):
        raise parameter_error("period", func, "a str or None", period)
    threshold = check_int(threshold, "threshold", func, low=1, allow_numpy=False)
    max_nodes = check_int(max_nodes, "max_nodes", func, low=1, allow_numpy=False)
    seed = check_int(seed, "seed", func, low=0, allow_numpy=False)
    if physics != "auto" and not isinstance(physics, bool):
        raise parameter_error("physics", func, "True, False or 'auto'", physics)
    return threshold, max_nodes, seed, check_height(func, height)


def _string_ids(func: str, G: nx.DiGraph, max_nodes: int) -> dict[Hashable, str]:
    """Each node's id on the page ({node: str(node)}, in the graph's order)."""
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
    ids = {node: str(node) for node in G.nodes}
    if len(set(ids.values())) != n:
        raise ParameterError(
            f"The 'G' parameter of {func} has node ids that collide once turned into strings "
            "(such as 1 and '1'); use string ids."
        )
    return ids


# --------------------------------------------------------------------------- nodes


def _node_sizes(
    ids: Mapping[Hashable, str],
    table: Mapping[str, Mapping[str, Any]],
    size_by: str | None,
    threshold: int,
) -> dict[Any, float]:
    """Node sizes by `size_by` (none: all the default size); suppressed counts drawn as
    `threshold`."""
    if size_by is None:
        return {}
    column = table.get(size_by, {})
    values = {node: number(column.get(sid)) for node, sid in ids.items()}
    if size_by in COUNT_MEASURES:
        values = {node: floor_small(v, threshold) for node, v in values.items()}
    return scale(values, NODE_SIZE)


def _vis_nodes(
    G: nx.DiGraph,
    ids: Mapping[Hashable, str],
    names: Mapping[Hashable, str | None],
    table: Mapping[str, Mapping[str, Any]],
    *,
    colors: Mapping[Hashable, str],
    sizes: Mapping[Hashable, float],
    placed: Mapping[Hashable, tuple[float, float]],
    color_by: str | None,
    threshold: int,
    extras: Extras,
) -> list[dict[str, Any]]:
    """The vis-network node dicts: id, label, tooltip, colour, size, position, view styles."""
    score_rows = [
        (key, label)
        for key, label in (("pagerank", "PageRank"), ("hub", "Hub"), ("authority", "Authority"))
        if key in table
    ]
    vis_nodes: list[dict[str, Any]] = []
    for node, sid in ids.items():
        name = names[node]
        lines = _node_lines(
            G.nodes[node],
            sid,
            name,
            table,
            score_rows=score_rows,
            color_by=color_by,
            threshold=threshold,
            show_ids=extras.show_ids,
        )
        lines.extend(extras.node_lines.get(node, []))
        item: dict[str, Any] = {
            "id": sid,
            "label": (
                shorten(name or sid) if extras.labelled is None or node in extras.labelled else ""
            ),
            "title": "\n".join(lines),
            "color": colors.get(node, DEFAULT_NODE_COLOR),
            "size": sizes.get(node, DEFAULT_NODE_SIZE),
        }
        if node in placed:
            item["x"], item["y"] = placed[node]
        for key, style in extras.node_style.get(node, {}).items():
            item[key] = {"background": item["color"], **style} if key == "color" else style
        vis_nodes.append(item)
    return vis_nodes


def _node_lines(
    attrs: Mapping[str, Any],
    sid: str,
    name: str | None,
    table: Mapping[str, Mapping[str, Any]],
    *,
    score_rows: Sequence[tuple[str, str]],
    color_by: str | None,
    threshold: int,
    show_ids: bool,
) -> list[str]:
    """A provider's tooltip: name, id, attributes, referral counts, scores, community."""
    lines = [name or sid]
    if name and show_ids:
        lines.append(f"ID: {sid}")
    for key in ("specialty", "organization", "city"):
        value = text(attrs.get(key))
        if value:
            lines.append(f"{key.capitalize()}: {value}")
    flag = attrs.get("in_network")
    if flag is not None and flag is not pd.NA:
        lines.append(f"In network: {'yes' if bool(flag) else 'no'}")
    for key, label in (
        ("in_strength", "Referrals received"),
        ("out_strength", "Referrals sent"),
    ):
        lines.append(f"{label}: {count(number(table[key].get(sid)), threshold)}")
    for key, label in score_rows:
        score = number(table[key].get(sid))
        if score is not None:
            lines.append(f"{label}: {fmt_score(score)}")
    community = community_label(table.get("community", {}).get(sid, attrs.get("community")))
    if community and color_by != "community":
        lines.append(community)
    return lines


# --------------------------------------------------------------------------- edges


def _blanked(
    G: nx.DiGraph,
    ids: Mapping[Hashable, str],
    hidden: Mapping[str, frozenset[tuple[str, str]]],
    threshold: int,
) -> dict[str, set[tuple[Hashable, Hashable]]]:
    """Per tie count (and ``strength``, derived from both), the edges of `G` whose value
    is left out: named in `hidden` and not small (a small one stays ``<11``); the
    strength with either count."""
    blank: dict[str, set[tuple[Hashable, Hashable]]] = {c: set() for c in HIDDEN_COUNTS}
    blank["strength"] = set()
    if not any(hidden.values()):
        return blank
    for u, v, attrs in G.edges(data=True):
        for column in HIDDEN_COUNTS:
            if (ids[u], ids[v]) not in hidden.get(column, ()):
                continue
            value = number(attrs.get(column))
            if value is not None and not is_small_cell(value, threshold=threshold):
                blank[column].add((u, v))
                blank["strength"].add((u, v))
    return blank


def _edge_widths(
    G: nx.DiGraph,
    edge_width_by: str,
    threshold: int,
    extras: Extras,
    blank: Mapping[str, set[tuple[Hashable, Hashable]]],
) -> dict[Any, float]:
    """Edge widths by `edge_width_by`, the view's highlighted edges by their own weight.

    The width never encodes an exact small count, nor a count left out (`blank`): those
    are drawn the thinnest.
    """
    raw_widths: dict[Any, float | None] = {}
    gone = blank.get(edge_width_by, set())
    for u, v, attrs in G.edges(data=True):
        weight = None if (u, v) in gone else number(attrs.get(edge_width_by))
        if edge_width_by == "referrals":
            weight = floor_small(weight, threshold)
        raw_widths[(u, v)] = weight
    if edge_width_by == "strength":
        low, high = EDGE_WIDTH
        widths = {
            key: round(low + (high - low) * min(max(value or 0.0, 0.0), 100.0) / 100.0, 1)
            for key, value in raw_widths.items()
        }
    else:
        widths = scale(raw_widths, EDGE_WIDTH)
    highlighted = {
        key: floor_small(number(value), threshold) for key, value in extras.edge_weight.items()
    }
    widths.update(scale(highlighted, RISK_EDGE_WIDTH))
    return widths


def _vis_edges(
    G: nx.DiGraph,
    ids: Mapping[Hashable, str],
    names: Mapping[Hashable, str | None],
    widths: Mapping[Any, float],
    *,
    threshold: int,
    extras: Extras,
    blank: Mapping[str, set[tuple[Hashable, Hashable]]],
) -> list[dict[str, Any]]:
    """The vis-network edge dicts: ends, width, tooltip (the counts in `blank` as ``–``),
    view styles."""
    vis_edges: list[dict[str, Any]] = []
    no_referrals, no_patients = blank.get("referrals", set()), blank.get("patients", set())
    no_strength = blank.get("strength", set())
    for u, v, attrs in G.edges(data=True):
        lines = [f"{names[u] or ids[u]} → {names[v] or ids[v]}"]
        referrals = None if (u, v) in no_referrals else number(attrs.get("referrals"))
        lines.append(f"Referrals: {count(referrals, threshold)}")
        if attrs.get("patients") is not None:
            patients = None if (u, v) in no_patients else number(attrs.get("patients"))
            lines.append(f"Patients: {count(patients, threshold)}")
        strength = number(attrs.get("strength"))
        if strength is not None:
            shown = "–" if (u, v) in no_strength else f"{strength:.0f}"
            lines.append(f"Strength: {shown} / 100")
        lines.extend(extras.edge_lines.get((u, v), []))
        edge: dict[str, Any] = {
            "from": ids[u],
            "to": ids[v],
            "width": widths[(u, v)],
            "title": "\n".join(lines),
        }
        edge.update(extras.edge_style.get((u, v), {}))
        vis_edges.append(edge)
    return vis_edges


# --------------------------------------------------------------------------- page


def _vis_options(*, seed: int, use_physics: bool, n_nodes: int, curved: bool) -> dict[str, Any]:
    """vis-network's options: look, interaction, and physics or fixed positions."""
    return {
        "autoResize": True,
        "nodes": {
            "shape": "dot",
            "borderWidth": 1,
            "font": {"size": 14, "face": "Helvetica, Arial, sans-serif", "color": "#1f2933"},
            "scaling": {"label": {"drawThreshold": 7}},
        },
        "edges": {
            "arrows": {"to": {"enabled": True, "scaleFactor": 0.5}},
            "color": {"color": EDGE_COLOR, "highlight": "#1f2933", "hover": "#52606d"},
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
        "layout": {"randomSeed": seed, "improvedLayout": bool(use_physics and n_nodes <= 100)},
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


def _notes(
    size_by: str | None,
    edge_width_by: str,
    threshold: int,
    extras: Extras,
    *,
    blanked: bool = False,
) -> list[str]:
    """The notes under the drawing: what sizes and widths mean, the view's, suppression
    (`blanked`: some ties' counts are left out, ``hidden_counts``)."""
    notes = []
    if size_by:
        kind = (
            " (counts below the threshold drawn as the threshold)"
            if size_by in COUNT_MEASURES
            else ""
        )
        notes.append(f"Node size: {MEASURE_LABELS[size_by]}{kind}.")
    width_label = "referrals" if edge_width_by == "referrals" else "tie strength (0–100)"
    notes.append(f"Edge width: {width_label}; arrows point from the referring provider.")
    notes.extend(extras.notes)
    notes.append(
        "The mouse wheel scrolls the page until you click the drawing; then it zooms the "
        "drawing, until Escape or the pointer leaves it."
    )
    if threshold > 1:
        notes.append(
            f"Counts from 1 to {threshold - 1:,} are shown as “<{threshold:,}” "
            "(small-cell suppression)."
        )
    if blanked:
        notes.append(
            "Ties whose counts the tables hide to protect other counts show “–” and are "
            "drawn with the thinnest line."
        )
    return notes


def _network(
    css_height: str,
    title: str,
    vis_nodes: list[dict[str, Any]],
    vis_edges: list[dict[str, Any]],
    options: dict[str, Any],
    page: dict[str, Any],
) -> Network:
    """The pyvis ``Network`` holding the drawing (pyvis is imported only now)."""
    from pyvis.network import Network

    net = Network(
        height=css_height, width="100%", directed=True, heading=title, cdn_resources="in_line"
    )
    net.nodes = vis_nodes
    net.edges = vis_edges
    net.node_ids = [item["id"] for item in vis_nodes]
    net.node_map = {item["id"]: item for item in vis_nodes}
    net.options = options
    net.referral_graph_page = page
    return net
