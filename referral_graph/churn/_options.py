"""The churn definitions as one checked value, cutoffs and month starts, the array types.

:class:`_Options` holds the definitions of the package docstring (baseline window,
activity threshold, horizon, churn fraction, recent window), checked once per call
and used as a cache key; :func:`_parse_cutoffs` reads the month starts callers
give. Every other churn module builds on these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._checks import check_float, check_int
from referral_graph.exceptions import ParameterError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
CutoffsLike = str | pd.Timestamp | Iterable[str | pd.Timestamp]


@dataclass(frozen=True)
class _Options:
    baseline_months: int = 12
    min_referrals: int = 6
    horizon: int = 3
    churn_fraction: float = 0.25
    recent_months: int = 3

    @classmethod
    def make(
        cls,
        fn: str,
        *,
        baseline_months: int,
        min_referrals: int,
        horizon: int,
        churn_fraction: float,
        recent_months: int,
    ) -> _Options:
        baseline = check_int(baseline_months, "baseline_months", fn, low=2, high=120)
        return cls(
            baseline_months=baseline,
            min_referrals=check_int(min_referrals, "min_referrals", fn, low=1, high=1_000_000_000),
            horizon=check_int(horizon, "horizon", fn, low=1, high=24),
            churn_fraction=check_float(
                churn_fraction, "churn_fraction", fn, low=0.0, high=1.0, low_open=True
            ),
            recent_months=check_int(recent_months, "recent_months", fn, low=1, high=baseline - 1),
        )


#: The baseline window when the history allows it, and the shortest ``"auto"`` goes to.
DEFAULT_BASELINE = 12
MIN_BASELINE = 6


def _auto_baseline(baseline_months: Any, n_months: int, horizon: Any) -> Any:
    """``baseline_months="auto"``: 12 months, or fewer (down to 6) on a short history.

    A backtest needs the baseline and two horizons (one to train, one to test):
    on a history shorter than ``12 + 2 * horizon`` months the baseline shrinks to
    fit, so that 12 to 17 months of data still give an at-risk list and its
    backtest. Any other value is returned as given (and checked later).
    """
    if not isinstance(baseline_months, str) or baseline_months != "auto":
        return baseline_months
    h = horizon if isinstance(horizon, int) and not isinstance(horizon, bool) else 3
    return max(MIN_BASELINE, min(DEFAULT_BASELINE, n_months - 2 * h))


def _month_start(number: int) -> pd.Timestamp:
    return pd.Timestamp(year=number // 12, month=number % 12 + 1, day=1)


def _parse_cutoffs(cutoffs: CutoffsLike, fn: str, name: str = "cutoffs") -> list[pd.Timestamp]:
    items: list[Any]
    if isinstance(cutoffs, str | pd.Timestamp) or not isinstance(cutoffs, Iterable):
        items = [cutoffs]
    else:
        items = list(cutoffs)
    if not items:
        raise ParameterError(f"The '{name}' parameter of {fn} must name at least one month.")
    out: list[pd.Timestamp] = []
    for item in items:
        try:
            stamp = pd.Timestamp(item)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"The '{name}' parameter of {fn} must hold month starts such as "
                f"'2024-07-01'. Got {item!r} instead."
            ) from exc
        if pd.isna(stamp):
            raise ParameterError(f"The '{name}' parameter of {fn} must not be missing.")
        if stamp.tz is not None:
            stamp = stamp.tz_localize(None)
        if stamp != stamp.normalize() or stamp.day != 1:
            raise ParameterError(
                f"The '{name}' parameter of {fn} must hold month starts (the first day of a "
                f"month, e.g. '{stamp.strftime('%Y-%m')}-01'). Got {item!r} instead."
            )
        out.append(stamp)
    return sorted(set(out))
