"""PageRank and HITS by sparse power iteration (private).

Public as :func:`referral_graph.centrality.pagerank` and :func:`~referral_graph.centrality.hits`.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as sp_linalg

from referral_graph._checks import check_float, check_int
from referral_graph._compact import CompactGraph, as_compact
from referral_graph.centrality._common import _series
from referral_graph.exceptions import InsufficientDataError

logger = logging.getLogger(__name__)

Distance = Literal["inverse", "hops"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
ObjectArray = npt.NDArray[np.object_]

# --------------------------------------------------------------------------------------
# PageRank and HITS
# --------------------------------------------------------------------------------------


#: PageRank's damping factor by default (networkx's, and the scores' everywhere).
PAGERANK_ALPHA = 0.85
#: The provider measures' convergence: the L1 change, and the iterations of each method.
MEASURES_TOL = 1e-10
PAGERANK_MAX_ITER = 1000
HITS_MAX_ITER = 10_000


def link_scores(
    cg: CompactGraph, *, alpha: float = PAGERANK_ALPHA
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """PageRank, hub and authority of every node of `cg`, as
    :func:`~referral_graph.centrality.provider_measures` computes them (its tolerances)."""
    pagerank = (
        _pagerank_array(cg, alpha, MEASURES_TOL, PAGERANK_MAX_ITER) if cg.n_nodes else np.empty(0)
    )
    hub, authority = _hits_arrays(cg, MEASURES_TOL, HITS_MAX_ITER)
    return pagerank, hub, authority


def _pagerank_array(cg: CompactGraph, alpha: float, tol: float, max_iter: int) -> FloatArray:
    n = cg.n_nodes
    out_strength = np.bincount(cg.src, weights=cg.weight, minlength=n)
    dangling = out_strength == 0
    inv = np.zeros(n)
    np.divide(1.0, out_strength, out=inv, where=~dangling)
    # x_new = alpha * P^T x + ..., with P = D^-1 A row-stochastic: P^T x = A^T (x / out-strength),
    # A^T a view of the adjacency matrix (one matrix of 12 bytes per tie, no transposed copy)
    at = cg.to_csr().T
    x = np.full(n, 1.0 / n)
    err = math.inf
    for iteration in range(1, max_iter + 1):
        last = x
        x = alpha * (at @ (last * inv) + last[dangling].sum() / n) + (1.0 - alpha) / n
        err = float(np.abs(x - last).sum())
        if err < tol:
            logger.info(
                "pagerank: %d providers, %d ties, %d dangling, converged in %d iterations",
                n,
                cg.n_edges,
                int(dangling.sum()),
                iteration,
            )
            return np.asarray(x, dtype=np.float64)
    raise InsufficientDataError(
        f"PageRank did not converge in {max_iter} iterations (L1 change {err:.3g} >= tol "
        f"{tol:g}). Raise 'max_iter' or 'tol'."
    )


def pagerank(
    G: nx.DiGraph | CompactGraph,
    *,
    weight: str | None = "referrals",
    alpha: float = PAGERANK_ALPHA,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> pd.Series:
    """Weighted PageRank of each provider by sparse power iteration.

    A random referral walk follows each tie with probability proportional to
    its weight and, with probability ``1 - alpha``, jumps to a provider chosen
    uniformly. Providers with no outgoing weight (dangling nodes, such as
    hospitals that refer nobody) spread their score uniformly over all
    providers, exactly as ``networkx.pagerank`` does.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph (`weight` is ignored for a CompactGraph).
    weight : str or None, default "referrals"
        Edge attribute used as tie strength.
    alpha : float, default 0.85
        Damping factor, in ``[0, 1)``.
    tol : float, default 1e-10
        Stop when the L1 change between two iterations is below `tol`. Unlike
        networkx this is *not* multiplied by the number of nodes.
    max_iter : int, default 1000
        Iteration budget.

    Returns
    -------
    pandas.Series of float64
        Indexed by provider id in node order, named ``pagerank``, sums to 1.
        Empty for an empty graph.

    Raises
    ------
    ParameterError
        On a bad option or an invalid weight.
    InsufficientDataError
        If the iteration does not converge within `max_iter`.

    Notes
    -----
    Equal to ``networkx.pagerank(G, alpha=alpha, weight=weight, tol=1e-12)`` within
    1e-6 (the networkx default ``tol=1e-6`` is scaled by the number of nodes and is
    much looser).

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("A", "C", {"referrals": 9}), ("B", "C", {"referrals": 1})])
    >>> pagerank(G).round(3).to_dict()
    {'A': 0.213, 'C': 0.574, 'B': 0.213}
    """
    alpha = check_float(
        alpha, "alpha", "pagerank", low=0, high=1, high_open=True, allow_numpy=False
    )
    tol = check_float(
        tol, "tol", "pagerank", low=0, high=1, low_open=True, high_open=True, allow_numpy=False
    )
    max_iter = check_int(max_iter, "max_iter", "pagerank", low=1)
    cg = as_compact(G, weight, "pagerank")
    if cg.n_nodes == 0:
        return _series(cg, [], "pagerank")
    return _series(cg, _pagerank_array(cg, alpha, tol, max_iter), "pagerank")


def _hits_arrays(cg: CompactGraph, tol: float, max_iter: int) -> tuple[FloatArray, FloatArray]:
    n = cg.n_nodes
    if n == 0:
        return np.empty(0), np.empty(0)
    if not (cg.weight > 0).any():
        logger.info("hits: no tie has a positive weight; hubs and authorities are uniform")
        return np.full(n, 1.0 / n), np.full(n, 1.0 / n)
    a_mat = cg.to_csr()
    at_mat = a_mat.T  # a view (CSC): no transposed copy of the matrix
    auth = np.full(n, 1.0 / n)
    err = math.inf
    for iteration in range(1, max_iter + 1):
        new = at_mat @ (a_mat @ auth)
        new /= new.sum()
        err = float(np.abs(new - auth).sum())
        auth = new
        if err < tol:
            hub = a_mat @ auth
            hub /= hub.sum()
            logger.info(
                "hits: %d providers, %d ties, converged in %d iterations",
                n,
                cg.n_edges,
                iteration,
            )
            return np.asarray(hub, dtype=np.float64), np.asarray(auth, dtype=np.float64)
    # Power iteration converges at the rate of the two largest singular values' ratio, which
    # can be nearly 1 (a well-defined but slow case): solve the eigenproblem directly instead.
    logger.info(
        "hits: power iteration not converged in %d iterations (L1 change %.3g); solving the "
        "eigenproblem directly",
        max_iter,
        err,
    )
    return _hits_direct(a_mat, at_mat, tol=tol, start=auth)


def _hits_direct(
    a_mat: sp.csr_array, at_mat: sp.sparray, *, tol: float, start: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Leading eigenvector of ``A^T A`` by a symmetric eigensolver (dense when small)."""
    n = a_mat.shape[0]
    m_mat = (at_mat @ a_mat).tocsr()
    try:
        if n <= 2000:
            _, vectors = np.linalg.eigh(m_mat.toarray())
            auth = np.abs(vectors[:, -1])
        else:
            _, vectors = sp_linalg.eigsh(m_mat, k=1, which="LA", v0=start, tol=tol, maxiter=n * 20)
            auth = np.abs(vectors[:, 0])
    except (np.linalg.LinAlgError, sp_linalg.ArpackNoConvergence) as exc:
        raise InsufficientDataError(
            "HITS did not converge: the two largest singular values of the referral matrix are "
            "(nearly) equal, so hub and authority scores are ill-defined. Raise 'max_iter' or "
            f"'tol'. ({exc})"
        ) from exc
    auth = auth / auth.sum()
    hub = a_mat @ auth
    hub = hub / hub.sum()
    return np.asarray(hub, dtype=np.float64), np.asarray(auth, dtype=np.float64)


def hits(
    G: nx.DiGraph | CompactGraph,
    *,
    weight: str | None = "referrals",
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> tuple[pd.Series, pd.Series]:
    """Hub and authority scores (Kleinberg's HITS) by sparse power iteration.

    An **authority** is a provider who receives referrals from good hubs (the
    destinations that matter: hospitals, sought-after specialists); a **hub**
    is a provider who sends referrals to good authorities (the key referrers
    a liaison wants to keep). With ``A`` the weighted adjacency matrix
    (row = referrer), authorities are the principal eigenvector of ``AᵀA`` and
    hubs are ``A @ authorities``; both are normalised to sum to 1.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph (`weight` is ignored for a CompactGraph).
    weight : str or None, default "referrals"
        Edge attribute used as tie strength.
    tol : float, default 1e-10
        Stop when the L1 change of the authority vector is below `tol`.
    max_iter : int, default 10000
        Iteration budget (each costs two sparse products). When power iteration
        has not converged by then (two nearly equal leading singular values
        make it slow), the leading eigenvector of ``AᵀA`` is computed directly
        (dense up to 2,000 providers, ARPACK above).

    Returns
    -------
    hubs, authorities : pandas.Series of float64
        Indexed by provider id, named ``hub`` and ``authority``. A provider
        who sends nothing has hub score 0; one who receives nothing has
        authority 0. If no tie has positive weight both are uniform.

    Raises
    ------
    ParameterError
        On a bad option or an invalid weight.
    InsufficientDataError
        If the direct eigensolver does not converge either.

    Notes
    -----
    Equal to ``networkx.hits`` (which uses ARPACK and the ``weight`` attribute)
    within 1e-6 when the leading singular value is simple. The power iteration
    starts from the uniform vector, so the result is deterministic even when
    it is not (e.g. two identical disconnected parts).

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("A", "C", {"referrals": 9}), ("B", "C", {"referrals": 1})])
    >>> hubs, authorities = hits(G)
    >>> hubs.round(2).to_dict(), authorities.round(2).to_dict()
    ({'A': 0.9, 'C': 0.0, 'B': 0.1}, {'A': 0.0, 'C': 1.0, 'B': 0.0})
    """
    tol = check_float(
        tol, "tol", "hits", low=0, high=1, low_open=True, high_open=True, allow_numpy=False
    )
    max_iter = check_int(max_iter, "max_iter", "hits", low=1)
    cg = as_compact(G, weight, "hits")
    hub, auth = _hits_arrays(cg, tol, max_iter)
    return _series(cg, hub, "hub"), _series(cg, auth, "authority")
