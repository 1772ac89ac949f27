"""parallel_map: task order, worker counts, Dask back-end, bad options."""

from __future__ import annotations

import os

import pytest

from sem_cocreate.exceptions import OptionError
from sem_cocreate.inference.parallel import parallel_map, resolve_jobs


def _square_and_pid(x):
    return x * x, os.getpid()


def test_results_come_back_in_task_order_serial_and_parallel():
    tasks = list(range(23))
    serial = parallel_map(_square_and_pid, tasks, jobs=1, progress=False)
    assert [r[0] for r in serial] == [t * t for t in tasks]
    assert {r[1] for r in serial} == {os.getpid()}
    par = parallel_map(_square_and_pid, tasks, jobs=2, progress=False)
    assert [r[0] for r in par] == [t * t for t in tasks]
    assert os.getpid() not in {r[1] for r in par}               # ran in worker processes


def test_progress_bar_goes_to_stderr(capsys, monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)   # as on a terminal
    parallel_map(_square_and_pid, range(3), jobs=1, progress=True, desc="unit test")
    captured = capsys.readouterr()
    assert "unit test" in captured.err and captured.out == ""


def test_no_progress_bar_off_a_terminal(capsys):
    # stderr is not a terminal under pytest: no carriage-return progress lines in a log
    parallel_map(_square_and_pid, range(3), jobs=1, progress=True, desc="unit test")
    assert capsys.readouterr().err == ""


def test_empty_task_list():
    assert parallel_map(_square_and_pid, [], jobs=2) == []


def test_resolve_jobs():
    n = os.cpu_count() or 1
    assert resolve_jobs(None) == n
    assert resolve_jobs(-1) == n
    assert resolve_jobs(3) == 3
    with pytest.raises(OptionError, match="--jobs must be a whole number"):
        resolve_jobs(1.5)


def test_dask_scheduler_runs_the_tasks():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = parallel_map(_square_and_pid, range(7), scheduler=cluster.scheduler_address, progress=False)
    assert [r[0] for r in out] == [t * t for t in range(7)]
    assert os.getpid() not in {r[1] for r in out}


def test_unreachable_scheduler_is_an_option_error():
    pytest.importorskip("dask.distributed")
    with pytest.raises(OptionError, match="cannot reach the Dask scheduler"):
        parallel_map(_square_and_pid, [1], scheduler="tcp://127.0.0.1:9", progress=False)


def _pid(_task):
    import os

    return os.getpid()


def test_auto_jobs_run_small_jobs_in_this_process():
    import os

    from sem_cocreate.inference.parallel import parallel_map

    assert set(parallel_map(_pid, range(5), jobs=None, progress=False)) == {os.getpid()}
    if (os.cpu_count() or 1) > 1:
        assert set(parallel_map(_pid, range(5), jobs=None, progress=False, serial_below=0)) != {os.getpid()}


def test_single_thread_blas_policy_limits_loaded_blas_and_children():
    import os

    import numpy as np  # noqa: F401 - loads the BLAS the policy limits
    from threadpoolctl import threadpool_info

    from sem_cocreate.inference.parallel import use_single_thread_blas

    use_single_thread_blas()
    use_single_thread_blas()        # idempotent
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas and all(i["num_threads"] == 1 for i in blas)


def test_a_finished_command_ends_the_pool_before_the_process_exits():
    """The CLI's end of a finished command waits for the pool's manager thread: before, it only asked
    it to stop, and in 2 of 10 default runs loky's resource tracker then found a semaphore still
    registered after the exit and printed a raw "leaked semlock objects" UserWarning."""
    from joblib.externals.loky import reusable_executor

    from sem_cocreate import cli
    from sem_cocreate.inference.parallel import submit_background

    submit_background(_square_and_pid, [(3,)])[0].result()
    manager = reusable_executor._executor._executor_manager_thread
    feeder = reusable_executor._executor._call_queue._thread      # releases the queue's semaphore as it ends
    assert manager is not None and manager.is_alive()
    cli._finish_workers()
    assert not manager.is_alive()
    assert feeder is None or not feeder.is_alive()


def test_pool_threads_are_quiet_while_the_pool_ends():
    """An exception in loky's own threads while the pool is shut down is not printed (seen once: a
    KeyError in the manager thread after a one-line input error); other threads' still are."""
    import threading

    from sem_cocreate.inference.parallel import _pool_threads_quiet

    seen = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.thread.name)
    try:
        def boom():
            raise KeyError(1)

        with _pool_threads_quiet():
            for name in ("ExecutorManagerThread", "some-other-thread"):
                t = threading.Thread(target=boom, name=name)
                t.start()
                t.join()
        assert seen == ["some-other-thread"]
        assert threading.excepthook is not previous          # our test hook is back
    finally:
        threading.excepthook = previous
