"""Output folders are replaced whole: a failure or a kill leaves the previous output or the new.

The helper (``io._folders.atomic_folder``) on small folders: the user's files are kept,
an exception leaves the old folder byte-identical, and a process killed after each of its
steps (simulated with ``os._exit`` in a forked child) leaves the previous or the new output,
which the next run completes. Then the commands themselves (``report``, ``score``, ``demo``)
killed with SIGKILL at several points while they write into a folder holding a previous run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import referral_graph
from referral_graph import synthetic
from referral_graph.exceptions import ParameterError
from referral_graph.io import _folders
from referral_graph.io._folders import atomic_folder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX")

#: The folder to put on PYTHONPATH so that a child process imports this checkout's package.
PACKAGE_ROOT = str(Path(referral_graph.__file__).resolve().parents[1])


def _files(folder: Path) -> dict[str, str]:
    """Every entry under `folder`: files by their SHA-256, folders as ``"<dir>"``.

    The demo's referral store (``store/``) is made anew by each run, with a random key and
    the times of its loads, so two runs of the same demo never give its bytes twice: its
    files are named only (``"<store>"``).
    """
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[key] = "<dir>"
        elif key.startswith("store/"):
            out[key] = "<store>"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _beside(out: Path) -> list[str]:
    """What is left beside `out` in its parent (temporaries of killed runs)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


OURS_OLD = {"report.html": "old page", "tables/a.csv": "old a", "tables/b.csv": "old b"}
OURS_NEW = {"report.html": "new page", "tables/a.csv": "new a", "tables/b.csv": "new b"}
USERS = {"notes.txt": "my notes", "tables/my_sums.xlsx": "my sums", "drafts/letter.txt": "dear"}


# ----------------------------------------------------------------------------- the helper


def test_a_new_folder_is_written_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    with atomic_folder(out) as folder:
        assert folder.parent == out.parent and folder.name.startswith(".out.")
        assert not out.exists()  # nothing visible before the end
        _write(folder, OURS_NEW)
    assert {k: (out / k).read_text() for k in OURS_NEW} == OURS_NEW
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert _beside(out) == []


def test_the_swap_keeps_every_entry_the_new_output_does_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, {**OURS_OLD, **USERS, "tables/only_old.csv": "from a run with other options"})
    (out / "link_to_notes").symlink_to("notes.txt")
    (out / "tables" / ".b.csv.k3j_x0q1.tmp").write_text("left by a killed run")
    (out / "tables" / ".a_user_file.tmp").write_text("not ours: kept")
    before = _files(out)
    with atomic_folder(out) as folder:
        _write(folder, OURS_NEW)
    after = _files(out)
    for name in [*USERS, "tables/only_old.csv", "link_to_notes", "tables/.a_user_file.tmp"]:
        assert after[name] == before[name], name  # kept, byte for byte
    assert {k: (out / k).read_text() for k in OURS_NEW} == OURS_NEW
    assert "tables/.b.csv.k3j_x0q1.tmp" not in after  # our stray temporary is gone
    assert _beside(out) == []


def test_the_new_folder_takes_the_old_folders_permissions(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, OURS_OLD)
    os.chmod(out / "tables", 0o750)
    os.chmod(out, 0o711)
    with atomic_folder(out) as folder:
        _write(folder, OURS_NEW)
    assert stat.S_IMODE(out.stat().st_mode) == 0o711
    assert stat.S_IMODE((out / "tables").stat().st_mode) == 0o750


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_an_exception_leaves_the_old_folder_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(_folders, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    _write(out, {**OURS_OLD, **USERS})
    os.chmod(out, 0o750)
    before, mode, inode = _files(out), out.stat().st_mode, out.stat().st_ino
    with pytest.raises(RuntimeError, match="halfway"), atomic_folder(out) as folder:
        _write(folder, {"report.html": "new page", "tables/a.csv": "new a"})
        raise RuntimeError("stopped halfway")
    assert _files(out) == before
    assert (out.stat().st_mode, out.stat().st_ino) == (mode, inode)
    assert _beside(out) == []
    # and the same folder is replaced whole when the run succeeds, either way
    with atomic_folder(out) as folder:
        _write(folder, OURS_NEW)
    assert _files(out) == before | {k: _sha(v) for k, v in OURS_NEW.items()}
    assert _beside(out) == []


def test_a_folder_where_the_output_writes_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, {"report.html/mine.txt": "a folder of the user's named like our page"})
    before = _files(out)
    refused = pytest.raises(ParameterError, match=r"report\.html.*nothing was replaced")
    with refused, atomic_folder(out) as folder:
        _write(folder, OURS_NEW)
    assert _files(out) == before
    assert _beside(out) == []


def test_a_file_as_output_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    with pytest.raises(ParameterError, match="is a file"), atomic_folder(tmp_path / "out"):
        pass
    assert (tmp_path / "out").read_text() == "a file"


def test_a_link_to_the_output_folder_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    _write(real, {**OURS_OLD, **USERS})
    (tmp_path / "out").symlink_to(real)
    with atomic_folder(tmp_path / "out") as folder:
        _write(folder, OURS_NEW)
    assert (tmp_path / "out").is_symlink()
    assert (real / "report.html").read_text() == "new page"
    assert (real / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "real"]


def test_the_working_directory_is_written_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--out .``: swapping the folder a shell is in would leave the shell in a removed folder."""
    out = tmp_path / "out"
    _write(out, {**OURS_OLD, **USERS})
    inode = out.stat().st_ino
    monkeypatch.chdir(out / "tables")
    with atomic_folder(out) as folder:
        assert folder.parent == out  # the temporary folder is inside
        _write(folder, OURS_NEW)
    assert out.stat().st_ino == inode  # the same folder
    assert {k: (out / k).read_text() for k in {**OURS_NEW, **USERS}} == {**OURS_NEW, **USERS}
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_a_call_inside_another_writes_into_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_folder(out) as folder:
        with atomic_folder(folder) as inner:
            assert inner == folder
            _write(inner, OURS_NEW)
        with atomic_folder(folder / "tables") as tables:  # a part of it too
            assert tables == folder / "tables"
        assert not out.exists()
    assert (out / "report.html").read_text() == "new page"
    assert _beside(out) == []


def test_a_temporary_folder_in_use_by_another_run_is_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, OURS_OLD)
    busy = tmp_path / ".out.0123abcd.tmp"
    stale = tmp_path / ".out.4567cdef.tmp"
    _write(busy, {"report.html": "being written"})
    _write(stale, {"report.html": "killed"})
    fd = _folders._lock(busy, wait=True)
    assert fd is not None
    try:
        with atomic_folder(out) as folder:
            _write(folder, OURS_NEW)
        assert _beside(out) == [busy.name]  # the stale one is removed, the busy one left
    finally:
        _folders._unlock(fd)
    with atomic_folder(out) as folder:
        _write(folder, OURS_NEW)
    assert _beside(out) == []


# ----------------------------------------------------------------------------- killed at each step

#: Runs in a child process: sets up a folder holding the old output and the user's files,
#: then, for each kill point, forks a child that replaces it and exits (os._exit, as a
#: SIGKILL would: no clean-up) right after the helper's k-th file system step; the parent
#: records what the kill left, runs the next call's clean-up, and records the result.
SIMULATION = r"""
import json, os, sys
from pathlib import Path
from referral_graph.io import _folders

root, mode = Path(sys.argv[1]), sys.argv[2]
OLD, NEW, USERS = (json.loads(a) for a in sys.argv[3:6])
if mode == "two-renames":
    _folders._exchange = lambda a, b: False

def write(folder, files):
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)

def state(folder):
    if not folder.exists():
        return None
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*")
            if p.is_file()}

def replace(out, kill_at, counter):
    steps = [0]
    armed = [False]
    def step():
        if armed[0]:
            steps[0] += 1
            if steps[0] == kill_at:
                os._exit(9)
    def wrap(function):
        def wrapped(*args, **kwargs):
            result = function(*args, **kwargs)
            step()
            return result
        return wrapped
    for name in ("rename", "replace", "unlink", "rmdir", "chmod"):
        setattr(os, name, wrap(getattr(os, name)))
    _folders._exchange = wrap(_folders._exchange)
    with _folders.atomic_folder(out) as folder:
        if kill_at == "half":
            write(folder, dict(list(NEW.items())[:1]))
            os._exit(9)
        write(folder, NEW)
        armed[0] = True
        if kill_at == 0:
            os._exit(9)
    counter.write_text(str(steps[0]))
    os._exit(0)

def trial(kill_at):
    folder = root / f"kill-{kill_at}"
    out = folder / "out"
    write(out, {**OLD, **USERS})
    counter = folder / "steps"
    pid = os.fork()
    if pid == 0:
        replace(out, kill_at, counter)
    _, status = os.waitpid(pid, 0)
    record = {
        "kill_at": kill_at,
        "finished": os.waitstatus_to_exitcode(status) == 0,
        "after_kill": state(out),
        "beside": {p.name: state(p) for p in folder.iterdir() if p.name.startswith(".")},
    }
    try:
        with _folders.atomic_folder(out):  # the next run: its clean-up, then it fails
            raise RuntimeError
    except RuntimeError:
        pass
    record["after_next_run"] = state(out)
    record["left"] = sorted(p.name for p in folder.iterdir() if p.name not in ("out", "steps"))
    record["steps"] = int(counter.read_text()) if counter.exists() else None
    return record

first = trial(10**6)  # never killed: counts the steps
records = [first] + [trial(k) for k in ["half", *range(0, first["steps"] + 1)]]
print(json.dumps(records))
"""


@pytest.mark.parametrize("mode", ["renameat2", "two-renames"])
def test_a_kill_after_any_step_leaves_the_old_or_the_new_output(tmp_path: Path, mode: str) -> None:
    if mode == "renameat2" and _folders._renameat2() is None:
        pytest.skip("renameat2 is not available here")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SIMULATION,
            str(tmp_path),
            mode,
            *(json.dumps(d) for d in (OURS_OLD, OURS_NEW, USERS)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": PACKAGE_ROOT, "OPENBLAS_NUM_THREADS": "1"},
    )
    records = json.loads(result.stdout)
    assert records[0]["finished"] and records[0]["after_kill"] == {**OURS_NEW, **USERS}
    assert records[0]["steps"] >= 4  # swapped, the user's entries moved, the old removed
    old, new = {**OURS_OLD, **USERS}, {**OURS_NEW, **USERS}
    seen = set()
    for record in records[1:]:
        where = f"killed at step {record['kill_at']}"
        assert not record["finished"], where
        state = record["after_kill"]
        if state is None:  # only between the two renames of the fallback
            assert mode == "two-renames", where
            seen.add("missing")
        else:
            ours = {k: v for k, v in state.items() if k not in USERS}
            assert ours in (OURS_OLD, OURS_NEW), where  # never a mix, never a .tmp file
            seen.add("old" if ours == OURS_OLD else "new")
            for name in set(USERS) - set(state):  # moved back by the next run
                assert any(
                    moved is not None and name in moved for moved in record["beside"].values()
                ), where
        after = record["after_next_run"]
        assert after in (old, new), where
        if state is not None and ours == OURS_NEW:
            assert after == new, where  # never back to the old once the new was visible
        assert record["left"] == [], where
    assert {"old", "new"} <= seen


# ----------------------------------------------------------------------------- the commands, killed


@pytest.fixture(scope="module")
def markets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small markets (the previous run's input and the new run's): 80 providers, 6 months."""
    folders = []
    for seed in (3, 4):
        folder = tmp_path_factory.mktemp(f"market{seed}")
        market = synthetic.generate_market(n_providers=80, n_months=6, seed=seed)
        synthetic.write_market(market, folder)
        folders.append(folder)
    return folders[0], folders[1]


def _report(market: Path, out: Path) -> list[str]:
    return [
        "-m",
        "referral_graph.cli",
        "report",
        "--events",
        str(market / "events.csv"),
        "--providers",
        str(market / "providers.csv"),
        "--focus",
        "Riverside Health",
        "--out",
        str(out),
        "-q",
    ]


def _score(market: Path, out: Path) -> list[str]:
    return [*_report(market, out)[:2], "score", *_report(market, out)[3:], "--parquet"]


#: The demo command on a small market instead of the bundled sample (same code path).
DEMO = r"""
import sys
from pathlib import Path
from referral_graph import cli, datasets
market = Path(sys.argv[1])
datasets.sample_paths = lambda: {
    kind: market / f"{kind}.csv" for kind in ("events", "providers", "activities", "truth")
}
sys.exit(cli.main(["demo", "--out", sys.argv[2], "-q"]))
"""


def _demo(market: Path, out: Path) -> list[str]:
    return ["-c", DEMO, str(market), str(out)]


def _env() -> dict[str, str]:
    threads = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return {**os.environ, "PYTHONPATH": PACKAGE_ROOT, **threads}


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start a run to kill (its output is not read)."""
    return subprocess.Popen(
        [sys.executable, *argv], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _run(argv: list[str]) -> float:
    """Run to the end; the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *argv], env=_env(), capture_output=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return time.perf_counter() - started


def _temps(out: Path) -> list[Path]:
    return [p for p in out.parent.glob(f".{out.name}.*.tmp") if p.is_dir()]


def _kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> bool:
    """SIGKILL `process` as soon as `ready()`; False if it ended first."""
    while process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.001)
    return False


def _kill_after(process: subprocess.Popen[bytes], delay: float) -> bool:
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def _ours(state: dict[str, str]) -> dict[str, str]:
    """The files of a folder the command writes (not the user's, nor the folders: the user's
    ``tables/`` is one of them beside the score tables)."""
    users = ("notes.txt", "tables/my_sums.xlsx")
    return {k: v for k, v in state.items() if k not in users and v != "<dir>"}


def _written_since(out: Path, started: float) -> list[str]:
    """The files a run started at `started` has written so far, in `out` or beside it."""
    found = []
    for top in [out, *_temps(out)]:
        for path in top.rglob("*"):
            with contextlib.suppress(FileNotFoundError):  # renamed or removed meanwhile
                if path.is_file() and path.stat().st_mtime >= started:
                    found.append(path.name)
    return found


def _check_kills(
    tmp_path: Path,
    command: Callable[[Path, Path], list[str]],
    markets: tuple[Path, Path],
    last_file: str,
    random_kills: int,
) -> None:
    """Kill `command` (the old market's output in the folder, the new market's being
    written) at several points; the folder is the old output or the new, and the next run
    cleans up. The kill points but two do not depend on how the output is written."""
    before_market, new_market = markets
    base = tmp_path / "base" / "out"
    _run(command(before_market, base))
    _write(base, {"notes.txt": "my notes", "tables/my_sums.xlsx": "my sums"})
    old = _files(base)
    expected = tmp_path / "expected" / "out"
    shutil.copytree(base, expected, symlinks=True)
    duration = _run(command(new_market, expected))
    new = _files(expected)
    changed = [k for k in new if new[k] != "<dir>" and old.get(k) != new[k]]
    assert len(changed) >= 3  # a mix would show
    users = {k: old[k] for k in ("notes.txt", "tables/my_sums.xlsx")}
    assert users and {k: new[k] for k in users} == users  # the user's files, kept

    def temp(test: Callable[[Path], bool]) -> Callable[[Path, float], Callable[[], bool]]:
        def at(out: Path, started: float) -> Callable[[], bool]:
            def ready() -> bool:
                with contextlib.suppress(FileNotFoundError):
                    return any(test(t) for t in _temps(out))
                return False

            return ready

        return at

    def written(test: Callable[[list[str]], bool]) -> Callable[[Path, float], Callable[[], bool]]:
        def at(out: Path, started: float) -> Callable[[], bool]:
            def ready() -> bool:
                with contextlib.suppress(FileNotFoundError):
                    return test([n for n in _written_since(out, started) if ".tmp" not in n])
                return False

            return ready

        return at

    points: list[tuple[str, Callable[[Path, float], Callable[[], bool]] | float]] = [
        ("the temporary folder appears", temp(lambda t: True)),
        ("the first new file is written", written(lambda names: len(names) >= 1)),
        ("half the new files are written", written(lambda n: len(n) >= len(changed) // 2)),
        (f"{last_file} is written", written(lambda names: last_file in names)),
        ("the swap starts", temp(lambda t: re.search(r"\.\d+\.tmp$", t.name) is not None)),
    ]
    rng = random.Random(16)  # while the new output is written (after loading and scoring)
    delays = sorted(rng.uniform(0.4 * duration, duration) for _ in range(random_kills))
    points += [(f"after {d:.2f} s", d) for d in delays]
    outcomes = []
    for number, (label, when) in enumerate(points):
        out = tmp_path / f"trial{number}" / "out"
        shutil.copytree(base, out, symlinks=True)
        started = time.time()
        process = _start(command(new_market, out))
        if isinstance(when, float):
            killed = _kill_after(process, when)
        else:
            killed = _kill_when(process, when(out, started))
        state = _files(out)
        assert not [k for k in state if k.endswith(".tmp")], f"killed when {label}"
        if state != new:  # the user's files may be beside it for a moment: see the next run
            assert state == old or _ours(state) == _ours(new), (
                f"killed when {label}: a mix of the previous and the new output"
            )
        outcomes.append((label, killed, "new" if _ours(state) == _ours(new) else "old"))
        # the next run cleans up what the killed one left (here: its clean-up, then a failure)
        with pytest.raises(RuntimeError), atomic_folder(out):
            raise RuntimeError
        assert _files(out) in (old, new), f"killed when {label}"
        assert _beside(out) == [], f"killed when {label}"
    # the kills while the new files were written found the previous output
    assert [o[1:] for o in outcomes[1:3]] == [(True, "old"), (True, "old")], outcomes
    # a whole next run after a kill: the new output, nothing left beside it
    out = tmp_path / "last" / "out"
    shutil.copytree(base, out, symlinks=True)
    started = time.time()
    _kill_when(
        _start(command(new_market, out)), written(lambda names: len(names) >= 1)(out, started)
    )
    _run(command(new_market, out))
    assert _files(out) == new
    assert _beside(out) == []


@pytest.mark.slow
def test_report_killed_leaves_the_previous_or_the_new_report(
    tmp_path: Path, markets: tuple[Path, Path]
) -> None:
    _check_kills(tmp_path, _report, markets, "report.html", random_kills=3)


@pytest.mark.slow
def test_score_killed_leaves_the_previous_or_the_new_tables(
    tmp_path: Path, markets: tuple[Path, Path]
) -> None:
    _check_kills(tmp_path, _score, markets, "leakage_by_competitor.parquet", random_kills=2)


@pytest.mark.slow
def test_demo_killed_leaves_the_previous_or_the_new_output(
    tmp_path: Path, markets: tuple[Path, Path]
) -> None:
    _check_kills(tmp_path, _demo, markets, "referral_graph.graphml", random_kills=1)


def test_a_folder_written_whole_keeps_none_of_the_old_entries(tmp_path: Path) -> None:
    """``whole=("profiles",)``: the previous report's profiles go with it; the user's notes,
    beside them or elsewhere, stay."""
    out = tmp_path / "out"
    with atomic_folder(out, whole=("profiles",)) as folder:
        (folder / "profiles").mkdir()
        (folder / "profiles" / "A.html").write_text("A, first run")
        (folder / "report.html").write_text("first")
    (out / "notes.txt").write_text("my notes")
    (out / "tables").mkdir()
    (out / "tables" / "mine.csv").write_text("x")
    with atomic_folder(out, whole=("profiles",)) as folder:
        (folder / "profiles").mkdir()
        (folder / "profiles" / "B.html").write_text("B, second run")
        (folder / "report.html").write_text("second")
    assert sorted(_files(out)) == [
        "notes.txt",
        "profiles",
        "profiles/.written_whole",
        "profiles/B.html",
        "report.html",
        "tables",
        "tables/mine.csv",
    ]
    assert (out / "notes.txt").read_text() == "my notes"
    with atomic_folder(out) as folder:  # marked: a run that does not write it drops it too
        (folder / "report.html").write_text("third")
    assert not (out / "profiles").exists() and (out / "notes.txt").is_file()
    (out / "profiles").mkdir()  # not marked: the user's
    (out / "profiles" / "mine.txt").write_text("mine")
    with atomic_folder(out) as folder:
        (folder / "report.html").write_text("fourth")
    assert (out / "profiles" / "mine.txt").is_file()
