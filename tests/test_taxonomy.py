"""Tests for referral_graph.taxonomy (NUCC code set reader and labels)."""

from __future__ import annotations

import hashlib
import logging
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral_graph.exceptions import InputError, ParameterError, SchemaError
from referral_graph.taxonomy import (
    LEVELS,
    builtin_taxonomy,
    join_taxonomy,
    read_taxonomy,
    specialty_for,
    unmatched_codes,
)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NUCC_251 = SHARED / "nucc_taxonomy" / "nucc_taxonomy_251.csv"
NUCC_121 = SHARED / "nucc_taxonomy" / "nucc_taxonomy_121_cp1252.csv"

COLUMNS = [
    "taxonomy_code",
    "grouping",
    "classification",
    "specialization",
    "display_name",
    "specialty",
]

CURRENT_CSV = (
    "Code,Grouping,Classification,Specialization,Definition,Notes,Display Name,Section\r\n"
    "207Q00000X,Allopathic & Osteopathic Physicians,Family Medicine,,def,,"
    "Family Medicine Physician,Individual\r\n"
    "207RC0000X,Allopathic & Osteopathic Physicians,Internal Medicine,"
    "Cardiovascular Disease,def,,Cardiovascular Disease Physician,Individual\r\n"
    "282N00000X,Hospitals,General Acute Care Hospital,,def,,"
    " General Acute Care Hospital ,Non-Individual\r\n"
)

LEGACY_CSV = (
    "Code,Type,Classification,Specialization,Definition,Notes\n"
    "207RC0000X,Allopathic & Osteopathic Physicians,Internal Medicine,"
    "Cardiovascular Disease,def,\n"
    "2080P0006X,Allopathic & Osteopathic Physicians,Pediatrics,"
    "Developmental \u2013 Behavioral Pediatrics,It\u2019s a definition,\n"
    "208000000X,Allopathic & Osteopathic Physicians,Pediatrics,,def,\n"
)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.name} not found: ../shared/data absent")
    return path


def _write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- read_taxonomy: small files -------------------------------------------------------------


def test_current_layout_columns_and_labels(tmp_path):
    tax = read_taxonomy(_write(tmp_path, CURRENT_CSV))
    assert list(tax.columns) == [*COLUMNS, "section"]
    assert all(dtype == "string" for dtype in tax.dtypes)
    assert isinstance(tax.index, pd.RangeIndex)
    row = tax.set_index("taxonomy_code").loc["207RC0000X"]
    assert row["grouping"] == "Allopathic & Osteopathic Physicians"
    assert row["classification"] == "Internal Medicine"
    assert row["specialization"] == "Cardiovascular Disease"
    assert row["display_name"] == "Cardiovascular Disease Physician"
    assert row["specialty"] == "Cardiovascular Disease"
    assert row["section"] == "Individual"
    fm = tax.set_index("taxonomy_code").loc["207Q00000X"]
    assert pd.isna(fm["specialization"])
    assert fm["specialty"] == "Family Medicine"
    # stray spaces in Display Name are stripped
    assert tax["display_name"].iloc[2] == "General Acute Care Hospital"


def test_legacy_layout_maps_type_to_grouping_and_builds_display_name(tmp_path):
    tax = read_taxonomy(_write(tmp_path, LEGACY_CSV, encoding="cp1252"))
    assert list(tax.columns) == COLUMNS  # no section in the 2012 layout
    by_code = tax.set_index("taxonomy_code")
    assert (by_code["grouping"] == "Allopathic & Osteopathic Physicians").all()
    assert by_code.loc["207RC0000X", "display_name"] == "Internal Medicine - Cardiovascular Disease"
    assert by_code.loc["208000000X", "display_name"] == "Pediatrics"
    assert by_code.loc["2080P0006X", "specialty"] == "Developmental \u2013 Behavioral Pediatrics"


def test_encoding_auto_logs_fallback_to_cp1252(tmp_path, caplog):
    path = _write(tmp_path, LEGACY_CSV, encoding="cp1252")
    with caplog.at_level(logging.INFO, logger="referral_graph.taxonomy"):
        read_taxonomy(path)
    assert "cp1252" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="referral_graph.taxonomy"):
        read_taxonomy(_write(tmp_path, CURRENT_CSV, name="u.csv"))
    assert "utf-8" in caplog.text


def test_utf8_bom_and_explicit_encoding(tmp_path):
    bom = _write(tmp_path, "\ufeff" + CURRENT_CSV, name="bom.csv")
    assert read_taxonomy(bom)["taxonomy_code"].iloc[0] == "207Q00000X"
    assert read_taxonomy(bom, encoding="utf-8")["taxonomy_code"].iloc[0] == "207Q00000X"
    cp = _write(tmp_path, LEGACY_CSV, encoding="cp1252", name="cp.csv")
    tax = read_taxonomy(cp, encoding="cp1252")
    assert "\u2013" in tax["specialty"].iloc[1]
    with pytest.raises(InputError, match=r"cp\.csv.*'utf-8'"):
        read_taxonomy(cp, encoding="utf-8")


def test_unknown_encoding_is_a_parameter_error(tmp_path):
    path = _write(tmp_path, CURRENT_CSV)
    with pytest.raises(ParameterError, match="'encoding' parameter of read_taxonomy"):
        read_taxonomy(path, encoding="no-such-codec")


def test_headers_match_ignoring_case_and_spaces(tmp_path):
    text = CURRENT_CSV.replace(
        "Code,Grouping,Classification,Specialization,Definition,Notes,Display Name,Section",
        " CODE ,grouping,CLASSIFICATION,specialization ,definition,notes,display_name,SECTION",
    )
    tax = read_taxonomy(_write(tmp_path, text))
    assert list(tax.columns) == [*COLUMNS, "section"]
    assert tax["display_name"].iloc[0] == "Family Medicine Physician"


def test_codes_stripped_and_upper_cased():
    raw = pd.DataFrame({"Code": [" 207rc0000x "], "Classification": ["Internal Medicine"]})
    tax = read_taxonomy(raw)
    assert tax["taxonomy_code"].tolist() == ["207RC0000X"]


def test_dataframe_input_and_no_mutation():
    raw = pd.DataFrame(
        {
            "Code": ["207Q00000X", "207RC0000X"],
            "Type": ["Allopathic & Osteopathic Physicians"] * 2,
            "Classification": ["Family Medicine", "Internal Medicine"],
            "Specialization": [float("nan"), "Cardiovascular Disease"],
        }
    )
    before = raw.copy()
    tax = read_taxonomy(raw)
    pd.testing.assert_frame_equal(raw, before)
    assert tax["specialty"].tolist() == ["Family Medicine", "Cardiovascular Disease"]
    assert tax["grouping"].tolist() == ["Allopathic & Osteopathic Physicians"] * 2
    # a taxonomy table reads back unchanged
    pd.testing.assert_frame_equal(read_taxonomy(tax), tax)


def test_own_specialty_column_is_kept():
    raw = pd.DataFrame(
        {
            "Code": ["207RC0000X", "207Q00000X"],
            "Classification": ["Internal Medicine", "Family Medicine"],
            "Specialization": ["Cardiovascular Disease", None],
            "Specialty": ["Cardiology", ""],
        }
    )
    assert read_taxonomy(raw)["specialty"].tolist() == ["Cardiology", "Family Medicine"]


def test_blank_rows_dropped_and_file_not_modified(tmp_path):
    path = _write(tmp_path, CURRENT_CSV + ",,,,,,,\r\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    tax = read_taxonomy(path)
    assert len(tax) == 3
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_mtime_ns == mtime


# --- read_taxonomy: errors ------------------------------------------------------------------


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError, match=r"nope\.csv") as info:
        read_taxonomy(path)
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize("text", ["", "\r\n  \n", "Code,Classification\r\n"])
def test_empty_file_is_an_input_error(tmp_path, text):
    with pytest.raises(InputError, match=r"empty\.csv"):
        read_taxonomy(_write(tmp_path, text, name="empty.csv"))


def test_missing_columns_name_file_expected_and_found(tmp_path):
    path = _write(tmp_path, "Taxonomy,Type,Specialization\r\n207Q00000X,x,y\r\n", name="bad.csv")
    with pytest.raises(SchemaError) as info:
        read_taxonomy(path)
    message = str(info.value)
    assert "bad.csv" in message
    assert "'Code'" in message and "'Classification'" in message  # expected
    assert "'Taxonomy'" in message and "'Specialization'" in message  # found
    assert isinstance(info.value, ValueError)


def test_missing_classification_only(tmp_path):
    path = _write(tmp_path, "Code,Grouping\r\n207Q00000X,x\r\n", name="noclass.csv")
    with pytest.raises(
        SchemaError, match=r"noclass\.csv.*'Classification'.*Found: 'Code', 'Grouping'"
    ):
        read_taxonomy(path)


def test_duplicate_codes_name_code_and_rows(tmp_path):
    text = (
        "Code,Classification\r\n"
        "207Q00000X,Family Medicine\r\n"
        "207R00000X,Internal Medicine\r\n"
        "207q00000x ,Family Medicine\r\n"
    )
    path = _write(tmp_path, text, name="dups.csv")
    with pytest.raises(SchemaError, match=r"dups\.csv.*'207Q00000X' at data rows 1, 3"):
        read_taxonomy(path)


def test_row_without_code_is_named(tmp_path):
    text = "Code,Classification\r\n207Q00000X,Family Medicine\r\n ,Internal Medicine\r\n"
    with pytest.raises(SchemaError, match=r"without a code: data row\(s\) 2"):
        read_taxonomy(_write(tmp_path, text))


def test_bad_path_type():
    with pytest.raises(ParameterError, match="'path_or_df' parameter of read_taxonomy"):
        read_taxonomy(42)  # type: ignore[arg-type]


# --- specialty_for --------------------------------------------------------------------------


@pytest.fixture
def small_tax() -> pd.DataFrame:
    return read_taxonomy(pd.read_csv(StringIO(CURRENT_CSV), dtype=str))


def test_specialty_for_levels(small_tax):
    codes = pd.Series(
        ["207RC0000X", " 207rc0000x", "282N00000X", "UNKNOWN", None], index=list("abcde")
    )
    out = specialty_for(codes, small_tax)
    assert out.index.tolist() == list("abcde")
    assert out.dtype == "string"
    assert out.name == "specialty"
    assert out.tolist()[:3] == [
        "Cardiovascular Disease",
        "Cardiovascular Disease",
        "General Acute Care Hospital",
    ]
    assert out.iloc[3:].isna().all()
    assert specialty_for(codes, small_tax, level="classification").iloc[0] == "Internal Medicine"
    assert specialty_for(codes, small_tax, level="grouping").iloc[2] == "Hospitals"
    assert (
        specialty_for(codes, small_tax, level="display_name").iloc[0]
        == "Cardiovascular Disease Physician"
    )


@pytest.mark.parametrize("level", LEVELS)
def test_specialty_for_every_level_is_a_taxonomy_column(small_tax, level):
    out = specialty_for(small_tax["taxonomy_code"], small_tax, level=level)
    assert out.name == level
    assert out.tolist() == small_tax[level].tolist()


def test_specialty_for_bad_level(small_tax):
    with pytest.raises(ParameterError) as info:
        specialty_for(pd.Series(["207Q00000X"]), small_tax, level="section")
    assert str(info.value) == (
        "The 'level' parameter of specialty_for must be a str among "
        "{'specialty', 'classification', 'grouping', 'display_name'}. Got 'section' instead."
    )


def test_specialty_for_empty_and_non_string(small_tax):
    assert specialty_for(pd.Series([], dtype=object), small_tax).empty
    assert specialty_for(pd.Series([1.5, None]), small_tax).isna().all()


def test_specialty_for_rejects_non_dataframe_taxonomy():
    with pytest.raises(ParameterError, match="'taxonomy' parameter of specialty_for"):
        specialty_for(pd.Series(["207Q00000X"]), {"207Q00000X": "x"})  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.sampled_from(["207Q00000X", "207rc0000x", " 282N00000X ", "XXX", "", None]),
        max_size=30,
    )
)
def test_specialty_for_is_elementwise(values):
    tax = builtin_taxonomy()
    codes = pd.Series(values, dtype=object)
    whole = specialty_for(codes, tax)
    assert len(whole) == len(codes)
    for i in range(len(codes)):
        one = specialty_for(codes.iloc[i : i + 1], tax).iloc[0]
        assert (pd.isna(one) and pd.isna(whole.iloc[i])) or one == whole.iloc[i]


# --- join_taxonomy / unmatched_codes --------------------------------------------------------


def _providers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["1", "2", "3", "4", "5"],
            "taxonomy_code": ["207Q00000X", "207rc0000x ", "BAD", None, "207RC0000X"],
            "specialty": [None, "Interventional cardiology", "Own label", None, "  "],
        },
        index=[10, 11, 12, 13, 10],  # duplicate labels on purpose
    )


def test_join_keeps_rows_and_existing_specialty(small_tax):
    providers = _providers()
    before = providers.copy()
    out = join_taxonomy(providers, small_tax)
    pd.testing.assert_frame_equal(providers, before)  # input untouched
    assert out.index.tolist() == providers.index.tolist()
    assert out["id"].tolist() == providers["id"].tolist()
    assert out["specialty"].iloc[0] == "Family Medicine"
    assert out["specialty"].iloc[1] == "Interventional cardiology"  # kept, not overwritten
    assert out["specialty"].iloc[2] == "Own label"  # unknown code: kept
    assert pd.isna(out["specialty"].iloc[3])
    assert out["specialty"].iloc[4] == "Cardiovascular Disease"  # blank is filled
    assert out["classification"].tolist()[:2] == ["Family Medicine", "Internal Medicine"]
    assert out["classification"].iloc[2:4].isna().all()
    assert out["grouping"].iloc[0] == "Allopathic & Osteopathic Physicians"


def test_join_adds_columns_and_logs_counts(small_tax, caplog):
    providers = _providers().drop(columns="specialty")
    with caplog.at_level(logging.INFO, logger="referral_graph.taxonomy"):
        out = join_taxonomy(providers, small_tax)
    assert list(out.columns) == ["id", "taxonomy_code", "specialty", "classification", "grouping"]
    assert "3 provider(s) matched, 1 unmatched, 1 without a code" in caplog.text


def test_join_custom_code_col_and_missing_col(small_tax):
    providers = _providers().rename(columns={"taxonomy_code": "nucc"})
    out = join_taxonomy(providers, small_tax, code_col="nucc")
    assert out["classification"].iloc[0] == "Family Medicine"
    with pytest.raises(SchemaError, match=r"'taxonomy_code'.*Found: 'id', 'nucc', 'specialty'"):
        join_taxonomy(providers, small_tax)


def test_join_empty_providers(small_tax):
    providers = pd.DataFrame({"id": pd.Series([], dtype="string"), "taxonomy_code": []})
    out = join_taxonomy(providers, small_tax)
    assert out.empty and "specialty" in out.columns


def test_unmatched_codes(small_tax):
    providers = pd.DataFrame(
        {"taxonomy_code": ["BAD", "bad ", "207Q00000X", None, "", "OTHER"]},
    )
    result = unmatched_codes(providers, small_tax)
    assert list(result.columns) == ["code", "count"]
    assert result["count"].dtype == "int64"
    assert result.values.tolist() == [["BAD", 2], ["OTHER", 1]]
    none = unmatched_codes(providers.iloc[2:3], small_tax)
    assert none.empty and list(none.columns) == ["code", "count"]


# --- builtin_taxonomy -----------------------------------------------------------------------


def test_builtin_taxonomy_shape_and_common_codes():
    tax = builtin_taxonomy()
    assert list(tax.columns) == [*COLUMNS, "section"]
    assert tax["taxonomy_code"].is_unique
    assert 40 <= len(tax) <= 60
    by_code = tax.set_index("taxonomy_code")["specialty"]
    assert by_code["207Q00000X"] == "Family Medicine"
    assert by_code["207R00000X"] == "Internal Medicine"
    assert by_code["208000000X"] == "Pediatrics"
    assert by_code["207RC0000X"] == "Cardiovascular Disease"
    assert by_code["207X00000X"] == "Orthopaedic Surgery"
    assert by_code["282N00000X"] == "General Acute Care Hospital"
    # a fresh copy each time
    tax.loc[0, "specialty"] = "changed"
    assert builtin_taxonomy().loc[0, "specialty"] != "changed"


def test_builtin_agrees_with_nucc_251():
    full = read_taxonomy(_need(NUCC_251)).set_index("taxonomy_code")
    builtin = builtin_taxonomy().set_index("taxonomy_code")
    missing = set(builtin.index) - set(full.index)
    assert not missing, f"built-in codes absent from v25.1: {sorted(missing)}"
    pd.testing.assert_frame_equal(builtin, full.loc[builtin.index])


# --- the real NUCC files --------------------------------------------------------------------


def test_real_251_loads():
    tax = read_taxonomy(_need(NUCC_251))
    assert len(tax) == 883
    assert list(tax.columns) == [*COLUMNS, "section"]
    assert tax["taxonomy_code"].is_unique
    assert tax["taxonomy_code"].str.fullmatch(r"[0-9A-Z]{9}X").all()
    assert set(tax["section"]) == {"Individual", "Non-Individual"}
    by_code = tax.set_index("taxonomy_code")
    assert by_code.loc["207RC0000X", "specialty"] == "Cardiovascular Disease"
    assert by_code.loc["207RC0000X", "classification"] == "Internal Medicine"
    assert by_code.loc["207Q00000X", "display_name"] == "Family Medicine Physician"
    assert by_code.loc["282N00000X", "grouping"] == "Hospitals"
    # the file has leading/trailing spaces in some Display Names
    assert by_code.loc["1744P3200X", "display_name"] == "Prosthetics Case Management"
    assert not tax["display_name"].str.contains(r"^\s|\s$").any()


def test_real_121_cp1252_loads_and_decodes(caplog):
    with caplog.at_level(logging.INFO, logger="referral_graph.taxonomy"):
        tax = read_taxonomy(_need(NUCC_121))
    assert "cp1252" in caplog.text
    assert len(tax) == 828
    assert list(tax.columns) == COLUMNS
    assert tax["taxonomy_code"].is_unique
    by_code = tax.set_index("taxonomy_code")
    # Type -> grouping
    assert by_code.loc["207RC0000X", "grouping"] == "Allopathic & Osteopathic Physicians"
    assert by_code.loc["101Y00000X", "grouping"] == "Behavioral Health & Social Service Providers"
    # byte 0x96 in cp1252 is an en dash (U+2013)
    assert (
        by_code.loc["2080P0006X", "specialization"] == "Developmental \u2013 Behavioral Pediatrics"
    )
    assert by_code.loc["207RC0000X", "display_name"] == "Internal Medicine - Cardiovascular Disease"
    assert by_code.loc["207RC0000X", "specialty"] == "Cardiovascular Disease"
    # no mojibake anywhere
    text = pd.concat([tax[c] for c in COLUMNS]).dropna()
    assert not text.str.contains("\u00e2\u20ac|\ufffd").any()


def test_real_121_fails_as_utf8():
    with pytest.raises(InputError, match=r"nucc_taxonomy_121_cp1252\.csv"):
        read_taxonomy(_need(NUCC_121), encoding="utf-8")


def test_real_version_drift():
    old = read_taxonomy(_need(NUCC_121))
    new = read_taxonomy(_need(NUCC_251))
    providers = pd.DataFrame({"taxonomy_code": ["207RA0001X", "207RC0000X", "246ZS0400X"]})
    # 207RA0001X (Addiction Medicine, Internal Medicine) is newer than v12.1;
    # 246ZS0400X (Surgical Technologist) was retired after it.
    assert unmatched_codes(providers, old)["code"].tolist() == ["207RA0001X"]
    assert unmatched_codes(providers, new)["code"].tolist() == ["246ZS0400X"]


# --- read_taxonomy: the validation report (issue 19) -----------------------------------------


def test_read_taxonomy_has_a_report_with_rows_read_and_excluded(tmp_path):
    # 3 codes, then two empty rows (spreadsheet rows 5 and 6: the header is row 1)
    path = _write(tmp_path, CURRENT_CSV + ",,,,,,,\r\n , ,,,,,,\r\n", name="nucc_taxonomy_251.csv")
    tax = read_taxonomy(path)
    report = tax.attrs["report"]
    assert report.name == str(path)
    assert tax.attrs["name"] == str(path)
    assert report.rows_read == 5
    assert report.rows_excluded == 2
    assert report.excluded_by_reason == {"empty_row": 2}
    empty = next(i for i in report.issues if i.check == "empty_row")
    assert empty.rows == (5, 6)
    assert report.columns == {
        "taxonomy_code": "Code",
        "grouping": "Grouping",
        "classification": "Classification",
        "specialization": "Specialization",
        "display_name": "Display Name",
        "section": "Section",
    }
    assert tax.attrs["version"] == "25.1"
    assert "3 codes" in str(report) and "version 25.1" in str(report)
    assert not report.errors and not report.warnings


def test_read_taxonomy_report_of_the_2012_layout_and_a_dataframe(tmp_path):
    tax = read_taxonomy(_write(tmp_path, LEGACY_CSV, encoding="cp1252", name="codes.csv"))
    report = tax.attrs["report"]
    assert report.rows_read == 3 and report.rows_excluded == 0
    assert report.columns["grouping"] == "Type"
    assert tax.attrs["version"] is None  # the file name does not say
    text = str(report)
    assert "read as cp1252" in text and "2012 layout" in text and "3 codes" in text
    frame = pd.DataFrame(
        {"Code": ["207Q00000X", None], "Classification": ["Family Medicine", None]},
        index=[10, 11],
    )
    from_frame = read_taxonomy(frame).attrs["report"]
    assert from_frame.name == "<DataFrame>" and from_frame.rows_read == 2
    assert [i.rows for i in from_frame.issues if i.excluded] == [(11,)]


@pytest.mark.parametrize(
    ("name", "version"),
    [("nucc_taxonomy_121.csv", "12.1"), ("nucc_taxonomy_251.csv", "25.1"), ("codes.csv", None)],
)
def test_version_from_the_published_file_name(tmp_path, name, version):
    assert read_taxonomy(_write(tmp_path, LEGACY_CSV, name=name)).attrs["version"] == version


def test_real_nucc_files_have_reports():
    old = read_taxonomy(_need(NUCC_121)).attrs
    new = read_taxonomy(_need(NUCC_251)).attrs
    # sizes from the data README: 12.1 has 828 codes, 25.1 has 883
    assert (old["version"], old["report"].rows_read) == ("12.1", 828)
    assert (new["version"], new["report"].rows_read) == ("25.1", 883)
    assert old["report"].rows_excluded == new["report"].rows_excluded == 0


# --- an old NUCC file: the unmatched-codes warning names the code set loaded (issue 19) -------


def _providers_with_a_newer_code() -> pd.DataFrame:
    # 106E00000X (Assistant Behavior Analyst) is in NUCC 25.1, not in the 2012 releases
    return pd.DataFrame(
        {"npi": ["1234567893", "1003033051"], "primary_taxonomy_code": ["207RC0000X", "106E00000X"]}
    )


def test_unmatched_codes_warning_names_the_old_file_loaded(tmp_path):
    from referral_graph.io import read_providers

    path = _write(tmp_path, LEGACY_CSV, encoding="cp1252", name="nucc_taxonomy_121.csv")
    report = read_providers(_providers_with_a_newer_code(), taxonomy=path).attrs["report"]
    (issue,) = [i for i in report.issues if i.check == "unknown_taxonomy"]
    assert issue.level == "warning" and issue.count == 1 and issue.examples == ("106E00000X",)
    assert issue.message == (
        f"1 taxonomy code(s) are not in the NUCC code set loaded from '{path}' "
        "(version 12.1, 3 codes)"
    )
    assert "after version 12.1 need a newer NUCC file" in issue.hint
    assert f"in place of '{path}'" in issue.hint
    assert "full NUCC code set" not in issue.hint


def test_unmatched_codes_warning_without_a_version_in_the_name(tmp_path):
    from referral_graph.io import read_providers

    path = _write(tmp_path, LEGACY_CSV, name="codes.csv")
    report = read_providers(_providers_with_a_newer_code(), taxonomy=path).attrs["report"]
    (issue,) = [i for i in report.issues if i.check == "unknown_taxonomy"]
    assert issue.message.endswith(f"loaded from '{path}' (3 codes)")
    assert "after that file was published need a newer NUCC file" in issue.hint


def test_unmatched_codes_with_the_builtin_subset_still_ask_for_the_code_set():
    from referral_graph.io import read_providers

    report = read_providers(_providers_with_a_newer_code()).attrs["report"]
    (issue,) = [i for i in report.issues if i.check == "unknown_taxonomy"]
    assert issue.level == "info"
    assert "built-in subset of" in issue.message
    assert "--taxonomy" in issue.hint


def test_real_2012_file_names_itself_and_the_newer_code_matches_25_1():
    from referral_graph.io import read_providers

    old = read_providers(_providers_with_a_newer_code(), taxonomy=_need(NUCC_121))
    (issue,) = [i for i in old.attrs["report"].issues if i.check == "unknown_taxonomy"]
    assert issue.examples == ("106E00000X",)
    assert "(version 12.1, 828 codes)" in issue.message and str(NUCC_121) in issue.message
    new = read_providers(_providers_with_a_newer_code(), taxonomy=_need(NUCC_251))
    assert not [i for i in new.attrs["report"].issues if i.check == "unknown_taxonomy"]
    assert new["specialty"].tolist() == ["Cardiovascular Disease", "Assistant Behavior Analyst"]
