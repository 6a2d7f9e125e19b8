"""The ``referral-graph`` command: thin commands over the public API.

Every command has ``--help``. Bad input gives one clear line on standard
error and exit code 1 (the traceback only with ``--verbose``). Progress bars
on long steps go to standard error; results go to files, summaries to
standard output.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from referral_graph._cli_national import add_options as add_national_options
from referral_graph._cli_store import add_store_commands, backtest_folds
from referral_graph._cli_text import (
    graph_suppression_note,
    margins_text,
    print_reports,
    summary,
)
from referral_graph._progress import Progress
from referral_graph._version import __version__
from referral_graph.exceptions import ParameterError, ReferralGraphError

__all__ = ["build_parser", "main"]

#: The rules of referral_graph.churn.RULES (named here so that --help imports no scikit-learn;
#: tests/test_cli.py checks they agree).
_RULE_NAMES = ("days_since_last", "days_vs_gap", "volume_drop", "share_drop")

logger = logging.getLogger("referral_graph.cli")

# ----------------------------------------------------------------------------- helpers


def _add_input_options(p: argparse.ArgumentParser, *, edges: bool = True) -> None:
    src = p.add_argument_group("input")
    group = src.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--events", metavar="FILE", help="referral events (CSV, Parquet or spreadsheet)"
    )
    if edges:
        group.add_argument(
            "--edges",
            metavar="FILE",
            help="aggregated edges (generic, CMS PSPP or CareSet Hop Teaming)",
        )
    group.add_argument(
        "--store",
        metavar="FILE.duckdb",
        help="a referral store filled by 'referral-graph ingest' (instead of --events)",
    )
    src.add_argument(
        "--layout",
        default="auto",
        choices=["auto", "generic", "cms-pspp", "hop-teaming", "nppes"],
        help="layout of --edges (generic, cms-pspp, hop-teaming), or nppes for an NPPES "
        "download given as --providers (default: both auto-detected from the header)",
    )
    src.add_argument(
        "--providers",
        metavar="FILE",
        help="providers table (CSV, Parquet or spreadsheet), or the NPPES file "
        "(npidata_pfile_*.csv, read for the network's providers only)",
    )
    src.add_argument(
        "--taxonomy",
        metavar="FILE",
        help="NUCC taxonomy code set (CSV, UTF-8 or cp1252) for specialty labels",
    )
    cols = p.add_argument_group("column names (common aliases are recognised without these)")
    for flag, help_ in (
        ("--source-col", "referring provider id column"),
        ("--target-col", "receiving provider id column"),
        ("--date-col", "referral date column"),
        ("--weight-col", "count column of an edge file"),
        ("--patient-col", "patient id column (events) or patient count column (edges)"),
        ("--amount-col", "amount / revenue column of events"),
        ("--period-col", "period column of an edge file"),
        ("--provider-id-col", "id column of the providers table"),
        ("--name-col", "name column of the providers table"),
        ("--taxonomy-col", "taxonomy code column of the providers table"),
        ("--specialty-col", "specialty column of the providers table"),
        ("--organization-col", "organisation / practice column of the providers table"),
    ):
        cols.add_argument(flag, metavar="NAME", help=help_)
    opts = p.add_argument_group("reading")
    opts.add_argument("--date-format", metavar="FMT", help="strftime format, e.g. %%d/%%m/%%Y")
    opts.add_argument(
        "--ids",
        choices=["auto", "npi", "any"],
        default="auto",
        help="npi: ids must be valid NPIs; any: no NPI check; auto (default): check "
        "ids that look like NPIs and report failures",
    )
    opts.add_argument("--encoding", default="auto", help="file encoding (default: auto)")
    opts.add_argument("--delimiter", help="CSV delimiter (default: detected)")
    opts.add_argument(
        "--decimal",
        choices=[".", ","],
        default=".",
        help="decimal mark of numbers such as amounts: , reads 1850,00 and 1.850,00 "
        "(European exports) (default: .)",
    )
    opts.add_argument(
        "--sheet",
        metavar="NAME|POSITION",
        help="sheet of a spreadsheet input (.xlsx, .xls, .ods): its name, or its position "
        "counting from 1 (default: the first sheet; a workbook of one sheet is read whatever "
        "it says)",
    )
    opts.add_argument(
        "--strict", action="store_true", help="treat every validation warning as an error"
    )
    opts.add_argument(
        "--engine",
        choices=["auto", "duckdb", "pandas", "files", "spark"],
        default="auto",
        help="aggregation engine (default: auto: CSV and Parquet event files out of core with "
        "DuckDB, spreadsheets in memory); files: out of core with DuckDB, events never held in "
        "memory; spark: Apache Spark (pip install referral_graph[spark])",
    )
    opts.add_argument(
        "--memory-limit",
        default="8GB",
        metavar="SIZE",
        help="memory limit of --engine files (default: 8GB); the rest spills to --temp-dir",
    )
    opts.add_argument("--temp-dir", metavar="DIR", help="spill folder of --engine files")
    opts.add_argument(
        "--spark-master",
        default="local[2]",
        metavar="URL",
        help="Spark master of --engine spark (default: local[2])",
    )


def _add_activity_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--activities",
        metavar="FILE",
        help="outreach log: date, provider, liaison, kind (visit, call, event, ...)",
    )
    p.add_argument("--activity-date-col", metavar="NAME", help="date column of --activities")
    p.add_argument(
        "--activity-provider-col", metavar="NAME", help="provider id column of --activities"
    )


def _add_report_options(p: argparse.ArgumentParser) -> None:
    """The options of ``report`` and ``profile``: input, focus, activities, the at-risk list."""
    _add_input_options(p)
    _add_focus_options(p, required=True)
    _add_activity_options(p)
    p.add_argument("--capacity", type=int, default=25, help="visits this week (default 25)")
    p.add_argument("--horizon", type=int, default=3, help="at-risk horizon in months (default 3)")
    p.add_argument(
        "--threshold", type=int, default=11, metavar="N", help="small-cell threshold (default 11)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _add_focus_options(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    focus = p.add_argument_group("focus organisation")
    group = focus.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--focus",
        metavar="NAME",
        help="the focus organisation, matched against the providers' organization "
        "(or 'in_network' for providers flagged in network)",
    )
    group.add_argument(
        "--focus-ids",
        metavar="ID[,ID...]",
        help="the focus organisation's provider ids, comma-separated",
    )


def _focus_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    ids = getattr(args, "focus_ids", None)
    return {
        "focus": getattr(args, "focus", None),
        "focus_ids": [i.strip() for i in ids.split(",") if i.strip()] if ids else None,
    }


def _period_label(net: Any) -> str | None:
    if net.period is None:
        return None
    start, end = net.period
    return f"{start:%b %Y} – {end:%b %Y}"


def _load(
    args: argparse.Namespace,
    progress: Callable[[str], Any] | None = None,
    *,
    panel: bool = True,
) -> Any:
    from referral_graph.pipeline import load_network

    is_events = args.events is not None or getattr(args, "store", None) is not None
    columns: dict[str, str] = {}
    mapping = {"source_col": args.source_col, "target_col": args.target_col}
    if is_events:
        mapping.update(
            date_col=args.date_col, patient_col=args.patient_col, amount_col=args.amount_col
        )
    else:
        mapping.update(
            weight_col=args.weight_col, patient_col=args.patient_col, period_col=args.period_col
        )
    columns = {k: v for k, v in mapping.items() if v}
    npi: bool | Literal["auto"] = "auto" if args.ids == "auto" else args.ids == "npi"
    store = getattr(args, "store", None)
    if store is not None:
        columns = {}  # the store's events are read already
    return load_network(
        store=store,
        events=args.events,
        edges=getattr(args, "edges", None),
        providers=args.providers,
        taxonomy=args.taxonomy,
        layout="auto" if args.layout == "nppes" else args.layout,
        providers_layout="nppes" if args.layout == "nppes" else "auto",
        columns=columns,
        provider_columns={
            key: value
            for key, value in (
                ("id_col", args.provider_id_col),
                ("name_col", args.name_col),
                ("taxonomy_col", args.taxonomy_col),
                ("specialty_col", args.specialty_col),
                ("organization_col", args.organization_col),
            )
            if value
        }
        or None,
        date_format=args.date_format,
        npi=npi,
        engine=args.engine,
        encoding=args.encoding,
        delimiter=args.delimiter,
        sheet=args.sheet,
        decimal=args.decimal,
        strict=args.strict,
        keep_events=False,
        memory_limit=args.memory_limit,
        temp_directory=args.temp_dir,
        spark_master=args.spark_master,
        progress=progress,
        panel=panel,
    )


def _print_reports(net: Any) -> None:
    print_reports(net.reports)


def _summary(net: Any) -> str:
    n_nodes, n_edges = net.size()  # without building the networkx graph of a large market
    return summary(n_nodes, n_edges, net.period)


# ----------------------------------------------------------------------------- commands


def cmd_generate(args: argparse.Namespace) -> int:
    from referral_graph import synthetic
    from referral_graph.io._folders import atomic_folder

    market = synthetic.generate_market(
        n_providers=args.providers, n_months=args.months, seed=args.seed
    )
    with atomic_folder(args.out) as folder:  # the whole market, or the folder as it was
        written = synthetic.write_market(market, folder, format=args.format)
    paths = {kind: Path(args.out) / path.name for kind, path in written.items()}
    print(
        f"Generated {len(market.events):,} events, {len(market.providers):,} providers, "
        f"{len(market.activities):,} outreach activities (focus: {market.focus})"
    )
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    progress = Progress(5 if args.activities else 4, enabled=not args.quiet, desc="validate")
    # The full report is printed below: do not also log each issue as it is found.
    validate_logger = logging.getLogger("referral_graph.validate")
    level = validate_logger.level
    validate_logger.setLevel(logging.ERROR)
    try:
        net = _load(args, progress)
        reports = list(net.reports)
        if args.activities:
            progress("reading activities")
            reports.append(_read_activities(args).attrs["report"])
    finally:
        validate_logger.setLevel(level)
        progress.close()
    for report in reports:
        print(report)
        columns = report.describe_columns()
        if columns is not None:
            print(f"  {columns}")
    return 0


def _read_activities(args: argparse.Namespace) -> Any:
    from referral_graph.io import read_activities

    return read_activities(
        args.activities,
        date_col=args.activity_date_col,
        provider_col=args.activity_provider_col,
        encoding=args.encoding,
        sheet=args.sheet,
    )


def cmd_build(args: argparse.Namespace) -> int:
    from referral_graph.graph import save_graph_from_tables

    progress = Progress(5, enabled=not args.quiet, desc="build")
    try:
        net = _load(args, progress, panel=False)  # the file holds no monthly panel
        progress("writing")
        # the file of net.graph, written from the tables without building the graph
        written = save_graph_from_tables(
            net.ties, net.providers, args.out, threshold=args.threshold, period=net.period
        )
    finally:
        progress.close()
    _print_reports(net)
    print(_summary(net))
    note = graph_suppression_note(written)
    if note:
        print(note)
    print(f"Wrote {Path(args.out)}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from referral_graph.io._folders import atomic_folder
    from referral_graph.scores import score_network, write_tables

    progress = Progress(6, enabled=not args.quiet, desc="score")
    try:
        net = _load(args, progress)
        progress("scoring")
        tables = score_network(net, seed=args.seed, **_focus_kwargs(args))
        progress("writing")
        formats = ("csv", "parquet") if args.parquet else ("csv",)
        with atomic_folder(args.out) as folder:  # every table, or the folder as it was
            written = write_tables(
                tables, folder, threshold=args.threshold, formats=formats, keep=()
            )
    finally:
        progress.close()
    _print_reports(net)
    print(_summary(net))
    for name, paths in written.items():
        print(f"  {name}: {len(tables[name]):,} rows -> {Path(args.out) / paths[0].name}")
    if written.suppression:
        print(written.suppression)
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    from referral_graph import viz
    from referral_graph.centrality import provider_measures
    from referral_graph.communities import detect_communities

    progress = Progress(6, enabled=not args.quiet, desc="viz")
    try:
        net = _load(args, progress)
        progress("measuring")
        G = net.graph
        measures = provider_measures(G, betweenness_k=None if len(G) <= 5000 else 64)
        labels = detect_communities(G, seed=args.seed)
        measures["community"] = measures["id"].map(labels)
        focus_ids = _focus_ids_or_none(args, net)
        segments = None
        if focus_ids is not None:
            from referral_graph.leakage import share_of_wallet

            # every view can be coloured by the referrers' segments once a focus is given
            segments = share_of_wallet(net.ties, net.providers, focus_ids)
            segment_of = segments.drop_duplicates("source").set_index("source")["segment"]
            measures["segment"] = measures["id"].map(segment_of)
        elif args.color_by == "segment":
            raise ParameterError(
                "--color-by segment needs a focus organisation (--focus NAME or --focus-ids)."
            )
        options: dict[str, Any] = {"period": _period_label(net), "threshold": args.threshold}
        if args.color_by:
            options["color_by"] = args.color_by
        if args.size_by:
            options["size_by"] = args.size_by
        progress("drawing")
        view = args.view
        if view == "network":
            net_view = viz.network_view(G, top=args.top, measures=measures, **options)
        elif view == "focus":
            if focus_ids is None:
                raise ParameterError("The focus view needs --focus NAME or --focus-ids IDS.")
            if args.focus and "title" not in options:  # the organisation, not a head count
                options["title"] = f"Referral base of {args.focus}"
            net_view = viz.focus_view(
                G, focus_ids, segments=segments, measures=measures, top=args.top, **options
            )
        elif view == "ego":
            if not args.provider:
                raise ParameterError("The ego view needs --provider ID.")
            net_view = viz.ego_view(G, args.provider, hops=args.hops, measures=measures, **options)
        elif view == "community":
            if args.community is None:
                raise ParameterError(
                    "The community view needs --community K (0 is the largest community)."
                )
            net_view = viz.community_view(G, labels, args.community, measures=measures, **options)
        else:
            from referral_graph import churn

            if net.panel is None:
                raise ParameterError("The at-risk view needs dated referrals (events with dates).")
            risk = churn.at_risk(net.panel, providers=net.providers, focus_ids=focus_ids)
            net_view = viz.at_risk_view(G, risk, top=args.top, measures=measures, **options)
        progress("writing")
        viz.to_html(net_view, args.out)
    finally:
        progress.close()
    print(
        f"Wrote the {args.view} view ({len(net_view.nodes):,} providers, "
        f"{len(net_view.edges):,} ties) to {args.out}"
    )
    return 0


def _focus_ids_or_none(args: argparse.Namespace, net: Any) -> list[str] | None:
    focus = _focus_kwargs(args)
    if focus["focus"] is None and focus["focus_ids"] is None:
        return None
    from referral_graph.leakage import resolve_focus

    return resolve_focus(net.providers, **focus)


def cmd_at_risk(args: argparse.Namespace) -> int:
    from referral_graph import churn
    from referral_graph.scores import write_tables

    progress = Progress(6, enabled=not args.quiet, desc="at-risk")
    try:
        net = _load(args, progress)
        panel = net.require_dates("The at-risk list")
        auto = args.ranking == "auto"
        if auto and args.cutoff is None:
            progress("backtesting and predicting (the backtest chooses the model and ranking)")
        else:
            progress("predicting")
        risk = churn.at_risk(
            panel,
            providers=net.providers,
            focus_ids=_focus_ids_or_none(args, net),
            cutoff=args.cutoff,
            horizon=args.horizon,
            capacity=args.capacity,
            random_state=args.seed,
            ranking=args.ranking,
            family="auto" if auto else "logistic",
            reuse=backtest_folds(args),  # the test cutoffs a store's reports fitted
        )
        why = risk.attrs.get("ranking_why")
        progress("writing")
        out = Path(args.out)
        written = write_tables({out.stem: risk}, out.parent, threshold=args.threshold)
    finally:
        progress.close()
    _print_reports(net)
    flagged = int(risk["flagged"].sum())
    print(f"{len(risk):,} active ties scored, {flagged:,} flagged; wrote {args.out}")
    if written.suppression:
        print(written.suppression)
    if why:
        print(why)
    for row in risk.head(5).itertuples():
        print(f"  {row.source} -> {row.target}: risk {row.risk:.0%}; {row.reasons}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from referral_graph import churn

    progress = Progress(6, enabled=not args.quiet, desc="backtest")
    try:
        net = _load(args, progress)
        panel = net.require_dates("The backtest")
        progress("backtesting")
        table = churn.backtest(
            panel,
            n_cutoffs=args.cutoffs,
            horizon=args.horizon,
            k=tuple(args.k),
            model=args.model,
            random_state=args.seed,
            providers=net.providers,
            reuse=backtest_folds(args),  # the test cutoffs a store's reports fitted
        )
    finally:
        progress.close()
    import pandas as pd

    with pd.option_context(
        "display.width", 200, "display.max_columns", 50, "display.float_format", "{:.3f}".format
    ):
        print(table.to_string(index=False))
    print()
    print(margins_text(churn.rule_margins(table)))
    if args.model == "auto":
        print(churn.choose_family(table)[1])
    print(churn.choose_ranking(table)[1])
    if args.out:
        from referral_graph.io import write_table

        write_table(table, args.out)
        print(f"Wrote {args.out}")
    return 0


def _report_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``report`` and ``profile`` as :func:`write_report` takes them."""
    return {
        "capacity": args.capacity,
        "horizon": args.horizon,
        "threshold": args.threshold,
        "seed": args.seed,
        **_focus_kwargs(args),
    }


def _load_for_report(args: argparse.Namespace, desc: str) -> tuple[Any, Any, Progress]:
    """The network and the activities of ``report`` and ``profile``, and their progress bar."""
    progress = Progress(6, enabled=not args.quiet, desc=desc)
    try:
        net = _load(args, progress)
        activities = _read_activities(args) if args.activities else None
    except BaseException:
        progress.close()
        raise
    return net, activities, progress


#: Inputs from this size on start the report's worker process ahead: a worker computes the
#: at-risk work from 200,000 ties (about 70 MB of events) and the communities from 1,000,000.
PRESTART_BYTES = 64 * 2**20


def _prestart_worker(args: argparse.Namespace) -> None:
    """Start the worker process of a large report while its input is read (a core is
    partly idle then), its modules imported meanwhile (:func:`_worker.prestart`)."""
    from referral_graph import _worker

    inputs = [getattr(args, name, None) for name in ("events", "edges", "store")]
    size = sum(os.path.getsize(p) for p in inputs if p is not None and os.path.isfile(p))
    if size >= PRESTART_BYTES:
        _worker.prestart(["referral_graph._report_at_risk", "referral_graph.churn"])


def cmd_report(args: argparse.Namespace) -> int:
    from referral_graph.report import write_report

    _prestart_worker(args)
    net, activities, progress = _load_for_report(args, "report")
    try:
        progress("computing the report")
        notes: list[str] = []
        path = write_report(
            net,
            args.out,
            activities=activities,
            profiles=not args.no_profiles,
            on_suppression=notes.append,
            store=getattr(args, "store", None),
            graph=args.graphml,
            **_report_kwargs(args),
        )
    finally:
        progress.close()
    _print_reports(net)
    print(_summary(net))
    print(f"Wrote {path} (open it in any browser; tables in {path.parent / 'tables'})")
    for note in notes:
        print(note)
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from referral_graph.report import profile

    net, activities, progress = _load_for_report(args, "profile")
    try:
        progress("computing the report's tables")
        page = profile(net, args.provider, activities=activities, **_report_kwargs(args))
        progress("writing")
        path = page.write(args.out)
    finally:
        progress.close()
    print(f"Wrote the profile of {page.name} ({page.provider}) to {path} (open it in any browser)")
    if page.suppression:
        print(page.suppression)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from referral_graph import datasets
    from referral_graph.io import read_activities
    from referral_graph.io._folders import atomic_folder
    from referral_graph.pipeline import load_network
    from referral_graph.report import build_report, write_report
    from referral_graph.store import open_store

    out = Path(args.out)
    started = time.perf_counter()
    progress = Progress(9, enabled=not args.quiet, desc="demo")
    try:
        progress("locating the bundled sample")
        paths = datasets.sample_paths()
        activities = read_activities(paths["activities"])
        notes: list[str] = []
        # the report and the graph replace the folder together (the profiles whole)
        with atomic_folder(out, whole=("profiles",)) as folder:
            # As a team runs it: the history in a store, a report, next month's extract, and
            # the report that says what changed since the last one.
            store = folder / "store" / "referrals.duckdb"
            with tempfile.TemporaryDirectory(prefix="referral_graph_demo_") as scratch:
                history, latest = datasets.sample_extracts(scratch)
                progress(f"loading {history.name} into a store")
                with open_store(store) as db:
                    db.ingest(history)
                progress("the report before the last month (recorded in the store)")
                earlier = load_network(store=store, providers=paths["providers"])
                last_report = build_report(earlier, focus=datasets.SAMPLE_FOCUS)
                del earlier
                progress(f"loading {latest.name}")
                with open_store(store) as db:
                    if last_report.record is not None:
                        db.record_report(last_report.record)
                    db.ingest(latest)
            net = load_network(store=store, providers=paths["providers"], progress=progress)
            # the graph named after the store as the output folder holds it, not after the
            # temporary folder it is written in
            net.ties.attrs["name"] = "store/referrals.duckdb"
            progress("writing the report")
            write_report(
                net,
                folder,
                focus=datasets.SAMPLE_FOCUS,
                activities=activities,
                on_suppression=notes.append,
                store=store,
                graph=True,
            )
            for report in net.reports:  # printed below: where the store is now
                report.name = report.name.replace(str(folder), str(out))
        path = out / "report.html"
    finally:
        progress.close()
    _print_reports(net)
    print(_summary(net))
    print(f"Focus: {datasets.SAMPLE_FOCUS}")
    print(
        f"Wrote {path} — open it in a browser (offline) — with tables/ (CSV, counts 1-10 "
        f"suppressed), views/, profiles/ and referral_graph.graphml, in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(
        f"The sample went into a referral store in two loads ({history.name}, then "
        f"{latest.name}); the report opens with what changed since the report before the "
        f"last load. Try: referral-graph store info --store {out / 'store' / 'referrals.duckdb'}"
    )
    for note in notes:
        print(note)
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``referral-graph`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="referral-graph",
        description="Healthcare referral networks: build, score, predict at-risk ties, view.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every step, and show tracebacks on errors"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # -v / -q are accepted after the command too ("referral-graph build ... -q").
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every step, and show tracebacks on errors",
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser = sub.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return _add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_parser  # type: ignore[method-assign]

    p = sub.add_parser(
        "generate",
        help="write a synthetic referral market (seeded)",
        description="Write a seeded synthetic referral market: events, "
        "providers, outreach activities and the planted ground truth.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--providers",
        type=int,
        default=1500,
        metavar="N",
        help="providers in the market (default 1500)",
    )
    p.add_argument(
        "--months", type=int, default=30, metavar="N", help="months of referrals (default 30)"
    )
    p.add_argument(
        "--format", choices=["csv", "parquet"], default="csv", help="file format (default csv)"
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "validate",
        help="check input files and print every problem found",
        description="Read and validate the input, print the full report.",
    )
    _add_input_options(p)
    _add_activity_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "build",
        help="build the referral graph and write it",
        description="Build the directed referral graph. The format follows "
        "--out: .graphml, .gexf, or a folder for Parquet tables.",
    )
    _add_input_options(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="output: FILE.graphml, FILE.gexf or a folder (Parquet)",
    )
    p.add_argument(
        "--threshold",
        type=int,
        default=11,
        metavar="N",
        help="small-cell threshold: counts 1..N-1 are left out of the file (default 11; "
        "1 writes every count)",
    )
    p.set_defaults(func=cmd_build)
    add_national_options(p, "build")  # --format; a large edge file goes out of core

    p = sub.add_parser(
        "score",
        help="provider measures, tie strength, communities, leakage",
        description="Score the network and write CSV tables: providers.csv "
        "(degree, strength, PageRank, HITS hub/authority, betweenness, community), "
        "ties.csv (relationship strength and its components), communities.csv; "
        "with a focus also key_referrers.csv, share_of_wallet.csv and leakage "
        "tables. Counts from 1 to 10 are suppressed.",
    )
    _add_input_options(p)
    _add_focus_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--parquet", action="store_true", help="also write Parquet tables")
    p.add_argument(
        "--threshold",
        type=int,
        default=11,
        metavar="N",
        help="small-cell threshold: counts 1..N-1 are hidden (default 11)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of communities and sampling")
    p.set_defaults(func=cmd_score)
    add_national_options(p, "score")  # --betweenness-k; a large edge file goes out of core

    p = sub.add_parser(
        "viz",
        help="an interactive network view (self-contained HTML)",
        description="Write one interactive view as a self-contained HTML page "
        "that opens offline in any browser.",
    )
    _add_input_options(p)
    _add_focus_options(p)
    p.add_argument(
        "--view",
        default="network",
        choices=["network", "focus", "ego", "community", "at-risk"],
        help="the view: the whole network (top providers), the focus organisation's referral "
        "base, one provider's neighbourhood, one community, or the at-risk ties "
        "(default: network)",
    )
    p.add_argument("--provider", metavar="ID", help="the provider of the ego view")
    p.add_argument("--hops", type=int, default=1, help="ego view radius (default 1)")
    p.add_argument("--community", type=int, metavar="K", help="community of the community view")
    p.add_argument(
        "--top",
        type=int,
        default=300,
        metavar="N",
        help="providers (or ties, at-risk view) kept in the view (default 300)",
    )
    p.add_argument(
        "--color-by",
        choices=["specialty", "organization", "community", "segment"],
        help="node colour (default: the view's own; segment needs --focus)",
    )
    p.add_argument(
        "--size-by",
        choices=["in_strength", "out_strength", "pagerank", "hub", "authority", "referrals"],
        help="node size (default: the view's own)",
    )
    p.add_argument(
        "--threshold", type=int, default=11, metavar="N", help="small-cell threshold (default 11)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")
    p.set_defaults(func=cmd_viz)

    p = sub.add_parser(
        "at-risk",
        help="rank active ties by churn risk, with reasons",
        description="Score every active tie (or the ties into the focus organisation) by churn "
        "risk with a model trained on the referral history; write source, target, risk, "
        "at_stake, expected_loss, reasons, flagged.",
    )
    _add_input_options(p)
    _add_focus_options(p)
    p.add_argument("--cutoff", metavar="DATE", help="as of this month (default: end of data)")
    p.add_argument("--horizon", type=int, default=3, help="months ahead (default 3)")
    p.add_argument("--capacity", type=int, default=25, help="ties flagged (default 25)")
    p.add_argument(
        "--threshold", type=int, default=11, metavar="N", help="small-cell threshold (default 11)"
    )
    p.add_argument(
        "--ranking",
        choices=["auto", "model", "blend", *_RULE_NAMES],
        default="auto",
        help="what orders the list: auto (default: a backtest on this data chooses the model "
        "family, then the model, the blend or the best rule, whichever found the most lost "
        "ties at its top), or one of them (with the logistic regression)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="the table to write")
    p.set_defaults(func=cmd_at_risk)

    p = sub.add_parser(
        "backtest",
        help="evaluate the churn model against simple rules",
        description="Rolling-origin backtest of the churn model against rule baselines: "
        "ROC-AUC, PR-AUC, precision@k, recall@k, top-decile lift, Brier score.",
    )
    _add_input_options(p)
    p.add_argument("--cutoffs", type=int, default=6, help="test cutoffs (default 6)")
    p.add_argument("--horizon", type=int, default=3, help="months ahead of each cutoff (default 3)")
    p.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=[25, 100],
        help="visit capacities for precision@k (default 25 100)",
    )
    p.add_argument(
        "--model",
        choices=["auto", "logistic", "gbm", "ensemble"],
        default="auto",
        help="the churn model family; auto (the default) backtests the logistic regression, "
        "gradient-boosted trees and their mean, and says which the at-risk list would use",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", metavar="FILE.csv", help="also write the table")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "report",
        help="the liaison report: one self-contained HTML page",
        description="Write report.html (offline, no server), every table as CSV and the "
        "network views: headline, key referrers, leakage, at-risk ties, this week's outreach "
        "list, prospects, outreach impact, trends.",
    )
    _add_report_options(p)
    p.add_argument(
        "--no-profiles",
        action="store_true",
        help="write no profile pages (profiles/ID.html) beside the report",
    )
    p.add_argument(
        "--graphml",
        action="store_true",
        help="also write referral_graph.graphml (Gephi), its counts hidden as tables/ties.csv's",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "profile",
        help="one provider's profile page (the report's, on demand)",
        description="Write one provider's profile: who they are, referrals to us and to "
        "competitors by month, ties to our providers, at-risk ties, prospects among their "
        "partners, activities, talking points and their referral neighbourhood; one "
        "self-contained page that prints on one or two pages.",
    )
    _add_report_options(p)
    p.add_argument("--provider", required=True, metavar="ID", help="the provider's id (NPI)")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser(
        "demo",
        help="run the whole pipeline on the bundled sample",
        description="The main job on the bundled synthetic sample, offline.",
    )
    p.add_argument(
        "--out",
        default="referral_graph_demo",
        metavar="DIR",
        help="output folder (default: ./referral_graph_demo)",
    )
    p.set_defaults(func=cmd_demo)
    add_store_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except ReferralGraphError as exc:
        if args.verbose:
            raise
        red, reset = ("\033[31m", "\033[0m") if sys.stderr.isatty() else ("", "")
        message = str(exc).splitlines()
        print(f"{red}error: {message[0]}{reset}", file=sys.stderr)
        for line in message[1:]:
            print(line, file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:
        # the reader of the output went away (`referral-graph ... | head`): not an error to
        # report; stdout is pointed at /dev/null so that the exit flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as the shell reports a closed pipe
    return code


def run() -> None:
    """The ``referral-graph`` command: :func:`main` in a process that keeps its freed memory
    for reuse (:func:`referral_graph._heap.keep_freed_memory`), then exits with its code."""
    from referral_graph import _heap

    _heap.keep_freed_memory()
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
