"""Column names: the aliases each reader recognises, and their resolution in a raw table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from referral_graph._checks import header_key
from referral_graph.exceptions import SchemaError
from referral_graph.io._files import _DELIMITERS, RawTable

EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "source": (
        "source",
        "referring_npi",
        "from_npi",
        "npi_from",
        "referring_provider",
        "referring_provider_id",
        "referrer",
        "referrer_id",
        "from",
        "src",
    ),
    "target": (
        "target",
        "receiving_npi",
        "to_npi",
        "npi_to",
        "receiving_provider",
        "receiving_provider_id",
        "referred_to",
        "receiver",
        "receiver_id",
        "to",
        "dst",
    ),
    "date": ("date", "referral_date", "service_date", "event_date", "visit_date"),
    "patient_id": ("patient_id", "member_id", "patient", "mrn", "bene_id", "beneficiary_id"),
    "amount": ("amount", "revenue", "allowed_amount", "paid_amount", "charge", "charges"),
    "service_line": ("service_line", "service", "specialty_line"),
    "payer": ("payer", "payor", "insurance", "plan"),
}

EDGE_ALIASES: dict[str, tuple[str, ...]] = {
    "source": EVENT_ALIASES["source"] + ("initial",),
    "target": EVENT_ALIASES["target"] + ("secondary",),
    "weight": ("weight", "referrals", "count", "n", "total"),
    "patients": ("patients", "patient_count", "bene_count", "unique"),
    "period": ("period", "month", "year", "quarter"),
}


PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "npi", "provider_id", "provider_npi", "provider"),
    "name": ("name", "provider_name", "full_name", "display_name"),
    "taxonomy_code": (
        "taxonomy_code",
        "primary_taxonomy_code",
        "taxonomy",
        "healthcare_provider_taxonomy_code_1",
        "taxonomy_code_1",
    ),
    "specialty": ("specialty", "specialty_name", "speciality", "specialty_description"),
    "organization": (
        "organization",
        "organisation",
        "organization_name",
        "org",
        "org_name",
        "practice",
        "practice_name",
        "group_name",
        "system",
    ),
    "city": ("city", "town"),
    "state": ("state", "region"),
    "zip": ("zip", "zip_code", "zipcode", "postal_code", "postcode"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "in_network": ("in_network", "is_in_network", "ours", "is_focus", "focus"),
}

ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "activity_date", "visit_date", "contact_date"),
    "provider": ("provider", "provider_id", "npi", "id", "referrer", "source"),
    "liaison": ("liaison", "rep", "owner", "staff", "user"),
    "kind": ("kind", "type", "activity", "activity_type", "channel"),
}


def _sheet_note(raw: RawTable) -> str:
    """Which sheet of a workbook of several was read, and how to read another ("" for a
    file of one table): the columns may be on another sheet (a cover sheet comes first)."""
    for issue in raw.report.issues:
        if issue.check == "sheet" and issue.hint:
            return f" The columns are those of one sheet: {issue.message}; {issue.hint}."
    return ""


def _resolve_columns(
    raw: RawTable,
    aliases: Mapping[str, Sequence[str]],
    explicit: Mapping[str, str | None],
    required: Sequence[str],
    *,
    hint_flags: Mapping[str, str],
) -> dict[str, str]:
    """Map canonical names to the input's column names.

    Explicit names win; otherwise the first alias found (case, spaces and
    hyphens ignored). Raises SchemaError naming the file, what was expected
    and what was found.
    """
    columns = [str(c) for c in raw.frame.columns]
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(header_key(c), c)
    resolved: dict[str, str] = {}
    for canonical, user in explicit.items():
        if user is None:
            continue
        if user in columns:
            resolved[canonical] = user
        elif header_key(user) in by_norm:
            resolved[canonical] = by_norm[header_key(user)]
        else:
            raise SchemaError(
                f"{raw.report.name}: column {user!r} (asked for as the {canonical} column) is "
                f"not in the file. Columns found: {', '.join(columns)}.{_sheet_note(raw)}"
            )
    for canonical, names in aliases.items():
        if canonical in resolved:
            continue
        for alias in names:
            if alias in by_norm and by_norm[alias] not in resolved.values():
                resolved[canonical] = by_norm[alias]
                break
    raw.report.note_columns(resolved, aliases)
    missing = [c for c in required if c not in resolved]
    if missing:
        parts = []
        for c in missing:
            flag = hint_flags.get(c)
            accepted = ", ".join(aliases.get(c, (c,))[:6])
            parts.append(f"{c!r} (any of: {accepted}; or name it with {flag})")
        message = (
            f"{raw.report.name}: required column(s) missing: {'; '.join(parts)}. "
            f"Columns found: {', '.join(columns)}.{_sheet_note(raw)}"
        )
        if len(columns) == 1:
            found = [d for d in _DELIMITERS if d != raw.delimiter and d in columns[0]]
            if found:
                used = f" (read with delimiter={raw.delimiter!r})" if raw.delimiter else ""
                message += (
                    f" The header looks like one column{used} but contains {found[0]!r}: "
                    f"check the delimiter (pass delimiter={found[0]!r}; CLI: --delimiter)."
                )
        raise SchemaError(message)
    return resolved


def _mapped_columns(columns: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in columns.items())
