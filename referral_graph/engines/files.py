"""The ``files`` engine: event files validated and aggregated out of core by DuckDB.

The in-memory engines (``pandas``, ``duckdb``) aggregate events already read into
pandas by :func:`referral_graph.io.read_events`; this engine never holds the
events in Python (see ``docs/memory.md``): :func:`aggregate_files` reads event
files (CSV or Parquet, one or many) with DuckDB **out of core** (a memory limit
and a spill directory), applies the row-level checks of
:func:`~referral_graph.io.read_events` (their rules and wording shared with Spark
in :mod:`referral_graph.engines._rules`), counts distinct patients inside DuckDB
and writes the edge panel, the tie table and the patient panels as Parquet.
Patient ids are never materialised in Python. Public also as
:func:`referral_graph.scale.aggregate_files`.

Validation at scale
-------------------
The checks are those of :func:`~referral_graph.io.read_events`, with the same
messages, the same rows excluded and the same counts by reason: lines with the
wrong number of fields, blank lines, missing ids, NPI check digits (as
``npi=``), self-referrals, missing and unparsable dates (the date format is
detected exactly as :func:`~referral_graph.validate.parse_dates` does, on the
distinct date strings), non-numeric or negative amounts (set missing, row
kept), exact duplicates of rows carrying a patient id, and ids absent from the
providers table. When this first pass found a problem, an ordered pass over
the files (:mod:`referral_graph.engines._rownumbers`) gives every issue the row
numbers and examples of the in-memory reader (``file:row`` with several files);
a clean file is read once. Differences, all documented in ``docs/memory.md``:

* a line with one field too many, that field empty (a trailing delimiter), is
  read as a row by DuckDB (the in-memory reader excludes it);
* CSV files must be UTF-8 (with or without a byte-order mark) or, with
  ``encoding="latin-1"``, Latin-1; there is no cp1252 fallback; ``.bz2`` files
  are not read (``.gz`` and ``.zst`` are);
* a float id column from Parquet is turned into digits value by value (the
  in-memory reader does it only when every value is whole);
* time-zone-aware Parquet timestamps are read in UTC.

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
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from referral_graph import io as _io
from referral_graph._checks import check_decimal
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.validate import (
    MAX_EXAMPLES,
    ValidationReport,
    restore_ids,
)

if TYPE_CHECKING:
    import duckdb

from referral_graph._duckdb import duckdb_connect
from referral_graph.engines._files_sql import (
    _events_sql,
    _id_expr,
    _listing_sql,
    _needs_text,
    _panel_output_sql,
    _panel_select_sql,
    _panel_table_sql,
    _patients_sql,
    _text,
    _ties_from_panel_sql,
    _ties_sql,
)
from referral_graph.engines._rownumbers import (
    ROW_COLUMNS,
    RowSource,
    csv_rejects,
    has_problem_rows,
    number_rows,
)
from referral_graph.engines._rules import (
    NpiMode,
    PathLike,
    Progress,
    _amount_number_sql,
    _check_memory_limit,
    _CsvDialect,
    _date_lookup,
    _expand_paths,
    _explicit_columns,
    _fetch_column,
    _fill_report,
    _id_lookup,
    _ident,
    _kind,
    _log_report,
    _providers_ids,
    _quote,
    _refuse_decimal_commas,
    _report_name,
    _resolve_event_columns,
    _RowCounts,
    _sniff_csv,
    output_frame,
    restored_select,
)

__all__ = ["FilesAggregation", "aggregate_files"]

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- DuckDB engine


def _connect(memory_limit: str, temp_directory: Path, threads: int) -> duckdb.DuckDBPyConnection:
    return duckdb_connect(
        memory_limit=memory_limit,
        temp_directory=str(temp_directory),
        threads=threads,
        preserve_insertion_order=False,
    )


def _table_from_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Copy a small lookup frame into a DuckDB table: joins of millions of rows against a
    native table run several times faster than against a registered pandas frame."""
    con.register(f"{name}_frame", frame)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_frame")
    con.unregister(f"{name}_frame")


def _csv_reader(
    paths: Sequence[Path], dialect: _CsvDialect, *, encoding: str, rejects: bool
) -> str:
    files = "[" + ", ".join(_quote(str(p)) for p in paths) + "]"
    columns = "{" + ", ".join(f"{_quote(c)}: 'VARCHAR'" for c in dialect.columns) + "}"
    nulls = "[" + ", ".join(_quote(v) for v in _io.NULL_VALUES) + "]"
    errors = (
        "store_rejects = true, rejects_table = 'rg_reject_errors', rejects_scan = 'rg_reject_scans'"
        if rejects
        else "ignore_errors = true"
    )
    return (
        f"read_csv({files}, columns = {columns}, header = {str(dialect.header).lower()}, "
        f"delim = {_quote(dialect.delimiter)}, quote = '\"', escape = '\"', "
        f"nullstr = {nulls}, auto_detect = false, strict_mode = true, "
        f"encoding = {_quote(encoding)}, {errors})"
    )


@dataclass(frozen=True)
class _Source:
    """The events as cleaned SQL columns (one SELECT), whatever the file type."""

    reader: str
    select: str
    date_typed: bool
    amount_typed: bool
    blank: str


def _event_source(
    reader: str,
    cols: Mapping[str, str],
    types: Mapping[str, str],
    file_columns: Sequence[str],
    *,
    csv_file: bool,
    extra: Sequence[str] = (),
    decimal: str = ".",
    clean_ids: bool = True,
) -> _Source:
    """The events' SELECT. With ``clean_ids=False`` the source and target ids of text
    columns are left as read (for a caller that checks their distinct values, and
    cleans them only if one needs it: see :func:`_needs_text`)."""
    exprs = [
        f"{_id_expr(cols['source'], types[cols['source']], clean=clean_ids)} AS source",
        f"{_id_expr(cols['target'], types[cols['target']], clean=clean_ids)} AS target",
    ]
    date_typed = amount_typed = False
    if "date" in cols:
        c = _ident(cols["date"])
        kind = types[cols["date"]].upper()
        date_typed = kind == "DATE" or kind.startswith("TIMESTAMP")
        exprs.append(
            f"CAST({c} AS TIMESTAMP) AS date_value"
            if date_typed
            else f"CAST({c} AS VARCHAR) AS date_text"
        )
    if "patient_id" in cols:
        exprs.append(f"{_id_expr(cols['patient_id'], types[cols['patient_id']])} AS patient")
    if "amount" in cols:
        c = _ident(cols["amount"])
        kind = types[cols["amount"]].upper()
        amount_typed = kind in (
            "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE",
        ) or kind.startswith("DECIMAL")  # fmt: skip
        exprs.append(
            f"CAST({c} AS DOUBLE) AS amount_value"
            if amount_typed
            else f"CAST({c} AS VARCHAR) AS amount_text"
        )
    for key in ("service_line", "payer"):
        if key in cols:
            exprs.append(f"CAST({_ident(cols[key])} AS VARCHAR) AS {key}")
    # a blank line is a CSV notion (read_table drops them); Parquet rows are never blank
    blank = " AND ".join(f"{_ident(c)} IS NULL" for c in file_columns) if csv_file else ""
    blank = blank or "false"
    exprs.append(f"({blank}) AS blank")
    exprs += [_ident(c) for c in extra]  # carried as they are (the row numbers' columns)
    select = f"SELECT {', '.join(exprs)} FROM {reader}"
    if "amount" in cols and not amount_typed:  # parsed once per row (see _amount_number_sql)
        num = _amount_number_sql("amount_text", _text("amount_text"), decimal)
        select = f"SELECT *, {num} AS amount_num FROM ({select})"
    return _Source(
        reader=reader,
        select=select,
        date_typed=date_typed,
        amount_typed=amount_typed,
        blank=blank,
    )


def _examples(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [str(v) for v in _fetch_column(con, f"{sql} LIMIT {MAX_EXAMPLES}")]


def _amount_sql(source: _Source) -> tuple[str, str, str, str]:
    """SQL over ``src`` for the amount: (non-numeric flag, negative flag, value, raw text).

    Infinities and NaN are not numbers; negative amounts are flagged; both are kept
    as missing values.
    """
    num = "src.amount_value" if source.amount_typed else "src.amount_num"
    if source.amount_typed:
        non_numeric = f"coalesce(isinf({num}), false)"
        raw = f"CAST({num} AS VARCHAR)"
    else:
        non_numeric = (
            f"(src.amount_text IS NOT NULL AND ({num} IS NULL OR isinf({num}) OR isnan({num})))"
        )
        raw = "src.amount_text"
    negative = f"coalesce({num} < 0 AND NOT isinf({num}), false)"
    value = f"CASE WHEN isnan({num}) OR isinf({num}) OR {num} < 0 THEN NULL ELSE {num} END"
    return non_numeric, negative, value, raw


@dataclass(frozen=True)
class _Pass1:
    """What the first pass over the rows found: distinct values with their row counts.

    Every row-level problem is a property of one id, one date string or one
    amount, so the problems are counted from these groups (after the lookups
    are built) instead of by flagging each row.
    """

    total: int
    blanks: int
    sources: dict[str | None, tuple[int, int]]  # id -> (rows, self-referral rows)
    targets: dict[str | None, int]
    dates: dict[str | None, int]
    missing_typed_date: int
    non_numeric: int
    negative: int
    commas: int = 0  # rows whose amount text holds a comma (text amounts only)


def _pass1(con: duckdb.DuckDBPyConnection, source: _Source, cols: Mapping[str, str]) -> _Pass1:
    """Distinct ids and date strings with row counts, and the row-level totals, in one scan."""
    text_dates = "date" in cols and not source.date_typed
    keys = ["src.source", "src.target"] + (["src.date_text"] if text_dates else [])
    # count(*) FILTER, not count_if: count_if is NULL in a group whose condition is all NULL
    values = [
        "count(*)",
        "count(*) FILTER (WHERE src.blank)",
        "count(*) FILTER (WHERE src.source = src.target)",
        (
            "count(*) FILTER (WHERE src.date_value IS NULL)"
            if "date" in cols and source.date_typed
            else "0"
        ),
    ]
    if "amount" in cols:
        non_numeric, negative, _, _ = _amount_sql(source)
        values += [f"count(*) FILTER (WHERE {non_numeric})", f"count(*) FILTER (WHERE {negative})"]
    else:
        values += ["0", "0"]
    text_amounts = "amount" in cols and not source.amount_typed
    values.append("count(*) FILTER (WHERE contains(src.amount_text, ','))" if text_amounts else "0")
    full = (1 << len(keys)) - 1
    sql = _listing_sql(source.select, keys, values, table=source.select == "SELECT * FROM rg_raw")
    rows = con.execute(sql).fetchall()
    of_set = {full ^ (1 << (len(keys) - 1 - i)): i for i in range(len(keys))}
    sources: dict[str | None, tuple[int, int]] = {}
    targets: dict[str | None, int] = {}
    dates: dict[str | None, int] = {}
    total = blanks = missing_typed = non_num = neg = commas = 0
    for row in rows:
        *key, n, blank, self_ref, missing_date, bad_num, bad_neg, comma, group = row
        which = of_set.get(int(group))
        if which == 0:
            sources[key[0]] = (int(n), int(self_ref))
        elif which == 1:
            targets[key[1]] = int(n)
        elif which == 2:
            dates[key[2]] = int(n)
        else:  # the grand total
            total, blanks, missing_typed = int(n), int(blank), int(missing_date)
            non_num, neg, commas = int(bad_num), int(bad_neg), int(comma)
    return _Pass1(
        total=total,
        blanks=blanks,
        sources=sources,
        targets=targets,
        dates=dates,
        missing_typed_date=missing_typed,
        non_numeric=non_num,
        negative=neg,
        commas=commas,
    )


def _count_problems(
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    cols: Mapping[str, str],
    found: _Pass1,
    ids: pd.DataFrame,
    dates: pd.DataFrame | None,
    counts: _RowCounts,
    *,
    npi: NpiMode,
) -> None:
    """Fill `counts` from the first pass's groups and the lookups (blank rows excluded)."""
    bad_ids = set(ids.loc[ids["npi_bad"].to_numpy(), "id"])
    # blank lines have every column missing: they are in the missing-id and -date groups
    counts.missing = {
        "source": found.sources.get(None, (0, 0))[0] - found.blanks,
        "target": found.targets.get(None, 0) - found.blanks,
    }
    source_ids = {k: v[0] for k, v in found.sources.items() if k is not None}
    target_ids = {k: v for k, v in found.targets.items() if k is not None}
    for key, rows in (("source", source_ids), ("target", target_ids)):
        bad = sorted(bad_ids.intersection(rows))
        counts.npi_bad[key] = sum(rows[i] for i in bad)
        if bad:
            counts.npi_examples[key] = bad[:MAX_EXAMPLES]
    # a self-referral's source and target are one id: excluded as such unless its NPI is
    self_ids = sorted(
        k
        for k, (_, n) in found.sources.items()
        if k is not None and n and not (npi is True and k in bad_ids)
    )
    counts.self_referral = sum(found.sources[k][1] for k in self_ids)
    counts.self_examples = self_ids[:MAX_EXAMPLES]
    if "date" in cols:
        if source.date_typed:
            counts.missing_date = found.missing_typed_date
        else:
            assert dates is not None
            counts.missing_date = found.dates.get(None, 0) - found.blanks
            unparsable = dates.loc[dates["date"].isna().to_numpy(), "text"].tolist()
            counts.unparsable_date = sum(found.dates.get(d, 0) for d in unparsable)
            counts.date_examples = sorted(unparsable)[:MAX_EXAMPLES]
    counts.non_numeric, counts.negative = found.non_numeric, found.negative
    if counts.non_numeric or counts.negative:
        non_numeric, negative, _, raw = _amount_sql(source)
        for flag, attr, n in (
            (non_numeric, "non_numeric_examples", counts.non_numeric),
            (negative, "negative_examples", counts.negative),
        ):
            if n:
                setattr(
                    counts,
                    attr,
                    _examples(
                        con,
                        f"WITH src AS ({source.select}) "
                        f"SELECT DISTINCT {raw} FROM src WHERE {flag} ORDER BY 1",
                    ),
                )


def _kept_rows_sql(
    source: _Source, cols: Mapping[str, str], *, npi: NpiMode, rows: str | None = None
) -> str:
    """The rows kept, ids as codes and values parsed (the excluded ones filtered out).

    `rows` is a query of some of `source`'s rows (default: all of them). The inner
    joins drop rows with a missing id (blank lines too) and, with the date lookup,
    rows with a missing or unparsable date.
    """
    out = ["si.code AS s", "ti.code AS t"]
    joins = ["JOIN rg_ids si ON si.id = src.source", "JOIN rg_ids ti ON ti.id = src.target"]
    where = ["src.source <> src.target"]
    if npi is True:
        where.append("NOT si.npi_bad AND NOT ti.npi_bad")
    if "date" in cols:
        if source.date_typed:
            out.append("src.date_value AS date")
            where.append("src.date_value IS NOT NULL")
        else:
            out.append("CAST(dl.date AS TIMESTAMP) AS date")
            joins.append("JOIN rg_dates dl ON dl.text = src.date_text")
            where.append("dl.date IS NOT NULL")
    if "patient_id" in cols:
        out.append("src.patient")
    if "amount" in cols:
        out.append(f"{_amount_sql(source)[2]} AS amount")
    out += [f"src.{key}" for key in ("service_line", "payer") if key in cols]
    return (
        f"WITH src AS ({rows or source.select}) SELECT {', '.join(out)} FROM src "
        f"{' '.join(joins)} WHERE {' AND '.join(where)}"
    )


def _count_unknown(con: duckdb.DuckDBPyConnection, counts: _RowCounts) -> None:
    """Kept rows whose source / target is not in the providers table."""
    for key, code in (("source", "s"), ("target", "t")):
        n_rows, n_ids = con.execute(
            f"SELECT CAST(coalesce(sum(g.n), 0) AS BIGINT), count(DISTINCT g.{code}) "
            f"FROM rg_pm g JOIN rg_ids i ON i.code = g.{code} WHERE NOT i.known"
        ).fetchall()[0]
        counts.unknown_rows[key] = int(n_rows)
        counts.unknown_ids[key] = int(n_ids)
        if n_rows:
            counts.unknown_examples[key] = _examples(
                con,
                f"SELECT id FROM rg_ids WHERE NOT known AND code IN (SELECT {code} FROM rg_pm) "
                "ORDER BY id",
            )


def _month_sql(cols: Mapping[str, str]) -> str:
    return "date_trunc('month', date)" if "date" in cols else "NULL::TIMESTAMP"


def _tie_month_patient_sql(kept: str, cols: Mapping[str, str]) -> str:
    """``rg_pm``: the kept rows counted per (tie, month, patient): the one pass over them.

    ``n`` counts rows, duplicates included: :func:`_duplicates_sql` gives the
    exact figures of the few groups of several rows with a patient id, the only
    ones that can hold a duplicate.
    """
    dated = "date" in cols
    keys = ["s", "t", f"{_month_sql(cols)} AS m"] + (["patient"] if "patient_id" in cols else [])
    values = ["count(*) AS n"]
    values += ["min(date) AS d0", "max(date) AS d1"] if dated else ["NULL::TIMESTAMP AS d0"]
    values += [] if dated else ["NULL::TIMESTAMP AS d1"]
    if "amount" in cols:
        values.append("fsum(amount) AS amount")
    group = "s, t, m" + (", patient" if "patient_id" in cols else "")
    return (
        f"CREATE TEMP TABLE rg_pm AS WITH kept AS ({kept}) "
        f"SELECT {', '.join(keys + values)} FROM kept GROUP BY {group}"
    )


def _duplicates_sql(source: _Source, cols: Mapping[str, str], *, npi: NpiMode) -> str:
    """``rg_fix``: the (tie, month, patient) groups of several rows, duplicates removed.

    An exact repeat of a row with a patient id is a double load, kept once. Only
    the rows of groups counted more than once in ``rg_pm`` are read again (a semi
    join on their ids and patient), grouped on every column, and summed per group:
    ``n`` referrals, ``duplicates`` rows dropped, ``amount``.
    """
    groups = (
        "SELECT DISTINCT i.id AS source, j.id AS target, p.patient FROM rg_pm p "
        "JOIN rg_ids i ON i.code = p.s JOIN rg_ids j ON j.code = p.t "
        "WHERE p.n > 1 AND p.patient IS NOT NULL"
    )
    rows = (
        f"SELECT r.* FROM ({source.select}) r SEMI JOIN ({groups}) g "
        "ON r.source = g.source AND r.target = g.target AND r.patient = g.patient"
    )
    kept = _kept_rows_sql(source, cols, npi=npi, rows=rows)
    columns = ["s", "t", "patient"] + [
        k for k in ("date", "amount", "service_line", "payer") if k in cols
    ]
    amount = "amount" if "amount" in cols else "NULL::DOUBLE"
    return (
        f"CREATE TEMP TABLE rg_fix AS WITH kept AS ({kept}), "
        f"once AS (SELECT s, t, {_month_sql(cols)} AS m, patient, {amount} AS amount, "
        f"count(*) AS copies FROM kept GROUP BY {', '.join(columns)}) "
        "SELECT s, t, m, patient, count(*) AS n, sum(copies - 1) AS duplicates, "
        "fsum(amount) AS amount FROM once GROUP BY s, t, m, patient"
    )


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> Path:
    """Write a query's result as Parquet, atomically (zstd; row groups of 1M rows)."""
    with _io.atomic_path(path) as tmp:
        con.execute(
            f"COPY ({select}) TO {_quote(str(tmp))} "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
        )
    logger.info("Wrote %s", path)
    return path


def _count_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


# ----------------------------------------------------------------------------- aggregate_files


@dataclass
class FilesAggregation:
    """What :func:`aggregate_files` wrote.

    Attributes
    ----------
    paths : dict of str to pathlib.Path
        ``"ties"`` (always), ``"panel"`` (when the events have dates and the
        panel is asked for), ``"patients"`` (each provider's distinct patients
        as referrer or receiver, ``id, patients``, when the events have patient
        ids; see :func:`referral_graph.aggregate.provider_patients`) and
        ``"report"`` (the validation report as CSV); empty when nothing was
        written (``out_dir=None``).
    report : ValidationReport
        Every problem found, counted by reason.
    events : int
        Events kept (after exclusions).
    ties, tie_months, providers : int
        Rows of the tie table and the panel; distinct providers in the ties.
    period : tuple of pandas.Timestamp or None
        First and last event dates.
    seconds : float
        Wall time.
    frames : dict of str to pandas.DataFrame
        With ``out_dir=None``: the tables of `paths` (but the report) as
        DataFrames, ``"ties"`` and ``"panel"`` with the dtypes of
        :func:`~referral_graph.engines._rules.read_output`.
    """

    paths: dict[str, Path]
    report: ValidationReport
    events: int = 0
    ties: int = 0
    tie_months: int = 0
    providers: int = 0
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    seconds: float = 0.0
    frames: dict[str, Any] = field(default_factory=dict)


def aggregate_files(
    events_paths: PathLike | Sequence[PathLike],
    out_dir: PathLike | None,
    *,
    memory_limit: str = "8GB",
    temp_directory: PathLike | None = None,
    threads: int | None = None,
    source_col: str | None = None,
    target_col: str | None = None,
    date_col: str | None = None,
    patient_col: str | None = None,
    amount_col: str | None = None,
    service_line_col: str | None = None,
    payer_col: str | None = None,
    date_format: str | None = None,
    npi: NpiMode = "auto",
    providers: pd.DataFrame | PathLike | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    decimal: str = ".",
    strict: bool = False,
    progress: Progress | None = None,
    events_out: PathLike | None = None,
    patient_secret: str | None = None,
    tables: bool = True,
    panel: bool = True,
) -> FilesAggregation:
    """Validate and aggregate event files out of core; write the panel and ties as Parquet.

    The files are read by DuckDB, which keeps within `memory_limit` by spilling
    to `temp_directory`; only distinct provider ids and distinct date strings
    come into Python (to check NPIs and detect the date format exactly as
    :func:`~referral_graph.io.read_events` does). Patient ids stay inside
    DuckDB: they are counted distinct per tie and month and dropped.

    Parameters
    ----------
    events_paths : path, glob or sequence of paths
        CSV (optionally ``.gz`` / ``.zst``) or Parquet event files, all with the
        same columns; a folder stands for its ``*.parquet`` files.
    out_dir : path or None
        Folder for ``panel.parquet``, ``ties.parquet``, ``patients.parquet`` and
        ``validation.csv`` (each written atomically); None writes nothing and
        returns the tables in :attr:`FilesAggregation.frames` (faster, for a
        caller that reads them at once).
    memory_limit : str, default "8GB"
        DuckDB's memory limit (``"512MB"``, ``"8GB"``, ...).
    temp_directory : path, optional
        Where DuckDB spills; a fresh temporary folder (removed afterwards) by
        default. Spilled blocks may hold patient ids: put it on an encrypted
        volume when the data requires it.
    threads : int, optional
        DuckDB threads (default: every core).
    source_col, target_col, date_col, patient_col, amount_col, service_line_col, payer_col
        Column names, as in :func:`~referral_graph.io.read_events` (aliases recognised).
    date_format, npi, decimal, strict
        As in :func:`~referral_graph.io.read_events` (`decimal`: of the amounts).
    providers : pandas.DataFrame or path, optional
        Providers table; rows with ids absent from it are reported (and kept).
    encoding : {"utf-8", "latin-1"}, default "utf-8"
        CSV encoding.
    delimiter : str, optional
        CSV delimiter (detected from the header when omitted).
    progress : callable, optional
        Called with the name of each step as it starts.
    events_out : path, optional
        Also write the validated events there (Parquet; ``source``, ``target``,
        ``date``, ``patient``, ``amount``, ``service_line``, ``payer``,
        ``copies``): one row per distinct event, ``copies`` the times it occurs
        (1 for a row with a patient id: its exact repeats are duplicates). The
        patient id never leaves: ``patient`` is its keyed hash with
        `patient_secret` (64 bits of SHA-256 of the secret and the id), or missing without a secret.
        This is what :mod:`referral_graph.store` keeps.
    patient_secret : str, optional
        The secret of the patients' keyed hash in `events_out`.
    tables : bool, default True
        Write the panel, the ties and the patient panels; False writes only the
        validation report (and `events_out`): what a store's load needs.
    panel : bool, default True
        Write the panel (dated events); False leaves it out, the ties being summed
        over its rows all the same (the same numbers): what a graph file needs.

    Returns
    -------
    FilesAggregation
        Where the tables were written, and the validation report.

    Raises
    ------
    InputError, SchemaError, ParameterError, ValidationError
        As the in-memory readers (``ValidationError`` with ``strict=True``,
        raised before anything is written).

    Notes
    -----
    The output equals ``aggregate.edge_panel(read_events(f))`` and
    ``aggregate.tie_table(read_events(f))`` (same columns, dtypes and order;
    amounts equal up to floating-point summation order), and the report counts
    the same rows excluded by reason; see the module notes for what differs
    in the report's details. The Parquet files are read by every command
    (``referral-graph build --edges ties.parquet``), by :func:`load_compact`
    and by :func:`subgraph`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"from_npi": ["A", "A", ""], "to_npi": ["B", "B", "B"],
    ...               "service_date": ["2024-01-05", "2024-01-05", "2024-01-06"],
    ...               "member_id": ["p1", "p1", "p2"]}).to_csv(folder / "e.csv", index=False)
    >>> result = aggregate_files(folder / "e.csv", folder / "out", memory_limit="1GB")
    >>> result.report.excluded_by_reason
    {'missing_id': 1, 'duplicate_row': 1}
    >>> pd.read_parquet(result.paths["panel"])[["referrals", "patients"]].values.tolist()
    [[1, 1]]
    """
    started = time.perf_counter()
    step = progress or (lambda name: None)
    memory_limit = _check_memory_limit(memory_limit)
    decimal = check_decimal(decimal, "aggregate_files")
    if encoding not in ("utf-8", "latin-1"):
        raise ParameterError(
            "The 'encoding' parameter of aggregate_files must be 'utf-8' or 'latin-1'. "
            f"Got {encoding!r} instead."
        )
    if npi not in (True, False, "auto"):
        raise ParameterError(
            f"The 'npi' parameter of aggregate_files must be True, False or 'auto'. Got {npi!r}."
        )
    n_threads = max(1, os.cpu_count() or 1) if threads is None else int(threads)
    if n_threads < 1:
        raise ParameterError(
            f"The 'threads' parameter of aggregate_files must be an int >= 1. Got {threads!r}."
        )
    paths = _expand_paths(events_paths, "events_paths")
    kind = _kind(paths)
    name = _report_name(paths)
    out = None if out_dir is None else Path(os.fspath(out_dir))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    own_temp = temp_directory is None
    spill = Path(
        tempfile.mkdtemp(prefix="referral_graph_duckdb_")
        if own_temp
        else tempfile.mkdtemp(prefix="referral_graph_duckdb_", dir=os.fspath(str(temp_directory)))
    )
    known = _providers_ids(providers)
    con = _connect(memory_limit, spill, n_threads)
    try:
        step("reading")
        dialect: _CsvDialect | None = None
        if kind == "csv":
            dialect = _sniff_csv(paths[0], delimiter=delimiter, encoding=encoding)
            for other in paths[1:]:
                d = _sniff_csv(other, delimiter=dialect.delimiter, encoding=encoding)
                if d.columns != dialect.columns:
                    raise SchemaError(
                        f"{other}: its columns ({', '.join(d.columns)}) differ from those of "
                        f"{paths[0]} ({', '.join(dialect.columns)}); give files of one layout."
                    )
            file_columns = dialect.columns
            types = dict.fromkeys(file_columns, "VARCHAR")
            reader = _csv_reader(paths, dialect, encoding=encoding, rejects=True)
        else:
            files = "[" + ", ".join(_quote(str(p)) for p in paths) + "]"
            reader = f"read_parquet({files}, union_by_name = true)"
            try:
                described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
            except Exception as exc:  # duckdb raises its own error types
                raise InputError(f"{name}: cannot be read as Parquet ({exc}).") from exc
            file_columns = [str(r[0]) for r in described]
            types = {str(r[0]): str(r[1]) for r in described}
        cols = _resolve_event_columns(
            file_columns,
            name,
            _explicit_columns(
                source_col,
                target_col,
                date_col,
                patient_col,
                amount_col,
                service_line_col,
                payer_col,
            ),
            delimiter=dialect.delimiter if dialect else None,
        )
        logger.info(
            "Reading events out of core from %s with columns %s",
            name,
            ", ".join(f"{k}={v!r}" for k, v in cols.items()),
        )
        source = _event_source(
            reader,
            cols,
            types,
            file_columns,
            csv_file=kind == "csv",
            decimal=decimal,
            clean_ids=kind != "csv",
        )
        if kind == "csv":
            # Parse the CSV once into DuckDB's own columnar form (spilled beyond the memory
            # limit), its values already cleaned (but the ids, whose distinct values are
            # checked below): the passes below then scan it several times faster than the
            # text, and clean nothing twice.
            import duckdb

            try:
                con.execute(f"CREATE TEMP TABLE rg_raw AS {source.select}")
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                # a truncated or damaged compressed file; a broken line is a rejected row
                detail = str(exc).splitlines()[0]
                raise InputError(f"{name}: cannot be read ({detail}).") from exc
            source = replace(source, reader="rg_raw", select="SELECT * FROM rg_raw")
        report = ValidationReport(name=name)
        report.note_columns(cols, _io.EVENT_ALIASES)
        if dialect is not None:
            dialect.add_notes(report)
        counts = _RowCounts()
        # Pass 1: distinct ids and date strings with their row counts, and row-level totals.
        step("listing providers and dates")
        found = _pass1(con, source, cols)
        if kind == "csv" and _needs_text({*found.sources, *found.targets}):
            # some ids to strip or blank: cleaned in place, and listed again
            con.execute(
                "CREATE OR REPLACE TEMP TABLE rg_raw AS SELECT * REPLACE "
                f"({_text('source')} AS source, {_text('target')} AS target) FROM rg_raw"
            )
            found = _pass1(con, source, cols)
        if found.commas and decimal == ".":
            _refuse_decimal_commas(con, source.select, name, cols["amount"])
        restored, lossy = restore_ids(i for i in {*found.sources, *found.targets} if i)
        if restored or lossy:
            sources = {k: v[0] for k, v in found.sources.items()}
            counts.note_restored("source", sources, restored, lossy)
            counts.note_restored("target", found.targets, restored, lossy)
        if restored:
            # Ids a spreadsheet wrote as numbers: the rows are read again with their text.
            _table_from_frame(
                con, "rg_restore", pd.DataFrame({"raw": list(restored), "id": [*restored.values()]})
            )
            source = replace(source, select=restored_select(source.select))
            found = _pass1(con, source, cols)
        if kind == "csv":
            assert dialect is not None
            csv_rejects(con, dialect, counts, several=len(paths) > 1)
        if found.total == 0:
            raise InputError(f"{name}: the file has no data rows.")
        counts.rows_read = found.total + counts.wrong_fields
        counts.blank = found.blanks
        id_table = _id_lookup(
            sorted({i for i in (*found.sources, *found.targets) if i is not None}),
            npi=npi,
            known=known,
        )
        _table_from_frame(con, "rg_ids", id_table)
        date_table: pd.DataFrame | None = None
        if "date" in cols and not source.date_typed:
            step("reading dates")
            date_table = _date_lookup(
                [d for d in found.dates if d is not None],
                date_format=date_format,
                name=name,
                column=cols["date"],
            )
            _table_from_frame(con, "rg_dates", date_table)
        step("checking rows")
        _count_problems(con, source, cols, found, id_table, date_table, counts, npi=npi)
        # Pass 2: the rows kept, ids as codes and values parsed, counted per tie, month and
        # patient; then the groups that may hold a duplicate are read again and fixed.
        step("removing duplicates")
        has_patients = "patient_id" in cols
        has_dates = "date" in cols
        has_amount = "amount" in cols
        con.execute(_tie_month_patient_sql(_kept_rows_sql(source, cols, npi=npi), cols))
        duplicates = 0
        if has_patients:
            con.execute(_duplicates_sql(source, cols, npi=npi))
            amount = ", amount = f.amount" if has_amount else ""
            con.execute(
                f"UPDATE rg_pm SET n = f.n{amount} FROM rg_fix f WHERE rg_pm.s = f.s "
                "AND rg_pm.t = f.t AND rg_pm.m IS NOT DISTINCT FROM f.m "
                "AND rg_pm.patient = f.patient"
            )
            duplicates = con.execute(
                "SELECT CAST(coalesce(sum(duplicates), 0) AS BIGINT) FROM rg_fix"
            ).fetchall()[0][0]
        else:
            # Without patient ids identical rows are separate referrals, all kept; the
            # report notes how many there are.
            columns = ["s", "t"] + [
                k for k in ("date", "amount", "service_line", "payer") if k in cols
            ]
            duplicates = con.execute(
                f"WITH kept AS ({_kept_rows_sql(source, cols, npi=npi)}) "
                "SELECT CAST(coalesce(sum(copies - 1), 0) AS BIGINT) FROM "
                f"(SELECT count(*) AS copies FROM kept GROUP BY {', '.join(columns)})"
            ).fetchall()[0][0]
        if events_out is not None:
            step("writing the events")
            _copy(
                con,
                _events_sql(_kept_rows_sql(source, cols, npi=npi), cols, patient_secret),
                Path(os.fspath(events_out)),
            )
        if kind == "csv":
            con.execute("DROP TABLE rg_raw")
        kept = con.execute("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM rg_pm").fetchall()[0][0]
        counts.duplicates = int(duplicates)
        if known is not None:
            _count_unknown(con, counts)
        if has_problem_rows(counts, cols):  # a clean file is not read again
            step("numbering the problem rows")
            of_rows = partial(_event_source, csv_file=kind == "csv", extra=ROW_COLUMNS)
            rows = RowSource(
                paths=paths,
                kind=kind,
                select=lambda reader: of_rows(reader, cols, types, file_columns).select,
                cols=cols,
                npi=npi,
                date_typed=source.date_typed,
                amount=_amount_sql(source) if "amount" in cols else None,
                dialect=dialect,
                encoding=encoding,
                restored=bool(restored),
                lossy=lossy,
            )
            number_rows(con, rows, counts)
        con.execute("DROP TABLE IF EXISTS rg_fix")
        _fill_report(
            report,
            counts,
            cols,
            npi=npi,
            file_columns=file_columns,
            delimiter=dialect.delimiter if dialect else None,
            date_lookup=date_table,
            decimal=decimal,
        )
        report.raise_if_needed(strict=strict)
        paths_out: dict[str, Path] = {}
        result = FilesAggregation(paths=paths_out, report=report, events=int(kept))

        def emit(table: str, query: Callable[..., str]) -> int:
            """Write one output table as Parquet, or keep it in `result.frames`; its rows.

            In memory the ids are taken from the sorted ids by their codes (joining them
            in SQL cost a third of the ties' query).
            """
            if out is None:
                arrow = con.sql(query(codes=True)).to_arrow_table()
                names = pa.array(id_table["id"].to_numpy(dtype=object), pa.string())
                for i, name in enumerate(arrow.column_names):
                    if name in ("source", "target", "id"):
                        arrow = arrow.set_column(i, name, names.take(arrow.column(i)))
                result.frames[table] = (
                    arrow.to_pandas() if table == "patients" else output_frame(arrow)
                )
                return int(arrow.num_rows)
            paths_out[table] = _copy(con, query(codes=False), out / f"{table}.parquet")
            return _count_rows(paths_out[table])

        if not (tables and has_dates and panel):  # the period, where no panel gives it
            first, last = con.execute("SELECT min(d0), max(d1) FROM rg_pm").fetchall()[0]
            if first is not None:
                result.period = (pd.Timestamp(first), pd.Timestamp(last))
        if not tables:  # the validated events only (the store's load)
            pass
        elif has_dates and not panel:
            # the ties summed over the panel's rows as below, the panel itself not kept
            step("writing the ties")
            months = f"({_panel_select_sql(has_patients, has_amount)})"
            ties_sql = partial(_ties_from_panel_sql, has_patients, has_amount, months)
            result.ties = emit("ties", ties_sql)
        elif has_dates:
            # The panel, the ties and the patient panels are all summed from rg_pm (and the panel).
            step("writing the panel")
            con.execute(_panel_table_sql(has_patients, has_amount))
            result.tie_months = emit("panel", partial(_panel_output_sql, has_patients, has_amount))
            first, last = con.execute("SELECT min(d0), max(d1) FROM rg_panel").fetchall()[0]
            if first is not None:
                result.period = (pd.Timestamp(first), pd.Timestamp(last))
            step("writing the ties")
            result.ties = emit("ties", partial(_ties_from_panel_sql, has_patients, has_amount))
        else:
            step("writing the ties")
            result.ties = emit("ties", partial(_ties_sql, has_patients, has_amount))
        # the panel and the ties are out: free their table before the largest hash of all
        con.execute("DROP TABLE IF EXISTS rg_panel")
        if tables and has_patients:
            step("counting patient panels")
            emit("patients", _patients_sql)
        result.providers = int(
            con.execute(
                "SELECT count(*) FROM (SELECT s AS c FROM rg_pm UNION SELECT t FROM rg_pm)"
            ).fetchall()[0][0]
        )
        if out is not None:
            paths_out["report"] = _io.write_table(report.to_frame(), out / "validation.csv")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    _log_report(report, result.events)
    logger.info(
        "aggregate_files: %s events -> %s tie-months, %s ties, %s providers in %.1f s",
        f"{result.events:,}",
        f"{result.tie_months:,}",
        f"{result.ties:,}",
        f"{result.providers:,}",
        result.seconds,
    )
    return result
