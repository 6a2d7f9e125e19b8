"""Parameter and table checks shared by the referral_graph modules (private).

One implementation of each check, so that every public function words its errors
the same way (the house format)::

    The 'horizon' parameter of at_risk must be an int in the range [1, 24]. Got 0 instead.

A bad argument raises :class:`~referral_graph.exceptions.ParameterError`; a table
without a required column raises :class:`~referral_graph.exceptions.SchemaError`.
``bool`` never passes as a number. Nothing here is part of the public API.

Examples
--------
>>> check_int(3, "horizon", "at_risk", low=1, high=24)
3
>>> check_int(0, "horizon", "at_risk", low=1, high=24)
Traceback (most recent call last):
...
referral_graph.exceptions.ParameterError: The 'horizon' parameter of at_risk must be an int in the range [1, 24]. Got 0 instead.
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd

from referral_graph.exceptions import ParameterError, SchemaError

__all__ = [
    "DECIMAL_COMMA",
    "NUMBER_HINTS",
    "check_choice",
    "check_decimal",
    "check_float",
    "check_focus_ids",
    "check_frame",
    "check_int",
    "check_weights",
    "decimal_comma_error",
    "decimal_point_text",
    "header_key",
    "parameter_error",
    "refuse_decimal_commas",
    "require_columns",
    "text_key",
]

_T = TypeVar("_T")


def parameter_error(name: str, func: str, expected: str, got: object) -> ParameterError:
    """Build the house-format error for a bad argument (the caller raises it).

    Parameters
    ----------
    name : str
        The parameter's name.
    func : str
        The public function (or class) the parameter belongs to.
    expected : str
        What the parameter must be, e.g. ``"an int >= 1"``.
    got : object
        What was passed; shown with ``repr``.

    Returns
    -------
    ParameterError
        The error, not raised.

    Examples
    --------
    >>> str(parameter_error("top", "render", "an int >= 1", 0))
    "The 'top' parameter of render must be an int >= 1. Got 0 instead."
    """
    return ParameterError(
        f"The {name!r} parameter of {func} must be {expected}. Got {got!r} instead."
    )


def check_int(
    value: object,
    name: str,
    func: str,
    *,
    low: int,
    high: int | None = None,
    allow_numpy: bool = True,
) -> int:
    """Return `value` as an int if it is one in ``[low, high]``; else raise.

    Parameters
    ----------
    value : object
        The argument to check. ``bool`` is never accepted.
    name, func : str
        The parameter's name and the public function it belongs to (for the message).
    low : int
        The smallest allowed value.
    high : int or None, default None
        The largest allowed value; None for no upper bound.
    allow_numpy : bool, default True
        Whether numpy integers (``numpy.int64`` ...) are accepted as well as ``int``.

    Returns
    -------
    int
        The value as a Python int.

    Raises
    ------
    ParameterError
        If `value` is not an int (or numpy integer, when allowed) in range.

    Examples
    --------
    >>> check_int(np.int64(5), "k", "betweenness", low=2)
    5
    >>> check_int(True, "k", "betweenness", low=0)
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.ParameterError: The 'k' parameter of betweenness must be an int >= 0. Got True instead.
    """  # noqa: E501
    number: int | None = None
    if (isinstance(value, int) and not isinstance(value, bool)) or (
        allow_numpy and isinstance(value, np.integer)
    ):
        number = int(value)
    if number is None or number < low or (high is not None and number > high):
        expected = f"an int >= {low}" if high is None else f"an int in the range [{low}, {high}]"
        raise parameter_error(name, func, expected, value)
    return number


def _real(value: object, *, allow_numpy: bool) -> float:
    """`value` as a float, or NaN if it is not a real number (a bool never is)."""
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float) or (
        allow_numpy and isinstance(value, np.integer | np.floating)
    ):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return math.nan
    return math.nan


def _bound(x: float) -> str:
    return f"{float(x):g}"


def check_float(
    value: object,
    name: str,
    func: str,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_numpy: bool = True,
) -> float:
    """Return `value` as a float if it is a number in the given range; else raise.

    NaN never passes. Infinities pass only where the range includes them (no
    upper bound, or ``high=math.inf`` with ``high_open=False``).

    Parameters
    ----------
    value : object
        The argument to check: an int or float. ``bool`` is never accepted.
    name, func : str
        The parameter's name and the public function it belongs to (for the message).
    low : float
        The lower bound.
    high : float or None, default None
        The upper bound; None for none.
    low_open, high_open : bool, default False
        Whether the bound itself is excluded.
    allow_numpy : bool, default True
        Whether numpy numbers are accepted. When False only ``int`` and ``float``
        (and so ``numpy.float64``, a float subclass) pass.

    Returns
    -------
    float
        The value as a Python float.

    Raises
    ------
    ParameterError
        If `value` is not a number in range.

    Examples
    --------
    >>> check_float(1, "loyal_threshold", "prospects", low=0, high=1, low_open=True)
    1.0
    >>> check_float(0.0, "resolution", "modularity", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.ParameterError: The 'resolution' parameter of modularity must be a float > 0. Got 0.0 instead.
    >>> check_float(1.0, "alpha", "pagerank", low=0, high=1, high_open=True)
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.ParameterError: The 'alpha' parameter of pagerank must be a float in the range [0, 1). Got 1.0 instead.
    """  # noqa: E501
    number = _real(value, allow_numpy=allow_numpy)
    too_low = number < low or (low_open and number == low)
    too_high = high is not None and (number > high or (high_open and number == high))
    if math.isnan(number) or too_low or too_high:
        if high is None:
            expected = f"a float {'>' if low_open else '>='} {_bound(low)}"
        else:
            expected = (
                f"a float in the range {'(' if low_open else '['}{_bound(low)}, "
                f"{_bound(high)}{')' if high_open else ']'}"
            )
        raise parameter_error(name, func, expected, value)
    return number


def check_choice(
    value: object,
    name: str,
    func: str,
    choices: Sequence[_T],
    *,
    expected: str | None = None,
) -> _T:
    """Return the element of `choices` that `value` is; else raise.

    A string choice matches any equal ``str`` (subclasses such as ``numpy.str_``
    included); any other choice (``True``, ``False``, ``None``) matches only itself,
    so ``1`` never passes for ``True``.

    Parameters
    ----------
    value : object
        The argument to check.
    name, func : str
        The parameter's name and the public function it belongs to (for the message).
    choices : sequence
        The allowed values.
    expected : str, optional
        What the message says the parameter must be; by default
        ``"one of 'a', 'b'"``.

    Returns
    -------
    object
        The matching element of `choices`.

    Raises
    ------
    ParameterError
        If `value` is none of `choices`.

    Examples
    --------
    >>> check_choice("hops", "distance", "betweenness", ("inverse", "hops"))
    'hops'
    >>> check_choice(1, "closeness", "provider_measures", (True, False, "auto"))
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.ParameterError: The 'closeness' parameter of provider_measures must be one of True, False, 'auto'. Got 1 instead.
    """  # noqa: E501
    for choice in choices:
        if value is choice or (
            isinstance(choice, str) and isinstance(value, str) and value == choice
        ):
            return choice
    if expected is None:
        expected = "one of " + ", ".join(repr(c) for c in choices)
    raise parameter_error(name, func, expected, value)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str, hint: str) -> None:
    """Raise SchemaError if `frame` lacks any of `columns`.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    columns : iterable of str
        The columns it must have.
    what : str
        The table's name in the message, e.g. ``"tie table"``.
    hint : str
        How to get a proper table; ends the message.

    Raises
    ------
    SchemaError
        Naming every missing column.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"id": []}), ["id", "name"], "providers table", "see io.")
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.SchemaError: The providers table lacks column(s) name; see io.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"The {what} lacks column(s) {', '.join(missing)}; {hint}")


def check_frame(
    frame: object, name: str, func: str, columns: Iterable[str], hint: str
) -> pd.DataFrame:
    """Return `frame` if it is a DataFrame with every one of `columns`; else raise.

    Parameters
    ----------
    frame : object
        The argument to check.
    name, func : str
        The parameter's name and the public function it belongs to; the message
        calls the table "the `name` table".
    columns : iterable of str
        The columns it must have.
    hint : str
        How to get a proper table; ends the SchemaError's message.

    Returns
    -------
    pandas.DataFrame
        `frame` itself (not copied).

    Raises
    ------
    ParameterError
        If `frame` is not a DataFrame.
    SchemaError
        If it lacks a column.

    Examples
    --------
    >>> check_frame([], "panel", "prospects", ["month"], "see aggregate.edge_panel.")
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.ParameterError: The 'panel' parameter of prospects must be a pandas.DataFrame. Got list instead.
    >>> check_frame(pd.DataFrame({"id": []}), "panel", "prospects", ["month"], "see edge_panel.")
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.SchemaError: The panel table lacks column(s) month; see edge_panel.
    """  # noqa: E501
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(
            f"The {name!r} parameter of {func} must be a pandas.DataFrame. "
            f"Got {type(frame).__name__} instead."
        )
    require_columns(frame, columns, f"{name} table", hint)
    return frame


def check_focus_ids(focus_ids: object, func: str) -> list[str]:
    """Return the focus provider ids as distinct strings, in first-seen order.

    Parameters
    ----------
    focus_ids : object
        The ``focus_ids`` argument: an iterable of ids, not a single string.
    func : str
        The public function it belongs to (for the message).

    Returns
    -------
    list of str
        At least one id.

    Raises
    ------
    ParameterError
        If `focus_ids` is a string, not iterable, or empty.

    Examples
    --------
    >>> check_focus_ids([1, "1", "2"], "prospects")
    ['1', '2']
    >>> check_focus_ids([], "prospects")
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.ParameterError: The 'focus_ids' parameter of prospects must hold at least one provider id. Got an empty list instead.
    """  # noqa: E501
    if isinstance(focus_ids, str) or not isinstance(focus_ids, Iterable):
        raise parameter_error(
            "focus_ids",
            func,
            "a list of provider ids (see referral_graph.leakage.resolve_focus)",
            focus_ids,
        )
    ids = list(dict.fromkeys(str(i) for i in focus_ids))
    if not ids:
        raise ParameterError(
            f"The 'focus_ids' parameter of {func} must hold at least one provider id. "
            "Got an empty list instead."
        )
    return ids


def header_key(name: object) -> str:
    """Normalise a column header for matching: stripped, no BOM, lower case, ``_`` for
    spaces and hyphens.

    Examples
    --------
    >>> header_key("\\ufeffProvider NPI ")
    'provider_npi'
    >>> header_key("zip-code")
    'zip_code'
    """
    return str(name).strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


def text_key(text: object) -> str:
    """Normalise free text for matching: runs of white space collapsed, case-folded.

    Examples
    --------
    >>> text_key("  Cardiology   CLINIC ")
    'cardiology clinic'
    """
    return " ".join(str(text).split()).casefold()


def check_weights(
    weights: Mapping[str, float] | None,
    func: str,
    defaults: Mapping[str, float],
    what: str = "component",
) -> dict[str, float]:
    """Merge `weights` into `defaults`; every value finite and >= 0, not all 0."""
    merged = dict(defaults)
    if weights is None:
        return merged
    names = ", ".join(defaults)
    message = (
        f"The 'weights' parameter of {func} must be a dict mapping {what} names ({names}) "
        f"to finite numbers >= 0, not all 0. Got {weights!r} instead."
    )
    if not isinstance(weights, Mapping):
        raise ParameterError(message)
    for key, value in weights.items():
        if key not in merged or isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterError(message)
        if not math.isfinite(value) or value < 0:
            raise ParameterError(message)
        merged[key] = float(value)
    if sum(merged.values()) <= 0:
        raise ParameterError(message)
    return merged


#: A number written with a decimal comma (``decimal=","``): an optional sign, digits with
#: optional dots between groups of three (thousands: ``1.850``), an optional comma and
#: decimals (``1.850,00``, ``1850,5``, ``-12``). A regular expression that Python, DuckDB
#: (RE2) and Spark read alike.
DECIMAL_COMMA = r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,[0-9]+)?"


#: How to fix a value that is not a number, per decimal mark.
NUMBER_HINTS = {
    ".": "use plain numbers without thousands separators or units",
    ",": "with decimal=',' write numbers as 1850,00 or 1.850,00 (dots only between "
    "thousands), without units",
}


def decimal_point_text(values: pd.Series) -> pd.Series:
    """Numbers written with a decimal comma as text with a decimal point; others missing.

    >>> decimal_point_text(pd.Series(["1.850,00", " 20,5", "12.5"])).tolist()
    ['1850.00', '20.5', nan]
    """
    stripped = values.str.strip()
    ok = stripped.str.fullmatch(DECIMAL_COMMA).fillna(False).astype(bool)
    return stripped.where(ok).str.replace(".", "", regex=False).str.replace(",", ".", regex=False)


def check_decimal(decimal: object, func: str) -> str:
    """The 'decimal' parameter: ``"."`` (the default) or ``","``."""
    if decimal not in (".", ","):
        raise parameter_error("decimal", func, "'.' or ','", decimal)
    return str(decimal)


def decimal_comma_error(
    name: str, column: str, example: object, *, row: object = None, row_label: str = "row"
) -> SchemaError:
    """The error for a numeric column written with decimal commas, read without decimal=','.

    Examples
    --------
    >>> print(decimal_comma_error("e.csv", "amount", "1.850,00", row=3))
    e.csv, column 'amount': the numbers are written with a decimal comma (row 3: '1.850,00'); \
read them with decimal=',' (CLI: --decimal ,), which also reads dots between thousands.
    """
    where = f"{row_label} {row}: " if row is not None else "e.g. "
    return SchemaError(
        f"{name}, column {column!r}: the numbers are written with a decimal comma "
        f"({where}{str(example)!r}); read them with decimal=',' (CLI: --decimal ,), which "
        "also reads dots between thousands."
    )


def refuse_decimal_commas(values: pd.Series, name: str, column: str, row_label: str) -> None:
    """Raise when every value reads as a number with a decimal comma and one has a comma.

    `values` are the non-missing values of a column read with ``decimal="."``, indexed by
    row (named `row_label` in the message).
    """
    text = values.astype("str").str.strip()
    text = text[text != ""]
    if not len(text) or not text.str.fullmatch(DECIMAL_COMMA).all():
        return
    comma = text.str.contains(",", regex=False).to_numpy()
    if comma.any():
        first = int(comma.argmax())
        row = text.index[first]
        raise decimal_comma_error(
            name, column, text.iloc[first], row=row.item() if hasattr(row, "item") else row,
            row_label=row_label,
        )  # fmt: skip
