"""Validation of the prospect score on history (:func:`prospect_backtest`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from referral_graph._checks import (
    check_choice,
    check_float,
    check_focus_ids,
    check_frame,
    check_int,
)
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.prospects._inputs import (
    METHODS,
    BoolArray,
    FloatArray,
    Method,
    _check_weights,
    _month_start,
    _panel_months,
    _ties_frame,
)
from referral_graph.prospects._network import _build_network, _candidates
from referral_graph.prospects._score import _score

logger = logging.getLogger("referral_graph.prospects")

#: Baseline rows of :func:`prospect_backtest`.
VOLUME_BASELINE = "volume_to_competitors"
RANDOM_BASELINE = "random (expected)"


def _expected_hits(y: BoolArray, score: FloatArray, k: int) -> float:
    """Expected positives among the top `k` scores, ties broken at random."""
    k = min(k, len(score))
    if k <= 0:
        return math.nan
    order = np.argsort(-score, kind="stable")
    s_sorted, y_sorted = score[order], y[order].astype(np.float64)
    cut = s_sorted[k - 1]
    above = s_sorted > cut
    tied = s_sorted == cut
    return float(y_sorted[above].sum() + (k - int(above.sum())) * y_sorted[tied].mean())


def _roc_auc(y: BoolArray, score: FloatArray) -> float:
    """Mann-Whitney ROC-AUC (ties count one half); NaN without both classes."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy.stats import rankdata  # imported here: scipy.stats is slow to import

    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _metrics(
    name: str, y: BoolArray, score: FloatArray | None, ks: Sequence[int]
) -> dict[str, Any]:
    n, pos = len(y), int(y.sum())
    rate = pos / n if n else math.nan
    row: dict[str, Any] = {"method": name}
    row["roc_auc"] = (
        0.5
        if score is None and 0 < pos < n
        else (_roc_auc(y, score) if score is not None else math.nan)
    )
    for k in ks:
        kk = min(k, n)
        # score None: a random ranking, in expectation
        hits = (kk * rate if n else math.nan) if score is None else _expected_hits(y, score, k)
        precision = hits / kk if kk else math.nan
        row[f"precision_at_{k}"] = precision
        row[f"recall_at_{k}"] = hits / pos if pos else math.nan
        row[f"lift_at_{k}"] = precision / rate if pos else math.nan
    return row


def _check_cutoff(value: Any, func: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ParameterError(
            f"The 'cutoff' parameter of {func} must be a date (the first day of a month). "
            f"Got {value!r} instead."
        ) from err
    if pd.isna(stamp):
        raise ParameterError(
            f"The 'cutoff' parameter of {func} must be a date (the first day of a month). "
            f"Got {value!r} instead."
        )
    return stamp


def prospect_backtest(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    cutoff: str | pd.Timestamp,
    horizon_months: int = 6,
    method: Method | Sequence[Method] = "adamic_adar",
    k: Sequence[int] = (25, 100),
    min_referrals: int = 2,
    loyal_threshold: float = 0.5,
    max_practice_size: int = 50,
    relation_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Backtest the prospect score: do high scorers start referring to us?

    The ties are the panel's months before `cutoff`; the candidates are the
    providers :func:`prospects` would consider at the cutoff (referral
    sources, or untied providers, with no referral to the focus before it);
    a candidate is a *hit* when it sends at least `min_referrals` referrals to
    focus providers in the `horizon_months` months from the cutoff on.

    Parameters
    ----------
    panel : pandas.DataFrame
        The monthly edge panel (:func:`referral_graph.aggregate.edge_panel`).
    providers : pandas.DataFrame
        As in :func:`prospects`.
    focus_ids : iterable of str
        The focus organisation's provider ids.
    cutoff : str or pandas.Timestamp
        First month of the horizon (a date inside a month means that month).
        There must be data before it, and the horizon must end inside the data.
    horizon_months : int, default 6
        Length of the horizon, in [1, 120].
    method : str or sequence of str, default "adamic_adar"
        The measure(s) to evaluate (see :data:`METHODS`).
    k : sequence of int, default (25, 100)
        List sizes for precision@k, recall@k and lift@k.
    min_referrals : int, default 2
        Referrals to the focus within the horizon that make a hit (1 counts
        one-off referrals, which are mostly noise), in [1, 1,000].
    loyal_threshold, max_practice_size, relation_weights
        As in :func:`prospects`.

    Returns
    -------
    pandas.DataFrame
        One row per method, then the baselines ``"volume_to_competitors"``
        (the candidates' market referrals to competitors before the cutoff)
        and ``"random (expected)"`` (the expectation of a random order:
        precision = base rate, AUC = 0.5): ``method``, ``cutoff``,
        ``horizon_months``, ``n_candidates``, ``n_positive``, ``base_rate``,
        ``roc_auc`` and, for each ``k``, ``precision_at_k``, ``recall_at_k``
        and ``lift_at_k`` (precision / base rate). Precision@k counts tied
        scores at the cut in expectation (random tie-breaking).

    Raises
    ------
    ParameterError
        If an argument is of the wrong type or out of range.
    InsufficientDataError
        If there are no months before the cutoff, the horizon runs past the
        data, or there is no candidate.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["F", "R", "L", "A", "B"],
    ...                           "organization": [None, None, "Oak", "Oak", None]})
    >>> panel = pd.DataFrame({
    ...     "source": ["L", "A", "B", "A", "B"], "target": ["F", "R", "R", "F", "R"],
    ...     "month": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2),
    ...     "referrals": [9, 4, 4, 3, 2]})
    >>> bt = prospect_backtest(panel, providers, ["F"], cutoff="2024-02-01",
    ...                        horizon_months=1, k=(1,))
    >>> bt[["method", "n_candidates", "n_positive"]].values.tolist()[0]
    ['adamic_adar', 2, 1]
    >>> bt[["precision_at_1", "roc_auc"]].values.tolist()
    [[1.0, 1.0], [0.5, 0.5], [0.5, 0.5]]
    """
    func = "prospect_backtest"
    providers = check_frame(
        providers, "providers", func, ["id"], "read it with referral_graph.io.read_providers."
    )
    ids = check_focus_ids(focus_ids, func)
    horizon = check_int(horizon_months, "horizon_months", func, low=1, high=120)
    threshold_refs = check_int(min_referrals, "min_referrals", func, low=1, high=1000)
    threshold = check_float(loyal_threshold, "loyal_threshold", func, low=0, high=1, low_open=True)
    practice_size = check_int(max_practice_size, "max_practice_size", func, low=2, high=100_000)
    weights = _check_weights(relation_weights, func)
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise ParameterError(
            f"The 'method' parameter of {func} must name at least one method. Got {method!r} "
            "instead."
        )
    method_names = [check_choice(m, "method", func, METHODS) for m in methods]
    if isinstance(k, int | np.integer):
        k = (int(k),)
    ks = [check_int(v, "k", func, low=1, high=10**9) for v in k]
    stamp = _check_cutoff(cutoff, func)
    frame = _panel_months(panel, func)
    cut = stamp.year * 12 + stamp.month - 1
    if frame.empty or int(frame["m"].min()) >= cut:
        raise InsufficientDataError(
            f"{func}: the panel has no month before the cutoff {_month_start(cut).date()}."
        )
    last = int(frame["m"].max())
    if cut + horizon - 1 > last:
        raise InsufficientDataError(
            f"{func}: the horizon {_month_start(cut).date()} .. "
            f"{_month_start(cut + horizon - 1).date()} runs past the panel's last month "
            f"{_month_start(last).date()}; choose an earlier cutoff or a shorter horizon."
        )
    before = frame.loc[frame["m"] < cut]
    after = frame.loc[(frame["m"] >= cut) & (frame["m"] < cut + horizon)]
    ties = _ties_frame(before, None, func)
    net = _build_network(ties, providers, ids, max_practice_size=practice_size, func=func)
    rows = _candidates(net)
    if not len(rows):
        raise InsufficientDataError(f"{func}: no candidate (non-referrer) at the cutoff.")
    future = after.loc[after["target"].isin(ids)].groupby("source")["referrals"].sum()
    y = np.asarray(future.reindex(net.ids[rows]).fillna(0).to_numpy() >= threshold_refs)
    n, pos = len(rows), int(y.sum())
    base = {
        "cutoff": _month_start(cut),
        "horizon_months": horizon,
        "n_candidates": n,
        "n_positive": pos,
        "base_rate": pos / n,
    }
    results: list[dict[str, Any]] = []
    for name in method_names:
        scores = _score(
            net, rows, method=name, weights=weights, loyal_threshold=threshold, find_via=False
        )
        results.append(_metrics(name, y, scores.score, ks))
    results.append(_metrics(VOLUME_BASELINE, y, net.to_comp[rows].astype(np.float64), ks))
    results.append(_metrics(RANDOM_BASELINE, y, None, ks))
    if pos == 0:
        logger.warning("%s: no candidate became a referrer within the horizon", func)
    table = pd.DataFrame([{**row, **base} for row in results])
    columns = ["method", *base, "roc_auc"]
    columns += [f"{m}_at_{v}" for v in ks for m in ("precision", "recall", "lift")]
    table = table[columns]
    table["method"] = table["method"].astype("str")
    table["cutoff"] = table["cutoff"].astype("datetime64[ns]")
    table["n_candidates"] = table["n_candidates"].astype("int64")
    table["n_positive"] = table["n_positive"].astype("int64")
    logger.info(
        "%s: %d candidates, %d hit(s) (base rate %.3f) at %s",
        func,
        n,
        pos,
        pos / n,
        _month_start(cut).date(),
    )
    return table
