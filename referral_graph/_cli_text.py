"""Private: the lines every command prints about what it read and built.

``cli`` and ``_cli_national`` print the same read reports, summary and note on
a graph file's suppression, whether the network was built in memory or out of
core; ``backtest`` prints the model's margins over the rules.
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


def margins_text(margins: Any) -> str:
    """The model against the best rule on each measure, in lines a person reads."""
    lines = ["The model against the best simple rule on your data (margin: model - rule):"]
    for row in margins.itertuples(index=False):
        verdict = "model ahead" if row.margin > 0 else "rule ahead or equal"
        lines.append(
            f"  {row.measure:<18} model {row.model:.3f}  best rule {row.best_rule} "
            f"{row.rule:.3f}  margin {row.margin:+.3f}  ({verdict})"
        )
    return "\n".join(lines)
