"""Who refers, how much and to whom (private).

:func:`make_referrers` picks the referrers with their volumes and service-line
mixes; :func:`org_shares` the share each sends to each organisation per line
(the multinomial logit of the model), as sparse :class:`Entries`;
:func:`expand_ties` draws the receivers within each organisation and sums the
entries into :class:`Ties` with their base weights and shifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from referral_graph.synthetic._arrays import BoolArray, FloatArray, IntArray, wsum
from referral_graph.synthetic._providers import Orgs, Providers, town_distances
from referral_graph.synthetic._tables import (
    HOSP,
    LOYAL_TAU,
    MIX_CONCENTRATION,
    MIX_WEIGHTS,
    N_LINES,
    N_SPEC,
    OWN_BONUS,
    SITE_SCALE_KM,
    SPECIALIST_REFERS,
    SPLIT_TAU,
    VOLUME_FACTOR,
)


@dataclass
class Referrers:
    provider: IntArray  # provider index of each referrer
    kind: IntArray
    town: IntArray
    org: IntArray
    volume: FloatArray
    loyal: BoolArray
    mix: FloatArray  # (referrers, lines), rows sum to 1 or 0


def make_referrers(
    rng: np.random.Generator, prov: Providers, loyal_share: float, volume_sigma: float
) -> Referrers:
    is_spec = prov.kind < N_SPEC
    refers = (prov.kind > HOSP) | (is_spec & (rng.random(len(prov.kind)) < SPECIALIST_REFERS))
    provider = np.flatnonzero(refers).astype(np.int64)
    kind = prov.kind[provider]
    n_ref = len(provider)
    factor = np.asarray(VOLUME_FACTOR, dtype=np.float64)[kind]
    volume = factor * rng.lognormal(-(volume_sigma**2) / 2.0, volume_sigma, n_ref)
    loyal = rng.random(n_ref) < loyal_share
    weights = np.asarray(MIX_WEIGHTS, dtype=np.float64)[kind]
    weights /= weights.sum(axis=1, keepdims=True)
    shape = MIX_CONCENTRATION * weights
    mix = np.zeros_like(shape)
    positive = shape > 0
    mix[positive] = rng.gamma(shape[positive])
    return Referrers(
        provider=provider,
        kind=kind,
        town=prov.town[provider],
        org=prov.org[provider],
        volume=volume,
        loyal=loyal,
        mix=mix,
    )


@dataclass
class Entries:
    """Sparse (referrer, line, organisation) shares before receivers are drawn."""

    ref: IntArray
    line: IntArray
    org: IntArray
    share: FloatArray
    delta: FloatArray
    focus_share: FloatArray  # per referrer, baseline
    org_share: FloatArray  # (referrers, orgs), baseline
    focus_by_line: FloatArray  # (referrers, lines)
    present: BoolArray  # (orgs, lines, towns)


def org_shares(
    rng: np.random.Generator,
    prov: Providers,
    refs: Referrers,
    orgs: Orgs,
    towns: tuple[tuple[Any, ...], ...],
    distance_scale: float,
) -> Entries:
    n_orgs, n_towns, n_ref = len(orgs.names), len(towns), len(refs.provider)
    receivers = prov.kind <= HOSP
    present = np.zeros((n_orgs, N_LINES, n_towns), dtype=bool)
    present[prov.org[receivers], prov.kind[receivers], prov.town[receivers]] = True
    offered: BoolArray = np.asarray(present.any(axis=2), dtype=bool)
    tdist = town_distances(towns)
    site_dist = np.full((n_orgs, N_LINES, n_towns), np.inf)
    for o in range(n_orgs):
        for line in range(N_LINES):
            if offered[o, line]:
                site_dist[o, line] = tdist[:, present[o, line]].min(axis=1)

    # the mix is renormalised over the lines somebody offers
    somewhere: BoolArray = np.asarray(offered.any(axis=0), dtype=bool)
    mix = refs.mix * somewhere[None, :]
    totals = mix.sum(axis=1, keepdims=True)
    np.divide(mix, totals, out=mix, where=totals > 0)
    refs.mix = mix

    # organisation taste: shared within a practice, individual otherwise
    practice = prov.practice[refs.provider]
    n_practices = int(practice.max()) + 1 if len(practice) else 0
    practice_taste = rng.normal(0.0, 1.0, (max(n_practices, 1), n_orgs))
    own_taste = rng.normal(0.0, 1.0, (n_ref, n_orgs))
    in_practice = practice >= 0
    taste = np.where(
        in_practice[:, None],
        0.7 * practice_taste[np.maximum(practice, 0)] + 0.5 * own_taste,
        0.5 * own_taste,
    )
    own = refs.org[:, None] == np.arange(n_orgs)[None, :]
    tau = np.where(refs.loyal, LOYAL_TAU, SPLIT_TAU)
    min_share = min(0.05, 0.5 / n_orgs)

    parts_r: list[IntArray] = []
    parts_l: list[IntArray] = []
    parts_o: list[IntArray] = []
    parts_s: list[FloatArray] = []
    org_share = np.zeros((n_ref, n_orgs))
    focus_by_line = np.zeros((n_ref, N_LINES))
    for line in range(N_LINES):
        rows = np.flatnonzero(mix[:, line] > 0)
        if len(rows) == 0:
            continue
        util = (
            orgs.brand[None, :]
            + taste[rows]
            + 0.4 * rng.standard_normal((len(rows), n_orgs))
            - site_dist[:, line, refs.town[rows]].T / distance_scale
            + OWN_BONUS * own[rows]
        )
        util[:, ~offered[:, line]] = -np.inf
        util /= tau[rows, None]
        util -= util.max(axis=1, keepdims=True)
        share = np.exp(util)
        share /= share.sum(axis=1, keepdims=True)
        share[share < min_share] = 0.0
        share /= share.sum(axis=1, keepdims=True)
        rr, oo = np.nonzero(share)
        parts_r.append(rows[rr].astype(np.int64))
        parts_l.append(np.full(len(rr), line, dtype=np.int64))
        parts_o.append(oo.astype(np.int64))
        parts_s.append(share[rr, oo])
        org_share[rows] += mix[rows, line, None] * share
        focus_by_line[rows, line] = share[:, 0]
    ref = np.concatenate(parts_r) if parts_r else np.zeros(0, dtype=np.int64)
    return Entries(
        ref=ref,
        line=np.concatenate(parts_l) if parts_l else np.zeros(0, dtype=np.int64),
        org=np.concatenate(parts_o) if parts_o else np.zeros(0, dtype=np.int64),
        share=np.concatenate(parts_s) if parts_s else np.zeros(0),
        delta=np.zeros(len(ref)),
        focus_share=org_share[:, 0].copy(),
        org_share=org_share,
        focus_by_line=focus_by_line,
        present=present,
    )


@dataclass
class Ties:
    ref: IntArray  # referrer index
    source: IntArray  # provider index
    target: IntArray  # provider index
    base: FloatArray
    shift: FloatArray
    focus: BoolArray


def expand_ties(
    rng: np.random.Generator,
    prov: Providers,
    refs: Referrers,
    entries: Entries,
    orgs: Orgs,
    towns: tuple[tuple[Any, ...], ...],
) -> Ties:
    n_orgs, n_towns = len(orgs.names), len(towns)
    tdist = town_distances(towns)
    # choose a site (town) per entry, within each (organisation, line) group
    town = np.zeros(len(entries.ref), dtype=np.int64)
    group = entries.org * N_LINES + entries.line
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_orgs * N_LINES + 1))
    for g in range(n_orgs * N_LINES):
        rows = order[bounds[g] : bounds[g + 1]]
        if len(rows) == 0:
            continue
        sites = np.flatnonzero(entries.present[g // N_LINES, g % N_LINES])
        if len(sites) == 1:
            town[rows] = sites[0]
            continue
        logits = -tdist[refs.town[entries.ref[rows]]][:, sites] / SITE_SCALE_KM
        gumbel = -np.log(-np.log(rng.random(logits.shape)))
        town[rows] = sites[np.argmax(logits + gumbel, axis=1)]

    # receivers sorted by (organisation, line, town)
    receivers = np.flatnonzero(prov.kind <= HOSP)
    rec_key = (prov.org[receivers] * N_LINES + prov.kind[receivers]) * n_towns
    rec_key += prov.town[receivers]
    rec_order = np.argsort(rec_key, kind="stable")
    rec_sorted = receivers[rec_order]
    rec_key = rec_key[rec_order]
    entry_key = group * n_towns + town
    first = np.searchsorted(rec_key, entry_key, side="left")
    count = np.searchsorted(rec_key, entry_key, side="right") - first

    picks = 1 + np.minimum(rng.poisson(0.8, len(entries.ref)), 3)
    rep = np.repeat(np.arange(len(entries.ref)), picks)
    chosen = rec_sorted[first[rep] + (rng.random(len(rep)) * count[rep]).astype(np.int64)]
    weight = rng.exponential(1.0, len(rep))
    weight /= wsum(rep, weight, len(entries.ref))[rep]
    ref = entries.ref[rep]
    level = refs.volume[ref] * refs.mix[ref, entries.line[rep]] * weight
    base = level * entries.share[rep]
    shift = level * entries.delta[rep]

    n_prov = len(prov.kind)
    key = ref * n_prov + chosen
    unique, inverse = np.unique(key, return_inverse=True)
    tie_ref = unique // n_prov
    tie_target = unique % n_prov
    source = refs.provider[tie_ref]
    keep = source != tie_target  # never true by construction; a guard
    base_sum = wsum(inverse, base, len(unique))
    shift_sum = wsum(inverse, shift, len(unique))
    return Ties(
        ref=tie_ref[keep],
        source=source[keep],
        target=tie_target[keep],
        base=base_sum[keep],
        shift=shift_sum[keep],
        focus=prov.org[tie_target[keep]] == 0,
    )
