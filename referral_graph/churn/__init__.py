"""At-risk ties: a churn model for referral relationships.

A *tie* is a directed referral relationship ``source -> target``. This module
predicts which active ties will *churn* (lose most of their volume) in the
next few months, tests that prediction honestly against simple rules, and
turns it into a ranked work list with reasons in plain words.

Everything works on the monthly **edge panel** (one row per source, target
and month with ``referrals``; see :func:`referral_graph.aggregate.edge_panel`).
Other layouts are accepted too: the columns are found by name (for example
``from_npi`` / ``to_npi`` / ``transaction_count`` / ``period``) or mapped with
``columns={"referrals": "my_count", ...}``; a table without a count column is
read as events (each row one referral).

Definitions
-----------
Months are calendar months; a *cutoff* ``c`` is the first day of a month and
separates the past (months before ``c``) from the future (``c`` and after).
The data run from the panel's first month to its last month; a month inside
that span with no row has zero referrals.

* **Baseline window**: the ``baseline_months`` (default 12) months
  ``c-12 .. c-1``. A cutoff needs the whole baseline window inside the data.
* **Active tie**: a tie with at least ``min_referrals`` (default 6) referrals
  in the baseline window. Only active ties get features, labels and scores.
* **Baseline rate**: baseline referrals / ``baseline_months`` (per month).
* **Horizon**: the ``horizon`` (default 3) months ``c .. c+2``.
* **Churn**: an active tie *churns* at ``c`` when its referrals in the
  horizon are below ``churn_fraction`` (default 0.25) x baseline rate x
  horizon. For example, a tie with 24 baseline referrals (2 a month) churns
  when it has at most 1 referral in the next 3 months (1 < 0.25 x 2 x 3 = 1.5).
* **Labelled cutoff**: a cutoff whose horizon lies inside the data (its last
  horizon month is at most the panel's last month). A cutoff whose horizon
  runs past the end of the data has features but no labels.
* **No leakage**: the features of a cutoff are computed from the months
  before it only; they are identical whether or not rows on or after the
  cutoff (of this tie or of any other) are present (tested).

Features
--------
:func:`churn_features` returns one row per (source, target, cutoff) for the
active ties. ``recent`` means the last ``recent_months`` (3) months before the
cutoff, ``prior`` the other 9 months of the baseline window. Ratios of
volumes are logs of smoothed monthly rates, ``log((a + 0.5) / (b + 0.5))``,
clipped to [-4, 4], so that zeros, tiny ties and huge referrers stay on one
scale. Model features (:data:`FEATURE_COLUMNS`):

``log_baseline_rate``
    log of the baseline rate (volume).
``recent_vs_baseline``
    smoothed log ratio of the recent rate to the baseline rate.
``recent_zero_months``
    months without referrals among the recent months.
``slope``
    least-squares slope of the monthly counts over the baseline window,
    divided by their mean (relative change per month), clipped to [-1, 1].
``yoy_change``, ``yoy_available``
    seasonality-adjusted trend: smoothed log ratio of the recent months to the
    same months a year earlier; missing (and ``yoy_available`` 0) when the data
    do not reach back that far.
``days_since_last``
    days from the tie's last referral to the cutoff: exact with the panel's
    ``last_day`` (every engine writes it; dated event rows give it too); a
    panel of month starts (an edge file with a period column) counts
    referrals as made mid-month.
``days_vs_gap``
    log of ``days_since_last`` / the usual gap in days, the mean distance
    between consecutive referrals over the last ``2 * baseline_months``
    months, ``(last date - first date) / (referrals - 1)`` (the window's
    length for a single referral; at least one day). Clipped to [-4, 4].
``volatility``
    coefficient of variation of the baseline monthly counts (0 to 4).
``log_tenure``
    log(1 + months since the tie's first referral in the data before the
    cutoff), tenure capped at ``2 * baseline_months`` (the data are censored
    on the left).
``referrer_trend``
    the source's total volume (all its ties): recent vs baseline log ratio.
``log_referrer_days_since_last``
    log(1 + days since the source's last referral to anyone), over the same
    window as the usual gap: a referrer who retired, moved or is on leave
    falls silent everywhere at once.
``tie_vs_referrer_quiet``
    log(1 + ``days_since_last``) - log(1 + the source's days since its last
    referral to anyone), clipped to [-4, 4]: large when the referrer still
    refers, only not along this tie.
``referrer_quiet_share``
    the share of the source's baseline referrals on ties without a referral
    in the recent months.
``referrer_last_vs_baseline``
    the source's referrals to anyone in the last month before the cutoff
    against its baseline monthly rate (smoothed log ratio): a referrer who
    falls silent or retires shows there first.
``referrer_recent_zero_months``
    the recent months in which the source sent no referral to anyone.
``share_baseline``, ``share_change``
    the tie's share of the source's referrals (within the target's
    ``specialty`` when ``providers`` give one) in the baseline window, and the
    change of that share in the recent months (shrunk towards the baseline
    share by one referral, so a quiet referrer has a change near 0).
``competitor_gain``
    the source's referrals to the *other* receivers of the same market (other
    targets; other organisations when ``providers`` give ``organization``):
    recent vs baseline log ratio. Together with ``referrer_trend`` it tells a
    referrer who declines everywhere from one whose referrals move elsewhere.
``receiver_trend``
    the target's total incoming volume: recent vs baseline log ratio.
``reciprocity``
    log(1 + referrals target -> source in the baseline window).
``patients_per_referral``
    baseline patients / baseline referrals (missing without ``patients``).
``wait_days``, ``wait_change``
    the referral-weighted mean of a wait column (``average_day_wait``,
    ``wait_days``) in the baseline window, and the log ratio of the recent
    to the baseline wait (missing when the data have no wait).
``lapse_surprise``
    the referrals the tie would have sent, at its monthly rate before the
    lapse, in the part of its current silence beyond one usual gap
    (``-log P(silence)`` for a Poisson count), capped at 25: a two-month
    silence is nothing for a tie with one referral every other month and
    alarming for one with ten a month.
``drop_surprise``
    -log P(N <= recent referrals) for N ~ Poisson(prior rate x recent months),
    clipped to [0, 25]: how unusual the recent volume is given the 9 months
    before.
``poisson_churn_logit``
    the logit of the probability that the tie falls below the churn threshold
    by chance alone if it kept referring at the average of its recent and
    baseline rates (a Poisson model): what a quiet month means depends on
    volume, and this puts that on one scale.

Descriptive columns (not used by the model) are also returned:
``baseline_referrals``, ``recent_referrals``, ``baseline_rate``,
``months_since_last`` (complete months without a referral just before the
cutoff), ``usual_gap`` (the median distance in months between active months),
``lapse_vs_gap`` (``log((months_since_last + 1) / usual_gap)``),
``usual_gap_days``, ``tenure``, ``trend_drop`` (1 - recent rate / prior rate),
``share_recent`` (unsmoothed), ``referrer_baseline``, ``referrer_recent``,
``referrer_days_since_last``, ``reciprocal_referrals`` and ``baseline_amount``
(when the panel has ``amount``).

Model, backtest and at-risk list
--------------------------------
:class:`ChurnModel` is a scikit-learn classifier in three families
(:data:`FAMILIES`): mean imputation, standardisation and L2 logistic
regression whose probabilities are calibrated by cross-validation (Platt
scaling by default: it is strictly monotone, so the ranking of the ties is
kept); gradient-boosted trees; or their ensemble (the mean of the two
probabilities). :func:`fit_churn_model` fits it on several labelled cutoffs
("slices") at once, on at most ``max_train_samples`` rows drawn at random,
the rows of older cutoffs weighing less (``recency_half_life``, 12 months:
dynamics drift over the years). :func:`backtest`
evaluates it by rolling origin: for each test cutoff ``t`` the model is
trained only on the labelled cutoffs ``c`` with ``c + horizon <= t`` (their
horizon ended before ``t``, so every training label was observable at ``t``)
and is compared on the ties active at ``t`` with four rules. On a short
history, where fewer than two training cutoffs have the full baseline (15
months with a 9-month baseline leave one), the latest earlier cutoffs are
added, up to four in all, each with every month before it (at least 6) as its
baseline and the activity threshold scaled to that length; the cutoff scored
keeps its own definitions. A test cutoff needs one training cutoff before it,
so on 15 months the cutoffs 9 to 12 months in are all tested. The rules:

* ``days_since_last``: the days since the tie's last referral;
* ``days_vs_gap``: those days divided by the tie's usual gap in days;
* ``volume_drop``: ``-recent_vs_baseline``, the fall of the recent rate
  against the baseline rate;
* ``share_drop``: baseline share - recent share of the source's referrals
  (0 recent share when the source sent nothing recently).

Each is a continuous score a liaison could sort the ties by by hand: the
strongest simple work lists. :func:`rule_margins` names the best rule on each
measure and the model's margin over it. The backtest also scores a ``blend``:
the mean of the percentile ranks of the model's score and of the rule that
ranked the training cutoffs best. :func:`choose_ranking` reads the backtest at
its smallest k and returns what should order the at-risk list (the model, the
blend, or the best rule when the model does not beat it at the top), which
:func:`at_risk` takes as ``ranking=``. With ``model="auto"`` (its default) the
backtest scores the three families from one fit per cutoff, its ``model`` row
being the family chosen before each cutoff from the earlier ones; and
:func:`choose_family` names the family :func:`at_risk` should fit
(``family=``).

Metrics per test cutoff, then averaged: ROC-AUC, PR-AUC (average precision),
precision@k and recall@k (share of the churned ties found in the top k),
top-decile lift (precision in the top 10 % / churn rate) and the Brier score.
The rules have no probabilities, so their Brier score is reported as missing.
Ties in a score are broken at random in expectation: precision@k counts the
tied ties at the k-th place by their average.

:func:`at_risk` scores the ties active at a cutoff (by default the month after
the data's last month), weighs the risk by the volume at stake (``at_stake``
= baseline rate x horizon, the referrals expected without churn;
``expected_loss`` = risk x at stake) and explains each flagged tie in words.
The features are grouped into themes (:data:`REASON_GROUPS`: lapse, decline,
share, referrer, receiver, ...); a theme's weight for one tie is the sum of its
features' contributions to that tie's log-odds (logistic: ``coef x
standardised value``; gradient boosting: the fall in log-odds when the
feature is set to its training median) and the two or three heaviest themes
with a positive weight are written out from the tie's own values, skipping a
theme whose values tell no risk story (say, a share that did not fall). When
a tie falls or lapses while its referrer sends more to a competitor, the
share story naming the competitor is added (it says where the referrals go).
Without usable contributions the rules' reasons are used. Names, specialties
and organisations come from ``providers``; ids are used otherwise. Counts
from 1 to 10 never appear in the words
(:func:`referral_graph.privacy.format_count` writes them "<11"); months and
percentages do.

Preparing a panel once
----------------------
Each function first turns the panel into a (month x tie) count matrix with
provider, market and organisation codes. To run several of them on one panel
(the report runs :func:`at_risk`, then :func:`backtest`), build a
:class:`PreparedPanel` once and pass it as the panel: the matrix is built once
and the model inputs of each labelled cutoff are computed once and shared.
The results are the same as with the panel.

Examples
--------
>>> import pandas as pd
>>> months = pd.date_range("2023-01-01", periods=15, freq="MS")
>>> panel = pd.DataFrame({"source": "A", "target": "B", "month": months,
...                       "referrals": [2] * 12 + [0, 0, 1]})
>>> panel = panel[panel["referrals"] > 0]
>>> labels = churn_labels(panel, "2024-01-01")
>>> cols = ["source", "target", "baseline_referrals", "horizon_referrals", "churned"]
>>> labels[cols].values.tolist()
[['A', 'B', 24, 1, True]]
>>> feats = churn_features(panel, ["2024-01-01"])
>>> feats[["months_since_last", "tenure", "volatility"]].values.tolist()
[[0.0, 12.0, 0.0]]
"""

from __future__ import annotations

from referral_graph.churn._at_risk import at_risk
from referral_graph.churn._backtest import backtest, choose_family, choose_ranking, rule_margins
from referral_graph.churn._features import DESCRIPTIVE_COLUMNS, FEATURE_COLUMNS, churn_features
from referral_graph.churn._labels import churn_cutoffs, churn_labels
from referral_graph.churn._metrics import calibration_table
from referral_graph.churn._model import ChurnModel
from referral_graph.churn._panel import PreparedPanel
from referral_graph.churn._reasons import REASON_GROUPS
from referral_graph.churn._rules import RULES
from referral_graph.churn._training import FAMILIES, fit_churn_model

__all__ = [
    "DESCRIPTIVE_COLUMNS",
    "FAMILIES",
    "FEATURE_COLUMNS",
    "REASON_GROUPS",
    "RULES",
    "ChurnModel",
    "PreparedPanel",
    "at_risk",
    "backtest",
    "calibration_table",
    "choose_family",
    "choose_ranking",
    "churn_cutoffs",
    "churn_features",
    "churn_labels",
    "fit_churn_model",
    "rule_margins",
]
