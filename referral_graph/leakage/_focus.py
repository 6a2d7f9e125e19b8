"""Which providers are the focus organisation: :func:`resolve_focus`."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable

import pandas as pd

from referral_graph._checks import check_focus_ids, check_frame, require_columns, text_key
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.leakage._market import _PROVIDERS_HINT

#: The package's logger (the messages read as leakage's, as before the split).
logger = logging.getLogger(__package__)

#: ``focus=IN_NETWORK`` selects the providers whose ``in_network`` is True.
IN_NETWORK = "in_network"


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
    ...     print(str(err).split("; ")[1].split(".")[0])
    close match: 'Mercy  Health' or 'mercy health'
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
        "give the providers' organisation (CLI: --organization-col), or the focus "
        "providers' ids (CLI: --focus-ids ID,ID; Python: focus_ids=[...]).",
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
            f"The focus organisation {focus!r} is not in the providers' 'organization' column "
            f"(case and extra spaces ignored); {hint}. Name one of them, or 'in_network' for "
            "the providers flagged in network (CLI: --focus; Python: focus=)."
        )
    result = ids[match].drop_duplicates().tolist()
    logger.info("%s: %r matches %d provider(s)", func, focus, len(result))
    return result
