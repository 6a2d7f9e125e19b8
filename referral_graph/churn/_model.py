"""The estimator: :class:`ChurnModel`, a calibrated scikit-learn classifier (logistic or gbm).

It knows nothing of panels or cutoffs: it is fitted on a feature matrix and
labels, predicts calibrated probabilities and explains them
(:meth:`ChurnModel.contributions`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from referral_graph._checks import check_choice, check_float, check_int
from referral_graph.churn._options import FloatArray
from referral_graph.exceptions import InsufficientDataError, NotFittedError, ParameterError

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")


def _column_medians(x: npt.NDArray[Any]) -> FloatArray:
    """Median of the finite values of each column (0 for a column without any)."""
    out = np.zeros(x.shape[1], dtype=np.float64)
    for j in range(x.shape[1]):
        column = x[:, j]
        finite = column[np.isfinite(column)]
        if finite.size:
            out[j] = float(np.median(finite))
    return out


class _ChurnNotFittedError(NotFittedError, SklearnNotFittedError):  # type: ignore[misc]
    """Raised by an unfitted :class:`ChurnModel`; both the package's and scikit-learn's error."""


class ChurnModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Calibrated churn classifier (a scikit-learn estimator).

    ``fit`` builds a :class:`~sklearn.pipeline.Pipeline` (mean imputation,
    standardisation, L2-penalised logistic regression; or a
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, which handles
    missing values itself) and, when ``calibration`` is set and every class
    has at least ``2 * cv`` samples, wraps a copy of it in
    :class:`~sklearn.calibration.CalibratedClassifierCV` so that
    ``predict_proba`` returns calibrated probabilities. The pipeline fitted on
    all the data is kept in ``pipeline_`` to explain predictions.

    Parameters
    ----------
    model : {"logistic", "gbm"}, default "logistic"
        The classifier.
    C : float, default 1.0
        Inverse L2 regularisation strength of the logistic regression.
    calibration : {"sigmoid", "isotonic"} or None, default "sigmoid"
        Calibration method. Sigmoid (Platt) scaling is strictly monotone, so it
        keeps the ranking of the ties; isotonic regression is more flexible
        but maps scores to steps (tied risks).
    cv : int, default 3
        Folds of the calibration.
    class_weight : dict, "balanced" or None
        Passed to the classifier. With calibration on, the calibrated
        probabilities are estimated on the unweighted data, so they stay
        probabilities of churn; class weights then only shape the ranking.
    max_iter : int, optional
        Iterations of the solver (logistic, Newton-Cholesky, default 100) or
        boosting rounds (gbm, default 200).
    n_threads : int or None, default 1
        Threads of the BLAS and OpenMP pools while fitting and predicting
        (through :mod:`threadpoolctl`); each fit is small (tens of features),
        so more threads mostly add overhead. None leaves the pools alone.
    random_state : int, optional
        Seed of the calibration folds and of the gradient boosting.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` was a DataFrame with string column names.
    pipeline_ : sklearn.pipeline.Pipeline
        The pipeline fitted on all the data (uncalibrated).
    calibrator_ : CalibratedClassifierCV or None
        The calibrated model, or None when calibration was off or the data
        too small.
    calibrated_ : bool
        Whether ``predict_proba`` is calibrated.
    n_iter_ : int
        Solver iterations (logistic) or boosting rounds (gbm) of ``pipeline_``.
    coef_, intercept_ : ndarray
        Logistic coefficients on the standardised features (logistic only).
    reference_ : ndarray
        Training medians of the features (the reference of explanations).
    empty_features_ : ndarray of bool
        Features missing in every training row; they are set to 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> m = ChurnModel(random_state=0).fit(X, y)
    >>> m.predict_proba(X[:2]).shape, m.calibrated_, m.coef_.shape
    ((2, 2), True, (1, 3))
    """

    def __init__(
        self,
        *,
        model: str = "logistic",
        C: float = 1.0,  # noqa: N803
        calibration: str | None = "sigmoid",
        cv: int = 3,
        class_weight: dict[Any, float] | str | None = None,
        max_iter: int | None = None,
        n_threads: int | None = 1,
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.C = C
        self.calibration = calibration
        self.cv = cv
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.n_threads = n_threads
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # the imputer (logistic) or the trees (gbm) handle NaN
        return tags

    def _make_pipeline(self) -> Pipeline:
        fn = "ChurnModel"
        check_choice(self.model, "model", fn, ("logistic", "gbm"))
        check_choice(self.calibration, "calibration", fn, ("sigmoid", "isotonic", None))
        check_float(self.C, "C", fn, low=0.0, high=math.inf, low_open=True)
        check_int(self.cv, "cv", fn, low=2, high=20)
        if self.max_iter is not None:
            check_int(self.max_iter, "max_iter", fn, low=1, high=1_000_000)
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", fn, low=1, high=1024)
        if self.model == "logistic":
            return Pipeline(
                [
                    ("impute", SimpleImputer(strategy="mean", keep_empty_features=True)),
                    ("scale", StandardScaler()),
                    (
                        "classify",
                        LogisticRegression(
                            C=float(self.C),
                            solver="newton-cholesky",
                            class_weight=self.class_weight,
                            max_iter=self.max_iter or 100,
                            random_state=self.random_state,
                        ),
                    ),
                ]
            )
        return Pipeline(
            [
                (
                    "classify",
                    HistGradientBoostingClassifier(
                        max_iter=self.max_iter or 200,
                        learning_rate=0.1,
                        max_leaf_nodes=15,
                        min_samples_leaf=40,
                        l2_regularization=1.0,
                        class_weight=self.class_weight,
                        random_state=self.random_state,
                    ),
                ),
            ]
        )

    def fit(self, X: Any, y: Any) -> ChurnModel:  # noqa: N803
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; missing values are allowed.
        y : array-like of shape (n_samples,)
            Class labels (for churn: True/1 = churned).

        Returns
        -------
        ChurnModel
            The fitted estimator.
        """
        return self._fit(X, y, explain=True)

    def _fit(self, X: Any, y: Any, *, explain: bool) -> ChurnModel:  # noqa: N803
        """Fit; with ``explain=False``, skip what only explanations need.

        When the model is calibrated, ``predict_proba`` uses the calibrated
        folds only; the pipeline fitted on all the data (``pipeline_``,
        ``coef_``) and the reference medians serve :meth:`contributions` and
        the words of :func:`at_risk`. A model that only predicts (the
        backtest's) skips them: the same probabilities for about half the work.
        ``reference_`` is then all missing and ``pipeline_`` is unset.
        """
        pipe = self._make_pipeline()
        X, y = validate_data(  # noqa: N806
            self, X, y, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32]
        )
        check_classification_targets(y)
        classes, y_codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InsufficientDataError(
                "ChurnModel needs samples of at least 2 classes in the data; "
                f"got only one class ({classes[0]!r})."
            )
        self.classes_ = classes
        smallest = int(np.bincount(y_codes).min())
        calibrate = self.calibration is not None and smallest >= 2 * int(self.cv)
        full = explain or not calibrate  # fit the pipeline on all the data
        self.reference_ = _column_medians(X) if full else np.full(X.shape[1], np.nan)
        # A feature missing in every row carries nothing (and trips the tree binning).
        self.empty_features_ = (
            np.asarray(np.isnan(X).all(axis=0)) if len(X) else np.zeros(X.shape[1], dtype=bool)
        )
        X = self._fill_empty(X)  # noqa: N806
        self.calibrator_: CalibratedClassifierCV | None = None
        with self._threads():
            if full:
                self.pipeline_ = clone(pipe).fit(X, y)
            if calibrate:
                folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
                self.calibrator_ = CalibratedClassifierCV(
                    clone(pipe), method=self.calibration, cv=folds
                ).fit(X, y)
        self.calibrated_ = self.calibrator_ is not None
        if full:
            final = self.pipeline_[-1]
            self.n_iter_ = int(np.max(final.n_iter_))
            if self.model == "logistic":
                self.coef_ = final.coef_.copy()
                self.intercept_ = final.intercept_.copy()
        else:
            assert self.calibrator_ is not None
            self.n_iter_ = max(
                int(np.max(c.estimator[-1].n_iter_))
                for c in self.calibrator_.calibrated_classifiers_
            )
        logger.debug(
            "ChurnModel fitted on %s rows (calibrated: %s)", f"{len(y):,}", self.calibrated_
        )
        return self

    def _threads(self) -> contextlib.AbstractContextManager[Any]:
        if self.n_threads is None:
            return contextlib.nullcontext()
        limits: contextlib.AbstractContextManager[Any] = threadpool_limits(
            limits=int(self.n_threads)
        )
        return limits

    def _fill_empty(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if not self.empty_features_.any():
            return x
        x = x.copy()
        x[:, self.empty_features_] = 0.0
        return x

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self)
        except SklearnNotFittedError as exc:
            raise _ChurnNotFittedError(
                "This ChurnModel is not fitted yet; call fit (or fit_churn_model) first."
            ) from exc

    def predict_proba(self, X: Any) -> FloatArray:  # noqa: N803
        """Return class probabilities (calibrated when ``calibrated_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        self._check_fitted()
        X = self._fill_empty(  # noqa: N806
            validate_data(
                self, X, reset=False, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32]
            )
        )
        model = self.calibrator_ if self.calibrator_ is not None else self.pipeline_
        with self._threads():
            return np.asarray(model.predict_proba(X), dtype=np.float64)

    def predict(self, X: Any) -> npt.NDArray[Any]:  # noqa: N803
        """Return the most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def contributions(self, X: Any) -> FloatArray:  # noqa: N803
        """Per-feature contributions to the log-odds of the last class (binary models).

        Logistic: ``coef x standardised value`` (relative to the training mean;
        they sum to the uncalibrated logit minus the intercept). Gradient
        boosting: the fall in log-odds when the feature is set to its training
        median, one feature at a time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> m = ChurnModel(calibration=None).fit(X, y)
        >>> bool(m.contributions(X)[3, 0] > 0 > m.contributions(X)[0, 0])
        True
        """
        self._check_fitted()
        if len(self.classes_) != 2:
            raise ParameterError("ChurnModel.contributions is defined for binary models only.")
        X = self._fill_empty(  # noqa: N806
            validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        )
        if self.model == "logistic":
            z = self.pipeline_[:-1].transform(X)
            return np.asarray(z * self.coef_[0], dtype=np.float64)

        def _logit(data: FloatArray) -> FloatArray:
            p = np.clip(self.pipeline_.predict_proba(data)[:, 1], 1e-6, 1 - 1e-6)
            return np.asarray(np.log(p / (1 - p)), dtype=np.float64)

        full = _logit(X)
        out = np.empty(X.shape, dtype=np.float64)
        for j in range(X.shape[1]):
            moved = X.copy()
            moved[:, j] = self.reference_[j]
            out[:, j] = full - _logit(moved)
        return out
