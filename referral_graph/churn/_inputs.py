"""One cutoff's model inputs: the features as float32, the labels and the rule scores.

:func:`_slice` computes them for the active ties of a cutoff;
:func:`_labelled_slice` keeps those of a labelled cutoff on the
:class:`~referral_graph.churn.PreparedPanel`, so the training, the backtest and
the at-risk list compute each cutoff once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from referral_graph import _worker
from referral_graph.churn._features import FEATURE_COLUMNS, _features_at, _totals
from referral_graph.churn._labels import _active, _labels_at
from referral_graph.churn._matrix import _TieMatrix
from referral_graph.churn._options import FloatArray, _Options
from referral_graph.churn._panel import PreparedPanel, _Slice
from referral_graph.churn._rules import RULES, _rule_scores


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


def _labelled_slice(prepared: PreparedPanel, ci: int, opts: _Options) -> _Slice:
    """The model inputs, labels and rule scores of a labelled cutoff (cached on `prepared`)."""
    key = (opts, ci)
    if key not in prepared._slices:
        prepared._slices[key] = _slice(prepared._ties, ci, opts, labels=True)
    return prepared._slices[key]


def _labelled_slices(prepared: PreparedPanel, cis: Sequence[int], opts: _Options) -> list[_Slice]:
    """:func:`_labelled_slice` of each cutoff of `cis`, those not cached yet computed side by
    side where a core is idle (:func:`referral_graph._worker.side_by_side`)."""
    missing = [ci for ci in dict.fromkeys(cis) if (opts, ci) not in prepared._slices]
    computed = _worker.side_by_side(
        lambda ci: _slice(prepared._ties, ci, opts, labels=True), missing
    )
    for ci, one in zip(missing, computed, strict=True):
        prepared._slices[(opts, ci)] = one
    return [prepared._slices[(opts, ci)] for ci in cis]
