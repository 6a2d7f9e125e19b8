"""A view inside a Jupyter cell: its page in a sandboxed iframe, with a fallback line (private).

JupyterLab shows a saved notebook's outputs *untrusted* until its cells are run or it
is trusted: the HTML of an output goes through its sanitizer, which drops ``<iframe>``,
``<script>`` and ``<style>`` elements. :func:`show_inline` therefore sends, beside the
iframe, a paragraph that says how to see the view, and a ``<style>`` that hides that
paragraph: untrusted, the style and the iframe are dropped and the paragraph shows;
trusted, the view shows and the paragraph is hidden. Nothing here but
:func:`show_inline` and the :class:`InlineView` it returns is part of the public API.
"""

from __future__ import annotations

import hashlib
import html
from typing import TYPE_CHECKING

from referral_graph.viz._options import check_height
from referral_graph.viz._page import inline_page

if TYPE_CHECKING:
    from pyvis.network import Network

__all__ = ["DEFAULT_FRAME_HEIGHT", "FALLBACK", "InlineView", "show_inline"]

#: The notebook frame's default height: fits a laptop screen with the notebook's toolbar.
DEFAULT_FRAME_HEIGHT = "600px"

#: Shown where the view cannot be: an untrusted notebook, a text console, a static render.
FALLBACK = (
    "This network view needs the notebook to be trusted or the cell to be run: run the "
    "cell, or trust the notebook (JupyterLab: command palette, “Trust Notebook”; or "
    "`jupyter trust NOTEBOOK.ipynb` in a terminal)."
)


class InlineView:
    """A view ready for a Jupyter cell: shown when it is a cell's last expression.

    Jupyter reads :meth:`_repr_mimebundle_`: ``text/html`` holds the view's frame and
    the fallback line, ``text/plain`` the fallback line alone.

    Attributes
    ----------
    data : str
        The HTML (a ``<div>`` holding a ``<style>``, the fallback ``<p>`` and the
        ``<iframe srcdoc>``).
    text : str
        The plain-text fallback.

    Examples
    --------
    >>> shown = InlineView("<p>x</p>", "A view")
    >>> shown._repr_mimebundle_()
    {'text/html': '<p>x</p>', 'text/plain': 'A view'}
    """

    def __init__(self, data: str, text: str) -> None:
        self.data = data
        self.text = text

    def _repr_html_(self) -> str:
        return self.data

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/html": self.data, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def show_inline(net: Network, *, height: str | int | None = None) -> InlineView:
    """Display `net` in a Jupyter cell, in a sandboxed iframe laid out to its height.

    Works in JupyterLab and the classic notebook, offline, and writes no file
    (pyvis' ``Network.show`` writes to the working directory and fails in
    JupyterLab). The iframe is sandboxed (scripts only). The page inside is laid
    out to the frame: the drawing takes the height the title, legend and notes
    leave, so nothing is cut off. The wheel scrolls the notebook until the drawing
    is clicked, then zooms it until Escape or the pointer leaves it.
    vis-network travels gzipped (about 170 kB an output instead of 0.7 MB; the
    browser unpacks it).

    Opened untrusted (a saved notebook, before its cells run), JupyterLab drops
    the frame: the output then shows :data:`FALLBACK`, which says to run the
    cell or trust the notebook. Trusted, that line is hidden.

    Parameters
    ----------
    net : pyvis.network.Network
        From :func:`render` or a view.
    height : str or int, optional
        The frame's height, title, legend and notes included: ``600`` or
        ``"600px"`` (the default), ``"70vh"``, ... The drawing's own ``height``
        (from :func:`render`) applies to :func:`to_html`'s pages only.

    Returns
    -------
    InlineView
        Shown when it is the last expression of a cell; ``.data`` is its HTML.

    Examples
    --------
    >>> import networkx as nx
    >>> from referral_graph.viz import render
    >>> shown = show_inline(render(nx.DiGraph([("a", "b")])))
    >>> "<iframe srcdoc=" in shown.data, "height:600px" in shown.data
    (True, True)
    >>> shown.text.startswith("This network view needs the notebook to be trusted")
    True
    """
    css_height = check_height("show_inline", DEFAULT_FRAME_HEIGHT if height is None else height)
    page = inline_page(net)
    # A class of this output's own: its style hides this output's fallback line only.
    own = "rg-v-" + hashlib.sha256(page.encode("utf-8")).hexdigest()[:12]
    title = html.escape(str(getattr(net, "heading", "") or "Referral network view"), quote=True)
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'style="width:100%;height:{css_height};border:0;display:block" title="{title}">'
        "</iframe>"
    )
    fallback = (
        '<p class="rg-fallback" style="padding:8px 12px;border-left:4px solid #f0b429;'
        f'background:#fff8e6">{html.escape(FALLBACK)}</p>'
    )
    # Wrapped in a div: IPython warns about bare iframes.
    return InlineView(
        f'<div class="referral-graph-view {own}"><style>.{own} .rg-fallback{{display:none}}'
        f"</style>{fallback}{frame}</div>",
        FALLBACK,
    )
