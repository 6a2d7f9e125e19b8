"""Array helpers of the leakage tables: lookups, categorical codes and sums per code."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _lookup(providers: pd.DataFrame, column: str) -> pd.Series:
    """``id -> column`` (stripped strings; blanks are missing); all-missing if absent."""
    ids = providers["id"].astype("str")
    if column not in providers.columns:
        return pd.Series(pd.NA, index=pd.Index(ids.unique(), name="id"), dtype="str")
    values = pd.Series(providers[column].to_numpy(), index=ids).astype("str").str.strip()
    values = values.where(values.str.len() > 0)
    return values[~values.index.duplicated()]


def _member(values: pd.Index | pd.Series, of: pd.Series) -> npt.NDArray[np.bool_]:
    """Whether each value is one of `of` (hash lookups of the distinct values only)."""
    return _codes.codes(values, pd.Index(of.unique())) >= 0


def _categorical(codes: IntArray, labels: pd.Index) -> pd.Categorical:
    """A categorical column from codes into sorted `labels` (-1: missing)."""
    return pd.Categorical.from_codes(codes, categories=labels)


def _codes_of(column: pd.Series) -> IntArray:
    """The category codes of a categorical column (-1: missing)."""
    return np.asarray(column.cat.codes.to_numpy(), dtype=np.int64)


def _labels(column: pd.Series, codes: IntArray) -> pd.Series:
    """The labels of `codes` of a categorical column, as strings (-1: missing)."""
    categories = pd.Series(column.cat.categories, dtype="str")
    return pd.Series(categories.array.take(codes, allow_fill=True))


def _sum_by(
    codes: IntArray, n: int, values: npt.NDArray[Any], *, min_count: int = 0
) -> npt.NDArray[Any]:
    """Sum of `values` per code in ``[0, n)`` (negative codes left out), in their dtype.

    Floats are summed by pandas (compensated summation, missing values
    skipped; NaN for fewer than `min_count` values), so that the sums equal a
    groupby's on the labels.
    """
    ok = codes >= 0
    if values.dtype.kind == "f":
        sums = pd.Series(values[ok]).groupby(codes[ok], sort=False).sum(min_count=min_count)
        out = np.zeros(n) if min_count == 0 else np.full(n, np.nan)
        out[sums.index.to_numpy()] = sums.to_numpy()
        return out
    weights = values[ok].astype(np.float64)
    counts = np.bincount(codes[ok], weights=weights, minlength=n).astype(np.float64)
    return np.rint(counts).astype(np.int64 if values.dtype.kind == "b" else values.dtype)


def _distinct_by(codes: IntArray, n: int, other: IntArray) -> IntArray:
    """Number of distinct `other` codes per code in ``[0, n)`` (negative codes left out)."""
    ok = (codes >= 0) & (other >= 0)
    width = int(other[ok].max()) + 1 if bool(ok.any()) else 1
    pairs = pd.unique(codes[ok] * width + other[ok])
    return np.bincount(pairs // width, minlength=n).astype(np.int64)


def _top_by(
    group: IntArray, n_groups: int, label: IntArray, value: npt.NDArray[Any]
) -> tuple[IntArray, FloatArray]:
    """Per group, the `label` with the largest summed `value` > 0 and that sum.

    Ties go to the smallest label code (labels are sorted: the first by name);
    -1 and 0 for a group without a positive sum.
    """
    best = np.full(n_groups, -1, dtype=np.int64)
    best_sum = np.zeros(n_groups)
    ok = (group >= 0) & (label >= 0)
    if not bool(ok.any()):
        return best, best_sum
    width = int(label[ok].max()) + 1
    codes, pairs = pd.factorize(group[ok] * width + label[ok])
    sums = _sum_by(codes, len(pairs), value[ok]).astype(np.float64)
    positive = sums > 0
    g, lab, s = pairs[positive] // width, pairs[positive] % width, sums[positive]
    order = np.lexsort((lab, -s, g))
    first = order[np.r_[True, g[order][1:] != g[order][:-1]]] if len(order) else order
    best[g[first]] = lab[first]
    best_sum[g[first]] = s[first]
    return best, best_sum


def _group_total(keys: IntArray, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """For each row, the sum of `values` over the rows with the same key (in their dtype)."""
    codes, uniques = pd.factorize(keys)
    return _sum_by(codes, len(uniques), values)[codes]
