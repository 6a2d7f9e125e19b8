"""The rule baselines the backtest compares the model with (:data:`RULES`).

Each rule is a score a liaison could sort the active ties by by hand, from the
tie's own history alone (no model); ranking by the score is the rule's work list.
They are the strongest such sorts we know of, so a model that does not beat them
has not earned its place at the top of the list.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from referral_graph.churn._options import FloatArray

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
