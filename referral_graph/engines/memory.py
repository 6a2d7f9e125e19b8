"""The in-memory engines, ``pandas`` and ``duckdb``: validated events (a DataFrame) -> tables.

The events come from :func:`referral_graph.io.read_events` (checked row by row,
patient ids already pseudonymous codes). ``"duckdb"`` runs DuckDB in-process on
an Arrow copy with the providers as order-preserving integer codes; ``"pandas"``
plain group-bys, for small frames; ``"spark"`` hands the frame to
:func:`referral_graph.engines.spark.aggregate_frame`. All give the same tables
(tested). Public as :mod:`referral_graph.aggregate`.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({"source": ["A", "A"], "target": ["B", "B"],
...                        "date": pd.to_datetime(["2024-01-05", "2024-02-05"])})
>>> edge_panel(events, engine="pandas")["referrals"].tolist()
[1, 1]
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from referral_graph._duckdb import duckdb_connect
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError

__all__ = [
    "SMALL_FRAME_ROWS",
    "aggregate_events",
    "edge_panel",
    "period_of",
    "provider_patients",
    "resolve_engine",
    "tie_table",
]

logger = logging.getLogger(__name__)

Engine = Literal["auto", "duckdb", "pandas", "spark"]

#: Below this many events, ``engine="auto"`` uses pandas.
SMALL_FRAME_ROWS = 200_000


def resolve_engine(events: pd.DataFrame, engine: str) -> str:
    """Return the engine to use for `events` ("duckdb", "pandas" or "spark").

    Examples
    --------
    >>> resolve_engine(pd.DataFrame({"source": []}), "auto")
    'pandas'
    """
    if engine not in ("auto", "duckdb", "pandas", "spark"):
        raise ParameterError(
            "The 'engine' parameter must be one of 'auto', 'duckdb', 'pandas', 'spark'. "
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

    return duckdb_connect(threads=max(1, os.cpu_count() or 1), preserve_insertion_order=False)


#: The encoding shared by the two queries of :func:`aggregate_events`: (events, table, ids).
_SHARED: contextvars.ContextVar[tuple[pd.DataFrame, Any, pd.Index] | None] = contextvars.ContextVar(
    "referral_graph_aggregate_shared", default=None
)


#: Inside :func:`aggregate_events`: the events and, once the panel is computed, its month
#: count per tie (codes ``s``, ``t``; ``active_months``), which the tie table then reuses.
_MONTHS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "referral_graph_aggregate_months", default=None
)


def _encoded(events: pd.DataFrame, columns: list[str]) -> tuple[object, pd.Index]:
    """An Arrow table with providers as order-preserving int32 codes (``s``, ``t``).

    Grouping two integer columns is several times faster than grouping two
    string columns; codes come from the sorted distinct ids, so ordering by
    code is ordering by id. Inside :func:`aggregate_events` the encoding of the
    same events is made once and shared.
    """
    import pyarrow as pa

    shared = _SHARED.get()
    if shared is not None and shared[0] is events and set(columns) <= set(shared[1].column_names):
        return shared[1].select(["s", "t", *columns]), shared[2]

    n = len(events)
    both = pd.concat([events["source"], events["target"]], ignore_index=True)
    codes, uniques = pd.factorize(both, sort=True)
    data: dict[str, object] = {
        "s": pa.array(codes[:n].astype(np.int32)),
        "t": pa.array(codes[n:].astype(np.int32)),
    }
    for c in columns:
        data[c] = pa.array(events[c].to_numpy(), from_pandas=True)  # NaN -> null
    return pa.table(data), pd.Index(uniques)


def _decode(frame: pd.DataFrame, uniques: pd.Index) -> pd.DataFrame:
    source = uniques.take(frame.pop("s").to_numpy())
    target = uniques.take(frame.pop("t").to_numpy())
    frame.insert(0, "source", pd.Series(source, index=frame.index, dtype="str"))
    frame.insert(1, "target", pd.Series(target, index=frame.index, dtype="str"))
    return frame


def _two_level(inner: list[str], outer: list[str]) -> str:
    return (
        f"WITH per_patient AS (SELECT {', '.join(inner)} FROM events GROUP BY ALL) "
        f"SELECT {', '.join(outer)} FROM per_patient"
    )


def _run_duckdb(table: object, select: str, order: str, *, grouped: bool) -> pd.DataFrame:
    con = _duckdb_connection()
    try:
        con.register("events", table)  # type: ignore[attr-defined]
        group = " GROUP BY ALL" if grouped else ""
        result: pd.DataFrame = con.execute(  # type: ignore[attr-defined]
            f"{select}{group} ORDER BY {order}"
        ).df()
    finally:
        con.close()  # type: ignore[attr-defined]
    return result


def aggregate_events(
    events: pd.DataFrame, *, engine: Engine = "auto"
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The tie table and, with dates, the edge panel of `events`, in one go.

    Equal to ``(tie_table(events), edge_panel(events))`` (None for the panel
    without dates); with DuckDB the providers are encoded once for both.

    Examples
    --------
    >>> ev = pd.DataFrame({"source": ["A", "A"], "target": ["B", "B"],
    ...                    "date": pd.to_datetime(["2024-01-05", "2024-02-05"])})
    >>> ties, panel = aggregate_events(ev)
    >>> int(ties["active_months"].iloc[0]), len(panel)
    (2, 2)
    """
    _check_events(events, need_dates=False)
    has_dates = "date" in events.columns
    token = None
    if resolve_engine(events, engine) == "duckdb":
        columns = [c for c in ("date", "patient_key", "amount") if c in events.columns]
        table, uniques = _encoded(events, columns)
        token = _SHARED.set((events, table, uniques))
    months_token = _MONTHS.set({"events": events})
    try:
        # The panel first: the tie table takes each tie's active months from it.
        panel = edge_panel(events, engine=engine) if has_dates else None
        ties = tie_table(events, engine=engine)
    finally:
        _MONTHS.reset(months_token)
        if token is not None:
            _SHARED.reset(token)
    return ties, panel


def provider_patients(events: pd.DataFrame) -> pd.Series:
    """Each provider's distinct patients, as referrer or receiver (its patient panel).

    The denominator of the patient-sharing degree per 100 patients (Landon et
    al. 2012). Needs the events' ``patient_key``; rows without a patient id
    do not count.

    Returns
    -------
    pandas.Series of int64
        Indexed by provider id, named ``patients``.

    Examples
    --------
    >>> ev = pd.DataFrame({"source": ["A", "A", "B"], "target": ["C", "C", "C"],
    ...                    "patient_key": [0, 1, 0]})
    >>> provider_patients(ev).to_dict()
    {'A': 2, 'B': 1, 'C': 2}
    """
    _check_events(events, need_dates=False)
    if "patient_key" not in events.columns:
        raise InsufficientDataError(
            "Counting each provider's patients needs patient ids (CLI: --patient-col)."
        )
    known = events.loc[events["patient_key"].to_numpy() >= 0]
    pairs = pd.DataFrame(
        {
            "id": pd.concat([known["source"], known["target"]], ignore_index=True),
            "patient": np.concatenate([known["patient_key"].to_numpy()] * 2),
        }
    ).drop_duplicates()
    counts = pairs.groupby("id", sort=True).size().astype("int64")
    counts.index = counts.index.astype("str")
    return counts.rename("patients")


def edge_panel(events: pd.DataFrame, *, engine: Engine = "auto") -> pd.DataFrame:
    """Aggregate events to one row per (source, target, month).

    Parameters
    ----------
    events : pandas.DataFrame
        From :func:`referral_graph.io.read_events`: ``source``, ``target``,
        ``date`` and optionally ``patient_key``, ``amount``.
    engine : {"auto", "duckdb", "pandas", "spark"}
        ``"auto"`` uses pandas below 200,000 rows, DuckDB above; ``"spark"``
        needs pyspark and Java (a local session is started and stopped).

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target`` (str), ``month`` (datetime64[ns], first day),
        ``referrals`` (int64), ``patients`` (int64; distinct patients in that
        month, when the events have patient codes), ``amount`` (float64, when
        the events have amounts; missing when every amount is missing),
        ``first_day`` and ``last_day`` (int8: the days of the month of the
        tie's first and last referral in it, so that the exact days since a
        tie's last referral are known at any month's end), sorted by source,
        target, month.

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
    months_slot = _MONTHS.get()
    if months_slot is not None and months_slot["events"] is not events:
        months_slot = None
    undated = events["date"].isna()
    if undated.any():
        logger.warning(
            "%s events have no date and are left out of the monthly panel",
            f"{int(undated.sum()):,}",
        )
        events = events.loc[~undated.to_numpy()]
    engine_used = resolve_engine(events, engine)
    if engine_used == "spark":
        from referral_graph.engines import spark as _spark

        return _spark.aggregate_frame(events, "panel")
    has_patients = "patient_key" in events.columns
    has_amount = "amount" in events.columns
    if engine_used == "duckdb":
        cols = ["date"] + (["patient_key"] if has_patients else [])
        cols += ["amount"] if has_amount else []
        table, uniques = _encoded(events, cols)
        # Distinct patients by a two-level group-by (per patient, then per tie-month):
        # faster in DuckDB than count(DISTINCT ...), and identical.
        inner = ["s", "t", "date_trunc('month', date) AS m"]
        outer = ["s", "t", "CAST(m AS TIMESTAMP) AS month"]
        day_sql = [
            "CAST(day(min(d0)) AS TINYINT) AS first_day",
            "CAST(day(max(d1)) AS TINYINT) AS last_day",
        ]
        if has_patients:
            inner += ["patient_key", "count(*) AS n"]
            outer += ["sum(n) AS referrals", "count(*) FILTER (WHERE patient_key >= 0) AS patients"]
        else:
            inner += ["count(*) AS n"]
            outer += ["sum(n) AS referrals"]
        if has_amount:
            inner.append("fsum(amount) AS amount")
            outer.append("fsum(amount) AS amount")
        inner += ["min(date) AS d0", "max(date) AS d1"]
        select = _two_level(inner, outer + day_sql)
        coded = _run_duckdb(table, select, "s, t, month", grouped=True)
        if months_slot is not None:  # a tie's months are its panel rows (undated: none)
            counts = coded.groupby(["s", "t"], sort=False).size()
            months_slot["months"] = counts.rename("active_months").reset_index()
        panel = _decode(coded, uniques)
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
        days = grouped["date"].agg(first_day="min", last_day="max").reset_index()
        days["first_day"] = days["first_day"].dt.day
        days["last_day"] = days["last_day"].dt.day
        panel = panel.merge(days, on=keys, how="left")
    panel = _normalise(panel, has_patients=has_patients, has_amount=has_amount)
    panel["first_day"] = panel["first_day"].astype("int8")
    panel["last_day"] = panel["last_day"].astype("int8")
    panel["month"] = panel["month"].astype("datetime64[ns]")
    if engine_used == "pandas":  # DuckDB already ordered by order-preserving codes
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
    engine : {"auto", "duckdb", "pandas", "spark"}
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
    if engine_used == "spark":
        from referral_graph.engines import spark as _spark

        return _spark.aggregate_frame(events, "ties")
    has_patients = "patient_key" in events.columns
    has_amount = "amount" in events.columns
    has_dates = "date" in events.columns
    if engine_used == "duckdb":
        cols = ["date"] if has_dates else []
        cols += (["patient_key"] if has_patients else []) + (["amount"] if has_amount else [])
        inner = ["s", "t"]
        outer = ["s", "t"]
        if has_patients:
            inner += ["patient_key", "count(*) AS n"]
            outer += ["sum(n) AS referrals", "count(*) FILTER (WHERE patient_key >= 0) AS patients"]
        else:
            inner += ["count(*) AS n"]
            outer += ["sum(n) AS referrals"]
        if has_amount:
            inner.append("fsum(amount) AS amount")
            outer.append("fsum(amount) AS amount")
        if has_dates:
            inner += ["min(date) AS d0", "max(date) AS d1"]
            outer += [
                "CAST(min(d0) AS TIMESTAMP_NS) AS first_date",
                "CAST(max(d1) AS TIMESTAMP_NS) AS last_date",
            ]
        select = _two_level(inner, outer)
        months_slot = _MONTHS.get()
        known_months = (
            months_slot.get("months")
            if months_slot is not None and months_slot["events"] is events
            else None
        )
        table, uniques = _encoded(events, cols)
        if has_dates and known_months is not None:  # the panel's month count per tie
            coded = _run_duckdb(table, select, "s, t", grouped=True)
            coded = coded.merge(known_months, on=["s", "t"], how="left")
            coded["active_months"] = coded["active_months"].fillna(0).astype("int64")
            ties = _decode(coded, uniques)
        else:
            if has_dates:
                months = (
                    "SELECT s, t, count(m) AS active_months FROM "  # count(m): undated: no month
                    "(SELECT DISTINCT s, t, date_trunc('month', date) AS m FROM events) "
                    "GROUP BY s, t"
                )
                select = (
                    f"SELECT x.*, m.active_months FROM ({select} GROUP BY ALL) x "
                    f"JOIN ({months}) m USING (s, t)"
                )
            ties = _decode(_run_duckdb(table, select, "s, t", grouped=not has_dates), uniques)
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
    if engine_used == "pandas":  # DuckDB already ordered by order-preserving codes
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
