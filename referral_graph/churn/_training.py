"""Training: the model chosen from its name (or a template) and fitted on labelled cutoffs.

:func:`_make_model` selects the model family, :func:`_fit_on` fits it on rows drawn
from several cutoffs' inputs and :func:`fit_churn_model` is the public entry point.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from referral_graph._checks import check_choice, check_float, check_int
from referral_graph.churn._features import (
    _INT_COLUMNS,
    FEATURE_COLUMNS,
    _feature_columns,
    _features_at,
)
from referral_graph.churn._inputs import _labelled_slice
from referral_graph.churn._matrix import _frame
from referral_graph.churn._model import ChurnModel
from referral_graph.churn._options import (
    CutoffsLike,
    FloatArray,
    IntArray,
    _parse_cutoffs,
)
from referral_graph.churn._panel import (
    PreparedPanel,
    _check_cutoff,
    _prepared_with_options,
    _Slice,
)
from referral_graph.exceptions import InsufficientDataError

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")


def _training_rows(
    slices: Sequence[_Slice], max_samples: int | None, rng: np.random.Generator
) -> tuple[list[tuple[_Slice, IntArray]], int]:
    sizes = np.array([len(s.idx) for s in slices], dtype=np.int64)
    total = int(sizes.sum())
    if max_samples is None or total <= max_samples:
        return [(s, np.arange(len(s.idx), dtype=np.intp)) for s in slices], total
    quota = np.floor(sizes * (max_samples / total)).astype(np.int64)
    picked = []
    for s, q in zip(slices, quota, strict=True):
        rows = np.sort(rng.choice(len(s.idx), size=int(q), replace=False)).astype(np.intp)
        picked.append((s, rows))
    return picked, int(quota.sum())


#: The model families the backtest compares (``model="auto"``), and the ensemble's weight of
#: the boosted trees for each: the logistic regression alone, the trees alone, their mean.
FAMILIES: dict[str, float] = {"logistic": 0.0, "gbm": 1.0, "ensemble": 0.5}

#: Training rows of a fit, at most (drawn at random, seeded, in proportion to the cutoffs'
#: sizes): beyond about 100,000 rows the rankings measured on the 50,000-provider market no
#: longer change (ROC-AUC within 0.0005 of 200,000 rows), while the fit's time grows.
MAX_TRAIN_SAMPLES = 100_000

#: Months after which a training cutoff weighs half as much as the latest one (default of
#: ``recency_half_life``): referral dynamics drift over years, so recent cutoffs teach more.
RECENCY_HALF_LIFE = 12.0


def _family_model(
    family: str,
    *,
    C: float = 1.0,  # noqa: N803
    calibration: str | None = "sigmoid",
    random_state: int | None,
) -> ChurnModel:
    """The model of a family of :data:`FAMILIES`, as the backtest measured it.

    ``"logistic"`` is the calibrated logistic regression; ``"gbm"`` and
    ``"ensemble"`` are ``model="ensemble"`` with the trees' weight of the family
    (the trees on at most 30,000 rows, their own probabilities).
    """
    if family == "logistic":
        return ChurnModel(model="logistic", C=C, calibration=calibration, random_state=random_state)
    return ChurnModel(
        model="ensemble",
        C=C,
        calibration=calibration,
        random_state=random_state,
        boosting_weight=FAMILIES[family],
    )


def _make_model(
    model: str | ChurnModel,
    *,
    C: float,  # noqa: N803
    calibration: str | None,
    random_state: int | None,
    fn: str = "fit_churn_model",
) -> ChurnModel:
    if isinstance(model, ChurnModel):
        template: ChurnModel = clone(model)
        return template
    check_choice(model, "model", fn, ("logistic", "gbm", "ensemble"))
    return ChurnModel(model=model, C=C, calibration=calibration, random_state=random_state)


def _check_half_life(half_life: float | None, fn: str) -> float | None:
    if half_life is None:
        return None
    return check_float(half_life, "recency_half_life", fn, low=0.0, high=1e6, low_open=True)


def _recency_weights(
    picked: Sequence[tuple[_Slice, IntArray]], half_life: float | None
) -> FloatArray | None:
    """Row weights halving every `half_life` months before the latest training cutoff.

    Scaled to a mean of 1, so that the model's penalty keeps its meaning.
    """
    if half_life is None or not picked:
        return None
    last = max(s.ci for s, _ in picked)
    weights = np.concatenate(
        [np.full(len(rows), 0.5 ** ((last - s.ci) / half_life)) for s, rows in picked]
    )
    return weights / weights.mean() if len(weights) else None


def _fit_on(
    slices: Sequence[_Slice],
    model: ChurnModel,
    max_samples: int | None,
    rng: np.random.Generator,
    *,
    frame: bool,
    explain: bool = True,
    half_life: float | None = None,
) -> tuple[ChurnModel, list[tuple[_Slice, IntArray]]]:
    """Fit `model` on rows drawn from `slices`, weighted by recency (`half_life` months).

    With ``explain=False`` (a model that only predicts, as in the backtest) a
    :class:`ChurnModel` skips what only explanations need (see
    :meth:`ChurnModel._fit`); its probabilities are the same.
    """
    picked, _ = _training_rows(slices, max_samples, rng)
    fitted = _fit_picked(picked, model, frame=frame, explain=explain, half_life=half_life)
    return fitted, picked


def _fit_picked(
    picked: Sequence[tuple[_Slice, IntArray]],
    model: ChurnModel,
    *,
    frame: bool,
    explain: bool = True,
    half_life: float | None = None,
) -> ChurnModel:
    """Fit `model` on the rows `picked` (:func:`_training_rows`) of their slices.

    Apart from :func:`_fit_on` so that the rows of several fits can be drawn in
    order from one generator, and the fits then run side by side (the backtest's).
    """
    x_train = np.concatenate([s.x[rows] for s, rows in picked])
    y_parts = [s.y[rows] for s, rows in picked if s.y is not None]
    y = np.concatenate(y_parts)
    data: Any = (
        pd.DataFrame(x_train, columns=list(FEATURE_COLUMNS), copy=False) if frame else x_train
    )
    weights = _recency_weights(picked, half_life)
    if type(model).fit is ChurnModel.fit:
        model._fit(data, y, explain=explain, sample_weight=weights)
    elif weights is None:  # a subclass with its own fit
        model.fit(data, y)
    else:
        model.fit(data, y, sample_weight=weights)
    logger.info(
        "Churn model fitted on %s rows from %s cutoff(s) (churn rate %.1f %%)",
        f"{len(y):,}",
        len(picked),
        100 * float(np.mean(y)) if len(y) else 0.0,
    )
    return model


def fit_churn_model(
    panel: pd.DataFrame | PreparedPanel,
    *,
    cutoffs: CutoffsLike | None = None,
    horizon: int = 3,
    baseline_months: int | Literal["auto"] = "auto",
    min_referrals: int = 6,
    churn_fraction: float = 0.25,
    providers: pd.DataFrame | None = None,
    model: str | ChurnModel = "logistic",
    C: float = 1.0,  # noqa: N803
    calibration: str | None = "sigmoid",
    random_state: int | None = 0,
    max_train_samples: int | None = MAX_TRAIN_SAMPLES,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
    recency_half_life: float | None = RECENCY_HALF_LIFE,
) -> tuple[ChurnModel, pd.DataFrame]:
    """Fit a :class:`ChurnModel` on several labelled cutoffs ("slices") at once.

    Parameters
    ----------
    panel : pandas.DataFrame or PreparedPanel
        The edge panel.
    cutoffs : str, Timestamp or iterable of them, optional
        Training cutoffs; default: every cutoff with a full baseline and an
        observed horizon (:func:`churn_cutoffs`).
    horizon, min_referrals, churn_fraction
        The definitions in the module docstring.
    baseline_months : int or "auto", default "auto"
        The baseline window; ``"auto"``: 12 months, or on a history shorter than
        ``12 + 2 * horizon`` months as many as fit, down to 6 (so that 12 to 17
        months of data still give a list and its backtest).
    providers : pandas.DataFrame, optional
        As in :func:`churn_features`.
    model : {"logistic", "gbm", "ensemble"} or ChurnModel, default "logistic"
        The classifier, or an unfitted template (cloned).
    C, calibration, random_state
        Passed to :class:`ChurnModel` (when `model` is a string).
    max_train_samples : int or None, default 100,000
        At most this many rows are drawn at random (seeded), in proportion to
        the cutoffs' sizes; None uses every row.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.
    recency_half_life : float or None, default 12
        Months after which a training cutoff's rows weigh half as much as the
        latest cutoff's (dynamics drift over the years); None weighs every
        cutoff alike.

    Returns
    -------
    model : ChurnModel
        Fitted on :data:`FEATURE_COLUMNS` (a DataFrame, so it has
        ``feature_names_in_``).
    table : pandas.DataFrame
        The rows the model was fitted on: the :func:`churn_features` columns
        plus ``churned``.

    Raises
    ------
    InsufficientDataError
        If no cutoff has labels, or the labels hold a single class.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> months = pd.date_range("2023-01-01", periods=20, freq="MS")
    >>> rows = [(f"S{i}", f"T{i % 5}", m, int(rng.poisson(3 if i % 3 or k < 14 else 0.2)))
    ...         for i in range(60) for k, m in enumerate(months)]
    >>> p = pd.DataFrame(rows, columns=["source", "target", "month", "referrals"])
    >>> m, table = fit_churn_model(p[p["referrals"] > 0])
    >>> len(table), round(float(table["churned"].mean()), 2)
    (360, 0.23)
    """
    fn = "fit_churn_model"
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
    if max_train_samples is not None:
        check_int(max_train_samples, "max_train_samples", fn, low=10, high=1_000_000_000)
    half_life = _check_half_life(recency_half_life, fn)
    template = _make_model(model, C=C, calibration=calibration, random_state=random_state)
    ties = prepared._ties
    if cutoffs is None:
        indices = list(range(opts.baseline_months, ties.n_months - opts.horizon + 1))
        if not indices:
            raise InsufficientDataError(
                f"The panel covers {ties.n_months} month(s); a labelled cutoff needs "
                f"{opts.baseline_months + opts.horizon} ({opts.baseline_months} baseline + "
                f"{opts.horizon} horizon)."
            )
    else:
        indices = [ties.cutoff_index(c) for c in _parse_cutoffs(cutoffs, fn)]
    for ci in indices:
        _check_cutoff(ties, ci, opts, labels=True)
    slices = [_labelled_slice(prepared, ci, opts) for ci in indices]
    rng = np.random.default_rng(random_state)
    fitted, picked = _fit_on(
        slices, template, max_train_samples, rng, frame=True, half_life=half_life
    )
    cols = _feature_columns(ties)
    frames = []
    for s, rows in picked:
        # The table's columns, for the drawn rows only (the same values as the model's).
        _, values = _features_at(ties, s.ci, opts, idx=s.idx[rows])
        frame = _frame(ties, s.ci, s.idx[rows], values, cols)
        frame["churned"] = np.asarray(s.y)[rows] if s.y is not None else False
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    for col in _INT_COLUMNS:
        table[col] = table[col].round().astype("int64")
    return fitted, table
