"""The HTML pages' templates: one Jinja2 environment, autoescaping on (private).

The templates and the one stylesheet are package data in ``referral_graph/templates/``:

* ``base.html.j2`` — the layout of every page: the head (charset, the
  Content-Security-Policy, the title, the stylesheet inlined) and a ``body`` block;
* ``page.css`` — the stylesheet, inlined by the layout (the pages load nothing);
* ``macros.html.j2`` — the building blocks (note, table, cards, line chart, ...) that
  draw the plain data of :mod:`referral_graph.report._blocks`;
* ``report.html.j2`` — the report (:func:`referral_graph.report.render_html`);
* ``tables.js`` — the script that sorts, searches and pages a page's tables
  (:data:`TABLES_SCRIPT`), inlined by the layout when a page asks for it
  (``render(..., scripts=[TABLES_SCRIPT])``): the layout's Content-Security-Policy
  then allows that script by its SHA-256 (:func:`inline_script`), and no other.

Every value a template prints is escaped (``autoescape``) unless it is a
:class:`markupsafe.Markup`; the only ones are the stylesheet and the scripts, files of
the package. Jinja2 is imported on first use, not with the package.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = [
    "STYLESHEET",
    "TABLES_SCRIPT",
    "InlineScript",
    "environment",
    "inline_script",
    "macro",
    "render",
    "stylesheet",
]

#: The stylesheet every page inlines, in ``referral_graph/templates/``.
STYLESHEET = "page.css"
#: The script that makes a page's tables sortable, searchable and paged.
TABLES_SCRIPT = "tables.js"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' environment: package templates, autoescaping, undefined names an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("referral_graph", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.lru_cache(maxsize=1)
def stylesheet() -> Markup:
    """The pages' stylesheet, marked safe to print inside ``<style>``: it is ours, checked here."""
    from markupsafe import Markup

    css = _source(STYLESHEET)
    if "<" in css:  # nothing that could close the <style> element early
        raise ValueError(f"{STYLESHEET} must not contain '<'")
    return Markup(css)


class InlineScript(NamedTuple):
    """A script of the package to inline in a page, and its Content-Security-Policy source."""

    #: The script's text, marked safe to print inside ``<script>``.
    text: Markup
    #: ``'sha256-…'``: the hash of `text` that lets the browser run it, and nothing else.
    csp: str


@functools.lru_cache(maxsize=4)
def inline_script(name: str) -> InlineScript:
    """The script `name` of ``referral_graph/templates/`` and its CSP hash source.

    Parameters
    ----------
    name
        The script's file name, e.g. :data:`TABLES_SCRIPT`.

    Returns
    -------
    InlineScript
        The text and ``'sha256-<base64>'`` of its UTF-8 bytes, as a browser hashes
        the content of an inline ``<script>`` element.

    Raises
    ------
    ValueError
        If the script holds ``</``, ``<!--`` or ``<script``, which could end or
        confuse the ``<script>`` element it is inlined in.
    """
    from markupsafe import Markup

    source = _source(name)
    if re.search(r"</|<!--|<script", source, flags=re.IGNORECASE):
        raise ValueError(f"{name} must not contain '</', '<!--' or '<script'")
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return InlineScript(Markup(source), f"'sha256-{digest}'")


def render(template: str, /, *, scripts: Sequence[str] = (), **context: Any) -> str:
    """`template` rendered with `context`, the stylesheet and the package `scripts` inlined.

    Parameters
    ----------
    template
        The template's file name in ``referral_graph/templates/``.
    scripts
        Scripts of the package (e.g. :data:`TABLES_SCRIPT`) that the layout inlines at
        the end of the body and allows, by their hash only, in the page's
        Content-Security-Policy.
    **context
        The template's values (escaped when printed).
    """
    return (
        environment()
        .get_template(template)
        .render(
            stylesheet=stylesheet(),
            scripts=[inline_script(name) for name in scripts],
            **context,
        )
    )


def macro(name: str, template: str = "macros.html.j2") -> Callable[..., str]:
    """The macro `name` of `template`, callable from Python (it returns the escaped HTML)."""
    function: Callable[..., str] = getattr(environment().get_template(template).module, name)
    return function


def _source(name: str) -> str:
    """The text of the file `name` of ``referral_graph/templates/``."""
    env = environment()
    assert env.loader is not None
    source: str = env.loader.get_source(env, name)[0]
    return source
