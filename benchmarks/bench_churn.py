"""Benchmark of referral_graph.churn at the 50,000-provider scale.

Builds a monthly edge panel of about 450,000 ties x 24 months directly with
numpy (a vectorised simulator with gradual and abrupt churn, shifts to other
receivers, retirements, seasons and negative-binomial noise), or from
:func:`referral_graph.synthetic.generate_market` with ``--source synthetic``,
or reads one (``--panel FILE``, pickle / Parquet / CSV, with ``--providers``).

``--steps functions`` (default) times each function on its own: features for 6
cutoffs, a multi-slice fit, a 6-cutoff rolling backtest and the at-risk scoring.
Targets: at most 60 s for the four steps and at most 3 GB.

``--steps report`` times what ``referral-graph report`` does: one
:class:`~referral_graph.churn.PreparedPanel`, the backtest, then the at-risk
list (into ``--focus`` when given) ranked by what the backtest chose and with
the family it chose, on the same prepared panel; it prints the peak memory
added over the loaded panel. The backtest's fits run side by side where both
cores are idle (:func:`referral_graph._worker.side_by_side`), as they do in
the ``at-risk`` and ``backtest`` commands.

Run::

    python benchmarks/bench_churn.py            # 50,000 providers, 24 months
    python benchmarks/bench_churn.py --providers 5000 --months 30 --source synthetic
    python benchmarks/bench_churn.py --steps report --panel /tmp/panel50k.pkl \
        --providers-file /tmp/prov50k.pkl --focus "Riverside Health"

``--save PREFIX`` pickles the results (``PREFIX_backtest.pkl``, and with
``--steps report`` ``PREFIX_at_risk.pkl``) to compare two versions of the code
on the same panel; ``--compare PREFIX`` checks that this run's results equal the
saved ones to the last digit (``pandas.testing.assert_frame_equal(...,
check_exact=True)`` and the same ``attrs``) and exits with 1 when they do not.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from referral_graph import churn


def _rss_gb() -> float:
    """Peak resident set size of this process so far, in GB (Linux: ru_maxrss in KB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024**3 if sys.platform == "darwin" else 1024**2)


def _current_rss_gb() -> float:
    """Resident set size now, in GB (Linux /proc; the peak elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return _rss_gb()


def _read_table(path: str) -> pd.DataFrame:
    """A panel or providers table from a pickle, Parquet or CSV file."""
    if path.endswith((".pkl", ".pickle")):
        frame = pd.read_pickle(path)
    elif path.endswith(".parquet"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path)
    assert isinstance(frame, pd.DataFrame)
    return frame


def simulate_panel(n_providers: int, n_months: int, seed: int) -> pd.DataFrame:
    """A large edge panel (``source``, ``target``, ``month``, ``referrals``, ``patients``)."""
    rng = np.random.default_rng(seed)
    n_src = int(n_providers * 0.7)
    n_tgt = n_providers - n_src
    per_source = 1 + rng.poisson(12.6, size=n_src)
    src = np.repeat(np.arange(n_src), per_source)
    popularity = rng.gamma(0.8, 1.0, size=n_tgt)
    tgt = rng.choice(n_tgt, size=len(src), p=popularity / popularity.sum())
    key = np.unique(src.astype(np.int64) * n_tgt + tgt)  # one tie per pair
    src, tgt = key // n_tgt, key % n_tgt
    n = len(src)
    months = np.arange(n_months)
    rate = rng.lognormal(np.log(1.2) - 0.5, 1.0, size=n)
    born = np.where(rng.random(n) < 0.2, rng.integers(0, n_months, size=n), -1)
    onset = rng.geometric(0.015, size=n) - 1 + np.maximum(born, 0)
    ramp = np.where(rng.random(n) < 0.6, rng.integers(2, 7, size=n), 0)
    floor = rng.uniform(0.0, 0.12, size=n)
    progress = np.clip((months[None, :] - onset[:, None] + 1) / (ramp[:, None] + 1), 0.0, 1.0)
    mult = 1.0 - (1.0 - floor[:, None]) * progress
    mult[months[None, :] < born[:, None]] = 0.0
    # half of the lost volume moves to another tie of the same source (the next one)
    starts = np.searchsorted(src, src)
    sizes = np.bincount(src, minlength=n_src)[src]
    nxt = starts + (np.arange(n) - starts + 1) % sizes
    moved = (rng.random(n) < 0.5) & (sizes > 1)
    gain = np.zeros((n, n_months))
    np.add.at(gain, nxt[moved], (rate[moved, None] * (1.0 - mult[moved])))
    mean = rate[:, None] * mult + gain * (mult > 0)
    retire = rng.geometric(0.004, size=n_src) - 1
    mean *= np.clip((retire[src][:, None] + 2 - months[None, :]) / 2.0, 0.0, 1.0)
    season = 1 + 0.15 * np.sin(2 * np.pi * (months + rng.uniform(0, 12)) / 12)
    mean *= season[None, :] * rng.gamma(1 / 0.3, 0.3, size=mean.shape)
    counts = rng.poisson(mean).astype(np.int64)
    del mean, mult, gain, progress
    rows, cols = np.nonzero(counts)
    refs = counts[rows, cols]
    ids = np.array([f"{1_000_000_000 + i}" for i in range(n_providers)], dtype=object)
    source_ids = ids[src[rows]]
    target_ids = ids[n_src + tgt[rows]]
    month_index = pd.date_range("2023-01-01", periods=n_months, freq="MS")
    return pd.DataFrame(
        {
            "source": pd.array(source_ids, dtype="str"),
            "target": pd.array(target_ids, dtype="str"),
            "month": month_index[cols].astype("datetime64[ns]"),
            "referrals": refs,
            "patients": np.maximum(1, refs - rng.binomial(refs, 0.15)),
        }
    )


def synthetic_panel(n_providers: int, n_months: int, seed: int) -> pd.DataFrame:
    """The edge panel of a :func:`referral_graph.synthetic.generate_market` market."""
    from referral_graph import aggregate, io, synthetic

    market = synthetic.generate_market(n_providers=n_providers, n_months=n_months, seed=seed)
    return aggregate.edge_panel(io.read_events(market.events))


def _timed(label: str, fn: Callable[[], Any], times: dict[str, float]) -> Any:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    times[label] = time.perf_counter() - start
    cpu = time.process_time() - cpu  # every thread of the process
    print(
        f"{label:<28} {times[label]:7.1f} s   CPU {cpu:5.1f} s   peak RSS {_rss_gb():5.2f} GB",
        flush=True,
    )
    return out


def _functions(panel: pd.DataFrame, times: dict[str, float]) -> pd.DataFrame:
    """Each churn function on its own (each builds its own tie matrix)."""
    cutoffs = churn.churn_cutoffs(panel, labelled=False)[-6:]
    features = _timed("features (6 cutoffs)", lambda: churn.churn_features(panel, cutoffs), times)
    print(f"  {len(features):,} feature rows", flush=True)
    del features
    model, table = _timed("fit (all labelled cutoffs)", lambda: churn.fit_churn_model(panel), times)
    print(f"  trained on {len(table):,} sampled rows", flush=True)
    result: pd.DataFrame = _timed("backtest (6 cutoffs)", lambda: churn.backtest(panel), times)
    risk = _timed("at-risk scoring", lambda: churn.at_risk(panel, model=model, capacity=100), times)
    print(f"  {len(risk):,} ties scored, {int(risk['flagged'].sum())} flagged", flush=True)
    return result


def _report_path(
    panel: pd.DataFrame,
    providers: pd.DataFrame | None,
    focus: str | None,
    times: dict[str, float],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the report does (``_report_at_risk.at_risk_tables``): one prepared panel, the
    backtest, then the at-risk list ranked and modelled as the backtest chose.

    Returns the at-risk list and the backtest summary.
    """
    ids = None
    if focus is not None:
        from referral_graph.leakage import resolve_focus

        assert providers is not None, "--focus needs --providers-file"
        ids = resolve_focus(providers, focus=focus)
    prepared = _timed(
        "prepare (tie matrix)",
        lambda: churn.PreparedPanel(panel, providers=providers),
        times,
    )
    print(f"  {prepared!r}: {prepared.nbytes / 1e6:,.0f} MB", flush=True)
    result: pd.DataFrame = _timed(
        "backtest",
        lambda: churn.backtest(prepared, k=(25, 100), random_state=0),
        times,
    )
    risk = _timed(
        "at-risk list (shared matrix)",
        lambda: churn.at_risk(
            prepared,
            focus_ids=ids,
            capacity=25,
            random_state=0,
            ranking="auto",
            family="auto",
            backtested=result,
        ),
        times,
    )
    print(
        f"  {len(risk):,} ties listed, ranked by {risk.attrs.get('ranking')} "
        f"({risk.attrs.get('family')}); cached inputs: {prepared.nbytes / 1e6:,.0f} MB",
        flush=True,
    )
    return risk, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", choices=["numpy", "synthetic"], default="numpy")
    parser.add_argument("--panel", help="read the panel from this file instead")
    parser.add_argument("--providers-file", help="providers table (with --panel)")
    parser.add_argument("--focus", help="focus organisation of the at-risk list (report)")
    parser.add_argument("--steps", choices=["functions", "report"], default="functions")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    parser.add_argument(
        "--save",
        metavar="PREFIX",
        help="pickle the results to PREFIX_backtest.pkl (and PREFIX_at_risk.pkl with "
        "--steps report), e.g. to compare two versions of the code",
    )
    parser.add_argument(
        "--compare",
        metavar="PREFIX",
        help="check that the results equal those saved with --save PREFIX (to the last digit)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    times: dict[str, float] = {}
    with threadpool_limits(limits=args.threads):
        providers = _read_table(args.providers_file) if args.providers_file else None
        if args.panel:
            panel = _timed("read panel", lambda: _read_table(args.panel), times)
        else:
            make = simulate_panel if args.source == "numpy" else synthetic_panel
            panel = _timed(
                "generate panel", lambda: make(args.providers, args.months, args.seed), times
            )
        n_ties = len(panel[["source", "target"]].drop_duplicates())
        print(f"panel: {len(panel):,} rows, {n_ties:,} ties", flush=True)
        loaded = _current_rss_gb()
        risk = None
        if args.steps == "report":
            risk, result = _report_path(panel, providers, args.focus, times)
        else:
            result = _functions(panel, times)
    total = sum(v for k, v in times.items() if k not in ("generate panel", "read panel"))
    print(f"{'total (without the panel)':<28} {total:7.1f} s   peak RSS {_rss_gb():5.2f} GB")
    print(f"{'peak added over the panel':<28} {_rss_gb() - loaded:13.2f} GB")
    if args.save:
        result.to_pickle(f"{args.save}_backtest.pkl")
        if risk is not None:
            risk.to_pickle(f"{args.save}_at_risk.pkl")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(result.round(3).to_string(index=False))
    ok = total <= 60 and _rss_gb() <= 3
    print("within targets (<= 60 s, <= 3 GB):", "yes" if ok else "NO")
    if args.compare:
        same = _same_as_saved(args.compare, {"backtest": result, "at_risk": risk})
        print(f"the same as {args.compare} to the last digit:", "yes" if same else "NO")
        ok = ok and same
    return 0 if ok else 1


def _same_as_saved(prefix: str, results: dict[str, pd.DataFrame | None]) -> bool:
    """Whether each result equals the one pickled at ``PREFIX_<name>.pkl``, exactly."""
    same = True
    for name, frame in results.items():
        if frame is None:
            continue
        saved = pd.read_pickle(f"{prefix}_{name}.pkl")
        try:
            pd.testing.assert_frame_equal(frame, saved, check_exact=True)
            assert frame.attrs == saved.attrs, f"attrs {frame.attrs} != {saved.attrs}"
        except AssertionError as exc:
            print(f"{name} differs: {exc}")
            same = False
    return same


if __name__ == "__main__":
    raise SystemExit(main())
