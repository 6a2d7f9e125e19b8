"""A GraphML writer that streams a networkx graph to a file, line by line.

networkx's writer builds the whole XML tree in memory and walks it again to write:
on a graph of 50,000 providers and 800,000 ties that takes about a minute. This
writer declares the keys from one pass over the attributes, then writes each node
and edge as one line; the file is the same GraphML (``networkx.read_graphml``,
Gephi and igraph read it), and an ``element_filter`` can drop attributes on the
way (small-cell suppression) without copying the graph.

:func:`write_graphml_columns` writes the same file from columns (one list of values
per attribute) instead of one dict per element: each attribute is formatted in one
pass over its column and each line joined from the columns' cells, several times
faster on large tables, where no networkx graph is built at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

# networkx's names for the types it reads back (``long`` reads as int)
_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


# XML escapes, applied by str.translate (C speed) rather than one call per value
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _kind(python_type: type) -> type:
    """The GraphML kind of values of `python_type` (numpy's scalars included)."""
    if issubclass(python_type, bool | np.bool_):
        return bool
    if issubclass(python_type, int | np.integer):
        return int
    if issubclass(python_type, float | np.floating):
        return float
    return str


def _string(value: Any) -> str:
    if hasattr(value, "isoformat") and hasattr(value, "date"):  # a timestamp: its date
        value = value.date().isoformat()
    return str(value).translate(_TEXT)


def _formatter(kind: type) -> Any:
    """How a value of `kind` is written (a C builtin where one does the job)."""
    if kind is bool:
        return lambda v: "true" if v else "false"
    if kind is float:
        return lambda v: repr(float(v))
    if kind is int:
        return lambda v: str(int(v))
    return _string


def _declare(elements: list[dict[str, Any]]) -> dict[str, type]:
    """Each attribute's type over all elements (int and float together are float)."""
    pairs = {(k, type(v)) for data in elements for k, v in data.items() if v is not None}
    kinds: dict[str, type] = {}
    for key, python_type in pairs:
        kind = _kind(python_type)
        seen = kinds.get(key)
        if seen is None or seen is kind:
            kinds[key] = kind
        elif {seen, kind} == {int, float}:
            kinds[key] = float
        else:
            kinds[key] = str
    # declared in the order first met, as networkx does
    order = dict.fromkeys(itertools.chain.from_iterable(elements))
    return {k: kinds[k] for k in order if k in kinds}


def _header(
    handle: IO[str], domains: list[tuple[str, dict[str, type]]]
) -> dict[str, dict[str, tuple[str, Any]]]:
    """Write the XML header and the key declarations; each attribute's opening tag and
    formatter, per domain (keys numbered across the domains in order)."""
    write = handle.write
    write(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
    )
    ways: dict[str, dict[str, tuple[str, Any]]] = {}
    n_keys = 0
    for domain, kinds in domains:
        ways[domain] = {}
        for name, kind in kinds.items():
            key = f"d{n_keys}"
            n_keys += 1
            ways[domain][name] = (f'<data key="{key}">', _formatter(kind))
            write(
                f'  <key id="{key}" for="{domain}" attr.name="{name.translate(_ATTR)}" '
                f'attr.type="{_TYPES[kind]}" />\n'
            )
    return ways


def _write_graph_data(
    handle: IO[str], ways: dict[str, tuple[str, Any]], graph: Mapping[str, Any]
) -> None:
    handle.write('  <graph edgedefault="directed">\n')
    for name, (tag, fmt) in ways.items():
        handle.write(f"    {tag}{fmt(graph[name])}</data>\n")


def _graph_kinds(graph: Mapping[str, Any]) -> dict[str, type]:
    return _declare([{k: v for k, v in graph.items() if not isinstance(v, dict)}])


def write_graphml(
    nodes: list[tuple[Any, dict[str, Any]]],
    edges: list[tuple[Any, Any, dict[str, Any]]],
    graph: Mapping[str, Any],
    handle: IO[str],
) -> None:
    """Write GraphML to `handle`: `nodes` as (id, data), `edges` as (u, v, data).

    Values that are None are left out; ids are written as text.
    """
    node_kinds = _declare([d for _, d in nodes])
    edge_kinds = _declare([d for _, _, d in edges])
    ways = _header(
        handle, [("graph", _graph_kinds(graph)), ("node", node_kinds), ("edge", edge_kinds)]
    )
    _write_graph_data(handle, ways["graph"], graph)
    write = handle.write
    node_ways, edge_ways = ways["node"], ways["edge"]
    for n, data in nodes:
        inner = "".join(
            f"{node_ways[k][0]}{node_ways[k][1](v)}</data>"
            for k, v in data.items()
            if v is not None
        )
        write(f'    <node id="{str(n).translate(_ATTR)}">{inner}</node>\n')
    for u, v, data in edges:
        inner = "".join(
            f"{edge_ways[k][0]}{edge_ways[k][1](x)}</data>"
            for k, x in data.items()
            if x is not None
        )
        write(
            f'    <edge source="{str(u).translate(_ATTR)}" target="{str(v).translate(_ATTR)}">'
            f"{inner}</edge>\n"
        )
    write("  </graph>\n</graphml>\n")


def _column_kinds(columns: Mapping[str, Sequence[Any]]) -> dict[str, tuple[type, set[type]]]:
    """:func:`_declare` of the elements the columns describe (None is absent), with the
    types of each column's values.

    A key is declared in the order first met reading the elements one by one, each
    in its columns' order: by the first element holding it, then by column.
    """
    found: list[tuple[int, int, str, type, set[type]]] = []
    for position, (name, values) in enumerate(columns.items()):
        types = set(map(type, values))
        types.discard(type(None))
        if not types:
            continue
        kinds = {_kind(t) for t in types}
        kind = kinds.pop() if len(kinds) == 1 else float if kinds == {int, float} else str
        first = next(i for i, v in enumerate(values) if v is not None)
        found.append((first, position, name, kind, types))
    return {name: (kind, types) for _, _, name, kind, types in sorted(found)}


class _Escaped(dict[Any, str]):
    """An id as written in an XML attribute, escaped once per id."""

    def __missing__(self, key: Any) -> str:
        text = self[key] = str(key).translate(_ATTR)
        return text


def _cells(values: Sequence[Any], tag: str, fmt: Any, types: set[type]) -> list[str]:
    """One attribute's ``<data>`` element on each row ("" where the value is None).

    A column of text or whole numbers (one type) is formatted once per distinct
    value: dates, specialties and counts repeat a lot.
    """
    column = np.fromiter(values, dtype=object, count=len(values))
    present = np.fromiter((v is not None for v in column), dtype=bool, count=len(column))
    cells = np.full(len(column), "", dtype=object)
    shown = column[present]
    if len(types) == 1 and types <= {str, int, bool}:
        codes, uniques = pd.factorize(shown)
        formatted = np.array([f"{tag}{fmt(v)}</data>" for v in uniques.tolist()], dtype=object)
        cells[present] = formatted[codes]
    else:
        cells[present] = np.array([f"{tag}{fmt(v)}</data>" for v in shown.tolist()], dtype=object)
    out: list[str] = cells.tolist()
    return out


def _lines(
    heads: list[list[str]],
    close: str,
    columns: Mapping[str, Sequence[Any]],
    ways: Mapping[str, tuple[str, Any]],
    types: Mapping[str, set[type]],
    chunk: int,
) -> Iterator[str]:
    """The elements' lines, `chunk` rows at a time: on each row the pieces of its head
    (the columns of `heads`), its ``<data>`` elements in column order, and `close`."""
    cells = [
        _cells(values, *ways[name], types[name]) for name, values in columns.items() if name in ways
    ]
    parts = heads + cells
    for first in range(0, len(heads[0]), chunk):
        last = min(first + chunk, len(heads[0]))
        rows = zip(*(p[first:last] for p in parts), strict=True)
        yield close.join("".join(row) for row in rows) + close


def write_graphml_columns(
    node_ids: Sequence[Any],
    node_columns: Mapping[str, Sequence[Any]],
    sources: Sequence[Any],
    targets: Sequence[Any],
    edge_columns: Mapping[str, Sequence[Any]],
    graph: Mapping[str, Any],
    handle: IO[str],
    *,
    chunk: int = 100_000,
) -> None:
    """Write GraphML from columns: the file :func:`write_graphml` writes of the same elements.

    Node ``i`` is ``node_ids[i]`` with the attributes ``{name: column[i]}`` of
    `node_columns`, in the columns' order, leaving out None; edge ``i`` goes from
    ``sources[i]`` to ``targets[i]`` with the attributes of `edge_columns`. Every
    column is as long as its ids. Rows are written `chunk` at a time.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> write_graphml_columns(["a", "b"], {"x": [1, None]}, ["a"], ["b"], {"w": [2.5]}, {}, out)
    >>> print(out.getvalue().split("\\n", 3)[3])  # doctest: +NORMALIZE_WHITESPACE
    <key id="d1" for="edge" attr.name="w" attr.type="double" />
      <graph edgedefault="directed">
        <node id="a"><data key="d0">1</data></node>
        <node id="b"></node>
        <edge source="a" target="b"><data key="d1">2.5</data></edge>
      </graph>
    </graphml>
    <BLANKLINE>
    """
    node_kinds = _column_kinds(node_columns)
    edge_kinds = _column_kinds(edge_columns)
    ways = _header(
        handle,
        [
            ("graph", _graph_kinds(graph)),
            ("node", {k: kind for k, (kind, _) in node_kinds.items()}),
            ("edge", {k: kind for k, (kind, _) in edge_kinds.items()}),
        ],
    )
    _write_graph_data(handle, ways["graph"], graph)
    escaped = _Escaped()
    if len(node_ids):
        heads = [[f'    <node id="{escaped[n]}">' for n in node_ids]]
        types = {k: t for k, (_, t) in node_kinds.items()}
        for text in _lines(heads, "</node>\n", node_columns, ways["node"], types, chunk):
            handle.write(text)
    if len(sources):
        # each end's piece of the line formatted once per provider
        starts = {u: f'    <edge source="{escaped[u]}" target="' for u in dict.fromkeys(sources)}
        ends = {v: f'{escaped[v]}">' for v in dict.fromkeys(targets)}
        heads = [[starts[u] for u in sources], [ends[v] for v in targets]]
        types = {k: t for k, (_, t) in edge_kinds.items()}
        for text in _lines(heads, "</edge>\n", edge_columns, ways["edge"], types, chunk):
            handle.write(text)
    handle.write("  </graph>\n</graphml>\n")
