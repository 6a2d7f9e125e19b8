"""The one place DuckDB connections are made (in memory or to a store's file; no progress bar)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)


def duckdb_connect(
    database: str = ":memory:", *, read_only: bool = False, **settings: Any
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with `settings` (``SET name = value``), no progress bar.

    In memory by default; `database` names a file (a referral store), opened
    `read_only` or not. Every DuckDB connection of the package comes from here. The
    progress bar is turned off (the library never prints); inside Jupyter without
    ipywidgets DuckDB refuses that setting (it shows no bar there anyway), which is
    not an error.
    """
    import duckdb

    con = duckdb.connect(database=database, read_only=read_only)
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:  # Jupyter without ipywidgets: no bar is shown
        logger.debug("DuckDB progress bar setting refused (Jupyter without ipywidgets)")
    for name, value in settings.items():
        text = (
            "'" + value.replace("'", "''") + "'" if isinstance(value, str) else str(value).lower()
        )  # True -> true
        con.execute(f"SET {name} = {text}")
    return con
