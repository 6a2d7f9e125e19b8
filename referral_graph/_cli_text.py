"""Private: the lines every command prints about what it read and built.

``cli`` and ``_cli_national`` print the same read reports and the same
summary, whether the network was built in memory or out of core.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def print_reports(reports: Iterable[Any]) -> None:
    """Print one line per file read: rows read, and rows excluded by reason."""
    for report in reports:
        excluded = report.excluded_by_reason
        line = f"{report.name}: {report.rows_read:,} rows read"
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
