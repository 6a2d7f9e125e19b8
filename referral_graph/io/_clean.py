"""Cleaning shared by the readers: ids, dates, repeated rows and the closing log line."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph.io._files import NpiMode
from referral_graph.validate import ValidationReport, check_ids, parse_dates, restore_id_column

logger = logging.getLogger("referral_graph.io")


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
        out[key], lossy = restore_id_column(
            _clean_ids(frame[cols[key]]), report=report, column=cols[key]
        )
        bad |= lossy
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
