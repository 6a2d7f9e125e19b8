"""Readers and writers: referral events, aggregated edges and providers.

Every reader takes a CSV path (optionally ``.gz`` / ``.bz2`` / ``.zst``), a
Parquet path or a pandas DataFrame, maps the input's columns to the
toolkit's names (common aliases are recognised; anything else can be mapped
with keyword arguments), validates every row in one pass
(:mod:`referral_graph.validate`) and returns a clean table with canonical
columns (see ``docs/data-formats.md``). The :class:`ValidationReport` is in
``table.attrs["report"]``. Input files are never modified.

CSV files are read as text (no type guessing: ids keep their leading zeros
and letters), with the encoding (UTF-8, with or without BOM, falling back to
cp1252), the delimiter (``,``, ``;``, tab, ``|``) and the presence of a
header detected, each noted in the report.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"referring_npi": ["1234567893"], "receiving_npi": ["1003033051"],
...                     "referral_date": ["2024-03-05"]})
>>> events = read_events(raw)
>>> events.columns.tolist()
['source', 'target', 'date']
>>> events.attrs["report"].rows_excluded
0
"""

from __future__ import annotations

import contextlib
import csv
import io as _io
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._checks import header_key
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.privacy import is_count_name, pseudonymize
from referral_graph.validate import (
    ValidationReport,
    check_ids,
    check_missing_providers,
    parse_dates,
    parse_numbers,
)

__all__ = [
    "EDGE_LAYOUTS",
    "RawTable",
    "atomic_path",
    "read_activities",
    "read_edges",
    "read_events",
    "read_providers",
    "read_table",
    "write_table",
]

logger = logging.getLogger(__name__)

PathOrFrame = str | os.PathLike[str] | pd.DataFrame
NpiMode = bool | Literal["auto"]

#: Values read as missing in CSV files (``NULL`` is how CareSet and many SQL exports write it).
NULL_VALUES = ["", "NULL", "null", "NA", "N/A", "NaN", "nan", "None", "#N/A"]

_DELIMITERS = [",", ";", "\t", "|"]

EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "source": (
        "source",
        "referring_npi",
        "from_npi",
        "npi_from",
        "referring_provider",
        "referring_provider_id",
        "referrer",
        "referrer_id",
        "from",
        "src",
    ),
    "target": (
        "target",
        "receiving_npi",
        "to_npi",
        "npi_to",
        "receiving_provider",
        "receiving_provider_id",
        "referred_to",
        "receiver",
        "receiver_id",
        "to",
        "dst",
    ),
    "date": ("date", "referral_date", "service_date", "event_date", "visit_date"),
    "patient_id": ("patient_id", "member_id", "patient", "mrn", "bene_id", "beneficiary_id"),
    "amount": ("amount", "revenue", "allowed_amount", "paid_amount", "charge", "charges"),
    "service_line": ("service_line", "service", "specialty_line"),
    "payer": ("payer", "payor", "insurance", "plan"),
}

EDGE_ALIASES: dict[str, tuple[str, ...]] = {
    "source": EVENT_ALIASES["source"] + ("initial",),
    "target": EVENT_ALIASES["target"] + ("secondary",),
    "weight": ("weight", "referrals", "count", "n", "total"),
    "patients": ("patients", "patient_count", "bene_count", "unique"),
    "period": ("period", "month", "year", "quarter"),
}

#: Aggregated-edge layouts: canonical name -> the layout's own column names.
EDGE_LAYOUTS: dict[str, dict[str, Any]] = {
    "cms-pspp": {
        "columns": ["npi_from", "npi_to", "pair_count", "bene_count", "same_day_count"],
        "source": "npi_from",
        "target": "npi_to",
        "weight": "pair_count",
        "patients": "bene_count",
        "counts": ["pair_count", "bene_count", "same_day_count"],
        "measures": [],
    },
    "hop-teaming": {
        "columns": [
            "from_npi",
            "to_npi",
            "patient_count",
            "transaction_count",
            "average_day_wait",
            "std_day_wait",
        ],
        "source": "from_npi",
        "target": "to_npi",
        "weight": "transaction_count",
        "patients": "patient_count",
        "counts": ["patient_count", "transaction_count"],
        "measures": ["average_day_wait", "std_day_wait"],
    },
}

PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "npi", "provider_id", "provider_npi", "provider"),
    "name": ("name", "provider_name", "full_name", "display_name"),
    "taxonomy_code": (
        "taxonomy_code",
        "primary_taxonomy_code",
        "taxonomy",
        "healthcare_provider_taxonomy_code_1",
        "taxonomy_code_1",
    ),
    "specialty": ("specialty", "specialty_name", "speciality", "specialty_description"),
    "organization": (
        "organization",
        "organisation",
        "organization_name",
        "org",
        "org_name",
        "practice",
        "practice_name",
        "group_name",
        "system",
    ),
    "city": ("city", "town"),
    "state": ("state", "region"),
    "zip": ("zip", "zip_code", "zipcode", "postal_code", "postcode"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "in_network": ("in_network", "is_in_network", "ours", "is_focus", "focus"),
}


# ----------------------------------------------------------------------------- raw tables


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
        fields = next(csv.reader([text], delimiter=delimiter), [])
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


def _looks_headerless(fields: Sequence[str]) -> bool:
    """A first line whose every field is a number is data, not a header."""
    if not fields:
        return False
    for f in fields:
        text = f.strip()
        if not text:
            return False
        try:
            float(text)
        except ValueError:
            return False
    return True


def read_table(
    data: PathOrFrame,
    *,
    encoding: str = "auto",
    delimiter: str | None = None,
    header: bool | Literal["auto"] = "auto",
    names: Sequence[str] | None = None,
) -> RawTable:
    """Read a CSV or Parquet file (or take a DataFrame) without interpreting it.

    Parameters
    ----------
    data : path or pandas.DataFrame
        ``.csv``, ``.tsv``, ``.txt`` (optionally compressed: ``.gz``, ``.bz2``,
        ``.zst``) or ``.parquet``; or a DataFrame, used as it is (not copied,
        never modified).
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

    Returns
    -------
    RawTable

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
    return _read_csv(path, name, encoding=encoding, delimiter=delimiter, header=header, names=names)


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

    chosen = encoding
    if sample.startswith(b"\xff\xfe") or sample.startswith(b"\xfe\xff"):
        chosen = "utf-16"
        report.add("encoding", "UTF-16 byte-order mark found; read as UTF-16", level="info")
    elif sample.startswith(b"\xef\xbb\xbf"):
        report.add("bom", "UTF-8 byte-order mark removed", level="info")
        chosen = "utf-8" if encoding == "auto" else encoding
    elif encoding == "auto":
        try:
            sample.decode("utf-8")
            chosen = "utf-8"
        except UnicodeDecodeError as exc:
            # a character cut by the sample's end is not a decoding error
            chosen = "utf-8" if exc.start >= len(sample) - 4 else "cp1252"
    text = sample.decode(chosen if chosen != "utf-8" else "utf-8-sig", errors="replace")
    # split on line feeds only: str.splitlines() also splits on characters such as
    # U+2028 or U+0085 that are ordinary text in a CSV field
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if delimiter is None:
        delimiter = _sniff_delimiter(first_line)
        if delimiter != ",":
            report.add("delimiter", f"delimiter detected: {delimiter!r}", level="info")
    elif len(delimiter) != 1:
        raise ParameterError(
            f"The 'delimiter' parameter must be one character. Got {delimiter!r} instead."
        )
    first_fields = next(csv.reader([first_line], delimiter=delimiter), [])
    has_header = not _looks_headerless(first_fields) if header == "auto" else bool(header)
    if has_header:
        columns = [c.strip().lstrip("\ufeff") for c in first_fields]
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
        report.add("no_header", "no header line; columns named " + ", ".join(columns), level="info")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise SchemaError(f"{name}: duplicate column names in the header: {', '.join(dupes)}.")

    invalid: list[tuple[int | None, str, int]] = []

    def _on_invalid(row: Any) -> str:
        invalid.append((row.number, row.text, row.actual_columns))
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
        try:
            table = _read(chosen, True)
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc) or encoding != "auto":
                raise
            chosen = "cp1252"
            table = _read(chosen, True)
        if invalid:  # read again single-threaded, which gives line numbers
            table = _read(chosen, False)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{name}: cannot be read as CSV ({exc}).") from exc
    if chosen == "cp1252" and encoding == "auto":  # a fallback, not the caller's choice
        _report_cp1252(report, path, delimiter, columns)

    frame = table.to_pandas()
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
    blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    if blank.any():
        report.add(
            "blank_line", "the line is blank", rows=frame.index[blank], excluded=True, level="info"
        )
        frame = frame.loc[~blank]
    if len(frame) == 0:
        raise InputError(f"{name}: the file has a header but no data rows.")
    return RawTable(frame=frame, report=report, delimiter=delimiter)


# ----------------------------------------------------------------------------- column mapping


def _resolve_columns(
    raw: RawTable,
    aliases: Mapping[str, Sequence[str]],
    explicit: Mapping[str, str | None],
    required: Sequence[str],
    *,
    hint_flags: Mapping[str, str],
) -> dict[str, str]:
    """Map canonical names to the input's column names.

    Explicit names win; otherwise the first alias found (case, spaces and
    hyphens ignored). Raises SchemaError naming the file, what was expected
    and what was found.
    """
    columns = [str(c) for c in raw.frame.columns]
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(header_key(c), c)
    resolved: dict[str, str] = {}
    for canonical, user in explicit.items():
        if user is None:
            continue
        if user in columns:
            resolved[canonical] = user
        elif header_key(user) in by_norm:
            resolved[canonical] = by_norm[header_key(user)]
        else:
            raise SchemaError(
                f"{raw.report.name}: column {user!r} (asked for as the {canonical} column) is "
                f"not in the file. Columns found: {', '.join(columns)}."
            )
    for canonical, names in aliases.items():
        if canonical in resolved:
            continue
        for alias in names:
            if alias in by_norm and by_norm[alias] not in resolved.values():
                resolved[canonical] = by_norm[alias]
                break
    missing = [c for c in required if c not in resolved]
    if missing:
        parts = []
        for c in missing:
            flag = hint_flags.get(c)
            accepted = ", ".join(aliases.get(c, (c,))[:6])
            parts.append(f"{c!r} (any of: {accepted}; or name it with {flag})")
        message = (
            f"{raw.report.name}: required column(s) missing: {'; '.join(parts)}. "
            f"Columns found: {', '.join(columns)}."
        )
        if len(columns) == 1:
            found = [d for d in _DELIMITERS if d != raw.delimiter and d in columns[0]]
            if found:
                used = f" (read with delimiter={raw.delimiter!r})" if raw.delimiter else ""
                message += (
                    f" The header looks like one column{used} but contains {found[0]!r}: "
                    f"check the delimiter (pass delimiter={found[0]!r}; CLI: --delimiter)."
                )
        raise SchemaError(message)
    return resolved


def _clean_ids(values: pd.Series) -> pd.Series:
    """Ids as stripped strings; numbers from Parquet/DataFrames become their digits."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if len(whole) and bool((whole % 1 == 0).all()):
            values = values.astype("Int64")
    out = values.astype("str")
    if not (pd.api.types.is_string_dtype(values.dtype) and values.dtype == out.dtype):
        out = out.where(values.notna())
    stripped = out.str.strip().astype("str")
    # Keep the column itself when nothing was stripped: one copy fewer of millions of ids.
    return out if stripped.equals(out) else stripped


def _shared_codes(
    source: pd.Series, target: pd.Series
) -> tuple[dict[str, npt.NDArray[np.intp]], pd.Index]:
    """Codes of both id columns over one set of distinct ids (-1 for missing).

    Each column is factorised on its own and the two small sets of distinct
    ids merged, which spares concatenating millions of strings.

    Examples
    --------
    >>> codes, uniques = _shared_codes(pd.Series(["A", "B", None]), pd.Series(["C", "A", "A"]))
    >>> codes["source"].tolist(), codes["target"].tolist(), uniques.tolist()
    ([0, 1, -1], [2, 0, 0], ['A', 'B', 'C'])
    """
    s_codes, s_uniques = pd.factorize(source, use_na_sentinel=True)
    t_codes, t_uniques = pd.factorize(target, use_na_sentinel=True)
    s_index = pd.Index(s_uniques, dtype="str")
    t_index = pd.Index(t_uniques, dtype="str")
    uniques = s_index.append(t_index[~t_index.isin(s_index)])
    remap = np.append(uniques.get_indexer(t_index), -1)  # position -1 keeps -1 (missing)
    return {"source": s_codes, "target": remap[t_codes]}, uniques


def _check_id_columns(
    frame: pd.DataFrame,
    cols: Mapping[str, str],
    out: dict[str, pd.Series],
    *,
    report: ValidationReport,
    npi: NpiMode,
    message: str,
    hint: str,
) -> tuple[pd.Series, dict[str, npt.NDArray[np.intp]]]:
    """Clean the source and target ids into `out`; report blanks, NPIs and self-referrals.

    One factorisation of both columns serves the NPI checks and the self-referral test.
    Returns the rows to exclude and the ids' shared codes (-1 for missing).
    """
    bad = pd.Series(False, index=frame.index)
    for key in ("source", "target"):
        out[key] = _clean_ids(frame[cols[key]])
    id_codes, uniques = _shared_codes(out["source"], out["target"])
    for key in ("source", "target"):
        factorized = (id_codes[key], uniques)
        bad |= check_ids(out[key], report=report, column=cols[key], npi=npi, factorized=factorized)
    same = (id_codes["source"] == id_codes["target"]) & (id_codes["source"] >= 0)
    self_ref = pd.Series(same, index=frame.index) & ~bad
    if self_ref.any():
        report.add(
            "self_referral",
            message,
            column=cols["source"],
            rows=frame.index[self_ref.to_numpy()],
            examples=out["source"][self_ref].drop_duplicates().head(3),
            excluded=True,
            hint=hint,
        )
        bad |= self_ref
    return bad, id_codes


def _duplicated_rows(frame: pd.DataFrame, *, keys: Sequence[str] | None = None) -> pd.Series:
    """``frame.duplicated(keep="first")``, in a fraction of the time and memory on large tables.

    Rows are hashed on the `keys` columns (all columns by default; numeric
    keys hash fastest), 8 bytes each; only rows whose hash repeats are
    compared in full, so neither a hash collision nor a column left out of
    `keys` can make two different rows equal.
    """
    hashes = pd.util.hash_pandas_object(
        frame if keys is None else frame[list(keys)], index=False
    ).to_numpy()
    ordered = np.sort(hashes)  # sorting 8-byte hashes beats a hash table of millions of them
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    candidates = np.isin(hashes, repeated)
    result = pd.Series(False, index=frame.index)
    if candidates.any():
        result[candidates] = frame.loc[candidates].duplicated(keep="first").to_numpy()
    return result


def _date_column(
    col: pd.Series, *, report: ValidationReport, column: str, date_format: str | None
) -> tuple[pd.Series, pd.Series]:
    """Dates of a date column (text or already datetime) and the mask of rows to exclude."""
    if not pd.api.types.is_datetime64_any_dtype(col):
        return parse_dates(
            col.astype("str").where(col.notna()),
            date_format=date_format,
            report=report,
            column=column,
        )
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_localize(None)  # keep the local calendar date
    dates = col.astype("datetime64[ns]")
    missing = dates.isna()
    if missing.any():
        report.add(
            "missing_date",
            "the date is missing",
            column=column,
            rows=col.index[missing.to_numpy()],
            excluded=True,
            hint="fill in the dates, or leave the date column out",
        )
    return dates, missing


def _mapped_columns(columns: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in columns.items())


# ----------------------------------------------------------------------------- events


def read_events(
    data: PathOrFrame,
    *,
    source_col: str | None = None,
    target_col: str | None = None,
    date_col: str | None = None,
    patient_col: str | None = None,
    amount_col: str | None = None,
    service_line_col: str | None = None,
    payer_col: str | None = None,
    date_format: str | None = None,
    npi: NpiMode = "auto",
    providers: pd.DataFrame | None = None,
    encoding: str = "auto",
    delimiter: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate referral events (one row per referral or hand-off).

    Parameters
    ----------
    data : path or pandas.DataFrame
        CSV (optionally compressed) or Parquet file, or a DataFrame.
    source_col, target_col, date_col, patient_col, amount_col : str, optional
        Column names in the input; when omitted, the common aliases are
        recognised (``referring_npi`` / ``from_npi`` / ``npi_from`` /
        ``source``; ``receiving_npi`` / ``to_npi`` / ``npi_to`` / ``target``;
        ``referral_date`` / ``service_date`` / ``date``; ``patient_id`` /
        ``member_id``; ...). Only source and target are required.
    service_line_col, payer_col : str, optional
        As above, for the optional ``service_line`` and ``payer`` columns.
    date_format : str, optional
        ``strftime`` format of the dates; detected when omitted.
    npi : bool or "auto", default "auto"
        Whether ids are NPIs (see :func:`referral_graph.validate.check_ids`).
    providers : pandas.DataFrame, optional
        A table from :func:`read_providers`; rows with ids missing from it are
        reported (and kept).
    encoding, delimiter : str, optional
        See :func:`read_table`.
    strict : bool, default False
        Raise :class:`~referral_graph.exceptions.ValidationError` on any
        warning instead of excluding or keeping the rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``target`` (strings) and, when present in the
        input, ``date`` (datetime64[ns]), ``patient_key`` (int64 pseudonymous
        code; the raw patient id is dropped), ``amount`` (float64),
        ``service_line``, ``payer``. The index holds the input's row numbers;
        ``attrs["report"]`` the :class:`~referral_graph.validate.ValidationReport`.

    Raises
    ------
    InputError, SchemaError, ValidationError

    Notes
    -----
    Rows are excluded (and counted, with the reason) when an id is missing,
    a declared NPI is invalid, the source equals the target (self-referral),
    the date is missing or unparsable, or the row exactly repeats another row
    that carries a patient id (without patient ids, identical rows are two
    referrals on the same day and are kept). A non-numeric or negative amount
    is set missing, the row kept.

    Examples
    --------
    >>> raw = pd.DataFrame({"from": ["A", "A", "B"], "to": ["B", "A", "C"],
    ...                     "when": ["2024-01-02", "2024-01-03", "2024-02-01"]})
    >>> ev = read_events(raw, source_col="from", target_col="to", date_col="when")
    >>> len(ev), ev.attrs["report"].excluded_by_reason
    (2, {'self_referral': 1})
    """
    raw = read_table(data, encoding=encoding, delimiter=delimiter)
    report = raw.report
    cols = _resolve_columns(
        raw,
        EVENT_ALIASES,
        {
            "source": source_col,
            "target": target_col,
            "date": date_col,
            "patient_id": patient_col,
            "amount": amount_col,
            "service_line": service_line_col,
            "payer": payer_col,
        },
        required=("source", "target"),
        hint_flags={"source": "--source-col", "target": "--target-col"},
    )
    logger.info("Reading events from %s with columns %s", report.name, _mapped_columns(cols))
    frame = raw.frame
    out: dict[str, pd.Series] = {}
    # The id codes also serve the duplicate test (integers hash far faster than strings).
    bad, id_codes = _check_id_columns(
        frame,
        cols,
        out,
        report=report,
        npi=npi,
        message="the source and target are the same provider (self-referral)",
        hint="self-referrals are not ties of the network; remove them or check the id columns",
    )
    if "date" in cols:
        dates, date_bad = _date_column(
            frame[cols["date"]], report=report, column=cols["date"], date_format=date_format
        )
        out["date"] = dates
        bad |= date_bad
    if "patient_id" in cols:
        # The raw ids stop here: only a per-load code is kept, to count distinct patients.
        # A blank id is a missing one (code -1), not one shared patient.
        patient_ids = _clean_ids(frame[cols["patient_id"]])
        out["patient_key"] = pseudonymize(patient_ids.mask(patient_ids == ""))
    if "amount" in cols:
        out["amount"], _ = parse_numbers(
            frame[cols["amount"]],
            report=report,
            column=cols["amount"],
            kind="amount",
            exclude=False,
            integer=False,
        )
    for key in ("service_line", "payer"):
        if key in cols:
            text = frame[cols[key]]
            if text.dtype != "str":
                text = text.astype("str").where(text.notna())
            out[key] = text
    events = pd.DataFrame(out, index=frame.index)
    # The rows with the ids as codes: equal exactly when the events' rows are equal. Candidate
    # duplicates are found on the numeric columns; only those rows are compared in full.
    coded = events.assign(source=id_codes["source"], target=id_codes["target"])
    numeric = [c for c in ("source", "target", "date", "patient_key", "amount") if c in coded]
    if "patient_key" in events:
        # Only rows that carry a patient id can be told to be double-loaded.
        has_patient = events["patient_key"] >= 0
        dup = _duplicated_rows(coded, keys=numeric) & ~bad & has_patient
        if dup.any():
            report.add(
                "duplicate_row",
                "the row repeats an earlier row exactly (same patient, providers and date)",
                column=", ".join(cols[k] for k in EVENT_ALIASES if k in cols),
                rows=frame.index[dup.to_numpy()],
                excluded=True,
                hint="remove double-loaded rows from the extract",
            )
            bad |= dup
    elif len(events) > 1:
        n_dup = int(_duplicated_rows(coded, keys=numeric).sum())
        if n_dup:
            report.add(
                "identical_rows",
                f"{n_dup:,} rows are identical to an earlier row; without patient ids they are "
                "kept as separate referrals on the same day",
                level="info",
            )
    events = events.loc[~bad.to_numpy()]
    if providers is not None:
        check_missing_providers(events, providers, report=report, columns=cols)
    report.raise_if_needed(strict=strict)
    _log_summary("events", events, report)
    events.attrs["report"] = report
    events.attrs["name"] = report.name
    return events


def _log_summary(kind: str, table: pd.DataFrame, report: ValidationReport) -> None:
    excluded = report.excluded_by_reason
    detail = ", ".join(f"{k}: {v:,}" for k, v in excluded.items())
    logger.info(
        "Loaded %s %s from %s (%s rows read, %s excluded%s)",
        f"{len(table):,}",
        kind,
        report.name,
        f"{report.rows_read:,}",
        f"{sum(excluded.values()):,}",
        f": {detail}" if detail else "",
    )


# ----------------------------------------------------------------------------- aggregated edges


def _detect_layout(columns: Sequence[str]) -> str:
    normed = {header_key(c) for c in columns}
    if {"pair_count", "bene_count"} <= normed:
        return "cms-pspp"
    if {"transaction_count", "patient_count"} <= normed:
        return "hop-teaming"
    return "generic"


def read_edges(
    data: PathOrFrame,
    *,
    layout: Literal["auto", "generic", "cms-pspp", "hop-teaming"] = "auto",
    source_col: str | None = None,
    target_col: str | None = None,
    weight_col: str | None = None,
    patient_col: str | None = None,
    period_col: str | None = None,
    npi: NpiMode = "auto",
    providers: pd.DataFrame | None = None,
    encoding: str = "auto",
    delimiter: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate an aggregated edge file (one row per tie, or tie and period).

    Parameters
    ----------
    data : path or pandas.DataFrame
        The edge file.
    layout : {"auto", "generic", "cms-pspp", "hop-teaming"}
        ``"cms-pspp"``: CMS Physician Shared Patient Patterns (``npi_from,
        npi_to, pair_count, bene_count, same_day_count``, with or without a
        header); ``"hop-teaming"``: CareSet Hop Teaming (``from_npi, to_npi,
        patient_count, transaction_count, average_day_wait, std_day_wait``);
        ``"generic"``: ``source, target, weight[, period]``. ``"auto"``
        recognises the layouts by their columns (a header-less file of five
        numeric columns is read as CMS).
    source_col, target_col, weight_col, patient_col, period_col : str, optional
        Override the layout's columns (for example ``weight_col="Total2014"``).
    npi, providers, encoding, delimiter, strict
        As in :func:`read_events`.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target``, ``referrals`` (int64, the layout's volume:
        ``pair_count``, ``transaction_count`` or ``weight``), ``patients``
        (Int64, when the layout has a patient count), ``month`` (when a
        period column is given), the layout's own count columns, and any
        other columns of the input: as numbers (Int64) when their names denote
        counts (:func:`referral_graph.privacy.is_count_name`, e.g. CMS's
        ``Same Day2014``), so that small-cell suppression applies to them;
        otherwise kept as they are. ``attrs["layout"]``
        names the layout used.

    Examples
    --------
    >>> raw = pd.DataFrame({"from_npi": ["1234567893"], "to_npi": ["1003033051"],
    ...                     "patient_count": ["76"], "transaction_count": ["134"],
    ...                     "average_day_wait": ["15.5"], "std_day_wait": ["3.2"]})
    >>> edges = read_edges(raw)
    >>> edges.attrs["layout"], int(edges["referrals"].iloc[0]), int(edges["patients"].iloc[0])
    ('hop-teaming', 134, 76)
    """
    if layout not in ("auto", "generic", "cms-pspp", "hop-teaming"):
        raise ParameterError(
            "The 'layout' parameter of read_edges must be one of 'auto', 'generic', "
            f"'cms-pspp', 'hop-teaming'. Got {layout!r} instead."
        )
    raw = read_table(data, encoding=encoding, delimiter=delimiter)
    cms_columns = EDGE_LAYOUTS["cms-pspp"]["columns"]
    headerless = any(i.check == "no_header" for i in raw.report.issues)
    chosen: str = layout
    if headerless and layout in ("auto", "cms-pspp") and len(raw.frame.columns) == len(cms_columns):
        # a RawTable from a file owns its frame: renaming does not touch the caller's data
        raw.frame.columns = pd.Index(cms_columns)
        raw.report.add(
            "no_header", "read as the CMS layout " + ", ".join(cms_columns), level="info"
        )
        chosen = "cms-pspp"
    report = raw.report
    if chosen == "auto":
        chosen = _detect_layout([str(c) for c in raw.frame.columns])
    layout_name = chosen
    spec: dict[str, Any] | None = EDGE_LAYOUTS.get(chosen)
    aliases = dict(EDGE_ALIASES)
    if spec is not None:
        aliases = {
            "source": (spec["source"], *EDGE_ALIASES["source"]),
            "target": (spec["target"], *EDGE_ALIASES["target"]),
            "weight": (spec["weight"],),
            "patients": (spec["patients"],),
            "period": EDGE_ALIASES["period"],
        }
    cols = _resolve_columns(
        raw,
        aliases,
        {
            "source": source_col,
            "target": target_col,
            "weight": weight_col,
            "patients": patient_col,
            "period": period_col,
        },
        required=("source", "target") if spec is None else ("source", "target", "weight"),
        hint_flags={"source": "--source-col", "target": "--target-col", "weight": "--weight-col"},
    )
    logger.info(
        "Reading %s edges from %s with columns %s", layout_name, report.name, _mapped_columns(cols)
    )
    frame = raw.frame
    out: dict[str, pd.Series] = {}
    bad, _ = _check_id_columns(
        frame,
        cols,
        out,
        report=report,
        npi=npi,
        message="the source and target are the same provider",
        hint="self-loops are not ties of the network; remove them",
    )
    if "weight" in cols:
        weight, wbad = parse_numbers(
            frame[cols["weight"]], report=report, column=cols["weight"], kind="count"
        )
        missing = weight.isna() & ~wbad
        if missing.any():
            report.add(
                "missing_count",
                "the count is missing",
                column=cols["weight"],
                rows=frame.index[missing.to_numpy()],
                excluded=True,
                hint="fill in the count, or choose another --weight-col",
            )
        bad |= wbad | missing
        out["referrals"] = weight
    else:
        report.add("no_weight", "no weight column: every tie counts 1 referral", level="info")
        out["referrals"] = pd.Series(1.0, index=frame.index)
    if "patients" in cols:
        patients, pbad = parse_numbers(
            frame[cols["patients"]], report=report, column=cols["patients"], kind="patient count"
        )
        bad |= pbad
        out["patients"] = patients
    if "period" in cols:
        period_raw = frame[cols["period"]]
        dates, dbad = parse_dates(
            period_raw.astype("str").where(period_raw.notna()), report=report, column=cols["period"]
        )
        out["month"] = dates.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")
        bad |= dbad
    counts: list[str] = [] if spec is None else list(spec["counts"])
    measures: list[str] = [] if spec is None else list(spec["measures"])
    volume = () if spec is None else (spec["weight"], spec["patients"])
    extra_numeric = [c for c in counts + measures if c not in volume]
    for c in extra_numeric:
        actual = next((x for x in frame.columns if header_key(x) == c), None)
        if actual is None:
            continue
        values, _ = parse_numbers(
            frame[actual],
            report=report,
            column=actual,
            kind="count" if c in counts else "value",
            exclude=False,
            integer=c in counts,
        )
        out[c] = values
    used = set(cols.values()) | {x for x in frame.columns if header_key(x) in out}
    edges = pd.DataFrame(out, index=frame.index)
    for c in frame.columns:
        if c in used or str(c) in edges.columns:
            continue
        if is_count_name(c):
            # Counts under the file's own names ("Same Day2014") are read as numbers, so that
            # small-cell suppression applies to them like to the layout's own counts.
            values, _ = parse_numbers(
                frame[c], report=report, column=str(c), kind="count", exclude=False
            )
            edges[str(c)] = values.round().astype("Int64")
        else:
            edges[str(c)] = frame[c]
    edges = edges.loc[~bad.to_numpy()].copy()
    edges["referrals"] = edges["referrals"].round().astype("int64")
    if "patients" in edges:
        edges["patients"] = edges["patients"].round().astype("Int64")
    if spec is not None:  # keep the layout's own names for its volume columns too
        for canonical, own in (("referrals", spec["weight"]), ("patients", spec["patients"])):
            if canonical in edges and own not in edges:
                edges[own] = edges[canonical]
    for c in extra_numeric:
        if c in edges and c in counts:
            edges[c] = edges[c].round().astype("Int64")
    tie_key = ["source", "target"] + (["month"] if "month" in edges else [])
    dup = edges.duplicated(subset=tie_key, keep="first")
    if dup.any():
        exact = edges.duplicated(keep="first")
        if exact.any():
            report.add(
                "duplicate_row",
                "the row repeats an earlier row exactly",
                column=", ".join(str(c) for c in frame.columns),
                rows=edges.index[exact.to_numpy()],
                excluded=True,
                hint="remove double-loaded rows",
            )
            edges = edges.loc[~exact.to_numpy()]
        conflict = edges.duplicated(subset=tie_key, keep=False)
        if conflict.any():
            report.add(
                "duplicate_tie",
                "the same tie appears on several rows with different counts; they are added up",
                rows=edges.index[conflict.to_numpy()],
                examples=(edges.loc[conflict, "source"] + " -> " + edges.loc[conflict, "target"])
                .drop_duplicates()
                .head(3),
                hint="give one row per tie (and period), or add a --period-col",
            )
            edges = _sum_duplicate_ties(edges, tie_key, measures=measures)
    if providers is not None:
        check_missing_providers(edges, providers, report=report, columns=cols)
    report.raise_if_needed(strict=strict)
    _log_summary(f"{layout_name} edges", edges, report)
    edges.attrs["report"] = report
    edges.attrs["layout"] = layout_name
    edges.attrs["name"] = report.name
    return edges


def _sum_duplicate_ties(
    edges: pd.DataFrame, key: list[str], *, measures: Sequence[str] = ()
) -> pd.DataFrame:
    """Add up the counts of rows of one tie; waits (`measures`) are combined, not added.

    ``average_*`` measures become the mean weighted by ``referrals``; ``std_*``
    measures the pooled standard deviation around that mean.
    """
    measure_cols = [c for c in measures if c in edges.columns]
    numeric = [
        c
        for c in edges.columns
        if c not in key and c not in measure_cols and pd.api.types.is_numeric_dtype(edges[c])
    ]
    other = [
        c for c in edges.columns if c not in key and c not in numeric and c not in measure_cols
    ]
    agg: dict[str, Any] = {c: "sum" for c in numeric}
    agg.update({c: "first" for c in other})
    positions = pd.Series(np.arange(len(edges)), index=edges.index)
    groups = [edges[k] for k in key]
    first = positions.groupby(groups, sort=False).first()
    summed = edges.groupby(key, sort=False, as_index=False).agg(agg)
    if measure_cols:
        weight = edges["referrals"].astype("float64")
        means = [c for c in measure_cols if not c.startswith("std")]
        mean_of: dict[str, pd.Series] = {}
        for c in means:
            num = (edges[c] * weight).groupby(groups, sort=False).sum(min_count=1)
            den = weight.where(edges[c].notna()).groupby(groups, sort=False).sum(min_count=1)
            mean_of[c] = num / den
            summed[c] = mean_of[c].to_numpy()
        for c in measure_cols:
            if c in mean_of:
                continue
            partner = c.replace("std", "average", 1)
            if partner not in mean_of:
                summed[c] = np.nan
                continue
            # pooled variance: E[x^2] - E[x]^2 over all referrals of the tie
            second = edges[c] ** 2 + edges[partner] ** 2
            num = (second * weight).groupby(groups, sort=False).sum(min_count=1)
            den = weight.where(second.notna()).groupby(groups, sort=False).sum(min_count=1)
            variance = (num / den - mean_of[partner] ** 2).clip(lower=0)
            summed[c] = np.sqrt(variance.to_numpy(dtype="float64"))
    summed.index = edges.index[first.to_numpy()]
    return summed[list(edges.columns)]


# ----------------------------------------------------------------------------- activities

ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "activity_date", "visit_date", "contact_date"),
    "provider": ("provider", "provider_id", "npi", "id", "referrer", "source"),
    "liaison": ("liaison", "rep", "owner", "staff", "user"),
    "kind": ("kind", "type", "activity", "activity_type", "channel"),
}


def read_activities(
    data: PathOrFrame,
    *,
    date_col: str | None = None,
    provider_col: str | None = None,
    liaison_col: str | None = None,
    kind_col: str | None = None,
    date_format: str | None = None,
    encoding: str = "auto",
    delimiter: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate an outreach activity log (visits, calls, events, lunches).

    Parameters
    ----------
    data : path or pandas.DataFrame
        One row per activity.
    date_col, provider_col, liaison_col, kind_col : str, optional
        Column names; aliases are recognised (``activity_date``, ``provider_id``,
        ``npi``, ``rep``, ``type``, ...). Date and provider are required.
    date_format, encoding, delimiter, strict
        As in :func:`read_events`.

    Returns
    -------
    pandas.DataFrame
        ``date`` (datetime64[ns]), ``provider`` (str), ``liaison`` and
        ``kind`` (str, lower-cased) when present.

    Examples
    --------
    >>> log = pd.DataFrame({"visit_date": ["2024-05-02"], "npi": ["1234567893"],
    ...                     "rep": ["A. Lee"], "type": ["Visit"]})
    >>> read_activities(log)[["provider", "kind"]].values.tolist()
    [['1234567893', 'visit']]
    """
    raw = read_table(data, encoding=encoding, delimiter=delimiter)
    report = raw.report
    cols = _resolve_columns(
        raw,
        ACTIVITY_ALIASES,
        {"date": date_col, "provider": provider_col, "liaison": liaison_col, "kind": kind_col},
        required=("date", "provider"),
        hint_flags={"date": "--activity-date-col", "provider": "--activity-provider-col"},
    )
    frame = raw.frame
    out: dict[str, pd.Series] = {}
    out["provider"] = _clean_ids(frame[cols["provider"]])
    bad = check_ids(out["provider"], report=report, column=cols["provider"], npi=False)
    dates, date_bad = _date_column(
        frame[cols["date"]], report=report, column=cols["date"], date_format=date_format
    )
    out["date"] = dates
    bad |= date_bad
    for key in ("liaison", "kind"):
        if key in cols:
            values = frame[cols[key]].astype("str").where(frame[cols[key]].notna()).str.strip()
            out[key] = values.str.lower() if key == "kind" else values
    activities = pd.DataFrame(out, index=frame.index)[
        [k for k in ("date", "provider", "liaison", "kind") if k in out]
    ]
    activities = activities.loc[~bad.to_numpy()]
    report.raise_if_needed(strict=strict)
    _log_summary("activities", activities, report)
    activities.attrs["report"] = report
    activities.attrs["name"] = report.name
    return activities


# ----------------------------------------------------------------------------- providers

_TRUE = {"true", "t", "yes", "y", "1", "ours", "in", "in_network"}
_FALSE = {"false", "f", "no", "n", "0", "out", "out_of_network", ""}


def read_providers(
    data: PathOrFrame,
    *,
    id_col: str | None = None,
    name_col: str | None = None,
    taxonomy_col: str | None = None,
    specialty_col: str | None = None,
    organization_col: str | None = None,
    taxonomy: PathOrFrame | None = None,
    npi: NpiMode = "auto",
    encoding: str = "auto",
    delimiter: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate the providers table; label specialties from NUCC codes.

    Parameters
    ----------
    data : path or pandas.DataFrame
        One row per provider.
    id_col, name_col, taxonomy_col, specialty_col, organization_col : str, optional
        Column names in the input; common aliases are recognised (``npi``,
        ``provider_id``; ``primary_taxonomy_code``; ``organization_name``,
        ``practice``; ``latitude``/``longitude``; ...).
    taxonomy : path or pandas.DataFrame, optional
        A NUCC taxonomy code set (:func:`referral_graph.taxonomy.read_taxonomy`);
        without it, a small built-in subset of common codes labels
        specialties.
    npi, encoding, delimiter, strict
        As in :func:`read_events`.

    Returns
    -------
    pandas.DataFrame
        ``id`` (unique strings) and, where known, ``name``, ``taxonomy_code``,
        ``specialty``, ``classification``, ``grouping``, ``organization``,
        ``city``, ``state``, ``zip`` (strings), ``lat``, ``lon`` (float64),
        ``in_network`` (boolean); other columns are kept as read.

    Examples
    --------
    >>> raw = pd.DataFrame({"npi": ["1234567893"], "primary_taxonomy_code": ["207RC0000X"]})
    >>> read_providers(raw)[["id", "specialty"]].iloc[0].tolist()
    ['1234567893', 'Cardiovascular Disease']
    """
    from referral_graph import taxonomy as _taxonomy

    raw = read_table(data, encoding=encoding, delimiter=delimiter)
    report = raw.report
    cols = _resolve_columns(
        raw,
        PROVIDER_ALIASES,
        {
            "id": id_col,
            "name": name_col,
            "taxonomy_code": taxonomy_col,
            "specialty": specialty_col,
            "organization": organization_col,
        },
        required=("id",),
        hint_flags={"id": "--provider-id-col"},
    )
    frame = raw.frame
    out: dict[str, pd.Series] = {}
    out["id"] = _clean_ids(frame[cols["id"]])
    bad = check_ids(out["id"], report=report, column=cols["id"], npi=npi)
    for key in ("name", "taxonomy_code", "specialty", "organization", "city", "state", "zip"):
        if key in cols:
            values = frame[cols[key]]
            out[key] = values.astype("str").where(values.notna()).str.strip().astype("str")
    for key, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        if key in cols:
            values, _ = parse_numbers(
                frame[cols[key]],
                report=report,
                column=cols[key],
                kind="coordinate",
                exclude=False,
                integer=False,
                signed=True,
            )
            out_of_range = (values < low) | (values > high)
            if out_of_range.any():
                report.add(
                    "coordinate_range",
                    f"the {key} is outside [{low:g}, {high:g}] (the value is treated as missing)",
                    column=cols[key],
                    rows=frame.index[out_of_range.to_numpy()],
                    examples=values[out_of_range].head(3),
                    hint="check lat/lon order",
                )
                values = values.mask(out_of_range)
            out[key] = values
    if "in_network" in cols:
        out["in_network"] = _parse_bool(
            frame[cols["in_network"]], report=report, column=cols["in_network"]
        )
    providers = pd.DataFrame(out, index=frame.index)
    used = set(cols.values())
    for c in frame.columns:
        if c not in used and str(c) not in providers.columns:
            providers[str(c)] = frame[c]
    providers = providers.loc[~bad.to_numpy()]
    dup = providers["id"].duplicated(keep="first")
    if dup.any():
        exact = providers.duplicated(keep="first")
        if exact.any():
            report.add(
                "duplicate_row",
                "the provider row repeats an earlier row exactly",
                column=cols["id"],
                rows=providers.index[exact.to_numpy()],
                excluded=True,
                hint="remove the repeated rows",
            )
        conflict = dup & ~exact
        if conflict.any():
            report.add(
                "duplicate_id",
                "the id appears on an earlier row with other details; the first row is used",
                column=cols["id"],
                rows=providers.index[conflict.to_numpy()],
                examples=providers.loc[conflict, "id"].head(3),
                excluded=True,
                hint="keep one row per provider",
            )
        providers = providers.loc[~dup.to_numpy()]
    code_set = (
        _taxonomy.read_taxonomy(taxonomy) if taxonomy is not None else _taxonomy.builtin_taxonomy()
    )
    if "taxonomy_code" in providers:
        unmatched = _taxonomy.unmatched_codes(providers, code_set, code_col="taxonomy_code")
        if len(unmatched):
            report.add(
                "unknown_taxonomy",
                f"{len(unmatched):,} taxonomy code(s) are not in the "
                + ("NUCC code set given" if taxonomy is not None else "built-in subset of codes"),
                column=cols["taxonomy_code"],
                count=int(unmatched.iloc[:, 1].sum()),
                examples=unmatched.iloc[:, 0].head(3),
                level="warning" if taxonomy is not None else "info",
                hint="pass the full NUCC code set (CLI: --taxonomy nucc_taxonomy.csv)",
            )
        providers = _taxonomy.join_taxonomy(providers, code_set, code_col="taxonomy_code")
    report.raise_if_needed(strict=strict)
    _log_summary("providers", providers, report)
    providers.attrs["report"] = report
    providers.attrs["name"] = report.name
    return providers


def _parse_bool(values: pd.Series, *, report: ValidationReport, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("str").where(values.notna()).str.strip().str.lower()
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE).to_numpy()] = True
    result[text.isin(_FALSE).to_numpy()] = False
    unknown = text.notna() & ~text.isin(_TRUE | _FALSE)
    if unknown.any():
        report.add(
            "not_boolean",
            "the value is not yes/no (treated as missing)",
            column=column,
            rows=values.index[unknown.to_numpy()],
            examples=values[unknown].head(3),
            hint="use true/false, yes/no or 1/0",
        )
    return result


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


def _write_csv_duckdb(table: pd.DataFrame, path: Path) -> bool:
    """Write `table` as CSV with DuckDB, as ``DataFrame.to_csv`` would; False if it cannot.

    DuckDB's writer is several times faster than pandas' on million-row tables.
    The text matches pandas' (``date_format="%Y-%m-%d"``, booleans as
    ``True`` / ``False``, minimal quoting), except that an empty string is
    written as ``""`` rather than like a missing value. Tables DuckDB cannot
    scan (non-text column names, mixed Python objects) return False.
    """
    import duckdb

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
        with duckdb.connect() as con:
            con.register("_table", table)
            con.execute(
                f"COPY (SELECT {', '.join(select)} FROM _table) TO '{target}' "
                "(FORMAT csv, HEADER, DELIMITER ',')"
            )
    except duckdb.Error as exc:
        logger.debug("DuckDB could not write %s (%s); pandas writes it", path.name, exc)
        return False
    return True


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table atomically as CSV or Parquet, chosen by the extension.

    The index is not written. CSV is written by Arrow's multi-threaded writer
    (pandas' for columns Arrow cannot hold): dates as ``YYYY-MM-DD``, missing
    values as empty fields, fields quoted only where needed. Returns the path
    written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> table = pd.DataFrame({"a": [1, 2], "day": pd.to_datetime(["2024-01-31", None]),
    ...                       "note": ["x, y", None]})
    >>> p = write_table(table, pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> print(p.read_text(), end="")
    a,day,note
    1,2024-01-31,"x, y"
    2,,
    """
    final = Path(os.fspath(path))
    suffix = final.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ParameterError(
            f"The 'path' parameter of write_table must end in .csv or .parquet. Got {final.name!r}."
        )
    clean = table.copy(deep=False)
    clean.attrs = {}
    with atomic_path(final) as tmp:
        if suffix == ".parquet":
            clean.to_parquet(tmp, index=False)
        elif not _write_csv_duckdb(clean, tmp):
            clean.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    logger.info("Wrote %s rows to %s", f"{len(table):,}", final)
    return final
