"""The CMS NPPES downloadable file (``npidata_pfile_*.csv``) as a provider source.

The monthly file has about 9 million rows and 330 columns (10 GB). It is read
by DuckDB, out of core: only the columns a provider table needs are parsed,
and only the rows of the NPIs asked for are kept, so time grows with the
file's size and memory with the number of NPIs kept, not with the file.

From the file's columns this module builds the provider table's:

========================  =========================================================
``id``                    ``NPI``
``name``                  individuals: first, middle and last name, then the
                          credential (``DAVID A WIEBE, M.D.``); organisations: the
                          legal business name
``entity_type``           ``individual`` (entity type code 1) or ``organization`` (2)
``organization``          organisations' legal business name (NPPES links no
                          individual to an organisation)
``taxonomy_code``         the ``Healthcare Provider Taxonomy Code_N`` whose
                          ``Primary Taxonomy Switch_N`` is ``Y`` (N = 1..15), else
                          the first code
``city``, ``state``       the practice location's
``zip``                   the practice location's ZIP code, first five digits (a US
                          code that lost its leading zeros gets them back)
``deactivation_date``     when the NPI was deactivated (and not reactivated since)
========================  =========================================================

The 2018 and the 2025 layouts (``Provider Gender Code`` became ``Provider Sex
Code``; ``Certification Date`` was added) both hold these columns.
"""

from __future__ import annotations

import csv
import io as _io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from referral_graph.exceptions import InputError, SchemaError
from referral_graph.io._files import first_line_of
from referral_graph.io._headers import unique_names
from referral_graph.validate import ValidationReport

NPI = "NPI"
ENTITY = "Entity Type Code"
ORG_NAME = "Provider Organization Name (Legal Business Name)"
LAST = "Provider Last Name (Legal Name)"
FIRST = "Provider First Name"
MIDDLE = "Provider Middle Name"
CREDENTIAL = "Provider Credential Text"
CITY = "Provider Business Practice Location Address City Name"
STATE = "Provider Business Practice Location Address State Name"
POSTAL = "Provider Business Practice Location Address Postal Code"
COUNTRY = "Provider Business Practice Location Address Country Code (If outside U.S.)"
DEACTIVATED = "NPI Deactivation Date"
REACTIVATED = "NPI Reactivation Date"
N_TAXONOMIES = 15


def _taxonomy(i: int) -> str:
    return f"Healthcare Provider Taxonomy Code_{i}"


def _switch(i: int) -> str:
    return f"Healthcare Provider Primary Taxonomy Switch_{i}"


#: The header columns that identify an NPPES file.
SIGNATURE = (NPI, ENTITY, ORG_NAME, LAST, _taxonomy(1), _switch(1))

#: Every column read (the others are never parsed).
NEEDED = (
    NPI, ENTITY, ORG_NAME, LAST, FIRST, MIDDLE, CREDENTIAL, CITY, STATE, POSTAL, COUNTRY,
    DEACTIVATED, REACTIVATED,
    *(c for i in range(1, N_TAXONOMIES + 1) for c in (_taxonomy(i), _switch(i))),
)  # fmt: skip

#: DuckDB's memory limit while the file is scanned (it spills to disk beyond it).
MEMORY_LIMIT = "2GB"

#: The provider table's columns, in order.
COLUMNS = (
    "id", "name", "entity_type", "organization", "taxonomy_code", "city", "state", "zip",
    "deactivation_date",
)  # fmt: skip


def is_nppes(columns: Iterable[str]) -> bool:
    """Whether a header is the NPPES file's.

    Examples
    --------
    >>> is_nppes(["npi", "name"]), is_nppes(list(SIGNATURE))
    (False, True)
    """
    present = {str(c).strip() for c in columns}
    return all(c in present for c in SIGNATURE)


def file_header(path: Path) -> list[str] | None:
    """A file's column names: a Parquet file's schema, or the first line of a (possibly
    compressed) CSV file; None if unreadable (the readers then say what is wrong)."""
    import pyarrow as pa

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception:  # pyarrow raises several unrelated types
            return None
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 16)
    except (OSError, pa.ArrowException):
        return None
    text = first_line_of(head.decode("utf-8-sig", errors="replace"))
    try:
        return next(csv.reader(_io.StringIO(text)), None)
    except csv.Error:  # not CSV text (a workbook, a binary file): the readers say so
        return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _blank(expr: str) -> str:
    return f"nullif(trim({expr}), '')"


def _select_sql(source: str, where: str = "") -> str:
    """The provider columns from the NPPES columns of `source` (a table or a scan)."""
    entity = _blank(_q(ENTITY))
    person = (
        f"concat_ws(' ', {_blank(_q(FIRST))}, {_blank(_q(MIDDLE))}, {_blank(_q(LAST))})"
        f" || coalesce(', ' || {_blank(_q(CREDENTIAL))}, '')"
    )
    primary = ", ".join(
        f"CASE WHEN trim({_q(_switch(i))}) = 'Y' THEN {_blank(_q(_taxonomy(i)))} END"
        for i in range(1, N_TAXONOMIES + 1)
    )
    postal = f"regexp_replace(coalesce(trim({_q(POSTAL)}), ''), '[^0-9A-Za-z]', '', 'g')"
    us = f"coalesce({_blank(_q(COUNTRY))}, 'US') = 'US'"
    zip5 = (
        f"CASE WHEN {postal} = '' THEN NULL "
        f"WHEN {us} AND regexp_full_match({postal}, '[0-9]{{3,4}}') THEN lpad({postal}, 5, '0') "
        f"WHEN {us} AND regexp_full_match({postal}, '[0-9]{{7,8}}') "
        f"THEN left(lpad({postal}, 9, '0'), 5) "
        f"WHEN {us} AND regexp_full_match({postal}, '[0-9]{{9}}') THEN left({postal}, 5) "
        f"ELSE {postal} END"
    )
    deactivated = f"try_strptime({_blank(_q(DEACTIVATED))}, '%m/%d/%Y')"
    reactivated = f"try_strptime({_blank(_q(REACTIVATED))}, '%m/%d/%Y')"
    return (
        f"SELECT trim({_q(NPI)}) AS id, "
        f"CASE WHEN {entity} = '2' THEN {_blank(_q(ORG_NAME))} "
        f"ELSE nullif({person}, '') END AS name, "
        f"CASE {entity} WHEN '1' THEN 'individual' WHEN '2' THEN 'organization' END "
        "AS entity_type, "
        f"CASE WHEN {entity} = '2' THEN {_blank(_q(ORG_NAME))} END AS organization, "
        f"coalesce({primary}, {_blank(_q(_taxonomy(1)))}) AS taxonomy_code, "
        f"{_blank(_q(CITY))} AS city, {_blank(_q(STATE))} AS state, {zip5} AS zip, "
        f"CAST(CASE WHEN {reactivated} >= {deactivated} THEN NULL ELSE {deactivated} END "
        "AS DATE) AS deactivation_date "
        f"FROM {source} AS n {where}"
    )


def read_nppes(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    ids: Iterable[str] | None = None,
    encoding: str = "auto",
    name: str | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Read the providers of an NPPES file (or frame); only those in `ids` when given.

    Returns the table (columns :data:`COLUMNS`, index the NPIs) and the
    reading notes (how many rows were scanned and kept).
    """
    import duckdb

    from referral_graph._duckdb import duckdb_connect

    is_frame = isinstance(data, pd.DataFrame)
    label = name or ("<DataFrame>" if is_frame else str(data))
    report = ValidationReport(name=label, row_label="NPI")
    # Without a limit DuckDB buffers gigabytes of the scan because it may; with one, the
    # scan streams (peak memory about 1.3 GB for 300,000 NPIs of the 10 GB file).
    with duckdb_connect(memory_limit=MEMORY_LIMIT, preserve_insertion_order=False) as con:
        if isinstance(data, pd.DataFrame):
            present = [c for c in NEEDED if c in data.columns]
            sub = data[present]
            con.register("rg_nppes", sub.astype("str").where(sub.notna()))
            scan = _with_all_needed("rg_nppes", present)
            rows_read = len(data)
        else:
            path = Path(os.fspath(data))
            parquet = path.suffix.lower() in (".parquet", ".pq")
            header = file_header(path)
            if header is None or not is_nppes(header):
                raise SchemaError(
                    f"{label}: not an NPPES file: its header lacks "
                    + ", ".join(repr(c) for c in SIGNATURE if c not in (header or []))
                    + ". Pass the npidata_pfile CSV from the NPPES download."
                )
            unique_names(header, label)
            reader = (
                f"read_parquet({_sql_text(str(path))})"
                if parquet
                else _csv_reader(path, header, encoding)
            )
            scan = _with_all_needed(reader, header)
            rows_read = None
        where = ""
        wanted = pd.Series(list(ids) if ids is not None else [], dtype="str").drop_duplicates()
        if ids is not None:
            con.register("rg_wanted", pd.DataFrame({"id": wanted}))
            where = f"WHERE trim({_q(NPI)}) IN (SELECT id FROM rg_wanted)"
        try:
            table = con.execute(_select_sql(scan, where)).fetch_df()
        except duckdb.Error as exc:  # DuckDB's CSV errors name the line
            raise InputError(f"{label}: cannot be read as an NPPES file ({exc}).") from exc
    table = table.sort_values("id", kind="stable", ignore_index=True)  # scan order varies
    for column in COLUMNS:
        if column != "deactivation_date":
            table[column] = table[column].astype("str")
    table["deactivation_date"] = pd.to_datetime(table["deactivation_date"])
    table.index = pd.Index(table["id"].to_numpy(), name="NPI")
    # a file is scanned once, for the NPIs asked for: its other rows are not counted
    report.rows_read = rows_read if rows_read is not None else len(table)
    if rows_read is None and ids is not None:
        report.scanned = (
            f"{len(table):,} of the {len(wanted):,} NPIs asked for found (the file's other "
            "rows are skipped, not counted)"
        )
    report.add(
        "nppes",
        "read as an NPPES file: name, entity type, primary taxonomy, practice city, state "
        "and ZIP code built from its columns"
        + (f"; {len(table):,} of the NPIs asked for found" if ids is not None else ""),
        level="info",
    )
    return table, report


def _csv_reader(path: Path, header: Sequence[str], encoding: str) -> str:
    """A DuckDB ``read_csv`` of the file with every column as text (no type guessing)."""
    columns = "{" + ", ".join(f"{_sql_text(c)}: 'VARCHAR'" for c in header) + "}"
    chosen = "utf-8" if encoding == "auto" else encoding
    return (
        f"read_csv({_sql_text(str(path))}, header = true, delim = ',', quote = '\"', "
        f"escape = '\"', columns = {columns}, auto_detect = false, "
        f"encoding = {_sql_text(chosen)})"
    )


def _with_all_needed(source: str, present: Sequence[str]) -> str:
    """Only the needed columns of `source` (DuckDB parses no other); absent ones as NULL."""
    have = set(present)
    select = ", ".join(_q(c) if c in have else f"CAST(NULL AS VARCHAR) AS {_q(c)}" for c in NEEDED)
    return f"(SELECT {select} FROM {source})"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
