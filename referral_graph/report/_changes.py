"""What changed since the last report: the record a report leaves, and the comparison of two.

A report run from a referral store records what it showed (:class:`ReportRecord`:
the at-risk ties and their flags, the outreach list, the key referrers with their
ranks and volumes, the prospects, the headline figures) in the store. The next
report compares its own record with it (:func:`what_changed`) and opens with a
"Since the last report" section; the rows are written as ``changes.csv``.

Referrals "since" the last report are the difference of the cumulative counts of
the two records (a tie's referrals, a referrer's referrals to the focus), so they
are exact at any extract frequency (a week of data is not rounded to months), and
they include late events that an extract brought for earlier months.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import pandas as pd

from referral_graph import _memo
from referral_graph.privacy import DEFAULT_THRESHOLD, format_count, is_small_cell
from referral_graph.store import ReportRecord

__all__ = ["CHANGES", "what_changed"]

#: The kinds of change, in the order of the section and of ``changes.csv``, with their headings.
CHANGES = {
    "newly_at_risk": "Newly at risk",
    "recovered": "Recovered",
    "left_list": "Off the at-risk list, no referral since",
    "referrer_gained": "Referrers gained",
    "referrer_lost": "Referrers lost",
    "volume_up": "Largest rises in referrals to us",
    "volume_down": "Largest falls in referrals to us",
    "rank_up": "Rising key referrers",
    "rank_down": "Falling key referrers",
    "prospect_started": "Prospects that started referring",
    "visited": "Visited since",
}

#: The columns of ``changes.csv``.
COLUMNS = [
    "change",
    "source",
    "source_name",
    "target",
    "target_name",
    "rank_before",
    "rank_now",
    "referrals_before",
    "referrals_now",
    "difference",
    "referrals_since",
    "risk",
    "activities",
    "what",
]


def what_changed(
    previous: ReportRecord,
    current: ReportRecord,
    *,
    providers: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    movers: int = 10,
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Compare two reports' records: one row per change, each said in plain words.

    ================== ==================================================================
    ``change``          rows
    ================== ==================================================================
    newly_at_risk       ties flagged now and not in the previous report
    recovered           ties flagged then, referred again since, no longer flagged
    left_list           ties flagged then, no longer flagged, with no referral since
    referrer_gained     referrers with referrals to the focus in the recent window now
                        and none in the previous report's
    referrer_lost       the reverse
    volume_up / _down   the `movers` largest changes of recent referrals to the focus
                        among referrers active in both windows
    rank_up / _down     the `movers` largest moves among the key referrers ranked in the
                        top 50 of either report
    prospect_started    prospects of the previous report with referrals to the focus since
    visited             providers with an activity dated after the previous report's
                        data, with their referrals to the focus since
    ================== ==================================================================

    Parameters
    ----------
    previous, current : ReportRecord
        The earlier report's record and this one's.
    providers : pandas.DataFrame, optional
        ``id`` and ``name``, for the names (ids are shown where a name is missing).
    activities : pandas.DataFrame, optional
        The outreach log (``date``, ``provider``, ``liaison``, ``kind``).
    movers : int, default 10
        Rows of each of the volume and rank movers.
    threshold : int, default 11
        The small-cell threshold of the words in ``what`` (the count columns are
        suppressed where the table is written, with the same rule: a difference is
        hidden with either of its counts).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, grouped by ``change`` in the order of
        :data:`CHANGES`.

    Examples
    --------
    >>> import pandas as pd
    >>> def record(flagged, recent):
    ...     return ReportRecord(
    ...         focus="Us", focus_ids=["F"], data_end=pd.Timestamp("2026-05-31"), window=3,
    ...         capacity=5, horizon=3,
    ...         ties=pd.DataFrame({"source": ["A"], "target": ["F"], "rank": [1], "risk": [0.6],
    ...                            "flagged": [flagged], "referrals": [40]}),
    ...         referrers=pd.DataFrame({"source": ["A"], "rank": [1], "to_focus": [40],
    ...                                 "recent": [recent]}))
    >>> changes = what_changed(record(False, 30), record(True, 0))
    >>> changes[["change", "source"]].values.tolist()
    [['newly_at_risk', 'A'], ['referrer_lost', 'A']]
    >>> print(changes["what"].iloc[1])
    A stopped referring to us: none in the last 3 months of data, 30 in the last report's.
    """
    name = _namer(providers)
    count = _counter(threshold)
    rows: list[dict[str, object]] = []
    window = current.window

    # -- at-risk ties ------------------------------------------------------------------
    key = ["source", "target"]
    both = current.ties.merge(
        previous.ties, on=key, how="outer", suffixes=("_now", "_before"), indicator=True
    )
    flagged_now = both["flagged_now"].fillna(False).astype(bool)
    flagged_before = both["flagged_before"].fillna(False).astype(bool)
    since = both["referrals_now"] - both["referrals_before"]
    for r in _records(both.loc[flagged_now & ~flagged_before].sort_values("rank_now")):
        rows.append(
            _row(
                "newly_at_risk",
                r,
                name,
                rank_now=r["rank_now"],
                risk=r["risk_now"],
                what=f"{name(r['source'])} → {name(r['target'])}: newly at risk, "
                f"#{int(r['rank_now'])} on the at-risk list"
                + (f": {r['reason_now']}." if _text(r.get("reason_now")) else "."),
            )
        )
    gone = flagged_before & ~flagged_now
    off = both.loc[gone].assign(since=since[gone])
    for r in _records(off.sort_values("rank_before")):
        referred = pd.notna(r["since"]) and r["since"] > 0
        pair = f"{name(r['source'])} → {name(r['target'])}"
        if referred:
            what = (
                f"{pair}: at risk in the last report, referred again since "
                f"({count(r['since'], 'referral')})."
            )
        elif pd.isna(r["rank_now"]):
            what = (
                f"{pair}: at risk in the last report, no referral since, and now too few "
                "referrals in its baseline year to count as an active tie (not scored)."
            )
        else:
            what = f"{pair}: at risk in the last report, no referral since, no longer flagged."
        rows.append(
            _row(
                "recovered" if referred else "left_list",
                r,
                name,
                rank_before=r["rank_before"],
                rank_now=r["rank_now"],
                referrals_since=r["since"] if pd.notna(r["since"]) else 0,
                risk=r["risk_now"],
                what=what,
            )
        )

    # -- referrers ----------------------------------------------------------------------
    refs = current.referrers.merge(
        previous.referrers, on="source", how="outer", suffixes=("_now", "_before")
    )
    now = refs["recent_now"].fillna(0)
    before = refs["recent_before"].fillna(0)
    gained_lost = (
        ("referrer_gained", (now > 0) & (before == 0)),
        ("referrer_lost", (now == 0) & (before > 0)),
    )
    for kind, mask in gained_lost:
        chosen = refs.loc[mask].assign(_now=now[mask], _before=before[mask])
        chosen = chosen.sort_values(["_now", "_before"], ascending=False, kind="stable")
        for r in _records(chosen):
            who = name(r["source"])
            if kind == "referrer_gained":
                what = (
                    f"{who} started referring to us: {count(r['_now'])} in the last {window} "
                    f"months of data, none in the last report's."
                )
            else:
                what = (
                    f"{who} stopped referring to us: none in the last {window} months of data, "
                    f"{count(r['_before'])} in the last report's."
                )
            rows.append(
                _row(
                    kind,
                    r,
                    name,
                    rank_before=r["rank_before"],
                    rank_now=r["rank_now"],
                    referrals_before=r["_before"],
                    referrals_now=r["_now"],
                    what=what,
                )
            )
    in_both = (now > 0) & (before > 0)
    active = refs.loc[in_both].assign(
        _now=now[in_both], _before=before[in_both], _diff=(now - before)[in_both]
    )
    for kind, ascending in (("volume_up", False), ("volume_down", True)):
        sign = active["_diff"] > 0 if kind == "volume_up" else active["_diff"] < 0
        moved = active.loc[sign].sort_values(["_diff", "source"], ascending=[ascending, True])
        for r in _records(moved.head(movers)):
            hidden = is_small_cell(r["_now"], threshold=threshold) or is_small_cell(
                r["_before"], threshold=threshold
            )
            by = "" if hidden else f" ({r['_diff']:+,.0f})"
            rows.append(
                _row(
                    kind,
                    r,
                    name,
                    rank_before=r["rank_before"],
                    rank_now=r["rank_now"],
                    referrals_before=r["_before"],
                    referrals_now=r["_now"],
                    difference=r["_diff"],
                    what=f"{name(r['source'])}: {count(r['_now'])} referrals to us in the last "
                    f"{window} months of data, {'up' if kind == 'volume_up' else 'down'} from "
                    f"{count(r['_before'])}{by}.",
                )
            )
    ranked = refs.dropna(subset=["rank_now", "rank_before"])
    ranked = ranked.loc[(ranked["rank_now"] <= 50) | (ranked["rank_before"] <= 50)]
    ranked = ranked.assign(_moved=ranked["rank_before"] - ranked["rank_now"])
    for kind in ("rank_up", "rank_down"):
        sign = ranked["_moved"] > 0 if kind == "rank_up" else ranked["_moved"] < 0
        moved = ranked.loc[sign].assign(_size=lambda f: f["_moved"].abs())
        moved = moved.sort_values(["_size", "rank_now"], ascending=[False, True], kind="stable")
        for r in _records(moved.head(movers)):
            verb = "rose" if kind == "rank_up" else "fell"
            rows.append(
                _row(
                    kind,
                    r,
                    name,
                    rank_before=r["rank_before"],
                    rank_now=r["rank_now"],
                    what=f"{name(r['source'])} {verb} from #{int(r['rank_before'])} to "
                    f"#{int(r['rank_now'])} among the key referrers.",
                )
            )

    # -- prospects and visits: referrals to the focus since the last report -------------
    total_now = current.referrers.set_index("source")["to_focus"]
    total_before = previous.referrers.set_index("source")["to_focus"]

    def since_last(ids: pd.Series) -> pd.Series:
        now = ids.map(total_now).astype("float64").fillna(0)
        return (now - ids.map(total_before).astype("float64").fillna(0)).clip(lower=0)

    prospects = previous.prospects.assign(_since=since_last(previous.prospects["id"]))
    for r in _records(prospects.loc[prospects["_since"] > 0].sort_values("rank")):
        rows.append(
            _row(
                "prospect_started",
                {"source": r["id"]},
                name,
                rank_before=r["rank"],
                referrals_since=r["_since"],
                what=f"{name(r['id'])}, prospect #{int(r['rank'])} in the last report, has "
                f"referred to us since ({count(r['_since'], 'referral')}).",
            )
        )
    if activities is not None and len(activities):
        rows.extend(_visited(previous, activities, since_last, name, count))

    out = pd.DataFrame(rows, columns=COLUMNS)
    order = {kind: i for i, kind in enumerate(CHANGES)}
    out = out.sort_values("change", key=lambda s: s.map(order), kind="stable")
    for col in ("rank_before", "rank_now", "referrals_before", "referrals_now", "difference"):
        out[col] = pd.to_numeric(out[col]).astype("Int64")
    out["referrals_since"] = pd.to_numeric(out["referrals_since"]).astype("Int64")
    out["risk"] = pd.to_numeric(out["risk"]).astype("float64")
    return out.reset_index(drop=True)


def _visited(
    previous: ReportRecord,
    activities: pd.DataFrame,
    since_last: Callable[[pd.Series], pd.Series],
    name: Callable[[object], str],
    count: Callable[..., str],
) -> list[dict[str, object]]:
    """The `visited` rows: activities dated after the previous report's data."""
    log = activities.assign(date=pd.to_datetime(activities["date"]))
    log = log.loc[log["date"] > previous.data_end]
    if log.empty:
        return []
    log = log.assign(provider=log["provider"].astype("str")).sort_values(["provider", "date"])
    listed = previous.outreach.set_index("source")["visit_order"]
    rows = []
    for provider, group in log.groupby("provider", sort=False):
        parts = []
        for a in _records(group):
            part = f"{a['date']:%Y-%m-%d} {a.get('kind', 'activity')}"
            if pd.notna(a.get("liaison")):
                part += f" ({a['liaison']})"
            parts.append(part)
        got = float(since_last(pd.Series([provider])).iloc[0])
        order = listed.get(provider)
        what = f"{name(provider)}: {', '.join(parts)}"
        if order is not None:
            what += f"; #{int(order)} on the last outreach list"
        if got > 0:
            what += f"; {count(got, 'referral')} to us since."
        else:
            what += "; no referral to us since."
        rows.append(
            _row(
                "visited",
                {"source": provider},
                name,
                referrals_since=got,
                activities="; ".join(parts),
                what=what,
            )
        )
    return rows


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as dicts (``iterrows`` makes a Series of each: ten times slower
    on the tens of thousands of referrers gained and lost in a large market)."""
    return cast("list[dict[str, Any]]", frame.to_dict("records"))  # (its columns are str)


def _row(
    kind: str, r: Mapping[str, Any], name: Callable[[object], str], **values: object
) -> dict[str, object]:
    """A row of ``changes.csv``: the change, the provider(s) and their names, `values`."""
    row: dict[str, object] = dict.fromkeys(COLUMNS, pd.NA)
    row["change"] = kind
    row["source"] = r["source"]
    row["source_name"] = name(r["source"])
    if "target" in r and pd.notna(r["target"]):
        row["target"] = r["target"]
        row["target_name"] = name(r["target"])
    for col, value in values.items():
        missing = value is None or (isinstance(value, float) and pd.isna(value))
        row[col] = pd.NA if missing else value
    return row


def _text(value: object) -> bool:
    """Whether `value` is a non-blank text."""
    return isinstance(value, str) and bool(value.strip())


def _namer(providers: pd.DataFrame | None) -> Callable[[object], str]:
    """A provider's name, or its id where it has none."""
    names: dict[str, str] = {}
    if providers is not None and "name" in providers:
        table = providers.dropna(subset=["name"]).drop_duplicates("id")
        # lists, not the columns' own iterators: 0.1 s for 300,000 providers, not 1 s
        ids, labels = table["id"].astype("str").tolist(), table["name"].astype("str").tolist()
        names = dict(zip(ids, labels, strict=True))

    def name(provider: object) -> str:
        text = str(provider)
        found = names.get(text, "").strip()
        return found or text

    return name


def _counter(threshold: int) -> Callable[..., str]:
    """``count(value)``: a count as shown (``"<11"`` when small); ``count(value, "referral")``:
    with its noun, plural unless the count shown is exactly 1."""

    def count(value: object, noun: str | None = None) -> str:
        shown = format_count(float(value), threshold=threshold)  # type: ignore[arg-type]
        if noun is None:
            return shown
        return f"{shown} {noun}{'' if shown == '1' else 's'}"

    return count


def _record_of(
    tables: dict[str, pd.DataFrame],
    *,
    focus: str,
    focus_ids: list[str],
    ties: pd.DataFrame,
    recent: pd.Series,
    data_end: pd.Timestamp,
    window: int,
    capacity: int,
    horizon: int,
) -> ReportRecord:
    """The record of a report's `tables` (see :class:`ReportRecord`).

    `ties` are the network's ties (``source``, ``target``, ``referrals``); `recent` the
    referrals to the focus of each outside referrer in the last `window` months.
    """
    record = ReportRecord(
        focus=focus,
        focus_ids=list(focus_ids),
        data_end=pd.Timestamp(data_end),
        window=window,
        capacity=capacity,
        horizon=horizon,
    )
    risk = tables.get("at_risk")
    if risk is not None and len(risk):
        wanted = pd.unique(risk["target"].to_numpy(dtype=object))
        into = ties.loc[_memo.isin(ties["target"], wanted), ["source", "target", "referrals"]]
        shown = risk[["source", "target", "rank", "risk", "flagged"]].astype(
            {"source": "str", "target": "str"}
        )
        into = into.astype({"source": "str", "target": "str"})
        first_reason = (
            risk["reasons"].astype("str").str.split("; ").str[0]
            if "reasons" in risk
            else pd.Series("", index=risk.index)
        )
        record.ties = (
            shown.assign(reason=first_reason.to_numpy())
            .merge(into, on=["source", "target"], how="left")
            .assign(referrals=lambda f: f["referrals"].fillna(0).astype("int64"))
        )
    key = tables.get("key_referrers")
    if key is not None and len(key):
        outside = key.loc[~key["internal"].astype(bool)] if "internal" in key else key
        record.referrers = pd.DataFrame(
            {
                "source": outside["source"].astype("str").to_numpy(),
                "rank": outside["rank"].astype("int64").to_numpy(),
                "to_focus": outside["to_focus"].fillna(0).astype("int64").to_numpy(),
            }
        ).assign(recent=lambda f: f["source"].map(recent).fillna(0).astype("int64"))
    outreach = tables.get("outreach_list")
    if outreach is not None and len(outreach):
        record.outreach = pd.DataFrame(
            {
                "source": outreach["source"].astype("str").to_numpy(),
                "visit_order": outreach["visit_order"].astype("int64").to_numpy(),
            }
        )
    prospects = tables.get("prospects")
    if prospects is not None and len(prospects):
        record.prospects = pd.DataFrame(
            {
                "id": prospects["id"].astype("str").to_numpy(),
                "rank": prospects["rank"].astype("int64").to_numpy(),
            }
        )
    headline = tables.get("headline")
    if headline is not None and len(headline):
        record.headline = headline[["measure", "current", "unit"]].reset_index(drop=True)
    return record
