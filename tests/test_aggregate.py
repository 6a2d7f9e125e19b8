"""Tests for referral_graph.aggregate: edge panel, tie table, the two engines."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from referral_graph.aggregate import (
    SMALL_FRAME_ROWS,
    aggregate_events,
    edge_panel,
    period_of,
    resolve_engine,
    tie_table,
)
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError
from referral_graph.io import read_events

ENGINES = ["pandas", "duckdb"]


@pytest.fixture
def events() -> pd.DataFrame:
    """Two ties; patient 0 is seen by A->C in January and March (one patient, two months)."""
    return pd.DataFrame(
        {
            "source": ["007", "007", "007", "007", "B"],
            "target": ["C", "C", "C", "C", "C"],
            "date": pd.to_datetime(
                ["2024-01-03", "2024-01-20", "2024-03-01", "2024-03-31", "2024-01-09"]
            ),
            "patient_key": [0, 0, 0, 1, -1],
            "amount": [10.0, 2.5, np.nan, 1.0, np.nan],
        }
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_edge_panel_by_hand(events, engine):
    panel = edge_panel(events, engine=engine)
    assert panel.columns.tolist() == [
        "source",
        "target",
        "month",
        "referrals",
        "patients",
        "amount",
        "first_day",
        "last_day",
    ]
    assert panel["month"].dtype == "datetime64[ns]"
    assert panel["referrals"].dtype == "int64" and panel["patients"].dtype == "int64"
    assert panel["month"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01",
        "2024-03-01",
        "2024-01-01",
    ]
    assert panel["source"].tolist() == ["007", "007", "B"]
    assert panel["referrals"].tolist() == [2, 2, 1]
    assert panel["patients"].tolist() == [1, 2, 0]  # -1 is "no patient id"
    assert panel["amount"].iloc[0] == pytest.approx(12.5)
    assert panel["amount"].iloc[1] == pytest.approx(1.0)
    assert pd.isna(panel["amount"].iloc[2])  # every amount missing -> missing, not 0
    # the days of the month of each tie-month's first and last referral (worked by hand)
    assert panel["first_day"].tolist() == [3, 1, 9] and panel["last_day"].tolist() == [20, 31, 9]
    assert panel["first_day"].dtype == "int8" and panel["last_day"].dtype == "int8"


@pytest.mark.parametrize("engine", ENGINES)
def test_tie_table_by_hand(events, engine):
    ties = tie_table(events, engine=engine)
    assert ties.columns.tolist() == [
        "source",
        "target",
        "referrals",
        "patients",
        "amount",
        "first_date",
        "last_date",
        "active_months",
    ]
    first = ties.iloc[0]
    assert (first["source"], first["referrals"], first["active_months"]) == ("007", 4, 2)
    # patients are distinct over the period (0 and 1), not a sum of months (1 + 2)
    assert first["patients"] == 2
    assert edge_panel(events, engine=engine)["patients"].iloc[:2].sum() == 3
    assert first["first_date"] == pd.Timestamp("2024-01-03")
    assert first["last_date"] == pd.Timestamp("2024-03-31")
    assert first["amount"] == pytest.approx(13.5)
    assert ties["first_date"].dtype == "datetime64[ns]"
    assert ties["active_months"].dtype == "int64"


@pytest.mark.parametrize("func", [edge_panel, tie_table])
def test_engines_give_identical_results(events, func):
    assert_frame_equal(func(events, engine="pandas"), func(events, engine="duckdb"))


@pytest.mark.parametrize("engine", ENGINES)
def test_tie_table_without_dates_or_patients(engine):
    plain = pd.DataFrame({"source": ["A", "A", "B"], "target": ["B", "B", "A"]})
    ties = tie_table(plain, engine=engine)
    assert ties.to_dict("records") == [
        {"source": "A", "target": "B", "referrals": 2},
        {"source": "B", "target": "A", "referrals": 1},
    ]
    with pytest.raises(InsufficientDataError, match="no dates"):
        edge_panel(plain, engine=engine)


def test_raw_patient_ids_are_refused():
    frame = pd.DataFrame({"source": ["A"], "target": ["B"], "patient_id": ["p"]})
    with pytest.raises(SchemaError, match="raw patient ids"):
        tie_table(frame)
    with pytest.raises(SchemaError, match="lacks column"):
        tie_table(pd.DataFrame({"source": ["A"]}))


def test_engine_parameter():
    with pytest.raises(ParameterError, match="'engine' parameter"):
        tie_table(pd.DataFrame({"source": ["A"], "target": ["B"]}), engine="gpu")  # type: ignore[arg-type]
    small = pd.DataFrame({"source": ["A"] * 3})
    assert resolve_engine(small, "auto") == "pandas"
    assert resolve_engine(small, "duckdb") == "duckdb"
    assert SMALL_FRAME_ROWS == 200_000


@pytest.mark.parametrize("engine", ENGINES)
def test_events_without_a_date_are_handled_alike(events, engine, caplog):
    """Regression: DuckDB kept a NaT month and pandas counted NaT as an active month."""
    undated = events.copy()
    undated.loc[4, "date"] = pd.NaT
    with caplog.at_level(logging.WARNING, logger="referral_graph.aggregate"):
        panel = edge_panel(undated, engine=engine)
    assert "1 events have no date" in caplog.text
    assert panel["month"].notna().all() and len(panel) == 2
    ties = tie_table(undated, engine=engine)
    b = ties.iloc[1]
    assert (b["referrals"], b["active_months"]) == (1, 0)
    assert pd.isna(b["first_date"])


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_events(engine):
    empty = pd.DataFrame(
        {
            "source": pd.Series([], dtype="str"),
            "target": pd.Series([], dtype="str"),
            "date": pd.Series([], dtype="datetime64[ns]"),
            "patient_key": pd.Series([], dtype="int64"),
        }
    )
    assert len(edge_panel(empty, engine=engine)) == 0
    assert tie_table(empty, engine=engine).columns.tolist()[:4] == [
        "source",
        "target",
        "referrals",
        "patients",
    ]


def test_inputs_are_not_modified(events):
    before = events.copy()
    edge_panel(events, engine="pandas")
    tie_table(events, engine="duckdb")
    assert_frame_equal(events, before)


def test_period_of(events):
    assert period_of(events) == (pd.Timestamp("2024-01-03"), pd.Timestamp("2024-03-31"))
    assert period_of(events.drop(columns="date")) is None


def test_from_read_events_end_to_end(write_file):
    path = write_file(
        "e.csv",
        "source,target,date,patient_id\n"
        "010,020,2024-01-01,p1\n010,020,2024-01-15,p1\n010,020,2024-02-01,p2\n",
    )
    ties = tie_table(read_events(path))
    assert ties[["source", "target", "referrals", "patients", "active_months"]].values.tolist() == [
        ["010", "020", 3, 2, 2]
    ]


# ----------------------------------------------------------------------------- properties

_ids = st.one_of(
    st.sampled_from(["0", "007", "010000024", "2A0000030", "A", "Б", "北"]),
    st.text(alphabet="0123456789AZБ北", min_size=1, max_size=4),
)


@st.composite
def event_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=40))
    pairs = draw(
        st.lists(st.tuples(_ids, _ids).filter(lambda p: p[0] != p[1]), min_size=n, max_size=n)
    )
    days = draw(st.lists(st.integers(0, 3 * 365), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "source": pd.Series([p[0] for p in pairs], dtype="str"),
            "target": pd.Series([p[1] for p in pairs], dtype="str"),
            "date": pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D"),
        }
    )
    if draw(st.booleans()):
        frame["patient_key"] = draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n))
        frame["patient_key"] = frame["patient_key"].astype("int64")
    if draw(st.booleans()):
        amounts = draw(
            st.lists(
                st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)), min_size=n, max_size=n
            )
        )
        frame["amount"] = pd.Series(amounts, dtype="float64")
    return frame


@settings(max_examples=50, deadline=None)
@given(event_tables())
def test_property_totals_equal_event_counts(frame):
    panel = edge_panel(frame, engine="pandas")
    ties = tie_table(frame, engine="pandas")
    assert int(panel["referrals"].sum()) == len(frame)
    assert int(ties["referrals"].sum()) == len(frame)
    per_tie = frame.groupby(["source", "target"]).size()
    panel_per_tie = panel.groupby(["source", "target"])["referrals"].sum()
    assert panel_per_tie.sort_index().tolist() == per_tie.sort_index().tolist()
    assert ties.set_index(["source", "target"])["referrals"].sort_index().tolist() == (
        per_tie.sort_index().tolist()
    )
    if "patient_key" in frame:
        # distinct over the period never exceeds the sum over months
        monthly = panel.groupby(["source", "target"])["patients"].sum().sort_index()
        overall = ties.set_index(["source", "target"])["patients"].sort_index()
        assert (overall <= monthly).all()


@settings(max_examples=50, deadline=None)
@given(event_tables())
def test_property_duckdb_and_pandas_agree(frame):
    for func in (edge_panel, tie_table):
        assert_frame_equal(
            func(frame, engine="pandas"),
            func(frame, engine="duckdb"),
            check_exact=False,
            rtol=1e-9,
        )


@settings(max_examples=25, deadline=None)
@given(event_tables())
def test_property_read_events_keeps_every_valid_event(frame):
    """Events given as text (ids with leading zeros, ISO dates) survive read_events unchanged."""
    raw = pd.DataFrame(
        {
            "referring_npi": frame["source"],
            "receiving_npi": frame["target"],
            "service_date": frame["date"].dt.strftime("%Y-%m-%d"),
        }
    )
    if "patient_key" in frame:
        raw["member_id"] = frame["patient_key"].map(lambda k: None if k < 0 else f"0{k}")
    events = read_events(raw, npi=False)
    kept = frame.loc[events.index]  # rows repeating an earlier row with a patient are excluded
    assert events["source"].tolist() == kept["source"].tolist()
    assert events["target"].tolist() == kept["target"].tolist()
    expected = tie_table(frame.drop(columns=["amount"], errors="ignore"), engine="pandas")
    duplicates = events.attrs["report"].excluded_by_reason.get("duplicate_row", 0)
    assert len(events) + duplicates == len(frame)
    if not duplicates:
        assert_frame_equal(tie_table(events, engine="duckdb"), expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_aggregate_events_equals_the_two_functions(events, engine):
    ties, panel = aggregate_events(events, engine=engine)
    pd.testing.assert_frame_equal(ties, tie_table(events, engine=engine))
    pd.testing.assert_frame_equal(panel, edge_panel(events, engine=engine))
    undated_ties, no_panel = aggregate_events(events.drop(columns="date"), engine=engine)
    assert no_panel is None and "first_date" not in undated_ties


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_aggregate_events_with_undated_events_equals_the_two_functions(engine, caplog):
    # aggregate_events takes each tie's active months from its panel: a tie whose events are
    # all undated has none (and no panel row).
    events = pd.DataFrame(
        {
            "source": ["A", "A", "A", "B", "C"],
            "target": ["B", "B", "B", "C", "A"],
            "date": pd.to_datetime(["2024-01-05", "2024-03-01", None, "2024-01-09", None]),
            "patient_key": [0, 1, 2, 0, 3],
        }
    )
    ties, panel = aggregate_events(events, engine=engine)
    pd.testing.assert_frame_equal(ties, tie_table(events, engine=engine))
    pd.testing.assert_frame_equal(panel, edge_panel(events, engine=engine))
    assert ties.set_index(["source", "target"])["active_months"].to_dict() == {
        ("A", "B"): 2,
        ("B", "C"): 1,
        ("C", "A"): 0,
    }
