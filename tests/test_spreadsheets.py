"""Files as people have them: spreadsheet workbooks and ids a spreadsheet turned into numbers.

Expected values are written by hand from the cells the tests put in the workbooks.
"""

from __future__ import annotations

import datetime as dt
import zipfile

import networkx as nx
import pandas as pd
import pytest
from conftest import NPI_A, NPI_B, NPI_C, SECRET

from referral_graph import cli, engines
from referral_graph.exceptions import InputError, ParameterError, ValidationError
from referral_graph.io import read_activities, read_edges, read_events, read_providers, read_table

openpyxl = pytest.importorskip("openpyxl", reason="openpyxl writes the test workbooks")


def run(*argv: str) -> int:
    return cli.main([*argv, "-q"])


def _xlsx(path, sheets):
    """Write `sheets` ({name: rows}) to an .xlsx file with openpyxl, cells typed as given."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


# The cells a liaison's export holds: NPIs as numbers (and one as text), date cells with and
# without a time, a serial day number, a blank row in the middle and a patient id.
REFERRALS = [
    ["Referring NPI", "Receiving NPI", "Referral Date", "Patient"],
    [int(NPI_A), NPI_B, dt.date(2024, 1, 5), SECRET],  # row 2
    [float(NPI_A), int(NPI_B), dt.datetime(2024, 1, 6, 10, 30), 12345],  # row 3
    [None, None, None, None],  # row 4: blank
    [int(NPI_B), int(NPI_C), 45352, "P-2"],  # row 5: 45352 = 2024-03-01
]


@pytest.fixture
def workbook(tmp_path):
    return _xlsx(
        tmp_path / "referrals.xlsx",
        {"Referrals": REFERRALS, "Notes": [["note"], ["exported by the billing system"]]},
    )


def test_xlsx_events_read_as_text_ids_dates_and_spreadsheet_rows(workbook):
    events = read_events(workbook)
    assert events["source"].tolist() == [NPI_A, NPI_A, NPI_B]
    assert events["target"].tolist() == [NPI_B, NPI_B, NPI_C]
    assert events["date"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-01-05 00:00",
        "2024-01-06 10:30",
        "2024-03-01 00:00",
    ]
    assert events.index.tolist() == [2, 3, 5]  # the rows the spreadsheet shows
    report = events.attrs["report"]
    assert report.rows_read == 4
    checks = {i.check: i for i in report.issues}
    assert checks["blank_line"].rows == (4,)
    assert "'Notes'" in checks["sheet"].message  # the other sheet is named
    assert "excel_serial_date" in checks
    assert SECRET not in str(report)


def test_sheet_chosen_by_name_or_position(workbook):
    assert read_table(workbook, sheet="Notes").frame.columns.tolist() == ["note"]
    assert read_table(workbook, sheet=2).frame.columns.tolist() == ["note"]
    assert read_table(workbook, sheet="1").frame.columns[0] == "Referring NPI"
    with pytest.raises(ParameterError, match=r"no sheet named 'Claims'.*'Referrals', 'Notes'"):
        read_table(workbook, sheet="Claims")
    with pytest.raises(ParameterError, match=r"no sheet 3 .*counted from 1"):
        read_table(workbook, sheet=3)


def test_one_sheet_option_serves_a_workbook_of_one_sheet(tmp_path):
    # events in sheet "Referrals" of one workbook, providers in the only sheet of another: one
    # --sheet names the first, and the second is read from its only sheet, with a note
    only = _xlsx(tmp_path / "providers.xlsx", {"Sheet1": [["id", "name"], [int(NPI_A), "Dr A"]]})
    providers = read_providers(only, sheet="Referrals")
    assert providers["id"].tolist() == [NPI_A]
    notes = [i.message for i in providers.attrs["report"].issues if i.check == "sheet"]
    assert notes == [
        "read the workbook's only sheet, 'Sheet1' (sheet 'Referrals' was asked for: it names a "
        "sheet of another workbook, or is misspelt)"
    ]
    assert read_table(only, sheet=1).frame.columns.tolist() == ["id", "name"]


def test_every_reader_takes_a_workbook(tmp_path):
    edges = _xlsx(
        tmp_path / "edges.xlsx",
        {"e": [["from_npi", "to_npi", "patient_count"], [int(NPI_A), int(NPI_B), 25]]},
    )
    providers = _xlsx(
        tmp_path / "providers.xlsx",
        {"p": [["npi", "name", "zip"], [int(NPI_A), "Dr. A", 2134], [int(NPI_B), "Dr. B", 37203]]},
    )
    activities = _xlsx(
        tmp_path / "activities.xlsx",
        {"a": [["date", "provider", "liaison"], [dt.date(2024, 2, 1), int(NPI_A), "Kim"]]},
    )
    table = read_edges(edges)
    assert table[["source", "target", "patients"]].values.tolist() == [[NPI_A, NPI_B, 25]]
    prov = read_providers(providers)
    assert prov["id"].tolist() == [NPI_A, NPI_B]
    assert prov["zip"].tolist() == ["02134", "37203"]  # a ZIP column is fixed-width text
    acts = read_activities(activities)
    assert acts["provider"].tolist() == [NPI_A]
    assert acts["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01"]


def test_ods_and_xls_read_like_xlsx(tmp_path):
    pytest.importorskip("odf", reason="odfpy writes the test .ods file")
    xlwt = pytest.importorskip("xlwt", reason="xlwt writes the test .xls file")
    frame = pd.DataFrame({"source": [int(NPI_A)], "target": [int(NPI_B)], "date": ["2024-01-05"]})
    frame.to_excel(tmp_path / "e.ods", engine="odf", index=False)
    book = xlwt.Workbook()
    sheet = book.add_sheet("e")
    for j, value in enumerate(["source", "target", "date"]):
        sheet.write(0, j, value)
    sheet.write(1, 0, int(NPI_A))
    sheet.write(1, 1, int(NPI_B))
    sheet.write(1, 2, dt.date(2024, 1, 5), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    book.save(str(tmp_path / "e.xls"))
    for name in ("e.ods", "e.xls"):
        events = read_events(tmp_path / name)
        assert events[["source", "target"]].values.tolist() == [[NPI_A, NPI_B]], name
        assert events["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05"], name


def test_workbook_renamed_csv_is_read_as_a_workbook(workbook, tmp_path):
    renamed = tmp_path / "referrals.csv"
    renamed.write_bytes(workbook.read_bytes())
    events = read_events(renamed)
    assert len(events) == 3
    assert "workbook" in [i.check for i in events.attrs["report"].issues]


def test_a_zip_archive_is_refused_clearly(tmp_path, capsys):
    archive = tmp_path / "events.csv"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("events.csv", f"source,target\n{NPI_A},{NPI_B}\n")
    assert run("build", "--events", str(archive), "--out", str(tmp_path / "g.graphml")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "events.csv" in err and "Unzip" in err
    assert "Traceback" not in err


def test_cli_builds_from_a_workbook_and_refuses_the_out_of_core_engine(workbook, tmp_path, capsys):
    out = tmp_path / "g.graphml"
    assert run("build", "--events", str(workbook), "--sheet", "Referrals", "--out", str(out)) == 0
    G = nx.read_graphml(out)
    assert sorted(G.nodes) == sorted([NPI_A, NPI_B, NPI_C])
    capsys.readouterr()
    code = run("build", "--events", str(workbook), "--engine", "files", "--out", str(out))
    err = capsys.readouterr().err
    assert code == 1 and "spreadsheet workbook" in err and "'auto'" in err
    assert engines.resolve(workbook) == "duckdb"


def test_cli_names_a_missing_sheet(workbook, tmp_path, capsys):
    code = run("validate", "--events", str(workbook), "--sheet", "Claims")
    err = capsys.readouterr().err
    assert code == 1 and "referrals.xlsx" in err and "'Referrals', 'Notes'" in err


def test_a_damaged_workbook_is_one_clear_error(tmp_path, capsys):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(InputError, match=r"broken\.xlsx"):
        read_table(broken)
    assert run("validate", "--events", str(broken)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.xlsx" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- mangled ids


def _mangled_csv(tmp_path):
    """One referrer written three ways by a spreadsheet round trip, as the issue saw."""
    path = tmp_path / "mangled.csv"
    path.write_text(
        "source,target,date\n"
        f"{NPI_A},{NPI_B},2024-01-05\n"
        f"{NPI_A}.0,{NPI_B},2024-01-06\n"
        f"{NPI_A[0]}.{NPI_A[1:]}E+09,{NPI_C},2024-01-07\n"
        f"{NPI_B},{NPI_A}.0,2024-01-08\n"
    )
    return path


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "files"])
def test_ids_a_spreadsheet_made_numbers_are_one_provider(tmp_path, engine):
    result = engines.aggregate(_mangled_csv(tmp_path), engine=engine)
    ties = result.ties
    # by hand: A->B twice, A->C once, B->A once; no provider appears twice
    assert set(map(tuple, ties[["source", "target", "referrals"]].values.tolist())) == {
        (NPI_A, NPI_B, 2),
        (NPI_A, NPI_C, 1),
        (NPI_B, NPI_A, 1),
    }
    restored = [i for i in result.report.issues if i.check == "restored_id"]
    assert [(i.column, i.count, i.level) for i in restored] == [
        ("source", 2, "warning"),
        ("target", 1, "warning"),
    ]
    assert f"{NPI_A}.0 -> {NPI_A}" in restored[0].examples


def test_lossy_scientific_ids_are_an_error_naming_rows(tmp_path, capsys):
    path = tmp_path / "lossy.csv"
    path.write_text(f"source,target\n{NPI_A},{NPI_B}\n1.23456789E+09,{NPI_B}\n")
    with pytest.raises(ValidationError) as info:
        read_events(path)
    (issue,) = [i for i in info.value.report.issues if i.check == "lossy_id"]
    assert (issue.column, issue.rows, issue.examples) == ("source", (3,), ("1.23456789E+09",))
    code = run("validate", "--events", str(path))
    err = capsys.readouterr().err
    assert code == 1 and "lossy.csv, column 'source', row 3" in err
    assert "scientific notation" in err and "Traceback" not in err
    with pytest.raises(ValidationError, match="scientific notation"):
        engines.aggregate(path, engine="files")


def test_ids_that_only_look_like_numbers_are_left_alone():
    raw = pd.DataFrame({"source": ["3E8", "12.5", "A1.0"], "target": ["X", "Y", "Z"]})
    events = read_events(raw)
    assert events["source"].tolist() == ["3E8", "12.5", "A1.0"]
    assert "restored_id" not in [i.check for i in events.attrs["report"].issues]


def test_a_cover_sheet_read_first_is_named_in_the_missing_column_error(tmp_path):
    """An export whose first sheet is a cover page: the error names the sheet read and the
    others, and --sheet, rather than only the cover's columns."""
    from referral_graph.exceptions import SchemaError

    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as book:
        cover = pd.DataFrame({"Report": ["Referrals, November"]})
        cover.to_excel(book, sheet_name="About", index=False)
        pd.DataFrame(
            {"Referring Clinician": [NPI_A], "Referred To": [NPI_B], "Date": ["2026-11-02"]}
        ).to_excel(book, sheet_name="Referrals", index=False)
    named = {"source_col": "Referring Clinician", "target_col": "Referred To"}
    for columns in ({}, named):
        with pytest.raises(SchemaError) as caught:
            read_events(path, **columns)
        message = str(caught.value)
        assert "read sheet 'About'; the workbook also has 'Referrals'" in message
        assert "--sheet" in message
    assert len(read_events(path, sheet="Referrals", **named)) == 1
