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

from referral_graph._checks import check_choice, check_int
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


def _make_model(
    model: str | ChurnModel,
    *,
    C: float,  # noqa: N803
    calibration: str | None,
    random_state: int | None,
) -> ChurnModel:
    if isinstance(model, ChurnModel):
        template: ChurnModel = clone(model)
        return template
    check_choice(model, "model", "fit_churn_model", ("logistic", "gbm"))
    return ChurnModel(model=model, C=C, calibration=calibration, random_state=random_state)


def _fit_on(
    slices: Sequence[_Slice],
    model: ChurnModel,
    max_samples: int | None,
    rng: np.random.Generator,
    *,
    frame: bool,
    explain: bool = True,
) -> tuple[ChurnModel, list[tuple[_Slice, IntArray]]]:
    """Fit `model` on rows drawn from `slices`.

    With ``explain=False`` (a model that only predicts, as in the backtest) a
    :class:`ChurnModel` skips what only explanations need (see
    :meth:`ChurnModel._fit`); its probabilities are the same.
    """
    picked, n_rows = _training_rows(slices, max_samples, rng)
    x_train = np.concatenate([s.x[rows] for s, rows in picked])
    y_parts = [s.y[rows] for s, rows in picked if s.y is not None]
    y = np.concatenate(y_parts)
    data: Any = (
        pd.DataFrame(x_train, columns=list(FEATURE_COLUMNS), copy=False) if frame else x_train
    )
    if type(model).fit is ChurnModel.fit:
        model._fit(data, y, explain=explain)
    else:  # a subclass with its own fit
        model.fit(data, y)
    logger.info(
        "Churn model fitted on %s rows from %s cutoff(s) (churn rate %.1f %%)",
        f"{n_rows:,}",
        len(slices),
        100 * float(np.mean(y)) if len(y) else 0.0,
    )
    return model, picked


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
    max_train_samples: int | None = 200_000,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
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
    model : {"logistic", "gbm"} or ChurnModel, default "logistic"
        The classifier, or an unfitted template (cloned).
    C, calibration, random_state
        Passed to :class:`ChurnModel` (when `model` is a string).
    max_train_samples : int or None, default 200,000
        At most this many rows are drawn at random (seeded), in proportion to
        the cutoffs' sizes; None uses every row.
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row (months with no referral at all); default: the month
        of the last row.

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
    fitted, picked = _fit_on(slices, template, max_train_samples, rng, frame=True)
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
