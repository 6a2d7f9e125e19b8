"""The bundled synthetic sample.

The repository ships a small synthetic market in ``sample_data/`` (made by
:func:`referral_graph.synthetic.generate_market` with the settings in
:data:`SAMPLE_SETTINGS`; no real patient or provider). When the package is
installed without the repository, :func:`sample_paths` regenerates the same
files (the generator is seeded) into a cache folder.

Examples
--------
>>> sorted(sample_paths())
['activities', 'events', 'providers', 'truth']
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = [
    "SAMPLE_FOCUS",
    "SAMPLE_SETTINGS",
    "sample_dir",
    "sample_extracts",
    "sample_paths",
    "write_sample",
]

logger = logging.getLogger(__name__)

#: The generator settings of the bundled sample.
SAMPLE_SETTINGS: dict[str, int | str] = {"n_providers": 1200, "n_months": 30, "seed": 42}

#: The focus organisation of the bundled sample (the generator's default).
SAMPLE_FOCUS = "Riverside Health"

_FILES = {
    "events": "events.csv.gz",
    "providers": "providers.csv",
    "activities": "activities.csv",
    "truth": "truth.csv",
}


def _repo_sample() -> Path:
    return Path(__file__).resolve().parents[1] / "sample_data"


def write_sample(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Generate the bundled sample into `folder` (as committed in ``sample_data/``).

    Returns the written paths by kind.
    """
    import gzip
    import shutil

    from referral_graph import synthetic
    from referral_graph.io import atomic_path

    target = Path(os.fspath(folder))
    market = synthetic.generate_market(**SAMPLE_SETTINGS)  # type: ignore[arg-type]
    written = synthetic.write_market(market, target, format="csv", compress=False)
    written.pop("ties").unlink()  # per-tie truth: regenerate it with synthetic if needed
    # The events are the bulk: gzip them (reproducible bytes: no name, mtime 0).
    plain = written["events"]
    with (
        atomic_path(target / _FILES["events"]) as tmp,
        plain.open("rb") as src,
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as dst,
    ):
        shutil.copyfileobj(src, dst)
    plain.unlink()
    written["events"] = target / _FILES["events"]
    return {kind: Path(p) for kind, p in written.items()}


def sample_dir() -> Path:
    """The folder holding the sample (the repository's, or a generated cache)."""
    repo = _repo_sample()
    if all((repo / name).exists() for name in _FILES.values()):
        return repo
    cache = Path(os.environ.get("REFERRAL_GRAPH_CACHE", Path.home() / ".cache" / "referral_graph"))
    folder = cache / "sample"
    if not all((folder / name).exists() for name in _FILES.values()):
        logger.info("Generating the sample into %s", folder)
        write_sample(folder)
    return folder


def sample_paths() -> dict[str, Path]:
    """Paths of the sample's files: events, providers, activities, truth."""
    folder = sample_dir()
    return {kind: folder / name for kind, name in _FILES.items()}


def sample_extracts(folder: str | os.PathLike[str], *, last: int = 1) -> list[Path]:
    """The sample's events as two extracts, as a team receives them: the history up to the
    last `last` months, then those months (for trying a referral store week after week).

    Parameters
    ----------
    folder : path
        Where to write them (created).
    last : int, default 1
        Months of the second extract.

    Returns
    -------
    list of Path
        ``referrals_to_YYYY_MM.csv`` (the history) and ``referrals_YYYY_MM.csv`` (the first
        of the last months), the sample's rows unchanged.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in sample_extracts(tempfile.mkdtemp())]
    ['referrals_to_2026_05.csv', 'referrals_2026_06.csv']
    """
    import pandas as pd

    from referral_graph.io import atomic_path

    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        from referral_graph.exceptions import ParameterError

        raise ParameterError(f"The 'last' parameter must be an int >= 1. Got {last!r} instead.")
    target = Path(os.fspath(folder))
    target.mkdir(parents=True, exist_ok=True)
    events = pd.read_csv(sample_paths()["events"], dtype=str, keep_default_na=False)
    month = events["date"].str.slice(0, 7)
    months = sorted(month.unique())
    split = months[-last]
    before = months[months.index(split) - 1]
    paths = [
        target / f"referrals_to_{before.replace('-', '_')}.csv",
        target / f"referrals_{split.replace('-', '_')}.csv",
    ]
    for path, rows in zip(paths, (month < split, month >= split), strict=True):
        with atomic_path(path) as tmp:
            events[rows.to_numpy()].to_csv(tmp, index=False)
    return paths
