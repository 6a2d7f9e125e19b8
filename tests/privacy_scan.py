"""A scanner of written outputs for what small-cell suppression must never let through.

It reads every file a command wrote (CSV, Parquet, GraphML, GEXF, HTML, JSON) and
returns each problem found:

* a count (a column or attribute named as one: :func:`referral_graph.privacy.is_count_name`)
  from 1 to ``threshold - 1``;
* a value derived from a count (:data:`referral_graph.privacy.DERIVED_FROM`) shown on a row
  whose count is hidden (an amount or share gives the count back);
* a hidden part of a shown total beside its other shown parts
  (:data:`referral_graph.privacy.ROW_SUMS`): total minus the rest recovers it;
* a number from 1 to ``threshold - 1`` in a count column of an HTML table;
* any of the given patient identifiers, anywhere in any file.

The rules are written out here from the privacy policy (docs/privacy.md), not taken from
the code that applies them. Which columns are counts: a list written by hand
(:data:`COUNTS`) together with the code's own pattern, so that a name dropped from
the pattern is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import pandas as pd

from referral_graph.privacy import DERIVED_FROM, ROW_SUMS, is_count_name

#: The count columns of the exported tables, listed by hand from the tables themselves
#: (docs/data-formats.md): a column is checked if it is here *or* named as a count by the
#: code, so that a name dropped from the code's pattern is still caught here.
COUNTS = frozenset(
    {
        "referrals", "patients", "reverse_referrals", "to_focus", "to_competitors", "total",
        "referrers", "leaking_referrers", "receivers", "at_stake", "expected_loss",
        "top_competitor_referrals", "referrals_internal", "referrals_total", "providers",
        "in_strength", "out_strength", "in_degree", "out_degree", "patients_shared",
        "patient_sharing_degree", "specialty_total", "to_focus_loyalist", "to_focus_splitter",
        "referrals_to_competitors", "pair_count", "bene_count", "transaction_count",
        "patient_count", "visits", "pre_referrals", "post_referrals",
    }
)  # fmt: skip


def _is_count(name: object) -> bool:
    return str(name) in COUNTS or is_count_name(name)


def _small(values: pd.Series, threshold: int) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return ((numbers > 0) & (numbers < threshold)).fillna(False).astype(bool)


def scan_table(table: pd.DataFrame, name: str, threshold: int = 11) -> list[str]:
    """Problems in one table (as read back from a file)."""
    problems: list[str] = []
    counts = [
        c
        for c in table.columns
        if _is_count(c) and pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]  # fmt: skip
    if "unit" in table.columns:  # a long table: its count rows
        rows = table["unit"] == "count"
        for c in table.columns:
            if c != "unit" and pd.api.types.is_numeric_dtype(table[c]):
                n = int((_small(table[c], threshold) & rows).sum())
                if n:
                    problems.append(f"{name}: {n} small counts in {c!r} (count rows)")
    for c in counts:
        n = int(_small(table[c], threshold).sum())
        if n:
            problems.append(f"{name}: {n} small counts in {c!r}")
    hidden = {c: table[c].isna() for c in counts}
    for derived, sources in DERIVED_FROM.items():
        if derived not in table.columns:
            continue
        for source in sources:
            if source in hidden:
                shown = hidden[source] & table[derived].notna()
                if shown.any():
                    problems.append(
                        f"{name}: {int(shown.sum())} rows show {derived!r} where {source!r} "
                        "is hidden"
                    )
    for total, parts in ROW_SUMS:
        if total in table.columns and all(p in table.columns for p in parts):
            missing = [table[c].isna() for c in parts]
            one_hidden = sum(m.astype(int) for m in missing) == 1
            recoverable = one_hidden & table[total].notna()
            if recoverable.any():
                problems.append(
                    f"{name}: {int(recoverable.sum())} rows show {total!r} beside all but one "
                    f"of {parts} (the hidden one is the difference)"
                )
    return problems


def _scan_graph(G: nx.DiGraph, name: str, threshold: int) -> list[str]:
    problems: list[str] = []
    elements = [("node", d) for _, d in G.nodes(data=True)]
    elements += [("edge", d) for _, _, d in G.edges(data=True)]
    have = {k for _, d in elements for k in d if _is_count(k)}
    for kind, data in elements:
        for key, value in data.items():
            if (
                _is_count(key)
                and isinstance(value, int | float)
                and not isinstance(value, bool)
                and 0 < value < threshold
            ):
                problems.append(f"{name}: a {kind} has {key}={value}")
        for derived, sources in DERIVED_FROM.items():
            if derived in data and any(s in have and s not in data for s in sources):
                problems.append(f"{name}: a {kind} shows {derived!r} without its count")
    return problems


def _scan_html(text: str, name: str, threshold: int) -> list[str]:
    """Numbers from 1 to threshold - 1 in the count columns of the page's tables.

    A column is a count when its heading is named as one (``Referrals to us``,
    ``At stake``, ``Leaking referrers``...), as a table's column would be.
    """
    problems: list[str] = []
    for table in re.findall(r"<table>(.*?)</table>", text, flags=re.S):
        headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th>(.*?)</th>", table)]
        counts = {i for i, h in enumerate(headings) if _is_count(h.strip())}
        for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
            if "colspan" in row:
                continue
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
            for i in counts:
                if i < len(cells):
                    number = cells[i].replace(",", "").strip()
                    if re.fullmatch(r"\d+(\.\d+)?", number) and 0 < float(number) < threshold:
                        problems.append(f"{name}: {headings[i]!r} shows {cells[i]!r}")
    return problems


def scan_outputs(
    folder: Path, *, threshold: int = 11, patient_ids: Iterable[str] = ()
) -> tuple[list[str], int]:
    """Every problem in the files under `folder`, and how many files were read."""
    problems: list[str] = []
    secrets = {p.encode() for p in patient_ids if p}
    n_files = 0
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        n_files += 1
        raw = path.read_bytes()
        # every word of the file (ids are letters, digits, '-' and '_'), against the set
        if secrets and not secrets.isdisjoint(re.findall(rb"[0-9A-Za-z_\-]+", raw)):
            problems.append(f"{path.name}: a patient id appears")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            problems += scan_table(pd.read_csv(path, low_memory=False), path.name, threshold)
        elif suffix == ".parquet":
            problems += scan_table(pd.read_parquet(path), path.name, threshold)
        elif suffix == ".graphml":
            problems += _scan_graph(nx.read_graphml(path), path.name, threshold)
        elif suffix == ".gexf":
            problems += _scan_graph(nx.read_gexf(path), path.name, threshold)
        elif suffix == ".html":
            problems += _scan_html(raw.decode("utf-8", errors="replace"), path.name, threshold)
    return problems, n_files
