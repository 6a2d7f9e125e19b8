"""Benchmark: event CSV -> tables (panel, ties, patient panels), each engine against an anchor.

The anchor is a bare, hand-written DuckDB query that computes the same three tables
from the same CSV with no validation at all (no id, date or amount checks, no
duplicate removal, no report): the least any engine can cost on this machine. Each
engine of :mod:`referral_graph.engines` runs in a fresh process (so its peak RSS is
its own) and is timed against the anchor measured in the same run; the target of
issue 18 is the engine ``auto`` picks within 1.3 times the anchor.

Run from the repository root (the market is generated once and cached in
``benchmarks/results/``, or ``--data``)::

    python benchmarks/bench_ingest.py                  # 50,000 providers, 5M events
    python benchmarks/bench_ingest.py --engines files duckdb --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ANCHOR = """
CREATE TEMP TABLE ev AS
SELECT source, target, CAST(date AS DATE) AS date, patient_id AS patient, amount
FROM read_csv({path}, header = true, all_varchar = false,
              columns = {{'source': 'VARCHAR', 'target': 'VARCHAR', 'date': 'VARCHAR',
                         'patient_id': 'VARCHAR', 'amount': 'DOUBLE',
                         'service_line': 'VARCHAR', 'payer': 'VARCHAR'}});
CREATE TEMP TABLE pm AS
SELECT source, target, date_trunc('month', date) AS m, patient, count(*) AS n,
       min(date) AS d0, max(date) AS d1, sum(amount) AS amount
FROM ev GROUP BY ALL;
CREATE TEMP TABLE panel AS
SELECT source, target, CAST(m AS TIMESTAMP_NS) AS month, CAST(sum(n) AS BIGINT) AS referrals,
       count(*) AS patients, sum(amount) AS amount, min(d0) AS d0, max(d1) AS d1
FROM pm GROUP BY source, target, m;
"""

TIES = """
WITH x AS (SELECT source, target, sum(referrals) AS referrals, sum(amount) AS amount,
                  min(d0) AS first_date, max(d1) AS last_date, count(*) AS active_months
           FROM panel GROUP BY ALL),
     p AS (SELECT source, target, count(*) AS patients
           FROM (SELECT DISTINCT source, target, patient FROM pm) GROUP BY ALL)
SELECT x.*, p.patients FROM x JOIN p USING (source, target) ORDER BY source, target
"""

PATIENTS = """
SELECT id, count(*) AS patients FROM (
  SELECT source AS id, patient FROM pm UNION SELECT target, patient FROM pm
) GROUP BY id ORDER BY id
"""


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_anchor(path: Path) -> dict[str, float | int]:
    """The bare DuckDB query; the tables fetched into pandas, as the engines return them."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    for statement in ANCHOR.format(path="'" + str(path) + "'").split(";"):
        if statement.strip():
            con.execute(statement)
    panel = con.execute(
        "SELECT source, target, month, referrals, patients, amount FROM panel "
        "ORDER BY source, target, month"
    ).df()
    ties = con.execute(TIES).df()
    patients = con.execute(PATIENTS).df()
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "peak_gb": _peak_gb(),
        "panel": len(panel),
        "ties": len(ties),
        "providers": len(patients),
    }


def run_engine(path: Path, engine: str) -> dict[str, float | int]:
    """One engine of referral_graph.engines, from the file to the three tables."""
    from referral_graph import engines

    started = time.perf_counter()
    result = engines.aggregate(path, engine=engine)
    assert result.panel is not None and result.patients is not None
    return {
        "seconds": time.perf_counter() - started,
        "peak_gb": _peak_gb(),
        "panel": len(result.panel),
        "ties": len(result.ties),
        "providers": len(result.patients),
        "engine": result.engine,  # type: ignore[dict-item]
    }


def _child(path: Path, what: str) -> dict[str, float | int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--engines", nargs="+", default=["auto", "files", "duckdb"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=HERE / "results")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, path = args.child
        result = run_anchor(Path(path)) if what == "anchor" else run_engine(Path(path), what)
        print(json.dumps(result))
        return
    import bench_report

    path, _ = bench_report.generate(args.data, args.providers, args.months, args.events)
    print(f"{path.name}: {path.stat().st_size / 1e6:,.0f} MB")
    print(f"{'run':<10}{'engine':<10}{'wall s':>8}{'x anchor':>10}{'peak GB':>9}  tables")
    for run in range(1, args.repeat + 1):
        anchor = _child(path, "anchor")
        print(
            f"{run:<10}{'anchor':<10}{anchor['seconds']:>8.2f}{1.0:>10.2f}{anchor['peak_gb']:>9.2f}"
            f"  {anchor['panel']:,} tie-months, {anchor['ties']:,} ties"
        )
        for engine in args.engines:
            got = _child(path, engine)
            ratio = float(got["seconds"]) / float(anchor["seconds"])
            label = engine if engine != "auto" else f"auto={got['engine']}"
            print(
                f"{run:<10}{label:<10}{got['seconds']:>8.2f}{ratio:>10.2f}{got['peak_gb']:>9.2f}"
                f"  {got['panel']:,} tie-months, {got['ties']:,} ties"
            )


if __name__ == "__main__":
    main()
