"""Linear-algebra helpers shared by every estimator: one ``NotPositiveDefinite``, a safe inverse,
Cholesky with the log-determinant, and the log-determinant of a sample matrix."""

from __future__ import annotations

import numpy as np


class NotPositiveDefinite(Exception):
    """A model-implied (or pattern) covariance matrix is not positive definite."""


def safe_inverse(M):
    """Inverse of a symmetric information matrix, or None when it is (near) singular.

    Singular means an eigenvalue below ``1e-10`` times the largest absolute one (lavaan's
    ``lav_matrix_symmetric_inverse`` check for a non-invertible information matrix).
    """
    if M is None:
        return None
    if M.shape[0] == 0:
        return np.zeros((0, 0))
    eig = np.linalg.eigvalsh(0.5 * (M + M.T))
    scale = max(abs(eig).max(), 1e-300)
    if eig.min() < 1e-10 * scale:
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
