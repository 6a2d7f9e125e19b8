"""National-size networks on one machine: out-of-core aggregation and a compact graph.

This module gathers, under the name the documentation has always used, the
functions for networks too large for pandas and networkx; each lives in the
module of its step: :mod:`referral_graph.engines.files` (``aggregate_files``),
:mod:`referral_graph.engines.edge_files` (``read_edge_files``),
:mod:`referral_graph.compact` (``read_output``, ``load_compact``),
:mod:`referral_graph.centrality` (``compact_measures``), :mod:`referral_graph.subgraphs`
(``subgraph``, ``ego_network``) and :mod:`referral_graph.pipeline`
(``load_network_files``).

The in-memory path (:func:`referral_graph.io.read_events` ->
:mod:`referral_graph.aggregate` -> :func:`referral_graph.graph.graph_from_tables`)
holds every event in pandas and every tie in a ``networkx.DiGraph``; this module
is the path for data that does not fit that way (see ``docs/memory.md``):

* :func:`aggregate_files` reads event files (CSV or Parquet, one or many) with
  DuckDB **out of core** (a memory limit and a spill directory), applies the
  row-level checks of :func:`~referral_graph.io.read_events`, counts distinct
  patients inside DuckDB and writes the edge panel and tie table as Parquet.
  Patient ids are never materialised in Python.
* :func:`read_edge_files` reads an aggregated edge file (the CMS national file of
  65 million ties, header-less) the same way, with the checks and report of
  :func:`~referral_graph.io.read_edges`, and writes the edges kept as Parquet.
* :func:`load_compact` builds a :class:`~referral_graph.centrality.CompactGraph`
  (integer-coded arrays) from a tie or panel Parquet file without networkx;
  :func:`compact_measures` computes degree, strength, PageRank, HITS,
  communities and (sampled) betweenness on it.
* :func:`subgraph` and :func:`ego_network` return a ``networkx.DiGraph`` for any
  part of the network a user asks for (a region, a community, an ego network),
  with the same attributes as the full graph would have.

The rules applied to every event row, and how they differ from the in-memory
reader's, are in :mod:`referral_graph.engines.files`.

Examples
--------
>>> import tempfile, pathlib
>>> import pandas as pd
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"source": ["A", "A", "B", "C"], "target": ["B", "B", "C", "C"],
...               "date": ["2024-01-05", "2024-02-01", "2024-01-09", "2024-01-10"]}
...              ).to_csv(folder / "events.csv", index=False)
>>> result = aggregate_files(folder / "events.csv", folder / "out")
>>> result.report.excluded_by_reason
{'self_referral': 1}
>>> ties = pd.read_parquet(result.paths["ties"])
>>> ties[["source", "target", "referrals", "active_months"]].values.tolist()
[['A', 'B', 2, 2], ['B', 'C', 1, 1]]
>>> cg = load_compact(result.paths["ties"])
>>> cg.ids.tolist(), cg.weight.tolist()
(['A', 'B', 'C'], [2.0, 1.0])
"""

from __future__ import annotations

from referral_graph.centrality._measures import compact_measures
from referral_graph.compact import load_compact, read_output
from referral_graph.engines.edge_files import EdgeFiles, read_edge_files
from referral_graph.engines.files import FilesAggregation, aggregate_files
from referral_graph.pipeline import load_network_files
from referral_graph.subgraphs import ego_network, subgraph

__all__ = [
    "EdgeFiles",
    "FilesAggregation",
    "aggregate_files",
    "compact_measures",
    "ego_network",
    "load_compact",
    "load_network_files",
    "read_edge_files",
    "read_output",
    "subgraph",
]
