"""Parts of a large network as ``networkx`` graphs: a region, a community, an ego network.

On a national network the whole ``networkx.DiGraph`` is out of reach, but any part a
person looks at is small. :func:`subgraph` and :func:`ego_network` read the tie (or
panel) Parquet tables written by the ``files`` or ``spark`` engine with DuckDB, keep
the ties among (or around) the providers asked for, and return a ``networkx.DiGraph``
with the same attributes as the full graph would have. Public also from
:mod:`referral_graph.scale`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from referral_graph import io as _io
from referral_graph._duckdb import duckdb_connect
from referral_graph.engines._rules import (
    PathLike,
    _expand_paths,
    _fetch_column,
    _quote,
)
from referral_graph.exceptions import ParameterError

__all__ = ["ego_network", "subgraph"]

logger = logging.getLogger(__name__)


def _edge_reader(files: Sequence[Path]) -> str:
    return "read_parquet([" + ", ".join(_quote(str(f)) for f in files) + "])"


def _select_ids(
    nodes: Iterable[str] | Callable[[pd.DataFrame], Any] | None,
    where: str | None,
    providers: pd.DataFrame | None,
) -> list[str]:
    if (nodes is None) == (where is None):
        raise ParameterError("Give exactly one of 'nodes' and 'where' to subgraph.")
    if where is not None:
        if providers is None:
            raise ParameterError("The 'where' parameter of subgraph needs 'providers'.")
        import duckdb

        con = duckdb_connect()
        try:
            con.register("providers", providers)
            try:
                return [
                    str(v)
                    for v in _fetch_column(
                        con, f"SELECT CAST(id AS VARCHAR) FROM providers WHERE {where}"
                    )
                ]
            except duckdb.Error as exc:
                raise ParameterError(
                    f"The 'where' parameter of subgraph must be a SQL condition on the providers' "
                    f"columns ({', '.join(map(str, providers.columns))}). Got {where!r}: {exc}"
                ) from exc
        finally:
            con.close()
    if callable(nodes):
        if providers is None:
            raise ParameterError("A predicate for 'nodes' needs 'providers' to be given.")
        mask = np.asarray(nodes(providers), dtype=bool)
        return [str(v) for v in providers.loc[mask, "id"]]
    assert nodes is not None
    if isinstance(nodes, str):
        raise ParameterError(
            "The 'nodes' parameter of subgraph must be a collection of ids or a predicate. "
            f"Got the string {nodes!r}; pass [{nodes!r}] for one provider."
        )
    return [str(n) for n in nodes]


def _providers_frame(providers: pd.DataFrame | PathLike | None) -> pd.DataFrame | None:
    if providers is None or isinstance(providers, pd.DataFrame):
        return providers
    table: pd.DataFrame = _io.read_providers(providers)
    return table


def subgraph(
    edges: PathLike | Sequence[PathLike],
    nodes: Iterable[str] | Callable[[pd.DataFrame], Any] | None = None,
    *,
    where: str | None = None,
    providers: pd.DataFrame | PathLike | None = None,
    touching: bool = False,
) -> nx.DiGraph:
    """The ``networkx.DiGraph`` of a part of a large network, read from Parquet.

    DuckDB scans the tie (or panel) file for the ties of the chosen providers,
    so only that part is ever held in memory; the graph has exactly the
    attributes :func:`~referral_graph.graph.graph_from_tables` gives the full
    graph (``G.subgraph(ids)`` of the full graph, without building it).

    Parameters
    ----------
    edges : path or sequence of paths
        ``ties.parquet`` (or a panel, summed over months).
    nodes : iterable of str or callable, optional
        The provider ids, or a predicate taking the providers table and
        returning a boolean mask (``lambda p: p["state"] == "TN"``). Give
        this or `where`.
    where : str, optional
        A SQL condition on the providers table's columns, run by DuckDB
        (``"state = 'TN' AND specialty = 'Cardiology'"``).
    providers : DataFrame or path, optional
        The providers table: needed by a predicate or `where`, and the source
        of node attributes.
    touching : bool, default False
        ``False``: the ties with both ends chosen (the induced subgraph).
        ``True``: every tie with at least one end chosen (their other ends
        join the graph).

    Returns
    -------
    networkx.DiGraph
        The subgraph, with the node and edge attributes of the full graph.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
    >>> pd.DataFrame({"source": ["A", "B", "C"], "target": ["B", "C", "A"],
    ...               "referrals": [4, 1, 2]}).to_parquet(p)
    >>> sorted(subgraph(p, ["A", "B"]).edges(data=True))
    [('A', 'B', {'referrals': 4})]
    >>> sorted(subgraph(p, ["A"], touching=True).edges())
    [('A', 'B'), ('C', 'A')]

    A community found on the compact graph:

    >>> from referral_graph.communities import detect_communities
    >>> from referral_graph.compact import load_compact
    >>> labels = detect_communities(load_compact(p))
    >>> subgraph(p, labels.index[labels == 0]).number_of_nodes()
    3
    """

    from referral_graph.graph import graph_from_tables

    files = _expand_paths(edges, "edges")
    prov = _providers_frame(providers)
    chosen = _select_ids(nodes, where, prov)
    ids = pd.DataFrame({"id": pd.Series(sorted(set(chosen)), dtype="str")})
    con = duckdb_connect()
    try:
        con.register("rg_chosen", ids)
        op = "OR" if touching else "AND"
        ties = con.sql(
            f"SELECT * FROM {_edge_reader(files)} WHERE source IN (SELECT id FROM rg_chosen) "
            f"{op} target IN (SELECT id FROM rg_chosen)"
        ).to_arrow_table()
        if prov is None:  # chosen providers without ties exist in the full graph only if in it
            present = set(
                _fetch_column(
                    con,
                    f"SELECT DISTINCT id FROM (SELECT source AS id FROM {_edge_reader(files)} "
                    f"UNION ALL SELECT target FROM {_edge_reader(files)}) "
                    "WHERE id IN (SELECT id FROM rg_chosen)",
                )
            )
        else:
            present = set(prov["id"].astype(str)) & set(ids["id"])
    finally:
        con.close()
    frame = ties.to_pandas(date_as_object=False)
    for c in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[c]):
            frame[c] = frame[c].astype("datetime64[ns]")
    frame = frame.sort_values(["source", "target"], kind="stable", ignore_index=True)
    keep = set(present)
    if touching:
        keep |= set(frame["source"]) | set(frame["target"])
    name = f"subgraph of {files[0].name}"
    if prov is not None:
        G = graph_from_tables(frame, prov.loc[prov["id"].astype(str).isin(keep)], name=name)
    else:
        G = graph_from_tables(frame, None, name=name)
        G.add_nodes_from(sorted(present - set(G)))
    logger.info(
        "subgraph: %s providers chosen -> %s nodes, %s ties",
        f"{len(ids):,}",
        f"{G.number_of_nodes():,}",
        f"{G.number_of_edges():,}",
    )
    return G


def ego_network(
    edges: PathLike | Sequence[PathLike],
    center: str,
    *,
    hops: int = 1,
    direction: Literal["both", "out", "in"] = "both",
    providers: pd.DataFrame | PathLike | None = None,
) -> nx.DiGraph:
    """The ego network of one provider, read from a large tie file.

    The providers within `hops` ties of `center` (following ties in either
    direction, only outgoing, or only incoming), and every tie among them: the
    same graph as ``networkx.ego_graph(G, center, radius=hops,
    undirected=direction == "both")`` on the full graph (``"in"``: on the
    reversed graph).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
    >>> pd.DataFrame({"source": ["A", "B", "C"], "target": ["B", "C", "D"],
    ...               "referrals": [4, 1, 2]}).to_parquet(p)
    >>> sorted(ego_network(p, "B"))
    ['A', 'B', 'C']
    >>> sorted(ego_network(p, "B", hops=2, direction="out"))
    ['B', 'C', 'D']
    """

    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ParameterError(
            f"The 'hops' parameter of ego_network must be an int >= 0. Got {hops!r} instead."
        )
    if direction not in ("both", "out", "in"):
        raise ParameterError(
            "The 'direction' parameter of ego_network must be one of 'both', 'out', 'in'. "
            f"Got {direction!r} instead."
        )
    files = _expand_paths(edges, "edges")
    reader = _edge_reader(files)
    seen = {str(center)}
    frontier = {str(center)}
    con = duckdb_connect()
    try:
        exists = con.execute(
            f"SELECT count(*) FROM {reader} WHERE source = ? OR target = ?", [center, center]
        ).fetchall()[0][0]
        prov = _providers_frame(providers)
        if not exists and (prov is None or str(center) not in set(prov["id"].astype(str))):
            raise ParameterError(f"The provider {center!r} is not in the network.")
        for _ in range(hops):
            if not frontier:
                break
            con.register("rg_frontier", pd.DataFrame({"id": sorted(frontier)}, dtype="str"))
            parts = []
            if direction in ("both", "out"):
                parts.append(
                    f"SELECT target AS id FROM {reader} WHERE source IN "
                    "(SELECT id FROM rg_frontier)"
                )
            if direction in ("both", "in"):
                parts.append(
                    f"SELECT source AS id FROM {reader} WHERE target IN "
                    "(SELECT id FROM rg_frontier)"
                )
            found = {str(v) for v in _fetch_column(con, " UNION ".join(parts))}
            con.unregister("rg_frontier")
            frontier = found - seen
            seen |= frontier
    finally:
        con.close()
    return subgraph(files, sorted(seen), providers=prov)
