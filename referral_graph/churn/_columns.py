"""Reading the panel's and the providers table's columns: names by role, months, provider text.

The panel's columns are found by name (the readers' aliases plus churn's own for
months, counts, patients, amounts and waits) or mapped by the caller; months are
turned into calendar month numbers (``year * 12 + month - 1``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import header_key
from referral_graph.churn._options import BoolArray, IntArray, _month_start, _parse_cutoffs
from referral_graph.exceptions import ParameterError, SchemaError
from referral_graph.io import EDGE_ALIASES, PROVIDER_ALIASES

_ALIASES: dict[str, tuple[str, ...]] = {
    # the readers' own names, in their order of precedence
    "source": EDGE_ALIASES["source"],
    "target": EDGE_ALIASES["target"],
    "month": (
        "month",
        "month_start",
        "period",
        "referral_month",
        "service_month",
        "date",
        "referral_date",
        "service_date",
        "event_date",
        "visit_date",
    ),
    "referrals": (
        "referrals",
        "referral_count",
        "n_referrals",
        "transaction_count",
        "pair_count",
        "weight",
        "count",
        "volume",
        "n",
        "total",
    ),
    "patients": ("patients", "patient_count", "bene_count", "unique_patients", "unique"),
    "amount": ("amount", "revenue", "allowed_amount", "paid_amount", "charge", "charges"),
    "wait": ("average_day_wait", "wait_days", "avg_wait_days", "mean_wait_days", "wait"),
    # the days of the month of each tie-month's first and last referral (the engines' panel)
    "first_day": ("first_day",),
    "last_day": ("last_day",),
}

#: The providers-table names churn reads: the readers' own aliases (referral_graph.io).
_PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    key: PROVIDER_ALIASES[key] for key in ("id", "name", "specialty", "organization")
}


def _resolve_columns(
    frame: pd.DataFrame,
    aliases: Mapping[str, tuple[str, ...]],
    columns: Mapping[str, str] | None,
    *,
    what: str,
) -> dict[str, str | None]:
    normalised: dict[str, str] = {}
    for col in frame.columns:
        normalised.setdefault(header_key(col), str(col))
    given = dict(columns or {})
    unknown = sorted(set(given) - set(aliases))
    if unknown:
        raise ParameterError(
            f"The 'columns' mapping for the {what} has unknown key(s) {', '.join(unknown)}; "
            f"the keys are {', '.join(aliases)}."
        )
    out: dict[str, str | None] = {}
    for key, names in aliases.items():
        if key in given:
            if given[key] not in frame.columns:
                raise SchemaError(
                    f"The {what} has no column {given[key]!r} (mapped to {key!r}); its columns "
                    f"are {', '.join(map(str, frame.columns))}."
                )
            out[key] = given[key]
            continue
        out[key] = next((normalised[n] for n in names if n in normalised), None)
    return out


def _month_numbers(values: pd.Series, column: str) -> npt.NDArray[np.int64]:
    """Calendar month numbers (year * 12 + month - 1) of a date-like column."""
    if isinstance(values.dtype, pd.PeriodDtype):
        stamps = values.dt.to_timestamp()
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values
    else:
        stamps = pd.to_datetime(values, errors="coerce", format="ISO8601")
    bad = stamps.isna()
    if bool(bad.any()):
        examples = ", ".join(repr(v) for v in values[bad].head(3).tolist())
        raise SchemaError(
            f"The panel's month column {column!r} has {int(bad.sum()):,} missing or unreadable "
            f"value(s) (e.g. {examples}); give dates such as 2024-01-01."
        )
    if isinstance(stamps.dtype, np.dtype) and stamps.dtype.kind == "M":  # naive datetimes
        return _codes.months_of_days(_codes.epoch_days(stamps.to_numpy()))
    years = stamps.dt.year.to_numpy(dtype=np.int64)
    numbers: npt.NDArray[np.int64] = years * 12 + stamps.dt.month.to_numpy(dtype=np.int64) - 1
    return numbers


def _last_month(last_row: int, data_end: str | pd.Timestamp | None) -> int:
    """The data's last month: `data_end` when given (checked), else the last row's month."""
    if data_end is None:
        return last_row
    end = _parse_cutoffs(data_end, "the churn functions", "data_end")[0]
    number = int(end.year * 12 + end.month - 1)
    if number < last_row:
        raise ParameterError(
            "The 'data_end' parameter must be at or after the panel's last month "
            f"({_month_start(last_row).date()}). Got {data_end!r} instead."
        )
    return number


def _text_column(
    table: pd.DataFrame, name: str, pos: IntArray, found: BoolArray, n: int
) -> npt.NDArray[np.object_]:
    """Per id: the stripped text of a providers column (None when missing or blank)."""
    picked = table[name].astype("object").to_numpy(dtype=object)[pos[found]]
    present = pd.notna(picked)
    stripped = np.array([str(v).strip() for v in picked[present]], dtype=object)
    keep = stripped != ""
    out = np.full(n, None, dtype=object)
    out[np.flatnonzero(found)[present][keep]] = stripped[keep]
    return out


def _provider_table(
    providers: pd.DataFrame | None, ids: npt.NDArray[np.object_]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Per id: display name, specialty (None when unknown), organisation (None)."""
    n = len(ids)
    names = ids.copy()
    specialty = np.full(n, None, dtype=object)
    org = np.full(n, None, dtype=object)
    if providers is None:
        return names, specialty, org
    if not isinstance(providers, pd.DataFrame):
        raise ParameterError(
            "The 'providers' parameter must be a pandas DataFrame with an 'id' column. "
            f"Got {type(providers).__name__} instead."
        )
    cols = _resolve_columns(providers, _PROVIDER_ALIASES, None, what="providers table")
    if cols["id"] is None:
        raise SchemaError(
            "The providers table lacks an 'id' column (the provider id, as in the panel's "
            "source and target); read it with referral_graph.io.read_providers."
        )
    table = providers.drop_duplicates(subset=[cols["id"]])
    index = pd.Index(table[cols["id"]].astype("str").to_numpy(dtype=object))
    pos = index.get_indexer(pd.Index(ids))
    found = pos >= 0
    if cols["name"] is not None:
        got_names = _text_column(table, cols["name"], pos, found, n)
        has = pd.notna(got_names)
        names[has] = got_names[has]
    if cols["specialty"] is not None:
        specialty = _text_column(table, cols["specialty"], pos, found, n)
    if cols["organization"] is not None:
        org = _text_column(table, cols["organization"], pos, found, n)
    return names, specialty, org
