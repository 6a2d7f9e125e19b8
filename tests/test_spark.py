"""The Spark engine (local[2]) against the embedded engines, bad rows included.

Skipped, with the reason, where pyspark or Java is absent; with
``REFERRAL_GRAPH_REQUIRE_SPARK=1`` (set by ``.ci/run``) a missing Spark fails
instead. One Spark session serves the whole module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from referral_graph import aggregate, io, synthetic
from referral_graph.exceptions import DependencyError, ParameterError, ValidationError
from referral_graph.scale import aggregate_files, read_output
from referral_graph.spark import aggregate_spark, spark_available


@pytest.fixture(scope="module")
def dirty_csv(tmp_path_factory) -> Path:
    """Every kind of planted bad row, a malformed line and a blank line."""
    market = synthetic.generate_market(n_providers=120, n_months=6, seed=21, dirty=0.06)
    path = tmp_path_factory.mktemp("spark") / "events.csv"
    market.events.to_csv(path, index=False)
    with path.open("a", encoding="utf-8") as f:
        f.write("1,2,3\n,,,,,,\n")
    return path


def _issues(report) -> list[tuple[str, int, str | None, bool]]:
    return [(i.check, i.count, i.column, i.excluded) for i in report.issues]


def test_spark_equals_the_embedded_engines_on_bad_rows(spark, dirty_csv, tmp_path):
    result = aggregate_spark(str(dirty_csv), spark=spark, write=tmp_path / "spark")
    events = io.read_events(dirty_csv)
    expected = events.attrs["report"]
    # the same rows excluded, for the same reasons, in the same order
    assert result.report.excluded_by_reason == expected.excluded_by_reason
    assert _issues(result.report) == _issues(expected)
    assert result.report.rows_read == expected.rows_read
    assert result.events == len(events)
    for check in ("wrong_field_count", "blank_line", "missing_id", "self_referral",
                  "unparsable_date", "duplicate_row"):  # fmt: skip
        assert expected.excluded_by_reason[check] > 0, check
    # identical tables: the in-memory engines, and the out-of-core DuckDB engine
    for engine in ("duckdb", "pandas"):
        assert_frame_equal(result.panel, aggregate.edge_panel(events, engine=engine))
        assert_frame_equal(result.ties, aggregate.tie_table(events, engine=engine))
    files = aggregate_files(dirty_csv, tmp_path / "duckdb")
    assert _issues(files.report) == _issues(result.report)
    for key in ("panel", "ties", "patients"):
        written = pd.read_parquet(result.paths[key])
        assert_frame_equal(written, pd.read_parquet(files.paths[key]))  # same file schema
    for key in ("panel", "ties"):
        assert_frame_equal(read_output(result.paths[key]), getattr(result, key))
    # the providers' patient panels, as the in-memory engines count them
    panels = aggregate.provider_patients(events)
    assert result.patients is not None
    assert result.patients["id"].tolist() == sorted(panels.index)
    assert_series_equal(
        result.patients.set_index("id")["patients"],
        panels.sort_index().astype("int64"),
        check_names=False,
        check_index_type=False,
    )
    # the tie table is read by the other commands (--edges), patient ids are nowhere
    assert io.read_edges(result.paths["ties"])["referrals"].sum() == len(events)
    ids = set(pd.read_csv(dirty_csv, dtype=str)["patient_id"].dropna())
    for path in Path(result.paths["ties"]).parent.iterdir():
        text = path.read_bytes()
        assert not any(p.encode() in text for p in list(ids)[:50])


def test_spark_dataframe_and_typed_parquet(spark, tmp_path):
    """Typed columns, declared NPIs, no patient ids (identical rows kept), providers check."""
    rows = pd.DataFrame(
        {
            "referring_npi": ["1234567893", "1234567893", "1234567893", "1003033051", "1234567890"],
            "receiving_npi": ["1003033051", "1003033051", "1003033051", "1003033051", "1003033051"],
            "service_date": pd.to_datetime(
                ["2024-01-05", "2024-01-05", "2024-03-01", "2024-01-06", "2024-01-07"]
            ),
            "revenue": [10.0, 10.0, -1.0, 5.0, np.inf],
        }
    )
    path = tmp_path / "typed.parquet"
    rows.to_parquet(path)
    providers = pd.DataFrame({"id": ["1234567893"]})
    kwargs: dict[str, Any] = {"npi": True, "providers": providers}
    expected_events = io.read_events(path, **kwargs)
    expected = expected_events.attrs["report"]
    frame = spark.read.parquet(str(path))
    result = aggregate_spark(frame, spark=spark, **kwargs)
    assert _issues(result.report) == _issues(expected)
    assert [i.check for i in result.report.issues] == [
        "invalid_npi",
        "self_referral",
        "non_numeric",
        "negative",
        "identical_rows",
        "unknown_provider",
    ]
    assert_frame_equal(result.ties, aggregate.tie_table(expected_events))
    assert_frame_equal(result.panel, aggregate.edge_panel(expected_events))
    # the aggregate module's engine="spark" gives the same tables from validated events
    assert_frame_equal(
        aggregate.tie_table(expected_events, engine="spark"), aggregate.tie_table(expected_events)
    )


def test_strict_raises_before_writing(spark, dirty_csv, tmp_path):
    with pytest.raises(ValidationError, match="excluded"):
        aggregate_spark(str(dirty_csv), spark=spark, write=tmp_path / "out", strict=True)
    assert not (tmp_path / "out" / "ties.parquet").exists()


def test_missing_pyspark_gives_the_install_hint(monkeypatch):
    """Runs without Spark: the import is made to fail."""
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)
    assert spark_available() is False
    with pytest.raises(DependencyError, match=r"referral_graph\[spark\]"):
        aggregate_spark("events.csv")
    with pytest.raises(DependencyError, match="pyspark"):
        aggregate.tie_table(pd.DataFrame({"source": ["A"], "target": ["B"]}), engine="spark")


def test_pandas_input_is_refused(spark):
    with pytest.raises(ParameterError, match="pandas DataFrame"):
        aggregate_spark(pd.DataFrame({"source": ["A"], "target": ["B"]}), spark=spark)


def test_load_network_with_spark_equals_the_files_engine(spark, dirty_csv):
    """engine="spark" gives the network of engine="files": ties, panel and patient panels."""
    from referral_graph.pipeline import load_network

    on_spark = load_network(events=dirty_csv, engine="spark")
    on_files = load_network(events=dirty_csv, engine="files")
    assert_frame_equal(on_spark.ties, on_files.ties, check_like=False)
    assert on_spark.panel is not None and on_files.panel is not None
    assert_frame_equal(on_spark.panel, on_files.panel)
    by_id = ["id"]
    assert_frame_equal(
        on_spark.providers.sort_values(by_id, ignore_index=True),
        on_files.providers.sort_values(by_id, ignore_index=True),
    )
    assert on_spark.providers["patients"].notna().all()
