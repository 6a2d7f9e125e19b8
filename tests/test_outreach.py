"""Tests of referral_graph.outreach: the effect of liaison visits on referrals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from referral_graph.aggregate import edge_panel
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError
from referral_graph.io import read_events
from referral_graph.outreach import (
    OutreachEffect,
    liaison_summary,
    outreach_effect,
    outreach_effect_by_kind,
)
from referral_graph.synthetic import generate_market

Market = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]

# --------------------------------------------------------------------------------------
# Hand-made panels
# --------------------------------------------------------------------------------------

SEASON = [10, 12, 14, 8, 6, 10, 12, 14, 10]  # referrals per month before any effect


def _panel(n_treated: int = 8, n_control: int = 12, lift: float = 1.5) -> pd.DataFrame:
    """Referrers T0.. visited in May 2024 (month 4); C0.. never visited.

    Everyone follows the same seasonal pattern, scaled by a per-referrer size; the
    treated send `lift` times as much from June on (months 5 ..).
    """
    months = pd.date_range("2024-01-01", periods=len(SEASON), freq="MS")
    rows = []
    for group, n in (("T", n_treated), ("C", n_control)):
        for i in range(n):
            size = 1 + (i % 4)
            for j, month in enumerate(months):
                factor = lift if group == "T" and j > 4 else 1.0
                rows.append((f"{group}{i}", "F", month, round(SEASON[j] * size * factor)))
                rows.append((f"{group}{i}", "X", month, 3))  # a competitor, unaffected
    return pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])


def _log(n_treated: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Timestamp("2024-05-14"),
            "provider": [f"T{i}" for i in range(n_treated)],
            "liaison": ["Ann", "Bo"] * (n_treated // 2),
            "kind": "visit",
        }
    )


def test_ratio_of_ratios_on_a_hand_made_panel() -> None:
    effect = outreach_effect(_panel(), _log(), ["F"], n_boot=50, min_treated=5)
    # calendar effects cancel: treated post / pre = 1.5 x control post / pre
    assert effect.estimate == pytest.approx(0.5, abs=0.01)
    assert effect.ci_low <= effect.estimate <= effect.ci_high
    assert effect.n_treated == 8 and effect.method == "did"
    assert effect.warning is None
    table = effect.table
    assert set(table["group"]) == {"treated", "control"}
    assert (table["month"] == pd.Timestamp("2024-05-01")).all()  # pseudo dates = visit dates
    treated = table.loc[table["group"] == "treated"].set_index("provider")
    # T1 has size 2: pre Feb-Apr = 2 x (12 + 14 + 8), post Jun-Aug = 1.5 x 2 x (10 + 12 + 14)
    assert treated.loc["T1", "pre_referrals"] == 68
    assert treated.loc["T1", "post_referrals"] == 108
    controls = table.loc[table["group"] == "control"]
    assert controls["weight"].sum() == pytest.approx(8.0)  # 5 matches of 1/5 per treated
    assert controls["provider"].str.startswith("C").all()
    assert not table.columns.str.contains("patient").any()
    assert table["pre_referrals"].dtype == np.int64
    frame = effect.to_frame()
    assert frame.loc[0, "kinds"] == "visit" and frame.loc[0, "n_treated"] == 8
    assert "+50.0%" in str(effect)


def test_no_effect_gives_zero_and_placebo_is_clean() -> None:
    effect = outreach_effect(_panel(lift=1.0), _log(), ["F"], n_boot=50, min_treated=5)
    assert effect.estimate == pytest.approx(0.0, abs=0.01)
    assert effect.pretrend is None  # the visit is too early for a placebo window


def test_matching_uses_the_baseline_not_the_pre_window() -> None:
    """Controls are matched on the months outside the windows, not on the pre window.

    T is visited in May (month 4): pre window Feb-Apr, post window Jun-Aug, baseline
    January plus May. A has T's baseline but a busy pre window; B has T's pre window
    but a lower baseline. Matching on the pre window would pick B (and inherit its
    regression to the mean); the baseline picks A.
    """
    series = {
        "T": [10] * 9,
        "A": [10, 20, 20, 20, 10, 10, 10, 10, 10],
        "B": [3, 10, 10, 10, 3, 3, 3, 3, 3],
    }
    months = pd.date_range("2024-01-01", periods=9, freq="MS")
    panel = pd.DataFrame(
        [
            (s, "F", m, n)
            for s, values in series.items()
            for m, n in zip(months, values, strict=True)
        ],
        columns=["source", "target", "month", "referrals"],
    )
    log = pd.DataFrame({"date": [pd.Timestamp("2024-05-20")], "provider": ["T"], "kind": "visit"})
    effect = outreach_effect(panel, log, ["F"], n_boot=0, n_neighbors=1, min_treated=1)
    controls = effect.table.loc[effect.table["group"] == "control"]
    assert controls["provider"].tolist() == ["A"]
    assert controls["baseline_rate"].tolist() == pytest.approx([10.0])
    assert effect.estimate == pytest.approx(1.0)  # T flat; A halves after its busy spell
    assert math.isnan(effect.ci_low)  # no bootstrap


def test_edges_and_inactive_referrers_are_left_out() -> None:
    panel = _panel()
    log = _log().assign(date=pd.Timestamp("2024-02-10"))  # no full pre window
    effect = outreach_effect(panel, log, ["F"], n_boot=20)
    assert math.isnan(effect.estimate)
    assert effect.n_treated == 0
    assert "no visited referrer with full pre and post windows" in (effect.warning or "")
    assert effect.to_frame().shape[0] == 1


def test_small_sample_warning() -> None:
    effect = outreach_effect(_panel(), _log(), ["F"], n_boot=50)  # 8 < min_treated=20
    assert effect.warning is not None
    assert effect.warning.startswith("too few visited referrers for a reliable estimate")


def test_other_kinds_and_clean_controls() -> None:
    log = pd.concat(
        [
            _log(),
            pd.DataFrame(
                {
                    "date": [pd.Timestamp("2024-05-03")] * 2,
                    "provider": ["C0", "C1"],
                    "liaison": "Ann",
                    "kind": " Call ",
                }
            ),
        ],
        ignore_index=True,
    )
    clean = outreach_effect(_panel(), log, ["F"], n_boot=20, min_treated=5)
    assert not clean.table["provider"].isin(["C0", "C1"]).any()
    loose = outreach_effect(_panel(), log, ["F"], n_boot=20, min_treated=5, clean_controls=False)
    assert loose.table["provider"].isin(["C0", "C1"]).any()
    calls = outreach_effect(_panel(), log, ["F"], kinds=["CALL"], n_boot=20, min_treated=1)
    assert calls.kinds == ("call",) and calls.n_treated == 2
    with pytest.raises(InsufficientDataError, match="kinds present: call, visit"):
        outreach_effect(_panel(), log, ["F"], kinds=("lunch",))


def test_other_id_schemes_and_no_specialty() -> None:
    panel, log = _panel(), _log()
    mapping = {s: f"00{i:03d}" for i, s in enumerate(sorted(set(panel["source"])))}
    mapping["F"] = "NPI-9"
    panel2 = panel.assign(
        source=panel["source"].map(mapping), target=panel["target"].map(mapping).fillna("X")
    )
    log2 = log.assign(provider=log["provider"].map(mapping))
    providers = pd.DataFrame({"id": list(mapping.values())})  # no specialty column
    one = outreach_effect(panel, log, ["F"], n_boot=50, min_treated=5, seed=3)
    two = outreach_effect(
        panel2, log2, ["NPI-9"], n_boot=50, min_treated=5, seed=3, providers=providers
    )
    assert two.estimate == pytest.approx(one.estimate)
    assert two.table["provider"].str.startswith("00").all()


def test_inputs_are_not_mutated_and_results_are_seeded() -> None:
    panel, log = _panel(), _log()
    copies = panel.copy(), log.copy()
    a = outreach_effect(panel, log, ["F"], n_boot=50, seed=7, min_treated=5)
    b = outreach_effect(panel, log, ["F"], n_boot=50, seed=7, min_treated=5)
    pd.testing.assert_frame_equal(panel, copies[0])
    pd.testing.assert_frame_equal(log, copies[1])
    assert (a.estimate, a.ci_low, a.ci_high) == (b.estimate, b.ci_low, b.ci_high)
    with pytest.raises(AttributeError):
        a.estimate = 1.0  # type: ignore[misc]


def test_parameter_and_schema_errors() -> None:
    panel, log = _panel(), _log()
    with pytest.raises(
        ParameterError,
        match=r"The 'window_months' parameter of outreach_effect must be an int in the range "
        r"\[1, 24\]. Got 0 instead.",
    ):
        outreach_effect(panel, log, ["F"], window_months=0)
    with pytest.raises(ParameterError, match="'method'"):
        outreach_effect(panel, log, ["F"], method="rdd")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'kinds'"):
        outreach_effect(panel, log, ["F"], kinds=["visit", ""])
    with pytest.raises(SchemaError, match="provider"):
        outreach_effect(panel, log.drop(columns="provider"), ["F"])
    with pytest.raises(SchemaError, match="month"):
        outreach_effect(panel.drop(columns="month"), log, ["F"])


def test_liaison_summary_suppresses_small_counts() -> None:
    summary = liaison_summary(_log(), _panel(), ["F"])
    assert summary["liaison"].tolist() == ["Ann", "Bo"]
    # four visits each: counts of 1-10 are hidden, referral totals are large
    assert summary["activities"].isna().all() and summary["referrers_visited"].isna().all()
    ann = summary.iloc[0]
    # Ann visited T0, T2, T4, T6 (sizes 1, 3, 1, 3): pre = 8 x 34, post = 8 x 1.5 x 36
    assert ann["referrals_before"] == 8 * 34 and ann["referrals_after"] == 8 * 54
    assert ann["change"] == pytest.approx(54 / 34 - 1)
    shown = liaison_summary(_log(), _panel(), ["F"], threshold=1)
    assert shown["activities"].tolist() == [4, 4]
    hidden = liaison_summary(_log(), _panel().assign(referrals=1), ["F"], threshold=20)
    assert hidden["referrals_before"].isna().all() and hidden["change"].isna().all()


# --------------------------------------------------------------------------------------
# The planted effect of the synthetic market
# --------------------------------------------------------------------------------------


def _synthetic(seed: int, effect: float) -> Market:
    m = generate_market(n_providers=1500, n_months=30, seed=seed, visit_effect=effect)
    panel = edge_panel(read_events(m.events, npi=True))
    focus = m.providers.loc[m.providers["in_network"], "id"].tolist()
    return panel, m.activities, m.providers, focus


@pytest.fixture(scope="module", params=[1, 2])
def planted(request: pytest.FixtureRequest) -> Market:
    return _synthetic(request.param, 0.3)


@pytest.fixture(scope="module")
def null_market() -> Market:
    return _synthetic(1, 0.0)


def test_recovers_the_planted_visit_effect(planted: Market) -> None:
    """visit_effect=0.3: +30 % to the focus in the 6 months after a visit month.

    The 3-month post window lies inside those 6 months, so the whole effect is
    measured (no dilution).
    """
    panel, activities, providers, focus = planted
    effect = outreach_effect(panel, activities, focus, providers=providers)
    assert effect.ci_low < 0.3 < effect.ci_high
    assert effect.ci_low > 0
    assert effect.n_treated >= 150 and effect.n_control >= 150
    assert effect.ci_high - effect.ci_low < 0.5


def test_no_planted_effect_gives_an_interval_around_zero(null_market: Market) -> None:
    panel, activities, providers, focus = null_market
    effect = outreach_effect(panel, activities, focus, providers=providers)
    assert effect.ci_low < 0 < effect.ci_high
    assert abs(effect.estimate) < 0.1


def test_effect_by_kind_isolates_visits(planted: Market) -> None:
    panel, activities, providers, focus = planted
    table = outreach_effect_by_kind(
        panel, activities, focus, providers=providers, kinds=["visit", "call"]
    )
    assert table["kinds"].tolist() == ["visit", "call"]
    visit, call = table.iloc[0], table.iloc[1]
    assert visit["ci_low"] < 0.3 < visit["ci_high"]
    assert call["ci_low"] < 0 < call["ci_high"]  # calls have no planted effect
    assert visit["estimate"] > call["estimate"]


def test_small_sample_warning_on_a_synthetic_market(planted: Market) -> None:
    panel, activities, providers, focus = planted
    visited = activities.loc[activities["kind"] == "visit", "provider"].unique()[:12]
    few = activities.loc[(activities["kind"] != "visit") | activities["provider"].isin(visited)]
    effect = outreach_effect(panel, few, focus, providers=providers, n_boot=100)
    assert effect.n_treated < 20
    assert effect.warning is not None and "too few visited referrers" in effect.warning
    summary = liaison_summary(activities, panel, focus)
    assert set(summary.columns) >= {"liaison", "referrals_before", "referrals_after", "change"}
    assert isinstance(effect, OutreachEffect)
