"""Aggregation on Apache Spark: events -> edge panel and tie table, on a cluster.

The ``spark`` engine, under the name the documentation has always used; it lives in
:mod:`referral_graph.engines.spark`, whose page says what it checks, what reaches the
driver and how to run it on a cluster. pyspark is optional
(``pip install referral_graph[spark]``) and imported only when a function runs.

Examples
--------
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
