"""A pyvis ``Network`` as one self-contained HTML page that requests nothing (private).

vis-network's JavaScript and CSS are inlined from the copy bundled with pyvis
(:func:`vis_assets`), the drawing's data and options embedded as JSON that is
safe inside ``<script>`` (:func:`json_for_html`), with the title, period,
legend and notes around the drawing; a Content-Security-Policy (:data:`CSP`)
forbids the page to fetch anything. Nothing here but :func:`to_html` is part of
the public API.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referral_graph.exceptions import InputError
from referral_graph.io import atomic_path
from referral_graph.viz._options import PathLike, check_height

if TYPE_CHECKING:
    from pyvis.network import Network

__all__ = [
    "CSP",
    "PAGE_CSS",
    "PAGE_JS",
    "json_for_html",
    "legend_html",
    "options_dict",
    "to_html",
    "vis_assets",
]

logger = logging.getLogger("referral_graph.viz")


@functools.lru_cache(maxsize=1)
def vis_assets() -> tuple[str, str]:
    """vis-network's JS and CSS from pyvis' bundled copy, made safe to inline."""
    import pyvis

    lib = Path(pyvis.__file__).parent / "lib" / "vis-9.1.2"
    try:
        js = (lib / "vis-network.min.js").read_text(encoding="utf-8")
        css = (lib / "vis-network.css").read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"vis-network 9.1.2 is not where pyvis 0.3.2 bundles it ({lib}): {exc}. "
            "Reinstall pyvis (pip install 'pyvis==0.3.2')."
        ) from exc
    # No source-map fetches, and nothing that could close the inline elements early.
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.MULTILINE)
    css = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", css)
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    if re.search(r"</style", css, flags=re.IGNORECASE) or re.search(
        r"url\((?!\s*[\"']?data:)", css
    ):
        raise InputError(f"{lib / 'vis-network.css'} cannot be inlined safely (outside url())")
    return js, css


def json_for_html(value: object) -> str:
    """JSON that is safe inside an HTML ``<script>`` element."""

    def default(obj: object) -> object:
        item = getattr(obj, "item", None)  # numpy scalars
        if callable(item):
            return item()
        raise TypeError(f"Cannot put a {type(obj).__name__} on the page")

    text = json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=default
    )
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


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


def options_dict(net: Network) -> dict[str, Any]:
    options = net.options
    if isinstance(options, dict):
        return options
    return dict(json.loads(options.to_json()))  # a pyvis Options object


def to_html(net: Network, path: PathLike | None = None) -> str:
    """Return `net` as one self-contained HTML page; write it atomically to `path`.

    vis-network's JS and CSS are inlined from pyvis' bundled copy; the data and
    options are embedded as JSON; a Content-Security-Policy (``default-src
    'none'``) stops the page from loading anything. The page exposes the
    drawing as ``window.network`` and sets ``window.__drawn`` after the first
    frame.

    Parameters
    ----------
    net : pyvis.network.Network
        Usually from :func:`render` or a view; any pyvis ``Network`` whose
        ``nodes`` / ``edges`` are vis-network dicts works.
    path : str or os.PathLike, optional
        Where to write the page. It is written to a temporary file in the same
        directory and moved into place, so readers never see half a page and
        nothing else is left beside it.

    Returns
    -------
    str
        The page.

    Examples
    --------
    >>> import networkx as nx
    >>> from referral_graph.viz import render
    >>> net = render(nx.DiGraph([("a", "b")]), title="Tiny")
    >>> page = to_html(net)
    >>> page.startswith("<!DOCTYPE html>"), "<script src" in page, "<link" in page
    (True, False, False)
    """
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
    text = "".join(parts)
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        logger.info("Wrote %s (%d characters)", path, len(text))
    return text
