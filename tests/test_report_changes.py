"""What changed since the last report: the comparison of two records, their history in the
store, and the section and ``changes.csv`` of a report run from a store week after week."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from privacy_scan import scan_outputs

from referral_graph import cli, datasets
from referral_graph.report import what_changed
from referral_graph.scores import write_tables
from referral_graph.store import ReportRecord, open_store

FOCUS = ["F1", "F2"]


def _record(
    *, ties: list[tuple], referrers: list[tuple], prospects=(), outreach=(), end="2026-05-31"
) -> ReportRecord:
    return ReportRecord(
        focus="Us",
        focus_ids=FOCUS,
        data_end=pd.Timestamp(end),
        window=3,
        capacity=2,
        horizon=3,
        ties=pd.DataFrame(
            ties, columns=["source", "target", "rank", "risk", "flagged", "referrals", "reason"]
        ),
        referrers=pd.DataFrame(referrers, columns=["source", "rank", "to_focus", "recent"]),
        prospects=pd.DataFrame(list(prospects), columns=["id", "rank"]),
        outreach=pd.DataFrame(list(outreach), columns=["source", "visit_order"]),
    )


@pytest.fixture
def two_records() -> tuple[ReportRecord, ReportRecord]:
    """A hand-made pair of reports, a month apart; the expected changes are listed by hand."""
    before = _record(
        ties=[
            ("A", "F1", 1, 0.7, True, 40, "quiet for 90 days"),  # flagged: recovers
            ("B", "F1", 2, 0.6, True, 30, "volume down"),  # flagged: leaves without a referral
            ("C", "F2", 3, 0.2, False, 25, ""),  # newly flagged now
            ("D", "F2", 4, 0.5, True, 12, "volume down"),  # flagged: drops out of the table
        ],
        referrers=[
            ("A", 1, 100, 30),
            ("B", 2, 80, 60),
            ("C", 3, 70, 5),
            ("E", 4, 10, 0),  # gained: nothing in the last report's window
            ("G", 5, 50, 20),  # lost
        ],
        prospects=[("P", 1), ("Q", 2)],
        outreach=[("A", 1), ("B", 2)],
    )
    current = _record(
        ties=[
            ("C", "F2", 1, 0.8, True, 25, "no referral for 60 days (usually every 9 days)"),
            ("B", "F1", 2, 0.4, False, 30, ""),
            ("A", "F1", 3, 0.1, False, 52, ""),
        ],
        referrers=[
            ("A", 2, 112, 50),  # +20
            ("B", 1, 80, 45),  # -15
            ("C", 60, 70, 30),  # 5 -> 30: its difference reveals the hidden 5
            ("E", 3, 25, 15),
            ("G", 4, 50, 0),
            ("P", 70, 12, 12),
        ],
        end="2026-06-30",
    )
    return before, current


def test_what_changed_lists_the_changes_worked_out_by_hand(two_records) -> None:
    before, current = two_records
    activities = pd.DataFrame(
        {
            "date": ["2026-05-20", "2026-06-03", "2026-06-10"],
            "provider": ["A", "B", "B"],
            "liaison": ["Kim", "Kim", None],
            "kind": ["visit", "visit", "call"],
        }
    )
    names = pd.DataFrame({"id": ["A", "B"], "name": ["Dr. A", None]})
    changes = what_changed(before, current, providers=names, activities=activities, threshold=11)
    got = list(zip(changes["change"], changes["source"], changes["target"].fillna(""), strict=True))
    assert got == [
        ("newly_at_risk", "C", "F2"),
        ("recovered", "A", "F1"),
        ("left_list", "B", "F1"),
        ("left_list", "D", "F2"),
        ("referrer_gained", "E", ""),
        ("referrer_gained", "P", ""),
        ("referrer_lost", "G", ""),
        ("volume_up", "C", ""),
        ("volume_up", "A", ""),
        ("volume_down", "B", ""),
        ("rank_up", "B", ""),
        ("rank_up", "E", ""),
        ("rank_up", "G", ""),
        ("rank_down", "C", ""),
        ("rank_down", "A", ""),
        ("prospect_started", "P", ""),
        ("visited", "B", ""),
    ]
    row = changes.set_index(["change", "source"])
    assert row.loc[("recovered", "A"), "referrals_since"] == 12  # 52 - 40
    assert row.loc[("volume_up", "A"), "difference"] == 20
    assert row.loc[("volume_down", "B"), "difference"] == -15
    assert row.loc[("rank_down", "C"), "rank_now"] == 60
    assert row.loc[("prospect_started", "P"), "referrals_since"] == 12
    assert row.loc[("visited", "B"), "activities"] == "2026-06-03 visit (Kim); 2026-06-10 call"
    what = row["what"]
    assert what[("newly_at_risk", "C")] == (
        "C → F2: newly at risk, #1 on the at-risk list: no referral for 60 days (usually every "
        "9 days)."
    )
    assert what[("recovered", "A")] == (
        "Dr. A → F1: at risk in the last report, referred again since (12 referrals)."
    )
    assert "not scored" in what[("left_list", "D")]
    assert "no longer flagged" in what[("left_list", "B")]
    # small counts are said as "<11", and a difference beside a hidden count is not said
    assert what[("referrer_gained", "E")] == (
        "E started referring to us: 15 in the last 3 months of data, none in the last report's."
    )
    assert what[("volume_up", "C")] == (
        "C: 30 referrals to us in the last 3 months of data, up from <11."
    )
    assert what[("volume_up", "A")].endswith("up from 30 (+20).")
    assert what[("visited", "B")] == (
        "B: 2026-06-03 visit (Kim), 2026-06-10 call; #2 on the last outreach list; no referral "
        "to us since."
    )


def test_changes_csv_hides_small_counts_and_the_differences_that_reveal_them(
    two_records, tmp_path: Path
) -> None:
    before, current = two_records
    changes = what_changed(before, current)
    write_tables({"changes": changes}, tmp_path, threshold=11)
    table = pd.read_csv(tmp_path / "changes.csv")
    c = table.set_index(["change", "source"])
    assert pd.isna(c.loc[("volume_up", "C"), "referrals_before"])  # 5
    assert pd.isna(c.loc[("volume_up", "C"), "difference"])  # 30 - 5 would give it back
    assert c.loc[("volume_up", "C"), "referrals_now"] == 30
    assert c.loc[("volume_up", "A"), "difference"] == 20
    problems, _ = scan_outputs(tmp_path)
    assert problems == []


def test_the_store_keeps_the_reports_and_compares_with_the_one_before_the_last_load(
    two_records, tmp_path: Path
) -> None:
    before, _ = two_records
    sample = tmp_path / "week.csv"
    pd.DataFrame(
        {"source": ["A"], "target": ["F1"], "date": ["2026-05-04"], "patient_id": ["p1"]}
    ).to_csv(sample, index=False)
    path = tmp_path / "s.duckdb"
    with open_store(path) as store:
        store.ingest(sample)
        assert store.last_report(focus_ids=FOCUS) is None
        store.record_report(before)
        # the same data: a report run again compares with the one before the last load
        assert store.last_report(focus_ids=FOCUS) is None
        again = store.last_report(focus_ids=FOCUS, before_load=2)
    assert again is not None
    assert again.loads_through == 1 and again.made_at is not None
    for name in ("ties", "referrers", "prospects", "outreach"):
        expected = getattr(before, name).reset_index(drop=True)
        pd.testing.assert_frame_equal(
            getattr(again, name), expected, check_dtype=False, check_like=False
        )
    assert again.data_end == before.data_end and sorted(again.focus_ids) == FOCUS
    with open_store(path, read_only=True) as store:
        assert store.last_report(focus_ids=["F1"], before_load=2) is None  # another focus
        assert store.reports()["report_id"].tolist() == [1]
        assert store.reports()["flagged"].tolist() == [3]


@pytest.fixture(scope="module")
def weekly(tmp_path_factory) -> Path:
    """The sample as two extracts (to May 2026, then June) loaded into a store, with a report
    after each load, as a team runs it (CLI)."""
    folder = tmp_path_factory.mktemp("weekly")
    paths = datasets.sample_paths()
    events = pd.read_csv(paths["events"], dtype=str, keep_default_na=False)
    june = events["date"] >= "2026-06-01"
    events[~june].to_csv(folder / "to_may.csv", index=False)
    events[june].to_csv(folder / "june.csv", index=False)
    store = folder / "referrals.duckdb"
    common = [
        "--store", str(store), "--providers", str(paths["providers"]), "--focus",
        datasets.SAMPLE_FOCUS, "--activities", str(paths["activities"]), "-q",
    ]  # fmt: skip
    for extract, out, extra in (
        ("to_may.csv", "first", []),
        ("june.csv", "second", []),
        (None, "raw", ["--threshold", "1"]),  # the second week again, for the oracle below
    ):
        if extract is not None:
            assert (
                cli.main(["ingest", "--store", str(store), "--events", str(folder / extract), "-q"])
                == 0
            )
        assert cli.main(["report", *common, *extra, "--out", str(folder / out)]) == 0
    return folder


def test_a_weekly_report_opens_with_what_changed_since_the_last(weekly: Path, capsys) -> None:
    first = (weekly / "first" / "report.html").read_text(encoding="utf-8")
    assert "Since the last report" in first
    assert "No earlier report on this focus was recorded" in first
    assert not (weekly / "first" / "tables" / "changes.csv").exists()
    second = (weekly / "second" / "report.html").read_text(encoding="utf-8")
    assert "Compared with the report of" in second and "on data to 31 May 2026" in second
    changes = pd.read_csv(weekly / "second" / "tables" / "changes.csv")
    assert {"newly_at_risk", "referrer_gained", "volume_up", "visited"} <= set(changes["change"])
    problems, _ = scan_outputs(weekly / "second")
    assert problems == []
    with open_store(weekly / "referrals.duckdb", read_only=True) as store:
        # the third run (same data) compared with the first report, not with the second
        assert store.reports()["loads_through"].tolist() == [1, 2, 2]
    capsys.readouterr()
    assert cli.main(["store", "info", "--store", str(weekly / "referrals.duckdb")]) == 0
    info = capsys.readouterr().out
    assert "report 1: on Riverside Health" in info and "after load 1, data to 2026-05-31" in info
    assert "report 3: on Riverside Health" in info
    assert "Backtest test cutoffs kept: 7 " in info  # six, then the June load's


def test_the_weekly_report_fits_only_the_backtests_new_test_cutoff(weekly: Path) -> None:
    """The store keeps each backtest's test cutoffs: the report after the June load finds
    all but the newest, the same report again finds all. Oracle: the backtest of the
    whole sample from its files, fitted afresh as the report fits it."""
    from referral_graph import pipeline
    from referral_graph._report_at_risk import at_risk_tables
    from referral_graph.leakage import resolve_focus

    with open_store(weekly / "referrals.duckdb", read_only=True) as store:
        folds = store.backtest_folds()
    assert len(folds) == 6 + 1  # the first report's six test cutoffs, then June's
    paths = datasets.sample_paths()
    net = pipeline.load_network(events=paths["events"], providers=paths["providers"])
    ids = resolve_focus(net.providers, focus=datasets.SAMPLE_FOCUS)
    fresh = at_risk_tables(net.panel, net.providers, ids, capacity=25, horizon=3, seed=0)
    assert fresh.backtest is not None and set(fresh.backtest.attrs["folds"]) <= set(folds)
    for run in ("second", "raw"):
        written = pd.read_csv(weekly / run / "tables" / "backtest.csv")
        # (the number of test cutoffs is no count of providers or ties: shown, 6)
        pd.testing.assert_frame_equal(written, fresh.backtest, rtol=1e-12)


def test_a_backtest_from_the_store_reuses_the_test_cutoffs_of_its_reports(
    weekly: Path, tmp_path: Path, caplog
) -> None:
    """``referral-graph backtest --store`` fits nothing the reports fitted on the same data
    and options; its figures are the report's (checked against a fresh backtest above)."""
    out = tmp_path / "backtest.csv"
    with caplog.at_level("INFO", logger="referral_graph.churn"):
        code = cli.main(
            ["backtest", "--store", str(weekly / "referrals.duckdb"), "--providers",
             str(datasets.sample_paths()["providers"]), "-q", "--out", str(out)]
        )  # fmt: skip
    assert code == 0
    assert "6 of 6 test cutoff(s) unchanged since an earlier backtest" in caplog.text
    assert "Churn model fitted" not in caplog.text
    pd.testing.assert_frame_equal(
        pd.read_csv(out), pd.read_csv(weekly / "second" / "tables" / "backtest.csv"), rtol=1e-12
    )


def test_an_at_risk_list_from_the_store_reuses_the_test_cutoffs_of_its_reports(
    weekly: Path, tmp_path: Path, caplog
) -> None:
    """``referral-graph at-risk --store`` chooses its ranking from a backtest whose test
    cutoffs the store's reports fitted already: only the list's own model is fitted."""
    paths = datasets.sample_paths()
    with caplog.at_level("INFO", logger="referral_graph.churn"):
        code = cli.main(
            ["at-risk", "--store", str(weekly / "referrals.duckdb"), "--providers",
             str(paths["providers"]), "--focus", datasets.SAMPLE_FOCUS, "-q",
             "--out", str(tmp_path / "at_risk.csv")]
        )  # fmt: skip
    assert code == 0
    assert "6 of 6 test cutoff(s) unchanged since an earlier backtest" in caplog.text
    assert caplog.text.count("Churn model fitted") == 1  # the list's model
    assert (tmp_path / "at_risk.csv").exists()


def test_referrals_since_the_last_report_are_the_new_extracts_events(weekly: Path) -> None:
    """Oracle: the June extract itself, counted with pandas."""
    changes = pd.read_csv(
        weekly / "raw" / "tables" / "changes.csv", dtype={"source": str, "target": str}
    )
    june = pd.read_csv(weekly / "june.csv", dtype=str)
    providers = pd.read_csv(datasets.sample_paths()["providers"], dtype=str)
    ours = set(providers.loc[providers["organization"] == datasets.SAMPLE_FOCUS, "id"])
    if not ours:
        pytest.skip("the sample's providers name no organisation column 'organization'")
    per_tie = june.groupby(["source", "target"]).size()
    per_referrer = june[june["target"].isin(ours)].groupby("source").size()
    recovered = changes[changes["change"] == "recovered"]
    assert len(recovered)
    for _, r in recovered.iterrows():
        assert r["referrals_since"] == per_tie[(r["source"], r["target"])]
    visited = changes[changes["change"] == "visited"]
    assert len(visited)
    for _, r in visited.iterrows():
        assert r["referrals_since"] == per_referrer.get(r["source"], 0), r["what"]
    # the recent windows: the last 3 months of each report's data (Mar-May, then Apr-Jun)
    events = pd.concat([pd.read_csv(weekly / "to_may.csv", dtype=str), june])
    to_us = events[events["target"].isin(ours) & ~events["source"].isin(ours)]

    def window(first: str, last: str) -> pd.Series:
        month = to_us["date"].str.slice(0, 7)
        return to_us[(month >= first) & (month <= last)].groupby("source").size()

    before, now = window("2026-03", "2026-05"), window("2026-04", "2026-06")
    movers = changes[changes["change"].isin(["volume_up", "volume_down", "referrer_gained"])]
    assert len(movers) >= 20
    for _, r in movers.iterrows():
        assert r["referrals_now"] == now.get(r["source"], 0), r["what"]
        assert r["referrals_before"] == before.get(r["source"], 0), r["what"]


def test_empty_records_compare_to_no_change() -> None:
    """Records of reports that had no at-risk list, referrers or prospects (short data)."""
    empty = ReportRecord(
        focus="Us", focus_ids=FOCUS, data_end=pd.Timestamp("2026-05-31"), window=3,
        capacity=5, horizon=3,
    )  # fmt: skip
    activities = pd.DataFrame(
        {"date": ["2026-06-02"], "provider": ["A"], "liaison": ["Kim"], "kind": ["call"]}
    )
    changes = what_changed(empty, empty, activities=activities)
    assert changes["change"].tolist() == ["visited"]
    assert changes["what"].iloc[0] == "A: 2026-06-02 call (Kim); no referral to us since."
    assert what_changed(empty, empty).empty


def test_a_load_that_adds_nothing_keeps_the_point_of_comparison(two_records, tmp_path) -> None:
    """After a load that added nothing, the report still compares with the report before
    the last load that changed the data (not with a rerun of the week on the same data)."""
    before, current = two_records
    week = tmp_path / "week.csv"
    rows = {"source": ["A", "B"], "target": ["F1", "F1"], "patient_id": ["p1", "p2"]}
    pd.DataFrame({**rows, "date": ["2026-05-04", "2026-05-05"]}).to_csv(week, index=False)
    following = tmp_path / "following.csv"
    pd.DataFrame({**rows, "date": ["2026-06-01", "2026-06-02"]}).to_csv(following, index=False)
    part = tmp_path / "part_again.csv"  # another file: the first week's first event only
    pd.DataFrame({k: v[:1] for k, v in rows.items()} | {"date": ["2026-05-04"]}).to_csv(
        part, index=False
    )
    with open_store(tmp_path / "s.duckdb") as store:
        store.ingest(week)
        store.record_report(before)  # report 1, on the first week
        store.ingest(following)
        assert store.loads_through() == 2
        store.record_report(current)  # report 2, on both weeks
        rerun = store.last_report(focus_ids=FOCUS)
        store.record_report(current)  # report 3: the same week run again
        load = store.ingest(part)
        assert (load.added, load.months) == (0, [])
        assert store.loads_through() == 2  # the data is as it was after load 2
        compared = store.last_report(focus_ids=FOCUS)
        assert len(store.loads()) == 3
        assert store.reports()["loads_through"].tolist() == [1, 2, 2]
    assert rerun is not None and compared is not None
    assert rerun.data_end == compared.data_end == before.data_end  # report 1, both times


def test_every_provider_named_in_the_changes_has_its_name(two_records) -> None:
    before, current = two_records
    ids = ["A", "B", "C", "D", "E", "G", "P", "Q", "F1", "F2", "X"]
    names = pd.DataFrame({"id": ids, "name": [f"Dr. {i}" for i in ids]})
    activities = pd.DataFrame({"date": ["2026-06-03"], "provider": ["X"], "kind": ["visit"]})
    changes = what_changed(before, current, providers=names, activities=activities)
    assert {"newly_at_risk", "prospect_started", "visited", "referrer_lost"} <= set(
        changes["change"]
    )
    assert (changes["source_name"] == "Dr. " + changes["source"]).all()
    targets = changes.dropna(subset=["target"])
    assert len(targets) and (targets["target_name"] == "Dr. " + targets["target"]).all()
    assert changes["what"].str.startswith("Dr. ").all()
