"""The headline figures and the monthly series: the focus's market as integer arrays.

Both read the same selection of the edge panel (:class:`_Market`: outside referrers
into the focus's specialties, or into the focus itself), which :func:`build_report`
computes once for the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes, _memo
from referral_graph.exceptions import ParameterError
from referral_graph.leakage import SEGMENTS


@dataclass(frozen=True)
class _Market:
    """Panel rows from outside referrers into the focus's specialties (or the focus itself).

    Arrays aligned by row: ``source`` (codes into ``referrers``), ``month`` (month
    numbers of :mod:`referral_graph.strength`), ``referrals`` and ``to_focus``;
    ``first`` is the panel's first month (of every row, in the market or not).
    """

    referrers: pd.Index
    source: npt.NDArray[np.intp]
    month: npt.NDArray[np.int64]
    referrals: npt.NDArray[np.int64]
    to_focus: npt.NDArray[np.bool_]
    first: int


def _focus_market(
    panel: pd.DataFrame, providers: pd.DataFrame, focus_ids: Sequence[str]
) -> _Market:
    """The focus's market as integer arrays.

    Ids are tested by membership (hash lookups) and referrers factorised once, so
    millions of panel rows cost about a second.
    """
    focus = pd.Index(list(focus_ids), dtype="str").unique()
    # Each id column factorised once (fast on Arrow strings); the tests run on the distinct ids.
    source, referrers = _memo.factorize(panel["source"])
    target, receivers = _memo.factorize(panel["target"])
    referrers = pd.Index(referrers, dtype="str")
    receivers = pd.Index(receivers, dtype="str")
    to_focus = (focus.get_indexer(receivers) >= 0)[target]
    keep = (focus.get_indexer(referrers) < 0)[source]
    if "specialty" in providers:
        table = providers.drop_duplicates("id").set_index("id")["specialty"]
        focus_specs = table.reindex(focus).dropna().unique()
        market_ids = pd.Index(table.index[table.isin(focus_specs).to_numpy()], dtype="str")
        keep &= (market_ids.get_indexer(receivers) >= 0)[target] | to_focus
    month = _codes.month_numbers(panel["month"])
    return _Market(
        referrers=referrers,
        source=source[keep],
        month=month[keep],
        referrals=panel["referrals"].to_numpy(dtype=np.int64)[keep],
        to_focus=to_focus[keep],
        first=int(month.min()) if len(month) else 0,
    )


def headline_figures(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Sequence[str],
    *,
    window: int = 3,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Headline figures for the last `window` months, the months before, and a year earlier.

    Parameters
    ----------
    panel : pandas.DataFrame
        Edge panel.
    providers : pandas.DataFrame
        Providers (``id``; ``specialty`` defines the focus's market).
    focus_ids : sequence of str
        The focus organisation's providers.
    window : int, default 3
        Months per period.
    as_of : Timestamp, optional
        First month after the current period; default: the month after the
        panel's last month.

    Returns
    -------
    pandas.DataFrame
        ``measure``, ``current``, ``previous``, ``year_ago`` (NaN when the
        data does not reach back), ``unit`` ("count" or "share").

    Examples
    --------
    >>> panel = pd.DataFrame({"source": ["A", "A", "B"], "target": ["F", "F", "R"],
    ...                       "month": pd.to_datetime(["2024-01-01", "2024-04-01", "2024-04-01"]),
    ...                       "referrals": [12, 20, 30]})
    >>> providers = pd.DataFrame({"id": ["A", "B", "F", "R"],
    ...                           "specialty": ["FM", "FM", "Cardiology", "Cardiology"]})
    >>> h = headline_figures(panel, providers, ["F"], window=2)
    >>> h.set_index("measure").loc["Referrals received", ["current", "previous"]].tolist()
    [20.0, 12.0]
    """
    _check_window(window)
    return _headline(_focus_market(panel, providers, focus_ids), window=window, as_of=as_of)


def _check_window(window: int) -> None:
    if window < 1:
        raise ParameterError(f"The 'window' parameter must be an int >= 1. Got {window!r}.")


def _headline(market: _Market, *, window: int, as_of: pd.Timestamp | None) -> pd.DataFrame:
    month = market.month
    if as_of is not None:
        end = int(_codes.month_numbers(pd.Series([pd.Timestamp(as_of)]))[0])
    else:
        end = int(month.max()) + 1 if len(month) else market.first + 1
    first = market.first

    def referrers(rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Which referrers (by code) have a row among `rows`."""
        return np.bincount(market.source[rows], minlength=len(market.referrers)) > 0

    def period(start: int, stop: int) -> dict[str, float]:
        if start < first:
            return dict.fromkeys(_MEASURES, float("nan"))
        rows = (month >= start) & (month < stop)
        before = (month >= start - 12) & (month < start)
        to_focus = rows & market.to_focus
        received = float(market.referrals[to_focus].sum())
        total = float(market.referrals[rows].sum())
        active = referrers(to_focus)
        earlier = referrers(before & market.to_focus)
        enough_history = start - 12 >= first
        return {
            "Referrals received": received,
            "Active referring providers": float(active.sum()),
            "Share of wallet": received / total if total else math.nan,
            "Leakage to competitors": total - received,
            "New referrers": float((active & ~earlier).sum()) if enough_history else math.nan,
            "Lost referrers": float((earlier & ~active).sum()) if enough_history else math.nan,
        }

    starts = {"current": end - window, "previous": end - 2 * window, "year_ago": end - window - 12}
    figures = {col: period(start, start + window) for col, start in starts.items()}
    out = pd.DataFrame(
        {
            "measure": list(_MEASURES),
            **{col: [figures[col][m] for m in _MEASURES] for col in starts},
            "unit": [_MEASURES[m] for m in _MEASURES],
        }
    )
    # the months each column sums (privacy.SUMMED: a month hidden in monthly_trend alone in
    # its period would be the period's figure minus the months shown)
    out.attrs["periods"] = {
        col: list(pd.DatetimeIndex(_codes.month_dates(np.arange(start, start + window), end=False)))
        for col, start in starts.items()
        if start >= first
    }
    return out


def _recent_to_focus(market: _Market, *, window: int) -> pd.Series:
    """Referrals to the focus of each outside referrer in the last `window` months of the
    market (the headline's current period), indexed by referrer id; referrers without
    any are left out."""
    month = market.month
    end = int(month.max()) + 1 if len(month) else market.first + 1
    rows = market.to_focus & (month >= end - window)
    sums = np.bincount(
        market.source[rows], weights=market.referrals[rows], minlength=len(market.referrers)
    )
    recent = pd.Series(sums.round().astype(np.int64), index=market.referrers, name="recent")
    return recent[recent > 0]


_MEASURES = {
    "Referrals received": "count",
    "Active referring providers": "count",
    "Share of wallet": "share",
    "Leakage to competitors": "count",
    "New referrers": "count",
    "Lost referrers": "count",
}


def monthly_series(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Sequence[str],
    *,
    segments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Monthly referrals in the focus's market: to the focus, to competitors, and by segment.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``to_focus``, ``to_competitors`` and, with `segments`
        (``source``, ``segment``), ``to_focus_<segment>`` per segment.
    """
    return _monthly(_focus_market(panel, providers, focus_ids), segments=segments)


def _monthly(market: _Market, *, segments: pd.DataFrame | None) -> pd.DataFrame:
    if not len(market.month):
        empty = {"month": pd.Series(dtype="datetime64[ns]")}
        return pd.DataFrame({**empty, "to_focus": [], "to_competitors": []}).astype(
            {"to_focus": "int64", "to_competitors": "int64"}
        )
    first, last = int(market.month.min()), int(market.month.max())
    n = last - first + 1
    month = market.month - first

    def per_month(rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        # integer sums: bincount's float weights are exact below 2**53 referrals a month
        sums = np.bincount(month[rows], weights=market.referrals[rows], minlength=n)
        return np.rint(sums).astype(np.int64)

    out = pd.DataFrame(
        {
            "to_focus": per_month(market.to_focus),
            "to_competitors": per_month(~market.to_focus),
        },
        index=pd.DatetimeIndex(
            _codes.month_dates(np.arange(first, last + 1), end=False), name="month"
        ),
    )
    if segments is not None and len(segments):
        seg = segments.drop_duplicates("source").set_index("source")["segment"]
        # each referrer's segment (1 + its place in SEGMENTS, 0 for none), by its code in the
        # market (-1: none, the last slot): one look-up per row, not an isin per segment
        position = pd.Index(seg.index, dtype="str").get_indexer(market.referrers)
        labels = np.asarray(seg.to_numpy(dtype=object))
        segment_of = np.zeros(len(labels) + 1, dtype=np.int8)
        for i, name in enumerate(SEGMENTS, start=1):
            segment_of[:-1][labels == name] = i
        of_row = segment_of[position][market.source]  # int8 per row
        for i, name in enumerate(SEGMENTS, start=1):
            rows = market.to_focus & (of_row == i)
            if rows.any():
                out[f"to_focus_{name}"] = per_month(rows)
    out = out.reset_index()
    out["month"] = out["month"].astype("datetime64[ns]")
    return out
