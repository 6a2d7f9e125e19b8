"""Tests for referral_graph.io: readers (events, edges, providers), aliases, ids, privacy."""

from __future__ import annotations

import gzip
import logging

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import BAD_NPI, NPI_A, NPI_B, NPI_C, NPI_D, SECRET, sha256
from pandas.testing import assert_frame_equal

from referral_graph.aggregate import edge_panel, tie_table
from referral_graph.exceptions import (
    InputError,
    InsufficientDataError,
    ParameterError,
    SchemaError,
)
from referral_graph.graph import graph_from_tables, save_graph
from referral_graph.io import (
    EVENT_ALIASES,
    atomic_path,
    read_activities,
    read_edges,
    read_events,
    read_providers,
    read_table,
    write_table,
)
from referral_graph.privacy import suppress_counts

EVENTS_CSV = (
    "referring_npi,receiving_npi,referral_date,patient_id,amount\n"
    f"{NPI_A},{NPI_B},2024-01-05,P1,100.5\n"
    f"{NPI_A},{NPI_B},2024-01-20,P2,50\n"
    f"{NPI_B},{NPI_C},2024-02-01,P1,\n"
)


def _canonical(events: pd.DataFrame) -> pd.DataFrame:
    return events.reset_index(drop=True)


# ----------------------------------------------------------------------------- formats


def test_csv_events_have_canonical_columns_and_types(write_file):
    events = read_events(write_file("e.csv", EVENTS_CSV))
    assert events.columns.tolist() == ["source", "target", "date", "patient_key", "amount"]
    assert events.index.tolist() == [2, 3, 4]  # spreadsheet rows: the header is row 1
    assert pd.api.types.is_string_dtype(events["source"])
    assert events["date"].dtype == "datetime64[ns]"
    assert events["patient_key"].dtype == "int64"
    assert events["patient_key"].tolist() == [0, 1, 0]
    assert events["amount"].tolist()[:2] == [100.5, 50.0]
    assert pd.isna(events["amount"].iloc[2])
    assert events.attrs["report"].rows_read == 3
    assert events.attrs["report"].rows_excluded == 0


def test_csv_parquet_dataframe_and_gzip_give_the_same_events(tmp_path, write_file):
    csv_path = write_file("e.csv", EVENTS_CSV)
    raw = pd.read_csv(csv_path, dtype=str)
    parquet_path = tmp_path / "e.parquet"
    raw.to_parquet(parquet_path, index=False)
    gz_path = tmp_path / "e.csv.gz"
    with gzip.open(gz_path, "wt", encoding="utf-8") as f:
        f.write(EVENTS_CSV)
    from_csv = read_events(csv_path)
    from_gz = read_events(gz_path)
    from_parquet = read_events(parquet_path)
    from_frame = read_events(raw)
    assert_frame_equal(from_csv, from_gz)
    assert from_parquet.index.tolist() == [1, 2, 3]  # Parquet: 1-based data rows
    assert from_frame.index.tolist() == [0, 1, 2]  # DataFrame: its own index labels
    for other in (from_parquet, from_frame):
        assert_frame_equal(_canonical(from_csv), _canonical(other))


def test_dataframe_input_is_not_modified():
    raw = pd.DataFrame(
        {
            "from": ["A", "A", "B"],
            "to": ["B", "A", "C"],
            "patient": ["p1", "p2", "p1"],
            "when": ["2024-01-02", "2024-01-03", "bad"],
        }
    )
    before = raw.copy()
    read_events(raw, source_col="from", target_col="to", date_col="when", patient_col="patient")
    read_edges(raw.drop(columns=["patient", "when"]), source_col="from", target_col="to")
    assert_frame_equal(raw, before)


def test_read_table_reports_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="folder"):
        read_table(tmp_path)


def test_read_table_header_less_with_names(write_file):
    path = write_file("n.csv", "1,2\n3,4\n")
    raw = read_table(path, names=["a", "b"])
    assert raw.frame.columns.tolist() == ["a", "b"]
    assert raw.frame.index.tolist() == [1, 2]  # no header: the first line is row 1
    assert raw.frame["a"].tolist() == ["1", "3"]  # text, not numbers
    with pytest.raises(SchemaError, match="2 columns"):
        read_table(path, names=["a", "b", "c"])
    with pytest.raises(ParameterError, match="one character"):
        read_table(path, delimiter=";;")


def test_duplicate_header_names_raise(write_file):
    with pytest.raises(SchemaError, match=r"duplicate column names.*source"):
        read_events(write_file("d.csv", "source,target,source\nA,B,C\n"))


# ----------------------------------------------------------------------------- columns


def test_columns_mapped_with_keyword_arguments(write_file):
    path = write_file(
        "m.csv",
        "Von,Nach,Wann,Wer,Betrag,Linie,Kasse\nA,B,2024-03-01,x,12.5,cardio,AOK\n",
    )
    events = read_events(
        path,
        source_col="Von",
        target_col="Nach",
        date_col="Wann",
        patient_col="Wer",
        amount_col="Betrag",
        service_line_col="Linie",
        payer_col="Kasse",
    )
    assert events.columns.tolist() == [
        "source",
        "target",
        "date",
        "patient_key",
        "amount",
        "service_line",
        "payer",
    ]
    assert events.iloc[0][["source", "target", "service_line", "payer"]].tolist() == [
        "A",
        "B",
        "cardio",
        "AOK",
    ]


def test_explicit_column_that_does_not_exist_raises(write_file):
    path = write_file("m.csv", "a,b\nX,Y\n")
    with pytest.raises(SchemaError, match=r"m\.csv: column 'from'.*Columns found: a, b"):
        read_events(path, source_col="from", target_col="b")


@pytest.mark.parametrize("source", ["referring_npi", "from_npi", "npi_from", "source"])
@pytest.mark.parametrize("target", ["receiving_npi", "to_npi", "npi_to", "target"])
def test_id_aliases_recognised_without_mapping(source, target):
    events = read_events(pd.DataFrame({source: ["A"], target: ["B"]}))
    assert events[["source", "target"]].iloc[0].tolist() == ["A", "B"]


@pytest.mark.parametrize("date", ["referral_date", "service_date", "date"])
@pytest.mark.parametrize("patient", ["patient_id", "member_id"])
def test_date_and_patient_aliases_recognised(date, patient):
    events = read_events(
        pd.DataFrame({"source": ["A"], "target": ["B"], date: ["2024-05-06"], patient: ["p"]})
    )
    assert events.columns.tolist() == ["source", "target", "date", "patient_key"]
    assert events["date"].iloc[0] == pd.Timestamp("2024-05-06")


def test_aliases_ignore_case_spaces_and_hyphens(write_file):
    path = write_file("c.csv", "Referring NPI,Receiving-NPI,Service Date\nA,B,2024-01-01\n")
    events = read_events(path)
    assert events[["source", "target"]].iloc[0].tolist() == ["A", "B"]
    assert "date" in events


def test_alias_table_lists_the_documented_names():
    assert {"referring_npi", "from_npi", "npi_from", "source"} <= set(EVENT_ALIASES["source"])
    assert {"receiving_npi", "to_npi", "npi_to", "target"} <= set(EVENT_ALIASES["target"])
    assert {"referral_date", "service_date", "date"} <= set(EVENT_ALIASES["date"])
    assert {"patient_id", "member_id"} <= set(EVENT_ALIASES["patient_id"])


def test_header_with_spaces_keeps_ids_as_text(write_file):
    """Regression: a header like ' target ' used to let pyarrow guess numbers (008 -> 8)."""
    path = write_file("s.csv", "source , target ,amount\n007,008,1\n")
    events = read_events(path)
    assert events[["source", "target"]].iloc[0].tolist() == ["007", "008"]


def test_events_without_dates_give_a_tie_table_but_no_panel():
    events = read_events(pd.DataFrame({"source": ["A", "A", "B"], "target": ["B", "B", "C"]}))
    assert "date" not in events
    ties = tie_table(events)
    assert ties.to_dict("records") == [
        {"source": "A", "target": "B", "referrals": 2},
        {"source": "B", "target": "C", "referrals": 1},
    ]
    with pytest.raises(InsufficientDataError, match="no dates"):
        edge_panel(events)


# ----------------------------------------------------------------------------- ids


def test_ids_are_strings_leading_zeros_letters_and_scripts(tmp_path, write_file):
    ids = ["010000024", "2A0000030", "Иванов-Клиника", "北京协和医院", "007"]
    body = "source,target\n" + "".join(
        f"{a},{b}\n" for a, b in zip(ids, ids[1:] + ids[:1], strict=True)
    )
    csv_events = read_events(write_file("i.csv", body))
    assert csv_events["source"].tolist() == ids
    assert csv_events["target"].tolist() == ids[1:] + ids[:1]
    frame = pd.DataFrame({"source": ids, "target": ids[1:] + ids[:1]})
    frame.to_parquet(tmp_path / "i.parquet")
    assert read_events(tmp_path / "i.parquet")["source"].tolist() == ids
    assert read_edges(frame)["source"].tolist() == ids


def test_numeric_ids_from_dataframes_become_their_digits():
    events = read_events(pd.DataFrame({"source": [1234567893, 12], "target": [5.0, 7.0]}))
    assert events["source"].tolist() == ["1234567893", "12"]
    assert events["target"].tolist() == ["5", "7"]


def test_npi_declared_invalid_ids_are_excluded(write_file):
    path = write_file("n.csv", f"source,target\n{NPI_A},{NPI_B}\n{BAD_NPI},{NPI_B}\nX1,{NPI_B}\n")
    events = read_events(path, npi=True)
    assert events.index.tolist() == [2]
    (issue,) = events.attrs["report"].issues
    assert (issue.check, issue.excluded, issue.rows, issue.column) == (
        "invalid_npi",
        True,
        (3, 4),
        "source",
    )


def test_npi_auto_reports_npi_shaped_ids_and_keeps_them(write_file):
    path = write_file("n.csv", f"source,target\n{NPI_A},{NPI_B}\n{BAD_NPI},{NPI_B}\nX1,{NPI_B}\n")
    events = read_events(path)  # npi="auto"
    assert events.index.tolist() == [2, 3, 4]
    (issue,) = events.attrs["report"].issues
    assert (issue.check, issue.excluded, issue.rows, issue.examples) == (
        "invalid_npi",
        False,
        (3,),
        (BAD_NPI,),
    )
    assert read_events(path, npi=False).attrs["report"].issues == []


# ----------------------------------------------------------------------------- edges


def test_generic_edges_with_weight_and_period(write_file):
    path = write_file("g.csv", "src,dst,weight,period\nA,B,3,2024-01\nA,B,4,2024-02\nB,C,2,2024\n")
    edges = read_edges(path)
    assert edges.attrs["layout"] == "generic"
    assert edges[["source", "target", "referrals"]].values.tolist() == [
        ["A", "B", 3],
        ["A", "B", 4],
        ["B", "C", 2],
    ]
    assert edges["month"].dtype == "datetime64[ns]"
    assert edges["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-01"]


def test_generic_edges_without_weight_count_one_each():
    edges = read_edges(pd.DataFrame({"source": ["A", "B"], "target": ["B", "C"]}))
    assert edges["referrals"].tolist() == [1, 1]
    assert edges["referrals"].dtype == "int64"
    assert any(i.check == "no_weight" for i in edges.attrs["report"].issues)


CMS_HEADER = "npi_from,npi_to,pair_count,bene_count,same_day_count\n"
CMS_ROWS = f"{NPI_A},{NPI_B},69,11,0\n{NPI_B},{NPI_C},30,12,4\n"


def test_cms_layout_with_header(write_file):
    edges = read_edges(write_file("cms.csv", CMS_HEADER + CMS_ROWS))
    assert edges.attrs["layout"] == "cms-pspp"
    assert edges["referrals"].tolist() == [69, 30]
    assert edges["patients"].tolist() == [11, 12]
    assert edges["pair_count"].tolist() == [69, 30]
    assert edges["bene_count"].tolist() == [11, 12]
    assert edges["same_day_count"].tolist() == [0, 4]


def test_cms_layout_header_less_as_cms_ships_it(write_file):
    edges = read_edges(write_file("cms.txt", CMS_ROWS))
    assert edges.attrs["layout"] == "cms-pspp"
    assert edges.index.tolist() == [1, 2]  # no header: data starts on row 1
    assert edges[["source", "target", "referrals", "patients"]].values.tolist() == [
        [NPI_A, NPI_B, 69, 11],
        [NPI_B, NPI_C, 30, 12],
    ]
    explicit = read_edges(write_file("cms2.txt", CMS_ROWS), layout="cms-pspp")
    assert_frame_equal(edges, explicit, check_like=True)


def test_cms_layout_named_reads_cms_own_headers(write_file):
    """CMS's (DocGraph's) files name their columns Initial, Secondary, Total, Unique and Same
    Day: asking for the CMS layout reads them as the automatic detection does."""
    text = f"Initial,Secondary,Total,Unique,Same Day\n{NPI_A},{NPI_B},69,11,0\n"
    edges = read_edges(write_file("docgraph.csv", text), layout="cms-pspp")
    assert edges[["source", "target", "referrals", "patients"]].values.tolist() == [
        [NPI_A, NPI_B, 69, 11]
    ]
    auto = read_edges(write_file("docgraph2.csv", text))
    assert edges[["referrals", "patients"]].equals(auto[["referrals", "patients"]])


HOP_CSV = (
    '"from_npi","to_npi","patient_count","transaction_count","average_day_wait",'
    '"std_day_wait","pcp_special"\n'
    f'"{NPI_A}","{NPI_B}","76","134","15.582","33.267",NULL\n'
    f'"{NPI_C}","{NPI_B}","526","540","5.504","16.192","Cardiology"\n'
)


def test_hop_teaming_layout_and_null_is_missing(write_file):
    edges = read_edges(write_file("hop.csv", HOP_CSV))
    assert edges.attrs["layout"] == "hop-teaming"
    assert edges["referrals"].tolist() == [134, 540]
    assert edges["patients"].tolist() == [76, 526]
    assert edges["transaction_count"].tolist() == [134, 540]
    assert edges["patient_count"].tolist() == [76, 526]
    assert edges["average_day_wait"].tolist() == [15.582, 5.504]
    assert pd.isna(edges["pcp_special"].iloc[0])  # literal NULL
    assert edges["pcp_special"].iloc[1] == "Cardiology"


def test_explicit_layout_overrides_detection_and_checks_columns(write_file):
    path = write_file("hop.csv", HOP_CSV)
    assert read_edges(path, layout="hop-teaming").attrs["layout"] == "hop-teaming"
    generic = read_edges(path, layout="generic", weight_col="patient_count")
    assert generic.attrs["layout"] == "generic"
    assert generic["referrals"].tolist() == [76, 526]
    with pytest.raises(SchemaError, match=r"hop\.csv: required column.*'weight'.*pair_count"):
        read_edges(path, layout="cms-pspp")
    with pytest.raises(ParameterError, match=r"'layout' parameter"):
        read_edges(path, layout="careset")  # type: ignore[arg-type]


def test_conflicting_rows_of_one_tie_are_added_and_waits_averaged(write_file):
    body = (
        "from_npi,to_npi,patient_count,transaction_count,average_day_wait,std_day_wait\n"
        f"{NPI_A},{NPI_B},10,100,10,0\n"
        f"{NPI_A},{NPI_B},20,300,20,0\n"
    )
    edges = read_edges(write_file("hop.csv", body))
    assert len(edges) == 1
    row = edges.iloc[0]
    assert (row["referrals"], row["patients"], row["transaction_count"]) == (400, 30, 400)
    assert row["average_day_wait"] == pytest.approx(17.5)  # weighted by transactions
    assert row["std_day_wait"] == pytest.approx(((10 - 17.5) ** 2 * 0.25 + 2.5**2 * 0.75) ** 0.5)
    issue = next(i for i in edges.attrs["report"].issues if i.check == "duplicate_tie")
    assert issue.rows == (2, 3)


# ----------------------------------------------------------------------------- providers


def test_read_providers_aliases_and_builtin_specialties(write_file):
    path = write_file(
        "p.csv",
        "NPI,Provider Name,primary_taxonomy_code,practice,zip,latitude,longitude,in_network\n"
        f"{NPI_A},Dr A,207RC0000X,Heart Group,02134,36.1,-86.8,yes\n"
        f"{NPI_B},Dr B,,Solo,37203,95,-86.7,no\n",
    )
    providers = read_providers(path)
    assert providers["id"].tolist() == [NPI_A, NPI_B]
    assert providers["zip"].tolist() == ["02134", "37203"]
    assert providers["organization"].tolist() == ["Heart Group", "Solo"]
    assert providers["specialty"].iloc[0] == "Cardiovascular Disease"
    assert providers["in_network"].tolist() == [True, False]
    assert pd.isna(providers["lat"].iloc[1])  # 95 is out of range
    issue = next(i for i in providers.attrs["report"].issues if i.check == "coordinate_range")
    assert (issue.column, issue.rows) == ("latitude", (3,))


def test_read_providers_duplicate_ids(write_file):
    path = write_file("p.csv", "id,name\nA,x\nA,x\nA,y\nB,z\n")
    providers = read_providers(path)
    assert providers["id"].tolist() == ["A", "B"]
    by_check = {i.check: i.rows for i in providers.attrs["report"].issues}
    assert by_check == {"duplicate_row": (3,), "duplicate_id": (4,)}


def test_read_edges_reads_extra_counts_as_numbers_and_keeps_other_columns():
    raw = pd.DataFrame(
        {
            "Initial": ["A", "B", "C"],
            "Secondary": ["B", "C", "A"],
            "Total2014": ["40", "25", "12"],
            "Same Day2014": ["3", "12", "x"],
            "hospital_zip": ["02134", "37203", "00501"],
        }
    )
    edges = read_edges(raw, source_col="Initial", target_col="Secondary", weight_col="Total2014")
    assert edges["Same Day2014"].tolist() == [3, 12, pd.NA]  # a bad value is set missing
    assert edges["Same Day2014"].dtype == "Int64"
    issue = next(i for i in edges.attrs["report"].issues if i.column == "Same Day2014")
    assert list(issue.rows) == [2] and not issue.excluded  # DataFrame input: index labels
    assert edges["hospital_zip"].tolist() == ["02134", "37203", "00501"]  # not a count: as is
    safe = suppress_counts(edges)
    assert safe["Same Day2014"].isna().tolist() == [True, False, True]


# ----------------------------------------------------------------------------- writers


def test_write_table_csv_and_parquet_round_trip(tmp_path):
    table = pd.DataFrame({"id": ["007", "A"], "n": [1, 2]})
    table.attrs["report"] = object()  # attrs are not written
    csv_path = write_table(table, tmp_path / "t.csv")
    assert csv_path.read_text() == "id,n\n007,1\nA,2\n"
    parquet_path = write_table(table, tmp_path / "sub" / "t.parquet")
    assert_frame_equal(pd.read_parquet(parquet_path), table)
    with pytest.raises(ParameterError, match=r"\.csv or \.parquet"):
        write_table(table, tmp_path / "t.xlsx")


def test_write_table_csv_text_matches_pandas(tmp_path):
    # The fast writer (DuckDB) must write what DataFrame.to_csv would.
    table = pd.DataFrame(
        {
            "x": [1.0, 0.1, np.inf, np.nan, 1e-20, 123456789.123],
            "s": ["x, y", 'q"u', None, "plain", "é", "line\nbreak"],
            "b": pd.array([True, False, None, True, False, True], dtype="boolean"),
            "flag": [True, False, True, True, False, False],
            "i": pd.array([1, None, 3, 4, 5, -6], dtype="Int64"),
            "d": pd.to_datetime(
                ["2024-01-31", None, "2024-02-01 13:00", "2024-01-01", "2024-01-01", "1999-12-31"],
                format="mixed",
            ),
            "c": pd.Categorical(list("abcabc")),
            "has space, comma": ["007", "A", "ß", "中文", "0", "x"],
        }
    )
    written = write_table(table, tmp_path / "t.csv").read_text(encoding="utf-8")
    assert written == table.to_csv(index=False, date_format="%Y-%m-%d")


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1.5, 2.25], dtype="float16"),
        pd.Categorical([1, 2]),
        pd.to_timedelta([1, 2], unit="D"),
        pd.period_range("2024-01", periods=2, freq="M"),
        pd.interval_range(0, 2),
    ],
    ids=["float16", "categorical-ints", "timedelta", "period", "interval"],
)
def test_write_table_csv_of_other_dtypes_matches_pandas(tmp_path, column):
    # DuckDB would write these otherwise (a period as its ordinal, 1 day as 24:00:00, a
    # float16's binary digits, categorical ints as floats): each is written as pandas does
    table = pd.DataFrame({"x": column, "n": [1, 2]})
    written = write_table(table, tmp_path / "t.csv").read_text()
    assert written == table.to_csv(index=False, date_format="%Y-%m-%d")


@pytest.mark.parametrize("name", [0, "n"])
def test_write_table_falls_back_to_pandas_for_python_objects(tmp_path, name):
    # a column name that is not text, or a column Arrow cannot hold: pandas writes the file
    table = pd.DataFrame({"mixed": [1, "a", (2, 3)], name: [1, 2, 3]})
    written = write_table(table, tmp_path / "t.csv").read_text()
    assert written == f'mixed,{name}\n1,1\na,2\n"(2, 3)",3\n'


def test_atomic_path_leaves_no_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# ----------------------------------------------------------------------------- generalisation


def test_unseen_edge_list_with_other_names_ids_and_scripts(write_file):
    """A hospital-to-hospital transfer list from elsewhere: no NPIs, tab-separated, Greek."""
    path = write_file(
        "transfers.tsv",
        "από\tπρος\tμεταφορές\nΝοσοκομείο-Α\tΚλινική-Β\t12\nRJ1\tRRV\t3\n0042\tΝοσοκομείο-Α\t7\n",
    )
    edges = read_edges(path, source_col="από", target_col="προς", weight_col="μεταφορές")
    assert edges[["source", "target", "referrals"]].values.tolist() == [
        ["Νοσοκομείο-Α", "Κλινική-Β", 12],
        ["RJ1", "RRV", 3],
        ["0042", "Νοσοκομείο-Α", 7],
    ]
    assert [i.check for i in edges.attrs["report"].issues] == ["delimiter"]
    g = graph_from_tables(edges)
    assert set(g) == {"Νοσοκομείο-Α", "Κλινική-Β", "RJ1", "RRV", "0042"}


def test_unseen_event_log_with_pipe_delimiter_and_cjk(write_file):
    path = write_file(
        "log.txt",
        "紹介元|紹介先|日付|患者\n東京病院|大阪クリニック|2024/03/05|甲\n東京病院|大阪クリニック|2024/03/09|乙\n",
    )
    events = read_events(
        path, source_col="紹介元", target_col="紹介先", date_col="日付", patient_col="患者"
    )
    assert len(events) == 2
    ties = tie_table(events, engine="pandas")
    assert ties[["source", "target", "referrals", "patients"]].values.tolist() == [
        ["東京病院", "大阪クリニック", 2, 2]
    ]


# ----------------------------------------------------------------------------- privacy


def test_patient_ids_never_leave_ingestion(tmp_path, write_file, caplog):
    """The raw patient id is nowhere: frames, reports, logs, saved graphs."""
    body = (
        "referring_npi,receiving_npi,referral_date,patient_id\n"
        f"{NPI_A},{NPI_B},2024-01-05,{SECRET}\n"
        f"{NPI_A},{NPI_B},2024-01-05,{SECRET}\n"  # duplicate row
        f"{NPI_A},{NPI_A},2024-01-06,{SECRET}\n"  # self-referral
        f"{NPI_A},{NPI_C},not-a-date,{SECRET}\n"  # unparsable date
        f"{NPI_A},{NPI_C},2024-01-07,{SECRET},extra\n"  # wrong field count
        f",{NPI_D},2024-01-08,{SECRET}\n"  # missing id
        f"{NPI_B},{NPI_D},2024-02-01,OTHER-PATIENT\n"
    )
    path = write_file("events.csv", body)
    providers = read_providers(pd.DataFrame({"id": [NPI_A, NPI_B]}))
    with caplog.at_level(logging.DEBUG):
        events = read_events(path, providers=providers)
        panel = edge_panel(events)
        ties = tie_table(events)
        g = graph_from_tables(ties, providers)
        written = [
            save_graph(g, tmp_path / "g.graphml"),
            save_graph(g, tmp_path / "g.gexf"),
            save_graph(g, tmp_path / "folder"),
        ]
    report = events.attrs["report"]
    assert report.rows_excluded == 5
    texts = [str(report), report.to_frame().to_string(), caplog.text]
    for frame in (events, panel, ties):
        texts += [frame.to_string(), frame.index.astype(str).str.cat(sep=" ")]
        assert SECRET not in frame.astype(str).to_numpy().ravel().tolist()
    assert "patient_id" not in events.columns
    for out in written:
        files = [out] if out.is_file() else sorted(out.iterdir())
        assert files
        texts += [f.read_bytes().decode("utf-8", errors="replace") for f in files]
    for text in texts:
        assert SECRET not in text
        assert "OTHER-PATIENT" not in text


def test_blank_patient_ids_are_missing_not_one_patient():
    """Regression: blank ids ("  ") were coded as one shared patient."""
    events = read_events(
        pd.DataFrame(
            {
                "source": ["A", "A", "A"],
                "target": ["B", "B", "B"],
                "date": ["2024-01-01"] * 3,
                "patient_id": ["  ", "", "p1"],
            }
        )
    )
    assert events["patient_key"].tolist()[:2] == [-1, -1]
    assert len(events) == 3  # rows without a patient id are never "duplicates"
    assert tie_table(events)["patients"].tolist() == [1]


def test_files_are_never_modified(write_file, tmp_path):
    paths = [
        write_file("e.csv", EVENTS_CSV),
        write_file("bad.csv", "\ufeffsource;target\nA;A\n;B\n"),
        write_file("cp.csv", "source,target,x\nA,B,caf\xe9\n", encoding="cp1252"),
        write_file("cms.txt", CMS_ROWS),
        write_file("p.csv", "id,name\nA,x\nA,x\n"),
    ]
    before = [sha256(p) for p in paths]
    read_events(paths[0])
    read_events(paths[1])
    read_events(paths[2])
    read_edges(paths[3])
    read_providers(paths[4])
    assert [sha256(p) for p in paths] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_graph_from_read_edges_is_a_plain_digraph(write_file):
    g = graph_from_tables(read_edges(write_file("cms.csv", CMS_HEADER + CMS_ROWS)))
    assert type(g) is nx.DiGraph
    assert g.graph["layout"] == "cms-pspp"
    assert g.edges[NPI_A, NPI_B]["referrals"] == 69


def test_read_activities_reports_every_excluded_row():
    log = pd.DataFrame(
        {
            "visit_date": pd.to_datetime(["2024-05-02", None, "2024-06-01"]),
            "npi": ["1234567893", "1003033051", ""],
            "rep": ["A. Lee", "A. Lee", "B. Roy"],
            "type": ["Visit", "Call", "Lunch"],
        },
        index=[10, 11, 12],
    )
    activities = read_activities(log)
    assert activities["kind"].tolist() == ["visit"]
    report = activities.attrs["report"]
    assert report.excluded_by_reason == {"missing_id": 1, "missing_date": 1}
    assert {i.rows for i in report.issues if i.excluded} == {(11,), (12,)}


# --- decimal commas (issue 19): decimal="," / --decimal , -----------------------------------

# A European spreadsheet export: ';'-separated, amounts with a decimal comma and a thousands dot.
EU_EVENTS = (
    "referring_npi;receiving_npi;service_date;amount\n"
    "1234567893;1003033051;2024-03-05;1.850,00\n"
    "1234567893;1003033051;2024-03-19;20,5\n"
    "1003033051;1234567893;2024-04-02;\n"
    "1003033051;1234567893;2024-04-03;7\n"
)


@pytest.fixture
def eu_events(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(EU_EVENTS, encoding="utf-8")
    return path


def test_read_events_decimal_comma(eu_events):
    from referral_graph.io import read_events

    events = read_events(eu_events, decimal=",")
    # rows 2-5 (the header is row 1); 1.850,00 is 1850, 20,5 is 20.5, a blank stays missing
    assert events["amount"].tolist()[:2] == [1850.0, 20.5]
    assert pd.isna(events["amount"].iloc[2]) and events["amount"].iloc[3] == 7.0
    assert not events.attrs["report"].warnings


def test_read_events_decimal_comma_rejects_what_is_not_such_a_number(tmp_path):
    from referral_graph.io import read_events

    path = tmp_path / "eu.csv"
    path.write_text("source;target;amount\nA;B;12.5\nA;C;1.85,0\nA;D;3,25\n", encoding="utf-8")
    events = read_events(path, decimal=",", npi=False)
    assert events["amount"].isna().tolist() == [True, True, False]
    assert events["amount"].iloc[2] == 3.25
    (issue,) = [i for i in events.attrs["report"].issues if i.check == "non_numeric"]
    assert issue.rows == (2, 3) and "1.850,00" in issue.hint


def test_decimal_commas_without_the_option_are_an_error_naming_file_column_row(eu_events):
    from referral_graph.io import read_events

    with pytest.raises(SchemaError) as exc:
        read_events(eu_events)
    assert str(exc.value) == (
        f"{eu_events}, column 'amount': the numbers are written with a decimal comma "
        "(row 2: '1.850,00'); read them with decimal=',' (CLI: --decimal ,), which also reads "
        "dots between thousands."
    )


def test_a_plain_bad_amount_is_still_a_warning_not_a_decimal_error(tmp_path):
    from referral_graph.io import read_events

    path = tmp_path / "e.csv"
    path.write_text("source;target;amount\nA;B;12,5\nA;C;about 3\n", encoding="utf-8")
    events = read_events(path, npi=False)  # not every amount reads with a decimal comma
    assert events["amount"].isna().all()
    assert [i.check for i in events.attrs["report"].warnings] == ["non_numeric"]


@pytest.mark.parametrize("engine", ["duckdb", "files"])
def test_both_engines_read_decimal_commas_alike(eu_events, engine):
    import referral_graph as rg

    net = rg.load_network(events=eu_events, engine=engine, decimal=",", keep_events=False)
    ties = net.ties.set_index(["source", "target"])
    # by hand: 1850.00 + 20.5 for the first tie; 7 (and a missing amount) for the second
    assert ties.loc[("1234567893", "1003033051"), "amount"] == 1870.5
    assert ties.loc[("1003033051", "1234567893"), "amount"] == 7.0
    assert ties["referrals"].tolist() == [2, 2]
    assert not net.reports[0].warnings


@pytest.mark.parametrize(("engine", "where"), [("duckdb", "row 2: "), ("files", "e.g. ")])
def test_both_engines_refuse_decimal_commas_without_the_option(eu_events, engine, where):
    import referral_graph as rg

    with pytest.raises(SchemaError) as exc:
        rg.load_network(events=eu_events, engine=engine, keep_events=False)
    message = str(exc.value)
    assert message.startswith(f"{eu_events}, column 'amount': ")
    assert f"({where}'1.850,00')" in message and "--decimal ," in message


def test_decimal_option_reaches_providers_and_is_checked(tmp_path):
    from referral_graph.engines import aggregate
    from referral_graph.exceptions import ParameterError
    from referral_graph.io import read_providers

    path = tmp_path / "p.csv"
    path.write_text("npi;lat;lon\n1234567893;45,5;-1,25\n", encoding="utf-8")
    providers = read_providers(path, decimal=",")
    assert providers[["lat", "lon"]].iloc[0].tolist() == [45.5, -1.25]
    with pytest.raises(ParameterError, match="'decimal' parameter of read_events"):
        from referral_graph.io import read_events

        read_events(path, decimal=";")
    with pytest.raises(ParameterError, match="spark engine does not read decimal commas"):
        aggregate(path, engine="spark", decimal=",")


def test_cli_decimal_option(eu_events, capsys):
    from referral_graph import cli

    assert cli.main(["validate", "--events", str(eu_events), "--decimal", ",", "-q"]) == 0
    assert "Validation of" in capsys.readouterr().out
    assert cli.main(["validate", "--events", str(eu_events), "-q"]) == 1
    err = capsys.readouterr().err
    assert "column 'amount'" in err and "--decimal ," in err and str(eu_events) in err
