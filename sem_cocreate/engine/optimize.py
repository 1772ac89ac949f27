"""The one Newton (Fisher-scoring) loop with a backtracking line search, shared by the ML estimator
(``engine/estimate.py``) and FIML (``estimators/patterns.py``).

Each iteration solves ``H step = g`` on the unit-diagonal scaled ``H`` (plus a 1e-12 ridge), takes the
longest step ``t in {1, 1/2, 1/4, ...}`` with Armijo decrease ``F(theta - t step) <= F - 1e-4 t g'step``
and stops when

- ``max |g| < gtol`` (exact optimum), or
- the Newton decrement ``g' H^-1 g`` is below ``1e-12 max(1, |F|)`` and the scaled gradient
  ``max_k |g_k| / sqrt(H_kk)`` below 1e-5: both free of the variables' units and of the size of F, in the
  spirit of the relative tolerance (``rel.tol = 1e-10``) of lavaan's nlminb, so a heavily misfitting model
  or data in small units is not called "not converged" at its optimum.

The bootstrap engine (``estimators/_fastml.py``) keeps its own batched loops for speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .linalg import NotPositiveDefinite


@dataclass
class OptimResult:
    theta: np.ndarray
    fmin: float
    converged: bool
    iterations: int
    message: str
    grad_max: float


def scaled_gradient(g, H) -> float:
    """max_k |g_k| / sqrt(H_kk): the gradient in units of each parameter's own curvature (scale free)."""
    if not g.size:
        return 0.0
    d = np.sqrt(np.clip(np.diag(H), 1e-300, None))
    return float(np.max(np.abs(g) / d))


def newton_step(H, g):
    """Solve ``H step = g`` on the unit-diagonal scaled H with a 1e-12 ridge (least squares if singular);
    steepest descent when the result is not a descent direction."""
    d = np.sqrt(np.clip(np.diag(H), 1e-300, None))
    try:
        step = np.linalg.solve(H / np.outer(d, d) + 1e-12 * np.eye(len(g)), g / d) / d
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(H, g, rcond=None)[0]
    if not np.all(np.isfinite(step)) or step @ g <= 0:
        step = g
    return step


TIME_BUDGET = 600.0   # seconds of one minimisation; past it the fit ends as not converged, with a note


def newton_minimize(theta, value: Callable, value_grad_hess: Callable, *, maxit: int, gtol: float,
                    max_halvings: int = 40, on_stall: Callable | None = None,
                    relative: bool = True, max_seconds: float | None = None) -> OptimResult:
    """Minimise ``value`` from ``theta``; ``value_grad_hess(theta) -> (F, g, H)``.

    ``value`` returns ``inf`` outside the admissible region; ``value_grad_hess`` may raise
    :class:`~sem_cocreate.engine.linalg.NotPositiveDefinite`. ``on_stall(theta) -> theta`` is tried
    once per stalled line search away from the optimum (the ML estimator's BFGS fallback).
    ``relative=False`` for objectives with a large constant part (FIML's ``-logl/N``), where a
    tolerance relative to F would be loose: the decrement tolerance is then 1e-12 absolute.
    ``max_seconds`` (default :data:`TIME_BUDGET`) bounds the wall time as ``maxit`` bounds the
    iterations: when it is spent the result is returned as not converged ("time budget ... spent").
    """
    import time

    budget = TIME_BUDGET if max_seconds is None else float(max_seconds)
    deadline = time.monotonic() + budget
    theta = np.asarray(theta, dtype=float).copy()
    last_f = np.inf
    it = 0
    for it in range(1, maxit + 1):
        if it > 1 and time.monotonic() > deadline:
            f = value(theta)
            return OptimResult(theta, f, False, it - 1, f"time budget of {budget:g} s spent after {it - 1} "
                               "iterations", np.inf)
        try:
            f, g, H = value_grad_hess(theta)
        except NotPositiveDefinite:
            return OptimResult(theta, np.inf, False, it, "implied covariance not positive definite", np.inf)
        gmax = float(np.max(np.abs(g))) if g.size else 0.0
        if gmax < gtol:
            return OptimResult(theta, f, True, it, "converged", gmax)
        gs = scaled_gradient(g, H)
        step = newton_step(H, g)
        fscale = max(1.0, abs(f)) if relative else 1.0
        if g @ step < 1e-12 * fscale and gs < 1e-5:
            return OptimResult(theta, f, True, it, "converged", gmax)
        t = 1.0
        accepted = False
        for _ in range(max_halvings):
            cand = theta - t * step
            fc = value(cand)
            if np.isfinite(fc) and fc <= f - 1e-4 * t * (g @ step):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            if abs(last_f - f) < 1e-13 * fscale or gs < 1e-6 or on_stall is None:
                return OptimResult(theta, f, gs < 1e-5, it, "line search stalled", gmax)
            theta = on_stall(theta)
            last_f = f
            continue
        theta = cand
        last_f = f
    try:
        f, g, H = value_grad_hess(theta)
    except NotPositiveDefinite:
        return OptimResult(theta, np.inf, False, it, "implied covariance not positive definite", np.inf)
    gmax = float(np.max(np.abs(g))) if g.size else 0.0
    return OptimResult(theta, f, scaled_gradient(g, H) < 1e-6, it, "iteration limit reached", gmax)
