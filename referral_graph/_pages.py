"""The HTML pages' templates: one Jinja2 environment, autoescaping on (private).

The templates and the one stylesheet are package data in ``referral_graph/templates/``:

* ``base.html.j2`` — the layout of every page: the head (charset, the
  Content-Security-Policy, the title, the stylesheet inlined) and a ``body`` block;
* ``page.css`` — the stylesheet, inlined by the layout (the pages load nothing);
* ``macros.html.j2`` — the building blocks (note, table, cards, line chart, ...) that
  draw the plain data of :mod:`referral_graph.report._blocks`;
* ``report.html.j2`` — the report (:func:`referral_graph.report.render_html`).

Every value a template prints is escaped (``autoescape``) unless it is a
:class:`markupsafe.Markup`; the only one is the stylesheet, a file of the package.
Jinja2 is imported on first use, not with the package.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = ["STYLESHEET", "environment", "macro", "render", "stylesheet"]

#: The stylesheet every page inlines, in ``referral_graph/templates/``.
STYLESHEET = "page.css"


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

    env = environment()
    assert env.loader is not None
    css, _, _ = env.loader.get_source(env, STYLESHEET)
    if "<" in css:  # nothing that could close the <style> element early
        raise ValueError(f"{STYLESHEET} must not contain '<'")
    return Markup(css)


def render(template: str, /, **context: Any) -> str:
    """`template` rendered with `context` and the stylesheet."""
    return environment().get_template(template).render(stylesheet=stylesheet(), **context)


def macro(name: str, template: str = "macros.html.j2") -> Callable[..., str]:
    """The macro `name` of `template`, callable from Python (it returns the escaped HTML)."""
    function: Callable[..., str] = getattr(environment().get_template(template).module, name)
    return function
