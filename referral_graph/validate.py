"""Validation in one place: every problem in one report.

Readers in :mod:`referral_graph.io` call the checks here. Each check looks
at a whole column at once and records an :class:`Issue` that names the
file, the column, the rows (spreadsheet row numbers for CSV files: the
header is row 1; 1-based data rows for Parquet; index labels for
DataFrames), a few example values and how to fix the input.

Policy
------
* A problem that makes the table unusable (a missing required column, an
  empty file) raises at once.
* A row-level problem excludes the offending rows (counted, with the reason)
  or keeps them with a warning, as each check documents; nothing is dropped
  silently. ``strict=True`` turns every warning into a
  :class:`~referral_graph.exceptions.ValidationError`.
* Patient identifiers are never quoted in a message.

Examples
--------
>>> report = ValidationReport(name="e.csv", rows_read=3)
>>> issue = report.add("self_referral", "self-referral", column="src",
...                    rows=pd.Index([4]), examples=["1234567893"], excluded=True,
...                    hint="check ids")
>>> report.rows_excluded
1
>>> print(report.issues[0])
e.csv, column 'src', row 4: 1 row excluded: self-referral (e.g. '1234567893'). Fix: check ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._checks import NUMBER_HINTS, decimal_point_text, refuse_decimal_commas
from referral_graph.exceptions import SchemaError, ValidationError
from referral_graph.npi import npi_flags

__all__ = [
    "Issue",
    "ValidationReport",
    "check_ids",
    "check_missing_providers",
    "parse_dates",
    "parse_numbers",
    "parse_periods",
    "restore_id_column",
    "restore_ids",
]

logger = logging.getLogger(__name__)

Level = Literal["error", "warning", "info"]

# Spreadsheet serial dates: days since 1899-12-30 (Excel's and LibreOffice's epoch), taken
# as dates when they fall between 1950 and 2100 (other numbers are not dates).
_EXCEL_SERIAL = r"\d{5}(?:\.\d+)?"
_EXCEL_SERIAL_RANGE = (18264, 73051)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")

# Dates outside these years are read as unreadable: no referral happened then.
_FIRST_DATE = pd.Timestamp("1900-01-01")
_LAST_DATE = pd.Timestamp("2199-12-31")

#: How many row numbers and example values an issue keeps.
MAX_ROWS_SHOWN = 10
MAX_EXAMPLES = 3


def _format_rows(rows: Sequence[object], count: int, row_label: str) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    more = f" (+{count - len(rows[:MAX_ROWS_SHOWN]):,} more)" if count > MAX_ROWS_SHOWN else ""
    if max(count, len(rows)) > 1:
        row_label += "es" if row_label.endswith("x") else "s"
    return f"{row_label} {shown}{more}"


@dataclass(frozen=True)
class Issue:
    """One problem found in one column of one table.

    Attributes
    ----------
    check : str
        Machine-readable name of the check (``"unparsable_date"``, ...).
    level : {"error", "warning", "info"}
        ``"error"`` stops the load; ``"warning"`` is reported (and raised when
        ``strict=True``); ``"info"`` is a note (a BOM stripped, a delimiter
        detected).
    message : str
        What is wrong.
    name : str
        The file name, or ``"<DataFrame>"``.
    column : str or None
        The column as it is named in the input.
    rows : tuple
        The first row numbers concerned (see the module notes).
    count : int
        How many rows are concerned.
    examples : tuple of str
        A few offending values (never patient identifiers).
    excluded : bool
        Whether the rows were excluded from the result.
    hint : str
        How to fix the input.
    """

    check: str
    level: Level
    message: str
    name: str
    column: str | None = None
    rows: tuple[object, ...] = ()
    count: int = 0
    examples: tuple[str, ...] = ()
    excluded: bool = False
    hint: str = ""
    row_label: str = "row"

    def __str__(self) -> str:
        where = self.name
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.rows:
            where += ", " + _format_rows(self.rows, self.count, self.row_label)
        what = self.message
        if self.count and self.excluded:
            what = f"{self.count:,} row{'s' if self.count > 1 else ''} excluded: {what}"
        elif self.count and self.level != "info":
            what = f"{self.count:,} row{'s' if self.count > 1 else ''} kept: {what}"
        if self.examples:
            what += " (e.g. " + ", ".join(repr(e) for e in self.examples) + ")"
        text = f"{where}: {what}."
        if self.hint:
            text += f" Fix: {self.hint}."
        return text


@dataclass
class ValidationReport:
    """Everything found while reading and checking one table.

    Attributes
    ----------
    name : str
        The file name, or ``"<DataFrame>"``.
    rows_read : int
        Data rows read from the input.
    issues : list of Issue
        Every problem and note, in the order found.
    row_label : str
        How rows are named in messages (``"row"`` or ``"index"``).
    log : bool, default True
        Log each issue as it is added; a scratch report whose issues are not
        news (counts of distinct values, message templates) passes False.
    columns : dict of str to str
        The input column read for each role (``{"source": "ref_doc", ...}``), by
        alias or as named; empty for a table whose columns are not resolved by role.
    roles : tuple of str
        Every role the reader looked for, found or not (see
        :meth:`describe_columns`).
    scanned : str or None
        What was read, in words, where ``rows_read`` does not count the input's rows (an
        NPPES file scanned for the network's NPIs only); None otherwise.
    """

    name: str
    rows_read: int = 0
    issues: list[Issue] = field(default_factory=list)
    row_label: str = "row"
    log: bool = field(default=True, repr=False, compare=False)
    columns: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    roles: tuple[str, ...] = field(default=(), repr=False, compare=False)
    scanned: str | None = field(default=None, repr=False, compare=False)

    def note_columns(self, columns: Mapping[str, str], roles: Iterable[str]) -> None:
        """Record the input column used for each role, and every role looked for."""
        self.roles = tuple(dict.fromkeys([*roles, *columns]))
        self.columns = {r: columns[r] for r in self.roles if r in columns}

    def describe_columns(self) -> str | None:
        """The column → role mapping used, and the roles not found; None if not recorded.

        Examples
        --------
        >>> r = ValidationReport(name="x.csv")
        >>> r.note_columns({"source": "ref_doc", "target": "to_npi"}, ["source", "target", "date"])
        >>> print(r.describe_columns())
        Columns of x.csv: 'ref_doc' → source, 'to_npi' → target; not found: date.
        """
        if not self.roles:
            return None
        used = ", ".join(f"{column!r} → {role}" for role, column in self.columns.items())
        text = f"Columns of {self.name}: {used or 'none'}"
        missing = [r for r in self.roles if r not in self.columns]
        if missing:
            text += "; not found: " + ", ".join(missing)
        return text + "."

    def add(
        self,
        check: str,
        message: str,
        *,
        level: Level = "warning",
        column: str | None = None,
        rows: pd.Index | Sequence[object] = (),
        count: int | None = None,
        examples: Iterable[object] = (),
        excluded: bool = False,
        hint: str = "",
    ) -> Issue:
        """Record an issue and log it; return it."""
        rows_list = list(rows)
        issue = Issue(
            check=check,
            level=level,
            message=message,
            name=self.name,
            column=column,
            rows=tuple(_native(r) for r in rows_list[:MAX_ROWS_SHOWN]),
            count=len(rows_list) if count is None else count,
            examples=tuple(str(e) for e in list(examples)[:MAX_EXAMPLES]),
            excluded=excluded,
            hint=hint,
            row_label=self.row_label,
        )
        self.issues.append(issue)
        if self.log:
            log = {"error": logger.error, "warning": logger.warning, "info": logger.info}[level]
            log("%s", issue)
        return issue

    @property
    def rows_excluded(self) -> int:
        """Rows excluded, over all checks (a row failing two checks counts twice)."""
        return sum(i.count for i in self.issues if i.excluded)

    @property
    def excluded_by_reason(self) -> dict[str, int]:
        """Rows excluded per check."""
        out: dict[str, int] = {}
        for i in self.issues:
            if i.excluded:
                out[i.check] = out.get(i.check, 0) + i.count
        return out

    @property
    def errors(self) -> list[Issue]:
        """Issues at level ``"error"``."""
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues at level ``"warning"``."""
        return [i for i in self.issues if i.level == "warning"]

    def __str__(self) -> str:
        head = (
            f"Validation of {self.name}: {self.rows_read:,} "
            f"row{'s' if self.rows_read != 1 else ''} read"
        )
        if self.rows_excluded:
            head += f", {self.rows_excluded:,} excluded"
        if not self.issues:
            return head + ", no problems found."
        lines = [head + f", {len(self.errors)} errors, {len(self.warnings)} warnings:"]
        lines += [f"  [{i.level}] {i}" for i in self.issues]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The issues as a table (one row per issue).

        Examples
        --------
        >>> ValidationReport(name="x.csv").to_frame().columns.tolist()[:4]
        ['file', 'check', 'level', 'column']
        """
        cols = ["file", "check", "level", "column", "count", "excluded", "rows", "examples"]
        cols += ["message", "hint"]
        return pd.DataFrame(
            [
                {
                    "file": i.name,
                    "check": i.check,
                    "level": i.level,
                    "column": i.column,
                    "count": i.count,
                    "excluded": i.excluded,
                    "rows": ", ".join(str(r) for r in i.rows),
                    "examples": ", ".join(i.examples),
                    "message": i.message,
                    "hint": i.hint,
                }
                for i in self.issues
            ],
            columns=cols,
        )

    def raise_if_needed(self, *, strict: bool = False) -> None:
        """Raise :class:`ValidationError` on errors, or on warnings when `strict`.

        Examples
        --------
        >>> r = ValidationReport(name="x.csv")
        >>> _ = r.add("blank", "blank ids", rows=[2], excluded=True)
        >>> r.raise_if_needed()  # warnings alone do not raise
        >>> r.raise_if_needed(strict=True)
        Traceback (most recent call last):
        ...
        referral_graph.exceptions.ValidationError: Validation of x.csv: ...
        """
        failing = self.errors + (self.warnings if strict else [])
        if failing:
            raise ValidationError(str(self), report=self)

    def raise_if_nothing_left(self, kept: int) -> None:
        """Raise :class:`ValidationError` when rows were read but none is left.

        Examples
        --------
        >>> r = ValidationReport(name="x.csv", rows_read=2)
        >>> _ = r.add("missing_date", "the date is missing", rows=[2, 3], excluded=True)
        >>> r.raise_if_nothing_left(0)
        Traceback (most recent call last):
        ...
        referral_graph.exceptions.ValidationError: x.csv: all 2 rows were excluded; nothing is...
        """
        if kept == 0 and self.rows_read > 0:
            raise ValidationError(
                f"{self.name}: "
                + (
                    "its only row was"
                    if self.rows_read == 1
                    else f"all {self.rows_read:,} rows were"
                )
                + " excluded; nothing is left to build a network from. The reasons:\n"
                + str(self),
                report=self,
            )


def _native(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


# ----------------------------------------------------------------------------- checks


def parse_dates(
    values: pd.Series,
    *,
    date_format: str | None = None,
    report: ValidationReport,
    column: str,
) -> tuple[pd.Series, pd.Series]:
    """Parse a string column of dates; return the dates and a mask of bad rows.

    Each distinct string is parsed once. Without `date_format`, ISO 8601 is
    tried first, then ``%m/%d/%Y``, ``%d/%m/%Y``, ``%Y%m%d`` and
    ``%d.%m.%Y``; the format that parses most values wins. A column that
    reads equally well month-first and day-first (no day above 12) is an
    error that asks for `date_format`. Numbers that are spreadsheet serial
    dates (days since 1899-12-30, between 1950 and 2100) are read as dates,
    with a note.

    Rows with a missing date and rows with an unparsable one are reported
    (as two issues) and flagged in the returned mask for exclusion.

    Parameters
    ----------
    values : pandas.Series
        The raw strings.
    date_format : str, optional
        A ``strftime`` format; skips detection.
    report : ValidationReport
        Where issues go.
    column : str
        The column's name in the input.

    Returns
    -------
    dates : pandas.Series of datetime64[ns]
        The dates (NaT where missing or unreadable).
    bad : pandas.Series of bool
        True where a value was given but could not be read.

    Raises
    ------
    SchemaError
        The dates could be month-first or day-first and `date_format` is not given.

    Examples
    --------
    >>> r = ValidationReport(name="e.csv")
    >>> d, bad = parse_dates(pd.Series(["2024-01-05", "n/a", None], index=[2, 3, 4]),
    ...                      report=r, column="date")
    >>> bad.tolist(), [i.check for i in r.issues]
    ([False, True, True], ['missing_date', 'unparsable_date'])
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = pd.Series(np.asarray(uniques, dtype=object)).str.strip()
    if date_format is not None:
        parsed = pd.to_datetime(uniq, format=date_format, errors="coerce")
        chosen = date_format
    else:
        candidates = ["ISO8601", "%m/%d/%Y", "%d/%m/%Y", "%Y%m%d", "%d.%m.%Y"]
        best: pd.Series | None = None
        best_ok = -1
        chosen = "ISO8601"
        ok_by_format: dict[str, int] = {}
        for fmt in candidates:
            attempt = pd.to_datetime(uniq, format=fmt, errors="coerce")
            ok = int(attempt.notna().sum())
            ok_by_format[fmt] = ok
            if ok > best_ok:
                best, best_ok, chosen = attempt, ok, fmt
            if ok == len(uniq):
                break
        assert best is not None
        parsed = best
        if chosen in ("%m/%d/%Y", "%d/%m/%Y"):
            # the loop stops at the first format that reads everything: try the other order too
            for fmt in ("%m/%d/%Y", "%d/%m/%Y"):
                if fmt not in ok_by_format:
                    attempt = pd.to_datetime(uniq, format=fmt, errors="coerce")
                    ok_by_format[fmt] = int(attempt.notna().sum())
        if (
            chosen in ("%m/%d/%Y", "%d/%m/%Y")
            and ok_by_format["%d/%m/%Y"] == ok_by_format["%m/%d/%Y"]
        ):
            examples = ", ".join(repr(v) for v in uniq.head(MAX_EXAMPLES))
            raise SchemaError(
                f"{report.name}, column {column!r}: the dates could be month-first or "
                f"day-first (e.g. {examples}): no day is above 12. Pass "
                "date_format='%m/%d/%Y' for month-first or date_format='%d/%m/%Y' for "
                "day-first (CLI: --date-format)."
            )
        serial = parsed.isna() & uniq.str.fullmatch(_EXCEL_SERIAL).fillna(False)
        if serial.any():
            days = pd.to_numeric(uniq[serial], errors="coerce")
            plausible = days.between(*_EXCEL_SERIAL_RANGE)
            parsed = parsed.copy()
            parsed[days.index[plausible]] = _EXCEL_EPOCH + pd.to_timedelta(
                days[plausible].to_numpy(), unit="D"
            )
            if plausible.any():
                example = uniq[days.index[plausible][0]]
                as_date = parsed[days.index[plausible][0]].strftime("%Y-%m-%d")
                report.add(
                    "excel_serial_date",
                    f"dates written as spreadsheet serial day numbers (e.g. {example!r} = "
                    f"{as_date}) were read as such",
                    level="info",
                    column=column,
                    hint="format the column as dates in the spreadsheet to see them as dates",
                )
            if chosen == "ISO8601" and int(parsed.notna().sum()) == int(plausible.sum()):
                chosen = "spreadsheet serial day numbers"
        if chosen not in ("ISO8601", "spreadsheet serial day numbers"):
            report.add(
                "date_format", f"dates read with format {chosen!r}", level="info", column=column
            )
    # a year such as 0 or 9999 parses but is no referral date (and overflows nanoseconds)
    plausible = (parsed >= _FIRST_DATE) & (parsed <= _LAST_DATE)
    parsed = parsed.where(plausible).astype("datetime64[ns]")
    return _by_row(
        values,
        codes,
        parsed.to_numpy(),
        report=report,
        column=column,
        what="date",
        missing_hint="fill in the dates, or leave the date column out to build an undated graph",
        unreadable=(
            f"the date cannot be read (expected {chosen})",
            "use ISO dates (YYYY-MM-DD) or pass date_format= (CLI: --date-format)",
        ),
    )


_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})\s*[-/ ]?\s*[Qq]([1-4])|[Qq]([1-4])\s*[-/ ]?\s*(\d{4})")
_MONTH = re.compile(r"(\d{4})[-/](\d{1,2})")


def parse_periods(
    values: pd.Series, *, report: ValidationReport, column: str
) -> tuple[pd.Series, pd.Series]:
    """Parse a period column (years, quarters, months or dates) into the first month of each.

    ``2014`` is a year, ``2024Q1`` / ``2024-Q1`` / ``Q1 2024`` a quarter, ``2024-03`` /
    ``2024/03`` a month; anything else is read as dates (:func:`parse_dates`). The
    column's resolution (the coarsest found) is noted in the report, because the
    monthly panel places a year's or a quarter's counts at its first month.

    Returns
    -------
    months : pandas.Series of datetime64[ns]
        The first day of each period's first month (NaT where unreadable).
    bad : pandas.Series of bool
        True where a value was given but could not be read.

    Examples
    --------
    >>> r = ValidationReport(name="e.csv")
    >>> months, bad = parse_periods(pd.Series(["2024Q1", "2024-Q3", "2024-05"]), report=r,
    ...                             column="quarter")
    >>> months.dt.strftime("%Y-%m").tolist(), bad.tolist(), r.issues[0].check
    (['2024-01', '2024-07', '2024-05'], [False, False, False], 'period_resolution')
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object)).astype("str").str.strip()
    firsts: list[Any] = []
    kind_of: list[str] = []
    for value in text:
        if m := _YEAR.fullmatch(value):
            firsts.append(pd.Timestamp(int(m.group(1)), 1, 1))
            kind_of.append("year")
        elif m := _QUARTER.fullmatch(value):
            year = int(m.group(1) or m.group(4))
            quarter = int(m.group(2) or m.group(3))
            firsts.append(pd.Timestamp(year, 3 * quarter - 2, 1))
            kind_of.append("quarter")
        elif (m := _MONTH.fullmatch(value)) and 1 <= int(m.group(2)) <= 12:
            firsts.append(pd.Timestamp(int(m.group(1)), int(m.group(2)), 1))
            kind_of.append("month")
        else:
            firsts.append(pd.NaT)
            kind_of.append("")
    parsed = pd.Series(pd.to_datetime(firsts), index=text.index).astype("datetime64[ns]")
    kinds = pd.Series(kind_of, index=text.index, dtype=object)
    rest = kinds == ""
    if rest.any():  # dates (or unreadable): the date rules, the rows counted here
        scratch = ValidationReport(name=report.name, log=False)  # distinct values: no news
        dates, _ = parse_dates(text[rest], report=scratch, column=column)
        parsed[rest] = dates.dt.to_period("M").dt.to_timestamp()
        kinds[rest & parsed.notna()] = "month"
    found = set(kinds[parsed.notna()])
    coarsest = next((k for k in ("year", "quarter") if k in found), None)
    if coarsest is not None:
        report.add(
            "period_resolution",
            f"the periods are {coarsest}s: each {coarsest}'s counts are placed at its first "
            "month, so measures over time (trend, recency, at-risk ties) work at that "
            "resolution",
            level="info",
            column=column,
            hint="give monthly periods (2024-03) for monthly measures",
        )
    return _by_row(
        values,
        codes,
        parsed.to_numpy(),
        report=report,
        column=column,
        what="period",
        missing_hint="fill in the periods, or leave the period column out",
        unreadable=(
            "the period cannot be read (expected a year 2014, a quarter 2024Q1, a month "
            "2024-03 or a date)",
            "write the periods in one of those forms",
        ),
    )


def _by_row(
    values: pd.Series,
    codes: npt.NDArray[np.intp],
    parsed: npt.NDArray[np.datetime64],
    *,
    report: ValidationReport,
    column: str,
    what: str,
    missing_hint: str,
    unreadable: tuple[str, str],
) -> tuple[pd.Series, pd.Series]:
    """The parsed distinct values spread back over the rows; missing and unreadable reported.

    `codes` are the rows' codes into the distinct values (-1 for missing), `parsed` the
    distinct values parsed (NaT where unreadable); `unreadable` the message and hint.
    """
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    present = codes >= 0
    out[present] = parsed[codes[present]]
    result = pd.Series(out, index=values.index, name=values.name)
    missing = pd.Series(~present, index=values.index)
    bad = pd.Series(present & np.isnat(out), index=values.index)
    if missing.any():
        report.add(
            f"missing_{what}",
            f"the {what} is missing",
            column=column,
            rows=values.index[missing.to_numpy()],
            excluded=True,
            hint=missing_hint,
        )
    if bad.any():
        report.add(
            "unparsable_" + what,
            unreadable[0],
            column=column,
            rows=values.index[bad.to_numpy()],
            examples=values[bad].drop_duplicates().head(MAX_EXAMPLES).tolist(),
            excluded=True,
            hint=unreadable[1],
        )
    return result, missing | bad


def parse_numbers(
    values: pd.Series,
    *,
    report: ValidationReport,
    column: str,
    kind: str = "count",
    exclude: bool = True,
    integer: bool = True,
    signed: bool = False,
    decimal: str = ".",
) -> tuple[pd.Series, pd.Series]:
    """Parse a numeric column; flag non-numeric and (unless `signed`) negative values.

    Missing values are allowed (they are not flagged). Thousands separators
    are not accepted, but with ``decimal=","`` (see below).

    Parameters
    ----------
    values : pandas.Series
        Raw strings or numbers.
    report : ValidationReport
        Where issues go.
    column : str
        The column's name in the input.
    kind : str
        Word used in messages ("count", "amount", ...).
    exclude : bool
        Whether bad rows are to be excluded (else the value is set missing and
        the row kept).
    integer : bool
        Whether fractional values are errors.
    signed : bool
        Whether negative values are valid (coordinates).
    decimal : {".", ","}
        The decimal mark (``","``: ``1.850,00``, dots only between thousands). With
        ``"."``, a column written all with decimal commas is an error naming ``decimal``.

    Returns
    -------
    numbers : pandas.Series of float64
        The numbers (NaN where missing or invalid).
    bad : pandas.Series of bool
        True where a value was given but is not a valid number.

    Examples
    --------
    >>> r = ValidationReport(name="e.csv")
    >>> n, bad = parse_numbers(pd.Series(["3", "-1", "x", None]), report=r, column="weight")
    >>> bad.tolist(), [i.check for i in r.issues]
    ([False, True, True, False], ['non_numeric', 'negative'])
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        non_numeric = pd.Series(False, index=values.index)
    else:
        as_str = values.astype("str") if not pd.api.types.is_string_dtype(values) else values
        as_str = as_str if decimal == "." else decimal_point_text(as_str)
        fast = _fast_float(as_str)
        if fast is None:  # some value is not a plain number: parse value by value
            fast = pd.to_numeric(as_str.str.strip(), errors="coerce").astype("float64")
        numbers = fast
        non_numeric = numbers.isna() & values.notna()
        if decimal == "." and non_numeric.any():
            refuse_decimal_commas(values[values.notna()], report.name, column, report.row_label)
    infinite = pd.Series(np.isinf(numbers.to_numpy()), index=values.index)
    if infinite.any():  # "inf" parses as a number but is no count or amount
        non_numeric = non_numeric | infinite
        numbers = numbers.mask(infinite)
    negative = (numbers < 0) if not signed else pd.Series(False, index=values.index)
    if integer:
        fractional = (numbers % 1 != 0) & numbers.notna()
    else:
        fractional = pd.Series(False, index=values.index)
    fix_note = "" if exclude else " (the value is treated as missing)"
    article = "an" if kind[:1] in ("a", "e", "i", "o", "u") else "a"
    for check, mask, what, hint in (
        (
            "non_numeric",
            non_numeric,
            f"the {kind} is not a number{fix_note}",
            NUMBER_HINTS[decimal],
        ),
        (
            "negative",
            negative,
            f"the {kind} is negative{fix_note}",
            f"{article} {kind} cannot be below 0",
        ),
        (
            "fractional",
            fractional,
            f"the {kind} is not a whole number{fix_note}",
            f"a {kind} must be a whole number",
        ),
    ):
        if mask.any():
            report.add(
                check,
                what,
                column=column,
                rows=values.index[mask.to_numpy()],
                examples=values[mask].drop_duplicates().head(MAX_EXAMPLES).tolist(),
                hint=hint,
                excluded=exclude,
            )
    bad = non_numeric | negative | fractional
    if not exclude:
        numbers = numbers.mask(bad)
    return numbers, bad


def _fast_float(values: pd.Series) -> pd.Series | None:
    """Cast clean numeric text with Arrow (C speed); None if any value is not a number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        cast = pc.cast(pa.array(values, type=pa.string(), from_pandas=True), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=values.index, dtype="float64")


def check_ids(
    ids: pd.Series,
    *,
    report: ValidationReport,
    column: str,
    npi: bool | Literal["auto"] = "auto",
    factorized: tuple[np.ndarray, Any] | None = None,
) -> pd.Series:
    """Check one id column: blanks always; NPI check digits as asked.

    Parameters
    ----------
    ids : pandas.Series of str
        Ids, already stripped of surrounding white space.
    report : ValidationReport
        Where issues go.
    column : str
        The column's name in the input.
    npi : bool or "auto"
        ``True``: ids are declared NPIs; ids failing the Luhn check digit are
        excluded. ``"auto"``: ids that look like NPIs (ten digits starting
        with 1 or 2) and fail the check are reported and kept. ``False``: no
        NPI check.
    factorized : tuple (codes, uniques), optional
        ``pandas.factorize(ids)``, when the caller has it (see
        :func:`referral_graph.npi.npi_flags`).

    Returns
    -------
    pandas.Series of bool
        Rows to exclude.

    Examples
    --------
    >>> r = ValidationReport(name="e.csv")
    >>> bad = check_ids(pd.Series(["1234567893", "", "1234567890"]), report=r, column="src")
    >>> bad.tolist(), [(i.check, i.excluded) for i in r.issues]
    ([False, True, False], [('missing_id', True), ('invalid_npi', False)])
    """
    blank = ids.isna() | (ids == "")
    if blank.any():
        report.add(
            "missing_id",
            "the provider id is missing",
            column=column,
            rows=ids.index[blank.to_numpy()],
            excluded=True,
            hint="fill in the id, or map the right column (CLI: --source-col / --target-col)",
        )
    bad = blank.copy()
    if npi is False:
        return bad
    shaped_arr, valid_arr = npi_flags(ids, factorized=factorized)
    valid = pd.Series(valid_arr, index=ids.index)
    if npi is True:
        invalid = ~valid & ~blank
        message = "the id is not a valid NPI (ten digits with a Luhn check digit)"
    else:
        invalid = pd.Series(shaped_arr & ~valid_arr, index=ids.index)
        message = "the id looks like an NPI but its check digit is wrong"
    if invalid.any():
        report.add(
            "invalid_npi",
            message,
            column=column,
            rows=ids.index[invalid.to_numpy()],
            examples=ids[invalid].drop_duplicates().head(MAX_EXAMPLES).tolist(),
            excluded=npi is True,
            hint=(
                "correct the NPI (see NPPES); pass npi=False (CLI: --ids any) if these ids are "
                "not NPIs"
            ),
        )
        if npi is True:
            bad |= invalid
    return bad


_DOT_ZERO = re.compile(r"([0-9]+)\.0+")
# The exponent's sign is required: spreadsheets write "1.00E+09", and an id such as "3E8"
# (hexadecimal, say) is not a number.
_E_NOTATION = re.compile(r"([0-9])(?:\.([0-9]+))?[eE]\+([0-9]{1,2})")


def restore_ids(ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Ids that a spreadsheet turned into numbers, restored to their text where exact.

    A spreadsheet that reads an id column as numbers writes ``1003000126``
    back as ``1003000126.0`` or ``1.003000126E+09``. Both are restored to
    ``1003000126``: the first always, the second (with its ``+`` sign, as
    spreadsheets write it) when its digits are all there. Scientific
    notation that dropped digits (``1.00300013E+09`` for an id of ten
    digits) cannot be restored: such ids are returned as lossy.

    Parameters
    ----------
    ids : iterable of str
        Distinct ids, stripped.

    Returns
    -------
    restored : dict
        ``{written: restored}`` for the ids restored.
    lossy : list of str
        The ids in scientific notation that lost digits.

    Examples
    --------
    >>> restore_ids(["1003000126.0", "1.003000126E+09", "1.00300013E+09", "A12", "1003000126"])
    ({'1003000126.0': '1003000126', '1.003000126E+09': '1003000126'}, ['1.00300013E+09'])
    """
    restored: dict[str, str] = {}
    lossy: list[str] = []
    for text in ids:
        if not isinstance(text, str) or ("." not in text and "e" not in text and "E" not in text):
            continue
        match = _DOT_ZERO.fullmatch(text)
        if match:
            restored[text] = match.group(1)
            continue
        match = _E_NOTATION.fullmatch(text)
        if not match:
            continue
        lead, fraction, exponent = match.group(1), match.group(2) or "", int(match.group(3))
        digits = lead + fraction
        width = exponent + 1  # the number of digits of the integer written
        if len(digits) > width:
            if set(digits[width:]) != {"0"}:
                continue  # not an integer: not an id a spreadsheet mangled
            digits = digits[:width]
        if len(digits) < width:
            lossy.append(text)
        else:
            restored[text] = digits
    return restored, lossy


#: The wording of the two id-restoration issues, shared by every engine.
RESTORED_ID_MESSAGE = "ids written as numbers by a spreadsheet were restored to their text"
RESTORED_ID_HINT = (
    "store the id column as text in the spreadsheet (Format Cells > Text), or export it "
    "from the source system as CSV"
)
LOSSY_ID_MESSAGE = (
    "the id is in scientific notation with digits dropped by a spreadsheet; it cannot be restored"
)
LOSSY_ID_HINT = "export the file again with the id column formatted as text"


def restore_id_column(
    ids: pd.Series, *, report: ValidationReport, column: str
) -> tuple[pd.Series, pd.Series]:
    """Restore a column's spreadsheet-mangled ids (see :func:`restore_ids`); report both kinds.

    Restored ids are a warning (the rows are kept); lossy ones an error
    (the rows are excluded and the report raises).

    Returns
    -------
    ids : pandas.Series
        The column, restored (the same object when nothing was restored).
    lossy : pandas.Series of bool
        Rows whose id cannot be restored.

    Examples
    --------
    >>> r = ValidationReport(name="e.csv")
    >>> ids, lossy = restore_id_column(pd.Series(["1003000126.0", "1003000126"], index=[2, 3]),
    ...                                report=r, column="npi")
    >>> ids.tolist(), lossy.tolist(), r.issues[0].rows
    (['1003000126', '1003000126'], [False, False], (2,))
    """
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    # as Python strings at once: iterating an Arrow-backed array value by value is slow
    restored, lossy_ids = restore_ids(np.asarray(uniques, dtype=object).tolist())
    lossy = pd.Series(False, index=ids.index)
    if not restored and not lossy_ids:
        return ids, lossy
    unique_text = pd.Index(uniques, dtype="str")
    if restored:
        changed = unique_text.isin(list(restored))
        rows = np.isin(codes, np.flatnonzero(changed))
        new_uniques = np.asarray(unique_text.map(lambda v: restored.get(v, v)), dtype=object)
        values = new_uniques[np.maximum(codes, 0)]
        values[codes < 0] = None
        report.add(
            "restored_id",
            RESTORED_ID_MESSAGE,
            column=column,
            rows=ids.index[rows],
            examples=[f"{k} -> {restored[k]}" for k in sorted(restored)[:MAX_EXAMPLES]],
            hint=RESTORED_ID_HINT,
        )
        ids = pd.Series(values, index=ids.index, name=ids.name, dtype="str")
    if lossy_ids:
        lossy[:] = np.isin(codes, np.flatnonzero(unique_text.isin(lossy_ids)))
        report.add(
            "lossy_id",
            LOSSY_ID_MESSAGE,
            level="error",
            column=column,
            rows=ids.index[lossy.to_numpy()],
            examples=sorted(lossy_ids),
            excluded=True,
            hint=LOSSY_ID_HINT,
        )
    return ids, lossy


def check_missing_providers(
    table: pd.DataFrame,
    providers: pd.DataFrame,
    *,
    report: ValidationReport,
    columns: dict[str, str],
) -> None:
    """Report rows whose source or target id is absent from the providers table.

    The rows are kept (the graph then has nodes without attributes).

    Parameters
    ----------
    table : pandas.DataFrame
        With canonical ``source`` and ``target`` columns.
    providers : pandas.DataFrame
        With an ``id`` column.
    report : ValidationReport
        Where issues go.
    columns : dict
        Canonical name -> name in the input, for messages.

    Examples
    --------
    >>> r = ValidationReport(name="e.csv")
    >>> t = pd.DataFrame({"source": ["a", "b"], "target": ["c", "c"]}, index=[2, 3])
    >>> check_missing_providers(t, pd.DataFrame({"id": ["a", "c"]}), report=r,
    ...                         columns={"source": "from", "target": "to"})
    >>> r.issues[0].rows, r.issues[0].examples
    ((3,), ('b',))
    """
    known = pd.Index(providers["id"].dropna().unique())
    for canonical in ("source", "target"):
        missing = ~table[canonical].isin(known)
        if missing.any():
            n_ids = table.loc[missing, canonical].nunique()
            report.add(
                "unknown_provider",
                f"{n_ids:,} {canonical} id(s) are not in the providers table",
                column=columns.get(canonical, canonical),
                rows=table.index[missing.to_numpy()],
                examples=table.loc[missing, canonical].drop_duplicates().head(MAX_EXAMPLES),
                hint="add these providers to the providers file, or check the id columns match",
            )
