"""The network the prospects are scored on: market, loyalty, openness, practices, degrees."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from referral_graph._checks import text_key
from referral_graph.prospects._inputs import (
    BoolArray,
    FloatArray,
    IntArray,
    _first_rows,
    _text_column,
    _Ties,
)

logger = logging.getLogger("referral_graph.prospects")


@dataclass
class _Network:
    ids: pd.Index
    focus: BoolArray
    first_row: IntArray  # each id's first row in the providers table, -1 when not listed
    names: pd.Series  # display name per id (name, else id)
    org: pd.Series  # organization per id (missing when unknown)
    to_focus: FloatArray  # referrals to focus providers (any specialty)
    to_comp: FloatArray  # market referrals to competitors
    out: FloatArray  # all referrals sent
    received: FloatArray
    loyalty: FloatArray
    openness: FloatArray
    degree: FloatArray
    direct: Any  # csr n x n, undirected referral weights among non-focus providers
    send: Any  # csr n x n, referrals sent (self-ties excluded)
    practice_code: IntArray  # practice index per provider, -1 when none
    practice_size: IntArray  # members (non-focus providers) per practice
    competitor_ties: pd.DataFrame  # source, competitor, specialty, specialty_key (codes), referrals
    competitors: npt.NDArray[np.object_]  # competitor labels, by code
    spellings: npt.NDArray[np.object_]  # specialty spellings, by code
    specialties_known: bool


def _text_keys(values: pd.Series) -> pd.Series:
    """:func:`text_key` of each value (missing stays missing), computed once per distinct value."""
    codes, uniques = pd.factorize(values)
    keys = np.array([text_key(u) for u in uniques] + [None], dtype=object)
    return pd.Series(keys[codes], index=values.index, dtype=object)


def _build_network(
    ties: _Ties,
    providers: pd.DataFrame,
    focus_ids: list[str],
    *,
    max_practice_size: int,
    func: str,
) -> _Network:
    # ids: the providers' order, then the ties' sources and targets as met, then the focus ids;
    # each string is hashed once (one factorisation), the order is worked out on the codes
    provider_ids = providers["id"].astype("str").to_numpy(dtype=object)
    tie_ids = ties.ids.to_numpy(dtype=object)
    labels, distinct = pd.factorize(
        np.concatenate([provider_ids, tie_ids, np.asarray(focus_ids, dtype=object)]),
        use_na_sentinel=False,
    )
    labels = labels.astype(np.int64)
    provider_codes = labels[: len(provider_ids)]
    tie_codes = labels[len(provider_ids) : len(provider_ids) + len(tie_ids)]
    focus_codes = labels[len(provider_ids) + len(tie_ids) :]
    n_listed = int(provider_codes.max()) + 1 if len(provider_codes) else 0
    order = pd.unique(
        np.concatenate(
            [
                np.arange(n_listed, dtype=np.int64),  # codes follow first appearance
                tie_codes[pd.unique(ties.source)],
                tie_codes[pd.unique(ties.target)],
                focus_codes,
            ]
        )
    )
    ids = pd.Index(np.asarray(distinct, dtype=object)[order])
    n = len(ids)
    position_of = np.full(len(distinct), -1, dtype=np.int64)
    position_of[order] = np.arange(n, dtype=np.int64)
    focus = np.zeros(n, dtype=bool)
    focus[position_of[focus_codes]] = True
    position = position_of[tie_codes]
    src = position[ties.source]
    tgt = position[ties.target]
    w = ties.referrals
    # each id's first providers row (the listed ids are the first n_listed positions)
    first_row = np.full(n, -1, dtype=np.int64)
    first_row[:n_listed] = _first_rows(provider_codes, n_listed)

    name = _text_column(providers, "name", first_row).set_axis(ids)
    names = name.fillna(pd.Series(ids, index=ids)).astype("str")
    org = _text_column(providers, "organization", first_row).set_axis(ids)
    spec = _text_column(providers, "specialty", first_row).set_axis(ids)
    spec_key = _text_keys(spec)

    focus_specs = set(spec_key[focus].dropna())
    specialties_known = bool(focus_specs)
    if not specialties_known:
        logger.info(
            "%s: the focus providers have no specialty; every referral counts as market", func
        )
    org_key = _text_keys(org)
    focus_orgs = set(org_key[focus].dropna())

    to_focus_tie = focus[tgt]
    sibling = ~to_focus_tie & org_key.isin(focus_orgs).to_numpy()[tgt]
    if specialties_known:
        in_market = to_focus_tie | spec_key.isin(focus_specs).to_numpy()[tgt]
    else:
        in_market = np.ones(len(tgt), dtype=bool)
    competitor_tie = in_market & ~to_focus_tie & ~sibling & ~focus[src]

    to_focus = np.bincount(src, weights=w * to_focus_tie, minlength=n).astype(np.float64)
    to_comp = np.bincount(src, weights=w * competitor_tie, minlength=n).astype(np.float64)
    out = np.bincount(src, weights=w, minlength=n).astype(np.float64)
    received = np.bincount(tgt, weights=w, minlength=n).astype(np.float64)
    market = to_focus + to_comp
    loyalty = np.divide(to_focus, market, out=np.zeros(n), where=market > 0)
    loyalty[focus] = 0.0

    org_codes = np.asarray(pd.factorize(org_key)[0], dtype=np.int64)  # -1: no organisation
    same_org = (org_codes[src] == org_codes[tgt]) & (org_codes[src] >= 0)
    own = np.bincount(src, weights=w * same_org, minlength=n)
    openness = np.where(out > 0, 1.0 - np.divide(own, out, out=np.zeros(n), where=out > 0), 1.0)

    send = sp.csr_matrix((w, (src, tgt)), shape=(n, n))
    keep = ~focus[src] & ~focus[tgt]
    half = sp.csr_matrix((w[keep], (src[keep], tgt[keep])), shape=(n, n))
    direct = (half + half.T).tocsr()

    # practices: organisations with 2 .. max_practice_size members (in the providers table)
    members_org = org_key.iloc[:n_listed]  # the providers table's distinct ids
    sizes = members_org.value_counts()
    small = set(sizes.index[(sizes >= 2) & (sizes <= max_practice_size)])
    in_practice = org_key.isin(small).to_numpy() & ~focus
    codes = np.full(n, -1, dtype=np.int64)
    labels, uniques = pd.factorize(org_key.where(in_practice))
    codes[in_practice] = labels[in_practice]
    practice_size = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)

    # degree: distinct providers tied by referral (F once) or practice
    a_end = np.concatenate([np.where(focus[src], -1, src), np.where(focus[tgt], -1, tgt)])
    b_end = np.concatenate([np.where(focus[tgt], -1, tgt), np.where(focus[src], -1, src)])
    valid = a_end >= 0
    edges = pd.unique(a_end[valid] * (n + 1) + (b_end[valid] + 1))
    degree = np.bincount(edges // (n + 1), minlength=n).astype(np.float64)
    size_of = np.append(practice_size, 1).astype(np.float64)
    degree += size_of[codes] - 1.0  # code -1 picks the trailing 1: no colleague

    # competitor ties, as codes: the labels are made for the listed prospects only
    org_values = org.to_numpy(dtype=object)
    label = np.where(pd.isna(org_values), names.to_numpy(dtype=object), org_values)
    comp_codes, competitors = pd.factorize(label)
    spell_codes, spellings = pd.factorize(spec)
    key_codes, _ = pd.factorize(spec_key)
    competitor_ties = pd.DataFrame(
        {
            "source": src[competitor_tie],
            "competitor": comp_codes[tgt[competitor_tie]],
            "specialty": spell_codes[tgt[competitor_tie]],
            "specialty_key": key_codes[tgt[competitor_tie]],
            "referrals": w[competitor_tie],
        }
    )
    logger.info(
        "%s: %s providers, %s ties, %d focus provider(s), %d referrer(s) to them, %d practice(s)",
        func,
        f"{n:,}",
        f"{len(w):,}",
        int(focus.sum()),
        int((loyalty > 0).sum()),
        len(practice_size),
    )
    return _Network(
        ids=ids,
        focus=focus,
        first_row=first_row,
        names=names,
        org=org,
        to_focus=to_focus,
        to_comp=to_comp,
        out=out,
        received=received,
        loyalty=loyalty,
        openness=np.clip(openness, 0.0, 1.0),
        degree=degree,
        direct=direct,
        send=send,
        practice_code=codes,
        practice_size=practice_size,
        competitor_ties=competitor_ties,
        competitors=np.asarray(competitors, dtype=object),
        spellings=np.asarray(spellings, dtype=object),
        specialties_known=specialties_known,
    )


def _candidates(net: _Network) -> IntArray:
    """Non-focus referral sources (or untied providers) with no referral to the focus."""
    untied = (net.out == 0) & (net.received == 0)
    ok = ~net.focus & (net.to_focus == 0) & ((net.out > 0) | untied)
    return np.flatnonzero(ok).astype(np.int64)
