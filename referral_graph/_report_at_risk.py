"""The report's backtest and at-risk list, as its worker process computes them.

A module of its own, light to import: the worker process that runs
:func:`at_risk_tables` beside the report (:mod:`referral_graph._worker`) imports
this module and :mod:`referral_graph.churn`, not the report package with its
pages, the pipeline and networkx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from referral_graph.exceptions import InsufficientDataError

__all__ = ["AtRisk", "at_risk_tables"]


@dataclass
class AtRisk:
    """What :func:`at_risk_tables` computes: picklable, so that it can run in a worker."""

    backtest: pd.DataFrame | None = None
    margins: pd.DataFrame | None = None
    risk: pd.DataFrame | None = None
    notes: dict[str, str] = field(default_factory=dict)


def at_risk_tables(
    panel: pd.DataFrame,
    providers: pd.DataFrame,
    ids: list[str],
    *,
    capacity: int,
    horizon: int,
    seed: int,
    reuse: Mapping[str, str] | None = None,
) -> AtRisk:
    """The backtest and the at-risk list of the report (needs nothing but its arguments).

    How far to trust the flags: the model is backtested against the simple rules
    first, so that the list is ranked by whatever finds the most lost ties at its
    top (:func:`referral_graph.churn.at_risk` with ``ranking="auto"``). The test
    cutoffs of `reuse` (earlier backtests' ``attrs["folds"]``) are not fitted again.
    """
    from referral_graph import churn

    result = AtRisk()
    try:
        # Prepared once: the backtest and the at-risk list share the tie matrix and the
        # model inputs of the labelled cutoffs (the same results as passing the panel twice).
        prepared = churn.PreparedPanel(panel, providers=providers)
        try:
            result.backtest = churn.backtest(
                prepared,
                horizon=horizon,
                k=(capacity, 4 * capacity),
                random_state=seed,
                reuse=reuse,
            )
            # for the page, here where churn is imported already (the report's own process
            # then never imports churn, scikit-learn and scipy.stats when this runs elsewhere)
            result.margins = churn.rule_margins(result.backtest)
        except InsufficientDataError as exc:
            result.notes["backtest"] = str(exc)
        risk = churn.at_risk(
            prepared,
            focus_ids=ids,
            capacity=capacity,
            horizon=horizon,
            random_state=seed,
            ranking="auto" if result.backtest is not None else "model",
            family="auto" if result.backtest is not None else "logistic",
            backtested=result.backtest,
        )
    except InsufficientDataError as exc:
        result.notes["at_risk"] = result.notes["outreach_list"] = str(exc)
        return result
    if "ranking_why" in risk.attrs:
        result.notes["ranking"] = risk.attrs["ranking_why"]
    result.risk = risk.assign(internal=risk["source"].isin(set(ids)))
    return result
