"""The protection rule's shared helpers (``referral_graph._protection``)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_graph._protection import HiddenCounts


def _by_hand(
    values: list[float], group: list[int], use: list[bool], hidden: list[bool], n_groups: int
) -> tuple[list[int], list[float], list[int]]:
    """Per group, counted one cell at a time: hidden cells, their sum, non-zero cells shown."""
    n_hidden, hidden_sum, n_shown = [0] * n_groups, [0.0] * n_groups, [0] * n_groups
    for value, g, counted, is_hidden in zip(values, group, use, hidden, strict=True):
        if not counted or math.isnan(value):
            continue
        if is_hidden:
            n_hidden[g] += 1
            hidden_sum[g] += value
        elif value > 0:
            n_shown[g] += 1
    return n_hidden, hidden_sum, n_shown


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 30).map(float), st.just(math.nan), st.just(2.5)),
            st.integers(0, 3),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    ),
    rounds=st.lists(st.lists(st.booleans(), min_size=40, max_size=40), min_size=1, max_size=5),
)
def test_hidden_counts_equal_a_fresh_count_in_every_round(
    cells: list[tuple[float, int, bool]], rounds: list[list[bool]]
) -> None:
    """Cells hidden and shown again from round to round: each round's figures are those of
    counting every cell afresh, whole numbers or not (2.5)."""
    values = [v for v, _, _ in cells]
    group = [g for _, g, _ in cells]
    use = [u for _, _, u in cells]
    counts = HiddenCounts(np.array(values), np.array(group), 4, use=np.array(use))
    for hidden in rounds:
        hidden = hidden[: len(cells)]
        got = counts.of(np.array(hidden))
        expected = _by_hand(values, group, use, hidden, 4)
        assert [a.tolist() for a in got] == [list(e) for e in expected]
