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
import gzip
import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from referral_graph.exceptions import ParameterError
from referral_graph.synthetic._activities import make_activities, schedule_visits
from referral_graph.synthetic._dynamics import add_shifts, assign_dynamics, seasonal_growth
from referral_graph.synthetic._events import (
    assemble_events,
    calibrate,
    plant_dirty,
    sample_events,
)
from referral_graph.synthetic._providers import make_orgs, make_providers
from referral_graph.synthetic._referrers import expand_ties, make_referrers, org_shares
from referral_graph.synthetic._settings import check_settings, month_table
from referral_graph.synthetic._tables import BEHAVIOURS, DIRTY_KINDS, LIAISONS, TOWNS
from referral_graph.synthetic._truth import make_tie_table, make_truth

__all__ = ["BEHAVIOURS", "Market", "generate_market", "write_market"]

logger = logging.getLogger(__name__)


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
    s = check_settings(
        "generate_market",
        n_providers=n_providers,
        n_months=n_months,
        start=start,
        seed=seed,
        n_competitors=n_competitors,
        events_per_month=events_per_month,
        churn_rate=churn_rate,
        drift_rate=drift_rate,
        dip_rate=dip_rate,
        new_referrer_rate=new_referrer_rate,
        retire_rate=retire_rate,
        decline_rate=decline_rate,
        seasonality=seasonality,
        trend=trend,
        visit_effect=visit_effect,
        visit_duration=visit_duration,
        visit_share=visit_share,
        n_liaisons=n_liaisons,
        n_towns=n_towns,
        focus=focus,
        loyal_share=loyal_share,
        volume_sigma=volume_sigma,
        dispersion=dispersion,
        distance_scale=distance_scale,
        patient_ids=patient_ids,
        amounts=amounts,
        dirty=dirty,
    )
    # each step draws from its own stream (see the module docstring)
    streams = np.random.SeedSequence(s.seed).spawn(8)
    rng_geo, rng_prov, rng_pref, rng_dyn, rng_visit, rng_draw, rng_dirty, rng_act = (
        np.random.default_rng(stream) for stream in streams
    )

    months = month_table(s.start, s.n_months)
    towns = TOWNS[: s.n_towns]
    orgs = make_orgs(rng_geo, s.focus, s.n_competitors, s.n_towns)
    prov = make_providers(rng_prov, s.n_providers, orgs, towns)
    refs = make_referrers(rng_pref, prov, s.loyal_share, s.volume_sigma)
    entries = org_shares(rng_pref, prov, refs, orgs, towns, s.distance_scale)
    dyn = assign_dynamics(rng_dyn, refs, entries, orgs, s.n_months, s.rates)
    entries = add_shifts(entries, dyn, orgs)
    ties = expand_ties(rng_pref, prov, refs, entries, orgs, towns)
    visits = schedule_visits(rng_visit, refs, dyn, months, s.visit_share, s.visit_duration)

    growth = seasonal_growth(months, s.seasonality, s.trend)
    scale, expected_by_ref = calibrate(refs, ties, dyn, growth, s.events_per_month * s.n_months)
    ties.base *= scale
    ties.shift *= scale

    sample = sample_events(
        rng_draw,
        refs,
        ties,
        dyn,
        visits,
        growth,
        months,
        expected_by_ref,
        s.visit_effect,
        s.dispersion,
    )
    events = assemble_events(rng_draw, prov, refs, ties, sample, months, s.patient_ids, s.amounts)
    dirty_counts = dict.fromkeys(DIRTY_KINDS, 0)
    if not s.amounts:
        dirty_counts.pop("negative_amount")
    if s.dirty > 0:
        events, dirty_counts = plant_dirty(rng_dirty, events, s.dirty, s.amounts)
    activities = make_activities(rng_act, refs, prov, dyn, visits, months, s.n_liaisons, s.n_towns)
    truth = make_truth(prov, refs, ties, dyn, visits, sample, orgs, months)
    tie_table = make_tie_table(prov, ties, sample, orgs)

    behaviour_counts = {
        name: int(np.count_nonzero(dyn.behaviour == code)) for code, name in enumerate(BEHAVIOURS)
    }
    params: dict[str, Any] = {
        **s.record(),
        "n_events": len(events),
        "n_ties": len(tie_table),
        "n_referrers": len(truth),
        "n_patients": int(sample.n_patients),
        "behaviour_counts": behaviour_counts,
        "organizations": list(orgs.names),
        "liaisons": list(LIAISONS[: s.n_liaisons]),
        "dirty_counts": dirty_counts,
    }
    logger.info(
        "Generated a market of %s providers, %s referrers, %s ties and %s events over %d months",
        f"{s.n_providers:,}",
        f"{len(truth):,}",
        f"{len(tie_table):,}",
        f"{len(events):,}",
        s.n_months,
    )
    return Market(
        events=events,
        providers=prov.frame,
        activities=activities,
        truth=truth,
        focus=s.focus,
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


def _write_atomic(table: pd.DataFrame, path: Path, fmt: str, compress: bool) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "csv" and compress:
            # gzip with no file name and mtime 0 in its header: the same bytes on every run
            # (pandas' gzip would store the temporary file's random name)
            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as text,
            ):
                table.to_csv(text, index=False, date_format="%Y-%m-%d")
        elif fmt == "csv":
            table.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            table.to_parquet(tmp, index=False, compression="zstd" if compress else "snappy")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the mode of any new file
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
