"""Aggregated edges: generic, CMS Physician Shared Patient Patterns, CareSet Hop Teaming."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from referral_graph._checks import check_decimal, header_key
from referral_graph.exceptions import ParameterError
from referral_graph.io._clean import _check_id_columns, _log_summary
from referral_graph.io._columns import EDGE_ALIASES, _mapped_columns, _resolve_columns
from referral_graph.io._files import NpiMode, PathOrFrame, RawTable, read_table
from referral_graph.privacy import is_count_name
from referral_graph.validate import check_missing_providers, parse_numbers, parse_periods

logger = logging.getLogger("referral_graph.io")

#: Aggregated-edge layouts: canonical name -> the layout's own column names.
EDGE_LAYOUTS: dict[str, dict[str, Any]] = {
    "cms-pspp": {
        "columns": ["npi_from", "npi_to", "pair_count", "bene_count", "same_day_count"],
        "source": "npi_from",
        "target": "npi_to",
        "weight": "pair_count",
        "patients": "bene_count",
        "counts": ["pair_count", "bene_count", "same_day_count"],
        "measures": [],
        # the headers of CMS's (DocGraph's) own files: Initial, Secondary, Total, Unique,
        # Same Day (the source and target names are among the generic ones)
        "aliases": {"weight": ("total",), "patients": ("unique",)},
    },
    "hop-teaming": {
        "columns": [
            "from_npi",
            "to_npi",
            "patient_count",
            "transaction_count",
            "average_day_wait",
            "std_day_wait",
        ],
        "source": "from_npi",
        "target": "to_npi",
        "weight": "transaction_count",
        "patients": "patient_count",
        "counts": ["patient_count", "transaction_count"],
        "measures": ["average_day_wait", "std_day_wait"],
    },
}


def _detect_layout(columns: Sequence[str]) -> str:
    normed = {header_key(c) for c in columns}
    if {"pair_count", "bene_count"} <= normed:
        return "cms-pspp"
    if {"transaction_count", "patient_count"} <= normed:
        return "hop-teaming"
    return "generic"


def read_edges(
    data: PathOrFrame,
    *,
    layout: Literal["auto", "generic", "cms-pspp", "hop-teaming"] = "auto",
    source_col: str | None = None,
    target_col: str | None = None,
    weight_col: str | None = None,
    patient_col: str | None = None,
    period_col: str | None = None,
    npi: NpiMode = "auto",
    providers: pd.DataFrame | None = None,
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | int | None = None,
    decimal: str = ".",
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate an aggregated edge file (one row per tie, or tie and period).

    Parameters
    ----------
    data : path or pandas.DataFrame
        The edge file.
    layout : {"auto", "generic", "cms-pspp", "hop-teaming"}
        ``"cms-pspp"``: CMS Physician Shared Patient Patterns (``npi_from,
        npi_to, pair_count, bene_count, same_day_count``, with or without a
        header); ``"hop-teaming"``: CareSet Hop Teaming (``from_npi, to_npi,
        patient_count, transaction_count, average_day_wait, std_day_wait``);
        ``"generic"``: ``source, target, weight[, period]``. ``"auto"``
        recognises the layouts by their columns (a header-less file of five
        numeric columns is read as CMS).
    source_col, target_col, weight_col, patient_col, period_col : str, optional
        Override the layout's columns (for example ``weight_col="Total2014"``).
    npi, providers, encoding, delimiter, sheet, decimal, strict
        As in :func:`read_events` (`decimal` for the counts and measures).

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target``, ``referrals`` (int64, the layout's volume:
        ``pair_count``, ``transaction_count`` or ``weight``), ``patients``
        (Int64, when the layout has a patient count), ``month`` (when a
        period column is given), the layout's own count columns, and any
        other columns of the input: as numbers (Int64) when their names denote
        counts (:func:`referral_graph.privacy.is_count_name`, e.g. CMS's
        ``Same Day2014``), so that small-cell suppression applies to them;
        otherwise kept as they are. ``attrs["layout"]``
        names the layout used.

    Examples
    --------
    >>> raw = pd.DataFrame({"from_npi": ["1234567893"], "to_npi": ["1003033051"],
    ...                     "patient_count": ["76"], "transaction_count": ["134"],
    ...                     "average_day_wait": ["15.5"], "std_day_wait": ["3.2"]})
    >>> edges = read_edges(raw)
    >>> edges.attrs["layout"], int(edges["referrals"].iloc[0]), int(edges["patients"].iloc[0])
    ('hop-teaming', 134, 76)
    """
    check_decimal(decimal, "read_edges")
    check_layout(layout, "read_edges")
    raw = read_table(data, encoding=encoding, delimiter=delimiter, sheet=sheet)
    edges, cols = validated_edges(
        raw,
        layout=layout,
        source_col=source_col,
        target_col=target_col,
        weight_col=weight_col,
        patient_col=patient_col,
        period_col=period_col,
        npi=npi,
        decimal=decimal,
    )
    report = raw.report
    if providers is not None:
        check_missing_providers(edges, providers, report=report, columns=cols)
    report.raise_if_needed(strict=strict)
    _log_summary(f"{edges.attrs['layout']} edges", edges, report)
    edges.attrs["report"] = report
    edges.attrs["name"] = report.name
    return edges


def check_layout(layout: str, func: str) -> None:
    """Raise :class:`ParameterError` unless `layout` is one :func:`read_edges` reads."""
    if layout not in ("auto", "generic", "cms-pspp", "hop-teaming"):
        raise ParameterError(
            f"The 'layout' parameter of {func} must be one of 'auto', 'generic', "
            f"'cms-pspp', 'hop-teaming'. Got {layout!r} instead."
        )


def validated_edges(
    raw: RawTable,
    *,
    layout: str,
    source_col: str | None,
    target_col: str | None,
    weight_col: str | None,
    patient_col: str | None,
    period_col: str | None,
    npi: NpiMode,
    decimal: str,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The row checks of :func:`read_edges` on a table read: the edges kept, and the columns.

    Every problem goes to ``raw.report`` (nothing is raised for row problems): the
    caller checks the providers, raises and logs. Also run by the out-of-core reader
    (:mod:`referral_graph.engines.edge_files`) on the rows of a large file that are not
    plainly clean, so that both word and count every problem alike. ``attrs["layout"]``
    of the result names the layout used.
    """
    cms_columns = EDGE_LAYOUTS["cms-pspp"]["columns"]
    headerless = any(i.check == "no_header" for i in raw.report.issues)
    chosen: str = layout
    if headerless and layout in ("auto", "cms-pspp") and len(raw.frame.columns) == len(cms_columns):
        # a RawTable from a file owns its frame: renaming does not touch the caller's data
        raw.frame.columns = pd.Index(cms_columns)
        raw.report.add(
            "no_header", "read as the CMS layout " + ", ".join(cms_columns), level="info"
        )
        chosen = "cms-pspp"
    report = raw.report
    if chosen == "auto":
        chosen = _detect_layout([str(c) for c in raw.frame.columns])
    layout_name = chosen
    spec: dict[str, Any] | None = EDGE_LAYOUTS.get(chosen)
    aliases = dict(EDGE_ALIASES)
    if spec is not None:
        aliases = {
            "source": (spec["source"], *EDGE_ALIASES["source"]),
            "target": (spec["target"], *EDGE_ALIASES["target"]),
            "weight": (spec["weight"], *spec.get("aliases", {}).get("weight", ())),
            "patients": (spec["patients"], *spec.get("aliases", {}).get("patients", ())),
            "period": EDGE_ALIASES["period"],
        }
    cols = _resolve_columns(
        raw,
        aliases,
        {
            "source": source_col,
            "target": target_col,
            "weight": weight_col,
            "patients": patient_col,
            "period": period_col,
        },
        required=("source", "target") if spec is None else ("source", "target", "weight"),
        hint_flags={"source": "--source-col", "target": "--target-col", "weight": "--weight-col"},
    )
    logger.info(
        "Reading %s edges from %s with columns %s", layout_name, report.name, _mapped_columns(cols)
    )
    frame = raw.frame
    out: dict[str, pd.Series] = {}
    bad, _ = _check_id_columns(
        frame,
        cols,
        out,
        report=report,
        npi=npi,
        message="the source and target are the same provider",
        hint="self-loops are not ties of the network; remove them",
    )
    if "weight" in cols:
        weight, wbad = parse_numbers(
            frame[cols["weight"]],
            report=report,
            column=cols["weight"],
            kind="count",
            decimal=decimal,
        )
        missing = weight.isna() & ~wbad
        if missing.any():
            report.add(
                "missing_count",
                "the count is missing",
                column=cols["weight"],
                rows=frame.index[missing.to_numpy()],
                excluded=True,
                hint="fill in the count, or choose another --weight-col",
            )
        bad |= wbad | missing
        out["referrals"] = weight
    else:
        report.add("no_weight", "no weight column: every tie counts 1 referral", level="info")
        out["referrals"] = pd.Series(1.0, index=frame.index)
    if "patients" in cols:
        patients, pbad = parse_numbers(
            frame[cols["patients"]],
            report=report,
            column=cols["patients"],
            kind="patient count",
            decimal=decimal,
        )
        bad |= pbad
        out["patients"] = patients
    if "period" in cols:
        period_raw = frame[cols["period"]]
        months, dbad = parse_periods(
            period_raw.astype("str").where(period_raw.notna()), report=report, column=cols["period"]
        )
        out["month"] = months
        bad |= dbad
    counts: list[str] = [] if spec is None else list(spec["counts"])
    measures: list[str] = [] if spec is None else list(spec["measures"])
    volume = () if spec is None else (spec["weight"], spec["patients"])
    extra_numeric = [c for c in counts + measures if c not in volume]
    for c in extra_numeric:
        actual = next((x for x in frame.columns if header_key(x) == c), None)
        if actual is None:
            continue
        values, _ = parse_numbers(
            frame[actual],
            report=report,
            column=actual,
            kind="count" if c in counts else "value",
            exclude=False,
            integer=c in counts,
            decimal=decimal,
        )
        out[c] = values
    used = set(cols.values()) | {x for x in frame.columns if header_key(x) in out}
    edges = pd.DataFrame(out, index=frame.index)
    for c in frame.columns:
        if c in used or str(c) in edges.columns:
            continue
        if is_count_name(c):
            # Counts under the file's own names ("Same Day2014") are read as numbers, so that
            # small-cell suppression applies to them like to the layout's own counts.
            values, _ = parse_numbers(
                frame[c], report=report, column=str(c), kind="count", exclude=False, decimal=decimal
            )
            edges[str(c)] = values.round().astype("Int64")
        else:
            edges[str(c)] = frame[c]
    edges = edges.loc[~bad.to_numpy()].copy()
    edges["referrals"] = edges["referrals"].round().astype("int64")
    if "patients" in edges:
        edges["patients"] = edges["patients"].round().astype("Int64")
    if spec is not None:  # keep the layout's own names for its volume columns too
        for canonical, own in (("referrals", spec["weight"]), ("patients", spec["patients"])):
            if canonical in edges and own not in edges:
                edges[own] = edges[canonical]
    for c in extra_numeric:
        if c in edges and c in counts:
            edges[c] = edges[c].round().astype("Int64")
    tie_key = ["source", "target"] + (["month"] if "month" in edges else [])
    dup = edges.duplicated(subset=tie_key, keep="first")
    if dup.any():
        exact = edges.duplicated(keep="first")
        if exact.any():
            report.add(
                "duplicate_row",
                "the row repeats an earlier row exactly",
                column=", ".join(str(c) for c in frame.columns),
                rows=edges.index[exact.to_numpy()],
                excluded=True,
                hint="remove double-loaded rows",
            )
            edges = edges.loc[~exact.to_numpy()]
        conflict = edges.duplicated(subset=tie_key, keep=False)
        if conflict.any():
            report.add(
                "duplicate_tie",
                "the same tie appears on several rows with different counts; they are added up",
                rows=edges.index[conflict.to_numpy()],
                examples=(edges.loc[conflict, "source"] + " -> " + edges.loc[conflict, "target"])
                .drop_duplicates()
                .head(3),
                hint="give one row per tie (and period), or add a --period-col",
            )
            edges = _sum_duplicate_ties(edges, tie_key, measures=measures)
    edges.attrs["layout"] = layout_name
    return edges, cols


def _sum_duplicate_ties(
    edges: pd.DataFrame, key: list[str], *, measures: Sequence[str] = ()
) -> pd.DataFrame:
    """Add up the counts of rows of one tie; waits (`measures`) are combined, not added.

    ``average_*`` measures become the mean weighted by ``referrals``; ``std_*``
    measures the pooled standard deviation around that mean.
    """
    measure_cols = [c for c in measures if c in edges.columns]
    numeric = [
        c
        for c in edges.columns
        if c not in key and c not in measure_cols and pd.api.types.is_numeric_dtype(edges[c])
    ]
    other = [
        c for c in edges.columns if c not in key and c not in numeric and c not in measure_cols
    ]
    agg: dict[str, Any] = {c: "sum" for c in numeric}
    agg.update({c: "first" for c in other})
    positions = pd.Series(np.arange(len(edges)), index=edges.index)
    groups = [edges[k] for k in key]
    first = positions.groupby(groups, sort=False).first()
    summed = edges.groupby(key, sort=False, as_index=False).agg(agg)
    if measure_cols:
        weight = edges["referrals"].astype("float64")
        means = [c for c in measure_cols if not c.startswith("std")]
        mean_of: dict[str, pd.Series] = {}
        for c in means:
            num = (edges[c] * weight).groupby(groups, sort=False).sum(min_count=1)
            den = weight.where(edges[c].notna()).groupby(groups, sort=False).sum(min_count=1)
            mean_of[c] = num / den
            summed[c] = mean_of[c].to_numpy()
        for c in measure_cols:
            if c in mean_of:
                continue
            partner = c.replace("std", "average", 1)
            if partner not in mean_of:
                summed[c] = np.nan
                continue
            # pooled variance: E[x^2] - E[x]^2 over all referrals of the tie
            second = edges[c] ** 2 + edges[partner] ** 2
            num = (second * weight).groupby(groups, sort=False).sum(min_count=1)
            den = weight.where(second.notna()).groupby(groups, sort=False).sum(min_count=1)
            variance = (num / den - mean_of[partner] ** 2).clip(lower=0)
            summed[c] = np.sqrt(variance.to_numpy(dtype="float64"))
    summed.index = edges.index[first.to_numpy()]
    return summed[list(edges.columns)]
