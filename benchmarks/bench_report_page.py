"""Benchmark: how fast a report page opens, draws and answers its tables' controls in Chromium.

Run from the repository root on a report already written (e.g. the 50k market's, see
``benchmarks/bench_report.py``; its output folder outside the repository)::

    python benchmarks/bench_report_page.py /tmp/r50k/report.html --repeat 3
    python benchmarks/bench_report_page.py /tmp/r50k/report.html --screenshot /tmp/r50k

Each run opens the page in a fresh headless Chromium context (Debian's, driven by
Playwright; outside requests blocked and counted) and reports, in milliseconds from the
start of navigation: the first contentful paint, ``load``, the moment the tables' script
has enhanced every table (``window.__rg_tables_ready_ms``) and, measured from outside,
the time until a click on the key referrers' "Share of wallet" heading has sorted the
table (time to interactive: the page drawn and its controls answering). Target (issue
17): every page opens and draws in <= 2 s. Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402  (tests/browser.py)

#: The sort heading clicked to time the first answer of the page's controls.
SORT_HEADING = "Share of wallet"


def open_once(chromium: Any, path: Path, *, screenshot: Path | None = None) -> dict[str, Any]:
    """One opening of `path`: paint, load, tables ready and time to interactive (ms)."""
    outside: list[str] = []
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    try:
        context.route(
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
        )
        page = context.new_page()
        page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url),
        )
        start = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load")
        button = page.locator("#key-referrers ~ table").first.locator(
            "th button", has_text=SORT_HEADING
        )
        button.click()
        page.wait_for_function(
            "() => document.querySelector('#key-referrers ~ table th[aria-sort]') !== null"
        )
        interactive_ms = 1000 * (time.perf_counter() - start)
        timing = page.evaluate(
            """() => {
                const nav = performance.getEntriesByType("navigation")[0];
                const paint = performance.getEntriesByName("first-contentful-paint")[0];
                return {first_contentful_paint_ms: paint ? paint.startTime : null,
                        load_ms: nav.loadEventEnd,
                        tables_ready_ms: window.__rg_tables_ready_ms ?? null,
                        tables: document.querySelectorAll("table.rg-table").length,
                        rows: document.querySelectorAll("table.rg-table tbody tr").length};
            }"""
        )
        if screenshot is not None:
            page.locator("#key-referrers").scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot))
        return {
            **timing,
            "interactive_ms": interactive_ms,
            "outside_requests": outside,
            "page_bytes": path.stat().st_size,
        }
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="a report.html")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="a folder for a screenshot (PNG)")
    args = parser.parse_args()
    reason = browser.unavailable_reason()
    if reason is not None:
        raise SystemExit(f"the browser cannot run: {reason}")
    with browser.launch() as chromium:
        runs = [open_once(chromium, args.page) for _ in range(args.repeat)]
        if args.screenshot is not None:
            args.screenshot.mkdir(parents=True, exist_ok=True)
            open_once(chromium, args.page, screenshot=args.screenshot / "report_tables.png")
    keys = ("first_contentful_paint_ms", "load_ms", "tables_ready_ms", "interactive_ms")
    summary = {k: statistics.median(float(r[k]) for r in runs) for k in keys}
    print(json.dumps({"page": str(args.page), "median": summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
