"""Building the tie matrix from an edge panel (and a providers table): :func:`_build`.

Checks the panel, codes the providers, ties, markets (the target's specialty) and
receiving entities (the target's organisation), and fills the (month x tie) count
matrix and the per-row optional columns of :class:`~referral_graph.churn._matrix._TieMatrix`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _memo
from referral_graph.churn._columns import (
    _ALIASES,
    _last_month,
    _month_numbers,
    _provider_table,
    _resolve_columns,
)
from referral_graph.churn._matrix import (
    _FLOAT32_EXACT,
    _exact_float32,
    _RowValues,
    _TieMatrix,
    _weighted_counts,
)
from referral_graph.churn._options import FloatArray, Int32Array, IntArray, _month_start
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")


def _codes_of(labels: npt.NDArray[np.object_]) -> tuple[IntArray, npt.NDArray[np.object_]]:
    codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=True)
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def _sorted_codes(keys: npt.NDArray[np.int64]) -> tuple[Int32Array, npt.NDArray[np.int64]]:
    """``np.unique(keys, return_inverse=True)`` by hashing, then sorting the distinct keys.

    Keys already in order (a panel sorted by source and target) are numbered by runs.
    """
    if len(keys) and bool(np.all(keys[1:] >= keys[:-1])):
        starts = np.empty(len(keys), dtype=bool)
        starts[0] = True
        np.not_equal(keys[1:], keys[:-1], out=starts[1:])
        runs = np.cumsum(starts, dtype=np.int32)
        runs -= 1
        return runs, keys[starts]
    codes, uniques = pd.factorize(keys)
    uniques = np.asarray(uniques, dtype=np.int64)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(uniques), dtype=np.int32)
    rank[order] = np.arange(len(uniques), dtype=np.int32)
    return rank[codes], uniques[order]


def _provider_codes(
    panel: pd.DataFrame, scol: str, tcol: str
) -> tuple[npt.NDArray[np.object_], Int32Array, Int32Array]:
    """Sorted provider ids and the source and target code of each panel row."""
    s_codes, s_uniq = _memo.factorize(panel[scol].astype("str"))
    t_codes, t_uniq = _memo.factorize(panel[tcol].astype("str"))
    s_ids = np.asarray(s_uniq, dtype=object)
    t_ids = np.asarray(t_uniq, dtype=object)
    ids = np.unique(np.concatenate([s_ids, t_ids]))
    index = pd.Index(ids)
    s_map = index.get_indexer(s_ids).astype(np.int32)
    t_map = index.get_indexer(t_ids).astype(np.int32)
    return ids, s_map[s_codes], t_map[t_codes]


def _month_order(
    month: npt.NDArray[np.int16], n_months: int
) -> tuple[IntArray, npt.NDArray[np.int64]]:
    """The panel rows sorted by month (stable), and the offsets of each month's rows."""
    order = np.argsort(month, kind="stable").astype(np.intp)
    ptr = np.searchsorted(month[order], np.arange(n_months + 1), side="left").astype(np.int64)
    return order, ptr


def _row_days(
    panel: pd.DataFrame, cols: Mapping[str, str | None], mcol: str
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]] | None:
    """Per panel row, the days of the month of its first and last referral, or None.

    From the panel's ``first_day`` / ``last_day`` columns (every engine writes them);
    else from the month column itself when it holds days (events read as a panel:
    one row per referral, dated); None for a panel of month starts only (an edge
    file with a period column), where recency is known to the month.
    """
    if cols.get("first_day") is not None and cols.get("last_day") is not None:
        days = []
        for key in ("first_day", "last_day"):
            col = str(cols[key])
            column = panel[col]
            if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
                # numpy integers (every engine's): nothing missing, and the range tells
                ints = column.to_numpy()
                if len(ints) == 0 or (ints.min() >= 1 and ints.max() <= 31):
                    days.append(ints.astype(np.int8, copy=False))
                    continue
            values = pd.to_numeric(column, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            bad = ~np.isfinite(values) | (values < 1) | (values > 31)
            if bool(bad.any()):
                raise SchemaError(
                    f"The panel's {key} column {col!r} has {int(bad.sum()):,} value(s) that "
                    "are not days of a month (1 to 31)."
                )
            days.append(values.astype(np.int8))
        return days[0], days[1]
    stamps = pd.to_datetime(panel[mcol], errors="coerce")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    day = stamps.dt.day.to_numpy(dtype=np.float64, na_value=1.0)
    if not bool((day != 1).any()):
        return None
    day8 = day.astype(np.int8)
    return day8, day8


def _day_matrices(
    tie: Int32Array,
    first: npt.NDArray[np.int8],
    last: npt.NDArray[np.int8],
    ptr: npt.NDArray[np.int64],
    n_ties: int,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """(month x tie) matrices of the first and last referral's day of the month (0: none).

    `tie`, `first` and `last` are per panel row, the rows sorted by month as for
    :func:`_count_matrix`; several rows of one tie and month take their earliest
    first day and latest last day.
    """
    n_months = len(ptr) - 1
    lo = np.zeros((n_months, n_ties), dtype=np.int8)
    hi = np.zeros((n_months, n_ties), dtype=np.int8)
    for m in range(n_months):
        rows = slice(int(ptr[m]), int(ptr[m + 1]))
        ties = tie[rows]
        if bool(np.all(ties[1:] > ties[:-1])):  # one row per tie (a panel sorted by tie)
            lo[m, ties] = first[rows]
            hi[m, ties] = last[rows]
        else:
            low = np.full(n_ties, 127, dtype=np.int8)
            np.minimum.at(low, ties, first[rows])
            low[low == 127] = 0
            lo[m] = low
            np.maximum.at(hi[m], ties, last[rows])
    return lo, hi


def _count_matrix(
    tie: Int32Array, refs: FloatArray, ptr: npt.NDArray[np.int64], n_ties: int
) -> tuple[npt.NDArray[np.floating[Any]], Int32Array]:
    """The (month x tie) count matrix, and per tie the first month with referrals.

    `tie` and `refs` are per panel row, the rows sorted by month (month ``m``
    at ``ptr[m]:ptr[m + 1]``). A month whose rows name their ties once each in
    increasing order (a panel sorted by tie) is written as it is; otherwise
    the rows of each tie are summed. The first month is ``n_months`` for a
    tie that never has referrals.
    """
    n_months = len(ptr) - 1
    exact = _exact_float32(refs)
    counts: npt.NDArray[np.floating[Any]] = np.zeros(
        (n_months, n_ties), dtype=np.float32 if exact else np.float64
    )
    first = np.full(n_ties, n_months, dtype=np.int32)
    for m in range(n_months - 1, -1, -1):
        ties, values = tie[ptr[m] : ptr[m + 1]], refs[ptr[m] : ptr[m + 1]]
        if bool(np.all(ties[1:] > ties[:-1])):
            counts[m, ties] = values + 0.0  # a sum of one row (as the sum, -0.0 becomes 0.0)
        else:
            cell = _weighted_counts(ties, values, n_ties)
            if counts.dtype == np.float32 and len(cell) and cell.max() >= _FLOAT32_EXACT:
                counts = counts.astype(np.float64)  # a cell too large for float32: keep it exact
            counts[m] = cell
        first[ties[values > 0]] = m
    return counts, first


def _reverse_ties(
    src: Int32Array, tgt: Int32Array, keys: npt.NDArray[np.int64], n_ids: int
) -> Int32Array:
    """Per tie ``s -> t``: the index of the tie ``t -> s``, -1 when absent.

    `keys` are the sorted tie keys ``source * n_ids + target``. Only a tie
    from a provider that also receives to one that also refers can have a
    reverse tie; those are looked up in `keys`.
    """
    refers = np.zeros(n_ids, dtype=bool)
    refers[src] = True
    receives = np.zeros(n_ids, dtype=bool)
    receives[tgt] = True
    candidates = np.flatnonzero(refers[tgt] & receives[src])
    wanted = tgt[candidates].astype(np.int64) * n_ids + src[candidates]
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = keys[pos] == wanted
    reverse = np.full(len(keys), -1, dtype=np.int32)
    reverse[candidates[found]] = pos[found]
    return reverse


def _row_values(
    panel: pd.DataFrame,
    cols: Mapping[str, str | None],
    refs: FloatArray,
    tie: Int32Array,
    order: IntArray,
    ptr: npt.NDArray[np.int64],
) -> _RowValues | None:
    """Patients, amounts and waits per panel row, the rows sorted by month, when present.

    `order` sorts the panel rows by month; `refs`, `tie` and `ptr` are already
    in that order (see :func:`_month_order`).
    """
    columns: dict[str, npt.NDArray[np.floating[Any]]] = {}

    def _numbers(col: str) -> FloatArray:
        """The column as float64, in panel order."""
        values: FloatArray = pd.to_numeric(panel[col], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        return values

    def _keep(name: str, values: FloatArray, *, ordered: bool) -> None:
        """Keep a column (float32 when exact), sorted by month unless already `ordered`."""
        # float32 before sorting: half the bytes to move
        kept = values.astype(np.float32) if _exact_float32(values) else values
        columns[name] = kept if ordered else kept[order]

    for key in ("patients", "amount"):
        col = cols[key]
        if col is None:
            continue
        column = panel[col]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu" and len(column):
            # numpy integers (the engines' patients): nothing missing, and the range tells
            # whether float32 holds every one (without float64 copies of millions of rows)
            ints = column.to_numpy()
            if int(ints.min()) > -_FLOAT32_EXACT and int(ints.max()) < _FLOAT32_EXACT:
                columns[key] = ints.astype(np.float32)[order]
                continue
        values = _numbers(col)
        if not np.isfinite(values).all():
            values = np.nan_to_num(values)
        _keep(key, values, ordered=False)
    if cols["wait"] is not None:
        wait = _numbers(str(cols["wait"]))[order]
        known = np.isfinite(wait)
        if bool(known.any()):
            _keep("wait", np.where(known, wait * refs, 0.0), ordered=True)
            _keep("wait_n", np.where(known, refs, 0.0), ordered=True)
    if not columns:
        return None
    return _RowValues(ptr=ptr, tie=tie, columns=columns)


def _build(
    panel: pd.DataFrame,
    *,
    providers: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> _TieMatrix:
    if not isinstance(panel, pd.DataFrame):
        raise ParameterError(
            "The 'panel' parameter must be a pandas DataFrame (the edge panel of "
            "referral_graph.aggregate.edge_panel) or a PreparedPanel. "
            f"Got {type(panel).__name__} instead."
        )
    cols = _resolve_columns(panel, _ALIASES, columns, what="panel")
    missing = [k for k in ("source", "target", "month") if cols[k] is None]
    if missing:
        raise SchemaError(
            f"The panel lacks column(s) for {', '.join(missing)}: expected the edge panel of "
            "referral_graph.aggregate.edge_panel (source, target, month, referrals), or map "
            "your columns with columns={'source': ..., 'target': ..., 'month': ...}."
        )
    if len(panel) == 0:
        raise InsufficientDataError("The panel has no rows.")
    scol, tcol, mcol = str(cols["source"]), str(cols["target"]), str(cols["month"])
    for key, col in (("source", scol), ("target", tcol)):
        if bool(panel[col].isna().any()):
            raise SchemaError(
                f"The panel's {key} column {col!r} has {int(panel[col].isna().sum()):,} "
                "missing id(s); drop or fix those rows first."
            )
    month_no = _month_numbers(panel[mcol], mcol)
    first, last = int(month_no.min()), _last_month(int(month_no.max()), data_end)
    n_months = last - first + 1
    month = (month_no - first).astype(np.int16)
    del month_no
    if cols["referrals"] is None:
        logger.info("The panel has no count column: each row is read as one referral")
        refs = np.ones(len(panel), dtype=np.float64)
    else:
        refs = pd.to_numeric(panel[cols["referrals"]], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = ~np.isfinite(refs) | (refs < 0)
        if bool(bad.any()):
            raise SchemaError(
                f"The panel's count column {cols['referrals']!r} has {int(bad.sum()):,} "
                "missing, negative or infinite value(s); counts must be >= 0."
            )
    ids, s_code, t_code = _provider_codes(panel, scol, tcol)
    n_ids = len(ids)
    tie_of_row, tie_keys = _sorted_codes(s_code.astype(np.int64) * n_ids + t_code)
    del s_code, t_code
    n_ties = len(tie_keys)
    src = (tie_keys // n_ids).astype(np.int32)
    tgt = (tie_keys % n_ids).astype(np.int32)
    order, ptr = _month_order(month, n_months)
    del month
    tie_by_month, refs = tie_of_row[order], refs[order]
    del tie_of_row
    counts, first_active = _count_matrix(tie_by_month, refs, ptr, n_ties)
    row_days = _row_days(panel, cols, mcol)
    first_day = last_day = None
    if row_days is not None:
        first_day, last_day = _day_matrices(
            tie_by_month, row_days[0][order], row_days[1][order], ptr, n_ties
        )
    else:
        logger.info("The panel has no days: recency is counted from mid-month (month resolution)")
    rows = _row_values(panel, cols, refs, tie_by_month, order, ptr)
    del order, tie_by_month, refs
    reverse = _reverse_ties(src, tgt, tie_keys, n_ids)
    del tie_keys

    names, specialty, org = _provider_table(providers, ids)
    receivers = np.flatnonzero(np.bincount(tgt, minlength=n_ids))  # np.unique(tgt), no sort
    by_specialty = bool(pd.notna(specialty[receivers]).any())
    by_org = bool(pd.notna(org[receivers]).any())

    if by_specialty:
        market_of_id, _ = _codes_of(np.where(pd.notna(specialty), specialty, "").astype(object))
        n_markets = int(market_of_id.max()) + 1
        pair, _ = _sorted_codes(src.astype(np.int64) * n_markets + market_of_id[tgt])
        n_pairs = int(pair.max()) + 1
    else:
        pair, n_pairs = src, n_ids
    trip_entity: Int32Array | None = None
    label_of_entity: npt.NDArray[np.object_] | None = None
    if by_org:
        has_org = pd.notna(org)
        # Entities sorted as "o:<organisation>" before "p:<provider id>" (ids are sorted).
        org_codes, org_names = _codes_of(org[has_org])
        entity_of_id = np.empty(n_ids, dtype=np.int64)
        entity_of_id[has_org] = org_codes
        entity_of_id[~has_org] = len(org_names) + np.arange(int((~has_org).sum()))
        entity_labels = np.where(has_org, org, names).astype(object)
        n_entities = len(org_names) + int((~has_org).sum())
        trip, trip_keys = _sorted_codes(pair.astype(np.int64) * n_entities + entity_of_id[tgt])
        n_trips = len(trip_keys)
        trip_pair = (trip_keys // n_entities).astype(np.int32)
        label_of_entity = np.empty(n_entities, dtype=object)
        label_of_entity[entity_of_id] = entity_labels
        trip_entity = (trip_keys % n_entities).astype(np.int32)
    else:
        trip, n_trips = np.arange(n_ties, dtype=np.int32), n_ties
        trip_pair = pair

    logger.info(
        "Churn: %s ties x %s months (%s to %s) from %s panel rows",
        f"{n_ties:,}",
        n_months,
        _month_start(first).date(),
        _month_start(last).date(),
        f"{len(panel):,}",
    )
    return _TieMatrix(
        first_month=first,
        n_months=n_months,
        ids=ids,
        src=src,
        tgt=tgt,
        counts=counts,
        first_active=first_active,
        first_day=first_day,
        last_day=last_day,
        rows=rows,
        reverse=reverse,
        pair=pair,
        n_pairs=n_pairs,
        trip=trip,
        n_trips=n_trips,
        trip_pair=trip_pair,
        trip_entity=trip_entity,
        entity_labels=label_of_entity,
        names=names,
        specialty=specialty,
        by_specialty=by_specialty,
        by_org=by_org,
        has_patients=rows is not None and "patients" in rows.columns,
        has_amount=rows is not None and "amount" in rows.columns,
        has_wait=rows is not None and "wait" in rows.columns,
    )
