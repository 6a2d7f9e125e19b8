"""Spark sessions for the ``spark`` engine: found, started, stopped and kept quiet (private).

pyspark is optional and imported only here, when a function runs.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from referral_graph.exceptions import DependencyError, ParameterError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: How to get the optional dependency.
INSTALL_HINT = 'pip install "referral_graph[spark]" (pyspark >= 3.5; Spark needs Java 17+)'

_CORRUPT = "_rg_corrupt_record"
_WS_RE = r"^[\s\u00A0]+|[\s\u00A0]+$"


@contextmanager
def _quiet() -> Iterator[None]:
    """pyspark warns that it does not fully support pandas 3; nothing here converts via pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pyspark")
        yield


def spark_available() -> bool:
    """Return True if pyspark can be imported (Java is checked when a session starts).

    Examples
    --------
    >>> spark_available() in (True, False)
    True
    """
    try:
        with _quiet():
            import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def _require_pyspark() -> Any:
    try:
        with _quiet():
            import pyspark.sql
    except ImportError as exc:
        raise DependencyError(
            f"The Spark engine needs pyspark, which is not installed: {INSTALL_HINT}."
        ) from exc
    return pyspark.sql


def spark_session(
    master: str = "local[2]",
    *,
    app_name: str = "referral_graph",
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    config: dict[str, str] | None = None,
) -> SparkSession:
    """Start (or get) a Spark session set up for referral_graph.

    Parameters
    ----------
    master : str, default "local[2]"
        ``local[N]`` runs Spark inside this machine with N cores; on a cluster
        the master comes from ``spark-submit`` / the platform and this is ignored
        by an existing session.
    app_name : str
        Spark application name.
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions`` (default: 4 per local core, else
        Spark's own default).
    driver_memory : str, optional
        ``spark.driver.memory`` (``"4g"``); effective only for a new local session.
    config : dict, optional
        Further Spark settings.

    Returns
    -------
    pyspark.sql.SparkSession
        With the UI and console progress off and the session time zone UTC
        (dates are calendar dates, never shifted).

    Raises
    ------
    ParameterError
        If pyspark is not installed or Spark cannot start (no Java), with how
        to fix it.
    """
    sql = _require_pyspark()
    builder = sql.SparkSession.builder.master(master).appName(app_name)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
    }
    if shuffle_partitions is None and master.startswith("local"):
        cores = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        n = os.cpu_count() or 1 if cores in ("*", "") else int(cores) if cores.isdigit() else 2
        shuffle_partitions = max(1, 4 * n)
    if shuffle_partitions is not None:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    if master.startswith("local"):  # stay on the loopback interface
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
    if driver_memory is not None:
        settings["spark.driver.memory"] = driver_memory
    settings.update(config or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with _quiet():
            session: SparkSession = builder.getOrCreate()
    except Exception as exc:  # Py4J / PySparkRuntimeError when Java is absent or broken
        raise ParameterError(
            f"Spark could not start ({type(exc).__name__}: {str(exc).splitlines()[0]}). Spark "
            "needs Java 17 or later on PATH or JAVA_HOME (Debian: apt-get install "
            f"openjdk-17-jre-headless); {INSTALL_HINT}."
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def _session_for(spark: SparkSession | None, master: str) -> tuple[SparkSession, bool]:
    """The given session, else the active one, else a new one (which the caller stops)."""
    if spark is not None:
        return spark, False
    sql = _require_pyspark()
    active: SparkSession | None = sql.SparkSession.getActiveSession()
    if active is not None:
        return active, False
    return spark_session(master), True
