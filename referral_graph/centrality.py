"""Provider measures on a referral graph: who receives, who refers, who brokers.

Every function takes the referral graph as a ``networkx.DiGraph`` (nodes are
provider ids, edges ``source -> target`` carry ``referrals`` and optionally
``patients``) or as a :class:`CompactGraph`, the same ties held in four NumPy
arrays. Converting once with :meth:`CompactGraph.from_networkx` and passing
the compact form to several measures saves the (slow, Python-level) walk over
the networkx edges each time.

Conventions used throughout:

* **Weights.** ``weight`` names the edge attribute used as tie strength
  (default ``"referrals"``); an edge without it counts as ``1.0`` (logged);
  a negative, NaN, infinite or non-numeric value raises
  :class:`~referral_graph.exceptions.ParameterError`. ``weight=None`` treats
  every tie as ``1.0``.
* **Path length.** Shortest-path measures (betweenness, harmonic closeness)
  need a *length*, the opposite of a strength: with ``distance="inverse"``
  (default) an edge of weight ``w`` has length ``1 / w``, so a tie with many
  referrals is a short, strong path; ties of weight 0 are ignored there.
  ``distance="hops"`` counts edges and ignores weights.
* **Results** are ``pandas.Series`` indexed by provider id (named ``id``) in
  the node order of the graph, or a ``DataFrame`` with an ``id`` column.

Examples
--------
>>> import networkx as nx
>>> G = nx.DiGraph()
>>> G.add_edge("A", "D", referrals=30)
>>> G.add_edge("B", "D", referrals=10)
>>> G.add_edge("B", "E", referrals=10)
>>> pagerank(G).idxmax()
'D'
>>> hubs, authorities = hits(G)
>>> authorities.idxmax(), hubs.idxmax()
('D', 'A')
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as sp_linalg

from referral_graph import _memo
from referral_graph._checks import check_choice, check_float, check_int
from referral_graph.exceptions import InsufficientDataError, ParameterError

__all__ = [
    "AUTO_EXACT_LIMIT",
    "AUTO_SAMPLE_SOURCES",
    "CompactGraph",
    "betweenness",
    "hits",
    "pagerank",
    "provider_measures",
]

logger = logging.getLogger(__name__)

#: Largest graph (number of providers) on which ``"auto"`` options run the costly exact
#: measures: exact betweenness, harmonic closeness, Burt's structural holes, care density.
AUTO_EXACT_LIMIT = 5_000
#: Number of sampled source providers for betweenness on graphs above `AUTO_EXACT_LIMIT`.
AUTO_SAMPLE_SOURCES = 256
#: Number of batches the sampled sources are split into to estimate the standard error.
_SE_BATCHES = 16

Distance = Literal["inverse", "hops"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
ObjectArray = npt.NDArray[np.object_]


# --------------------------------------------------------------------------------------
# The compact form
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompactGraph:
    """A directed weighted graph as arrays: node ids plus one row per tie.

    Parameters
    ----------
    ids : numpy.ndarray of object
        Provider ids (``str`` by the table contract) in node order; position ``i``
        is node ``i``.
    src, dst : numpy.ndarray of int32
        Source and target node positions of each tie.
    weight : numpy.ndarray of float64
        Tie strength, finite and ``>= 0``.
    edge_attrs : dict of str to numpy.ndarray of float64, optional
        More numbers per tie (``"patients"``: the patient-sharing measures of
        :func:`provider_measures` use it).
    node_attrs : dict of str to numpy.ndarray of object, optional
        Attributes per provider (``"name"``, ``"specialty"``, ``"patients"``),
        None where unknown; read where a networkx graph's node attributes would be.

    Notes
    -----
    Build it with :meth:`from_networkx`, :meth:`from_edges` or :meth:`from_tables`
    rather than by hand; they give at most one tie per ordered pair (self-loops
    are kept). The
    instance is frozen; treat the arrays as read-only.

    Examples
    --------
    >>> cg = CompactGraph.from_edges(["A", "A", "B"], ["B", "C", "C"], [5, 1, 2])
    >>> cg.ids.tolist(), cg.src.tolist(), cg.dst.tolist(), cg.weight.tolist()
    (['A', 'B', 'C'], [0, 0, 1], [1, 2, 2], [5.0, 1.0, 2.0])
    >>> cg.to_csr().toarray().tolist()
    [[0.0, 5.0, 1.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]
    """

    ids: ObjectArray
    src: IntArray
    dst: IntArray
    weight: FloatArray
    edge_attrs: dict[str, FloatArray] = field(default_factory=dict)
    node_attrs: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, dtype=object)
        src = np.asarray(self.src, dtype=np.int32)
        dst = np.asarray(self.dst, dtype=np.int32)
        weight = np.asarray(self.weight, dtype=np.float64)
        if ids.ndim != 1 or src.ndim != 1 or src.shape != dst.shape or src.shape != weight.shape:
            raise ParameterError(
                "A CompactGraph needs a 1-d 'ids' array and 'src', 'dst', 'weight' arrays of "
                f"one equal length. Got lengths {src.shape}, {dst.shape}, {weight.shape} instead."
            )
        n = ids.shape[0]
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ParameterError(
                f"A CompactGraph's 'src' and 'dst' must be node positions in [0, {n}). "
                "Got positions outside that range instead."
            )
        _check_weights(weight, "weight", lambda i: (ids[src[i]], ids[dst[i]]))
        edge_attrs = {k: np.asarray(v, dtype=np.float64) for k, v in self.edge_attrs.items()}
        node_attrs = {k: np.asarray(v, dtype=object) for k, v in self.node_attrs.items()}
        for kind, attrs, size in (("edge", edge_attrs, len(src)), ("node", node_attrs, n)):
            for key, values in attrs.items():
                if values.shape != (size,):
                    raise ParameterError(
                        f"A CompactGraph's {kind} attribute {key!r} needs one value per {kind} "
                        f"({size}). Got shape {values.shape} instead."
                    )
        object.__setattr__(self, "edge_attrs", edge_attrs)
        object.__setattr__(self, "node_attrs", node_attrs)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "src", src)
        object.__setattr__(self, "dst", dst)
        object.__setattr__(self, "weight", weight)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_networkx(cls, G: Any, *, weight: str | None = "referrals") -> CompactGraph:
        """Convert a networkx graph, walking its edges once.

        Parameters
        ----------
        G : networkx.DiGraph
            The referral graph. An undirected graph counts each edge in both
            directions; parallel edges of a multigraph are summed.
        weight : str or None, default "referrals"
            Edge attribute holding the tie strength. Edges without it count as
            ``1.0`` (the number of such edges is logged). ``None``: every tie is 1.

        Returns
        -------
        CompactGraph

        Raises
        ------
        ParameterError
            If `G` is not a networkx graph, or a weight is negative, infinite,
            NaN or not a number.

        Examples
        --------
        >>> import networkx as nx
        >>> G = nx.DiGraph([("A", "B", {"referrals": 4}), ("B", "C", {})])
        >>> CompactGraph.from_networkx(G).weight.tolist()
        [4.0, 1.0]
        """
        if not isinstance(G, nx.Graph):
            raise ParameterError(
                "The 'G' parameter of CompactGraph.from_networkx must be a networkx graph. "
                f"Got {type(G).__name__} instead."
            )
        ids = np.empty(G.number_of_nodes(), dtype=object)
        ids[:] = list(G)
        index = {u: i for i, u in enumerate(ids)}
        src, dst, (w,) = _networkx_edge_arrays(G, index, [(weight, 1.0)])
        if G.is_multigraph():
            src, dst, (w,) = _coalesce(src, dst, len(ids), [w])
        logger.debug("CompactGraph: %d providers, %d ties", len(ids), len(src))
        return cls(ids, src, dst, w)

    @classmethod
    def from_edges(
        cls,
        sources: Iterable[Hashable],
        targets: Iterable[Hashable],
        weights: Iterable[float] | None = None,
        *,
        nodes: Iterable[Hashable] | None = None,
    ) -> CompactGraph:
        """Build from an edge table's columns (arrays, lists or pandas Series).

        Parameters
        ----------
        sources, targets : array-like of str
            Referring and receiving provider ids, one pair per row; no missing ids.
        weights : array-like of float, optional
            Tie strength per row (``referrals``); ``None`` counts each row as 1.
        nodes : array-like of str, optional
            Providers to include even without ties (isolated nodes); they come
            first in the node order.

        Returns
        -------
        CompactGraph
            Node order is `nodes`, then ids by first appearance reading the
            table row by row, source before target (the order a
            ``networkx.DiGraph`` built from the same table would have). Repeated
            ``(source, target)`` rows are merged and their weights **summed**.

        Raises
        ------
        ParameterError
            On columns of unequal length, missing ids, or invalid weights.

        Examples
        --------
        >>> import pandas as pd
        >>> edges = pd.DataFrame({"source": ["A", "A", "B"], "target": ["B", "B", "A"],
        ...                       "referrals": [2, 3, 1]})
        >>> cg = CompactGraph.from_edges(edges["source"], edges["target"], edges["referrals"])
        >>> cg.n_nodes, cg.n_edges, cg.weight.tolist()
        (2, 2, [5.0, 1.0])
        """
        s = _id_array(sources, "sources")
        t = _id_array(targets, "targets")
        if s.shape != t.shape:
            raise ParameterError(
                "The 'sources' and 'targets' parameters of CompactGraph.from_edges must have "
                f"the same length. Got {len(s)} and {len(t)} instead."
            )
        m = len(s)
        if weights is None:
            w = np.ones(m, dtype=np.float64)
        else:
            w = _float_array(weights, "weights")
            if w.shape != s.shape:
                raise ParameterError(
                    "The 'weights' parameter of CompactGraph.from_edges must have one value per "
                    f"edge ({m}). Got {len(w)} instead."
                )
        lead = _id_array(nodes, "nodes") if nodes is not None else np.empty(0, dtype=object)
        ids, src, dst = _node_codes(lead, s, t)
        _check_weights(w, "weights", lambda i: (s[i], t[i]))
        src, dst, (w,) = _coalesce(src, dst, len(ids), [w])
        return cls(ids, src, dst, w)

    @classmethod
    def from_tables(
        cls,
        ties: pd.DataFrame,
        providers: pd.DataFrame | None = None,
        *,
        weight: str | None = "referrals",
        edge_attrs: Sequence[str] = ("patients",),
        node_attrs: Sequence[str] = ("name", "specialty", "patients"),
    ) -> CompactGraph:
        """Build from a tie table and a providers table, without networkx.

        The result equals ``CompactGraph.from_networkx(graph_from_tables(ties,
        providers))`` (:func:`referral_graph.graph.graph_from_tables`): the same
        node order (every provider of the table first, then ids met in the
        ties), the same tie order, weights and attributes, at a fraction of the
        time and memory of building the networkx graph.

        Parameters
        ----------
        ties : pandas.DataFrame
            ``source``, ``target`` and the `weight` column; an edge panel (with
            ``month``) is summed over months, its ``patients`` left out (distinct
            patients do not add up), as ``graph_from_tables`` does.
        providers : pandas.DataFrame, optional
            ``id`` and the `node_attrs` columns it has.
        weight : str or None, default "referrals"
            Column of tie strength; missing values count 1.0. None: every tie is 1.
        edge_attrs, node_attrs : sequence of str
            Columns kept as :attr:`edge_attrs` (numbers; missing = 0) and
            :attr:`node_attrs` (None where missing), where present.

        Returns
        -------
        CompactGraph

        Examples
        --------
        >>> import pandas as pd
        >>> ties = pd.DataFrame({"source": ["B", "A"], "target": ["A", "C"],
        ...                      "referrals": [4, 2], "patients": [3, None]})
        >>> providers = pd.DataFrame({"id": ["A", "D"], "name": ["Dr A", "Dr D"]})
        >>> cg = CompactGraph.from_tables(ties, providers)
        >>> cg.ids.tolist(), cg.weight.tolist(), cg.edge_attrs["patients"].tolist()
        (['A', 'D', 'B', 'C'], [2.0, 4.0], [0.0, 3.0])
        >>> cg.node_attrs["name"].tolist()
        ['Dr A', 'Dr D', None, None]
        """
        for col in ("source", "target"):
            if col not in ties.columns:
                raise ParameterError(f"The tie table lacks the {col!r} column.")
        if providers is not None and "id" not in providers.columns:
            raise ParameterError("The providers table lacks the 'id' column.")
        panel = "month" in ties.columns
        s = _id_series(ties["source"], "sources")
        t = _id_series(ties["target"], "targets")
        lead = (
            _id_series(providers["id"], "nodes")
            if providers is not None
            else np.empty(0, dtype=object)
        )
        ids, src, dst = _node_codes(lead, s, t)
        w: FloatArray = (
            np.ones(len(s), dtype=np.float64)
            if weight is None or weight not in ties.columns
            else _numeric_column(ties[weight], weight, 1.0)
        )
        _check_weights(w, weight or "weight", lambda i: (s.iloc[i], t.iloc[i]))
        kept = [c for c in edge_attrs if c in ties.columns and not (panel and c == "patients")]
        extra: list[FloatArray] = [_numeric_column(ties[c], c, 0.0) for c in kept]
        src, dst, arrays = _coalesce(src, dst, len(ids), [w, *extra])
        w, extra = arrays[0], arrays[1:]
        # networkx's order: ties grouped by source in node order, first-seen within a source.
        order = np.argsort(src, kind="stable")
        nodes: dict[str, npt.NDArray[Any]] = {}
        if providers is not None:
            table = providers.drop_duplicates("id", keep="last").set_index(
                providers["id"].astype("str").drop_duplicates(keep="last")
            )
            for c in node_attrs:
                if c in table.columns:
                    values = table[c].reindex(pd.Index(ids, dtype=object)).astype(object)
                    nodes[c] = values.where(values.notna(), None).to_numpy(dtype=object)
        return cls(
            ids,
            src[order],
            dst[order],
            w[order],
            edge_attrs={c: a[order] for c, a in zip(kept, extra, strict=True)},
            node_attrs=nodes,
        )

    # -- views --------------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        """Number of providers."""
        return int(self.ids.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed ties."""
        return int(self.src.shape[0])

    def to_csr(self) -> sp.csr_array:
        """Return the weighted adjacency matrix (row = source, column = target).

        Examples
        --------
        >>> CompactGraph.from_edges(["A"], ["B"], [3]).to_csr().toarray().tolist()
        [[0.0, 3.0], [0.0, 0.0]]
        """
        n = self.n_nodes
        return sp.csr_array((self.weight, (self.src, self.dst)), shape=(n, n))

    def undirected_edges(
        self, *, self_loops: bool = True
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
        """Return the undirected weighted projection as ``(a, b, weight)`` with ``a <= b``.

        The weights of ``u -> v`` and ``v -> u`` are summed into one tie.

        Examples
        --------
        >>> cg = CompactGraph.from_edges(["A", "B", "B"], ["B", "A", "B"], [2, 3, 1])
        >>> [x.tolist() for x in cg.undirected_edges()]
        [[0, 1], [1, 1], [5.0, 1.0]]
        >>> [x.tolist() for x in cg.undirected_edges(self_loops=False)]
        [[0], [1], [5.0]]
        """
        a, b, (summed,) = _undirected(self, [self.weight], self_loops=self_loops)
        return a, b, summed

    def index(self) -> pd.Index:
        """Return the ids as a ``pandas.Index`` named ``id`` (the index of every result)."""
        return pd.Index(self.ids, name="id", dtype=_id_dtype(self.ids))


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _id_dtype(ids: ObjectArray) -> str:
    return "string" if all(isinstance(x, str) for x in ids) else "object"


def _id_array(values: Iterable[Hashable], name: str) -> ObjectArray:
    seq = values.to_numpy(dtype=object) if isinstance(values, pd.Series | pd.Index) else values
    arr = np.asarray(seq if isinstance(seq, np.ndarray) else list(seq), dtype=object)
    if arr.ndim != 1:
        raise ParameterError(
            f"The '{name}' parameter of CompactGraph.from_edges must be one-dimensional. "
            f"Got shape {arr.shape} instead."
        )
    _check_no_missing(pd.isna(arr), name)
    return arr


def _check_no_missing(missing: npt.NDArray[np.bool_], name: str) -> None:
    """ParameterError naming the count and first row of missing ids, if any."""
    if missing.any():
        raise ParameterError(
            f"The '{name}' parameter of CompactGraph.from_edges must not contain missing ids. "
            f"Got {int(missing.sum())} missing (first at row {int(np.argmax(missing))}) instead."
        )


def _id_series(values: pd.Series, name: str) -> pd.Series:
    """A table's id column as strings; ParameterError if an id is missing."""
    ids = values.astype("str")
    _check_no_missing(ids.isna().to_numpy(), name)
    return ids.reset_index(drop=True)


def _float_array(values: Iterable[float], name: str) -> FloatArray:
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    try:
        numeric = pd.to_numeric(series, errors="raise")
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"The '{name}' parameter must hold numbers (tie strengths). Got {exc} instead."
        ) from None
    return np.asarray(numeric.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _check_weights(weight: FloatArray, name: str, edge_of: Any) -> None:
    """Raise ParameterError unless every weight is finite and >= 0."""
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParameterError(
            f"The '{name}' edge weights must be finite numbers >= 0. Got {weight[i]!r} on edge "
            f"{edge_of(i)!r} ({int(bad.sum())} bad edges in all) instead."
        )


def _networkx_edge_arrays(
    G: Any,
    index: dict[Hashable, int],
    attrs: Sequence[tuple[str | None, float]],
) -> tuple[IntArray, IntArray, list[FloatArray]]:
    """Walk the adjacency of `G` once; return tie positions and one float array per attribute.

    Each ``(attr, default)`` pair gives the value used where the attribute is absent
    (``attr=None``: every tie is 1.0). An undirected graph yields each edge in both
    directions (a self-loop once); a multigraph yields every parallel edge.
    """
    counts: list[int] = []
    targets: list[Hashable] = []
    datas: list[dict[str, Any]] = []
    multi = G.is_multigraph()
    for _, nbrs in G.adjacency():  # node order
        if multi:
            before = len(datas)
            for v, keyed in nbrs.items():
                targets.extend([v] * len(keyed))
                datas.extend(keyed.values())
            counts.append(len(datas) - before)
        else:
            counts.append(len(nbrs))
            targets.extend(nbrs)
            datas.extend(nbrs.values())
    m = len(targets)
    src = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    dst = np.fromiter(map(index.__getitem__, targets), dtype=np.int32, count=m)
    ids = list(index)

    def edge_of(i: int) -> tuple[Hashable, Hashable]:
        return ids[src[i]], targets[i]

    out: list[FloatArray] = []
    for attr, default in attrs:
        if attr is None:
            out.append(np.ones(m, dtype=np.float64))
            continue
        raw = [d.get(attr) for d in datas]
        missing = raw.count(None)
        if missing:
            level = logging.WARNING if missing == m else logging.INFO
            logger.log(
                level,
                "%d of %d ties have no %r attribute; counted as %s",
                missing,
                m,
                attr,
                default,
            )
            raw = [default if x is None else x for x in raw]
        values = np.asarray(raw)
        if values.dtype.kind == "O":
            with contextlib.suppress(TypeError, ValueError):
                values = values.astype(np.float64)
        if m and values.dtype.kind not in "biuf":
            i = next(j for j, x in enumerate(raw) if not isinstance(x, int | float | np.number))
            raise ParameterError(
                f"The {attr!r} edge attribute must be a number on every edge. "
                f"Got {raw[i]!r} on edge {edge_of(i)!r} instead."
            )
        weights = values.astype(np.float64) if m else np.empty(0, dtype=np.float64)
        _check_weights(weights, attr, edge_of)
        out.append(weights)
    return src, dst, out


def _node_codes(
    lead: ObjectArray | pd.Series,
    sources: ObjectArray | pd.Series,
    targets: ObjectArray | pd.Series,
) -> tuple[ObjectArray, IntArray, IntArray]:
    """Node ids and tie positions: `lead` first, then ids by first appearance, source first.

    The order in which a ``networkx.DiGraph`` built from the same tables numbers its
    nodes: ids ranked by their first position in ``lead..., s0, t0, s1, t1, ...``.
    Each part is factorised on its own (a Series of Arrow strings once per column,
    :func:`referral_graph._memo.factorize`) and only the distinct ids are merged.
    No part may hold missing ids.
    """
    parts = [
        _memo.factorize(x) if isinstance(x, pd.Series) else pd.factorize(x)
        for x in (lead, sources, targets)
    ]
    n_lead = len(lead)
    distinct: list[ObjectArray] = []
    positions: list[npt.NDArray[np.int64]] = []
    for k, (codes, uniques) in enumerate(parts):
        # pandas numbers values in order of first appearance: a code is new where the
        # running maximum grows, which gives the first row of every distinct value
        if len(codes):
            high = np.maximum.accumulate(codes)
            rows = np.flatnonzero(np.concatenate([[True], high[1:] > high[:-1]]))
        else:
            rows = np.empty(0, dtype=np.int64)
        positions.append(rows if k == 0 else n_lead + 2 * rows + (k - 1))
        distinct.append(np.asarray(uniques, dtype=object))
    merged, ids_found = pd.factorize(np.concatenate(distinct))
    first = np.full(len(ids_found), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, merged, np.concatenate(positions))
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    ids = np.empty(len(order), dtype=object)
    ids[:] = list(np.asarray(ids_found, dtype=object)[order])
    offset_s = len(distinct[0])
    offset_t = offset_s + len(distinct[1])
    src = rank[merged[offset_s:offset_t]][parts[1][0]].astype(np.int32)
    dst = rank[merged[offset_t:]][parts[2][0]].astype(np.int32)
    return ids, src, dst


def _numeric_column(values: pd.Series, name: str, default: float) -> FloatArray:
    """A tie-table column as float64, `default` where missing; ParameterError if not numbers."""
    try:
        numbers = values.astype("Float64")
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"The {name!r} column must hold numbers on every tie. Got {values.dtype} values "
            "that are not."
        ) from exc
    return np.asarray(numbers.fillna(default).to_numpy(dtype=np.float64), dtype=np.float64)


def _coalesce(
    src: IntArray, dst: IntArray, n: int, weights: Sequence[FloatArray]
) -> tuple[IntArray, IntArray, list[FloatArray]]:
    """Merge repeated (src, dst) pairs, summing each weight array (keeps first-seen order)."""
    key = src.astype(np.int64) * max(n, 1) + dst
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(uniq) == len(key):
        return src, dst, list(weights)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    new_key = uniq[order]
    summed = [
        np.bincount(rank[inverse], weights=w, minlength=len(uniq)).astype(np.float64)
        for w in weights
    ]
    return (new_key // max(n, 1)).astype(np.int32), (new_key % max(n, 1)).astype(np.int32), summed


def _undirected(
    cg: CompactGraph, weights: Sequence[FloatArray], *, self_loops: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[FloatArray]]:
    """The undirected pairs ``(a, b)``, ``a <= b``, and each of `weights` summed per pair.

    One pass over the ties for several weights (:meth:`CompactGraph.undirected_edges`).
    """
    n = cg.n_nodes
    a = np.minimum(cg.src, cg.dst).astype(np.int64)
    b = np.maximum(cg.src, cg.dst).astype(np.int64)
    keep = None if self_loops else a != b
    if keep is not None:
        a, b = a[keep], b[keep]
    key, inverse = np.unique(a * n + b, return_inverse=True)
    summed = [
        np.bincount(inverse, weights=w if keep is None else w[keep], minlength=len(key)).astype(
            np.float64
        )
        for w in weights
    ]
    return key // n, key % n, summed


def _as_compact(G: Any, weight: str | None, func: str) -> CompactGraph:
    if isinstance(G, CompactGraph):
        return G
    if isinstance(G, nx.Graph):
        return CompactGraph.from_networkx(G, weight=weight)
    raise ParameterError(
        f"The 'G' parameter of {func} must be a networkx.DiGraph or a CompactGraph. "
        f"Got {type(G).__name__} instead."
    )


def _series(cg: CompactGraph, values: Any, name: str) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float64), index=cg.index(), name=name)


# --------------------------------------------------------------------------------------
# PageRank and HITS
# --------------------------------------------------------------------------------------


def _pagerank_array(cg: CompactGraph, alpha: float, tol: float, max_iter: int) -> FloatArray:
    n = cg.n_nodes
    out_strength = np.bincount(cg.src, weights=cg.weight, minlength=n)
    dangling = out_strength == 0
    inv = np.zeros(n)
    np.divide(1.0, out_strength, out=inv, where=~dangling)
    # Transposed, row-stochastic transition matrix: x_new = alpha * P^T x + ...
    pt = sp.csr_array((cg.weight * inv[cg.src], (cg.dst, cg.src)), shape=(n, n))
    x = np.full(n, 1.0 / n)
    err = math.inf
    for iteration in range(1, max_iter + 1):
        last = x
        x = alpha * (pt @ x + last[dangling].sum() / n) + (1.0 - alpha) / n
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
    alpha: float = 0.85,
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
    cg = _as_compact(G, weight, "pagerank")
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
    at_mat = a_mat.T.tocsr()
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
    a_mat: sp.csr_array, at_mat: sp.csr_array, *, tol: float, start: FloatArray
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
    cg = _as_compact(G, weight, "hits")
    hub, auth = _hits_arrays(cg, tol, max_iter)
    return _series(cg, hub, "hub"), _series(cg, auth, "authority")


# --------------------------------------------------------------------------------------
# Shortest-path measures (igraph)
# --------------------------------------------------------------------------------------


def _igraph_directed(cg: CompactGraph, distance: str) -> tuple[Any, str | None]:
    """Return an igraph.Graph of the ties and the name of its length attribute (or None)."""
    if distance == "inverse":
        keep = cg.weight > 0
        graph = _igraph(cg.n_nodes, cg.src[keep], cg.dst[keep], directed=True)
        graph.es["length"] = 1.0 / cg.weight[keep]
        return graph, "length"
    return _igraph(cg.n_nodes, cg.src, cg.dst, directed=True), None


def _igraph(n: int, a: npt.NDArray[Any], b: npt.NDArray[Any], *, directed: bool) -> Any:
    """An igraph.Graph with ties ``a[i] - b[i]`` (``add_edges`` with an int64 array is fast)."""
    import igraph as ig

    graph = ig.Graph(n=n, directed=directed)
    graph.add_edges(np.column_stack([a, b]).astype(np.int64))
    return graph


def _betweenness_arrays(
    cg: CompactGraph,
    *,
    k: int | None,
    seed: int | None,
    normalized: bool,
    distance: str,
    directed: tuple[Any, str | None] | None = None,
) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """Return (betweenness, standard error, info) in node order.

    `directed` is :func:`_igraph_directed` of `cg` with `distance` when the caller has
    built it already (for several path measures); None builds it.
    """
    n = cg.n_nodes
    if n == 0:
        return np.empty(0), np.empty(0), {"exact": True, "sources": 0, "n": 0}
    graph, lengths = directed if directed is not None else _igraph_directed(cg, distance)
    pairs_scale = 1.0 / ((n - 1) * (n - 2)) if normalized and n > 2 else 1.0
    if k is None or k >= n:
        if n > AUTO_EXACT_LIMIT:
            logger.warning(
                "betweenness: exact over %d providers runs %d shortest-path searches; "
                "pass k=%d to estimate it from a sample",
                n,
                n,
                AUTO_SAMPLE_SOURCES,
            )
        raw = np.asarray(graph.betweenness(directed=True, weights=lengths), dtype=np.float64)
        value = raw * pairs_scale
        info: dict[str, Any] = {"exact": True, "sources": n, "n": n}
        logger.info("betweenness: exact over %d providers, %d ties", n, cg.n_edges)
        return value, np.zeros(n), info
    # Same sample as networkx.betweenness_centrality(G, k=k, seed=seed).
    sources = random.Random(seed).sample(range(n), k)
    is_source = np.zeros(n, dtype=bool)
    is_source[sources] = True
    batches = np.array_split(np.asarray(sources), min(_SE_BATCHES, k))
    raw = np.zeros(n)
    batch_estimates = np.empty((len(batches), n))
    # With endpoints excluded a sampled source v cannot lie on its own paths, so v's estimate
    # averages over the other sources: scale (n - 1) / k for others, (n - 1) / (k - 1) for v.
    base = (n - 1) * pairs_scale if normalized else n - 1
    for g, batch in enumerate(batches):
        part = np.asarray(
            graph.betweenness(directed=True, weights=lengths, sources=batch.tolist()),
            dtype=np.float64,
        )
        raw += part
        in_batch = np.zeros(n, dtype=bool)
        in_batch[batch] = True
        size = len(batch) - in_batch.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            batch_estimates[g] = np.where(size > 0, part * base / size, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = raw * base / (k - is_source.astype(np.float64))
    b = len(batches)
    fpc = max(0.0, 1.0 - k / (n - 1))
    if b > 1:
        # Standard deviation over the batches that estimate each node (ddof=1), written out:
        # np.nanstd warns for nodes estimated by fewer than two batches.
        finite = np.isfinite(batch_estimates)
        counts = finite.sum(axis=0)
        filled = np.where(finite, batch_estimates, 0.0)
        mean = filled.sum(axis=0) / np.maximum(counts, 1)
        squares = np.where(finite, (batch_estimates - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(counts > 1, np.sqrt(squares / np.maximum(counts - 1, 1)), np.nan)
        stderr = std / math.sqrt(b) * math.sqrt(fpc)
    else:
        stderr = np.full(n, np.nan)
    positive = np.isfinite(stderr) & (value > 0)
    top = np.argsort(-np.nan_to_num(value, nan=-1.0), kind="stable")[: min(10, n)]
    top = top[value[top] > 0]
    info = {
        "exact": False,
        "sources": k,
        "n": n,
        "batches": b,
        "seed": seed,
        "stderr_median": float(np.median(stderr[positive])) if positive.any() else math.nan,
        "stderr_max": float(stderr[positive].max()) if positive.any() else math.nan,
        "relative_stderr_top10": (
            float(np.median(stderr[top] / value[top])) if top.size else math.nan
        ),
    }
    logger.info(
        "betweenness: sampled %d of %d providers as sources (%d ties); estimates scaled by "
        "(n-1)/k; standard error (over providers with betweenness > 0) median %.3g, max %.3g; "
        "median relative standard error of the top 10: %.1f%% (from %d batches)",
        k,
        n,
        cg.n_edges,
        info["stderr_median"],
        info["stderr_max"],
        100 * info["relative_stderr_top10"],
        b,
    )
    return np.asarray(value, dtype=np.float64), np.asarray(stderr, dtype=np.float64), info


def betweenness(
    G: nx.DiGraph | CompactGraph,
    *,
    weight: str | None = "referrals",
    k: int | None = None,
    seed: int | None = 0,
    normalized: bool = True,
    distance: Distance = "inverse",
) -> pd.Series:
    """Shortest-path betweenness of each provider (brokerage), exact or sampled.

    The betweenness of ``v`` is the sum over ordered pairs ``s != v != t`` of
    the share of shortest ``s -> t`` referral paths that pass through ``v``:
    a provider sitting between otherwise distant parts of the network.

    Parameters
    ----------
    G : networkx.DiGraph or CompactGraph
        The referral graph (`weight` is ignored for a CompactGraph).
    weight : str or None, default "referrals"
        Edge attribute used as tie strength.
    k : int or None, default None
        ``None`` (or ``k >= n``): exact, all providers as sources. An int ``>= 2``:
        estimate from `k` source providers sampled uniformly without replacement.
    seed : int or None, default 0
        Seed of the sample (``random.Random(seed)``; the same providers
        ``networkx.betweenness_centrality(G, k=k, seed=seed)`` picks).
    normalized : bool, default True
        Divide by ``(n - 1)(n - 2)``, the number of ordered pairs excluding ``v``.
    distance : {"inverse", "hops"}, default "inverse"
        Length of a tie: ``1 / weight`` (a stronger tie is shorter; zero-weight
        ties are ignored) or one hop per tie.

    Returns
    -------
    pandas.Series of float64
        Indexed by provider id, named ``betweenness``. ``Series.attrs`` holds
        ``exact`` (bool), ``sources`` (number of source providers), ``n`` and, when
        sampled, ``batches``, ``seed``, ``stderr_median`` and ``stderr_max`` (over
        providers with a positive estimate) and ``relative_stderr_top10`` (median of
        standard error / estimate over the 10 highest estimates). The per-provider
        standard error is the ``betweenness_stderr`` column of :func:`provider_measures`.

    Raises
    ------
    ParameterError
        On a bad option or an invalid weight.

    Notes
    -----
    Computed with igraph (Brandes' algorithm in C). Sampled estimate: with
    ``S`` the sampled sources and ``δ_s(v)`` the dependency of source ``s`` on
    ``v``, the estimate is ``(n - 1) / |S \\ {v}| · Σ_{s ∈ S \\ {v}} δ_s(v)``
    (then normalised), i.e. the exact sum scaled up by about ``n / k``; it is
    unbiased and equals networkx >= 3.5 with the same seed. Its standard error
    is estimated by splitting ``S`` into 16 batches: the standard deviation of
    the batch estimates / √16, times the finite-population factor
    ``√(1 - k / (n - 1))``. It is 0 for exact results. Treat it as a rough guide:
    the per-source dependencies are very skewed, so a provider that no sampled
    source passes through gets ``0 ± 0`` however central it is, and in our tests the
    exact value of the 20 main brokers lay within 3 standard errors ~92% of the
    time (not the normal 99.7%).

    With ``distance="inverse"`` igraph compares path lengths with a relative
    tolerance, so paths such as ``1/3 + 1/6`` and ``1/2`` count as equally
    short, as in exact arithmetic; networkx with float lengths may break such
    ties by rounding. Results equal ``networkx.betweenness_centrality`` with
    ``fractions.Fraction`` lengths ``1 / w`` (and with float lengths when no
    ties arise) within 1e-6.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("A", "B", {"referrals": 2}), ("B", "C", {"referrals": 5})])
    >>> betweenness(G).to_dict()
    {'A': 0.0, 'B': 0.5, 'C': 0.0}
    """
    check_choice(distance, "distance", "betweenness", ["inverse", "hops"])
    if k is not None:
        k = check_int(k, "k", "betweenness", low=2)
    if seed is not None:
        seed = check_int(seed, "seed", "betweenness", low=0)
    cg = _as_compact(G, weight, "betweenness")
    value, _, info = _betweenness_arrays(
        cg, k=k, seed=seed, normalized=bool(normalized), distance=distance
    )
    out = _series(cg, value, "betweenness")
    out.attrs.update(info)
    return out


def _harmonic_closeness(cg: CompactGraph, directed: tuple[Any, str | None]) -> FloatArray:
    """Harmonic closeness (to each provider) on `directed`, :func:`_igraph_directed` of `cg`."""
    n = cg.n_nodes
    if n < 2:
        return np.zeros(n)
    graph, lengths = directed
    values = graph.harmonic_centrality(mode="in", weights=lengths, normalized=True)
    return np.asarray(values, dtype=np.float64)


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


# --------------------------------------------------------------------------------------
# The provider table
# --------------------------------------------------------------------------------------


def _resolve_auto(option: Any, name: str, n: int) -> bool:
    check_choice(option, name, "provider_measures", [True, False, "auto"])
    return n <= AUTO_EXACT_LIMIT if option == "auto" else bool(option)


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
        return None if n <= AUTO_EXACT_LIMIT else AUTO_SAMPLE_SOURCES
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
    alpha: float = 0.85,
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
    cg = _as_compact(G, weight, func)
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
    if n:
        table["pagerank"] = _pagerank_array(cg, alpha, 1e-10, 1000)
    else:
        table["pagerank"] = np.empty(0)
    table["hub"], table["authority"] = _hits_arrays(cg, 1e-10, 10_000)
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
