"""Linear-algebra helpers shared by every estimator: one ``NotPositiveDefinite``, a safe inverse,
Cholesky with the log-determinant, and the log-determinant of a sample matrix."""

from __future__ import annotations

import numpy as np


class NotPositiveDefinite(Exception):
    """A model-implied (or pattern) covariance matrix is not positive definite."""


def smallest_scaled_eigenvalue(M) -> float:
    """Smallest eigenvalue of ``D^-1/2 M D^-1/2`` (``D`` = diag M): a singularity measure that does not
    depend on the units of the variables (a model for data in thousandths has information entries
    1e8 apart; its unscaled eigenvalues say nothing about identification). 0 when a diagonal entry is
    not positive."""
    d = np.diag(M)
    if M.shape[0] == 0:
        return 1.0
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        return 0.0
    s = 1.0 / np.sqrt(d)
    return float(np.linalg.eigvalsh(0.5 * (M + M.T) * np.outer(s, s)).min())


SINGULAR_TOL = 1e-10


def is_singular(M) -> bool:
    """True when the symmetric information matrix ``M`` is (near) singular, in a scale-free sense."""
    return smallest_scaled_eigenvalue(M) < SINGULAR_TOL


def safe_inverse(M):
    """Inverse of a symmetric information matrix, or None when it is (near) singular.

    Singular means the smallest eigenvalue of the diagonally scaled matrix is below ``1e-10``
    (:func:`is_singular`), so rescaling a variable does not change the verdict.
    """
    if M is None:
        return None
    if M.shape[0] == 0:
        return np.zeros((0, 0))
    if is_singular(M):
        return None
    return np.linalg.inv(M)


def chol_inv_logdet(sigma):
    """(inverse, log-determinant) of a positive-definite matrix; raises :class:`NotPositiveDefinite`."""
    try:
        L = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        raise NotPositiveDefinite from None
    logdet = 2.0 * np.log(np.diag(L)).sum()
    inv = np.linalg.inv(sigma)
    return inv, logdet


def logdet(S):
    """log|S| of a sample matrix (NaN when its determinant is not positive)."""
    sign, val = np.linalg.slogdet(S)
    return val if sign > 0 else np.nan
