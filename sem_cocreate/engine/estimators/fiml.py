"""Full-information ML (``missing = "fiml"``) as lavaan 0.6.14 does it: the estimator entry point.

The pattern-wise likelihood, its derivatives, the EM saturated model and the baseline model live in
:mod:`.patterns`; this module fits a model with them and assembles the result (ML and MLR).
"""

from __future__ import annotations

import math

import numpy as np

from ...exceptions import DataError, FitError, OptionError
from .patterns import (pattern_data, loglik, h1_information, h1_firstorder, em_saturated, model_delta, fiml_optimize, baseline_fiml, loglik_x, baseline_delta)


def fit_fiml(spec, frames, *, estimator: str = "ML", group: str | None = None):
    """Fit ``spec`` by FIML on data with missing answers (ML or MLR) and return an SEMResult.

    Parameters
    ----------
    spec : ModelSpec
        Built with a mean structure (``fit_sem`` does that for ``missing="fiml"``).
    frames : list of DataFrame
        One per group, the model's observed variables, NaN for missing answers.
    estimator : {"ML", "MLR"}
    group : str, optional
        Name of the group column (only for messages).

    Returns
    -------
    SEMResult
        ``fit`` holds lavaan's fitMeasures names under ``missing = "ml"``: chi-square against the
        EM-estimated saturated model, ``unrestricted.logl``, baseline (independence) model fitted
        by FIML, CFI/TLI/RMSEA, SRMR on the EM moments, logl/AIC/BIC, the FIML-corrected robust
        CFI/TLI/RMSEA of Zhang & Savalei (2022), and under MLR the Yuan-Bentler scaled test;
        ``npatterns`` is the number of missing-data patterns. With observed exogenous covariates
        (fixed.x) rows with a missing covariate are dropped and the log-likelihoods are
        conditional on the covariates, as lavaan.

    Raises
    ------
    OptionError
        For an estimator other than ML/MLR or a specification without a mean structure.
    DataError
        When a group has no usable rows.
    """
    from ..estimate import SampleStats, start_values
    from ..result import _fixed_x_getter, assemble_result
    from ..model import RAMModel
    from . import robust
    from ..fitindices import incremental_indices, information_criteria

    estimator = estimator.upper()
    if estimator not in ("ML", "MLR"):
        raise OptionError(f"FIML works with ML and MLR, not {estimator}")
    if not spec.meanstructure:
        raise OptionError("FIML needs a mean structure; build the model with meanstructure=True")
    ov = list(spec.ov_names)
    x_idx = [ov.index(v) for v in spec.ov_x]
    pdatas = []
    n_empty = 0
    n_xmiss = 0
    for g, df in enumerate(frames):
        X = df[ov].to_numpy(dtype=float)
        if x_idx:
            # lavaan (fixed.x = TRUE, missing = "ml") deletes rows with a missing covariate
            xok = ~np.any(np.isnan(X[:, x_idx]), axis=1)
            n_xmiss += int((~xok).sum())
            X = X[xok]
        keep = ~np.all(np.isnan(X), axis=1)
        n_empty += int((~keep).sum())
        X = X[keep]
        if X.shape[0] < 2:
            where = f" in group {spec.groups[g]!r}" if len(frames) > 1 else ""
            raise DataError(f"fewer than two responses with any answer to the model variables{where}; "
                            "check the data")
        nobs = (~np.isnan(X)).sum(axis=0)
        if np.any(nobs < 2):
            bad = [ov[i] for i in np.where(nobs < 2)[0]]
            raise DataError(f"variable(s) {', '.join(bad)} have fewer than two answers; drop them from the model")
        pdatas.append(pattern_data(X))
    N = sum(pd_.ntotal for pd_ in pdatas)
    fg = np.array([pd_.ntotal / N for pd_ in pdatas])

    # saturated model by EM, then two-stage start values
    h1s = [em_saturated(pd_) for pd_ in pdatas]
    notes: list[str] = []
    if n_empty:
        notes.append(f"{n_empty} response(s) with no answer to any model variable were dropped")
    if n_xmiss:
        notes.append(f"{n_xmiss} response(s) with a missing exogenous covariate "
                     f"({', '.join(spec.ov_x)}) were dropped (fixed.x, as lavaan)")
    npat = sum(pd_.npatterns for pd_ in pdatas)
    notes.append(f"FIML: {N} responses, {npat} missing-data pattern(s)")
    for g, h in enumerate(h1s):
        if not h.converged:
            notes.append("the EM algorithm for the saturated model did not converge in 500 iterations")
    em_stats = SampleStats([pd_.ntotal for pd_ in pdatas], [h.Sigma for h in h1s], [h.mu for h in h1s])
    for g, h in enumerate(h1s):
        if np.any(np.diag(h.Sigma) <= 0):
            raise DataError("a model variable has zero variance; drop it from the model")
    model = RAMModel(spec, fixed_x_values=_fixed_x_getter(em_stats, {v: i for i, v in enumerate(ov)}))
    start = start_values(model, em_stats)
    theta, fval, converged, iters, gmax = fiml_optimize(model, pdatas, start)
    if not converged:
        notes.append(f"the FIML optimizer did not converge (largest gradient {gmax:.2e}); "
                     "results are not trustworthy")

    implied = model.implied(theta)
    lx = loglik_x(pdatas, x_idx)            # conditional on fixed-x covariates, as lavaan
    logl = float(sum(loglik(pdatas[g], mu, sigma) for g, (sigma, mu, *_r) in enumerate(implied))) - lx
    logl_h1 = float(sum(h.logl for h in h1s)) - lx
    chisq = max(2.0 * (logl_h1 - logl), 0.0)

    # information, SEs, robust pieces
    moments = [(mu, sigma) for (sigma, mu, *_r) in implied]
    deltas = model_delta(model, theta, meanstructure=True, implied=implied)
    E = robust.observed_information(model, theta, pdatas, moments, deltas, meanstructure=True)
    vcov = None
    extra: dict[str, float] = {}
    Einv = robust.safe_inverse(E)
    identified = Einv is not None
    if not identified:
        notes.append("the information matrix is singular: the model is not identified")
        vcov = np.full((model.npar, model.npar), np.nan)
    p = len(ov)
    q = len(x_idx)
    G = len(pdatas)
    ndat = G * (p * (p + 1) // 2 + p)
    nfixedx = G * (q * (q + 1) // 2 + q)
    df = ndat - model.npar - nfixedx
    base_moments, logl_base = baseline_fiml(pdatas, x_idx)
    bchisq = max(2.0 * (logl_h1 - logl_base), 0.0)
    bdf = ndat - nfixedx - G * 2 * (p - q)
    # saturated-model information; fixed-x elements masked (zero rows/columns) as lavaan
    xmask = robust._fixed_x_mask(p, x_idx, True)
    h1_info = [_mask(h1_information(pd_, h.mu, h.Sigma, meanstructure=True), xmask)
               for pd_, h in zip(pdatas, h1s)]
    h1_fo = [_mask(h1_firstorder(pd_, h.mu, h.Sigma, meanstructure=True), xmask)
             for pd_, h in zip(pdatas, h1s)]
    y_idx = [i for i in range(p) if i not in set(x_idx)]
    bdelta = baseline_delta(p)[:, y_idx + [p + i for i in y_idx]]
    if identified and df == 0:
        vcov = Einv / N
        if estimator == "MLR":
            B0 = [D.T @ h1_firstorder(pd_, mu, sigma, meanstructure=True) @ D
                  for pd_, (mu, sigma), D in zip(pdatas, moments, deltas)]
            vcov = robust.sandwich(Einv, B0, fg) / N
            extra.update({"chisq.scaled": chisq, "df.scaled": 0.0})
        notes.append("the model is saturated (df = 0): no scaled test or robust fit indices")
    elif identified:
        if estimator == "MLR":
            B0 = [D.T @ h1_firstorder(pd_, mu, sigma, meanstructure=True) @ D
                  for pd_, (mu, sigma), D in zip(pdatas, moments, deltas)]
            vcov = robust.sandwich(Einv, B0, fg) / N
            trace = robust.yb_mplus_trace(h1_info, h1_fo, B0, Einv, fg)
            # baseline model (independence, FIML) and its scaled test
            trace_b = robust.baseline_trace(pdatas, base_moments, bdelta, fg, h1_info, h1_fo,
                                            meanstructure=True)
            extra.update(robust.scaled_fit_measures(
                chisq=chisq, df=df, trace=trace, bchisq=bchisq, bdf=bdf, trace_b=trace_b,
                N=N, G=len(pdatas), npar=int((spec.partable["free"] > 0).sum())))
        else:
            vcov = Einv / N
        corr = robust.fiml_corrected(
            h1s=h1s, h1_info=h1_info, h1_fo=h1_fo, deltas=deltas, implied=moments,
            base_moments=base_moments, bdelta=bdelta, xmask=xmask, fg=fg, N=N, df=df, bdf=bdf,
            version="V3" if estimator == "MLR" else "V6")
        extra.update(robust.robust_fit_measures(
            xx3=corr["XX3"], c3=corr["c.hat3"], xx3_b=corr["XX3.null"], c3_b=corr["c.hat3.null"],
            df=df, bdf=bdf, N=N, G=len(pdatas)))
    # fit measures that differ from the complete-data formulas
    from .._distributions import chi2

    npar = model.npar
    extra.update({
        "baseline.chisq": bchisq, "baseline.df": float(bdf),
        "baseline.pvalue": float(chi2.sf(bchisq, bdf)) if bdf > 0 else np.nan,
        "logl": logl, "unrestricted.logl": logl_h1,
        "ntotal": float(N), "npatterns": float(npat),
    })
    extra.update(information_criteria(logl, npar, N))
    extra.update(incremental_indices(chisq, df, bchisq, bdf))
    result = assemble_result(
        spec, model, em_stats, theta, estimator=estimator, missing="fiml", frames=frames,
        converged=converged, notes=notes, fmin=chisq / (2 * N), vcov=vcov, chisq=chisq,
        extra_fit=extra,
        internals={"pdatas": pdatas, "h1": h1s, "n_empty": n_empty, "iterations": iters,
                   "information": E})
    _check_finite(result)
    return result


def _mask(M, mask):
    if mask.any():
        M = M.copy()
        M[mask, :] = 0.0
        M[:, mask] = 0.0
    return M


def _check_finite(result) -> None:
    est = result.estimates
    if est["est"].isna().any():
        rows = est.loc[est["est"].isna(), ["lhs", "op", "rhs"]].astype(str).agg(" ".join, axis=1)
        raise FitError(f"FIML produced missing estimates for {', '.join(rows)}; check the model")
