"""Provider profiles (issue 17, items 1 and 3): the figures by hand, the report's profiles
and links, the CLI, and the page in Chromium (drawn offline, printed on one or two pages).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import make_npi

from referral_graph import cli, datasets
from referral_graph.exceptions import ParameterError
from referral_graph.pipeline import load_network
from referral_graph.report import Profile, profile

A, B, F, G, R = (make_npi(f"1{i:08d}") for i in range(1, 6))
MONTHS = pd.date_range("2024-01-01", periods=6, freq="MS")
#: Referrals from A to our provider F and to the competitor R, month by month.
TO_F = [20, 15, 3, 30, 12, 25]
TO_R = [11, 0, 14, 5, 22, 13]


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A market small enough to check by hand: A refers to us (F, G: "Us Health") and to
    "Rival Heart" (R) in cardiology; B refers 5 patients to G and 4 to R every month."""
    rows = []
    for m, to_f, to_r in zip(MONTHS, TO_F, TO_R, strict=True):
        rows += [(A, F, m + pd.Timedelta(days=i % 27), f"a{m.month}-{i}") for i in range(to_f)]
        rows += [(A, R, m + pd.Timedelta(days=i % 27), f"r{m.month}-{i}") for i in range(to_r)]
        rows += [(B, G, m + pd.Timedelta(days=i), f"b{m.month}-{i}") for i in range(5)]
        rows += [(B, R, m + pd.Timedelta(days=i), f"c{m.month}-{i}") for i in range(4)]
    events = pd.DataFrame(rows, columns=["source", "target", "date", "patient_id"])
    providers = pd.DataFrame(
        {
            "id": [A, B, F, G, R],
            "name": ["Dr. A <b>&", "Dr. B", "Dr. F", "Dr. G", "Dr. R"],
            "specialty": ["Family Medicine"] * 2 + ["Cardiology"] * 3,
            "organization": ["A Practice", "B Practice", "Us Health", "Us Health", "Rival Heart"],
            "city": ["Townsville"] * 5,
        }
    )
    return events, providers


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, pd.DataFrame]:
    events, providers = _tiny()
    return load_network(events=events, providers=providers), events


def _expected(counts: pd.Series, threshold: int) -> list[float | None]:
    """The rule written out: counts from 1 to threshold - 1 hidden; a series with exactly
    one hidden count also hides its smallest shown non-zero count (its total is shown
    elsewhere: the total minus the others would give the hidden one back)."""
    small = (counts > 0) & (counts < threshold)
    hidden = small.copy()
    if small.sum() == 1:
        shown = counts[~small & (counts > 0)]
        hidden[shown.idxmin()] = True
    return [None if h else float(v) for v, h in zip(counts, hidden, strict=True)]


def test_referrals_by_month_by_hand(tiny: tuple[Any, pd.DataFrame]) -> None:
    net, events = tiny
    page = profile(net, A, focus="Us Health")
    # the counts, by a groupby of the events (not the library's aggregation)
    mine = events.loc[events["source"] == A]
    counts = (
        mine.assign(month=mine["date"].dt.to_period("M").dt.to_timestamp(), us=mine["target"] == F)
        .groupby(["month", "us"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=[True, False], fill_value=0)
    )
    assert counts[True].tolist() == TO_F and counts[False].tolist() == TO_R  # the fixture
    assert page.unit == "month"
    shown = page.referrals.set_index("month")
    assert list(shown.index) == list(counts.index)
    for column, ours in (("to_focus", True), ("to_competitors", False)):
        got = [None if pd.isna(v) else float(v) for v in shown[column]]
        assert got == _expected(counts[ours], 11), column
    # 3 (March, to us) and 5 (April, to competitors) are small; May's 12 and January's 11
    # go with them, and every share with a hidden count
    assert shown["to_focus"].isna().tolist() == [False, False, True, False, True, False]
    assert shown["to_competitors"].isna().tolist() == [True, False, False, True, False, False]
    assert shown["share"].round(4).tolist()[1] == 1.0
    assert shown["share"].round(4).tolist()[5] == round(25 / 38, 4)
    assert shown["share"].isna().tolist() == [True, False, True, True, True, False]
    # the page: each month's figures in its tooltip, small ones as "<11", others hidden "–"
    text = html.unescape(page.html())
    assert "Mar 2024: to us <11, to competitors 14, share of wallet –" in text
    assert "May 2024: to us –, to competitors 22, share of wallet –" in text
    assert "Jun 2024: to us 25, to competitors 13, share of wallet 66 %" in text
    titles = " ".join(re.findall(r"<title>(.*?)</title>", text))
    for hidden in ("to us 3,", "to competitors 5,", "to us 12,", "to competitors 11,"):
        assert hidden not in titles
    assert "Small-cell suppression: 2 counts from 1 to 10 left out" in text
    assert "pass --threshold 1 (threshold=1) to keep them" in text
    # the whole data: A sent 105 referrals to us and 65 to competitors
    assert page.sections["summary"]["to_focus"] == f"{sum(TO_F):,}"
    assert page.sections["summary"]["to_competitors"] == f"{sum(TO_R):,}"
    assert page.sections["ties"]["rows"][0]["name"] == "Dr. F"
    assert "Dr. A &lt;b&gt;&amp;" in page.html()  # names escaped


def test_threshold_one_shows_every_count(tiny: tuple[Any, pd.DataFrame]) -> None:
    net, _ = tiny
    page = profile(net, A, focus="Us Health", threshold=1, view=False)
    assert page.referrals["to_focus"].tolist() == TO_F
    assert page.referrals["to_competitors"].tolist() == TO_R
    assert page.suppression is None
    assert page.drawing is None and "No view drawn" in page.html()


def test_coarser_periods_when_months_would_hide_most(tiny: tuple[Any, pd.DataFrame]) -> None:
    """B sends 5 a month to G and 4 to R: by month every count is hidden; by quarter not."""
    net, events = tiny
    page = profile(net, B, focus="Us Health", view=False)
    assert page.unit == "quarter"
    mine = events.loc[events["source"] == B]
    quarters = mine.groupby([mine["date"].dt.to_period("Q"), mine["target"] == R]).size()
    assert page.referrals["to_competitors"].tolist() == quarters.xs(True, level=1).tolist()
    assert page.referrals["to_focus"].tolist() == quarters.xs(False, level=1).tolist()
    assert "by quarter (by month, most counts would be hidden)" in page.html()


def test_profile_object(tiny: tuple[Any, pd.DataFrame], tmp_path: Path) -> None:
    net, _ = tiny
    page = profile(net, A, focus="Us Health")
    assert isinstance(page, Profile)
    written = page.write(tmp_path / "a.html")
    text = written.read_text(encoding="utf-8")
    assert text == page.html()
    assert "<script src" not in text and "vis.Network" in text  # self-contained
    assert "https://" not in text.split("<script>")[0]
    shown = page._repr_html_()
    assert shown.startswith('<div class="referral-graph-profile"><iframe srcdoc="')
    assert 'sandbox="allow-scripts"' in shown
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html"]


def test_unknown_provider_and_missing_focus(tiny: tuple[Any, pd.DataFrame]) -> None:
    net, _ = tiny
    with pytest.raises(ParameterError, match="must be a provider id"):
        profile(net, "1234567893", focus="Us Health")
    with pytest.raises(ParameterError, match="focus"):
        profile(net, A)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    assert cli.main(["demo", "--out", str(out), "-q"]) == 0
    return out


def test_report_writes_profiles_and_links_them(demo: Path) -> None:
    folder = demo / "profiles"
    pages = sorted(folder.glob("*.html"))
    report = (demo / "report.html").read_text(encoding="utf-8")
    links = set(re.findall(r'<a href="(profiles/[^"]+)">', report))
    # every name the page lists links to a profile (the page shows the first 25 key
    # referrers; the profiles cover the first 100)
    assert len(pages) >= 100 and len(links) >= 40
    assert links <= {f"profiles/{p.name}" for p in pages}
    visits = pd.read_csv(demo / "tables" / "outreach_list.csv", dtype={"source": str})
    for source in visits["source"]:
        assert f'<a href="profiles/{source}.html">' in report
    keys = pd.read_csv(demo / "tables" / "key_referrers.csv", dtype={"source": str})
    assert {f"{s}.html" for s in keys["source"].head(100)} <= {p.name for p in pages}
    # one shared vis-network, loaded by a relative address; each page small
    assert (folder / "vis-network.min.js").stat().st_size > 400_000
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '<script src="vis-network.min.js"></script>' in text
        assert "script-src 'self' 'unsafe-inline'" in text
        assert page.stat().st_size < 150_000
    assert "Outreach activities" in text and "Talking points" in text


def test_cli_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = datasets.sample_paths()
    inputs = ["--events", str(paths["events"]), "--providers", str(paths["providers"])]
    keys = ["--focus", datasets.SAMPLE_FOCUS, "--activities", str(paths["activities"])]
    providers = pd.read_csv(paths["providers"], dtype={"id": str})
    events = pd.read_csv(paths["events"], dtype=str, usecols=["source"])
    provider = events["source"].value_counts().index[0]
    out = tmp_path / "p.html"
    code = cli.main(["profile", *inputs, *keys, "--provider", provider, "--out", str(out), "-q"])
    assert code == 0
    name = providers.set_index("id").loc[provider, "name"]
    assert f"Wrote the profile of {name} ({provider})" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert html.escape(name, quote=True) in text and "vis.Network" in text
    assert "<script src" not in text
    code = cli.main(["profile", *inputs, *keys, "--provider", "1234567893", "--out", str(out)])
    assert code == 1
    assert "must be a provider id" in capsys.readouterr().err


def test_report_without_profiles(tmp_path: Path) -> None:
    paths = datasets.sample_paths()
    out = tmp_path / "r"
    code = cli.main(
        ["report", "--events", str(paths["events"]), "--providers", str(paths["providers"]),
         "--focus", datasets.SAMPLE_FOCUS, "--no-profiles", "--out", str(out), "-q"]
    )  # fmt: skip
    assert code == 0
    assert not (out / "profiles").exists()
    assert 'href="profiles/' not in (out / "report.html").read_text(encoding="utf-8")


def _pdf_pages(pdf: bytes) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    import io

    return len(PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_page_counter() -> None:
    pdf = b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page /X 1 >>"
    assert _pdf_pages(pdf) == 2


def test_profile_from_the_report_in_chromium(demo: Path, chromium: Any, tmp_path: Path) -> None:
    """Open the report, follow a key referrer's link to the profile: the chart and the
    embedded ego view draw, nothing leaves the page, and it prints on one or two A4 pages."""
    import browser

    with browser.offline_page(chromium) as (page, outside, errors):
        page.goto((demo / "report.html").resolve().as_uri(), wait_until="load")
        link = page.locator("#key-referrers ~ table a").first
        name = link.inner_text()
        with page.expect_navigation():
            link.click()
        assert "/profiles/" in page.url
        page.wait_for_function("() => window.__drawn === true", timeout=30_000)
        assert page.locator("h1").inner_text() == name
        facts = page.evaluate(
            """() => {
                const canvas = document.querySelector("#rg-network canvas");
                const pixels = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
                const box = document.querySelector("svg.rg-chart").getBoundingClientRect();
                return {
                    nodes: window.network.body.data.nodes.length,
                    painted: painted,
                    bars: document.querySelectorAll("svg.rg-chart rect").length,
                    periods: document.querySelectorAll("svg.rg-chart g.rg-month").length,
                    chartHeight: box.height,
                };
            }"""
        )
        assert facts["nodes"] > 1 and facts["painted"] > 1000
        assert facts["periods"] >= 4 and facts["bars"] == 2 * facts["periods"]
        assert facts["chartHeight"] > 100
        page.screenshot(path=str(tmp_path / "profile.png"), full_page=True)
        # a canvas is not redrawn for print: the page prints an image of the drawing
        page.wait_for_function("() => window.__rg_snapshot === true", timeout=30_000)
        page.emulate_media(media="print")
        printed = page.evaluate(
            """() => {
                const image = document.getElementById("rg-print");
                return {width: image.naturalWidth, shown: image.getBoundingClientRect().height,
                        canvas: document.getElementById("rg-network").offsetParent === null};
            }"""
        )
        assert printed["width"] > 300 and printed["shown"] > 150 and printed["canvas"]
        pdf = page.pdf(format="A4")
        assert 1 <= _pdf_pages(pdf) <= 2
        letter = page.pdf(format="Letter")
        assert 1 <= _pdf_pages(letter) <= 2
    assert outside == [] and errors == []


def test_pages_are_the_same_in_every_python_process(tmp_path: Path) -> None:
    """String hashing is salted per process: the ego view is drawn in the graph's order."""
    import os
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, 'tests'); from test_profiles import A, _tiny; "
        "from referral_graph.pipeline import load_network; from referral_graph.report import "
        "profile; events, providers = _tiny(); net = load_network(events=events, "
        "providers=providers); profile(net, A, focus='Us Health').write(sys.argv[1])"
    )
    root = Path(__file__).resolve().parents[1]
    pages = []
    for seed in ("1", "2"):
        out = tmp_path / f"{seed}.html"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, cwd=root, env=env)
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]
