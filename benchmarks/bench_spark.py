"""Benchmark: the events -> edge panel aggregation on Spark (local mode) beside DuckDB.

The same market as ``bench_foundation.py`` (50,000 providers, 5,000,000 events over 24
months, cached in ``benchmarks/results/``) is validated and aggregated three ways, each in a
fresh process so that peak memory is its own:

* ``duckdb``: ``io.read_events`` then ``aggregate.aggregate_events`` (in memory);
* ``files``: ``scale.aggregate_files`` (DuckDB out of core, Parquet written);
* ``spark``: ``spark.aggregate_spark`` on ``local[2]`` (Parquet written), session start-up
  included (it is part of what a user waits for). Its peak RSS is the Python driver's only:
  the JVM is another process, its heap set by ``spark.driver.memory``.

Spark on one small machine is expected to be the slowest: the point is that the same
checks and the same output run on a cluster (``docs/memory.md``).

Usage::

    python benchmarks/bench_spark.py
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ENGINES = ("duckdb", "files", "spark")


def run_engine(engine: str, events: str) -> None:
    """Aggregate with one engine (called in a fresh process) and print a JSON line."""
    out = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    started = time.perf_counter()
    try:
        if engine == "duckdb":
            from referral_graph import aggregate, io

            ties, panel = aggregate.aggregate_events(io.read_events(events))
            n_ties, n_panel = len(ties), len(panel) if panel is not None else 0
        elif engine == "files":
            from referral_graph import scale

            result = scale.aggregate_files(events, out / "files")
            n_ties, n_panel = result.ties, result.tie_months
        else:
            from referral_graph.spark import aggregate_spark

            spark_result = aggregate_spark(events, master="local[2]", write=out / "spark")
            assert spark_result.ties is not None and spark_result.panel is not None
            n_ties, n_panel = len(spark_result.ties), len(spark_result.panel)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps({"engine": engine, "seconds": round(seconds, 1), "peak_rss_gb": round(peak, 2),
                      "ties": n_ties, "tie_months": n_panel}))  # fmt: skip


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--engine":
        run_engine(sys.argv[2], sys.argv[3])
        return
    sys.path.insert(0, str(HERE))
    from bench_foundation import generate

    events = generate(RESULTS, 50_000, 24, 5_000_000)
    rows = []
    for engine in ENGINES:
        proc = subprocess.run(
            [sys.executable, __file__, "--engine", engine, str(events)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'engine':<8}{'wall s':>8}{'peak RSS GB':>13}{'ties':>10}{'tie-months':>12}")
    for r in rows:
        print(f"{r['engine']:<8}{r['seconds']:>8.1f}{r['peak_rss_gb']:>13.2f}"
              f"{r['ties']:>10,}{r['tie_months']:>12,}")  # fmt: skip
    (RESULTS / "bench_spark.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
