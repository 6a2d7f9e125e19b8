"""What one provider's profile shows, gathered from the report's tables.

:func:`profile_parts` takes, from the tables of a :class:`Report` (computed once, not
per provider), everything a liaison needs before visiting one referrer: who they
are, their referrals to us and to competitors by month (:func:`referrer_months`, one
pass over the panel for every provider profiled), their ties to our providers, their
at-risk ties, prospects among their partners, the outreach activities and the talking
points. Every count is under the small-cell rules of :mod:`referral_graph.privacy`.
:mod:`._profile_page` draws the page (:class:`~._profile_page.Profile`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes, _memo
from referral_graph.npi import looks_like_npi
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import (
    count_columns,
    describe_suppression,
    format_count,
    is_small_cell,
    small_cells,
    suppress_counts,
)
from referral_graph.report._headline import _focus_market
from referral_graph.report._model import Report
from referral_graph.report._tables import talking_point

logger = logging.getLogger(__package__)

#: Rows of each list on a profile (the page prints on one or two pages).
TIES_SHOWN, AT_RISK_SHOWN, PROSPECTS_SHOWN, ACTIVITIES_SHOWN = 8, 6, 6, 8
#: Key referrers, prospects and at-risk ties (as the report's page lists them) profiled.
KEY_REFERRERS_PROFILED, PROSPECTS_PROFILED, AT_RISK_PROFILED = 100, 25, 40


def profiled_ids(report: Report) -> list[str]:
    """The providers the report profiles, in order: the outreach list, the referrers of
    the at-risk list's first ties (outside ones), the key referrers (first 100) and the
    prospects (first 25)."""
    t = report.tables
    found: list[str] = []
    if "outreach_list" in t:
        found += t["outreach_list"]["source"].astype("str").tolist()
    risk = t.get("at_risk")
    if risk is not None and len(risk):
        outside = risk.head(AT_RISK_PROFILED)
        if "internal" in outside:
            outside = outside.loc[~outside["internal"].astype(bool).to_numpy()]
        found += outside["source"].astype("str").tolist()
    if "key_referrers" in t:
        found += t["key_referrers"]["source"].head(KEY_REFERRERS_PROFILED).astype("str").tolist()
    if "prospects" in t:
        found += t["prospects"]["id"].head(PROSPECTS_PROFILED).astype("str").tolist()
    return list(dict.fromkeys(found))


def referrer_months(
    net: ReferralNetwork, focus_ids: Sequence[str], ids: Sequence[str]
) -> pd.DataFrame:
    """Referrals of `ids` in the focus's market by month: ``source``, ``month``,
    ``to_focus``, ``to_competitors`` (the rows of the report's monthly series, per
    referrer; only months with referrals). Empty without dates."""
    columns = {"source": "str", "month": "datetime64[ns]", "to_focus": "int64"}
    empty = pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})
    if net.panel is None:
        return empty.assign(to_competitors=pd.Series(dtype="int64"))
    panel = net.panel
    rows = panel.loc[_memo.isin(panel["source"], pd.Index(list(ids), dtype="str"))]
    market = _focus_market(rows, net.providers, focus_ids)
    referrals = market.referrals
    frame = pd.DataFrame(
        {
            "source": np.asarray(market.referrers, dtype=object)[market.source],
            "month": market.month,
            "to_focus": np.where(market.to_focus, referrals, 0),
            "to_competitors": np.where(market.to_focus, 0, referrals),
        }
    )
    out = frame.groupby(["source", "month"], sort=True).sum().reset_index()
    out["month"] = pd.DatetimeIndex(_codes.month_dates(out["month"].to_numpy(), end=False))
    out["month"] = out["month"].astype("datetime64[ns]")
    return out


@dataclass
class ProfileParts:
    """What a profile shows, as :func:`profile_parts` computes it (:class:`Profile` draws it)."""

    name: str
    referrals: pd.DataFrame
    unit: str
    suppression: str | None
    sections: dict[str, Any]


@dataclass
class Prepared:
    """The report's tables cut, once, to the providers profiled, and suppressed together.

    Each ``*_of`` maps a provider id to its rows; ``raw`` rows are as counted, ``safe``
    rows as shown (:func:`referral_graph.privacy.suppress_counts` on all the providers'
    rows at once, with the partitions their totals make).
    """

    report: Report
    threshold: int
    info: dict[str, dict[str, str]]
    names: pd.Series
    months: pd.DatetimeIndex
    #: Per provider, its referrals by period (``month``: the period's first month) as
    #: counted, as shown and what was left out, and the period (a key of :data:`UNITS`).
    series_of: dict[str, Rows]
    unit_of: dict[str, str]
    ties_of: dict[str, Rows]
    wallet_of: dict[str, Rows]
    at_risk_of: dict[str, list[dict[str, Any]]]
    partners_of: dict[str, set[str]]
    #: Per provider, its activities, latest first (None without an activity log).
    activities_of: dict[str, list[dict[str, Any]]] | None
    why: dict[str, list[str]]
    #: The outreach list's talking point of each provider on it.
    points: dict[str, str]
    #: The prospects, ids as text (``via_id`` "" where none).
    prospects: pd.DataFrame | None
    #: Per provider, the prospects among its partners (rows of ``prospects``).
    prospects_of: dict[str, list[dict[str, Any]]]
    #: The providers profiled that are prospects: their rows of ``prospects``.
    prospect_of: dict[str, dict[str, Any]]


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its text columns as Python strings (quicker to read row by row)."""
    out = _bare(frame)
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]) and not pd.api.types.is_object_dtype(out[col]):
            out[col] = out[col].astype("object")
    return out


def _bare(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` without its attrs (pandas copies them deeply on every operation)."""
    out = frame.copy(deep=False)
    out.attrs = {}
    return out


def _grouped(frame: pd.DataFrame, key: str) -> dict[str, list[dict[str, Any]]]:
    """`frame`'s rows as dicts, per value of `key` (in the frame's order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in _records(_as_objects(frame)):
        out.setdefault(str(row[key]), []).append(row)
    return out


@dataclass
class Rows:
    """One provider's rows of a table: as counted, as shown, and per row how many values
    were left out (:func:`_gone`: small counts, other hidden counts, derived values)."""

    raw: list[dict[str, Any]]
    shown: list[dict[str, Any]]
    gone: npt.NDArray[np.int64]


def _pairs(raw: pd.DataFrame, safe: pd.DataFrame, key: str, threshold: int) -> dict[str, Rows]:
    """Per `key`: its rows as counted, as shown, and what was left out of each."""
    safe = _bare(safe)
    gone = _gone(raw, safe, threshold)
    raw_of, safe_of = _grouped(raw, key), _grouped(safe, key)
    keys = raw[key].astype("str").to_numpy()
    out: dict[str, Rows] = {}
    for k, rows in raw_of.items():
        out[k] = Rows(raw=rows, shown=safe_of[k], gone=gone[keys == k])
    return out


#: The periods of a profile's chart, finest first: months in a period, label format.
UNITS = {
    "month": (1, "{:%b %Y}"),
    "quarter": (3, "Q{q} {:%Y}"),
    "half-year": (6, "H{h} {:%Y}"),
    "year": (12, "{:%Y}"),
}
#: A chart by month needs this share of its non-zero counts shown, or it is drawn by
#: quarter, half-year or year (the first period that shows as much).
SHOWN_ENOUGH = 0.5


def _series(
    monthly: pd.DataFrame,
    *,
    threshold: int,
    hidden_totals: Mapping[str, set[str]] | None = None,
) -> tuple[dict[str, Rows], dict[str, str]]:
    """Each provider's referrals to us and to competitors by the finest period that shows
    enough (:data:`SHOWN_ENOUGH`) of them under small-cell suppression.

    A provider's periods partition its referrals to us and to competitors, whose totals
    ``share_of_wallet.csv`` and the profile's summary show: a period hidden makes another
    hidden (partitions by source); a share with a hidden count is hidden. Where that
    total is hidden (`hidden_totals`: per column, the providers whose total the written
    tables leave out), the periods must not give it back by their sum: the smallest
    non-zero one is hidden when none is (and the partition rule, which protects a shown
    total, is not applied to them).
    """
    hidden_totals = hidden_totals or {}
    number = monthly["month"].dt.year.to_numpy() * 12 + monthly["month"].dt.month.to_numpy() - 1
    series: dict[str, Rows] = {}
    unit_of: dict[str, str] = {}
    for unit, (months, _) in UNITS.items():
        first = number - number % months
        start = pd.to_datetime(
            pd.DataFrame({"year": first // 12, "month": first % 12 + 1, "day": 1})
        ).astype("datetime64[ns]")
        raw = (
            monthly.assign(month=start.to_numpy())
            .groupby(["source", "month"], sort=False)[["to_focus", "to_competitors"]]
            .sum()
            .reset_index()
        )
        total = raw["to_focus"] + raw["to_competitors"]
        raw["total"] = total
        raw["share"] = (raw["to_focus"] / total.where(total > 0)).astype("float64")
        safe = _suppress_periods(raw, threshold=threshold, hidden_totals=hidden_totals)
        nonzero = (
            ((raw["to_focus"] > 0).astype(int) + (raw["to_competitors"] > 0))
            .groupby(raw["source"], sort=False)
            .sum()
        )
        safe = safe.drop(columns="total")
        hidden = (
            (safe["to_focus"].isna().astype(int) + safe["to_competitors"].isna())
            .groupby(raw["source"], sort=False)
            .sum()
        )
        enough = (nonzero == 0) | (hidden <= (1 - SHOWN_ENOUGH) * nonzero) | (unit == "year")
        chosen = [str(k) for k in enough.index[enough.to_numpy()] if str(k) not in unit_of]
        if not chosen:
            continue
        rows = raw["source"].isin(chosen).to_numpy()
        series.update(_pairs(raw.loc[rows], safe.loc[rows], "source", threshold))
        unit_of.update(dict.fromkeys(chosen, unit))
    return series, unit_of


def _suppress_periods(
    raw: pd.DataFrame, *, threshold: int, hidden_totals: Mapping[str, set[str]]
) -> pd.DataFrame:
    """:func:`_series`' suppression of one period's rows (``source``, ``month``,
    ``to_focus``, ``to_competitors``, ``total``, ``share``)."""
    columns = ("to_focus", "to_competitors")
    frame = raw.copy(deep=False)
    source = frame["source"].astype("str").to_numpy(dtype=object)
    partitions: list[tuple[str, tuple[str, ...]]] = []
    hide: dict[str, pd.Series] = {}
    for col in columns:
        apart = np.isin(source, list(hidden_totals.get(col, ())))
        # the rows of a provider whose total is hidden: each a group of its own (no sum)
        key = f"_{col}_sum"
        frame[key] = np.where(apart, np.arange(len(frame)).astype("str"), source)
        partitions.append((col, (key,)))
        if apart.any():
            values = frame[col].to_numpy(dtype="float64")
            small = small_cells(values, threshold=threshold)
            group = pd.Series(source[apart])
            has_small = pd.Series(small[apart]).groupby(group, sort=False).transform("any")
            candidate = np.zeros(len(frame), dtype=bool)
            candidate[apart] = (~has_small.to_numpy(dtype=bool)) & (values[apart] > 0)
            hide[col] = pd.Series(_smallest_of(candidate, values, source), index=frame.index)
    safe = suppress_counts(frame, threshold=threshold, partitions=partitions, hide=hide)
    return safe.drop(columns=[f"_{c}_sum" for c in columns])


def _smallest_of(
    candidate: npt.NDArray[np.bool_], values: npt.NDArray[np.float64], group: npt.NDArray[Any]
) -> npt.NDArray[np.bool_]:
    """The candidate row of least value in each group (the first on equal values)."""
    chosen = np.zeros(len(candidate), dtype=bool)
    rows = np.flatnonzero(candidate)
    if not len(rows):
        return chosen
    frame = pd.DataFrame({"group": group[rows], "value": values[rows], "row": rows})
    first = frame.sort_values(["group", "value", "row"], kind="stable").drop_duplicates("group")
    chosen[first["row"].to_numpy()] = True
    return chosen


def _decided(
    decided: Mapping[str, Mapping[str, pd.Series]], name: str, rows: pd.DataFrame
) -> dict[str, pd.Series]:
    """The cells of `rows` (rows of table `name`) that the written table leaves out."""
    return {
        col: mask.reindex(rows.index, fill_value=False).astype(bool)
        for col, mask in decided.get(name, {}).items()
        if col in rows.columns
    }


def decided_suppression(report: Report, *, threshold: int) -> dict[str, dict[str, pd.Series]]:
    """What :func:`referral_graph.report.write_report` leaves out of the tables of
    `report` (:attr:`referral_graph.scores.TablesWritten.hidden`), decided as it decides
    it (:func:`referral_graph.scores.write_tables`, every table's rules and the joint
    suppression of ``ties``, ``share_by_specialty`` and ``share_of_wallet``) but with
    nothing written: for a profile made apart from a written report."""
    from referral_graph.scores import write_tables

    # kept for the next profile of the same report (the joint suppression of the ties takes
    # seconds on large markets) while its tables are the same frames; forgotten with it
    frames = tuple(report.tables.items())
    key = (id(report), threshold)
    if key in _DECIDED:
        before, decided = _DECIDED[key]
        if len(before) == len(frames) and all(
            a == b and x is y for (a, x), (b, y) in zip(before, frames, strict=True)
        ):
            return dict(decided)
    elif not any(k[0] == id(report) for k in _DECIDED):
        weakref.finalize(report, _forget, id(report))
    decided = write_tables(
        report.tables, Path("tables"), threshold=threshold, formats=(), keep=()
    ).hidden
    _DECIDED[key] = (frames, decided)
    return dict(decided)


#: :func:`decided_suppression`'s results, per report (its id while it lives) and threshold.
_DECIDED: dict[
    tuple[int, int],
    tuple[tuple[tuple[str, pd.DataFrame], ...], dict[str, dict[str, pd.Series]]],
] = {}


def _forget(report_id: int) -> None:
    for key in [k for k in _DECIDED if k[0] == report_id]:
        del _DECIDED[key]


def prepare(
    report: Report,
    providers: pd.DataFrame,
    ids: Sequence[str],
    *,
    monthly: pd.DataFrame,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]],
    activities: pd.DataFrame | None = None,
) -> Prepared:
    """The report's tables cut to `ids` and suppressed, once for every profile.

    `decided` is what the report's written tables leave out
    (:attr:`referral_graph.scores.TablesWritten.hidden`, or :func:`decided_suppression`):
    a profile shows a cell of ``ties.csv`` or ``share_of_wallet.csv`` only where that
    file shows it (the file hid some to protect other providers' cells: complementary
    suppression by target, with ``share_by_specialty``, across referrers), and hides
    besides what its own sums would give back.
    """
    t = {name: _bare(frame) for name, frame in report.tables.items()}
    wanted = pd.Index(list(ids), dtype="str")
    months = (
        pd.DatetimeIndex(report.monthly["month"])
        if report.monthly is not None and len(report.monthly)
        else pd.DatetimeIndex(sorted(monthly["month"].unique()))
    )
    raw = (
        monthly.set_index(["source", "month"])[["to_focus", "to_competitors"]]
        .reindex(pd.MultiIndex.from_product([wanted, months], names=["source", "month"]))
        .fillna(0)
        .astype("int64")
        .reset_index()
    )
    wallet = t.get("share_of_wallet")
    hidden_totals: dict[str, set[str]] = {}
    if wallet is not None:
        mine = wallet.loc[wallet["source"].isin(wanted).to_numpy()]
        for col, mask in _decided(decided, "share_of_wallet", mine).items():
            hidden_totals[col] = set(mine["source"].astype("str")[mask.to_numpy()])
    series_of, unit_of = _series(raw, threshold=threshold, hidden_totals=hidden_totals)
    ties = t.get("ties")
    ties_of: dict[str, Rows] = {}
    partners_of: dict[str, set[str]] = {}
    if ties is not None:
        # All the providers' ties, hidden at least where ties.csv hides them (by target,
        # with share_by_specialty: to protect other providers' ties); they sum to each
        # one's referrals sent, a shown total.
        sent = ties.loc[_memo.isin(ties["source"], wanted)]
        safe_ties = suppress_counts(
            sent,
            threshold=threshold,
            partitions=[("referrals", ("source",))],
            hide=_decided(decided, "ties", sent),
        )
        # narrowed to the ties to our providers, strongest first by the strength shown (a
        # hidden one last: ranked by it, a hidden strength would be bracketed by its neighbours)
        ours = sent["target"].isin(pd.Index(report.focus_ids, dtype="str")).to_numpy()
        shown_score = pd.to_numeric(safe_ties["score"], errors="coerce").to_numpy("float64")
        order = np.argsort(-np.nan_to_num(shown_score[ours], nan=-np.inf), kind="stable")
        columns = [
            "source",
            "target",
            "referrals",
            "patients",
            "score",
            *(c for c, _ in _COMPONENTS),
        ]
        columns = [c for c in columns if c in sent]
        ties_of = _pairs(
            sent[columns].loc[ours].iloc[order],
            safe_ties[columns].loc[ours].iloc[order],
            "source",
            threshold,
        )
        received = ties.loc[_memo.isin(ties["target"], wanted)]
        for rows_, end, other in ((sent, "source", "target"), (received, "target", "source")):
            for k, g in rows_.groupby(end, sort=False)[other]:
                partners_of.setdefault(str(k), set()).update(g.astype("str"))
    wallet_of: dict[str, Rows] = {}
    if wallet is not None:
        # as share_of_wallet.csv shows them (key_referrers.csv repeats them: LINKED)
        rows = wallet.loc[wallet["source"].isin(wanted).to_numpy()]
        hide = _decided(decided, "share_of_wallet", rows)
        wallet_of = _pairs(
            rows, suppress_counts(rows, threshold=threshold, hide=hide), "source", threshold
        )
    risk = t.get("at_risk")
    at_risk_of = (
        _grouped(risk.loc[risk["source"].isin(wanted).to_numpy()], "source")
        if risk is not None
        else {}
    )
    activities_of = None
    if activities is not None and "provider" in activities:
        acts = _bare(activities).assign(provider=activities["provider"].astype("str"))
        acts = acts.loc[acts["provider"].isin(wanted).to_numpy()]
        if "date" in acts:
            acts = acts.sort_values("date", ascending=False, kind="stable")
        activities_of = _grouped(acts, "provider")
    return Prepared(
        report=report,
        threshold=threshold,
        info=_infos(providers, wanted),
        names=_names(t.get("providers"), providers),
        months=months,
        series_of=series_of,
        unit_of=unit_of,
        ties_of=ties_of,
        wallet_of=wallet_of,
        at_risk_of=at_risk_of,
        partners_of=partners_of,
        activities_of=activities_of,
        prospects=(prospects := _prospect_rows(t.get("prospects"), decided, threshold)),
        prospects_of=_prospects_near(prospects, {k: partners_of.get(k, set()) for k in wanted}),
        prospect_of=(
            {
                k: rows[0]
                for k, rows in _grouped(
                    prospects.loc[prospects["id"].isin(wanted).to_numpy()], "id"
                ).items()
            }
            if prospects is not None
            else {}
        ),
        why=_places(t, wanted),
        points=(
            dict(
                zip(
                    t["outreach_list"]["source"].astype("str"),
                    t["outreach_list"]["talking_point"].astype("str"),
                    strict=True,
                )
            )
            if "outreach_list" in t
            else {}
        ),
    )


def _prospect_rows(
    pros: pd.DataFrame | None, decided: Mapping[str, Mapping[str, pd.Series]], threshold: int
) -> pd.DataFrame | None:
    """The prospects, ids as text, without the counts that ``prospects.csv`` hides by
    complementary suppression (`decided`: a prospect's referrals to competitors are its
    ``to_competitors`` of ``share_of_wallet.csv``); small counts stay, written ``<11``."""
    if pros is None:
        return None
    via = pros["via_id"] if "via_id" in pros else pd.Series("", index=pros.index)
    pros = pros.assign(id=pros["id"].astype("str"), via_id=via.fillna("").astype("str"))
    for col, hidden in _decided(decided, "prospects", pros).items():
        values = pd.to_numeric(pros[col], errors="coerce")
        gone = hidden.to_numpy() & ~small_cells(values, threshold=threshold).to_numpy(bool)
        if gone.any():
            pros[col] = values.astype("float64").mask(gone)
    return pros


def profile_parts(provider: str, prepared: Prepared) -> ProfileParts:
    """What `provider`'s profile shows (from :func:`prepare`), every figure as shown."""
    report, threshold = prepared.report, prepared.threshold
    info = {"id": provider, **prepared.info.get(provider, dict.fromkeys(_INFO, ""))}
    info["id_label"] = "NPI" if looks_like_npi(provider) else "ID"  # ("DR-0162" is no NPI)
    records: list[Mapping[str, Any]] = []
    unit = prepared.unit_of.get(provider, "month")
    series = prepared.series_of.get(provider, Rows([], [], np.zeros((0, 3), np.int64)))
    records.append(_record(series.gone, threshold))
    sections: dict[str, Any] = {
        "who": info,
        "why": prepared.why.get(provider, []),
        "summary": _summary(provider, prepared, records),
        "ties": _ties(provider, prepared, records),
        "at_risk": _at_risk(provider, prepared),
        "prospects": _prospects(provider, prepared),
        "activities": _activities(provider, prepared, series),
        "talking_points": _talking_points(provider, prepared),
        "period": (
            f"{report.period[0]:%d %b %Y} – {report.period[1]:%d %b %Y}"
            if report.period is not None
            else "no dates in the data"
        ),
        "focus": report.focus,
        "notes": {k: report.notes[k] for k in ("at_risk", "prospects") if k in report.notes},
        "months": _period_texts(series, unit, threshold=threshold),
        "unit": unit,
        "threshold": threshold,
    }
    columns = ["month", "to_focus", "to_competitors", "share"]
    referrals = pd.DataFrame(series.shown, columns=columns)
    return ProfileParts(
        name=info["name"] or provider,
        referrals=referrals.astype({"to_focus": "Int64", "to_competitors": "Int64"}),
        unit=unit,
        suppression=describe_suppression(records),
        sections=sections,
    )


def _gone(raw: pd.DataFrame, safe: pd.DataFrame, threshold: int) -> npt.NDArray[np.int64]:
    """Per row, how many values `safe` leaves out of `raw`: small counts (``hidden``),
    counts hidden by complementary suppression and values derived from a hidden count."""
    n = len(raw)
    hidden, complementary, derived = (
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
    )
    counts = set(count_columns(raw))
    for col in safe.columns:
        if col not in raw or not pd.api.types.is_numeric_dtype(raw[col]):
            continue
        gone = safe[col].isna().to_numpy() & raw[col].notna().to_numpy()
        if col in counts:
            values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype="float64")
            small = gone & small_cells(values, threshold=threshold)
            hidden += small
            complementary += gone & ~small
        else:
            derived += gone
    return np.stack([hidden, complementary, derived], axis=1)


def _record(gone: npt.NDArray[np.int64], threshold: int) -> dict[str, Any]:
    """`gone`'s rows (:func:`_gone`) as :func:`referral_graph.privacy.describe_suppression`
    reads a table's record."""
    hidden, complementary, derived = (int(v) for v in gone.reshape(-1, 3).sum(axis=0))
    return {
        "threshold": threshold,
        "hidden": {"": hidden},
        "complementary": {"": complementary},
        "derived": {"": derived},
    }


def _period_texts(series: Rows, unit: str, *, threshold: int) -> list[dict[str, str]]:
    """Each period's figures as the page writes them (the chart's tooltips)."""
    out = []
    for counted, shown in zip(series.raw, series.shown, strict=True):
        start = pd.Timestamp(shown["month"])
        out.append(
            {
                "label": _label(start, unit),
                "short": f"{start:%b %y}" if unit == "month" else _label(start, unit),
                "to_focus": shown_count(counted["to_focus"], shown["to_focus"], threshold),
                "to_competitors": shown_count(
                    counted["to_competitors"], shown["to_competitors"], threshold
                ),
                "share": _share(shown["share"]),
            }
        )
    return out


def _label(start: pd.Timestamp, unit: str) -> str:
    return UNITS[unit][1].format(start, q=(start.month - 1) // 3 + 1, h=(start.month - 1) // 6 + 1)


#: What the profile says of who a provider is: its keys and the providers' columns.
_INFO = {
    "name": "name",
    "specialty": "specialty",
    "practice": "organization",
    "town": "city",
    "state": "state",
}


def _infos(providers: pd.DataFrame, wanted: pd.Index) -> dict[str, dict[str, str]]:
    rows = providers.loc[providers["id"].astype("str").isin(wanted).to_numpy()]
    rows = _as_objects(rows.drop_duplicates("id"))
    columns = {key: rows.get(col) for key, col in _INFO.items()}
    out: dict[str, dict[str, str]] = {}
    for i, provider in enumerate(rows["id"].astype("str")):
        out[provider] = {
            key: "" if col is None else _plain(col.iloc[i]) for key, col in columns.items()
        }
    return out


def _names(measures: pd.DataFrame | None, providers: pd.DataFrame) -> pd.Series:
    table = measures if measures is not None and "name" in measures else providers
    if "name" not in table:
        return pd.Series(dtype="object")
    return table.drop_duplicates("id").set_index("id")["name"]


def _places(t: Mapping[str, pd.DataFrame], wanted: pd.Index) -> dict[str, list[str]]:
    """Why the report profiles each of `wanted`: its places on the report's lists."""
    why: dict[str, list[str]] = {}
    ol = t.get("outreach_list")
    if ol is not None:
        for source, order in zip(ol["source"].astype("str"), ol["visit_order"], strict=True):
            why.setdefault(source, []).append(f"this week's outreach list (visit {int(order)})")
    key = t.get("key_referrers")
    if key is not None:
        first = key.head(KEY_REFERRERS_PROFILED)
        for source, rank in zip(first["source"].astype("str"), first["rank"], strict=True):
            why.setdefault(source, []).append(f"key referrer #{int(rank)}")
    risk = t.get("at_risk")
    if risk is not None:
        counts = risk.loc[risk["source"].isin(wanted).to_numpy(), "source"].astype("str")
        for at_risk_source, n in counts.value_counts(sort=False).items():
            plural = "s" if n > 1 else ""
            why.setdefault(str(at_risk_source), []).append(f"{n:,} tie{plural} on the at-risk list")
    pros = t.get("prospects")
    if pros is not None:
        first = pros.loc[pros["id"].isin(wanted).to_numpy()]
        for source, rank in zip(first["id"].astype("str"), first["rank"], strict=True):
            why.setdefault(source, []).append(f"prospect #{int(rank)}")
    return why


def _summary(
    provider: str, prepared: Prepared, records: list[Mapping[str, Any]]
) -> dict[str, str] | None:
    """Referrals to us, to competitors, share of wallet and segment over the whole data."""
    if provider not in prepared.wallet_of:
        return None
    rows = prepared.wallet_of[provider]
    records.append(_record(rows.gone[:1], prepared.threshold))
    r, s = rows.raw[0], rows.shown[0]
    return {
        "to_focus": shown_count(r.get("to_focus"), s.get("to_focus"), prepared.threshold),
        "to_competitors": shown_count(
            r.get("to_competitors"), s.get("to_competitors"), prepared.threshold
        ),
        "share": _share(s.get("share")),
        "segment": _plain(r.get("segment")),
        "top_competitor": _plain(r.get("top_competitor")),
    }


def _ties(provider: str, prepared: Prepared, records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The provider's ties to our providers: strength, its components and trend, strongest
    first (suppressed with all the provider's ties: :func:`prepare`)."""
    if provider not in prepared.ties_of:
        return {"rows": [], "more": 0}
    ties = prepared.ties_of[provider]
    records.append(_record(ties.gone[:TIES_SHOWN], prepared.threshold))
    threshold = prepared.threshold
    rows = []
    for r, s in zip(ties.raw[:TIES_SHOWN], ties.shown[:TIES_SHOWN], strict=True):
        target = str(r["target"])
        rows.append(
            {
                "id": target,
                "name": _plain(prepared.names.get(target)) or target,
                "referrals": shown_count(r.get("referrals"), s.get("referrals"), threshold),
                "patients": shown_count(r.get("patients"), s.get("patients"), threshold),
                "strength": _number(s.get("score"), "{:.0f}"),
                "components": [
                    (label, _number(s.get(col), "{:.2f}")) for col, label in _COMPONENTS if col in s
                ],
                "trend": _trend(s.get("trend")),
            }
        )
    return {"rows": rows, "more": max(len(ties.raw) - TIES_SHOWN, 0)}


#: The components of a tie's strength (referral_graph.strength), as the profile names them.
_COMPONENTS = (
    ("volume", "volume"),
    ("recency", "recency"),
    ("regularity", "regularity"),
    ("trend", "trend"),
    ("share_of_wallet", "share"),
    ("reciprocity", "reciprocity"),
)


def _trend(value: Any) -> str:
    if value is None or pd.isna(value):
        return "–"
    v = float(value)
    return "rising" if v > 0.55 else "falling" if v < 0.45 else "flat"


def _at_risk(provider: str, prepared: Prepared) -> list[dict[str, Any]]:
    mine = prepared.at_risk_of.get(provider)
    if mine is None:
        return []
    threshold = prepared.threshold
    return [
        {
            "name": _plain(r.get("target_name")) or str(r["target"]),
            "risk": _share(r.get("risk")),
            "at_stake": _count(r.get("at_stake"), threshold),
            "expected_loss": _count(r.get("expected_loss"), threshold),
            "reasons": _plain(r.get("reasons")),
            "flagged": bool(r.get("flagged", False)),
        }
        for r in mine[:AT_RISK_SHOWN]
    ]


def _prospects(provider: str, prepared: Prepared) -> dict[str, Any]:
    """The provider as a prospect, and prospects among their partners (ties either way, or
    found through them)."""
    pros = prepared.prospects
    if pros is None:
        return {"self": None, "partners": []}
    rows = prepared.prospects_of.get(provider, [])
    own = prepared.prospect_of.get(provider)
    return {
        "self": _prospect(own, prepared.threshold) if own is not None else None,
        "partners": [_prospect(r, prepared.threshold) for r in rows[:PROSPECTS_SHOWN]],
    }


def _prospects_near(
    pros: pd.DataFrame | None, partners_of: Mapping[str, set[str]]
) -> dict[str, list[dict[str, Any]]]:
    """Per provider profiled, the prospects among its partners or found through it, in
    the prospects' order (the provider itself aside)."""
    if pros is None:
        return {}
    pairs = pd.DataFrame(
        [(c, p) for c, ps in partners_of.items() for p in ps], columns=["centre", "id"]
    )
    by_tie = pairs.merge(pros.reset_index(names="_row"), on="id", how="inner")
    via = pros.loc[pros["via_id"].isin(pd.Index(list(partners_of))).to_numpy()]
    by_via = via.reset_index(names="_row").assign(centre=via["via_id"].to_numpy())
    both = pd.concat([by_tie, by_via], ignore_index=True)
    both = both.loc[(both["centre"] != both["id"]).to_numpy()]
    both = both.drop_duplicates(["centre", "_row"]).sort_values(["centre", "_row"])
    both = _as_objects(both.groupby("centre", sort=False).head(PROSPECTS_SHOWN))
    return {str(c): _records(g) for c, g in both.groupby("centre", sort=False)}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`frame`'s rows as dicts keyed by column name."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _prospect(r: Mapping[str, Any], threshold: int) -> dict[str, str]:
    return {
        "rank": _plain(r.get("rank")),
        "name": _plain(r.get("name")) or str(r["id"]),
        "kind": _plain(r.get("kind")).replace("_", " "),
        "specialties": _plain(r.get("specialties")),
        "to_competitors": _count(r.get("referrals_to_competitors"), threshold),
        "top_competitor": _plain(r.get("top_competitor")),
        "via": _plain(r.get("via")),
    }


def _activities(provider: str, prepared: Prepared, series: Rows) -> list[dict[str, str]] | None:
    """The provider's activities, latest first, each with referrals to us in the chart's
    period before the activity's period and in the period after, as the chart shows them
    (no new sum: a sum of shown and hidden periods would give a hidden one back)."""
    if prepared.activities_of is None:
        return None
    starts = pd.DatetimeIndex([r["month"] for r in series.shown])
    texts = [
        shown_count(c["to_focus"], s["to_focus"], prepared.threshold)
        for c, s in zip(series.raw, series.shown, strict=True)
    ]

    def at(i: int) -> str:
        return texts[i] if 0 <= i < len(texts) else "–"

    out = []
    for r in prepared.activities_of.get(provider, [])[:ACTIVITIES_SHOWN]:
        date = pd.Timestamp(r["date"]) if pd.notna(r.get("date")) else None
        i = int(starts.searchsorted(date, side="right")) - 1 if date is not None else -2
        out.append(
            {
                "date": f"{date:%d %b %Y}" if date is not None else "",
                "liaison": _plain(r.get("liaison")),
                "kind": _plain(r.get("kind")),
                "before": at(i - 1) if date is not None else "–",
                "after": at(i + 1) if date is not None else "–",
            }
        )
    return out


def _talking_points(provider: str, prepared: Prepared) -> list[str]:
    """The outreach list's talking point, then one per distinct at-risk reason."""
    points = [prepared.points[provider]] if provider in prepared.points else []
    mine = prepared.at_risk_of.get(provider)
    if mine is not None:
        for reason in [r.get("reasons") for r in mine[:5]]:
            points.append(talking_point(reason if isinstance(reason, str) else ""))
    return list(dict.fromkeys(points)) or [talking_point("")]


def shown_count(counted: Any, shown: Any, threshold: int) -> str:
    """A count as the page shows it: ``<11`` when small, ``–`` when hidden for another
    reason (complementary suppression: `shown` missing), else the count."""
    if (
        counted is not None
        and not pd.isna(counted)
        and is_small_cell(float(counted), threshold=threshold)
    ):
        return format_count(float(counted), threshold=threshold)
    return _count(shown, threshold)


def _plain(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _count(value: Any, threshold: int) -> str:
    if value is None or pd.isna(value):
        return "–"
    return format_count(float(value), threshold=threshold)


def _share(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * float(value):.0f} %"


def _number(value: Any, fmt: str) -> str:
    return "–" if value is None or pd.isna(value) else fmt.format(float(value))
