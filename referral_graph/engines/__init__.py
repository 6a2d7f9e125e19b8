"""Aggregation engines: one interface from referral events to the network's tables.

Every engine turns referral events into the same :class:`EngineResult`: the tie
table, the monthly edge panel, each provider's patient panel and the validation
report, with the same columns, dtypes, order and row rules (tested engine against
engine). One vocabulary names them everywhere (``load_network(engine=...)``, the
CLI's ``--engine``):

============  ==========================================================  ===========
engine        what it does                                                module
============  ==========================================================  ===========
``pandas``    reads the events into pandas, aggregates with group-bys     ``memory``
``duckdb``    reads the events into pandas, aggregates with DuckDB        ``memory``
``files``     reads and checks event files with DuckDB, out of core       ``files``
``spark``     reads and checks event files on Apache Spark                ``spark``
============  ==========================================================  ===========

``auto`` picks one by :func:`resolve`: ``files`` for event files on disk, of any
size (the fastest path, with the in-memory reader's validation report), the
in-memory engines for DataFrames and spreadsheets, and where the events are to be
kept in memory. Where a new engine goes: a module here with
a function returning :class:`EngineResult`, a line in :data:`ENGINES` and a branch
in :func:`aggregate`; the rules every engine shares (paths, CSV dialect, column
roles, date and id checks, the report's wording) are in
:mod:`referral_graph.engines._rules`. Nothing heavy is imported with this package:
each engine's module is imported when it runs (pyspark only for ``spark``).

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({"referring_npi": ["A", "A", "B"], "receiving_npi": ["C", "C", "C"],
...                        "referral_date": ["2024-01-05", "2024-02-07", "2024-02-09"]})
>>> resolve(events)
'pandas'
>>> result = aggregate(events)
>>> result.engine, result.ties["referrals"].tolist(), len(result.panel)
('pandas', [2, 1], 3)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from referral_graph._checks import check_decimal
from referral_graph.exceptions import ParameterError
from referral_graph.validate import ValidationReport

__all__ = [
    "ENGINES",
    "LARGE_EVENT_FILES",
    "PACKED_FACTOR",
    "EngineResult",
    "aggregate",
    "resolve",
]

logger = logging.getLogger(__name__)

PathOrFrame = str | os.PathLike[str] | pd.DataFrame
Events = PathOrFrame | Sequence[str | os.PathLike[str]]
EngineName = Literal["pandas", "duckdb", "files", "spark"]

#: The engines, each with what it reads: in-memory frames, files, or both.
ENGINES: Mapping[str, str] = {
    "pandas": "frames and files (read into memory)",
    "duckdb": "frames and files (read into memory)",
    "files": "files (CSV or Parquet), out of core; auto's choice for event files",
    "spark": "files, or frames for a check of a cluster set-up",
}

#: ``engine="auto"`` with ``keep_events=True`` (the events wanted as a DataFrame) reads an
#: event file into memory below this many bytes, and aggregates it out of core (``"files"``,
#: no events kept) from this size on: read into pandas, events take about 4.5 bytes of
#: memory per byte of CSV (``docs/memory.md``). Compressed and Parquet files count
#: :data:`PACKED_FACTOR` times their size. Without ``keep_events``, event files of any size
#: go out of core (see :func:`resolve`).
LARGE_EVENT_FILES = 1 << 30

#: How many bytes of CSV one byte of a compressed or Parquet file stands for (an estimate).
PACKED_FACTOR = 5

_PACKED_SUFFIXES = (".gz", ".bz2", ".zst", ".xz", ".zip", ".parquet", ".pq")

#: The encodings the ``files`` engine reads (``"auto"`` is UTF-8 there).
_FILES_ENCODINGS = ("auto", "utf-8", "latin-1")


@dataclass
class EngineResult:
    """What every engine returns.

    Attributes
    ----------
    engine : str
        The engine that ran.
    ties : pandas.DataFrame
        One row per (source, target): see :func:`referral_graph.aggregate.tie_table`.
    panel : pandas.DataFrame or None
        One row per (source, target, month); None without dates.
    patients : pandas.Series or None
        Each provider's distinct patients as referrer or receiver, indexed by id
        (see :func:`referral_graph.aggregate.provider_patients`); None without
        patient ids.
    report : ValidationReport
        Every problem found in the events, counted by reason.
    period : tuple of pandas.Timestamp or None
        First and last event dates.
    events : pandas.DataFrame or None
        The validated events, from the in-memory engines when asked to keep them.
    """

    engine: str
    ties: pd.DataFrame
    panel: pd.DataFrame | None
    patients: pd.Series | None
    report: ValidationReport
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    events: pd.DataFrame | None = field(default=None, repr=False)


def resolve(
    events: PathOrFrame,
    engine: str = "auto",
    *,
    keep_events: bool = False,
    encoding: str = "auto",
) -> EngineName:
    """The engine that runs for `events`: `engine` itself, checked, or the ``auto`` choice.

    ``auto``:

    * a DataFrame below :data:`referral_graph.aggregate.SMALL_FRAME_ROWS` rows goes
      to ``pandas``, a larger one to ``duckdb``;
    * a spreadsheet workbook is read into memory (``duckdb``): a sheet holds at most
      1,048,576 rows;
    * an event file on disk (CSV, compressed CSV, Parquet), or a folder of Parquet
      files, of any size, goes to ``files``: DuckDB reads it straight from disk, the
      fastest path (on the 50,000-provider market, 1.1-1.3 times a bare DuckDB query,
      against 1.45-1.6 times for reading it into pandas first), and its validation
      report gives the in-memory reader's row numbers and examples. The in-memory
      reader (``duckdb``) still reads the file where it is needed:

      - with ``keep_events=True``: only the in-memory engines give the validated
        events as a DataFrame (:attr:`EngineResult.events`), so the file is read into
        memory, unless its CSV-equivalent size reaches :data:`LARGE_EVENT_FILES`
        (then ``files``, and no events are kept);
      - with an `encoding` other than ``"auto"``, ``"utf-8"`` or ``"latin-1"``, or a
        ``.bz2`` file: the ``files`` engine reads UTF-8 and Latin-1 text, plain or
        compressed with gzip or zstd;
      - a Parquet file with a time-zone-aware timestamp column: read in memory, its
        dates are those of its own zone (DuckDB gives UTC);
      - a path that does not exist (the in-memory reader says so).

      :func:`aggregate` also reads a file in memory after all when, with
      ``encoding="auto"``, the ``files`` engine finds text that is not UTF-8 (the
      in-memory reader falls back to cp1252, and reads UTF-16).

    ``spark`` is never chosen by ``auto``.

    Examples
    --------
    >>> resolve(pd.DataFrame({"source": ["A"], "target": ["B"]}))
    'pandas'
    >>> resolve("no_such_file.csv", "files")
    'files'
    """
    if engine not in ("auto", *ENGINES):
        raise ParameterError(
            "The 'engine' parameter must be one of 'auto', "
            + ", ".join(repr(e) for e in ENGINES)
            + f". Got {engine!r} instead."
        )
    if isinstance(events, pd.DataFrame):
        if engine == "files":
            raise ParameterError(
                "The engine 'files' reads event files; give a path (or use 'duckdb')."
            )
        if engine == "auto":
            from referral_graph.engines.memory import resolve_engine

            return resolve_engine(events, "auto")  # type: ignore[return-value]
        return engine  # type: ignore[return-value]
    from referral_graph.io._workbooks import is_workbook

    if is_workbook(events):
        if engine in ("files", "spark"):
            raise ParameterError(
                f"The engine {engine!r} reads CSV and Parquet files; {os.fspath(events)} is a "
                "spreadsheet workbook. Use the engine 'auto' or 'duckdb' (a sheet holds at most "
                "1,048,576 rows, which fit in memory), or save the sheet as CSV."
            )
        return "duckdb" if engine == "auto" else engine  # type: ignore[return-value]
    if engine != "auto":
        return engine  # type: ignore[return-value]
    path = os.fspath(events)
    if os.path.isdir(path):
        return "files"  # a folder of Parquet files: only the out-of-core engines read one
    try:
        size = os.path.getsize(path)
    except OSError:
        return "duckdb"  # the reader reports the missing file
    lower = path.lower()
    if keep_events:
        size *= PACKED_FACTOR if lower.endswith(_PACKED_SUFFIXES) else 1
        if size < LARGE_EVENT_FILES:
            return "duckdb"
        logger.info(
            "engine auto: %s is large (%.1f GB as CSV); aggregating out of core (files), "
            "the events are not kept",
            path,
            size / 1e9,
        )
        return "files"
    if encoding not in _FILES_ENCODINGS or lower.endswith(".bz2"):
        return "duckdb"
    if lower.endswith((".parquet", ".pq")) and _zoned_timestamps(path):
        logger.info(
            "engine auto: %s has time-zone-aware timestamps; read in memory (duckdb), in "
            "their own zone",
            path,
        )
        return "duckdb"
    return "files"


def _zoned_timestamps(path: str) -> bool:
    """Whether a Parquet file has a time-zone-aware timestamp column (False if unreadable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:  # not Parquet after all: the engine reports it
        return False
    return any(pa.types.is_timestamp(f.type) and f.type.tz is not None for f in schema)


def aggregate(
    events: Events,
    *,
    engine: str = "auto",
    providers: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
    npi: bool | Literal["auto"] = "auto",
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | int | None = None,
    decimal: str = ".",
    strict: bool = False,
    keep_events: bool = False,
    memory_limit: str = "8GB",
    temp_directory: str | os.PathLike[str] | None = None,
    spark_master: str = "local[2]",
    out_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], Any] | None = None,
    panel: bool = True,
) -> EngineResult:
    """Validate and aggregate referral events with one engine; return its tables.

    Parameters
    ----------
    events : path, sequence of paths or DataFrame
        An event file (CSV or Parquet; the ``files`` and ``spark`` engines also
        take several files, globs and folders of Parquet files) or a DataFrame
        with the file's columns.
    engine : {"auto", "pandas", "duckdb", "files", "spark"}
        See :func:`resolve`.
    providers : pandas.DataFrame, optional
        The providers (from :func:`referral_graph.io.read_providers`): event ids
        absent from it are reported.
    columns : dict, optional
        Column names, as the keyword arguments of
        :func:`referral_graph.io.read_events` (``source_col=``, ``date_col=``, ...).
    date_format, npi, encoding, delimiter, sheet, decimal, strict
        As in :func:`referral_graph.io.read_events` (`decimal` is read by every engine
        but ``spark``, which refuses ``","``; the out-of-core engines read
        UTF-8, or Latin-1 when told; spreadsheet workbooks are read in memory; with
        ``engine="auto"`` and ``encoding="auto"``, a file that is not UTF-8 is read
        in memory, which falls back to cp1252).
    keep_events : bool, default False
        Keep the validated events in the result (in-memory engines only: with
        ``engine="auto"``, an event file is then read into memory, see :func:`resolve`).
    memory_limit, temp_directory
        DuckDB's memory limit and spill folder (``files``).
    spark_master : str, default "local[2]"
        Spark master when no session is active (``spark``).
    out_dir : path, optional
        Where the ``files`` engine keeps its Parquet tables (``panel.parquet``,
        ``ties.parquet``, ``patients.parquet``, ``validation.csv``); by default
        they are passed on in memory, nothing written.
    progress : callable, optional
        Called with the name of each step as it starts.
    panel : bool, default True
        Give the monthly panel; False gives None instead (``files``: it is not
        even made, the ties being summed over its rows all the same), for what
        needs only the ties (a graph file).

    Returns
    -------
    EngineResult
        The tie table, panel, patient panels and validation report.
    """
    if isinstance(events, str | os.PathLike | pd.DataFrame):
        name = resolve(events, engine, keep_events=keep_events, encoding=encoding)
    elif engine in ("files", "spark"):
        name = engine  # type: ignore[assignment]
    else:
        raise ParameterError(
            f"Several event files are read by the 'files' or 'spark' engine. Got {engine!r}."
        )
    step = progress or (lambda _: None)
    options: dict[str, Any] = dict(columns or {})
    reading: dict[str, Any] = dict(
        date_format=date_format,
        delimiter=delimiter,
        encoding="utf-8" if encoding == "auto" else encoding,
    )
    if check_decimal(decimal, "aggregate") != ".":
        reading["decimal"] = decimal  # the spark engine refuses it
    if name == "files" and sheet is not None:  # as the in-memory reader says of a CSV file
        assert not isinstance(events, pd.DataFrame)  # resolve refuses a frame for 'files'
        first = events if isinstance(events, str | os.PathLike) else next(iter(events))
        raise ParameterError(
            f"The 'sheet' parameter is for spreadsheet workbooks; {os.fspath(first)} is not one."
        )
    if name == "files" and not isinstance(events, pd.DataFrame):
        from referral_graph.engines._rules import NotUtf8Error

        try:
            return _aggregate_files(
                events,
                providers=providers,
                npi=npi,
                strict=strict,
                memory_limit=memory_limit,
                temp_directory=temp_directory,
                progress=progress,
                options={**options, **reading},
                out_dir=out_dir,
                panel=panel,
            )
        except NotUtf8Error as exc:
            if engine != "auto" or encoding != "auto":
                raise
            # the in-memory reader reads cp1252 (with a note) and UTF-16
            logger.info("engine auto: %s Reading it in memory (duckdb).", exc)
            name = "duckdb"
    if name == "spark" and not isinstance(events, pd.DataFrame):
        from referral_graph.engines._rules import panels_of
        from referral_graph.engines.spark import aggregate_spark

        if reading.pop("decimal", ".") != ".":
            raise ParameterError(
                "The spark engine does not read decimal commas (decimal=','); use the "
                "'files' or 'duckdb' engine (CLI: --engine files), or write the amounts "
                "with a decimal point."
            )

        step("aggregating with Spark")
        spark = aggregate_spark(
            events, master=spark_master, npi=npi, providers=providers, strict=strict,
            progress=progress, **options, **reading,
        )  # fmt: skip
        assert spark.ties is not None
        ties = spark.ties
        ties.attrs["name"] = spark.report.name
        return EngineResult(
            engine=name,
            ties=ties,
            panel=spark.panel if panel else None,
            patients=panels_of(spark.patients) if spark.patients is not None else None,
            report=spark.report,
            period=(
                (pd.Timestamp(ties["first_date"].min()), pd.Timestamp(ties["last_date"].max()))
                if "first_date" in ties and len(ties)
                else None
            ),
        )
    from referral_graph import io
    from referral_graph.engines import memory

    assert isinstance(events, str | os.PathLike | pd.DataFrame)
    step("reading events")
    ev = io.read_events(
        events,
        date_format=date_format,
        npi=npi,
        providers=providers,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        decimal=decimal,
        strict=strict,
        **options,
    )
    step("aggregating")
    ties, monthly = memory.aggregate_events(ev, engine=name)  # type: ignore[arg-type]
    ties.attrs["name"] = ev.attrs.get("name")
    return EngineResult(
        engine=name,
        ties=ties,
        panel=monthly if panel else None,
        patients=memory.provider_patients(ev) if "patient_key" in ev.columns else None,
        report=ev.attrs["report"],
        period=memory.period_of(ev),
        events=ev if keep_events else None,
    )


def _aggregate_files(
    events: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    providers: pd.DataFrame | None,
    npi: bool | Literal["auto"],
    strict: bool,
    memory_limit: str,
    temp_directory: str | os.PathLike[str] | None,
    progress: Callable[[str], Any] | None,
    options: dict[str, Any],
    out_dir: str | os.PathLike[str] | None,
    panel: bool = True,
) -> EngineResult:
    """The ``files`` engine, its tables in memory (or written into `out_dir` and read back)."""
    from referral_graph.engines._rules import panels_of, read_output
    from referral_graph.engines.files import aggregate_files

    done = aggregate_files(
        events,
        out_dir,
        memory_limit=memory_limit,
        temp_directory=temp_directory,
        npi=npi,
        providers=providers,
        strict=strict,
        progress=progress,
        panel=panel,
        **options,
    )
    if out_dir is None:
        tables: dict[str, pd.DataFrame] = done.frames
    else:
        tables = {k: read_output(p) for k, p in done.paths.items() if k in ("ties", "panel")}
        if "patients" in done.paths:
            tables["patients"] = pd.read_parquet(done.paths["patients"])
    ties = tables["ties"]
    ties.attrs["name"] = done.report.name
    return EngineResult(
        engine="files",
        ties=ties,
        panel=tables.get("panel"),
        patients=panels_of(tables["patients"]) if "patients" in tables else None,
        report=done.report,
        period=done.period,
    )
