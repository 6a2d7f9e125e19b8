"""NUCC Health Care Provider Taxonomy: read the code set, label providers.

Every US provider in NPPES carries one or more ten-character taxonomy codes
from the National Uniform Claim Committee (NUCC) code set, for example
``207RC0000X`` (Internal Medicine, Cardiovascular Disease). This module reads
the NUCC CSV and maps codes to the labels the toolkit shows.

Two CSV layouts are understood (headers are matched ignoring case, spaces and
underscores):

* current (e.g. v25.1): ``Code, Grouping, Classification, Specialization,
  Definition, Notes, Display Name, Section``;
* 2012 (e.g. v12.1): ``Code, Type, Classification, Specialization,
  Definition, Notes`` -- ``Type`` is the old name of ``Grouping``.

Older releases were published in Windows-1252 (cp1252) rather than UTF-8;
``encoding="auto"`` handles both.

The taxonomy table returned by :func:`read_taxonomy` and
:func:`builtin_taxonomy` has one row per code and these columns, all of the
pandas ``string`` dtype (missing values are ``<NA>``):

=================  ==========================================================
``taxonomy_code``  the code, stripped and upper-cased; unique
``grouping``       ``Grouping`` (``Type`` in the 2012 layout)
``classification`` ``Classification``
``specialization`` ``Specialization``; ``<NA>`` for a classification-level
                   code such as ``207R00000X``
``display_name``   ``Display Name`` where the file has it (recent
                   releases); otherwise built as ``"<classification> -
                   <specialization>"``, or the classification alone, e.g.
                   ``"Internal Medicine - Cardiovascular Disease"``
``specialty``      the short label the toolkit shows: the specialization
                   when there is one, else the classification, e.g.
                   ``"Cardiovascular Disease"``, ``"Family Medicine"``.
                   Not unique: one specialization can sit under several
                   classifications (``"Critical Care Medicine"``), and
                   some read oddly alone (``"Family"`` for 363LF0000X,
                   Family Nurse Practitioner); use ``display_name`` when
                   the label must identify the code
``section``        ``Section`` (``Individual`` / ``Non-Individual``); only
                   when the file has it
=================  ==========================================================

Text is stripped and runs of white space are collapsed to one space (the
published files have stray spaces, e.g. ``" Prosthetics Case Management"``);
``Definition`` and ``Notes`` are not kept.

Without a NUCC file, :func:`builtin_taxonomy` gives labels for a small set of
common codes; pass the full NUCC CSV (https://www.nucc.org) for real work.

Examples
--------
>>> raw = pd.DataFrame(
...     {
...         "Code": ["207R00000X", "207RC0000X"],
...         "Type": ["Allopathic & Osteopathic Physicians"] * 2,
...         "Classification": ["Internal Medicine"] * 2,
...         "Specialization": ["", "Cardiovascular Disease"],
...     }
... )
>>> tax = read_taxonomy(raw)
>>> tax["specialty"].tolist()
['Internal Medicine', 'Cardiovascular Disease']
>>> specialty_for(pd.Series([" 207rc0000x", "999999999X"]), tax).tolist()
['Cardiovascular Disease', <NA>]
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from referral_graph._checks import check_choice
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.validate import ValidationReport

__all__ = [
    "LEVELS",
    "builtin_taxonomy",
    "join_taxonomy",
    "read_taxonomy",
    "specialty_for",
    "unmatched_codes",
]

logger = logging.getLogger(__name__)

#: The label columns :func:`specialty_for` can return.
LEVELS: tuple[str, ...] = ("specialty", "classification", "grouping", "display_name")

_TAXONOMY_COLUMNS: tuple[str, ...] = (
    "taxonomy_code",
    "grouping",
    "classification",
    "specialization",
    "display_name",
    "specialty",
)

# Canonical column -> accepted headers, normalised by _header_key, in order of
# preference. The canonical names themselves are accepted so that a table
# returned by read_taxonomy can be read again.
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "taxonomy_code": ("code", "taxonomycode"),
    "grouping": ("grouping", "type"),
    "classification": ("classification",),
    "specialization": ("specialization",),
    "display_name": ("displayname",),
    "specialty": ("specialty",),
    "section": ("section",),
}
_REQUIRED: tuple[str, ...] = ("taxonomy_code", "classification")
_EXPECTED_HEADERS = (
    "'Code' and 'Classification' (required); 'Grouping' or 'Type', 'Specialization', "
    "'Display Name', 'Section' (optional); matched ignoring case, spaces and underscores"
)

_MAX_LISTED = 10  # problems listed one by one in an error message before "... and N more"

# A small subset of the NUCC code set (labels from v25.1, July 2025) so that the
# toolkit can label common specialties when no NUCC file is given.
# code -> (grouping, classification, specialization, display name, section)
_PHYSICIANS = "Allopathic & Osteopathic Physicians"
_APN = "Physician Assistants & Advanced Practice Nursing Providers"
_AMBULATORY = "Ambulatory Health Care Facilities"
_INDIVIDUAL = "Individual"
_NON_INDIVIDUAL = "Non-Individual"
_BUILTIN: dict[str, tuple[str, str, str | None, str, str]] = {
    "207Q00000X": (_PHYSICIANS, "Family Medicine", None, "Family Medicine Physician", _INDIVIDUAL),
    "207R00000X": (
        _PHYSICIANS,
        "Internal Medicine",
        None,
        "Internal Medicine Physician",
        _INDIVIDUAL,
    ),
    "208000000X": (_PHYSICIANS, "Pediatrics", None, "Pediatrics Physician", _INDIVIDUAL),
    "208D00000X": (
        _PHYSICIANS,
        "General Practice",
        None,
        "General Practice Physician",
        _INDIVIDUAL,
    ),
    "207RC0000X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Cardiovascular Disease",
        "Cardiovascular Disease Physician",
        _INDIVIDUAL,
    ),
    "207RG0100X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Gastroenterology",
        "Gastroenterology Physician",
        _INDIVIDUAL,
    ),
    "207RE0101X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Endocrinology, Diabetes & Metabolism",
        "Endocrinology, Diabetes & Metabolism Physician",
        _INDIVIDUAL,
    ),
    "207RH0003X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Hematology & Oncology",
        "Hematology & Oncology Physician",
        _INDIVIDUAL,
    ),
    "207RX0202X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Medical Oncology",
        "Medical Oncology Physician",
        _INDIVIDUAL,
    ),
    "207RN0300X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Nephrology",
        "Nephrology Physician",
        _INDIVIDUAL,
    ),
    "207RP1001X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Pulmonary Disease",
        "Pulmonary Disease Physician",
        _INDIVIDUAL,
    ),
    "207RR0500X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Rheumatology",
        "Rheumatology Physician",
        _INDIVIDUAL,
    ),
    "207RI0200X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Infectious Disease",
        "Infectious Disease Physician",
        _INDIVIDUAL,
    ),
    "207RG0300X": (
        _PHYSICIANS,
        "Internal Medicine",
        "Geriatric Medicine",
        "Geriatric Medicine (Internal Medicine) Physician",
        _INDIVIDUAL,
    ),
    "208M00000X": (_PHYSICIANS, "Hospitalist", None, "Hospitalist Physician", _INDIVIDUAL),
    "207K00000X": (
        _PHYSICIANS,
        "Allergy & Immunology",
        None,
        "Allergy & Immunology Physician",
        _INDIVIDUAL,
    ),
    "207X00000X": (
        _PHYSICIANS,
        "Orthopaedic Surgery",
        None,
        "Orthopaedic Surgery Physician",
        _INDIVIDUAL,
    ),
    "208600000X": (_PHYSICIANS, "Surgery", None, "Surgery Physician", _INDIVIDUAL),
    "207T00000X": (
        _PHYSICIANS,
        "Neurological Surgery",
        None,
        "Neurological Surgery Physician",
        _INDIVIDUAL,
    ),
    "2086S0129X": (
        _PHYSICIANS,
        "Surgery",
        "Vascular Surgery",
        "Vascular Surgery Physician",
        _INDIVIDUAL,
    ),
    "208800000X": (_PHYSICIANS, "Urology", None, "Urology Physician", _INDIVIDUAL),
    "207V00000X": (
        _PHYSICIANS,
        "Obstetrics & Gynecology",
        None,
        "Obstetrics & Gynecology Physician",
        _INDIVIDUAL,
    ),
    "207W00000X": (_PHYSICIANS, "Ophthalmology", None, "Ophthalmology Physician", _INDIVIDUAL),
    "207Y00000X": (_PHYSICIANS, "Otolaryngology", None, "Otolaryngology Physician", _INDIVIDUAL),
    "207N00000X": (_PHYSICIANS, "Dermatology", None, "Dermatology Physician", _INDIVIDUAL),
    "2084N0400X": (
        _PHYSICIANS,
        "Psychiatry & Neurology",
        "Neurology",
        "Neurology Physician",
        _INDIVIDUAL,
    ),
    "2084P0800X": (
        _PHYSICIANS,
        "Psychiatry & Neurology",
        "Psychiatry",
        "Psychiatry Physician",
        _INDIVIDUAL,
    ),
    "207P00000X": (
        _PHYSICIANS,
        "Emergency Medicine",
        None,
        "Emergency Medicine Physician",
        _INDIVIDUAL,
    ),
    "207L00000X": (_PHYSICIANS, "Anesthesiology", None, "Anesthesiology Physician", _INDIVIDUAL),
    "2085R0202X": (
        _PHYSICIANS,
        "Radiology",
        "Diagnostic Radiology",
        "Diagnostic Radiology Physician",
        _INDIVIDUAL,
    ),
    "2085R0001X": (
        _PHYSICIANS,
        "Radiology",
        "Radiation Oncology",
        "Radiation Oncology Physician",
        _INDIVIDUAL,
    ),
    "208100000X": (
        _PHYSICIANS,
        "Physical Medicine & Rehabilitation",
        None,
        "Physical Medicine & Rehabilitation Physician",
        _INDIVIDUAL,
    ),
    "363L00000X": (_APN, "Nurse Practitioner", None, "Nurse Practitioner", _INDIVIDUAL),
    "363LF0000X": (_APN, "Nurse Practitioner", "Family", "Family Nurse Practitioner", _INDIVIDUAL),
    "363A00000X": (_APN, "Physician Assistant", None, "Physician Assistant", _INDIVIDUAL),
    "225100000X": (
        "Respiratory, Developmental, Rehabilitative and Restorative Service Providers",
        "Physical Therapist",
        None,
        "Physical Therapist",
        _INDIVIDUAL,
    ),
    "282N00000X": (
        "Hospitals",
        "General Acute Care Hospital",
        None,
        "General Acute Care Hospital",
        _NON_INDIVIDUAL,
    ),
    "282NC0060X": (
        "Hospitals",
        "General Acute Care Hospital",
        "Critical Access",
        "Critical Access Hospital",
        _NON_INDIVIDUAL,
    ),
    "314000000X": (
        "Nursing & Custodial Care Facilities",
        "Skilled Nursing Facility",
        None,
        "Skilled Nursing Facility",
        _NON_INDIVIDUAL,
    ),
    "251E00000X": ("Agencies", "Home Health", None, "Home Health Agency", _NON_INDIVIDUAL),
    "251G00000X": (
        "Agencies",
        "Hospice Care, Community Based",
        None,
        "Community Based Hospice Care Agency",
        _NON_INDIVIDUAL,
    ),
    "261QP2300X": (
        _AMBULATORY,
        "Clinic/Center",
        "Primary Care",
        "Primary Care Clinic/Center",
        _NON_INDIVIDUAL,
    ),
    "261QU0200X": (
        _AMBULATORY,
        "Clinic/Center",
        "Urgent Care",
        "Urgent Care Clinic/Center",
        _NON_INDIVIDUAL,
    ),
    "193200000X": ("Group", "Multi-Specialty", None, "Multi-Specialty Group", _INDIVIDUAL),
    "333600000X": ("Suppliers", "Pharmacy", None, "Pharmacy", _NON_INDIVIDUAL),
}


def _header_key(name: object) -> str:
    """Normalise a header for matching: no BOM, case, spaces or underscores."""
    return re.sub(r"[\s_]+", "", str(name).lstrip("\ufeff")).lower()


def _clean_text(values: pd.Series) -> pd.Series:
    """Strip, collapse white space, and turn blanks into ``<NA>`` (string dtype)."""
    text = values.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)
    return text.replace({"": pd.NA})


def _code_keys(codes: pd.Series) -> pd.Series:
    """Codes as matched: string dtype, stripped, upper-cased, blanks as ``<NA>``."""
    return codes.astype("string").str.strip().str.upper().replace({"": pd.NA})


def _known(keys: pd.Series, table: pd.DataFrame) -> pd.Series:
    """Boolean Series: is each (normalised) code in the taxonomy table?"""
    return keys.isin(set(table["taxonomy_code"].dropna())).fillna(False).astype(bool)


def _format_rows(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    more = len(rows) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _decode(raw: bytes, *, encoding: str, source: str) -> tuple[str, str]:
    """Decode file bytes; return the text and the name of the encoding used."""
    if encoding == "auto":
        try:
            return raw.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as exc:
            logger.debug("%s is not UTF-8 (%s); trying cp1252", source, exc)
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc:
            raise InputError(
                f"Cannot decode the NUCC taxonomy file {source}: it is neither UTF-8 nor "
                f"cp1252 (byte {exc.start} is {raw[exc.start : exc.start + 1]!r}). "
                "Pass its encoding, e.g. encoding='latin-1'."
            ) from exc
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Cannot decode the NUCC taxonomy file {source} as {encoding!r} (byte "
            f"{exc.start} is {raw[exc.start : exc.start + 1]!r}). Try encoding='auto' "
            "or encoding='cp1252'."
        ) from exc
    return text.lstrip("\ufeff"), encoding


def _version_of(path: Path) -> str | None:
    """The NUCC version in a published file's name (``nucc_taxonomy_121.csv`` is 12.1)."""
    found = re.search(r"taxonomy[_\-]?v?(\d{2,3})(?!\d)", path.name, flags=re.IGNORECASE)
    if found is None:
        return None
    digits = found.group(1)
    return f"{int(digits[:-1])}.{digits[-1]}"


def _read_file(
    path: Path, *, encoding: str, report: ValidationReport | None = None
) -> pd.DataFrame:
    source = f"'{path}'"
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"The NUCC taxonomy file {source} does not exist.") from exc
    except OSError as exc:
        raise InputError(f"Cannot read the NUCC taxonomy file {source}: {exc}") from exc
    text, used = _decode(raw, encoding=encoding, source=source)
    if not text.strip():
        raise InputError(f"The NUCC taxonomy file {source} is empty.")
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False, index_col=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"Cannot parse the NUCC taxonomy file {source} as CSV: {exc}") from exc
    if frame.empty:
        raise InputError(f"The NUCC taxonomy file {source} has a header but no data rows.")
    logger.info("Read the NUCC taxonomy file %s as %s.", source, used)
    if report is not None and used != "utf-8":
        report.add("encoding", f"the file is not UTF-8; read as {used}", level="info")
    return frame


def _normalise(
    frame: pd.DataFrame, *, source: str, report: ValidationReport | None = None
) -> pd.DataFrame:
    """Turn a raw NUCC table (either layout) into the taxonomy table.

    With a `report`, the columns used and the empty rows dropped are recorded
    in it (spreadsheet rows for a file: the header is row 1; index labels for
    a DataFrame).
    """
    keys: dict[str, list[object]] = {}
    for col in frame.columns:
        keys.setdefault(_header_key(col), []).append(col)
    found = ", ".join(repr(str(c)) for c in frame.columns) or "no columns"

    chosen: dict[str, object] = {}
    for canonical, aliases in _HEADER_ALIASES.items():
        for alias in aliases:
            if alias in keys:
                if len(keys[alias]) > 1:
                    clash = ", ".join(repr(str(c)) for c in keys[alias])
                    raise SchemaError(
                        f"The NUCC taxonomy table {source} has several columns that read as "
                        f"{canonical!r}: {clash}. Keep one of them."
                    )
                chosen[canonical] = keys[alias][0]
                break
    if report is not None:
        report.note_columns({k: str(v) for k, v in chosen.items()}, _HEADER_ALIASES)
    missing = [c for c in _REQUIRED if c not in chosen]
    if missing:
        names = ", ".join("'Code'" if c == "taxonomy_code" else "'Classification'" for c in missing)
        raise SchemaError(
            f"The NUCC taxonomy table {source} lacks the column(s) {names}. "
            f"Expected {_EXPECTED_HEADERS}. Found: {found}."
        )

    n = len(frame)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for canonical in (*_TAXONOMY_COLUMNS, "section"):
        if canonical in chosen:
            values = _clean_text(frame[chosen[canonical]]).to_numpy()
        elif canonical != "section":
            values = np.full(n, None, dtype=object)
        else:
            continue
        out[canonical] = pd.Series(values, index=out.index, dtype="string")
    out["taxonomy_code"] = out["taxonomy_code"].str.upper()
    data_row = np.arange(1, n + 1)  # 1-based data rows: the header is row 0

    # Rows with nothing in them (e.g. a trailing ",,,,") are dropped; a row with
    # content but no code is an error.
    empty = out.isna().all(axis=1).to_numpy()
    no_code = out["taxonomy_code"].isna().to_numpy() & ~empty
    if no_code.any():
        rows = data_row[no_code].tolist()
        raise SchemaError(
            f"The NUCC taxonomy table {source} has rows without a code: data row(s) "
            f"{_format_rows(rows)}. Fill in the 'Code' column or delete those rows."
        )
    if empty.any():
        logger.debug("Dropped %d empty row(s) from %s.", int(empty.sum()), source)
        if report is not None:
            rows = frame.index[empty] if report.row_label == "index" else (data_row[empty] + 1)
            report.add(
                "empty_row",
                "the row is empty (no code, no label)",
                rows=list(rows),
                excluded=True,
                level="info",
            )
        out = out.loc[~empty]
        data_row = data_row[~empty]

    dup = out["taxonomy_code"].duplicated(keep=False).to_numpy()
    if dup.any():
        by_code: dict[str, list[int]] = {}
        for code, row in zip(out["taxonomy_code"].to_numpy()[dup], data_row[dup], strict=True):
            by_code.setdefault(str(code), []).append(int(row))
        parts = [f"{code!r} at data rows {_format_rows(rows)}" for code, rows in by_code.items()]
        more = len(parts) - _MAX_LISTED
        listed = "; ".join(parts[:_MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")
        raise SchemaError(
            f"The NUCC taxonomy table {source} has duplicate codes (compared ignoring case "
            f"and surrounding spaces): {listed}. Each code must appear once."
        )

    built = out["classification"].where(
        out["specialization"].isna(), out["classification"] + " - " + out["specialization"]
    )
    out["display_name"] = out["display_name"].fillna(built)
    out["specialty"] = out["specialty"].fillna(out["specialization"]).fillna(out["classification"])
    columns = [*_TAXONOMY_COLUMNS, *(["section"] if "section" in out.columns else [])]
    return out[columns].reset_index(drop=True)


def read_taxonomy(
    path_or_df: str | os.PathLike[str] | pd.DataFrame, *, encoding: str = "auto"
) -> pd.DataFrame:
    """Read the NUCC Health Care Provider Taxonomy code set.

    Parameters
    ----------
    path_or_df : str, os.PathLike or pandas.DataFrame
        The NUCC CSV (current layout with ``Grouping`` and ``Display Name``,
        or the 2012 layout with ``Type``), or such a table already loaded.
        Headers are matched ignoring case, spaces and underscores. A table
        returned by this function is accepted too. The file is only read.
    encoding : str, default "auto"
        ``"auto"`` tries UTF-8 (a byte-order mark is dropped) and falls back to
        cp1252 (Windows-1252, used by older NUCC releases); the encoding used
        is logged. Any other value is a Python codec name used as is.
        Ignored for a DataFrame.

    Returns
    -------
    pandas.DataFrame
        One row per code, with a fresh ``RangeIndex`` and the ``string``
        columns ``taxonomy_code`` (stripped, upper-cased, unique),
        ``grouping``, ``classification``, ``specialization``,
        ``display_name``, ``specialty`` and, when the input has it,
        ``section``. ``display_name`` is the file's ``Display Name`` when
        present and non-empty, else ``"<classification> - <specialization>"``
        or the classification alone. ``specialty`` is the input's own
        ``specialty`` column where present and non-empty, else the
        specialization, else the classification. Text is stripped with runs
        of white space collapsed; blanks become ``<NA>``; rows that are
        entirely blank are dropped. A DataFrame with no rows gives an empty
        table (an empty file is an error). ``attrs["report"]`` is the
        :class:`~referral_graph.validate.ValidationReport` (rows read, empty
        rows excluded, the columns used, the encoding when not UTF-8, and a
        note of the code set read: its size and, from a published file's
        name such as ``nucc_taxonomy_121.csv``, its version);
        ``attrs["name"]`` the file name and ``attrs["version"]`` the version
        (``"12.1"``, or None when the name does not say).

    Raises
    ------
    InputError
        If the file is missing, unreadable, undecodable, not CSV, or has no
        data rows.
    SchemaError
        If the ``Code`` or ``Classification`` column is missing (the message
        names the file, the expected and the found columns), if a row with
        content has no code, or if a code appears more than once (the
        message names the code and its 1-based data rows; the header is
        row 0; for a DataFrame, the 1-based row position).
    ParameterError
        If `path_or_df` or `encoding` is of the wrong type or unknown.

    Examples
    --------
    >>> raw = pd.DataFrame(
    ...     {
    ...         "CODE": ["207Q00000X", "207RC0000X"],
    ...         "Grouping": ["Allopathic & Osteopathic Physicians"] * 2,
    ...         "classification": ["Family Medicine", "Internal Medicine"],
    ...         "Specialization": [None, "Cardiovascular Disease"],
    ...         "Display Name": ["Family Medicine Physician", ""],
    ...     }
    ... )
    >>> tax = read_taxonomy(raw)
    >>> tax[["taxonomy_code", "specialty"]].values.tolist()
    [['207Q00000X', 'Family Medicine'], ['207RC0000X', 'Cardiovascular Disease']]
    >>> tax["display_name"].tolist()
    ['Family Medicine Physician', 'Internal Medicine - Cardiovascular Disease']
    """
    if isinstance(path_or_df, pd.DataFrame):
        report = ValidationReport(name="<DataFrame>", rows_read=len(path_or_df), row_label="index")
        table = _normalise(path_or_df, source="(DataFrame)", report=report)
        return _with_report(table, report, version=path_or_df.attrs.get("version"))
    if not isinstance(path_or_df, str | os.PathLike):
        raise ParameterError(
            "The 'path_or_df' parameter of read_taxonomy must be a str, os.PathLike or "
            f"pandas.DataFrame. Got {type(path_or_df).__name__} instead."
        )
    if not isinstance(encoding, str):
        raise ParameterError(
            "The 'encoding' parameter of read_taxonomy must be a str ('auto' or a codec "
            f"name). Got {encoding!r} instead."
        )
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ParameterError(
                "The 'encoding' parameter of read_taxonomy must be 'auto' or a Python codec "
                f"name such as 'utf-8' or 'cp1252'. Got {encoding!r} instead."
            ) from exc
    path = Path(path_or_df)
    report = ValidationReport(name=str(path))
    raw = _read_file(path, encoding=encoding, report=report)
    report.rows_read = len(raw)
    table = _normalise(raw, source=f"'{path}'", report=report)
    logger.info("The NUCC taxonomy file '%s' has %d codes.", path, len(table))
    return _with_report(table, report, version=_version_of(path))


def _with_report(table: pd.DataFrame, report: ValidationReport, *, version: object) -> pd.DataFrame:
    """The table with ``attrs`` ``report``, ``name`` and ``version`` (str or None)."""
    old_layout = _header_key(report.columns.get("grouping", "")) == "type"
    layout = "2012 layout ('Type' column)" if old_layout else None
    version_text = f"NUCC version {version} (from the file name)" if version else None
    described = ", ".join(
        t for t in (version_text, layout, f"{len(table):,} codes") if t is not None
    )
    report.add("code_set", f"read as a NUCC code set: {described}", level="info")
    table.attrs["report"] = report
    table.attrs["name"] = report.name
    table.attrs["version"] = None if version is None else str(version)
    return table


def builtin_taxonomy() -> pd.DataFrame:
    """Return the small built-in subset of the NUCC code set.

    About fifty common codes (primary care, the main medical and surgical
    specialties, nurse practitioners and physician assistants, hospitals,
    nursing facilities, home health, hospice, clinics, laboratories and
    pharmacies), with labels copied from NUCC v25.1. It lets the toolkit label
    common specialties when no NUCC file is given; it is **not** the code set.
    Any other code gets no label, so pass the full NUCC CSV to
    :func:`read_taxonomy` for real work.

    Returns
    -------
    pandas.DataFrame
        A taxonomy table, as from :func:`read_taxonomy`, with ``section``.

    Examples
    --------
    >>> tax = builtin_taxonomy()
    >>> tax.set_index("taxonomy_code").loc["207RC0000X", "specialty"]
    'Cardiovascular Disease'
    >>> tax["taxonomy_code"].is_unique
    True
    """
    rows = [(code, *labels) for code, labels in _BUILTIN.items()]
    raw = pd.DataFrame(
        rows,
        columns=["Code", "Grouping", "Classification", "Specialization", "Display Name", "Section"],
        dtype=object,
    )
    return _normalise(raw, source="(built-in subset)")


def _map_codes(codes: pd.Series, table: pd.DataFrame, level: str) -> pd.Series:
    """Map codes to `level` labels of a normalised taxonomy table."""
    lookup = pd.Series(table[level].to_numpy(), index=pd.Index(table["taxonomy_code"]))
    idx, uniques = pd.factorize(codes.astype("string"), use_na_sentinel=True)
    keys = _code_keys(pd.Series(uniques, dtype="string"))
    labels = lookup.reindex(keys).to_numpy(dtype=object)
    result = np.full(len(codes), None, dtype=object)
    present = idx >= 0
    result[present] = labels[idx[present]]
    return pd.Series(result, index=codes.index, name=level, dtype="string")


def specialty_for(
    codes: pd.Series, taxonomy: pd.DataFrame, *, level: str = "specialty"
) -> pd.Series:
    """Map taxonomy codes to labels.

    Parameters
    ----------
    codes : pandas.Series
        Taxonomy codes; matched ignoring case and surrounding spaces.
        Each distinct code is looked up once.
    taxonomy : pandas.DataFrame
        A taxonomy table from :func:`read_taxonomy` or
        :func:`builtin_taxonomy` (a raw NUCC table is accepted too).
    level : {"specialty", "classification", "grouping", "display_name"}
        Which label to return.

    Returns
    -------
    pandas.Series of string
        Aligned with `codes` and named `level`; ``<NA>`` for missing or
        unknown codes and for codes without that label.

    Raises
    ------
    ParameterError
        If `level` is not one of the four labels.
    SchemaError
        If `taxonomy` is not a usable taxonomy table.

    Examples
    --------
    >>> tax = read_taxonomy(
    ...     pd.DataFrame(
    ...         {
    ...             "Code": ["207RC0000X", "208000000X"],
    ...             "Grouping": ["Allopathic & Osteopathic Physicians"] * 2,
    ...             "Classification": ["Internal Medicine", "Pediatrics"],
    ...             "Specialization": ["Cardiovascular Disease", None],
    ...         }
    ...     )
    ... )
    >>> codes = pd.Series(["207rc0000x ", "208000000X", "XXXXXXXXXX", None])
    >>> specialty_for(codes, tax).tolist()
    ['Cardiovascular Disease', 'Pediatrics', <NA>, <NA>]
    >>> specialty_for(codes, tax, level="classification").tolist()
    ['Internal Medicine', 'Pediatrics', <NA>, <NA>]
    """
    allowed = ", ".join(repr(x) for x in LEVELS)
    level = check_choice(
        level, "level", "specialty_for", LEVELS, expected=f"a str among {{{allowed}}}"
    )
    table = _as_table(taxonomy, "specialty_for")
    return _map_codes(codes, table, level)


def _as_table(taxonomy: object, func: str) -> pd.DataFrame:
    """Validate and normalise the `taxonomy` argument of `func`."""
    if not isinstance(taxonomy, pd.DataFrame):
        raise ParameterError(
            f"The 'taxonomy' parameter of {func} must be a pandas.DataFrame (from "
            f"read_taxonomy or builtin_taxonomy). Got {type(taxonomy).__name__} instead."
        )
    return _normalise(taxonomy, source="(taxonomy DataFrame)")


def _check_code_col(providers: pd.DataFrame, code_col: str, func: str) -> None:
    if code_col not in providers.columns:
        found = ", ".join(repr(str(c)) for c in providers.columns) or "no columns"
        raise SchemaError(
            f"The providers table has no {code_col!r} column for {func} to read taxonomy "
            f"codes from. Found: {found}. Pass code_col= to name the column."
        )


def join_taxonomy(
    providers: pd.DataFrame, taxonomy: pd.DataFrame, *, code_col: str = "taxonomy_code"
) -> pd.DataFrame:
    """Fill providers' specialty, classification and grouping from the code set.

    Parameters
    ----------
    providers : pandas.DataFrame
        A providers table (see ``docs/architecture.md``); not modified.
    taxonomy : pandas.DataFrame
        A taxonomy table from :func:`read_taxonomy` or :func:`builtin_taxonomy`.
    code_col : str, default "taxonomy_code"
        The providers column holding the taxonomy codes (matched ignoring case
        and surrounding spaces).

    Returns
    -------
    pandas.DataFrame
        A copy of `providers` with the same rows, index and order, and the
        ``string`` columns ``specialty``, ``classification`` and
        ``grouping`` (appended when absent). Each is filled from the code set
        where the provider's code is known and the provider has no value of
        its own: existing non-blank values are kept, never overwritten.
        The numbers of providers with a matched, an unmatched and no code are
        logged.

    Raises
    ------
    SchemaError
        If `code_col` is not a column of `providers`.

    See Also
    --------
    unmatched_codes : the codes that found no label, for the validation report.

    Examples
    --------
    >>> tax = builtin_taxonomy()
    >>> providers = pd.DataFrame(
    ...     {
    ...         "id": ["1", "2", "3"],
    ...         "taxonomy_code": ["207Q00000X", "207RC0000X", "NOT-A-CODE"],
    ...         "specialty": [None, "Interventional cardiology", None],
    ...     }
    ... )
    >>> out = join_taxonomy(providers, tax)
    >>> out["specialty"].tolist()
    ['Family Medicine', 'Interventional cardiology', <NA>]
    >>> out["classification"].tolist()
    ['Family Medicine', 'Internal Medicine', <NA>]
    """
    _check_code_col(providers, code_col, "join_taxonomy")
    table = _as_table(taxonomy, "join_taxonomy")
    out = providers.copy()
    codes = out[code_col]
    for col in ("specialty", "classification", "grouping"):
        mapped = _map_codes(codes, table, col)
        if col in out.columns:
            existing = out[col].astype("string")
            blank = (existing.isna() | (existing.str.strip() == "")).fillna(True)
            out[col] = existing.mask(blank & mapped.notna(), mapped)
        else:
            out[col] = mapped
    keys = _code_keys(codes)
    known = _known(keys, table)
    n_matched = int(known.sum())
    n_unmatched = int(keys.notna().sum()) - n_matched
    logger.info(
        "Taxonomy codes: %d provider(s) matched, %d unmatched, %d without a code.",
        n_matched,
        n_unmatched,
        len(out) - n_matched - n_unmatched,
    )
    return out


def unmatched_codes(
    providers: pd.DataFrame, taxonomy: pd.DataFrame, *, code_col: str = "taxonomy_code"
) -> pd.DataFrame:
    """Count the providers' taxonomy codes that are not in the code set.

    Parameters
    ----------
    providers : pandas.DataFrame
        A providers table; not modified.
    taxonomy : pandas.DataFrame
        A taxonomy table from :func:`read_taxonomy` or :func:`builtin_taxonomy`.
    code_col : str, default "taxonomy_code"
        The providers column holding the taxonomy codes.

    Returns
    -------
    pandas.DataFrame
        Columns ``code`` (string; stripped and upper-cased, as matched) and
        ``count`` (int64, providers with that code), most frequent first,
        then by code. Missing and blank codes are not counted: they are
        absent, not unmatched. Empty when every code matched.

    Raises
    ------
    SchemaError
        If `code_col` is not a column of `providers`.

    Examples
    --------
    >>> providers = pd.DataFrame(
    ...     {"id": ["1", "2", "3", "4"], "taxonomy_code": ["207Q00000X", "bad", "BAD ", None]}
    ... )
    >>> unmatched_codes(providers, builtin_taxonomy()).values.tolist()
    [['BAD', 2]]
    """
    _check_code_col(providers, code_col, "unmatched_codes")
    table = _as_table(taxonomy, "unmatched_codes")
    keys = _code_keys(providers[code_col])
    missing = keys[~_known(keys, table)].dropna()
    counts = missing.value_counts()
    result = pd.DataFrame(
        {
            "code": pd.Series(counts.index, dtype="string"),
            "count": pd.Series(counts.to_numpy(), dtype="int64"),
        }
    )
    return result.sort_values(["count", "code"], ascending=[False, True]).reset_index(drop=True)
