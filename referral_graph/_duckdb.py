"""The one place DuckDB connections are made (in-memory, no progress bar)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)


def duckdb_connect(**settings: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with `settings` (``SET name = value``), no progress bar.

    Every DuckDB connection of the package comes from here. The progress bar is turned
    off; inside Jupyter without ipywidgets DuckDB refuses that setting (it shows no bar
    there anyway), which is not an error.
    """
    import duckdb

    con = duckdb.connect(database=":memory:")
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
