"""mkdocs hooks of the API pages: Sphinx roles as cross-references, grouped parameters as one.

**Roles.**
The docstrings cite other objects the Sphinx way (``:func:`read_events` ``,
``:class:`~referral_graph.validate.ValidationReport` ``); rendered as Markdown
they would show as ":func:" before the name. On the API pages this hook drops the
role and wraps the name in an *optional* autorefs reference, resolved by
mkdocs-autorefs (installed with mkdocstrings) when the object has a section in
the API reference; otherwise (private or external objects) the name stays code
and no warning is raised. A leading ``~`` shows the last part only, as in Sphinx.

**Grouped parameters.** numpydoc lets one entry describe several parameters
(``source_col, target_col : str, optional``, or ``ties, providers, focus_ids`` with
"As in ..."). mkdocstrings renders one item per name, each repeating the whole
paragraph, and gives an untyped group the type of its first name. This hook merges
consecutive parameter items with the same description into one item that names them
all, each with its own annotation from the function's signature.
"""

from __future__ import annotations

import bisect
import html
import importlib
import inspect
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


_PARAM_ITEM = re.compile(
    r"<li>\s*<b><code>(?P<name>[^<]+)</code></b>\s*(?P<type>\(.*?\))?\s*–\s*"
    r'<div class="doc-md-description">(?P<desc>.*?)</div>\s*</li>',
    re.S,
)
_PARAMETERS = re.compile(
    r'(<th class="field-name">Parameters:</th>\s*<td class="field-body">\s*'
    r'<ul class="first simple">)(?P<items>.*?)(</ul>)',
    re.S,
)
_OWNER = re.compile(r'id="(referral_graph(?:\.[A-Za-z_][A-Za-z0-9_]*)+)"')


def _annotations(identifier: str | None) -> dict[str, str]:
    """Each parameter's annotation, as written in the signature of `identifier`."""
    if identifier is None:
        return {}
    obj: Any = None
    parts = identifier.split(".")
    for i in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        break
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return {}
    return {
        name: (
            p.annotation
            if isinstance(p.annotation, str)
            else inspect.formatannotation(p.annotation)
        )
        for name, p in signature.parameters.items()
        if p.annotation is not inspect.Parameter.empty
    }


def _merge_group(items: list[re.Match[str]], annotations: dict[str, str]) -> str:
    names = []
    for item in items:
        name = item["name"]
        annotation = annotations.get(name)
        shown = f" (<code>{html.escape(annotation)}</code>)" if annotation else ""
        names.append(f"<b><code>{name}</code></b>{shown}")
    return f'<li>{", ".join(names)} – <div class="doc-md-description">{items[0]["desc"]}</div></li>'


def _merge_parameters(html_text: str) -> str:
    """Merge consecutive parameter items that share a description (see the module notes)."""

    # Each object's section starts with its id: the owner of a list is the last id before it.
    starts, owners = [], []
    for found in _OWNER.finditer(html_text):
        starts.append(found.start())
        owners.append(found.group(1))

    def merge(match: re.Match[str]) -> str:
        at = bisect.bisect_left(starts, match.start())
        annotations = _annotations(owners[at - 1] if at else None)
        items = list(_PARAM_ITEM.finditer(match["items"]))
        if len(items) < 2:
            return match.group(0)
        out, group = [], [items[0]]
        for item in items[1:]:
            if item["desc"].strip() == group[-1]["desc"].strip():
                group.append(item)
                continue
            out.append(group[0].group(0) if len(group) == 1 else _merge_group(group, annotations))
            group = [item]
        out.append(group[0].group(0) if len(group) == 1 else _merge_group(group, annotations))
        return match.group(1) + "\n".join(out) + match.group(3)

    return _PARAMETERS.sub(merge, html_text)


def on_page_content(html_text: str, page: Any, **kwargs: Any) -> str:
    """Replace ``:role:<code>name</code>`` and merge grouped parameters on the API pages."""
    uri = page.file.src_uri
    if not uri.startswith("api/"):
        return html_text
    html_text = _merge_parameters(html_text)
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
