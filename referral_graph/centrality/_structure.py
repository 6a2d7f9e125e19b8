"""Structural measures: k-core numbers, Burt's structural holes, care density (private)."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from referral_graph._compact import CompactGraph

logger = logging.getLogger(__name__)

Distance = Literal["inverse", "hops"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
ObjectArray = npt.NDArray[np.object_]


def _core_number(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """k-core number of each node of the simple undirected graph with ties ``a[i] - b[i]``.

    The ties must be distinct and loop-free (:func:`_undirected`). Peeled level by level:
    at level ``k`` the remaining nodes of degree ``<= k`` are removed, in rounds, until
    none is left; they have core number ``k`` (the result of igraph's ``coreness``, without
    building an igraph graph).
    """
    adjacency = sp.csr_array(
        (np.ones(2 * len(a), dtype=np.int8), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(n, n),
    )
    indptr, neighbours = adjacency.indptr.astype(np.int64), adjacency.indices
    degree = np.diff(indptr)
    core = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    level, left = 0, n
    while left:
        level = max(level, int(degree[alive].min()))
        peel = np.flatnonzero(alive & (degree <= level))
        while peel.size:
            core[peel] = level
            alive[peel] = False
            left -= peel.size
            lengths = indptr[peel + 1] - indptr[peel]
            starts = np.repeat(indptr[peel + 1] - np.cumsum(lengths), lengths)
            hit = neighbours[starts + np.arange(int(lengths.sum()))]
            touched, times = np.unique(hit[alive[hit]], return_counts=True)
            degree[touched] -= times
            peel = touched[degree[touched] <= level]
    return core


# --------------------------------------------------------------------------------------
# Ego-network measures (sparse algebra on the undirected projection)
# --------------------------------------------------------------------------------------


def _symmetric(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], w: FloatArray
) -> tuple[sp.csr_array, sp.csr_array]:
    """Symmetric weight matrix and 0/1 neighbour pattern from loop-free undirected ties."""
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    weights = sp.csr_array((np.concatenate([w, w]), (rows, cols)), shape=(n, n))
    pattern = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return weights, pattern


def _row_scale(matrix: sp.csr_array, denom: FloatArray) -> sp.csr_array:
    inv = np.zeros_like(denom)
    np.divide(1.0, denom, out=inv, where=denom != 0)
    return sp.csr_array(sp.diags_array(inv) @ matrix)


def _structural_holes(cg: CompactGraph) -> tuple[FloatArray, FloatArray]:
    """Burt's constraint and effective size, equal to networkx's weighted versions.

    With ``W`` the symmetric weights, ``P = W / rowsum(W)`` and ``M = W / rowmax(W)``:
    ``constraint(u) = Σ_{v ∈ N(u)} (P[u,v] + (P P)[u,v])²`` and
    ``effective_size(u) = Σ_{v ∈ N(u)} (1 - (P Mᵀ)[u,v])``; NaN for isolated nodes.
    """
    n = cg.n_nodes
    if n == 0:
        return np.empty(0), np.empty(0)
    a, b, w = cg.undirected_edges(self_loops=False)
    weights, pattern = _symmetric(n, a, b, w)
    degree = np.diff(pattern.indptr).astype(np.float64)
    p = _row_scale(weights, np.asarray(weights.sum(axis=1), dtype=np.float64))
    row_max = np.asarray(weights.max(axis=1).toarray(), dtype=np.float64).ravel()
    m = _row_scale(weights, row_max)
    local = sp.csr_array((p + p @ p).multiply(pattern))
    constraint = np.asarray(local.power(2).sum(axis=1), dtype=np.float64)
    redundancy = np.asarray(sp.csr_array((p @ m.T).multiply(pattern)).sum(axis=1))
    effective = degree - redundancy
    isolated = degree == 0
    constraint[isolated] = np.nan
    effective[isolated] = np.nan
    return constraint, np.asarray(effective, dtype=np.float64)


def _care_density(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], w: FloatArray
) -> FloatArray:
    """Ego-team care density ``(s_i + T_i) / C(k_i + 1, 2)`` (NaN when ``k_i = 0``)."""
    if n == 0:
        return np.empty(0)
    weights, pattern = _symmetric(n, a, b, w)
    k = np.diff(pattern.indptr).astype(np.float64)
    s = np.asarray(weights.sum(axis=1), dtype=np.float64)
    # Σ over ordered pairs of neighbours (x, y) of W[x, y] = 2 * T_i.
    twice_t = np.asarray(sp.csr_array((pattern @ weights).multiply(pattern)).sum(axis=1))
    pairs = k * (k + 1) / 2
    out = np.full(n, np.nan)
    np.divide(s + twice_t / 2, pairs, out=out, where=pairs > 0)
    return out
