"""The ``via`` of each prospect: the loyal neighbour contributing most to its score.

Unlike the score, ``via`` needs the entries ``p(c, z)`` themselves; they are
formed for few candidates at a time, most of them only where they can decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from referral_graph.prospects._inputs import BoolArray, FloatArray, IntArray
from referral_graph.prospects._network import _Network
from referral_graph.prospects._sparse import (
    _inverse,
    _keep_columns,
    _keep_positions,
    _scale_rows,
    _top_partners,
    _walk_at,
)

if TYPE_CHECKING:  # _score imports this module
    from referral_graph.prospects._score import _Relation

_MAX_CHUNK_ENTRIES = 4_000_000  # co-referral entries computed at once
_TOP_PARTNERS = 8  # loyal senders per receiver whose co-referral entries are formed first
_BOUND_MARGIN = 1e-6  # relative margin of the co-referral bound over rounding (~1e-13)


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


def _find_via(
    net: _Network,
    rows: IntArray,
    parts: dict[str, _Relation],
    weights: Mapping[str, float],
    inv: FloatArray,
    *,
    jaccard: bool,
    norm: FloatArray,
    loyal_threshold: float,
    measure: FloatArray,
    via: IntArray,
    via_relation: npt.NDArray[np.object_],
) -> None:
    """Fill `via` and `via_relation` of the candidate `rows` and, for Jaccard, `measure`.

    The entries ``p(c, z)`` are formed for the loyal neighbours only: first
    the few that can decide ``via`` (:func:`_explicit_links`), then all of them
    for the candidates left (:func:`_scan`); for Jaccard, for every neighbour
    with ``lambda(z) > 0``, in :func:`_scan`.
    """
    lam = net.loyalty
    wanted = lam > 0 if jaccard else lam >= loyal_threshold
    entries = _Entries.build(net, rows, parts, weights, inv, wanted)
    todo = np.arange(len(rows))
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
