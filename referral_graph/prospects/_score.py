"""The scores: each relation's terms ``p_r @ factor``, mixed into the link-prediction measure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from referral_graph.prospects._inputs import BoolArray, FloatArray, IntArray
from referral_graph.prospects._network import _Network
from referral_graph.prospects._sparse import _inverse, _row_sums
from referral_graph.prospects._via import _find_via


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


def _score(
    net: _Network,
    rows: IntArray,
    *,
    method: str,
    weights: Mapping[str, float],
    loyal_threshold: float,
    find_via: bool = True,
) -> _Scores:
    """Link-prediction scores of the candidate `rows` (see :mod:`referral_graph.prospects`).

    The measures other than Jaccard are linear in ``p(c, .)``, so they are
    computed from each relation's ``p_r @ factor``; the entries ``p(c, z)``
    themselves are formed for the loyal neighbours only (``via``, unless
    `find_via` is False: see :func:`referral_graph.prospects._via._find_via`), and
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
        _find_via(
            net,
            rows,
            parts,
            weights,
            inv,
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
