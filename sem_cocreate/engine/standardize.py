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

import weakref

import numpy as np


def standardize(model, theta, implied, values, *, which: str) -> np.ndarray:
    """Standardized value of every partable row; ``which`` is ``"std.lv"`` or ``"std.all"``."""
    kind, g, li, ri, l_lv, r_lv, l_ov, r_ov, l_var, r_var = _plan(model)
    values = np.asarray(values, dtype=float)
    out = values.copy()
    if not kind.size:
        return out
    # per group total sds (model-implied), by variable index
    sds = np.stack([np.sqrt(np.abs(np.diag(full))) for (_s, _m, _e, full, _mf) in implied])
    gi = np.maximum(g - 1, 0)
    all_ = which == "std.all"
    sl = np.where(l_lv | all_, sds[gi, li], 1.0)
    sr = np.where(r_lv | all_, sds[gi, ri], 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = np.where(kind == 1, values * sl / sr, values)                  # =~
        res = np.where(kind == 2, values * sr / sl, res)                     # ~
        res = np.where(kind == 3, values / (sl * sl), res)                   # variances
        vl = np.where(l_var >= 0, values[np.maximum(l_var, 0)], np.nan)
        vr = np.where(r_var >= 0, values[np.maximum(r_var, 0)], np.nan)
        rl = np.where(l_lv | (all_ & l_ov), np.sqrt(np.abs(vl)), 1.0)
        rr = np.where(r_lv | (all_ & r_ov), np.sqrt(np.abs(vr)), 1.0)
        res = np.where(kind == 4, values / (rl * rr), res)                   # covariances
        res = np.where(kind == 5, values / sl, res)                          # intercepts
    keep = g >= 1
    out[keep] = res[keep]
    return out


_PLANS = weakref.WeakKeyDictionary()     # model -> its index arrays


def _plan(model):
    """Index arrays of the model's parameter table for :func:`standardize` (built once per model)."""
    try:
        return _PLANS[model]
    except (KeyError, TypeError):
        pass
    pt = model.spec.partable
    n = len(pt)
    lv, ov, idx = set(model.lv), set(model.ov), model.index
    ops = pt["op"].to_numpy()
    lhs = pt["lhs"].astype(str).to_numpy()
    rhs = pt["rhs"].astype(str).to_numpy()
    g = pt["group"].to_numpy().astype(int)
    kind = np.zeros(n, dtype=int)
    kind[ops == "=~"] = 1
    kind[ops == "~"] = 2
    kind[(ops == "~~") & (lhs == rhs)] = 3
    kind[(ops == "~~") & (lhs != rhs)] = 4
    kind[ops == "~1"] = 5
    known = kind > 0
    li = np.array([idx.get(v, 0) for v in lhs], dtype=int)
    ri = np.array([idx.get(v, 0) if k in (1, 2, 4) else 0 for v, k in zip(rhs, kind)], dtype=int)
    l_lv = np.array([v in lv for v in lhs]) & known
    r_lv = np.array([v in lv for v in rhs]) & known
    l_ov = np.array([v in ov for v in lhs]) & known
    r_ov = np.array([v in ov for v in rhs]) & known
    var_row = {}
    for r in np.flatnonzero(kind == 3):
        var_row[(g[r], lhs[r])] = r
    l_var = np.array([var_row.get((gg, v), -1) for gg, v in zip(g, lhs)], dtype=int)
    r_var = np.array([var_row.get((gg, v), -1) for gg, v in zip(g, rhs)], dtype=int)
    kind[~known] = 0
    plan = (kind, g, li, ri, l_lv, r_lv, l_ov, r_ov, l_var, r_var)
    try:
        _PLANS[model] = plan
    except TypeError:
        pass
    return plan
