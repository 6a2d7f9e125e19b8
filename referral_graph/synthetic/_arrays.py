"""Array helpers of the synthetic market generator (private).

Sums by index (:func:`wsum`), integer draws in a window (:func:`window`) and
Arrow string columns made without Python loops (:func:`digits_to_arrow`,
:func:`take`, :func:`arrow_to_series`), shared by the generator's steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def window(rng: np.random.Generator, low: int, high: int, size: int) -> IntArray:
    high = max(high, low)
    return np.asarray(rng.integers(low, high + 1, size), dtype=np.int64)


def wsum(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """Sum `weights` by `index` into `n` bins."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)


def take(values: pa.Array, index: npt.NDArray[np.integer[Any]]) -> pd.Series:
    return arrow_to_series(pc.take(values, pa.array(index, from_pandas=False)))


def digits_to_arrow(
    numbers: npt.NDArray[np.signedinteger[Any]], width: int, prefix: bytes = b""
) -> pa.Array:
    """Format non-negative integers as zero-padded strings, without Python loops."""
    n = len(numbers)
    length = len(prefix) + width
    buf = np.empty((n, length), dtype=np.uint8)
    if prefix:
        buf[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    rest = numbers.astype(np.int64, copy=True)
    digit = np.empty(n, dtype=np.int64)
    for j in range(length - 1, len(prefix) - 1, -1):
        np.remainder(rest, 10, out=digit)
        buf[:, j] = digit
        rest //= 10
    buf[:, len(prefix) :] += 48
    del rest, digit
    large = n * length >= 2**31 - 1
    offsets = np.arange(0, (n + 1) * length, length, dtype=np.int64 if large else np.int32)
    array_type = pa.LargeStringArray if large else pa.StringArray
    return array_type.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1)))


def arrow_to_series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return series
