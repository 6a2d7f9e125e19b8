"""A scanner of written outputs for what small-cell suppression must never let through.

It reads every file a command wrote (CSV, Parquet, GraphML, GEXF, HTML, JSON) and
returns each problem found:

* a count (a column or attribute named as one: :func:`referral_graph.privacy.is_count_name`)
  from 1 to ``threshold - 1``;
* a value derived from a count (:data:`referral_graph.privacy.DERIVED_FROM`) shown on a row
  whose count is hidden (an amount or share gives the count back);
* a hidden part of a shown total beside its other shown parts
  (:data:`referral_graph.privacy.ROW_SUMS`): total minus the rest recovers it;
* a hidden count that the other tables of the same folder give back (:func:`scan_folder`):
  a tie's referrals as its provider's ``out_strength`` or ``in_strength`` minus its other
  ties, a referrer's referrals to one organisation as its ``specialty_total`` minus the
  other organisations, one row of a table that splits the market's referrals (by
  referrer, organisation, specialty, competitor) as the market total that a fully shown
  table gives, minus the other rows, a referrer's counts in share_of_wallet.csv as its
  organisation's in leakage_by_referrer_organization.csv minus the other referrers'
  (:func:`scan_organizations`; the organisations from providers.csv);
* two or more hidden counts that a shown total pins down (:func:`scan_hidden_sums`): a
  hidden count is at least 1, so k of them summing to S each lie between 1 and
  S - (k - 1), which must hold every value from 1 to ``threshold - 1``;
* a number from 1 to ``threshold - 1`` in a count column of an HTML table;
* on a provider's profile (``profiles/*.html``, :func:`scan_profiles`): a count from 1 to
  ``threshold - 1`` in its tables, cards, chart tooltips or ego view; a value derived
  from a hidden count (a share of wallet beside a hidden count, a bar drawn to a hidden
  count's height, a tie's strength or components beside its hidden referrals); and,
  against the report's tables, a tie's count that ``ties.csv`` hides, a total that
  ``share_of_wallet.csv`` hides, or the chart's periods giving a total back (all shown
  where the total is hidden, all but one where it is shown);
* on a report's network view (``views/*.html``, :func:`scan_views`): a tie's count from 1
  to ``threshold - 1``, and, against the report's ``ties.csv``, a tie's count that the
  file hides;
* any of the given patient identifiers, anywhere in any file.

The rules are written out here from the privacy policy (docs/privacy.md), not taken from
the code that applies them. Which columns are counts: a list written by hand
(:data:`COUNTS`) together with the code's own pattern, so that a name dropped from
the pattern is still caught.
"""

from __future__ import annotations

import html
import json
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
        # Headings and rows may carry attributes (data-search, data-ids: for tables.js).
        headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
        counts = {i for i, h in enumerate(headings) if _is_count(h.strip())}
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
            if "colspan" in row:
                continue
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
            for i in counts:
                if i < len(cells):
                    number = cells[i].replace(",", "").strip()
                    if re.fullmatch(r"\d+(\.\d+)?", number) and 0 < float(number) < threshold:
                        problems.append(f"{name}: {headings[i]!r} shows {cells[i]!r}")
    return problems


#: Tables that split the market's referrals, by hand from docs/data-formats.md: each row a
#: referrer, a referrer organisation, a specialty or a competitor; their columns sum to the
#: market's referrals to the focus (``to_focus``), to competitors and in all.
SPLITS = {
    "share_of_wallet.csv": {"to_focus": "to_focus", "to_competitors": "to_competitors",
                            "total": "total"},
    "leakage_by_referrer_organization.csv": {"to_focus": "to_focus",
                                             "to_competitors": "to_competitors", "total": "total"},
    "leakage_by_specialty.csv": {"to_focus": "to_focus", "to_competitors": "to_competitors",
                                 "total": "total"},
    "leakage_by_competitor.csv": {"referrals": "to_competitors"},
}  # fmt: skip


def _one_hidden(values: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Per group (or for the whole column): exactly one value missing."""
    missing = values.isna().astype(int)
    if groups is None:
        return pd.Series([missing.sum() == 1])
    return missing.groupby(groups).sum() == 1


def _scan_cells_of_ties(
    name: str, ties: pd.DataFrame, wallet: pd.DataFrame, providers: pd.DataFrame
) -> list[str]:
    """A row of share_by_specialty (a referrer's referrals to one organisation in one
    specialty) is the sum of that referrer's ties to the organisation's providers of the
    specialty (the provider's id where it has no organisation)."""
    if "target_specialty" not in ties or "organization" not in providers:
        return []
    org = providers.assign(id=providers["id"].astype(str)).drop_duplicates("id")
    org = org.set_index("id")["organization"]
    target = ties["target"].astype(str)
    receiver = target.map(org).fillna(target).astype(str)

    def norm(values: pd.Series) -> pd.Series:
        return values.astype(str).str.split().str.join(" ").str.lower()

    tie_cell = ties["source"].astype(str) + "|" + norm(ties["target_specialty"]) + "|" + receiver
    cells = wallet["source"].astype(str) + "|" + norm(wallet["specialty"]) + "|"
    cells += wallet["organization"].astype(str)
    in_cell = tie_cell.isin(set(cells))
    hidden_ties = ties["referrals"].isna()[in_cell].groupby(tie_cell[in_cell]).agg(["sum", "size"])
    shown_cell = pd.Series(wallet["referrals"].notna().to_numpy(), index=cells)
    shown_cell = shown_cell[~shown_cell.index.duplicated()]
    at = shown_cell.reindex(hidden_ties.index)
    problems = []
    n = int(((hidden_ties["sum"] == 1) & at).sum())
    if n:
        problems.append(f"{name}: {n} shown share_by_specialty rows hold exactly one hidden tie")
    n = int(((hidden_ties["sum"] == 0) & ~at).sum())
    if n:
        problems.append(f"{name}: {n} hidden share_by_specialty rows are the sum of shown ties")
    # a referrer's out_strength minus its shown ties is the sum of its hidden ties
    if "out_strength" in providers:
        hid = pd.DataFrame({"source": ties["source"].astype(str), "cell": tie_cell})
        hid["cell"] = hid["cell"].where(in_cell, "tie " + ties.index.astype(str))
        hid = hid[ties["referrals"].isna().to_numpy()]
        spread = hid.groupby("source")["cell"].agg(["nunique", "first"])
        strength = providers.assign(id=providers["id"].astype(str)).drop_duplicates("id")
        strength = strength.set_index("id")["out_strength"]
        lone = spread[(spread["nunique"] == 1) & ~spread["first"].str.startswith("tie ")]
        lone = lone[~shown_cell.reindex(lone["first"]).fillna(True).to_numpy(dtype=bool)]
        lone = lone[strength.reindex(lone.index).notna().to_numpy()]
        if len(lone):
            problems.append(
                f"{name}: {len(lone)} referrers' hidden ties all lie in one share_by_specialty "
                "row, which out_strength minus their shown ties gives back"
            )
    return problems


#: The headline's figures that sum monthly_trend's months over the report's periods (by
#: hand from docs/data-formats.md: the last 3 months, the 3 before, the same 3 a year
#: earlier), and the share of wallet computed from them.
HEADLINE_SUMS = {"Referrals received": "to_focus", "Leakage to competitors": "to_competitors"}
HEADLINE_PERIODS = {"current": 0, "previous": 3, "year_ago": 12}


def _scan_headline(
    name: str, headline: pd.DataFrame | None, monthly: pd.DataFrame | None
) -> list[str]:
    """A headline figure shown beside its period's months all shown but one (the figure
    minus the shown months gives it back), or a share of wallet beside a hidden part."""
    if headline is None or monthly is None or "measure" not in headline:
        return []
    problems = []
    rows = headline.set_index("measure")
    months = monthly.sort_values("month").reset_index(drop=True)
    for column, back in HEADLINE_PERIODS.items():
        if column not in rows:
            continue
        end = len(months) - back
        period = months.iloc[max(end - 3, 0) : end]
        if len(period) < 3:
            continue
        for measure, count in HEADLINE_SUMS.items():
            shown = measure in rows.index and pd.notna(rows.loc[measure, column])
            if shown and count in period and int(period[count].isna().sum()) == 1:
                problems.append(
                    f"{name}: headline.csv shows {measure!r} ({column}) beside all but one "
                    f"of its months' {count} in monthly_trend.csv"
                )
        parts = [m for m in HEADLINE_SUMS if m in rows.index]
        share = rows.loc["Share of wallet", column] if "Share of wallet" in rows.index else None
        if pd.notna(share) and any(pd.isna(rows.loc[m, column]) for m in parts):
            problems.append(
                f"{name}: headline.csv shows the share of wallet ({column}) beside a hidden part"
            )
    return problems


def scan_folder(folder: Path, threshold: int = 11) -> list[str]:
    """Hidden counts that the tables of one folder give back by subtraction."""
    problems: list[str] = []
    tables = {p.name: pd.read_csv(p, low_memory=False) for p in Path(folder).glob("*.csv")}
    ties, providers = tables.get("ties.csv"), tables.get("providers.csv")
    if ties is not None and providers is not None and "referrals" in ties:
        for end, strength in (("source", "out_strength"), ("target", "in_strength")):
            if strength not in providers:
                continue
            lone = _one_hidden(ties["referrals"], ties[end].astype(str))
            shown = providers.set_index(providers["id"].astype(str))[strength].notna()
            bad = lone[lone].index.intersection(shown[shown].index)
            if len(bad):
                problems.append(
                    f"{folder.name}: {len(bad)} providers show {strength} beside all but one "
                    f"of their ties' referrals (by {end})"
                )
    wallet = tables.get("share_by_specialty.csv")
    if wallet is not None and {"referrals", "specialty_total"} <= set(wallet.columns):
        keys = wallet["source"].astype(str) + "|" + wallet["specialty"].astype(str)
        lone = _one_hidden(wallet["referrals"], keys)
        shown = wallet.groupby(keys)["specialty_total"].apply(lambda v: v.notna().any())
        n = int((lone & shown).sum())
        if n:
            problems.append(
                f"{folder.name}: share_by_specialty.csv: {n} referrers show a specialty_total "
                "beside all but one of its organisations' referrals"
            )
    split = tables.get("share_of_wallet.csv")
    if wallet is not None and split is not None and "is_focus" in wallet:
        # a referrer's rows of share_by_specialty to the focus, to competitors and in all sum
        # to its to_focus, to_competitors and total in share_of_wallet
        by_source = split.assign(source=split["source"].astype(str)).set_index("source")
        for column, rows in (
            ("to_focus", wallet["is_focus"].astype(str) == "True"),
            ("to_competitors", wallet["is_focus"].astype(str) == "False"),
            ("total", pd.Series(True, index=wallet.index)),
        ):
            if column not in by_source:
                continue
            part = wallet[rows.to_numpy()]
            lone = _one_hidden(part["referrals"], part["source"].astype(str))
            shown = by_source[column].notna()
            shown = shown[~shown.index.duplicated()].reindex(lone.index, fill_value=False)
            n = int((lone & shown).sum())
            if n:
                problems.append(
                    f"{folder.name}: {n} referrers show {column} in share_of_wallet.csv beside "
                    "all but one of their rows of share_by_specialty.csv"
                )
    if wallet is not None and ties is not None and providers is not None:
        problems += _scan_cells_of_ties(folder.name, ties, wallet, providers)
    problems += _scan_headline(
        folder.name, tables.get("headline.csv"), tables.get("monthly_trend.csv")
    )
    known: dict[str, float] = {}  # market totals that a fully shown table gives
    for name, columns in SPLITS.items():
        for column, total in columns.items():
            if name in tables and column in tables[name] and tables[name][column].notna().all():
                known[total] = float(tables[name][column].sum())
    for name, columns in SPLITS.items():
        for column, total in columns.items():
            table = tables.get(name)
            if table is None or column not in table or total not in known:
                continue
            if bool(_one_hidden(table[column]).iloc[0]):
                problems.append(
                    f"{folder.name}: {name}: its one hidden {column!r} is the market's {total} "
                    "minus the rows shown"
                )
    problems += scan_organizations(folder.name, tables, threshold)
    problems += scan_hidden_sums(folder.name, tables, threshold)
    problems += _scan_copies(folder.name, tables)
    return problems


#: Tables that repeat another's counts, by hand (docs/privacy.md): (the copy, its key
#: column, its count column) -> (the original, its key column, its count column).
COPIES = {
    ("key_referrers.csv", "source", "to_focus"): ("share_of_wallet.csv", "source", "to_focus"),
    ("key_referrers.csv", "source", "to_competitors"): (
        "share_of_wallet.csv",
        "source",
        "to_competitors",
    ),
    ("prospects.csv", "id", "referrals_to_competitors"): (
        "share_of_wallet.csv",
        "source",
        "to_competitors",
    ),
}


def _scan_copies(folder: str, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Counts that one table hides and another, repeating them, shows."""
    problems = []
    for (name, key, column), (other, other_key, other_column) in COPIES.items():
        copy, original = tables.get(name), tables.get(other)
        if copy is None or original is None or column not in copy or other_column not in original:
            continue
        hidden = original.loc[original[other_column].isna(), other_key].astype(str)
        shown = copy[column].notna() & copy[key].astype(str).isin(set(hidden))
        if shown.any():
            problems.append(
                f"{folder}: {name} shows {int(shown.sum())} {column} that {other} hides"
            )
    return problems


#: The count columns of a profile's tables, by hand from templates/profile.html.j2 (the
#: activities' "Referrals to us, the month before" and "The month after" too).
PROFILE_COUNTS = frozenset(
    {"Referrals", "Patients", "At stake", "Expected loss", "Referrals to competitors"}
)
#: The tie table's values computed from its counts (docs/methodology.md: the score from
#: the referrals and patients; the volume, share and reciprocity components from the
#: referrals), by hand.
PROFILE_TIE_DERIVED = {
    "Strength": ("Referrals", "Patients"),
    "volume": ("Referrals",),
    "share": ("Referrals",),
    "reciprocity": ("Referrals",),
}
_TOOLTIP = re.compile(
    r"(?P<label>.*?): to us (?P<us><\d+|–|[\d,]+?), to competitors (?P<them><\d+|–|[\d,]+?), "
    r"share of wallet (?P<share>.*)"
)


def _number(text: str) -> float | None:
    """A figure as a page writes it: a number (thousands separated), else None (hidden:
    ``<11`` or ``–``)."""
    text = text.replace(",", "").strip()
    return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else None


def _is_small(text: str, threshold: int) -> bool:
    value = _number(text)
    return value is not None and 0 < value < threshold


def _profile_count(heading: str) -> bool:
    return (
        heading in PROFILE_COUNTS
        or heading.startswith("Referrals to us")
        or re.fullmatch(r"The [\w-]+ after", heading) is not None
    )


def _profile_tables(text: str) -> list[tuple[list[str], list[tuple[str, list[str]]]]]:
    """Each table of a profile: its headings, and per row its data-ids and cells (text)."""
    out = []
    for table in re.findall(r"<table[^>]*>(.*?)</table>", text, flags=re.S):
        headings = [
            html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
            for h in re.findall(r"<th[^>]*>(.*?)</th>", table, flags=re.S)
        ]
        rows = []
        for attrs, row in re.findall(r"<tr([^>]*)>(.*?)</tr>", table, flags=re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
            if not cells:
                continue
            ids = re.search(r'data-ids="([^"]*)"', attrs)
            texts = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
            rows.append((ids.group(1) if ids else "", texts))
        out.append((headings, rows))
    return out


def _chart(text: str) -> list[dict[str, object]]:
    """The chart's periods: their tooltip figures, bars (x, height) and share dot."""
    svg = re.search(r'<svg class="rg-chart".*?</svg>', text, flags=re.S)
    if svg is None:
        return []
    periods: list[dict[str, object]] = []
    for title, body in re.findall(
        r'<g class="rg-month"><title>(.*?)</title>(.*?)</g>', svg.group(0), flags=re.S
    ):
        m = _TOOLTIP.fullmatch(html.unescape(title))
        bars = [
            (float(x), float(h))
            for x, h in re.findall(r'<rect x="([\d.]+)"[^>]*height="([\d.]+)"', body)
        ]
        periods.append({"title": html.unescape(title), "match": m, "bars": bars, "dot": False})
    starts = [p["bars"][0][0] if p["bars"] else -1.0 for p in periods]  # type: ignore[index]
    for cx in re.findall(r'<circle cx="([\d.]+)"', svg.group(0)):
        at = [i for i, x in enumerate(starts) if 0 <= x <= float(cx)]
        if at:
            periods[at[-1]]["dot"] = True
    return periods


def _ego_edges(text: str) -> list[tuple[str, str, str, str]]:
    """The embedded ego view's ties: from, to, and the referrals and patients it shows."""
    out = []
    for start, end, title in re.findall(
        r'\{"from":"([^"]+)","to":"([^"]+)","width":[\d.]+,"title":"((?:[^"\\]|\\.)*)"', text
    ):
        title = json.loads(f'"{title}"')
        referrals = re.search(r"Referrals: (\S+)", title)
        patients = re.search(r"Patients: (\S+)", title)
        out.append(
            (
                start,
                end,
                referrals.group(1) if referrals else "",
                patients.group(1) if patients else "",
            )
        )
    return out


def _ties_hidden_shown(
    name: str, shown: Iterable[tuple[str, str, str, str]], ties: pd.DataFrame | None
) -> list[str]:
    """The ties (from, to, referrals and patients as a page writes them) that show a
    count which `ties` (the report's ``ties.csv``, ids as text) hides."""
    if ties is None or not {"source", "target", "referrals"} <= set(ties.columns):
        return []
    rows_of = ties.set_index([ties["source"].astype(str), ties["target"].astype(str)])
    rows_of = rows_of[~rows_of.index.duplicated()]
    problems = []
    for start, end, referrals, patients in shown:
        if (start, end) not in rows_of.index:
            continue
        tie = rows_of.loc[(start, end)]
        for column, value in (("referrals", referrals), ("patients", patients)):
            if column in tie and pd.isna(tie[column]) and _number(value) is not None:
                problems.append(
                    f"{name}: shows the {column} of the tie {start}→{end} ({value}), "
                    "which ties.csv hides"
                )
    return problems


def scan_profile(
    path: Path,
    *,
    ties: pd.DataFrame | None = None,
    wallet: pd.DataFrame | None = None,
    threshold: int = 11,
) -> list[str]:
    """Problems on one profile page; with the report's ``ties.csv`` and
    ``share_of_wallet.csv`` (read with ids as text), what they hide that it shows."""
    name = f"profiles/{path.name}"
    source = path.stem
    text = path.read_text(encoding="utf-8")
    problems: list[str] = []
    # the summary's cards
    cards = {
        html.unescape(label): html.unescape(value)
        for label, value in re.findall(
            r'<div class="label">(.*?)</div><div class="value">(.*?)</div>', text
        )
    }
    for label in ("Referrals to us", "To competitors"):
        if _is_small(cards.get(label, ""), threshold):
            problems.append(f"{name}: the card {label!r} shows {cards[label]!r}")
    counts_hidden = any(
        label in cards and _number(cards[label]) is None
        for label in ("Referrals to us", "To competitors")
    )
    if counts_hidden and _number(cards.get("Share of wallet", "").rstrip(" %")) is not None:
        problems.append(f"{name}: the card 'Share of wallet' is shown beside a hidden count")
    # the chart: each period's tooltip, bars and share dot
    periods = _chart(text)
    for period in periods:
        m = period["match"]
        if m is None:
            problems.append(f"{name}: a chart tooltip reads {period['title']!r}")
            continue
        assert isinstance(m, re.Match)
        for part in ("us", "them"):
            if _is_small(m[part], threshold):
                problems.append(f"{name}: the chart's {m['label']} shows {m[part]!r} ({part})")
        hidden = [_number(m[part]) is None for part in ("us", "them")]
        share_shown = _number(m["share"].rstrip(" %")) is not None
        if any(hidden) and (share_shown or period["dot"]):
            problems.append(f"{name}: the chart's {m['label']} shows a share beside a hidden count")
        bars = period["bars"]
        assert isinstance(bars, list)
        for (_, height), gone in zip(bars, hidden, strict=False):
            if gone and height > 2:
                problems.append(f"{name}: the chart's {m['label']} draws a hidden count's bar")
    # the tables: counts, and the ties' values derived from their counts
    tie_rows: list[tuple[str, dict[str, str]]] = []
    for headings, rows in _profile_tables(text):
        for ids, cells in rows:
            for heading, cell in zip(headings, cells, strict=False):
                if _profile_count(heading) and _is_small(cell, threshold):
                    problems.append(f"{name}: {heading!r} shows {cell!r}")
            if headings[:1] == ["Our provider"] and "Strength" in headings:
                row = dict(zip(headings, cells, strict=False))
                parts = row.get("Components (0–1)", "")
                for part in parts.split(" · "):
                    label, _, value = part.rpartition(" ")
                    row[label] = value
                tie_rows.append((ids, row))
    for _ids, row in tie_rows:
        for derived, sources in PROFILE_TIE_DERIVED.items():
            if derived not in row or _number(row[derived]) is None:
                continue
            gone = [c for c in sources if c in row and _number(row[c]) is None]
            if gone:
                problems.append(
                    f"{name}: a tie shows its {derived} beside its hidden {gone[0].lower()}"
                )
    self_line = re.search(r"This provider is prospect #.*?: (\S+) referrals to competitors", text)
    if self_line and _is_small(html.unescape(self_line.group(1)), threshold):
        problems.append(f"{name}: the prospect line shows {self_line.group(1)!r} referrals")
    edges = _ego_edges(text)
    for start, end, referrals, patients in edges:
        for what, value in (("referrals", referrals), ("patients", patients)):
            if _is_small(value, threshold):
                problems.append(f"{name}: the ego view's tie {start}→{end} shows {what} {value!r}")
    # against the report's tables
    shown: list[tuple[str, str, str, str]] = [
        (source, ids, row.get("Referrals", ""), row.get("Patients", "")) for ids, row in tie_rows
    ]
    problems += _ties_hidden_shown(name, [*shown, *edges], ties)
    if wallet is not None and {"source", "to_focus"} <= set(wallet.columns):
        mine = wallet.loc[wallet["source"].astype(str) == source]
        for column, label, part in (
            ("to_focus", "Referrals to us", "us"),
            ("to_competitors", "To competitors", "them"),
        ):
            if column not in mine or not len(mine):
                continue
            total_hidden = bool(pd.isna(mine[column].iloc[0]))
            if total_hidden and _number(cards.get(label, "")) is not None:
                problems.append(
                    f"{name}: the card {label!r} shows a total that share_of_wallet.csv hides"
                )
            figures = [p["match"][part] for p in periods if p["match"] is not None]  # type: ignore[index]
            if not figures:
                continue
            n_hidden = sum(_number(f) is None for f in figures)
            if total_hidden and n_hidden == 0 and sum(_number(f) or 0 for f in figures) > 0:
                problems.append(
                    f"{name}: the chart's periods sum to the {column} that share_of_wallet.csv "
                    "hides (every one shown)"
                )
            if not total_hidden and n_hidden == 1:
                problems.append(
                    f"{name}: the chart's one hidden {column} is share_of_wallet.csv's total "
                    "minus the periods shown"
                )
    return problems


def scan_profiles(folder: Path, *, threshold: int = 11) -> list[str]:
    """Every profile page in `folder` (a report's ``profiles/``), against the report's
    ``tables/`` beside it when there is one."""
    ties, wallet = _read_tables(folder, "ties.csv"), _read_tables(folder, "share_of_wallet.csv")
    problems: list[str] = []
    for page in sorted(folder.glob("*.html")):
        problems += scan_profile(page, ties=ties, wallet=wallet, threshold=threshold)
    return problems


def _read_tables(folder: Path, name: str) -> pd.DataFrame | None:
    """A report's table beside `folder` (``tables/NAME``), ids as text; None without one."""
    path = folder.parent / "tables" / name
    if not path.exists():
        return None
    return pd.read_csv(path, dtype={"source": str, "target": str}, low_memory=False)


def _edge_widths(text: str) -> list[tuple[str, str, float]]:
    """The drawing's ties: from, to and the width each is drawn with."""
    return [
        (start, end, float(width))
        for start, end, width in re.findall(
            r'\{"from":"([^"]+)","to":"([^"]+)","width":([\d.]+),', text
        )
    ]


def scan_view(path: Path, *, ties: pd.DataFrame | None = None, threshold: int = 11) -> list[str]:
    """Problems on one network view of a report (``views/*.html``): a tie's small count,
    and, with the report's ``ties.csv`` (ids as text), a count it hides shown in a tie's
    tooltip or drawn wider than the thinnest line that the view draws."""
    name = f"views/{path.name}"
    text = path.read_text(encoding="utf-8")
    problems: list[str] = []
    edges = _ego_edges(text)
    for start, end, referrals, patients in edges:
        for what, value in (("referrals", referrals), ("patients", patients)):
            if _is_small(value, threshold):
                problems.append(f"{name}: the tie {start}→{end} shows {what} {value!r}")
    problems += _ties_hidden_shown(name, edges, ties)
    if ties is not None and {"source", "target", "referrals"} <= set(ties.columns):
        # a hidden tie's width is the thinnest drawn (its referrals give no width)
        gone = set(
            zip(
                ties["source"].astype(str)[ties["referrals"].isna()],
                ties["target"].astype(str)[ties["referrals"].isna()],
                strict=True,
            )
        )
        widths = _edge_widths(text)
        # an at-risk tie (dashed) is as wide as its referrals at stake, not its referrals
        dashed = set(
            re.findall(r'\{"from":"([^"]+)","to":"([^"]+)"(?:(?!\{"from").)*?"dashes"', text)
        )
        thinnest = min((w for *_, w in widths), default=0.0)
        for start, end, width in widths:
            blank = next((r for s, e, r, _ in edges if (s, e) == (start, end)), "")
            hidden_blank = (start, end) in gone and blank == "–"
            if hidden_blank and (start, end) not in dashed and width > thinnest:
                problems.append(
                    f"{name}: draws the tie {start}→{end}, whose referrals ties.csv hides, "
                    f"{width} wide (the thinnest: {thinnest})"
                )
    return problems


def scan_views(folder: Path, *, threshold: int = 11) -> list[str]:
    """Every network view in `folder` (a report's ``views/``), against the report's
    ``tables/ties.csv`` beside it when there is one."""
    ties = _read_tables(folder, "ties.csv")
    problems: list[str] = []
    for page in sorted(folder.glob("*.html")):
        problems += scan_view(page, ties=ties, threshold=threshold)
    return problems


def scan_outputs(
    folder: Path, *, threshold: int = 11, patient_ids: Iterable[str] = ()
) -> tuple[list[str], int]:
    """Every problem in the files under `folder`, and how many files were read."""
    problems: list[str] = []
    secrets = {p.encode() for p in patient_ids if p}
    n_files = 0
    folders = sorted({p.parent for p in Path(folder).rglob("*.csv")})
    for tables in folders:
        problems += scan_folder(tables, threshold)
    for profiles in sorted({p.parent for p in Path(folder).rglob("profiles/*.html")}):
        problems += scan_profiles(profiles, threshold=threshold)
    for views in sorted({p.parent for p in Path(folder).rglob("views/*.html")}):
        problems += scan_views(views, threshold=threshold)
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
            G = nx.read_graphml(path)
            problems += _scan_graph(G, path.name, threshold)
            problems += _scan_graph_beside(G, path)
        elif suffix == ".gexf":
            problems += _scan_graph(nx.read_gexf(path), path.name, threshold)
        elif suffix == ".html":
            problems += _scan_html(raw.decode("utf-8", errors="replace"), path.name, threshold)
    return problems, n_files


def _scan_graph_beside(G: nx.DiGraph, path: Path) -> list[str]:
    """Tie counts that the graph file shows and the ``tables/ties.csv`` beside it hides."""
    ties = _read_tables(path, "ties.csv")  # (tables/ beside the file)
    if ties is None or "referrals" not in ties:
        return []
    hidden = ties.loc[ties["referrals"].isna(), ["source", "target"]].astype(str)
    shown = sum(
        1
        for u, v in zip(hidden["source"], hidden["target"], strict=True)
        if G.has_edge(u, v) and "referrals" in G.edges[u, v]
    )
    return [f"{path.name}: {shown} ties show referrals that tables/ties.csv hides"] if shown else []


# ------------------------------------- sums that give hidden counts away (complementary rules)
#
# Written out from docs/privacy.md ("Complementary suppression"), not from the code: in a
# group of counts whose total is shown, the k hidden counts sum to the total minus the
# shown ones, S. A hidden count is at least 1 (a zero is never hidden), so a reader knows
# of each only that it lies between 1 and S - (k - 1). That must hold every small value,
# 1 to threshold - 1; one hidden count alone (k = 1) is S itself. A hidden total must not
# be the sum of its parts all shown.

#: Label of referrers without an organisation in leakage_by_referrer_organization.csv (by
#: hand from docs/data-formats.md).
UNAFFILIATED_LABEL = "(unaffiliated)"


def _given_away(
    parts: pd.Series, groups: pd.Series, totals: pd.Series, threshold: int
) -> tuple[int, int, int]:
    """Groups of `parts` (a missing value is hidden; each part's group label in `groups`)
    against their totals (`totals`, indexed by group label; missing = hidden): how many
    shown totals stand beside one hidden part, how many beside two or more whose sum
    leaves one of them less than 1 to threshold - 1, and how many hidden totals beside
    parts all shown (at least one of them not zero)."""
    frame = pd.DataFrame({"group": groups.to_numpy(), "value": parts.to_numpy(dtype=float)})
    frame = frame[frame["group"].notna()]
    frame["hidden"] = frame["value"].isna()
    frame["shown"] = frame["value"].fillna(0)
    stats = frame.groupby("group").agg(
        k=("hidden", "sum"), shown=("shown", "sum"), nonzero=("shown", lambda v: (v > 0).sum())
    )
    total = totals[~totals.index.duplicated()].reindex(stats.index)
    known = total.notna()
    k = stats["k"]
    rest = total - stats["shown"]  # the hidden counts' sum
    lone = int((known & (k == 1)).sum())
    narrow = int((known & (k >= 2) & (rest - (k - 1) < threshold - 1)).sum())
    summed = int((total.isna() & (k == 0) & (stats["nonzero"] > 0)).sum())
    return lone, narrow, summed


def _organization_of(providers: pd.DataFrame | None) -> pd.Series | None:
    """Each provider's organisation as leakage_by_referrer_organization.csv labels it (its
    ``organization``, without surrounding spaces; UNAFFILIATED_LABEL without one)."""
    if providers is None or "id" not in providers:
        return None
    ids = providers["id"].astype(str)
    if "organization" not in providers:
        return pd.Series(UNAFFILIATED_LABEL, index=ids).loc[lambda s: ~s.index.duplicated()]
    names = providers["organization"].astype("string").str.strip()
    names = names.where(names.str.len() > 0).fillna(UNAFFILIATED_LABEL)
    out = pd.Series(names.to_numpy(dtype=object), index=ids)
    return out[~out.index.duplicated()]


def scan_organizations(
    name: str, tables: dict[str, pd.DataFrame], threshold: int = 11
) -> list[str]:
    """leakage_by_referrer_organization.csv against share_of_wallet.csv: an organisation's
    ``to_focus``, ``to_competitors`` and ``total`` are the sums of its referrers' there.
    The referrers' organisations are read from providers.csv (``id``, ``organization``):
    without it in the folder this relation is not checked."""
    orgs, wallet = (
        tables.get("leakage_by_referrer_organization.csv"),
        tables.get("share_of_wallet.csv"),
    )
    org_of = _organization_of(tables.get("providers.csv"))
    if orgs is None or wallet is None or org_of is None or "source" not in wallet:
        return []
    if "referrer_organization" not in orgs:
        return []
    group = wallet["source"].astype(str).map(org_of).fillna(UNAFFILIATED_LABEL)
    by_org = orgs.set_index(orgs["referrer_organization"].astype(str))
    problems = []
    for column in ("to_focus", "to_competitors", "total"):
        if column not in wallet or column not in by_org:
            continue
        lone, narrow, summed = _given_away(wallet[column], group, by_org[column], threshold)
        if lone:
            problems.append(
                f"{name}: {lone} organisations show {column} in "
                "leakage_by_referrer_organization.csv beside all but one of their referrers' "
                "in share_of_wallet.csv"
            )
        if narrow:
            problems.append(
                f"{name}: {narrow} organisations' {column} gives their referrers' hidden "
                "counts in share_of_wallet.csv away (their sum pins them down)"
            )
        if summed:
            problems.append(
                f"{name}: {summed} organisations hide {column} while their referrers' in "
                "share_of_wallet.csv are all shown (their sum gives it back)"
            )
    return problems


def _cells_of_ties(
    ties: pd.DataFrame, wallet: pd.DataFrame, providers: pd.DataFrame
) -> pd.Series | None:
    """Each tie's row of share_by_specialty.csv (its referrer, specialty, and the receiver's
    organisation, or the receiver's id without one), as a key (missing: in no row)."""
    if "target_specialty" not in ties or "organization" not in providers:
        return None
    org = providers.assign(id=providers["id"].astype(str)).drop_duplicates("id")
    org = org.set_index("id")["organization"]
    target = ties["target"].astype(str)
    receiver = target.map(org).fillna(target).astype(str)

    def norm(values: pd.Series) -> pd.Series:
        return values.astype(str).str.split().str.join(" ").str.lower()

    keys = ties["source"].astype(str) + "|" + norm(ties["target_specialty"]) + "|" + receiver
    cells = wallet["source"].astype(str) + "|" + norm(wallet["specialty"]) + "|"
    cells += wallet["organization"].astype(str)
    return keys.where(keys.isin(set(cells)))


def scan_hidden_sums(name: str, tables: dict[str, pd.DataFrame], threshold: int = 11) -> list[str]:
    """Shown totals beside two or more hidden counts whose sum pins them down (the lone
    hidden count is checked by :func:`scan_folder`): a provider's ties against its
    strengths, a share_by_specialty row against its ties, a referrer's rows of
    share_by_specialty against its specialty_total and share_of_wallet's counts, a
    specialty's and a competitor's rows against leakage_by_specialty.csv and
    leakage_by_competitor.csv, the rows of a table that splits the market against the
    market totals, a headline period's figure against its months in monthly_trend.csv."""
    checks: list[tuple[str, pd.Series, pd.Series, pd.Series]] = []
    ties, providers = tables.get("ties.csv"), tables.get("providers.csv")
    cells = tables.get("share_by_specialty.csv")
    if ties is not None and providers is not None and "referrals" in ties:
        by_id = providers.set_index(providers["id"].astype(str))
        for end, strength in (("source", "out_strength"), ("target", "in_strength")):
            if strength in by_id:
                checks.append(
                    (
                        f"ties.csv by {end} against providers.csv {strength}",
                        ties["referrals"],
                        ties[end].astype(str),
                        by_id[strength],
                    )
                )
    if ties is not None and cells is not None and providers is not None:
        in_cell = _cells_of_ties(ties, cells, providers)
        if in_cell is not None:
            keys = cells["source"].astype(str) + "|"
            keys += cells["specialty"].astype(str).str.split().str.join(" ").str.lower()
            keys += "|" + cells["organization"].astype(str)
            checks.append(
                (
                    "ties.csv against their share_by_specialty.csv row",
                    ties["referrals"],
                    in_cell,
                    pd.Series(cells["referrals"].to_numpy(), index=keys),
                )
            )
    if cells is not None and {"referrals", "source", "specialty"} <= set(cells.columns):
        if "specialty_total" in cells:
            keys = cells["source"].astype(str) + "|" + cells["specialty"].astype(str)
            totals = cells.groupby(keys)["specialty_total"].first()
            checks.append(
                (
                    "share_by_specialty.csv rows against their specialty_total",
                    cells["referrals"],
                    keys,
                    totals,
                )
            )
        focus = cells["is_focus"].astype(str) == "True" if "is_focus" in cells else None
        split = tables.get("share_of_wallet.csv")
        if focus is not None and split is not None:
            by_source = split.set_index(split["source"].astype(str))
            for column, rows in (
                ("to_focus", focus),
                ("to_competitors", ~focus),
                ("total", pd.Series(True, index=cells.index)),
            ):
                if column in by_source:
                    part = cells[rows.to_numpy()]
                    checks.append(
                        (
                            f"share_by_specialty.csv rows against share_of_wallet.csv {column}",
                            part["referrals"],
                            part["source"].astype(str),
                            by_source[column],
                        )
                    )
        by_specialty = tables.get("leakage_by_specialty.csv")
        if focus is not None and by_specialty is not None:
            totals = by_specialty.set_index(by_specialty["specialty"].astype(str))
            for column, rows in (("to_focus", focus), ("to_competitors", ~focus)):
                part = cells[rows.to_numpy()]
                checks.append(
                    (
                        f"share_by_specialty.csv rows against leakage_by_specialty.csv {column}",
                        part["referrals"],
                        part["specialty"].astype(str),
                        totals[column],
                    )
                )
        by_competitor = tables.get("leakage_by_competitor.csv")
        if focus is not None and by_competitor is not None:
            part = cells[(~focus).to_numpy()]
            totals = by_competitor.set_index(by_competitor["competitor"].astype(str))
            checks.append(
                (
                    "share_by_specialty.csv rows against leakage_by_competitor.csv",
                    part["referrals"],
                    part["organization"].astype(str),
                    totals["referrals"],
                )
            )
    known: dict[str, float] = {}  # market totals that a fully shown table gives
    for table_name, columns in SPLITS.items():
        for column, total in columns.items():
            table = tables.get(table_name)
            if table is not None and column in table and table[column].notna().all():
                known[total] = float(table[column].sum())
    for table_name, columns in SPLITS.items():
        for column, total in columns.items():
            table = tables.get(table_name)
            if table is not None and column in table and total in known:
                checks.append(
                    (
                        f"{table_name} {column} against the market's {total}",
                        table[column],
                        pd.Series("market", index=table.index),
                        pd.Series({"market": known[total]}),
                    )
                )
    checks += _headline_groups(tables.get("headline.csv"), tables.get("monthly_trend.csv"))
    problems = []
    for what, parts, groups, totals in checks:
        _, narrow, _ = _given_away(parts, groups, totals, threshold)
        if narrow:
            problems.append(
                f"{name}: {what}: {narrow} shown totals give two or more hidden counts away "
                "(their sum pins them down)"
            )
    return problems


def _headline_groups(
    headline: pd.DataFrame | None, monthly: pd.DataFrame | None
) -> list[tuple[str, pd.Series, pd.Series, pd.Series]]:
    """headline.csv's period figures (HEADLINE_SUMS over HEADLINE_PERIODS) as totals of
    monthly_trend.csv's months."""
    if headline is None or monthly is None or "measure" not in headline:
        return []
    rows = headline.set_index("measure")
    months = monthly.sort_values("month").reset_index(drop=True)
    out = []
    for column, back in HEADLINE_PERIODS.items():
        end = len(months) - back
        period = months.iloc[max(end - 3, 0) : end]
        if column not in rows or len(period) < 3:
            continue
        for measure, count in HEADLINE_SUMS.items():
            if measure in rows.index and count in period:
                out.append(
                    (
                        f"headline.csv {measure!r} ({column}) against monthly_trend.csv",
                        period[count],
                        pd.Series("period", index=period.index),
                        pd.Series({"period": rows.loc[measure, column]}),
                    )
                )
    return out
