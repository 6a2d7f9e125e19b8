"""The report page's renderer before templates (commit e020872), kept as the oracle.

A verbatim copy of ``referral_graph/report/_html.py`` and ``_page.py`` as they
were when the page was built by appending HTML strings; only their imports are
joined. ``tests/test_pages.py`` renders the same reports with it and with
the templates and checks that a browser reads the same page. Once the page is
meant to change (issue 17: tables that sort and filter, links to profiles), the
comparison no longer holds: retire this file with it, or change the copy in the
same commit as the templates and say why.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from referral_graph._version import __version__
from referral_graph.privacy import DEFAULT_THRESHOLD, format_count
from referral_graph.report import Report
from referral_graph.report._changes import CHANGES

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
                # changed on purpose (6 Dec 2026): no colour beside a small count
                hidden = any(0 < v < threshold for v in (row["current"], prev))
                change = 0 if hidden else row["current"] - prev
                deltas.append(f'<span class="{tone(change)}">{shown}</span> {label}')
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


COMPLIANCE = (
    "This report supports care coordination and relationship repair: understanding where "
    "patients go, which relationships need attention, and whether outreach helps patients "
    "reach the right care. It does not compute, and must not be used to set, compensation, "
    "gifts or bonuses tied to the volume or value of referrals (Physician Self-Referral Law / "
    "Stark law; Anti-Kickback Statute). All figures are aggregated; counts from 1 to "
    "{small} are shown as “<{threshold}”."
)


def _note(report: Report, section: str) -> str:
    text = report.notes.get(section)
    return f'<p class="note">{_esc(text)}</p>' if text else ""


def render_html(report: Report, *, threshold: int = DEFAULT_THRESHOLD, window: int = 3) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no script).

    Every count goes through :func:`referral_graph.privacy.format_count`.
    """
    t = report.tables
    period = (
        f"{report.period[0]:%d %b %Y} – {report.period[1]:%d %b %Y}"
        if report.period is not None
        else "no dates in the data"
    )
    sections = [
        ("since", "Since the last report"),
        ("headline", "Headline"),
        ("key-referrers", "Key referrers"),
        ("leakage", "Leakage"),
        ("at-risk", "At-risk ties"),
        ("outreach-list", "This week's outreach list"),
        ("prospects", "Prospects"),
        ("outreach-impact", "Outreach impact"),
        ("trends", "Monthly trends"),
        ("views", "Network views"),
    ]
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_esc(report.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_esc(report.title)}</h1>",
        f'<p class="sub">Focus: <b>{_esc(report.focus)}</b> ({len(report.focus_ids):,} '
        f"providers) · Data: {period} · Made with referral_graph {__version__}</p>",
        "<nav>"
        + "".join(f'<a href="#{sid}">{_esc(name)}</a>' for sid, name in sections)
        + "</nav>",
    ]
    if report.validation:
        out.append(
            '<p class="sub">Input: ' + " · ".join(_esc(v) for v in report.validation) + "</p>"
        )

    out.append(_since_section(report, threshold=threshold))

    out.append('<h2 id="headline">Headline</h2>')
    out.append(_note(report, "headline"))
    if not report.headline.empty:
        out.append(
            f'<p class="sub">Last {window} complete months of data, outside referrers, '
            "in the focus organisation's specialties.</p>"
        )
        out.append(_cards(report.headline, threshold=threshold, window=window))

    out.append('<h2 id="key-referrers">Key referrers</h2>')
    out.append(
        '<p class="sub">Outside providers ranked by referrals to us, relationship '
        "strength, share of wallet, trend and network influence (every criterion "
        "shown).</p>"
    )
    out.append(
        _table(
            t.get("key_referrers", pd.DataFrame()),
            [
                ("rank", "#", "text"),
                ("name", "Referrer", "text"),
                ("specialty", "Specialty", "text"),
                ("organization", "Practice", "text"),
                ("to_focus", "Referrals to us", "count"),
                ("share", "Share of wallet", "share"),
                ("segment", "Segment", "text"),
                ("strength", "Strength", "score"),
                ("trend", "Trend (0.5 = flat)", "float"),
                ("top_competitor", "Main competitor", "text"),
                ("rank_score", "Score", "score"),
            ],
            threshold=threshold,
            limit=25,
        )
    )

    out.append('<h2 id="leakage">Leakage</h2>')
    out.append("<h3>By specialty</h3>")
    out.append(_auto_table(t.get("leakage_by_specialty"), threshold))
    out.append("<h3>By competitor</h3>")
    out.append(_auto_table(t.get("leakage_by_competitor"), threshold))

    out.append('<h2 id="at-risk">At-risk ties</h2>')
    out.append(_note(report, "at_risk"))
    if "at_risk" in t:
        risk = _with_names(t["at_risk"], report, t)
        if "flagged" in risk:  # marked on the rows, not only counted above the table
            risk = risk.assign(flag=risk["flagged"].map({True: "flagged", False: ""}))
        ranked_by = t["at_risk"].attrs.get("ranking", "model")
        order = (
            "ranked by the model: churn probabilities, in the order of the model's ranking "
            "(the note below says how it is made), × referrals at stake over the horizon"
            if ranked_by == "model"
            else "ranked as the note below says (the rank of its score × referrals at stake)"
        )
        out.append(
            f'<p class="sub">Ties into the focus organisation, {order}. Flagged: '
            f"{int(risk['flagged'].sum()) if 'flagged' in risk else 0:,}.</p>"
        )
        out.append(_note(report, "ranking"))
        out.append(
            _table(
                risk,
                [
                    ("flag", "Flag", "text"),
                    ("source_name", "Referrer", "text"),
                    ("target_name", "Our provider", "text"),
                    ("priority_index", "Priority (100 = first)", "text"),
                    ("risk", "Churn risk", "prob"),
                    ("at_stake", "At stake", "count"),
                    ("expected_loss", "Expected loss", "count"),
                    ("reasons", "Why", "text"),
                ],
                threshold=threshold,
                limit=40,
            )
        )

    out.append(_note(report, "backtest"))
    if "backtest" in t:
        bt = t["backtest"]
        out.append(
            "<h3>How far to trust the flags</h3>"
            '<p class="sub">The model, re-trained at earlier months and scored on what happened '
            "next (rolling-origin backtest), against the simple sorts a liaison could do by "
            "hand: days since the last referral, the same against the tie's usual gap, volume "
            "against the 12-month average, fall in share of the referrer's referrals. Three "
            "model families are tried (a logistic regression, gradient-boosted trees and their "
            "mean); the model row is the family chosen before each month from the months "
            "already known, so it measures the choice honestly. Higher is better.</p>"
        )
        from referral_graph.churn import rule_margins  # scikit-learn: imported when used

        out.append(_margins_paragraph(rule_margins(bt)))
        bt = bt.assign(method=bt["method"].map(lambda m: _METHOD_NAMES.get(m, m)))
        columns = [("method", "Method", "text"), ("roc_auc", "ROC-AUC", "float")]
        columns += [
            (c, c.replace("_", " ").replace("at ", "@"), "share")
            for c in bt.columns
            if c.startswith("precision_at_")
        ]
        columns += [("top_decile_lift", "Top-decile lift", "float")]
        out.append(_table(bt, columns, threshold=threshold))

    out.append('<h2 id="outreach-list">This week\'s outreach list</h2>')
    out.append(_note(report, "outreach_list"))
    if "outreach_list" in t:
        out.append(
            f'<p class="sub">Up to {report.capacity} visits, chosen by priority (expected '
            "loss 2/3, relationship value 1/3), then grouped by town and practice so that "
            "visits can be batched: # is the visiting order, highest priority first within "
            "each practice; the priority column compares them across the list.</p>"
        )
        ol = t["outreach_list"].assign(
            place=lambda f: (
                f["town"].fillna("Unknown town").astype(str)
                + " · "
                + f["practice"].fillna("independent").astype(str)
            )
        )
        out.append(
            _table(
                ol,
                [
                    ("visit_order", "#", "text"),
                    ("name", "Referrer", "text"),
                    ("specialty", "Specialty", "text"),
                    ("ties_at_risk", "Ties at risk", "text"),
                    ("priority", "Priority (percentile)", "share"),
                    ("expected_loss", "Expected loss", "count"),
                    ("reason", "Why", "text"),
                    ("talking_point", "Talking point", "text"),
                ],
                threshold=threshold,
                group_by="place",
            )
        )

    out.append('<h2 id="prospects">Prospects</h2>')
    out.append(_note(report, "prospects"))
    if "prospects" in t:
        out.append(
            '<p class="sub">Providers who refer our specialties elsewhere but not to us, '
            "and second-degree opportunities near our loyal referrers "
            "(link-prediction score).</p>"
        )
        prospects = _with_names(t["prospects"], report, t, id_col="id")
        prospects["kind"] = prospects["kind"].astype(str).str.replace("_", " ")
        out.append(
            _table(
                prospects,
                [
                    ("rank", "#", "text"),
                    ("id_name", "Provider", "text"),
                    ("kind", "Kind", "text"),
                    ("specialties", "Our specialties they refer elsewhere", "text"),
                    ("referrals_to_competitors", "Referrals to competitors", "count"),
                    ("top_competitor", "Main competitor", "text"),
                    ("via", "Via", "text"),
                    ("score", "Score", "float"),
                ],
                threshold=threshold,
                limit=25,
            )
        )

    out.append('<h2 id="outreach-impact">Outreach impact</h2>')
    out.append(_note(report, "outreach_impact"))
    if report.effect is not None:
        out.append(_effect_html(report.effect))
        if "liaisons" in t:
            out.append(_auto_table(t["liaisons"], threshold, limit=None))

    out.append('<h2 id="trends">Monthly trends</h2>')
    out.append(_note(report, "trends"))
    if report.monthly is not None and len(report.monthly):
        m = report.monthly
        out.append(
            _line_chart(
                m["month"],
                {"Referrals to us": m["to_focus"], "Referrals to competitors": m["to_competitors"]},
                threshold=threshold,
                title="Referrals in our specialties: us vs competitors",
            )
        )
        segs = {
            f"{s.capitalize()}s": m[f"to_focus_{s}"]
            for s in ("loyalist", "splitter", "dissenter")
            if f"to_focus_{s}" in m
        }
        if segs:
            out.append(
                _line_chart(
                    m["month"],
                    segs,
                    threshold=threshold,
                    title="Referrals to us by referrer segment",
                )
            )
        out.append(
            '<p class="sub">Months with 1 to '
            f"{threshold - 1} referrals are not drawn (small-cell suppression).</p>"
        )

    out.append('<h2 id="views">Network views</h2>')
    if report.views:
        out.append(
            "<ul>"
            + "".join(
                f'<li><a href="{_esc(path)}">{_esc(name)}</a></li>'
                for name, path in report.views.items()
            )
            + "</ul>"
        )
        out.append('<p class="sub">Interactive pages beside this report; they open offline.</p>')
    else:
        out.append('<p class="note">No views written.</p>')

    out.append(
        "<footer><b>Compliance and privacy.</b> "
        + _esc(COMPLIANCE.format(small=threshold - 1, threshold=threshold))
        + (" " + _esc(report.notes["suppression"]) if report.notes.get("suppression") else "")
        + "</footer></main></body></html>"
    )
    return "".join(out)


def _since_section(report: Report, *, threshold: int) -> str:
    """ "Since the last report": one line per kind of change, then the changes in words."""
    out = ['<h2 id="since">Since the last report</h2>', _note(report, "changes")]
    previous, record = report.previous, report.record
    changes = report.tables.get("changes")
    if previous is None or record is None or changes is None:
        return "".join(out)
    made = f" of {previous.made_at:%d %b %Y}" if previous.made_at is not None else ""
    out.append(
        f'<p class="sub">Compared with the report{made} on data to '
        f"{previous.data_end:%d %b %Y} (this one: data to {record.data_end:%d %b %Y}). "
        f"Referrals to us are counted over the last {record.window} months of data of each "
        "report; the rows are in changes.csv.</p>"
    )
    if changes.empty:
        out.append('<p class="note">Nothing changed in the lists this report shows.</p>')
        return "".join(out)
    counts = changes["change"].value_counts()
    out.append(
        '<p class="sub">'
        + " · ".join(
            f"{_esc(label)}: {int(counts[kind]):,}"
            for kind, label in CHANGES.items()
            if kind in counts.index
        )
        + "</p>"
    )
    per_kind = 10
    shown = changes.groupby("change", sort=False).head(per_kind)
    shown = shown.assign(kind=shown["change"].map(CHANGES))
    out.append(
        _table(shown, [("what", "What changed", "text")], threshold=threshold, group_by="kind")
    )
    if len(shown) < len(changes):
        out.append(
            f'<p class="sub">Showing up to {per_kind} rows of each kind; all '
            f"{len(changes):,} are in changes.csv.</p>"
        )
    return "".join(out)


def _with_names(
    frame: pd.DataFrame,
    report: Report,
    tables: Mapping[str, pd.DataFrame],
    *,
    id_col: str | None = None,
) -> pd.DataFrame:
    providers = tables.get("providers")
    if providers is None or "name" not in providers:
        names: pd.Series = pd.Series(dtype="str")
    else:
        names = providers.drop_duplicates("id").set_index("id")["name"]
    out = frame.copy()
    for col in [id_col] if id_col else ["source", "target"]:
        if col in out:
            out[f"{col}_name"] = out[col].map(names).fillna(out[col])
    return out


#: How the backtest's methods other than the rules are named on the page.
_METHOD_NAMES = {
    "model": "model (the family chosen)",
    "blend": "blend of the model and the best rule",
    "logistic": "family: logistic regression",
    "gbm": "family: gradient-boosted trees",
    "ensemble": "family: mean of the two",
}

#: How each backtest measure is named on the page.
_MEASURE_NAMES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "top_decile_lift": "top-decile lift"}


def _measure_name(measure: str) -> str:
    return _MEASURE_NAMES.get(measure, measure.replace("precision_at_", "precision@"))


def _margins_paragraph(margins: pd.DataFrame) -> str:
    """The best rule on this data and the model's margin over it, in plain words."""
    if margins.empty or margins["best_rule"].isna().all():
        return ""
    first = margins.iloc[0]
    one_rule = margins["best_rule"].nunique() == 1
    parts = ", ".join(
        f"{_measure_name(str(r.measure))} {r.margin:+.2f}"
        + ("" if one_rule else f" (against {r.best_rule})")
        for r in margins.itertuples(index=False)
    )
    if bool((margins["margin"] > 0).all()):
        parts += ": the model is ahead on every measure"
    behind = margins[margins["measure"].str.startswith("precision_at_") & ~(margins["margin"] > 0)]
    text = (
        f"<p>The strongest simple rule on this data is <b>{escape(str(first.best_rule))}</b> "
        f"({_measure_name(str(first.measure))} {first.rule:.2f}). The model's margin over "
        f"{'it' if one_rule else 'the best rule'} on each measure: {escape(parts)}.</p>"
    )
    if len(behind):
        rules = ", ".join(sorted(set(behind["best_rule"].astype(str))))
        text += (
            "<p><b>At the top of the list the model does not beat the rules</b> "
            f"({escape(', '.join(_measure_name(str(m)) for m in behind['measure']))}): "
            f"sorting the active ties by {escape(rules)} finds as many of the ties that "
            "will be lost among the first ones. Read the list with that in mind.</p>"
        )
    return text
