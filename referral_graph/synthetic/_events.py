"""The referral events of the synthetic market (private).

:func:`calibrate` scales the tie rates to the expected volume;
:func:`sample_events` draws each tie's monthly counts, days and patients;
:func:`assemble_events` turns them into the ``events`` table (payers,
amounts, service lines); :func:`plant_dirty` plants the bad rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from referral_graph.exceptions import ParameterError
from referral_graph.synthetic._activities import Visits
from referral_graph.synthetic._arrays import (
    FloatArray,
    IntArray,
    arrow_to_series,
    digits_to_arrow,
    take,
    wsum,
)
from referral_graph.synthetic._dynamics import Dynamics
from referral_graph.synthetic._providers import Providers
from referral_graph.synthetic._referrers import Referrers, Ties
from referral_graph.synthetic._settings import Months
from referral_graph.synthetic._tables import (
    AMOUNT_MEDIAN,
    AMOUNT_SIGMA,
    BAD_DATES,
    DIRTY_KINDS,
    EVENTS_PER_PATIENT,
    KINDS,
    N_LINES,
    PAYER_FACTOR,
    PAYER_MIX,
    PAYERS,
)


def calibrate(
    refs: Referrers, ties: Ties, dyn: Dynamics, growth: FloatArray, target: float
) -> tuple[float, FloatArray]:
    """Scale so that the expected events without the visit effect equal `target`."""
    n_ref = len(refs.provider)
    base = wsum(ties.ref, ties.base, n_ref)
    shift = wsum(ties.ref, ties.shift, n_ref)
    per_month = growth[:, None] * dyn.activity * (base[None, :] + shift[None, :] * dyn.ramp)
    expected = per_month.sum(axis=0)
    total = float(expected.sum())
    scale = target / total if total > 0 else 0.0
    return scale, expected * scale


@dataclass
class Sample:
    tie: npt.NDArray[np.int32]
    day: npt.NDArray[np.int32]  # days since the first month's first day
    patient: npt.NDArray[np.signedinteger[Any]]  # global patient index
    panel_start: IntArray
    n_patients: int
    expected_tie: FloatArray
    expected_focus_last: FloatArray  # per referrer, last month
    expected_last: FloatArray


def sample_events(
    rng: np.random.Generator,
    refs: Referrers,
    ties: Ties,
    dyn: Dynamics,
    visits: Visits,
    growth: FloatArray,
    months: Months,
    expected_by_ref: FloatArray,
    visit_effect: float,
    dispersion: float,
) -> Sample:
    n_ref, n_ties, n_months = len(refs.provider), len(ties.ref), len(months.n_days)
    panel = np.maximum(1, np.ceil(expected_by_ref / EVENTS_PER_PATIENT)).astype(np.int64)
    panel_start = np.concatenate([[0], np.cumsum(panel)[:-1]]).astype(np.int64)
    max_panel = int(panel.max()) if n_ref else 1
    if 31 * max(n_ties, 1) * max_panel >= 2**62:  # pragma: no cover - beyond any sane size
        raise ParameterError("The market is too large to generate in one piece.")
    tie_panel = panel[ties.ref]
    expected_tie = np.zeros(n_ties)
    tie_index = np.arange(n_ties, dtype=np.int64)
    uplift = visit_effect * ties.focus
    parts_tie: list[npt.NDArray[np.int32]] = []
    parts_day: list[npt.NDArray[np.int32]] = []
    parts_pat: list[npt.NDArray[np.signedinteger[Any]]] = []
    pat_type = np.int32 if int(panel.sum()) < 2**31 else np.int64
    offset = 0
    rate = np.zeros(n_ties)
    for m in range(n_months):
        r = ties.ref
        rate = growth[m] * dyn.activity[m, r] * (ties.base + ties.shift * dyn.ramp[m, r])
        rate *= 1.0 + uplift * visits.treated[m, r]
        np.maximum(rate, 0.0, out=rate)
        expected_tie += rate
        live = np.flatnonzero(rate > 0)
        lam = rate[live]
        if dispersion > 0:
            lam = lam * rng.gamma(1.0 / dispersion, dispersion, len(live))
        counts = rng.poisson(lam)
        hit = counts > 0
        tie = np.repeat(tie_index[live[hit]], counts[hit])
        day = rng.integers(0, months.n_days[m], len(tie))
        pat = (rng.random(len(tie)) * tie_panel[tie]).astype(np.int64)
        # sort by (day, tie, patient) and merge same patient / receiver / day
        key = (day * n_ties + tie) * max_panel + pat
        key.sort()
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        pat = key % max_panel
        rest = key // max_panel
        tie = rest % n_ties
        parts_tie.append(tie.astype(np.int32))
        parts_day.append((rest // n_ties + offset).astype(np.int32))
        parts_pat.append((panel_start[ties.ref[tie]] + pat).astype(pat_type))
        offset += int(months.n_days[m])
    focus_last = wsum(ties.ref, rate * ties.focus, n_ref)
    total_last = wsum(ties.ref, rate, n_ref)
    return Sample(
        tie=np.concatenate(parts_tie),
        day=np.concatenate(parts_day),
        patient=np.concatenate(parts_pat),
        panel_start=panel_start,
        n_patients=int(panel.sum()),
        expected_tie=expected_tie,
        expected_focus_last=focus_last,
        expected_last=total_last,
    )


def assemble_events(
    rng: np.random.Generator,
    prov: Providers,
    refs: Referrers,
    ties: Ties,
    sample: Sample,
    months: Months,
    patient_ids: bool,
    amounts: bool,
) -> pd.DataFrame:
    # built column by column, with small integer codes, to keep the peak memory low
    tie = sample.tie
    line = prov.kind.astype(np.int8)[ties.target][tie]
    # payer per patient, from the referrer type's mix
    n_pat = sample.n_patients
    owner_kind = np.repeat(refs.kind.astype(np.int8), np.diff(np.append(sample.panel_start, n_pat)))
    cum = np.cumsum(np.asarray(PAYER_MIX, dtype=np.float64), axis=1)
    u = rng.random(n_pat)
    patient_payer = np.zeros(n_pat, dtype=np.int8)
    for j in range(len(PAYERS) - 1):
        patient_payer += u >= cum[owner_kind, j]
    del owner_kind, u
    payer = patient_payer[sample.patient]
    del patient_payer
    dates = sample.day.astype("datetime64[D]")
    dates += np.timedelta64(int(months.first_day[0]), "D")
    columns: dict[str, Any] = {
        "source": take(prov.ids, ties.source.astype(np.int32)[tie]),
        "target": take(prov.ids, ties.target.astype(np.int32)[tie]),
        "date": pd.Series(dates.astype("datetime64[ns]"), copy=False),
    }
    del dates
    if patient_ids:
        # a scrambled numbering, so ids do not reveal the referrer
        multiplier = 2_654_435_761 % max(n_pat, 1) or 1
        while math.gcd(multiplier, n_pat) != 1:
            multiplier += 1
        scrambled = sample.patient.astype(np.int64)
        scrambled *= multiplier
        scrambled += 12_345
        scrambled %= max(n_pat, 1)
        scrambled += 1
        width = max(8, len(str(n_pat)))
        columns["patient_id"] = arrow_to_series(digits_to_arrow(scrambled, width, b"P"))
        del scrambled
    if amounts:
        log_median = np.log(np.asarray(AMOUNT_MEDIAN))[:, None]
        log_factor = np.log(np.asarray(PAYER_FACTOR))[None, :]
        location = (log_median + log_factor).ravel()  # (line, payer) -> log median
        amount = rng.standard_normal(len(tie))
        amount *= AMOUNT_SIGMA
        amount += location[line.astype(np.int64) * len(PAYERS) + payer]
        np.exp(amount, out=amount)
        np.round(amount, 2, out=amount)
        columns["amount"] = amount
    labels = pa.array([k[1] for k in KINDS[:N_LINES]])
    columns["service_line"] = take(labels, line)
    columns["payer"] = take(pa.array(list(PAYERS)), payer)
    return pd.DataFrame(columns, copy=False)


def plant_dirty(
    rng: np.random.Generator, events: pd.DataFrame, dirty: float, amounts: bool
) -> tuple[pd.DataFrame, dict[str, int]]:
    kinds = [k for k in DIRTY_KINDS if amounts or k != "negative_amount"]
    n = len(events)
    n_bad = min(round(dirty * n), n)
    counts = {
        k: n_bad // len(kinds) + (1 if i < n_bad % len(kinds) else 0) for i, k in enumerate(kinds)
    }
    rows = np.asarray(rng.choice(n, size=n_bad, replace=False), dtype=np.int64)
    picked: dict[str, IntArray] = {}
    start = 0
    for k in kinds:
        picked[k] = np.sort(rows[start : start + counts[k]])
        start += counts[k]

    out = events.copy()
    days = out["date"].to_numpy().astype("datetime64[D]")
    date_text = np.datetime_as_string(days, unit="D").astype(object)
    date_text[picked["bad_date"]] = np.resize(
        np.asarray(BAD_DATES, dtype=object), counts["bad_date"]
    )
    out["date"] = pd.Series(date_text, index=out.index, dtype="str")

    source = out["source"].to_numpy(dtype=object)
    target = out["target"].to_numpy(dtype=object)
    blank = picked["blank_id"]  # half empty strings (sources), half missing (targets)
    source[blank[::2]] = ""
    target[blank[1::2]] = None
    self_rows = picked["self_referral"]
    target[self_rows] = source[self_rows]
    invalid = picked["invalid_npi"]  # the check digit is off by one
    for column, rows_k in ((source, invalid[::2]), (target, invalid[1::2])):
        column[rows_k] = [str(v)[:9] + str((int(str(v)[9]) + 1) % 10) for v in column[rows_k]]
    out["source"] = pd.Series(source, index=out.index, dtype="str")
    out["target"] = pd.Series(target, index=out.index, dtype="str")
    if amounts:
        amount = out["amount"].to_numpy(dtype=np.float64, copy=True)
        amount[picked["negative_amount"]] *= -1.0
        out["amount"] = amount
    dup = picked["duplicate"]
    if len(dup):  # an exact copy right after the original
        copies = np.ones(n, dtype=np.int64)
        copies[dup] = 2
        out = out.iloc[np.repeat(np.arange(n), copies)].reset_index(drop=True)
    return out, counts
