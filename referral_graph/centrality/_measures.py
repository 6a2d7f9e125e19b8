"""All provider measures in one table (private).

:func:`provider_measures` on any graph, and :func:`compact_measures` (the measures
that scale to national graphs, public as :func:`referral_graph.scale.compact_measures`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._checks import check_choice, check_float, check_int
from referral_graph._compact import CompactGraph, _networkx_edge_arrays, _undirected, as_compact
from referral_graph.centrality import _common
from referral_graph.centrality._paths import (
    _betweenness_arrays,
    _harmonic_closeness,
    _igraph_directed,
)
from referral_graph.centrality._spectral import (
    HITS_MAX_ITER,
    MEASURES_TOL,
    PAGERANK_ALPHA,
    PAGERANK_MAX_ITER,
    _hits_arrays,
    _pagerank_array,
    link_scores,
)
from referral_graph.centrality._structure import _care_density, _core_number, _structural_holes
from referral_graph.exceptions import ParameterError

logger = logging.getLogger(__name__)

Distance = Literal["inverse", "hops"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
ObjectArray = npt.NDArray[np.object_]

# --------------------------------------------------------------------------------------
# The provider table
# --------------------------------------------------------------------------------------


def _resolve_auto(option: Any, name: str, n: int) -> bool:
    check_choice(option, name, "provider_measures", [True, False, "auto"])
    return n <= _common.AUTO_EXACT_LIMIT if option == "auto" else bool(option)


def _betweenness_sources(betweenness_k: int | Literal["auto"] | None, n: int) -> int | None:
    """Sources :func:`provider_measures` samples for betweenness among `n` providers.

    ``None`` means exact (every provider a source), ``0`` not computed.

    Examples
    --------
    >>> _betweenness_sources("auto", 1_000), _betweenness_sources("auto", 300_000)
    (None, 256)
    """
    func = "provider_measures"
    if isinstance(betweenness_k, str):
        check_choice(betweenness_k, "betweenness_k", func, ["auto"])
        return None if n <= _common.AUTO_EXACT_LIMIT else _common.AUTO_SAMPLE_SOURCES
    if betweenness_k is None:
        return None
    if betweenness_k == 0 and not isinstance(betweenness_k, bool):
        return 0
    return check_int(betweenness_k, "betweenness_k", func, low=2)


def _betweenness_columns(
    cg: CompactGraph,
    *,
    k: int | None,
    seed: int | None = 0,
    distance: Distance = "inverse",
) -> tuple[FloatArray, FloatArray]:
    """The ``betweenness`` and ``betweenness_stderr`` columns of :func:`provider_measures`.

    For a caller that computes them apart (in a worker process, say) after
    ``provider_measures(G, betweenness_k=0)``; `k` is
    :func:`_betweenness_sources` of the ``betweenness_k`` option.

    Examples
    --------
    >>> cg = CompactGraph.from_edges(["A", "B"], ["B", "C"], [2, 5])
    >>> value, stderr = _betweenness_columns(cg, k=None)
    >>> value.tolist(), stderr.tolist()
    ([0.0, 0.5, 0.0], [0.0, 0.0, 0.0])
    """
    check_choice(distance, "distance", "_betweenness_columns", ["inverse", "hops"])
    value, stderr, _ = _betweenness_arrays(cg, k=k, seed=seed, normalized=True, distance=distance)
    return value, stderr


def provider_measures(
    G: nx.DiGraph | CompactGraph,
    *,
    weight: str | None = "referrals",
    alpha: float = PAGERANK_ALPHA,
    betweenness_k: int | Literal["auto"] | None = "auto",
    seed: int | None = 0,
    distance: Distance = "inverse",
    closeness: bool | Literal["auto"] = "auto",
    structural_holes: bool | Literal["auto"] = "auto",
    patient_weight: str | None = "patients",
    care_density: bool | Literal["auto"] = "auto",
    panel_attr: str | None = "patients",
) -> pd.DataFrame:
    """One row per provider with the standard network measures.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph. Patient-sharing measures need a networkx graph.
    weight : str or None, default "referrals"
        Edge attribute used as tie strength.
    alpha : float, default 0.85
        PageRank damping factor.
    betweenness_k : int, "auto" or None, default "auto"
        Sources sampled for betweenness; ``None`` = exact; ``"auto"`` = exact up to
        `AUTO_EXACT_LIMIT` (5,000) providers, else `AUTO_SAMPLE_SOURCES` (256);
        ``0`` = not computed (both betweenness columns NaN: to compute them
        elsewhere).
    seed : int or None, default 0
        Seed of the betweenness sample.
    distance : {"inverse", "hops"}, default "inverse"
        Tie length for betweenness and harmonic closeness (see :func:`betweenness`).
    closeness : bool or "auto", default "auto"
        Compute harmonic closeness (``"auto"``: up to 5,000 providers; else NA, logged).
    structural_holes : bool or "auto", default "auto"
        Compute Burt's constraint and effective size (``"auto"``: up to 5,000 providers).
    patient_weight : str or None, default "patients"
        Edge attribute with distinct patients per tie. When some edge carries it
        (and `G` is a networkx graph) the patient-sharing columns are added; an
        edge without it counts 0 patients.
    panel_attr : str or None, default "patients"
        Node attribute holding each provider's own distinct patients, for
        ``sharing_degree_per_100``.
    care_density : bool or "auto", default "auto"
        Compute the ego-team care density (``"auto"``: up to 5,000 providers).

    Returns
    -------
    pandas.DataFrame
        One row per provider in node order, default ``RangeIndex``:

        ============================== ========= ================================================
        column                         dtype     meaning
        ============================== ========= ================================================
        ``id``                         string    provider id (``object`` if ids are not all str)
        ``in_degree``, ``out_degree``  int64     number of ties received / sent
        ``in_strength``                float64   total weight received (referrals in)
        ``out_strength``               float64   total weight sent (referrals out)
        ``pagerank``                   float64   :func:`pagerank`
        ``hub``, ``authority``         float64   :func:`hits`
        ``betweenness``                float64   :func:`betweenness`, normalised
        ``betweenness_stderr``         float64   its standard error (0 when exact)
        ``harmonic_closeness``         Float64   mean over the other providers of
                                                 1 / (path length *to* this provider);
                                                 NA when not computed
        ``core_number``                int64     k-core number, undirected unweighted projection
        ``constraint``                 Float64   Burt's constraint, undirected weighted projection
        ``effective_size``             Float64   Burt's effective size, same projection
        ``patient_sharing_degree``     int64     providers sharing >= 1 patient with this one
        ``patients_shared``            float64   patients summed over those ties
        ``care_density``               Float64   ego-team care density (see Notes)
        ``sharing_degree_per_100``     Float64   ``patient_sharing_degree`` per 100 of the
                                                 provider's own patients (Landon et al. 2012)
        ============================== ========= ================================================

        The last four appear only when ties carry `patient_weight`; the last one
        also needs the providers' own distinct patients as the node attribute
        `panel_attr` (set by :func:`referral_graph.pipeline.load_network` from
        events with patient ids). Node
        attributes are not copied: join on ``id`` with the providers table.

    Raises
    ------
    ParameterError
        On a bad option or an invalid weight.
    InsufficientDataError
        If PageRank or HITS does not converge.

    Notes
    -----
    *Projections.* ``core_number`` uses the undirected simple graph (a tie in
    either direction is one neighbour; self-loops dropped). ``constraint`` and
    ``effective_size`` follow ``networkx.constraint`` / ``networkx.effective_size``
    on the undirected graph whose weight is the sum of both directions; they are
    NA for providers without ties. (For weighted graphs networkx 3.6 computes
    ``effective_size`` with ``nodes=None`` by a vectorised path that normalises by
    the wrong axis, networkx PR #8906; we match its per-node path, Burt's formula:
    ``networkx.effective_size(G, nodes=list(G), weight=...)``.) Both are computed
    with sparse matrix products whose cost grows with the number of two-step
    paths, hence the ``"auto"`` size limit.

    *Care density* (Pollack et al. 2013, J Gen Intern Med 28:459,
    doi:10.1007/s11606-012-2104-7) is defined per **patient**: for the set of
    ``n_p`` providers a patient saw, the sum over the ``n_p (n_p - 1) / 2``
    provider pairs of the number of patients each pair shares, divided by the
    number of pairs. Without patient-level provider sets we compute a
    provider-level analogue that treats the provider's ego network (itself plus
    its ``k`` patient-sharing neighbours) as the care team:
    ``care_density = (s + T) / (k (k + 1) / 2)``, where ``s`` is ``patients_shared``
    (pairs with the provider) and ``T`` sums the patients shared between pairs
    of its neighbours. Limits: the ego network is the union of many patients'
    teams, so it is larger and sparser than any single patient's team; counts
    of ``u -> v`` and ``v -> u`` are added, so a patient seen in both orders is
    counted twice; public files drop small ties (CMS < 11 patients), which
    lowers ``k`` and raises the density. The simpler mean tie strength is
    ``patients_shared / patient_sharing_degree``.

    The table holds raw counts: apply :func:`referral_graph.privacy.suppress_frame`
    before showing or exporting it.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("A", "D", referrals=30, patients=20)
    >>> G.add_edge("B", "D", referrals=10, patients=8)
    >>> table = provider_measures(G)
    >>> table[["id", "in_degree", "out_strength"]].to_dict("list")
    {'id': ['A', 'D', 'B'], 'in_degree': [0, 2, 0], 'out_strength': [30.0, 0.0, 10.0]}
    >>> table["patients_shared"].tolist()
    [20.0, 28.0, 8.0]
    """
    func = "provider_measures"
    alpha = check_float(alpha, "alpha", func, low=0, high=1, high_open=True, allow_numpy=False)
    check_choice(distance, "distance", func, ["inverse", "hops"])
    cg = as_compact(G, weight, func)
    n = cg.n_nodes
    started = time.perf_counter()
    k = _betweenness_sources(betweenness_k, n)
    if seed is not None:
        seed = check_int(seed, "seed", func, low=0)
    do_closeness = _resolve_auto(closeness, "closeness", n)
    do_holes = _resolve_auto(structural_holes, "structural_holes", n)
    do_care = _resolve_auto(care_density, "care_density", n)

    table: dict[str, Any] = {"id": cg.index().array}
    table["in_degree"] = np.bincount(cg.dst, minlength=n).astype(np.int64)
    table["out_degree"] = np.bincount(cg.src, minlength=n).astype(np.int64)
    table["in_strength"] = np.bincount(cg.dst, weights=cg.weight, minlength=n).astype(np.float64)
    table["out_strength"] = np.bincount(cg.src, weights=cg.weight, minlength=n).astype(np.float64)
    table["pagerank"], table["hub"], table["authority"] = link_scores(cg, alpha=alpha)
    # one graph for every path measure
    directed = _igraph_directed(cg, distance) if k != 0 or do_closeness else None
    if k == 0:
        logger.info("provider_measures: betweenness not computed (betweenness_k=0)")
        table["betweenness"] = np.full(n, np.nan)
        table["betweenness_stderr"] = np.full(n, np.nan)
    else:
        btw, stderr, _ = _betweenness_arrays(
            cg, k=k, seed=seed, normalized=True, distance=distance, directed=directed
        )
        table["betweenness"] = btw
        table["betweenness_stderr"] = stderr
    if do_closeness:
        assert directed is not None
        table["harmonic_closeness"] = pd.array(_harmonic_closeness(cg, directed), dtype="Float64")
    else:
        logger.info("provider_measures: harmonic closeness skipped (%d providers)", n)
        table["harmonic_closeness"] = pd.array([pd.NA] * n, dtype="Float64")
    del directed  # the igraph graph is not needed any more
    # the undirected loop-free pairs once: the core numbers and a CompactGraph's patient ties
    shared = (
        [cg.edge_attrs[patient_weight]]
        if patient_weight is not None and _has_patients(G, patient_weight)
        else []
    )
    pairs = _undirected(cg, shared, self_loops=False)
    table["core_number"] = _core_number(n, pairs[0], pairs[1])
    if do_holes:
        constraint, effective = _structural_holes(cg)
        table["constraint"] = pd.array(constraint, dtype="Float64")
        table["effective_size"] = pd.array(effective, dtype="Float64")
    else:
        logger.info("provider_measures: structural holes skipped (%d providers)", n)
        table["constraint"] = pd.array([pd.NA] * n, dtype="Float64")
        table["effective_size"] = pd.array([pd.NA] * n, dtype="Float64")
    patients = _patient_ties(G, cg, patient_weight, pairs)
    if patients is not None:
        a, b, w = patients
        table["patient_sharing_degree"] = (
            np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
        ).astype(np.int64)
        table["patients_shared"] = (
            np.bincount(a, weights=w, minlength=n) + np.bincount(b, weights=w, minlength=n)
        ).astype(np.float64)
        if do_care:
            table["care_density"] = pd.array(_care_density(n, a, b, w), dtype="Float64")
        else:
            logger.info("provider_measures: care density skipped (%d providers)", n)
            table["care_density"] = pd.array([pd.NA] * n, dtype="Float64")
        own: list[Any] | npt.NDArray[Any] | None = None
        if panel_attr is not None and isinstance(G, nx.DiGraph):
            own = [G.nodes[i].get(panel_attr) for i in cg.ids]
        elif panel_attr is not None and panel_attr in cg.node_attrs:
            own = cg.node_attrs[panel_attr]
        if own is not None:
            panel = pd.to_numeric(pd.Series(own, dtype="object"), errors="coerce").to_numpy(
                dtype=np.float64
            )
            if np.isfinite(panel).any():
                with np.errstate(divide="ignore", invalid="ignore"):
                    per_100 = np.where(
                        panel > 0, 100.0 * table["patient_sharing_degree"] / panel, np.nan
                    )
                table["sharing_degree_per_100"] = pd.array(
                    np.where(np.isfinite(per_100), per_100, np.nan), dtype="Float64"
                )
    logger.info(
        "provider_measures: %d providers, %d ties in %.2f s",
        n,
        cg.n_edges,
        time.perf_counter() - started,
    )
    return pd.DataFrame(table)


def _has_patients(G: Any, patient_weight: str | None) -> bool:
    """Whether `G` is a CompactGraph whose ties carry `patient_weight`."""
    return isinstance(G, CompactGraph) and patient_weight in G.edge_attrs


def _patient_ties(
    G: Any,
    cg: CompactGraph,
    patient_weight: str | None,
    pairs: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[FloatArray]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray] | None:
    """Undirected, loop-free patient-sharing ties ``(a, b, patients > 0)`` or None.

    `pairs` is :func:`_undirected` of `cg` without self-loops, summing `patient_weight`
    when :func:`_has_patients` (the patient ties of a CompactGraph are read from it).
    """
    if _has_patients(G, patient_weight) and G.n_edges:
        a, b, (summed,) = pairs
        keep = summed > 0
        return a[keep], b[keep], summed[keep]
    if patient_weight is None or not isinstance(G, nx.Graph) or G.number_of_edges() == 0:
        return None
    if not any(patient_weight in d for _, _, d in G.edges(data=True)):
        logger.debug("provider_measures: no edge carries %r; no patient columns", patient_weight)
        return None
    index = {u: i for i, u in enumerate(cg.ids)}
    src, dst, (w,) = _networkx_edge_arrays(G, index, [(patient_weight, 0.0)])
    patients = CompactGraph(cg.ids, src, dst, w)
    a, b, summed = patients.undirected_edges(self_loops=False)
    if not G.is_directed():
        summed /= 2  # the walk counted each undirected edge in both directions
    keep = summed > 0
    return a[keep], b[keep], summed[keep]


def compact_measures(
    cg: CompactGraph,
    *,
    alpha: float = PAGERANK_ALPHA,
    communities: bool = True,
    core_number: bool = True,
    resolution: float = 1.0,
    n_iterations: int = 2,
    betweenness_k: int | None = None,
    seed: int | None = 0,
    distance: Literal["inverse", "hops"] = "inverse",
    threads: int = 1,
) -> pd.DataFrame:
    """The measures that scale to national graphs, on a :class:`CompactGraph`.

    Degree, strength, PageRank and HITS (sparse power iterations), Leiden
    communities (networkit's on large graphs when installed, else igraph's),
    k-core numbers and, when `betweenness_k` is given, betweenness
    estimated from that many sampled sources. Each is the function of
    :mod:`referral_graph.centrality` / :mod:`referral_graph.communities` the
    networkx path uses, so the values are equal (tested).

    Parameters
    ----------
    cg : CompactGraph
        From :func:`load_compact`.
    alpha : float, default 0.85
        PageRank damping factor.
    communities : bool, default True
        Add ``community`` (:func:`~referral_graph.communities.detect_communities`
        with ``method="auto"``).
    core_number : bool, default True
        Add ``core_number`` (as in :func:`provider_measures`: the k-core number on
        the undirected, unweighted, loop-free projection).
    resolution : float, default 1.0
        Passed to ``detect_communities``.
    n_iterations : int, default 2
        igraph's Leiden iterations, passed to ``detect_communities`` (networkit's
        Leiden runs its own 3 passes). Two iterations
        find nearly all the modularity (about 0.001 less on a 50,000-provider
        graph); ``-1`` (the default of ``detect_communities``: iterations until
        one gains less than 1e-4 modularity) usually runs a few more.
    betweenness_k : int, optional
        Sources sampled for ``betweenness`` and ``betweenness_stderr``; omitted
        when None (exact betweenness is out of reach on national graphs).
    seed : int or None, default 0
        Seed of communities and of the betweenness sample.
    distance : {"inverse", "hops"}, default "inverse"
        Tie length for betweenness.
    threads : int, default 1
        Threads of networkit's Leiden, passed to ``detect_communities``: 2 is faster
        on a national graph but not reproducible (see its docstring).

    Returns
    -------
    pandas.DataFrame
        One row per provider in node order: ``id``, ``in_degree``,
        ``out_degree``, ``in_strength``, ``out_strength``, ``pagerank``,
        ``hub``, ``authority`` and, as asked, ``community``, ``core_number``,
        ``betweenness``, ``betweenness_stderr``. ``attrs["seconds"]`` holds each
        step's time.

    Examples
    --------
    >>> cg = CompactGraph.from_edges(["A", "B", "C"], ["C", "C", "A"], [9, 1, 1])
    >>> t = compact_measures(cg, communities=False)
    >>> t[["id", "in_degree", "out_strength", "core_number"]].values.tolist()
    [['A', 1, 9.0, 1], ['C', 2, 1.0, 1], ['B', 0, 1.0, 1]]
    """
    from referral_graph.communities import detect_communities

    if not isinstance(cg, CompactGraph):
        raise ParameterError(
            "The 'cg' parameter of compact_measures must be a CompactGraph (see load_compact). "
            f"Got {type(cg).__name__} instead."
        )
    n = cg.n_nodes
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    table: dict[str, Any] = {"id": cg.index().array}
    table["in_degree"] = np.bincount(cg.dst, minlength=n).astype(np.int64)
    table["out_degree"] = np.bincount(cg.src, minlength=n).astype(np.int64)
    table["in_strength"] = np.bincount(cg.dst, weights=cg.weight, minlength=n).astype(np.float64)
    table["out_strength"] = np.bincount(cg.src, weights=cg.weight, minlength=n).astype(np.float64)
    lap("degree")
    table["pagerank"] = (
        _pagerank_array(cg, alpha, MEASURES_TOL, PAGERANK_MAX_ITER) if n else np.empty(0)
    )
    lap("pagerank")
    table["hub"], table["authority"] = _hits_arrays(cg, MEASURES_TOL, HITS_MAX_ITER)
    lap("hits")
    if communities:
        table["community"] = detect_communities(
            cg, resolution=resolution, seed=seed, n_iterations=n_iterations, threads=threads
        ).to_numpy()
        lap("communities")
    if core_number:
        a, b, _ = _undirected(cg, [], self_loops=False)
        table["core_number"] = _core_number(n, a, b)
        del a, b
        lap("core_number")
    if betweenness_k is not None:
        btw, stderr, _ = _betweenness_arrays(
            cg, k=int(betweenness_k), seed=seed, normalized=True, distance=distance
        )
        table["betweenness"], table["betweenness_stderr"] = btw, stderr
        lap("betweenness")
    out = pd.DataFrame(table)
    out.attrs["seconds"] = seconds
    logger.info(
        "compact_measures: %d providers, %d ties: %s",
        n,
        cg.n_edges,
        ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()),
    )
    return out
