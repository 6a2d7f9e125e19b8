"""Every score in one call: provider measures, tie strength, communities, focus tables.

:func:`score_network` runs :mod:`~referral_graph.centrality`,
:mod:`~referral_graph.communities`, :mod:`~referral_graph.strength` and,
with a focus organisation, :mod:`~referral_graph.leakage` on a
:class:`~referral_graph.pipeline.ReferralNetwork` and returns the tables the
``score`` command writes. :func:`write_tables` writes tables with small-cell
suppression applied to every count column.

Examples
--------
>>> import pandas as pd
>>> from referral_graph.pipeline import load_network
>>> ev = pd.DataFrame({"source": ["A", "B", "B"], "target": ["C", "C", "D"],
...                    "date": ["2024-01-02", "2024-01-05", "2024-02-01"]})
>>> tables = score_network(load_network(events=ev))
>>> sorted(tables)
['communities', 'providers', 'ties']
>>> tables["providers"].columns[:4].tolist()
['id', 'in_degree', 'out_degree', 'in_strength']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from referral_graph import _memo, _worker
from referral_graph._checks import check_choice, check_float, check_int
from referral_graph._compact import as_compact
from referral_graph._joint import hidden_cells, joint_suppression
from referral_graph._protection import revealed
from referral_graph.centrality import CompactGraph
from referral_graph.centrality._measures import _betweenness_columns, _betweenness_sources
from referral_graph.centrality._spectral import link_scores
from referral_graph.communities import METHODS as COMMUNITY_METHODS
from referral_graph.exceptions import ParameterError
from referral_graph.io import write_table
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import (
    DEFAULT_THRESHOLD,
    LINKED,
    PARTITIONS,
    STAND_IN,
    SUMMED,
    count_columns,
    describe_suppression,
    small_cells,
    suppress_counts,
)

__all__ = ["TablesWritten", "published_link_scores", "score_network", "write_tables"]

logger = logging.getLogger(__name__)

_METHODS = COMMUNITY_METHODS


class TablesWritten(dict[str, list[Path]]):
    """The paths :func:`write_tables` wrote, by table name, and what suppression left out.

    Attributes
    ----------
    suppression : str or None
        The sentence of :func:`referral_graph.privacy.describe_suppression`.
    records : dict
        Each table's ``attrs["suppression"]`` record, by name.
    tables : dict
        The tables as written (suppressed), by name: those `keep` named.
    hidden : dict
        What each table's file leaves out of its count columns, by name: per count
        column of the table as given, a boolean Series on its index, True where the
        written value is missing and the given one is not (small, or hidden by
        complementary suppression). Another page showing the same cells reads them
        here (``suppress_counts(..., hide=...)``) and hides them too.
    link_scores : pandas.DataFrame or None
        The PageRank, hub and authority scores written (:func:`published_link_scores`,
        computed on the ties as shown), indexed by provider id; None where the
        tables' own were written (nothing hidden, or no ``providers`` and ``ties``).
        A view showing the scores reads them here.
    linked_keys : dict
        The key columns (:data:`~referral_graph.privacy.LINKED`) of each table that
        another table repeats, as given, by name: with ``hidden``, what a later call
        (``write_tables(..., written=...)``) hides in the tables that repeat it.
    """

    suppression: str | None = None
    records: dict[str, dict[str, Any]]
    tables: dict[str, pd.DataFrame]
    hidden: dict[str, dict[str, pd.Series]]
    linked_keys: dict[str, pd.DataFrame]
    link_scores: pd.DataFrame | None = None


def write_tables(
    tables: Mapping[str, pd.DataFrame],
    folder: str | os.PathLike[str],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    formats: Iterable[str] = ("csv",),
    keep: Iterable[str] | None = None,
    on_decided: Callable[[], None] | None = None,
    written: TablesWritten | None = None,
    joint: Mapping[str, Mapping[str, pd.Series]] | None = None,
) -> TablesWritten:
    """Write tables to `folder` with small-cell suppression on every count column.

    Parameters
    ----------
    tables : mapping of name to DataFrame
        Each is written as ``name.csv`` (and ``name.parquet``).
    folder : path
        Created if needed.
    threshold : int, default 11
        Counts from 1 to ``threshold - 1`` are written as missing.
    formats : iterable of {"csv", "parquet"}
        The file formats written, one file per table and format. Empty: nothing is
        written (`folder` is not touched); what would be written is decided and
        returned all the same (``records``, ``hidden``, ``tables``).
    keep : iterable of str, optional
        The tables to return as written (``tables`` attribute); by default all.
        Each table is otherwise let go once written (on millions of ties, the
        suppressed copies of every table at once took about 2 GB).
    on_decided : callable, optional
        Called without arguments once the suppression of the tables that share
        sums (``ties``, ``share_by_specialty`` and the others, decided together by
        ``referral_graph._joint``) is decided and the link-analysis scores are
        computed from it (:func:`published_link_scores`), before the first file is
        written (or when either fails): the first step holds about 1 GB more on 4.7 million
        ties, so a caller running other memory-heavy work beside this function
        (in another thread) can wait for it.
    written : TablesWritten, optional
        What an earlier call wrote (its return value): a table here that repeats
        cells of a table written there (:data:`~referral_graph.privacy.LINKED`:
        ``prospects`` repeats ``share_of_wallet``'s ``to_competitors``) hides the
        cells that one hid by complementary suppression, as it would in one call.
    joint : mapping, optional
        The suppression of the tables that share sums, decided already by
        :func:`referral_graph._joint.joint_suppression` on tables with the same
        counts and rows (the report decides it while the communities are computed:
        :func:`score_network`'s `meanwhile`); by default it is decided here.

    Returns
    -------
    TablesWritten
        Name -> paths written (a dict); its ``suppression`` attribute is the
        sentence of :func:`referral_graph.privacy.describe_suppression` on what
        was left out (None when nothing was).
    """
    out = TablesWritten()
    out.records = {}
    out.hidden = {}
    out.linked_keys = {}
    target = Path(os.fspath(folder))
    try:
        for fmt in formats:
            if fmt not in ("csv", "parquet"):
                raise ParameterError(
                    f"The 'formats' must be 'csv' or 'parquet'. Got {fmt!r} instead."
                )
        kept = set(tables) if keep is None else set(keep)
        if joint is None:
            joint = joint_suppression(tables, threshold)
        # the scores that would solve back to counts, from the counts shown: before the
        # caller's other work starts (on_decided), so that their arrays are not held beside it
        given = tables.get("providers")
        tables = published_link_scores(tables, joint.get("ties", {}), threshold=threshold)
        if tables.get("providers") is not given:
            published = tables["providers"]
            out.link_scores = published.set_index(published["id"].astype("str"))[
                [c for c in LINK_SCORES["providers"] if c in published.columns]
            ]
    finally:
        if on_decided is not None:
            on_decided()
    # a table that repeats another's cells (LINKED) or sums them (SUMMED) is suppressed after
    # it, to hide what it hid: that one is suppressed first when needed, and held until written
    source_of: dict[str, str] = {n: r[0] for n, r in LINKED.items() if r[0] in tables}
    linked = {r[0]: [k for _, k in r[1]] for r in LINKED.values()}
    source_of.update({n: r[0] for n, r in SUMMED.items() if r[0] in tables})
    sources = {source_of[n] for n in tables if n in source_of}
    early: dict[str, pd.DataFrame] = {}

    def suppressed(name: str) -> pd.DataFrame:
        if name in early:
            return early.pop(name)
        if name in source_of and source_of[name] not in early:
            early[source_of[name]] = suppressed(source_of[name])
        table = tables[name]
        if name in joint:  # decided: its partitions were searched with the others' sums
            hide = _reverse_cells(table, dict(joint[name]), threshold)
            return suppress_counts(table, threshold=threshold, hide=hide)
        return suppress_counts(
            table,
            threshold=threshold,
            partitions=PARTITIONS.get(name, ()),
            hide=_linked_cells(name, table, _repeated(name, tables, early, written), threshold)
            or _summed_cells(name, table, tables, early, threshold),
        )

    out.tables = {}
    for name in tables:  # written in the order given
        safe = suppressed(name)
        if name in sources:
            early[name] = safe  # for the table that repeats it
        out[name] = [write_table(safe, target / f"{name}.{fmt}") for fmt in formats]
        out.records[name] = safe.attrs["suppression"]
        given = tables[name]
        out.hidden[name] = {
            c: pd.Series(hidden_cells(given[c], safe[c]), index=given.index)
            for c in count_columns(given)
            if c in safe.columns
        }
        if name in kept:
            out.tables[name] = safe
        if name in linked and set(linked[name]) <= set(given.columns):
            out.linked_keys[name] = given[linked[name]]
        del safe
    out.suppression = describe_suppression(out.records.values())
    if out.suppression:
        logger.info("%s", out.suppression)
    return out


def _reverse_cells(
    table: pd.DataFrame, hide: dict[str, pd.Series], threshold: int
) -> dict[str, pd.Series]:
    """`hide` with, in a tie table, the ``reverse_referrals`` of each tie whose reverse tie's
    ``referrals`` is hidden (small, or by complementary suppression: in `hide`): the same
    count, repeated on the other row. Only the rows of hidden ties and of ties with reverse
    referrals are keyed (the ids' kept factorisations, no copy of the whole table's)."""
    if threshold <= 1 or not {"source", "target", "referrals", "reverse_referrals"} <= set(
        table.columns
    ):
        return hide
    referrals = pd.to_numeric(table["referrals"], errors="coerce")
    gone = np.array(small_cells(referrals, threshold=threshold), dtype=bool)
    if "referrals" in hide:
        gone |= hide["referrals"].reindex(table.index, fill_value=False).to_numpy(dtype=bool)
    reverse = pd.to_numeric(table["reverse_referrals"], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    rows = np.flatnonzero(reverse > 0)  # (NaN compares False)
    if not gone.any() or not len(rows):
        return hide
    sources, source_ids = _memo.factorize(table["source"])
    targets, target_ids = _memo.factorize(table["target"])
    width = len(target_ids) + 1
    hidden_keys = np.sort(sources[gone].astype(np.int64) * width + targets[gone])
    # the reverse of tie s -> t is t -> s: t among the sources, s among the targets
    as_source = pd.Index(source_ids).get_indexer(pd.Index(target_ids))
    as_target = pd.Index(target_ids).get_indexer(pd.Index(source_ids))
    back_source = as_source[targets[rows]].astype(np.int64)
    back_target = as_target[sources[rows]]
    keys = back_source * width + back_target
    at = np.minimum(np.searchsorted(hidden_keys, keys), len(hidden_keys) - 1)
    found = (hidden_keys[at] == keys) & (back_source >= 0) & (back_target >= 0)
    if not found.any():
        return hide
    extra = np.zeros(len(table), dtype=bool)
    extra[rows[found]] = True
    mask = pd.Series(extra, index=table.index)
    if "reverse_referrals" in hide:
        mask |= hide["reverse_referrals"].reindex(table.index, fill_value=False)
    return {**hide, "reverse_referrals": mask}


def _summed_cells(
    name: str,
    table: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    safe: Mapping[str, pd.DataFrame],
    threshold: int,
) -> dict[str, pd.Series]:
    """The cells of `table` that give back cells hidden in the table it sums
    (:data:`SUMMED`): a period's sum whose hidden cells there it gives away (one hidden
    cell, or several whose sum pins them down: :func:`referral_graph._protection.revealed`),
    and a ratio with a hidden part (small here, or hidden for the first reason)."""
    if name not in SUMMED or "measure" not in table.columns:
        return {}
    other, period, sums, ratios = SUMMED[name]
    raw, shown = tables.get(other), safe.get(other)
    periods: Mapping[str, Any] = table.attrs.get("periods", {})
    measure = table["measure"].astype(str)
    counts = (table["unit"] == "count").to_numpy() if "unit" in table.columns else True
    hide: dict[str, pd.Series] = {}
    for col in periods:
        if col not in table.columns:
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        small = counts & small_cells(values, threshold=threshold).to_numpy(dtype=bool)
        gone = small.copy()
        if raw is not None and shown is not None and period in raw.columns:
            in_period = raw[period].isin(periods[col]).to_numpy()
            for label, count in sums.items():
                if count in raw.columns and count in shown.columns:
                    lost = hidden_cells(raw[count], shown[count]) & in_period
                    lost_sum = pd.to_numeric(raw[count], errors="coerce")[lost].sum()
                    if revealed([lost.sum()], [lost_sum], threshold)[0]:
                        gone |= (measure == label).to_numpy()
        for label, parts in ratios.items():
            if gone[measure.isin(parts).to_numpy()].any():
                gone |= (measure == label).to_numpy()
        if (gone & ~small).any():  # the small ones suppress_counts hides as small
            hide[col] = pd.Series(gone & ~small, index=table.index)
    return hide


#: The link-analysis scores computed from every tie's count (:mod:`referral_graph.centrality`),
#: per table: solving their equations gives hidden counts back.
LINK_SCORES = {"providers": ("pagerank", "hub", "authority"), "key_referrers": ("pagerank", "hub")}


def published_link_scores(
    tables: Mapping[str, pd.DataFrame], hidden: Mapping[str, pd.Series], *, threshold: int
) -> dict[str, pd.DataFrame]:
    """`tables` with their PageRank, hub and authority scores computed on the ties as
    ``ties.csv`` shows them: each hidden count (small, or in `hidden`, by complementary
    suppression) taken as ``STAND_IN * threshold``.

    A referrer's hub score is a weighted sum of its ties' counts (and PageRank and
    authority the like, over the ties it receives): with every other count shown, the
    scores computed from the true counts give a hidden one back by solving their
    equations. Computed from what the tables show, they give nothing back. The tables
    need ``ties`` (``source``, ``target`` and the count the scores weighed, named in
    ``providers.attrs["link_weight"]`` by :func:`score_network`) and ``providers``;
    otherwise, or when no count is hidden, they are returned as they are.
    """
    out = dict(tables)
    providers, ties = tables.get("providers"), tables.get("ties")
    if threshold <= 1 or providers is None or ties is None:
        return out
    weight = providers.attrs.get("link_weight")
    if weight is None or weight not in ties.columns or "id" not in providers.columns:
        return out
    values = pd.to_numeric(ties[weight], errors="coerce").to_numpy(
        "float64", na_value=np.nan, copy=True
    )  # its own: the hidden counts are replaced in it
    gone = np.asarray(small_cells(values, threshold=threshold), dtype=bool)
    if weight in hidden:
        gone |= hidden[weight].reindex(ties.index, fill_value=False).to_numpy(dtype=bool)
    if not gone.any():
        return out
    np.copyto(values, STAND_IN * threshold, where=gone)
    del gone
    cg = _graph_of(ties, providers, np.nan_to_num(values, copy=False))
    del values
    scores = pd.DataFrame(index=cg.index())
    scores["pagerank"], scores["hub"], scores["authority"] = link_scores(cg)
    for name, columns in LINK_SCORES.items():
        table = tables.get(name)
        key = "id" if name == "providers" else "source"
        if table is None or key not in table.columns:
            continue
        at = scores.index.get_indexer(pd.Index(table[key].astype("str")))
        new = {
            c: pd.Series(
                np.where(at >= 0, scores[c].to_numpy()[at], np.nan), index=table.index
            ).where(table[c].notna())
            for c in columns
            if c in table.columns
        }
        if new:
            out[name] = table.assign(**new)
    return out


def _graph_of(
    ties: pd.DataFrame, providers: pd.DataFrame, weight: npt.NDArray[np.float64]
) -> CompactGraph:
    """The graph of `ties` (one row per ordered pair) weighted by `weight`, its nodes the
    `providers` in order, then the ids met in the ties (the node order of
    :meth:`CompactGraph.from_tables`, on which the scores were computed). The ids' codes are
    their remembered factorisations (:mod:`referral_graph._memo`): no hashing of millions
    of ids, and no copy of the tables."""
    ids = pd.Index(providers["id"].astype("str"))
    if not ids.is_unique:
        return CompactGraph.from_tables(
            pd.DataFrame({"source": ties["source"], "target": ties["target"], "w": weight}),
            providers[["id"]],
            weight="w",
            edge_attrs=(),
            node_attrs=(),
        )
    ends = []
    for col in ("source", "target"):
        codes, uniques = _memo.factorize(ties[col])
        at = ids.get_indexer(pd.Index(uniques).astype("str"))
        missing = at < 0
        if missing.any():  # ids absent from the providers: nodes after them, as first met
            extra = pd.Index(uniques[missing]).astype("str").difference(ids, sort=False)
            ids = ids.append(extra)
            at = ids.get_indexer(pd.Index(uniques).astype("str"))
        ends.append(at.astype(np.int32)[codes])
    return CompactGraph(ids.to_numpy(dtype=object), ends[0], ends[1], weight)


def _repeated(
    name: str,
    tables: Mapping[str, pd.DataFrame],
    safe: Mapping[str, pd.DataFrame],
    written: TablesWritten | None,
) -> tuple[pd.DataFrame, dict[str, pd.Series]] | None:
    """The table that `name` repeats (:data:`LINKED`), as given (its key columns at
    least), and what its file leaves out, per count column: from this call (`tables`
    as given, `safe` as written) or from the earlier one (`written`); None without."""
    if name not in LINKED:
        return None
    other = LINKED[name][0]
    if other in safe:
        raw, shown = tables[other], safe[other]
        hidden = {
            c: pd.Series(hidden_cells(raw[c], shown[c]), index=raw.index)
            for c in count_columns(raw)
            if c in shown.columns
        }
        return raw, hidden
    if written is not None and other in written.linked_keys and other in written.hidden:
        return written.linked_keys[other], written.hidden[other]
    return None


def _linked_cells(
    name: str,
    table: pd.DataFrame,
    repeated: tuple[pd.DataFrame, Mapping[str, pd.Series]] | None,
    threshold: int,
) -> dict[str, pd.Series]:
    """The cells of `table` that the table it repeats (:data:`LINKED`; `repeated`, from
    :func:`_repeated`) hid although they are not small: hidden there by complementary
    suppression, so hidden here too."""
    if repeated is None:
        return {}
    other_rows, other_hidden = repeated
    _, keys, columns = LINKED[name]
    if not all(k in table.columns and j in other_rows.columns for k, j in keys):
        return {}
    mine = pd.MultiIndex.from_frame(table[[k for k, _ in keys]])
    hide: dict[str, pd.Series] = {}
    for col, theirs in columns:
        if col not in table.columns or theirs not in other_hidden:
            continue
        gone = other_hidden[theirs].to_numpy(dtype=bool)
        gone_keys = pd.MultiIndex.from_frame(
            other_rows.loc[gone, [j for _, j in keys]].set_axis([k for k, _ in keys], axis=1)
        )
        small = small_cells(pd.to_numeric(table[col], errors="coerce"), threshold=threshold)
        hide[col] = pd.Series(mine.isin(gone_keys) & ~small.to_numpy(dtype=bool), index=table.index)
    return hide


def score_network(
    net: ReferralNetwork,
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
    weight: str = "referrals",
    community_method: str = "leiden",
    resolution: float = 1.0,
    seed: int = 0,
    loyal_threshold: float = 0.5,
    strength_weights: Mapping[str, float] | None = None,
    meanwhile: Callable[[Mapping[str, pd.DataFrame]], object] | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute every score table of a referral network.

    Parameters
    ----------
    net : ReferralNetwork
        From :func:`referral_graph.pipeline.load_network`.
    focus : str, optional
        The focus organisation's name (matched against the providers'
        ``organization``), or ``"in_network"``.
    focus_ids : iterable of str, optional
        The focus organisation's provider ids (instead of `focus`).
    weight : str, default "referrals"
        Edge attribute used as weight.
    community_method : {"leiden", "auto", "networkit-leiden", "louvain", "networkx-louvain"}
        The community detection (see :func:`referral_graph.communities.detect_communities`);
        ``"auto"`` runs networkit's Leiden on graphs of a million ties or more when it
        is installed (the ``scale`` extra).
    resolution : float, default 1.0
        Modularity resolution of the communities.
    seed : int, default 0
        Seed of the randomised algorithms (communities, sampled betweenness).
    loyal_threshold : float, default 0.5
        Share of wallet from which a referrer is a loyalist.
    strength_weights : mapping, optional
        Weights of the strength components (see :mod:`referral_graph.strength`).
    meanwhile : callable, optional
        Called with the tables that need no communities (every table but
        ``communities``; ``providers`` without its ``community`` column and with
        its betweenness columns missing), before the communities and the
        betweenness are computed or, on large networks, waited for: the caller's
        work on those tables then fills the wait (the report decides their
        suppression there, :func:`write_tables`'s `joint`). The tables returned
        have the same rows, in the same order, and the same counts.

    Returns
    -------
    dict of str to DataFrame
        ``providers`` (one row per provider: id, attributes, measures,
        community), ``ties`` (strength and its components), ``communities``;
        with a focus also ``key_referrers``, ``share_of_wallet``,
        ``share_by_specialty``, ``leakage_by_specialty``,
        ``leakage_by_referrer_organization`` and ``leakage_by_competitor``.

    Notes
    -----
    On networks of 1,000,000 ties or more the communities and the sampled
    betweenness are computed in a second Python process while this one computes
    the other tables (the results are the same; its log records are logged here
    when it ends). See "Using both cores" in ``docs/architecture.md``.
    """
    n_ties = net.graph.number_of_edges() if net.graph_built else len(net.ties)
    with _worker.Worker(enabled=n_ties >= _worker.WORKER_MIN_TIES) as worker:
        return _score_network(
            net,
            worker=worker,
            focus=focus,
            focus_ids=focus_ids,
            weight=weight,
            community_method=community_method,
            resolution=resolution,
            seed=seed,
            loyal_threshold=loyal_threshold,
            strength_weights=strength_weights,
            meanwhile=meanwhile,
        )


def _communities_and_betweenness(
    cg: CompactGraph, method: str, resolution: float, seed: int, k: int | None
) -> tuple[pd.Series, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The community labels and the betweenness columns (run in the worker process)."""
    from referral_graph import communities

    labels = communities.detect_communities(
        cg,
        method=method,  # type: ignore[arg-type]
        resolution=resolution,
        seed=seed,
    )
    return (labels, *_betweenness_columns(cg, k=k, seed=seed))


def _score_network(
    net: ReferralNetwork,
    *,
    worker: _worker.Worker,
    focus: str | None,
    focus_ids: Iterable[str] | None,
    weight: str,
    community_method: str,
    resolution: float,
    seed: int,
    loyal_threshold: float,
    strength_weights: Mapping[str, float] | None,
    meanwhile: Callable[[Mapping[str, pd.DataFrame]], object] | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`score_network`, with the communities and betweenness in `worker` when enabled.

    Those two are the longest steps that need nothing but the graph; they run in
    the worker process while this one computes the tie strength and the focus
    tables (the same results either way).
    """
    from referral_graph import centrality, communities, leakage, strength

    # checked before the long steps start
    check_choice(community_method, "community_method", "score_network", list(_METHODS))
    check_float(resolution, "resolution", "score_network", low=0, low_open=True)
    check_int(seed, "seed", "score_network", low=0)
    # The networkx graph when it is built already, else the same graph as arrays straight from
    # the tables (identical results; no ~700 bytes per tie of networkx on large markets).
    G = net.graph if net.graph_built else net.compact(weight)
    network_of = None
    if worker.enabled:
        cg = as_compact(G, weight, "score_network")
        ties_only = centrality.CompactGraph(cg.ids, cg.src, cg.dst, cg.weight)
        k = _betweenness_sources("auto", cg.n_nodes)
        network_of = worker.submit(
            _communities_and_betweenness, ties_only, community_method, resolution, seed, k
        )
        del cg, ties_only
        measures = centrality.provider_measures(G, weight=weight, seed=seed, betweenness_k=0)
    else:
        measures = centrality.provider_measures(G, weight=weight, seed=seed)
    ties = strength.tie_strength(
        net.ties, panel=net.panel, providers=net.providers, weights=strength_weights
    )
    focus_tables: dict[str, pd.DataFrame] = {}
    if focus is not None or focus_ids is not None:
        ids = leakage.resolve_focus(net.providers, focus=focus, focus_ids=focus_ids)
        market = leakage.focus_market(net.ties, net.providers, ids)  # once, for every table
        # key_referrers reads the measures' pagerank and hub: betweenness is not needed
        focus_tables["key_referrers"] = leakage.key_referrers(
            net.ties,
            net.providers,
            ids,
            panel=net.panel,
            measures=measures,
            strength=ties,
            market=market,
        )
        focus_tables["share_of_wallet"] = leakage.share_of_wallet(
            net.ties, net.providers, ids, loyal_threshold=loyal_threshold, market=market
        )
        focus_tables["share_by_specialty"] = leakage.share_of_wallet_by_specialty(
            net.ties, net.providers, ids, market=market
        )
        for by in ("specialty", "referrer_organization", "competitor"):
            focus_tables[f"leakage_by_{by}"] = leakage.leakage_summary(
                net.ties, net.providers, ids, by=by, market=market
            )
    attrs = net.providers.drop(
        columns=[c for c in net.providers.columns if c in measures.columns and c != "id"]
    )
    if meanwhile is not None:
        so_far = attrs.merge(measures, on="id", how="right")  # the rows of `providers` below
        so_far.attrs["link_weight"] = weight
        meanwhile({"providers": so_far, "ties": ties, **focus_tables})
        del so_far
    if network_of is not None:
        labels, measures["betweenness"], measures["betweenness_stderr"] = network_of()
    else:
        labels = communities.detect_communities(
            G,
            method=community_method,  # type: ignore[arg-type]
            weight=weight,
            resolution=resolution,
            seed=seed,
        )
    measures["community"] = measures["id"].map(labels).astype("Int64")
    providers = attrs.merge(measures, on="id", how="right")
    providers.attrs["link_weight"] = weight  # what its link-analysis scores weighed
    tables: dict[str, pd.DataFrame] = {
        "providers": providers,
        "ties": ties,
        "communities": communities.community_summary(G, labels, weight=weight),
        **focus_tables,
    }
    logger.info("Scored %s providers and %s ties", f"{len(providers):,}", f"{len(ties):,}")
    return tables
