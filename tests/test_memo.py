"""Results kept per Arrow column (referral_graph._memo)."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from referral_graph import _memo
from referral_graph._codes import find_runs as _find_runs
from referral_graph._codes import runs as _runs


def ids(n: int = 200_000) -> pd.Series:
    rng = np.random.default_rng(0)
    return pd.Series(rng.integers(0, 5_000, n).astype(str), dtype="str")


def test_factorize_is_pandas_factorize_computed_once() -> None:
    column = ids()
    first = _memo.factorize(column)
    expected = pd.factorize(column)
    np.testing.assert_array_equal(first[0], expected[0])
    pd.testing.assert_index_equal(first[1], expected[1])
    assert _memo.factorize(column) is first
    assert _memo.factorize(column.astype("str")) is first  # the same Arrow data
    with pytest.raises(ValueError, match="read-only"):
        first[0][0] = 1


def test_a_changed_column_is_computed_again() -> None:
    frame = pd.DataFrame({"source": ids()})
    before = _memo.factorize(frame["source"])
    frame.loc[0, "source"] = "new id"
    after = _memo.factorize(frame["source"])
    assert after is not before
    assert after[1][after[0][0]] == "new id"


def test_numpy_and_small_columns_are_not_kept() -> None:
    objects = ids().astype(object)  # a numpy array can change in place: never kept
    assert _memo.factorize(objects) is not _memo.factorize(objects)
    small = ids(1_000)
    assert _memo.factorize(small) is not _memo.factorize(small)


def test_results_are_forgotten_with_their_column() -> None:
    column = ids()
    _memo.factorize(column)
    kept = len(_memo._kept)
    del column
    gc.collect()
    assert len(_memo._kept) == kept - 1


def test_runs_are_kept_per_pair_of_columns() -> None:
    source = pd.Series(np.repeat(["a", "b", "a"], 100_000), dtype="str")
    target = pd.Series(np.tile(np.repeat(["x", "y"], 50_000), 3), dtype="str")
    starts, run = _runs(source, target)
    expected = _find_runs((source, target))
    np.testing.assert_array_equal(starts, expected[0])
    np.testing.assert_array_equal(run, expected[1])
    assert starts.tolist() == [0, 50_000, 100_000, 150_000, 200_000, 250_000]
    assert _runs(source, target)[0] is starts
    assert _runs(target, source)[0] is not starts  # another key


@pytest.mark.parametrize(
    "wanted",
    [
        ["a", "c"],
        {"b", "zz"},
        pd.Index(["c"], dtype="str"),
        [],
        ["a", None],  # a missing value wanted: pandas' rule (missing matches missing)
        [1, 2],  # numbers never equal the text ids
        [1, "a"],  # text and a number: the text matches
        np.array(["d", "b", "nope"]),  # numpy text (np.str_ values)
        pd.Series(["a", "zz"], dtype=object),
        [*(f"x{i}" for i in range(5_000)), "c"],  # many wanted, one found
    ],
)
@pytest.mark.parametrize("n", [12, 150_000])  # a small column, then one whose codes are kept
def test_isin_is_pandas_isin(wanted: object, n: int) -> None:
    ids = pd.Series(["b", "a", None, "c", "a", "d"] * (n // 6), dtype="str")
    expected = ids.isin(wanted).to_numpy(dtype=bool)  # the oracle: pandas itself
    got = _memo.isin(ids, wanted)
    assert got.dtype == bool and got.tolist() == expected.tolist()
    assert _memo.isin(ids, wanted).tolist() == expected.tolist()  # again, from kept codes


def test_the_store_reader_keeps_what_hashing_its_ids_would_find(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store table read with its ids' ranks: each id column's factorisation and the runs
    are kept from the ranks, and equal what pandas finds by hashing the strings."""
    import duckdb
    import pyarrow as pa

    from referral_graph._store_read import read_frame

    rng = np.random.default_rng(3)
    ids = pa.array(sorted(f"P{i:05d}" for i in rng.choice(90_000, 4_000, replace=False)))
    n = 150_000
    ranks = pa.table(
        {
            "source": np.sort(rng.integers(0, 3_000, n)).astype(np.int32),  # sorted, as stored
            "target": rng.integers(1_000, 4_000, n).astype(np.int32),  # ids 0-999 absent
            "referrals": rng.integers(1, 9, n),
        }
    )
    con = duckdb.connect()
    con.register("ranked", ranks)
    frame = read_frame(con, "SELECT * FROM ranked", ids)
    assert frame["source"].iloc[0] == ids[int(ranks["source"][0])].as_py()
    with monkeypatch.context() as m:  # kept, not computed: hashing anything would fail
        m.setattr(pd, "factorize", lambda values: 1 / 0)
        m.setattr("referral_graph._codes.find_runs", lambda columns: 1 / 0)
        found = {c: _memo.factorize(frame[c]) for c in ("source", "target")}
        one, both = _runs(frame["source"]), _runs(frame["source"], frame["target"])
    for c in ("source", "target"):
        expected = pd.factorize(frame[c])
        np.testing.assert_array_equal(found[c][0], expected[0])
        assert found[c][0].dtype == expected[0].dtype
        pd.testing.assert_index_equal(found[c][1], expected[1], exact=True)
    for kept, columns in ((one, ("source",)), (both, ("source", "target"))):
        expected_runs = _find_runs(tuple(frame[c] for c in columns))
        for got, want in zip(kept, expected_runs, strict=True):
            np.testing.assert_array_equal(got, want)
