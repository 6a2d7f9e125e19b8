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

# In the order of the API page, which lists the members in the order they are imported
# here (mkdocs.yml: members_order: source).
# isort: off
from referral_graph.leakage._market import UNKNOWN_SPECIALTY as UNKNOWN_SPECIALTY
from referral_graph.leakage._market import FocusMarket, focus_market
from referral_graph.leakage._focus import IN_NETWORK, resolve_focus
from referral_graph.leakage._wallet import SEGMENTS as SEGMENTS
from referral_graph.leakage._wallet import share_of_wallet, share_of_wallet_by_specialty
from referral_graph.leakage._summary import UNAFFILIATED, leakage_summary
from referral_graph.leakage._key_referrers import KEY_REFERRER_WEIGHTS, key_referrers
# isort: on

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
