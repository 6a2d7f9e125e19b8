"""The referral graph: tables -> ``networkx.DiGraph`` and back, and files.

The graph is a plain :class:`networkx.DiGraph`, so every networkx algorithm
(and backend) works on it. Nodes are provider ids (strings) carrying the
providers table's columns as attributes; edges point from the referring
provider to the receiving one and carry the tie table's columns
(``referrals``, ``patients``, ``amount``, ``first_date``, ``last_date``,
``active_months``, and a layout's own counts). Dates are stored as ISO
strings (``"2024-03-01"``) so that the graph writes to GraphML and GEXF;
missing values are left out of the attributes.

Graph attributes: ``name``, ``weight`` (the default weight attribute,
``"referrals"``), ``period_start`` / ``period_end`` (ISO dates, when known),
``layout`` (the input layout) and ``referral_graph_version``.

Examples
--------
>>> import pandas as pd
>>> ties = pd.DataFrame({"source": ["A", "B"], "target": ["C", "C"], "referrals": [12, 30]})
>>> providers = pd.DataFrame({"id": ["A", "B", "C"], "specialty": ["FM", "IM", "Cardiology"]})
>>> G = graph_from_tables(ties, providers)
>>> G.number_of_nodes(), G.number_of_edges(), G.edges["B", "C"]["referrals"]
(3, 2, 30)
>>> nodes, edges = graph_to_tables(G)
>>> edges["referrals"].tolist()
[12, 30]
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from referral_graph._graph_cells import (
    Suppressor,
    blank,
    column_values,
    hidden_ties,
    hide_ties,
    native,
)
from referral_graph._graphml import write_graphml, write_graphml_columns
from referral_graph._version import __version__
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.io import atomic_path
from referral_graph.io._folders import atomic_folder
from referral_graph.privacy import (
    DEFAULT_THRESHOLD,
)

__all__ = [
    "graph_from_tables",
    "graph_to_tables",
    "induced_subgraph",
    "load_graph",
    "period_of_ties",
    "save_graph",
    "save_graph_from_tables",
    "suppress_graph",
]

logger = logging.getLogger(__name__)

DATE_COLUMNS = ("first_date", "last_date", "month")


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as dicts of native values, leaving out missing ones.

    Built column-wise (numpy ``tolist`` gives native types at C speed); only
    the columns that have missing values need a per-row filter.
    """
    if not columns:
        return [{} for _ in range(len(frame))]
    lists, gappy = [], []
    for c in columns:
        values, has_missing = column_values(frame[c])
        lists.append(values)
        gappy.append(has_missing)
    rows = [dict(zip(columns, vals, strict=True)) for vals in zip(*lists, strict=True)]
    for c, has_missing in zip(columns, gappy, strict=True):
        if has_missing:
            for row in rows:
                if row[c] is None:
                    del row[c]
    return rows


def graph_from_tables(
    ties: pd.DataFrame,
    providers: pd.DataFrame | None = None,
    *,
    isolates: bool = True,
    name: str | None = None,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> nx.DiGraph:
    """Build the directed referral graph from a tie table and a providers table.

    Parameters
    ----------
    ties : pandas.DataFrame
        One row per (source, target): from :func:`referral_graph.aggregate.tie_table`
        or :func:`referral_graph.io.read_edges`. A table with a ``month``
        column (an edge panel) is summed over months first.
    providers : pandas.DataFrame, optional
        From :func:`referral_graph.io.read_providers`.
    isolates : bool, default True
        Keep providers that have no tie as isolated nodes.
    name : str, optional
        Stored as ``G.graph["name"]``.
    period : (Timestamp, Timestamp), optional
        First and last event dates, stored as ``period_start`` / ``period_end``.
        Taken from ``first_date`` / ``last_date`` when omitted.

    Returns
    -------
    networkx.DiGraph
        Ids present in the ties but absent from `providers` become nodes
        without attributes (a warning gives their number). Graph attributes
        kept by :func:`graph_to_tables` in ``ties.attrs["graph"]`` are
        restored (so that ``graph_from_tables(*reversed(graph_to_tables(G)))``
        equals ``G``).

    Raises
    ------
    SchemaError
        If `ties` lacks ``source``/``target`` or `providers` lacks ``id``.
    """
    for col in ("source", "target"):
        if col not in ties.columns:
            raise SchemaError(f"The tie table lacks the {col!r} column.")
    if "month" in ties.columns:
        ties = _sum_over_months(ties)
    G: nx.DiGraph = nx.DiGraph()
    G.graph.update(_graph_attributes(ties, name=name, period=period))
    if providers is not None:
        if "id" not in providers.columns:
            raise SchemaError("The providers table lacks the 'id' column.")
        node_cols = [c for c in providers.columns if c != "id"]
        node_ids = providers["id"].astype(str).tolist()
        if isolates:
            keep = np.ones(len(providers), dtype=bool)
        else:
            used = pd.Index(ties["source"]).append(pd.Index(ties["target"])).unique()
            keep = providers["id"].isin(used).to_numpy()
        attrs = _records(providers.loc[keep], node_cols)
        G.add_nodes_from(zip(np.asarray(node_ids, dtype=object)[keep].tolist(), attrs, strict=True))
    edge_cols = [c for c in ties.columns if c not in ("source", "target")]
    sources = ties["source"].astype(str).tolist()
    targets = ties["target"].astype(str).tolist()
    before = G.number_of_nodes()
    _add_edges(G, sources, targets, _records(ties, edge_cols))
    if providers is not None and G.number_of_nodes() > before:
        logger.warning(
            "%s provider ids in the ties are not in the providers table; they are nodes "
            "without attributes",
            f"{G.number_of_nodes() - before:,}",
        )
    logger.info(
        "Built referral graph with %s nodes and %s edges",
        f"{G.number_of_nodes():,}",
        f"{G.number_of_edges():,}",
    )
    return G


def _graph_attributes(
    ties: pd.DataFrame, *, name: str | None, period: tuple[pd.Timestamp, pd.Timestamp] | None
) -> dict[str, Any]:
    """The graph attributes :func:`graph_from_tables` gives the graph of `ties`."""
    attrs: dict[str, Any] = {}
    stored = ties.attrs.get("graph")
    if isinstance(stored, dict):
        attrs.update(stored)
    attrs.update(
        name=name or str(attrs.get("name") or ties.attrs.get("name", "referral graph")),
        weight=attrs.get("weight", "referrals"),
        referral_graph_version=__version__,
    )
    if "layout" in ties.attrs:
        attrs["layout"] = ties.attrs["layout"]
    has_period = "period_start" in attrs and "period_end" in attrs
    if period is None and not has_period:
        period = period_of_ties(ties)
    if period is not None:
        attrs["period_start"] = period[0].date().isoformat()
        attrs["period_end"] = period[1].date().isoformat()
    return attrs


def _add_edges(
    G: nx.DiGraph, sources: list[str], targets: list[str], records: list[dict[str, Any]]
) -> None:
    """``G.add_edges_from(zip(sources, targets, records))``, without copying each record.

    ``add_edges_from`` copies every attribute dict into a new one, a third of
    the build time on large tables; here each record becomes the edge's
    attribute dict itself, stored in the graph's adjacency exactly as
    networkx stores it (``G._succ[u][v] is G._pred[v][u]``). A repeated
    (source, target) updates the edge, as ``add_edges_from`` does.
    """
    succ, pred, node = G._succ, G._pred, G._node
    for u, v, data in zip(sources, targets, records, strict=True):
        for n in (u, v):
            if n not in succ:
                succ[n] = G.adjlist_inner_dict_factory()
                pred[n] = G.adjlist_inner_dict_factory()
                node[n] = G.node_attr_dict_factory()
        existing = succ[u].get(v)
        if existing is None:
            succ[u][v] = data
            pred[v][u] = data
        else:
            existing.update(data)
    nx._clear_cache(G)


def induced_subgraph(G: nx.DiGraph, nodes: Iterable[Hashable]) -> nx.DiGraph:
    """The subgraph of `G` induced on `nodes`, as a new graph in `G`'s node and tie order.

    Unlike ``G.subgraph(nodes)``, which iterates a small node set in the set's own
    order (string hashing is salted per process), the result is the same in every
    Python process, so layouts and pages drawn from it are reproducible.

    Examples
    --------
    >>> G = nx.DiGraph([("A", "B"), ("B", "C"), ("C", "A")])
    >>> H = induced_subgraph(G, {"C", "A"})
    >>> list(H.nodes), list(H.edges)
    (['A', 'C'], [('C', 'A')])
    """
    keep = set(nodes)
    order = [n for n in G if n in keep]
    H = G.__class__()
    H.graph.update(G.graph)
    H.add_nodes_from((n, G.nodes[n]) for n in order)
    H.add_edges_from((u, v, d) for u in order for v, d in G.succ[u].items() if v in keep)
    return H


def period_of_ties(ties: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last dates of a tie table (``first_date`` / ``last_date``), or None.

    A table with first dates only ends at the latest first date; an edge panel
    (``month``) spans its first month to the end of its last.

    Examples
    --------
    >>> ties = pd.DataFrame({"first_date": ["2024-01-05", "2024-03-01"],
    ...                      "last_date": ["2024-02-01", "2024-06-30"]})
    >>> [d.date().isoformat() for d in period_of_ties(ties)]
    ['2024-01-05', '2024-06-30']
    """
    if "month" in ties.columns and ties["month"].notna().any():
        months = pd.to_datetime(ties["month"])
        return pd.Timestamp(months.min()), pd.Timestamp(months.max()) + pd.offsets.MonthEnd(0)
    if "first_date" not in ties.columns or not ties["first_date"].notna().any():
        return None
    ends = ties["last_date"] if "last_date" in ties else ties["first_date"]
    return (
        pd.Timestamp(pd.to_datetime(ties["first_date"], format="ISO8601").min()),
        pd.Timestamp(pd.to_datetime(ends, format="ISO8601").max()),
    )


def _sum_over_months(panel: pd.DataFrame) -> pd.DataFrame:
    numeric = [
        c
        for c in panel.columns
        if c not in ("source", "target", "month")
        and pd.api.types.is_numeric_dtype(panel[c])
        and c != "patients"
    ]
    grouped = panel.groupby(["source", "target"], sort=True)
    ties = grouped[numeric].sum().reset_index()
    ties["first_date"] = grouped["month"].min().to_numpy()
    ties["last_date"] = (grouped["month"].max() + pd.offsets.MonthEnd(0)).to_numpy()
    ties["active_months"] = grouped["month"].nunique().to_numpy()
    ties.attrs = dict(panel.attrs)
    return ties


def _column(values: list[Any]) -> pd.Series:
    """One attribute as a typed column: attributes absent from an element are missing.

    Whole numbers stay integers (``Int64`` when some are missing) and yes/no
    values booleans, so that a table -> graph -> table trip keeps the types.
    """
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    complete = len(present) == len(values)
    if present and all(isinstance(v, bool | np.bool_) for v in present):
        return pd.Series(values, dtype="bool" if complete else "boolean")
    if present and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in present
    ):
        return pd.Series(values, dtype="int64" if complete else "Int64")
    if present and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        for v in present
    ):
        return pd.Series(values, dtype="float64")
    if all(isinstance(v, str) for v in present):
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=object)


def _attribute_table(keys: dict[str, pd.Series], rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    data: dict[str, pd.Series] = dict(keys)
    for c in columns:
        if c not in data:
            data[c] = _column([row.get(c) for row in rows])
    frame = pd.DataFrame(data)
    for c in DATE_COLUMNS:
        if c in frame.columns and c not in keys:
            frame[c] = pd.to_datetime(frame[c], format="ISO8601").astype("datetime64[ns]")
    return frame


def graph_to_tables(G: nx.DiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the node table and the edge table of a referral graph.

    The inverse of :func:`graph_from_tables`: ``id`` plus every node
    attribute; ``source``, ``target`` plus every edge attribute (a value
    absent from an element is missing; whole numbers stay integers). ISO date
    strings in ``first_date`` / ``last_date`` become datetimes. The graph
    attributes are kept in ``attrs["graph"]`` of both tables.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b", {"referrals": 3})])
    >>> graph_to_tables(G)[1].to_dict("records")
    [{'source': 'a', 'target': 'b', 'referrals': 3}]
    """
    node_ids = pd.Series([str(n) for n in G.nodes], dtype="str")
    nodes = _attribute_table({"id": node_ids}, [d for _, d in G.nodes(data=True)])
    edge_list = list(G.edges(data=True))
    ends = {
        "source": pd.Series([str(u) for u, _, _ in edge_list], dtype="str"),
        "target": pd.Series([str(v) for _, v, _ in edge_list], dtype="str"),
    }
    edges = _attribute_table(ends, [d for _, _, d in edge_list])
    for frame in (nodes, edges):
        frame.attrs["graph"] = dict(G.graph)
    if "name" in G.graph:
        edges.attrs["name"] = G.graph["name"]
    if "layout" in G.graph:
        edges.attrs["layout"] = G.graph["layout"]
    return nodes, edges


def _graphml_safe(G: nx.DiGraph) -> nx.DiGraph:
    """A copy whose attribute values GraphML / GEXF can store (no None, native types)."""
    H: nx.DiGraph = nx.DiGraph()
    H.graph.update({k: native(v) for k, v in G.graph.items() if v is not None})
    H.add_nodes_from(
        (n, {k: native(v) for k, v in d.items() if v is not None}) for n, d in G.nodes(data=True)
    )
    H.add_edges_from(
        (u, v, {k: native(x) for k, x in d.items() if x is not None})
        for u, v, d in G.edges(data=True)
    )
    return H


def suppress_graph(G: nx.DiGraph, *, threshold: int = DEFAULT_THRESHOLD) -> nx.DiGraph:
    """A copy of `G` without count attributes from 1 to ``threshold - 1``, nor what reveals one.

    An attribute derived from a hidden count (:data:`referral_graph.privacy.DERIVED_FROM`:
    an amount, a share, ``volume``...) goes too; the node or tie itself stays, marked
    ``small_cell=True`` so that a weighted analysis (Gephi, networkx's ``weight=``,
    which read a missing weight as 1) can tell a hidden count from a count of 1:
    drop or impute those ties knowingly. The copy's graph attributes say what was
    left out: ``suppression_threshold``, ``suppressed_counts`` and
    ``suppressed_derived`` (how many values).

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b", {"referrals": 3, "amount": 9.0}), ("b", "c", {"referrals": 30})])
    >>> H = suppress_graph(G)
    >>> H.edges["a", "b"], H.edges["b", "c"], H.graph["suppressed_counts"]
    ({'small_cell': True}, {'referrals': 30}, 1)
    """
    clean = Suppressor(threshold)
    H: nx.DiGraph = nx.DiGraph()
    H.graph.update(G.graph)
    H.add_nodes_from((n, clean(d)) for n, d in G.nodes(data=True))
    H.add_edges_from((u, v, clean(d)) for u, v, d in G.edges(data=True))
    H.graph.update(clean.record())
    return H


def _as_is(data: dict[str, Any]) -> dict[str, Any]:
    return data


def save_graph_from_tables(
    ties: pd.DataFrame,
    providers: pd.DataFrame | None,
    path: str | os.PathLike[str],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    hide: Mapping[str, pd.Series] | None = None,
) -> dict[str, Any]:
    """Write the graph of a tie table and a providers table, without building it in memory.

    The file is the one ``save_graph(graph_from_tables(ties, providers, period=period),
    path, threshold=threshold)`` writes, small counts left out alike (tested), for
    what has the tables and needs only the file (``referral-graph build``). A
    GraphML file is written column by column, several times faster than through a
    networkx graph on a large market (50,000 providers and 770,000 ties: about 3 s
    instead of 20 s); the other formats, and tables that repeat a provider id or a
    tie (the graph merges them), go through the graph.

    Parameters
    ----------
    ties, providers : pandas.DataFrame
        As in :func:`graph_from_tables` (`providers` may be None).
    path : path
        ``.graphml``, ``.gexf`` or a folder (Parquet tables), as in :func:`save_graph`.
    threshold : int, default 11
        Counts from 1 to ``threshold - 1`` are left out (see :func:`suppress_graph`);
        ``1`` writes every count.
    period : (Timestamp, Timestamp), optional
        As in :func:`graph_from_tables`.
    hide : mapping of str to boolean Series, optional
        Tie counts to leave out besides the small ones, per column of `ties`: a
        boolean Series on its index (for instance what a report's ``ties.csv`` hides
        by complementary suppression, so that the file beside it does not show
        them: :func:`referral_graph.report.write_report` with ``graph=True``). Their
        derived values go too, and the ties are marked ``small_cell`` as for a
        small count; the graph attribute ``suppressed_complementary`` counts them.

    Returns
    -------
    dict
        The graph attributes written, among them what suppression left out
        (``suppression_threshold``, ``suppressed_counts``, ``suppressed_derived``,
        and ``suppressed_complementary`` with `hide`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ties = pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"], "referrals": [3, 30]})
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.graphml"
    >>> save_graph_from_tables(ties, None, path)["suppressed_counts"]
    1
    >>> H = load_graph(path)
    >>> H.edges["a", "b"], H.edges["b", "c"]
    ({'small_cell': True}, {'referrals': 30})
    """
    target = Path(os.fspath(path))
    Suppressor(threshold)  # the threshold checked before anything is read or written
    hidden = hidden_ties(ties, hide)
    written = None
    if target.suffix.lower() == ".graphml":
        written = _graphml_from_tables(
            ties, providers, target, threshold=threshold, period=period, hidden=hidden
        )
    if written is None:
        G = graph_from_tables(ties, providers, period=period)
        if threshold > 1 or hidden is not None:
            G = suppress_graph(G, threshold=threshold)
        if hidden is not None:
            hide_ties(G, ties, hidden)
        save_graph(G, target, threshold=1)  # suppressed above, its record kept
        written = {**G.graph, **_suppression_record(G.graph, 1)}
    return written


def _graphml_from_tables(
    ties: pd.DataFrame,
    providers: pd.DataFrame | None,
    target: Path,
    *,
    threshold: int,
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    hidden: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> dict[str, Any] | None:
    """:func:`save_graph_from_tables` to GraphML, column by column; None (nothing written)
    when the tables need the graph's own rules: a provider id or a tie given twice (the
    graph merges them), a ``small_cell`` column.

    The nodes are the providers, then the ids of the ties absent from them (the
    graph's node order); the ties are grouped by their source's node, as the graph
    iterates them; small counts are left out by :meth:`Suppressor.columns`.
    """
    if "month" in ties.columns:
        ties = _sum_over_months(ties)
    if providers is None:
        providers = pd.DataFrame({"id": pd.Series([], dtype="str")})
    if "small_cell" in ties.columns or "small_cell" in providers.columns:
        return None
    clean = Suppressor(threshold) if threshold > 1 or hidden is not None else None
    node_ids = _id_text(providers["id"])
    if pc.count_distinct(node_ids).as_py() != len(node_ids):
        return None
    sources, targets = _id_text(ties["source"]), _id_text(ties["target"])
    source_at, target_at = pc.index_in(sources, node_ids), pc.index_in(targets, node_ids)
    extra = np.empty(0, dtype=object)
    if source_at.null_count or target_at.null_count:
        # ids absent from the providers: nodes in the order the graph meets them
        both = np.empty(2 * len(ties), dtype=object)
        both[0::2], both[1::2] = (
            sources.to_numpy(zero_copy_only=False),
            targets.to_numpy(zero_copy_only=False),
        )
        unknown = np.empty(2 * len(ties), dtype=bool)
        unknown[0::2] = source_at.is_null().to_numpy(zero_copy_only=False)
        unknown[1::2] = target_at.is_null().to_numpy(zero_copy_only=False)
        extra = pd.unique(both[unknown])
        logger.warning(
            "%s provider ids in the ties are not in the providers table; they are nodes "
            "without attributes",
            f"{len(extra):,}",
        )
        node_ids = pa.concat_arrays([node_ids, pa.array(extra, pa.large_string())])
        source_at, target_at = pc.index_in(sources, node_ids), pc.index_in(targets, node_ids)
    source_pos = source_at.to_numpy(zero_copy_only=False).astype(np.int64)
    target_pos = target_at.to_numpy(zero_copy_only=False).astype(np.int64)
    if pd.Series(source_pos * len(node_ids) + target_pos).duplicated().any():
        return None
    attributes = _graph_attributes(ties, name=None, period=period)
    edge_frame = ties.drop(columns=["source", "target"])
    # the ties grouped by their source's node, as the graph iterates them
    if len(source_pos) and not (np.diff(source_pos) >= 0).all():
        order = np.argsort(source_pos, kind="stable")
        edge_frame = edge_frame.take(order)
        source_pos, target_pos = source_pos[order], target_pos[order]
        if hidden is not None:
            hidden = {k: rows[order] for k, rows in hidden.items()}
    edge_frame = edge_frame.reset_index(drop=True)
    node_frame = providers.drop(columns="id").reset_index(drop=True)
    if len(extra):
        node_frame = _with_absent_rows(node_frame, len(extra))
    node_columns = _writer_columns(node_frame)
    edge_columns = _writer_columns(edge_frame)
    if clean is not None:
        node_columns = _suppressed(clean, node_frame, node_columns)
        edge_columns = _suppressed(clean, edge_frame, edge_columns, also=hidden)
        record = clean.record()
        if hidden is not None:
            record["suppressed_complementary"] = clean.complementary
    else:
        record = _suppression_record(attributes, 1)
    graph_data = {k: native(v) for k, v in {**attributes, **record}.items() if v is not None}
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        write_graphml_columns(
            node_ids,
            node_columns,
            source_pos,
            target_pos,
            edge_columns,
            graph_data,
            handle,
        )
    logger.info(
        "Saved graph with %s nodes and %s edges to %s",
        f"{len(node_ids):,}",
        f"{len(source_pos):,}",
        target,
    )
    return {**attributes, **record}


def _id_text(column: pd.Series) -> pa.Array:
    """A column of ids as Arrow text, as ``column.astype(str)`` writes them (Arrow-backed
    text taken as it is, without a round trip through Python strings)."""
    if isinstance(column.dtype, pd.StringDtype) and not column.isna().any():
        text = pa.array(column, from_pandas=True)
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        return text.cast(pa.large_string())
    return pa.array([str(v) for v in column.astype(str).tolist()], pa.large_string())


def _with_absent_rows(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """`frame` and `n` rows of missing values below, each column keeping its kind
    (whole numbers and booleans become their nullable dtypes, not floats)."""
    out = {}
    for c in frame.columns:
        col = frame[c]
        out[c] = _nullable(col).reindex(range(len(frame) + n))
    return pd.DataFrame(out, index=range(len(frame) + n))


def _writer_columns(frame: pd.DataFrame) -> dict[str, pd.Series | list[Any]]:
    """`frame`'s columns as the GraphML writer takes them: typed Series as they are,
    others as lists of native values (None where missing), as :func:`graph_from_tables`
    gives the graph's attributes."""
    from referral_graph._graphml import _fast

    return {
        str(c): frame[c] if _fast(frame[c]) else column_values(frame[c])[0] for c in frame.columns
    }


def _hide(column: pd.Series | list[Any], mask: npt.NDArray[np.bool_]) -> pd.Series | list[Any]:
    """`column` without the values at `mask` (missing there), of the same kind."""
    if isinstance(column, list):
        blank(column, mask)
        return column
    return _nullable(column).mask(mask)


def _nullable(column: pd.Series) -> pd.Series:
    """`column`, whole numbers and booleans in their nullable dtypes (so that a missing
    value does not make them floats)."""
    if isinstance(column.dtype, np.dtype):
        if column.dtype.kind == "i":
            return column.astype("Int64")
        if column.dtype.kind == "u":
            return column.astype("UInt64")
        if column.dtype.kind == "b":
            return column.astype("boolean")
    return column


def _suppressed(
    clean: Suppressor,
    frame: pd.DataFrame,
    columns: dict[str, pd.Series | list[Any]],
    *,
    also: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> dict[str, pd.Series | list[Any]]:
    """`columns` (of `frame`) without what `clean` leaves out (and the counts `also` marks),
    and a ``small_cell`` column (True on the rows that lost a count) when any did."""
    values = {k: v if isinstance(v, list) else None for k, v in columns.items()}
    hidden, small_cell = clean.masks(frame, values, also=also)
    out = {k: _hide(v, hidden[k]) if k in hidden else v for k, v in columns.items()}
    if small_cell is not None:
        out["small_cell"] = pd.Series(small_cell).astype("boolean").mask(~small_cell)
    return out


def save_graph(
    G: nx.DiGraph, path: str | os.PathLike[str], *, threshold: int = DEFAULT_THRESHOLD
) -> Path:
    """Write a referral graph; the format follows the path.

    ``.graphml`` (Gephi, yEd, igraph), ``.gexf`` (Gephi), or a folder (no
    extension) of Parquet tables: ``nodes.parquet``, ``edges.parquet`` and
    ``graph.json`` (graph attributes). Files are written atomically; a folder's
    three files are written into a new folder that replaces it whole (other files
    in it are kept). Node ids, node and edge attributes survive every format; GEXF
    has no place for graph attributes other than the name.

    Count attributes (``referrals``, ``patients``, ...; see
    :func:`referral_graph.privacy.is_count_name`) from 1 to ``threshold - 1``
    are left out of the file (small-cell suppression), with the attributes
    derived from them (an amount, a share: :data:`referral_graph.privacy.DERIVED_FROM`);
    the tie itself stays. The file's graph attributes record the threshold
    (``suppression_threshold``) and how many values were left out
    (``suppressed_counts``, ``suppressed_derived``): see :func:`suppress_graph`.
    ``threshold=1`` writes every count, for analyses whose data agreement
    allows it (a graph already suppressed keeps its record).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> G = nx.DiGraph([("a", "b", {"referrals": 3}), ("b", "c", {"referrals": 30})])
    >>> p = save_graph(G, pathlib.Path(tempfile.mkdtemp()) / "g.graphml")
    >>> H = load_graph(p)
    >>> H.edges["a", "b"], H.edges["b", "c"]["referrals"]
    ({'small_cell': True}, 30)
    """
    target = Path(os.fspath(path))
    suffix = target.suffix.lower()
    if suffix not in (".graphml", ".gexf", ""):
        raise ParameterError(
            "The 'path' parameter of save_graph must end in .graphml or .gexf, or name a folder "
            f"(for Parquet tables). Got {target.name!r} instead."
        )
    if suffix == ".graphml":
        # streamed, the small counts dropped on the way: no copy of the graph is made
        clean: Callable[[dict[str, Any]], dict[str, Any]] = (
            Suppressor(threshold) if threshold > 1 else _as_is
        )
        node_items = [(n, clean(d)) for n, d in G.nodes(data=True)]
        edge_items = [(u, v, clean(d)) for u, v, d in G.edges(data=True)]
        record = (
            clean.record() if isinstance(clean, Suppressor) else _suppression_record(G.graph, 1)
        )
        graph_data = {k: native(v) for k, v in {**G.graph, **record}.items() if v is not None}
        with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            write_graphml(node_items, edge_items, graph_data, handle)
    else:
        if threshold > 1:
            G = suppress_graph(G, threshold=threshold)
        record = _suppression_record(G.graph, threshold)
        if suffix == ".gexf":
            H = _graphml_safe(G)
            H.graph.update(record)
            with atomic_path(target) as tmp:
                nx.write_gexf(H, tmp)
        else:
            nodes, edges = graph_to_tables(G)
            attributes = {k: native(v) for k, v in {**G.graph, **record}.items()}
            # the three files replace the folder's together (other files in it are kept)
            with atomic_folder(target) as folder:
                for name, frame in (("nodes", nodes), ("edges", edges)):
                    frame.attrs = {}  # graph attributes go to graph.json, not Parquet metadata
                    frame.to_parquet(folder / f"{name}.parquet", index=False)
                text = json.dumps(attributes, indent=2, default=str)
                (folder / "graph.json").write_text(text, encoding="utf-8")
    logger.info(
        "Saved graph with %s nodes and %s edges to %s",
        f"{G.number_of_nodes():,}",
        f"{G.number_of_edges():,}",
        target,
    )
    return target


def _suppression_record(attributes: dict[str, Any], threshold: int) -> dict[str, int]:
    """What a file of a graph with these graph `attributes` records of suppression: the
    graph's own record if it has one (a graph suppressed before keeps it), else
    `threshold` and nothing left out."""
    record = {"suppression_threshold": threshold, "suppressed_counts": 0, "suppressed_derived": 0}
    record.update({k: attributes[k] for k in record if k in attributes})
    return record


def load_graph(path: str | os.PathLike[str]) -> nx.DiGraph:
    """Read a graph written by :func:`save_graph` (or any GraphML / GEXF file).

    Node ids are always strings.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "g"
    >>> _ = save_graph(nx.DiGraph([("007", "2A", {"referrals": 11})]), folder)
    >>> list(load_graph(folder).edges(data=True))
    [('007', '2A', {'referrals': 11})]
    """
    source = Path(os.fspath(path))
    if not source.exists():
        raise InputError(f"{source}: no such file or folder.")
    suffix = source.suffix.lower()
    G: nx.DiGraph
    if suffix == ".graphml":
        G = nx.read_graphml(source, node_type=str, force_multigraph=False)
        for key in ("node_default", "edge_default"):  # reader bookkeeping, not data
            G.graph.pop(key, None)
    elif suffix == ".gexf":
        G = nx.read_gexf(source, node_type=str)
        for key in ("node_default", "edge_default"):
            G.graph.pop(key, None)
        if G.graph.get("mode") == "static":
            del G.graph["mode"]
        for _, d in G.nodes(data=True):
            d.pop("label", None)
        for _, _, d in G.edges(data=True):
            for k in ("id", "label"):
                d.pop(k, None)
    elif source.is_dir():
        for part in ("nodes.parquet", "edges.parquet"):
            if not (source / part).exists():
                raise InputError(f"{source}: no {part} in the folder (not written by save_graph?).")
        options = {"date_as_object": False}
        nodes = pd.read_parquet(
            source / "nodes.parquet", engine="pyarrow", to_pandas_kwargs=options
        )
        edges = pd.read_parquet(
            source / "edges.parquet", engine="pyarrow", to_pandas_kwargs=options
        )
        G = nx.DiGraph()
        meta = source / "graph.json"
        if meta.exists():
            G.graph.update(json.loads(meta.read_text(encoding="utf-8")))
        G.add_nodes_from(
            zip(
                nodes["id"].astype(str),
                _records(nodes, [c for c in nodes.columns if c != "id"]),
                strict=True,
            )
        )
        G.add_edges_from(
            zip(
                edges["source"].astype(str),
                edges["target"].astype(str),
                _records(edges, [c for c in edges.columns if c not in ("source", "target")]),
                strict=True,
            )
        )
    else:
        raise ParameterError(
            f"Cannot tell the format of {source.name!r}: use .graphml, .gexf or a Parquet folder."
        )
    if not G.is_directed():
        G = nx.DiGraph(G)
    logger.info(
        "Loaded graph with %s nodes and %s edges from %s",
        f"{G.number_of_nodes():,}",
        f"{G.number_of_edges():,}",
        source,
    )
    return G
