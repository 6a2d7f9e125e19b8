"""Referral communities: groups of providers who refer mostly among themselves.

Communities are found on the **undirected weighted projection** of the
referral graph: the weights of ``u -> v`` and ``v -> u`` are summed into one
tie (self-loops are kept as loops). Labels are integers ordered by community
size, ``0`` being the largest; ties in size are ordered by the first provider
of each community in node order.

Methods:

* ``"auto"`` (default): ``"networkit-leiden"`` on graphs of at least
  :data:`AUTO_NETWORKIT_TIES` undirected ties when networkit is installed
  (the ``scale`` extra), else ``"leiden"``; a large graph without networkit
  says so in the log, naming the extra to install.
* ``"leiden"``: igraph's Leiden algorithm optimising modularity
  (Traag, Waltman & van Eck 2019), iterated until an iteration no longer
  raises modularity by a meaningful amount (``tol``).
  Leiden communities are guaranteed to be connected.
* ``"networkit-leiden"``: networkit's parallel Leiden (``ParallelLeiden``),
  the same objective; about 15 times faster than igraph's on a national
  graph, with a modularity within 0.2 % of it (``docs/methodology.md``).
* ``"louvain"``: igraph's multilevel (Louvain) algorithm (Blondel et al. 2008).
* ``"networkx-louvain"``: ``networkx.community.louvain_communities``, the slow
  pure-Python reference.

All are randomised; `seed` makes a result reproducible (see
:func:`detect_communities`; networkit only with ``threads=1``, the default).

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph()
>>> for u, v in [("A", "B"), ("B", "C"), ("C", "A"), ("D", "E"), ("E", "F"), ("F", "D")]:
...     G.add_edge(u, v, referrals=10)
>>> G.add_edge("C", "D", referrals=1)
>>> labels = detect_communities(G)
>>> labels.tolist()
[0, 0, 0, 1, 1, 1]
>>> round(modularity(G, labels), 3)
0.484
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import threading
from collections.abc import Mapping
from typing import Any, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _networkit
from referral_graph._checks import check_choice, check_float, check_int
from referral_graph._compact import CompactGraph, as_compact, igraph_graph
from referral_graph.exceptions import DependencyError, InsufficientDataError, ParameterError

__all__ = [
    "AUTO_NETWORKIT_TIES",
    "METHODS",
    "community_summary",
    "detect_communities",
    "modularity",
]

logger = logging.getLogger(__name__)

Method = Literal["auto", "leiden", "networkit-leiden", "louvain", "networkx-louvain"]
#: The values of ``method`` in :func:`detect_communities`.
METHODS: tuple[str, ...] = ("auto", "leiden", "networkit-leiden", "louvain", "networkx-louvain")
#: Undirected ties from which ``method="auto"`` runs networkit's Leiden (when installed):
#: below it igraph's Leiden is as fast (see ``docs/methodology.md``).
AUTO_NETWORKIT_TIES = 1_000_000

# igraph's random number generator is process-global: serialise seeded runs.
_IGRAPH_RNG_LOCK = threading.Lock()


def _ordered_labels(membership: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Relabel so that 0 is the largest community; equal sizes by first member's position."""
    n = len(membership)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    _, first, inverse, counts = np.unique(
        membership, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.ravel()]


def _positive_ties(cg: CompactGraph) -> list[npt.NDArray[Any]]:
    """The undirected ties of positive weight ``[a, b, w]``, ``a <= b``, self-loops kept.

    A list, so that the function that builds a graph from it can empty it and free
    the arrays (about 24 bytes per tie) before running its algorithm.
    """
    a, b, w = cg.undirected_edges(self_loops=True)
    keep = w > 0
    if keep.all():
        return [a, b, w]
    return [a[keep], b[keep], w[keep]]


def _in_id_order(
    ties: list[npt.NDArray[Any]], by_id: npt.NDArray[np.intp], n: int
) -> npt.NDArray[np.intp]:
    """The providers with ties (node positions) in the order of their ids, `by_id`; `ties`
    renumbered in place to their ranks in that order, ``a <= b``, sorted by ``(a, b)``:
    what the algorithms see depends on the ties alone, not on the nodes' order."""
    a, b, w = ties
    ties.clear()  # (the arrays are freed as they are renumbered: a few ties' lengths at most)
    has = np.zeros(n, dtype=bool)
    has[a] = True
    has[b] = True
    tied_ranks = np.flatnonzero(has[by_id])  # ranks (in id order) of the providers with ties
    m = len(tied_ranks)
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[by_id[tied_ranks]] = np.arange(m)
    ra = renumber[a]
    del a
    rb = renumber[b]
    del b
    key = np.minimum(ra, rb)
    np.maximum(ra, rb, out=rb)
    del ra
    key *= m
    key += rb
    del rb
    order = np.argsort(key, kind="stable")
    key = key[order]
    w = w[order]
    del order
    ties[:] = [key // m, key % m, w]
    return by_id[tied_ranks]


def _resolve_method(method: str, n_ties: int) -> str:
    """The method ``"auto"`` stands for on `n_ties` undirected ties (others unchanged)."""
    if method == "networkit-leiden" and not _networkit.networkit_available():
        raise DependencyError(
            "method='networkit-leiden' needs networkit, which is not installed: "
            f"{_networkit.INSTALL_HINT}."
        )
    if method != "auto":
        return method
    if n_ties < AUTO_NETWORKIT_TIES:
        return "leiden"
    if _networkit.networkit_available():
        return "networkit-leiden"
    logger.info(
        "detect_communities: %s ties and networkit is not installed: igraph's Leiden, "
        "about 15 times slower at national size (%s)",
        f"{n_ties:,}",
        _networkit.INSTALL_HINT,
    )
    return "leiden"


def _run_igraph(
    n: int,
    ties: list[npt.NDArray[Any]],
    method: str,
    resolution: float,
    seed: int | None,
    n_iterations: int,
    tol: float,
) -> npt.NDArray[np.int64]:
    """igraph's communities of the undirected ties of positive weight (`ties`, emptied)."""
    import igraph as ig

    a, b, w = ties
    ties.clear()
    graph = igraph_graph(n, a, b, directed=False)
    graph.es["weight"] = w
    del a, b, w
    with _IGRAPH_RNG_LOCK:
        ig.set_random_number_generator(random.Random(seed))
        try:
            if method == "leiden":
                membership = _leiden(graph, resolution, n_iterations, tol)
            else:
                clustering = graph.community_multilevel(weights="weight", resolution=resolution)
                membership = clustering.membership
        finally:
            # igraph's default generator is the `random` module.
            ig.set_random_number_generator(random)
    return np.asarray(membership, dtype=np.int64)


def _leiden(graph: Any, resolution: float, n_iterations: int, tol: float) -> list[int]:
    """igraph's Leiden; with ``n_iterations < 0``, one iteration at a time until it stops gaining.

    Each iteration starts from the previous partition (as igraph's own loop does); the
    run ends when an iteration leaves the partition unchanged or raises modularity by
    less than `tol`.
    """
    options: dict[str, Any] = {
        "objective_function": "modularity",
        "weights": "weight",
        "resolution": resolution,
    }
    if n_iterations > 0:
        return list(graph.community_leiden(n_iterations=n_iterations, **options).membership)
    membership: list[int] | None = None
    quality = -math.inf
    iterations = 0
    while True:
        iterations += 1
        found = graph.community_leiden(n_iterations=1, initial_membership=membership, **options)
        if found.membership == membership:
            break
        # the quality igraph optimised: modularity at this resolution
        gain = float(found.quality) - quality
        membership, quality = list(found.membership), float(found.quality)
        if gain < tol:
            break
    logger.debug("leiden: %d iteration(s), modularity %.6f", iterations, quality)
    assert membership is not None  # the first iteration always gives a partition
    return membership


def _run_networkx(
    n: int, ties: list[npt.NDArray[Any]], resolution: float, seed: int | None
) -> npt.NDArray[np.int64]:
    a, b, w = ties
    ties.clear()
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
    parts = nx.community.louvain_communities(
        graph, weight="weight", resolution=resolution, seed=seed
    )
    membership = np.empty(n, dtype=np.int64)
    for label, part in enumerate(parts):
        membership[list(part)] = label
    return membership


def detect_communities(
    G: nx.DiGraph | CompactGraph,
    *,
    method: Method = "auto",
    weight: str | None = "referrals",
    resolution: float = 1.0,
    seed: int | None = 0,
    n_iterations: int = -1,
    tol: float = 1e-4,
    threads: int = 1,
) -> pd.Series:
    """Partition providers into referral communities by modularity.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph (`weight` is ignored for a CompactGraph).
    method : {"auto", "leiden", "networkit-leiden", "louvain", "networkx-louvain"}, \
default "auto"
        Algorithm (see the module docstring): ``"auto"`` is igraph's
        ``"leiden"`` below :data:`AUTO_NETWORKIT_TIES` undirected ties, and
        ``"networkit-leiden"`` from there when networkit is installed.
    weight : str or None, default "referrals"
        Edge attribute used as tie strength.
    resolution : float, default 1.0
        Modularity resolution ``γ > 0``: larger gives more, smaller communities.
    seed : int or None, default 0
        Seed of the randomised algorithm; ``None`` is not reproducible. For the
        igraph methods a ``random.Random(seed)`` is installed as igraph's
        generator for the call and igraph's default generator (the ``random``
        module) is restored afterwards; calls are serialised by a lock, so a
        custom generator set with ``igraph.set_random_number_generator`` is
        replaced by the default. For networkit, ``networkit.engineering.setSeed(seed)``
        before the run (reproducible with ``threads=1`` only).
    n_iterations : int, default -1
        Leiden iterations; negative iterates until an iteration leaves the
        partition unchanged or raises its modularity by less than `tol`.
        igraph's Leiden only: networkit's runs its default 3 passes (each from
        scratch; its iterations are not igraph's, see ``docs/methodology.md``).
    tol : float, default 1e-4
        With ``n_iterations < 0``: the smallest modularity gain worth another
        iteration; ``0`` iterates until the partition no longer changes. Late
        iterations move few providers: on a 300,000-provider, 4.7-million-tie
        market ``tol=1e-4`` stopped after 3 iterations (16 s, modularity
        0.68107) where ``tol=0`` took 11 (49 s, 0.68113); ``n_iterations=2``
        gave 0.68104. igraph's Leiden only.
    threads : int, default 1
        Threads of networkit's Leiden (the other methods use one). With more
        than one the threads race: the partition, and its modularity in the
        fourth decimal, can change from run to run whatever the `seed`.

    Returns
    -------
    pandas.Series of int64
        Community label per provider, indexed by provider id in node order,
        named ``community``; 0 is the largest community (equal sizes: by their
        first provider id). Providers without ties form their own (singleton)
        communities. The algorithms see the providers with ties in the order of
        their ids, so the communities depend on the ties alone: not on the order
        of the input's rows, nor on the providers table.

    Raises
    ------
    ParameterError
        On a bad option or an invalid weight.
    DependencyError
        With ``method="networkit-leiden"`` when networkit is not installed.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("A", "B", {"referrals": 5}), ("C", "D", {"referrals": 5})])
    >>> detect_communities(G, method="louvain").to_dict()
    {'A': 0, 'B': 0, 'C': 1, 'D': 1}
    >>> detect_communities(G).to_dict()  # "auto": igraph's Leiden on a small graph
    {'A': 0, 'B': 0, 'C': 1, 'D': 1}
    """
    func = "detect_communities"
    check_choice(method, "method", func, list(METHODS))
    resolution = check_float(
        resolution, "resolution", func, low=0, low_open=True, allow_numpy=False
    )
    if seed is not None:
        seed = check_int(seed, "seed", func, low=0)
    if not isinstance(n_iterations, int) or isinstance(n_iterations, bool) or n_iterations == 0:
        raise ParameterError(
            f"The 'n_iterations' parameter of {func} must be a non-zero int. "
            f"Got {n_iterations!r} instead."
        )
    tol = check_float(tol, "tol", func, low=0, allow_numpy=False)
    threads = check_int(threads, "threads", func, low=1)
    cg = as_compact(G, weight, func)

    n = cg.n_nodes
    # Providers in the order of their ids: the communities depend on the ties alone, not
    # on the order of the input's rows or of the providers table.
    by_id = np.argsort(np.asarray(cg.ids, dtype=str), kind="stable")
    membership = np.arange(n, dtype=np.int64)  # without ties: a community of one
    if n == 0 or not (cg.weight > 0).any():
        logger.info("detect_communities: no positive ties; every provider is its own community")
        chosen = _resolve_method(method, 0)
    else:
        ties = _positive_ties(cg)
        chosen = _resolve_method(method, len(ties[0]))
        tied = _in_id_order(ties, by_id, n)  # the providers with ties, `ties` renumbered
        m = len(tied)
        if chosen == "networkx-louvain":
            found = _run_networkx(m, ties, resolution, seed)
        elif chosen == "networkit-leiden":
            found = _networkit.networkit_leiden(
                m,
                ties,
                resolution=resolution,
                seed=seed,
                threads=threads,
            )
        else:
            found = _run_igraph(m, ties, chosen, resolution, seed, n_iterations, tol)
        membership[tied] = n + found  # (labels apart from the singletons' 0 .. n - 1)
    labels = np.empty(n, dtype=np.int64)
    labels[by_id] = _ordered_labels(membership[by_id])  # equal sizes: by the first id
    sizes = np.bincount(labels) if len(labels) else np.empty(0, dtype=np.int64)
    logger.info(
        "detect_communities (%s): %d providers in %d communities (largest %d, singletons %d)",
        chosen if chosen == method else f"{method}: {chosen}",
        cg.n_nodes,
        len(sizes),
        int(sizes.max()) if len(sizes) else 0,
        int((sizes == 1).sum()),
    )
    return pd.Series(labels, index=cg.index(), name="community")


def _aligned_labels(cg: CompactGraph, labels: Any, func: str) -> npt.NDArray[np.int64]:
    """Labels in node order as int64 codes; ParameterError if a provider has none."""
    if isinstance(labels, Mapping):
        labels = pd.Series(dict(labels), dtype=object)
    if not isinstance(labels, pd.Series):
        raise ParameterError(
            f"The 'labels' parameter of {func} must be a pandas Series (or a mapping) from "
            f"provider id to community. Got {type(labels).__name__} instead."
        )
    if not labels.index.is_unique:
        raise ParameterError(
            f"The 'labels' parameter of {func} must have one label per provider id. "
            "Got a repeated id instead."
        )
    aligned = labels.reindex(pd.Index(cg.ids, dtype=object))
    missing = aligned.isna().to_numpy()
    if missing.any():
        examples = ", ".join(repr(x) for x in cg.ids[missing][:3])
        raise ParameterError(
            f"The 'labels' parameter of {func} must label every provider of the graph. "
            f"Got no label for {int(missing.sum())} providers (e.g. {examples}) instead."
        )
    codes, _ = pd.factorize(aligned.to_numpy(dtype=object))
    return codes.astype(np.int64)


def modularity(
    G: nx.DiGraph | CompactGraph,
    labels: pd.Series | Mapping[Any, Any],
    *,
    weight: str | None = "referrals",
    resolution: float = 1.0,
) -> float:
    """Newman's modularity of a partition, on the undirected weighted projection.

    ``Q = Σ_c [ L_c / m - γ (d_c / 2m)² ]`` where ``m`` is the total tie weight,
    ``L_c`` the weight inside community ``c`` and ``d_c`` the summed weighted
    degree of its providers (a self-loop adds twice its weight to the degree).
    Equal to ``networkx.community.modularity`` on the projection.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph.
    labels : pandas.Series or mapping
        Community of each provider (any hashable labels), indexed by provider id.
    weight : str or None, default "referrals"
        Edge attribute used as tie strength.
    resolution : float, default 1.0
        Resolution ``γ``.

    Returns
    -------
    float
        The modularity.

    Raises
    ------
    ParameterError
        If a provider has no label, or on a bad option.
    InsufficientDataError
        If the graph has no tie of positive weight.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("A", "B", {"referrals": 1}), ("C", "D", {"referrals": 1})])
    >>> modularity(G, {"A": 0, "B": 0, "C": 1, "D": 1})
    0.5
    """
    resolution = check_float(
        resolution, "resolution", "modularity", low=0, low_open=True, allow_numpy=False
    )
    cg = as_compact(G, weight, "modularity")
    codes = _aligned_labels(cg, labels, "modularity")
    a, b, w = cg.undirected_edges(self_loops=True)
    total = float(w.sum())
    if total <= 0:
        raise InsufficientDataError("Modularity needs at least one tie with a positive weight.")
    k = int(codes.max()) + 1
    internal = np.bincount(codes[a], weights=np.where(codes[a] == codes[b], w, 0.0), minlength=k)
    degree = np.bincount(codes[a], weights=w, minlength=k) + np.bincount(
        codes[b], weights=w, minlength=k
    )
    q = internal.sum() / total - resolution * float(((degree / (2 * total)) ** 2).sum())
    return float(q)


def _node_attr(
    G: Any,
    ids: npt.NDArray[np.object_],
    attr: str | None,
) -> list[Any] | None:
    if attr is None:
        return None
    if isinstance(G, CompactGraph):
        if attr not in G.node_attrs:
            return None
        values = G.node_attrs[attr].tolist()
    elif isinstance(G, nx.Graph):
        values = [G.nodes[u].get(attr) for u in ids]
    else:
        return None
    return values if any(v is not None and not pd.isna(v) for v in values) else None


def community_summary(
    G: nx.DiGraph | CompactGraph,
    labels: pd.Series | Mapping[Any, Any],
    *,
    weight: str | None = "referrals",
    specialty_attr: str | None = "specialty",
    name_attr: str | None = "name",
    top: int = 3,
) -> pd.DataFrame:
    """One row per community: size, internal and total referrals, specialties, main receivers.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph; node attributes are read from a networkx graph or
        from a CompactGraph's ``node_attrs`` (:meth:`CompactGraph.from_tables`).
    labels : pandas.Series or mapping
        Community of each provider, e.g. from :func:`detect_communities`.
    weight : str or None, default "referrals"
        Edge attribute summed in the referral columns.
    specialty_attr : str or None, default "specialty"
        Node attribute counted in ``top_specialties``.
    name_attr : str or None, default "name"
        Node attribute shown beside ids in ``main_receivers``.
    top : int, default 3
        Number of specialties and receivers listed.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``community``, with columns:

        ====================== ======== ===========================================================
        ``community``          int64    the label (as given)
        ``providers``          int64    number of providers
        ``referrals_internal`` float64  weight of ties with both ends in the community
        ``referrals_total``    float64  weight of ties with at least one end in it
        ``share_internal``     Float64  internal / weight of ties *sent* from the community
                                        (NA when it sends nothing)
        ``top_specialties``    string   the `top` most frequent specialties, ", "-separated
                                        (ties alphabetical; NA when none is known)
        ``main_receivers``     string   the `top` providers by weight received from inside
                                        the community, as ``id (name)``, "; "-separated
        ====================== ======== ===========================================================

        The counts are raw: suppress small cells
        (:func:`referral_graph.privacy.suppress_frame`) before display or export.

    Raises
    ------
    ParameterError
        If a provider has no label, or on a bad option.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_node("A", specialty="Family Medicine")
    >>> G.add_node("D", specialty="Cardiology", name="Heart Clinic")
    >>> G.add_edge("A", "D", referrals=12)
    >>> G.add_edge("B", "D", referrals=3)
    >>> row = community_summary(G, {"A": 0, "D": 0, "B": 1}).iloc[0]
    >>> row["providers"], row["referrals_internal"], row["main_receivers"]
    (np.int64(2), np.float64(12.0), 'D (Heart Clinic)')
    """
    func = "community_summary"
    top = check_int(top, "top", func, low=1)
    cg = as_compact(G, weight, func)
    codes = _aligned_labels(cg, labels, func)
    # Keep the caller's labels for display, ordered by label.
    if isinstance(labels, Mapping):
        labels = pd.Series(dict(labels), dtype=object)
    label_values = labels.reindex(pd.Index(cg.ids, dtype=object)).to_numpy()
    k = int(codes.max()) + 1 if len(codes) else 0
    display = np.empty(k, dtype=object)
    display[codes] = label_values
    src_c, dst_c = codes[cg.src], codes[cg.dst]
    w = cg.weight
    inside = src_c == dst_c
    providers = np.bincount(codes, minlength=k)
    internal = np.bincount(src_c[inside], weights=w[inside], minlength=k)
    sent = np.bincount(src_c, weights=w, minlength=k)
    received = np.bincount(dst_c, weights=w, minlength=k)
    total = sent + received - internal
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(sent > 0, internal / sent, np.nan)

    specialties = _node_attr(G, cg.ids, specialty_attr)
    names = _node_attr(G, cg.ids, name_attr)
    # Weight each provider receives from inside its own community.
    received_inside = np.bincount(cg.dst[inside], weights=w[inside], minlength=cg.n_nodes)
    top_specialties: list[Any] = []
    receivers: list[Any] = []
    members = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(providers)])
    for c in range(k):
        idx = members[bounds[c] : bounds[c + 1]]
        if specialties is None:
            top_specialties.append(pd.NA)
        else:
            known = pd.Series([specialties[i] for i in idx], dtype=object).dropna()
            if known.empty:
                top_specialties.append(pd.NA)
            else:
                counts = known.astype(str).value_counts()
                ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
                top_specialties.append(", ".join(str(s) for s, _ in ranked[:top]))
        strength = received_inside[idx]
        order = np.lexsort((idx, -strength))
        chosen = [int(idx[i]) for i in order[:top] if strength[i] > 0]
        if not chosen:
            receivers.append(pd.NA)
        else:
            parts = []
            for i in chosen:
                name = names[i] if names is not None else None
                has_name = name is not None and not pd.isna(name)
                parts.append(f"{cg.ids[i]} ({name})" if has_name else str(cg.ids[i]))
            receivers.append("; ".join(parts))
    table = pd.DataFrame(
        {
            "community": display,
            "providers": providers.astype(np.int64),
            "referrals_internal": internal.astype(np.float64),
            "referrals_total": total.astype(np.float64),
            "share_internal": pd.array(share, dtype="Float64"),
            "top_specialties": pd.array(top_specialties, dtype="string"),
            "main_receivers": pd.array(receivers, dtype="string"),
        }
    )
    # Labels of mixed types cannot be ordered: keep first-seen order then.
    with contextlib.suppress(TypeError):
        table = table.sort_values("community", kind="stable", ignore_index=True)
    if pd.api.types.is_integer_dtype(pd.Series(label_values).infer_objects()):
        table["community"] = table["community"].astype(np.int64)
    logger.info("community_summary: %d communities, %d providers", k, cg.n_nodes)
    return table
