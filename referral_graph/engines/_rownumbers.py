"""Row numbers for the ``files`` engine's report: an ordered pass over the problem rows (private).

DuckDB reads CSV files in parallel and numbers no rows, so the first pass of
:func:`referral_graph.engines.files.aggregate_files` counts each problem by its value (an
id, a date string, an amount) without knowing where its rows are. When that pass found
a problem, :func:`number_rows` reads the files once more, in order, and gives every
issue the row numbers and example values that :func:`referral_graph.io.read_events`
gives; a file in which the first pass found nothing is not read again.

* CSV files (``.gz`` and ``.zst`` too) are read by pyarrow's streaming CSV reader with
  the options of the in-memory reader (:func:`referral_graph.io.read_table`), so rows
  are numbered as it numbers them: records, not lines, the header being row 1. A quoted
  value over several lines is one row; a line with the wrong number of fields keeps its
  number; a blank line is a row, also a line with no characters at all, which DuckDB
  skips without a trace: this pass counts those (the first pass cannot), and gives the
  report the in-memory reader's ``rows_read`` and blank lines. Each batch of rows goes
  to DuckDB, which cleans it with the first pass's SQL and keeps only its problem rows
  (``rg_problems``).
* Parquet files are read by DuckDB with each row's position in its file
  (``file_row_number``), numbered from 1 as the in-memory reader numbers them.

Row numbers are per file: with several files, a row is written ``file:row``. Examples
are the first distinct values in file order, as the in-memory reader gives them. The
lines DuckDB rejected in the first pass are read from its rejects table here too
(:func:`csv_rejects`), the line numbers it gives being the same record numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from referral_graph import io as _io
from referral_graph.engines._rules import (
    NotUtf8Error,
    NpiMode,
    _CsvDialect,
    _fetch_column,
    _ident,
    _quote,
    _RowCounts,
    restored_select,
)
from referral_graph.exceptions import InputError
from referral_graph.io._files import _undecodable_rows_ignored, split_fields
from referral_graph.validate import MAX_EXAMPLES, MAX_ROWS_SHOWN

if TYPE_CHECKING:
    import duckdb
    import numpy.typing as npt
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: The columns every row of the ordered pass carries: its file's position and its row number.
ROW_COLUMNS = ("rg_file", "rg_row")

# An order over (file, row): rows of one file are below 2**40.
_ORDER = "(CAST(rg_file AS BIGINT) * 1099511627776 + rg_row)"


def csv_rejects(
    con: duckdb.DuckDBPyConnection, dialect: _CsvDialect, counts: _RowCounts, *, several: bool
) -> None:
    """Lines DuckDB skipped: wrong field counts are counted; anything else stops the load.

    DuckDB numbers a skipped line as the in-memory reader numbers rows (records, blank
    lines counted, the header being 1), per file: ``file:line`` when `several` files.
    """
    try:
        rows = con.execute(
            "SELECT e.file_id, e.line, e.error_type, e.csv_line, s.file_path "
            "FROM rg_reject_errors e JOIN rg_reject_scans s USING (scan_id, file_id) "
            "ORDER BY e.file_id, e.line"
        ).fetchall()
    except Exception:  # no table: nothing was rejected
        return
    seen: dict[tuple[int, int], tuple[str, str]] = {}
    for file_id, line, error_type, text, file_path in rows:
        kind = str(error_type)
        if kind not in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
            if kind == "INVALID ENCODING" or "UNICODE" in kind:
                raise NotUtf8Error(
                    f"{file_path}: line {line} is not valid UTF-8; convert the file to UTF-8 or "
                    "pass encoding='latin-1'."
                )
            raise InputError(f"{file_path}: cannot be read as CSV (line {line}: {kind.lower()}).")
        seen.setdefault((int(file_id), int(line)), (str(text or ""), str(file_path)))
    counts.wrong_fields = len(seen)
    counts.wrong_field_lines = [
        f"{path}:{line}" if several else line
        for (_, line), (_, path) in list(seen.items())[:MAX_ROWS_SHOWN]
    ]
    # The line's text is never quoted (it may hold patient ids): only its field count.
    counts.wrong_field_examples = sorted(
        {f"{len(split_fields(t, dialect.delimiter))} fields" for t, _ in seen.values()}
    )[:MAX_EXAMPLES]


@dataclass(frozen=True)
class RowSource:
    """What the ordered pass needs from the first: the files, and how their rows were read.

    Attributes
    ----------
    paths, kind, dialect, encoding
        The files as the first pass read them.
    select : callable
        The first pass's cleaned columns of a reader's rows (``source``, ``target``,
        ``date_text`` or ``date_value``, ``patient``, amount columns, ``blank``, ...),
        carrying :data:`ROW_COLUMNS`; ids not yet restored.
    cols : mapping
        Canonical column name -> name in the files.
    npi : bool or "auto"
        As in ``aggregate_files``.
    date_typed : bool
        Whether the dates are typed (Parquet timestamps), not text.
    amount : tuple of str, optional
        The amount's SQL over ``src``: non-numeric flag, negative flag, value, raw text.
    restored : bool
        Whether ids were restored (the ``rg_restore`` table exists).
    lossy : sequence of str
        Ids a spreadsheet wrote in scientific notation with digits lost.
    """

    paths: Sequence[Path]
    kind: Literal["csv", "parquet"]
    select: Callable[[str], str]
    cols: Mapping[str, str]
    npi: NpiMode
    date_typed: bool
    amount: tuple[str, str, str, str] | None
    dialect: _CsvDialect | None = None
    encoding: str = "utf-8"
    restored: bool = False
    lossy: Sequence[str] = ()


def has_problem_rows(counts: _RowCounts, cols: Mapping[str, str]) -> bool:
    """Whether the first pass found a problem that the in-memory reader reports with rows."""
    return bool(
        counts.wrong_fields
        or counts.blank
        or counts.self_referral
        or counts.missing_date
        or counts.unparsable_date
        or counts.non_numeric
        or counts.negative
        or (counts.duplicates and "patient_id" in cols)
        or any(
            any(table.values())
            for table in (
                counts.missing,
                counts.npi_bad,
                counts.unknown_rows,
                counts.restored,
                counts.lossy,
            )
        )
    )


@dataclass(frozen=True)
class _Check:
    """One issue's rows in ``rg_problems``: its key in ``_RowCounts.rows``, flag and value."""

    key: str
    flag: str
    value: str | None = None  # the column whose first distinct values are the examples


def _checks(source: RowSource, counts: _RowCounts) -> list[_Check]:
    """The issues the first pass found, as flags over one cleaned row (``src`` and its joins)."""
    cols = source.cols
    out = [_Check("blank_line", "src.blank")] if source.kind == "csv" else []
    for key in ("source", "target"):
        raw = f"src.raw_{key}"
        if counts.restored.get(key):
            out.append(_Check(f"restored_id:{key}", f"{raw} IN (SELECT raw FROM rg_restore)"))
        if counts.lossy.get(key):
            out.append(_Check(f"lossy_id:{key}", f"{raw} IN (SELECT id FROM rg_rn_lossy)"))
        if counts.missing.get(key):
            out.append(_Check(f"missing_id:{key}", f"src.{key} IS NULL AND NOT src.blank"))
        if counts.npi_bad.get(key) and source.npi is not False:
            out.append(_Check(f"invalid_npi:{key}", f"bad_{key}.id IS NOT NULL", key))
    if counts.self_referral:
        npi_ok = "bad_source.id IS NULL" if source.npi is True else "true"
        out.append(_Check("self_referral", f"src.source = src.target AND {npi_ok}", "source"))
    if "date" in cols:
        if counts.missing_date:
            missing = (
                "src.date_value IS NULL"
                if source.date_typed
                else "src.date_text IS NULL AND NOT src.blank"
            )
            out.append(_Check("missing_date", missing))
        if counts.unparsable_date and not source.date_typed:
            out.append(
                _Check("unparsable_date", "dl.text IS NOT NULL AND dl.date IS NULL", "date_raw")
            )
    if source.amount is not None:
        non_numeric, negative, _, _ = source.amount
        if counts.non_numeric:
            out.append(_Check("non_numeric", non_numeric, "amount_raw"))
        if counts.negative:
            out.append(_Check("negative", negative, "amount_raw"))
    if counts.duplicates and "patient_id" in cols:
        out.append(_Check("duplicate_row", "KEPT AND src.patient IS NOT NULL AND g.s IS NOT NULL"))
    for key in ("source", "target"):
        if counts.unknown_rows.get(key):
            out.append(
                _Check(f"unknown_provider:{key}", f"KEPT AND unknown_{key}.id IS NOT NULL", key)
            )
    return out


def _lookups(con: duckdb.DuckDBPyConnection, source: RowSource, checks: Sequence[_Check]) -> None:
    """The small tables the flags join: bad NPIs, unknown ids, lossy ids, duplicated groups."""
    con.execute("CREATE OR REPLACE TEMP TABLE rg_rn_bad AS SELECT id FROM rg_ids WHERE npi_bad")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_rn_unknown AS SELECT id FROM rg_ids WHERE NOT known"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE rg_rn_lossy (id VARCHAR)")
    if source.lossy:
        con.executemany("INSERT INTO rg_rn_lossy VALUES (?)", [[i] for i in source.lossy])
    if any(c.key == "duplicate_row" for c in checks):
        # the (tie, month, patient) groups that hold a duplicate, by their ids
        con.execute(
            "CREATE OR REPLACE TEMP TABLE rg_rn_groups AS SELECT DISTINCT i.id AS s, j.id AS t, "
            "f.m, f.patient FROM rg_fix f JOIN rg_ids i ON i.code = f.s "
            "JOIN rg_ids j ON j.code = f.t WHERE f.duplicates > 0"
        )


def _problems_sql(source: RowSource, reader: str, checks: Sequence[_Check]) -> str:
    """The problem rows of `reader` (a batch, or the Parquet files): flags, values, keys."""
    cols = source.cols
    select = f"SELECT *, source AS raw_source, target AS raw_target FROM ({source.select(reader)})"
    if source.restored:
        select = restored_select(select)
    joins = [
        "LEFT JOIN rg_rn_bad bad_source ON bad_source.id = src.source",
        "LEFT JOIN rg_rn_bad bad_target ON bad_target.id = src.target",
        "LEFT JOIN rg_rn_unknown unknown_source ON unknown_source.id = src.source",
        "LEFT JOIN rg_rn_unknown unknown_target ON unknown_target.id = src.target",
    ]
    # kept: the rows the first pass aggregates (its inner joins and filters)
    kept = ["src.source IS NOT NULL", "src.target IS NOT NULL", "src.source <> src.target"]
    if source.npi is True:
        kept.append("bad_source.id IS NULL AND bad_target.id IS NULL")
    values = ["src.source", "src.target"]
    date = "NULL::TIMESTAMP"
    if "date" in cols:
        if source.date_typed:  # a typed date is missing or not: no examples to give
            date = "CAST(src.date_value AS TIMESTAMP)"
        else:
            joins.append("LEFT JOIN rg_dates dl ON dl.text = src.date_text")
            date = "CAST(dl.date AS TIMESTAMP)"
            values.append("src.date_text AS date_raw")
        kept.append(f"{date} IS NOT NULL")
    amount = "NULL::DOUBLE"
    if source.amount is not None:
        _, _, amount, raw = source.amount
        values.append(f"{raw} AS amount_raw")
    if any(c.key == "duplicate_row" for c in checks):
        month = f"date_trunc('month', {date})"
        joins.append(
            "LEFT JOIN rg_rn_groups g ON g.s = src.source AND g.t = src.target AND "
            f"g.patient = src.patient AND g.m IS NOT DISTINCT FROM {month}"
        )
        # the row's values as read_events compares them to find an exact duplicate
        values += [f"{date} AS d", "src.patient", f"{amount} AS a"]
        values += [f"src.{k}" for k in ("service_line", "payer") if k in cols]
    is_kept = "(" + " AND ".join(kept) + ")"
    flags = [f"({c.flag.replace('KEPT', is_kept)}) AS f{i}" for i, c in enumerate(checks)]
    return (
        f"WITH src AS ({select}) SELECT * FROM (SELECT src.rg_file, src.rg_row, "
        f"{', '.join(values + flags)} FROM src {' '.join(joins)}) "
        f"WHERE {' OR '.join(f'f{i}' for i in range(len(checks)))}"
    )


def open_string_csv(
    path: Path | str, dialect: Any, encoding: str, on_invalid: Callable[[Any], str]
) -> Any:
    """A streaming Arrow reader of a CSV file's records as text, as
    :func:`~referral_graph.io.read_table` reads them: the dialect's columns, the header
    skipped, quoted new lines kept in values, empty lines kept, its null values as nulls,
    and each line with the wrong number of fields passed to `on_invalid` (single-threaded,
    so that it knows the line's number)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.open_csv(
        str(path),
        read_options=pacsv.ReadOptions(
            encoding=encoding,
            column_names=list(dialect.columns),
            skip_rows=1 if dialect.header else 0,
            use_threads=False,  # gives the skipped lines their numbers
            block_size=1 << 24,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(dialect.columns, pa.string()),
            null_values=_io.NULL_VALUES,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _csv_batches(
    path: Path,
    file_index: int,
    source: RowSource,
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """The rows of one CSV file in order, numbered as :func:`~referral_graph.io.read_table` does.

    Lines with the wrong number of fields are skipped; the rows around them keep their
    numbers (the first pass reported those lines, from DuckDB's rejects).
    """
    import pyarrow as pa

    dialect = source.dialect
    assert dialect is not None
    for batch, numbers in numbered_csv_batches(path, dialect, source.encoding):
        files = pa.array(np.full(batch.num_rows, file_index, dtype=np.int32))
        yield pa.RecordBatch.from_arrays([*batch.columns, files, pa.array(numbers)], schema=schema)


def numbered_csv_batches(
    path: Path,
    dialect: _CsvDialect,
    encoding: str,
    invalid: list[tuple[int, int]] | None = None,
) -> Iterator[tuple[pa.RecordBatch, npt.NDArray[np.int64]]]:
    """The batches of :func:`open_string_csv` in order, each with its rows' numbers in the
    file as :func:`~referral_graph.io.read_table` numbers them (records, the header row 1).

    A line with the wrong number of fields is skipped and the rows around it keep their
    numbers; its number and field count are appended to `invalid` when given.
    """
    pending: list[int] = []

    def on_invalid(row: Any) -> str:
        if row.number is not None:  # always known: the reader is single-threaded
            pending.append(int(row.number))
            if invalid is not None:
                invalid.append((int(row.number), int(row.actual_columns)))
        return "skip"

    reader = open_string_csv(path, dialect, encoding, on_invalid)
    next_row = 2 if dialect.header else 1
    for batch in reader:
        # the next numbers in the file, less those of the lines skipped
        n = batch.num_rows
        skipped = np.array(sorted(r for r in pending if r >= next_row), dtype=np.int64)
        numbers = np.arange(next_row, next_row + n + len(skipped), dtype=np.int64)
        numbers = numbers[~np.isin(numbers, skipped)][:n]
        if n:
            next_row = int(numbers[-1]) + 1
        pending[:] = [r for r in pending if r >= next_row]
        yield batch, numbers


def _parquet_reader(paths: Sequence[Path]) -> str:
    """The Parquet files' rows with their file's position and their row number in it.

    One scan per file, put together by name as ``read_parquet(union_by_name=true)`` does
    in the first pass (a column absent from a file is missing there).
    """
    return (
        "("
        + " UNION ALL BY NAME ".join(
            f"SELECT *, {i} AS rg_file, file_row_number + 1 AS rg_row "
            f"FROM read_parquet({_quote(str(p))}, file_row_number = true)"
            for i, p in enumerate(paths)
        )
        + ")"
    )


def _scan_csv(con: duckdb.DuckDBPyConnection, source: RowSource, checks: Sequence[_Check]) -> bool:
    """``rg_problems`` from the CSV files, read in order; False if pyarrow cannot read them.

    The files stream through DuckDB in one query, which cleans and filters the batches
    on its threads while pyarrow parses the next one. Should pyarrow fail on a file
    that DuckDB read, the issues keep their counts and first-pass examples.
    """
    import pyarrow as pa

    assert source.dialect is not None
    schema = pa.schema(
        [pa.field(c, pa.string()) for c in source.dialect.columns]
        + [pa.field("rg_file", pa.int32()), pa.field("rg_row", pa.int64())]
    )
    failed: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for index, path in enumerate(source.paths):
                yield from _csv_batches(path, index, source, schema)
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            failed.append(exc)  # the stream ends here; the query finishes on what it has

    con.register("rg_stream", pa.RecordBatchReader.from_batches(schema, batches()))
    try:
        with _undecodable_rows_ignored():  # a skipped line pyarrow cannot decode
            con.execute(
                "CREATE TEMP TABLE rg_problems AS " + _problems_sql(source, "rg_stream", checks)
            )
    finally:
        con.unregister("rg_stream")
    if failed:
        logger.warning("%s: the problem rows are not numbered (%s)", source.paths[0], failed[0])
    return not failed


def number_rows(con: duckdb.DuckDBPyConnection, source: RowSource, counts: _RowCounts) -> None:
    """Give `counts` each issue's first row numbers and examples in file order (see the module).

    The counts stay the first pass's (they describe the rows DuckDB aggregated), but for
    the lines with no characters at all in a CSV file, which DuckDB skips without a
    trace: they are counted here as blank lines, and as rows read, as the in-memory
    reader counts them.
    """
    checks = _checks(source, counts)
    if not checks:
        return
    scratch = [
        "rg_problems",
        "rg_rn_dups",
        "rg_rn_groups",
        "rg_rn_bad",
        "rg_rn_unknown",
        "rg_rn_lossy",
    ]
    try:
        _lookups(con, source, checks)
        if source.kind == "parquet":
            reader = _parquet_reader(source.paths)
            con.execute("CREATE TEMP TABLE rg_problems AS " + _problems_sql(source, reader, checks))
        elif not _scan_csv(con, source, checks):
            return
        _fill_rows(con, source, checks, counts)
        if source.kind == "csv":  # checks[0] is blank_line: DuckDB's blank rows and empty lines
            blank = _count(con, "SELECT count(*) FROM rg_problems WHERE f0")
            counts.rows_read += max(0, blank - counts.blank)
            counts.blank = max(blank, counts.blank)
    finally:
        for table in scratch:
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def _labels(source: RowSource, rows: Sequence[tuple[Any, ...]]) -> list[object]:
    """Row numbers as the report shows them: numbers, or ``file:row`` with several files."""
    if len(source.paths) == 1:
        return [int(r[1]) for r in rows]
    return [f"{source.paths[int(r[0])]}:{int(r[1])}" for r in rows]


def _fill_rows(
    con: duckdb.DuckDBPyConnection,
    source: RowSource,
    checks: Sequence[_Check],
    counts: _RowCounts,
) -> None:
    """Each issue's first rows and examples from ``rg_problems``.

    An exact duplicate is a later row among the candidates with every value equal
    (the first of them is kept); a provider missing from the providers table is
    reported on the rows kept, so its duplicates are not among its rows.
    """
    dup = next((i for i, c in enumerate(checks) if c.key == "duplicate_row"), None)
    if dup is not None:
        keys = ["source", "target", "d", "patient", "a"]
        keys += [k for k in ("service_line", "payer") if k in source.cols]
        con.execute(
            "CREATE TEMP TABLE rg_rn_dups AS SELECT rg_file, rg_row FROM (SELECT rg_file, rg_row, "
            f"row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY rg_file, rg_row) AS k "
            f"FROM rg_problems WHERE f{dup}) WHERE k > 1"
        )
    for i, check in enumerate(checks):
        if check.key == "duplicate_row":
            rows, where = "rg_rn_dups", "true"
        else:
            rows, where = "rg_problems", f"f{i}"
            if check.key.startswith("unknown_provider") and dup is not None:
                where += (
                    " AND NOT EXISTS (SELECT 1 FROM rg_rn_dups d WHERE d.rg_file = "
                    "rg_problems.rg_file AND d.rg_row = rg_problems.rg_row)"
                )
        first = con.execute(
            f"SELECT rg_file, rg_row FROM {rows} WHERE {where} ORDER BY 1, 2 LIMIT {MAX_ROWS_SHOWN}"
        ).fetchall()
        counts.rows[check.key] = _labels(source, first)
        if check.value is not None:
            examples = _fetch_column(
                con,
                f"SELECT v FROM (SELECT {_ident(check.value)} AS v, min({_ORDER}) AS o "
                f"FROM rg_problems WHERE {where} GROUP BY 1) ORDER BY o LIMIT {MAX_EXAMPLES}",
            )
            _set_examples(counts, check.key, [str(v) for v in examples])


def _set_examples(counts: _RowCounts, key: str, examples: list[str]) -> None:
    """An issue's examples, in file order, where the first pass put its sorted ones."""
    check, _, column = key.partition(":")
    if check == "invalid_npi":
        counts.npi_examples[column] = examples
    elif check == "unknown_provider":
        counts.unknown_examples[column] = examples
    elif check == "self_referral":
        counts.self_examples = examples
    elif check == "unparsable_date":
        counts.date_examples = examples
    elif check == "non_numeric":
        counts.non_numeric_examples = examples
    elif check == "negative":
        counts.negative_examples = examples
