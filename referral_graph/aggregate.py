"""Aggregation: referral events -> monthly edge panel and tie table.

This is the heavy step (millions of event rows); everything after it works
on its output, which is orders of magnitude smaller. Two engines give the
same results (tested):

* ``"duckdb"``: DuckDB in-process (no server), multi-threaded; the default
  for anything but small frames.
* ``"pandas"``: plain pandas group-bys, for small in-memory frames.

Patient codes (``patient_key``, see :func:`referral_graph.privacy.pseudonymize`)
are used only to count distinct patients and do not appear in any output.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({"source": ["A", "A", "A", "B"], "target": ["C", "C", "C", "C"],
...                        "date": pd.to_datetime(["2024-01-03", "2024-01-20", "2024-03-01",
...                                                "2024-01-09"]),
...                        "patient_key": [0, 0, 1, 2]})
>>> panel = edge_panel(events)
>>> panel["month"].dt.strftime("%Y-%m").tolist(), panel["referrals"].tolist()
(['2024-01', '2024-03', '2024-01'], [2, 1, 1])
>>> panel[["source", "patients"]].values.tolist()
[['A', 1], ['A', 1], ['B', 1]]
>>> tie_table(events)[["source", "referrals", "patients", "active_months"]].values.tolist()
[['A', 3, 2, 2], ['B', 1, 1, 1]]
"""

from __future__ import annotations

import logging
from typing import Literal

import pandas as pd

from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError

__all__ = ["edge_panel", "resolve_engine", "tie_table"]

logger = logging.getLogger(__name__)

Engine = Literal["auto", "duckdb", "pandas"]

#: Below this many events, ``engine="auto"`` uses pandas.
SMALL_FRAME_ROWS = 200_000


def resolve_engine(events: pd.DataFrame, engine: str) -> str:
    """Return the engine to use for `events` ("duckdb" or "pandas").

    Examples
    --------
    >>> resolve_engine(pd.DataFrame({"source": []}), "auto")
    'pandas'
    """
    if engine not in ("auto", "duckdb", "pandas"):
        raise ParameterError(
            "The 'engine' parameter must be one of 'auto', 'duckdb', 'pandas'. "
            f"Got {engine!r} instead."
        )
    if engine == "auto":
        return "pandas" if len(events) < SMALL_FRAME_ROWS else "duckdb"
    return engine


def _check_events(events: pd.DataFrame, *, need_dates: bool) -> None:
    missing = [c for c in ("source", "target") if c not in events.columns]
    if missing:
        raise SchemaError(
            f"The events table lacks column(s) {', '.join(missing)}; read it with "
            "referral_graph.io.read_events first."
        )
    if "patient_id" in events.columns:
        raise SchemaError(
            "The events table still holds raw patient ids ('patient_id'); read it with "
            "referral_graph.io.read_events, which replaces them by a pseudonymous code."
        )
    if need_dates and "date" not in events.columns:
        raise InsufficientDataError(
            "The events have no dates, so there is no monthly panel (and nothing that needs "
            "time can be computed). Give a date column (CLI: --date-col)."
        )


def _sort(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def _duckdb_connection() -> object:
    import os

    import duckdb

    con = duckdb.connect(database=":memory:")
    con.execute(f"SET threads TO {max(1, os.cpu_count() or 1)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def _to_arrow(events: pd.DataFrame, columns: list[str]) -> object:
    import pyarrow as pa

    selected = events[columns]  # a new frame: clearing its attrs leaves the caller's alone
    selected.attrs = {}  # a ValidationReport in attrs cannot go into Arrow metadata
    return pa.Table.from_pandas(selected, preserve_index=False)


def edge_panel(events: pd.DataFrame, *, engine: Engine = "auto") -> pd.DataFrame:
    """Aggregate events to one row per (source, target, month).

    Parameters
    ----------
    events : pandas.DataFrame
        From :func:`referral_graph.io.read_events`: ``source``, ``target``,
        ``date`` and optionally ``patient_key``, ``amount``.
    engine : {"auto", "duckdb", "pandas"}
        ``"auto"`` uses pandas below 200,000 rows, DuckDB above.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target`` (str), ``month`` (datetime64[ns], first day),
        ``referrals`` (int64), ``patients`` (int64; distinct patients in that
        month, when the events have patient codes), ``amount`` (float64, when
        the events have amounts; missing when every amount is missing),
        sorted by source, target, month.

    Raises
    ------
    InsufficientDataError
        If the events have no dates.

    Notes
    -----
    Events without a date (possible only in tables not made by
    :func:`~referral_graph.io.read_events`, which excludes them) belong to no
    month: both engines leave them out and log how many.

    See Also
    --------
    tie_table : one row per tie over the whole period.
    """
    _check_events(events, need_dates=True)
    undated = events["date"].isna()
    if undated.any():
        logger.warning(
            "%s events have no date and are left out of the monthly panel",
            f"{int(undated.sum()):,}",
        )
        events = events.loc[~undated.to_numpy()]
    engine_used = resolve_engine(events, engine)
    has_patients = "patient_key" in events.columns
    has_amount = "amount" in events.columns
    if engine_used == "duckdb":
        cols = ["source", "target", "date"] + (["patient_key"] if has_patients else [])
        cols += ["amount"] if has_amount else []
        table = _to_arrow(events, cols)
        select = [
            "source",
            "target",
            "CAST(date_trunc('month', date) AS TIMESTAMP) AS month",
            "count(*) AS referrals",
        ]
        if has_patients:
            select.append("count(DISTINCT patient_key) FILTER (WHERE patient_key >= 0) AS patients")
        if has_amount:
            select.append("sum(amount) AS amount")
        con = _duckdb_connection()
        con.register("events", table)  # type: ignore[attr-defined]
        panel = con.execute(  # type: ignore[attr-defined]
            f"SELECT {', '.join(select)} FROM events GROUP BY ALL"
        ).df()
        con.close()  # type: ignore[attr-defined]
    else:
        frame = events.assign(month=events["date"].dt.to_period("M").dt.to_timestamp())
        keys = ["source", "target", "month"]
        grouped = frame.groupby(keys, sort=False, observed=True)
        panel = grouped.size().rename("referrals").reset_index()
        if has_patients:
            known = frame.loc[frame["patient_key"] >= 0, [*keys, "patient_key"]]
            patients = known.drop_duplicates().groupby(keys, sort=False).size().rename("patients")
            panel = panel.merge(patients.reset_index(), on=keys, how="left")
        if has_amount:
            amount = grouped["amount"].sum(min_count=1).rename("amount")
            panel = panel.merge(amount.reset_index(), on=keys, how="left")
    panel = _normalise(panel, has_patients=has_patients, has_amount=has_amount)
    panel["month"] = panel["month"].astype("datetime64[ns]")
    panel = _sort(panel, ["source", "target", "month"])
    logger.info(
        "Aggregated %s events into %s tie-months (%s ties) with %s",
        f"{len(events):,}",
        f"{len(panel):,}",
        f"{len(panel.drop_duplicates(['source', 'target'])):,}",
        engine_used,
    )
    return panel


def _normalise(frame: pd.DataFrame, *, has_patients: bool, has_amount: bool) -> pd.DataFrame:
    frame["source"] = frame["source"].astype("str")
    frame["target"] = frame["target"].astype("str")
    frame["referrals"] = frame["referrals"].astype("int64")
    if has_patients:
        frame["patients"] = frame["patients"].fillna(0).astype("int64")
    if has_amount:
        frame["amount"] = frame["amount"].astype("float64")
    return frame


def tie_table(events: pd.DataFrame, *, engine: Engine = "auto") -> pd.DataFrame:
    """Aggregate events to one row per (source, target) over the whole period.

    Parameters
    ----------
    events : pandas.DataFrame
        From :func:`referral_graph.io.read_events`; dates are optional.
    engine : {"auto", "duckdb", "pandas"}
        As in :func:`edge_panel`.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target``, ``referrals`` (int64); ``patients`` (int64,
        distinct patients over the period, not a sum of monthly counts) when
        the events have patient codes; ``amount`` when they have amounts;
        ``first_date``, ``last_date`` (datetime64[ns]) and ``active_months``
        (int64, months with at least one referral) when they have dates.
        Sorted by source, target.

    Examples
    --------
    >>> ev = pd.DataFrame({"source": ["A", "A"], "target": ["B", "B"]})
    >>> tie_table(ev).to_dict("records")
    [{'source': 'A', 'target': 'B', 'referrals': 2}]
    """
    _check_events(events, need_dates=False)
    engine_used = resolve_engine(events, engine)
    has_patients = "patient_key" in events.columns
    has_amount = "amount" in events.columns
    has_dates = "date" in events.columns
    if engine_used == "duckdb":
        cols = ["source", "target"] + (["date"] if has_dates else [])
        cols += (["patient_key"] if has_patients else []) + (["amount"] if has_amount else [])
        select = ["source", "target", "count(*) AS referrals"]
        if has_patients:
            select.append("count(DISTINCT patient_key) FILTER (WHERE patient_key >= 0) AS patients")
        if has_amount:
            select.append("sum(amount) AS amount")
        if has_dates:
            select += [
                "CAST(min(date) AS TIMESTAMP_NS) AS first_date",
                "CAST(max(date) AS TIMESTAMP_NS) AS last_date",
                "count(DISTINCT date_trunc('month', date)) AS active_months",
            ]
        con = _duckdb_connection()
        con.register("events", _to_arrow(events, cols))  # type: ignore[attr-defined]
        ties = con.execute(  # type: ignore[attr-defined]
            f"SELECT {', '.join(select)} FROM events GROUP BY ALL"
        ).df()
        con.close()  # type: ignore[attr-defined]
    else:
        keys = ["source", "target"]
        grouped = events.groupby(keys, sort=False, observed=True)
        ties = grouped.size().rename("referrals").reset_index()
        if has_patients:
            known = events.loc[events["patient_key"] >= 0, [*keys, "patient_key"]]
            patients = known.drop_duplicates().groupby(keys, sort=False).size().rename("patients")
            ties = ties.merge(patients.reset_index(), on=keys, how="left")
        if has_amount:
            ties = ties.merge(grouped["amount"].sum(min_count=1).reset_index(), on=keys, how="left")
        if has_dates:
            dates = grouped["date"].agg(["min", "max"]).reset_index()
            dates.columns = [*keys, "first_date", "last_date"]
            months = events["date"].dt.to_period("M")
            active = (
                pd.DataFrame({"source": events["source"], "target": events["target"], "m": months})
                .dropna(subset=["m"])  # as DuckDB's count(DISTINCT ...): no month, no count
                .drop_duplicates()
                .groupby(keys, sort=False)
                .size()
                .rename("active_months")
                .reset_index()
            )
            ties = ties.merge(dates, on=keys, how="left").merge(active, on=keys, how="left")
    ties = _normalise(ties, has_patients=has_patients, has_amount=has_amount)
    if has_dates:
        for c in ("first_date", "last_date"):
            ties[c] = ties[c].astype("datetime64[ns]")
        ties["active_months"] = ties["active_months"].fillna(0).astype("int64")
    ties = _sort(ties, ["source", "target"])
    logger.info(
        "Aggregated %s events into %s ties with %s",
        f"{len(events):,}",
        f"{len(ties):,}",
        engine_used,
    )
    return ties


def period_of(events: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Return the first and last event dates, or None without dates.

    Examples
    --------
    >>> period_of(pd.DataFrame({"date": pd.to_datetime(["2024-02-01", "2024-01-05"])}))
    (Timestamp('2024-01-05 00:00:00'), Timestamp('2024-02-01 00:00:00'))
    """
    if "date" not in events.columns or events["date"].isna().all():
        return None
    return pd.Timestamp(events["date"].min()), pd.Timestamp(events["date"].max())
