"""The command line's store commands, ``ingest`` and ``store info`` (:mod:`referral_graph.store`).

The other commands read a store with ``--store FILE.duckdb`` in place of ``--events``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from referral_graph._progress import Progress

__all__ = ["add_store_commands"]


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
    cols = p.add_argument_group("column names (remembered; common aliases are recognised)")
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
    opts = p.add_argument_group("reading (remembered from the store's earlier loads)")
    opts.add_argument("--date-format", metavar="FMT", help="strftime format, e.g. %%d/%%m/%%Y")
    opts.add_argument(
        "--ids",
        choices=["auto", "npi", "any"],
        help="npi: ids must be valid NPIs; any: no NPI check; auto (the first default): check "
        "ids that look like NPIs",
    )
    opts.add_argument("--encoding", choices=["utf-8", "latin-1"], help="file encoding")
    opts.add_argument("--delimiter", help="CSV delimiter (default: detected)")
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
        help="what a referral store holds: its loads, period and size",
        description="Describe a referral store: one line per load (file, content hash, rows "
        "read, kept, added, excluded and why, the months it changed, when), the events, ties "
        "and providers it holds, its period and its size on disk, and the reports recorded "
        "in it (what the next report compares with).",
    )
    p.add_argument("action", choices=["info"], help="info: describe the store")
    p.add_argument("--store", required=True, metavar="FILE.duckdb", help="the store")
    p.set_defaults(func=cmd_store)


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
    """``referral-graph store info``: the store's loads and figures."""
    from referral_graph.store import open_store

    with open_store(args.store, read_only=True) as store:
        summary = store.summary()
        loads = store.loads()
        reports = store.reports()
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
