"""Leakage and share of wallet for a focus organisation.

*Leakage* is the referrals that could have come to the focus organisation
("us": a hospital, a health system, a practice, or the in-network
providers) but went to a competitor. Which referrals could have come to us
is the **market**:

* the focus specialties are the specialties of the focus providers (or the
  ones given with ``specialties=``); specialties are matched ignoring case
  and extra spaces;
* a referral is in the market when its receiver is a focus provider, or is
  of a focus specialty *whoever employs it*. A referral to a dermatologist
  is not leakage for an organisation without dermatology;
* each referral in the market goes either to the focus (``to_focus``) or to
  a competitor (``to_competitors``). A competitor is the receiver's
  ``organization``; a receiver without one is its own competitor, labelled
  by its id. Self-referrals are left out.

A referrer's **share of wallet** is ``to_focus / (to_focus +
to_competitors)``: the part of its market referrals that we receive.
Referrers are segmented as *loyalists* (share >= `loyal_threshold`, default
0.5), *dissenters* (share 0: they send the specialty elsewhere only) and
*splitters* (in between). Referrers who are themselves focus providers are
kept and flagged ``internal`` (internal leakage matters too).

Counts here are not small-cell suppressed: suppress them with
:func:`referral_graph.privacy.suppress_frame` before showing or exporting.

Examples
--------
>>> import pandas as pd
>>> providers = pd.DataFrame({
...     "id": ["P1", "P2", "S1", "S2"],
...     "specialty": ["Family Medicine", "Family Medicine", "Cardiology", "Cardiology"],
...     "organization": [None, None, "Ours", "Rival"]})
>>> ties = pd.DataFrame({"source": ["P1", "P2", "P2"], "target": ["S1", "S1", "S2"],
...                      "referrals": [30, 10, 30]})
>>> focus = resolve_focus(providers, focus="ours")
>>> focus
['S1']
>>> sow = share_of_wallet(ties, providers, focus)
>>> sow[["source", "to_focus", "to_competitors", "share", "segment"]].values.tolist()
[['P2', 10, 30, 0.25, 'splitter'], ['P1', 30, 0, 1.0, 'loyalist']]
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from referral_graph._checks import (
    check_choice,
    check_float,
    check_focus_ids,
    check_frame,
    require_columns,
    text_key,
)
from referral_graph.exceptions import (
    InsufficientDataError,
    ParameterError,
    ReferralGraphError,
)
from referral_graph.strength import _check_weights, _prepare_ties

__all__ = [
    "IN_NETWORK",
    "KEY_REFERRER_WEIGHTS",
    "UNAFFILIATED",
    "key_referrers",
    "leakage_summary",
    "resolve_focus",
    "share_of_wallet",
    "share_of_wallet_by_specialty",
]

logger = logging.getLogger(__name__)

#: ``focus=IN_NETWORK`` selects the providers whose ``in_network`` is True.
IN_NETWORK = "in_network"
#: Label of referrers without an organisation in ``leakage_summary(by="referrer_organization")``.
UNAFFILIATED = "(unaffiliated)"
#: Label of focus providers without a specialty.
UNKNOWN_SPECIALTY = "(unknown specialty)"

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

SEGMENTS = ("loyalist", "splitter", "dissenter")

_PROVIDERS_HINT = "read it with referral_graph.io.read_providers."


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _lookup(providers: pd.DataFrame, column: str) -> pd.Series:
    """``id -> column`` (stripped strings; blanks are missing); all-missing if absent."""
    ids = providers["id"].astype("str")
    if column not in providers.columns:
        return pd.Series(pd.NA, index=pd.Index(ids.unique(), name="id"), dtype="str")
    values = pd.Series(providers[column].to_numpy(), index=ids).astype("str").str.strip()
    values = values.where(values.str.len() > 0)
    return values[~values.index.duplicated()]


def _market(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Any,
    *,
    specialties: Iterable[str] | None,
    everything: bool,
    func: str,
) -> pd.DataFrame:
    """The referrals in the focus organisation's market, one row per tie.

    Columns: ``source``, ``target``, ``referrals``, ``amount`` (when given),
    ``is_focus``, ``competitor`` (receiver's organisation, else its id),
    ``specialty`` (label) and ``specialty_key`` (normalised).
    """
    providers = check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT)
    ids = check_focus_ids(focus_ids, func)
    frame, _ = _prepare_ties(ties, func)
    known = set(providers["id"].astype("str"))
    unknown = [i for i in ids if i not in known]
    if unknown:
        logger.info(
            "%s: %d focus id(s) are not in the providers table (e.g. %s)",
            func,
            len(unknown),
            ", ".join(unknown[:3]),
        )
    loops = frame["source"] == frame["target"]
    if bool(loops.any()):
        logger.info("%s: %d self-referral tie(s) left out", func, int(loops.sum()))
        frame = frame.loc[~loops]
    spec = _lookup(providers, "specialty")
    org = _lookup(providers, "organization")
    focus_set = set(ids)
    out = pd.DataFrame(
        {"source": frame["source"], "target": frame["target"], "referrals": frame["referrals"]}
    )
    if "amount" in frame.columns:
        out["amount"] = pd.to_numeric(frame["amount"], errors="coerce").astype("float64")
    out["is_focus"] = out["target"].isin(focus_set)
    out["competitor"] = out["target"].map(org).fillna(out["target"]).astype("str")
    label = out["target"].map(spec).astype("str")
    out["specialty_key"] = label.map(text_key, na_action="ignore").astype("str")
    out["specialty"] = label
    if specialties is None:
        focus_spec = spec.reindex(ids).dropna()
        keys = {text_key(s) for s in focus_spec}
        if not keys and not everything:
            # Without specialties the wallet is everything the referrer sends (by="all").
            logger.warning(
                "%s: no focus provider has a specialty, so the market is every referral of "
                "each referrer (as by='all'). Give providers a 'specialty' column (or "
                "--taxonomy codes) or pass specialties=[...] for a specialty market.",
                func,
            )
            everything = True
    else:
        if isinstance(specialties, str):
            specialties = [specialties]
        keys = {text_key(s) for s in specialties}
    if everything:
        in_market = pd.Series(True, index=out.index)
    else:
        in_market = out["is_focus"] | out["specialty_key"].isin(keys)
    out = out.loc[in_market].copy()
    no_spec = out["specialty"].isna()
    out.loc[no_spec, "specialty"] = UNKNOWN_SPECIALTY
    out.loc[no_spec, "specialty_key"] = text_key(UNKNOWN_SPECIALTY)
    # one display label per normalised specialty: the first spelling met
    first_label = out.groupby("specialty_key", sort=False)["specialty"].first()
    out["specialty"] = out["specialty_key"].map(first_label).astype("str")
    logger.info(
        "%s: market of %s referrals over %s ties (%s focus provider(s), %s)",
        func,
        f"{int(out['referrals'].sum()):,}",
        f"{len(out):,}",
        len(ids),
        "every specialty" if everything else f"specialties: {', '.join(sorted(keys)) or '-'}",
    )
    return out.reset_index(drop=True)


def _top_by(frame: pd.DataFrame, group: list[str], label: str, value: str) -> pd.DataFrame:
    """Per group, the `label` with the largest summed `value` (ties: first label by name)."""
    sums = frame.groupby([*group, label], sort=False)[value].sum().reset_index()
    sums = sums.loc[sums[value] > 0]
    sums = sums.sort_values(
        [*group, value, label], ascending=[True] * len(group) + [False, True], kind="stable"
    )
    return sums.drop_duplicates(group).set_index(group)


def _segment(share: pd.Series, loyal_threshold: float) -> pd.Series:
    seg = np.where(
        share >= loyal_threshold, "loyalist", np.where(share <= 0, "dissenter", "splitter")
    )
    return pd.Series(seg, index=share.index, dtype="str")


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def resolve_focus(
    providers: pd.DataFrame,
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
) -> list[str]:
    """Return the ids of the focus organisation's providers.

    Give exactly one of:

    * `focus`, an organisation **name**, matched against the providers'
      ``organization`` ignoring case and extra whitespace
      (``"  saint THOMAS  west"`` matches ``"Saint Thomas West"``); or the
      keyword ``"in_network"`` (`IN_NETWORK`): the providers whose
      ``in_network`` is True (missing counts as False). The keyword wins over
      an organisation of that name;
    * `focus_ids`, the provider ids themselves (checked against ``id``).

    Parameters
    ----------
    providers : pandas.DataFrame
        Providers table (:func:`referral_graph.io.read_providers`).
    focus : str, optional
        Organisation name, or ``"in_network"``.
    focus_ids : iterable of str, optional
        Provider ids.

    Returns
    -------
    list of str
        Ids in the providers table's order (in the given order for `focus_ids`).

    Raises
    ------
    ParameterError
        If neither or both are given, if no organisation matches `focus` (the
        message lists close matches), or if some `focus_ids` are unknown.
    SchemaError
        If `providers` lacks ``organization`` (or ``in_network``).
    InsufficientDataError
        If no provider has ``in_network`` True.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["a1", "a2", "b1"],
    ...                           "organization": ["Mercy  Health", "mercy health", "Rival"],
    ...                           "in_network": [True, False, True]})
    >>> resolve_focus(providers, focus=" MERCY health ")
    ['a1', 'a2']
    >>> resolve_focus(providers, focus="in_network")
    ['a1', 'b1']
    >>> try:
    ...     resolve_focus(providers, focus="Mercy Helth")
    ... except ValueError as err:
    ...     print(str(err).split("; ")[-1])
    close match: 'Mercy  Health' or 'mercy health'.
    """
    func = "resolve_focus"
    providers = check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT)
    if (focus is None) == (focus_ids is None):
        raise ParameterError(
            f"The 'focus' and 'focus_ids' parameters of {func}: give exactly one (an "
            "organisation name or 'in_network', or a list of provider ids). Got "
            f"{'neither' if focus is None else 'both'} instead."
        )
    ids = providers["id"].astype("str")
    if focus_ids is not None:
        wanted = check_focus_ids(focus_ids, func)
        known = set(ids)
        unknown = [i for i in wanted if i not in known]
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:5])
            raise ParameterError(
                f"The 'focus_ids' parameter of {func} must hold ids of the providers table. "
                f"Got {len(unknown)} unknown id(s) instead: {shown}"
                f"{', ...' if len(unknown) > 5 else ''}."
            )
        return wanted
    if not isinstance(focus, str) or not focus.strip():
        raise ParameterError(
            f"The 'focus' parameter of {func} must be a non-empty organisation name or "
            f"'in_network'. Got {focus!r} instead."
        )
    if focus.strip() == IN_NETWORK:
        require_columns(
            providers,
            ["in_network"],
            "providers table",
            "mark the focus providers with an 'in_network' column, or name the organisation.",
        )
        flag = providers["in_network"]
        if pd.api.types.is_bool_dtype(flag):
            chosen = flag.fillna(False).astype("bool")
        else:
            chosen = flag.astype("str").str.strip().str.lower().isin(["true", "1", "yes", "y", "t"])
        result = ids[chosen.to_numpy()].drop_duplicates().tolist()
        if not result:
            raise InsufficientDataError(f"{func}: no provider has in_network True.")
        logger.info("%s: %d in-network provider(s)", func, len(result))
        return result
    require_columns(
        providers,
        ["organization"],
        "providers table",
        "give the providers' organisation (CLI: --organization-col), or pass focus_ids.",
    )
    orgs = providers["organization"].astype("str")
    keys = orgs.map(text_key, na_action="ignore")
    wanted_key = text_key(focus)
    match = (keys == wanted_key).fillna(False).to_numpy(dtype=bool)
    if not match.any():
        spellings: dict[str, list[str]] = {}
        for key, name in zip(keys.dropna(), orgs[keys.notna()], strict=True):
            spellings.setdefault(key, [])
            if name not in spellings[key]:
                spellings[key].append(name)
        close = difflib.get_close_matches(wanted_key, list(spellings), n=5, cutoff=0.6)
        if close:
            names = [repr(n) for key in close for n in spellings[key]]
            hint = (
                "close match: " + " or ".join(names)
                if len(close) == 1
                else ("close matches: " + ", ".join(names))
            )
        else:
            sample = ", ".join(repr(spellings[k][0]) for k in list(spellings)[:5])
            hint = f"no close match among {len(spellings)} organisation(s), e.g. {sample}"
        raise ParameterError(
            f"The 'focus' parameter of {func} must name an organisation of the providers' "
            f"'organization' column (case and extra spaces ignored) or be 'in_network'. "
            f"Got {focus!r} instead; {hint}."
        )
    result = ids[match].drop_duplicates().tolist()
    logger.info("%s: %r matches %d provider(s)", func, focus, len(result))
    return result


def share_of_wallet(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    loyal_threshold: float = 0.5,
    by: Literal["specialty", "all"] = "specialty",
    specialties: Iterable[str] | None = None,
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
    market = _market(
        ties, providers, focus_ids, specialties=specialties, everything=by == "all", func=func
    )
    focus_set = set(check_focus_ids(focus_ids, func))
    market["to_focus"] = market["referrals"].where(market["is_focus"], 0)
    grouped = market.groupby("source", sort=False)
    out = pd.DataFrame({"to_focus": grouped["to_focus"].sum(), "total": grouped["referrals"].sum()})
    out = out.loc[out["total"] > 0].reset_index()
    out["to_competitors"] = out["total"] - out["to_focus"]
    out["share"] = (out["to_focus"] / out["total"]).astype("float64").clip(0.0, 1.0)
    out["segment"] = _segment(out["share"], threshold)
    out["internal"] = out["source"].isin(focus_set)
    top = _top_by(market.loc[~market["is_focus"]], ["source"], "competitor", "referrals")
    out["top_competitor"] = out["source"].map(top["competitor"]).astype("str")
    out["top_competitor_referrals"] = (
        out["source"].map(top["referrals"]).fillna(0).astype(out["total"].dtype)
    )
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
    if "amount" in market.columns:
        amount = market["amount"].fillna(0.0)
        sums = pd.DataFrame(
            {
                "source": market["source"],
                "focus_amount": amount.where(market["is_focus"], 0.0),
                "leakage_amount": amount.where(~market["is_focus"], 0.0),
            }
        )
        sums = sums.groupby("source", sort=False).sum()
        for col in ("focus_amount", "leakage_amount"):
            out[col] = out["source"].map(sums[col]).astype("float64")
        columns += ["focus_amount", "leakage_amount"]
    out = out[columns].sort_values(
        ["total", "source"], ascending=[False, True], kind="stable", ignore_index=True
    )
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
) -> pd.DataFrame:
    """Each referrer's split of each focus specialty across receiving organisations.

    Parameters
    ----------
    ties, providers, focus_ids, specialties
        As in :func:`share_of_wallet` (the market is always the focus
        specialties).

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
    market = _market(
        ties, providers, focus_ids, specialties=specialties, everything=False, func=func
    )
    keys = ["source", "specialty", "competitor", "is_focus"]
    values = ["referrals"] + (["amount"] if "amount" in market.columns else [])
    out = market.groupby(keys, sort=False)[values].sum(min_count=1).reset_index()
    out["referrals"] = out["referrals"].fillna(0).astype(market["referrals"].dtype)
    out = out.rename(columns={"competitor": "organization"})
    out["specialty_total"] = out.groupby(["source", "specialty"])["referrals"].transform("sum")
    out = out.loc[out["specialty_total"] > 0]
    out["share"] = (out["referrals"] / out["specialty_total"]).astype("float64").clip(0.0, 1.0)
    columns = [
        "source",
        "specialty",
        "organization",
        "is_focus",
        "referrals",
        "specialty_total",
        "share",
    ] + (["amount"] if "amount" in out.columns else [])
    out = out[columns].sort_values(
        ["source", "specialty", "referrals", "organization"],
        ascending=[True, True, False, True],
        kind="stable",
        ignore_index=True,
    )
    return out


def leakage_summary(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    by: Literal["specialty", "referrer_organization", "competitor"] = "specialty",
    specialties: Iterable[str] | None = None,
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

    Returns
    -------
    pandas.DataFrame
        Sorted by leaked referrals (descending), then the key. For
        ``"specialty"`` and ``"referrer_organization"``: the key column,
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
    market = _market(
        ties, providers, focus_ids, specialties=specialties, everything=False, func=func
    )
    has_amount = "amount" in market.columns
    amount = market["amount"].fillna(0.0) if has_amount else None
    leaked = market.loc[~market["is_focus"]]
    if by == "competitor":
        grouped = leaked.groupby("competitor", sort=False)
        out = pd.DataFrame(
            {
                "referrals": grouped["referrals"].sum(),
                "referrers": grouped["source"].nunique(),
                "receivers": grouped["target"].nunique(),
            }
        )
        if amount is not None:
            out["leakage_amount"] = amount[leaked.index].groupby(leaked["competitor"]).sum()
        out = out.reset_index()
        out = out.loc[out["referrals"] > 0]
        total = float(out["referrals"].sum())
        out.insert(
            2,
            "share_of_leakage",
            (out["referrals"] / total).astype("float64") if total > 0 else 0.0,
        )
        return out.sort_values(
            ["referrals", "competitor"], ascending=[False, True], kind="stable", ignore_index=True
        )
    key = by
    if by == "referrer_organization":
        org = _lookup(
            check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT), "organization"
        )
        market[key] = market["source"].map(org).fillna(UNAFFILIATED).astype("str")
    market["to_focus"] = market["referrals"].where(market["is_focus"], 0)
    market["to_competitors"] = market["referrals"].where(~market["is_focus"], 0)
    grouped = market.groupby(key, sort=False)
    out = pd.DataFrame(
        {
            "to_focus": grouped["to_focus"].sum(),
            "to_competitors": grouped["to_competitors"].sum(),
            "total": grouped["referrals"].sum(),
        }
    )
    out["leakage_rate"] = (out["to_competitors"] / out["total"].where(out["total"] > 0)).astype(
        "float64"
    )
    per_referrer = market.groupby([key, "source"], sort=False)[
        ["referrals", "to_competitors"]
    ].sum()
    per_referrer = per_referrer.loc[per_referrer["referrals"] > 0]
    out["referrers"] = per_referrer.groupby(level=0).size()
    out["leaking_referrers"] = (per_referrer["to_competitors"] > 0).groupby(level=0).sum()
    for col in ("referrers", "leaking_referrers"):
        out[col] = out[col].fillna(0).astype("int64")
    top = _top_by(market.loc[~market["is_focus"]], [key], "competitor", "referrals")
    out["top_competitor"] = top["competitor"].reindex(out.index).astype("str")
    if amount is not None:
        out["focus_amount"] = amount.where(market["is_focus"], 0.0).groupby(market[key]).sum()
        out["leakage_amount"] = amount.where(~market["is_focus"], 0.0).groupby(market[key]).sum()
    out = out.loc[out["total"] > 0].reset_index()
    return out.sort_values(
        ["to_competitors", key], ascending=[False, True], kind="stable", ignore_index=True
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

    frame, _ = _prepare_ties(ties, "key_referrers")
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
    w = _check_weights(weights, func, KEY_REFERRER_WEIGHTS, "criterion")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ParameterError(
            f"The 'top' parameter of {func} must be an int >= 1 or None. Got {top!r} instead."
        )
    providers = check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT)
    ids = check_focus_ids(focus_ids, func)
    sow = share_of_wallet(ties, providers, ids)
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
    has_tie = out["source"].isin(rolled.index)
    out["strength"] = out["source"].map(rolled["score"]).where(has_tie, 0.0).astype("float64")
    out["trend"] = out["source"].map(rolled["trend"]).astype("float64")

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
