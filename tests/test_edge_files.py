"""The out-of-core edge reader (engines.edge_files) against the in-memory one (io.read_edges).

The oracle is ``read_edges`` on the same file: the same edges in the same order, and the
same validation report, issue by issue (messages, row numbers, examples, counts), on
header-less CMS files of a few thousand rows with every kind of problem planted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BAD_NPI, make_npi

from referral_graph.engines.edge_files import read_edge_files
from referral_graph.exceptions import ParameterError, ValidationError
from referral_graph.io import read_edges


def cms_rows(n_providers: int, n_ties: int, *, seed: int = 7) -> list[str]:
    """Header-less CMS rows: valid NPIs, bene_count >= 11, pair_count >= bene_count."""
    rng = np.random.default_rng(seed)
    npis = [make_npi(f"{100000000 + 7919 * i:09d}") for i in range(n_providers)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < n_ties:
        s, t = rng.integers(0, n_providers, 2)
        if s != t:
            pairs.add((int(s), int(t)))
    rows = []
    for s, t in sorted(pairs):
        bene = 11 + int(rng.integers(0, 40))
        pair = bene + int(rng.integers(0, 60))
        same = int(rng.binomial(pair, 0.05))
        rows.append(f"{npis[s]},{npis[t]},{pair},{bene},{same}")
    return rows


def dirty_file(path: Path) -> Path:
    """A header-less CMS file of ~3,000 rows with one of each problem, spread through it."""
    rows = cms_rows(400, 3000)
    a, b = rows[10].split(",")[:2]
    c = rows[20].split(",")[1]
    planted = {
        5: "",  # a blank line
        40: f"{a},{b},12",  # too few fields
        41: f"{a},{c},12,11,0,9",  # too many
        60: f",{b},20,11,0",  # missing source
        61: f"{a},,20,11,0",  # missing target
        80: f"{BAD_NPI},{b},20,11,0",  # a wrong check digit
        81: f"{a},{a},30,12,1",  # a self-loop
        100: f"{a},{c},x,11,0",  # the count is not a number
        101: f"{b},{c},-4,11,0",  # negative
        102: f"{c},{a},,11,0",  # missing count
        103: f"{c},{b},40,1.5,0",  # a fractional patient count
        104: f"{b},{a},40,12,abc",  # same_day_count not a number: kept, missing
        200: rows[150],  # an exact repeat of an earlier row
        300: ",".join([*rows[250].split(",")[:2], "999", "20", "3"]),  # the same tie again
        400: " " + rows[350].split(",")[0] + "," + ",".join(rows[350].split(",")[1:]),
        500: f"{a}.0,{rows[499].split(',')[1]},25,11,2",  # a spreadsheet's number
        600: f"{a},{c},NULL,NA,0",  # null spellings
        700: f"{b},{make_npi('300000000')[:9]}5,20,11,0",  # not NPI-shaped: kept
    }
    out = list(rows)
    for at in sorted(planted, reverse=True):
        out.insert(at, planted[at])
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _compare(path: Path, tmp: Path, **options: object) -> tuple[pd.DataFrame, object]:
    expected = read_edges(path, **options)  # type: ignore[arg-type]
    result = read_edge_files(path, tmp / "out", **options)  # type: ignore[arg-type]
    got = pd.read_parquet(result.paths["ties"])
    want = expected.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    mine, theirs = result.report, expected.attrs["report"]
    assert mine.rows_read == theirs.rows_read
    assert [str(i) for i in mine.issues] == [str(i) for i in theirs.issues]
    pd.testing.assert_frame_equal(mine.to_frame(), theirs.to_frame())
    assert result.layout == expected.attrs["layout"]
    assert result.ties == len(expected)
    return got, result


def test_clean_header_less_cms_file_equals_read_edges(tmp_path: Path) -> None:
    path = tmp_path / "cms.txt"
    path.write_text("\n".join(cms_rows(300, 2000)) + "\n", encoding="utf-8")
    got, result = _compare(path, tmp_path)
    assert result.rows_checked == 0  # nothing needed a second look
    assert result.report.rows_read == 2000 == len(got)
    assert [i.check for i in result.report.issues] == ["no_header", "no_header"]


@pytest.mark.parametrize("npi", ["auto", True, False])
def test_every_problem_is_reported_as_read_edges_reports_it(tmp_path: Path, npi: object) -> None:
    path = dirty_file(tmp_path / "dirty.csv")
    _, result = _compare(path, tmp_path, npi=npi)
    checks = {i.check for i in result.report.issues}
    assert {"wrong_field_count", "blank_line", "missing_id", "self_referral"} <= checks
    assert {"non_numeric", "negative", "fractional", "missing_count"} <= checks
    assert {"duplicate_row", "duplicate_tie", "restored_id"} <= checks
    assert ("invalid_npi" in checks) is (npi is not False)
    assert result.rows_checked < 40  # only the planted rows and their ties


def test_unknown_providers_are_counted_over_every_row(tmp_path: Path) -> None:
    path = dirty_file(tmp_path / "dirty.csv")
    ids = read_edges(path)["source"].unique()
    providers = pd.DataFrame({"id": sorted(ids)[::3]})  # most providers missing
    _, result = _compare(path, tmp_path, providers=providers)
    unknown = [i for i in result.report.issues if i.check == "unknown_provider"]
    assert [i.column for i in unknown] == ["npi_from", "npi_to"]


def test_a_file_with_a_header_and_other_columns(tmp_path: Path) -> None:
    rows = cms_rows(100, 500)
    text = "npi_from,npi_to,pair_count,bene_count,same_day_count,note\n" + "\n".join(
        f"{r},{'x' if i % 7 else ''}" for i, r in enumerate(rows)
    )
    path = tmp_path / "cms_header.csv"
    path.write_text(text + "\n", encoding="utf-8")
    _compare(path, tmp_path)
    generic = tmp_path / "generic.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.columns = ["source", "target", "referrals", "patients", "same_day_count", "note"]
    frame.to_csv(generic, index=False)
    _compare(generic, tmp_path)


def test_parquet_edge_file(tmp_path: Path) -> None:
    rows = [r.split(",") for r in cms_rows(100, 500)]
    frame = pd.DataFrame(rows, columns=["npi_from", "npi_to", "pair", "bene", "same"])
    typed = pd.DataFrame(
        {
            "source": frame["npi_from"].astype("int64"),
            "target": frame["npi_to"],
            "referrals": frame["pair"].astype("int64"),
            "patients": frame["bene"].astype("float64"),
        }
    )
    typed.loc[3, "patients"] = np.nan
    typed.loc[4, "referrals"] = -2
    path = tmp_path / "edges.parquet"
    typed.to_parquet(path, index=False)
    _compare(path, tmp_path)


def test_strict_and_lossy_ids_raise_before_writing(tmp_path: Path) -> None:
    path = dirty_file(tmp_path / "dirty.csv")
    with pytest.raises(ValidationError):
        read_edge_files(path, tmp_path / "out", strict=True)
    assert not (tmp_path / "out" / "ties.parquet").exists()
    lossy = tmp_path / "lossy.csv"
    lossy.write_text("\n".join([*cms_rows(20, 50), "1.23456789E+09,1003033051,20,11,0"]) + "\n")
    with pytest.raises(ValidationError, match="scientific notation"):
        read_edge_files(lossy, tmp_path / "out2")


def test_a_period_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    path.write_text("source,target,referrals,month\nA,B,3,2024-01\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="period"):
        read_edge_files(path, tmp_path / "out")


@pytest.mark.parametrize("columns", [{}, {"weight_col": "Total2014", "patient_col": "Unique2014"}])
def test_the_real_cms_sample_reads_as_read_edges_reads_it(
    tmp_path: Path, shared_data: Path, columns: dict[str, str]
) -> None:
    path = shared_data / "cms_shared_patient_patterns" / "sample_180day_two_samples.csv"
    got, result = _compare(path, tmp_path, **columns)
    assert len(got) == result.ties > 0
    assert result.columns["source"] == "Initial"


def test_the_real_hop_teaming_file_reads_as_read_edges_reads_it(
    tmp_path: Path, shared_data: Path
) -> None:
    """Quoted fields, ``NULL`` strings, measures (waits) and text columns beside the counts."""
    got, result = _compare(shared_data / "hop_teaming_nashville" / "edges.csv", tmp_path)
    assert result.layout == "hop-teaming" and len(got) == 2785
    assert got["average_day_wait"].dtype == "float64"


def test_a_declared_layout_and_npis(tmp_path: Path) -> None:
    path = dirty_file(tmp_path / "dirty.txt")
    _compare(path, tmp_path, layout="cms-pspp", npi=True)
