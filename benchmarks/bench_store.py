"""Benchmark: the referral store on a standard market (issue 16's weekly operation).

Splits the market's events (cached by ``bench_report.py``'s generator, or ``--data``) into the
history (every month but the last) and the last month, as a liaison team's weekly extract
would come, then times, each in a fresh process under ``/usr/bin/time -v``:

1. ``referral-graph ingest`` of the history into a new store (the initial load);
2. ``referral-graph report --store`` on the history (the report a team made last time: it is
   recorded in the store);
3. ``referral-graph ingest`` of the last month (about 1.25 million events at 300k);
4. ``referral-graph report --store`` (the report from the store, which opens with what changed
   since the report of step 2, and fits only the new month's backtest test cutoff: the others
   are those step 2 recorded), ``--repeat N`` times (the median is given: runs on a shared
   machine vary by several seconds; before each repeat the test cutoff the run before
   recorded is forgotten, so that each fits it again);
5. the same report once more, on the same data: every test cutoff of its backtest reused;

and reports the wall time, peak RSS and the store's size on disk. Targets (issue 16, on the
300,000-provider market): the new month loaded in <= 15 s, the report from the store <= 75 s.

Usage::

    python benchmarks/bench_store.py --size 300k --data /path/to/market
    python benchmarks/bench_store.py --size 50k --keep   # keep the store (printed)
    python benchmarks/bench_store.py --size 300k --repeat 3  # the last report three times
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_report import FOCUS, SIZES, generate  # noqa: E402


def split(events: Path, folder: Path) -> tuple[Path, Path, int]:
    """The history (all months but the last) and the last month, as CSV; the last month's rows."""
    import duckdb

    con = duckdb.connect()
    source = f"read_csv('{events}', header = true, all_varchar = true)"
    last = con.execute(f"SELECT max(date_trunc('month', CAST(date AS DATE))) FROM {source}")
    last_month = last.fetchall()[0][0]
    history, month = folder / "history.csv", folder / "last_month.csv"
    con.execute(
        f"COPY (SELECT * FROM {source} WHERE CAST(date AS DATE) < DATE '{last_month}') "
        f"TO '{history}' (HEADER)"
    )
    con.execute(
        f"COPY (SELECT * FROM {source} WHERE CAST(date AS DATE) >= DATE '{last_month}') "
        f"TO '{month}' (HEADER)"
    )
    n = con.execute(f"SELECT count(*) FROM read_csv('{month}', header = true)").fetchall()[0][0]
    return history, month, int(n)


def forget_new_folds(store: Path) -> None:
    """Forget the backtest test cutoffs recorded after the first report (the one before the
    month), so that the next report fits the new month's cutoff again, as the first report
    after the load did (the others are those the first report recorded)."""
    import duckdb

    con = duckdb.connect(str(store))
    try:
        con.execute("DELETE FROM rg_backtest_folds WHERE report_id > 1")
    finally:
        con.close()


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in GB and the standard output of `command`."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return seconds, int(peak.group(1)) / 1e6 if peak else float("nan"), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="300k")
    parser.add_argument("--data", type=Path, default=HERE / "results")
    parser.add_argument("--work", type=Path, help="where the store goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the store and the reports")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the last report this many times and give the median (runs on a shared "
        "machine vary by several seconds)",
    )
    args = parser.parse_args()
    providers_n, months, n_events, _, _ = SIZES[args.size]
    events, providers = generate(args.data, providers_n, months, n_events)
    work = Path(tempfile.mkdtemp(prefix="bench_store_", dir=args.work))
    try:
        history, month, month_rows = split(events, work)
        store = work / "referrals.duckdb"
        exe = shutil.which("referral-graph") or sys.executable
        base = [exe] if exe.endswith("referral-graph") else [exe, "-m", "referral_graph.cli"]
        rows = []
        report = [*base, "report", "--store", str(store), "--providers", str(providers),
                  "--focus", FOCUS, "-q", "--out"]  # fmt: skip
        s, gb, _ = timed([*base, "ingest", "--store", str(store), "--events", str(history), "-q"])
        rows.append(("initial load (all months but the last)", s, gb))
        s, gb, _ = timed([*report, str(work / "report_before")])
        rows.append(("report --store before the month (recorded)", s, gb))
        size_before = store.stat().st_size
        s, gb, out = timed([*base, "ingest", "--store", str(store), "--events", str(month), "-q"])
        rows.append((f"one new month ({month_rows:,} events)", s, gb))
        runs = []
        for i in range(max(args.repeat, 1)):
            if i:  # each run fits the new month's test cutoff, as the first after a load does
                forget_new_folds(store)
            runs.append(timed([*report, str(work / "report")])[:2])
        times = sorted(seconds for seconds, _ in runs)
        name = "report --store (with 'Since the last report')"
        if len(runs) > 1:
            name += f", median of {len(runs)}"
            print("report --store runs: " + ", ".join(f"{seconds:.1f} s" for seconds, _ in runs))
        rows.append((name, statistics.median(times), max(gb for _, gb in runs)))
        s, gb, _ = timed([*report, str(work / "report_again")])
        rows.append(("the same report again (its backtest all reused)", s, gb))
        changes = work / "report" / "tables" / "changes.csv"
        if changes.exists():
            with changes.open(encoding="utf-8") as handle:
                print(f"changes.csv: {sum(1 for _ in handle) - 1:,} rows")
        print(out.strip())
        print(f"\nstore {args.size}: {store.stat().st_size / 1e9:.2f} GB on disk "
              f"({size_before / 1e9:.2f} GB before the last month)")  # fmt: skip
        print(f"{'step':<56} {'wall s':>8} {'peak GB':>8}")
        for name, seconds, peak in rows:
            print(f"{name:<56} {seconds:>8.1f} {peak:>8.2f}")
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
