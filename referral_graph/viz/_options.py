"""What a view may ask of the renderer, and the checks of its arguments (private).

The choices of ``size_by`` / ``color_by`` / ``edge_width_by``, the keyword
options every view passes on to :func:`~referral_graph.viz.render`
(:class:`RenderOptions`), what a view adds to the plain rendering of a graph
(:class:`Extras`), and the checks that word a bad graph, height or table the
house way. Nothing here is part of the public API (``RenderOptions`` is
published by :mod:`referral_graph.viz`).

Examples
--------
>>> check_height("render", 600), check_height("render", "80vh")
('600px', '80vh')
>>> Extras().show_ids
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import networkx as nx
import pandas as pd

from referral_graph._checks import parameter_error
from referral_graph.exceptions import ParameterError, SchemaError

__all__ = [
    "COLOR_BY",
    "EDGE_WIDTH_BY",
    "HIDDEN_COUNTS",
    "SIZE_BY",
    "ColorBy",
    "EdgeWidthBy",
    "Extras",
    "PathLike",
    "Physics",
    "RenderOptions",
    "SizeBy",
    "check_frame",
    "check_graph",
    "check_height",
    "check_hidden_counts",
    "check_ids_in_graph",
]

#: The tie counts whose values `hidden_counts` may leave out, and what goes with them.
HIDDEN_COUNTS = ("referrals", "patients")

SizeBy = Literal["in_strength", "out_strength", "pagerank", "hub", "authority", "referrals"]
ColorBy = Literal["specialty", "organization", "community", "segment", "in_network", "city"]
EdgeWidthBy = Literal["referrals", "strength"]
Physics = bool | Literal["auto"]
PathLike = str | os.PathLike[str]

SIZE_BY: tuple[str, ...] = (
    "in_strength",
    "out_strength",
    "pagerank",
    "hub",
    "authority",
    "referrals",
)
COLOR_BY: tuple[str, ...] = (
    "specialty",
    "organization",
    "community",
    "segment",
    "in_network",
    "city",
)
EDGE_WIDTH_BY: tuple[str, ...] = ("referrals", "strength")


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
    palette: Mapping[str, str] | None
    hidden_counts: Mapping[str, Collection[tuple[Hashable, Hashable]]] | None


@dataclass
class Extras:
    """What a view adds to the plain rendering of a graph (all keyed by node / edge)."""

    categories: Mapping[Hashable, str] | None = None
    #: "segment" or "in_network" for their fixed colours; None for the palette.
    category_kind: str | None = None
    category_title: str | None = None
    #: Categories in the order they get palette colours (default: most frequent first).
    category_order: Sequence[str] = ()
    #: Every category its own colour (past the palette's 12), never a shared "Other".
    every_category: bool = False
    node_lines: Mapping[Hashable, list[str]] = field(default_factory=dict)
    node_style: Mapping[Hashable, dict[str, Any]] = field(default_factory=dict)
    edge_lines: Mapping[tuple[Hashable, Hashable], list[str]] = field(default_factory=dict)
    edge_style: Mapping[tuple[Hashable, Hashable], dict[str, Any]] = field(default_factory=dict)
    #: Count behind the width of the highlighted edges (suppressed like any count).
    edge_weight: Mapping[tuple[Hashable, Hashable], float | None] = field(default_factory=dict)
    legend_edges: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    show_ids: bool = True
    #: The only nodes labelled on the drawing (None: every node); the others in tooltips.
    labelled: Collection[Hashable] | None = None


def check_graph(func: str, graph: object) -> None:
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        expected = "a networkx.DiGraph (not a multigraph or undirected graph)"
        raise parameter_error("G", func, expected, type(graph).__name__)


def check_height(func: str, height: object) -> str:
    if isinstance(height, int) and not isinstance(height, bool) and height > 0:
        return f"{height}px"
    if isinstance(height, str) and re.fullmatch(r"\d+(\.\d+)?(px|vh|em|rem|%)", height):
        return height
    raise parameter_error(
        "height", func, "a CSS height such as '800px' or a positive int (pixels)", height
    )


def check_frame(func: str, name: str, frame: object, required: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise parameter_error(name, func, "a pandas DataFrame", type(frame).__name__)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"The {name!r} table passed to {func} lacks the column(s) {missing}; "
            f"it has {list(map(str, frame.columns))}."
        )
    return frame


def check_hidden_counts(func: str, hidden: object) -> dict[str, frozenset[tuple[str, str]]]:
    """Check `hidden_counts`; return, per count, the ties as (source, target) strings."""
    if hidden is None:
        return {}
    expected = f"a mapping of {' or '.join(map(repr, HIDDEN_COUNTS))} to (source, target) pairs"
    if not isinstance(hidden, Mapping):
        raise parameter_error("hidden_counts", func, expected, type(hidden).__name__)
    if not set(hidden) <= set(HIDDEN_COUNTS):
        raise parameter_error("hidden_counts", func, expected, sorted(map(str, hidden)))
    out: dict[str, frozenset[tuple[str, str]]] = {}
    for column, ties in hidden.items():
        if isinstance(ties, str | bytes) or not isinstance(ties, Iterable):
            raise parameter_error("hidden_counts", func, expected, ties)
        pairs = []
        for tie in ties:
            if not isinstance(tie, tuple | list) or len(tie) != 2:
                raise parameter_error("hidden_counts", func, expected, tie)
            pairs.append((str(tie[0]), str(tie[1])))
        out[str(column)] = frozenset(pairs)
    return out


def check_ids_in_graph(func: str, name: str, graph: nx.DiGraph, ids: Iterable[Hashable]) -> None:
    unknown = sorted({str(i) for i in ids if i not in graph})
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        raise ParameterError(
            f"The {name!r} parameter of {func} names provider(s) not in the graph: "
            f"{shown}{more}. Ids are strings and must match the graph's node ids exactly."
        )
