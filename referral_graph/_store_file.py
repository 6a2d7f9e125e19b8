"""A referral store's file: opening it (refusing a file of another kind, saying when
another process holds it) and removing a store that a failed first command created
(for :mod:`referral_graph.store`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from referral_graph._duckdb import duckdb_connect
from referral_graph.exceptions import StoreError

__all__ = ["connect", "is_empty", "remove"]

logger = logging.getLogger("referral_graph.store")


def connect(path: Path, *, read_only: bool) -> Any:
    """A connection to the store's file; a clear error when another process holds it, or
    when the file is not a DuckDB database (DuckDB would open a CSV, say, as an in-memory
    database over it, and whatever were loaded there would be lost)."""
    import duckdb

    if not _may_be_duckdb(path):
        raise _another_file(path)
    try:
        con = duckdb_connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise StoreError(
                f"{path}: the store is in use by another process (one process writes to a "
                "store at a time, and none while others read it); try again when it has "
                "finished."
            ) from exc
        raise StoreError(f"{path}: cannot be opened as a store ({text.splitlines()[0]}).") from exc
    except duckdb.Error as exc:
        text = str(exc).splitlines()[0]
        raise StoreError(f"{path}: cannot be opened as a store ({text}).") from exc
    file = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not file or file[0][0] is None:  # opened in memory, over a data file
        con.close()
        raise _another_file(path)
    return con


def _may_be_duckdb(path: Path) -> bool:
    """Whether `path` may be a DuckDB database file: not there (a new store), or not one
    of another kind (DuckDB itself refuses an empty or damaged one, with its reason)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        return True
    except OSError as exc:  # a folder, or a file this user may not read
        raise StoreError(f"{path}: cannot be opened as a store ({exc.strerror}).") from exc
    return len(head) < 12 or head[8:12] == b"DUCK"  # DuckDB's magic bytes


def _another_file(path: Path) -> StoreError:
    return StoreError(
        f"{path}: not a store but another file (DuckDB would read it as data, and nothing "
        "loaded there would be kept); give the store a file of its own, such as "
        "referrals.duckdb."
    )


def is_empty(con: Any) -> bool:
    """Whether the store holds no load and no report (False when that cannot be read)."""
    try:
        with contextlib.suppress(Exception):  # a failed transaction: undo it first
            con.execute("ROLLBACK")
        loads = con.execute("SELECT count(*) FROM rg_loads").fetchall()[0][0]
        reports = con.execute("SELECT count(*) FROM rg_reports").fetchall()[0][0]
    except Exception:  # unreadable: keep the file
        return False
    return int(loads) == 0 and int(reports) == 0


def remove(path: Path, key: Path | None, *, folders: Iterable[Path]) -> None:
    """Remove a new, empty store (closed): its file and log, the `key` file it made, and
    the `folders` made for it (the deepest first), where they are left empty."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if key is not None:
        key.unlink(missing_ok=True)
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()
    logger.info("%s: removed (created by a command that failed)", path)
