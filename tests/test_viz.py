"""Tests for referral_graph.viz: offline, private, self-contained network views.

Unit tests read the page and the embedded data; the browser tests (marked ``browser``)
open every view in headless Chromium with all outside requests blocked. They skip when
Chromium or Playwright is missing, and fail instead when REFERRAL_GRAPH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import browser
import networkx as nx
import pandas as pd
import pytest

from referral_graph import viz
from referral_graph.exceptions import InsufficientDataError, ParameterError, SchemaError
from referral_graph.viz._encoding import PALETTE
from referral_graph.viz._page import vis_assets

# --------------------------------------------------------------------------- fixtures

A, B, C, D, E, F, G_, H = (f"100000000{i}" for i in range(1, 9))
PROVIDERS = {
    A: {"name": "Dr Ada Quinn", "specialty": "Cardiology", "organization": "Acme Health"},
    B: {"name": "Dr Ben Ortiz", "specialty": "Family Medicine", "organization": "Acme Health"},
    C: {"name": "Dr Cara Lind", "specialty": "Family Medicine", "organization": "Riverside"},
    D: {"name": "Dr Dev Patel", "specialty": "Orthopedics", "organization": "Riverside"},
    E: {"name": "Dr Eve Moss", "specialty": "Radiology", "organization": "St Mary"},
    F: {"name": "Dr Finn Hale", "specialty": "Oncology", "organization": "St Mary"},
    G_: {},
    H: {"name": "Dr Gus Reed", "specialty": "Family Medicine"},
}
# (source, target, referrals, patients): most counts are small cells (1-10).
TIES = [
    (B, A, 120, 45),
    (C, A, 7, 3),
    (D, A, 1, 1),
    (B, E, 10, 9),
    (C, E, 11, 10),
    (E, F, 2, 2),
    (F, A, 64, 30),
    (G_, F, 5, 4),
    (H, B, 3, 2),
    (A, F, 9, 8),
    (D, C, 4, 4),
]
COMMUNITY = {A: 0, B: 0, E: 0, H: 0, C: 1, D: 1, F: 1, G_: 1}
PATIENT_IDS = ("PT-558012", "MRN-0042-X")
SMALL_COUNT = re.compile(r"(?<![\d<.,\w-])(?:[1-9]|10)(?![\d.,%\w])")


def referral_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for i, (node, attrs) in enumerate(PROVIDERS.items()):
        # Patient identifiers that must never reach the page.
        g.add_node(node, **attrs, in_network=i % 2 == 0, patient_id=PATIENT_IDS[0])
    for n, (u, v, referrals, patients) in enumerate(TIES):
        g.add_edge(
            u, v, referrals=referrals, patients=patients, patient_id=PATIENT_IDS[1], mrn=n + 1
        )
    g[B][A]["strength"] = 80.0
    g[C][A]["strength"] = 22.0
    return g


@pytest.fixture
def graph() -> nx.DiGraph:
    return referral_graph()


def measures_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array(list(COMMUNITY), dtype="string"),
            "pagerank": [0.3, 0.1, 0.05, 0.05, 0.15, 0.2, 0.05, 0.1],
            "community": list(COMMUNITY.values()),
        }
    )


def segments_table() -> pd.DataFrame:
    return pd.DataFrame({"source": [B, C, D], "segment": ["loyalist", "splitter", "dissenter"]})


def at_risk_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": [C, F, B],
            "target": [A, A, E],
            "risk": [0.9, 0.4, 0.7],
            "at_stake": [7, 64, 10],
            "expected_loss": [6.3, 25.6, 7.0],
            "segment": ["splitter", "loyalist", "dissenter"],
            "reasons": [["volume down", "new competitor nearby"], "fewer visits", None],
        }
    )


# name -> (build(g, path) -> Network, expected nodes, expected edges)
VIEWS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "render": (lambda g, path=None: _write(viz.render(g, measures=measures_table()), path), 8, 11),
    "network_top": (
        lambda g, path=None: viz.network_view(g, top=4, by="in_strength", path=path),
        4,
        5,
    ),
    "network_collapsed": (
        lambda g, path=None: viz.network_view(g, collapse="organization", path=path),
        4,
        6,
    ),
    "focus": (
        lambda g, path=None: viz.focus_view(g, [A], segments=segments_table(), path=path),
        5,
        4,
    ),
    "ego": (lambda g, path=None: viz.ego_view(g, E, path=path), 4, 3),
    "community": (
        lambda g, path=None: viz.community_view(
            g, pd.Series(COMMUNITY), 1, period="Jan 2024 – Jun 2026", path=path
        ),
        4,
        2,
    ),
    "at_risk": (lambda g, path=None: viz.at_risk_view(g, at_risk_table(), path=path), 5, 7),
}


def _write(net: Any, path: Path | None) -> Any:
    if path is not None:
        viz.to_html(net, path)
    return net


def embedded(page: str) -> dict[str, Any]:
    """The nodes, edges and options embedded in a page."""
    match = re.search(r'<script type="application/json" id="rg-data">(.*?)</script>', page, re.S)
    assert match, "no embedded data"
    return dict(json.loads(match.group(1)))


def tooltips(data: dict[str, Any]) -> list[str]:
    return [item["title"] for item in [*data["nodes"], *data["edges"]]]


view_names = pytest.mark.parametrize("name", list(VIEWS))


# --------------------------------------------------------------------------- offline page


@view_names
def test_page_references_nothing_outside(name: str, graph: nx.DiGraph) -> None:
    page = viz.to_html(VIEWS[name][0](graph))
    js, css = vis_assets()
    assert page.count(js) == 1 and page.count(css) == 1  # the library is inlined, once
    rest = page.replace(js, "")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", rest, re.I)
    assert not re.search(r"\b(src|href|srcset|action|poster)\s*=", rest, re.I)
    assert "@import" not in rest
    assert all(u.startswith("data:") for u in re.findall(r"url\(\s*[\"']?([^\"')]*)", rest))
    assert "<link" not in page and "<iframe" not in page and "<img" not in page
    assert "bootstrap" not in rest.lower()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # vis-network's own code: URLs only in licence comments and the SVG namespace.
    found = set(re.findall(r"https?://[^\s\"'`)*]+", js))
    assert found <= {
        "https://visjs.github.io/vis-network/",
        "http://almende.com",
        "https://github.com/visjs",
        "http://www.apache.org/licenses/LICENSE-2.0",
        "http://opensource.org/licenses/MIT",
        "http://www.w3.org/2000/svg",
        "https://github.com/zloirock/core-js",
        "https://github.com/zloirock/core-js/blob/v3.21.1/LICENSE",
        "https://github.com/uuidjs/uuid#getrandomvalues-not-supported",
    }
    assert "sourceMappingURL" not in page
    assert re.search(r"<script[^>]*\bsrc\s*=", page, re.I) is None


@view_names
def test_no_small_counts_or_patient_ids_on_the_page(name: str, graph: nx.DiGraph) -> None:
    page = viz.to_html(VIEWS[name][0](graph))
    for patient_id in PATIENT_IDS:
        assert patient_id not in page
    js, css = vis_assets()
    own = page.replace(js, "").replace(css, "")  # the library's base64 images hold any text
    assert "patient_id" not in own and "mrn" not in own.lower()
    data = embedded(page)
    suppressed = 0
    for text in tooltips(data):
        suppressed += text.count("<11")
        # Provider ids and community numbers are not counts.
        checked = re.sub(r"ID: \d+|Community \d+|100000000\d", "", text)
        assert not SMALL_COUNT.search(checked), (name, text)
    assert suppressed > 0  # the fixture is mostly small cells: they must show as "<11"
    for node in data["nodes"]:
        allowed = {"id", "label", "title", "color", "size", "x", "y", "borderWidth"}
        assert set(node) <= allowed | {"shadow", "font"}  # the ego view's centre
    for edge in data["edges"]:
        assert set(edge) <= {"from", "to", "width", "title", "color", "dashes"}  # no "value"


def test_widths_and_sizes_do_not_encode_small_counts(graph: nx.DiGraph) -> None:
    net = viz.render(graph)
    width = {(e["from"], e["to"]): e["width"] for e in net.edges}
    small = {width[(u, v)] for u, v, r, _ in TIES if r < 11}
    assert small == {width[(C, E)]}  # every 1-10 is drawn like the 11
    assert width[(B, A)] > width[(F, A)] > width[(C, E)]
    size = {n["id"]: n["size"] for n in net.nodes}
    # In-strength 3 (Ben), 4 (Cara) and 0 (Dev): small ones drawn as 11, zero as the minimum.
    assert size[B] == size[C] > size[D]


def test_at_stake_widths_are_suppressed_too(graph: nx.DiGraph) -> None:
    ties = at_risk_table()
    ties.loc[2, "at_stake"] = 11
    net = viz.at_risk_view(graph, ties)
    risky = {(e["from"], e["to"]): e for e in net.edges if e.get("dashes")}
    assert len(risky) == 3
    assert risky[(C, A)]["width"] == risky[(B, E)]["width"] < risky[(F, A)]["width"]
    assert all(e["color"]["color"] == "#d62728" for e in risky.values())
    tip = risky[(C, A)]["title"]
    assert "At risk: 90% chance of lapsing" in tip
    assert "Referrals at stake: <11" in tip and "Expected loss: <11 referrals" in tip
    assert "Reasons: volume down; new competitor nearby" in tip


def test_hidden_counts_blank_a_tie_without_changing_what_is_drawn(graph: nx.DiGraph) -> None:
    """A table that hides B->A (120 referrals) and F->A's patients (30) to protect other
    cells: the view shows neither (tooltip "–", B->A drawn as thin as the thinnest tie,
    its strength gone with it); C->A (7, small) stays "<11"; the ego view keeps the same
    neighbours, picked by the referrals the graph holds."""
    hidden = {"referrals": [(B, A), (C, A)], "patients": [(F, A)]}
    plain = viz.ego_view(graph, A, top=2)
    net = viz.ego_view(graph, A, top=2, hidden_counts=hidden)
    assert [n["id"] for n in net.nodes] == [n["id"] for n in plain.nodes]
    assert sorted(n["id"] for n in net.nodes) == sorted([A, B, F])  # 120 and 64 + 9 (by hand)
    edges = {(e["from"], e["to"]): e for e in net.edges}
    assert edges[(B, A)]["title"].splitlines()[1:] == ["Referrals: –", "Patients: 45",
                                                        "Strength: – / 100"]  # fmt: skip
    assert edges[(F, A)]["title"].splitlines()[1:] == ["Referrals: 64", "Patients: –"]
    assert edges[(B, A)]["width"] == min(e["width"] for e in net.edges) < edges[(F, A)]["width"]
    assert any("show “–”" in note for note in net.referral_graph_page["notes"])
    whole = {
        (e["from"], e["to"]): e["title"] for e in viz.render(graph, hidden_counts=hidden).edges
    }
    assert "Referrals: <11" in whole[(C, A)]  # small: as without hidden_counts
    assert "Referrals: 11" in whole[(C, E)]  # not named: shown
    assert not any("show “–”" in n for n in plain.referral_graph_page["notes"])


@pytest.mark.parametrize(
    "bad", [{"strength": [(B, A)]}, {"referrals": [B]}, [(B, A)], {"referrals": "BA"}]
)
def test_hidden_counts_are_checked(graph: nx.DiGraph, bad: Any) -> None:
    with pytest.raises(ParameterError, match="'hidden_counts' parameter of render"):
        viz.render(graph, hidden_counts=bad)


# --------------------------------------------------------------------------- embedded data


@view_names
def test_node_and_edge_counts(name: str, graph: nx.DiGraph) -> None:
    build, n_nodes, n_edges = VIEWS[name]
    net = build(graph)
    data = embedded(viz.to_html(net))
    assert len(data["nodes"]) == len(net.nodes) == n_nodes
    assert len(data["edges"]) == len(net.edges) == n_edges
    ids = {n["id"] for n in data["nodes"]}
    assert len(ids) == n_nodes
    assert all(e["from"] in ids and e["to"] in ids for e in data["edges"])


def test_render_tooltips_legend_title_and_period(graph: nx.DiGraph) -> None:
    net = viz.render(graph, title="Nashville <market>", period="Jan 2024 – Jun 2026")
    page = viz.to_html(net)
    assert "<h1>Nashville &lt;market&gt;</h1>" in page
    assert "<title>Nashville &lt;market&gt;</title>" in page
    assert "Data period: Jan 2024 – Jun 2026" in page
    assert 'class="rg-legend"' in page and "<h2>Specialty</h2>" in page
    assert "Counts from 1 to 10 are shown as “&lt;11”" in page
    node = {n["id"]: n for n in net.nodes}
    assert node[A]["title"].splitlines() == [
        "Dr Ada Quinn",
        f"ID: {A}",
        "Specialty: Cardiology",
        "Organization: Acme Health",
        "In network: yes",
        "Referrals received: 192",
        "Referrals sent: <11",
    ]
    edge = {(e["from"], e["to"]): e for e in net.edges}
    assert edge[(C, A)]["title"].splitlines() == [
        "Dr Cara Lind → Dr Ada Quinn",
        "Referrals: <11",
        "Patients: <11",
        "Strength: 22 / 100",
    ]
    # The 12-colour palette is ranked by category size, then name: stable across runs.
    legend = net.referral_graph_page["legend"]
    assert legend[0] == ("#4e79a7", "Family Medicine")
    assert legend[-1][1] == "Unknown"
    assert viz.render(referral_graph()).referral_graph_page["legend"] == legend


def test_names_are_escaped_and_data_cannot_close_the_script(graph: nx.DiGraph) -> None:
    graph.nodes[A]["name"] = "</script><script>alert(1)</script>"
    graph.nodes[B]["specialty"] = "<b>Bold</b>"
    page = viz.to_html(viz.render(graph))
    assert "alert(1)</script>" not in page and "<script>alert" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page  # legend
    assert embedded(page)["nodes"][0]["title"].startswith("</script><script>alert(1)")


def test_computed_link_scores_take_small_counts_as_half_the_threshold() -> None:
    """A view's PageRank and hub scores, computed on the graph, are those the tables write
    (docs/privacy.md): each count from 1 to 10 taken as 5.5, so that they give no small
    count back; with threshold 1, from the counts as they are. Oracle: networkx."""
    G = nx.DiGraph()
    G.add_edge("a", "b", referrals=3)
    G.add_edge("a", "c", referrals=30)
    G.add_edge("c", "b", referrals=20)
    G.add_edge("b", "a", referrals=12)
    shown = G.copy()
    shown.edges["a", "b"]["referrals"] = 5.5
    for threshold, oracle in ((11, shown), (1, G)):
        net = viz.render(G, size_by="pagerank", threshold=threshold)
        titles = {n["id"]: n["title"] for n in net.nodes}
        expected = nx.pagerank(oracle, weight="referrals", tol=1e-12, max_iter=10_000)
        for node, value in expected.items():
            assert f"PageRank: {value:.3g}" in titles[node], (threshold, titles[node])
    assert nx.pagerank(shown, weight="referrals")["b"] != pytest.approx(
        nx.pagerank(G, weight="referrals")["b"], abs=5e-4
    )  # the two differ at the precision shown


def test_measures_are_used_and_computed_when_absent(graph: nx.DiGraph) -> None:
    net = viz.render(graph, measures=measures_table(), size_by="pagerank", color_by="community")
    node = {n["id"]: n for n in net.nodes}
    assert "PageRank: 0.3" in node[A]["title"]
    assert node[A]["size"] == 40.0 and node[C]["size"] > node[B]["size"]  # 0.15 > 0.1
    assert [label for _, label in net.referral_graph_page["legend"]] == [
        "Community 0",
        "Community 1",
    ]
    computed = viz.render(graph, size_by="hub")
    assert "Hub: " in computed.nodes[0]["title"]


def test_render_does_not_mutate_the_graph(graph: nx.DiGraph) -> None:
    before = copy.deepcopy((dict(graph.nodes(data=True)), list(graph.edges(data=True))))
    for build, _, _ in VIEWS.values():
        build(graph)
    assert (dict(graph.nodes(data=True)), list(graph.edges(data=True))) == before


def test_layout_is_precomputed_beyond_a_few_hundred_nodes() -> None:
    big = nx.gnm_random_graph(400, 1200, seed=1, directed=True)
    big = nx.relabel_nodes(big, {i: f"p{i}" for i in big})
    net = viz.render(big, color_by=None, seed=3)
    assert net.options["physics"] == {"enabled": False}
    assert all("x" in n and "y" in n for n in net.nodes)
    again = viz.render(big, color_by=None, seed=3)
    assert [(n["x"], n["y"]) for n in net.nodes] == [(n["x"], n["y"]) for n in again.nodes]
    small = viz.render(big.subgraph([f"p{i}" for i in range(50)]), color_by=None)
    assert small.options["physics"]["enabled"] is True
    assert not any("x" in n for n in small.nodes)
    forced = viz.render(big.subgraph([f"p{i}" for i in range(50)]), physics=False)
    assert all("x" in n for n in forced.nodes)


def test_collapsed_view_sums_referrals_between_groups(graph: nx.DiGraph) -> None:
    net = viz.network_view(graph, collapse="organization")
    edge = {(e["from"], e["to"]): e["title"].splitlines()[1] for e in net.edges}
    assert edge[("St Mary", "Acme Health")] == "Referrals: 64"
    assert edge[("Acme Health", "St Mary")] == "Referrals: 19"  # 10 + 9
    assert edge[("Riverside", "Acme Health")] == "Referrals: <11"  # 7 + 1
    node = {n["id"]: n["title"] for n in net.nodes}
    assert "Referrals within: 120" in node["Acme Health"]
    assert "Providers: <11" in node["Acme Health"]
    # Palette colours go to the groups with the most referrals received first.
    legend = viz.network_view(graph, collapse="organization", by="in_strength")
    labels = [label for _, label in legend.referral_graph_page["legend"]]
    assert labels == ["Acme Health", "St Mary", "Riverside", "Unknown organization"]
    by_community = viz.network_view(graph, collapse="community", measures=measures_table())
    assert sorted(n["id"] for n in by_community.nodes) == ["Community 0", "Community 1"]


def test_focus_view_colours_referrers_by_segment(graph: nx.DiGraph) -> None:
    net = viz.focus_view(graph, A, segments=segments_table())
    colour = {n["id"]: n["color"] for n in net.nodes}
    assert colour[A] == "#4e79a7"  # focus
    assert (colour[B], colour[C], colour[D]) == ("#59a14f", "#f28e2b", "#e15759")
    assert colour[F] == "#d5dae0"  # not segmented
    assert all(e["to"] == A for e in net.edges)
    assert len(viz.focus_view(graph, A, top=2).nodes) == 3


def test_ego_view_directions(graph: nx.DiGraph) -> None:
    assert {n["id"] for n in viz.ego_view(graph, E, direction="in").nodes} == {E, B, C}
    assert {n["id"] for n in viz.ego_view(graph, E, direction="out", hops=2).nodes} == {E, F, A}
    centre = next(n for n in viz.ego_view(graph, E).nodes if n["id"] == E)
    assert centre["borderWidth"] == 6 and centre["color"]["border"] == "#1f2933"
    assert centre["shadow"]["enabled"] and centre["font"]["size"] > 14


# --------------------------------------------------------------------------- errors


def test_too_many_nodes_says_how_to_narrow(graph: nx.DiGraph) -> None:
    with pytest.raises(ParameterError) as info:
        viz.render(graph, max_nodes=5)
    message = str(info.value)
    assert "cannot draw 8 providers" in message and "max_nodes=5" in message
    assert "network_view(G, top=300)" in message and "ego_view" in message
    assert "community_view" in message and "max_nodes=8" in message


@pytest.mark.parametrize(
    ("call", "error", "expected"),
    [
        (
            lambda g: viz.render(g, size_by="degree"),  # type: ignore[arg-type]
            ParameterError,
            "The 'size_by' parameter of render must be one of 'in_strength', ",
        ),
        (lambda g: viz.render(g, threshold=0), ParameterError, "Got 0 instead."),
        (lambda g: viz.render(g.to_undirected()), ParameterError, "Got 'Graph' instead."),
        (lambda g: viz.render(g, height="tall"), ParameterError, "'height' parameter of render"),
        (
            lambda g: viz.ego_view(g, "9999999999"),
            ParameterError,
            "Got '9999999999' instead",
        ),
        (
            lambda g: viz.ego_view(g, A, hops=9),
            ParameterError,
            "The 'hops' parameter of ego_view must be an int in the range [1, 5]. Got 9 instead.",
        ),
        (
            lambda g: viz.ego_view(g, A, direction="up"),  # type: ignore[arg-type]
            ParameterError,
            "'direction'",
        ),
        (
            lambda g: viz.focus_view(g, [A, "12345", "54321"]),
            ParameterError,
            "provider(s) not in the graph: '12345', '54321'",
        ),
        (lambda g: viz.focus_view(g, []), ParameterError, "'focus_ids' parameter of focus_view"),
        (
            lambda g: viz.focus_view(
                g, A, segments=pd.DataFrame({"source": [B], "segment": ["fan"]})
            ),
            ParameterError,
            "unknown segment(s) ['fan']",
        ),
        (
            lambda g: viz.focus_view(g, A, segments=pd.DataFrame({"source": [B]})),
            SchemaError,
            "lacks the column(s) ['segment']",
        ),
        (
            lambda g: viz.community_view(g, pd.Series(COMMUNITY), 7),
            ParameterError,
            "must be one of the labels (0, 1). Got 7 instead.",
        ),
        (
            lambda g: viz.at_risk_view(g, pd.DataFrame({"source": [A]})),
            SchemaError,
            "lacks the column(s) ['target']",
        ),
        (
            lambda g: viz.at_risk_view(g, pd.DataFrame({"source": [A], "target": ["nobody"]})),
            ParameterError,
            "'at_risk' parameter of at_risk_view names provider(s) not in the graph: 'nobody'",
        ),
        (
            lambda g: viz.at_risk_view(g, pd.DataFrame({"source": [], "target": []})),
            InsufficientDataError,
            "has no rows",
        ),
        (
            lambda g: viz.network_view(g, collapse="organization", color_by="specialty"),
            ParameterError,
            "cannot be combined with collapse='organization'",
        ),
        (
            lambda g: viz.network_view(g, collapse="community"),
            ParameterError,
            "needs community labels",
        ),
        (lambda g: viz.network_view(g, top=0), ParameterError, "'top' parameter of network_view"),
        (
            lambda g: viz.render(g, measures=pd.DataFrame({"pagerank": [1.0]})),
            SchemaError,
            "lacks the column(s) ['id']",
        ),
    ],
)
def test_parameter_errors(
    graph: nx.DiGraph, call: Callable[[nx.DiGraph], Any], error: type[Exception], expected: str
) -> None:
    with pytest.raises(error) as info:
        call(graph)
    assert expected in str(info.value)


# --------------------------------------------------------------------------- files, Jupyter


@view_names
def test_writing_leaves_nothing_else(
    name: str, graph: nx.DiGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    out.mkdir()
    monkeypatch.chdir(cwd)
    target = out / "view.html"
    target.write_text("an older page")
    net = VIEWS[name][0](graph, path=target)
    assert os.listdir(out) == ["view.html"]
    assert os.listdir(cwd) == []  # no lib/ folder, no temp file in the working directory
    assert target.read_text(encoding="utf-8") == viz.to_html(net)


def test_relative_path_is_written_in_the_working_directory(
    graph: nx.DiGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    page = viz.to_html(viz.render(graph), "view.html")
    assert os.listdir(tmp_path) == ["view.html"]
    assert Path("view.html").read_text(encoding="utf-8") == page


def test_show_inline_is_a_srcdoc_iframe(
    graph: nx.DiGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import html

    from referral_graph.viz._jupyter import FALLBACK
    from referral_graph.viz._page import inline_page

    monkeypatch.chdir(tmp_path)
    net = viz.render(graph, height="500px")
    shown = viz.show_inline(net)
    html_text = shown.data
    own = re.match(r'<div class="referral-graph-view (rg-v-[0-9a-f]{12})">', html_text)
    assert own is not None
    # The fallback line, then the frame; the style hides this output's line once trusted.
    assert html_text.index('<p class="rg-fallback"') < html_text.index("<iframe srcdoc=")
    assert f"<style>.{own.group(1)} .rg-fallback{{display:none}}</style>" in html_text
    assert html.escape(FALLBACK) in html_text
    assert shown._repr_mimebundle_() == {"text/html": html_text, "text/plain": FALLBACK}
    assert repr(shown) == FALLBACK
    assert 'sandbox="allow-scripts"' in html_text
    srcdoc = re.search(r'srcdoc="([^"]*)"', html_text)
    assert srcdoc is not None
    assert "<" not in srcdoc.group(1) and "&lt;!DOCTYPE html&gt;" in srcdoc.group(1)
    assert html.unescape(srcdoc.group(1)) == inline_page(net)
    assert os.listdir(tmp_path) == []


def test_show_inline_frame_height(graph: nx.DiGraph) -> None:
    """600 px by default, whatever the drawing's height; the page inside is laid out to it."""

    def frame_height(shown: Any) -> str:
        found = re.search(r'<iframe [^>]*style="[^"]*height:([^;"]+)', shown.data)
        assert found is not None
        return found.group(1)

    for drawing in ("300px", "800px", "1200px"):
        assert frame_height(viz.show_inline(viz.render(graph, height=drawing))) == "600px"
    net = viz.render(graph)
    assert frame_height(viz.show_inline(net, height=450)) == "450px"
    assert frame_height(viz.show_inline(net, height="70vh")) == "70vh"
    with pytest.raises(ParameterError, match="height"):
        viz.show_inline(net, height="tall")
    frame = viz.show_inline(net).data
    # the page in the frame: laid out to it, the drawing without a height of its own
    assert "class=&quot;rg-view rg-fit&quot;" in frame
    assert "id=&quot;rg-network&quot;&gt;" in frame
    # a page of its own keeps the drawing's height
    assert 'id="rg-network" style="height:800px"' in viz.to_html(net)


def test_show_inline_carries_vis_network_gzipped(graph: nx.DiGraph) -> None:
    import base64
    import gzip
    import html

    from referral_graph.viz._page import inline_page

    js, css = vis_assets()
    page = inline_page(viz.render(graph))
    packed = re.search(r'<script type="application/octet-stream" id="rg-vis">([^<]*)<', page)
    assert packed is not None
    assert gzip.decompress(base64.b64decode(packed.group(1))).decode("utf-8") == js
    assert js not in page and css in page
    # the drawing's scripts wait for the library (the loader runs them)
    assert page.count('<script type="text/x-rg-deferred">') == 2
    size = len(viz.show_inline(viz.render(graph)).data.encode("utf-8"))
    assert size < 250_000 < len(html.escape(viz.to_html(viz.render(graph))))


def test_views_leave_out_vis_networks_unused_images() -> None:
    _, css = vis_assets()
    assert "url(" not in css and "div.vis-tooltip" in css and len(css) < 20_000


def test_to_html_accepts_a_plain_pyvis_network() -> None:
    from pyvis.network import Network

    net = Network(heading="Made with pyvis")
    net.add_node("a", label="A")
    net.add_node("b")
    net.add_edge("a", "b")
    page = viz.to_html(net)
    data = embedded(page)
    assert [n["id"] for n in data["nodes"]] == ["a", "b"] and len(data["edges"]) == 1
    assert "physics" in data["options"]  # pyvis' Options object, turned into a dict
    assert "<title>Made with pyvis</title>" in page


def test_heavy_imports_are_lazy() -> None:
    code = "import sys, referral_graph.viz; print(sorted({'pyvis', 'IPython'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
@view_names
def test_view_draws_offline_in_chromium(name: str, chromium: Any, tmp_path: Path) -> None:
    build, n_nodes, n_edges = VIEWS[name]
    path = tmp_path / f"{name}.html"
    build(referral_graph(), path=path)
    result = browser.open_view(chromium, path)
    assert result.outside_requests == []
    assert result.other_file_requests == []
    assert result.console_errors == []
    assert result.drawn
    assert (result.nodes, result.edges) == (n_nodes, n_edges)
    assert result.canvas_pixels > 2000  # nodes and edges were painted
    assert result.screenshot.startswith(b"\x89PNG")


@pytest.mark.browser
def test_screenshot_shows_a_coloured_network(chromium: Any, tmp_path: Path) -> None:
    path = tmp_path / "view.html"
    viz.to_html(viz.render(referral_graph(), title="Screenshot"), path)
    result = browser.open_view(chromium, path, viewport=(900, 700))
    colours = browser.png_colours(result.screenshot)
    assert browser.non_white_pixels(colours) > 5000
    palette = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE}
    assert len(palette & set(colours)) >= 4  # category colours are on screen


@pytest.mark.browser
def test_tooltip_shows_suppressed_counts_as_text(chromium: Any, tmp_path: Path) -> None:
    path = tmp_path / "view.html"
    viz.to_html(viz.render(referral_graph()), path)
    page = chromium.new_page()
    try:
        page.goto(path.as_uri())
        page.wait_for_function("() => window.__drawn === true")
        x, y = page.evaluate(
            f"""() => {{
                const p = network.canvasToDOM(network.getPosition("{C}"));
                const box = document.getElementById("rg-network").getBoundingClientRect();
                return [p.x + box.left, p.y + box.top];
            }}"""
        )
        page.mouse.move(x, y)
        tooltip = page.wait_for_selector("div.vis-tooltip", state="visible")
        assert tooltip is not None
        text = tooltip.inner_text()
        assert text.startswith("Dr Cara Lind") and "Referrals received: <11" in text
    finally:
        page.close()


@pytest.mark.browser
def test_show_inline_draws_inside_its_sandboxed_iframe(chromium: Any, tmp_path: Path) -> None:
    net = viz.render(referral_graph(), height="400px")
    path = tmp_path / "notebook.html"
    path.write_text(f"<!DOCTYPE html><html><body>{viz.show_inline(net).data}</body></html>")
    with browser.offline_page(chromium) as (page, outside, errors):
        page.goto(path.as_uri())
        frame = page.frames[1]
        frame.wait_for_function("() => window.__drawn === true")
        counts = frame.evaluate(
            "() => [network.body.data.nodes.length, network.body.data.edges.length]"
        )
        assert counts == [8, 11]
        assert outside == [] and errors == []


@pytest.mark.browser
def test_harness_catches_outside_requests(chromium: Any, tmp_path: Path) -> None:
    """The blocking and recording work: a page that fetches is caught (so [] above means it)."""
    path = tmp_path / "leaky.html"
    path.write_text(
        '<!DOCTYPE html><html><body><div id="rg-network"><canvas></canvas></div>'
        '<img src="https://example.invalid/pixel.png"><script>'
        "window.network = {body: {data: {nodes: {length: 0}, edges: {length: 0}}}};"
        "window.__drawn = true;</script></body></html>"
    )
    result = browser.open_view(chromium, path)
    assert result.outside_requests == ["https://example.invalid/pixel.png"]


def test_pages_are_the_same_in_every_python_process(tmp_path: Path) -> None:
    # String hashing is salted per process: node order must not follow a set's order.
    script = (
        "import sys, networkx as nx\n"
        "from referral_graph import viz\n"
        "G = nx.gnm_random_graph(60, 200, seed=4, directed=True)\n"
        "G = nx.relabel_nodes(G, {n: f'provider-{n}' for n in G})\n"
        "nx.set_edge_attributes(G, 12, 'referrals')\n"
        "labels = __import__('pandas').Series({n: i % 2 for i, n in enumerate(G)})\n"
        "viz.community_view(G, labels, 0, path=sys.argv[1] + '/community.html')\n"
        "viz.network_view(G, top=20, path=sys.argv[1] + '/network.html')\n"
        "viz.ego_view(G, 'provider-3', path=sys.argv[1] + '/ego.html')\n"
    )
    pages = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
        pages.append({p.name: p.read_bytes() for p in out.glob("*.html")})
    assert len(pages[0]) == 3 and pages[0] == pages[1]


# --------------------------------------------------------------------------- ego cap, legends

HUB = "hub"


def hub_ties(seed: int = 7) -> pd.DataFrame:
    """A hub tied to 399 providers (both ways), 2,400 ties in all, many equal counts."""
    import numpy as np

    rng = np.random.default_rng(seed)
    others = [f"p{i:03d}" for i in range(399)]
    pairs: dict[tuple[str, str], int] = {}
    for i, other in enumerate(others):
        pair = (other, HUB) if i % 3 else (HUB, other)
        pairs[pair] = int(rng.integers(1, 40))
    for i in range(0, 399, 4):  # some neighbours tied both ways
        pairs[(HUB, others[i])] = int(rng.integers(1, 40))
    while len(pairs) < 2400:
        u, v = rng.choice(399, size=2, replace=False)
        pairs.setdefault((others[u], others[v]), int(rng.integers(1, 40)))
    return pd.DataFrame(
        [(u, v, n) for (u, v), n in pairs.items()], columns=["source", "target", "referrals"]
    )


def graph_of(ties: pd.DataFrame) -> nx.DiGraph:
    G = nx.DiGraph()
    for row in ties.itertuples(index=False):
        G.add_edge(row.source, row.target, referrals=row.referrals)
    return G


def strongest(ties: pd.DataFrame, direction: str = "both") -> list[str]:
    """The hub's neighbours by referrals exchanged with it, then id (pandas, independently)."""
    if direction == "in":
        at_hub = ties[ties["target"] == HUB]
    elif direction == "out":
        at_hub = ties[ties["source"] == HUB]
    else:
        at_hub = ties[(ties["source"] == HUB) | (ties["target"] == HUB)]
    other = at_hub["source"].where(at_hub["target"] == HUB, at_hub["target"])
    summed = at_hub.assign(other=other).groupby("other", as_index=False)["referrals"].sum()
    ranked = summed.sort_values(["referrals", "other"], ascending=[False, True])
    return ranked["other"].tolist()


def test_ego_view_of_a_hub_keeps_its_strongest_neighbours() -> None:
    ties = hub_ties()
    assert len(ties) == 2400 and len(strongest(ties)) == 399
    net = viz.ego_view(graph_of(ties), HUB)
    expected = strongest(ties)[:60]
    assert {n["id"] for n in net.nodes} == {HUB, *expected}
    kept = {HUB, *expected}
    drawn_ties = ties[ties["source"].isin(kept) & ties["target"].isin(kept)]
    assert len(net.edges) == len(drawn_ties)
    # only the centre and the 20 strongest are labelled; the others keep their tooltip
    assert {n["id"] for n in net.nodes if n["label"]} == {HUB, *expected[:20]}
    assert all(n["title"].startswith(n["id"]) for n in net.nodes)
    notes = net.referral_graph_page["notes"]
    left_ties = len(ties) - len(drawn_ties)
    assert (
        f"Drawn: the 60 neighbours who exchange the most referrals with {HUB} (top=60); "
        f"left out: 339 more neighbours and {left_ties:,} ties (top=None draws them all)."
    ) in notes
    assert any(note.startswith("Labels: the centre and its 20 strongest") for note in notes)


@pytest.mark.parametrize("direction", ["in", "out"])
def test_ego_view_cap_follows_the_direction(direction: str) -> None:
    ties = hub_ties(seed=3)
    net = viz.ego_view(graph_of(ties), HUB, direction=direction, top=25, label_top=5)
    expected = strongest(ties, direction)[:25]
    assert {n["id"] for n in net.nodes} == {HUB, *expected}
    assert {n["id"] for n in net.nodes if n["label"]} == {HUB, *expected[:5]}


def test_ego_view_cap_options() -> None:
    ties = hub_ties(seed=5)
    G = graph_of(ties)
    whole = viz.ego_view(G, HUB, top=None, label_top=None)
    assert len(whole.nodes) == 400 and len(whole.edges) == 2400
    assert all(n["label"] for n in whole.nodes)
    assert not any(
        note.startswith(("Drawn:", "Labels:")) for note in whole.referral_graph_page["notes"]
    )
    for bad in (0, -1, 2.5, "60", True):
        with pytest.raises(ParameterError, match="'top' parameter of ego_view"):
            viz.ego_view(G, HUB, top=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'label_top' parameter of ego_view"):
        viz.ego_view(G, HUB, label_top=-1)


def test_ego_view_cap_goes_ring_by_ring() -> None:
    ties = pd.DataFrame(
        [("a", "c", 50), ("c", "b", 20), ("x", "a", 30), ("b", "y", 40), ("a", "z", 5)],
        columns=["source", "target", "referrals"],
    )
    G = graph_of(ties)

    def ids(top: int | None) -> set[str]:
        return {n["id"] for n in viz.ego_view(G, "c", hops=2, top=top).nodes}

    assert ids(None) == {"c", "a", "b", "x", "y", "z"}
    assert ids(3) == {"c", "a", "b", "y"}  # y exchanges 40 with b, x 30 with a
    assert ids(2) == {"c", "a", "b"}
    assert ids(1) == {"c", "a"}  # y's only tie is to b, left out


def test_ego_view_note_never_shows_a_small_count() -> None:
    G = nx.DiGraph()
    for i in range(15):
        G.add_edge(f"r{i:02d}", "centre", referrals=20 + i)
    net = viz.ego_view(G, "centre", top=10)
    note = next(n for n in net.referral_graph_page["notes"] if n.startswith("Drawn:"))
    assert note == (
        "Drawn: the <11 neighbours who exchange the most referrals with centre (top=10); "
        "left out: <11 more neighbours and <11 ties (top=None draws them all)."
    )
    assert {n["id"] for n in net.nodes} == {"centre", *(f"r{i:02d}" for i in range(5, 15))}


def communities_graph(n: int) -> tuple[nx.DiGraph, pd.DataFrame]:
    G = nx.DiGraph()
    labels = {}
    for c in range(n):
        for k in range(c + 2):  # community c has c + 2 providers: the last are the largest
            labels[f"c{c}-{k}"] = c
            G.add_edge(f"c{c}-{k}", f"c{c}-0", referrals=12)
        G.add_edge(f"c{c}-0", f"c{(c + 1) % n}-0", referrals=15)
    G.remove_edges_from(nx.selfloop_edges(G))
    measures = pd.DataFrame({"id": list(labels), "community": list(labels.values())})
    return G, measures


def test_legend_lists_communities_in_numeric_order() -> None:
    G, measures = communities_graph(13)
    net = viz.render(G, measures=measures, color_by="community")
    labels = [label for _, label in net.referral_graph_page["legend"]]
    # the 12 largest (1 to 12) get a colour, listed by number; the smallest is "Other"
    assert labels == [f"Community {c}" for c in range(1, 13)] + ["Other (1 more)"]


def test_collapsed_view_gives_every_group_its_own_colour() -> None:
    G, measures = communities_graph(15)
    net = viz.network_view(G, collapse="community", measures=measures)
    legend = net.referral_graph_page["legend"]
    assert [label for _, label in legend] == [f"Community {c}" for c in range(15)]
    colours = [colour for colour, _ in legend]
    assert len(set(colours)) == 15 and not set(colours) & {"#a3acb9", "#d5dae0"}
    node_colour = {n["id"]: n["color"] for n in net.nodes}
    assert all(node_colour[label] == colour for colour, label in legend)


@pytest.mark.parametrize(
    ("labels", "ranked"),
    [
        # spaces stripped, missing and empty labels left out (counted by hand)
        (["Oncology", " Oncology ", "Cardiology", None, float("nan"), pd.NA, ""],
         ["Oncology", "Cardiology"]),
        (pd.Series(["Urology", None, "Neurology", "Urology"], dtype="str"),
         ["Urology", "Neurology"]),
        # one dtype: counted by pandas, then each distinct value read (stripped, merged)
        (pd.Series([" Urology", "Urology ", None, "Neurology", ""], dtype="string"),
         ["Urology", "Neurology"]),
        (pd.Series(["b", "a", "a", None], dtype="category"), ["a", "b"]),
        (pd.Series([2, 1, 2, pd.NA], dtype="Int64"), ["2", "1"]),
        (pd.Index([1.5, 1.5, float("nan"), 2.0]), ["1.5", "2.0"]),
        # equal values that read differently are not merged: 1.0 twice, then "1" and "True"
        ([1, 1.0, True, 1.0], ["1.0", "1", "True"]),
        ((label for label in ["b", "a", "b"]), ["b", "a"]),  # a generator
        ([[1], [2], [1]], ["[1]", "[2]"]),  # unhashable labels
    ],
)  # fmt: skip
def test_category_colors_counts_each_label_as_it_reads(labels: Any, ranked: list[str]) -> None:
    colors = viz.category_colors(labels)
    assert list(colors) == ranked
    assert list(colors.values()) == list(PALETTE[: len(ranked)])
