"""The whole network reduced to a readable size: its top providers, or its groups (private).

Nothing here but :func:`network_view` is part of the public API.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Literal, Unpack

import networkx as nx
import pandas as pd

from referral_graph._checks import check_choice, check_int
from referral_graph.exceptions import ParameterError
from referral_graph.graph import induced_subgraph
from referral_graph.privacy import DEFAULT_THRESHOLD
from referral_graph.viz._encoding import (
    COUNT_MEASURES,
    MEASURE_LABELS,
    community_label,
    count,
    number,
    text,
)
from referral_graph.viz._measures import full_table
from referral_graph.viz._options import (
    SIZE_BY,
    Extras,
    PathLike,
    RenderOptions,
    SizeBy,
    check_graph,
)
from referral_graph.viz._views import view

if TYPE_CHECKING:
    from pyvis.network import Network

__all__ = ["network_view"]


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
        The view, ready to write (:func:`save_view`) or to show in a notebook.

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
    check_graph(func, G)
    top = check_int(top, "top", func, low=1, allow_numpy=False)
    check_choice(by, "by", func, SIZE_BY)
    check_choice(collapse, "collapse", func, ("organization", "community", None))
    size_by = options.get("size_by", by)
    table = full_table(
        func, G, measures, by, size_by, threshold=options.get("threshold", DEFAULT_THRESHOLD)
    )

    if collapse is None:
        score = table[by]
        keep = sorted(G, key=lambda n: (-(number(score.get(str(n))) or 0.0), str(n)))[:top]
        defaults = {
            "title": f"Referral network: top {len(keep):,} providers by {MEASURE_LABELS[by]}",
            "size_by": by,
        }
        return view(
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
            group_of[node] = text(attrs.get("organization")) or "Unknown organization"
        else:
            label = table.get("community", {}).get(str(node), attrs.get("community"))
            group_of[node] = community_label(label) or "No community"
    if collapse == "community" and set(group_of.values()) <= {"No community"}:
        raise ParameterError(
            f"{func}(collapse='community') needs community labels: pass `measures` with a "
            "'community' column (or set the 'community' node attribute)."
        )
    members = Counter(group_of.values())
    within: defaultdict[str, float] = defaultdict(float)
    between: defaultdict[tuple[str, str], float] = defaultdict(float)
    for u, v, referrals in G.edges(data="referrals"):
        weight = number(referrals) or 0.0
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
    for name in {by, size_by} - COUNT_MEASURES - {None}:
        column = table.get(str(name), {})
        sums: defaultdict[str, float] = defaultdict(float)
        for node in G:
            sums[group_of[node]] += number(column.get(str(node))) or 0.0
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
    extras = Extras(
        categories={g: g for g in keep_groups},
        category_kind="community" if collapse == "community" else None,
        category_title=collapse.capitalize(),
        category_order=keep_groups,
        every_category=True,
        node_lines={
            g: [
                f"Providers: {count(members[g], threshold)}",
                f"Referrals within: {count(within[g], threshold)}",
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
    return view(
        groups,
        func=func,
        table=group_table,
        defaults=defaults,
        options=options,
        path=path,
        extras=extras,
    )
