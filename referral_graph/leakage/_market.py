"""The focus organisation's market: the referrals every leakage table starts from."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from referral_graph import _codes
from referral_graph._checks import check_choice, check_focus_ids, check_frame, text_key
from referral_graph.exceptions import ParameterError
from referral_graph.leakage._arrays import _categorical, _lookup, _member

#: The package's logger (the messages read as leakage's, as before the split).
logger = logging.getLogger(__package__)

#: Label of focus providers without a specialty.
UNKNOWN_SPECIALTY = "(unknown specialty)"

_PROVIDERS_HINT = "read it with referral_graph.io.read_providers."


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
    >>> from referral_graph.leakage import leakage_summary, share_of_wallet
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
