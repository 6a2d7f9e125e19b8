"""Complementary suppression of the score tables that share sums, decided together.

:func:`joint_suppression` decides, before :func:`referral_graph.scores.write_tables` writes
anything, which counts each table hides besides its own small cells: those of its own sums
(:func:`referral_graph.privacy.suppress_counts` with :data:`~referral_graph.privacy.PARTITIONS`)
and the counts that another table's sums would give back, searched together in rounds; the
last round's decision is the one written (the tables' partitions are not searched again
there). The sums between tables:

* a row of ``share_by_specialty`` (a referrer, a specialty, a receiving organisation) is
  the sum of the referrer's ties to that organisation's providers of that specialty, shown
  one by one in ``ties`` (:class:`_TiesAndCells`);
* a provider's ties sum to its ``out_strength`` (as referrer) and ``in_strength`` (as
  receiver) in ``providers``;
* a referrer's rows of ``share_by_specialty`` to the focus, to competitors and in all sum
  to its ``to_focus``, ``to_competitors`` and ``total`` in ``share_of_wallet``; one
  specialty's rows to the focus and to competitors to that specialty's in
  ``leakage_by_specialty``; one competitor's rows to its ``referrals`` in
  ``leakage_by_competitor``;
* the referrers of ``share_of_wallet`` of one organisation (the providers'
  ``organization``, :data:`referral_graph.leakage.UNAFFILIATED` without one) sum to that
  organisation's ``to_focus``, ``to_competitors`` and ``total`` in
  ``leakage_by_referrer_organization``.

Each sum between tables is a :class:`_Sum`. In every group whose total is shown, the
hidden counts must not be given away (:func:`referral_graph._protection.revealed`: a lone
hidden count, or several whose sum pins them down): the smallest shown count of the group
is hidden too (the parts' table's own partitions pick it), or the total where the group
has none. An organisation's referrers are in no partition of ``share_of_wallet``: the
smallest shown referrer is picked here when the organisation has two or more, and the
organisation's count when it has one (hiding either costs as much, and a referrer's count
would also go from ``key_referrers`` and spread to its rows of ``share_by_specialty``; on
the 50,000-provider market, hiding the organisation always hid a third of the referrals to
the focus in that table, hiding the referrer always a sixth of them in ``share_of_wallet``).
A hidden total must not be the sum of shown counts: its smallest shown count is hidden.
The tables are suppressed in rounds until no rule hides anything more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _memo
from referral_graph._protection import HiddenCounts, revealed
from referral_graph.leakage import UNAFFILIATED
from referral_graph.privacy import PARTITIONS, ROW_SUMS, ComplementarySearch, count_columns

logger = logging.getLogger("referral_graph.scores")  # its messages read as write_tables's

Mask = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]

#: The rounds allowed; each hides more cells of finite tables, so few are ever needed.
MAX_ROUNDS = 100


def hidden_cells(raw: pd.Series, safe: pd.Series) -> Mask:
    """The values `safe` leaves out of `raw`."""
    hidden: Mask = safe.isna().to_numpy() & raw.notna().to_numpy()
    return hidden


def smallest(candidate: Mask, values: Values, group: Codes, last: Mask | None = None) -> Mask:
    """The candidate row of least value in each group (the first on equal values); rows
    marked `last` only where their group has no other candidate."""
    rows = np.flatnonzero(candidate)
    keys: tuple[Any, ...] = (rows, values[rows])
    if last is not None:
        keys += (last[rows],)
    order = np.lexsort((*keys, group[rows]))
    first = np.r_[True, np.diff(group[rows][order]) != 0] if len(rows) else np.zeros(0, bool)
    chosen = np.zeros(len(candidate), dtype=bool)
    chosen[rows[order][first]] = True
    return chosen


def _numbers(column: pd.Series) -> Values:
    values: Values = pd.to_numeric(column, errors="coerce").to_numpy(float, na_value=np.nan)
    return values


def joint_keys(
    *parts: tuple[pd.Series, pd.Series],
    normalise: tuple[Callable[[object], str] | None, ...],
) -> tuple[Codes, Codes]:
    """Two tables' rows keyed by several columns, as integers equal where the parts are equal.

    Each part is a pair of columns (one per table), coded together (after `normalise`,
    applied to the distinct values only); the codes are combined into one int64 per row.
    """
    left = np.zeros(len(parts[0][0]), dtype=np.int64)
    right = np.zeros(len(parts[0][1]), dtype=np.int64)
    for (a, b), norm in zip(parts, normalise, strict=True):
        codes, uniques = pd.factorize(pd.concat([a, b], ignore_index=True), use_na_sentinel=False)
        if norm is not None:  # equal once normalised: one code
            merged, uniques = pd.factorize(pd.Index(uniques).map(norm))
            codes = merged[codes]
        n = max(len(uniques), 1)
        left = left * n + codes[: len(a)]
        right = right * n + codes[len(a) :]
    return left, right


def narrow(
    frame: pd.DataFrame,
    partitions: tuple[tuple[str, tuple[str, ...]], ...],
    also: tuple[str, ...] = (),
) -> pd.DataFrame:
    """`frame`'s columns that decide which of its `partitions`' counts (and of `also`)
    :func:`suppress_counts` hides: those counts, ``specialty_total`` and the partitions'
    keys (the other counts are in no row sum with them; the shares, amounts and scores
    only follow them).

    The keys are coded as integers once (equal where the values are equal, a missing value
    a code of its own, as ``groupby(dropna=False)`` groups them): each round then groups
    integers instead of strings (2.7 of 6.4 s on the 50,000-provider market's ties).
    """
    keys = {key for _, group in partitions for key in group}
    keep = keys | {col for col, _ in partitions} | {"specialty_total", *also}
    for total, parts in ROW_SUMS:  # a row sum with a kept count decides it too
        if keep & {total, *parts}:
            keep |= {total, *parts}
    columns = {
        c: pd.factorize(frame[c], use_na_sentinel=False)[0].astype(np.int32)
        if c in keys
        else frame[c]
        for c in frame.columns
        if c in keep
    }
    return pd.DataFrame(columns, index=frame.index)


class _Table:
    """One table in the joint suppression: the columns that decide its hidden counts, the
    counts to hide besides its own rules' (`hide`), those to pick last (`spare`), and its
    hidden counts (computed again only once `hide` changed), with those it hides besides
    its small ones (`extra`: what :func:`joint_suppression` returns once they settle)."""

    def __init__(self, name: str, frame: pd.DataFrame, also: tuple[str, ...] = ()) -> None:
        self.name = name
        self.index = frame.index
        self.partitions = PARTITIONS.get(name, ())
        self.frame = narrow(frame, self.partitions, also)
        self.counts = count_columns(self.frame)
        self.hide: dict[str, Mask] = {}
        self.spare: dict[str, Mask] = {}
        self._values: dict[str, Values] = {}
        self._hidden: dict[str, Mask] | None = None
        self._search: ComplementarySearch | None = None  # its groups, made once
        self.extra: dict[str, pd.Series] = {}
        self.version = 0  # one more each time `hide` or `spare` changes

    def __len__(self) -> int:
        return len(self.frame)

    def values(self, col: str) -> Values:
        if col not in self._values:
            self._values[col] = _numbers(self.frame[col])
        return self._values[col]

    def add(self, col: str, mask: Mask) -> bool:
        """Hide the cells of `mask` in `col` besides; whether any was not hidden so."""
        old = self.hide.get(col, np.zeros(len(self), dtype=bool))
        new = mask & ~old
        if not new.any():
            return False
        self.hide[col] = old | new
        self._hidden = None
        self.version += 1
        return True

    def spare_also(self, col: str, mask: Mask) -> None:
        self.spare[col] = self.spare.get(col, np.zeros(len(self), dtype=bool)) | mask
        self._hidden = None
        self._search = None
        self.version += 1

    def hidden(self, threshold: int) -> dict[str, Mask]:
        """Per count column, the cells hidden with `hide` and `spare` as they are now
        (:func:`suppress_counts`'s, without writing the suppressed table)."""
        if self._hidden is None:
            if self._search is None:
                self._search = ComplementarySearch(
                    self.frame,
                    threshold=threshold,
                    partitions=self.partitions,
                    spare=self.masks(self.spare),
                )
            self.extra = self._search.extra(self.masks(self.hide))
            small = self._search.small
            none = np.zeros(len(self), dtype=bool)
            self._hidden = {
                c: (
                    small[c].to_numpy(dtype=bool)
                    | (self.extra[c].to_numpy(dtype=bool) if c in self.extra else none)
                )
                & self.frame[c].notna().to_numpy()
                for c in self.counts
            }
        return self._hidden

    def masks(self, masks: Mapping[str, Mask]) -> dict[str, pd.Series]:
        return {c: pd.Series(m, index=self.index) for c, m in masks.items()}


class _Sum:
    """Rows of one table (`parts`: each row's `group`, a row of `total`, -1 for none;
    only the `rows` given, all by default) whose `part` column sums to the `total` table's
    `total_col` on that row. Used only on the rows of `total` where the sum holds exactly.
    `group` is kept as given, not copied (several sums share it: on millions of ties and
    cells, an array of its own per sum would add hundreds of megabytes), beside a byte a
    row saying which parts it uses.

    Each round (:meth:`settle`): where a shown total gives its hidden parts away
    (:func:`revealed`: one hidden part, or several whose sum pins them down), the total is
    hidden when its group has no shown non-zero part; else a partition of the parts' own
    table picks the part to hide, or, with `picks` (no such partition), the smallest shown
    non-zero part here when there are two or more, the total when there is one (hiding
    either costs as much; the total's table is the one whose other sums it leaves alone).
    A hidden total whose parts are all shown has its smallest shown non-zero part hidden
    (a part spared by its table, last).
    """

    def __init__(
        self,
        parts: _Table,
        part: str,
        total: _Table,
        total_col: str,
        group: npt.NDArray[np.int32],
        rows: Mask | None = None,
        *,
        picks: bool = False,
    ) -> None:
        self.parts, self.part, self.total, self.total_col = parts, part, total, total_col
        self.group, self.picks = group, picks
        values = parts.values(part)
        use = (group >= 0) & ~np.isnan(values)  # a missing part is in no group
        if rows is not None:
            use &= rows
        sums = np.bincount(group[use], weights=values[use], minlength=len(total))
        exact = sums == total.values(total_col)  # a missing total is never equal
        # (no total at all: no group holds)
        use &= exact[np.where(use, group, 0)] if len(exact) else False
        self.use: Mask = use  # the parts in a group whose sum holds (a byte a row)
        self.reads = (parts.name, total.name)
        self.seen: tuple[int, ...] | None = None
        self.counts: HiddenCounts | None = None  # made at the first round, kept for the next

    def alone(self) -> tuple[Mask, Mask]:
        """The parts that are the only non-zero one of their group, and the totals with
        exactly one non-zero part (each shows the other's value)."""
        use = self.use
        with np.errstate(invalid="ignore"):
            nonzero = use & (self.parts.values(self.part) > 0)
        count = np.bincount(self.group[use], weights=nonzero[use], minlength=len(self.total))
        return nonzero & (count[np.where(use, self.group, 0)] == 1), count == 1

    def settle(self, hidden: Mapping[str, Mapping[str, Mask]], threshold: int) -> bool:
        """One round, on the hidden cells of its start (`hidden`: per table, per column)."""
        part_hidden = hidden[self.parts.name][self.part]
        total_hidden = hidden[self.total.name][self.total_col]
        n = len(self.total)
        values = self.parts.values(self.part)
        use = self.use
        if self.counts is None:
            self.counts = HiddenCounts(values, self.group, n, use=use)
        # per total: its parts hidden (their number and sum) and its non-zero parts shown
        n_hidden, hidden_sum, n_shown = self.counts.of(part_hidden)
        exposed = ~total_hidden & revealed(n_hidden, hidden_sum, threshold)
        pick = exposed & (n_shown >= 2) if self.picks else np.zeros(n, dtype=bool)
        changed = self.total.add(
            self.total_col, exposed & ((n_shown == 0) | (self.picks & (n_shown == 1)))
        )
        bare = total_hidden & (n_hidden == 0) & (n_shown > 0)  # its parts give it back
        if (bare | pick).any():
            with np.errstate(invalid="ignore"):
                part_shown = ~part_hidden & (values > 0)
            candidate = use & (bare | pick)[np.where(use, self.group, 0)] & part_shown
            group = np.where(use, self.group, -1).astype(np.int64)
            last = self.parts.spare.get(self.part)
            changed |= self.parts.add(self.part, smallest(candidate, values, group, last))
        return changed


class _TiesAndCells:
    """``ties`` and ``share_by_specialty``: each row of ``share_by_specialty`` (a cell: a
    referrer, a specialty, a receiving organisation) is the sum of the referrer's ties to
    that organisation's providers of that specialty. Each round (:meth:`settle`):

    * a shown cell whose hidden ties are given away (:func:`revealed`: one hidden tie, or
      several whose sum pins them down) gets its smallest shown tie hidden, or is hidden
      when it has no other (the cell minus its other ties would give them back); a tie
      alone in its cell is the last one picked for the ties' own sums;
    * a hidden cell whose ties are all shown gets its smallest tie hidden (their sum
      would give the cell back);
    * a referrer's specialty whose hidden cells are given away by its ``specialty_total``
      and has no other cell to hide has the total hidden;
    * a referrer whose hidden ties all lie in one hidden cell gets its smallest shown tie
      of another cell hidden (its ``out_strength`` minus its shown ties would give the
      cell's hidden part back).
    """

    def __init__(
        self,
        ties: _Table,
        cells: _Table,
        raw_ties: pd.DataFrame,
        raw_cells: pd.DataFrame,
        cell: Codes,
    ) -> None:
        self.ties, self.cells = ties, cells
        self.cell = cell
        self.mapped = cell >= 0
        self.at = np.where(self.mapped, cell, 0)
        source = raw_ties["source"]
        self.source = (
            _memo.factorize(source)[0]  # text already: hashed once for every step
            if isinstance(source.dtype, pd.StringDtype)
            else pd.factorize(source.astype(str))[0]
        ).astype(np.int64)
        self.tie_values = ties.values("referrals")
        self.cell_values = cells.values("referrals")
        with np.errstate(invalid="ignore"):
            nonzero = self.tie_values > 0
        # a tie alone in its cell: its value is the cell's, shown there unless it is hidden
        m = self.mapped
        count = np.bincount(cell[m], weights=nonzero[m], minlength=len(cells))
        ties.spare_also("referrals", m & (count[self.at] == 1))
        self.group = raw_cells.groupby(["source", "specialty"], sort=False).ngroup().to_numpy()
        self.has_total = raw_cells["specialty_total"].notna().to_numpy()
        self.where = np.where(m, cell, -1 - np.arange(len(cell)))  # an unmapped tie: apart
        self.reads = (ties.name, cells.name)
        self.seen: tuple[int, ...] | None = None

    @classmethod
    def of(
        cls, tables: Mapping[str, pd.DataFrame], state: dict[str, _Table]
    ) -> _TiesAndCells | None:
        """The rules, when ``ties``, ``share_by_specialty`` and ``providers`` allow them."""
        from referral_graph._checks import text_key

        names = ("ties", "share_by_specialty", "providers")
        ties, cells, providers = (tables.get(k) for k in names)
        if ties is None or cells is None or providers is None:
            return None
        needed = ({"source", "target", "target_specialty", "referrals"} <= set(ties.columns)) and (
            {"source", "specialty", "organization", "referrals"} <= set(cells.columns)
        )
        if not needed or "organization" not in providers.columns:
            return None
        if "specialty_total" not in cells.columns:
            return None
        organization = providers.set_index(providers["id"].astype(str))["organization"]
        organization = organization[~organization.index.duplicated()]
        target = ties["target"].astype(str)
        receiver = _map_distinct(target, organization)
        receiver = receiver.where(receiver.notna(), target).astype(str)
        # each tie's cell and each cell as one integer (the three parts coded jointly):
        # strings joined per row would take gigabytes on millions of ties
        tie_key, cell_key = joint_keys(
            (ties["source"].astype(str), cells["source"].astype(str)),
            (ties["target_specialty"], cells["specialty"]),
            (receiver, cells["organization"].astype(str)),
            normalise=(None, text_key, None),
        )
        index = pd.Index(cell_key)
        if not index.is_unique:  # an organisation both focus and not: its ties map to two rows
            logger.warning(
                "share_by_specialty has an organisation both in and out of the focus: its "
                "rows and the ties are suppressed apart (each table's own sums only)"
            )
            return None
        cell = index.get_indexer(pd.Index(tie_key)).astype(np.int64)
        del index, tie_key, cell_key, receiver, target  # a hash table and strings per tie
        return cls(state["ties"], state["share_by_specialty"], ties, cells, cell)

    def settle(self, hidden: Mapping[str, Mapping[str, Mask]], threshold: int) -> bool:
        """One round, on the hidden cells of its start (`hidden`: per table, per column)."""
        tie_hidden = hidden["ties"]["referrals"]
        cell_hidden = hidden["share_by_specialty"]["referrals"]
        m, at, n = self.mapped, self.at, len(self.cells)
        tie_values, cell_values = self.tie_values, self.cell_values
        hidden_in = np.bincount(self.cell[m], weights=tie_hidden[m], minlength=n)
        hidden_sum = np.bincount(self.cell[m], weights=(tie_values * tie_hidden)[m], minlength=n)
        has_ties = np.bincount(self.cell[m], minlength=n) > 0
        with np.errstate(invalid="ignore"):
            shown_tie = ~tie_hidden & (tie_values > 0)
        # a shown cell whose hidden ties it gives away: hide another of its ties, else the cell
        exposed = ~cell_hidden & revealed(hidden_in, hidden_sum, threshold)
        in_cell = np.where(m, self.cell, -1)
        add_ties = smallest(m & exposed[at] & shown_tie, tie_values, in_cell)
        fixed = np.zeros(n, dtype=bool)
        fixed[self.cell[add_ties]] = True
        add_cells = exposed & ~fixed
        lonely = cell_hidden & has_ties & (hidden_in == 0)  # every tie of the cell shown
        add_ties |= smallest(m & lonely[at] & shown_tie, tie_values, in_cell)
        del in_cell
        # a referrer's specialty whose hidden cells its total gives away, the others none
        group = self.group
        with np.errstate(invalid="ignore"):
            others = (~cell_hidden & (cell_values > 0)).astype(float)
        k = np.bincount(group, weights=cell_hidden)
        s = np.bincount(group, weights=cell_values * cell_hidden)
        given = cell_hidden & revealed(k, s, threshold)[group]
        add_totals = given & (np.bincount(group, weights=others)[group] == 0) & self.has_total
        add_ties |= _one_cell_referrers(
            self.where, self.source, tie_hidden, cell_hidden, shown_tie, tie_values
        )
        changed = self.ties.add("referrals", add_ties)
        changed |= self.cells.add("referrals", add_cells)
        changed |= self.cells.add("specialty_total", add_totals)
        return changed


def _one_cell_referrers(
    where: Codes,
    source: Codes,
    tie_hidden: Mask,
    cell_hidden: Mask,
    shown_tie: Mask,
    tie_values: Values,
) -> Mask:
    """The ties to hide because their referrer's hidden ties all lie in one hidden cell
    (`where`: each tie's cell, a negative number of its own for a tie in none): the
    smallest shown tie of another cell, else its ``out_strength`` minus its shown ties
    would give the cell's hidden part back."""
    if not len(where):
        return np.zeros(0, dtype=bool)
    key = source - source.min()  # 0, 1, ... (a missing source's code, -1, among them)
    n = int(key.max()) + 1
    # each referrer's least and greatest cell of a hidden tie: equal when all in one
    low = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(low, key[tie_hidden], where[tie_hidden])
    np.maximum.at(high, key[tie_hidden], where[tie_hidden])
    one = (low == high) & (low >= 0)  # one cell of the table (not a tie in none)
    one[one] = cell_hidden[low[one]]  # a shown row: its sum
    if not one.any():
        return np.zeros(len(where), dtype=bool)
    outside = one[key] & (where != low[key])
    return smallest(outside & shown_tie, tie_values, source)


def _map_distinct(keys: pd.Series, mapping: pd.Series) -> pd.Series:
    """``keys.map(mapping)``, each distinct key looked up once (millions of ties, fewer
    providers); missing keys are looked up as ``map`` does."""
    codes, uniques = _memo.factorize(keys)  # (the ties' ids: hashed once for every step)
    missing = codes < 0
    out = pd.Series(uniques).map(mapping).take(np.where(missing, 0, codes))
    out.index = keys.index
    if missing.any():
        out[missing] = keys[missing].map(mapping)
    return out


def _rows_of(keys: pd.Series, labels: pd.Series) -> npt.NDArray[np.int32]:
    """Each key's row in `labels`, compared as text (-1 for none; the first of equal
    labels). The distinct keys only are looked up (millions of ties, fewer providers)."""
    index = pd.Index(labels.astype(str))
    first = ~index.duplicated()
    rows = np.flatnonzero(first)
    if not len(rows):
        return np.full(len(keys), -1, dtype=np.int32)
    codes, uniques = (
        _memo.factorize(keys)  # the ties' ids: hashed once for every step
        if not keys.hasnans
        else pd.factorize(keys, use_na_sentinel=False)
    )
    at = pd.Index(index[first]).get_indexer(pd.Index(pd.Series(uniques).astype(str)))
    found = np.where(at >= 0, rows[np.maximum(at, 0)], -1).astype(np.int32)
    out: npt.NDArray[np.int32] = found[codes]
    return out


def _organizations(wallet: pd.DataFrame, providers: pd.DataFrame | None) -> pd.Series:
    """Each referrer's organisation, as ``leakage_summary(by="referrer_organization")``
    labels it: the providers' ``organization`` (stripped), `UNAFFILIATED` without one."""
    names = pd.Series(pd.NA, index=pd.Index([], dtype=str), dtype="str")
    if providers is not None and {"id", "organization"} <= set(providers.columns):
        names = pd.Series(
            providers["organization"].to_numpy(), index=providers["id"].astype(str)
        ).astype("str")
        names = names.str.strip()
        names = names.where(names.str.len() > 0)
        names = names[~names.index.duplicated()]
    org = wallet["source"].astype(str).map(names)
    return org.where(org.notna(), UNAFFILIATED).astype(str)


_WALLET_SIDES = (("to_focus", True), ("to_competitors", False), ("total", None))


def _has(frame: pd.DataFrame | None, *columns: str) -> bool:
    return frame is not None and set(columns) <= set(frame.columns)


def _sums(tables: Mapping[str, pd.DataFrame], state: dict[str, _Table]) -> list[_Sum]:
    """The sums between the tables present (creating their :class:`_Table`)."""
    sums: list[_Sum] = []

    def add(
        parts: str,
        total: str,
        col: str,
        group: npt.NDArray[np.int32],
        rows: Mask | None = None,
        part: str = "referrals",
    ) -> _Sum | None:
        for name in (parts, total):
            if name not in state:
                also = ("out_strength", "in_strength") if name == "providers" else ()
                state[name] = _Table(name, tables[name], also)
        if part not in state[parts].counts or col not in state[total].counts:
            return None  # not numbers: nothing hidden there
        # no partition of share_of_wallet groups the referrers by organisation: picked here
        picks = total == "leakage_by_referrer_organization"
        one = _Sum(state[parts], part, state[total], col, group, rows, picks=picks)
        sums.append(one)
        return one

    get = tables.get
    ties, cells, providers = get("ties"), get("share_by_specialty"), get("providers")
    wallet, orgs = get("share_of_wallet"), get("leakage_by_referrer_organization")
    if ties is not None and providers is not None and "id" in providers.columns:
        for end, strength in (("source", "out_strength"), ("target", "in_strength")):
            if _has(ties, end, "referrals") and strength in providers.columns:
                add("ties", "providers", strength, _rows_of(ties[end], providers["id"]))
    if not _has(wallet, "source") or wallet is None or not wallet["source"].astype(str).is_unique:
        wallet = None  # its rows are not one per referrer
    if cells is not None and _has(cells, "referrals", "is_focus"):
        focus = cells["is_focus"].astype(bool).to_numpy()
        if wallet is not None and "source" in cells.columns:
            row = _rows_of(cells["source"], wallet["source"])
            for col, side in _WALLET_SIDES:
                if col in wallet.columns:
                    rows = None if side is None else focus if side else ~focus
                    add("share_by_specialty", "share_of_wallet", col, row, rows)
        by_specialty = get("leakage_by_specialty")
        if by_specialty is not None and _has(by_specialty, "specialty") and "specialty" in cells:
            row = _rows_of(cells["specialty"], by_specialty["specialty"])
            for col, side in _WALLET_SIDES[:2]:
                if col in by_specialty.columns:
                    rows = focus if side else ~focus
                    add("share_by_specialty", "leakage_by_specialty", col, row, rows)
        competitors = get("leakage_by_competitor")
        named = _has(competitors, "competitor", "referrals") and "organization" in cells.columns
        if competitors is not None and named:
            row = _rows_of(cells["organization"], competitors["competitor"])
            add("share_by_specialty", "leakage_by_competitor", "referrals", row, ~focus)
    if wallet is not None and orgs is not None and "referrer_organization" in orgs.columns:
        row = _rows_of(_organizations(wallet, providers), orgs["referrer_organization"])
        for col, _ in _WALLET_SIDES:
            if col in wallet.columns and col in orgs.columns:
                one = add(
                    "share_of_wallet", "leakage_by_referrer_organization", col, row, None, col
                )
                if one is not None:
                    alone, single = one.alone()  # each shows the other's value: picked last
                    one.parts.spare_also(col, alone)
                    one.total.spare_also(col, single)
    return sums


def joint_suppression(
    tables: Mapping[str, pd.DataFrame], threshold: int
) -> dict[str, dict[str, pd.Series]]:
    """The counts each table hides besides its small ones, decided together.

    Returns, per table in a sum with another, the counts its file hides besides its
    small cells (per count column where there is one, a boolean Series on its index):
    those that another table's sums would give back, and those its own rules
    (:data:`~referral_graph.privacy.PARTITIONS`, :data:`~referral_graph.privacy.ROW_SUMS`)
    hide with them, as :func:`referral_graph.privacy.suppress_counts` decided them in the
    last round. The table is written with them as ``hide`` and no partitions (its own
    partitions find nothing more to hide: they were searched in that round); nothing
    for tables in no sum with another.
    """
    state: dict[str, _Table] = {}
    pairs: _TiesAndCells | None = None
    if all(k in tables for k in ("ties", "share_by_specialty", "providers")):
        ties, cells = tables["ties"], tables["share_by_specialty"]
        if {"referrals"} <= set(ties.columns) and {"referrals"} <= set(cells.columns):
            state["ties"] = _Table("ties", ties)
            state["share_by_specialty"] = _Table("share_by_specialty", cells)
            pairs = _TiesAndCells.of(tables, state)
    sums = _sums(tables, state)
    if pairs is None and not sums:
        return {}
    rules: list[_TiesAndCells | _Sum] = [*([pairs] if pairs is not None else []), *sums]
    for _ in range(MAX_ROUNDS):
        hidden = {name: table.hidden(threshold) for name, table in state.items()}
        versions = {name: table.version for name, table in state.items()}
        changed = False
        for rule in rules:
            seen = tuple(versions[name] for name in rule.reads)
            if seen == rule.seen:  # its tables as when it last found nothing: nor now
                continue
            if rule.settle(hidden, threshold):
                changed = True
            else:
                rule.seen = seen
        del hidden  # not two rounds' masks at once
        if not changed:
            break
    else:  # pragma: no cover - each round hides more; the tables are finite
        raise RuntimeError("complementary suppression of the tables did not settle")
    decided = {}
    for name, table in state.items():
        table.hidden(threshold)  # as the last round found it (cached)
        decided[name] = table.extra
    return decided
