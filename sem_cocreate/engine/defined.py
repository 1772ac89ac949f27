"""Defined parameters (``name := expression``): safe evaluation and delta-method standard errors.

Expressions are parsed with :mod:`ast` and only arithmetic on labels and numbers is allowed
(``+ - * / ^ **``, unary minus, parentheses, ``sqrt exp log abs``); nothing is ``eval``-ed. The
Jacobian with respect to the free parameters is computed by complex-step differentiation, as
lavaan does (``lav_func_jacobian_complex``), which is exact to machine precision for these
analytic functions. The delta-method covariance is ``J V J'``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping

import numpy as np

from ..exceptions import ModelSyntaxError

_FUNCS: dict[str, Callable] = {
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "abs": None,   # handled specially (not complex-differentiable in numpy)
}

_NAME_RE = __import__("re").compile(r"(?<![0-9A-Za-z_.])(?:[A-Za-z_][A-Za-z0-9_.]*|\.[A-Za-z_][A-Za-z0-9_.]*)")

_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def compile_expression(expr: str, *, name: str = "") -> Callable[[Mapping[str, complex]], complex]:
    """Compile a defined-parameter expression into a function of a label → value mapping."""
    names: dict[str, str] = {}

    def _sub(m):
        tok = m.group(0)
        if tok in _FUNCS:
            return tok
        return names.setdefault(tok, f"_v{len(names)}")

    text = _NAME_RE.sub(_sub, expr.replace("^", "**"))
    lookup = {v: k for k, v in names.items()}
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ModelSyntaxError(f"defined parameter {name} := {expr}: cannot parse the expression") from None

    def build(node):
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            v = float(node.value)
            return lambda env: v
        if isinstance(node, ast.Name) and node.id in lookup:
            key = lookup[node.id]
            return lambda env: env[key]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            if isinstance(node.op, ast.USub):
                return lambda env: -inner(env)
            return inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ALLOWED_BINOPS):
            left, right = build(node.left), build(node.right)
            op = node.op
            if isinstance(op, ast.Add):
                return lambda env: left(env) + right(env)
            if isinstance(op, ast.Sub):
                return lambda env: left(env) - right(env)
            if isinstance(op, ast.Mult):
                return lambda env: left(env) * right(env)
            if isinstance(op, ast.Div):
                return lambda env: left(env) / right(env)
            return lambda env: left(env) ** right(env)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and len(node.args) == 1 and not node.keywords:
            arg = build(node.args[0])
            fname = node.func.id
            if fname == "abs":
                return lambda env: _cabs(arg(env))
            fun = _FUNCS[fname]
            return lambda env: fun(arg(env))
        raise ModelSyntaxError(
            f"defined parameter {name} := {expr}: only + - * / ^, numbers, labels and sqrt/exp/log/abs are allowed")

    return build(tree)


def _cabs(z):
    # complex-step friendly |x|: sign of the real part times z
    if isinstance(z, complex) or np.iscomplexobj(z):
        return z if np.real(z) >= 0 else -z
    return abs(z)


class DefinedParameters:
    """All ``:=`` parameters of a model as one vector function of the free parameters.

    Parameters
    ----------
    defined : sequence of (name, expression)
    label_to_value : callable
        ``label_to_value(theta) -> dict`` mapping every label (and plabel) to its value.
    """

    def __init__(self, defined, label_to_value: Callable[[np.ndarray], dict]):
        self.names = [n for n, _ in defined]
        self.expressions = [e for _, e in defined]
        self._funcs = [compile_expression(e, name=n) for n, e in defined]
        self._labels = label_to_value

    def __len__(self) -> int:
        return len(self.names)

    def values_from_env(self, env: dict) -> np.ndarray:
        env = dict(env)
        out = []
        for name, f in zip(self.names, self._funcs):
            try:
                v = f(env)
            except ZeroDivisionError:
                v = math.nan
            env[name] = v
            out.append(v)
        return np.array(out, dtype=complex if any(np.iscomplexobj(v) or isinstance(v, complex) for v in out)
                        else float)

    def values(self, theta: np.ndarray) -> np.ndarray:
        return np.real(self.values_from_env(self._labels(theta))).astype(float)

    def jacobian(self, theta: np.ndarray, h: float = 1e-20, *, columns=None) -> np.ndarray:
        """d(defined)/d(theta) by complex step: Im f(theta + i h e_k) / h.

        ``columns`` limits the work to the free parameters the expressions can reach (the others
        have zero derivative).
        """
        theta = np.asarray(theta, dtype=float)
        J = np.zeros((len(self.names), theta.size))
        for k in (range(theta.size) if columns is None else columns):
            t = theta.astype(complex)
            t[k] += 1j * h
            J[:, k] = np.imag(self.values_from_env(self._labels(t))) / h
        return J

    def delta_cov(self, theta: np.ndarray, vcov: np.ndarray, *, columns=None) -> np.ndarray:
        J = self.jacobian(theta, columns=columns)
        return J @ vcov @ J.T
