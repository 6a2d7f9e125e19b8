"""The features of the active ties at a cutoff (:func:`churn_features`).

:func:`_features_at` computes every feature of the package docstring from the
months before the cutoff only: the tie's own months, and the window sums of its
referrer, receiver and market (:class:`_Totals`, over every tie).
:data:`FEATURE_COLUMNS` are the model's inputs; :data:`DESCRIPTIVE_COLUMNS`
describe the tie in the tables and the reasons.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import pdtr

from referral_graph.churn._labels import _active
from referral_graph.churn._matrix import _frame, _TieMatrix, _weighted_counts
from referral_graph.churn._options import (
    BoolArray,
    CutoffsLike,
    FloatArray,
    Int32Array,
    IntArray,
    _Options,
    _parse_cutoffs,
)
from referral_graph.churn._panel import PreparedPanel, _check_cutoff, _prepared
from referral_graph.exceptions import (
    InsufficientDataError,  # noqa: F401 (named in a Raises section: the API reference links it)
)

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")


#: The model's input columns, in order (see the docstring of referral_graph.churn).
FEATURE_COLUMNS: tuple[str, ...] = (
    "log_baseline_rate",
    "recent_vs_baseline",
    "recent_zero_months",
    "slope",
    "yoy_change",
    "yoy_available",
    "days_since_last",
    "days_vs_gap",
    "volatility",
    "log_tenure",
    "referrer_trend",
    "log_referrer_days_since_last",
    "tie_vs_referrer_quiet",
    "referrer_quiet_share",
    "referrer_last_vs_baseline",
    "referrer_recent_zero_months",
    "share_baseline",
    "share_change",
    "competitor_gain",
    "receiver_trend",
    "reciprocity",
    "patients_per_referral",
    "wait_days",
    "wait_change",
    "poisson_churn_logit",
    "lapse_surprise",
    "drop_surprise",
)

#: Descriptive columns of :func:`churn_features` (not model inputs).
DESCRIPTIVE_COLUMNS: tuple[str, ...] = (
    "baseline_referrals",
    "recent_referrals",
    "baseline_rate",
    "months_since_last",
    "usual_gap",
    "lapse_vs_gap",
    "usual_gap_days",
    "tenure",
    "trend_drop",
    "share_recent",
    "referrer_baseline",
    "referrer_recent",
    "referrer_days_since_last",
    "reciprocal_referrals",
)

#: Smoothing of monthly rates in log ratios (referrals per month).
SMOOTHING = 0.5
#: Log ratios are clipped to [-LOG_CLIP, LOG_CLIP].
LOG_CLIP = 4.0
_SEASON = 12


def _log_ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.clip(np.log((a + SMOOTHING) / (b + SMOOTHING)), -LOG_CLIP, LOG_CLIP)


@dataclass
class _Totals:
    """Referrals in the baseline and recent windows of one cutoff, for every group.

    Per tie (all ties, not only the active ones), per referrer (``src``), per
    receiver (``tgt``), per referrer and market (``pair``) and per referrer,
    market and receiving entity (``trip``).
    """

    tie_base: FloatArray
    tie_recent: FloatArray
    src_base: FloatArray
    src_recent: FloatArray
    tgt_base: FloatArray
    tgt_recent: FloatArray
    pair_base: FloatArray
    pair_recent: FloatArray
    trip_base: FloatArray
    trip_recent: FloatArray
    #: Per provider: days from its last referral as a referrer (to anyone) to the cutoff,
    #: over the tie history window; the window's length in days for one without any.
    src_days_since_last: FloatArray
    #: Per provider: the share of its baseline referrals on ties without a referral in the
    #: recent months (0 for a provider without baseline referrals).
    src_quiet_share: FloatArray
    #: Per provider: its referrals as a referrer (to anyone) in the last month before the
    #: cutoff, and the recent months in which it sent none.
    src_last: FloatArray
    src_recent_zero: FloatArray
    #: Per tie: sums of the optional columns by (name, start, stop) month window, filled on
    #: first use by :func:`_column_sums` (one pass over the panel rows per window and cutoff).
    column_sums: dict[tuple[str, int, int], FloatArray] = field(default_factory=dict)


def _column_sums(
    ties: _TieMatrix, totals: _Totals, name: str, start: int, stop: int, idx: IntArray
) -> FloatArray:
    """Sum of an optional column over months ``start .. stop - 1`` for the ties `idx`."""
    key = (name, start, stop)
    if key not in totals.column_sums:
        totals.column_sums[key] = ties.column_window(name, start, stop)
    return totals.column_sums[key][idx]


def _totals(ties: _TieMatrix, ci: int, opts: _Options) -> _Totals:
    """The window sums of cutoff index `ci` (months before it only)."""
    nb, r = opts.baseline_months, opts.recent_months
    base = ties.window(ci - nb, ci)
    recent = ties.window(ci - r, ci)
    n_ids = len(ties.ids)

    def _by(codes: Int32Array, n: int) -> tuple[FloatArray, FloatArray]:
        return _weighted_counts(codes, base, n), _weighted_counts(codes, recent, n)

    src_base, src_recent = _by(ties.src, n_ids)
    tgt_base, tgt_recent = _by(ties.tgt, n_ids)
    if ties.by_specialty:
        pair_base, pair_recent = _by(ties.pair, ties.n_pairs)
    else:
        pair_base, pair_recent = src_base, src_recent
    if not ties.by_org:
        trip_base, trip_recent = base, recent  # one entity per tie: the tie itself
    else:
        trip_base, trip_recent = _by(ties.trip, ties.n_trips)
    quiet = _weighted_counts(ties.src, np.where(recent > 0, 0.0, base), n_ids)
    # the referrer's months: one sum per recent month (rows of the month-major matrix)
    src_months = [_weighted_counts(ties.src, ties.counts[m], n_ids) for m in range(ci - r, ci)]
    src_recent_zero = np.zeros(n_ids)
    for month in src_months:
        src_recent_zero += month <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        quiet_share = np.where(src_base > 0, quiet / src_base, 0.0)
    return _Totals(
        tie_base=base,
        tie_recent=recent,
        src_base=src_base,
        src_recent=src_recent,
        tgt_base=tgt_base,
        tgt_recent=tgt_recent,
        pair_base=pair_base,
        pair_recent=pair_recent,
        trip_base=trip_base,
        trip_recent=trip_recent,
        src_days_since_last=_referrer_days_since_last(ties, ci, min(ci, 2 * nb)),
        src_quiet_share=quiet_share,
        src_last=src_months[-1],
        src_recent_zero=src_recent_zero,
    )


def _referrer_days_since_last(ties: _TieMatrix, ci: int, width: int) -> FloatArray:
    """Days from each provider's last referral as a referrer to cutoff `ci`.

    Over the `width` months before the cutoff (the tie history window), every tie
    counted; a provider without a referral there gets the window's length in days.
    The day of the last referral is the panel's ``last_day`` (mid-month without
    days), as for :func:`_recency_days`: the last one of the provider's last month
    with referrals, read from :func:`_referrer_months`.
    """
    start = ci - width
    starts = ties.month_days(start, ci + 1)
    cutoff_day = int(starts[-1])
    n_ids = len(ties.ids)
    out = np.full(n_ids, float(cutoff_day - starts[0]))
    if width == 0 or ties.n_ties == 0:
        return out
    active, last_day = _referrer_months(ties)
    window = active[start:ci]  # (months, ids)
    last_row = _last_rows(window)
    if last_day is None:
        day = np.full(n_ids, _MID_MONTH, dtype=np.int64)
    else:
        day = last_day[start + last_row, np.arange(n_ids)].astype(np.int64)
    since = cutoff_day - (starts[last_row] + day - 1)
    return np.where(window.any(axis=0), since.astype(np.float64), out)


#: Guards the first computation of :func:`_referrer_months` (the backtest's cutoffs are
#: computed by two threads).
_REFERRER_MONTHS = threading.Lock()


def _referrer_months(ties: _TieMatrix) -> tuple[BoolArray, npt.NDArray[np.int8] | None]:
    """Per month (rows) and provider (columns): whether the provider referred, and the day
    of the month of its last referral then, the largest ``last_day`` of its ties with
    referrals in the month (None when the panel has no days).

    Computed once per matrix and kept on it (``src_active``, ``src_last_day``: a byte per
    provider and month). Ties are sorted by source, so each provider's ties are one run,
    reduced with ``reduceat``.
    """
    with _REFERRER_MONTHS:
        if ties.src_active is None:
            shape = (ties.n_months, len(ties.ids))
            active = np.zeros(shape, dtype=bool)
            days = None if ties.last_day is None else np.zeros(shape, dtype=np.int8)
            if ties.n_ties:
                run_starts = np.flatnonzero(np.r_[True, ties.src[1:] != ties.src[:-1]])
                run_src = ties.src[run_starts]
                for m in range(ties.n_months):
                    on = ties.counts[m] > 0
                    active[m, run_src] = np.logical_or.reduceat(on, run_starts)
                    if days is not None and ties.last_day is not None:
                        day = np.where(on, ties.last_day[m], np.int8(0))
                        days[m, run_src] = np.maximum.reduceat(day, run_starts)
            ties.src_last_day = days
            ties.src_active = active
    return ties.src_active, ties.src_last_day


def _lapse_and_gaps(active: BoolArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """Lapse and gaps from a (months, ties) table of months with referrals.

    Returns, per tie: the months since the last month with referrals (the
    window's length when none), the median distance between consecutive
    months with referrals (missing when fewer than two) and the number of
    such distances. Works month by month on small integers: the months are
    few, the ties many.
    """
    width, n = active.shape
    none = np.iinfo(np.int16).max  # sorts after every gap
    last = np.full(n, -1, dtype=np.int16)
    gaps = np.empty((width, n), dtype=np.int16)
    for m in range(width):
        on = active[m]
        gaps[m] = np.where(on & (last >= 0), m - last, none)
        last = np.where(on, np.int16(m), last)
    msl = (width - 1 - last).astype(np.float64)
    n_gaps = np.maximum(active.sum(axis=0, dtype=np.intp) - 1, 0)
    by_tie = np.ascontiguousarray(gaps.T)
    del gaps
    by_tie.sort(axis=1)
    lo = np.maximum((n_gaps - 1) // 2, 0)[:, None]
    hi = np.minimum(n_gaps // 2, width - 1)[:, None]
    low = np.take_along_axis(by_tie, lo, 1)[:, 0].astype(np.float64)
    high = np.take_along_axis(by_tie, hi, 1)[:, 0].astype(np.float64)
    median = np.where(n_gaps > 0, (low + high) / 2, np.nan)
    return msl, median, n_gaps


#: Days of the month assumed for a referral when the panel has no days (mid-month).
_MID_MONTH = 15
#: Days in an average month.
DAYS_PER_MONTH = 30.44


def _last_rows(active: BoolArray) -> IntArray:
    """Per column of a (months, ties) table of months with referrals, the row of the last
    (the last row for a column without any)."""
    width = active.shape[0]
    if width >= np.iinfo(np.int16).max:  # months beyond small integers: the plain argmax
        rows: IntArray = (width - 1 - np.argmax(active[::-1], axis=0)).astype(np.intp)
        return rows
    # 1 + the row where a month has referrals, 0 elsewhere; the largest per column is the
    # last (0: none). Row by row on small integers: a third of argmax's time down the columns.
    numbered = np.multiply(active, np.arange(1, width + 1, dtype=np.int16)[:, None])
    last = numbered.max(axis=0) if width else np.zeros(active.shape[1], dtype=np.int16)
    rows = np.where(last > 0, last - 1, width - 1).astype(np.intp)
    return rows


def _referral_dates(
    starts: IntArray,
    start: int,
    rows: IntArray,
    idx: IntArray,
    days: npt.NDArray[np.int8] | None,
) -> IntArray:
    """Day numbers (days since 1970-01-01) of the referral in window row `rows` of the ties
    `idx`: the month's first day (`starts`, by window row) plus its day of the month from
    `days` (the panel's ``first_day`` or ``last_day``, indexed from row `start` of the
    matrix); mid-month without days."""
    if days is None:
        day = np.full(len(rows), _MID_MONTH, dtype=np.int64)
    else:
        day = days[start + rows, idx].astype(np.int64)
    dates: IntArray = (starts[rows] + day - 1).astype(np.intp)
    return dates


def _recency_days(
    ties: _TieMatrix, ci: int, idx: IntArray, active: BoolArray, n_refs: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Days since each tie's last referral at cutoff `ci`, and its usual gap in days.

    `active` is the (months, ties) table of months with referrals of the history
    window that ends at the cutoff, and `n_refs` the ties' referrals in it. The
    last referral's date is its month's start plus the panel's ``last_day``; the
    usual gap is the mean distance between consecutive referrals in the window,
    ``(last date - first date) / (referrals - 1)`` (exact from the first and last
    days alone), or the window's length for a tie with one referral; at least one
    day. Without days in the panel, referrals count as made mid-month.
    """
    width = active.shape[0]
    start = ci - width
    starts = ties.month_days(start, ci + 1)  # the window's months, then the cutoff's
    cutoff_day = starts[-1]
    last_row = _last_rows(active)
    first_row = np.argmax(active, axis=0).astype(np.int64)
    dated = ties.last_day is not None and ties.first_day is not None
    last_date = _referral_dates(starts, start, last_row, idx, ties.last_day if dated else None)
    first_date = _referral_dates(starts, start, first_row, idx, ties.first_day if dated else None)
    since = (cutoff_day - last_date).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = (last_date - first_date) / (n_refs - 1.0)
    gap = np.where(n_refs >= 2, mean_gap, float(cutoff_day - starts[0]))
    return since, np.maximum(gap, 1.0)


def _features_at(
    ties: _TieMatrix,
    ci: int,
    opts: _Options,
    *,
    idx: IntArray | None = None,
    totals: _Totals | None = None,
    amount: bool = True,
) -> tuple[IntArray, dict[str, FloatArray]]:
    """Features at cutoff index `ci` (uses months < ci only).

    For the active ties, or for `idx` (active ties only); the window sums of
    the referrers, receivers and markets come from `totals` (computed when
    not given). ``baseline_amount`` (a pass over the panel rows, not a model
    input) is left out with ``amount=False``.
    """
    nb, r, h = opts.baseline_months, opts.recent_months, opts.horizon
    if totals is None:
        totals = _totals(ties, ci, opts)
    if idx is None:
        idx = _active(ties, ci, opts, totals.tie_base)
    n = len(idx)
    f: dict[str, FloatArray] = {}
    # the tie's own months: the history window of up to 2 * nb months
    width = min(ci, 2 * nb)
    block = ties.counts[ci - width : ci, idx]  # (months, ties)
    base = np.ascontiguousarray(block[width - nb :].T, dtype=np.float64)  # (ties, months)
    bsum = base.sum(axis=1)
    recent = base[:, nb - r :].sum(axis=1)
    prior = bsum - recent
    rate_b, rate_r, rate_p = bsum / nb, recent / r, prior / (nb - r)
    f["baseline_referrals"] = bsum
    f["recent_referrals"] = recent
    f["baseline_rate"] = rate_b
    f["log_baseline_rate"] = np.log(rate_b)
    f["recent_vs_baseline"] = _log_ratio(rate_r, rate_b)
    f["recent_zero_months"] = (base[:, nb - r :] <= 0).sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(rate_p > 0, 1.0 - rate_r / rate_p, -1.0)
    f["trend_drop"] = np.clip(drop, -1.0, 1.0)
    x = np.arange(nb, dtype=np.float64) - (nb - 1) / 2.0
    slope = base @ x / float(np.sum(x * x))
    f["slope"] = np.clip(slope / rate_b, -1.0, 1.0)
    if ci - _SEASON - r >= 0:
        last_year = ties.window(ci - _SEASON - r, ci - _SEASON, idx)
        f["yoy_change"] = _log_ratio(rate_r, last_year / r)
        f["yoy_available"] = np.ones(n)
    else:
        f["yoy_change"] = np.full(n, np.nan)
        f["yoy_available"] = np.zeros(n)

    # lapse, usual gap, tenure
    active = block > 0
    msl, median_gap, n_gaps = _lapse_and_gaps(active)
    since, gap_days = _recency_days(ties, ci, idx, active, block.sum(axis=0, dtype=np.float64))
    del active
    del block
    f["days_since_last"] = since
    f["usual_gap_days"] = gap_days
    f["days_vs_gap"] = np.clip(np.log(since / gap_days), -LOG_CLIP, LOG_CLIP)
    # An active tie has referrals in the baseline window, so its first month is before ci.
    tenure = (ci - ties.first_active[idx]).astype(np.float64)
    usual_gap = np.where(n_gaps > 0, median_gap, np.maximum(np.minimum(tenure, width), 1.0))
    f["months_since_last"] = msl
    f["usual_gap"] = usual_gap
    f["lapse_vs_gap"] = np.clip(np.log((msl + 1.0) / usual_gap), -LOG_CLIP, LOG_CLIP)
    f["tenure"] = tenure
    f["log_tenure"] = np.log1p(np.minimum(tenure, 2 * nb))
    std = base.std(axis=1)
    f["volatility"] = np.clip(std / rate_b, 0.0, 4.0)
    del base

    # the referrer, its market and the competitors
    s = ties.src[idx]
    s_base = totals.src_base[s]
    s_recent = totals.src_recent[s]
    f["referrer_baseline"] = s_base
    f["referrer_recent"] = s_recent
    f["referrer_trend"] = _log_ratio(s_recent / r, s_base / nb)
    s_since = totals.src_days_since_last[s]
    f["referrer_days_since_last"] = s_since
    f["log_referrer_days_since_last"] = np.log1p(s_since)
    f["tie_vs_referrer_quiet"] = np.clip(
        np.log1p(f["days_since_last"]) - np.log1p(s_since), -LOG_CLIP, LOG_CLIP
    )
    f["referrer_quiet_share"] = totals.src_quiet_share[s]
    f["referrer_last_vs_baseline"] = _log_ratio(totals.src_last[s], s_base / nb)
    f["referrer_recent_zero_months"] = totals.src_recent_zero[s]
    p = ties.pair[idx]
    p_base = totals.pair_base[p]
    p_recent = totals.pair_recent[p]
    share_b = bsum / np.maximum(p_base, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["share_recent"] = np.where(p_recent > 0, recent / p_recent, np.nan)
    shrunk = (recent + share_b) / (p_recent + 1.0)
    f["share_baseline"] = share_b
    f["share_change"] = shrunk - share_b
    t3 = ties.trip[idx]
    other_b = np.maximum(p_base - totals.trip_base[t3], 0.0)
    other_r = np.maximum(p_recent - totals.trip_recent[t3], 0.0)
    f["competitor_gain"] = _log_ratio(other_r / r, other_b / nb)
    t = ties.tgt[idx]
    f["receiver_trend"] = _log_ratio(totals.tgt_recent[t] / r, totals.tgt_base[t] / nb)
    rev = ties.reverse[idx]
    has_rev = rev >= 0
    recip = np.zeros(n)
    recip[has_rev] = totals.tie_base[rev[has_rev]]
    f["reciprocal_referrals"] = recip
    f["reciprocity"] = np.log1p(recip)

    def _column(name: str, start: int) -> FloatArray:
        return _column_sums(ties, totals, name, start, ci, idx)

    if ties.has_patients:
        f["patients_per_referral"] = np.clip(_column("patients", ci - nb) / bsum, 0.0, 2.0)
    else:
        f["patients_per_referral"] = np.full(n, np.nan)
    if ties.has_wait:
        wn_b = _column("wait_n", ci - nb)
        wn_r = _column("wait_n", ci - r)
        with np.errstate(divide="ignore", invalid="ignore"):
            wait_b = np.where(wn_b > 0, _column("wait", ci - nb) / wn_b, np.nan)
            wait_r = np.where(wn_r > 0, _column("wait", ci - r) / wn_r, np.nan)
        f["wait_days"] = wait_b
        f["wait_change"] = np.clip(
            np.log((np.maximum(wait_r, 0) + 1.0) / (np.maximum(wait_b, 0) + 1.0)),
            -LOG_CLIP,
            LOG_CLIP,
        )
    else:
        f["wait_days"] = np.full(n, np.nan)
        f["wait_change"] = np.full(n, np.nan)
    # chance of falling below the churn threshold with no change in behaviour
    threshold = opts.churn_fraction * rate_b * h
    k = np.ceil(threshold - 1e-9) - 1.0
    mu = h * (0.5 * rate_r + 0.5 * rate_b)
    prob = np.where(k >= 0, pdtr(np.maximum(k, 0.0), np.maximum(mu, 1e-9)), 0.0)
    prob = np.clip(prob, 1e-6, 1 - 1e-6)
    f["poisson_churn_logit"] = np.log(prob / (1 - prob))
    # how surprising the silence / the recent volume is, given the tie's own earlier rate
    quiet_rate = bsum / np.maximum(nb - np.minimum(msl, nb - 1), 1.0)
    # the referrals expected in the silence beyond one usual gap, at the rate before it
    silence = np.maximum(since - gap_days, 0.0) / DAYS_PER_MONTH
    f["lapse_surprise"] = np.minimum(quiet_rate * silence, 25.0)
    p_low = pdtr(recent, np.maximum(r * rate_p, 1e-9))
    f["drop_surprise"] = np.clip(-np.log(np.clip(p_low, 1e-12, 1.0)), 0.0, 25.0)
    if amount and ties.has_amount:
        f["baseline_amount"] = _column("amount", ci - nb)
    return idx, f


_INT_COLUMNS = (
    "baseline_referrals",
    "recent_referrals",
    "referrer_baseline",
    "referrer_recent",
    "reciprocal_referrals",
    "months_since_last",
    "days_since_last",
    "referrer_days_since_last",
    "tenure",
)


def _feature_columns(ties: _TieMatrix) -> list[str]:
    cols = list(DESCRIPTIVE_COLUMNS)
    if ties.has_amount:
        cols.append("baseline_amount")
    return cols + list(FEATURE_COLUMNS)


def churn_features(
    panel: pd.DataFrame | PreparedPanel,
    cutoffs: CutoffsLike,
    *,
    baseline_months: int = 12,
    min_referrals: int = 6,
    providers: pd.DataFrame | None = None,
    recent_months: int = 3,
    horizon: int = 3,
    churn_fraction: float = 0.25,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Compute churn features for the ties active at each cutoff.

    A pure function of the panel: nothing on or after a cutoff is used for
    that cutoff's rows (see the module docstring for every definition).

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The monthly edge panel (``source``, ``target``, ``month``,
        ``referrals``; optionally ``patients``, ``amount`` and a wait column
        such as ``average_day_wait``). Not modified. A :class:`PreparedPanel`
        carries its own `providers`, `columns` and `data_end`.
    cutoffs : str, Timestamp or iterable of them
        Month starts; each needs ``baseline_months`` months of data before it
        and may be at most the month after the data's last month.
    baseline_months : int, default 12
        Length of the baseline window.
    min_referrals : int, default 6
        Referrals in the baseline window for a tie to be active.
    providers : pandas.DataFrame, optional
        ``id`` and optionally ``name``, ``specialty`` and ``organization``:
        shares are computed within the target's specialty and competitors are
        the other organisations.
    recent_months : int, default 3
        Length of the recent window (inside the baseline window).
    horizon : int, default 3
        Horizon of the churn definition (used by ``poisson_churn_logit``).
    churn_fraction : float, default 0.25
        Threshold of the churn definition (used by ``poisson_churn_logit``).
    columns : mapping, optional
        Panel column names by role (``source``, ``target``, ``month``,
        ``referrals``, ``patients``, ``amount``, ``wait``) when they differ.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target`` (str), ``cutoff`` (datetime64[ns]), the
        descriptive columns, ``baseline_amount`` when the panel has amounts,
        and :data:`FEATURE_COLUMNS` (float64); sorted by cutoff, source and
        target.

    Raises
    ------
    InsufficientDataError
        If a cutoff lacks a full baseline window or lies beyond the data.

    Examples
    --------
    >>> p = pd.DataFrame({"source": ["A"] * 12 + ["C"], "target": ["C"] * 12 + ["A"],
    ...                   "month": list(pd.date_range("2023-01-01", periods=12, freq="MS"))
    ...                            + [pd.Timestamp("2023-06-01")],
    ...                   "referrals": [1] * 12 + [3]})
    >>> f = churn_features(p, "2024-01-01")
    >>> f[["source", "target", "baseline_referrals", "reciprocity"]].round(3).values.tolist()
    [['A', 'C', 12, 1.386]]
    """
    fn = "churn_features"
    opts = _Options.make(
        fn,
        baseline_months=baseline_months,
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
        recent_months=recent_months,
    )
    stamps = _parse_cutoffs(cutoffs, fn)
    ties = _prepared(panel, fn, providers=providers, columns=columns, data_end=data_end)._ties
    cols = _feature_columns(ties)
    frames = []
    for stamp in stamps:
        ci = ties.cutoff_index(stamp)
        _check_cutoff(ties, ci, opts, labels=False)
        idx, values = _features_at(ties, ci, opts)
        frames.append(_frame(ties, ci, idx, values, cols))
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for col in _INT_COLUMNS:
        out[col] = out[col].round().astype("int64")
    logger.info("Churn features: %s rows for %s cutoff(s)", f"{len(out):,}", len(stamps))
    return out
