"""Maximum-likelihood estimation on sample moments: objective, analytic gradient, Fisher scoring.

The discrepancy is lavaan's ML fit function summed over groups,
``F(theta) = sum_g (n_g / N) [log|Sigma_g| + tr(S_g Sigma_g^-1) - log|S_g| - p + (ybar_g - mu_g)' Sigma_g^-1 (ybar_g - mu_g)]``
with ``S_g`` the covariance matrix with divisor ``n_g`` (lavaan's ``likelihood = "normal"``), so that
the chi-square is ``N * F`` at the minimum. Its expected Hessian is ``2 * sum_g (n_g/N) I_g`` where
``I_g`` is the unit expected information; Fisher scoring with a backtracking line search converges
quadratically from the starting values, with BFGS as a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import weakref

import numpy as np

from .linalg import NotPositiveDefinite, chol_inv_logdet as _chol_inv_logdet, logdet as _logdet  # noqa: F401
from ._frames import frame_rows


@dataclass
class SampleStats:
    """Complete-data sample moments per group (covariance with divisor n, as lavaan's ML)."""

    n: list[int]
    cov: list[np.ndarray]
    mean: list[np.ndarray]

    @property
    def ntotal(self) -> int:
        return int(sum(self.n))


def sample_stats(frames, ov_names) -> SampleStats:
    """Sample moments of ``ov_names`` in each data frame (one per group); data must be complete."""
    ns, covs, means = [], [], []
    for df in frames:
        X = df[list(ov_names)].to_numpy(dtype=float)
        n = X.shape[0]
        mean = X.mean(axis=0)
        Xc = X - mean
        ns.append(n)
        covs.append(Xc.T @ Xc / n)
        means.append(mean)
    return SampleStats(ns, covs, means)




def ml_value(model, theta, stats: SampleStats) -> float:
    """ML discrepancy F(theta) (chi-square / N); ``inf`` where Sigma is not positive definite."""
    N = stats.ntotal
    total = 0.0
    try:
        for g, (sigma, mu, *_rest) in enumerate(model.implied(theta)):
            inv, logdet = _chol_inv_logdet(sigma)
            S = stats.cov[g]
            p = S.shape[0]
            f = logdet + np.trace(S @ inv) - _logdet(S) - p
            if model.meanstructure:
                d = stats.mean[g] - mu
                f += d @ inv @ d
            total += stats.n[g] / N * f
    except NotPositiveDefinite:
        return np.inf
    return float(total)


def ml_value_grad_info(model, theta, stats: SampleStats, *, want_info: bool = True):
    """F, its gradient and the expected information ``sum_g (n_g/N) I_g`` (unit, per observation)."""
    N = stats.ntotal
    implied = model.implied(theta)
    derivs = model.derivatives(theta, implied)
    f_total = 0.0
    grad = np.zeros(model.npar)
    info = np.zeros((model.npar, model.npar)) if want_info else None
    for g, ((sigma, mu, *_r), (dS, dm)) in enumerate(zip(implied, derivs)):
        inv, logdet = _chol_inv_logdet(sigma)
        S = stats.cov[g]
        p = S.shape[0]
        w_g = stats.n[g] / N
        f = logdet + np.trace(S @ inv) - _logdet(S) - p
        R = sigma - S
        if model.meanstructure:
            d = stats.mean[g] - mu
            f += d @ inv @ d
            R = R - np.outer(d, d)
            wvec = inv @ d
        W = inv @ R @ inv
        g_vec = dS.reshape(dS.shape[0], -1) @ W.reshape(-1)
        if model.meanstructure:
            g_vec = g_vec - 2.0 * dm @ wvec
        f_total += w_g * f
        grad += w_g * g_vec
        if want_info:
            X = inv @ dS                                    # inv @ dS_k for every k
            k = X.shape[0]
            info_g = 0.5 * (X.reshape(k, -1) @ X.transpose(0, 2, 1).reshape(k, -1).T)
            if model.meanstructure:
                info_g += dm @ inv @ dm.T
            info += w_g * info_g
    return float(f_total), grad, info


from .optimize import OptimResult, newton_minimize, scaled_gradient as _scaled_gradient  # noqa: E402,F401


def fisher_scoring(model, stats, start, *, maxit: int = 300, gtol: float = 1e-9) -> OptimResult:
    """Minimise the ML discrepancy by Fisher scoring with backtracking (BFGS fallback).

    BLAS is limited to one thread inside: for these small matrices OpenBLAS's threads cost far
    more than they give (measured 30x slower on 2 cores), and parallel callers use processes.
    """
    from .._blas import one_blas_thread

    with one_blas_thread():
        return _fisher_scoring(model, stats, start, maxit=maxit, gtol=gtol)


INFO_REUSE = 1e-3


def _fisher_scoring(model, stats, start, *, maxit: int, gtol: float) -> OptimResult:
    theta = np.asarray(start, dtype=float).copy()
    if not np.isfinite(ml_value(model, theta, stats)):
        theta = _bfgs(model, stats, theta)
    value, value_grad_info = _ml_functions(model, stats)
    last = {"at": None, "H": None, "gmax": [np.inf, np.inf]}

    def value_grad_hess(th):
        # the expected Hessian of F, 2 I(theta); kept while the parameters move less than INFO_REUSE
        # (relative) and the gradient kept shrinking fast (at least halved in the last iteration): near
        # the optimum it changes by less than that and Fisher scoring converges as fast, without its
        # most expensive part in the last iterations; otherwise (a model near a boundary) it is fresh
        at, (g2, g1) = last["at"], last["gmax"]
        if (at is not None and g1 < 0.5 * g2
                and np.max(np.abs(th - at) / (np.abs(at) + 1.0), initial=0.0) < INFO_REUSE):
            f, g, _ = value_grad_info(th, want_info=False)
            H = last["H"]
        else:
            f, g, info = value_grad_info(th)
            H = 2.0 * info
            last["at"], last["H"] = np.array(th, dtype=float), H
        last["gmax"] = [g1, float(np.max(np.abs(g), initial=0.0))]
        return f, g, H

    return newton_minimize(theta, value, value_grad_hess,
                           maxit=maxit, gtol=gtol, on_stall=lambda th: _bfgs(model, stats, th))


def _ml_functions(model, stats):
    """(F(theta), (F, gradient, information)(theta)) for the optimiser.

    The same quantities as :func:`ml_value` / :func:`ml_value_grad_info`, from the closed-form derivative
    formulas of :class:`~sem_cocreate.engine.estimators._fastml.FastML` (dF/dA = 2 FE' W SF', dF/dS =
    FE' W FE, information from the same products; no per-parameter dSigma), which tests/test_bootstrap.py
    checks against them to 1e-9 for single- and multi-group, fixed.x and mean-structure models. A model
    FastML cannot represent falls back to the general formulas.
    """
    fast = _fast_formulas(model)
    try:
        from .estimators._fastml import Moments

        mom = Moments(stats.n, stats.cov, stats.mean)
    except Exception:  # noqa: BLE001 - moments the fast formulas do not take use the general ones
        fast = None
    if fast is None:
        return ((lambda th: ml_value(model, th, stats)),
                (lambda th, want_info=True: ml_value_grad_info(model, th, stats, want_info=want_info)))
    return ((lambda th: fast.value(th, mom)),                                    # value: inf if not PD
            (lambda th, want_info=True: fast.value_grad_info(th, mom, want_info=want_info)))


_FAST = weakref.WeakKeyDictionary()       # RAMModel -> its FastML (or None: not representable)


def _fast_formulas(model):
    """The closed-form ML formulas of ``model`` (:class:`FastML`), built once per model object; ``None``
    for a model they do not represent. Kept beside the model, not in it (a pickled model stays small)."""
    try:
        return _FAST[model]
    except (KeyError, TypeError):
        pass
    try:
        from .estimators._fastml import FastML

        fast = FastML(model)
    except Exception:  # noqa: BLE001 - any model the fast formulas do not cover uses the general ones
        fast = None
    try:
        _FAST[model] = fast
    except TypeError:
        pass
    return fast


def expected_information(model, theta, stats) -> np.ndarray:
    """The unit expected information at ``theta`` (as :func:`ml_value_grad_info`), from the closed-form
    formulas where they apply."""
    fast = _fast_formulas(model)
    if fast is not None:
        try:
            from .estimators._fastml import Moments

            return fast.value_grad_info(np.asarray(theta, float), Moments(stats.n, stats.cov, stats.mean))[2]
        except NotPositiveDefinite:
            raise
        except Exception:  # noqa: BLE001 - fall back to the general formulas below
            pass
    return ml_value_grad_info(model, theta, stats)[2]


def _bfgs(model, stats, theta):
    from scipy.optimize import minimize

    def fun(x):
        try:
            f, g, _ = ml_value_grad_info(model, x, stats, want_info=False)
        except NotPositiveDefinite:
            return 1e10, np.zeros_like(x)
        return f, g

    res = minimize(fun, theta, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
    return res.x


def start_values(model, stats) -> np.ndarray:
    """lavaan-like simple starting values: marker-based loadings, half the observed variances."""
    spec = model.spec
    pt = spec.partable
    theta = np.zeros(model.npar)
    set_ = np.zeros(model.npar, dtype=bool)
    ov_index = {v: i for i, v in enumerate(model.ov)}
    lv_set = set(model.lv)
    rows = list(frame_rows(pt))
    by_factor: dict[tuple[int, str], list] = {}
    for r in rows:
        if r.op == "=~" and r.rhs in ov_index:
            by_factor.setdefault((int(r.group), r.lhs), []).append((r.rhs, r.free, r.ustart))
    for r in rows:
        if r.free == 0:
            continue
        k = int(r.free) - 1
        if set_[k]:
            continue
        g = int(r.group) - 1
        S = stats.cov[g]
        val = 0.0
        if not np.isnan(r.start):
            val = r.start
        elif r.op == "=~":
            val = _loading_start(by_factor.get((g + 1, r.lhs), []), r.rhs, S, ov_index)
        elif r.op == "~~" and r.lhs == r.rhs:
            if r.lhs in ov_index:
                val = 0.5 * S[ov_index[r.lhs], ov_index[r.lhs]]
            else:
                val = _lv_var_start(by_factor.get((g + 1, r.lhs), []), S, ov_index)
        elif r.op == "~1":
            val = stats.mean[g][ov_index[r.lhs]] if r.lhs in ov_index else 0.0
        theta[k] = val
        set_[k] = True
    return theta


def _loading_start(inds, ind, S, ov_index):
    """Marker-based start: median of s(ind, o) / s(marker, o) over the factor's other indicators."""
    if ind not in ov_index:
        return 1.0
    marker = next((x for x, free, us in inds if free == 0 and us and not np.isnan(us) and us != 0), None)
    if marker is None or marker == ind:
        # no marker (e.g. NA* with latent variance fixed to 1): sqrt of half the variance
        return float(np.sqrt(max(0.5 * S[ov_index[ind], ov_index[ind]], 1e-4)))
    others = [x for x, *_ in inds if x not in (marker, ind)]
    i, m = ov_index[ind], ov_index[marker]
    ratios = []
    for o in others:
        k = ov_index[o]
        if abs(S[m, k]) > 1e-8:
            ratios.append(S[i, k] / S[m, k])
    if ratios:
        val = float(np.median(ratios))
    else:
        val = 1.0
    if not np.isfinite(val) or abs(val) > 10:
        val = 1.0
    return val


def _lv_var_start(inds, S, ov_index):
    """Mean absolute covariance of the first indicator with the others (the factor variance when
    loadings are near 1)."""
    if len(inds) >= 2:
        m = ov_index[inds[0][0]]
        covs = [abs(S[m, ov_index[x]]) for x, *_ in inds[1:]]
        val = float(np.mean(covs))
        if val > 1e-4:
            return val
        return 0.5 * S[m, m]
    return 0.05
