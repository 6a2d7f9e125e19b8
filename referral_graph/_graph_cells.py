"""Private: the cells of a graph's tables and attribute dicts, as the graph files write
them (native Python values), and their small-cell suppression (:class:`Suppressor`: the
counts from 1 to ``threshold - 1``, the counts hidden elsewhere by complementary
suppression, and what derives from either), for :mod:`referral_graph.graph`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph.exceptions import ParameterError
from referral_graph.privacy import DERIVED_FROM, is_count_name, small_cells

__all__ = [
    "NUMBER_TYPES",
    "Suppressor",
    "blank",
    "column_values",
    "hidden_ties",
    "hide_ties",
    "native",
]


def native(value: Any) -> Any:
    """`value` as a Python value (a NumPy scalar's item, a timestamp's ISO date)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value


def column_values(col: pd.Series) -> tuple[list[Any], bool]:
    """A column as a list of native Python values (None where missing); and whether any is."""
    missing = col.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(col):
        # Few distinct dates: format each once and share the strings (time and memory).
        codes, uniques = pd.factorize(col.to_numpy(dtype="datetime64[ns]"))
        text = np.array([*np.datetime_as_string(uniques, unit="D").tolist(), None], dtype=object)
        return text[codes].tolist(), bool(missing.any())  # code -1 (missing) -> None
    values: np.ndarray
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_integer_dtype(col):
        if missing.any():
            values = col.astype(object).to_numpy()
        else:
            values = col.to_numpy(dtype="int64" if pd.api.types.is_integer_dtype(col) else bool)
    elif pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = col.to_numpy(dtype=object)
    out = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            out[i] = None
    plain = values.dtype != object or isinstance(col.dtype, pd.StringDtype)  # str or None
    return out if plain else [native(v) for v in out], bool(missing.any())


# the value types a count attribute holds (bool, a subclass of int, is not one of them)
NUMBER_TYPES = frozenset(
    {int, float, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
     np.uint64, np.float32, np.float64}
)  # fmt: skip


class Suppressor:
    """Drops from an attribute dict the counts from 1 to threshold - 1 and what derives from them.

    Counts what it dropped; whether a name is a count is decided once per name.
    """

    def __init__(self, threshold: int) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ParameterError(
                f"The 'threshold' parameter must be an int >= 1. Got {threshold!r} instead."
            )
        self.threshold = threshold
        self.counts = self.derived = self.complementary = 0
        self._seen: set[str] = set()  # every key met, and among them the counts:
        self._count_keys: list[str] = []

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        if not self._seen.issuperset(data):  # a key not met before: is it a count?
            for k in data.keys() - self._seen:
                self._seen.add(k)
                if is_count_name(k):
                    self._count_keys.append(k)
        hidden = [
            k
            for k in self._count_keys
            if self.threshold > 1
            and type(v := data.get(k)) in NUMBER_TYPES
            and 0 < v < self.threshold  # type: ignore[operator]  # a number, as just checked
        ]
        if not hidden:
            return data
        gone = set(hidden)
        derived = {k for k in data if k in DERIVED_FROM and not gone.isdisjoint(DERIVED_FROM[k])}
        derived -= gone
        self.counts += len(gone)
        self.derived += len(derived)
        kept = {k: v for k, v in data.items() if k not in gone and k not in derived}
        # said on the element itself: a weighted analysis must not read the gap as a weight
        kept["small_cell"] = True
        return kept

    def columns(self, frame: pd.DataFrame, values: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """What calling this on every row of a table does, one column at a time.

        `values` holds `frame`'s columns as lists of native values, None where
        missing (an element's attributes are its row's values that are not None,
        in column order); they are changed in place and returned, with a
        ``small_cell`` column (True on the rows that lost a count, else None) last.
        The table must not have a ``small_cell`` column of its own.
        """
        hidden, small_cell = self.masks(frame, values)
        for k, mask in hidden.items():
            blank(values[k], mask)
        if small_cell is not None:
            values["small_cell"] = [True if x else None for x in small_cell.tolist()]
        return values

    def masks(
        self,
        frame: pd.DataFrame,
        values: Mapping[str, Sequence[Any] | None],
        *,
        also: Mapping[str, npt.NDArray[np.bool_]] | None = None,
    ) -> tuple[dict[str, npt.NDArray[np.bool_]], npt.NDArray[np.bool_] | None]:
        """The cells of `frame` to leave out, by column, and the rows that lost a count.

        What :meth:`columns` blanks, counted alike. `values` names the columns (in
        order); a count column that is not numeric is checked value by value in its
        list of native values there (None where missing). `also`: count cells to
        leave out besides the small ones (hidden by complementary suppression
        elsewhere), counted in ``complementary``. No rows lost a count: None.
        """
        n = len(frame)
        self._seen.update(values)
        small: dict[str, npt.NDArray[np.bool_]] = {}
        for k, column in values.items():
            if not is_count_name(k):
                continue
            if k not in self._count_keys:
                self._count_keys.append(k)
            series = frame[k]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                number = series.to_numpy(dtype="float64", na_value=np.nan)
                mask = small_cells(number, threshold=self.threshold)
            else:  # values of several types: as the element's check does, one by one
                if column is None:
                    column = column_values(series)[0]
                limit = self.threshold
                mask = np.fromiter(
                    (type(v) in NUMBER_TYPES and 0 < v < limit for v in column),
                    dtype=bool,
                    count=n,
                )
            if mask.any():
                small[k] = mask
        self.counts += sum(int(mask.sum()) for mask in small.values())
        for k, rows in (also or {}).items():
            if k not in values or not is_count_name(k):
                continue
            extra = rows & frame[k].notna().to_numpy()
            if k in small:
                extra &= ~small[k]
            if extra.any():
                self.complementary += int(extra.sum())
                small[k] = small[k] | extra if k in small else extra
        if not small:
            return {}, None
        any_small = np.logical_or.reduce(list(small.values()))
        hidden = dict(small)
        for k in values:
            sources = [small[c] for c in DERIVED_FROM.get(k, ()) if c in small]
            if not sources:
                continue
            present = ~frame[k].isna().to_numpy()
            if k in small:  # itself a count, left out as one where small
                present &= ~small[k]
            mask = np.logical_or.reduce(sources) & present
            self.derived += int(mask.sum())
            hidden[k] = hidden[k] | mask if k in hidden else mask
        return hidden, any_small

    def record(self) -> dict[str, int]:
        return {
            "suppression_threshold": self.threshold,
            "suppressed_counts": self.counts,
            "suppressed_derived": self.derived,
        }


def blank(column: list[Any], mask: npt.NDArray[np.bool_]) -> None:
    for i in np.flatnonzero(mask).tolist():
        column[i] = None


def hidden_ties(
    ties: pd.DataFrame, hide: Mapping[str, pd.Series] | None
) -> dict[str, npt.NDArray[np.bool_]] | None:
    """`hide` as boolean arrays on the rows of `ties`, for its count columns that it
    hides any of; None without `hide`."""
    if hide is None:
        return None
    hidden = {}
    for col, mask in hide.items():
        if col not in ties.columns or not is_count_name(col):
            continue
        rows = mask.reindex(ties.index, fill_value=False).to_numpy(dtype=bool)
        if rows.any():
            hidden[str(col)] = rows
    return hidden


def hide_ties(
    G: nx.DiGraph, ties: pd.DataFrame, hidden: Mapping[str, npt.NDArray[np.bool_]]
) -> None:
    """Leave out of `G`'s edges (those of `ties`, suppressed already) the counts `hidden`
    marks on the rows of `ties`, with what derives from them (:class:`Suppressor`)."""
    sources = ties["source"].astype("str").to_numpy()
    targets = ties["target"].astype("str").to_numpy()
    complementary = derived = 0
    for col, rows in hidden.items():
        for at in np.flatnonzero(rows).tolist():
            data = G.edges[sources[at], targets[at]]
            if data.pop(col, None) is None:
                continue  # small, or hidden by another row of the same tie
            complementary += 1
            for k in [k for k in data if col in DERIVED_FROM.get(k, ())]:
                del data[k]
                derived += 1
            data["small_cell"] = True
    G.graph["suppressed_derived"] = G.graph.get("suppressed_derived", 0) + derived
    G.graph["suppressed_complementary"] = complementary
