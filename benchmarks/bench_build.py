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
    python benchmarks/bench_build.py --repeat 5 --compare /tmp/old --phases
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


def phases(events: Path, providers: Path, out: Path) -> dict[str, float]:
    """The command's steps, timed in this process (run with ``--child-phases``)."""
    started = time.perf_counter()
    from referral_graph import cli  # noqa: F401 - the imports the command pays for
    from referral_graph.graph import save_graph_from_tables
    from referral_graph.pipeline import load_network

    imported = time.perf_counter()
    net = load_network(events=events, providers=providers, keep_events=False)
    loaded = time.perf_counter()
    save_graph_from_tables(net.ties, net.providers, out, period=net.period)
    written = time.perf_counter()
    cg = net.compact()
    summary = time.perf_counter()
    return {
        "import": imported - started,
        "read, check and aggregate": loaded - imported,
        "suppress and write GraphML": written - loaded,
        f"summary ({cg.n_nodes:,} providers, {cg.n_edges:,} ties)": summary - written,
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


if __name__ == "__main__":
    main()
