"""The readers on real public data in ../shared/data (skipped when the folder is absent).

See ../shared/data/README.md for where each file comes from.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from conftest import sha256

from referral_graph.graph import graph_from_tables, graph_to_tables, load_graph, save_graph
from referral_graph.io import read_edges, read_providers
from referral_graph.privacy import suppress_counts
from referral_graph.taxonomy import read_taxonomy

HOP = Path("hop_teaming_nashville")
CMS_SAMPLE = Path("cms_shared_patient_patterns") / "sample_180day_two_samples.csv"
NUCC_251 = Path("nucc_taxonomy") / "nucc_taxonomy_251.csv"
NUCC_121 = Path("nucc_taxonomy") / "nucc_taxonomy_121_cp1252.csv"


def _need(shared_data: Path, relative: Path) -> Path:
    path = shared_data / relative
    if not path.exists():
        pytest.skip(f"{relative} not found in {shared_data}")
    return path


@pytest.fixture
def hop_edges(shared_data: Path) -> pd.DataFrame:
    return read_edges(_need(shared_data, HOP / "edges.csv"))


@pytest.fixture
def hop_providers(shared_data: Path) -> pd.DataFrame:
    return read_providers(
        _need(shared_data, HOP / "providers.csv"), taxonomy=_need(shared_data, NUCC_251)
    )


# ----------------------------------------------------------------------------- Hop Teaming


def test_hop_teaming_edges_load_with_auto_layout(hop_edges):
    assert hop_edges.attrs["layout"] == "hop-teaming"
    assert len(hop_edges) == 2_785
    assert hop_edges.attrs["report"].rows_read == 2_785
    assert hop_edges.attrs["report"].rows_excluded == 0
    assert int(hop_edges["patient_count"].sum()) == 557_571
    assert int(hop_edges["transaction_count"].sum()) == 1_001_265
    assert hop_edges["referrals"].equals(hop_edges["transaction_count"].astype("int64"))
    assert hop_edges.index[0] == 2  # spreadsheet rows
    # the literal NULL is missing, never the text "NULL"
    assert hop_edges["pcp_special"].isna().any()
    for column in hop_edges.select_dtypes(include=["str", "object"]).columns:
        assert not (hop_edges[column] == "NULL").any(), column
    assert (hop_edges["transaction_count"] >= 50).all()  # the course's filter


def test_hop_teaming_graph_with_nucc_labels(hop_edges, hop_providers):
    assert len(hop_providers) == 1_443
    g = graph_from_tables(hop_edges, hop_providers)
    assert type(g) is nx.DiGraph
    assert (g.number_of_nodes(), g.number_of_edges()) == (1_443, 2_785)
    weights = nx.get_edge_attributes(g, "patient_count")
    assert sum(weights.values()) == 557_571
    assert sum(nx.get_edge_attributes(g, "transaction_count").values()) == 1_001_265
    assert nx.number_weakly_connected_components(g) == 1
    assert nx.reciprocity(g) == 0
    pcps = [d for _, d in g.nodes(data=True) if d.get("role") == "referring_pcp"]
    assert len(pcps) == 1_383
    assert all(d.get("specialty") for d in pcps)  # every PCP has a NUCC 25.1 label
    classifications = {d["classification"] for d in pcps}
    assert {"Family Medicine", "Internal Medicine"} <= classifications
    assert classifications <= {
        "Family Medicine",
        "Internal Medicine",
        "Pediatrics",
        "General Practice",
    }
    # ids are NPIs as text
    assert all(isinstance(n, str) and len(n) == 10 for n in g)


def test_hop_teaming_graph_round_trips_through_files(hop_edges, hop_providers, tmp_path):
    g = graph_from_tables(hop_edges, hop_providers)
    nodes, edges = graph_to_tables(g)
    assert nx.utils.graphs_equal(g, graph_from_tables(edges, nodes))
    loaded = load_graph(save_graph(g, tmp_path / "nash"))
    # every count of this file is 50 or more: nothing is left out, and the file says so
    record = {"suppression_threshold": 11, "suppressed_counts": 0, "suppressed_derived": 0}
    assert {k: loaded.graph.pop(k) for k in record} == record
    assert nx.utils.graphs_equal(g, loaded)


def test_real_files_are_not_modified(shared_data):
    path = _need(shared_data, HOP / "edges.csv")
    before = sha256(path)
    read_edges(path)
    assert sha256(path) == before


# ----------------------------------------------------------------------------- CMS


def _cms(path: Path, suffix: str) -> pd.DataFrame:
    return read_edges(
        path,
        source_col="Initial",
        target_col="Secondary",
        weight_col=f"Total{suffix}",
        patient_col=f"Unique{suffix}",
    )


def test_cms_two_samples_partition_the_rows(shared_data):
    path = _need(shared_data, CMS_SAMPLE)
    first = _cms(path, "2014")
    second = _cms(path, "")
    for sample in (first, second):
        report = sample.attrs["report"]
        assert report.rows_read == 200
        assert len(sample) + report.rows_excluded == 200
        assert set(report.excluded_by_reason) == {"missing_count"}
        assert (sample["patients"] >= 11).all()  # the CMS privacy floor
        assert (sample["referrals"] >= sample["patients"]).all()
        assert sample["source"].str.fullmatch(r"\d{10}").all()
    kept_first, kept_second = set(first.index), set(second.index)
    assert not kept_first & kept_second
    assert kept_first | kept_second == set(range(2, 202))
    missing = next(i for i in first.attrs["report"].issues if i.check == "missing_count")
    assert missing.column == "Total2014"
    assert missing.count == len(kept_second)
    # CMS's other counts under their own names are numbers, and small cells are suppressed
    assert first["Same Day2014"].dtype == "Int64" and first["Total"].dtype == "Int64"
    safe = suppress_counts(first)
    small = first["Same Day2014"].between(1, 10).fillna(False)
    assert small.any() and safe.loc[small, "Same Day2014"].isna().all()
    # the "2014again?" columns are an identical copy of the first sample
    again = _cms(path, "2014again?")
    assert again[["source", "target", "referrals", "patients"]].equals(
        first[["source", "target", "referrals", "patients"]]
    )


def test_cms_sample_written_header_less_parses_as_cms(shared_data, tmp_path):
    first = _cms(_need(shared_data, CMS_SAMPLE), "2014")
    same_day = first["Same Day2014"].astype("int64")
    lines = [
        f"{s},{t},{r},{p},{d}"
        for s, t, r, p, d in zip(
            first["source"],
            first["target"],
            first["referrals"],
            first["patients"],
            same_day,
            strict=True,
        )
    ]
    path = tmp_path / "physician-shared-patient-patterns-2014-days180.txt"
    path.write_text("\n".join(lines) + "\n")
    cms = read_edges(path)
    assert cms.attrs["layout"] == "cms-pspp"
    assert len(cms) == len(first)
    assert cms.index.tolist() == list(range(1, len(first) + 1))
    assert cms["source"].tolist() == first["source"].tolist()
    assert cms["pair_count"].tolist() == first["referrals"].tolist()
    assert cms["bene_count"].tolist() == first["patients"].tolist()
    assert cms["same_day_count"].tolist() == same_day.tolist()


# ----------------------------------------------------------------------------- NUCC


def test_both_nucc_files_load(shared_data):
    current = read_taxonomy(_need(shared_data, NUCC_251))
    legacy = read_taxonomy(_need(shared_data, NUCC_121))  # cp1252-encoded
    assert len(current) == 883 and len(legacy) == 828
    labels = current.set_index("taxonomy_code")["specialty"]
    assert labels["207Q00000X"] == "Family Medicine"
    assert labels["207R00000X"] == "Internal Medicine"
    legacy_labels = legacy.set_index("taxonomy_code")["specialty"]
    assert legacy_labels["2080P0006X"] == "Developmental \u2013 Behavioral Pediatrics"
    assert not legacy["specialty"].str.contains("\ufffd").any()
