"""Privacy rules applied wherever data leaves the library.

Two rules, as in the CMS and CareSet public files:

* **Small-cell suppression.** A count of people or events from 1 to
  ``threshold - 1`` (default 1 to 10) is never shown or exported: it is
  replaced by a missing value in tables and by ``"<11"`` in text. Zero is
  not a small cell (it reveals no one) and is kept.
* **Patient identifiers never leave ingestion.** Readers replace patient ids
  with a per-load pseudonymous integer code (:func:`pseudonymize`) used only
  to count distinct patients; aggregation drops it.

Examples
--------
>>> import pandas as pd
>>> suppress(pd.Series([0, 3, 11, 250])).tolist()
[0, <NA>, 11, 250]
>>> format_count(7), format_count(11), format_count(1234)
('<11', '11', '1,234')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import SupportsFloat

import numpy as np
import pandas as pd

from referral_graph.exceptions import ParameterError

__all__ = [
    "COUNT_PATTERN",
    "DEFAULT_THRESHOLD",
    "DERIVED_FROM",
    "NOT_EXPORTED",
    "count_columns",
    "format_count",
    "is_count_name",
    "is_small_cell",
    "pseudonymize",
    "suppress",
    "suppress_counts",
    "suppress_frame",
]

#: Smallest count that may be shown; 1 .. DEFAULT_THRESHOLD - 1 are suppressed (CMS: 11).
DEFAULT_THRESHOLD = 11


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer) or threshold < 1:
        raise ParameterError(
            "The 'threshold' parameter must be an int >= 1 (1 disables suppression). "
            f"Got {threshold!r} instead."
        )
    return int(threshold)


def is_small_cell(value: float | None, *, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Return True if `value` is a count that must be hidden (0 < value < threshold).

    Examples
    --------
    >>> is_small_cell(10), is_small_cell(0), is_small_cell(11)
    (True, False, False)
    """
    threshold = _check_threshold(threshold)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return bool(0 < value < threshold)


def suppress(values: pd.Series, *, threshold: int = DEFAULT_THRESHOLD) -> pd.Series:
    """Return a copy of a count Series with small cells replaced by ``<NA>``.

    Parameters
    ----------
    values : pandas.Series
        Counts (numbers). Fractional values (such as rates) are compared as they are.
    threshold : int, default 11
        Smallest count that may be shown. ``1`` disables suppression.

    Returns
    -------
    pandas.Series
        Nullable (``Int64`` for integer input, ``Float64`` otherwise) with the same index.

    Examples
    --------
    >>> suppress(pd.Series([1, 10, 11]), threshold=11).tolist()
    [<NA>, <NA>, 11]
    """
    threshold = _check_threshold(threshold)
    numeric = pd.to_numeric(values)
    whole = pd.api.types.is_integer_dtype(numeric) or (
        pd.api.types.is_float_dtype(numeric)
        and bool(np.all(np.isnan(numeric) | (numeric % 1 == 0)))
    )
    out: pd.Series = numeric.astype("Int64" if whole else "Float64")
    mask = (out > 0) & (out < threshold)
    return out.mask(mask.fillna(False).astype(bool))


def suppress_frame(
    frame: pd.DataFrame, columns: Iterable[str], *, threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """Return a copy of `frame` with small cells suppressed in the count `columns`.

    Columns named but absent are ignored, so one list can serve several tables.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "b"], "referrals": [4, 40]})
    >>> suppress_frame(df, ["referrals", "patients"])["referrals"].tolist()
    [<NA>, 40]
    """
    out = frame.copy()
    for col in columns:
        if col in out.columns:
            out[col] = suppress(out[col], threshold=threshold)
    return out


def format_count(value: SupportsFloat | None, *, threshold: int = DEFAULT_THRESHOLD) -> str:
    """Format a count for display: ``"<11"`` for small cells, thousands separators otherwise.

    Missing values are shown as an en dash.

    Examples
    --------
    >>> format_count(3, threshold=5), format_count(None), format_count(12.0)
    ('<5', '–', '12')
    """
    threshold = _check_threshold(threshold)
    if value is None:
        return "–"
    number = float(value)
    if np.isnan(number):
        return "–"
    if 0 < number < threshold:
        return f"<{threshold}"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def pseudonymize(ids: pd.Series) -> pd.Series:
    """Replace identifiers by per-call integer codes (order of first appearance).

    The codes keep distinct counts exact but carry nothing of the original
    ids; the mapping is discarded, so two calls give unrelated codes for
    different inputs. Missing ids get ``-1``.

    Examples
    --------
    >>> pseudonymize(pd.Series(["P9", "P2", "P9", None])).tolist()
    [0, 1, 0, -1]
    """
    codes, _ = pd.factorize(ids, use_na_sentinel=True)
    return pd.Series(codes.astype(np.int64), index=ids.index, name="patient_key")


#: Column (and attribute) names that hold counts of referrals, patients, events or providers.
COUNT_PATTERN = re.compile(
    r"(referrals|patients|patient_count|bene_count|pair_count|same_day_count|transaction_count"
    r"|^to_focus|^to_competitors$|^total$|_total$|_strength$|^at_stake$|^expected_loss$"
    r"|^referrals_|_referrals$|^visits$|^events$|^activities$|^pre_|^post_|referrers$"
    r"|receivers$|^providers$|^count$|_count$|^n_|_degree$"
    # CMS's own headers: "Total2014", "Unique2014" (beneficiaries), "Same Day2014"
    r"|^unique$|^same_day$|^bene_|^pair_)"
)

#: Names that look like counts but are not (shares, scores, ranks, ratios, components).
_NOT_COUNTS = re.compile(
    r"(^share|_share$|share_|score|rank|ratio|component|_pct$|^strength$|_rate$|_amount$)"
)


def is_count_name(name: object) -> bool:
    """Whether a column or attribute name denotes a count (see :data:`COUNT_PATTERN`).

    Examples
    --------
    >>> is_count_name("patients"), is_count_name("share_of_wallet"), is_count_name("pagerank")
    (True, False, False)
    >>> is_count_name("Same Day2014"), is_count_name("Referrals"), is_count_name("year_2014")
    (True, True, False)
    """
    key = _name_key(name)
    return bool(COUNT_PATTERN.search(key)) and not _NOT_COUNTS.search(key)


def _name_key(name: object) -> str:
    """A header as matched by :func:`is_count_name`: lower case, ``_`` for spaces and
    hyphens, a trailing year and what follows it dropped (``"Same Day2014"`` -> ``same_day``).
    """
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lstrip("\ufeff").lower())
    return re.sub(r"_?(19|20)\d\d(?!\d).*$", "", key) or key


def count_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns of `frame` that hold counts and must be suppressed on export.

    Matched by name (:data:`COUNT_PATTERN`), minus shares, scores, ranks and
    ratios; boolean columns never count.

    Examples
    --------
    >>> count_columns(pd.DataFrame({"referrals": [1], "share": [0.5], "in_strength": [3.0],
    ...                             "pagerank": [0.1], "patients_shared": [4], "rank": [1]}))
    ['referrals', 'in_strength', 'patients_shared']
    """
    return [
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and is_count_name(c)
    ]


#: Columns computed from a count: masked on the rows where that count is a small cell
#: (a monotone transform such as ``volume = log(1 + r) / log(1 + r_max)`` gives the count back).
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "volume": ("referrals",),
    "patient_volume": ("patients",),
    "score": ("referrals", "patients"),
}

#: Per-month means of counts (a count divided by a window): not written to exported tables.
NOT_EXPORTED = ("trend_recent", "trend_prior")


def suppress_counts(frame: pd.DataFrame, *, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Return a copy of `frame` fit for export: every small cell hidden.

    * count columns (:func:`count_columns`): 1 to ``threshold - 1`` become missing;
    * columns derived from a count (:data:`DERIVED_FROM`: ``volume``, ``patient_volume``,
      ``score``) become missing on the rows where that count was hidden;
    * per-month means of counts (:data:`NOT_EXPORTED`) are left out;
    * a long table with a ``unit`` column hides small values on its ``"count"`` rows.

    Examples
    --------
    >>> suppress_counts(pd.DataFrame({"referrals": [3, 30], "share": [0.1, 0.9]})).values.tolist()
    [[<NA>, 0.1], [30, 0.9]]
    >>> t = pd.DataFrame({"referrals": [3, 30], "volume": [0.2, 0.6], "trend_recent": [1.0, 9.0]})
    >>> safe = suppress_counts(t)
    >>> safe.columns.tolist(), safe["referrals"].tolist(), safe["volume"].tolist()
    (['referrals', 'volume'], [<NA>, 30], [nan, 0.6])
    """
    threshold = _check_threshold(threshold)
    out = frame.drop(columns=[c for c in NOT_EXPORTED if c in frame.columns])
    small: dict[str, pd.Series] = {}
    for col in count_columns(out):
        values = pd.to_numeric(out[col], errors="coerce")
        small[col] = ((values > 0) & (values < threshold)).fillna(False).astype(bool)
    out = suppress_frame(out, list(small), threshold=threshold)
    for derived, sources in DERIVED_FROM.items():
        if derived in out.columns and pd.api.types.is_numeric_dtype(out[derived]):
            mask = pd.Series(False, index=out.index)
            for source in sources:
                if source in small:
                    mask |= small[source]
            out[derived] = out[derived].mask(mask)
    if "unit" in out.columns:
        rows = (out["unit"] == "count").to_numpy()
        for col in out.columns:
            if col != "unit" and pd.api.types.is_numeric_dtype(out[col]):
                values = pd.to_numeric(out[col], errors="coerce")
                tiny = rows & ((values > 0) & (values < threshold)).fillna(False).to_numpy()
                out[col] = out[col].mask(tiny)
    return out
