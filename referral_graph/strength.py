r"""Relationship strength: one transparent score per referral tie.

A tie ``source -> target`` (the referrer and the receiving provider) is
scored by eight *components*, each a number in ``[0, 1]`` that can be read
on its own, and a *score* in ``[0, 100]``: their weighted mean. Every
component, and the raw figure it is computed from, is a column of the
result, so a score can always be traced back to the data.

Components
----------
Notation for one tie: ``r`` referrals, ``p`` distinct patients, ``a``
amount (revenue); ``r_max``, ``p_max``, ``a_max`` are the largest values over
the ties of the table being scored (the network). ``log`` is natural.

``volume``
    ``log(1 + r) / log(1 + r_max)``. Log-scaled because referral counts are
    heavy-tailed: 10 -> 100 referrals is as big a step as 100 -> 1,000. It
    grows with ``r`` (monotone) and is 1 for the largest tie; 0 when every
    tie has 0 referrals.
``patient_volume``
    ``log(1 + p) / log(1 + p_max)``, the same scale on distinct patients.
    Needs a ``patients`` column. Monthly panels cannot be summed to distinct
    patients, so a tie table built from a panel here has none.
``recency``
    ``exp(-ln 2 * d / h) = 2 ** (-d / h)`` with ``d`` the days from the tie's
    last referral to `as_of` and ``h`` = `half_life_days` (default 90): 1 for
    a referral on `as_of`, 0.5 after one half-life, 0.25 after two. The
    last referral date is the tie table's ``last_date``, or the last day of
    the tie's last active month in the panel. ``d`` is floored at 0.
``regularity``
    ``m_active / m_observed``: the share of months with at least one
    referral among the months from the tie's *first* month to the month of
    `as_of`, both included. Measured from the tie's own start so that a new
    tie used every month since it began is fully regular (its youth shows
    in ``volume`` instead). Needs ``first_date`` and ``active_months`` in the
    tie table, or a panel.
``trend``
    ``R / (R + P)``, and 0.5 when ``R = P = 0``; ``R`` is the mean monthly
    referrals over the last ``k`` = `trend_months` months up to the month
    of `as_of`. *Seasonality-aware*: when the panel covers at least
    ``12 + k`` months (15 for the default ``k = 3``), ``P`` is the mean
    over the same ``k`` calendar months one year earlier (``trend_basis =
    "seasonal"``); otherwise ``P`` is the mean monthly referrals over all the
    earlier months of the panel (``trend_basis = "prior"``). With the ratio
    ``R / P`` (column ``trend_ratio``) the component is ``ratio / (1 + ratio)``:
    0.5 = flat, 2/3 = doubled, 1/3 = halved, 1 = new, 0 = stopped. Needs a
    monthly panel covering more than ``k`` months.
``share_of_wallet``
    ``r / S`` with ``S`` the referrer's referrals to every receiver of the
    tie's receiving *specialty* (needs `providers` with ``specialty``;
    ``share_basis = "specialty"``): how much of what the referrer sends to
    cardiology goes to this cardiologist. When the receiver's specialty is
    unknown (no `providers`, no ``specialty`` column, or a missing value) ``S``
    is the referrer's total referrals (``share_basis = "total"``), which is
    lower for a referrer who refers to many specialties. Shares are computed
    within the table given (filtering ties changes them).
``reciprocity``
    ``min(1, r_back / r)`` with ``r_back`` the referrals ``target -> source``
    (0 without a reverse tie; 1 when ``r = 0 < r_back``): does the receiver
    refer back? A self-referral has no reverse tie. When no tie of the table
    has a reverse tie (one-way data, such as PCP -> hospital files),
    referrals back are unobservable, so the component is missing, not 0.
``amount_volume``
    ``log(1 + a) / log(1 + a_max)``, like ``volume`` on the ``amount`` column
    (negative amounts count as 0).

Score
-----
``score = 100 * sum(w_c * x_c) / sum(w_c)`` over the components ``c`` that
are *available* for the tie (``x_c`` not missing) and have a weight
``w_c > 0``: the weights are renormalised over the available components, so
a tie table without dates is scored on volume, share of wallet and
reciprocity alone rather than penalised for the missing dates. The
components the data do not allow are listed, per tie, in
``missing_components`` (``""`` when none) and explained in
``result.attrs["missing_reasons"]``. Default weights (`DEFAULT_WEIGHTS`):

=================== ====== ===================================================
component           weight why
=================== ====== ===================================================
``volume``          0.25   how much flows: the core of a referral relationship
``patient_volume``  0.10   breadth (many patients, not one patient many times)
``recency``         0.15   a tie unused for months is at risk
``regularity``      0.15   habitual ties are stable ties
``trend``           0.10   growing or fading
``share_of_wallet`` 0.15   loyalty: how much of the referrer's choice it is
``reciprocity``     0.05   two-way ties are stickier; often unobserved
``amount_volume``   0.05   revenue; often unavailable
=================== ====== ===================================================

:func:`org_strength` rolls the ties up to ``source -> receiving
organisation`` and recomputes every component on the summed figures.

Examples
--------
>>> import pandas as pd
>>> ties = pd.DataFrame({"source": ["A", "A", "C"], "target": ["C", "D", "A"],
...                      "referrals": [30, 10, 6]})
>>> s = tie_strength(ties)
>>> s[["source", "target", "volume", "reciprocity", "score"]].round(2).values.tolist()
[['A', 'C', 1.0, 0.2, 82.78], ['A', 'D', 0.7, 0.0, 47.13], ['C', 'A', 0.57, 1.0, 75.93]]
>>> s.loc[0, "missing_components"]
'patient_volume, recency, regularity, trend, amount_volume'
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import check_float, check_int, check_weights, require_columns
from referral_graph.exceptions import ParameterError, SchemaError

__all__ = ["COMPONENTS", "DEFAULT_WEIGHTS", "org_strength", "tie_strength"]

logger = logging.getLogger(__name__)

#: The components, in the order of the result's columns.
COMPONENTS: tuple[str, ...] = (
    "volume",
    "patient_volume",
    "recency",
    "regularity",
    "trend",
    "share_of_wallet",
    "reciprocity",
    "amount_volume",
)

#: Default component weights (they sum to 1; only their ratios matter).
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "volume": 0.25,
        "patient_volume": 0.10,
        "recency": 0.15,
        "regularity": 0.15,
        "trend": 0.10,
        "share_of_wallet": 0.15,
        "reciprocity": 0.05,
        "amount_volume": 0.05,
    }
)

_KEYS = _codes.KEYS
_LN2 = math.log(2.0)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------
# Parameter and table checks
# --------------------------------------------------------------------------------------


def _check_half_life(value: Any, func: str) -> float:
    """A finite number of days > 0 (the one range check strength needs twice)."""
    return check_float(
        value,
        "half_life_days",
        func,
        low=0,
        high=math.inf,
        low_open=True,
        high_open=True,
        allow_numpy=False,
    )


def _check_as_of(value: Any, func: str) -> pd.Timestamp | None:
    if value is None:
        return None
    message = (
        f"The 'as_of' parameter of {func} must be a date (str, datetime.date or "
        f"pandas.Timestamp, without time zone) or None. Got {value!r} instead."
    )
    if not isinstance(value, str | dt.date | pd.Timestamp):
        raise ParameterError(message)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(message) from exc
    if pd.isna(stamp) or stamp.tzinfo is not None:
        raise ParameterError(message)
    return stamp.normalize()


_CHUNK_ROWS = 1 << 21  # panel rows handled at once (bounds the temporary arrays)


def _check_panel(panel: pd.DataFrame, func: str) -> tuple[pd.Series, pd.Series]:
    """Check an edge panel: its months (datetime) and referral counts, every row."""
    if not isinstance(panel, pd.DataFrame):
        raise ParameterError(
            f"The 'panel' parameter of {func} must be a pandas.DataFrame or None. "
            f"Got {type(panel).__name__} instead."
        )
    require_columns(
        panel,
        [*_KEYS, "month", "referrals"],
        "edge panel",
        "build it with referral_graph.aggregate.edge_panel.",
    )
    months = pd.to_datetime(panel["month"])
    referrals = _codes.counts(panel["referrals"], "edge panel's 'referrals' column")
    if bool(months.isna().any()):
        raise SchemaError("The edge panel's 'month' column has missing values.")
    return months, referrals


def _prepare_panel(panel: pd.DataFrame, func: str) -> pd.DataFrame:
    """A checked edge panel: ``source``, ``target``, ``m`` (month index), ``referrals``."""
    months, referrals = _check_panel(panel, func)
    out = pd.DataFrame(
        {
            "source": panel["source"].astype("str"),
            "target": panel["target"].astype("str"),
            "m": _codes.month_numbers(months),
            "referrals": referrals,
        }
    )
    return out.reset_index(drop=True)


def _panel_ties(panel: pd.DataFrame, keys: _codes.Keys) -> IntArray:
    """The row of the tie table (with `keys`) of each panel row; -1 for pairs not in it."""
    n = len(keys.ids) + 1
    pairs = pd.Index(keys.pairs())
    starts, run = _codes.runs(panel["source"], panel["target"])  # looked up once per run
    src = _codes.codes_at(panel["source"], starts, keys.ids).astype(np.int32)
    tgt = _codes.codes_at(panel["target"], starts, keys.ids).astype(np.int32)
    tie = np.empty(len(src), dtype=np.int64)
    for lo in range(0, len(src), _CHUNK_ROWS):
        s, t = src[lo : lo + _CHUNK_ROWS].astype(np.int64), tgt[lo : lo + _CHUNK_ROWS]
        found = pairs.get_indexer(pd.Index((s + 1) * n + (t + 1)))
        tie[lo : lo + len(s)] = np.where((s < 0) | (t < 0), -1, found)
    return tie[run]


def _provider_lookup(providers: pd.DataFrame, column: str) -> pd.Series:
    """``id -> column`` (first row per id; stripped strings, blanks missing)."""
    lookup = (
        providers.assign(id=providers["id"].astype("str"))
        .drop_duplicates("id")
        .set_index("id")[column]
        .astype("str")
        .str.strip()
    )
    return lookup.where(lookup.str.len() > 0)


def _specialty_of(providers: pd.DataFrame | None, keys: _codes.Keys) -> pd.Series:
    """The specialty of each target (``NA`` when unknown); blank strings count as unknown."""
    if providers is None or "specialty" not in providers.columns:
        return pd.Series(pd.NA, index=pd.RangeIndex(len(keys.target)), dtype="str")
    require_columns(
        providers, ["id"], "providers table", "read it with referral_graph.io.read_providers."
    )
    per_id = _provider_lookup(providers, "specialty").reindex(keys.ids)
    return _codes.take(per_id, keys.target).astype("str")


# --------------------------------------------------------------------------------------
# Raw figures
# --------------------------------------------------------------------------------------


def _log_scale(values: pd.Series) -> pd.Series:
    """``log(1 + x) / log(1 + max x)`` (0 when the max is 0); negative values count as 0."""
    x = pd.to_numeric(values, errors="coerce").astype("float64").clip(lower=0.0)
    top = float(x.max()) if bool(x.notna().any()) else 0.0
    if top <= 0:
        return x.where(x.isna(), 0.0)
    return x.transform(np.log1p) / math.log1p(top)


def _panel_figures(
    panel: pd.DataFrame, tie: IntArray, n_ties: int, as_of_m: int, trend_months: int
) -> tuple[dict[str, FloatArray], str | None, int]:
    """Per tie: first/last active month, active months and trend rates from a panel.

    `tie` is the tie of each panel row (-1: not a tie of the table). Returns
    the figures (NaN for a tie without a referral up to `as_of_m`), the trend
    basis (None when the window is too short) and the number of months in the
    data window.
    """
    month = panel["m"].to_numpy(dtype=np.int64)
    counts = panel["referrals"].to_numpy()
    start = int(month.min())
    n_window = as_of_m - start + 1
    basis: str | None
    if n_window >= 12 + trend_months:
        basis = "seasonal"
        prior_window = (as_of_m - 12 - trend_months, as_of_m - 12)
        prior_months = trend_months
    else:
        basis = "prior"
        prior_window = (start - 1, as_of_m - trend_months)
        prior_months = n_window - trend_months
    if prior_months < 1:
        basis = None
    recent_window = (as_of_m - trend_months, as_of_m)
    stats = _codes.MonthStats(n_ties, start, as_of_m)
    sums = {"trend_recent": np.zeros(n_ties), "trend_prior": np.zeros(n_ties)}
    for lo in range(0, len(month), _CHUNK_ROWS):
        m = month[lo : lo + _CHUNK_ROWS]
        referrals = counts[lo : lo + _CHUNK_ROWS].astype(np.float64)
        seen = (m <= as_of_m) & (tie[lo : lo + _CHUNK_ROWS] >= 0)
        rows, m, referrals = tie[lo : lo + _CHUNK_ROWS][seen], m[seen], referrals[seen]
        active = referrals > 0
        stats.add(rows[active], m[active])
        if basis is not None:
            for name, (after, until) in (
                ("trend_recent", recent_window),
                ("trend_prior", prior_window),
            ):
                inside = np.where((m > after) & (m <= until), referrals, 0.0)
                sums[name] += np.bincount(rows, weights=inside, minlength=n_ties)
    first_m, last_m, active_months = stats.result()
    figures = {"first_m": first_m, "last_m": last_m, "active_months": active_months}
    if basis is not None:
        seen_tie = ~np.isnan(first_m)
        for name, months in (("trend_recent", trend_months), ("trend_prior", prior_months)):
            figures[name] = np.where(seen_tie, sums[name] / months, np.nan)
    return figures, basis, n_window


def _raw_figures(
    prepared: _codes.Prepared,
    panel: pd.DataFrame | None,
    providers: pd.DataFrame | None,
    as_of: pd.Timestamp | None,
    trend_months: int,
    func: str,
) -> tuple[pd.DataFrame, dict[str, str], list[str], pd.Timestamp | None]:
    """The raw columns of the strength table, plus missing reasons, notes and as_of."""
    reasons: dict[str, str] = {}
    notes: list[str] = []
    ties, keys = prepared.frame, prepared.keys
    out = ties[_KEYS].copy()
    out["target_specialty"] = _specialty_of(providers, keys)
    out["referrals"] = ties["referrals"]
    if "patients" in ties.columns:
        patients = pd.to_numeric(ties["patients"], errors="coerce")
        whole = bool((patients.dropna() % 1 == 0).all())
        out["patients"] = patients.astype("Int64" if whole else "Float64")
    if "amount" in ties.columns:
        out["amount"] = pd.to_numeric(ties["amount"], errors="coerce").astype("float64")
    if "patients" not in ties.columns:
        reasons["patient_volume"] = "the tie table has no 'patients' column"
    if "amount" not in ties.columns:
        reasons["amount_volume"] = "the tie table has no 'amount' column"

    # -- dates: the tie table's exact dates first, the panel fills in the rest ---------
    first = (
        pd.to_datetime(ties["first_date"])
        if "first_date" in ties.columns
        else pd.Series(pd.NaT, index=ties.index, dtype="datetime64[ns]")
    )
    last = (
        pd.to_datetime(ties["last_date"])
        if "last_date" in ties.columns
        else pd.Series(pd.NaT, index=ties.index, dtype="datetime64[ns]")
    )
    active = (
        pd.to_numeric(ties["active_months"], errors="coerce").astype("Float64")
        if "active_months" in ties.columns
        else pd.Series(pd.NA, index=ties.index, dtype="Float64")
    )
    if as_of is None:
        ends = [last.max()] if bool(last.notna().any()) else []
        if not ends and panel is not None and len(panel):
            ends = [_codes.month_dates([int(panel["m"].max())], end=True)[0]]
        as_of = pd.Timestamp(ends[0]).normalize() if ends else None

    trend_recent = pd.Series(np.nan, index=ties.index)
    trend_prior = pd.Series(np.nan, index=ties.index)
    basis: str | None = None
    if as_of is not None and panel is not None and len(panel):
        as_of_m = as_of.year * 12 + as_of.month - 1
        if as_of_m < int(panel["m"].min()):
            raise ParameterError(
                f"The 'as_of' parameter of {func} must not precede the panel's first month. "
                f"Got {as_of.date().isoformat()!r} instead."
            )
        fig, basis, n_window = _panel_figures(
            panel, _panel_ties(panel, keys), len(ties), as_of_m, trend_months
        )
        first = first.fillna(
            pd.Series(_codes.month_dates(fig["first_m"], end=False), index=ties.index)
        )
        last = last.fillna(pd.Series(_codes.month_dates(fig["last_m"], end=True), index=ties.index))
        active = active.fillna(pd.Series(fig["active_months"], index=ties.index).astype("Float64"))
        if basis is None:
            reasons["trend"] = (
                f"the panel covers {n_window} month(s) up to as_of; a trend over "
                f"{trend_months} month(s) needs at least {trend_months + 1}"
            )
        else:
            trend_recent = pd.Series(fig["trend_recent"], index=ties.index)
            trend_prior = pd.Series(fig["trend_prior"], index=ties.index)
            missing = int(trend_recent.isna().sum())
            if missing:
                notes.append(
                    f"{missing} tie(s) have no referral in the panel up to as_of: no trend for them"
                )
    elif panel is None:
        reasons["trend"] = "needs a monthly edge panel (pass panel=, or an edge panel as ties)"
    if as_of is None:
        reasons.setdefault(
            "recency", "no dates: the tie table has no 'last_date' and no panel was given"
        )
        reasons.setdefault(
            "regularity",
            "no dates: the tie table has no 'first_date'/'active_months' and no panel was given",
        )
        reasons.setdefault("trend", "no dates")
    else:
        if not bool(last.notna().any()):
            reasons["recency"] = "no last referral date for any tie"
        if not bool((first.notna() & active.notna()).any()):
            reasons["regularity"] = "no first date and active months for any tie"

    if as_of is not None:
        days = (as_of - last.dt.normalize()).dt.days.astype("Float64")
        late = int((days < 0).sum())
        if late:
            logger.warning(
                "%s: %d tie(s) have referrals after as_of=%s; their recency counts 0 days. "
                "Filter the data to score as of an earlier date.",
                func,
                late,
                as_of.date(),
            )
        days = days.clip(lower=0)
        as_of_m = as_of.year * 12 + as_of.month - 1
        observed = (as_of_m - _codes.month_index(first) + 1).astype("Float64").clip(lower=1)
    else:
        days = pd.Series(pd.NA, index=ties.index, dtype="Float64")
        observed = pd.Series(pd.NA, index=ties.index, dtype="Float64")
    out["first_date"] = first.astype("datetime64[ns]")
    out["last_date"] = last.astype("datetime64[ns]")
    out["days_since_last"] = days.round().astype("Int64")
    out["active_months"] = active.round().astype("Int64")
    out["months_observed"] = observed.round().astype("Int64")
    share_active = (active / observed).clip(upper=1.0)
    out["active_share"] = share_active.astype("float64")
    out["trend_recent"] = trend_recent.astype("float64")
    out["trend_prior"] = trend_prior.astype("float64")
    has_basis = trend_recent.notna().to_numpy() & (basis is not None)
    out["trend_basis"] = _codes.labelled([str(basis)], np.where(has_basis, 0, -1), ties.index)

    # -- share of wallet and reciprocity ------------------------------------------------
    share, share_basis, note = _shares(
        keys, out["target_specialty"], out["referrals"], prepared.order
    )
    if note:
        notes.append(note)
    out["share"] = share
    out["share_basis"] = share_basis
    out["reverse_referrals"] = _reverse(keys, out["referrals"])
    if len(out) > 1 and not bool((out["reverse_referrals"] > 0).any()):
        # One-way data (PCP -> hospital files) cannot show referrals back: unobserved, not 0.
        reasons["reciprocity"] = (
            "no tie in the data has a reverse tie: one-way data (e.g. PCP -> hospital files) "
            "cannot show referrals back, so reciprocity is left out rather than scored 0"
        )
    return out, reasons, notes, as_of


def _group_totals(values: FloatArray, groups: IntArray, order: IntArray | None) -> FloatArray:
    """Per row, the sum of `values` over its group.

    Summed by pandas (compensated sums) in the tie table's own row order: the
    rows are in that table's order taken by `order` (None: the same order).
    """
    if order is None:
        return np.asarray(pd.Series(values).groupby(groups, sort=False).transform("sum"))
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    given = pd.Series(values[back]).groupby(groups[back], sort=False).transform("sum")
    return np.asarray(given)[order]


def _shares(
    keys: _codes.Keys, specialty: pd.Series, referrals: pd.Series, order: IntArray | None
) -> tuple[pd.Series, pd.Series, str | None]:
    """Share of the referrer's referrals in the receiving specialty (or in total)."""
    ref = referrals.to_numpy(dtype=np.float64)
    source = keys.source + 1  # missing ids are a group of their own
    total = _group_totals(ref, source, order)
    known = specialty.notna().to_numpy()
    spec_codes, spec_values = pd.factorize(specialty)  # missing: -1, a group of its own
    pair = source * (len(spec_values) + 1) + spec_codes + 1
    denom = np.where(known, _group_totals(ref, pair, order), total)
    share = np.divide(ref, denom, out=np.zeros_like(ref), where=denom > 0).clip(0.0, 1.0)
    index = specialty.index
    basis = _codes.labelled(["specialty", "total"], np.where(known, 0, 1), index)
    note = None
    if not bool(known.any()):
        note = (
            "no receiver's specialty is known (give providers with a 'specialty' column): "
            "shares of wallet are of the referrer's total referrals (share_basis='total')"
        )
    elif not bool(known.all()):
        note = (
            f"{int((~known).sum())} tie(s) go to receivers of unknown specialty: their share "
            "of wallet is of the referrer's total referrals (share_basis='total'), not of "
            "those to one specialty"
        )
    return pd.Series(share, index=index), basis, note


def _reverse(keys: _codes.Keys, referrals: pd.Series) -> pd.Series:
    """Referrals target -> source for each tie (0 without a reverse tie or for a self-loop)."""
    back = _codes.Keys(keys.ids, keys.target, keys.source)
    position = pd.Index(keys.pairs()).get_indexer(pd.Index(back.pairs()))
    values = referrals.to_numpy()
    found = (position >= 0) & (keys.source != keys.target)
    reverse = np.zeros_like(values)
    reverse[found] = values[position[found]]
    return pd.Series(reverse, index=referrals.index).astype(referrals.dtype)


# --------------------------------------------------------------------------------------
# Components and score
# --------------------------------------------------------------------------------------


def _as_float(values: pd.Series) -> FloatArray:
    """A column as float64 (missing values, pandas NA included, as NaN)."""
    return np.asarray(values.astype("float64").to_numpy(na_value=np.nan), dtype=np.float64)


def _components(
    raw: pd.DataFrame,
    *,
    weights: dict[str, float],
    half_life_days: float,
    reasons: dict[str, str],
) -> pd.DataFrame:
    """Add the component columns, ``score`` and ``missing_components`` to `raw` (in place)."""
    out = raw
    nan = np.full(len(out), np.nan)
    ref = _as_float(out["referrals"])
    comp: dict[str, FloatArray] = {"volume": _log_scale(out["referrals"]).to_numpy()}
    comp["patient_volume"] = (
        _log_scale(out["patients"].astype("float64")).to_numpy()
        if "patients" in out.columns
        else nan
    )
    days = _as_float(out["days_since_last"])
    comp["recency"] = np.exp(days * (-_LN2 / half_life_days))
    comp["regularity"] = _as_float(out["active_share"])
    recent = _as_float(out["trend_recent"])
    prior = _as_float(out["trend_prior"])
    both = recent + prior
    with np.errstate(divide="ignore", invalid="ignore"):
        new = np.where(recent > 0, np.inf, np.nan)
        ratio = np.where(prior > 0, recent / np.where(prior > 0, prior, 1.0), new)
        trend = np.where(both > 0, recent / np.where(both > 0, both, 1.0), 0.5)
        back = _as_float(out["reverse_referrals"])
        reciprocity = np.where(ref > 0, back / np.where(ref > 0, ref, 1.0), (back > 0) * 1.0)
    out.insert(
        list(out.columns).index("trend_prior") + 1,
        "trend_ratio",
        np.where(np.isnan(recent), np.nan, ratio),
    )
    comp["trend"] = np.where(np.isnan(recent), np.nan, trend)
    comp["share_of_wallet"] = _as_float(out["share"])
    comp["reciprocity"] = nan if "reciprocity" in reasons else reciprocity
    comp["amount_volume"] = (
        _log_scale(out["amount"].astype("float64")).to_numpy() if "amount" in out.columns else nan
    )
    num = np.zeros(len(out))
    den = np.zeros(len(out))
    mask = np.zeros(len(out), dtype=np.int64)
    for bit, name in enumerate(COMPONENTS):
        values = np.clip(comp[name], 0.0, 1.0)
        out[name] = values
        have = ~np.isnan(values)
        w = weights[name]
        if w > 0:
            num += np.where(have, values * w, 0.0)
            den += have * w
        mask += (~have).astype(np.int64) * (1 << bit)
    codes, masks = pd.factorize(mask)
    labels = [", ".join(n for bit, n in enumerate(COMPONENTS) if int(m) >> bit & 1) for m in masks]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["score"] = np.clip(100.0 * num / np.where(den > 0, den, np.nan), 0.0, 100.0)
    out["missing_components"] = _codes.labelled(labels, codes, out.index)
    unexplained = [c for c in COMPONENTS if bool(out[c].isna().any()) and c not in reasons]
    for c in unexplained:
        reasons[c] = "missing for some ties (see the raw columns)"
    out.attrs["missing_reasons"] = dict(reasons)
    out.attrs["weights"] = dict(weights)
    out.attrs["half_life_days"] = half_life_days
    return out


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def tie_strength(
    ties: pd.DataFrame,
    *,
    panel: pd.DataFrame | None = None,
    providers: pd.DataFrame | None = None,
    as_of: str | dt.date | pd.Timestamp | None = None,
    weights: Mapping[str, float] | None = None,
    half_life_days: float = 90,
    trend_months: int = 3,
) -> pd.DataFrame:
    """Score the strength of each referral tie (methodology: module docstring).

    Parameters
    ----------
    ties : pandas.DataFrame
        Tie table, one row per (source, target): ``source``, ``target``,
        ``referrals`` and, where known, ``patients``, ``amount``,
        ``first_date``, ``last_date``, ``active_months``
        (:func:`referral_graph.aggregate.tie_table`,
        :func:`referral_graph.io.read_edges`). An edge panel (with ``month``)
        is accepted too: it is summed to ties and used as `panel`.
    panel : pandas.DataFrame, optional
        Edge panel (:func:`referral_graph.aggregate.edge_panel`): ``source``,
        ``target``, ``month``, ``referrals``. Needed for ``trend``; fills in
        dates the tie table lacks. Months after `as_of` are ignored.
    providers : pandas.DataFrame, optional
        Providers table with ``id`` and ``specialty``, for the share of wallet
        within the receiving specialty. Without it shares are of the
        referrer's total (``share_basis = "total"``).
    as_of : str, datetime.date or pandas.Timestamp, optional
        Reference date for recency, regularity and trend. Default: the data
        end, the latest ``last_date`` (or the last day of the panel's last
        month).
    weights : dict of str to float, optional
        Component weights; keys not given keep their `DEFAULT_WEIGHTS` value,
        ``0`` leaves a component out of the score (its column stays).
    half_life_days : float, default 90
        Days after which ``recency`` halves.
    trend_months : int, default 3
        Length of the recent window of ``trend``, in [1, 12].

    Returns
    -------
    pandas.DataFrame
        One row per tie, sorted by source, target (default index):

        * ``source``, ``target``, ``target_specialty``;
        * raw figures: ``referrals``, ``patients`` and ``amount`` (when given),
          ``first_date``, ``last_date``, ``days_since_last``, ``active_months``,
          ``months_observed``, ``active_share``, ``trend_recent`` /
          ``trend_prior`` (mean monthly referrals in the two windows),
          ``trend_ratio`` (``inf`` when new, ``NaN`` when 0 / 0),
          ``trend_basis`` ("seasonal" or "prior"), ``share``, ``share_basis``
          ("specialty" or "total"), ``reverse_referrals``;
        * the components (`COMPONENTS`), float64 in [0, 1], ``NaN`` where the
          data do not allow them;
        * ``score`` in [0, 100] and ``missing_components`` (comma-separated
          names, ``""`` when none).

        ``attrs``: ``as_of``, ``weights``, ``half_life_days``, ``trend_months``,
        ``missing_reasons`` (component -> why) and ``notes``.

    Raises
    ------
    SchemaError
        If a table lacks required columns, has negative or missing counts, or
        repeats a (source, target) pair.
    ParameterError
        On a bad option.

    See Also
    --------
    org_strength : the same scores for source -> receiving organisation.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({
    ...     "source": ["A"] * 4 + ["B"],
    ...     "target": ["X"] * 5,
    ...     "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01",
    ...                              "2024-01-01"]),
    ...     "referrals": [2, 2, 4, 4, 6]})
    >>> s = tie_strength(panel, trend_months=2)
    >>> s[["source", "days_since_last", "active_share", "trend_ratio", "trend"]].values.tolist()
    [['A', 0, 1.0, 2.0, 0.6666666666666666], ['B', 90, 0.25, 0.0, 0.0]]
    >>> s["recency"].tolist()  # B: last referral 2024-01-31, 90 days (one half-life) before as_of
    [1.0, 0.5]
    """
    func = "tie_strength"
    w = check_weights(weights, func, DEFAULT_WEIGHTS)
    half_life = _check_half_life(half_life_days, func)
    k = check_int(trend_months, "trend_months", func, low=1, high=12, allow_numpy=False)
    stamp = _check_as_of(as_of, func)
    prepared = _codes.prepare_ties(ties, func, sort=True)  # sorted: the result's order
    from_panel = prepared.from_panel
    if panel is None and from_panel is not None:
        panel = from_panel
    monthly = _prepare_panel(panel, func) if panel is not None else None
    raw, reasons, notes, stamp = _raw_figures(prepared, monthly, providers, stamp, k, func)
    if from_panel is not None and "patients" in from_panel.columns:
        reasons["patient_volume"] = (
            "the ties were summed from a monthly panel, and monthly distinct patients do not "
            "add up to distinct patients (pass the tie table from aggregate.tie_table)"
        )
    result = _components(raw, weights=w, half_life_days=half_life, reasons=reasons)
    result.attrs.update(
        as_of=stamp,
        trend_months=k,
        notes=notes,
        missing_reasons=dict(reasons),
        weights=w,
        half_life_days=half_life,
    )
    for name, why in reasons.items():
        logger.info("%s: component %r unavailable: %s", func, name, why)
    for note in notes:
        logger.info("%s: %s", func, note)
    logger.info(
        "Scored %s ties (as of %s)",
        f"{len(result):,}",
        stamp.date().isoformat() if stamp is not None else "no date",
    )
    return result


def org_strength(
    strength_table: pd.DataFrame,
    providers: pd.DataFrame,
    *,
    panel: pd.DataFrame | None = None,
    as_of: str | dt.date | pd.Timestamp | None = None,
    weights: Mapping[str, float] | None = None,
    half_life_days: float = 90,
) -> pd.DataFrame:
    """Roll tie strength up to source -> receiving organisation and rescore.

    The raw figures of the ties from one referrer to the providers of one
    organisation are combined and every component is recomputed from them
    with the formulas of the module docstring:

    * ``referrals``, ``amount``, ``reverse_referrals`` (the organisation's
      referrals back to the referrer) and the trend rates are summed: exact;
    * ``patients`` is summed: an upper bound (a patient seen by two of the
      organisation's providers counts twice);
    * ``last_date`` is the latest and ``days_since_last`` the smallest: exact;
    * ``active_months`` is exact with `panel` (months in which the referrer
      sent anyone to the organisation); without it, the largest over the
      ties, a lower bound;
    * ``share`` is of the referrer's total referrals in `strength_table`
      (``share_basis = "total"``): an organisation spans specialties;
    * ``volume`` is relative to the largest organisation tie.

    Parameters
    ----------
    strength_table : pandas.DataFrame
        Output of :func:`tie_strength`.
    providers : pandas.DataFrame
        Providers table with ``id`` and ``organization``. Ties to receivers
        without an organisation are left out (logged).
    panel : pandas.DataFrame, optional
        The edge panel the strength table was computed from, for exact
        ``active_months``.
    as_of : date, optional
        Reference date for regularity from `panel`; default
        ``strength_table.attrs["as_of"]``, else the latest ``last_date``.
    weights : dict of str to float, optional
        As in :func:`tie_strength`.
    half_life_days : float, default 90
        As in :func:`tie_strength`.

    Returns
    -------
    pandas.DataFrame
        One row per (source, organization), sorted by them: ``source``,
        ``organization``, ``n_receivers`` (providers of the organisation the
        referrer sends to), the raw figures and components of
        :func:`tie_strength` (without ``target_specialty``), ``score`` and
        ``missing_components``.

    Raises
    ------
    SchemaError
        If `providers` lacks ``id`` or ``organization``, or `strength_table`
        is not a tie strength table.

    Examples
    --------
    >>> import pandas as pd
    >>> ties = pd.DataFrame({"source": ["P", "P", "P"], "target": ["S1", "S2", "S3"],
    ...                      "referrals": [10, 20, 30]})
    >>> providers = pd.DataFrame({"id": ["S1", "S2", "S3"],
    ...                           "organization": ["Ours", "Ours", "Rival"]})
    >>> org = org_strength(tie_strength(ties), providers)
    >>> org[["organization", "n_receivers", "referrals", "share", "volume"]].values.tolist()
    [['Ours', 2, 30, 0.5, 1.0], ['Rival', 1, 30, 0.5, 1.0]]
    """
    func = "org_strength"
    w = check_weights(weights, func, DEFAULT_WEIGHTS)
    half_life = _check_half_life(half_life_days, func)
    stamp = _check_as_of(as_of, func)
    needed = [
        *_KEYS,
        "referrals",
        "last_date",
        "days_since_last",
        "active_months",
        "months_observed",
        "trend_recent",
        "trend_prior",
        "trend_basis",
        "reverse_referrals",
    ]
    require_columns(strength_table, needed, "strength table", "compute it with tie_strength.")
    require_columns(
        providers,
        ["id", "organization"],
        "providers table",
        "give the receiving providers' organisation (CLI: --organization-col).",
    )
    used = [c for c in (*needed, "patients", "amount", "first_date") if c in strength_table]
    table = strength_table[used]
    source = table["source"].astype("str")
    keys = _codes.Keys.of(pd.DataFrame({"source": source, "target": table["target"].astype("str")}))
    lookup = _provider_lookup(providers, "organization")
    organizations = _codes.sorted_ids(lookup)
    org_of_id = np.append(organizations.get_indexer(pd.Index(lookup.reindex(keys.ids))), -1)
    org = org_of_id[keys.target].astype(np.int64)
    ref_total = table["referrals"].to_numpy(dtype=np.float64)
    per_source = pd.Series(ref_total).groupby(keys.source + 1, sort=False).sum()
    source_total = np.zeros(len(keys.ids) + 1)
    source_total[per_source.index.to_numpy()] = per_source.to_numpy()
    dropped = org < 0
    if bool(dropped.any()):
        logger.info(
            "%s: %d tie(s) go to receivers without an organisation and are left out",
            func,
            int(dropped.sum()),
        )
    kept = ~dropped & (keys.source >= 0)
    table = table.loc[kept]
    n_org = max(len(organizations), 1)
    # one group per (source, organization), numbered in the order of the sorted names
    group, uniques = pd.factorize(keys.source[kept] * n_org + org[kept], sort=True)
    keys_out = ["source", "organization"]
    grouped = table.groupby(group, sort=True)
    out = pd.DataFrame(
        {
            "source": pd.Series(keys.ids.take(uniques // n_org), dtype="str"),
            "organization": pd.Series(organizations.take(uniques % n_org), dtype="str"),
            "n_receivers": np.bincount(group, minlength=len(uniques)).astype(np.int64),
        }
    )
    sums = ["referrals", "reverse_referrals"] + [
        c for c in ("patients", "amount") if c in table.columns
    ]
    for col in sums:
        out[col] = grouped[col].sum(min_count=1).to_numpy()
    out["referrals"] = out["referrals"].astype(table["referrals"].dtype)
    out["reverse_referrals"] = out["reverse_referrals"].astype(table["referrals"].dtype)
    if "patients" in out.columns:
        out["patients"] = out["patients"].astype(table["patients"].dtype)
    out["first_date"] = (
        grouped["first_date"].min().to_numpy() if "first_date" in table.columns else pd.NaT
    )
    out["first_date"] = out["first_date"].astype("datetime64[ns]")
    out["last_date"] = pd.Series(grouped["last_date"].max().to_numpy()).astype("datetime64[ns]")
    out["days_since_last"] = (
        pd.Series(grouped["days_since_last"].min().to_numpy(), dtype="Float64")
        .round()
        .astype("Int64")
    )
    active = pd.Series(grouped["active_months"].max().to_numpy(), dtype="Float64")
    observed = pd.Series(grouped["months_observed"].max().to_numpy(), dtype="Float64")
    if stamp is None:
        attr = strength_table.attrs.get("as_of")
        stamp = pd.Timestamp(attr) if attr is not None else None
    if stamp is None and bool(table["last_date"].notna().any()):
        stamp = pd.Timestamp(table["last_date"].max()).normalize()
    if panel is not None and stamp is not None:
        months, referrals = _check_panel(panel, func)
        as_of_m = stamp.year * 12 + stamp.month - 1
        # the ids of each run of equal (source, target) rows, looked up once per run; only
        # the rows to a provider with an organisation count: the others are left out
        panel_ids = [panel[c].astype("str") for c in _KEYS]
        starts, run = _codes.runs(*panel_ids)
        target_codes, targets = pd.factorize(panel_ids[1].iloc[starts])
        where = organizations.get_indexer(pd.Index(lookup.reindex(targets)))
        run_org = np.append(where, -1)[target_codes]
        run_source = _codes.codes(panel_ids[0].iloc[starts], keys.ids)
        wanted = run_source * n_org + run_org  # the (source, organization) group of each run
        position = np.minimum(np.searchsorted(uniques, wanted), max(len(uniques) - 1, 0))
        found = (run_source >= 0) & (run_org >= 0) & (len(uniques) > 0)
        found[found] = uniques[position[found]] == wanted[found]
        m = _codes.month_numbers(months)
        act = found[run] & (referrals.to_numpy() > 0) & (m <= as_of_m)
        first_m, _, distinct = _codes.month_stats(position[run[act]], m[act], len(out))
        active = pd.Series(distinct, dtype="Float64")
        observed = pd.Series(as_of_m - first_m + 1, dtype="Float64")
    elif bool((out["n_receivers"] > 1).any()) and bool(active.notna().any()):
        logger.info(
            "%s: without a panel, active_months of an organisation tie is the largest "
            "over its provider ties (a lower bound)",
            func,
        )
    out["active_months"] = active.round().astype("Int64")
    out["months_observed"] = observed.round().astype("Int64")
    out["active_share"] = (active / observed).clip(upper=1.0).astype("float64")
    recent = grouped["trend_recent"].sum(min_count=1).to_numpy()
    prior = grouped["trend_prior"].sum(min_count=1).to_numpy()
    out["trend_recent"] = recent.astype("float64")
    out["trend_prior"] = prior.astype("float64")
    out["trend_basis"] = pd.Series(grouped["trend_basis"].first().to_numpy(), dtype="str")
    total = pd.Series(source_total[uniques // n_org + 1], dtype="float64")
    ref = out["referrals"].astype("float64")
    out["share"] = (ref / total.where(total > 0)).fillna(0.0).clip(0.0, 1.0)
    out["share_basis"] = pd.Series("total", index=out.index, dtype="str")
    order = [*keys_out, "n_receivers", "referrals"]
    order += [c for c in ("patients", "amount") if c in out.columns]
    order += [c for c in out.columns if c not in order and c != "reverse_referrals"]
    out = out[[*order, "reverse_referrals"]]
    reasons = {
        k: v
        for k, v in strength_table.attrs.get("missing_reasons", {}).items()
        if k != "share_of_wallet"
    }
    result = _components(
        out.rename(columns={"organization": "target"}),
        weights=w,
        half_life_days=half_life,
        reasons=reasons,
    )
    result = result.rename(columns={"target": "organization"})
    result.attrs.update(as_of=stamp, notes=list(strength_table.attrs.get("notes", [])))
    logger.info(
        "Rolled %s ties up to %s referrer-organisation ties", f"{len(table):,}", f"{len(result):,}"
    )
    return result
