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

Every table starts from the market. To compute several tables of one focus
organisation, build it once with :func:`focus_market` and pass it as
``market=`` (as :func:`referral_graph.scores.score_network` does): the tables
are the same, the market is not recomputed for each.

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
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import (
    check_choice,
    check_float,
    check_focus_ids,
    check_frame,
    check_weights,
    require_columns,
    text_key,
)
from referral_graph.exceptions import (
    InsufficientDataError,
    ParameterError,
    ReferralGraphError,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

__all__ = [
    "IN_NETWORK",
    "KEY_REFERRER_WEIGHTS",
    "UNAFFILIATED",
    "FocusMarket",
    "focus_market",
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


def _member(values: pd.Index | pd.Series, of: pd.Series) -> npt.NDArray[np.bool_]:
    """Whether each value is one of `of` (hash lookups of the distinct values only)."""
    return _codes.codes(values, pd.Index(of.unique())) >= 0


def _categorical(codes: IntArray, labels: pd.Index) -> pd.Categorical:
    """A categorical column from codes into sorted `labels` (-1: missing)."""
    return pd.Categorical.from_codes(codes, categories=labels)


def _codes_of(column: pd.Series) -> IntArray:
    """The category codes of a categorical column (-1: missing)."""
    return np.asarray(column.cat.codes.to_numpy(), dtype=np.int64)


def _labels(column: pd.Series, codes: IntArray) -> pd.Series:
    """The labels of `codes` of a categorical column, as strings (-1: missing)."""
    categories = pd.Series(column.cat.categories, dtype="str")
    return pd.Series(categories.array.take(codes, allow_fill=True))


def _sum_by(
    codes: IntArray, n: int, values: npt.NDArray[Any], *, min_count: int = 0
) -> npt.NDArray[Any]:
    """Sum of `values` per code in ``[0, n)`` (negative codes left out), in their dtype.

    Floats are summed by pandas (compensated summation, missing values
    skipped; NaN for fewer than `min_count` values), so that the sums equal a
    groupby's on the labels.
    """
    ok = codes >= 0
    if values.dtype.kind == "f":
        sums = pd.Series(values[ok]).groupby(codes[ok], sort=False).sum(min_count=min_count)
        out = np.zeros(n) if min_count == 0 else np.full(n, np.nan)
        out[sums.index.to_numpy()] = sums.to_numpy()
        return out
    weights = values[ok].astype(np.float64)
    counts = np.bincount(codes[ok], weights=weights, minlength=n).astype(np.float64)
    return np.rint(counts).astype(np.int64 if values.dtype.kind == "b" else values.dtype)


def _distinct_by(codes: IntArray, n: int, other: IntArray) -> IntArray:
    """Number of distinct `other` codes per code in ``[0, n)`` (negative codes left out)."""
    ok = (codes >= 0) & (other >= 0)
    width = int(other[ok].max()) + 1 if bool(ok.any()) else 1
    pairs = pd.unique(codes[ok] * width + other[ok])
    return np.bincount(pairs // width, minlength=n).astype(np.int64)


def _top_by(
    group: IntArray, n_groups: int, label: IntArray, value: npt.NDArray[Any]
) -> tuple[IntArray, FloatArray]:
    """Per group, the `label` with the largest summed `value` > 0 and that sum.

    Ties go to the smallest label code (labels are sorted: the first by name);
    -1 and 0 for a group without a positive sum.
    """
    best = np.full(n_groups, -1, dtype=np.int64)
    best_sum = np.zeros(n_groups)
    ok = (group >= 0) & (label >= 0)
    if not bool(ok.any()):
        return best, best_sum
    width = int(label[ok].max()) + 1
    codes, pairs = pd.factorize(group[ok] * width + label[ok])
    sums = _sum_by(codes, len(pairs), value[ok]).astype(np.float64)
    positive = sums > 0
    g, lab, s = pairs[positive] // width, pairs[positive] % width, sums[positive]
    order = np.lexsort((lab, -s, g))
    first = order[np.r_[True, g[order][1:] != g[order][:-1]]] if len(order) else order
    best[g[first]] = lab[first]
    best_sum[g[first]] = s[first]
    return best, best_sum


def _group_total(keys: IntArray, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """For each row, the sum of `values` over the rows with the same key (in their dtype)."""
    codes, uniques = pd.factorize(keys)
    return _sum_by(codes, len(uniques), values)[codes]


def _segment(share: pd.Series, loyal_threshold: float) -> pd.Series:
    seg = np.where(
        share >= loyal_threshold, "loyalist", np.where(share <= 0, "dissenter", "splitter")
    )
    return pd.Series(seg, index=share.index, dtype="str")


# --------------------------------------------------------------------------------------
# The market
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FocusMarket:
    """The referrals in a focus organisation's market, computed once and shared.

    Build it with :func:`focus_market` and pass it as ``market=`` to
    :func:`share_of_wallet`, :func:`share_of_wallet_by_specialty`,
    :func:`leakage_summary` and :func:`key_referrers`, so that a report
    computes the market once rather than once per table. Every table computed
    from it equals the table computed from the ties themselves.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per market tie (self-referrals left out), in the tie table's
        order: ``source`` and ``target`` (categoricals of the ids),
        ``referrals``, ``amount`` (when the ties have it), ``is_focus`` (the
        receiver is a focus provider), ``competitor`` (the receiver's
        organisation, else its id) and ``specialty`` (the receiver's
        specialty, one spelling per specialty; ``"(unknown specialty)"`` when
        missing), both categoricals. Categories are sorted.
    focus_ids : tuple of str
        The focus providers' ids.
    by : {"specialty", "all"}
        The wallet it was built for (see :func:`share_of_wallet`).
    specialty_keys : frozenset of str or None
        The focus specialties given (normalised), None for those of the focus
        providers.
    everything : bool
        Every referral is in the market (``by="all"``, or no focus provider
        has a specialty).

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["S1", "S2"], "specialty": ["Cardiology"] * 2,
    ...                           "organization": ["Ours", "Rival"]})
    >>> ties = pd.DataFrame({"source": ["P1", "P1"], "target": ["S1", "S2"],
    ...                      "referrals": [10, 30]})
    >>> market = focus_market(ties, providers, ["S1"])
    >>> market.table[["source", "competitor", "referrals", "is_focus"]].values.tolist()
    [['P1', 'Ours', 10, True], ['P1', 'Rival', 30, False]]
    """

    table: pd.DataFrame
    focus_ids: tuple[str, ...]
    by: str
    specialty_keys: frozenset[str] | None
    everything: bool


def _specialty_keys(specialties: Iterable[str] | None) -> frozenset[str] | None:
    if specialties is None:
        return None
    if isinstance(specialties, str):
        specialties = [specialties]
    return frozenset(text_key(s) for s in specialties)


def _market(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Any,
    *,
    specialties: Iterable[str] | None,
    everything: bool,
    func: str,
) -> FocusMarket:
    """The referrals in the focus organisation's market (see :class:`FocusMarket`)."""
    providers = check_frame(providers, "providers", func, ["id"], _PROVIDERS_HINT)
    ids = check_focus_ids(focus_ids, func)
    by = "all" if everything else "specialty"
    prepared = _codes.prepare_ties(ties, func)
    frame, keys = prepared.frame, prepared.keys
    known = _member(pd.Series(ids, dtype="str"), providers["id"].astype("str"))
    unknown = [i for i, found in zip(ids, known, strict=True) if not found]
    if unknown:
        logger.info(
            "%s: %d focus id(s) are not in the providers table (e.g. %s)",
            func,
            len(unknown),
            ", ".join(unknown[:3]),
        )
    loops = (keys.source == keys.target) & (keys.source >= 0)
    if bool(loops.any()):
        logger.info("%s: %d self-referral tie(s) left out", func, int(loops.sum()))
    spec = _lookup(providers, "specialty")
    org = _lookup(providers, "organization")
    # -- per id of the tie table (sorted), then per tie through the target's code ------
    id_focus = np.append(_member(keys.ids, pd.Series(ids, dtype="str")), False)
    id_org = org.reindex(keys.ids)
    id_competitor = id_org.where(id_org.notna(), pd.Series(keys.ids, index=keys.ids))
    label_codes, label_values = pd.factorize(spec.reindex(keys.ids))
    spellings = [str(s) for s in label_values] + [UNKNOWN_SPECIALTY]
    label_codes = np.where(label_codes < 0, len(spellings) - 1, label_codes).astype(np.int64)
    key_codes, key_values = pd.factorize(np.array([text_key(s) for s in spellings], dtype=object))
    no_label = len(spellings) - 1  # the label (and key) of a missing specialty
    id_key = np.append(key_codes[label_codes], key_codes[no_label])  # last: a missing target
    known_spec = np.append(label_codes < no_label, False)
    if specialties is None:
        focus_keys = {text_key(s) for s in spec.reindex(ids).dropna()}
        if not focus_keys and not everything:
            # Without specialties the wallet is everything the referrer sends (by="all").
            logger.warning(
                "%s: no focus provider has a specialty, so the market is every referral of "
                "each referrer (as by='all'). Give providers a 'specialty' column (or "
                "--taxonomy codes) or pass specialties=[...] for a specialty market.",
                func,
            )
            everything = True
    else:
        focus_keys = set(_specialty_keys(specialties) or ())
    target = keys.target
    is_focus = id_focus[target]
    if everything:
        in_market = ~loops
    else:
        wanted = np.append(np.isin(np.asarray(key_values, dtype=object), list(focus_keys)), False)
        spec_ok = known_spec[target] & wanted[id_key[target]]
        in_market = ~loops & (is_focus | spec_ok)
    rows = np.flatnonzero(in_market)
    target = target[rows]
    # one display label per normalised specialty: the first spelling met
    row_key = id_key[target]
    row_label = np.append(label_codes, no_label)[target]
    first = pd.Series(row_key).drop_duplicates()
    label_of_key = np.full(len(key_values), -1, dtype=np.int64)
    label_of_key[first.to_numpy()] = row_label[first.index.to_numpy()]
    used = label_of_key >= 0
    names = np.array(spellings, dtype=object)[label_of_key[used]]
    order = np.argsort(names, kind="stable")
    specialty_index = pd.Index(names[order], dtype=object)
    code_of_key = np.full(len(key_values), -1, dtype=np.int64)
    code_of_key[np.flatnonzero(used)[order]] = np.arange(len(order))
    competitors = _codes.sorted_ids(id_competitor)
    id_comp = np.append(competitors.get_indexer(pd.Index(id_competitor)), -1).astype(np.int64)
    table = pd.DataFrame(
        {
            "source": _categorical(keys.source[rows], keys.ids),
            "target": _categorical(target, keys.ids),
            "referrals": frame["referrals"].to_numpy()[rows],
        }
    )
    if "amount" in frame.columns:
        amount = pd.to_numeric(frame["amount"], errors="coerce").astype("float64")
        table["amount"] = amount.to_numpy()[rows]
    table["is_focus"] = is_focus[rows]
    table["competitor"] = _categorical(id_comp[target], competitors)
    table["specialty"] = _categorical(code_of_key[row_key], specialty_index)
    logger.info(
        "%s: market of %s referrals over %s ties (%s focus provider(s), %s)",
        func,
        f"{int(table['referrals'].sum()):,}",
        f"{len(table):,}",
        len(ids),
        "every specialty" if everything else f"specialties: {', '.join(sorted(focus_keys)) or '-'}",
    )
    return FocusMarket(
        table=table,
        focus_ids=tuple(ids),
        by=by,
        specialty_keys=_specialty_keys(specialties),
        everything=everything,
    )


def focus_market(
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Iterable[str],
    *,
    by: Literal["specialty", "all"] = "specialty",
    specialties: Iterable[str] | None = None,
) -> FocusMarket:
    """Compute the focus organisation's market once, to share between the leakage tables.

    Parameters
    ----------
    ties, providers, focus_ids, specialties
        As in :func:`share_of_wallet`.
    by : {"specialty", "all"}, default "specialty"
        The wallet (see :func:`share_of_wallet`). :func:`share_of_wallet_by_specialty`,
        :func:`leakage_summary` and :func:`key_referrers` take a "specialty" market.

    Returns
    -------
    FocusMarket
        Pass it as ``market=`` together with the same `ties`, `providers` and
        `focus_ids`.

    Examples
    --------
    >>> import pandas as pd
    >>> providers = pd.DataFrame({"id": ["S1", "S2"], "specialty": ["Cardiology"] * 2,
    ...                           "organization": ["Ours", "Rival"]})
    >>> ties = pd.DataFrame({"source": ["P1", "P1"], "target": ["S1", "S2"],
    ...                      "referrals": [10, 30]})
    >>> market = focus_market(ties, providers, ["S1"])
    >>> share_of_wallet(ties, providers, ["S1"], market=market)[["source", "share"]
    ...                                                         ].values.tolist()
    [['P1', 0.25]]
    >>> leakage_summary(ties, providers, ["S1"], market=market)["leakage_rate"].tolist()
    [0.75]
    """
    func = "focus_market"
    check_choice(by, "by", func, ("specialty", "all"))
    return _market(
        ties, providers, focus_ids, specialties=specialties, everything=by == "all", func=func
    )


def _use_market(
    market: FocusMarket | None,
    ties: pd.DataFrame,
    providers: pd.DataFrame,
    focus_ids: Any,
    *,
    by: str,
    specialties: Iterable[str] | None,
    func: str,
) -> FocusMarket:
    """`market` when it fits the call (same focus ids, wallet and specialties), else computed."""
    if market is None:
        return _market(
            ties, providers, focus_ids, specialties=specialties, everything=by == "all", func=func
        )
    if not isinstance(market, FocusMarket):
        raise ParameterError(
            f"The 'market' parameter of {func} must be a FocusMarket (from focus_market) or "
            f"None. Got {type(market).__name__} instead."
        )
    ids = check_focus_ids(focus_ids, func)
    wanted = (frozenset(ids), by, _specialty_keys(specialties))
    built = (frozenset(market.focus_ids), market.by, market.specialty_keys)
    if wanted != built:
        raise ParameterError(
            f"The 'market' parameter of {func} must be built for the same focus ids, wallet "
            f"and specialties (focus_market(ties, providers, focus_ids, by={by!r}, "
            f"specialties=...)). Got a market built with by={market.by!r} for "
            f"{len(market.focus_ids)} focus id(s) instead."
        )
    return market


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
    order = np.lexsort((rows, -out["to_competitors"].to_numpy()))
    return out.take(order).reset_index(drop=True)


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
