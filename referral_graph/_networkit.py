"""networkit's parallel Leiden on the undirected projection (private; the ``scale`` extra).

networkit (Staudt, Sazonovs & Meyerhenke 2016) is an optional dependency: install it
with :data:`INSTALL_HINT`. :func:`networkit_leiden` hands it the undirected ties as a
CSR matrix (no Python loop over ties) and runs its ``ParallelLeiden`` (Nguyen et al.,
a parallel implementation of Traag, Waltman & van Eck 2019) optimising modularity.

networkit's random number generators and thread count are process-global: runs are
serialised by a lock, and the thread count is restored after each run.
"""

from __future__ import annotations

import importlib.util
import logging
import random
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

logger = logging.getLogger("referral_graph.communities")

#: The command that installs networkit, named in the log when it is missing.
INSTALL_HINT = 'pip install "referral_graph[scale]" (networkit >= 11)'

#: Leiden passes of networkit's ``ParallelLeiden`` (its default). Each pass restarts from
#: singletons with a new random order and keeps a better partition; a first pass alone is
#: far from done (0.18 against 0.29 on a planted partition) and a pass rarely leaves the
#: partition unchanged, so "until nothing changes" runs to any cap. Measured on
#: synthetic graphs of 50,000 to 2,000,000 ties: 3 passes are within 0.25 % of igraph's
#: Leiden iterated to convergence (docs/methodology.md).
PASSES = 3

_LOCK = threading.Lock()


def networkit_available() -> bool:
    """Whether networkit can be imported (without importing it).

    Examples
    --------
    >>> isinstance(networkit_available(), bool)
    True
    """
    return importlib.util.find_spec("networkit") is not None


def networkit_leiden(
    n: int,
    ties: list[npt.NDArray[Any]],
    *,
    resolution: float,
    seed: int | None,
    threads: int,
) -> npt.NDArray[np.int64]:
    """Community of each of `n` nodes by networkit's ``ParallelLeiden`` (modularity).

    Parameters
    ----------
    n : int
        Number of nodes.
    ties : list of numpy.ndarray
        ``[a, b, w]``: the undirected ties ``a[i] - b[i]``, ``a <= b``, sorted by
        ``(a, b)`` and distinct (:meth:`CompactGraph.undirected_edges`), self-loops
        allowed, of positive weight ``w[i]``. The list is emptied (its arrays freed
        once networkit has its graph).
    resolution : float
        Modularity resolution ``γ`` (networkit's ``gamma``, the same definition).
    seed : int or None
        Seed of networkit's generators (``None``: a fresh random seed).
    threads : int
        Threads networkit uses. One thread is reproducible with `seed`; with more,
        threads race and the partition can differ from run to run.

    Returns
    -------
    numpy.ndarray of int64
        A community id per node (arbitrary ids).

    Examples
    --------
    >>> import numpy as np
    >>> ties = [np.array([0, 0, 1, 3, 3, 4]), np.array([1, 2, 2, 4, 5, 5]), np.ones(6)]
    >>> labels = networkit_leiden(6, ties, resolution=1.0, seed=0, threads=1)  # doctest: +SKIP
    >>> len(set(labels[:3])), len(set(labels[3:])), labels[0] != labels[3]  # doctest: +SKIP
    (1, 1, True)
    """
    import networkit as nk

    # Rows sorted by a: one CSR row per node, each stored pair one undirected tie
    # (networkit stores it from both ends; a self-loop counts twice in the degree).
    a, b, w = ties
    ties.clear()
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    del a
    matrix = sp.csr_array((w, b.astype(np.int64, copy=False), indptr), shape=(n, n))
    del b, w, indptr
    graph = nk.GraphFromCsr(matrix, directed=False, weighted=True)
    del matrix
    if seed is None:
        seed = random.SystemRandom().randrange(2**63)
    with _LOCK:
        before = nk.engineering.getMaxNumberOfThreads()
        nk.engineering.setNumberOfThreads(threads)
        nk.engineering.setSeed(seed, False)
        try:
            algorithm = nk.community.ParallelLeiden(
                graph, randomize=True, iterations=PASSES, gamma=resolution
            )
            algorithm.run()
        finally:
            nk.engineering.setNumberOfThreads(before)
    membership = np.asarray(algorithm.getPartition().getVector(), dtype=np.int64)
    logger.debug(
        "networkit leiden: %d threads, %d communities", threads, len(np.unique(membership))
    )
    return membership
