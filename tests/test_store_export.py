"""A store exported as Parquet partitioned by month, and the export loaded into another store."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from store_helpers import split_in_three, stored_events

from referral_graph import cli, datasets, engines
from referral_graph.exceptions import InputError, ParameterError
from referral_graph.store import StoreError, open_store


@pytest.fixture(scope="module")
def sample_events() -> pd.DataFrame:
    return pd.read_csv(datasets.sample_paths()["events"], dtype=str, keep_default_na=False)


def _assert_same_result(a: engines.EngineResult, b: engines.EngineResult) -> None:
    assert_frame_equal(a.ties, b.ties)
    assert_frame_equal(a.panel, b.panel)
    assert a.patients is not None and b.patients is not None
    assert_series_equal(a.patients, b.patients)
    assert a.period == b.period
    assert a.report.rows_read == b.report.rows_read
    assert a.report.excluded_by_reason == b.report.excluded_by_reason


def _keyed(secret: str, patient: str) -> int:
    """The oracle of the keyed hash: 8 bytes of SHA-256 of ``secret:id``, signed big-endian."""
    digest = hashlib.sha256(f"{secret}:{patient}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@pytest.fixture(scope="module")
def exported(sample_events: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of three overlapping extracts, and its export (folder ``layout``)."""
    folder = tmp_path_factory.mktemp("export")
    with open_store(folder / "r.duckdb") as store:
        for path in split_in_three(sample_events, folder):
            store.ingest(path)
    with open_store(folder / "r.duckdb", read_only=True) as store:  # reading is enough
        assert store.export(folder / "layout") == folder / "layout"
    return folder


def test_an_export_loaded_into_a_new_store_gives_the_same_store(exported: Path) -> None:
    with open_store(exported / "r.duckdb", read_only=True) as store:
        original = store.result()
        loads = store.loads()
    copy = exported / "copy.duckdb"
    with open_store(copy, key_file=exported / "r.duckdb.key") as store:
        load = store.import_layout(exported / "layout")
        again = store.import_layout(exported / "layout")
        rebuilt = store.result()
        listed = store.loads()
    _assert_same_result(original, rebuilt)
    assert_frame_equal(stored_events(exported / "r.duckdb"), stored_events(copy))
    # one load, of every event; the rows read and excluded of the three loads it holds
    assert (load.kept, load.added, load.skipped) == (116_480, 116_480, False)
    assert again.skipped and again.added == 0
    assert listed["file"].tolist() == [str((exported / "layout").resolve())]
    assert listed["rows_read"].tolist() == [loads["rows_read"].sum()]
    assert len(load.months) == 30


def test_the_layout_holds_what_it_says(sample_events: pd.DataFrame, exported: Path) -> None:
    """Read with pyarrow (hive partitions): every event once, keyed as the oracle says; the
    ties and panel are the files engine's on the whole sample."""
    layout = exported / "layout"
    meta = json.loads((layout / "layout.json").read_text())
    secret = (exported / "r.duckdb.key").read_text().strip()
    fingerprint = hashlib.sha256(("fingerprint:" + secret).encode()).hexdigest()[:16]
    assert (meta["version"], meta["key_fingerprint"], len(meta["loads"])) == (1, fingerprint, 3)
    assert meta["has_patients"] and meta["has_amount"] and meta["events"] == len(sample_events)
    months = sorted(p.name for p in (layout / "events").iterdir())
    assert months[0] == "month=2024-01-01" and len(months) == 30
    events = pq.read_table(layout / "events").to_pandas()
    assert int(events["copies"].sum()) == len(sample_events)
    assert events["patient"].dtype == "int64"
    expected = {_keyed(secret, p) for p in sample_events["patient_id"].unique()}
    assert set(events["patient"]) == expected
    # each event in the folder of its month
    month = pd.to_datetime(events["month"].astype(str))
    assert (events["date"].dt.to_period("M").dt.start_time == month).all()
    whole = engines.aggregate(datasets.sample_paths()["events"], engine="files")
    ties = pq.read_table(layout / "ties").to_pandas()
    assert_frame_equal(
        ties.drop(columns=["amount", "first_date", "last_date"]),
        whole.ties.drop(columns=["amount", "first_date", "last_date"]),
        check_dtype=False,
    )
    panel = pq.read_table(layout / "panel").to_pandas()
    assert int(panel["referrals"].sum()) == len(sample_events)
    assert len(panel) == len(whole.panel)


def test_an_export_holds_no_patient_id_nor_the_secret(
    sample_events: pd.DataFrame, exported: Path
) -> None:
    """The bytes of every file, and of every Parquet table decompressed."""
    layout = exported / "layout"
    blobs = [p.read_bytes() for p in layout.rglob("*") if p.is_file()]
    for path in layout.rglob("*.parquet"):
        sink = io.BytesIO()
        table = pq.read_table(path)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        blobs.append(sink.getvalue())
    patients = sample_events["patient_id"].unique()
    secret = (exported / "r.duckdb.key").read_text().strip().encode()
    assert patients[0].encode() in b"".join([b"x", patients[0].encode()])  # the search works
    assert not [p for p in patients[:500] if any(p.encode() in blob for blob in blobs)]
    assert not [blob for blob in blobs if secret in blob]


def test_a_layout_keyed_with_another_secret_is_refused(exported: Path, tmp_path: Path) -> None:
    layout = exported / "layout"
    other = tmp_path / "other.key"
    other.write_text("another secret\n")
    with open_store(tmp_path / "o.duckdb", key_file=other) as store:
        with pytest.raises(StoreError, match=r"layout: its patients were keyed with another"):
            store.import_layout(layout)
        assert store.loads().empty and store.summary()["events"] == 0
    # a new store without a key file: refused, and no key made up for it
    with (
        open_store(tmp_path / "n.duckdb") as store,
        pytest.raises(StoreError, match=r"layout: .*n\.duckdb\.key does not exist"),
    ):
        store.import_layout(layout)
    assert not (tmp_path / "n.duckdb.key").exists()
    with (
        open_store(tmp_path / "n.duckdb") as store,
        pytest.raises(InputError, match="not a store layout"),
    ):
        store.import_layout(tmp_path)
    meta = json.loads((layout / "layout.json").read_text())
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "layout.json").write_text(json.dumps({**meta, "version": 2}))
    with (
        open_store(tmp_path / "n.duckdb") as store,
        pytest.raises(InputError, match="version 2"),
    ):
        store.import_layout(tmp_path / "v2")


def test_exports_and_extracts_mix_as_extracts_do(
    sample_events: pd.DataFrame, tmp_path: Path
) -> None:
    """A store exported after its first load, then given the later extracts, equals the
    store of all three; an export of the whole store then adds nothing (but is no repeat)."""
    paths = split_in_three(sample_events, tmp_path)
    with open_store(tmp_path / "a.duckdb") as store:
        store.ingest(paths[0])
        store.export(tmp_path / "first")
        for path in paths[1:]:
            store.ingest(path)
        store.export(tmp_path / "all")
        whole = store.result()
        with pytest.raises(ParameterError, match="not an empty folder"):
            store.export(tmp_path / "all")
    with open_store(tmp_path / "b.duckdb", key_file=tmp_path / "a.duckdb.key") as store:
        assert store.import_layout(tmp_path / "first").added == len(pd.read_csv(paths[0]))
        for path in paths[1:]:
            store.ingest(path)
        last = store.import_layout(tmp_path / "all")
        result = store.result()
    assert (last.skipped, last.added, last.kept) == (False, 0, len(sample_events))
    assert_frame_equal(result.ties, whole.ties)
    assert_frame_equal(result.panel, whole.panel)
    assert_frame_equal(stored_events(tmp_path / "a.duckdb"), stored_events(tmp_path / "b.duckdb"))
    with (
        open_store(tmp_path / "empty.duckdb") as store,
        pytest.raises(StoreError, match="no load yet"),
    ):
        store.export(tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_cli_store_export_and_import(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, out = str(exported / "r.duckdb"), str(tmp_path / "layout")
    assert cli.main(["store", "export", "--store", store, "--out", out, "-q"]) == 0
    assert "the layout of 116,480 events" in capsys.readouterr().out
    copy = str(tmp_path / "copy.duckdb")
    key = str(exported / "r.duckdb.key")
    command = ["store", "import", "--store", copy, "--layout", out, "--key-file", key]
    assert cli.main(command) == 0
    assert "116,480 events, 116,480 new to the store" in capsys.readouterr().out
    assert cli.main(command) == 0
    assert "loaded before" in capsys.readouterr().out
    assert cli.main(["store", "info", "--store", copy]) == 0
    info = capsys.readouterr().out
    assert f"load 1: {Path(out).resolve()}" in info and "load 2" not in info
    with open_store(exported / "r.duckdb", read_only=True) as a, open_store(copy) as b:
        _assert_same_result(a.result(), b.result())
    # a wrong key: one red line, exit code 1
    other = tmp_path / "other.key"
    other.write_text("another secret\n")
    third = ["store", "import", "--store", str(tmp_path / "t.duckdb"), "--layout", out]
    assert cli.main([*third, "--key-file", str(other)]) == 1
    assert "another secret than the store's" in capsys.readouterr().err
    assert cli.main(["store", "export", "--out", out]) == 1
    assert "either --store or --events" in capsys.readouterr().err


def test_a_store_without_patients_nor_amounts_round_trips(tmp_path: Path) -> None:
    """By hand: identical patient-less events are copies; the layout has no patient panels,
    no fingerprint, and loads into a store without any key file."""
    pd.DataFrame(
        {
            "source": ["A", "A", "A", "C"],
            "target": ["B", "B", "B", "B"],
            "date": ["2024-01-05", "2024-01-05", "2024-03-01", "2024-03-02"],
        }
    ).to_csv(tmp_path / "e.csv", index=False)
    with open_store(tmp_path / "a.duckdb") as store:
        store.ingest(tmp_path / "e.csv")
        store.export(tmp_path / "layout")
        expected = store.result()
    assert not (tmp_path / "layout" / "patients").exists()
    meta = json.loads((tmp_path / "layout" / "layout.json").read_text())
    assert (meta["has_patients"], meta["key_fingerprint"], meta["events"]) == (False, None, 4)
    events = pq.read_table(tmp_path / "layout" / "events").to_pandas()
    assert sorted(events["copies"].tolist()) == [1, 1, 2]
    assert events["patient"].isna().all() and events["amount"].isna().all()
    with open_store(tmp_path / "b.duckdb") as store:
        assert store.import_layout(tmp_path / "layout").added == 4
        got = store.result()
    assert not (tmp_path / "b.duckdb.key").exists()
    assert got.patients is None
    assert_frame_equal(got.ties, expected.ties)
    assert_frame_equal(got.panel, expected.panel)
    assert got.ties["referrals"].tolist() == [3, 1]
