"""Tests for referral_graph.validate and the checks the readers run.

Every bad-input case asserts that the report (or the error) names the file,
the column and the exact rows (spreadsheet rows for CSV: the header is row 1).
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import BAD_NPI, NPI_A, NPI_B, NPI_C, NPI_D

from referral_graph.exceptions import InputError, SchemaError, ValidationError
from referral_graph.io import read_edges, read_events, read_providers, read_table
from referral_graph.npi import looks_like_npi_column
from referral_graph.validate import (
    Issue,
    ValidationReport,
    check_ids,
    check_missing_providers,
    parse_dates,
    parse_numbers,
)

HEADER = "referring_npi,receiving_npi,referral_date,patient_id,amount\n"


def _issue(table: pd.DataFrame, check: str) -> Issue:
    matches = [i for i in table.attrs["report"].issues if i.check == check]
    assert len(matches) == 1, table.attrs["report"]
    return matches[0]


def _names_file_column_rows(issue: Issue, path, column: str, rows: tuple[int, ...]) -> None:
    assert issue.name == str(path)
    assert issue.column == column
    assert issue.rows == rows
    text = str(issue)
    assert str(path) in text
    assert repr(column) in text
    for row in rows:
        assert str(row) in text


# ----------------------------------------------------------------------------- schema


def test_missing_required_columns_lists_expected_and_found(write_file):
    path = write_file("events.csv", "from_doc,to_doc,date\nA,B,2024-01-01\n")
    with pytest.raises(SchemaError) as err:
        read_events(path)
    message = str(err.value)
    assert str(path) in message
    assert "'source' (any of: source, referring_npi, from_npi, npi_from" in message
    assert "'target' (any of: target, receiving_npi, to_npi, npi_to" in message
    assert "--source-col" in message
    assert "Columns found: from_doc, to_doc, date" in message


def test_missing_weight_column_of_a_layout(write_file):
    path = write_file("cms.csv", "npi_from,npi_to,bene_count\nA,B,12\n")
    with pytest.raises(SchemaError, match=r"'weight' \(any of: pair_count"):
        read_edges(path, layout="cms-pspp")


def test_missing_provider_id_column(write_file):
    path = write_file("providers.csv", "name,city\nx,y\n")
    with pytest.raises(SchemaError, match=r"providers\.csv: required column.*'id'"):
        read_providers(path)


# ----------------------------------------------------------------------------- rows


def test_unparsable_and_missing_dates(write_file):
    path = write_file(
        "e.csv",
        HEADER
        + f"{NPI_A},{NPI_B},2024-01-05,p1,\n"
        + f"{NPI_A},{NPI_B},yesterday,p2,\n"
        + f"{NPI_A},{NPI_B},,p3,\n"
        + f"{NPI_A},{NPI_B},2024-13-45,p4,\n",
    )
    events = read_events(path)
    assert events.index.tolist() == [2]
    unparsable = _issue(events, "unparsable_date")
    _names_file_column_rows(unparsable, path, "referral_date", (3, 5))
    assert unparsable.examples == ("yesterday", "2024-13-45")
    assert unparsable.excluded
    _names_file_column_rows(_issue(events, "missing_date"), path, "referral_date", (4,))


def test_negative_and_non_numeric_counts_are_excluded(write_file):
    path = write_file("w.csv", "source,target,weight\nA,B,3\nA,C,-2\nB,C,lots\nC,D,1.5\nD,E,\n")
    edges = read_edges(path)
    assert edges.index.tolist() == [2]
    _names_file_column_rows(_issue(edges, "negative"), path, "weight", (3,))
    _names_file_column_rows(_issue(edges, "non_numeric"), path, "weight", (4,))
    _names_file_column_rows(_issue(edges, "fractional"), path, "weight", (5,))
    _names_file_column_rows(_issue(edges, "missing_count"), path, "weight", (6,))
    report = edges.attrs["report"]
    assert report.excluded_by_reason == {
        "non_numeric": 1,
        "negative": 1,
        "fractional": 1,
        "missing_count": 1,
    }


def test_bad_amounts_are_kept_as_missing(write_file):
    path = write_file("e.csv", HEADER + f"{NPI_A},{NPI_B},2024-01-05,p1,-3\n")
    events = read_events(path)
    assert len(events) == 1 and pd.isna(events["amount"].iloc[0])
    issue = _issue(events, "negative")
    _names_file_column_rows(issue, path, "amount", (2,))
    assert not issue.excluded
    assert "treated as missing" in str(issue)


def test_invalid_npis(write_file):
    path = write_file("e.csv", f"from_npi,to_npi\n{NPI_A},{NPI_B}\n{NPI_A},{BAD_NPI}\n")
    declared = read_events(path, npi=True)
    assert declared.index.tolist() == [2]
    issue = _issue(declared, "invalid_npi")
    _names_file_column_rows(issue, path, "to_npi", (3,))
    assert issue.excluded and issue.examples == (BAD_NPI,)
    assert "Luhn" in str(issue)
    auto = read_events(path)
    assert auto.index.tolist() == [2, 3]
    assert not _issue(auto, "invalid_npi").excluded


def test_self_referrals(write_file):
    path = write_file("e.csv", f"from_npi,to_npi\n{NPI_A},{NPI_B}\n{NPI_C},{NPI_C}\n")
    events = read_events(path)
    assert events.index.tolist() == [2]
    issue = _issue(events, "self_referral")
    _names_file_column_rows(issue, path, "from_npi", (3,))
    assert issue.examples == (NPI_C,) and issue.excluded
    edges = read_edges(path)
    _names_file_column_rows(_issue(edges, "self_referral"), path, "from_npi", (3,))


def test_exact_duplicate_event_rows(write_file):
    row = f"{NPI_A},{NPI_B},2024-01-05,p1,10\n"
    path = write_file("e.csv", HEADER + row + f"{NPI_A},{NPI_B},2024-01-05,p2,10\n" + row)
    events = read_events(path)
    assert events.index.tolist() == [2, 3]
    issue = _issue(events, "duplicate_row")
    assert issue.name == str(path) and issue.rows == (4,) and issue.excluded
    assert "referring_npi" in issue.column and "patient_id" in issue.column
    assert "row 4" in str(issue)


def test_identical_rows_without_patient_ids_are_kept(write_file):
    path = write_file("e.csv", "source,target,date\nA,B,2024-01-05\nA,B,2024-01-05\n")
    events = read_events(path)
    assert len(events) == 2
    assert _issue(events, "identical_rows").level == "info"


def test_exact_duplicate_edge_rows(write_file):
    path = write_file("w.csv", "source,target,weight\nA,B,3\nB,C,1\nA,B,3\n")
    edges = read_edges(path)
    assert edges.index.tolist() == [2, 3]
    issue = _issue(edges, "duplicate_row")
    assert (issue.name, issue.rows, issue.column) == (str(path), (4,), "source, target, weight")


def test_ids_missing_from_providers_are_reported_and_kept(write_file):
    providers = read_providers(pd.DataFrame({"npi": [NPI_A, NPI_B]}))
    path = write_file(
        "e.csv", f"from_npi,to_npi\n{NPI_A},{NPI_B}\n{NPI_A},{NPI_C}\n{NPI_D},{NPI_B}\n"
    )
    events = read_events(path, providers=providers)
    assert events.index.tolist() == [2, 3, 4]
    issues = [i for i in events.attrs["report"].issues if i.check == "unknown_provider"]
    assert [(i.column, i.rows, i.examples, i.excluded) for i in issues] == [
        ("from_npi", (4,), (NPI_D,), False),
        ("to_npi", (3,), (NPI_C,), False),
    ]
    assert str(path) in str(issues[0])
    edges = read_edges(path, providers=providers)
    assert [i.rows for i in edges.attrs["report"].issues if i.check == "unknown_provider"] == [
        (4,),
        (3,),
    ]


def test_missing_ids(write_file):
    path = write_file("e.csv", "source,target\nA,B\n,B\nA,  \n")
    events = read_events(path)
    assert events.index.tolist() == [2]
    issues = [i for i in events.attrs["report"].issues if i.check == "missing_id"]
    assert [(i.column, i.rows) for i in issues] == [("source", (3,)), ("target", (4,))]


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_file(write_file, content):
    path = write_file("empty.csv", content)
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        read_events(path)


def test_header_only_file(write_file):
    path = write_file("header.csv", "source,target,date\n")
    with pytest.raises(InputError, match=r"header\.csv: the file has a header but no data rows"):
        read_events(path)


def test_empty_parquet(tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"source": pd.Series([], dtype="str"), "target": []}).to_parquet(path)
    with pytest.raises(InputError, match=r"empty\.parquet: the file has no rows"):
        read_events(path)


@pytest.mark.parametrize(("delimiter", "shown"), [(";", "';'"), ("\t", "'\\t'"), ("|", "'|'")])
def test_other_delimiters_are_detected_and_noted(write_file, delimiter, shown):
    body = f"source{delimiter}target{delimiter}date\nA{delimiter}B{delimiter}2024-01-01\n"
    events = read_events(write_file("d.csv", body))
    assert events[["source", "target"]].iloc[0].tolist() == ["A", "B"]
    issue = _issue(events, "delimiter")
    assert issue.level == "info" and shown in issue.message


def test_explicit_wrong_delimiter_gives_a_delimiter_hint(write_file):
    semicolons = write_file("semi.csv", "source;target\nA;B\n")
    with pytest.raises(SchemaError) as err:
        read_events(semicolons, delimiter=",")
    assert "semi.csv" in str(err.value)
    assert "Columns found: source;target" in str(err.value)
    assert "check the delimiter (pass delimiter=';'" in str(err.value)
    commas = write_file("comma.csv", "source,target\nA,B\n")
    with pytest.raises(SchemaError, match=r"read with delimiter=';'.*pass delimiter=','"):
        read_events(commas, delimiter=";")


def test_cp1252_file_is_decoded_with_a_warning_naming_line_and_column(write_file):
    body = "source,target,service_line\nA,B,cardio\nC,D,Caf\xe9 \u2013 clinic\n"
    path = write_file("cp.csv", body, encoding="cp1252")
    events = read_events(path, service_line_col="service_line")
    assert events["service_line"].tolist() == ["cardio", "Caf\xe9 \u2013 clinic"]
    issue = _issue(events, "encoding")
    assert issue.level == "warning"
    _names_file_column_rows(issue, path, "service_line", (3,))
    assert "cp1252" in str(issue)
    with pytest.raises(ValidationError, match="cp1252"):
        read_events(path, strict=True)
    # asked for explicitly: no warning
    chosen = read_events(path, encoding="cp1252")
    assert chosen.attrs["report"].issues == []


def test_cp1252_beyond_the_first_block_is_found(write_file):
    """Bytes that are not UTF-8 after the 64 KiB sample: the pyarrow fallback path."""
    lines = [f"A{i},B{i},x\n" for i in range(6000)]
    body = "source,target,note\n" + "".join(lines) + "C,D,na\xefve\n"
    path = write_file("late.csv", body, encoding="cp1252")
    events = read_events(path)
    assert len(events) == 6001
    issue = _issue(events, "encoding")
    assert issue.rows == (6002,) and issue.column == "note"


def test_bom_is_stripped_and_first_column_clean(write_file):
    path = write_file("bom.csv", "\ufeffsource,target\n007,A\n")
    assert read_table(path).frame.columns.tolist() == ["source", "target"]
    events = read_events(path)
    assert events["source"].tolist() == ["007"]
    assert _issue(events, "bom").level == "info"
    providers = read_providers(write_file("pbom.csv", "\ufeffnpi,name\n007,x\n"))
    assert providers.columns[0] == "id" and providers["id"].tolist() == ["007"]


def test_lines_with_the_wrong_number_of_fields(write_file):
    body = (
        "source,target,date\n"  # row 1
        "A,B,2024-01-01\n"  # row 2
        "A,B,2024-01-02,extra\n"  # row 3: too many
        "C,D,2024-01-03\n"  # row 4
        "C,D\n"  # row 5: too few
        '"E, Jr.",F,2024-01-04\n'  # row 6: quoted delimiter is fine
        "G,H,2024-01-05\n"  # row 7
    )
    path = write_file("f.csv", body)
    events = read_events(path)
    assert events.index.tolist() == [2, 4, 6, 7]
    assert events["source"].tolist() == ["A", "C", "E, Jr.", "G"]
    issue = _issue(events, "wrong_field_count")
    assert (issue.name, issue.rows, issue.count, issue.excluded) == (str(path), (3, 5), 2, True)
    assert issue.examples == ("2 fields", "4 fields")  # counts, never the line's text
    assert "does not have 3 fields (source, target, date)" in str(issue)
    assert "2024-01-02" not in str(issue)


def test_row_numbers_for_csv_parquet_and_dataframe(tmp_path, write_file):
    frame = pd.DataFrame({"source": ["A", "B", "C"], "target": ["B", "B", "D"]})
    csv_events = read_events(write_file("r.csv", "source,target\nA,B\nB,B\nC,D\n"))
    assert _issue(csv_events, "self_referral").rows == (3,)
    frame.to_parquet(tmp_path / "r.parquet")
    assert _issue(read_events(tmp_path / "r.parquet"), "self_referral").rows == (2,)
    labelled = frame.set_axis(["x", "y", "z"])
    issue = _issue(read_events(labelled), "self_referral")
    assert issue.rows == ("y",) and issue.name == "<DataFrame>"
    assert "index y" in str(issue)


def test_every_row_is_kept_or_excluded_with_a_reason(write_file):
    body = (
        HEADER
        + f"{NPI_A},{NPI_B},2024-01-05,p1,10\n"  # 2 kept
        + f",{NPI_B},2024-01-05,p2,10\n"  # 3 missing_id
        + f"{BAD_NPI},{NPI_B},2024-01-05,p3,10\n"  # 4 invalid_npi (declared)
        + f"{NPI_C},{NPI_C},2024-01-05,p4,10\n"  # 5 self_referral
        + f"{NPI_A},{NPI_B},05-01-2024x,p5,10\n"  # 6 unparsable_date
        + f"{NPI_A},{NPI_B},,p6,10\n"  # 7 missing_date
        + f"{NPI_A},{NPI_B},2024-01-05,p1,10\n"  # 8 duplicate_row
        + f"{NPI_A},{NPI_B},2024-01-05\n"  # 9 wrong_field_count
        + "\n"  # 10 blank_line
        + f"{NPI_D},{NPI_B},2024-02-05,p7,\n"  # 11 kept
        + f"{NPI_D},{NPI_A},2024-02-06,p8,abc\n"  # 12 kept, amount missing
    )
    path = write_file("all.csv", body)
    events = read_events(path, npi=True)
    report = events.attrs["report"]
    assert events.index.tolist() == [2, 11, 12]
    assert report.rows_read == 11
    assert report.excluded_by_reason == {
        "wrong_field_count": 1,
        "blank_line": 1,
        "missing_id": 1,
        "invalid_npi": 1,
        "self_referral": 1,
        "unparsable_date": 1,
        "missing_date": 1,
        "duplicate_row": 1,
    }
    assert len(events) + report.rows_excluded == report.rows_read
    rows = {i.check: i.rows for i in report.issues if i.excluded}
    assert rows == {
        "wrong_field_count": (9,),
        "blank_line": (10,),
        "missing_id": (3,),
        "invalid_npi": (4,),
        "self_referral": (5,),
        "unparsable_date": (6,),
        "missing_date": (7,),
        "duplicate_row": (8,),
    }
    kept = [i for i in report.issues if not i.excluded and i.level == "warning"]
    assert [(i.check, i.rows) for i in kept] == [("non_numeric", (12,))]


def test_strict_turns_warnings_into_a_validation_error(write_file):
    path = write_file("e.csv", "source,target\nA,B\nC,C\n")
    assert len(read_events(path)) == 1
    with pytest.raises(ValidationError) as err:
        read_events(path, strict=True)
    assert err.value.report is not None
    assert "e.csv, column 'source', row 3" in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(ValidationError):
        read_edges(path, strict=True)
    clean = write_file("ok.csv", "source,target\nA,B\n")
    assert len(read_events(clean, strict=True)) == 1  # info notes never raise


# ----------------------------------------------------------------------------- units


def test_parse_dates_formats_and_ambiguity():
    report = ValidationReport(name="x.csv")
    dates, bad = parse_dates(pd.Series(["31/01/2024", "15/02/2024"]), report=report, column="d")
    assert dates.dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-15"]
    assert not bad.any()
    assert [i.check for i in report.issues] == ["date_format"]


def test_parse_dates_ambiguous_column_is_an_error_naming_the_flag():
    """A column with no day above 12 reads both ways: the user decides (issue 15)."""
    report = ValidationReport(name="x.csv")
    with pytest.raises(SchemaError) as info:
        parse_dates(pd.Series(["01/02/2024", "03/04/2024"]), report=report, column="d")
    message = str(info.value)
    assert "x.csv, column 'd'" in message and "'01/02/2024'" in message
    assert "--date-format" in message and "%d/%m/%Y" in message
    # the flag decides
    dates, bad = parse_dates(
        pd.Series(["01/02/2024", "03/04/2024"]), date_format="%d/%m/%Y", report=report, column="d"
    )
    assert dates.dt.month.tolist() == [2, 4] and not bad.any()


def test_parse_dates_reads_spreadsheet_serial_days():
    """Excel / LibreOffice serial dates (days since 1899-12-30), alone or mixed with ISO."""
    report = ValidationReport(name="x.csv")
    # 45292 is 2024-01-01 in Excel (hand-checked: =DATE(2024,1,1) shows 45292)
    dates, bad = parse_dates(pd.Series(["45292", "2024-01-05", "45351"]), report=report, column="d")
    assert dates.dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-05", "2024-02-29"]
    assert not bad.any()
    assert [i.check for i in report.issues] == ["excel_serial_date"]
    # numbers that are not plausible dates are not read as dates
    report = ValidationReport(name="x.csv")
    _, bad = parse_dates(pd.Series(["12345", "2024-01-05"]), report=report, column="d")
    assert bad.tolist() == [True, False]


def test_parse_dates_with_explicit_format():
    report = ValidationReport(name="x.csv")
    dates, bad = parse_dates(
        pd.Series(["05.01.2024", "bad"], index=[2, 3]),
        date_format="%d.%m.%Y",
        report=report,
        column="d",
    )
    assert dates.iloc[0] == pd.Timestamp("2024-01-05")
    assert bad.tolist() == [False, True]
    assert report.issues[0].rows == (3,)


def test_parse_numbers_infinity_is_not_a_number():
    report = ValidationReport(name="x.csv")
    numbers, bad = parse_numbers(pd.Series(["1", "inf", "-inf"]), report=report, column="n")
    assert bad.tolist() == [False, True, True]
    assert [i.check for i in report.issues] == ["non_numeric"]
    assert numbers.isna().tolist() == [False, True, True]


def test_parse_numbers_numeric_input_and_keep_mode():
    report = ValidationReport(name="x.csv")
    numbers, bad = parse_numbers(
        pd.Series([1.0, -2.0, 2.5]), report=report, column="a", exclude=False, integer=False
    )
    assert bad.tolist() == [False, True, False]
    assert numbers.isna().tolist() == [False, True, False]
    assert not report.issues[0].excluded


def test_check_ids_modes():
    ids = pd.Series([NPI_A, "", BAD_NPI, "2A0000030", "010000024"])
    report = ValidationReport(name="x.csv")
    assert check_ids(ids, report=report, column="c", npi=False).tolist() == [
        False,
        True,
        False,
        False,
        False,
    ]
    report = ValidationReport(name="x.csv")
    declared = check_ids(ids, report=report, column="c", npi=True)
    assert declared.tolist() == [False, True, True, True, True]
    assert looks_like_npi_column(pd.Series([NPI_A, NPI_B, NPI_C]))
    assert not looks_like_npi_column(pd.Series(["A", "B"]))


def test_check_missing_providers_unit():
    report = ValidationReport(name="x.csv")
    table = pd.DataFrame({"source": ["a", "b"], "target": ["c", "c"]}, index=[2, 3])
    check_missing_providers(table, pd.DataFrame({"id": ["a", "b", "c"]}), report=report, columns={})
    assert report.issues == []


def test_issue_text_for_dataframe_index_and_many_rows():
    report = ValidationReport(name="<DataFrame>", row_label="index")
    issue = report.add("x", "bad", column="c", rows=list(range(15)), excluded=True)
    text = str(issue)
    assert text.startswith("<DataFrame>, column 'c', indexes 0, 1, 2")
    assert "(+5 more)" in text and "15 rows excluded" in text
    assert report.rows_excluded == 15
    frame = report.to_frame()
    assert frame.loc[0, "rows"] == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    assert "Validation of <DataFrame>: 0 rows read, 15 excluded" in str(report)


def test_report_levels_and_raise():
    report = ValidationReport(name="x.csv")
    report.add("note", "fyi", level="info")
    report.raise_if_needed(strict=True)  # notes never raise
    report.add("boom", "broken", level="error")
    assert [i.check for i in report.errors] == ["boom"]
    with pytest.raises(ValidationError, match="1 errors"):
        report.raise_if_needed()
