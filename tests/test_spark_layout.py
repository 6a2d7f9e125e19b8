"""The Spark engine writes the store's export layout: loaded into a store, it gives the store
that DuckDB's ``ingest`` gives from the same files (local mode).

Skipped, with the reason, where pyspark or Java is absent; with
``REFERRAL_GRAPH_REQUIRE_SPARK=1`` a missing Spark fails instead. One session serves the module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from store_helpers import stored_events

from referral_graph import cli, datasets
from referral_graph.exceptions import ParameterError
from referral_graph.spark import INSTALL_HINT, aggregate_spark, spark_available
from referral_graph.store import open_store


def _table(folder: Path, keys: list[str]) -> pd.DataFrame:
    """A layout's table, read with its hive partitions, sorted, with plain dtypes."""
    frame = pq.read_table(folder).to_pandas()
    if "month" in frame:
        frame["month"] = frame["month"].astype(str)
    return frame.sort_values(keys, ignore_index=True)


@pytest.mark.slow
def test_a_spark_layout_loads_into_the_store_as_the_files_do(spark: Any, tmp_path: Path) -> None:
    """The bundled sample: ingested by DuckDB into one store; written as a layout by Spark with
    the same key file and imported into another. The stores hold the same events, keys
    included, and give the same result; the two layouts (the store's export and Spark's)
    hold the same tables."""
    sample = datasets.sample_paths()["events"]
    with open_store(tmp_path / "duck.duckdb") as store:
        store.ingest(sample)
        store.export(tmp_path / "exported")
        expected = store.result()
    key = tmp_path / "duck.duckdb.key"
    result = aggregate_spark(sample, spark=spark, layout=tmp_path / "spark", key_file=key)
    assert result.paths["layout"] == str(tmp_path / "spark")
    with open_store(tmp_path / "from_spark.duckdb", key_file=key) as store:
        load = store.import_layout(tmp_path / "spark")
        got = store.result()
    assert load.added == load.kept == 116_480
    assert_frame_equal(
        stored_events(tmp_path / "duck.duckdb"), stored_events(tmp_path / "from_spark.duckdb")
    )
    assert_frame_equal(got.ties, expected.ties)
    assert_frame_equal(got.panel, expected.panel)
    assert got.patients is not None and expected.patients is not None
    assert_series_equal(got.patients, expected.patients)
    assert got.report.rows_read == expected.report.rows_read
    # the same layout: the same files' schemas, tables and description
    spark_meta = json.loads((tmp_path / "spark" / "layout.json").read_text())
    duck_meta = json.loads((tmp_path / "exported" / "layout.json").read_text())
    for name in ("key_fingerprint", "has_patients", "has_amount", "events", "months"):
        assert spark_meta[name] == duck_meta[name], name
    assert sorted(p.name for p in (tmp_path / "spark").iterdir()) == sorted(
        p.name for p in (tmp_path / "exported").iterdir()
    )
    for name, keys in (
        ("events", ["source", "target", "date", "patient", "amount", "service_line", "payer"]),
        ("panel", ["source", "target", "month"]),
        ("ties", ["source", "target"]),
        ("patients", ["id"]),
    ):
        first = next((tmp_path / "spark" / name).rglob("*.parquet"))
        second = next((tmp_path / "exported" / name).rglob("*.parquet"))
        assert pq.read_schema(first).remove_metadata().types == (
            pq.read_schema(second).remove_metadata().types
        ), name
        assert_frame_equal(
            _table(tmp_path / "spark" / name, keys),
            _table(tmp_path / "exported" / name, keys),
            check_dtype=False,
            rtol=1e-12,
            obj=name,
        )
    # Spark's markers and checksums are not part of the layout
    assert not [p for p in (tmp_path / "spark").rglob("*") if p.name.startswith(("_", "."))]


#: Patient ids that test the text both engines hash: accents, scripts, quotes, the
#: separators of a CSV, white space at the ends (stripped) and inside (kept), numbers.
EDGE_IDS = [
    "élodie", "Zoë-ß", "日本語-001", "O'Brien", 'say "hi"', "a,b", "  padded  ",
    "\u00a0nbsp\u00a0", "in side", "0042", "42", "1e5", "emoji 😀", "İstanbul", "", "NA",
]  # fmt: skip


def _keyed(secret: str, patient: str) -> int:
    """The oracle of the keyed hash: 8 bytes of SHA-256 of ``secret:id``, signed big-endian."""
    digest = hashlib.sha256(f"{secret}:{patient}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def test_spark_keys_patients_as_the_store_bit_for_bit(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And the secret is in none of the query plans Spark shows (web interface, event logs)."""
    from pyspark.sql import readwriter

    plans: list[str] = []
    write = readwriter.DataFrameWriter.parquet

    def spy(self: Any, path: str, *args: Any, **kwargs: Any) -> None:
        plans.append(self._df._jdf.queryExecution().toString())
        write(self, path, *args, **kwargs)

    monkeypatch.setattr(readwriter.DataFrameWriter, "parquet", spy)
    events = pd.DataFrame(
        {
            "source": [f"S{i % 3}" for i in range(len(EDGE_IDS))],
            "target": [f"T{i % 2}" for i in range(len(EDGE_IDS))],
            "date": [f"2024-01-{10 + i:02d}" for i in range(len(EDGE_IDS))],
            "patient_id": EDGE_IDS,
        }
    )
    path = tmp_path / "edge.csv"
    events.to_csv(path, index=False, encoding="utf-8")
    key = tmp_path / "edge.key"
    secret = "s3'cr\"et, é ü ∑"
    key.write_text(secret + "\n", encoding="utf-8")
    with open_store(tmp_path / "duck.duckdb", key_file=key) as store:
        store.ingest(path, npi=False)
    layout = tmp_path / "layout"
    aggregate_spark(path, spark=spark, npi=False, layout=layout, key_file=key, collect=False)
    assert [plan for plan in plans if "sha2(" in plan]  # the events' plan is among them
    assert not [plan for plan in plans if "s3'cr" in plan]
    keys = pq.read_table(layout / "events").sort_by("date").column("patient").to_pylist()
    expected = [
        None if p.strip(" \t\u00a0") in ("", "NA") else _keyed(secret, p.strip(" \t\u00a0"))
        for p in EDGE_IDS
    ]
    assert keys == expected
    with open_store(tmp_path / "spark.duckdb", key_file=key) as store:
        store.import_layout(layout)
    assert_frame_equal(
        stored_events(tmp_path / "duck.duckdb"), stored_events(tmp_path / "spark.duckdb")
    )
    assert len(stored_events(tmp_path / "spark.duckdb")) == len(EDGE_IDS)


def test_the_cli_exports_event_files_on_spark(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``store export --events`` (the module's session is the active one), then ``store import``;
    the key file is created by the export and then serves the store."""
    events = pd.read_csv(datasets.sample_paths()["events"], dtype=str).head(3_000)
    path = tmp_path / "part.csv"
    events.to_csv(path, index=False)
    key, out, store = tmp_path / "new.key", tmp_path / "layout", tmp_path / "r.duckdb"
    command = ["store", "export", "--events", str(path), "--key-file", str(key), "--out", str(out)]
    assert cli.main([*command, "-q"]) == 0
    assert "3,000 events kept" in capsys.readouterr().out
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    imported = ["store", "import", "--store", str(store), "--layout", str(out), "--key-file"]
    assert cli.main([*imported, str(key)]) == 0
    assert "3,000 new to the store" in capsys.readouterr().out
    with open_store(tmp_path / "duck.duckdb", key_file=key) as duck:
        duck.ingest(path)
    assert_frame_equal(stored_events(store), stored_events(tmp_path / "duck.duckdb"))
    # the layout's folder must be new: nothing is written over it
    assert cli.main([*command, "-q"]) == 1
    assert "not an empty folder" in capsys.readouterr().err


def test_the_layout_options_are_checked_before_any_work(tmp_path: Path) -> None:
    if not spark_available():
        pytest.skip(f"pyspark is not installed ({INSTALL_HINT})")
    events = datasets.sample_paths()["events"]
    with pytest.raises(ParameterError, match="must be a local folder"):
        aggregate_spark(events, layout="s3a://bucket/layout", key_file=tmp_path / "k")
    with pytest.raises(ParameterError, match="'key_file' parameter"):
        aggregate_spark(events, layout=tmp_path / "layout")
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not an empty folder"):
        aggregate_spark(events, layout=tmp_path / "layout", key_file=tmp_path / "k")
    assert not (tmp_path / "k").exists()
