"""Aggregation: referral events -> monthly edge panel and tie table.

This is the heavy step (millions of event rows); everything after it works
on its output, which is orders of magnitude smaller. Two engines give the
same results (tested):

* ``"duckdb"``: DuckDB in-process (no server), multi-threaded; the default
  for anything but small frames.
* ``"pandas"``: plain pandas group-bys, for small in-memory frames.
* ``"spark"``: Apache Spark (optional: ``pip install referral_graph[spark]``),
  delegated to :func:`referral_graph.spark.aggregate_frame`; never chosen by
  ``"auto"``. For files too large for pandas see :mod:`referral_graph.engines`
  (the ``files`` engine: DuckDB, out of core; the ``spark`` engine).

Patient codes (``patient_key``, see :func:`referral_graph.privacy.pseudonymize`)
are used only to count distinct patients and do not appear in any output.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({"source": ["A", "A", "A", "B"], "target": ["C", "C", "C", "C"],
...                        "date": pd.to_datetime(["2024-01-03", "2024-01-20", "2024-03-01",
...                                                "2024-01-09"]),
...                        "patient_key": [0, 0, 1, 2]})
>>> panel = edge_panel(events)
>>> panel["month"].dt.strftime("%Y-%m").tolist(), panel["referrals"].tolist()
(['2024-01', '2024-03', '2024-01'], [2, 1, 1])
>>> panel[["source", "patients"]].values.tolist()
[['A', 1], ['A', 1], ['B', 1]]
>>> tie_table(events)[["source", "referrals", "patients", "active_months"]].values.tolist()
[['A', 3, 2, 2], ['B', 1, 1, 1]]
"""

from __future__ import annotations

from referral_graph.engines.memory import (
    SMALL_FRAME_ROWS,  # noqa: F401 - importable here as before
    aggregate_events,
    edge_panel,
    period_of,  # noqa: F401 - importable here as before
    provider_patients,
    resolve_engine,
    tie_table,
)

__all__ = ["aggregate_events", "edge_panel", "provider_patients", "resolve_engine", "tie_table"]
