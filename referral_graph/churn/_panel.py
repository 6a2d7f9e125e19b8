"""The prepared panel: the tie matrix built once, with the model inputs of its labelled cutoffs.

:class:`PreparedPanel` is what every public churn function accepts in place of the
panel; :func:`_prepared` turns either into one. :class:`_Slice` is one cutoff's
model inputs as the prepared panel caches them (computed by
:mod:`referral_graph.churn._inputs`). :func:`_check_cutoff` tells whether a cutoff
has the data its features (and labels) need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph.churn._from_panel import _build
from referral_graph.churn._matrix import _TieMatrix
from referral_graph.churn._options import (
    BoolArray,
    FloatArray,
    IntArray,
    _auto_baseline,
    _Options,
    _parse_cutoffs,
)
from referral_graph.exceptions import (
    InsufficientDataError,
    ParameterError,
    SchemaError,  # noqa: F401 (named in a Raises section: the API reference links it)
)


@dataclass
class _Slice:
    """One cutoff's model inputs: the active ties, their features and labels.

    ``x`` holds :data:`FEATURE_COLUMNS` as float32 (what the model is fitted
    on) and ``rules`` the rule scores of :data:`RULES` (what the backtest
    compares); the other feature columns are not kept.
    """

    ci: int
    idx: IntArray
    x: npt.NDArray[np.float32]
    y: BoolArray | None
    rules: dict[str, FloatArray]
    #: the digest of the arrays above (:func:`referral_graph.churn._folds._slice_digest`)
    digest: str | None = field(default=None, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        arrays: list[npt.NDArray[Any]] = [self.idx, self.x, *self.rules.values()]
        if self.y is not None:
            arrays.append(self.y)
        return sum(int(a.nbytes) for a in arrays)


class PreparedPanel:
    """An edge panel prepared once for several churn functions.

    Every churn function turns the panel into a dense (month x tie) count
    matrix with provider, market and organisation codes before it computes
    anything. Pass a ``PreparedPanel`` instead of the panel to do that work
    once: :func:`at_risk` followed by :func:`backtest` (as the report does)
    then builds the matrix once, and the labelled cutoffs' model inputs
    computed by one call are reused by the next (they are kept in the object,
    one float32 row of :data:`FEATURE_COLUMNS` per active tie and cutoff;
    :meth:`clear` drops them). Results are the same as with the panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        The edge panel (see :func:`churn_features`). Not modified and not
        kept: later changes to it do not reach the prepared object.
    providers : pandas.DataFrame, optional
        ``id``, ``name``, ``specialty``, ``organization`` (see
        :func:`churn_features` and :func:`at_risk`).
    columns : mapping, optional
        Panel column names by role.
    data_end : str or Timestamp, optional
        The data's last month (a month start), when it is later than the
        panel's last row; default: the month of the last row.

    Attributes
    ----------
    providers : pandas.DataFrame or None
        The providers table given (kept by reference).
    columns : dict or None
        The column mapping given.
    data_end : str, Timestamp or None
        The `data_end` given.
    n_ties : int
        Number of ties (distinct source -> target pairs).
    n_months : int
        Months from the panel's first month to the data's last month.
    first_month, last_month : pandas.Timestamp
        The first and last month of the data.
    nbytes : int
        Bytes held by the matrix and the cached model inputs.

    Raises
    ------
    ParameterError, SchemaError, InsufficientDataError
        As the churn functions do for a bad panel or providers table.

    Notes
    -----
    The functions that take a ``PreparedPanel`` reject ``providers``,
    ``columns`` and ``data_end`` arguments other than the ones it was
    prepared with (pass them here instead).

    Examples
    --------
    >>> from referral_graph.churn import churn_labels
    >>> p = pd.DataFrame({"source": "A", "target": "B", "referrals": 2,
    ...                   "month": pd.date_range("2023-01-01", periods=16, freq="MS")})
    >>> prepared = PreparedPanel(p)
    >>> prepared.n_ties, prepared.n_months, str(prepared.last_month.date())
    (1, 16, '2024-04-01')
    >>> churn_labels(prepared, "2024-01-01")["churned"].tolist()
    [False]
    """

    def __init__(
        self,
        panel: pd.DataFrame,
        *,
        providers: pd.DataFrame | None = None,
        columns: Mapping[str, str] | None = None,
        data_end: str | pd.Timestamp | None = None,
    ) -> None:
        self._ties = _build(panel, providers=providers, columns=columns, data_end=data_end)
        self.providers = providers
        self.columns = None if columns is None else dict(columns)
        self.data_end = data_end
        # the labelled cutoffs' model inputs, filled by churn._inputs._labelled_slice
        self._slices: dict[tuple[_Options, int], _Slice] = {}

    @property
    def n_ties(self) -> int:
        """Number of ties."""
        return self._ties.n_ties

    @property
    def n_months(self) -> int:
        """Number of months covered."""
        return self._ties.n_months

    @property
    def first_month(self) -> pd.Timestamp:
        """The data's first month."""
        return self._ties.month_of(0)

    @property
    def last_month(self) -> pd.Timestamp:
        """The data's last month."""
        return self._ties.month_of(self._ties.n_months - 1)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the matrix, codes and cached model inputs)."""
        cached = sum(s.nbytes for s in self._slices.values())
        return self._ties.nbytes + cached

    def clear(self) -> None:
        """Drop the cached model inputs of the labelled cutoffs, the kept window sums and
        the referrers' months."""
        self._slices.clear()
        self._ties.windows.clear()
        self._ties.src_active = self._ties.src_last_day = None
        if self._ties.rows is not None:
            self._ties.rows.windows.clear()

    def __repr__(self) -> str:
        return (
            f"PreparedPanel({self.n_ties:,} ties x {self.n_months} months, "
            f"{self.first_month.date()} to {self.last_month.date()})"
        )


def _prepared(
    panel: pd.DataFrame | PreparedPanel,
    fn: str,
    *,
    providers: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> PreparedPanel:
    """`panel` itself when prepared (checking the other arguments), else a new PreparedPanel."""
    if not isinstance(panel, PreparedPanel):
        return PreparedPanel(panel, providers=providers, columns=columns, data_end=data_end)
    clashes = []
    if providers is not None and providers is not panel.providers:
        clashes.append("providers")
    if columns is not None and dict(columns) != panel.columns:
        clashes.append("columns")
    if data_end is not None and (
        panel.data_end is None
        or _parse_cutoffs(data_end, fn, "data_end") != _parse_cutoffs(panel.data_end, fn)
    ):
        clashes.append("data_end")
    if clashes:
        raise ParameterError(
            f"The {', '.join(repr(c) for c in clashes)} parameter(s) of {fn} must be left out "
            "when 'panel' is a PreparedPanel: give them to PreparedPanel(...) instead."
        )
    return panel


def _check_cutoff(ties: _TieMatrix, ci: int, opts: _Options, *, labels: bool) -> None:
    cutoff = ties.month_of(ci)
    if ci < opts.baseline_months:
        raise InsufficientDataError(
            f"The cutoff {cutoff.date()} has {max(ci, 0)} month(s) of data before it; the "
            f"baseline needs {opts.baseline_months} (the data start {ties.month_of(0).date()})."
        )
    if ci > ties.n_months:
        raise InsufficientDataError(
            f"The cutoff {cutoff.date()} is after the month following the data's last month "
            f"({ties.month_of(ties.n_months - 1).date()}); months in between are unobserved."
        )
    if labels and ci + opts.horizon > ties.n_months:
        raise InsufficientDataError(
            f"The cutoff {cutoff.date()} has no labels: its {opts.horizon}-month horizon "
            f"runs past the data's last month ({ties.month_of(ties.n_months - 1).date()})."
        )


def _prepared_with_options(
    panel: pd.DataFrame | PreparedPanel,
    fn: str,
    *,
    providers: pd.DataFrame | None,
    columns: Mapping[str, str] | None,
    data_end: str | pd.Timestamp | None,
    baseline_months: Any,
    min_referrals: int,
    horizon: int,
    churn_fraction: float,
) -> tuple[PreparedPanel, _Options]:
    """The prepared panel and the churn definitions of a model-fitting function.

    ``baseline_months="auto"`` is resolved on the panel's length (:func:`_auto_baseline`).
    """
    prepared = _prepared(panel, fn, providers=providers, columns=columns, data_end=data_end)
    opts = _Options.make(
        fn,
        baseline_months=_auto_baseline(baseline_months, prepared._ties.n_months, horizon),
        min_referrals=min_referrals,
        horizon=horizon,
        churn_fraction=churn_fraction,
        recent_months=3,
    )
    return prepared, opts
