"""The network views' page before templates (commit e020872), kept as the oracle.

A verbatim copy of ``to_html`` (less its docstring and the writing to a file),
``legend_html``, ``CSP``, ``PAGE_CSS`` and ``PAGE_JS`` from
``referral_graph/viz/_page.py`` as they were when the page was built by joining
strings. ``tests/test_pages.py`` compares the page from templates with it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from referral_graph.viz._options import check_height
from referral_graph.viz._page import json_for_html, options_dict, vis_assets

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

PAGE_CSS = """
html, body { margin: 0; padding: 0; background: #fff; color: #1f2933;
  font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
.rg-header { padding: 12px 16px 6px; }
.rg-header h1 { font-size: 20px; margin: 0 0 2px; font-weight: 600; }
.rg-period { margin: 0; color: #52606d; font-size: 14px; }
.rg-main { position: relative; margin: 0 16px; border: 1px solid #d9e2ec; border-radius: 4px; }
#rg-network { width: 100%; }
.rg-legend { position: absolute; top: 8px; right: 8px; z-index: 5; max-width: 260px;
  max-height: calc(100% - 16px); overflow: auto; background: rgba(255, 255, 255, 0.92);
  border: 1px solid #d9e2ec; border-radius: 4px; padding: 8px 10px; font-size: 13px; }
.rg-legend h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
.rg-legend ul { list-style: none; margin: 0 0 4px; padding: 0; }
.rg-legend li { display: flex; align-items: center; margin: 3px 0; }
.rg-swatch { flex: none; width: 12px; height: 12px; margin-right: 7px; border-radius: 50%;
  border: 1px solid rgba(0, 0, 0, 0.25); }
.rg-line { flex: none; width: 24px; height: 0; margin-right: 7px; border-top: 3px solid #9aa5b1; }
.rg-line.rg-risk { border-top-style: dashed; border-color: #d62728; }
.rg-notes { margin: 6px 16px 12px; padding: 0; list-style: none; font-size: 12px; color: #52606d; }
div.vis-tooltip { font-family: inherit; font-size: 13px; max-width: 360px; white-space: normal; }
"""

PAGE_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("rg-data").textContent);
  var container = document.getElementById("rg-network");
  window.__drawn = false;
  var network = new vis.Network(
    container,
    { nodes: new vis.DataSet(data.nodes), edges: new vis.DataSet(data.edges) },
    data.options
  );
  window.network = network;
  window.__rg_ready_ms = performance.now() - window.__rg_t0;
  network.on("afterDrawing", function () {
    if (!window.__drawn) {
      window.__drawn = true;
      window.__rg_first_draw_ms = performance.now() - window.__rg_t0;
    }
  });
})();
"""


def legend_html(page: Mapping[str, Any]) -> str:
    items = page.get("legend") or []
    edges = page.get("legend_edges") or []
    if not items and not edges:
        return ""
    parts = ['<aside class="rg-legend" id="rg-legend">']
    if items:
        title = html.escape(str(page.get("legend_title") or "Legend"))
        parts.append(f"<h2>{title}</h2><ul>")
        for color, label in items:
            parts.append(
                f'<li><span class="rg-swatch" style="background:{html.escape(str(color))}">'
                f"</span>{html.escape(str(label))}</li>"
            )
        parts.append("</ul>")
    if edges:
        parts.append("<h2>Ties</h2><ul>")
        for kind, label in edges:
            css = "rg-line rg-risk" if kind == "risk" else "rg-line"
            parts.append(f'<li><span class="{css}"></span>{html.escape(str(label))}</li>')
        parts.append("</ul>")
    parts.append("</aside>")
    return "".join(parts)


def to_html(net: Any) -> str:
    js, css = vis_assets()
    page: Mapping[str, Any] = getattr(net, "referral_graph_page", None) or {
        "title": getattr(net, "heading", "") or "Network"
    }
    title = html.escape(str(page.get("title") or "Network"))
    period = page.get("period")
    height = check_height("to_html", getattr(net, "height", "800px"))
    data = json_for_html({"nodes": net.nodes, "edges": net.edges, "options": options_dict(net)})
    notes = "".join(f"<li>{html.escape(str(note))}</li>" for note in page.get("notes") or [])
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{title}</title>\n",
        "<script>window.__rg_t0 = performance.now();</script>\n",
        f"<style>\n{css}\n</style>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n",
        f'<header class="rg-header"><h1>{title}</h1>',
        f'<p class="rg-period">Data period: {html.escape(period)}</p>' if period else "",
        "</header>\n",
        f'<main class="rg-main"><div id="rg-network" style="height:{height}"></div>',
        legend_html(page),
        "</main>\n",
        f'<ul class="rg-notes">{notes}</ul>\n' if notes else "",
        f'<script type="application/json" id="rg-data">{data}</script>\n',
        f"<script>\n{js}\n</script>\n<script>{PAGE_JS}</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)
