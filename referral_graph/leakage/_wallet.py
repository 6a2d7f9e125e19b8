"""Share of wallet: per referrer, and per referrer, specialty and receiving organisation."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from referral_graph._checks import check_choice, check_float, check_focus_ids
from referral_graph.leakage._arrays import (
    _codes_of,
    _group_total,
    _labels,
    _member,
    _sum_by,
    _top_by,
)
from referral_graph.leakage._market import FocusMarket, _use_market

#: The package's logger (the messages read as leakage's, as before the split).
logger = logging.getLogger(__package__)

SEGMENTS = ("loyalist", "splitter", "dissenter")


def _segment(share: pd.Series, loyal_threshold: float) -> pd.Series:
    seg = np.where(
        share >= loyal_threshold, "loyalist", np.where(share <= 0, "dissenter", "splitter")
    )
    return pd.Series(seg, index=share.index, dtype="str")


def share_of_wallet(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    loyal_threshold: float = 0.5,
    by: Literal["specialty", "all"] = "specialty",
    specialties: Iterable[str] | None = None,
    market: FocusMarket | None = None,
) -> pd.DataFrame:
    """Share of each referrer's market referrals that the focus organisation receives.

    Parameters
    ----------
    ties : pandas.DataFrame
        Tie table (``source``, ``target``, ``referrals``, optional ``amount``)
        or edge panel (summed over months).
    providers : pandas.DataFrame
        Providers table with ``id``, ``specialty`` and ``organization``.
    focus_ids : iterable of str
        The focus organisation's provider ids (:func:`resolve_focus`).
    loyal_threshold : float, default 0.5
        Smallest share of a loyalist, in (0, 1].
    by : {"specialty", "all"}, default "specialty"
        The wallet: ``"specialty"``, referrals to the focus specialties (see
        the module docstring); ``"all"``, every referral of the referrer (the
        focus competes for everything it sends).
    specialties : iterable of str, optional
        The focus specialties, instead of those of the focus providers.
    market : FocusMarket, optional
        The market computed once by :func:`focus_market` from the same
        `ties`, `providers` and `focus_ids`, with the same `by` and
        `specialties` (checked); computed here when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per referrer with market referrals, sorted by ``total``
        (descending) then ``source``: ``source``, ``internal`` (the referrer
        is a focus provider), ``to_focus``, ``to_competitors``, ``total``,
        ``share`` (``to_focus / total``, in [0, 1]), ``segment`` ("loyalist",
        "splitter", "dissenter"), ``top_competitor`` (the competitor receiving
        most of the rest; missing when nothing leaks) and
        ``top_competitor_referrals``; with amounts, ``focus_amount`` and
        ``leakage_amount`` (amount of the referrals to competitors).

    Notes
    -----
    When no focus provider has a specialty (and no `specialties` are given),
    the wallet is every referral of the referrer, as with ``by="all"``, and a
    warning says so.

    See Also
    --------
    share_of_wallet_by_specialty : the same, per referrer, specialty and organisation.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["S1", "S2"], "specialty": ["Cardiology"] * 2,
    ...                           "organization": ["Ours", "Rival"]})
    >>> ties = pd.DataFrame({"source": ["P3"], "target": ["S2"], "referrals": [20]})
    >>> share_of_wallet(ties, providers, ["S1"])[["share", "segment", "top_competitor"]
    ...                                          ].values.tolist()
    [[0.0, 'dissenter', 'Rival']]
    """
    func = "share_of_wallet"
    threshold = check_float(
        loyal_threshold, "loyal_threshold", func, low=0, high=1, low_open=True, allow_numpy=False
    )
    check_choice(by, "by", func, ("specialty", "all"))
    table = _use_market(
        market, ties, providers, focus_ids, by=by, specialties=specialties, func=func
    ).table
    focus_set = set(check_focus_ids(focus_ids, func))
    source = _codes_of(table["source"])
    n = len(table["source"].cat.categories)
    referrals = table["referrals"].to_numpy()
    is_focus = table["is_focus"].to_numpy(dtype=bool)
    to_focus = _sum_by(source, n, np.where(is_focus, referrals, 0).astype(referrals.dtype))
    total = _sum_by(source, n, referrals)
    rows = np.flatnonzero(total > 0)
    out = pd.DataFrame(
        {"source": _labels(table["source"], rows), "to_focus": to_focus[rows], "total": total[rows]}
    )
    out["to_competitors"] = out["total"] - out["to_focus"]
    out["share"] = (out["to_focus"] / out["total"]).astype("float64").clip(0.0, 1.0)
    out["segment"] = _segment(out["share"], threshold)
    focus_ids = pd.Series(list(focus_set), dtype="str")
    out["internal"] = _member(table["source"].cat.categories, focus_ids)[rows]
    competitor = _codes_of(table["competitor"])
    leaked = ~is_focus
    top, top_sum = _top_by(source[leaked], n, competitor[leaked], referrals[leaked])
    out["top_competitor"] = _labels(table["competitor"], top[rows]).astype("str")
    out["top_competitor_referrals"] = pd.Series(top_sum[rows]).astype(out["total"].dtype)
    columns = [
        "source",
        "internal",
        "to_focus",
        "to_competitors",
        "total",
        "share",
        "segment",
        "top_competitor",
        "top_competitor_referrals",
    ]
    if "amount" in table.columns:
        amount = table["amount"].fillna(0.0).to_numpy()
        out["focus_amount"] = _sum_by(source, n, np.where(is_focus, amount, 0.0))[rows]
        out["leakage_amount"] = _sum_by(source, n, np.where(is_focus, 0.0, amount))[rows]
        columns += ["focus_amount", "leakage_amount"]
    order = np.lexsort((rows, -out["total"].to_numpy()))
    out = out[columns].take(order).reset_index(drop=True)
    counts = out["segment"].value_counts()
    logger.info(
        "%s: %d referrer(s): %s",
        func,
        len(out),
        ", ".join(f"{int(counts.get(s, 0))} {s}s" for s in SEGMENTS),
    )
    return out


def share_of_wallet_by_specialty(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    specialties: Iterable[str] | None = None,
    market: FocusMarket | None = None,
) -> pd.DataFrame:
    """Each referrer's split of each focus specialty across receiving organisations.

    Parameters
    ----------
    ties, providers, focus_ids, specialties
        As in :func:`share_of_wallet` (the market is always the focus
        specialties).
    market : FocusMarket, optional
        As in :func:`share_of_wallet` (built with ``by="specialty"``).

    Returns
    -------
    pandas.DataFrame
        One row per (referrer, specialty, receiving organisation, focus or
        not), sorted by ``source``, ``specialty``, then ``referrals``
        (descending): ``source``, ``specialty``, ``organization`` (the
        receiver's organisation, else its id), ``is_focus``, ``referrals``,
        ``specialty_total`` (the referrer's referrals in that specialty),
        ``share`` (``referrals / specialty_total``; the shares of one
        referrer within one specialty sum to 1) and, with amounts,
        ``amount``. Referrers with no referral in a specialty have no row.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["S1", "S2", "S3"], "specialty": ["Cardiology"] * 3,
    ...                           "organization": ["Ours", "Rival", "Rival"]})
    >>> ties = pd.DataFrame({"source": ["P", "P", "P"], "target": ["S1", "S2", "S3"],
    ...                      "referrals": [10, 20, 10]})
    >>> d = share_of_wallet_by_specialty(ties, providers, ["S1"])
    >>> d[["organization", "is_focus", "referrals", "share"]].values.tolist()
    [['Rival', False, 30, 0.75], ['Ours', True, 10, 0.25]]
    """
    func = "share_of_wallet_by_specialty"
    table = _use_market(
        market, ties, providers, focus_ids, by="specialty", specialties=specialties, func=func
    ).table
    source = _codes_of(table["source"])
    specialty = _codes_of(table["specialty"])
    competitor = _codes_of(table["competitor"])
    is_focus = table["is_focus"].to_numpy(dtype=bool)
    n_spec = len(table["specialty"].cat.categories)
    n_comp = len(table["competitor"].cat.categories)
    # groups (source, specialty, competitor, is_focus) numbered in order of appearance
    key = ((source * n_spec + specialty) * n_comp + competitor) * 2 + is_focus
    group, uniques = pd.factorize(key)
    n = len(uniques)
    referrals = table["referrals"].to_numpy()
    sums = _sum_by(group, n, referrals)
    g_focus = (uniques % 2).astype(bool)
    g_comp = uniques // 2 % n_comp
    g_spec = uniques // 2 // n_comp % n_spec
    g_source = uniques // 2 // n_comp // n_spec
    specialty_total = _group_total(g_source * n_spec + g_spec, sums)
    rows = np.flatnonzero(specialty_total > 0)
    out = pd.DataFrame(
        {
            "source": _labels(table["source"], g_source[rows]),
            "specialty": _labels(table["specialty"], g_spec[rows]),
            "organization": _labels(table["competitor"], g_comp[rows]),
            "is_focus": g_focus[rows],
            "referrals": sums[rows],
            "specialty_total": specialty_total[rows],
        }
    )
    out["share"] = (out["referrals"] / out["specialty_total"]).astype("float64").clip(0.0, 1.0)
    if "amount" in table.columns:
        amount = table["amount"].to_numpy(dtype=np.float64)
        out["amount"] = _sum_by(group, n, amount, min_count=1)[rows]
    order = np.lexsort((rows, g_comp[rows], -sums[rows], g_spec[rows], g_source[rows]))
    return out.take(order).reset_index(drop=True)
