"""Reading a referral store's tables: the SQL of the panel, ties and patient panels by
provider id, and the validation report of its loads (for :mod:`referral_graph.store`)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from referral_graph import _codes, _memo
from referral_graph.validate import ValidationReport

__all__ = ["loads_report", "read_frame", "sorted_ids", "tables_sql"]


def tables_sql(
    *, has_patients: bool, has_amount: bool, month: str, timestamp: str, ranks: bool = False
) -> dict[str, str]:
    """The SELECTs of the store's panel, ties and (with patients) patient panels, by provider
    id and in the files engine's order; months cast to `month`, dates to `timestamp`.

    With `ranks`, the provider columns hold each id's rank in the sorted ids (an
    integer) instead of the id: the rows are sorted on integers, then
    :func:`read_frame` puts the ids in (a sort that carries the id strings along took
    twice as long on the 300,000-provider store's 19 million panel rows).
    """
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
    ids, cte = "rg_ids", ""
    if ranks:
        ids = "rg_ranks"
        cte = (
            "WITH rg_ranks AS (SELECT code, CAST(row_number() OVER (ORDER BY id) - 1 AS "
            "INTEGER) AS id FROM rg_ids) "
        )
    joins = f"JOIN {ids} i ON i.code = {{0}}.s JOIN {ids} j ON j.code = {{0}}.t"
    sql = {
        "panel": f"{cte}SELECT {', '.join(panel_cols)} FROM rg_panel p {joins.format('p')} "
        "ORDER BY i.id, j.id, p.month",
        "ties": f"{cte}SELECT {', '.join(tie_cols)} FROM rg_ties x {joins.format('x')} "
        "ORDER BY i.id, j.id",
    }
    if has_patients:
        sql["patients"] = (
            f"{cte}SELECT i.id AS id, CAST(p.patients AS BIGINT) AS patients FROM rg_patients "
            f"p JOIN {ids} i ON i.code = p.code ORDER BY i.id"
        )
    return sql


def sorted_ids(con: Any) -> pa.Array:
    """The store's provider ids, sorted (the ranks of :func:`tables_sql` index them)."""
    table = con.sql("SELECT id FROM rg_ids ORDER BY id").to_arrow_table()
    return table.column("id").combine_chunks()


def read_frame(con: Any, query: str, ids: pa.Array) -> pd.DataFrame:
    """A table of :func:`tables_sql` with ``ranks``, its ranks replaced by the `ids`
    (:func:`sorted_ids`), with the dtypes of the files engine's Parquet tables.

    What the steps would find by hashing the id columns again (their factorisations
    and runs of equal rows, :mod:`referral_graph._memo`) is kept from the ranks.
    """
    from referral_graph.engines._rules import output_frame

    table = con.sql(query).to_arrow_table()
    ranks: dict[str, npt.NDArray[np.int32]] = {}
    for name in ("source", "target", "id"):
        if name in table.column_names:
            ranks[name] = table.column(name).to_numpy()
            at = table.schema.get_field_index(name)
            table = table.set_column(at, name, ids.take(table.column(name)))
    frame = output_frame(table)
    _keep_hashing(frame, ranks, ids)
    return frame


def _keep_hashing(
    frame: pd.DataFrame, ranks: dict[str, npt.NDArray[np.int32]], ids: pa.Array
) -> None:
    """Keep the factorisation of each id column of `frame` and the runs of its first id
    column and of its first two, found from the ids' `ranks` (integers: hashed in a
    tenth of the time). The rows are sorted by the first id column (:func:`tables_sql`),
    so its codes are its runs' numbers: one array serves both.
    """
    if not ranks:
        return
    names = list(ranks)
    first = _changes(ranks[names[0]])
    _, run_of = _codes.keep_runs(first, frame[names[0]])
    for i, name in enumerate(names):
        column = frame[name]
        if not isinstance(column.dtype, pd.StringDtype):  # (the tables' ids are strings)
            continue
        if i == 0:  # sorted: its values appear in order, one run each
            codes, distinct = run_of, ranks[name][first]
        else:
            codes, distinct = pd.factorize(ranks[name])
        # the ids in order of appearance, made as the column was (its dtype from Arrow)
        distinct_ids = ids.take(pa.array(distinct, type=pa.int32()))
        uniques = column.dtype.__from_arrow__(distinct_ids)  # type: ignore[attr-defined]
        _memo.keep_factorized(column, codes, pd.Index(uniques))
    if len(names) > 1:
        _codes.keep_runs(first | _changes(ranks[names[1]]), frame[names[0]], frame[names[1]])


def _changes(values: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Whether each row starts a run of equal `values` (the first row does)."""
    change = np.empty(len(values), dtype=bool)
    change[:1] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    return change


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
