"""The rule baselines the backtest compares the model with (:data:`RULES`).

Each rule is a score a liaison could sort the active ties by by hand, from the
tie's own history alone (no model); ranking by the score is the rule's work list.
They are the strongest such sorts we know of, so a model that does not beat them
has not earned its place at the top of the list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from referral_graph.churn._options import FloatArray

if TYPE_CHECKING:
    from referral_graph.churn._panel import _Slice

#: The rule baselines of :func:`backtest`: name -> description.
RULES: dict[str, str] = {
    "days_since_last": "days since the tie's last referral (longest silence first)",
    "days_vs_gap": "days since the last referral divided by the tie's usual gap in days "
    "(the most overdue first)",
    "volume_drop": "recent volume against the baseline (last 3 months' rate / 12 months' "
    "rate, smoothed; the largest fall first)",
    "share_drop": "fall in the tie's share of the referrer's referrals (baseline share - "
    "recent share; the largest fall first)",
}


def _rule_scores(values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    share_recent = np.nan_to_num(values["share_recent"], nan=0.0)
    return {
        "days_since_last": values["days_since_last"],
        "days_vs_gap": values["days_since_last"] / values["usual_gap_days"],
        "volume_drop": -values["recent_vs_baseline"],
        "share_drop": values["share_baseline"] - share_recent,
    }


#: Training rows the blend's rule is chosen on, at most (a seeded sample beyond): enough to
#: tell four rules apart, cheap on millions of rows.
_CHOICE_ROWS = 50_000


def _best_rule(slices: Sequence[_Slice]) -> str:
    """The rule whose score ranks the labels of `slices` best (ROC-AUC; the first of
    :data:`RULES` on a tie, or without two classes).

    Chosen on labelled cutoffs only (the training cutoffs of a backtest or of an
    at-risk list), so that no test label decides it.
    """
    from sklearn.metrics import roc_auc_score

    best, best_auc = next(iter(RULES)), -math.inf
    if not slices:
        return best
    y = np.concatenate([np.asarray(s.y, dtype=bool) for s in slices])
    rows = np.arange(len(y))
    if len(y) > _CHOICE_ROWS:  # a choice, not a measurement: a fixed sample of rows is enough
        rows = np.sort(np.random.default_rng(0).choice(len(y), _CHOICE_ROWS, replace=False))
    y = y[rows]
    if 0 < int(y.sum()) < len(y):
        for name in RULES:
            scores = np.concatenate([s.rules[name] for s in slices])[rows]
            auc = float(roc_auc_score(y, scores))
            if auc > best_auc:
                best, best_auc = name, auc
    return best


def _blend(model: FloatArray, rule: FloatArray, *, weight: float = 0.5) -> FloatArray:
    """The weighted mean of the percentile ranks of the model's score and a rule's (ties
    averaged): ``(1 - weight) x rank(model) + weight x rank(rule)``, ranks divided by n."""
    from scipy.stats import rankdata

    n = len(model)
    if n == 0:
        return np.zeros(0)
    mixed = (1.0 - weight) * rankdata(model) + weight * rankdata(rule)
    return np.asarray(mixed / n, dtype=np.float64)


#: Training cutoffs' worth of evidence the best rule counts for in the model's ranking
#: (:func:`_hedge_weight`).
RULE_PRIOR_CUTOFFS = 1.0


def _hedge_weight(n_cutoffs: int) -> float:
    """The best rule's weight in the model's ranking, for a model trained on `n_cutoffs`.

    The rule is a ranking fitted on nothing, so it does not drift with the data; the
    model's ranking is learned from its training cutoffs. The model's ranking is the mean
    of the two percentile ranks weighted as evidence, the rule counting as
    :data:`RULE_PRIOR_CUTOFFS` (one) cutoff: ``1 / (1 + n_cutoffs)``, a half with one
    training cutoff, a fifth with four, under 0.05 from twenty on.

    Examples
    --------
    >>> [round(_hedge_weight(n), 3) for n in (1, 4, 20)]
    [0.5, 0.2, 0.048]
    """
    return RULE_PRIOR_CUTOFFS / (RULE_PRIOR_CUTOFFS + max(int(n_cutoffs), 0))
