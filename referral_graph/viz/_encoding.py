"""How a view shows values: text, suppressed counts, sizes, colours and legends (private).

Tooltip values are stripped text or finite numbers (:func:`text`, :func:`number`);
counts from 1 to ``threshold - 1`` read ``"<11"`` (:func:`count`) and are drawn
as if they were ``threshold`` (:func:`floor_small`), sizes and widths are
square-root scaled (:func:`scale`), and nodes get the colours of their
category with a legend (:func:`color_categories`). Nothing here is part of the
public API.

Examples
--------
>>> count(4, 11), count(40, 11), floor_small(4, 11)
('<11', '40', 11.0)
>>> scale({"a": 100.0, "b": 25.0, "c": None}, (1.0, 8.0))
{'a': 8.0, 'b': 4.5, 'c': 1.0}
"""

from __future__ import annotations

import colorsys
import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, cast

import networkx as nx
import pandas as pd

from referral_graph.exceptions import ParameterError
from referral_graph.privacy import format_count, is_small_cell
from referral_graph.viz._options import Extras

__all__ = [
    "COUNT_MEASURES",
    "DEFAULT_NODE_COLOR",
    "DEFAULT_NODE_SIZE",
    "EDGE_COLOR",
    "EDGE_WIDTH",
    "FIXED_COLORS",
    "MEASURE_LABELS",
    "NODE_SIZE",
    "OTHER_COLOR",
    "PALETTE",
    "RISK_COLOR",
    "RISK_EDGE_WIDTH",
    "UNKNOWN_COLOR",
    "color_categories",
    "community_label",
    "count",
    "floor_small",
    "fmt_score",
    "more_colors",
    "number",
    "scale",
    "shorten",
    "text",
]

#: Measures that are counts of referrals, hence small-cell suppressed.
COUNT_MEASURES = frozenset({"in_strength", "out_strength", "referrals"})
MEASURE_LABELS = {
    "in_strength": "referrals received",
    "out_strength": "referrals sent",
    "referrals": "referrals sent and received",
    "pagerank": "PageRank",
    "hub": "hub score",
    "authority": "authority score",
}

# Tableau 10 and two more: distinguishable, and stable (categories are ranked by size, then name).
PALETTE = (
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
OTHER_COLOR = "#a3acb9"
UNKNOWN_COLOR = "#d5dae0"
DEFAULT_NODE_COLOR = "#4e79a7"
EDGE_COLOR = "#9aa5b1"
RISK_COLOR = "#d62728"
FIXED_COLORS: dict[str, dict[str, str]] = {
    "segment": {
        "Focus provider": "#4e79a7",
        "Loyalist": "#59a14f",
        "Splitter": "#f28e2b",
        "Dissenter": "#e15759",
        "Not segmented": UNKNOWN_COLOR,
    },
    "in_network": {
        "In network": "#4e79a7",
        "Out of network": "#f28e2b",
        "Unknown": UNKNOWN_COLOR,
    },
}
NODE_SIZE = (8.0, 40.0)
#: Size of every node when `size_by` is None.
DEFAULT_NODE_SIZE = 14.0
EDGE_WIDTH = (1.0, 8.0)
RISK_EDGE_WIDTH = (2.5, 10.0)


# --------------------------------------------------------------------------- values


def text(value: object) -> str | None:
    """Return a stripped non-empty string, or None for missing values."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    stripped = str(value).strip()
    return stripped or None


def number(value: object) -> float | None:
    """Return `value` as a finite float, or None when missing or not a number."""
    if value is None or value is pd.NA or isinstance(value, bool | str):
        return None
    try:
        as_float = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return as_float if math.isfinite(as_float) else None


def shorten(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def count(value: float | None, threshold: int) -> str:
    """A count for display, small cells suppressed (:func:`privacy.format_count`)."""
    # format_count is annotated with numbers.Real, which mypy does not match to float.
    return format_count(cast(Any, value), threshold=threshold)


def fmt_score(value: float) -> str:
    return f"{value:.3g}"


def community_label(value: object) -> str | None:
    as_number = number(value)
    if as_number is not None and as_number.is_integer():
        return f"Community {int(as_number)}"
    return text(value)


# --------------------------------------------------------------------------- sizes


def scale(values: Mapping[Any, float | None], bounds: tuple[float, float]) -> dict[Any, float]:
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


def floor_small(value: float | None, threshold: int) -> float | None:
    """Draw a suppressed count as if it were `threshold`, so its size reveals nothing."""
    if value is not None and is_small_cell(value, threshold=threshold):
        return float(threshold)
    return value


# --------------------------------------------------------------------------- colours


def color_categories(
    func: str,
    graph: nx.DiGraph,
    color_by: str | None,
    table: Mapping[str, Mapping[str, Any]],
    extras: Extras,
    *,
    palette: Mapping[str, str] | None = None,
) -> tuple[dict[Hashable, str], str | None, list[tuple[str, str]]]:
    """Map nodes to colours; return (colours, legend title, legend items).

    With `palette` (label -> colour), each label keeps that colour whatever else
    the view holds; labels it lacks are "Other".
    """
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
            raw[node] = community_label(value) if color_by == "community" else text(value)
            if color_by == "segment" and raw[node]:
                raw[node] = str(raw[node]).capitalize()
        if color_by in ("community", "segment") and len(graph) and not any(raw.values()):
            raise ParameterError(
                f"render was asked for color_by={color_by!r} but no node has a {color_by!r}: "
                f"pass `measures` with a {color_by!r} column (or set the node attribute)."
            )
    kind = extras.category_kind if extras.categories is not None else color_by
    title = extras.category_title or (color_by or "").replace("_", " ").capitalize()
    fixed = FIXED_COLORS.get(kind or "")
    unknown = "Not segmented" if kind == "segment" else "Unknown"
    labels = {node: (value or unknown) for node, value in raw.items()}
    if fixed is not None:
        colors = {node: fixed.get(label, OTHER_COLOR) for node, label in labels.items()}
        present = set(labels.values())
        legend = [(c, label) for label, c in fixed.items() if label in present]
        legend += [(OTHER_COLOR, lab) for lab in sorted(present - set(fixed))]
        return colors, title, legend
    counts = Counter(label for label in labels.values() if label != unknown)
    if palette is not None:  # one assignment shared with other views: present labels only
        own = {label: palette[label] for label in palette if label in counts}
        rest = sorted(set(counts) - set(own), key=lambda lab: (-counts[lab], lab))
    else:
        first = [label for label in extras.category_order if label in counts]
        ranked = first + sorted(set(counts) - set(first), key=lambda lab: (-counts[lab], lab))
        own = dict(zip(ranked, PALETTE, strict=False))
        rest = ranked[len(own) :]
    if extras.every_category and rest:  # no shared "Other": more colours, one per category
        own.update(zip(rest, more_colors(len(rest)), strict=True))
        rest = []
    colors = {
        node: UNKNOWN_COLOR if label == unknown else own.get(label, OTHER_COLOR)
        for node, label in labels.items()
    }
    legend = [(color, label) for label, color in own.items()]
    if kind == "community":  # Community 2 before Community 10
        legend.sort(key=lambda item: _community_key(item[1]))
    if rest:
        legend.append((OTHER_COLOR, f"Other ({len(rest):,} more)"))
    if unknown in labels.values():
        legend.append((UNKNOWN_COLOR, unknown))
    return colors, title, legend


def _community_key(label: str) -> tuple[int, float, str]:
    """Sort key of a community's label: by its number ("Community 10" after "Community 2")."""
    found = re.fullmatch(r"Community (-?\d+)", label)
    return (0, float(found.group(1)), label) if found else (1, 0.0, label)


def more_colors(n: int) -> list[str]:
    """`n` colours after :data:`PALETTE`'s, for views that give every category its own.

    Hues a golden angle apart, at two lightnesses in turn, so that neighbours in the
    list differ; deterministic.

    Examples
    --------
    >>> more_colors(3)
    ['#3db2c2', '#d883b5', '#65c23d']
    """
    colors = []
    for i in range(n):
        hue = (0.52 + i * 0.381966) % 1.0
        lightness = 0.5 if i % 2 == 0 else 0.68
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.52)
        colors.append(f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}")
    return colors


def category_colors(labels: Iterable[object]) -> dict[str, str]:
    """One colour per category for a whole network: the 12 most frequent labels, in order.

    Pass the result as ``palette=`` to every view, so that a specialty (or a
    community) has the same colour in each.

    Examples
    --------
    >>> colors = category_colors(["Cardiology", "Cardiology", "Oncology", None])
    >>> list(colors), colors["Cardiology"] == PALETTE[0]
    (['Cardiology', 'Oncology'], True)
    """
    counts = _text_counts(labels)
    ranked = sorted(counts, key=lambda label: (-counts[label], label))
    return dict(zip(ranked, PALETTE, strict=False))


#: Types whose equal values have the same :func:`text` (so each distinct value is read once).
_PLAIN = (str, type(None), type(pd.NA))


def _text_counts(labels: Iterable[object]) -> Counter[str]:
    """How often each non-empty :func:`text` of `labels` occurs.

    Equal values are counted together first (at C speed) and each distinct one read
    once, where equal values cannot read differently (strings, missing values); other
    labels (``1`` and ``1.0`` are equal but read differently) one by one.
    """
    if isinstance(labels, pd.Series | pd.Index) and labels.dtype != object:
        # one dtype (strings, numbers, categories): equal values read alike, and pandas
        # counts them in C; only the distinct values are read
        counted: Counter[str] = Counter()
        for value, n in pd.Series(labels).value_counts(dropna=True, sort=False).items():
            label = text(value)
            if label:
                counted[label] += int(n)
        return counted
    values = labels if isinstance(labels, list | tuple | pd.Series | pd.Index) else list(labels)

    def one_by_one() -> Counter[str]:
        return Counter(t for t in (text(v) for v in values) if t)

    try:
        by_value = Counter(zip(map(type, values), values, strict=True))
    except TypeError:  # an unhashable label
        return one_by_one()
    counts: Counter[str] = Counter()
    for (kind, value), n in by_value.items():
        if kind not in _PLAIN and not (kind is float and math.isnan(value)):
            return one_by_one()
        label = text(value)
        if label:
            counts[label] += n
    return counts
