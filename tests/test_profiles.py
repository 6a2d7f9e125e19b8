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
from privacy_scan import scan_outputs, scan_profiles

from referral_graph import cli, datasets
from referral_graph.exceptions import ParameterError
from referral_graph.pipeline import load_network
from referral_graph.report import Profile, build_report, profile, write_report

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


def test_the_id_is_called_an_npi_only_when_it_is_one(tiny: tuple[Any, pd.DataFrame]) -> None:
    """An NPI is labelled NPI; another id scheme (a practice's DR-0162) is labelled ID."""
    net, events = tiny
    assert f"· NPI {A}</p>" in profile(net, A, focus="Us Health").html()
    local = {A: "DR-0001", B: "DR-0002", F: "DR-0003", G: "DR-0004", R: "DR-0005"}
    _, providers = _tiny()
    other = load_network(
        events=events.replace({"source": local, "target": local}),
        providers=providers.replace({"id": local}),
    )
    page = profile(other, "DR-0001", focus="Us Health").html()
    assert "· ID DR-0001</p>" in page and "NPI DR-" not in page


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
    # nothing on a profile that the scanner finds: a small count, a value derived from a
    # hidden one, a tie's count or a total that the report's tables hide
    assert scan_profiles(folder) == []


# ------------------------------------------- a profile hides what the report's tables hide

P, Q, F2, R2 = (make_npi(f"2{i:08d}") for i in range(1, 5))
#: Referrals by month, January to May 2024 (the data ends in May).
PLAN = {
    (P, F2): [0, 12, 0, 18, 0],  # 30 referrals, 12 patients
    (P, R2): [20, 0, 20, 0, 0],  # 40 referrals, 40 patients
    (Q, F2): [5, 0, 0, 0, 0],  # 5: small
    (Q, R2): [0, 0, 0, 0, 20],  # 20 referrals, 20 patients
}
PATIENTS = {(P, F2): 12, (P, R2): 40, (Q, F2): 5, (Q, R2): 20}


def _hidden_by_target() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two referrers of one practice (P, Q: family medicine) send to our cardiologist F
    ("Us Health") and to a competitor's R ("Rival Heart")."""
    rows = []
    months = pd.date_range("2024-01-01", periods=5, freq="MS")
    for (source, target), counts in PLAN.items():
        k = 0
        for month, n in zip(months, counts, strict=True):
            for i in range(n):
                patient = f"{source[-3:]}-{target[-3:]}-{k % PATIENTS[(source, target)]}"
                rows.append((source, target, month + pd.Timedelta(days=i % 27), patient))
                k += 1
    events = pd.DataFrame(rows, columns=["source", "target", "date", "patient_id"])
    providers = pd.DataFrame(
        {
            "id": [P, Q, F2, R2],
            "name": ["Dr. P", "Dr. Q", "Dr. F", "Dr. R"],
            "specialty": ["Family Medicine"] * 2 + ["Cardiology"] * 2,
            "organization": ["Town Practice", "Town Practice", "Us Health", "Rival Heart"],
        }
    )
    return events, providers


def test_a_tie_that_ties_csv_hides_for_its_target_is_hidden_on_the_profile(
    tmp_path: Path,
) -> None:
    """By hand. P's own ties (30 to F, 40 to R) are not small: suppressed alone, as the
    profile did, both show. But ties.csv hides P→F: F's ties are Q→F (5, small) and P→F,
    and F's in_strength (35) minus a shown 30 would give Q's 5 back (complementary
    suppression by target). Then P's out_strength (70) would give P→F back from P→R: P→R
    goes; then R's in_strength (60) from Q→R: Q→R goes. Every tie's referrals are hidden
    in ties.csv; their patients only where small (Q→F's 5).

    share_of_wallet.csv then hides P's referrals to us (30: P's one tie to us, hidden) and
    to competitors (40), so the profile's chart must not give them back by its sum: its
    smallest month of each is hidden (February's 12 to us, January's 20 to competitors,
    the first of two equal), and every share of wallet beside a hidden count.
    """
    events, providers = _hidden_by_target()
    net = load_network(events=events, providers=providers)
    out = tmp_path / "report"
    write_report(net, out, focus="Us Health", views=False)
    ties = pd.read_csv(out / "tables" / "ties.csv", dtype={"source": str, "target": str})
    ties = ties.set_index(["source", "target"])
    assert ties["referrals"].isna().all()
    assert ties["patients"].isna().to_dict() == {
        (P, F2): False,
        (P, R2): False,
        (Q, F2): True,
        (Q, R2): False,
    }
    page = profile(net, P, focus="Us Health", view=False)
    (tie,) = page.sections["ties"]["rows"]
    assert (tie["id"], tie["referrals"], tie["patients"], tie["strength"]) == (F2, "–", "12", "–")
    components = dict(tie["components"])
    # derived from the referrals: hidden, and the regularity (its active months are a lower
    # bound on the referrals); the recency (dates) shown
    assert [components[c] for c in ("volume", "share", "reciprocity")] == ["–", "–", "–"]
    assert components["recency"] != "–" and components["regularity"] == "–"
    summary = page.sections["summary"]
    assert (summary["to_focus"], summary["to_competitors"], summary["share"]) == ("–", "–", "–")
    assert page.unit == "month"
    shown = page.referrals
    assert shown["to_focus"].tolist() == [0, pd.NA, 0, 18, 0]
    assert shown["to_competitors"].tolist() == [pd.NA, 0, 20, 0, 0]
    assert shown["share"].round(4).tolist()[2:4] == [0.0, 1.0]
    assert shown["share"].isna().tolist() == [True, True, False, False, True]
    # the page written beside the report is the page made on demand, cell for cell
    written = (out / "profiles" / f"{P}.html").read_text(encoding="utf-8")
    assert written == page.html(vis_src="vis-network.min.js")
    text = html.unescape(written)
    assert (
        f'<tr data-ids="{F2}"><td>Dr. F</td><td class="num">–</td><td class="num">12</td>' in text
    )
    assert "Feb 2024: to us –, to competitors 0, share of wallet –" in text
    assert "Apr 2024: to us 18, to competitors 0, share of wallet 100 %" in text
    problems, _ = scan_outputs(out)
    assert problems == []


def test_profiles_on_demand_are_the_reports_profiles(tmp_path: Path) -> None:
    """On the sample: profile(net, id) shows the cells of the profile write_report wrote
    (the same suppression decided: ties.csv's and share_of_wallet.csv's)."""
    paths = datasets.sample_paths()
    net = load_network(events=paths["events"], providers=paths["providers"])
    write_report(net, tmp_path, focus=datasets.SAMPLE_FOCUS, views=False)
    pages = sorted((tmp_path / "profiles").glob("*.html"))
    report = build_report(net, focus=datasets.SAMPLE_FOCUS)
    for page in pages[:: max(len(pages) // 3, 1)]:
        made = profile(net, page.stem, report=report, view=False)
        assert made.html(vis_src="vis-network.min.js") == page.read_text(encoding="utf-8")
    made = profile(net, pages[0].stem, focus=datasets.SAMPLE_FOCUS, view=False)  # its own report
    assert made.html(vis_src="vis-network.min.js") == pages[0].read_text(encoding="utf-8")
    # with its referral neighbourhood drawn: the tooltips' PageRank, hub and authority are
    # the tables' (computed on the ties as shown), as the report's are
    drawn = tmp_path / "drawn"
    write_report(net, drawn, focus=datasets.SAMPLE_FOCUS)
    first = sorted((drawn / "profiles").glob("*.html"))[0]
    made = profile(net, first.stem, report=report)
    assert "PageRank: " in made.html()
    assert made.html(vis_src="vis-network.min.js") == first.read_text(encoding="utf-8")


def test_the_decided_suppression_is_kept_per_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Profiles of one report decide its tables' suppression once (seconds on large
    markets), again when a table is replaced or the threshold changes."""
    from referral_graph import scores
    from referral_graph.report._profile import _DECIDED, decided_suppression

    events, providers = _hidden_by_target()
    report = build_report(load_network(events=events, providers=providers), focus="Us Health")
    calls: list[int] = []
    write_tables = scores.write_tables

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["threshold"])
        return write_tables(*args, **kwargs)

    monkeypatch.setattr(scores, "write_tables", counted)
    first = decided_suppression(report, threshold=11)
    assert decided_suppression(report, threshold=11) == first and calls == [11]
    decided_suppression(report, threshold=5)
    report.tables["ties"] = report.tables["ties"].copy()
    decided_suppression(report, threshold=11)
    assert calls == [11, 5, 11]
    assert first["ties"]["referrals"].all()  # every tie's referrals hidden (by hand, above)
    key = id(report)
    del report
    import gc

    gc.collect()
    assert not any(k[0] == key for k in _DECIDED)  # forgotten with the report


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
