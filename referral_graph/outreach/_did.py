"""The matched difference in differences behind the outreach estimates (private).

:func:`_design` picks the treated referrers (first treatment month, with
full windows, established) and the control pool (not yet treated); :func:`_fit`
matches each treated referrer to its nearest controls at its own date and
computes the ratio of ratios with its bootstrap replicates;
:func:`estimate_effect` runs both, the placebo (pre-trend) estimate and the
warnings, into an :class:`~referral_graph.outreach.OutreachEffect`. The
method and its caveats are in the docstring of :mod:`referral_graph.outreach`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from referral_graph.outreach._inputs import BoolArray, Data, FloatArray, IntArray
from referral_graph.outreach._result import OutreachEffect

# the public module's logger: its records keep the name users configure
logger = logging.getLogger("referral_graph.outreach")


#: Treated referrers matched per bootstrap block (bounds the memory used).
_BLOCK = 64
#: Placebo estimates this far from 0 (with an interval excluding 0) are flagged.
_PRETREND_LIMIT = 0.1
_TOO_FEW = "too few visited referrers for a reliable estimate"


@dataclass
class _Design:
    treated: IntArray  # referrer index
    dates: IntArray  # column index of the (first) visit month
    controls: IntArray  # referrer index of the control pool
    touch: IntArray  # per control: first month (column) of a disqualifying activity


@dataclass
class _Fit:
    estimates: FloatArray  # [0] the point estimate, [1:] bootstrap replicates
    n_treated: int
    n_control: int
    off_group: int
    table: pd.DataFrame


def windows(data: Data, rows: IntArray, dates: IntArray, width: int) -> tuple[FloatArray, ...]:
    cum = data.cum
    pre = cum[rows, dates] - cum[rows, dates - width]
    post = cum[rows, dates + width + 1] - cum[rows, dates + 1]
    base = (cum[rows, dates - width] + data.to_focus[rows, dates]) / (dates - width + 1)
    return pre, post, np.log1p(base)


def _fit(
    data: Data,
    design: _Design,
    *,
    width: int,
    n_neighbors: int,
    n_boot: int,
    seed: int,
    func: str,
) -> _Fit:
    """Matched ratio-of-ratios estimate and its bootstrap replicates."""
    rng = np.random.default_rng(seed)
    tr, dates, pool_all = design.treated, design.dates, design.controls
    n_t, n_c = len(tr), len(pool_all)
    pre_t, post_t, base_t = windows(data, tr, dates, width)
    a = np.ones((n_boot + 1, n_t))
    b = np.ones((n_boot + 1, n_c))
    if n_boot:
        a[1:] = rng.multinomial(n_t, np.full(n_t, 1.0 / n_t), size=n_boot)
        b[1:] = rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=n_boot)
    jitter = rng.random(n_c)  # breaks distance ties reproducibly
    num = np.zeros(n_boot + 1)
    den = np.zeros(n_boot + 1)
    depth = max(10 * n_neighbors, 50)
    off_group = 0
    matched = np.zeros(n_c)
    rows_table: list[pd.DataFrame] = []
    keep_t = np.ones(n_t, dtype=bool)
    for v in np.unique(dates):
        eligible = (
            data.active[pool_all, v]
            & data.active[pool_all, v - width - 1]
            & (design.touch > v + width)
        )
        pool_v = np.flatnonzero(eligible)
        if not len(pool_v):
            keep_t[dates == v] = False
            continue
        pre_c, post_c, base_c = windows(
            data, pool_all[pool_v], np.full(len(pool_v), v, dtype=np.int64), width
        )
        group_c = data.group[pool_all[pool_v]]
        for g in np.unique(data.group[tr[dates == v]]):
            members = np.flatnonzero((dates == v) & (data.group[tr] == g))
            same = np.flatnonzero(group_c == g)
            if len(same) < n_neighbors:
                same = np.arange(len(pool_v))
                off_group += len(members) if g != 0 else 0
            dist = np.abs(base_t[members][:, None] - base_c[same][None, :])
            order = np.lexsort((np.broadcast_to(jitter[pool_v[same]], dist.shape), dist), axis=1)
            order = order[:, : min(depth, len(same))]
            chosen = same[order]  # (members, depth) index into pool_v
            first_k = chosen[:, :n_neighbors]
            np.add.at(matched, pool_v[first_k].ravel(), 1.0 / n_neighbors)
            rows_table.append(
                pd.DataFrame(
                    {
                        "c": pool_v[first_k].ravel(),
                        "date": v,
                        "pre": pre_c[first_k].ravel(),
                        "post": post_c[first_k].ravel(),
                        "base": base_c[first_k].ravel(),
                    }
                )
            )
            for start in range(0, len(members), _BLOCK):
                block = members[start : start + _BLOCK]
                idx = chosen[start : start + _BLOCK]
                copies = b[:, pool_v[idx]]  # (boot, block, depth)
                cum = np.cumsum(copies, axis=2)
                take = np.clip(n_neighbors - (cum - copies), 0.0, copies)
                taken = take.sum(axis=2)
                taken[taken == 0] = np.nan
                s_post = (take * post_c[idx][None]).sum(axis=2) / taken
                s_pre = (take * pre_c[idx][None]).sum(axis=2) / taken
                weight = a[:, block]
                num += np.nansum(weight * s_post, axis=1)
                den += np.nansum(weight * s_pre, axis=1)
    a_kept = a[:, keep_t]
    t_post = a_kept @ post_t[keep_t]
    t_pre = a_kept @ pre_t[keep_t]
    with np.errstate(divide="ignore", invalid="ignore"):
        estimates = (t_post / t_pre) / (num / den) - 1.0
    estimates[~np.isfinite(estimates)] = np.nan
    n_kept = int(keep_t.sum())
    if n_kept < n_t:
        logger.info(
            "%s: %d treated referrer(s) without an active control at their date left out",
            func,
            n_t - n_kept,
        )
    table = _effect_table(data, design, keep_t, pre_t, post_t, base_t, rows_table, n_neighbors)
    return _Fit(
        estimates=estimates,
        n_treated=n_kept,
        n_control=int((matched > 0).sum()),
        off_group=off_group,
        table=table,
    )


def _effect_table(
    data: Data,
    design: _Design,
    keep_t: BoolArray,
    pre_t: FloatArray,
    post_t: FloatArray,
    base_t: FloatArray,
    rows_table: list[pd.DataFrame],
    n_neighbors: int,
) -> pd.DataFrame:
    def month(col: IntArray) -> pd.Series:
        numbers = col + data.first_month
        return pd.to_datetime(
            pd.DataFrame({"year": numbers // 12, "month": numbers % 12 + 1, "day": 1})
        ).astype("datetime64[ns]")

    treated = pd.DataFrame(
        {
            "provider": data.referrers[design.treated[keep_t]].to_numpy(),
            "group": "treated",
            "month": month(design.dates[keep_t]).to_numpy(),
            "baseline_rate": np.expm1(base_t[keep_t]),
            "pre_referrals": pre_t[keep_t],
            "post_referrals": post_t[keep_t],
            "weight": 1.0,
        }
    )
    parts = [treated]
    if rows_table:
        matches = pd.concat(rows_table, ignore_index=True)
        grouped = (
            matches.groupby(["c", "date"], sort=True)
            .agg(
                pre=("pre", "first"),
                post=("post", "first"),
                base=("base", "first"),
                n=("pre", "size"),
            )
            .reset_index()
        )
        parts.append(
            pd.DataFrame(
                {
                    "provider": data.referrers[design.controls[grouped["c"].to_numpy()]].to_numpy(),
                    "group": "control",
                    "month": month(grouped["date"].to_numpy(dtype=np.int64)).to_numpy(),
                    "baseline_rate": np.expm1(grouped["base"].to_numpy()),
                    "pre_referrals": grouped["pre"].to_numpy(),
                    "post_referrals": grouped["post"].to_numpy(),
                    "weight": grouped["n"].to_numpy() / n_neighbors,
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table["provider"] = table["provider"].astype("str")
    table["group"] = table["group"].astype("str")
    for column in ("pre_referrals", "post_referrals"):
        table[column] = np.rint(table[column]).astype("int64")
    return table


def _design(
    data: Data,
    acts: pd.DataFrame,
    kinds: tuple[str, ...] | None,
    *,
    width: int,
    clean_controls: bool,
    exclusive: bool,
    shift: int,
    func: str,
) -> tuple[_Design, dict[str, int]]:
    """Treated referrers (first treatment month) and the control pool."""
    n_months = data.to_focus.shape[1]
    treat = acts if kinds is None else acts.loc[acts["kind"].isin(kinds)]
    first = treat.groupby("provider")["m"].min()
    first = first[first.index.isin(data.referrers)]
    rows = data.referrers.get_indexer(first.index).astype(np.int64)
    dates = first.to_numpy(dtype=np.int64) - data.first_month
    counts = {"first_visits": len(rows)}
    if exclusive and kinds is not None:
        # leave out treated referrers with another kind of activity near the visit
        others = acts.loc[~acts["kind"].isin(kinds) & acts["provider"].isin(first.index)]
        start = first.reindex(others["provider"]).to_numpy() - 2 * width
        stop = first.reindex(others["provider"]).to_numpy() + width
        near = others.loc[(others["m"].to_numpy() >= start) & (others["m"].to_numpy() <= stop)]
        mixed = first.index.isin(near["provider"])
        counts["mixed"] = int(mixed.sum())
        rows, dates = rows[~mixed], dates[~mixed]
    dates = dates - shift
    inside = (dates - width - 1 >= 0) & (dates + width <= n_months - 1)
    counts["edge"] = int((~inside).sum())
    rows, dates = rows[inside], dates[inside]
    active = data.active[rows, dates] & data.active[rows, np.maximum(dates - width - 1, 0)]
    counts["inactive"] = int((~active).sum())
    rows, dates = rows[active], dates[active]
    # controls are not yet touched at the end of the post window (see referral_graph.outreach)
    touching = acts if clean_controls else treat
    first_touch = touching.groupby("provider")["m"].min() - data.first_month
    never = 10**9  # never touched
    touch = first_touch.reindex(data.referrers).fillna(never).to_numpy(dtype=np.int64)
    controls = np.flatnonzero(touch > (dates.min() + width if len(dates) else -1)).astype(np.int64)
    return _Design(treated=rows, dates=dates, controls=controls, touch=touch[controls]), counts


def _interval(estimates: FloatArray) -> tuple[float, float]:
    reps = estimates[1:]
    reps = reps[np.isfinite(reps)]
    if len(reps) < 10:
        return math.nan, math.nan
    low, high = np.percentile(reps, [2.5, 97.5])
    return float(low), float(high)


def estimate_effect(
    data: Data,
    acts: pd.DataFrame,
    kinds: tuple[str, ...] | None,
    *,
    width: int,
    n_neighbors: int,
    n_boot: int,
    seed: int,
    min_treated: int,
    clean_controls: bool,
    exclusive: bool,
    max_ci_width: float,
    func: str,
) -> OutreachEffect:
    design, counts = _design(
        data,
        acts,
        kinds,
        width=width,
        clean_controls=clean_controls,
        exclusive=exclusive,
        shift=0,
        func=func,
    )
    kinds_out = kinds or ()
    logger.info(
        "%s: %d referrer(s) with a first %s; %d too close to the data edges, %d not "
        "established%s; %d possible controls",
        func,
        counts["first_visits"],
        " / ".join(kinds_out) or "activity",
        counts["edge"],
        counts["inactive"],
        f", {counts['mixed']} with other outreach nearby" if "mixed" in counts else "",
        len(design.controls),
    )
    empty = pd.DataFrame(
        {
            "provider": pd.Series([], dtype="str"),
            "group": pd.Series([], dtype="str"),
            "month": pd.Series([], dtype="datetime64[ns]"),
            "baseline_rate": pd.Series([], dtype="float64"),
            "pre_referrals": pd.Series([], dtype="int64"),
            "post_referrals": pd.Series([], dtype="int64"),
            "weight": pd.Series([], dtype="float64"),
        }
    )
    if not len(design.treated) or len(design.controls) < n_neighbors:
        reason = (
            "no visited referrer with full pre and post windows"
            if not len(design.treated)
            else f"fewer than {n_neighbors} not-yet-visited referrers to compare with"
        )
        logger.warning("%s: %s", func, reason)
        return OutreachEffect(
            math.nan,
            math.nan,
            math.nan,
            len(design.treated),
            len(design.controls),
            "did",
            f"{_TOO_FEW}: {reason}",
            empty,
            kinds_out,
            width,
        )
    fit = _fit(
        data, design, width=width, n_neighbors=n_neighbors, n_boot=n_boot, seed=seed, func=func
    )
    estimate = float(fit.estimates[0])
    low, high = _interval(fit.estimates)
    warnings: list[str] = []
    if fit.n_treated < min_treated:
        warnings.append(f"{_TOO_FEW} ({fit.n_treated} < min_treated={min_treated})")
    if math.isfinite(low) and high - low > max_ci_width:
        warnings.append(
            f"the 95% interval is wide ({low:+.0%} to {high:+.0%}, wider than {max_ci_width:.0%})"
        )
    if not math.isfinite(estimate):
        warnings.append("the visited referrers sent no referral to the focus before their visit")
    if fit.off_group > 0.25 * max(fit.n_treated, 1):
        warnings.append(
            f"{fit.off_group} of {fit.n_treated} visited referrers were matched outside their "
            "specialty (too few controls in it)"
        )
    placebo, placebo_ci = _placebo(
        data,
        acts,
        kinds,
        width=width,
        n_neighbors=n_neighbors,
        n_boot=n_boot,
        seed=seed,
        clean_controls=clean_controls,
        exclusive=exclusive,
        func=func,
    )
    if (
        placebo is not None
        and abs(placebo) >= _PRETREND_LIMIT
        and (placebo_ci[0] > 0 or placebo_ci[1] < 0)
    ):
        warnings.append(
            f"pre-trends differ: the placebo estimate before the visits is {placebo:+.0%} "
            f"({placebo_ci[0]:+.0%} to {placebo_ci[1]:+.0%})"
        )
    warning = "; ".join(warnings) or None
    if warning:
        logger.warning("%s: %s", func, warning)
    return OutreachEffect(
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        n_treated=fit.n_treated,
        n_control=fit.n_control,
        method="did",
        warning=warning,
        table=fit.table,
        kinds=kinds_out,
        window_months=width,
        pretrend=placebo,
        pretrend_ci=placebo_ci,
    )


def _placebo(
    data: Data,
    acts: pd.DataFrame,
    kinds: tuple[str, ...] | None,
    *,
    width: int,
    n_neighbors: int,
    n_boot: int,
    seed: int,
    clean_controls: bool,
    exclusive: bool,
    func: str,
) -> tuple[float | None, tuple[float, float]]:
    design, _ = _design(
        data,
        acts,
        kinds,
        width=width,
        clean_controls=clean_controls,
        exclusive=exclusive,
        shift=width + 1,
        func=func,
    )
    if not len(design.treated) or len(design.controls) < n_neighbors:
        return None, (math.nan, math.nan)
    fit = _fit(
        data, design, width=width, n_neighbors=n_neighbors, n_boot=n_boot, seed=seed, func=func
    )
    value = float(fit.estimates[0])
    return (value if math.isfinite(value) else None), _interval(fit.estimates)
