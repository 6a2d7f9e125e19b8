"""The report: from referral data to this week's outreach plan, in one page.

:func:`write_report` computes every section, writes every table as CSV
(counts from 1 to 10 suppressed), the network views beside the report, and
one self-contained HTML page (inline CSS and SVG charts, no script, no
network request) that a liaison opens offline.

Sections
--------
* **Headline** — referrals received from outside referrers, active referring
  providers, share of wallet, leakage, new and lost referrers: the last
  ``window`` months (default 3) against the ``window`` months before and the
  same months a year earlier.
* **Key referrers** — :func:`referral_graph.leakage.key_referrers`.
* **Leakage** — by specialty and by competitor
  (:func:`referral_graph.leakage.leakage_summary`).
* **At-risk ties** — :func:`referral_graph.churn.at_risk` on ties into the
  focus organisation, with reasons and expected loss, and the model's
  backtest against simple rules (:func:`referral_graph.churn.backtest`).
* **This week's outreach list** — referrers ranked by the expected loss of
  their at-risk ties (two thirds) and the value of the relationship (one
  third, its key-referrer score), capped at the visit capacity, grouped by
  practice and town so visits can be batched, each with a talking point.
* **Prospects** — :func:`referral_graph.prospects.prospects`.
* **Outreach impact** — :func:`referral_graph.outreach.outreach_effect` when an
  activity log is given.
* **Trends** — monthly referrals to the focus vs competitors (in the focus
  specialties), and by referrer segment.
* **Network views** — pages written beside the report.

Sections that need dates say so on data without them (aggregated edge files).

The toolkit supports care coordination and relationship repair; it does not
compute compensation tied to referral volume or value (see
``docs/privacy.md``).
"""

from __future__ import annotations

import html
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes, _memo
from referral_graph._version import __version__
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.io import atomic_path
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import DEFAULT_THRESHOLD, format_count

__all__ = [
    "Report",
    "build_report",
    "headline_figures",
    "monthly_series",
    "outreach_list",
    "render_html",
    "talking_point",
    "write_report",
]

logger = logging.getLogger(__name__)

COMPLIANCE = (
    "This report supports care coordination and relationship repair: understanding where "
    "patients go, which relationships need attention, and whether outreach helps patients "
    "reach the right care. It does not compute, and must not be used to set, compensation, "
    "gifts or bonuses tied to the volume or value of referrals (Physician Self-Referral Law / "
    "Stark law; Anti-Kickback Statute). All figures are aggregated; counts from 1 to "
    "{small} are shown as “<{threshold}”."
)


@dataclass
class Report:
    """Everything the report shows.

    Attributes
    ----------
    title : str
    focus : str
        The focus organisation's name (or its ids).
    focus_ids : list of str
    period : tuple of Timestamp, or None
    headline : pandas.DataFrame
        ``measure``, ``current``, ``previous``, ``year_ago``, ``unit``.
    tables : dict of str to DataFrame
        Every table (written as CSV).
    notes : dict of str to str
        Per section: why it is empty or what limits it.
    effect : object or None
        The :class:`referral_graph.outreach.OutreachEffect`, when computed.
    monthly : pandas.DataFrame or None
        Monthly series for the charts.
    views : dict of str to str
        View name -> file name relative to the report.
    """

    title: str
    focus: str
    focus_ids: list[str]
    period: tuple[pd.Timestamp, pd.Timestamp] | None
    headline: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    effect: Any = None
    monthly: pd.DataFrame | None = None
    views: dict[str, str] = field(default_factory=dict)
    capacity: int = 25
    validation: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- computing


@dataclass(frozen=True)
class _Market:
    """Panel rows from outside referrers into the focus's specialties (or the focus itself).

    Arrays aligned by row: ``source`` (codes into ``referrers``), ``month`` (month
    numbers of :mod:`referral_graph.strength`), ``referrals`` and ``to_focus``;
    ``first`` is the panel's first month (of every row, in the market or not).
    """

    referrers: pd.Index
    source: npt.NDArray[np.intp]
    month: npt.NDArray[np.int64]
    referrals: npt.NDArray[np.int64]
    to_focus: npt.NDArray[np.bool_]
    first: int


def _focus_market(
    panel: pd.DataFrame, providers: pd.DataFrame, focus_ids: Sequence[str]
) -> _Market:
    """The focus's market as integer arrays.

    Ids are tested by membership (hash lookups) and referrers factorised once, so
    millions of panel rows cost about a second.
    """
    focus = pd.Index(list(focus_ids), dtype="str").unique()
    # Each id column factorised once (fast on Arrow strings); the tests run on the distinct ids.
    source, referrers = _memo.factorize(panel["source"])
    target, receivers = _memo.factorize(panel["target"])
    referrers = pd.Index(referrers, dtype="str")
    receivers = pd.Index(receivers, dtype="str")
    to_focus = (focus.get_indexer(receivers) >= 0)[target]
    keep = (focus.get_indexer(referrers) < 0)[source]
    if "specialty" in providers:
        table = providers.drop_duplicates("id").set_index("id")["specialty"]
        focus_specs = table.reindex(focus).dropna().unique()
        market_ids = pd.Index(table.index[table.isin(focus_specs).to_numpy()], dtype="str")
        keep &= (market_ids.get_indexer(receivers) >= 0)[target] | to_focus
    month = _codes.month_numbers(panel["month"])
    return _Market(
        referrers=referrers,
        source=source[keep],
        month=month[keep],
        referrals=panel["referrals"].to_numpy(dtype=np.int64)[keep],
        to_focus=to_focus[keep],
        first=int(month.min()) if len(month) else 0,
    )


def headline_figures(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Sequence[str],
    *,
    window: int = 3,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Headline figures for the last `window` months, the months before, and a year earlier.

    Parameters
    ----------
    panel : pandas.DataFrame
        Edge panel.
    providers : pandas.DataFrame
        Providers (``id``; ``specialty`` defines the focus's market).
    focus_ids : sequence of str
        The focus organisation's providers.
    window : int, default 3
        Months per period.
    as_of : Timestamp, optional
        First month after the current period; default: the month after the
        panel's last month.

    Returns
    -------
    pandas.DataFrame
        ``measure``, ``current``, ``previous``, ``year_ago`` (NaN when the
        data does not reach back), ``unit`` ("count" or "share").

    Examples
    --------
    >>> panel = pd.DataFrame({"source": ["A", "A", "B"], "target": ["F", "F", "R"],
    ...                       "month": pd.to_datetime(["2024-01-01", "2024-04-01", "2024-04-01"]),
    ...                       "referrals": [12, 20, 30]})
    >>> providers = pd.DataFrame({"id": ["A", "B", "F", "R"],
    ...                           "specialty": ["FM", "FM", "Cardiology", "Cardiology"]})
    >>> h = headline_figures(panel, providers, ["F"], window=2)
    >>> h.set_index("measure").loc["Referrals received", ["current", "previous"]].tolist()
    [20.0, 12.0]
    """
    _check_window(window)
    return _headline(_focus_market(panel, providers, focus_ids), window=window, as_of=as_of)


def _check_window(window: int) -> None:
    if window < 1:
        raise ParameterError(f"The 'window' parameter must be an int >= 1. Got {window!r}.")


def _require_focus(focus: str | None, focus_ids: Iterable[str] | None) -> None:
    if focus is None and focus_ids is None:
        raise ParameterError("The report needs a focus organisation: give focus= or focus_ids=.")


def _headline(market: _Market, *, window: int, as_of: pd.Timestamp | None) -> pd.DataFrame:
    month = market.month
    if as_of is not None:
        end = int(_codes.month_numbers(pd.Series([pd.Timestamp(as_of)]))[0])
    else:
        end = int(month.max()) + 1 if len(month) else market.first + 1
    first = market.first

    def referrers(rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Which referrers (by code) have a row among `rows`."""
        return np.bincount(market.source[rows], minlength=len(market.referrers)) > 0

    def period(start: int, stop: int) -> dict[str, float]:
        if start < first:
            return dict.fromkeys(_MEASURES, float("nan"))
        rows = (month >= start) & (month < stop)
        before = (month >= start - 12) & (month < start)
        to_focus = rows & market.to_focus
        received = float(market.referrals[to_focus].sum())
        total = float(market.referrals[rows].sum())
        active = referrers(to_focus)
        earlier = referrers(before & market.to_focus)
        enough_history = start - 12 >= first
        return {
            "Referrals received": received,
            "Active referring providers": float(active.sum()),
            "Share of wallet": received / total if total else math.nan,
            "Leakage to competitors": total - received,
            "New referrers": float((active & ~earlier).sum()) if enough_history else math.nan,
            "Lost referrers": float((earlier & ~active).sum()) if enough_history else math.nan,
        }

    current = period(end - window, end)
    previous = period(end - 2 * window, end - window)
    year_ago = period(end - window - 12, end - 12)
    return pd.DataFrame(
        {
            "measure": list(_MEASURES),
            "current": [current[m] for m in _MEASURES],
            "previous": [previous[m] for m in _MEASURES],
            "year_ago": [year_ago[m] for m in _MEASURES],
            "unit": [_MEASURES[m] for m in _MEASURES],
        }
    )


_MEASURES = {
    "Referrals received": "count",
    "Active referring providers": "count",
    "Share of wallet": "share",
    "Leakage to competitors": "count",
    "New referrers": "count",
    "Lost referrers": "count",
}


def monthly_series(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Sequence[str],
    *,
    segments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Monthly referrals in the focus's market: to the focus, to competitors, and by segment.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``to_focus``, ``to_competitors`` and, with `segments`
        (``source``, ``segment``), ``to_focus_<segment>`` per segment.
    """
    return _monthly(_focus_market(panel, providers, focus_ids), segments=segments)


def _monthly(market: _Market, *, segments: pd.DataFrame | None) -> pd.DataFrame:
    if not len(market.month):
        empty = {"month": pd.Series(dtype="datetime64[ns]")}
        return pd.DataFrame({**empty, "to_focus": [], "to_competitors": []}).astype(
            {"to_focus": "int64", "to_competitors": "int64"}
        )
    first, last = int(market.month.min()), int(market.month.max())
    n = last - first + 1
    month = market.month - first

    def per_month(rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        # integer sums: bincount's float weights are exact below 2**53 referrals a month
        sums = np.bincount(month[rows], weights=market.referrals[rows], minlength=n)
        return np.rint(sums).astype(np.int64)

    out = pd.DataFrame(
        {
            "to_focus": per_month(market.to_focus),
            "to_competitors": per_month(~market.to_focus),
        },
        index=pd.DatetimeIndex(
            _codes.month_dates(np.arange(first, last + 1), end=False), name="month"
        ),
    )
    if segments is not None and len(segments):
        seg = segments.drop_duplicates("source").set_index("source")["segment"]
        # each referrer's segment, by its code in the market (-1: none)
        position = pd.Index(seg.index, dtype="str").get_indexer(market.referrers)
        labels = np.asarray(seg.to_numpy(dtype=object))
        of_source = position[market.source]
        for s in ("loyalist", "splitter", "dissenter"):
            rows = market.to_focus & np.isin(of_source, np.flatnonzero(labels == s))
            if rows.any():
                out[f"to_focus_{s}"] = per_month(rows)
    out = out.reset_index()
    out["month"] = out["month"].astype("datetime64[ns]")
    return out


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
    title : str, optional
    scores : mapping of name to DataFrame, optional
        The tables of :func:`referral_graph.scores.score_network` for this
        network and focus, when they are computed already (used as given, not
        copied); by default they are computed here.

    Returns
    -------
    Report
    """
    from referral_graph import leakage
    from referral_graph.scores import score_network

    _require_focus(focus, focus_ids)
    ids = leakage.resolve_focus(net.providers, focus=focus, focus_ids=focus_ids)
    label = focus if focus is not None else ", ".join(ids[:3]) + (" …" if len(ids) > 3 else "")
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
        for section in ("headline", "at_risk", "outreach_list", "trends", "outreach_impact"):
            report.notes[section] = no_dates
    else:
        _check_window(window)
        # headline_figures and monthly_series on one selection of the market
        market = _focus_market(net.panel, net.providers, ids)
        report.headline = _headline(market, window=window, as_of=None)
        report.monthly = _monthly(market, segments=scores.get("share_of_wallet"))
        del market
        report.tables["monthly_trend"] = report.monthly
        report.tables["headline"] = report.headline
        _at_risk_sections(report, net, ids, capacity=capacity, horizon=horizon, seed=seed)
    _prospects_section(report, net, ids)
    if activities is not None:
        _outreach_section(report, net, ids, activities, seed=seed)
    else:
        report.notes["outreach_impact"] = report.notes.get(
            "outreach_impact",
            "No activity log given (CLI: --activities FILE with date, provider, liaison, kind).",
        )
    return report


def _report_line(report: Any) -> str:
    excluded = report.excluded_by_reason
    line = f"{Path(report.name).name}: {report.rows_read:,} rows read"
    if excluded:
        line += "; excluded " + ", ".join(
            f"{v:,} ({k.replace('_', ' ')})" for k, v in excluded.items()
        )
    return line


def _at_risk_sections(
    report: Report,
    net: ReferralNetwork,
    ids: list[str],
    *,
    capacity: int,
    horizon: int,
    seed: int,
) -> None:
    from referral_graph import churn

    assert net.panel is not None
    try:
        # Prepared once: the at-risk list and the backtest share the tie matrix and the
        # model inputs of the labelled cutoffs (the same results as passing the panel twice).
        prepared = churn.PreparedPanel(net.panel, providers=net.providers)
        risk = churn.at_risk(
            prepared,
            focus_ids=ids,
            capacity=capacity,
            horizon=horizon,
            random_state=seed,
        )
    except InsufficientDataError as exc:
        report.notes["at_risk"] = str(exc)
        report.notes["outreach_list"] = str(exc)
        return
    risk = risk.assign(internal=risk["source"].isin(set(ids)))
    report.tables["at_risk"] = risk
    # How far to trust the flags: the same model, backtested against simple rules.
    try:
        report.tables["backtest"] = churn.backtest(
            prepared,
            horizon=horizon,
            k=(capacity, 4 * capacity),
            random_state=seed,
        )
    except InsufficientDataError as exc:
        report.notes["backtest"] = str(exc)
    del prepared  # the matrix and cached inputs are not needed for the outreach list
    # Liaisons visit outside referrers: the focus's own providers stay in the at-risk table only.
    # The visit list draws on the outside ties with the highest expected loss (a pool of four
    # ties per visit), then ranks referrers by their summed loss and relationship value.
    outside = risk.loc[~risk["internal"].to_numpy()]
    pool = outside.sort_values("expected_loss", ascending=False, kind="stable").head(4 * capacity)
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


# ----------------------------------------------------------------------------- rendering

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
        return f"{float(value):.3g}"
    if kind == "money":
        return f"{float(value):,.0f}"
    return _esc(value)


def _table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str, str]],
    *,
    threshold: int,
    limit: int | None = None,
    group_by: str | None = None,
) -> str:
    """An HTML table; `columns` = (column, heading, kind)."""
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
        out.append(
            f'<p class="sub">Ties into the focus organisation, ranked by expected loss '
            f"(churn probability × referrals at stake over the horizon). Flagged: "
            f"{int(risk['flagged'].sum()) if 'flagged' in risk else 0:,}.</p>"
        )
        out.append(
            _table(
                risk,
                [
                    ("source_name", "Referrer", "text"),
                    ("target_name", "Our provider", "text"),
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
            "next (rolling-origin backtest), against simple rules: lapsed 60 days, volume down "
            "50 %, share of wallet down. Higher is better.</p>"
        )
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
            f'<p class="sub">Up to {report.capacity} visits, ranked by expected loss '
            "(2/3) and relationship value (1/3), grouped by town and practice so that "
            "visits can be batched.</p>"
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
        + "</footer></main></body></html>"
    )
    return "".join(out)


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


# ----------------------------------------------------------------------------- writing


def write_report(
    net: ReferralNetwork,
    out_dir: str | os.PathLike[str],
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
    activities: pd.DataFrame | None = None,
    capacity: int = 25,
    horizon: int = 3,
    threshold: int = DEFAULT_THRESHOLD,
    views: bool = True,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Compute and write the report: ``report.html``, ``tables/*.csv`` and ``views/*.html``.

    Returns the path of ``report.html``. Every file is written atomically;
    counts from 1 to ``threshold - 1`` are suppressed in every table and page.
    """
    from referral_graph.leakage import resolve_focus
    from referral_graph.scores import score_network, write_tables

    target = Path(os.fspath(out_dir))
    _require_focus(focus, focus_ids)
    scores = score_network(
        net, focus_ids=resolve_focus(net.providers, focus=focus, focus_ids=focus_ids), seed=seed
    )
    # The score tables are final: they are written (by DuckDB, mostly outside the GIL) while
    # the other sections are computed, which keeps the second core busy.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="referral_graph_tables") as pool:
        writing = pool.submit(write_tables, scores, target / "tables", threshold=threshold)
        report = build_report(
            net,
            focus=focus,
            focus_ids=focus_ids,
            activities=activities,
            capacity=capacity,
            horizon=horizon,
            seed=seed,
            title=title,
            scores=scores,
        )
        writing.result()
    rest = {name: t for name, t in report.tables.items() if scores.get(name) is not t}
    write_tables(rest, target / "tables", threshold=threshold)
    if views:
        report.views = _write_views(net, report, target / "views", threshold=threshold)
    page = render_html(report, threshold=threshold)
    path = target / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info("Wrote the report to %s", path)
    return path


#: Largest view drawn (providers), as :mod:`referral_graph.viz` allows by default.
_VIEW_MAX_NODES = 2000
#: Providers of the whole-network and focus views; at-risk ties of the at-risk view.
_VIEW_TOP, _VIEW_RISK_TOP = 300, 100


def _top_ids(ids: pd.Series, score: pd.Series, top: int) -> list[str]:
    """The `top` ids by `score` (missing = 0), ties broken by id, as the views rank them."""
    text = ids.astype("str").to_numpy(dtype=object)
    order = np.lexsort((text, -score.fillna(0).to_numpy(dtype=np.float64)))
    return [str(i) for i in text[order[:top]]]


def _view_graph(net: ReferralNetwork, nodes: set[str]) -> Any:
    """The referral graph induced on `nodes`: what the views draw, without the whole graph.

    Nodes keep the whole graph's order, attributes and ties (in their order), so every
    view of it equals the same view of ``net.graph``; on a market of millions of ties this
    spares building the networkx graph of all of them.
    """
    from referral_graph.graph import graph_from_tables, induced_subgraph

    if net.graph_built:
        return induced_subgraph(net.graph, nodes)
    order = pd.Series(net.compact().ids, dtype="str")
    chosen = order[order.isin(nodes).to_numpy()]
    providers = net.providers.drop_duplicates("id")
    table = pd.DataFrame({"id": chosen}).merge(providers, on="id", how="left", sort=False)
    ties = net.ties.loc[
        (net.ties["source"].isin(nodes) & net.ties["target"].isin(nodes)).to_numpy()
    ]
    return graph_from_tables(ties, table, period=net.period, name=net.ties.attrs.get("name"))


def _write_views(
    net: ReferralNetwork, report: Report, folder: Path, *, threshold: int
) -> dict[str, str]:
    from referral_graph import viz

    t = report.tables
    measures = t["providers"]
    # Every figure a view shows comes from the whole network (a node's referrals too), so a
    # view drawn from the induced graph of its own providers equals the view of the whole.
    measures = measures.assign(referrals=measures["in_strength"] + measures["out_strength"])
    period = (
        f"{report.period[0]:%b %Y} – {report.period[1]:%b %Y}"
        if report.period is not None
        else None
    )
    common: dict[str, Any] = {"period": period, "threshold": threshold}
    written: dict[str, str] = {}
    ties = net.ties

    # The providers each view draws, chosen from the tables.
    plans: dict[str, tuple[str, set[str], Any]] = {}
    top_network = _top_ids(measures["id"], measures["pagerank"], _VIEW_TOP)
    plans["network"] = (
        "Whole network (top 300 providers by PageRank)",
        set(top_network),
        lambda G, p, m: viz.network_view(G, top=_VIEW_TOP, measures=m, path=p, **common),
    )
    focus = list(dict.fromkeys(report.focus_ids))
    into = ties.loc[(ties["target"].isin(focus) & ~ties["source"].isin(focus)).to_numpy()]
    sent = into.groupby("source", sort=False)["referrals"].sum()
    referrers = _top_ids(pd.Series(sent.index), pd.Series(sent.to_numpy()), _VIEW_TOP)
    if len(focus) + len(referrers) > _VIEW_MAX_NODES:
        logger.warning(
            "View focus not written: %s focus providers and %s referrers are more than %s "
            "providers, which make an unreadable page; draw part of them with viz.focus_view.",
            f"{len(focus):,}",
            f"{len(referrers):,}",
            f"{_VIEW_MAX_NODES:,}",
        )
    else:
        plans["focus"] = (
            f"Referral base of {report.focus}",
            set(focus) | set(referrers),
            lambda G, p, m: viz.focus_view(
                G, focus, segments=t.get("share_of_wallet"), measures=m, top=_VIEW_TOP,
                path=p, **common,
            ),
        )  # fmt: skip
    risk = t.get("at_risk")
    if risk is not None and len(risk):
        # the ties at_risk_view draws: the first by expected loss (or risk, or at stake)
        ranked = viz.rank_at_risk(risk)
        ends = ranked.drop_duplicates(["source", "target"]).head(_VIEW_RISK_TOP)
        plans["at_risk"] = (
            "At-risk ties",
            set(ends["source"].astype("str")) | set(ends["target"].astype("str")),
            lambda G, p, m: viz.at_risk_view(
                G, risk, top=_VIEW_RISK_TOP, measures=m, path=p, **common
            ),
        )
    key = t.get("key_referrers")
    if key is not None and len(key):
        top_id = str(key["source"].iloc[0])
        near = ties.loc[((ties["source"] == top_id) | (ties["target"] == top_id)).to_numpy()]
        plans["ego_top_referrer"] = (
            "Top key referrer's referral neighbourhood",
            {top_id} | set(near["source"].astype("str")) | set(near["target"].astype("str")),
            lambda G, p, m: viz.ego_view(G, top_id, measures=m, path=p, **common),
        )
    labels = measures.set_index("id")["community"].dropna().astype("int64")
    if len(labels):
        members = labels.index[(labels == 0).to_numpy()].astype("str")
        if len(members) > _VIEW_MAX_NODES:
            logger.warning(
                "View community_0 not written: its %s providers are more than %s, which make "
                "an unreadable page; draw part of it with viz.community_view.",
                f"{len(members):,}",
                f"{_VIEW_MAX_NODES:,}",
            )
        else:
            plans["community_0"] = (
                "Largest care community",
                set(members),
                lambda G, p, m: viz.community_view(G, labels, 0, measures=m, path=p, **common),
            )
    if not plans:
        return written
    drawn = set().union(*(nodes for _, nodes, _ in plans.values()))
    G = _view_graph(net, drawn)
    # the measures of the providers drawn (each view looks up only its own)
    drawn_measures = measures.loc[measures["id"].isin(drawn).to_numpy()]
    for name, (label, _, make) in plans.items():
        path = folder / f"{name}.html"
        try:
            make(G, path, drawn_measures)
        except ParameterError as exc:  # a view that cannot be drawn on this data
            logger.warning("View %s not written: %s", name, exc)
            continue
        written[label] = f"views/{name}.html"
    return written
