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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from referral_graph._checks import check_choice, check_float, check_int, header_key
from referral_graph.exceptions import (
    InsufficientDataError,
    NotFittedError,
    ParameterError,
    SchemaError,
)
from referral_graph.io import PROVIDER_ALIASES
from referral_graph.privacy import format_count

__all__ = [
    "DESCRIPTIVE_COLUMNS",
    "FEATURE_COLUMNS",
    "REASON_GROUPS",
    "RULES",
    "ChurnModel",
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
    "source": (
        "source",
        "referring_npi",
        "from_npi",
        "npi_from",
        "referring_provider",
        "referring_provider_id",
        "referrer",
        "referrer_id",
        "initial",
        "src",
        "from",
    ),
    "target": (
        "target",
        "receiving_npi",
        "to_npi",
        "npi_to",
        "receiving_provider",
        "receiving_provider_id",
        "referred_to",
        "receiver",
        "receiver_id",
        "secondary",
        "dst",
        "to",
    ),
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


def _group_cumsum(codes: IntArray, n_groups: int, cum: FloatArray) -> FloatArray:
    out = np.empty((n_groups, cum.shape[1]), dtype=np.float64)
    for j in range(cum.shape[1]):
        out[:, j] = np.bincount(codes, weights=cum[:, j], minlength=n_groups)
    return out


def _dense(flat: IntArray, weights: FloatArray, n_ties: int, n_months: int) -> FloatArray:
    dense = np.bincount(flat, weights=weights, minlength=n_ties * n_months)
    return dense.astype(np.float64, copy=False).reshape(n_ties, n_months)


def _cumulate(matrix: FloatArray) -> FloatArray:
    cum = np.zeros((matrix.shape[0], matrix.shape[1] + 1), dtype=np.float64)
    np.cumsum(matrix, axis=1, out=cum[:, 1:])
    return cum


@dataclass
class _TieMatrix:
    """The panel as dense (tie x month) arrays, built once and sliced per cutoff."""

    first_month: int  # calendar month number of column 0
    n_months: int
    ids: npt.NDArray[np.object_]  # provider ids (sorted); codes index into it
    src: IntArray  # per tie
    tgt: IntArray
    counts: FloatArray  # (ties, months)
    cum: FloatArray  # (ties, months + 1) cumulative counts
    patients_cum: FloatArray | None
    amount_cum: FloatArray | None
    wait_cum: FloatArray | None  # cumulative wait x referrals (where wait known)
    wait_n_cum: FloatArray | None  # cumulative referrals with a known wait
    reverse: IntArray  # tie index of target -> source, -1 when absent
    src_cum: FloatArray  # (ids, months + 1)
    tgt_cum: FloatArray
    pair: IntArray  # per tie: (source, market) group
    pair_cum: FloatArray
    trip: IntArray  # per tie: (source, market, entity) group
    trip_cum: FloatArray
    trip_pair: IntArray  # per triple: its pair
    trip_label: npt.NDArray[np.object_]  # per triple: display label of the entity
    names: npt.NDArray[np.object_]  # per id: display name
    specialty: npt.NDArray[np.object_]  # per id: specialty or None
    by_specialty: bool
    has_patients: bool
    has_amount: bool
    has_wait: bool

    @property
    def n_ties(self) -> int:
        return int(self.src.shape[0])

    def cutoff_index(self, cutoff: pd.Timestamp) -> int:
        return int(cutoff.year * 12 + cutoff.month - 1 - self.first_month)

    def month_of(self, index: int) -> pd.Timestamp:
        return _month_start(self.first_month + index)


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

    def _column(key: str) -> npt.NDArray[np.object_] | None:
        name = cols[key]
        if name is None:
            return None
        values = table[name].astype("object").to_numpy(dtype=object)
        out = np.full(n, None, dtype=object)
        picked = values[pos[found]]
        keep = np.array(
            [v is not None and not pd.isna(v) and str(v).strip() != "" for v in picked], dtype=bool
        )
        targets = np.flatnonzero(found)[keep]
        out[targets] = [str(v).strip() for v in picked[keep]]
        return out

    got_names = _column("name")
    if got_names is not None:
        has = np.array([v is not None for v in got_names], dtype=bool)
        names[has] = got_names[has]
    got_spec = _column("specialty")
    if got_spec is not None:
        specialty = got_spec
    got_org = _column("organization")
    if got_org is not None:
        org = got_org
    return names, specialty, org


def _codes_of(labels: npt.NDArray[np.object_]) -> tuple[IntArray, npt.NDArray[np.object_]]:
    codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=True)
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


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
            f"referral_graph.aggregate.edge_panel). Got {type(panel).__name__} instead."
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
    both = pd.concat([panel[scol].astype("str"), panel[tcol].astype("str")], ignore_index=True)
    codes, uniques = pd.factorize(both, sort=True)
    ids = np.asarray(uniques, dtype=object)
    n_ids = len(ids)
    s_code = codes[: len(panel)].astype(np.int64)
    t_code = codes[len(panel) :].astype(np.int64)
    keys = s_code * n_ids + t_code
    tie_keys, tie_of_row = np.unique(keys, return_inverse=True)
    n_ties = len(tie_keys)
    src = (tie_keys // n_ids).astype(np.intp)
    tgt = (tie_keys % n_ids).astype(np.intp)
    flat = (tie_of_row.astype(np.int64) * n_months + (month_no - first)).astype(np.intp)
    counts = _dense(flat, refs, n_ties, n_months)
    cum = _cumulate(counts)

    def _optional_cum(col: str | None) -> FloatArray | None:
        if col is None:
            return None
        values = pd.to_numeric(panel[col], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        return _cumulate(_dense(flat, np.nan_to_num(values), n_ties, n_months))

    patients_cum = _optional_cum(cols["patients"])
    amount_cum = _optional_cum(cols["amount"])
    wait_cum = wait_n_cum = None
    if cols["wait"] is not None:
        wait = pd.to_numeric(panel[cols["wait"]], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        known = np.isfinite(wait)
        if bool(known.any()):
            wait_cum = _cumulate(_dense(flat, np.where(known, wait * refs, 0.0), n_ties, n_months))
            wait_n_cum = _cumulate(_dense(flat, np.where(known, refs, 0.0), n_ties, n_months))

    reverse_keys = tgt.astype(np.int64) * n_ids + src.astype(np.int64)
    pos = np.searchsorted(tie_keys, reverse_keys)
    pos_clipped = np.minimum(pos, n_ties - 1)
    reverse = np.where(tie_keys[pos_clipped] == reverse_keys, pos_clipped, -1).astype(np.intp)

    src_cum = _group_cumsum(src, n_ids, cum)
    tgt_cum = _group_cumsum(tgt, n_ids, cum)
    names, specialty, org = _provider_table(providers, ids)
    by_specialty = bool(any(v is not None for v in specialty[np.unique(tgt)]))
    by_org = bool(any(v is not None for v in org[np.unique(tgt)]))

    if by_specialty:
        market_of_id, _ = _codes_of(
            np.array([v if v is not None else "" for v in specialty], dtype=object)
        )
        n_markets = int(market_of_id.max()) + 1
        pair_keys = src.astype(np.int64) * n_markets + market_of_id[tgt]
        _, pair_inv = np.unique(pair_keys, return_inverse=True)
        pair = pair_inv.astype(np.intp)
        pair_cum = _group_cumsum(pair, int(pair.max()) + 1, cum)
    else:
        pair, pair_cum = src, src_cum
    if by_org:
        entity_labels = np.array(
            [o if o is not None else names[i] for i, o in enumerate(org)], dtype=object
        )
        entity_keys = np.array(
            ["o:" + o if o is not None else "p:" + str(ids[i]) for i, o in enumerate(org)],
            dtype=object,
        )
        entity_of_id, _ = _codes_of(entity_keys)
        n_entities = int(entity_of_id.max()) + 1
        trip_keys = pair.astype(np.int64) * n_entities + entity_of_id[tgt]
        uniq_trip, trip_inv = np.unique(trip_keys, return_inverse=True)
        trip = trip_inv.astype(np.intp)
        trip_cum = _group_cumsum(trip, len(uniq_trip), cum)
        trip_pair = (uniq_trip // n_entities).astype(np.intp)
        first_tie = np.zeros(len(uniq_trip), dtype=np.intp)
        first_tie[trip[::-1]] = np.arange(n_ties, dtype=np.intp)[::-1]
        trip_label = entity_labels[tgt[first_tie]]
    else:
        trip = np.arange(n_ties, dtype=np.intp)
        trip_cum = cum
        trip_pair = pair
        trip_label = names[tgt]
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
        cum=cum,
        patients_cum=patients_cum,
        amount_cum=amount_cum,
        wait_cum=wait_cum,
        wait_n_cum=wait_n_cum,
        reverse=reverse,
        src_cum=src_cum,
        tgt_cum=tgt_cum,
        pair=pair,
        pair_cum=pair_cum,
        trip=trip,
        trip_cum=trip_cum,
        trip_pair=trip_pair,
        trip_label=trip_label,
        names=names,
        specialty=specialty,
        by_specialty=by_specialty,
        has_patients=patients_cum is not None,
        has_amount=amount_cum is not None,
        has_wait=wait_cum is not None,
    )


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


def _log_ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.clip(np.log((a + SMOOTHING) / (b + SMOOTHING)), -LOG_CLIP, LOG_CLIP)


def _window(cum: FloatArray, rows: IntArray, start: int, stop: int) -> FloatArray:
    out: FloatArray = cum[rows, stop] - cum[rows, start]
    return out


def _active(ties: _TieMatrix, ci: int, opts: _Options) -> IntArray:
    base = ties.cum[:, ci] - ties.cum[:, ci - opts.baseline_months]
    return np.flatnonzero(base >= opts.min_referrals - 1e-9).astype(np.intp)


def _features_at(
    ties: _TieMatrix, ci: int, opts: _Options
) -> tuple[IntArray, dict[str, FloatArray]]:
    """Features of the ties active at cutoff index `ci` (uses months < ci only)."""
    nb, r, h = opts.baseline_months, opts.recent_months, opts.horizon
    idx = _active(ties, ci, opts)
    n = len(idx)
    f: dict[str, FloatArray] = {}
    base = ties.counts[idx, ci - nb : ci]
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
        last_year = _window(ties.cum, idx, ci - _SEASON - r, ci - _SEASON)
        f["yoy_change"] = _log_ratio(rate_r, last_year / r)
        f["yoy_available"] = np.ones(n)
    else:
        f["yoy_change"] = np.full(n, np.nan)
        f["yoy_available"] = np.zeros(n)

    # lapse, usual gap, tenure (history window of up to 2 * nb months)
    width = min(ci, 2 * nb)
    hist = ties.counts[idx, ci - width : ci] > 0
    cols = np.arange(width, dtype=np.intp)
    last_upto = np.maximum.accumulate(np.where(hist, cols, -1), axis=1)
    msl = (width - 1 - last_upto[:, -1]).astype(np.float64)
    prev = np.empty_like(last_upto)
    prev[:, 0] = -1
    prev[:, 1:] = last_upto[:, :-1]
    gaps = np.where(hist & (prev >= 0), (cols - prev).astype(np.float64), np.inf)
    gaps.sort(axis=1)
    n_gaps = np.isfinite(gaps).sum(axis=1)
    lo = np.maximum((n_gaps - 1) // 2, 0)[:, None]
    hi = np.minimum(n_gaps // 2, width - 1)[:, None]
    median_gap = (np.take_along_axis(gaps, lo, 1) + np.take_along_axis(gaps, hi, 1))[:, 0] / 2
    full_hist = ties.counts[idx, :ci] > 0
    first_active = full_hist.argmax(axis=1)
    tenure = (ci - first_active).astype(np.float64)
    usual_gap = np.where(n_gaps > 0, median_gap, np.maximum(np.minimum(tenure, width), 1.0))
    f["months_since_last"] = msl
    f["usual_gap"] = usual_gap
    f["lapse_vs_gap"] = np.clip(np.log((msl + 1.0) / usual_gap), -LOG_CLIP, LOG_CLIP)
    f["tenure"] = tenure
    f["log_tenure"] = np.log1p(np.minimum(tenure, 2 * nb))
    std = base.std(axis=1)
    f["volatility"] = np.clip(std / rate_b, 0.0, 4.0)

    # the referrer, its market and the competitors
    s = ties.src[idx]
    s_base = _window(ties.src_cum, s, ci - nb, ci)
    s_recent = _window(ties.src_cum, s, ci - r, ci)
    f["referrer_baseline"] = s_base
    f["referrer_recent"] = s_recent
    f["referrer_trend"] = _log_ratio(s_recent / r, s_base / nb)
    p = ties.pair[idx]
    p_base = _window(ties.pair_cum, p, ci - nb, ci)
    p_recent = _window(ties.pair_cum, p, ci - r, ci)
    share_b = bsum / np.maximum(p_base, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["share_recent"] = np.where(p_recent > 0, recent / p_recent, np.nan)
    shrunk = (recent + share_b) / (p_recent + 1.0)
    f["share_baseline"] = share_b
    f["share_change"] = shrunk - share_b
    t3 = ties.trip[idx]
    e_base = _window(ties.trip_cum, t3, ci - nb, ci)
    e_recent = _window(ties.trip_cum, t3, ci - r, ci)
    other_b = np.maximum(p_base - e_base, 0.0)
    other_r = np.maximum(p_recent - e_recent, 0.0)
    f["competitor_gain"] = _log_ratio(other_r / r, other_b / nb)
    t = ties.tgt[idx]
    f["receiver_trend"] = _log_ratio(
        _window(ties.tgt_cum, t, ci - r, ci) / r, _window(ties.tgt_cum, t, ci - nb, ci) / nb
    )
    rev = ties.reverse[idx]
    has_rev = rev >= 0
    recip = np.zeros(n)
    recip[has_rev] = _window(ties.cum, rev[has_rev], ci - nb, ci)
    f["reciprocal_referrals"] = recip
    f["reciprocity"] = np.log1p(recip)
    if ties.patients_cum is not None:
        f["patients_per_referral"] = np.clip(
            _window(ties.patients_cum, idx, ci - nb, ci) / bsum, 0.0, 2.0
        )
    else:
        f["patients_per_referral"] = np.full(n, np.nan)
    if ties.wait_cum is not None and ties.wait_n_cum is not None:
        wn_b = _window(ties.wait_n_cum, idx, ci - nb, ci)
        wn_r = _window(ties.wait_n_cum, idx, ci - r, ci)
        with np.errstate(divide="ignore", invalid="ignore"):
            wait_b = np.where(wn_b > 0, _window(ties.wait_cum, idx, ci - nb, ci) / wn_b, np.nan)
            wait_r = np.where(wn_r > 0, _window(ties.wait_cum, idx, ci - r, ci) / wn_r, np.nan)
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
    if ties.amount_cum is not None:
        f["baseline_amount"] = _window(ties.amount_cum, idx, ci - nb, ci)
    return idx, f


def _labels_at(
    ties: _TieMatrix, ci: int, idx: IntArray, opts: _Options
) -> tuple[FloatArray, FloatArray, BoolArray]:
    nb, h = opts.baseline_months, opts.horizon
    bsum = _window(ties.cum, idx, ci - nb, ci)
    future = _window(ties.cum, idx, ci, ci + h)
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
    panel: pd.DataFrame,
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
    panel : pandas.DataFrame
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
    cols = _resolve_columns(panel, _ALIASES, columns, what="panel")
    if cols["month"] is None:
        raise SchemaError("The panel lacks a month column; map it with columns={'month': ...}.")
    numbers = _month_numbers(panel[cols["month"]], cols["month"])
    first, last = int(numbers.min()), _last_month(int(numbers.max()), data_end)
    stop = last + 1 - opts.horizon if labelled else last + 1
    return [_month_start(m) for m in range(first + opts.baseline_months, stop + 1)]


def churn_features(
    panel: pd.DataFrame,
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
    panel : pandas.DataFrame
        The monthly edge panel (``source``, ``target``, ``month``,
        ``referrals``; optionally ``patients``, ``amount`` and a wait column
        such as ``average_day_wait``). Not modified.
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
    ties = _build(panel, providers=providers, columns=columns, data_end=data_end)
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
    panel: pd.DataFrame,
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
    panel : pandas.DataFrame
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
    ties = _build(panel, columns=columns, data_end=data_end)
    frames = []
    for stamp in stamps:
        ci = ties.cutoff_index(stamp)
        _check_cutoff(ties, ci, opts, labels=True)
        idx = _active(ties, ci, opts)
        future, expected, churned = _labels_at(ties, ci, idx, opts)
        values = {
            "baseline_referrals": _window(ties.cum, idx, ci - opts.baseline_months, ci),
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
        self.reference_ = _column_medians(X)
        # A feature missing in every row carries nothing (and trips the tree binning).
        self.empty_features_ = (
            np.asarray(np.isnan(X).all(axis=0)) if len(X) else np.zeros(X.shape[1], dtype=bool)
        )
        X = self._fill_empty(X)  # noqa: N806
        smallest = int(np.bincount(y_codes).min())
        self.calibrator_: CalibratedClassifierCV | None = None
        with self._threads():
            self.pipeline_ = clone(pipe).fit(X, y)
            if self.calibration is not None and smallest >= 2 * int(self.cv):
                folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
                self.calibrator_ = CalibratedClassifierCV(
                    clone(pipe), method=self.calibration, cv=folds
                ).fit(X, y)
        self.calibrated_ = self.calibrator_ is not None
        final = self.pipeline_[-1]
        self.n_iter_ = int(np.max(final.n_iter_))
        if self.model == "logistic":
            self.coef_ = final.coef_.copy()
            self.intercept_ = final.intercept_.copy()
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
    ci: int
    idx: IntArray
    values: dict[str, FloatArray]
    x: npt.NDArray[np.float32]
    y: BoolArray | None


def _slice(ties: _TieMatrix, ci: int, opts: _Options, *, labels: bool) -> _Slice:
    idx, values = _features_at(ties, ci, opts)
    x = np.column_stack([values[c] for c in FEATURE_COLUMNS]).astype(np.float32)
    y = _labels_at(ties, ci, idx, opts)[2] if labels else None
    return _Slice(ci=ci, idx=idx, values=values, x=x, y=y)


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
) -> tuple[ChurnModel, list[tuple[_Slice, IntArray]]]:
    picked, n_rows = _training_rows(slices, max_samples, rng)
    x_train = np.concatenate([s.x[rows] for s, rows in picked])
    y_parts = [s.y[rows] for s, rows in picked if s.y is not None]
    y = np.concatenate(y_parts)
    if frame:
        model.fit(pd.DataFrame(x_train, columns=list(FEATURE_COLUMNS)), y)
    else:
        model.fit(x_train, y)
    logger.info(
        "Churn model fitted on %s rows from %s cutoff(s) (churn rate %.1f %%)",
        f"{n_rows:,}",
        len(slices),
        100 * float(np.mean(y)) if len(y) else 0.0,
    )
    return model, picked


def fit_churn_model(
    panel: pd.DataFrame,
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
    panel : pandas.DataFrame
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
    ties = _build(panel, providers=providers, columns=columns, data_end=data_end)
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
    slices = [_slice(ties, ci, opts, labels=True) for ci in indices]
    rng = np.random.default_rng(random_state)
    fitted, picked = _fit_on(slices, template, max_train_samples, rng, frame=True)
    cols = _feature_columns(ties)
    frames = []
    for s, rows in picked:
        values = {c: s.values[c][rows] for c in cols}
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
    n = len(score)
    k = min(k, n)
    if k <= 0:
        return math.nan
    s = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order].astype(np.float64)
    cut = s_sorted[k - 1]
    above = s_sorted > cut
    tied = s_sorted == cut
    n_above = int(above.sum())
    return float(y_sorted[above].sum() + (k - n_above) * y_sorted[tied].mean())


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
    out: dict[str, float] = {
        "roc_auc": float(roc_auc_score(y, finite)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, finite)) if both else math.nan,
    }
    for k in ks:
        hits = _hits_at_k(y, s, k)
        out[f"precision_at_{k}"] = hits / min(k, n) if n else math.nan
        out[f"recall_at_{k}"] = hits / pos if pos else math.nan
    top = max(1, math.ceil(0.1 * n)) if n else 0
    rate = pos / n if n else math.nan
    out["top_decile_lift"] = _hits_at_k(y, s, top) / top / rate if n and pos else math.nan
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
    panel: pd.DataFrame,
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
    panel : pandas.DataFrame
        The edge panel.
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
    ties = _build(panel, providers=providers, columns=columns, data_end=data_end)
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
    cache: dict[int, _Slice] = {}

    def _get(ci: int) -> _Slice:
        if ci not in cache:
            cache[ci] = _slice(ties, ci, opts, labels=True)
        return cache[ci]

    rng = np.random.default_rng(random_state)
    rows: list[dict[str, Any]] = []
    for ci in tests:
        train = [_get(c) for c in range(nb, ci - h + 1)]
        test = _get(ci)
        y_train = np.concatenate([s.y for s in train if s.y is not None])
        y_test = np.asarray(test.y)
        cutoff = ties.month_of(ci)
        scores: dict[str, FloatArray] = {}
        if 0 < int(y_train.sum()) < len(y_train) and len(test.idx):
            fitted, picked = _fit_on(train, clone(template), max_train_samples, rng, frame=False)
            n_train = sum(len(r) for _, r in picked)
            scores["model"] = fitted.predict_proba(test.x)[:, 1]
        else:
            n_train = len(y_train)
            logger.info("Backtest %s: training labels hold one class; model skipped", cutoff.date())
            scores["model"] = np.full(len(test.idx), math.nan)
        scores.update(_rule_scores(test.values))
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


def _gainers(ties: _TieMatrix, ci: int, opts: _Options, idx: IntArray) -> list[str | None]:
    """For each tie, the receiver (or organisation) gaining most at its referrer."""
    nb, r = opts.baseline_months, opts.recent_months
    trips = ties.trip[idx]
    pairs = ties.pair[idx]
    candidates = np.flatnonzero(np.isin(ties.trip_pair, np.unique(pairs)))
    gain = (
        _window(ties.trip_cum, candidates, ci - r, ci) / r
        - _window(ties.trip_cum, candidates, ci - nb, ci) / nb
    )
    table = pd.DataFrame({"pair": ties.trip_pair[candidates], "trip": candidates, "gain": gain})
    table = table[table["gain"] > 0].sort_values(
        ["pair", "gain"], ascending=[True, False], kind="stable"
    )
    top = table.groupby("pair", sort=False).head(2)
    best: dict[int, list[int]] = {}
    for pair, trip in zip(top["pair"].to_numpy(), top["trip"].to_numpy(), strict=True):
        best.setdefault(int(pair), []).append(int(trip))
    out: list[str | None] = []
    for pair, own in zip(pairs, trips, strict=True):
        options = [t for t in best.get(int(pair), []) if t != int(own)]
        out.append(str(ties.trip_label[options[0]]) if options else None)
    return out


def at_risk(
    panel: pd.DataFrame,
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
    panel : pandas.DataFrame
        The edge panel.
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
    ties = _build(panel, providers=providers, columns=columns, data_end=data_end)
    ci = (
        ties.n_months
        if cutoff is None
        else ties.cutoff_index(_parse_cutoffs(cutoff, fn, "cutoff")[0])
    )
    _check_cutoff(ties, ci, opts, labels=False)
    stamp = ties.month_of(ci)
    current = _slice(ties, ci, opts, labels=False)
    if len(current.idx) == 0:
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
        slices = [_slice(ties, c, opts, labels=True) for c in train_cis]
        template = ChurnModel(random_state=random_state)
        model, _ = _fit_on(
            slices, template, 200_000, np.random.default_rng(random_state), frame=True
        )
    else:
        model._check_fitted()
        names_in = list(getattr(model, "feature_names_in_", []))
        if names_in and names_in != list(FEATURE_COLUMNS):
            raise ParameterError(
                "The 'model' parameter of at_risk must be fitted on FEATURE_COLUMNS "
                "(e.g. by fit_churn_model)."
            )
    x_now = pd.DataFrame(current.x, columns=list(FEATURE_COLUMNS))
    keep = np.ones(len(current.idx), dtype=bool)
    if focus_ids is not None:
        focus = {str(i) for i in ([focus_ids] if isinstance(focus_ids, str) else focus_ids)}
        keep = np.isin(ties.ids[ties.tgt[current.idx]], np.array(sorted(focus), dtype=object))
    rows = np.flatnonzero(keep)
    idx = current.idx[rows]
    risk = model.predict_proba(x_now.iloc[rows])[:, -1] if len(rows) else np.zeros(0)
    values = {key: arr[rows] for key, arr in current.values.items()}
    at_stake = values["baseline_rate"] * opts.horizon
    out = pd.DataFrame(
        {
            "source": pd.array(ties.ids[ties.src[idx]], dtype="str"),
            "target": pd.array(ties.ids[ties.tgt[idx]], dtype="str"),
        }
    )
    if providers is not None:
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
    idx, rows = idx[order], rows[order]
    values = {key: arr[order] for key, arr in values.items()}
    if threshold is None:
        flagged = np.arange(len(out)) < capacity
    else:
        flagged = out["risk"].to_numpy() >= threshold
    n_explain = min(
        len(out), max(explain_top, int(np.flatnonzero(flagged).max()) + 1 if flagged.any() else 0)
    )
    reasons: list[Any] = [pd.NA] * len(out)
    if n_explain:
        contrib: FloatArray | None = None
        if model.n_features_in_ == len(FEATURE_COLUMNS) and len(model.classes_) == 2:
            contrib = model.contributions(x_now.iloc[rows[:n_explain]])
        ref = dict(zip(FEATURE_COLUMNS, model.reference_.tolist(), strict=False))
        gainers = _gainers(ties, ci, opts, idx[:n_explain])
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
            v = {key: float(arr[i]) for key, arr in values.items()}
            reasons[i] = _explain(None if contrib is None else contrib[i], v, ctx)
    out["reasons"] = pd.array(reasons, dtype="str")
    out["flagged"] = flagged
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    logger.info(
        "At-risk list at %s: %s ties, %s flagged", stamp.date(), f"{len(out):,}", int(flagged.sum())
    )
    return out
