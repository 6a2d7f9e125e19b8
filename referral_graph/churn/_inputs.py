"""One cutoff's model inputs: the features as float32, the labels and the rule scores.

:func:`_slice` computes them for the active ties of a cutoff;
:func:`_labelled_slice` keeps those of a labelled cutoff on the
:class:`~referral_graph.churn.PreparedPanel`, so the training, the backtest and
the at-risk list compute each cutoff once. :func:`_training_slices` are the
labelled cutoffs a model that scores a given cutoff is trained on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from referral_graph import _worker
from referral_graph.churn._features import FEATURE_COLUMNS, _features_at, _totals
from referral_graph.churn._labels import _active, _labels_at
from referral_graph.churn._matrix import _TieMatrix
from referral_graph.churn._options import MIN_BASELINE, FloatArray, _Options
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


def _slices_of(prepared: PreparedPanel, keys: Sequence[tuple[int, _Options]]) -> list[_Slice]:
    """:func:`_labelled_slice` of each (cutoff, definitions) of `keys`, those not cached yet
    computed side by side where a core is idle (:func:`referral_graph._worker.side_by_side`)."""
    missing = [key for key in dict.fromkeys(keys) if (key[1], key[0]) not in prepared._slices]
    computed = _worker.side_by_side(
        lambda key: _slice(prepared._ties, key[0], key[1], labels=True), missing
    )
    for (ci, opts), one in zip(missing, computed, strict=True):
        prepared._slices[(opts, ci)] = one
    return [prepared._slices[(opts, ci)] for ci, opts in keys]


#: A model with fewer training cutoffs with the full baseline than this (a short history) also
#: trains on the latest earlier cutoffs with a shorter look-back (:func:`_training_slices`).
MIN_FULL_CUTOFFS = 2
#: ... up to this many training cutoffs in all.
MIN_TRAINING_CUTOFFS = 4


def _lookback_options(opts: _Options, lookback: int) -> _Options:
    """The definitions of a training cutoff with a `lookback`-month baseline.

    The baseline is every month before the cutoff, and the activity threshold is scaled
    to it (``ceil(min_referrals x lookback / baseline_months)``), so that an active tie
    refers at the same monthly rate as at a cutoff with the full baseline.
    """
    scaled = math.ceil(opts.min_referrals * lookback / opts.baseline_months - 1e-9)
    return replace(opts, baseline_months=lookback, min_referrals=max(1, scaled))


def _first_training_cutoff(opts: _Options) -> int:
    """The earliest cutoff a model can train on: :data:`MIN_BASELINE` months of data before
    it (with a shorter look-back than the baseline when the baseline is longer)."""
    return min(MIN_BASELINE, opts.baseline_months)


def _training_cutoffs(ci: int, opts: _Options) -> list[tuple[int, _Options]]:
    """The training cutoffs of a model that scores cutoff `ci`, earliest first, each with
    its definitions.

    Every labelled cutoff ``c`` with the full baseline and ``c + horizon <= ci`` (each
    label observable at `ci`). When fewer than :data:`MIN_FULL_CUTOFFS` are (a short
    history: on 15 months with a 9-month baseline, one), the latest earlier cutoffs are
    added, up to :data:`MIN_TRAINING_CUTOFFS` in all, each with a look-back of every
    month before it (at least :data:`MIN_BASELINE`; :func:`_lookback_options`): the
    features are rates and log ratios, normalised per month, so a tie at such a cutoff
    is described as at the others, and its label is the same rule on its own baseline.
    The cutoff `ci` itself keeps its definitions (which ties are active, their labels).
    """
    h, nb = opts.horizon, opts.baseline_months
    last = ci - h  # the latest training cutoff
    out = [(c, opts) for c in range(nb, last + 1)]
    if len(out) < MIN_FULL_CUTOFFS:
        wanted = MIN_TRAINING_CUTOFFS - len(out)
        shorter = list(range(_first_training_cutoff(opts), min(nb, last + 1)))[-wanted:]
        out = [(c, _lookback_options(opts, c)) for c in shorter] + out
    return out


def _training_slices(prepared: PreparedPanel, ci: int, opts: _Options) -> list[_Slice]:
    """The slices of :func:`_training_cutoffs` (computed side by side when not cached)."""
    return _slices_of(prepared, _training_cutoffs(ci, opts))
