"""An embedded referral store: a growing history in one DuckDB file, loaded one extract at a time.

Liaison teams run the toolkit every week on a history that grows by one extract at a
time. A store keeps what every run needs, so that a run reads the store instead of
every raw file again:

.. code-block:: text

    referral-graph ingest --store referrals.duckdb --events extract_2026_10.csv
    referral-graph ingest --store referrals.duckdb --events extract_2026_11.csv
    referral-graph report --store referrals.duckdb --providers providers.csv --focus "..."

Each load is read and checked by the out-of-core ``files`` engine, with the same
report and messages as every reader, then added in one transaction.

What is stored (tables of the DuckDB file)
------------------------------------------
``rg_events``
    The validated events: referring and receiving provider (as codes of
    ``rg_ids``), date, the patient's **keyed hash** (never the patient id),
    amount, service line, payer, and ``copies`` (the times the event occurs: 1
    for an event with a patient id, whose exact repeats are duplicates).
``rg_panel``, ``rg_ties``, ``rg_patients``
    The monthly edge panel, the tie table and each provider's distinct patients,
    kept current by every load (a load recomputes the months and ties it touched,
    and counts the patients new to each tie and provider; the result equals
    aggregating every loaded file at once, tested).
``rg_tie_patients``, ``rg_provider_patients``
    The distinct (tie, patient key) and (provider, patient key) pairs, from which
    a load counts the patients new to a tie or a provider.
``rg_loads``
    One row per load: file, SHA-256 of its content, rows read, kept, added,
    excluded by reason, period covered, when.
``rg_meta``
    The store's id, the options of its loads (column names, date format, id
    scheme, ...), remembered so that the next ``ingest`` needs none of them, and
    the fingerprint of its secret.

Patient identifiers
-------------------
A patient id is replaced inside DuckDB, while the file is read, by 64 bits of
SHA-256 of a secret and the id. The secret lives in a key file apart from the
store (by default ``STORE.key`` beside it, readable by its owner only; ``key_file``
puts it elsewhere): without it, a stored key cannot be traced back to a patient,
nor tested against a guessed id. The same secret gives the same key in every
load, so distinct patients stay countable across loads; the store keeps the
fingerprint of its secret and refuses a load with another one. See
``docs/privacy.md``.

Duplicates and overlaps
-----------------------
A file loaded again (the same SHA-256) adds nothing. Across files, an event is
recognised by all its values (providers, date, patient key, amount, service
line, payer): an event already stored is not added again, so two extracts that
overlap (October in both) count October once. An event without a patient id may
occur several times (``copies``): the store keeps the largest number of copies
any load had. Two loads that each hold a different part of one day's identical
patient-less events are therefore counted as the larger part, not their sum.

Export
------
:meth:`ReferralStore.export` writes the store as Parquet partitioned by month (the
events, patients as their keyed hash only, and the aggregated tables, with
``layout.json``); the Spark engine writes the same folder from event files
(``aggregate_spark(layout=...)``), and :meth:`ReferralStore.import_layout` loads
either into a store keyed with the same secret, as one load.

Atomicity
---------
A load is one DuckDB transaction: a load that fails or is killed halfway leaves
the store exactly as before (tested by killing the process). The commands that
only read a store open it read-only, so several of them can run at once; a load
waits for none of them but gets a clear error ("in use") while one runs, as does
a reader while a load runs.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"source": ["A", "A", "C"], "target": ["B", "B", "B"],
...               "date": ["2024-01-05", "2024-02-07", "2024-02-09"],
...               "patient_id": ["p1", "p2", "p1"]}).to_csv(folder / "jan_feb.csv", index=False)
>>> with open_store(folder / "referrals.duckdb") as store:
...     first = store.ingest(folder / "jan_feb.csv")
...     again = store.ingest(folder / "jan_feb.csv")
...     result = store.result()
>>> first.added, again.added, again.skipped
(3, 0, True)
>>> result.ties[["source", "target", "referrals", "patients"]].values.tolist()
[['A', 'B', 2, 2], ['C', 'B', 1, 1]]
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from referral_graph import _layout, _store_file, _store_read
from referral_graph import _store_reports as _reports
from referral_graph._store_refresh import refresh
from referral_graph._store_reports import ReportRecord
from referral_graph.exceptions import InputError, StoreError
from referral_graph.validate import ValidationReport

__all__ = ["Load", "ReferralStore", "ReportRecord", "StoreError", "open_store"]

logger = logging.getLogger(__name__)

#: The layout of the store's tables; a store of another version is refused.
SCHEMA_VERSION = 1

#: The reading options a store remembers from its loads (``ingest``'s keywords).
REMEMBERED = (
    "source_col",
    "target_col",
    "date_col",
    "patient_col",
    "amount_col",
    "service_line_col",
    "payer_col",
    "date_format",
    "npi",
    "encoding",
    "delimiter",
    "decimal",
)

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS rg_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS rg_ids (code INTEGER PRIMARY KEY, id VARCHAR UNIQUE);
CREATE TABLE IF NOT EXISTS rg_loads (
    load_id INTEGER, file VARCHAR, sha256 VARCHAR, bytes BIGINT, rows_read BIGINT,
    kept BIGINT, added BIGINT, excluded VARCHAR, first_date TIMESTAMP, last_date TIMESTAMP,
    months VARCHAR, loaded_at TIMESTAMP, options VARCHAR);
CREATE TABLE IF NOT EXISTS rg_events (
    s INTEGER, t INTEGER, date TIMESTAMP, patient UBIGINT, amount DOUBLE,
    service_line VARCHAR, payer VARCHAR, copies INTEGER, k UBIGINT, load_id INTEGER);
CREATE TABLE IF NOT EXISTS rg_panel (
    s INTEGER, t INTEGER, month TIMESTAMP, referrals BIGINT, patients BIGINT, amount DOUBLE,
    d0 TIMESTAMP, d1 TIMESTAMP);
CREATE TABLE IF NOT EXISTS rg_ties (
    s INTEGER, t INTEGER, referrals BIGINT, patients BIGINT, amount DOUBLE,
    first_date TIMESTAMP, last_date TIMESTAMP, active_months BIGINT);
CREATE TABLE IF NOT EXISTS rg_patients (code INTEGER, patients BIGINT);
CREATE TABLE IF NOT EXISTS rg_tie_patients (s INTEGER, t INTEGER, patient UBIGINT);
CREATE TABLE IF NOT EXISTS rg_provider_patients (c INTEGER, patient UBIGINT);
"""
    + _reports.SCHEMA
)

# The values that identify an event, compared NULL-safe (after its 64-bit key ``k``).
_EVENT_COLUMNS = ("s", "t", "date", "patient", "amount", "service_line", "payer")
_SAME_VALUES = " AND ".join(f"ev.{c} IS NOT DISTINCT FROM c.{c}" for c in _EVENT_COLUMNS)


@dataclass
class Load:
    """One load of a file into a store (a row of :meth:`ReferralStore.loads`).

    Attributes
    ----------
    load_id : int
        Its number in the store (0 when `skipped`).
    file : str
        The file loaded.
    sha256 : str
        SHA-256 of its content.
    rows_read, kept, added : int
        Data rows read; events kept after the checks; events new to the store.
    excluded : dict of str to int
        Rows excluded, by reason (as in the validation report).
    months : list of str
        The months (``YYYY-MM``) whose figures the load changed.
    skipped : bool
        The same content was loaded before: nothing was read or added.
    report : ValidationReport or None
        The load's validation report (None when `skipped`).
    """

    load_id: int
    file: str
    sha256: str
    rows_read: int = 0
    kept: int = 0
    added: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    months: list[str] = field(default_factory=list)
    skipped: bool = False
    report: ValidationReport | None = field(default=None, repr=False)


def open_store(
    path: str | os.PathLike[str],
    *,
    key_file: str | os.PathLike[str] | None = None,
    create: bool = True,
    read_only: bool = False,
) -> ReferralStore:
    """Open (or create) a referral store: a DuckDB file on disk, no server.

    Parameters
    ----------
    path : path
        The store's file (``referrals.duckdb``).
    key_file : path, optional
        The file of the secret of the patients' keyed hash; default: ``PATH.key``
        beside the store. Created with the store (readable by its owner only).
    create : bool, default True
        Create the store when it does not exist; False raises
        :class:`StoreError` instead.
    read_only : bool, default False
        Open an existing store to read it only (the commands that read a store):
        several processes may read it at once, none may write to it meanwhile
        (:meth:`ReferralStore.ingest` raises :class:`StoreError`). A store being
        written to by another process cannot be opened (:class:`StoreError`,
        "in use").

    Returns
    -------
    ReferralStore
        Use it as a context manager, or call :meth:`ReferralStore.close`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with open_store(pathlib.Path(tempfile.mkdtemp()) / "r.duckdb") as store:
    ...     len(store.loads())
    0
    """
    return ReferralStore(path, key_file=key_file, create=create, read_only=read_only)


class ReferralStore:
    """A referral store (see the module docstring); made by :func:`open_store`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key_file: str | os.PathLike[str] | None = None,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        self.path = Path(os.fspath(path))
        self.read_only = bool(read_only)
        self.key_path = (
            Path(os.fspath(key_file))
            if key_file is not None
            else self.path.with_name(self.path.name + ".key")
        )
        if not self.path.exists() and (read_only or not create):
            raise StoreError(
                f"{self.path}: no store there; create one with "
                "'referral-graph ingest --store PATH --events FILE'."
            )
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; give the store's file (referrals.duckdb).")
        #: Whether this object created the store's file (and then its key file): a first
        #: command that fails removes what it created (:meth:`__exit__`).
        self._created = not self.path.exists()
        self._created_key = False
        self._created_folders = [p for p in self.path.parents if not p.exists()]
        if self._created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = _store_file.connect(self.path, read_only=self.read_only)
        try:
            self._init_schema()
        except BaseException:
            self._con.close()
            raise

    # -- life cycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the store's connection."""
        self._con.close()

    def __enter__(self) -> ReferralStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Close the store; when this object created it and the block failed before
        anything was loaded into it, remove the store's file and the key file it made,
        leaving the folder as it was (no empty store left behind)."""
        empty = exc_type is not None and self._created and _store_file.is_empty(self._con)
        self.close()
        if empty:
            _store_file.remove(
                self.path,
                self.key_path if self._created_key else None,
                folders=self._created_folders,
            )

    def _init_schema(self) -> None:
        con = self._con
        if not self.read_only:
            con.execute(_SCHEMA)
        try:
            meta = self._meta()
        except Exception as exc:  # duckdb's CatalogException: not a store's file
            raise StoreError(f"{self.path}: not a referral store (no rg_meta table).") from exc
        if "schema_version" not in meta and self.read_only:
            raise StoreError(f"{self.path}: not a referral store (no layout version).")
        if "schema_version" not in meta:
            con.execute(
                "INSERT INTO rg_meta VALUES ('schema_version', ?), ('store_id', ?), ('created', ?)",
                [str(SCHEMA_VERSION), str(uuid.uuid4()), _now().isoformat()],
            )
        elif meta["schema_version"] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: a store of layout version {meta['schema_version']}; this "
                f"version of referral_graph reads version {SCHEMA_VERSION}."
            )

    def _meta(self) -> dict[str, str]:
        rows = self._con.execute("SELECT key, value FROM rg_meta").fetchall()
        return {str(k): str(v) for k, v in rows}

    # -- the secret --------------------------------------------------------------------

    def _secret(self) -> str:
        """The secret of the patients' keyed hash (created with the store's first load)."""
        meta = self._meta()
        if self.key_path.exists():
            secret = self.key_path.read_text(encoding="utf-8").strip()
            if not secret:
                raise StoreError(f"{self.key_path}: the store's key file is empty.")
        elif "key_fingerprint" in meta:
            raise StoreError(
                f"{self.key_path}: the key file of {self.path} is missing. Its patients were "
                "keyed with a secret kept there; give it with key_file= (CLI: --key-file), or "
                "start a new store."
            )
        else:
            secret = _layout.create_key(self.key_path)
            self._created_key = True
        fingerprint = _layout.key_fingerprint(secret)
        if "key_fingerprint" not in meta:
            self._con.execute("INSERT INTO rg_meta VALUES ('key_fingerprint', ?)", [fingerprint])
        elif meta["key_fingerprint"] != fingerprint:
            raise StoreError(
                f"{self.key_path}: not the key of {self.path} (its patients were keyed with "
                "another secret, so distinct patients would be counted twice). Give the "
                "store's own key file."
            )
        return secret

    # -- reading -----------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The reading options remembered from the store's loads (used by :meth:`ingest`)."""
        raw = self._meta().get("options")
        return dict(json.loads(raw)) if raw else {}

    def loads(self) -> pd.DataFrame:
        """One row per load: ``load_id``, ``file``, ``sha256``, ``bytes``, ``rows_read``,
        ``kept``, ``added``, ``excluded`` (reason: rows, as JSON), ``first_date``,
        ``last_date`` (of the file's events), ``months`` (the months it changed),
        ``loaded_at`` (UTC)."""
        table: pd.DataFrame = self._con.execute(
            "SELECT load_id, file, sha256, bytes, rows_read, kept, added, excluded, first_date, "
            "last_date, months, loaded_at FROM rg_loads ORDER BY load_id"
        ).df()
        return table

    def summary(self) -> dict[str, Any]:
        """The store in figures: loads, events, ties, providers, period, size on disk."""
        con = self._con
        events, first, last = con.execute(
            "SELECT CAST(coalesce(sum(copies), 0) AS BIGINT), min(date), max(date) FROM rg_events"
        ).fetchall()[0]
        return {
            "path": str(self.path),
            "loads": int(con.execute("SELECT count(*) FROM rg_loads").fetchall()[0][0]),
            "events": int(events),
            "ties": int(con.execute("SELECT count(*) FROM rg_ties").fetchall()[0][0]),
            "providers": int(con.execute("SELECT count(*) FROM rg_ids").fetchall()[0][0]),
            "first_date": None if first is None else pd.Timestamp(first),
            "last_date": None if last is None else pd.Timestamp(last),
            "bytes": self.path.stat().st_size if self.path.exists() else 0,
        }

    def result(self) -> Any:
        """The network's tables, as an engine returns them
        (:class:`referral_graph.engines.EngineResult`, engine ``"store"``).

        The ties, panel and patient panels are those of aggregating every loaded file
        at once with the ``files`` engine (same columns, dtypes and order); the report
        sums the loads' rows read and excluded.
        """
        from referral_graph.engines import EngineResult
        from referral_graph.engines._rules import panels_of

        con = self._con
        sql = self._tables_sql(month="TIMESTAMP_NS", timestamp="TIMESTAMP_NS", ranks=True)
        ids = _store_read.sorted_ids(con)
        panel = _store_read.read_frame(con, sql["panel"], ids)
        ties = _store_read.read_frame(con, sql["ties"], ids)
        if "patients" in sql:
            patients = panels_of(_store_read.read_frame(con, sql["patients"], ids))
        else:
            patients = None
        first, last = con.execute("SELECT min(d0), max(d1) FROM rg_panel").fetchall()[0]
        report = self._report()
        ties.attrs["name"] = report.name
        return EngineResult(
            engine="store",
            ties=ties,
            panel=panel,
            patients=patients,
            report=report,
            period=None if first is None else (pd.Timestamp(first), pd.Timestamp(last)),
        )

    def _roles(self) -> tuple[bool, bool]:
        """Whether the store's events have patient ids and amounts (set by its first load)."""
        meta = self._meta()
        return meta.get("has_patients") == "1", meta.get("has_amount") == "1"

    def _tables_sql(self, *, month: str, timestamp: str, ranks: bool = False) -> dict[str, str]:
        """The SELECTs of the panel, ties and patient panels, by provider id (for
        :meth:`result` and :meth:`export`); dates cast to `month` and `timestamp`; see
        :func:`referral_graph._store_read.tables_sql`."""
        if not self._con.execute("SELECT count(*) FROM rg_loads").fetchall()[0][0]:
            raise StoreError(f"{self.path}: the store has no load yet.")
        has_patients, has_amount = self._roles()
        return _store_read.tables_sql(
            has_patients=has_patients,
            has_amount=has_amount,
            month=month,
            timestamp=timestamp,
            ranks=ranks,
        )

    def _report(self) -> ValidationReport:
        """The loads' validation in one report: rows read and excluded, by reason."""
        return _store_read.loads_report(self._con, name=str(self.path))

    # -- the reports' history ---------------------------------------------------------

    def loads_through(self) -> int:
        """The id of the store's last load that changed its data (0 before the first).

        A load that added and changed nothing (an extract loaded again in part) leaves
        the data as it was, and so the reports' point of comparison
        (:meth:`last_report`): a report after it compares with the same report as
        before it, not with one run again on the same data.
        """
        found = self._con.execute(
            "SELECT coalesce(max(load_id), 0) FROM rg_loads WHERE months <> '[]'"
        ).fetchall()
        return int(found[0][0])

    def record_report(self, record: ReportRecord) -> int:
        """Record what a report showed, for the next report's "Since the last report".

        Parameters
        ----------
        record : ReportRecord
            :attr:`referral_graph.report.Report.record` of a report on this store's
            data (:func:`referral_graph.report.write_report` with ``store=`` records
            it). Its ``loads_through``, when not set, is the store's last load that
            changed its data (:meth:`loads_through`).

        Returns
        -------
        int
            The report's number in the store.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only; cannot record a report.")
        loads = record.loads_through if record.loads_through is not None else self.loads_through()
        number = _reports.record(self._con, record, loads_through=loads, made_at=_now())
        logger.info("Recorded report %d in %s", number, self.path)
        return number

    def backtest_folds(self) -> dict[str, str]:
        """The test cutoffs of the backtests of the reports recorded here, for the next
        backtest to reuse (:func:`referral_graph.churn.backtest`'s `reuse`): one month
        more of data leaves all but the latest unchanged, and the report from the store
        fits only that one. Each is a fingerprint of its inputs and its figures as JSON
        (a few kilobytes of market-wide figures: no provider's id or count)."""
        return _reports.folds(self._con)

    def reports(self) -> pd.DataFrame:
        """One row per recorded report: ``report_id``, ``made_at`` (UTC),
        ``loads_through`` (the store's last load that changed its data then,
        :meth:`loads_through`), ``data_end``, ``focus``,
        ``window_months``, ``capacity``, ``horizon``, and ``flagged`` (ties flagged at risk)."""
        return _reports.listing(self._con)

    def last_report(
        self, *, focus_ids: Iterable[str], before_load: int | None = None
    ) -> ReportRecord | None:
        """The record of the last report on the same focus made on earlier data.

        Parameters
        ----------
        focus_ids : iterable of str
            The focus organisation's provider ids (the same set as the report's).
        before_load : int, optional
            Only reports made before this load was added (``loads_through`` lower):
            by default the store's last load that changed its data
            (:meth:`loads_through`), so that a report run again on the same data
            compares with the report before that load, not with itself.

        Returns
        -------
        ReportRecord or None
            None when no such report was recorded.
        """
        before = self.loads_through() if before_load is None else int(before_load)
        return _reports.last(self._con, focus_ids=focus_ids, before=before)

    # -- the export layout ---------------------------------------------------------------

    def export(self, folder: str | os.PathLike[str]) -> Path:
        """Write the store as Parquet tables partitioned by month, and ``layout.json``.

        The layout (``docs/architecture.md``) holds the events, with provider ids as
        text and each patient as its keyed hash only, never an id (``events/month=
        YYYY-MM-01/``); the monthly panel (``panel/month=YYYY-MM-01/``), the ties and
        each provider's distinct patients; and ``layout.json``: the fingerprint of
        the store's key (not the key), the remembered options and the loads. The
        Spark engine writes the same layout (``aggregate_spark(layout=...)``).
        Only the store is read: its key file is not needed.

        Parameters
        ----------
        folder : path
            A new (or empty) folder, written whole or not at all.

        Returns
        -------
        pathlib.Path
            The folder.

        Raises
        ------
        StoreError
            The store has no load yet.
        ParameterError
            `folder` exists and is not an empty folder.

        See Also
        --------
        import_layout : loads a layout into a store.

        Examples
        --------
        >>> import json, tempfile, pathlib, pandas as pd
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> pd.DataFrame({"source": ["A"], "target": ["B"], "date": ["2024-01-05"],
        ...               "patient_id": ["p1"]}).to_csv(folder / "e.csv", index=False)
        >>> with open_store(folder / "r.duckdb") as store:
        ...     _ = store.ingest(folder / "e.csv")
        ...     layout = store.export(folder / "layout")
        >>> [p.name for p in (layout / "events").iterdir()], json.loads(
        ...     (layout / "layout.json").read_text())["events"]
        (['month=2024-01-01'], 1)
        """
        from referral_graph.io._folders import atomic_folder

        target = Path(os.fspath(folder))
        _layout.check_new_folder(target)
        tables = self._tables_sql(month="DATE", timestamp="TIMESTAMP")
        tables["events"] = _layout.STORE_EVENTS_SQL
        con = self._con
        has_patients, has_amount = self._roles()
        meta = _layout.layout_meta(
            written_by=f"store export of {self.path.name}",
            fingerprint=self._meta().get("key_fingerprint"),
            has_patients=has_patients,
            has_amount=has_amount,
            options=self.options(),
            stats=con.execute("SELECT sum(copies), min(date), max(date) FROM rg_events").fetchall()[
                0
            ],
            months=[
                pd.Timestamp(m).strftime("%Y-%m")
                for (m,) in con.execute(
                    "SELECT DISTINCT date_trunc('month', date) AS m FROM rg_events ORDER BY m"
                ).fetchall()
            ],
            loads=_layout.load_records(self.loads()),
        )
        with atomic_folder(target) as tmp:
            _layout.write_duckdb(con, tmp, tables, meta)
        logger.info("%s: exported %s events to %s", self.path, f"{meta['events']:,}", target)
        return target

    def import_layout(self, folder: str | os.PathLike[str], *, memory_limit: str = "8GB") -> Load:
        """Load a layout (:meth:`export`'s, or the Spark engine's) into the store.

        Its events are added as a file's are: in one transaction, an event already
        stored is not added again, and the same layout loaded twice adds nothing
        (``skipped``). The store's tables are recomputed from the events, so distinct
        patients are counted exactly. The load is listed by :meth:`loads`, with the
        rows read and excluded of the loads (or the Spark run) the layout holds.

        Parameters
        ----------
        folder : path
            The layout's folder (with ``layout.json``).
        memory_limit : str, default "8GB"
            DuckDB's memory limit for the load.

        Returns
        -------
        Load
            What was added; ``report`` is None.

        Raises
        ------
        InputError
            `folder` is not a layout (or one of another version).
        StoreError
            Its patients were keyed with another secret than the store's (or the
            store has no key file yet), its events differ in kind from the store's,
            or the store is read-only or in use.

        Examples
        --------
        >>> import tempfile, pathlib, pandas as pd
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> pd.DataFrame({"source": ["A", "C"], "target": ["B", "B"],
        ...               "date": ["2024-01-05", "2024-02-09"],
        ...               "patient_id": ["p1", "p1"]}).to_csv(folder / "e.csv", index=False)
        >>> with open_store(folder / "r.duckdb") as store:
        ...     _ = store.ingest(folder / "e.csv")
        ...     _ = store.export(folder / "layout")
        >>> sorted(p.name for p in (folder / "layout").iterdir())
        ['events', 'layout.json', 'panel', 'patients', 'ties']
        >>> with open_store(folder / "copy.duckdb", key_file=folder / "r.duckdb.key") as copy:
        ...     load = copy.import_layout(folder / "layout")
        ...     again = copy.import_layout(folder / "layout")
        ...     patients = copy.result().patients.to_dict()
        >>> load.added, again.skipped, patients
        (2, True, {'A': 1, 'B': 1, 'C': 1})
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only; open it with read_only=False.")
        source = Path(os.fspath(folder))
        meta = _layout.read_meta(source)
        files = _layout.event_files(source)
        digest, size = _layout.files_digest(source, files)
        done = self._con.execute(
            "SELECT load_id, loaded_at FROM rg_loads WHERE sha256 = ?", [digest]
        ).fetchall()
        if done:
            logger.info("%s: loaded before (load %s): nothing added", source, done[0][0])
            return Load(load_id=0, file=str(source), sha256=digest, skipped=True)
        has_patients, has_amount = bool(meta["has_patients"]), bool(meta["has_amount"])
        if has_patients:
            _layout.check_key(
                source,
                str(meta["key_fingerprint"]),
                key_path=self.key_path,
                keyed="key_fingerprint" in self._meta(),
                secret=self._secret,
            )
        events = _layout.events_sql(files)
        kept = _layout.checked_events(self._con, source, events)
        rows_read, excluded = _layout.loads_totals(meta)
        layout = {k: meta.get(k) for k in ("written_by", "written_at", "first_date", "last_date")}
        self._con.execute("SET memory_limit = " + _literal(memory_limit))
        self._con.execute("SET preserve_insertion_order = false")
        added = self._add(
            events,
            path=source,
            digest=digest,
            size=size,
            rows_read=rows_read,
            excluded=excluded,
            kept=kept,
            has_patients=has_patients,
            has_amount=has_amount,
            options={**dict(meta.get("options") or {}), **self.options(), "layout": layout},
        )
        logger.info(
            "%s: a layout of %s events, %s new to the store (months changed: %s)",
            source,
            f"{added.kept:,}",
            f"{added.added:,}",
            ", ".join(added.months) or "none",
        )
        return added

    # -- loading -----------------------------------------------------------------------

    def ingest(
        self,
        events: str | os.PathLike[str],
        *,
        source_col: str | None = None,
        target_col: str | None = None,
        date_col: str | None = None,
        patient_col: str | None = None,
        amount_col: str | None = None,
        service_line_col: str | None = None,
        payer_col: str | None = None,
        date_format: str | None = None,
        npi: bool | Literal["auto"] | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        decimal: str | None = None,
        providers: pd.DataFrame | None = None,
        strict: bool = False,
        memory_limit: str = "8GB",
        temp_directory: str | os.PathLike[str] | None = None,
        progress: Callable[[str], Any] | None = None,
    ) -> Load:
        """Check an event file and add its events to the store, in one transaction.

        Parameters
        ----------
        events : path
            An event file (CSV, compressed CSV or Parquet) with dates.
        source_col, target_col, date_col, patient_col, amount_col, service_line_col, payer_col
            Column names, as in :func:`referral_graph.io.read_events`; by default
            those remembered from the store's earlier loads, else found by alias.
        date_format, npi, encoding, delimiter, decimal
            As in :func:`referral_graph.io.read_events`; by default remembered.
        providers : pandas.DataFrame, optional
            Providers table: rows with ids absent from it are reported.
        strict : bool, default False
            Treat every validation warning as an error (nothing is added).
        memory_limit, temp_directory
            DuckDB's limits while reading (see
            :func:`referral_graph.engines.files.aggregate_files`); the store's own
            work keeps to `memory_limit` too (it spills beside the store).
        progress : callable, optional
            Called with the name of each step as it starts.

        Returns
        -------
        Load
            What was read, kept and added; ``skipped`` when the same content was
            loaded before.

        Raises
        ------
        InputError, SchemaError, ValidationError
            As the readers (nothing is added).
        StoreError
            The file's columns differ from the store's (patient ids or amounts
            present in one and not the other), the key file is not the store's,
            or another process is writing to the store.
        """
        from referral_graph.engines.files import aggregate_files
        from referral_graph.io._workbooks import is_workbook

        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only; open it with read_only=False.")
        step = progress or (lambda name: None)
        path = Path(os.fspath(events))
        if not path.is_file():
            raise InputError(f"{path}: no such file.")
        if is_workbook(path):
            raise InputError(
                f"{path}: a spreadsheet workbook; the store reads CSV and Parquet files. Save "
                "the sheet as CSV (the other commands read the workbook itself with --events)."
            )
        given = {
            "source_col": source_col,
            "target_col": target_col,
            "date_col": date_col,
            "patient_col": patient_col,
            "amount_col": amount_col,
            "service_line_col": service_line_col,
            "payer_col": payer_col,
            "date_format": date_format,
            "npi": npi,
            "encoding": encoding,
            "delimiter": delimiter,
            "decimal": decimal,
        }
        options = {**self.options(), **{k: v for k, v in given.items() if v is not None}}
        step("hashing the file")
        digest, size = _layout.file_digest(path)
        done = self._con.execute(
            "SELECT load_id, loaded_at FROM rg_loads WHERE sha256 = ?", [digest]
        ).fetchall()
        if done:
            logger.info(
                "%s: already loaded (load %s, %s): nothing added", path, done[0][0], done[0][1]
            )
            return Load(load_id=0, file=str(path), sha256=digest, skipped=True)
        secret = self._secret()
        scratch = Path(tempfile.mkdtemp(prefix="referral_graph_ingest_"))
        try:
            encoding_files = options.get("encoding") or "utf-8"
            aggregated = aggregate_files(
                path,
                scratch,
                memory_limit=memory_limit,
                temp_directory=temp_directory,
                providers=providers,
                strict=strict,
                progress=progress,
                events_out=scratch / "events.parquet",
                patient_secret=secret,
                tables=False,  # the store computes its own from its events
                panel=False,
                encoding="utf-8" if encoding_files == "auto" else encoding_files,
                npi=options.get("npi", "auto"),
                decimal=options.get("decimal") or ".",
                delimiter=options.get("delimiter"),
                date_format=options.get("date_format"),
                **{k: options.get(k) for k in REMEMBERED if k.endswith("_col")},
            )
            report = aggregated.report
            roles = report.columns
            if "date" not in roles:
                raise InputError(
                    f"{path}: no date column found. The store keeps a referral history: "
                    "its events need dates (CLI: --date-col NAME)."
                )
            step("adding to the store")
            # the store's own work within the same limit (checked by aggregate_files); it
            # spills to a folder beside the store, as DuckDB does for a database file
            self._con.execute("SET memory_limit = " + _literal(memory_limit))
            self._con.execute("SET preserve_insertion_order = false")
            load = self._add(
                f"read_parquet({_quote(scratch / 'events.parquet')})",
                path=path,
                digest=digest,
                size=size,
                rows_read=report.rows_read,
                excluded=report.excluded_by_reason,
                kept=aggregated.events,
                has_patients="patient_id" in roles,
                has_amount="amount" in roles,
                options=options,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        load.report = report
        logger.info(
            "%s: %s rows read, %s events kept, %s new to the store (months changed: %s)",
            path,
            f"{load.rows_read:,}",
            f"{load.kept:,}",
            f"{load.added:,}",
            ", ".join(load.months) or "none",
        )
        return load

    def _add(
        self,
        events: str,
        *,
        path: Path,
        digest: str,
        size: int,
        rows_read: int,
        excluded: dict[str, int],
        kept: int,
        has_patients: bool,
        has_amount: bool,
        options: Mapping[str, Any],
    ) -> Load:
        """Add validated events (`events`: SQL of a table of the columns of
        ``_layout.EVENT_COLUMNS``, the patient unsigned), and bring the tables up to
        date: one transaction (all or nothing)."""
        con = self._con
        meta = self._meta()
        if "has_patients" in meta:
            for role, now, name in (
                ("patient ids", has_patients, "has_patients"),
                ("amounts", has_amount, "has_amount"),
            ):
                before = meta[name] == "1"
                if before != now:
                    raise StoreError(
                        f"{path}: the store's events {'have' if before else 'have no'} "
                        f"{role} and this file's {'have none' if before else 'have them'}; "
                        "a store keeps one kind of event (map the column with the same "
                        "option as before, or use another store)."
                    )
        con.execute("BEGIN TRANSACTION")
        try:
            load_id = int(
                con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM rg_loads").fetchall()[0][0]
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE rg_new AS SELECT * FROM {events}")
            con.execute(
                "INSERT INTO rg_ids SELECT (SELECT coalesce(max(code), 0) FROM rg_ids) + "
                "row_number() OVER (ORDER BY id), id FROM (SELECT source AS id FROM rg_new "
                "UNION SELECT target FROM rg_new) n WHERE id NOT IN (SELECT id FROM rg_ids)"
            )
            key = f"hash({', '.join('c.' + c for c in _EVENT_COLUMNS)})"
            # the events new to the store, and those a load now holds more copies of
            con.execute(
                "CREATE OR REPLACE TEMP TABLE rg_staged AS SELECT i.code AS s, j.code AS t, "
                "e.date, e.patient, e.amount, e.service_line, e.payer, e.copies FROM rg_new e "
                "JOIN rg_ids i ON i.id = e.source JOIN rg_ids j ON j.id = e.target"
            )
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE rg_changes AS SELECT c.*, {key} AS k, "
                f"ev.copies AS before FROM rg_staged c LEFT JOIN rg_events ev ON "
                f"ev.k = {key} AND {_SAME_VALUES} "
                "WHERE ev.copies IS NULL OR c.copies > ev.copies"
            )
            con.execute(
                f"UPDATE rg_events ev SET copies = c.copies, load_id = {load_id} "
                f"FROM rg_changes c WHERE c.before IS NOT NULL AND ev.k = c.k AND {_SAME_VALUES}"
            )
            con.execute(
                "INSERT INTO rg_events SELECT s, t, date, patient, amount, service_line, payer, "
                f"copies, k, {load_id} FROM rg_changes WHERE before IS NULL"
            )
            added = int(
                con.execute(
                    "SELECT CAST(coalesce(sum(copies - coalesce(before, 0)), 0) AS BIGINT) "
                    "FROM rg_changes"
                ).fetchall()[0][0]
            )
            months = [
                pd.Timestamp(m).strftime("%Y-%m")
                for (m,) in con.execute(
                    "SELECT DISTINCT date_trunc('month', date) AS m FROM rg_changes ORDER BY m"
                ).fetchall()
            ]
            refresh(con)
            first, last = con.execute("SELECT min(date), max(date) FROM rg_new").fetchall()[0]
            con.execute(
                "INSERT INTO rg_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    load_id,
                    str(path.resolve()),
                    digest,
                    size,
                    rows_read,
                    int(kept),
                    added,
                    json.dumps(excluded),
                    first,
                    last,
                    json.dumps(months),
                    _now().replace(tzinfo=None),
                    json.dumps({k: v for k, v in options.items() if v is not None}),
                ],
            )
            remembered = {k: v for k, v in options.items() if k in REMEMBERED and v is not None}
            for name, value in (
                ("options", json.dumps(remembered)),
                ("has_patients", "1" if has_patients else "0"),
                ("has_amount", "1" if has_amount else "0"),
            ):
                con.execute(
                    "INSERT INTO rg_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "value = excluded.value",
                    [name, value],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            for table in ("rg_new", "rg_staged", "rg_changes"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("CHECKPOINT")  # the load in the database file itself, not only in its log
        return Load(
            load_id=load_id,
            file=str(path),
            sha256=digest,
            rows_read=rows_read,
            kept=int(kept),
            added=added,
            excluded=excluded,
            months=months,
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(path: str | os.PathLike[str]) -> str:
    return "'" + os.fspath(path).replace("'", "''") + "'"


def _now() -> datetime:
    return datetime.now(UTC)
