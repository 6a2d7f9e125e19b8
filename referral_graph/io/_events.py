"""Referral events: one row per referral or hand-off (:func:`read_events`)."""

from __future__ import annotations

import logging

import pandas as pd

from referral_graph._checks import check_decimal
from referral_graph.io._clean import (
    _check_id_columns,
    _clean_ids,
    _date_column,
    _duplicated_rows,
    _log_summary,
)
from referral_graph.io._columns import EVENT_ALIASES, _mapped_columns, _resolve_columns
from referral_graph.io._files import NpiMode, PathOrFrame, read_table
from referral_graph.privacy import pseudonymize
from referral_graph.validate import check_missing_providers, parse_numbers

logger = logging.getLogger("referral_graph.io")


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
    sheet: str | int | None = None,
    decimal: str = ".",
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate referral events (one row per referral or hand-off).

    Parameters
    ----------
    data : path or pandas.DataFrame
        CSV (optionally compressed), Parquet or spreadsheet (``.xlsx``,
        ``.xls``, ``.ods``) file, or a DataFrame.
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
    sheet : str or int, optional
        For a spreadsheet workbook, the sheet's name or its position counting
        from 1 (default: the first); see :func:`read_table`.
    decimal : {".", ","}, default "."
        The decimal mark of the numeric columns (amount). With ``","`` (European
        spreadsheet exports, often ``;``-separated) ``1850,00`` and ``1.850,00`` read
        as 1850.0: dots are then accepted only between groups of three digits.
        Without it, a column whose values all read that way is an error that
        says to pass ``decimal=","``.
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
    InputError
        If the file cannot be read (missing, empty, binary, undecodable).
    SchemaError
        If no source or target column is found, or a date column is ambiguous.
    ValidationError
        If ``strict=True`` and a row is excluded.

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
    check_decimal(decimal, "read_events")
    raw = read_table(data, encoding=encoding, delimiter=delimiter, sheet=sheet)
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
            decimal=decimal,
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
