"""The page's building blocks as plain data: formatted cells, tables, cards, charts.

Each function turns a table or a figure into values the templates draw
(``referral_graph/templates/macros.html.j2``): strings, not HTML, which the
templates escape. Every count goes through
:func:`referral_graph.privacy.format_count`. :mod:`._page` puts them together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from referral_graph.privacy import format_count, is_small_cell

_PALETTE = ["#2f6fad", "#d64545", "#3f9142", "#f0b429", "#7b61a8", "#52606d"]

#: Column kinds shown right-aligned, as numbers.
_NUMERIC = ("count", "share", "prob", "score", "float", "money")

#: Columns the tables' search box reads (tables.js): names, practices, towns, specialties.
_SEARCH_COLUMNS = frozenset(
    {
        "name",
        "source_name",
        "target_name",
        "id_name",
        "via",
        "liaison",
        "specialty",
        "specialties",
        "organization",
        "practice",
        "competitor",
        "town",
        "what",
    }
)
#: Columns holding providers' ids: a row's ids, which the search box also reads.
_ID_COLUMNS = ("source", "target", "id")


def _text(value: Any) -> str:
    """`value` as text, empty for a missing one (None, NaN)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _fmt(value: Any, kind: str, threshold: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if kind == "count":
        return format_count(float(value), threshold=threshold)
    if kind == "share":
        return f"{100 * float(value):.0f} %"
    if kind == "prob":
        return f"{100 * float(value):.0f} %"
    if kind == "score":
        return f"{float(value):.0f}"
    if kind == "float":
        return f"{float(value):#.3g}"  # "2.00", not a count-like "2"
    if kind == "money":
        return f"{float(value):,.0f}"
    return _text(value)


class Cell(NamedTuple):
    text: str
    numeric: bool
    #: The address the text links to (a provider's profile), or "".
    href: str = ""


@dataclass
class Row:
    """A row of cells, or a group's heading row (`group` set, no cells)."""

    cells: list[Cell] = field(default_factory=list)
    group: str | None = None
    #: The providers' ids of the row, space-separated (read by the search box).
    ids: str = ""


@dataclass
class Table:
    """What the ``table`` macro draws: headings, rows and how many rows were left out."""

    headings: list[str]
    rows: list[Row]
    #: (shown, total), formatted, when rows were left out.
    more: tuple[str, str] | None = None
    #: The positions of the columns the search box reads.
    searchable: set[int] = field(default_factory=set)
    #: What the group headings name when the search box reads them ("town, practice").
    group_search: str = ""


def _names_or_ids(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """`frame` with its ``name`` column filled with the providers' ids where names are missing."""
    if not any(c == "name" for c, _, _ in columns):
        return frame
    ids = next((frame[k] for k in ("source", "id") if k in frame.columns), None)
    if ids is None:
        return frame
    names = frame["name"] if "name" in frame.columns else pd.Series(pd.NA, index=frame.index)
    blank = names.isna() | (names.astype("str").str.strip() == "")
    if "name" in frame.columns and not blank.any():
        return frame
    return frame.assign(name=names.astype("object").where(~blank, ids))


def _table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str, str]],
    *,
    threshold: int,
    limit: int | None = None,
    group_by: str | None = None,
    group_search: str = "",
    links: tuple[str, str, Mapping[str, str]] | None = None,
) -> Table | None:
    """A table's cells; `columns` = (column, heading, kind). None when there is nothing to show.

    A ``name`` column shows the provider's id (``source`` or ``id``) where the
    name is missing, and is added from the id when the table has no names at all.
    The page's search box reads the columns named in ``_SEARCH_COLUMNS``, the
    row's ids (``source``, ``target``, ``id``) and, when `group_search` says what
    they name, the group headings.
    `links` = (column, id column, id -> address): the column's text links to the
    address of its row's id (a provider's profile), where there is one.
    """
    frame = _names_or_ids(frame, columns)
    present = [(c, h, k) for c, h, k in columns if c in frame.columns]
    if frame.empty or not present:
        return None
    shown = frame.head(limit) if limit else frame
    id_columns = [c for c in _ID_COLUMNS if c in shown.columns]
    rows: list[Row] = []
    last_group: Any = object()
    for _, row in shown.iterrows():
        if group_by is not None and row.get(group_by) != last_group:
            last_group = row.get(group_by)
            rows.append(Row(group=_text(last_group) or "Unknown"))
        href = links[2].get(_text(row.get(links[1])), "") if links is not None else ""
        rows.append(
            Row(
                cells=[
                    Cell(
                        _fmt(row[c], k, threshold) if k != "text" else _text(row[c]),
                        k in _NUMERIC,
                        href if links is not None and c == links[0] else "",
                    )
                    for c, _, k in present
                ],
                ids=" ".join(t for t in (_text(row[c]) for c in id_columns) if t),
            )
        )
    more = (f"{limit:,}", f"{len(frame):,}") if limit and len(frame) > limit else None
    return Table(
        headings=[h for _, h, _ in present],
        rows=rows,
        more=more,
        searchable={i for i, (c, _, _) in enumerate(present) if c in _SEARCH_COLUMNS},
        group_search=group_search if group_by is not None else "",
    )


class Mark(NamedTuple):
    """A series' piece on a chart: a polyline through `points`, or a dot at (cx, cy)."""

    color: str
    points: str = ""
    cx: str = ""
    cy: str = ""


@dataclass
class Chart:
    """What the ``line_chart`` macro draws (an inline SVG); coordinates already formatted."""

    title: str
    legend: list[tuple[str, str]]
    width: int
    height: int
    left: int
    right: int
    #: (y, the label's y, label) of each horizontal grid line.
    grid: list[tuple[str, str, str]]
    #: (x, label) of each month named on the axis.
    ticks: list[tuple[str, str]]
    marks: list[Mark]


def _line_chart(
    months: pd.Series, series: Mapping[str, pd.Series], *, threshold: int, title: str
) -> Chart:
    """A line chart's geometry; points below the small-cell threshold are not drawn."""
    width, height, left, bottom, top, right = 1000, 260, 56, 30, 14, 12
    values = [s.astype("float64").where(s >= threshold) for s in series.values()]
    ymax = max([float(v.max()) for v in values if v.notna().any()] + [threshold])
    n = len(months)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / ymax)

    grid = [
        (f"{yy:.1f}", f"{yy + 4:.1f}", format_count(round(ymax * frac), threshold=1))
        for frac, yy in ((f, y(ymax * f)) for f in (0, 0.25, 0.5, 0.75, 1.0))
    ]
    step = max(1, n // 12)
    ticks = [(f"{x(i):.1f}", f"{pd.Timestamp(months.iloc[i]):%b %y}") for i in range(0, n, step)]
    marks: list[Mark] = []
    for color, values_i in zip(_PALETTE, values, strict=False):
        segments: list[list[str]] = [[]]
        for i, v in enumerate(values_i.tolist()):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                segments.append([])
                continue
            segments[-1].append(f"{x(i):.1f},{y(float(v)):.1f}")
        for seg in segments:
            if len(seg) > 1:
                marks.append(Mark(color, points=" ".join(seg)))
            elif len(seg) == 1:
                cx, cy = seg[0].split(",")
                marks.append(Mark(color, cx=cx, cy=cy))
    return Chart(
        title=title,
        legend=list(zip(_PALETTE, series, strict=False)),
        width=width,
        height=height,
        left=left,
        right=right,
        grid=grid,
        ticks=ticks,
        marks=marks,
    )


_LOWER_IS_BETTER = {"Leakage to competitors", "Lost referrers"}


class Delta(NamedTuple):
    """A card's comparison: `shown` in the colour of `tone`, then `tail` in plain text."""

    tone: str
    shown: str
    tail: str


class Card(NamedTuple):
    label: str
    value: str
    deltas: list[Delta]


def _cards(headline: pd.DataFrame, *, threshold: int, window: int) -> list[Card]:
    cards = []
    for _, row in headline.iterrows():
        kind = "share" if row["unit"] == "share" else "count"
        lower_is_better = row["measure"] in _LOWER_IS_BETTER

        def tone(change: float, lower_is_better: bool = lower_is_better) -> str:
            if change == 0:
                return ""
            return "better" if (change > 0) != lower_is_better else "worse"

        deltas = []
        for col, label in (("previous", f"prior {window} mo"), ("year_ago", "a year earlier")):
            prev = row[col]
            if pd.isna(prev) or pd.isna(row["current"]):
                continue
            if kind == "share":
                diff = round(100 * (row["current"] - prev))
                deltas.append(Delta(tone(diff), f"{diff:+d} pts", f" vs {label}"))
            else:
                shown = _fmt(prev, kind, threshold)
                # no colour beside a small count: better or worse would tell its difference
                hidden = any(is_small_cell(v, threshold=threshold) for v in (row["current"], prev))
                change = 0 if hidden else row["current"] - prev
                deltas.append(Delta(tone(change), shown, f" {label}"))
        cards.append(Card(_text(row["measure"]), _fmt(row["current"], kind, threshold), deltas))
    return cards


def _kind_of(frame: pd.DataFrame, column: str) -> str:
    """How to show a column: shares and rates as percentages, amounts as money, counts."""
    name = column.lower()
    if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(
        frame[column]
    ):
        return "text"
    if any(k in name for k in ("share", "rate", "change", "pct", "risk")):
        return "share"
    if "amount" in name:
        return "money"
    return "count"


def _auto_table(
    frame: pd.DataFrame | None, threshold: int, *, limit: int | None = 20
) -> Table | None:
    if frame is None:
        return None
    cols = [(c, c.replace("_", " ").capitalize(), _kind_of(frame, c)) for c in frame.columns]
    return _table(frame, cols, threshold=threshold, limit=limit)


@dataclass
class Effect:
    """The outreach effect in words: its figures formatted (`estimate` None when unknown)."""

    estimate: str | None = None
    low: str = ""
    high: str = ""
    treated: str = ""
    control: str = ""
    warning: str = ""


def _effect(effect: Any) -> Effect:
    warning = _text(effect.warning) if effect.warning else ""
    if effect.estimate is None or (
        isinstance(effect.estimate, float) and math.isnan(effect.estimate)
    ):
        return Effect(warning=warning)
    return Effect(
        estimate=f"{100 * effect.estimate:+.0f} %",
        low=f"{100 * effect.ci_low:+.0f} %",
        high=f"{100 * effect.ci_high:+.0f} %",
        treated=f"{effect.n_treated:,}",
        control=f"{effect.n_control:,}",
        warning=warning,
    )
