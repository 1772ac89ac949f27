"""Run independent tasks in parallel: local processes (joblib / loky) or a Dask distributed cluster.

Used for bootstrap resamples and Monte Carlo replications. Results come back in task order, so
anything that seeds each task itself (one child seed per replicate) gives the same numbers whatever
the number of workers or the scheduler.
"""

from __future__ import annotations

import contextlib

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..exceptions import OptionError

BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# auto (jobs=None) runs a job in this process below this many tasks: a worker process costs 1-2 s of CPU
# to start (interpreter, numpy, pandas, scipy.linalg, the package), while a 50-resample bootstrap chunk of
# the 9-factor model costs about 0.1 s; measured on 2 cores, in-process won every pair up to 2,000 resamples
AUTO_SERIAL_TASKS = 100


def use_single_thread_blas() -> None:
    """One BLAS thread for the whole process and for every worker it starts (the CLI's policy).

    The models' matrices are small (tens of rows): a multi-threaded BLAS spends more time waking and
    synchronising threads than computing, and parallelism comes from worker processes instead.
    Applies ``threadpoolctl.threadpool_limits(1)`` to the libraries already loaded (kept:
    :func:`sem_cocreate._blas.hold_one_blas_thread`) and sets
    ``OMP_NUM_THREADS`` and its relatives so that later-loaded libraries and child processes follow.
    Idempotent; R's counterpart is ``RhpcBLASctl::blas_set_num_threads(1)``.
    """
    from .._blas import hold_one_blas_thread

    for name in BLAS_ENV:
        os.environ[name] = "1"
    hold_one_blas_thread()


def resolve_jobs(jobs: int | None) -> int:
    """Number of local worker processes: ``None`` or ``0`` means all cores, negative counts back (-1 = all)."""
    ncpu = os.cpu_count() or 1
    if jobs is None or jobs == 0:
        return ncpu
    if not isinstance(jobs, int):
        raise OptionError(f"--jobs must be a whole number, got {jobs!r}")
    if jobs < 0:
        return max(1, ncpu + 1 + jobs)
    return jobs


def _worker_init() -> None:
    """Run first in every local worker: Ctrl-C reaches the whole process group, but only the parent
    handles it (it ends the workers), so a worker never prints its own KeyboardInterrupt traceback;
    and no raw RuntimeWarning from a worker reaches stderr."""
    import signal
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .._blas import hold_one_blas_thread

    hold_one_blas_thread()      # (BLAS_ENV already gives one thread: no per-task threadpoolctl scans)
    # a degenerate resample (singular matrix, log of 0) is counted as failed by the caller (n_failed);
    # numpy's RuntimeWarning would reach the terminal raw from the worker's inherited stderr
    warnings.simplefilter("ignore", RuntimeWarning)


@contextlib.contextmanager
def _sigint_blocked_for_new_workers():
    """Block SIGINT in this thread (POSIX) while the pool spawns its processes; a Ctrl-C meanwhile stays
    pending and is delivered to this process when the block ends.

    A spawned worker inherits the blocked mask across exec, so a Ctrl-C that reaches the process group
    while the worker is still importing (before :func:`_worker_init` ignores it) stays pending in it
    instead of raising there and printing a traceback. The resource trackers are started first: starting
    one unblocks SIGINT in the calling thread (``multiprocessing.resource_tracker``), which would undo
    the block before the workers are spawned.
    """
    import signal

    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    try:
        from multiprocessing import resource_tracker as mp_tracker

        from joblib.externals.loky.backend import resource_tracker as loky_tracker

        mp_tracker.ensure_running()
        loky_tracker.ensure_running()
    except Exception:  # noqa: BLE001 - best effort: without it a worker may print a traceback on Ctrl-C
        pass
    old = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


_POOL_THREADS = ("ExecutorManagerThread", "QueueFeederThread")


@contextlib.contextmanager
def _pool_threads_quiet():
    """While the pool is torn down, an exception in one of its own threads (loky's manager thread can
    raise ``KeyError`` in ``add_call_item_to_queue`` when a job still pending is cancelled: seen once in
    the test suite, after a one-line input error) is the pool ending, not news: it is not printed.
    Exceptions in any other thread go to the previous hook."""
    import threading

    previous = threading.excepthook

    def hook(args):
        if getattr(args.thread, "name", "") not in _POOL_THREADS:
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        if threading.excepthook is hook:
            threading.excepthook = previous


def shutdown_workers(*, wait: bool = False) -> None:
    """End every local worker process now (loky's reusable executor), without waiting for tasks.

    Called by the CLI on Ctrl-C / SIGTERM so that no worker outlives the run, and with ``wait`` at the
    end of a finished command: the pool's manager thread then also releases the pool's semaphores
    before this process exits (without it, loky's resource tracker sometimes found one still registered
    and printed a "leaked semlock" warning after the run). Creates nothing when no pool exists.
    """
    mod = sys.modules.get("joblib.externals.loky.reusable_executor")
    ex = getattr(mod, "_executor", None) if mod is not None else None
    if ex is not None:
        try:
            # the task queue's feeder thread (a daemon) releases the queue's write lock as it ends, which
            # unregisters the lock's semaphore: when the process exited meanwhile, the tracker found it
            # still registered ("leaked semlock", seen in 5 of 20 runs with Word reports); wait for it too
            feeder = getattr(getattr(ex, "_call_queue", None), "_thread", None)
            with _pool_threads_quiet() if wait else contextlib.nullcontext():
                ex.shutdown(wait=wait, kill_workers=True)
                if wait and feeder is not None:
                    feeder.join(timeout=5.0)
        except Exception:  # noqa: BLE001 - best effort while the process ends
            pass


def check_scheduler(address: str, *, timeout: float = 3.0) -> None:
    """Check a ``--scheduler`` address before any work: its form (``tcp://HOST:PORT`` or
    ``HOST:PORT``) and that something listens there, within ``timeout`` seconds.

    Raises
    ------
    OptionError
        A malformed address or nothing reachable there (one line saying which).
    """
    import socket
    from urllib.parse import urlsplit

    text = str(address).strip()
    if "://" not in text:
        text = "tcp://" + text
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if parts.scheme not in ("tcp", "tls") or not host or port is None or parts.path not in ("", "/"):
        raise OptionError(f"--scheduler {address!r} is not an address like tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__ if not isinstance(exc, TimeoutError) else "timed out"
        raise OptionError(f"cannot reach the Dask scheduler at {address!r} ({reason} within {timeout:g} s); "
                          "start it or check --scheduler") from None


def _progress_bar(total: int, desc: str, enabled: bool):
    # progress only on a terminal: a log file or pipe gets no carriage-return lines
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc or "tasks", unit="task", leave=False, dynamic_ncols=True,
                file=None)  # tqdm writes to stderr by default


def parallel_map(func: Callable[[Any], Any], tasks: Iterable[Any], *, jobs: int | None = None,
                 scheduler: str | Any | None = None, progress: bool = True, desc: str = "",
                 serial_below: int = AUTO_SERIAL_TASKS) -> list:
    """Apply ``func`` to every task, in parallel, and return the results in task order.

    Parameters
    ----------
    func : callable
        A picklable function of one argument (a module-level function or a bound method of a
        picklable object).
    tasks : iterable
        One argument per call.
    jobs : int, optional
        Local worker processes (joblib's loky backend); ``None`` = all cores, except that fewer than
        ``serial_below`` tasks run here; ``1`` = run here, serially, with single-threaded BLAS. The
        worker processes are one persistent pool (loky's reusable executor), shared by every call.
    scheduler : str or dask.distributed.Client, optional
        Address of a Dask distributed scheduler (e.g. ``"tcp://10.0.0.5:8786"``) or a connected
        client; when given, ``jobs`` is ignored and the tasks run on the cluster.
    progress : bool
        Show a progress bar with a time estimate on stderr (tqdm).
    desc : str
        Label of the progress bar.
    serial_below : int
        With ``jobs=None``, run in this process when there are fewer tasks than this (starting
        workers would cost more than the job).

    Returns
    -------
    list
        ``[func(t) for t in tasks]``, in task order.

    Raises
    ------
    OptionError
        A bad ``jobs`` value or a scheduler that cannot be reached.
    """
    tasks = list(tasks)
    if not tasks:
        return []
    if scheduler is not None:
        return _dask_map(func, tasks, scheduler=scheduler, progress=progress, desc=desc)
    n_jobs = min(resolve_jobs(jobs), len(tasks))
    if jobs is None and len(tasks) < serial_below:
        n_jobs = 1
    bar = _progress_bar(len(tasks), desc, progress)
    try:
        if n_jobs == 1:
            from .._blas import one_blas_thread

            out = []
            with one_blas_thread():
                for t in tasks:
                    out.append(func(t))
                    if bar is not None:
                        bar.update(1)
            return out
        from joblib.externals.loky import get_reusable_executor

        # one persistent pool; each worker gets one BLAS thread (small matrices, processes in parallel)
        # workers are spawned (on the first submit) with SIGINT blocked, which they inherit
        with _sigint_blocked_for_new_workers():
            executor = get_reusable_executor(max_workers=n_jobs, timeout=300, initializer=_worker_init,
                                             env={k: "1" for k in BLAS_ENV})
            futures = [executor.submit(func, t) for t in tasks]
        out = []
        for fut in futures:
            out.append(fut.result())
            if bar is not None:
                bar.update(1)
        return out
    finally:
        if bar is not None:
            bar.close()


class Background:
    """A job running in one worker process while this process goes on: ``.result()`` waits for it.

    Made by :func:`run_in_background`; when no second CPU is there (or ``jobs=1``) the job runs in this
    process at ``.result()``, so the numbers never depend on which way it ran.
    """

    def __init__(self, func, args, future=None):
        self._func, self._args, self._future = func, args, future
        self.in_background = future is not None

    def result(self):
        if self._future is None:
            from .._blas import one_blas_thread

            with one_blas_thread():
                return self._func(*self._args)
        return self._future.result()


def run_in_background(func, *args, jobs: int | None = None) -> Background:
    """Start ``func(*args)`` in the background worker (:func:`submit_background`) and return at once;
    with an explicit ``jobs`` (a pool of that size is the user's choice; it is never resized under a
    running job) or a single CPU it is deferred to ``.result()`` in this process."""
    if jobs is not None or resolve_jobs(None) < 2:
        return Background(func, args)
    return Background(func, args, submit_background(func, [args])[0])


def submit_background(func, arg_tuples) -> list:
    """Submit ``func(*args)`` for each tuple to the one background worker process (the persistent pool
    at one worker: the BLAS policy and Ctrl-C handling of :func:`parallel_map`); its futures, which run
    one after another in submission order. A future not yet started can be cancelled and run elsewhere."""
    from joblib.externals.loky import get_reusable_executor

    with _sigint_blocked_for_new_workers():
        executor = get_reusable_executor(max_workers=1, timeout=300, initializer=_worker_init,
                                         env={k: "1" for k in BLAS_ENV})
        return [executor.submit(func, *args) for args in arg_tuples]


class Shared:
    """Tasks shared between the background worker and this process (made by :func:`share_work`).

    The worker takes the tasks from the first on, fed by a thread of this process with at most
    ``in_flight`` at a time in its queue (2: the running one and the next, so it never waits for the
    next; 1 for a few long tasks); ``.result()`` takes the rest from the last one down
    and runs them here, then waits for the worker's. A task's result does not depend on where it ran, so
    neither does the list.
    """

    def __init__(self, func, arg_tuples, remote=None, in_flight: int = 2, bar=None, prepare=None):
        import threading

        self._prepare = prepare
        self._bar = bar
        self._func, self._args = func, list(arg_tuples)
        self._out: list = [None] * len(self._args)
        self._futures: dict = {}
        self._next, self._last = 0, len(self._args)        # worker: [0, next); here: [last, n)
        self._lock = threading.Lock()
        self._in_flight = max(1, int(in_flight))
        self.in_background = remote is not None
        self._feeder = None
        if remote is not None:
            self._rfunc, self._rargs = remote
            self._feeder = threading.Thread(target=self._feed, name="sem_cocreate-share", daemon=True)
            self._feeder.start()

    def _claim_front(self):
        with self._lock:
            if self._next >= self._last:
                return None
            self._next += 1
            return self._next - 1

    def _feed(self):
        try:
            # claim nothing until the worker is up and has imported the task's module (it may be starting,
            # or busy with earlier jobs): meanwhile every task is still this process's to take
            pfunc, pargs = self._prepare or (_ready, (self._rfunc.__module__,))
            submit_background(pfunc, [pargs])[0].result()
            flight = []
            while True:
                while len(flight) < self._in_flight:
                    i = self._claim_front()
                    if i is None:
                        break
                    fut = submit_background(self._rfunc, [self._rargs[i]])[0]
                    self._futures[i] = fut
                    flight.append(fut)
                if not flight:
                    return
                flight.pop(0).exception()                   # wait for the oldest (its error surfaces later)
                self._tick()
        except Exception:  # noqa: BLE001 - the pool was shut down (Ctrl-C): the parent is ending the run
            return

    def result(self) -> list:
        from .._blas import one_blas_thread

        with one_blas_thread():
            while True:
                with self._lock:
                    if self._last <= self._next:
                        break
                    self._last -= 1
                    i = self._last
                self._out[i] = self._func(*self._args[i])
                self._tick()
        if self._feeder is not None:
            self._feeder.join()
        for i in range(self._next if self._feeder is not None else 0):
            self._out[i] = self._futures[i].result()
        if self._bar is not None:
            self._bar.close()
        return self._out

    def _tick(self):
        if self._bar is not None:
            self._bar.update(1)          # tqdm serialises updates from the two threads


def background_alive() -> bool:
    """Whether the pool already has a live worker (started earlier in this process)."""
    mod = sys.modules.get("joblib.externals.loky.reusable_executor")
    ex = getattr(mod, "_executor", None) if mod is not None else None
    procs = getattr(ex, "_processes", None) or {}
    return bool(ex is not None and not getattr(ex, "_broken", False) and any(p.is_alive() for p in procs.values()))


def start_background(*modules: str, jobs: int | None = None) -> None:
    """Start the background worker now, importing ``modules``, so that it is up when the first shared job
    comes (a worker needs about a second to start: interpreter, numpy, pandas, scipy, this package).
    Nothing with an explicit ``jobs`` or a single CPU (no background worker is used then)."""
    if jobs is not None or resolve_jobs(None) < 2:
        return
    submit_background(_ready_all, [modules])


def _ready_all(*modules: str) -> None:
    for module in modules:
        _ready(module)


def _ready(module: str) -> None:
    import importlib

    importlib.import_module(module)


def share_applies(n_tasks: int) -> bool:
    """Whether an automatic (``jobs=None``) job of ``n_tasks`` is shared between this process and one
    background worker (:func:`share_work`) rather than mapped over a pool: always on two CPUs (a second
    worker would only compete with this process), and for small jobs on more."""
    return resolve_jobs(None) <= 2 or n_tasks < AUTO_SERIAL_TASKS


def share_work(func, arg_tuples, *, jobs: int | None = None, remote=None, in_flight: int = 2,
               progress: bool = False, desc: str = "", prepare=None) -> Shared:
    """Share ``func(*args)`` for every tuple between the background worker and this process; returns at
    once (the worker starts on the first tasks), ``.result()`` runs the rest here (:class:`Shared`). With
    an explicit ``jobs`` or a single CPU everything runs here at ``.result()``. ``remote``: ``(function, argument
    tuples)`` the worker runs instead (the same work in a cheaper-to-send form, e.g. with a pickled payload
    it unpickles once). ``prepare``: ``(function, arguments)`` the worker runs before it takes any task
    (default: import the task function's module).
    """
    arg_tuples = list(arg_tuples)
    bar = _progress_bar(len(arg_tuples), desc, progress) if arg_tuples else None
    if jobs is not None or resolve_jobs(None) < 2 or not arg_tuples:
        return Shared(func, arg_tuples, bar=bar)
    return Shared(func, arg_tuples, remote if remote is not None else (func, arg_tuples), in_flight=in_flight,
                  bar=bar, prepare=prepare)


def _dask_map(func, tasks, *, scheduler, progress, desc):
    try:
        from dask.distributed import Client, as_completed
    except ImportError:  # pragma: no cover - dask is an optional extra
        raise OptionError("--scheduler needs dask.distributed; install it with pip install "
                          "'sem_cocreate[dask]'") from None
    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise OptionError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); "
                              "check --scheduler ADDRESS") from None
    else:
        client = scheduler
    bar = _progress_bar(len(tasks), desc, progress)
    try:
        futures = client.map(func, tasks, pure=False)
        try:
            for _ in as_completed(futures):
                if bar is not None:
                    bar.update(1)
            return client.gather(futures)
        except BaseException:   # Ctrl-C / SIGTERM: the cluster stops working for us
            client.cancel(futures)
            raise
    finally:
        if bar is not None:
            bar.close()
        if own:
            client.close(timeout=2)
