"""The compact graph: node ids and ties as NumPy arrays, and its conversions (private).

:class:`CompactGraph` is the form every measure works on (public as
:class:`referral_graph.centrality.CompactGraph`); the helpers here turn networkx
graphs and tie tables into it, merge repeated ties, and hand its arrays to igraph.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from referral_graph import _memo
from referral_graph.exceptions import ParameterError

# Logged under the public name of the compact graph (referral_graph.centrality.CompactGraph).
logger = logging.getLogger("referral_graph.centrality")

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
            The graph's arrays (ids, sources, targets, weights).

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
            The graph's arrays (ids, sources, targets, weights).

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
    # pandas' inference runs in C (a Python loop over 300,000 ids took 1.5 s)
    kind = pd.api.types.infer_dtype(ids, skipna=False)
    return "string" if kind in ("string", "empty") else "object"


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


def as_compact(G: Any, weight: str | None, func: str) -> CompactGraph:
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


def igraph_graph(n: int, a: npt.NDArray[Any], b: npt.NDArray[Any], *, directed: bool) -> Any:
    """An igraph.Graph with ties ``a[i] - b[i]`` (``add_edges`` with an int64 array is fast)."""
    import igraph as ig

    graph = ig.Graph(n=n, directed=directed)
    graph.add_edges(np.column_stack([a, b]).astype(np.int64))
    return graph
