"""Aggregation on Apache Spark: events -> edge panel and tie table, on a cluster.

:func:`aggregate_spark` does what :func:`referral_graph.scale.aggregate_files`
(DuckDB, one machine) and :mod:`referral_graph.aggregate` do, for event files
too large for one machine or already in a data lake: the same checks (rows
excluded and counted by reason, with the messages of
:func:`referral_graph.io.read_events`), the same output columns, dtypes and
order, and Parquet files that every other command reads. Patient ids are
counted distinct on the executors and dropped there: they never reach the
driver.

Only distinct provider ids and distinct date strings are collected to the
driver: the ids to check NPI check digits with :func:`referral_graph.npi.npi_flags`,
the dates to detect their format exactly as
:func:`referral_graph.validate.parse_dates` does. The graph algorithms then run
on one machine from the tie table (:func:`referral_graph.compact.load_compact`);
``docs/memory.md`` explains why and gives the memory arithmetic, and how to run
this on a cluster (``spark-submit``, a Databricks job).

pyspark is optional (``pip install referral_graph[spark]``) and imported only
when a function here runs; Spark needs Java 17 or later.

Examples
--------
Without Spark installed the module still imports; the check is explicit:

>>> isinstance(spark_available(), bool)
True
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from referral_graph import io as _io
from referral_graph.engines._rules import (
    _NUMBER_RE,
    _date_lookup,
    _expand_paths,
    _explicit_columns,
    _fill_report,
    _id_lookup,
    _kind,
    _providers_ids,
    _report_name,
    _resolve_event_columns,
    _RowCounts,
    _sniff_csv,
    read_output,
)
from referral_graph.engines._spark_layout import layout_target, remembered, write_layout
from referral_graph.engines._spark_tables import _panel, _patients, _ties
from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.validate import MAX_EXAMPLES, ValidationReport, restore_ids

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "INSTALL_HINT",
    "SparkAggregation",
    "aggregate_spark",
    "spark_available",
    "spark_session",
]

from referral_graph.engines._spark_session import (
    _CORRUPT,
    _WS_RE,
    INSTALL_HINT,
    _quiet,
    _require_pyspark,
    _session_for,
    spark_available,
    spark_session,
)

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
NpiMode = bool | Literal["auto"]


@dataclass
class SparkAggregation:
    """What :func:`aggregate_spark` produced.

    Attributes
    ----------
    panel : pandas.DataFrame or None
        The edge panel (when dates were given and the tables were collected).
    ties : pandas.DataFrame or None
        The tie table (when collected).
    patients : pandas.DataFrame or None
        Each provider's distinct patients as referrer or receiver, ``id`` and
        ``patients`` (when the events have patient ids and the tables were
        collected), as :func:`~referral_graph.scale.aggregate_files` writes them.
    paths : dict of str to str
        ``"panel"``, ``"ties"``, ``"patients"`` and ``"report"`` as written (when
        `write` was given); ``"layout"``, the folder of `layout`.
    report : ValidationReport
        Every problem found, counted by reason.
    events : int
        Events kept.
    seconds : float
        Wall time.
    """

    panel: pd.DataFrame | None
    ties: pd.DataFrame | None
    patients: pd.DataFrame | None = None
    paths: dict[str, str] = field(default_factory=dict)
    report: ValidationReport = field(default_factory=lambda: ValidationReport(name="<spark>"))
    events: int = 0
    seconds: float = 0.0


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> Path:
    return Path(path[len("file://") :] if path.startswith("file://") else path)


def _read(
    spark: SparkSession,
    events: Any,
    *,
    encoding: str,
    delimiter: str | None,
) -> tuple[DataFrame, str, Literal["csv", "parquet", "frame"], list[str], str | None]:
    """The events as a Spark DataFrame, with its report name, kind, columns and delimiter."""
    sql = _require_pyspark()
    types = __import__("pyspark.sql.types", fromlist=["StructType"])
    functions = __import__("pyspark.sql.functions", fromlist=["col"])
    if isinstance(events, sql.DataFrame):
        return events, "<Spark DataFrame>", "frame", list(events.columns), None
    if isinstance(events, pd.DataFrame):
        raise ParameterError(
            "The 'events' parameter of aggregate_spark must be a Spark DataFrame or file paths. "
            "Got a pandas DataFrame: use referral_graph.aggregate (or scale.aggregate_files) for "
            "data that fits in pandas."
        )
    items = [events] if isinstance(events, str | os.PathLike) else list(events)
    texts = [os.fspath(p) for p in items]
    local = all(_is_local(t) for t in texts)
    if local:
        files = _expand_paths([_local(t) for t in texts], "events")
        kind = _kind(files)
        texts = [str(f) for f in files]
        name = _report_name(files)
    else:
        kind = (
            "parquet"
            if all(t.rstrip("/").lower().endswith((".parquet", ".pq")) for t in texts)
            else "csv"
        )
        name = texts[0] if len(texts) == 1 else f"{texts[0]} (+{len(texts) - 1} more files)"
    if kind == "parquet":
        frame = spark.read.parquet(*texts)
        return frame, name, "parquet", list(frame.columns), None
    if local:
        dialect = _sniff_csv(Path(texts[0]), delimiter=delimiter, encoding="utf-8")
        for other in texts[1:]:
            d = _sniff_csv(Path(other), delimiter=dialect.delimiter, encoding="utf-8")
            if d.columns != dialect.columns:
                raise SchemaError(
                    f"{other}: its columns ({', '.join(d.columns)}) differ from those of "
                    f"{texts[0]} ({', '.join(dialect.columns)}); give files of one layout."
                )
        columns, header, sep = dialect.columns, dialect.header, dialect.delimiter
    else:  # remote files: a header is required, the delimiter is given or ","
        sep = delimiter or ","
        header = True
        first = spark.read.option("header", "true").option("sep", sep).csv(texts[0])
        columns = [c.strip().lstrip("\ufeff") for c in first.columns]
    schema = types.StructType(
        [types.StructField(c, types.StringType()) for c in columns]
        + [types.StructField(_CORRUPT, types.StringType())]
    )
    frame = (
        spark.read.schema(schema)
        .option("header", str(header).lower())
        .option("sep", sep)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", encoding)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .option("nullValue", "")
        .option("enforceSchema", "true")
        .csv(texts)
    )
    # Spark knows one null marker: apply the in-memory reader's list of them.
    nulls = list(_io.NULL_VALUES)
    frame = frame.select(
        *[
            functions.when(functions.col(c).isin(nulls), None).otherwise(functions.col(c)).alias(c)
            for c in columns
        ],
        functions.col(_CORRUPT),
    )
    return frame, name, "csv", columns, sep


def _text(column: Column) -> Column:
    """An id-like value: text with white space stripped, blank as null."""
    functions = __import__("pyspark.sql.functions", fromlist=["col"])
    stripped = functions.regexp_replace(column.cast("string"), _WS_RE, "")
    out: Column = functions.when(stripped == "", None).otherwise(stripped)
    return out


def _id_column(frame: DataFrame, name: str) -> Column:
    functions = __import__("pyspark.sql.functions", fromlist=["col"])
    dtype = dict(frame.dtypes)[name]
    col = functions.col(name)
    if dtype in ("float", "double") or dtype.startswith("decimal"):
        whole: Column = (
            functions.when(col.isNull() | functions.isnan(col.cast("double")), None)
            .when(col == functions.floor(col), col.cast("decimal(38,0)").cast("string"))
            .otherwise(col.cast("string"))
        )
        return whole
    return _text(col)


def _write_single(frame: DataFrame, final: Path, scratch: Path) -> Path:
    """Write a (sorted) Spark table as one Parquet file with the DuckDB engine's schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    part_dir = scratch / f"{final.stem}_parts"
    frame.coalesce(1).write.mode("overwrite").parquet(str(part_dir))
    parts = sorted(part_dir.glob("part-*.parquet"))
    tables = [pq.read_table(p) for p in parts]
    table = pa.concat_tables(tables) if tables else pa.table({})
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            fields.append(pa.field(f.name, pa.timestamp("ns"), nullable=f.nullable))
        else:
            fields.append(f)
    table = table.cast(pa.schema(fields))
    with _io.atomic_path(final) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=1_000_000)
    shutil.rmtree(part_dir, ignore_errors=True)
    logger.info("Wrote %s", final)
    return final


def aggregate_spark(
    events: Any,
    *,
    spark: SparkSession | None = None,
    master: str = "local[2]",
    write: PathLike | None = None,
    collect: bool | None = None,
    source_col: str | None = None,
    target_col: str | None = None,
    date_col: str | None = None,
    patient_col: str | None = None,
    amount_col: str | None = None,
    service_line_col: str | None = None,
    payer_col: str | None = None,
    date_format: str | None = None,
    npi: NpiMode = "auto",
    providers: pd.DataFrame | PathLike | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    strict: bool = False,
    progress: Callable[[str], Any] | None = None,
    layout: PathLike | None = None,
    key_file: PathLike | None = None,
) -> SparkAggregation:
    """Validate and aggregate referral events on Spark; write Parquet, return the tables.

    Parameters
    ----------
    events : Spark DataFrame, path or sequence of paths
        A Spark DataFrame (columns named as in a file), or CSV / Parquet files
        (local paths, or ``s3a://`` / ``abfss://`` / ``dbfs:/`` paths that the
        cluster reads; remote CSV files need a header).
    spark : SparkSession, optional
        The session to use (on a cluster: the one ``spark-submit`` or the
        platform created); by default the active session, else a local
        session on `master`, started here and stopped at the end.
    master : str, default "local[2]"
        Master of a session started here.
    write : path, optional
        Folder for ``panel.parquet``, ``ties.parquet`` and ``validation.csv``.
        A local folder gets single Parquet files with exactly the DuckDB
        engine's schema (timestamps in ns); a remote one (``s3a://...``)
        gets Spark's folders of part files, which
        :func:`~referral_graph.scale.read_output` and
        :func:`~referral_graph.scale.load_compact` read once copied locally.
    collect : bool, optional
        Return the panel and ties as pandas tables. Default: True when the
        output is local (or not written), False for a remote `write`.
    source_col, target_col, date_col, patient_col, amount_col, service_line_col, payer_col
        Column names, as in :func:`~referral_graph.io.read_events`.
    date_format, npi, providers, strict
        As in :func:`~referral_graph.io.read_events`.
    encoding : str, default "utf-8"
        CSV encoding (any Java charset name, e.g. ``"windows-1252"``).
    delimiter : str, optional
        CSV delimiter (detected from a local file's header when omitted).
    progress : callable, optional
        Called with the name of each step as it starts.
    layout : path, optional
        Also write the layout of ``referral-graph store export`` (events and panel
        partitioned by month, ties, patient panels, ``layout.json``) into this new
        local folder, for :meth:`referral_graph.store.ReferralStore.import_layout`.
        Needs dated events.
    key_file : path, optional
        With `layout`: the file of the secret of the patients' keyed hash (the
        store's, so that the layout loads into it; created when missing).

    Returns
    -------
    SparkAggregation
        Where the tables (and the layout, ``paths["layout"]``) were written, and
        the validation report.

    Raises
    ------
    ParameterError
        If pyspark is missing or Spark cannot start (with the install hint), or
        on a bad option.
    InputError, SchemaError, ValidationError
        As :func:`~referral_graph.io.read_events`.

    Notes
    -----
    The panel and ties equal those of the embedded engine (tested): same
    columns, dtypes (after :func:`~referral_graph.scale.read_output`) and
    order, amounts equal up to summation order. The report has the same
    issues and counts; it gives no row numbers (Spark does not number lines),
    and examples are the first in sorted order.
    """
    started = time.perf_counter()
    step = progress or (lambda name: None)
    if npi not in (True, False, "auto"):
        raise ParameterError(
            f"The 'npi' parameter of aggregate_spark must be True, False or 'auto'. Got {npi!r}."
        )
    _require_pyspark()
    target = layout_target(layout, key_file)
    functions = __import__("pyspark.sql.functions", fromlist=["col"])
    session, own_session = _session_for(spark, master)
    session.conf.set("spark.sql.session.timeZone", "UTC")
    write_text = os.fspath(write) if write is not None else None
    local_out = write_text is None or _is_local(write_text)
    if collect is None:
        collect = local_out
    scratch = Path(tempfile.mkdtemp(prefix="referral_graph_spark_"))
    known = _providers_ids(providers)
    explicit = _explicit_columns(
        source_col, target_col, date_col, patient_col, amount_col, service_line_col, payer_col
    )
    options = remembered(
        explicit, date_format=date_format, npi=npi, delimiter=delimiter, encoding=encoding
    )
    try:
        with _quiet():
            result = _aggregate(
                session,
                functions,
                events,
                step=step,
                write_text=write_text,
                local_out=local_out,
                collect=collect,
                scratch=scratch,
                explicit=explicit,
                date_format=date_format,
                npi=npi,
                known=known,
                encoding=encoding,
                delimiter=delimiter,
                strict=strict,
                layout=None if target is None else (target, options),
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if own_session:
            session.stop()
    result.seconds = time.perf_counter() - started
    logger.info(
        "aggregate_spark: %s events kept of %s rows read in %.1f s",
        f"{result.events:,}",
        f"{result.report.rows_read:,}",
        result.seconds,
    )
    return result


def _aggregate(
    spark: SparkSession,
    fn: Any,
    events: Any,
    *,
    step: Callable[[str], Any],
    write_text: str | None,
    local_out: bool,
    collect: bool,
    scratch: Path,
    explicit: dict[str, str | None],
    date_format: str | None,
    npi: NpiMode,
    known: pd.Series | None,
    encoding: str,
    delimiter: str | None,
    strict: bool,
    layout: tuple[tuple[Path, Path], dict[str, Any]] | None = None,
) -> SparkAggregation:
    step("reading")
    frame, name, kind, columns, sep = _read(spark, events, encoding=encoding, delimiter=delimiter)
    data_columns = [c for c in columns if c != _CORRUPT]
    cols = _resolve_event_columns(data_columns, name, explicit, delimiter=sep)
    logger.info(
        "Reading events with Spark from %s with columns %s",
        name,
        ", ".join(f"{k}={v!r}" for k, v in cols.items()),
    )
    dtypes = dict(frame.dtypes)
    exprs = [
        _id_column(frame, cols["source"]).alias("source"),
        _id_column(frame, cols["target"]).alias("target"),
    ]
    date_typed = amount_typed = False
    if "date" in cols:
        dtype = dtypes[cols["date"]]
        date_typed = dtype == "date" or dtype.startswith("timestamp")
        c = fn.col(cols["date"])
        exprs.append(
            c.cast("timestamp_ntz").alias("date_value")
            if date_typed
            else c.cast("string").alias("date_text")
        )
    if "patient_id" in cols:
        exprs.append(_id_column(frame, cols["patient_id"]).alias("patient"))
    if "amount" in cols:
        dtype = dtypes[cols["amount"]]
        amount_typed = dtype in (
            "tinyint", "smallint", "int", "bigint", "float", "double",
        ) or dtype.startswith("decimal")  # fmt: skip
        c = fn.col(cols["amount"])
        exprs.append(
            c.cast("double").alias("amount_value")
            if amount_typed
            else c.cast("string").alias("amount_text")
        )
    for key in ("service_line", "payer"):
        if key in cols:
            exprs.append(fn.col(cols[key]).cast("string").alias(key))
    corrupt = fn.col(_CORRUPT).isNotNull() if kind == "csv" else fn.lit(False)
    blank = (
        fn.lit(True)
        if not data_columns
        else fn.expr(" AND ".join(f"`{c.replace('`', '``')}` IS NULL" for c in data_columns))
    )
    if kind != "csv":
        blank = fn.lit(False)
    if kind == "csv":
        pattern = "\\" + sep if sep and not sep.isalnum() else (sep or ",")
        fields = fn.size(fn.split(fn.col(_CORRUPT), pattern))
    else:
        fields = fn.lit(None).cast("int")
    src = frame.select(
        *exprs, corrupt.alias("corrupt"), blank.alias("blank"), fields.alias("corrupt_fields")
    )
    src = src.persist()
    report = ValidationReport(name=name, row_label="row")
    report.note_columns(cols, _io.EVENT_ALIASES)
    counts = _RowCounts()
    try:
        step("listing providers and dates")
        totals = src.agg(
            fn.count(fn.lit(1)).alias("n"),
            fn.sum(fn.col("corrupt").cast("long")).alias("corrupt"),
            fn.sum((fn.col("blank") & ~fn.col("corrupt")).cast("long")).alias("blank"),
        ).collect()[0]
        total = int(totals["n"] or 0)
        counts.wrong_fields = int(totals["corrupt"] or 0)
        counts.blank = int(totals["blank"] or 0)
        if total == 0:
            raise InputError(f"{name}: the file has no data rows.")
        counts.rows_read = total
        rows = src.where(~fn.col("corrupt") & ~fn.col("blank"))
        if counts.wrong_fields:
            # The line's text may hold patient ids: only its number of fields is shown.
            field_counts = (
                src.where(fn.col("corrupt"))
                .select(fn.col("corrupt_fields").alias("k"))
                .distinct()
                .orderBy("k")
                .limit(MAX_EXAMPLES)
                .collect()
            )
            counts.wrong_field_examples = [f"{int(r['k'])} fields" for r in field_counts]
        ids = [
            str(r[0])
            for r in rows.select(fn.col("source").alias("id"))
            .union(rows.select(fn.col("target").alias("id")))
            .where(fn.col("id").isNotNull())
            .distinct()
            .collect()
        ]
        restored, lossy = restore_ids(ids)
        if restored or lossy:
            # Ids a spreadsheet wrote as numbers: counted per column, then restored.
            mangled = [*restored, *lossy]
            for key in ("source", "target"):
                by_id = {
                    str(r[0]): int(r[1])
                    for r in rows.where(fn.col(key).isin(mangled)).groupBy(key).count().collect()
                }
                counts.note_restored(key, by_id, restored, lossy)
        if restored:
            pairs = spark.createDataFrame(list(restored.items()), "raw string, id string")
            for key in ("source", "target"):
                rows = (
                    rows.join(
                        fn.broadcast(pairs.toDF("rg_raw", "rg_id")),
                        fn.col(key) == fn.col("rg_raw"),
                        "left",
                    )
                    .withColumn(key, fn.coalesce(fn.col("rg_id"), fn.col(key)))
                    .drop("rg_raw", "rg_id")
                )
            ids = sorted({restored.get(i, i) for i in ids})
        id_table = _id_lookup(ids, npi=npi, known=known)
        flagged = id_table.loc[id_table["npi_bad"] | ~id_table["known"]]
        lookup = spark.createDataFrame(
            [
                (str(i), bool(b), bool(k))
                for i, b, k in zip(flagged["id"], flagged["npi_bad"], flagged["known"], strict=True)
            ],
            "id string, npi_bad boolean, known boolean",
        )
        date_table: pd.DataFrame | None = None
        if "date" in cols and not date_typed:
            step("reading dates")
            texts = [
                str(r[0])
                for r in rows.select("date_text")
                .where(fn.col("date_text").isNotNull())
                .distinct()
                .collect()
            ]
            date_table = _date_lookup(
                texts, date_format=date_format, name=name, column=cols["date"]
            )
            parsed = date_table.dropna(subset=["date"])
            date_frame = spark.createDataFrame(
                [
                    (str(t), pd.Timestamp(d).to_pydatetime())
                    for t, d in zip(parsed["text"], parsed["date"], strict=True)
                ],
                "text string, date timestamp_ntz",
            )
        step("checking rows")
        si = lookup.select(
            fn.col("id").alias("s_id"),
            fn.col("npi_bad").alias("npi_s"),
            (~fn.col("known")).alias("unknown_s"),
        )
        ti = lookup.select(
            fn.col("id").alias("t_id"),
            fn.col("npi_bad").alias("npi_t"),
            (~fn.col("known")).alias("unknown_t"),
        )
        proc = rows.join(fn.broadcast(si), rows["source"] == si["s_id"], "left").join(
            fn.broadcast(ti), fn.col("target") == ti["t_id"], "left"
        )
        npi_s = fn.coalesce(fn.col("npi_s"), fn.lit(False))
        npi_t = fn.coalesce(fn.col("npi_t"), fn.lit(False))
        pre_bad = fn.col("source").isNull() | fn.col("target").isNull()
        if npi is True:
            pre_bad = pre_bad | npi_s | npi_t
        self_ref = ~pre_bad & (fn.col("source") == fn.col("target"))
        bad = pre_bad | self_ref
        extra: list[Column] = [
            fn.col("source").isNull().alias("miss_s"),
            fn.col("target").isNull().alias("miss_t"),
            npi_s.alias("npi_s_flag"),
            npi_t.alias("npi_t_flag"),
            self_ref.alias("self_ref"),
            fn.coalesce(fn.col("unknown_s"), fn.lit(False)).alias("unknown_s_flag"),
            fn.coalesce(fn.col("unknown_t"), fn.lit(False)).alias("unknown_t_flag"),
        ]
        if "date" in cols:
            if date_typed:
                miss_d = fn.col("date_value").isNull()
                bad_d = fn.lit(False)
                extra += [
                    fn.col("date_value").alias("date"),
                    fn.lit(None).cast("string").alias("bad_date_text"),
                ]
            else:
                proc = proc.join(
                    fn.broadcast(date_frame), proc["date_text"] == date_frame["text"], "left"
                )
                miss_d = fn.col("date_text").isNull()
                bad_d = fn.col("date_text").isNotNull() & fn.col("date").isNull()
                extra += [
                    fn.col("date"),
                    fn.when(bad_d, fn.col("date_text")).alias("bad_date_text"),
                ]
            extra += [miss_d.alias("miss_d"), bad_d.alias("bad_d")]
            bad = bad | miss_d | bad_d
        if "patient_id" in cols:
            extra.append(fn.col("patient"))
        if "amount" in cols:
            if amount_typed:
                num = fn.col("amount_value")
                non_numeric = fn.coalesce(num.isin(float("inf"), float("-inf")), fn.lit(False))
                negative = fn.coalesce((num < 0) & ~non_numeric, fn.lit(False))
                raw = num.cast("string")
                value = fn.when(fn.isnan(num) | non_numeric | negative, None).otherwise(num)
            else:
                text = fn.regexp_replace(fn.col("amount_text"), _WS_RE, "")
                num = fn.when(text.rlike("^" + _NUMBER_RE + "$"), text.cast("double"))
                non_numeric = fn.col("amount_text").isNotNull() & (
                    num.isNull() | num.isin(float("inf"), float("-inf"))
                )
                negative = fn.coalesce((num < 0) & ~non_numeric, fn.lit(False))
                raw = fn.col("amount_text")
                value = fn.when(non_numeric | negative, None).otherwise(num)
            extra += [
                non_numeric.alias("non_num"),
                negative.alias("neg"),
                value.alias("amount"),
                fn.when(non_numeric | negative, raw).alias("bad_amount_text"),
            ]
        for key in ("service_line", "payer"):
            if key in cols:
                extra.append(fn.col(key))
        checked = proc.select(
            fn.col("source"), fn.col("target"), *extra, bad.alias("bad")
        ).persist()
        try:
            _count(checked, fn, cols, counts)
            step("removing duplicates")
            has_patients = "patient_id" in cols
            has_dates = "date" in cols
            has_amount = "amount" in cols
            keys = ["source", "target"] + [
                k
                for k in ("date", "patient", "amount", "service_line", "payer")
                if (k if k != "patient" else "patient_id") in cols
            ]
            copies = fn.count(fn.lit(1))
            good = checked.where(~fn.col("bad")).groupBy(*keys).agg(copies.alias("copies"))
            if has_patients:
                good = good.withColumn(
                    "w",
                    fn.when(fn.col("patient").isNotNull(), fn.lit(1).cast("long")).otherwise(
                        fn.col("copies")
                    ),
                )
            else:
                good = good.withColumn("w", fn.col("copies"))
            good = good.persist()
            dup = fn.col("copies") - 1
            if has_patients:
                dup = fn.when(fn.col("patient").isNotNull(), dup).otherwise(fn.lit(0))
            agg = good.agg(fn.sum(dup).alias("dup"), fn.sum("w").alias("kept")).collect()[0]
            counts.duplicates = int(agg["dup"] or 0)
            kept = int(agg["kept"] or 0)
            if known is not None:
                _count_unknown(checked, good, fn, counts)
            _fill_report(
                report,
                counts,
                cols,
                npi=npi,
                file_columns=data_columns,
                delimiter=sep,
                date_lookup=date_table,
            )
            report.raise_if_needed(strict=strict)
            tables: dict[str, DataFrame] = {}
            if has_dates:
                tables["panel"] = _panel(good, fn, has_patients, has_amount)
            tables["ties"] = _ties(good, fn, has_patients, has_amount, has_dates)
            if has_patients:
                tables["patients"] = _patients(good, fn)
            out = SparkAggregation(panel=None, ties=None, report=report, events=kept)
            out_dir = (
                _local(write_text) if write_text is not None and local_out else scratch / "out"
            )
            steps = {"patients": "counting patient panels"}
            for key, table in tables.items():
                step(steps.get(key, f"writing the {key}"))
                if local_out:
                    path = _write_single(table, out_dir / f"{key}.parquet", scratch)
                    if write_text is not None:
                        out.paths[key] = str(path)
                    if collect:
                        setattr(out, key, _read_table(path))
                else:
                    assert write_text is not None
                    target = write_text.rstrip("/") + f"/{key}.parquet"
                    table.write.mode("overwrite").parquet(target)
                    out.paths[key] = target
                    if collect:
                        setattr(out, key, _collect(table))
            if write_text is not None and local_out:
                out.paths["report"] = str(
                    _io.write_table(report.to_frame(), out_dir / "validation.csv")
                )
            if layout is not None:
                step("writing the layout")
                out.paths["layout"] = str(
                    write_layout(spark, fn, good, tables, target=layout[0], cols=cols,
                                 report=report, kept=kept, options=layout[1])
                )  # fmt: skip
            good.unpersist()
        finally:
            checked.unpersist()
    finally:
        src.unpersist()
    return out


def _count(checked: DataFrame, fn: Any, cols: dict[str, str], counts: _RowCounts) -> None:
    has_date = "date" in cols
    has_amount = "amount" in cols

    def total(name: str) -> Column:
        out: Column = fn.sum(fn.col(name).cast("long")).alias(name)
        return out

    names = ["miss_s", "miss_t", "npi_s_flag", "npi_t_flag", "self_ref"]
    names += ["miss_d", "bad_d"] if has_date else []
    names += ["non_num", "neg"] if has_amount else []
    row = checked.agg(*[total(n) for n in names]).collect()[0]
    got = {n: int(row[n] or 0) for n in names}
    counts.missing = {"source": got["miss_s"], "target": got["miss_t"]}
    counts.npi_bad = {"source": got["npi_s_flag"], "target": got["npi_t_flag"]}
    counts.self_referral = got["self_ref"]
    counts.missing_date = got.get("miss_d", 0)
    counts.unparsable_date = got.get("bad_d", 0)
    counts.non_numeric = got.get("non_num", 0)
    counts.negative = got.get("neg", 0)

    # Every kind of example in one Spark job: the first values in sorted order per kind.
    wanted = [
        (kind, flag, column)
        for kind, flag, column, n in (
            ("npi_source", "npi_s_flag", "source", counts.npi_bad["source"]),
            ("npi_target", "npi_t_flag", "target", counts.npi_bad["target"]),
            ("self", "self_ref", "source", counts.self_referral),
            ("date", "bad_d", "bad_date_text", counts.unparsable_date),
            ("non_numeric", "non_num", "bad_amount_text", counts.non_numeric),
            ("negative", "neg", "bad_amount_text", counts.negative),
        )
        if n
    ]
    if not wanted:
        return
    window = __import__("pyspark.sql.window", fromlist=["Window"]).Window
    items = fn.array(
        *[
            fn.when(
                fn.col(flag) & fn.col(column).isNotNull(),
                fn.struct(fn.lit(kind).alias("k"), fn.col(column).cast("string").alias("v")),
            )
            for kind, flag, column in wanted
        ]
    )
    any_flag = fn.lit(False)
    for _, flag, _ in wanted:
        any_flag = any_flag | fn.col(flag)
    found = (
        checked.where(any_flag)
        .select(fn.explode(items).alias("x"))
        .where(fn.col("x").isNotNull())
        .select("x.k", "x.v")
        .distinct()
        .withColumn("r", fn.row_number().over(window.partitionBy("k").orderBy("v")))
        .where(fn.col("r") <= MAX_EXAMPLES)
        .collect()
    )
    by_kind: dict[str, list[str]] = {}
    for row in sorted(found, key=lambda r: (r["k"], r["r"])):
        by_kind.setdefault(str(row["k"]), []).append(str(row["v"]))
    counts.npi_examples = {key: by_kind.get(f"npi_{key}", []) for key in ("source", "target")}
    counts.self_examples = by_kind.get("self", [])
    counts.date_examples = by_kind.get("date", [])
    counts.non_numeric_examples = by_kind.get("non_numeric", [])
    counts.negative_examples = by_kind.get("negative", [])


def _count_unknown(checked: DataFrame, good: DataFrame, fn: Any, counts: _RowCounts) -> None:
    flags = (
        checked.where(~fn.col("bad"))
        .select("source", "target", "unknown_s_flag", "unknown_t_flag")
        .distinct()
    )
    joined = good.join(flags, ["source", "target"], "left")
    for key, flag in (("source", "unknown_s_flag"), ("target", "unknown_t_flag")):
        part = joined.where(fn.coalesce(fn.col(flag), fn.lit(False)))
        row = part.agg(fn.sum("w").alias("n"), fn.countDistinct(key).alias("k")).collect()[0]
        counts.unknown_rows[key] = int(row["n"] or 0)
        counts.unknown_ids[key] = int(row["k"] or 0)
        if counts.unknown_rows[key]:
            counts.unknown_examples[key] = [
                str(r[0])
                for r in part.select(key).distinct().orderBy(key).limit(MAX_EXAMPLES).collect()
            ]


def _read_table(path: Path) -> pd.DataFrame:
    """A written table as pandas: the panel and ties by read_output, the patient panels as is."""
    if path.name == "patients.parquet":
        frame = pd.read_parquet(path)
        return frame.astype({"id": "str", "patients": "int64"})
    return read_output(path)


def _collect(table: DataFrame) -> pd.DataFrame:
    """A (small) Spark table as pandas with the aggregate module's dtypes, not via toPandas."""
    import pyarrow as pa

    to_arrow = getattr(table, "toArrow", None)
    if to_arrow is not None:
        arrow = to_arrow()
    else:  # Spark 3.5
        rows = [r.asDict() for r in table.collect()]
        arrow = pa.Table.from_pylist(rows)
    frame: pd.DataFrame = arrow.to_pandas(date_as_object=False)
    for c in frame.columns:
        if c in ("source", "target", "id"):
            frame[c] = frame[c].astype("str")
        elif pd.api.types.is_datetime64_any_dtype(frame[c]):
            frame[c] = frame[c].astype("datetime64[ns]")
        elif c in ("referrals", "patients", "active_months"):
            frame[c] = frame[c].astype(np.int64)
        elif c in ("first_day", "last_day"):
            frame[c] = frame[c].astype(np.int8)
    return frame


def aggregate_frame(
    events: pd.DataFrame,
    what: Literal["panel", "ties"],
    *,
    spark: SparkSession | None = None,
    master: str = "local[2]",
) -> pd.DataFrame:
    """Aggregate validated events (a pandas table) on Spark: ``engine="spark"`` of :mod:`aggregate`.

    `events` is the output of :func:`referral_graph.io.read_events` (already
    validated, patient ids already pseudonymous codes). The result equals
    :func:`referral_graph.aggregate.edge_panel` / ``tie_table``. Useful to
    check a cluster set-up on a sample; for data that does not fit in pandas
    give the files to :func:`aggregate_spark` instead.

    Parameters
    ----------
    events : pandas.DataFrame
        ``source``, ``target`` and optionally ``date``, ``patient_key``, ``amount``.
    what : {"panel", "ties"}
        The table to compute.
    spark : SparkSession, optional
        A session; one on `master` is started (and stopped) otherwise.
    master : str, default "local[2]"
        Master of a session started here.

    Returns
    -------
    pandas.DataFrame
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _require_pyspark()
    fn = __import__("pyspark.sql.functions", fromlist=["col"])
    has_dates = "date" in events.columns
    has_patients = "patient_key" in events.columns
    has_amount = "amount" in events.columns
    if what == "panel" and not has_dates:
        raise ParameterError("The Spark panel needs dated events.")
    columns: dict[str, Any] = {
        "source": pa.array(events["source"].astype("str").to_numpy(dtype=object)),
        "target": pa.array(events["target"].astype("str").to_numpy(dtype=object)),
    }
    if has_dates:
        columns["date"] = pa.array(
            events["date"].to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us")
        )
    if has_patients:
        key = events["patient_key"].to_numpy(dtype=np.int64)
        columns["patient"] = pa.array(key, mask=key < 0)
    if has_amount:
        columns["amount"] = pa.array(events["amount"].to_numpy(dtype=np.float64), from_pandas=True)
    scratch = Path(tempfile.mkdtemp(prefix="referral_graph_spark_"))
    session, own_session = _session_for(spark, master)
    try:
        with _quiet():
            pq.write_table(pa.table(columns), scratch / "events.parquet")
            good = session.read.parquet(str(scratch / "events.parquet"))
            if has_dates:
                good = good.withColumn("date", fn.col("date").cast("timestamp_ntz"))
            good = good.withColumn("w", fn.lit(1).cast("long"))
            table = (
                _panel(good, fn, has_patients, has_amount)
                if what == "panel"
                else _ties(good, fn, has_patients, has_amount, has_dates)
            )
            path = _write_single(table, scratch / f"{what}.parquet", scratch)
            return read_output(path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if own_session:
            session.stop()
