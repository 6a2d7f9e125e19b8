"""The rule baselines the backtest compares the model with (:data:`RULES`).

Each rule scores the active ties from their features alone (no model), so that
ranking by the score is the rule's work list.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from referral_graph.churn._options import FloatArray

#: The rule baselines of :func:`backtest`: name -> description.
RULES: dict[str, str] = {
    "lapsed_60d": "no referral for at least 2 complete months (about 60 days); "
    "score = estimated days since the last referral",
    "trend_down_50": "last 3 months' rate at least 50 % below the prior 9 months' rate; "
    "score = the drop",
    "share_down": "share of the source's referrals fell; score = the fall in share",
}

#: Days in an average month (the lapse rule's score is in days).
_DAYS_PER_MONTH = 30.44


def _rule_scores(values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    share_recent = np.nan_to_num(values["share_recent"], nan=0.0)
    return {
        "lapsed_60d": _DAYS_PER_MONTH * values["months_since_last"] + 15.0,
        "trend_down_50": values["trend_drop"],
        "share_down": values["share_baseline"] - share_recent,
    }
