"""The compact graph: a referral network as arrays, read straight from Parquet tables.

A ``networkx.DiGraph`` costs about a kilobyte per tie; a national network of tens of
millions of ties does not fit that way. :class:`CompactGraph` holds the same ties in
four NumPy arrays (node ids, source and target codes, weights); every measure of
:mod:`referral_graph.centrality` and :mod:`referral_graph.communities` accepts it.

* :func:`read_output` reads a panel or tie table written by the ``files`` or ``spark``
  engine with the dtypes of :mod:`referral_graph.aggregate`;
* :func:`load_compact` builds a :class:`CompactGraph` from such a table without
  networkx (DuckDB sums a panel to ties; ids are dictionary-encoded by Arrow);
* :func:`as_compact` takes either form of a graph and returns the compact one.

Examples
--------
>>> import tempfile, pathlib
>>> import pandas as pd
>>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
>>> pd.DataFrame({"source": ["A", "B"], "target": ["B", "C"], "referrals": [2, 1]}).to_parquet(p)
>>> cg = load_compact(p)
>>> cg.ids.tolist(), cg.weight.tolist()
(['A', 'B', 'C'], [2.0, 1.0])
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from referral_graph import io as _io
from referral_graph._compact import CompactGraph, _coalesce, as_compact
from referral_graph._duckdb import duckdb_connect
from referral_graph.engines._rules import (
    PathLike,
    _expand_paths,
    _ident,
    _quote,
    _report_name,
    read_output,
)
from referral_graph.exceptions import ParameterError, SchemaError

__all__ = ["CompactGraph", "as_compact", "load_compact", "read_output"]

logger = logging.getLogger(__name__)


def _unified_codes(column: Any) -> tuple[Any, np.ndarray]:
    """Dictionary-encode an Arrow (chunked) string column: (dictionary, int64 indices).

    Chunks are combined first (one dictionary for the column: combining dictionary
    chunks that share their dictionary is immediate, unlike ``unify_dictionaries``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 0:
            return pa.array([], pa.string()), np.empty(0, dtype=np.int64)
        try:
            column = column.combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowCapacityError, OverflowError):
            # more than 2 GB of text in one column: 64-bit offsets
            column = column.cast(pa.large_string()).combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    dictionary = column.dictionary
    indices = column.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        dictionary = pc.cast(dictionary, pa.string())
    return dictionary, indices


def load_compact(
    edges: PathLike | Sequence[PathLike],
    *,
    weight: str | None = "referrals",
    nodes: pd.DataFrame | Iterable[str] | PathLike | None = None,
    edge_attrs: Sequence[str] = (),
) -> CompactGraph:
    """Load a tie table (or panel) from Parquet as a :class:`CompactGraph`, without networkx.

    Only the ``source``, ``target`` and `weight` columns are read; ids are
    dictionary-encoded by Arrow (no Python string per edge), so a graph of
    20 million ties loads in seconds and takes about 16 bytes per tie plus
    ~100 bytes per provider (see ``docs/memory.md``).

    Parameters
    ----------
    edges : path or sequence of paths
        ``ties.parquet`` from :func:`aggregate_files` (or the Spark engine, or
        ``save_graph``'s ``edges.parquet``), a folder of Parquet parts, or a
        panel (with ``month``): its months are summed.
    weight : str or None, default "referrals"
        Column used as tie strength; missing values count 1.0 (logged).
        ``None``: every tie is 1.
    nodes : DataFrame, iterable of str or path, optional
        Providers to include even without ties (a providers table with ``id``,
        a Parquet/CSV providers file, or ids); they come first in node order.
    edge_attrs : sequence of str, default ()
        Columns kept as :attr:`CompactGraph.edge_attrs` where present (numbers,
        missing = 0), as :meth:`CompactGraph.from_tables` keeps them: ``("patients",)``
        gives :func:`~referral_graph.centrality.provider_measures` its patient-sharing
        columns. A panel's ``patients`` is left out (distinct patients do not add up
        over months); its other columns are summed.

    Returns
    -------
    CompactGraph
        Equal to ``CompactGraph.from_networkx(graph_from_tables(ties, providers))``,
        arrays and order included: nodes are the given ones, then ids by first
        appearance reading the ties row by row, source before target; ties are
        grouped by source in node order. So every measure, communities
        included, equals the one computed from the networkx graph.

    Raises
    ------
    SchemaError
        If a column is missing.
    ParameterError
        On a missing id or a negative or non-finite weight.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
    >>> pd.DataFrame({"source": ["A", "B"], "target": ["B", "C"],
    ...               "referrals": [4, 1]}).to_parquet(p)
    >>> cg = load_compact(p, nodes=["Z"])
    >>> cg.ids.tolist(), cg.src.tolist(), cg.dst.tolist(), cg.weight.tolist()
    (['Z', 'A', 'B', 'C'], [1, 2], [2, 3], [4.0, 1.0])
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    files = _expand_paths(edges, "edges")
    names = pq.read_schema(files[0]).names
    wanted = ["source", "target"] + ([weight] if weight is not None else [])
    missing = [c for c in wanted if c not in names]
    if missing:
        raise SchemaError(
            f"{files[0]}: column(s) {', '.join(repr(c) for c in missing)} missing; columns "
            f"found: {', '.join(names)}."
        )
    panel = "month" in names
    extra = [
        c for c in edge_attrs if c in names and c not in wanted and not (panel and c == "patients")
    ]
    if panel:  # one tie per (source, target), as graph_from_tables does
        listing = "[" + ", ".join(_quote(str(f)) for f in files) + "]"
        w = f"sum({_ident(weight)})" if weight is not None else "NULL"
        sums = "".join(f", CAST(sum({_ident(c)}) AS DOUBLE) AS {_ident(c)}" for c in extra)
        con = duckdb_connect()
        try:
            table = con.sql(
                f"SELECT source, target, CAST({w} AS DOUBLE) AS w{sums} "
                f"FROM read_parquet({listing}) GROUP BY source, target ORDER BY source, target"
            ).to_arrow_table()
        finally:
            con.close()
        weight_col = "w" if weight is not None else None
    else:
        source = files[0] if len(files) == 1 else [str(f) for f in files]
        table = pq.read_table(source, columns=wanted + extra)
        weight_col = weight
    m = table.num_rows
    for c in ("source", "target"):
        nulls = table.column(c).null_count
        if nulls:
            raise ParameterError(
                f"The '{c}' column of {files[0]} must not contain missing ids. Got {nulls} "
                "missing instead."
            )
    src_dict, src_idx = _unified_codes(table.column("source"))
    dst_dict, dst_idx = _unified_codes(table.column("target"))
    lead_ids = _lead_nodes(nodes)
    lead = pa.array(lead_ids, type=pa.string())
    # One dictionary for all: positions in [lead | source dict | target dict] -> global code.
    pooled = pa.concat_arrays(
        [lead, pc.cast(src_dict, pa.string()), pc.cast(dst_dict, pa.string())]
    )
    pooled_enc = pc.dictionary_encode(pooled)
    to_global = pooled_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    dictionary = pooled_enc.dictionary
    n_lead, n_src = len(lead), len(src_dict)
    seq = np.empty(n_lead + 2 * m, dtype=np.int64)
    seq[:n_lead] = to_global[:n_lead]
    seq[n_lead::2] = to_global[n_lead + src_idx]
    seq[n_lead + 1 :: 2] = to_global[n_lead + n_src + dst_idx]
    del src_idx, dst_idx
    codes, uniques = pd.factorize(seq)  # first-appearance order, as networkx adds nodes
    del seq
    ids = np.asarray(
        dictionary.take(pa.array(uniques)).to_numpy(zero_copy_only=False), dtype=object
    )
    src = codes[n_lead::2].astype(np.int32)
    dst = codes[n_lead + 1 :: 2].astype(np.int32)
    del codes
    if weight_col is None:
        w_arr = np.ones(m, dtype=np.float64)
    else:
        col = table.column(weight_col)
        if col.null_count:
            logger.info("%d of %d ties have no %r value; counted as 1.0", col.null_count, m, weight)
            col = pc.fill_null(col, 1)
        try:
            w_arr = np.asarray(
                pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ParameterError(
                f"The {weight!r} column must hold numbers (tie strengths). Got {col.type}."
            ) from exc
    attrs = [_edge_attr(table.column(c), c) for c in extra]
    del table
    src, dst, (w_arr, *attrs) = _coalesce(src, dst, len(ids), [w_arr, *attrs])
    # Ties grouped by source in node order (stable: table order within a source), the
    # order in which CompactGraph.from_networkx walks the adjacency.
    order = np.argsort(src, kind="stable")
    cg = CompactGraph(
        ids,
        src[order],
        dst[order],
        w_arr[order],
        edge_attrs={c: a[order] for c, a in zip(extra, attrs, strict=True)},
    )
    del order, attrs
    logger.info(
        "load_compact: %s providers, %s ties from %s in %.1f s",
        f"{cg.n_nodes:,}",
        f"{cg.n_edges:,}",
        _report_name(files),
        time.perf_counter() - started,
    )
    return cg


def _edge_attr(column: Any, name: str) -> np.ndarray:
    """An edge attribute column as float64, missing values 0 (as ``from_tables`` reads it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(pc.fill_null(column, 0), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ParameterError(f"The {name!r} column must hold numbers. Got {column.type}.") from exc
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _lead_nodes(nodes: pd.DataFrame | Iterable[str] | PathLike | None) -> list[str]:
    if nodes is None:
        return []
    if isinstance(nodes, pd.DataFrame):
        if "id" not in nodes.columns:
            raise SchemaError("The providers table lacks the 'id' column.")
        return nodes["id"].astype(str).tolist()
    if isinstance(nodes, str | os.PathLike):
        return _io.read_providers(nodes)["id"].astype(str).tolist()
    return [str(n) for n in nodes]
