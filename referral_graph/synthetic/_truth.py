"""The planted ground truth of the synthetic market (private).

:func:`make_truth` is ``Market.truth`` (one row per referrer: behaviour,
shares, visits, expected referrals); :func:`make_tie_table` is
``Market.ties`` (one row per tie: base rate and expected referrals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from referral_graph.synthetic._activities import Visits
from referral_graph.synthetic._arrays import IntArray, take, wsum
from referral_graph.synthetic._dynamics import Dynamics
from referral_graph.synthetic._events import Sample
from referral_graph.synthetic._providers import Orgs, Providers
from referral_graph.synthetic._referrers import Referrers, Ties
from referral_graph.synthetic._settings import Months
from referral_graph.synthetic._tables import BEHAVIOURS, KINDS, N_LINES


def _month_dates(months: Months, index: IntArray) -> pd.Series:
    values = np.full(len(index), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = index >= 0
    values[ok] = months.starts[np.clip(index[ok], 0, len(months.starts) - 1)]
    return pd.Series(values)


def make_truth(
    prov: Providers,
    refs: Referrers,
    ties: Ties,
    dyn: Dynamics,
    visits: Visits,
    sample: Sample,
    orgs: Orgs,
    months: Months,
) -> pd.DataFrame:
    n_ref = len(refs.provider)
    base = wsum(ties.ref, ties.base, n_ref)
    focus_base = wsum(ties.ref, ties.base * ties.focus, n_ref)
    expected = wsum(ties.ref, sample.expected_tie, n_ref)
    n_visits = np.bincount(visits.ref, minlength=n_ref)
    first_day = np.full(n_ref, -1, dtype=np.int64)
    if len(visits.ref):
        # visits are sorted by (referrer, month): the first row of each referrer
        starts = np.flatnonzero(np.r_[True, visits.ref[1:] != visits.ref[:-1]])
        first_day[visits.ref[starts]] = visits.day[starts]
    frame = prov.frame.iloc[refs.provider]
    org_names = np.asarray([*orgs.names, None], dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        focus_share = np.where(base > 0, focus_base / np.where(base > 0, base, 1.0), np.nan)
        last = sample.expected_last
        share_end = np.where(
            last > 0, sample.expected_focus_last / np.where(last > 0, last, 1), np.nan
        )
    return pd.DataFrame(
        {
            "provider": frame["id"].to_numpy(),
            "role": frame["role"].to_numpy(),
            "specialty": frame["specialty"].to_numpy(),
            "organization": frame["organization"].to_numpy(),
            "city": frame["city"].to_numpy(),
            "base_rate": base,
            "loyalty": pd.Series(np.where(refs.loyal, "loyal", "split"), dtype="str"),
            "focus_share": focus_share,
            "behaviour": pd.Series(
                np.asarray(BEHAVIOURS, dtype=object)[dyn.behaviour], dtype="str"
            ),
            "change_month": _month_dates(months, dyn.change),
            "change_end": _month_dates(months, np.where(dyn.change >= 0, dyn.end, -1)),
            "magnitude": dyn.magnitude,
            "to_competitor": pd.Series(org_names[dyn.to_org], dtype="str"),
            "visited": n_visits > 0,
            "first_visit": _day_dates(first_day),
            "n_visits": n_visits.astype(np.int64),
            "treated_months": visits.treated.sum(axis=0).astype(np.int64),
            "expected_referrals": expected,
            "focus_share_end": share_end,
        }
    )


def _day_dates(days: IntArray) -> pd.Series:
    """Days since 1970-01-01 as datetime64[ns]; negative means missing."""
    values = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = days >= 0
    values[ok] = days[ok].astype("datetime64[D]")
    return pd.Series(values)


def make_tie_table(prov: Providers, ties: Ties, sample: Sample, orgs: Orgs) -> pd.DataFrame:
    labels = pa.array([k[1] for k in KINDS[:N_LINES]])
    return pd.DataFrame(
        {
            "source": take(prov.ids, ties.source),
            "target": take(prov.ids, ties.target),
            "service_line": take(labels, prov.kind[ties.target]),
            "organization": take(pa.array(orgs.names), prov.org[ties.target]),
            "in_network": ties.focus,
            "base_rate": ties.base,
            "expected_referrals": sample.expected_tie,
        }
    )
