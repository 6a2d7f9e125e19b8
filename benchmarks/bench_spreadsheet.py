"""Benchmark: a million-row spreadsheet export read as events.

Writes (once, cached) an ``.xlsx`` workbook of 1,000,000 referral rows as a liaison's
export holds them (NPIs as number cells, dates as date cells, a patient id and an
amount), then times ``read_events`` on it in a fresh process and reports its peak
memory (issue 15: a million-row workbook in seconds).

Run from the repository root::

    python benchmarks/bench_spreadsheet.py               # 1,000,000 rows
    python benchmarks/bench_spreadsheet.py --rows 200000 --data /tmp/xlsx
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def write_workbook(path: Path, rows: int) -> None:
    import numpy as np
    import openpyxl

    rng = np.random.default_rng(0)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Referrals")
    sheet.append(["Referring NPI", "Receiving NPI", "Referral Date", "Patient ID", "Amount"])
    sources = rng.integers(1_000_000_000, 1_000_050_000, rows)
    targets = rng.integers(1_000_050_000, 1_000_060_000, rows)
    days = rng.integers(0, 730, rows)
    start = dt.date(2024, 1, 1)
    for i in range(rows):
        sheet.append(
            [
                int(sources[i]),
                int(targets[i]),
                start + dt.timedelta(days=int(days[i])),
                f"P{i % 300_000:07d}",
                round(float(days[i]) * 1.5, 2),
            ]
        )
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)


def read_in_child(path: Path) -> dict[str, float]:
    code = f"""
import json, time
from referral_graph.io import read_events
start = time.perf_counter()
events = read_events({str(path)!r}, npi=False)
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": len(events)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=HERE / "results")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    path = args.data / f"referrals_{args.rows}.xlsx"
    if not path.exists():
        start = time.perf_counter()
        write_workbook(path, args.rows)
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    print(f"{path.name}: {path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows")
    for _ in range(args.repeat):
        r = read_in_child(path)
        print(
            f"read_events: {r['rows']:,} rows in {r['seconds']:.1f} s, "
            f"peak RSS {r['peak_rss_gb']:.2f} GB"
        )


if __name__ == "__main__":
    main()
