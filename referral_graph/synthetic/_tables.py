"""The fixed tables of the synthetic market (private).

Every number and name that the model of :mod:`referral_graph.synthetic` takes
as given: the planted behaviours and their codes, the provider kinds with
their NUCC codes, the referral mixes, payers and amounts, the towns, the
organisation, practice and liaison names, the seasonal profile and the
model's constants. The other submodules import them from here.
"""

from __future__ import annotations

#: The planted referrer behaviours, in the order of their codes.
BEHAVIOURS: tuple[str, ...] = ("stable", "switch", "drift", "retire", "dip", "new", "decline")
STABLE, SWITCH, DRIFT, RETIRE, DIP, NEW, DECLINE = range(7)

# Provider types: (NUCC taxonomy code, label, role). The first eleven are the
# receiving service lines (ten specialties and the hospital).
KINDS: tuple[tuple[str, str, str], ...] = (
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
N_SPEC = 10  # physician specialties: kinds 0..9
HOSP = 10  # the hospital service line / kind
N_LINES = 11
FM, IM, PEDS, NP, PA = 11, 12, 13, 14, 15

# Referral weights over the eleven service lines, one row per provider kind.
_FAMILY = (16, 12, 12, 7, 9, 8, 10, 4, 6, 6, 10)
MIX_WEIGHTS: tuple[tuple[float, ...], ...] = (
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
    (0,) * N_LINES,  # hospitals do not refer
    _FAMILY,
    (12, 16, 14, 8, 8, 3, 8, 7, 8, 9, 7),  # internal medicine
    (18, 8, 14, 14, 10, 2, 16, 2, 8, 8, 4),  # pediatrics
    _FAMILY,
    _FAMILY,
)
MIX_CONCENTRATION = 15.0
# Relative referral volume by kind (specialists refer less than primary care).
VOLUME_FACTOR = (0.3,) * N_SPEC + (0.0, 1.0, 1.0, 0.8, 0.6, 0.6)
# Median amount (USD) per service line.
AMOUNT_MEDIAN = (1850.0, 620.0, 1150.0, 480.0, 2400.0, 540.0, 260.0, 3100.0, 690.0, 430.0, 7800.0)
AMOUNT_SIGMA = 0.8

PAYERS = ("Medicare", "Commercial", "Medicaid", "Self-pay")
PAYER_FACTOR = (1.0, 1.25, 0.7, 0.55)
_SPECIALIST_PAYERS = (0.45, 0.38, 0.13, 0.04)
_FAMILY_PAYERS = (0.35, 0.42, 0.17, 0.06)
PAYER_MIX: tuple[tuple[float, ...], ...] = (
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
TOWNS: tuple[tuple[str, str, tuple[str, str, str], float, float, float], ...] = (
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

SYSTEM_NAMES = (
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
GROUP_PREFIXES = (
    "Keystone",
    "Heartland",
    "Bluewater",
    "Ironwood",
    "Silver Creek",
    "Timberline",
    "Clearwater",
    "Redstone",
)
GROUP_SUFFIXES = (
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
GROUP_SPECIALTIES = (0, 1, 2, 7, 8, 6, 3, 9, 4, 5)
PRACTICE_TYPES: tuple[tuple[int, str, float], ...] = (
    (FM, "Family Practice", 0.50),
    (IM, "Internal Medicine", 0.35),
    (PEDS, "Pediatrics", 0.15),
)

SYL1: tuple[str, ...] = ("Al", "Bren", "Car", "Del", "Es", "Fer", "Gar", "Hal", "Ken", "Lo")
SYL1 += ("Mar", "Nor", "Or", "Pel", "Ri", "Sal", "Tor", "Val", "Wes", "Yan")
SYL2: tuple[str, ...] = ("ton", "vera", "well", "ford", "ley", "son", "ado", "ner")
SYL2 += ("ick", "man", "ez", "sky", "berg", "ini", "ow", "ard")
INITIALS = "ABCDEFGHJKLMNPRSTW"
LIAISONS = (
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
SEASON = (0.0, 0.3, 0.6, 0.4, 0.3, -0.2, -0.7, -0.6, 0.3, 0.6, 0.0, -1.0)

DEFAULT_DENSITY = 3.2  # expected events per provider per month
EVENTS_PER_PATIENT = 1.6
SPECIALIST_SHARE = 0.30
SPECIALIST_REFERS = 0.5
LOYAL_TAU, SPLIT_TAU = 0.35, 1.0
OWN_BONUS = 3.0
SITE_SCALE_KM = 10.0
ELIGIBLE_FOCUS_SHARE = 0.1
MAX_VISITS = 3

DIRTY_KINDS = (
    "blank_id",
    "bad_date",
    "negative_amount",
    "self_referral",
    "duplicate",
    "invalid_npi",
)
BAD_DATES = ("2024-13-45", "n/a")
