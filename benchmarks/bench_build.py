"""Benchmark: ``referral-graph build`` end to end on a standard market, to GraphML.

Each run is a fresh process, ``python -m referral_graph.cli build --events E
--providers P --out graph.graphml -q``, timed from outside (wall time) with its peak
RSS and CPU time (``getrusage`` of the finished child: DuckDB's threads are in the
process; CPU time is steadier than wall time on a shared machine). With
``--compare PATH`` every run of this checkout is followed by one of the checkout at
PATH (``PYTHONPATH=PATH``), so that both are measured in the same minutes on a shared
machine, and their files are compared byte for byte. ``--phases`` adds one in-process
run that times the steps of the command. The target of issue 15 is 10 s.

Run from the repository root (the market is generated once and cached in
``benchmarks/results/``, or ``--data``)::

    python benchmarks/bench_build.py --repeat 5
    git worktree add /tmp/old 067a0d3
    python benchmarks/bench_build.py --repeat 5 --compare /tmp/old --phases --floor

``--floor`` times what no build of the file goes below: Python with the command's imports,
DuckDB's bare parse of the CSV (and into a table), writing the GraphML file's bytes.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def run_build(code: Path, events: Path, providers: Path, out: Path) -> dict[str, float]:
    """One ``build`` in a fresh process running the package found in `code`."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    env["OPENBLAS_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "referral_graph.cli", "build", "--events", str(events)]
    command += ["--providers", str(providers), "--out", str(out), "-q"]
    started = time.perf_counter()
    # run from `out`'s folder: `python -m` puts the working folder first on sys.path, where a
    # checkout's own package would shadow `code`'s
    child = subprocess.Popen(
        command, env=env, cwd=out.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(
            f"build failed ({code}): {child.stderr.read().decode() if child.stderr else ''}"
        )
    cpu = usage.ru_utime + usage.ru_stime  # every thread's: steadier than wall time when shared
    return {"seconds": seconds, "cpu": cpu, "peak_gb": usage.ru_maxrss / 1024**2}


def floor(events: Path, out: Path) -> dict[str, dict[str, float]]:
    """What no build of this file can go below, each step in a fresh process: starting
    Python with the command's imports, DuckDB's bare parse of the CSV (every column as
    text, as the files engine reads it), the same parse into a table, and writing the
    GraphML file's bytes (`out`, written by a build)."""
    with open(events, encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    columns = ", ".join(f"{c.strip(chr(34))!r}: 'VARCHAR'" for c in header)
    reader = (
        f"read_csv('{events}', columns = {{{columns}}}, header = true, delim = ',', "
        "quote = '\"', escape = '\"', auto_detect = false, strict_mode = true, "
        "store_rejects = true)"
    )
    imports = (
        "import referral_graph.cli, referral_graph.pipeline, referral_graph.graph, "
        "referral_graph.engines.files, duckdb, pyarrow.compute"
    )
    copy = out.with_suffix(".copy")
    steps = {
        "python and the command's imports": imports,
        "DuckDB parses the CSV (count rows)": (
            "import duckdb; con = duckdb.connect(); con.execute('SET enable_progress_bar = false')"
            f"; con.execute({f'SELECT count(*) FROM {reader}'!r}).fetchall()"
        ),
        "DuckDB parses the CSV into a table": (
            "import duckdb; con = duckdb.connect(); con.execute('SET enable_progress_bar = false')"
            f"; con.execute({f'CREATE TEMP TABLE raw AS SELECT * FROM {reader}'!r})"
        ),
        f"write the GraphML bytes ({out.stat().st_size / 1e6:,.0f} MB)": (
            f"data = open({str(out)!r}, 'rb').read(); open({str(copy)!r}, 'wb').write(data)"
        ),
    }
    found = {}
    for name, code in steps.items():
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen([sys.executable, "-c", code], cwd=out.parent, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(f"floor step failed: {name}")
        found[name] = {
            "seconds": time.perf_counter() - started,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    copy.unlink(missing_ok=True)
    return found


def phases(events: Path, providers: Path, out: Path) -> dict[str, float]:
    """The command's steps, timed in this process (run with ``--child-phases``)."""
    started = time.perf_counter()
    from referral_graph import cli  # noqa: F401 - the imports the command pays for
    from referral_graph.graph import save_graph_from_tables
    from referral_graph.pipeline import load_network

    imported = time.perf_counter()
    net = load_network(events=events, providers=providers, keep_events=False, panel=False)
    loaded = time.perf_counter()
    save_graph_from_tables(net.ties, net.providers, out, period=net.period)
    written = time.perf_counter()
    n_nodes, n_edges = net.size()
    summary = time.perf_counter()
    return {
        "import": imported - started,
        "read, check and aggregate": loaded - imported,
        "suppress and write GraphML": written - loaded,
        f"summary ({n_nodes:,} providers, {n_edges:,} ties)": summary - written,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout, run alternately")
    parser.add_argument("--phases", action="store_true", help="also time the steps")
    parser.add_argument(
        "--floor", action="store_true", help="also time what no build goes below (bare reads)"
    )
    parser.add_argument("--data", type=Path, default=HERE / "results")
    parser.add_argument("--child-phases", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_phases:
        print(json.dumps(phases(*map(Path, args.child_phases))))
        return
    import bench_report

    events, providers = bench_report.generate(args.data, args.providers, args.months, args.events)
    print(f"{events.name}: {events.stat().st_size / 1e6:,.0f} MB; {providers.name}")
    codes = {"this": ROOT} | ({"compare": args.compare.resolve()} if args.compare else {})
    results: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory(prefix="bench_build_") as folder:
        outs = {name: Path(folder) / f"{name}.graphml" for name in codes}
        print(f"{'run':<5}{'code':<10}{'wall s':>8}{'cpu s':>8}{'peak GB':>9}")
        for run in range(1, args.repeat + 1):
            for name, code in codes.items():
                got = run_build(code, events, providers, outs[name])
                results[name].append(got)
                print(
                    f"{run:<5}{name:<10}{got['seconds']:>8.2f}{got['cpu']:>8.2f}"
                    f"{got['peak_gb']:>9.2f}"
                )
        for name, runs in results.items():
            print(
                f"median {name} ({codes[name]}): "
                f"{statistics.median(r['seconds'] for r in runs):.2f} s "
                f"(cpu {statistics.median(r['cpu'] for r in runs):.2f} s), "
                f"peak {statistics.median(r['peak_gb'] for r in runs):.2f} GB "
                f"over {len(runs)} runs (target <= 10 s)"
            )
        if args.compare:
            same = filecmp.cmp(outs["this"], outs["compare"], shallow=False)
            print(f"GraphML files byte-identical: {same}")
        if args.phases:
            env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
            out = subprocess.run(
                [sys.executable, __file__, "--child-phases", str(events), str(providers),
                 str(Path(folder) / "phases.graphml")],
                check=True, capture_output=True, text=True, env=env,
            )  # fmt: skip
            for step, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
                unit = "GB" if step == "peak_gb" else "s"
                print(f"  {step:<48}{value:>7.2f} {unit}")
        if args.floor:
            print("floor (each in a fresh process):")
            for step, got in floor(events, outs["this"]).items():
                print(f"  {step:<48}{got['seconds']:>7.2f} s (cpu {got['cpu']:.2f} s)")


if __name__ == "__main__":
    main()
