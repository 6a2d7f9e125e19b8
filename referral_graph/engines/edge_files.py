"""Aggregated edge files read out of core by DuckDB: the CMS national file and its kind.

:func:`referral_graph.io.read_edges` reads an edge file into pandas: fine for a market,
not for the CMS *Physician Shared Patient Patterns* file of a whole country (about 65
million rows, 1.1 million providers, ~2 GB of header-less CSV). :func:`read_edge_files`
reads the same file into DuckDB under a memory limit (the rest spills to disk), applies
every row check of ``read_edges`` and writes the edges it keeps as Parquet
(``ties.parquet``): the table :func:`~referral_graph.compact.load_compact` makes a
compact graph of, and the ``build`` and ``score`` commands write from. Public also as
:func:`referral_graph.scale.read_edge_files`.

How the checks stay those of ``read_edges``
-------------------------------------------
The rows are read in file order and numbered as :func:`referral_graph.io.read_table`
numbers them (CSV: by pyarrow's streaming reader with the in-memory reader's options;
Parquet: by DuckDB with each row's position), into one DuckDB table of text. A row is
*plainly clean* when its ids are stripped text with nothing a spreadsheet wrote (no
``.`` or ``+``), valid NPIs as `npi` asks, two different providers, its counts plain
digits (its measures plain decimals), and its tie appears on no other row. Clean rows
are typed in SQL. Every other row (blank lines apart, counted as ``read_table`` counts
them) goes, in file order with its row number, through the row checks of ``read_edges``
themselves (:func:`referral_graph.io._edges.validated_edges`): the same messages, row
numbers, examples, exclusions, repeated ties summed, ids restored. A row problem is a
property of the row (or of its tie, whose rows all go through together), so the report
is the one ``read_edges`` gives for the whole file (tested); the ids absent from the
providers table are counted over every row kept, in SQL. Differences: CSV files are
UTF-8 or Latin-1 (no cp1252 fallback, no UTF-16), spreadsheets are not read, and an
edge file with a period column (a monthly panel) is read in memory only.

Examples
--------
>>> import tempfile, pathlib
>>> import pandas as pd
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "cms.txt").write_text(
...     "1234567893,1003033051,69,11,0\\n1003033051,1003033051,20,12,0\\n")
>>> result = read_edge_files(folder / "cms.txt", folder / "out")
>>> result.layout, result.ties, result.report.excluded_by_reason
('cms-pspp', 1, {'self_referral': 1})
>>> pd.read_parquet(result.paths["ties"])[["source", "target", "referrals"]].values.tolist()
[['1234567893', '1003033051', 69]]
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from referral_graph import io as _io
from referral_graph._checks import check_decimal, header_key
from referral_graph._duckdb import duckdb_connect
from referral_graph.engines._rownumbers import numbered_csv_batches
from referral_graph.engines._rules import (
    NotUtf8Error,
    _check_memory_limit,
    _CsvDialect,
    _ident,
    _providers_ids,
    _quote,
    _sniff_csv,
)
from referral_graph.exceptions import InputError, ParameterError
from referral_graph.io._edges import EDGE_LAYOUTS, check_layout, validated_edges
from referral_graph.io._files import RawTable, _undecodable_rows_ignored
from referral_graph.npi import npi_flags
from referral_graph.privacy import is_count_name
from referral_graph.validate import MAX_EXAMPLES, MAX_ROWS_SHOWN, ValidationReport, restore_ids

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["EdgeFiles", "read_edge_files"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
NpiMode = bool | Literal["auto"]

_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
              "UINTEGER", "UBIGINT")  # fmt: skip
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")


@dataclass
class EdgeFiles:
    """What :func:`read_edge_files` wrote.

    Attributes
    ----------
    paths : dict of str to pathlib.Path
        ``"ties"`` (the edges kept, Parquet: the columns and dtypes of
        :func:`referral_graph.io.read_edges`, in file order) and ``"report"``
        (the validation report as CSV).
    report : ValidationReport
        Every problem found, counted by reason, as ``read_edges`` reports it.
    layout : str
        The layout read (``"cms-pspp"``, ``"hop-teaming"`` or ``"generic"``).
    columns : dict of str to str
        The input column of each role (``source``, ``target``, ``weight``, ...).
    ties : int
        Edges kept (rows written).
    rows_checked : int
        Rows that were not plainly clean and went through the row checks of
        ``read_edges`` in pandas (see the module notes).
    seconds : float
        Wall time.
    """

    paths: dict[str, Path]
    report: ValidationReport
    layout: str
    columns: dict[str, str] = field(default_factory=dict)
    ties: int = 0
    rows_checked: int = 0
    seconds: float = 0.0


# ----------------------------------------------------------------------------- reading


def _csv_batches(
    path: Path, dialect: _CsvDialect, encoding: str, invalid: list[tuple[int, int]]
) -> Iterator[pa.RecordBatch]:
    """The rows of a CSV file in order, as text, numbered as ``read_table`` numbers them.

    The options are those of :func:`referral_graph.io.read_table` (the tests compare
    the reports): records, not lines, the header being row 1; a line with the wrong
    number of fields is skipped, its number and field count kept in `invalid`.
    """
    import pyarrow as pa

    names = [*dialect.columns, "rg_row"]
    for batch, numbers in numbered_csv_batches(path, dialect, encoding, invalid):
        yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(numbers)], names=names)


def _load_csv(
    con: duckdb.DuckDBPyConnection, path: Path, dialect: _CsvDialect, encoding: str, name: str
) -> list[tuple[int, int]]:
    """``rg_raw``: the CSV file's rows as text with their numbers; returns the invalid lines."""
    import pyarrow as pa

    invalid: list[tuple[int, int]] = []
    schema = pa.schema(
        [pa.field(c, pa.string()) for c in dialect.columns] + [pa.field("rg_row", pa.int64())]
    )
    stream = pa.RecordBatchReader.from_batches(
        schema, _csv_batches(path, dialect, encoding, invalid)
    )
    con.register("rg_stream", stream)
    try:
        with _undecodable_rows_ignored():
            con.execute("SET preserve_insertion_order = true")  # stored in file order
            con.execute("CREATE TEMP TABLE rg_raw AS SELECT * FROM rg_stream")
            con.execute("SET preserve_insertion_order = false")
    except Exception as exc:  # pyarrow's and DuckDB's errors surface as several types
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "UTF8" in text or "utf-8" in text.lower() or "decode" in text.lower():
            raise NotUtf8Error(
                f"{name}: the file is not valid {encoding} text ({text}); pass its encoding "
                "(encoding='latin-1'; CLI: --encoding latin-1) or save it as UTF-8."
            ) from exc
        raise InputError(f"{name}: cannot be read as CSV ({text}).") from exc
    finally:
        con.unregister("rg_stream")
    return invalid


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> dict[str, str]:
    """``rg_raw``: the Parquet file's rows with their positions (from 1); returns the types."""
    reader = f"read_parquet({_quote(str(path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except Exception as exc:  # duckdb raises its own error types
        raise InputError(f"{name}: cannot be read as Parquet ({exc}).") from exc
    types = {str(r[0]): str(r[1]) for r in described if r[0] != "file_row_number"}
    columns = ", ".join(_ident(c) for c in types)
    con.execute(
        f"CREATE TEMP TABLE rg_raw AS SELECT {columns}, file_row_number + 1 AS rg_row FROM {reader}"
    )
    return types


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Column:
    """One output column: its name, what it is made of, and the input column."""

    name: str
    kind: Literal["id", "count", "measure", "text", "one"]
    source: str | None
    required: bool = False  # a missing value makes the row not clean (the weight)


def _plan(
    file_columns: Sequence[str], cols: dict[str, str], layout: str, expected: Sequence[str]
) -> list[_Column]:
    """The output columns of ``validated_edges`` and what each is read from.

    The same rules as :func:`referral_graph.io._edges.validated_edges`; `expected` are
    the columns it gives on an empty table (checked here, so that the two cannot drift).
    """
    spec = EDGE_LAYOUTS.get(layout)
    plan: dict[str, _Column] = {
        "source": _Column("source", "id", cols["source"]),
        "target": _Column("target", "id", cols["target"]),
        "referrals": _Column("referrals", "count", cols["weight"], required=True)
        if "weight" in cols
        else _Column("referrals", "one", None),
    }
    if "patients" in cols:
        plan["patients"] = _Column("patients", "count", cols["patients"])
    counts: list[str] = [] if spec is None else list(spec["counts"])
    measures: list[str] = [] if spec is None else list(spec["measures"])
    volume = () if spec is None else (spec["weight"], spec["patients"])
    for c in [c for c in counts + measures if c not in volume]:
        actual = next((x for x in file_columns if header_key(x) == c), None)
        if actual is not None:
            plan[c] = _Column(c, "count" if c in counts else "measure", actual)
    used = set(cols.values()) | {x for x in file_columns if header_key(x) in plan}
    for c in file_columns:
        if c in used or c in plan:
            continue
        plan[c] = _Column(c, "count" if is_count_name(c) else "text", c)
    if spec is not None:
        for canonical, own in (("referrals", spec["weight"]), ("patients", spec["patients"])):
            if canonical in plan and own not in plan:
                plan[own] = _Column(own, plan[canonical].kind, plan[canonical].source)
    if list(plan) != list(expected):  # pragma: no cover - the rules of read_edges changed
        raise RuntimeError(
            f"read_edge_files: the columns planned ({', '.join(plan)}) differ from those of "
            f"read_edges ({', '.join(expected)})"
        )
    return list(plan.values())


def _text_sql(expr: str, dtype: str) -> str:
    """An id column as text, as ``read_edges`` reads it: numbers as their digits.

    A float column is turned into digits value by value (``read_edges`` does it only
    when every value is whole), as the ``files`` engine does.
    """
    kind = dtype.upper()
    if kind == "VARCHAR":
        return expr
    if kind in _FLOAT_TYPES or kind.startswith("DECIMAL"):
        return (
            f"CASE WHEN {expr} IS NULL OR NOT isfinite(CAST({expr} AS DOUBLE)) THEN NULL "
            f"WHEN {expr} = floor({expr}) THEN CAST(CAST({expr} AS HUGEINT) AS VARCHAR) "
            f"ELSE CAST({expr} AS VARCHAR) END"
        )
    return f"CAST({expr} AS VARCHAR)"


def _clean_sql(col: _Column, dtype: str, decimal: str) -> str:
    """SQL true when the column's value in a row is plainly clean (see the module notes)."""
    assert col.source is not None
    c, kind = "r." + _ident(col.source), dtype.upper()
    present = "" if col.required else f"{c} IS NULL OR "
    if kind == "VARCHAR":
        pattern = (
            "[0-9]{1,18}"
            if col.kind == "count" or decimal != "."
            else "[0-9]{1,15}(\\.[0-9]{1,15})?"
        )
        return f"({present}regexp_full_match({c}, {_quote(pattern)}))"
    if kind in _INT_TYPES:
        return f"({present}{c} >= 0)"
    if kind in _FLOAT_TYPES or kind.startswith("DECIMAL"):
        whole = f" AND {c} = floor({c})" if col.kind == "count" else ""
        return f"({present}(isfinite({c}) AND {c} >= 0{whole}))"
    return "false"


def _value_sql(col: _Column) -> str:
    """The typed value of a clean row's column (the dtypes of ``read_edges``)."""
    if col.kind == "one":
        return "CAST(1 AS BIGINT)"
    assert col.source is not None
    c = "r." + _ident(col.source)
    if col.kind == "count":  # TRY_: the rows checked may hold anything (they are dropped)
        return f"TRY_CAST({c} AS BIGINT)"
    if col.kind == "measure":
        return f"TRY_CAST({c} AS DOUBLE)"
    return c


# ----------------------------------------------------------------------------- ids


def _id_table(con: duckdb.DuckDBPyConnection, src: str, dst: str, *, npi: NpiMode) -> int:
    """``rg_ids``: each distinct id text of the file: its code and whether its rows need checks.

    The code is that of the id as ``read_edges`` cleans it (stripped, a spreadsheet's
    number restored), so that a tie written two ways is one key; ``bad`` marks a text
    that is not plainly clean (cleaning changes it, digits are lost, it is blank) or
    whose id fails the NPI check as `npi` asks. Returns the number of distinct texts.
    """
    texts = pd.Series(
        con.sql(
            f"SELECT DISTINCT x FROM (SELECT {src} AS x FROM rg_raw r UNION ALL "
            f"SELECT {dst} FROM rg_raw r) WHERE x IS NOT NULL"
        )
        .to_arrow_table()
        .column(0)
        .to_pandas(),
        dtype="str",
    )
    stripped = texts.str.strip()
    restored, lossy = restore_ids(stripped.drop_duplicates())
    cleaned = stripped.map(lambda v: restored.get(v, v)) if restored else stripped
    codes, uniques = pd.factorize(cleaned)
    bad = (cleaned != texts).to_numpy() | (cleaned == "").to_numpy()
    bad |= texts.str.contains(r"[.+]", regex=True).to_numpy()  # restorable in read_edges
    if lossy:
        bad |= stripped.isin(lossy).to_numpy()
    if npi is not False and len(uniques):
        shaped, valid = npi_flags(pd.Series(uniques, dtype="str"))
        npi_bad = ~valid if npi is True else shaped & ~valid
        bad |= npi_bad[codes]
    import pyarrow as pa

    table = pa.table(
        {
            "raw": pa.array(texts.to_numpy(dtype=object), pa.string()),
            "code": pa.array(codes.astype(np.int32)),
            "bad": pa.array(bad),
        }
    )
    con.register("rg_ids_arrow", table)
    con.execute("CREATE TEMP TABLE rg_ids AS SELECT * FROM rg_ids_arrow")
    con.unregister("rg_ids_arrow")
    return len(texts)


# ----------------------------------------------------------------------------- read_edge_files


def read_edge_files(
    path: PathLike,
    out_dir: PathLike,
    *,
    layout: Literal["auto", "generic", "cms-pspp", "hop-teaming"] = "auto",
    source_col: str | None = None,
    target_col: str | None = None,
    weight_col: str | None = None,
    patient_col: str | None = None,
    npi: NpiMode = "auto",
    providers: pd.DataFrame | PathLike | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    decimal: str = ".",
    strict: bool = False,
    memory_limit: str = "8GB",
    temp_directory: PathLike | None = None,
    threads: int | None = None,
    progress: Callable[[str], Any] | None = None,
) -> EdgeFiles:
    """Read and check an aggregated edge file out of core; write the edges kept as Parquet.

    The out-of-core :func:`referral_graph.io.read_edges`, for files too large for
    pandas: the CMS national *Physician Shared Patient Patterns* file (header-less,
    ``npi_from, npi_to, pair_count, bene_count, same_day_count``; about 65 million rows)
    is read in about a minute under a few GB (see ``docs/memory.md``).

    Parameters
    ----------
    path : path
        The edge file: CSV (``.gz`` and ``.zst`` too) or Parquet. A header-less file of
        five numeric columns is read as the CMS layout, as ``read_edges`` reads it.
    out_dir : path
        Where ``ties.parquet`` and ``validation.csv`` are written (created if needed;
        each file written atomically).
    layout, source_col, target_col, weight_col, patient_col, npi, delimiter, decimal, strict
        As in :func:`~referral_graph.io.read_edges`.
    providers : pandas.DataFrame or path, optional
        Providers table; rows with ids absent from it are reported (and kept).
    encoding : {"utf-8", "latin-1"}, default "utf-8"
        CSV encoding (``"auto"`` is read as UTF-8).
    memory_limit : str, default "8GB"
        DuckDB's memory limit; beyond it DuckDB spills to `temp_directory`.
    temp_directory : path, optional
        DuckDB's spill folder (a temporary folder, removed, by default).
    threads : int, optional
        DuckDB's threads (default: every core).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    EdgeFiles
        The paths written, the validation report, the layout and the columns read.

    Raises
    ------
    InputError, SchemaError, ParameterError, ValidationError
        As ``read_edges`` (``ValidationError`` with ``strict=True``, raised before
        ``ties.parquet`` is written). ``ParameterError`` for an edge file with a
        period column (read it with ``read_edges``).

    Notes
    -----
    ``pd.read_parquet(result.paths["ties"])`` equals ``read_edges(path)`` (the same
    rows in the same order, the same columns; a count column that may be missing is
    read back as float or ``Int64`` as pandas chooses), and the reports are equal
    (tested on files with every kind of problem).
    """
    started = time.perf_counter()
    step = progress or (lambda name: None)
    check_layout(layout, "read_edge_files")
    decimal = check_decimal(decimal, "read_edge_files")
    memory_limit = _check_memory_limit(memory_limit)
    if encoding == "auto":
        encoding = "utf-8"
    if encoding not in ("utf-8", "latin-1"):
        raise ParameterError(
            "The 'encoding' parameter of read_edge_files must be 'utf-8' or 'latin-1'. "
            f"Got {encoding!r} instead."
        )
    if npi not in (True, False, "auto"):
        raise ParameterError(
            f"The 'npi' parameter of read_edge_files must be True, False or 'auto'. Got {npi!r}."
        )
    source = Path(os.fspath(path))
    name = str(source)
    if not source.exists():
        raise InputError(f"{name}: no such file.")
    if source.is_dir():
        raise InputError(f"{name}: is a folder, expected a CSV or Parquet file.")
    parquet = source.suffix.lower() in (".parquet", ".pq")
    out = Path(os.fspath(out_dir))
    out.mkdir(parents=True, exist_ok=True)
    known = _providers_ids(providers)
    spill = Path(
        tempfile.mkdtemp(
            prefix="referral_graph_duckdb_",
            dir=None if temp_directory is None else os.fspath(temp_directory),
        )
    )
    n_threads = max(1, os.cpu_count() or 1) if threads is None else int(threads)
    con = duckdb_connect(
        memory_limit=memory_limit,
        temp_directory=str(spill),
        threads=n_threads,
        preserve_insertion_order=False,
    )
    try:
        result = _read(
            con,
            source,
            out,
            parquet=parquet,
            layout=layout,
            explicit={
                "source_col": source_col,
                "target_col": target_col,
                "weight_col": weight_col,
                "patient_col": patient_col,
            },
            npi=npi,
            known=known,
            encoding=encoding,
            delimiter=delimiter,
            decimal=decimal,
            strict=strict,
            step=step,
        )
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    excluded = result.report.excluded_by_reason
    logger.info(
        "read_edge_files: %s %s edges from %s (%s rows read, %s excluded%s; %s rows checked "
        "one by one) in %.1f s",
        f"{result.ties:,}",
        result.layout,
        name,
        f"{result.report.rows_read:,}",
        f"{sum(excluded.values()):,}",
        (": " + ", ".join(f"{k}: {v:,}" for k, v in excluded.items())) if excluded else "",
        f"{result.rows_checked:,}",
        result.seconds,
    )
    return result


def _read(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    out: Path,
    *,
    parquet: bool,
    layout: str,
    explicit: dict[str, str | None],
    npi: NpiMode,
    known: pd.Series | None,
    encoding: str,
    delimiter: str | None,
    decimal: str,
    strict: bool,
    step: Callable[[str], Any],
) -> EdgeFiles:
    name = str(source)
    report = ValidationReport(name=name)
    step("reading edges")
    invalid: list[tuple[int, int]] = []
    dialect: _CsvDialect | None = None
    if parquet:
        types = _load_parquet(con, source, name)
        file_columns = list(types)
    else:
        dialect = _sniff_csv(source, delimiter=delimiter, encoding=encoding)
        dialect.add_notes(report)
        invalid = _load_csv(con, source, dialect, encoding, name)
        file_columns = list(dialect.columns)
        types = dict.fromkeys(file_columns, "VARCHAR")
    # the columns and layout, decided by read_edges' own rules on an empty table
    scratch = ValidationReport(name=name, log=False)
    if dialect is not None:
        dialect.add_notes(scratch)
    empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in file_columns})
    dry, cols = validated_edges(RawTable(frame=empty, report=scratch), layout=layout,
                                period_col=None, npi=npi, decimal=decimal, **explicit)  # fmt: skip
    if "period" in cols:
        raise ParameterError(
            f"{name}: the column {cols['period']!r} is a period: an edge file by period (a "
            "monthly panel) is read in memory (read_edges; CLI: --engine pandas)."
        )
    chosen = str(dry.attrs["layout"])
    # the header-less CMS file's columns, renamed as read_edges renames them
    renamed = dict(zip(file_columns, [str(c) for c in empty.columns], strict=True))
    if any(renamed[c] != c for c in file_columns):
        for old, new in renamed.items():
            con.execute(f"ALTER TABLE rg_raw RENAME COLUMN {_ident(old)} TO {_ident(new)}")
        types = {renamed[c]: t for c, t in types.items()}
        file_columns = [renamed[c] for c in file_columns]
    plan = _plan(file_columns, cols, chosen, [str(c) for c in dry.columns])
    blank = " AND ".join(f"r.{_ident(c)} IS NULL" for c in file_columns) if not parquet else "false"
    counts = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {blank}) FROM rg_raw r"
    ).fetchall()[0]
    n_rows, n_blank = int(counts[0]), int(counts[1])
    report.rows_read = n_rows + len(invalid)
    if n_rows == 0 and parquet:
        raise InputError(f"{name}: the file has no rows.")
    if invalid:
        assert dialect is not None
        report.add(
            "wrong_field_count",
            f"the line does not have {len(dialect.columns)} fields ({', '.join(dialect.columns)})",
            rows=[number for number, _ in invalid],
            count=len(invalid),
            examples=sorted({f"{fields} fields" for _, fields in invalid}),
            excluded=True,
            hint=f"check the delimiter ({dialect.delimiter!r}) and quoting on these lines",
        )
    if n_blank:
        blank_rows = [
            int(r[0])
            for r in con.execute(
                f"SELECT rg_row FROM rg_raw r WHERE {blank} ORDER BY rg_row LIMIT {MAX_ROWS_SHOWN}"
            ).fetchall()
        ]
        report.add(
            "blank_line", "the line is blank", rows=blank_rows, count=n_blank, excluded=True,
            level="info",
        )  # fmt: skip
    if n_rows - n_blank == 0:
        raise InputError(f"{name}: the file has a header but no data rows.")
    step("checking edges")
    src = _text_sql("r." + _ident(cols["source"]), types[cols["source"]])
    dst = _text_sql("r." + _ident(cols["target"]), types[cols["target"]])
    _id_table(con, src, dst, npi=npi)
    checks = sorted(
        {
            _clean_sql(c, types[c.source], decimal)
            for c in plan
            if c.kind in ("count", "measure") and c.source is not None
        }
    )
    not_blank = f"NOT ({blank})"
    unclean = " OR ".join(
        [
            "si.code IS NULL",
            "ti.code IS NULL",
            "si.bad",
            "ti.bad",
            "si.code = ti.code",
            *(f"NOT coalesce({c}, false)" for c in checks),
        ]
    )
    # each row's tie as one integer (its ids as cleaned), and whether the row itself
    # needs checks; blank lines are left out (read_table drops them)
    n_ids = int(con.execute("SELECT count(*) FROM rg_ids").fetchall()[0][0]) + 1
    con.execute(
        "CREATE TEMP TABLE rg_coded AS SELECT r.rg_row, "
        f"CAST(si.code AS BIGINT) * {n_ids} + ti.code AS tie, ({unclean}) AS unclean "
        f"FROM rg_raw r LEFT JOIN rg_ids si ON si.raw = {src} "
        f"LEFT JOIN rg_ids ti ON ti.raw = {dst} WHERE {not_blank}"
    )
    # the ties of several rows: every row of such a tie is checked (repeats are summed)
    con.execute(
        "CREATE TEMP TABLE rg_check AS SELECT rg_row FROM rg_coded WHERE unclean OR tie IN "
        "(SELECT tie FROM rg_coded WHERE tie IS NOT NULL GROUP BY tie HAVING count(*) > 1)"
    )
    con.execute("DROP TABLE rg_coded")
    n_check = int(con.execute("SELECT count(*) FROM rg_check").fetchall()[0][0])
    if n_check > 1_000_000:
        logger.warning(
            "%s: %s rows are not plainly clean (ids or counts written unusually, repeated "
            "ties); they are checked in memory",
            name,
            f"{n_check:,}",
        )
    # ids as text (as the clean rows have them); the other columns as the file has them
    selected = ", ".join(
        f"{src} AS {_ident(c)}"
        if c == cols["source"]
        else f"{dst} AS {_ident(c)}"
        if c == cols["target"]
        else f"r.{_ident(c)}"
        for c in file_columns
    )
    frame = (
        con.sql(
            f"SELECT {selected}, r.rg_row FROM rg_raw r SEMI JOIN rg_check c "
            "ON c.rg_row = r.rg_row ORDER BY r.rg_row"
        )
        .to_arrow_table()
        .to_pandas(date_as_object=False)
    )
    frame.index = pd.Index(frame.pop("rg_row").to_numpy(dtype=np.int64), name="row")
    for c in (cols["source"], cols["target"], *([] if parquet else file_columns)):
        frame[c] = frame[c].astype("str")
    kept, _ = validated_edges(RawTable(frame=frame, report=report), layout=layout,
                              period_col=None, npi=npi, decimal=decimal, **explicit)  # fmt: skip
    del frame
    _register_kept(con, kept, plan)
    del kept
    values = ", ".join(
        f"{src if c.name == 'source' else dst if c.name == 'target' else _value_sql(c)} "
        f"AS {_ident(c.name)}"
        for c in plan
    )
    names = ", ".join(_ident(c.name) for c in plan)
    rows = (
        f"SELECT r.rg_row, {values} FROM rg_raw r WHERE {not_blank} "
        "AND r.rg_row NOT IN (SELECT rg_row FROM rg_check) "
        f"UNION ALL SELECT rg_row, {names} FROM rg_kept"
    )
    if known is not None:
        step("checking providers")
        _unknown_providers(con, rows, known, report, cols)
    report.raise_if_needed(strict=strict)
    step("writing edges")
    ties_path = out / "ties.parquet"
    clean = f"SELECT r.rg_row, {values} FROM rg_raw r WHERE {not_blank}"
    with _io.atomic_path(ties_path) as tmp:
        n_ties = _write_in_order(con, clean, tmp)
        if n_ties is None:  # pragma: no cover - DuckDB gave the rows out of order: sort
            logger.info("read_edge_files: the rows came out of order; sorting them")
            con.execute(
                f"COPY (SELECT {names} FROM ({rows}) ORDER BY rg_row) TO {_quote(str(tmp))} "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
            )
            import pyarrow.parquet as pq

            n_ties = int(pq.ParquetFile(tmp).metadata.num_rows)
    report_path = _io.write_table(report.to_frame(), out / "validation.csv")
    return EdgeFiles(
        paths={"ties": ties_path, "report": report_path},
        report=report,
        layout=chosen,
        columns=dict(cols),
        ties=n_ties,
        rows_checked=n_check,
    )


def _write_in_order(con: duckdb.DuckDBPyConnection, clean: str, path: Path) -> int | None:
    """Write the edges kept to `path` in file order; the rows written, or None if unsorted.

    The clean rows stream from DuckDB in the order of ``rg_raw`` (its insertion order,
    kept: no sort of millions of rows); the rows checked are dropped from each batch
    and those of them kept (``rg_kept``, few) merged in at their row numbers. Returns
    None, having written nothing usable, if a batch comes out of order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    checked = np.sort(con.sql("SELECT rg_row FROM rg_check").to_arrow_table().column(0).to_numpy())
    kept = con.sql("SELECT * FROM rg_kept ORDER BY rg_row").to_arrow_table()
    kept_rows = kept.column("rg_row").to_numpy()
    con.execute("SET preserve_insertion_order = true")
    reader = con.sql(clean).to_arrow_reader(1_000_000)
    schema = reader.schema
    kept = kept.select(schema.names).cast(schema)
    out_schema = schema.remove(schema.get_field_index("rg_row"))
    last, at, written = -1, 0, 0
    with pq.ParquetWriter(path, out_schema, compression="zstd") as writer:

        def write(table: pa.Table) -> None:
            nonlocal written
            if table.num_rows:
                writer.write_table(table.drop_columns(["rg_row"]), row_group_size=1_000_000)
                written += table.num_rows

        for batch in reader:
            rows = batch.column("rg_row").to_numpy()
            if len(rows) and (rows[0] <= last or (np.diff(rows) < 0).any()):
                con.execute("SET preserve_insertion_order = false")
                return None
            if not len(rows):
                continue
            last = int(rows[-1])
            table = pa.Table.from_batches([batch])
            if len(checked):
                table = table.filter(pa.array(~np.isin(rows, checked)))
            upto = int(np.searchsorted(kept_rows, last, side="right"))
            if upto > at:  # kept rows among these: merged at their places
                table = pa.concat_tables([table, kept.slice(at, upto - at)])
                table = table.take(pc.sort_indices(table, [("rg_row", "ascending")]))
                at = upto
            write(table)
        write(kept.slice(at))
    con.execute("SET preserve_insertion_order = false")
    return written


def _register_kept(con: duckdb.DuckDBPyConnection, kept: pd.DataFrame, plan: list[_Column]) -> None:
    """``rg_kept``: the rows checked in pandas that were kept, typed as the clean rows."""
    import pyarrow as pa

    arrays: dict[str, pa.Array] = {"rg_row": pa.array(kept.index.to_numpy(dtype=np.int64))}
    for c in plan:
        values = kept[c.name]
        if c.kind == "id" or (c.kind == "text" and not pd.api.types.is_numeric_dtype(values)):
            arrays[c.name] = pa.array(values.astype(object).where(values.notna(), None).tolist(),
                                      pa.string())  # fmt: skip
        elif c.kind in ("count", "one"):
            arrays[c.name] = pa.array(values.astype("Int64"), pa.int64(), from_pandas=True)
        elif c.kind == "measure":
            arrays[c.name] = pa.array(values.to_numpy(dtype=np.float64, na_value=np.nan),
                                      pa.float64(), from_pandas=True)  # fmt: skip
        else:
            arrays[c.name] = pa.Array.from_pandas(values)
    con.register("rg_kept_arrow", pa.table(arrays))
    con.execute("CREATE TEMP TABLE rg_kept AS SELECT * FROM rg_kept_arrow")
    con.unregister("rg_kept_arrow")


def _unknown_providers(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    known: pd.Series,
    report: ValidationReport,
    cols: dict[str, str],
) -> None:
    """The ``unknown_provider`` issues of ``read_edges``, counted over every row kept."""
    import pyarrow as pa

    con.register("rg_known_arrow", pa.table({"id": pa.array(known.unique().tolist(), pa.string())}))
    con.execute("CREATE TEMP TABLE rg_known AS SELECT DISTINCT id FROM rg_known_arrow")
    con.unregister("rg_known_arrow")
    con.execute(
        f"CREATE TEMP TABLE rg_unknown AS SELECT rg_row, source, target, "
        "source NOT IN (SELECT id FROM rg_known) AS us, "
        "target NOT IN (SELECT id FROM rg_known) AS ut "
        f"FROM ({rows}) WHERE source NOT IN (SELECT id FROM rg_known) "
        "OR target NOT IN (SELECT id FROM rg_known)"
    )
    for canonical, flag in (("source", "us"), ("target", "ut")):
        n_rows, n_ids = con.execute(
            f"SELECT count(*), count(DISTINCT {canonical}) FROM rg_unknown WHERE {flag}"
        ).fetchall()[0]
        if not n_rows:
            continue
        first = con.execute(
            f"SELECT rg_row FROM rg_unknown WHERE {flag} ORDER BY rg_row LIMIT {MAX_ROWS_SHOWN}"
        ).fetchall()
        examples = con.execute(
            f"SELECT {canonical} FROM rg_unknown WHERE {flag} GROUP BY {canonical} "
            f"ORDER BY min(rg_row) LIMIT {MAX_EXAMPLES}"
        ).fetchall()
        report.add(
            "unknown_provider",
            f"{int(n_ids):,} {canonical} id(s) are not in the providers table",
            column=cols.get(canonical, canonical),
            rows=[int(r[0]) for r in first],
            count=int(n_rows),
            examples=[str(e[0]) for e in examples],
            hint="add these providers to the providers file, or check the id columns match",
        )
    con.execute("DROP TABLE rg_unknown")
