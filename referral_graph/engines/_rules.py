"""The rules every engine applies to event rows, and their wording (private).

One definition, used by the out-of-core DuckDB engine (:mod:`referral_graph.engines.files`)
and by Spark (:mod:`referral_graph.engines.spark`), of what the in-memory reader
(:func:`referral_graph.io.read_events`) does row by row: which files are read and how
(paths, globs, CSV dialect), which columns play which role (the aliases of ``read_events``),
how distinct dates and ids are parsed and checked (on the distinct values, in Python, exactly
as :mod:`referral_graph.validate` does), and how the engines' row counts become a
:class:`~referral_graph.validate.ValidationReport` with the in-memory reader's messages.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from referral_graph import io as _io
from referral_graph._checks import DECIMAL_COMMA, decimal_comma_error
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.io._columns import _resolve_columns
from referral_graph.io._files import (
    _sniff_delimiter,
    check_text,
    chosen_is_utf16,
    first_line_of,
    split_fields,
)
from referral_graph.io._headers import header_names, looks_headerless
from referral_graph.npi import npi_flags
from referral_graph.validate import (
    LOSSY_ID_HINT,
    LOSSY_ID_MESSAGE,
    MAX_EXAMPLES,
    MAX_ROWS_SHOWN,
    RESTORED_ID_HINT,
    RESTORED_ID_MESSAGE,
    Issue,
    ValidationReport,
    check_ids,
    parse_dates,
    parse_numbers,
)

if TYPE_CHECKING:
    import duckdb

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


def _amount_number_sql(text: str, stripped: str, decimal: str) -> str:
    """DuckDB SQL: the number in the column `text` (`stripped`: its stripped text), or NULL.

    The rules of :func:`referral_graph.validate.parse_numbers`. With ``decimal="."``,
    DuckDB's cast reads what pandas.to_numeric and Arrow read, and also "1_000" (excluded
    here) and "nan" / "inf" spelled in any case (the files engine's ``_amount_sql`` refuses
    them). With ``decimal=","``: digits with optional dots between groups of three and an
    optional comma before the decimals (``1.850,00``).
    """
    if decimal == ".":
        # the cast reads surrounding ASCII white space itself: the text is stripped only
        # where it does not read as it is (the same number wherever it does)
        return (
            f"CASE WHEN NOT contains({text}, '_') THEN "
            f"coalesce(TRY_CAST({text} AS DOUBLE), TRY_CAST({stripped} AS DOUBLE)) END"
        )
    t = f"trim({text})"
    return (
        f"CASE WHEN regexp_full_match({t}, {_quote(DECIMAL_COMMA)}) THEN TRY_CAST("
        f"replace(replace({t}, '.', ''), ',', '.') AS DOUBLE) END"
    )


def _refuse_decimal_commas(
    con: duckdb.DuckDBPyConnection, select: str, name: str, column: str
) -> None:
    """Raise when every ``amount_text`` of `select` reads as a number with a decimal comma.

    As :func:`referral_graph.validate.parse_numbers` does in memory (when one value has a
    comma); the out-of-core engine names an example value, not its row. Its caller
    runs it when some amount holds a comma (the pattern is matched on every row).
    """
    t = "trim(amount_text)"
    pattern = _quote(DECIMAL_COMMA)
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT regexp_full_match({t}, {pattern})), "
        f"min({t}) FILTER (WHERE contains({t}, ',')) "
        f"FROM ({select}) WHERE amount_text IS NOT NULL AND {t} <> ''"
    ).fetchone()
    assert row is not None
    if row[0] == 0 and row[1] is not None:
        raise decimal_comma_error(name, column, row[1])


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


class NotUtf8Error(InputError):
    """A CSV file's text is neither UTF-8 nor what `encoding` said: the in-memory reader,
    which falls back to cp1252 and reads UTF-16, may read it (``engine="auto"`` then does)."""


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
    if chosen_is_utf16(sample, encoding):
        raise NotUtf8Error(
            f"{path}: the file is UTF-16 text, which the out-of-core engines do not read; "
            "save it as UTF-8, or read it in memory (engine 'duckdb' or 'pandas')."
        )
    check_text(sample, str(path))
    notes: list[tuple[str, str]] = []
    if sample.startswith(b"\xef\xbb\xbf"):
        notes.append(("bom", "UTF-8 byte-order mark removed"))
    text = sample.decode("latin-1" if encoding == "latin-1" else "utf-8-sig", errors="replace")
    first_line = first_line_of(text)
    if delimiter is None:
        delimiter = _sniff_delimiter(first_line)
        if delimiter != ",":
            notes.append(("delimiter", f"delimiter detected: {delimiter!r}"))
    elif len(delimiter) != 1:
        raise ParameterError(
            f"The 'delimiter' parameter must be one character. Got {delimiter!r} instead."
        )
    fields = split_fields(first_line, delimiter)
    header = not looks_headerless(fields)
    if header:
        columns = header_names(fields, str(path))
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
    return _resolve_columns(
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
    # counts here are of distinct strings, not rows: kept out of the log
    scratch = ValidationReport(name=name, log=False)
    if len(values):
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
    if known is None:
        frame["known"] = np.ones(len(ids), dtype=bool)
    else:  # Arrow's set lookup (pandas' isin on Arrow-backed text is many times slower)
        listed = pd.Series(known if isinstance(known, pd.Series) else list(known), dtype="str")
        found = pc.is_in(_arrow_text(ids), value_set=_arrow_text(listed.dropna()))
        frame["known"] = found.to_numpy(zero_copy_only=False)
    return frame


def _arrow_text(values: pd.Series) -> pa.Array:
    """A Series of text as one Arrow array."""
    text = pa.array(values, type=pa.large_string(), from_pandas=True)
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


@dataclass
class _RowCounts:
    """Counts of each row-level problem, filled by an engine (DuckDB or Spark)."""

    rows_read: int = 0
    wrong_fields: int = 0
    wrong_field_lines: list[object] = field(default_factory=list)
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
    restored: dict[str, int] = field(default_factory=dict)
    restored_examples: dict[str, list[str]] = field(default_factory=dict)
    lossy: dict[str, int] = field(default_factory=dict)
    lossy_examples: dict[str, list[str]] = field(default_factory=dict)
    #: The first row numbers of each issue (``"missing_id:source"``, ``"self_referral"``, ...),
    #: when an engine numbers rows (the ``files`` engine's ordered pass).
    rows: dict[str, list[object]] = field(default_factory=dict)

    def note_restored(
        self,
        key: str,
        rows_by_id: Mapping[Any, int],
        restored: Mapping[str, str],
        lossy: Sequence[str],
    ) -> None:
        """Count the rows of column `key` whose id was restored, or lost digits."""
        hit = sorted(i for i in restored if i in rows_by_id)
        self.restored[key] = sum(rows_by_id[i] for i in hit)
        self.restored_examples[key] = [f"{i} -> {restored[i]}" for i in hit[:MAX_EXAMPLES]]
        lost = sorted(i for i in lossy if i in rows_by_id)
        self.lossy[key] = sum(rows_by_id[i] for i in lost)
        self.lossy_examples[key] = lost[:MAX_EXAMPLES]


def _templates(npi: NpiMode, decimal: str = ".") -> dict[str, Issue]:
    """The issues ``validate``'s own checks write, run on tiny inputs: messages and hints.

    The engines count rows themselves but word every issue as the in-memory reader does, so
    a change of wording in :mod:`referral_graph.validate` carries over.
    """
    scratch = ValidationReport(name="", log=False)  # templates are not news
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
        decimal=decimal,
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
    decimal: str = ".",
) -> None:
    """Add the row-level issues, with the messages of ``read_events`` and in its order."""
    report.rows_read = counts.rows_read
    words = _templates(npi, decimal)
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
            "blank_line",
            "the line is blank",
            rows=counts.rows.get("blank_line", ()),
            count=counts.blank,
            excluded=True,
            level="info",
        )
    for key in ("source", "target"):
        if counts.restored.get(key):
            report.add(
                "restored_id",
                RESTORED_ID_MESSAGE,
                column=cols[key],
                rows=counts.rows.get(f"restored_id:{key}", ()),
                count=counts.restored[key],
                examples=counts.restored_examples[key],
                hint=RESTORED_ID_HINT,
            )
        if counts.lossy.get(key):
            report.add(
                "lossy_id",
                LOSSY_ID_MESSAGE,
                level="error",
                column=cols[key],
                rows=counts.rows.get(f"lossy_id:{key}", ()),
                count=counts.lossy[key],
                examples=counts.lossy_examples[key],
                excluded=True,
                hint=LOSSY_ID_HINT,
            )
    for key in ("source", "target"):
        if counts.missing.get(key):
            report.add(
                "missing_id",
                words["missing_id"].message,
                column=cols[key],
                rows=counts.rows.get(f"missing_id:{key}", ()),
                count=counts.missing[key],
                excluded=True,
                hint=words["missing_id"].hint,
            )
        if counts.npi_bad.get(key) and npi is not False:
            report.add(
                "invalid_npi",
                words["invalid_npi"].message,
                column=cols[key],
                rows=counts.rows.get(f"invalid_npi:{key}", ()),
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
            rows=counts.rows.get("self_referral", ()),
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
                rows=counts.rows.get("missing_date", ()),
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
                rows=counts.rows.get("unparsable_date", ()),
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
                    rows=counts.rows.get(check, ()),
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
                rows=counts.rows.get("duplicate_row", ()),
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
                rows=counts.rows.get(f"unknown_provider:{key}", ()),
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


def _fetch_column(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return [row[0] for row in con.execute(sql).fetchall()]


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
    return output_frame(pq.read_table(files[0] if len(files) == 1 else [str(f) for f in files]))


def output_frame(table: Any) -> pd.DataFrame:
    """An engine's panel or tie table (an Arrow table) with the dtypes of
    :func:`read_output`: what DuckDB gives as Arrow (the referral store's tables) is
    read as the ``files`` engine's Parquet output is."""
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
        elif c in ("first_day", "last_day") and pd.api.types.is_integer_dtype(frame[c]):
            frame[c] = frame[c].astype("int8")
    return frame


def panels_of(table: pd.DataFrame) -> pd.Series:
    """An engine's patient panels table (``id``, ``patients``) as a Series by id."""
    return pd.Series(table["patients"].to_numpy(), index=table["id"].astype("str"), name="patients")


def restored_select(select: str) -> str:
    """`select` with the ids of the ``rg_restore`` table (``raw``, ``id``) restored."""
    return (
        "SELECT * REPLACE (coalesce(r1.id, e.source) AS source, "
        f"coalesce(r2.id, e.target) AS target) FROM ({select}) e "
        "LEFT JOIN rg_restore r1 ON r1.raw = e.source LEFT JOIN rg_restore r2 ON r2.raw = e.target"
    )
