"""Time the provider measures on a synthetic heavy-tailed referral graph.

A script, not a test::

    python benchmarks/bench_centrality.py              # our measures only (~15 s)
    python benchmarks/bench_centrality.py --reference  # also pure networkx (minutes)

The graph: 40,000 referrers each send to a lognormal number of receivers
(mean ~10.6) among 10,000 specialists, chosen with Pareto(1.5) popularity, plus
15,000 reciprocal specialist <-> specialist ties; referral counts are
``ceil(lognormal(1.5, 1.0))``. About 50,000 providers and 450,000 weighted ties.

Target on a 2-core machine: all our measures together <= 10 s, peak RSS <= 2 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
from threadpoolctl import threadpool_limits

from referral_graph.centrality import (
    CompactGraph,
    betweenness,
    hits,
    pagerank,
    provider_measures,
)
from referral_graph.communities import detect_communities


def make_edges(
    seed: int = 0,
    n_referrers: int = 40_000,
    n_specialists: int = 10_000,
    mean_ties: float = 10.6,
    n_reciprocal: int = 15_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Return (source, target, referrals, n) of a heavy-tailed directed referral graph."""
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, n_specialists) + 1.0
    p = popularity / popularity.sum()
    sigma = 0.8
    ties = rng.lognormal(np.log(mean_ties) - sigma**2 / 2, sigma, n_referrers)
    k = np.maximum(1, np.round(ties)).astype(np.int64)
    src = np.repeat(np.arange(n_referrers), k)
    dst = n_referrers + rng.choice(n_specialists, size=src.size, p=p)
    a = n_referrers + rng.choice(n_specialists, size=n_reciprocal, p=p)
    b = n_referrers + rng.choice(n_specialists, size=n_reciprocal, p=p)
    src = np.concatenate([src, a, b])
    dst = np.concatenate([dst, b, a])
    keep = src != dst
    n = n_referrers + n_specialists
    key = np.unique(src[keep] * n + dst[keep])
    src, dst = key // n, key % n
    referrals = np.ceil(rng.lognormal(1.5, 1.0, src.size)).astype(np.int64)
    # Shuffle rows so that node order is not sorted by role.
    order = rng.permutation(src.size)
    return src[order], dst[order], referrals[order], n


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn: Callable[[], Any], results: dict[str, float]) -> Any:
    started = time.perf_counter()
    out = fn()
    results[label] = time.perf_counter() - started
    print(f"  {label:<34} {results[label]:8.2f} s   (peak RSS {peak_rss_mb():7.0f} MB)", flush=True)
    return out


def degree_strength(cg: CompactGraph) -> dict[str, np.ndarray]:
    n = cg.n_nodes
    return {
        "in_degree": np.bincount(cg.dst, minlength=n),
        "out_degree": np.bincount(cg.src, minlength=n),
        "in_strength": np.bincount(cg.dst, weights=cg.weight, minlength=n),
        "out_strength": np.bincount(cg.src, weights=cg.weight, minlength=n),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP thread limit")
    parser.add_argument("--sources", type=int, default=256, help="betweenness sample size")
    parser.add_argument(
        "--reference", action="store_true", help="also time the pure-networkx equivalents"
    )
    args = parser.parse_args(argv)

    with threadpool_limits(limits=args.threads):
        started = time.perf_counter()
        src, dst, referrals, n = make_edges(args.seed)
        ids = np.array([f"P{i:06d}" for i in range(n)], dtype=object)
        graph = nx.DiGraph()
        graph.add_nodes_from(ids.tolist())
        graph.add_edges_from(
            (u, v, {"referrals": int(w)})
            for u, v, w in zip(ids[src].tolist(), ids[dst].tolist(), referrals, strict=True)
        )
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(
            f"graph: {graph.number_of_nodes():,} providers, {graph.number_of_edges():,} ties "
            f"(built in {time.perf_counter() - started:.1f} s, peak RSS {peak_rss_mb():.0f} MB)"
        )

        ours: dict[str, float] = {}
        print("referral_graph:")
        cg = timed("CompactGraph.from_networkx", lambda: CompactGraph.from_networkx(graph), ours)
        timed("degree / strength", lambda: degree_strength(cg), ours)
        timed("pagerank", lambda: pagerank(cg), ours)
        timed("hits", lambda: hits(cg), ours)
        labels = timed("communities (leiden)", lambda: detect_communities(cg), ours)
        btw = timed(
            f"betweenness (k={args.sources})",
            lambda: betweenness(cg, k=args.sources, seed=args.seed),
            ours,
        )
        total = sum(ours.values())
        ours_peak = peak_rss_mb()
        print(f"  {'TOTAL (measures above)':<34} {total:8.2f} s   peak RSS {ours_peak:.0f} MB")
        print(
            f"  leiden: {labels.nunique()} communities; betweenness: max {btw.max():.2e}, "
            f"stderr median {btw.attrs['stderr_median']:.2e} / max {btw.attrs['stderr_max']:.2e}, "
            f"relative stderr of top 10 {100 * btw.attrs['relative_stderr_top10']:.1f}%"
        )
        extra: dict[str, float] = {}
        timed("provider_measures(graph) end to end", lambda: provider_measures(graph), extra)
        timed("communities (louvain)", lambda: detect_communities(cg, method="louvain"), extra)
        timed(
            "communities (leiden, 2 iterations)",
            lambda: detect_communities(cg, n_iterations=2),
            extra,
        )
        ok = total <= 10 and ours_peak <= 2048
        print(f"target (<= 10 s, <= 2048 MB): {'met' if ok else 'MISSED'}")
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

        if args.reference:
            ref: dict[str, float] = {}
            print("networkx reference:")
            timed("nx.pagerank", lambda: nx.pagerank(graph, weight="referrals"), ref)
            # nx.hits reads the 'weight' attribute only; absent here, so it runs unweighted.
            timed("nx.hits", lambda: nx.hits(graph), ref)
            undirected = timed("(undirected projection)", lambda: _undirected(cg), {})
            timed(
                "nx.community.louvain_communities",
                lambda: nx.community.louvain_communities(undirected, seed=args.seed),
                ref,
            )
            timed(
                f"nx.betweenness_centrality(k={args.sources})",
                lambda: nx.betweenness_centrality(
                    graph, k=args.sources, seed=args.seed, weight=lambda u, v, d: 1 / d["referrals"]
                ),
                ref,
            )
            pairs = [
                ("pagerank", "nx.pagerank"),
                ("hits", "nx.hits"),
                ("communities (leiden)", "nx.community.louvain_communities"),
                (f"betweenness (k={args.sources})", f"nx.betweenness_centrality(k={args.sources})"),
            ]
            print("ratio networkx / ours:")
            for mine, theirs in pairs:
                print(f"  {mine:<34} {ref[theirs] / ours[mine]:8.1f}x")
            print(f"  {'total':<34} {sum(ref.values()) / total:8.1f}x")
    return 0


def _undirected(cg: CompactGraph) -> nx.Graph:
    a, b, w = cg.undirected_edges(self_loops=True)
    undirected = nx.Graph()
    undirected.add_nodes_from(range(cg.n_nodes))
    undirected.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
    return undirected


if __name__ == "__main__":
    sys.exit(main())
