"""The ready-made views of part of a network: focus, ego, community and at-risk (private).

Each view picks the providers and ties to draw, says what it adds to the plain
drawing (:class:`~referral_graph.viz._options.Extras`: categories, tooltip
lines, styles, legend entries, notes) and renders it with measures taken from
the whole graph (:func:`view`), so a provider's figures do not depend on what
the view leaves out. Nothing here but the views and :func:`rank_at_risk` is
part of the public API.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack

import networkx as nx
import pandas as pd

from referral_graph._checks import check_choice, check_int, parameter_error
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.graph import induced_subgraph
from referral_graph.leakage import SEGMENTS as SEGMENTS  # a referrer's segments
from referral_graph.privacy import DEFAULT_THRESHOLD
from referral_graph.viz._ego import strongest_neighbourhood
from referral_graph.viz._encoding import RISK_COLOR, count, number, text
from referral_graph.viz._measures import full_table
from referral_graph.viz._options import (
    Extras,
    PathLike,
    RenderOptions,
    check_frame,
    check_graph,
    check_ids_in_graph,
)
from referral_graph.viz._page import to_html
from referral_graph.viz._render import render_graph

if TYPE_CHECKING:
    from pyvis.network import Network

    # named under Raises: imported for the API reference's link
    from referral_graph.exceptions import SchemaError  # noqa: F401

__all__ = [
    "CENTRE_STYLE",
    "EGO_LABEL_TOP",
    "EGO_TOP",
    "LABELLED_STYLE",
    "SEGMENTS",
    "at_risk_view",
    "community_view",
    "ego_view",
    "focus_view",
    "rank_at_risk",
    "view",
]

#: How many neighbours an ego view draws, and labels, by default.
EGO_TOP = 60
EGO_LABEL_TOP = 20
#: The ego view's centre: a thick dark ring, a shadow around it, a larger label.
CENTRE_STYLE: dict[str, Any] = {
    "borderWidth": 6,
    "color": {"border": "#1f2933"},
    "shadow": {"enabled": True, "color": "rgba(31,41,51,0.6)", "size": 18, "x": 0, "y": 0},
    "font": {"size": 30, "color": "#1f2933", "strokeWidth": 5, "strokeColor": "#ffffff"},
}
#: The labelled neighbours of an ego view: labels larger than the others' would be.
LABELLED_STYLE: dict[str, Any] = {"font": {"size": 18}}


def view(
    drawn: nx.DiGraph,
    *,
    func: str,
    table: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[str, Any],
    options: Mapping[str, Any],
    path: PathLike | None,
    extras: Extras | None = None,
) -> Network:
    """Render a view (the caller's options over the view's defaults) and write it if asked."""
    net = render_graph(drawn, func=func, table=table, extras=extras, **{**defaults, **options})
    if path is not None:
        to_html(net, path)
    return net


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
        The view, ready to write (:func:`save_view`) or to show in a notebook.

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
    check_graph(func, G)
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
    check_ids_in_graph(func, "focus_ids", G, focus)
    if top is not None:
        top = check_int(top, "top", func, low=1, allow_numpy=False)
    segment_of = _segments(func, segments)

    focus_set = set(focus)
    sent: defaultdict[Hashable, float] = defaultdict(float)
    for target in focus:
        for source, referrals in G.pred[target].items():
            if source not in focus_set:
                sent[source] += number(referrals.get("referrals")) or 0.0
    referrers = sorted(sent, key=lambda n: (-sent[n], str(n)))[:top]
    kept = focus_set | set(referrers)
    base = nx.DiGraph()
    base.add_nodes_from((n, G.nodes[n]) for n in [*focus, *referrers])
    base.add_edges_from((u, v, attrs) for v in focus for u, attrs in G.pred[v].items() if u in kept)

    categories: dict[Hashable, str] = dict.fromkeys(focus, "Focus provider")
    categories.update({n: segment_of.get(str(n), "not segmented").capitalize() for n in referrers})
    extras = Extras(
        # the view's own segments colour it unless another colouring is asked for
        categories=categories if options.get("color_by", "segment") == "segment" else None,
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
    table = full_table(
        func,
        G,
        measures,
        options.get("size_by", "referrals"),
        threshold=options.get("threshold", DEFAULT_THRESHOLD),
    )
    return view(
        base, func=func, table=table, defaults=defaults, options=options, path=path, extras=extras
    )


def _segments(func: str, segments: pd.DataFrame | None) -> dict[str, str]:
    """Validate a segments table; return {referrer id: segment}."""
    if segments is None:
        return {}
    frame = check_frame(func, "segments", segments, ["source", "segment"])
    pairs = {
        (str(source), str(segment).strip().lower())
        for source, segment in zip(frame["source"], frame["segment"], strict=True)
        if text(source) is not None and text(segment) is not None
    }
    bad = sorted({segment for _, segment in pairs} - set(SEGMENTS))
    if bad:
        raise ParameterError(
            f"The 'segments' table of {func} has unknown segment(s) {bad}; "
            f"expected {list(SEGMENTS)}."
        )
    seen = Counter(source for source, _ in pairs)
    clashing = sorted(source for source, times in seen.items() if times > 1)
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
    top: int | None = EGO_TOP,
    label_top: int | None = EGO_LABEL_TOP,
    measures: pd.DataFrame | None = None,
    path: PathLike | None = None,
    **options: Unpack[RenderOptions],
) -> Network:
    """One provider's neighbourhood: its strongest neighbours within `hops`, and their ties.

    A hub's whole neighbourhood draws as a hairball, so the view keeps the `top`
    neighbours who exchange the most referrals with the centre (ring by ring for
    several hops: a provider two hops away is ranked by the referrals it exchanges
    with the neighbours kept one hop away) and says on the page how many
    neighbours and ties it left out (counts from 1 to ``threshold - 1`` shown as
    ``"<11"``). Only the centre and the `label_top` strongest neighbours are
    labelled (hover over any node for its name). The centre is drawn with a thick
    dark ring and a shadow, its label larger.

    Parameters
    ----------
    G : networkx.DiGraph
        The referral graph.
    provider : str
        The centre provider's id.
    hops : int, default 1
        Radius, in the range [1, 5].
    direction : {"both", "in", "out"}, default "both"
        Follow ties both ways, only to referrers ("in") or only to receivers
        ("out"); the ranking sums the referrals on the ties followed.
    top : int or None, default 60
        Draw at most this many neighbours (the strongest, ties broken by id);
        None draws the whole neighbourhood.
    label_top : int or None, default 20
        Label the centre and this many of the strongest neighbours drawn; None
        labels every node.
    measures : pandas.DataFrame, optional
        Provider measures for sizes and tooltips.
    path : str or os.PathLike, optional
        Also write the self-contained page there.
    **options
        Passed to :func:`render`.

    Returns
    -------
    pyvis.network.Network
        The view, ready to write (:func:`save_view`) or to show in a notebook.

    Raises
    ------
    ParameterError
        `provider` is not in `G`, or `hops` / `direction` / `top` / `label_top`
        is invalid.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d")])
    >>> sorted(n["id"] for n in ego_view(G, "b").nodes)
    ['a', 'b', 'c']
    >>> sorted(n["id"] for n in ego_view(G, "b", direction="out", hops=2).nodes)
    ['b', 'c', 'd']
    >>> H = nx.DiGraph()
    >>> H.add_weighted_edges_from([("a", "hub", 50), ("hub", "b", 20), ("c", "hub", 5)],
    ...                           weight="referrals")
    >>> [n["id"] for n in ego_view(H, "hub", top=2).nodes]
    ['a', 'hub', 'b']
    """
    func = "ego_view"
    check_graph(func, G)
    if not isinstance(provider, Hashable) or provider not in G:
        raise ParameterError(
            f"The 'provider' parameter of {func} must be a provider id in the graph. "
            f"Got {provider!r} instead (ids are strings and must match exactly)."
        )
    hops = check_int(hops, "hops", func, low=1, high=5, allow_numpy=False)
    check_choice(direction, "direction", func, ("both", "in", "out"))
    if top is not None:
        top = check_int(top, "top", func, low=1, allow_numpy=False)
    if label_top is not None:
        label_top = check_int(label_top, "label_top", func, low=0, allow_numpy=False)
    hood = strongest_neighbourhood(G, provider, hops=hops, direction=direction, top=top)
    name = text(G.nodes[provider].get("name")) or str(provider)
    threshold = options.get("threshold", DEFAULT_THRESHOLD)
    notes = [f"Thick dark ring and shadow: {name}, the centre of this view."]
    if hood.left_out:
        notes.append(
            f"Drawn: the {count(len(hood.kept) - 1, threshold)} neighbours who exchange the "
            f"most referrals with {name} (top={top}); left out: "
            f"{count(hood.left_out, threshold)} more neighbours and "
            f"{count(hood.left_out_ties, threshold)} ties (top=None draws them all)."
        )
    labelled = None
    if label_top is not None and len(hood.kept) > label_top + 1:
        labelled = set(hood.kept[: label_top + 1])
        notes.append(
            f"Labels: the centre and its {label_top} strongest neighbours; hover over a "
            "node for its name."
        )
    node_style = dict.fromkeys(labelled or (), LABELLED_STYLE)
    node_style[provider] = CENTRE_STYLE
    extras = Extras(node_style=node_style, notes=notes, labelled=labelled)
    plural = "s" if hops > 1 else ""
    defaults = {"title": f"Referral neighbourhood of {name} ({hops} hop{plural}, {direction})"}
    table = full_table(
        func,
        G,
        measures,
        options.get("size_by", "in_strength"),
        threshold=options.get("threshold", DEFAULT_THRESHOLD),
    )
    return view(
        induced_subgraph(G, hood.kept),
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
        The view, ready to write (:func:`save_view`) or to show in a notebook.

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
    check_graph(func, G)
    if not isinstance(labels, pd.Series):
        raise parameter_error(
            "labels", func, "a pandas Series of community per provider id", labels
        )
    wanted = None if isinstance(community, bool) else number(community)
    if wanted is None or not wanted.is_integer():
        raise parameter_error("community", func, "an int community label", community)
    label_of = {str(i): number(v) for i, v in labels.items()}
    available = sorted({int(v) for v in label_of.values() if v is not None})
    if wanted not in available:
        shown = ", ".join(map(str, available[:10])) + (", ..." if len(available) > 10 else "")
        raise ParameterError(
            f"The 'community' parameter of {func} must be one of the labels ({shown}). "
            f"Got {community!r} instead."
        )
    nodes = [n for n in G if label_of.get(str(n)) == wanted]
    if not nodes:
        raise ParameterError(
            f"Community {community} of {func} has no provider in the graph: are `labels` "
            "indexed by the graph's provider ids?"
        )
    table = full_table(
        func,
        G,
        measures,
        options.get("size_by", "in_strength"),
        threshold=options.get("threshold", DEFAULT_THRESHOLD),
    )
    table["community"] = {i: v for i, v in label_of.items() if v is not None}
    defaults = {"title": f"Community {int(wanted)}: {len(nodes):,} providers"}
    return view(
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
        The view, ready to write (:func:`save_view`) or to show in a notebook.

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
    check_graph(func, G)
    frame = check_frame(func, "at_risk", at_risk, ["source", "target"])
    top = check_int(top, "top", func, low=1, allow_numpy=False)
    if frame.empty:
        raise InsufficientDataError(f"The 'at_risk' table passed to {func} has no rows.")
    ranked = rank_at_risk(frame)
    # each tie's first row in rank order, for the first `top` ties
    first = ~ranked[["source", "target"]].astype("str").duplicated().to_numpy()
    rows = ranked.loc[first].head(top).to_dict("records")
    ties = {(str(row["source"]), str(row["target"])): row for row in rows}
    check_ids_in_graph(func, "at_risk", G, [end for tie in ties for end in tie])

    threshold = options.get("threshold", DEFAULT_THRESHOLD)
    drawn = induced_subgraph(G, {end for tie in ties for end in tie})
    edge_lines: dict[tuple[Hashable, Hashable], list[str]] = {}
    edge_weight: dict[tuple[Hashable, Hashable], float | None] = {}
    for key, row in ties.items():
        if not drawn.has_edge(*key):
            drawn.add_edge(*key)
        risk = number(row.get("risk"))
        lines = [f"At risk: {risk:.0%} chance of lapsing" if risk is not None else "At risk"]
        segment = text(row.get("segment"))
        if segment:
            lines.append(f"Segment: {segment}")
        if "at_stake" in row:
            edge_weight[key] = number(row["at_stake"])
            stake = count(edge_weight[key], threshold)
            lines.append(f"Referrals at stake: {stake}")
        if "expected_loss" in row:
            loss = count(number(row["expected_loss"]), threshold)
            lines.append(f"Expected loss: {loss} referrals")
        reasons: Any = row.get("reasons")
        if not isinstance(reasons, str) and hasattr(reasons, "tolist"):
            reasons = reasons.tolist()  # a NumPy array from a list column
        if isinstance(reasons, list | tuple):
            reasons = "; ".join(str(r) for r in reasons)
        reason_text = text(reasons)
        if reason_text:
            lines.append(f"Reasons: {reason_text}")
        edge_lines[key] = lines
    extras = Extras(
        edge_lines=edge_lines,
        edge_style={
            key: {
                "color": {"color": RISK_COLOR, "highlight": RISK_COLOR, "hover": RISK_COLOR},
                # long dashes: vis-network's default pattern reads as a solid line at the
                # zoom a whole view opens at
                "dashes": [14, 10],
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
    table = full_table(
        func,
        G,
        measures,
        options.get("size_by", "in_strength"),
        threshold=options.get("threshold", DEFAULT_THRESHOLD),
    )
    return view(
        drawn, func=func, table=table, defaults=defaults, options=options, path=path, extras=extras
    )
