"""When a shown total gives its hidden parts away: the protection rule of complementary
suppression, in one place for every sum it applies to (:mod:`referral_graph.privacy`'s
partitions and row sums, the tables suppressed together in :mod:`referral_graph._joint`).

A group of counts sums to a total that is shown. Its ``k`` hidden counts then sum to a
known ``S`` (the total minus the shown counts). A hidden count is at least 1 (a zero is
never hidden), so a reader can tell of each one only that it lies between 1 and
``S - (k - 1)``. The group protects its hidden counts when ``k`` is 0, or ``k >= 2`` and
that range holds every small value, 1 to ``threshold - 1``::

    S - (k - 1) >= threshold - 1

so the sums say no more of a hidden count than ``"<11"`` does. One hidden count
(``k == 1``) is the total minus the others; two hidden counts of 1 beside a total of 52
and a shown 50 are both 1.

Examples
--------
>>> import numpy as np
>>> revealed(np.array([0, 1, 2, 2, 3]), np.array([0, 4, 2, 11, 11]), 11).tolist()
[False, True, True, False, True]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def revealed(
    n_hidden: npt.ArrayLike, hidden_sum: npt.ArrayLike, threshold: int
) -> npt.NDArray[np.bool_]:
    """Per group of a shown total: whether its hidden counts are given away.

    `n_hidden` is the number of hidden (non-zero) counts of each group and
    `hidden_sum` their sum (the shown total minus the shown counts).
    """
    k = np.asarray(n_hidden, dtype=float)
    s = np.asarray(hidden_sum, dtype=float)
    with np.errstate(invalid="ignore"):
        narrow = (k >= 2) & (s - (k - 1) < threshold - 1)
    out: npt.NDArray[np.bool_] = (k == 1) | narrow
    return out


class HiddenCounts:
    """Per group, the hidden cells' number and sum, and the number of non-zero cells shown,
    for a set of hidden cells that changes a little from round to round (the complementary
    suppression's): each call counts only the cells hidden or shown since the last one. On
    values that are not whole numbers it counts them all each time (the sums of whole
    numbers are exact in any order, so the figures are those of counting afresh).

    Parameters
    ----------
    values : ndarray of float
        Each row's value (NaN: missing, in no group).
    group : ndarray of int
        Each row's group, from 0 (rows outside `use` may hold anything).
    n_groups : int
        The number of groups.
    use : ndarray of bool, optional
        The rows counted (default: every row with a value).

    Examples
    --------
    >>> counts = HiddenCounts(np.array([1.0, 5.0, 0.0, 7.0]), np.array([0, 0, 1, 1]), 2)
    >>> [a.tolist() for a in counts.of(np.array([True, False, False, False]))]
    [[1, 0], [1.0, 0.0], [1, 1]]
    >>> [a.tolist() for a in counts.of(np.array([False, True, False, True]))]
    [[1, 1], [5.0, 7.0], [1, 0]]
    """

    def __init__(
        self,
        values: npt.NDArray[np.float64],
        group: npt.NDArray[np.integer[Any]],
        n_groups: int,
        *,
        use: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self.values, self.group, self.n_groups = values, group, n_groups
        known = ~np.isnan(values)
        # (the caller's own mask kept, not a copy, when it holds no missing value)
        self.use = known if use is None else use if bool(known[use].all()) else use & known
        del known
        counted = values[self.use]
        self.whole = bool(np.all(counted == np.round(counted)))
        with np.errstate(invalid="ignore"):
            nonzero = self.use & (values > 0)
        # counts per group in 32 bits below 2**31 rows (several of these live at once, one
        # per sum, some over millions of groups)
        self.dtype = np.int32 if len(values) < 2**31 else np.int64
        self.n_nonzero = self._count(group[nonzero])
        del nonzero, counted
        # the counted rows hidden at the last call, and the figures it returned (without
        # them, the next call counts afresh)
        self.hidden: npt.NDArray[np.bool_] | None = None
        self.figures: tuple[Any, npt.NDArray[np.float64], Any] | None = None

    def _count(self, group: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.integer[Any]]:
        return np.bincount(group, minlength=self.n_groups).astype(self.dtype)

    def _counts(
        self, rows: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.float64], npt.NDArray[np.integer[Any]]]:
        """Per group: the number of `rows`, their sum, and the number of non-zero ones."""
        group, values = self.group[rows], self.values[rows]
        total = np.bincount(group, weights=values, minlength=self.n_groups)
        # (an empty bincount is of integers, even with weights)
        return self._count(group), total.astype(np.float64), self._count(group[values > 0])

    def of(
        self, is_hidden: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.float64], npt.NDArray[np.integer[Any]]]:
        """Per group: the number of cells `is_hidden` (counted rows only), their sum, and
        the number of non-zero cells shown."""
        hidden = self.use & is_hidden
        before, last = self.hidden, self.figures
        if before is None or last is None or not self.whole:
            figures = self._counts(hidden)
        else:  # the rows hidden or shown since: +1 or -1 to their group's figures
            changed = np.flatnonzero(hidden ^ before)
            sign = np.where(hidden[changed], 1, -1)
            group, values = self.group[changed], self.values[changed]
            figures = tuple(figure.copy() for figure in last)  # type: ignore[assignment]
            np.add.at(figures[0], group, sign)
            np.add.at(figures[1], group, sign * values)
            np.add.at(figures[2], group, sign * (values > 0))
        self.hidden, self.figures = hidden, figures
        n_hidden, hidden_sum, nonzero_hidden = figures
        return n_hidden, hidden_sum, self.n_nonzero - nonzero_hidden
