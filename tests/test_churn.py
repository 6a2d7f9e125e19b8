"""Tests of referral_graph.churn: definitions, leakage, the estimator, backtest, at-risk list."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from referral_graph import churn
from referral_graph.churn import (
    FEATURE_COLUMNS,
    ChurnModel,
    at_risk,
    backtest,
    calibration_table,
    churn_cutoffs,
    churn_features,
    churn_labels,
    fit_churn_model,
)
from referral_graph.churn._columns import _month_numbers
from referral_graph.churn._metrics import _hits_at_k, _metrics
from referral_graph.churn._options import _Options
from referral_graph.churn._reasons import _Context, _reason_text
from referral_graph.exceptions import (
    InsufficientDataError,
    NotFittedError,
    ParameterError,
    SchemaError,
)

# ----------------------------------------------------------------------------- simulator


def _event_month(rng: np.random.Generator, hazard: float, size: int) -> np.ndarray:
    """Month of a first event at a constant monthly hazard (never when 0)."""
    if hazard <= 0:
        return np.full(size, 10**6)
    return rng.geometric(hazard, size=size) - 1


def simulate_panel(
    *,
    n_sources: int = 300,
    n_targets: int = 60,
    n_orgs: int = 4,
    n_specialties: int = 3,
    n_months: int = 30,
    seed: int = 0,
    ties_per_source: float = 4.0,
    volume_mean: float = 1.5,
    volume_sigma: float = 1.0,
    hazard: float = 0.015,
    gradual: float = 0.6,
    shift: float = 0.5,
    recovery: float = 0.2,
    retire: float = 0.004,
    leave: float = 0.004,
    seasonality: float = 0.15,
    dispersion: float = 0.3,
    drift: float = 0.03,
    new_ties: float = 0.25,
    reciprocal: float = 0.1,
    wait: bool = False,
    start: str = "2022-01-01",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small referral history with realistic dynamics, as an edge panel and providers.

    Each source refers to a few targets (popular targets more often) at a
    log-normal monthly rate. Ties churn at a monthly ``hazard``: abruptly or
    over a 2-6 month ramp (``gradual``), down to a small floor, sometimes
    recovering (``recovery``); the lost volume often moves to another target of
    the same source (``shift``: same specialty, another organisation when
    possible). Sources retire and targets leave (all their ties stop), sources
    drift (a random walk), specialties have seasons, new ties start
    mid-history, some targets refer back (``reciprocal``) and counts are
    negative binomial (``dispersion``). With ``wait``, a wait column rises on
    ties that are ramping down.
    """
    rng = np.random.default_rng(seed)
    t_spec = rng.integers(n_specialties, size=n_targets)
    t_org = rng.integers(n_orgs, size=n_targets)
    popularity = rng.gamma(1.0, 1.0, size=n_targets)
    src_list: list[int] = []
    tgt_list: list[int] = []
    for s in range(n_sources):
        m = min(n_targets, 1 + rng.poisson(ties_per_source - 1))
        chosen = rng.choice(n_targets, size=m, replace=False, p=popularity / popularity.sum())
        src_list += [s] * m
        tgt_list += [int(t) for t in chosen]
    src = np.array(src_list)
    tgt = np.array(tgt_list)
    n = len(src)
    months = np.arange(n_months)
    rate = rng.lognormal(np.log(volume_mean) - volume_sigma**2 / 2, volume_sigma, size=n)
    mult = np.ones((n, n_months))
    born = np.where(rng.random(n) < new_ties, rng.integers(0, n_months, size=n), -1)
    mult[months[None, :] < born[:, None]] = 0.0
    onset = _event_month(rng, hazard, n) + np.maximum(born, 0)
    ramp = np.where(rng.random(n) < gradual, rng.integers(2, 7, size=n), 0)
    floor = rng.uniform(0.0, 0.12, size=n)
    recover_at = np.where(
        rng.random(n) < recovery, onset + ramp + rng.integers(2, 6, size=n), 10**6
    )
    progress = np.clip((months[None, :] - onset[:, None] + 1) / (ramp[:, None] + 1), 0.0, 1.0)
    churn_mult = 1.0 - (1.0 - floor[:, None]) * progress
    churn_mult[months[None, :] >= recover_at[:, None]] = 1.0
    lost = 1.0 - churn_mult
    mult *= churn_mult
    extra = np.zeros((n, n_months))
    order = np.argsort(src, kind="stable")
    bounds = np.searchsorted(src[order], np.arange(n_sources + 1))
    for i in np.flatnonzero((rng.random(n) < shift) & (onset < n_months)):
        options = [j for j in order[bounds[src[i]] : bounds[src[i] + 1]] if j != i]
        if not options:
            continue
        same = [
            j
            for j in options
            if t_spec[tgt[j]] == t_spec[tgt[i]] and t_org[tgt[j]] != t_org[tgt[i]]
        ]
        j = rng.choice(same or options)
        extra[j] += rate[i] * lost[i] / max(rate[j], 1e-9)
    mult += extra * (mult > 0)
    gone = np.minimum(
        _event_month(rng, retire, n_sources)[src], _event_month(rng, leave, n_targets)[tgt]
    )
    mult *= np.clip((gone[:, None] + 2 - months[None, :]) / 2.0, 0.0, 1.0)
    walk = np.cumsum(rng.normal(0, drift, size=(n_sources, n_months)), axis=1)
    phase = rng.uniform(0, 12, size=n_specialties)
    season = 1 + seasonality * np.sin(
        2 * np.pi * (months[None, :] + phase[t_spec[tgt]][:, None]) / 12
    )
    mean = rate[:, None] * mult * np.exp(walk[src]) * season
    # some targets refer back to their sources (independent, smaller volume)
    back = np.flatnonzero(rng.random(n) < reciprocal)
    back_mean = 0.3 * rate[back, None] * np.ones((len(back), n_months))
    all_mean = np.vstack([mean, back_mean])
    if dispersion > 0:
        all_mean = all_mean * rng.gamma(1 / dispersion, dispersion, size=all_mean.shape)
    counts = rng.poisson(all_mean)
    source_ids = np.array([f"S{s:04d}" for s in src] + [f"T{t:03d}" for t in tgt[back]])
    target_ids = np.array([f"T{t:03d}" for t in tgt] + [f"S{s:04d}" for s in src[back]])
    rows, cols = np.nonzero(counts)
    refs = counts[rows, cols]
    price = rng.lognormal(5.5, 0.5, size=n_targets)
    month_index = pd.date_range(start, periods=n_months, freq="MS")
    panel = pd.DataFrame(
        {
            "source": pd.array(source_ids[rows], dtype="str"),
            "target": pd.array(target_ids[rows], dtype="str"),
            "month": month_index[cols].astype("datetime64[ns]"),
            "referrals": refs.astype("int64"),
            "patients": np.maximum(1, refs - rng.binomial(refs, 0.15)).astype("int64"),
            "amount": refs * np.concatenate([price[tgt], price[tgt[back]]])[rows],
        }
    )
    if wait:
        base_wait = rng.uniform(5, 30, size=n_targets)
        ramping = np.vstack([1.0 - churn_mult, np.zeros((len(back), n_months))])
        tie_wait = np.concatenate([base_wait[tgt], base_wait[tgt[back]]])
        panel["average_day_wait"] = (
            tie_wait[rows] * (1 + ramping[rows, cols]) + rng.normal(0, 2, size=len(rows))
        ).clip(0)
    panel = panel.drop_duplicates(["source", "target", "month"])
    panel = panel.sort_values(["source", "target", "month"], ignore_index=True)
    specs = ["Cardiology", "Orthopedics", "Neurology", "Urology", "Oncology"]
    orgs = ["Home Health", "Rival Heart Group", "Lakeside Clinic", "Summit Partners"]
    providers = pd.DataFrame(
        {
            "id": [f"S{s:04d}" for s in range(n_sources)] + [f"T{t:03d}" for t in range(n_targets)],
            "name": [f"Dr Source {s}" for s in range(n_sources)]
            + [f"Dr Target {t}" for t in range(n_targets)],
            "specialty": ["Family Medicine"] * n_sources + [specs[k % 5] for k in t_spec],
            "organization": [f"Practice {s // 3}" for s in range(n_sources)]
            + [orgs[o % 4] for o in t_org],
        }
    )
    return panel, providers


@cache
def _history_a() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training-style history: mostly gradual churn, moderate noise."""
    return simulate_panel(n_sources=800, seed=1)


@cache
def _history_b() -> pd.DataFrame:
    """A differently configured history, with other column names and no extras.

    Mostly abrupt churn, more retirements, stronger seasons, more noise,
    busier ties, more ties per source, 27 months, another seed.
    """
    panel, _ = simulate_panel(
        n_sources=700,
        seed=7,
        n_months=27,
        gradual=0.25,
        hazard=0.02,
        retire=0.01,
        leave=0.0,
        seasonality=0.35,
        dispersion=0.6,
        volume_mean=3.0,
        volume_sigma=1.2,
        ties_per_source=6.0,
        shift=0.3,
        new_ties=0.1,
        reciprocal=0.0,
    )
    return pd.DataFrame(
        {
            "from_npi": panel["source"],
            "to_npi": panel["target"],
            "period": panel["month"].dt.strftime("%Y-%m"),
            "transaction_count": panel["referrals"],
        }
    )


def _panel(series: dict[tuple[str, str], list[int]], start: str = "2023-01-01") -> pd.DataFrame:
    """A hand-made panel: one list of monthly counts per tie (zeros are left out)."""
    rows = []
    for (s, t), counts in series.items():
        months = pd.date_range(start, periods=len(counts), freq="MS")
        rows += [(s, t, m, c) for m, c in zip(months, counts, strict=True) if c > 0]
    frame = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    frame["month"] = frame["month"].astype("datetime64[ns]")
    return frame


def _row(frame: pd.DataFrame, source: str, target: str) -> pd.Series:
    hit = frame[(frame["source"] == source) & (frame["target"] == target)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


# ----------------------------------------------------------------------------- definitions


def test_two_a_month_then_silence_churns() -> None:
    panel = _panel(
        {
            ("A", "B"): [2] * 12 + [0, 0, 0],
            ("A", "C"): [2] * 12 + [1, 0, 0],  # 1 < 0.25 x 2 x 3 = 1.5: churns
            ("A", "D"): [2] * 12 + [1, 1, 0],  # 2 >= 1.5: kept
        }
    )
    labels = churn_labels(panel, "2024-01-01", data_end="2024-03-01")
    assert labels["cutoff"].dtype == "datetime64[ns]"
    b, c, d = (_row(labels, "A", t) for t in "BCD")
    assert (b["baseline_referrals"], b["horizon_referrals"], b["expected_referrals"]) == (24, 0, 6)
    assert b["churned"] and c["churned"] and not d["churned"]


def test_one_a_month_is_active_and_churns_only_on_silence() -> None:
    # 12 referrals >= 6: active; threshold 0.25 x 1 x 3 = 0.75, so only a silent horizon churns
    panel = _panel({("A", "B"): [1] * 12 + [0, 0, 0], ("A", "C"): [1] * 12 + [0, 0, 1]})
    labels = churn_labels(panel, "2024-01-01").set_index("target")
    assert labels.loc["B", "churned"] and not labels.loc["C", "churned"]


def test_activity_threshold_is_min_referrals_in_the_baseline() -> None:
    panel = _panel(
        {
            ("A", "B"): [0] * 7 + [1] * 5 + [0, 0, 0],  # 5 < 6: not active
            ("A", "C"): [0] * 6 + [1] * 6 + [0, 0, 0],  # exactly 6: active
            ("A", "D"): [9] + [0] * 11 + [0, 0, 0],  # 9 in one month counts
            ("A", "E"): [5] * 12 + [0] * 3,  # all but the baseline is out of the data:
        },
        start="2023-01-01",
    )
    panel.loc[len(panel)] = ["A", "E", pd.Timestamp("2022-12-01"), 50]  # before the baseline
    labels = churn_labels(panel, "2024-01-01", data_end="2024-03-01")
    assert sorted(labels["target"]) == ["C", "D", "E"]
    assert _row(labels, "A", "E")["baseline_referrals"] == 60
    labels5 = churn_labels(panel, "2024-01-01", min_referrals=5, data_end="2024-03-01")
    assert "B" in set(labels5["target"])


def test_churn_fraction_and_horizon_parameters() -> None:
    panel = _panel({("A", "B"): [2] * 12 + [1, 1, 0, 0, 0, 0]})
    end = "2024-06-01"  # the last rows are silent months: the data end is given
    assert not churn_labels(panel, "2024-01-01", data_end=end)["churned"].item()
    assert churn_labels(panel, "2024-01-01", churn_fraction=0.5, data_end=end)["churned"].item()
    # horizon 6: 2 < 0.25 x 2 x 6 = 3
    assert churn_labels(panel, "2024-01-01", horizon=6, data_end=end)["churned"].item()


def test_labels_need_an_observed_horizon() -> None:
    panel = _panel({("A", "B"): [2] * 14})  # data end: 2024-02
    with pytest.raises(InsufficientDataError, match="horizon"):
        churn_labels(panel, "2024-01-01")
    assert churn_cutoffs(panel) == []
    assert churn_cutoffs(panel, labelled=False) == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-02-01"),
        pd.Timestamp("2024-03-01"),
    ]
    assert churn_labels(panel, "2024-01-01", data_end="2024-03-01")["churned"].tolist() == [False]
    with pytest.raises(ParameterError, match="data_end"):
        churn_labels(panel, "2024-01-01", data_end="2023-12-01")
    # features exist as of the end of the data (the month after the last month) ...
    assert len(churn_features(panel, "2024-03-01")) == 1
    # ... but not later, nor without a full baseline
    with pytest.raises(InsufficientDataError, match="unobserved"):
        churn_features(panel, "2024-04-01")
    with pytest.raises(InsufficientDataError, match="baseline"):
        churn_features(panel, "2023-06-01")


def test_cutoffs_must_be_month_starts() -> None:
    panel = _panel({("A", "B"): [2] * 14})
    with pytest.raises(ParameterError, match="month starts"):
        churn_features(panel, "2024-01-15")
    with pytest.raises(ParameterError, match="'horizon' parameter of churn_labels"):
        churn_labels(panel, "2024-01-01", horizon=0)


# ----------------------------------------------------------------------------- features


def test_gap_lapse_tenure_and_recent_features() -> None:
    panel = _panel(
        {
            ("A", "B"): [2, 0, 0] * 4 + [0, 0, 0],  # every 3 months, last in month 9
            ("A", "C"): [0, 0, 0] + [1] * 9,  # started 9 months ago, every month
            ("A", "D"): [3] * 12,
            ("A", "E"): list(range(1, 13)),
        }
    )
    f = churn_features(panel, "2024-01-01", min_referrals=1)
    b, c, d, e = (_row(f, "A", t) for t in "BCDE")
    assert b["months_since_last"] == 2 and b["usual_gap"] == 3.0
    assert b["lapse_vs_gap"] == pytest.approx(0.0)  # (2 + 1) / 3
    assert b["recent_zero_months"] == 2 and b["recent_referrals"] == 2
    assert c["tenure"] == 9 and c["usual_gap"] == 1.0 and c["months_since_last"] == 0
    assert d["volatility"] == 0.0 and d["slope"] == 0.0 and d["recent_vs_baseline"] == 0.0
    assert e["slope"] > 0.1 and e["recent_vs_baseline"] > 0
    assert d["log_baseline_rate"] == pytest.approx(np.log(3.0))
    # trend_drop = 1 - recent rate / prior rate (B: recent 2/3, prior 6/9 -> 0)
    assert b["trend_drop"] == pytest.approx(0.0)
    assert set(FEATURE_COLUMNS) <= set(f.columns)
    assert f["cutoff"].dtype == "datetime64[ns]" and f["baseline_referrals"].dtype == "int64"


def test_year_on_year_needs_fifteen_months() -> None:
    panel = _panel({("A", "B"): [4] * 12 + [2] * 3 + [4] * 9 + [1] * 3})
    early = churn_features(panel, "2024-01-01").iloc[0]
    assert np.isnan(early["yoy_change"]) and early["yoy_available"] == 0
    late = churn_features(panel, "2025-04-01").iloc[0]  # recent 1/month vs 2/month a year before
    assert late["yoy_available"] == 1
    assert late["yoy_change"] == pytest.approx(np.log(1.5 / 2.5))


def test_share_competitor_referrer_and_reciprocity() -> None:
    panel = _panel(
        {
            ("A", "B"): [2] * 9 + [0, 0, 0],
            ("A", "C"): [2] * 9 + [4, 4, 4],
            ("C", "A"): [1] * 12,
        }
    )
    f = churn_features(panel, "2024-01-01")
    b = _row(f, "A", "B")
    assert b["share_baseline"] == pytest.approx(18 / 48)
    assert b["share_recent"] == 0.0 and b["share_change"] < -0.3
    assert b["referrer_trend"] == pytest.approx(0.0)  # 4 a month recently and over the year
    assert b["competitor_gain"] == pytest.approx(np.log(4.5 / 3.0))  # others: 4 vs 30 / 12
    assert b["reciprocity"] == 0.0  # B never refers to A
    c = _row(f, "A", "C")
    assert c["reciprocity"] == pytest.approx(np.log(13.0)) and c["reciprocal_referrals"] == 12
    # with providers: competitors are other organisations of the same specialty
    providers = pd.DataFrame(
        {
            "id": ["A", "B", "C", "D"],
            "name": ["Dr A", "Dr B", "Dr C", "Dr D"],
            "specialty": ["Family", "Cardiology", "Cardiology", "Dermatology"],
            "organization": ["Practice", "Home Heart", "Home Heart", "Skin Co"],
        }
    )
    same_org = churn_features(panel, "2024-01-01", providers=providers)
    assert _row(same_org, "A", "B")["competitor_gain"] == pytest.approx(0.0)
    providers.loc[2, "organization"] = "Rival Heart Group"
    rival = churn_features(panel, "2024-01-01", providers=providers)
    assert _row(rival, "A", "B")["competitor_gain"] == pytest.approx(np.log(4.5 / 3.0))


def test_patients_wait_and_amount_columns() -> None:
    panel = _panel({("A", "B"): [4] * 12})
    panel["patients"] = 2
    panel["amount"] = 100.0
    panel["average_day_wait"] = [10.0] * 9 + [20.0] * 3
    f = churn_features(panel, "2024-01-01").iloc[0]
    assert f["patients_per_referral"] == pytest.approx(0.5)
    assert f["wait_days"] == pytest.approx(12.5)
    assert f["wait_change"] == pytest.approx(np.log(21 / 13.5))
    assert f["baseline_amount"] == pytest.approx(1200.0)
    plain = churn_features(panel[["source", "target", "month", "referrals"]], "2024-01-01")
    assert plain[["patients_per_referral", "wait_days"]].isna().all(axis=None)


def test_other_column_names_and_event_rows_give_the_same_features() -> None:
    panel, _ = simulate_panel(n_sources=60, n_months=16, seed=3)
    panel = panel[["source", "target", "month", "referrals"]]
    expected = churn_features(panel, "2023-03-01")
    renamed = pd.DataFrame(
        {
            "from_npi": panel["source"],
            "to_npi": panel["target"],
            "period": panel["month"].dt.to_period("M"),
            "transaction_count": panel["referrals"],
        }
    )
    pd.testing.assert_frame_equal(churn_features(renamed, "2023-03-01"), expected)
    mapped = panel.set_axis(["a", "b", "c", "d"], axis=1)
    cols = {"source": "a", "target": "b", "month": "c", "referrals": "d"}
    pd.testing.assert_frame_equal(churn_features(mapped, "2023-03-01", columns=cols), expected)
    events = panel.loc[panel.index.repeat(panel["referrals"]), ["source", "target", "month"]]
    events = events.assign(month=events["month"] + pd.Timedelta(days=9)).rename(
        columns={"month": "date"}
    )
    from_events = churn_features(events, "2023-03-01")
    # Dated events give recency in days: every referral on the 10th, against mid-month (the
    # 15th) for a panel of month starts, so the last referral is 5 days further back; the usual
    # gap (first to last referral, over the gaps between them) is the same.
    days = ["days_since_last", "days_vs_gap", "lapse_surprise"]
    days += ["referrer_days_since_last", "log_referrer_days_since_last", "tie_vs_referrer_quiet"]
    pd.testing.assert_frame_equal(from_events.drop(columns=days), expected.drop(columns=days))
    assert (from_events["days_since_last"] == expected["days_since_last"] + 5).all()
    later = from_events["referrer_days_since_last"] - expected["referrer_days_since_last"]
    assert (later == 5).all()
    pd.testing.assert_series_equal(from_events["usual_gap_days"], expected["usual_gap_days"])


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_real_tie_level_edges_have_no_months() -> None:
    path = SHARED / "hop_teaming_nashville" / "edges.csv"
    if not path.exists():
        pytest.skip(f"real data absent: {path}")
    edges = pd.read_csv(path, dtype={"from_npi": str, "to_npi": str}, na_values=["NULL"])
    # from_npi / to_npi / transaction_count are recognised; a churn model needs months
    with pytest.raises(SchemaError, match="month"):
        churn_features(edges, "2024-01-01")


def test_schema_errors() -> None:
    with pytest.raises(SchemaError, match="columns="):
        churn_features(pd.DataFrame({"x": [1]}), "2024-01-01")
    bad = _panel({("A", "B"): [1] * 13})
    bad.loc[0, "referrals"] = -1
    with pytest.raises(SchemaError, match=">= 0"):
        churn_features(bad, "2024-01-01")


# ----------------------------------------------------------------------------- no leakage


def _with_future_noise(panel: pd.DataFrame, cutoff: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Add rows on/after `cutoff`: more volume for existing ties and brand-new ties."""
    rng = np.random.default_rng(seed)
    ties = panel[["source", "target"]].drop_duplicates().sample(frac=0.5, random_state=seed)
    months = pd.date_range(cutoff, periods=3, freq="MS")
    extra = ties.merge(pd.DataFrame({"month": months}), how="cross")
    extra["referrals"] = rng.integers(1, 40, size=len(extra))
    new = pd.DataFrame(
        {
            "source": ["NEW1", "NEW2", str(panel["source"].iloc[0])],
            "target": [str(panel["target"].iloc[0]), "NEW3", "NEW4"],
            "month": [cutoff, cutoff, months[-1]],
            "referrals": [500, 50, 70],
        }
    )
    out = pd.concat([panel, extra, new], ignore_index=True)
    out = out.groupby(["source", "target", "month"], as_index=False)[["referrals"]].sum()
    out["month"] = out["month"].astype("datetime64[ns]")
    return out.sample(frac=1.0, random_state=seed)  # row order must not matter either


def test_features_ignore_everything_on_or_after_the_cutoff() -> None:
    full, providers = simulate_panel(n_sources=150, seed=5)
    full = full[["source", "target", "month", "referrals"]]
    for cutoff in (pd.Timestamp("2023-01-01"), pd.Timestamp("2023-09-01")):
        past = full[full["month"] < cutoff]
        expected = churn_features(past, cutoff, providers=providers)
        assert len(expected) > 100
        got_full = churn_features(full, cutoff, providers=providers)
        pd.testing.assert_frame_equal(got_full, expected)
        noisy = _with_future_noise(full, cutoff, seed=cutoff.month)
        pd.testing.assert_frame_equal(churn_features(noisy, cutoff, providers=providers), expected)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(12, 18))
def test_no_leakage_property(seed: int, cut: int) -> None:
    rng = np.random.default_rng(seed)
    n_ties, n_months = int(rng.integers(1, 8)), 19
    counts = rng.poisson(rng.uniform(0.2, 4, size=(n_ties, 1)), size=(n_ties, n_months))
    counts[:, 0] += 1  # every tie starts in the first month, so the data start is fixed
    series = {(f"S{i % 3}", f"T{i}"): list(map(int, c)) for i, c in enumerate(counts)}
    panel = _panel(series)
    cutoff = pd.Timestamp("2023-01-01") + pd.DateOffset(months=cut)
    past = panel[panel["month"] < cutoff]
    # the truncated panel may end in silent months: tell it where the data end
    end = cutoff - pd.DateOffset(months=1)
    # zero months leave no rows: the full panel's data end is its 19th month, not its last row
    full_end = pd.Timestamp("2023-01-01") + pd.DateOffset(months=n_months - 1)
    pd.testing.assert_frame_equal(
        churn_features(panel, cutoff, min_referrals=1, data_end=full_end),
        churn_features(past, cutoff, min_referrals=1, data_end=end),
    )


def test_backtest_uses_nothing_past_each_test_horizon() -> None:
    panel, _ = simulate_panel(n_sources=200, seed=11, n_months=26)
    full = backtest(panel, n_cutoffs=3, per_cutoff=True, max_train_samples=None)
    for cutoff in full["cutoff"].unique():
        # the test labels need cutoff .. cutoff + 2; training needs earlier data only
        visible = panel[panel["month"] < cutoff + pd.DateOffset(months=3)]
        cut = backtest(visible, n_cutoffs=1, per_cutoff=True, max_train_samples=None)
        assert list(cut["cutoff"].unique()) == [cutoff]
        pd.testing.assert_frame_equal(
            cut.reset_index(drop=True),
            full[full["cutoff"] == cutoff].reset_index(drop=True),
        )


def test_backtest_trains_only_on_labels_observed_before_the_test_cutoff() -> None:
    panel, _ = simulate_panel(n_sources=200, seed=12, n_months=24)
    table = backtest(panel, n_cutoffs=6, per_cutoff=True, max_train_samples=None)
    labelled = churn_cutoffs(panel)
    model_rows = table[table["method"] == "model"]
    assert list(model_rows["cutoff"]) == labelled[-6:]
    for row in model_rows.itertuples():
        allowed = [c for c in labelled if c + pd.DateOffset(months=3) <= row.cutoff]
        assert row.n_train == len(churn_labels(panel, allowed))


def test_backtest_on_a_short_history_trains_on_shorter_look_backs() -> None:
    # 15 months: "auto" gives a 9-month baseline (15 - 2 x 3), so a single labelled cutoff
    # (month 9) has the full baseline before the last test cutoff (month 12). The model also
    # learns from the cutoffs at months 6, 7 and 8, each with every month before it as its
    # baseline and the activity threshold scaled to it (6 referrals in 9 months: 4 in 6,
    # 5 in 7, 6 in 8), and the cutoffs 9 to 12 are all tested.
    panel, _ = simulate_panel(n_sources=200, seed=21, n_months=15)
    table = backtest(panel, n_cutoffs=6, per_cutoff=True, max_train_samples=None)
    model_rows = table[table["method"] == "model"].reset_index(drop=True)
    start = panel["month"].min()
    assert list(model_rows["cutoff"]) == [start + pd.DateOffset(months=m) for m in (9, 10, 11, 12)]
    index = (panel["month"].dt.year - start.year) * 12 + panel["month"].dt.month - start.month
    per_tie = panel.assign(m=index).pivot_table(
        index=["source", "target"], columns="m", values="referrals", aggfunc="sum", fill_value=0
    )

    def n_active(cutoff: int, lookback: int, threshold: int) -> int:
        window = per_tie.loc[:, cutoff - lookback : cutoff - 1].sum(axis=1)
        return int((window >= threshold).sum())

    short = {6: n_active(6, 6, 4), 7: n_active(7, 7, 5), 8: n_active(8, 8, 6)}
    full = {9: n_active(9, 9, 6)}
    expected = [short[6], short[6] + short[7], sum(short.values()), sum(short.values()) + full[9]]
    assert list(model_rows["n_train"]) == expected
    # the test cutoffs keep the 9-month definition
    assert list(model_rows["n_ties"]) == [n_active(c, 9, 6) for c in (9, 10, 11, 12)]
    # and nothing at or after a test cutoff's horizon end is read
    for cutoff in model_rows["cutoff"]:
        visible = panel[panel["month"] < cutoff + pd.DateOffset(months=3)]
        cut = backtest(
            visible, n_cutoffs=1, per_cutoff=True, max_train_samples=None, baseline_months=9
        )
        pd.testing.assert_frame_equal(
            cut.reset_index(drop=True),
            table[table["cutoff"] == cutoff].reset_index(drop=True),
        )


# ----------------------------------------------------------------------------- the estimator


def _expected_failures(estimator: ChurnModel) -> dict[str, str]:
    out = {
        "check_sample_weight_equivalence_on_dense_data": (
            "by design: the weights (recency of the training cutoffs) reach the classifier and "
            "the calibration, while the imputation and standardisation stay unweighted; and "
            "cv is a number of folds, not the check's list of splits"
        )
    }
    if estimator.calibration is None or estimator.model == "ensemble":
        return out  # (the ensemble's uncalibrated trees carry the class weights into predict)
    out["check_class_weight_classifiers"] = (
        "by design: calibrated probabilities are re-estimated on the unweighted data, so "
        "class_weight shapes the ranking but not the probabilities (or predict)"
    )
    return out


@parametrize_with_checks(
    [
        ChurnModel(),
        ChurnModel(calibration=None),
        ChurnModel(model="gbm", calibration="isotonic", max_iter=20),
        ChurnModel(model="ensemble", boosting_samples=100),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator: ChurnModel, check: object) -> None:
    check(estimator)  # type: ignore[operator]


@cache
def _fitted_a() -> tuple[ChurnModel, pd.DataFrame]:
    panel, _ = _history_a()
    cutoffs = churn_cutoffs(panel)
    return fit_churn_model(panel, cutoffs=cutoffs[:-3])


def test_model_fit_predict_shapes_and_attributes() -> None:
    model, table = _fitted_a()
    x = table[list(FEATURE_COLUMNS)]
    proba = model.predict_proba(x)
    assert proba.shape == (len(table), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(model.predict(x))) <= {False, True}
    assert list(model.classes_) == [False, True]
    assert list(model.feature_names_in_) == list(FEATURE_COLUMNS)
    assert model.n_features_in_ == len(FEATURE_COLUMNS)
    assert model.coef_.shape == (1, len(FEATURE_COLUMNS))
    assert model.calibrated_ and model.pipeline_ is not None
    assert set(table["cutoff"]) == set(churn_cutoffs(_history_a()[0])[:-3])
    # logistic contributions add up to the uncalibrated logit
    contrib = model.contributions(x.iloc[:50])
    raw = model.pipeline_.predict_proba(x.iloc[:50].to_numpy())[:, 1]
    np.testing.assert_allclose(contrib.sum(axis=1) + model.intercept_[0], np.log(raw / (1 - raw)))


def test_model_is_calibrated_on_a_later_cutoff() -> None:
    model, _ = _fitted_a()
    panel, _ = _history_a()
    cutoff = churn_cutoffs(panel)[-1]
    f = churn_features(panel, cutoff)
    y = churn_labels(panel, cutoff)["churned"].to_numpy()
    p = model.predict_proba(f[list(FEATURE_COLUMNS)])[:, 1]
    table = calibration_table(y, p, bins=5, strategy="quantile")
    assert table["n"].sum() == len(y)
    weighted_gap = float(np.average(table["gap"].abs(), weights=table["n"]))
    assert weighted_gap < 0.06
    base = y.mean()
    assert np.mean((p - y) ** 2) < np.mean((base - y) ** 2)


def test_model_errors() -> None:
    model = ChurnModel()
    with pytest.raises(NotFittedError):
        model.predict_proba(np.zeros((2, 3)))
    with pytest.raises(SklearnNotFittedError):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(InsufficientDataError, match="class"):
        ChurnModel().fit(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(ParameterError, match=r"The 'model' parameter of ChurnModel must be one of"):
        ChurnModel(model="forest").fit(np.zeros((10, 2)), np.arange(10) % 2)
    with pytest.raises(ParameterError, match=r"'C' parameter of ChurnModel .* Got 0 instead"):
        ChurnModel(C=0).fit(np.zeros((10, 2)), np.arange(10) % 2)


def test_gbm_model_and_small_data_skip_calibration() -> None:
    _, table = _fitted_a()
    x, y = table[list(FEATURE_COLUMNS)], table["churned"]
    gbm = ChurnModel(model="gbm", random_state=0).fit(x, y)
    assert gbm.predict_proba(x.iloc[:5]).shape == (5, 2)
    assert gbm.contributions(x.iloc[:5]).shape == (5, len(FEATURE_COLUMNS))
    assert not hasattr(gbm, "coef_")
    small = ChurnModel().fit(x.iloc[:40], np.array([True] * 5 + [False] * 35))
    assert not small.calibrated_


def test_calibration_table() -> None:
    table = calibration_table([0, 1, 0, 1], [0.05, 0.95, 0.15, 0.85], bins=10)
    assert list(table.columns) == [
        "bin",
        "p_low",
        "p_high",
        "n",
        "mean_predicted",
        "observed_rate",
        "gap",
    ]
    assert table["n"].tolist() == [1, 1, 1, 1]
    assert table["observed_rate"].tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ParameterError):
        calibration_table([0], [1.5])


def test_precision_at_k_breaks_ties_in_expectation() -> None:
    y = np.array([True, False, False, False])
    assert _hits_at_k(y, np.ones(4), 2) == pytest.approx(0.5)
    assert _hits_at_k(y, np.array([4.0, 3.0, 3.0, 1.0]), 2) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- backtest

BACKTEST_COLUMNS = [
    "method",
    "roc_auc",
    "pr_auc",
    "precision_at_25",
    "recall_at_25",
    "precision_at_100",
    "recall_at_100",
    "top_decile_lift",
    "brier",
    "n_cutoffs",
]
RULE_NAMES = ["days_since_last", "days_vs_gap", "volume_drop", "share_drop"]


@cache
def _backtest_a() -> pd.DataFrame:
    panel, providers = _history_a()
    return backtest(panel, providers=providers)


def test_backtest_columns_and_rules() -> None:
    result = _backtest_a()
    assert list(result.columns) == BACKTEST_COLUMNS
    families = ["logistic", "gbm", "ensemble"]
    assert result["method"].tolist() == ["model", "blend", *families, *RULE_NAMES]
    assert (result["n_cutoffs"] == 6).all()
    with_probabilities = result["method"].isin(["model", "logistic", "gbm", "ensemble"])
    assert result.loc[~with_probabilities, "brier"].isna().all()
    assert 0 < result.loc[0, "brier"] < 0.25
    assert result[BACKTEST_COLUMNS[1:-2]].notna().all(axis=None)


def test_backtest_is_the_same_with_its_fits_side_by_side(monkeypatch) -> None:
    """The fits at the test cutoffs run on two threads where two cores are idle: the same
    figures, to the last digit, as one after another."""
    from referral_graph import _worker

    panel, providers = simulate_panel(n_sources=150, seed=6, n_months=22)
    monkeypatch.setattr(_worker, "_running", lambda: 2.0)  # busy: one after another
    monkeypatch.setattr(_worker.os, "cpu_count", lambda: 2)
    monkeypatch.delenv("REFERRAL_GRAPH_IN_WORKER", raising=False)
    alone = backtest(panel, providers=providers, n_cutoffs=3, per_cutoff=True)
    calls = []
    side_by_side = _worker.side_by_side
    monkeypatch.setattr(_worker, "_running", lambda: 1.0)  # idle: two threads
    monkeypatch.setattr(
        _worker, "side_by_side", lambda fn, items: calls.append(1) or side_by_side(fn, items)
    )
    together = backtest(panel, providers=providers, n_cutoffs=3, per_cutoff=True)
    assert calls  # the fits did go through side_by_side
    pd.testing.assert_frame_equal(alone, together, check_exact=True)


def test_backtest_on_one_month_more_reuses_the_unchanged_test_cutoffs(caplog) -> None:
    """The weekly case: the history grows by a month. Oracle: the backtest of the grown
    history computed afresh, to the last digit; all test cutoffs but the new one are
    found, and a cutoff's figures no longer depend on which other cutoffs are tested
    (its training rows, 2,000 of them, are drawn by a generator of its own)."""
    panel, providers = simulate_panel(n_sources=150, seed=6, n_months=23)
    last = panel["month"].max()
    before = backtest(
        panel[panel["month"] < last], providers=providers, n_cutoffs=4, max_train_samples=2000
    )
    fresh = backtest(
        panel, providers=providers, n_cutoffs=4, per_cutoff=True, max_train_samples=2000
    )
    assert len(before.attrs["folds"]) == len(fresh.attrs["folds"]) == 4
    assert len(set(before.attrs["folds"]) & set(fresh.attrs["folds"])) == 3
    with caplog.at_level("INFO", logger="referral_graph.churn"):
        reused = backtest(
            panel,
            providers=providers,
            n_cutoffs=4,
            per_cutoff=True,
            max_train_samples=2000,
            reuse=before.attrs["folds"],
        )
    assert "3 of 4 test cutoff(s) unchanged since an earlier backtest" in caplog.text
    assert caplog.text.count("Churn model fitted") == 1  # the new cutoff only
    pd.testing.assert_frame_equal(reused, fresh, check_exact=True)
    assert reused.attrs["folds"] == fresh.attrs["folds"]
    # the summary is the mean of the same figures
    summary = backtest(
        panel, providers=providers, n_cutoffs=4, max_train_samples=2000, reuse=fresh.attrs["folds"]
    )
    pd.testing.assert_frame_equal(
        summary,
        backtest(panel, providers=providers, n_cutoffs=4, max_train_samples=2000),
        check_exact=True,
    )


def test_a_backtest_reuses_a_test_cutoff_only_when_nothing_it_depends_on_changed() -> None:
    panel, _ = simulate_panel(n_sources=120, seed=4, n_months=21)
    base = backtest(panel, n_cutoffs=3, k=(10,), per_cutoff=True)
    folds = base.attrs["folds"]
    # 50 referrals more on the busiest tie of the month before the latest test cutoff:
    # the features of that cutoff change (the tie's recent volume), while the earlier test
    # cutoffs only see that month in their horizon, where the busy tie stays unchurned
    latest = base["cutoff"].max()
    month = panel.loc[panel["month"] == latest - pd.DateOffset(months=1), "referrals"]
    changed = panel.copy()
    changed.loc[month.idxmax(), "referrals"] += 50
    again = backtest(changed, n_cutoffs=3, k=(10,), per_cutoff=True, reuse=folds)
    assert [key in folds for key in again.attrs["folds"]] == [True, True, False]  # by cutoff
    pd.testing.assert_frame_equal(
        again, backtest(changed, n_cutoffs=3, k=(10,), per_cutoff=True), check_exact=True
    )
    # a referral more in the first month reaches every cutoff's training data
    first = changed.copy()
    first.loc[panel.index[panel["month"] == panel["month"].min()][0], "referrals"] += 1
    assert not set(backtest(first, n_cutoffs=3, k=(10,)).attrs["folds"]) & set(folds)
    # other settings: other fingerprints
    for other in ({"k": (11,)}, {"random_state": 1}, {"C": 0.5}, {"model": "logistic"}):
        kwargs = {"k": (10,), **other}
        assert not set(backtest(panel, n_cutoffs=3, **kwargs).attrs["folds"]) & set(folds), other
    # no seed: a fit that cannot be repeated is neither kept nor reused
    assert backtest(panel, n_cutoffs=3, k=(10,), random_state=None).attrs["folds"] == {}


def test_model_beats_every_rule_on_a_simulated_history() -> None:
    result = _backtest_a().set_index("method")
    model = result.loc["model"]
    for rule in RULE_NAMES:
        for metric in ("roc_auc", "pr_auc", "precision_at_25", "precision_at_100"):
            assert model[metric] > result.loc[rule, metric], (rule, metric)


def test_backtest_per_cutoff_and_errors() -> None:
    panel, _ = simulate_panel(n_sources=120, seed=4, n_months=20)
    table = backtest(panel, n_cutoffs=2, k=(10,), per_cutoff=True)
    assert table["cutoff"].nunique() == 2 and len(table) == 2 * (5 + len(RULE_NAMES))
    assert {"n_train", "n_ties", "n_churned", "base_rate", "precision_at_10"} <= set(table)
    # a 12-month baseline: a test cutoff needs 12 months before it and 3 after it, and a
    # training cutoff 3 months before it with 6 months of data (a shorter look-back): 15
    with pytest.raises(InsufficientDataError, match="at least 15"):
        backtest(panel[panel["month"] < "2023-03-01"], baseline_months=12)
    fifteen = backtest(panel[panel["month"] < "2023-04-01"], baseline_months=12)
    assert fifteen["n_cutoffs"].iloc[0] == 1
    # "auto" (the default) shrinks the baseline to fit a short history: 16 months give a
    # 10-month baseline (16 - 2 x 3); below 12 months (6 + 2 x 3) there is still no backtest
    short = backtest(panel[panel["month"] < "2023-05-01"], n_cutoffs=1)
    assert short["n_cutoffs"].iloc[0] == 1
    with pytest.raises(InsufficientDataError, match="at least 12"):
        backtest(panel[panel["month"] < panel["month"].min() + pd.DateOffset(months=11)])
    with pytest.raises(ParameterError, match="'n_cutoffs' parameter of backtest"):
        backtest(panel, n_cutoffs=0)


# ----------------------------------------------------------------------------- generalisation


def test_model_beats_rules_on_a_differently_configured_history() -> None:
    panel = _history_b()
    result = backtest(panel).set_index("method")
    for rule in RULE_NAMES:
        for metric in ("roc_auc", "pr_auc"):
            assert result.loc["model", metric] > result.loc[rule, metric], (rule, metric)


def test_model_trained_on_one_history_transfers_to_another() -> None:
    model, _ = _fitted_a()
    panel = _history_b()
    cutoff = churn_cutoffs(panel)[-1]
    f = churn_features(panel, cutoff)
    y = churn_labels(panel, cutoff)["churned"].to_numpy()
    auc_model = roc_auc_score(y, model.predict_proba(f[list(FEATURE_COLUMNS)])[:, 1])
    rules = {
        "days_since_last": f["days_since_last"],
        "days_vs_gap": f["days_since_last"] / f["usual_gap_days"],
        "volume_drop": -f["recent_vs_baseline"],
        "share_drop": f["share_baseline"] - f["share_recent"].fillna(0),
    }
    for name, score in rules.items():
        assert auc_model > roc_auc_score(y, score), name


# ----------------------------------------------------------------------------- at-risk list

_COUNT_IN_TEXT = re.compile(r"(?<![\d.<])(\d[\d,]*) referrals?\b")


def _no_small_counts(text: str) -> bool:
    return all(int(n.replace(",", "")) >= 11 for n in _COUNT_IN_TEXT.findall(text))


@cache
def _risk_list() -> pd.DataFrame:
    panel, providers = _history_a()
    model, _ = _fitted_a()
    return at_risk(panel, model=model, providers=providers, capacity=25)


def test_at_risk_columns_ranking_and_flags() -> None:
    risk = _risk_list()
    assert list(risk.columns) == [
        "rank",
        "source",
        "target",
        "source_name",
        "target_name",
        "cutoff",
        "risk",
        "at_stake",
        "at_stake_amount",
        "expected_loss",
        "expected_loss_amount",
        "priority_index",
        "reasons",
        "flagged",
    ]
    assert risk["rank"].tolist() == list(range(1, len(risk) + 1))
    # the order as a percentile: 100 first, never rising, 1 at most for the last tie
    index = risk["priority_index"]
    assert (
        index.iloc[0] == 100
        and index.is_monotonic_decreasing
        and 1 <= index.iloc[-1] <= 1 + (100 // len(risk))
    )
    assert risk["expected_loss"].is_monotonic_decreasing
    np.testing.assert_allclose(risk["expected_loss"], risk["risk"] * risk["at_stake"])
    assert risk["risk"].between(0, 1).all()
    assert int(risk["flagged"].sum()) == 25 and risk["flagged"].iloc[:25].all()
    assert (risk["cutoff"] == pd.Timestamp("2024-07-01")).all()  # the month after the data


def test_at_risk_reasons_are_words_without_small_counts() -> None:
    risk = _risk_list()
    flagged = risk[risk["flagged"]]
    assert flagged["reasons"].map(lambda t: isinstance(t, str) and len(t) > 10).all()
    assert flagged["reasons"].str.contains("Dr ").all()  # names, not ids
    assert risk["reasons"].dropna().map(_no_small_counts).all()
    text = _reason_text(
        "volume",
        {"baseline_referrals": 7.0, "log_baseline_rate": np.log(7 / 12)},
        _Context("Dr A", "Dr B", None, None, {"log_baseline_rate": 0.0}, _Options()),
    )
    assert text is not None and "<11 referrals" in text and "7" not in text


def test_at_risk_explains_a_shift_to_a_rival() -> None:
    panel = _panel(
        {
            ("A", "B"): [6] * 12 + [5, 2, 0],
            ("A", "C"): [2] * 12 + [3, 6, 8],
            ("A", "D"): [3] * 15,
        }
    )
    providers = pd.DataFrame(
        {
            "id": ["A", "B", "C", "D"],
            "name": ["Dr Adams", "Dr Brown", "Dr Chen", "Dr Diaz"],
            "specialty": ["Family Medicine", "Cardiology", "Cardiology", "Dermatology"],
            "organization": ["Adams Practice", "Home Heart", "Rival Heart Group", "Skin Co"],
        }
    )
    model, _ = _fitted_a()
    risk = at_risk(panel, model=model, providers=providers, capacity=1)
    top = risk.iloc[0]
    assert (top["source"], top["target"], bool(top["flagged"])) == ("A", "B", True)
    assert "Rival Heart Group" in top["reasons"]
    assert "share of Dr Adams's Cardiology referrals fell" in top["reasons"]


def test_at_risk_options() -> None:
    panel, providers = _history_a()
    model, _ = _fitted_a()
    focus = sorted(providers["id"][providers["organization"] == "Home Health"])
    risk = at_risk(panel, model=model, focus_ids=focus, threshold=0.5, amounts=False)
    assert set(risk["target"]) <= set(focus)
    assert (risk["flagged"] == (risk["risk"] >= 0.5)).all()
    assert "at_stake_amount" not in risk.columns and "source_name" not in risk.columns
    earlier = at_risk(panel, model=model, cutoff="2024-01-01", capacity=3, explain_top=0)
    assert (earlier["cutoff"] == pd.Timestamp("2024-01-01")).all()
    assert earlier["reasons"].notna().sum() == 3
    with pytest.raises(ParameterError, match="capacity"):
        at_risk(panel, model=model, capacity=-1)


def test_at_risk_fits_its_own_model() -> None:
    panel, _ = simulate_panel(n_sources=120, seed=8, n_months=20)
    risk = at_risk(panel, capacity=5)
    assert int(risk["flagged"].sum()) == 5
    assert risk.loc[risk["flagged"], "reasons"].str.len().gt(0).all()
    # a training cutoff needs 6 months of data before it and its 3-month horizon: 9 months
    with pytest.raises(InsufficientDataError, match="needs 9 months of data"):
        at_risk(panel[panel["month"] < "2022-09-01"], baseline_months=6)
    # "auto" fits a shorter baseline to the 14 months (14 - 2 x 3 = 8): a list all the same
    assert len(at_risk(panel[panel["month"] < "2023-03-01"], capacity=5))
    # a 12-month baseline on 14 months: no training cutoff has the full baseline, so the
    # model learns from the cutoffs 8 to 11 months in, each with the months before it
    assert len(at_risk(panel[panel["month"] < "2023-03-01"], baseline_months=12, capacity=5))


# ----------------------------------------------------------------------------- prepared panel


def test_prepared_panel_gives_the_same_results() -> None:
    panel, providers = _history_a()
    focus = sorted(providers["id"][providers["organization"] == "Home Health"])
    prepared = churn.PreparedPanel(panel, providers=providers)
    risk = at_risk(prepared, focus_ids=focus, capacity=10, random_state=3)
    pd.testing.assert_frame_equal(
        risk, at_risk(panel, providers=providers, focus_ids=focus, capacity=10, random_state=3)
    )
    # the backtest reuses the cutoffs' model inputs cached by at_risk: still the same table
    cached = prepared.nbytes
    kwargs = {"n_cutoffs": 2, "per_cutoff": True, "random_state": 3}
    pd.testing.assert_frame_equal(
        backtest(prepared, **kwargs), backtest(panel, providers=providers, **kwargs)
    )
    assert prepared.nbytes == cached  # nothing new: at_risk computed every cutoff needed
    cutoffs = churn_cutoffs(panel)
    assert churn_cutoffs(prepared) == cutoffs
    assert churn_cutoffs(prepared, labelled=False) == churn_cutoffs(panel, labelled=False)
    pd.testing.assert_frame_equal(
        churn_features(prepared, cutoffs[-2:]),
        churn_features(panel, cutoffs[-2:], providers=providers),
    )
    pd.testing.assert_frame_equal(
        churn_labels(prepared, cutoffs[:2]), churn_labels(panel, cutoffs[:2])
    )
    model, table = fit_churn_model(prepared, max_train_samples=500)
    model2, table2 = fit_churn_model(panel, providers=providers, max_train_samples=500)
    pd.testing.assert_frame_equal(table, table2)
    np.testing.assert_array_equal(model.coef_, model2.coef_)


def test_prepared_panel_attributes_and_arguments() -> None:
    panel, providers = _history_a()
    prepared = churn.PreparedPanel(panel, providers=providers, data_end="2024-07-01")
    assert prepared.n_ties == len(panel[["source", "target"]].drop_duplicates())
    assert (prepared.first_month, prepared.last_month) == (
        pd.Timestamp("2022-01-01"),
        pd.Timestamp("2024-07-01"),
    )
    assert prepared.n_months == 31
    assert "ties x 31 months" in repr(prepared)
    empty = prepared.nbytes
    backtest(prepared, n_cutoffs=1)
    assert prepared.nbytes > empty
    prepared.clear()
    assert prepared.nbytes == empty
    # the same providers object and the same data_end are accepted; others are not
    assert len(at_risk(prepared, providers=providers, data_end="2024-07-01", capacity=1))
    for kwargs in (
        {"providers": providers.copy()},
        {"columns": {"referrals": "patients"}},
        {"data_end": "2024-08-01"},
    ):
        with pytest.raises(ParameterError, match="PreparedPanel"):
            at_risk(prepared, capacity=1, **kwargs)
    with pytest.raises(ParameterError, match="PreparedPanel"):
        churn.PreparedPanel([1, 2, 3])  # type: ignore[arg-type]


def test_counts_too_large_or_fractional_for_float32_stay_exact() -> None:
    big = 2**25 + 1  # float32 would round it
    panel = _panel({("A", "B"): [big] * 12 + [1], ("C", "D"): [3] * 13})
    ties = churn.PreparedPanel(panel)._ties
    assert ties.counts.dtype == np.float64
    features = churn_features(panel, "2024-01-01")
    assert _row(features, "A", "B")["baseline_referrals"] == 12 * big
    halves = panel.assign(referrals=panel["referrals"].where(panel["source"] != "C", 2.5))
    assert churn.PreparedPanel(halves)._ties.counts.dtype == np.float64
    assert _row(churn_features(halves, "2024-01-01"), "C", "D")["baseline_rate"] == 2.5
    small = _panel({("A", "B"): [3] * 13})
    assert churn.PreparedPanel(small)._ties.counts.dtype == np.float32


def test_ranking_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(5)
    for trial in range(20):
        n = int(rng.integers(2, 400))
        y = rng.random(n) < rng.uniform(0.05, 0.6)
        if not 0 < y.sum() < n:
            continue
        score = np.round(rng.normal(size=n) + y, int(rng.integers(0, 3)))  # many ties
        if trial % 3 == 0:
            score[rng.random(n) < 0.1] = np.nan
        if trial % 5 == 0:
            score[rng.random(n) < 0.05] = np.inf
        got = _metrics(y, score, [5], proba=False)
        s = np.where(np.isnan(score), -np.inf, score)
        finite = np.where(
            np.isinf(s),
            np.nanmin(np.where(np.isinf(s), np.nan, s)) - 1 if np.isfinite(s).any() else 0.0,
            s,
        )
        assert got["roc_auc"] == pytest.approx(roc_auc_score(y, finite), abs=1e-12)
        assert got["pr_auc"] == pytest.approx(average_precision_score(y, finite), abs=1e-12)
        assert got["precision_at_5"] * min(5, n) == pytest.approx(_hits_at_k(y, score, 5))


def test_brier_score_is_scikit_learns_to_the_last_digit() -> None:
    """The metrics' Brier score (computed without scikit-learn's checks) is
    brier_score_loss's, exactly; one class only or float32 go to scikit-learn itself."""
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(8)
    for trial in range(200):
        n = int(rng.integers(1, 2000))
        y = rng.random(n) < rng.uniform(0.0, 1.0)
        p = rng.random(n) if trial % 3 else np.round(rng.random(n), 1)  # ties, 0 and 1
        if trial % 7 == 0:
            p = p.astype(np.float32)
        got = _metrics(y, p, [5], proba=True)["brier"]
        assert got == float(brier_score_loss(y, np.clip(p, 0, 1))), trial


def test_a_model_that_only_predicts_gives_the_same_probabilities() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 4))
    x[rng.random(600) < 0.1, 2] = np.nan
    y = x[:, 0] + rng.normal(size=600) > 0.5
    for kind in ("logistic", "gbm"):
        full = ChurnModel(model=kind, max_iter=30, random_state=0).fit(x, y)
        lean = ChurnModel(model=kind, max_iter=30, random_state=0)._fit(x, y, explain=False)
        np.testing.assert_array_equal(full.predict_proba(x), lean.predict_proba(x))
        assert not hasattr(lean, "pipeline_") and lean.calibrated_


# ----------------------------------------------------------------------------- the sample


def test_bundled_sample_settings_model_beats_rules() -> None:
    synthetic = pytest.importorskip("referral_graph.synthetic")
    from referral_graph.aggregate import edge_panel
    from referral_graph.datasets import SAMPLE_SETTINGS
    from referral_graph.io import read_events

    market = synthetic.generate_market(**SAMPLE_SETTINGS)
    panel = edge_panel(read_events(market.events))
    result = backtest(panel).set_index("method")
    for rule in RULE_NAMES:
        for metric in ("roc_auc", "precision_at_25"):
            assert result.loc["model", metric] > result.loc[rule, metric], (rule, metric)


def test_window_sums_derived_from_the_last_window_are_exact() -> None:
    panel, _ = simulate_panel(n_sources=80, n_months=30, seed=5)
    ties = churn.PreparedPanel(panel)._ties
    rows = ties.rows
    assert ties.counts.dtype == np.float32 and rows is not None
    assert rows.columns["patients"].dtype == np.float32  # whole numbers: windows slide
    assert rows.columns["amount"].dtype == np.float64  # not whole numbers: summed in order

    def direct(name: str, start: int, stop: int) -> np.ndarray:
        lo, hi = rows.ptr[start], rows.ptr[stop]
        weights = rows.columns[name][lo:hi]
        return np.bincount(rows.tie[lo:hi], weights=weights, minlength=ties.n_ties)

    for length in (3, 12):
        for start in (0, 1, 2, 5, 4, 3, 10, 9, 15, 15, 11, 18):  # forward, back, jumps, repeats
            stop = start + length
            expected = ties.counts[start:stop].sum(axis=0, dtype=np.float64)
            np.testing.assert_array_equal(ties.window(start, stop), expected)
            for name in ("patients", "amount"):
                got = rows.window(name, start, stop, ties.n_ties)
                np.testing.assert_array_equal(got, direct(name, start, stop))
    assert set(ties.windows) == {3, 12}
    assert {name for name, _ in rows.windows} == {"patients"}


def test_tie_matrix_does_not_depend_on_row_order_or_split_rows() -> None:
    panel, providers = simulate_panel(n_sources=150, seed=2)
    panel = panel[["source", "target", "month", "referrals"]]
    ordered = panel.sort_values(["source", "target", "month"], ignore_index=True)
    shuffled = panel.sample(frac=1.0, random_state=0)
    # the referrals of a tie and month split over two rows (summed per tie and month)
    split = pd.concat(
        [ordered.assign(referrals=ordered["referrals"] - 1), ordered.assign(referrals=1)]
    )
    expected = churn.PreparedPanel(ordered, providers=providers)._ties
    assert (expected.reverse >= 0).any()
    for other in (shuffled, split, split.sample(frac=1.0, random_state=1)):
        ties = churn.PreparedPanel(other, providers=providers)._ties
        for name in ("ids", "src", "tgt", "counts", "first_active", "reverse", "pair", "trip"):
            np.testing.assert_array_equal(getattr(ties, name), getattr(expected, name))


def test_month_numbers_of_dates_near_and_far_apart() -> None:
    dates = ["1969-12-31 23:59", "1970-01-01 00:00", "2024-02-29 12:00", "1900-03-01 00:00"]
    near = pd.Series(pd.to_datetime(dates))
    expected = (near.dt.year * 12 + near.dt.month - 1).tolist()
    assert _month_numbers(near, "month").tolist() == expected
    far = pd.Series(np.array(["0100-05-17", "9000-01-31T23:00"], dtype="datetime64[s]"))
    assert _month_numbers(far, "month").tolist() == [100 * 12 + 4, 9000 * 12]
    aware = near.dt.tz_localize("America/Chicago")
    assert _month_numbers(aware, "month").tolist() == expected


def test_at_risk_ranked_by_a_rule_follows_its_score() -> None:
    """ranking='days_since_last': the order is the percentile rank of the days since the last
    referral times the referrals at stake, computed here from churn_features (the oracle)."""
    from scipy.stats import rankdata

    panel, providers = _history_a()
    risk = at_risk(panel, providers=providers, capacity=10, ranking="days_since_last")
    assert risk.attrs["ranking"] == "days_since_last"
    f = churn_features(panel, risk["cutoff"].iloc[0], providers=providers)
    priority = rankdata(f["days_since_last"]) / len(f) * f["baseline_rate"] * 3
    by_tie = f.assign(priority=priority).set_index(["source", "target"])["priority"]
    listed = by_tie.reindex(pd.MultiIndex.from_frame(risk[["source", "target"]])).to_numpy()
    assert not np.isnan(listed).any() and len(listed) == len(f)
    assert (np.diff(listed) <= 1e-12).all()  # the list follows the oracle's priority
    blend = at_risk(panel, providers=providers, capacity=10, ranking="blend")
    assert blend.attrs["ranking_rule"] in churn.RULES
    with pytest.raises(ParameterError, match="'ranking' parameter of at_risk"):
        at_risk(panel, ranking="coin_flip")


def test_at_risk_ranked_by_the_model_hedges_with_the_best_rule() -> None:
    """ranking='model': the risks laid in the order of the mean of the percentile ranks of the
    risk and of the best rule's score, the rule weighing 1 / (1 + training cutoffs); here 30
    months, a 12-month baseline and a 3-month horizon leave the cutoffs 12 to 27 months in: 16,
    so 1/17 (the oracle: the order recomputed from churn_features and the list's risks)."""
    from scipy.stats import rankdata

    panel, providers = _history_a()
    risk = at_risk(panel, providers=providers, capacity=10)
    assert risk.attrs["ranking"] == "model"
    rule = risk.attrs["ranking_rule"]
    f = churn_features(panel, risk["cutoff"].iloc[0], providers=providers)
    score = {
        "days_since_last": f["days_since_last"],
        "days_vs_gap": f["days_since_last"] / f["usual_gap_days"],
        "volume_drop": -f["recent_vs_baseline"],
        "share_drop": f["share_baseline"] - f["share_recent"].fillna(0.0),
    }[rule]
    by_tie = risk.set_index(["source", "target"])["risk"]
    r = by_tie.reindex(pd.MultiIndex.from_frame(f[["source", "target"]])).to_numpy()
    w = 1 / 17  # the rule's weight: one cutoff against 16
    hedged = (1 - w) * rankdata(r) + w * rankdata(score.to_numpy())
    laid = np.sort(r)[rankdata(hedged, method="ordinal").astype(int) - 1]
    keys = pd.MultiIndex.from_frame(f[["source", "target"]])
    priority = pd.Series(laid * f["baseline_rate"].to_numpy() * 3, index=keys)
    listed = priority.reindex(pd.MultiIndex.from_frame(risk[["source", "target"]])).to_numpy()
    assert not np.isnan(listed).any() and len(listed) == len(f)
    assert (np.diff(listed) <= 1e-12).all()  # the list follows the oracle's priority
    assert risk["expected_loss"].to_numpy() == pytest.approx(risk["risk"] * risk["at_stake"])
    assert not (risk["expected_loss"].diff().dropna() <= 1e-12).all()  # the hedge moved ties


def test_choose_ranking_keeps_the_model_unless_a_rule_finds_more_at_the_top() -> None:
    table = pd.DataFrame(
        {
            "method": ["model", "blend", "days_since_last", "volume_drop"],
            "roc_auc": [0.70, 0.69, 0.62, 0.55],
            "precision_at_25": [0.40, 0.39, 0.36, 0.20],
            "precision_at_100": [0.30, 0.33, 0.36, 0.20],
        }
    )
    method, why = churn.choose_ranking(table)  # decided at the smallest k, 25
    assert method == "model" and "40%" in why and "36%" in why
    behind = table.assign(precision_at_25=[0.30, 0.33, 0.36, 0.20])
    assert churn.choose_ranking(behind)[0] == "days_since_last"
    blend_wins = table.assign(precision_at_25=[0.30, 0.37, 0.36, 0.20])
    method, why = churn.choose_ranking(blend_wins)
    assert method == "blend" and "days_since_last" in why


def test_churn_label_boundary_is_strict() -> None:
    """Issue 19: `<` turned into `<=` was caught by no test. By hand: 12 baseline months of
    4 referrals give 4 expected per month, 12 over a 3-month horizon; churned means fewer
    than churn_fraction x 12 = 3 referrals in the horizon. Exactly 3 is not churn; 2 is."""
    months = pd.date_range("2023-01-01", periods=15, freq="MS")

    def tie(target: str, horizon: list[int]) -> pd.DataFrame:
        return pd.DataFrame(
            {"source": "A", "target": target, "month": months, "referrals": [4] * 12 + horizon}
        )

    panel = pd.concat([tie("exactly_three", [1, 1, 1]), tie("two", [1, 1, 0])])
    panel = panel.loc[panel["referrals"] > 0]
    labels = churn.churn_labels(
        panel, "2024-01-01", horizon=3, baseline_months=12, churn_fraction=0.25,
        data_end="2024-03-01",
    ).set_index("target")  # fmt: skip
    assert labels.loc["exactly_three", "expected_referrals"] == pytest.approx(12.0)
    assert not labels.loc["exactly_three", "churned"]
    assert labels.loc["two", "churned"]


# ------------------------------------------------- the referrer's recency, families, weights


def test_referrer_recency_features_hand_worked() -> None:
    # A -> C monthly on the 10th until September, A -> D monthly on the 20th all year,
    # B -> C monthly on the 5th until June; cutoff 2024-01-01 (days counted by hand).
    def monthly(src: str, tgt: str, day: int, last_month: int) -> list[tuple[str, str, str]]:
        return [(src, tgt, f"2023-{m:02d}-{day:02d}") for m in range(1, last_month + 1)]

    rows = monthly("A", "C", 10, 9) + monthly("A", "D", 20, 12) + monthly("B", "C", 5, 6)
    events = pd.DataFrame(rows, columns=["source", "target", "date"])
    f = churn_features(events, "2024-01-01").set_index(["source", "target"])
    # Sep 10 -> Jan 1 is 113 days; Dec 20 -> Jan 1 is 12; Jun 5 -> Jan 1 is 210
    assert f.loc[("A", "C"), "days_since_last"] == 113
    assert f.loc[("A", "C"), "referrer_days_since_last"] == 12
    assert f.loc[("A", "D"), "referrer_days_since_last"] == 12
    assert f.loc[("B", "C"), "referrer_days_since_last"] == 210
    assert f.loc[("A", "C"), "tie_vs_referrer_quiet"] == pytest.approx(np.log(114 / 13))
    assert f.loc[("B", "C"), "tie_vs_referrer_quiet"] == pytest.approx(0.0)
    # A's 21 baseline referrals: 9 on A -> C, silent in Oct-Dec; B's 6, all silent
    assert f.loc[("A", "D"), "referrer_quiet_share"] == pytest.approx(9 / 21)
    assert f.loc[("B", "C"), "referrer_quiet_share"] == pytest.approx(1.0)
    # the referrer's last month (December) against its baseline rate, smoothed by 0.5:
    # A sent 1 (to D) against 21 / 12 a month; B sent none against 6 / 12
    assert f.loc[("A", "C"), "referrer_last_vs_baseline"] == pytest.approx(
        np.log(1.5 / (21 / 12 + 0.5))
    )
    assert f.loc[("B", "C"), "referrer_last_vs_baseline"] == pytest.approx(np.log(0.5 / 1.0))
    # months of October to December in which the referrer sent nothing at all
    assert f.loc[("A", "C"), "referrer_recent_zero_months"] == 0
    assert f.loc[("B", "C"), "referrer_recent_zero_months"] == 3


def test_ensemble_parts_and_their_limits() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] * x[:, 1] + 0.3 * rng.normal(size=600) > 0).astype(int)
    ensemble = ChurnModel(model="ensemble", random_state=0).fit(x, y)
    parts = ensemble.family_probabilities(x)
    assert sorted(parts) == ["gbm", "logistic"]
    np.testing.assert_allclose(
        ensemble.predict_proba(x)[:, 1], (parts["logistic"] + parts["gbm"]) / 2
    )
    assert ensemble.contributions(x[:3]).shape == (3, 4)
    # weight 0 is the calibrated logistic regression, weight 1 the uncalibrated trees
    alone = ChurnModel(model="ensemble", boosting_weight=0.0, random_state=0).fit(x, y)
    logistic = ChurnModel(model="logistic", random_state=0).fit(x, y)
    np.testing.assert_allclose(alone.predict_proba(x), logistic.predict_proba(x))
    assert alone.boosting_ is None
    trees = ChurnModel(model="ensemble", boosting_weight=1.0, random_state=0).fit(x, y)
    gbm = ChurnModel(model="gbm", calibration=None, random_state=0).fit(x, y)
    np.testing.assert_allclose(trees.predict_proba(x), gbm.predict_proba(x))
    # the trees find the interaction the linear model cannot
    assert roc_auc_score(y, parts["gbm"]) > roc_auc_score(y, parts["logistic"]) + 0.1


def test_ensemble_parts_side_by_side_are_the_same_fits(monkeypatch) -> None:
    """Where a core is idle, the trees, the calibrated folds and the full pipeline fit on
    two threads: the same model, to the last digit, as one after another."""
    import threading

    from referral_graph import _worker

    rng = np.random.default_rng(7)
    x = rng.normal(size=(3000, 5))
    x[rng.random(x.shape) < 0.05] = np.nan  # the imputer and the trees' missing values
    y = (np.nan_to_num(x[:, 0]) * np.nan_to_num(x[:, 1]) + rng.normal(size=3000) > 0).astype(int)
    w = rng.uniform(0.2, 1.0, size=3000)
    monkeypatch.setattr(_worker.os, "cpu_count", lambda: 2)
    monkeypatch.delenv("REFERRAL_GRAPH_IN_WORKER", raising=False)
    monkeypatch.setattr(_worker, "_running", lambda: 2.0)  # busy: one after another
    alone = ChurnModel(model="ensemble", random_state=0).fit(x, y, sample_weight=w)
    threads = set()
    side_by_side = _worker.side_by_side

    def spy(fn, items):
        def noted(item):
            threads.add(threading.current_thread().name)
            return fn(item)

        return side_by_side(noted, items)

    monkeypatch.setattr(_worker, "_running", lambda: 1.0)  # idle: two threads
    monkeypatch.setattr(_worker, "side_by_side", spy)
    together = ChurnModel(model="ensemble", random_state=0).fit(x, y, sample_weight=w)
    assert len(threads) == 2  # the parts did run on two threads
    np.testing.assert_array_equal(alone.predict_proba(x), together.predict_proba(x))
    np.testing.assert_array_equal(alone.contributions(x), together.contributions(x))
    np.testing.assert_array_equal(alone.coef_, together.coef_)
    np.testing.assert_array_equal(alone.reference_, together.reference_)
    assert alone.n_iter_ == together.n_iter_ and together.calibrated_


def test_sample_weights_reach_the_model() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + rng.normal(size=400) > 0).astype(int)
    plain = ChurnModel(calibration=None).fit(x, y)
    ones = ChurnModel(calibration=None).fit(x, y, sample_weight=np.ones(400))
    np.testing.assert_allclose(plain.predict_proba(x), ones.predict_proba(x))
    # rows weighted 0 are left out of the classifier: flipping their labels changes nothing
    w = np.r_[np.ones(200), np.zeros(200)]
    flipped = y.copy()
    flipped[200:] = 1 - flipped[200:]
    a = ChurnModel(calibration=None).fit(x, y, sample_weight=w)
    b = ChurnModel(calibration=None).fit(x, flipped, sample_weight=w)
    np.testing.assert_allclose(a.coef_, b.coef_)
    with pytest.raises(ParameterError, match="zero"):
        ChurnModel().fit(x, y, sample_weight=np.zeros(400))


def test_recency_half_life_weighs_recent_cutoffs() -> None:
    panel, providers = _history_a()
    _, table_plain = fit_churn_model(panel, providers=providers, recency_half_life=None)
    plain, _ = fit_churn_model(panel, providers=providers, recency_half_life=None)
    recent, _ = fit_churn_model(panel, providers=providers, recency_half_life=3)
    flat, _ = fit_churn_model(panel, providers=providers, recency_half_life=1e6)
    x = table_plain[list(FEATURE_COLUMNS)]
    # an endless half-life is no weighting; a short one is another model
    np.testing.assert_allclose(flat.predict_proba(x), plain.predict_proba(x), atol=1e-4)
    assert np.abs(recent.predict_proba(x) - plain.predict_proba(x)).max() > 1e-3
    with pytest.raises(ParameterError, match="recency_half_life"):
        fit_churn_model(panel, recency_half_life=0)


def test_backtest_chooses_the_family_before_each_cutoff() -> None:
    panel, providers = _history_a()
    table = backtest(panel, providers=providers, per_cutoff=True)
    families = table[table["method"].isin(list(churn.FAMILIES))]
    pr = families.pivot(index="cutoff", columns="method", values="pr_auc")
    model = table[table["method"] == "model"].set_index("cutoff")
    for i, cutoff in enumerate(pr.index):
        # recomputed from the table: the best mean PR-AUC of the cutoffs known 3 months before
        known = pr.iloc[:i][pr.index[:i] + pd.DateOffset(months=3) <= cutoff]
        means = known.mean()
        # the simplest family (logistic, gbm, ensemble) within 0.005 of the best mean
        expected = (
            "logistic"
            if known.empty
            else next(f for f in churn.FAMILIES if means[f] >= means.max() - 0.005)
        )
        assert model.loc[cutoff, "family"] == expected
        chosen = families[(families["cutoff"] == cutoff) & (families["method"] == expected)]
        # the model's probability is the chosen family's (its ranking is hedged with a rule)
        assert model.loc[cutoff, "brier"] == chosen["brier"].iloc[0]
    # the ensemble is the mean of the two families' probabilities
    summary = backtest(panel, providers=providers)
    family, why = churn.choose_family(summary)
    by = summary.set_index("method")["pr_auc"].loc[list(churn.FAMILIES)]
    assert family == next(f for f in churn.FAMILIES if by[f] >= by.max() - 0.005)
    assert "PR-AUC" in why
    with pytest.raises(ParameterError, match="model='auto'"):
        churn.choose_family(summary[~summary["method"].isin(["gbm"])])


def test_at_risk_uses_the_family_it_is_given() -> None:
    panel, providers = _history_a()
    logistic = at_risk(panel, providers=providers)
    ensemble = at_risk(panel, providers=providers, family="ensemble")
    assert logistic.attrs["family"] == "logistic" and ensemble.attrs["family"] == "ensemble"
    assert len(logistic) == len(ensemble)
    merged = logistic.merge(ensemble, on=["source", "target"])
    assert not np.allclose(merged["risk_x"], merged["risk_y"])
    with pytest.raises(ParameterError, match="family"):
        at_risk(panel, family="forest")


def test_at_risk_auto_makes_the_backtests_choice() -> None:
    """ranking="auto" and family="auto" are the choices of choose_ranking and choose_family
    on a backtest of the same data (run here, or given), said in attrs["ranking_why"]."""
    panel, providers = _history_a()
    table = backtest(panel, providers=providers, k=(10, 40), random_state=3)
    family, family_why = churn.choose_family(table)
    ranking, ranking_why = churn.choose_ranking(table)
    chosen = at_risk(
        panel, providers=providers, capacity=10, random_state=3, ranking=ranking, family=family
    )
    for backtested in (None, table):
        auto = at_risk(
            panel,
            providers=providers,
            capacity=10,
            random_state=3,
            ranking="auto",
            family="auto",
            backtested=backtested,
        )
        assert (auto.attrs["ranking"], auto.attrs["family"]) == (ranking, family)
        said = f"{family_why} {ranking_why}"
        if ranking == "model":  # 30 months, 12 baseline, 3 horizon: 16 training cutoffs, 1/17
            said += (
                " The model learned from 16 earlier cutoff(s), so its ranking leans on the "
                f"simple rule {auto.attrs['ranking_rule']} (the best ROC-AUC on those cutoffs) "
                "for 6%, "
                "less as the history grows."
            )
        assert auto.attrs["ranking_why"] == said
        pd.testing.assert_frame_equal(auto, chosen)
    # a past cutoff: a backtest would read the months after it, so the model and the logistic
    past = at_risk(panel, providers=providers, cutoff="2024-06-01", ranking="auto", family="auto")
    assert (past.attrs["ranking"], past.attrs["family"]) == ("model", "logistic")
    assert "past cutoff" in past.attrs["ranking_why"]
    # too short a history to backtest: said, with the model and the logistic regression
    short = panel[panel["month"] < panel["month"].min() + pd.DateOffset(months=11)]
    listed = at_risk(short, ranking="auto", family="auto")
    assert (listed.attrs["ranking"], listed.attrs["family"]) == ("model", "logistic")
    assert listed.attrs["ranking_why"].startswith("The list is ranked by the model (no backtest:")
    with pytest.raises(ParameterError, match="ranking"):
        at_risk(panel, ranking="best")


def test_reasons_tell_a_silent_referrer_from_one_referring_elsewhere() -> None:
    ctx = _Context("Dr A", "Dr B", None, None, {}, _Options())
    base = {
        "days_since_last": 95.0,
        "usual_gap_days": 10.0,
        "recent_zero_months": 3.0,
        "usual_gap": 1.0,
        "share_baseline": 0.5,
        "share_recent": 0.5,
        "referrer_trend": 0.0,
        "referrer_quiet_share": 0.0,
        "referrer_last_vs_baseline": 0.0,
        "referrer_recent_zero_months": 0.0,
    }
    retired = {**base, "referrer_days_since_last": 95.0, "referrer_recent_zero_months": 3.0}
    assert _reason_text("referrer", retired, ctx) == (
        "Dr A has referred no patient to anyone for 95 days (retired, moved or on leave?)"
    )
    assert _reason_text("lapse", retired, ctx) == (
        "no referral from Dr A to Dr B for 95 days (usually every 10 days)"
    )
    away = _reason_text("referrer", {**base, "referrer_days_since_last": 39.0}, ctx)
    assert away == "Dr A has referred no patient to anyone for 39 days"
    elsewhere = {**base, "referrer_days_since_last": 4.0}
    assert _reason_text("lapse", elsewhere, ctx) == (
        "no referral from Dr A to Dr B for 95 days (usually every 10 days), while Dr A "
        "referred elsewhere 4 days ago"
    )
    assert _reason_text("referrer", elsewhere, ctx) is None
    yesterday = _reason_text("lapse", {**base, "referrer_days_since_last": 1.0}, ctx)
    assert yesterday is not None and yesterday.endswith("referred elsewhere 1 day ago")
    quiet = {**base, "referrer_days_since_last": 4.0, "referrer_quiet_share": 0.4}
    assert _reason_text("referrer", quiet, ctx) == (
        "Dr A has gone quiet on ties that carried 40% of their referrals over 12 months"
    )
    # silent everywhere for a whole month, though not for 30 days yet (a month with none,
    # then a referral early in the last one)
    gap = {**base, "referrer_days_since_last": 25.0, "referrer_recent_zero_months": 1.0}
    assert _reason_text("referrer", gap, ctx) == (
        "Dr A referred no patient to anyone in 1 of the last 3 months"
    )
    # a last month 40 % below the usual month: exp(log 0.6) - 1 = -0.4
    fell = {**base, "referrer_days_since_last": 4.0, "referrer_last_vs_baseline": np.log(0.6)}
    assert _reason_text("referrer", fell, ctx) == (
        "Dr A's referrals to anyone last month were 40% below its 12-month average"
    )


def test_last_rows_with_referrals() -> None:
    """The last month with referrals per tie, against a loop over each column (the last row
    for a tie without any)."""
    from referral_graph.churn._features import _last_rows

    rng = np.random.default_rng(9)
    for width in (1, 2, 7, 24):
        active = rng.random((width, 300)) < rng.uniform(0.0, 0.5)
        expected = [
            max((m for m in range(width) if active[m, j]), default=width - 1)
            for j in range(active.shape[1])
        ]
        assert _last_rows(active).tolist() == expected


def test_referrer_days_since_last_counted_directly() -> None:
    """Each referrer's days since its last referral, against a count row by row: its latest
    row with referrals (the day of its last referral that month), whatever tie it was on;
    rows without referrals count for nothing, whatever day they carry."""
    rng = np.random.default_rng(11)
    months = pd.date_range("2023-01-01", periods=14, freq="MS")
    pairs = [(f"S{s}", f"T{t}") for s in range(25) for t in range(12) if rng.random() < 0.4]
    panel = pd.DataFrame(
        [(s, t, m) for s, t in pairs for m in months], columns=["source", "target", "month"]
    )
    panel["referrals"] = rng.choice([0, 0, 0, 1, 2, 5], len(panel))
    panel["first_day"] = rng.integers(1, 15, len(panel)).astype("int8")
    panel["last_day"] = (panel["first_day"] + rng.integers(0, 14, len(panel))).astype("int8")
    cutoff = pd.Timestamp("2024-03-01")
    got = churn_features(panel, cutoff).groupby("source")["referrer_days_since_last"].first()

    sent = panel[panel["referrals"] > 0]
    last = (sent["month"] + pd.to_timedelta(sent["last_day"].astype(int) - 1, "D")).groupby(
        sent["source"]
    )
    expected = (cutoff - last.max()).dt.days.astype("int64")
    assert len(got) > 10
    pd.testing.assert_series_equal(got, expected.loc[got.index], check_names=False)


@pytest.mark.parametrize("dtype", ["int8", "int64", "float64", "Int16"])
def test_first_and_last_days_read_from_any_numeric_column(dtype: str) -> None:
    """The days of a tie's first and last referral in its month, from integer columns (every
    engine's) or any other numbers; a value outside 1-31 is named with its column and count."""
    # every month of 2023: A->B's 12 rows, then C->D's
    panel = _panel({("A", "B"): [2] * 12, ("C", "D"): [1] * 12})
    first = [5] * 12 + [28] * 12
    last = [20] * 11 + [9] + [28] * 11 + [31]
    typed = panel.assign(
        first_day=pd.array(first, dtype=dtype), last_day=pd.array(last, dtype=dtype)
    )
    features = churn_features(typed, "2024-01-01").set_index(["source", "target"])
    # by hand: the last referrals on 9 and 31 December 2023, 23 days and 1 day before 2024
    assert features["days_since_last"].to_dict() == {("A", "B"): 23, ("C", "D"): 1}
    bad = typed.assign(first_day=pd.array([0, *first[1:]], dtype=dtype))
    with pytest.raises(SchemaError, match=r"first_day column 'first_day' has 1 value\(s\)"):
        churn.PreparedPanel(bad)


def test_patients_kept_as_float32_only_when_every_count_fits() -> None:
    """Whole-number patient counts are kept in float32 when it holds each one exactly (an
    integer column read by its range, a float column by its values), else in float64."""
    panel = _panel({("A", "B"): [2] * 12, ("C", "D"): [1] * 12})
    for patients, dtype in (
        (np.arange(24, dtype=np.int64), np.float32),
        (np.arange(24, dtype=np.float64), np.float32),
        (np.arange(24, dtype=np.int64) + 2**24, np.float64),  # beyond float32's whole numbers
    ):
        rows = churn.PreparedPanel(panel.assign(patients=patients))._ties.rows
        assert rows is not None
        kept = rows.columns["patients"]
        assert kept.dtype == dtype
        # the rows in month order: each month's two rows (A->B's, then C->D's)
        expected = np.stack([patients[:12], patients[12:]], axis=1).ravel()
        assert kept.tolist() == expected.astype(np.float64).tolist()


def test_a_fall_is_said_as_it_is_not_as_the_smoothed_feature() -> None:
    """By hand: 45 referrals over a 12-month baseline (3.75 a month) and none in the last 3
    months fell 100%; the feature's smoothed log ratio, log((0 + 0.5) / (3.75 + 0.5)), reads
    as a fall of 88%. 12 in the last 3 months (4 a month) against 7.5 a month fell 47%; 6
    (a count from 1 to 10) is said as "fewer than 11", not given back through a percentage
    of a baseline shown elsewhere."""
    import math

    from referral_graph.churn._features import SMOOTHING

    ctx = _Context("Dr A", "Dr B", None, None, {}, _Options())
    smoothed = math.log((0 + SMOOTHING) / (3.75 + SMOOTHING))
    assert round(100 * (1 - math.exp(smoothed))) == 88

    def fall(recent: float) -> str | None:
        v = {"recent_vs_baseline": smoothed, "slope": 0.0, "recent_referrals": recent,
             "baseline_rate": 3.75}  # fmt: skip
        return _reason_text("decline", v, ctx)

    assert fall(0.0) == (
        "referrals from Dr A to Dr B fell 100% in the last 3 months against the 12-month average"
    )
    v = {"recent_vs_baseline": math.log(2.5 / 4.25), "slope": 0.0, "recent_referrals": 6.0,
         "baseline_rate": 3.75}  # fmt: skip
    assert "fell to fewer than 11 in the last 3 months" in str(_reason_text("decline", v, ctx))
    v = {**v, "recent_referrals": 12.0, "baseline_rate": 7.5}  # 4 a month against 7.5
    assert "fell 47% in the last 3 months" in str(_reason_text("decline", v, ctx))


def test_trees_predict_many_rows_on_an_idle_core_too_with_the_same_probabilities(
    monkeypatch,
) -> None:
    from referral_graph.churn import _model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, 3))
    y = (x[:, 0] + rng.normal(size=2_000) > 0).astype(int)
    monkeypatch.setattr(_model._worker, "idle_threads", lambda wanted: 1)  # a busy machine
    model = ChurnModel(model="ensemble", random_state=0, max_iter=20).fit(x, y)
    rows = rng.normal(size=(_model.PARALLEL_PREDICTION_ROWS, 3))
    limits: list[tuple[int, str | None]] = []
    limit = _model._POOLS.limit

    def recorded(**kwargs):  # type: ignore[no-untyped-def]
        limits.append((kwargs["limits"], kwargs.get("user_api")))
        return limit(**kwargs)

    monkeypatch.setattr(_model._POOLS, "limit", recorded)
    busy = model.predict_proba(rows)
    assert limits == [(1, None), (1, "openmp")]
    limits.clear()
    monkeypatch.setattr(_model._worker, "idle_threads", lambda wanted: min(wanted, 2))
    idle = model.predict_proba(rows)
    # the trees take a second thread, the linear part keeps to one; fewer rows: one thread
    assert limits == [(1, None), (2, "openmp")]
    assert np.array_equal(busy, idle)
    limits.clear()
    model.predict_proba(rows[:-1])
    assert limits == [(1, None), (1, "openmp")]
