"""The at-risk list: the active ties ranked by expected loss, with reasons (:func:`at_risk`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from referral_graph._checks import check_choice, check_float, check_int
from referral_graph.churn._backtest import _auto_choice
from referral_graph.churn._features import FEATURE_COLUMNS, _features_at, _totals
from referral_graph.churn._inputs import (
    _first_training_cutoff,
    _model_inputs,
    _training_slices,
)
from referral_graph.churn._labels import _active
from referral_graph.churn._model import ChurnModel
from referral_graph.churn._options import FloatArray, _Options, _parse_cutoffs
from referral_graph.churn._panel import (
    PreparedPanel,
    _check_cutoff,
    _prepared_with_options,
)
from referral_graph.churn._reasons import _Context, _explain, _gainers
from referral_graph.churn._rules import RULES, _best_rule, _blend, _hedge_weight, _rule_scores
from referral_graph.churn._training import (
    FAMILIES,
    MAX_TRAIN_SAMPLES,
    RECENCY_HALF_LIFE,
    _check_half_life,
    _family_model,
    _fit_on,
)
from referral_graph.exceptions import InsufficientDataError, ParameterError

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")


def at_risk(
    panel: pd.DataFrame | PreparedPanel,
    *,
    cutoff: str | pd.Timestamp | None = None,
    horizon: int = 3,
    model: ChurnModel | None = None,
    providers: pd.DataFrame | None = None,
    focus_ids: Iterable[str] | None = None,
    capacity: int = 25,
    threshold: float | None = None,
    amounts: bool = True,
    baseline_months: int | Literal["auto"] = "auto",
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    random_state: int | None = 0,
    explain_top: int = 1000,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
    ranking: str = "model",
    family: str = "logistic",
    recency_half_life: float | None = RECENCY_HALF_LIFE,
    backtested: pd.DataFrame | None = None,
    reuse: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Rank the active ties by expected loss, with reasons, as of a cutoff.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel. Prepared (:class:`PreparedPanel`), the tie matrix is
        built once and the training cutoffs' model inputs are kept for later
        calls (such as :func:`backtest`); `providers` then come from it.
    cutoff : str or Timestamp, optional
        A month start; default: the month after the data's last month (as of
        the end of the data).
    horizon : int, default 3
        Months ahead.
    model : ChurnModel, optional
        A model fitted on :data:`FEATURE_COLUMNS` (e.g. by
        :func:`fit_churn_model` with the same definitions); by default one is
        fitted on the labelled cutoffs whose horizon ends before `cutoff` (on
        a short history also on earlier cutoffs with a shorter look-back, as
        in :func:`backtest`).
    providers : pandas.DataFrame, optional
        ``id``, ``name``, ``specialty``, ``organization``: names in the
        reasons, shares within specialty, competitors by organisation.
    focus_ids : iterable of str, optional
        Keep only ties *into* these providers (e.g. your organisation's).
    capacity : int, default 25
        Number of ties flagged (the top by expected loss) when `threshold` is
        not given.
    threshold : float, optional
        Flag every tie with ``risk >= threshold`` instead.
    amounts : bool, default True
        Add ``at_stake_amount`` and ``expected_loss_amount`` when the panel
        has ``amount``.
    min_referrals, churn_fraction
        The definitions in the module docstring.
    baseline_months : int or "auto", default "auto"
        The baseline window; ``"auto"``: 12 months, or on a history shorter than
        ``12 + 2 * horizon`` months as many as fit, down to 6.
    random_state : int, optional
        Seed of the model fitted when `model` is None.
    explain_top : int, default 1000
        Reasons are written for the flagged ties and the top `explain_top`
        ties by expected loss; other rows get a missing value.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.
    ranking : str, default "model"
        What orders the list: ``"model"`` (expected loss, ``risk x at_stake``,
        the risks laid in the order of the model's ranking as :func:`backtest`
        measures it: the percentile rank of the risk mixed with that of the rule
        that ranked the training cutoffs best, the rule weighing ``1 / (1 +
        training cutoffs)``; for a `model` passed in, the risks' own order);
        ``"blend"`` (the mean of the percentile ranks of the model's risk and of
        the rule that ranked the training cutoffs best, times ``at_stake``); or a
        rule of :data:`RULES` (its score's percentile rank times ``at_stake``).
        :func:`choose_ranking` picks one from a backtest on the same data, as the
        report does. ``risk`` and ``expected_loss`` stay the model's; the choice
        is kept in ``attrs["ranking"]`` (and the blend's rule in
        ``attrs["ranking_rule"]``).
    family : {"logistic", "gbm", "ensemble"}, default "logistic"
        The model family fitted when `model` is None (see :data:`FAMILIES`):
        :func:`choose_family` picks one from a ``model="auto"`` backtest on the
        same data, as the report does. Kept in ``attrs["family"]``.
    recency_half_life : float or None, default 12
        Months after which a training cutoff's rows weigh half as much as the
        latest one's, for the model fitted when `model` is None; None weighs
        them alike.
    backtested : pandas.DataFrame, optional
        The averaged result of :func:`backtest` on the same data (with
        ``model="auto"`` for ``family="auto"``), from which the ``"auto"``
        choices are made instead of running the backtest again.
    reuse : mapping of str to str, optional
        When the backtest is run here: earlier backtests' test cutoffs, reused
        where unchanged (:func:`backtest`'s `reuse`; a referral store's
        :meth:`~referral_graph.store.ReferralStore.backtest_folds`).

    Returns
    -------
    pandas.DataFrame
        Ranked by expected loss (or as `ranking` says): ``rank``, ``source``,
        ``target`` (and
        ``source_name``, ``target_name`` with providers), ``cutoff``,
        ``risk`` (probability of churn in the horizon), ``at_stake``
        (baseline rate x horizon: referrals expected without churn),
        ``at_stake_amount`` (when amounts exist), ``expected_loss`` (risk x
        at stake), ``expected_loss_amount``, ``reasons`` (str; counts below 11
        are written "<11") and ``flagged`` (bool).

    Raises
    ------
    InsufficientDataError
        If no tie is active at the cutoff, or there is too little history to
        fit a model.

    Notes
    -----
    Features at `cutoff` are computed for the listed ties only (those into
    `focus_ids`); a tie's features depend on its own months and on the
    cutoff's totals per referrer, receiver and market, which cover every tie.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> months = pd.date_range("2023-01-01", periods=20, freq="MS")
    >>> rows = [(f"S{i}", f"T{i % 7}", m, int(rng.poisson(2 if i % 4 or k < 12 + i % 8 else 0.1)))
    ...         for i in range(200) for k, m in enumerate(months)]
    >>> p = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> risk = at_risk(p[p["referrals"] > 0], capacity=5)
    >>> int(risk["flagged"].sum()), risk["cutoff"].iloc[0].strftime("%Y-%m")
    (5, '2024-09')
    >>> bool(risk.loc[risk["flagged"], "reasons"].str.len().gt(0).all())
    True
    """
    fn = "at_risk"
    prepared, opts = _prepared_with_options(
        panel,
        fn,
        providers=providers,
        columns=columns,
        data_end=data_end,
        baseline_months=baseline_months,
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
    )
    capacity = check_int(capacity, "capacity", fn, low=0, high=100_000_000)
    check_choice(ranking, "ranking", fn, ["model", "blend", *RULES, "auto"])
    check_choice(family, "family", fn, [*FAMILIES, "auto"])
    half_life = _check_half_life(recency_half_life, fn)
    explain_top = check_int(explain_top, "explain_top", fn, low=0, high=100_000_000)
    if threshold is not None:
        threshold = check_float(threshold, "threshold", fn, low=0.0, high=1.0)
    if model is not None and not isinstance(model, ChurnModel):
        raise ParameterError(
            "The 'model' parameter of at_risk must be a fitted ChurnModel or None. "
            f"Got {type(model).__name__} instead."
        )
    ties = prepared._ties
    ci = (
        ties.n_months
        if cutoff is None
        else ties.cutoff_index(_parse_cutoffs(cutoff, fn, "cutoff")[0])
    )
    _check_cutoff(ties, ci, opts, labels=False)
    why = None
    if model is not None and family == "auto":
        family = "logistic"  # not used: the given model is
    if "auto" in (ranking, family):
        ranking, family, why = _auto_choice(
            prepared,
            ranking=ranking,
            family=family,
            table=backtested,
            reuse=reuse,
            past_cutoff=ci < ties.n_months,
            capacity=capacity,
            random_state=random_state,
            recency_half_life=half_life,
            opts=opts,
        )
    stamp = ties.month_of(ci)
    totals = _totals(ties, ci, opts)
    idx = _active(ties, ci, opts, totals.tie_base)
    if len(idx) == 0:
        raise InsufficientDataError(
            f"No tie is active at {stamp.date()} (>= {opts.min_referrals} referrals in the "
            f"{opts.baseline_months} months before)."
        )
    fitted_here = model is None
    n_training = 0  # the training cutoffs of a model fitted here (0: a model passed in)
    if model is None:
        if ci - opts.horizon < _first_training_cutoff(opts):
            raise InsufficientDataError(
                f"Fitting a model needs {_first_training_cutoff(opts) + opts.horizon} months "
                f"of data before the cutoff {stamp.date()}; pass a fitted model= instead."
            )
        slices = _training_slices(prepared, ci, opts)
        template = _family_model(family, random_state=random_state)
        model, _ = _fit_on(
            slices,
            template,
            MAX_TRAIN_SAMPLES,
            np.random.default_rng(random_state),
            frame=True,
            half_life=half_life,
        )
        n_training = len(slices)
        del slices
    else:
        model._check_fitted()
        names_in = list(getattr(model, "feature_names_in_", []))
        if names_in and names_in != list(FEATURE_COLUMNS):
            raise ParameterError(
                "The 'model' parameter of at_risk must be fitted on FEATURE_COLUMNS "
                "(e.g. by fit_churn_model)."
            )
    if focus_ids is not None:
        focus = {str(i) for i in ([focus_ids] if isinstance(focus_ids, str) else focus_ids)}
        pos = pd.Index(ties.ids).get_indexer(pd.Index(sorted(focus), dtype=object))
        is_focus = np.zeros(len(ties.ids), dtype=bool)
        is_focus[pos[pos >= 0]] = True
        idx = idx[is_focus[ties.tgt[idx]]]
    # Features of the ties listed only (each tie's features need the totals, not the others).
    idx, values = _features_at(ties, ci, opts, idx=idx, totals=totals)
    x_now = pd.DataFrame(_model_inputs(values, len(idx)), columns=list(FEATURE_COLUMNS))
    risk = model.predict_proba(x_now)[:, -1] if len(idx) else np.zeros(0)
    at_stake = values["baseline_rate"] * opts.horizon
    out = pd.DataFrame(
        {
            "source": pd.array(ties.ids[ties.src[idx]], dtype="str"),
            "target": pd.array(ties.ids[ties.tgt[idx]], dtype="str"),
        }
    )
    if prepared.providers is not None:
        out["source_name"] = pd.array(ties.names[ties.src[idx]], dtype="str")
        out["target_name"] = pd.array(ties.names[ties.tgt[idx]], dtype="str")
    out["cutoff"] = np.full(len(idx), stamp.to_datetime64(), dtype="datetime64[ns]")
    out["risk"] = risk
    out["at_stake"] = at_stake
    show_amount = amounts and ties.has_amount
    if show_amount:
        out["at_stake_amount"] = values["baseline_amount"] / opts.baseline_months * opts.horizon
    out["expected_loss"] = risk * at_stake
    if show_amount:
        out["expected_loss_amount"] = risk * out["at_stake_amount"].to_numpy()
    priority, rule = out["expected_loss"].to_numpy(), None
    if ranking == "model" and n_training and len(idx):
        # the model's ranking, as the backtest measures it: its risk's percentile rank
        # hedged with the best rule's (_hedge_weight), laid on the risks (the first tie of
        # that ranking gets the highest risk), times at_stake
        rule = _training_best_rule(prepared, ci, opts)
        hedged = _blend(risk, _rule_scores(values)[rule], weight=_hedge_weight(n_training))
        ranked_risk = np.sort(risk)[rankdata(hedged, method="ordinal").astype(np.intp) - 1]
        priority = ranked_risk * at_stake
        if why is not None:  # the ranking said in plain words: the model leans on the rule
            why += (
                f" The model learned from {n_training} earlier cutoff(s), so its ranking leans "
                f"on the simple rule {rule} (the best ROC-AUC on those cutoffs) for "
                f"{_hedge_weight(n_training):.0%}, less as the history grows."
            )
    elif ranking != "model" and len(idx):
        scores = _rule_scores(values)
        if ranking == "blend":
            rule = _training_best_rule(prepared, ci, opts)
            ranked = _blend(risk, scores[rule])
        else:
            ranked = rankdata(scores[ranking]) / len(idx)
        priority = ranked * at_stake
    order = np.lexsort((-risk, -priority))
    out = out.iloc[order].reset_index(drop=True)
    idx = idx[order]
    # The ranking as a percentile (100 = first): visible where small counts are hidden.
    out["priority_index"] = (
        np.ceil(100 * rankdata(priority[order]) / len(idx)).astype("int64")
        if len(idx)
        else np.zeros(0, dtype="int64")
    )
    if threshold is None:
        flagged = np.arange(len(out)) < capacity
    else:
        flagged = out["risk"].to_numpy() >= threshold
    n_explain = min(
        len(out), max(explain_top, int(np.flatnonzero(flagged).max()) + 1 if flagged.any() else 0)
    )
    reasons: list[Any] = [pd.NA] * len(out)
    if n_explain:
        explained = order[:n_explain]
        contrib: FloatArray | None = None
        if model.n_features_in_ == len(FEATURE_COLUMNS) and len(model.classes_) == 2:
            contrib = model.contributions(x_now.iloc[explained])
        ref = dict(zip(FEATURE_COLUMNS, model.reference_.tolist(), strict=False))
        gainers = _gainers(ties, totals, opts, idx[:n_explain])
        columns_of = {key: arr[explained].tolist() for key, arr in values.items()}
        for i in range(n_explain):
            spec = ties.specialty[ties.tgt[idx[i]]] if ties.by_specialty else None
            ctx = _Context(
                src=str(ties.names[ties.src[idx[i]]]),
                tgt=str(ties.names[ties.tgt[idx[i]]]),
                spec=None if spec is None else str(spec),
                gainer=gainers[i],
                ref=ref,
                opts=opts,
            )
            v = {key: float(col[i]) for key, col in columns_of.items()}
            reasons[i] = _explain(None if contrib is None else contrib[i], v, ctx)
    out["reasons"] = pd.array(reasons, dtype="str")
    out["flagged"] = flagged
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    out.attrs["ranking"] = ranking
    out.attrs["family"] = family if fitted_here else str(model.model)
    if rule is not None:
        out.attrs["ranking_rule"] = rule
    if why is not None:
        out.attrs["ranking_why"] = why
    logger.info(
        "At-risk list at %s: %s ties, %s flagged", stamp.date(), f"{len(out):,}", int(flagged.sum())
    )
    return out


def _training_best_rule(prepared: PreparedPanel, ci: int, opts: _Options) -> str:
    """The rule that ranked the labelled cutoffs before `ci` best (the blend's rule)."""
    return _best_rule(_training_slices(prepared, ci, opts))
