"""The cutoffs, the ties active at a cutoff and their churn labels (:func:`churn_labels`).

A tie is *active* at a cutoff with at least ``min_referrals`` referrals in the
baseline window; it *churns* when its referrals in the horizon fall below
``churn_fraction`` x baseline rate x horizon (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from referral_graph.churn._columns import _ALIASES, _last_month, _month_numbers, _resolve_columns
from referral_graph.churn._matrix import _frame, _TieMatrix
from referral_graph.churn._options import (
    BoolArray,
    CutoffsLike,
    FloatArray,
    IntArray,
    _month_start,
    _Options,
    _parse_cutoffs,
)
from referral_graph.churn._panel import PreparedPanel, _check_cutoff, _prepared
from referral_graph.exceptions import (
    InsufficientDataError,  # noqa: F401 (named in a Raises section: the API reference links it)
    SchemaError,
)


def _active(ties: _TieMatrix, ci: int, opts: _Options, base: FloatArray | None = None) -> IntArray:
    """The ties with at least ``min_referrals`` referrals in the baseline window of `ci`."""
    if base is None:
        base = ties.window(ci - opts.baseline_months, ci)
    return np.flatnonzero(base >= opts.min_referrals - 1e-9).astype(np.intp)


def _labels_at(
    ties: _TieMatrix, ci: int, idx: IntArray, opts: _Options
) -> tuple[FloatArray, FloatArray, BoolArray]:
    nb, h = opts.baseline_months, opts.horizon
    bsum = ties.window(ci - nb, ci, idx)
    future = ties.window(ci, ci + h, idx)
    expected = bsum / nb * h
    return future, expected, future < opts.churn_fraction * expected


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
        The month starts, in order.

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
