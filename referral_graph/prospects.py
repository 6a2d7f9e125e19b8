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
from scipy.stats import rankdata

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


def _text_lookup(providers: pd.DataFrame, column: str, ids: pd.Index) -> pd.Series:
    """``column`` of each id in `ids` (stripped; blanks and unknown ids are missing)."""
    if column not in providers.columns:
        return pd.Series(pd.NA, index=ids, dtype="str")
    values = pd.Series(providers[column].to_numpy(), index=providers["id"].astype("str"))
    values = values[~values.index.duplicated()].astype("str").str.strip()
    values = values.where(values.str.len() > 0)
    return values.reindex(ids)


# ----------------------------------------------------------------------------- inputs


def _ties_frame(ties: Any, panel: Any, func: str) -> pd.DataFrame:
    """A clean tie table (source, target, referrals > 0, no self-ties) from ties or panel."""
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
    out = pd.DataFrame(
        {
            "source": frame["source"].astype("str"),
            "target": frame["target"].astype("str"),
            "referrals": pd.to_numeric(frame["referrals"], errors="coerce"),
        }
    )
    bad = out["referrals"].isna() | (out["referrals"] < 0)
    if bool(bad.any()):
        raise SchemaError(
            f"The ties of {func} must hold referral counts >= 0; {int(bad.sum())} row(s) do not."
        )
    blank = frame["source"].isna().to_numpy() | frame["target"].isna().to_numpy()
    loops = (out["source"] == out["target"]).to_numpy()
    keep = ~blank & ~loops & (out["referrals"] > 0).to_numpy()
    if int(loops.sum()):
        logger.info("%s: %d self-referral row(s) left out", func, int(loops.sum()))
    out = out.loc[keep]
    summed = out.groupby(["source", "target"], sort=True)["referrals"].sum()
    return summed.reset_index()


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
            "source": frame["source"].astype("str").to_numpy(),
            "target": frame["target"].astype("str").to_numpy(),
            "referrals": pd.to_numeric(frame["referrals"], errors="coerce").to_numpy(),
            "m": (months.dt.year * 12 + months.dt.month - 1).astype("int64").to_numpy(),
        }
    )


def _month_start(number: int) -> pd.Timestamp:
    return pd.Timestamp(year=number // 12, month=number % 12 + 1, day=1)


# ----------------------------------------------------------------------------- network


@dataclass
class _Network:
    ids: pd.Index
    focus: BoolArray
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
    practice_members: list[IntArray]
    competitor_ties: pd.DataFrame  # source index, competitor, specialty, referrals
    specialties_known: bool


def _build_network(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: list[str],
    *,
    max_practice_size: int,
    func: str,
) -> _Network:
    ids = pd.Index(
        pd.unique(
            np.concatenate(
                [
                    providers["id"].astype("str").to_numpy(dtype=object),
                    ties["source"].to_numpy(dtype=object),
                    ties["target"].to_numpy(dtype=object),
                    np.asarray(focus_ids, dtype=object),
                ]
            )
        )
    )
    n = len(ids)
    focus = np.asarray(ids.isin(focus_ids), dtype=bool)
    src = ids.get_indexer(pd.Index(ties["source"]))
    tgt = ids.get_indexer(pd.Index(ties["target"]))
    w = ties["referrals"].to_numpy(dtype=np.float64)

    name = _text_lookup(providers, "name", ids)
    names = name.fillna(pd.Series(ids, index=ids)).astype("str")
    org = _text_lookup(providers, "organization", ids)
    spec = _text_lookup(providers, "specialty", ids)
    spec_key = spec.map(text_key, na_action="ignore")

    focus_specs = set(spec_key[focus].dropna())
    specialties_known = bool(focus_specs)
    if not specialties_known:
        logger.info(
            "%s: the focus providers have no specialty; every referral counts as market", func
        )
    focus_orgs = set(org[focus].dropna().map(text_key))
    org_key = org.map(text_key, na_action="ignore")

    to_focus_tie = focus[tgt]
    sibling = ~to_focus_tie & org_key.iloc[tgt].isin(focus_orgs).to_numpy()
    if specialties_known:
        in_market = to_focus_tie | spec_key.iloc[tgt].isin(focus_specs).to_numpy()
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
    members_org = org_key.reindex(pd.Index(providers["id"].astype("str").unique()))
    sizes = members_org.value_counts()
    small = set(sizes.index[(sizes >= 2) & (sizes <= max_practice_size)])
    in_practice = org_key.isin(small).to_numpy() & ~focus
    codes = np.full(n, -1, dtype=np.int64)
    labels, uniques = pd.factorize(org_key.where(in_practice))
    codes[in_practice] = labels[in_practice]
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    practice_members = [order[starts[i] : starts[i + 1]] for i in range(len(uniques))]

    # degree: distinct providers tied by referral (F once) or practice
    pairs_f = np.where(focus[src], -1, src), np.where(focus[tgt], -1, tgt)
    a_end = np.concatenate([pairs_f[0], pairs_f[1]])
    b_end = np.concatenate([pairs_f[1], pairs_f[0]])
    valid = a_end >= 0
    edge_keys = pd.DataFrame({"a": a_end[valid], "b": b_end[valid]}).drop_duplicates()
    degree = np.bincount(edge_keys["a"].to_numpy(), minlength=n).astype(np.float64)
    size_of = np.array([len(m) for m in practice_members] + [1], dtype=np.float64)
    degree += size_of[codes] - 1.0  # code -1 picks the trailing 1: no colleague

    org_values = org.to_numpy(dtype=object)
    comp_label = np.where(pd.isna(org_values), names.to_numpy(dtype=object), org_values)[tgt]
    competitor_ties = pd.DataFrame(
        {
            "source": src[competitor_tie],
            "competitor": comp_label[competitor_tie],
            "specialty": spec.iloc[tgt].to_numpy()[competitor_tie],
            "specialty_key": spec_key.iloc[tgt].to_numpy()[competitor_tie],
            "referrals": w[competitor_tie],
        }
    )
    logger.info(
        "%s: %s providers, %s ties, %d focus provider(s), %d referrer(s) to them, %d practice(s)",
        func,
        f"{n:,}",
        f"{len(ties):,}",
        int(focus.sum()),
        int((loyalty > 0).sum()),
        len(practice_members),
    )
    return _Network(
        ids=ids,
        focus=focus,
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
        practice_members=practice_members,
        competitor_ties=competitor_ties,
        specialties_known=specialties_known,
    )


def _candidates(net: _Network) -> IntArray:
    """Non-focus referral sources (or untied providers) with no referral to the focus."""
    untied = (net.out == 0) & (net.received == 0)
    ok = ~net.focus & (net.to_focus == 0) & ((net.out > 0) | untied)
    return np.flatnonzero(ok).astype(np.int64)


def _row_normalise(matrix: Any) -> Any:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.diags(inv) @ matrix


@dataclass
class _Scores:
    score: FloatArray
    measure: FloatArray
    loyal_link: BoolArray
    via: IntArray  # index of the loyal neighbour contributing most, -1 when none
    via_relation: list[str | None]


def _score(
    net: _Network,
    rows: IntArray,
    *,
    method: str,
    weights: Mapping[str, float],
    loyal_threshold: float,
) -> _Scores:
    """Link-prediction scores of the candidate `rows` (see the module docstring)."""
    n = len(net.ids)
    nonfocus = (~net.focus).astype(np.float64)
    lam = net.loyalty
    degree = np.maximum(net.degree, 1.0)
    if method == "adamic_adar":
        factor = lam / np.log2(1.0 + degree)
    elif method == "resource_allocation":
        factor = lam / degree
    else:
        factor = lam.copy()
    total_lambda = float(lam.sum())
    # co-referral: row-normalised sending x column-normalised receiving
    out = np.asarray(net.send.sum(axis=1)).ravel()
    inn = np.asarray(net.send.sum(axis=0)).ravel()
    left = sp.diags(np.divide(1.0, out, out=np.zeros(n), where=out > 0)) @ net.send
    right = (net.send @ sp.diags(np.divide(1.0, inn, out=np.zeros(n), where=inn > 0))).T.tocsr()
    right = right @ sp.diags(nonfocus)  # receivers' senders, focus providers dropped
    in_deg = np.diff(net.send.tocsc().indptr).astype(np.float64)
    cost = np.asarray((net.send > 0).astype(np.float64) @ in_deg).ravel()

    measure = np.zeros(len(rows))
    loyal_link = np.zeros(len(rows), dtype=bool)
    via = np.full(len(rows), -1, dtype=np.int64)
    via_relation: list[str | None] = [None] * len(rows)

    start = 0
    while start < len(rows):
        stop = start + 1
        budget = cost[rows[start]]
        while stop < len(rows) and budget + cost[rows[stop]] <= _MAX_CHUNK_ENTRIES:
            budget += cost[rows[stop]]
            stop += 1
        chunk = rows[start:stop]
        m = len(chunk)
        parts: dict[str, Any] = {}
        if weights["referral"] > 0:
            parts["referral"] = _row_normalise(net.direct[chunk])
        if weights["co_referral"] > 0:
            co = (left[chunk] @ right).tocoo()
            not_self = co.col != chunk[co.row]
            co = sp.csr_matrix(
                (co.data[not_self], (co.row[not_self], co.col[not_self])), shape=(m, n)
            )
            parts["co_referral"] = _row_normalise(co)
        if weights["practice"] > 0:
            r_idx: list[IntArray] = []
            c_idx: list[IntArray] = []
            for i, row in enumerate(chunk):
                code = net.practice_code[row]
                if code >= 0:
                    mates = net.practice_members[code]
                    mates = mates[mates != row]
                    r_idx.append(np.full(len(mates), i, dtype=np.int64))
                    c_idx.append(mates)
            rr = np.concatenate(r_idx) if r_idx else np.zeros(0, dtype=np.int64)
            cc = np.concatenate(c_idx) if c_idx else np.zeros(0, dtype=np.int64)
            pr = sp.csr_matrix((np.ones(len(rr)), (rr, cc)), shape=(m, n))
            parts["practice"] = _row_normalise(pr)
        mix = sp.csr_matrix((m, n))
        norm = np.zeros(m)
        for rel, part in parts.items():
            has = np.asarray(part.sum(axis=1)).ravel() > 0
            norm += weights[rel] * has
            mix = mix + weights[rel] * part
        inv = np.divide(1.0, norm, out=np.zeros(m), where=norm > 0)
        mix = (sp.diags(inv) @ mix).tocsr()
        mix.eliminate_zeros()
        coo = mix.tocoo()
        r, c, p = coo.row, coo.col, coo.data
        if method == "jaccard":
            lam_c = lam[c]
            num = np.bincount(r, weights=np.minimum(p, lam_c), minlength=m)
            extra = np.bincount(r, weights=np.maximum(p - lam_c, 0.0), minlength=m)
            den = total_lambda + extra
            measure[start:stop] = np.divide(num, den, out=np.zeros(m), where=den > 0)
        else:
            measure[start:stop] = np.bincount(r, weights=p * factor[c], minlength=m)
        # the loyal neighbour contributing most, and the relation carrying most of it
        loyal = lam[c] >= loyal_threshold
        if loyal.any():
            rl, cl, contrib = r[loyal], c[loyal], p[loyal] * lam[c[loyal]]
            order = np.lexsort((cl, -contrib, rl))
            first = order[np.r_[True, rl[order][1:] != rl[order][:-1]]]
            loyal_link[start + rl[first]] = True
            via[start + rl[first]] = cl[first]
            names = list(parts)
            carried = np.column_stack(
                [
                    weights[rel] * np.asarray(parts[rel][rl[first], cl[first]]).ravel()
                    for rel in names
                ]
            )
            for i, j in zip(rl[first], np.argmax(carried, axis=1), strict=True):
                via_relation[start + int(i)] = names[int(j)]
        start = stop
    score = np.clip(measure * net.openness[rows], 0.0, 1.0)
    return _Scores(
        score=score,
        measure=measure,
        loyal_link=loyal_link,
        via=via,
        via_relation=via_relation,
    )


def _competitor_details(net: _Network, rows: IntArray) -> pd.DataFrame:
    """top_competitor, competitors and specialties of each row (missing when none)."""
    ct = net.competitor_ties
    ct = ct.loc[ct["source"].isin(rows)]
    out = pd.DataFrame(index=pd.Index(rows, name="row"))
    if ct.empty:
        out["top_competitor"] = pd.Series(pd.NA, index=out.index, dtype="str")
        out["competitors"] = pd.Series(pd.NA, index=out.index, dtype="str")
        out["specialties"] = pd.Series(pd.NA, index=out.index, dtype="str")
        return out
    by_comp = ct.groupby(["source", "competitor"], sort=False)["referrals"].sum().reset_index()
    by_comp = by_comp.sort_values(
        ["source", "referrals", "competitor"], ascending=[True, False, True], kind="stable"
    )
    top = by_comp.drop_duplicates("source").set_index("source")["competitor"]
    joined = by_comp.groupby("source", sort=False)["competitor"].agg("; ".join)
    spec = ct.dropna(subset=["specialty_key"])
    labels = spec.groupby("specialty_key", sort=False)["specialty"].first()
    spec = spec.assign(label=spec["specialty_key"].map(labels))
    by_spec = spec.groupby(["source", "label"], sort=False)["referrals"].sum().reset_index()
    by_spec = by_spec.sort_values(
        ["source", "referrals", "label"], ascending=[True, False, True], kind="stable"
    )
    specs = by_spec.groupby("source", sort=False)["label"].agg("; ".join)
    out["top_competitor"] = top.reindex(out.index).astype("str")
    out["competitors"] = joined.reindex(out.index).astype("str")
    out["specialties"] = specs.reindex(out.index).astype("str")
    return out


def _last_active(panel: pd.DataFrame, ids: pd.Index, rows: IntArray) -> pd.Series:
    frame = _panel_months(panel, "prospects")
    last = frame.groupby("source")["m"].max().reindex(ids[rows])
    parts = pd.DataFrame({"year": last // 12, "month": last % 12 + 1, "day": 1})
    return pd.to_datetime(parts).astype("datetime64[ns]").reset_index(drop=True)


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
    if panel is not None and len(table):
        rows = net.ids.get_indexer(pd.Index(table["id"]))
        table["last_active"] = _last_active(panel, net.ids, rows).to_numpy()
    if "name" not in providers.columns:
        table = table.drop(columns="name")
    for column in ("specialty", "organization", "city"):
        if column in providers.columns:
            table[column] = _text_lookup(providers, column, pd.Index(table["id"])).to_numpy()
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
    via_text: list[Any] = []
    for row, v, rel in zip(rows, via, via_relation, strict=True):
        if v < 0:
            via_text.append(pd.NA)
        elif rel == "practice" and pd.notna(net.org.iloc[row]):
            via_text.append(net.org.iloc[row])
        else:
            via_text.append(net.names.iloc[v])
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
            "via_id": pd.Series([net.ids[v] if v >= 0 else pd.NA for v in via], dtype="str"),
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
        scores = _score(net, rows, method=name, weights=weights, loyal_threshold=threshold)
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
