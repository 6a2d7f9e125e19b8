"""Tests of referral_graph.prospects: who could start referring to us."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_graph.aggregate import edge_panel
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError
from referral_graph.io import read_events
from referral_graph.prospects import (
    METHODS,
    RANDOM_BASELINE,
    VOLUME_BASELINE,
    _sparse,
    _via,
    prospect_backtest,
    prospects,
)
from referral_graph.synthetic import generate_market

# --------------------------------------------------------------------------------------
# Hand-made markets
# --------------------------------------------------------------------------------------


def _market() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Us (F1, cardiology) against Rival (X1, cardiology; S1 its internist).

    * L1 is loyal (30 of 33 cardiology referrals to us) and works at Oak with C1;
    * C1 sends cardiology to the rival: a competitor referrer tied to L1 by practice;
    * C2 sends cardiology to the rival cardiologist L1 also uses (co-referral only);
    * C3 sends its patients to a dermatologist only (not our specialty), same
      dermatologist as L1: a second-degree prospect;
    * N1 is new at Oak (no tie yet): second degree, through the practice;
    * N2 is new and alone: not a prospect;
    * S1 works for Rival and keeps 9 of 10 referrals in-house (low openness);
    * E1 already refers to us once: never listed.
    """
    providers = pd.DataFrame(
        {
            "id": ["F1", "X1", "S1", "D1", "L1", "C1", "C2", "C3", "N1", "N2", "E1"],
            "name": [
                "Dr Ours",
                "Dr Rival",
                "Dr Staff",
                "Dr Skin",
                "Dr Loyal",
                "Dr One",
                "Dr Two",
                "Dr Three",
                "Dr New",
                "Dr Alone",
                "Dr Existing",
            ],
            "specialty": [
                "Cardiology",
                "cardiology ",
                "Internal Medicine",
                "Dermatology",
                "Family Medicine",
                "Family Medicine",
                "Family Medicine",
                "Family Medicine",
                "Family Medicine",
                "Family Medicine",
                "Family Medicine",
            ],
            "organization": [
                "Ours",
                "Rival",
                "Rival",
                None,
                "Oak",
                "Oak",
                None,
                None,
                "Oak",
                None,
                None,
            ],
        }
    )
    ties = pd.DataFrame(
        {
            "source": ["L1", "L1", "L1", "C1", "C2", "C3", "S1", "S1", "E1", "E1"],
            "target": ["F1", "X1", "D1", "X1", "X1", "D1", "X1", "D1", "F1", "X1"],
            "referrals": [30, 3, 5, 10, 10, 4, 9, 1, 1, 20],
        }
    )
    return ties, providers


def test_existing_referrers_and_focus_are_never_listed() -> None:
    ties, providers = _market()
    out = prospects(ties, providers, ["F1"])
    assert not set(out["id"]) & {"F1", "L1", "E1"}
    assert "N2" not in set(out["id"])  # no tie and no practice: nothing to go on
    assert "X1" not in set(out["id"]) and "D1" not in set(out["id"])  # receivers only


def test_kinds_volumes_and_competitors() -> None:
    ties, providers = _market()
    out = prospects(ties, providers, ["F1"]).set_index("id")
    assert out.loc["C1", "kind"] == "competitor_referrer"
    assert out.loc["C1", "referrals_to_competitors"] == 10
    assert out.loc["C1", "top_competitor"] == "Rival"
    assert out.loc["C1", "specialties"] == "cardiology"  # the first spelling met (X1's)
    assert out.loc["C3", "kind"] == "second_degree"  # dermatology is not our specialty
    assert out.loc["C3", "referrals_to_competitors"] == 0
    assert pd.isna(out.loc["C3", "top_competitor"]) and pd.isna(out.loc["C3", "specialties"])
    assert out.loc["C3", "via"] == "Dr Loyal" and out.loc["C3", "via_relation"] == "co_referral"
    assert out.loc["N1", "kind"] == "second_degree"
    assert out.loc["N1", "via"] == "Oak" and out.loc["N1", "via_relation"] == "practice"
    assert out.loc["N1", "via_id"] == "L1"
    assert out["referrals_to_competitors"].dtype == np.int64
    assert out["rank"].tolist() == list(range(1, len(out) + 1))


def test_ranking_can_be_reasoned_out() -> None:
    """Practice with a loyal referrer > co-referral only; the captive S1 comes last."""
    ties, providers = _market()
    out = prospects(ties, providers, ["F1"], method="common_neighbors").set_index("id")
    loyal, existing = 30 / 33, 1 / 21  # lambda(L1), lambda(E1)
    # N1: practice only, colleagues L1 and C1 (1/2 each; C1 has lambda 0)
    assert out.loc["N1", "score"] == pytest.approx(loyal / 2)
    # C1: three relations. Referral: X1 only (lambda 0). Co-referral through X1, whose 52
    # referrals come from L1 3, C1 10, C2 10, S1 9, E1 20 (C1 itself left out: / 42).
    # Practice: L1 and N1, 1/2 each.
    expected = ((3 / 42 + 1 / 2) * loyal + 20 / 42 * existing) / 3
    assert out.loc["C1", "score"] == pytest.approx(expected)
    assert out.loc["N1", "score"] > out.loc["C1", "score"] > out.loc["C2", "score"]
    # S1 keeps 9 of its 10 referrals inside Rival: openness 0.1
    assert out.loc["S1", "openness"] == pytest.approx(0.1)
    assert out["score"].idxmin() == "S1"
    assert out["score"].is_monotonic_decreasing


def test_adamic_adar_discounts_hubs() -> None:
    """Two new providers, each in a practice with one loyal referrer; one referrer is a hub."""
    providers = pd.DataFrame(
        {
            "id": ["F", "A", "B", "LS", "LH"] + [f"R{i}" for i in range(8)],
            "specialty": ["Cardiology", "FM", "FM", "FM", "FM"] + ["Dermatology"] * 8,
            "organization": [None, "Oak", "Elm", "Oak", "Elm"] + [None] * 8,
        }
    )
    ties = pd.DataFrame(
        {
            "source": ["LS", "LH"] + ["LH"] * 8,
            "target": ["F", "F"] + [f"R{i}" for i in range(8)],
            "referrals": [10, 10] + [1] * 8,
        }
    )
    scores = {
        method: prospects(ties, providers, ["F"], method=method).set_index("id")["score"]
        for method in METHODS
    }
    # both loyal (dermatology is not our market): CN and Jaccard cannot tell them apart
    assert scores["common_neighbors"]["A"] == scores["common_neighbors"]["B"] == 1.0
    assert scores["jaccard"]["A"] == scores["jaccard"]["B"] == pytest.approx(0.5)
    # the hub LH is tied to F, B and eight dermatologists: k = 10; LS to F and A: k = 2
    assert scores["adamic_adar"]["A"] == pytest.approx(1 / math.log2(3))
    assert scores["adamic_adar"]["B"] == pytest.approx(1 / math.log2(11))
    assert scores["resource_allocation"]["A"] == pytest.approx(1 / 2)
    assert scores["resource_allocation"]["B"] == pytest.approx(1 / 10)


def test_top_relation_weights_and_names() -> None:
    ties, providers = _market()
    out = prospects(ties, providers, ["F1"], top=2)
    assert len(out) == 2 and out["rank"].tolist() == [1, 2]
    no_practice = prospects(ties, providers, ["F1"], relation_weights={"practice": 0.0}).set_index(
        "id"
    )
    assert "N1" not in no_practice.index  # only the practice tied it to us
    assert no_practice.loc["C1", "via_relation"] == "co_referral"
    unnamed = prospects(ties, providers.drop(columns="name"), ["F1"]).set_index("id")
    assert "name" not in unnamed.columns
    assert unnamed.loc["C3", "via"] == "L1"  # ids stand in for names


def test_panel_instead_of_ties_adds_last_active() -> None:
    ties, providers = _market()
    rows = []
    for record in ties.itertuples():
        for m in range(int(record.referrals)):
            rows.append((record.source, record.target, pd.Timestamp(2024, 1 + m % 6, 1)))
    panel = (
        pd.DataFrame(rows, columns=["source", "target", "month"])
        .groupby(["source", "target", "month"])
        .size()
        .rename("referrals")
        .reset_index()
    )
    from_panel = prospects(None, providers, ["F1"], panel=panel)
    from_ties = prospects(ties, providers, ["F1"])
    pd.testing.assert_frame_equal(from_panel.drop(columns="last_active"), from_ties)
    last = from_panel.set_index("id")["last_active"]
    assert last["C1"] == pd.Timestamp("2024-06-01")
    assert pd.isna(last["N1"])


def test_no_specialty_column_every_referral_is_market() -> None:
    ties, providers = _market()
    out = prospects(ties, providers.drop(columns="specialty"), ["F1"]).set_index("id")
    assert "specialty" not in out.columns
    assert out.loc["C3", "kind"] == "competitor_referrer"  # dermatology now counts
    assert out.loc["C3", "top_competitor"] == "Dr Skin"  # no organisation: the receiver
    assert out["specialties"].isna().all()


def test_other_id_schemes_give_the_same_ranking() -> None:
    ties, providers = _market()
    mapping = {old: f"{i:05d}-x" for i, old in enumerate(providers["id"])}
    ties2 = ties.assign(source=ties["source"].map(mapping), target=ties["target"].map(mapping))
    providers2 = providers.assign(id=providers["id"].map(mapping))
    out = prospects(ties, providers, ["F1"])
    out2 = prospects(ties2, providers2, [mapping["F1"]])
    assert out2["id"].tolist() == out["id"].map(mapping).tolist()
    np.testing.assert_allclose(out2["score"], out["score"])
    assert out2["id"].str.startswith("0").all()  # leading zeros survive


def test_inputs_are_not_mutated() -> None:
    ties, providers = _market()
    before = (ties.copy(), providers.copy())
    prospects(ties, providers, ["F1"])
    pd.testing.assert_frame_equal(ties, before[0])
    pd.testing.assert_frame_equal(providers, before[1])


def test_parameter_and_schema_errors() -> None:
    ties, providers = _market()
    with pytest.raises(ParameterError, match="'method' parameter of prospects must be one of"):
        prospects(ties, providers, ["F1"], method="katz")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"\[2, 100000\]. Got 1 instead"):
        prospects(ties, providers, ["F1"], max_practice_size=1)
    with pytest.raises(ParameterError, match="focus_ids"):
        prospects(ties, providers, "F1")
    with pytest.raises(ParameterError, match="relation_weights"):
        prospects(ties, providers, ["F1"], relation_weights={"friends": 1.0})
    with pytest.raises(SchemaError, match="referrals"):
        prospects(ties.drop(columns="referrals"), providers, ["F1"])
    with pytest.raises(ParameterError, match="'ties' parameter"):
        prospects(None, providers, ["F1"])


ids = st.sampled_from([f"P{i}" for i in range(12)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edges=st.lists(st.tuples(ids, ids, st.integers(1, 20)), min_size=1, max_size=40),
    focus=st.lists(ids, min_size=1, max_size=3),
    method=st.sampled_from(METHODS),
)
def test_invariants_on_random_graphs(
    edges: list[tuple[str, str, int]], focus: list[str], method: str
) -> None:
    ties = pd.DataFrame(edges, columns=["source", "target", "referrals"])
    providers = pd.DataFrame(
        {
            "id": [f"P{i}" for i in range(12)],
            "specialty": ["A", "B", "C"] * 4,
            "organization": ["O1", "O1", "O2", None] * 3,
        }
    )
    out = prospects(ties, providers, focus, method=method)  # type: ignore[arg-type]
    referrers = set(
        ties.loc[ties["target"].isin(focus) & (ties["source"] != ties["target"]), "source"]
    )
    assert not set(out["id"]) & (referrers | set(focus))
    assert out["score"].between(0, 1).all()
    assert out["id"].is_unique
    assert out["score"].is_monotonic_decreasing


def test_walk_entries_are_summed_as_the_sparse_product() -> None:
    rng = np.random.default_rng(7)
    # rows stored in reverse column order, as a sparse product leaves them
    left = sp.random(40, 30, density=0.4, random_state=1, format="csr")
    left = sp.csr_matrix(
        (
            np.concatenate([left.data[a:b][::-1] for a, b in itertools.pairwise(left.indptr)]),
            np.concatenate([left.indices[a:b][::-1] for a, b in itertools.pairwise(left.indptr)]),
            left.indptr,
        ),
        shape=left.shape,
    )
    right = sp.random(30, 50, density=0.5, random_state=2, format="csr") * rng.uniform(1, 3)
    row = rng.integers(0, 40, 500)
    col = rng.integers(0, 50, 500)
    expected = np.asarray((left @ right)[row, col]).ravel()
    assert np.array_equal(_sparse._walk_at(left, right, row, col), expected)


@pytest.mark.parametrize("top", [0, 1, 3, 1000])
def test_via_from_bounded_entries_is_the_via_from_every_entry(
    market: tuple[pd.DataFrame, pd.DataFrame, list[str]], top: int, monkeypatch: Any
) -> None:
    panel, providers, focus = market
    monkeypatch.setattr(_via, "_TOP_PARTNERS", top)
    fast = prospects(None, providers, focus, panel=panel)
    monkeypatch.setattr(_via, "_explicit_links", lambda entries, **_: np.arange(len(entries.rows)))
    every = prospects(None, providers, focus, panel=panel)
    pd.testing.assert_frame_equal(fast, every, check_exact=True)
    assert fast["via_relation"].nunique() == 3


# --------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def market() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    m = generate_market(n_providers=1200, n_months=30, seed=42)
    panel = edge_panel(read_events(m.events, npi=True))
    focus = m.providers.loc[m.providers["in_network"], "id"].tolist()
    return panel, m.providers, focus


def test_backtest_beats_the_base_rate_on_a_synthetic_market(
    market: tuple[pd.DataFrame, pd.DataFrame, list[str]],
) -> None:
    panel, providers, focus = market
    bt = prospect_backtest(panel, providers, focus, cutoff="2026-01-01", horizon_months=6)
    expected = ["method", "cutoff", "horizon_months", "n_candidates", "n_positive", "base_rate"]
    expected += ["roc_auc"] + [
        f"{m}_at_{k}" for k in (25, 100) for m in ("precision", "recall", "lift")
    ]
    assert bt.columns.tolist() == expected
    assert bt["method"].tolist() == ["adamic_adar", VOLUME_BASELINE, RANDOM_BASELINE]
    assert bt["cutoff"].iloc[0] == pd.Timestamp("2026-01-01")
    ours, volume, chance = (bt.iloc[i] for i in range(3))
    assert ours["n_positive"] >= 5
    assert ours["precision_at_25"] > 2 * ours["base_rate"]
    assert ours["lift_at_25"] > 2
    assert ours["roc_auc"] > 0.7
    assert (
        ours["roc_auc"] > volume["roc_auc"] and ours["precision_at_25"] > volume["precision_at_25"]
    )
    assert chance["precision_at_25"] == pytest.approx(chance["base_rate"])
    assert chance["roc_auc"] == 0.5 and chance["lift_at_100"] == pytest.approx(1.0)


def test_backtest_several_methods_and_no_leakage(
    market: tuple[pd.DataFrame, pd.DataFrame, list[str]],
) -> None:
    panel, providers, focus = market
    cutoff = pd.Timestamp("2025-07-01")
    bt = prospect_backtest(panel, providers, focus, cutoff=cutoff, method=list(METHODS), k=(10,))
    assert bt["method"].tolist()[:4] == list(METHODS)
    assert (bt["roc_auc"].iloc[:4] > 0.6).all()
    # the scores use the months before the cutoff only: dropping later months changes
    # nothing but the labels (here: the horizon is cut to one month)
    short = panel.loc[panel["month"] < cutoff + pd.DateOffset(months=1)]
    bt_short = prospect_backtest(
        short, providers, focus, cutoff=cutoff, method=list(METHODS), k=(10,), horizon_months=1
    )
    assert bt_short["n_candidates"].tolist() == bt["n_candidates"].tolist()


def test_backtest_errors(market: tuple[pd.DataFrame, pd.DataFrame, list[str]]) -> None:
    panel, providers, focus = market
    with pytest.raises(InsufficientDataError, match="runs past"):
        prospect_backtest(panel, providers, focus, cutoff="2026-04-01", horizon_months=6)
    with pytest.raises(InsufficientDataError, match="no month before"):
        prospect_backtest(panel, providers, focus, cutoff="2024-01-01")
    with pytest.raises(
        ParameterError,
        match=r"The 'horizon_months' parameter of prospect_backtest must be an int in the "
        r"range \[1, 120\]. Got 0 instead.",
    ):
        prospect_backtest(panel, providers, focus, cutoff="2025-01-01", horizon_months=0)
    with pytest.raises(ParameterError, match="cutoff"):
        prospect_backtest(panel, providers, focus, cutoff="not a date")


def test_duplicate_provider_ids_take_the_first_row_and_unsorted_ties_are_summed() -> None:
    providers = pd.DataFrame(
        {
            "id": ["F1", "C1", "C1", "X1"],
            "specialty": ["Cardiology", " Family ", "Other", "Cardiology"],
            "organization": ["Ours", "  ", "Oak", "Rival"],
        }
    )
    ties = pd.DataFrame(
        {"source": ["C1", "C2", "C1"], "target": ["X1", "X1", "X1"], "referrals": [2, 3, 4]}
    )
    table = prospects(ties, providers, ["F1"])
    assert table["id"].tolist() == ["C1", "C2"]
    assert table["referrals_to_competitors"].tolist() == [6, 3]
    assert table["specialty"].tolist()[0] == "Family"
    assert pd.isna(table["organization"].tolist()[0])  # blank on its first row
    assert pd.isna(table["specialty"].tolist()[1])  # not in the providers table
