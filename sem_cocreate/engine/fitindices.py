"""The ONE module of fit indices, with lavaan's ``fitMeasures()`` names and conventions.

One function per index, as lavaan 0.6.14's ``lav_fit_cfi.R`` (CFI, TLI/NNFI, RFI, NFI, PNFI, IFI, RNI,
each with a scaling factor ``c`` for the robust versions of Brosseau-Liard & Savalei 2014),
``lav_fit_rmsea.R`` (RMSEA, its interval and the close / not-close p-values), ``lav_fit_aic.R`` (logl,
AIC, BIC, sample-size adjusted BIC) and ``lav_fit_srmr.R`` (SRMR). Every estimator (ML, MLR scaled and
robust, FIML, WLSMV) calls these functions; edge cases (df = 0, baseline chi-square near its df, fixed-x
covariates) are checked against lavaan in tests/test_fitindices.py.

- ``chisq = N * F_ML`` (lavaan's ``likelihood = "normal"``: covariances with divisor N);
- baseline (independence) model: free variances (and means); with fixed-x covariates their variances and
  covariances stay at their sample values (lavaan's ``lav_partable_independence`` with ``fixed.x = TRUE``):
  ``chisq_b = sum_g n_g (sum_y log s_ii + log|S_xx| - log|S_g|)``, ``df_b = p(p-1)/2 - q(q-1)/2`` per group;
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

from .linalg import logdet as _logdet




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


def baseline_chisq(stats, x_idx=()) -> tuple[float, int]:
    """Chi-square and df of the independence model (fixed-x covariates keep their sample covariances)."""
    x_idx = list(x_idx)
    chisq, df = 0.0, 0
    for g, S in enumerate(stats.cov):
        p = S.shape[0]
        y_idx = [i for i in range(p) if i not in x_idx]
        restricted = np.log(np.diag(S)[y_idx]).sum()
        if x_idx:
            restricted += _logdet(S[np.ix_(x_idx, x_idx)])
        chisq += stats.n[g] * (restricted - _logdet(S))
        q = len(x_idx)
        df += p * (p - 1) // 2 - q * (q - 1) // 2
    return float(chisq), int(df)


CLOSE_H0 = 0.05
NOTCLOSE_H0 = 0.08
CI_LEVEL = 0.90



def cfi(x2, df, x2b, dfb, c=1.0, cb=1.0):
    """Comparative fit index, bounded to [0, 1]; with scaling factors ``c``/``cb`` the robust CFI."""
    if not all(np.isfinite([x2, df, x2b, dfb, c, cb])):
        return np.nan
    t1 = max(x2 - c * df, 0.0)
    t2 = max(x2 - c * df, x2b - cb * dfb, 0.0)
    if math.isclose(t1, 0.0, abs_tol=1.5e-8) and math.isclose(t2, 0.0, abs_tol=1.5e-8):
        return 1.0
    return 1.0 - t1 / t2


def rni(x2, df, x2b, dfb, c=1.0, cb=1.0):
    """Relative noncentrality index (CFI without bounds)."""
    if not all(np.isfinite([x2, df, x2b, dfb, c, cb])):
        return np.nan
    t2 = x2b - cb * dfb
    if math.isclose(t2, 0.0, abs_tol=1.5e-8):
        return np.nan
    return 1.0 - (x2 - c * df) / t2


def tli(x2, df, x2b, dfb, c=1.0, cb=1.0):
    """Tucker-Lewis index (NNFI), not bounded; 1 for df = 0; with ``c``/``cb`` the robust TLI."""
    if not all(np.isfinite([x2, df, x2b, dfb, c, cb])):
        return np.nan
    t1 = (x2 - c * df) * dfb
    t2 = (x2b - cb * dfb) * df
    if df > 0 and abs(t2) > 0:
        return 1.0 - t1 / t2
    return 1.0


def nfi(x2, df, x2b, dfb):
    """Normed fit index (NaN when df exceeds the baseline df or the baseline chi-square is 0)."""
    if df > dfb or math.isclose(x2b, 0.0, abs_tol=1.5e-8):
        return np.nan
    return (x2b - x2) / x2b if df > 0 else 1.0


_cfi, _tli, _rni = cfi, tli, rni     # the names robust.py used


def incremental_indices(x2, df, x2b, dfb, suffix: str = "") -> dict:
    """cfi, tli, nnfi, rfi, nfi, pnfi, ifi, rni (lavaan's definitions) with an optional name suffix."""
    out = {"cfi": cfi(x2, df, x2b, dfb), "tli": tli(x2, df, x2b, dfb)}
    out["nnfi"] = out["tli"]
    if df > dfb:
        rfi = np.nan
    elif df > 0 and dfb > 0:
        t1, t2 = x2b / dfb - x2 / df, x2b / dfb
        rfi = 1.0 if (t1 < 0 or t2 < 0) else t1 / t2
    else:
        rfi = 1.0
    out["rfi"] = rfi
    out["nfi"] = nfi(x2, df, x2b, dfb)
    out["pnfi"] = (df / dfb) * ((x2b - x2) / x2b) if (dfb > 0 and x2b > 0) else np.nan
    t1, t2 = x2b - x2, x2b - df
    out["ifi"] = 1.0 if t2 < 0 else (np.nan if math.isclose(t2, 0.0, abs_tol=1.5e-8) else t1 / t2)
    out["rni"] = rni(x2, df, x2b, dfb)
    return {k + suffix: float(v) for k, v in out.items()}


def rmsea_value(x2, df, N, G=1, c=1.0):
    if not df > 0:
        return 0.0
    return math.sqrt(max(x2 / N / df - c / N, 0.0)) * math.sqrt(G)


def rmsea_interval(x2, df, N, G=1, c=1.0, level=CI_LEVEL):
    """lavaan's RMSEA confidence interval (noncentral chi-square inversion), scaled by sqrt(c).

    lavaan finds each noncentrality by ``uniroot``; ``scipy.special.chndtrinc`` inverts the noncentral
    chi-square CDF in the noncentrality directly (cdflib; agrees with a Brent root to ~1e-11) and keeps
    ``scipy.optimize`` (a third of a second of import) off the fit path.
    """
    from scipy.special import chndtrinc

    from ._distributions import ncx2, chi2

    if not all(np.isfinite([x2, df, N])):
        return np.nan, np.nan
    upper_p = 1 - (1 - level) / 2
    lower_p = (1 - level) / 2

    def cdf(lam):
        return chi2.cdf(x2, df) if lam <= 0 else ncx2.cdf(x2, df, lam)

    if df < 1 or cdf(0.0) - upper_p < 0:
        lo = 0.0
    else:
        lam = float(chndtrinc(x2, df, upper_p))
        lo = math.sqrt(c * lam / (N * df)) * (math.sqrt(G) if G > 1 else 1.0)
    n_rmsea = max(N, 4 * x2)
    if df < 1 or cdf(n_rmsea) - lower_p > 0 or cdf(0.0) - lower_p < 0:
        hi = 0.0
    else:
        lam = float(chndtrinc(x2, df, lower_p))
        hi = math.sqrt(c * lam / (N * df)) * (math.sqrt(G) if G > 1 else 1.0)
    return lo, hi


def rmsea_pvalues(x2, df, N, G=1, c=1.0):
    """(close-fit p-value, not-close-fit p-value) as lavaan 0.6.14."""
    from ._distributions import ncx2

    if not df > 0 or not np.isfinite(x2):
        return np.nan, np.nan
    ncp_close = N * df / c * CLOSE_H0 ** 2 / G
    ncp_not = N * df / c * NOTCLOSE_H0 ** 2 / G
    return float(ncx2.sf(x2, df, ncp_close)), float(ncx2.cdf(x2, df, ncp_not))



def rmsea_measures(chisq: float, df: float, N: int, G: int = 1) -> dict:
    """``rmsea``, its 90% interval and the close-fit p-value (lavaan's ``lav_fit_rmsea``); 0 for df = 0."""
    if df <= 0:
        return {"rmsea": 0.0, "rmsea.ci.lower": 0.0, "rmsea.ci.upper": 0.0, "rmsea.pvalue": np.nan}
    lo, hi = rmsea_interval(chisq, df, N, G)
    return {"rmsea": rmsea_value(chisq, df, N, G), "rmsea.ci.lower": lo, "rmsea.ci.upper": hi,
            "rmsea.pvalue": rmsea_pvalues(chisq, df, N, G)[0]}


def information_criteria(logl: float, npar: int, N: int) -> dict:
    """``aic``, ``bic`` and the sample-size adjusted ``bic2`` (lavaan's ``lav_fit_aic``)."""
    return {"aic": -2 * logl + 2 * npar, "bic": -2 * logl + math.log(N) * npar,
            "bic2": -2 * logl + npar * math.log((N + 2) / 24)}


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
    bchisq, bdf = baseline_chisq(stats, x_idx)
    out["baseline.chisq"] = bchisq
    out["baseline.df"] = float(bdf)
    out["baseline.pvalue"] = float(chi2.sf(bchisq, bdf)) if bdf > 0 else np.nan
    out.update(incremental_indices(chisq, df, bchisq, bdf))
    logl, logl_h1 = loglik(stats, implied, meanstructure, x_idx)
    out["logl"] = logl
    out["unrestricted.logl"] = logl_h1
    out.update(information_criteria(logl, npar, N))
    out["ntotal"] = float(N)
    out.update(rmsea_measures(chisq, df, N, ngroups))
    out["srmr"] = srmr(stats, implied, meanstructure)
    return out
