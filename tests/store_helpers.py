"""Helpers of the referral store's tests (test_store, test_store_export, test_spark_layout)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd


def split_in_three(events: pd.DataFrame, folder: Path) -> list[Path]:
    """Three extracts of `events`: months 1-10, 9-18 (two months overlap) and 19 on."""
    months = pd.to_datetime(events["date"]).dt.to_period("M")
    ms = sorted(months.unique())
    parts = [
        events[months <= ms[9]],
        events[(months >= ms[8]) & (months <= ms[17])],
        events[months >= ms[18]],
    ]
    paths = []
    for i, part in enumerate(parts):
        paths.append(folder / f"extract_{i}.csv")
        part.to_csv(paths[-1], index=False)
    return paths


def stored_events(store: Path) -> pd.DataFrame:
    """The stored events by provider id (codes differ between stores), in one order."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        frame: pd.DataFrame = con.execute(
            "SELECT i.id AS source, j.id AS target, e.date, e.patient, e.amount, "
            "e.service_line, e.payer, e.copies FROM rg_events e JOIN rg_ids i ON i.code = e.s "
            "JOIN rg_ids j ON j.code = e.t ORDER BY ALL"
        ).df()
        return frame
    finally:
        con.close()
