"""Prospects: new referral sources for a focus organisation.

A *prospect* is a provider who does not refer to the focus organisation
("us": the providers in ``focus_ids``) yet, but plausibly could. Two kinds
are listed:

``competitor_referrer``
    The provider refers the focus organisation's specialties (the
    specialties of the focus providers) to competitors: the demand exists and
    goes elsewhere. Their volume to those specialties, the competitor
    organisations and the specialties concerned are reported.
``second_degree``
    The provider does not refer our specialties anywhere yet (or not in the
    data), but is tied to one of our *loyal referrers* (see below): by shared
    patients (a referral either way between them, or both sending to the same
    receivers) or by working in the same practice.

Existing referrers to the focus (any referral to a focus provider) and the
focus providers themselves are never listed.

Definitions
-----------
**Market.** A referral is in the market when its receiver is a focus provider
or has one of the focus specialties (matched ignoring case and extra spaces),
whoever employs it; without a ``specialty`` column every referral is in the
market. A market referral to a receiver that is not a focus provider but works
in a focus provider's organisation (a *sibling*, when ``focus_ids`` is part of
an organisation) is neither ours nor a competitor's and is ignored. Every other
market referral goes to a **competitor**: the receiver's ``organization``, or
the receiver itself (its name, else its id) when it has none.

**Loyalty.** A provider's loyalty is its share of wallet,
``lambda(z) = to_focus(z) / (to_focus(z) + to_competitors(z))`` over its market
referrals (0 without market referrals). A *loyal referrer* has
``lambda(z) >= loyal_threshold`` (default 0.5).

**Candidates.** Providers who are not focus providers, sent no referral to a
focus provider, and are *referral sources*: they sent at least one referral, or
they appear in ``providers`` without any tie yet (a new provider; only a shared
practice can link them). Providers that only receive referrals are not sources.

**Projection.** The score lives on an undirected, weighted projection of the
referral network in which a candidate ``c`` is tied to another non-focus
provider ``z`` through three relations, each turned into a distribution over
partners (so a busy provider does not win by volume alone):

* ``referral`` (shared patients, direct): ``w(c, z) = n(c -> z) + n(z -> c)``
  referrals, ``p_ref(c, z) = w(c, z) / sum_z' w(c, z')``;
* ``co_referral`` (shared patients, both send to the same receivers ``y``):
  the two-step walk ``p_co(c, z) = sum_y n(c -> y) / out(c) * n(z -> y) / in(y)``
  (mass diffusion on the referrer x receiver graph), ``z != c``, renormalised;
* ``practice``: the same ``organization`` with 2 to ``max_practice_size``
  (default 50) members (larger organisations are systems, not practices):
  ``p_pr(c, z) = 1 / (m - 1)`` for each of the ``m - 1`` colleagues.

They are mixed with the ``relation_weights`` ``a_r`` (default 1 each) over the
relations ``R(c)`` that ``c`` has:
``p(c, z) = sum_r a_r p_r(c, z) / sum_{r in R(c)} a_r``. Focus providers are
contracted into one node ``F``; a provider ``z`` is a neighbour of ``F`` when
``lambda(z) > 0``, and ``k(z)`` is the number of distinct providers ``z`` is
tied to by referral (either way; ``F`` counts once) or practice.

**Scores** (``method``), over the common neighbours ``z`` of ``c`` and ``F``:

* ``common_neighbors``: ``CN(c) = sum_z p(c, z) * lambda(z)`` (the chance that a
  walk from ``c`` to a partner ``z``, then to one of ``z``'s market referrals,
  ends at the focus);
* ``adamic_adar`` (default): ``AA(c) = sum_z p(c, z) * lambda(z) / log2(1 + k(z))``
  (hubs, tied to everyone, say less about ``c``; the base of the log only
  scales the score, base 2 keeps it in [0, 1] as ``k(z) >= 1``);
* ``resource_allocation``: ``RA(c) = sum_z p(c, z) * lambda(z) / k(z)``;
* ``jaccard`` (weighted, Ruzicka):
  ``J(c) = sum_z min(p(c, z), lambda(z)) / sum_{z in N(c) | N(F)} max(p(c, z), lambda(z))``.

With one relation and equal weights these are the classic measures with each
common neighbour counted ``p(c, z) * lambda(z)`` instead of 1. The measure is
multiplied by the candidate's **openness**, ``1 -`` (share of its referrals
that stay inside its own organisation): a provider employed by a competitor
system that keeps 95 % of its referrals in-house is a weak prospect whoever it
knows. ``score`` is that product, in [0, 1].

Validation
----------
:func:`prospect_backtest` builds the ties from the months before a cutoff,
scores the candidates at the cutoff, and checks which of them send at least
``min_referrals`` (default 2) referrals to the focus within the horizon; it
reports precision@k, recall@k, ROC-AUC and lift over the base rate, against a
random ranking (its expectation: precision = base rate, AUC = 0.5) and the
candidates' volume to competitors. On the synthetic market
(:func:`referral_graph.synthetic.generate_market` with ``n_providers=1200,
n_months=30, seed=42``; cutoff 2026-01-01, 6 months, 128 candidates of whom
15 started referring, base rate 0.117), Adamic-Adar reaches ROC-AUC 0.82 and
precision@25 0.36 (lift 3.1); volume to competitors is *anti*-predictive
there (AUC 0.10: heavy users of a competitor are loyal to it), while practice
colleagues share referral habits.

Counts here are not small-cell suppressed: suppress them with
:func:`referral_graph.privacy.suppress_frame` before showing or exporting.

Examples
--------
>>> import pandas as pd
>>> providers = pd.DataFrame({
...     "id": ["F1", "X1", "L1", "C1", "C2"],
...     "specialty": ["Cardiology", "Cardiology", "Family", "Family", "Family"],
...     "organization": ["Ours", "Rival", "Oak Practice", "Oak Practice", None]})
>>> ties = pd.DataFrame({"source": ["L1", "C1", "C2", "L1"],
...                      "target": ["F1", "X1", "X1", "X1"], "referrals": [20, 5, 8, 2]})
>>> table = prospects(ties, providers, ["F1"])
>>> table[["id", "via", "top_competitor", "referrals_to_competitors"]].values.tolist()
[['C1', 'Oak Practice', 'Rival', 5], ['C2', 'L1', 'Rival', 8]]
"""


# The work is split by job in private modules: _inputs (constants, checks, the tie and
# panel tables), _network (market, loyalty, practices), _score (the measures), _via (the
# loyal neighbour behind each score, with the sparse helpers of _sparse), _table (the
# prospects table) and _backtest. Everything public is imported from here.

from __future__ import annotations

# isort: off
# In the order of the API reference (mkdocstrings lists members in the order of these imports).
from referral_graph.prospects._inputs import KINDS, METHODS, RELATIONS
from referral_graph.prospects._table import prospects
from referral_graph.prospects._backtest import prospect_backtest

# isort: on
from referral_graph.prospects._backtest import RANDOM_BASELINE as RANDOM_BASELINE
from referral_graph.prospects._backtest import VOLUME_BASELINE as VOLUME_BASELINE
from referral_graph.prospects._inputs import Method as Method

__all__ = [
    "KINDS",
    "METHODS",
    "RELATIONS",
    "prospect_backtest",
    "prospects",
]
