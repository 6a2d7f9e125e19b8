"""What the report shows: the :class:`Report` that :func:`build_report` fills and the page draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from referral_graph.store import ReportRecord


@dataclass
class Report:
    """Everything the report shows.

    Attributes
    ----------
    title : str
        The page's title.
    focus : str
        The focus organisation's name (or its ids).
    focus_ids : list of str
        The focus organisation's provider ids.
    period : tuple of Timestamp, or None
        First and last dates of the data (None without dates).
    headline : pandas.DataFrame
        ``measure``, ``current``, ``previous``, ``year_ago``, ``unit``.
    tables : dict of str to DataFrame
        Every table (written as CSV).
    notes : dict of str to str
        Per section: why it is empty or what limits it.
    effect : object or None
        The :class:`referral_graph.outreach.OutreachEffect`, when computed.
    monthly : pandas.DataFrame or None
        Monthly series for the charts.
    views : dict of str to str
        View name -> file name relative to the report.
    capacity : int
        Visits a liaison can make (the outreach list's length).
    validation : list of str
        One line per input: rows read and excluded.
    record : ReportRecord or None
        What the report shows, as a referral store records it (None without dates).
    previous : ReportRecord or None
        The earlier report that the ``changes`` table compares with.
    profiles : dict of str to str
        Provider id -> its profile page, relative to the report (``profiles/ID.html``).
    margins : pandas.DataFrame or None
        :func:`referral_graph.churn.rule_margins` of the ``backtest`` table, computed
        beside it (the page then needs no churn import); None: the page computes it.
    """

    title: str
    focus: str
    focus_ids: list[str]
    period: tuple[pd.Timestamp, pd.Timestamp] | None
    headline: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    effect: Any = None
    monthly: pd.DataFrame | None = None
    views: dict[str, str] = field(default_factory=dict)
    capacity: int = 25
    validation: list[str] = field(default_factory=list)
    record: ReportRecord | None = None
    previous: ReportRecord | None = None
    profiles: dict[str, str] = field(default_factory=dict)
    margins: pd.DataFrame | None = None
