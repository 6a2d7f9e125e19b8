"""The report, end to end: the demo's output, in a real browser, and on data it has never seen."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from referral_graph import cli, datasets, synthetic
from referral_graph.privacy import count_columns
from referral_graph.report import outreach_list, talking_point

SECTIONS = {
    "since": "Since the last report",
    "headline": "Headline",
    "key-referrers": "Key referrers",
    "leakage": "Leakage",
    "at-risk": "At-risk ties",
    "outreach-list": "This week's outreach list",
    "prospects": "Prospects",
    "outreach-impact": "Outreach impact",
    "trends": "Monthly trends",
    "views": "Network views",
}


def report_of(events: pd.DataFrame, providers: pd.DataFrame, folder: Path, *, focus: str) -> Path:
    """`referral-graph report` on `events` and `providers`, written as CSV in `folder`."""
    events.to_csv(folder / "events.csv", index=False)
    providers.to_csv(folder / "providers.csv", index=False)
    out = folder / "r"
    code = cli.main(
        ["report", "--events", str(folder / "events.csv"), "--providers",
         str(folder / "providers.csv"), "--focus", focus, "--out", str(out), "-q"]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    assert cli.main(["demo", "--out", str(out), "-q"]) == 0
    return out


def test_demo_writes_report_tables_and_views(demo: Path) -> None:
    assert (demo / "report.html").is_file()
    tables = {p.stem for p in (demo / "tables").glob("*.csv")}
    assert {
        "headline",
        "key_referrers",
        "at_risk",
        "outreach_list",
        "prospects",
        "leakage_by_specialty",
        "leakage_by_competitor",
        "monthly_trend",
        "outreach_effect",
        "backtest",
    } <= tables
    views = {p.stem for p in (demo / "views").glob("*.html")}
    assert {"network", "focus", "at_risk", "ego_top_referrer", "community_0"} <= views
    page = (demo / "report.html").read_text()
    for section_id, heading in SECTIONS.items():
        assert f'id="{section_id}"' in page
        assert heading.replace("'", "&#x27;") in page or heading in page
    assert "Anti-Kickback Statute" in page  # compliance footer


def test_outreach_list_respects_capacity_and_groups(demo: Path) -> None:
    visits = pd.read_csv(demo / "tables" / "outreach_list.csv", dtype={"source": str})
    assert 0 < len(visits) <= 25
    assert visits["source"].is_unique  # one visit per referrer
    assert visits["talking_point"].str.len().gt(20).all()
    keys = list(zip(visits["town"].fillna(""), visits["practice"].fillna(""), strict=True))
    assert keys == sorted(keys)  # batched by town, then practice


def test_no_patient_id_in_any_output(demo: Path) -> None:
    patients = pd.read_csv(datasets.sample_paths()["events"], usecols=["patient_id"], dtype=str)
    ids = set(patients["patient_id"].dropna())
    assert len(ids) > 1000
    token = re.compile(r"[A-Za-z0-9_]+")
    files = [p for p in demo.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8", errors="ignore")
        leaked = ids.intersection(token.findall(text))
        assert not leaked, f"{path.name} holds patient ids, e.g. {sorted(leaked)[:3]}"


def test_no_small_counts_in_tables(demo: Path) -> None:
    for path in (demo / "tables").glob("*.csv"):
        table = pd.read_csv(path)
        cols = count_columns(table)
        values = table[cols].apply(pd.to_numeric, errors="coerce")
        small = (values > 0) & (values < 11)
        assert not small.any().any(), f"{path.name}: small counts in {cols}"


def test_no_small_counts_in_report_page(demo: Path) -> None:
    page = (demo / "report.html").read_text()
    cells = re.findall(r'<td class="num">([^<]*)</td>', page)
    assert cells
    for cell in cells:
        if re.fullmatch(r"\d+", cell.replace(",", "")):
            assert not 0 < int(cell.replace(",", "")) < 11 or cell == "0", cell


@pytest.mark.browser
def test_report_opens_offline_in_chromium(demo: Path, chromium: Any) -> None:
    import browser

    url = (demo / "report.html").resolve().as_uri()
    with browser.offline_page(chromium) as (page, outside, errors):
        page.goto(url, wait_until="load")
        for section_id, heading in SECTIONS.items():
            assert page.locator(f"h2#{section_id}").inner_text().strip() == heading
        assert page.locator(".card").count() == 6
        assert page.locator("#key-referrers ~ table").first.locator("tbody tr").count() == 25
        assert page.locator("svg polyline").count() >= 2
        assert page.locator("#views ~ ul a").count() >= 4
        shot = page.screenshot(full_page=True)
    assert outside == [] and errors == []
    colours = browser.png_colours(shot)
    assert browser.non_white_pixels(colours) > 50_000 and len(colours) > 20


def test_report_on_undated_real_data(shared_data: Path, tmp_path: Path) -> None:
    """Nashville Hop Teaming: no dates, so time sections say so instead of failing."""
    nash = shared_data / "hop_teaming_nashville"
    vumc = "1396882205"  # Vanderbilt University Medical Center (to_npi in edges.csv)
    out = tmp_path / "nash"
    code = cli.main(
        [
            "report",
            "--edges",
            str(nash / "edges.csv"),
            "--providers",
            str(nash / "providers.csv"),
            "--focus-ids",
            vumc,
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    page = (out / "report.html").read_text()
    assert page.count("Needs dated referrals") >= 4
    key = pd.read_csv(out / "tables" / "key_referrers.csv", dtype={"source": str})
    assert len(key) > 100 and key["rank"].iloc[0] == 1
    assert (out / "tables" / "share_of_wallet.csv").exists()


def test_report_on_unseen_history_with_other_columns(tmp_path: Path) -> None:
    market = synthetic.generate_market(
        n_providers=400,
        n_months=20,
        seed=11,
        n_competitors=2,
        seasonality=0.3,
        churn_rate=0.1,
        focus="Northside Care",
    )
    events = market.events.rename(
        columns={
            "source": "ref_md",
            "target": "seen_by",
            "date": "svc_dt",
            "patient_id": "member_id",
        }
    )
    events["svc_dt"] = events["svc_dt"].dt.strftime("%m/%d/%Y")
    events.to_csv(tmp_path / "claims.csv", index=False)
    market.providers.rename(columns={"id": "provider_npi"}).to_csv(
        tmp_path / "prov.csv", index=False
    )
    out = tmp_path / "r"
    code = cli.main(
        [
            "report",
            "--events",
            str(tmp_path / "claims.csv"),
            "--source-col",
            "ref_md",
            "--target-col",
            "seen_by",
            "--date-col",
            "svc_dt",
            "--providers",
            str(tmp_path / "prov.csv"),
            "--focus",
            "Northside Care",
            "--capacity",
            "10",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    visits = pd.read_csv(out / "tables" / "outreach_list.csv")
    assert 0 < len(visits) <= 10
    assert "Needs dated referrals" not in (out / "report.html").read_text()


def test_a_focus_given_by_ids_and_its_competitors_are_named_on_the_page(tmp_path: Path) -> None:
    """Without organisations, the focus (given by ids) and the competitors are providers: the
    page names them as the providers table does, the tables keep their ids."""
    pcps = [f"P{i:02d}" for i in range(15)]
    edges = pd.DataFrame(
        [(p, "H1", 40) for p in pcps] + [(p, "H2", 60) for p in pcps],
        columns=["source", "target", "referrals"],
    )
    providers = pd.DataFrame(
        {
            "id": [*pcps, "H1", "H2"],
            "name": [f"Doctor {p}" for p in pcps] + ["Heart One Clinic", "Heart Two Hospital"],
            "specialty": ["Family Medicine"] * 15 + ["Cardiology"] * 2,
        }
    )
    edges.to_csv(tmp_path / "edges.csv", index=False)
    providers.to_csv(tmp_path / "providers.csv", index=False)
    out = tmp_path / "out"
    files = ["--edges", str(tmp_path / "edges.csv"), "--providers", str(tmp_path / "providers.csv")]
    argv = ["report", *files, "--focus-ids", "H1", "--out", str(out), "-q"]
    assert cli.main(argv) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>Referral report — Heart One Clinic</title>" in page
    assert "<b>Heart One Clinic</b> (1 provider)" in page
    leakage = pd.read_csv(out / "tables" / "leakage_by_competitor.csv")
    assert leakage["competitor"].tolist() == ["H2"]
    key = pd.read_csv(out / "tables" / "key_referrers.csv")
    assert set(key["top_competitor"]) == {"H2"}
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", page, flags=re.S)]
    assert "Heart Two Hospital" in cells and "H2" not in cells


def test_outreach_list_by_hand() -> None:
    at_risk = pd.DataFrame(
        {
            "source": ["A", "A", "B", "C"],
            "target": ["F1", "F2", "F1", "F1"],
            "risk": [0.9, 0.5, 0.2, 0.6],
            "at_stake": [30.0, 10.0, 50.0, 5.0],
            "expected_loss": [27.0, 5.0, 10.0, 3.0],
            "reasons": ["referrals are moving to Rival", "no referral for 4 months", "x", "y"],
        }
    )
    providers = pd.DataFrame(
        {
            "id": ["A", "B", "C"],
            "city": ["Zeta", "Alpha", "Alpha"],
            "organization": ["P1", "P2", "P3"],
            "name": ["a", "b", "c"],
        }
    )
    visits = outreach_list(at_risk, providers, capacity=2)
    # A loses 32 expected referrals, B 10, C 3: A and B are visited; Alpha sorts before Zeta.
    assert visits["source"].tolist() == ["B", "A"]
    assert visits.loc[visits["source"] == "A", "ties_at_risk"].item() == 2
    assert "Rival" in visits.loc[visits["source"] == "A", "talking_point"].item()


def test_talking_points() -> None:
    assert "Reconnect" in talking_point("no referral from Dr A for 5 full months")
    assert talking_point("").startswith("Check in")


def test_views_from_the_view_graph_equal_views_of_the_whole_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The report draws its views from the graph induced on the providers they show (no
    # networkx graph of the whole market); the pages must be those of the whole graph.
    from referral_graph import report
    from referral_graph.pipeline import load_network
    from referral_graph.report import _views

    paths = datasets.sample_paths()
    lazy = load_network(events=paths["events"], providers=paths["providers"])
    report.write_report(lazy, tmp_path / "lazy", focus="Riverside Health", capacity=10)
    assert not lazy.graph_built
    whole = load_network(events=paths["events"], providers=paths["providers"])
    monkeypatch.setattr(_views, "_view_graph", lambda net, nodes: net.graph)
    report.write_report(whole, tmp_path / "whole", focus="Riverside Health", capacity=10)
    pages = sorted(p.name for p in (tmp_path / "whole" / "views").glob("*.html"))
    assert pages == sorted(p.name for p in (tmp_path / "lazy" / "views").glob("*.html"))
    assert {"network.html", "at_risk.html", "ego_top_referrer.html"} <= set(pages)
    for name in pages:
        assert (tmp_path / "lazy" / "views" / name).read_bytes() == (
            tmp_path / "whole" / "views" / name
        ).read_bytes(), name


def test_report_is_the_same_with_the_at_risk_work_in_a_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # On large networks the backtest and the at-risk list run in a worker process while the
    # network is scored, and the views and profile parts that need no at-risk table are
    # drawn meanwhile; every table, view, profile and the page must be those of the
    # in-process run, which draws them all after the at-risk list.
    from referral_graph import report
    from referral_graph.pipeline import load_network
    from referral_graph.report import _write

    paths = datasets.sample_paths()
    net = load_network(events=paths["events"], providers=paths["providers"])
    report.write_report(net, tmp_path / "here", focus="Riverside Health", capacity=10, seed=2)
    monkeypatch.setattr(_write, "AT_RISK_WORKER_MIN_TIES", 0)  # the sample is far below it
    with caplog.at_level("INFO", logger="referral_graph"):
        report.write_report(net, tmp_path / "worker", focus="Riverside Health", capacity=10, seed=2)
    # the worker's log records are logged here, once its results are taken: after the
    # whole-network view (drawn meanwhile), before the at-risk view
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Backtest ") for m in messages)
    listed = next(i for i, m in enumerate(messages) if m.startswith("At-risk list at "))
    drawn = {
        name: next(i for i, m in enumerate(messages) if f"views/{name}.html (" in m)
        for name in ("network", "at_risk")
    }
    assert drawn["network"] < listed < drawn["at_risk"]
    here = sorted(p.relative_to(tmp_path / "here") for p in (tmp_path / "here").rglob("*.*"))
    worker = sorted(p.relative_to(tmp_path / "worker") for p in (tmp_path / "worker").rglob("*.*"))
    assert here == worker and Path("tables/at_risk.csv") in here
    assert Path("tables/backtest.csv") in here and Path("tables/outreach_list.csv") in here
    for name in here:
        assert (tmp_path / "here" / name).read_bytes() == (
            tmp_path / "worker" / name
        ).read_bytes(), name


def _reference_market(panel: pd.DataFrame, providers: pd.DataFrame, focus: list[str]) -> Any:
    """The headline's market by plain pandas row selection (the definition, written simply)."""
    specs = providers.set_index("id")["specialty"]
    market_ids = set(specs.index[specs.isin(set(specs.reindex(focus).dropna()))])
    rows = panel.loc[~panel["source"].isin(focus)].copy()
    rows["to_focus"] = rows["target"].isin(focus)
    rows = rows.loc[rows["to_focus"] | rows["target"].isin(market_ids)]
    rows["m"] = rows["month"].dt.year * 12 + rows["month"].dt.month - 1
    return rows


@pytest.mark.parametrize("as_of", [None, "2024-11-01"])
def test_headline_and_monthly_series_match_their_definition(as_of: str | None) -> None:
    from referral_graph.aggregate import edge_panel
    from referral_graph.report import headline_figures, monthly_series

    market = synthetic.generate_market(n_providers=300, n_months=30, seed=4)
    panel = edge_panel(market.events.drop(columns="patient_id"))
    providers = market.providers
    focus = providers.loc[providers["organization"] == market.focus, "id"].tolist()
    segments = pd.DataFrame(
        {"source": providers["id"], "segment": ["loyalist", "splitter", "dissenter"] * 100}
    )
    rows = _reference_market(panel, providers, focus)
    end = (
        rows["m"].max() + 1
        if as_of is None
        else pd.Timestamp(as_of).year * 12 + pd.Timestamp(as_of).month - 1
    )
    first = panel["month"].min().year * 12 + panel["month"].min().month - 1
    got = headline_figures(panel, providers, focus, window=3, as_of=as_of).set_index("measure")
    for column, start in (("current", end - 3), ("previous", end - 6), ("year_ago", end - 15)):
        if start < first:  # the data does not reach back
            assert got[column].isna().all(), column
            continue
        now = rows.loc[(rows["m"] >= start) & (rows["m"] < start + 3)]
        before = rows.loc[(rows["m"] >= start - 12) & (rows["m"] < start) & rows["to_focus"]]
        active = set(now.loc[now["to_focus"], "source"])
        earlier = set(before["source"])
        received = now.loc[now["to_focus"], "referrals"].sum()
        expected = {
            "Referrals received": received,
            "Active referring providers": len(active),
            "Share of wallet": received / now["referrals"].sum(),
            "Leakage to competitors": now.loc[~now["to_focus"], "referrals"].sum(),
            "New referrers": len(active - earlier) if start - 12 >= first else float("nan"),
            "Lost referrers": len(earlier - active) if start - 12 >= first else float("nan"),
        }
        assert got[column].to_dict() == pytest.approx(expected, nan_ok=True), column
    monthly = monthly_series(panel, providers, focus, segments=segments).set_index("month")
    by_month = rows.groupby(["month", "to_focus"])["referrals"].sum().unstack(fill_value=0)
    assert monthly["to_focus"].tolist() == by_month[True].tolist()
    assert monthly["to_competitors"].tolist() == by_month[False].tolist()
    seg = rows.loc[rows["to_focus"]].merge(segments, on="source")
    for name in ("loyalist", "splitter", "dissenter"):
        per = seg.loc[seg["segment"] == name].groupby("month")["referrals"].sum()
        assert (
            monthly[f"to_focus_{name}"].tolist()
            == per.reindex(monthly.index, fill_value=0).tolist()
        )


def test_build_report_uses_given_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    """scores= is used as given (write_report scores once, then writes them while it goes on)."""
    from referral_graph import scores as scores_module
    from referral_graph.leakage import resolve_focus
    from referral_graph.pipeline import load_network
    from referral_graph.report import build_report

    paths = datasets.sample_paths()
    net = load_network(events=paths["events"], providers=paths["providers"])
    ids = resolve_focus(net.providers, focus=datasets.SAMPLE_FOCUS)
    given = scores_module.score_network(net, focus_ids=ids)
    expected = build_report(net, focus=datasets.SAMPLE_FOCUS)

    def no_scoring(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("score_network called although scores were given")

    monkeypatch.setattr(scores_module, "score_network", no_scoring)
    report = build_report(net, focus=datasets.SAMPLE_FOCUS, scores=given)
    assert all(report.tables[name] is table for name, table in given.items())
    assert report.tables.keys() == expected.tables.keys()
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(report.tables[name], table, obj=name)


def test_trust_section_names_the_best_rule_and_says_when_the_model_loses() -> None:
    """The page's words follow the backtest: a fixed table where a rule wins at the top."""
    from referral_graph import churn
    from referral_graph._pages import macro
    from referral_graph.report._page import _margins

    def _margins_paragraph(margins: pd.DataFrame) -> str:
        return macro("margins")(_margins(margins))

    table = pd.DataFrame(
        {
            "method": ["model", "days_since_last", "volume_drop"],
            "roc_auc": [0.70, 0.62, 0.55],
            "precision_at_25": [0.30, 0.36, 0.20],
        }
    )
    text = _margins_paragraph(churn.rule_margins(table))
    assert "strongest simple rule on this data is <b>days_since_last</b>" in text
    assert "ROC-AUC +0.08" in text and "precision@25 -0.06" in text
    assert (
        "does not beat the rules" in text and "sorting the active ties by days_since_last" in text
    )
    ahead = table.assign(precision_at_25=[0.40, 0.36, 0.20])
    text = _margins_paragraph(churn.rule_margins(ahead))
    assert "the model is ahead on every measure" in text and "does not beat" not in text


def test_report_says_which_ranking_orders_the_at_risk_list(demo: Path) -> None:
    """The backtest runs first and decides the ranking; the page says which and why."""
    page = (demo / "report.html").read_text()
    assert "The list is ranked by" in page
    assert "among the first 25 ties of the backtest" in page


def test_csv_outputs_are_spreadsheet_safe_and_pages_escape_names(tmp_path: Path) -> None:
    """Issue 15, item 8: a provider name that is a formula does not run when a CSV is opened."""
    market = synthetic.generate_market(n_providers=300, n_months=18, seed=5, focus="Northside Care")
    providers = market.providers.copy()
    formulas = ['=HYPERLINK("http://evil.example","Dr. {}")', "+cmd|' /C calc'!A{}", "@SUM(A{})"]
    tags = "<img src=x onerror=alert({})>"
    providers["name"] = [
        (formulas[i % 3] if i % 4 else tags).format(i) for i in range(len(providers))
    ]
    out = report_of(market.events, providers, tmp_path, focus="Northside Care")
    checked = 0
    for table in sorted((out / "tables").glob("*.csv")):
        with open(table, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    checked += 1
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        float(cell)  # only a plain number may start so
    names_written = sum(
        "'=HYPERLINK" in p.read_text(encoding="utf-8") for p in (out / "tables").glob("*.csv")
    )
    assert checked > 1000 and names_written >= 2  # the names are there, neutralised
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img src=x onerror" not in page
    for view in (out / "views").glob("*.html"):
        assert "<img src=x onerror" not in view.read_text(encoding="utf-8"), view.name


def test_tables_show_the_provider_id_where_there_is_no_name() -> None:
    """Issue 15, item 7: data without names still names every provider on the page."""
    from referral_graph._pages import macro
    from referral_graph.report._blocks import _table

    spec = [("rank", "#", "text"), ("name", "Referrer", "text"), ("to_focus", "Referrals", "count")]
    no_names = pd.DataFrame({"rank": [1, 2], "source": ["1234567893", "X-9"], "to_focus": [40, 12]})
    html = macro("table")(_table(no_names, spec, threshold=11))
    assert "<th data-search>Referrer</th>" in html  # the search box reads names
    assert "<td>1234567893</td>" in html and "<td>X-9</td>" in html
    some_names = no_names.assign(name=["Dr. Ada", None])
    html = macro("table")(_table(some_names, spec, threshold=11))
    assert "<td>Dr. Ada</td>" in html and "<td>X-9</td>" in html
    assert "<td>12</td>" not in html  # the small count stays hidden


def test_demo_outputs_pass_the_privacy_scanner(demo: Path) -> None:
    """Issue 15: every file the demo writes (tables, page, views, graph) passes the scanner."""
    from privacy_scan import scan_outputs

    sample = pd.read_csv(datasets.sample_paths()["events"], usecols=["patient_id"], dtype=str)
    problems, n_files = scan_outputs(demo, patient_ids=sample["patient_id"].unique())
    assert n_files >= 20
    assert problems == []


def test_the_link_scores_written_are_those_of_the_ties_shown(demo: Path) -> None:
    """docs/privacy.md: providers.csv's PageRank is computed on ties.csv as it reads, each
    hidden count taken as half the threshold (5.5). Oracle: networkx on ties.csv."""
    ties = pd.read_csv(demo / "tables" / "ties.csv", dtype={"source": str, "target": str})
    providers = pd.read_csv(demo / "tables" / "providers.csv", dtype={"id": str})
    assert ties["referrals"].isna().sum() > 1000  # the demo hides many
    G = nx.DiGraph()
    G.add_nodes_from(providers["id"])
    G.add_weighted_edges_from(
        zip(ties["source"], ties["target"], ties["referrals"].fillna(5.5), strict=True),
        weight="referrals",
    )
    expected = nx.pagerank(G, weight="referrals", tol=1e-13, max_iter=10_000)
    written = providers.set_index("id")["pagerank"]
    np.testing.assert_allclose(written.to_numpy(), [expected[i] for i in written.index], rtol=1e-6)


def test_at_risk_rows_on_the_page_say_which_are_flagged(demo: Path) -> None:
    """Issue 19, item 7: "Flagged: 25" above 40 rows, none of them marked."""
    risk = pd.read_csv(demo / "tables" / "at_risk.csv")
    page = (demo / "report.html").read_text(encoding="utf-8")
    section = page[page.index('id="at-risk"') : page.index('id="outreach-list"')]
    shown = min(len(risk), 40)
    assert section.count("<td>flagged</td>") == int(risk["flagged"].head(shown).sum())
    assert "# is the visiting order" in page


def test_views_of_one_report_colour_each_category_alike(demo: Path) -> None:
    """Issue 19, item 6: one specialty had three colours in three views of one report."""
    colours: dict[str, set[str]] = {}
    n_views = 0
    for view in sorted((demo / "views").glob("*.html")):
        html = view.read_text(encoding="utf-8")
        items = re.findall(r"background:\s*(#[0-9a-fA-F]{6})[^>]*></span>\s*([^<]+)<", html)
        n_views += bool(items)
        for colour, label in items:
            if not label.strip().startswith("Other"):
                colours.setdefault(label.strip(), set()).add(colour.lower())
    assert n_views >= 4 and len(colours) >= 8
    assert {label: c for label, c in colours.items() if len(c) > 1} == {}


#: Where each table the report writes is shown on its page (heading, and what the section
#: holds), and the tables written for the CSV alone: written by hand from the page, so that
#: a section dropped from the page, or a new table in neither list, fails (issue 19).
ON_PAGE = {
    "changes": ("Since the last report", "<table"),
    "headline": ("Headline", "Referrals received"),
    "key_referrers": ("Key referrers", "<table"),
    "leakage_by_specialty": ("By specialty", "<table"),
    "leakage_by_competitor": ("By competitor", "<table"),
    "at_risk": ("At-risk ties", "<table"),
    "backtest": ("How far to trust the flags", "<table"),
    "outreach_list": ("This week's outreach list", "<table"),
    "prospects": ("Prospects", "<table"),
    "outreach_effect": ("Outreach impact", "relative to comparable referrers"),
    "liaisons": ("Outreach impact", "<table"),
    "monthly_trend": ("Monthly trends", "<svg"),
}
CSV_ONLY = {
    "communities",
    "leakage_by_referrer_organization",
    "providers",
    "share_by_specialty",
    "share_of_wallet",
    "ties",
}


def test_every_table_written_is_on_the_page_or_listed_as_csv_only(demo: Path) -> None:
    written = {p.stem for p in (demo / "tables").glob("*.csv")}
    assert written == set(ON_PAGE) | CSV_ONLY
    page = (demo / "report.html").read_text(encoding="utf-8")
    for name, (heading, holds) in ON_PAGE.items():
        start = page.find(f">{heading}</h")
        assert start >= 0, f"{name}: no section {heading!r} on the page"
        level = int(page[start + len(heading) + 4])  # ">Heading</hN>": the section ends
        rest = page[start + len(heading) + 6 :]  # at the next heading of its level or above
        ends = [i for i in (rest.find(f"<h{k}") for k in range(2, level + 1)) if i >= 0]
        section = rest[: min(ends)] if ends else rest
        assert holds in section, f"{name}: the section {heading!r} does not show it"


def test_outreach_list_visits_the_largest_expected_losses() -> None:
    """Issue 19: an outreach list sorted the wrong way was caught by no test. Without
    relationship values the priority orders referrers by summed expected loss, so the
    visits are the `capacity` largest losses, written out here by hand."""
    losses = {f"R{i:02d}": float(i) for i in range(1, 31)}  # R30 loses most
    at_risk = pd.DataFrame(
        {
            "source": list(losses),
            "target": "F1",
            "risk": 0.5,
            "at_stake": [2 * v for v in losses.values()],
            "expected_loss": list(losses.values()),
            "reasons": "no referral for 4 months",
        }
    )
    providers = pd.DataFrame({"id": list(losses), "city": "Alpha", "organization": "P"})
    visits = outreach_list(at_risk, providers, capacity=5)
    assert set(visits["source"]) == {"R30", "R29", "R28", "R27", "R26"}
    # within one town and practice, the visiting order follows priority
    assert visits["source"].tolist() == ["R30", "R29", "R28", "R27", "R26"]


def test_headline_cards_do_not_colour_a_difference_with_a_small_count() -> None:
    """A card's comparison is coloured better / worse only when both counts are shown: the
    colour beside '<11' would tell which way a hidden count differs (by hand)."""
    from referral_graph.report._blocks import _cards

    headline = pd.DataFrame(
        {
            "measure": ["Referrals received", "Active referring providers"],
            "current": [5.0, 50.0],
            "previous": [8.0, 40.0],
            "year_ago": [30.0, 60.0],
            "unit": ["count", "count"],
        }
    )
    small, shown = _cards(headline, threshold=11, window=3)
    assert [(d.tone, d.shown) for d in small.deltas] == [("", "<11"), ("", "30")]
    assert [(d.tone, d.shown) for d in shown.deltas] == [("better", "40"), ("worse", "60")]


def test_the_at_risk_worker_imports_neither_the_report_nor_networkx() -> None:
    """The worker process beside the report unpickles ``_report_at_risk.at_risk_tables``:
    importing it (and the churn step it runs) must not import the report package, the
    pipeline or networkx, seconds of the worker's start."""
    import subprocess
    import sys

    code = (
        "import sys, referral_graph._report_at_risk, referral_graph.churn; "
        "print(sorted(m for m in ('referral_graph.report', 'referral_graph.pipeline', "
        "'networkx', 'jinja2') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tooltips_leave_out_the_referrals_providers_csv_leaves_out(demo: Path) -> None:
    """A provider's referrals sent or received that ``providers.csv`` hides by complementary
    suppression (not small) are hidden in every view's and profile's tooltip too; before,
    72 tooltips of the demo showed them (e.g. 12 referrals sent, its ties 1, 1, 5, 3, 2)."""
    import html

    providers = pd.read_csv(demo / "tables" / "providers.csv", dtype={"id": str})
    left_out = {
        col: set(providers.loc[providers[col].isna(), "id"])
        for col in ("in_strength", "out_strength")
    }
    tooltip = re.compile(
        r"ID: (\d+)\n(?:[^\n]*\n){0,8}?Referrals received: ([^\n\"]+)\n"
        r"Referrals sent: ([^\n\"]+)"
    )
    seen, shown = 0, []
    pages = [*(demo / "views").glob("*.html"), *(demo / "profiles").glob("*.html")]
    for page in pages:
        text = html.unescape(page.read_text(encoding="utf-8")).replace("\\n", "\n")
        for pid, received, sent in tooltip.findall(text):
            seen += 1
            for col, value in (("in_strength", received), ("out_strength", sent)):
                if pid in left_out[col] and re.fullmatch(r"[\d,]+", value):
                    shown.append((page.name, pid, col, value))
    assert seen > 1000
    assert shown == []
