"""Tests for referral_graph.synthetic: the seeded market generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_graph import synthetic
from referral_graph.exceptions import ParameterError
from referral_graph.npi import is_valid_npi, looks_like_npi, npi_check_digit
from referral_graph.synthetic import BEHAVIOURS, Market, generate_market, write_market

EVENT_COLUMNS = ["source", "target", "date", "patient_id", "amount", "service_line", "payer"]
PROVIDER_COLUMNS = [
    "id",
    "name",
    "taxonomy_code",
    "specialty",
    "organization",
    "city",
    "state",
    "zip",
    "lat",
    "lon",
    "in_network",
    "role",
]


@pytest.fixture(scope="module")
def market() -> Market:
    """The default market (1,500 providers, 30 months): about 0.3 s."""
    return generate_market(seed=7)


@pytest.fixture(scope="module")
def small() -> Market:
    return generate_market(n_providers=300, n_months=12, seed=11)


def month_index(dates: pd.Series, start: str = "2024-01-01") -> pd.Series:
    first = pd.Timestamp(start)
    return (dates.dt.year - first.year) * 12 + dates.dt.month - first.month


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_market(small: Market) -> None:
    again = generate_market(n_providers=300, n_months=12, seed=11)
    pd.testing.assert_frame_equal(small.events, again.events)
    pd.testing.assert_frame_equal(small.providers, again.providers)
    pd.testing.assert_frame_equal(small.activities, again.activities)
    pd.testing.assert_frame_equal(small.truth, again.truth)
    pd.testing.assert_frame_equal(small.ties, again.ties)
    assert small.params == again.params


def test_different_seeds_differ(small: Market) -> None:
    other = generate_market(n_providers=300, n_months=12, seed=12)
    assert not small.providers["id"].equals(other.providers["id"])
    assert len(small.events) != len(other.events) or not small.events.equals(other.events)


def test_visit_effect_does_not_change_the_structure() -> None:
    a = generate_market(n_providers=200, n_months=10, seed=5, visit_effect=0.0)
    b = generate_market(n_providers=200, n_months=10, seed=5, visit_effect=1.0)
    pd.testing.assert_frame_equal(a.providers, b.providers)
    pd.testing.assert_frame_equal(a.activities, b.activities)
    cols = ["provider", "behaviour", "change_month", "visited", "first_visit", "base_rate"]
    pd.testing.assert_frame_equal(a.truth[cols], b.truth[cols])


# ----------------------------------------------------------------------------- tables


def test_columns_and_dtypes(market: Market) -> None:
    ev = market.events
    assert list(ev.columns) == EVENT_COLUMNS
    for col in ("source", "target", "patient_id", "service_line", "payer"):
        assert ev[col].dtype == "str", col
    assert ev["date"].dtype == "datetime64[ns]"
    assert ev["amount"].dtype == "float64"
    assert isinstance(ev.index, pd.RangeIndex)
    assert list(market.providers.columns) == PROVIDER_COLUMNS
    assert market.providers["in_network"].dtype == bool
    assert list(market.activities.columns) == ["date", "provider", "liaison", "kind"]
    assert market.activities["date"].dtype == "datetime64[ns]"
    assert set(market.activities["kind"]) == {"visit", "call", "lunch", "event"}
    assert {"behaviour", "change_month", "to_competitor", "visited", "first_visit"} <= set(
        market.truth.columns
    )
    assert market.focus == "Riverside Health"
    assert "Market(focus='Riverside Health'" in repr(market)


def test_default_size(market: Market) -> None:
    assert len(market.providers) == 1500
    assert 100_000 <= len(market.events) <= 160_000
    assert market.params["n_events"] == len(market.events)


def test_events_per_month_sets_the_volume() -> None:
    m = generate_market(n_providers=400, n_months=12, events_per_month=2000, seed=2)
    # the visit effect adds a little on top of the calibrated expectation
    assert 0.95 * 24_000 < len(m.events) < 1.08 * 24_000


def test_ids_are_unique_valid_npis(market: Market) -> None:
    ids = market.providers["id"]
    assert ids.is_unique
    assert ids.map(is_valid_npi).all()
    # the vectorised check digits agree with the scalar reference
    for value in ids.iloc[:300]:
        assert npi_check_digit(value[:9]) == int(value[9])


def test_real_taxonomy_codes(market: Market) -> None:
    codes = set(market.providers["taxonomy_code"])
    expected = {"207X00000X", "207RC0000X", "207RG0100X", "2084N0400X", "208600000X"}
    expected |= {"207V00000X", "207N00000X", "207RX0202X", "207Q00000X", "207R00000X"}
    expected |= {"208000000X", "282N00000X"}
    assert expected <= codes
    spec = market.providers.set_index("taxonomy_code")["specialty"]
    assert spec.loc["207X00000X"].iloc[0] == "Orthopaedic Surgery"


def test_providers_are_clustered_in_towns(market: Market) -> None:
    p = market.providers
    assert p["city"].nunique() == 6
    spread = p.groupby("city")[["lat", "lon"]].std().max().max()
    assert spread < 0.1  # a few kilometres around each town centre
    assert p["zip"].str.fullmatch(r"\d{5}").all()
    assert (p["organization"].notna()).all()


def test_referential_integrity(market: Market) -> None:
    ev = market.events
    ids = set(market.providers["id"])
    assert ev["source"].isin(ids).all()
    assert ev["target"].isin(ids).all()
    assert (ev["source"] != ev["target"]).all()
    assert market.activities["provider"].isin(ids).all()
    assert market.truth["provider"].isin(ids).all()
    # hospitals receive but never refer
    hospitals = set(market.providers.loc[market.providers["role"] == "hospital", "id"])
    assert not ev["source"].isin(hospitals).any()
    assert ev["target"].isin(hospitals).any()


def test_dates_in_window_and_sorted(market: Market) -> None:
    dates = market.events["date"]
    assert dates.min() >= pd.Timestamp("2024-01-01")
    assert dates.max() <= pd.Timestamp("2026-06-30")
    assert dates.is_monotonic_increasing
    assert (dates == dates.dt.normalize()).all()
    assert month_index(dates).nunique() == 30
    assert market.activities["date"].is_monotonic_increasing


def test_no_duplicate_rows(market: Market) -> None:
    assert not market.events.duplicated().any()
    assert market.params["dirty_counts"]["duplicate"] == 0


def test_patients_belong_to_one_referrer(market: Market) -> None:
    ev = market.events
    assert ev["patient_id"].str.fullmatch(r"P\d{8}").all()
    per_patient = ev.groupby("patient_id")["source"].agg(["nunique", "size"])
    assert (per_patient["nunique"] == 1).all()
    assert (per_patient["size"] > 1).mean() > 0.2  # many patients have several events


def test_amounts_payers_and_service_lines(market: Market) -> None:
    ev = market.events
    assert (ev["amount"] > 0).all()
    assert set(ev["payer"]) == {"Medicare", "Commercial", "Medicaid", "Self-pay"}
    medians = ev.groupby("service_line")["amount"].median()
    assert medians["Medical Oncology"] > medians["Dermatology"]
    spec = market.providers.set_index("id")["specialty"]
    assert (ev["service_line"] == ev["target"].map(spec)).all()


def test_heavy_tail(market: Market) -> None:
    per_source = market.events["source"].value_counts()
    top = per_source.iloc[: len(per_source) // 10].sum()
    assert top / per_source.sum() > 0.40


def test_focus_receives_a_meaningful_share(market: Market) -> None:
    in_net = market.providers.set_index("id")["in_network"]
    share = market.events["target"].map(in_net).mean()
    assert 0.25 <= share <= 0.60
    orgs = market.providers.set_index("id")["organization"]
    received = market.events["target"].map(orgs).value_counts()
    assert len(received) == 4  # the focus and three competitors all receive


def test_some_referrals_are_reciprocated(market: Market) -> None:
    pairs = market.events[["source", "target"]].drop_duplicates()
    reverse = pairs.rename(columns={"source": "target", "target": "source"})
    mutual = pairs.merge(reverse, on=["source", "target"])
    assert len(mutual) > 0


def test_seasonality_dips_in_december() -> None:
    flat = generate_market(n_providers=300, n_months=24, seasonality=0.0, seed=4)
    strong = generate_market(n_providers=300, n_months=24, seasonality=0.8, seed=4)

    def december_ratio(m: Market) -> float:
        per_month = m.events.groupby(month_index(m.events["date"])).size()
        december = per_month.loc[[11, 23]].mean()
        return float(december / per_month.mean())

    assert december_ratio(strong) < 0.5 < 0.85 < december_ratio(flat)


# ----------------------------------------------------------------------------- planted truth


def test_truth_covers_every_behaviour(market: Market) -> None:
    truth = market.truth
    assert set(truth["behaviour"]) == set(BEHAVIOURS)
    assert truth["provider"].is_unique
    stable = truth["behaviour"] == "stable"
    assert truth.loc[stable, "change_month"].isna().all()
    assert truth.loc[~stable, "change_month"].notna().all()
    movers = truth["behaviour"].isin(["switch", "drift"])
    assert truth.loc[movers, "to_competitor"].notna().all()
    assert truth.loc[~movers, "to_competitor"].isna().all()
    competitors = set(market.params["organizations"][1:])
    assert set(truth.loc[movers, "to_competitor"]) <= competitors
    assert (truth.loc[movers, "organization"] != market.focus).all()
    counts = truth["behaviour"].value_counts().reindex(list(BEHAVIOURS), fill_value=0)
    assert counts.to_dict() == market.params["behaviour_counts"]


def test_retiring_referrers_stop(market: Market) -> None:
    truth = market.truth.set_index("provider")
    retired = truth[truth["behaviour"] == "retire"]
    ev = market.events[market.events["source"].isin(retired.index)]
    cutoff = ev["source"].map(retired["change_month"])
    assert (ev["date"] < cutoff).all()
    assert ev["source"].nunique() > 0.8 * len(retired)  # they did refer before


def test_new_referrers_start_mid_history(market: Market) -> None:
    truth = market.truth.set_index("provider")
    new = truth[truth["behaviour"] == "new"]
    ev = market.events[market.events["source"].isin(new.index)]
    assert (ev["date"] >= ev["source"].map(new["change_month"])).all()
    assert (new["change_month"] > pd.Timestamp("2024-01-01")).all()


def test_drifting_and_switching_referrers_lose_focus_share(market: Market) -> None:
    truth = market.truth.set_index("provider")
    in_net = market.providers.set_index("id")["in_network"]
    for behaviour in ("drift", "switch"):
        movers = truth[truth["behaviour"] == behaviour]
        ev = market.events[market.events["source"].isin(movers.index)]
        focus = ev["target"].map(in_net)
        before = focus[ev["date"] < ev["source"].map(movers["change_month"])].mean()
        after = focus[ev["date"] > ev["source"].map(movers["change_end"])].mean()
        assert after < 0.6 * before, behaviour
        assert (movers["focus_share_end"] < movers["focus_share"]).all()


def test_dip_recovers_and_decline_falls(market: Market) -> None:
    truth = market.truth
    dips = truth[truth["behaviour"] == "dip"]
    assert dips["magnitude"].between(0.5, 0.9).all()
    assert (dips["change_end"] >= dips["change_month"]).all()
    decline = truth[truth["behaviour"] == "decline"]
    assert (decline["change_end"] == pd.Timestamp("2026-06-01")).all()
    ev = market.events[market.events["source"].isin(decline["provider"])]
    per_month = ev.groupby(month_index(ev["date"])).size()
    assert per_month.iloc[-6:].mean() < 0.8 * per_month.iloc[:6].mean()


def test_visits_are_recorded_and_weighted_towards_volume(market: Market) -> None:
    truth = market.truth
    visits = market.activities[market.activities["kind"] == "visit"]
    assert set(visits["provider"]) == set(truth.loc[truth["visited"], "provider"])
    first = visits.groupby("provider")["date"].min()
    visited = truth[truth["visited"]].set_index("provider")
    pd.testing.assert_series_equal(
        first.sort_index(), visited["first_visit"].sort_index(), check_names=False
    )
    n_visits = visits["provider"].value_counts().reindex(visited.index)
    assert (visited["n_visits"] == n_visits).all()
    # weighted towards volume, but not all of one kind
    candidates = truth[truth["role"].isin(["pcp", "app"])]
    assert (
        candidates.loc[candidates["visited"], "base_rate"].median()
        > candidates.loc[~candidates["visited"], "base_rate"].median()
    )
    share_by_behaviour = candidates.groupby("behaviour")["visited"].mean()
    assert share_by_behaviour.min() > 0.05
    assert set(visits["liaison"]) <= set(market.params["liaisons"])


def test_visit_effect_is_planted() -> None:
    kwargs = {"n_providers": 600, "n_months": 18, "seed": 3, "visit_share": 0.6}
    base = generate_market(visit_effect=0.0, **kwargs)
    lifted = generate_market(visit_effect=1.0, **kwargs)
    duration = base.params["visit_duration"]
    in_net = base.providers.set_index("id")["in_network"]

    visits = base.activities[base.activities["kind"] == "visit"].copy()
    visits["month"] = month_index(visits["date"])
    treated_cells = {
        (row.provider, m)
        for row in visits.itertuples()
        for m in range(row.month + 1, row.month + duration + 1)
    }

    def focus_counts(m: Market) -> tuple[float, float, float]:
        ev = m.events[m.events["target"].map(in_net)]
        keys = zip(ev["source"], month_index(ev["date"]), strict=True)
        treated = np.fromiter((k in treated_cells for k in keys), dtype=bool, count=len(ev))
        other = m.events[~m.events["target"].map(in_net)]
        return float(treated.sum()), float((~treated).sum()), float(len(other))

    treated_a, untreated_a, other_a = focus_counts(base)
    treated_b, untreated_b, other_b = focus_counts(lifted)
    assert treated_a > 500
    assert 1.7 < treated_b / treated_a < 2.3  # +100 % in treated (referrer, month) cells
    assert 0.93 < untreated_b / untreated_a < 1.07  # nothing elsewhere
    assert 0.95 < other_b / other_a < 1.05  # extra referrals, not taken from competitors


# ----------------------------------------------------------------------------- options


def test_options_change_the_market() -> None:
    m = generate_market(
        n_providers=200,
        n_months=6,
        seed=1,
        patient_ids=False,
        amounts=False,
        n_competitors=6,
        n_towns=3,
        n_liaisons=2,
        focus="Ours Health",
        start="2023-07-15",
    )
    assert list(m.events.columns) == ["source", "target", "date", "service_line", "payer"]
    assert len(m.params["organizations"]) == 7
    assert m.focus == "Ours Health"
    assert m.params["start"] == "2023-07-01"
    assert m.events["date"].min() >= pd.Timestamp("2023-07-01")
    assert m.events["date"].max() <= pd.Timestamp("2023-12-31")
    assert m.providers["city"].nunique() == 3
    assert m.activities["liaison"].nunique() <= 2
    assert "negative_amount" not in m.params["dirty_counts"]


def test_behaviour_mix_follows_the_rates() -> None:
    m = generate_market(
        n_providers=400,
        n_months=12,
        seed=9,
        churn_rate=0.0,
        drift_rate=0.0,
        dip_rate=0.0,
        new_referrer_rate=0.0,
        decline_rate=0.0,
        retire_rate=0.5,
    )
    counts = m.params["behaviour_counts"]
    assert counts["switch"] == counts["drift"] == counts["dip"] == 0
    assert 0.4 < counts["retire"] / len(m.truth) < 0.6


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_providers=st.integers(50, 150),
    n_months=st.integers(3, 9),
    n_competitors=st.integers(1, 7),
    seed=st.integers(0, 2**32),
)
def test_invariants_hold_for_any_settings(
    n_providers: int, n_months: int, n_competitors: int, seed: int
) -> None:
    m = generate_market(
        n_providers=n_providers, n_months=n_months, n_competitors=n_competitors, seed=seed
    )
    ev = m.events
    ids = set(m.providers["id"])
    assert len(m.providers) == n_providers
    assert m.providers["id"].is_unique
    assert ev["source"].isin(ids).all() and ev["target"].isin(ids).all()
    assert (ev["source"] != ev["target"]).all()
    assert ev["date"].is_monotonic_increasing
    assert month_index(ev["date"]).between(0, n_months - 1).all()
    assert not ev.duplicated().any()


# ----------------------------------------------------------------------------- dirty rows


def test_dirty_rows_are_counted() -> None:
    m = generate_market(n_providers=150, n_months=6, seed=2, dirty=0.06)
    counts = m.params["dirty_counts"]
    ev = m.events
    clean_rows = len(ev) - counts["duplicate"]
    assert sum(counts.values()) == round(0.06 * clean_rows)
    assert set(counts) == set(synthetic._tables.DIRTY_KINDS)
    assert ev["date"].dtype == "str"
    assert ev["date"].isin(["2024-13-45", "n/a"]).sum() == counts["bad_date"]
    parsed = pd.to_datetime(ev["date"], errors="coerce", format="%Y-%m-%d")
    assert parsed.isna().sum() == counts["bad_date"]
    blank = ev["source"].eq("") | ev["source"].isna() | ev["target"].eq("") | ev["target"].isna()
    assert blank.sum() == counts["blank_id"]
    assert (ev["amount"] < 0).sum() == counts["negative_amount"]
    present = ~blank
    assert (present & (ev["source"] == ev["target"])).sum() == counts["self_referral"]
    assert ev.duplicated().sum() == counts["duplicate"]
    ids = pd.concat([ev["source"], ev["target"]]).dropna()
    ids = ids[ids != ""]
    bad_npi = ids.map(lambda v: looks_like_npi(v) and not is_valid_npi(v))
    assert bad_npi.sum() == counts["invalid_npi"]


# ----------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("fmt", "compress", "suffix"),
    [("csv", False, ".csv"), ("csv", True, ".csv.gz"), ("parquet", False, ".parquet")],
)
def test_write_market_round_trips(tmp_path, small: Market, fmt, compress, suffix) -> None:
    paths = write_market(small, tmp_path / "out", format=fmt, compress=compress)
    assert set(paths) == {"events", "providers", "activities", "truth", "ties"}
    assert all(p.name.endswith(suffix) for p in paths.values())
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left
    if fmt == "parquet":
        events = pd.read_parquet(paths["events"])
        providers = pd.read_parquet(paths["providers"])
    else:
        ids = {c: "str" for c in ("source", "target", "id", "zip", "patient_id")}
        events = pd.read_csv(paths["events"], dtype=ids, parse_dates=["date"])
        providers = pd.read_csv(paths["providers"], dtype=ids)
        events["date"] = events["date"].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(events, small.events)
    pd.testing.assert_frame_equal(providers, small.providers)


def test_write_market_is_atomic(tmp_path, small: Market, monkeypatch) -> None:
    paths = write_market(small, tmp_path, include_truth=False)
    assert set(paths) == {"events", "providers", "activities"}
    before = paths["events"].read_bytes()

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(synthetic.os, "replace", fail)
    other = generate_market(n_providers=100, n_months=3, seed=1)
    with pytest.raises(OSError, match="disk full"):
        write_market(other, tmp_path)
    assert paths["events"].read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "activities.csv",
        "events.csv",
        "providers.csv",
    ]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_providers": 10}, "The 'n_providers' parameter of generate_market must be an int"),
        ({"n_months": 2.5}, "The 'n_months' parameter"),
        ({"seasonality": 1.5}, "The 'seasonality' parameter"),
        ({"churn_rate": 0.6, "drift_rate": 0.6}, "must sum to at most 1"),
        ({"start": "not a date"}, "The 'start' parameter"),
        ({"patient_ids": 1}, "The 'patient_ids' parameter"),
        ({"dirty": 0.9}, "The 'dirty' parameter"),
    ],
)
def test_parameter_errors(kwargs, message) -> None:
    with pytest.raises(ParameterError, match=message):
        generate_market(**kwargs)


def test_write_market_rejects_unknown_format(tmp_path, small: Market) -> None:
    with pytest.raises(ParameterError, match="The 'format' parameter of write_market"):
        write_market(small, tmp_path, format="xlsx")  # type: ignore[arg-type]


def test_write_market_gzip_is_reproducible_and_files_follow_the_umask(tmp_path, small) -> None:
    """Two writes give the same bytes (no temporary name or time in the gzip header), and the
    files get the mode of any new file under the umask (the temporary file's 0600 is not kept).
    """
    import os
    import stat

    first = write_market(small, tmp_path / "a", compress=True)
    second = write_market(small, tmp_path / "b", compress=True)
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
    umask = os.umask(0o022)
    try:
        plain = write_market(small, tmp_path / "c")
    finally:
        os.umask(umask)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in plain.values())
