"""The inputs of the prospect score: its constants, the checks, and the tie and panel tables."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import check_frame
from referral_graph.exceptions import ParameterError, SchemaError

logger = logging.getLogger("referral_graph.prospects")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Method = Literal["adamic_adar", "common_neighbors", "jaccard", "resource_allocation"]

#: The link-prediction measures of :func:`prospects` (``method=``).
METHODS: tuple[str, ...] = ("adamic_adar", "common_neighbors", "jaccard", "resource_allocation")
#: The relations of the projection (keys of ``relation_weights``).
RELATIONS: tuple[str, ...] = ("referral", "co_referral", "practice")
#: The kinds of prospect, in the order they are checked.
KINDS: tuple[str, ...] = ("competitor_referrer", "second_degree")

# ----------------------------------------------------------------------------- checks


def _check_weights(value: Any, func: str) -> dict[str, float]:
    weights = dict.fromkeys(RELATIONS, 1.0)
    if value is None:
        return weights
    if not isinstance(value, Mapping):
        raise ParameterError(
            f"The 'relation_weights' parameter of {func} must be a mapping of "
            f"{', '.join(RELATIONS)} to weights >= 0. Got {value!r} instead."
        )
    for key, weight in value.items():
        if key not in RELATIONS:
            raise ParameterError(
                f"The 'relation_weights' parameter of {func} must only have the keys "
                f"{', '.join(repr(r) for r in RELATIONS)}. Got {key!r} instead."
            )
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float | np.integer | np.floating)
            or not math.isfinite(float(weight))
            or float(weight) < 0
        ):
            raise ParameterError(
                f"The 'relation_weights' parameter of {func} must map {key!r} to a finite "
                f"number >= 0. Got {weight!r} instead."
            )
        weights[str(key)] = float(weight)
    if not any(weights.values()):
        raise ParameterError(
            f"The 'relation_weights' parameter of {func} must give at least one relation a "
            f"positive weight. Got {value!r} instead."
        )
    return weights


def _text_column(providers: pd.DataFrame, column: str, rows: IntArray) -> pd.Series:
    """``column`` of the providers `rows` (stripped; blanks and rows -1 are missing).

    `rows` are positions in `providers` (an id's first row, see :func:`_first_rows`),
    so no id is hashed here; the result has a default index.
    """
    if column not in providers.columns:
        return pd.Series(pd.NA, index=pd.RangeIndex(len(rows)), dtype="str")
    found = rows >= 0
    values = pd.Series(providers[column].to_numpy()[np.where(found, rows, 0)])
    values = values.astype("str").str.strip()
    return values.where((values.str.len() > 0).to_numpy() & found)


def _first_rows(codes: IntArray, n: int) -> IntArray:
    """The first row holding each of the codes ``0 .. n - 1`` in `codes` (-1: none)."""
    first = np.full(n, -1, dtype=np.int64)
    distinct, where = np.unique(codes, return_index=True)
    first[distinct[distinct >= 0]] = where[distinct >= 0]
    return first


# ----------------------------------------------------------------------------- inputs


@dataclass
class _Ties:
    """Summed ties as codes: one row per (source, target), sorted by them, referrals > 0."""

    ids: pd.Index  # sorted distinct ids; source and target are positions in it
    source: IntArray
    target: IntArray
    referrals: FloatArray


def _ties_frame(ties: Any, panel: Any, func: str) -> _Ties:
    """Clean summed ties (referrals > 0, no self-ties) from a tie table or panel."""
    if ties is None and panel is None:
        raise ParameterError(
            f"The 'ties' parameter of {func} must be a tie table when no panel is given. "
            "Got None instead."
        )
    hint = "build it with referral_graph.aggregate.tie_table (or edge_panel)."
    frame = check_frame(
        ties if ties is not None else panel,
        "ties" if ties is not None else "panel",
        func,
        ["source", "target", "referrals"],
        hint,
    )
    referrals = pd.to_numeric(frame["referrals"], errors="coerce")
    bad = referrals.isna() | (referrals < 0)
    if bool(bad.any()):
        raise SchemaError(
            f"The ties of {func} must hold referral counts >= 0; {int(bad.sum())} row(s) do not."
        )
    blank = frame["source"].isna().to_numpy() | frame["target"].isna().to_numpy()
    source = frame["source"].astype("str")
    target = frame["target"].astype("str")
    ids = _codes.sorted_ids(source[~blank], target[~blank])
    src = _codes.codes(source, ids)
    tgt = _codes.codes(target, ids)
    blank |= (src < 0) | (tgt < 0)
    loops = (src == tgt) & ~blank
    keep = ~blank & ~loops & (referrals > 0).to_numpy()
    if int(loops.sum()):
        logger.info("%s: %d self-referral row(s) left out", func, int(loops.sum()))
    n = max(len(ids), 1)
    keys = src[keep] * n + tgt[keep]
    if bool(np.all(keys[1:] > keys[:-1])):  # already one row per pair, sorted (a tie table)
        group, pairs = np.arange(len(keys), dtype=np.int64), keys
    else:
        group, pairs = pd.factorize(keys, sort=True)
    values = referrals.to_numpy(dtype=np.float64)[keep]
    summed = np.bincount(group, weights=values, minlength=len(pairs)).astype(np.float64)
    return _Ties(ids, (pairs // n).astype(np.int64), (pairs % n).astype(np.int64), summed)


def _panel_months(panel: pd.DataFrame, func: str) -> pd.DataFrame:
    """source, target, referrals and ``m`` (months since year 0) of an edge panel."""
    frame = check_frame(
        panel,
        "panel",
        func,
        ["source", "target", "month", "referrals"],
        "build it with referral_graph.aggregate.edge_panel.",
    )
    months = pd.to_datetime(frame["month"], errors="coerce")
    if bool(months.isna().any()):
        raise SchemaError(
            f"The panel of {func} has {int(months.isna().sum())} row(s) without a valid month."
        )
    return pd.DataFrame(
        {
            "source": frame["source"].astype("str"),
            "target": frame["target"].astype("str"),
            "referrals": pd.to_numeric(frame["referrals"], errors="coerce"),
            "m": (months.dt.year * 12 + months.dt.month - 1).astype("int64"),
        }
    ).reset_index(drop=True)


def _month_start(number: int) -> pd.Timestamp:
    return pd.Timestamp(year=number // 12, month=number % 12 + 1, day=1)
