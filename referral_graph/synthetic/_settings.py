"""The generator's settings, checked once, and its month calendar (private).

:func:`check_settings` checks every parameter of
:func:`referral_graph.synthetic.generate_market` (in the order of its
signature, so the first bad one is the one reported) and returns them as a
:class:`Settings`; :meth:`Settings.record` is the parameter part of
``Market.params``. :func:`month_table` lays out the months of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph._checks import check_float, check_int
from referral_graph.exceptions import ParameterError
from referral_graph.synthetic._tables import DEFAULT_DENSITY, LIAISONS, TOWNS


@dataclass(frozen=True)
class Settings:
    """The checked parameters of ``generate_market``.

    Counts are Python ints, ``start`` is the first day of the first month and
    ``events_per_month`` is resolved (3.2 per provider by default); the other
    numbers are kept as given (checked, not converted to float): the generator
    computes with them as passed, and ``record`` converts them.
    """

    n_providers: int
    n_months: int
    start: pd.Timestamp
    seed: int
    n_competitors: int
    events_per_month: float
    rates: dict[str, float]  # the six behaviour rates, by parameter name
    seasonality: float
    trend: float
    visit_effect: float
    visit_duration: int
    visit_share: float
    n_liaisons: int
    n_towns: int
    focus: str
    loyal_share: float
    volume_sigma: float
    dispersion: float
    distance_scale: float
    patient_ids: bool
    amounts: bool
    dirty: float

    def record(self) -> dict[str, Any]:
        """The parameters as recorded in ``Market.params`` (numbers as Python floats)."""
        return {
            "n_providers": self.n_providers,
            "n_months": self.n_months,
            "start": str(self.start.date()),
            "seed": self.seed,
            "n_competitors": self.n_competitors,
            "events_per_month": self.events_per_month,
            **{k: float(v) for k, v in self.rates.items()},
            "seasonality": float(self.seasonality),
            "trend": float(self.trend),
            "visit_effect": float(self.visit_effect),
            "visit_duration": self.visit_duration,
            "visit_share": float(self.visit_share),
            "n_liaisons": self.n_liaisons,
            "n_towns": self.n_towns,
            "focus": self.focus,
            "loyal_share": float(self.loyal_share),
            "volume_sigma": float(self.volume_sigma),
            "dispersion": float(self.dispersion),
            "distance_scale": float(self.distance_scale),
            "patient_ids": self.patient_ids,
            "amounts": self.amounts,
            "dirty": float(self.dirty),
        }


def check_settings(
    fn: str,
    *,
    n_providers: int,
    n_months: int,
    start: str | pd.Timestamp,
    seed: int,
    n_competitors: int,
    events_per_month: float | None,
    churn_rate: float,
    drift_rate: float,
    dip_rate: float,
    new_referrer_rate: float,
    retire_rate: float,
    decline_rate: float,
    seasonality: float,
    trend: float,
    visit_effect: float,
    visit_duration: int,
    visit_share: float,
    n_liaisons: int,
    n_towns: int,
    focus: str,
    loyal_share: float,
    volume_sigma: float,
    dispersion: float,
    distance_scale: float,
    patient_ids: bool,
    amounts: bool,
    dirty: float,
) -> Settings:
    """Check the parameters of `fn` (``generate_market``), raising ParameterError at the first
    bad one, and return them as :class:`Settings`."""
    check_int(n_providers, "n_providers", fn, low=50, high=5_000_000)
    check_int(n_months, "n_months", fn, low=3, high=600)
    check_int(seed, "seed", fn, low=0, high=2**63 - 1)
    check_int(n_competitors, "n_competitors", fn, low=1, high=20)
    check_int(visit_duration, "visit_duration", fn, low=1, high=36)
    check_int(n_liaisons, "n_liaisons", fn, low=1, high=len(LIAISONS))
    check_int(n_towns, "n_towns", fn, low=1, high=len(TOWNS))
    if events_per_month is not None:
        check_float(events_per_month, "events_per_month", fn, low=0.0, high=1e9)
    rates = {
        "churn_rate": churn_rate,
        "drift_rate": drift_rate,
        "dip_rate": dip_rate,
        "new_referrer_rate": new_referrer_rate,
        "retire_rate": retire_rate,
        "decline_rate": decline_rate,
    }
    for name, value in rates.items():
        check_float(value, name, fn, low=0.0, high=1.0)
    if sum(rates.values()) > 1.0 + 1e-12:
        raise ParameterError(
            f"The behaviour rates of {fn} (churn_rate, drift_rate, dip_rate, new_referrer_rate, "
            f"retire_rate, decline_rate) must sum to at most 1. Got {sum(rates.values()):g} "
            "instead."
        )
    check_float(seasonality, "seasonality", fn, low=0.0, high=1.0)
    check_float(trend, "trend", fn, low=-0.5, high=1.0)
    check_float(visit_effect, "visit_effect", fn, low=0.0, high=10.0)
    check_float(visit_share, "visit_share", fn, low=0.0, high=0.9)
    check_float(loyal_share, "loyal_share", fn, low=0.0, high=1.0)
    check_float(volume_sigma, "volume_sigma", fn, low=0.0, high=3.0)
    check_float(dispersion, "dispersion", fn, low=0.0, high=5.0)
    check_float(distance_scale, "distance_scale", fn, low=1e-9, high=10_000.0)
    check_float(dirty, "dirty", fn, low=0.0, high=0.5)
    for flag, flag_name in ((patient_ids, "patient_ids"), (amounts, "amounts")):
        if not isinstance(flag, bool):
            raise ParameterError(
                f"The {flag_name!r} parameter of {fn} must be a bool. Got {flag!r} instead."
            )
    if not isinstance(focus, str) or not focus.strip():
        raise ParameterError(
            f"The 'focus' parameter of {fn} must be a non-empty str. Got {focus!r} instead."
        )
    first_month = _parse_start(start, fn)
    n_providers = int(n_providers)
    epm = float(DEFAULT_DENSITY * n_providers if events_per_month is None else events_per_month)
    return Settings(
        n_providers=n_providers,
        n_months=int(n_months),
        start=first_month,
        seed=int(seed),
        n_competitors=int(n_competitors),
        events_per_month=epm,
        rates=rates,
        seasonality=seasonality,
        trend=trend,
        visit_effect=visit_effect,
        visit_duration=int(visit_duration),
        visit_share=visit_share,
        n_liaisons=int(n_liaisons),
        n_towns=int(n_towns),
        focus=focus,
        loyal_share=loyal_share,
        volume_sigma=volume_sigma,
        dispersion=dispersion,
        distance_scale=distance_scale,
        patient_ids=patient_ids,
        amounts=amounts,
        dirty=dirty,
    )


def _parse_start(start: object, fn: str) -> pd.Timestamp:
    stamp: object
    try:
        stamp = pd.Timestamp(start)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        stamp = None
    if not isinstance(stamp, pd.Timestamp) or pd.isna(stamp) or not 1900 <= stamp.year <= 2200:
        raise ParameterError(
            f"The 'start' parameter of {fn} must be a date such as '2024-01-01'. "
            f"Got {start!r} instead."
        )
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1)


@dataclass
class Months:
    first_day: npt.NDArray[np.int64]  # days since 1970-01-01 of each month's first day
    n_days: npt.NDArray[np.int64]
    calendar_month: npt.NDArray[np.int64]  # 0 = January
    starts: npt.NDArray[np.datetime64]


def month_table(first: pd.Timestamp, n_months: int) -> Months:
    start = np.datetime64(f"{first.year:04d}-{first.month:02d}", "M")
    bounds = (start + np.arange(n_months + 1)).astype("datetime64[D]")
    days = bounds.astype(np.int64)
    return Months(
        first_day=days[:-1],
        n_days=np.diff(days),
        calendar_month=(first.month - 1 + np.arange(n_months)) % 12,
        starts=bounds[:-1],
    )
