"""Seeded generator of a realistic regional referral market.

:func:`generate_market` builds a fictional region in which one *focus*
organisation (``focus``, "ours") competes with ``n_competitors`` other
organisations for the referrals of independent primary-care practices, and
returns the referral events, the providers, the focus organisation's outreach
log and the planted ground truth as a :class:`Market`. Everything is drawn
from one seed, so a market is reproducible bit for bit; the generator is
vectorised with numpy and scales to hundreds of thousands of providers and
tens of millions of events. :func:`write_market` saves a market as CSV or
Parquet.

The model
---------
Each step draws from its own child of ``numpy.random.SeedSequence(seed)``, so
changing a later parameter (say ``visit_effect``) leaves the earlier draws
(providers, preferences, dynamics) unchanged.

**Geography.** ``n_towns`` towns are taken, in order, from a fixed table of
fictional towns in Ohio (name, state, three ZIP codes, centre latitude and
longitude, relative population; the first and largest is "Riverside").
Distances are equirectangular kilometres between town centres; a provider's
distance to a site is the distance between their towns.

**Organisations.** The focus organisation is a hospital system based in the
largest town. Competitor ``i`` (0-based) is a specialty group (one specialty,
based in one town) when ``i % 3 == 2`` and otherwise a hospital system (all
ten specialties, based in town ``(i + 1) % n_towns``), so competitor 0 is
always a system. Each organisation has a brand appeal (focus 0.35,
competitors Normal(0, 0.25)) and a size (focus 1.4, systems Uniform(0.7, 1.1),
groups 0.6).

**Providers.** ``n_providers`` is split into general acute care hospitals
(NUCC ``282N00000X``; one per system in its home town, plus a second focus
hospital in town 1 when ``n_providers >= 1000`` and ``n_towns > 1``),
specialists (30 %) and
primary-care providers (the rest). Specialists are employed by an
organisation and have one of ten specialties with real NUCC codes:
orthopaedic surgery ``207X00000X``, cardiovascular disease ``207RC0000X``,
gastroenterology ``207RG0100X``, neurology ``2084N0400X``, surgery
``208600000X``, obstetrics & gynecology ``207V00000X``, dermatology
``207N00000X``, medical oncology ``207RX0202X``, urology ``208800000X`` and
pulmonary disease ``207RP1001X``. They are allocated to the (organisation,
specialty) cells an organisation offers with probability proportional to
organisation size times specialty demand (the summed family and internal
medicine mix weights below), after one specialist per cell
when there are enough of them; a specialist works at the organisation's
home-town site with probability 0.55 (0.85 for groups) and otherwise in a
town drawn in proportion to population. Primary-care providers work in
independent practices (sizes Geometric(0.45), mean 2.2; town drawn in
proportion to population) of one type: family medicine ``207Q00000X`` (50 %),
internal medicine ``207R00000X`` (35 %) or pediatrics ``208000000X`` (15 %);
in practices of two or more, each member is, with probability 0.2, a nurse
practitioner ``363L00000X`` (65 %) or physician assistant ``363A00000X``
(35 %). Practices are named "<Surname> Family Practice" and the like.
Providers of one site or practice share its coordinates and ZIP code. Ids are
unique, random, valid NPIs (first digit 1, Luhn check digit over the prefix
80840, see :mod:`referral_graph.npi`). The focus organisation's providers have
``in_network=True``. ``role`` is ``"pcp"``, ``"app"`` (NP/PA),
``"specialist"`` or ``"hospital"``.

**Referrers and volume.** Every primary-care provider refers, and so does
each specialist with probability 0.5 (specialists refer to other
specialties and to hospitals, never to their own specialty, so no provider
refers to itself). Referrer ``i`` has a relative volume
``v_i ~ LogNormal(-s**2/2, s)`` (``s = volume_sigma``, mean 1) times a role
factor (physicians 1.0, pediatrics 0.8, NP/PA 0.6, specialists 0.3), which
gives the heavy tail of real referral data.

**Service-line mix.** Each referrer type has fixed weights over eleven
receiving service lines (the ten specialties and the hospital; e.g. family
medicine sends most to orthopaedics, cardiology and gastroenterology,
surgeons send to oncology and the hospital). A referrer's mix is
Dirichlet(15 * w) over the lines some organisation offers, w the type's
normalised weights.

**Organisation choice.** For each referrer ``i`` and service line ``l`` the
share sent to organisation ``o`` (among those offering ``l``) is a
multinomial logit ``softmax(u / tau_i)`` with utility
``u = brand_o + taste_io + 0.4 * e_ilo - d_io(l) / distance_scale + 3 * own``:
``taste_io = 0.7 * t_po + 0.5 * e_io`` (``t_po`` shared by practice ``p``, so
colleagues refer alike; 0.5 * e_io for specialists), ``e`` standard normal,
``d_io(l)`` the distance in km to the nearest town where ``o`` offers ``l``
and ``own`` 1 for a specialist's own organisation. A referrer is *loyal*
(``tau = 0.35``, nearly all to one organisation) with probability
``loyal_share`` and *split* (``tau = 1``) otherwise. Shares below
``min(0.05, 0.5 / n_orgs)`` are dropped and the rest renormalised.

**Receivers.** Within an organisation, a referrer uses one site (town), drawn
with probability proportional to ``exp(-km / 10)``, and ``1 + min(Poisson(0.8),
3)`` receivers of that line there, drawn uniformly with replacement, with
Exponential(1) weights normalised to 1 (so most referrers have a favourite).

**Ties and rates.** A tie ``(i, j)`` (``j`` a receiver of line ``l`` in
organisation ``o``) gets a base weight ``b_ij = v_i * mix_il * share_ilo * w_ij``
(summed over repeated draws of ``j``) and a shift ``h_ij`` (see switch and
drift below); the expected count in month ``m`` is::

    rate_ij(m) = c * g(m) * a_i(m) * (b_ij + h_ij * rho_i(m)) * (1 + visit_effect * T_i(m) * F_j)

``g(m) = (1 + seasonality * p(month of year)) * (1 + trend) ** (m / 12)`` with
the seasonal profile ``p`` = (Jan 0.0, Feb 0.3, Mar 0.6, Apr 0.4, May 0.3,
Jun -0.2, Jul -0.7, Aug -0.6, Sep 0.3, Oct 0.6, Nov 0.0, Dec -1.0) (mean 0:
summer and December holiday dips), ``a_i`` and ``rho_i`` the referrer's
dynamics, ``T_i(m)`` 1 in the months after an outreach visit, ``F_j`` 1 when
``j`` belongs to the focus organisation. The constant ``c`` is chosen so that
the expected number of events *without* the visit effect is exactly
``events_per_month * n_months``; ``c * b_ij`` is the tie's ``base_rate`` in
``ties`` (expected referrals per month before seasonality, dynamics and
visits) and its sum over a referrer's ties their ``base_rate`` in ``truth``
(default ``events_per_month`` = 3.2 per
provider per month: about 144,000 events for 1,500 providers and 30 months).

**Counts and rows.** ``N_ij(m) ~ Poisson(rate_ij(m) * G)`` with
``G ~ Gamma(1 / dispersion, dispersion)`` per tie and month (a negative
binomial; ``dispersion=0`` gives Poisson). Each event gets a day drawn
uniformly within its month and a patient drawn uniformly from the
referrer's panel of ``ceil(E_i / 1.6)`` patients (``E_i`` the referrer's
expected events), so a patient belongs to one referrer and can have several
events; patient ids ("P" and eight or more digits) are a scrambled
numbering. Referrals of the same patient to the same receiver on the same
day are merged into one row (rows are therefore unique whenever
``patient_ids=True``; without patient ids, same-day rows of a tie repeat).
The payer is drawn per patient from a mix that depends on the referrer
type (e.g. pediatrics: 0 % Medicare, 52 % Commercial, 44 % Medicaid, 4 %
Self-pay; internal medicine: 55 / 30 / 11 / 4). ``amount`` is
``LogNormal(log(median_l) + log(k_payer), 0.8)`` rounded to cents, with a
median per service line (orthopaedics 1,850 ... hospital 7,800) and payer
factors Medicare 1.0, Commercial 1.25, Medicaid 0.7, Self-pay 0.55.
``service_line`` is the receiver's specialty label. Events are sorted by date.

**Dynamics** (one behaviour per referrer, recorded in ``truth``). ``change``
is the 0-based month the behaviour starts (``change_month`` in ``truth``):

- ``stable``: ``a = 1``, ``rho = 0``.
- ``switch`` (probability ``churn_rate``): from ``change`` on, a fraction
  ``f ~ U(0.8, 1)`` (``magnitude``) of the referrer's focus volume moves at
  once to one competitor system ``k`` (``to_competitor``, drawn with weights
  proportional to the referrer's baseline share at each competitor system
  plus 0.02). For every line ``l`` that ``k`` offers, with ``F_il`` the
  baseline focus share of the line, ``share_il,focus`` falls by ``f * F_il``
  and ``share_il,k`` rises by the same amount (receivers are drawn for
  ``(i, l, k)`` as above when ``i`` had no tie there); ``h_ij`` is that
  change times ``v_i * mix_il * w_ij``, so total volume is unchanged and lines
  ``k`` does not offer stay with the focus organisation. ``rho = 1`` from
  ``change``.
- ``drift`` (``drift_rate``): the same move, gradual: ``f ~ U(0.5, 0.9)``,
  ``rho(m) = clip((m - change + 1) / L, 0, 1)``, ``L ~ U{4..12}`` months.
- ``retire`` (``retire_rate``): ``a = 0`` from ``change`` on.
- ``dip`` (``dip_rate``): ``a = 1 - depth`` (``depth ~ U(0.5, 0.9)``) for
  ``L ~ U{2..4}`` months from ``change``, then 1 again.
- ``new`` (``new_referrer_rate``): ``a = 0`` before ``change``, then
  ``min(1, (m - change + 1) / 3)``.
- ``decline`` (``decline_rate``): ``a`` falls linearly from 1 to ``1 - f``
  (``f ~ U(0.4, 0.8)``) between ``change`` and the last month.

``switch`` and ``drift`` apply only to *eligible* referrers (not employed by
the focus organisation, baseline focus share >= 0.1); for them the rates are
probabilities, and the other behaviours have their rates for everyone
(``stable`` takes the rest), so realised switch/drift counts are lower than
``rate * n_referrers``. ``change`` is drawn uniformly from a window that
leaves history before and after it (for example ``switch``:
``[max(1, n // 5), max(1, n - 3)]``, ``n = n_months``).

**Outreach and the visit effect.** ``n_liaisons`` named liaisons of the focus
organisation cover the towns (round-robin by size). Among primary-care
referrers, each is *visited* with probability proportional to
``sqrt(base volume)``, scaled so the mean probability is ``visit_share``
(capped at 0.95): weighted towards volume but random, and independent of
the planted behaviour. A visited referrer's first visit month is uniform on
``[max(1, n // 6), max(1, n - 2)]``; after each visit another follows with
probability 0.4 (up to three) after 3-8 months. Visits in months in which the
referrer does not refer (after retiring, before appearing) are dropped.
**The planted causal effect:** in the ``visit_duration`` months *after* a
visit month (``v < m <= v + visit_duration``; overlapping windows do not
compound) the referrer's rates to focus providers are multiplied by
``1 + visit_effect``; these are additional referrals, not taken from
competitors, and a referrer without focus ties is unaffected. Each visit is
dated on a uniform day of its month. Placebo activities with no effect are
logged too, for primary-care referrers drawn with probability proportional
to the same volume weight, independently of visits: ``call`` (mean
probability 0.35, ``1 + Poisson(1.5)`` calls in uniform months), ``lunch``
(0.1, one) and ``event`` (``max(1, n // 6)`` CME evenings on the 15th of
random months, 0.05 each); those falling in inactive months are dropped.
The liaison of an activity is the one covering the referrer's town.

**Dirty rows.** With ``dirty > 0``, ``round(dirty * n)`` of the ``n``
generated rows are planted as bad rows, split evenly between blank ids (``""`` or missing),
unparsable dates (``"2024-13-45"``, ``"n/a"``; the ``date`` column is then
ISO text), negative amounts, self-referrals, exact duplicates (an extra
copy next to the original) and ids that fail the NPI check digit. The
counts are in ``params["dirty_counts"]``.

Examples
--------
>>> market = generate_market(n_providers=60, n_months=6, seed=1)
>>> list(market.events.columns)
['source', 'target', 'date', 'patient_id', 'amount', 'service_line', 'payer']
>>> len(market.providers), market.focus
(60, 'Riverside Health')
>>> bool(market.events["source"].isin(market.providers["id"]).all())
True
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from referral_graph._checks import check_float, check_int
from referral_graph.exceptions import ParameterError

__all__ = ["BEHAVIOURS", "Market", "generate_market", "write_market"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The planted referrer behaviours, in the order of their codes.
BEHAVIOURS: tuple[str, ...] = ("stable", "switch", "drift", "retire", "dip", "new", "decline")
_STABLE, _SWITCH, _DRIFT, _RETIRE, _DIP, _NEW, _DECLINE = range(7)

# ----------------------------------------------------------------------------- fixed tables

# Provider types: (NUCC taxonomy code, label, role). The first eleven are the
# receiving service lines (ten specialties and the hospital).
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("207X00000X", "Orthopaedic Surgery", "specialist"),
    ("207RC0000X", "Cardiovascular Disease", "specialist"),
    ("207RG0100X", "Gastroenterology", "specialist"),
    ("2084N0400X", "Neurology", "specialist"),
    ("208600000X", "Surgery", "specialist"),
    ("207V00000X", "Obstetrics & Gynecology", "specialist"),
    ("207N00000X", "Dermatology", "specialist"),
    ("207RX0202X", "Medical Oncology", "specialist"),
    ("208800000X", "Urology", "specialist"),
    ("207RP1001X", "Pulmonary Disease", "specialist"),
    ("282N00000X", "General Acute Care Hospital", "hospital"),
    ("207Q00000X", "Family Medicine", "pcp"),
    ("207R00000X", "Internal Medicine", "pcp"),
    ("208000000X", "Pediatrics", "pcp"),
    ("363L00000X", "Nurse Practitioner", "app"),
    ("363A00000X", "Physician Assistant", "app"),
)
_N_SPEC = 10  # physician specialties: kinds 0..9
_HOSP = 10  # the hospital service line / kind
_N_LINES = 11
_FM, _IM, _PEDS, _NP, _PA = 11, 12, 13, 14, 15

# Referral weights over the eleven service lines, one row per provider kind.
_FAMILY = (16, 12, 12, 7, 9, 8, 10, 4, 6, 6, 10)
_MIX_WEIGHTS: tuple[tuple[float, ...], ...] = (
    (0, 1, 0, 4, 2, 0, 0, 0, 0, 0, 6),  # orthopaedics -> neurology, surgery, hospital
    (0, 0, 1, 2, 3, 0, 0, 0.5, 0, 4, 8),  # cardiology -> pulmonary, surgery
    (0, 1, 0, 0, 6, 0, 0, 4, 0, 0, 6),  # gastroenterology -> surgery, oncology
    (4, 1, 0, 0, 0, 0, 0, 1, 0, 0, 5),  # neurology -> orthopaedics
    (0, 3, 3, 0, 0, 0, 0, 4, 0, 1, 10),  # surgery -> oncology, GI, cardiology
    (0, 0, 1, 0, 2, 0, 0, 3, 3, 0, 6),  # OB/GYN -> oncology, urology
    (0, 0, 0, 0, 4, 0, 0, 3, 0, 0, 0.5),  # dermatology -> surgery, oncology
    (0, 2, 2, 1, 6, 0, 0, 0, 1, 3, 8),  # oncology -> surgery, pulmonary
    (0, 0, 0, 0, 2, 0, 0, 5, 0, 0, 4),  # urology -> oncology
    (0, 4, 0, 0.5, 2, 0, 0, 4, 0, 0, 8),  # pulmonary -> cardiology, oncology
    (0,) * _N_LINES,  # hospitals do not refer
    _FAMILY,
    (12, 16, 14, 8, 8, 3, 8, 7, 8, 9, 7),  # internal medicine
    (18, 8, 14, 14, 10, 2, 16, 2, 8, 8, 4),  # pediatrics
    _FAMILY,
    _FAMILY,
)
_MIX_CONCENTRATION = 15.0
# Relative referral volume by kind (specialists refer less than primary care).
_VOLUME_FACTOR = (0.3,) * _N_SPEC + (0.0, 1.0, 1.0, 0.8, 0.6, 0.6)
# Median amount (USD) per service line.
_AMOUNT_MEDIAN = (1850.0, 620.0, 1150.0, 480.0, 2400.0, 540.0, 260.0, 3100.0, 690.0, 430.0, 7800.0)
_AMOUNT_SIGMA = 0.8

_PAYERS = ("Medicare", "Commercial", "Medicaid", "Self-pay")
_PAYER_FACTOR = (1.0, 1.25, 0.7, 0.55)
_SPECIALIST_PAYERS = (0.45, 0.38, 0.13, 0.04)
_FAMILY_PAYERS = (0.35, 0.42, 0.17, 0.06)
_PAYER_MIX: tuple[tuple[float, ...], ...] = (
    *((_SPECIALIST_PAYERS,) * 5),
    (0.10, 0.55, 0.30, 0.05),  # OB/GYN
    *((_SPECIALIST_PAYERS,) * 4),
    _SPECIALIST_PAYERS,  # hospital (unused)
    _FAMILY_PAYERS,
    (0.55, 0.30, 0.11, 0.04),  # internal medicine
    (0.00, 0.52, 0.44, 0.04),  # pediatrics
    _FAMILY_PAYERS,
    _FAMILY_PAYERS,
)

# Fictional towns: name, state, ZIP codes, latitude, longitude, relative population.
_TOWNS: tuple[tuple[str, str, tuple[str, str, str], float, float, float], ...] = (
    ("Riverside", "OH", ("43015", "43016", "43017"), 40.00, -82.95, 1.00),
    ("Millbrook", "OH", ("43062", "43063", "43064"), 40.28, -83.10, 0.55),
    ("Cedar Falls", "OH", ("43138", "43139", "43140"), 39.74, -82.62, 0.40),
    ("Lakeview", "OH", ("43348", "43349", "43350"), 40.35, -82.55, 0.30),
    ("Fairhaven", "OH", ("43123", "43124", "43125"), 39.80, -83.30, 0.25),
    ("Oak Ridge", "OH", ("43160", "43161", "43162"), 40.10, -82.40, 0.20),
    ("Westfield", "OH", ("43338", "43339", "43340"), 40.05, -83.55, 0.16),
    ("Brookside", "OH", ("43146", "43147", "43148"), 39.60, -83.00, 0.13),
    ("Pine Hollow", "OH", ("43107", "43108", "43109"), 40.55, -82.90, 0.10),
    ("Granite City", "OH", ("43155", "43156", "43157"), 39.55, -82.35, 0.08),
    ("Maple Grove", "OH", ("43130", "43131", "43132"), 40.45, -83.45, 0.07),
    ("Harbor Point", "OH", ("43311", "43312", "43313"), 40.60, -82.30, 0.06),
)

_SYSTEM_NAMES = (
    "Summit Health",
    "Lakeshore Health",
    "Valley Regional Health",
    "Northgate Health Partners",
    "St. Brendan Health System",
    "Prairie View Health",
    "Crescent Care Network",
    "Mercy Ridge Health",
    "Bayfront Health Alliance",
    "Hillcrest Health System",
    "Union County Health",
    "Four Rivers Health",
    "Sycamore Health",
    "Bellwood Health",
)
_GROUP_PREFIXES = (
    "Keystone",
    "Heartland",
    "Bluewater",
    "Ironwood",
    "Silver Creek",
    "Timberline",
    "Clearwater",
    "Redstone",
)
_GROUP_SUFFIXES = (
    "Orthopaedic Associates",
    "Cardiology Group",
    "Digestive Health",
    "Neurology Associates",
    "Surgical Associates",
    "Women's Health",
    "Dermatology",
    "Cancer Specialists",
    "Urology Partners",
    "Lung & Sleep Specialists",
)
_GROUP_SPECIALTIES = (0, 1, 2, 7, 8, 6, 3, 9, 4, 5)
_PRACTICE_TYPES: tuple[tuple[int, str, float], ...] = (
    (_FM, "Family Practice", 0.50),
    (_IM, "Internal Medicine", 0.35),
    (_PEDS, "Pediatrics", 0.15),
)

_SYL1: tuple[str, ...] = ("Al", "Bren", "Car", "Del", "Es", "Fer", "Gar", "Hal", "Ken", "Lo")
_SYL1 += ("Mar", "Nor", "Or", "Pel", "Ri", "Sal", "Tor", "Val", "Wes", "Yan")
_SYL2: tuple[str, ...] = ("ton", "vera", "well", "ford", "ley", "son", "ado", "ner")
_SYL2 += ("ick", "man", "ez", "sky", "berg", "ini", "ow", "ard")
_INITIALS = "ABCDEFGHJKLMNPRSTW"
_LIAISONS = (
    "Jordan Avery",
    "Morgan Ellis",
    "Casey Navarro",
    "Riley Okafor",
    "Taylor Brennan",
    "Alex Whitfield",
    "Jamie Castillo",
    "Quinn Harper",
)

# Seasonal profile by calendar month (January first), mean 0.
_SEASON = (0.0, 0.3, 0.6, 0.4, 0.3, -0.2, -0.7, -0.6, 0.3, 0.6, 0.0, -1.0)

_DEFAULT_DENSITY = 3.2  # expected events per provider per month
_EVENTS_PER_PATIENT = 1.6
_SPECIALIST_SHARE = 0.30
_SPECIALIST_REFERS = 0.5
_LOYAL_TAU, _SPLIT_TAU = 0.35, 1.0
_OWN_BONUS = 3.0
_SITE_SCALE_KM = 10.0
_ELIGIBLE_FOCUS_SHARE = 0.1
_MAX_VISITS = 3

_DIRTY_KINDS = (
    "blank_id",
    "bad_date",
    "negative_amount",
    "self_referral",
    "duplicate",
    "invalid_npi",
)
_BAD_DATES = ("2024-13-45", "n/a")


# ----------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Market:
    """A synthetic referral market, as returned by :func:`generate_market`.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per referral, sorted by date: ``source``, ``target`` (NPIs,
        ``str``), ``date`` (datetime64[ns]; ISO text when dirty rows were
        planted), ``patient_id`` (``str``, unless ``patient_ids=False``),
        ``amount`` (float64, unless ``amounts=False``), ``service_line`` (the
        receiver's specialty) and ``payer`` (``str``).
    providers : pandas.DataFrame
        ``id``, ``name``, ``taxonomy_code``, ``specialty``, ``organization``,
        ``city``, ``state``, ``zip``, ``lat``, ``lon``, ``in_network`` (bool),
        ``role`` (``"pcp"``, ``"app"``, ``"specialist"``, ``"hospital"``).
    activities : pandas.DataFrame
        The focus organisation's outreach log, sorted by date: ``date``,
        ``provider``, ``liaison``, ``kind`` (``"visit"``, ``"call"``,
        ``"lunch"``, ``"event"``; only visits have a planted effect).
    truth : pandas.DataFrame
        One row per referrer: ``provider``, ``role``, ``specialty``,
        ``organization``, ``city``; ``base_rate`` (expected referrals per
        month before seasonality and dynamics); ``loyalty`` (``"loyal"`` or
        ``"split"``); ``focus_share`` (expected share of the base rate sent
        to the focus organisation); ``behaviour`` (one of
        :data:`BEHAVIOURS`); ``change_month`` (first day of the month the
        behaviour starts, NaT when stable); ``change_end`` (first month at
        full effect for switch/drift/new, last dip month for dip, last month
        for decline, the change month for retire); ``magnitude`` (share of
        focus volume moved for switch/drift, depth for dip, fraction lost for
        decline, 1 for retire/new, 0 for stable); ``to_competitor``
        (organisation name for switch/drift, missing otherwise);
        ``visited`` (bool), ``first_visit`` (date of the first visit, NaT
        when not visited), ``n_visits``, ``treated_months`` (months under the
        visit effect); ``expected_referrals`` (over the whole history,
        including the visit effect) and ``focus_share_end`` (expected focus
        share in the last month, NaN when the referrer is inactive then).
    focus : str
        The focus organisation's name.
    params : dict
        Every parameter used, the resolved ``events_per_month`` and the
        realised sizes (``n_events``, ``n_ties``, ``n_referrers``,
        ``n_patients``, ``behaviour_counts``, ``organizations``,
        ``liaisons``, ``dirty_counts``).
    ties : pandas.DataFrame
        Tie-level truth: ``source``, ``target``, ``service_line``,
        ``organization`` (the receiver's), ``in_network``, ``base_rate`` and
        ``expected_referrals`` (as in ``truth``).
    """

    events: pd.DataFrame
    providers: pd.DataFrame
    activities: pd.DataFrame
    truth: pd.DataFrame
    focus: str
    params: dict[str, Any]
    ties: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        return (
            f"Market(focus={self.focus!r}, providers={len(self.providers):,}, "
            f"events={len(self.events):,}, activities={len(self.activities):,}, "
            f"referrers={len(self.truth):,})"
        )


def generate_market(
    *,
    n_providers: int = 1500,
    n_months: int = 30,
    start: str | pd.Timestamp = "2024-01-01",
    seed: int = 0,
    n_competitors: int = 3,
    events_per_month: float | None = None,
    churn_rate: float = 0.04,
    drift_rate: float = 0.08,
    dip_rate: float = 0.05,
    new_referrer_rate: float = 0.06,
    retire_rate: float = 0.04,
    decline_rate: float = 0.05,
    seasonality: float = 0.15,
    trend: float = 0.0,
    visit_effect: float = 0.25,
    visit_duration: int = 6,
    visit_share: float = 0.3,
    n_liaisons: int = 4,
    n_towns: int = 6,
    focus: str = "Riverside Health",
    loyal_share: float = 0.5,
    volume_sigma: float = 1.2,
    dispersion: float = 0.1,
    distance_scale: float = 20.0,
    patient_ids: bool = True,
    amounts: bool = True,
    dirty: float = 0.0,
) -> Market:
    """Generate a seeded synthetic referral market.

    The model is described in the module docstring (:mod:`referral_graph.synthetic`).

    Parameters
    ----------
    n_providers : int, default 1500
        Number of providers (hospitals, specialists, primary care), in
        [50, 5,000,000].
    n_months : int, default 30
        Length of the history in months, in [3, 600].
    start : str or pandas.Timestamp, default "2024-01-01"
        First month; a date inside a month means that month.
    seed : int, default 0
        Seed of every random draw (non-negative).
    n_competitors : int, default 3
        Competitor organisations, in [1, 20]; every third is a specialty
        group, the others hospital systems.
    events_per_month : float, optional
        Expected events per month without the visit effect; by default
        3.2 per provider.
    churn_rate, drift_rate : float
        Probability that an eligible referrer abruptly switches / gradually
        drifts to a competitor (defaults 0.04 and 0.08).
    dip_rate, new_referrer_rate, retire_rate, decline_rate : float
        Probability that a referrer dips and recovers, appears mid-history,
        retires, or declines everywhere (defaults 0.05, 0.06, 0.04, 0.05).
        The six rates must sum to at most 1.
    seasonality : float, default 0.15
        Amplitude of the seasonal profile, in [0, 1].
    trend : float, default 0.0
        Market growth per year, in [-0.5, 1].
    visit_effect : float, default 0.25
        Planted multiplicative uplift of a visited referrer's referrals to
        the focus organisation (0.25 = +25 %), in [0, 10].
    visit_duration : int, default 6
        Months after a visit month during which the uplift applies, in [1, 36].
    visit_share : float, default 0.3
        Mean probability that a primary-care referrer is visited, in [0, 0.9].
    n_liaisons : int, default 4
        Number of named liaisons, in [1, 8].
    n_towns : int, default 6
        Number of towns, in [1, 12].
    focus : str, default "Riverside Health"
        Name of the focus organisation.
    loyal_share : float, default 0.5
        Share of referrers who are loyal to one organisation, in [0, 1].
    volume_sigma : float, default 1.2
        Log-scale spread of referrer volumes, in [0, 3].
    dispersion : float, default 0.1
        Gamma overdispersion of monthly counts (0 = Poisson), in [0, 5].
    distance_scale : float, default 20.0
        Kilometres that cost one unit of utility, in (0, 10,000].
    patient_ids, amounts : bool, default True
        Include the ``patient_id`` / ``amount`` columns.
    dirty : float, default 0.0
        Fraction of planted bad rows, in [0, 0.5].

    Returns
    -------
    Market
        Events, providers, activities, truth, focus name, parameters and
        tie-level truth.

    Raises
    ------
    ParameterError
        If a parameter has the wrong type or is out of range.

    Examples
    --------
    >>> m = generate_market(n_providers=60, n_months=6, seed=1)
    >>> bool(m.events["date"].between("2024-01-01", "2024-06-30").all())
    True
    >>> sorted(m.truth.columns)[:3]
    ['base_rate', 'behaviour', 'change_end']
    """
    fn = "generate_market"
    check_int(n_providers, "n_providers", fn, low=50, high=5_000_000)
    check_int(n_months, "n_months", fn, low=3, high=600)
    check_int(seed, "seed", fn, low=0, high=2**63 - 1)
    check_int(n_competitors, "n_competitors", fn, low=1, high=20)
    check_int(visit_duration, "visit_duration", fn, low=1, high=36)
    check_int(n_liaisons, "n_liaisons", fn, low=1, high=len(_LIAISONS))
    check_int(n_towns, "n_towns", fn, low=1, high=len(_TOWNS))
    if events_per_month is not None:
        check_float(events_per_month, "events_per_month", fn, low=0.0, high=1e9)
    rates = {
        "churn_rate": churn_rate,
        "drift_rate": drift_rate,
        "dip_rate": dip_rate,
        "new_referrer_rate": new_referrer_rate,
        "retire_rate": retire_rate,
        "decline_rate": decline_rate,
    }
    for name, value in rates.items():
        check_float(value, name, fn, low=0.0, high=1.0)
    if sum(rates.values()) > 1.0 + 1e-12:
        raise ParameterError(
            f"The behaviour rates of {fn} (churn_rate, drift_rate, dip_rate, new_referrer_rate, "
            f"retire_rate, decline_rate) must sum to at most 1. Got {sum(rates.values()):g} "
            "instead."
        )
    check_float(seasonality, "seasonality", fn, low=0.0, high=1.0)
    check_float(trend, "trend", fn, low=-0.5, high=1.0)
    check_float(visit_effect, "visit_effect", fn, low=0.0, high=10.0)
    check_float(visit_share, "visit_share", fn, low=0.0, high=0.9)
    check_float(loyal_share, "loyal_share", fn, low=0.0, high=1.0)
    check_float(volume_sigma, "volume_sigma", fn, low=0.0, high=3.0)
    check_float(dispersion, "dispersion", fn, low=0.0, high=5.0)
    check_float(distance_scale, "distance_scale", fn, low=1e-9, high=10_000.0)
    check_float(dirty, "dirty", fn, low=0.0, high=0.5)
    for flag, flag_name in ((patient_ids, "patient_ids"), (amounts, "amounts")):
        if not isinstance(flag, bool):
            raise ParameterError(
                f"The {flag_name!r} parameter of {fn} must be a bool. Got {flag!r} instead."
            )
    if not isinstance(focus, str) or not focus.strip():
        raise ParameterError(
            f"The 'focus' parameter of {fn} must be a non-empty str. Got {focus!r} instead."
        )
    first_month = _parse_start(start, fn)
    n_providers, n_months, seed = int(n_providers), int(n_months), int(seed)
    n_competitors, visit_duration = int(n_competitors), int(visit_duration)
    n_liaisons, n_towns = int(n_liaisons), int(n_towns)
    epm = float(_DEFAULT_DENSITY * n_providers if events_per_month is None else events_per_month)

    streams = np.random.SeedSequence(seed).spawn(8)
    rng_geo, rng_prov, rng_pref, rng_dyn, rng_visit, rng_draw, rng_dirty, rng_act = (
        np.random.default_rng(s) for s in streams
    )

    months = _month_table(first_month, n_months)
    towns = _TOWNS[:n_towns]
    orgs = _make_orgs(rng_geo, focus, n_competitors, n_towns)
    prov = _make_providers(rng_prov, n_providers, orgs, towns)
    refs = _make_referrers(rng_pref, prov, loyal_share, volume_sigma)
    entries = _org_shares(rng_pref, prov, refs, orgs, towns, distance_scale)
    dyn = _assign_dynamics(rng_dyn, refs, entries, orgs, n_months, rates)
    entries = _add_shifts(entries, dyn, orgs)
    ties = _expand_ties(rng_pref, prov, refs, entries, orgs, towns)
    visits = _schedule_visits(rng_visit, refs, dyn, months, visit_share, visit_duration)

    season = np.asarray(_SEASON, dtype=np.float64)[months.calendar_month]
    growth = (1.0 + seasonality * season) * (1.0 + trend) ** (np.arange(n_months) / 12.0)
    scale, expected_by_ref = _calibrate(refs, ties, dyn, growth, epm * n_months)
    ties.base *= scale
    ties.shift *= scale

    sample = _sample_events(
        rng_draw, refs, ties, dyn, visits, growth, months, expected_by_ref, visit_effect, dispersion
    )
    events = _assemble_events(rng_draw, prov, refs, ties, sample, months, patient_ids, amounts)
    dirty_counts = dict.fromkeys(_DIRTY_KINDS, 0)
    if not amounts:
        dirty_counts.pop("negative_amount")
    if dirty > 0:
        events, dirty_counts = _plant_dirty(rng_dirty, events, dirty, amounts)
    activities = _make_activities(rng_act, refs, prov, dyn, visits, months, n_liaisons, n_towns)
    truth = _make_truth(prov, refs, ties, dyn, visits, sample, orgs, months)
    tie_table = _make_tie_table(prov, ties, sample, orgs)

    behaviour_counts = {
        name: int(np.count_nonzero(dyn.behaviour == code)) for code, name in enumerate(BEHAVIOURS)
    }
    params: dict[str, Any] = {
        "n_providers": n_providers,
        "n_months": n_months,
        "start": str(first_month.date()),
        "seed": seed,
        "n_competitors": n_competitors,
        "events_per_month": epm,
        **{k: float(v) for k, v in rates.items()},
        "seasonality": float(seasonality),
        "trend": float(trend),
        "visit_effect": float(visit_effect),
        "visit_duration": visit_duration,
        "visit_share": float(visit_share),
        "n_liaisons": n_liaisons,
        "n_towns": n_towns,
        "focus": focus,
        "loyal_share": float(loyal_share),
        "volume_sigma": float(volume_sigma),
        "dispersion": float(dispersion),
        "distance_scale": float(distance_scale),
        "patient_ids": patient_ids,
        "amounts": amounts,
        "dirty": float(dirty),
        "n_events": len(events),
        "n_ties": len(tie_table),
        "n_referrers": len(truth),
        "n_patients": int(sample.n_patients),
        "behaviour_counts": behaviour_counts,
        "organizations": list(orgs.names),
        "liaisons": list(_LIAISONS[:n_liaisons]),
        "dirty_counts": dirty_counts,
    }
    logger.info(
        "Generated a market of %s providers, %s referrers, %s ties and %s events over %d months",
        f"{n_providers:,}",
        f"{len(truth):,}",
        f"{len(tie_table):,}",
        f"{len(events):,}",
        n_months,
    )
    return Market(
        events=events,
        providers=prov.frame,
        activities=activities,
        truth=truth,
        focus=focus,
        params=params,
        ties=tie_table,
    )


def write_market(
    market: Market,
    out_dir: str | os.PathLike[str],
    *,
    format: Literal["csv", "parquet"] = "csv",
    compress: bool = False,
    include_truth: bool = True,
) -> dict[str, Path]:
    """Write a market's tables to `out_dir`, each file atomically.

    Each table is written to a temporary file in `out_dir` and moved into
    place with :func:`os.replace`, so a reader never sees a half-written
    file and a failure leaves any earlier file untouched.

    Parameters
    ----------
    market : Market
        The market to write.
    out_dir : str or path-like
        Directory, created if needed.
    format : {"csv", "parquet"}, default "csv"
        File format. CSV dates are written as ``YYYY-MM-DD``.
    compress : bool, default False
        CSV: gzip (``.csv.gz``, reproducible bytes); Parquet: zstd instead of
        snappy.
    include_truth : bool, default True
        Also write ``truth`` and ``ties``.

    Returns
    -------
    dict of str to pathlib.Path
        Table name (``events``, ``providers``, ``activities``, and ``truth``
        and ``ties``) to the path written.

    Raises
    ------
    ParameterError
        If `format` is not ``"csv"`` or ``"parquet"``.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_market(generate_market(n_providers=60, n_months=3), tempfile.mkdtemp())
    >>> sorted(paths)
    ['activities', 'events', 'providers', 'ties', 'truth']
    >>> paths["events"].name
    'events.csv'
    """
    if format not in ("csv", "parquet"):
        raise ParameterError(
            "The 'format' parameter of write_market must be one of 'csv', 'parquet'. "
            f"Got {format!r} instead."
        )
    if not isinstance(market, Market):
        raise ParameterError(
            "The 'market' parameter of write_market must be a Market. "
            f"Got {type(market).__name__} instead."
        )
    directory = Path(os.fspath(out_dir))
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {
        "events": market.events,
        "providers": market.providers,
        "activities": market.activities,
    }
    if include_truth:
        tables["truth"] = market.truth
        tables["ties"] = market.ties
    suffix = ".parquet" if format == "parquet" else (".csv.gz" if compress else ".csv")
    written: dict[str, Path] = {}
    for name, table in tables.items():
        path = directory / f"{name}{suffix}"
        _write_atomic(table, path, format, compress)
        written[name] = path
        logger.info("Wrote %s rows to %s", f"{len(table):,}", path)
    return written


# ----------------------------------------------------------------------------- validation


def _parse_start(start: object, fn: str) -> pd.Timestamp:
    stamp: object
    try:
        stamp = pd.Timestamp(start)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        stamp = None
    if not isinstance(stamp, pd.Timestamp) or pd.isna(stamp) or not 1900 <= stamp.year <= 2200:
        raise ParameterError(
            f"The 'start' parameter of {fn} must be a date such as '2024-01-01'. "
            f"Got {start!r} instead."
        )
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1)


# ----------------------------------------------------------------------------- structure


@dataclass
class _Months:
    first_day: npt.NDArray[np.int64]  # days since 1970-01-01 of each month's first day
    n_days: npt.NDArray[np.int64]
    calendar_month: npt.NDArray[np.int64]  # 0 = January
    starts: npt.NDArray[np.datetime64]


def _month_table(first: pd.Timestamp, n_months: int) -> _Months:
    start = np.datetime64(f"{first.year:04d}-{first.month:02d}", "M")
    bounds = (start + np.arange(n_months + 1)).astype("datetime64[D]")
    days = bounds.astype(np.int64)
    return _Months(
        first_day=days[:-1],
        n_days=np.diff(days),
        calendar_month=(first.month - 1 + np.arange(n_months)) % 12,
        starts=bounds[:-1],
    )


@dataclass
class _Orgs:
    names: list[str]
    is_system: BoolArray
    home: IntArray
    size: FloatArray
    brand: FloatArray
    lines: BoolArray  # (orgs, lines) the organisation may offer


def _make_orgs(rng: np.random.Generator, focus: str, n_competitors: int, n_towns: int) -> _Orgs:
    names = [focus]
    is_system = [True]
    home = [0]
    size = [1.4]
    lines = [np.ones(_N_LINES, dtype=bool)]
    system_names = iter([n for n in _SYSTEM_NAMES if n != focus])
    n_groups = 0
    for i in range(n_competitors):
        if i % 3 == 2:
            spec = _GROUP_SPECIALTIES[n_groups % len(_GROUP_SPECIALTIES)]
            name = f"{_GROUP_PREFIXES[n_groups % len(_GROUP_PREFIXES)]} {_GROUP_SUFFIXES[spec]}"
            if n_groups >= len(_GROUP_PREFIXES):
                name += f" {n_groups // len(_GROUP_PREFIXES) + 1}"
            n_groups += 1
            offered = np.zeros(_N_LINES, dtype=bool)
            offered[spec] = True
            names.append(name)
            is_system.append(False)
            size.append(0.6)
            lines.append(offered)
        else:
            names.append(next(system_names, f"Regional Health System {i + 1}"))
            is_system.append(True)
            size.append(float(rng.uniform(0.7, 1.1)))
            lines.append(np.ones(_N_LINES, dtype=bool))
        home.append((i + 1) % n_towns)
    brand = np.concatenate([[0.35], rng.normal(0.0, 0.25, n_competitors)])
    return _Orgs(
        names=names,
        is_system=np.asarray(is_system, dtype=bool),
        home=np.asarray(home, dtype=np.int64),
        size=np.asarray(size, dtype=np.float64),
        brand=brand.astype(np.float64),
        lines=np.vstack(lines),
    )


@dataclass
class _Providers:
    kind: IntArray
    org: IntArray  # -1 for independent practices
    town: IntArray
    practice: IntArray  # -1 for organisation employees
    ids: pa.Array  # NPIs as an Arrow string array
    frame: pd.DataFrame


def _town_weights(towns: tuple[tuple[Any, ...], ...]) -> FloatArray:
    pop = np.asarray([t[5] for t in towns], dtype=np.float64)
    return np.asarray(pop / pop.sum(), dtype=np.float64)


def _make_providers(
    rng: np.random.Generator,
    n: int,
    orgs: _Orgs,
    towns: tuple[tuple[str, str, tuple[str, str, str], float, float, float], ...],
) -> _Providers:
    n_towns = len(towns)
    n_orgs = len(orgs.names)
    pop = _town_weights(towns)

    # hospitals: one per system at home, a second focus hospital in large markets
    hosp_org = [o for o in range(n_orgs) if orgs.is_system[o]]
    hosp_town = [int(orgs.home[o]) for o in hosp_org]
    if n >= 1000 and n_towns > 1:
        hosp_org.append(0)
        hosp_town.append(1)
    n_hosp = len(hosp_org)

    # specialists: allocated to the (organisation, specialty) cells offered
    n_spec = round(_SPECIALIST_SHARE * n)
    demand = np.asarray(_MIX_WEIGHTS[_FM], dtype=np.float64)[:_N_SPEC]
    demand = demand + np.asarray(_MIX_WEIGHTS[_IM], dtype=np.float64)[:_N_SPEC]
    cell_o, cell_s = np.nonzero(orgs.lines[:, :_N_SPEC])
    cell_w = orgs.size[cell_o] * demand[cell_s]
    cell_p = cell_w / cell_w.sum()
    if n_spec >= len(cell_o):
        extra = rng.choice(len(cell_o), size=n_spec - len(cell_o), p=cell_p)
        cells = np.concatenate([np.arange(len(cell_o)), extra])
    else:
        cells = rng.choice(len(cell_o), size=n_spec, p=cell_p)
    spec_org = cell_o[cells].astype(np.int64)
    spec_kind = cell_s[cells].astype(np.int64)
    at_home = rng.random(n_spec) < np.where(orgs.is_system[spec_org], 0.55, 0.85)
    spec_town = np.where(at_home, orgs.home[spec_org], rng.choice(n_towns, size=n_spec, p=pop))

    # primary care in independent practices
    n_primary = n - n_hosp - n_spec
    sizes = rng.geometric(0.45, size=n_primary)
    practice = np.searchsorted(np.cumsum(sizes), np.arange(n_primary), side="right")
    n_practices = int(practice[-1]) + 1
    sizes = np.bincount(practice, minlength=n_practices)
    type_p = np.asarray([t[2] for t in _PRACTICE_TYPES], dtype=np.float64)
    practice_type = rng.choice(len(_PRACTICE_TYPES), size=n_practices, p=type_p)
    practice_kind = np.asarray([t[0] for t in _PRACTICE_TYPES], dtype=np.int64)[practice_type]
    practice_town = rng.choice(n_towns, size=n_practices, p=pop)
    is_app = (rng.random(n_primary) < 0.2) & (sizes[practice] > 1)
    app_kind = np.where(rng.random(n_primary) < 0.65, _NP, _PA)
    prim_kind = np.where(is_app, app_kind, practice_kind[practice])

    kind = np.concatenate([np.full(n_hosp, _HOSP), spec_kind, prim_kind]).astype(np.int64)
    org = np.concatenate([hosp_org, spec_org, np.full(n_primary, -1)]).astype(np.int64)
    town = np.concatenate([hosp_town, spec_town, practice_town[practice]]).astype(np.int64)
    prac = np.concatenate([np.full(n_hosp + n_spec, -1), practice]).astype(np.int64)

    # locations: one site per (organisation, town) and one per practice
    town_lat = np.asarray([t[3] for t in towns])
    town_lon = np.asarray([t[4] for t in towns])
    site_lat = town_lat[None, :] + rng.normal(0.0, 0.015, (n_orgs, n_towns))
    site_lon = town_lon[None, :] + rng.normal(0.0, 0.02, (n_orgs, n_towns))
    site_zip = rng.integers(0, 3, (n_orgs, n_towns))
    prac_lat = town_lat[practice_town] + rng.normal(0.0, 0.03, n_practices)
    prac_lon = town_lon[practice_town] + rng.normal(0.0, 0.04, n_practices)
    prac_zip = rng.integers(0, 3, n_practices)
    employed = org >= 0
    safe_org = np.maximum(org, 0)
    safe_prac = np.maximum(prac, 0)
    lat = np.where(employed, site_lat[safe_org, town], prac_lat[safe_prac])
    lon = np.where(employed, site_lon[safe_org, town], prac_lon[safe_prac])
    zip_pick = np.where(employed, site_zip[safe_org, town], prac_zip[safe_prac])
    zips = np.asarray([z for t in towns for z in t[2]], dtype=object)[town * 3 + zip_pick]

    # names
    surnames = np.asarray([a + b.lower() for a in _SYL1 for b in _SYL2], dtype=object)
    initials = np.asarray(list(_INITIALS), dtype=object)
    surname = surnames[rng.integers(0, len(surnames), n)]
    initial = initials[rng.integers(0, len(initials), n)]
    town_names = [t[0] for t in towns]
    names: list[str] = []
    for i in range(n):
        k = int(kind[i])
        if k == _HOSP:
            o = int(org[i])
            first_of_org = hosp_org.index(o) == i
            names.append(
                f"{orgs.names[o]} Medical Center"
                if first_of_org
                else f"{orgs.names[o]} {town_names[int(town[i])]} Hospital"
            )
        elif k in (_NP, _PA):
            names.append(f"{initial[i]}. {surname[i]}, {'NP' if k == _NP else 'PA'}")
        else:
            names.append(f"Dr. {initial[i]}. {surname[i]}")
    # practice names: "<Surname> <Type>", then "... of <Town>", then numbered
    lead = surnames[rng.integers(0, len(surnames), n_practices)]
    type_names = np.asarray([t[1] for t in _PRACTICE_TYPES], dtype=object)
    base = pd.Series(lead + " " + type_names[practice_type], dtype="str")
    local = base + " of " + pd.Series(np.asarray(town_names, dtype=object)[practice_town])
    name = base.where(base.groupby(base).cumcount() == 0, local)
    repeat = name.groupby(name).cumcount()
    name = name.where(repeat == 0, name + " " + (repeat + 1).astype("str"))
    practice_names = name.to_numpy(dtype=object)
    org_names = np.asarray(orgs.names, dtype=object)
    organization = np.where(employed, org_names[safe_org], practice_names[safe_prac])

    numbers = _npi_numbers(rng, n)
    ids = _digits_to_arrow(numbers, 10)
    codes = np.asarray([k[0] for k in _KINDS], dtype=object)
    labels = np.asarray([k[1] for k in _KINDS], dtype=object)
    roles = np.asarray([k[2] for k in _KINDS], dtype=object)
    frame = pd.DataFrame(
        {
            "id": _arrow_to_series(ids),
            "name": pd.Series(names, dtype="str"),
            "taxonomy_code": pd.Series(codes[kind], dtype="str"),
            "specialty": pd.Series(labels[kind], dtype="str"),
            "organization": pd.Series(organization, dtype="str"),
            "city": pd.Series(np.asarray(town_names, dtype=object)[town], dtype="str"),
            "state": pd.Series(np.asarray([t[1] for t in towns], dtype=object)[town], dtype="str"),
            "zip": pd.Series(zips, dtype="str"),
            "lat": np.round(lat, 5),
            "lon": np.round(lon, 5),
            "in_network": org == 0,
            "role": pd.Series(roles[kind], dtype="str"),
        }
    )
    return _Providers(kind=kind, org=org, town=town, practice=prac, ids=ids, frame=frame)


def _npi_numbers(rng: np.random.Generator, n: int) -> IntArray:
    """Unique random ten-digit NPIs (first digit 1) with Luhn check digits."""
    first_nine = 100_000_000 + np.asarray(
        rng.choice(100_000_000, size=n, replace=False), dtype=np.int64
    )
    total = np.full(n, 24, dtype=np.int64)  # the prefix 80840
    rest = first_nine.copy()
    for position in range(9):  # from the rightmost digit; even positions are doubled
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
    return first_nine * 10 + (10 - total % 10) % 10


def _digits_to_arrow(
    numbers: npt.NDArray[np.signedinteger[Any]], width: int, prefix: bytes = b""
) -> pa.Array:
    """Format non-negative integers as zero-padded strings, without Python loops."""
    n = len(numbers)
    length = len(prefix) + width
    buf = np.empty((n, length), dtype=np.uint8)
    if prefix:
        buf[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    rest = numbers.astype(np.int64, copy=True)
    digit = np.empty(n, dtype=np.int64)
    for j in range(length - 1, len(prefix) - 1, -1):
        np.remainder(rest, 10, out=digit)
        buf[:, j] = digit
        rest //= 10
    buf[:, len(prefix) :] += 48
    del rest, digit
    large = n * length >= 2**31 - 1
    offsets = np.arange(0, (n + 1) * length, length, dtype=np.int64 if large else np.int32)
    array_type = pa.LargeStringArray if large else pa.StringArray
    return array_type.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1)))


def _arrow_to_series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return series


@dataclass
class _Referrers:
    provider: IntArray  # provider index of each referrer
    kind: IntArray
    town: IntArray
    org: IntArray
    volume: FloatArray
    loyal: BoolArray
    mix: FloatArray  # (referrers, lines), rows sum to 1 or 0


def _make_referrers(
    rng: np.random.Generator, prov: _Providers, loyal_share: float, volume_sigma: float
) -> _Referrers:
    is_spec = prov.kind < _N_SPEC
    refers = (prov.kind > _HOSP) | (is_spec & (rng.random(len(prov.kind)) < _SPECIALIST_REFERS))
    provider = np.flatnonzero(refers).astype(np.int64)
    kind = prov.kind[provider]
    n_ref = len(provider)
    factor = np.asarray(_VOLUME_FACTOR, dtype=np.float64)[kind]
    volume = factor * rng.lognormal(-(volume_sigma**2) / 2.0, volume_sigma, n_ref)
    loyal = rng.random(n_ref) < loyal_share
    weights = np.asarray(_MIX_WEIGHTS, dtype=np.float64)[kind]
    weights /= weights.sum(axis=1, keepdims=True)
    shape = _MIX_CONCENTRATION * weights
    mix = np.zeros_like(shape)
    positive = shape > 0
    mix[positive] = rng.gamma(shape[positive])
    return _Referrers(
        provider=provider,
        kind=kind,
        town=prov.town[provider],
        org=prov.org[provider],
        volume=volume,
        loyal=loyal,
        mix=mix,
    )


def _town_distances(towns: tuple[tuple[Any, ...], ...]) -> FloatArray:
    lat = np.asarray([t[3] for t in towns], dtype=np.float64)
    lon = np.asarray([t[4] for t in towns], dtype=np.float64)
    dy = (lat[:, None] - lat[None, :]) * 110.57
    dx = (lon[:, None] - lon[None, :]) * 111.32 * np.cos(np.radians(lat.mean()))
    return np.asarray(np.hypot(dx, dy), dtype=np.float64)


@dataclass
class _Entries:
    """Sparse (referrer, line, organisation) shares before receivers are drawn."""

    ref: IntArray
    line: IntArray
    org: IntArray
    share: FloatArray
    delta: FloatArray
    focus_share: FloatArray  # per referrer, baseline
    org_share: FloatArray  # (referrers, orgs), baseline
    focus_by_line: FloatArray  # (referrers, lines)
    present: BoolArray  # (orgs, lines, towns)


def _org_shares(
    rng: np.random.Generator,
    prov: _Providers,
    refs: _Referrers,
    orgs: _Orgs,
    towns: tuple[tuple[Any, ...], ...],
    distance_scale: float,
) -> _Entries:
    n_orgs, n_towns, n_ref = len(orgs.names), len(towns), len(refs.provider)
    receivers = prov.kind <= _HOSP
    present = np.zeros((n_orgs, _N_LINES, n_towns), dtype=bool)
    present[prov.org[receivers], prov.kind[receivers], prov.town[receivers]] = True
    offered: BoolArray = np.asarray(present.any(axis=2), dtype=bool)
    tdist = _town_distances(towns)
    site_dist = np.full((n_orgs, _N_LINES, n_towns), np.inf)
    for o in range(n_orgs):
        for line in range(_N_LINES):
            if offered[o, line]:
                site_dist[o, line] = tdist[:, present[o, line]].min(axis=1)

    # the mix is renormalised over the lines somebody offers
    somewhere: BoolArray = np.asarray(offered.any(axis=0), dtype=bool)
    mix = refs.mix * somewhere[None, :]
    totals = mix.sum(axis=1, keepdims=True)
    np.divide(mix, totals, out=mix, where=totals > 0)
    refs.mix = mix

    # organisation taste: shared within a practice, individual otherwise
    practice = prov.practice[refs.provider]
    n_practices = int(practice.max()) + 1 if len(practice) else 0
    practice_taste = rng.normal(0.0, 1.0, (max(n_practices, 1), n_orgs))
    own_taste = rng.normal(0.0, 1.0, (n_ref, n_orgs))
    in_practice = practice >= 0
    taste = np.where(
        in_practice[:, None],
        0.7 * practice_taste[np.maximum(practice, 0)] + 0.5 * own_taste,
        0.5 * own_taste,
    )
    own = refs.org[:, None] == np.arange(n_orgs)[None, :]
    tau = np.where(refs.loyal, _LOYAL_TAU, _SPLIT_TAU)
    min_share = min(0.05, 0.5 / n_orgs)

    parts_r: list[IntArray] = []
    parts_l: list[IntArray] = []
    parts_o: list[IntArray] = []
    parts_s: list[FloatArray] = []
    org_share = np.zeros((n_ref, n_orgs))
    focus_by_line = np.zeros((n_ref, _N_LINES))
    for line in range(_N_LINES):
        rows = np.flatnonzero(mix[:, line] > 0)
        if len(rows) == 0:
            continue
        util = (
            orgs.brand[None, :]
            + taste[rows]
            + 0.4 * rng.standard_normal((len(rows), n_orgs))
            - site_dist[:, line, refs.town[rows]].T / distance_scale
            + _OWN_BONUS * own[rows]
        )
        util[:, ~offered[:, line]] = -np.inf
        util /= tau[rows, None]
        util -= util.max(axis=1, keepdims=True)
        share = np.exp(util)
        share /= share.sum(axis=1, keepdims=True)
        share[share < min_share] = 0.0
        share /= share.sum(axis=1, keepdims=True)
        rr, oo = np.nonzero(share)
        parts_r.append(rows[rr].astype(np.int64))
        parts_l.append(np.full(len(rr), line, dtype=np.int64))
        parts_o.append(oo.astype(np.int64))
        parts_s.append(share[rr, oo])
        org_share[rows] += mix[rows, line, None] * share
        focus_by_line[rows, line] = share[:, 0]
    ref = np.concatenate(parts_r) if parts_r else np.zeros(0, dtype=np.int64)
    return _Entries(
        ref=ref,
        line=np.concatenate(parts_l) if parts_l else np.zeros(0, dtype=np.int64),
        org=np.concatenate(parts_o) if parts_o else np.zeros(0, dtype=np.int64),
        share=np.concatenate(parts_s) if parts_s else np.zeros(0),
        delta=np.zeros(len(ref)),
        focus_share=org_share[:, 0].copy(),
        org_share=org_share,
        focus_by_line=focus_by_line,
        present=present,
    )


# ----------------------------------------------------------------------------- dynamics


@dataclass
class _Dynamics:
    behaviour: IntArray
    change: IntArray  # month index, -1 when stable
    end: IntArray
    magnitude: FloatArray
    to_org: IntArray  # -1 unless switch/drift
    activity: FloatArray  # (months, referrers): a_i(m)
    ramp: FloatArray  # (months, referrers): rho_i(m)


def _window(rng: np.random.Generator, low: int, high: int, size: int) -> IntArray:
    high = max(high, low)
    return np.asarray(rng.integers(low, high + 1, size), dtype=np.int64)


def _assign_dynamics(
    rng: np.random.Generator,
    refs: _Referrers,
    entries: _Entries,
    orgs: _Orgs,
    n_months: int,
    rates: dict[str, float],
) -> _Dynamics:
    n_ref = len(refs.provider)
    n = n_months
    competitors = np.flatnonzero(orgs.is_system)
    competitors = competitors[competitors != 0]
    eligible = (refs.org != 0) & (entries.focus_share >= _ELIGIBLE_FOCUS_SHARE)
    if len(competitors) == 0:
        eligible[:] = False
    probs = np.zeros((n_ref, len(BEHAVIOURS)))
    probs[:, _SWITCH] = np.where(eligible, rates["churn_rate"], 0.0)
    probs[:, _DRIFT] = np.where(eligible, rates["drift_rate"], 0.0)
    probs[:, _RETIRE] = rates["retire_rate"]
    probs[:, _DIP] = rates["dip_rate"]
    probs[:, _NEW] = rates["new_referrer_rate"]
    probs[:, _DECLINE] = rates["decline_rate"]
    probs[:, _STABLE] = 1.0 - probs[:, 1:].sum(axis=1)
    cum = np.cumsum(probs, axis=1)
    u = rng.random(n_ref)
    behaviour = np.minimum((u[:, None] >= cum).sum(axis=1), len(BEHAVIOURS) - 1).astype(np.int64)

    windows = {
        _SWITCH: (max(1, n // 5), max(1, n - 3)),
        _DRIFT: (max(1, n // 6), max(1, n - 4)),
        _RETIRE: (max(1, n // 5), n - 1),
        _DIP: (1, max(1, n - 3)),
        _NEW: (max(1, n // 6), max(1, n - 3)),
        _DECLINE: (0, max(0, n // 2)),
    }
    change = np.full(n_ref, -1, dtype=np.int64)
    for code, (low, high) in windows.items():
        rows = behaviour == code
        change[rows] = _window(rng, low, high, int(rows.sum()))
    length = np.ones(n_ref, dtype=np.int64)
    length[behaviour == _DRIFT] = _window(rng, 4, 12, int((behaviour == _DRIFT).sum()))
    length[behaviour == _DIP] = _window(rng, 2, 4, int((behaviour == _DIP).sum()))
    length[behaviour == _NEW] = 3
    magnitude = np.zeros(n_ref)
    spans: dict[int, tuple[float, float]] = {
        _SWITCH: (0.8, 1.0),
        _DRIFT: (0.5, 0.9),
        _DIP: (0.5, 0.9),
        _DECLINE: (0.4, 0.8),
    }
    for code, (lo, hi) in spans.items():
        rows = behaviour == code
        magnitude[rows] = rng.uniform(lo, hi, int(rows.sum()))
    magnitude[(behaviour == _RETIRE) | (behaviour == _NEW)] = 1.0

    to_org = np.full(n_ref, -1, dtype=np.int64)
    movers = np.flatnonzero((behaviour == _SWITCH) | (behaviour == _DRIFT))
    if len(movers):
        weight = entries.org_share[np.ix_(movers, competitors)] + 0.02
        gumbel = -np.log(-np.log(rng.random(weight.shape)))
        to_org[movers] = competitors[np.argmax(np.log(weight) + gumbel, axis=1)]

    months = np.arange(n)[:, None]
    c = change[None, :]
    activity = np.ones((n, n_ref))
    ramp = np.zeros((n, n_ref))
    b = behaviour[None, :]
    ramp = np.where(b == _SWITCH, (months >= c).astype(np.float64), ramp)
    drift_ramp = np.clip((months - c + 1) / length[None, :], 0.0, 1.0)
    ramp = np.where(b == _DRIFT, drift_ramp, ramp)
    activity = np.where((b == _RETIRE) & (months >= c), 0.0, activity)
    in_dip = (months >= c) & (months < c + length[None, :])
    activity = np.where((b == _DIP) & in_dip, 1.0 - magnitude[None, :], activity)
    new_level = np.clip((months - c + 1) / 3.0, 0.0, 1.0)
    activity = np.where(b == _NEW, new_level, activity)
    decline_len = np.maximum(n - change, 1)[None, :]
    decline_level = 1.0 - magnitude[None, :] * np.clip((months - c + 1) / decline_len, 0.0, 1.0)
    activity = np.where(b == _DECLINE, decline_level, activity)

    end = change.copy()
    full = (behaviour == _DRIFT) | (behaviour == _DIP) | (behaviour == _NEW)
    end[full] = change[full] + length[full] - 1
    end[behaviour == _DECLINE] = n - 1
    return _Dynamics(
        behaviour=behaviour,
        change=change,
        end=end,
        magnitude=magnitude,
        to_org=to_org,
        activity=activity,
        ramp=ramp,
    )


def _add_shifts(entries: _Entries, dyn: _Dynamics, orgs: _Orgs) -> _Entries:
    """Add the focus -> competitor volume moves of switching and drifting referrers."""
    movers = np.flatnonzero(dyn.to_org >= 0)
    if len(movers) == 0:
        return entries
    target = dyn.to_org[movers]
    focus = entries.focus_by_line[movers]
    movable = (focus > 0) & entries.present[target].any(axis=2)
    mi, line = np.nonzero(movable)
    moved = focus[mi, line] * dyn.magnitude[movers[mi]]
    n_orgs = len(orgs.names)
    ref = np.concatenate([entries.ref, movers[mi], movers[mi]])
    lines = np.concatenate([entries.line, line, line]).astype(np.int64)
    org = np.concatenate([entries.org, np.zeros(len(mi), dtype=np.int64), target[mi]])
    share = np.concatenate([entries.share, np.zeros(2 * len(mi))])
    delta = np.concatenate([entries.delta, -moved, moved])
    key = (ref * _N_LINES + lines) * n_orgs + org
    unique, inverse = np.unique(key, return_inverse=True)
    entries.org = unique % n_orgs
    entries.line = (unique // n_orgs) % _N_LINES
    entries.ref = unique // (n_orgs * _N_LINES)
    entries.share = _wsum(inverse, share, len(unique))
    entries.delta = _wsum(inverse, delta, len(unique))
    return entries


@dataclass
class _Ties:
    ref: IntArray  # referrer index
    source: IntArray  # provider index
    target: IntArray  # provider index
    base: FloatArray
    shift: FloatArray
    focus: BoolArray


def _expand_ties(
    rng: np.random.Generator,
    prov: _Providers,
    refs: _Referrers,
    entries: _Entries,
    orgs: _Orgs,
    towns: tuple[tuple[Any, ...], ...],
) -> _Ties:
    n_orgs, n_towns = len(orgs.names), len(towns)
    tdist = _town_distances(towns)
    # choose a site (town) per entry, within each (organisation, line) group
    town = np.zeros(len(entries.ref), dtype=np.int64)
    group = entries.org * _N_LINES + entries.line
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_orgs * _N_LINES + 1))
    for g in range(n_orgs * _N_LINES):
        rows = order[bounds[g] : bounds[g + 1]]
        if len(rows) == 0:
            continue
        sites = np.flatnonzero(entries.present[g // _N_LINES, g % _N_LINES])
        if len(sites) == 1:
            town[rows] = sites[0]
            continue
        logits = -tdist[refs.town[entries.ref[rows]]][:, sites] / _SITE_SCALE_KM
        gumbel = -np.log(-np.log(rng.random(logits.shape)))
        town[rows] = sites[np.argmax(logits + gumbel, axis=1)]

    # receivers sorted by (organisation, line, town)
    receivers = np.flatnonzero(prov.kind <= _HOSP)
    rec_key = (prov.org[receivers] * _N_LINES + prov.kind[receivers]) * n_towns
    rec_key += prov.town[receivers]
    rec_order = np.argsort(rec_key, kind="stable")
    rec_sorted = receivers[rec_order]
    rec_key = rec_key[rec_order]
    entry_key = group * n_towns + town
    first = np.searchsorted(rec_key, entry_key, side="left")
    count = np.searchsorted(rec_key, entry_key, side="right") - first

    picks = 1 + np.minimum(rng.poisson(0.8, len(entries.ref)), 3)
    rep = np.repeat(np.arange(len(entries.ref)), picks)
    chosen = rec_sorted[first[rep] + (rng.random(len(rep)) * count[rep]).astype(np.int64)]
    weight = rng.exponential(1.0, len(rep))
    weight /= _wsum(rep, weight, len(entries.ref))[rep]
    ref = entries.ref[rep]
    level = refs.volume[ref] * refs.mix[ref, entries.line[rep]] * weight
    base = level * entries.share[rep]
    shift = level * entries.delta[rep]

    n_prov = len(prov.kind)
    key = ref * n_prov + chosen
    unique, inverse = np.unique(key, return_inverse=True)
    tie_ref = unique // n_prov
    tie_target = unique % n_prov
    source = refs.provider[tie_ref]
    keep = source != tie_target  # never true by construction; a guard
    base_sum = _wsum(inverse, base, len(unique))
    shift_sum = _wsum(inverse, shift, len(unique))
    return _Ties(
        ref=tie_ref[keep],
        source=source[keep],
        target=tie_target[keep],
        base=base_sum[keep],
        shift=shift_sum[keep],
        focus=prov.org[tie_target[keep]] == 0,
    )


@dataclass
class _Visits:
    ref: IntArray  # one row per visit, sorted by (referrer, month)
    month: IntArray
    day: IntArray  # days since 1970-01-01
    treated: BoolArray  # (months, referrers)
    candidates: IntArray  # referrers eligible for outreach
    weight: FloatArray  # their outreach weight (sqrt volume, normalised)


def _schedule_visits(
    rng: np.random.Generator,
    refs: _Referrers,
    dyn: _Dynamics,
    months: _Months,
    visit_share: float,
    visit_duration: int,
) -> _Visits:
    n_ref, n_months = len(refs.provider), len(months.n_days)
    candidates = np.flatnonzero(refs.kind > _HOSP)
    root = np.sqrt(refs.volume[candidates])
    weight = root / root.mean() if len(root) and root.mean() > 0 else np.ones(len(root))
    prob = np.clip(visit_share * weight, 0.0, 0.95)
    for _ in range(10):  # restore the mean after capping
        if prob.mean() <= 0 or abs(prob.mean() - visit_share) < 1e-6:
            break
        prob = np.clip(prob * visit_share / prob.mean(), 0.0, 0.95)
    visited = candidates[rng.random(len(candidates)) < prob]
    low = max(1, n_months // 6)
    month = _window(rng, low, max(low, n_months - 2), len(visited))
    ref_parts = [visited]
    month_parts = [month]
    alive = np.ones(len(visited), dtype=bool)
    current = month
    for _ in range(_MAX_VISITS - 1):
        alive &= rng.random(len(visited)) < 0.4
        current = current + rng.integers(3, 9, len(visited))
        keep = alive & (current < n_months)
        ref_parts.append(visited[keep])
        month_parts.append(current[keep])
    v_ref = np.concatenate(ref_parts)
    v_month = np.concatenate(month_parts).astype(np.int64)
    # drop visits in months without referrals (after retiring, before appearing)
    active = dyn.activity[v_month, v_ref] > 0
    v_ref, v_month = v_ref[active], v_month[active]
    order = np.lexsort((v_month, v_ref))
    v_ref, v_month = v_ref[order], v_month[order]
    marks = np.zeros((n_months + 1, n_ref), dtype=np.int32)
    np.add.at(marks, (np.minimum(v_month + 1, n_months), v_ref), 1)
    np.add.at(marks, (np.minimum(v_month + 1 + visit_duration, n_months), v_ref), -1)
    treated = np.cumsum(marks, axis=0)[:n_months] > 0
    day = months.first_day[v_month] + (rng.random(len(v_month)) * months.n_days[v_month]).astype(
        np.int64
    )
    return _Visits(
        ref=v_ref.astype(np.int64),
        month=v_month,
        day=day,
        treated=treated,
        candidates=candidates,
        weight=weight,
    )


def _calibrate(
    refs: _Referrers, ties: _Ties, dyn: _Dynamics, growth: FloatArray, target: float
) -> tuple[float, FloatArray]:
    """Scale so that the expected events without the visit effect equal `target`."""
    n_ref = len(refs.provider)
    base = _wsum(ties.ref, ties.base, n_ref)
    shift = _wsum(ties.ref, ties.shift, n_ref)
    per_month = growth[:, None] * dyn.activity * (base[None, :] + shift[None, :] * dyn.ramp)
    expected = per_month.sum(axis=0)
    total = float(expected.sum())
    scale = target / total if total > 0 else 0.0
    return scale, expected * scale


# ----------------------------------------------------------------------------- sampling


@dataclass
class _Sample:
    tie: npt.NDArray[np.int32]
    day: npt.NDArray[np.int32]  # days since the first month's first day
    patient: npt.NDArray[np.signedinteger[Any]]  # global patient index
    panel_start: IntArray
    n_patients: int
    expected_tie: FloatArray
    expected_focus_last: FloatArray  # per referrer, last month
    expected_last: FloatArray


def _sample_events(
    rng: np.random.Generator,
    refs: _Referrers,
    ties: _Ties,
    dyn: _Dynamics,
    visits: _Visits,
    growth: FloatArray,
    months: _Months,
    expected_by_ref: FloatArray,
    visit_effect: float,
    dispersion: float,
) -> _Sample:
    n_ref, n_ties, n_months = len(refs.provider), len(ties.ref), len(months.n_days)
    panel = np.maximum(1, np.ceil(expected_by_ref / _EVENTS_PER_PATIENT)).astype(np.int64)
    panel_start = np.concatenate([[0], np.cumsum(panel)[:-1]]).astype(np.int64)
    max_panel = int(panel.max()) if n_ref else 1
    if 31 * max(n_ties, 1) * max_panel >= 2**62:  # pragma: no cover - beyond any sane size
        raise ParameterError("The market is too large to generate in one piece.")
    tie_panel = panel[ties.ref]
    expected_tie = np.zeros(n_ties)
    tie_index = np.arange(n_ties, dtype=np.int64)
    uplift = visit_effect * ties.focus
    parts_tie: list[npt.NDArray[np.int32]] = []
    parts_day: list[npt.NDArray[np.int32]] = []
    parts_pat: list[npt.NDArray[np.signedinteger[Any]]] = []
    pat_type = np.int32 if int(panel.sum()) < 2**31 else np.int64
    offset = 0
    rate = np.zeros(n_ties)
    for m in range(n_months):
        r = ties.ref
        rate = growth[m] * dyn.activity[m, r] * (ties.base + ties.shift * dyn.ramp[m, r])
        rate *= 1.0 + uplift * visits.treated[m, r]
        np.maximum(rate, 0.0, out=rate)
        expected_tie += rate
        live = np.flatnonzero(rate > 0)
        lam = rate[live]
        if dispersion > 0:
            lam = lam * rng.gamma(1.0 / dispersion, dispersion, len(live))
        counts = rng.poisson(lam)
        hit = counts > 0
        tie = np.repeat(tie_index[live[hit]], counts[hit])
        day = rng.integers(0, months.n_days[m], len(tie))
        pat = (rng.random(len(tie)) * tie_panel[tie]).astype(np.int64)
        # sort by (day, tie, patient) and merge same patient / receiver / day
        key = (day * n_ties + tie) * max_panel + pat
        key.sort()
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        pat = key % max_panel
        rest = key // max_panel
        tie = rest % n_ties
        parts_tie.append(tie.astype(np.int32))
        parts_day.append((rest // n_ties + offset).astype(np.int32))
        parts_pat.append((panel_start[ties.ref[tie]] + pat).astype(pat_type))
        offset += int(months.n_days[m])
    focus_last = _wsum(ties.ref, rate * ties.focus, n_ref)
    total_last = _wsum(ties.ref, rate, n_ref)
    return _Sample(
        tie=np.concatenate(parts_tie),
        day=np.concatenate(parts_day),
        patient=np.concatenate(parts_pat),
        panel_start=panel_start,
        n_patients=int(panel.sum()),
        expected_tie=expected_tie,
        expected_focus_last=focus_last,
        expected_last=total_last,
    )


def _wsum(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """Sum `weights` by `index` into `n` bins."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)


def _take(values: pa.Array, index: npt.NDArray[np.integer[Any]]) -> pd.Series:
    return _arrow_to_series(pc.take(values, pa.array(index, from_pandas=False)))


def _assemble_events(
    rng: np.random.Generator,
    prov: _Providers,
    refs: _Referrers,
    ties: _Ties,
    sample: _Sample,
    months: _Months,
    patient_ids: bool,
    amounts: bool,
) -> pd.DataFrame:
    # built column by column, with small integer codes, to keep the peak memory low
    tie = sample.tie
    line = prov.kind.astype(np.int8)[ties.target][tie]
    # payer per patient, from the referrer type's mix
    n_pat = sample.n_patients
    owner_kind = np.repeat(refs.kind.astype(np.int8), np.diff(np.append(sample.panel_start, n_pat)))
    cum = np.cumsum(np.asarray(_PAYER_MIX, dtype=np.float64), axis=1)
    u = rng.random(n_pat)
    patient_payer = np.zeros(n_pat, dtype=np.int8)
    for j in range(len(_PAYERS) - 1):
        patient_payer += u >= cum[owner_kind, j]
    del owner_kind, u
    payer = patient_payer[sample.patient]
    del patient_payer
    dates = sample.day.astype("datetime64[D]")
    dates += np.timedelta64(int(months.first_day[0]), "D")
    columns: dict[str, Any] = {
        "source": _take(prov.ids, ties.source.astype(np.int32)[tie]),
        "target": _take(prov.ids, ties.target.astype(np.int32)[tie]),
        "date": pd.Series(dates.astype("datetime64[ns]"), copy=False),
    }
    del dates
    if patient_ids:
        # a scrambled numbering, so ids do not reveal the referrer
        multiplier = 2_654_435_761 % max(n_pat, 1) or 1
        while math.gcd(multiplier, n_pat) != 1:
            multiplier += 1
        scrambled = sample.patient.astype(np.int64)
        scrambled *= multiplier
        scrambled += 12_345
        scrambled %= max(n_pat, 1)
        scrambled += 1
        width = max(8, len(str(n_pat)))
        columns["patient_id"] = _arrow_to_series(_digits_to_arrow(scrambled, width, b"P"))
        del scrambled
    if amounts:
        log_median = np.log(np.asarray(_AMOUNT_MEDIAN))[:, None]
        log_factor = np.log(np.asarray(_PAYER_FACTOR))[None, :]
        location = (log_median + log_factor).ravel()  # (line, payer) -> log median
        amount = rng.standard_normal(len(tie))
        amount *= _AMOUNT_SIGMA
        amount += location[line.astype(np.int64) * len(_PAYERS) + payer]
        np.exp(amount, out=amount)
        np.round(amount, 2, out=amount)
        columns["amount"] = amount
    labels = pa.array([k[1] for k in _KINDS[:_N_LINES]])
    columns["service_line"] = _take(labels, line)
    columns["payer"] = _take(pa.array(list(_PAYERS)), payer)
    return pd.DataFrame(columns, copy=False)


def _plant_dirty(
    rng: np.random.Generator, events: pd.DataFrame, dirty: float, amounts: bool
) -> tuple[pd.DataFrame, dict[str, int]]:
    kinds = [k for k in _DIRTY_KINDS if amounts or k != "negative_amount"]
    n = len(events)
    n_bad = min(round(dirty * n), n)
    counts = {
        k: n_bad // len(kinds) + (1 if i < n_bad % len(kinds) else 0) for i, k in enumerate(kinds)
    }
    rows = np.asarray(rng.choice(n, size=n_bad, replace=False), dtype=np.int64)
    picked: dict[str, IntArray] = {}
    start = 0
    for k in kinds:
        picked[k] = np.sort(rows[start : start + counts[k]])
        start += counts[k]

    out = events.copy()
    days = out["date"].to_numpy().astype("datetime64[D]")
    date_text = np.datetime_as_string(days, unit="D").astype(object)
    date_text[picked["bad_date"]] = np.resize(
        np.asarray(_BAD_DATES, dtype=object), counts["bad_date"]
    )
    out["date"] = pd.Series(date_text, index=out.index, dtype="str")

    source = out["source"].to_numpy(dtype=object)
    target = out["target"].to_numpy(dtype=object)
    blank = picked["blank_id"]  # half empty strings (sources), half missing (targets)
    source[blank[::2]] = ""
    target[blank[1::2]] = None
    self_rows = picked["self_referral"]
    target[self_rows] = source[self_rows]
    invalid = picked["invalid_npi"]  # the check digit is off by one
    for column, rows_k in ((source, invalid[::2]), (target, invalid[1::2])):
        column[rows_k] = [str(v)[:9] + str((int(str(v)[9]) + 1) % 10) for v in column[rows_k]]
    out["source"] = pd.Series(source, index=out.index, dtype="str")
    out["target"] = pd.Series(target, index=out.index, dtype="str")
    if amounts:
        amount = out["amount"].to_numpy(dtype=np.float64, copy=True)
        amount[picked["negative_amount"]] *= -1.0
        out["amount"] = amount
    dup = picked["duplicate"]
    if len(dup):  # an exact copy right after the original
        copies = np.ones(n, dtype=np.int64)
        copies[dup] = 2
        out = out.iloc[np.repeat(np.arange(n), copies)].reset_index(drop=True)
    return out, counts


# ----------------------------------------------------------------------------- outputs


def _make_activities(
    rng: np.random.Generator,
    refs: _Referrers,
    prov: _Providers,
    dyn: _Dynamics,
    visits: _Visits,
    months: _Months,
    n_liaisons: int,
    n_towns: int,
) -> pd.DataFrame:
    n_months = len(months.n_days)
    cand, weight = visits.candidates, visits.weight
    kind_parts: list[IntArray] = []
    ref_parts: list[IntArray] = []
    month_parts: list[IntArray] = []
    # calls: about a third of the candidates, weighted by volume
    called = cand[rng.random(len(cand)) < np.clip(0.35 * weight, 0.0, 0.95)]
    n_calls = 1 + rng.poisson(1.5, len(called))
    call_ref = np.repeat(called, n_calls)
    ref_parts.append(call_ref)
    month_parts.append(rng.integers(0, n_months, len(call_ref)))
    kind_parts.append(np.ones(len(call_ref), dtype=np.int64))
    # lunches: one each for a tenth of the candidates
    lunch = cand[rng.random(len(cand)) < np.clip(0.1 * weight, 0.0, 0.95)]
    ref_parts.append(lunch)
    month_parts.append(rng.integers(0, n_months, len(lunch)))
    kind_parts.append(np.full(len(lunch), 2, dtype=np.int64))
    # CME events: a few evenings, each with several invitees
    for event_month in np.sort(rng.choice(n_months, size=max(1, n_months // 6), replace=False)):
        invited = cand[rng.random(len(cand)) < np.clip(0.05 * weight, 0.0, 0.95)]
        ref_parts.append(invited)
        month_parts.append(np.full(len(invited), event_month, dtype=np.int64))
        kind_parts.append(np.full(len(invited), 3, dtype=np.int64))
    ref = np.concatenate(ref_parts)
    month = np.concatenate(month_parts).astype(np.int64)
    kind = np.concatenate(kind_parts)
    active = dyn.activity[month, ref] > 0
    ref, month, kind = ref[active], month[active], kind[active]
    day = months.first_day[month] + (rng.random(len(ref)) * months.n_days[month]).astype(np.int64)
    day[kind == 3] = months.first_day[month[kind == 3]] + 14  # one date per CME evening
    # visits (already scheduled, with their days) come first
    ref = np.concatenate([visits.ref, ref])
    kind = np.concatenate([np.zeros(len(visits.ref), dtype=np.int64), kind])
    day = np.concatenate([visits.day, day])
    dates = day.astype("datetime64[D]").astype("datetime64[ns]")
    territory = np.arange(n_towns) % n_liaisons  # towns are ordered by size
    liaison = territory[refs.town[ref]]
    provider = refs.provider[ref]
    order = np.lexsort((kind, provider, dates))
    # two calls to one office on one day are one call
    keep = np.r_[True, np.diff(dates[order].astype(np.int64)) != 0]
    keep |= np.r_[True, np.diff(provider[order]) != 0] | np.r_[True, np.diff(kind[order]) != 0]
    order = order[keep]
    kinds = pa.array(["visit", "call", "lunch", "event"])
    return pd.DataFrame(
        {
            "date": pd.Series(dates[order]),
            "provider": _take(prov.ids, provider[order]),
            "liaison": _take(pa.array(list(_LIAISONS[:n_liaisons])), liaison[order]),
            "kind": _take(kinds, kind[order]),
        }
    )


def _month_dates(months: _Months, index: IntArray) -> pd.Series:
    values = np.full(len(index), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = index >= 0
    values[ok] = months.starts[np.clip(index[ok], 0, len(months.starts) - 1)]
    return pd.Series(values)


def _make_truth(
    prov: _Providers,
    refs: _Referrers,
    ties: _Ties,
    dyn: _Dynamics,
    visits: _Visits,
    sample: _Sample,
    orgs: _Orgs,
    months: _Months,
) -> pd.DataFrame:
    n_ref = len(refs.provider)
    base = _wsum(ties.ref, ties.base, n_ref)
    focus_base = _wsum(ties.ref, ties.base * ties.focus, n_ref)
    expected = _wsum(ties.ref, sample.expected_tie, n_ref)
    n_visits = np.bincount(visits.ref, minlength=n_ref)
    first_day = np.full(n_ref, -1, dtype=np.int64)
    if len(visits.ref):
        # visits are sorted by (referrer, month): the first row of each referrer
        starts = np.flatnonzero(np.r_[True, visits.ref[1:] != visits.ref[:-1]])
        first_day[visits.ref[starts]] = visits.day[starts]
    frame = prov.frame.iloc[refs.provider]
    org_names = np.asarray([*orgs.names, None], dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        focus_share = np.where(base > 0, focus_base / np.where(base > 0, base, 1.0), np.nan)
        last = sample.expected_last
        share_end = np.where(
            last > 0, sample.expected_focus_last / np.where(last > 0, last, 1), np.nan
        )
    return pd.DataFrame(
        {
            "provider": frame["id"].to_numpy(),
            "role": frame["role"].to_numpy(),
            "specialty": frame["specialty"].to_numpy(),
            "organization": frame["organization"].to_numpy(),
            "city": frame["city"].to_numpy(),
            "base_rate": base,
            "loyalty": pd.Series(np.where(refs.loyal, "loyal", "split"), dtype="str"),
            "focus_share": focus_share,
            "behaviour": pd.Series(
                np.asarray(BEHAVIOURS, dtype=object)[dyn.behaviour], dtype="str"
            ),
            "change_month": _month_dates(months, dyn.change),
            "change_end": _month_dates(months, np.where(dyn.change >= 0, dyn.end, -1)),
            "magnitude": dyn.magnitude,
            "to_competitor": pd.Series(org_names[dyn.to_org], dtype="str"),
            "visited": n_visits > 0,
            "first_visit": _day_dates(first_day),
            "n_visits": n_visits.astype(np.int64),
            "treated_months": visits.treated.sum(axis=0).astype(np.int64),
            "expected_referrals": expected,
            "focus_share_end": share_end,
        }
    )


def _day_dates(days: IntArray) -> pd.Series:
    """Days since 1970-01-01 as datetime64[ns]; negative means missing."""
    values = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = days >= 0
    values[ok] = days[ok].astype("datetime64[D]")
    return pd.Series(values)


def _make_tie_table(prov: _Providers, ties: _Ties, sample: _Sample, orgs: _Orgs) -> pd.DataFrame:
    labels = pa.array([k[1] for k in _KINDS[:_N_LINES]])
    return pd.DataFrame(
        {
            "source": _take(prov.ids, ties.source),
            "target": _take(prov.ids, ties.target),
            "service_line": _take(labels, prov.kind[ties.target]),
            "organization": _take(pa.array(orgs.names), prov.org[ties.target]),
            "in_network": ties.focus,
            "base_rate": ties.base,
            "expected_referrals": sample.expected_tie,
        }
    )


def _write_atomic(table: pd.DataFrame, path: Path, fmt: str, compress: bool) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "csv":
            compression: Any = {"method": "gzip", "mtime": 0} if compress else None
            table.to_csv(tmp, index=False, date_format="%Y-%m-%d", compression=compression)
        else:
            table.to_parquet(tmp, index=False, compression="zstd" if compress else "snappy")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
