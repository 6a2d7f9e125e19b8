"""At-risk ties: a churn model for referral relationships.

A *tie* is a directed referral relationship ``source -> target``. This module
predicts which active ties will *churn* (lose most of their volume) in the
next few months, tests that prediction honestly against simple rules, and
turns it into a ranked work list with reasons in plain words.

Everything works on the monthly **edge panel** (one row per source, target
and month with ``referrals``; see :func:`referral_graph.aggregate.edge_panel`).
Other layouts are accepted too: the columns are found by name (for example
``from_npi`` / ``to_npi`` / ``transaction_count`` / ``period``) or mapped with
``columns={"referrals": "my_count", ...}``; a table without a count column is
read as events (each row one referral).

Definitions
-----------
Months are calendar months; a *cutoff* ``c`` is the first day of a month and
separates the past (months before ``c``) from the future (``c`` and after).
The data run from the panel's first month to its last month; a month inside
that span with no row has zero referrals.

* **Baseline window**: the ``baseline_months`` (default 12) months
  ``c-12 .. c-1``. A cutoff needs the whole baseline window inside the data.
* **Active tie**: a tie with at least ``min_referrals`` (default 6) referrals
  in the baseline window. Only active ties get features, labels and scores.
* **Baseline rate**: baseline referrals / ``baseline_months`` (per month).
* **Horizon**: the ``horizon`` (default 3) months ``c .. c+2``.
* **Churn**: an active tie *churns* at ``c`` when its referrals in the
  horizon are below ``churn_fraction`` (default 0.25) x baseline rate x
  horizon. For example, a tie with 24 baseline referrals (2 a month) churns
  when it has at most 1 referral in the next 3 months (1 < 0.25 x 2 x 3 = 1.5).
* **Labelled cutoff**: a cutoff whose horizon lies inside the data (its last
  horizon month is at most the panel's last month). A cutoff whose horizon
  runs past the end of the data has features but no labels.
* **No leakage**: the features of a cutoff are computed from the months
  before it only; they are identical whether or not rows on or after the
  cutoff (of this tie or of any other) are present (tested).

Features
--------
:func:`churn_features` returns one row per (source, target, cutoff) for the
active ties. ``recent`` means the last ``recent_months`` (3) months before the
cutoff, ``prior`` the other 9 months of the baseline window. Ratios of
volumes are logs of smoothed monthly rates, ``log((a + 0.5) / (b + 0.5))``,
clipped to [-4, 4], so that zeros, tiny ties and huge referrers stay on one
scale. Model features (:data:`FEATURE_COLUMNS`):

``log_baseline_rate``
    log of the baseline rate (volume).
``recent_vs_baseline``
    smoothed log ratio of the recent rate to the baseline rate.
``recent_zero_months``
    months without referrals among the recent months.
``slope``
    least-squares slope of the monthly counts over the baseline window,
    divided by their mean (relative change per month), clipped to [-1, 1].
``yoy_change``, ``yoy_available``
    seasonality-adjusted trend: smoothed log ratio of the recent months to the
    same months a year earlier; missing (and ``yoy_available`` 0) when the data
    do not reach back that far.
``months_since_last``
    complete months without a referral just before the cutoff (0 when the tie
    had a referral in month ``c-1``; 2 means the tie has lapsed for at least
    about 60 days).
``lapse_vs_gap``
    log of (``months_since_last`` + 1) / usual gap, where the usual gap is the
    median distance in months between consecutive active months over the last
    ``2 * baseline_months`` months (1 for a tie active every month); a tie
    with a single active month uses its tenure. Clipped to [-4, 4].
``volatility``
    coefficient of variation of the baseline monthly counts (0 to 4).
``log_tenure``
    log(1 + months since the tie's first referral in the data before the
    cutoff), tenure capped at ``2 * baseline_months`` (the data are censored
    on the left).
``referrer_trend``
    the source's total volume (all its ties): recent vs baseline log ratio.
``share_baseline``, ``share_change``
    the tie's share of the source's referrals (within the target's
    ``specialty`` when ``providers`` give one) in the baseline window, and the
    change of that share in the recent months (shrunk towards the baseline
    share by one referral, so a quiet referrer has a change near 0).
``competitor_gain``
    the source's referrals to the *other* receivers of the same market (other
    targets; other organisations when ``providers`` give ``organization``):
    recent vs baseline log ratio. Together with ``referrer_trend`` it tells a
    referrer who declines everywhere from one whose referrals move elsewhere.
``receiver_trend``
    the target's total incoming volume: recent vs baseline log ratio.
``reciprocity``
    log(1 + referrals target -> source in the baseline window).
``patients_per_referral``
    baseline patients / baseline referrals (missing without ``patients``).
``wait_days``, ``wait_change``
    the referral-weighted mean of a wait column (``average_day_wait``,
    ``wait_days``) in the baseline window, and the log ratio of the recent
    to the baseline wait (missing when the data have no wait).
``lapse_surprise``
    the referrals the tie would have sent during its current lapse at its rate
    before the lapse (``-log P(silence)`` for a Poisson count), capped at 25:
    a two-month silence is nothing for a tie with one referral every other
    month and alarming for one with ten a month.
``drop_surprise``
    -log P(N <= recent referrals) for N ~ Poisson(prior rate x recent months),
    clipped to [0, 25]: how unusual the recent volume is given the 9 months
    before.
``poisson_churn_logit``
    the logit of the probability that the tie falls below the churn threshold
    by chance alone if it kept referring at the average of its recent and
    baseline rates (a Poisson model): what a quiet month means depends on
    volume, and this puts that on one scale.

Descriptive columns (not used by the model) are also returned:
``baseline_referrals``, ``recent_referrals``, ``baseline_rate``,
``usual_gap``, ``tenure``, ``trend_drop`` (1 - recent rate / prior rate),
``share_recent`` (unsmoothed), ``referrer_baseline``, ``referrer_recent``,
``reciprocal_referrals`` and ``baseline_amount`` (when the panel has
``amount``).

Model, backtest and at-risk list
--------------------------------
:class:`ChurnModel` is a scikit-learn classifier (mean imputation,
standardisation and L2 logistic regression, or gradient boosting) whose
probabilities are calibrated by cross-validation (Platt scaling by default:
it is strictly monotone, so the ranking of the ties is kept).
:func:`fit_churn_model` fits it on several labelled cutoffs ("slices") at
once, on at most ``max_train_samples`` rows drawn at random. :func:`backtest`
evaluates it by rolling origin: for each test cutoff ``t`` the model is
trained only on the labelled cutoffs ``c`` with ``c + horizon <= t`` (their
horizon ended before ``t``, so every training label was observable at ``t``)
and is compared on the ties active at ``t`` with three rules:

* ``lapsed_60d``: flags ``months_since_last >= 2`` (no referral for at least
  about 60 days); its score is the estimated days since the last referral,
  ``30.44 * months_since_last + 15`` (mid-month).
* ``trend_down_50``: flags a recent rate at least 50 % below the prior 9
  months' rate; score: the drop ``1 - recent rate / prior rate``.
* ``share_down``: flags a fall in the tie's share of the source's
  referrals; score: baseline share - recent share (0 when the source sent
  nothing recently).

Metrics per test cutoff, then averaged: ROC-AUC, PR-AUC (average precision),
precision@k and recall@k (share of the churned ties found in the top k),
top-decile lift (precision in the top 10 % / churn rate) and the Brier score.
The rules have no probabilities, so their Brier score is reported as missing.
Ties in a score are broken at random in expectation: precision@k counts the
tied ties at the k-th place by their average.

:func:`at_risk` scores the ties active at a cutoff (by default the month after
the data's last month), weighs the risk by the volume at stake (``at_stake``
= baseline rate x horizon, the referrals expected without churn;
``expected_loss`` = risk x at stake) and explains each flagged tie in words.
The features are grouped into themes (:data:`REASON_GROUPS`: lapse, decline,
share, referrer, receiver, ...); a theme's weight for one tie is the sum of its
features' contributions to that tie's log-odds (logistic: ``coef x
standardised value``; gradient boosting: the fall in log-odds when the
feature is set to its training median) and the two or three heaviest themes
with a positive weight are written out from the tie's own values, skipping a
theme whose values tell no risk story (say, a share that did not fall). When
a tie falls or lapses while its referrer sends more to a competitor, the
share story naming the competitor is added (it says where the referrals go).
Without usable contributions the rules' reasons are used. Names, specialties
and organisations come from ``providers``; ids are used otherwise. Counts
from 1 to 10 never appear in the words
(:func:`referral_graph.privacy.format_count` writes them "<11"); months and
percentages do.

Preparing a panel once
----------------------
Each function first turns the panel into a (month x tie) count matrix with
provider, market and organisation codes. To run several of them on one panel
(the report runs :func:`at_risk`, then :func:`backtest`), build a
:class:`PreparedPanel` once and pass it as the panel: the matrix is built once
and the model inputs of each labelled cutoff are computed once and shared.
The results are the same as with the panel.

Examples
--------
>>> import pandas as pd
>>> months = pd.date_range("2023-01-01", periods=15, freq="MS")
>>> panel = pd.DataFrame({"source": "A", "target": "B", "month": months,
...                       "referrals": [2] * 12 + [0, 0, 1]})
>>> panel = panel[panel["referrals"] > 0]
>>> labels = churn_labels(panel, "2024-01-01")
>>> cols = ["source", "target", "baseline_referrals", "horizon_referrals", "churned"]
>>> labels[cols].values.tolist()
[['A', 'B', 24, 1, True]]
>>> feats = churn_features(panel, ["2024-01-01"])
>>> feats[["months_since_last", "tenure", "volatility"]].values.tolist()
[[0.0, 12.0, 0.0]]
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import pdtr
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from referral_graph import _codes, _memo
from referral_graph._checks import check_choice, check_float, check_int, header_key
from referral_graph.exceptions import (
    InsufficientDataError,
    NotFittedError,
    ParameterError,
    SchemaError,
)
from referral_graph.io import EDGE_ALIASES, PROVIDER_ALIASES
from referral_graph.privacy import format_count

__all__ = [
    "DESCRIPTIVE_COLUMNS",
    "FEATURE_COLUMNS",
    "REASON_GROUPS",
    "RULES",
    "ChurnModel",
    "PreparedPanel",
    "at_risk",
    "backtest",
    "calibration_table",
    "churn_cutoffs",
    "churn_features",
    "churn_labels",
    "fit_churn_model",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
CutoffsLike = str | pd.Timestamp | Iterable[str | pd.Timestamp]

#: The model's input columns, in order (see the module docstring).
FEATURE_COLUMNS: tuple[str, ...] = (
    "log_baseline_rate",
    "recent_vs_baseline",
    "recent_zero_months",
    "slope",
    "yoy_change",
    "yoy_available",
    "months_since_last",
    "lapse_vs_gap",
    "volatility",
    "log_tenure",
    "referrer_trend",
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
    "usual_gap",
    "tenure",
    "trend_drop",
    "share_recent",
    "referrer_baseline",
    "referrer_recent",
    "reciprocal_referrals",
)

#: Features grouped into the themes that reasons talk about.
REASON_GROUPS: dict[str, tuple[str, ...]] = {
    "lapse": ("months_since_last", "lapse_vs_gap", "recent_zero_months", "lapse_surprise"),
    "decline": ("recent_vs_baseline", "slope", "poisson_churn_logit", "drop_surprise"),
    "seasonal": ("yoy_change", "yoy_available"),
    "share": ("share_baseline", "share_change", "competitor_gain"),
    "referrer": ("referrer_trend",),
    "receiver": ("receiver_trend",),
    "volatility": ("volatility",),
    "volume": ("log_baseline_rate",),
    "tenure": ("log_tenure",),
    "reciprocity": ("reciprocity",),
    "patients": ("patients_per_referral",),
    "wait": ("wait_days", "wait_change"),
}

#: The rule baselines of :func:`backtest`: name -> description.
RULES: dict[str, str] = {
    "lapsed_60d": "no referral for at least 2 complete months (about 60 days); "
    "score = estimated days since the last referral",
    "trend_down_50": "last 3 months' rate at least 50 % below the prior 9 months' rate; "
    "score = the drop",
    "share_down": "share of the source's referrals fell; score = the fall in share",
}

#: Smoothing of monthly rates in log ratios (referrals per month).
SMOOTHING = 0.5
#: Log ratios are clipped to [-LOG_CLIP, LOG_CLIP].
LOG_CLIP = 4.0
_SEASON = 12
_DAYS_PER_MONTH = 30.44

_ALIASES: dict[str, tuple[str, ...]] = {
    # the readers' own names, in their order of precedence
    "source": EDGE_ALIASES["source"],
    "target": EDGE_ALIASES["target"],
    "month": (
        "month",
        "month_start",
        "period",
        "referral_month",
        "service_month",
        "date",
        "referral_date",
        "service_date",
        "event_date",
        "visit_date",
    ),
    "referrals": (
        "referrals",
        "referral_count",
        "n_referrals",
        "transaction_count",
        "pair_count",
        "weight",
        "count",
        "volume",
        "n",
        "total",
    ),
    "patients": ("patients", "patient_count", "bene_count", "unique_patients", "unique"),
    "amount": ("amount", "revenue", "allowed_amount", "paid_amount", "charge", "charges"),
    "wait": ("average_day_wait", "wait_days", "avg_wait_days", "mean_wait_days", "wait"),
}

#: The providers-table names churn reads: the readers' own aliases (referral_graph.io).
_PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    key: PROVIDER_ALIASES[key] for key in ("id", "name", "specialty", "organization")
}


@dataclass(frozen=True)
class _Options:
    baseline_months: int = 12
    min_referrals: int = 6
    horizon: int = 3
    churn_fraction: float = 0.25
    recent_months: int = 3

    @classmethod
    def make(
        cls,
        fn: str,
        *,
        baseline_months: int,
        min_referrals: int,
        horizon: int,
        churn_fraction: float,
        recent_months: int,
    ) -> _Options:
        baseline = check_int(baseline_months, "baseline_months", fn, low=2, high=120)
        return cls(
            baseline_months=baseline,
            min_referrals=check_int(min_referrals, "min_referrals", fn, low=1, high=1_000_000_000),
            horizon=check_int(horizon, "horizon", fn, low=1, high=24),
            churn_fraction=check_float(
                churn_fraction, "churn_fraction", fn, low=0.0, high=1.0, low_open=True
            ),
            recent_months=check_int(recent_months, "recent_months", fn, low=1, high=baseline - 1),
        )


# ----------------------------------------------------------------------------- the panel


def _resolve_columns(
    frame: pd.DataFrame,
    aliases: Mapping[str, tuple[str, ...]],
    columns: Mapping[str, str] | None,
    *,
    what: str,
) -> dict[str, str | None]:
    normalised: dict[str, str] = {}
    for col in frame.columns:
        normalised.setdefault(header_key(col), str(col))
    given = dict(columns or {})
    unknown = sorted(set(given) - set(aliases))
    if unknown:
        raise ParameterError(
            f"The 'columns' mapping for the {what} has unknown key(s) {', '.join(unknown)}; "
            f"the keys are {', '.join(aliases)}."
        )
    out: dict[str, str | None] = {}
    for key, names in aliases.items():
        if key in given:
            if given[key] not in frame.columns:
                raise SchemaError(
                    f"The {what} has no column {given[key]!r} (mapped to {key!r}); its columns "
                    f"are {', '.join(map(str, frame.columns))}."
                )
            out[key] = given[key]
            continue
        out[key] = next((normalised[n] for n in names if n in normalised), None)
    return out


def _month_numbers(values: pd.Series, column: str) -> npt.NDArray[np.int64]:
    """Calendar month numbers (year * 12 + month - 1) of a date-like column."""
    if isinstance(values.dtype, pd.PeriodDtype):
        stamps = values.dt.to_timestamp()
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values
    else:
        stamps = pd.to_datetime(values, errors="coerce", format="ISO8601")
    bad = stamps.isna()
    if bool(bad.any()):
        examples = ", ".join(repr(v) for v in values[bad].head(3).tolist())
        raise SchemaError(
            f"The panel's month column {column!r} has {int(bad.sum()):,} missing or unreadable "
            f"value(s) (e.g. {examples}); give dates such as 2024-01-01."
        )
    if isinstance(stamps.dtype, np.dtype) and stamps.dtype.kind == "M":  # naive datetimes
        return _codes.months_of_days(_codes.epoch_days(stamps.to_numpy()))
    years = stamps.dt.year.to_numpy(dtype=np.int64)
    numbers: npt.NDArray[np.int64] = years * 12 + stamps.dt.month.to_numpy(dtype=np.int64) - 1
    return numbers


def _last_month(last_row: int, data_end: str | pd.Timestamp | None) -> int:
    """The data's last month: `data_end` when given (checked), else the last row's month."""
    if data_end is None:
        return last_row
    end = _parse_cutoffs(data_end, "the churn functions", "data_end")[0]
    number = int(end.year * 12 + end.month - 1)
    if number < last_row:
        raise ParameterError(
            "The 'data_end' parameter must be at or after the panel's last month "
            f"({_month_start(last_row).date()}). Got {data_end!r} instead."
        )
    return number


def _month_start(number: int) -> pd.Timestamp:
    return pd.Timestamp(year=number // 12, month=number % 12 + 1, day=1)


#: Largest integer that float32 holds exactly (2**24): counts up to it are stored as float32.
_FLOAT32_EXACT = float(2**24)


def _exact_float32(values: npt.NDArray[np.float64]) -> bool:
    """Whether every value is a whole number that float32 holds exactly."""
    if not len(values):
        return True
    return bool(
        np.all(np.isfinite(values))
        and np.abs(values).max() < _FLOAT32_EXACT
        and np.array_equal(values, np.floor(values))
    )


@dataclass
class _Window:
    """Per-tie sums over months ``start .. stop - 1`` (kept to derive the next window)."""

    start: int
    stop: int
    sums: FloatArray  # not modified once made


def _slide(
    last: _Window | None, start: int, stop: int, sums: Callable[[int, int], FloatArray]
) -> _Window:
    """The window ``start .. stop - 1`` of per-tie sums of whole numbers.

    ``sums(a, b)`` adds months ``a .. b - 1`` directly. When `last`, a window
    of the same length, shares more than half of its months with the new one,
    the new sums are the last ones plus the months that enter minus the
    months that leave. Sums of whole numbers (below 2**53) are exact in any
    order, so the values are those of summing the window directly.
    """
    if last is not None and last.stop - last.start == stop - start:
        shift = start - last.start
        if shift == 0:
            return last
        if 2 * abs(shift) < stop - start:
            if shift > 0:
                out = last.sums + sums(last.stop, stop)
                out -= sums(last.start, start)
            else:
                out = last.sums + sums(start, last.start)
                out -= sums(stop, last.stop)
            return _Window(start, stop, out)
    return _Window(start, stop, sums(start, stop))


@dataclass
class _RowValues:
    """Optional panel columns kept per panel row, the rows sorted by month.

    A window sum over months ``[a, b)`` is one ``bincount`` over the rows of
    those months, so no (tie x month) matrix is built for these columns. For a
    column of whole numbers (float32) the last window of each length is kept
    and the next one derived from it (see :func:`_slide`).
    """

    ptr: npt.NDArray[np.int64]  # (months + 1): rows of month m are ptr[m]:ptr[m + 1]
    tie: npt.NDArray[np.int32]  # per row: its tie
    columns: dict[str, npt.NDArray[np.floating[Any]]]  # per row (float32 when exact)
    windows: dict[tuple[str, int], _Window] = field(default_factory=dict)  # (name, length)

    def window(self, name: str, start: int, stop: int, n_ties: int) -> FloatArray:
        """Per tie: the sum of column `name` over months ``start .. stop - 1`` (not to modify)."""
        values = self.columns[name]

        def _sums(a: int, b: int) -> FloatArray:
            lo, hi = int(self.ptr[a]), int(self.ptr[b])
            return _weighted_counts(self.tie[lo:hi], values[lo:hi], n_ties)

        if values.dtype != np.float32:  # not whole numbers: the rows in order
            return _sums(start, stop)
        key = (name, stop - start)
        self.windows[key] = _slide(self.windows.get(key), start, stop, _sums)
        return self.windows[key].sums


@dataclass
class _TieMatrix:
    """The panel as a dense (month x tie) count matrix plus group codes, built once.

    Counts are month-major (one row per month), so the window sums over every
    tie that each cutoff needs (activity, the referrer's and the receiver's
    totals) add a few contiguous rows; features are then computed on the
    columns of the active ties only. Counts are float32 when every cell is a
    whole number below 2**24 (exact), float64 otherwise; sums are float64.
    """

    first_month: int  # calendar month number of row 0
    n_months: int
    ids: npt.NDArray[np.object_]  # provider ids (sorted); codes index into it
    src: Int32Array  # per tie: provider code (ties sorted by source, then target)
    tgt: Int32Array
    counts: npt.NDArray[np.floating[Any]]  # (months, ties)
    first_active: Int32Array  # per tie: first month with referrals (n_months when none)
    rows: _RowValues | None  # patients, amount, wait (when the panel has them)
    reverse: Int32Array  # tie index of target -> source, -1 when absent
    pair: Int32Array  # per tie: (source, market) group
    n_pairs: int
    trip: Int32Array  # per tie: (source, market, entity) group
    n_trips: int
    trip_pair: Int32Array  # per triple: its pair
    trip_entity: Int32Array | None  # per triple: its entity (None: the triple is a tie)
    entity_labels: npt.NDArray[np.object_] | None  # per entity: organisation or name
    names: npt.NDArray[np.object_]  # per id: display name
    specialty: npt.NDArray[np.object_]  # per id: specialty or None
    by_specialty: bool
    by_org: bool  # False: each tie is its own (source, market, entity) triple
    has_patients: bool
    has_amount: bool
    has_wait: bool
    windows: dict[int, _Window] = field(default_factory=dict)  # by length (float32 counts)

    @property
    def n_ties(self) -> int:
        return int(self.src.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (object arrays: their pointers only)."""
        total = 0
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                total += value.nbytes
            elif isinstance(value, _RowValues):
                total += value.ptr.nbytes + value.tie.nbytes
                total += sum(col.nbytes for col in value.columns.values())
                total += sum(w.sums.nbytes for w in value.windows.values())
        return total + sum(w.sums.nbytes for w in self.windows.values())

    def cutoff_index(self, cutoff: pd.Timestamp) -> int:
        return int(cutoff.year * 12 + cutoff.month - 1 - self.first_month)

    def trip_labels(self, trips: IntArray) -> npt.NDArray[np.object_]:
        """Display labels of (source, market, entity) triples: organisation or name."""
        if self.trip_entity is None or self.entity_labels is None:
            out: npt.NDArray[np.object_] = self.names[self.tgt[trips]]
        else:
            out = self.entity_labels[self.trip_entity[trips]]
        return out

    def month_of(self, index: int) -> pd.Timestamp:
        return _month_start(self.first_month + index)

    def window(self, start: int, stop: int, ties: IntArray | None = None) -> FloatArray:
        """Referrals in months ``start .. stop - 1``, per tie (all, or `ties`; not to modify).

        For all ties and whole-number (float32) counts, the last window of each
        length is kept and the next one derived from it (see :func:`_slide`).
        """
        if ties is None and self.counts.dtype == np.float32:
            length = stop - start
            self.windows[length] = _slide(self.windows.get(length), start, stop, self._sums)
            return self.windows[length].sums
        return self._sums(start, stop, ties)

    def _sums(self, start: int, stop: int, ties: IntArray | None = None) -> FloatArray:
        block = self.counts[start:stop] if ties is None else self.counts[start:stop, ties]
        out: FloatArray = block.sum(axis=0, dtype=np.float64)
        return out

    def column_window(self, name: str, start: int, stop: int) -> FloatArray:
        """Sum of an optional column (patients, amount, ...) in a window, for every tie."""
        assert self.rows is not None
        return self.rows.window(name, start, stop, self.n_ties)


def _text_column(
    table: pd.DataFrame, name: str, pos: IntArray, found: BoolArray, n: int
) -> npt.NDArray[np.object_]:
    """Per id: the stripped text of a providers column (None when missing or blank)."""
    picked = table[name].astype("object").to_numpy(dtype=object)[pos[found]]
    present = pd.notna(picked)
    stripped = np.array([str(v).strip() for v in picked[present]], dtype=object)
    keep = stripped != ""
    out = np.full(n, None, dtype=object)
    out[np.flatnonzero(found)[present][keep]] = stripped[keep]
    return out


def _provider_table(
    providers: pd.DataFrame | None, ids: npt.NDArray[np.object_]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Per id: display name, specialty (None when unknown), organisation (None)."""
    n = len(ids)
    names = ids.copy()
    specialty = np.full(n, None, dtype=object)
    org = np.full(n, None, dtype=object)
    if providers is None:
        return names, specialty, org
    if not isinstance(providers, pd.DataFrame):
        raise ParameterError(
            "The 'providers' parameter must be a pandas DataFrame with an 'id' column. "
            f"Got {type(providers).__name__} instead."
        )
    cols = _resolve_columns(providers, _PROVIDER_ALIASES, None, what="providers table")
    if cols["id"] is None:
        raise SchemaError(
            "The providers table lacks an 'id' column (the provider id, as in the panel's "
            "source and target); read it with referral_graph.io.read_providers."
        )
    table = providers.drop_duplicates(subset=[cols["id"]])
    index = pd.Index(table[cols["id"]].astype("str").to_numpy(dtype=object))
    pos = index.get_indexer(pd.Index(ids))
    found = pos >= 0
    if cols["name"] is not None:
        got_names = _text_column(table, cols["name"], pos, found, n)
        has = pd.notna(got_names)
        names[has] = got_names[has]
    if cols["specialty"] is not None:
        specialty = _text_column(table, cols["specialty"], pos, found, n)
    if cols["organization"] is not None:
        org = _text_column(table, cols["organization"], pos, found, n)
    return names, specialty, org


def _codes_of(labels: npt.NDArray[np.object_]) -> tuple[IntArray, npt.NDArray[np.object_]]:
    codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=True)
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def _sorted_codes(keys: npt.NDArray[np.int64]) -> tuple[Int32Array, npt.NDArray[np.int64]]:
    """``np.unique(keys, return_inverse=True)`` by hashing, then sorting the distinct keys.

    Keys already in order (a panel sorted by source and target) are numbered by runs.
    """
    if len(keys) and bool(np.all(keys[1:] >= keys[:-1])):
        starts = np.empty(len(keys), dtype=bool)
        starts[0] = True
        np.not_equal(keys[1:], keys[:-1], out=starts[1:])
        runs = np.cumsum(starts, dtype=np.int32)
        runs -= 1
        return runs, keys[starts]
    codes, uniques = pd.factorize(keys)
    uniques = np.asarray(uniques, dtype=np.int64)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(uniques), dtype=np.int32)
    rank[order] = np.arange(len(uniques), dtype=np.int32)
    return rank[codes], uniques[order]


def _provider_codes(
    panel: pd.DataFrame, scol: str, tcol: str
) -> tuple[npt.NDArray[np.object_], Int32Array, Int32Array]:
    """Sorted provider ids and the source and target code of each panel row."""
    s_codes, s_uniq = _memo.factorize(panel[scol].astype("str"))
    t_codes, t_uniq = _memo.factorize(panel[tcol].astype("str"))
    s_ids = np.asarray(s_uniq, dtype=object)
    t_ids = np.asarray(t_uniq, dtype=object)
    ids = np.unique(np.concatenate([s_ids, t_ids]))
    index = pd.Index(ids)
    s_map = index.get_indexer(s_ids).astype(np.int32)
    t_map = index.get_indexer(t_ids).astype(np.int32)
    return ids, s_map[s_codes], t_map[t_codes]


def _month_order(
    month: npt.NDArray[np.int16], n_months: int
) -> tuple[IntArray, npt.NDArray[np.int64]]:
    """The panel rows sorted by month (stable), and the offsets of each month's rows."""
    order = np.argsort(month, kind="stable").astype(np.intp)
    ptr = np.searchsorted(month[order], np.arange(n_months + 1), side="left").astype(np.int64)
    return order, ptr


def _count_matrix(
    tie: Int32Array, refs: FloatArray, ptr: npt.NDArray[np.int64], n_ties: int
) -> tuple[npt.NDArray[np.floating[Any]], Int32Array]:
    """The (month x tie) count matrix, and per tie the first month with referrals.

    `tie` and `refs` are per panel row, the rows sorted by month (month ``m``
    at ``ptr[m]:ptr[m + 1]``). A month whose rows name their ties once each in
    increasing order (a panel sorted by tie) is written as it is; otherwise
    the rows of each tie are summed. The first month is ``n_months`` for a
    tie that never has referrals.
    """
    n_months = len(ptr) - 1
    exact = _exact_float32(refs)
    counts: npt.NDArray[np.floating[Any]] = np.zeros(
        (n_months, n_ties), dtype=np.float32 if exact else np.float64
    )
    first = np.full(n_ties, n_months, dtype=np.int32)
    for m in range(n_months - 1, -1, -1):
        ties, values = tie[ptr[m] : ptr[m + 1]], refs[ptr[m] : ptr[m + 1]]
        if bool(np.all(ties[1:] > ties[:-1])):
            counts[m, ties] = values + 0.0  # a sum of one row (as the sum, -0.0 becomes 0.0)
        else:
            cell = _weighted_counts(ties, values, n_ties)
            if counts.dtype == np.float32 and len(cell) and cell.max() >= _FLOAT32_EXACT:
                counts = counts.astype(np.float64)  # a cell too large for float32: keep it exact
            counts[m] = cell
        first[ties[values > 0]] = m
    return counts, first


def _reverse_ties(
    src: Int32Array, tgt: Int32Array, keys: npt.NDArray[np.int64], n_ids: int
) -> Int32Array:
    """Per tie ``s -> t``: the index of the tie ``t -> s``, -1 when absent.

    `keys` are the sorted tie keys ``source * n_ids + target``. Only a tie
    from a provider that also receives to one that also refers can have a
    reverse tie; those are looked up in `keys`.
    """
    refers = np.zeros(n_ids, dtype=bool)
    refers[src] = True
    receives = np.zeros(n_ids, dtype=bool)
    receives[tgt] = True
    candidates = np.flatnonzero(refers[tgt] & receives[src])
    wanted = tgt[candidates].astype(np.int64) * n_ids + src[candidates]
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = keys[pos] == wanted
    reverse = np.full(len(keys), -1, dtype=np.int32)
    reverse[candidates[found]] = pos[found]
    return reverse


def _row_values(
    panel: pd.DataFrame,
    cols: Mapping[str, str | None],
    refs: FloatArray,
    tie: Int32Array,
    order: IntArray,
    ptr: npt.NDArray[np.int64],
) -> _RowValues | None:
    """Patients, amounts and waits per panel row, the rows sorted by month, when present.

    `order` sorts the panel rows by month; `refs`, `tie` and `ptr` are already
    in that order (see :func:`_month_order`).
    """
    columns: dict[str, npt.NDArray[np.floating[Any]]] = {}

    def _numbers(col: str) -> FloatArray:
        """The column as float64, in panel order."""
        values: FloatArray = pd.to_numeric(panel[col], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        return values

    def _keep(name: str, values: FloatArray, *, ordered: bool) -> None:
        """Keep a column (float32 when exact), sorted by month unless already `ordered`."""
        # float32 before sorting: half the bytes to move
        kept = values.astype(np.float32) if _exact_float32(values) else values
        columns[name] = kept if ordered else kept[order]

    for key in ("patients", "amount"):
        col = cols[key]
        if col is not None:
            values = _numbers(col)
            if not np.isfinite(values).all():
                values = np.nan_to_num(values)
            _keep(key, values, ordered=False)
    if cols["wait"] is not None:
        wait = _numbers(str(cols["wait"]))[order]
        known = np.isfinite(wait)
        if bool(known.any()):
            _keep("wait", np.where(known, wait * refs, 0.0), ordered=True)
            _keep("wait_n", np.where(known, refs, 0.0), ordered=True)
    if not columns:
        return None
    return _RowValues(ptr=ptr, tie=tie, columns=columns)


def _build(
    panel: pd.DataFrame,
    *,
    providers: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> _TieMatrix:
    if not isinstance(panel, pd.DataFrame):
        raise ParameterError(
            "The 'panel' parameter must be a pandas DataFrame (the edge panel of "
            "referral_graph.aggregate.edge_panel) or a PreparedPanel. "
            f"Got {type(panel).__name__} instead."
        )
    cols = _resolve_columns(panel, _ALIASES, columns, what="panel")
    missing = [k for k in ("source", "target", "month") if cols[k] is None]
    if missing:
        raise SchemaError(
            f"The panel lacks column(s) for {', '.join(missing)}: expected the edge panel of "
            "referral_graph.aggregate.edge_panel (source, target, month, referrals), or map "
            "your columns with columns={'source': ..., 'target': ..., 'month': ...}."
        )
    if len(panel) == 0:
        raise InsufficientDataError("The panel has no rows.")
    scol, tcol, mcol = str(cols["source"]), str(cols["target"]), str(cols["month"])
    for key, col in (("source", scol), ("target", tcol)):
        if bool(panel[col].isna().any()):
            raise SchemaError(
                f"The panel's {key} column {col!r} has {int(panel[col].isna().sum()):,} "
                "missing id(s); drop or fix those rows first."
            )
    month_no = _month_numbers(panel[mcol], mcol)
    first, last = int(month_no.min()), _last_month(int(month_no.max()), data_end)
    n_months = last - first + 1
    month = (month_no - first).astype(np.int16)
    del month_no
    if cols["referrals"] is None:
        logger.info("The panel has no count column: each row is read as one referral")
        refs = np.ones(len(panel), dtype=np.float64)
    else:
        refs = pd.to_numeric(panel[cols["referrals"]], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = ~np.isfinite(refs) | (refs < 0)
        if bool(bad.any()):
            raise SchemaError(
                f"The panel's count column {cols['referrals']!r} has {int(bad.sum()):,} "
                "missing, negative or infinite value(s); counts must be >= 0."
            )
    ids, s_code, t_code = _provider_codes(panel, scol, tcol)
    n_ids = len(ids)
    tie_of_row, tie_keys = _sorted_codes(s_code.astype(np.int64) * n_ids + t_code)
    del s_code, t_code
    n_ties = len(tie_keys)
    src = (tie_keys // n_ids).astype(np.int32)
    tgt = (tie_keys % n_ids).astype(np.int32)
    order, ptr = _month_order(month, n_months)
    del month
    tie_by_month, refs = tie_of_row[order], refs[order]
    del tie_of_row
    counts, first_active = _count_matrix(tie_by_month, refs, ptr, n_ties)
    rows = _row_values(panel, cols, refs, tie_by_month, order, ptr)
    del order, tie_by_month, refs
    reverse = _reverse_ties(src, tgt, tie_keys, n_ids)
    del tie_keys

    names, specialty, org = _provider_table(providers, ids)
    receivers = np.unique(tgt)
    by_specialty = bool(pd.notna(specialty[receivers]).any())
    by_org = bool(pd.notna(org[receivers]).any())

    if by_specialty:
        market_of_id, _ = _codes_of(np.where(pd.notna(specialty), specialty, "").astype(object))
        n_markets = int(market_of_id.max()) + 1
        pair, _ = _sorted_codes(src.astype(np.int64) * n_markets + market_of_id[tgt])
        n_pairs = int(pair.max()) + 1
    else:
        pair, n_pairs = src, n_ids
    trip_entity: Int32Array | None = None
    label_of_entity: npt.NDArray[np.object_] | None = None
    if by_org:
        has_org = pd.notna(org)
        # Entities sorted as "o:<organisation>" before "p:<provider id>" (ids are sorted).
        org_codes, org_names = _codes_of(org[has_org])
        entity_of_id = np.empty(n_ids, dtype=np.int64)
        entity_of_id[has_org] = org_codes
        entity_of_id[~has_org] = len(org_names) + np.arange(int((~has_org).sum()))
        entity_labels = np.where(has_org, org, names).astype(object)
        n_entities = len(org_names) + int((~has_org).sum())
        trip, trip_keys = _sorted_codes(pair.astype(np.int64) * n_entities + entity_of_id[tgt])
        n_trips = len(trip_keys)
        trip_pair = (trip_keys // n_entities).astype(np.int32)
        label_of_entity = np.empty(n_entities, dtype=object)
        label_of_entity[entity_of_id] = entity_labels
        trip_entity = (trip_keys % n_entities).astype(np.int32)
    else:
        trip, n_trips = np.arange(n_ties, dtype=np.int32), n_ties
        trip_pair = pair

    logger.info(
        "Churn: %s ties x %s months (%s to %s) from %s panel rows",
        f"{n_ties:,}",
        n_months,
        _month_start(first).date(),
        _month_start(last).date(),
        f"{len(panel):,}",
    )
    return _TieMatrix(
        first_month=first,
        n_months=n_months,
        ids=ids,
        src=src,
        tgt=tgt,
        counts=counts,
        first_active=first_active,
        rows=rows,
        reverse=reverse,
        pair=pair,
        n_pairs=n_pairs,
        trip=trip,
        n_trips=n_trips,
        trip_pair=trip_pair,
        trip_entity=trip_entity,
        entity_labels=label_of_entity,
        names=names,
        specialty=specialty,
        by_specialty=by_specialty,
        by_org=by_org,
        has_patients=rows is not None and "patients" in rows.columns,
        has_amount=rows is not None and "amount" in rows.columns,
        has_wait=rows is not None and "wait" in rows.columns,
    )


class PreparedPanel:
    """An edge panel prepared once for several churn functions.

    Every churn function turns the panel into a dense (month x tie) count
    matrix with provider, market and organisation codes before it computes
    anything. Pass a ``PreparedPanel`` instead of the panel to do that work
    once: :func:`at_risk` followed by :func:`backtest` (as the report does)
    then builds the matrix once, and the labelled cutoffs' model inputs
    computed by one call are reused by the next (they are kept in the object,
    one float32 row of :data:`FEATURE_COLUMNS` per active tie and cutoff;
    :meth:`clear` drops them). Results are the same as with the panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        The edge panel (see :func:`churn_features`). Not modified and not
        kept: later changes to it do not reach the prepared object.
    providers : pandas.DataFrame, optional
        ``id``, ``name``, ``specialty``, ``organization`` (see
        :func:`churn_features` and :func:`at_risk`).
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row; default: the month of the last row.

    Attributes
    ----------
    providers : pandas.DataFrame or None
        The providers table given (kept by reference).
    columns : dict or None
        The column mapping given.
    data_end : str, Timestamp or None
        The `data_end` given.
    n_ties : int
        Number of ties (distinct source -> target pairs).
    n_months : int
        Months from the panel's first month to the data's last month.
    first_month, last_month : pandas.Timestamp
        The first and last month of the data.
    nbytes : int
        Bytes held by the matrix and the cached model inputs.

    Raises
    ------
    ParameterError, SchemaError, InsufficientDataError
        As the churn functions do for a bad panel or providers table.

    Notes
    -----
    The functions that take a ``PreparedPanel`` reject ``providers``,
    ``columns`` and ``data_end`` arguments other than the ones it was
    prepared with (pass them here instead).

    Examples
    --------
    >>> p = pd.DataFrame({"source": "A", "target": "B", "referrals": 2,
    ...                   "month": pd.date_range("2023-01-01", periods=16, freq="MS")})
    >>> prepared = PreparedPanel(p)
    >>> prepared.n_ties, prepared.n_months, str(prepared.last_month.date())
    (1, 16, '2024-04-01')
    >>> churn_labels(prepared, "2024-01-01")["churned"].tolist()
    [False]
    """

    def __init__(
        self,
        panel: pd.DataFrame,
        *,
        providers: pd.DataFrame | None = None,
        columns: Mapping[str, str] | None = None,
        data_end: str | pd.Timestamp | None = None,
    ) -> None:
        self._ties = _build(panel, providers=providers, columns=columns, data_end=data_end)
        self.providers = providers
        self.columns = None if columns is None else dict(columns)
        self.data_end = data_end
        self._slices: dict[tuple[_Options, int], _Slice] = {}

    @property
    def n_ties(self) -> int:
        """Number of ties."""
        return self._ties.n_ties

    @property
    def n_months(self) -> int:
        """Number of months covered."""
        return self._ties.n_months

    @property
    def first_month(self) -> pd.Timestamp:
        """The data's first month."""
        return self._ties.month_of(0)

    @property
    def last_month(self) -> pd.Timestamp:
        """The data's last month."""
        return self._ties.month_of(self._ties.n_months - 1)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the matrix, codes and cached model inputs)."""
        cached = sum(s.nbytes for s in self._slices.values())
        return self._ties.nbytes + cached

    def clear(self) -> None:
        """Drop the cached model inputs of the labelled cutoffs and the kept window sums."""
        self._slices.clear()
        self._ties.windows.clear()
        if self._ties.rows is not None:
            self._ties.rows.windows.clear()

    def __repr__(self) -> str:
        return (
            f"PreparedPanel({self.n_ties:,} ties x {self.n_months} months, "
            f"{self.first_month.date()} to {self.last_month.date()})"
        )

    def _labelled_slice(self, ci: int, opts: _Options) -> _Slice:
        """The model inputs, labels and rule scores of a labelled cutoff (cached)."""
        key = (opts, ci)
        if key not in self._slices:
            self._slices[key] = _slice(self._ties, ci, opts, labels=True)
        return self._slices[key]


def _prepared(
    panel: pd.DataFrame | PreparedPanel,
    fn: str,
    *,
    providers: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> PreparedPanel:
    """`panel` itself when prepared (checking the other arguments), else a new PreparedPanel."""
    if not isinstance(panel, PreparedPanel):
        return PreparedPanel(panel, providers=providers, columns=columns, data_end=data_end)
    clashes = []
    if providers is not None and providers is not panel.providers:
        clashes.append("providers")
    if columns is not None and dict(columns) != panel.columns:
        clashes.append("columns")
    if data_end is not None and (
        panel.data_end is None
        or _parse_cutoffs(data_end, fn, "data_end") != _parse_cutoffs(panel.data_end, fn)
    ):
        clashes.append("data_end")
    if clashes:
        raise ParameterError(
            f"The {', '.join(repr(c) for c in clashes)} parameter(s) of {fn} must be left out "
            "when 'panel' is a PreparedPanel: give them to PreparedPanel(...) instead."
        )
    return panel


def _parse_cutoffs(cutoffs: CutoffsLike, fn: str, name: str = "cutoffs") -> list[pd.Timestamp]:
    items: list[Any]
    if isinstance(cutoffs, str | pd.Timestamp) or not isinstance(cutoffs, Iterable):
        items = [cutoffs]
    else:
        items = list(cutoffs)
    if not items:
        raise ParameterError(f"The '{name}' parameter of {fn} must name at least one month.")
    out: list[pd.Timestamp] = []
    for item in items:
        try:
            stamp = pd.Timestamp(item)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"The '{name}' parameter of {fn} must hold month starts such as "
                f"'2024-07-01'. Got {item!r} instead."
            ) from exc
        if pd.isna(stamp):
            raise ParameterError(f"The '{name}' parameter of {fn} must not be missing.")
        if stamp.tz is not None:
            stamp = stamp.tz_localize(None)
        if stamp != stamp.normalize() or stamp.day != 1:
            raise ParameterError(
                f"The '{name}' parameter of {fn} must hold month starts (the first day of a "
                f"month, e.g. '{stamp.strftime('%Y-%m')}-01'). Got {item!r} instead."
            )
        out.append(stamp)
    return sorted(set(out))


def _check_cutoff(ties: _TieMatrix, ci: int, opts: _Options, *, labels: bool) -> None:
    cutoff = ties.month_of(ci)
    if ci < opts.baseline_months:
        raise InsufficientDataError(
            f"The cutoff {cutoff.date()} has {max(ci, 0)} month(s) of data before it; the "
            f"baseline needs {opts.baseline_months} (the data start {ties.month_of(0).date()})."
        )
    if ci > ties.n_months:
        raise InsufficientDataError(
            f"The cutoff {cutoff.date()} is after the month following the data's last month "
            f"({ties.month_of(ties.n_months - 1).date()}); months in between are unobserved."
        )
    if labels and ci + opts.horizon > ties.n_months:
        raise InsufficientDataError(
            f"The cutoff {cutoff.date()} has no labels: its {opts.horizon}-month horizon "
            f"runs past the data's last month ({ties.month_of(ties.n_months - 1).date()})."
        )


# ----------------------------------------------------------------------------- features


def _weighted_counts(codes: npt.NDArray[Any], weights: npt.NDArray[Any], n: int) -> FloatArray:
    """``np.bincount`` with weights (float64), typed."""
    return np.asarray(np.bincount(codes, weights=weights, minlength=n), dtype=np.float64)


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
    )


def _active(ties: _TieMatrix, ci: int, opts: _Options, base: FloatArray | None = None) -> IntArray:
    """The ties with at least ``min_referrals`` referrals in the baseline window of `ci`."""
    if base is None:
        base = ties.window(ci - opts.baseline_months, ci)
    return np.flatnonzero(base >= opts.min_referrals - 1e-9).astype(np.intp)


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
    msl, median_gap, n_gaps = _lapse_and_gaps(block > 0)
    del block
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
    f["lapse_surprise"] = np.minimum(quiet_rate * msl, 25.0)
    p_low = pdtr(recent, np.maximum(r * rate_p, 1e-9))
    f["drop_surprise"] = np.clip(-np.log(np.clip(p_low, 1e-12, 1.0)), 0.0, 25.0)
    if amount and ties.has_amount:
        f["baseline_amount"] = _column("amount", ci - nb)
    return idx, f


def _labels_at(
    ties: _TieMatrix, ci: int, idx: IntArray, opts: _Options
) -> tuple[FloatArray, FloatArray, BoolArray]:
    nb, h = opts.baseline_months, opts.horizon
    bsum = ties.window(ci - nb, ci, idx)
    future = ties.window(ci, ci + h, idx)
    expected = bsum / nb * h
    return future, expected, future < opts.churn_fraction * expected


_INT_COLUMNS = (
    "baseline_referrals",
    "recent_referrals",
    "referrer_baseline",
    "referrer_recent",
    "reciprocal_referrals",
    "months_since_last",
    "tenure",
)


def _frame(
    ties: _TieMatrix,
    ci: int,
    idx: IntArray,
    values: Mapping[str, FloatArray],
    columns: Sequence[str],
) -> pd.DataFrame:
    data: dict[str, Any] = {
        "source": pd.array(ties.ids[ties.src[idx]], dtype="str"),
        "target": pd.array(ties.ids[ties.tgt[idx]], dtype="str"),
        "cutoff": np.full(len(idx), ties.month_of(ci).to_datetime64(), dtype="datetime64[ns]"),
    }
    for col in columns:
        data[col] = values[col]
    return pd.DataFrame(data)


def _feature_columns(ties: _TieMatrix) -> list[str]:
    cols = list(DESCRIPTIVE_COLUMNS)
    if ties.has_amount:
        cols.append("baseline_amount")
    return cols + list(FEATURE_COLUMNS)


def churn_cutoffs(
    panel: pd.DataFrame | PreparedPanel,
    *,
    baseline_months: int = 12,
    horizon: int = 3,
    labelled: bool = True,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> list[pd.Timestamp]:
    """Return the cutoffs with a full baseline (and, if `labelled`, an observed horizon).

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel.
    baseline_months, horizon : int
        As in :func:`churn_features` and :func:`churn_labels`.
    labelled : bool, default True
        Only cutoffs whose horizon lies inside the data; with False, every
        cutoff up to the month after the data's last month.
    columns : mapping, optional
        Panel column names, e.g. ``{"referrals": "transaction_count"}``.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

    Returns
    -------
    list of pandas.Timestamp

    Examples
    --------
    >>> p = pd.DataFrame({"source": "A", "target": "B", "referrals": 1,
    ...                   "month": pd.date_range("2023-01-01", periods=16, freq="MS")})
    >>> [c.strftime("%Y-%m") for c in churn_cutoffs(p)]
    ['2024-01', '2024-02']
    """
    fn = "churn_cutoffs"
    opts = _Options.make(
        fn,
        baseline_months=baseline_months,
        min_referrals=1,
        horizon=horizon,
        churn_fraction=0.25,
        recent_months=1,
    )
    if isinstance(panel, PreparedPanel):
        ties = _prepared(panel, fn, columns=columns, data_end=data_end)._ties
        first, last = ties.first_month, ties.first_month + ties.n_months - 1
    else:
        cols = _resolve_columns(panel, _ALIASES, columns, what="panel")
        if cols["month"] is None:
            raise SchemaError("The panel lacks a month column; map it with columns={'month': ...}.")
        numbers = _month_numbers(panel[cols["month"]], cols["month"])
        first, last = int(numbers.min()), _last_month(int(numbers.max()), data_end)
    stop = last + 1 - opts.horizon if labelled else last + 1
    return [_month_start(m) for m in range(first + opts.baseline_months, stop + 1)]


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


def churn_labels(
    panel: pd.DataFrame | PreparedPanel,
    cutoffs: CutoffsLike,
    *,
    horizon: int = 3,
    baseline_months: int = 12,
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Return the churn label of every tie active at each labelled cutoff.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel.
    cutoffs : str, Timestamp or iterable of them
        Month starts whose horizon lies inside the data.
    horizon, baseline_months, min_referrals, churn_fraction
        The definitions in the module docstring.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target``, ``cutoff``, ``baseline_referrals`` and
        ``horizon_referrals`` (int64), ``expected_referrals`` (baseline rate
        x horizon, float64) and ``churned`` (bool).

    Raises
    ------
    InsufficientDataError
        If a cutoff has no full baseline or its horizon runs past the data.

    Examples
    --------
    >>> p = pd.DataFrame({"source": "A", "target": "B", "referrals": [1] * 12 + [1],
    ...                   "month": pd.date_range("2023-01-01", periods=13, freq="MS")})
    >>> churn_labels(p, "2024-01-01", horizon=1)["churned"].tolist()
    [False]
    """
    fn = "churn_labels"
    opts = _Options.make(
        fn,
        baseline_months=baseline_months,
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
        recent_months=1,
    )
    stamps = _parse_cutoffs(cutoffs, fn)
    ties = _prepared(panel, fn, columns=columns, data_end=data_end)._ties
    frames = []
    for stamp in stamps:
        ci = ties.cutoff_index(stamp)
        _check_cutoff(ties, ci, opts, labels=True)
        idx = _active(ties, ci, opts)
        future, expected, churned = _labels_at(ties, ci, idx, opts)
        values = {
            "baseline_referrals": ties.window(ci - opts.baseline_months, ci, idx),
            "horizon_referrals": future,
            "expected_referrals": expected,
        }
        frame = _frame(ties, ci, idx, values, list(values))
        frame["churned"] = churned
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for col in ("baseline_referrals", "horizon_referrals"):
        out[col] = out[col].round().astype("int64")
    return out


# ----------------------------------------------------------------------------- the model


def _column_medians(x: npt.NDArray[Any]) -> FloatArray:
    """Median of the finite values of each column (0 for a column without any)."""
    out = np.zeros(x.shape[1], dtype=np.float64)
    for j in range(x.shape[1]):
        column = x[:, j]
        finite = column[np.isfinite(column)]
        if finite.size:
            out[j] = float(np.median(finite))
    return out


class _ChurnNotFittedError(NotFittedError, SklearnNotFittedError):  # type: ignore[misc]
    """Raised by an unfitted :class:`ChurnModel`; both the package's and scikit-learn's error."""


class ChurnModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Calibrated churn classifier (a scikit-learn estimator).

    ``fit`` builds a :class:`~sklearn.pipeline.Pipeline` (mean imputation,
    standardisation, L2-penalised logistic regression; or a
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, which handles
    missing values itself) and, when ``calibration`` is set and every class
    has at least ``2 * cv`` samples, wraps a copy of it in
    :class:`~sklearn.calibration.CalibratedClassifierCV` so that
    ``predict_proba`` returns calibrated probabilities. The pipeline fitted on
    all the data is kept in ``pipeline_`` to explain predictions.

    Parameters
    ----------
    model : {"logistic", "gbm"}, default "logistic"
        The classifier.
    C : float, default 1.0
        Inverse L2 regularisation strength of the logistic regression.
    calibration : {"sigmoid", "isotonic"} or None, default "sigmoid"
        Calibration method. Sigmoid (Platt) scaling is strictly monotone, so it
        keeps the ranking of the ties; isotonic regression is more flexible
        but maps scores to steps (tied risks).
    cv : int, default 3
        Folds of the calibration.
    class_weight : dict, "balanced" or None
        Passed to the classifier. With calibration on, the calibrated
        probabilities are estimated on the unweighted data, so they stay
        probabilities of churn; class weights then only shape the ranking.
    max_iter : int, optional
        Iterations of the solver (logistic, Newton-Cholesky, default 100) or
        boosting rounds (gbm, default 200).
    n_threads : int or None, default 1
        Threads of the BLAS and OpenMP pools while fitting and predicting
        (through :mod:`threadpoolctl`); each fit is small (tens of features),
        so more threads mostly add overhead. None leaves the pools alone.
    random_state : int, optional
        Seed of the calibration folds and of the gradient boosting.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` was a DataFrame with string column names.
    pipeline_ : sklearn.pipeline.Pipeline
        The pipeline fitted on all the data (uncalibrated).
    calibrator_ : CalibratedClassifierCV or None
        The calibrated model, or None when calibration was off or the data
        too small.
    calibrated_ : bool
        Whether ``predict_proba`` is calibrated.
    n_iter_ : int
        Solver iterations (logistic) or boosting rounds (gbm) of ``pipeline_``.
    coef_, intercept_ : ndarray
        Logistic coefficients on the standardised features (logistic only).
    reference_ : ndarray
        Training medians of the features (the reference of explanations).
    empty_features_ : ndarray of bool
        Features missing in every training row; they are set to 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> m = ChurnModel(random_state=0).fit(X, y)
    >>> m.predict_proba(X[:2]).shape, m.calibrated_, m.coef_.shape
    ((2, 2), True, (1, 3))
    """

    def __init__(
        self,
        *,
        model: str = "logistic",
        C: float = 1.0,  # noqa: N803
        calibration: str | None = "sigmoid",
        cv: int = 3,
        class_weight: dict[Any, float] | str | None = None,
        max_iter: int | None = None,
        n_threads: int | None = 1,
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.C = C
        self.calibration = calibration
        self.cv = cv
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.n_threads = n_threads
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # the imputer (logistic) or the trees (gbm) handle NaN
        return tags

    def _make_pipeline(self) -> Pipeline:
        fn = "ChurnModel"
        check_choice(self.model, "model", fn, ("logistic", "gbm"))
        check_choice(self.calibration, "calibration", fn, ("sigmoid", "isotonic", None))
        check_float(self.C, "C", fn, low=0.0, high=math.inf, low_open=True)
        check_int(self.cv, "cv", fn, low=2, high=20)
        if self.max_iter is not None:
            check_int(self.max_iter, "max_iter", fn, low=1, high=1_000_000)
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", fn, low=1, high=1024)
        if self.model == "logistic":
            return Pipeline(
                [
                    ("impute", SimpleImputer(strategy="mean", keep_empty_features=True)),
                    ("scale", StandardScaler()),
                    (
                        "classify",
                        LogisticRegression(
                            C=float(self.C),
                            solver="newton-cholesky",
                            class_weight=self.class_weight,
                            max_iter=self.max_iter or 100,
                            random_state=self.random_state,
                        ),
                    ),
                ]
            )
        return Pipeline(
            [
                (
                    "classify",
                    HistGradientBoostingClassifier(
                        max_iter=self.max_iter or 200,
                        learning_rate=0.1,
                        max_leaf_nodes=15,
                        min_samples_leaf=40,
                        l2_regularization=1.0,
                        class_weight=self.class_weight,
                        random_state=self.random_state,
                    ),
                ),
            ]
        )

    def fit(self, X: Any, y: Any) -> ChurnModel:  # noqa: N803
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; missing values are allowed.
        y : array-like of shape (n_samples,)
            Class labels (for churn: True/1 = churned).

        Returns
        -------
        ChurnModel
            The fitted estimator.
        """
        return self._fit(X, y, explain=True)

    def _fit(self, X: Any, y: Any, *, explain: bool) -> ChurnModel:  # noqa: N803
        """Fit; with ``explain=False``, skip what only explanations need.

        When the model is calibrated, ``predict_proba`` uses the calibrated
        folds only; the pipeline fitted on all the data (``pipeline_``,
        ``coef_``) and the reference medians serve :meth:`contributions` and
        the words of :func:`at_risk`. A model that only predicts (the
        backtest's) skips them: the same probabilities for about half the work.
        ``reference_`` is then all missing and ``pipeline_`` is unset.
        """
        pipe = self._make_pipeline()
        X, y = validate_data(  # noqa: N806
            self, X, y, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32]
        )
        check_classification_targets(y)
        classes, y_codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InsufficientDataError(
                "ChurnModel needs samples of at least 2 classes in the data; "
                f"got only one class ({classes[0]!r})."
            )
        self.classes_ = classes
        smallest = int(np.bincount(y_codes).min())
        calibrate = self.calibration is not None and smallest >= 2 * int(self.cv)
        full = explain or not calibrate  # fit the pipeline on all the data
        self.reference_ = _column_medians(X) if full else np.full(X.shape[1], np.nan)
        # A feature missing in every row carries nothing (and trips the tree binning).
        self.empty_features_ = (
            np.asarray(np.isnan(X).all(axis=0)) if len(X) else np.zeros(X.shape[1], dtype=bool)
        )
        X = self._fill_empty(X)  # noqa: N806
        self.calibrator_: CalibratedClassifierCV | None = None
        with self._threads():
            if full:
                self.pipeline_ = clone(pipe).fit(X, y)
            if calibrate:
                folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
                self.calibrator_ = CalibratedClassifierCV(
                    clone(pipe), method=self.calibration, cv=folds
                ).fit(X, y)
        self.calibrated_ = self.calibrator_ is not None
        if full:
            final = self.pipeline_[-1]
            self.n_iter_ = int(np.max(final.n_iter_))
            if self.model == "logistic":
                self.coef_ = final.coef_.copy()
                self.intercept_ = final.intercept_.copy()
        else:
            assert self.calibrator_ is not None
            self.n_iter_ = max(
                int(np.max(c.estimator[-1].n_iter_))
                for c in self.calibrator_.calibrated_classifiers_
            )
        logger.debug(
            "ChurnModel fitted on %s rows (calibrated: %s)", f"{len(y):,}", self.calibrated_
        )
        return self

    def _threads(self) -> contextlib.AbstractContextManager[Any]:
        if self.n_threads is None:
            return contextlib.nullcontext()
        limits: contextlib.AbstractContextManager[Any] = threadpool_limits(
            limits=int(self.n_threads)
        )
        return limits

    def _fill_empty(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if not self.empty_features_.any():
            return x
        x = x.copy()
        x[:, self.empty_features_] = 0.0
        return x

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self)
        except SklearnNotFittedError as exc:
            raise _ChurnNotFittedError(
                "This ChurnModel is not fitted yet; call fit (or fit_churn_model) first."
            ) from exc

    def predict_proba(self, X: Any) -> FloatArray:  # noqa: N803
        """Return class probabilities (calibrated when ``calibrated_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        self._check_fitted()
        X = self._fill_empty(  # noqa: N806
            validate_data(
                self, X, reset=False, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32]
            )
        )
        model = self.calibrator_ if self.calibrator_ is not None else self.pipeline_
        with self._threads():
            return np.asarray(model.predict_proba(X), dtype=np.float64)

    def predict(self, X: Any) -> npt.NDArray[Any]:  # noqa: N803
        """Return the most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def contributions(self, X: Any) -> FloatArray:  # noqa: N803
        """Per-feature contributions to the log-odds of the last class (binary models).

        Logistic: ``coef x standardised value`` (relative to the training mean;
        they sum to the uncalibrated logit minus the intercept). Gradient
        boosting: the fall in log-odds when the feature is set to its training
        median, one feature at a time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> m = ChurnModel(calibration=None).fit(X, y)
        >>> bool(m.contributions(X)[3, 0] > 0 > m.contributions(X)[0, 0])
        True
        """
        self._check_fitted()
        if len(self.classes_) != 2:
            raise ParameterError("ChurnModel.contributions is defined for binary models only.")
        X = self._fill_empty(  # noqa: N806
            validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        )
        if self.model == "logistic":
            z = self.pipeline_[:-1].transform(X)
            return np.asarray(z * self.coef_[0], dtype=np.float64)

        def _logit(data: FloatArray) -> FloatArray:
            p = np.clip(self.pipeline_.predict_proba(data)[:, 1], 1e-6, 1 - 1e-6)
            return np.asarray(np.log(p / (1 - p)), dtype=np.float64)

        full = _logit(X)
        out = np.empty(X.shape, dtype=np.float64)
        for j in range(X.shape[1]):
            moved = X.copy()
            moved[:, j] = self.reference_[j]
            out[:, j] = full - _logit(moved)
        return out


# ----------------------------------------------------------------------------- training data


@dataclass
class _Slice:
    """One cutoff's model inputs: the active ties, their features and labels.

    ``x`` holds :data:`FEATURE_COLUMNS` as float32 (what the model is fitted
    on) and ``rules`` the rule scores of :data:`RULES` (what the backtest
    compares); the other feature columns are not kept.
    """

    ci: int
    idx: IntArray
    x: npt.NDArray[np.float32]
    y: BoolArray | None
    rules: dict[str, FloatArray]

    @property
    def nbytes(self) -> int:
        arrays: list[npt.NDArray[Any]] = [self.idx, self.x, *self.rules.values()]
        if self.y is not None:
            arrays.append(self.y)
        return sum(int(a.nbytes) for a in arrays)


def _model_inputs(values: Mapping[str, FloatArray], n: int) -> npt.NDArray[np.float32]:
    """:data:`FEATURE_COLUMNS` as a float32 matrix (filled column by column)."""
    x = np.empty((n, len(FEATURE_COLUMNS)), dtype=np.float32)
    for j, col in enumerate(FEATURE_COLUMNS):
        x[:, j] = values[col]
    return x


#: Ties whose features are computed at once by _slice (bounds the float64 columns in memory).
_CHUNK = 1 << 16


def _slice(ties: _TieMatrix, ci: int, opts: _Options, *, labels: bool) -> _Slice:
    """One cutoff's model inputs, computed for `_CHUNK` ties at a time.

    Each tie's features depend on its own months and on the cutoff's totals
    only, so chunks give the same values as one pass; only the float32 inputs
    and the rule scores of all the ties are held at once.
    """
    totals = _totals(ties, ci, opts)
    idx = _active(ties, ci, opts, totals.tie_base)
    n = len(idx)
    x = np.empty((n, len(FEATURE_COLUMNS)), dtype=np.float32)
    rules = {name: np.empty(n, dtype=np.float64) for name in RULES}
    # One BLAS thread: the features' only BLAS call is a small matrix-vector product, and
    # the threads a larger pool keeps spinning between chunks take CPU from the rest.
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            _, values = _features_at(
                ties, ci, opts, idx=idx[start:stop], totals=totals, amount=False
            )
            x[start:stop] = _model_inputs(values, stop - start)
            for name, score in _rule_scores(values).items():
                rules[name][start:stop] = score
    return _Slice(
        ci=ci,
        idx=idx,
        x=x,
        y=_labels_at(ties, ci, idx, opts)[2] if labels else None,
        rules=rules,
    )


def _training_rows(
    slices: Sequence[_Slice], max_samples: int | None, rng: np.random.Generator
) -> tuple[list[tuple[_Slice, IntArray]], int]:
    sizes = np.array([len(s.idx) for s in slices], dtype=np.int64)
    total = int(sizes.sum())
    if max_samples is None or total <= max_samples:
        return [(s, np.arange(len(s.idx), dtype=np.intp)) for s in slices], total
    quota = np.floor(sizes * (max_samples / total)).astype(np.int64)
    picked = []
    for s, q in zip(slices, quota, strict=True):
        rows = np.sort(rng.choice(len(s.idx), size=int(q), replace=False)).astype(np.intp)
        picked.append((s, rows))
    return picked, int(quota.sum())


def _make_model(
    model: str | ChurnModel,
    *,
    C: float,  # noqa: N803
    calibration: str | None,
    random_state: int | None,
) -> ChurnModel:
    if isinstance(model, ChurnModel):
        template: ChurnModel = clone(model)
        return template
    check_choice(model, "model", "fit_churn_model", ("logistic", "gbm"))
    return ChurnModel(model=model, C=C, calibration=calibration, random_state=random_state)


def _fit_on(
    slices: Sequence[_Slice],
    model: ChurnModel,
    max_samples: int | None,
    rng: np.random.Generator,
    *,
    frame: bool,
    explain: bool = True,
) -> tuple[ChurnModel, list[tuple[_Slice, IntArray]]]:
    """Fit `model` on rows drawn from `slices`.

    With ``explain=False`` (a model that only predicts, as in the backtest) a
    :class:`ChurnModel` skips what only explanations need (see
    :meth:`ChurnModel._fit`); its probabilities are the same.
    """
    picked, n_rows = _training_rows(slices, max_samples, rng)
    x_train = np.concatenate([s.x[rows] for s, rows in picked])
    y_parts = [s.y[rows] for s, rows in picked if s.y is not None]
    y = np.concatenate(y_parts)
    data: Any = (
        pd.DataFrame(x_train, columns=list(FEATURE_COLUMNS), copy=False) if frame else x_train
    )
    if type(model).fit is ChurnModel.fit:
        model._fit(data, y, explain=explain)
    else:  # a subclass with its own fit
        model.fit(data, y)
    logger.info(
        "Churn model fitted on %s rows from %s cutoff(s) (churn rate %.1f %%)",
        f"{n_rows:,}",
        len(slices),
        100 * float(np.mean(y)) if len(y) else 0.0,
    )
    return model, picked


def fit_churn_model(
    panel: pd.DataFrame | PreparedPanel,
    *,
    cutoffs: CutoffsLike | None = None,
    horizon: int = 3,
    baseline_months: int = 12,
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    providers: pd.DataFrame | None = None,
    model: str | ChurnModel = "logistic",
    C: float = 1.0,  # noqa: N803
    calibration: str | None = "sigmoid",
    random_state: int | None = 0,
    max_train_samples: int | None = 200_000,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> tuple[ChurnModel, pd.DataFrame]:
    """Fit a :class:`ChurnModel` on several labelled cutoffs ("slices") at once.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel.
    cutoffs : str, Timestamp or iterable of them, optional
        Training cutoffs; default: every cutoff with a full baseline and an
        observed horizon (:func:`churn_cutoffs`).
    horizon, baseline_months, min_referrals, churn_fraction
        The definitions in the module docstring.
    providers : pandas.DataFrame, optional
        As in :func:`churn_features`.
    model : {"logistic", "gbm"} or ChurnModel, default "logistic"
        The classifier, or an unfitted template (cloned).
    C, calibration, random_state
        Passed to :class:`ChurnModel` (when `model` is a string).
    max_train_samples : int or None, default 200,000
        At most this many rows are drawn at random (seeded), in proportion to
        the cutoffs' sizes; None uses every row.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

    Returns
    -------
    model : ChurnModel
        Fitted on :data:`FEATURE_COLUMNS` (a DataFrame, so it has
        ``feature_names_in_``).
    table : pandas.DataFrame
        The rows the model was fitted on: the :func:`churn_features` columns
        plus ``churned``.

    Raises
    ------
    InsufficientDataError
        If no cutoff has labels, or the labels hold a single class.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> months = pd.date_range("2023-01-01", periods=20, freq="MS")
    >>> rows = [(f"S{i}", f"T{i % 5}", m, int(rng.poisson(3 if i % 3 or k < 14 else 0.2)))
    ...         for i in range(60) for k, m in enumerate(months)]
    >>> p = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> m, table = fit_churn_model(p[p["referrals"] > 0])
    >>> len(table), round(float(table["churned"].mean()), 2)
    (360, 0.23)
    """
    fn = "fit_churn_model"
    opts = _Options.make(
        fn,
        baseline_months=baseline_months,
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
        recent_months=3,
    )
    if max_train_samples is not None:
        check_int(max_train_samples, "max_train_samples", fn, low=10, high=1_000_000_000)
    template = _make_model(model, C=C, calibration=calibration, random_state=random_state)
    prepared = _prepared(panel, fn, providers=providers, columns=columns, data_end=data_end)
    ties = prepared._ties
    if cutoffs is None:
        indices = list(range(opts.baseline_months, ties.n_months - opts.horizon + 1))
        if not indices:
            raise InsufficientDataError(
                f"The panel covers {ties.n_months} month(s); a labelled cutoff needs "
                f"{opts.baseline_months + opts.horizon} ({opts.baseline_months} baseline + "
                f"{opts.horizon} horizon)."
            )
    else:
        indices = [ties.cutoff_index(c) for c in _parse_cutoffs(cutoffs, fn)]
    for ci in indices:
        _check_cutoff(ties, ci, opts, labels=True)
    slices = [prepared._labelled_slice(ci, opts) for ci in indices]
    rng = np.random.default_rng(random_state)
    fitted, picked = _fit_on(slices, template, max_train_samples, rng, frame=True)
    cols = _feature_columns(ties)
    frames = []
    for s, rows in picked:
        # The table's columns, for the drawn rows only (the same values as the model's).
        _, values = _features_at(ties, s.ci, opts, idx=s.idx[rows])
        frame = _frame(ties, s.ci, s.idx[rows], values, cols)
        frame["churned"] = np.asarray(s.y)[rows] if s.y is not None else False
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    for col in _INT_COLUMNS:
        table[col] = table[col].round().astype("int64")
    return fitted, table


# ----------------------------------------------------------------------------- metrics


def _hits_at_k(y: BoolArray, score: FloatArray, k: int) -> float:
    """Expected positives among the top `k` scores, ties broken at random."""
    s = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-s, kind="stable")
    y_cum = np.r_[0.0, np.cumsum(y[order].astype(np.float64))]
    return _hits_sorted(s[order], y_cum, k)


def _hits_sorted(s_sorted: FloatArray, y_cum: FloatArray, k: int) -> float:
    """:func:`_hits_at_k` on scores sorted in descending order (``y_cum``: cumulative labels)."""
    n = len(s_sorted)
    k = min(k, n)
    if k <= 0:
        return math.nan
    cut = s_sorted[k - 1]
    # s_sorted is non-increasing: the scores above the cut come first, then the tied ones.
    neg = -s_sorted
    n_above = int(np.searchsorted(neg, -cut, side="left"))
    n_upto = int(np.searchsorted(neg, -cut, side="right"))
    tied_mean = (y_cum[n_upto] - y_cum[n_above]) / (n_upto - n_above)
    return float(y_cum[n_above] + (k - n_above) * tied_mean)


def _curve_areas(finite_sorted: FloatArray, y_sorted: FloatArray) -> tuple[float, float]:
    """ROC-AUC and average precision from scores sorted in descending order.

    The same quantities as :func:`sklearn.metrics.roc_auc_score` and
    :func:`sklearn.metrics.average_precision_score` (true and false positives
    at each distinct score), from one sort shared with precision@k.
    """
    n = len(finite_sorted)
    last = np.r_[np.flatnonzero(np.diff(finite_sorted)), n - 1]
    tps = np.cumsum(y_sorted)[last]
    fps = 1.0 + last - tps
    pos, neg = tps[-1], fps[-1]
    # trapezoids under the ROC curve, in whole numbers until the one division
    d_fps = np.diff(np.r_[0.0, fps])
    heights = tps + np.r_[0.0, tps[:-1]]
    roc_auc = float(np.sum(d_fps * heights) / (2.0 * pos * neg))
    recall = tps / pos
    precision = tps / (tps + fps)
    pr_auc = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return roc_auc, pr_auc


def _metrics(
    y: BoolArray, score: FloatArray, ks: Sequence[int], *, proba: bool
) -> dict[str, float]:
    y = y.astype(bool)
    n, pos = len(y), int(y.sum())
    both = 0 < pos < n
    s = np.where(np.isnan(score), -np.inf, score)
    finite = np.where(
        np.isinf(s),
        np.nanmin(np.where(np.isinf(s), np.nan, s)) - 1 if np.isfinite(s).any() else 0.0,
        s,
    )
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    y_sorted = y[order].astype(np.float64)
    y_cum = np.r_[0.0, np.cumsum(y_sorted)]
    if both:
        if np.isposinf(s).any():  # +inf is moved below the finite scores in `finite`
            f_order = np.argsort(-finite, kind="stable")
            roc_auc, pr_auc = _curve_areas(finite[f_order], y[f_order].astype(np.float64))
        else:
            roc_auc, pr_auc = _curve_areas(finite[order], y_sorted)
    else:
        roc_auc = pr_auc = math.nan
    out: dict[str, float] = {"roc_auc": roc_auc, "pr_auc": pr_auc}
    for k in ks:
        hits = _hits_sorted(s_sorted, y_cum, k)
        out[f"precision_at_{k}"] = hits / min(k, n) if n else math.nan
        out[f"recall_at_{k}"] = hits / pos if pos else math.nan
    top = max(1, math.ceil(0.1 * n)) if n else 0
    rate = pos / n if n else math.nan
    out["top_decile_lift"] = (
        _hits_sorted(s_sorted, y_cum, top) / top / rate if n and pos else math.nan
    )
    out["brier"] = float(brier_score_loss(y, np.clip(score, 0, 1))) if proba and n else math.nan
    return out


def _rule_scores(values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    share_recent = np.nan_to_num(values["share_recent"], nan=0.0)
    return {
        "lapsed_60d": _DAYS_PER_MONTH * values["months_since_last"] + 15.0,
        "trend_down_50": values["trend_drop"],
        "share_down": values["share_baseline"] - share_recent,
    }


def calibration_table(
    y: Any, p: Any, *, bins: int = 10, strategy: Literal["uniform", "quantile"] = "uniform"
) -> pd.DataFrame:
    """Compare predicted probabilities with observed rates, bin by bin.

    Parameters
    ----------
    y : array-like of bool or 0/1
        Observed outcomes.
    p : array-like of float
        Predicted probabilities in [0, 1].
    bins : int, default 10
        Number of bins.
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1], or bins with equal numbers of predictions.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin``, ``p_low``, ``p_high``, ``n``,
        ``mean_predicted``, ``observed_rate`` and ``gap`` (observed -
        predicted).

    Examples
    --------
    >>> t = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], bins=2)
    >>> t[["n", "mean_predicted", "observed_rate"]].values.tolist()
    [[2.0, 0.15000000000000002, 0.0], [2.0, 0.8500000000000001, 1.0]]
    >>> t["n"].tolist()
    [2, 2]
    """
    fn = "calibration_table"
    bins = check_int(bins, "bins", fn, low=1, high=1000)
    check_choice(strategy, "strategy", fn, ("uniform", "quantile"))
    yy = np.asarray(y, dtype=np.float64).ravel()
    pp = np.asarray(p, dtype=np.float64).ravel()
    if yy.shape != pp.shape:
        raise ParameterError(
            f"calibration_table needs y and p of the same length. Got {len(yy)} and {len(pp)}."
        )
    if len(pp) and (np.nanmin(pp) < 0 or np.nanmax(pp) > 1):
        raise ParameterError("The 'p' parameter of calibration_table must lie in [0, 1].")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        edges = (
            np.unique(np.quantile(pp, np.linspace(0, 1, bins + 1)))
            if len(pp)
            else np.array([0.0, 1.0])
        )
    which = np.clip(np.searchsorted(edges, pp, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        mask = which == b
        if not mask.any():
            continue
        rows.append(
            {
                "bin": b,
                "p_low": float(edges[b]),
                "p_high": float(edges[b + 1]),
                "n": int(mask.sum()),
                "mean_predicted": float(pp[mask].mean()),
                "observed_rate": float(yy[mask].mean()),
            }
        )
    table = pd.DataFrame(
        rows, columns=["bin", "p_low", "p_high", "n", "mean_predicted", "observed_rate"]
    )
    table["gap"] = table["observed_rate"] - table["mean_predicted"]
    return table


# ----------------------------------------------------------------------------- backtest


def backtest(
    panel: pd.DataFrame | PreparedPanel,
    *,
    n_cutoffs: int = 6,
    horizon: int = 3,
    k: Sequence[int] = (25, 100),
    model: str | ChurnModel = "logistic",
    random_state: int | None = 0,
    baseline_months: int = 12,
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    providers: pd.DataFrame | None = None,
    C: float = 1.0,  # noqa: N803
    calibration: str | None = "sigmoid",
    max_train_samples: int | None = 200_000,
    per_cutoff: bool = False,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Rolling-origin backtest of the churn model against the rule baselines.

    For each of the last `n_cutoffs` labelled cutoffs that have training data,
    the model is fitted on the labelled cutoffs whose horizon ends before the
    test cutoff (``train + horizon <= test``: every training label was
    observable at the test cutoff) and scores the test cutoff's active ties.
    The rules of :data:`RULES` score the same ties.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel. Prepared (:class:`PreparedPanel`), the tie matrix and
        the model inputs of its cutoffs are shared with other calls (such as
        :func:`at_risk` before).
    n_cutoffs : int, default 6
        Number of test cutoffs (the latest ones).
    horizon, baseline_months, min_referrals, churn_fraction
        The definitions in the module docstring.
    k : sequence of int, default (25, 100)
        Sizes of the lists for precision@k and recall@k.
    model : {"logistic", "gbm"} or ChurnModel, default "logistic"
        The classifier.
    random_state : int, optional
        Seed of the training-row sampling and the model.
    providers : pandas.DataFrame, optional
        As in :func:`churn_features`.
    C, calibration : optional
        Passed to :class:`ChurnModel`.
    max_train_samples : int or None, default 200,000
        Training rows per fit (sampled at random), None for all.
    per_cutoff : bool, default False
        Return one row per (method, cutoff) instead of the averages.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

    Returns
    -------
    pandas.DataFrame
        One row per method (``model``, then the rules): ``method``,
        ``roc_auc``, ``pr_auc``, ``precision_at_{k}``, ``recall_at_{k}`` for
        each k, ``top_decile_lift`` (precision in the top 10 % / base rate),
        ``brier`` (model only; missing for rules, which have no
        probabilities), each averaged over the test cutoffs, and
        ``n_cutoffs``. With ``per_cutoff=True``: ``method``, ``cutoff``,
        ``n_train``, ``n_ties``, ``n_churned``, ``base_rate`` and the metrics.

    Raises
    ------
    InsufficientDataError
        If no test cutoff has an earlier labelled cutoff to train on (the
        panel needs at least ``baseline_months + 2 * horizon`` months).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> months = pd.date_range("2023-01-01", periods=20, freq="MS")
    >>> rows = [(f"S{i}", f"T{i % 7}", m, int(rng.poisson(2 if i % 4 or k < 12 + i % 5 else 0.1)))
    ...         for i in range(200) for k, m in enumerate(months)]
    >>> p = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> bt = backtest(p[p["referrals"] > 0], n_cutoffs=2, k=(10,))
    >>> bt["method"].tolist()
    ['model', 'lapsed_60d', 'trend_down_50', 'share_down']
    >>> bool(bt.loc[0, "roc_auc"] > 0.6), list(bt.columns[:4])
    (True, ['method', 'roc_auc', 'pr_auc', 'precision_at_10'])
    """
    fn = "backtest"
    opts = _Options.make(
        fn,
        baseline_months=baseline_months,
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
        recent_months=3,
    )
    n_cutoffs = check_int(n_cutoffs, "n_cutoffs", fn, low=1, high=120)
    ks = [k] if isinstance(k, int) else list(k)
    for kk in ks:
        check_int(kk, "k", fn, low=1, high=100_000_000)
    if max_train_samples is not None:
        check_int(max_train_samples, "max_train_samples", fn, low=10, high=1_000_000_000)
    template = _make_model(model, C=C, calibration=calibration, random_state=random_state)
    prepared = _prepared(panel, fn, providers=providers, columns=columns, data_end=data_end)
    ties = prepared._ties
    nb, h = opts.baseline_months, opts.horizon
    labelled = list(range(nb, ties.n_months - h + 1))
    eligible = [ci for ci in labelled if ci - h >= nb]
    tests = eligible[-n_cutoffs:]
    if not tests:
        raise InsufficientDataError(
            f"The panel covers {ties.n_months} month(s); a backtest needs at least "
            f"{nb + 2 * h} ({nb} baseline + {h} horizon to train + {h} horizon to test)."
        )
    if len(tests) < n_cutoffs:
        logger.info("Backtest: only %s test cutoff(s) have earlier training data", len(tests))
    rng = np.random.default_rng(random_state)
    rows: list[dict[str, Any]] = []
    for ci in tests:
        train = [prepared._labelled_slice(c, opts) for c in range(nb, ci - h + 1)]
        test = prepared._labelled_slice(ci, opts)
        y_train = np.concatenate([s.y for s in train if s.y is not None])
        y_test = np.asarray(test.y)
        cutoff = ties.month_of(ci)
        scores: dict[str, FloatArray] = {}
        if 0 < int(y_train.sum()) < len(y_train) and len(test.idx):
            fitted, picked = _fit_on(
                train, clone(template), max_train_samples, rng, frame=False, explain=False
            )
            n_train = sum(len(r) for _, r in picked)
            scores["model"] = fitted.predict_proba(test.x)[:, 1]
        else:
            n_train = len(y_train)
            logger.info("Backtest %s: training labels hold one class; model skipped", cutoff.date())
            scores["model"] = np.full(len(test.idx), math.nan)
        scores.update(test.rules)
        for method, score in scores.items():
            row: dict[str, Any] = {
                "method": method,
                "cutoff": cutoff,
                "n_train": n_train,
                "n_ties": len(y_test),
                "n_churned": int(y_test.sum()),
                "base_rate": float(y_test.mean()) if len(y_test) else math.nan,
            }
            if np.isnan(score).all():
                row.update(
                    {key: math.nan for key in _metrics(y_test[:0], score[:0], ks, proba=True)}
                )
            else:
                row.update(_metrics(y_test, score, ks, proba=method == "model"))
            rows.append(row)
        logger.info(
            "Backtest %s: %s ties, churn rate %.1f %%",
            cutoff.date(),
            f"{len(y_test):,}",
            100 * float(y_test.mean()) if len(y_test) else 0.0,
        )
    table = pd.DataFrame(rows)
    table["cutoff"] = table["cutoff"].astype("datetime64[ns]")
    if per_cutoff:
        return table
    metric_cols = [
        c
        for c in table.columns
        if c not in ("method", "cutoff", "n_train", "n_ties", "n_churned", "base_rate")
    ]
    summary = table.groupby("method", sort=False)[metric_cols].mean().reset_index()
    summary["n_cutoffs"] = len(tests)
    return summary


# ----------------------------------------------------------------------------- at-risk list


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _change(ratio_log: float) -> float:
    """Relative change from a smoothed log ratio."""
    return float(math.exp(ratio_log) - 1.0)


def _count_text(value: float) -> str:
    """A count for text, small-cell suppressed ("<11")."""
    return format_count(cast(Any, round(value)))


def _months(value: float) -> str:
    if value <= 1.0:
        return "every month"
    return f"every {value:.1f} months".replace(".0 ", " ")


@dataclass
class _Context:
    """What the words of one tie's reasons need."""

    src: str  # display name of the source
    tgt: str
    spec: str | None  # the target's specialty
    gainer: str | None  # the receiver gaining most at the same referrer
    ref: Mapping[str, float]  # typical (training median) feature values
    opts: _Options


def _reason_text(group: str, v: Mapping[str, float], ctx: _Context) -> str | None:
    """Plain words for one reason group, or None when the values tell no risk story."""
    src, tgt = ctx.src, ctx.tgt
    r, nb = ctx.opts.recent_months, ctx.opts.baseline_months
    if group == "lapse":
        msl = int(v["months_since_last"])
        if msl >= 1:
            plural = "s" if msl > 1 else ""
            return (
                f"no referral from {src} to {tgt} for {msl} full month{plural} "
                f"(usually {_months(v['usual_gap'])})"
            )
        zeros = int(v["recent_zero_months"])
        if zeros >= 1:
            return (
                f"referrals in only {r - zeros} of the last {r} months "
                f"(usually {_months(v['usual_gap'])})"
            )
        return None
    if group == "decline":
        change = _change(v["recent_vs_baseline"])
        if change <= -0.1:
            return (
                f"referrals from {src} to {tgt} fell {_pct(-change)} in the last {r} months "
                f"against the {nb}-month average"
            )
        if v["slope"] <= -0.02:
            return f"a steady decline over the past {nb} months (about {_pct(-v['slope'])} a month)"
        return None
    if group == "seasonal":
        if v["yoy_available"] > 0 and not math.isnan(v["yoy_change"]):
            change = _change(v["yoy_change"])
            if change <= -0.1:
                return f"down {_pct(-change)} on the same {r} months last year: not a seasonal dip"
        return None
    if group == "share":
        before, now = v["share_baseline"], v["share_recent"]
        if math.isnan(now) or now >= before - 0.02:
            return None
        what = f"{src}'s {ctx.spec} referrals" if ctx.spec else f"{src}'s referrals"
        total = _change(v["referrer_trend"])
        if total >= 0.1:
            held = f"while {src}'s total rose {_pct(total)}"
        elif total > -0.1:
            held = f"while {src}'s total held"
        else:
            held = f"and {src}'s total fell {_pct(-total)}"
        text = f"share of {what} fell from {_pct(before)} to {_pct(now)} {held}"
        if ctx.gainer and v["competitor_gain"] > 0.05:
            text += f": referrals are moving to {ctx.gainer}"
        return text
    if group == "referrer":
        change = _change(v["referrer_trend"])
        if change <= -0.1:
            return f"{src}'s referrals overall fell {_pct(-change)} (declining everywhere)"
        return None
    if group == "receiver":
        change = _change(v["receiver_trend"])
        if change <= -0.1:
            return f"{tgt}'s incoming referrals from all sources fell {_pct(-change)}"
        return None
    if group == "volatility":
        if v["volatility"] > ctx.ref.get("volatility", 0.0):
            return (
                f"an irregular tie: monthly referrals vary by {_pct(v['volatility'])} "
                "around their average"
            )
        return None
    if group == "volume":
        if v["log_baseline_rate"] < ctx.ref.get("log_baseline_rate", math.inf):
            return (
                f"a low-volume tie ({_count_text(v['baseline_referrals'])} referrals in "
                f"{nb} months), so a few quiet months tip it"
            )
        return None
    if group == "tenure":
        if v["log_tenure"] < ctx.ref.get("log_tenure", math.inf):
            return f"a young relationship (first referral {int(v['tenure'])} months ago)"
        return None
    if group == "reciprocity":
        if v["reciprocal_referrals"] <= 0:
            return f"{tgt} sends no referrals back to {src}"
        return None
    if group == "patients":
        ppr, typical = v["patients_per_referral"], ctx.ref.get("patients_per_referral", math.nan)
        if ppr > 0 and typical > 0 and abs(ppr / typical - 1) > 0.1:
            return (
                f"{1 / ppr:.1f} referrals per patient, against {1 / typical:.1f} for a typical tie"
            )
        return None
    if group == "wait":
        before, change = v["wait_days"], v["wait_change"]
        if math.isnan(before):
            return None
        if not math.isnan(change) and change >= 0.1:
            now = (before + 1) * math.exp(change) - 1
            return f"the wait at {tgt} rose from {before:.0f} to {now:.0f} days"
        if before > ctx.ref.get("wait_days", math.inf):
            return f"a long wait at {tgt} ({before:.0f} days on average)"
        return None
    return None  # pragma: no cover - every group is handled above


def _rule_reasons(v: Mapping[str, float], ctx: _Context) -> list[str]:
    """Rule-based reasons (the fallback when the model offers none)."""
    groups = []
    if v["months_since_last"] >= 2:
        groups.append("lapse")
    if v["trend_drop"] >= 0.5:
        groups.append("decline")
    groups += ["share", "referrer", "receiver", "lapse", "decline"]
    out: list[str] = []
    for group in groups:
        text = _reason_text(group, v, ctx)
        if text and text not in out:
            out.append(text)
    return out


def _explain(
    contributions: FloatArray | None, v: Mapping[str, float], ctx: _Context, *, most: int = 3
) -> str:
    """The top reasons of one tie, joined by semicolons."""
    texts: list[str] = []
    chosen: list[str] = []
    if contributions is not None:
        by_group = {
            group: float(sum(contributions[FEATURE_COLUMNS.index(c)] for c in cols))
            for group, cols in REASON_GROUPS.items()
        }
        for group, value in sorted(by_group.items(), key=lambda kv: -kv[1]):
            if value <= 0.05 or len(texts) == most:
                break
            text = _reason_text(group, v, ctx)
            if text:
                texts.append(text)
                chosen.append(group)
    # A falling or silent tie whose referrer now sends more to a competitor: say where the
    # referrals go (the share story explains the decline even when the model weighs it less).
    if {"decline", "lapse"} & set(chosen) and "share" not in chosen and ctx.gainer:
        share = _reason_text("share", v, ctx)
        if share and ctx.gainer in share:
            texts = [*texts[: most - 1], share]
    if not texts:
        texts = _rule_reasons(v, ctx)[:most]
    if not texts:
        texts = ["no single strong signal: the risk reflects the pattern of similar ties"]
    return "; ".join(texts)


def _gainers(ties: _TieMatrix, totals: _Totals, opts: _Options, idx: IntArray) -> list[str | None]:
    """For each tie, the receiver (or organisation) gaining most at its referrer."""
    nb, r = opts.baseline_months, opts.recent_months
    trips = ties.trip[idx]
    pairs = ties.pair[idx]
    candidates = np.flatnonzero(np.isin(ties.trip_pair, np.unique(pairs)))
    gain = totals.trip_recent[candidates] / r - totals.trip_base[candidates] / nb
    table = pd.DataFrame({"pair": ties.trip_pair[candidates], "trip": candidates, "gain": gain})
    table = table[table["gain"] > 0].sort_values(
        ["pair", "gain"], ascending=[True, False], kind="stable"
    )
    top = table.groupby("pair", sort=False).head(2)
    best: dict[int, list[int]] = {}
    for pair, trip in zip(top["pair"].to_numpy(), top["trip"].to_numpy(), strict=True):
        best.setdefault(int(pair), []).append(int(trip))
    chosen = np.full(len(idx), -1, dtype=np.intp)
    for i, (pair, own) in enumerate(zip(pairs.tolist(), trips.tolist(), strict=True)):
        options = [t for t in best.get(pair, []) if t != own]
        if options:
            chosen[i] = options[0]
    found = chosen >= 0
    labels = ties.trip_labels(chosen[found])
    out: list[str | None] = [None] * len(idx)
    for i, label in zip(np.flatnonzero(found).tolist(), labels.tolist(), strict=True):
        out[i] = str(label)
    return out


def at_risk(
    panel: pd.DataFrame | PreparedPanel,
    *,
    cutoff: str | pd.Timestamp | None = None,
    horizon: int = 3,
    model: ChurnModel | None = None,
    providers: pd.DataFrame | None = None,
    focus_ids: Iterable[str] | None = None,
    capacity: int = 25,
    threshold: float | None = None,
    amounts: bool = True,
    baseline_months: int = 12,
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    random_state: int | None = 0,
    explain_top: int = 1000,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Rank the active ties by expected loss, with reasons, as of a cutoff.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel. Prepared (:class:`PreparedPanel`), the tie matrix is
        built once and the training cutoffs' model inputs are kept for later
        calls (such as :func:`backtest`); `providers` then come from it.
    cutoff : str or Timestamp, optional
        A month start; default: the month after the data's last month (as of
        the end of the data).
    horizon : int, default 3
        Months ahead.
    model : ChurnModel, optional
        A model fitted on :data:`FEATURE_COLUMNS` (e.g. by
        :func:`fit_churn_model` with the same definitions); by default one is
        fitted on the labelled cutoffs whose horizon ends before `cutoff`.
    providers : pandas.DataFrame, optional
        ``id``, ``name``, ``specialty``, ``organization``: names in the
        reasons, shares within specialty, competitors by organisation.
    focus_ids : iterable of str, optional
        Keep only ties *into* these providers (e.g. your organisation's).
    capacity : int, default 25
        Number of ties flagged (the top by expected loss) when `threshold` is
        not given.
    threshold : float, optional
        Flag every tie with ``risk >= threshold`` instead.
    amounts : bool, default True
        Add ``at_stake_amount`` and ``expected_loss_amount`` when the panel
        has ``amount``.
    baseline_months, min_referrals, churn_fraction
        The definitions in the module docstring.
    random_state : int, optional
        Seed of the model fitted when `model` is None.
    explain_top : int, default 1000
        Reasons are written for the flagged ties and the top `explain_top`
        ties by expected loss; other rows get a missing value.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

    Returns
    -------
    pandas.DataFrame
        Ranked by expected loss: ``rank``, ``source``, ``target`` (and
        ``source_name``, ``target_name`` with providers), ``cutoff``,
        ``risk`` (probability of churn in the horizon), ``at_stake``
        (baseline rate x horizon: referrals expected without churn),
        ``at_stake_amount`` (when amounts exist), ``expected_loss`` (risk x
        at stake), ``expected_loss_amount``, ``reasons`` (str; counts below 11
        are written "<11") and ``flagged`` (bool).

    Raises
    ------
    InsufficientDataError
        If no tie is active at the cutoff, or there is too little history to
        fit a model.

    Notes
    -----
    Features at `cutoff` are computed for the listed ties only (those into
    `focus_ids`); a tie's features depend on its own months and on the
    cutoff's totals per referrer, receiver and market, which cover every tie.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> months = pd.date_range("2023-01-01", periods=20, freq="MS")
    >>> rows = [(f"S{i}", f"T{i % 7}", m, int(rng.poisson(2 if i % 4 or k < 12 + i % 8 else 0.1)))
    ...         for i in range(200) for k, m in enumerate(months)]
    >>> p = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> risk = at_risk(p[p["referrals"] > 0], capacity=5)
    >>> int(risk["flagged"].sum()), risk["cutoff"].iloc[0].strftime("%Y-%m")
    (5, '2024-09')
    >>> bool(risk.loc[risk["flagged"], "reasons"].str.len().gt(0).all())
    True
    """
    fn = "at_risk"
    opts = _Options.make(
        fn,
        baseline_months=baseline_months,
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
        recent_months=3,
    )
    capacity = check_int(capacity, "capacity", fn, low=0, high=100_000_000)
    explain_top = check_int(explain_top, "explain_top", fn, low=0, high=100_000_000)
    if threshold is not None:
        threshold = check_float(threshold, "threshold", fn, low=0.0, high=1.0)
    if model is not None and not isinstance(model, ChurnModel):
        raise ParameterError(
            "The 'model' parameter of at_risk must be a fitted ChurnModel or None. "
            f"Got {type(model).__name__} instead."
        )
    prepared = _prepared(panel, fn, providers=providers, columns=columns, data_end=data_end)
    ties = prepared._ties
    ci = (
        ties.n_months
        if cutoff is None
        else ties.cutoff_index(_parse_cutoffs(cutoff, fn, "cutoff")[0])
    )
    _check_cutoff(ties, ci, opts, labels=False)
    stamp = ties.month_of(ci)
    totals = _totals(ties, ci, opts)
    idx = _active(ties, ci, opts, totals.tie_base)
    if len(idx) == 0:
        raise InsufficientDataError(
            f"No tie is active at {stamp.date()} (>= {opts.min_referrals} referrals in the "
            f"{opts.baseline_months} months before)."
        )
    if model is None:
        train_cis = list(range(opts.baseline_months, ci - opts.horizon + 1))
        if not train_cis:
            raise InsufficientDataError(
                f"Fitting a model needs {opts.baseline_months + opts.horizon} months of data "
                f"before the cutoff {stamp.date()}; pass a fitted model= instead."
            )
        slices = [prepared._labelled_slice(c, opts) for c in train_cis]
        template = ChurnModel(random_state=random_state)
        model, _ = _fit_on(
            slices, template, 200_000, np.random.default_rng(random_state), frame=True
        )
        del slices
    else:
        model._check_fitted()
        names_in = list(getattr(model, "feature_names_in_", []))
        if names_in and names_in != list(FEATURE_COLUMNS):
            raise ParameterError(
                "The 'model' parameter of at_risk must be fitted on FEATURE_COLUMNS "
                "(e.g. by fit_churn_model)."
            )
    if focus_ids is not None:
        focus = {str(i) for i in ([focus_ids] if isinstance(focus_ids, str) else focus_ids)}
        pos = pd.Index(ties.ids).get_indexer(pd.Index(sorted(focus), dtype=object))
        is_focus = np.zeros(len(ties.ids), dtype=bool)
        is_focus[pos[pos >= 0]] = True
        idx = idx[is_focus[ties.tgt[idx]]]
    # Features of the ties listed only (each tie's features need the totals, not the others).
    idx, values = _features_at(ties, ci, opts, idx=idx, totals=totals)
    x_now = pd.DataFrame(_model_inputs(values, len(idx)), columns=list(FEATURE_COLUMNS))
    risk = model.predict_proba(x_now)[:, -1] if len(idx) else np.zeros(0)
    at_stake = values["baseline_rate"] * opts.horizon
    out = pd.DataFrame(
        {
            "source": pd.array(ties.ids[ties.src[idx]], dtype="str"),
            "target": pd.array(ties.ids[ties.tgt[idx]], dtype="str"),
        }
    )
    if prepared.providers is not None:
        out["source_name"] = pd.array(ties.names[ties.src[idx]], dtype="str")
        out["target_name"] = pd.array(ties.names[ties.tgt[idx]], dtype="str")
    out["cutoff"] = np.full(len(idx), stamp.to_datetime64(), dtype="datetime64[ns]")
    out["risk"] = risk
    out["at_stake"] = at_stake
    show_amount = amounts and ties.has_amount
    if show_amount:
        out["at_stake_amount"] = values["baseline_amount"] / opts.baseline_months * opts.horizon
    out["expected_loss"] = risk * at_stake
    if show_amount:
        out["expected_loss_amount"] = risk * out["at_stake_amount"].to_numpy()
    order = np.lexsort((-risk, -out["expected_loss"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    idx = idx[order]
    if threshold is None:
        flagged = np.arange(len(out)) < capacity
    else:
        flagged = out["risk"].to_numpy() >= threshold
    n_explain = min(
        len(out), max(explain_top, int(np.flatnonzero(flagged).max()) + 1 if flagged.any() else 0)
    )
    reasons: list[Any] = [pd.NA] * len(out)
    if n_explain:
        explained = order[:n_explain]
        contrib: FloatArray | None = None
        if model.n_features_in_ == len(FEATURE_COLUMNS) and len(model.classes_) == 2:
            contrib = model.contributions(x_now.iloc[explained])
        ref = dict(zip(FEATURE_COLUMNS, model.reference_.tolist(), strict=False))
        gainers = _gainers(ties, totals, opts, idx[:n_explain])
        columns_of = {key: arr[explained].tolist() for key, arr in values.items()}
        for i in range(n_explain):
            spec = ties.specialty[ties.tgt[idx[i]]] if ties.by_specialty else None
            ctx = _Context(
                src=str(ties.names[ties.src[idx[i]]]),
                tgt=str(ties.names[ties.tgt[idx[i]]]),
                spec=None if spec is None else str(spec),
                gainer=gainers[i],
                ref=ref,
                opts=opts,
            )
            v = {key: float(col[i]) for key, col in columns_of.items()}
            reasons[i] = _explain(None if contrib is None else contrib[i], v, ctx)
    out["reasons"] = pd.array(reasons, dtype="str")
    out["flagged"] = flagged
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    logger.info(
        "At-risk list at %s: %s ties, %s flagged", stamp.date(), f"{len(out):,}", int(flagged.sum())
    )
    return out
