"""Sparse-matrix helpers of the score: row sums, kept entries, entries of a product."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from referral_graph.prospects._inputs import BoolArray, FloatArray, IntArray


def _inverse(values: FloatArray) -> FloatArray:
    """``1 / values`` where positive, else 0."""
    values = np.asarray(values, dtype=np.float64)
    return np.divide(1.0, values, out=np.zeros_like(values), where=values > 0)


def _row_sums(matrix: Any) -> FloatArray:
    return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()


def _keep_entries(matrix: Any, keep: BoolArray) -> Any:
    """`matrix` (csr) with only the stored entries where `keep` is True (same shape)."""
    row = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row[keep], minlength=matrix.shape[0]))])
    return sp.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], indptr.astype(matrix.indptr.dtype)),
        shape=matrix.shape,
    )


def _keep_columns(matrix: Any, keep: BoolArray) -> Any:
    """`matrix` (csr) with the entries of the columns not in `keep` dropped (same shape)."""
    matrix = matrix.tocsr()
    return _keep_entries(matrix, keep[matrix.indices])


def _walk_at(left: Any, right: Any, row: IntArray, col: IntArray) -> FloatArray:
    """The entries ``(left @ right)[row, col]`` of a sparse product, summed as scipy sums them.

    scipy's product adds the terms ``left[i, y] * right[y, j]`` from 0 in the
    stored order of row ``i`` of `left`; adding them in that order here gives
    the same floats. `left` and `right` are csr without duplicate entries; an
    entry without any term is 0.
    """
    right = right if right.has_sorted_indices else right.sorted_indices()
    width = right.shape[1]
    keys = np.repeat(np.arange(right.shape[0], dtype=np.int64), np.diff(right.indptr)) * width
    keys += right.indices  # sorted: row by row, by column
    terms = left[row]  # per pair, the row of `left`, in its stored order
    pair = np.repeat(np.arange(len(row)), np.diff(terms.indptr))
    wanted = terms.indices.astype(np.int64) * width + col[pair]
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    hit = keys[at] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    products = terms.data[hit] * right.data[at[hit]]
    return np.bincount(pair[hit], weights=products, minlength=len(row)).astype(np.float64)


def _keep_positions(matrix: Any, keys: IntArray) -> Any:
    """`matrix` (csr) with only its entries at ``row * n_columns + column`` in sorted `keys`."""
    row = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    mine = row * matrix.shape[1] + matrix.indices
    at = np.minimum(np.searchsorted(keys, mine), max(len(keys) - 1, 0))
    keep = keys[at] == mine if len(keys) else np.zeros(len(mine), dtype=bool)
    return _keep_entries(matrix, keep)


def _top_partners(right: Any, lam: FloatArray, count: int) -> tuple[Any, FloatArray]:
    """The `count` entries of each row of `right` with the largest ``right[y, z] * lam[z]``.

    Returns
    -------
    top : scipy.sparse.csr_matrix
        `right` with those entries only.
    ceiling : numpy.ndarray
        Per row, the largest ``right[y, z] * lam[z]`` left out (0 when none is).
    """
    value = right.data * lam[right.indices]
    row = np.repeat(np.arange(right.shape[0]), np.diff(right.indptr))
    order = np.lexsort((-value, row))  # by row, the largest first
    rank = np.arange(len(order)) - right.indptr[row[order]]
    keep = np.zeros(len(value), dtype=bool)
    keep[order[rank < count]] = True
    ceiling = np.zeros(right.shape[0])
    first_out = order[rank == count]
    ceiling[row[first_out]] = value[first_out]
    return _keep_entries(right, keep), ceiling


def _scale_rows(matrix: Any, factor: FloatArray) -> Any:
    """`matrix` (a csr matrix of its own) with row ``i`` multiplied by ``factor[i]``, in place."""
    matrix.data *= np.repeat(factor, np.diff(matrix.indptr))
    return matrix
