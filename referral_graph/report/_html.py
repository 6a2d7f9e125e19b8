"""The page's building blocks: inline CSS, formatted cells, tables, SVG charts and cards.

Each returns a piece of HTML (a string); every count goes through
:func:`referral_graph.privacy.format_count`. :mod:`._page` puts them together.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from referral_graph.privacy import format_count

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}main{max-width:1180px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:36px 0 8px;padding-top:8px;
border-top:2px solid #e4e7eb}h3{font-size:15px;margin:18px 0 6px}.sub{color:#52606d;margin:0}
nav a{margin-right:14px;color:#2f6fad;text-decoration:none;font-size:14px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{border:1px solid #e4e7eb;border-radius:8px;padding:12px 14px;background:#fbfcfd}
.card .label{font-size:13px;color:#52606d}.card .value{font-size:26px;font-weight:600}
.card .delta{font-size:12px;color:#52606d}.better{color:#1e7b34}.worse{color:#b42318}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 4px}
th,td{border-bottom:1px solid #e4e7eb;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fff8e6;border-left:4px solid #f0b429;padding:8px 12px;font-size:14px}
.group td{background:#f0f4f8;font-weight:600}footer{margin-top:40px;font-size:13px;color:#52606d;
border-top:2px solid #e4e7eb;padding-top:12px}svg text{font-size:11px;fill:#52606d}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
"""

_PALETTE = ["#2f6fad", "#d64545", "#3f9142", "#f0b429", "#7b61a8", "#52606d"]


def _esc(value: Any) -> str:
    return html.escape(
        "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    )


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
    return _esc(value)


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
) -> str:
    """An HTML table; `columns` = (column, heading, kind).

    A ``name`` column shows the provider's id (``source`` or ``id``) where the
    name is missing, and is added from the id when the table has no names at all.
    """
    frame = _names_or_ids(frame, columns)
    present = [(c, h, k) for c, h, k in columns if c in frame.columns]
    if frame.empty or not present:
        return '<p class="note">Nothing to show.</p>'
    rows = frame.head(limit) if limit else frame
    head = "".join(f"<th>{_esc(h)}</th>" for _, h, _ in present)
    body = []
    last_group: Any = object()
    for _, row in rows.iterrows():
        if group_by is not None and row.get(group_by) != last_group:
            last_group = row.get(group_by)
            body.append(
                f'<tr class="group"><td colspan="{len(present)}">'
                f"{_esc(last_group) or 'Unknown'}</td></tr>"
            )
        cells = []
        for c, _, k in present:
            cls = (
                ' class="num"' if k in ("count", "share", "prob", "score", "float", "money") else ""
            )
            cells.append(
                f"<td{cls}>{_fmt(row[c], k, threshold) if k != 'text' else _esc(row[c])}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if limit and len(frame) > limit:
        more = f'<p class="sub">Showing {limit:,} of {len(frame):,} rows (all in the CSV).</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _line_chart(
    months: pd.Series, series: Mapping[str, pd.Series], *, threshold: int, title: str
) -> str:
    """An inline SVG line chart; points below the small-cell threshold are not drawn."""
    width, height, left, bottom, top, right = 1000, 260, 56, 30, 14, 12
    values = [s.astype("float64").where(s >= threshold) for s in series.values()]
    ymax = max([float(v.max()) for v in values if v.notna().any()] + [threshold])
    n = len(months)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / ymax)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{_esc(title)}">'
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1.0):
        yy = y(ymax * frac)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e4e7eb"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{format_count(round(ymax * frac), threshold=1)}</text>"
        )
    step = max(1, n // 12)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">'
            f"{pd.Timestamp(months.iloc[i]):%b %y}</text>"
        )
    for color, values_i in zip(_PALETTE, values, strict=False):
        segments: list[list[str]] = [[]]
        for i, v in enumerate(values_i.tolist()):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                segments.append([])
                continue
            segments[-1].append(f"{x(i):.1f},{y(float(v)):.1f}")
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2.2" '
                    f'points="{" ".join(seg)}"/>'
                )
            elif len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{c}"></i>{_esc(name)}</span>'
        for c, name in zip(_PALETTE, series, strict=False)
    )
    return f'<h3>{_esc(title)}</h3><div class="legend">{legend}</div>{"".join(parts)}'


_LOWER_IS_BETTER = {"Leakage to competitors", "Lost referrers"}


def _cards(headline: pd.DataFrame, *, threshold: int, window: int) -> str:
    cards = []
    for _, row in headline.iterrows():
        kind = "share" if row["unit"] == "share" else "count"
        lower_is_better = row["measure"] in _LOWER_IS_BETTER

        def tone(change: float, lower_is_better: bool = lower_is_better) -> str:
            if change == 0:
                return ""
            return "better" if (change > 0) != lower_is_better else "worse"

        value = _fmt(row["current"], kind, threshold)
        deltas = []
        for col, label in (("previous", f"prior {window} mo"), ("year_ago", "a year earlier")):
            prev = row[col]
            if pd.isna(prev) or pd.isna(row["current"]):
                continue
            if kind == "share":
                diff = round(100 * (row["current"] - prev))
                deltas.append(f'<span class="{tone(diff)}">{diff:+d} pts</span> vs {label}')
            else:
                shown = _fmt(prev, kind, threshold)
                deltas.append(f'<span class="{tone(row["current"] - prev)}">{shown}</span> {label}')
        cards.append(
            f'<div class="card"><div class="label">{_esc(row["measure"])}</div>'
            f'<div class="value">{value}</div>'
            f'<div class="delta">{"<br>".join(deltas)}</div></div>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


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


def _auto_table(frame: pd.DataFrame | None, threshold: int, *, limit: int | None = 20) -> str:
    if frame is None:
        return '<p class="note">Nothing to show.</p>'
    cols = [(c, c.replace("_", " ").capitalize(), _kind_of(frame, c)) for c in frame.columns]
    return _table(frame, cols, threshold=threshold, limit=limit)


def _effect_html(effect: Any) -> str:
    if effect.estimate is None or (
        isinstance(effect.estimate, float) and math.isnan(effect.estimate)
    ):
        text = "The effect could not be estimated."
    else:
        text = (
            f"Referrals to us changed by <b>{100 * effect.estimate:+.0f} %</b> after a first "
            f"visit, relative to comparable referrers who were not visited (95 % interval "
            f"{100 * effect.ci_low:+.0f} % to {100 * effect.ci_high:+.0f} %; "
            f"{effect.n_treated:,} visited and {effect.n_control:,} comparison referrers; "
            "difference-in-differences)."
        )
    warn = f'<p class="note">{_esc(effect.warning)}</p>' if effect.warning else ""
    return f"<p>{text}</p>{warn}"
