"""``build`` and ``score`` on a large edge file (the CMS national file): out of core (private).

:func:`add_options` gives the two commands their options and runs :func:`build_large` or
:func:`score_large` before the command's own function (``cli.cmd_build``,
``cli.cmd_score``). Each returns None when ``--edges`` is not a large edge file (the
command's in-memory path then runs, unchanged), else runs the out-of-core path and returns
the exit code: the file read by :func:`referral_graph.engines.edge_files.read_edge_files`,
then the graph's Parquet tables (:func:`referral_graph._national.write_graph_folder`) or
the score tables (:func:`referral_graph._national.score_tables`). A GraphML or GEXF file
of a large edge file is refused with one message that names ``--format``, which forces it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referral_graph._cli_text import graph_suppression_note, print_reports, summary
from referral_graph._progress import Progress
from referral_graph.exceptions import ParameterError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("referral_graph.cli")

#: Bytes of a graph file per byte of a CMS edge file as CSV (measured on 20,000 ties, the
#: five counts as attributes: GraphML 6.1, GEXF 11.1; the Parquet folder 0.23), for the size
#: a refused file would have.
FILE_PER_CSV_BYTE = {"graphml": 6, "gexf": 11}
_FORMAT_NAMES = {"graphml": "GraphML", "gexf": "GEXF"}


def add_options(p: argparse.ArgumentParser, command: str) -> None:
    """The out-of-core path of `command` (``"build"`` or ``"score"``) on its parser `p`.

    Adds ``--format`` (build) or ``--betweenness-k`` (score), and makes the command run
    :func:`build_large` / :func:`score_large` first, its own function (the parser's
    ``func`` default, set before) when that returns None.
    """
    own: Callable[[argparse.Namespace], int] = p.get_default("func")
    large = build_large if command == "build" else score_large

    def run(args: argparse.Namespace) -> int:
        code = large(args)
        return own(args) if code is None else code

    run.__doc__ = own.__doc__
    p.set_defaults(func=run)
    if command == "build":
        p.add_argument(
            "--format",
            choices=["auto", "graphml", "gexf", "parquet"],
            default="auto",
            help="the file format; auto (default) follows --out (.graphml, .gexf, or a folder "
            "of Parquet tables), but refuses GraphML and GEXF of an edge file of 256 MB or "
            "more: name the format to write it anyway (in memory)",
        )
    else:
        p.add_argument(
            "--betweenness-k",
            type=int,
            metavar="K",
            help="an edge file of 256 MB or more (scored out of core): betweenness from K "
            "sampled sources, with standard errors (default: not computed there, about 7 s "
            "per source at 65 million ties); smaller inputs sample 256 from 5,000 providers",
        )


def _size(size: float) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _why(args: argparse.Namespace, size: int) -> str:
    """Why the edge file is read out of core, for the messages."""
    if args.engine == "files":
        return f"{args.edges} is read out of core (--engine files; {_size(size)} as CSV)"
    return f"{args.edges} is a large edge file ({_size(size)} as CSV)"


def large_edge_file(args: argparse.Namespace) -> int | None:
    """The CSV size of ``--edges`` when the out-of-core path reads it, else None.

    ``--engine files`` reads any edge file out of core; ``auto`` (the default) one of
    :data:`~referral_graph._national.LARGE_EDGE_FILES` or more; the other engines, a
    spreadsheet, or an encoding other than UTF-8 and Latin-1 keep the in-memory path.
    """
    from referral_graph._national import LARGE_EDGE_FILES, csv_size
    from referral_graph.io._workbooks import WORKBOOK_SUFFIXES, workbook_kind

    edges = getattr(args, "edges", None)
    if edges is None or args.engine not in ("auto", "files"):
        return None
    path = Path(edges)
    if not path.is_file() or path.suffix.lower() in WORKBOOK_SUFFIXES or workbook_kind(path):
        return None
    size = csv_size(path)
    if args.engine == "auto" and size < LARGE_EDGE_FILES:
        return None
    if args.encoding not in ("auto", "utf-8", "latin-1"):
        logger.info("%s: read in memory (the out-of-core reader reads UTF-8 and Latin-1)", edges)
        return None
    return size


def _provider_options(args: argparse.Namespace) -> dict[str, Any]:
    npi = "auto" if args.ids == "auto" else args.ids == "npi"
    options: dict[str, Any] = dict(
        taxonomy=args.taxonomy,
        npi=npi,
        encoding=args.encoding,
        delimiter=None,
        sheet=args.sheet,
        decimal=args.decimal,
        strict=args.strict,
    )
    for key, value in (
        ("id_col", args.provider_id_col),
        ("name_col", args.name_col),
        ("taxonomy_col", args.taxonomy_col),
        ("specialty_col", args.specialty_col),
        ("organization_col", args.organization_col),
    ):
        if value:
            options[key] = value
    return options


def _read(
    args: argparse.Namespace, scratch: Path, progress: Progress
) -> tuple[Any, Any, list[Any]]:
    """Read the edge file out of core, and the providers as ``load_network`` reads them.

    Returns the :class:`EdgeFiles` result, the providers table (or None) and the reports.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    from referral_graph import io
    from referral_graph.engines.edge_files import read_edge_files

    reports: list[Any] = []
    providers: pd.DataFrame | None = None
    options = _provider_options(args)
    nppes = args.providers is not None and (
        args.layout == "nppes" or io.providers_layout(args.providers) == "nppes"
    )
    if args.providers is not None and not nppes:
        progress("reading providers")
        providers = io.read_providers(args.providers, **options)
        reports.append(providers.attrs["report"])
    npi = options["npi"]
    result = read_edge_files(
        args.edges,
        scratch,
        layout="auto" if args.layout == "nppes" else args.layout,
        source_col=args.source_col,
        target_col=args.target_col,
        weight_col=args.weight_col,
        patient_col=args.patient_col,
        npi=npi,
        providers=providers,
        encoding=args.encoding,
        delimiter=args.delimiter,
        decimal=args.decimal,
        strict=args.strict,
        memory_limit=args.memory_limit,
        temp_directory=args.temp_dir,
        progress=progress,
    )
    reports.insert(0, result.report)
    result.report.raise_if_nothing_left(result.ties)
    if nppes:
        progress("reading providers (NPPES)")
        table = pq.read_table(result.paths["ties"], columns=["source", "target"])
        both = pd.concat(
            [table.column(c).to_pandas() for c in ("source", "target")], ignore_index=True
        )
        ids = pd.Series(both.drop_duplicates().to_numpy(), dtype="str")
        providers = io.read_providers(args.providers, layout="nppes", ids=ids, **options)
        absent = ids[~ids.isin(providers["id"])]
        if len(absent):
            providers.attrs["report"].add(
                "not_in_nppes",
                f"{len(absent):,} of the network's {len(ids):,} providers are not in the NPPES "
                "file; they are shown by id",
                count=0,
                examples=absent.head(3),
                hint="check that the ids are NPIs and that the NPPES file is the full download",
            )
        reports.append(providers.attrs["report"])
    return result, providers, reports


@contextmanager
def _reading(
    args: argparse.Namespace, *, steps: int, desc: str
) -> Iterator[tuple[Progress, Any, Any, list[Any]]]:
    """The progress bar and what :func:`_read` read, in a scratch folder removed (and the
    bar closed) when the command's work is done."""
    progress = Progress(steps, enabled=not args.quiet, desc=desc)
    scratch = Path(tempfile.mkdtemp(prefix="referral_graph_edges_", dir=args.temp_dir))
    try:
        result, providers, reports = _read(args, scratch, progress)
        yield progress, result, providers, reports
    finally:
        progress.close()
        shutil.rmtree(scratch, ignore_errors=True)


def build_large(args: argparse.Namespace) -> int | None:
    """``build`` out of core on a large edge file; None when the in-memory path applies."""
    import pandas as pd

    from referral_graph._national import write_graph_folder
    from referral_graph.graph import graph_from_tables
    from referral_graph.io._folders import atomic_folder

    out = Path(args.out)
    wanted = {".graphml": "graphml", ".gexf": "gexf"}.get(out.suffix.lower(), "parquet")
    if args.format != "auto" and args.format != wanted:
        raise ParameterError(
            f"The --format {args.format} and the --out {args.out} disagree: a GraphML file "
            "ends in .graphml, a GEXF file in .gexf, Parquet tables go to a folder."
        )
    size = large_edge_file(args)
    if size is None:
        return None
    if wanted != "parquet":
        if args.format == "auto":
            name = _FORMAT_NAMES[wanted]
            print(
                f"{_why(args, size)}: its {name} file would take about "
                f"{_size(size * FILE_PER_CSV_BYTE[wanted])}, and writing it builds the whole "
                "network in memory. Nothing was written. Write the graph as Parquet tables "
                "instead, out of core (--out FOLDER: nodes.parquet, edges.parquet, graph.json; "
                f"see docs/guide-researcher.md), or pass --format {wanted} to write the {name} "
                "file anyway.",
                file=sys.stderr,
            )
            return 1
        logger.warning(
            "--format %s: writing %s (%s as CSV) in memory, as asked", wanted, args.edges,
            _size(size),
        )  # fmt: skip
        return None
    with _reading(args, steps=4, desc="build") as (progress, result, providers, reports):
        progress("writing")
        empty = pd.DataFrame({"source": [], "target": []})
        empty.attrs.update(name=result.report.name, layout=result.layout)
        attributes = graph_from_tables(empty).graph
        with atomic_folder(out) as folder:
            written = write_graph_folder(
                result.paths["ties"],
                providers,
                folder,
                attributes=attributes,
                threshold=args.threshold,
                memory_limit=args.memory_limit,
                temp_directory=args.temp_dir,
            )
    print_reports(reports)
    print(summary(written.providers, written.ties, None))
    note = graph_suppression_note(written.attributes)
    if note:
        print(note)
    print(
        f"{_why(args, size)}: the graph is written as Parquet tables (nodes.parquet, "
        "edges.parquet, graph.json), which scale.load_compact and scale.subgraph read "
        "without networkx."
    )
    print(f"Wrote {out}")
    return 0


def score_large(args: argparse.Namespace) -> int | None:
    """``score`` out of core on a large edge file; None when the in-memory path applies."""
    from referral_graph._national import score_tables
    from referral_graph.io._folders import atomic_folder

    size = large_edge_file(args)
    if size is None:
        return None
    if args.focus is not None or args.focus_ids is not None:
        raise ParameterError(
            f"{_why(args, size)}: it is scored out of core, where the focus tables (share of "
            "wallet, leakage, key referrers) are not computed. Leave out --focus / "
            "--focus-ids, or score a part of the network (scale.subgraph), or pass --engine "
            "pandas to score it in memory."
        )
    if args.betweenness_k is not None and args.betweenness_k < 2:
        raise ParameterError(
            f"The --betweenness-k must be an int >= 2. Got {args.betweenness_k} instead."
        )
    with _reading(args, steps=5, desc="score") as (progress, result, providers, reports):
        progress("scoring")
        with atomic_folder(args.out) as folder:  # every table, or the folder as it was
            scored = score_tables(
                result.paths["ties"],
                providers,
                folder,
                threshold=args.threshold,
                seed=args.seed,
                betweenness_k=args.betweenness_k,
            )
    print_reports(reports)
    print(summary(scored.providers, scored.ties, None))
    for name, paths in scored.paths.items():
        shown = " and ".join(p.name for p in paths)
        print(f"  {name}: {scored.rows[name]:,} rows -> {Path(args.out) / shown}")
    if scored.suppression:
        print(scored.suppression)
    method = {"networkit-leiden": "networkit's Leiden", "leiden": "igraph's Leiden"}
    betweenness = (
        f"betweenness from {scored.betweenness_k} sampled sources"
        if scored.betweenness_k
        else "betweenness not computed (--betweenness-k K samples K sources)"
    )
    print(
        f"{_why(args, size)}: communities by "
        f"{method.get(scored.community_method, scored.community_method)}; {betweenness}; "
        "ties.parquet holds the ties as read (tie strength is scored in memory only: "
        "--engine pandas, or a part of the network); tables as CSV and Parquet, the ties "
        "as Parquet only."
    )
    return 0
