"""Leakage totalled by specialty, referring organisation or competitor: :func:`leakage_summary`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import check_choice, check_frame
from referral_graph.leakage._arrays import (
    _codes_of,
    _distinct_by,
    _labels,
    _lookup,
    _sum_by,
    _top_by,
)
from referral_graph.leakage._market import _PROVIDERS_HINT, FocusMarket, _use_market

#: Label of referrers without an organisation in ``leakage_summary(by="referrer_organization")``.
UNAFFILIATED = "(unaffiliated)"


def leakage_summary(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    by: Literal["specialty", "referrer_organization", "competitor"] = "specialty",
    specialties: Iterable[str] | None = None,
    market: FocusMarket | None = None,
) -> pd.DataFrame:
    """Referrals leaked to competitors, totalled by specialty, referring organisation or competitor.

    Parameters
    ----------
    ties, providers, focus_ids, specialties
        As in :func:`share_of_wallet`; the market is the focus specialties.
    by : {"specialty", "referrer_organization", "competitor"}, default "specialty"
        ``"specialty"``: the receiving specialty; ``"referrer_organization"``:
        the referrer's ``organization`` (`UNAFFILIATED` when it has none);
        ``"competitor"``: the receiving competitor.
    market : FocusMarket, optional
        As in :func:`share_of_wallet` (built with ``by="specialty"``).

    Returns
    -------
    pandas.DataFrame
        Sorted by leaked referrals (descending), then the key. For
        ``"specialty"`` and ``"referrer_organization"``: the key column (for
        the latter, then ``referrer_is_competitor``: the referrers are employed
        by a competitor, so their referrals inside that system are its own
        business rather than referrals the focus organisation lost),
        ``to_focus``, ``to_competitors`` (leaked), ``total``, ``leakage_rate``
        (``to_competitors / total``), ``referrers`` (with market referrals),
        ``leaking_referrers`` (sending some to competitors), ``top_competitor``
        and, with amounts, ``focus_amount`` and ``leakage_amount``. For
        ``"competitor"``: ``competitor``, ``referrals`` (received from the
        market), ``share_of_leakage`` (of all leaked referrals), ``referrers``,
        ``receivers`` (its providers receiving them) and ``leakage_amount``.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["S1", "S2", "S3"], "specialty": ["Cardiology"] * 3,
    ...                           "organization": ["Ours", "Rival", "Other"]})
    >>> ties = pd.DataFrame({"source": ["P1", "P1", "P2"], "target": ["S1", "S2", "S3"],
    ...                      "referrals": [10, 30, 10]})
    >>> s = leakage_summary(ties, providers, ["S1"])
    >>> s[["specialty", "to_focus", "to_competitors", "leakage_rate", "top_competitor"]
    ...   ].values.tolist()
    [['Cardiology', 10, 40, 0.8, 'Rival']]
    >>> leakage_summary(ties, providers, ["S1"], by="competitor")[
    ...     ["competitor", "referrals", "share_of_leakage"]].values.tolist()
    [['Rival', 30, 0.75], ['Other', 10, 0.25]]
    """
    func = "leakage_summary"
    check_choice(by, "by", func, ("specialty", "referrer_organization", "competitor"))
    table = _use_market(
        market, ties, providers, focus_ids, by="specialty", specialties=specialties, func=func
    ).table
    has_amount = "amount" in table.columns
    amount = table["amount"].fillna(0.0).to_numpy() if has_amount else None
    is_focus = table["is_focus"].to_numpy(dtype=bool)
    leaked = ~is_focus
    referrals = table["referrals"].to_numpy()
    source = _codes_of(table["source"])
    competitor = _codes_of(table["competitor"])
    if by == "competitor":
        n = len(table["competitor"].cat.categories)
        comp = competitor[leaked]
        sums = _sum_by(comp, n, referrals[leaked])
        out = pd.DataFrame(
            {
                "referrals": sums,
                "referrers": _distinct_by(comp, n, source[leaked]),
                "receivers": _distinct_by(comp, n, _codes_of(table["target"])[leaked]),
            }
        )
        if amount is not None:
            out["leakage_amount"] = _sum_by(comp, n, amount[leaked])
        rows = np.flatnonzero(sums > 0)
        out = out.iloc[rows].reset_index(drop=True)
        out.insert(0, "competitor", _labels(table["competitor"], rows))
        met = pd.unique(comp[comp >= 0])  # the competitors in the order they are met
        total = float(pd.Series(sums[met[sums[met] > 0]]).sum())
        out.insert(
            2,
            "share_of_leakage",
            (out["referrals"] / total).astype("float64") if total > 0 else 0.0,
        )
        order = np.lexsort((rows, -out["referrals"].to_numpy()))
        return out.take(order).reset_index(drop=True)
    key = by
    if by == "referrer_organization":
        org = _lookup(
            check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT), "organization"
        )
        source_ids = table["source"].cat.categories
        names = org.reindex(source_ids).fillna(UNAFFILIATED)
        labels = _codes.sorted_ids(names)
        group_of_source = np.append(labels.get_indexer(pd.Index(names)), -1).astype(np.int64)
        group = group_of_source[source]
        key_labels = pd.Series(labels, dtype="str")
    else:
        group = _codes_of(table["specialty"])
        key_labels = pd.Series(table["specialty"].cat.categories, dtype="str")
    n = len(key_labels)
    zero = np.zeros(1, dtype=referrals.dtype)
    to_focus = np.where(is_focus, referrals, zero)
    to_competitors = np.where(is_focus, zero, referrals)
    out = pd.DataFrame(
        {
            "to_focus": _sum_by(group, n, to_focus),
            "to_competitors": _sum_by(group, n, to_competitors),
            "total": _sum_by(group, n, referrals),
        }
    )
    out["leakage_rate"] = (out["to_competitors"] / out["total"].where(out["total"] > 0)).astype(
        "float64"
    )
    n_source = len(table["source"].cat.categories)
    ok = (group >= 0) & (source >= 0)
    pair, pairs = pd.factorize(group[ok] * n_source + source[ok])
    pair_total = _sum_by(pair, len(pairs), referrals[ok])
    pair_leaked = _sum_by(pair, len(pairs), to_competitors[ok])
    active = pair_total > 0
    pair_group = pairs // n_source
    out["referrers"] = np.bincount(pair_group[active], minlength=n).astype(np.int64)
    out["leaking_referrers"] = np.bincount(
        pair_group[active & (pair_leaked > 0)], minlength=n
    ).astype(np.int64)
    top, _ = _top_by(group[leaked], n, competitor[leaked], referrals[leaked])
    out["top_competitor"] = _labels(table["competitor"], top).astype("str")
    if amount is not None:
        out["focus_amount"] = _sum_by(group, n, np.where(is_focus, amount, 0.0))
        out["leakage_amount"] = _sum_by(group, n, np.where(is_focus, 0.0, amount))
    rows = np.flatnonzero(out["total"].to_numpy() > 0)
    out = out.iloc[rows].reset_index(drop=True)
    out.insert(0, key, key_labels.take(rows).reset_index(drop=True))
    if by == "referrer_organization":
        # A competitor's own physicians referring inside their system are not referrers the
        # focus organisation lost: marked, so that they can be read (or left out) apart.
        competitors = pd.Index(table["competitor"][leaked].dropna().unique().astype("str"))
        out.insert(1, "referrer_is_competitor", out[key].isin(competitors).to_numpy())
    order = np.lexsort((rows, -out["to_competitors"].to_numpy()))
    return out.take(order).reset_index(drop=True)
