"""Header lines: whether a first line is a header, and the column names it gives.

Shared by every reader of :mod:`referral_graph.io` (CSV, spreadsheets, the NPPES file)
and by the out-of-core engines, so that a header is judged and refused alike everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from referral_graph.exceptions import SchemaError


def looks_headerless(fields: Sequence[str]) -> bool:
    """A first line whose every field is a number is data, not a header."""
    if not fields:
        return False
    for f in fields:
        text = f.strip()
        if not text:
            return False
        try:
            float(text)
        except ValueError:
            return False
    return True


def unique_names(columns: Sequence[str], name: str) -> None:
    """Raise :class:`SchemaError` naming the file when a column name repeats.

    Examples
    --------
    >>> unique_names(["source", "target"], "e.csv")
    >>> unique_names(["source", "source"], "e.csv")
    Traceback (most recent call last):
    ...
    referral_graph.exceptions.SchemaError: e.csv: duplicate column names in the header: source.
    """
    dupes = sorted(c for c, n in Counter(columns).items() if n > 1)
    if dupes:
        raise SchemaError(f"{name}: duplicate column names in the header: {', '.join(dupes)}.")


def header_names(fields: Sequence[str], name: str) -> list[str]:
    """Column names from a header line's fields: stripped, blanks named, duplicates refused.

    Examples
    --------
    >>> header_names([" source", "target", ""], "e.csv")
    ['source', 'target', 'column_3']
    """
    columns = [c.strip().lstrip("\ufeff") or f"column_{i + 1}" for i, c in enumerate(fields)]
    unique_names(columns, name)
    return columns
