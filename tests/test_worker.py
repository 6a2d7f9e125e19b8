"""The worker process that runs long independent steps beside the main work."""

from __future__ import annotations

import argparse
import logging
import math
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from referral_graph._worker import Worker
from referral_graph.centrality import CompactGraph
from referral_graph.communities import detect_communities
from referral_graph.exceptions import ParameterError


def test_results_come_back_in_order() -> None:
    with Worker() as worker:
        pending = [worker.submit(math.comb, n, 2) for n in (5, 6, 7)]
        assert [p() for p in pending] == [10, 15, 21]
        assert pending[0]() == 10  # asked again: the same result, not run again


def test_disabled_runs_in_this_process_when_asked() -> None:
    calls: list[int] = []
    with Worker(enabled=False) as worker:
        pending = worker.submit(calls.append, 1)  # a bound method: only possible in-process
        assert calls == []
        pending()
    assert calls == [1]


def test_exceptions_are_raised_in_the_caller() -> None:
    cg = CompactGraph.from_edges(["A"], ["B"], [1])
    with Worker() as worker:
        bad_number = worker.submit(int, "x")
        bad_option = worker.submit(detect_communities, cg)
        bad_seed = worker.submit(detect_communities, cg, seed=-1)
        assert bad_option().to_dict() == {"A": 0, "B": 0}
        with pytest.raises(ValueError, match="invalid literal"):
            bad_number()
        with pytest.raises(ParameterError, match="'seed'"):  # the library's own exception type
            bad_seed()


def test_log_records_and_warnings_reach_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    cg = CompactGraph.from_edges(["A", "C"], ["B", "D"], [1, 2])
    with Worker() as worker, caplog.at_level(logging.INFO, logger="referral_graph"):
        labels = worker.submit(detect_communities, cg)
        warned = worker.submit(warnings.warn, "careful", UserWarning)
        assert labels().to_dict() == {"A": 0, "B": 0, "C": 1, "D": 1}
        with pytest.warns(UserWarning, match="careful"):
            warned()
    messages = [r.getMessage() for r in caplog.records if r.name == "referral_graph.communities"]
    assert messages == [
        "detect_communities (auto: leiden): 4 providers in 2 communities (largest 2, singletons 0)"
    ]


def test_printing_does_not_corrupt_the_result() -> None:
    with Worker() as worker:
        printed = worker.submit(print, "noise from a library")
        after = worker.submit(math.comb, 4, 2)
        assert printed() is None
        assert after() == 6


def test_a_dead_worker_falls_back_to_this_process(caplog: pytest.LogCaptureFixture) -> None:
    # sys.exit ends the worker process without a reply; here it raises SystemExit, which
    # shows that the function was run again in this process
    with Worker() as worker:
        pending = worker.submit(sys.exit, 3)
        with caplog.at_level(logging.WARNING, logger="referral_graph"), pytest.raises(SystemExit):
            pending()
    assert "the worker process failed (exit code 3); running it here" in caplog.text


def test_an_error_in_the_block_stops_the_worker() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="stop"), Worker() as worker:
        worker.submit(time.sleep, 600)
        queued = worker.submit(math.comb, 4, 2)
        time.sleep(0.5)
        raise RuntimeError("stop")
    assert time.monotonic() - started < 60
    assert queued._future is not None and queued._future.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(math.comb, 4, 2)


def test_a_script_without_a_main_guard_is_not_run_again(tmp_path: Path) -> None:
    """Unlike multiprocessing's spawn, the worker does not re-import the caller's script."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import math
            from referral_graph._worker import Worker

            with open({str(marker)!r}, "a") as f:
                f.write("run\\n")
            with Worker() as worker:
                print(worker.submit(math.comb, 10, 3)())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "120"
    assert marker.read_text() == "run\n"


def test_threads_are_started_only_on_idle_cores(monkeypatch) -> None:
    """Two threads for the trees on an idle four-core machine, one on a busy one or in a
    worker process (a thread waiting for a busy core makes a parallel step much slower)."""
    from referral_graph import _worker

    monkeypatch.setattr(_worker.os, "cpu_count", lambda: 4)
    monkeypatch.delenv("REFERRAL_GRAPH_IN_WORKER", raising=False)
    for running, wanted, expected in ((1, 2, 2), (1, 8, 4), (4, 2, 1), (3, 8, 2), (None, 8, 4)):
        monkeypatch.setattr(_worker, "_running", lambda r=running: r)
        assert _worker.idle_threads(wanted) == expected, (running, wanted)
    monkeypatch.setattr(_worker, "_running", lambda: 1.0)
    monkeypatch.setenv("REFERRAL_GRAPH_IN_WORKER", "1")
    assert _worker.idle_threads(2) == 1


def test_side_by_side_runs_on_idle_cores_one_core_each(monkeypatch) -> None:
    """Items in order, on two threads where two cores are idle, each thread keeping to one
    core (idle_threads says 1 in it); one after another in this thread otherwise."""
    import threading

    from referral_graph import _worker

    monkeypatch.setattr(_worker.os, "cpu_count", lambda: 2)
    monkeypatch.delenv("REFERRAL_GRAPH_IN_WORKER", raising=False)
    barrier = threading.Barrier(2, timeout=10)

    def square(n: int) -> tuple[int, str, int]:
        if n < 2:  # the first two items meet: they run at the same time, or this times out
            barrier.wait()
        return n * n, threading.current_thread().name, _worker.idle_threads(2)

    monkeypatch.setattr(_worker, "_running", lambda: 2.0)  # the two threads of this call
    out = _worker.side_by_side(square, range(5))
    assert [r[0] for r in out] == [0, 1, 4, 9, 16]
    assert out[0][1] != out[1][1]
    assert {threads for _, _, threads in out} == {1}
    monkeypatch.setattr(_worker, "_running", lambda: 1.0)
    assert _worker.idle_threads(2) == 2  # this thread is not capped afterwards

    monkeypatch.setattr(_worker, "_running", lambda: 3.0)  # and another program's
    here = threading.current_thread().name
    assert _worker.side_by_side(lambda n: (n, threading.current_thread().name), [3, 4]) == [
        (3, here),
        (4, here),
    ]
    monkeypatch.setattr(_worker, "_running", lambda: 2.0)
    started: list[int] = []
    with pytest.raises(ZeroDivisionError):
        _worker.side_by_side(lambda n: started.append(n) or 1 // n, [0, *range(1, 50)])
    assert len(started) < 50  # no item starts after the failure (the other thread's at most)


def test_side_by_side_joins_in_when_a_core_becomes_idle(monkeypatch) -> None:
    """In a worker process whose caller is busy at first, the second thread waits, then
    takes items once the caller's core is idle (the caller waiting for the result)."""
    import threading

    from referral_graph import _worker

    monkeypatch.setattr(_worker.os, "cpu_count", lambda: 2)
    monkeypatch.setenv("REFERRAL_GRAPH_IN_WORKER", "1")
    caller_waits = threading.Event()
    monkeypatch.setattr(_worker, "_running", lambda: 2.0 if caller_waits.is_set() else 3.0)
    barrier = threading.Barrier(2, timeout=10)

    def item(n: int) -> tuple[int, str]:
        if n == 0:
            caller_waits.set()  # from now on a core is idle
        if n < 2:  # items 0 and 1 meet: the second thread joined in
            barrier.wait()
        return n, threading.current_thread().name

    out = _worker.side_by_side(item, range(4))
    assert [n for n, _ in out] == [0, 1, 2, 3]
    assert out[0][1] != out[1][1]


def test_the_running_threads_are_read_from_the_kernel() -> None:
    """At least this thread runs while it asks."""
    from referral_graph import _worker

    running = _worker._running()
    assert running is not None and running >= 1


def test_a_process_started_ahead_runs_the_next_function_with_its_modules_imported() -> None:
    from referral_graph import _worker

    _worker.prestart(["wave"])  # a module nothing else imports
    spare = _worker._spare[0]
    with Worker() as worker:  # the function runs in the process started above: its pid
        pid, imported = worker.submit(_pid_and_modules, "wave")()
    assert pid == spare.pid != os.getpid() and imported
    assert not _worker._spare  # taken: the next function gets a new process
    with Worker() as worker:
        pid, imported = worker.submit(_pid_and_modules, "wave")()
    assert pid not in (spare.pid, os.getpid()) and not imported


def _pid_and_modules(name: str) -> tuple[int, bool]:
    return os.getpid(), name in sys.modules


def test_a_process_started_ahead_and_not_used_ends_quietly_with_the_caller() -> None:
    code = textwrap.dedent(
        """
        from referral_graph import _worker
        _worker.prestart(["math"])
        print(_worker._spare[0].pid)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr == ""  # no traceback from the process that got no function
    pid = int(done.stdout)
    with pytest.raises(ProcessLookupError):  # it ended with its caller (no orphan left)
        os.kill(pid, 0)


def test_the_report_command_starts_its_worker_ahead_for_large_inputs_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from referral_graph import _worker, cli

    started: list[list[str]] = []
    monkeypatch.setattr(_worker, "prestart", lambda modules: started.append(list(modules)))
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(b"x" * 100)
    large.write_bytes(b"x" * 200)
    monkeypatch.setattr(cli, "PRESTART_BYTES", 150)
    for events in (small, large):
        cli._prestart_worker(argparse.Namespace(events=str(events), edges=None, store=None))
    assert started == [["referral_graph._report_at_risk", "referral_graph.churn"]]
