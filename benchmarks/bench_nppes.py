"""Benchmark: the providers of a large graph read from a national-size NPPES file.

Writes (once, cached) a synthetic file in the NPPES layout: the real 2025 header
of 330 columns, every field quoted as CMS quotes it, 9 million rows of about the
real file's width (names, addresses, phone numbers, 15 taxonomy slots, licenses,
other columns mostly blank), so about 10 GB as the real monthly file. Then, in a
fresh process, times ``read_providers(path, ids=...)`` for the NPIs of a
300,000-provider graph and reports its peak memory (issue 15: under a minute,
memory independent of the file's size).

Run from the repository root::

    python benchmarks/bench_nppes.py                       # 9M rows, 300k NPIs
    python benchmarks/bench_nppes.py --rows 1000000 --ids 50000 --data /tmp/nppes
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

# The real file's first line (2025 layout), from ../shared/data/nppes_samples when present,
# else built from the columns the reader needs plus blank ones up to 330.
SAMPLE = REPO.parent / "shared" / "data" / "nppes_samples" / "npidata_2025_head_99.csv"


def header() -> list[str]:
    import csv

    if SAMPLE.is_file():
        with open(SAMPLE, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle))
    from referral_graph.io._nppes import NEEDED

    return list(NEEDED) + [f"Other Column {i}" for i in range(330 - len(NEEDED))]


def npi_sql(n: str) -> str:
    """A valid NPI (Luhn check digit with prefix 80840) for 1 + 100000000 + n."""
    base = f"lpad(CAST(100000000 + {n} AS VARCHAR), 9, '0')"
    # Luhn over '80840' + the nine digits: double every second digit from the right of the 14
    digits = [f"CAST(substr({base}, {i}, 1) AS INTEGER)" for i in range(1, 10)]
    total = "24"  # the prefix 80840's contribution
    parts = []
    for i, d in enumerate(digits):  # positions 1..9 of the base; rightmost (9) is doubled
        doubled = (9 - i) % 2 == 1
        twice = f"(CASE WHEN {d} * 2 > 9 THEN {d} * 2 - 9 ELSE {d} * 2 END)"
        parts.append(twice if doubled else d)
    check = f"CAST((10 - ({total} + {' + '.join(parts)}) % 10) % 10 AS VARCHAR)"
    return f"({base} || {check})"


def write_file(path: Path, rows: int) -> None:
    import duckdb

    columns = header()
    practice = "Provider Business Practice Location Address"
    mailing = "Provider Business Mailing Address"
    person = "CASE WHEN i % 5 <> 0 THEN {} END"
    values = {
        "NPI": npi_sql("i"),
        "Entity Type Code": "CASE WHEN i % 5 = 0 THEN '2' ELSE '1' END",
        "Provider Organization Name (Legal Business Name)": (
            "CASE WHEN i % 5 = 0 THEN 'SYNTHETIC HEALTH SYSTEM ' || CAST(i % 9973 AS VARCHAR) END"
        ),
        "Provider Last Name (Legal Name)": person.format("'LASTNAME' || CAST(i % 7919 AS VARCHAR)"),
        "Provider First Name": person.format("'FIRSTNAME' || CAST(i % 101 AS VARCHAR)"),
        "Provider Middle Name": "CASE WHEN i % 3 = 0 THEN 'M' END",
        "Provider Credential Text": person.format("'M.D.'"),
        "Provider First Line Business Mailing Address": "CAST(i % 9999 AS VARCHAR) || ' MAIN ST'",
        f"{mailing} City Name": "'SPRINGFIELD'",
        f"{mailing} State Name": "'IL'",
        f"{mailing} Postal Code": "lpad(CAST(i % 99999 AS VARCHAR), 9, '0')",
        f"{mailing} Country Code (If outside U.S.)": "'US'",
        f"{mailing} Telephone Number": "'2175550' || CAST(i % 999 AS VARCHAR)",
        "Provider First Line Business Practice Location Address": "'1 OAK AVENUE'",
        f"{practice} City Name": "'SPRINGFIELD'",
        f"{practice} State Name": "'IL'",
        f"{practice} Postal Code": "lpad(CAST(i % 99999 AS VARCHAR), 9, '0')",
        f"{practice} Country Code (If outside U.S.)": "'US'",
        f"{practice} Telephone Number": "'2175551' || CAST(i % 999 AS VARCHAR)",
        "Provider Enumeration Date": "'05/23/2005'",
        "Last Update Date": "'07/08/2007'",
        "Healthcare Provider Taxonomy Code_1": "'207Q00000X'",
        "Healthcare Provider Primary Taxonomy Switch_1": "'Y'",
        "Provider License Number_1": "'LIC' || CAST(i AS VARCHAR)",
        "Provider License Number State Code_1": "'IL'",
        "Healthcare Provider Taxonomy Code_2": "CASE WHEN i % 4 = 0 THEN '207R00000X' END",
        "Healthcare Provider Primary Taxonomy Switch_2": "CASE WHEN i % 4 = 0 THEN 'N' END",
        "Is Sole Proprietor": "'N'",
        "Certification Date": "'09/01/2025'",
    }
    select = ", ".join(
        f"coalesce({values.get(c, 'NULL')}, '') AS \"{c.replace(chr(34), chr(34) * 2)}\""
        for c in columns
    )
    tmp = path.with_suffix(".tmp")
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT {select} FROM range({rows}) t(i)) TO '{tmp}' "
            "(FORMAT csv, HEADER, FORCE_QUOTE *)"
        )
    tmp.replace(path)


def read_in_child(path: Path, rows: int, ids: int) -> dict[str, float]:
    code = f"""
import json, time, duckdb
from referral_graph.io import read_providers
with duckdb.connect() as con:
    # every {rows // ids}th NPI of the file: a graph's providers spread through it
    wanted = [r[0] for r in con.execute(
        "SELECT {npi_sql("i")} FROM range(0, {rows}, {max(rows // ids, 1)}) t(i)").fetchall()]
start = time.perf_counter()
table = read_providers({str(path)!r}, ids=wanted)
print(json.dumps({{"seconds": time.perf_counter() - start, "kept": len(table),
                  "asked": len(wanted), "named": int(table["name"].notna().sum())}}))
"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_gb"] = max(after, before) / 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=9_000_000)
    parser.add_argument("--ids", type=int, default=300_000)
    parser.add_argument("--data", type=Path, default=HERE / "results")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    path = args.data / f"npidata_synthetic_{args.rows}.csv"
    if not path.exists():
        start = time.perf_counter()
        write_file(path, args.rows)
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    size = path.stat().st_size / 1e9
    print(f"{path.name}: {size:.1f} GB, {args.rows:,} rows x {len(header())} columns")
    for _ in range(args.repeat):
        r = read_in_child(path, args.rows, args.ids)
        print(
            f"read_providers for {r['asked']:,} NPIs: {r['seconds']:.1f} s, kept {r['kept']:,} "
            f"({r['named']:,} named), peak RSS {r['peak_rss_gb']:.2f} GB"
        )


if __name__ == "__main__":
    main()
