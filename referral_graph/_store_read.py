"""Reading a referral store's tables: the SQL of the panel, ties and patient panels by
provider id, and the validation report of its loads (for :mod:`referral_graph.store`)."""

from __future__ import annotations

import json
from typing import Any

from referral_graph.validate import ValidationReport

__all__ = ["loads_report", "tables_sql"]


def tables_sql(
    *, has_patients: bool, has_amount: bool, month: str, timestamp: str
) -> dict[str, str]:
    """The SELECTs of the store's panel, ties and (with patients) patient panels, by provider
    id and in the files engine's order; months cast to `month`, dates to `timestamp`."""
    roles = (["patients"] if has_patients else []) + (["amount"] if has_amount else [])
    panel_cols = ["i.id AS source", "j.id AS target", f"CAST(p.month AS {month}) AS month"]
    panel_cols += ["p.referrals"] + [f"p.{c}" for c in roles]
    panel_cols += [
        "CAST(day(p.d0) AS TINYINT) AS first_day",
        "CAST(day(p.d1) AS TINYINT) AS last_day",
    ]
    tie_cols = ["i.id AS source", "j.id AS target", "x.referrals"]
    tie_cols += [f"x.{c}" for c in roles]
    tie_cols += [
        f"CAST(x.first_date AS {timestamp}) AS first_date",
        f"CAST(x.last_date AS {timestamp}) AS last_date",
        "x.active_months",
    ]
    joins = "JOIN rg_ids i ON i.code = {0}.s JOIN rg_ids j ON j.code = {0}.t"
    sql = {
        "panel": f"SELECT {', '.join(panel_cols)} FROM rg_panel p {joins.format('p')} "
        "ORDER BY i.id, j.id, p.month",
        "ties": f"SELECT {', '.join(tie_cols)} FROM rg_ties x {joins.format('x')} "
        "ORDER BY i.id, j.id",
    }
    if has_patients:
        sql["patients"] = (
            "SELECT i.id AS id, CAST(p.patients AS BIGINT) AS patients FROM rg_patients "
            "p JOIN rg_ids i ON i.code = p.code ORDER BY i.id"
        )
    return sql


def loads_report(con: Any, *, name: str) -> ValidationReport:
    """The store's loads' validation in one report: rows read and excluded, by reason."""
    report = ValidationReport(name=name, log=False)
    loads = con.execute("SELECT rows_read, excluded FROM rg_loads").fetchall()
    report.rows_read = int(sum(r[0] for r in loads))
    totals: dict[str, int] = {}
    for _, excluded in loads:
        for reason, n in json.loads(excluded).items():
            totals[reason] = totals.get(reason, 0) + int(n)
    for reason, n in totals.items():
        report.add(
            reason,
            f"{n:,} row(s) excluded by the store's loads ({reason.replace('_', ' ')}); "
            "each load's report says which rows ('referral-graph store info')",
            count=n,
            excluded=True,
            level="warning",
        )
    return report
