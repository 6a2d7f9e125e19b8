"""Opening files: raw tables read from CSV or Parquet, and tables written atomically.

:func:`read_table` reads a file as it is (CSV as text, with the encoding, the
delimiter and the header detected) for the readers of :mod:`referral_graph.io`;
:func:`atomic_path` and :func:`write_table` write files that readers never see
half-written.
"""

from __future__ import annotations

import contextlib
import csv
import io as _io
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from referral_graph._duckdb import duckdb_connect
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.io._headers import header_names, looks_headerless, unique_names
from referral_graph.io._workbooks import WORKBOOK_SUFFIXES, read_workbook, workbook_kind
from referral_graph.validate import ValidationReport

logger = logging.getLogger("referral_graph.io")

PathOrFrame = str | os.PathLike[str] | pd.DataFrame
NpiMode = bool | Literal["auto"]

#: Values read as missing in CSV files (``NULL`` is how CareSet and many SQL exports write it).
NULL_VALUES = ["", "NULL", "null", "NA", "N/A", "NaN", "nan", "None", "#N/A"]

_DELIMITERS = [",", ";", "\t", "|"]

# ----------------------------------------------------------------------------- reading


@dataclass
class RawTable:
    """A table as read, before mapping and checks.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns as named in the input; CSV columns are strings. The index
        holds the row numbers used in messages.
    report : ValidationReport
        Notes from reading (encoding, delimiter, malformed lines).
    delimiter : str or None
        The delimiter used for a CSV file (None for Parquet and DataFrames).
    """

    frame: pd.DataFrame
    report: ValidationReport
    delimiter: str | None = None


def _utf16_without_bom(sample: bytes) -> str | None:
    """``"utf-16-le"`` / ``"utf-16-be"`` when every other byte of `sample` is NUL (ASCII text)."""
    head = sample[:4096]
    if len(head) < 8:
        return None
    odd, even = head[1::2], head[0::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def chosen_is_utf16(sample: bytes, encoding: str) -> bool:
    """Whether `sample` is UTF-16 text (by its byte-order mark, its NULs or `encoding`)."""
    return (
        encoding.lower().replace("_", "-").startswith("utf-16")
        or sample.startswith((b"\xff\xfe", b"\xfe\xff"))
        or _utf16_without_bom(sample) is not None
    )


def check_text(sample: bytes, name: str) -> None:
    """Raise :class:`InputError` when `sample` (a file's first bytes) is not text.

    Text files hold few control characters besides tab, line feed and carriage
    return; a binary file (an image, a database, a PDF) holds many. A few NUL
    bytes in a text file are read as they are, with the rows reported.
    """
    head = sample[:8192]
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    if head and controls > 0.05 * len(head):
        raise InputError(
            f"{name}: is not a text file ({controls:,} control bytes in its first "
            f"{len(head):,}). Expected a CSV, Parquet or spreadsheet file; if this is one, "
            "it is damaged or compressed in a format not read here (.gz, .bz2, .zst are)."
        )


def first_line_of(text: str) -> str:
    r"""The first line of `text`, ended by LF, CRLF or a lone CR (old Mac spreadsheets).

    Only these end a line: ``str.splitlines()`` also splits on characters such as
    U+2028 or U+0085 that are ordinary text in a CSV field.

    Examples
    --------
    >>> first_line_of("a,b\r1,2\r"), first_line_of("a,b\r\n1,2"), first_line_of("a\u2028b")
    ('a,b', 'a,b', 'a\u2028b')
    """
    return re.split(r"\r\n|\n|\r", text, maxsplit=1)[0]


def split_fields(line: str, delimiter: str) -> list[str]:
    r"""The fields of one CSV line (quotes honoured); a malformed line is split plainly.

    Examples
    --------
    >>> split_fields('a,"b,c",d', ","), split_fields("a,b\rc", ",")
    (['a', 'b,c', 'd'], ['a', 'b', 'c'])
    """
    line = line.strip("\r\n")
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # a stray carriage return or quote: no field can be trusted
        return re.split("[\r\n" + re.escape(delimiter) + "]", line)


@contextlib.contextmanager
def _undecodable_rows_ignored() -> Iterator[None]:
    """Keep pyarrow's own failures to decode a rejected line off stderr.

    Arrow decodes a line with the wrong number of fields before handing it to the
    reader's handler; a line that is not UTF-8 fails there, inside Arrow, and is
    printed as an "exception ignored". The read itself then fails on the same bytes
    and falls back to cp1252 (or says which encoding to pass), so nothing is lost.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            logger.debug("a rejected line is not UTF-8: %s", unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _display_name(path: Path) -> str:
    return str(path)


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: 0 for d in _DELIMITERS}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _first_bad_utf8_line(path: Path) -> tuple[int, bytes] | None:
    """The number and bytes of the first line that is not valid UTF-8."""
    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as stream:
        for number, line in enumerate(_io.BufferedReader(stream), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line
    return None


def _report_cp1252(
    report: ValidationReport, path: Path, delimiter: str, columns: Sequence[str]
) -> None:
    """Note that a file was read as cp1252, naming the first line and column concerned."""
    found = _first_bad_utf8_line(path)
    line: int | None = None
    column: str | None = None
    if found is not None:
        line, raw = found
        text = raw.decode("cp1252", errors="replace").rstrip("\r\n")
        fields = split_fields(text, delimiter)
        for position, value in enumerate(fields):
            try:
                value.encode("cp1252", errors="replace").decode("utf-8")
            except UnicodeDecodeError:
                if position < len(columns):
                    column = columns[position]
                break
    where = f"first at line {line}" if line is not None else "somewhere in the file"
    report.add(
        "encoding",
        f"the file is not valid UTF-8 ({where}); read as cp1252 (Windows-1252)",
        column=column,
        rows=[line] if line is not None else [],
        count=0,
        hint="save the file as UTF-8, or pass encoding= (CLI: --encoding) if it is "
        "another encoding",
    )


def read_table(
    data: PathOrFrame,
    *,
    encoding: str = "auto",
    delimiter: str | None = None,
    header: bool | Literal["auto"] = "auto",
    names: Sequence[str] | None = None,
    sheet: str | int | None = None,
) -> RawTable:
    """Read a CSV, Parquet or spreadsheet file (or take a DataFrame) without interpreting it.

    Parameters
    ----------
    data : path or pandas.DataFrame
        ``.csv``, ``.tsv``, ``.txt`` (optionally compressed: ``.gz``, ``.bz2``,
        ``.zst``), ``.parquet``, or a spreadsheet workbook (``.xlsx``, ``.xlsm``,
        ``.xlsb``, ``.xls``, ``.ods``; found by its first bytes too, so a
        workbook renamed ``.csv`` is read as one); or a DataFrame, used as it
        is (not copied, never modified).
    encoding : str, default "auto"
        ``"auto"`` reads UTF-8 (a byte-order mark is removed) and falls back
        to cp1252 with a warning when the file is not valid UTF-8.
    delimiter : str, optional
        Detected from the header line when omitted.
    header : bool or "auto"
        ``"auto"``: a first line made only of numbers is taken as data (CMS
        ships header-less files).
    names : sequence of str, optional
        Column names for a header-less file.
    sheet : str or int, optional
        For a workbook: the sheet's name, or its position counting from 1
        (default: the first sheet). Cells are read as text as a CSV export
        would hold them: integral numbers as their digits, dates as ISO dates
        (see :mod:`referral_graph.io`).

    Returns
    -------
    RawTable
        The cells as text, with the row numbers and what the reader found.

    Raises
    ------
    InputError
        The file is missing, empty or unreadable.

    Examples
    --------
    >>> raw = read_table(pd.DataFrame({"a": [1]}))
    >>> raw.frame.columns.tolist(), raw.report.name
    (['a'], '<DataFrame>')
    """
    if isinstance(data, pd.DataFrame):
        report = ValidationReport(name="<DataFrame>", rows_read=len(data), row_label="index")
        return RawTable(frame=data, report=report)
    path = Path(os.fspath(data))
    name = _display_name(path)
    if not path.exists():
        raise InputError(f"{name}: no such file.")
    if path.is_dir():
        raise InputError(f"{name}: is a folder, expected a CSV or Parquet file.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return _read_parquet(path, name)
    container = workbook_kind(path)
    if container is not None or (suffixes and suffixes[-1] in WORKBOOK_SUFFIXES):
        return _read_workbook(path, name, container, sheet=sheet, header=header, names=names)
    if sheet is not None:
        raise ParameterError(
            f"The 'sheet' parameter is for spreadsheet workbooks; {name} is not one."
        )
    return _read_csv(path, name, encoding=encoding, delimiter=delimiter, header=header, names=names)


def _read_workbook(
    path: Path,
    name: str,
    container: str | None,
    *,
    sheet: str | int | None,
    header: bool | Literal["auto"],
    names: Sequence[str] | None,
) -> RawTable:
    suffix = path.suffix.lower()
    if container == "zip" and suffix not in WORKBOOK_SUFFIXES:
        try:
            frame, report = read_workbook(path, name, sheet=sheet, header=header, names=names)
        except InputError as exc:
            raise InputError(
                f"{name}: is a ZIP archive, not a CSV file. Unzip it and pass the file inside."
            ) from exc
    else:
        frame, report = read_workbook(path, name, sheet=sheet, header=header, names=names)
    if suffix not in WORKBOOK_SUFFIXES:
        report.add(
            "workbook",
            f"the file is a spreadsheet workbook although its name ends in {suffix or 'nothing'}; "
            "read as a workbook",
            level="info",
        )
    frame = _drop_blank_rows(frame, report)
    if len(frame) == 0:
        raise InputError(f"{name}: the sheet has a header but no data rows.")
    return RawTable(frame=frame, report=report)


def _drop_blank_rows(frame: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    """Exclude (and report) the rows whose every field is missing."""
    blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    if blank.any():
        report.add(
            "blank_line", "the line is blank", rows=frame.index[blank], excluded=True, level="info"
        )
        return frame.loc[~blank]
    return frame


def _read_parquet(path: Path, name: str) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputError(f"{name}: cannot be read as Parquet ({exc}).") from exc
    frame = table.to_pandas(date_as_object=False)
    if len(frame) == 0:
        raise InputError(f"{name}: the file has no rows.")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return RawTable(frame=frame, report=ValidationReport(name=name, rows_read=len(frame)))


def _read_csv(
    path: Path,
    name: str,
    *,
    encoding: str,
    delimiter: str | None,
    header: bool | Literal["auto"],
    names: Sequence[str] | None,
) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    report = ValidationReport(name=name)
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            sample = stream.read(1 << 16)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{name}: cannot be read ({exc}).") from exc
    if not sample.strip():
        raise InputError(f"{name}: the file is empty.")
    if not chosen_is_utf16(sample, encoding):
        check_text(sample, name)

    chosen = encoding
    bomless = _utf16_without_bom(sample) if encoding == "auto" else None
    if sample.startswith(b"\xff\xfe") or sample.startswith(b"\xfe\xff"):
        chosen = "utf-16"
        report.add("encoding", "UTF-16 byte-order mark found; read as UTF-16", level="info")
    elif bomless is not None:
        chosen = bomless
        report.add("encoding", f"the file is UTF-16 text; read as {bomless}", level="info")
    elif sample.startswith(b"\xef\xbb\xbf"):
        report.add("bom", "UTF-8 byte-order mark removed", level="info")
        chosen = "utf-8" if encoding == "auto" else encoding
    elif encoding == "auto":
        try:
            sample.decode("utf-8")
            chosen = "utf-8"
        except UnicodeDecodeError as exc:
            # a character cut by the sample's end is not a decoding error
            partial = len(sample) == 1 << 16  # the sample is not the whole file
            chosen = "utf-8" if partial and exc.start >= len(sample) - 4 else "cp1252"
    text = sample.decode(chosen if chosen != "utf-8" else "utf-8-sig", errors="replace")
    first_line = first_line_of(text)
    if delimiter is None:
        delimiter = _sniff_delimiter(first_line)
        if delimiter != ",":
            report.add("delimiter", f"delimiter detected: {delimiter!r}", level="info")
    elif len(delimiter) != 1:
        raise ParameterError(
            f"The 'delimiter' parameter must be one character. Got {delimiter!r} instead."
        )
    first_fields = split_fields(first_line, delimiter)
    has_header = not looks_headerless(first_fields) if header == "auto" else bool(header)
    if has_header:
        columns = header_names(first_fields, name)
        # pyarrow names the columns as written (spaces kept): type both spellings as text,
        # else a column named " target" would be type-guessed and lose its leading zeros
        as_written = [c.lstrip("\ufeff") for c in first_fields]
        if names is not None:
            raise ParameterError("The 'names' parameter is only for files without a header.")
    else:
        as_written = []
        if names is None:
            names = [f"column_{i + 1}" for i in range(len(first_fields))]
        elif len(names) != len(first_fields):
            raise SchemaError(
                f"{name}: the file has no header and {len(first_fields)} columns; expected "
                f"{len(names)} ({', '.join(names)})."
            )
        columns = list(names)
        unique_names(columns, name)  # a header's names were checked by header_names
        report.add("no_header", "no header line; columns named " + ", ".join(columns), level="info")

    invalid: list[tuple[int | None, str, int]] = []

    def _on_invalid(row: Any) -> str:
        # the line's text is not kept: it may hold patient ids, and may not be UTF-8
        invalid.append((row.number, "", row.actual_columns))
        return "skip"

    def _read(enc: str, use_threads: bool) -> pa.Table:
        invalid.clear()
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding=enc,
                column_names=None if has_header else columns,
                use_threads=use_threads,
                block_size=1 << 22,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=_on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in [*columns, *as_written]},
                null_values=NULL_VALUES,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    try:
        with _undecodable_rows_ignored():
            try:
                table = _read(chosen, True)
            except pa.ArrowInvalid as exc:
                if "UTF8" not in str(exc) or encoding != "auto":
                    raise
                chosen = "cp1252"
                table = _read(chosen, True)
            if invalid:  # read again single-threaded, which gives line numbers
                table = _read(chosen, False)
        frame = table.to_pandas()  # decodes the header's names (UTF-8 in Arrow)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{name}: cannot be read as CSV ({exc}).") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: cannot be decoded as {chosen} ({exc.reason} at byte {exc.start:,} of a "
            "block). Pass the file's encoding with encoding= (CLI: --encoding), or save it "
            "as UTF-8."
        ) from exc
    except (OSError, pa.ArrowException) as exc:  # a damaged or truncated compressed file
        raise InputError(f"{name}: cannot be read ({exc}).") from exc
    if chosen == "cp1252" and encoding == "auto":  # a fallback, not the caller's choice
        _report_cp1252(report, path, delimiter, columns)

    if has_header and len(frame.columns) == len(columns):
        frame.columns = pd.Index(columns)
    first = 2 if has_header else 1
    n_total = len(frame) + len(invalid)
    bad_numbers = {num for num, _, _ in invalid if num is not None}
    if bad_numbers:
        all_rows = np.arange(first, first + n_total)
        rows = all_rows[~np.isin(all_rows, list(bad_numbers))]
        if len(rows) != len(frame):  # multi-line values: fall back to record order
            rows = np.arange(first, first + len(frame))
    else:
        rows = np.arange(first, first + len(frame))
    frame.index = pd.Index(rows, name="row")
    report.rows_read = n_total
    if invalid:
        expected = len(columns)
        # The line's text is not quoted: it may hold patient identifiers.
        report.add(
            "wrong_field_count",
            f"the line does not have {expected} fields ({', '.join(columns)})",
            rows=[num for num, _, _ in invalid if num is not None],
            count=len(invalid),
            examples=sorted({f"{n_fields} fields" for _, _, n_fields in invalid}),
            excluded=True,
            hint=f"check the delimiter ({delimiter!r}) and quoting on these lines",
        )
    frame = _drop_blank_rows(frame, report)
    if len(frame) == 0:
        raise InputError(f"{name}: the file has a header but no data rows.")
    return RawTable(frame=frame, report=report, delimiter=delimiter)


# ----------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only on success.

    Readers never see a half-written file, and a failure leaves any earlier
    file untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    final = Path(os.fspath(path))
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file readable by its owner only; give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def _not_as_pandas(arrow_type: Any) -> bool:
    """Whether DuckDB would write an Arrow column of this type otherwise than pandas:
    durations (``24:00:00`` for ``1 days``) and pandas' own types kept as Arrow extension
    types (a period as its ordinal, an interval as a struct)."""
    import pyarrow as pa

    return bool(pa.types.is_duration(arrow_type)) or isinstance(arrow_type, pa.ExtensionType)


def _write_csv_duckdb(table: pd.DataFrame, path: Path) -> bool:
    """Write `table` as CSV with DuckDB, as ``DataFrame.to_csv`` would; False if it cannot.

    DuckDB's writer is several times faster than pandas' on million-row tables.
    The text matches pandas' (``date_format="%Y-%m-%d"``, booleans as
    ``True`` / ``False``, minimal quoting), except that an empty string is
    written as ``""`` rather than like a missing value. DuckDB reads the table
    as Arrow (the columns shared, not copied): a DataFrame's text columns would
    be scanned holding Python's lock, which the report's other thread needs
    (4.7 million ties: 8.9 s against 5.6 s beside a busy thread). Tables with
    column names that are not distinct text, tables Arrow cannot hold (mixed
    Python objects) and tables with durations, periods or intervals (which
    DuckDB writes otherwise) return False.
    """
    import duckdb
    import pyarrow as pa

    names = [str(name) for name in table.columns]
    if names != list(table.columns) or len(set(names)) != len(names):
        return False
    select = []
    for name, dtype in zip(names, table.dtypes, strict=True):
        column = '"' + name.replace('"', '""') + '"'
        expr = column
        if pd.api.types.is_bool_dtype(dtype):
            expr = f"CASE WHEN {column} THEN 'True' WHEN NOT {column} THEN 'False' END"
        elif isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
            expr = f"strftime({column}, '%Y-%m-%d')"
        select.append(f"{expr} AS {column}")
    target = str(path).replace("'", "''")
    try:
        # DuckDB scans an Arrow table without Python's lock, a DataFrame's text columns with it.
        scanned = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        logger.debug("Arrow cannot hold %s (%s); pandas writes it", path.name, exc)
        return False
    if any(_not_as_pandas(field.type) for field in scanned.schema):
        return False
    try:
        with duckdb_connect() as con:
            con.register("_table", scanned)
            con.execute(
                f"COPY (SELECT {', '.join(select)} FROM _table) TO '{target}' "
                "(FORMAT csv, HEADER, DELIMITER ',')"
            )
    except duckdb.Error as exc:
        logger.debug("DuckDB could not write %s (%s); pandas writes it", path.name, exc)
        return False
    return True


# A cell a spreadsheet would run as a formula, unless it is a plain number.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def neutralize_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with text cells a spreadsheet would run as formulas prefixed with ``'``.

    Only text columns are looked at; the table is not modified (a shallow copy
    is returned when a cell changes). Column names are text too.

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["=1+2", "@SUM(A1)", "-5", "Dr. Y"], "n": [1, -2, 3, 4]})
    >>> neutralize_formulas(t)["name"].tolist()
    ["'=1+2", "'@SUM(A1)", '-5', 'Dr. Y']
    """
    out = table
    for position in range(table.shape[1]):
        column = table.iloc[:, position]
        if not (pd.api.types.is_string_dtype(column.dtype) or column.dtype == object):
            continue
        if column.dtype == object:  # text among other values: look at the text only
            is_text = column.map(lambda v: isinstance(v, str), na_action="ignore")
            text = column.where(is_text.fillna(False).astype(bool))
        else:
            text = column
        first = text.str[:1]
        risky = first.isin(_FORMULA_START).to_numpy(copy=True)
        if not risky.any():
            continue
        risky &= ~text.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool).to_numpy()
        if not risky.any():
            continue
        if out is table:
            out = table.copy(deep=False)
        fixed = column.copy()
        fixed[risky] = "'" + text[risky]
        out.isetitem(position, fixed.to_numpy())
    renamed = [
        "'" + c if isinstance(c, str) and c.startswith(_FORMULA_START) else c for c in out.columns
    ]
    if renamed != list(out.columns):
        out = out.copy(deep=False) if out is table else out
        out.columns = pd.Index(renamed)
    return out


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table atomically as CSV or Parquet, chosen by the extension.

    The index is not written. CSV is written by DuckDB's writer (pandas' for
    columns DuckDB cannot hold): dates as ``YYYY-MM-DD``, missing values as
    empty fields, fields quoted only where needed. Returns the path written.

    CSV files are opened in spreadsheets, which run a cell that begins with
    ``=``, ``+``, ``-`` or ``@`` as a formula (CSV injection): such text
    cells, and those beginning with a tab or carriage return, are written
    with a leading ``'`` (OWASP's advice), so that the spreadsheet shows them
    as text. Numbers, and text that is a plain number such as ``-5``, are
    written as they are. Parquet files hold the values unchanged.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> table = pd.DataFrame({"a": [1, 2], "day": pd.to_datetime(["2024-01-31", None]),
    ...                       "note": ["x, y", '=HYPERLINK("http://x")']})
    >>> p = write_table(table, pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> print(p.read_text(), end="")
    a,day,note
    1,2024-01-31,"x, y"
    2,,"'=HYPERLINK(""http://x"")"
    """
    final = Path(os.fspath(path))
    suffix = final.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ParameterError(
            f"The 'path' parameter of write_table must end in .csv or .parquet. Got {final.name!r}."
        )
    clean = table.copy(deep=False)
    clean.attrs = {}
    if suffix == ".csv":
        clean = neutralize_formulas(clean)
    with atomic_path(final) as tmp:
        if suffix == ".parquet":
            clean.to_parquet(tmp, index=False)
        elif not _write_csv_duckdb(clean, tmp):
            clean.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    logger.info("Wrote %s rows to %s", f"{len(table):,}", final)
    return final
