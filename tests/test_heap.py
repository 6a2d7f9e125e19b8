"""Freed memory kept for reuse in the command line and the worker processes (glibc)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from referral_graph import _heap, cli
from referral_graph._worker import Worker

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
needs_glibc = pytest.mark.skipif(not GLIBC, reason="keeping freed memory is glibc's mallopt")

# Page faults of a second 64 MB array, allocated after a first one was freed: none when the
# freed memory was kept, at least one per huge page (2 MB) or page (4 kB) when it was not.
_REUSE = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from referral_graph._heap import keep_freed_memory

    kept = keep_freed_memory()
    first = np.ones(8 * 2**20)  # 64 MB
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = np.ones(8 * 2**20)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(kept, faults)
    """
)


# Arrow's memory pool in a process that keeps its freed memory.
_ARROW_POOL = textwrap.dedent(
    """
    from referral_graph._heap import keep_freed_memory

    kept = keep_freed_memory()
    import pyarrow as pa

    print(kept, pa.default_memory_pool().backend_name)
    """
)


def _run(script: str, **env: str) -> list[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MALLOC_")
        and k not in ("GLIBC_TUNABLES", _heap.SWITCH, _heap.ARROW_POOL)
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def _reuse(**env: str) -> tuple[bool, int]:
    kept, faults = _run(_REUSE, **env)
    return kept == "True", int(faults)


@needs_glibc
def test_freed_memory_is_reused_without_page_faults() -> None:
    kept, faults = _reuse()
    assert kept
    assert faults < 8  # a few pages of Python's own, none of the 64 MB
    # the same process with glibc's defaults: the second array is a fresh mmap, faulted in
    kept, faults = _reuse(REFERRAL_GRAPH_KEEP_FREED_MEMORY="0")
    assert not kept
    assert faults >= 32  # 64 MB in 2 MB huge pages at the least


@needs_glibc
def test_arrow_allocates_from_glibc_too() -> None:
    import pyarrow as pa

    if pa.supported_memory_backends() == ["system"]:
        pytest.skip("this pyarrow allocates with the system's allocator only")
    # Arrow's own allocator (mimalloc) gives freed memory back to the system: from glibc,
    # Arrow's arrays reuse the heap kept
    assert _run(_ARROW_POOL) == ["True", "system"]
    kept, pool = _run(_ARROW_POOL, REFERRAL_GRAPH_KEEP_FREED_MEMORY="0")
    assert (kept, pool != "system") == ("False", True)


@needs_glibc
def test_an_arrow_pool_of_your_own_is_left_alone() -> None:
    import pyarrow as pa

    if "mimalloc" not in pa.supported_memory_backends():
        pytest.skip("this pyarrow has no mimalloc pool to choose")
    assert _run(_ARROW_POOL, ARROW_DEFAULT_MEMORY_POOL="mimalloc") == ["True", "mimalloc"]


@needs_glibc
def test_a_malloc_setting_of_your_own_is_left_alone() -> None:
    kept, faults = _reuse(MALLOC_ARENA_MAX="2")
    assert not kept
    assert faults >= 32


def test_worker_environment() -> None:
    plain = {"PATH": "/bin"}
    if GLIBC:
        assert _heap.worker_environment(plain) == {
            "PATH": "/bin",
            "MALLOC_MMAP_MAX_": "0",
            "MALLOC_TRIM_THRESHOLD_": str(_heap.KEEP_BYTES),
            "ARROW_DEFAULT_MEMORY_POOL": "system",
        }
        arrow = {"PATH": "/bin", "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}
        assert _heap.worker_environment(arrow)["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
    else:
        assert _heap.worker_environment(plain) == plain
    off = {"PATH": "/bin", "REFERRAL_GRAPH_KEEP_FREED_MEMORY": "0"}
    assert _heap.worker_environment(off) == off
    own = {"PATH": "/bin", "MALLOC_TRIM_THRESHOLD_": "1000"}
    assert _heap.worker_environment(own) == own
    tuned = {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    assert _heap.worker_environment(tuned) == tuned


@needs_glibc
def test_worker_processes_keep_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv(_heap.SWITCH, raising=False)
    with Worker() as worker:
        assert worker.submit(os.getenv, "MALLOC_MMAP_MAX_")() == "0"
    monkeypatch.setenv(_heap.SWITCH, "0")
    with Worker() as worker:
        assert worker.submit(os.getenv, "MALLOC_MMAP_MAX_")() is None


def test_the_command_keeps_freed_memory_then_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(_heap, "keep_freed_memory", lambda: calls.append("kept") or True)
    monkeypatch.setattr(sys, "argv", ["referral-graph", "--version"])
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 0
    assert calls == ["kept"]
    assert "referral-graph" in capsys.readouterr().out
