"""Tests for referral_graph.leakage (focus resolution, share of wallet, leakage, key referrers)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError
from referral_graph.leakage import (
    KEY_REFERRER_WEIGHTS,
    UNAFFILIATED,
    FocusMarket,
    focus_market,
    key_referrers,
    leakage_summary,
    resolve_focus,
    share_of_wallet,
    share_of_wallet_by_specialty,
)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
HOP = SHARED / "hop_teaming_nashville"

LN31 = math.log(31)

# --------------------------------------------------------------------------------------
# The hand-checkable market
# --------------------------------------------------------------------------------------
#
#   P1, P2, P3: family medicine (P1, P2 at "Valley Primary Care", P3 independent)
#   S1: cardiology at "Ours" (the focus);  S2: cardiology at "Rival";
#   S3: dermatology at "Rival" (not a focus specialty: not in the market)
#
#   P1 -> S1 30                      -> P1 sends all its cardiology to us: loyalist, share 1
#   P2 -> S1 10,  P2 -> S2 30        -> 10 of 40: splitter, share 0.25, top competitor Rival
#   P3 -> S2 20,  P3 -> S3 15        -> 0 of 20 cardiology: dissenter (S3 does not count)
#   S1 -> P1  6                      -> a reciprocal tie; family medicine: not in the market
#
# Amounts are 100 per referral.


def _providers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["P1", "P2", "P3", "S1", "S2", "S3"],
            "name": ["Dr One", "Dr Two", "Dr Three", "Dr Heart", "Dr Rival", "Dr Skin"],
            "specialty": ["Family Medicine"] * 3 + ["Cardiology", "Cardiology", "Dermatology"],
            "organization": [
                "Valley Primary Care",
                "Valley Primary Care",
                None,
                "Ours",
                "Rival",
                "Rival",
            ],
            "in_network": [True, False, False, True, False, False],
        }
    )


def _ties(amount: bool = False) -> pd.DataFrame:
    ties = pd.DataFrame(
        {
            "source": ["P1", "P2", "P2", "P3", "P3", "S1"],
            "target": ["S1", "S1", "S2", "S2", "S3", "P1"],
            "referrals": [30, 10, 30, 20, 15, 6],
        }
    )
    if amount:
        ties["amount"] = ties["referrals"] * 100.0
    return ties


def _by_source(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("source")


# --------------------------------------------------------------------------------------
# resolve_focus
# --------------------------------------------------------------------------------------


def test_resolve_focus_by_name_ignores_case_and_spaces() -> None:
    assert resolve_focus(_providers(), focus="Ours") == ["S1"]
    assert resolve_focus(_providers(), focus="  oURS ") == ["S1"]
    assert resolve_focus(_providers(), focus="valley   primary care") == ["P1", "P2"]


def test_resolve_focus_in_network_and_ids() -> None:
    assert resolve_focus(_providers(), focus="in_network") == ["P1", "S1"]
    assert resolve_focus(_providers(), focus_ids=["S2", "S1", "S2"]) == ["S2", "S1"]
    boolean = _providers().assign(
        in_network=pd.array([True, None, False, True, None, None], dtype="boolean")
    )
    assert resolve_focus(boolean, focus="in_network") == ["P1", "S1"]
    text = _providers().assign(in_network=["yes", "no", "", "TRUE", "0", "false"])
    assert resolve_focus(text, focus="in_network") == ["P1", "S1"]


def test_resolve_focus_close_matches() -> None:
    with pytest.raises(ParameterError) as err:
        resolve_focus(_providers(), focus="Valley Primary")
    message = str(err.value)
    assert message.startswith("The focus organisation 'Valley Primary' is not in the providers'")
    assert "resolve_focus" not in message  # a CLI user never called it
    assert "close match: 'Valley Primary Care'" in message and "--focus" in message
    with pytest.raises(ParameterError, match="no close match among 3 organisation"):
        resolve_focus(_providers(), focus="Mercy Hospital")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ParameterError, "give exactly one.*Got neither"),
        ({"focus": "Ours", "focus_ids": ["S1"]}, ParameterError, "Got both"),
        ({"focus": "  "}, ParameterError, "non-empty"),
        ({"focus_ids": "S1"}, ParameterError, "list of provider ids"),
        ({"focus_ids": []}, ParameterError, "at least one"),
        ({"focus_ids": ["S1", "Z9"]}, ParameterError, "1 unknown id.*'Z9'"),
    ],
)
def test_resolve_focus_errors(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_focus(_providers(), **kwargs)  # type: ignore[arg-type]


def test_resolve_focus_missing_columns() -> None:
    with pytest.raises(SchemaError, match="organization"):
        resolve_focus(_providers().drop(columns="organization"), focus="Ours")
    with pytest.raises(SchemaError, match="in_network"):
        resolve_focus(_providers().drop(columns="in_network"), focus="in_network")
    with pytest.raises(InsufficientDataError, match="in_network True"):
        resolve_focus(_providers().assign(in_network=False), focus="in_network")


# --------------------------------------------------------------------------------------
# share_of_wallet
# --------------------------------------------------------------------------------------


def test_share_of_wallet_hand_example() -> None:
    sow = share_of_wallet(_ties(amount=True), _providers(), ["S1"])
    # sorted by total: P2 (40), P1 (30), P3 (20); S1 -> P1 is family medicine: no row.
    assert sow["source"].tolist() == ["P2", "P1", "P3"]
    t = _by_source(sow)
    assert t.loc["P1", ["to_focus", "to_competitors", "total"]].tolist() == [30, 0, 30]
    assert t.loc["P2", ["to_focus", "to_competitors", "total"]].tolist() == [10, 30, 40]
    assert t.loc["P3", ["to_focus", "to_competitors", "total"]].tolist() == [0, 20, 20]
    assert t["share"].to_dict() == {"P2": 0.25, "P1": 1.0, "P3": 0.0}
    assert t["segment"].to_dict() == {"P2": "splitter", "P1": "loyalist", "P3": "dissenter"}
    assert pd.isna(t.loc["P1", "top_competitor"])
    assert t.loc["P2", "top_competitor"] == "Rival"
    assert t.loc["P2", "top_competitor_referrals"] == 30
    # amounts: P2 leaks 30 referrals x 100; P3's dermatology (15) is not in the market.
    assert t.loc["P2", "leakage_amount"] == 3000.0
    assert t.loc["P3", "leakage_amount"] == 2000.0
    assert t.loc["P1", "focus_amount"] == 3000.0
    assert not t["internal"].any()


def test_share_of_wallet_threshold() -> None:
    t = _by_source(share_of_wallet(_ties(), _providers(), ["S1"], loyal_threshold=0.25))
    assert t.loc["P2", "segment"] == "loyalist"  # 0.25 >= 0.25
    t = _by_source(share_of_wallet(_ties(), _providers(), ["S1"], loyal_threshold=1))
    assert t["segment"].to_dict() == {"P2": "splitter", "P1": "loyalist", "P3": "dissenter"}


def test_share_of_wallet_all_referrals() -> None:
    t = _by_source(share_of_wallet(_ties(), _providers(), ["S1"], by="all"))
    # every referral counts: P3's 15 to dermatology leak too; S1 (ours) refers to P1 at Valley.
    assert t.loc["P3", ["to_competitors", "total"]].tolist() == [35, 35]
    assert t.loc["S1", "internal"]
    assert t.loc["S1", "segment"] == "dissenter"
    assert t.loc["S1", "top_competitor"] == "Valley Primary Care"


def test_share_of_wallet_specialties_override_and_unaffiliated_competitor() -> None:
    providers = _providers()
    providers.loc[providers["id"] == "S2", "organization"] = None
    sow = share_of_wallet(_ties(), providers, ["S1"], specialties=[" cardiology "])
    # S2 has no organisation: it is its own competitor, labelled by its id.
    assert _by_source(sow).loc["P2", "top_competitor"] == "S2"


def test_focus_without_specialty(caplog: pytest.LogCaptureFixture) -> None:
    providers = _providers()
    providers.loc[providers["id"] == "S1", "specialty"] = None
    # no specialty for the focus: the wallet is everything the referrer sends
    fallback = share_of_wallet(_ties(), providers, ["S1"])
    assert "no focus provider has a specialty" in caplog.text
    everything = share_of_wallet(_ties(), providers, ["S1"], by="all")
    pd.testing.assert_frame_equal(fallback, everything)
    # with an explicit market it works; S1's referrals count as focus whatever its specialty
    t = _by_source(share_of_wallet(_ties(), providers, ["S1"], specialties=["Cardiology"]))
    assert t.loc["P2", "share"] == 0.25


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"loyal_threshold": 0}, "loyal_threshold"),
        ({"loyal_threshold": 1.5}, "loyal_threshold"),
        ({"loyal_threshold": "0.5"}, "loyal_threshold"),
        ({"by": "organisation"}, "by"),
    ],
)
def test_share_of_wallet_bad_parameters(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ParameterError, match=rf"^The '{name}' parameter of share_of_wallet must"):
        share_of_wallet(_ties(), _providers(), ["S1"], **kwargs)  # type: ignore[arg-type]


def test_share_of_wallet_message_format() -> None:
    with pytest.raises(ParameterError) as err:
        share_of_wallet(_ties(), _providers(), ["S1"], loyal_threshold=0)
    assert str(err.value) == (
        "The 'loyal_threshold' parameter of share_of_wallet must be a float in the range "
        "(0, 1]. Got 0 instead."
    )


# --------------------------------------------------------------------------------------
# share_of_wallet_by_specialty
# --------------------------------------------------------------------------------------


def test_share_of_wallet_by_specialty_hand_example() -> None:
    d = share_of_wallet_by_specialty(_ties(amount=True), _providers(), ["S1"])
    rows = d[["source", "specialty", "organization", "is_focus", "referrals", "share"]]
    assert rows.values.tolist() == [
        ["P1", "Cardiology", "Ours", True, 30, 1.0],
        ["P2", "Cardiology", "Rival", False, 30, 0.75],
        ["P2", "Cardiology", "Ours", True, 10, 0.25],
        ["P3", "Cardiology", "Rival", False, 20, 1.0],
    ]
    assert d["amount"].tolist() == [3000.0, 3000.0, 1000.0, 2000.0]
    assert d.groupby(["source", "specialty"])["share"].sum().tolist() == [1.0, 1.0, 1.0]


def test_by_specialty_several_specialties() -> None:
    # Ours also has a dermatologist (S4): dermatology joins the market.
    providers = pd.concat(
        [
            _providers(),
            pd.DataFrame({"id": ["S4"], "specialty": ["dermatology"], "organization": ["Ours"]}),
        ],
        ignore_index=True,
    )
    ties = pd.concat(
        [_ties(), pd.DataFrame({"source": ["P3"], "target": ["S4"], "referrals": [5]})],
        ignore_index=True,
    )
    d = share_of_wallet_by_specialty(ties, providers, ["S1", "S4"])
    p3 = d.loc[d["source"] == "P3"]
    # the two spellings of dermatology are one specialty, labelled by the first met
    assert p3[["specialty", "organization", "share"]].values.tolist() == [
        ["Cardiology", "Rival", 1.0],
        ["Dermatology", "Rival", 0.75],
        ["Dermatology", "Ours", 0.25],
    ]
    t = _by_source(share_of_wallet(ties, providers, ["S1", "S4"]))
    assert t.loc["P3", ["to_focus", "total", "segment"]].tolist() == [5, 40, "splitter"]


# --------------------------------------------------------------------------------------
# leakage_summary
# --------------------------------------------------------------------------------------


def test_leakage_summary_hand_example() -> None:
    ties = _ties(amount=True)
    spec = leakage_summary(ties, _providers(), ["S1"])
    # cardiology: 40 to us (P1 30 + P2 10), 50 leaked (P2 30 + P3 20)
    assert spec.to_dict("records") == [
        {
            "specialty": "Cardiology",
            "to_focus": 40,
            "to_competitors": 50,
            "total": 90,
            "leakage_rate": pytest.approx(5 / 9),
            "referrers": 3,
            "leaking_referrers": 2,
            "top_competitor": "Rival",
            "focus_amount": 4000.0,
            "leakage_amount": 5000.0,
        }
    ]
    org = leakage_summary(ties, _providers(), ["S1"], by="referrer_organization")
    assert org[
        ["referrer_organization", "to_focus", "to_competitors", "referrers", "leaking_referrers"]
    ].values.tolist() == [
        ["Valley Primary Care", 40, 30, 2, 1],
        [UNAFFILIATED, 0, 20, 1, 1],
    ]
    comp = leakage_summary(ties, _providers(), ["S1"], by="competitor")
    assert comp.to_dict("records") == [
        {
            "competitor": "Rival",
            "referrals": 50,
            "share_of_leakage": 1.0,
            "referrers": 2,
            "receivers": 1,
            "leakage_amount": 5000.0,
        }
    ]


def test_leakage_summary_bad_by() -> None:
    with pytest.raises(ParameterError, match=r"^The 'by' parameter of leakage_summary must"):
        leakage_summary(_ties(), _providers(), ["S1"], by="payer")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# key_referrers
# --------------------------------------------------------------------------------------

# A fake measures table (what referral_graph.centrality.provider_measures returns).
MEASURES = pd.DataFrame(
    {
        "id": ["P1", "P2", "P3", "S1", "S2", "S3"],
        "pagerank": [0.30, 0.10, 0.10, 0.2, 0.2, 0.1],
        "hub": [0.2, 0.5, 0.3, 0.0, 0.0, 0.0],
    }
)


def test_key_referrers_hand_example() -> None:
    k = key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES)
    # Referrers in the cardiology market: P1, P2, P3 (S1 refers to family medicine only).
    # Percentile ranks (average for ties) among the three:
    #   to_focus 30, 10, 0            -> 1, 2/3, 1/3
    #   strength 91.1, 47.1, 0        -> 1, 2/3, 1/3   (P3 has no tie to us: 0)
    #   share    1, 0.25, 0           -> 1, 2/3, 1/3
    #   pagerank 0.3, 0.1, 0.1        -> 1, 0.5, 0.5
    #   hub      0.2, 0.5, 0.3        -> 1/3, 1, 2/3
    #   trend    no panel             -> left out; weights renormalised over 0.90
    assert k["source"].tolist() == ["P1", "P2", "P3"]
    assert k["rank"].tolist() == [1, 2, 3]
    t = _by_source(k)
    # strength of referrer -> Ours: the org roll-up of tie strength (volume, share of the
    # referrer's total, reciprocity): P1 (0.25 + 0.15 + 0.05 * 6 / 30) / 0.45.
    assert t.loc["P1", "strength"] == pytest.approx(100 * 0.41 / 0.45)
    assert t.loc["P2", "strength"] == pytest.approx(
        100 * (0.25 * math.log(11) / LN31 + 0.15 * 0.25) / 0.45
    )
    assert t.loc["P3", "strength"] == 0.0
    assert t["trend"].isna().all() and t["trend_pct"].isna().all()
    assert t["hub_pct"].tolist() == pytest.approx([1 / 3, 1, 2 / 3])
    expected = {
        "P1": (0.30 + 0.20 + 0.15 + 0.15 + 0.10 / 3) / 0.90,
        "P2": (0.30 * 2 / 3 + 0.20 * 2 / 3 + 0.15 * 2 / 3 + 0.15 * 0.5 + 0.10) / 0.90,
        "P3": (0.30 / 3 + 0.20 / 3 + 0.15 / 3 + 0.15 * 0.5 + 0.10 * 2 / 3) / 0.90,
    }
    for source, value in expected.items():
        assert t.loc[source, "rank_score"] == pytest.approx(100 * value)
    # every criterion and its percentile rank is a column; the referrer is described
    for c in KEY_REFERRER_WEIGHTS:
        assert c in k.columns and f"{c}_pct" in k.columns
    assert t.loc["P1", "name"] == "Dr One"
    assert k.attrs["unavailable_criteria"] == ["trend"]


def test_key_referrers_weights_and_top() -> None:
    # Only hub counts: P2 (0.5) > P3 (0.3) > P1 (0.2).
    only_hub = dict.fromkeys(KEY_REFERRER_WEIGHTS, 0.0) | {"hub": 1.0}
    k = key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES, weights=only_hub)
    assert k["source"].tolist() == ["P2", "P3", "P1"]
    top = key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES, top=1)
    assert top["source"].tolist() == ["P1"]
    with pytest.raises(ParameterError, match=r"^The 'weights' parameter of key_referrers"):
        key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES, weights={"x": 1})
    with pytest.raises(ParameterError, match=r"^The 'top' parameter of key_referrers"):
        key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES, top=0)
    with pytest.raises(ParameterError, match=r"^The 'measures' parameter of key_referrers"):
        key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES.drop(columns="id"))


def test_key_referrers_measures_without_hub() -> None:
    k = key_referrers(_ties(), _providers(), ["S1"], measures=MEASURES.drop(columns="hub"))
    assert k["hub"].isna().all()
    assert k["source"].tolist() == ["P1", "P2", "P3"]


def test_key_referrers_computes_network_measures() -> None:
    pytest.importorskip("referral_graph.centrality")
    k = key_referrers(_ties(), _providers(), ["S1"])
    assert k["source"].tolist() == ["P1", "P2", "P3"]
    assert k["pagerank"].notna().all() and k["hub"].notna().all()
    # P1 receives S1's referrals: the highest PageRank of the three referrers
    assert k.set_index("source")["pagerank"].idxmax() == "P1"


def test_key_referrers_with_panel_uses_trend() -> None:
    # 12 months. P1 -> S1 fades (5 a month then 1 a month in the last quarter), P2 -> S1 grows.
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    rows = []
    for i, m in enumerate(months):
        rows.append(("P1", "S1", m, 5 if i < 9 else 1))
        rows.append(("P2", "S1", m, 1 if i < 9 else 4))
        rows.append(("P2", "S2", m, 2))
    panel = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    panel["month"] = panel["month"].astype("datetime64[ns]")
    k = key_referrers(panel, _providers(), ["S1"], panel=panel, measures=MEASURES)
    t = _by_source(k)
    assert t.loc["P1", "trend"] == pytest.approx(1 / (1 + 5))
    assert t.loc["P2", "trend"] == pytest.approx(4 / (4 + 1))
    assert t.loc["P2", "trend_pct"] == 1.0
    assert "trend" not in k.attrs["unavailable_criteria"]


# --------------------------------------------------------------------------------------
# Ids, loops, inputs
# --------------------------------------------------------------------------------------


def test_non_npi_ids_and_self_referrals() -> None:
    providers = pd.DataFrame(
        {
            "id": ["007", "clinic/α-2", "hosp#1", "hosp#2"],
            "specialty": ["GP", "Cardiology", "Cardiology", "Cardiology"],
            "organization": ["A", "Them", "Us", "Us"],
        }
    )
    ties = pd.DataFrame(
        {
            "source": ["007", "007", "hosp#1", "clinic/α-2", "hosp#1"],
            "target": ["clinic/α-2", "hosp#1", "hosp#1", "007", "hosp#2"],
            "referrals": [3, 9, 50, 4, 7],
        }
    )
    focus = resolve_focus(providers, focus="us")
    assert focus == ["hosp#1", "hosp#2"]
    t = _by_source(share_of_wallet(ties, providers, focus))
    # the self-referral hosp#1 -> hosp#1 is left out; hosp#1 -> hosp#2 is internal
    assert t.loc["007", "share"] == 0.75
    assert t.loc["hosp#1", ["to_focus", "internal", "segment"]].tolist() == [7, True, "loyalist"]
    assert "clinic/α-2" not in t.index  # it refers to a GP only


def test_inputs_are_not_mutated() -> None:
    ties, providers = _ties(amount=True), _providers()
    before = (ties.copy(), providers.copy())
    share_of_wallet(ties, providers, ["S1"])
    share_of_wallet_by_specialty(ties, providers, ["S1"])
    for by in ("specialty", "referrer_organization", "competitor"):
        leakage_summary(ties, providers, ["S1"], by=by)  # type: ignore[arg-type]
    key_referrers(ties, providers, ["S1"], measures=MEASURES)
    resolve_focus(providers, focus="Ours")
    pd.testing.assert_frame_equal(before[0], ties)
    pd.testing.assert_frame_equal(before[1], providers)


# --------------------------------------------------------------------------------------
# A market computed once and shared
# --------------------------------------------------------------------------------------


def _all_tables(
    ties: pd.DataFrame, providers: pd.DataFrame, focus: list[str], **kwargs: object
) -> dict[str, pd.DataFrame]:
    tables = {
        "share_of_wallet": share_of_wallet(ties, providers, focus, **kwargs),  # type: ignore[arg-type]
        "by_specialty": share_of_wallet_by_specialty(ties, providers, focus, **kwargs),  # type: ignore[arg-type]
        "key_referrers": key_referrers(ties, providers, focus, measures=MEASURES, **kwargs),  # type: ignore[arg-type]
    }
    for by in ("specialty", "referrer_organization", "competitor"):
        tables[by] = leakage_summary(ties, providers, focus, by=by, **kwargs)  # type: ignore[arg-type]
    return tables


def test_shared_market_gives_the_same_tables() -> None:
    ties, providers = _ties(amount=True), _providers()
    market = focus_market(ties, providers, ["S1"])
    assert isinstance(market, FocusMarket)
    assert market.focus_ids == ("S1",) and market.by == "specialty" and not market.everything
    # the dermatology tie and the family-medicine tie back are outside the market
    assert market.table["referrals"].sum() == 90
    shared = _all_tables(ties, providers, ["S1"], market=market)
    for name, table in _all_tables(ties, providers, ["S1"]).items():
        pd.testing.assert_frame_equal(shared[name], table, obj=name)
    everything = focus_market(ties, providers, ["S1"], by="all")
    assert everything.everything
    pd.testing.assert_frame_equal(
        share_of_wallet(ties, providers, ["S1"], by="all", market=everything),
        share_of_wallet(ties, providers, ["S1"], by="all"),
    )
    cardiology = focus_market(ties, providers, ["S1"], specialties=" CARDIOLOGY ")
    pd.testing.assert_frame_equal(
        leakage_summary(ties, providers, ["S1"], specialties=["cardiology"], market=cardiology),
        leakage_summary(ties, providers, ["S1"], specialties=["cardiology"]),
    )


def test_shared_market_on_a_synthetic_market() -> None:
    from referral_graph.pipeline import load_network
    from referral_graph.synthetic import generate_market

    generated = generate_market(n_providers=300, n_months=12, seed=5)
    net = load_network(events=generated.events, providers=generated.providers)
    ties, providers = net.ties, net.providers
    focus = resolve_focus(providers, focus=generated.focus)
    shared = _all_tables(ties, providers, focus, market=focus_market(ties, providers, focus))
    for name, table in _all_tables(ties, providers, focus).items():
        assert len(table) > 0, name
        pd.testing.assert_frame_equal(shared[name], table, obj=name)


def test_market_built_for_another_call_is_refused() -> None:
    ties, providers = _ties(), _providers()
    market = focus_market(ties, providers, ["S1"])
    with pytest.raises(ParameterError, match="same focus ids"):
        share_of_wallet(ties, providers, ["S1", "S2"], market=market)
    with pytest.raises(ParameterError, match="by='specialty'"):
        share_of_wallet(ties, providers, ["S1"], by="all", market=market)
    with pytest.raises(ParameterError, match="same focus ids"):
        leakage_summary(ties, providers, ["S1"], specialties=["Cardiology"], market=market)
    with pytest.raises(ParameterError, match="must be a FocusMarket"):
        key_referrers(ties, providers, ["S1"], market=ties)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'by' parameter of focus_market"):
        focus_market(ties, providers, ["S1"], by="everything")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

PROVIDER_IDS = ["p1", "p2", "p3", "c1", "c2", "c3", "c4", "o1"]
SPECIALTIES = {
    "p1": "FM",
    "p2": "FM",
    "p3": "IM",
    "c1": "Cardiology",
    "c2": "Cardiology",
    "c3": "Cardiology",
    "c4": "Oncology",
    "o1": "Oncology",
}


@st.composite
def markets(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    orgs = draw(st.lists(st.sampled_from(["Us", "Them", "Else", None]), min_size=8, max_size=8))
    providers = pd.DataFrame(
        {
            "id": PROVIDER_IDS,
            "specialty": [SPECIALTIES[i] for i in PROVIDER_IDS],
            "organization": orgs,
        }
    )
    focus = draw(
        st.lists(
            st.sampled_from(["c1", "c2", "c3", "c4", "o1"]), min_size=1, max_size=3, unique=True
        )
    )
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(PROVIDER_IDS), st.sampled_from(PROVIDER_IDS)),
            min_size=1,
            max_size=20,
            unique=True,
        )
    )
    n = len(pairs)
    ties = pd.DataFrame(
        {
            "source": [p[0] for p in pairs],
            "target": [p[1] for p in pairs],
            "referrals": draw(st.lists(st.integers(0, 500), min_size=n, max_size=n)),
        }
    )
    if draw(st.booleans()):
        ties["amount"] = ties["referrals"] * 10.0
    return ties, providers, focus


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.floats(0.01, 1.0), st.sampled_from(["specialty", "all"]))
def test_shares_in_unit_interval_and_segments(
    market: tuple[pd.DataFrame, pd.DataFrame, list[str]], threshold: float, by: str
) -> None:
    ties, providers, focus = market
    sow = share_of_wallet(ties, providers, focus, loyal_threshold=threshold, by=by)  # type: ignore[arg-type]
    assert sow["share"].between(0, 1).all()
    assert (sow["to_focus"] + sow["to_competitors"] == sow["total"]).all()
    assert (sow["total"] > 0).all()
    assert ((sow["segment"] == "loyalist") == (sow["share"] >= threshold)).all()
    assert ((sow["segment"] == "dissenter") == (sow["share"] == 0)).all()
    assert (sow["top_competitor"].isna() == (sow["to_competitors"] == 0)).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_per_specialty_shares_sum_to_one(
    market: tuple[pd.DataFrame, pd.DataFrame, list[str]],
) -> None:
    ties, providers, focus = market
    d = share_of_wallet_by_specialty(ties, providers, focus)
    assert d["share"].between(0, 1).all()
    sums = d.groupby(["source", "specialty"])["share"].sum()
    assert np.allclose(sums.to_numpy(), 1.0)
    # consistent with the per-referrer table and the leakage totals
    sow = share_of_wallet(ties, providers, focus)
    focus_sum = d.loc[d["is_focus"]].groupby("source")["referrals"].sum()
    assert sow.set_index("source")["to_focus"].sub(focus_sum, fill_value=0).eq(0).all()
    spec = leakage_summary(ties, providers, focus)
    comp = leakage_summary(ties, providers, focus, by="competitor")
    assert spec["to_competitors"].sum() == sow["to_competitors"].sum() == comp["referrals"].sum()
    assert spec["to_focus"].sum() == sow["to_focus"].sum()
    if len(comp):
        assert comp["share_of_leakage"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------


def test_hop_teaming_leakage() -> None:
    if not (HOP / "edges_with_communities.csv").exists():
        pytest.skip("hop_teaming_nashville not found: ../shared/data absent")
    from referral_graph.io import read_edges, read_providers

    edges = read_edges(HOP / "edges.csv")
    providers = read_providers(HOP / "providers.csv")
    owners = pd.read_csv(HOP / "edges_with_communities.csv", dtype=str)
    owner = owners.drop_duplicates("org_npi").set_index("org_npi")["owning_entity"]
    providers["organization"] = providers["id"].map(owner)
    hospital = providers["role"] == "receiving_hospital"
    providers.loc[hospital, "specialty"] = "Hospital"
    focus = resolve_focus(providers, focus="vanderbilt university  medical center")
    assert len(focus) >= 1
    sow = share_of_wallet(edges, providers, focus)
    assert len(sow) == edges["source"].nunique()  # every PCP refers to some hospital
    assert sow["share"].between(0, 1).all()
    assert set(sow["segment"]) == {"loyalist", "splitter", "dissenter"}
    comp = leakage_summary(edges, providers, focus, by="competitor")
    assert comp["referrals"].sum() == sow["to_competitors"].sum()
    assert "Vanderbilt University Medical Center" not in set(comp["competitor"])
    k = key_referrers(edges, providers, focus, top=20, measures=pd.DataFrame({"id": []}))
    assert len(k) == 20 and k["rank_score"].is_monotonic_decreasing


def test_referrers_employed_by_a_competitor_are_marked() -> None:
    """Issue 19, item 8: a competitor's own physicians topped the leakage by organisation."""
    providers = pd.DataFrame(
        {
            "id": ["S1", "S2", "P1", "P2", "P3"],
            "specialty": ["Cardiology", "Cardiology", "Family", "Family", "Family"],
            "organization": ["Ours", "Rival", "Rival", "Indie", None],
        }
    )
    ties = pd.DataFrame(
        {
            "source": ["P1", "P1", "P2", "P2", "P3"],
            "target": ["S1", "S2", "S1", "S2", "S2"],
            "referrals": [5, 30, 20, 10, 12],
        }
    )
    table = leakage_summary(ties, providers, ["S1"], by="referrer_organization")
    marked = dict(zip(table["referrer_organization"], table["referrer_is_competitor"], strict=True))
    # by hand: Rival receives (S2) and employs P1; Indie and the unaffiliated P3 do not
    assert marked == {"Rival": True, "Indie": False, UNAFFILIATED: False}
    assert table.loc[table["referrer_organization"] == "Rival", "to_competitors"].item() == 30
