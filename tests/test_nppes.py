"""The NPPES downloadable file as a provider source, on real extracts and a generated layout.

Expected values were read by hand from the real extracts' rows (``../shared/data/nppes_samples``).
"""

from __future__ import annotations

import csv

import networkx as nx
import pandas as pd
import pytest

from referral_graph import cli
from referral_graph.exceptions import SchemaError
from referral_graph.io import providers_layout, read_providers
from referral_graph.io._nppes import NEEDED


def run(*argv: str) -> int:
    return cli.main([*argv, "-q"])


@pytest.fixture
def nppes_2018(shared_data):
    return shared_data / "nppes_samples" / "npidata_2018_head_499.csv"


@pytest.fixture
def nppes_2025(shared_data):
    return shared_data / "nppes_samples" / "npidata_2025_head_99.csv"


def test_both_layouts_are_detected(nppes_2018, nppes_2025):
    assert providers_layout(nppes_2018) == "nppes"
    assert providers_layout(nppes_2025) == "nppes"


def test_named_rows_as_in_the_file(nppes_2018):
    p = read_providers(nppes_2018).set_index("id")
    assert len(p) == 499
    assert p.loc["1679576722", ["name", "entity_type", "taxonomy_code"]].tolist() == [
        "DAVID A WIEBE, M.D.",
        "individual",
        "207X00000X",
    ]
    assert p.loc["1679576722", ["city", "state", "zip"]].tolist() == ["KEARNEY", "NE", "68847"]
    org = p.loc["1497758544"]
    assert org["name"] == org["organization"] == "CUMBERLAND COUNTY HOSPITAL SYSTEM, INC"
    assert org["entity_type"] == "organization" and org["taxonomy_code"] == "251G00000X"
    # the primary taxonomy is the one switched Y, here the second of two
    assert p.loc["1215930367", "taxonomy_code"] == "207RH0003X"
    # ZIP5 keeps its leading zero: '080511606' and a five-digit '03051'
    assert p.loc["1477556421", "zip"] == "08051"
    assert p.loc["1790788735", "zip"] == "03051"
    assert p.loc["1154324366", "zip"] == "00717"
    assert (p["entity_type"] == "individual").sum() == 388
    assert (p["entity_type"] == "organization").sum() == 98
    assert p["deactivation_date"].notna().sum() == 13
    assert p.loc["1679576722", "specialty"] == "Orthopaedic Surgery"


def test_2025_layout_and_deactivated_npis(nppes_2025):
    p = read_providers(nppes_2025).set_index("id")
    assert len(p) == 99
    assert p.loc["1588667638", "name"] == "WILLIAM C PILCHER, MD"
    gone = p.loc["1306849450"]
    assert str(gone["deactivation_date"].date()) == "2021-03-03"
    assert pd.isna(gone["name"]) and pd.isna(gone["entity_type"])


def test_only_the_npis_asked_for_are_kept(nppes_2018, capsys):
    p = read_providers(nppes_2018, ids=["1588667638", "1497758544", "1234567893"])
    assert sorted(p["id"]) == ["1497758544", "1588667638"]
    # the file is scanned for those NPIs: the line printed says so, not "2 rows read"
    from referral_graph._cli_text import print_reports

    print_reports([p.attrs["report"]])
    line = capsys.readouterr().out
    assert "2 of the 3 NPIs asked for found" in line and "rows read" not in line


def test_a_frame_of_nppes_columns_reads_the_same(nppes_2018):
    frame = pd.read_csv(nppes_2018, dtype=str, keep_default_na=False)
    from_frame = read_providers(frame).reset_index(drop=True)
    from_file = read_providers(nppes_2018).reset_index(drop=True)
    columns = ["id", "name", "taxonomy_code", "zip", "city", "state", "entity_type"]
    pd.testing.assert_frame_equal(from_frame[columns], from_file[columns])


def test_layout_nppes_on_another_file_is_a_clear_error(tmp_path):
    other = tmp_path / "providers.csv"
    other.write_text("npi,name\n1234567893,Dr. A\n")
    with pytest.raises(SchemaError, match=r"providers\.csv: not an NPPES file.*'Entity Type Code'"):
        read_providers(other, layout="nppes")


def test_report_from_an_edge_list_and_the_nppes_file_shows_names(nppes_2018, tmp_path):
    """An edge list between real NPIs plus the NPPES file: the report names providers."""
    with open(nppes_2018, newline="") as handle:
        rows = list(csv.DictReader(handle))
    named = [r for r in rows if r["Entity Type Code"] == "1"][:40]
    hospital = next(r for r in rows if r["Entity Type Code"] == "2")
    edges = pd.DataFrame(
        {
            "npi_from": [r["NPI"] for r in named],
            "npi_to": hospital["NPI"],
            "pair_count": [20 + i for i in range(len(named))],
        }
    )
    edges.to_csv(tmp_path / "edges.csv", index=False)
    out = tmp_path / "g.graphml"
    assert run("build", "--edges", str(tmp_path / "edges.csv"), "--providers", str(nppes_2018),
               "--layout", "nppes", "--out", str(out)) == 0  # fmt: skip
    G = nx.read_graphml(out)
    first = named[0]
    assert G.nodes[first["NPI"]]["name"].startswith(first["Provider First Name"])
    assert (
        G.nodes[hospital["NPI"]]["name"]
        == hospital["Provider Organization Name (Legal Business Name)"]
    )
    report = tmp_path / "r"
    assert run("report", "--edges", str(tmp_path / "edges.csv"), "--providers", str(nppes_2018),
               "--focus-ids", hospital["NPI"], "--out", str(report)) == 0  # fmt: skip
    page = (report / "report.html").read_text(encoding="utf-8")
    key = pd.read_csv(report / "tables" / "key_referrers.csv", dtype={"source": str})
    top = next(r for r in named if r["NPI"] == key.loc[key["rank"] == 1, "source"].iloc[0])
    middle = f" {top['Provider Middle Name']}" if top["Provider Middle Name"] else ""
    credential = f", {top['Provider Credential Text']}" if top["Provider Credential Text"] else ""
    name = (
        f"{top['Provider First Name']}{middle} {top['Provider Last Name (Legal Name)']}{credential}"
    )
    # the name links to the provider's profile (written beside the report)
    assert f'<td><a href="profiles/{top["NPI"]}.html">{name}</a></td>' in page
    assert (report / "profiles" / f"{top['NPI']}.html").is_file()


def test_generated_nppes_layout_reads_only_needed_columns(tmp_path):
    """A file with the 330-column header, few rows: the other columns may hold anything."""
    header = list(NEEDED) + [f"Other Column {i}" for i in range(300)]
    row = dict.fromkeys(header, "")
    row.update(
        {
            "NPI": "1234567893",
            "Entity Type Code": "1",
            "Provider First Name": "ADA",
            "Provider Last Name (Legal Name)": "LOVELACE",
            "Healthcare Provider Taxonomy Code_1": "207Q00000X",
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
            "Provider Business Practice Location Address Postal Code": "2134",
            "Other Column 7": 'quoted, with "quotes" and a\nnew line',
        }
    )
    path = tmp_path / "npidata_pfile.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerow(row)
    p = read_providers(path)
    assert p[["id", "name", "taxonomy_code", "zip"]].values.tolist() == [
        ["1234567893", "ADA LOVELACE", "207Q00000X", "02134"]
    ]
