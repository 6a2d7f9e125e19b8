"""The profile pages: the monthly chart, the embedded ego view, the page and the report's
``profiles/`` folder.

A profile is drawn by the template ``referral_graph/templates/profile.html.j2`` (on the
layout and stylesheet every page shares, with a print stylesheet: one or two A4 or
Letter pages). Its referral neighbourhood is a :func:`referral_graph.viz.ego_view` drawn
in the page (``network.html.j2``). A profile written alone inlines vis-network (one
file, about 0.7 MB); the report's profiles share one copy, ``profiles/vis-network.min.js``
and ``profiles/vis-network.css``, loaded by a relative address (offline: the pages'
Content-Security-Policy allows the page's own folder and nothing else).
"""

from __future__ import annotations

import html
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from referral_graph import _memo
from referral_graph._pages import render
from referral_graph.exceptions import ParameterError
from referral_graph.io import atomic_path
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import DEFAULT_THRESHOLD, format_count
from referral_graph.report._model import Report
from referral_graph.report._profile import (
    Prepared,
    decided_suppression,
    prepare,
    profile_parts,
    profiled_ids,
    referrer_months,
)
from referral_graph.report._views import _hidden_ties, _view_graph, _view_options

logger = logging.getLogger(__package__)

#: Partners of a profile's ego view: the strongest by referrals either way.
EGO_PARTNERS = 30
#: The shared copies of vis-network in the report's ``profiles/`` folder.
VIS_JS, VIS_CSS = "vis-network.min.js", "vis-network.css"

_US, _THEM = "#2f6fad", "#d64545"


@dataclass
class Profile:
    """One provider's profile page.

    Attributes
    ----------
    provider : str
        The provider's id.
    name : str
        Their name (the id when unknown).
    referrals : pandas.DataFrame
        ``month`` (the first month of each period), ``to_focus``, ``to_competitors``,
        ``share``: referrals in the focus's specialties by `unit`, as the page shows
        them (hidden counts and the values that would reveal one missing).
    unit : str
        "month", or "quarter", "half-year" or "year" where by month most counts
        would be hidden.
    suppression : str or None
        What small-cell suppression left out of the page, and how to keep it.
    sections : dict
        The page's other contents, as plain formatted values (``who``, ``ties``,
        ``at_risk``, ``prospects``, ``activities``, ``talking_points``, ...).
    drawing : dict or None
        The ego view's drawing (:func:`referral_graph.viz.ego_view`), or None.

    Examples
    --------
    >>> p = Profile(provider="1234567893", name="Dr. A", referrals=pd.DataFrame())
    >>> p.name
    'Dr. A'
    """

    provider: str
    name: str
    referrals: pd.DataFrame
    unit: str = "month"
    suppression: str | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    drawing: dict[str, Any] | None = None

    def html(self, *, vis_src: str | None = None) -> str:
        """The page: self-contained (vis-network inlined), or loading vis-network from
        `vis_src` (a relative address, as the report's ``profiles/`` folder shares one)."""
        return render_profile(self, vis_src=vis_src)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained page to `path` (atomically); return the path."""
        target = Path(os.fspath(path))
        with atomic_path(target) as tmp:
            tmp.write_text(self.html(), encoding="utf-8")
        logger.info("Wrote the profile of %s to %s", self.provider, target)
        return target

    def _repr_html_(self) -> str:
        """The page in a sandboxed ``<iframe srcdoc>`` (JupyterLab, the classic notebook)."""
        page = html.escape(self.html(), quote=True)
        return (
            f'<div class="referral-graph-profile"><iframe srcdoc="{page}" '
            'sandbox="allow-scripts" style="width:100%;height:900px;border:0" '
            f'title="Profile of {html.escape(self.name, quote=True)}"></iframe></div>'
        )


def profile(
    net: ReferralNetwork,
    provider: str,
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
    report: Report | None = None,
    activities: pd.DataFrame | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    seed: int = 0,
    capacity: int = 25,
    horizon: int = 3,
    view: bool = True,
) -> Profile:
    """One provider's profile: who they are, their referrals to us and to competitors.

    Parameters
    ----------
    net : ReferralNetwork
        From :func:`referral_graph.pipeline.load_network`.
    provider : str
        The provider's id.
    focus, focus_ids
        The focus organisation ("us"); needed unless `report` is given.
    report : Report, optional
        A report on `net` (:func:`referral_graph.report.build_report`): its tables
        are used as they are. By default one is computed (the at-risk model, the
        prospects, ...: as long as the report takes).
    activities : pandas.DataFrame, optional
        Outreach log (``date``, ``provider``, ``liaison``, ``kind``): the
        provider's activities and their outcomes.
    threshold : int, default 11
        Counts from 1 to ``threshold - 1`` are hidden, with what would reveal one:
        every cell that the report's tables hide (``ties.csv``, ``share_of_wallet.csv``,
        as :func:`referral_graph.report.write_report` writes them: some to protect other
        providers' cells) is hidden here too, so the page shows the cells of the profile
        ``write_report`` writes. Deciding that suppression takes seconds on large
        markets; it is done once per `report` (while its tables are the same).
    seed, capacity, horizon
        As :func:`referral_graph.report.build_report` (without `report`).
    view : bool, default True
        Embed the provider's referral neighbourhood (:func:`referral_graph.viz.ego_view`).

    Returns
    -------
    Profile
        ``.write(path)`` writes the page; in JupyterLab it shows inline.

    Raises
    ------
    ParameterError
        `provider` is not a provider of `net`, or no focus is given.

    Examples
    --------
    >>> from referral_graph import report  # doctest: +SKIP
    >>> p = report.profile(net, "1234567893", focus="Riverside Health")  # doctest: +SKIP
    >>> p.write("profile.html")  # doctest: +SKIP
    """
    from referral_graph.report._tables import build_report

    provider = str(provider)
    known = set(net.providers["id"].astype("str")) if "id" in net.providers else set()
    if provider not in known and not (
        (net.ties["source"] == provider).any() or (net.ties["target"] == provider).any()
    ):
        raise ParameterError(
            f"The 'provider' parameter of profile must be a provider id of the network. Got "
            f"{provider!r} instead (ids are strings and must match exactly)."
        )
    if report is None:
        report = build_report(
            net,
            focus=focus,
            focus_ids=focus_ids,
            activities=activities,
            capacity=capacity,
            horizon=horizon,
            seed=seed,
            threshold=threshold,
        )
    monthly = referrer_months(net, report.focus_ids, [provider])
    # what the report's tables would leave out (ties.csv, share_of_wallet.csv): hidden here too
    decided = decided_suppression(report, threshold=threshold)
    drawings = (
        ego_drawings(net, report, [provider], threshold=threshold, decided=decided) if view else {}
    )
    prepared = prepare(
        report,
        net.providers,
        [provider],
        monthly=monthly,
        threshold=threshold,
        decided=decided,
        activities=activities,
    )
    return _profile(provider, prepared, drawing=drawings.get(provider))


def _profile(provider: str, prepared: Prepared, *, drawing: dict[str, Any] | None) -> Profile:
    return Profile(provider=provider, drawing=drawing, **vars(profile_parts(provider, prepared)))


def ego_drawings(
    net: ReferralNetwork,
    report: Report,
    ids: Sequence[str],
    *,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]],
    options: tuple[pd.DataFrame, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each provider's referral neighbourhood, ready to draw (``network.html.j2``): the
    provider and its :data:`EGO_PARTNERS` strongest partners, and the ties among them.

    The providers drawn are read from one graph of all the neighbourhoods, induced from
    the ties (the whole networkx graph is not built for it). A tie's referrals and
    patients that ``ties.csv`` leaves out (`decided`: small, or hidden by complementary
    suppression) are left out of its tooltip ("–") and width (the thinnest) too.
    `options` is :func:`._views._view_options` of `net` and `report` when computed already.
    """
    from referral_graph import viz
    from referral_graph.graph import induced_subgraph
    from referral_graph.viz._page import drawing_context

    if not ids or "providers" not in report.tables:
        return {}
    ties = net.ties
    wanted = pd.Index(list(ids), dtype="str")
    # the rows taken first: only their ids are read (not millions of strings)
    out_ties = ties.loc[_memo.isin(ties["source"], wanted), ["source", "target", "referrals"]]
    in_ties = ties.loc[_memo.isin(ties["target"], wanted), ["target", "source", "referrals"]]
    near = pd.concat(
        [
            pd.DataFrame(
                {
                    "centre": out_ties["source"].to_numpy(),
                    "partner": out_ties["target"].to_numpy(),
                    "referrals": out_ties["referrals"].to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "centre": in_ties["target"].to_numpy(),
                    "partner": in_ties["source"].to_numpy(),
                    "referrals": in_ties["referrals"].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    ).astype({"centre": "str", "partner": "str"})
    near = near.groupby(["centre", "partner"], sort=False)["referrals"].sum().reset_index()
    near = near.sort_values(
        ["centre", "referrals", "partner"], ascending=[True, False, True], kind="stable"
    )
    partners = near.groupby("centre", sort=False).size()
    top = near.groupby("centre", sort=False).head(EGO_PARTNERS)
    drawn = set(wanted) | set(top["partner"])
    G = _view_graph(net, drawn)
    _hide_ties(G, report.tables.get("ties"), decided.get("ties", {}), threshold=threshold)
    measures, common = options or _view_options(net, report, threshold=threshold, decided=decided)
    measures = measures.loc[measures["id"].isin(drawn).to_numpy()].reset_index(drop=True)
    row_of = {str(i): n for n, i in enumerate(measures["id"])}
    drawings: dict[str, dict[str, Any]] = {}
    for centre, group in top.groupby("centre", sort=False):
        centre = str(centre)
        if centre not in G:
            continue
        nodes = {centre} | set(group["partner"])
        sub = induced_subgraph(G, nodes)  # in G's order: the same page in every process
        # each view reads the measures of its own providers only (they are the whole's)
        mine = measures.iloc[sorted(row_of[n] for n in nodes if n in row_of)]
        try:
            view = viz.ego_view(sub, centre, measures=mine, height="400px", **common)
        except ParameterError as exc:  # a neighbourhood that cannot be drawn
            logger.warning("The ego view of %s was not drawn: %s", centre, exc)
            continue
        drawing = drawing_context(view, func="profile")
        total = int(partners.get(centre, 0))
        if total > EGO_PARTNERS:
            drawing["notes"] = [
                f"The {EGO_PARTNERS} strongest of its {total:,} partners (by referrals either "
                "way) are drawn, with the ties among them.",
                *drawing["notes"],
            ]
        drawings[centre] = drawing
    return drawings


def _hide_ties(
    G: Any, ties: pd.DataFrame | None, hidden: Mapping[str, pd.Series], *, threshold: int
) -> None:
    """Blank (None), in `G` (a graph to draw, changed in place), the ``referrals`` and
    ``patients`` of the ties that ``ties.csv`` hides by complementary suppression
    (`hidden`: per column of `ties`, the rows whose value the file leaves out): drawn,
    they would show the count in a tooltip and a width. A small one stays (drawn
    ``<11``, as wide as `threshold`)."""
    nodes = {str(n) for n in G}
    for col, pairs in _hidden_ties(ties, hidden, nodes, threshold=threshold).items():
        for u, v in pairs:
            if G.has_edge(u, v):
                G.edges[u, v][col] = None


@dataclass
class _Bars:
    """The monthly chart: grouped bars (us, competitors) and the share of wallet line."""

    width: int
    height: int
    left: int
    base: float
    grid: list[tuple[str, str, str]]
    months: list[dict[str, Any]]
    ticks: list[tuple[str, str]]
    share_points: str
    #: (x, y) of each period whose share is shown (a dot: a lone one has no line).
    share_dots: list[tuple[str, str]]
    share_grid: list[tuple[str, str, str]]


def _bars(months: list[dict[str, Any]], monthly: pd.DataFrame, *, threshold: int) -> _Bars | None:
    """Bars of the months as shown: a hidden month is a grey mark at the base, its
    figures ``<11`` or ``–`` in its tooltip; the share line skips months it is hidden in."""
    if not len(monthly):
        return None
    width, height, left, right, top, bottom = 1000, 200, 52, 10, 10, 24
    share_top, share_height = height + 26, 70
    us = monthly["to_focus"].astype("Float64").to_numpy(dtype="float64", na_value=math.nan)
    them = monthly["to_competitors"].astype("Float64").to_numpy(dtype="float64", na_value=math.nan)
    values = [v for v in (*us, *them) if not math.isnan(v)]
    ymax = _nice(max([*values, float(threshold)]))
    n = len(monthly)
    slot = (width - left - right) / n
    base = top + (height - top - bottom)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / ymax)

    def bar(value: float, x: float, color: str) -> dict[str, str]:
        if math.isnan(value):
            return {"x": f"{x:.1f}", "y": f"{base - 2:.1f}", "h": "2", "fill": "#9aa5b1"}
        return {
            "x": f"{x:.1f}",
            "y": f"{y(value):.1f}",
            "h": f"{base - y(value):.1f}",
            "fill": color,
        }

    bar_width = max(slot * 0.38, 1.0)
    out = []
    points = []
    for i, month in enumerate(months):
        x0 = left + slot * i + slot * 0.1
        out.append(
            {
                "title": f"{month['label']}: to us {month['to_focus']}, to competitors "
                f"{month['to_competitors']}, share of wallet {month['share']}",
                "w": f"{bar_width:.1f}",
                "bars": [bar(us[i], x0, _US), bar(them[i], x0 + bar_width, _THEM)],
            }
        )
        share = monthly["share"].iloc[i]
        if not pd.isna(share):
            sy = share_top + share_height * (1 - float(share))
            points.append((f"{left + slot * (i + 0.5):.1f}", f"{sy:.1f}"))
    grid = [
        (f"{y(ymax * f):.1f}", f"{y(ymax * f) + 4:.1f}", format_count(round(ymax * f), threshold=1))
        for f in (0, 0.5, 1.0)
    ]
    step = max(1, math.ceil(n / 12))
    ticks = [(f"{left + slot * (i + 0.5):.1f}", months[i]["short"]) for i in range(0, n, step)]
    share_grid = [
        (
            f"{share_top + share_height * (1 - f):.1f}",
            f"{share_top + share_height * (1 - f) + 4:.1f}",
            f"{100 * f:.0f} %",
        )
        for f in (0, 0.5, 1.0)
    ]
    return _Bars(
        width=width,
        height=share_top + share_height + 8,
        left=left,
        base=base,
        grid=grid,
        months=out,
        ticks=[(x, label) for x, label in ticks],
        share_points=" ".join(f"{x},{y}" for x, y in points),
        share_dots=points,
        share_grid=share_grid,
    )


def _nice(value: float) -> float:
    """The least of 1, 2, 2.5, 5 or 10 times a power of ten that is at least `value`."""
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(power * f for f in (1, 2, 2.5, 5, 10) if power * f >= value))


def render_profile(profile: Profile, *, vis_src: str | None = None) -> str:
    """The profile's page: self-contained, or with vis-network from `vis_src` (relative)."""
    from markupsafe import Markup

    from referral_graph._version import __version__
    from referral_graph.report._page import COMPLIANCE
    from referral_graph.viz._page import vis_assets

    s = profile.sections
    threshold = int(s.get("threshold", 11))
    drawing = profile.drawing
    js, css = vis_assets() if drawing is not None and vis_src is None else ("", "")
    return render(
        "profile.html.j2",
        title=f"Profile — {profile.name}",
        name=profile.name,
        s=s,
        chart=_bars(s.get("months", []), profile.referrals, threshold=threshold),
        colours=(_US, _THEM),
        threshold=threshold,
        suppression=profile.suppression or "",
        drawing=drawing,
        vis_src=vis_src or "",
        vis_css_href=(str(Path(vis_src).with_name(VIS_CSS)) if vis_src else ""),
        vis_js=Markup(js),
        vis_css=Markup(css),
        version=__version__,
        compliance=COMPLIANCE.format(small=threshold - 1, threshold=threshold),
    )


@dataclass
class Drawn:
    """The parts of profiles drawn before the others (:func:`drawn_before`): their
    providers, each one's referrals by month (:func:`._profile.referrer_months`) and its
    referral neighbourhood (:func:`ego_drawings`)."""

    ids: list[str]
    months: pd.DataFrame
    drawings: dict[str, dict[str, Any]]

    def and_then(self, later: Drawn) -> Drawn:
        """These parts and `later`'s (other providers), as one drawing of all would give."""
        months = self.months
        if len(months) and len(later.months):  # in the order of one call for all
            months = (
                pd.concat([months, later.months], ignore_index=True)
                .sort_values(["source", "month"], kind="stable")
                .reset_index(drop=True)
            )
        elif len(later.months):
            months = later.months
        return Drawn(
            ids=[*self.ids, *later.ids],
            months=months,
            drawings={**self.drawings, **later.drawings},
        )


def _draw(
    net: ReferralNetwork,
    report: Report,
    ids: list[str],
    *,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]],
    views: bool,
    options: tuple[pd.DataFrame, dict[str, Any]] | None,
) -> Drawn:
    """The profile parts of `ids`: their months, and their neighbourhoods with `views`."""
    months = referrer_months(net, report.focus_ids, ids)
    drawings = (
        ego_drawings(net, report, ids, threshold=threshold, decided=decided, options=options)
        if views
        else {}
    )
    return Drawn(ids=ids, months=months, drawings=drawings)


def drawn_before(
    net: ReferralNetwork,
    report: Report,
    *,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]],
    views: bool = True,
    options: tuple[pd.DataFrame, dict[str, Any]] | None = None,
) -> Drawn:
    """The profiles' parts of the providers that `report` profiles so far (its key
    referrers and prospects, before its at-risk list), for :func:`write_profiles`: each
    provider's parts are its own, whichever others are drawn with it."""
    return _draw(
        net,
        report,
        profiled_ids(report),
        threshold=threshold,
        decided=decided,
        views=views,
        options=options,
    )


def write_profiles(
    net: ReferralNetwork,
    report: Report,
    folder: Path,
    *,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]],
    activities: pd.DataFrame | None = None,
    views: bool = True,
    options: tuple[pd.DataFrame, dict[str, Any]] | None = None,
    drawn: Drawn | None = None,
) -> dict[str, str]:
    """Write ``folder/ID.html`` for each provider the report profiles
    (:func:`._profile.profiled_ids`) and the shared vis-network; return id -> the page's
    address relative to the report (``profiles/ID.html``). `decided` is what the
    report's written tables leave out (:attr:`referral_graph.scores.TablesWritten.hidden`):
    the profiles hide it too. `options` is :func:`._views._view_options` of `net` and
    `report` when computed already (the report's views drew with them); `drawn`, the
    parts of some profiles drawn already (:func:`drawn_before`, with the same `views`)."""
    from referral_graph.viz._page import vis_assets

    started = time.perf_counter()
    ids = profiled_ids(report)
    if not ids:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    done = set(drawn.ids) if drawn is not None else set()
    parts = _draw(
        net,
        report,
        [i for i in ids if i not in done],
        threshold=threshold,
        decided=decided,
        views=views,
        options=options,
    )
    if drawn is not None:
        parts = drawn.and_then(parts)
    months, drawings = parts.months, parts.drawings
    if drawings:
        js, css = vis_assets()
        for name, text in ((VIS_JS, js), (VIS_CSS, css)):
            with atomic_path(folder / name) as tmp:
                tmp.write_text(text, encoding="utf-8")
    prepared = prepare(
        report,
        net.providers,
        ids,
        monthly=months,
        threshold=threshold,
        decided=decided,
        activities=activities,
    )
    written: dict[str, str] = {}
    for provider in ids:
        page = _profile(provider, prepared, drawing=drawings.get(provider))
        path = folder / f"{_file_name(provider)}.html"
        with atomic_path(path) as tmp:
            tmp.write_text(page.html(vis_src=VIS_JS), encoding="utf-8")
        written[provider] = f"{folder.name}/{path.name}"
    logger.info(
        "Wrote %d profiles to %s in %.1f s", len(written), folder, time.perf_counter() - started
    )
    return written


def _file_name(provider: str) -> str:
    """`provider` as a file name: ids are NPIs, but any other character is replaced."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in provider) or "_"
