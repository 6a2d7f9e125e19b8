"""The reasons of the at-risk list in plain words (:data:`REASON_GROUPS`).

:func:`_explain` picks the heaviest themes of a tie's contributions and words them
from the tie's own values (:func:`_reason_text`), falling back on the rules'
reasons; :func:`_gainers` finds the receiver gaining most at the same referrer.
Counts from 1 to 10 are written "<11".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from referral_graph.churn._features import FEATURE_COLUMNS, _Totals
from referral_graph.churn._matrix import _TieMatrix
from referral_graph.churn._options import FloatArray, IntArray, _Options
from referral_graph.privacy import DEFAULT_THRESHOLD, format_count

#: Features grouped into the themes that reasons talk about.
REASON_GROUPS: dict[str, tuple[str, ...]] = {
    "lapse": (
        "days_since_last",
        "days_vs_gap",
        "recent_zero_months",
        "lapse_surprise",
        "tie_vs_referrer_quiet",
    ),
    "decline": ("recent_vs_baseline", "slope", "poisson_churn_logit", "drop_surprise"),
    "seasonal": ("yoy_change", "yoy_available"),
    "share": ("share_baseline", "share_change", "competitor_gain"),
    "referrer": (
        "referrer_trend",
        "log_referrer_days_since_last",
        "referrer_quiet_share",
        "referrer_last_vs_baseline",
        "referrer_recent_zero_months",
    ),
    "receiver": ("receiver_trend",),
    "volatility": ("volatility",),
    "volume": ("log_baseline_rate",),
    "tenure": ("log_tenure",),
    "reciprocity": ("reciprocity",),
    "patients": ("patients_per_referral",),
    "wait": ("wait_days", "wait_change"),
}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _change(ratio_log: float) -> float:
    """Relative change from a smoothed log ratio."""
    return float(math.exp(ratio_log) - 1.0)


def _fall(recent: float, recent_months: int, baseline_rate: float) -> str:
    """How far a monthly rate fell, in words: the change of the recent window's rate against
    the baseline's, as it is (the features' log ratios are smoothed, and understate a fall
    to nothing: 45 referrals a year, none since, is a fall of 100%, not 88%). A recent count
    from 1 to 10 is not given back through its ratio to a known baseline: "to fewer than 11"."""
    if 0 < recent < DEFAULT_THRESHOLD:
        return f"to fewer than {DEFAULT_THRESHOLD}"
    change = recent / recent_months / baseline_rate - 1.0 if baseline_rate > 0 else -1.0
    return _pct(-min(change, 0.0))


def _count_text(value: float) -> str:
    """A count for text, small-cell suppressed ("<11")."""
    return format_count(cast(Any, round(value)))


def _months(value: float) -> str:
    if value <= 1.0:
        return "every month"
    return f"every {value:.1f} months".replace(".0 ", " ")


def _days(days: float) -> str:
    """A number of days in words ("1 day", "12 days")."""
    n = round(days)
    return "1 day" if n == 1 else f"{n} days"


def _every(days: float) -> str:
    """A usual gap in days, in words ("every 12 days", "every 2.5 months")."""
    if days < 1.5:
        return "about every day"
    if days < 60:
        return f"every {days:.0f} days"
    return f"every {days / 30.44:.1f} months".replace(".0 ", " ")


#: A referrer silent towards everyone this long is worth a reason of its own; from the
#: second length on, the words ask whether the referrer has left.
_REFERRER_QUIET_DAYS = 30
_REFERRER_GONE_DAYS = 90

#: A lapse is worth a reason when it lasts this many usual gaps, and at least two weeks.
_OVERDUE_GAPS = 1.5
_OVERDUE_DAYS = 14


@dataclass
class _Context:
    """What the words of one tie's reasons need."""

    src: str  # display name of the source
    tgt: str
    spec: str | None  # the target's specialty
    gainer: str | None  # the receiver gaining most at the same referrer
    ref: Mapping[str, float]  # typical (training median) feature values
    opts: _Options


def _reason_text(group: str, v: Mapping[str, float], ctx: _Context) -> str | None:
    """Plain words for one reason group, or None when the values tell no risk story."""
    src, tgt = ctx.src, ctx.tgt
    r, nb = ctx.opts.recent_months, ctx.opts.baseline_months
    if group == "lapse":
        since, gap = v["days_since_last"], v["usual_gap_days"]
        if since >= max(_OVERDUE_GAPS * gap, _OVERDUE_DAYS):
            text = f"no referral from {src} to {tgt} for {since:.0f} days (usually {_every(gap)})"
            elsewhere = v["referrer_days_since_last"]
            if elsewhere <= since / 3:  # the referrer is active, only not along this tie
                text += f", while {src} referred elsewhere {_days(elsewhere)} ago"
            return text
        zeros = int(v["recent_zero_months"])
        if zeros >= 1:
            return (
                f"referrals in only {r - zeros} of the last {r} months "
                f"(usually {_months(v['usual_gap'])})"
            )
        return None
    if group == "decline":
        change = _change(v["recent_vs_baseline"])
        if change <= -0.1:
            fell = _fall(v["recent_referrals"], r, v["baseline_rate"])
            return (
                f"referrals from {src} to {tgt} fell {fell} in the last {r} months "
                f"against the {nb}-month average"
            )
        if v["slope"] <= -0.02:
            return f"a steady decline over the past {nb} months (about {_pct(-v['slope'])} a month)"
        return None
    if group == "seasonal":
        if v["yoy_available"] > 0 and not math.isnan(v["yoy_change"]):
            change = _change(v["yoy_change"])
            if change <= -0.1:
                return f"down {_pct(-change)} on the same {r} months last year: not a seasonal dip"
        return None
    if group == "share":
        before, now = v["share_baseline"], v["share_recent"]
        if math.isnan(now) or now >= before - 0.02:
            return None
        what = f"{src}'s {ctx.spec} referrals" if ctx.spec else f"{src}'s referrals"
        total = _change(v["referrer_trend"])
        if total >= 0.1:
            held = f"while {src}'s total rose {_pct(total)}"
        elif total > -0.1:
            held = f"while {src}'s total held"
        else:
            held = f"and {src}'s total fell {_pct(-total)}"
        text = f"share of {what} fell from {_pct(before)} to {_pct(now)} {held}"
        if ctx.gainer and v["competitor_gain"] > 0.05:
            text += f": referrals are moving to {ctx.gainer}"
        return text
    if group == "referrer":
        quiet = v["referrer_days_since_last"]
        if quiet >= _REFERRER_QUIET_DAYS:
            why = " (retired, moved or on leave?)" if quiet >= _REFERRER_GONE_DAYS else ""
            return f"{src} has referred no patient to anyone for {quiet:.0f} days{why}"
        silent = int(v["referrer_recent_zero_months"])
        if silent >= 1:
            return f"{src} referred no patient to anyone in {silent} of the last {r} months"
        last = _change(v["referrer_last_vs_baseline"])
        if last <= -0.25:
            return (
                f"{src}'s referrals to anyone last month were {_pct(-last)} below its "
                f"{nb}-month average"
            )
        change = _change(v["referrer_trend"])
        if change <= -0.1:
            fell = _fall(v["referrer_recent"], r, v["referrer_baseline"] / nb)
            return f"{src}'s referrals overall fell {fell} (declining everywhere)"
        if v["referrer_quiet_share"] >= 0.25:
            return (
                f"{src} has gone quiet on ties that carried {_pct(v['referrer_quiet_share'])} "
                f"of their referrals over {nb} months"
            )
        return None
    if group == "receiver":
        change = _change(v["receiver_trend"])
        if change <= -0.1:
            return f"{tgt}'s incoming referrals from all sources fell {_pct(-change)}"
        return None
    if group == "volatility":
        if v["volatility"] > ctx.ref.get("volatility", 0.0):
            return (
                f"an irregular tie: monthly referrals vary by {_pct(v['volatility'])} "
                "around their average"
            )
        return None
    if group == "volume":
        if v["log_baseline_rate"] < ctx.ref.get("log_baseline_rate", math.inf):
            return (
                f"a low-volume tie ({_count_text(v['baseline_referrals'])} referrals in "
                f"{nb} months), so a few quiet months tip it"
            )
        return None
    if group == "tenure":
        if v["log_tenure"] < ctx.ref.get("log_tenure", math.inf):
            return f"a young relationship (first referral {int(v['tenure'])} months ago)"
        return None
    if group == "reciprocity":
        if v["reciprocal_referrals"] <= 0:
            return f"{tgt} sends no referrals back to {src}"
        return None
    if group == "patients":
        ppr, typical = v["patients_per_referral"], ctx.ref.get("patients_per_referral", math.nan)
        if ppr > 0 and typical > 0 and abs(ppr / typical - 1) > 0.1:
            return (
                f"{1 / ppr:.1f} referrals per patient, against {1 / typical:.1f} for a typical tie"
            )
        return None
    if group == "wait":
        before, change = v["wait_days"], v["wait_change"]
        if math.isnan(before):
            return None
        if not math.isnan(change) and change >= 0.1:
            now = (before + 1) * math.exp(change) - 1
            return f"the wait at {tgt} rose from {before:.0f} to {now:.0f} days"
        if before > ctx.ref.get("wait_days", math.inf):
            return f"a long wait at {tgt} ({before:.0f} days on average)"
        return None
    return None  # pragma: no cover - every group is handled above


def _rule_reasons(v: Mapping[str, float], ctx: _Context) -> list[str]:
    """Rule-based reasons (the fallback when the model offers none)."""
    groups = []
    if v["days_since_last"] >= max(_OVERDUE_GAPS * v["usual_gap_days"], _OVERDUE_DAYS):
        groups.append("lapse")
    if v["trend_drop"] >= 0.5:
        groups.append("decline")
    groups += ["share", "referrer", "receiver", "lapse", "decline"]
    out: list[str] = []
    for group in groups:
        text = _reason_text(group, v, ctx)
        if text and text not in out:
            out.append(text)
    return out


def _explain(
    contributions: FloatArray | None, v: Mapping[str, float], ctx: _Context, *, most: int = 3
) -> str:
    """The top reasons of one tie, joined by semicolons."""
    texts: list[str] = []
    chosen: list[str] = []
    if contributions is not None:
        by_group = {
            group: float(sum(contributions[FEATURE_COLUMNS.index(c)] for c in cols))
            for group, cols in REASON_GROUPS.items()
        }
        for group, value in sorted(by_group.items(), key=lambda kv: -kv[1]):
            if value <= 0.05 or len(texts) == most:
                break
            text = _reason_text(group, v, ctx)
            if text:
                texts.append(text)
                chosen.append(group)
    # A falling or silent tie whose referrer now sends more to a competitor: say where the
    # referrals go (the share story explains the decline even when the model weighs it less).
    if {"decline", "lapse"} & set(chosen) and "share" not in chosen and ctx.gainer:
        share = _reason_text("share", v, ctx)
        if share and ctx.gainer in share:
            texts = [*texts[: most - 1], share]
    if not texts:
        texts = _rule_reasons(v, ctx)[:most]
    if not texts:
        texts = ["no single strong signal: the risk reflects the pattern of similar ties"]
    return "; ".join(texts)


def _gainers(ties: _TieMatrix, totals: _Totals, opts: _Options, idx: IntArray) -> list[str | None]:
    """For each tie, the receiver (or organisation) gaining most at its referrer."""
    nb, r = opts.baseline_months, opts.recent_months
    trips = ties.trip[idx]
    pairs = ties.pair[idx]
    candidates = np.flatnonzero(np.isin(ties.trip_pair, np.unique(pairs)))
    gain = totals.trip_recent[candidates] / r - totals.trip_base[candidates] / nb
    table = pd.DataFrame({"pair": ties.trip_pair[candidates], "trip": candidates, "gain": gain})
    table = table[table["gain"] > 0].sort_values(
        ["pair", "gain"], ascending=[True, False], kind="stable"
    )
    top = table.groupby("pair", sort=False).head(2)
    best: dict[int, list[int]] = {}
    for pair, trip in zip(top["pair"].to_numpy(), top["trip"].to_numpy(), strict=True):
        best.setdefault(int(pair), []).append(int(trip))
    chosen = np.full(len(idx), -1, dtype=np.intp)
    for i, (pair, own) in enumerate(zip(pairs.tolist(), trips.tolist(), strict=True)):
        options = [t for t in best.get(pair, []) if t != own]
        if options:
            chosen[i] = options[0]
    found = chosen >= 0
    labels = ties.trip_labels(chosen[found])
    out: list[str | None] = [None] * len(idx)
    for i, label in zip(np.flatnonzero(found).tolist(), labels.tolist(), strict=True):
        out[i] = str(label)
    return out
