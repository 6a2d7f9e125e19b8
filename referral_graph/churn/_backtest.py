"""The rolling-origin backtest of the model against the rule baselines (:func:`backtest`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone

from referral_graph import _worker
from referral_graph._checks import check_int
from referral_graph.churn import _folds
from referral_graph.churn._inputs import (
    _first_training_cutoff,
    _labelled_slice,
    _slices_of,
    _training_cutoffs,
)
from referral_graph.churn._metrics import _metrics
from referral_graph.churn._model import ChurnModel
from referral_graph.churn._options import FloatArray, IntArray, _Options
from referral_graph.churn._panel import PreparedPanel, _prepared_with_options, _Slice
from referral_graph.churn._rules import RULES, _best_rule, _blend, _hedge_weight
from referral_graph.churn._training import (
    FAMILIES,
    MAX_TRAIN_SAMPLES,
    RECENCY_HALF_LIFE,
    _check_half_life,
    _family_model,
    _fit_picked,
    _make_model,
    _training_rows,
)
from referral_graph.exceptions import InsufficientDataError, ParameterError

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")


@dataclass(frozen=True, eq=False)
class _Plan:
    """One test cutoff of the backtest: its slices, the training rows drawn for its fit
    (None: the training labels hold one class, or no tie is active at the test cutoff)
    and its fingerprint (:func:`referral_graph.churn._folds.fingerprint`; None without
    a seed)."""

    ci: int
    train: list[_Slice]
    test: _Slice
    n_labelled: int
    picked: list[tuple[_Slice, IntArray]] | None
    key: str | None


def _fold_rng(random_state: int | None, cutoff: pd.Timestamp) -> np.random.Generator:
    """The generator of a test cutoff's training rows: seeded by the seed and the cutoff's
    month, so that the rows drawn for a cutoff do not depend on the other cutoffs tested."""
    if random_state is None:
        return np.random.default_rng()
    return np.random.default_rng([random_state, cutoff.year * 12 + cutoff.month - 1])


def backtest(
    panel: pd.DataFrame | PreparedPanel,
    *,
    n_cutoffs: int = 6,
    horizon: int = 3,
    k: Sequence[int] = (25, 100),
    model: str | ChurnModel = "auto",
    random_state: int | None = 0,
    baseline_months: int | Literal["auto"] = "auto",
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    providers: pd.DataFrame | None = None,
    C: float = 1.0,  # noqa: N803
    calibration: str | None = "sigmoid",
    max_train_samples: int | None = MAX_TRAIN_SAMPLES,
    per_cutoff: bool = False,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
    recency_half_life: float | None = RECENCY_HALF_LIFE,
    reuse: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Rolling-origin backtest of the churn model against the rule baselines.

    For each of the last `n_cutoffs` labelled cutoffs that have training data,
    the model is fitted on the labelled cutoffs whose horizon ends before the
    test cutoff (``train + horizon <= test``: every training label was
    observable at the test cutoff) and scores the test cutoff's active ties.
    The rules of :data:`RULES` score the same ties. On a short history, where
    fewer than two training cutoffs have the full baseline, the model also
    trains on the latest earlier cutoffs with a shorter look-back (every month
    before each, at least 6, the activity threshold scaled to it; up to four
    training cutoffs in all), so every labelled cutoff with 6 months of data
    before its first training cutoff is tested (15 months with a 9-month
    baseline: the cutoffs 9 to 12 months in). The test cutoffs keep their
    definitions.

    With ``model="auto"`` (the default) each fit is an ensemble
    (:class:`ChurnModel` ``model="ensemble"``), so the three families of
    :data:`FAMILIES` are scored from one fit: the calibrated logistic
    regression, the gradient-boosted trees and their mean. The ``model`` row is
    the family chosen *before* each test cutoff, by the mean PR-AUC of the
    earlier test cutoffs whose outcome was known by then (as
    :func:`choose_family` chooses; the logistic regression, the simplest,
    when none was): an honest measure of choosing
    the family this way, with no test label deciding its own choice.
    :func:`choose_family` then names the family the at-risk list should use,
    from every test cutoff. The ``model`` row ranks the ties as :func:`at_risk`
    does: by the percentile rank of the model's probability mixed with that of
    the rule that ranked the training cutoffs best, the rule weighing ``1 / (1 +
    training cutoffs)`` (one cutoff's worth of evidence); its Brier score is its
    probability's.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel. Prepared (:class:`PreparedPanel`), the tie matrix and
        the model inputs of its cutoffs are shared with other calls (such as
        :func:`at_risk` before).
    n_cutoffs : int, default 6
        Number of test cutoffs (the latest ones).
    horizon, min_referrals, churn_fraction
        The definitions in the module docstring.
    baseline_months : int or "auto", default "auto"
        The baseline window; ``"auto"``: 12 months, or on a history shorter than
        ``12 + 2 * horizon`` months as many as fit, down to 6 (so that 12 to 17
        months of data still give a list and its backtest).
    k : sequence of int, default (25, 100)
        Sizes of the lists for precision@k and recall@k.
    model : {"auto", "logistic", "gbm", "ensemble"} or ChurnModel, default "auto"
        The classifier; ``"auto"`` compares the families (see above).
    random_state : int, optional
        Seed of the training-row sampling and the model.
    providers : pandas.DataFrame, optional
        As in :func:`churn_features`.
    C, calibration : optional
        Passed to :class:`ChurnModel`.
    max_train_samples : int or None, default 100,000
        Training rows per fit (sampled at random), None for all.
    per_cutoff : bool, default False
        Return one row per (method, cutoff) instead of the averages.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.
    recency_half_life : float or None, default 12
        Months after which a training cutoff's rows weigh half as much as the
        latest training cutoff's; None weighs them alike.
    reuse : mapping of str to str, optional
        The ``attrs["folds"]`` of an earlier backtest (see Returns): each test
        cutoff whose fingerprint is found there takes its figures from it
        instead of being fitted and scored again. The results are the same to
        the last digit (a fingerprint digests everything a test cutoff's figures
        depend on); on a history grown by one month, all test cutoffs but the
        latest are found (the weekly report from a store,
        :meth:`referral_graph.store.ReferralStore.backtest_folds`).

    Returns
    -------
    pandas.DataFrame
        One row per method (``model``; ``blend``, the mean of the percentile
        ranks of the model's score and of the rule that ranked the training
        cutoffs best; with ``model="auto"`` the families ``logistic``, ``gbm``
        and ``ensemble``; then the rules): ``method``,
        ``roc_auc``, ``pr_auc``, ``precision_at_{k}``, ``recall_at_{k}`` for
        each k, ``top_decile_lift`` (precision in the top 10 % / base rate),
        ``brier`` (model only; missing for rules, which have no
        probabilities), each averaged over the test cutoffs, and
        ``n_cutoffs``. With ``per_cutoff=True``: ``method``, ``cutoff``,
        ``family`` (the family of the ``model`` row), ``n_train``, ``n_ties``,
        ``n_churned``, ``base_rate`` and the metrics. Either way
        ``attrs["folds"]`` maps each test cutoff's fingerprint (a SHA-256 of
        its model inputs: the features, labels and rule scores of the cutoff
        and of its training cutoffs, with their months; of the arguments that
        shape a fit or a figure; and of this package's churn code and the
        versions of numpy, pandas, scikit-learn and scipy) to its figures as
        JSON text, for `reuse`; it is empty when `random_state` is None (a fit
        that cannot be repeated is not reused).

    Raises
    ------
    InsufficientDataError
        If no test cutoff has an earlier labelled cutoff to train on (the
        panel needs at least ``max(baseline_months, 6 + horizon) + horizon``
        months).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> months = pd.date_range("2023-01-01", periods=20, freq="MS")
    >>> rows = [(f"S{i}", f"T{i % 7}", m, int(rng.poisson(2 if i % 4 or k < 12 + i % 5 else 0.1)))
    ...         for i in range(200) for k, m in enumerate(months)]
    >>> p = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> bt = backtest(p[p["referrals"] > 0], n_cutoffs=2, k=(10,))
    >>> bt["method"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['model', 'blend', 'logistic', 'gbm', 'ensemble', 'days_since_last', 'days_vs_gap',
     'volume_drop', 'share_drop']
    >>> bool(bt.loc[0, "roc_auc"] > 0.6), list(bt.columns[:4])
    (True, ['method', 'roc_auc', 'pr_auc', 'precision_at_10'])
    """
    fn = "backtest"
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
    n_cutoffs = check_int(n_cutoffs, "n_cutoffs", fn, low=1, high=120)
    ks = [k] if isinstance(k, int) else list(k)
    for kk in ks:
        check_int(kk, "k", fn, low=1, high=100_000_000)
    if max_train_samples is not None:
        check_int(max_train_samples, "max_train_samples", fn, low=10, high=1_000_000_000)
    half_life = _check_half_life(recency_half_life, fn)
    auto = isinstance(model, str) and model == "auto"
    template = (
        _family_model("ensemble", C=C, calibration=calibration, random_state=random_state)
        if auto
        else _make_model(model, C=C, calibration=calibration, random_state=random_state, fn=fn)
    )
    ties = prepared._ties
    nb, h = opts.baseline_months, opts.horizon
    labelled = list(range(nb, ties.n_months - h + 1))
    first = _first_training_cutoff(opts)  # a test cutoff needs a training cutoff before it
    eligible = [ci for ci in labelled if ci - h >= first]
    tests = eligible[-n_cutoffs:]
    if not tests:
        raise InsufficientDataError(
            f"The panel covers {ties.n_months} month(s); a backtest needs at least "
            f"{max(nb, first + h) + h}: a test cutoff with its {nb}-month baseline and "
            f"{h}-month horizon, and a training cutoff {h} months before it with {first} "
            "months of data before it."
        )
    if len(tests) < n_cutoffs:
        logger.info("Backtest: only %s test cutoff(s) have earlier training data", len(tests))
    # Each test cutoff draws its training rows from a generator of its own, seeded by the
    # seed and its month: its figures do not depend on which other cutoffs are tested, so
    # that a later backtest on a longer history can reuse them (`reuse`).
    # The features of every cutoff are computed first, side by side where a core is idle.
    _slices_of(
        prepared, [key for ci in tests for key in (*_training_cutoffs(ci, opts), (ci, opts))]
    )
    settings = {
        "model": template.get_params(deep=False),
        "auto": auto,
        "k": ks,
        "max_train_samples": max_train_samples,
        "random_state": random_state,
        "recency_half_life": half_life,
    }
    plans = []
    for ci in tests:
        keys = _training_cutoffs(ci, opts)
        train = _slices_of(prepared, keys)
        test = _labelled_slice(prepared, ci, opts)
        y_train = np.concatenate([s.y for s in train if s.y is not None])
        fits = 0 < int(y_train.sum()) < len(y_train) and len(test.idx) > 0
        rng = _fold_rng(random_state, ties.month_of(ci))
        picked = _training_rows(train, max_train_samples, rng)[0] if fits else None
        key = (
            _folds.fingerprint(
                test=(test, opts),
                train=[(s, o) for s, (_, o) in zip(train, keys, strict=True)],
                month_of=ties.month_of,
                settings=settings,
            )
            if random_state is not None
            else None
        )
        plans.append(
            _Plan(ci=ci, train=train, test=test, n_labelled=len(y_train), picked=picked, key=key)
        )
    variants = list(FAMILIES) if auto else ["model"]

    def measured(y: npt.NDArray[Any], score: FloatArray, *, proba: bool) -> dict[str, float]:
        if np.isnan(score).all():
            return {key: math.nan for key in _metrics(y[:0], score[:0], ks, proba=True)}
        return _metrics(y, score, ks, proba=proba)

    def computed(plan: _Plan) -> dict[str, Any]:
        """A test cutoff's counts and the figures of every method: the rules, the families
        (auto) and, for each family, the model's ranking and the blend (``model@family``,
        ``blend@family``), since the family its ``model`` row uses is chosen from the other
        cutoffs' figures (:func:`_prior_choice`)."""
        test = plan.test
        y = np.asarray(test.y)
        figures = {name: measured(y, score, proba=False) for name, score in test.rules.items()}
        counts = {
            "n_train": plan.n_labelled,
            "n_ties": len(y),
            "n_churned": int(y.sum()),
            "base_rate": float(y.mean()) if len(y) else math.nan,
        }
        if plan.picked is None:
            logger.info(
                "Backtest %s: training labels hold one class; model skipped",
                ties.month_of(plan.ci).date(),
            )
            empty = measured(y, np.full(len(y), math.nan), proba=True)
            for name in variants:
                figures[name] = figures[f"model@{name}"] = figures[f"blend@{name}"] = empty
            return {"counts": counts, "figures": figures}
        counts["n_train"] = sum(len(r) for _, r in plan.picked)
        fitted = _fit_picked(
            plan.picked, clone(template), frame=False, explain=False, half_life=half_life
        )
        if auto:
            parts = fitted.family_probabilities(test.x)
            probabilities = {
                "logistic": parts["logistic"],
                "gbm": parts["gbm"],
                "ensemble": (parts["logistic"] + parts["gbm"]) / 2,
            }
        else:
            probabilities = {"model": fitted.predict_proba(test.x)[:, 1]}
        # the rule that ranked the training cutoffs best (no test label chooses it); the
        # model ranks by its probability hedged with that rule, weighted as evidence
        # (_hedge_weight); its Brier score is its probability's
        rule = test.rules[_best_rule(plan.train)]
        hedge = _hedge_weight(len(plan.train))

        def ranked(name: str) -> dict[str, dict[str, float]]:
            probability = probabilities[name]
            alone = measured(y, probability, proba=True)
            return {
                name: alone,
                f"model@{name}": {
                    **measured(y, _blend(probability, rule, weight=hedge), proba=False),
                    "brier": alone["brier"],
                },
                f"blend@{name}": measured(y, _blend(probability, rule), proba=False),
            }

        # each family's rankings sorted on a core of their own where one is idle
        for part in _worker.side_by_side(ranked, list(probabilities)):
            figures.update(part)
        return {"counts": counts, "figures": figures}

    found = dict(reuse or {})
    todo = [plan for plan in plans if plan.key is None or plan.key not in found]
    folds = dict(zip(todo, _worker.side_by_side(computed, todo), strict=True))
    for plan in plans:
        if plan not in folds:  # reused: its figures are those computed before, to the digit
            assert plan.key is not None
            folds[plan] = _folds.decode(found[plan.key])
    if len(todo) < len(plans):
        logger.info(
            "Backtest: %d of %d test cutoff(s) unchanged since an earlier backtest, their "
            "figures reused",
            len(plans) - len(todo),
            len(plans),
        )
    # The family each test cutoff's model row uses is chosen from the earlier cutoffs'
    # figures (known before it).
    known: dict[int, dict[str, float]] = {}  # test cutoff -> PR-AUC of each family
    if auto:
        for plan in plans:
            known[plan.ci] = {f: folds[plan]["figures"][f]["pr_auc"] for f in FAMILIES}

    rows: list[dict[str, Any]] = []
    for plan in plans:
        fold = folds[plan]
        figures = fold["figures"]
        family = _prior_choice(known, plan.ci, h) if auto else None
        name = str(family) if auto else "model"
        chosen = {"model": figures[f"model@{name}"], "blend": figures[f"blend@{name}"]}
        cutoff = ties.month_of(plan.ci)
        for method in ("model", "blend", *(FAMILIES if auto else ()), *plan.test.rules):
            rows.append(
                {
                    "method": method,
                    "cutoff": cutoff,
                    "family": family,
                    **fold["counts"],
                    **(chosen[method] if method in chosen else figures[method]),
                }
            )
        logger.info(
            "Backtest %s: %s ties, churn rate %.1f %%",
            cutoff.date(),
            f"{fold['counts']['n_ties']:,}",
            100 * fold["counts"]["base_rate"] if fold["counts"]["n_ties"] else 0.0,
        )
    table = pd.DataFrame(rows)
    table["cutoff"] = table["cutoff"].astype("datetime64[ns]")
    table.attrs["folds"] = {
        plan.key: _folds.encode(folds[plan]) for plan in plans if plan.key is not None
    }
    if per_cutoff:
        return table
    metric_cols = [
        c
        for c in table.columns
        if c not in ("method", "cutoff", "family", "n_train", "n_ties", "n_churned", "base_rate")
    ]
    summary = table.groupby("method", sort=False)[metric_cols].mean().reset_index()
    summary["n_cutoffs"] = len(tests)
    summary.attrs["folds"] = table.attrs["folds"]
    return summary


#: A family is preferred to a simpler one (earlier in :data:`FAMILIES`) only when its PR-AUC
#: is ahead by more than this: smaller differences are noise between test cutoffs.
FAMILY_MARGIN = 0.005


def _pick_family(pr_auc: Mapping[str, float]) -> str | None:
    """The simplest family within :data:`FAMILY_MARGIN` of the best PR-AUC (None: no figure)."""
    values = {f: v for f, v in pr_auc.items() if f in FAMILIES and not math.isnan(v)}
    if not values:
        return None
    best = max(values.values())
    return next(f for f in FAMILIES if f in values and values[f] >= best - FAMILY_MARGIN)


def _prior_choice(known: Mapping[int, Mapping[str, float]], ci: int, horizon: int) -> str:
    """The family :func:`_pick_family` takes from the mean PR-AUC of the test cutoffs whose
    outcome is known at `ci` (``c + horizon <= ci``); the logistic regression, the simplest,
    when none is."""
    seen = [v for c, v in known.items() if c + horizon <= ci]
    means = {
        f: float(np.mean(vals))
        for f in FAMILIES
        if (vals := [v[f] for v in seen if not math.isnan(v.get(f, math.nan))])
    }
    return _pick_family(means) or "logistic"


def choose_family(table: pd.DataFrame) -> tuple[str, str]:
    """The model family the at-risk list should use on this data, and why, in plain words.

    The family of :data:`FAMILIES` with the highest PR-AUC (the precision over
    the whole list, weighted to its top) averaged over the test cutoffs of a
    ``model="auto"`` backtest; a simpler family (earlier in :data:`FAMILIES`)
    within :data:`FAMILY_MARGIN` (0.005) of it is preferred, since smaller
    differences are noise.

    Parameters
    ----------
    table : pandas.DataFrame
        The averaged result of :func:`backtest` with ``model="auto"``.

    Returns
    -------
    tuple of (str, str)
        The family, and the sentence that says why (for the report).

    Examples
    --------
    >>> bt = pd.DataFrame({"method": ["model", "logistic", "gbm", "ensemble"],
    ...                    "pr_auc": [0.41, 0.40, 0.38, 0.42]})
    >>> choose_family(bt)[0]
    'ensemble'
    >>> choose_family(bt.assign(pr_auc=[0.41, 0.418, 0.38, 0.42]))[0]  # within 0.005
    'logistic'
    """
    by_method = table.set_index("method") if "method" in table.columns else None
    if (
        by_method is None
        or "pr_auc" not in table.columns
        or not set(FAMILIES) <= set(by_method.index)
    ):
        raise ParameterError(
            "The 'table' parameter of choose_family must be the result of backtest with "
            "model='auto' (a 'method' column with the rows " + ", ".join(FAMILIES) + ")."
        )
    values = by_method.loc[list(FAMILIES), "pr_auc"].astype(float)
    picked = _pick_family({str(k): float(v) for k, v in values.items()})
    if picked is None:
        return "logistic", "The model is the logistic regression (the backtest had no figure)."
    best = picked
    words = {
        "logistic": "the logistic regression",
        "gbm": "gradient-boosted trees",
        "ensemble": "the mean of a logistic regression and gradient-boosted trees",
    }
    others = ", ".join(f"{words[f]} {values[f]:.3f}" for f in FAMILIES if f != best)
    if values[best] < values.max():
        return best, (
            f"The model is {words[best]}, the simpler family: on the backtest it ranked lost "
            f"ties about as well as the best (PR-AUC {values[best]:.3f}, against {others})."
        )
    return best, (
        f"The model is {words[best]}: on the backtest it ranked lost ties best (PR-AUC "
        f"{values[best]:.3f}, against {others})."
    )


#: The measures :func:`rule_margins` compares (higher is better for each).
MARGIN_MEASURES: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "precision_at_25",
    "precision_at_100",
    "top_decile_lift",
)


def rule_margins(table: pd.DataFrame, *, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """The best rule on each measure of a backtest, and the model's margin over it.

    A rule is the strongest sort a liaison could do by hand (:data:`RULES`); the
    model is worth its place at the top of the at-risk list only where its margin
    is positive.

    Parameters
    ----------
    table : pandas.DataFrame
        The averaged result of :func:`backtest` (one row per method).
    measures : sequence of str, optional
        The measures to compare; by default those of :data:`MARGIN_MEASURES` that
        the table has (``precision_at_{k}`` for the k it was run with).

    Returns
    -------
    pandas.DataFrame
        One row per measure: ``measure``, ``model``, ``best_rule`` (its name),
        ``rule`` (its value) and ``margin`` (model - rule; positive: the model is
        ahead).

    Examples
    --------
    >>> bt = pd.DataFrame({"method": ["model", "days_since_last", "volume_drop"],
    ...                    "roc_auc": [0.74, 0.69, 0.67], "precision_at_25": [0.80, 0.84, 0.88]})
    >>> m = rule_margins(bt)
    >>> m[["measure", "best_rule", "margin"]].round(2).values.tolist()
    [['roc_auc', 'days_since_last', 0.05], ['precision_at_25', 'volume_drop', -0.08]]
    """
    if "method" not in table.columns or "model" not in set(table["method"]):
        raise ParameterError(
            "The 'table' parameter of rule_margins must be the result of backtest (a "
            "'method' column with a 'model' row)."
        )
    by_method = table.set_index("method")
    rules = [m for m in by_method.index if m in RULES]
    if measures is None:
        wanted = [c for c in table.columns if c in MARGIN_MEASURES or c.startswith("precision_at_")]
        measures = sorted(set(wanted), key=wanted.index)
    rows = []
    for measure in measures:
        values = by_method.loc[rules, measure].astype(float)
        best = str(values.idxmax()) if values.notna().any() else None
        model = float(by_method[measure].astype(float).loc["model"])
        rule = float(values.max()) if best is not None else math.nan
        rows.append(
            {
                "measure": measure,
                "model": model,
                "best_rule": best,
                "rule": rule,
                "margin": model - rule,
            }
        )
    return pd.DataFrame(rows, columns=["measure", "model", "best_rule", "rule", "margin"])


def choose_ranking(table: pd.DataFrame) -> tuple[str, str]:
    """The ranking the at-risk list should use on this data, and why, in plain words.

    The top of the list is what a liaison acts on, so the choice is made on the
    precision at the smallest k of the backtest (``precision_at_{k}``): the model
    when it is not behind the best rule there; else the blend of the model and
    the best rule (``"blend"``) when it is not behind; else the best rule itself.

    Parameters
    ----------
    table : pandas.DataFrame
        The averaged result of :func:`backtest`.

    Returns
    -------
    tuple of (str, str)
        ``"model"``, ``"blend"`` or a rule of :data:`RULES`, and the sentence that
        says why (for the report).

    Examples
    --------
    >>> bt = pd.DataFrame({"method": ["model", "blend", "days_since_last", "share_drop"],
    ...                    "roc_auc": [0.70, 0.69, 0.62, 0.55],
    ...                    "precision_at_25": [0.30, 0.37, 0.36, 0.20]})
    >>> choose_ranking(bt)[0]
    'blend'
    """
    ks = sorted(
        int(c.removeprefix("precision_at_")) for c in table.columns if c.startswith("precision_at_")
    )
    if not ks:
        raise ParameterError(
            "The 'table' parameter of choose_ranking must be the result of backtest (with "
            "precision_at_{k} columns)."
        )
    column = f"precision_at_{ks[0]}"
    margin = rule_margins(table, measures=[column]).iloc[0]
    by_method = table.set_index("method")[column].astype(float)
    rule, at_rule, at_model = (
        str(margin["best_rule"]),
        float(margin["rule"]),
        float(margin["model"]),
    )
    at_blend = float(by_method.get("blend", math.nan))
    top = f"among the first {ks[0]} ties of the backtest"
    if not at_model < at_rule:  # also when a figure is missing: the model by default
        return "model", (
            f"The list is ranked by the model: {top} it found {at_model:.0%} of ties that were "
            f"then lost, against {at_rule:.0%} for the simple rule best there ({rule})."
        )
    if at_blend >= at_rule:
        return "blend", (
            f"The list is ranked by a blend of the model and the rule {rule} (the mean of "
            f"their ranks): {top} the model alone found {at_model:.0%} of ties that were then "
            f"lost, the rule {at_rule:.0%} and the blend {at_blend:.0%}."
        )
    return rule, (
        f"The list is ranked by the simple rule {rule}: {top} it found {at_rule:.0%} of ties "
        f"that were then lost, against {at_model:.0%} for the model and {at_blend:.0%} for a "
        "blend of the two, so on this data the model does not earn the top of the list."
    )


def _auto_choice(
    prepared: PreparedPanel,
    *,
    ranking: str,
    family: str,
    table: pd.DataFrame | None,
    reuse: Mapping[str, str] | None = None,
    past_cutoff: bool,
    capacity: int,
    random_state: int | None,
    recency_half_life: float | None,
    opts: _Options,
) -> tuple[str, str, str]:
    """The ranking and family that :func:`at_risk` uses for ``"auto"``, and why, in words.

    Made from `table` (a backtest of the same data) or, when None, from a
    backtest run here (``k`` = `capacity` and four times it, as the report's);
    the model and the logistic regression when no backtest can be run (too
    short a history, or a past cutoff, whose backtest would read later months).
    """
    if past_cutoff:
        return (
            "model" if ranking == "auto" else ranking,
            "logistic" if family == "auto" else family,
            "The list is ranked by the model (no backtest for a past cutoff: it would read "
            "the months after it).",
        )
    if table is None:
        try:
            table = backtest(
                prepared,
                horizon=opts.horizon,
                k=(max(capacity, 1), 4 * max(capacity, 1)),
                model="auto" if family == "auto" else family,
                random_state=random_state,
                baseline_months=opts.baseline_months,
                min_referrals=opts.min_referrals,
                churn_fraction=opts.churn_fraction,
                recency_half_life=recency_half_life,
                reuse=reuse,
            )
        except InsufficientDataError as exc:
            return (
                "model" if ranking == "auto" else ranking,
                "logistic" if family == "auto" else family,
                f"The list is ranked by the model (no backtest: {exc})",
            )
    why = []
    if family == "auto":
        family, family_why = choose_family(table)
        why.append(family_why)
    if ranking == "auto":
        ranking, ranking_why = choose_ranking(table)
        why.append(ranking_why)
    return ranking, family, " ".join(why)
