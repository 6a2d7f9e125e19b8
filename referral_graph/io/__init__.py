"""Readers and writers: referral events, aggregated edges and providers.

Every reader takes a CSV path (optionally ``.gz`` / ``.bz2`` / ``.zst``), a
Parquet path or a pandas DataFrame, maps the input's columns to the
toolkit's names (common aliases are recognised; anything else can be mapped
with keyword arguments), validates every row in one pass
(:mod:`referral_graph.validate`) and returns a clean table with canonical
columns (see ``docs/data-formats.md``). The
:class:`~referral_graph.validate.ValidationReport` is in
``table.attrs["report"]``. Input files are never modified.

CSV files are read as text (no type guessing: ids keep their leading zeros
and letters), with the encoding (UTF-8, with or without BOM, falling back to
cp1252), the delimiter (``,``, ``;``, tab, ``|``) and the presence of a
header detected, each noted in the report.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"referring_npi": ["1234567893"], "receiving_npi": ["1003033051"],
...                     "referral_date": ["2024-03-05"]})
>>> events = read_events(raw)
>>> events.columns.tolist()
['source', 'target', 'date']
>>> events.attrs["report"].rows_excluded
0
"""


# The work is split by job in private modules: _files (reading and writing files:
# encodings, delimiters, atomic writes), _columns (the aliases and their resolution),
# _clean (ids, dates, repeated rows) and one module per reader (_events, _edges,
# _providers, _activities). Everything public is imported from here; so are the
# underscore names referral_graph.scale reads event files' headers with, as read_table does.

from __future__ import annotations

# isort: off
# In the order of the API reference (mkdocstrings lists members in the order of these imports).
from referral_graph.io._files import RawTable, read_table
from referral_graph.io._events import read_events
from referral_graph.io._edges import EDGE_LAYOUTS, read_edges
from referral_graph.io._activities import read_activities
from referral_graph.io._providers import providers_layout, read_providers
from referral_graph.io._files import atomic_path, write_table

# isort: on
from referral_graph.io._columns import ACTIVITY_ALIASES as ACTIVITY_ALIASES
from referral_graph.io._columns import EDGE_ALIASES as EDGE_ALIASES
from referral_graph.io._columns import EVENT_ALIASES as EVENT_ALIASES
from referral_graph.io._columns import PROVIDER_ALIASES as PROVIDER_ALIASES
from referral_graph.io._files import NULL_VALUES as NULL_VALUES
from referral_graph.io._files import NpiMode as NpiMode
from referral_graph.io._files import PathOrFrame as PathOrFrame

__all__ = [
    "EDGE_LAYOUTS",
    "RawTable",
    "atomic_path",
    "providers_layout",
    "read_activities",
    "read_edges",
    "read_events",
    "read_providers",
    "read_table",
    "write_table",
]
