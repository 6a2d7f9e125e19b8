"""mkdocs hook: turn the Sphinx roles of the docstrings into cross-references.

The docstrings cite other objects the Sphinx way (``:func:`read_events` ``,
``:class:`~referral_graph.validate.ValidationReport` ``); rendered as Markdown
they would show as ":func:" before the name. On the API pages this hook drops the
role and wraps the name in an *optional* autorefs reference, resolved by
mkdocs-autorefs (installed with mkdocstrings) when the object has a section in
the API reference; otherwise (private or external objects) the name stays code
and no warning is raised. A leading ``~`` shows the last part only, as in Sphinx.
"""

from __future__ import annotations

import html
import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):<code>(?P<name>[^<]+)</code>"
)


def _target(name: str, module: str | None) -> str:
    """The full identifier: names without a dot, or starting with a class, are module-relative;
    dotted lower-case names (``networkx.DiGraph``, ``referral_graph.io``) are absolute."""
    first = name.split(".", 1)[0]
    if module is None or ("." in name and not first[:1].isupper()):
        return name
    return f"{module}.{name}"


def on_page_content(html_text: str, page: Any, **kwargs: Any) -> str:
    """Replace ``:role:<code>name</code>`` on the API pages."""
    uri = page.file.src_uri
    if not uri.startswith("api/"):
        return html_text
    stem = uri.removeprefix("api/").removesuffix(".md")
    module = None if stem in ("index", "referral_graph") else f"referral_graph.{stem}"

    def replace(match: re.Match[str]) -> str:
        name = html.unescape(match["name"]).strip()
        short = name.startswith("~")
        name = name.lstrip("~").removesuffix("()")
        shown = name.rsplit(".", 1)[-1] if short else name
        identifier = _target(name, module)
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    return _ROLE.sub(replace, html_text)
