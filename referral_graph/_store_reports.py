"""The reports' history of a referral store: what each report showed (:class:`ReportRecord`),
recorded in the store's ``rg_reports`` and ``rg_shown_*`` tables, for the next report's
"Since the last report" (:func:`referral_graph.report.what_changed`).

The functions take the store's DuckDB connection; :class:`referral_graph.store.ReferralStore`
calls them (``record_report``, ``last_report``, ``reports``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

__all__ = ["SCHEMA", "ReportRecord", "folds", "last", "listing", "record"]

#: The tables of the reports' history (created with the store's others).
SCHEMA = """
CREATE TABLE IF NOT EXISTS rg_reports (
    report_id INTEGER, made_at TIMESTAMP, loads_through INTEGER, data_end TIMESTAMP,
    focus VARCHAR, focus_ids VARCHAR, window_months INTEGER, capacity INTEGER,
    horizon INTEGER);
CREATE TABLE IF NOT EXISTS rg_shown_ties (
    report_id INTEGER, source VARCHAR, target VARCHAR, rank BIGINT, risk DOUBLE,
    flagged BOOLEAN, referrals BIGINT, reason VARCHAR);
CREATE TABLE IF NOT EXISTS rg_shown_referrers (
    report_id INTEGER, source VARCHAR, rank BIGINT, to_focus BIGINT, recent BIGINT);
CREATE TABLE IF NOT EXISTS rg_shown_outreach (
    report_id INTEGER, source VARCHAR, visit_order BIGINT);
CREATE TABLE IF NOT EXISTS rg_shown_prospects (report_id INTEGER, id VARCHAR, rank BIGINT);
CREATE TABLE IF NOT EXISTS rg_shown_headline (
    report_id INTEGER, measure VARCHAR, current DOUBLE, unit VARCHAR);
CREATE TABLE IF NOT EXISTS rg_backtest_folds (
    fingerprint VARCHAR PRIMARY KEY, figures VARCHAR, report_id INTEGER);
"""

#: The tables of a :class:`ReportRecord`'s frames.
#: (The frame's name: its table and the order of its rows.)
_SHOWN = {
    "ties": ("rg_shown_ties", "rank"),
    "referrers": ("rg_shown_referrers", "rank"),
    "outreach": ("rg_shown_outreach", "visit_order"),
    "prospects": ("rg_shown_prospects", "rank"),
    "headline": ("rg_shown_headline", "rowid"),
}


def _frame(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})


@dataclass
class ReportRecord:
    """What one report showed, as a referral store keeps it for the next report
    (:attr:`referral_graph.report.Report.record`; compared by
    :func:`referral_graph.report.what_changed`).

    Attributes
    ----------
    focus : str
        The focus organisation's name (or its ids), as the report named it.
    focus_ids : list of str
        The focus organisation's provider ids (a report compares itself only with
        a report on the same ids).
    data_end : Timestamp
        The last date of the report's data.
    window : int
        Months of the recent-volume window (the headline's).
    capacity, horizon : int
        The report's visit capacity and at-risk horizon.
    ties : pandas.DataFrame
        The at-risk table's ties: ``source``, ``target``, ``rank``, ``risk``,
        ``flagged``, ``referrals`` (the tie's referrals so far) and ``reason`` (the
        first of its reasons).
    referrers : pandas.DataFrame
        The key referrers (outside providers): ``source``, ``rank``, ``to_focus``
        (referrals to the focus so far) and ``recent`` (referrals to the focus in
        the last `window` months of data).
    outreach : pandas.DataFrame
        The outreach list: ``source``, ``visit_order``.
    prospects : pandas.DataFrame
        The prospects: ``id``, ``rank``.
    headline : pandas.DataFrame
        ``measure``, ``current``, ``unit``.
    made_at : Timestamp or None
        When the report was recorded (UTC; set by the store).
    loads_through : int or None
        The store's last load that changed its data when the report was made
        (:meth:`ReferralStore.loads_through`; set by the store).
    folds : dict of str to str
        The test cutoffs of the report's backtest, each one's fingerprint to its
        figures (the backtest's ``attrs["folds"]``): the store keeps those it has
        not got, for the next backtests to reuse
        (:meth:`ReferralStore.backtest_folds`).
    """

    focus: str
    focus_ids: list[str]
    data_end: pd.Timestamp
    window: int
    capacity: int
    horizon: int
    ties: pd.DataFrame = field(
        default_factory=lambda: _frame(
            {
                "source": "str",
                "target": "str",
                "rank": "int64",
                "risk": "float64",
                "flagged": "bool",
                "referrals": "int64",
                "reason": "str",
            }
        )
    )
    referrers: pd.DataFrame = field(
        default_factory=lambda: _frame(
            {"source": "str", "rank": "int64", "to_focus": "int64", "recent": "int64"}
        )
    )
    outreach: pd.DataFrame = field(
        default_factory=lambda: _frame({"source": "str", "visit_order": "int64"})
    )
    prospects: pd.DataFrame = field(default_factory=lambda: _frame({"id": "str", "rank": "int64"}))
    headline: pd.DataFrame = field(
        default_factory=lambda: _frame({"measure": "str", "current": "float64", "unit": "str"})
    )
    made_at: pd.Timestamp | None = None
    loads_through: int | None = None
    folds: dict[str, str] = field(default_factory=dict)


def record(con: Any, record: ReportRecord, *, loads_through: int, made_at: datetime) -> int:
    """Insert `record` in one transaction; returns its number."""
    con.execute("BEGIN TRANSACTION")
    try:
        found = con.execute("SELECT coalesce(max(report_id), 0) + 1 FROM rg_reports").fetchall()
        report_id = int(found[0][0])
        con.execute(
            "INSERT INTO rg_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                report_id,
                made_at.replace(tzinfo=None),
                loads_through,
                pd.Timestamp(record.data_end).to_pydatetime(),
                record.focus,
                json.dumps(sorted(record.focus_ids)),
                record.window,
                record.capacity,
                record.horizon,
            ],
        )
        for name, (table, _) in _SHOWN.items():
            columns = _columns(con, table)
            con.register("rg_shown", getattr(record, name)[columns])
            con.execute(
                f"INSERT INTO {table} SELECT {report_id}, {', '.join(columns)} FROM rg_shown"
            )
            con.unregister("rg_shown")
        if record.folds:
            con.executemany(
                "INSERT OR IGNORE INTO rg_backtest_folds VALUES (?, ?, ?)",
                [[key, text, report_id] for key, text in record.folds.items()],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report_id


def folds(con: Any) -> dict[str, str]:
    """The backtests' test cutoffs kept (see :meth:`ReferralStore.backtest_folds`)."""
    if not _has(con, "rg_backtest_folds"):
        return {}
    rows = con.execute("SELECT fingerprint, figures FROM rg_backtest_folds").fetchall()
    return {str(key): str(text) for key, text in rows}


def listing(con: Any) -> pd.DataFrame:
    """One row per recorded report (see :meth:`ReferralStore.reports`)."""
    if not _has(con, "rg_reports"):
        return pd.DataFrame(columns=["report_id", "made_at", "loads_through", "data_end"])
    table: pd.DataFrame = con.execute(
        "SELECT r.report_id, r.made_at, r.loads_through, r.data_end, r.focus, "
        "r.window_months, r.capacity, r.horizon, (SELECT count(*) FROM rg_shown_ties t "
        "WHERE t.report_id = r.report_id AND t.flagged) AS flagged FROM rg_reports r "
        "ORDER BY r.report_id"
    ).df()
    return table


def last(con: Any, *, focus_ids: Iterable[str], before: int) -> ReportRecord | None:
    """The last report on the focus `focus_ids` made before load `before` (None if none)."""
    if not _has(con, "rg_reports"):
        return None
    wanted = json.dumps(sorted(str(i) for i in focus_ids))
    found = con.execute(
        "SELECT report_id, made_at, loads_through, data_end, focus, focus_ids, "
        "window_months, capacity, horizon FROM rg_reports WHERE focus_ids = ? AND "
        "loads_through < ? ORDER BY report_id DESC LIMIT 1",
        [wanted, before],
    ).fetchall()
    if not found:
        return None
    rid, made_at, loads_through, data_end, focus, ids, window, capacity, horizon = found[0]
    frames = {
        name: con.execute(
            f"SELECT {', '.join(_columns(con, table))} FROM {table} WHERE report_id = ? "
            f"ORDER BY {order}",
            [rid],
        ).df()
        for name, (table, order) in _SHOWN.items()
    }
    return ReportRecord(
        focus=str(focus),
        focus_ids=list(json.loads(ids)),
        data_end=pd.Timestamp(data_end),
        window=int(window),
        capacity=int(capacity),
        horizon=int(horizon),
        made_at=pd.Timestamp(made_at),
        loads_through=int(loads_through),
        **frames,
    )


def _columns(con: Any, table: str) -> list[str]:
    """A history table's columns but its ``report_id``."""
    return [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall() if c[0] != "report_id"]


def _has(con: Any, table: str) -> bool:
    """Whether the store has `table` (a store made before the reports' history has not
    until it is opened for writing)."""
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table])
    return bool(found.fetchall()[0][0])
