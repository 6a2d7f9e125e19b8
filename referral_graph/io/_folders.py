"""Writing an output folder as a whole: the previous output or the new one, never a mix.

:func:`atomic_folder` yields a new folder beside the output folder; the caller
writes every file of the run into it, and on success it takes the output
folder's place in one step (Linux: ``renameat2(RENAME_EXCHANGE)``; elsewhere
two renames, with a recovery rule for the moment between them). A run killed at
any point leaves the output folder as the previous run left it, or holding the
complete new output; the next run removes the temporaries a killed run left.

The user's own files are never deleted: an entry of the old folder that the new
output does not write (a note, a spreadsheet, a table of an earlier run with
other options) is moved into the new folder, as the run of a folder written
file by file would have left it. The files the new output writes replace the
old ones of the same name. A subfolder written whole (``whole=``, marked by a
:data:`WHOLE_MARK` file: the report's ``profiles/``) is replaced as a whole.

The temporaries are named after the output folder, in its parent:
``.NAME.<8 hex>.tmp`` (a new output being written) and
``.NAME.<8 hex>.<inode>.tmp`` (during the swap: the previous output folder
when its inode number is ``<inode>``, else the new output not yet swapped in).
A run holds a lock (``flock``) on the folders it works in, so that the clean-up
of another run into the same folder never removes them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import logging
import os
import re
import secrets
import shutil
import stat
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from referral_graph.exceptions import ParameterError

logger = logging.getLogger("referral_graph.io")

#: The temporary folders open in this process: an atomic folder asked for inside one of them
#: (the report written into the demo's folder) is written as it is.
_ACTIVE: set[Path] = set()
_ACTIVE_LOCK = threading.Lock()

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: What ``renameat2`` answers where it cannot exchange (old kernel or libc, a filesystem
#: without the flag): the two renames are used instead.
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP})

#: The per-file temporaries of :func:`referral_graph.io.atomic_path` (``tempfile.mkstemp``
#: names) of the kinds of file the toolkit writes: left by a killed run, never carried over.
_FILE_TEMP = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp")
_OUR_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".html", ".json", ".graphml", ".gexf")
#: The file that marks a subfolder written whole (``atomic_folder(whole=...)``).
WHOLE_MARK = ".written_whole"

# ----------------------------------------------------------------------------- the folder


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str], *, whole: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty folder beside `path`; on success it replaces `path` in one step.

    Write every file of a run into the yielded folder. When the ``with`` block
    ends without an exception the folder takes the place of `path` (created if
    needed); an exception removes it and leaves `path` untouched. A process
    killed at any moment leaves `path` holding either its previous content or
    the complete new one; the next call for the same `path` removes what a
    killed run left beside it (and finishes a swap it was killed in), saying so
    in the log.

    Parameters
    ----------
    path : str or path-like
        The output folder. Symbolic links are followed: the folder a link points
        to is replaced, and the link stays.
    whole : iterable of str, optional
        Subfolders that belong to the output whole (``"profiles"``: a page per
        provider on the report's lists): none of the old ones' entries is kept,
        so a page of the previous run that this run does not write goes with the
        previous output. Each is marked so (a file :data:`WHOLE_MARK` in it), so
        that the run that finishes a stopped swap knows it too.

    Yields
    ------
    pathlib.Path
        The new folder, empty: ``.NAME.<random>.tmp`` in the parent of `path`
        (the same filesystem, so that the swap is a rename).

    Raises
    ------
    ParameterError
        `path` is a file, or the old folder holds a folder where the new output
        writes a file (or a file or link where it writes a folder): nothing is
        replaced.

    Notes
    -----
    The user's files are kept: every entry of the old folder that the new
    output does not write (looked at folder by folder, so ``tables/notes.txt``
    too) is moved into the new folder after the swap, and the old folder,
    holding only the files the new output replaced, is removed. The new
    folder and its subfolders take the permissions of the ones they replace.

    On Linux the swap is ``renameat2(..., RENAME_EXCHANGE)``; where it is not
    available the old folder is renamed aside and the new one into place, and
    a run killed between the two renames has its old folder restored by the
    next one. When the folder cannot be swapped (it is a mount point, the
    current directory or holds it, or its parent cannot be written) the new
    output is written into a temporary folder inside it and moved in file by
    file: not one step, but never a half-written file.

    A call inside a folder yielded by another call (the report written into the
    demo's folder) yields its folder as it is: the outer call swaps the whole.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with atomic_folder(out) as folder:
    ...     _ = (folder / "report.html").write_text("<p>first</p>")
    >>> with atomic_folder(out) as folder:
    ...     _ = (folder / "report.html").write_text("<p>second</p>")
    ...     raise RuntimeError("stopped halfway")
    Traceback (most recent call last):
    ...
    RuntimeError: stopped halfway
    >>> (out / "report.html").read_text(), [p.name for p in out.parent.iterdir()]
    ('<p>first</p>', ['report'])
    """
    final = Path(os.fspath(path)).resolve()
    with _ACTIVE_LOCK:
        nested = any(final == a or a in final.parents for a in _ACTIVE)
    if nested:
        final.mkdir(parents=True, exist_ok=True)
        yield final
        _mark_whole(final, whole)
        return
    if final.exists() and not final.is_dir():
        raise ParameterError(
            f"The output folder {os.fspath(path)} is a file. Name a folder, or move the file away."
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    _recover(final)
    umask = _umask()
    in_place = _why_in_place(final)
    tmp: Path | None = None
    if in_place is None:
        try:
            tmp, fd = _make_temp(final.parent, final.name)
        except PermissionError:
            if not final.is_dir():
                raise
            in_place = "its parent folder cannot be written"
    if tmp is None:
        logger.info("%s is written in place, file by file: %s", final, in_place)
        tmp, fd = _make_temp(final, final.name)
    with _ACTIVE_LOCK:
        _ACTIVE.add(tmp)
    try:
        try:
            yield tmp
        except BaseException:
            _remove(tmp)
            raise
        if in_place is not None:
            _move_in(tmp, final)
        else:
            _mark_whole(tmp, whole)
            _replace(tmp, final, umask)
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(tmp)
        _unlock(fd)


def _replace(new: Path, final: Path, umask: int) -> None:
    """Put the complete folder `new` in the place of `final` (see :func:`atomic_folder`)."""
    if not os.path.lexists(final):
        try:
            os.chmod(new, 0o777 & ~umask)
            os.rename(new, final)
        except BaseException:
            _remove(new)
            raise
        logger.info("Wrote %s", final)
        return
    try:
        _check_conflicts(new, final)
        # writable by its owner until the user's entries are moved in, then exactly the old's
        _copy_modes(final, new, extra=stat.S_IRWXU)
        old_fd = _lock_current(final)
    except BaseException:
        _remove(new)
        raise
    try:
        # The name says which inode the previous output has: whichever folder holds this
        # name when a run is killed, the next run knows what it is (see _recover).
        inode = os.fstat(old_fd).st_ino if old_fd >= 0 else os.stat(final).st_ino
        swap = new.with_name(f"{new.name[: -len('.tmp')]}.{inode}.tmp")
        try:
            _swap(new, swap, final)
        except OSError as exc:
            current = new if os.path.lexists(new) else swap
            if not final.is_dir():
                _remove(current)
                raise
            # not swappable after all (a bind mount, a filesystem refusing to rename folders)
            logger.warning("%s could not be swapped (%s); it is written file by file", final, exc)
            _move_in(current, final)
            return
        except BaseException:
            _remove(new if os.path.lexists(new) else swap)
            raise
        # `swap` holds the previous output: the user's entries go into the new folder
        kept = _carry_over(swap, final)
        _copy_modes(swap, final)
        _remove(swap)
    finally:
        _unlock(old_fd)
    logger.info(
        "Replaced %s with the new output%s",
        final,
        f" (kept {len(kept):,} entries it does not write: {_some(kept)})" if kept else "",
    )


def _swap(new: Path, swap: Path, final: Path) -> None:
    """Put `new` at `final` and the previous `final` at `swap` (a name saying its inode).

    A kill leaves `final` as it was or as new, except between the two renames of the
    fallback, where `final` is missing and `swap` holds it: the next run restores it.
    """
    os.rename(new, swap)
    if _exchange(swap, final):
        return
    os.rename(swap, new)
    os.rename(final, swap)
    try:
        os.rename(new, final)
    except BaseException:
        os.rename(swap, final)
        raise


def _why_in_place(final: Path) -> str | None:
    """Why `final` cannot be swapped as a whole (None when it can, or does not exist)."""
    if not final.is_dir():
        return None
    if os.path.ismount(final):
        return "it is a mount point"
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working directory was removed
        cwd = None
    if cwd is not None and (final == cwd or final in cwd.parents):
        # a swapped-out working directory would leave the user's shell in a removed folder
        return "it is the current directory, or holds it"
    if not os.access(final.parent, os.W_OK):
        return "its parent folder cannot be written"
    parent = final.parent.stat()
    geteuid = getattr(os, "geteuid", None)
    owners = (0, parent.st_uid, final.stat().st_uid)
    if parent.st_mode & stat.S_ISVTX and geteuid is not None and geteuid() not in owners:
        return "its parent folder is sticky and the folder is another user's"
    return None


# ----------------------------------------------------------------------------- the entries


def _check_conflicts(new: Path, old: Path) -> None:
    """Raise when the old folder holds a folder where the new writes a file (or the reverse)."""
    found = _conflicts(new, old, "")
    if found:
        raise ParameterError(
            f"The output folder {old} holds {_some(found)}, where the new output writes "
            f"{'a file' if (old / found[0]).is_dir() else 'a folder'}: nothing was replaced. "
            "Move these away, or write the output to another folder."
        )


def _conflicts(new: Path, old: Path, prefix: str) -> list[str]:
    found: list[str] = []
    for entry in sorted(os.scandir(new), key=lambda e: e.name):
        there = old / entry.name
        if not os.path.lexists(there):
            continue
        new_dir = entry.is_dir(follow_symlinks=False)
        old_dir = there.is_dir() and not there.is_symlink()
        if new_dir and old_dir:
            found += _conflicts(Path(entry.path), there, f"{prefix}{entry.name}/")
        elif new_dir or old_dir:
            found.append(prefix + entry.name)
    return found


def _copy_modes(old: Path, new: Path, *, extra: int = 0) -> None:
    """Give `new` and the subfolders it shares with `old` the permissions of `old`'s
    (with the bits `extra` added)."""
    os.chmod(new, stat.S_IMODE(old.stat().st_mode) | extra)
    for entry in os.scandir(new):
        there = old / entry.name
        if entry.is_dir(follow_symlinks=False) and there.is_dir() and not there.is_symlink():
            _copy_modes(there, Path(entry.path), extra=extra)


def _is_stray_temp(name: str, written: set[str]) -> bool:
    """Whether `name` is a per-file temporary a killed run of ours left (see _FILE_TEMP)."""
    match = _FILE_TEMP.fullmatch(name)
    return match is not None and (
        match.group(1) in written or match.group(1).lower().endswith(_OUR_SUFFIXES)
    )


def _mark_whole(folder: Path, whole: Iterable[str]) -> None:
    """Mark the subfolders `whole` names (written by the run) as the output's whole."""
    for name in whole:
        sub = folder / name
        if sub.is_dir() and not sub.is_symlink():
            (sub / WHOLE_MARK).write_text(
                "This folder is written whole by each run: the next run replaces it, "
                "files added here included.\n",
                encoding="utf-8",
            )


def _is_whole(old: Path, new: Path) -> bool:
    """Whether the folder `old` (or the new one in its place, `new`) is an output's whole."""
    return (old / WHOLE_MARK).is_file() or (new / WHOLE_MARK).is_file()


def _carry_over(old: Path, new: Path, prefix: str = "") -> list[str]:
    """Move every entry of `old` that `new` does not have into `new` (into the folders both
    have, entry by entry), but a folder marked whole (:func:`_mark_whole`), old or new:
    what `new` has replaces the old. Returns the entries moved."""
    moved: list[str] = []
    written = set(os.listdir(new))
    for entry in sorted(os.scandir(old), key=lambda e: e.name):
        there = new / entry.name
        if entry.is_dir(follow_symlinks=False) and _is_whole(Path(entry.path), there):
            continue  # the output's whole: goes with the previous output
        if entry.name not in written:
            if not _is_stray_temp(entry.name, written):
                os.rename(entry.path, there)
                moved.append(prefix + entry.name)
        elif entry.is_dir(follow_symlinks=False) and there.is_dir() and not there.is_symlink():
            moved += _carry_over(Path(entry.path), there, f"{prefix}{entry.name}/")
    return moved


def _move_in(new: Path, final: Path) -> None:
    """Move the entries of `new` into `final`, file by file (where a swap is not possible)."""
    try:
        _check_conflicts(new, final)
        _merge(new, final)
    finally:
        _remove(new)
    logger.info("Wrote the new output into %s, file by file", final)


def _merge(new: Path, final: Path) -> None:
    written = set(os.listdir(new))
    for entry in sorted(os.scandir(new), key=lambda e: e.name):
        there = final / entry.name
        is_dir = entry.is_dir(follow_symlinks=False) and there.is_dir() and not there.is_symlink()
        if is_dir and _is_whole(there, Path(entry.path)):
            shutil.rmtree(there)  # the output's whole: the new one replaces it
            os.replace(entry.path, there)
        elif is_dir:
            _merge(Path(entry.path), there)
        else:
            os.replace(entry.path, there)
    for name in os.listdir(final):
        if _is_stray_temp(name, written) and (final / name).is_file():
            (final / name).unlink()


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")


# ----------------------------------------------------------------------------- after a kill


def _temp_names(name: str) -> re.Pattern[str]:
    """The names of the temporary folders of an output folder called `name`."""
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}(?:\.(\d+))?\.tmp")


def _recover(final: Path) -> None:
    """Clean up what killed runs into `final` left: its temporaries beside it (and inside it,
    from a run written in place), and the previous output of a swap that was not finished."""
    pattern = _temp_names(final.name)
    places = [final.parent, final] if final.is_dir() else [final.parent]
    for place in places:
        try:
            names = sorted(os.listdir(place))
        except OSError:
            continue
        for name in names:
            match = pattern.fullmatch(name)
            if match is not None and (place / name).is_dir() and not (place / name).is_symlink():
                inode = match.group(1) if place == final.parent else None
                _recover_one(place / name, final, None if inode is None else int(inode))


def _recover_one(folder: Path, final: Path, inode: int | None) -> None:
    try:
        fd = _lock(folder, wait=False)
    except FileNotFoundError:
        return  # removed meanwhile (by another run's clean-up)
    if fd is None:
        logger.info("%s is in use by another run; left as it is", folder)
        return
    try:
        here = os.stat(folder).st_ino
        if fd >= 0 and here != os.fstat(fd).st_ino:
            return  # renamed meanwhile
        if inode is not None and here == inode:  # the previous output, swapped out
            if not os.path.lexists(final):
                os.rename(folder, final)
                logger.warning(
                    "Restored the previous output %s from %s: a run was stopped while replacing it",
                    final,
                    folder.name,
                )
                return
            kept = _carry_over(folder, final)
            if final.is_dir():
                _copy_modes(folder, final)
            _remove(folder)
            logger.warning(
                "Finished replacing %s, which a stopped run had left half done%s",
                final,
                f" (moved back {len(kept):,} entries it does not write: {_some(kept)})"
                if kept
                else "",
            )
        else:
            _remove(folder)
            logger.warning("Removed %s, left by a run that was stopped", folder)
    except FileNotFoundError:
        return
    finally:
        _unlock(fd)


# ----------------------------------------------------------------------------- the system


def _make_temp(place: Path, name: str) -> tuple[Path, int]:
    """Create ``.NAME.<random>.tmp`` in `place`, locked: its path and lock."""
    for _ in range(100):
        folder = place / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        fd = _lock(folder, wait=True)
        assert fd is not None  # waited for it
        try:
            if fd < 0 or os.stat(folder).st_ino == os.fstat(fd).st_ino:
                return folder, fd
        except FileNotFoundError:
            pass  # another run's clean-up took it before it was locked: take another name
        _unlock(fd)
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(place))


def _lock(folder: Path, *, wait: bool) -> int | None:
    """An exclusive lock on `folder`: a descriptor to close to release it, ``-1`` where
    locks are not available (Windows), None when another process holds it and `wait`
    is False. The system releases it when the process ends, however it ends."""
    if sys.platform == "win32":
        return -1
    import fcntl

    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lock_current(folder: Path) -> int:
    """Lock the folder now at the path `folder` (after waiting for a run swapping it)."""
    while True:
        fd = _lock(folder, wait=True)
        assert fd is not None
        if fd < 0 or os.stat(folder).st_ino == os.fstat(fd).st_ino:
            return fd
        _unlock(fd)


def _unlock(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


@functools.cache
def _renameat2() -> Any:
    """libc's ``renameat2`` (glibc 2.28 and later), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Exchange the folders at `a` and `b` in one step; False where the system cannot."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        logger.debug("renameat2 cannot exchange here (%s): two renames", errno.errorcode[code])
        return False
    raise OSError(code, os.strerror(code), os.fspath(a), None, os.fspath(b))


def _remove(folder: Path) -> None:
    """Remove a temporary folder; a failure is logged (the next run tries again)."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("Could not remove %s (%s); the next run will", folder, exc)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
