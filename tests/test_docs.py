"""The documentation in ``docs/`` and ``mkdocs.yml``: it builds, its examples run, it is complete.

* The site builds with ``mkdocs build --strict`` (warnings are errors), and the built pages
  load nothing from the network. Skipped when mkdocs or mkdocstrings is not installed
  (``pip install -e ".[docs]"``), unless ``REFERRAL_GRAPH_REQUIRE_DOCS=1``.
* Every code block of every page runs, following the convention of
  ``docs/CONTRIBUTING_NOTES.md`` ("Code blocks in the documentation"):

  - a ```` ```python ```` block runs; the blocks of one page run in order in one fresh
    namespace, with the working directory a fresh temporary folder that holds a
    ``sample_data`` link to the bundled sample;
  - a ```` ```bash ```` block whose first command starts with ``referral-graph`` runs, one
    command after another, through :func:`referral_graph.cli.main` (exit code 0 required),
    in the same folder, after the page's earlier blocks;
  - a block whose fence carries the class ``no-run`` (```` ```{.python .no-run} ````,
    ```` ```{.bash .no-run} ````) is shown and not run: commands on the reader's own
    files, long jobs.
* ``docs/cli.md`` names every command, option and choice of
  :func:`referral_graph.cli.build_parser`.
* The column lists of ``docs/data-formats.md`` (each table after a
  ``<!-- columns: NAME -->`` marker) are the columns the code produces on the bundled sample.
* The backtest table quoted in ``docs/methodology.md`` is what its command prints.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from referral_graph.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
NO_RUN = "no-run"


# ----------------------------------------------------------------------------- code blocks


@dataclass
class Block:
    """One fenced code block of a page."""

    page: str
    line: int  # line of the opening fence (1-based)
    lang: str
    classes: tuple[str, ...]
    code: str

    @property
    def runs(self) -> bool:
        if NO_RUN in self.classes:
            return False
        if self.lang == "python":
            return True
        commands = _commands(self) if self.lang == "bash" else []
        return bool(commands) and commands[0][0] == "referral-graph"

    def where(self) -> str:
        place = self.page if self.page == "README.md" else f"docs/{self.page}"
        return f"{place}, block at line {self.line}"


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


def _parse_info(info: str) -> tuple[str, tuple[str, ...]]:
    """``python`` -> ("python", ()); ``{.python .no-run}`` -> ("python", ("no-run",))."""
    info = info.strip()
    if info.startswith("{") and info.endswith("}"):
        classes = [t[1:] for t in info[1:-1].split() if t.startswith(".")]
        return (classes[0] if classes else ""), tuple(classes[1:])
    words = info.split()
    return (words[0] if words else ""), ()


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


def code_blocks(page: str) -> list[Block]:
    """The fenced code blocks of ``docs/<page>`` (or of the README), in order (indented fences
    are dedented)."""
    path = ROOT / page if page == "README.md" else DOCS / page
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or not m["info"].strip():
            i += 1
            continue
        lang, classes = _parse_info(m["info"])
        fence, indent = m["fence"], m["indent"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"docs/{page}: unclosed code fence at line {i + 1}")
        blocks.append(Block(page, i + 1, lang, classes, textwrap.dedent("\n".join(body))))
        i = j + 1
    return blocks


def _commands(block: Block) -> list[list[str]]:
    """The shell commands of a bash block: continuation lines joined, comments dropped."""
    joined = block.code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder with ``sample_data`` pointing at the bundled sample."""
    from referral_graph import datasets

    (tmp_path / "sample_data").symlink_to(datasets.sample_dir(), target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_python(block: Block, namespace: dict[str, object]) -> None:
    code = compile(block.code, f"<{block.where()}>", "exec")
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    except Exception as exc:
        raise AssertionError(
            f"{block.where()} failed: {type(exc).__name__}: {exc}\n--- code ---\n{block.code}"
        ) from exc


def _run_cli(argv: list[str], where: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors
            code = exc.code if isinstance(exc.code, int) else 2
    assert code == 0, (
        f"{where}: `referral-graph {shlex.join(argv)}` exited with {code}\n"
        f"stdout:\n{out.getvalue()}\nstderr:\n{err.getvalue()}"
    )
    return out.getvalue()


def _run_bash(block: Block) -> None:
    for words in _commands(block):
        assert words[0] == "referral-graph", (
            f"{block.where()}: a runnable bash block may hold only referral-graph commands "
            f"(got {words[0]!r}); mark the block {{.bash .no-run}} or split it"
        )
        _run_cli(words[1:], block.where())


RUNNABLE = [page for page in PAGES if any(b.runs for b in code_blocks(page))]


@pytest.mark.parametrize("page", RUNNABLE)
def test_code_blocks_run(page: str, workdir: Path) -> None:
    """Every runnable code block of the page runs, in page order (see the module docstring)."""
    namespace: dict[str, object] = {"__name__": f"docs_{Path(page).stem}"}
    for block in code_blocks(page):
        if not block.runs:
            continue
        if block.lang == "python":
            _run_python(block, namespace)
        else:
            _run_bash(block)


def _readme_stand_ins(folder: Path) -> None:
    """The user's files README's "Your own data" names, generated from the bundled sample.

    Its busiest referrer takes the id the README's ego view names (1234567893); the taxonomy
    is the package's own code set in NUCC's layout; the CMS file is the sample's ties in the
    header-less CMS layout, and the NPPES file its providers under NPPES's column names; the
    workbooks and the renamed extract hold the same rows.
    """
    import csv

    from referral_graph import datasets, taxonomy
    from referral_graph.io._nppes import NEEDED

    paths = datasets.sample_paths()
    events = pd.read_csv(paths["events"], dtype=str)
    providers = pd.read_csv(paths["providers"], dtype=str)
    busiest = events["source"].value_counts().index[0]
    assert "1234567893" not in set(providers["id"])
    relabel = {busiest: "1234567893"}
    for col in ("source", "target"):
        events[col] = events[col].replace(relabel)
    providers["id"] = providers["id"].replace(relabel)
    events.to_csv(folder / "my_referrals.csv", index=False)
    providers.to_csv(folder / "my_providers.csv", index=False)
    # "Run it every week": the history to May 2026, then June's extract (May again: overlap)
    month = pd.to_datetime(events["date"]).dt.strftime("%Y-%m")
    events[month <= "2026-05"].to_csv(folder / "referrals_to_2026_05.csv", index=False)
    events[month >= "2026-05"].to_csv(folder / "referrals_2026_06.csv", index=False)
    nucc_layout = {
        "taxonomy_code": "Code",
        "grouping": "Grouping",
        "classification": "Classification",
        "specialization": "Specialization",
        "display_name": "Display Name",
        "section": "Section",
    }
    codes = taxonomy.builtin_taxonomy()[list(nucc_layout)].rename(columns=nucc_layout)
    codes.to_csv(folder / "nucc_taxonomy_251.csv", index=False)
    shutil.copy(paths["activities"], folder / "visits.csv")
    pairs = events.groupby(["source", "target"]).size().reset_index(name="n")
    pairs = pairs.assign(bene=pairs["n"], same_day=0)
    pairs.to_csv(
        folder / "physician-shared-patient-patterns-2015-days180.txt", header=False, index=False
    )
    with open(folder / "npidata_pfile_20050523-20250907.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(NEEDED), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for row in providers.itertuples(index=False):
            record = dict.fromkeys(NEEDED, "")
            record.update(
                {
                    "NPI": row.id,
                    "Entity Type Code": "1",
                    "Provider Last Name (Legal Name)": str(row.name).upper(),
                    "Healthcare Provider Taxonomy Code_1": row.taxonomy_code,
                    "Healthcare Provider Primary Taxonomy Switch_1": "Y",
                    "Provider Business Practice Location Address City Name": row.city,
                    "Provider Business Practice Location Address State Name": row.state,
                }
            )
            writer.writerow(record)
    with pd.ExcelWriter(folder / "referrals.xlsx") as book:
        events.head(20_000).to_excel(book, sheet_name="Referrals", index=False)
    providers.to_excel(folder / "providers.xlsx", index=False)
    extract = events.rename(columns={"source": "ref_doc", "target": "seen_by", "date": "visit_dt"})
    extract["visit_dt"] = pd.to_datetime(extract["visit_dt"]).dt.strftime("%d/%m/%Y")
    extract.to_csv(folder / "extract.csv", index=False)


def test_readme_blocks_run(workdir: Path) -> None:
    """README's Python tour runs on the bundled sample, and its "Your own data" commands on
    generated stand-ins of the files they name (the set-up commands are CI's own)."""
    _readme_stand_ins(workdir)
    namespace: dict[str, object] = {"__name__": "docs_readme"}
    ran = 0
    for block in code_blocks("README.md"):
        if "pip install" in block.code or NO_RUN in block.classes:
            continue
        if block.lang == "python":
            _run_python(block, namespace)
        elif block.lang == "bash":
            _run_bash(block)
        ran += 1
    assert ran == 3
    written_files = ("report/report.html", "dr_x.html", "cms", "network.gexf", "at_risk.csv")
    for written in (*written_files, "weekly/report.html", "referrals.duckdb"):
        assert (workdir / written).exists(), written


def test_pages_have_examples() -> None:
    """The guides and reference pages carry runnable examples (so the test above covers them)."""
    for page in (
        "getting-started.md",
        "guide-strategist.md",
        "guide-liaison.md",
        "guide-researcher.md",
        "data-formats.md",
        "methodology.md",
    ):
        assert page in RUNNABLE, f"docs/{page} has no runnable code block"


def test_block_convention_is_parsed() -> None:
    """The fence parser understands the two spellings of the convention."""
    assert _parse_info("python") == ("python", ())
    assert _parse_info("{.python .no-run}") == ("python", ("no-run",))
    assert _parse_info("{ .bash .no-run }") == ("bash", ("no-run",))
    block = Block("x.md", 1, "bash", (), "# a comment\nreferral-graph build \\\n  --out g.gexf\n")
    assert _commands(block) == [["referral-graph", "build", "--out", "g.gexf"]]
    assert block.runs
    assert not Block("x.md", 1, "bash", (), "pip install -e .\n").runs


def test_every_documented_command_parses() -> None:
    """Every ``referral-graph`` command in a bash block, run or not, is accepted by the parser."""
    parser = build_parser()
    checked = 0
    for page in PAGES:
        for block in code_blocks(page):
            if block.lang != "bash":
                continue
            for words in _commands(block):
                segments: list[list[str]] = [[]]
                for word in words:
                    if word in ("&&", "||", ";", "|"):
                        segments.append([])
                    else:
                        segments[-1].append(word)
                for segment in segments:
                    if not segment or segment[0] != "referral-graph":
                        continue
                    err = io.StringIO()
                    try:
                        with contextlib.redirect_stderr(err):
                            parser.parse_args(segment[1:])
                    except SystemExit as exc:
                        raise AssertionError(
                            f"{block.where()}: `{shlex.join(segment)}` is rejected: "
                            f"{err.getvalue().strip()}"
                        ) from exc
                    checked += 1
    assert checked >= 20, checked


# ----------------------------------------------------------------------------- the site


def _docs_tools_missing() -> str | None:
    missing = [m for m in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python") if _absent(m)]
    return ", ".join(missing) or None


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds and the pages request nothing from the network."""
    missing = _docs_tools_missing()
    if missing:
        message = f'{missing} not installed: pip install -e ".[docs]"'
        if os.environ.get("REFERRAL_GRAPH_REQUIRE_DOCS") == "1":
            pytest.fail(message + " (REFERRAL_GRAPH_REQUIRE_DOCS=1)")
        pytest.skip(message)
    site = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    assert "WARNING" not in run.stderr, run.stderr
    pages = list(site.rglob("*.html"))
    assert (site / "index.html").exists() and (site / "api" / "churn" / "index.html").exists()
    remote = re.compile(
        r"<(?:script|img|iframe)[^>]*\bsrc=\"(?:https?:)?//"
        r"|<link[^>]*\bhref=\"(?:https?:)?//"
    )
    for page in pages:
        text = page.read_text(encoding="utf-8")
        found = remote.search(text)
        assert found is None, f"{page.relative_to(site)} loads {found.group(0)!r}"
    # The API reference: every item of a Parameters / Returns / Raises list says something, and
    # a numpydoc entry grouping several parameters is one item naming them all, each with its
    # own annotation (not one copy of the paragraph per name, typed as the first one).
    empty = re.compile(r'–\s*<div class="doc-md-description">\s*</div>')
    for page in site.glob("api/*/index.html"):
        text = page.read_text(encoding="utf-8")
        assert not empty.search(text), f"{page.relative_to(site)}: an item without description"
    io_page = (site / "api" / "io" / "index.html").read_text(encoding="utf-8")
    read_events = io_page[io_page.index('id="referral_graph.io.read_events"') :]
    read_events = read_events[: read_events.index("Returns:")]
    assert read_events.count("Column names in the input; when omitted") == 1
    assert re.search(r"<code>source_col</code></b> \(<code>str \| None</code>\), <b>", read_events)
    leakage = (site / "api" / "leakage" / "index.html").read_text(encoding="utf-8")
    market = leakage[leakage.index('id="referral_graph.leakage.focus_market"') :]
    assert "<code>focus_ids</code></b> (<code>Iterable[str]</code>)" in market


def test_nav_lists_every_page() -> None:
    """Every page of docs/ is in the nav of mkdocs.yml (or deliberately left out)."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", config, flags=re.MULTILINE))
    not_in_nav = {"CONTRIBUTING_NOTES.md"}
    assert set(PAGES) - not_in_nav <= listed | {"memory.md"}, set(PAGES) - listed - not_in_nav
    assert "memory.md" in listed


# ----------------------------------------------------------------------------- the CLI page


def _slug(title: str) -> str:
    """The anchor mkdocs' toc extension gives a heading."""
    import unicodedata

    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _sections(text: str) -> dict[str, str]:
    """Level-2 sections of a page by anchor (the text before the first one is ``""``)."""
    sections: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("## "):
            key = _slug(line[3:].strip())
            sections[key] = ""
        sections.setdefault(key, "")
        sections[key] += line + "\n"
    return sections


def _mentions(text: str, token: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("build_parser() has no subcommands")


def _defaults(action: argparse.Action) -> list[str]:
    default = action.default
    if default in (None, False, argparse.SUPPRESS) or action.option_strings[0] == "--help":
        return []
    if isinstance(default, list | tuple):
        return [" ".join(str(d) for d in default)]
    return [str(default)]


def test_cli_reference_is_complete() -> None:
    """Every command, option, choice and default of build_parser() is in docs/cli.md.

    A command's options are documented in its own section (``## `referral-graph NAME` ``)
    or in a section that its section links to (``[input options](#input-options)``); the
    choices and the default of an option appear in the section that documents it.
    """
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = _sections(text)
    parser = build_parser()
    problems: list[str] = []
    top = sections.get("global-options", "")
    for action in parser._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help") and not _mentions(top, flag):
                problems.append(f"global option {flag} is not in the 'Global options' section")
    for name, sub in _subparsers(parser).items():
        key = _slug(f"referral-graph {name}")
        own = sections.get(key)
        if own is None:
            problems.append(f"no section '## `referral-graph {name}`' for the {name} command")
            continue
        linked = [sections[a] for a in re.findall(r"\]\(#([\w-]+)\)", own) if a in sections]
        for action in sub._actions:
            flags = [f for f in action.option_strings if f not in ("-h", "--help")]
            if not flags:
                continue
            homes = [s for s in [own, *linked] if all(_mentions(s, f) for f in flags)]
            if not homes:
                problems.append(f"{name}: {', '.join(flags)} is neither in its section nor linked")
                continue
            for choice in action.choices or ():
                if not any(_mentions(s, str(choice)) for s in homes):
                    problems.append(f"{name}: choice {choice!r} of {flags[0]} is not documented")
            for default in _defaults(action):
                if not any(default in s for s in homes):
                    problems.append(f"{name}: default {default!r} of {flags[0]} is not documented")
    assert not problems, "docs/cli.md is out of date:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------- tables


def documented_columns(page: str) -> dict[str, list[str]]:
    """``<!-- columns: NAME -->`` -> the backticked names in the next table's first column."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    found: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        m = re.match(r"<!--\s*columns:\s*([\w.-]+)\s*-->", line.strip())
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].lstrip().startswith("|"):
            j += 1
        names: list[str] = []
        for row in lines[j + 2 :]:  # skip the header and the |---| line
            if not row.lstrip().startswith("|"):
                break
            first = row.strip().strip("|").split("|")[0]
            names += re.findall(r"`([^`]+)`", first)
        assert m.group(1) not in found, f"docs/{page}: two tables marked {m.group(1)!r}"
        found[m.group(1)] = names
    return found


def _small_edge_files(folder: Path) -> dict[str, pd.DataFrame]:
    from referral_graph import io as rio

    cms = folder / "cms.txt"
    cms.write_text("1234567893,1003033051,120,45,3\n1003033051,1234567893,60,20,0\n")
    hop = folder / "hop.csv"
    hop.write_text(
        "from_npi,to_npi,patient_count,transaction_count,average_day_wait,std_day_wait\n"
        "1234567893,1003033051,76,134,15.5,3.2\n"
    )
    generic = folder / "edges.csv"
    generic.write_text("source,target,weight,period\nA,B,12,2024-01\nA,B,3,2024-02\n")
    return {
        "edges-cms-pspp": rio.read_edges(cms),
        "edges-hop-teaming": rio.read_edges(hop),
        "edges-generic": rio.read_edges(generic),
    }


def actual_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table data-formats.md describes, computed on the bundled sample."""
    import referral_graph as rg
    from referral_graph import churn, datasets, taxonomy
    from referral_graph import io as rio
    from referral_graph.privacy import suppress_counts
    from referral_graph.report import build_report, what_changed

    paths = datasets.sample_paths()
    net = rg.load_network(events=paths["events"], providers=paths["providers"])
    activities = rio.read_activities(paths["activities"])
    report = build_report(net, focus=datasets.SAMPLE_FOCUS, activities=activities)
    assert net.events is not None and net.panel is not None
    tables = {
        "events": net.events,
        "providers-input": net.providers,
        "activities": activities,
        "taxonomy": taxonomy.builtin_taxonomy(),
        "edge_panel": net.panel,
        "tie_table": net.ties,
        "backtest": churn.backtest(net.panel, n_cutoffs=1, providers=net.providers),
        **_small_edge_files(folder),
    }
    assert report.record is not None
    # a report from a store adds changes.csv; its columns, from the report compared with itself
    report.tables["changes"] = what_changed(report.record, report.record)
    for name, table in report.tables.items():
        # the written table (issue 19, item 4): what reaches the CSV, not the Python frame
        tables[name] = suppress_counts(table)
    return tables


def documented_aliases(page: str) -> dict[str, dict[str, list[str]]]:
    """``<!-- aliases: NAME -->`` marker -> {column: recognised names} of the next table."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    found: dict[str, dict[str, list[str]]] = {}
    for i, line in enumerate(lines):
        m = re.match(r"<!--\s*aliases:\s*(\w+)\s*-->", line.strip())
        if not m:
            continue
        table: dict[str, list[str]] = {}
        for row in lines[i + 3 :]:
            if not row.lstrip().startswith("|"):
                break
            cells = row.strip().strip("|").split("|")
            (column,) = re.findall(r"`([^`]+)`", cells[0])
            table[column] = re.findall(r"`([^`]+)`", cells[1])
        found[m.group(1)] = table
    return found


def test_documented_aliases_match_the_readers() -> None:
    """The recognised column names in data-formats.md are the readers' alias lists."""
    from referral_graph import io as rio

    documented = documented_aliases("data-formats.md")
    names = sorted(n for n in dir(rio) if n.endswith("_ALIASES"))
    assert sorted(documented) == names
    for name in names:
        real = {k: list(v) for k, v in getattr(rio, name).items()}
        assert documented[name] == real, f"data-formats.md, {name}: {documented[name]} != {real}"


def test_documented_columns_match_the_code(tmp_path: Path) -> None:
    """Each marked column list in data-formats.md equals the columns the code produces."""
    documented = documented_columns("data-formats.md")
    assert len(documented) >= 20, sorted(documented)
    actual = actual_tables(tmp_path)
    problems = []
    for name, columns in documented.items():
        if name not in actual:
            problems.append(f"{name}: no such table in the test's list")
            continue
        real = [str(c) for c in actual[name].columns]
        if columns != real:
            problems.append(f"{name}:\n  documented {columns}\n  produced   {real}")
    for name in sorted(set(actual) - set(documented)):
        problems.append(f"{name}: produced but not documented")
    assert not problems, "docs/data-formats.md is out of date:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------- figures


def _markdown_table(text: str, marker: str) -> pd.DataFrame:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            if rows:
                break
            continue
        if not line.lstrip().startswith("|"):
            break
        rows.append([c.strip().strip("`") for c in line.strip().strip("|").split("|")])
    header, body = rows[0], rows[2:]
    return pd.DataFrame(body, columns=header)


def test_backtest_figures_are_current(workdir: Path) -> None:
    """The backtest table in methodology.md is what the quoted command prints (±0.002)."""
    text = (DOCS / "methodology.md").read_text(encoding="utf-8")
    block = next(
        b for b in code_blocks("methodology.md") if b.lang == "bash" and "backtest" in b.code
    )
    (command,) = _commands(block)
    printed = _run_cli(command[1:], block.where())
    table_text = printed.strip().split("\n\n")[0]  # the table; the margins follow it
    lines = [line.split() for line in table_text.splitlines() if line.strip()]
    produced = pd.DataFrame(lines[1:], columns=lines[0]).set_index("method")
    quoted = _markdown_table(text, "<!-- backtest-table -->").set_index("method")
    assert list(quoted.index) == list(produced.index)
    for method in quoted.index:
        for column in quoted.columns:
            want, got = quoted.loc[method, column], produced.loc[method, column]
            if got == "NaN" or want in ("–", "NaN", ""):
                assert got == "NaN" and want in ("–", "NaN", ""), (method, column, want, got)
                continue
            assert math.isclose(float(want), float(got), abs_tol=0.002), (
                f"{method} {column}: methodology.md says {want}, the command prints {got}"
            )


def test_prospect_backtest_figures_are_current() -> None:
    """The prospect backtest table in methodology.md is what the code gives (±0.002)."""
    import referral_graph as rg
    from referral_graph import datasets, leakage, prospects

    text = (DOCS / "methodology.md").read_text(encoding="utf-8")
    quoted = _markdown_table(text, "<!-- prospect-backtest-table -->").set_index("method")
    paths = datasets.sample_paths()
    net = rg.load_network(events=paths["events"], providers=paths["providers"])
    assert net.panel is not None
    focus_ids = leakage.resolve_focus(net.providers, focus=datasets.SAMPLE_FOCUS)
    produced = prospects.prospect_backtest(
        net.panel, net.providers, focus_ids, cutoff="2026-01-01"
    ).set_index("method")
    assert list(quoted.index) == list(produced.index)
    for method in quoted.index:
        for column in quoted.columns:
            want, got = float(quoted.loc[method, column]), float(produced.loc[method, column])
            assert math.isclose(want, got, abs_tol=0.002), (
                f"{method} {column}: methodology.md says {want}, the code gives {got:.3f}"
            )
