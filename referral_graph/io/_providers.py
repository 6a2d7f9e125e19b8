"""The providers table, with specialties labelled from NUCC codes (:func:`read_providers`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from referral_graph._checks import check_decimal
from referral_graph.exceptions import ParameterError
from referral_graph.io._clean import _clean_ids, _log_summary
from referral_graph.io._columns import PROVIDER_ALIASES, _resolve_columns
from referral_graph.io._files import NpiMode, PathOrFrame, read_table
from referral_graph.io._nppes import COLUMNS as NPPES_COLUMNS
from referral_graph.io._nppes import file_header, is_nppes, read_nppes
from referral_graph.validate import ValidationReport, check_ids, parse_numbers, restore_id_column

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
    sheet: str | int | None = None,
    decimal: str = ".",
    strict: bool = False,
    layout: Literal["auto", "generic", "nppes"] = "auto",
    ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read and validate the providers table; label specialties from NUCC codes.

    Parameters
    ----------
    data : path or pandas.DataFrame
        One row per provider: a table of the toolkit's columns (or their
        aliases), or the CMS NPPES downloadable file (``npidata_pfile_*.csv``).
    id_col, name_col, taxonomy_col, specialty_col, organization_col : str, optional
        Column names in the input; common aliases are recognised (``npi``,
        ``provider_id``; ``primary_taxonomy_code``; ``organization_name``,
        ``practice``; ``latitude``/``longitude``; ...).
    taxonomy : path or pandas.DataFrame, optional
        A NUCC taxonomy code set (:func:`referral_graph.taxonomy.read_taxonomy`);
        without it, a small built-in subset of common codes labels
        specialties.
    npi, encoding, delimiter, sheet, decimal, strict
        As in :func:`read_events` (`decimal` for ``lat`` and ``lon``).
    layout : {"auto", "generic", "nppes"}, default "auto"
        ``"nppes"``: `data` is the NPPES file (or a frame of its columns),
        read out of core by DuckDB: only the columns needed are parsed and
        only the rows of `ids` kept (see :mod:`referral_graph.io`). ``"auto"``
        detects that layout from the header.
    ids : iterable of str, optional
        Keep only these providers (for the NPPES layout, the rows are
        filtered while the file is scanned: the 9-million-row national file
        is read with memory for the providers kept only).

    Returns
    -------
    pandas.DataFrame
        ``id`` (unique strings) and, where known, ``name``, ``taxonomy_code``,
        ``specialty``, ``classification``, ``grouping``, ``organization``,
        ``city``, ``state``, ``zip`` (strings), ``lat``, ``lon`` (float64),
        ``in_network`` (boolean); other columns are kept as read. From the
        NPPES layout also ``entity_type`` (``individual`` / ``organization``)
        and ``deactivation_date``.

    Examples
    --------
    >>> raw = pd.DataFrame({"npi": ["1234567893"], "primary_taxonomy_code": ["207RC0000X"]})
    >>> read_providers(raw)[["id", "specialty"]].iloc[0].tolist()
    ['1234567893', 'Cardiovascular Disease']
    """
    check_decimal(decimal, "read_providers")
    from referral_graph import taxonomy as _taxonomy

    if layout not in ("auto", "generic", "nppes"):
        raise ParameterError(
            f"The 'layout' parameter must be 'auto', 'generic' or 'nppes'. Got {layout!r} instead."
        )
    nppes = layout == "nppes" or (layout == "auto" and providers_layout(data) == "nppes")
    if nppes:
        # ZIP codes come restored, and the file is filtered to `ids` as it is scanned
        frame, report = read_nppes(data, ids=ids, encoding=encoding)
        cols = {c: c for c in NPPES_COLUMNS}
    else:
        raw = read_table(data, encoding=encoding, delimiter=delimiter, sheet=sheet)
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
    out["id"], bad = restore_id_column(
        _clean_ids(frame[cols["id"]]), report=report, column=cols["id"]
    )
    bad |= check_ids(out["id"], report=report, column=cols["id"], npi=npi)
    for key in (
        "name", "entity_type", "taxonomy_code", "specialty", "organization", "city", "state", "zip",
    ):  # fmt: skip
        if key in cols:
            values = frame[cols[key]]
            out[key] = values.astype("str").where(values.notna()).str.strip().astype("str")
    if "zip" in out and "zip" in cols["zip"].lower() and not nppes:
        # a column named ZIP holds US ZIP codes, fixed-width text (a "postcode" may not)
        out["zip"] = _restore_zip(out["zip"], report=report, column=cols["zip"])
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
                decimal=decimal,
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
    if "deactivation_date" in cols:
        out["deactivation_date"] = frame[cols["deactivation_date"]]
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
    if ids is not None:
        providers = providers.loc[providers["id"].isin(pd.Index(list(ids), dtype="str")).to_numpy()]
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
            where, hint = _code_set_words(code_set, given=taxonomy is not None)
            report.add(
                "unknown_taxonomy",
                f"{len(unmatched):,} taxonomy code(s) are not in the {where}",
                column=cols["taxonomy_code"],
                count=int(unmatched.iloc[:, 1].sum()),
                examples=unmatched.iloc[:, 0].head(3),
                level="warning" if taxonomy is not None else "info",
                hint=hint,
            )
        providers = _taxonomy.join_taxonomy(providers, code_set, code_col="taxonomy_code")
    report.raise_if_needed(strict=strict)
    _log_summary("providers", providers, report)
    providers.attrs["report"] = report
    providers.attrs["name"] = report.name
    return providers


def _code_set_words(code_set: pd.DataFrame, *, given: bool) -> tuple[str, str]:
    """What code set the unmatched codes were looked up in, and how to fix them."""
    if not given:
        return (
            f"built-in subset of {len(code_set):,} common codes",
            "pass the full NUCC code set (CLI: --taxonomy nucc_taxonomy.csv)",
        )
    name = code_set.attrs.get("name", "<DataFrame>")
    version = code_set.attrs.get("version")
    size = f"{len(code_set):,} codes"
    where = (
        f"NUCC code set loaded from {name!r} ("
        + (f"version {version}, " if version else "")
        + f"{size})"
    )
    newer = f"after version {version}" if version else "after that file was published"
    hint = (
        f"codes added to the NUCC code set {newer} need a newer NUCC file: pass a current "
        "one (https://www.nucc.org, CLI: --taxonomy nucc_taxonomy_XXX.csv) in place of "
        f"{name!r}; a code in no NUCC version is a typo in the providers file"
    )
    return where, hint


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


def _restore_zip(values: pd.Series, *, report: ValidationReport, column: str) -> pd.Series:
    """ZIP codes that lost their leading zeros as numbers (``2134`` for ``02134``), restored.

    US ZIP codes are five digits (or nine, ZIP+4): a code of three or four digits
    (seven or eight) is padded with zeros, and a ``.0`` suffix removed, with a note.
    """
    text = values.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)
    short = text.str.fullmatch(r"[0-9]{3,4}|[0-9]{7,8}").fillna(False).astype(bool)
    changed = short | (text.notna() & (text != values)).astype(bool)
    if not changed.any():
        return values
    padded = text.mask(short, text.str.zfill(5).where(text.str.len() <= 5, text.str.zfill(9)))
    report.add(
        "restored_zip",
        "ZIP codes that lost their leading zeros (read as numbers) were restored",
        column=column,
        rows=values.index[changed.to_numpy()],
        examples=[
            f"{a} -> {b}" for a, b in zip(values[changed][:3], padded[changed][:3], strict=True)
        ],
        level="info",
        hint="store ZIP codes as text in the spreadsheet (Format Cells > Text)",
    )
    return padded.astype("str")


def providers_layout(data: PathOrFrame) -> Literal["generic", "nppes"]:
    """The layout of a providers file or frame, from its header alone.

    Examples
    --------
    >>> providers_layout(pd.DataFrame({"npi": [], "name": []}))
    'generic'
    """
    if isinstance(data, pd.DataFrame):
        return "nppes" if is_nppes(data.columns) else "generic"
    path = Path(os.fspath(data))
    header = file_header(path) if path.is_file() else None
    return "nppes" if header is not None and is_nppes(header) else "generic"
