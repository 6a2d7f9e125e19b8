"""Benchmark: a national-size referral network on one machine, and the memory model.

``national`` (default)
    Generates (once, cached under ``benchmarks/results/``, which git ignores) a
    heavy-tailed synthetic edge list of 1,000,000 providers and 20,000,000 ties
    with numpy (lognormal referral volumes, Pareto attractiveness of receivers,
    lognormal tie weights) written as Parquet, then, in a fresh process, times
    ``scale.load_compact`` + ``scale.compact_measures`` (degree, strength,
    PageRank, HITS, Leiden communities, k-core, sampled betweenness when asked)
    and reports peak RSS, the process's CPU time (the machine is shared) and the
    communities' modularity (``communities.modularity``, outside the timed steps).
    Targets (2 cores, 24 GiB; issue 20): <= 300 s and <= 16 GB.

``reference``
    Pure networkx on a 1/20 sample of the same ties (graph_from_tables,
    degree, ``networkx.pagerank``, ``networkx.hits``,
    ``networkx.community.louvain_communities`` on the summed undirected
    projection, ``networkx.core_number``, ``networkx.betweenness_centrality``
    from ``--betweenness-k`` sources, default 8), timed and extrapolated to the
    full list; then the compact path on the same sample, each measure compared
    with networkx's: share of providers within 1e-6, largest gap, Spearman
    correlation; communities by the modularity of both partitions and their NMI.

``national-file``
    The CMS national file itself (issue 20, item 3): generates (once, cached in
    ``--data``) a header-less CMS-layout file of ``--providers`` / ``--edges`` rows
    (:func:`cms_file`), then runs ``referral-graph build`` (the Parquet folder) and
    ``referral-graph score`` on it as a user would (``--engine files``: out of core at any
    size, as the national file goes by itself), each under ``/usr/bin/time -v``:
    wall time, CPU time (user + system) and peak RSS of the command, the load average
    before and after. ``--keep`` keeps the generated file (else removed when over 3 GB).

``memory``
    Measures the bytes per event, tie-month, tie and provider at every stage
    on the 50,000-provider / 5,000,000-event market (cached by
    ``bench_report.py``): CSV on disk, Arrow, pandas events, DuckDB, panel,
    tie table, networkx graph, CompactGraph, scipy CSR, igraph. These are the
    numbers of ``docs/memory.md``.

Usage::

    python benchmarks/bench_scale.py [national|reference|national-file|memory|all]
        [--providers 1000000] [--edges 20000000] [--betweenness-k 0] [--data DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
GB = 1024**3


def _rss_gb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024**2  # type: ignore[union-attr]


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# ----------------------------------------------------------------------------- the edge list


def _draw_ties(
    providers: int, edges: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`edges` distinct directed ties among `providers`, heavy-tailed, sorted by source, target.

    Referrers' volumes are lognormal (sigma 1.5), receivers' attractiveness Pareto
    (shape 1.2, so a few hospitals receive from tens of thousands of referrers); pairs
    are drawn independently, self-loops and repeats dropped, until `edges` distinct ties.
    Returns the source and target positions (int32).
    """
    out_w = rng.lognormal(0.0, 1.5, providers)
    in_w = rng.pareto(1.2, providers) + 0.05
    out_cdf = np.cumsum(out_w / out_w.sum())
    in_cdf = np.cumsum(in_w / in_w.sum())
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < edges:
        need = int((edges - len(keys)) * 1.15) + 1000
        s = np.searchsorted(out_cdf, rng.random(need)).clip(0, providers - 1)
        t = np.searchsorted(in_cdf, rng.random(need)).clip(0, providers - 1)
        fresh = s.astype(np.int64) * providers + t
        fresh = fresh[s != t]
        keys = np.unique(np.concatenate([keys, fresh]))
    keys = np.sort(rng.choice(keys, size=edges, replace=False))
    source = (keys // providers).astype(np.int32)
    target = (keys % providers).astype(np.int32)
    return source, target


def edge_list(providers: int, edges: int, *, seed: int = 2024, folder: Path = RESULTS) -> Path:
    """A heavy-tailed directed edge list as Parquet (cached): source, target, referrals, patients.

    The ties of :func:`_draw_ties`; referrals lognormal, patients a share of them. Ids
    are ten-digit strings; the table is sorted by source, target (as a tie table).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"national_{providers}_{edges}.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    source, target = _draw_ties(providers, edges, rng)
    referrals = np.ceil(rng.lognormal(1.0, 1.1, edges)).astype(np.int64)
    patients = np.maximum(1, np.round(referrals * rng.uniform(0.4, 1.0, edges))).astype(np.int64)
    ids = pa.array([str(1_000_000_000 + i) for i in range(providers)], type=pa.string())
    table = pa.table(
        {
            "source": pa.DictionaryArray.from_arrays(pa.array(source), ids),
            "target": pa.DictionaryArray.from_arrays(pa.array(target), ids),
            "referrals": referrals,
            "patients": patients,
        }
    )
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=2_000_000)
    os.replace(tmp, path)
    logging.info(
        "generated %s ties among %s providers in %.0f s -> %s (%.0f MB)",
        f"{edges:,}",
        f"{providers:,}",
        time.perf_counter() - started,
        path,
        path.stat().st_size / 1e6,
    )
    return path


def valid_npis(n: int, *, start: int = 100_000_000, step: int = 37) -> np.ndarray:
    """`n` distinct valid NPIs (ten digits, correct Luhn check digit) as strings.

    The first nine digits are ``start + i * step``; the check digit is the Luhn digit
    over the prefix 80840 and those nine (as :func:`referral_graph.npi.npi_check_digit`).
    """
    nine = start + np.arange(n, dtype=np.int64) * step
    if nine.max(initial=0) >= 1_000_000_000:
        raise ValueError("too many NPIs for nine digits from this start and step")
    total = np.full(n, 24, dtype=np.int64)  # the prefix 80840's share
    rest = nine.copy()
    for position in range(9):  # the rightmost of the nine first, doubled
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            digit = digit * 2
            digit = digit - 9 * (digit > 9)
        total += digit
    check = (10 - total % 10) % 10
    return (nine * 10 + check).astype(str)


def cms_file(
    providers: int,
    edges: int,
    path: Path,
    *,
    seed: int = 2024,
) -> Path:
    """A header-less CSV in the CMS Physician Shared Patient Patterns layout (cached).

    ``npi_from, npi_to, pair_count, bene_count, same_day_count``, one row per directed
    tie (the ties of :func:`_draw_ties`, sorted by npi_from, npi_to as CMS ships them),
    valid NPIs, and counts shaped like the real file's: ``bene_count`` at least 11 (the
    CMS privacy floor), ``pair_count`` at least ``bene_count``, ``same_day_count`` a
    small share of ``pair_count`` (often 0 to 10: what small-cell suppression hides).
    Written in chunks of 5 million rows, so 65 million rows (about 2.1 GB) need ~3 GB.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    source, target = _draw_ties(providers, edges, rng)
    npis = pa.array(valid_npis(providers))
    bene = 11 + np.floor(rng.lognormal(1.5, 1.3, edges)).astype(np.int64)
    pair = bene + np.floor(bene * rng.lognormal(-0.7, 0.9, edges)).astype(np.int64)
    same_day = rng.binomial(pair, 0.04).astype(np.int64)
    tmp = path.with_name(path.name + ".tmp")
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    chunk = 5_000_000
    with pacsv.CSVWriter(
        str(tmp),
        pa.schema([(c, pa.string() if c.startswith("npi") else pa.int64()) for c in CMS_COLUMNS]),
        write_options=options,
    ) as writer:
        for at in range(0, edges, chunk):
            part = slice(at, at + chunk)
            writer.write_table(
                pa.table(
                    {
                        "npi_from": npis.take(pa.array(source[part])),
                        "npi_to": npis.take(pa.array(target[part])),
                        "pair_count": pair[part],
                        "bene_count": bene[part],
                        "same_day_count": same_day[part],
                    }
                )
            )
    os.replace(tmp, path)
    logging.info(
        "generated a header-less CMS file of %s ties among %s providers in %.0f s -> %s (%.2f GB)",
        f"{edges:,}",
        f"{providers:,}",
        time.perf_counter() - started,
        path,
        path.stat().st_size / 1e9,
    )
    return path


CMS_COLUMNS = ("npi_from", "npi_to", "pair_count", "bene_count", "same_day_count")


def _child(mode: str, *args: str) -> dict[str, Any]:
    """Run a mode in a fresh process (so that its peak RSS is its own); return its JSON."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )  # the child's log goes straight to stderr
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------- national


def national_child(path: str, betweenness_k: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from referral_graph.scale import compact_measures, load_compact

    out: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
    with threadpool_limits(2):
        t0 = time.perf_counter()
        cg = load_compact(path)
        out["load_s"] = time.perf_counter() - t0
        out["load_peak_gb"] = _peak_gb()
        out["providers"], out["ties"] = cg.n_nodes, cg.n_edges
        table = compact_measures(cg, betweenness_k=betweenness_k or None)
        out.update({f"{k}_s": v for k, v in table.attrs["seconds"].items()})
        out["communities"] = int(table["community"].max()) + 1
        out["total_s"] = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time of the process: on a shared machine the wall times above include waiting
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["load_average_after"] = os.getloadavg()[0]
    out["peak_rss_gb"] = _peak_gb()
    # outside the timed steps: the quality of the communities, as detect_communities defines it
    from referral_graph.communities import modularity

    labels = table["community"].set_axis(table["id"])
    out["modularity"] = modularity(cg, labels)
    return out


def national(args: argparse.Namespace) -> dict[str, Any]:
    path = edge_list(args.providers, args.edges)
    result = _child("national", str(path), str(args.betweenness_k))
    print(f"national graph: {result['providers']:,} providers, {result['ties']:,} ties")
    for key in ("load", "degree", "pagerank", "hits", "communities", "core_number", "betweenness"):
        if f"{key}_s" in result:
            print(f"  {key:<12}{result[f'{key}_s']:8.1f} s")
    print(f"  {'total':<12}{result['total_s']:8.1f} s   (target <= 300 s)")
    before, after = result["load_average_before"], result["load_average_after"]
    print(
        f"  CPU time    {result['cpu_s']:8.1f} s   (load average {before:.1f} before, "
        f"{after:.1f} after: other jobs share the 2 cores)"
    )
    print(f"  peak RSS    {result['peak_rss_gb']:8.2f} GB  (target <= 16 GB)")
    print(f"  communities {result['communities']:8d}, modularity {result['modularity']:.5f}")
    return result


# ----------------------------------------------------------------------------- reference


def _agreement(ours: Any, reference: Any) -> dict[str, float]:
    """How far two columns of the same measure are apart: largest gap, rank correlation."""
    from scipy.stats import spearmanr

    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return {
        "max_abs_diff": float(np.max(np.abs(ours - reference))),
        "spearman": float(spearmanr(ours, reference).statistic),
        "within_1e-6": float(np.mean(np.isclose(ours, reference, rtol=1e-6, atol=1e-6))),
    }


def reference_child(path: str, fraction: int, betweenness_k: int) -> dict[str, Any]:
    """networkx on a 1/`fraction` sample of the ties, timed; then each compact measure on the
    same sample compared with networkx's value (the reference)."""
    import networkx as nx
    import pandas as pd
    import pyarrow.parquet as pq
    from sklearn.metrics import normalized_mutual_info_score

    from referral_graph.communities import modularity
    from referral_graph.graph import graph_from_tables
    from referral_graph.scale import compact_measures, load_compact

    table = pq.read_table(path)
    sample = table.take(np.arange(0, table.num_rows, fraction))
    del table
    ties = sample.to_pandas()
    for c in ("source", "target"):
        ties[c] = ties[c].astype("str")
    sample_path = Path(path).with_name(f"sample_1_in_{fraction}.parquet")
    ties.to_parquet(sample_path, index=False)
    out: dict[str, Any] = {"ties": len(ties)}
    gc.collect()
    before = _rss_gb()
    t0 = time.perf_counter()
    G = graph_from_tables(ties)
    out["nx_build_s"] = time.perf_counter() - t0
    gc.collect()
    out["nx_graph_gb"] = _rss_gb() - before
    out["providers"] = G.number_of_nodes()
    nodes = list(G)
    ref: dict[str, Any] = {}
    logging.info("networkx reference: %s", out)
    t0 = time.perf_counter()
    ref["in_degree"] = [d for _, d in G.in_degree(nodes)]
    ref["out_degree"] = [d for _, d in G.out_degree(nodes)]
    ref["in_strength"] = [d for _, d in G.in_degree(nodes, weight="referrals")]
    ref["out_strength"] = [d for _, d in G.out_degree(nodes, weight="referrals")]
    out["nx_degree_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pagerank = nx.pagerank(G, weight="referrals", tol=1e-10)
    ref["pagerank"] = [pagerank[u] for u in nodes]
    out["nx_pagerank_s"] = time.perf_counter() - t0
    logging.info("networkx reference: %s", out)
    for _, _, d in G.edges(data=True):  # networkx's HITS reads 'weight'; paths read 'length'
        d["weight"], d["length"] = d["referrals"], 1.0 / d["referrals"]
    t0 = time.perf_counter()
    try:
        hubs, authorities = nx.hits(G, max_iter=1000, tol=1e-10)
        ref["hub"], ref["authority"] = [hubs[u] for u in nodes], [authorities[u] for u in nodes]
    except Exception as exc:  # ARPACK may fail to converge on heavy tails
        out["nx_hits_error"] = type(exc).__name__
    out["nx_hits_s"] = time.perf_counter() - t0
    logging.info("networkx reference: %s", out)
    # the projection communities are defined on: u -> v and v -> u summed
    undirected = nx.Graph()
    undirected.add_nodes_from(nodes)
    for u, v, w in G.edges(data="referrals"):
        previous = undirected[u][v]["weight"] if undirected.has_edge(u, v) else 0
        undirected.add_edge(u, v, weight=w + previous)
    t0 = time.perf_counter()
    parts = nx.community.louvain_communities(undirected, weight="weight", seed=0)
    out["nx_louvain_s"] = time.perf_counter() - t0
    louvain = pd.Series(
        {u: label for label, part in enumerate(parts) for u in part}, dtype=np.int64
    ).reindex(nodes)
    logging.info("networkx reference: %s", out)
    undirected.remove_edges_from(list(nx.selfloop_edges(undirected)))
    t0 = time.perf_counter()
    core = nx.core_number(undirected)
    ref["core_number"] = [core[u] for u in nodes]
    out["nx_core_number_s"] = time.perf_counter() - t0
    del undirected
    t0 = time.perf_counter()
    btw = nx.betweenness_centrality(G, k=betweenness_k, seed=0, weight="length")
    ref["betweenness"] = [btw[u] for u in nodes]
    out["nx_betweenness_s"] = time.perf_counter() - t0
    logging.info("networkx reference: %s", out)
    out["nx_peak_gb"] = _peak_gb()
    del G, ties
    gc.collect()
    t0 = time.perf_counter()
    cg = load_compact(sample_path)
    table2 = compact_measures(cg, betweenness_k=betweenness_k, seed=0)
    out["compact_s"] = time.perf_counter() - t0
    out["compact_steps"] = table2.attrs["seconds"]
    sample_path.unlink()
    table2 = table2.set_index("id").reindex(pd.Index(nodes, dtype=table2["id"].dtype))
    agreement = {m: _agreement(table2[m], values) for m, values in ref.items()}
    ours = table2["community"].set_axis(nodes)
    agreement["community"] = {
        "modularity": modularity(cg, ours),
        "reference_modularity": modularity(cg, louvain.set_axis(nodes)),
        "nmi": float(normalized_mutual_info_score(louvain, ours)),
        "communities": int(ours.nunique()),
        "reference_communities": int(louvain.nunique()),
    }
    out["agreement"] = agreement
    return out


def reference(args: argparse.Namespace) -> dict[str, Any]:
    path = edge_list(args.providers, args.edges)
    k = args.fraction
    sources = args.betweenness_k or 8
    result = _child("reference", str(path), str(k), str(sources))
    steps = ("build", "degree", "pagerank", "hits", "louvain", "core_number", "betweenness")
    nx_total = sum(result[f"nx_{s}_s"] for s in steps)
    result["nx_total_s"] = nx_total
    result["extrapolated_nx_total_s"] = nx_total * k
    result["extrapolated_nx_graph_gb"] = result["nx_graph_gb"] * k
    print(
        f"networkx on a 1/{k} sample ({result['ties']:,} ties, {result['providers']:,} providers):"
    )
    for s in steps:
        print(f"  {s:<12}{result[f'nx_{s}_s']:8.1f} s")
    print(f"  total       {nx_total:8.1f} s; graph {result['nx_graph_gb']:.2f} GB; "
          f"peak {result['nx_peak_gb']:.2f} GB")  # fmt: skip
    print(f"  compact path on the same sample: {result['compact_s']:.1f} s")
    print(
        f"  extrapolated x{k} (linear, a lower bound: Louvain grows faster): "
        f"{nx_total * k / 60:.0f} min and {result['nx_graph_gb'] * k:.0f} GB for the graph alone"
    )
    print(f"agreement of the compact path with networkx on the sample ({sources} sources):")
    for measure, a in result["agreement"].items():
        if measure == "community":
            print(
                f"  {measure:<20} modularity {a['modularity']:.5f} (networkx Louvain "
                f"{a['reference_modularity']:.5f}), {a['communities']} communities "
                f"({a['reference_communities']}), NMI {a['nmi']:.3f}"
            )
        else:
            print(
                f"  {measure:<20} within 1e-6 {100 * a['within_1e-6']:6.2f} %, largest gap "
                f"{a['max_abs_diff']:.3g}, Spearman {a['spearman']:.6f}"
            )
    return result


# ----------------------------------------------------------------------------- national file


def _timed(command: list[str], log: Path) -> dict[str, Any]:
    """Run a command under /usr/bin/time -v; its wall, CPU and peak RSS (and its output)."""
    before = os.getloadavg()[0]
    with open(log, "w") as err:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", *command], stdout=subprocess.PIPE, stderr=err, text=True
        )
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({proc.returncode}); see {log}")

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", text).group(1).strip()  # type: ignore[union-attr]

    parts = [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(x * 60**i for i, x in enumerate(reversed(parts)))
    return {
        "wall_s": wall,
        "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "peak_rss_gb": int(field("Maximum resident set size (kbytes)")) / 1024**2,
        "load_average_before": before,
        "load_average_after": os.getloadavg()[0],
        "stdout": proc.stdout,
    }


def national_file(args: argparse.Namespace) -> dict[str, Any]:
    import shutil

    data = Path(args.data)
    path = cms_file(
        args.providers, args.edges, data / f"cms_pspp_{args.providers}_{args.edges}.txt"
    )
    out = data / "national_file_run"
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"file": str(path), "file_gb": path.stat().st_size / 1e9}
    cli = [sys.executable, "-m", "referral_graph.cli", "-q"]
    spill = ["--engine", "files", "--temp-dir", str(out)]  # out of core at any size
    for name, command in (
        ("build", [*cli, "build", "--edges", str(path), "--out", str(out / "graph"), *spill]),
        ("score", [*cli, "score", "--edges", str(path), "--out", str(out / "scores"), *spill]),
    ):
        step = _timed(command, out / f"{name}.log")
        result[name] = step
        load = f"{step['load_average_before']:.1f} -> {step['load_average_after']:.1f}"
        print(f"referral-graph {name}: {step['wall_s']:.0f} s wall, {step['cpu_s']:.0f} s CPU, "
              f"peak RSS {step['peak_rss_gb']:.2f} GB (load average {load})")  # fmt: skip
        print("  " + step["stdout"].strip().replace("\n", "\n  "))
    result["graph_gb"] = sum(p.stat().st_size for p in (out / "graph").iterdir()) / 1e9
    if not args.keep and path.stat().st_size > 3e9:
        path.unlink()
    shutil.rmtree(out / "graph", ignore_errors=True)
    return result


# ----------------------------------------------------------------------------- memory model


def _deep(frame: Any) -> int:
    return int(frame.memory_usage(deep=True).sum())


def memory_child(events_csv: str, providers_csv: str) -> dict[str, Any]:
    """Bytes per row at each stage; tracemalloc for Python objects, RSS for native memory."""
    import pandas as pd
    import pyarrow.csv as pacsv

    from referral_graph import aggregate, io
    from referral_graph.centrality import CompactGraph
    from referral_graph.graph import graph_from_tables
    from referral_graph.scale import aggregate_files, load_compact

    out: dict[str, Any] = {}
    csv_bytes = Path(events_csv).stat().st_size
    t0 = time.perf_counter()
    arrow = pacsv.read_csv(
        events_csv, convert_options=pacsv.ConvertOptions(column_types={"source": "string"})
    )
    n_events = arrow.num_rows
    out["events"] = n_events
    out["csv_bytes_per_event"] = csv_bytes / n_events
    out["arrow_bytes_per_event"] = arrow.nbytes / n_events
    del arrow
    gc.collect()
    before = _rss_gb()
    peak_before = _peak_gb()
    events = io.read_events(events_csv)
    out["read_events_s"] = time.perf_counter() - t0
    out["pandas_events_bytes_per_event"] = _deep(events) / n_events
    out["read_events_rss_delta_per_event"] = (_rss_gb() - before) * GB / n_events
    out["read_events_peak_gb"] = _peak_gb()
    out["read_events_peak_delta_per_event"] = (_peak_gb() - peak_before) * GB / n_events
    t0 = time.perf_counter()
    panel = aggregate.edge_panel(events, engine="duckdb")
    ties = aggregate.tie_table(events, engine="duckdb")
    out["aggregate_s"] = time.perf_counter() - t0
    out["aggregate_peak_gb"] = _peak_gb()
    out["tie_months"], out["ties"] = len(panel), len(ties)
    out["panel_bytes_per_tie_month"] = _deep(panel) / len(panel)
    out["ties_bytes_per_tie"] = _deep(ties) / len(ties)
    del events, panel
    gc.collect()
    providers = io.read_providers(providers_csv)
    out["providers"] = len(providers)
    out["providers_bytes_per_provider"] = _deep(providers) / len(providers)
    # networkx: every Python object allocated while building, per tie (attributes included)
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    G = graph_from_tables(ties, providers)
    out["nx_build_s"] = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["nx_nodes"], out["nx_edges"] = G.number_of_nodes(), G.number_of_edges()
    out["nx_bytes_total"] = current
    out["nx_build_peak_bytes"] = peak
    # the same graph without any attribute: the structure's own cost
    tracemalloc.start()
    bare = __import__("networkx").DiGraph()
    bare.add_nodes_from(providers["id"].tolist())
    bare.add_edges_from(zip(ties["source"].tolist(), ties["target"].tolist(), strict=True))
    bare_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["nx_bare_bytes_total"] = bare_bytes
    del bare
    gc.collect()
    t0 = time.perf_counter()
    cg = CompactGraph.from_networkx(G)
    out["from_networkx_s"] = time.perf_counter() - t0
    del G
    gc.collect()
    ids_bytes = sum(sys.getsizeof(x) for x in cg.ids) + cg.ids.nbytes
    out["compact_edge_bytes_per_tie"] = (cg.src.nbytes + cg.dst.nbytes + cg.weight.nbytes) / max(
        cg.n_edges, 1
    )
    out["compact_id_bytes_per_provider"] = ids_bytes / cg.n_nodes
    csr = cg.to_csr()
    out["csr_bytes_per_tie"] = (csr.data.nbytes + csr.indices.nbytes) / cg.n_edges
    out["csr_indptr_bytes_per_provider"] = csr.indptr.nbytes / cg.n_nodes
    del csr
    import igraph as ig

    a, b, w = cg.undirected_edges(self_loops=True)
    gc.collect()
    before = _rss_gb()
    tracemalloc.start()
    graph = ig.Graph(n=cg.n_nodes, directed=False)
    graph.add_edges(np.column_stack([a, b]).astype(np.int64))
    graph.es["weight"] = w
    py_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["igraph_undirected_ties"] = len(a)
    out["igraph_bytes_per_tie"] = ((_rss_gb() - before) * GB) / len(a)
    out["igraph_python_attr_bytes_per_tie"] = py_bytes / len(a)
    del graph
    # the out-of-core path: its peak RSS (DuckDB's buffers included) and the file sizes
    folder = RESULTS / "memory_scale_out"
    gc.collect()
    t0 = time.perf_counter()
    result = aggregate_files(events_csv, folder, memory_limit="2GB")
    out["aggregate_files_s"] = time.perf_counter() - t0
    panel_size = result.paths["panel"].stat().st_size
    out["panel_parquet_bytes_per_tie_month"] = panel_size / result.tie_months
    out["ties_parquet_bytes_per_tie"] = result.paths["ties"].stat().st_size / result.ties
    t0 = time.perf_counter()
    cg2 = load_compact(result.paths["ties"], nodes=providers)
    out["load_compact_s"] = time.perf_counter() - t0
    assert cg2.n_edges == cg.n_edges
    out["peak_rss_gb"] = _peak_gb()
    pd.set_option("display.width", 200)
    return out


def aggregate_files_child(events_csv: str, memory_limit: str) -> dict[str, Any]:
    from referral_graph.scale import aggregate_files

    t0 = time.perf_counter()
    result = aggregate_files(events_csv, RESULTS / "memory_scale_out", memory_limit=memory_limit)
    return {
        "seconds": time.perf_counter() - t0,
        "peak_rss_gb": _peak_gb(),
        "events": result.events,
        "ties": result.ties,
        "tie_months": result.tie_months,
    }


def memory(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from bench_report import SIZES, generate

    p, m, e, _, _ = SIZES["50k"]
    events_csv, providers_csv = generate(RESULTS, p, m, e)
    result = _child("memory", str(events_csv), str(providers_csv))
    for limit in ("1GB", "8GB"):
        result[f"aggregate_files_{limit}"] = _child("aggregate_files", str(events_csv), limit)
    if args.size_300k:
        p, m, e, _, _ = SIZES["300k"]
        big_csv, _ = generate(RESULTS, p, m, e)
        result["aggregate_files_300k_4GB"] = _child("aggregate_files", str(big_csv), "4GB")
    per_edge_nx = result["nx_bytes_total"] / result["nx_edges"]
    print(json.dumps(result, indent=2, default=float))
    print(f"networkx graph: {per_edge_nx:.0f} bytes per tie with attributes (nodes included)")
    return result


# ----------------------------------------------------------------------------- main


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        mode, rest = sys.argv[2], sys.argv[3:]
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        if mode == "national":
            result = national_child(rest[0], int(rest[1]))
        elif mode == "reference":
            result = reference_child(rest[0], int(rest[1]), int(rest[2]))
        elif mode == "memory":
            result = memory_child(rest[0], rest[1])
        else:
            result = aggregate_files_child(rest[0], rest[1])
        print(json.dumps(result, default=float))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    modes = ["national", "reference", "national-file", "memory", "all"]
    parser.add_argument("mode", nargs="?", default="national", choices=modes)
    parser.add_argument("--providers", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=20_000_000)
    parser.add_argument("--fraction", type=int, default=20, help="networkx sample: 1 tie in N")
    parser.add_argument("--betweenness-k", type=int, default=0, help="sampled sources (0: none)")
    parser.add_argument("--size-300k", action="store_true", help="memory: also the 300k market")
    parser.add_argument("--data", default=str(RESULTS), help="national-file: where the file goes")
    parser.add_argument("--keep", action="store_true", help="national-file: keep the file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = RESULTS / "bench_scale.json"
    previous = json.loads(record.read_text()) if record.exists() else {}
    modes = ["national", "reference", "memory"] if args.mode == "all" else [args.mode]
    for mode in modes:
        run = {"national": national, "reference": reference, "memory": memory,
               "national-file": national_file}[mode]  # fmt: skip
        previous[mode] = run(args)
        record.write_text(json.dumps(previous, indent=2, default=float))


if __name__ == "__main__":
    main()
