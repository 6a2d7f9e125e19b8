"""The focus organisation's outreach in the synthetic market (private).

:func:`schedule_visits` plans the liaisons' visits (weighted towards volume,
independent of the planted behaviour) and the months under the visit effect;
:func:`make_activities` writes the outreach log: those visits and the placebo
calls, lunches and CME events, each with the liaison covering the town.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from referral_graph.synthetic._arrays import BoolArray, FloatArray, IntArray, take, window
from referral_graph.synthetic._dynamics import Dynamics
from referral_graph.synthetic._providers import Providers
from referral_graph.synthetic._referrers import Referrers
from referral_graph.synthetic._settings import Months
from referral_graph.synthetic._tables import HOSP, LIAISONS, MAX_VISITS


@dataclass
class Visits:
    ref: IntArray  # one row per visit, sorted by (referrer, month)
    month: IntArray
    day: IntArray  # days since 1970-01-01
    treated: BoolArray  # (months, referrers)
    candidates: IntArray  # referrers eligible for outreach
    weight: FloatArray  # their outreach weight (sqrt volume, normalised)


def schedule_visits(
    rng: np.random.Generator,
    refs: Referrers,
    dyn: Dynamics,
    months: Months,
    visit_share: float,
    visit_duration: int,
) -> Visits:
    n_ref, n_months = len(refs.provider), len(months.n_days)
    candidates = np.flatnonzero(refs.kind > HOSP)
    root = np.sqrt(refs.volume[candidates])
    weight = root / root.mean() if len(root) and root.mean() > 0 else np.ones(len(root))
    prob = np.clip(visit_share * weight, 0.0, 0.95)
    for _ in range(10):  # restore the mean after capping
        if prob.mean() <= 0 or abs(prob.mean() - visit_share) < 1e-6:
            break
        prob = np.clip(prob * visit_share / prob.mean(), 0.0, 0.95)
    visited = candidates[rng.random(len(candidates)) < prob]
    low = max(1, n_months // 6)
    month = window(rng, low, max(low, n_months - 2), len(visited))
    ref_parts = [visited]
    month_parts = [month]
    alive = np.ones(len(visited), dtype=bool)
    current = month
    for _ in range(MAX_VISITS - 1):
        alive &= rng.random(len(visited)) < 0.4
        current = current + rng.integers(3, 9, len(visited))
        keep = alive & (current < n_months)
        ref_parts.append(visited[keep])
        month_parts.append(current[keep])
    v_ref = np.concatenate(ref_parts)
    v_month = np.concatenate(month_parts).astype(np.int64)
    # drop visits in months without referrals (after retiring, before appearing)
    active = dyn.activity[v_month, v_ref] > 0
    v_ref, v_month = v_ref[active], v_month[active]
    order = np.lexsort((v_month, v_ref))
    v_ref, v_month = v_ref[order], v_month[order]
    marks = np.zeros((n_months + 1, n_ref), dtype=np.int32)
    np.add.at(marks, (np.minimum(v_month + 1, n_months), v_ref), 1)
    np.add.at(marks, (np.minimum(v_month + 1 + visit_duration, n_months), v_ref), -1)
    treated = np.cumsum(marks, axis=0)[:n_months] > 0
    day = months.first_day[v_month] + (rng.random(len(v_month)) * months.n_days[v_month]).astype(
        np.int64
    )
    return Visits(
        ref=v_ref.astype(np.int64),
        month=v_month,
        day=day,
        treated=treated,
        candidates=candidates,
        weight=weight,
    )


def make_activities(
    rng: np.random.Generator,
    refs: Referrers,
    prov: Providers,
    dyn: Dynamics,
    visits: Visits,
    months: Months,
    n_liaisons: int,
    n_towns: int,
) -> pd.DataFrame:
    n_months = len(months.n_days)
    cand, weight = visits.candidates, visits.weight
    kind_parts: list[IntArray] = []
    ref_parts: list[IntArray] = []
    month_parts: list[IntArray] = []
    # calls: about a third of the candidates, weighted by volume
    called = cand[rng.random(len(cand)) < np.clip(0.35 * weight, 0.0, 0.95)]
    n_calls = 1 + rng.poisson(1.5, len(called))
    call_ref = np.repeat(called, n_calls)
    ref_parts.append(call_ref)
    month_parts.append(rng.integers(0, n_months, len(call_ref)))
    kind_parts.append(np.ones(len(call_ref), dtype=np.int64))
    # lunches: one each for a tenth of the candidates
    lunch = cand[rng.random(len(cand)) < np.clip(0.1 * weight, 0.0, 0.95)]
    ref_parts.append(lunch)
    month_parts.append(rng.integers(0, n_months, len(lunch)))
    kind_parts.append(np.full(len(lunch), 2, dtype=np.int64))
    # CME events: a few evenings, each with several invitees
    for event_month in np.sort(rng.choice(n_months, size=max(1, n_months // 6), replace=False)):
        invited = cand[rng.random(len(cand)) < np.clip(0.05 * weight, 0.0, 0.95)]
        ref_parts.append(invited)
        month_parts.append(np.full(len(invited), event_month, dtype=np.int64))
        kind_parts.append(np.full(len(invited), 3, dtype=np.int64))
    ref = np.concatenate(ref_parts)
    month = np.concatenate(month_parts).astype(np.int64)
    kind = np.concatenate(kind_parts)
    active = dyn.activity[month, ref] > 0
    ref, month, kind = ref[active], month[active], kind[active]
    day = months.first_day[month] + (rng.random(len(ref)) * months.n_days[month]).astype(np.int64)
    day[kind == 3] = months.first_day[month[kind == 3]] + 14  # one date per CME evening
    # visits (already scheduled, with their days) come first
    ref = np.concatenate([visits.ref, ref])
    kind = np.concatenate([np.zeros(len(visits.ref), dtype=np.int64), kind])
    day = np.concatenate([visits.day, day])
    dates = day.astype("datetime64[D]").astype("datetime64[ns]")
    territory = np.arange(n_towns) % n_liaisons  # towns are ordered by size
    liaison = territory[refs.town[ref]]
    provider = refs.provider[ref]
    order = np.lexsort((kind, provider, dates))
    # two calls to one office on one day are one call
    keep = np.r_[True, np.diff(dates[order].astype(np.int64)) != 0]
    keep |= np.r_[True, np.diff(provider[order]) != 0] | np.r_[True, np.diff(kind[order]) != 0]
    order = order[keep]
    kinds = pa.array(["visit", "call", "lunch", "event"])
    return pd.DataFrame(
        {
            "date": pd.Series(dates[order]),
            "provider": take(prov.ids, provider[order]),
            "liaison": take(pa.array(list(LIAISONS[:n_liaisons])), liaison[order]),
            "kind": take(kinds, kind[order]),
        }
    )
