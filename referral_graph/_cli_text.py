"""Private: the lines every command prints about what it read and built.

``cli`` and ``_cli_national`` print the same read reports, summary and note on
a graph file's suppression, whether the network was built in memory or out of
core.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def print_reports(reports: Iterable[Any]) -> None:
    """Print one line per file read: rows read, and rows excluded by reason."""
    for report in reports:
        excluded = report.excluded_by_reason
        line = f"{report.name}: {report.scanned or f'{report.rows_read:,} rows read'}"
        if excluded:
            line += ", excluded " + ", ".join(f"{v:,} ({k})" for k, v in excluded.items())
        print(line)


def summary(n_nodes: int, n_edges: int, period: tuple[Any, Any] | None) -> str:
    """The graph's size and the period its events cover, as two lines."""
    lines = [f"Referral graph: {n_nodes:,} providers, {n_edges:,} ties"]
    if period is not None:
        start, end = period
        lines.append(f"Period: {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    else:
        lines.append("Period: none (no dates; time-based measures are not available)")
    return "\n".join(lines)


def graph_suppression_note(attributes: dict[str, Any]) -> str | None:
    """What small-cell suppression left out of a graph file, from its graph `attributes`
    (None when nothing was)."""
    from referral_graph.privacy import describe_suppression

    said = describe_suppression(
        [
            {
                "threshold": attributes["suppression_threshold"],
                "hidden": {"attributes": attributes["suppressed_counts"]},
                "complementary": {},
                "derived": {"attributes": attributes["suppressed_derived"]},
            }
        ]
    )
    return None if said is None else said + " The ties stay, marked small_cell."
