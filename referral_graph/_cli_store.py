"""The command line's store commands, ``ingest`` and ``store info|export|import``
(:mod:`referral_graph.store`).

The other commands read a store with ``--store FILE.duckdb`` in place of ``--events``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from referral_graph._progress import Progress

__all__ = ["add_store_commands", "backtest_folds"]


def add_store_commands(sub: Any) -> None:
    """Add ``ingest`` and ``store`` to the CLI's sub-command parsers."""
    p = sub.add_parser(
        "ingest",
        help="check event files and add them to a referral store (a DuckDB file)",
        description="Check event files as every reader does and add their events to a "
        "referral store, one transaction per file: a file loaded before, or events another "
        "file already brought (overlapping extracts), add nothing. Patient ids are replaced "
        "by a keyed hash whose secret is kept in a key file apart from the store (default: "
        "STORE.key). The column names and reading options are remembered: the next ingest "
        "needs only --store and --events. Then run report, score, at-risk, backtest, viz or "
        "build with --store instead of --events.",
    )
    p.add_argument("--store", required=True, metavar="FILE.duckdb", help="the store (created)")
    p.add_argument(
        "--events",
        required=True,
        nargs="+",
        metavar="FILE",
        help="event files (CSV, compressed CSV or Parquet, with dates), loaded in this order",
    )
    p.add_argument(
        "--key-file",
        metavar="FILE",
        help="the file of the store's secret (default: STORE.key beside the store)",
    )
    opts = _add_reading_options(
        p,
        "column names (remembered; common aliases are recognised)",
        "reading (remembered from the store's earlier loads)",
    )
    opts.add_argument("--decimal", choices=[".", ","], help="decimal mark of amounts")
    opts.add_argument(
        "--strict", action="store_true", help="treat every validation warning as an error"
    )
    opts.add_argument(
        "--memory-limit", default="8GB", help="DuckDB's memory limit while reading (default 8GB)"
    )
    opts.add_argument("--temp-dir", metavar="DIR", help="where DuckDB spills (default: a temp dir)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "store",
        help="describe a referral store, export it as Parquet, or load an export into one",
        description="info: one line per load of the store (file, content hash, rows read, "
        "kept, added, excluded and why, the months it changed, when), the events, ties and "
        "providers it holds, its period and its size on disk, and the reports recorded in it "
        "(what the next report compares with). export: write the store as a "
        "layout, a new folder of Parquet tables partitioned by month (events with patients as "
        "their keyed hash only, panel, ties, patient panels) and layout.json; with --events "
        "instead of --store, Apache Spark writes the same layout from event files. import: "
        "load a layout into a store, in one transaction (a layout loaded before adds nothing); "
        "its patients must have been keyed with the store's key file.",
    )
    p.add_argument(
        "action",
        choices=["info", "export", "import"],
        help="info: describe the store; export: write a layout (--out); import: load one "
        "(--layout)",
    )
    p.add_argument("--store", metavar="FILE.duckdb", help="the store")
    p.add_argument("--out", metavar="DIR", help="export: the layout's folder (a new one)")
    p.add_argument("--layout", metavar="DIR", help="import: the layout's folder")
    p.add_argument(
        "--key-file",
        metavar="FILE",
        help="import: the store's key file (default: STORE.key), which must be the one the "
        "layout was written with; export --events: the key file to key patients with (the "
        "store's; created when missing)",
    )
    spark = p.add_argument_group(
        "export from event files on Apache Spark, without a store "
        "(pip install referral_graph[spark])"
    )
    spark.add_argument(
        "--events", nargs="+", metavar="FILE", help="event files (CSV or Parquet, with dates)"
    )
    spark.add_argument(
        "--spark-master", default="local[2]", metavar="URL", help="Spark master (default local[2])"
    )
    _add_reading_options(p, "column names of --events", "reading --events")
    p.set_defaults(func=cmd_store)


def backtest_folds(args: argparse.Namespace) -> dict[str, str] | None:
    """The backtest test cutoffs the store of ``--store`` keeps (None without a store): a
    backtest run there reuses those its reports computed on the same data and options."""
    if getattr(args, "store", None) is None:
        return None
    from referral_graph.store import open_store

    with open_store(args.store, read_only=True) as store:
        return store.backtest_folds()


def _add_reading_options(p: Any, columns: str, reading: str) -> Any:
    """The column name and reading options of event files; returns the reading group."""
    cols = p.add_argument_group(columns)
    for flag, help_ in (
        ("--source-col", "referring provider id column"),
        ("--target-col", "receiving provider id column"),
        ("--date-col", "referral date column"),
        ("--patient-col", "patient id column"),
        ("--amount-col", "amount / revenue column"),
        ("--service-line-col", "service line column"),
        ("--payer-col", "payer column"),
    ):
        cols.add_argument(flag, metavar="NAME", help=help_)
    opts = p.add_argument_group(reading)
    opts.add_argument("--date-format", metavar="FMT", help="strftime format, e.g. %%d/%%m/%%Y")
    opts.add_argument(
        "--ids",
        choices=["auto", "npi", "any"],
        help="npi: ids must be valid NPIs; any: no NPI check; auto (the default, unless the "
        "store remembers another): check ids that look like NPIs",
    )
    opts.add_argument("--encoding", choices=["utf-8", "latin-1"], help="file encoding")
    opts.add_argument("--delimiter", help="CSV delimiter (default: detected)")
    return opts


def cmd_ingest(args: argparse.Namespace) -> int:
    """``referral-graph ingest``: add event files to a store, one transaction each."""
    from referral_graph.store import REMEMBERED, open_store

    # the reading options by the names ingest takes (each flag's name but --ids's)
    options: dict[str, Any] = {key: getattr(args, key) for key in REMEMBERED if key != "npi"}
    if args.ids is not None:  # else the store's remembered id scheme
        options["npi"] = "auto" if args.ids == "auto" else args.ids == "npi"
    progress = Progress(8 * len(args.events), enabled=not args.quiet, desc="ingest")
    try:
        with open_store(args.store, key_file=args.key_file) as store:
            for path in args.events:
                load = store.ingest(
                    path,
                    strict=args.strict,
                    memory_limit=args.memory_limit,
                    temp_directory=args.temp_dir,
                    progress=progress,
                    **options,
                )
                if load.skipped:
                    print(f"{path}: loaded before (same content): nothing added")
                    continue
                line = f"{path}: {load.rows_read:,} rows read, {load.kept:,} events kept"
                if load.excluded:
                    line += " (excluded " + ", ".join(
                        f"{n:,} {reason.replace('_', ' ')}" for reason, n in load.excluded.items()
                    )
                    line += ")"
                line += f", {load.added:,} new to the store"
                if load.kept > load.added:
                    line += f" ({load.kept - load.added:,} were in it already)"
                print(line)
                if load.months:
                    print(f"  months updated: {_months_text(load.months)}")
            summary = store.summary()
    finally:
        progress.close()
    print(_summary_text(summary))
    return 0


def cmd_store(args: argparse.Namespace) -> int:
    """``referral-graph store info|export|import``."""
    from referral_graph.exceptions import ParameterError

    needs = {"info": ("store",), "export": ("out",), "import": ("store", "layout")}
    missing = [f"--{n}" for n in needs[args.action] if getattr(args, n) is None]
    if args.action == "export" and (args.store is None) == (args.events is None):
        missing.append("either --store or --events (not both)")
    if args.action == "export" and args.events is not None and args.key_file is None:
        missing.append("--key-file (with --events)")
    if missing:
        raise ParameterError(f"store {args.action} needs {', '.join(missing)}.")
    if args.action == "export":
        return _export(args)
    if args.action == "import":
        return _import(args)
    return _info(args)


def _export(args: argparse.Namespace) -> int:
    """``store export``: the store (or, with --events, Spark) writes a layout."""
    from referral_graph.store import open_store

    if args.store is not None:
        with open_store(args.store, read_only=True) as store:
            store.export(args.out)
            summary = store.summary()
        print(f"{args.out}: the layout of {summary['events']:,} events of {args.store}")
        return 0
    from referral_graph.engines.spark import aggregate_spark
    from referral_graph.store import REMEMBERED

    progress = Progress(10, enabled=not args.quiet, desc="export")
    try:
        result = aggregate_spark(
            args.events,
            master=args.spark_master,
            collect=False,
            layout=args.out,
            key_file=args.key_file,
            npi="auto" if args.ids in (None, "auto") else args.ids == "npi",
            encoding="ISO-8859-1" if args.encoding == "latin-1" else "utf-8",  # Java's names
            progress=progress,
            **{k: getattr(args, k) for k in REMEMBERED if k not in _TRANSLATED},
        )
    finally:
        progress.close()
    report = result.report
    line = f"{report.name}: {report.rows_read:,} rows read, {result.events:,} events kept"
    if report.excluded_by_reason:
        line += " (excluded " + ", ".join(
            f"{n:,} {reason.replace('_', ' ')}" for reason, n in report.excluded_by_reason.items()
        )
        line += ")"
    print(line)
    print(f"{args.out}: the layout of these events, written by Spark")
    return 0


def _import(args: argparse.Namespace) -> int:
    """``store import``: load a layout into a store."""
    from referral_graph.store import open_store

    with open_store(args.store, key_file=args.key_file) as store:
        load = store.import_layout(args.layout)
        summary = store.summary()
    if load.skipped:
        print(f"{args.layout}: loaded before (same content): nothing added")
    else:
        print(f"{args.layout}: {load.kept:,} events, {load.added:,} new to the store")
        if load.months:
            print(f"  months updated: {_months_text(load.months)}")
    print(_summary_text(summary))
    return 0


#: The remembered reading options that ``store export --events`` does not pass to
#: aggregate_spark as they are: ``npi`` and ``encoding`` are translated, and it has no
#: ``--decimal``.
_TRANSLATED = ("npi", "encoding", "decimal")


def _info(args: argparse.Namespace) -> int:
    """``store info``: the store's loads and figures."""
    from referral_graph.store import open_store

    with open_store(args.store, read_only=True) as store:
        summary = store.summary()
        loads = store.loads()
        reports = store.reports()
        folds = store.backtest_folds()
        remembered = store.options()
    print(_summary_text(summary))
    if remembered:
        print("Remembered options: " + ", ".join(f"{k}={v!r}" for k, v in remembered.items()))
    for row in loads.itertuples(index=False):
        excluded = json.loads(str(row.excluded))
        print(
            f"load {row.load_id}: {row.file} (sha256 {str(row.sha256)[:12]}…, "
            f"{row.bytes:,} bytes) on {row.loaded_at:%Y-%m-%d %H:%M} UTC"
        )
        line = f"  {row.rows_read:,} rows read, {row.kept:,} kept, {row.added:,} added"
        if excluded:
            line += "; excluded " + ", ".join(
                f"{n:,} ({reason.replace('_', ' ')})" for reason, n in excluded.items()
            )
        print(line)
        print(
            f"  events from {row.first_date:%Y-%m-%d} to {row.last_date:%Y-%m-%d}; months "
            f"updated: {_months_text(json.loads(str(row.months)))}"
        )
    if len(reports):
        print(
            "Reports recorded (a report after a new load says what changed since the last one "
            "on its focus):"
        )
    for row in reports.itertuples(index=False):
        print(
            f"report {row.report_id}: on {row.focus}, made {row.made_at:%Y-%m-%d %H:%M} UTC "
            f"after load {row.loads_through}, data to {row.data_end:%Y-%m-%d}, "
            f"{row.flagged:,} ties flagged at risk"
        )
    if folds:
        print(
            f"Backtest test cutoffs kept: {len(folds):,} (a report fits only the cutoffs whose "
            "data or options changed since, and reuses the others)"
        )
    return 0


def _months_text(months: list[str]) -> str:
    if not months:
        return "none"
    if len(months) <= 4:
        return ", ".join(months)
    return f"{months[0]} to {months[-1]} ({len(months)} months)"


def _summary_text(summary: dict[str, Any]) -> str:
    period = (
        f"from {summary['first_date']:%Y-%m-%d} to {summary['last_date']:%Y-%m-%d}"
        if summary["first_date"] is not None
        else "no events yet"
    )
    return (
        f"Store {summary['path']}: {summary['loads']:,} load(s), {summary['events']:,} events, "
        f"{summary['ties']:,} ties, {summary['providers']:,} providers, {period}; "
        f"{summary['bytes'] / 1e6:,.1f} MB on disk"
    )
