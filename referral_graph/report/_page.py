"""The report page: its sections, in order, assembled into one self-contained HTML page."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import pandas as pd

from referral_graph._version import __version__
from referral_graph.privacy import DEFAULT_THRESHOLD
from referral_graph.report._changes import CHANGES
from referral_graph.report._html import (
    _CSS,
    _auto_table,
    _cards,
    _effect_html,
    _esc,
    _line_chart,
    _table,
)
from referral_graph.report._model import Report

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
            "ranked by expected loss (churn probability × referrals at stake over the horizon)"
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
