"""The inputs of the outreach estimates, checked and laid out (private).

:func:`prepare_panel` turns the monthly edge panel into dense (referrer x
month) arrays of referrals, to the focus and in all (:class:`Data`), with each
referrer's matching group (its specialty); :func:`prepare_activities` reads
the outreach log into calendar months and normalised kinds;
:func:`check_kinds` checks the ``kinds`` parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._checks import check_frame, text_key
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError

# the public module's logger: its records keep the name users configure
logger = logging.getLogger("referral_graph.outreach")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def check_kinds(kinds: Any, func: str) -> tuple[str, ...] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = (kinds,)
    items = list(kinds) if isinstance(kinds, Iterable) else []
    if not items or not all(isinstance(k, str) and k.strip() for k in items):
        raise ParameterError(
            f"The 'kinds' parameter of {func} must be a sequence of non-empty activity kinds "
            f"(e.g. ('visit',)) or None. Got {kinds!r} instead."
        )
    return tuple(dict.fromkeys(text_key(k) for k in items))


@dataclass
class Data:
    """Monthly referrals of the referrers, as dense (referrer x month) arrays."""

    referrers: pd.Index
    first_month: int  # months since year 0 of column 0
    to_focus: FloatArray  # referrals to the focus
    active: BoolArray  # any referral that month
    cum: FloatArray  # cumulative to_focus, one leading zero column
    group: IntArray  # matching group (specialty code; 0 when unknown)


def _month_numbers(values: pd.Series) -> pd.Series:
    """Months since year 0 (``year * 12 + month - 1``); missing when not a date."""
    stamps = pd.to_datetime(values, errors="coerce")
    return (stamps.dt.year * 12 + stamps.dt.month - 1).astype("Int64")


def prepare_panel(
    panel: Any, focus_ids: list[str], providers: pd.DataFrame | None, func: str
) -> Data:
    frame = check_frame(
        panel,
        "panel",
        func,
        ["source", "target", "month", "referrals"],
        "build it with referral_graph.aggregate.edge_panel.",
    )
    months = _month_numbers(frame["month"])
    if bool(months.isna().any()):
        raise SchemaError(
            f"The panel of {func} has {int(months.isna().sum())} row(s) without a valid month."
        )
    counts = pd.to_numeric(frame["referrals"], errors="coerce")
    if bool((counts.isna() | (counts < 0)).any()):
        raise SchemaError(f"The panel of {func} must hold referral counts >= 0.")
    if frame.empty:
        raise InsufficientDataError(f"{func}: the panel is empty.")
    source = frame["source"].astype("str")
    target = frame["target"].astype("str")
    focus = set(focus_ids)
    is_ref = ~source.isin(focus)
    referrers = pd.Index(pd.unique(source[is_ref]))
    first, last = int(months.min()), int(months.max())
    n_months = last - first + 1
    rows = referrers.get_indexer(pd.Index(source[is_ref]))
    cols = (months[is_ref].to_numpy(dtype=np.int64)) - first
    values = counts[is_ref].to_numpy(dtype=np.float64)
    total = np.zeros((len(referrers), n_months))
    np.add.at(total, (rows, cols), values)
    to_focus = np.zeros((len(referrers), n_months))
    hit = target[is_ref].isin(focus).to_numpy()
    np.add.at(to_focus, (rows[hit], cols[hit]), values[hit])
    group = np.zeros(len(referrers), dtype=np.int64)
    if providers is not None and "specialty" in providers.columns:
        spec = pd.Series(providers["specialty"].to_numpy(), index=providers["id"].astype("str"))
        spec = spec[~spec.index.duplicated()].reindex(referrers)
        keys = spec.map(text_key, na_action="ignore")
        keys = keys.where(keys.str.len() > 0)
        codes, _ = pd.factorize(keys)
        group = (codes + 1).astype(np.int64)  # 0: unknown specialty
    return Data(
        referrers=referrers,
        first_month=first,
        to_focus=to_focus,
        active=total > 0,
        cum=np.concatenate([np.zeros((len(referrers), 1)), np.cumsum(to_focus, axis=1)], axis=1),
        group=group,
    )


def prepare_activities(activities: Any, func: str, *, need_kind: bool) -> pd.DataFrame:
    columns = ["date", "provider"] + (["kind"] if need_kind else [])
    frame = check_frame(
        activities,
        "activities",
        func,
        columns,
        "the outreach log needs date, provider, liaison and kind.",
    )
    out = pd.DataFrame(
        {
            "provider": frame["provider"].astype("str").to_numpy(),
            "m": _month_numbers(frame["date"]).to_numpy(),
            "kind": (
                frame["kind"].map(text_key, na_action="ignore").astype("str").to_numpy()
                if "kind" in frame.columns
                else pd.Series([""] * len(frame), dtype="str").to_numpy()
            ),
        }
    )
    if "liaison" in frame.columns:
        out["liaison"] = frame["liaison"].astype("str").to_numpy()
    undated = out["m"].isna().to_numpy() | frame["provider"].isna().to_numpy()
    if undated.any():
        logger.warning(
            "%s: %d activit(ies) without a valid date or provider are left out",
            func,
            int(undated.sum()),
        )
    out = out.loc[~undated].reset_index(drop=True)
    out["m"] = out["m"].astype("int64")
    return out
