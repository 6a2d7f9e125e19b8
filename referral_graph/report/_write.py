"""Writing the report: the tables (in the background), the views and the page, into a new
folder that replaces the output folder whole (``io._folders.atomic_folder``)."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from referral_graph import _worker
from referral_graph._report_at_risk import at_risk_tables
from referral_graph.io import atomic_path
from referral_graph.io._folders import atomic_folder
from referral_graph.pipeline import ReferralNetwork
from referral_graph.privacy import (
    DEFAULT_THRESHOLD,
    count_columns,
    describe_suppression,
    small_cells,
)
from referral_graph.report._model import Report
from referral_graph.report._page import render_html
from referral_graph.report._profile_page import Drawn, drawn_before, write_profiles
from referral_graph.report._tables import _build_report, _require_focus
from referral_graph.report._views import VIEWS, _view_options, _write_views
from referral_graph.store import ReportRecord

if TYPE_CHECKING:
    from referral_graph.scores import TablesWritten

#: The package's logger (the messages read as the report's, as before the split).
logger = logging.getLogger(__package__)

T = TypeVar("T")

#: Ties from which :func:`write_report` computes the backtest and the at-risk list in a
#: worker process while it scores the network (starting one costs about three seconds of
#: the other core; the at-risk work takes about 15 s at 770,000 ties). From
#: :data:`referral_graph._worker.WORKER_MIN_TIES` ties the scoring's own worker takes the
#: other core, and a copy of the panel would cost too much memory: they stay here.
AT_RISK_WORKER_MIN_TIES = 200_000

#: The report's subfolders written whole (io._folders.atomic_folder): the profiles of the
#: previous report's lists are not kept beside this one's.
WHOLE = ("profiles",)


def write_report(
    net: ReferralNetwork,
    out_dir: str | os.PathLike[str],
    *,
    focus: str | None = None,
    focus_ids: Iterable[str] | None = None,
    activities: pd.DataFrame | None = None,
    capacity: int = 25,
    horizon: int = 3,
    threshold: int = DEFAULT_THRESHOLD,
    views: bool = True,
    profiles: bool = True,
    seed: int = 0,
    title: str | None = None,
    on_suppression: Callable[[str], Any] | None = None,
    store: str | os.PathLike[str] | None = None,
    graph: bool = False,
) -> Path:
    """Compute and write the report: ``report.html``, ``tables/*.csv``, ``views/*.html``
    and ``profiles/*.html``.

    Returns the path of ``report.html``. The files are written into a new folder
    beside `out_dir` that replaces it in one step once the report is complete: a
    failure, or a process killed at any point, leaves `out_dir` as the previous run
    left it. Files in `out_dir` that the report does not write (your notes) are
    kept, but for the previous report's profiles. With `profiles` (default), a
    profile page per provider on the report's lists (the outreach list, the
    at-risk list's first ties, the first 100 key referrers and 25 prospects;
    :func:`referral_graph.report.profile`) is written to ``profiles/ID.html``,
    sharing one copy of vis-network, and the report's names
    link to them. Counts from 1 to ``threshold - 1`` are suppressed in every table and
    page, with the values that would reveal them. What the tables leave out is said
    on the page, and passed to `on_suppression` (the CLI prints it).

    With `store`, the referral store that `net` was read from
    (:func:`referral_graph.pipeline.load_network` with ``store=``), the report
    opens with what changed since the last report recorded there on the same
    focus before the store's last load that changed its data
    (:meth:`ReferralStore.last_report`,
    :func:`referral_graph.report.what_changed`; table ``changes``), and records
    what it shows once it is written (:meth:`ReferralStore.record_report`). A
    store that another process holds is not recorded in: a warning says so.

    With `graph`, the folder also holds ``referral_graph.graphml``, the graph of
    the network's ties and providers (Gephi, yEd;
    :func:`referral_graph.graph.save_graph_from_tables`), its counts left out as
    ``ties.csv`` leaves them out: the small ones, and those hidden by complementary
    suppression (a graph file written apart, by ``referral-graph build``, leaves
    out the small ones only, and would show the others beside the report's tables).
    """
    from referral_graph._joint import joint_suppression
    from referral_graph.leakage import resolve_focus
    from referral_graph.scores import score_network, write_tables

    target = Path(os.fspath(out_dir))
    _require_focus(focus, focus_ids)
    ids = resolve_focus(net.providers, focus=focus, focus_ids=focus_ids)
    previous, loads_through, folds = _previous_report(store, ids)
    # Everything is written into a new folder that replaces `target` whole at the end.
    with atomic_folder(target, whole=WHOLE) as folder:
        # The backtest and the at-risk list need nothing but the panel: on large networks they
        # run in a worker process while this one scores the network and writes its tables.
        in_worker = AT_RISK_WORKER_MIN_TIES <= len(net.ties) < _worker.WORKER_MIN_TIES
        with _worker.Worker(enabled=in_worker) as worker:
            at_risk_of: Callable[[], Any] | None = (
                worker.submit(
                    at_risk_tables,
                    net.panel,
                    net.providers,
                    ids,
                    capacity=capacity,
                    horizon=horizon,
                    seed=seed,
                    reuse=folds,
                )
                if net.panel is not None
                else None
            )
            with ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="referral_graph_tables"
            ) as pool:
                # The suppression of the score tables that share sums is decided in this
                # thread while the communities are computed (by a worker process on large
                # networks, while this one would wait); then the tables are written (by
                # DuckDB, mostly outside the GIL) while the other sections are computed.
                deciding: list[Future[Any]] = []
                scores = score_network(
                    net,
                    focus_ids=ids,
                    seed=seed,
                    meanwhile=lambda so_far: deciding.append(
                        pool.submit(joint_suppression, so_far, threshold)
                    ),
                )
                decided = threading.Event()
                writing = pool.submit(
                    _write_scores,
                    scores,
                    folder / "tables",
                    deciding=deciding,
                    threshold=threshold,
                    on_decided=decided.set,
                )
                early = _Early()
                if not in_worker and at_risk_of is not None:
                    # computed here: the at-risk work waits for the tables' joint suppression
                    # (1 GB more on 4.7 million ties), their peaks apart (the prospects and
                    # the headline go first meanwhile)
                    at_risk_of = _after(decided, at_risk_of, first=_import_churn)
                elif at_risk_of is not None and (views or profiles):
                    # computed in the worker: what needs no at-risk table is drawn meanwhile
                    early.draw = lambda report: early.before_at_risk(
                        net,
                        report,
                        folder,
                        writing.result(),
                        threshold=threshold,
                        views=views,
                        profiles=profiles,
                    )
                report = _build_report(
                    net,
                    focus=focus,
                    focus_ids=focus_ids,
                    activities=activities,
                    capacity=capacity,
                    horizon=horizon,
                    window=3,
                    seed=seed,
                    title=title,
                    scores=scores,
                    at_risk_of=at_risk_of,
                    previous=previous,
                    threshold=threshold,
                    meanwhile=early.draw,
                )
                _note_changes(report, store)
                first = writing.result()
        if graph:
            _write_graph(net, folder, scores["ties"], first.hidden.get("ties", {}), threshold)
        rest = {name: t for name, t in report.tables.items() if scores.get(name) is not t}
        second = write_tables(
            rest, folder / "tables", threshold=threshold, keep=_PAGE_TABLES, written=first
        )
        _show_as_written(report, {**first.tables, **second.tables}, threshold)
        suppression = describe_suppression([*first.records.values(), *second.records.values()])
        if suppression:
            report.notes["suppression"] = suppression
            if on_suppression is not None:
                on_suppression(suppression)
        # the measures and colours every view draws with, the profiles' too: computed once
        options = early.options or (
            _options_as_written(net, report, first, threshold=threshold) if views else None
        )
        if views:
            late = _write_views(
                net,
                report,
                folder / "views",
                threshold=threshold,
                decided=first.hidden,  # what ties.csv leaves out
                options=options,
                only=None if early.views is None else [v for v in VIEWS if v not in EARLY_VIEWS],
            )
            written = {**(early.views or {}), **late}  # in the page's order
            report.views = dict(
                sorted(written.items(), key=lambda kv: VIEWS.index(Path(kv[1]).stem))
            )
        if profiles:
            report.profiles = write_profiles(
                net,
                report,
                folder / "profiles",
                threshold=threshold,
                decided=first.hidden,  # what ties.csv and share_of_wallet.csv leave out
                activities=activities,
                views=views,
                options=options,
                drawn=early.drawn,
            )
        page = render_html(report, threshold=threshold)
        with atomic_path(folder / "report.html") as tmp:
            tmp.write_text(page, encoding="utf-8")
    path = target / "report.html"
    logger.info("Wrote the report to %s", path)
    if store is not None and report.record is not None:
        _record(store, report, loads_through)
    return path


#: The views that need no at-risk table.
EARLY_VIEWS = ("network", "focus", "ego_top_referrer", "community_0")


class _Early:
    """The views and profile parts drawn before the at-risk tables, while a worker
    process computes them (:meth:`before_at_risk`); all None until then."""

    def __init__(self) -> None:
        self.draw: Callable[[Report], None] | None = None
        self.options: tuple[pd.DataFrame, dict[str, Any]] | None = None
        self.views: dict[str, str] | None = None
        self.drawn: Drawn | None = None

    def before_at_risk(
        self,
        net: ReferralNetwork,
        report: Report,
        folder: Path,
        first: TablesWritten,
        *,
        threshold: int,
        views: bool,
        profiles: bool,
    ) -> None:
        """The views of :data:`EARLY_VIEWS` and the parts of the profiles known so far."""
        options = _options_as_written(net, report, first, threshold=threshold) if views else None
        if views:
            self.views = _write_views(
                net,
                report,
                folder / "views",
                threshold=threshold,
                decided=first.hidden,
                options=options,
                only=EARLY_VIEWS,
            )
        if profiles:
            self.drawn = drawn_before(
                net, report, threshold=threshold, decided=first.hidden, views=views, options=options
            )
        self.options = options


def _write_graph(
    net: ReferralNetwork,
    folder: Path,
    ties: pd.DataFrame,
    hidden: Mapping[str, pd.Series],
    threshold: int,
) -> None:
    """``referral_graph.graphml`` of `net`, without the tie counts that ``ties.csv`` (the
    score table `ties`, its cells `hidden`) leaves out, matched by (source, target)."""
    from referral_graph.graph import save_graph_from_tables

    hide = {}
    pairs = None
    for col, mask in hidden.items():
        rows = mask.to_numpy(dtype=bool)
        if col not in net.ties.columns or not rows.any():
            continue
        if pairs is None:
            pairs = pd.MultiIndex.from_frame(net.ties[["source", "target"]].astype("str"))
        gone = pd.MultiIndex.from_frame(ties.loc[rows, ["source", "target"]].astype("str"))
        hide[col] = pd.Series(pairs.isin(gone), index=net.ties.index)
    save_graph_from_tables(
        net.ties,
        net.providers,
        folder / "referral_graph.graphml",
        threshold=threshold,
        period=net.period,
        hide=hide,
    )


def _write_scores(
    scores: dict[str, pd.DataFrame],
    folder: Path,
    *,
    deciding: list[Future[Any]],
    threshold: int,
    on_decided: Callable[[], None],
) -> TablesWritten:
    """:func:`write_tables` of the score tables, with the joint suppression `deciding`
    computed (or None: decided there); `on_decided` is called whatever happens."""
    from referral_graph.scores import write_tables

    try:
        joint = deciding[0].result() if deciding else None
    except BaseException:
        on_decided()
        raise
    return write_tables(
        scores, folder, threshold=threshold, keep=_PAGE_TABLES, on_decided=on_decided, joint=joint
    )


def _options_as_written(
    net: ReferralNetwork, report: Report, first: TablesWritten, *, threshold: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The measures and options every view and profile draws with (:func:`_view_options`),
    as the score tables were written (`first`): without the counts they hide, with the
    link-analysis scores they show."""
    return _view_options(
        net, report, threshold=threshold, decided=first.hidden, link_scores=first.link_scores
    )


def _after(
    event: threading.Event, func: Callable[[], T], *, first: Callable[[], object] | None = None
) -> Callable[[], T]:
    """`func`, called once `event` is set; `first`, called before waiting for it."""

    def wait_then_call() -> T:
        if first is not None:
            first()
        event.wait()
        return func()

    return wait_then_call


def _import_churn() -> None:
    """Import :mod:`referral_graph.churn` (and scikit-learn): about 1.5 s of this thread,
    spent while it would wait for the tables' suppression rather than after."""
    importlib.import_module("referral_graph.churn")


def _previous_report(
    store: str | os.PathLike[str] | None, ids: list[str]
) -> tuple[ReportRecord | None, int | None, dict[str, str] | None]:
    """The last report recorded in `store` on the focus `ids`, the store's last load that
    changed its data (:meth:`ReferralStore.loads_through`) and the test cutoffs of the
    backtests recorded (:meth:`ReferralStore.backtest_folds`)."""
    if store is None:
        return None, None, None
    from referral_graph.store import open_store

    with open_store(store, read_only=True) as db:
        return db.last_report(focus_ids=ids), db.loads_through(), db.backtest_folds()


def _note_changes(report: Report, store: str | os.PathLike[str] | None) -> None:
    """Why the report has no "Since the last report" rows, when it has none."""
    if "changes" in report.tables or "changes" in report.notes:  # or no dates: said already
        return
    if store is None:
        report.notes["changes"] = (
            "Run the report from a referral store (CLI: --store; Python: write_report(..., "
            "store=...)) to see what changed since the last report: each report run from a "
            "store is recorded there."
        )
    else:
        report.notes["changes"] = (
            "No earlier report on this focus was recorded in the store before its last load "
            "that added data. This one is recorded: the next report, after the next load that "
            "adds data, opens with what changed since."
        )


def _record(store: str | os.PathLike[str], report: Report, loads_through: int | None) -> None:
    """Record what `report` shows in `store` (a warning when another process holds it)."""
    from referral_graph.store import StoreError, open_store

    assert report.record is not None
    report.record.loads_through = loads_through
    try:
        with open_store(store, create=False) as db:
            number = db.record_report(report.record)
    except StoreError as exc:
        logger.warning(
            "The report was written but not recorded in the store (%s); the next report will "
            "compare with the last one recorded.",
            exc,
        )
        return
    logger.info("Recorded the report in %s as report %d", store, number)


#: The tables the page shows cell by cell (the others it shows through their own columns).
_PAGE_TABLES = (
    "key_referrers",
    "leakage_by_specialty",
    "leakage_by_competitor",
    "headline",
    "prospects",
)


def _show_as_written(report: Any, written: dict[str, pd.DataFrame], threshold: int) -> None:
    """Leave out of the page's tables what their files leave out: the counts hidden by
    complementary suppression and the values derived from a hidden count. Small counts
    stay, for the page to write them ``<11``."""
    for name in _PAGE_TABLES:
        raw, safe = report.tables.get(name), written.get(name)
        if raw is None or safe is None or len(raw) != len(safe):
            continue
        shown = raw.copy()
        counts = set(count_columns(raw))
        # a long table (a ``unit`` column) holds counts on its "count" rows
        count_rows = (raw["unit"] == "count").to_numpy() if "unit" in raw.columns else None
        for col in raw.columns:
            if col not in safe.columns or not pd.api.types.is_numeric_dtype(raw[col]):
                continue
            gone = safe[col].isna().to_numpy() & raw[col].notna().to_numpy()
            values = pd.to_numeric(raw[col], errors="coerce")
            small = small_cells(values, threshold=threshold).to_numpy(dtype=bool)
            if count_rows is not None:
                gone &= ~(count_rows & small)
            elif col in counts:
                gone &= ~small
            if gone.any():
                shown[col] = raw[col].astype("float64").mask(gone)
        report.tables[name] = shown
        if getattr(report, name, None) is raw:  # the headline's cards read it there
            setattr(report, name, shown)
