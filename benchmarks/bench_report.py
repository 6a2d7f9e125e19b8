"""Benchmark: ``referral-graph report`` end to end on standard markets.

Generates (once, cached under ``benchmarks/results/``, which git ignores) a
synthetic market with ``referral_graph.synthetic.generate_market(n_providers=N,
n_months=24, seed=7, events_per_month=E / 24)`` and writes its events and
providers as CSV. Then runs, in a fresh process,

    referral-graph report --events EVENTS.csv --providers PROVIDERS.csv \\
        --focus "Riverside Health" --out OUT -q

under ``/usr/bin/time -v`` and reports wall time and peak RSS: the largest
process's (``/usr/bin/time``) and, sampled every 0.2 s, the peak of the sum over
the command and its worker processes (the target applies to the larger). With
``--trace`` it runs the same command in-process in a child with every log record
stamped with elapsed seconds and the current and peak RSS of the main process,
which shows where time and memory go step by step.

Targets on the project's 2-core, 24 GiB machine:

* 50,000 providers / 5,000,000 events: <= 90 s, <= 3 GB
* 300,000 providers / 30,000,000 events: <= 180 s, <= 8 GB

Usage::

    python benchmarks/bench_report.py                 # the 50k market
    python benchmarks/bench_report.py --size 300k     # the 300k market
    python benchmarks/bench_report.py --size 50k --trace
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SIZES = {
    "50k": (50_000, 24, 5_000_000, 90.0, 3.0),
    "300k": (300_000, 24, 30_000_000, 180.0, 8.0),
}
FOCUS = "Riverside Health"


def generate(folder: Path, providers: int, months: int, events: int) -> tuple[Path, Path]:
    """Write the market's events and providers as CSV (cached by size)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    events_path = folder / f"events_{providers}_{months}_{events}.csv"
    providers_path = folder / f"providers_{providers}_{months}_{events}.csv"
    if events_path.exists() and providers_path.exists():
        return events_path, providers_path
    from referral_graph import synthetic

    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    market = synthetic.generate_market(
        n_providers=providers, n_months=months, seed=7, events_per_month=events / months
    )
    generated = time.perf_counter() - started
    if not events_path.exists():
        frame = market.events
        frame = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
        tmp = events_path.with_suffix(".tmp")
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        os.replace(tmp, events_path)
    tmp = providers_path.with_suffix(".tmp")
    market.providers.to_csv(tmp, index=False)
    os.replace(tmp, providers_path)
    logging.info(
        "generated %s events in %.0f s (written in %.0f s) -> %s",
        f"{len(market.events):,}",
        generated,
        time.perf_counter() - started - generated,
        events_path,
    )
    return events_path, providers_path


def _tree_rss_gb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in GB (0 once it has ended)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(parents.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+)", status)
        total += int(match.group(1)) if match else 0
    return total / 1024**2


def _watch(proc: subprocess.Popen[str], *, stop_above_gb: float = float("inf")) -> float:
    """Sample the RSS of `proc` and its worker processes every 0.2 s until it ends.

    Returns the peak of the sum (``/usr/bin/time`` reports the largest single
    process only). Kills the process tree's root if the sum passes `stop_above_gb`.
    """
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_gb(proc.pid))
        if peak > stop_above_gb:
            proc.kill()
            break
        time.sleep(0.2)
    return peak


def _time_v(command: list[str]) -> tuple[float, float, float, int, str]:
    """Run under /usr/bin/time -v.

    Returns wall s, peak RSS GB of the largest process, peak GB of all its
    processes together, exit code and the stderr tail.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # stderr is read at the end: the command is quiet (-q), so the pipe cannot fill up
    tree_peak = _watch(proc)
    stderr = proc.stderr.read() if proc.stderr else ""
    code = proc.wait()
    wall = time.perf_counter() - started
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    peak = int(match.group(1)) / 1024**2 if match else float("nan")
    lines = [line for line in stderr.splitlines() if "\t" not in line and line.strip()]
    return wall, peak, tree_peak, code, "\n".join(lines)[-2000:]


def run(size: str, *, data: Path, keep: bool) -> dict[str, object]:
    providers, months, n_events, wall_target, rss_target = SIZES[size]
    events_path, providers_path = generate(data, providers, months, n_events)
    out = data / f"report_{size}"
    shutil.rmtree(out, ignore_errors=True)
    exe = shutil.which("referral-graph")
    base = [exe] if exe else [sys.executable, "-m", "referral_graph.cli"]
    command = [
        *base,
        "report",
        "--events",
        str(events_path),
        "--providers",
        str(providers_path),
        "--focus",
        FOCUS,
        "--out",
        str(out),
        "-q",
    ]
    wall, peak, tree_peak, code, tail = _time_v(command)
    result: dict[str, object] = {
        "size": size,
        "providers": providers,
        "events": n_events,
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "peak_rss_all_processes_gb": round(tree_peak, 2),
        "wall_target_s": wall_target,
        "rss_target_gb": rss_target,
        "exit_code": code,
        "met": code == 0 and wall <= wall_target and max(peak, tree_peak) <= rss_target,
    }
    print(f"report {size}: {wall:.1f} s (target <= {wall_target:.0f} s), peak RSS {peak:.2f} GB, "
          f"{tree_peak:.2f} GB with its worker processes (target <= {rss_target:.0f} GB), "
          f"exit {code}")  # fmt: skip
    if code != 0:
        print(tail)
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return result


# ----------------------------------------------------------------------------- tracing


class _Stamp(logging.Filter):
    """Prefix every record with elapsed seconds, CPU seconds (user + system, all threads),
    minor page faults and current and peak RSS (from /proc)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.perf_counter()

    def filter(self, record: logging.LogRecord) -> bool:
        status = Path("/proc/self/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024**2  # type: ignore[union-attr]
        hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024**2  # type: ignore[union-attr]
        times = os.times()
        faults = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[7])
        elapsed = time.perf_counter() - self.started
        record.msg = (
            f"[{elapsed:7.1f} s  cpu {times.user:6.1f}+{times.system:5.1f}  faults "
            f"{faults / 1e6:5.2f}M  rss {rss:5.2f} GB  peak {hwm:5.2f} GB] {record.msg}"
        )
        return True


def _drop_events() -> None:
    """Experiment: free the validated events once aggregated (nothing downstream reads them)."""
    import gc

    from referral_graph import pipeline

    original = pipeline.load_network

    def load_network(**kwargs: object) -> pipeline.ReferralNetwork:
        net = original(**kwargs)  # type: ignore[arg-type]
        net.events = None
        gc.collect()
        logging.getLogger("bench_report").info("dropped the validated events")
        return net

    pipeline.load_network = load_network  # type: ignore[assignment]


def _out_of_core() -> None:
    """Experiment: the pipeline reads event files with scale.load_network_files (DuckDB)."""
    from referral_graph import pipeline, scale

    original = pipeline.load_network

    def load_network(**kwargs: Any) -> pipeline.ReferralNetwork:
        events = kwargs.get("events")
        if events is None or isinstance(events, pd.DataFrame):
            return original(**kwargs)
        options = dict(kwargs.get("columns") or {})
        for key in ("date_format", "encoding", "delimiter"):
            if kwargs.get(key) not in (None, "auto"):
                options[key] = kwargs[key]
        return scale.load_network_files(
            events,
            providers=kwargs.get("providers"),
            taxonomy=kwargs.get("taxonomy"),
            npi=kwargs.get("npi", "auto"),
            strict=kwargs.get("strict", False),
            progress=kwargs.get("progress"),
            memory_limit="4GB",
            **options,
        )

    pipeline.load_network = load_network  # type: ignore[assignment]


def trace_child(argv: list[str]) -> None:
    """Run the CLI in this process with stamped logging (called with --trace-child), keeping
    freed memory as the ``referral-graph`` command does (:func:`referral_graph.cli.run`)."""
    from referral_graph import _heap, cli

    _heap.keep_freed_memory()
    if argv and argv[0] == "--drop-events":
        argv = argv[1:]
        _drop_events()
    if argv and argv[0] == "--out-of-core":
        argv = argv[1:]
        _out_of_core()

    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_Stamp())
    handler.setFormatter(logging.Formatter("%(message)s  (%(name)s)"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    original = logging.basicConfig
    logging.basicConfig = lambda **kwargs: None  # type: ignore[assignment]
    try:
        code = cli.main(argv)
    finally:
        logging.basicConfig = original
    sys.exit(code)


def trace(
    size: str,
    *,
    data: Path,
    drop_events: bool = False,
    out_of_core: bool = False,
    max_rss_gb: float = 16.0,
) -> None:
    providers, months, n_events, _, _ = SIZES[size]
    events_path, providers_path = generate(data, providers, months, n_events)
    out = data / f"report_{size}_trace"
    shutil.rmtree(out, ignore_errors=True)
    argv = [
        "report",
        "--events",
        str(events_path),
        "--providers",
        str(providers_path),
        "--focus",
        FOCUS,
        "--out",
        str(out),
        "-q",
    ]
    extra = ["--drop-events"] if drop_events else []
    extra += ["--out-of-core"] if out_of_core else []
    started = time.perf_counter()
    # A direct child, watched: stopped (and reported) if its RSS with its workers passes
    # max_rss_gb, so that a market too large for the machine cannot exhaust the memory
    # other processes share.
    child = subprocess.Popen([sys.executable, __file__, "--trace-child", *extra, *argv])
    tree_peak = _watch(child, stop_above_gb=max_rss_gb)
    stopped = tree_peak if tree_peak > max_rss_gb else None
    code = child.wait()
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    if stopped is not None:
        print(f"trace {size}: stopped at {wall:.1f} s: RSS {stopped:.2f} GB > {max_rss_gb} GB")
    print(
        f"trace {size}: {wall:.1f} s, peak RSS {peak:.2f} GB "
        f"({tree_peak:.2f} GB with its worker processes), exit {code}"
    )
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--trace-child":
        trace_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", choices=[*SIZES, "all"], default="50k")
    parser.add_argument("--data", type=Path, default=RESULTS)
    parser.add_argument("--trace", action="store_true", help="log each step's time and RSS")
    parser.add_argument(
        "--drop-events",
        action="store_true",
        help="with --trace: experiment freeing the validated events after aggregation",
    )
    parser.add_argument(
        "--out-of-core",
        action="store_true",
        help="with --trace: experiment reading the events with scale.load_network_files",
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=16.0, help="with --trace: stop the run above this RSS"
    )
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the report folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sizes = list(SIZES) if args.size == "all" else [args.size]
    if args.generate_only:
        for size in sizes:
            p, m, e, _, _ = SIZES[size]
            generate(args.data, p, m, e)
        return
    if args.trace:
        for size in sizes:
            trace(
                size,
                data=args.data,
                drop_events=args.drop_events,
                out_of_core=args.out_of_core,
                max_rss_gb=args.max_rss_gb,
            )
        return
    results = [run(size, data=args.data, keep=args.keep) for size in sizes]
    record = args.data / "bench_report.json"
    previous = json.loads(record.read_text()) if record.exists() else {}
    previous.update({r["size"]: r for r in results})  # type: ignore[index]
    record.write_text(json.dumps(previous, indent=2))


if __name__ == "__main__":
    main()
