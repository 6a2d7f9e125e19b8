"""The result of an outreach impact estimate, :class:`OutreachEffect` (private module).

Re-exported by :mod:`referral_graph.outreach`, where it is documented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True, eq=False)
class OutreachEffect:
    """The estimated effect of outreach on referrals to the focus organisation.

    Attributes
    ----------
    estimate : float
        Relative change in referrals to the focus after a first visit
        (``0.25`` = +25 %); NaN when it cannot be estimated.
    ci_low, ci_high : float
        95 % bootstrap interval (NaN without bootstrap).
    n_treated : int
        Visited referrers in the estimate.
    n_control : int
        Distinct referrers not yet visited (by the end of the post window) matched to them.
    method : str
        ``"did"``.
    warning : str or None
        What makes the estimate fragile, ``"; "``-joined; None when nothing.
    table : pandas.DataFrame
        One row per treated referrer and per (control, pseudo date):
        ``provider``, ``group`` (``"treated"`` / ``"control"``), ``month``
        (first day of the visit or pseudo visit month), ``baseline_rate``,
        ``pre_referrals``, ``post_referrals`` (referrals to the focus in the
        windows) and ``weight`` (1 for the treated; matches / n_neighbors for
        a control). Ids only, no patient data; counts are not suppressed.
    kinds : tuple of str
        The activity kinds counted as treatment (empty: every kind).
    window_months : int
        ``W``, the length of the pre and post windows.
    pretrend : float or None
        The placebo estimate (see :mod:`referral_graph.outreach`); None when no treated
        referrer has the history it needs.
    pretrend_ci : tuple of float
        Its 95 % interval.
    """

    estimate: float
    ci_low: float
    ci_high: float
    n_treated: int
    n_control: int
    method: str
    warning: str | None
    table: pd.DataFrame = field(repr=False)
    kinds: tuple[str, ...] = ()
    window_months: int = 3
    pretrend: float | None = None
    pretrend_ci: tuple[float, float] = (math.nan, math.nan)

    def to_frame(self) -> pd.DataFrame:
        """Return the result as a one-row DataFrame.

        Examples
        --------
        >>> import pandas as pd
        >>> e = OutreachEffect(0.25, 0.1, 0.4, 30, 120, "did", None, pd.DataFrame())
        >>> e.to_frame()[["estimate", "ci_low", "ci_high", "n_treated"]].values.tolist()
        [[0.25, 0.1, 0.4, 30.0]]
        """
        return pd.DataFrame(
            {
                "kinds": pd.Series([", ".join(self.kinds) or "(all)"], dtype="str"),
                "method": pd.Series([self.method], dtype="str"),
                "window_months": [self.window_months],
                "estimate": [self.estimate],
                "ci_low": [self.ci_low],
                "ci_high": [self.ci_high],
                "n_treated": [self.n_treated],
                "n_control": [self.n_control],
                "pretrend": [math.nan if self.pretrend is None else self.pretrend],
                "warning": pd.Series([self.warning], dtype="str"),
            }
        )

    def __str__(self) -> str:
        ci = (
            f" (95% CI {self.ci_low:+.1%} to {self.ci_high:+.1%})"
            if math.isfinite(self.ci_low)
            else ""
        )
        text = (
            f"{self.estimate:+.1%}{ci} referrals to the focus in the {self.window_months} months "
            f"after a first visit; {self.n_treated} visited vs {self.n_control} matched referrers"
        )
        return text + (f" [{self.warning}]" if self.warning else "")
