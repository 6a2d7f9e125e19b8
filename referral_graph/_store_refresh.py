"""Bringing a referral store's tables up to date after a load (:mod:`referral_graph.store`)."""

from __future__ import annotations

from typing import Any

__all__ = ["refresh"]


def refresh(con: Any) -> None:
    """Bring the panel, ties and patient panels up to date with ``rg_changes``.

    The months a load touched are summed again from the stored events; the ties it
    touched from the panel. Distinct patients are counted incrementally: the store
    keeps the set of (tie, patient) and (provider, patient) pairs, and a load adds
    to each count the pairs it brought that the set did not hold (an event with a
    patient id is always new to the store, so no pair is ever removed).
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_months AS "
        "SELECT DISTINCT date_trunc('month', date) AS m FROM rg_changes"
    )
    con.execute("DELETE FROM rg_panel WHERE month IN (SELECT m FROM rg_months)")
    con.execute(
        "INSERT INTO rg_panel SELECT s, t, date_trunc('month', date) AS month, "
        "CAST(sum(copies) AS BIGINT), count(DISTINCT patient), fsum(amount * copies), "
        "min(date), max(date) FROM rg_events "
        "WHERE date_trunc('month', date) IN (SELECT m FROM rg_months) GROUP BY ALL"
    )
    # the (tie, patient) and (provider, patient) pairs new to the store: the stored sets are
    # scanned once each against the load's few pairs (a semi join built on the load's side)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_tp AS SELECT DISTINCT s, t, patient FROM rg_changes "
        "WHERE patient IS NOT NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_tp_new AS SELECT * FROM rg_tp EXCEPT "
        "SELECT p.s, p.t, p.patient FROM rg_tie_patients p SEMI JOIN rg_tp n "
        "ON p.s = n.s AND p.t = n.t AND p.patient = n.patient"
    )
    con.execute("INSERT INTO rg_tie_patients SELECT s, t, patient FROM rg_tp_new")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_cp AS SELECT s AS c, patient FROM rg_tp_new "
        "UNION SELECT t, patient FROM rg_tp_new"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_cp_new AS SELECT * FROM rg_cp EXCEPT "
        "SELECT q.c, q.patient FROM rg_provider_patients q SEMI JOIN rg_cp x "
        "ON q.c = x.c AND q.patient = x.patient"
    )
    con.execute("INSERT INTO rg_provider_patients SELECT c, patient FROM rg_cp_new")
    # the ties touched: sums over their panel rows; their patients grow by their new pairs
    con.execute("CREATE OR REPLACE TEMP TABLE rg_touched AS SELECT DISTINCT s, t FROM rg_changes")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_tie_rows AS WITH p AS (SELECT p.s, p.t, "
        "CAST(sum(p.referrals) AS BIGINT) AS referrals, fsum(p.amount) AS amount, "
        "min(p.d0) AS d0, max(p.d1) AS d1, count(*) AS months FROM rg_panel p SEMI JOIN "
        "rg_touched x ON p.s = x.s AND p.t = x.t GROUP BY p.s, p.t), "
        "n AS (SELECT s, t, count(*) AS n FROM rg_tp_new GROUP BY s, t) "
        "SELECT p.s, p.t, p.referrals, coalesce(x.patients, 0) + coalesce(n.n, 0) AS patients, "
        "p.amount, p.d0, p.d1, p.months FROM p "
        "LEFT JOIN rg_ties x ON x.s = p.s AND x.t = p.t "
        "LEFT JOIN n ON n.s = p.s AND n.t = p.t"
    )
    con.execute("DELETE FROM rg_ties USING rg_touched x WHERE rg_ties.s = x.s AND rg_ties.t = x.t")
    con.execute("INSERT INTO rg_ties SELECT * FROM rg_tie_rows")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_cn AS SELECT c, count(*) AS n FROM rg_cp_new GROUP BY c"
    )
    con.execute(
        "UPDATE rg_patients SET patients = rg_patients.patients + x.n FROM rg_cn x "
        "WHERE rg_patients.code = x.c"
    )
    con.execute(
        "INSERT INTO rg_patients SELECT c, n FROM rg_cn WHERE c NOT IN "
        "(SELECT code FROM rg_patients)"
    )
    for table in (
        "rg_months", "rg_tp", "rg_tp_new", "rg_cp", "rg_cp_new", "rg_touched", "rg_tie_rows",
        "rg_cn",
    ):  # fmt: skip
        con.execute(f"DROP TABLE IF EXISTS {table}")
