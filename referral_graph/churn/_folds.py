"""The backtest's test cutoffs as reusable results: their fingerprints and their figures.

A test cutoff of :func:`~referral_graph.churn.backtest` (a *fold*) is a function of
its model inputs (the features, labels and rule scores of its training cutoffs and of
itself), of the backtest's settings and of this package's code. :func:`fingerprint`
digests exactly those; :func:`encode` and :func:`decode` turn a fold's figures into
JSON text and back, so that a later backtest on a grown history (the store's weekly
report: one month more, the earlier test cutoffs unchanged) takes the figures of the
folds whose fingerprint it finds instead of fitting them again. The figures are the
same to the last digit: JSON keeps every float (shortest round-trip ``repr``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referral_graph.churn._options import _Options
from referral_graph.churn._panel import _Slice

#: Bumped when a fold's JSON changes shape (older entries are then not found).
FOLD_FORMAT = 1


@functools.cache
def _code_digest() -> str:
    """The digest of what computes a fold: this package's churn sources and the versions
    of the libraries that fit and score (a changed model or metric never reuses a fold)."""
    import scipy
    import sklearn

    from referral_graph import __version__

    h = hashlib.sha256()
    for part in (
        __version__,
        np.__version__,
        pd.__version__,
        sklearn.__version__,
        scipy.__version__,
    ):
        h.update(part.encode() + b"\0")
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _slice_digest(s: _Slice) -> str:
    """The digest of one cutoff's model inputs (features, labels, rule scores), in row
    order; computed once per slice."""
    if s.digest is None:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(s.x).data)
        if s.y is not None:
            h.update(np.ascontiguousarray(s.y).data)
        for name in sorted(s.rules):
            h.update(name.encode() + b"\0")
            h.update(np.ascontiguousarray(s.rules[name]).data)
        s.digest = h.hexdigest()
    return s.digest


def fingerprint(
    *,
    test: tuple[_Slice, _Options],
    train: Sequence[tuple[_Slice, _Options]],
    month_of: Callable[[int], pd.Timestamp],
    settings: Mapping[str, Any],
) -> str:
    """The fingerprint of one test cutoff: equal fingerprints, equal figures.

    `test` and `train` are the model inputs of the test cutoff and of its training
    cutoffs, each with its churn definitions; `settings` the backtest's arguments
    that shape a fit or a figure (the model's parameters, the sampling, the seed, the
    k of the metrics); `month_of` turns a cutoff's index into its month (a fold is
    placed by its months, not by its index in the history, whose start may move).
    """
    h = hashlib.sha256()
    h.update(f"fold {FOLD_FORMAT} {_code_digest()}\0".encode())
    h.update(json.dumps(settings, sort_keys=True, default=repr).encode() + b"\0")
    for role, (s, opts) in (("test", test), *(("train", t) for t in train)):
        h.update(f"{role} {month_of(s.ci).date()} {opts!r} {_slice_digest(s)}\0".encode())
    return h.hexdigest()


def _number(value: Any) -> Any:
    """A JSON-able number (NaN kept as such: Python's json reads it back)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value) if value is not None else math.nan


def encode(fold: Mapping[str, Any]) -> str:
    """A fold's figures as JSON text (see :func:`decode`)."""
    return json.dumps(
        {
            "counts": {k: _number(v) for k, v in fold["counts"].items()},
            "figures": {
                method: {k: _number(v) for k, v in figures.items()}
                for method, figures in fold["figures"].items()
            },
        }
    )


def decode(text: str) -> dict[str, Any]:
    """The fold :func:`encode` wrote: ``counts`` (``n_train``, ``n_ties``, ``n_churned``,
    ``base_rate``) and ``figures`` (method -> metric -> value), each in the order it was
    written."""
    fold: dict[str, Any] = json.loads(text)
    return fold
