"""One BLAS thread: the package's matrices are small (tens of rows), and a multi-threaded BLAS spends
more time waking and synchronising its threads than computing (measured 30x slower on 2 cores for
100 x 961 GEMMs); parallelism comes from worker processes instead.

    one_blas_thread()        a context: one thread inside, applied once however deeply nested
    hold_one_blas_thread()   one thread for the rest of the process (the CLI's policy, every worker)

``threadpoolctl.threadpool_limits`` scans every loaded library each time it is entered (a few
milliseconds, which a study paid about forty times); here it is entered once per outermost context,
and never under the process-wide hold. R's counterpart is ``RhpcBLASctl::blas_set_num_threads(1)``.
"""

from __future__ import annotations

import contextlib
import threading

_STATE: dict = {"depth": 0, "limiter": None, "held": None}
_LOCK = threading.Lock()


@contextlib.contextmanager
def one_blas_thread():
    """One BLAS (and OpenMP) thread inside: ``threadpool_limits(limits=1)`` on entering the outermost
    context, the original limits back when it ends; nothing under :func:`hold_one_blas_thread`."""
    with _LOCK:
        _STATE["depth"] += 1
        if _STATE["depth"] == 1:
            from threadpoolctl import threadpool_limits

            _STATE["limiter"] = threadpool_limits(limits=1)
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0 and _STATE["limiter"] is not None:
                _STATE["limiter"].restore_original_limits()
                _STATE["limiter"] = None


def hold_one_blas_thread() -> None:
    """One BLAS thread for every library loaded now, kept for the rest of the process (idempotent);
    libraries loaded later follow ``OMP_NUM_THREADS`` and its relatives, which the caller sets."""
    with _LOCK:
        if _STATE["held"] is not None:
            return
        from threadpoolctl import threadpool_limits

        _STATE["held"] = threadpool_limits(limits=1)      # never restored
        _STATE["depth"] += 1
