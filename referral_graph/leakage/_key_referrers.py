"""The referrers that matter most to the focus organisation: :func:`key_referrers`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import check_focus_ids, check_frame, check_weights
from referral_graph.exceptions import ParameterError, ReferralGraphError
from referral_graph.leakage._arrays import _lookup
from referral_graph.leakage._market import _PROVIDERS_HINT, FocusMarket
from referral_graph.leakage._wallet import share_of_wallet

#: The package's logger (the messages read as leakage's, as before the split).
logger = logging.getLogger(__package__)

#: Default weights of the criteria of :func:`key_referrers` (only their ratios matter).
KEY_REFERRER_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "to_focus": 0.30,
        "strength": 0.20,
        "share": 0.15,
        "trend": 0.10,
        "pagerank": 0.15,
        "hub": 0.10,
    }
)


def _percentile(values: pd.Series) -> pd.Series:
    """Percentile rank in (0, 1] among the non-missing values (ties share the average rank)."""
    return values.astype("float64").rank(method="average", pct=True)


def _network_measures(ties: pd.DataFrame) -> pd.DataFrame | None:
    """PageRank and hub scores with referral_graph.centrality, or None when unavailable."""
    try:
        from referral_graph import centrality
    except ImportError:
        logger.info(
            "key_referrers: referral_graph.centrality is not available; no network "
            "influence criteria (pass measures=)"
        )
        return None
    import networkx as nx

    frame = _codes.prepare_ties(ties, "key_referrers").frame
    G: nx.DiGraph = nx.DiGraph()
    G.add_weighted_edges_from(
        zip(frame["source"], frame["target"], frame["referrals"].astype("float64"), strict=True),
        weight="referrals",
    )
    out = pd.DataFrame({"id": list(G.nodes)})
    try:
        out["pagerank"] = out["id"].map(centrality.pagerank(G))
    except ReferralGraphError as err:
        logger.info("key_referrers: no PageRank (%s)", err)
    try:
        hubs, _ = centrality.hits(G)
        out["hub"] = out["id"].map(hubs)
    except ReferralGraphError as err:
        logger.info("key_referrers: no hub scores (%s)", err)
    return out


def key_referrers(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    panel: pd.DataFrame | None = None,
    measures: pd.DataFrame | None = None,
    strength: pd.DataFrame | None = None,
    top: int | None = None,
    weights: Mapping[str, float] | None = None,
    include_internal: bool = False,
    market: FocusMarket | None = None,
) -> pd.DataFrame:
    """Rank the referrers that matter most to the focus organisation.

    Every referrer with referrals in the market (:func:`share_of_wallet`,
    specialty market) is scored on six criteria, each a visible column:

    ============== ================================================================
    criterion      value
    ============== ================================================================
    ``to_focus``   referrals to the focus providers
    ``strength``   score (0-100) of the referrer -> focus tie rolled up over the
                   focus providers (:func:`referral_graph.strength.org_strength`);
                   0 without a tie
    ``share``      share of wallet, in [0, 1]
    ``trend``      trend component of that tie (0.5 = flat); missing without a
                   panel or a tie to the focus
    ``pagerank``   PageRank of the referrer in the whole network (influence)
    ``hub``        HITS hub score (sends to the providers that matter)
    ============== ================================================================

    Each criterion becomes a percentile rank among the referrers (column
    ``<criterion>_pct``, in (0, 1], ties averaged; missing when the value is)
    and ``rank_score = 100 * sum(w_c * pct_c) / sum(w_c)`` over the criteria
    available for the referrer, with the weights `KEY_REFERRER_WEIGHTS`
    (to_focus 0.30, strength 0.20, share 0.15, pagerank 0.15, trend 0.10,
    hub 0.10). ``rank`` 1 is the highest ``rank_score`` (ties: more
    ``to_focus``, then ``source``).

    Parameters
    ----------
    ties, providers, focus_ids
        As in :func:`share_of_wallet`.
    panel : pandas.DataFrame, optional
        Edge panel, for strength's time components and ``trend``.
    measures : pandas.DataFrame, optional
        Provider measures with ``id`` and ``pagerank`` and/or ``hub``
        (:func:`referral_graph.centrality.provider_measures`). Computed from
        `ties` with :mod:`referral_graph.centrality` when omitted.
    strength : pandas.DataFrame, optional
        :func:`referral_graph.strength.tie_strength` output; computed from
        `ties`, `panel` and `providers` when omitted.
    top : int, optional
        Keep the first `top` rows.
    weights : dict of str to float, optional
        Criterion weights; keys not given keep their default, 0 drops one.
    include_internal : bool, default False
        Rank the focus organisation's own providers too (they refer to each
        other); by default the table lists outside referrers only, the ones a
        liaison works with.
    market : FocusMarket, optional
        As in :func:`share_of_wallet` (built with ``by="specialty"``).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``source``, the referrer's ``name`` / ``specialty`` /
        ``organization`` when the providers table has them, ``internal``,
        ``to_focus``, ``to_competitors``, ``segment``, ``top_competitor``, the
        six criteria, their ``_pct`` columns and ``rank_score``; sorted by rank.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["P1", "P2", "S1", "S2"],
    ...                           "specialty": ["FM", "FM", "Cardiology", "Cardiology"],
    ...                           "organization": [None, None, "Ours", "Rival"]})
    >>> ties = pd.DataFrame({"source": ["P1", "P2", "P2"], "target": ["S1", "S1", "S2"],
    ...                      "referrals": [30, 10, 30]})
    >>> measures = pd.DataFrame({"id": ["P1", "P2"], "pagerank": [0.2, 0.1], "hub": [0.4, 0.6]})
    >>> k = key_referrers(ties, providers, ["S1"], measures=measures)
    >>> k[["rank", "source", "to_focus", "share", "hub_pct", "rank_score"]].round(2).values.tolist()
    [[1, 'P1', 30, 1.0, 0.5, 94.44], [2, 'P2', 10, 0.25, 1.0, 55.56]]
    """
    func = "key_referrers"
    w = check_weights(weights, func, KEY_REFERRER_WEIGHTS, "criterion")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ParameterError(
            f"The 'top' parameter of {func} must be an int >= 1 or None. Got {top!r} instead."
        )
    providers = check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT)
    ids = check_focus_ids(focus_ids, func)
    sow = share_of_wallet(ties, providers, ids, market=market)
    if not include_internal:
        sow = sow.loc[~sow["internal"].to_numpy()]
    out = sow[
        ["source", "internal", "to_focus", "to_competitors", "share", "segment", "top_competitor"]
    ].copy()

    # -- relationship strength of referrer -> focus ---------------------------------------
    from referral_graph.strength import org_strength, tie_strength

    if strength is None:
        strength = tie_strength(ties, panel=panel, providers=providers)
    focus_label = "\x00focus"
    as_focus = pd.DataFrame({"id": ids, "organization": focus_label})
    rolled = org_strength(strength, as_focus, panel=panel)
    rolled = rolled.loc[rolled["organization"] == focus_label].set_index("source")
    position = rolled.index.get_indexer(pd.Index(out["source"]))  # -1: no tie to the focus
    has_tie = position >= 0
    for column, default in (("score", 0.0), ("trend", np.nan)):
        values = np.append(rolled[column].to_numpy(dtype=np.float64), np.nan)[position]
        out["strength" if column == "score" else column] = np.where(has_tie, values, default)

    # -- network influence ----------------------------------------------------------------
    if measures is None:
        measures = _network_measures(ties)
    elif not isinstance(measures, pd.DataFrame) or "id" not in measures.columns:
        got = (
            f"columns {list(measures.columns)!r}"
            if isinstance(measures, pd.DataFrame)
            else type(measures).__name__
        )
        raise ParameterError(
            f"The 'measures' parameter of {func} must be a DataFrame with an 'id' column "
            f"(provider_measures output) or None. Got {got} instead."
        )
    for col in ("pagerank", "hub"):
        if measures is not None and col in measures.columns:
            lookup = pd.Series(
                pd.to_numeric(measures[col], errors="coerce").to_numpy(),
                index=measures["id"].astype("str"),
            )
            lookup = lookup[~lookup.index.duplicated()]
            out[col] = out["source"].map(lookup).astype("float64")
        else:
            out[col] = np.nan

    # -- percentile ranks and score -------------------------------------------------------
    criteria = list(KEY_REFERRER_WEIGHTS)
    num = pd.Series(0.0, index=out.index)
    den = pd.Series(0.0, index=out.index)
    for c in criteria:
        pct = _percentile(out[c])
        out[f"{c}_pct"] = pct
        if w[c] > 0:
            num += (pct * w[c]).where(pct.notna(), 0.0)
            den += pct.notna() * w[c]
    out["rank_score"] = (100.0 * num / den.where(den > 0)).astype("float64")
    unavailable = [c for c in criteria if bool(out[c].isna().all())]
    if unavailable:
        logger.info(
            "%s: criteria without data, left out of rank_score: %s", func, ", ".join(unavailable)
        )
    out = out.sort_values(
        ["rank_score", "to_focus", "source"],
        ascending=[False, False, True],
        kind="stable",
        na_position="last",
        ignore_index=True,
    )
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype="int64"))
    extra = [c for c in ("name", "specialty", "organization") if c in providers.columns]
    for pos, col in enumerate(extra, start=2):
        out.insert(pos, col, out["source"].map(_lookup(providers, col)).astype("str"))
    out.attrs["weights"] = dict(w)
    out.attrs["unavailable_criteria"] = unavailable
    if top is not None:
        out = out.head(top)
    return out
