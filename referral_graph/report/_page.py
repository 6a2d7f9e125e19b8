"""The report page: what each section shows, prepared as plain data and drawn by templates.

:func:`render_html` formats every figure (counts through
:func:`referral_graph.privacy.format_count`) and hands the values to the
Jinja2 template ``referral_graph/templates/report.html.j2`` (with the shared
layout ``base.html.j2``, the building blocks ``macros.html.j2`` and the
stylesheet ``page.css``; see :mod:`referral_graph._pages`), which escapes them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from referral_graph._pages import TABLES_SCRIPT, render
from referral_graph._version import __version__
from referral_graph.leakage import SEGMENTS
from referral_graph.privacy import DEFAULT_THRESHOLD
from referral_graph.report._blocks import (
    _auto_table,
    _cards,
    _effect,
    _line_chart,
    _table,
)
from referral_graph.report._changes import CHANGES
from referral_graph.report._model import Report

COMPLIANCE = (
    "This report supports care coordination and relationship repair: understanding where "
    "patients go, which relationships need attention, and whether outreach helps patients "
    "reach the right care. It does not compute, and must not be used to set, compensation, "
    "gifts or bonuses tied to the volume or value of referrals (Physician Self-Referral Law / "
    "Stark law; Anti-Kickback Statute). All figures are aggregated; counts from 1 to "
    "{small} are shown as “<{threshold}”."
)


def render_html(report: Report, *, threshold: int = DEFAULT_THRESHOLD, window: int = 3) -> str:
    """The report as one self-contained HTML page (inline CSS, SVG and script).

    Drawn by the template ``referral_graph/templates/report.html.j2``, which
    escapes every value. Every count goes through
    :func:`referral_graph.privacy.format_count`. The one script,
    ``referral_graph/templates/tables.js``, makes the tables sortable, searchable and
    paged; the page's Content-Security-Policy allows it by its hash, no other.
    """
    t = report.tables
    period = (
        f"{report.period[0]:%d %b %Y} – {report.period[1]:%d %b %Y}"
        if report.period is not None
        else "no dates in the data"
    )
    return render(
        "report.html.j2",
        scripts=[TABLES_SCRIPT],
        title=report.title,
        focus=report.focus,
        focus_size=f"{len(report.focus_ids):,} provider{'' if len(report.focus_ids) == 1 else 's'}",
        period=period,
        version=__version__,
        validation=list(report.validation),
        notes=defaultdict(str, report.notes),
        threshold=threshold,
        window=window,
        capacity=report.capacity,
        since=_since(report, threshold=threshold),
        cards=_cards(report.headline, threshold=threshold, window=window),
        key_referrers=_table(
            _competitor_names(t.get("key_referrers", pd.DataFrame()), "top_competitor", t),
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
            links=("name", "source", report.profiles),
        ),
        leakage_by_specialty=_auto_table(
            _competitor_names(t["leakage_by_specialty"], "top_competitor", t)
            if "leakage_by_specialty" in t
            else None,
            threshold,
        ),
        leakage_by_competitor=_auto_table(
            _competitor_names(t["leakage_by_competitor"], "competitor", t)
            if "leakage_by_competitor" in t
            else None,
            threshold,
        ),
        at_risk=_at_risk(report, threshold=threshold),
        backtest=_backtest(t.get("backtest"), report.margins, threshold=threshold),
        outreach_list=_outreach_list(
            t.get("outreach_list"), threshold=threshold, profiles=report.profiles
        ),
        prospects=_prospects(report, threshold=threshold),
        effect=_effect(report.effect) if report.effect is not None else None,
        liaisons=(
            {"table": _auto_table(t["liaisons"], threshold, limit=None)}
            if report.effect is not None and "liaisons" in t
            else None
        ),
        charts=_charts(report.monthly, threshold=threshold),
        views=list(report.views.items()),
        compliance=COMPLIANCE.format(small=threshold - 1, threshold=threshold),
    )


def _since(report: Report, *, threshold: int) -> dict[str, Any] | None:
    """ "Since the last report": one line per kind of change, then the changes in words."""
    previous, record = report.previous, report.record
    changes = report.tables.get("changes")
    if previous is None or record is None or changes is None:
        return None
    since: dict[str, Any] = {
        "made": f" of {previous.made_at:%d %b %Y}" if previous.made_at is not None else "",
        "previous_end": f"{previous.data_end:%d %b %Y}",
        "data_end": f"{record.data_end:%d %b %Y}",
        "window": record.window,
        "empty": changes.empty,
    }
    if changes.empty:
        return since
    counts = changes["change"].value_counts()
    per_kind = 10
    shown = changes.groupby("change", sort=False).head(per_kind)
    shown = shown.assign(kind=shown["change"].map(CHANGES))
    since["counts"] = [
        (label, f"{int(counts[kind]):,}") for kind, label in CHANGES.items() if kind in counts.index
    ]
    since["table"] = _table(
        shown, [("what", "What changed", "text")], threshold=threshold, group_by="kind"
    )
    since["more"] = (f"{per_kind}", f"{len(changes):,}") if len(shown) < len(changes) else None
    return since


def _at_risk(report: Report, *, threshold: int) -> dict[str, Any] | None:
    t = report.tables
    if "at_risk" not in t:
        return None
    risk = _with_names(t["at_risk"], report, t)
    if "flagged" in risk:  # marked on the rows, not only counted above the table
        risk = risk.assign(flag=risk["flagged"].map({True: "flagged", False: ""}))
    return {
        "by_model": t["at_risk"].attrs.get("ranking", "model") == "model",
        "flagged": f"{int(risk['flagged'].sum()) if 'flagged' in risk else 0:,}",
        "table": _table(
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
            links=("source_name", "source", report.profiles),
        ),
    }


def _backtest(
    bt: pd.DataFrame | None, computed: pd.DataFrame | None, *, threshold: int
) -> dict[str, Any] | None:
    """The backtest section; `computed` is ``rule_margins(bt)`` when computed already."""
    if bt is None:
        return None
    if computed is None:
        from referral_graph.churn import rule_margins  # scikit-learn: imported when used

        computed = rule_margins(bt)
    margins = _margins(computed)
    bt = bt.assign(method=bt["method"].map(lambda m: _METHOD_NAMES.get(m, m)))
    columns = [("method", "Method", "text"), ("roc_auc", "ROC-AUC", "float")]
    columns += [
        (c, c.replace("_", " ").replace("at ", "@"), "share")
        for c in bt.columns
        if c.startswith("precision_at_")
    ]
    columns += [("top_decile_lift", "Top-decile lift", "float")]
    return {"margins": margins, "table": _table(bt, columns, threshold=threshold)}


def _outreach_list(
    frame: pd.DataFrame | None, *, threshold: int, profiles: Mapping[str, str]
) -> dict[str, Any] | None:
    if frame is None:
        return None
    ol = frame.assign(
        place=lambda f: (
            f["town"].fillna("Unknown town").astype(str)
            + " · "
            + f["practice"].fillna("independent").astype(str)
        )
    )
    table = _table(
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
        group_search="town, practice",
        links=("name", "source", profiles),
    )
    return {"table": table}


def _prospects(report: Report, *, threshold: int) -> dict[str, Any] | None:
    t = report.tables
    if "prospects" not in t:
        return None
    prospects = _with_names(t["prospects"], report, t, id_col="id")
    prospects = _competitor_names(prospects, "top_competitor", t)
    prospects["kind"] = prospects["kind"].astype(str).str.replace("_", " ")
    table = _table(
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
        links=("id_name", "id", report.profiles),
    )
    return {"table": table}


def _charts(monthly: pd.DataFrame | None, *, threshold: int) -> list[Any]:
    """The monthly trend charts: us against competitors, then us by referrer segment."""
    if monthly is None or not len(monthly):
        return []
    m = monthly
    charts = [
        _line_chart(
            m["month"],
            {"Referrals to us": m["to_focus"], "Referrals to competitors": m["to_competitors"]},
            threshold=threshold,
            title="Referrals in our specialties: us vs competitors",
        )
    ]
    segs = {f"{s.capitalize()}s": m[f"to_focus_{s}"] for s in SEGMENTS if f"to_focus_{s}" in m}
    if segs:
        charts.append(
            _line_chart(
                m["month"], segs, threshold=threshold, title="Referrals to us by referrer segment"
            )
        )
    return charts


def _competitor_names(
    frame: pd.DataFrame, column: str, tables: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """`frame` with the competitors of `column` named: a competitor is an organisation
    (shown as it is) or, where the providers have none, a provider (shown by its name)."""
    if column not in frame:
        return frame
    return frame.assign(**{column: _named(frame[column], _provider_names(tables))})


def _with_names(
    frame: pd.DataFrame,
    report: Report,
    tables: Mapping[str, pd.DataFrame],
    *,
    id_col: str | None = None,
) -> pd.DataFrame:
    names = _provider_names(tables)
    out = frame.copy()
    for col in [id_col] if id_col else ["source", "target"]:
        if col in out:
            out[f"{col}_name"] = _named(out[col], names)
    return out


def _provider_names(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """The providers' names by id (empty without a ``name`` column)."""
    providers = tables.get("providers")
    if providers is None or "name" not in providers:
        return pd.Series(dtype="str")
    return providers.drop_duplicates("id").set_index("id")["name"]


def _named(values: pd.Series, names: pd.Series) -> pd.Series:
    """Each of `values` replaced by its name where `names` has one (else kept)."""
    return values.map(names).fillna(values)


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


@dataclass
class Margins:
    """The best simple rule on this data and the model's margin over it, in words."""

    best_rule: str
    measure: str
    rule: str
    one_rule: bool
    parts: str
    #: The measures at the top of the list where the model does not beat the rules ("" if none).
    behind: str
    behind_rules: str


def _margins(margins: pd.DataFrame) -> Margins | None:
    """The best rule on this data and the model's margin over it (the ``margins`` macro)."""
    if margins.empty or margins["best_rule"].isna().all():
        return None
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
    return Margins(
        best_rule=str(first.best_rule),
        measure=_measure_name(str(first.measure)),
        rule=f"{first.rule:.2f}",
        one_rule=bool(one_rule),
        parts=parts,
        behind=", ".join(_measure_name(str(m)) for m in behind["measure"]),
        behind_rules=", ".join(sorted(set(behind["best_rule"].astype(str)))),
    )
