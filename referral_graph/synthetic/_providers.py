"""The organisations and providers of the synthetic market (private).

:func:`make_orgs` builds the focus organisation and its competitors (systems
and specialty groups, with their size and brand appeal); :func:`make_providers`
the hospitals, specialists and primary-care practices, with their sites, ZIP
codes, names and NPIs; :func:`town_distances` the kilometres between towns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from referral_graph.synthetic._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    arrow_to_series,
    digits_to_arrow,
)
from referral_graph.synthetic._tables import (
    FM,
    GROUP_PREFIXES,
    GROUP_SPECIALTIES,
    GROUP_SUFFIXES,
    HOSP,
    IM,
    INITIALS,
    KINDS,
    MIX_WEIGHTS,
    N_LINES,
    N_SPEC,
    NP,
    PA,
    PRACTICE_TYPES,
    SPECIALIST_SHARE,
    SYL1,
    SYL2,
    SYSTEM_NAMES,
)


@dataclass
class Orgs:
    names: list[str]
    is_system: BoolArray
    home: IntArray
    size: FloatArray
    brand: FloatArray
    lines: BoolArray  # (orgs, lines) the organisation may offer


def make_orgs(rng: np.random.Generator, focus: str, n_competitors: int, n_towns: int) -> Orgs:
    names = [focus]
    is_system = [True]
    home = [0]
    size = [1.4]
    lines = [np.ones(N_LINES, dtype=bool)]
    system_names = iter([n for n in SYSTEM_NAMES if n != focus])
    n_groups = 0
    for i in range(n_competitors):
        if i % 3 == 2:
            spec = GROUP_SPECIALTIES[n_groups % len(GROUP_SPECIALTIES)]
            name = f"{GROUP_PREFIXES[n_groups % len(GROUP_PREFIXES)]} {GROUP_SUFFIXES[spec]}"
            if n_groups >= len(GROUP_PREFIXES):
                name += f" {n_groups // len(GROUP_PREFIXES) + 1}"
            n_groups += 1
            offered = np.zeros(N_LINES, dtype=bool)
            offered[spec] = True
            names.append(name)
            is_system.append(False)
            size.append(0.6)
            lines.append(offered)
        else:
            names.append(next(system_names, f"Regional Health System {i + 1}"))
            is_system.append(True)
            size.append(float(rng.uniform(0.7, 1.1)))
            lines.append(np.ones(N_LINES, dtype=bool))
        home.append((i + 1) % n_towns)
    brand = np.concatenate([[0.35], rng.normal(0.0, 0.25, n_competitors)])
    return Orgs(
        names=names,
        is_system=np.asarray(is_system, dtype=bool),
        home=np.asarray(home, dtype=np.int64),
        size=np.asarray(size, dtype=np.float64),
        brand=brand.astype(np.float64),
        lines=np.vstack(lines),
    )


@dataclass
class Providers:
    kind: IntArray
    org: IntArray  # -1 for independent practices
    town: IntArray
    practice: IntArray  # -1 for organisation employees
    ids: pa.Array  # NPIs as an Arrow string array
    frame: pd.DataFrame


def _town_weights(towns: tuple[tuple[Any, ...], ...]) -> FloatArray:
    pop = np.asarray([t[5] for t in towns], dtype=np.float64)
    return np.asarray(pop / pop.sum(), dtype=np.float64)


def make_providers(
    rng: np.random.Generator,
    n: int,
    orgs: Orgs,
    towns: tuple[tuple[str, str, tuple[str, str, str], float, float, float], ...],
) -> Providers:
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
    n_spec = round(SPECIALIST_SHARE * n)
    demand = np.asarray(MIX_WEIGHTS[FM], dtype=np.float64)[:N_SPEC]
    demand = demand + np.asarray(MIX_WEIGHTS[IM], dtype=np.float64)[:N_SPEC]
    cell_o, cell_s = np.nonzero(orgs.lines[:, :N_SPEC])
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
    type_p = np.asarray([t[2] for t in PRACTICE_TYPES], dtype=np.float64)
    practice_type = rng.choice(len(PRACTICE_TYPES), size=n_practices, p=type_p)
    practice_kind = np.asarray([t[0] for t in PRACTICE_TYPES], dtype=np.int64)[practice_type]
    practice_town = rng.choice(n_towns, size=n_practices, p=pop)
    is_app = (rng.random(n_primary) < 0.2) & (sizes[practice] > 1)
    app_kind = np.where(rng.random(n_primary) < 0.65, NP, PA)
    prim_kind = np.where(is_app, app_kind, practice_kind[practice])

    kind = np.concatenate([np.full(n_hosp, HOSP), spec_kind, prim_kind]).astype(np.int64)
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
    surnames = np.asarray([a + b.lower() for a in SYL1 for b in SYL2], dtype=object)
    initials = np.asarray(list(INITIALS), dtype=object)
    surname = surnames[rng.integers(0, len(surnames), n)]
    initial = initials[rng.integers(0, len(initials), n)]
    town_names = [t[0] for t in towns]
    names: list[str] = []
    for i in range(n):
        k = int(kind[i])
        if k == HOSP:
            o = int(org[i])
            first_of_org = hosp_org.index(o) == i
            names.append(
                f"{orgs.names[o]} Medical Center"
                if first_of_org
                else f"{orgs.names[o]} {town_names[int(town[i])]} Hospital"
            )
        elif k in (NP, PA):
            names.append(f"{initial[i]}. {surname[i]}, {'NP' if k == NP else 'PA'}")
        else:
            names.append(f"Dr. {initial[i]}. {surname[i]}")
    # practice names: "<Surname> <Type>", then "... of <Town>", then numbered
    lead = surnames[rng.integers(0, len(surnames), n_practices)]
    type_names = np.asarray([t[1] for t in PRACTICE_TYPES], dtype=object)
    base = pd.Series(lead + " " + type_names[practice_type], dtype="str")
    local = base + " of " + pd.Series(np.asarray(town_names, dtype=object)[practice_town])
    name = base.where(base.groupby(base).cumcount() == 0, local)
    repeat = name.groupby(name).cumcount()
    name = name.where(repeat == 0, name + " " + (repeat + 1).astype("str"))
    practice_names = name.to_numpy(dtype=object)
    org_names = np.asarray(orgs.names, dtype=object)
    organization = np.where(employed, org_names[safe_org], practice_names[safe_prac])

    numbers = _npi_numbers(rng, n)
    ids = digits_to_arrow(numbers, 10)
    codes = np.asarray([k[0] for k in KINDS], dtype=object)
    labels = np.asarray([k[1] for k in KINDS], dtype=object)
    roles = np.asarray([k[2] for k in KINDS], dtype=object)
    frame = pd.DataFrame(
        {
            "id": arrow_to_series(ids),
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
    return Providers(kind=kind, org=org, town=town, practice=prac, ids=ids, frame=frame)


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


def town_distances(towns: tuple[tuple[Any, ...], ...]) -> FloatArray:
    lat = np.asarray([t[3] for t in towns], dtype=np.float64)
    lon = np.asarray([t[4] for t in towns], dtype=np.float64)
    dy = (lat[:, None] - lat[None, :]) * 110.57
    dx = (lon[:, None] - lon[None, :]) * 111.32 * np.cos(np.radians(lat.mean()))
    return np.asarray(np.hypot(dx, dy), dtype=np.float64)
