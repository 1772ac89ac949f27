"""Residual covariances, residual correlations and standardized residuals, as lavaan's ``resid()``.

- ``raw``: ``S - Sigma(theta)`` (and ``ybar - mu(theta)`` with a mean structure), S with divisor N;
- ``cor``: ``cor(S) - cov2cor(Sigma)`` (lavaan's ``type = "cor"`` = ``"cor.bollen"``);
- ``standardized``: raw residual / its standard error, with the asymptotic covariance of the
  residuals ``Gamma / N - Delta V Delta'`` (``Gamma`` the normal-theory covariance of the sample
  moments, ``2 D+ (S x S) D+'`` for covariances and ``S`` for means; ``Delta`` the derivatives of the
  implied moments; ``V`` the parameters' covariance matrix), as ``lav_residuals_acov`` with
  ``z.type = "standardized"`` (details in :func:`_residual_acov`). Where that variance is
  (numerically) zero, a moment the model reproduces exactly, the raw residual is returned as lavaan does.

Checked against lavaan 0.6.14 ``resid(fit, type = )`` (tests/test_diagnostics_lavaan.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import OptionError

TYPES = ("raw", "cor", "standardized")


def residuals(result, type: str = "cor") -> dict:
    """Residual matrices of a fitted model.

    Parameters
    ----------
    result : SEMResult
        An ML / MLR fit to complete data.
    type : {"raw", "cor", "standardized"}

    Returns
    -------
    dict
        One group: ``{"cov": DataFrame, "mean": Series}`` (``mean`` only with a mean structure);
        several groups: ``{group label: that dict}``. Rows and columns are the observed variables.

    Notes
    -----
    lavaan: ``resid(fit, type = "raw" | "cor" | "standardized")``.
    """
    if type not in TYPES:
        raise OptionError(f"residual type {type!r} is not supported; use raw, cor or standardized")
    if "stats" not in result.internals or result.missing != "listwise" or result.estimator == "WLSMV":
        raise OptionError("residuals need an ML or MLR fit to complete (listwise) data")
    spec = result.spec
    model = result.internals["model"]
    stats = result.internals["stats"]
    theta = np.asarray(result.theta, float)
    implied = model.implied(theta)
    names = list(spec.ov_names)
    out = {}
    acov = _residual_acov(result, model, stats, theta, implied) if type == "standardized" else None
    for g, (sigma, mu, *_r) in enumerate(implied):
        S, ybar = stats.cov[g], stats.mean[g]
        if type == "cor":
            sd_s = np.sqrt(np.diag(S))
            sd_m = np.sqrt(np.diag(sigma))
            R = S / np.outer(sd_s, sd_s) - sigma / np.outer(sd_m, sd_m)
            m = ybar / sd_s - mu / sd_m
        else:
            R = S - sigma
            m = ybar - mu
            if type == "standardized":
                se_c, se_m = acov[g]
                with np.errstate(invalid="ignore", divide="ignore"):
                    R = np.where(se_c > 0, R / np.where(se_c > 0, se_c, 1), np.nan)
                    m = np.where(se_m > 0, m / np.where(se_m > 0, se_m, 1), np.nan)
        block = {"cov": pd.DataFrame(R, index=names, columns=names)}
        if spec.meanstructure:
            block["mean"] = pd.Series(m, index=names)
        out[spec.groups[g]] = block
    return out[spec.groups[0]] if len(spec.groups) == 1 else out


def _pairs(p: int):
    """Row and column indices of vech (column-major lower triangle: (j, j), (j+1, j), ...)."""
    rows, cols = [], []
    for j in range(p):
        for i in range(j, p):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


def _residual_acov(result, model, stats, theta, implied):
    """Per group: standard errors of the covariance and mean residuals (matrix, vector).

    lavaan's ``lav_residuals_acov(z.type = "standardized")``: ``Q Gamma Q'`` with
    ``Q = I - (n_g/N) Delta A0^-1 Delta' A1``, ``Gamma`` the unstructured normal-theory covariance of
    the sample moments (``2 D+ (S x S) D+' / n_g``, ``S / n_g`` for means), ``A1`` the structured h1
    information (``D' (Sigma^-1 x Sigma^-1) D / 2``, ``Sigma^-1`` for means) and ``A0^-1 = N vcov``.

    Only the diagonal of ``Q Gamma Q'`` is needed. With vech pairs (i, j), (k, l) the two Kronecker forms
    are ``Gamma = (s_ik s_jl + s_il s_jk) / n_g`` and ``A1 = f_ij f_kl (w_ik w_jl + w_il w_jk)``
    (``W = Sigma^-1``, ``f = 1/2`` on the diagonal, 1 off it), and with ``C = (n_g/N) A0^-1`` and
    ``Da = A1 Delta``, ``diag(Q Gamma Q') = diag(Gamma) - 2 rowsum((Delta C) o (Gamma Da))
    + rowsum((Delta C Da' Gamma Da C) o Delta)``: products with the m x npar matrices only, never the
    p^2 x p^2 Kronecker products (p = 43: 0.02 s instead of 0.8 s).
    """
    N = stats.ntotal
    A0inv = N * np.asarray(result.vcov, float)
    derivs = model.derivatives(theta, implied)
    p = len(model.ov)
    I, J = _pairs(p)
    f = np.where(I == J, 0.5, 1.0)
    ms = model.meanstructure
    out = []
    for g, (dS, dm) in enumerate(derivs):
        S = stats.cov[g]
        n = stats.n[g]
        sigma = implied[g][0]
        sinv = np.linalg.inv(sigma)
        gam = (S[np.ix_(I, I)] * S[np.ix_(J, J)] + S[np.ix_(I, J)] * S[np.ix_(J, I)]) / n
        a1 = (sinv[np.ix_(I, I)] * sinv[np.ix_(J, J)] + sinv[np.ix_(I, J)] * sinv[np.ix_(J, I)]) * np.outer(f, f)
        delta = np.asarray(dS)[:, I, J].T                              # (m, npar)
        if ms:
            z = np.zeros((p, I.size))
            gam = np.block([[S / n, z], [z.T, gam]])
            a1 = np.block([[sinv, z], [z.T, a1]])
            delta = np.vstack([np.asarray(dm).T, delta])
        C = (n / N) * A0inv
        DC = delta @ C
        Da = a1 @ delta
        GDa = gam @ Da
        v = (np.diag(gam) - 2.0 * (DC * GDa).sum(axis=1)
             + ((DC @ (Da.T @ GDa) @ C) * delta).sum(axis=1))
        # a moment the model reproduces exactly has (numerically) zero residual variance: lavaan
        # then divides by 1, so the "z" is the raw residual (about 0)
        se = np.where(v > 1e-10, np.sqrt(np.clip(v, 0, None)), 1.0)
        se_m = se[:p] if ms else np.full(p, np.nan)
        se_v = se[p:] if ms else se
        se_c = np.full((p, p), np.nan)
        se_c[I, J] = se_v
        se_c[J, I] = se_v
        out.append((se_c, se_m))
    return out
