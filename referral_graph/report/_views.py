"""The network views beside the report: which providers each draws, and the pages."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referral_graph import _memo
from referral_graph.exceptions import ParameterError
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import small_cells
from referral_graph.report._model import Report

#: The package's logger (the messages read as the report's, as before the split).
logger = logging.getLogger(__package__)

#: Largest view drawn (providers), as :mod:`referral_graph.viz` allows by default.
_VIEW_MAX_NODES = 2000
#: Providers of the whole-network and focus views; at-risk ties of the at-risk view.
_VIEW_TOP, _VIEW_RISK_TOP = 300, 100


def _top_ids(ids: pd.Series, score: pd.Series, top: int) -> list[str]:
    """The `top` ids by `score` (missing = 0), ties broken by id, as the views rank them."""
    text = ids.astype("str").to_numpy(dtype=object)
    order = np.lexsort((text, -score.fillna(0).to_numpy(dtype=np.float64)))
    return [str(i) for i in text[order[:top]]]


#: The report's views, in the order the page lists them.
VIEWS = ("network", "focus", "at_risk", "ego_top_referrer", "community_0")


def _top_referrers(ties: pd.DataFrame, focus: list[str]) -> list[str]:
    """The focus's first outside referrers by referrals to it (the focus view's)."""
    into = ties.loc[_memo.isin(ties["target"], focus) & ~_memo.isin(ties["source"], focus)]
    sent = into.groupby("source", sort=False)["referrals"].sum()
    return _top_ids(pd.Series(sent.index), pd.Series(sent.to_numpy()), _VIEW_TOP)


def _view_graph(net: ReferralNetwork, nodes: set[str]) -> Any:
    """The referral graph induced on `nodes`: what the views draw, without the whole graph.

    Nodes keep the whole graph's order, attributes and ties (in their order), so every
    view of it equals the same view of ``net.graph``; on a market of millions of ties this
    spares building the networkx graph of all of them.
    """
    from referral_graph.graph import graph_from_tables, induced_subgraph

    if net.graph_built:
        return induced_subgraph(net.graph, nodes)
    order = pd.Series(net.compact().ids, dtype="str")
    chosen = order[order.isin(nodes).to_numpy()]
    providers = net.providers.drop_duplicates("id")
    table = pd.DataFrame({"id": chosen}).merge(providers, on="id", how="left", sort=False)
    ties = net.ties.loc[
        _memo.isin(net.ties["source"], nodes) & _memo.isin(net.ties["target"], nodes)
    ]
    return graph_from_tables(ties, table, period=net.period, name=net.ties.attrs.get("name"))


def _view_options(
    net: ReferralNetwork,
    report: Report,
    *,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]] | None = None,
    link_scores: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The measures every view of the report draws from, and the options they share: the
    period, the threshold, one colour per specialty and per community.

    A provider's referrals that ``providers.csv`` leaves out by complementary suppression
    (`decided`, as :attr:`referral_graph.scores.TablesWritten.hidden`) are left out of its
    tooltip too (small ones stay, drawn ``<11``); its PageRank, hub and authority are
    those ``providers.csv`` shows (`link_scores`,
    :attr:`~referral_graph.scores.TablesWritten.link_scores`), computed here when not
    given (:func:`referral_graph.scores.published_link_scores`)."""
    from referral_graph import viz
    from referral_graph.scores import published_link_scores

    measures = report.tables["providers"]
    if link_scores is None and "ties" in report.tables:
        # drawn apart from the written tables (a profile on demand): the same scores
        hidden = (decided or {}).get("ties", {})
        together = {"providers": measures, "ties": report.tables["ties"]}
        measures = published_link_scores(together, hidden, threshold=threshold)["providers"]
    elif link_scores is not None:
        at = pd.Index(link_scores.index).get_indexer(pd.Index(measures["id"].astype("str")))
        measures = measures.assign(
            **{
                c: np.where(at >= 0, link_scores[c].to_numpy()[at], np.nan)
                for c in link_scores.columns
                if c in measures.columns
            }
        )
    hidden = (decided or {}).get("providers", {})
    for col in ("in_strength", "out_strength"):
        mask = hidden.get(col)
        if mask is None or col not in measures:
            continue
        values = measures[col]
        left_out = mask.reindex(measures.index, fill_value=False).to_numpy(dtype=bool)
        small = small_cells(values, threshold=threshold).to_numpy(dtype=bool)
        gone = left_out & ~small
        if gone.any():
            measures = measures.assign(**{col: values.astype("float64").mask(gone)})
    # Every figure a view shows comes from the whole network (a node's referrals too), so a
    # view drawn from the induced graph of its own providers equals the view of the whole.
    measures = measures.assign(referrals=measures["in_strength"] + measures["out_strength"])
    period = (
        f"{report.period[0]:%b %Y} – {report.period[1]:%b %Y}"
        if report.period is not None
        else None
    )
    palette = (
        viz.category_colors(net.providers["specialty"]) if "specialty" in net.providers else {}
    )
    if "community" in measures:
        # as categories: each distinct community is named once, and counted in C
        communities = measures["community"].dropna().astype("int64").astype("category")
        palette |= viz.category_colors(communities.map(lambda c: f"Community {c}"))
    return measures, {"period": period, "threshold": threshold, "palette": palette}


def _hidden_ties(
    ties: pd.DataFrame | None,
    hidden: Mapping[str, pd.Series],
    nodes: set[str],
    *,
    threshold: int,
) -> dict[str, list[tuple[str, str]]]:
    """Per count column (``referrals``, ``patients``), the ties among `nodes` whose value
    ``ties.csv`` hides by complementary suppression (`hidden`: per column of `ties`, the
    rows whose value the file leaves out; the small ones are left out, drawn ``<11``)."""
    out: dict[str, list[tuple[str, str]]] = {}
    if ties is None or not hidden:
        return out
    source, target = ties["source"].astype("str"), ties["target"].astype("str")
    inside = _memo.isin(source, nodes) & _memo.isin(target, nodes)
    for col in ("referrals", "patients"):
        mask = hidden.get(col)
        if mask is None or col not in ties:
            continue
        values = pd.to_numeric(ties[col], errors="coerce")
        small = small_cells(values, threshold=threshold).to_numpy(dtype=bool)
        gone = inside & mask.reindex(ties.index, fill_value=False).to_numpy(dtype=bool) & ~small
        out[col] = list(zip(source[gone], target[gone], strict=True))
    return out


def _write_views(
    net: ReferralNetwork,
    report: Report,
    folder: Path,
    *,
    threshold: int,
    decided: Mapping[str, Mapping[str, pd.Series]] | None = None,
    options: tuple[pd.DataFrame, dict[str, Any]] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, str]:
    """Write the report's network views into `folder`; return label -> the page's address
    relative to the report (``views/NAME.html``). `decided` is what the report's written
    tables leave out (:attr:`referral_graph.scores.TablesWritten.hidden`): the ties whose
    counts ``ties.csv`` hides by complementary suppression are drawn without them (``–``,
    the thinnest line); which ties each view draws does not change. `options` is
    :func:`_view_options` of `net` and `report` when computed already. With `only`, the
    views of :data:`VIEWS` named there (each view is drawn from the graph induced on its
    own providers, so drawing them apart gives the same pages)."""
    from referral_graph import viz

    def wanted(name: str) -> bool:
        return only is None or name in only

    t = report.tables
    measures, shared = options or _view_options(net, report, threshold=threshold, decided=decided)
    common = dict(shared)  # hidden_counts is added below: the caller's options stay as given
    written: dict[str, str] = {}
    ties = net.ties

    # The providers each view draws, chosen from the tables.
    plans: dict[str, tuple[str, set[str], Any]] = {}
    if wanted("network"):
        top_network = _top_ids(measures["id"], measures["pagerank"], _VIEW_TOP)
        plans["network"] = (
            "Whole network (top 300 providers by PageRank)",
            set(top_network),
            lambda G, p, m: viz.network_view(G, top=_VIEW_TOP, measures=m, path=p, **common),
        )
    focus = list(dict.fromkeys(report.focus_ids))
    if wanted("focus"):
        referrers = _top_referrers(ties, focus)
        if len(focus) + len(referrers) > _VIEW_MAX_NODES:
            logger.warning(
                "View focus not written: %s focus providers and %s referrers are more than %s "
                "providers, which make an unreadable page; draw part of them with "
                "viz.focus_view.",
                f"{len(focus):,}",
                f"{len(referrers):,}",
                f"{_VIEW_MAX_NODES:,}",
            )
        else:
            plans["focus"] = (
                f"Referral base of {report.focus}",
                set(focus) | set(referrers),
                lambda G, p, m: viz.focus_view(
                    G, focus, segments=t.get("share_of_wallet"), measures=m, top=_VIEW_TOP,
                    path=p, title=f"Referral base of {report.focus}: its top referrers",
                    **common,
                ),
            )  # fmt: skip
    risk = t.get("at_risk")
    if wanted("at_risk") and risk is not None and len(risk):
        # the ties at_risk_view draws: the first by expected loss (or risk, or at stake)
        ranked = viz.rank_at_risk(risk)
        ends = ranked.drop_duplicates(["source", "target"]).head(_VIEW_RISK_TOP)
        plans["at_risk"] = (
            "At-risk ties",
            set(ends["source"].astype("str")) | set(ends["target"].astype("str")),
            lambda G, p, m: viz.at_risk_view(
                G, risk, top=_VIEW_RISK_TOP, measures=m, path=p, **common
            ),
        )
    key = t.get("key_referrers")
    if wanted("ego_top_referrer") and key is not None and len(key):
        top_id = str(key["source"].iloc[0])
        near = ties.loc[((ties["source"] == top_id) | (ties["target"] == top_id)).to_numpy()]
        plans["ego_top_referrer"] = (
            "Top key referrer's referral neighbourhood",
            {top_id} | set(near["source"].astype("str")) | set(near["target"].astype("str")),
            lambda G, p, m: viz.ego_view(G, top_id, measures=m, path=p, **common),
        )
    labels = (
        measures.set_index("id")["community"].dropna().astype("int64")
        if wanted("community_0")
        else pd.Series(dtype="int64")
    )
    if len(labels):
        members = labels.index[(labels == 0).to_numpy()].astype("str")
        if len(members) > _VIEW_MAX_NODES:
            logger.warning(
                "View community_0 not written: its %s providers are more than %s, which make "
                "an unreadable page; draw part of it with viz.community_view.",
                f"{len(members):,}",
                f"{_VIEW_MAX_NODES:,}",
            )
        else:
            plans["community_0"] = (
                "Largest care community",
                set(members),
                lambda G, p, m: viz.community_view(G, labels, 0, measures=m, path=p, **common),
            )
    if not plans:
        return written
    drawn = set().union(*(nodes for _, nodes, _ in plans.values()))
    G = _view_graph(net, drawn)
    # what ties.csv leaves out, left out of the views' tooltips and widths (render's
    # hidden_counts); each view picks its ties from G's counts as before
    hidden = _hidden_ties(
        t.get("ties"), (decided or {}).get("ties", {}), drawn, threshold=threshold
    )
    if any(hidden.values()):
        common["hidden_counts"] = hidden
    # the measures of the providers drawn (each view looks up only its own)
    drawn_measures = measures.loc[measures["id"].isin(drawn).to_numpy()]
    for name, (label, _, make) in plans.items():
        path = folder / f"{name}.html"
        try:
            make(G, path, drawn_measures)
        except ParameterError as exc:  # a view that cannot be drawn on this data
            logger.warning("View %s not written: %s", name, exc)
            continue
        written[label] = f"views/{name}.html"
    return written
