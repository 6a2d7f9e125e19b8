"""The referrers' planted behaviours over time, and the market's season (private).

:func:`assign_dynamics` draws each referrer's behaviour (stable, switch,
drift, retire, dip, new, decline), its change month and magnitude, and the
competitor a switching or drifting referrer moves to, as the activity ``a_i(m)``
and ramp ``rho_i(m)`` of the model; :func:`add_shifts` adds those moves of
volume from the focus to the competitor to the organisation shares;
:func:`seasonal_growth` is the market's ``g(m)`` (seasonality and trend).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from referral_graph.synthetic._arrays import FloatArray, IntArray, window, wsum
from referral_graph.synthetic._providers import Orgs
from referral_graph.synthetic._referrers import Entries, Referrers
from referral_graph.synthetic._settings import Months
from referral_graph.synthetic._tables import (
    BEHAVIOURS,
    DECLINE,
    DIP,
    DRIFT,
    ELIGIBLE_FOCUS_SHARE,
    N_LINES,
    NEW,
    RETIRE,
    SEASON,
    STABLE,
    SWITCH,
)


@dataclass
class Dynamics:
    behaviour: IntArray
    change: IntArray  # month index, -1 when stable
    end: IntArray
    magnitude: FloatArray
    to_org: IntArray  # -1 unless switch/drift
    activity: FloatArray  # (months, referrers): a_i(m)
    ramp: FloatArray  # (months, referrers): rho_i(m)


def assign_dynamics(
    rng: np.random.Generator,
    refs: Referrers,
    entries: Entries,
    orgs: Orgs,
    n_months: int,
    rates: dict[str, float],
) -> Dynamics:
    n_ref = len(refs.provider)
    n = n_months
    competitors = np.flatnonzero(orgs.is_system)
    competitors = competitors[competitors != 0]
    eligible = (refs.org != 0) & (entries.focus_share >= ELIGIBLE_FOCUS_SHARE)
    if len(competitors) == 0:
        eligible[:] = False
    probs = np.zeros((n_ref, len(BEHAVIOURS)))
    probs[:, SWITCH] = np.where(eligible, rates["churn_rate"], 0.0)
    probs[:, DRIFT] = np.where(eligible, rates["drift_rate"], 0.0)
    probs[:, RETIRE] = rates["retire_rate"]
    probs[:, DIP] = rates["dip_rate"]
    probs[:, NEW] = rates["new_referrer_rate"]
    probs[:, DECLINE] = rates["decline_rate"]
    probs[:, STABLE] = 1.0 - probs[:, 1:].sum(axis=1)
    cum = np.cumsum(probs, axis=1)
    u = rng.random(n_ref)
    behaviour = np.minimum((u[:, None] >= cum).sum(axis=1), len(BEHAVIOURS) - 1).astype(np.int64)

    windows = {
        SWITCH: (max(1, n // 5), max(1, n - 3)),
        DRIFT: (max(1, n // 6), max(1, n - 4)),
        RETIRE: (max(1, n // 5), n - 1),
        DIP: (1, max(1, n - 3)),
        NEW: (max(1, n // 6), max(1, n - 3)),
        DECLINE: (0, max(0, n // 2)),
    }
    change = np.full(n_ref, -1, dtype=np.int64)
    for code, (low, high) in windows.items():
        rows = behaviour == code
        change[rows] = window(rng, low, high, int(rows.sum()))
    length = np.ones(n_ref, dtype=np.int64)
    length[behaviour == DRIFT] = window(rng, 4, 12, int((behaviour == DRIFT).sum()))
    length[behaviour == DIP] = window(rng, 2, 4, int((behaviour == DIP).sum()))
    length[behaviour == NEW] = 3
    magnitude = np.zeros(n_ref)
    spans: dict[int, tuple[float, float]] = {
        SWITCH: (0.8, 1.0),
        DRIFT: (0.5, 0.9),
        DIP: (0.5, 0.9),
        DECLINE: (0.4, 0.8),
    }
    for code, (lo, hi) in spans.items():
        rows = behaviour == code
        magnitude[rows] = rng.uniform(lo, hi, int(rows.sum()))
    magnitude[(behaviour == RETIRE) | (behaviour == NEW)] = 1.0

    to_org = np.full(n_ref, -1, dtype=np.int64)
    movers = np.flatnonzero((behaviour == SWITCH) | (behaviour == DRIFT))
    if len(movers):
        weight = entries.org_share[np.ix_(movers, competitors)] + 0.02
        gumbel = -np.log(-np.log(rng.random(weight.shape)))
        to_org[movers] = competitors[np.argmax(np.log(weight) + gumbel, axis=1)]

    months = np.arange(n)[:, None]
    c = change[None, :]
    activity = np.ones((n, n_ref))
    ramp = np.zeros((n, n_ref))
    b = behaviour[None, :]
    ramp = np.where(b == SWITCH, (months >= c).astype(np.float64), ramp)
    drift_ramp = np.clip((months - c + 1) / length[None, :], 0.0, 1.0)
    ramp = np.where(b == DRIFT, drift_ramp, ramp)
    activity = np.where((b == RETIRE) & (months >= c), 0.0, activity)
    in_dip = (months >= c) & (months < c + length[None, :])
    activity = np.where((b == DIP) & in_dip, 1.0 - magnitude[None, :], activity)
    new_level = np.clip((months - c + 1) / 3.0, 0.0, 1.0)
    activity = np.where(b == NEW, new_level, activity)
    decline_len = np.maximum(n - change, 1)[None, :]
    decline_level = 1.0 - magnitude[None, :] * np.clip((months - c + 1) / decline_len, 0.0, 1.0)
    activity = np.where(b == DECLINE, decline_level, activity)

    end = change.copy()
    full = (behaviour == DRIFT) | (behaviour == DIP) | (behaviour == NEW)
    end[full] = change[full] + length[full] - 1
    end[behaviour == DECLINE] = n - 1
    return Dynamics(
        behaviour=behaviour,
        change=change,
        end=end,
        magnitude=magnitude,
        to_org=to_org,
        activity=activity,
        ramp=ramp,
    )


def add_shifts(entries: Entries, dyn: Dynamics, orgs: Orgs) -> Entries:
    """Add the focus -> competitor volume moves of switching and drifting referrers."""
    movers = np.flatnonzero(dyn.to_org >= 0)
    if len(movers) == 0:
        return entries
    target = dyn.to_org[movers]
    focus = entries.focus_by_line[movers]
    movable = (focus > 0) & entries.present[target].any(axis=2)
    mi, line = np.nonzero(movable)
    moved = focus[mi, line] * dyn.magnitude[movers[mi]]
    n_orgs = len(orgs.names)
    ref = np.concatenate([entries.ref, movers[mi], movers[mi]])
    lines = np.concatenate([entries.line, line, line]).astype(np.int64)
    org = np.concatenate([entries.org, np.zeros(len(mi), dtype=np.int64), target[mi]])
    share = np.concatenate([entries.share, np.zeros(2 * len(mi))])
    delta = np.concatenate([entries.delta, -moved, moved])
    key = (ref * N_LINES + lines) * n_orgs + org
    unique, inverse = np.unique(key, return_inverse=True)
    entries.org = unique % n_orgs
    entries.line = (unique // n_orgs) % N_LINES
    entries.ref = unique // (n_orgs * N_LINES)
    entries.share = wsum(inverse, share, len(unique))
    entries.delta = wsum(inverse, delta, len(unique))
    return entries


def seasonal_growth(months: Months, seasonality: float, trend: float) -> FloatArray:
    """The market's ``g(m)``: the seasonal profile times the yearly trend."""
    season = np.asarray(SEASON, dtype=np.float64)[months.calendar_month]
    n_months = len(months.n_days)
    growth: FloatArray = (1.0 + seasonality * season) * (1.0 + trend) ** (
        np.arange(n_months) / 12.0
    )
    return growth
