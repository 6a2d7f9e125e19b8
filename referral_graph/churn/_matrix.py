"""The (month x tie) count matrix every churn computation reads, and its window sums.

:class:`_TieMatrix` holds the panel's referrals per tie and month with the tie's
provider, market and organisation codes; :class:`_RowValues` the optional columns
(patients, amounts, waits) per panel row. Both sum months in windows, deriving a
window from the last one of the same length when that is exact (:func:`_slide`).
:func:`_frame` lays out one row per tie at a cutoff, as the public tables do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._codes import EPOCH_MONTH
from referral_graph.churn._options import FloatArray, Int32Array, IntArray, _month_start

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
    # (months, ties): day of the month of the first / last referral (0: none); None when the
    # panel has no days (recency then counted from mid-month)
    first_day: npt.NDArray[np.int8] | None
    last_day: npt.NDArray[np.int8] | None
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
    # (months, ids): whether each provider referred in each month, and the day of the month of
    # its last referral then (0: none; None without days); see _features._referrer_months
    src_active: npt.NDArray[np.bool_] | None = None
    src_last_day: npt.NDArray[np.int8] | None = None

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

    def month_days(self, start: int, stop: int) -> IntArray:
        """Days since 1970-01-01 of the first day of months ``start .. stop - 1`` (row indices)."""
        months = np.arange(start, stop, dtype=np.int64) + self.first_month - EPOCH_MONTH
        return np.asarray(months.astype("datetime64[M]").astype("datetime64[D]").view(np.int64))

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


def _weighted_counts(codes: npt.NDArray[Any], weights: npt.NDArray[Any], n: int) -> FloatArray:
    """``np.bincount`` with weights (float64), typed."""
    return np.asarray(np.bincount(codes, weights=weights, minlength=n), dtype=np.float64)


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
