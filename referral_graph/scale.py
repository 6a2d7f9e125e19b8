"""National-size networks on one machine: out-of-core aggregation and a compact graph.

The in-memory path (:func:`referral_graph.io.read_events` ->
:mod:`referral_graph.aggregate` -> :func:`referral_graph.graph.graph_from_tables`)
holds every event in pandas and every tie in a ``networkx.DiGraph``; this module
is the path for data that does not fit that way (see ``docs/memory.md``):

* :func:`aggregate_files` reads event files (CSV or Parquet, one or many) with
  DuckDB **out of core** (a memory limit and a spill directory), applies the
  row-level checks of :func:`~referral_graph.io.read_events`, counts distinct
  patients inside DuckDB and writes the edge panel and tie table as Parquet.
  Patient ids are never materialised in Python.
* :func:`load_compact` builds a :class:`~referral_graph.centrality.CompactGraph`
  (integer-coded arrays) from a tie or panel Parquet file without networkx;
  :func:`compact_measures` computes degree, strength, PageRank, HITS,
  communities and (sampled) betweenness on it.
* :func:`subgraph` and :func:`ego_network` return a ``networkx.DiGraph`` for any
  part of the network a user asks for (a region, a community, an ego network),
  with the same attributes as the full graph would have.

Validation at scale
-------------------
The checks are those of :func:`~referral_graph.io.read_events`, with the same
messages, the same rows excluded and the same counts by reason: lines with the
wrong number of fields, blank lines, missing ids, NPI check digits (as
``npi=``), self-referrals, missing and unparsable dates (the date format is
detected exactly as :func:`~referral_graph.validate.parse_dates` does, on the
distinct date strings), non-numeric or negative amounts (set missing, row
kept), exact duplicates of rows carrying a patient id, and ids absent from the
providers table. Differences, all documented in ``docs/memory.md``:

* issues carry counts and example values but no row numbers (DuckDB reads CSV
  files in parallel and gives lines no numbers), except ``wrong_field_count``,
  whose first line numbers are given;
* example values are the first in sorted order, not in file order;
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
>>> cg = load_compact(result.paths["ties"])
>>> cg.ids.tolist(), cg.weight.tolist()
(['A', 'B', 'C'], [2.0, 1.0])
"""

from __future__ import annotations

import contextlib
import csv
import glob
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from referral_graph import io as _io
from referral_graph.centrality import (
    CompactGraph,
    _betweenness_arrays,
    _coalesce,
    _hits_arrays,
    _pagerank_array,
)
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.npi import npi_flags
from referral_graph.validate import (
    MAX_EXAMPLES,
    MAX_ROWS_SHOWN,
    Issue,
    ValidationReport,
    check_ids,
    parse_dates,
    parse_numbers,
)

if TYPE_CHECKING:
    import duckdb

    from referral_graph.pipeline import ReferralNetwork

__all__ = [
    "FilesAggregation",
    "aggregate_files",
    "compact_measures",
    "ego_network",
    "load_compact",
    "load_network_files",
    "read_output",
    "subgraph",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Progress = Callable[[str], Any]
NpiMode = bool | Literal["auto"]

#: Canonical event columns, in the order of the in-memory reader.
EVENT_COLUMNS = ("source", "target", "date", "patient_id", "amount", "service_line", "payer")

# A plain decimal number (what pandas.to_numeric and Arrow's cast both read); DuckDB's cast
# alone would also take "1_000".
_NUMBER_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_MEMORY_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


# ----------------------------------------------------------------------------- shared helpers
# (used by referral_graph.spark too: one definition of the rules for every engine)


def _quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A SQL identifier (DuckDB and Spark SQL both accept double quotes... Spark: backticks)."""
    return '"' + name.replace('"', '""') + '"'


def _expand_paths(paths: PathLike | Sequence[PathLike], what: str) -> list[Path]:
    """Paths as a list, globs expanded; InputError for a missing file."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise ParameterError(f"The '{what}' parameter must name at least one file. Got none.")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text))
            if not found:
                raise InputError(f"{text}: no file matches this pattern.")
            out.extend(Path(f) for f in found)
        else:
            path = Path(text)
            if not path.exists():
                raise InputError(f"{path}: no such file.")
            if path.is_dir():
                parts = sorted(path.glob("*.parquet"))
                if not parts:
                    raise InputError(f"{path}: is a folder without Parquet files.")
                out.extend(parts)
            else:
                out.append(path)
    return out


def _kind(paths: Sequence[Path]) -> Literal["csv", "parquet"]:
    kinds = {"parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv" for p in paths}
    if len(kinds) > 1:
        raise ParameterError(
            "The event files must be all CSV or all Parquet. Got both kinds instead: "
            + ", ".join(p.name for p in paths[:4])
        )
    return "parquet" if kinds == {"parquet"} else "csv"


def _report_name(paths: Sequence[Path]) -> str:
    name = str(paths[0])
    return name if len(paths) == 1 else f"{name} (+{len(paths) - 1} more files)"


@dataclass(frozen=True)
class _CsvDialect:
    delimiter: str
    header: bool
    columns: list[str]
    notes: tuple[tuple[str, str], ...] = ()

    def add_notes(self, report: ValidationReport) -> None:
        """The reader's notes (byte-order mark, delimiter, header), as ``read_table`` gives."""
        for check, message in self.notes:
            report.add(check, message, level="info")


def _sniff_csv(
    path: Path, *, delimiter: str | None, encoding: str, names: Sequence[str] | None = None
) -> _CsvDialect:
    """Delimiter, header and column names, decided as :func:`referral_graph.io.read_table` does."""
    import pyarrow as pa

    if path.suffix.lower() == ".bz2":
        raise ParameterError(
            f"{path}: .bz2 files are not read out of core; decompress it or recompress it with "
            "gzip or zstd."
        )
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            sample = stream.read(1 << 16)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot be read ({exc}).") from exc
    if not sample.strip():
        raise InputError(f"{path}: the file is empty.")
    notes: list[tuple[str, str]] = []
    if sample.startswith(b"\xef\xbb\xbf"):
        notes.append(("bom", "UTF-8 byte-order mark removed"))
    text = sample.decode("latin-1" if encoding == "latin-1" else "utf-8-sig", errors="replace")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if delimiter is None:
        delimiter = _io._sniff_delimiter(first_line)
        if delimiter != ",":
            notes.append(("delimiter", f"delimiter detected: {delimiter!r}"))
    elif len(delimiter) != 1:
        raise ParameterError(
            f"The 'delimiter' parameter must be one character. Got {delimiter!r} instead."
        )
    fields = next(csv.reader([first_line], delimiter=delimiter), [])
    header = not _io._looks_headerless(fields)
    if header:
        columns = [c.strip().lstrip("\ufeff") for c in fields]
    elif names is not None:
        columns = list(names)
    else:
        columns = [f"column_{i + 1}" for i in range(len(fields))]
    if not header:
        notes.append(("no_header", "no header line; columns named " + ", ".join(columns)))
    return _CsvDialect(delimiter=delimiter, header=header, columns=columns, notes=tuple(notes))


def _resolve_event_columns(
    columns: Sequence[str],
    name: str,
    explicit: Mapping[str, str | None],
    delimiter: str | None = None,
) -> dict[str, str]:
    """Canonical name -> input column, with the aliases and messages of ``read_events``."""
    raw = _io.RawTable(
        frame=pd.DataFrame(columns=list(columns)),
        report=ValidationReport(name=name),
        delimiter=delimiter,
    )
    return _io._resolve_columns(
        raw,
        _io.EVENT_ALIASES,
        explicit,
        required=("source", "target"),
        hint_flags={"source": "--source-col", "target": "--target-col"},
    )


def _explicit_columns(
    source_col: str | None,
    target_col: str | None,
    date_col: str | None,
    patient_col: str | None,
    amount_col: str | None,
    service_line_col: str | None,
    payer_col: str | None,
) -> dict[str, str | None]:
    return {
        "source": source_col,
        "target": target_col,
        "date": date_col,
        "patient_id": patient_col,
        "amount": amount_col,
        "service_line": service_line_col,
        "payer": payer_col,
    }


def _date_lookup(
    distinct: Sequence[str], *, date_format: str | None, name: str, column: str
) -> pd.DataFrame:
    """Parse the distinct date strings as ``read_events`` does; return ``text, date``.

    The format is chosen on the distinct strings exactly as
    :func:`~referral_graph.validate.parse_dates` does on a column (it, too, works
    on the distinct values). Its notes (the format used, a month-first /
    day-first ambiguity) are kept in ``attrs["notes"]``; the row counts of
    missing and unparsable dates are the engine's to give.
    """
    values = pd.Series(sorted(distinct), dtype="str")
    scratch = ValidationReport(name=name)
    if len(values):
        # counts here are of distinct strings, not rows: keep them out of the log
        with _validate_log_off():
            dates, _ = parse_dates(values, date_format=date_format, report=scratch, column=column)
    else:
        dates = pd.Series([], dtype="datetime64[ns]")
    frame = pd.DataFrame(
        {"text": values, "date": np.asarray(dates.to_numpy(), dtype="datetime64[ns]")}
    )
    frame.attrs["notes"] = [
        i for i in scratch.issues if i.check not in ("missing_date", "unparsable_date")
    ]
    unparsable = [i.message for i in scratch.issues if i.check == "unparsable_date"]
    expected = date_format or "ISO8601"
    frame.attrs["unparsable_message"] = (
        unparsable[0] if unparsable else f"the date cannot be read (expected {expected})"
    )
    return frame


def _id_lookup(
    distinct: Sequence[str], *, npi: NpiMode, known: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per distinct id, sorted: ``id``, ``code`` (int32), ``npi_bad``, ``known``.

    ``npi_bad`` is the ``invalid_npi`` rule of :func:`~referral_graph.validate.check_ids`:
    with ``npi=True`` every id that is not a valid NPI, with ``"auto"`` the ids shaped
    like an NPI whose check digit is wrong (reported, not excluded), with ``False`` none.
    Codes follow the sorted ids, as in :mod:`referral_graph.aggregate`, so ordering by
    code is ordering by id.
    """
    ids = pd.Series(np.sort(np.asarray(list(distinct), dtype=object)), dtype="str")
    if npi is False or len(ids) == 0:
        bad = np.zeros(len(ids), dtype=bool)
    else:
        shaped, valid = npi_flags(ids)
        bad = ~valid if npi is True else shaped & ~valid
    frame = pd.DataFrame({"id": ids, "code": np.arange(len(ids), dtype=np.int32), "npi_bad": bad})
    frame["known"] = (
        ids.isin(pd.Index(list(known), dtype="str")).to_numpy()
        if known is not None
        else np.ones(len(ids), dtype=bool)
    )
    return frame


@dataclass
class _RowCounts:
    """Counts of each row-level problem, filled by an engine (DuckDB or Spark)."""

    rows_read: int = 0
    wrong_fields: int = 0
    wrong_field_lines: list[int] = field(default_factory=list)
    wrong_field_examples: list[str] = field(default_factory=list)
    blank: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    npi_bad: dict[str, int] = field(default_factory=dict)
    npi_examples: dict[str, list[str]] = field(default_factory=dict)
    self_referral: int = 0
    self_examples: list[str] = field(default_factory=list)
    missing_date: int = 0
    unparsable_date: int = 0
    date_examples: list[str] = field(default_factory=list)
    non_numeric: int = 0
    negative: int = 0
    non_numeric_examples: list[str] = field(default_factory=list)
    negative_examples: list[str] = field(default_factory=list)
    duplicates: int = 0
    unknown_rows: dict[str, int] = field(default_factory=dict)
    unknown_ids: dict[str, int] = field(default_factory=dict)
    unknown_examples: dict[str, list[str]] = field(default_factory=dict)


@contextlib.contextmanager
def _validate_log_off() -> Iterator[None]:
    """Template and scratch reports are not news: keep them out of the log."""
    validate_logger = logging.getLogger("referral_graph.validate")
    was_disabled = validate_logger.disabled
    validate_logger.disabled = True
    try:
        yield
    finally:
        validate_logger.disabled = was_disabled


def _templates(npi: NpiMode) -> dict[str, Issue]:
    """The issues ``validate``'s own checks write, run on tiny inputs: messages and hints.

    The engines count rows themselves but word every issue as the in-memory reader does, so
    a change of wording in :mod:`referral_graph.validate` carries over.
    """
    scratch = ValidationReport(name="")
    with _validate_log_off():
        check_ids(
            pd.Series(["", "1234567890", "A"], dtype="str"),
            report=scratch,
            column="",
            npi=npi if npi is not False else "auto",
        )
        parse_numbers(
            pd.Series(["x", "-1"], dtype="str"),
            report=scratch,
            column="",
            kind="amount",
            exclude=False,
            integer=False,
        )
        parse_dates(pd.Series([None, "x"], dtype="str"), report=scratch, column="")
    return {i.check: i for i in scratch.issues}


def _fill_report(
    report: ValidationReport,
    counts: _RowCounts,
    cols: Mapping[str, str],
    *,
    npi: NpiMode,
    file_columns: Sequence[str],
    delimiter: str | None,
    date_lookup: pd.DataFrame | None,
) -> None:
    """Add the row-level issues, with the messages of ``read_events`` and in its order."""
    report.rows_read = counts.rows_read
    words = _templates(npi)
    if counts.wrong_fields:
        report.add(
            "wrong_field_count",
            f"the line does not have {len(file_columns)} fields ({', '.join(file_columns)})",
            rows=counts.wrong_field_lines[:MAX_ROWS_SHOWN],
            count=counts.wrong_fields,
            examples=counts.wrong_field_examples,
            excluded=True,
            hint=f"check the delimiter ({delimiter!r}) and quoting on these lines",
        )
    if counts.blank:
        report.add(
            "blank_line", "the line is blank", count=counts.blank, excluded=True, level="info"
        )
    for key in ("source", "target"):
        if counts.missing.get(key):
            report.add(
                "missing_id",
                words["missing_id"].message,
                column=cols[key],
                count=counts.missing[key],
                excluded=True,
                hint=words["missing_id"].hint,
            )
        if counts.npi_bad.get(key) and npi is not False:
            report.add(
                "invalid_npi",
                words["invalid_npi"].message,
                column=cols[key],
                count=counts.npi_bad[key],
                examples=counts.npi_examples.get(key, []),
                excluded=npi is True,
                hint=words["invalid_npi"].hint,
            )
    if counts.self_referral:
        report.add(
            "self_referral",
            "the source and target are the same provider (self-referral)",
            column=cols["source"],
            count=counts.self_referral,
            examples=counts.self_examples,
            excluded=True,
            hint="self-referrals are not ties of the network; remove them or check the id columns",
        )
    if "date" in cols:
        for note in date_lookup.attrs.get("notes", []) if date_lookup is not None else []:
            report.add(
                note.check,
                note.message,
                level=note.level,
                column=note.column,
                examples=note.examples,
                hint=note.hint,
            )
        if counts.missing_date:
            report.add(
                "missing_date",
                words["missing_date"].message,
                column=cols["date"],
                count=counts.missing_date,
                excluded=True,
                # read_events words the hint for typed (Parquet) dates its own way
                hint=words["missing_date"].hint
                if date_lookup is not None
                else "fill in the dates, or leave the date column out",
            )
        if counts.unparsable_date:
            report.add(
                "unparsable_date",
                str(date_lookup.attrs["unparsable_message"])
                if date_lookup is not None
                else "the date cannot be read",
                column=cols["date"],
                count=counts.unparsable_date,
                examples=counts.date_examples,
                excluded=True,
                hint=words["unparsable_date"].hint,
            )
    if "amount" in cols:
        for check, n, examples in (
            ("non_numeric", counts.non_numeric, counts.non_numeric_examples),
            ("negative", counts.negative, counts.negative_examples),
        ):
            if n:
                report.add(
                    check,
                    words[check].message,
                    column=cols["amount"],
                    count=n,
                    examples=examples,
                    hint=words[check].hint,
                )
    if "patient_id" in cols:
        if counts.duplicates:
            report.add(
                "duplicate_row",
                "the row repeats an earlier row exactly (same patient, providers and date)",
                column=", ".join(cols[k] for k in EVENT_COLUMNS if k in cols),
                count=counts.duplicates,
                excluded=True,
                hint="remove double-loaded rows from the extract",
            )
    elif counts.duplicates:
        report.add(
            "identical_rows",
            f"{counts.duplicates:,} rows are identical to an earlier row; without patient ids "
            "they are kept as separate referrals on the same day",
            level="info",
        )
    for key in ("source", "target"):
        if counts.unknown_rows.get(key):
            report.add(
                "unknown_provider",
                f"{counts.unknown_ids.get(key, 0):,} {key} id(s) are not in the providers table",
                column=cols[key],
                count=counts.unknown_rows[key],
                examples=counts.unknown_examples.get(key, []),
                hint="add these providers to the providers file, or check the id columns match",
            )


def _log_report(report: ValidationReport, kept: int) -> None:
    excluded = report.excluded_by_reason
    detail = ", ".join(f"{k}: {v:,}" for k, v in excluded.items())
    logger.info(
        "Loaded %s events from %s (%s rows read, %s excluded%s)",
        f"{kept:,}",
        report.name,
        f"{report.rows_read:,}",
        f"{sum(excluded.values()):,}",
        f": {detail}" if detail else "",
    )


def _check_memory_limit(memory_limit: str) -> str:
    if not isinstance(memory_limit, str) or not _MEMORY_RE.match(memory_limit):
        raise ParameterError(
            "The 'memory_limit' parameter of aggregate_files must be a size such as '8GB' or "
            f"'512MB'. Got {memory_limit!r} instead."
        )
    return memory_limit.strip()


def _providers_ids(providers: pd.DataFrame | PathLike | None) -> pd.Series | None:
    if providers is None:
        return None
    table = providers if isinstance(providers, pd.DataFrame) else _io.read_providers(providers)
    if "id" not in table.columns:
        raise SchemaError("The providers table lacks the 'id' column.")
    return table["id"].dropna().astype("str")


# ----------------------------------------------------------------------------- DuckDB engine

_WS = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)"


def _connect(memory_limit: str, temp_directory: Path, threads: int) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(database=":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = {_quote(memory_limit)}")
    con.execute(f"SET temp_directory = {_quote(str(temp_directory))}")
    con.execute(f"SET threads TO {threads}")
    con.execute("SET preserve_insertion_order = false")
    return con


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


def _text(expr: str) -> str:
    """An id-like text value: stripped, blank as NULL.

    Most values need no stripping: a test of their first and last character is much
    cheaper than ``trim`` with a list of characters.
    """
    x = f"CAST({expr} AS VARCHAR)"
    edges = f"ascii({x}) > 32 AND ascii({x}) <> 160 AND ascii(right({x}, 1)) > 32 AND " + (
        f"ascii(right({x}, 1)) <> 160"
    )
    return f"CASE WHEN {edges} THEN {x} ELSE NULLIF(trim({x}, {_WS}), '') END"


def _id_expr(column: str, dtype: str) -> str:
    c = _ident(column)
    kind = dtype.upper()
    if kind in ("FLOAT", "DOUBLE") or kind.startswith("DECIMAL"):
        return (
            f"CASE WHEN {c} IS NULL OR isnan(CAST({c} AS DOUBLE)) THEN NULL "
            f"WHEN {c} = floor({c}) THEN CAST(CAST({c} AS HUGEINT) AS VARCHAR) "
            f"ELSE CAST({c} AS VARCHAR) END"
        )
    return _text(c)


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
) -> _Source:
    exprs = [
        f"{_id_expr(cols['source'], types[cols['source']])} AS source",
        f"{_id_expr(cols['target'], types[cols['target']])} AS target",
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
    select = f"SELECT {', '.join(exprs)} FROM {reader}"
    if "amount" in cols and not amount_typed:
        # The amount as a number, parsed once per row (its checks and value read it).
        # DuckDB's cast reads what pandas.to_numeric and Arrow read, and also "1_000"
        # (excluded here) and "nan" / "inf" spelled in any case (see _amount_sql).
        text = "amount_text"
        num = f"CASE WHEN NOT contains({text}, '_') THEN TRY_CAST({_text(text)} AS DOUBLE) END"
        select = f"SELECT *, {num} AS amount_num FROM ({select})"
    return _Source(
        reader=reader,
        select=select,
        date_typed=date_typed,
        amount_typed=amount_typed,
        blank=blank,
    )


def _fetch_column(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return [row[0] for row in con.execute(sql).fetchall()]


def _csv_rejects(con: duckdb.DuckDBPyConnection, dialect: _CsvDialect, counts: _RowCounts) -> None:
    """Lines DuckDB skipped: wrong field counts are counted; anything else stops the load."""
    try:
        rows = con.execute(
            "SELECT e.file_id, e.line, e.error_type, e.csv_line, s.file_path "
            "FROM rg_reject_errors e JOIN rg_reject_scans s USING (scan_id, file_id) "
            "ORDER BY e.file_id, e.line"
        ).fetchall()
    except Exception:  # no table: nothing was rejected
        return
    seen: dict[tuple[int, int], str] = {}
    for file_id, line, error_type, text, file_path in rows:
        kind = str(error_type)
        if kind not in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
            if kind == "INVALID ENCODING" or "UNICODE" in kind:
                raise InputError(
                    f"{file_path}: line {line} is not valid UTF-8; convert the file to UTF-8 or "
                    "pass encoding='latin-1'."
                )
            raise InputError(f"{file_path}: cannot be read as CSV (line {line}: {kind.lower()}).")
        seen.setdefault((int(file_id), int(line)), str(text or ""))
    counts.wrong_fields = len(seen)
    counts.wrong_field_lines = [line for _, line in list(seen)[:MAX_ROWS_SHOWN]]
    # The line's text is never quoted (it may hold patient ids): only its field count.
    counts.wrong_field_examples = sorted(
        {f"{_field_count(t, dialect.delimiter)} fields" for t in seen.values()}
    )[:MAX_EXAMPLES]


def _field_count(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line.strip("\r\n")], delimiter=delimiter), []))


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


def _pass1(con: duckdb.DuckDBPyConnection, source: _Source, cols: Mapping[str, str]) -> _Pass1:
    """Distinct ids and date strings with row counts, and the row-level totals, in one scan."""
    text_dates = "date" in cols and not source.date_typed
    keys = ["src.source", "src.target"] + (["src.date_text"] if text_dates else [])
    sets = ["(src.source)", "(src.target)"] + (["(src.date_text)"] if text_dates else []) + ["()"]
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
    # GROUPING(...) has a bit per key, set where the key is not in the row's grouping set.
    rows = con.execute(
        f"WITH src AS ({source.select}) SELECT {', '.join(keys)}, {', '.join(values)}, "
        f"GROUPING({', '.join(keys)}) FROM src GROUP BY GROUPING SETS ({', '.join(sets)})"
    ).fetchall()
    full = (1 << len(keys)) - 1
    of_set = {full ^ (1 << (len(keys) - 1 - i)): i for i in range(len(keys))}
    sources: dict[str | None, tuple[int, int]] = {}
    targets: dict[str | None, int] = {}
    dates: dict[str | None, int] = {}
    total = blanks = missing_typed = non_num = neg = 0
    for row in rows:
        *key, n, blank, self_ref, missing_date, bad_num, bad_neg, group = row
        which = of_set.get(int(group))
        if which == 0:
            sources[key[0]] = (int(n), int(self_ref))
        elif which == 1:
            targets[key[1]] = int(n)
        elif which == 2:
            dates[key[2]] = int(n)
        else:  # the grand total
            total, blanks, missing_typed = int(n), int(blank), int(missing_date)
            non_num, neg = int(bad_num), int(bad_neg)
    return _Pass1(
        total=total,
        blanks=blanks,
        sources=sources,
        targets=targets,
        dates=dates,
        missing_typed_date=missing_typed,
        non_numeric=non_num,
        negative=neg,
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
        values.append("sum(amount) AS amount")
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
        "sum(amount) AS amount FROM once GROUP BY s, t, m, patient"
    )


def _panel_table_sql(has_patients: bool, has_amount: bool) -> str:
    """``rg_panel``: one row per (s, t, month), with distinct patients and the month's dates."""
    values = ["CAST(sum(n) AS BIGINT) AS referrals", "min(d0) AS d0", "max(d1) AS d1"]
    if has_patients:
        values.append("count(*) FILTER (WHERE patient IS NOT NULL) AS patients")
    if has_amount:
        values.append("CAST(sum(amount) AS DOUBLE) AS amount")
    return (
        f"CREATE TEMP TABLE rg_panel AS SELECT s, t, m, {', '.join(values)} FROM rg_pm "
        "GROUP BY s, t, m"
    )


def _panel_output_sql(has_patients: bool, has_amount: bool) -> str:
    """The panel as written, in the columns and order of `aggregate.edge_panel`."""
    cols = ["i.id AS source", "j.id AS target", "CAST(p.m AS TIMESTAMP_NS) AS month", "p.referrals"]
    cols += (["p.patients"] if has_patients else []) + (["p.amount"] if has_amount else [])
    return (
        f"SELECT {', '.join(cols)} FROM rg_panel p JOIN rg_ids i ON i.code = p.s "
        "JOIN rg_ids j ON j.code = p.t ORDER BY p.s, p.t, p.m"
    )


def _ties_from_panel_sql(has_patients: bool, has_amount: bool) -> str:
    """The ties of dated events: sums over the panel; distinct patients over the period."""
    values = [
        "CAST(sum(referrals) AS BIGINT) AS referrals",
        "CAST(min(d0) AS TIMESTAMP_NS) AS first_date",
        "CAST(max(d1) AS TIMESTAMP_NS) AS last_date",
        "count(*) AS active_months",
    ]
    if has_amount:
        values.append("CAST(sum(amount) AS DOUBLE) AS amount")
    sql = f"WITH x AS (SELECT s, t, {', '.join(values)} FROM rg_panel GROUP BY s, t)"
    select = ["i.id AS source", "j.id AS target", "x.referrals"]
    join = ""
    if has_patients:
        sql += (
            ", pt AS (SELECT s, t, count(patient) AS patients FROM "
            "(SELECT DISTINCT s, t, patient FROM rg_pm) GROUP BY s, t)"
        )
        select.append("pt.patients")
        join = "JOIN pt ON pt.s = x.s AND pt.t = x.t "
    select += (["x.amount"] if has_amount else []) + [
        "x.first_date",
        "x.last_date",
        "x.active_months",
    ]
    return (
        f"{sql} SELECT {', '.join(select)} FROM x {join}"
        "JOIN rg_ids i ON i.code = x.s JOIN rg_ids j ON j.code = x.t ORDER BY x.s, x.t"
    )


def _ties_sql(has_patients: bool, has_amount: bool) -> str:
    """The ties of undated events: referrals and distinct patients per (s, t)."""
    values = ["CAST(sum(n) AS BIGINT) AS referrals"]
    names = ["referrals"]
    if has_patients:
        values.append("count(*) FILTER (WHERE patient IS NOT NULL) AS patients")
        names.append("patients")
    if has_amount:
        values.append("CAST(sum(amount) AS DOUBLE) AS amount")
        names.append("amount")
    select = ["i.id AS source", "j.id AS target"] + [f"x.{c}" for c in names]
    return (
        f"WITH x AS (SELECT s, t, {', '.join(values)} FROM rg_pm GROUP BY s, t) "
        f"SELECT {', '.join(select)} FROM x "
        "JOIN rg_ids i ON i.code = x.s JOIN rg_ids j ON j.code = x.t ORDER BY x.s, x.t"
    )


def _patients_sql() -> str:
    """Each provider's distinct patients as referrer or receiver (``rg_pm`` rows with one)."""
    return (
        "WITH pairs AS (SELECT s AS c, patient FROM rg_pm WHERE patient IS NOT NULL "
        "UNION SELECT t AS c, patient FROM rg_pm WHERE patient IS NOT NULL), "
        "n AS (SELECT c, count(*) AS patients FROM pairs GROUP BY c) "
        "SELECT i.id AS id, CAST(n.patients AS BIGINT) AS patients FROM n "
        "JOIN rg_ids i ON i.code = n.c ORDER BY i.id"
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
        ``"ties"`` (always), ``"panel"`` (when the events have dates),
        ``"patients"`` (each provider's distinct patients as referrer or
        receiver, ``id, patients``, when the events have patient ids; see
        :func:`referral_graph.aggregate.provider_patients`) and ``"report"``
        (the validation report as CSV).
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
    """

    paths: dict[str, Path]
    report: ValidationReport
    events: int = 0
    ties: int = 0
    tie_months: int = 0
    providers: int = 0
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    seconds: float = 0.0


def aggregate_files(
    events_paths: PathLike | Sequence[PathLike],
    out_dir: PathLike,
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
    strict: bool = False,
    progress: Progress | None = None,
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
    out_dir : path
        Folder for ``panel.parquet``, ``ties.parquet`` and ``validation.csv``
        (each written atomically).
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
    date_format, npi, strict
        As in :func:`~referral_graph.io.read_events`.
    providers : pandas.DataFrame or path, optional
        Providers table; rows with ids absent from it are reported (and kept).
    encoding : {"utf-8", "latin-1"}, default "utf-8"
        CSV encoding.
    delimiter : str, optional
        CSV delimiter (detected from the header when omitted).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    FilesAggregation

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
    out = Path(os.fspath(out_dir))
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
        source = _event_source(reader, cols, types, file_columns, csv_file=kind == "csv")
        if kind == "csv":
            # Parse the CSV once into DuckDB's own columnar form (spilled beyond the memory
            # limit), its values already cleaned: the two passes below then scan it several
            # times faster than the text, and clean nothing twice.
            con.execute(f"CREATE TEMP TABLE rg_raw AS {source.select}")
            source = replace(source, reader="rg_raw", select="SELECT * FROM rg_raw")
        report = ValidationReport(name=name)
        if dialect is not None:
            dialect.add_notes(report)
        counts = _RowCounts()
        # Pass 1: distinct ids and date strings with their row counts, and row-level totals.
        step("listing providers and dates")
        found = _pass1(con, source, cols)
        if kind == "csv":
            assert dialect is not None
            _csv_rejects(con, dialect, counts)
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
        # Pass 2: the rows kept, ids as codes and values parsed, grouped on every column.
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
            con.execute("DROP TABLE rg_fix")
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
        if kind == "csv":
            con.execute("DROP TABLE rg_raw")
        kept = con.execute("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM rg_pm").fetchall()[0][0]
        counts.duplicates = int(duplicates)
        if known is not None:
            _count_unknown(con, counts)
        _fill_report(
            report,
            counts,
            cols,
            npi=npi,
            file_columns=file_columns,
            delimiter=dialect.delimiter if dialect else None,
            date_lookup=date_table,
        )
        report.raise_if_needed(strict=strict)
        paths_out: dict[str, Path] = {}
        result = FilesAggregation(paths=paths_out, report=report, events=int(kept))
        if has_dates:
            # The panel, the ties and the patient panels are all summed from rg_pm (and the panel).
            step("writing the panel")
            con.execute(_panel_table_sql(has_patients, has_amount))
            paths_out["panel"] = _copy(
                con, _panel_output_sql(has_patients, has_amount), out / "panel.parquet"
            )
            result.tie_months = _count_rows(paths_out["panel"])
            first, last = con.execute("SELECT min(d0), max(d1) FROM rg_panel").fetchall()[0]
            if first is not None:
                result.period = (pd.Timestamp(first), pd.Timestamp(last))
            step("writing the ties")
            paths_out["ties"] = _copy(
                con, _ties_from_panel_sql(has_patients, has_amount), out / "ties.parquet"
            )
        else:
            step("writing the ties")
            paths_out["ties"] = _copy(
                con, _ties_sql(has_patients, has_amount), out / "ties.parquet"
            )
        result.ties = _count_rows(paths_out["ties"])
        if has_patients:
            step("counting patient panels")
            paths_out["patients"] = _copy(con, _patients_sql(), out / "patients.parquet")
        result.providers = int(
            con.execute(
                "SELECT count(*) FROM (SELECT s AS c FROM rg_pm UNION SELECT t FROM rg_pm)"
            ).fetchall()[0][0]
        )
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


def read_output(path: PathLike) -> pd.DataFrame:
    """Read a panel or tie table written by :func:`aggregate_files` (or the Spark engine).

    Returns the table with the dtypes of :mod:`referral_graph.aggregate`: ids
    as ``str``, dates as ``datetime64[ns]``, counts as ``int64``. A folder of
    Parquet parts (as Spark writes on a cluster) is read as one table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"source": ["A"], "target": ["B"], "referrals": [3]}).to_parquet(p)
    >>> read_output(p).dtypes.astype(str).tolist()
    ['str', 'str', 'int64']
    """
    import pyarrow.parquet as pq

    files = _expand_paths(path, "path")
    table = pq.read_table(files[0] if len(files) == 1 else [str(f) for f in files])
    frame: pd.DataFrame = table.to_pandas(date_as_object=False)
    for c in frame.columns:
        if c in ("source", "target"):
            frame[c] = frame[c].astype("str")
        elif pd.api.types.is_datetime64_any_dtype(frame[c]):
            col = frame[c]
            if isinstance(col.dtype, pd.DatetimeTZDtype):
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            frame[c] = col.astype("datetime64[ns]")
        elif c in ("referrals", "patients", "active_months") and pd.api.types.is_integer_dtype(
            frame[c]
        ):
            frame[c] = frame[c].astype("int64")
    return frame


# ----------------------------------------------------------------------------- compact graph


def _unified_codes(column: Any) -> tuple[Any, np.ndarray]:
    """Dictionary-encode an Arrow (chunked) string column: (dictionary, int64 indices).

    Chunks are combined first (one dictionary for the column: combining dictionary
    chunks that share their dictionary is immediate, unlike ``unify_dictionaries``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 0:
            return pa.array([], pa.string()), np.empty(0, dtype=np.int64)
        try:
            column = column.combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowCapacityError, OverflowError):
            # more than 2 GB of text in one column: 64-bit offsets
            column = column.cast(pa.large_string()).combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    dictionary = column.dictionary
    indices = column.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        dictionary = pc.cast(dictionary, pa.string())
    return dictionary, indices


def load_compact(
    edges: PathLike | Sequence[PathLike],
    *,
    weight: str | None = "referrals",
    nodes: pd.DataFrame | Iterable[str] | PathLike | None = None,
) -> CompactGraph:
    """Load a tie table (or panel) from Parquet as a :class:`CompactGraph`, without networkx.

    Only the ``source``, ``target`` and `weight` columns are read; ids are
    dictionary-encoded by Arrow (no Python string per edge), so a graph of
    20 million ties loads in seconds and takes about 16 bytes per tie plus
    ~100 bytes per provider (see ``docs/memory.md``).

    Parameters
    ----------
    edges : path or sequence of paths
        ``ties.parquet`` from :func:`aggregate_files` (or the Spark engine, or
        ``save_graph``'s ``edges.parquet``), a folder of Parquet parts, or a
        panel (with ``month``): its months are summed.
    weight : str or None, default "referrals"
        Column used as tie strength; missing values count 1.0 (logged).
        ``None``: every tie is 1.
    nodes : DataFrame, iterable of str or path, optional
        Providers to include even without ties (a providers table with ``id``,
        a Parquet/CSV providers file, or ids); they come first in node order.

    Returns
    -------
    CompactGraph
        Equal to ``CompactGraph.from_networkx(graph_from_tables(ties, providers))``,
        arrays and order included: nodes are the given ones, then ids by first
        appearance reading the ties row by row, source before target; ties are
        grouped by source in node order. So every measure, communities
        included, equals the one computed from the networkx graph.

    Raises
    ------
    SchemaError
        If a column is missing.
    ParameterError
        On a missing id or a negative or non-finite weight.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
    >>> pd.DataFrame({"source": ["A", "B"], "target": ["B", "C"],
    ...               "referrals": [4, 1]}).to_parquet(p)
    >>> cg = load_compact(p, nodes=["Z"])
    >>> cg.ids.tolist(), cg.src.tolist(), cg.dst.tolist(), cg.weight.tolist()
    (['Z', 'A', 'B', 'C'], [1, 2], [2, 3], [4.0, 1.0])
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    files = _expand_paths(edges, "edges")
    names = pq.read_schema(files[0]).names
    wanted = ["source", "target"] + ([weight] if weight is not None else [])
    missing = [c for c in wanted if c not in names]
    if missing:
        raise SchemaError(
            f"{files[0]}: column(s) {', '.join(repr(c) for c in missing)} missing; columns "
            f"found: {', '.join(names)}."
        )
    if "month" in names:  # a panel: one tie per (source, target), as graph_from_tables does
        import duckdb

        listing = "[" + ", ".join(_quote(str(f)) for f in files) + "]"
        w = f"sum({_ident(weight)})" if weight is not None else "NULL"
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            table = con.sql(
                f"SELECT source, target, CAST({w} AS DOUBLE) AS w FROM read_parquet({listing}) "
                "GROUP BY source, target ORDER BY source, target"
            ).to_arrow_table()
        finally:
            con.close()
        weight_col = "w" if weight is not None else None
    else:
        source = files[0] if len(files) == 1 else [str(f) for f in files]
        table = pq.read_table(source, columns=wanted)
        weight_col = weight
    m = table.num_rows
    for c in ("source", "target"):
        nulls = table.column(c).null_count
        if nulls:
            raise ParameterError(
                f"The '{c}' column of {files[0]} must not contain missing ids. Got {nulls} "
                "missing instead."
            )
    src_dict, src_idx = _unified_codes(table.column("source"))
    dst_dict, dst_idx = _unified_codes(table.column("target"))
    lead_ids = _lead_nodes(nodes)
    lead = pa.array(lead_ids, type=pa.string())
    # One dictionary for all: positions in [lead | source dict | target dict] -> global code.
    pooled = pa.concat_arrays(
        [lead, pc.cast(src_dict, pa.string()), pc.cast(dst_dict, pa.string())]
    )
    pooled_enc = pc.dictionary_encode(pooled)
    to_global = pooled_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    dictionary = pooled_enc.dictionary
    n_lead, n_src = len(lead), len(src_dict)
    seq = np.empty(n_lead + 2 * m, dtype=np.int64)
    seq[:n_lead] = to_global[:n_lead]
    seq[n_lead::2] = to_global[n_lead + src_idx]
    seq[n_lead + 1 :: 2] = to_global[n_lead + n_src + dst_idx]
    del src_idx, dst_idx
    codes, uniques = pd.factorize(seq)  # first-appearance order, as networkx adds nodes
    del seq
    ids = np.asarray(
        dictionary.take(pa.array(uniques)).to_numpy(zero_copy_only=False), dtype=object
    )
    src = codes[n_lead::2].astype(np.int32)
    dst = codes[n_lead + 1 :: 2].astype(np.int32)
    del codes
    if weight_col is None:
        w_arr = np.ones(m, dtype=np.float64)
    else:
        col = table.column(weight_col)
        if col.null_count:
            logger.info("%d of %d ties have no %r value; counted as 1.0", col.null_count, m, weight)
            col = pc.fill_null(col, 1)
        try:
            w_arr = np.asarray(
                pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ParameterError(
                f"The {weight!r} column must hold numbers (tie strengths). Got {col.type}."
            ) from exc
    del table
    src, dst, (w_arr,) = _coalesce(src, dst, len(ids), [w_arr])
    # Ties grouped by source in node order (stable: table order within a source), the
    # order in which CompactGraph.from_networkx walks the adjacency.
    order = np.argsort(src, kind="stable")
    cg = CompactGraph(ids, src[order], dst[order], w_arr[order])
    del order
    logger.info(
        "load_compact: %s providers, %s ties from %s in %.1f s",
        f"{cg.n_nodes:,}",
        f"{cg.n_edges:,}",
        _report_name(files),
        time.perf_counter() - started,
    )
    return cg


def _lead_nodes(nodes: pd.DataFrame | Iterable[str] | PathLike | None) -> list[str]:
    if nodes is None:
        return []
    if isinstance(nodes, pd.DataFrame):
        if "id" not in nodes.columns:
            raise SchemaError("The providers table lacks the 'id' column.")
        return nodes["id"].astype(str).tolist()
    if isinstance(nodes, str | os.PathLike):
        return _io.read_providers(nodes)["id"].astype(str).tolist()
    return [str(n) for n in nodes]


def compact_measures(
    cg: CompactGraph,
    *,
    alpha: float = 0.85,
    communities: bool = True,
    resolution: float = 1.0,
    n_iterations: int = 2,
    betweenness_k: int | None = None,
    seed: int | None = 0,
    distance: Literal["inverse", "hops"] = "inverse",
) -> pd.DataFrame:
    """The measures that scale to national graphs, on a :class:`CompactGraph`.

    Degree, strength, PageRank and HITS (sparse power iterations), Leiden
    communities (igraph) and, when `betweenness_k` is given, betweenness
    estimated from that many sampled sources. Each is the function of
    :mod:`referral_graph.centrality` / :mod:`referral_graph.communities` the
    networkx path uses, so the values are equal (tested).

    Parameters
    ----------
    cg : CompactGraph
        From :func:`load_compact`.
    alpha : float, default 0.85
        PageRank damping factor.
    communities : bool, default True
        Add ``community`` (:func:`~referral_graph.communities.detect_communities`,
        Leiden).
    resolution : float, default 1.0
        Passed to ``detect_communities``.
    n_iterations : int, default 2
        Leiden iterations, passed to ``detect_communities``. Two iterations
        find nearly all the modularity (about 0.001 less on a 50,000-provider
        graph); ``-1`` (the default of ``detect_communities``: iterations until
        one gains less than 1e-4 modularity) usually runs a few more.
    betweenness_k : int, optional
        Sources sampled for ``betweenness`` and ``betweenness_stderr``; omitted
        when None (exact betweenness is out of reach on national graphs).
    seed : int or None, default 0
        Seed of communities and of the betweenness sample.
    distance : {"inverse", "hops"}, default "inverse"
        Tie length for betweenness.

    Returns
    -------
    pandas.DataFrame
        One row per provider in node order: ``id``, ``in_degree``,
        ``out_degree``, ``in_strength``, ``out_strength``, ``pagerank``,
        ``hub``, ``authority`` and, as asked, ``community``, ``betweenness``,
        ``betweenness_stderr``. ``attrs["seconds"]`` holds each step's time.

    Examples
    --------
    >>> cg = CompactGraph.from_edges(["A", "B", "C"], ["C", "C", "A"], [9, 1, 1])
    >>> t = compact_measures(cg, communities=False)
    >>> t[["id", "in_degree", "out_strength"]].values.tolist()
    [['A', 1, 9.0], ['C', 2, 1.0], ['B', 0, 1.0]]
    """
    from referral_graph.communities import detect_communities

    if not isinstance(cg, CompactGraph):
        raise ParameterError(
            "The 'cg' parameter of compact_measures must be a CompactGraph (see load_compact). "
            f"Got {type(cg).__name__} instead."
        )
    n = cg.n_nodes
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    table: dict[str, Any] = {"id": cg.index().array}
    table["in_degree"] = np.bincount(cg.dst, minlength=n).astype(np.int64)
    table["out_degree"] = np.bincount(cg.src, minlength=n).astype(np.int64)
    table["in_strength"] = np.bincount(cg.dst, weights=cg.weight, minlength=n).astype(np.float64)
    table["out_strength"] = np.bincount(cg.src, weights=cg.weight, minlength=n).astype(np.float64)
    lap("degree")
    table["pagerank"] = _pagerank_array(cg, alpha, 1e-10, 1000) if n else np.empty(0)
    lap("pagerank")
    table["hub"], table["authority"] = _hits_arrays(cg, 1e-10, 10_000)
    lap("hits")
    if communities:
        table["community"] = detect_communities(
            cg, resolution=resolution, seed=seed, n_iterations=n_iterations
        ).to_numpy()
        lap("communities")
    if betweenness_k is not None:
        btw, stderr, _ = _betweenness_arrays(
            cg, k=int(betweenness_k), seed=seed, normalized=True, distance=distance
        )
        table["betweenness"], table["betweenness_stderr"] = btw, stderr
        lap("betweenness")
    out = pd.DataFrame(table)
    out.attrs["seconds"] = seconds
    logger.info(
        "compact_measures: %d providers, %d ties: %s",
        n,
        cg.n_edges,
        ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()),
    )
    return out


# ----------------------------------------------------------------------------- subgraphs


def _edge_reader(files: Sequence[Path]) -> str:
    return "read_parquet([" + ", ".join(_quote(str(f)) for f in files) + "])"


def _select_ids(
    nodes: Iterable[str] | Callable[[pd.DataFrame], Any] | None,
    where: str | None,
    providers: pd.DataFrame | None,
) -> list[str]:
    if (nodes is None) == (where is None):
        raise ParameterError("Give exactly one of 'nodes' and 'where' to subgraph.")
    if where is not None:
        if providers is None:
            raise ParameterError("The 'where' parameter of subgraph needs 'providers'.")
        import duckdb

        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            con.register("providers", providers)
            try:
                return [
                    str(v)
                    for v in _fetch_column(
                        con, f"SELECT CAST(id AS VARCHAR) FROM providers WHERE {where}"
                    )
                ]
            except duckdb.Error as exc:
                raise ParameterError(
                    f"The 'where' parameter of subgraph must be a SQL condition on the providers' "
                    f"columns ({', '.join(map(str, providers.columns))}). Got {where!r}: {exc}"
                ) from exc
        finally:
            con.close()
    if callable(nodes):
        if providers is None:
            raise ParameterError("A predicate for 'nodes' needs 'providers' to be given.")
        mask = np.asarray(nodes(providers), dtype=bool)
        return [str(v) for v in providers.loc[mask, "id"]]
    assert nodes is not None
    if isinstance(nodes, str):
        raise ParameterError(
            "The 'nodes' parameter of subgraph must be a collection of ids or a predicate. "
            f"Got the string {nodes!r}; pass [{nodes!r}] for one provider."
        )
    return [str(n) for n in nodes]


def _providers_frame(providers: pd.DataFrame | PathLike | None) -> pd.DataFrame | None:
    if providers is None or isinstance(providers, pd.DataFrame):
        return providers
    table: pd.DataFrame = _io.read_providers(providers)
    return table


def subgraph(
    edges: PathLike | Sequence[PathLike],
    nodes: Iterable[str] | Callable[[pd.DataFrame], Any] | None = None,
    *,
    where: str | None = None,
    providers: pd.DataFrame | PathLike | None = None,
    touching: bool = False,
) -> nx.DiGraph:
    """The ``networkx.DiGraph`` of a part of a large network, read from Parquet.

    DuckDB scans the tie (or panel) file for the ties of the chosen providers,
    so only that part is ever held in memory; the graph has exactly the
    attributes :func:`~referral_graph.graph.graph_from_tables` gives the full
    graph (``G.subgraph(ids)`` of the full graph, without building it).

    Parameters
    ----------
    edges : path or sequence of paths
        ``ties.parquet`` (or a panel, summed over months).
    nodes : iterable of str or callable, optional
        The provider ids, or a predicate taking the providers table and
        returning a boolean mask (``lambda p: p["state"] == "TN"``). Give
        this or `where`.
    where : str, optional
        A SQL condition on the providers table's columns, run by DuckDB
        (``"state = 'TN' AND specialty = 'Cardiology'"``).
    providers : DataFrame or path, optional
        The providers table: needed by a predicate or `where`, and the source
        of node attributes.
    touching : bool, default False
        ``False``: the ties with both ends chosen (the induced subgraph).
        ``True``: every tie with at least one end chosen (their other ends
        join the graph).

    Returns
    -------
    networkx.DiGraph

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
    >>> pd.DataFrame({"source": ["A", "B", "C"], "target": ["B", "C", "A"],
    ...               "referrals": [4, 1, 2]}).to_parquet(p)
    >>> sorted(subgraph(p, ["A", "B"]).edges(data=True))
    [('A', 'B', {'referrals': 4})]
    >>> sorted(subgraph(p, ["A"], touching=True).edges())
    [('A', 'B'), ('C', 'A')]

    A community found on the compact graph:

    >>> from referral_graph.communities import detect_communities
    >>> labels = detect_communities(load_compact(p))
    >>> subgraph(p, labels.index[labels == 0]).number_of_nodes()
    3
    """
    import duckdb

    from referral_graph.graph import graph_from_tables

    files = _expand_paths(edges, "edges")
    prov = _providers_frame(providers)
    chosen = _select_ids(nodes, where, prov)
    ids = pd.DataFrame({"id": pd.Series(sorted(set(chosen)), dtype="str")})
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("rg_chosen", ids)
        op = "OR" if touching else "AND"
        ties = con.sql(
            f"SELECT * FROM {_edge_reader(files)} WHERE source IN (SELECT id FROM rg_chosen) "
            f"{op} target IN (SELECT id FROM rg_chosen)"
        ).to_arrow_table()
        if prov is None:  # chosen providers without ties exist in the full graph only if in it
            present = set(
                _fetch_column(
                    con,
                    f"SELECT DISTINCT id FROM (SELECT source AS id FROM {_edge_reader(files)} "
                    f"UNION ALL SELECT target FROM {_edge_reader(files)}) "
                    "WHERE id IN (SELECT id FROM rg_chosen)",
                )
            )
        else:
            present = set(prov["id"].astype(str)) & set(ids["id"])
    finally:
        con.close()
    frame = ties.to_pandas(date_as_object=False)
    for c in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[c]):
            frame[c] = frame[c].astype("datetime64[ns]")
    frame = frame.sort_values(["source", "target"], kind="stable", ignore_index=True)
    keep = set(present)
    if touching:
        keep |= set(frame["source"]) | set(frame["target"])
    name = f"subgraph of {files[0].name}"
    if prov is not None:
        G = graph_from_tables(frame, prov.loc[prov["id"].astype(str).isin(keep)], name=name)
    else:
        G = graph_from_tables(frame, None, name=name)
        G.add_nodes_from(sorted(present - set(G)))
    logger.info(
        "subgraph: %s providers chosen -> %s nodes, %s ties",
        f"{len(ids):,}",
        f"{G.number_of_nodes():,}",
        f"{G.number_of_edges():,}",
    )
    return G


def ego_network(
    edges: PathLike | Sequence[PathLike],
    center: str,
    *,
    hops: int = 1,
    direction: Literal["both", "out", "in"] = "both",
    providers: pd.DataFrame | PathLike | None = None,
) -> nx.DiGraph:
    """The ego network of one provider, read from a large tie file.

    The providers within `hops` ties of `center` (following ties in either
    direction, only outgoing, or only incoming), and every tie among them: the
    same graph as ``networkx.ego_graph(G, center, radius=hops,
    undirected=direction == "both")`` on the full graph (``"in"``: on the
    reversed graph).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.parquet"
    >>> pd.DataFrame({"source": ["A", "B", "C"], "target": ["B", "C", "D"],
    ...               "referrals": [4, 1, 2]}).to_parquet(p)
    >>> sorted(ego_network(p, "B"))
    ['A', 'B', 'C']
    >>> sorted(ego_network(p, "B", hops=2, direction="out"))
    ['B', 'C', 'D']
    """
    import duckdb

    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ParameterError(
            f"The 'hops' parameter of ego_network must be an int >= 0. Got {hops!r} instead."
        )
    if direction not in ("both", "out", "in"):
        raise ParameterError(
            "The 'direction' parameter of ego_network must be one of 'both', 'out', 'in'. "
            f"Got {direction!r} instead."
        )
    files = _expand_paths(edges, "edges")
    reader = _edge_reader(files)
    seen = {str(center)}
    frontier = {str(center)}
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        exists = con.execute(
            f"SELECT count(*) FROM {reader} WHERE source = ? OR target = ?", [center, center]
        ).fetchall()[0][0]
        prov = _providers_frame(providers)
        if not exists and (prov is None or str(center) not in set(prov["id"].astype(str))):
            raise ParameterError(f"The provider {center!r} is not in the network.")
        for _ in range(hops):
            if not frontier:
                break
            con.register("rg_frontier", pd.DataFrame({"id": sorted(frontier)}, dtype="str"))
            parts = []
            if direction in ("both", "out"):
                parts.append(
                    f"SELECT target AS id FROM {reader} WHERE source IN "
                    "(SELECT id FROM rg_frontier)"
                )
            if direction in ("both", "in"):
                parts.append(
                    f"SELECT source AS id FROM {reader} WHERE target IN "
                    "(SELECT id FROM rg_frontier)"
                )
            found = {str(v) for v in _fetch_column(con, " UNION ".join(parts))}
            con.unregister("rg_frontier")
            frontier = found - seen
            seen |= frontier
    finally:
        con.close()
    return subgraph(files, sorted(seen), providers=prov)


# ----------------------------------------------------------------------------- the pipeline


def load_network_files(
    events_paths: PathLike | Sequence[PathLike],
    *,
    providers: PathLike | pd.DataFrame | None = None,
    taxonomy: PathLike | pd.DataFrame | None = None,
    out_dir: PathLike | None = None,
    memory_limit: str = "8GB",
    temp_directory: PathLike | None = None,
    npi: NpiMode = "auto",
    strict: bool = False,
    progress: Progress | None = None,
    **columns: Any,
) -> ReferralNetwork:
    """:func:`referral_graph.pipeline.load_network` for event files, out of core.

    The events are validated and aggregated by :func:`aggregate_files` and never
    held in pandas; the panel and tie table are read back from Parquet and the
    graph is built from the ties, so every later step (scores, at-risk ties,
    the report) runs unchanged. ``events`` of the result is None.

    Parameters
    ----------
    events_paths : path, glob or sequence of paths
        As in :func:`aggregate_files`.
    providers, taxonomy : path or DataFrame, optional
        As in :func:`~referral_graph.pipeline.load_network`.
    out_dir : path, optional
        Where the Parquet tables are kept; a temporary folder (removed) by default.
    memory_limit, temp_directory, npi, strict, progress
        As in :func:`aggregate_files`.
    **columns
        Column names and reading options of :func:`aggregate_files`
        (``source_col=``, ``date_format=``, ``encoding=``, ...).

    Returns
    -------
    ReferralNetwork

    Examples
    --------
    >>> from referral_graph import datasets
    >>> paths = datasets.sample_paths()
    >>> net = load_network_files(paths["events"], providers=paths["providers"])
    >>> net.events is None, net.graph.number_of_edges() == len(net.ties)
    (True, True)
    """
    from referral_graph.pipeline import ReferralNetwork, providers_of

    step = progress or (lambda name: None)
    prov: pd.DataFrame | None = None
    reports: list[ValidationReport] = []
    if providers is not None:
        step("reading providers")
        prov = (
            providers
            if isinstance(providers, pd.DataFrame)
            else _io.read_providers(providers, taxonomy=taxonomy, npi=npi, strict=strict)
        )
        if "report" in prov.attrs:
            reports.append(prov.attrs["report"])
    scratch = None
    if out_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="referral_graph_tables_"))
    target = scratch if scratch is not None else Path(os.fspath(out_dir))  # type: ignore[arg-type]
    try:
        result = aggregate_files(
            events_paths,
            target,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            npi=npi,
            providers=prov,
            strict=strict,
            progress=progress,
            **columns,
        )
        ties = read_output(result.paths["ties"])
        panel = read_output(result.paths["panel"]) if "panel" in result.paths else None
        patients = pd.read_parquet(result.paths["patients"]) if "patients" in result.paths else None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    reports.insert(0, result.report)
    ties.attrs["name"] = result.report.name
    if patients is not None:
        from referral_graph.pipeline import _panels_of, _with_patient_panels

        prov = _with_patient_panels(prov, _panels_of(patients))
    return ReferralNetwork(
        ties=ties,
        providers=prov if prov is not None else providers_of(ties),
        panel=panel,
        events=None,
        reports=reports,
        source_kind="events",
        period=result.period,
    )
