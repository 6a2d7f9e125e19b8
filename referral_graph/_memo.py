"""Results computed once per Arrow column: id factorisations and runs of equal rows.

Several steps hash the same id columns of the panel and the tie table: tie
strength, the organisation roll-up, the headline, the churn matrix, the
prospects (tens of millions of strings on a large market, about a second per
column each time). An Arrow array is immutable, so a result computed from it
stays valid as long as the array lives: :func:`remembered` keeps it, keyed by
the identity of the arrays, and forgets it when they are freed. Other inputs
(numpy arrays, which can change in place) are computed every time, as are
small columns. Kept results are read-only.

Examples
--------
>>> import pandas as pd
>>> ids = pd.Series(["b", "a", "b"] * 50_000, dtype="str")
>>> first = factorize(ids)
>>> factorize(ids) is first  # the same column: computed once
True
>>> first[0][:3].tolist(), first[1].tolist()
([0, 1, 0], ['b', 'a'])
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

T = TypeVar("T")

#: Columns shorter than this are computed every time (hashing them is cheap).
MIN_ROWS = 100_000

_lock = threading.Lock()
_kept: dict[tuple[str, tuple[int, ...]], tuple[list[weakref.ref[Any]], Any]] = {}


def _arrow_data(values: Any) -> Any:
    """The Arrow array behind a pandas Series or array (the same object each time), or None."""
    array = values.array if isinstance(values, pd.Series) else values
    if isinstance(array, pd.api.extensions.ExtensionArray) and hasattr(array, "__arrow_array__"):
        return array.__arrow_array__()
    return None


def _freeze(value: Any) -> None:
    """Make the numpy arrays of a result (or of a tuple of results) read-only."""
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, np.ndarray):
            item.flags.writeable = False


def remembered(name: str, compute: Callable[[], T], *columns: Any) -> T:
    """``compute()``, kept for later calls with the same `name` and Arrow `columns`.

    Parameters
    ----------
    name : str
        What is computed (one entry per name and columns).
    compute : callable
        Computes the result from `columns` only.
    *columns : pandas.Series or array
        The inputs; unless all are Arrow-backed and at least :data:`MIN_ROWS`
        long, nothing is kept.
    """
    arrays = _arrays(columns)
    if arrays is None:
        return compute()
    key = (name, tuple(id(a) for a in arrays))
    with _lock:
        hit = _kept.get(key)
    if hit is not None and all(ref() is a for ref, a in zip(hit[0], arrays, strict=True)):
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    _keep(key, arrays, value)
    return value


def keep(name: str, value: Any, *columns: Any) -> None:
    """Keep `value` as what ``remembered(name, compute, *columns)`` computes, found
    another way (a reader that knows the result already); nothing is kept for columns
    that :func:`remembered` would compute every time."""
    arrays = _arrays(columns)
    if arrays is not None:
        _keep((name, tuple(id(a) for a in arrays)), arrays, value)


def keep_factorized(values: pd.Series, codes: npt.NDArray[np.intp], uniques: pd.Index) -> None:
    """Keep what :func:`factorize` would compute for `values`: ``pandas.factorize``'s
    codes and uniques (the caller vouches for them)."""
    keep(_factorized(values), (codes, uniques), values)


def _arrays(columns: tuple[Any, ...]) -> list[Any] | None:
    """The Arrow arrays behind `columns`, or None when results for them are not kept."""
    arrays = [_arrow_data(c) for c in columns]
    if not arrays or any(a is None for a in arrays) or len(arrays[0]) < MIN_ROWS:
        return None
    return arrays


def _keep(key: tuple[str, tuple[int, ...]], arrays: list[Any], value: Any) -> None:
    _freeze(value)

    def forget(_: object, key: tuple[str, tuple[int, ...]] = key) -> None:
        with _lock:
            _kept.pop(key, None)

    refs = [weakref.ref(a, forget) for a in arrays]
    with _lock:
        _kept[key] = (refs, value)


def factorize(values: pd.Series | Any) -> tuple[npt.NDArray[np.intp], Any]:
    """``pandas.factorize(values)`` (codes read-only), computed once per Arrow column."""
    return remembered(_factorized(values), lambda: pd.factorize(values), values)


def _factorized(values: Any) -> str:
    """The name :func:`factorize` keeps its result under (by the input's type: a Series
    gives an Index of uniques)."""
    return "factorize:" + type(values).__name__


def isin(values: pd.Series, wanted: Any) -> npt.NDArray[np.bool_]:
    """``values.isin(wanted).to_numpy()``, each distinct value tested once from the
    factorisation :func:`factorize` keeps (the ids of the panel and of the tie table are
    tested time and again for a few hundred providers).

    Examples
    --------
    >>> ids = pd.Series(["b", "a", None, "c"] * 50_000, dtype="str")
    >>> isin(ids, ["a", "c"])[:4].tolist()
    [False, True, False, True]
    """
    if _arrow_data(values) is None or len(values) < MIN_ROWS:
        return np.asarray(values.isin(wanted).to_numpy(dtype=bool))
    targets = pd.Index(list(wanted) if isinstance(wanted, set) else wanted)
    if bool(targets.hasnans):  # a missing value wanted matches the missing values: pandas'
        return np.asarray(values.isin(wanted).to_numpy(dtype=bool))
    codes, uniques = factorize(values)
    found = np.append(_isin_distinct(pd.Index(uniques), targets), False)  # code -1: missing
    return np.asarray(found[codes])


def _isin_distinct(uniques: pd.Index, targets: pd.Index) -> npt.NDArray[np.bool_]:
    """``uniques.isin(targets)``; for text, by Arrow's hash look-up. pandas makes an Arrow
    scalar of each wanted value in Python first: 1.2 s for 234,000 key referrers among
    300,000 ids, against 0.08 s here."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = _arrow_data(uniques.array)
    if data is not None and (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        try:
            wanted = pa.array(np.asarray(targets, dtype=object), type=data.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text (a number matches no text)
            pass
        else:
            return np.asarray(pc.is_in(data, value_set=wanted).to_numpy(), dtype=bool)
    return np.asarray(uniques.isin(targets), dtype=bool)
