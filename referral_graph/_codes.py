"""Integer codes, runs of rows and month arithmetic shared by every step (private).

Tables of millions of rows are worked on as integer arrays: ids hashed once
(:func:`codes`, :class:`Keys`), a sorted panel looked up once per run of equal
rows (:func:`runs`), months as ``year * 12 + month - 1`` computed by integer
arithmetic (:func:`month_numbers`, :func:`epoch_days`, :func:`months_of_days`).
Every module may import from here; nothing here is part of the public API.

Examples
--------
>>> import pandas as pd
>>> ids = sorted_ids(pd.Series(["B", "A"]), pd.Series(["C", None]))
>>> ids.tolist(), codes(pd.Series(["C", "A", "X"]), ids).tolist()
(['A', 'B', 'C'], [2, 0, -1])
>>> (month_numbers(pd.Series(pd.to_datetime(["1970-02-10"]))) - EPOCH_MONTH).tolist()
[1]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _memo
from referral_graph._checks import require_columns
from referral_graph.exceptions import ParameterError, SchemaError

__all__ = [
    "EPOCH_MONTH",
    "KEYS",
    "Keys",
    "MonthStats",
    "Prepared",
    "codes",
    "codes_at",
    "counts",
    "epoch_days",
    "labelled",
    "month_dates",
    "month_index",
    "month_numbers",
    "month_stats",
    "months_of_days",
    "prepare_ties",
    "recode",
    "runs",
    "sorted_ids",
    "take",
    "ties_from_panel",
]

#: The key columns of a tie table.
KEYS = ["source", "target"]
#: Month number of 1970-01 (month 0 of numpy's ``datetime64[M]``).
EPOCH_MONTH = 1970 * 12

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def counts(values: pd.Series, what: str) -> pd.Series:
    """Numeric, non-negative, no missing: a column of referral counts."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | (numeric < 0)
    if bool(bad.any()):
        examples = values[bad].head(3).tolist()
        raise SchemaError(
            f"The {what} must hold counts >= 0; {int(bad.sum())} row(s) do not (e.g. {examples!r})."
        )
    return numeric.astype("float64") if numeric.dtype.kind == "f" else numeric.astype("int64")


def month_index(values: pd.Series) -> pd.Series:
    """Months since year 0 (``year * 12 + month - 1``) of a datetime Series."""
    stamps = pd.to_datetime(values)
    return stamps.dt.year * 12 + stamps.dt.month - 1


def month_numbers(months: pd.Series) -> IntArray:
    """:func:`month_index` of datetimes without missing values, as int64 (vectorised)."""
    if isinstance(months.dtype, np.dtype):  # tz-naive
        return months_of_days(epoch_days(months.to_numpy()))
    return month_index(months).to_numpy(dtype=np.int64)


def epoch_days(values: npt.NDArray[np.datetime64]) -> IntArray:
    """Days since 1970-01-01 (earlier days negative) of naive datetimes without NaT.

    An integer division of the stored counts, instead of numpy's conversion of
    each value (ten times slower on millions of rows).
    """
    unit, _ = np.datetime_data(values.dtype)
    if unit in ("Y", "M", "W", "D"):  # calendar units: numpy's conversion is exact and cheap
        return np.asarray(values.astype("datetime64[D]").view(np.int64))
    # 1970-01-02 in the values' unit: the number of units in a day
    per_day = int(np.array(1, dtype="datetime64[D]").astype(values.dtype).view(np.int64))
    return np.asarray(values.view(np.int64) // per_day)


#: Day spans up to this long get a lookup table of their months in months_of_days.
MAX_DAY_TABLE = 1_000_000


def months_of_days(days: IntArray) -> IntArray:
    """Calendar month numbers (year * 12 + month - 1) of days since 1970-01-01.

    The months of the days spanned are computed once and looked up (a panel has
    millions of rows but spans a few hundred days).

    Examples
    --------
    >>> days = np.array([0, 31, -1])  # 1970-01-01, 1970-02-01, 1969-12-31
    >>> (months_of_days(days) - 1970 * 12).tolist()
    [0, 1, -1]
    """
    if len(days) == 0:
        return np.empty(0, dtype=np.int64)
    first = int(days.min())
    span = int(days.max()) - first + 1
    if span > MAX_DAY_TABLE:  # dates thousands of years apart: convert each one
        table_days, index = days, None
    else:
        table_days, index = np.arange(first, first + span, dtype=np.int64), days - first
    months = table_days.astype("datetime64[D]").astype("datetime64[M]").view(np.int64)
    numbers: IntArray = months + EPOCH_MONTH
    return numbers if index is None else numbers[index]


def month_dates(index: Any, *, end: bool) -> npt.NDArray[np.datetime64]:
    """First (or, with `end`, last) day of each month index; NaN gives NaT (datetime64[ns])."""
    idx = np.asarray(index, dtype=np.float64)
    known = ~np.isnan(idx)
    months = np.where(known, idx, 0.0).astype(np.int64) - EPOCH_MONTH + int(end)
    days = months.astype("datetime64[M]").astype("datetime64[D]")
    if end:
        days = days - np.timedelta64(1, "D")
    out = days.astype("datetime64[ns]")
    out[~known] = np.datetime64("NaT")
    return out


# --------------------------------------------------------------------------------------
# Integer codes: ids hashed once, then numpy on int64
# --------------------------------------------------------------------------------------


def codes(values: Any, index: pd.Index) -> IntArray:
    """Position of each value in `index`, -1 when missing or absent.

    Each distinct value is hashed once (:func:`pandas.factorize`) and only the
    distinct values are looked up in `index`: much faster than
    ``index.get_indexer(values)`` on millions of strings.
    """
    codes, uniques = pd.factorize(values)
    return recode(codes, uniques, index)


def codes_at(column: pd.Series, rows: IntArray, index: pd.Index) -> IntArray:
    """:func:`codes` of ``column.iloc[rows]``, from the whole column's factorisation: each
    id column of the panel is hashed once for every step (:func:`_memo.factorize`).

    Examples
    --------
    >>> column = pd.Series(["b", "a", None, "c"] * 50_000, dtype="str")
    >>> codes_at(column, np.array([0, 2, 3]), pd.Index(["a", "b"])).tolist()
    [1, -1, -1]
    """
    codes, uniques = _memo.factorize(column)
    return recode(codes[rows], uniques, index)


def recode(codes: npt.NDArray[Any], uniques: Any, index: pd.Index) -> IntArray:
    """Factorisation `codes` of `uniques` as positions in `index` (-1: missing or absent)."""
    where = np.append(index.get_indexer(uniques), -1).astype(np.int64)
    return np.asarray(where[codes], dtype=np.int64)


def runs(*columns: pd.Series) -> tuple[IntArray, IntArray]:
    """Runs of equal consecutive rows of `columns`: each run's first row, and each row's run.

    The rows of a panel sorted by its ids (as :mod:`referral_graph.aggregate` makes
    them) form few runs, so the ids are looked up once per run instead of once per row.
    Missing values may split runs, never join different values. Computed once per
    Arrow column (:mod:`referral_graph._memo`; the arrays are read-only).
    """
    return _memo.remembered(_RUNS, lambda: find_runs(columns), *columns)


#: The name :func:`runs` keeps its results under (:func:`referral_graph._memo.remembered`).
_RUNS = "runs"


def find_runs(columns: tuple[pd.Series, ...]) -> tuple[IntArray, IntArray]:
    change = np.zeros(len(columns[0]), dtype=bool)
    change[:1] = True
    for column in columns:
        differs = pd.array(column.array[1:] != column.array[:-1], dtype="boolean")
        change[1:] |= differs.fillna(True).to_numpy(dtype=bool)  # missing: a new run
    return runs_of(change)


def runs_of(change: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """Each run's first row and each row's run (0, 1, ...), from whether each row starts
    a run (`change`; the first row does): ``cumsum(change) - 1`` in one array."""
    run = np.cumsum(change, dtype=np.intp)
    run -= 1
    return np.flatnonzero(change), run


def keep_runs(change: npt.NDArray[np.bool_], *columns: pd.Series) -> tuple[IntArray, IntArray]:
    """:func:`runs` of `columns`, known from where their runs start (`change`, as
    :func:`runs_of` takes it): kept for the steps that ask, not computed again."""
    found = runs_of(change)
    _memo.keep(_RUNS, found, *columns)
    return found


def sorted_ids(*columns: pd.Series) -> pd.Index:
    """The distinct non-missing values of `columns`, sorted, so that codes order as the ids."""
    parts = [pd.Series(pd.unique(col.dropna())) for col in columns]
    values = pd.concat(parts, ignore_index=True).unique()
    index: pd.Index = pd.Index(values).sort_values()
    return index


def take(values: pd.Series, codes: IntArray) -> pd.Series:
    """``values.iloc[codes]`` with a default index; -1 gives a missing value of the same dtype."""
    return pd.Series(values.array.take(codes, allow_fill=True))


def labelled(labels: list[str], codes: IntArray, index: pd.Index) -> pd.Series:
    """A string column of ``labels[code]`` (-1: missing), no Python string made per row."""
    column = take(pd.Series(labels, dtype="str"), codes)
    column.index = index
    return column


@dataclass(frozen=True)
class Keys:
    """A tie table's source and target as codes of one sorted id index (-1: missing id)."""

    ids: pd.Index
    source: IntArray
    target: IntArray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Keys:
        # each column hashed once: its distinct values make the sorted ids
        source, sources = _memo.factorize(frame["source"])
        target, targets = _memo.factorize(frame["target"])
        ids = sorted_ids(pd.Series(sources), pd.Series(targets))
        return cls(ids, recode(source, sources, ids), recode(target, targets, ids))

    def pairs(self) -> IntArray:
        """One int64 per (source, target) pair; missing ids count as one more id."""
        n = len(self.ids) + 1
        return (self.source + 1) * n + (self.target + 1)

    def sort_order(self) -> IntArray | None:
        """Positions sorted by (source, target), missing ids last (as ``sort_values``).

        None when the rows are sorted already (as :func:`aggregate.tie_table` makes them).
        """
        n = len(self.ids)
        src = np.where(self.source < 0, n, self.source)
        tgt = np.where(self.target < 0, n, self.target)
        key = src * (n + 1) + tgt
        if bool((key[1:] >= key[:-1]).all()):
            return None
        return np.lexsort((tgt, src)).astype(np.int64)

    def take(self, positions: IntArray) -> Keys:
        return Keys(self.ids, self.source[positions], self.target[positions])


@dataclass(frozen=True)
class Prepared:
    """A checked tie table (default index), its codes, and the panel it was summed from."""

    frame: pd.DataFrame
    keys: Keys
    from_panel: pd.DataFrame | None
    order: IntArray | None = None  # the input's rows in `frame`'s order (None: unchanged)


def ties_from_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """Sum a panel (one row per source, target, month) to one row per tie.

    Only ``referrals`` and ``amount`` are summed: monthly distinct patients do
    not add up to distinct patients, and the dates come from the panel itself
    (see :func:`referral_graph.strength.tie_strength`), so that months after ``as_of`` are ignored.
    """
    summed = [c for c in ("referrals", "amount") if c in panel.columns]
    grouped = panel.groupby(KEYS, sort=True, observed=True)
    ties = grouped[summed].sum(min_count=1).reset_index()
    ties["referrals"] = ties["referrals"].fillna(0).astype(panel["referrals"].dtype)
    return ties


def _repeated_pairs(pairs: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each row's pair is on another row too. Rows in increasing order of their pairs
    (an engine's or the store's tie table, sorted by source and target) repeat none: one
    pass, no hashing of millions of pairs."""
    if bool((pairs[1:] > pairs[:-1]).all()):
        return np.zeros(len(pairs), dtype=bool)
    return np.asarray(pd.Series(pairs).duplicated(keep=False).to_numpy(), dtype=bool)


def prepare_ties(ties: pd.DataFrame, func: str, *, sort: bool = False) -> Prepared:
    """Check a tie table (or panel); return a clean copy, its codes and its source panel.

    With `sort`, the rows are sorted by (source, target).
    """
    if not isinstance(ties, pd.DataFrame):
        raise ParameterError(
            f"The 'ties' parameter of {func} must be a pandas.DataFrame. "
            f"Got {type(ties).__name__} instead."
        )
    require_columns(
        ties,
        [*KEYS, "referrals"],
        "tie table",
        "read it with referral_graph.io.read_edges or build it with "
        "referral_graph.aggregate.tie_table.",
    )
    from_panel: pd.DataFrame | None = None
    frame = ties.copy(deep=False)  # whole columns are replaced below, never written into
    frame["source"] = frame["source"].astype("str")
    frame["target"] = frame["target"].astype("str")
    frame["referrals"] = counts(frame["referrals"], "tie table's 'referrals' column")
    if "month" in frame.columns:
        from_panel = frame
        frame = ties_from_panel(frame)
    keys = Keys.of(frame)
    dupes = _repeated_pairs(keys.pairs())
    if bool(dupes.any()):
        pairs = frame.loc[dupes, KEYS].drop_duplicates().head(3).values.tolist()
        raise SchemaError(
            f"The tie table must have one row per (source, target); {int(dupes.sum())} rows "
            f"repeat a pair (e.g. {pairs!r}). Sum them first, or pass an edge panel with a "
            "'month' column."
        )
    order = keys.sort_order() if sort else None
    if order is not None:
        frame = frame.take(order)
        keys = keys.take(order)
    return Prepared(frame.reset_index(drop=True), keys, from_panel, order)


POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
MAX_MONTH_WORDS = 8  # distinct months counted with bit masks up to 8 * 64 months


class MonthStats:
    """Per group: first month, last month and number of distinct months, added by chunks.

    Months must lie in ``[first_month, last_month]``; groups in ``[0, n_groups)``.
    """

    def __init__(
        self, n_groups: int, first_month: int, last_month: int, *, max_words: int = MAX_MONTH_WORDS
    ) -> None:
        self.n_groups = n_groups
        self.start = first_month
        self.span = max(last_month - first_month + 1, 1)
        self.words = (self.span - 1) // 64 + 1
        self.lo = np.full(n_groups, np.iinfo(np.int64).max)
        self.hi = np.full(n_groups, np.iinfo(np.int64).min)
        # one bit per month, OR-ed over a group's rows (else its distinct (group, month) keys)
        self.bits = np.zeros(n_groups * self.words, dtype=np.uint64)
        self.use_bits = self.words <= max_words
        self.keys: list[IntArray] = []

    def add(self, group: IntArray, month: IntArray) -> None:
        np.minimum.at(self.lo, group, month)
        np.maximum.at(self.hi, group, month)
        offset = month - self.start
        if self.use_bits:
            bit = np.left_shift(np.uint64(1), (offset % 64).astype(np.uint64))
            np.bitwise_or.at(self.bits, group * self.words + offset // 64, bit)
        else:
            self.keys.append(pd.unique(group * self.span + offset))

    def result(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """First month, last month, distinct months (NaN for a group without rows)."""
        has = self.hi > np.iinfo(np.int64).min
        if self.use_bits:
            ones = POPCOUNT[self.bits.view(np.uint8)].reshape(self.n_groups, self.words * 8)
            count = ones.sum(axis=1, dtype=np.int64)
        else:
            keys = pd.unique(np.concatenate(self.keys)) if self.keys else np.zeros(0, np.int64)
            count = np.bincount(keys // self.span, minlength=self.n_groups)
        first, last, distinct = (np.full(self.n_groups, np.nan) for _ in range(3))
        first[has] = self.lo[has]
        last[has] = self.hi[has]
        distinct[has] = count[has]
        return first, last, distinct


def month_stats(
    group: IntArray, month: IntArray, n_groups: int, *, max_words: int = MAX_MONTH_WORDS
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:class:`MonthStats` of one set of rows."""
    if not len(group):
        return MonthStats(n_groups, 0, 0).result()
    stats = MonthStats(n_groups, int(month.min()), int(month.max()), max_words=max_words)
    stats.add(group, month)
    return stats.result()
