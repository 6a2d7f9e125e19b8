"""The backtest's metrics (ROC-AUC, PR-AUC, precision and recall at k, lift, Brier); calibration.

:func:`_metrics` scores one method at one cutoff. Ties in a score count by their
average at the k-th place (random tie-breaking in expectation); the areas come from
one sort shared with precision@k. :func:`calibration_table` compares predicted
probabilities with observed rates, bin by bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss

from referral_graph._checks import check_choice, check_int
from referral_graph.churn._options import BoolArray, FloatArray
from referral_graph.exceptions import ParameterError


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


def _curve_areas(
    finite_sorted: FloatArray, y_sorted: FloatArray, y_cum: FloatArray | None = None
) -> tuple[float, float]:
    """ROC-AUC and average precision from scores sorted in descending order.

    The same quantities as :func:`sklearn.metrics.roc_auc_score` and
    :func:`sklearn.metrics.average_precision_score` (true and false positives
    at each distinct score), from one sort shared with precision@k (and its
    cumulative labels `y_cum`, ``[0, cumsum(y_sorted)]``, when given).
    """
    n = len(finite_sorted)
    last = np.append(np.flatnonzero(np.diff(finite_sorted)), n - 1)
    tps = (np.cumsum(y_sorted) if y_cum is None else y_cum[1:])[last]
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
    all_finite = bool(np.isfinite(score).all())  # the usual case: `finite` is `s`
    s = score if all_finite else np.where(np.isnan(score), -np.inf, score)
    # Any order of tied scores gives the same figures (ties count by their mean), so the
    # sort need not be stable: the default one is about three times as fast.
    order = np.argsort(-s)
    s_sorted = s[order]
    y_sorted = y[order].astype(np.float64)
    y_cum = np.concatenate(([0.0], np.cumsum(y_sorted)))
    if both and all_finite:
        roc_auc, pr_auc = _curve_areas(s_sorted, y_sorted, y_cum)
    elif both:
        finite = np.where(
            np.isinf(s),
            np.nanmin(np.where(np.isinf(s), np.nan, s)) - 1 if np.isfinite(s).any() else 0.0,
            s,
        )
        if np.isposinf(s).any():  # +inf is moved below the finite scores in `finite`
            f_order = np.argsort(-finite)
            roc_auc, pr_auc = _curve_areas(finite[f_order], y[f_order].astype(np.float64))
        else:
            roc_auc, pr_auc = _curve_areas(finite[order], y_sorted, y_cum)
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
    out["brier"] = _brier(y, np.clip(score, 0, 1)) if proba and n else math.nan
    return out


def _brier(y: BoolArray, p: FloatArray) -> float:
    """:func:`sklearn.metrics.brier_score_loss` of labels `y` (both classes present) and
    probabilities `p` (float64), computed as it does, to the last digit, without its
    checks (a third of a backtest cutoff's metrics); other inputs go to it."""
    if p.dtype != np.float64 or not 0 < int(y.sum()) < len(y) or not np.isfinite(p).all():
        return float(brier_score_loss(y, p))
    label = y.astype(np.int64)
    # its one-hot labels and (1 - p, p) columns, squared differences summed per row
    per_row = ((1 - label).astype(np.float64) - (1 - p)) ** 2 + (label.astype(np.float64) - p) ** 2
    return float(np.average(per_row) * 0.5)


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
