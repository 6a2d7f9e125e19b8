"""The export layout of a referral store: Parquet tables partitioned by month, and ``layout.json``.

Written by :meth:`referral_graph.store.ReferralStore.export` (DuckDB) and by
:func:`referral_graph.engines.spark.aggregate_spark` with ``layout=`` (Spark), read
by :meth:`referral_graph.store.ReferralStore.import_layout`:

.. code-block:: text

    DIR/layout.json                        what the folder holds (see below)
    DIR/events/month=YYYY-MM-01/*.parquet  the events: source, target (provider ids as
                                           text), date, patient (the keyed hash, int64),
                                           amount, service_line, payer, copies
    DIR/panel/month=YYYY-MM-01/*.parquet   the monthly edge panel (month: the folder's)
    DIR/ties/*.parquet                     the tie table
    DIR/patients/*.parquet                 each provider's distinct patients (id, patients)

The events are what a store is rebuilt from: their patient keys make distinct
patients countable exactly, in any later load too. ``patient`` holds the 64 bits
of the keyed hash (the first 8 bytes of SHA-256 of ``secret:id``, big-endian) read
as a *signed* integer, because Spark has no unsigned type; the store keeps the same
bits as an unsigned one. The panel, ties and patient panels are the aggregated
tables, for the readers of the folder (a store recomputes its own from the events).

``layout.json``: ``format``, ``version`` (:data:`LAYOUT_VERSION`), ``written_by``,
``written_at``, ``key_fingerprint`` (of the secret the patients were keyed with;
null without patient ids), ``has_patients``, ``has_amount``, ``options`` (the
reading options to remember), ``events`` (sum of copies), ``first_date``,
``last_date``, ``months`` and ``loads`` (the loads, or the Spark run, the events
come from: file, rows read, kept, excluded by reason, ...).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from referral_graph.exceptions import InputError, ParameterError, StoreError

logger = logging.getLogger(__name__)

#: The version of the layout; a layout of another version is refused.
LAYOUT_VERSION = 1
LAYOUT_FORMAT = "referral_graph store layout"
META_FILE = "layout.json"

#: The events' columns, in their order.
EVENT_COLUMNS = ("source", "target", "date", "patient", "amount", "service_line", "payer", "copies")

#: 2**63 and 2**64: the unsigned keys above 2**63 - 1 are negative as signed integers.
_HALF = 9223372036854775808
_FULL = 18446744073709551616


def key_fingerprint(secret: str) -> str:
    """The fingerprint of a secret, kept by a store and a layout (it reveals nothing of it).

    Examples
    --------
    >>> len(key_fingerprint("s3cret")), key_fingerprint("s3cret") == key_fingerprint("other")
    (16, False)
    """
    return hashlib.sha256(("fingerprint:" + secret).encode()).hexdigest()[:16]


def check_key(
    source: Path, fingerprint: str, *, key_path: Path, keyed: bool, secret: Callable[[], str]
) -> None:
    """Refuse a layout (`source`, its key's `fingerprint`) keyed with another secret than
    a store's (its key file `key_path`; `keyed`: the store has keyed patients already;
    `secret`: reads the store's secret), before the store changes."""
    if not key_path.exists() and not keyed:
        raise StoreError(
            f"{source}: its patients were keyed with a secret the store has not got: "
            f"{key_path} does not exist. Open the store with the key file the layout "
            "was written with (key_file=, CLI --key-file)."
        )
    if key_fingerprint(secret()) != fingerprint:
        raise StoreError(
            f"{source}: its patients were keyed with another secret than the store's "
            f"({key_path}), so distinct patients would be counted twice; load it into "
            "a store opened with the key file it was written with."
        )


def create_key(path: Path) -> str:
    """A new random secret, written to `path` (which must not exist), readable by its owner."""
    import secrets

    secret = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    logger.info("Created the key file %s (keep it apart from the data)", path)
    return secret


def read_key(path: Path) -> str:
    """The secret of a key file; :class:`InputError` when it is empty."""
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise InputError(f"{path}: the key file is empty.")
    return secret


def signed_sql(column: str) -> str:
    """DuckDB SQL: an unsigned 64-bit key as the signed integer of the same bits."""
    return (
        f"CAST(CAST({column} AS HUGEINT) - CASE WHEN {column} >= {_HALF} THEN {_FULL} ELSE 0 END "
        "AS BIGINT)"
    )


def unsigned_sql(column: str) -> str:
    """DuckDB SQL: a signed 64-bit key as the unsigned integer of the same bits."""
    return (
        f"CAST(CAST({column} AS HUGEINT) + CASE WHEN {column} < 0 THEN {_FULL} ELSE 0 END "
        "AS UBIGINT)"
    )


#: A store's events as the layout holds them (provider ids, the patient key signed, the month).
STORE_EVENTS_SQL = (
    "SELECT i.id AS source, j.id AS target, e.date, "
    f"{signed_sql('e.patient')} AS patient, e.amount, e.service_line, e.payer, e.copies, "
    "CAST(date_trunc('month', e.date) AS DATE) AS month FROM rg_events e "
    "JOIN rg_ids i ON i.code = e.s JOIN rg_ids j ON j.code = e.t "
    "ORDER BY month, source, target, date"
)


def load_records(loads: Any) -> list[dict[str, Any]]:
    """A store's loads (``ReferralStore.loads()``) as ``layout.json`` lists them."""
    import pandas as pd

    return [
        {
            **{str(k): (None if pd.isna(v) else v) for k, v in row.items()},
            "excluded": json.loads(str(row["excluded"])),
            "months": json.loads(str(row["months"])),
        }
        for row in loads.to_dict("records")
    ]


def check_new_folder(folder: Path) -> None:
    """Refuse to write a layout over anything: files of two layouts must never mix."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ParameterError(
            f"{folder}: exists and is not an empty folder; a layout is written into a new "
            "folder (remove the old layout, or name another folder)."
        )


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """Write ``layout.json``."""
    (folder / META_FILE).write_text(
        json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def tidy(folder: Path) -> None:
    """Remove Spark's marker and checksum files: the layout holds only its tables."""
    for path in list(folder.rglob("_SUCCESS")) + list(folder.rglob(".*.crc")):
        path.unlink()


def read_meta(folder: Path) -> dict[str, Any]:
    """``layout.json``, checked; :class:`InputError` naming the folder when it is not a layout."""
    path = folder / META_FILE
    if not path.is_file():
        raise InputError(
            f"{folder}: not a store layout (no {META_FILE}); give a folder written by "
            "'referral-graph store export' or aggregate_spark(layout=...)."
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}).") from exc
    if not isinstance(meta, dict) or meta.get("format") != LAYOUT_FORMAT:
        raise InputError(f"{path}: not the description of a store layout.")
    if meta.get("version") != LAYOUT_VERSION:
        raise InputError(
            f"{folder}: a layout of version {meta.get('version')}; this version of "
            f"referral_graph reads version {LAYOUT_VERSION}."
        )
    missing = [k for k in ("has_patients", "has_amount", "key_fingerprint") if k not in meta]
    if missing:
        raise InputError(f"{path}: lacks {', '.join(missing)}.")
    return meta


def event_files(folder: Path) -> list[Path]:
    """The events' Parquet files, in a fixed order; :class:`InputError` when there are none."""
    files = sorted((folder / "events").glob("month=*/*.parquet"))
    if not files:
        raise InputError(f"{folder}: the layout holds no events (events/month=*/*.parquet).")
    return files


def files_digest(folder: Path, files: list[Path]) -> tuple[str, int]:
    """SHA-256 of the files' names (relative to `folder`) and contents, and their size."""
    digest = hashlib.sha256()
    size = 0
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        size += _feed(digest, path)
    return digest.hexdigest(), size


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of a file's content (as ``sha256sum`` prints it), and its size."""
    digest = hashlib.sha256()
    size = _feed(digest, path)
    return digest.hexdigest(), size


def _feed(digest: Any, path: Path) -> int:
    """Feed `path`'s content to `digest`; its size."""
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size


def layout_meta(
    *,
    written_by: str,
    fingerprint: str | None,
    has_patients: bool,
    has_amount: bool,
    options: dict[str, Any],
    stats: tuple[Any, Any, Any],
    months: list[str],
    loads: list[dict[str, Any]],
) -> dict[str, Any]:
    """The content of ``layout.json`` (`stats`: events, first date, last date)."""
    from datetime import UTC, datetime

    from referral_graph._version import __version__

    events, first, last = stats
    return {
        "format": LAYOUT_FORMAT,
        "version": LAYOUT_VERSION,
        "written_by": f"{written_by} (referral_graph {__version__})",
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key_fingerprint": fingerprint if has_patients else None,
        "has_patients": bool(has_patients),
        "has_amount": bool(has_amount),
        "options": options,
        "events": int(events or 0),
        "first_date": None if first is None else str(first),
        "last_date": None if last is None else str(last),
        "months": months,
        "loads": loads,
    }


def write_duckdb(con: Any, folder: Path, tables: dict[str, str], meta: dict[str, Any]) -> None:
    """Write the tables (SELECTs; ``events`` and ``panel`` with a ``month`` DATE column to
    partition by) and ``layout.json`` into `folder` with DuckDB."""

    def quote(path: Path) -> str:
        return "'" + os.fspath(path).replace("'", "''") + "'"

    for name, query in tables.items():
        options = "FORMAT parquet, COMPRESSION zstd"
        if name in ("events", "panel"):
            partitioned = f"{options}, PARTITION_BY (month)"
            con.execute(f"COPY ({query}) TO {quote(folder / name)} ({partitioned})")
        else:
            (folder / name).mkdir()
            con.execute(f"COPY ({query}) TO {quote(folder / name / 'data_0.parquet')} ({options})")
    write_meta(folder, meta)


def events_sql(files: list[Path]) -> str:
    """DuckDB SQL of a layout's events as the store adds them (the patient unsigned)."""
    paths = ", ".join("'" + os.fspath(f).replace("'", "''") + "'" for f in files)
    return (
        "(SELECT CAST(source AS VARCHAR) AS source, CAST(target AS VARCHAR) AS target, "
        f"CAST(date AS TIMESTAMP) AS date, {unsigned_sql('patient')} AS patient, "
        "CAST(amount AS DOUBLE) AS amount, CAST(service_line AS VARCHAR) AS service_line, "
        "CAST(payer AS VARCHAR) AS payer, CAST(copies AS INTEGER) AS copies FROM "
        f"read_parquet([{paths}], hive_partitioning = false))"
    )


def loads_totals(meta: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """The rows read and the rows excluded by reason of the loads a layout holds."""
    loads = list(meta.get("loads") or [])
    excluded: dict[str, int] = {}
    for load in loads:
        for reason, n in dict(load.get("excluded") or {}).items():
            excluded[reason] = excluded.get(reason, 0) + int(n)
    return sum(int(load.get("rows_read") or 0) for load in loads), excluded


def checked_events(con: Any, source: Path, events: str) -> int:
    """The events of a layout (`events`, a DuckDB relation over its files) checked: their
    number (the sum of their copies), or an :class:`InputError` naming `source`."""
    import duckdb

    try:
        kept, bad = con.execute(
            "SELECT CAST(coalesce(sum(copies), 0) AS BIGINT), count(*) FILTER (WHERE "
            "source IS NULL OR target IS NULL OR date IS NULL OR coalesce(copies, 0) < 1 "
            f"OR source = target) FROM {events}"
        ).fetchall()[0]
    except duckdb.Error as exc:
        raise InputError(
            f"{source}: its events are not a layout's ({str(exc).splitlines()[0]})."
        ) from exc
    if bad:
        raise InputError(f"{source}: {bad:,} of its events lack a provider, a date or copies.")
    return int(kept)
