"""A worker process for long steps that can run beside the main work.

The pipeline's later steps are single-threaded numpy and pandas code, so on a
multi-core machine the other cores sit idle while they run. Some steps need
nothing but their arguments and return a small result (the community detection
and the betweenness sample, the at-risk model and its backtest); :class:`Worker`
runs them in a separate Python process while the caller computes the rest, and
the results are the same as when they run in the calling process.

Each submitted function runs in a fresh Python process (``python -c`` running
:func:`_main`), one after another in submission order, so a step's memory is returned
to the system when it ends; its code keeps to one core, but for :func:`side_by_side`'s
second thread, which joins in only while a core is idle (the caller waiting for it).
Unlike :mod:`multiprocessing`'s spawn method, the child does not re-import the
caller's ``__main__`` module, so a user's script needs no
``if __name__ == "__main__"`` guard. The function and its arguments travel
pickled through the child's standard input; its result, and the log records
and warnings it emitted (logged and warned again here when the result is
taken), through its standard output.

Examples
--------
>>> import math
>>> with Worker(enabled=False) as worker:  # enabled=True runs it in a worker process
...     pending = worker.submit(math.comb, 10, 3)
...     pending()
120
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from threadpoolctl import threadpool_limits

from referral_graph import _heap

T = TypeVar("T")
A = TypeVar("A")

logger = logging.getLogger(__name__)

__all__ = [
    "WORKER_MIN_TIES",
    "Pending",
    "Worker",
    "WorkerFailedError",
    "idle_threads",
    "in_worker",
    "prestart",
    "side_by_side",
]

#: Set in a worker process's environment: its code keeps to one core (see :func:`in_worker`;
#: :func:`side_by_side` takes a second one only while it is idle).
_IN_WORKER = "REFERRAL_GRAPH_IN_WORKER"

#: Ties from which the pipeline runs its long independent steps in a worker process
#: (starting one costs about three seconds of the other core).
WORKER_MIN_TIES = 1_000_000


def in_worker() -> bool:
    """Whether this process is a :class:`Worker`'s: then the caller is busy on the other core,
    and code that would start threads of its own (OpenMP) keeps to one, since a thread that
    waits for a busy core makes the whole step many times slower."""
    return os.environ.get(_IN_WORKER) == "1"


def idle_threads(wanted: int) -> int:
    """How many of `wanted` threads this process may start without waiting for a busy core.

    One in a :class:`Worker` process (:func:`in_worker`), or when no core is free
    beside this thread now (another program, a test run, or this process's own
    other thread is running); else up to the idle cores. An OpenMP thread that
    waits for a busy core makes a whole parallel step many times slower
    (gradient-boosted trees: 74 s instead of 2 s measured on two cores).

    What runs now is the number of runnable threads the kernel reports
    (``/proc/loadavg``), the least of three looks a millisecond apart; where there
    is no such file, the load average of the last minute.

    Examples
    --------
    >>> 1 <= idle_threads(2) <= 2
    True
    """
    wanted = max(1, int(wanted))
    cores = os.cpu_count() or 1
    if in_worker() or getattr(_one_core, "set", False) or wanted == 1 or cores == 1:
        return 1
    running = _running()
    if running is None:
        return min(wanted, cores)
    # the count includes this thread: one core is ours in any case
    free = int(cores - running + 1.0)
    return max(1, min(wanted, cores, free))


#: Set in the threads of :func:`side_by_side`: each keeps to one core.
_one_core = threading.local()


def side_by_side(fn: Callable[[A], T], items: Iterable[A], *, wanted: int = 2) -> list[T]:
    """``[fn(item) for item in items]``, on up to `wanted` threads as cores become idle.

    For steps that release the GIL (numpy, scikit-learn's solvers and trees) and
    are independent of each other, such as the backtest's fits at its cutoffs.
    This thread takes the items one after another; each other thread takes the
    next item only while a core is idle beside the threads already running (it
    looks again every 0.1 s). So the items run on two cores from the start on an
    idle machine, and in a :class:`Worker` process a second thread joins in as
    soon as the caller, busy at first, waits for the result. Each thread keeps to
    one core: :func:`idle_threads` says 1 in it, and the BLAS pool is held at one
    thread meanwhile (a pool of several threads per caller, or an OpenMP team,
    waiting for a busy core makes a step many times slower; threads that each keep
    to one core only share it). The results come in the order of `items`, the
    same whichever thread computes each; the first exception raised is raised
    here, and no item starts after it.

    Examples
    --------
    >>> side_by_side(lambda n: n * n, range(5))
    [0, 1, 4, 9, 16]
    """
    todo = list(items)
    cores = os.cpu_count() or 1
    helpers = min(max(1, int(wanted)), len(todo), cores) - 1
    if helpers < 1 or getattr(_one_core, "set", False):
        return [fn(item) for item in todo]
    results: list[Any] = [None] * len(todo)
    lock = threading.Lock()
    taken = [0]  # items taken so far
    failed = threading.Event()

    def left() -> bool:
        with lock:
            return taken[0] < len(todo) and not failed.is_set()

    def take() -> int | None:
        with lock:
            if failed.is_set() or taken[0] >= len(todo):
                return None
            taken[0] += 1
            return taken[0] - 1

    def idle_core() -> bool:
        running = _running()  # this thread included: a core is idle beside the others
        return running is None or running <= cores

    def work(first: bool) -> None:
        _one_core.set = True
        try:
            while True:
                while not first and left() and not idle_core():
                    failed.wait(0.1)
                i = take()
                if i is None:
                    return
                results[i] = fn(todo[i])
        except BaseException:  # an interruption too: the other threads start nothing more
            failed.set()
            raise
        finally:
            _one_core.set = False

    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(helpers, thread_name_prefix="referral_graph") as pool,
    ):
        joining = [pool.submit(work, False) for _ in range(helpers)]
        work(True)
        for future in joining:
            future.result()
    return results


def _running() -> float | None:
    """Threads running or ready to run on the machine now (this one included), or the load
    average of the last minute where the kernel does not say (None: neither is known)."""
    looks = []
    for _ in range(3):
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                looks.append(int(handle.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            break
        time.sleep(0.001)
    if looks:
        return float(min(looks))
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):  # Windows
        return None


class WorkerFailedError(RuntimeError):
    """The worker process ended without returning a result (killed, out of memory)."""


class Pending(Generic[T]):
    """The result of a function submitted to a :class:`Worker`; call it to wait for it.

    The first call returns the result (or raises the function's exception) and
    logs the records and issues the warnings the function emitted in the worker
    process; later calls return the same result. If the worker process failed,
    the function runs in this process instead (with a warning).
    """

    def __init__(
        self,
        func: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: Future[Any] | None,
    ) -> None:
        self._func = func
        self._args = args
        self._kwargs = kwargs
        self._future = future
        self._done = False
        self._value: T | None = None

    def __call__(self) -> T:
        if not self._done:
            self._value = self._get()
            self._done = True
            self._args, self._kwargs = (), {}  # the arguments are not needed any more
        return self._value  # type: ignore[return-value]

    def _get(self) -> T:
        name = getattr(self._func, "__qualname__", repr(self._func))
        if self._future is None:
            return self._func(*self._args, **self._kwargs)
        try:
            ok, value, records, caught = self._future.result()
        except WorkerFailedError as exc:
            logger.warning("%s: the worker process failed (%s); running it here", name, exc)
            return self._func(*self._args, **self._kwargs)
        for record in records:
            logger_of = logging.getLogger(record.name)
            if logger_of.isEnabledFor(record.levelno):
                logger_of.handle(record)
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]


class Worker:
    """Run functions in a worker process, one after another, while the caller goes on.

    Parameters
    ----------
    enabled : bool, default True
        Use a worker process. When False (or when the process cannot be
        started, or dies), each function runs in this process when its result
        is asked for.

    Notes
    -----
    The function must be importable by name (a module-level function of an
    installed module) and its arguments and result picklable. Leaving the
    ``with`` block waits for the submitted functions; if the block raises, the
    running one is stopped and the others are not started.

    Examples
    --------
    >>> import math
    >>> with Worker() as worker:
    ...     pending = worker.submit(math.comb, 10, 3)
    ...     # ... other work here, while the worker computes ...
    ...     pending()
    120
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = bool(enabled)
        self._queue: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self._queue = []
        self._lock = threading.Condition()
        self._closed = False
        self._cancelled = False
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def submit(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> Pending[T]:
        """Queue ``func(*args, **kwargs)``; call the returned :class:`Pending` for its result."""
        if not self.enabled:
            return Pending(func, args, kwargs, None)
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("This Worker is closed.")
            self._queue.append((future, func, args, kwargs))
            self._lock.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="referral_graph_worker", daemon=True
                )
                self._thread.start()
        return Pending(func, args, kwargs, future)

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the submitted functions; with `cancel`, stop them instead."""
        with self._lock:
            self._closed = True
            if cancel:
                self._cancelled = True
                for future, *_ in self._queue:
                    future.cancel()
                self._queue.clear()
                if self._process is not None and self._process.poll() is None:
                    self._process.kill()
            self._lock.notify()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(cancel=exc_type is not None)

    def _serve(self) -> None:
        """The worker thread: run the queued functions in order, each in a new process."""
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if not self._queue:
                    return
                future, func, args, kwargs = self._queue.pop(0)
                if not future.set_running_or_notify_cancel():
                    continue
            try:
                future.set_result(self._run(func, args, kwargs))
            except BaseException as exc:  # handed to the waiting caller
                future.set_exception(exc)

    def _run(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one function in a new process: (ok, result or exception, records, warnings)."""
        level = logging.getLogger("referral_graph").getEffectiveLevel()
        try:
            with self._lock:
                if self._cancelled:  # stopped between taking the function and starting it
                    raise WorkerFailedError("cancelled")
                self._process = process = _started() or _spawn()
        except OSError as exc:
            raise WorkerFailedError(f"cannot start the worker process: {exc}") from exc
        assert process.stdin is not None and process.stdout is not None
        try:
            try:
                # pickled straight into the pipe: no copy of the arguments as one bytes object
                sent = (func, args, kwargs, level)
                pickle.dump(sent, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                del sent
                process.stdin.close()
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                process.kill()
                raise WorkerFailedError(f"cannot send the function to the worker: {exc}") from exc
            except OSError:
                pass  # the child ended early (killed): reported below
            reply = process.stdout.read()
            code = process.wait()
        finally:
            with self._lock:
                self._process = None
            process.stdout.close()
        if code != 0 or not reply:
            raise WorkerFailedError(f"exit code {code}")
        return pickle.loads(reply)


def _spawn(modules: Iterable[str] = ()) -> subprocess.Popen[bytes]:
    """A new worker process (:func:`_main`), importing `modules` while it waits for work."""
    # the child imports modules from the same places as this process
    path = os.pathsep.join(p for p in sys.path if p)
    return subprocess.Popen(
        [sys.executable, "-c", "from referral_graph._worker import _main; _main()", *modules],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        # a worker runs one function and exits: it keeps its freed memory for reuse
        env={**_heap.worker_environment(os.environ), "PYTHONPATH": path, _IN_WORKER: "1"},
    )


#: A worker process started ahead of its first function (:func:`prestart`), and its lock.
_spare: list[subprocess.Popen[bytes]] = []
_spare_lock = threading.Lock()


def prestart(modules: Iterable[str] = ()) -> None:
    """Start a worker process now, for the next :class:`Worker` function of this process.

    Python and `modules` are imported in it while the caller works on (starting a worker
    costs about a second of the other core: on a busy machine, better spent while a core
    is idle); a process no function took is stopped when this one exits.

    Examples
    --------
    >>> prestart(["math"])
    >>> with Worker() as worker:  # its function runs in the process started above
    ...     worker.submit(abs, -3)()
    3
    """
    with _spare_lock:
        if not _spare:
            try:
                _spare.append(_spawn(modules))
            except OSError:  # the function will start its own, and say why it cannot
                return


def _started() -> subprocess.Popen[bytes] | None:
    """The process :func:`prestart` started, if it still runs (taken: the next one is new)."""
    with _spare_lock:
        process = _spare.pop() if _spare else None
    if process is not None and process.poll() is not None:
        return None
    return process


def _stop_spare() -> None:
    """Stop a process :func:`prestart` started that no function took."""
    process = _started()
    if process is None:
        return
    assert process.stdin is not None
    process.stdin.close()  # end of input: it exits without a word (see _main)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


atexit.register(_stop_spare)  # (nothing to do when no process was started ahead)


class _Collect(logging.Handler):
    """Keep every record (their message formatted, so that they pickle)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        record.exc_info, record.exc_text = None, None
        self.records.append(record)


def _main() -> None:
    """The worker process: read (function, arguments, log level); write the reply.

    The reply is (ok, result or exception, log records, warnings).

    Anything the function writes to the standard output (a C library's print)
    goes to the standard error instead, so that it cannot corrupt the reply.
    """
    reply_to = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for module in sys.argv[1:]:  # a process started ahead (prestart): imported meanwhile
        importlib.import_module(module)
    try:
        func, args, kwargs, level = pickle.load(sys.stdin.buffer)
    except EOFError:  # started ahead, and no function came: nothing to do
        return
    collect = _Collect()
    package = logging.getLogger("referral_graph")
    package.addHandler(collect)
    package.setLevel(level)
    package.propagate = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ok, value = True, func(*args, **kwargs)
        except Exception as exc:  # raised again in the caller
            try:
                pickle.dumps(exc)
            except Exception:  # an exception that cannot travel
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            ok, value = False, exc
    del func, args, kwargs
    notes = [(w.message, w.category, w.filename, w.lineno) for w in caught]
    pickle.dump((ok, value, collect.records, notes), reply_to, protocol=pickle.HIGHEST_PROTOCOL)
    reply_to.flush()
