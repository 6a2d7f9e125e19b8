"""The referral store: loads that are idempotent, atomic and incremental, read by every command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from store_helpers import split_in_three

from referral_graph import cli, datasets, engines
from referral_graph.exceptions import InputError
from referral_graph.store import StoreError, open_store


@pytest.fixture(scope="module")
def sample_events() -> pd.DataFrame:
    return pd.read_csv(datasets.sample_paths()["events"], dtype=str, keep_default_na=False)


def _months(events: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(events["date"]).dt.to_period("M")


def _tables(store_path: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        return {
            name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").df()
            for name in ("rg_ids", "rg_events", "rg_panel", "rg_ties", "rg_patients", "rg_loads")
        }
    finally:
        con.close()


def test_loads_in_pieces_equal_one_aggregation_of_the_whole(
    sample_events: pd.DataFrame, tmp_path: Path
) -> None:
    """Three overlapping extracts, loaded one by one (and one twice), give the tables of the
    files engine on the whole file: the months, ties and providers each load touched are
    computed again from the stored events."""
    paths = split_in_three(sample_events, tmp_path)
    with open_store(tmp_path / "r.duckdb") as store:
        loads = [store.ingest(p) for p in paths]
        again = store.ingest(paths[1])
        result = store.result()
        listed = store.loads()
    whole = engines.aggregate(datasets.sample_paths()["events"], engine="files")
    assert_frame_equal(result.ties, whole.ties)
    assert_frame_equal(result.panel, whole.panel)
    assert result.patients is not None and whole.patients is not None
    assert_series_equal(result.patients, whole.patients)
    assert result.period == whole.period
    # the overlap (months 9 and 10 in the first two extracts) is counted once
    months = _months(sample_events)
    ms = sorted(months.unique())
    overlap = int(((months >= ms[8]) & (months <= ms[9])).sum())
    assert [load.kept for load in loads] == [len(pd.read_csv(p)) for p in paths]
    assert loads[1].added == loads[1].kept - overlap
    assert loads[0].added + loads[1].added + loads[2].added == len(sample_events)
    assert loads[1].months == [str(m) for m in ms[10:18]]
    assert again.skipped and again.added == 0
    assert listed["added"].tolist() == [load.added for load in loads]
    assert len(listed) == 3


def test_events_are_recognised_by_their_values_across_files(tmp_path: Path) -> None:
    """By hand: an event with a patient id is one referral however many files repeat it; an
    identical patient-less event keeps the largest number of copies any file had."""
    a = pd.DataFrame(
        {
            "source": ["A", "A", "A", "C", "C"],
            "target": ["B", "B", "B", "B", "B"],
            "date": ["2024-01-05", "2024-01-20", "2024-01-20", "2024-02-01", "2024-02-01"],
            "patient_id": ["p1", "p2", "p2", "", ""],
            "amount": ["100", "50", "50", "10", "10"],
        }
    )
    b = pd.DataFrame(
        {
            "source": ["A", "C", "C", "C", "A"],
            "target": ["B", "B", "B", "B", "B"],
            "date": ["2024-01-05", "2024-02-01", "2024-02-01", "2024-02-01", "2024-03-03"],
            "patient_id": ["p1", "", "", "", "p1"],
            "amount": ["100", "10", "10", "10", "70"],
        }
    )
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    with open_store(tmp_path / "r.duckdb") as store:
        first = store.ingest(tmp_path / "a.csv")
        second = store.ingest(tmp_path / "b.csv")
        result = store.result()
    # a: p2's second row is a duplicate (the reader's rule); C's two patient-less rows count
    assert (first.kept, first.added, first.excluded) == (4, 4, {"duplicate_row": 1})
    # b: A-B p1 on 5 Jan is known; C-B on 1 Feb now has 3 copies (one more); A-B 3 Mar is new
    assert (second.kept, second.added) == (5, 2)
    assert second.months == ["2024-02", "2024-03"]
    ties = result.ties.set_index(["source", "target"])
    # A-B: p1 5 Jan, p2 20 Jan, p1 3 Mar = 3 referrals, 2 patients, 220; C-B: 3 copies x 10
    assert ties.loc[("A", "B"), ["referrals", "patients"]].tolist() == [3, 2]
    assert ties.loc[("A", "B"), "amount"] == pytest.approx(220.0)
    assert ties.loc[("C", "B"), ["referrals", "patients"]].tolist() == [3, 0]
    assert ties.loc[("C", "B"), "amount"] == pytest.approx(30.0)
    panel = result.panel.set_index(["source", "target", "month"])["referrals"]
    assert panel.to_dict() == {
        ("A", "B", pd.Timestamp("2024-01-01")): 2,
        ("A", "B", pd.Timestamp("2024-03-01")): 1,
        ("C", "B", pd.Timestamp("2024-02-01")): 3,
    }
    assert result.patients is not None
    assert result.patients.to_dict() == {"A": 2, "B": 2}


def test_patient_ids_never_enter_the_store(sample_events: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    sample_events.to_csv(path, index=False)
    with open_store(tmp_path / "r.duckdb") as store:
        store.ingest(path)
    raw = (tmp_path / "r.duckdb").read_bytes()
    patients = sample_events["patient_id"].unique()
    assert not [p for p in patients[:500] if p.encode() in raw]
    events = _tables(tmp_path / "r.duckdb")["rg_events"]
    assert events["patient"].dtype.kind == "u"  # 64-bit keys, not the ids
    # the secret is in the key file, readable by its owner only, and not in the store
    key = (tmp_path / "r.duckdb.key").read_text().strip()
    assert oct((tmp_path / "r.duckdb.key").stat().st_mode & 0o777) == "0o600"
    assert key.encode() not in raw


def test_the_store_refuses_another_key_and_a_missing_one(
    sample_events: pd.DataFrame, tmp_path: Path
) -> None:
    paths = split_in_three(sample_events, tmp_path)
    with open_store(tmp_path / "r.duckdb") as store:
        store.ingest(paths[0])
    other = tmp_path / "other.key"
    other.write_text("not the secret\n")
    with (
        open_store(tmp_path / "r.duckdb", key_file=other) as store,
        pytest.raises(StoreError, match="not the key"),
    ):
        store.ingest(paths[1])
    (tmp_path / "r.duckdb.key").rename(tmp_path / "moved.key")
    with (
        open_store(tmp_path / "r.duckdb") as store,
        pytest.raises(StoreError, match=r"key file of .* is missing"),
    ):
        store.ingest(paths[1])
    with open_store(tmp_path / "r.duckdb", key_file=tmp_path / "moved.key") as store:
        assert store.ingest(paths[1]).added > 0
    with pytest.raises(StoreError, match="no store there"):
        open_store(tmp_path / "absent.duckdb", create=False)


def test_a_store_keeps_one_kind_of_event(sample_events: pd.DataFrame, tmp_path: Path) -> None:
    paths = split_in_three(sample_events, tmp_path)
    pd.read_csv(paths[1]).drop(columns=["patient_id"]).to_csv(tmp_path / "x.csv", index=False)
    pd.read_csv(paths[1]).drop(columns=["date"]).to_csv(tmp_path / "undated.csv", index=False)
    with open_store(tmp_path / "r.duckdb") as store:
        store.ingest(paths[0])
        before = store.summary()
        with pytest.raises(StoreError, match="patient ids"):
            store.ingest(tmp_path / "x.csv")
        with pytest.raises(InputError, match="no date column"):
            store.ingest(tmp_path / "undated.csv")
        pd.read_csv(paths[1], dtype=str).head(50).to_excel(tmp_path / "sheet.xlsx", index=False)
        with pytest.raises(InputError, match="a spreadsheet workbook; the store reads CSV"):
            store.ingest(tmp_path / "sheet.xlsx")
        assert store.summary() == before


def test_a_data_file_given_as_the_store_is_refused_and_left_as_it_was(
    sample_events: pd.DataFrame, tmp_path: Path
) -> None:
    """DuckDB opens an existing CSV as an in-memory database over it: a load there would
    report success and keep nothing. The store refuses any file that is not a DuckDB one."""
    paths = split_in_three(sample_events, tmp_path)
    providers = tmp_path / "providers.csv"
    providers.write_bytes(datasets.sample_paths()["providers"].read_bytes())
    content = providers.read_bytes()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="not a store but another file"):
            open_store(providers, read_only=read_only)
    code = cli.main(["ingest", "--store", str(providers), "--events", str(paths[0]), "-q"])
    assert code != 0
    assert providers.read_bytes() == content
    assert not (tmp_path / "providers.csv.key").exists()


def test_a_first_command_that_fails_leaves_no_store_behind(
    sample_events: pd.DataFrame, tmp_path: Path
) -> None:
    paths = split_in_three(sample_events, tmp_path)
    store = tmp_path / "new.duckdb"
    argv = ["ingest", "--store", str(store), "--events", str(paths[0]), "-q"]
    assert cli.main([*argv, "--source-col", "referring_doc"]) != 0  # no such column
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("new")) == []
    deep = ["ingest", "--store", str(tmp_path / "a" / "b" / "s.duckdb"), "--events", str(paths[0])]
    assert cli.main([*deep, "--source-col", "referring_doc"]) != 0
    assert not (tmp_path / "a").exists()  # the folders it made for the store are gone too
    assert cli.main(argv) == 0
    assert cli.main([*argv[:-3], "--events", str(paths[1]), "--source-col", "nope"]) != 0
    with open_store(store, read_only=True) as opened:  # a store with a load stays as it was
        assert len(opened.loads()) == 1
    assert (tmp_path / "new.duckdb.key").exists()


def _ingest_command(store: Path, events: Path) -> list[str]:
    return [sys.executable, "-m", "referral_graph.cli", "ingest", "--store", str(store),
            "--events", str(events), "-q"]  # fmt: skip


def test_a_load_killed_halfway_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """Killed at any moment, a load leaves the store exactly as before it, or complete."""
    from referral_graph import synthetic

    market = synthetic.generate_market(
        n_providers=1500, n_months=8, seed=3, events_per_month=40_000
    )
    events = market.events
    months = pd.to_datetime(events["date"]).dt.to_period("M")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    events[months <= months.min() + 3].to_csv(first, index=False)
    events[months > months.min() + 3].to_csv(second, index=False)
    store = tmp_path / "r.duckdb"
    assert subprocess.run(_ingest_command(store, first), check=False).returncode == 0
    before = _tables(store)
    complete = tmp_path / "complete.duckdb"
    (tmp_path / "complete.duckdb.key").write_bytes((tmp_path / "r.duckdb.key").read_bytes())
    subprocess.run(_ingest_command(complete, first), check=True)
    subprocess.run(_ingest_command(complete, second), check=True)
    after = _tables(complete)
    outcomes = set()
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        process = subprocess.Popen(_ingest_command(store, second))
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        now = _tables(store)
        done = len(now["rg_loads"]) == 2
        outcomes.add(done)
        expected = after if done else before
        for name in ("rg_ids", "rg_events", "rg_panel", "rg_ties", "rg_patients"):
            assert_frame_equal(now[name], expected[name], obj=f"{name} after {delay} s")
        if done:
            break
    assert False in outcomes, "no kill landed during the load: make the load longer"
    # and the store still loads
    with open_store(store) as opened:
        opened.ingest(second)
        assert len(opened.loads()) == 2


def test_commands_read_the_store_as_they_read_the_files(
    sample_events: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ingest remembers the column names; score --store writes the tables score --events
    writes from the whole history; store info lists the loads."""
    renamed = sample_events.rename(columns={"source": "ref_npi", "target": "to_npi"})
    paths = split_in_three(renamed, tmp_path)
    store = str(tmp_path / "r.duckdb")
    cols = ["--source-col", "ref_npi", "--target-col", "to_npi"]
    assert cli.main(["ingest", "--store", store, "--events", str(paths[0]), *cols, "-q"]) == 0
    assert (
        cli.main(["ingest", "--store", store, "--events", str(paths[1]), str(paths[2]), "-q"]) == 0
    )
    out = capsys.readouterr().out
    assert "new to the store" in out and "were in it already" in out
    assert cli.main(["store", "info", "--store", store]) == 0
    info = capsys.readouterr().out
    assert info.count("load ") >= 3 and "source_col='ref_npi'" in info
    providers = datasets.sample_paths()["providers"]
    focus = ["--focus", "Riverside Health", "--providers", str(providers), "-q"]
    assert cli.main(["score", "--store", store, "--out", str(tmp_path / "s"), *focus]) == 0
    events = datasets.sample_paths()["events"]
    assert cli.main(["score", "--events", str(events), "--out", str(tmp_path / "e"), *focus]) == 0
    written = sorted(p.name for p in (tmp_path / "e").glob("*.csv"))
    assert written == sorted(p.name for p in (tmp_path / "s").glob("*.csv"))
    assert "ties.csv" in written and "key_referrers.csv" in written
    for name in written:
        # the same tables; amounts equal up to the order of their floating-point sums
        store_table = pd.read_csv(tmp_path / "s" / name, dtype={"source": str, "target": str})
        file_table = pd.read_csv(tmp_path / "e" / name, dtype={"source": str, "target": str})
        assert_frame_equal(store_table, file_table, rtol=1e-12, obj=name)


def test_readers_share_a_store_and_a_writer_waits_for_them(
    sample_events: pd.DataFrame, tmp_path: Path
) -> None:
    paths = split_in_three(sample_events, tmp_path)
    store = tmp_path / "r.duckdb"
    with open_store(store) as opened:
        opened.ingest(paths[0])
    # another process reads the store for a few seconds
    reader = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from referral_graph.store import open_store; "
         "s = open_store(sys.argv[1], read_only=True); print('open', flush=True); "
         "time.sleep(6); s.close()", str(store)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        with open_store(store, read_only=True) as opened:  # readers share it
            assert len(opened.loads()) == 1
            with pytest.raises(StoreError, match="read-only"):
                opened.ingest(paths[1])
        with pytest.raises(StoreError, match="in use by another process"):
            open_store(store)  # a writer waits for the readers
    finally:
        reader.communicate()  # waits, and closes its pipe
    with open_store(store) as opened:
        assert opened.ingest(paths[1]).added > 0
    with pytest.raises(StoreError, match="no store there"):
        open_store(tmp_path / "absent.duckdb", read_only=True)
