"""General equality and inequality constraints on labelled parameters (``==``, ``<``, ``>``).

A plain ``a == b`` of two labels is handled in the parameter table (both rows share one free
parameter, as lavaan 0.6.14 counts it). Every other form, with arithmetic on labels and numbers
(``b1 == (b2 + b3)^2``, ``b1 == 2*b3``, ``a > 0``, ``b1 < b3``), is a function of the free
parameters, as lavaan's ``ceq.function`` / ``cin.function``:

- ``lhs == rhs``  →  ``ceq(theta) = lhs - rhs = 0``;
- ``lhs > rhs``   →  ``cin(theta) = lhs - rhs >= 0``;  ``lhs < rhs``  →  ``cin(theta) = rhs - lhs >= 0``.

Estimation minimises the ML discrepancy subject to them (sequential quadratic programming with the
analytic gradient, then Newton steps on the KKT system of the active set); standard errors follow
lavaan's ``lav_model_information_augment_invert``: the top-left block of the inverse of the
information augmented by the Jacobian of the equality and the *active* inequality constraints,
which is ``Z (Z' I Z)^-1 Z'`` with ``Z`` a basis of the Jacobian's null space (under MLR the same
inverse is the bread of the sandwich and enters the Yuan-Bentler trace). The degrees of freedom
gain the rank of the equality constraints' Jacobian; inequality constraints, active or not, leave
``df`` (and ``npar``) unchanged, as in lavaan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ModelSyntaxError
from .defined import compile_expression

ACTIVE_TOL = 1e-6   # an inequality constraint within this of its bound is active (enters the SEs)


@dataclass
class ConstraintSet:
    """The general constraints of a model as functions of the free-parameter vector."""

    ceq_funcs: list
    cin_funcs: list
    text: list
    label_src: dict
    defined: list = None     # (name, compiled expression) of := parameters a constraint may use

    @classmethod
    def from_spec(cls, spec) -> "ConstraintSet":
        pt = spec.partable
        label_src: dict[str, tuple] = {}
        for r in pt.itertuples(index=False):
            for lab in (r.label, r.plabel):
                if lab and lab not in label_src:
                    label_src[lab] = (int(r.free) - 1 if r.free > 0 else None,
                                      float(r.ustart) if not np.isnan(r.ustart) else 0.0)
        ceq, cin, text = [], [], []
        for lhs, op, rhs in spec.general_constraints:
            expr = f"({lhs}) - ({rhs})" if op in ("==", ">") else f"({rhs}) - ({lhs})"
            f = compile_expression(expr, name=f"{lhs} {op} {rhs}")
            (ceq if op == "==" else cin).append(f)
            text.append(f"{lhs} {op} {rhs}")
        defined = [(name, compile_expression(expr, name=name)) for name, expr in spec.defined]
        return cls(ceq, cin, text, label_src, defined)

    def _env(self, theta):
        env = {lab: (theta[k] if k is not None else v) for lab, (k, v) in self.label_src.items()}
        for name, f in self.defined or ():
            env[name] = f(env)
        return env

    @property
    def neq(self) -> int:
        return len(self.ceq_funcs)

    @property
    def nin(self) -> int:
        return len(self.cin_funcs)

    def ceq(self, theta) -> np.ndarray:
        env = self._env(theta)
        return np.array([f(env) for f in self.ceq_funcs])

    def cin(self, theta) -> np.ndarray:
        env = self._env(theta)
        return np.array([f(env) for f in self.cin_funcs])

    def _jac(self, funcs, theta, h=1e-20) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        J = np.zeros((len(funcs), theta.size))
        for k in range(theta.size):
            t = theta.astype(complex)
            t[k] += 1j * h
            env = self._env(t)
            J[:, k] = [np.imag(f(env)) / h for f in funcs]
        return J

    def ceq_jac(self, theta) -> np.ndarray:
        return self._jac(self.ceq_funcs, theta)

    def cin_jac(self, theta) -> np.ndarray:
        return self._jac(self.cin_funcs, theta)

    def active_jac(self, theta) -> np.ndarray:
        """Jacobian of the equality and the active inequality constraints (lavaan's ``con.jac``)."""
        rows = [self.ceq_jac(theta)] if self.neq else []
        if self.nin:
            vals = self.cin(theta)
            act = np.abs(vals) < ACTIVE_TOL * max(1.0, float(np.max(np.abs(theta))) if theta.size else 1.0)
            if act.any():
                rows.append(self.cin_jac(theta)[act])
        return np.vstack(rows) if rows else np.zeros((0, len(theta)))

    def eq_rank(self, theta) -> int:
        if not self.neq:
            return 0
        return int(np.linalg.matrix_rank(self.ceq_jac(theta)))


def check_constraints(spec) -> None:
    """Refuse a constraint whose labels are all fixed (nothing to constrain)."""
    pt = spec.partable
    free_labels = set(pt.loc[pt["free"] > 0, "label"]) | set(pt.loc[pt["free"] > 0, "plabel"])
    import re

    for lhs, op, rhs in spec.general_constraints:
        toks = set(re.findall(r"\.?[A-Za-z_][A-Za-z0-9_.]*", f"{lhs} {rhs}"))
        if not toks & free_labels:
            raise ModelSyntaxError(f"constraint '{lhs} {op} {rhs}' names no free parameter; "
                                   "fix the value with 'value*x' instead")


def constrained_ml(model, stats, start, cons: ConstraintSet):
    """Minimise the ML discrepancy subject to ``cons``; returns an ``OptimResult``.

    Sequential least squares (scipy's SLSQP, the analytic gradient of F and the complex-step
    Jacobians of the constraints) from the feasible-projected start, then Newton steps on the
    Lagrange conditions of the active set with the expected information as Hessian, so the result
    is as precise as the unconstrained Fisher scoring.
    """
    from scipy.optimize import minimize

    from .estimate import NotPositiveDefinite, OptimResult, ml_value_grad_info

    def fun(x):
        try:
            f, g, _ = ml_value_grad_info(model, x, stats, want_info=False)
        except NotPositiveDefinite:
            return 1e10, np.zeros_like(x)
        return f, g

    constraints = []
    if cons.neq:
        constraints.append({"type": "eq", "fun": cons.ceq, "jac": cons.ceq_jac})
    if cons.nin:
        constraints.append({"type": "ineq", "fun": cons.cin, "jac": cons.cin_jac})
    theta = np.asarray(start, float).copy()
    res = minimize(fun, theta, jac=True, method="SLSQP", constraints=constraints,
                   options={"maxiter": 2000, "ftol": 1e-14})
    theta = res.x
    it = int(res.nit)
    # Newton polish on the KKT system of the equality + active inequality constraints
    for _ in range(50):
        f, g, info = ml_value_grad_info(model, theta, stats)
        H = 2.0 * info
        rows, vals = [], []
        if cons.neq:
            rows.append(cons.ceq_jac(theta))
            vals.append(cons.ceq(theta))
        if cons.nin:
            cv = cons.cin(theta)
            act = np.abs(cv) < 1e-5
            if act.any():
                rows.append(cons.cin_jac(theta)[act])
                vals.append(cv[act])
        J = np.vstack(rows) if rows else np.zeros((0, theta.size))
        c = np.concatenate(vals) if vals else np.zeros(0)
        m = J.shape[0]
        K = np.block([[H, J.T], [J, np.zeros((m, m))]])
        rhs = -np.concatenate([g, c])
        try:
            sol = np.linalg.solve(K, rhs)
        except np.linalg.LinAlgError:
            break
        step = sol[: theta.size]
        cand = theta + step
        if cons.nin and np.any(cons.cin(cand) < -1e-8):
            break
        fc, gc, _ = ml_value_grad_info(model, cand, stats, want_info=False)
        if not np.isfinite(fc) or fc > f + 1e-10:
            break
        theta = cand
        it += 1
        if np.max(np.abs(step)) < 1e-10:
            break
    f, g, _ = ml_value_grad_info(model, theta, stats, want_info=False)
    feasible = (not cons.neq or np.max(np.abs(cons.ceq(theta))) < 1e-6) and \
               (not cons.nin or np.min(cons.cin(theta)) > -1e-6)
    ok = bool(feasible and (res.success or res.status in (0, 8)))
    return OptimResult(theta, f, ok, it, "converged" if ok else f"constrained optimizer: {res.message}",
                       float(np.max(np.abs(g))) if g.size else 0.0)


def constrained_vcov(info: np.ndarray, jac: np.ndarray, N: int):
    """lavaan's augmented-information inverse: ``Z (Z' I Z)^-1 Z' / N``; None if singular."""
    npar = info.shape[0]
    if jac.shape[0] == 0:
        return None
    # null space of the constraint Jacobian
    u, s, vt = np.linalg.svd(jac)
    rank = int((s > 1e-10 * max(1.0, s.max())).sum())
    Z = vt[rank:].T
    if Z.shape[1] == 0:
        return np.zeros((npar, npar))
    M = Z.T @ info @ Z
    if np.linalg.eigvalsh(M).min() <= 1e-12 * max(1.0, np.abs(M).max()):
        return None
    return Z @ np.linalg.inv(M) @ Z.T / N
