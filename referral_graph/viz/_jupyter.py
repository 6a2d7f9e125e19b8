"""A view inside a Jupyter cell: its self-contained page in a sandboxed iframe (private).

Nothing here but :func:`show_inline` is part of the public API.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from referral_graph.viz._options import check_height
from referral_graph.viz._page import to_html

if TYPE_CHECKING:
    from IPython.core.display import HTML
    from pyvis.network import Network

__all__ = ["show_inline"]


def show_inline(net: Network, *, height: str | int | None = None) -> HTML:
    """Display `net` in a Jupyter cell as an ``<iframe srcdoc>`` of its self-contained page.

    Works in JupyterLab and the classic notebook, offline, and writes no file
    (pyvis' ``Network.show`` writes to the working directory and fails in
    JupyterLab). The iframe is sandboxed (scripts only).

    Parameters
    ----------
    net : pyvis.network.Network
        From :func:`render` or a view.
    height : str or int, optional
        Iframe height; by default the drawing height plus room for the title
        and notes.

    Returns
    -------
    IPython.display.HTML
        Shown when it is the last expression of a cell.

    Examples
    --------
    >>> import networkx as nx
    >>> from referral_graph.viz import render
    >>> shown = show_inline(render(nx.DiGraph([("a", "b")])))
    >>> "<iframe srcdoc=" in shown.data
    True
    """
    from IPython.core.display import HTML

    if height is None:
        drawing = check_height("show_inline", getattr(net, "height", "800px"))
        match = re.fullmatch(r"(\d+(?:\.\d+)?)px", drawing)
        css_height = f"{float(match.group(1)) + 170:.0f}px" if match else "960px"
    else:
        css_height = check_height("show_inline", height)
    page = to_html(net)
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'style="width:100%;height:{css_height};border:0" title="Referral network view">'
        "</iframe>"
    )
    # Wrapped in a div: IPython warns about bare iframes.
    return HTML(f'<div class="referral-graph-view">{frame}</div>')  # type: ignore[no-untyped-call]
