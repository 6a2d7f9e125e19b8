"""Keep freed memory in the process for reuse, in the command line and the worker processes.

A step of the pipeline allocates and frees temporary arrays of the ties' or the
panel's length (37 MB for 4.7 million float64 values) time and again. With
glibc's defaults every such array is a fresh ``mmap`` returned to the system
when freed, so its pages are faulted in and zeroed anew by the kernel each
time: on the 300,000-provider market that is about 65 GB of zeroed memory and
a quarter of the report's CPU time on a virtual machine whose freed memory
goes back to the host (free page reporting). With :func:`keep_freed_memory`,
glibc serves large arrays from its heap and keeps what is freed (up to
:data:`KEEP_BYTES` at the heap's top) for the next allocation. Apache Arrow's
default allocator (mimalloc) returned its freed memory to the system too: Arrow
allocates from glibc instead (``ARROW_DEFAULT_MEMORY_POOL`` ``system``, set for
this process and its workers before Arrow is imported). The threads keep their
own glibc arenas: one arena for all (``M_ARENA_MAX`` 1) saved their re-mapped
heaps but raised the peak of the 300,000-provider report from files over its
8 GB target (docs/memory.md).

The process's peak memory is its largest working set plus what the heap cannot
reuse (about 0.1 GB more on that market: docs/memory.md), and memory freed at
the end of a step is not given back until the process ends. So only processes
that run one job and exit keep freed memory: the ``referral-graph`` command
(:func:`referral_graph.cli.run`) and the worker processes
(:mod:`referral_graph._worker`); the library called from your own program
leaves its allocator as it is.

Set ``REFERRAL_GRAPH_KEEP_FREED_MEMORY=0`` to leave glibc's defaults; a malloc
setting of your own (any ``MALLOC_*`` variable, or ``glibc.malloc`` tunables in
``GLIBC_TUNABLES``) is taken as your choice and not changed, and so is an Arrow
memory pool of your own (``ARROW_DEFAULT_MEMORY_POOL``).
On other C libraries (macOS, musl) nothing is changed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
from collections.abc import Mapping, MutableMapping

logger = logging.getLogger(__name__)

__all__ = ["KEEP_BYTES", "keep_freed_memory", "worker_environment"]

#: Free memory kept at the top of the heap (glibc's ``M_TRIM_THRESHOLD``; an ``int``).
KEEP_BYTES = 2**31 - 1

#: The opt-out: ``0`` leaves glibc's defaults.
SWITCH = "REFERRAL_GRAPH_KEEP_FREED_MEMORY"

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

#: Apache Arrow's choice of allocator, read when pyarrow is imported.
ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL"

#: The same settings for a process about to start (glibc reads them at start).
_ENVIRONMENT = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(KEEP_BYTES)}


def _wanted(environ: Mapping[str, str]) -> bool:
    """Whether to keep freed memory: glibc on Linux, not switched off, and no malloc setting
    of the user's (a ``MALLOC_*`` variable, or ``glibc.malloc`` in ``GLIBC_TUNABLES``)."""
    if environ.get(SWITCH, "1").strip() == "0":
        return False
    if any(name.startswith("MALLOC_") for name in environ):
        return False
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        return False
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory in this process for reuse; return whether it does.

    Large allocations come from the heap rather than ``mmap`` (``M_MMAP_MAX`` 0),
    up to :data:`KEEP_BYTES` of free memory at the heap's top is kept
    (``M_TRIM_THRESHOLD``), and Apache Arrow allocates with glibc
    (``ARROW_DEFAULT_MEMORY_POOL=system``) unless you chose its pool. For a process
    that runs one job and exits; call it before pyarrow is imported.

    Examples
    --------
    At the start of a script that runs one large job:

    >>> from referral_graph._heap import keep_freed_memory
    >>> keep_freed_memory()  # doctest: +SKIP
    True
    """
    if not _wanted(os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES))
    if kept:
        _arrow_from_glibc(os.environ)
    logger.debug("keep_freed_memory: %s", "on" if kept else "not available")
    return kept


def _arrow_from_glibc(environ: MutableMapping[str, str]) -> None:
    """Have Apache Arrow allocate with glibc (its ``system`` pool), unless `environ` chose
    a pool. Pyarrow reads the choice when it is imported: imported already, its pool (maybe
    one of your own) is left as it is."""
    if ARROW_POOL in environ:
        return
    if "pyarrow" in sys.modules:
        logger.debug("keep_freed_memory: pyarrow is imported already; its pool is left alone")
        return
    environ[ARROW_POOL] = "system"


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with the settings of :func:`keep_freed_memory` for a worker process
    (unchanged when they are not wanted).

    Examples
    --------
    >>> worker_environment({"REFERRAL_GRAPH_KEEP_FREED_MEMORY": "0"})
    {'REFERRAL_GRAPH_KEEP_FREED_MEMORY': '0'}
    """
    if not _wanted(environ):
        return dict(environ)
    return {ARROW_POOL: "system", **environ, **_ENVIRONMENT}
