"""Aggregation on Apache Spark: events -> edge panel and tie table, on a cluster.

:func:`aggregate_spark` does what :func:`referral_graph.scale.aggregate_files`
(DuckDB, one machine) and :mod:`referral_graph.aggregate` do, for event files
too large for one machine or already in a data lake: the same checks (rows
excluded and counted by reason, with the messages of
:func:`referral_graph.io.read_events`), the same output columns, dtypes and
order, and Parquet files that every other command reads. Patient ids are
counted distinct on the executors and dropped there: they never reach the
driver.

Only distinct provider ids and distinct date strings are collected to the
driver: the ids to check NPI check digits with :func:`referral_graph.npi.npi_flags`,
the dates to detect their format exactly as
:func:`referral_graph.validate.parse_dates` does. The graph algorithms then run
on one machine from the tie table (:func:`referral_graph.compact.load_compact`);
``docs/memory.md`` explains why and gives the memory arithmetic, and how to run
this on a cluster (``spark-submit``, a Databricks job).

The engine itself is :mod:`referral_graph.engines.spark`; this module keeps its
documented name. pyspark is optional (``pip install referral_graph[spark]``) and imported only
when a function here runs; Spark needs Java 17 or later.

Examples
--------
Without Spark installed the module still imports; the check is explicit:

>>> isinstance(spark_available(), bool)
True
"""

from __future__ import annotations

from referral_graph.engines.spark import (
    INSTALL_HINT,
    SparkAggregation,
    aggregate_frame,  # noqa: F401 - importable here as before
    aggregate_spark,
    spark_available,
    spark_session,
)

__all__ = [
    "INSTALL_HINT",
    "SparkAggregation",
    "aggregate_spark",
    "spark_available",
    "spark_session",
]
