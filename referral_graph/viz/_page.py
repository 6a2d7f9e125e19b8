"""A pyvis ``Network`` as one self-contained HTML page that requests nothing (private).

The page is the template ``referral_graph/templates/view.html.j2`` on the layout
and stylesheet every page shares (:mod:`referral_graph._pages`): vis-network's
JavaScript and CSS are inlined from the copy bundled with pyvis
(:func:`vis_assets`), the drawing's data and options embedded as JSON that is
safe inside ``<script>`` (:func:`json_for_html`), with the title, period,
legend and notes around the drawing; its Content-Security-Policy forbids the
page to fetch anything. Nothing here but :func:`to_html` is part of the public
API.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referral_graph._pages import render
from referral_graph.exceptions import InputError
from referral_graph.io import atomic_path
from referral_graph.viz._options import PathLike, check_height

if TYPE_CHECKING:
    from pyvis.network import Network

__all__ = [
    "drawing_context",
    "inline_page",
    "json_for_html",
    "options_dict",
    "packed_vis_js",
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
    # The rules that carry images (data: URIs) draw the navigation buttons, the
    # manipulation toolbar and the configurator's colour picker, which no view turns on:
    # leaving them out takes the CSS from 220 kB to 13 kB.
    css = "".join(
        rule for rule in re.findall(r"[^{}]*\{[^{}]*\}", css) if "url(" not in rule
    ).strip()
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


def options_dict(net: Network) -> dict[str, Any]:
    options = net.options
    if isinstance(options, dict):
        return options
    return dict(json.loads(options.to_json()))  # a pyvis Options object


def drawing_context(net: Network, *, func: str = "to_html") -> dict[str, Any]:
    """What the templates need to draw `net` (``network.html.j2``): title, period, height,
    legend, notes and the drawing's data (a :class:`markupsafe.Markup`, safe inside
    ``<script>``: :func:`json_for_html`); vis-network itself is the caller's."""
    from markupsafe import Markup

    page: Mapping[str, Any] = getattr(net, "referral_graph_page", None) or {
        "title": getattr(net, "heading", "") or "Network"
    }
    data = json_for_html({"nodes": net.nodes, "edges": net.edges, "options": options_dict(net)})
    return {
        "title": str(page.get("title") or "Network"),
        "period": page.get("period") or "",
        "height": check_height(func, getattr(net, "height", "800px")),
        "legend": [(str(color), str(label)) for color, label in page.get("legend") or []],
        "legend_title": str(page.get("legend_title") or "Legend"),
        "legend_edges": [(kind, str(label)) for kind, label in page.get("legend_edges") or []],
        "notes": [str(note) for note in page.get("notes") or []],
        "data": Markup(data),
    }


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
    text = _page(net, func="to_html", fit=False)
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        logger.info("Wrote %s (%d characters)", path, len(text))
    return text


@functools.lru_cache(maxsize=1)
def packed_vis_js() -> str:
    """vis-network's JS (:func:`vis_assets`) gzipped and base64-encoded: 165 kB, not 468 kB.

    Deterministic (no time stamp in the gzip header), so a page is the same in every run.
    """
    js, _ = vis_assets()
    return base64.b64encode(gzip.compress(js.encode("utf-8"), compresslevel=9, mtime=0)).decode(
        "ascii"
    )


def inline_page(net: Network) -> str:
    """`net` as a page made to sit in a notebook's frame (:func:`show_inline`).

    Unlike :func:`to_html`'s page, it is laid out to the frame's height (the drawing
    takes what the title, legend and notes leave) and carries vis-network gzipped
    (:func:`packed_vis_js`), unpacked in the browser by ``DecompressionStream``.

    Examples
    --------
    >>> import networkx as nx
    >>> from referral_graph.viz import render
    >>> page = inline_page(render(nx.DiGraph([("a", "b")])))
    >>> 'class="rg-view rg-fit"' in page, len(page) < len(to_html(render(nx.DiGraph())))
    (True, True)
    """
    return _page(net, func="show_inline", fit=True)


def _page(net: Network, *, func: str, fit: bool) -> str:
    """The page of `net` (view.html.j2): a page of its own, or (`fit`) one for a frame."""
    from markupsafe import Markup

    js, css = vis_assets()
    return render(
        "view.html.j2",
        **drawing_context(net, func=func),
        fit=fit,
        # Safe inside <script> and <style> as they are (see vis_assets, packed_vis_js and
        # json_for_html); escaping them would break them.
        vis_js=Markup("" if fit else js),
        vis_packed=Markup(packed_vis_js() if fit else ""),
        vis_css=Markup(css),
    )
