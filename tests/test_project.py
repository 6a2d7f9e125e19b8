"""Project contracts: the README's commands, CI, the bundled sample, the package surface."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import referral_graph

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1]
    command = _bash_blocks(section)[0].strip()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == command


def test_readme_main_job_is_one_command() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up and run the main job", 1)[1]
    assert _bash_blocks(section)[0].strip() == "pip install -e . && referral-graph demo"


def test_bundled_sample_is_small_and_matches_its_generator() -> None:
    from referral_graph import datasets

    folder = ROOT / "sample_data"
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 5 * 1024**2  # a few MB at most
    assert datasets.sample_dir() == folder
    assert set(datasets.sample_paths()) == {"events", "providers", "activities", "truth"}


def test_import_is_light() -> None:
    """Heavy or optional dependencies are imported only when used."""
    heavy = {"sklearn", "pyvis", "IPython", "pyspark", "playwright"}
    loaded = {m.split(".")[0] for m in sys.modules}
    if heavy & loaded:  # another test already imported them: check in a fresh interpreter
        import subprocess

        code = "import sys, referral_graph; print(' '.join({m.split('.')[0] for m in sys.modules}))"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        loaded = set(out.split())
    assert not heavy & loaded
    assert isinstance(referral_graph.__version__, str)


def test_page_templates_are_package_data() -> None:
    """A wheel carries the pages' templates and stylesheet (pyproject's package-data).

    Checked by hand too: ``pip wheel . --no-deps`` lists ``referral_graph/templates/*``.
    """
    import tomllib
    from pathlib import PurePosixPath

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["referral_graph"]
    package = ROOT / "referral_graph"
    files = [
        PurePosixPath(p.relative_to(package).as_posix())
        for p in (package / "templates").rglob("*")
        if p.is_file()
    ]
    assert {f.name for f in files} >= {"base.html.j2", "macros.html.j2", "page.css"}
    assert [f for f in files if not any(f.match(pattern) for pattern in patterns)] == []
