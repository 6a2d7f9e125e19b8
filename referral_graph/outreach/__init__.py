"""Outreach impact: do referrers send more to the focus organisation after a visit?

The focus organisation's liaisons log their outreach (``date``, ``provider``,
``liaison``, ``kind``: visit, call, lunch, event, ...). :func:`outreach_effect`
estimates the relative change in a visited referrer's referrals to the focus
providers after its first visit, against comparable referrers that were not
(yet) visited, with a matched difference in differences on the monthly edge
panel. :func:`outreach_effect_by_kind` does it for each kind of activity, and
:func:`liaison_summary` describes each liaison's outreach (suppressed counts).

Design
------
Months are calendar months, numbered over the panel's span (a month without a
row has zero referrals). ``W`` is ``window_months`` (default 3).

* **Referrers**: the panel's sources other than the focus providers.
* **Treatment**: an activity whose ``kind`` is one of ``kinds`` (default
  ``("visit",)``; kinds are matched ignoring case and surrounding spaces;
  ``kinds=None`` counts every activity). Other kinds are ignored, except that
  (by default) they disqualify a control, see below.
* **Established referrers**: at a date ``v``, a referrer that sent at least
  one referral (to anyone) both in month ``v`` and in month ``v-W-1``, just
  before the pre window: it was practising throughout. New arrivals, whose
  referrals are still ramping up, are often visited soon after they arrive and
  would otherwise look like a visit effect.
* **Treated**: established referrers whose *first* treatment falls in month
  ``v``, with the month ``v-W-1``, the pre window ``v-W .. v-1`` and the post
  window ``v+1 .. v+W`` inside the data (first treatments too close to either
  edge are left out). The visit month itself is in neither window (the visit
  happens during it).
* **Controls**: at date ``v``, established referrers *not yet* treated by the
  end of the post window (no activity of ``kinds`` up to month ``v+W``; with
  ``clean_controls=True``, the default, no logged activity of any kind, so
  that calls or lunches do not contaminate the comparison). They may be
  visited later: "never visited" would condition on the future (referrers who
  stop practising early are visited less often, so never-visited controls
  over-represent them, and their decline after the pseudo date inflates the
  effect: about +3 points at a true effect of zero on a large synthetic
  market). Each treated referrer ``i`` is matched to the ``n_neighbors``
  (default 5) nearest controls, with replacement, *at its own date* ``v_i``
  (the controls' pseudo visit date is the treated's date, so calendar and
  seasonal effects cancel), of the same ``specialty`` when `providers` gives
  one (any specialty when fewer than ``n_neighbors`` are available), nearest
  on ``x = log(1 + baseline rate to the focus)`` (ties broken at random, seeded).
  The **baseline** is the months before the pre window plus the visit month,
  *not* the pre window itself: matching on the noisy pre-window counts selects
  controls whose pre window was high by chance and who then fall back
  (regression to the mean), which on the synthetic market biases the estimate
  by about +15 points at a true effect of zero.
* **Estimate** (``method="did"``), a ratio of ratios on summed counts::

      effect = (sum_i post_i / sum_i pre_i) / (sum_j post_j / sum_j pre_j) - 1

  over the treated ``i`` and the matched controls ``j`` (each match weighted
  ``1 / n_neighbors``), each at its own (pseudo) date. With two periods this
  is the maximum-likelihood estimate of a multiplicative (log-linear Poisson)
  difference in differences with referrer fixed effects: ``+0.25`` means 25 %
  more referrals to the focus in the ``W`` months after a first visit than the
  same referrers would have sent otherwise. A planted effect that lasts ``D``
  months after the visit month is measured in full when ``W <= D`` and diluted
  to about ``D / W`` of itself when ``W > D``.
* **Interval**: a 95 % percentile bootstrap over referrers (``n_boot`` resamples
  of the treated and of the control pool, seeded by ``seed``, the matching
  redone in each).
* **Pre-trend check**: the same estimate at the placebo date ``v - W - 1``
  (both windows before the visit): its value is ``pretrend``; a placebo
  interval that excludes 0 with ``|pretrend| >= 0.1`` means the groups were
  already diverging, and is reported in ``warning``.

Validation: on 16 synthetic markets
(:func:`referral_graph.synthetic.generate_market`, 1,500 providers, 30 months,
seeds 1-16) the estimate averaged +0.8 points (SD 4.4) at a planted effect of
0 and +30.8 % (SD 4.9) at a planted +30 %; all 32 intervals held the planted
value and all 16 at +30 % excluded 0.

Warnings (``OutreachEffect.warning``, also logged): fewer treated referrers
than ``min_treated``; a 95 % interval wider than ``max_ci_width`` (default 0.5,
i.e. 50 points); a pre-trend; more than a quarter of the treated matched
outside their specialty.

Counts in ``OutreachEffect.table`` are per referrer and not suppressed: use
:func:`referral_graph.privacy.suppress_frame` before showing or exporting
them. :func:`liaison_summary` suppresses its counts itself.

Examples
--------
>>> from referral_graph.synthetic import generate_market
>>> from referral_graph.io import read_events
>>> from referral_graph.aggregate import edge_panel
>>> market = generate_market(n_providers=300, n_months=24, seed=3, visit_effect=0.5)
>>> panel = edge_panel(read_events(market.events, npi=True))
>>> focus = market.providers.loc[market.providers["in_network"], "id"].tolist()
>>> effect = outreach_effect(panel, market.activities, focus, n_boot=200)
>>> effect.method, effect.n_treated >= 20
('did', True)
>>> bool(0 < effect.ci_low < 0.5 < effect.ci_high)
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from referral_graph._checks import check_float, check_focus_ids, check_frame, check_int
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.outreach._did import estimate_effect, windows
from referral_graph.outreach._inputs import check_kinds, prepare_activities, prepare_panel
from referral_graph.outreach._result import OutreachEffect
from referral_graph.privacy import DEFAULT_THRESHOLD, suppress

__all__ = [
    "OutreachEffect",
    "liaison_summary",
    "outreach_effect",
    "outreach_effect_by_kind",
]


def outreach_effect(
    panel: pd.DataFrame,
    activities: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    kinds: Sequence[str] | None = ("visit",),
    window_months: int = 3,
    method: Literal["did"] = "did",
    min_treated: int = 20,
    seed: int = 0,
    n_boot: int = 500,
    providers: pd.DataFrame | None = None,
    n_neighbors: int = 5,
    clean_controls: bool = True,
    max_ci_width: float = 0.5,
) -> OutreachEffect:
    """Estimate the change in referrals to the focus after outreach visits.

    A matched difference in differences; the design, the estimator and its
    caveats are in the module docstring (:mod:`referral_graph.outreach`).

    Parameters
    ----------
    panel : pandas.DataFrame
        The monthly edge panel (:func:`referral_graph.aggregate.edge_panel`).
    activities : pandas.DataFrame
        The outreach log: ``date``, ``provider`` and ``kind`` (``liaison`` is
        not needed here).
    focus_ids : iterable of str
        The focus organisation's provider ids.
    kinds : sequence of str or None, default ("visit",)
        Activity kinds that count as treatment; None for every kind.
    window_months : int, default 3
        ``W``: months before and after the visit month compared, in [1, 24].
    method : {"did"}
        The estimator (ratio of ratios on matched, summed counts).
    min_treated : int, default 20
        Fewer treated referrers than this gives a warning, in [1, 1,000,000].
    seed : int, default 0
        Seed of the bootstrap and of the tie-breaking in the matching.
    n_boot : int, default 500
        Bootstrap resamples, in [0, 100,000] (0: no interval).
    providers : pandas.DataFrame, optional
        With a ``specialty`` column, controls are matched within specialty.
    n_neighbors : int, default 5
        Controls matched to each treated referrer, in [1, 100].
    clean_controls : bool, default True
        Controls must have no logged activity of any kind (False: only none of
        `kinds`).
    max_ci_width : float, default 0.5
        A 95 % interval wider than this (in relative-change units) is flagged.

    Returns
    -------
    OutreachEffect
        ``estimate``, ``ci_low``, ``ci_high``, ``n_treated``, ``n_control``,
        ``method``, ``warning``, ``table``, ``pretrend``; ``to_frame()``.
        When nothing can be estimated (no treated referrer with full windows,
        or too few controls) the estimate is NaN and ``warning`` says why.

    Raises
    ------
    ParameterError
        If an argument is of the wrong type or out of range.
    SchemaError
        If a table lacks a required column or has unusable values.
    InsufficientDataError
        If none of `kinds` occurs in the activity log.

    Examples
    --------
    >>> import pandas as pd
    >>> months = pd.date_range("2024-01-01", periods=8, freq="MS")
    >>> rows = []
    >>> for i in range(12):
    ...     for j, month in enumerate(months):
    ...         lift = 2 if (i < 6 and j > 4) else 1  # referrers 0-5 visited in May
    ...         rows.append((f"R{i}", "F", month, 10 * lift))
    >>> panel = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> log = pd.DataFrame({"date": pd.Timestamp("2024-05-10"),
    ...                     "provider": [f"R{i}" for i in range(6)], "kind": "visit"})
    >>> effect = outreach_effect(panel, log, ["F"], n_boot=100, min_treated=5)
    >>> round(effect.estimate, 3), round(effect.ci_low, 3), round(effect.ci_high, 3)
    (1.0, 1.0, 1.0)
    >>> effect.n_treated, effect.n_control, effect.warning
    (6, 5, None)
    """
    func = "outreach_effect"
    ids = check_focus_ids(focus_ids, func)
    kind_keys = check_kinds(kinds, func)
    width = check_int(window_months, "window_months", func, low=1, high=24)
    if method != "did":
        raise ParameterError(
            f"The 'method' parameter of {func} must be one of 'did'. Got {method!r} instead."
        )
    min_t = check_int(min_treated, "min_treated", func, low=1, high=1_000_000)
    seed = check_int(seed, "seed", func, low=0, high=2**63 - 1)
    boot = check_int(n_boot, "n_boot", func, low=0, high=100_000)
    k = check_int(n_neighbors, "n_neighbors", func, low=1, high=100)
    if not isinstance(clean_controls, bool):
        raise ParameterError(
            f"The 'clean_controls' parameter of {func} must be a bool. "
            f"Got {clean_controls!r} instead."
        )
    ci_width = check_float(max_ci_width, "max_ci_width", func, low=0, low_open=True)
    if providers is not None:
        check_frame(providers, "providers", func, ["id"], "read it with io.read_providers.")
    data = prepare_panel(panel, ids, providers, func)
    acts = prepare_activities(activities, func, need_kind=kind_keys is not None)
    if kind_keys is not None and not acts["kind"].isin(kind_keys).any():
        present = ", ".join(sorted(acts["kind"].dropna().unique())[:10]) or "none"
        raise InsufficientDataError(
            f"{func}: no activity of kind {', '.join(kind_keys)} in the log (kinds present: "
            f"{present})."
        )
    return estimate_effect(
        data,
        acts,
        kind_keys,
        width=width,
        n_neighbors=k,
        n_boot=boot,
        seed=seed,
        min_treated=min_t,
        clean_controls=clean_controls,
        exclusive=False,
        max_ci_width=ci_width,
        func=func,
    )


def outreach_effect_by_kind(
    panel: pd.DataFrame,
    activities: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    kinds: Sequence[str] | None = None,
    window_months: int = 3,
    min_treated: int = 20,
    seed: int = 0,
    n_boot: int = 500,
    providers: pd.DataFrame | None = None,
    n_neighbors: int = 5,
    max_ci_width: float = 0.5,
) -> pd.DataFrame:
    """Estimate the effect of each kind of outreach separately.

    Each kind is estimated as :func:`outreach_effect` with ``kinds=(kind,)``,
    with two changes so that each row is the effect of that kind alone: the
    controls have no logged activity of any kind, and treated referrers with
    an activity of another kind from ``2 W`` months before to ``W`` months
    after their first activity of this kind are left out.

    Parameters
    ----------
    panel, activities, focus_ids
        As in :func:`outreach_effect`.
    kinds : sequence of str, optional
        The kinds to estimate; by default every kind in the log, most
        frequent first.
    window_months, min_treated, seed, n_boot, providers, n_neighbors, max_ci_width
        As in :func:`outreach_effect`.

    Returns
    -------
    pandas.DataFrame
        One row per kind: the columns of :meth:`OutreachEffect.to_frame`
        (``kinds`` holds the kind). A kind that cannot be estimated has NaN
        figures and a ``warning``.

    Examples
    --------
    >>> import pandas as pd
    >>> months = pd.date_range("2024-01-01", periods=8, freq="MS")
    >>> panel = pd.DataFrame([(f"R{i}", "F", m, 10 * (2 if i < 3 and j > 4 else 1))
    ...                       for i in range(12) for j, m in enumerate(months)],
    ...                      columns=["source", "target", "month", "referrals"])
    >>> log = pd.DataFrame({"date": pd.Timestamp("2024-05-10"),
    ...                     "provider": ["R0", "R1", "R2", "R3", "R4", "R5"],
    ...                     "kind": ["visit"] * 3 + ["call"] * 3})
    >>> table = outreach_effect_by_kind(panel, log, ["F"], n_boot=50, min_treated=3)
    >>> table[["kinds", "estimate", "n_treated"]].values.tolist()
    [['call', 0.0, 3], ['visit', 1.0, 3]]
    """
    func = "outreach_effect_by_kind"
    ids = check_focus_ids(focus_ids, func)
    width = check_int(window_months, "window_months", func, low=1, high=24)
    min_t = check_int(min_treated, "min_treated", func, low=1, high=1_000_000)
    seed = check_int(seed, "seed", func, low=0, high=2**63 - 1)
    boot = check_int(n_boot, "n_boot", func, low=0, high=100_000)
    k = check_int(n_neighbors, "n_neighbors", func, low=1, high=100)
    ci_width = check_float(max_ci_width, "max_ci_width", func, low=0, low_open=True)
    if providers is not None:
        check_frame(providers, "providers", func, ["id"], "read it with io.read_providers.")
    data = prepare_panel(panel, ids, providers, func)
    acts = prepare_activities(activities, func, need_kind=True)
    wanted = check_kinds(kinds, func)
    if wanted is None:
        counts = acts["kind"].value_counts()
        wanted = tuple(sorted(counts.index, key=lambda key: (-int(counts[key]), key)))
    frames = []
    for kind in wanted:
        effect = estimate_effect(
            data,
            acts,
            (kind,),
            width=width,
            n_neighbors=k,
            n_boot=boot,
            seed=seed,
            min_treated=min_t,
            clean_controls=True,
            exclusive=True,
            max_ci_width=ci_width,
            func=func,
        )
        frames.append(effect.to_frame())
    if not frames:
        return (
            OutreachEffect(math.nan, math.nan, math.nan, 0, 0, "did", None, pd.DataFrame())
            .to_frame()
            .iloc[0:0]
        )
    return pd.concat(frames, ignore_index=True)


def liaison_summary(
    activities: pd.DataFrame,
    panel: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    kinds: Sequence[str] | None = ("visit",),
    window_months: int = 3,
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Summarise each liaison's outreach and the referrals around it.

    For each liaison: the activities of `kinds` logged, the referrers
    visited, and, over the visited referrers whose first visit by that
    liaison has full windows in the data, their referrals to the focus in the
    ``window_months`` months before and after that visit month. This is a
    description, not an effect: there is no comparison group (see
    :func:`outreach_effect`). Counts from 1 to ``threshold - 1`` are
    suppressed (missing; :func:`referral_graph.privacy.suppress`), and so is
    ``change`` when either of its counts is.

    Parameters
    ----------
    activities : pandas.DataFrame
        The outreach log: ``date``, ``provider``, ``liaison`` and ``kind``
        (not needed with ``kinds=None``).
    panel : pandas.DataFrame
        The monthly edge panel.
    focus_ids : iterable of str
        The focus organisation's provider ids.
    kinds : sequence of str or None, default ("visit",)
        Activity kinds to count; None for every kind.
    window_months : int, default 3
        Months before and after the visit month, in [1, 24].
    threshold : int, default 11
        Smallest count shown (1 disables suppression).

    Returns
    -------
    pandas.DataFrame
        One row per liaison (sorted by name): ``liaison``, ``activities``,
        ``referrers_visited``, ``referrers_with_windows``,
        ``referrals_before``, ``referrals_after`` (nullable ``Int64``,
        suppressed) and ``change`` (after / before - 1, ``Float64``).

    Examples
    --------
    >>> import pandas as pd
    >>> months = pd.date_range("2024-01-01", periods=7, freq="MS")
    >>> panel = pd.DataFrame([(f"R{i}", "F", m, 5 + (j > 3)) for i in range(4)
    ...                       for j, m in enumerate(months)],
    ...                      columns=["source", "target", "month", "referrals"])
    >>> log = pd.DataFrame({"date": pd.to_datetime(["2024-04-02"] * 4),
    ...                     "provider": ["R0", "R1", "R2", "R3"],
    ...                     "liaison": ["Ann", "Ann", "Ann", "Bo"], "kind": "visit"})
    >>> summary = liaison_summary(log, panel, ["F"], threshold=11)
    >>> summary[["liaison", "referrals_before", "referrals_after"]].values.tolist()
    [['Ann', 45, 54], ['Bo', 15, 18]]
    >>> summary["referrers_visited"].tolist(), [round(float(c), 3) for c in summary["change"]]
    ([<NA>, <NA>], [0.2, 0.2])
    """
    func = "liaison_summary"
    ids = check_focus_ids(focus_ids, func)
    kind_keys = check_kinds(kinds, func)
    width = check_int(window_months, "window_months", func, low=1, high=24)
    limit = check_int(threshold, "threshold", func, low=1, high=1_000_000)
    check_frame(activities, "activities", func, ["liaison"], "the outreach log needs a liaison.")
    data = prepare_panel(panel, ids, None, func)
    acts = prepare_activities(activities, func, need_kind=kind_keys is not None)
    if kind_keys is not None:
        acts = acts.loc[acts["kind"].isin(kind_keys)]
    n_months = data.to_focus.shape[1]
    first = acts.groupby(["liaison", "provider"], sort=True)["m"].min().reset_index()
    rows = data.referrers.get_indexer(pd.Index(first["provider"]))
    dates = first["m"].to_numpy(dtype=np.int64) - data.first_month
    ok = (rows >= 0) & (dates - width >= 0) & (dates + width <= n_months - 1)
    before = np.zeros(len(first))
    after = np.zeros(len(first))
    if ok.any():
        pre, post, _ = windows(data, rows[ok].astype(np.int64), dates[ok], width)
        before[ok], after[ok] = pre, post
    first = first.assign(ok=ok, before=before, after=after)
    summary = pd.DataFrame(
        {
            "activities": acts.groupby("liaison").size(),
            "referrers_visited": first.groupby("liaison")["provider"].nunique(),
            "referrers_with_windows": first.groupby("liaison")["ok"].sum(),
            "referrals_before": first.groupby("liaison")["before"].sum(),
            "referrals_after": first.groupby("liaison")["after"].sum(),
        }
    ).fillna(0)
    summary.index.name = "liaison"
    summary = summary.reset_index()
    summary["liaison"] = summary["liaison"].astype("str")
    raw_before = summary["referrals_before"].to_numpy(dtype=np.float64)
    raw_after = summary["referrals_after"].to_numpy(dtype=np.float64)
    for column in (
        "activities",
        "referrers_visited",
        "referrers_with_windows",
        "referrals_before",
        "referrals_after",
    ):
        summary[column] = suppress(summary[column].round().astype("int64"), threshold=limit)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(raw_before > 0, raw_after / raw_before - 1.0, np.nan)
    hidden = summary["referrals_before"].isna() | summary["referrals_after"].isna()
    summary["change"] = pd.Series(change, dtype="Float64").mask(hidden.to_numpy())
    return summary.sort_values("liaison", kind="stable", ignore_index=True)
