"""The Spark engine's aggregated tables: panel, ties and patient panels (:mod:`.spark`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _panel(good: DataFrame, fn: Any, has_patients: bool, has_amount: bool) -> DataFrame:
    """One row per (source, target, month): the two-level distinct count."""
    month = fn.date_trunc("month", fn.col("date")).cast("timestamp_ntz").alias("month")
    inner_keys = ["source", "target", "month"] + (["patient"] if has_patients else [])
    inner_aggs = [fn.sum("w").alias("n"), fn.min("date").alias("d0"), fn.max("date").alias("d1")]
    if has_amount:
        inner_aggs.append(fn.sum(fn.col("amount") * fn.col("w")).alias("amount"))
    per = good.select("*", month).groupBy(*inner_keys).agg(*inner_aggs)
    outer = [fn.sum("n").cast("long").alias("referrals")]
    names = ["source", "target", "month", "referrals"]
    if has_patients:
        outer.append(fn.count("patient").cast("long").alias("patients"))
        names.append("patients")
    if has_amount:
        outer.append(fn.sum("amount").cast("double").alias("amount"))
        names.append("amount")
    outer += [
        fn.dayofmonth(fn.min("d0")).cast("byte").alias("first_day"),
        fn.dayofmonth(fn.max("d1")).cast("byte").alias("last_day"),
    ]
    names += ["first_day", "last_day"]
    return (
        per.groupBy("source", "target", "month")
        .agg(*outer)
        .select(*names)
        .orderBy("source", "target", "month")
    )


def _ties(
    good: DataFrame, fn: Any, has_patients: bool, has_amount: bool, has_dates: bool
) -> DataFrame:
    """One row per (source, target): referrals, distinct patients, amounts, dates, months."""
    inner_keys = ["source", "target"] + (["patient"] if has_patients else [])
    inner = [fn.sum("w").alias("n")]
    if has_amount:
        inner.append(fn.sum(fn.col("amount") * fn.col("w")).alias("amount"))
    if has_dates:
        inner += [fn.min("date").alias("d0"), fn.max("date").alias("d1")]
    per = good.groupBy(*inner_keys).agg(*inner)
    outer = [fn.sum("n").cast("long").alias("referrals")]
    names = ["source", "target", "referrals"]
    if has_patients:
        outer.append(fn.count("patient").cast("long").alias("patients"))
        names.append("patients")
    if has_amount:
        outer.append(fn.sum("amount").cast("double").alias("amount"))
        names.append("amount")
    if has_dates:
        outer += [
            fn.min("d0").cast("timestamp_ntz").alias("first_date"),
            fn.max("d1").cast("timestamp_ntz").alias("last_date"),
        ]
        names += ["first_date", "last_date"]
    ties = per.groupBy("source", "target").agg(*outer)
    if has_dates:
        months = (
            good.select("source", "target", fn.date_trunc("month", fn.col("date")).alias("m"))
            .distinct()
            .groupBy("source", "target")
            .agg(fn.count("m").cast("long").alias("active_months"))
        )
        ties = ties.join(months, ["source", "target"], "inner")
        names.append("active_months")
    return ties.select(*names).orderBy("source", "target")


def _patients(good: DataFrame, fn: Any) -> DataFrame:
    """Each provider's distinct patients as referrer or receiver (rows with a patient id)."""
    rows = good.where(fn.col("patient").isNotNull())
    pairs = (
        rows.select(fn.col("source").alias("id"), "patient")
        .union(rows.select(fn.col("target").alias("id"), "patient"))
        .distinct()
    )
    return (
        pairs.groupBy("id")
        .agg(fn.count(fn.lit(1)).cast("long").alias("patients"))
        .select("id", "patients")
        .orderBy("id")
    )
