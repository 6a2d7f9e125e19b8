"""National Provider Identifier (NPI) check digits.

An NPI is ten digits; the last is a Luhn check digit computed over the
prefix ``80840`` followed by the first nine digits (CMS, "Requirements for
NPI check digit"). Ids that are not NPIs (hospital codes abroad, local ids)
are left alone by the rest of the toolkit unless the user declares the ids
to be NPIs.

Examples
--------
>>> is_valid_npi("1234567893")
True
>>> npi_check_digit("123456789")
3
>>> looks_like_npi("010000024")
False
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["is_valid_npi", "looks_like_npi", "npi_check_digit", "npi_flags", "valid_npi_mask"]

_NPI_SHAPE = re.compile(r"^[12]\d{9}$")


def npi_check_digit(first_nine: str) -> int:
    """Return the Luhn check digit for the first nine digits of an NPI.

    Parameters
    ----------
    first_nine : str
        Nine decimal digits.

    Returns
    -------
    int
        The tenth digit that makes the NPI valid.

    Raises
    ------
    ValueError
        If `first_nine` is not nine digits.

    Examples
    --------
    >>> npi_check_digit("123456789")
    3
    """
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError(f"An NPI check digit needs nine digits. Got {first_nine!r} instead.")
    # Luhn over "80840" + nine digits: double every second digit from the right,
    # starting with the rightmost of the nine (the check digit is appended after).
    total = 24  # the contribution of the prefix 80840, as CMS publishes
    for i, ch in enumerate(reversed(first_nine)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def looks_like_npi(value: str) -> bool:
    """Return True if `value` has the shape of an NPI (ten digits starting 1 or 2).

    Examples
    --------
    >>> looks_like_npi("1003033051"), looks_like_npi("2A0000030")
    (True, False)
    """
    return bool(_NPI_SHAPE.match(value))


def is_valid_npi(value: str) -> bool:
    """Return True if `value` is a ten-digit NPI with a correct check digit.

    Examples
    --------
    >>> is_valid_npi("1234567893"), is_valid_npi("1234567890")
    (True, False)
    """
    return looks_like_npi(value) and npi_check_digit(value[:9]) == int(value[9])


def npi_flags(
    ids: pd.Series, *, factorized: tuple[np.ndarray, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised NPI shape and check-digit flags for a Series of string ids.

    Each distinct id is checked once (with numpy, not per id in Python), so a
    column of millions of events with tens of thousands of providers costs
    only the distinct ids.

    Parameters
    ----------
    ids : pandas.Series
        String ids; missing values are neither shaped nor valid.
    factorized : tuple (codes, uniques), optional
        ``pandas.factorize(ids)`` when the caller has it already (codes -1 for
        missing ids; `uniques` may hold more ids than `ids` uses), which saves
        factorising again.

    Returns
    -------
    shaped, valid : numpy.ndarray of bool
        Whether each id has the shape of an NPI (ten digits starting 1 or 2),
        and whether it is a valid NPI; aligned with `ids`.

    Examples
    --------
    >>> shaped, valid = npi_flags(pd.Series(["1234567893", "1234567890", "A1", None]))
    >>> shaped.tolist(), valid.tolist()
    ([True, True, False, False], [True, False, False, False])
    """
    codes, uniques = factorized or pd.factorize(ids, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    u_shaped = u.str.fullmatch(r"[12]\d{9}").fillna(False).to_numpy(dtype=bool)
    u_valid = np.zeros(len(u), dtype=bool)
    if u_shaped.any():
        text = "".join(u[u_shaped].tolist()).encode("ascii")
        digits = (np.frombuffer(text, dtype=np.uint8).reshape(-1, 10) - 48).astype(np.int64)
        doubled = digits[:, [0, 2, 4, 6, 8]] * 2
        doubled -= 9 * (doubled > 9)
        total = 24 + doubled.sum(axis=1) + digits[:, [1, 3, 5, 7]].sum(axis=1)
        u_valid[u_shaped] = (10 - total % 10) % 10 == digits[:, 9]
    present = codes >= 0
    shaped = np.zeros(len(ids), dtype=bool)
    valid = np.zeros(len(ids), dtype=bool)
    shaped[present] = u_shaped[codes[present]]
    valid[present] = u_valid[codes[present]]
    return shaped, valid


def valid_npi_mask(ids: pd.Series) -> pd.Series:
    """Vectorised :func:`is_valid_npi` over a Series of string ids.

    Parameters
    ----------
    ids : pandas.Series
        String ids; missing values count as invalid.

    Returns
    -------
    pandas.Series of bool
        Aligned with `ids`.

    Examples
    --------
    >>> valid_npi_mask(pd.Series(["1234567893", "1234567890", None])).tolist()
    [True, False, False]
    """
    return pd.Series(npi_flags(ids)[1], index=ids.index, name=ids.name)


def looks_like_npi_column(ids: pd.Series, *, share: float = 0.9) -> bool:
    """Return True if at least `share` of the distinct ids look like NPIs.

    Examples
    --------
    >>> looks_like_npi_column(pd.Series(["1234567893", "1003033051"]))
    True
    """
    uniques = ids.dropna().unique()
    if len(uniques) == 0:
        return False
    hits = sum(looks_like_npi(str(u)) for u in uniques)
    return hits / len(uniques) >= share
