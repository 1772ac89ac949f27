"""Fit measures with lavaan's ``fitMeasures()`` names and conventions (complete-data ML).

- ``chisq = N * F_ML`` (lavaan's ``likelihood = "normal"``: covariances with divisor N);
- baseline (independence) model: free variances (and means), ``chisq_b = sum_g n_g (sum log s_ii - log|S_g|)``;
- ``cfi = 1 - max(chisq - df, 0) / max(chisq - df, chisq_b - df_b, 0)`` (1 when both are 0),
  ``tli = (chisq_b/df_b - chisq/df) / (chisq_b/df_b - 1)``;
- ``rmsea = sqrt(max((chisq/N)/df - 1/N, 0)) * sqrt(G)``, 90% interval by inverting the noncentral
  chi-square, ``rmsea.pvalue`` for close fit (H0: rmsea <= 0.05);
- ``srmr``: Bentler's standardized root mean square residual (lavaan's ``srmr``), residuals
  standardized by the observed SDs, means included with a mean structure, groups weighted by n_g/N;
- ``logl`` on the full-likelihood scale, ``aic = -2 logl + 2 npar``, ``bic = -2 logl + log(N) npar``.
"""

from __future__ import annotations

import math

import numpy as np


def _logdet(A):
    sign, val = np.linalg.slogdet(A)
    return val


def loglik(stats, implied, meanstructure: bool, x_idx=()) -> tuple[float, float]:
    """(logl of the model, logl of the unrestricted model), full-likelihood scale.

    With fixed exogenous covariates (``x_idx``, lavaan's ``fixed.x = TRUE``) lavaan reports the
    likelihood conditional on them: the marginal log-likelihood of the x's (saturated) is
    subtracted from both.
    """
    logl = 0.0
    logl_h1 = 0.0
    for g, (sigma, mu, *_r) in enumerate(implied):
        n, S, ybar = stats.n[g], stats.cov[g], stats.mean[g]
        p = S.shape[0]
        if len(x_idx):
            q = len(x_idx)
            lx = -n / 2 * (q * math.log(2 * math.pi) + _logdet(S[np.ix_(x_idx, x_idx)]) + q)
            logl -= lx
            logl_h1 -= lx
        inv = np.linalg.inv(sigma)
        quad = 0.0
        if meanstructure:
            d = ybar - mu
            quad = d @ inv @ d
        logl += -n / 2 * (p * math.log(2 * math.pi) + _logdet(sigma) + np.trace(S @ inv) + quad)
        logl_h1 += -n / 2 * (p * math.log(2 * math.pi) + _logdet(S) + p)
    return float(logl), float(logl_h1)


def baseline_chisq(stats) -> tuple[float, int]:
    chisq, df = 0.0, 0
    for g, S in enumerate(stats.cov):
        p = S.shape[0]
        chisq += stats.n[g] * (np.log(np.diag(S)).sum() - _logdet(S))
        df += p * (p - 1) // 2
    return float(chisq), int(df)


def rmsea_measures(chisq: float, df: float, N: int, G: int = 1, *, level: float = 0.90,
                   close: float = 0.05) -> dict:
    from scipy.optimize import brentq
    from ._distributions import chi2, ncx2

    out = {}
    if df <= 0:
        return {"rmsea": 0.0, "rmsea.ci.lower": 0.0, "rmsea.ci.upper": 0.0, "rmsea.pvalue": np.nan}
    out["rmsea"] = math.sqrt(max((chisq / N) / df - 1.0 / N, 0.0)) * math.sqrt(G)
    upper_p = (1 + level) / 2     # 0.95
    lower_p = (1 - level) / 2     # 0.05

    def cdf(lam):
        if lam <= 0:
            return chi2.cdf(chisq, df)
        return ncx2.cdf(chisq, df, lam)

    def solve(target):
        if cdf(0.0) < target:
            return 0.0
        hi = max(chisq, 1.0)
        while cdf(hi) > target:
            hi *= 2
            if hi > 1e8:
                return np.nan
        return brentq(lambda lam: cdf(lam) - target, 0.0, hi, xtol=1e-12)

    lam_l = solve(upper_p)
    lam_u = solve(lower_p)
    out["rmsea.ci.lower"] = math.sqrt(lam_l / (N * df)) * math.sqrt(G)
    out["rmsea.ci.upper"] = math.sqrt(lam_u / (N * df)) * math.sqrt(G)
    ncp = N * df * close ** 2 / G
    out["rmsea.pvalue"] = float(1 - ncx2.cdf(chisq, df, ncp))
    return out


def srmr(stats, implied, meanstructure: bool) -> float:
    N = stats.ntotal
    total = 0.0
    for g, (sigma, mu, *_r) in enumerate(implied):
        S = stats.cov[g]
        p = S.shape[0]
        sd = np.sqrt(np.diag(S))
        R = (S - sigma) / np.outer(sd, sd)
        il = np.tril_indices(p)
        ss = float((R[il] ** 2).sum())
        e = p * (p + 1) / 2
        if meanstructure:
            rm = (stats.mean[g] - mu) / sd
            ss += float((rm ** 2).sum())
            e += p
        total += stats.n[g] / N * math.sqrt(ss / e)
    return total


def fit_measures(*, chisq: float, df: int, npar: int, stats, implied, meanstructure: bool,
                 ngroups: int = 1, x_idx=()) -> dict:
    """The standard ML fit measures as a dict with lavaan's names."""
    from ._distributions import chi2

    N = stats.ntotal
    out: dict[str, float] = {"npar": float(npar), "fmin": chisq / (2 * N), "chisq": chisq, "df": float(df)}
    out["pvalue"] = float(chi2.sf(chisq, df)) if df > 0 else np.nan
    bchisq, bdf = baseline_chisq(stats)
    out["baseline.chisq"] = bchisq
    out["baseline.df"] = float(bdf)
    out["baseline.pvalue"] = float(chi2.sf(bchisq, bdf)) if bdf > 0 else np.nan
    t1 = max(chisq - df, 0.0)
    t2 = max(chisq - df, bchisq - bdf, 0.0)
    out["cfi"] = 1.0 if (t1 == 0 and t2 == 0) else 1.0 - t1 / t2
    if df > 0 and bdf > 0:
        out["tli"] = (bchisq / bdf - chisq / df) / (bchisq / bdf - 1.0)
    else:
        out["tli"] = 1.0
    out["nnfi"] = out["tli"]
    out["nfi"] = (bchisq - chisq) / bchisq if bchisq > 0 else np.nan
    logl, logl_h1 = loglik(stats, implied, meanstructure, x_idx)
    out["logl"] = logl
    out["unrestricted.logl"] = logl_h1
    out["aic"] = -2 * logl + 2 * npar
    out["bic"] = -2 * logl + math.log(N) * npar
    out["ntotal"] = float(N)
    out["bic2"] = -2 * logl + npar * math.log((N + 2) / 24)
    out.update(rmsea_measures(chisq, df, N, ngroups))
    out["srmr"] = srmr(stats, implied, meanstructure)
    return out
