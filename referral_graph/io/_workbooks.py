"""Spreadsheet workbooks (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``) read as text tables.

A sheet is read with python-calamine (a Rust reader: a million-row export is
read as events in about ten seconds, ``benchmarks/bench_spreadsheet.py``) and
turned into the same table of text a CSV gives, so that every reader and check
after it works unchanged:

* text cells are kept as written (stripped of nothing: the readers strip ids);
* number cells are written as their digits: an integral number as an integer
  (``1003000126``, not ``1003000126.0``, so an NPI a spreadsheet stored as a
  number keeps its text), any other number in its shortest exact form;
* date cells as ISO dates (``2024-01-05``; with the time when there is one),
  which the date checks read without a format;
* empty cells as missing.

Rows are numbered as the spreadsheet shows them (the header is the sheet's
first used row), so a message names the row a user scrolls to.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.io._headers import looks_headerless, unique_names
from referral_graph.validate import ValidationReport

#: File name endings read as workbooks.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")

# The first bytes of a ZIP container (xlsx, ods) and of an OLE2 compound file (xls).
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

Sheet = str | int


def workbook_kind(path: Path) -> str | None:
    """``"zip"`` or ``"ole2"`` when the file's first bytes are a workbook container's.

    The extension is not trusted: a workbook renamed ``.csv`` is still found.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head == _OLE2_MAGIC:
        return "ole2"
    return None


def is_workbook(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a spreadsheet workbook, by its extension or its first bytes.

    Examples
    --------
    >>> is_workbook("referrals.xlsx"), is_workbook("no_such_file.csv")
    (True, False)
    """
    p = Path(os.fspath(path))
    return p.suffix.lower() in WORKBOOK_SUFFIXES or workbook_kind(p) is not None


def _cell_text(value: Any) -> str | None:
    """One cell as the text a CSV export would hold (None when empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _column_text(values: list[Any]) -> pd.Series:
    """A column of cells as text; the common all-text and all-number columns in bulk."""
    column = pd.Series(values, dtype=object)
    kind = pd.api.types.infer_dtype(column, skipna=False)
    if kind == "string":
        return column.mask(column == "").astype("str")
    if kind in ("floating", "integer", "mixed-integer-float"):
        numbers = column.astype("float64")
        finite = np.isfinite(numbers.to_numpy())
        whole = finite & (numbers.to_numpy() % 1 == 0) & (np.abs(numbers.to_numpy()) < 2**63)
        if whole.all():
            return numbers.astype("int64").astype("str")
    return pd.Series([_cell_text(v) for v in values], dtype="str")


def _choose_sheet(names: Sequence[str], sheet: Sheet | None, name: str) -> str:
    """The sheet to read: `sheet` by name or position; the first when None.

    A workbook of a single sheet is read whatever `sheet` says: one ``--sheet`` serves
    every workbook of a command (events in sheet "Referrals" of one workbook, providers in
    the only sheet of another), and the report notes the sheet read.
    """
    if sheet is None or len(names) == 1:
        return names[0]
    if isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit()):
        if isinstance(sheet, str) and sheet in names:
            return sheet  # a sheet named "2" is taken by name
        position = int(sheet)
        if not 1 <= position <= len(names):
            raise ParameterError(
                f"{name}: there is no sheet {position} (the workbook has {len(names)}: "
                f"{', '.join(repr(n) for n in names)}). Sheets are counted from 1."
            )
        return names[position - 1]
    if sheet not in names:
        raise ParameterError(
            f"{name}: no sheet named {sheet!r}; the workbook has "
            f"{', '.join(repr(n) for n in names)}. Pass one of them with sheet= (CLI: --sheet)."
        )
    return sheet


def read_workbook(
    path: Path,
    name: str,
    *,
    sheet: Sheet | None = None,
    header: bool | str = "auto",
    names: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Read one sheet of a workbook as a text table; return it and the reading notes.

    Parameters
    ----------
    path : Path
        The workbook.
    name : str
        The file's name in messages.
    sheet : str or int, optional
        The sheet's name, or its position counting from 1; the first sheet by default.
    header : bool or "auto"
        As for CSV files: ``"auto"`` takes a first row made only of numbers as data.
    names : sequence of str, optional
        Column names for a sheet without a header.
    """
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types, one per format
        raise InputError(
            f"{name}: cannot be read as a spreadsheet workbook ({exc}). Save it again from "
            "the spreadsheet program, or export the sheet as CSV."
        ) from exc
    report = ValidationReport(name=name)
    try:
        sheet_names = [
            m.name for m in book.sheets_metadata if str(m.typ).endswith("WorkSheet")
        ] or list(book.sheet_names)
        if not sheet_names:
            raise InputError(f"{name}: the workbook has no sheets.")
        chosen = _choose_sheet(sheet_names, sheet, name)
        try:
            data = book.get_sheet_by_name(chosen)
            rows = data.to_python(skip_empty_area=True)
            first_row, first_col = data.start or (0, 0)
        except Exception as exc:
            raise InputError(f"{name}: sheet {chosen!r} cannot be read ({exc}).") from exc
    finally:
        book.close()
    if sheet is not None and len(sheet_names) == 1 and str(sheet) not in (chosen, "1"):
        report.add(
            "sheet",
            f"read the workbook's only sheet, {chosen!r} (sheet {sheet!r} was asked for: it "
            "names a sheet of another workbook, or is misspelt)",
            level="info",
        )
    if len(sheet_names) > 1:
        others = ", ".join(repr(n) for n in sheet_names if n != chosen)
        report.add(
            "sheet",
            f"read sheet {chosen!r}; the workbook also has {others}",
            level="info",
            hint="choose another with sheet= (CLI: --sheet NAME or --sheet POSITION)",
        )
    # trailing empty rows and columns are not data
    while rows and all(v in ("", None) for v in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(f"{name}: sheet {chosen!r} is empty.")
    width = max(len(r) for r in rows)
    first_fields = [_cell_text(v) or "" for v in rows[0]]
    has_header = not looks_headerless(first_fields) if header == "auto" else bool(header)
    body = rows[1:] if has_header else rows
    if has_header:
        if names is not None:
            raise ParameterError("The 'names' parameter is only for files without a header.")
        columns = [f.strip() for f in first_fields] + [""] * (width - len(first_fields))
    elif names is not None:
        if len(names) != width:
            raise SchemaError(
                f"{name}: sheet {chosen!r} has no header and {width} columns; expected "
                f"{len(names)} ({', '.join(names)})."
            )
        columns = list(names)
    else:
        columns = [f"column_{i + 1}" for i in range(width)]
    if not has_header:
        report.add("no_header", "no header row; columns named " + ", ".join(columns), level="info")
    unique_names([c for c in columns if c], name)  # blank names are settled below
    frame_columns: dict[str, pd.Series] = {}
    unnamed_with_data: list[str] = []
    for j, label in enumerate(columns):
        cells = [r[j] if j < len(r) else None for r in body]
        text = _column_text(cells)
        if not label:
            if text.isna().all():
                continue  # an empty column beside the table
            label = f"column_{first_col + j + 1}"
            unnamed_with_data.append(label)
        frame_columns[label] = text
    if unnamed_with_data:
        report.add(
            "unnamed_column",
            "columns with data but no header were named " + ", ".join(unnamed_with_data),
            level="info",
        )
    start = first_row + (2 if has_header else 1)  # spreadsheet row of the first data row
    frame = pd.DataFrame(frame_columns)
    frame.index = pd.RangeIndex(start, start + len(body), name="row")
    report.rows_read = len(frame)
    return frame, report
