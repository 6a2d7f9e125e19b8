"""Computing the report's sections: every table, the outreach list and its talking points."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referral_graph._report_at_risk import AtRisk as _AtRisk
from referral_graph._report_at_risk import at_risk_tables as _at_risk_tables
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import DEFAULT_THRESHOLD
from referral_graph.report._changes import _namer, _record_of, what_changed
from referral_graph.report._headline import (
    _check_window,
    _focus_market,
    _headline,
    _monthly,
    _recent_to_focus,
)
from referral_graph.report._model import Report
from referral_graph.store import ReportRecord


def _require_focus(focus: str | None, focus_ids: Iterable[str] | None) -> None:
    if focus is None and focus_ids is None:
        raise ParameterError("The report needs a focus organisation: give focus= or focus_ids=.")


_TALKING_POINTS = (
    (
        ("moving to", "gained", "competitor", "share of"),
        "Ask what draws patients to {competitor}; review access, wait times and how we report "
        "back on shared patients.",
    ),
    (
        ("no referral", "lapsed", "since", "gap"),
        "Reconnect: ask whether anything changed (staffing, scheduling, a patient's experience) "
        "and offer a direct scheduling line.",
    ),
    (
        ("total", "declin", "everywhere", "overall"),
        "The practice's own volume is falling: ask about changes there and how we can support "
        "care coordination.",
    ),
    (
        ("down", "fell", "drop", "trend"),
        "Review recent shared patients together: communication, reports back and any feedback.",
    ),
)


def talking_point(reason: str, *, competitor: str | None = None) -> str:
    """A suggested talking point for a visit, from an at-risk reason.

    Examples
    --------
    >>> point = talking_point("share of Dr X's referrals fell: referrals are moving to Rival Heart")
    >>> point.startswith("Ask what draws patients to Rival Heart;")
    True
    """
    text = reason.lower()
    if competitor is None:
        found = re.search(r"moving to ([^;.]+)", reason)
        competitor = found.group(1).strip() if found else None
    for keys, point in _TALKING_POINTS:
        if any(k in text for k in keys):
            return point.format(competitor=competitor or "other providers")
    return "Check in on the relationship and ask for feedback on recent referrals."


def outreach_list(
    at_risk: pd.DataFrame,
    providers: pd.DataFrame,
    *,
    key_referrers: pd.DataFrame | None = None,
    capacity: int = 25,
) -> pd.DataFrame:
    """This week's visits: referrers ranked by expected loss and relationship value.

    One row per referrer (a referrer with several at-risk ties is one visit):
    ``priority`` = 2/3 × percentile of the referrer's summed expected loss +
    1/3 × percentile of its key-referrer score (relationship value; 0 when
    unknown). The top `capacity` referrers are kept and ordered by town and
    practice so that visits can be batched.

    Returns
    -------
    pandas.DataFrame
        ``visit_order``, ``town``, ``practice``, ``source``, ``name``,
        ``specialty``, ``ties_at_risk``, ``at_stake``, ``expected_loss``,
        ``max_risk``, ``relationship_value``, ``priority``, ``reason``,
        ``talking_point``.
    """
    if capacity < 1:
        raise ParameterError(f"The 'capacity' parameter must be an int >= 1. Got {capacity!r}.")
    if at_risk.empty:
        return pd.DataFrame(
            columns=[
                "visit_order",
                "town",
                "practice",
                "source",
                "name",
                "ties_at_risk",
                "expected_loss",
                "reason",
                "talking_point",
            ]
        )
    ranked = at_risk.sort_values("expected_loss", ascending=False, kind="stable")
    per = ranked.groupby("source", sort=False).agg(
        ties_at_risk=("target", "size"),
        at_stake=("at_stake", "sum"),
        expected_loss=("expected_loss", "sum"),
        max_risk=("risk", "max"),
        reason=("reasons", "first"),
    )
    per = per.reset_index()
    value = pd.Series(0.0, index=per.index)
    if key_referrers is not None and "rank_score" in key_referrers:
        scores = key_referrers.set_index("source")["rank_score"]
        value = per["source"].map(scores).fillna(0.0).astype("float64")
    per["relationship_value"] = value
    loss_pct = per["expected_loss"].rank(pct=True)
    value_pct = per["relationship_value"].rank(pct=True)
    per["priority"] = (2 / 3) * loss_pct + (1 / 3) * value_pct
    chosen = per.sort_values(["priority", "expected_loss"], ascending=False).head(capacity)
    info = providers.drop_duplicates("id").set_index("id")
    for col, src in (
        ("name", "name"),
        ("specialty", "specialty"),
        ("practice", "organization"),
        ("town", "city"),
    ):
        chosen[col] = chosen["source"].map(info[src]) if src in info else pd.NA
    chosen["talking_point"] = [
        talking_point(r if isinstance(r, str) else "") for r in chosen["reason"]
    ]
    chosen = chosen.sort_values(
        ["town", "practice", "priority"],
        ascending=[True, True, False],
        na_position="last",
        kind="stable",
    )
    chosen.insert(0, "visit_order", np.arange(1, len(chosen) + 1))
    cols = [
        "visit_order",
        "town",
        "practice",
        "source",
        "name",
        "specialty",
        "ties_at_risk",
        "at_stake",
        "expected_loss",
        "max_risk",
        "relationship_value",
        "priority",
        "reason",
        "talking_point",
    ]
    return chosen[cols].reset_index(drop=True)


def build_report(
    net: ReferralNetwork,
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
    activities: pd.DataFrame | None = None,
    capacity: int = 25,
    horizon: int = 3,
    window: int = 3,
    seed: int = 0,
    title: str | None = None,
    scores: Mapping[str, pd.DataFrame] | None = None,
    previous: ReportRecord | None = None,
    reuse: Mapping[str, str] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> Report:
    """Compute every section of the report.

    Parameters
    ----------
    net : ReferralNetwork
        From :func:`referral_graph.pipeline.load_network`.
    focus, focus_ids
        The focus organisation (name, or provider ids); one is required.
    activities : pandas.DataFrame, optional
        Outreach log (``date``, ``provider``, ``liaison``, ``kind``).
    capacity : int, default 25
        Visits a liaison can make (length of the outreach list; ``k`` of
        the at-risk flags).
    horizon : int, default 3
        Months ahead of the at-risk prediction.
    window : int, default 3
        Months of the headline periods.
    seed : int, default 0
        Seed of the model fits, the communities and the samples.
    title : str, optional
        The page's title; by default one names the focus organisation.
    scores : mapping of name to DataFrame, optional
        The tables of :func:`referral_graph.scores.score_network` for this
        network and focus, when they are computed already (used as given, not
        copied); by default they are computed here.
    previous : ReportRecord, optional
        The record of an earlier report on the same focus
        (:meth:`referral_graph.store.ReferralStore.last_report`): the report then
        says what changed since (:func:`what_changed`, table ``changes``).
    reuse : mapping of str to str, optional
        The test cutoffs of earlier backtests on the same data
        (:meth:`referral_graph.store.ReferralStore.backtest_folds`): those unchanged
        are not fitted again (:func:`referral_graph.churn.backtest`); the same results.
    threshold : int, default 11
        Small-cell threshold of the words of the ``changes`` table.

    Returns
    -------
    Report
        The tables, notes and views of the report, ready for :func:`write_report`.
    """
    return _build_report(
        net,
        focus=focus,
        focus_ids=focus_ids,
        activities=activities,
        capacity=capacity,
        horizon=horizon,
        window=window,
        seed=seed,
        title=title,
        scores=scores,
        at_risk_of=None,
        previous=previous,
        reuse=reuse,
        threshold=threshold,
    )


def _build_report(
    net: ReferralNetwork,
    *,
    focus: str | None,
    focus_ids: Iterable[str] | None,
    activities: pd.DataFrame | None,
    capacity: int,
    horizon: int,
    window: int,
    seed: int,
    title: str | None,
    scores: Mapping[str, pd.DataFrame] | None,
    at_risk_of: Callable[[], _AtRisk] | None,
    previous: ReportRecord | None = None,
    reuse: Mapping[str, str] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    meanwhile: Callable[[Report], object] | None = None,
) -> Report:
    """:func:`build_report`; `at_risk_of` gives the at-risk tables when they are computed
    elsewhere (:func:`_at_risk_tables` in a worker process), else they are computed here.
    `meanwhile` is called with the report once its headline and prospects are built,
    before the at-risk tables are taken: work that needs none of them, done while they
    are computed elsewhere."""
    from referral_graph import leakage
    from referral_graph.scores import score_network

    _require_focus(focus, focus_ids)
    ids = leakage.resolve_focus(net.providers, focus=focus, focus_ids=focus_ids)
    label = focus if focus is not None else _focus_label(net.providers, ids)
    if scores is None:
        scores = score_network(net, focus_ids=ids, seed=seed)
    report = Report(
        title=title or f"Referral report — {label}",
        focus=label,
        focus_ids=ids,
        period=net.period,
        headline=pd.DataFrame(),
        capacity=capacity,
        validation=[_report_line(r) for r in net.reports],
    )
    report.tables.update(scores)
    no_dates = (
        "Needs dated referrals (events with dates, or an edge file with a period column); "
        "this data has none."
    )
    if net.panel is None:
        for section in (
            "changes",
            "headline",
            "at_risk",
            "outreach_list",
            "trends",
            "outreach_impact",
        ):
            report.notes[section] = no_dates
    else:
        _check_window(window)
        # headline_figures and monthly_series on one selection of the market
        market = _focus_market(net.panel, net.providers, ids)
        report.headline = _headline(market, window=window, as_of=None)
        report.monthly = _monthly(market, segments=scores.get("share_of_wallet"))
        recent = _recent_to_focus(market, window=window)
        del market
        report.tables["monthly_trend"] = report.monthly
        report.tables["headline"] = report.headline
    # the prospects first: they do not wait for the at-risk work when it runs elsewhere
    _prospects_section(report, net, ids)
    if meanwhile is not None:
        meanwhile(report)
    if net.panel is not None:
        computed = (
            at_risk_of()
            if at_risk_of is not None
            else _at_risk_tables(
                net.panel,
                net.providers,
                ids,
                capacity=capacity,
                horizon=horizon,
                seed=seed,
                reuse=reuse,
            )
        )
        _at_risk_sections(report, net, computed, capacity=capacity)
    if activities is not None:
        _outreach_section(report, net, ids, activities, seed=seed)
    else:
        report.notes["outreach_impact"] = report.notes.get(
            "outreach_impact",
            "No activity log given (CLI: --activities FILE with date, provider, liaison, kind).",
        )
    if net.panel is not None:
        report.record = _record_of(
            report.tables,
            focus=label,
            focus_ids=ids,
            ties=net.ties,
            recent=recent,
            data_end=net.period[1] if net.period is not None else net.panel["month"].max(),
            window=window,
            capacity=capacity,
            horizon=horizon,
        )
        if computed.backtest is not None:  # for the next report's backtest to reuse
            report.record.folds = dict(computed.backtest.attrs.get("folds", {}))
        _changes_section(report, net, previous, activities, threshold=threshold)
    return report


def _focus_label(providers: pd.DataFrame, ids: list[str]) -> str:
    """The focus named by its first three providers (their names where the providers table
    has them, else their ids), for a focus given by ids."""
    shown = ids[:3]
    name = _namer(providers.loc[providers["id"].astype("str").isin(shown).to_numpy()])
    return ", ".join(name(i) for i in shown) + (" …" if len(ids) > 3 else "")


def _changes_section(
    report: Report,
    net: ReferralNetwork,
    previous: ReportRecord | None,
    activities: pd.DataFrame | None,
    *,
    threshold: int,
) -> None:
    """The "Since the last report" section: `previous` against this report's record."""
    if previous is None or report.record is None:
        return
    if sorted(previous.focus_ids) != sorted(report.focus_ids):
        report.notes["changes"] = (
            f"The last report recorded was on another focus ({previous.focus}): nothing to "
            "compare with."
        )
        return
    report.previous = previous
    report.tables["changes"] = what_changed(
        previous, report.record, providers=net.providers, activities=activities, threshold=threshold
    )


def _report_line(report: Any) -> str:
    excluded = report.excluded_by_reason
    line = f"{Path(report.name).name}: {report.rows_read:,} rows read"
    if excluded:
        line += "; excluded " + ", ".join(
            f"{v:,} ({k.replace('_', ' ')})" for k, v in excluded.items()
        )
    return line


def _at_risk_sections(
    report: Report, net: ReferralNetwork, computed: _AtRisk, *, capacity: int
) -> None:
    """The at-risk table, the backtest and the outreach list from `computed`."""
    report.notes.update(computed.notes)
    if computed.backtest is not None:
        report.tables["backtest"] = computed.backtest
        report.margins = computed.margins
    risk = computed.risk
    if risk is None:
        return
    report.tables["at_risk"] = risk
    # Liaisons visit outside referrers: the focus's own providers stay in the at-risk table only.
    # The visit list draws on the outside ties with the highest expected loss (a pool of four
    # ties per visit), then ranks referrers by their summed loss and relationship value.
    outside = risk.loc[~risk["internal"].to_numpy()]
    if risk.attrs["ranking"] == "model":  # at_risk says which ranking ordered it
        pool = outside.sort_values("expected_loss", ascending=False, kind="stable")
    else:  # the list's own order: the blend or the rule that the backtest chose
        pool = outside.sort_values("rank", kind="stable")
    pool = pool.head(4 * capacity)
    report.tables["outreach_list"] = outreach_list(
        pool,
        net.providers,
        key_referrers=report.tables.get("key_referrers"),
        capacity=capacity,
    )


def _prospects_section(report: Report, net: ReferralNetwork, ids: list[str]) -> None:
    from referral_graph import prospects

    try:
        report.tables["prospects"] = prospects.prospects(
            net.ties, net.providers, ids, panel=net.panel
        )
    except InsufficientDataError as exc:
        report.notes["prospects"] = str(exc)


def _outreach_section(
    report: Report, net: ReferralNetwork, ids: list[str], activities: pd.DataFrame, *, seed: int
) -> None:
    from referral_graph import outreach

    if net.panel is None:
        return
    try:
        effect = outreach.outreach_effect(
            net.panel, activities, ids, seed=seed, providers=net.providers
        )
    except InsufficientDataError as exc:
        report.notes["outreach_impact"] = str(exc)
        return
    report.effect = effect
    report.tables["outreach_effect"] = effect.to_frame()
    report.tables["liaisons"] = outreach.liaison_summary(activities, net.panel, ids)
