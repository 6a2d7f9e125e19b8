"""The estimator: :class:`ChurnModel`, a calibrated scikit-learn classifier.

Three families: a logistic regression, gradient-boosted trees, and their
ensemble (a weighted mean of the two probabilities).

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
from threadpoolctl import ThreadpoolController

from referral_graph import _worker
from referral_graph._checks import check_choice, check_float, check_int
from referral_graph.churn._options import FloatArray
from referral_graph.exceptions import InsufficientDataError, NotFittedError, ParameterError

#: The package's logger (records keep the name they had when churn was one module).
logger = logging.getLogger("referral_graph.churn")

#: The thread pools (BLAS, OpenMP) loaded with scikit-learn, found once: finding them again
#: for every limit (``threadpool_limits``) reads the process's libraries, about 6 ms each time.
_POOLS = ThreadpoolController()

#: Rows from which the trees' probabilities take two threads where a core is idle
#: (``ChurnModel._threads``): the backtest's test cutoffs and the at-risk list, hundreds of
#: thousands of ties on a large market (2.7 s on one thread for 640,000).
PARALLEL_PREDICTION_ROWS = 50_000


def _column_medians(x: npt.NDArray[Any]) -> FloatArray:
    """Median of the finite values of each column (0 for a column without any)."""
    out = np.zeros(x.shape[1], dtype=np.float64)
    for j in range(x.shape[1]):
        column = x[:, j]
        finite = column[np.isfinite(column)]
        if finite.size:
            out[j] = float(np.median(finite))
    return out


class _WeightedPipeline(Pipeline):  # type: ignore[misc]
    """A :class:`~sklearn.pipeline.Pipeline` whose ``fit`` takes ``sample_weight`` (for the
    classifier, its last step), so that :class:`~sklearn.calibration.CalibratedClassifierCV`
    passes the weights on without scikit-learn's global metadata routing."""

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, **params: Any) -> Any:  # noqa: N803
        if sample_weight is not None:
            params[f"{self.steps[-1][0]}__sample_weight"] = sample_weight
        return super().fit(X, y, **params)


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

    ``model="ensemble"`` fits both: the calibrated logistic regression as above
    and gradient-boosted trees on at most `boosting_samples` rows, whose own
    probabilities (log-loss boosting with early stopping) are used as they are;
    ``predict_proba`` is ``(1 - boosting_weight) x logistic + boosting_weight x
    boosting``, and :meth:`family_probabilities` gives the two parts. The
    linear model extrapolates smoothly on small data, the trees find
    interactions (a long silence matters more for a frequent tie) on large
    data; which mix ranks best is a property of the user's data, measured by
    :func:`referral_graph.churn.backtest`.

    Parameters
    ----------
    model : {"logistic", "gbm", "ensemble"}, default "logistic"
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
        so more threads mostly add overhead. An ensemble's parts (the trees,
        the calibrated folds, the full pipeline) are fitted on two threads
        where a core is idle, one part per thread; trees fitted alone use two
        OpenMP threads there, and so do the trees' probabilities of 50,000
        rows or more (each tree's value for a row is found by one thread: the
        same on any number). None leaves the pools alone.
    random_state : int, optional
        Seed of the calibration folds and of the gradient boosting.
    boosting_weight : float, default 0.5
        ``model="ensemble"``: the weight of the boosted trees in the mean (0:
        the logistic regression alone, 1: the trees alone; the part with no
        weight is not fitted).
    boosting_samples : int or None, default 30,000
        ``model="ensemble"``: the trees are fitted on at most this many rows,
        drawn at random (seeded; with sample weights, each row kept with
        probability weight / largest weight first); their fit grows with the rows
        much faster than the logistic regression's. None: every row.

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
        Whether ``predict_proba`` is calibrated (for an ensemble: its logistic part).
    boosting_ : ChurnModel or None
        ``model="ensemble"`` with a positive `boosting_weight`: the fitted trees
        (an uncalibrated ``model="gbm"``). The logistic part is the model itself.
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
        boosting_weight: float = 0.5,
        boosting_samples: int | None = 30_000,
    ) -> None:
        self.model = model
        self.C = C
        self.calibration = calibration
        self.cv = cv
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.n_threads = n_threads
        self.random_state = random_state
        self.boosting_weight = boosting_weight
        self.boosting_samples = boosting_samples

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # the imputer (logistic) or the trees (gbm) handle NaN
        return tags

    def _make_pipeline(self) -> _WeightedPipeline:
        fn = "ChurnModel"
        check_choice(self.model, "model", fn, ("logistic", "gbm", "ensemble"))
        check_float(self.boosting_weight, "boosting_weight", fn, low=0.0, high=1.0)
        if self.boosting_samples is not None:
            check_int(self.boosting_samples, "boosting_samples", fn, low=100, high=1_000_000_000)
        check_choice(self.calibration, "calibration", fn, ("sigmoid", "isotonic", None))
        check_float(self.C, "C", fn, low=0.0, high=math.inf, low_open=True)
        check_int(self.cv, "cv", fn, low=2, high=20)
        if self.max_iter is not None:
            check_int(self.max_iter, "max_iter", fn, low=1, high=1_000_000)
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", fn, low=1, high=1024)
        if self.model in ("logistic", "ensemble"):
            return _WeightedPipeline(
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
        return _WeightedPipeline(
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

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ChurnModel:  # noqa: N803
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; missing values are allowed.
        y : array-like of shape (n_samples,)
            Class labels (for churn: True/1 = churned).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows (for example higher for recent cutoffs), passed
            to the classifier and to the calibration; the imputation and
            standardisation of the logistic regression stay unweighted. As in
            scikit-learn, the penalty `C` applies to the weighted sum of the
            losses: weights of mean 1 keep its meaning.

        Returns
        -------
        ChurnModel
            The fitted estimator.
        """
        return self._fit(X, y, explain=True, sample_weight=sample_weight)

    def _fit(
        self,
        X: Any,  # noqa: N803
        y: Any,
        *,
        explain: bool,
        sample_weight: Any = None,
    ) -> ChurnModel:
        """Fit; with ``explain=False``, skip what only explanations need.

        When the model is calibrated, ``predict_proba`` uses the calibrated
        folds only; the pipeline fitted on all the data (``pipeline_``,
        ``coef_``) and the reference medians serve :meth:`contributions` and
        the words of :func:`at_risk`. A model that only predicts (the
        backtest's) skips them: the same probabilities for about half the work.
        ``reference_`` is then all missing and, for a calibrated model,
        ``pipeline_`` is unset (an uncalibrated one, such as an ensemble's
        trees, predicts with it). An ensemble's trees and linear parts are
        fitted side by side where a core is idle
        (:func:`referral_graph._worker.side_by_side`).
        """
        pipe = self._make_pipeline()
        X, y = validate_data(  # noqa: N806
            self, X, y, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32]
        )
        check_classification_targets(y)
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float64)
            if weights.shape != (len(y),) or not np.all(np.isfinite(weights)) or weights.min() < 0:
                raise ParameterError(
                    "The 'sample_weight' parameter of ChurnModel.fit must hold one finite, "
                    f"non-negative weight per row ({len(y)}); got shape {weights.shape}."
                )
            if weights.sum() <= 0:
                raise ParameterError(
                    "The 'sample_weight' parameter of ChurnModel.fit must not be zero for "
                    "every row."
                )
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
        self.reference_ = _column_medians(X) if explain else np.full(X.shape[1], np.nan)
        # A feature missing in every row carries nothing (and trips the tree binning).
        self.empty_features_ = (
            np.asarray(np.isnan(X).all(axis=0)) if len(X) else np.zeros(X.shape[1], dtype=bool)
        )
        X = self._fill_empty(X)  # noqa: N806
        linear = self.model != "ensemble" or self.boosting_weight < 1
        # The parts are independent fits: where a core is idle they run side by side (the
        # trees, the longest, first), else one after another; the same fits either way.
        parts = [
            *(["trees"] if self.model == "ensemble" and self.boosting_weight > 0 else []),
            *(["calibrated"] if calibrate and linear else []),
            *(["full"] if full else []),
        ]

        def fitted(part: str) -> Any:
            if part == "trees":
                return self._fit_boosting(X, y, weights, explain=explain)
            with self._threads():
                if part == "full":
                    return clone(pipe).fit(X, y, sample_weight=weights)
                folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
                return CalibratedClassifierCV(clone(pipe), method=self.calibration, cv=folds).fit(
                    X, y, sample_weight=weights
                )

        done = dict(zip(parts, _worker.side_by_side(fitted, parts), strict=True))
        self.boosting_ = done.get("trees")
        self.calibrator_: CalibratedClassifierCV | None = done.get("calibrated")
        if full:
            self.pipeline_ = done["full"]
        self.calibrated_ = self.calibrator_ is not None
        if full:
            final = self.pipeline_[-1]
            self.n_iter_ = int(np.max(final.n_iter_))
            if self.model in ("logistic", "ensemble"):
                self.coef_ = final.coef_.copy()
                self.intercept_ = final.intercept_.copy()
        elif self.calibrator_ is None:  # an ensemble of the trees alone
            assert self.boosting_ is not None
            self.n_iter_ = self.boosting_.n_iter_
        else:
            self.n_iter_ = max(
                int(np.max(c.estimator[-1].n_iter_))
                for c in self.calibrator_.calibrated_classifiers_
            )
        logger.debug(
            "ChurnModel fitted on %s rows (calibrated: %s)", f"{len(y):,}", self.calibrated_
        )
        return self

    def _fit_boosting(
        self, x: npt.NDArray[Any], y: npt.NDArray[Any], weights: FloatArray | None, *, explain: bool
    ) -> ChurnModel:
        """The ensemble's trees: an uncalibrated ``gbm`` on at most `boosting_samples` rows.

        Rows are drawn at random (seeded). With weights, each row is first kept with
        probability ``weight / largest weight`` (rejection sampling: the rows kept follow
        the weighted distribution, each at most once, so that the trees' early-stopping
        rows stay apart from their training rows), and the trees are fitted unweighted,
        without the weighted quantiles of their binning (seconds on 50,000 rows).
        """
        n = len(y)
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(n)
        if weights is not None and n:
            rows = np.flatnonzero(rng.random(n) < weights / weights.max())
        if self.boosting_samples is not None and len(rows) > self.boosting_samples:
            rows = np.sort(rng.choice(rows, size=int(self.boosting_samples), replace=False))
        if len(np.unique(y[rows])) < 2:  # the draw missed a class: every row
            rows = np.arange(n)
        threads = self.n_threads
        if threads is not None:
            # the trees' histograms parallelise well: two threads where a core is idle, one
            # beside the ensemble's linear parts, in a worker process beside the main work or
            # on a busy machine (a thread waiting for a busy core makes each fit many times
            # slower: 74 s instead of 2 s)
            threads = max(int(threads), _worker.idle_threads(2))
        trees = ChurnModel(
            model="gbm",
            calibration=None,
            class_weight=self.class_weight,
            n_threads=threads,
            random_state=self.random_state,
        )
        return trees._fit(x[rows], y[rows], explain=explain)

    def family_probabilities(self, X: Any) -> dict[str, FloatArray]:  # noqa: N803
        """The probability of the last class (churn) from each fitted family of an ensemble.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, as in :meth:`fit`; missing values are allowed.

        Returns
        -------
        dict of str to ndarray of shape (n_samples,)
            ``"logistic"`` and ``"gbm"`` (the parts fitted: a part with no weight
            is not), or the model's own family for a single-family model.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 2)); y = (X[:, 0] * X[:, 1] > 0).astype(int)
        >>> m = ChurnModel(model="ensemble", random_state=0).fit(X, y)
        >>> p = m.family_probabilities(X)
        >>> sorted(p), bool(np.allclose((p["logistic"] + p["gbm"]) / 2, m.predict_proba(X)[:, 1]))
        (['gbm', 'logistic'], True)
        """
        return {name: proba[:, -1] for name, proba in self._family_proba(X).items()}

    def _family_proba(self, X: Any) -> dict[str, FloatArray]:  # noqa: N803
        """Class probabilities of each fitted family (one for a single-family model)."""
        self._check_fitted()
        X = self._fill_empty(  # noqa: N806
            validate_data(
                self, X, reset=False, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32]
            )
        )
        out: dict[str, FloatArray] = {}
        if self.model != "ensemble" or self.boosting_weight < 1:
            model = self.calibrator_ if self.calibrator_ is not None else self.pipeline_
            with self._threads(rows=len(X)):
                family = "logistic" if self.model == "ensemble" else str(self.model)
                out[family] = np.asarray(model.predict_proba(X), dtype=np.float64)
        if self.boosting_ is not None:
            out["gbm"] = self.boosting_.predict_proba(X)
        return out

    def _threads(self, *, rows: int = 0) -> contextlib.AbstractContextManager[Any]:
        """The thread limit of the pools this family computes in: every pool for the
        linear model, OpenMP for the trees (so that an ensemble's trees keep their own).

        The trees' probabilities of `rows` rows, from :data:`PARALLEL_PREDICTION_ROWS`,
        take two threads where a core is idle: each tree's value for a row is found by one
        thread, and the trees are summed in order, so the figures are the same on any number
        of threads."""
        if self.n_threads is None:
            return contextlib.nullcontext()
        threads = int(self.n_threads)
        if self.model == "gbm" and rows >= PARALLEL_PREDICTION_ROWS:
            threads = max(threads, _worker.idle_threads(2))
        limits: contextlib.AbstractContextManager[Any] = _POOLS.limit(
            limits=threads, user_api="openmp" if self.model == "gbm" else None
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
            Features, as in :meth:`fit`; missing values are allowed.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``.
        """
        parts = self._family_proba(X)
        if self.model != "ensemble":
            return parts[str(self.model)]
        w = float(self.boosting_weight)
        return sum((w if name == "gbm" else 1 - w) * proba for name, proba in parts.items())  # type: ignore[return-value]

    def predict(self, X: Any) -> npt.NDArray[Any]:  # noqa: N803
        """Return the most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, as in :meth:`fit`; missing values are allowed.

        Returns
        -------
        ndarray of shape (n_samples,)
            The most probable class of each sample.
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def contributions(self, X: Any) -> FloatArray:  # noqa: N803
        """Per-feature contributions to the log-odds of the last class (binary models).

        Logistic: ``coef x standardised value`` (relative to the training mean;
        they sum to the uncalibrated logit minus the intercept). Gradient
        boosting: the fall in log-odds when the feature is set to its training
        median, one feature at a time. Ensemble: the weighted mean of its parts'.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, as in :meth:`fit`; missing values are allowed.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Each feature's contribution to each sample's log-odds.

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
        if self.model == "ensemble":
            w = float(self.boosting_weight)
            out = np.zeros(X.shape, dtype=np.float64)
            if w < 1:
                out += (1 - w) * self.pipeline_[:-1].transform(X) * self.coef_[0]
            if self.boosting_ is not None:
                out += w * self.boosting_.contributions(X)
            return out
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
