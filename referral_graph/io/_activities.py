"""Outreach activity logs: visits, calls, events, lunches (:func:`read_activities`)."""

from __future__ import annotations

import pandas as pd

from referral_graph.io._clean import _clean_ids, _date_column, _log_summary
from referral_graph.io._columns import ACTIVITY_ALIASES, _resolve_columns
from referral_graph.io._files import PathOrFrame, read_table
from referral_graph.validate import check_ids


def read_activities(
    data: PathOrFrame,
    *,
    date_col: str | None = None,
    provider_col: str | None = None,
    liaison_col: str | None = None,
    kind_col: str | None = None,
    date_format: str | None = None,
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | int | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Read and validate an outreach activity log (visits, calls, events, lunches).

    Parameters
    ----------
    data : path or pandas.DataFrame
        One row per activity.
    date_col, provider_col, liaison_col, kind_col : str, optional
        Column names; aliases are recognised (``activity_date``, ``provider_id``,
        ``npi``, ``rep``, ``type``, ...). Date and provider are required.
    date_format, encoding, delimiter, sheet, strict
        As in :func:`read_events`.

    Returns
    -------
    pandas.DataFrame
        ``date`` (datetime64[ns]), ``provider`` (str), ``liaison`` and
        ``kind`` (str, lower-cased) when present.

    Examples
    --------
    >>> log = pd.DataFrame({"visit_date": ["2024-05-02"], "npi": ["1234567893"],
    ...                     "rep": ["A. Lee"], "type": ["Visit"]})
    >>> read_activities(log)[["provider", "kind"]].values.tolist()
    [['1234567893', 'visit']]
    """
    raw = read_table(data, encoding=encoding, delimiter=delimiter, sheet=sheet)
    report = raw.report
    cols = _resolve_columns(
        raw,
        ACTIVITY_ALIASES,
        {"date": date_col, "provider": provider_col, "liaison": liaison_col, "kind": kind_col},
        required=("date", "provider"),
        hint_flags={"date": "--activity-date-col", "provider": "--activity-provider-col"},
    )
    frame = raw.frame
    out: dict[str, pd.Series] = {}
    out["provider"] = _clean_ids(frame[cols["provider"]])
    bad = check_ids(out["provider"], report=report, column=cols["provider"], npi=False)
    dates, date_bad = _date_column(
        frame[cols["date"]], report=report, column=cols["date"], date_format=date_format
    )
    out["date"] = dates
    bad |= date_bad
    for key in ("liaison", "kind"):
        if key in cols:
            values = frame[cols[key]].astype("str").where(frame[cols[key]].notna()).str.strip()
            out[key] = values.str.lower() if key == "kind" else values
    activities = pd.DataFrame(out, index=frame.index)[
        [k for k in ("date", "provider", "liaison", "kind") if k in out]
    ]
    activities = activities.loc[~bad.to_numpy()]
    report.raise_if_needed(strict=strict)
    _log_summary("activities", activities, report)
    activities.attrs["report"] = report
    activities.attrs["name"] = report.name
    return activities
