"""Privacy rules applied wherever data leaves the library.

Two rules, as in the CMS and CareSet public files:

* **Small-cell suppression.** A count of people or events from 1 to
  ``threshold - 1`` (default 1 to 10) is never shown or exported: it is
  replaced by a missing value in tables and by ``"<11"`` in text. Zero is
  not a small cell (it reveals no one) and is kept.
* **Patient identifiers never leave ingestion.** Readers replace patient ids
  with a per-load pseudonymous integer code (:func:`pseudonymize`) used only
  to count distinct patients; aggregation drops it.

Examples
--------
>>> import pandas as pd
>>> suppress(pd.Series([0, 3, 11, 250])).tolist()
[0, <NA>, 11, 250]
>>> format_count(7), format_count(11), format_count(1234)
('<11', '11', '1,234')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, SupportsFloat, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _memo
from referral_graph._protection import HiddenCounts, revealed
from referral_graph.exceptions import ParameterError

__all__ = [
    "COUNT_PATTERN",
    "DEFAULT_THRESHOLD",
    "DERIVED_FROM",
    "LINKED",
    "NOT_EXPORTED",
    "PARTITIONS",
    "ROW_SUMS",
    "STAND_IN",
    "SUMMED",
    "count_columns",
    "describe_suppression",
    "format_count",
    "is_count_name",
    "is_small_cell",
    "pseudonymize",
    "small_cells",
    "suppress",
    "suppress_counts",
    "suppress_frame",
]

#: Smallest count that may be shown; 1 .. DEFAULT_THRESHOLD - 1 are suppressed (CMS: 11).
DEFAULT_THRESHOLD = 11


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer) or threshold < 1:
        raise ParameterError(
            "The 'threshold' parameter must be an int >= 1 (1 disables suppression). "
            f"Got {threshold!r} instead."
        )
    return int(threshold)


def is_small_cell(value: float | None, *, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Return True if `value` is a count that must be hidden (0 < value < threshold).

    Examples
    --------
    >>> is_small_cell(10), is_small_cell(0), is_small_cell(11)
    (True, False, False)
    """
    threshold = _check_threshold(threshold)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return threshold > 1 and bool(0 < value < threshold)


@overload
def small_cells(values: pd.Series, *, threshold: int) -> pd.Series: ...
@overload
def small_cells(values: npt.ArrayLike, *, threshold: int) -> npt.NDArray[np.bool_]: ...
def small_cells(values: Any, *, threshold: int) -> Any:
    """Whether each of `values` is a small cell, ``0 < value < threshold`` (missing values
    are not); with ``threshold=1`` none is, fractions of one included (an expected loss of
    0.4 is kept, as every count is).

    A boolean Series for a Series (same index), else a boolean array.

    Examples
    --------
    >>> small_cells(pd.Series([0, 0.4, 3, 11, None]), threshold=11).tolist()
    [False, True, True, False, False]
    >>> small_cells(np.array([0.4, 3.0]), threshold=1).tolist()
    [False, False]
    """
    if isinstance(values, pd.Series):
        if threshold <= 1:
            return pd.Series(False, index=values.index)
        return ((values > 0) & (values < threshold)).fillna(False).astype(bool)
    numbers = np.asarray(values, dtype=np.float64)
    if threshold <= 1:
        return np.zeros(numbers.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return (numbers > 0) & (numbers < threshold)


def suppress(values: pd.Series, *, threshold: int = DEFAULT_THRESHOLD) -> pd.Series:
    """Return a copy of a count Series with small cells replaced by ``<NA>``.

    Parameters
    ----------
    values : pandas.Series
        Counts (numbers). Fractional values (such as rates) are compared as they are.
    threshold : int, default 11
        Smallest count that may be shown. ``1`` disables suppression.

    Returns
    -------
    pandas.Series
        Nullable (``Int64`` for integer input, ``Float64`` otherwise) with the same index.

    Examples
    --------
    >>> suppress(pd.Series([1, 10, 11]), threshold=11).tolist()
    [<NA>, <NA>, 11]
    """
    threshold = _check_threshold(threshold)
    numeric = pd.to_numeric(values)
    whole = pd.api.types.is_integer_dtype(numeric) or (
        pd.api.types.is_float_dtype(numeric)
        and bool(np.all(np.isnan(numeric) | (numeric % 1 == 0)))
    )
    out: pd.Series = numeric.astype("Int64" if whole else "Float64")
    return out.mask(small_cells(out, threshold=threshold))


def suppress_frame(
    frame: pd.DataFrame, columns: Iterable[str], *, threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """Return a copy of `frame` with small cells suppressed in the count `columns`.

    Columns named but absent are ignored, so one list can serve several tables.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "b"], "referrals": [4, 40]})
    >>> suppress_frame(df, ["referrals", "patients"])["referrals"].tolist()
    [<NA>, 40]
    """
    out = frame.copy(deep=False)  # copy on write: the columns replaced are new, `frame` kept
    for col in columns:
        if col in out.columns:
            out[col] = suppress(out[col], threshold=threshold)
    return out


def format_count(value: SupportsFloat | None, *, threshold: int = DEFAULT_THRESHOLD) -> str:
    """Format a count for display: ``"<11"`` for small cells, thousands separators otherwise.

    Missing values are shown as an en dash.

    Examples
    --------
    >>> format_count(3, threshold=5), format_count(None), format_count(12.0)
    ('<5', '–', '12')
    """
    threshold = _check_threshold(threshold)
    if value is None:
        return "–"
    number = float(value)
    if np.isnan(number):
        return "–"
    if is_small_cell(number, threshold=threshold):
        return f"<{threshold}"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def pseudonymize(ids: pd.Series) -> pd.Series:
    """Replace identifiers by per-call integer codes (order of first appearance).

    The codes keep distinct counts exact but carry nothing of the original
    ids; the mapping is discarded, so two calls give unrelated codes for
    different inputs. Missing ids get ``-1``.

    Examples
    --------
    >>> pseudonymize(pd.Series(["P9", "P2", "P9", None])).tolist()
    [0, 1, 0, -1]
    """
    codes, _ = pd.factorize(ids, use_na_sentinel=True)
    return pd.Series(codes.astype(np.int64), index=ids.index, name="patient_key")


#: Column (and attribute) names that hold counts of referrals, patients, events or providers.
COUNT_PATTERN = re.compile(
    r"(referrals|patients|patient_count|bene_count|pair_count|same_day_count|transaction_count"
    r"|^to_focus|^to_competitors$|^total$|_total$|_strength$|^at_stake$|^expected_loss$"
    r"|^referrals_|_referrals$|^visits$|^events$|^activities$|^pre_|^post_|referrers$"
    r"|receivers$|^providers$|^count$|_count$|^n_|_degree$"
    # CMS's own headers: "Total2014", "Unique2014" (beneficiaries), "Same Day2014"
    r"|^unique$|^same_day$|^bene_|^pair_)"
)

#: Names that look like counts but are not (shares, scores, ranks, ratios, components;
#: a backtest's number of test cutoffs, a number of months).
_NOT_COUNTS = re.compile(
    r"(^share|_share$|share_|score|rank|ratio|component|_pct$|^strength$|_rate$|_amount$"
    r"|^n_cutoffs$)"
)


def is_count_name(name: object) -> bool:
    """Whether a column or attribute name denotes a count (see :data:`COUNT_PATTERN`).

    Examples
    --------
    >>> is_count_name("patients"), is_count_name("share_of_wallet"), is_count_name("pagerank")
    (True, False, False)
    >>> is_count_name("Same Day2014"), is_count_name("Referrals"), is_count_name("year_2014")
    (True, True, False)
    >>> is_count_name("n_churned"), is_count_name("n_cutoffs")  # ties; test months
    (True, False)
    """
    key = _name_key(name)
    return bool(COUNT_PATTERN.search(key)) and not _NOT_COUNTS.search(key)


def _name_key(name: object) -> str:
    """A header as matched by :func:`is_count_name`: lower case, ``_`` for spaces and
    hyphens, a trailing year and what follows it dropped (``"Same Day2014"`` -> ``same_day``).
    """
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lstrip("\ufeff").lower())
    return re.sub(r"_?(19|20)\d\d(?!\d).*$", "", key) or key


def count_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns of `frame` that hold counts and must be suppressed on export.

    Matched by name (:data:`COUNT_PATTERN`), minus shares, scores, ranks and
    ratios; boolean columns never count.

    Examples
    --------
    >>> count_columns(pd.DataFrame({"referrals": [1], "share": [0.5], "in_strength": [3.0],
    ...                             "pagerank": [0.1], "patients_shared": [4], "rank": [1]}))
    ['referrals', 'in_strength', 'patients_shared']
    """
    return [
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and is_count_name(c)
    ]


#: Columns computed from counts: masked on the rows where one of those counts is hidden
#: (a monotone transform such as ``volume = log(1 + r) / log(1 + r_max)`` gives the count
#: back; an amount, share or rate with its total shown beside it gives it back too).
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "volume": ("referrals",),
    "patient_volume": ("patients",),
    "score": ("referrals", "patients"),
    "amount": ("referrals",),
    "amount_volume": ("referrals",),
    "share": ("referrals", "to_focus", "to_competitors", "total", "specialty_total"),
    "share_of_wallet": ("referrals",),
    "reciprocity": ("referrals", "reverse_referrals"),
    "focus_amount": ("to_focus",),
    "leakage_amount": ("to_competitors", "referrals"),
    "leakage_rate": ("to_focus", "to_competitors", "total"),
    "share_of_leakage": ("referrals",),
    "share_internal": ("referrals_internal", "referrals_total"),
    "at_stake_amount": ("at_stake",),
    "expected_loss_amount": ("expected_loss",),
    "difference": ("referrals_before", "referrals_now"),
    # A tie's active months are a lower bound on its referrals (a month counts with one at
    # least): beside a provider's shown total they would pin its hidden ties down.
    "active_months": ("referrals",),
    "active_share": ("referrals",),
    "regularity": ("referrals",),
    # A key referrer's criteria and their percentile ranks: a rank among many referrers
    # takes one level per count (the levels between two shown counts give the hidden ones
    # back), and the score mixes the ranks with weights the docs give.
    "to_focus_pct": ("to_focus",),
    "share_pct": ("to_focus", "to_competitors", "total"),
    "strength": ("to_focus",),
    "strength_pct": ("to_focus",),
    "rank_score": ("to_focus", "to_competitors", "total"),
    # A provider's ego-network measures give its number of neighbours back: Burt's effective
    # size equals it where the neighbours do not refer among themselves, constraint is 1/k
    # for k equal ties, the k-core number equals the degree on a network's periphery, and
    # care density and sharing degree per 100 patients are ratios of shown counts.
    "effective_size": ("in_degree", "out_degree"),
    "constraint": ("in_degree", "out_degree"),
    "core_number": ("in_degree", "out_degree"),
    "care_density": ("patient_sharing_degree", "patients_shared"),
    "sharing_degree_per_100": ("patient_sharing_degree", "patients"),
}

#: Columns that are the sum of others on every row: when one of them is hidden and the
#: rest shown, the hidden one is their difference, so the total is hidden too
#: (complementary suppression). Applied only on rows where the sum holds exactly.
ROW_SUMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("total", ("to_focus", "to_competitors")),
    ("to_focus", ("to_focus_loyalist", "to_focus_splitter")),
)

_WALLET = (("to_focus", ()), ("to_competitors", ()), ("total", ()))

#: Tables whose rows partition a total that is shown, in the table or in another one of the
#: same output: per table name, (count column, the columns whose groups of rows each sum to
#: a shown total; ``()`` for the whole table). Where a group has exactly one hidden cell, the
#: total minus the shown cells would give it back; where it has several, their sum is
#: known, which must leave each of them every value from 1 to ``threshold - 1`` (a hidden
#: count is at least 1, so each lies between 1 and that sum minus the others' count). Where
#: either fails, the smallest shown non-zero cell of the group is hidden too (complementary
#: suppression across rows and tables):
#:
#: * ``ties``: a provider's ties sum to its ``out_strength`` (by source) and ``in_strength``
#:   (by target) in ``providers``;
#: * ``share_by_specialty``: a referrer's rows of one specialty sum to its ``specialty_total``;
#:   its rows to the focus and to competitors to its ``to_focus`` and ``to_competitors`` in
#:   ``share_of_wallet``, and all its rows to its ``total``; the rows of one specialty to the
#:   focus or to competitors to that specialty's in ``leakage_by_specialty``; the rows of one
#:   receiving organisation to its ``referrals`` in ``leakage_by_competitor``;
#: * ``share_of_wallet`` (referrers), ``leakage_by_referrer_organization`` (organisations),
#:   ``leakage_by_specialty`` (specialties) and ``monthly_trend`` (months) each split the
#:   market's referrals to the focus and to competitors, whose totals the other tables give
#:   (the sum of any of them whose cells are all shown); ``leakage_by_competitor`` splits
#:   the referrals to competitors.
PARTITIONS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ties": (("referrals", ("source",)), ("referrals", ("target",))),
    "share_by_specialty": (
        ("referrals", ("source", "specialty")),
        ("referrals", ("source", "is_focus")),
        ("referrals", ("source",)),
        ("referrals", ("specialty", "is_focus")),
        ("referrals", ("organization",)),
    ),
    "share_of_wallet": _WALLET,
    "leakage_by_referrer_organization": _WALLET,
    "leakage_by_specialty": _WALLET,
    "monthly_trend": (("to_focus", ()), ("to_competitors", ())),
    "leakage_by_competitor": (("referrals", ()),),
}

#: What a hidden tie count stands for in the link-analysis scores written to the tables and
#: shown in the views (:func:`referral_graph.scores.published_link_scores`), as a share of
#: the threshold: the middle of the small counts' range (5.5 for counts from 1 to 10).
STAND_IN = 0.5

#: Tables that repeat cells of another: per table name, (the other table, the key columns
#: matching their rows, the count columns repeated), each column as ``(its name here, its
#: name there)``. A cell hidden there by complementary suppression is hidden here too, or
#: the copy would show it: a key referrer's counts are its row of ``share_of_wallet``, and
#: a prospect's referrals to competitors are its ``to_competitors`` there.
LINKED: dict[str, tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "key_referrers": (
        "share_of_wallet",
        (("source", "source"),),
        (("to_focus", "to_focus"), ("to_competitors", "to_competitors")),
    ),
    "prospects": (
        "share_of_wallet",
        (("id", "source"),),
        (("referrals_to_competitors", "to_competitors"),),
    ),
}

#: Tables whose rows sum another table's rows over periods: per table name, (the other
#: table, its period column, per label of this table's ``measure`` column the other's count
#: column summed, per label a ratio of summed rows and the labels it is computed from). Each
#: column's periods (values of the other's period column) are in the table's
#: ``attrs["periods"]``. A sum whose period holds exactly one cell hidden there is hidden
#: (the sum minus the shown cells would give it back), and a ratio where one of its parts
#: is hidden (the ratio and the other part would give it back).
SUMMED: dict[str, tuple[str, str, dict[str, str], dict[str, tuple[str, ...]]]] = {
    "headline": (
        "monthly_trend",
        "month",
        {"Referrals received": "to_focus", "Leakage to competitors": "to_competitors"},
        {"Share of wallet": ("Referrals received", "Leakage to competitors")},
    ),
}

#: Per-month means of counts (a count divided by a window): not written to exported tables.
NOT_EXPORTED = ("trend_recent", "trend_prior")


def suppress_counts(
    frame: pd.DataFrame,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    partitions: Iterable[tuple[str, tuple[str, ...]]] = (),
    hide: Mapping[str, pd.Series] | None = None,
    spare: Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Return a copy of `frame` fit for export: every small cell hidden, and what reveals one.

    * count columns (:func:`count_columns`): 1 to ``threshold - 1`` become missing;
    * complementary suppression (:data:`ROW_SUMS`): where a hidden count is the
      difference of shown ones (a part of a shown total), the total is hidden too;
    * complementary suppression across rows (`partitions`, as in :data:`PARTITIONS`:
      a count column and the columns whose groups of rows sum to a shown total): in
      a group with exactly one hidden cell, or whose hidden cells' sum (known from the
      total) pins them down to less than 1 to ``threshold - 1`` each, the smallest shown
      non-zero cell is hidden too; repeated with the row sums until no hidden count is
      given away;
    * `hide`: cells to hide besides, per count column (a boolean Series on `frame`'s
      index: the cells another table hid, :data:`LINKED`); `spare`: cells that
      complementary suppression picks only when no other cell of the group will do (their
      value is shown alone elsewhere), as is a cell that is the only non-zero one of
      another group of `partitions` (hiding it would expose that group's total);
    * columns derived from counts (:data:`DERIVED_FROM`: amounts, shares, rates,
      ``volume``, ``score``, ...) become missing on the rows where one of their counts
      is hidden;
    * per-month means of counts (:data:`NOT_EXPORTED`) are left out;
    * a long table with a ``unit`` column hides small values on its ``"count"`` rows.

    What was hidden is in ``attrs["suppression"]``: the threshold and, per column,
    how many values (see :func:`describe_suppression`).

    Examples
    --------
    >>> suppress_counts(pd.DataFrame({"referrals": [3, 30], "share": [0.1, 0.9]})).values.tolist()
    [[<NA>, nan], [30, 0.9]]
    >>> t = pd.DataFrame({"referrals": [3, 30], "volume": [0.2, 0.6], "trend_recent": [1.0, 9.0]})
    >>> safe = suppress_counts(t)
    >>> safe.columns.tolist(), safe["referrals"].tolist(), safe["volume"].tolist()
    (['referrals', 'volume'], [<NA>, 30], [nan, 0.6])
    >>> wallet = pd.DataFrame({"to_focus": [4, 40], "to_competitors": [50, 60], "total": [54, 100]})
    >>> suppress_counts(wallet)["total"].tolist()  # 54 - 50 would give the hidden 4 back
    [<NA>, 100]
    >>> safe.attrs["suppression"]
    {'threshold': 11, 'hidden': {'referrals': 1}, 'complementary': {}, 'derived': {'volume': 1}}

    Four specialties whose referrals sum to a total shown elsewhere: one hidden count
    would be that total minus the three others, so the smallest other is hidden too.

    >>> by_specialty = pd.DataFrame({"specialty": ["A", "B", "C", "D"], "to_focus": [4, 30, 12, 0]})
    >>> suppress_counts(by_specialty, partitions=[("to_focus", ())])["to_focus"].tolist()
    [<NA>, 30, <NA>, 0]

    Two hidden counts of 1 beside 50, of a total of 52 shown elsewhere: their sum, 2,
    says both are 1, so the 50 is hidden too (then each could be anything up to 51).

    >>> ones = pd.DataFrame({"to_focus": [1, 1, 50]})
    >>> suppress_counts(ones, partitions=[("to_focus", ())])["to_focus"].tolist()
    [<NA>, <NA>, <NA>]
    """
    threshold = _check_threshold(threshold)
    out = frame.drop(columns=[c for c in NOT_EXPORTED if c in frame.columns])
    search = ComplementarySearch(out, threshold=threshold, partitions=partitions, spare=spare)
    small = search.small
    hidden = {c: int(m.sum()) for c, m in small.items() if m.any()}
    complementary = search.extra(hide or {})
    out = suppress_frame(out, [c for c in small if c not in complementary], threshold=threshold)
    for col, extra in complementary.items():
        column = out[col]
        if pd.api.types.is_integer_dtype(column):
            column = column.astype("Int64")  # a hidden count is missing, not a float NaN
        primary = small.get(col, pd.Series(False, index=out.index))
        out[col] = column.mask(primary | extra)
        small[col] = primary | extra
    derived_counts: dict[str, int] = {}
    for derived, sources in DERIVED_FROM.items():
        if derived in out.columns and pd.api.types.is_numeric_dtype(out[derived]):
            mask = pd.Series(False, index=out.index)
            for source in sources:
                if source in small:
                    mask |= small[source]
            mask &= out[derived].notna()
            if mask.any():
                column = out[derived]
                if pd.api.types.is_integer_dtype(column):
                    column = column.astype("Int64")  # (a core number) missing, not NaN
                out[derived] = column.mask(mask)
                derived_counts[derived] = int(mask.sum())
    if "unit" in out.columns:
        rows = (out["unit"] == "count").to_numpy()
        for col in out.columns:
            if col != "unit" and pd.api.types.is_numeric_dtype(out[col]):
                values = pd.to_numeric(out[col], errors="coerce")
                tiny = rows & small_cells(values, threshold=threshold).to_numpy()
                if tiny.any():
                    out[col] = out[col].mask(tiny)
                    hidden[col] = hidden.get(col, 0) + int(tiny.sum())
    out.attrs["suppression"] = {
        "threshold": threshold,
        "hidden": hidden,
        "complementary": {c: int(m.sum()) for c, m in complementary.items()},
        "derived": derived_counts,
    }
    return out


class ComplementarySearch:
    """The complementary suppression of one table (:func:`suppress_counts`'s), prepared once
    for several searches with other cells to `hide` besides.

    The small cells, the partitions' row groups, their values and the cells picked last
    are computed here once; :meth:`extra` then runs the search.
    :mod:`referral_graph._joint` searches again, round after round, with more cells to
    hide each time: grouping the rows again in every round took a third of its time.

    Parameters
    ----------
    frame : DataFrame
        The table (without the :data:`NOT_EXPORTED` columns).
    threshold : int
        As in :func:`suppress_counts`.
    partitions, spare
        As in :func:`suppress_counts`.

    Attributes
    ----------
    small : dict of str to Series
        Per count column, its small cells (1 to ``threshold - 1``).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        threshold: int,
        partitions: Iterable[tuple[str, tuple[str, ...]]] = (),
        spare: Mapping[str, pd.Series] | None = None,
    ) -> None:
        self.frame, self.threshold = frame, threshold
        self.small: dict[str, pd.Series] = {}
        for col in count_columns(frame):
            values = pd.to_numeric(frame[col], errors="coerce")
            self.small[col] = small_cells(values, threshold=threshold)
        self.usable = [(c, k) for c, k in partitions if _usable(frame, c, k)]
        self.groups = {keys: _groups(frame, keys) for _, keys in self.usable}
        self.values = {c: _floats(frame[c]) for c, _ in self.usable}  # once, not in every step
        self.spared = _spared(frame, self.usable, self.groups, spare or {})
        # the partitions' hidden counts per group, carried from search to search (the joint
        # suppression hides more cells each round)
        self.sums = {(c, k): _hidden_counts(self.values[c], self.groups[k]) for c, k in self.usable}

    def extra(self, hide: Mapping[str, pd.Series]) -> dict[str, pd.Series]:
        """Every count to hide besides the small ones, with `hide` (as in
        :func:`suppress_counts`), per column where there is one."""
        return _complementary_all(
            self.frame,
            self.small,
            self.usable,
            self.groups,
            self.values,
            self.spared,
            hide,
            self.threshold,
            sums=self.sums,
        )


def _complementary_all(
    frame: pd.DataFrame,
    small: dict[str, pd.Series],
    usable: list[tuple[str, tuple[str, ...]]],
    groups: Mapping[tuple[str, ...], npt.NDArray[np.integer[Any]]],
    values: Mapping[str, npt.NDArray[np.float64]],
    spared: Mapping[str, npt.NDArray[np.bool_]],
    hide: Mapping[str, pd.Series],
    threshold: int,
    *,
    sums: Mapping[tuple[str, tuple[str, ...]], HiddenCounts],
) -> dict[str, pd.Series]:
    """Every count to hide besides the small ones: `hide`, then, one step at a time, the
    row sums, else the first partition whose group gives hidden cells away, until none
    does (so that a cell hidden for one sum is seen by the others before they pick theirs).
    `sums` holds each partition's hidden counts, carried from round to round and from an
    earlier search (:class:`ComplementarySearch`)."""
    none = pd.Series(False, index=frame.index)
    extra: dict[str, pd.Series] = {}
    for col, mask in hide.items():
        if col in frame.columns:
            more = mask.reindex(frame.index, fill_value=False).astype(bool)
            more &= ~small.get(col, none)
            more &= frame[col].notna()
            if more.any():
                extra[col] = more
    while True:
        hidden = {c: small.get(c, none) | extra.get(c, none) for c in {*small, *extra}}
        found = _complementary(frame, hidden, threshold)
        if not found:
            for col, keys in usable:
                found = _partitioned(
                    frame, hidden, col, values[col], groups[keys], spared, threshold,
                    sums=sums[col, keys],
                )  # fmt: skip
                if found:
                    break
        if not found:
            return {c: m for c, m in extra.items() if m.any()}
        for col, mask in found.items():
            extra[col] = extra.get(col, none) | mask


def _groups(frame: pd.DataFrame, keys: tuple[str, ...]) -> npt.NDArray[np.integer[Any]]:
    """Each row's group of `keys` (int32 below 2**31 rows: :class:`ComplementarySearch`
    holds one array per partition through the joint suppression's rounds)."""
    dtype = np.int32 if len(frame) < 2**31 else np.int64
    if not keys:
        return np.zeros(len(frame), dtype=dtype)
    if len(keys) == 1 and not frame[keys[0]].hasnans:
        # one column: its codes in order of appearance, as ngroup numbers them (a tie
        # table's ids are hashed once for every step)
        return np.asarray(_memo.factorize(frame[keys[0]])[0], dtype=dtype)
    codes = frame.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
    return codes.astype(dtype)


def _usable(frame: pd.DataFrame, col: str, keys: tuple[str, ...]) -> bool:
    return col in frame.columns and all(k in frame.columns for k in keys)


def _spared(
    frame: pd.DataFrame,
    partitions: list[tuple[str, tuple[str, ...]]],
    groups: Mapping[tuple[str, ...], npt.NDArray[np.integer[Any]]],
    spare: Mapping[str, pd.Series],
) -> dict[str, npt.NDArray[np.bool_]]:
    """Per column, the cells to pick last: `spare`, and the only non-zero cell of a group
    (`groups`: each partition's keys' group number per row)."""
    out: dict[str, npt.NDArray[np.bool_]] = {}
    for col, mask in spare.items():
        if col in frame.columns:
            out[col] = mask.reindex(frame.index, fill_value=False).to_numpy(dtype=bool)
    for col, keys in partitions:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            nonzero = values > 0
        group = groups[keys]
        alone = nonzero & (np.bincount(group, weights=nonzero)[group] == 1)
        out[col] = out.get(col, np.zeros(len(frame), dtype=bool)) | alone
    return out


def _floats(column: pd.Series) -> npt.NDArray[np.float64]:
    values: npt.NDArray[np.float64] = pd.to_numeric(column, errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    return values


def _hidden_counts(
    values: npt.NDArray[np.float64], group: npt.NDArray[np.integer[Any]]
) -> HiddenCounts:
    """A partition's :class:`HiddenCounts` (`group`: each row's group number)."""
    return HiddenCounts(values, group, int(group.max()) + 1 if len(group) else 0)


def _partitioned(
    frame: pd.DataFrame,
    hidden: dict[str, pd.Series],
    col: str,
    values: npt.NDArray[np.float64],
    group: npt.NDArray[np.integer[Any]],
    spared: Mapping[str, npt.NDArray[np.bool_]],
    threshold: int,
    *,
    sums: HiddenCounts,
) -> dict[str, pd.Series]:
    """The cells to hide in `col` because their group (a partition of a shown total) gives
    its hidden cells away (one hidden cell, or several whose sum pins them down:
    :func:`referral_graph._protection.revealed`): the smallest shown non-zero cell of each
    such group (the first row on equal values), a spared cell only when the group has no
    other. `sums` holds the groups' hidden counts, carried from earlier calls."""
    if col not in hidden:
        return {}
    is_hidden = hidden[col].to_numpy(dtype=bool)
    if not is_hidden.any():
        return {}
    # the hidden rows only are counted (the same sums: the others added zeros)
    n_hidden, hidden_sum, _ = sums.of(is_hidden)
    exposed = revealed(n_hidden, hidden_sum, threshold)
    if not exposed.any():
        return {}
    given = exposed[group]
    with np.errstate(invalid="ignore"):
        candidate = given & ~is_hidden & (values > 0)
    if not candidate.any():
        return {}
    rows = np.flatnonzero(candidate)
    last = spared.get(col, np.zeros(len(frame), dtype=bool))[rows]
    order = np.lexsort((rows, values[rows], last, group[rows]))  # group, spared, value
    first = np.r_[True, np.diff(group[rows][order]) != 0]
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[rows[order][first]] = True
    return {col: pd.Series(chosen, index=frame.index)}


def _complementary(
    frame: pd.DataFrame, small: dict[str, pd.Series], threshold: int
) -> dict[str, pd.Series]:
    """Totals to hide because they give a hidden part back (ROW_SUMS): one part hidden and
    the others shown, or hidden parts whose sum pins them down
    (:func:`referral_graph._protection.revealed`; with two parts and a shown total of at
    least `threshold` it never does)."""
    extra: dict[str, pd.Series] = {}
    hidden = dict(small)
    for _ in range(len(ROW_SUMS)):  # hiding a total may expose another sum it is part of
        changed = False
        for total, parts in ROW_SUMS:
            if total not in frame.columns or not all(p in frame.columns for p in parts):
                continue
            values = [pd.to_numeric(frame[c], errors="coerce") for c in (total, *parts)]
            exact = (values[0] == sum(values[1:])).fillna(False).astype(bool)
            masks = [hidden.get(c, pd.Series(False, index=frame.index)) for c in (total, *parts)]
            pairs = list(zip(values[1:], masks[1:], strict=True))
            n_hidden = sum(m.astype(int) for _, m in pairs)
            hidden_sum = sum(v.where(m, 0).fillna(0) for v, m in pairs)
            given = revealed(np.asarray(n_hidden), np.asarray(hidden_sum, dtype=float), threshold)
            reveal = exact & pd.Series(given, index=frame.index) & ~masks[0]
            if reveal.any():
                extra[total] = extra.get(total, pd.Series(False, index=frame.index)) | reveal
                hidden[total] = masks[0] | reveal
                changed = True
        if not changed:
            break
    return extra


def describe_suppression(records: Iterable[Mapping[str, Any]]) -> str | None:
    """One sentence on what small-cell suppression left out of some tables (None if nothing).

    `records` are the ``attrs["suppression"]`` that :func:`suppress_counts` leaves
    on each table it returns.

    Examples
    --------
    >>> safe = suppress_counts(pd.DataFrame({"referrals": [3, 30], "amount": [9.5, 99.0]}))
    >>> print(describe_suppression([safe.attrs["suppression"]]).split(" (an amount")[0])
    Small-cell suppression: 1 count from 1 to 10 left out, and 1 value that would reveal one
    """
    hidden = derived = 0
    threshold = DEFAULT_THRESHOLD
    for info in records:
        if info:
            threshold = info["threshold"]
            hidden += sum(info["hidden"].values())
            derived += sum(info["complementary"].values()) + sum(info["derived"].values())
    if not hidden and not derived:
        return None
    text = (
        f"Small-cell suppression: {hidden:,} count{'s' if hidden != 1 else ''} from 1 to "
        f"{threshold - 1} left out"
    )
    if derived:
        text += (
            f", and {derived:,} value{'s' if derived != 1 else ''} that would reveal one (an "
            "amount, share or rate, or a total beside a hidden part)"
        )
    return text + "; pass --threshold 1 (threshold=1) to keep them, for internal analysis only."
