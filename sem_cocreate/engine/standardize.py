"""Standardized solutions (lavaan's ``std.lv`` and ``std.all``).

Rules (checked against lavaan 0.6.14's ``standardizedSolution``):

- ``F =~ x``: ``est * sd(F)`` (std.lv), further ``/ sd(x)`` (std.all);
- ``y ~ x``: ``est * sd(x) / sd(y)`` with sd = model-implied total SD (latent only for std.lv);
- variances ``v ~~ v``: ``est / var(v)`` (total, model-implied);
- covariances ``a ~~ b``: ``est / sqrt(|theta_aa| |theta_bb|)`` using the (residual) variance
  *parameters*, so residual covariances become residual correlations (lavaan's ``cov.std = TRUE``);
- intercepts ``v ~1``: ``est / sd(v)``;
- defined parameters: their function evaluated at the standardized values of their labels.
"""

from __future__ import annotations

import numpy as np


def standardize(model, theta, implied, values, *, which: str) -> np.ndarray:
    """Standardized value of every partable row; ``which`` is ``"std.lv"`` or ``"std.all"``."""
    pt = model.spec.partable
    out = values.copy()
    lv = set(model.lv)
    ov = set(model.ov)
    # per group total sds
    sds = []
    for (sigma, mu, E, full, mean_full) in implied:
        sd = np.sqrt(np.abs(np.diag(full)))
        sds.append(sd)
    # variance parameter values by (group, var)
    var_param: dict[tuple[int, str], float] = {}
    for r, row in enumerate(pt.itertuples(index=False)):
        if row.op == "~~" and row.lhs == row.rhs:
            var_param[(int(row.group), row.lhs)] = values[r]
    idx = model.index

    def scale(g, v):
        if v in lv or which == "std.all":
            return sds[g - 1][idx[v]]
        return 1.0

    for r, row in enumerate(pt.itertuples(index=False)):
        g = int(row.group)
        if g < 1:
            continue
        x = values[r]
        if row.op == "=~":
            out[r] = x * scale(g, row.lhs) / scale(g, row.rhs)
        elif row.op == "~":
            out[r] = x * scale(g, row.rhs) / scale(g, row.lhs)
        elif row.op == "~~":
            if row.lhs == row.rhs:
                s = scale(g, row.lhs)
                out[r] = x / (s * s)
            else:
                def rv(v):
                    if v in lv or (which == "std.all" and v in ov):
                        val = var_param.get((g, v), np.nan)
                        return np.sqrt(abs(val))
                    return 1.0
                out[r] = x / (rv(row.lhs) * rv(row.rhs))
        elif row.op == "~1":
            out[r] = x / scale(g, row.lhs)
    return out
