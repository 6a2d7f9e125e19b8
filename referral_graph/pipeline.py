"""One call from input files to the referral graph.

:func:`load_network` chains the pipeline's first steps (read and validate,
aggregate, build) and keeps every intermediate table, so that later steps
(scores, at-risk ties, views, the report) and the command line start from
the same place. Each step remains a public function of its own module.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({"referring_npi": ["A", "A", "B"], "receiving_npi": ["C", "C", "C"],
...                        "referral_date": ["2024-01-05", "2024-02-07", "2024-02-09"]})
>>> net = load_network(events=events)
>>> net.graph.number_of_edges(), net.panel["referrals"].sum(), net.has_dates
(2, np.int64(3), True)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from referral_graph import engines, graph, io
from referral_graph.exceptions import InsufficientDataError, ParameterError
from referral_graph.validate import ValidationReport

if TYPE_CHECKING:
    from referral_graph._compact import CompactGraph

__all__ = [
    "LARGE_EVENT_FILES",
    "ReferralNetwork",
    "auto_engine",
    "load_network",
    "load_network_files",
    "providers_of",
]

logger = logging.getLogger(__name__)

#: Importable here as before: see :data:`referral_graph.engines.LARGE_EVENT_FILES` (the size
#: from which ``load_network(keep_events=True)`` aggregates event files out of core).
LARGE_EVENT_FILES = engines.LARGE_EVENT_FILES

PathOrFrame = str | os.PathLike[str] | pd.DataFrame
PathLike = str | os.PathLike[str]


class ReferralNetwork:
    """The tables and graph of one referral network.

    Parameters
    ----------
    graph : networkx.DiGraph, optional
        The referral graph; when omitted it is built from `ties` and
        `providers` on first use of :attr:`graph`.
    ties, providers, panel, events, reports, source_kind
        See the attributes.
    period : tuple of Timestamp, optional
        First and last dates of the data, when `graph` is not given (else
        read from the graph's ``period_start`` / ``period_end``).

    Attributes
    ----------
    ties : pandas.DataFrame
        One row per (source, target).
    providers : pandas.DataFrame
        One row per provider (``id`` at least; built from the ties when no
        providers table was given).
    panel : pandas.DataFrame or None
        One row per (source, target, month); None without dates.
    events : pandas.DataFrame or None
        The validated events (patient ids already replaced by codes); None
        when the input was an aggregated edge file.
    reports : list of ValidationReport
        One per input table.
    source_kind : {"events", "edges"}
        What the input was.

    Notes
    -----
    Scores, at-risk ties and the report work from the tables and
    :meth:`compact`; the networkx graph (about 700 bytes per tie) is built only
    when something asks for :attr:`graph` (views, graph files, your own
    networkx calls), so that large markets are scored without it.
    """

    def __init__(
        self,
        graph: nx.DiGraph | None = None,
        ties: pd.DataFrame | None = None,
        providers: pd.DataFrame | None = None,
        panel: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
        reports: list[ValidationReport] | None = None,
        source_kind: Literal["events", "edges"] = "events",
        *,
        period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    ) -> None:
        self._graph = graph
        self.ties = ties if ties is not None else pd.DataFrame({"source": [], "target": []})
        self.providers = providers if providers is not None else pd.DataFrame({"id": []})
        self.panel = panel
        self.events = events
        self.reports = list(reports or [])
        self.source_kind = source_kind
        self._period = period
        self._compact: dict[str | None, CompactGraph] = {}

    def __repr__(self) -> str:
        return (
            f"ReferralNetwork({len(self.providers):,} providers, {len(self.ties):,} ties, "
            f"source_kind={self.source_kind!r}, dated={self.has_dates}, "
            f"graph {'built' if self._graph is not None else 'not built'})"
        )

    @property
    def graph(self) -> nx.DiGraph:
        """The referral graph (:func:`~referral_graph.graph.graph_from_tables`), built on use."""
        if self._graph is None:
            self._graph = graph.graph_from_tables(self.ties, self.providers, period=self._period)
        return self._graph

    @graph.setter
    def graph(self, value: nx.DiGraph) -> None:
        self._graph = value

    @property
    def graph_built(self) -> bool:
        """Whether :attr:`graph` has been built (or given)."""
        return self._graph is not None

    def compact(self, weight: str | None = "referrals") -> CompactGraph:
        """The graph as arrays (:meth:`CompactGraph.from_tables`), cached per `weight`.

        Built from :attr:`ties` and :attr:`providers` without networkx: the same
        nodes, ties and attributes as :attr:`graph` (tested), for the measures
        of :mod:`referral_graph.centrality` and :mod:`referral_graph.communities`.

        Examples
        --------
        >>> ties = pd.DataFrame({"source": ["A"], "target": ["B"], "referrals": [3]})
        >>> net = ReferralNetwork(ties=ties, providers=pd.DataFrame({"id": ["A", "B"]}))
        >>> net.compact().weight.tolist(), net.graph_built
        ([3.0], False)
        """
        from referral_graph._compact import CompactGraph

        if weight not in self._compact:
            self._compact[weight] = CompactGraph.from_tables(
                self.ties, self.providers, weight=weight
            )
        return self._compact[weight]

    def size(self) -> tuple[int, int]:
        """How many providers and ties :attr:`graph` has, without building it.

        From the graph or the compact graph when one is built; else counted from the
        tables: the distinct ids of the providers and the ties, and the distinct
        (source, target) pairs (a panel's months are one tie), which are the graph's
        (tested against it).

        Examples
        --------
        >>> ties = pd.DataFrame({"source": ["A", "A"], "target": ["B", "C"]})
        >>> ReferralNetwork(ties=ties, providers=pd.DataFrame({"id": ["D"]})).size()
        (4, 2)
        """
        if self._graph is not None:
            return self._graph.number_of_nodes(), self._graph.number_of_edges()
        if self._compact:
            cg = next(iter(self._compact.values()))
            return cg.n_nodes, cg.n_edges
        ids = [self.providers["id"], self.ties["source"], self.ties["target"]]
        text = [x.astype("str") for x in ids]
        if any(x.isna().any() for x in text):  # the compact graph says what is wrong
            cg = self.compact()
            return cg.n_nodes, cg.n_edges
        codes, uniques = pd.factorize(pd.concat(text, ignore_index=True))
        ends = codes[len(text[0]) :].astype(np.int64)
        n_ties = len(self.ties)
        pairs = pd.unique(ends[:n_ties] * len(uniques) + ends[n_ties:])
        return len(uniques), len(pairs)

    @property
    def has_dates(self) -> bool:
        """Whether the data has dates (a monthly panel)."""
        return self.panel is not None

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last dates of the data, or None."""
        if self._graph is None:
            return self._period if self._period is not None else graph.period_of_ties(self.ties)
        start, end = self._graph.graph.get("period_start"), self._graph.graph.get("period_end")
        if start is None or end is None:
            return None
        return pd.Timestamp(start), pd.Timestamp(end)

    def require_dates(self, what: str) -> pd.DataFrame:
        """Return the panel, or raise InsufficientDataError naming `what` needs dates.

        Examples
        --------
        >>> ReferralNetwork(nx.DiGraph(), pd.DataFrame(), pd.DataFrame()).require_dates("trend")
        Traceback (most recent call last):
        ...
        referral_graph.exceptions.InsufficientDataError: trend needs dated referrals ...
        """
        if self.panel is None:
            raise InsufficientDataError(
                f"{what} needs dated referrals (events with a date column, or an edge file with "
                "a period column); this data has none."
            )
        return self.panel


def _note_not_in_registry(providers: pd.DataFrame, ids: pd.Series) -> None:
    """Report the network's providers that the NPPES file does not hold."""
    absent = ids[~ids.isin(providers["id"])]
    if len(absent):
        report: ValidationReport = providers.attrs["report"]
        report.add(
            "not_in_nppes",
            f"{len(absent):,} of the network's {len(ids):,} providers are not in the NPPES "
            "file; they are shown by id",
            count=0,
            examples=absent.head(3),
            hint="check that the ids are NPIs and that the NPPES file is the full download",
        )


def _with_patient_panels(providers: pd.DataFrame | None, panels: pd.Series) -> pd.DataFrame:
    """The providers table with each provider's distinct patients (``patients``)."""
    if providers is None:
        return pd.DataFrame({"id": panels.index.astype("str"), "patients": panels.to_numpy()})
    if "patients" in providers.columns:
        logger.info("providers already have a 'patients' column; patient panels not added")
        return providers
    out = providers.copy()
    out["patients"] = out["id"].map(panels).astype("Int64")
    missing = panels.index.difference(pd.Index(out["id"]))
    if len(missing):  # providers seen in the events but absent from the table
        extra = pd.DataFrame({"id": missing.astype("str"), "patients": panels[missing].to_numpy()})
        out = pd.concat([out, extra.astype({"patients": "Int64"})], ignore_index=True)
    return out


def auto_engine(
    events: PathOrFrame, *, keep_events: bool = True, encoding: str = "auto"
) -> Literal["duckdb", "pandas", "files"]:
    """The engine ``load_network(engine="auto")`` uses for `events`, with these options.

    See :func:`referral_graph.engines.resolve`: an event file goes out of core
    (``files``), unless the validated events are to be kept in memory
    (``keep_events=True``, :func:`load_network`'s default) and the file is below
    :data:`LARGE_EVENT_FILES`.

    Examples
    --------
    >>> auto_engine(pd.DataFrame({"source": ["A"], "target": ["B"]}))
    'pandas'
    """
    chosen = engines.resolve(events, "auto", keep_events=keep_events, encoding=encoding)
    return chosen  # type: ignore[return-value]


def load_network(
    *,
    events: PathOrFrame | None = None,
    edges: PathOrFrame | None = None,
    providers: PathOrFrame | None = None,
    taxonomy: PathOrFrame | None = None,
    layout: Literal["auto", "generic", "cms-pspp", "hop-teaming"] = "auto",
    providers_layout: Literal["auto", "generic", "nppes"] = "auto",
    columns: dict[str, str] | None = None,
    provider_columns: dict[str, str] | None = None,
    date_format: str | None = None,
    npi: bool | Literal["auto"] = "auto",
    engine: Literal["auto", "duckdb", "pandas", "files", "spark"] = "auto",
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | int | None = None,
    decimal: str = ".",
    strict: bool = False,
    progress: Callable[[str], Any] | None = None,
    keep_events: bool = True,
    memory_limit: str = "8GB",
    temp_directory: str | os.PathLike[str] | None = None,
    spark_master: str = "local[2]",
    store: str | os.PathLike[str] | None = None,
    panel: bool = True,
) -> ReferralNetwork:
    """Read, validate, aggregate and build a referral network.

    Parameters
    ----------
    events : path or DataFrame, optional
        Referral events (see :func:`referral_graph.io.read_events`).
    edges : path or DataFrame, optional
        Aggregated edges (see :func:`referral_graph.io.read_edges`). Give
        exactly one of `events`, `edges` and `store`.
    providers : path or DataFrame, optional
        Providers (see :func:`referral_graph.io.read_providers`).
    taxonomy : path or DataFrame, optional
        A NUCC taxonomy code set for specialty labels.
    layout : str
        Layout of `edges`.
    providers_layout : {"auto", "generic", "nppes"}
        Layout of `providers`: ``"nppes"`` (or detected from the header) reads
        the CMS NPPES file after the network is built, for the network's
        providers only (see :func:`referral_graph.io.read_providers`).
    columns : dict, optional
        Keyword arguments for the events / edges reader naming columns, e.g.
        ``{"source_col": "from", "date_col": "when"}``.
    provider_columns : dict, optional
        The same for the providers reader (``id_col``, ``name_col``, ...).
    date_format, npi, encoding, delimiter, sheet, decimal, strict
        Passed to the readers (`sheet` picks the sheet of every spreadsheet
        workbook given; ``decimal=","`` reads numbers written ``1.850,00``, see
        :func:`referral_graph.io.read_events`).
    engine : {"auto", "duckdb", "pandas", "files", "spark"}
        Aggregation engine. ``"auto"``: see :func:`auto_engine` and
        :func:`referral_graph.engines.resolve`: an event file goes out of core
        (``"files"``, the fastest path, with the same validation report) unless the
        events are to be kept (`keep_events`). ``"files"``: event files are validated
        and aggregated out of core by DuckDB (:func:`load_network_files`), never held
        in pandas; ``"spark"``: by Spark (:func:`referral_graph.spark.aggregate_spark`).
        With both, ``events`` of the result is None.
    keep_events : bool, default True
        Keep the validated events in the result (``net.events``). Only the in-memory
        engines hold them, so with ``engine="auto"`` an event file below
        :data:`LARGE_EVENT_FILES` is then read into memory (``duckdb``); pass ``False``
        to aggregate it out of core, faster (as the command line does; it also frees
        ~110 bytes per event).
    memory_limit, temp_directory : optional
        DuckDB's memory limit and spill folder (``engine="files"``).
    spark_master : str, default "local[2]"
        Spark master when no session is active (``engine="spark"``).
    progress : callable, optional
        Called with the name of each step as it starts (the CLI's progress bar).
    store : path, optional
        A referral store (:mod:`referral_graph.store`) instead of `events`: its
        tables are read as they are, up to date with its loads; the same network
        as aggregating every loaded file at once.
    panel : bool, default True
        Keep the monthly panel (``net.panel``). False leaves it out (None, so
        that :attr:`ReferralNetwork.has_dates` is False, though the ties keep
        their dates and :attr:`ReferralNetwork.period` the data's): the ``files``
        engine then does not even make it, for what needs only the graph
        (``referral-graph build``).

    Returns
    -------
    ReferralNetwork
        The graph, its tables and the validation reports.
    """
    if sum(x is not None for x in (events, edges, store)) != 1:
        raise ParameterError("Give exactly one of 'events', 'edges' and 'store'.")
    step = progress or (lambda name: None)
    columns = dict(columns or {})
    reports: list[ValidationReport] = []
    prov: pd.DataFrame | None = None
    provider_options: dict[str, Any] = dict(
        taxonomy=taxonomy,
        npi=npi,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        decimal=decimal,
        strict=strict,
        **(provider_columns or {}),
    )
    # The NPPES file (9 million rows) is read after the network, for its providers only.
    nppes = providers is not None and (
        providers_layout == "nppes"
        or (providers_layout == "auto" and io.providers_layout(providers) == "nppes")
    )
    if providers is not None and not nppes:
        step("reading providers")
        prov = io.read_providers(providers, layout=providers_layout, **provider_options)
        reports.append(prov.attrs["report"])
    monthly: pd.DataFrame | None = None
    ev: pd.DataFrame | None = None
    if store is not None:
        from referral_graph.store import open_store

        step("reading the store")
        with open_store(store, read_only=True) as opened:
            result = opened.result()
        ties, monthly, ev, period = result.ties, result.panel, None, result.period
        reports.insert(0, result.report)
        patients = result.patients
        kind: Literal["events", "edges"] = "events"
    elif events is not None:
        result = engines.aggregate(
            events,
            engine=engine,
            providers=prov,
            columns=columns,
            date_format=date_format,
            npi=npi,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
            decimal=decimal,
            strict=strict,
            keep_events=keep_events,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            spark_master=spark_master,
            progress=progress,
            panel=panel,
        )
        ties, monthly, ev, period = result.ties, result.panel, result.events, result.period
        reports.insert(0, result.report)
        patients = result.patients
        kind = "events"
    else:
        assert edges is not None
        step("reading edges")
        table = io.read_edges(
            edges,
            layout=layout,
            npi=npi,
            providers=prov,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
            decimal=decimal,
            strict=strict,
            **columns,
        )
        reports.insert(0, table.attrs["report"])
        if "month" in table.columns:
            monthly = table[
                ["source", "target", "month", "referrals"]
                + (["patients"] if "patients" in table else [])
            ].copy()
            period = (
                pd.Timestamp(monthly["month"].min()),
                pd.Timestamp(monthly["month"].max()) + pd.offsets.MonthEnd(0),
            )
        else:
            period = None
        ties = table
        patients = None
        kind = "edges"
    # rows read but none left (every row excluded): one error with the reasons, not a
    # network of nothing that fails later
    reports[0].raise_if_nothing_left(len(ties))
    if nppes:
        assert providers is not None
        step("reading providers (NPPES)")
        ids = providers_of(ties)["id"]
        prov = io.read_providers(providers, layout="nppes", ids=ids, **provider_options)
        _note_not_in_registry(prov, ids)
        reports.append(prov.attrs["report"])
    if patients is not None:
        prov = _with_patient_panels(prov, patients)
    if prov is None:
        prov = providers_of(ties)
    return ReferralNetwork(
        ties=ties,
        providers=prov,
        panel=monthly if panel else None,
        events=ev,
        reports=reports,
        source_kind=kind,
        period=period,
    )


def providers_of(ties: pd.DataFrame) -> pd.DataFrame:
    """A providers table of the ids in `ties` (``id`` only), in the graph's node order.

    Examples
    --------
    >>> providers_of(pd.DataFrame({"source": ["B", "A"], "target": ["C", "B"]}))["id"].tolist()
    ['B', 'C', 'A']
    """
    both = np.empty(2 * len(ties), dtype=object)
    both[0::2] = ties["source"].astype("str").to_numpy(dtype=object)
    both[1::2] = ties["target"].astype("str").to_numpy(dtype=object)
    return pd.DataFrame({"id": pd.Series(pd.unique(both), dtype="str")})


def load_network_files(
    events_paths: PathLike | Sequence[PathLike],
    *,
    providers: PathLike | pd.DataFrame | None = None,
    taxonomy: PathLike | pd.DataFrame | None = None,
    out_dir: PathLike | None = None,
    memory_limit: str = "8GB",
    temp_directory: PathLike | None = None,
    npi: bool | Literal["auto"] = "auto",
    strict: bool = False,
    progress: Callable[[str], Any] | None = None,
    **columns: Any,
) -> ReferralNetwork:
    """:func:`referral_graph.pipeline.load_network` for event files, out of core.

    The events are validated and aggregated by the ``files`` engine
    (:func:`referral_graph.engines.files.aggregate_files`) and never
    held in pandas; the panel and tie table come back as DataFrames (read back
    from Parquet when `out_dir` is given) and the graph is built from the ties,
    so every later step (scores, at-risk ties, the report) runs unchanged.
    ``events`` of the result is None.

    Parameters
    ----------
    events_paths : path, glob or sequence of paths
        As in :func:`referral_graph.engines.files.aggregate_files`.
    providers, taxonomy : path or DataFrame, optional
        As in :func:`~referral_graph.pipeline.load_network`.
    out_dir : path, optional
        Where the Parquet tables are kept; none are written by default.
    memory_limit, temp_directory, npi, strict, progress
        As in :func:`referral_graph.engines.files.aggregate_files`.
    **columns
        Column names and reading options of
        :func:`referral_graph.engines.files.aggregate_files`
        (``source_col=``, ``date_format=``, ``encoding=``, ...).

    Returns
    -------
    ReferralNetwork
        The graph, its tables and the validation reports.

    Examples
    --------
    >>> from referral_graph import datasets
    >>> paths = datasets.sample_paths()
    >>> net = load_network_files(paths["events"], providers=paths["providers"])
    >>> net.events is None, net.graph.number_of_edges() == len(net.ties)
    (True, True)
    """
    step = progress or (lambda name: None)
    prov: pd.DataFrame | None = None
    reports: list[ValidationReport] = []
    if providers is not None:
        step("reading providers")
        prov = (
            providers
            if isinstance(providers, pd.DataFrame)
            else io.read_providers(providers, taxonomy=taxonomy, npi=npi, strict=strict)
        )
        if "report" in prov.attrs:
            reports.append(prov.attrs["report"])
    reading = {
        k: columns.pop(k)
        for k in ("date_format", "encoding", "delimiter", "decimal")
        if k in columns
    }
    result = engines.aggregate(
        events_paths,
        engine="files",
        providers=prov,
        columns=columns,
        npi=npi,
        strict=strict,
        memory_limit=memory_limit,
        temp_directory=temp_directory,
        out_dir=out_dir,
        progress=progress,
        **reading,
    )
    reports.insert(0, result.report)
    result.report.raise_if_nothing_left(len(result.ties))
    if result.patients is not None:
        prov = _with_patient_panels(prov, result.patients)
    return ReferralNetwork(
        ties=result.ties,
        providers=prov if prov is not None else providers_of(result.ties),
        panel=result.panel,
        events=None,
        reports=reports,
        source_kind="events",
        period=result.period,
    )
