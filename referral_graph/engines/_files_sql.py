"""The SQL of the ``files`` engine: its cleaning of text values, and its output tables
(panel, ties, patient panels, events).

:func:`_text` and :func:`_id_expr` clean a column's values as the in-memory reader
does. Each output function returns one statement over the engine's temporary tables (``rg_pm``:
the kept rows counted per tie, month and patient; ``rg_panel``; ``rg_ids``: the ids
and their codes), so that :mod:`referral_graph.engines.files` reads as the steps
of the engine and these as what each table holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from referral_graph.engines._rules import _ident

_WS = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)"


def _text(expr: str) -> str:
    """An id-like text value: stripped, blank as NULL.

    Most values need no stripping: a test of their first and last character is much
    cheaper than ``trim`` with a list of characters.
    """
    x = f"CAST({expr} AS VARCHAR)"
    # printable ASCII or Latin-1 below the no-break space (160) at both ends: nothing to
    # strip (other first or last characters take the exact path); each end read once
    edges = f"ascii({x}) BETWEEN 33 AND 159 AND ascii(right({x}, 1)) BETWEEN 33 AND 159"
    return f"CASE WHEN {edges} THEN {x} ELSE NULLIF(trim({x}, {_WS}), '') END"


#: What :func:`_text` strips (and SQL's ``trim`` with ``_WS``).
_STRIPPED = " \t\n\x0b\x0c\r\xa0"


def _needs_text(values: Iterable[str | None]) -> bool:
    """Whether :func:`_text` would change any of these values (strip one, or blank one)."""
    return any(v is not None and (not v or v[0] in _STRIPPED or v[-1] in _STRIPPED) for v in values)


def _id_expr(column: str, dtype: str, *, clean: bool = True) -> str:
    c = _ident(column)
    kind = dtype.upper()
    if not clean and kind == "VARCHAR":
        return c
    if kind in ("FLOAT", "DOUBLE") or kind.startswith("DECIMAL"):
        return (
            f"CASE WHEN {c} IS NULL OR isnan(CAST({c} AS DOUBLE)) THEN NULL "
            f"WHEN {c} = floor({c}) THEN CAST(CAST({c} AS HUGEINT) AS VARCHAR) "
            f"ELSE CAST({c} AS VARCHAR) END"
        )
    return _text(c)


def _listing_sql(select: str, keys: list[str], values: list[str], *, table: bool) -> str:
    """Pass 1's query over ``src`` (`select`): per distinct value of each of `keys`, then
    for all rows, the counts of `values` (the first the rows, the third the
    self-referrals, kept for the first key only), and GROUPING's code of the row's set.

    Over a file, one scan with grouping sets. Over a `table` (read again cheaply), one
    GROUP BY per key with only its own counts and one row of totals, together cheaper
    than grouping sets, which compute every count for every set.
    """
    if not table:
        # GROUPING(...) has a bit per key, set where the key is not in the row's grouping set.
        sets = ", ".join([f"({k})" for k in keys] + ["()"])
        return (
            f"WITH src AS ({select}) SELECT {', '.join(keys)}, {', '.join(values)}, "
            f"GROUPING({', '.join(keys)}) FROM src GROUP BY GROUPING SETS ({sets})"
        )
    full = (1 << len(keys)) - 1
    parts = []
    for i, name in enumerate(keys):
        kept = [k if k == name else "NULL" for k in keys]
        own = [values[0], "0", values[2] if i == 0 else "0", *["0"] * (len(values) - 3)]
        group = full ^ (1 << (len(keys) - 1 - i))  # as GROUPING gives it
        parts.append(f"SELECT {', '.join(kept + own)}, {group} FROM src GROUP BY {name}")
    parts.append(f"SELECT {', '.join(['NULL'] * len(keys) + values)}, {full} FROM src")
    return f"WITH src AS ({select}) {' UNION ALL '.join(parts)}"


def _patient_key_sql(column: str, secret: str) -> str:
    """SQL of the keyed hash of a patient id: 64 bits of SHA-256 of the secret and the id.

    Without the secret the id cannot be recovered, nor tested against a guess; with
    it, the same id always gives the same key, so distinct patients stay countable
    across files (two of 10 million patients share a key with probability about
    3e-6).

    Examples
    --------
    >>> import duckdb
    >>> duckdb.sql("SELECT " + _patient_key_sql("'p1'", "s3cret")).fetchall()[0][0] > 0
    True
    """
    quoted = "'" + secret.replace("'", "''") + "'"
    return (
        f"CAST(('0x' || left(sha256({quoted} || ':' || CAST({column} AS VARCHAR)), 16)) AS UBIGINT)"
    )


def _events_sql(kept: str, cols: Mapping[str, str], secret: str | None) -> str:
    """The validated events, one row per distinct event with its copies (``events_out``)."""
    has_patients = "patient_id" in cols
    key = "patient" if has_patients else "NULL::VARCHAR AS patient"
    others = [
        (k if k in cols else f"NULL::{'DOUBLE' if k == 'amount' else 'VARCHAR'} AS {k}")
        for k in ("amount", "service_line", "payer")
    ]
    date = "date" if "date" in cols else "NULL::TIMESTAMP AS date"
    patient = (
        _patient_key_sql("e.patient", secret)
        if has_patients and secret is not None
        else "NULL::UBIGINT"
    )
    return (
        f"WITH kept AS ({kept}), e AS (SELECT s, t, {date}, {key}, {', '.join(others)}, "
        "count(*) AS n FROM kept GROUP BY ALL) "
        f"SELECT i.id AS source, j.id AS target, CAST(e.date AS TIMESTAMP) AS date, "
        f"{patient} AS patient, e.amount, e.service_line, e.payer, "
        "CAST(CASE WHEN e.patient IS NULL THEN e.n ELSE 1 END AS INTEGER) AS copies "
        "FROM e JOIN rg_ids i ON i.code = e.s JOIN rg_ids j ON j.code = e.t"
    )


def _panel_select_sql(has_patients: bool, has_amount: bool) -> str:
    """One row per (s, t, month) of ``rg_pm``, with distinct patients and the month's dates."""
    values = ["CAST(sum(n) AS BIGINT) AS referrals", "min(d0) AS d0", "max(d1) AS d1"]
    if has_patients:
        values.append("count(*) FILTER (WHERE patient IS NOT NULL) AS patients")
    if has_amount:
        values.append("fsum(amount) AS amount")
    return f"SELECT s, t, m, {', '.join(values)} FROM rg_pm GROUP BY s, t, m"


def _panel_table_sql(has_patients: bool, has_amount: bool) -> str:
    """``rg_panel``: :func:`_panel_select_sql` as a table (the panel and the ties read it)."""
    return f"CREATE TEMP TABLE rg_panel AS {_panel_select_sql(has_patients, has_amount)}"


def _ends(row: str, codes: bool) -> tuple[list[str], str]:
    """The ``source`` and ``target`` columns of the rows named `row` (its ``s`` and ``t``),
    and the joins that give them: the ids, or the codes themselves with `codes` (turned
    into ids by the caller: ``rg_ids`` in Python, a ``take`` of the sorted ids)."""
    if codes:
        return [f"{row}.s AS source", f"{row}.t AS target"], ""
    joins = f" JOIN rg_ids i ON i.code = {row}.s JOIN rg_ids j ON j.code = {row}.t"
    return ["i.id AS source", "j.id AS target"], joins


def _panel_output_sql(has_patients: bool, has_amount: bool, *, codes: bool = False) -> str:
    """The panel as written, in the columns and order of `aggregate.edge_panel`."""
    cols, joins = _ends("p", codes)
    cols += ["CAST(p.m AS TIMESTAMP_NS) AS month", "p.referrals"]
    cols += (["p.patients"] if has_patients else []) + (["p.amount"] if has_amount else [])
    cols += ["CAST(day(p.d0) AS TINYINT) AS first_day", "CAST(day(p.d1) AS TINYINT) AS last_day"]
    return f"SELECT {', '.join(cols)} FROM rg_panel p{joins} ORDER BY p.s, p.t, p.m"


def _ties_from_panel_sql(
    has_patients: bool, has_amount: bool, panel: str = "rg_panel", *, codes: bool = False
) -> str:
    """The ties of dated events: sums over the panel; distinct patients over the period.

    `panel` is the ``rg_panel`` table, or a query giving its rows when no panel is
    written (the same sums, in the same order: the amounts are the same numbers).
    """
    values = [
        "CAST(sum(referrals) AS BIGINT) AS referrals",
        "CAST(min(d0) AS TIMESTAMP_NS) AS first_date",
        "CAST(max(d1) AS TIMESTAMP_NS) AS last_date",
        "count(*) AS active_months",
    ]
    if has_amount:
        values.append("fsum(amount) AS amount")
    sql = f"WITH x AS (SELECT s, t, {', '.join(values)} FROM {panel} GROUP BY s, t)"
    select, joins = _ends("x", codes)
    select.append("x.referrals")
    join = ""
    if has_patients:
        sql += (
            ", pt AS (SELECT s, t, count(patient) AS patients FROM "
            "(SELECT DISTINCT s, t, patient FROM rg_pm) GROUP BY s, t)"
        )
        select.append("pt.patients")
        join = "JOIN pt ON pt.s = x.s AND pt.t = x.t "
    select += (["x.amount"] if has_amount else []) + [
        "x.first_date",
        "x.last_date",
        "x.active_months",
    ]
    return f"{sql} SELECT {', '.join(select)} FROM x {join}{joins} ORDER BY x.s, x.t"


def _ties_sql(has_patients: bool, has_amount: bool, *, codes: bool = False) -> str:
    """The ties of undated events: referrals and distinct patients per (s, t)."""
    values = ["CAST(sum(n) AS BIGINT) AS referrals"]
    names = ["referrals"]
    if has_patients:
        values.append("count(*) FILTER (WHERE patient IS NOT NULL) AS patients")
        names.append("patients")
    if has_amount:
        values.append("fsum(amount) AS amount")
        names.append("amount")
    select, joins = _ends("x", codes)
    select += [f"x.{c}" for c in names]
    return (
        f"WITH x AS (SELECT s, t, {', '.join(values)} FROM rg_pm GROUP BY s, t) "
        f"SELECT {', '.join(select)} FROM x{joins} ORDER BY x.s, x.t"
    )


def _patients_sql(*, codes: bool = False) -> str:
    """Each provider's distinct patients as referrer or receiver (``rg_pm`` rows with one);
    ordered by id (the codes follow the sorted ids)."""
    sql = (
        "WITH pairs AS (SELECT s AS c, patient FROM rg_pm WHERE patient IS NOT NULL "
        "UNION SELECT t AS c, patient FROM rg_pm WHERE patient IS NOT NULL), "
        "n AS (SELECT c, count(*) AS patients FROM pairs GROUP BY c) "
    )
    if codes:
        return f"{sql}SELECT n.c AS id, CAST(n.patients AS BIGINT) AS patients FROM n ORDER BY n.c"
    return (
        f"{sql}SELECT i.id AS id, CAST(n.patients AS BIGINT) AS patients FROM n "
        "JOIN rg_ids i ON i.code = n.c ORDER BY i.id"
    )
