"""Benchmark: load -> validate -> aggregate -> build on a standard market.

Generates (once, cached) a synthetic market of 50,000 providers and about
5,000,000 referral events over 24 months, writes it as CSV, then times each
pipeline step in a fresh process and prints wall time and peak memory.

Targets on the project's 2-core, 24 GiB machine: load + validation +
aggregation <= 10 s; graph build <= 3 s; peak RSS <= 2 GB.

Usage::

    python benchmarks/bench_foundation.py [--providers 50000] [--months 24] [--engine duckdb]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def generate(folder: Path, providers: int, months: int, events: int) -> Path:
    """Write the market's events as CSV (cached by size)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from referral_graph import synthetic

    path = folder / f"events_{providers}_{months}_{events}.csv"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    market = synthetic.generate_market(
        n_providers=providers, n_months=months, seed=7, events_per_month=events / months
    )
    events = market.events.copy()
    events["date"] = events["date"].dt.strftime("%Y-%m-%d")
    pacsv.write_csv(pa.Table.from_pandas(events, preserve_index=False), path)
    print(f"generated {len(events):,} events in {time.perf_counter() - started:.1f} s -> {path}")
    return path


def run_pipeline(path: Path, engine: str) -> None:
    """Time each step (called in a fresh process so peak RSS is the pipeline's own)."""
    from referral_graph import aggregate, graph, io

    rows = []
    t0 = time.perf_counter()
    events = io.read_events(path)
    t1 = time.perf_counter()
    rows.append(("load + validate", t1 - t0, _peak_gb(), f"{len(events):,} events"))
    ties, panel = aggregate.aggregate_events(events, engine=engine)  # type: ignore[arg-type]
    assert panel is not None
    t2 = time.perf_counter()
    rows.append(
        (
            "aggregate (panel + ties)",
            t2 - t1,
            _peak_gb(),
            f"{len(panel):,} tie-months, {len(ties):,} ties",
        )
    )
    G = graph.graph_from_tables(ties, period=aggregate.period_of(events))
    t3 = time.perf_counter()
    rows.append(
        (
            "build graph",
            t3 - t2,
            _peak_gb(),
            f"{G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges",
        )
    )
    print(f"{'step':<28}{'wall s':>8}{'peak RSS GB':>13}  result")
    for name, secs, peak, what in rows:
        print(f"{name:<28}{secs:>8.2f}{peak:>13.2f}  {what}")
    print(f"{'load + validate + aggregate':<28}{t2 - t0:>8.2f}   (target <= 10 s)")
    print(f"{'build':<28}{t3 - t2:>8.2f}   (target <= 3 s)")
    print(f"{'peak RSS':<28}{_peak_gb():>8.2f}   GB (target <= 2 GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "pandas"])
    parser.add_argument("--data", type=Path, default=HERE / "results")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_pipeline(args.child, args.engine)
        return
    path = generate(args.data, args.providers, args.months, args.events)
    subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--engine", args.engine], check=True
    )


if __name__ == "__main__":
    main()
