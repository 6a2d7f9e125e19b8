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

import numpy as np
import pandas as pd

__all__ = ["is_valid_npi", "looks_like_npi", "npi_check_digit", "valid_npi_mask"]

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


def valid_npi_mask(ids: pd.Series) -> pd.Series:
    """Vectorised :func:`is_valid_npi` over a Series of string ids.

    Each distinct id is checked once, so a column of millions of events with
    tens of thousands of providers costs only the distinct ids.

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
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    ok = np.fromiter(
        (isinstance(u, str) and is_valid_npi(u) for u in uniques), dtype=bool, count=len(uniques)
    )
    result = np.zeros(len(ids), dtype=bool)
    present = codes >= 0
    result[present] = ok[codes[present]]
    return pd.Series(result, index=ids.index, name=ids.name)
