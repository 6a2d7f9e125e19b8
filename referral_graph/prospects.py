"""Prospects: new referral sources for a focus organisation.

A *prospect* is a provider who does not refer to the focus organisation
("us": the providers in ``focus_ids``) yet, but plausibly could. Two kinds
are listed:

``competitor_referrer``
    The provider refers the focus organisation's specialties (the
    specialties of the focus providers) to competitors: the demand exists and
    goes elsewhere. Their volume to those specialties, the competitor
    organisations and the specialties concerned are reported.
``second_degree``
    The provider does not refer our specialties anywhere yet (or not in the
    data), but is tied to one of our *loyal referrers* (see below): by shared
    patients (a referral either way between them, or both sending to the same
    receivers) or by working in the same practice.

Existing referrers to the focus (any referral to a focus provider) and the
focus providers themselves are never listed.

Definitions
-----------
**Market.** A referral is in the market when its receiver is a focus provider
or has one of the focus specialties (matched ignoring case and extra spaces),
whoever employs it; without a ``specialty`` column every referral is in the
market. A market referral to a receiver that is not a focus provider but works
in a focus provider's organisation (a *sibling*, when ``focus_ids`` is part of
an organisation) is neither ours nor a competitor's and is ignored. Every other
market referral goes to a **competitor**: the receiver's ``organization``, or
the receiver itself (its name, else its id) when it has none.

**Loyalty.** A provider's loyalty is its share of wallet,
``lambda(z) = to_focus(z) / (to_focus(z) + to_competitors(z))`` over its market
referrals (0 without market referrals). A *loyal referrer* has
``lambda(z) >= loyal_threshold`` (default 0.5).

**Candidates.** Providers who are not focus providers, sent no referral to a
focus provider, and are *referral sources*: they sent at least one referral, or
they appear in ``providers`` without any tie yet (a new provider; only a shared
practice can link them). Providers that only receive referrals are not sources.

**Projection.** The score lives on an undirected, weighted projection of the
referral network in which a candidate ``c`` is tied to another non-focus
provider ``z`` through three relations, each turned into a distribution over
partners (so a busy provider does not win by volume alone):

* ``referral`` (shared patients, direct): ``w(c, z) = n(c -> z) + n(z -> c)``
  referrals, ``p_ref(c, z) = w(c, z) / sum_z' w(c, z')``;
* ``co_referral`` (shared patients, both send to the same receivers ``y``):
  the two-step walk ``p_co(c, z) = sum_y n(c -> y) / out(c) * n(z -> y) / in(y)``
  (mass diffusion on the referrer x receiver graph), ``z != c``, renormalised;
* ``practice``: the same ``organization`` with 2 to ``max_practice_size``
  (default 50) members (larger organisations are systems, not practices):
  ``p_pr(c, z) = 1 / (m - 1)`` for each of the ``m - 1`` colleagues.

They are mixed with the ``relation_weights`` ``a_r`` (default 1 each) over the
relations ``R(c)`` that ``c`` has:
``p(c, z) = sum_r a_r p_r(c, z) / sum_{r in R(c)} a_r``. Focus providers are
contracted into one node ``F``; a provider ``z`` is a neighbour of ``F`` when
``lambda(z) > 0``, and ``k(z)`` is the number of distinct providers ``z`` is
tied to by referral (either way; ``F`` counts once) or practice.

**Scores** (``method``), over the common neighbours ``z`` of ``c`` and ``F``:

* ``common_neighbors``: ``CN(c) = sum_z p(c, z) * lambda(z)`` (the chance that a
  walk from ``c`` to a partner ``z``, then to one of ``z``'s market referrals,
  ends at the focus);
* ``adamic_adar`` (default): ``AA(c) = sum_z p(c, z) * lambda(z) / log2(1 + k(z))``
  (hubs, tied to everyone, say less about ``c``; the base of the log only
  scales the score, base 2 keeps it in [0, 1] as ``k(z) >= 1``);
* ``resource_allocation``: ``RA(c) = sum_z p(c, z) * lambda(z) / k(z)``;
* ``jaccard`` (weighted, Ruzicka):
  ``J(c) = sum_z min(p(c, z), lambda(z)) / sum_{z in N(c) | N(F)} max(p(c, z), lambda(z))``.

With one relation and equal weights these are the classic measures with each
common neighbour counted ``p(c, z) * lambda(z)`` instead of 1. The measure is
multiplied by the candidate's **openness**, ``1 -`` (share of its referrals
that stay inside its own organisation): a provider employed by a competitor
system that keeps 95 % of its referrals in-house is a weak prospect whoever it
knows. ``score`` is that product, in [0, 1].

Validation
----------
:func:`prospect_backtest` builds the ties from the months before a cutoff,
scores the candidates at the cutoff, and checks which of them send at least
``min_referrals`` (default 2) referrals to the focus within the horizon; it
reports precision@k, recall@k, ROC-AUC and lift over the base rate, against a
random ranking (its expectation: precision = base rate, AUC = 0.5) and the
candidates' volume to competitors. On the synthetic market
(:func:`referral_graph.synthetic.generate_market` with ``n_providers=1200,
n_months=30, seed=42``; cutoff 2026-01-01, 6 months, 128 candidates of whom
15 started referring, base rate 0.117), Adamic-Adar reaches ROC-AUC 0.82 and
precision@25 0.36 (lift 3.1); volume to competitors is *anti*-predictive
there (AUC 0.10: heavy users of a competitor are loyal to it), while practice
colleagues share referral habits.

Counts here are not small-cell suppressed: suppress them with
:func:`referral_graph.privacy.suppress_frame` before showing or exporting.

Examples
--------
>>> import pandas as pd
>>> providers = pd.DataFrame({
...     "id": ["F1", "X1", "L1", "C1", "C2"],
...     "specialty": ["Cardiology", "Cardiology", "Family", "Family", "Family"],
...     "organization": ["Ours", "Rival", "Oak Practice", "Oak Practice", None]})
>>> ties = pd.DataFrame({"source": ["L1", "C1", "C2", "L1"],
...                      "target": ["F1", "X1", "X1", "X1"], "referrals": [20, 5, 8, 2]})
>>> table = prospects(ties, providers, ["F1"])
>>> table[["id", "via", "top_competitor", "referrals_to_competitors"]].values.tolist()
[['C1', 'Oak Practice', 'Rival', 5], ['C2', 'L1', 'Rival', 8]]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from referral_graph import _codes
from referral_graph._checks import (
    check_choice,
    check_float,
    check_focus_ids,
    check_frame,
    check_int,
    text_key,
)
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError

__all__ = [
    "KINDS",
    "METHODS",
    "RELATIONS",
    "prospect_backtest",
    "prospects",
]

logger = logging.getLogger(__name__)

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

#: Baseline rows of :func:`prospect_backtest`.
VOLUME_BASELINE = "volume_to_competitors"
RANDOM_BASELINE = "random (expected)"

_MAX_CHUNK_ENTRIES = 4_000_000  # co-referral entries computed at once
_TOP_PARTNERS = 8  # loyal senders per receiver whose co-referral entries are formed first
_BOUND_MARGIN = 1e-6  # relative margin of the co-referral bound over rounding (~1e-13)

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


# ----------------------------------------------------------------------------- network


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


def _inverse(values: FloatArray) -> FloatArray:
    """``1 / values`` where positive, else 0."""
    values = np.asarray(values, dtype=np.float64)
    return np.divide(1.0, values, out=np.zeros_like(values), where=values > 0)


def _row_sums(matrix: Any) -> FloatArray:
    return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()


def _keep_entries(matrix: Any, keep: BoolArray) -> Any:
    """`matrix` (csr) with only the stored entries where `keep` is True (same shape)."""
    row = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row[keep], minlength=matrix.shape[0]))])
    return sp.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], indptr.astype(matrix.indptr.dtype)),
        shape=matrix.shape,
    )


def _keep_columns(matrix: Any, keep: BoolArray) -> Any:
    """`matrix` (csr) with the entries of the columns not in `keep` dropped (same shape)."""
    matrix = matrix.tocsr()
    return _keep_entries(matrix, keep[matrix.indices])


def _walk_at(left: Any, right: Any, row: IntArray, col: IntArray) -> FloatArray:
    """The entries ``(left @ right)[row, col]`` of a sparse product, summed as scipy sums them.

    scipy's product adds the terms ``left[i, y] * right[y, j]`` from 0 in the
    stored order of row ``i`` of `left`; adding them in that order here gives
    the same floats. `left` and `right` are csr without duplicate entries; an
    entry without any term is 0.
    """
    right = right if right.has_sorted_indices else right.sorted_indices()
    width = right.shape[1]
    keys = np.repeat(np.arange(right.shape[0], dtype=np.int64), np.diff(right.indptr)) * width
    keys += right.indices  # sorted: row by row, by column
    terms = left[row]  # per pair, the row of `left`, in its stored order
    pair = np.repeat(np.arange(len(row)), np.diff(terms.indptr))
    wanted = terms.indices.astype(np.int64) * width + col[pair]
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    hit = keys[at] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    products = terms.data[hit] * right.data[at[hit]]
    return np.bincount(pair[hit], weights=products, minlength=len(row)).astype(np.float64)


def _keep_positions(matrix: Any, keys: IntArray) -> Any:
    """`matrix` (csr) with only its entries at ``row * n_columns + column`` in sorted `keys`."""
    row = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    mine = row * matrix.shape[1] + matrix.indices
    at = np.minimum(np.searchsorted(keys, mine), max(len(keys) - 1, 0))
    keep = keys[at] == mine if len(keys) else np.zeros(len(mine), dtype=bool)
    return _keep_entries(matrix, keep)


def _top_partners(right: Any, lam: FloatArray, count: int) -> tuple[Any, FloatArray]:
    """The `count` entries of each row of `right` with the largest ``right[y, z] * lam[z]``.

    Returns
    -------
    top : scipy.sparse.csr_matrix
        `right` with those entries only.
    ceiling : numpy.ndarray
        Per row, the largest ``right[y, z] * lam[z]`` left out (0 when none is).
    """
    value = right.data * lam[right.indices]
    row = np.repeat(np.arange(right.shape[0]), np.diff(right.indptr))
    order = np.lexsort((-value, row))  # by row, the largest first
    rank = np.arange(len(order)) - right.indptr[row[order]]
    keep = np.zeros(len(value), dtype=bool)
    keep[order[rank < count]] = True
    ceiling = np.zeros(right.shape[0])
    first_out = order[rank == count]
    ceiling[row[first_out]] = value[first_out]
    return _keep_entries(right, keep), ceiling


@dataclass
class _Scores:
    score: FloatArray
    measure: FloatArray
    loyal_link: BoolArray
    via: IntArray  # index of the loyal neighbour contributing most, -1 when none
    via_relation: list[str | None]


@dataclass
class _Relation:
    """One relation of the projection for the candidate rows: p_r(c, z) = inv(c) * x(c, z)."""

    has: BoolArray  # the candidate has the relation (some p_r(c, z) > 0)
    inv: FloatArray  # the row normaliser
    dot: FloatArray  # sum_z p_r(c, z) * factor(z)


def _relations(
    net: _Network, rows: IntArray, factor: FloatArray, weights: Mapping[str, float]
) -> dict[str, _Relation]:
    """Normalisers and ``p_r @ factor`` of each relation with a weight, without the matrices.

    The co-referral row sums use ``sum_{z != c} sum_y L(c, y) R(y, z) =
    sum_y L(c, y) (in_nf(y) - n(c -> y)) / in(y)`` (``in_nf``: referrals
    into ``y`` from non-focus providers), so the two-step walk is never
    formed for the score itself.
    """
    nonfocus = (~net.focus).astype(np.float64)
    parts: dict[str, _Relation] = {}
    if weights["referral"] > 0:
        direct = net.direct[rows]
        inv = _inverse(_row_sums(direct))
        parts["referral"] = _Relation(inv > 0, inv, inv * (direct @ factor))
    if weights["co_referral"] > 0:
        send = net.send
        inn = np.asarray(send.sum(axis=0), dtype=np.float64).ravel()
        inv_in = _inverse(inn)
        in_nf = np.asarray(nonfocus @ send, dtype=np.float64).ravel()
        senders_nf = np.asarray(nonfocus @ (send > 0).astype(np.float64)).ravel()
        sub = send[rows].tocoo()
        r, y, v = sub.row, sub.col, sub.data
        nf_c = nonfocus[rows][r]
        walk = _inverse(_row_sums(send))[rows][r] * v  # L(c, y)
        ring = walk * (in_nf[y] - v * nf_c) * inv_in[y]  # sum_{z != c} L(c, y) R(y, z)
        total = np.bincount(r, weights=ring, minlength=len(rows))
        # R @ factor, with R(y, z) = n(z -> y) / in(y) for non-focus z
        reach = inv_in * np.asarray(send.T @ (factor * nonfocus), dtype=np.float64).ravel()
        own = v * inv_in[y] * nf_c * factor[rows][r]
        flow = np.bincount(r, weights=walk * (reach[y] - own), minlength=len(rows))
        has = np.bincount(r, weights=(senders_nf[y] - nf_c) >= 1, minlength=len(rows)) > 0
        inv = np.where(has, _inverse(total.astype(np.float64)), 0.0)
        parts["co_referral"] = _Relation(has, inv, inv * flow)
    if weights["practice"] > 0:
        code = net.practice_code[rows]
        sums = np.bincount(
            net.practice_code[net.practice_code >= 0],
            weights=factor[net.practice_code >= 0],
            minlength=len(net.practice_size),
        )
        mates = np.where(code >= 0, np.append(net.practice_size, 1)[code] - 1, 0).astype(np.float64)
        inv = _inverse(mates)
        practice_sum = np.append(sums, 0.0)[code] - factor[rows]
        parts["practice"] = _Relation(mates > 0, inv, inv * np.where(code >= 0, practice_sum, 0.0))
    return parts


def _scale_rows(matrix: Any, factor: FloatArray) -> Any:
    """`matrix` (a csr matrix of its own) with row ``i`` multiplied by ``factor[i]``, in place."""
    matrix.data *= np.repeat(factor, np.diff(matrix.indptr))
    return matrix


@dataclass
class _Entries:
    """How the entries ``p(c, z)`` of the candidates are formed (for the partners `wanted`)."""

    net: _Network
    rows: IntArray  # the candidates
    parts: dict[str, _Relation]
    weights: Mapping[str, float]
    inv: FloatArray  # per candidate, 1 / (sum of the weights of its relations)
    wanted: BoolArray  # the partners z whose entries are formed
    left: Any  # csr n x n, L(c, y) = n(c -> y) / out(c); None without co_referral
    right: Any  # csr n x n, R(y, z) = n(z -> y) / in(y) for the wanted z; None likewise
    members: Any  # csr practices x n, the wanted members of each practice; None likewise

    @classmethod
    def build(
        cls,
        net: _Network,
        rows: IntArray,
        parts: dict[str, _Relation],
        weights: Mapping[str, float],
        inv: FloatArray,
        wanted: BoolArray,
    ) -> _Entries:
        left = right = members = None
        if "co_referral" in parts:
            out = np.asarray(net.send.sum(axis=1), dtype=np.float64).ravel()
            inn = np.asarray(net.send.sum(axis=0), dtype=np.float64).ravel()
            left = sp.diags(_inverse(out)) @ net.send
            right = _keep_columns((net.send @ sp.diags(_inverse(inn))).T.tocsr(), wanted)
        if "practice" in parts:
            member = np.flatnonzero((net.practice_code >= 0) & wanted)
            members = sp.csr_matrix(
                (np.ones(len(member)), (net.practice_code[member], member)),
                shape=(len(net.practice_size), len(net.ids)),
            )
        return cls(net, rows, parts, weights, inv, wanted, left, right, members)

    def pieces(self, at: IntArray, walks: Any) -> dict[str, Any]:
        """``p_r(c, z)`` of the candidates `at` (positions in `rows`), one csr matrix per relation.

        `walks` holds the two-step walks ``(L @ R)(c, z)`` of those candidates
        (at least where they are wanted) and is scaled in place; without it
        (None) the co-referral piece is left out.
        """
        chunk = self.rows[at]
        pieces: dict[str, Any] = {}
        if "referral" in self.parts:
            direct = _keep_columns(self.net.direct[chunk], self.wanted)
            pieces["referral"] = _scale_rows(direct, self.parts["referral"].inv[at])
        if "co_referral" in self.parts and walks is not None:
            pieces["co_referral"] = _scale_rows(walks, self.parts["co_referral"].inv[at])
        if "practice" in self.parts:
            code = self.net.practice_code[chunk]
            inside = np.flatnonzero(code >= 0)
            pick = sp.csr_matrix(
                (self.parts["practice"].inv[at][inside], (inside, code[inside])),
                shape=(len(at), len(self.net.practice_size)),
            )
            pieces["practice"] = (pick @ self.members).tocsr()
        return pieces

    def mix(self, at: IntArray, pieces: Mapping[str, Any]) -> Any:
        """``p(c, z) = inv(c) * sum_r w_r p_r(c, z)`` (csr, no stored zeros), in this order."""
        names = list(pieces)
        mix = self.weights[names[0]] * pieces[names[0]]
        for rel in names[1:]:
            mix = mix + self.weights[rel] * pieces[rel]
        mix = _scale_rows(mix.tocsr(), self.inv[at])
        mix.eliminate_zeros()
        return mix

    def strongest(
        self, mix: Any, pieces: Mapping[str, Any], loyal_threshold: float
    ) -> tuple[IntArray, IntArray, FloatArray, npt.NDArray[np.object_]]:
        """The loyal neighbour contributing most in each row of `mix` that has one.

        Returns the rows, their neighbour (the largest ``p(c, z) * lambda(z)``,
        ties to the smallest column), that contribution, and the relation
        carrying most of the entry.
        """
        lam = self.net.loyalty
        r = np.repeat(np.arange(mix.shape[0]), np.diff(mix.indptr))
        c, p = mix.indices, mix.data
        loyal = lam[c] >= loyal_threshold
        if not loyal.any():
            return (
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
                np.zeros(0),
                np.zeros(0, dtype=object),
            )
        # entries come row by row: per row, the largest contribution, ties to the smallest
        # column (without sorting the entries)
        rl, cl, contrib = r[loyal], c[loyal], p[loyal] * lam[c[loyal]]
        starts = np.flatnonzero(np.r_[True, rl[1:] != rl[:-1]])
        lengths = np.diff(np.r_[starts, len(rl)])
        top = np.maximum.reduceat(contrib, starts)
        best = np.minimum.reduceat(
            np.where(contrib == np.repeat(top, lengths), cl, len(self.net.ids)), starts
        )
        best_row = rl[starts]
        names = list(pieces)
        carried = np.column_stack(
            [self.weights[rel] * np.asarray(pieces[rel][best_row, best]).ravel() for rel in names]
        )
        relation = np.asarray(names, dtype=object)[np.argmax(carried, axis=1)]
        return best_row.astype(np.int64), best.astype(np.int64), top, relation


def _scan(
    entries: _Entries,
    todo: IntArray,
    *,
    jaccard: bool,
    norm: FloatArray,
    loyal_threshold: float,
    measure: FloatArray,
    via: IntArray,
    via_relation: npt.NDArray[np.object_],
) -> None:
    """Form every wanted entry of the candidates `todo` (positions), by chunks.

    Fills `via` and `via_relation` and, for Jaccard, `measure`.
    """
    net = entries.net
    lam = net.loyalty
    total_lambda = float(lam.sum())
    cost = np.zeros(len(todo))
    if entries.right is not None:
        sends = (net.send[entries.rows[todo]] > 0).astype(np.float64)
        cost = np.asarray(sends @ np.diff(entries.right.indptr)).ravel()
    start = 0
    while start < len(todo):
        stop = start + 1
        budget = cost[start]
        while stop < len(todo) and budget + cost[stop] <= _MAX_CHUNK_ENTRIES:
            budget += cost[stop]
            stop += 1
        at = todo[start:stop]
        k = len(at)
        walks = None
        if entries.right is not None:
            walks = (entries.left[entries.rows[at]] @ entries.right).tocsr()
        pieces = entries.pieces(at, walks)
        mix = entries.mix(at, pieces)
        if jaccard:
            r = np.repeat(np.arange(k), np.diff(mix.indptr))
            c, p = mix.indices, mix.data
            lam_c = lam[c]
            num = np.bincount(r, weights=np.minimum(p, lam_c), minlength=k)
            above = np.bincount(r, weights=np.maximum(p - lam_c, 0.0), minlength=k)
            # the neighbours with lambda 0 add their whole p: 1 minus the rest
            rest = np.maximum((norm[at] > 0) - np.bincount(r, weights=p, minlength=k), 0.0)
            den = total_lambda + above + rest
            measure[at] = np.divide(num, den, out=np.zeros(k), where=den > 0)
        best_row, best, _, relation = entries.strongest(mix, pieces, loyal_threshold)
        via[at[best_row]] = best
        via_relation[at[best_row]] = relation
        start = stop


def _explicit_links(
    entries: _Entries,
    *,
    loyal_threshold: float,
    via: IntArray,
    via_relation: npt.NDArray[np.object_],
) -> IntArray:
    """``via`` of the candidates whose strongest loyal neighbour is certain from a few entries.

    The co-referral walk is bounded instead of formed: at each receiver ``y``
    only the ``_TOP_PARTNERS`` loyal senders ``z`` with the largest
    ``R(y, z) * lambda(z)`` are summed, and every other term is at most
    ``L(c, y) * ceiling(y)`` (``ceiling``: the largest ``R(y, z) * lambda(z)``
    left out at ``y``). So each contribution ``p(c, z) * lambda(z)`` lies
    between its lower bound (the referral, practice and summed co-referral
    parts) and that plus ``limit(c)`` (``sum_y L(c, y) * ceiling(y)`` times the
    candidate's scale), and a neighbour with no lower bound contributes at
    most ``limit(c)``. When the best lower bound is above ``limit(c)``, only
    the entries whose upper bound reaches it can win: they are formed exactly
    (as :func:`_scan` forms them) to pick ``via`` and ``via_relation``. The
    margins cover rounding (relative errors ~1e-13).

    Returns
    -------
    numpy.ndarray
        The candidates (positions) left undecided, for :func:`_scan`.
    """
    m = len(entries.rows)
    everyone = np.arange(m)
    lam = entries.net.loyalty
    co = entries.parts.get("co_referral")
    if co is None:  # no walk: every entry is formed at once
        pieces = entries.pieces(everyone, None)
        best_row, best, _, relation = entries.strongest(
            entries.mix(everyone, pieces), pieces, loyal_threshold
        )
        via[best_row] = best
        via_relation[best_row] = relation
        return np.zeros(0, dtype=np.int64)
    left = entries.left[entries.rows]
    top, ceiling = _top_partners(entries.right, lam, _TOP_PARTNERS)
    limit = (left @ ceiling) * co.inv * entries.weights["co_referral"] * entries.inv
    lower = entries.mix(everyone, entries.pieces(everyone, (left @ top).tocsr()))
    r = np.repeat(everyone, np.diff(lower.indptr))
    bound = lower.data * lam[lower.indices]
    best_lower = np.zeros(m)
    np.maximum.at(best_lower, r, bound)
    certain = best_lower > limit * (1.0 + _BOUND_MARGIN)
    contender = certain[r] & (
        (bound + limit[r]) * (1.0 + _BOUND_MARGIN) >= best_lower[r] * (1.0 - _BOUND_MARGIN)
    )
    keys = r[contender] * lower.shape[1] + lower.indices[contender]
    keys.sort()
    rows, cols = np.divmod(keys, lower.shape[1])
    walk = _walk_at(left, entries.right, rows, cols)
    walks = sp.csr_matrix((walk, (rows, cols)), shape=lower.shape)
    walks.eliminate_zeros()
    pieces = {
        rel: _keep_positions(piece, keys) for rel, piece in entries.pieces(everyone, walks).items()
    }
    best_row, best, _, relation = entries.strongest(
        entries.mix(everyone, pieces), pieces, loyal_threshold
    )
    via[best_row] = best
    via_relation[best_row] = relation
    return np.flatnonzero(~certain & (limit > 0))


def _score(
    net: _Network,
    rows: IntArray,
    *,
    method: str,
    weights: Mapping[str, float],
    loyal_threshold: float,
    find_via: bool = True,
) -> _Scores:
    """Link-prediction scores of the candidate `rows` (see the module docstring).

    The measures other than Jaccard are linear in ``p(c, .)``, so they are
    computed from each relation's ``p_r @ factor``; the entries ``p(c, z)``
    themselves are formed for the loyal neighbours only (``via``, unless
    `find_via` is False: first the few that can decide it, see
    :func:`_explicit_links`, then all of them for the candidates left), and
    for every neighbour with ``lambda(z) > 0`` for Jaccard.
    """
    m = len(rows)
    lam = net.loyalty
    degree = np.maximum(net.degree, 1.0)
    if method == "adamic_adar":
        factor = lam / np.log2(1.0 + degree)
    elif method == "resource_allocation":
        factor = lam / degree
    else:
        factor = lam.copy()
    jaccard = method == "jaccard"
    parts = _relations(net, rows, factor, weights)
    norm = np.zeros(m)
    for rel, part in parts.items():
        norm += weights[rel] * part.has
    inv = np.divide(1.0, norm, out=np.zeros(m), where=norm > 0)
    measure = np.zeros(m)
    if not jaccard:
        for rel, part in parts.items():
            measure += weights[rel] * part.dot
        measure *= inv
    via = np.full(m, -1, dtype=np.int64)
    via_relation = np.full(m, None, dtype=object)
    if parts and m and (jaccard or find_via):
        wanted = lam > 0 if jaccard else lam >= loyal_threshold
        entries = _Entries.build(net, rows, parts, weights, inv, wanted)
        todo = np.arange(m)
        if not jaccard:
            todo = _explicit_links(
                entries, loyal_threshold=loyal_threshold, via=via, via_relation=via_relation
            )
        _scan(
            entries,
            todo,
            jaccard=jaccard,
            norm=norm,
            loyal_threshold=loyal_threshold,
            measure=measure,
            via=via,
            via_relation=via_relation,
        )
    score = np.clip(measure * net.openness[rows], 0.0, 1.0)
    return _Scores(
        score=score,
        measure=measure,
        loyal_link=via >= 0,
        via=via,
        via_relation=list(via_relation),
    )


def _ranked(
    source: IntArray, label: IntArray, names: npt.NDArray[np.object_], value: FloatArray
) -> tuple[pd.Series, pd.Series]:
    """Per source: the label with the largest summed value, and every label ("; "-joined).

    Labels are ordered by summed value (descending), then by name; `names` are
    the labels' names by code.
    """
    width = max(len(names), 1)
    group, pairs = pd.factorize(source * width + label)
    sums = np.bincount(group, weights=value, minlength=len(pairs))
    g_source, g_label = pairs // width, pairs % width
    used, used_code = np.unique(g_label, return_inverse=True)
    rank = np.empty(len(used), dtype=np.int64)
    rank[np.argsort(names[used], kind="stable")] = np.arange(len(used))
    order = np.lexsort((rank[used_code], -sums, g_source))
    g_source, labels = g_source[order], names[g_label[order]]
    starts = np.flatnonzero(np.r_[True, g_source[1:] != g_source[:-1]])
    index = pd.Index(g_source[starts])
    joined = ["; ".join(part) for part in np.split(labels, starts[1:])]
    return pd.Series(labels[starts], index=index), pd.Series(joined, index=index, dtype=object)


def _competitor_details(net: _Network, rows: IntArray) -> pd.DataFrame:
    """top_competitor, competitors and specialties of each row (missing when none)."""
    codes = net.competitor_ties
    codes = codes.loc[np.isin(codes["source"].to_numpy(), rows)]
    out = pd.DataFrame(index=pd.Index(rows, name="row"))
    if codes.empty:
        out["top_competitor"] = pd.Series(pd.NA, index=out.index, dtype="str")
        out["competitors"] = pd.Series(pd.NA, index=out.index, dtype="str")
        out["specialties"] = pd.Series(pd.NA, index=out.index, dtype="str")
        return out
    source = codes["source"].to_numpy(dtype=np.int64)
    referrals = codes["referrals"].to_numpy(dtype=np.float64)
    competitor = codes["competitor"].to_numpy(dtype=np.int64)
    top, joined = _ranked(source, competitor, net.competitors, referrals)
    # one label per specialty: the first spelling met among these ties
    key = codes["specialty_key"].to_numpy(dtype=np.int64)
    known = key >= 0
    specs = pd.Series(dtype=object)
    if bool(known.any()):
        first = pd.Series(key[known]).drop_duplicates()
        spelling = codes["specialty"].to_numpy(dtype=np.int64)[known]
        label_of_key = np.zeros(int(key.max()) + 1, dtype=np.int64)
        label_of_key[first.to_numpy()] = spelling[first.index.to_numpy()]
        names = net.spellings[label_of_key]
        _, specs = _ranked(source[known], key[known], names, referrals[known])
    out["top_competitor"] = top.reindex(out.index).astype("str")
    out["competitors"] = joined.reindex(out.index).astype("str")
    out["specialties"] = specs.reindex(out.index).astype("str")
    return out


def _last_active(panel: pd.DataFrame, ids: pd.Index, rows: IntArray) -> pd.Series:
    """The first day of the last month each of `rows` sent a referral in `panel` (else NaT)."""
    frame = check_frame(
        panel,
        "panel",
        "prospects",
        ["source", "target", "month", "referrals"],
        "build it with referral_graph.aggregate.edge_panel.",
    )
    months = pd.to_datetime(frame["month"], errors="coerce")
    if bool(months.isna().any()):
        raise SchemaError(
            f"The panel of prospects has {int(months.isna().sum())} row(s) without a valid month."
        )
    # panels are sorted by source: each run of equal sources is looked up once
    sources = frame["source"].astype("str")
    starts, run = _codes.runs(sources)
    source = _codes.codes(sources.iloc[starts], pd.Index(ids[rows]))[run]
    mine = np.flatnonzero(source >= 0)  # the panel rows sent by one of `rows`
    picked = months.iloc[mine]
    number = (picked.dt.year * 12 + picked.dt.month - 1).to_numpy(dtype=np.int64)
    last = np.full(len(rows), np.iinfo(np.int64).min)
    np.maximum.at(last, source[mine], number)
    found = last > np.iinfo(np.int64).min
    parts = pd.DataFrame(
        {"year": np.where(found, last // 12, 2000), "month": np.where(found, last % 12 + 1, 1)}
    ).assign(day=1)
    dates = pd.to_datetime(parts).astype("datetime64[ns]")
    return dates.where(found).reset_index(drop=True)


# ----------------------------------------------------------------------------- public API


def prospects(
    ties: pd.DataFrame | None,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    panel: pd.DataFrame | None = None,
    method: Method = "adamic_adar",
    top: int | None = None,
    loyal_threshold: float = 0.5,
    max_practice_size: int = 50,
    relation_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Rank the providers who could become referral sources of the focus organisation.

    The definitions (market, loyalty, candidates, the projection and the
    score formulas) are in the module docstring (:mod:`referral_graph.prospects`).

    Parameters
    ----------
    ties : pandas.DataFrame or None
        Tie table (``source``, ``target``, ``referrals``), e.g. from
        :func:`referral_graph.aggregate.tie_table`. None to sum `panel`.
    providers : pandas.DataFrame
        ``id`` and, where known, ``name``, ``specialty``, ``organization``
        (``city`` is copied to the output when present).
    focus_ids : iterable of str
        The focus organisation's provider ids.
    panel : pandas.DataFrame, optional
        The monthly edge panel: used for the ties when `ties` is None, and for
        ``last_active`` (the last month the prospect sent any referral).
    method : {"adamic_adar", "common_neighbors", "jaccard", "resource_allocation"}
        The link-prediction measure.
    top : int, optional
        Keep the best `top` rows.
    loyal_threshold : float, default 0.5
        Share of wallet from which a referrer counts as loyal, in (0, 1].
    max_practice_size : int, default 50
        Largest organisation that counts as a practice, in [2, 100,000].
    relation_weights : mapping, optional
        Weights of the relations ``"referral"``, ``"co_referral"`` and
        ``"practice"`` (default 1 each; 0 switches one off).

    Returns
    -------
    pandas.DataFrame
        One row per prospect, best first: ``rank`` (int64, 1 = best), ``id``,
        ``name`` (when `providers` has names), ``kind``
        (``"competitor_referrer"`` or ``"second_degree"``), ``score``
        (float in [0, 1]), ``referrals_to_competitors`` (int64, market
        referrals to competitors), ``top_competitor`` and ``competitors``
        (organisations by volume, ``"; "``-joined), ``specialties`` (our
        specialties they send elsewhere), ``via`` (the practice, or the loyal
        referrer, that ties them to us; missing when none), ``via_id``,
        ``via_relation`` (``"referral"``, ``"co_referral"`` or ``"practice"``),
        ``openness``, the prospect's ``specialty``, ``organization`` and
        ``city`` when `providers` has them, and ``last_active`` with `panel`.
        Ties of score are ordered by volume to competitors, then id.

    Raises
    ------
    ParameterError
        If an argument is of the wrong type or out of range.
    SchemaError
        If a table lacks a required column.

    Examples
    --------
    A loyal referrer ``L1`` (all of its cardiology to us) shares a practice
    with ``C1``; ``C2`` only sends patients to the same rival cardiologist:

    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["F1", "X1", "L1", "C1", "C2"],
    ...     "name": ["Dr Ours", "Dr Rival", "Dr Loyal", "Dr One", "Dr Two"],
    ...     "specialty": ["Cardiology", "Cardiology", "Family", "Family", "Family"],
    ...     "organization": ["Ours", "Rival", "Oak", "Oak", None]})
    >>> ties = pd.DataFrame({"source": ["L1", "L1", "C1", "C2"],
    ...                      "target": ["F1", "X1", "X1", "X1"],
    ...                      "referrals": [30, 3, 10, 10]})
    >>> out = prospects(ties, providers, ["F1"], method="common_neighbors")
    >>> out[["rank", "id", "via", "via_relation"]].values.tolist()
    [[1, 'C1', 'Oak', 'practice'], [2, 'C2', 'Dr Loyal', 'co_referral']]
    >>> out["kind"].unique().tolist()
    ['competitor_referrer']
    >>> [round(s, 3) for s in out["score"]]
    [0.373, 0.105]
    """
    func = "prospects"
    providers = check_frame(
        providers, "providers", func, ["id"], "read it with referral_graph.io.read_providers."
    )
    ids = check_focus_ids(focus_ids, func)
    method_name = check_choice(method, "method", func, METHODS)
    threshold = check_float(loyal_threshold, "loyal_threshold", func, low=0, high=1, low_open=True)
    practice_size = check_int(max_practice_size, "max_practice_size", func, low=2, high=100_000)
    weights = _check_weights(relation_weights, func)
    if top is not None:
        top = check_int(top, "top", func, low=1, high=10**12)
    if panel is not None:
        check_frame(
            panel,
            "panel",
            func,
            ["source", "target", "month", "referrals"],
            "build it with referral_graph.aggregate.edge_panel.",
        )
    frame = _ties_frame(ties, panel, func)
    net = _build_network(frame, providers, ids, max_practice_size=practice_size, func=func)
    table = _prospect_table(net, method=method_name, weights=weights, loyal_threshold=threshold)
    rows = net.ids.get_indexer(pd.Index(table["id"])).astype(np.int64)
    if panel is not None and len(table):
        table["last_active"] = _last_active(panel, net.ids, rows).to_numpy()
    if "name" not in providers.columns:
        table = table.drop(columns="name")
    for column in ("specialty", "organization", "city"):
        if column in providers.columns:
            table[column] = _text_column(providers, column, net.first_row[rows]).to_numpy()
    if top is not None:
        table = table.head(top)
    logger.info(
        "%s: %d prospect(s) (%d competitor referrers, %d second degree)",
        func,
        len(table),
        int((table["kind"] == KINDS[0]).sum()),
        int((table["kind"] == KINDS[1]).sum()),
    )
    return table.reset_index(drop=True)


def _prospect_table(
    net: _Network, *, method: str, weights: Mapping[str, float], loyal_threshold: float
) -> pd.DataFrame:
    rows = _candidates(net)
    scores = _score(net, rows, method=method, weights=weights, loyal_threshold=loyal_threshold)
    comp = net.to_comp[rows]
    is_comp = comp > 0
    listed = is_comp | scores.loyal_link
    rows, comp, is_comp = rows[listed], comp[listed], is_comp[listed]
    score = scores.score[listed]
    via = scores.via[listed]
    via_relation = [r for r, keep in zip(scores.via_relation, listed, strict=True) if keep]
    details = _competitor_details(net, rows)
    # via: the practice's name when a practice colleague ties them to us, else the referrer's
    has_org = net.org.notna().to_numpy()[rows]
    practice = (np.asarray(via_relation, dtype=object) == "practice") & has_org
    missing = np.array([None], dtype=object)  # picked by via -1
    org_values = np.append(net.org.to_numpy(dtype=object), missing)
    name_values = np.append(net.names.to_numpy(dtype=object), missing)
    via_text = np.where(practice, org_values[rows], name_values[via])
    via_id = np.append(net.ids.to_numpy(dtype=object), missing)[via]
    table = pd.DataFrame(
        {
            "id": pd.Series(net.ids[rows], dtype="str"),
            "name": pd.Series(net.names.to_numpy()[rows], dtype="str"),
            "kind": pd.Series(np.where(is_comp, KINDS[0], KINDS[1]), dtype="str"),
            "score": score.astype(np.float64),
            "referrals_to_competitors": np.rint(comp).astype(np.int64),
            "top_competitor": details["top_competitor"].to_numpy(),
            "competitors": details["competitors"].to_numpy(),
            "specialties": details["specialties"].to_numpy(),
            "via": pd.Series(via_text, dtype="str"),
            "via_id": pd.Series(via_id, dtype="str"),
            "via_relation": pd.Series(via_relation, dtype="str"),
            "openness": net.openness[rows],
        }
    )
    for column in ("top_competitor", "competitors", "specialties"):
        table[column] = table[column].astype("str")
    table = table.sort_values(
        ["score", "referrals_to_competitors", "id"],
        ascending=[False, False, True],
        kind="stable",
        ignore_index=True,
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    return table


# ----------------------------------------------------------------------------- backtest


def _expected_hits(y: BoolArray, score: FloatArray, k: int) -> float:
    """Expected positives among the top `k` scores, ties broken at random."""
    k = min(k, len(score))
    if k <= 0:
        return math.nan
    order = np.argsort(-score, kind="stable")
    s_sorted, y_sorted = score[order], y[order].astype(np.float64)
    cut = s_sorted[k - 1]
    above = s_sorted > cut
    tied = s_sorted == cut
    return float(y_sorted[above].sum() + (k - int(above.sum())) * y_sorted[tied].mean())


def _roc_auc(y: BoolArray, score: FloatArray) -> float:
    """Mann-Whitney ROC-AUC (ties count one half); NaN without both classes."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy.stats import rankdata  # imported here: scipy.stats is slow to import

    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _metrics(
    name: str, y: BoolArray, score: FloatArray | None, ks: Sequence[int]
) -> dict[str, Any]:
    n, pos = len(y), int(y.sum())
    rate = pos / n if n else math.nan
    row: dict[str, Any] = {"method": name}
    row["roc_auc"] = (
        0.5
        if score is None and 0 < pos < n
        else (_roc_auc(y, score) if score is not None else math.nan)
    )
    for k in ks:
        kk = min(k, n)
        # score None: a random ranking, in expectation
        hits = (kk * rate if n else math.nan) if score is None else _expected_hits(y, score, k)
        precision = hits / kk if kk else math.nan
        row[f"precision_at_{k}"] = precision
        row[f"recall_at_{k}"] = hits / pos if pos else math.nan
        row[f"lift_at_{k}"] = precision / rate if pos else math.nan
    return row


def _check_cutoff(value: Any, func: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ParameterError(
            f"The 'cutoff' parameter of {func} must be a date (the first day of a month). "
            f"Got {value!r} instead."
        ) from err
    if pd.isna(stamp):
        raise ParameterError(
            f"The 'cutoff' parameter of {func} must be a date (the first day of a month). "
            f"Got {value!r} instead."
        )
    return stamp


def prospect_backtest(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    cutoff: str | pd.Timestamp,
    horizon_months: int = 6,
    method: Method | Sequence[Method] = "adamic_adar",
    k: Sequence[int] = (25, 100),
    min_referrals: int = 2,
    loyal_threshold: float = 0.5,
    max_practice_size: int = 50,
    relation_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Backtest the prospect score: do high scorers start referring to us?

    The ties are the panel's months before `cutoff`; the candidates are the
    providers :func:`prospects` would consider at the cutoff (referral
    sources, or untied providers, with no referral to the focus before it);
    a candidate is a *hit* when it sends at least `min_referrals` referrals to
    focus providers in the `horizon_months` months from the cutoff on.

    Parameters
    ----------
    panel : pandas.DataFrame
        The monthly edge panel (:func:`referral_graph.aggregate.edge_panel`).
    providers : pandas.DataFrame
        As in :func:`prospects`.
    focus_ids : iterable of str
        The focus organisation's provider ids.
    cutoff : str or pandas.Timestamp
        First month of the horizon (a date inside a month means that month).
        There must be data before it, and the horizon must end inside the data.
    horizon_months : int, default 6
        Length of the horizon, in [1, 120].
    method : str or sequence of str, default "adamic_adar"
        The measure(s) to evaluate (see :data:`METHODS`).
    k : sequence of int, default (25, 100)
        List sizes for precision@k, recall@k and lift@k.
    min_referrals : int, default 2
        Referrals to the focus within the horizon that make a hit (1 counts
        one-off referrals, which are mostly noise), in [1, 1,000].
    loyal_threshold, max_practice_size, relation_weights
        As in :func:`prospects`.

    Returns
    -------
    pandas.DataFrame
        One row per method, then the baselines ``"volume_to_competitors"``
        (the candidates' market referrals to competitors before the cutoff)
        and ``"random (expected)"`` (the expectation of a random order:
        precision = base rate, AUC = 0.5): ``method``, ``cutoff``,
        ``horizon_months``, ``n_candidates``, ``n_positive``, ``base_rate``,
        ``roc_auc`` and, for each ``k``, ``precision_at_k``, ``recall_at_k``
        and ``lift_at_k`` (precision / base rate). Precision@k counts tied
        scores at the cut in expectation (random tie-breaking).

    Raises
    ------
    ParameterError
        If an argument is of the wrong type or out of range.
    InsufficientDataError
        If there are no months before the cutoff, the horizon runs past the
        data, or there is no candidate.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["F", "R", "L", "A", "B"],
    ...                           "organization": [None, None, "Oak", "Oak", None]})
    >>> panel = pd.DataFrame({
    ...     "source": ["L", "A", "B", "A", "B"], "target": ["F", "R", "R", "F", "R"],
    ...     "month": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2),
    ...     "referrals": [9, 4, 4, 3, 2]})
    >>> bt = prospect_backtest(panel, providers, ["F"], cutoff="2024-02-01",
    ...                        horizon_months=1, k=(1,))
    >>> bt[["method", "n_candidates", "n_positive"]].values.tolist()[0]
    ['adamic_adar', 2, 1]
    >>> bt[["precision_at_1", "roc_auc"]].values.tolist()
    [[1.0, 1.0], [0.5, 0.5], [0.5, 0.5]]
    """
    func = "prospect_backtest"
    providers = check_frame(
        providers, "providers", func, ["id"], "read it with referral_graph.io.read_providers."
    )
    ids = check_focus_ids(focus_ids, func)
    horizon = check_int(horizon_months, "horizon_months", func, low=1, high=120)
    threshold_refs = check_int(min_referrals, "min_referrals", func, low=1, high=1000)
    threshold = check_float(loyal_threshold, "loyal_threshold", func, low=0, high=1, low_open=True)
    practice_size = check_int(max_practice_size, "max_practice_size", func, low=2, high=100_000)
    weights = _check_weights(relation_weights, func)
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise ParameterError(
            f"The 'method' parameter of {func} must name at least one method. Got {method!r} "
            "instead."
        )
    method_names = [check_choice(m, "method", func, METHODS) for m in methods]
    if isinstance(k, int | np.integer):
        k = (int(k),)
    ks = [check_int(v, "k", func, low=1, high=10**9) for v in k]
    stamp = _check_cutoff(cutoff, func)
    frame = _panel_months(panel, func)
    cut = stamp.year * 12 + stamp.month - 1
    if frame.empty or int(frame["m"].min()) >= cut:
        raise InsufficientDataError(
            f"{func}: the panel has no month before the cutoff {_month_start(cut).date()}."
        )
    last = int(frame["m"].max())
    if cut + horizon - 1 > last:
        raise InsufficientDataError(
            f"{func}: the horizon {_month_start(cut).date()} .. "
            f"{_month_start(cut + horizon - 1).date()} runs past the panel's last month "
            f"{_month_start(last).date()}; choose an earlier cutoff or a shorter horizon."
        )
    before = frame.loc[frame["m"] < cut]
    after = frame.loc[(frame["m"] >= cut) & (frame["m"] < cut + horizon)]
    ties = _ties_frame(before, None, func)
    net = _build_network(ties, providers, ids, max_practice_size=practice_size, func=func)
    rows = _candidates(net)
    if not len(rows):
        raise InsufficientDataError(f"{func}: no candidate (non-referrer) at the cutoff.")
    future = after.loc[after["target"].isin(ids)].groupby("source")["referrals"].sum()
    y = np.asarray(future.reindex(net.ids[rows]).fillna(0).to_numpy() >= threshold_refs)
    n, pos = len(rows), int(y.sum())
    base = {
        "cutoff": _month_start(cut),
        "horizon_months": horizon,
        "n_candidates": n,
        "n_positive": pos,
        "base_rate": pos / n,
    }
    results: list[dict[str, Any]] = []
    for name in method_names:
        scores = _score(
            net, rows, method=name, weights=weights, loyal_threshold=threshold, find_via=False
        )
        results.append(_metrics(name, y, scores.score, ks))
    results.append(_metrics(VOLUME_BASELINE, y, net.to_comp[rows].astype(np.float64), ks))
    results.append(_metrics(RANDOM_BASELINE, y, None, ks))
    if pos == 0:
        logger.warning("%s: no candidate became a referrer within the horizon", func)
    table = pd.DataFrame([{**row, **base} for row in results])
    columns = ["method", *base, "roc_auc"]
    columns += [f"{m}_at_{v}" for v in ks for m in ("precision", "recall", "lift")]
    table = table[columns]
    table["method"] = table["method"].astype("str")
    table["cutoff"] = table["cutoff"].astype("datetime64[ns]")
    table["n_candidates"] = table["n_candidates"].astype("int64")
    table["n_positive"] = table["n_positive"].astype("int64")
    logger.info(
        "%s: %d candidates, %d hit(s) (base rate %.3f) at %s",
        func,
        n,
        pos,
        pos / n,
        _month_start(cut).date(),
    )
    return table
