"""The report's tables work like a tool: sort, search, pages (``templates/tables.js``).

The fast tests read the page in Python: the script is inlined once, the page's
Content-Security-Policy allows exactly its hash, and the table macro marks what the
search box reads. The browser tests (marked ``browser``) drive Debian's Chromium on
a report of a small synthetic market and check what a liaison sees against the CSV
tables written beside the page (``tables/*.csv``), an oracle independent of the script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_pages import awkward_report
from test_report import report_of

from referral_graph import _pages, synthetic
from referral_graph._pages import TABLES_SCRIPT, inline_script
from referral_graph.report import render_html
from referral_graph.report._blocks import _table

PAGE_SIZE = 25
#: The columns of the key-referrer table the search box reads, and its provider id.
KEY_SEARCH = ["name", "specialty", "organization", "source"]

# --------------------------------------------------------------------------- in Python


def _csp(page: str) -> str:
    match = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert match is not None
    return match[1].replace("&#39;", "'")


def test_report_inlines_the_tables_script_allowed_by_its_hash_only() -> None:
    page = render_html(awkward_report())
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    source = (Path(_pages.__file__).parent / "templates" / TABLES_SCRIPT).read_text("utf-8")
    assert scripts == [source]  # once, as the file is
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode()
    script_src = re.search(r"script-src ([^;]*)", _csp(page))
    assert script_src is not None and script_src[1] == f"'sha256-{digest}'"
    assert "unsafe-inline" not in script_src[1] and "default-src 'none'" in _csp(page)
    assert page.index("<script>") > page.index("</main>")  # after the tables it enhances


def test_the_script_asks_for_nothing_and_stays_small() -> None:
    source = str(inline_script(TABLES_SCRIPT).text)
    for network in ("fetch(", "XMLHttpRequest", "import(", "WebSocket", "http:", "https:", "src"):
        assert network not in source
    assert ".innerHTML" not in source  # cells are moved, never rebuilt from text
    assert len(source) < 16_000


def test_a_script_that_could_close_its_element_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inline_script.cache_clear()
    monkeypatch.setattr(_pages, "_source", lambda name: 'var a = "</script>";')
    try:
        with pytest.raises(ValueError, match="must not contain"):
            inline_script("bad.js")
    finally:
        inline_script.cache_clear()


def test_pages_without_scripts_keep_the_strict_policy() -> None:
    page = _table_page(pd.DataFrame({"name": ["a", "b"]}), [("name", "Name", "text")], scripts=[])
    assert "<script" not in page and "script-src" not in _csp(page)


def test_the_table_marks_what_the_search_box_reads() -> None:
    report = awkward_report()
    page = render_html(report)
    key = page.split('id="key-referrers"')[1].split("</table>")[0]
    headings = re.findall(r"<th( data-search)?>([^<]*)</th>", key)
    assert [h for flag, h in headings if flag] == ["Referrer", "Specialty", "Practice"]
    ids = re.findall(r'<tr data-ids="(\d+)">', key)
    assert ids == list(report.tables["key_referrers"]["source"].head(25))
    risk = page.split('id="at-risk"')[1].split("</table>")[0]
    assert re.search(r'<tr data-ids="\d+ F1">', risk)  # the referrer and our provider
    visits = page.split('id="outreach-list"')[1].split("</table>")[0]
    assert visits.count('<tr class="group" data-search="town, practice">') == 3


# --------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of a small synthetic market (300 providers): at-risk ties fill two pages."""
    market = synthetic.generate_market(n_providers=300, n_months=18, seed=3)
    folder = tmp_path_factory.mktemp("tables")
    return report_of(market.events, market.providers, folder, focus="Riverside Health")


def _csv(report_dir: Path, name: str) -> pd.DataFrame:
    ids = {"source": str, "target": str, "id": str}
    return pd.read_csv(report_dir / "tables" / f"{name}.csv", dtype=ids)


class Page:
    """A page opened in Chromium; every request that is not for a file is recorded."""

    def __init__(self, chromium: Any, path: Path, **context: Any) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context = chromium.new_context(viewport={"width": 1280, "height": 1000}, **context)
        self.context.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        self.page = self.context.new_page()
        self.page.on("request", self._request)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def _request(self, request: Any) -> None:
        if not request.url.startswith(("file:", "data:")):
            self.outside.append(request.url)

    def table(self, section: str) -> Any:
        """The first table after the heading `section` (an id)."""
        return self.page.locator(f"#{section} ~ table").first

    def tools(self, section: str) -> Any:
        return self.page.locator(f"#{section} ~ .rg-tools").first

    def visible_cells(self, section: str, column: int) -> list[str]:
        """The text of `column` in the table's visible data rows, in order."""
        texts: list[str] = self.table(section).evaluate(
            """(table, column) => Array.from(table.tBodies[0].rows)
                .filter((tr) => !tr.hidden && !tr.classList.contains("group"))
                .map((tr) => tr.cells[column].textContent.trim())""",
            column,
        )
        return texts

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(chromium: Any, report_dir: Path) -> Iterator[Page]:
    opened = Page(chromium, report_dir / "report.html")
    opened.page.wait_for_function("() => window.__rg_tables_ready_ms !== undefined")
    yield opened
    opened.close()
    assert opened.outside == [], f"requests left the page: {opened.outside}"
    assert opened.errors == []


def _contains(frame: pd.DataFrame, columns: list[str], query: str) -> pd.Series:
    """Rows where any of `columns` holds `query` (case-insensitive), as the search box reads."""
    text = frame[columns].fillna("").astype(str)
    return text.apply(lambda c: c.str.lower().str.contains(query.lower(), regex=False)).any(axis=1)


@pytest.mark.browser
def test_search_the_key_referrers_by_name(page: Page, report_dir: Path) -> None:
    shown = _csv(report_dir, "key_referrers").head(PAGE_SIZE)
    # A part of a name that a few referrers share and no practice, specialty or id holds.
    candidates = sorted({n.split()[-1][:4] for n in shown["name"]} | {n[:5] for n in shown["name"]})
    query = next(
        q
        for q in candidates
        if 2 <= _contains(shown, ["name"], q).sum() <= 10
        and _contains(shown, ["name"], q).equals(_contains(shown, KEY_SEARCH, q))
    )
    expected = shown.loc[_contains(shown, ["name"], query), "name"].tolist()
    search = page.tools("key-referrers").locator("input[type=search]")
    search.fill(query.upper())  # case-insensitive
    assert page.visible_cells("key-referrers", 1) == expected
    status = page.tools("key-referrers").locator(".rg-status").inner_text()
    assert status.startswith(f"Rows 1–{len(expected)} of {len(expected)} matching")
    # An id finds its referrer though the table does not show ids.
    search.fill(str(shown["source"].iloc[7]))
    assert page.visible_cells("key-referrers", 1) == [shown["name"].iloc[7]]
    search.fill("no such provider")
    assert page.visible_cells("key-referrers", 1) == []
    assert page.tools("key-referrers").locator(".rg-status").inner_text().startswith("No rows")
    search.press("Escape")  # clears the search
    assert len(page.visible_cells("key-referrers", 1)) == len(shown)


@pytest.mark.browser
def test_search_the_outreach_list_by_town(page: Page, report_dir: Path) -> None:
    visits = _csv(report_dir, "outreach_list")
    town = str(visits["town"].dropna().iloc[-1])
    columns = ["town", "practice", "name", "specialty", "source"]
    expected = visits.loc[_contains(visits, columns, town), "name"].tolist()
    assert 0 < len(expected) < len(visits)
    page.tools("outreach-list").locator("input[type=search]").fill(town)
    assert page.visible_cells("outreach-list", 1) == expected
    heads = page.table("outreach-list").locator("tr.group:not([hidden])").all_inner_texts()
    assert heads and all(town.lower() in h.lower() for h in heads)  # only their groups


@pytest.mark.browser
def test_sort_the_outreach_list_within_its_groups(chromium: Any, tmp_path: Path) -> None:
    """The visits stay under their town · practice heading, sorted there by priority (the list
    puts the highest first in each practice: ascending reverses that). A hand-made list, so
    that every group but one holds several visits whatever a model ranks first."""
    visits = pd.DataFrame(
        {
            "visit_order": range(1, 8),
            "source": [str(1000000000 + i) for i in range(7)],
            "name": [f"Dr. {c}" for c in "ABCDEFG"],
            "specialty": ["Cardiology"] * 7,
            "ties_at_risk": [1, 2, 1, 3, 1, 1, 2],
            "priority": [0.9, 0.6, 0.3, 0.8, 0.7, 0.5, 0.4],
            "expected_loss": [50, 40, 30, 20, 15, 12, 11],
            "reason": ["why"] * 7,
            "talking_point": ["ask"] * 7,
            "town": ["Lakeview"] * 3 + ["Fairhaven"] * 2 + [None, None],
            "practice": ["Orman FP"] * 3 + [None] * 2 + ["Riini IM", "Riini IM"],
        }
    )
    report = awkward_report()
    report.tables["outreach_list"] = visits
    path = tmp_path / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    opened = Page(chromium, path)
    try:
        table = opened.table("outreach-list")
        heads = table.locator("tr.group").all_inner_texts()
        assert heads == [
            "Lakeview · Orman FP",
            "Fairhaven · independent",
            "Unknown town · Riini IM",
        ]
        assert opened.visible_cells("outreach-list", 1) == visits["name"].tolist()
        table.locator("th button", has_text="Priority").click()  # ascending: the lowest first
        assert table.locator("tr.group").all_inner_texts() == heads  # the groups keep their order
        # worked by hand: each group's visits from the lowest priority up
        expected = ["Dr. C", "Dr. B", "Dr. A", "Dr. E", "Dr. D", "Dr. G", "Dr. F"]
        assert opened.visible_cells("outreach-list", 1) == expected
        table.locator("th button", has_text="Priority").click()  # descending: as listed
        assert opened.visible_cells("outreach-list", 1) == visits["name"].tolist()
    finally:
        opened.close()
    assert opened.outside == [] and opened.errors == []


def _shown_share(frame: pd.DataFrame) -> pd.Series:
    """Share of wallet as the page shows it: a whole percentage (suppressed: missing)."""
    return (100 * frame["share"]).round()


@pytest.mark.browser
def test_sort_the_key_referrers_by_share_of_wallet(page: Page, report_dir: Path) -> None:
    """The page sorts what it shows (whole percentages; equal ones keep their order),
    missing shares last: the CSV sorted by pandas the same way gives the same order."""
    shown = _csv(report_dir, "key_referrers").head(PAGE_SIZE)
    shown = shown.assign(shown_share=_shown_share(shown))
    table = page.table("key-referrers")
    button = table.locator("th button", has_text="Share of wallet")
    heading = table.locator("th", has_text="Share of wallet")
    for direction, ascending in (("ascending", True), ("descending", False)):
        button.click()
        expected = shown.sort_values(
            "shown_share", ascending=ascending, kind="stable", na_position="last"
        )
        assert page.visible_cells("key-referrers", 1) == expected["name"].tolist()
        assert heading.get_attribute("aria-sort") == direction
        assert table.locator("th[aria-sort]").count() == 1
    assert shown["shown_share"].nunique() > 5  # a real sort, not the rank order


@pytest.mark.browser
def test_page_through_the_at_risk_ties(page: Page, report_dir: Path) -> None:
    at_risk = _csv(report_dir, "at_risk")
    total = min(len(at_risk), 40)  # the page shows the first 40 (all in the CSV)
    assert total > PAGE_SIZE
    tools = page.tools("at-risk")
    everything = page.table("at-risk").evaluate(
        "t => Array.from(t.tBodies[0].rows).map(r => r.cells[1].textContent.trim())"
    )
    assert len(everything) == total
    assert page.visible_cells("at-risk", 1) == everything[:PAGE_SIZE]
    assert tools.locator(".rg-status").inner_text() == f"Rows 1–{PAGE_SIZE} of {total}"
    previous, next_ = (
        tools.locator("button", has_text="Previous"),
        tools.locator("button", has_text="Next"),
    )
    assert previous.get_attribute("aria-disabled") == "true"
    next_.click()
    assert page.visible_cells("at-risk", 1) == everything[PAGE_SIZE:]
    assert tools.locator(".rg-status").inner_text() == f"Rows {PAGE_SIZE + 1}–{total} of {total}"
    assert next_.get_attribute("aria-disabled") == "true"
    next_.click(force=True)  # aria-disabled: stays on the last page
    assert page.visible_cells("at-risk", 1) == everything[PAGE_SIZE:]
    previous.click()
    assert page.visible_cells("at-risk", 1) == everything[:PAGE_SIZE]
    # The count is of the rows that match: our providers' names and the referrers' ids.
    providers = _csv(report_dir, "providers").drop_duplicates("id").set_index("id")["name"]
    risk = at_risk.head(total).assign(
        source_name=lambda f: f["source"].map(providers).fillna(f["source"]),
        target_name=lambda f: f["target"].map(providers).fillna(f["target"]),
    )
    query = str(risk["target_name"].value_counts().index[0])
    matches = int(_contains(risk, ["source_name", "target_name", "source", "target"], query).sum())
    tools.locator("input[type=search]").fill(query)
    end = min(matches, PAGE_SIZE)
    assert tools.locator(".rg-status").inner_text() == (
        f"Rows 1–{end} of {matches} matching “{query}” ({total} in the table)"
    )
    assert len(page.visible_cells("at-risk", 1)) == end


@pytest.mark.browser
def test_sort_with_the_keyboard(page: Page) -> None:
    tools, table = page.tools("key-referrers"), page.table("key-referrers")
    tools.locator("input[type=search]").focus()
    page.page.keyboard.press("Tab")  # from the search box to the first heading's button
    focused = page.page.evaluate(
        """() => ({tag: document.activeElement.tagName,
                   parent: document.activeElement.parentElement.tagName,
                   text: document.activeElement.textContent,
                   outline: getComputedStyle(document.activeElement).outlineStyle})"""
    )
    assert focused["tag"] == "BUTTON" and focused["parent"] == "TH"
    assert focused["text"].startswith("#") and focused["outline"] == "solid"  # focus visible
    for _ in range(3):  # to "Practice"
        page.page.keyboard.press("Tab")
    page.page.keyboard.press("Enter")
    heading = table.locator("th[aria-sort]")
    assert heading.inner_text().startswith("Practice")
    assert heading.get_attribute("aria-sort") == "ascending"
    practices = page.visible_cells("key-referrers", 3)
    assert practices == sorted(practices, key=str.lower)
    page.page.keyboard.press("Space")
    assert heading.get_attribute("aria-sort") == "descending"


@pytest.mark.browser
def test_print_and_no_script_show_every_row(chromium: Any, report_dir: Path) -> None:
    """Print: every row, no control. Without JavaScript: the page as it is, every row."""
    opened = Page(chromium, report_dir / "report.html")
    try:
        opened.tools("at-risk").locator("button", has_text="Next").click()
        opened.page.emulate_media(media="print")
        rows = opened.table("at-risk").locator("tbody tr")
        assert all(rows.nth(i).is_visible() for i in range(rows.count()))
        assert not opened.page.locator(".rg-tools").first.is_visible()
    finally:
        opened.close()
    plain = Page(chromium, report_dir / "report.html", java_script_enabled=False)
    try:
        rows = plain.table("at-risk").locator("tbody tr")
        assert rows.count() > PAGE_SIZE
        assert all(rows.nth(i).is_visible() for i in range(rows.count()))
        assert plain.page.locator(".rg-tools, button").count() == 0
    finally:
        plain.close()
    assert opened.outside == plain.outside == []


def _table_page(
    frame: pd.DataFrame,
    columns: list[tuple[str, str, str]],
    *,
    scripts: Sequence[str] = (TABLES_SCRIPT,),
) -> str:
    """A page of one table drawn by the report's macro, on the shared layout."""
    template = _pages.environment().from_string(
        '{% extends "base.html.j2" %}{% import "macros.html.j2" as m %}'
        "{% block body %}<main><h2 id=table>Table</h2>{{ m.table(table) }}</main>{% endblock %}"
    )
    return template.render(
        stylesheet=_pages.stylesheet(),
        scripts=[inline_script(name) for name in scripts],
        title="A table",
        table=_table(frame, columns, threshold=11),
    )


@pytest.mark.browser
def test_suppressed_and_missing_cells_and_dates_sort_sensibly(
    chromium: Any, tmp_path: Path
) -> None:
    """Counts: 0 < "<11" (1 to 10) < 11 < 12,345; "–" last both ways; dates by date."""
    frame = pd.DataFrame(
        {
            "name": ["Dr. 10", "Dr. 9", "dr. b", "Dr. a", "Dr. 100", "Dr. 2"],
            "count": [12345, 3, None, 0, 11, 7],
            "date": ["2024-03-01", "2023-12-31", None, "2024-01-15", "2025-01-01", "2024-02-29"],
            "month": ["Mar 2024", "Dec 2023", "–", "Jan 2024", "Jan 2025", "Feb 2024"],
        }
    )
    columns = [("name", "Name", "text"), ("count", "Count", "count"),
               ("date", "Date", "text"), ("month", "Month", "text")]  # fmt: skip
    path = tmp_path / "table.html"
    path.write_text(_table_page(frame, columns), encoding="utf-8")
    opened = Page(chromium, path)
    try:
        table = opened.page.locator("table")

        def order(heading: str) -> list[str]:
            table.locator("th button", has_text=heading).click()
            return opened.visible_cells("table", 0)

        assert order("Count") == ["Dr. a", "Dr. 9", "Dr. 2", "Dr. 100", "Dr. 10", "dr. b"]
        assert order("Count") == ["Dr. 10", "Dr. 100", "Dr. 9", "Dr. 2", "Dr. a", "dr. b"]
        by_date = ["Dr. 9", "Dr. a", "Dr. 2", "Dr. 10", "Dr. 100", "dr. b"]
        assert order("Date") == by_date
        assert order("Month") == by_date
        assert order("Name") == ["Dr. 2", "Dr. 9", "Dr. 10", "Dr. 100", "Dr. a", "dr. b"]
    finally:
        opened.close()
    assert opened.outside == [] and opened.errors == []
