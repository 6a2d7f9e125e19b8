"""Guard rails on the package's shape: no import cycle, no borrowed private names, small modules.

The import graph is read from the source (every ``import`` statement, also inside
functions; imports under ``if TYPE_CHECKING:`` aside), so a lazy import that
closes a loop fails here as surely as a top-level one.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "referral_graph"

#: Longest module allowed (lines); a module past it holds more than one job.
MAX_LINES = 1_000


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_private(module: str) -> bool:
    """A private helper module: some part of its dotted name starts with an underscore."""
    return any(part.startswith("_") for part in module.split(".")[1:])


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _import_target(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> Iterator[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for each import of `module`."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            target = _import_target(node, package)
            if target.split(".")[0] != "referral_graph":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    yield submodule, None, node.lineno
                else:
                    yield target, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "referral_graph":
                    yield alias.name, None, node.lineno


def _private_attributes(module: str) -> Iterator[tuple[str, str, int]]:
    """(module, underscore name, line) for each ``alias._name`` on an imported module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _import_target(node, package)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            yield aliases[node.value.id], node.attr, node.lineno


def _graph() -> dict[str, set[str]]:
    return {
        m: {t for t, _, _ in _imports(m) if t != m and t in MODULES and not m.startswith(t + ".")}
        for m in MODULES
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_sees_a_planted_loop() -> None:
    """The oracle: a hand-made graph with one loop of three and a tail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    """A module never imports, however indirectly, one that imports it back.

    The package's ``__init__`` modules are the only exception: importing a
    submodule runs its package's ``__init__`` first by Python's rules, so an edge
    from a module to its own package does not count.
    """
    assert _cycles(_graph()) == []


def test_no_module_borrows_a_private_name() -> None:
    """No module imports an underscore name from a sibling public module.

    Shared helpers live in private modules (``_codes``, ``_checks``, ``engines._rules``,
    ...) whose names are meant to be imported within the package.
    """
    borrowed = [
        f"{m}:{line} imports {name} from {target}"
        for m in MODULES
        for target, name, line in _imports(m)
        if name is not None
        and name.startswith("_")
        and not name.startswith("__")
        and not _is_private(target)
        and target != m
    ]
    borrowed += [
        f"{m}:{line} uses {target}.{name}"
        for m in MODULES
        for target, name, line in _private_attributes(m)
        if not _is_private(target) and target != m
    ]
    assert borrowed == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_short(module: str) -> None:
    """Each module holds one job; past :data:`MAX_LINES` lines it holds several."""
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


#: The public modules' ``__all__``, frozen: a change here is a change of the public API.
PUBLIC_API: dict[str, list[str]] = {
    "referral_graph.compact": ["CompactGraph", "as_compact", "load_compact", "read_output"],
    "referral_graph.engines": [
        "ENGINES",
        "EngineResult",
        "LARGE_EVENT_FILES",
        "PACKED_FACTOR",
        "aggregate",
        "resolve",
    ],
    "referral_graph.engines.edge_files": ["EdgeFiles", "read_edge_files"],
    "referral_graph.engines.files": ["FilesAggregation", "aggregate_files"],
    "referral_graph.engines.memory": [
        "SMALL_FRAME_ROWS",
        "aggregate_events",
        "edge_panel",
        "period_of",
        "provider_patients",
        "resolve_engine",
        "tie_table",
    ],
    "referral_graph.engines.spark": [
        "INSTALL_HINT",
        "SparkAggregation",
        "aggregate_spark",
        "spark_available",
        "spark_session",
    ],
    "referral_graph.store": ["Load", "ReferralStore", "ReportRecord", "StoreError", "open_store"],
    "referral_graph.subgraphs": ["ego_network", "subgraph"],
    "referral_graph": [
        "ReferralGraphError",
        "ReferralNetwork",
        "__version__",
        "aggregate",
        "graph",
        "io",
        "load_network",
        "privacy",
        "report",
        "scores",
        "store",
        "validate",
    ],
    "referral_graph.aggregate": [
        "aggregate_events",
        "edge_panel",
        "provider_patients",
        "resolve_engine",
        "tie_table",
    ],
    "referral_graph.centrality": [
        "AUTO_EXACT_LIMIT",
        "AUTO_SAMPLE_SOURCES",
        "CompactGraph",
        "betweenness",
        "hits",
        "pagerank",
        "provider_measures",
    ],
    "referral_graph.churn": [
        "ChurnModel",
        "DESCRIPTIVE_COLUMNS",
        "FAMILIES",
        "FEATURE_COLUMNS",
        "PreparedPanel",
        "REASON_GROUPS",
        "RULES",
        "at_risk",
        "backtest",
        "calibration_table",
        "choose_family",
        "choose_ranking",
        "churn_cutoffs",
        "churn_features",
        "churn_labels",
        "fit_churn_model",
        "rule_margins",
    ],
    "referral_graph.cli": ["build_parser", "main"],
    "referral_graph.communities": [
        "AUTO_NETWORKIT_TIES",
        "METHODS",
        "community_summary",
        "detect_communities",
        "modularity",
    ],
    "referral_graph.datasets": [
        "SAMPLE_FOCUS",
        "SAMPLE_SETTINGS",
        "sample_dir",
        "sample_extracts",
        "sample_paths",
        "write_sample",
    ],
    "referral_graph.exceptions": [
        "DependencyError",
        "InputError",
        "InsufficientDataError",
        "NotFittedError",
        "ParameterError",
        "ReferralGraphError",
        "SchemaError",
        "StoreError",
        "ValidationError",
    ],
    "referral_graph.graph": [
        "graph_from_tables",
        "graph_to_tables",
        "induced_subgraph",
        "load_graph",
        "period_of_ties",
        "save_graph",
        "save_graph_from_tables",
        "suppress_graph",
    ],
    "referral_graph.io": [
        "EDGE_LAYOUTS",
        "RawTable",
        "atomic_path",
        "providers_layout",
        "read_activities",
        "read_edges",
        "read_events",
        "read_providers",
        "read_table",
        "write_table",
    ],
    "referral_graph.leakage": [
        "FocusMarket",
        "IN_NETWORK",
        "KEY_REFERRER_WEIGHTS",
        "UNAFFILIATED",
        "focus_market",
        "key_referrers",
        "leakage_summary",
        "resolve_focus",
        "share_of_wallet",
        "share_of_wallet_by_specialty",
    ],
    "referral_graph.npi": [
        "is_valid_npi",
        "looks_like_npi",
        "npi_check_digit",
        "npi_flags",
        "valid_npi_mask",
    ],
    "referral_graph.outreach": [
        "OutreachEffect",
        "liaison_summary",
        "outreach_effect",
        "outreach_effect_by_kind",
    ],
    "referral_graph.pipeline": [
        "LARGE_EVENT_FILES",
        "ReferralNetwork",
        "auto_engine",
        "load_network",
        "load_network_files",
        "providers_of",
    ],
    "referral_graph.privacy": [
        "COUNT_PATTERN",
        "DEFAULT_THRESHOLD",
        "DERIVED_FROM",
        "LINKED",
        "NOT_EXPORTED",
        "PARTITIONS",
        "ROW_SUMS",
        "STAND_IN",
        "SUMMED",
        "count_columns",
        "describe_suppression",
        "format_count",
        "is_count_name",
        "is_small_cell",
        "pseudonymize",
        "small_cells",
        "suppress",
        "suppress_counts",
        "suppress_frame",
    ],
    "referral_graph.prospects": ["KINDS", "METHODS", "RELATIONS", "prospect_backtest", "prospects"],
    "referral_graph.report": [
        "Profile",
        "Report",
        "build_report",
        "headline_figures",
        "monthly_series",
        "outreach_list",
        "profile",
        "render_html",
        "talking_point",
        "what_changed",
        "write_report",
    ],
    "referral_graph.scale": [
        "EdgeFiles",
        "FilesAggregation",
        "aggregate_files",
        "compact_measures",
        "ego_network",
        "load_compact",
        "load_network_files",
        "read_edge_files",
        "read_output",
        "subgraph",
    ],
    "referral_graph.scores": [
        "TablesWritten",
        "published_link_scores",
        "score_network",
        "write_tables",
    ],
    "referral_graph.spark": [
        "INSTALL_HINT",
        "SparkAggregation",
        "aggregate_spark",
        "spark_available",
        "spark_session",
    ],
    "referral_graph.strength": ["COMPONENTS", "DEFAULT_WEIGHTS", "org_strength", "tie_strength"],
    "referral_graph.synthetic": ["BEHAVIOURS", "Market", "generate_market", "write_market"],
    "referral_graph.taxonomy": [
        "LEVELS",
        "builtin_taxonomy",
        "join_taxonomy",
        "read_taxonomy",
        "specialty_for",
        "unmatched_codes",
    ],
    "referral_graph.validate": [
        "Issue",
        "ValidationReport",
        "check_ids",
        "check_missing_providers",
        "parse_dates",
        "parse_numbers",
        "parse_periods",
        "restore_id_column",
        "restore_ids",
    ],
    "referral_graph.viz": [
        "RenderOptions",
        "at_risk_view",
        "category_colors",
        "community_view",
        "ego_view",
        "focus_view",
        "network_view",
        "rank_at_risk",
        "render",
        "show_inline",
        "to_html",
    ],
}


def test_public_modules_are_all_listed() -> None:
    public = sorted(m for m in MODULES if not _is_private(m))
    assert public == sorted(PUBLIC_API)


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_public_api_is_frozen(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC_API[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name}, which it lacks"
