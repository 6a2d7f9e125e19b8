"""National networks from a large edge file: the graph's tables and the scores, out of core.

What ``referral-graph build`` and ``score`` write when ``--edges`` names a file too large
for pandas and networkx (the CMS national file: 65 million ties, 1.1 million providers),
from the Parquet tie table that :func:`referral_graph.engines.edge_files.read_edge_files`
writes:

* :func:`write_graph_folder` — the graph as the Parquet folder of
  :func:`referral_graph.graph.save_graph` (``nodes.parquet``, ``edges.parquet``,
  ``graph.json``), small counts left out as :func:`~referral_graph.graph.suppress_graph`
  leaves them out, written by DuckDB without building the graph (the folder equals the
  one ``save_graph`` writes of the same tables: tested);
* :func:`score_tables` — ``providers`` (every measure of
  :func:`~referral_graph.centrality.provider_measures` on the compact graph, and the
  community), ``communities`` (:func:`~referral_graph.communities.community_summary`)
  and ``ties`` (the ties as read), with the small-cell suppression of
  :func:`referral_graph.scores.write_tables`: counts 1 to 10 hidden, the ties' referrals
  complementarily by source and by target, what derives from a hidden count hidden.

Private: the commands are the public face (see ``docs/guide-researcher.md``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _worker
from referral_graph._duckdb import duckdb_connect
from referral_graph.engines._rules import _ident, _quote
from referral_graph.privacy import (
    DEFAULT_THRESHOLD,
    DERIVED_FROM,
    PARTITIONS,
    STAND_IN,
    count_columns,
    describe_suppression,
    is_count_name,
    suppress_counts,
)

if TYPE_CHECKING:
    import duckdb

    from referral_graph._compact import CompactGraph

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: Edge files from this size (as CSV: a compressed or Parquet file counts
#: :data:`referral_graph.engines.PACKED_FACTOR` times its size) are built and scored out
#: of core: about 8.5 million CMS rows, which in memory take some 6.5 GB to build or to score
#: (3.8 GB for 5 million; see ``docs/memory.md``).
LARGE_EDGE_FILES = 256 * 1024**2

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")  # fmt: skip


def csv_size(path: PathLike) -> int:
    """The size of an edge file as CSV: its size, times PACKED_FACTOR when packed."""
    from referral_graph.engines import PACKED_FACTOR

    name = os.fspath(path).lower()
    size = os.path.getsize(path)
    packed = name.endswith((".gz", ".zst", ".bz2", ".xz", ".parquet", ".pq"))
    return size * PACKED_FACTOR if packed else size


# ----------------------------------------------------------------------------- suppression


def _is_number(dtype: str) -> bool:
    kind = dtype.upper()
    return kind in _NUMERIC or kind.startswith("DECIMAL")


@dataclass
class _Suppression:
    """The SQL of one table's columns with small counts left out, as ``suppress_graph`` does.

    A count attribute (:func:`~referral_graph.privacy.is_count_name`, a number) from 1 to
    ``threshold - 1`` is left out, with the attributes derived from it
    (:data:`~referral_graph.privacy.DERIVED_FROM`); the element stays, marked
    ``small_cell`` (a column only when some element lost a count).
    """

    select: list[str]
    counts: int = 0
    derived: int = 0
    nullable: set[str] = field(default_factory=set)


def _suppression(
    con: duckdb.DuckDBPyConnection, relation: str, types: Mapping[str, str], threshold: int
) -> _Suppression:
    if not types:
        return _Suppression([])
    counts = [c for c, t in types.items() if _is_number(t) and is_count_name(c)]
    small = {c: f"({_ident(c)} > 0 AND {_ident(c)} < {threshold})" for c in counts}
    if threshold <= 1:
        small = {}
    derived: dict[str, str] = {}
    for c in types:
        sources = [small[s] for s in DERIVED_FROM.get(c, ()) if s in small]
        if sources:
            own = f" AND NOT {small[c]}" if c in small else ""
            derived[c] = f"({_ident(c)} IS NOT NULL{own} AND ({' OR '.join(sources)}))"
    figures = [f"count(*) FILTER (WHERE {m})" for m in [*small.values(), *derived.values()]]
    figures += [f"count(*) FILTER (WHERE {_ident(c)} IS NULL)" for c in types]
    row = con.execute(f"SELECT {', '.join(figures) or '0'} FROM {relation}").fetchall()[0]
    hidden = dict(zip(small, row[: len(small)], strict=True))
    lost = dict(zip(derived, row[len(small) : len(small) + len(derived)], strict=True))
    missing = dict(zip(types, row[len(small) + len(derived) :], strict=True))
    used = {c: m for c, m in small.items() if hidden[c]}
    select: list[str] = []
    nullable = {c for c, n in missing.items() if n}
    for c in types:
        gone = [m for m in (used.get(c), derived.get(c) if lost.get(c) else None) if m]
        if gone:
            select.append(
                f"CASE WHEN {' OR '.join(gone)} THEN NULL ELSE {_ident(c)} END AS {_ident(c)}"
            )
            nullable.add(c)
        else:
            select.append(_ident(c))
    if used:
        select.append(f"CASE WHEN {' OR '.join(used.values())} THEN true END AS small_cell")
        nullable.add("small_cell")
    return _Suppression(select, sum(hidden.values()), sum(lost.values()), nullable)


def _write_parquet(
    con: duckdb.DuckDBPyConnection, sql: str, path: Path, nullable: Iterable[str]
) -> int:
    """Write a query's rows to Parquet with pandas' dtypes (``Int64`` for integer columns with
    missing values, ``boolean`` for ``small_cell``), as ``save_graph`` writes its tables;
    returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    reader = con.sql(sql).to_arrow_reader(1_000_000)
    gaps = set(nullable)
    empty = {}
    for f in reader.schema:
        if pa.types.is_integer(f.type):
            empty[f.name] = pd.Series([], dtype="Int64" if f.name in gaps else "int64")
        elif pa.types.is_boolean(f.type):
            empty[f.name] = pd.Series([], dtype="boolean" if f.name in gaps else "bool")
        elif pa.types.is_floating(f.type):
            empty[f.name] = pd.Series([], dtype="float64")
        elif pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            empty[f.name] = pd.Series([], dtype="str")
        else:
            empty[f.name] = pd.Series([], dtype=object)
    schema = pa.Schema.from_pandas(pd.DataFrame(empty), preserve_index=False)
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch.cast(schema))
            rows += batch.num_rows
    return rows


# ----------------------------------------------------------------------------- the graph


def _provider_table(providers: pd.DataFrame | None) -> pd.DataFrame:
    """One row per provider id, as ``graph_from_tables`` adds the nodes (a repeated id: its
    last values, at its first place)."""
    if providers is None:
        return pd.DataFrame({"id": pd.Series([], dtype="str")})
    table = providers.copy()
    table.attrs = {}  # the reader's report is no column
    table["id"] = table["id"].astype("str")
    if table["id"].duplicated().any():
        table = table.groupby("id", sort=False, as_index=False).last()
    return table


@dataclass
class GraphWritten:
    """What :func:`write_graph_folder` wrote: the graph attributes (``graph.json``, with
    the suppression record) and the numbers of nodes and ties."""

    attributes: dict[str, Any]
    providers: int
    ties: int


def write_graph_folder(
    ties: Path,
    providers: pd.DataFrame | None,
    folder: Path,
    *,
    attributes: Mapping[str, Any],
    threshold: int = DEFAULT_THRESHOLD,
    memory_limit: str = "8GB",
    temp_directory: PathLike | None = None,
) -> GraphWritten:
    """Write the graph of `ties` (Parquet) and `providers` into `folder`, out of core.

    The folder :func:`referral_graph.graph.save_graph` writes of
    ``graph_from_tables(ties, providers)`` with ``threshold``: ``nodes.parquet`` (the
    providers, then the ids met in the ties, in the graph's node order),
    ``edges.parquet`` (the ties in the tie table's order, which ``load_graph`` makes the
    graph's; ``save_graph`` groups them by source) and ``graph.json``
    (`attributes` and what suppression left out). `folder` must exist (the caller's
    ``atomic_folder``). Returns the graph attributes written and the graph's size.
    """
    started = time.perf_counter()
    spill = Path(tempfile.mkdtemp(prefix="referral_graph_duckdb_", dir=temp_directory))
    con = duckdb_connect(memory_limit=memory_limit, temp_directory=str(spill))
    try:
        import pyarrow as pa

        table = _provider_table(providers)
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        con.register("rg_prov_arrow", arrow)
        con.execute(
            "CREATE TEMP TABLE rg_prov AS SELECT *, row_number() OVER () - 1 AS rg_pos "
            "FROM rg_prov_arrow"
        )
        con.unregister("rg_prov_arrow")
        edges = f"read_parquet({_quote(str(ties))}, file_row_number = true)"
        n_prov = len(table)
        # the graph's node order: the providers, then the ids of the ties by first appearance
        con.execute(
            "CREATE TEMP TABLE rg_order AS SELECT id, rg_pos FROM rg_prov UNION ALL "
            f"SELECT id, {n_prov} + row_number() OVER (ORDER BY first) - 1 FROM ("
            "SELECT id, min(k) AS first FROM (SELECT source AS id, 2 * file_row_number AS k "
            f"FROM {edges} UNION ALL SELECT target, 2 * file_row_number + 1 FROM {edges}) "
            "WHERE id NOT IN (SELECT id FROM rg_prov) GROUP BY id)"
        )
        node_types = {
            str(r[0]): str(r[1])
            for r in con.execute("DESCRIBE SELECT * FROM rg_prov").fetchall()
            if r[0] not in ("id", "rg_pos")
        }
        edge_types = {
            str(r[0]): str(r[1])
            for r in con.execute(f"DESCRIBE SELECT * FROM {edges}").fetchall()
            if r[0] not in ("source", "target", "file_row_number")
        }
        nodes_rel = (
            "(SELECT p.* EXCLUDE (id, rg_pos) FROM rg_order o LEFT JOIN rg_prov p USING (id))"
        )
        node_cut = _suppression(con, nodes_rel, node_types, threshold)
        edge_cut = _suppression(con, edges, edge_types, threshold)
        n_nodes = _write_parquet(
            con,
            f"SELECT {', '.join(['o.id', *node_cut.select])} FROM rg_order o "
            "LEFT JOIN rg_prov p USING (id) ORDER BY o.rg_pos",
            folder / "nodes.parquet",
            node_cut.nullable,
        )
        # the ties in the order of the tie table (no sort of millions of rows): read back,
        # each provider's ties are in the graph's order (networkx keeps a node's ties in the
        # order they were added), so load_graph gives save_graph's graph
        con.execute("SET preserve_insertion_order = true")
        n_edges = _write_parquet(
            con,
            f"SELECT source, target{''.join(', ' + s for s in edge_cut.select)} FROM {edges}",
            folder / "edges.parquet",
            edge_cut.nullable,
        )
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    written = {
        **attributes,
        "suppression_threshold": threshold,
        "suppressed_counts": node_cut.counts + edge_cut.counts,
        "suppressed_derived": node_cut.derived + edge_cut.derived,
    }
    text = json.dumps(written, indent=2, default=str)
    (folder / "graph.json").write_text(text, encoding="utf-8")
    logger.info(
        "Saved graph with %s nodes and %s edges to %s out of core in %.1f s",
        f"{n_nodes:,}",
        f"{n_edges:,}",
        folder,
        time.perf_counter() - started,
    )
    return GraphWritten(attributes=written, providers=n_nodes, ties=n_edges)


# ----------------------------------------------------------------------------- the scores


@dataclass
class Scored:
    """What :func:`score_tables` wrote.

    Attributes
    ----------
    paths : dict of str to list of pathlib.Path
        Per table (``providers``, ``communities``, ``ties``), the files written.
    rows : dict of str to int
        Rows per table.
    suppression : str or None
        What small-cell suppression left out (``describe_suppression``).
    providers, ties : int
        The compact graph's size.
    community_method : str
        The community detection run.
    betweenness_k : int or None
        Sources sampled for betweenness (None: not computed).
    seconds : dict of str to float
        Step times.
    """

    paths: dict[str, list[Path]]
    rows: dict[str, int]
    suppression: str | None
    providers: int
    ties: int
    community_method: str
    betweenness_k: int | None
    seconds: dict[str, float] = field(default_factory=dict)


def _with_node_attrs(cg: CompactGraph, providers: pd.DataFrame | None) -> CompactGraph:
    """`cg` with the providers' ``name``, ``specialty`` and ``patients``, as ``from_tables``."""
    if providers is None:
        return cg
    table = providers.drop_duplicates("id", keep="last").set_index(
        providers["id"].astype("str").drop_duplicates(keep="last")
    )
    nodes: dict[str, Any] = {}
    for c in ("name", "specialty", "patients"):
        if c in table.columns:
            values = table[c].reindex(pd.Index(cg.ids, dtype=object)).astype(object)
            nodes[c] = values.where(values.notna(), None).to_numpy(dtype=object)
    return replace(cg, node_attrs=nodes) if nodes else cg


def _communities_and_betweenness(
    cg: CompactGraph, method: str, resolution: float, seed: int, k: int | None
) -> tuple[pd.Series, Any, Any]:
    """The community labels and, when `k` is given, the betweenness columns (in the worker)."""
    from referral_graph import communities
    from referral_graph.centrality._measures import _betweenness_columns

    labels = communities.detect_communities(
        cg,
        method=method,  # type: ignore[arg-type]
        resolution=resolution,
        seed=seed,
    )
    if k is None:
        return labels, None, None
    return (labels, *_betweenness_columns(cg, k=k, seed=seed))


def _method_name(method: str, n_ties: int) -> str:
    """What ``detect_communities(method=...)`` runs on about `n_ties` ties, for the summary
    (``"auto"``: networkit's Leiden from ``AUTO_NETWORKIT_TIES`` undirected ties when it is
    installed, the count of directed ties standing in for them here)."""
    from referral_graph import _networkit
    from referral_graph.communities import AUTO_NETWORKIT_TIES

    if method != "auto":
        return method
    large = n_ties >= AUTO_NETWORKIT_TIES and _networkit.networkit_available()
    return "networkit-leiden" if large else "leiden"


def score_tables(
    ties: Path,
    providers: pd.DataFrame | None,
    folder: Path,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    seed: int = 0,
    betweenness_k: int | None = None,
    community_method: str = "auto",
    resolution: float = 1.0,
) -> Scored:
    """Score the network of `ties` (Parquet, as ``read_edge_files`` writes it) into `folder`.

    ``providers`` (CSV and Parquet): the providers' columns and every measure of
    :func:`~referral_graph.centrality.provider_measures` on the compact graph (closeness,
    Burt's measures and care density are computed up to 5,000 providers, as there;
    betweenness from `betweenness_k` sampled sources, else missing), with
    ``community``; ``communities`` (CSV and Parquet); ``ties.parquet``: the ties as
    read. Counts from 1 to ``threshold - 1`` are hidden in every table, and what would
    give one back (:func:`referral_graph.privacy.suppress_counts`; the ties' referrals
    by source and by target, whose sums ``in_strength`` and ``out_strength`` show).
    `folder` must exist (the caller's ``atomic_folder``).
    """
    from referral_graph import centrality, communities
    from referral_graph.compact import load_compact
    from referral_graph.scores import write_tables

    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    cg = load_compact(ties, nodes=providers, edge_attrs=("patients",))
    cg = _with_node_attrs(cg, providers)
    n_nodes, n_edges = cg.n_nodes, cg.n_edges
    seconds["load"] = time.perf_counter() - clock
    method = _method_name(community_method, n_edges)
    with _worker.Worker(enabled=n_edges >= _worker.WORKER_MIN_TIES) as worker:
        bare = centrality.CompactGraph(cg.ids, cg.src, cg.dst, cg.weight)
        pending = worker.submit(
            _communities_and_betweenness, bare, community_method, resolution, seed, betweenness_k
        )
        del bare
        clock = time.perf_counter()
        measures = centrality.provider_measures(cg, weight="referrals", seed=seed, betweenness_k=0)
        seconds["measures"] = time.perf_counter() - clock
        labels, btw, stderr = pending()
        seconds["communities and betweenness"] = time.perf_counter() - clock - seconds["measures"]
    if btw is not None:
        measures["betweenness"], measures["betweenness_stderr"] = btw, stderr
    measures["community"] = measures["id"].map(labels).astype("Int64")
    summary = communities.community_summary(cg, labels, weight="referrals")
    del cg, labels
    measures["id"] = measures["id"].astype("str")  # as providers_of gives the ids
    # the ties' referrals hidden (small, or giving a small one back by a provider's strength),
    # decided once: the link-analysis scores are computed on the ties as written, then the
    # ties are written with them
    hidden = _hidden_referrals(ties, measures, threshold=threshold)
    if providers is not None:
        attrs = providers.drop(
            columns=[c for c in providers.columns if c in measures.columns and c != "id"]
        )
        attrs = attrs.assign(id=attrs["id"].astype("str"))
        table = attrs.merge(measures, on="id", how="right")
    else:
        table = measures
    clock = time.perf_counter()
    written = write_tables(
        {"providers": table, "communities": summary},
        folder,
        threshold=threshold,
        formats=("csv", "parquet"),
        keep=(),
    )
    paths = {name: list(p) for name, p in written.items()}
    rows = {"providers": len(table), "communities": len(summary)}
    del table, measures, summary
    tie_path, n_ties, record = _write_ties(
        ties, folder / "ties.parquet", threshold=threshold, hidden=hidden
    )
    del hidden
    paths["ties"], rows["ties"] = [tie_path], n_ties
    seconds["writing"] = time.perf_counter() - clock
    records = [*written.records.values(), record]
    return Scored(
        paths=paths,
        rows=rows,
        suppression=describe_suppression(records),
        providers=n_nodes,
        ties=n_edges,
        community_method=method,
        betweenness_k=betweenness_k,
        seconds=seconds,
    )


def _hidden_referrals(
    source: Path, measures: pd.DataFrame, *, threshold: int
) -> npt.NDArray[np.bool_]:
    """The rows of the tie table `source` whose referrals ``ties.parquet`` hides, as
    ``write_tables`` suppresses ``ties``: the small ones, and those that would give one back
    (a provider's ties sum to its ``in_strength`` / ``out_strength``:
    :data:`referral_graph.privacy.PARTITIONS`), decided on the whole table at once,
    narrowed to the ids as integers and the referrals. From the same read, `measures`'
    PageRank, hub and authority are replaced by those of the ties as shown
    (:func:`_link_scores_as_shown`)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    narrow = pq.read_table(source, columns=["source", "target", "referrals"])
    frame = pd.DataFrame()
    dictionaries = {}
    for key in ("source", "target"):
        encoded = pc.dictionary_encode(narrow.column(key).combine_chunks())
        dictionaries[key] = pd.Index(encoded.dictionary.to_pylist()).astype("str")
        frame[key] = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    frame["referrals"] = narrow.column("referrals").to_numpy()
    del narrow
    safe = suppress_counts(frame, threshold=threshold, partitions=PARTITIONS.get("ties", ()))
    hidden: npt.NDArray[np.bool_] = (
        safe["referrals"].isna().to_numpy() & frame["referrals"].notna().to_numpy()
    )
    del safe
    if threshold > 1 and hidden.any():
        _link_scores_as_shown(measures, frame, dictionaries, hidden, threshold=threshold)
    return hidden


def _link_scores_as_shown(
    measures: pd.DataFrame,
    codes: pd.DataFrame,
    dictionaries: Mapping[str, pd.Index],
    hidden: npt.NDArray[np.bool_],
    *,
    threshold: int,
) -> None:
    """Replace `measures`' PageRank, hub and authority by those of the ties as
    ``ties.parquet`` shows them (`hidden` taken as ``STAND_IN * threshold``), as
    :func:`referral_graph.scores.published_link_scores` does for the other commands: from
    the true counts, their equations would give the hidden ones back. `codes`: the ties'
    ``source`` and ``target`` as codes into `dictionaries`, and their ``referrals``. The
    nodes are `measures`' ids, in order (those of the compact graph they were computed
    on)."""
    from referral_graph.centrality import CompactGraph
    from referral_graph.centrality._spectral import link_scores

    ids = pd.Index(measures["id"].astype("str"))
    ends = []
    for key in ("source", "target"):
        at = ids.get_indexer(dictionaries[key])
        if (at < 0).any():  # (the graph's nodes are every id of the ties)
            return
        ends.append(at.astype(np.int32)[codes[key].to_numpy()])
    weight = pd.to_numeric(codes["referrals"]).to_numpy("float64", na_value=np.nan, copy=True)
    weight[hidden] = STAND_IN * threshold
    cg = CompactGraph(ids.to_numpy(dtype=object), ends[0], ends[1], np.nan_to_num(weight))
    del ends, weight
    pagerank, hub, authority = link_scores(cg)
    for col, values in (("pagerank", pagerank), ("hub", hub), ("authority", authority)):
        if col in measures.columns:
            measures[col] = values


def _write_ties(
    source: Path, path: Path, *, threshold: int, hidden: npt.NDArray[np.bool_]
) -> tuple[Path, int, dict[str, Any]]:
    """The tie table as read, suppressed as ``write_tables`` suppresses ``ties``, in batches:
    each batch of rows by ``suppress_counts``, its referrals `hidden`
    (:func:`_hidden_referrals`) hidden besides the small ones."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from referral_graph.io import atomic_path

    file = pq.ParquetFile(source)
    names = file.schema_arrow.names
    # a layout's own copy of the referrals (CMS's pair_count) hides what they hide
    copies = [
        c
        for c, kind in zip(names, file.schema_arrow.types, strict=True)
        if c != "referrals" and pa.types.is_integer(kind) and _same_as_referrals(file, c)
    ]
    totals: dict[str, dict[str, int]] = {"hidden": {}, "complementary": {}, "derived": {}}
    rows = 0
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    with atomic_path(path) as tmp:
        try:
            for batch in file.iter_batches(batch_size=1_000_000):
                part = batch.to_pandas()
                mask = pd.Series(hidden[rows : rows + len(part)], index=part.index)
                safe = suppress_counts(
                    part,
                    threshold=threshold,
                    hide={c: mask for c in ("referrals", *copies)},
                )
                for key in totals:
                    for col, n in safe.attrs["suppression"][key].items():
                        totals[key][col] = totals[key].get(col, 0) + n
                for col in count_columns(part):
                    if col in safe.columns:
                        safe[col] = safe[col].astype("Int64")
                safe.attrs = {}
                table = pa.Table.from_pandas(safe, preserve_index=False)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                writer.write_table(table.cast(schema))
                rows += len(part)
        finally:
            if writer is not None:
                writer.close()
    record = {"threshold": threshold, **totals}
    logger.info("Wrote %s ties to %s", f"{rows:,}", path)
    return path, rows, record


def _same_as_referrals(file: Any, column: str) -> bool:
    """Whether `column` of the Parquet file holds the referrals again (CMS's pair_count)."""
    import pyarrow.compute as pc

    table = file.read(columns=["referrals", column])
    same = pc.all(pc.equal(table.column("referrals"), table.column(column))).as_py()
    return bool(same) and table.column(column).null_count == 0
