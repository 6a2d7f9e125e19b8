"""Benchmark referral_graph.viz: build and write views, and time to first draw in Chromium.

Run from the repository root::

    python benchmarks/bench_viz.py            # 500, 2,000 and 10,000 nodes + browser
    python benchmarks/bench_viz.py --sizes 500 2000 --no-browser

Graphs are random and heavy-tailed (node popularity ~ rank^-0.8 on both ends, about 18
ties per provider, referrals ~ Pareto), built with a fixed seed. For each size it times
``render`` (node/edge dicts, layout), ``to_html`` with a path (page + atomic write) and
``network_view(top=300)``; then opens the 2,000-node page in headless Chromium with every
outside request blocked and reports the time from the first script on the page to the
first ``afterDrawing`` event (target: <= 3 s). Results are printed and saved to
``benchmarks/results/bench_viz.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from referral_graph import viz

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402  (tests/browser.py)

TIES_PER_PROVIDER = 18
SPECIALTIES = [
    "Family Medicine",
    "Internal Medicine",
    "Cardiology",
    "Orthopedic Surgery",
    "Radiology",
    "Oncology",
    "Neurology",
    "Gastroenterology",
    "Pulmonology",
    "Emergency Medicine",
    "Dermatology",
    "Urology",
    "Nephrology",
    "Psychiatry",
]


def heavy_tailed_graph(n: int, *, seed: int = 0) -> nx.DiGraph:
    """A random referral graph with heavy-tailed degrees and referral counts."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    weights /= weights.sum()
    m = n * TIES_PER_PROVIDER
    sources = rng.choice(n, size=m, p=weights)
    targets = rng.choice(n, size=m, p=rng.permutation(weights))
    pairs = np.unique(np.column_stack([sources, targets])[sources != targets], axis=0)
    referrals = np.ceil(rng.pareto(1.3, size=len(pairs)) * 6).astype(int) + 1
    graph = nx.DiGraph()
    for i in range(n):
        graph.add_node(
            f"{1_000_000_000 + i}",
            name=f"Provider {i}",
            specialty=SPECIALTIES[int(rng.integers(len(SPECIALTIES)))],
            organization=f"Organisation {int(rng.integers(max(n // 40, 2)))}",
            in_network=bool(rng.random() < 0.4),
        )
    ids = list(graph)
    graph.add_edges_from(
        (ids[s], ids[t], {"referrals": int(r), "patients": int(max(1, r // 2))})
        for (s, t), r in zip(pairs.tolist(), referrals.tolist(), strict=True)
    )
    return graph


def _timed(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - start


def run(sizes: list[int], *, with_browser: bool, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"sizes": [], "browser": None}
    viz.to_html(viz.render(heavy_tailed_graph(50)))  # warm up: lazy imports, vis assets
    with tempfile.TemporaryDirectory() as tmp:
        pages: dict[int, Path] = {}
        for n in sizes:
            graph = heavy_tailed_graph(n)
            row: dict[str, Any] = {"nodes": n, "edges": graph.number_of_edges()}
            build, write, top = [], [], []
            for _ in range(repeat):
                net, seconds = _timed(viz.render, graph, max_nodes=max(n, 2000), title=f"{n} nodes")
                build.append(seconds)
                path = Path(tmp) / f"view_{n}.html"
                page, seconds = _timed(viz.to_html, net, path)
                write.append(seconds)
                _, seconds = _timed(viz.network_view, graph, top=300)
                top.append(seconds)
            row.update(
                render_s=round(min(build), 3),
                to_html_write_s=round(min(write), 3),
                network_view_top300_s=round(min(top), 3),
                page_mb=round(len(page.encode()) / 1e6, 2),
            )
            pages[n] = path
            results["sizes"].append(row)
            print(
                f"{n:>6,} nodes {row['edges']:>7,} edges: render {row['render_s']:.2f} s, "
                f"to_html+write {row['to_html_write_s']:.2f} s, page {row['page_mb']:.1f} MB, "
                f"network_view(top=300) {row['network_view_top300_s']:.2f} s",
                flush=True,
            )
        reason = browser.unavailable_reason()
        if with_browser and reason is None and 2000 in pages:
            draws: list[float] = []
            with browser.launch() as chromium:
                for _ in range(max(repeat, 3)):
                    page_result = browser.open_view(chromium, pages[2000], timeout_ms=60_000)
                    assert not page_result.outside_requests, page_result.outside_requests
                    assert not page_result.console_errors, page_result.console_errors
                    assert page_result.first_draw_ms is not None
                    draws.append(page_result.first_draw_ms)
            results["browser"] = {
                "nodes": 2000,
                "first_draw_ms_median": round(float(np.median(draws)), 1),
                "first_draw_ms_runs": [round(d, 1) for d in draws],
                "target_ms": 3000,
            }
            print(
                f"Chromium, 2,000 nodes: first draw {np.median(draws):,.0f} ms median "
                f"(runs: {', '.join(f'{d:,.0f}' for d in draws)}; target <= 3,000 ms)"
            )
        elif with_browser:
            print(f"Browser timing skipped: {reason or 'no 2,000-node size requested'}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 10_000])
    parser.add_argument("--repeat", type=int, default=1, help="best of N (default 1)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    results = run(args.sizes, with_browser=not args.no_browser, repeat=args.repeat)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_viz.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
