"""Every score in one call: provider measures, tie strength, communities, focus tables.

:func:`score_network` runs :mod:`~referral_graph.centrality`,
:mod:`~referral_graph.communities`, :mod:`~referral_graph.strength` and,
with a focus organisation, :mod:`~referral_graph.leakage` on a
:class:`~referral_graph.pipeline.ReferralNetwork` and returns the tables the
``score`` command writes. :func:`write_tables` writes tables with small-cell
suppression applied to every count column.

Examples
--------
>>> import pandas as pd
>>> from referral_graph.pipeline import load_network
>>> ev = pd.DataFrame({"source": ["A", "B", "B"], "target": ["C", "C", "D"],
...                    "date": ["2024-01-02", "2024-01-05", "2024-02-01"]})
>>> tables = score_network(load_network(events=ev))
>>> sorted(tables)
['communities', 'providers', 'ties']
>>> tables["providers"].columns[:4].tolist()
['id', 'in_degree', 'out_degree', 'in_strength']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _worker
from referral_graph._checks import check_choice, check_float, check_int
from referral_graph._compact import as_compact
from referral_graph.centrality import CompactGraph
from referral_graph.centrality._measures import _betweenness_columns, _betweenness_sources
from referral_graph.communities import METHODS as COMMUNITY_METHODS
from referral_graph.exceptions import ParameterError
from referral_graph.io import write_table
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import (
    DEFAULT_THRESHOLD,
    LINKED,
    PARTITIONS,
    ROW_SUMS,
    SUMMED,
    count_columns,
    describe_suppression,
    suppress_counts,
)

__all__ = ["TablesWritten", "score_network", "write_tables"]

logger = logging.getLogger(__name__)

_METHODS = COMMUNITY_METHODS


class TablesWritten(dict[str, list[Path]]):
    """The paths :func:`write_tables` wrote, by table name, and what suppression left out.

    Attributes
    ----------
    suppression : str or None
        The sentence of :func:`referral_graph.privacy.describe_suppression`.
    records : dict
        Each table's ``attrs["suppression"]`` record, by name.
    tables : dict
        The tables as written (suppressed), by name: those `keep` named.
    hidden : dict
        What each table's file leaves out of its count columns, by name: per count
        column of the table as given, a boolean Series on its index, True where the
        written value is missing and the given one is not (small, or hidden by
        complementary suppression). Another page showing the same cells reads them
        here (``suppress_counts(..., hide=...)``) and hides them too.
    """

    suppression: str | None = None
    records: dict[str, dict[str, Any]]
    tables: dict[str, pd.DataFrame]
    hidden: dict[str, dict[str, pd.Series]]


def write_tables(
    tables: Mapping[str, pd.DataFrame],
    folder: str | os.PathLike[str],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    formats: Iterable[str] = ("csv",),
    keep: Iterable[str] | None = None,
    on_decided: Callable[[], None] | None = None,
) -> TablesWritten:
    """Write tables to `folder` with small-cell suppression on every count column.

    Parameters
    ----------
    tables : mapping of name to DataFrame
        Each is written as ``name.csv`` (and ``name.parquet``).
    folder : path
        Created if needed.
    threshold : int, default 11
        Counts from 1 to ``threshold - 1`` are written as missing.
    formats : iterable of {"csv", "parquet"}
        The file formats written, one file per table and format. Empty: nothing is
        written (`folder` is not touched); what would be written is decided and
        returned all the same (``records``, ``hidden``, ``tables``).
    keep : iterable of str, optional
        The tables to return as written (``tables`` attribute); by default all.
        Each table is otherwise let go once written (on millions of ties, the
        suppressed copies of every table at once took about 2 GB).
    on_decided : callable, optional
        Called without arguments once the suppression across ``ties`` and
        ``share_by_specialty`` is decided, before the first file is written (or
        when writing fails first): that step holds about 1 GB more on 4.7 million
        ties, so a caller running other memory-heavy work beside this function
        (in another thread) can wait for it.

    Returns
    -------
    TablesWritten
        Name -> paths written (a dict); its ``suppression`` attribute is the
        sentence of :func:`referral_graph.privacy.describe_suppression` on what
        was left out (None when nothing was).
    """
    out = TablesWritten()
    out.records = {}
    out.hidden = {}
    target = Path(os.fspath(folder))
    try:
        for fmt in formats:
            if fmt not in ("csv", "parquet"):
                raise ParameterError(
                    f"The 'formats' must be 'csv' or 'parquet'. Got {fmt!r} instead."
                )
        kept = set(tables) if keep is None else set(keep)
        joint, spares = _ties_and_cells(tables, threshold)
    finally:
        if on_decided is not None:
            on_decided()
    # a table that repeats another's cells (LINKED) or sums them (SUMMED) is suppressed after
    # it, to hide what it hid: that one is suppressed first when needed, and held until written
    source_of: dict[str, str] = {n: r[0] for n, r in LINKED.items() if r[0] in tables}
    source_of.update({n: r[0] for n, r in SUMMED.items() if r[0] in tables})
    sources = {source_of[n] for n in tables if n in source_of}
    early: dict[str, pd.DataFrame] = {}

    def suppressed(name: str) -> pd.DataFrame:
        if name in early:
            return early.pop(name)
        if name in source_of and source_of[name] not in early:
            early[source_of[name]] = suppressed(source_of[name])
        table = tables[name]
        return suppress_counts(
            table,
            threshold=threshold,
            partitions=PARTITIONS.get(name, ()),
            hide=joint.get(name)
            or _linked_cells(name, table, tables, early, threshold)
            or _summed_cells(name, table, tables, early, threshold),
            spare=spares.get(name),
        )

    out.tables = {}
    for name in tables:  # written in the order given
        safe = suppressed(name)
        if name in sources:
            early[name] = safe  # for the table that repeats it
        out[name] = [write_table(safe, target / f"{name}.{fmt}") for fmt in formats]
        out.records[name] = safe.attrs["suppression"]
        given = tables[name]
        out.hidden[name] = {
            c: pd.Series(_hidden(given[c], safe[c]), index=given.index)
            for c in count_columns(given)
            if c in safe.columns
        }
        if name in kept:
            out.tables[name] = safe
        del safe
    out.suppression = describe_suppression(out.records.values())
    if out.suppression:
        logger.info("%s", out.suppression)
    return out


def _hidden(raw: pd.Series, safe: pd.Series) -> npt.NDArray[np.bool_]:
    """The values `safe` leaves out of `raw`."""
    hidden: npt.NDArray[np.bool_] = safe.isna().to_numpy() & raw.notna().to_numpy()
    return hidden


def _smallest(
    candidate: npt.NDArray[np.bool_], values: npt.NDArray[np.float64], group: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """The candidate row of least value in each group (the first on equal values)."""
    rows = np.flatnonzero(candidate)
    order = np.lexsort((rows, values[rows], group[rows]))
    first = np.r_[True, np.diff(group[rows][order]) != 0] if len(rows) else np.zeros(0, bool)
    chosen = np.zeros(len(candidate), dtype=bool)
    chosen[rows[order][first]] = True
    return chosen


def _joint_keys(
    *parts: tuple[pd.Series, pd.Series],
    normalise: tuple[Callable[[object], str] | None, ...],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
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


def _narrow(
    frame: pd.DataFrame, partitions: tuple[tuple[str, tuple[str, ...]], ...]
) -> pd.DataFrame:
    """`frame`'s columns that decide which of its `partitions`' counts
    :func:`suppress_counts` hides: those counts, ``specialty_total`` and the partitions'
    keys (the other counts are in no row sum with them; the shares, amounts and scores
    only follow them).

    The keys are coded as integers once (equal where the values are equal, a missing value
    a code of its own, as ``groupby(dropna=False)`` groups them): each round then groups
    integers instead of strings (2.7 of 6.4 s on the 50,000-provider market's ties).
    """
    keys = {key for _, group in partitions for key in group}
    keep = keys | {col for col, _ in partitions} | {"specialty_total"}
    for total, parts in ROW_SUMS:  # a row sum with a kept count decides it too
        if keep & {total, *parts}:
            keep |= {total, *parts}
    narrow = {
        c: pd.factorize(frame[c], use_na_sentinel=False)[0].astype(np.int32)
        if c in keys
        else frame[c]
        for c in frame.columns
        if c in keep
    }
    return pd.DataFrame(narrow, index=frame.index)


def _ties_and_cells(
    tables: Mapping[str, pd.DataFrame], threshold: int
) -> tuple[dict[str, dict[str, pd.Series]], dict[str, dict[str, pd.Series]]]:
    """Complementary suppression of ``ties`` and ``share_by_specialty`` together.

    Each row of ``share_by_specialty`` (a cell: a referrer, a specialty, a receiving
    organisation) is the sum of the referrer's ties to that organisation's providers of
    that specialty, shown one by one in ``ties``. So, until neither changes:

    * a shown cell holding exactly one hidden tie gets another of its ties hidden, or is
      hidden when it has no other (the cell minus its other ties would give the tie back);
      a tie alone in its cell is the last one picked for the ties' own sums;
    * a hidden cell whose ties are all shown gets its smallest tie hidden (their sum
      would give the cell back);
    * a hidden cell alone in its referrer's specialty has its ``specialty_total`` hidden;
    * a referrer's ``to_focus``, ``to_competitors`` and ``total`` in ``share_of_wallet``
      (the sums of its cells to the focus, to competitors, in all) are hidden where those
      cells have one hidden and no other shown, and a hidden one whose cells are all shown
      gets its smallest cell hidden (:class:`_Wallet`);
    * a referrer whose hidden ties all lie in one hidden cell gets its smallest shown tie
      of another cell hidden (its ``out_strength`` minus its shown ties would give the
      cell's hidden part back);

    each table's own rules (:data:`referral_graph.privacy.PARTITIONS`, row sums) applied
    in between. Returns the cells to hide, per table and column (``suppress_counts``'s
    ``hide``), and the ties to pick last (its ``spare``); nothing without both tables,
    the providers and ``target_specialty``.
    """
    from referral_graph._checks import text_key

    ties, cells, providers = (tables.get(k) for k in ("ties", "share_by_specialty", "providers"))
    if ties is None or cells is None or providers is None:
        return {}, {}
    needed = ({"source", "target", "target_specialty", "referrals"} <= set(ties.columns)) and (
        {"source", "specialty", "organization", "referrals"} <= set(cells.columns)
    )
    if not needed or "organization" not in providers.columns:
        return {}, {}
    organization = providers.set_index(providers["id"].astype(str))["organization"]
    organization = organization[~organization.index.duplicated()]
    target = ties["target"].astype(str)
    receiver = target.map(organization)
    receiver = receiver.where(receiver.notna(), target).astype(str)
    # each tie's cell and each cell as one integer (the three parts coded jointly): strings
    # joined per row would take gigabytes on millions of ties
    tie_key, cell_key = _joint_keys(
        (ties["source"].astype(str), cells["source"].astype(str)),
        (ties["target_specialty"], cells["specialty"]),
        (receiver, cells["organization"].astype(str)),
        normalise=(None, text_key, None),
    )
    index = pd.Index(cell_key)
    if not index.is_unique:  # an organisation both focus and not: its ties map to two rows
        logger.warning(
            "share_by_specialty has an organisation both in and out of the focus: its rows "
            "and the ties are suppressed apart (each table's own sums only)"
        )
        return {}, {}
    cell = index.get_indexer(pd.Index(tie_key)).astype(np.int64)
    del index, tie_key, cell_key, receiver, target  # a hash table and strings per tie
    mapped = cell >= 0
    source = pd.factorize(ties["source"].astype(str))[0].astype(np.int64)
    tie_values = pd.to_numeric(ties["referrals"], errors="coerce").to_numpy(float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        nonzero = tie_values > 0
    at = np.where(mapped, cell, 0)
    # a tie alone in its cell: its value is the cell's, shown there unless the cell is hidden
    alone = mapped & (
        np.bincount(cell[mapped], weights=nonzero[mapped], minlength=len(cells))[at] == 1
    )
    spare = {"referrals": pd.Series(alone, index=ties.index)}
    group = cells.groupby(["source", "specialty"], sort=False).ngroup().to_numpy()
    cell_values = pd.to_numeric(cells["referrals"], errors="coerce").to_numpy(
        float, na_value=np.nan
    )
    where = np.where(mapped, cell, -1 - np.arange(len(ties)))  # an unmapped tie: apart
    hide_ties = np.zeros(len(ties), dtype=bool)
    hide_cells = np.zeros(len(cells), dtype=bool)
    hide_totals = np.zeros(len(cells), dtype=bool)
    wallet = _Wallet.of(tables.get("share_of_wallet"), cells)
    # the rounds need the referrals' hidden cells only: the tables narrowed to what decides
    # them (a copy of the whole tie table per round took 3 GB more on 4.7 million ties)
    ties_in = _narrow(ties, PARTITIONS.get("ties", ()))
    cells_in = _narrow(cells, PARTITIONS.get("share_by_specialty", ()))
    for _ in range(100):
        safe_ties = suppress_counts(
            ties_in,
            threshold=threshold,
            partitions=PARTITIONS.get("ties", ()),
            hide={"referrals": pd.Series(hide_ties, index=ties.index)},
            spare=spare,
        )
        safe_cells = suppress_counts(
            cells_in,
            threshold=threshold,
            partitions=PARTITIONS.get("share_by_specialty", ()),
            hide={
                "referrals": pd.Series(hide_cells, index=cells.index),
                "specialty_total": pd.Series(hide_totals, index=cells.index),
            },
        )
        tie_hidden = _hidden(ties["referrals"], safe_ties["referrals"])
        cell_hidden = _hidden(cells["referrals"], safe_cells["referrals"])
        del safe_ties, safe_cells  # not two rounds' copies at once
        hidden_in = np.bincount(cell[mapped], weights=tie_hidden[mapped], minlength=len(cells))
        has_ties = np.bincount(cell[mapped], minlength=len(cells)) > 0
        shown_tie = ~tie_hidden & nonzero
        # a shown cell holding one hidden tie: hide another of its ties, else the cell
        one_hidden = ~cell_hidden & (hidden_in == 1)
        in_one = mapped & one_hidden[at]
        add_ties = _smallest(in_one & shown_tie, tie_values, np.where(mapped, cell, -1))
        fixed = np.zeros(len(cells), dtype=bool)
        fixed[cell[add_ties]] = True
        add_cells = one_hidden & ~fixed
        lonely = cell_hidden & has_ties & (hidden_in == 0)  # every tie of the cell shown
        in_lonely = mapped & lonely[at]
        add_ties |= _smallest(in_lonely & shown_tie, tie_values, np.where(mapped, cell, -1))
        # the one hidden cell of a referrer's specialty, the others none: hide the total
        with np.errstate(invalid="ignore"):
            others = (~cell_hidden & (cell_values > 0)).astype(float)
        alone_hidden = (
            cell_hidden
            & (np.bincount(group, weights=cell_hidden)[group] == 1)
            & (np.bincount(group, weights=others)[group] == 0)
        )
        add_totals = alone_hidden & cells["specialty_total"].notna().to_numpy() & ~hide_totals
        if wallet is not None:
            add_cells |= wallet.settle(cell_hidden, cell_values, threshold)
        add_ties |= _one_cell_referrers(
            where, source, tie_hidden, cell_hidden, shown_tie, tie_values
        )
        add_ties &= ~hide_ties
        add_cells &= ~hide_cells
        more = wallet is not None and wallet.changed
        if not add_ties.any() and not add_cells.any() and not add_totals.any() and not more:
            break
        hide_ties |= add_ties
        hide_cells |= add_cells
        hide_totals |= add_totals
    else:  # pragma: no cover - each round hides more; the tables are finite
        raise RuntimeError("complementary suppression of ties and cells did not settle")
    joint = {
        "ties": {"referrals": pd.Series(hide_ties, index=ties.index)},
        "share_by_specialty": {
            "referrals": pd.Series(hide_cells, index=cells.index),
            "specialty_total": pd.Series(hide_totals, index=cells.index),
        },
    }
    if wallet is not None:
        joint["share_of_wallet"] = wallet.hidden()
    return joint, {"ties": spare}


def _one_cell_referrers(
    where: npt.NDArray[np.int64],
    source: npt.NDArray[np.int64],
    tie_hidden: npt.NDArray[np.bool_],
    cell_hidden: npt.NDArray[np.bool_],
    shown_tie: npt.NDArray[np.bool_],
    tie_values: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """The ties to hide because their referrer's hidden ties all lie in one hidden cell
    (`where`: each tie's cell, a negative number of its own for a tie in none): the
    smallest shown tie of another cell, else its ``out_strength`` minus its shown ties
    would give the cell's hidden part back."""
    hid = pd.DataFrame({"source": source[tie_hidden], "where": where[tie_hidden]})
    spread = hid.groupby("source")["where"].agg(["nunique", "first"])
    one = spread[(spread["nunique"] == 1) & (spread["first"] >= 0)]
    one = one[cell_hidden[one["first"].to_numpy(dtype=np.int64)]]  # a shown row: its sum
    if not len(one):
        return np.zeros(len(where), dtype=bool)
    only = pd.Series(one["first"].to_numpy(), index=one.index)
    of_source = only.reindex(source).to_numpy(dtype=float, na_value=np.nan)
    outside = ~np.isnan(of_source) & (where != of_source)
    return _smallest(outside & shown_tie, tie_values, source)


_WALLET_PARTS = (("to_focus", True), ("to_competitors", False), ("total", None))


class _Wallet:
    """``share_of_wallet`` beside ``share_by_specialty``: a referrer's rows there to the
    focus, to competitors and in all sum to its ``to_focus``, ``to_competitors`` and
    ``total`` here. :meth:`settle` hides a total whose one hidden row has no shown
    sibling, and a row of a hidden total whose rows are all shown."""

    def __init__(self, table: pd.DataFrame, cells: pd.DataFrame) -> None:
        self.table = table
        sources = pd.Index(table["source"].astype(str))
        self.row = sources.get_indexer(pd.Index(cells["source"].astype(str)))
        focus = cells["is_focus"].astype(bool).to_numpy()
        self.parts = [
            (col, np.ones(len(cells), dtype=bool) if side is None else focus == side)
            for col, side in _WALLET_PARTS
            if col in table.columns
        ]
        self.hide = {col: np.zeros(len(table), dtype=bool) for col, _ in self.parts}
        self.changed = False

    @classmethod
    def of(cls, table: pd.DataFrame | None, cells: pd.DataFrame) -> _Wallet | None:
        usable = (
            table is not None
            and "source" in table.columns
            and "is_focus" in cells.columns
            and table["source"].astype(str).is_unique
        )
        return cls(table, cells) if usable and table is not None else None

    def hidden(self) -> dict[str, pd.Series]:
        return {c: pd.Series(m, index=self.table.index) for c, m in self.hide.items()}

    def settle(
        self, cell_hidden: npt.NDArray[np.bool_], values: npt.NDArray[np.float64], threshold: int
    ) -> npt.NDArray[np.bool_]:
        """One round: the totals to hide (kept), and the rows to hide (returned)."""
        safe = suppress_counts(
            self.table,
            threshold=threshold,
            partitions=PARTITIONS.get("share_of_wallet", ()),
            hide=self.hidden(),
        )
        add_cells = np.zeros(len(cell_hidden), dtype=bool)
        self.changed = False
        known = self.row >= 0
        at = np.where(known, self.row, 0)
        n = len(self.table)
        with np.errstate(invalid="ignore"):
            shown = ~cell_hidden & (values > 0)
        for col, rows in self.parts:
            total_hidden = _hidden(self.table[col], safe[col])
            use = known & rows
            n_hidden = np.bincount(self.row[use], weights=cell_hidden[use], minlength=n)
            n_shown = np.bincount(self.row[use], weights=shown[use], minlength=n)
            exposed = ~total_hidden & (n_hidden == 1) & (n_shown == 0) & ~self.hide[col]
            if exposed.any():
                self.hide[col] |= exposed
                self.changed = True
            bare = total_hidden & (n_hidden == 0) & (n_shown > 0)  # its rows give it back
            add_cells |= _smallest(use & bare[at] & shown, values, np.where(use, self.row, -1))
        return add_cells


def _summed_cells(
    name: str,
    table: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    safe: Mapping[str, pd.DataFrame],
    threshold: int,
) -> dict[str, pd.Series]:
    """The cells of `table` that give back a cell hidden in the table it sums
    (:data:`SUMMED`): a period's sum with one hidden cell there, and a ratio with a hidden
    part (small here, or hidden for the first reason)."""
    if name not in SUMMED or "measure" not in table.columns:
        return {}
    other, period, sums, ratios = SUMMED[name]
    raw, shown = tables.get(other), safe.get(other)
    periods: Mapping[str, Any] = table.attrs.get("periods", {})
    measure = table["measure"].astype(str)
    counts = (table["unit"] == "count").to_numpy() if "unit" in table.columns else True
    hide: dict[str, pd.Series] = {}
    for col in periods:
        if col not in table.columns:
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        small = counts & ((values > 0) & (values < threshold)).fillna(False).to_numpy(dtype=bool)
        gone = small.copy()
        if raw is not None and shown is not None and period in raw.columns:
            in_period = raw[period].isin(periods[col]).to_numpy()
            for label, count in sums.items():
                if count in raw.columns and count in shown.columns:
                    lost = _hidden(raw[count], shown[count]) & in_period
                    if lost.sum() == 1:
                        gone |= (measure == label).to_numpy()
        for label, parts in ratios.items():
            if gone[measure.isin(parts).to_numpy()].any():
                gone |= (measure == label).to_numpy()
        if (gone & ~small).any():  # the small ones suppress_counts hides as small
            hide[col] = pd.Series(gone & ~small, index=table.index)
    return hide


def _linked_cells(
    name: str,
    table: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    safe: Mapping[str, pd.DataFrame],
    threshold: int,
) -> dict[str, pd.Series]:
    """The cells of `table` that the table it repeats (:data:`LINKED`) hid although they
    are not small: hidden there by complementary suppression, so hidden here too."""
    if name not in LINKED or LINKED[name][0] not in safe:
        return {}
    other, keys, columns = LINKED[name]
    raw, shown = tables[other], safe[other]
    if not all(k in table.columns and k in raw.columns for k in keys):
        return {}
    hide: dict[str, pd.Series] = {}
    for col in columns:
        if col not in table.columns or col not in raw.columns:
            continue
        values = pd.to_numeric(raw[col], errors="coerce")
        small = ((values > 0) & (values < threshold)).fillna(False).astype(bool)
        gone = shown[col].isna() & values.notna() & ~small
        gone_keys = pd.MultiIndex.from_frame(raw.loc[gone.to_numpy(), list(keys)])
        mine = pd.MultiIndex.from_frame(table[list(keys)])
        hide[col] = pd.Series(mine.isin(gone_keys), index=table.index)
    return hide


def score_network(
    net: ReferralNetwork,
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
    weight: str = "referrals",
    community_method: str = "leiden",
    resolution: float = 1.0,
    seed: int = 0,
    loyal_threshold: float = 0.5,
    strength_weights: Mapping[str, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute every score table of a referral network.

    Parameters
    ----------
    net : ReferralNetwork
        From :func:`referral_graph.pipeline.load_network`.
    focus : str, optional
        The focus organisation's name (matched against the providers'
        ``organization``), or ``"in_network"``.
    focus_ids : iterable of str, optional
        The focus organisation's provider ids (instead of `focus`).
    weight : str, default "referrals"
        Edge attribute used as weight.
    community_method : {"leiden", "auto", "networkit-leiden", "louvain", "networkx-louvain"}
        The community detection (see :func:`referral_graph.communities.detect_communities`);
        ``"auto"`` runs networkit's Leiden on graphs of a million ties or more when it
        is installed (the ``scale`` extra).
    resolution : float, default 1.0
        Modularity resolution of the communities.
    seed : int, default 0
        Seed of the randomised algorithms (communities, sampled betweenness).
    loyal_threshold : float, default 0.5
        Share of wallet from which a referrer is a loyalist.
    strength_weights : mapping, optional
        Weights of the strength components (see :mod:`referral_graph.strength`).

    Returns
    -------
    dict of str to DataFrame
        ``providers`` (one row per provider: id, attributes, measures,
        community), ``ties`` (strength and its components), ``communities``;
        with a focus also ``key_referrers``, ``share_of_wallet``,
        ``share_by_specialty``, ``leakage_by_specialty``,
        ``leakage_by_referrer_organization`` and ``leakage_by_competitor``.

    Notes
    -----
    On networks of 1,000,000 ties or more the communities and the sampled
    betweenness are computed in a second Python process while this one computes
    the other tables (the results are the same; its log records are logged here
    when it ends). See "Using both cores" in ``docs/architecture.md``.
    """
    n_ties = net.graph.number_of_edges() if net.graph_built else len(net.ties)
    with _worker.Worker(enabled=n_ties >= _worker.WORKER_MIN_TIES) as worker:
        return _score_network(
            net,
            worker=worker,
            focus=focus,
            focus_ids=focus_ids,
            weight=weight,
            community_method=community_method,
            resolution=resolution,
            seed=seed,
            loyal_threshold=loyal_threshold,
            strength_weights=strength_weights,
        )


def _communities_and_betweenness(
    cg: CompactGraph, method: str, resolution: float, seed: int, k: int | None
) -> tuple[pd.Series, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The community labels and the betweenness columns (run in the worker process)."""
    from referral_graph import communities

    labels = communities.detect_communities(
        cg,
        method=method,  # type: ignore[arg-type]
        resolution=resolution,
        seed=seed,
    )
    return (labels, *_betweenness_columns(cg, k=k, seed=seed))


def _score_network(
    net: ReferralNetwork,
    *,
    worker: _worker.Worker,
    focus: str | None,
    focus_ids: Iterable[str] | None,
    weight: str,
    community_method: str,
    resolution: float,
    seed: int,
    loyal_threshold: float,
    strength_weights: Mapping[str, float] | None,
) -> dict[str, pd.DataFrame]:
    """:func:`score_network`, with the communities and betweenness in `worker` when enabled.

    Those two are the longest steps that need nothing but the graph; they run in
    the worker process while this one computes the tie strength and the focus
    tables (the same results either way).
    """
    from referral_graph import centrality, communities, leakage, strength

    # checked before the long steps start
    check_choice(community_method, "community_method", "score_network", list(_METHODS))
    check_float(resolution, "resolution", "score_network", low=0, low_open=True)
    check_int(seed, "seed", "score_network", low=0)
    # The networkx graph when it is built already, else the same graph as arrays straight from
    # the tables (identical results; no ~700 bytes per tie of networkx on large markets).
    G = net.graph if net.graph_built else net.compact(weight)
    network_of = None
    if worker.enabled:
        cg = as_compact(G, weight, "score_network")
        ties_only = centrality.CompactGraph(cg.ids, cg.src, cg.dst, cg.weight)
        k = _betweenness_sources("auto", cg.n_nodes)
        network_of = worker.submit(
            _communities_and_betweenness, ties_only, community_method, resolution, seed, k
        )
        del cg, ties_only
        measures = centrality.provider_measures(G, weight=weight, seed=seed, betweenness_k=0)
    else:
        measures = centrality.provider_measures(G, weight=weight, seed=seed)
    ties = strength.tie_strength(
        net.ties, panel=net.panel, providers=net.providers, weights=strength_weights
    )
    focus_tables: dict[str, pd.DataFrame] = {}
    if focus is not None or focus_ids is not None:
        ids = leakage.resolve_focus(net.providers, focus=focus, focus_ids=focus_ids)
        market = leakage.focus_market(net.ties, net.providers, ids)  # once, for every table
        # key_referrers reads the measures' pagerank and hub: betweenness is not needed
        focus_tables["key_referrers"] = leakage.key_referrers(
            net.ties,
            net.providers,
            ids,
            panel=net.panel,
            measures=measures,
            strength=ties,
            market=market,
        )
        focus_tables["share_of_wallet"] = leakage.share_of_wallet(
            net.ties, net.providers, ids, loyal_threshold=loyal_threshold, market=market
        )
        focus_tables["share_by_specialty"] = leakage.share_of_wallet_by_specialty(
            net.ties, net.providers, ids, market=market
        )
        for by in ("specialty", "referrer_organization", "competitor"):
            focus_tables[f"leakage_by_{by}"] = leakage.leakage_summary(
                net.ties, net.providers, ids, by=by, market=market
            )
    if network_of is not None:
        labels, measures["betweenness"], measures["betweenness_stderr"] = network_of()
    else:
        labels = communities.detect_communities(
            G,
            method=community_method,  # type: ignore[arg-type]
            weight=weight,
            resolution=resolution,
            seed=seed,
        )
    measures["community"] = measures["id"].map(labels).astype("Int64")
    attrs = net.providers.drop(
        columns=[c for c in net.providers.columns if c in measures.columns and c != "id"]
    )
    providers = attrs.merge(measures, on="id", how="right")
    tables: dict[str, pd.DataFrame] = {
        "providers": providers,
        "ties": ties,
        "communities": communities.community_summary(G, labels, weight=weight),
        **focus_tables,
    }
    logger.info("Scored %s providers and %s ties", f"{len(providers):,}", f"{len(ties):,}")
    return tables
