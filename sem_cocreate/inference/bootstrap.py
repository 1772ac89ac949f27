"""Nonparametric bootstrap and Monte Carlo intervals for every parameter and every ``:=`` parameter.

``bootstrap_draws`` resamples respondents with replacement (within groups), refits the model and
keeps every estimate row (free, fixed and ``:=``) and its ``std.all`` value. ``bootstrap_estimates``
turns the draws into a lavaan ``parameterEstimates`` table with bootstrap SEs and percentile,
bias-corrected (lavaan's ``bca.simple``) or BCa (jackknife acceleration) intervals;
``monte_carlo_estimates`` gives semTools ``monteCarloCI``-style intervals of the ``:=`` parameters.

Speed: for complete-data ML (and MLR, whose estimates are ML's) a resample only changes the sample
moments, which come from resampling counts; one compiled model (:class:`_fastml.FastML`) refits a
whole chunk of resamples at once (stacked matrices, BFGS from the full-sample estimates with the
inverse expected information as the first Hessian), ``:=`` values are evaluated for all draws at once.
Resamples the batch does not converge are retried one at a time, from the engine's starting values.
Other estimators (FIML, WLSMV) refit through :func:`fit.fit_sem` per resample (correct, slower).

Failure rules (each resample has its own child seed of ``numpy.random.SeedSequence(seed)``):

- *not converged* (no convergence, implied covariance not positive definite, singular resampled
  covariance) — dropped; lavaan drops these too (``error.idx``);
- *improper solution* (negative variance, latent or residual covariance matrix not positive
  definite; lavaan's post-check) — dropped with ``exclude_improper=True`` (our default, the
  contract); lavaan keeps them (``nonadmissible``), ``exclude_improper=False`` matches lavaan.

Both counts are in ``BootstrapDraws.failed_reasons``; more than 5% failed gives a :class:`FitWarning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import FitWarning, OptionError
from ..engine._frames import frame_rows

NOT_CONVERGED = "not converged"
IMPROPER = "improper solution"
FAIL_WARN_SHARE = 0.05
CI_TYPES = ("perc", "bc", "bca")
# convergence of a refit: largest |dF/dtheta| below this. At the med9 model it leaves F within ~1e-12 of
# its minimum and the estimates within ~1e-6, the precision of lavaan's nlminb (rel.tol 1e-10 on F).
REFIT_GTOL = 1e-6
# cached centred cross-products per group (n x p(p+1)/2) up to this many cells (256 MB); row blocks beyond
_PRODUCT_CELLS = 1 << 25


@dataclass(frozen=True)
class BootstrapDraws:
    """Retained bootstrap draws of every estimate row.

    Attributes
    ----------
    est : ndarray (n_ok, n_rows)
        ``est`` of every row of ``result.estimates`` (same order, ``:=`` rows included).
    std_all : ndarray (n_ok, n_rows)
        ``std.all`` of the same rows.
    n_boot : int
        Resamples drawn.
    n_failed : int
        Resamples excluded (``n_boot - n_ok``).
    failed_reasons : dict
        ``{"not converged": k, "improper solution": m, ...}`` over all resamples; improper solutions
        are counted even when kept (see ``exclude_improper``).
    seed : int
        The seed every resample's child seed derives from.
    exclude_improper : bool
        Whether improper solutions were excluded (True) or kept as lavaan does (False).
    index : ndarray
        Resample number (0-based) of every retained draw.
    """

    est: np.ndarray
    std_all: np.ndarray
    n_boot: int
    n_failed: int
    failed_reasons: dict
    seed: int
    exclude_improper: bool = True
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)

    @property
    def n_ok(self) -> int:
        return int(self.est.shape[0])

    @property
    def n_failed_lavaan(self) -> int:
        """Resamples lavaan would drop (non-converged only)."""
        return int(self.failed_reasons.get(NOT_CONVERGED, 0))


# ============================================================================ per-resample work

_ALLOCATOR_WARM = False


def _warm_allocator() -> None:
    """Allocate and free one 16 MB block, once per process.

    glibc's malloc serves blocks above its mmap threshold (128 kB at start) with fresh pages from the
    kernel, and raises the threshold to the size of the largest mapped block freed so far. The
    batched refit's (resamples x p x p) temporaries are a few hundred kB: without this, every one of
    them costs page faults (measured: 40 ms of system time per 50-resample chunk, 0 after). Harmless
    elsewhere.
    """
    global _ALLOCATOR_WARM
    if not _ALLOCATOR_WARM:
        block = np.ones(1 << 21)
        del block
        _ALLOCATOR_WARM = True


def _positive_definite(C):
    """(positive definite, log-determinant) of a stack of covariance matrices: one batched Cholesky; a
    stack with a failing or nearly singular member (smallest pivot^2 below 1e-12 of the largest diagonal
    entry) is decided member by member by its smallest eigenvalue, as before."""
    try:
        L = np.linalg.cholesky(C)
        piv = np.diagonal(L, axis1=1, axis2=2)
        clear = (piv * piv).min(axis=1) > 1e-12 * np.diagonal(C, axis1=1, axis2=2).max(axis=1)
    except np.linalg.LinAlgError:
        clear = np.zeros(C.shape[0], dtype=bool)
    logdet = np.full(C.shape[0], np.nan)
    if clear.all():
        return clear, 2.0 * np.log(piv).sum(axis=1)
    ok = np.linalg.eigvalsh(C).min(axis=1) > 0
    sign, ld = np.linalg.slogdet(C)
    logdet[ok] = ld[ok]
    return ok, logdet


class _Resampler:
    """Everything a worker needs to refit resamples; picklable, small."""

    def __init__(self, result, *, exclude_improper: bool):
        from ..engine.estimators._fastml import FastML

        model = result.internals["model"]
        frames = result.internals["frames"]
        self.fast = FastML(model)
        self.model = model
        self.ov = list(model.ov)
        self.X = [f[self.ov].to_numpy(dtype=float) for f in frames]
        self.xbar = [x.mean(axis=0) for x in self.X]
        self.Xc = [x - m for x, m in zip(self.X, self.xbar)]
        self.theta0 = np.asarray(result.theta, dtype=float)
        # expected information at theta_hat does not depend on the sample moments: one inverse for all refits,
        # with one BLAS thread as the refits themselves (the same last digits however the caller set BLAS)
        from .._blas import one_blas_thread

        with one_blas_thread():
            _f, _g, info = self.fast.value_grad_info(self.theta0, self.moments([np.ones(x.shape[0]) for x in self.X]))
            try:
                self.hess_inv0 = np.linalg.inv(2.0 * info)
            except np.linalg.LinAlgError:
                self.hess_inv0 = np.linalg.pinv(2.0 * info)
        self.exclude_improper = exclude_improper
        self.n_rows = len(model.spec.partable)

    def moments(self, weights):
        """Sample moments of the data with case weights (bootstrap counts), divisor sum(weights)."""
        from ..engine.estimators._fastml import Moments

        ns, covs, means = [], [], []
        for Xc, xbar, w in zip(self.Xc, self.xbar, weights):
            n = float(w.sum())
            m = (w @ Xc) / n
            C = (Xc.T * w) @ Xc / n - np.outer(m, m)
            ns.append(int(round(n)))
            covs.append(0.5 * (C + C.T))
            means.append(m + xbar)
        return Moments(ns, covs, means)

    def refit(self, weights):
        """(row values, std.all rows, status) for one weighted sample; status '' when usable."""
        stats = self.moments(weights)
        if not all(np.isfinite(ld) for ld in stats.logdet_s) or any(
                np.linalg.eigvalsh(c).min() <= 0 for c in stats.cov):
            return None, None, NOT_CONVERGED
        self.fast.set_fixed_x(stats)
        theta, ok, _msg = self.fast.fit_quasi_newton(stats, self.theta0, self.hess_inv0, gtol=REFIT_GTOL,
                                                     maxit=60)
        if not ok:   # second chance, as a fresh fit would start: the engine's starting values, Fisher scoring
            from ..engine.estimate import start_values

            start = start_values(self.model, stats)
            theta, ok, _msg = self.fast.fit(stats, start, gtol=REFIT_GTOL, maxit=100)
        if not ok:
            return None, None, NOT_CONVERGED
        values, std, improper = self.fast.solution(theta)
        return values, std, (IMPROPER if improper else "")

    def run_chunk(self, task):
        """Refit the resamples ``start .. stop-1`` of ``entropy``; returns arrays and statuses."""
        from .._blas import one_blas_thread

        _warm_allocator()
        with one_blas_thread():      # small matrices: BLAS threads only cost time
            return self._run_chunk(task)

    def _weights(self, entropy, b):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(b,)))
        return [np.bincount(rng.integers(0, x.shape[0], x.shape[0]), minlength=x.shape[0]).astype(float)
                for x in self.X]

    def _batchable(self) -> bool:
        return getattr(self, "fast", None) is not None and self.fast.batchable

    def _run_chunk(self, task):
        if self._batchable():
            return self._run_chunk_batch(task)
        entropy, start, stop = task
        vals = np.full((stop - start, self.n_rows), np.nan)
        stds = np.full_like(vals, np.nan)
        status = []
        for b in range(start, stop):
            v, s, st = self.refit(self._weights(entropy, b))
            if v is not None:
                vals[b - start], stds[b - start] = v, s
            status.append(st)
        return vals, stds, status

    def _run_chunk_batch(self, task):
        """All resamples of a chunk refitted together (:meth:`FastML.fit_quasi_newton_batch`); any
        resample the batch does not converge goes through :meth:`refit` (with its fresh-start fallback)."""
        entropy, start, stop = task
        return self._refit_many([self._weights(entropy, b) for b in range(start, stop)])

    def _refit_many(self, weights):
        """Refit several weighted samples as one batch; (values, std.all, statuses)."""
        from ..engine.estimators._fastml import BatchMoments

        B = len(weights)
        covs, means, logdets, usable = [], [], [], np.ones(B, dtype=bool)
        for g, (Xc, xbar) in enumerate(zip(self.Xc, self.xbar)):
            Wt = np.stack([w[g] for w in weights])                       # (B, n)
            m, C = self._batch_moments(g, Wt)
            ok, logdet = _positive_definite(C)
            usable &= ok
            covs.append(C)
            means.append(m + xbar)
            logdets.append(logdet)
        ns = [int(round(w.sum())) for w in weights[0]]
        vals = np.full((B, self.n_rows), np.nan)
        stds = np.full_like(vals, np.nan)
        status = [NOT_CONVERGED] * B
        idx = np.flatnonzero(usable)
        if idx.size:
            batch = BatchMoments(ns, [c[idx] for c in covs], [m[idx] for m in means],
                                 logdet_s=[ld[idx] for ld in logdets])
            theta, ok = self.fast.fit_quasi_newton_batch(batch, self.theta0, self.hess_inv0, gtol=REFIT_GTOL)
            good = idx[ok]
            if good.size:
                v, s, improper = self.fast.solution_batch(theta[ok], batch.subset(np.flatnonzero(ok)))
                vals[good], stds[good] = v, s
                for b, imp in zip(good, improper):
                    status[b] = IMPROPER if imp else ""
            for b in idx[~ok]:                                          # hard cases: one at a time
                v, s, st = self.refit(weights[b])
                if v is not None:
                    vals[b], stds[b] = v, s
                status[b] = st
        return vals, stds, status

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_products", None)          # rebuilt where it is used: not shipped to workers
        return state

    def _batch_moments(self, g, Wt):
        """Means and covariances (divisor sum(w)) of the weighted samples ``Wt`` (B x n) of group ``g``.

        All resamples' cross-products come from one GEMM, ``Wt @ P`` with the n x p(p+1)/2 products
        ``P[:, (a, b)] = xc_a xc_b`` of the centred data (cached, or built in row blocks when it would
        exceed ``_PRODUCT_CELLS``), so no (B x n x p) temporary is formed.
        """
        Xc = self.Xc[g]
        n_obs, p = Xc.shape
        iu = np.triu_indices(p)
        ntri = iu[0].size
        n = Wt.sum(axis=1)
        m = (Wt @ Xc) / n[:, None]
        cache = self.__dict__.setdefault("_products", {})
        if g not in cache and n_obs * ntri <= _PRODUCT_CELLS:
            cache[g] = Xc[:, iu[0]] * Xc[:, iu[1]]
        if g in cache:
            tri = Wt @ cache[g]
        else:
            tri = np.zeros((Wt.shape[0], ntri))
            step = max(1, _PRODUCT_CELLS // (8 * ntri))
            for a in range(0, n_obs, step):
                xa = Xc[a:a + step]
                tri += Wt[:, a:a + step] @ (xa[:, iu[0]] * xa[:, iu[1]])
        C = np.empty((Wt.shape[0], p, p))
        C[:, iu[0], iu[1]] = tri
        C[:, iu[1], iu[0]] = tri
        C /= n[:, None, None]
        C -= m[:, :, None] * m[:, None, :]
        return m, C

    def run_jackknife(self, task):
        """Leave-one-out refits for the cases ``start .. stop-1`` (numbered across groups)."""
        start, stop = task
        sizes = [x.shape[0] for x in self.X]
        offsets = np.cumsum([0] + sizes)
        all_weights = []
        for c in range(start, stop):
            g = int(np.searchsorted(offsets, c, side="right") - 1)
            weights = [np.ones(n) for n in sizes]
            weights[g][c - offsets[g]] = 0.0
            all_weights.append(weights)
        if self._batchable():
            out_v, out_s = [], []
            for k in range(0, len(all_weights), 50):
                v, s, _st = self._refit_many(all_weights[k:k + 50])
                out_v.append(v)
                out_s.append(s)
            return np.vstack(out_v), np.vstack(out_s)
        vals = np.full((stop - start, self.n_rows), np.nan)
        stds = np.full_like(vals, np.nan)
        for c, weights in zip(range(start, stop), all_weights):
            v, s, st = self.refit(weights)
            if v is not None and st != NOT_CONVERGED:
                vals[c - start], stds[c - start] = v, s
        return vals, stds


class _GenericResampler(_Resampler):
    """Refit through :func:`fit.fit_sem` (FIML, WLSMV and anything the fast path does not cover)."""

    def __init__(self, result, *, exclude_improper: bool):
        self.frames = result.internals["frames"]
        self.spec = result.spec
        self.estimator = result.estimator
        self.missing = result.missing
        self.X = [f.to_numpy() for f in self.frames]
        self.exclude_improper = exclude_improper
        self.n_rows = len(result.spec.partable)

    def refit(self, weights):
        from ..engine.fit import fit_sem

        parts = []
        for g, (frame, w) in enumerate(zip(self.frames, weights)):
            idx = np.repeat(np.arange(len(frame)), w.astype(int))
            part = frame.iloc[idx].reset_index(drop=True)
            if len(self.frames) > 1:
                part = part.assign(__group__=self.spec.groups[g])
            parts.append(part)
        data = pd.concat(parts, ignore_index=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fit_sem(self.spec, data, estimator=self.estimator, missing=self.missing,
                              group="__group__" if len(self.frames) > 1 else None)
        except Exception:  # noqa: BLE001 - a failed resample is data, not an error
            return None, None, NOT_CONVERGED
        if not res.converged:
            return None, None, NOT_CONVERGED
        n = self.n_rows
        est = res.estimates
        improper = any("Heywood case: negative" in s or "not positive" in s for s in res.notes)
        return (est["est"].to_numpy(float)[:n], est["std.all"].to_numpy(float)[:n],
                IMPROPER if improper else "")


def _resampler(result, *, exclude_improper):
    if result.theta is None or "model" not in result.internals or "frames" not in result.internals:
        raise OptionError("bootstrap needs a result from fit_sem (with its data); refit the model")
    fast_ok = (result.estimator.upper() in ("ML", "MLR") and result.missing == "listwise"
               and not result.spec.constraints)
    cls = _Resampler if fast_ok else _GenericResampler
    return cls(result, exclude_improper=exclude_improper)


# ============================================================================ defined parameters

def _defined_from_rows(spec, values: np.ndarray) -> np.ndarray:
    """``:=`` values for every row of ``values`` (draws x partable rows) -> (draws, n_defined)."""
    from ..engine.defined import compile_expression

    if not spec.defined:
        return np.zeros((values.shape[0], 0))
    pt = spec.partable
    env: dict[str, np.ndarray] = {}
    for r, row in enumerate(frame_rows(pt)):
        if row.label and row.label not in env:
            env[row.label] = values[:, r]
    for r, row in enumerate(frame_rows(pt)):
        env[row.plabel] = values[:, r]
    out = np.empty((values.shape[0], len(spec.defined)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, (name, expr) in enumerate(spec.defined):
            val = compile_expression(expr, name=name)(env)
            val = np.real(np.broadcast_to(np.asarray(val, dtype=complex if np.iscomplexobj(val) else float),
                                          (values.shape[0],)))
            env[name] = val
            out[:, i] = val
    return out


def _full_rows(spec, values):
    return np.hstack([values, _defined_from_rows(spec, values)])


# ============================================================================ public API

def bootstrap_draws(result, *, n_boot: int, seed: int | None, jobs: int | None = None,
                    scheduler=None, progress: bool = True, exclude_improper: bool = True,
                    chunk_size: int = 50) -> BootstrapDraws:
    """Resample respondents with replacement, refit the model and keep every estimate.

    Parameters
    ----------
    result : SEMResult
        A fitted model from :func:`sem_cocreate.fit.fit_sem`.
    n_boot : int
        Number of resamples (lavaan's ``bootstrap``).
    seed : int or None
        Resample ``b`` draws from ``numpy.random.SeedSequence(seed, spawn_key=(b,))`` (the ``b``-th
        child of ``SeedSequence(seed).spawn``), so the draws do not depend on ``jobs`` or the scheduler.
        ``None`` draws fresh entropy, which is recorded in the result.
    jobs, scheduler, progress
        See :func:`sem_cocreate.parallel.parallel_map`.
    exclude_improper : bool
        Drop improper solutions (default) or keep them as lavaan does; non-converged resamples are
        always dropped.
    chunk_size : int
        Resamples per task (amortises process overhead).

    Returns
    -------
    BootstrapDraws

    Raises
    ------
    OptionError
        ``n_boot`` < 1, or no resample could be refitted.

    Warns
    -----
    FitWarning
        When more than 5% of the resamples failed.
    """
    from .parallel import parallel_map, share_applies

    if jobs is None and scheduler is None and share_applies(-(-int(n_boot) // max(1, int(chunk_size)))
                                                            if isinstance(n_boot, (int, np.integer)) else 0):
        return start_bootstrap(result, n_boot=n_boot, seed=seed, progress=progress,
                               exclude_improper=exclude_improper, chunk_size=chunk_size).result()
    worker, tasks, seed, n_boot = _plan(result, n_boot, seed, exclude_improper, chunk_size)
    parts = parallel_map(worker.run_chunk, tasks, jobs=jobs, scheduler=scheduler, progress=progress,
                         desc=f"bootstrap ({n_boot} resamples)")
    return _collect(result, parts, n_boot=n_boot, seed=seed, exclude_improper=exclude_improper)


class PendingDraws:
    """A bootstrap started by :func:`start_bootstrap`; ``.result()`` gives its :class:`BootstrapDraws`.

    The chunks were submitted one by one to the background worker and ``.result()`` shares what is left
    with this process (:class:`~sem_cocreate.inference.parallel.Shared`), so the two processes share the
    work whatever else each had to do. Every chunk has its own seed: the same draws however they were
    shared.
    """

    def __init__(self, result, shared, *, n_boot, seed, exclude_improper):
        self._result, self._shared = result, shared
        self._kw = dict(n_boot=n_boot, seed=seed, exclude_improper=exclude_improper)
        self.in_background = shared.in_background

    def result(self) -> BootstrapDraws:
        return _collect(self._result, self._shared.result(), **self._kw)


_WORKER_CACHE: dict = {}
# fewer chunks than this (50 resamples each) are not worth starting a worker for (it needs ~1.5 s to start:
# measured with the 9-factor model, 1,000 resamples took 2.9 s shared vs 2.1 s here alone)
SHARE_MIN_CHUNKS = 40


def _install_in_worker(token, blob):
    """Unpickle a bootstrap's resampler in the background worker (once per bootstrap, ``token``) and warm
    its allocator, before the worker takes any chunk."""
    if token not in _WORKER_CACHE:
        import pickle

        while len(_WORKER_CACHE) >= 4:                   # a few bootstraps may share the worker at once
            _WORKER_CACHE.pop(next(iter(_WORKER_CACHE)))
        _WORKER_CACHE[token] = pickle.loads(blob)
        _warm_allocator()


def _chunk_in_worker(token, task):
    """One chunk in a background worker, with the resampler :func:`_install_in_worker` put there."""
    return _WORKER_CACHE[token].run_chunk(task)


def start_bootstrap(result, *, n_boot: int, seed: int | None, jobs: int | None = None, scheduler=None,
                    progress: bool = False, exclude_improper: bool = True,
                    chunk_size: int = 50):
    """:func:`bootstrap_draws` that returns at once, so that other analyses run meanwhile.

    With ``jobs`` left to the default (``None``) and no scheduler, on two CPUs or with fewer chunks than
    :data:`~sem_cocreate.inference.parallel.AUTO_SERIAL_TASKS`
    (:func:`~sem_cocreate.inference.parallel.share_applies`), the chunks go to the background worker and
    ``.result()`` shares what is left with this process (:func:`~sem_cocreate.inference.parallel.share_work`;
    all here on one CPU);
    otherwise ``.result()`` runs :func:`bootstrap_draws` as it is. Either way the same resamples, the
    same seeds, the same numbers (tests/test_bootstrap.py).
    """
    from .parallel import Background, background_alive, resolve_jobs, share_applies, share_work

    if jobs is None and scheduler is None:
        worker, tasks, seed, n_boot = _plan(result, n_boot, seed, exclude_improper, chunk_size)
        if share_applies(len(tasks)):
            remote = None
            # a worker helps when it is already up (the study's) or the job outlasts its start (~1.5 s)
            if resolve_jobs(None) >= 2 and (background_alive() or len(tasks) >= SHARE_MIN_CHUNKS):
                import pickle
                import uuid

                token, blob = uuid.uuid4().hex, pickle.dumps(worker)
                remote = (_chunk_in_worker, [(token, t) for t in tasks])
            shared = share_work(worker.run_chunk, [(t,) for t in tasks], jobs=None if remote else 1,
                                remote=remote, progress=progress,
                                desc=f"bootstrap ({n_boot} resamples)",
                                prepare=(_install_in_worker, (token, blob)) if remote is not None else None)
            return PendingDraws(result, shared, n_boot=n_boot, seed=seed, exclude_improper=exclude_improper)

    def job():
        return bootstrap_draws(result, n_boot=n_boot, seed=seed, jobs=jobs, scheduler=scheduler,
                               progress=progress, exclude_improper=exclude_improper, chunk_size=chunk_size)

    return Background(job, ())                # run in full at .result()


def _plan(result, n_boot, seed, exclude_improper, chunk_size):
    """Check the options; the resampler, the chunk tasks, the integer seed and n_boot."""
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise OptionError(f"--bootstrap must be a positive number of resamples, got {n_boot!r}")
    n_boot = int(n_boot)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, np.random.Generator):
        raise OptionError("bootstrap_draws needs an integer seed (child seeds are derived from it)")
    seed = int(seed)
    worker = _resampler(result, exclude_improper=exclude_improper)
    chunk_size = max(1, int(chunk_size))
    tasks = [(seed, s, min(s + chunk_size, n_boot)) for s in range(0, n_boot, chunk_size)]
    return worker, tasks, seed, n_boot


def _collect(result, parts, *, n_boot, seed, exclude_improper) -> BootstrapDraws:
    """The draws from the chunks' (values, std.all, statuses), in resample order; warns on many failures."""
    vals = np.vstack([p[0] for p in parts])
    stds = np.vstack([p[1] for p in parts])
    status = [s for p in parts for s in p[2]]
    reasons = {NOT_CONVERGED: 0, IMPROPER: 0}
    for s in status:
        if s:
            reasons[s] = reasons.get(s, 0) + 1
    keep = np.array([s == "" or (s == IMPROPER and not exclude_improper) for s in status])
    if not keep.any():
        raise OptionError(f"none of the {n_boot} bootstrap resamples could be refitted "
                          f"({reasons[NOT_CONVERGED]} did not converge, {reasons[IMPROPER]} improper); "
                          "simplify the model or check the data")
    est = _full_rows(result.spec, vals[keep])
    std = _full_rows(result.spec, stds[keep])
    n_failed = int(n_boot - keep.sum())
    draws = BootstrapDraws(est=est, std_all=std, n_boot=n_boot, n_failed=n_failed, failed_reasons=reasons,
                           seed=seed, exclude_improper=exclude_improper, index=np.flatnonzero(keep))
    if n_failed > FAIL_WARN_SHARE * n_boot:
        warnings.warn(f"{n_failed} of {n_boot} bootstrap resamples ({100 * n_failed / n_boot:.1f}%) failed and "
                      f"were excluded ({reasons[NOT_CONVERGED]} not converged, {reasons[IMPROPER]} improper); "
                      "the intervals may be biased — check the model", FitWarning, stacklevel=3)
    return draws


def _norm_inter(sorted_t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Quantiles of sorted draws at ``alpha`` by interpolation on the normal-quantile scale.

    Davison & Hinkley (1997, eq. 5.8), as boot's ``norm.inter`` and lavaan's bootstrap intervals:
    with ``rk = (R + 1) alpha`` and ``k = floor(rk)``, the ``k``-th order statistic when ``rk`` is
    whole, the extremes when ``k`` is 0 or R, otherwise interpolation between ``t_(k)`` and
    ``t_(k+1)`` linear in ``Phi^-1``.
    """
    from ..engine._distributions import norm

    R = sorted_t.size
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    out = np.empty(alpha.size)
    for i, a in enumerate(alpha):
        if not np.isfinite(a):
            out[i] = np.nan
            continue
        rk = (R + 1) * a
        k = math.trunc(rk)
        if k <= 0:
            out[i] = sorted_t[0]
        elif k >= R:
            out[i] = sorted_t[R - 1]
        elif k == rk:
            out[i] = sorted_t[k - 1]
        else:
            z, z1, z2 = norm.ppf(a), norm.ppf(k / (R + 1)), norm.ppf((k + 1) / (R + 1))
            tk, tk1 = sorted_t[k - 1], sorted_t[k]
            out[i] = tk + (z - z1) / (z2 - z1) * (tk1 - tk)
    return out


def _jackknife_acceleration(result, *, which: str) -> np.ndarray:
    """Efron's acceleration ``a = sum(L^3) / (6 (sum L^2)^1.5)``, ``L = mean(jack) - jack_i``, every row."""
    worker = _resampler(result, exclude_improper=False)
    n = sum(x.shape[0] for x in worker.X)
    from .._blas import one_blas_thread

    with one_blas_thread():
        vals, stds = worker.run_jackknife((0, n))
    rows = vals if which == "est" else stds
    ok = ~np.all(np.isnan(vals), axis=1)          # failed leave-one-out fits are left out
    jack = _full_rows(result.spec, rows[ok])
    L = np.nanmean(jack, axis=0) - jack
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.nansum(L**3, axis=0) / (6.0 * np.nansum(L**2, axis=0) ** 1.5)
    return np.where(np.isfinite(a), a, 0.0)


def _intervals(draws: np.ndarray, est: np.ndarray, *, ci: str, level: float, accel=None):
    from ..engine._distributions import norm

    alpha = np.array([(1 - level) / 2, (1 + level) / 2])
    lo = est.copy()
    hi = est.copy()
    for j in range(draws.shape[1]):
        t = draws[:, j]
        t = t[np.isfinite(t)]
        if t.size < 2 or np.var(t) == 0:
            continue
        ts = np.sort(t)
        if ci == "perc":
            adj = alpha
        else:
            w = norm.ppf(np.mean(t < est[j]))
            a = 0.0 if ci == "bc" else accel[j]
            zal = norm.ppf(alpha)
            if not np.isfinite(w):      # every draw on one side of the estimate: the extreme order statistic
                adj = np.full(2, 0.0 if w < 0 else 1.0)
            else:
                adj = norm.cdf(w + (w + zal) / (1 - a * (w + zal)))
        lo[j], hi[j] = _norm_inter(ts, adj)
    return lo, hi


def _check_ci(ci, level):
    if ci not in CI_TYPES:
        raise OptionError(f"--ci {ci!r} is not a bootstrap interval; use perc, bc or bca (or mc with "
                          "monte_carlo_estimates)")
    if not 0 < level < 1:
        raise OptionError(f"level must be between 0 and 1, got {level!r}")


def _fixed_mask(result):
    pt = result.spec.partable
    n_def = len(result.spec.defined)
    return np.concatenate([pt["free"].to_numpy() == 0, np.zeros(n_def, dtype=bool)])


def bootstrap_estimates(result, draws: BootstrapDraws, *, ci: str = "perc", level: float = 0.95) -> pd.DataFrame:
    """``result.estimates`` with ``se``, ``z``, ``pvalue``, ``ci.lower``, ``ci.upper`` from the bootstrap.

    Parameters
    ----------
    result : SEMResult
    draws : BootstrapDraws
        From :func:`bootstrap_draws` on the same result.
    ci : {"perc", "bc", "bca"}
        Percentile, bias-corrected (lavaan's ``bca.simple``) or BCa with jackknife acceleration.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        Same rows and columns as ``result.estimates``.

    Notes
    -----
    As lavaan 0.6.14 with ``se = "bootstrap"``: SEs of free parameters are the SD of the draws with
    divisor ``R`` (lavaan's ``cov(COEF) * (R - 1) / R``), SEs of ``:=`` parameters with divisor
    ``R - 1`` (``cov(BOOT.def)``); ``z = est / se``; intervals interpolate order statistics on the
    normal scale (``norm.inter``). Fixed parameters keep ``se = 0`` and ``ci = est``. lavaan's own
    ``bca`` uses a regression estimate of the acceleration; ours is the jackknife (Efron 1987).
    """
    from ..engine._distributions import norm

    _check_ci(ci, level)
    out = result.estimates.copy()
    est = out["est"].to_numpy(dtype=float)
    if draws.est.shape[1] != len(est):
        raise OptionError("the bootstrap draws do not belong to this result (row counts differ); rerun "
                          "bootstrap_draws on it")
    fixed = _fixed_mask(result)
    n_pt = len(result.spec.partable)
    D = draws.est
    se = np.empty(len(est))
    se[:n_pt] = np.nanstd(D[:, :n_pt], axis=0, ddof=0)
    se[n_pt:] = np.nanstd(D[:, n_pt:], axis=0, ddof=1) if D.shape[0] > 1 else np.nan
    accel = _jackknife_acceleration(result, which="est") if ci == "bca" else None
    lo, hi = _intervals(D, est, ci=ci, level=level, accel=accel)
    se[fixed] = 0.0
    lo[fixed] = est[fixed]
    hi[fixed] = est[fixed]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / se, np.nan)
    out["se"] = se
    out["z"] = z
    out["pvalue"] = np.where(np.isfinite(z), 2 * norm.sf(np.abs(z)), np.nan)
    out["ci.lower"] = lo
    out["ci.upper"] = hi
    return out


def bootstrap_std_estimates(result, draws: BootstrapDraws, *, ci: str = "perc", level: float = 0.95) -> pd.DataFrame:
    """Bootstrap SEs and intervals of the ``std.all`` solution (e.g. standardized indirect effects).

    Returns
    -------
    DataFrame
        ``lhs, op, rhs, label, [group,] est.std, se, ci.lower, ci.upper`` (lavaan's
        ``standardizedSolution`` names), one row per row of ``result.estimates``; SEs are the SD of
        the standardized draws (divisor ``R - 1``).
    """
    _check_ci(ci, level)
    est_tab = result.estimates
    std = est_tab["std.all"].to_numpy(dtype=float)
    accel = _jackknife_acceleration(result, which="std") if ci == "bca" else None
    lo, hi = _intervals(draws.std_all, std, ci=ci, level=level, accel=accel)
    se = np.nanstd(draws.std_all, axis=0, ddof=1)
    const = np.nanstd(draws.std_all, axis=0) == 0
    se[const] = 0.0
    keys = [c for c in ("lhs", "op", "rhs", "label", "group") if c in est_tab.columns]
    out = est_tab[keys].copy()
    out["est.std"] = std
    out["se"] = se
    out["ci.lower"] = lo
    out["ci.upper"] = hi
    return out


def monte_carlo_estimates(result, *, n_draws: int = 20000, seed: int | None, level: float = 0.95) -> pd.DataFrame:
    """Monte Carlo intervals of the ``:=`` parameters (semTools ``monteCarloCI`` style).

    Draws ``n_draws`` parameter vectors from ``N(theta_hat, vcov)``, evaluates every defined
    parameter on each, and reports the SD of the simulated values as ``se`` and their
    ``(1 -/+ level) / 2`` quantiles (R's type 7) as the interval. Other rows are unchanged.

    Parameters
    ----------
    result : SEMResult
    n_draws : int
    seed : int or None
    level : float

    Returns
    -------
    DataFrame
        A copy of ``result.estimates``; ``:=`` rows get MC ``se``, ``z = est / se``, ``pvalue`` and
        ``ci.lower`` / ``ci.upper``.
    """
    from ..engine._distributions import norm

    if not 0 < level < 1:
        raise OptionError(f"level must be between 0 and 1, got {level!r}")
    if n_draws < 2:
        raise OptionError(f"Monte Carlo intervals need at least 2 draws, got {n_draws!r}")
    out = result.estimates.copy()
    spec = result.spec
    if not spec.defined:
        return out
    vcov = result.vcov
    if vcov is None or not np.all(np.isfinite(vcov)):
        raise OptionError("Monte Carlo intervals need the parameters' covariance matrix, which this fit lacks "
                          "(not identified?); use --bootstrap instead")
    rng = np.random.default_rng(seed)
    theta = np.asarray(result.theta, dtype=float)
    sims = rng.multivariate_normal(theta, vcov, size=int(n_draws), method="eigh")
    base = result.internals["model"].param_values(theta)
    free = spec.partable["free"].to_numpy()
    rows = np.broadcast_to(base, (sims.shape[0], base.size)).copy()
    fr = free > 0
    rows[:, fr] = sims[:, free[fr] - 1]
    dvals = _defined_from_rows(spec, rows)
    n_pt = len(spec.partable)
    est = out["est"].to_numpy(dtype=float)
    se = np.std(dvals, axis=0, ddof=1)
    lo = np.quantile(dvals, (1 - level) / 2, axis=0)
    hi = np.quantile(dvals, (1 + level) / 2, axis=0)
    idx = np.arange(n_pt, n_pt + len(spec.defined))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est[idx] / se, np.nan)
    out.loc[out.index[idx], "se"] = se
    out.loc[out.index[idx], "z"] = z
    out.loc[out.index[idx], "pvalue"] = np.where(np.isfinite(z), 2 * norm.sf(np.abs(z)), np.nan)
    out.loc[out.index[idx], "ci.lower"] = lo
    out.loc[out.index[idx], "ci.upper"] = hi
    return out
