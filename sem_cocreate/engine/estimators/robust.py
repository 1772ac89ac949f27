"""Robust ML (``estimator = "MLR"``): Huber-White sandwich SEs, the Yuan-Bentler (Mplus) scaled
test and lavaan 0.6.14's scaled and robust fit indices; also the FIML-corrected robust indices.

lavaan 0.6.14 defaults for MLR (``lav_options``): ``se = "robust.huber.white"``,
``test = "yuan.bentler.mplus"``, ``information = c("observed", "observed")`` with
``observed.information = "hessian"`` and ``h1.information = "structured"`` (meat) /
``"unstructured"`` (for the test). With ``E`` the observed unit information (Hessian of
``-logl/N``), ``B0_g = Delta_g' B1_g Delta_g`` the crossproduct of the casewise scores at the
estimates (``B1_g`` per group, divided by ``n_g``) and ``f_g = n_g/N``:

- ``vcov = E^-1 (sum_g f_g B0_g) E^-1 / N``;
- Yuan-Bentler (Mplus variant): ``trace.h1_g = tr(A1_g^-1 B1u_g)`` with ``A1``/``B1u`` the
  observed/first-order information of the saturated model at the sample (or EM) moments,
  ``trace.h0_g = f_g tr(B0_g E^-1)``, scaling factor ``c = sum_g (trace.h1_g - trace.h0_g) / df``,
  ``chisq.scaled = chisq / c``; the same for the independence (baseline) model;
- ``cfi.robust``/``tli.robust`` (Brosseau-Liard & Savalei 2014): ``t1 = chisq - c df``,
  ``t2 = chisq_b - c_b df_b`` (CFI bounded); ``rmsea.robust = sqrt(max(chisq/(N df) - c/N, 0))``
  (Brosseau-Liard, Savalei & Li 2012), interval from ``chisq.scaled`` times ``sqrt(c)``;
- ``rmsea.scaled`` uses ``chisq`` with ``df = c * df`` (lavaan's ``trace.UGamma``);
- with FIML the robust indices are the FIML-corrected ones of Zhang & Savalei (2022), as lavaan
  0.6.14's ``lav_fit_fiml_corrected`` (V3 with a scaled test, V6 without).

Checked against lavaan 0.6.14 in tests/test_robust.py and tests/test_fiml.py.
"""

from __future__ import annotations

import math

import numpy as np

from ..fitindices import (CI_LEVEL, CLOSE_H0, NOTCLOSE_H0, _cfi, _rni, _tli,  # noqa: F401
                          incremental_indices, rmsea_interval, rmsea_pvalues, rmsea_value)
from ..linalg import safe_inverse  # noqa: F401


# ----------------------------------------------------------------------------- linear algebra

def _masked_inverse(A1):
    """Inverse of A1 on the rows/columns with a non-zero diagonal (lavaan masks fixed-x elements)."""
    keep = np.diag(A1) != 0
    inv = np.zeros_like(A1)
    inv[np.ix_(keep, keep)] = np.linalg.inv(A1[np.ix_(keep, keep)])
    return inv, int(keep.sum())


# ----------------------------------------------------------------------------- information

def observed_information(model, theta, pdatas, moments, deltas, *, meanstructure: bool, h=1e-5):
    """Observed unit information: the Hessian of ``-logl/N`` at ``theta``.

    ``Delta' I1 Delta`` (``I1`` the observed information of the saturated moments at the implied
    moments, per group weighted by n_g/N) plus ``sum_k (d(-logl/N)/d sigma_k) d2 sigma_k / dtheta2``;
    the second part by central differences of the analytic gradient of the linear functional
    ``tr(G Sigma(theta)) + g' mu(theta)`` with ``G, g`` held at their values at ``theta``
    (lavaan differentiates its analytic gradient numerically too, ``lav_model_hessian``).
    """
    from .patterns import _pattern_terms, h1_information, loglik_grad

    N = sum(pd_.ntotal for pd_ in pdatas)
    E = np.zeros((model.npar, model.npar))
    Gs, gs = [], []
    for g, (pd_, (mu, sigma), D) in enumerate(zip(pdatas, moments, deltas)):
        terms = _pattern_terms(pd_, mu, sigma)
        I1 = h1_information(pd_, mu, sigma, meanstructure=meanstructure, kind="observed", terms=terms)
        E += (pd_.ntotal / N) * D.T @ I1 @ D
        _, g_mu, G = loglik_grad(pd_, mu, sigma, terms=terms)
        Gs.append(-G / N)
        gs.append(-g_mu / N if meanstructure else np.zeros_like(g_mu))
    H2 = np.zeros_like(E)
    for j in range(model.npar):
        hj = h * max(1.0, abs(theta[j]))
        tp = theta.copy()
        tm = theta.copy()
        tp[j] += hj
        tm[j] -= hj
        H2[:, j] = (functional_gradient(model, tp, Gs, gs)
                    - functional_gradient(model, tm, Gs, gs)) / (2 * hj)
    E = E + 0.5 * (H2 + H2.T)
    return 0.5 * (E + E.T)


def functional_gradient(model, theta, Gs, gs):
    """Gradient in theta of ``sum_g tr(G_g Sigma_g(theta)) + g_g' mu_g(theta)`` (G_g symmetric).

    With ``E = (I - A)^-1``, ``Sigma_full = E S E'``, embedded ``Gbar = F' G F``, ``gbar = F' g``:
    d/dA_ij = 2 (Sigma_full Gbar E)_ji + (E' gbar)_i (E m)_j, d/dS_ij = 2 (E' Gbar E)_ij
    (i != j; once on the diagonal), d/dm_i = (E' gbar)_i.
    """
    mats = model.matrices(theta)
    p, nv = model.nobs, model.nvar
    eye = np.eye(nv)
    parts = []
    for g, M in enumerate(mats):
        E = np.linalg.solve(eye - M.A, eye)
        full = E @ M.S @ E.T
        Gbar = np.zeros((nv, nv))
        Gbar[:p, :p] = Gs[g]
        gbar = np.zeros(nv)
        gbar[:p] = gs[g]
        GE = Gbar @ E
        Eg = E.T @ gbar
        MA = 2.0 * (full @ GE).T + np.outer(Eg, E @ M.m)
        K = E.T @ GE
        MS = 2.0 * K
        MS[np.diag_indices(nv)] = np.diag(K)
        parts.append((MA, MS, Eg))
    grad = np.zeros(model.npar)
    for k, plist in enumerate(model.positions):
        for (g, kind, i, j) in plist:
            MA, MS, Eg = parts[g]
            grad[k] += MA[i, j] if kind == "A" else (MS[i, j] if kind == "S" else Eg[i])
    return grad


def sandwich(Einv, B0_groups, fg):
    """``E^-1 (sum_g f_g B0_g) E^-1`` (N times the covariance matrix of the estimates)."""
    B0 = sum(f * B for f, B in zip(fg, B0_groups))
    return Einv @ B0 @ Einv


def yb_mplus_trace(A1_groups, B1_groups, B0_groups, Einv, fg) -> dict:
    """Trace of U Gamma in the Mplus approximation (lavaan's ``yuan.bentler.mplus``)."""
    h1, h0, ndat = [], [], []
    for A1, B1, B0, f in zip(A1_groups, B1_groups, B0_groups, fg):
        A1inv, nd = _masked_inverse(A1)
        h1.append(float(np.sum(B1 * A1inv.T)))
        h0.append(float(f * np.sum(B0 * Einv.T)))
        ndat.append(nd)
    return {"trace": sum(h1) - sum(h0), "h1": h1, "h0": h0, "ndat": ndat}


def baseline_trace(pdatas, b_moments, bdelta, fg, A1_groups, B1_groups, *, meanstructure: bool):
    """Yuan-Bentler (Mplus) trace of the independence model; its parameters are per group.

    ``bdelta`` is one group's Jacobian of (mu, vech Sigma) with respect to that group's
    baseline parameters; the information is the Hessian (the baseline moments are linear in
    its parameters, so ``Delta' I1 Delta`` is exact). Returns None when it is singular.
    """
    from .patterns import h1_firstorder, h1_information

    G = len(pdatas)
    k = bdelta.shape[1]
    deltas = []
    for g in range(G):
        D = np.zeros((bdelta.shape[0], G * k))
        D[:, g * k:(g + 1) * k] = bdelta
        deltas.append(D)
    Eb = sum(f * D.T @ h1_information(pd_, mu, sig, meanstructure=meanstructure) @ D
             for f, pd_, (mu, sig), D in zip(fg, pdatas, b_moments, deltas))
    Ebinv = safe_inverse(Eb)
    if Ebinv is None:
        return None
    B0b = [D.T @ h1_firstorder(pd_, mu, sig, meanstructure=meanstructure) @ D
           for pd_, (mu, sig), D in zip(pdatas, b_moments, deltas)]
    return yb_mplus_trace(A1_groups, B1_groups, B0b, Ebinv, fg)


# ----------------------------------------------------------------------------- fit indices
# one implementation of each index: engine/fitindices.py

def scaled_fit_measures(*, chisq, df, trace, bchisq, bdf, trace_b, N, G, npar) -> dict:
    """Scaled test (Yuan-Bentler Mplus) and the ``.scaled`` fit indices with lavaan's names."""
    from .._distributions import chi2

    c = trace["trace"] / df if df > 0 else np.nan
    if np.isfinite(c) and c < 0:
        c = np.nan
    cb = trace_b["trace"] / bdf if (trace_b is not None and bdf > 0) else np.nan
    x2s = chisq / c
    bx2s = bchisq / cb
    out = {
        "chisq.scaled": x2s, "df.scaled": float(df),
        "pvalue.scaled": float(chi2.sf(x2s, df)) if df > 0 else np.nan,
        "chisq.scaling.factor": c,
        "baseline.chisq.scaled": bx2s, "baseline.df.scaled": float(bdf),
        "baseline.pvalue.scaled": float(chi2.sf(bx2s, bdf)) if bdf > 0 else np.nan,
        "baseline.chisq.scaling.factor": cb,
        "scaling.factor.h1": sum(trace["h1"]) / sum(trace["ndat"]),
        # lavaan divides by nx.free: free rows of the parameter table before equality constraints
        "scaling.factor.h0": sum(trace["h0"]) / npar if npar else np.nan,
    }
    ind = incremental_indices(x2s, df, bx2s, bdf, suffix=".scaled")
    out.update({k: ind[k] for k in ("cfi.scaled", "tli.scaled", "nnfi.scaled", "rfi.scaled",
                                     "nfi.scaled", "pnfi.scaled", "ifi.scaled", "rni.scaled")})
    df2 = trace["trace"]
    if np.isfinite(df2) and df2 > 0:
        out["rmsea.scaled"] = rmsea_value(chisq, df2, N, G)
        lo, hi = rmsea_interval(chisq, df2, N, G)
        out["rmsea.ci.lower.scaled"], out["rmsea.ci.upper.scaled"] = lo, hi
        pc, pn = rmsea_pvalues(chisq, df2, N, G)
        out["rmsea.pvalue.scaled"], out["rmsea.notclose.pvalue.scaled"] = pc, pn
    return {k: float(v) for k, v in out.items()}


def robust_fit_measures(*, xx3, c3, xx3_b, c3_b, df, bdf, N, G) -> dict:
    """``cfi.robust``, ``tli.robust``, ``nnfi.robust``, ``rni.robust`` and the robust RMSEA family."""
    out = {
        "cfi.robust": _cfi(xx3, df, xx3_b, bdf, c3, c3_b),
        "tli.robust": _tli(xx3, df, xx3_b, bdf, c3, c3_b),
        "rni.robust": _rni(xx3, df, xx3_b, bdf, c3, c3_b),
    }
    out["nnfi.robust"] = out["tli.robust"]
    out["rmsea.robust"] = rmsea_value(xx3, df, N, G, c3) if np.isfinite(c3) else np.nan
    xx3s = xx3 / c3
    lo, hi = rmsea_interval(xx3s, df, N, G, c=c3) if np.isfinite(c3) else (np.nan, np.nan)
    out["rmsea.ci.lower.robust"], out["rmsea.ci.upper.robust"] = lo, hi
    pc, pn = rmsea_pvalues(xx3s, df, N, G, c=c3) if np.isfinite(c3) else (np.nan, np.nan)
    out["rmsea.pvalue.robust"], out["rmsea.notclose.pvalue.robust"] = pc, pn
    return {k: float(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- FIML-corrected

def _ml_discrepancy(S, ybar, sigma, mu):
    p = S.shape[0]
    inv = np.linalg.inv(sigma)
    d = ybar - mu
    return (np.linalg.slogdet(sigma)[1] + np.trace(S @ inv) - np.linalg.slogdet(S)[1] - p
            + d @ inv @ d)


def _complete_h1_information(mu, Sigma):
    from .patterns import _complete_expected_information

    return _complete_expected_information(Sigma)


def fiml_corrected(*, h1s, h1_info, h1_fo, deltas, implied, base_moments, bdelta, xmask, fg, N,
                   df, bdf, version: str) -> dict:
    """Ingredients of the FIML-corrected RMSEA/CFI (Zhang & Savalei 2022) as lavaan 0.6.14.

    ``XX3`` is the complete-data ML statistic of the FIML estimates against the EM moments;
    ``c.hat3 = k / df`` with ``k = tr(U Wm^-1 Wc Wm^-1 U Gamma)`` (V3, scaled test) or
    ``tr(Wc Wm^-1 U Wm^-1)`` (V6), ``Wm``/``Wc`` the observed (missing-data) and complete-data
    information of the saturated model at the EM moments, ``Gamma = Wm^-1 Jm Wm^-1`` and
    ``U = Wm - Wm Delta E^-1 Delta' Wm`` with ``E = Delta' Wm Delta``; the same for the
    independence model.
    """
    from scipy.linalg import block_diag

    ngroups = len(h1s)
    n = [f * N for f in fg]
    xx3 = sum(ng * _ml_discrepancy(h.Sigma, h.mu, sig, mu)
              for ng, h, (mu, sig) in zip(n, h1s, implied))
    xx3_b = sum(ng * _ml_discrepancy(h.Sigma, h.mu, sig, mu)
                for ng, h, (mu, sig) in zip(n, h1s, base_moments))
    Wm_inv = [_masked_inverse(W)[0] for W in h1_info]
    Wc = []
    for h in h1s:
        W = _complete_h1_information(h.mu, h.Sigma)
        W[xmask, :] = 0.0
        W[:, xmask] = 0.0
        Wc.append(W)
    Wm_all = block_diag(*[f * W for f, W in zip(fg, h1_info)])
    Wmi_all = block_diag(*[Wi / f for f, Wi in zip(fg, Wm_inv)])
    Wc_all = block_diag(*[f * W for f, W in zip(fg, Wc)])
    Gamma_all = block_diag(*[Wi @ J @ Wi / f for f, Wi, J in zip(fg, Wm_inv, h1_fo)])

    def k_of(Delta_all):
        E = Delta_all.T @ Wm_all @ Delta_all
        Einv = np.linalg.inv(E)
        WD = Wm_all @ Delta_all
        U = Wm_all - WD @ Einv @ WD.T
        if version == "V3":
            M = U @ Wmi_all @ Wc_all @ Wmi_all @ U
            return float(np.sum(M * Gamma_all.T))
        return float(np.trace(Wc_all @ Wmi_all @ U @ Wmi_all))

    k = k_of(np.vstack(deltas))
    kb = k_of(block_diag(*[bdelta] * ngroups) if ngroups > 1 else bdelta)
    c3 = k / df if df > 0 else np.nan
    c3_b = kb / bdf if bdf > 0 else np.nan
    return {"XX3": float(xx3), "c.hat3": c3, "XX3.scaled": float(xx3) / c3,
            "XX3.null": float(xx3_b), "c.hat3.null": c3_b}


# ----------------------------------------------------------------------------- complete data

def robust_complete(spec, model, stats, frames, theta, constraints=None):
    """Sandwich covariance matrix and MLR fit measures for a complete-data ML solution.

    Parameters
    ----------
    spec : ModelSpec
    model : RAMModel
    stats : SampleStats
        Complete-data moments (divisor n) per group.
    frames : list of DataFrame
        The complete data per group (rows used for the casewise scores).
    theta : ndarray
        The ML estimates.
    constraints : ConstraintSet, optional
        General constraints (:mod:`..constraints`): ``E^-1`` becomes lavaan's augmented inverse
        ``Z (Z' E Z)^-1 Z'`` and ``df`` gains the rank of the equality constraints.

    Returns
    -------
    vcov : ndarray (npar, npar)
        Huber-White sandwich covariance matrix of the free parameters.
    extra_fit : dict
        ``chisq.scaled``, ``df.scaled``, ``pvalue.scaled``, ``chisq.scaling.factor``,
        ``scaling.factor.h1``, ``scaling.factor.h0``, ``baseline.chisq.scaled`` (+ df, pvalue,
        scaling factor), ``cfi/tli/nnfi/rfi/nfi/pnfi/ifi/rni.scaled``, ``cfi/tli/nnfi/rni.robust``,
        ``rmsea.scaled`` (+ interval and p-values) and ``rmsea.robust`` (+ interval and p-values).
    """
    from ..estimate import ml_value
    from .patterns import baseline_delta, h1_firstorder, h1_information, model_delta, pattern_data
    from .._distributions import chi2

    from ..fitindices import baseline_chisq

    ms = bool(spec.meanstructure)
    ov = list(spec.ov_names)
    pdatas = [pattern_data(df[ov].to_numpy(dtype=float)) for df in frames]
    N = stats.ntotal
    fg = np.array([n / N for n in stats.n])
    G = len(frames)
    implied = model.implied(theta)
    moments = [(mu if ms else stats.mean[g], sigma) for g, (sigma, mu, *_r) in enumerate(implied)]
    deltas = model_delta(model, theta, meanstructure=ms, implied=implied)
    E = observed_information(model, theta, pdatas, moments, deltas, meanstructure=ms)
    if constraints is not None and constraints.active_jac(theta).shape[0]:
        from ..constraints import constrained_vcov

        Einv = constrained_vcov(E, constraints.active_jac(theta), 1)
    else:
        Einv = safe_inverse(E)
    if Einv is None:
        return None, {}
    B0 = [D.T @ h1_firstorder(pd_, mu, sig, meanstructure=ms) @ D
          for pd_, (mu, sig), D in zip(pdatas, moments, deltas)]
    vcov = sandwich(Einv, B0, fg) / N
    # saturated model at the sample moments; fixed-x elements are masked as lavaan does
    x_idx = [ov.index(v) for v in spec.ov_x]
    A1, B1u = [], []
    for g, pd_ in enumerate(pdatas):
        mu_s, S = stats.mean[g], stats.cov[g]
        a1 = h1_information(pd_, mu_s, S, meanstructure=ms)
        b1 = h1_firstorder(pd_, mu_s, S, meanstructure=ms)
        mask = _fixed_x_mask(len(ov), x_idx, ms)
        a1[mask, :] = 0.0
        a1[:, mask] = 0.0
        A1.append(a1)
        B1u.append(b1)
    trace = yb_mplus_trace(A1, B1u, B0, Einv, fg)
    p = len(ov)
    ndat = G * (p * (p + 1) // 2 + (p if ms else 0))
    nfixedx = G * (len(x_idx) * (len(x_idx) + 1) // 2 + (len(x_idx) if ms else 0)) if x_idx else 0
    df = ndat - model.npar - nfixedx + (constraints.eq_rank(theta) if constraints is not None else 0)
    chisq = N * ml_value(model, theta, stats)
    # baseline (independence) model: free variances (and means) of the non-fixed-x variables
    bchisq, bdf = baseline_chisq(stats, x_idx)
    free_vars = [i for i in range(p) if i not in x_idx]
    bdelta = baseline_delta(p, meanstructure=ms)
    bdelta = bdelta[:, _baseline_free_columns(p, free_vars, ms)]
    b_moments = []
    for g in range(G):
        S = stats.cov[g]
        Sb = np.diag(np.diag(S))
        if x_idx:
            Sb[np.ix_(x_idx, x_idx)] = S[np.ix_(x_idx, x_idx)]
        b_moments.append((stats.mean[g], Sb))
    trace_b = baseline_trace(pdatas, b_moments, bdelta, fg, A1, B1u, meanstructure=ms)
    extra: dict[str, float] = {}
    if df == 0:
        # lavaan 0.6.14 on a saturated model: the "scaled" statistic is the plain one (0, df 0), no
        # scaling factor, the scaled baseline as usual (cfi/tli.scaled = 1), cfi/tli.robust NA and
        # rmsea.robust 0 with the interval [0, 0] (tests/test_fitindices.py, fi_saturated_mlr)
        extra = {"chisq.scaled": chisq, "df.scaled": 0.0, "pvalue.scaled": np.nan,
                 "chisq.scaling.factor": np.nan}
        if trace_b is not None and bdf > 0:
            cb = trace_b["trace"] / bdf
            bx2s = bchisq / cb
            extra.update({"baseline.chisq.scaled": bx2s, "baseline.df.scaled": float(bdf),
                          "baseline.pvalue.scaled": float(chi2.sf(bx2s, bdf)),
                          "baseline.chisq.scaling.factor": cb})
            extra.update(incremental_indices(chisq, 0, bx2s, bdf, suffix=".scaled"))
        extra.update({"cfi.robust": np.nan, "tli.robust": np.nan, "nnfi.robust": np.nan, "rni.robust": np.nan,
                      "rmsea.robust": 0.0, "rmsea.ci.lower.robust": 0.0, "rmsea.ci.upper.robust": 0.0,
                      "rmsea.pvalue.robust": np.nan, "rmsea.notclose.pvalue.robust": np.nan})
        return vcov, {k: float(v) for k, v in extra.items()}
    if trace_b is not None:
        extra.update(scaled_fit_measures(chisq=chisq, df=df, trace=trace, bchisq=bchisq, bdf=bdf,
                                         trace_b=trace_b, N=N, G=G,
                                         npar=int((spec.partable["free"] > 0).sum())))
        extra.update(robust_fit_measures(
            xx3=chisq, c3=extra["chisq.scaling.factor"], xx3_b=bchisq,
            c3_b=extra["baseline.chisq.scaling.factor"], df=df, bdf=bdf, N=N, G=G))
    return vcov, extra


def _fixed_x_mask(p, x_idx, meanstructure):
    from .patterns import vech_index

    r, c = vech_index(p)
    xs = set(x_idx)
    m_sigma = np.array([(a in xs and b in xs) for a, b in zip(r, c)], dtype=bool)
    if not meanstructure:
        return m_sigma
    return np.concatenate([np.array([i in xs for i in range(p)], dtype=bool), m_sigma])


def _baseline_free_columns(p, free_vars, meanstructure):
    cols = list(free_vars)
    if meanstructure:
        return cols + [p + i for i in free_vars]
    return cols
