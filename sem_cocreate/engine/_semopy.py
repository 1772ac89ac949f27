"""The semopy boundary: the only module that imports semopy.

semopy 2.3.11 fits the same ML model from an explicit description of our parameter table
(every fixed value written out, so its own defaults — e.g. freeing a first loading when another
is fixed — never apply). Its output is turned into our shapes: loadings ``x ~ F`` become
``F =~ x``, the ``'-'`` placeholders of fixed parameters become NaN. sem_cocreate uses it as
(1) an independent optimizer whose solution seeds our Fisher scoring when our own starting values
do not converge, and (2) a cross-check in the tests. semopy's default solver stops about 1e-3 short
of the optimum, its SRMR/logl/AIC/BIC differ from lavaan's, and it silently uses rows with NaN —
so estimates, standard errors and fit measures always come from our engine at a tight tolerance,
and data reach semopy complete and as floats.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd


SEMOPY_MAXITER = 200          # SLSQP iterations allowed to semopy when it seeds our optimizer
SEMOPY_MAX_PARAMETERS = 60     # larger models: semopy (SLSQP, Python objective) can take many minutes


def semopy_syntax(spec) -> str:
    """semopy model description of a single-group parameter table, all fixed values explicit."""
    pt = spec.partable
    pt = pt[pt["group"] == 1]
    lines = []

    def term(row):
        if row.free == 0:
            return f"{float(row.ustart):.12g}*{row.rhs}"
        if row.label and not str(row.label).startswith("."):
            return f"{row.label}*{row.rhs}"
        return row.rhs

    for op in ("=~", "~"):
        for lhs in pd.unique(pt.loc[pt["op"] == op, "lhs"]):
            rows = pt[(pt["op"] == op) & (pt["lhs"] == lhs)]
            lines.append(f"{lhs} {op} " + " + ".join(term(r) for r in rows.itertuples(index=False)))
    for r in pt[pt["op"] == "~~"].itertuples(index=False):
        if r.exo:
            continue
        lines.append(f"{r.lhs} ~~ {term(r)}")
    return "\n".join(lines) + "\n"


def semopy_estimates(spec, frame: pd.DataFrame) -> pd.DataFrame:
    """Fit with semopy (its ML objective on the divisor-N covariance) and return ``lhs, op, rhs, est``."""
    import semopy

    data = frame[list(spec.ov_names)].astype(float)
    if data.isna().any().any():
        raise ValueError("semopy must not see missing values; pass complete data")
    model = semopy.Model(semopy_syntax(spec))
    # lavaan's ML uses the covariance with divisor N; semopy's default estimates it with N - 1,
    # which rescales every variance by N/(N-1). Give semopy the divisor-N matrix itself.
    n = len(data)
    cov = data.cov() * (n - 1) / n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # bounded effort: this is a second opinion, not the estimator of record
        model.fit(cov=cov, n_samples=n, options={"maxiter": SEMOPY_MAXITER})
        ins = model.inspect()
    lv = set(spec.lv_names)
    rows = []
    for r in ins.itertuples(index=False):
        lval, op, rval, est = r[0], r[1], r[2], r[3]
        est = float(est) if est not in ("-", None) else math.nan
        if op == "~" and rval in lv and lval not in lv and _is_indicator(spec, rval, lval):
            rows.append((rval, "=~", lval, est))
        elif op == "~" and rval in lv and _is_indicator(spec, rval, lval):
            rows.append((rval, "=~", lval, est))
        else:
            rows.append((lval, op, rval, est))
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est"])


def _is_indicator(spec, factor, item) -> bool:
    pt = spec.partable
    return bool(((pt["op"] == "=~") & (pt["lhs"] == factor) & (pt["rhs"] == item)).any())


def semopy_start(spec, model, frame: pd.DataFrame) -> np.ndarray | None:
    """Starting values for our free parameters from a semopy fit (None if semopy fails or the model is
    too large for semopy to be a quick second opinion)."""
    if model.npar > SEMOPY_MAX_PARAMETERS:
        return None
    try:
        est = semopy_estimates(spec, frame)
    except Exception:  # semopy is an optional helper here; our own optimizer decides
        return None
    lookup = {}
    for r in est.itertuples(index=False):
        lookup[(r.lhs, r.op, r.rhs)] = r.est
        if r.op == "~~":
            lookup[(r.rhs, r.op, r.lhs)] = r.est
    theta = np.full(model.npar, np.nan)
    for r in spec.partable.itertuples(index=False):
        if r.free > 0 and np.isnan(theta[r.free - 1]):
            v = lookup.get((r.lhs, r.op, r.rhs))
            if v is not None and np.isfinite(v):
                theta[r.free - 1] = v
    if np.isnan(theta).any():
        return None
    return theta
