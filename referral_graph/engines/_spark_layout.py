"""The Spark engine writes a store's export layout (:mod:`referral_graph._layout`).

``aggregate_spark(events, layout=DIR, key_file=KEY)`` writes the folder that
``referral-graph store export`` writes, from raw event files: its keyed hash of a
patient id equals the store's bit for bit (the same secret gives the same key,
tested on ids with accents, quotes and spaces), so the folder loads into the store
whose key file it was given (:meth:`referral_graph.store.ReferralStore.import_layout`).
The secret reaches the executors as the value of a one-row table, not as a literal
in the query plan, which Spark shows in its web interface and event logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referral_graph import _layout
from referral_graph.exceptions import InputError, ParameterError
from referral_graph.io._folders import atomic_folder
from referral_graph.validate import ValidationReport

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def layout_target(
    layout: str | os.PathLike[str] | None, key_file: str | os.PathLike[str] | None
) -> tuple[Path, Path] | None:
    """The layout's folder and key file, checked before any work: local, new, with a key."""
    if layout is None:
        return None
    text = os.fspath(layout)
    if "://" in text and not text.startswith("file://"):
        raise ParameterError(
            f"The 'layout' parameter of aggregate_spark must be a local folder (or a mounted "
            f"one, such as /dbfs/...). Got {text!r}: write the tables there with write=, or "
            "copy them."
        )
    if key_file is None:
        raise ParameterError(
            "The 'key_file' parameter of aggregate_spark is needed with layout=: the file of "
            "the secret of the patients' keyed hash (the store's key file, so that the layout "
            "loads into that store; created when it does not exist)."
        )
    folder = Path(text[len("file://") :] if text.startswith("file://") else text)
    _layout.check_new_folder(folder)
    return folder, Path(os.fspath(key_file))


def remembered(
    explicit: dict[str, str | None],
    *,
    date_format: str | None,
    npi: Any,
    delimiter: str | None,
    encoding: str,
) -> dict[str, Any]:
    """The reading options a store loading the layout remembers (those it reads too)."""
    options: dict[str, Any] = {f"{k}_col": v for k, v in explicit.items() if v is not None}
    options.update({k: v for k, v in (("date_format", date_format), ("delimiter", delimiter)) if v})
    options["npi"] = npi
    charset = encoding.lower().replace("_", "-")
    if charset in ("utf-8", "utf8", "latin-1", "latin1", "iso-8859-1"):
        options["encoding"] = "utf-8" if charset.startswith("utf") else "latin-1"
    return options


def patient_key(fn: Any, patient: Column, secret: Column) -> Column:
    """The keyed hash of a patient id, as the store's (``engines._files_sql._patient_key_sql``):
    the first 16 hex digits of SHA-256 of ``secret:id``, read as a signed 64-bit integer."""
    digest = fn.sha2(fn.concat(secret, fn.lit(":"), patient), 256)
    key: Column = fn.conv(fn.substring(digest, 1, 16), 16, -10).cast("long")
    return key


def write_layout(
    spark: SparkSession,
    fn: Any,
    good: DataFrame,
    tables: dict[str, DataFrame],
    *,
    target: tuple[Path, Path],
    cols: dict[str, str],
    report: ValidationReport,
    kept: int,
    options: dict[str, Any],
) -> Path:
    """Write the layout from the engine's kept events (`good`: one row per distinct event,
    its ``w`` the times it counts) and its tables."""
    folder, key_file = target
    if "date" not in cols:
        raise InputError(
            f"{report.name}: no date column found. A store layout keeps a referral history: "
            "its events need dates (date_col=)."
        )
    has_patients, has_amount = "patient_id" in cols, "amount" in cols
    secret: str | None = None
    events = good
    patient = fn.lit(None).cast("long")
    if has_patients:
        secret = _layout.read_key(key_file) if key_file.exists() else _layout.create_key(key_file)
        key = spark.createDataFrame([(secret,)], "rg_secret string")
        events = events.crossJoin(fn.broadcast(key))
        patient = patient_key(fn, fn.col("patient"), fn.col("rg_secret"))
    columns = {"amount": "double", "service_line": "string", "payer": "string"}
    events = events.select(
        "source",
        "target",
        fn.col("date").cast("timestamp_ntz").alias("date"),
        patient.alias("patient"),
        *[
            (fn.col(c) if c in cols else fn.lit(None)).cast(kind).alias(c)
            for c, kind in columns.items()
        ],
        fn.col("w").cast("int").alias("copies"),
        fn.to_date(fn.date_trunc("month", fn.col("date"))).alias("month"),
    )
    stats = events.agg(
        fn.sum("copies").alias("n"), fn.min("date").alias("d0"), fn.max("date").alias("d1")
    ).collect()[0]
    months = [r[0].strftime("%Y-%m") for r in events.select("month").distinct().collect()]
    meta = _layout.layout_meta(
        written_by="aggregate_spark",
        fingerprint=None if secret is None else _layout.key_fingerprint(secret),
        has_patients=has_patients,
        has_amount=has_amount,
        options=options,
        stats=(stats["n"], stats["d0"], stats["d1"]),
        months=sorted(months),
        loads=[
            {
                "file": report.name,
                "rows_read": report.rows_read,
                "kept": kept,
                "excluded": report.excluded_by_reason,
                "first_date": None if stats["d0"] is None else str(stats["d0"]),
                "last_date": None if stats["d1"] is None else str(stats["d1"]),
                "months": sorted(months),
            }
        ],
    )
    with atomic_folder(folder) as tmp:
        for name, table in (("events", events), ("panel", tables["panel"])):
            table = table.withColumn("month", fn.to_date("month")) if name == "panel" else table
            writer = table.write.option("compression", "zstd").partitionBy("month")
            writer.parquet(str(tmp / name))
        for name in ("ties", "patients"):
            if name in tables:
                tables[name].coalesce(1).write.option("compression", "zstd").parquet(
                    str(tmp / name)
                )
        _layout.tidy(tmp)
        _layout.write_meta(tmp, meta)
    return folder
