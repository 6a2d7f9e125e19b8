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
