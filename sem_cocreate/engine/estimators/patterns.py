"""Full-information maximum likelihood (``missing = "fiml"``) for ML and MLR, as lavaan 0.6.14.

Rows are grouped by missing-data pattern; for a pattern with observed variables ``o`` the
log-likelihood uses the submatrix ``Sigma_oo`` and ``mu_o``. All patterns of a group are handled
together with *embedded* inverses: ``A_b`` is the p x p matrix holding ``Sigma_oo^-1`` in the
rows/columns ``o`` of pattern ``b`` and zeros elsewhere, so every pattern-level quantity is one
batched array operation (no Python loop over patterns or rows).

Per group with pattern sizes ``n_b``, pattern means ``ybar_b`` and covariances ``S_b`` (divisor
``n_b``) of the observed variables, ``d_b = ybar_b - mu`` (zero where missing) and
``W_b = S_b + d_b d_b'``:

- ``logl = -1/2 sum_b n_b (p_b log 2 pi + log|Sigma_oo| + tr(A_b W_b))``;
- gradient ``dl/dmu = sum_b n_b A_b d_b``, ``dl = tr(G dSigma)`` with
  ``G = 1/2 sum_b n_b (A_b W_b A_b - A_b)``;
- observed information of the saturated moments (mu, vech Sigma), per observation:
  mean block ``sum n_b A_b / n``, mixed block ``n_b A_b (.) A_b d_b``, covariance block
  ``n_b/2 [A (x) AWA + AWA (x) A - A (x) A]`` (the bilinear form of ``-d2 l``), reduced to vech
  with the duplication matrix; the expected information drops the residual terms;
- casewise scores ``A_b d_i`` and ``1/2 (A_b d_i d_i' A_b - A_b)``.

The saturated (H1) moments come from the EM algorithm exactly as lavaan runs it (start at the
available-case means and variances with zero covariances, stop when no mean or (co)variance
moves by more than 1e-5, at most 500 iterations), so ``unrestricted.logl``, the chi-square, SRMR
and the robust corrections use the same H1 estimates as lavaan.

The model is fitted by Fisher scoring on ``F = -logl / N`` with the complete-data expected
information of the implied moments as metric (cheap; converges at the rate of the fraction of
missing information), from the engine's starting values computed on the EM moments.
Standard errors use the observed information (the Hessian of ``F``), lavaan's default for
``missing = "ml"``; MLR adds the sandwich and the Yuan-Bentler (Mplus) scaled test with the
casewise scores (:mod:`sem_cocreate.robust`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ...exceptions import DataError, FitError, OptionError

LOG2PI = math.log(2.0 * math.pi)


from ..linalg import NotPositiveDefinite  # noqa: E402,F401  (one class for every estimator)


# ----------------------------------------------------------------------------- patterns

@dataclass
class PatternData:
    """One group's rows grouped by missing-data pattern (rows with no observed value removed)."""

    X: np.ndarray               # (n, p) data, NaN = missing
    masks: np.ndarray           # (B, p) True = observed
    row_pattern: np.ndarray     # (n,) pattern index of every row
    n: np.ndarray               # (B,) rows per pattern
    mean: np.ndarray            # (B, p) pattern means of the observed variables, 0 where missing
    cov: np.ndarray             # (B, p, p) pattern covariances (divisor n_b), 0 where missing
    size_groups: list = field(default_factory=list)   # [(patterns, observed idx, missing idx)]
    rows: list = field(default_factory=list)          # row indices of every pattern
    observed: np.ndarray | None = None                # (n, p) True = observed

    @property
    def ntotal(self) -> int:
        return int(self.n.sum())

    @property
    def npatterns(self) -> int:
        return int(self.masks.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])


def pattern_data(X: np.ndarray) -> PatternData:
    """Group the rows of ``X`` (no all-missing rows) by missing-data pattern."""
    X = np.asarray(X, dtype=float)
    obs = ~np.isnan(X)
    masks, row_pattern = np.unique(obs, axis=0, return_inverse=True)
    row_pattern = row_pattern.ravel()
    B, p = masks.shape
    Xz = np.where(obs, X, 0.0)
    n = np.bincount(row_pattern, minlength=B).astype(float)
    sums = np.zeros((B, p))
    np.add.at(sums, row_pattern, Xz)
    mean = sums / n[:, None]
    dev = (Xz - mean[row_pattern]) * obs
    cov = np.zeros((B, p, p))
    order = np.argsort(row_pattern, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(n.astype(int))])
    rows_list = []
    for b in range(B):
        rows = order[bounds[b]:bounds[b + 1]]
        rows_list.append(rows)
        D = dev[rows]
        cov[b] = D.T @ D / n[b]
    counts = masks.sum(axis=1)
    size_groups = []
    for k in np.unique(counts):
        idx = np.where(counts == k)[0]
        size_groups.append((idx, np.array([np.where(masks[b])[0] for b in idx]),
                            np.array([np.where(~masks[b])[0] for b in idx]).reshape(len(idx), p - k)))
    return PatternData(X, masks, row_pattern, n, mean, cov, size_groups, rows_list, obs)


def embedded_inverse(pdata: PatternData, Sigma: np.ndarray):
    """Per pattern: ``Sigma_oo^-1`` embedded in a p x p zero matrix, and ``log|Sigma_oo|``.

    From ``P = Sigma^-1`` by the partitioned-inverse identity
    ``Sigma_oo^-1 = P_oo - P_om P_mm^-1 P_mo`` (the embedded form ``P - P[:, m] P_mm^-1 P[m, :]``
    has zero rows/columns m) and ``log|Sigma_oo| = log|Sigma| + log|P_mm|``: one p x p inverse
    plus small k x k systems (k = number of missing answers) instead of one inverse per pattern.
    Falls back to inverting every submatrix when Sigma itself is not positive definite.
    """
    B, p = pdata.masks.shape
    try:
        L = np.linalg.cholesky(Sigma)
    except np.linalg.LinAlgError:
        return _embedded_inverse_direct(pdata, Sigma)
    logdet_full = 2.0 * np.log(np.diag(L)).sum()
    P = np.linalg.inv(Sigma)
    P = 0.5 * (P + P.T)
    A = np.empty((B, p, p))
    logdet = np.empty(B)
    for idx, o, m in pdata.size_groups:
        k = m.shape[1]
        if k == 0:
            A[idx] = P
            logdet[idx] = logdet_full
            continue
        Pm = P[:, m].transpose(1, 0, 2)                   # (Bk, p, k)
        Pmm = P[m[:, :, None], m[:, None, :]]              # (Bk, k, k)
        Pmm_inv, logdet_mm = _small_inverse(Pmm)
        Ak = P[None, :, :] - Pm @ Pmm_inv @ Pm.transpose(0, 2, 1)
        Ak[np.arange(len(idx))[:, None], m, :] = 0.0
        Ak[np.arange(len(idx))[:, None], :, m] = 0.0
        A[idx] = 0.5 * (Ak + Ak.transpose(0, 2, 1))
        logdet[idx] = logdet_full + logdet_mm
    return A, logdet


def _small_inverse(M):
    """Inverse and log-determinant of a stack of small positive definite matrices (closed form k <= 2)."""
    k = M.shape[1]
    if k == 1:
        v = M[:, 0, 0]
        if np.any(v <= 0):
            raise NotPositiveDefinite
        return (1.0 / v)[:, None, None], np.log(v)
    if k == 2:
        a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
        det = a * c - b * b
        if np.any(det <= 0) or np.any(a <= 0):
            raise NotPositiveDefinite
        inv = np.empty_like(M)
        inv[:, 0, 0] = c / det
        inv[:, 1, 1] = a / det
        inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        return inv, np.log(det)
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        raise NotPositiveDefinite from None
    return np.linalg.inv(M), 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)


def _embedded_inverse_direct(pdata: PatternData, Sigma: np.ndarray):
    B, p = pdata.masks.shape
    A = np.zeros((B, p, p))
    logdet = np.zeros(B)
    for idx, o, _m in pdata.size_groups:
        sub = Sigma[o[:, :, None], o[:, None, :]]
        try:
            L = np.linalg.cholesky(sub)
        except np.linalg.LinAlgError:
            raise NotPositiveDefinite from None
        logdet[idx] = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        inv = np.linalg.inv(sub)
        A[idx[:, None, None], o[:, :, None], o[:, None, :]] = inv
    return A, logdet


def _pattern_terms(pdata: PatternData, mu: np.ndarray, Sigma: np.ndarray):
    A, logdet = embedded_inverse(pdata, Sigma)
    d = (pdata.mean - mu[None, :]) * pdata.masks
    W = pdata.cov + d[:, :, None] * d[:, None, :]
    return A, logdet, d, W


def loglik(pdata: PatternData, mu: np.ndarray, Sigma: np.ndarray) -> float:
    """Observed-data (FIML) log-likelihood of one group; raises NotPositiveDefinite."""
    A, logdet, d, W = _pattern_terms(pdata, mu, Sigma)
    tr = np.einsum("bij,bji->b", A, W)
    npo = pdata.masks.sum(axis=1)
    return float(-0.5 * np.sum(pdata.n * (npo * LOG2PI + logdet + tr)))


def loglik_grad(pdata: PatternData, mu: np.ndarray, Sigma: np.ndarray, *, terms=None):
    """(logl, dl/dmu (p,), G (p, p)) with ``dl = tr(G dSigma)`` for symmetric dSigma."""
    A, logdet, d, W = terms if terms is not None else _pattern_terms(pdata, mu, Sigma)
    n = pdata.n
    tr = np.einsum("bij,bji->b", A, W)
    npo = pdata.masks.sum(axis=1)
    logl = float(-0.5 * np.sum(n * (npo * LOG2PI + logdet + tr)))
    Ad = np.einsum("bij,bj->bi", A, d)
    g_mu = (n[:, None] * Ad).sum(axis=0)
    AWA = A @ W @ A
    G = 0.5 * np.einsum("b,bij->ij", n, AWA - A)
    return logl, g_mu, G


# ----------------------------------------------------------------------------- vech helpers

def vech_index(p: int):
    """Row/column indices of the lower triangle (our vech order)."""
    return np.tril_indices(p)


def duplication(p: int) -> np.ndarray:
    """Duplication matrix D (p*p x p*) with vec(S) = D vech(S) (row-major vec, our vech order)."""
    r, c = vech_index(p)
    D = np.zeros((p * p, len(r)))
    D[r * p + c, np.arange(len(r))] = 1.0
    D[c * p + r, np.arange(len(r))] = 1.0
    return D


@lru_cache(maxsize=8)
def _vech_gather_index(p: int):
    """Flat indices into M2 (p*p x p*p) for the up to four (row, column) variants of vech pairs.

    Returns ``(flat, weight)``: ``flat`` (4, q*q) int positions in ``M2.ravel()`` and ``weight``
    (4, q*q) 0/1 (a diagonal vech element has one variant, an off-diagonal one two).
    """
    r, c = vech_index(p)
    q = len(r)
    off = (r != c).astype(float)
    flats, weights = [], []
    for x, y, ax in ((r, c, np.ones(q)), (c, r, off)):
        for z, w, bx in ((r, c, np.ones(q)), (c, r, off)):
            rows = y[:, None] * p + z[None, :]
            cols = w[None, :] * p + x[:, None]
            flats.append((rows * (p * p) + cols).ravel())
            weights.append((ax[:, None] * bx[None, :]).ravel())
    return np.array(flats), np.array(weights)


@lru_cache(maxsize=8)
def _vech_pair_index(p: int):
    r, c = vech_index(p)
    off = (r != c).astype(float)
    return r, c, off


def _vech_reduce_cols(M, p):
    """M D for a (k x p*p) matrix M."""
    r, c = vech_index(p)
    off = (r != c).astype(float)
    return M[:, r * p + c] + M[:, c * p + r] * off[None, :]


def _bilinear(w, P, Q, p, D=None):
    """vech form of sum_b w_b tr(P_b X Q_b Y) over symmetric X, Y (a p* x p* matrix).

    For unit directions X = e_x e_y' (+ transpose), Y = e_z e_w' (+ transpose) the trace is
    ``P[y, z] Q[w, x]``; the four (or fewer) index combinations of the vech pairs are summed.
    """
    if len(w) == 1:
        # closed form from the p x p matrices (cache friendly): sum of P[y,z] Q[w,x] over variants
        r, c, off = _vech_pair_index(p)
        P0, Q0 = w[0] * P[0], Q[0]
        Pc, Pr = P0[c], P0[r]
        Qc, Qr = Q0[c], Q0[r]
        out = Pc[:, r] * Qc[:, r].T
        out += Pc[:, c] * Qr[:, r].T * off[None, :]
        out += Pr[:, r] * Qc[:, c].T * off[:, None]
        out += Pr[:, c] * Qr[:, c].T * (off[:, None] * off[None, :])
        return out
    Pf = P.reshape(len(w), p * p)
    Qf = Q.reshape(len(w), p * p)
    M2 = ((Pf * w[:, None]).T @ Qf).ravel()        # M2[(s,t),(u,r)] = sum w P[s,t] Q[u,r]
    flat, weight = _vech_gather_index(p)
    q = p * (p + 1) // 2
    return (np.take(M2, flat) * weight).sum(axis=0).reshape(q, q)


def h1_information(pdata: PatternData, mu: np.ndarray, Sigma: np.ndarray, *, meanstructure: bool,
                   kind: str = "observed", terms=None) -> np.ndarray:
    """Unit information of the saturated moments (mu, vech Sigma) at (mu, Sigma).

    ``kind="observed"``: minus the Hessian of the observed-data log-likelihood divided by n
    (lavaan's ``lav_mvnorm_missing_information_observed_samplestats``); ``"expected"``: its
    expectation. Without a mean structure only the vech(Sigma) block is returned (the means
    are then saturated at their estimates, where the mixed block vanishes).
    """
    p = pdata.p
    A, logdet, d, W = terms if terms is not None else _pattern_terms(pdata, mu, Sigma)
    n = pdata.n
    N = pdata.ntotal
    half = 0.5 * n
    if kind == "expected":
        info_ss = _bilinear(half, A, A, p)
    else:
        AWA = A @ W @ A
        info_ss = (_bilinear(half, A, AWA, p) + _bilinear(half, AWA, A, p)
                   - _bilinear(half, A, A, p))
    if not meanstructure:
        return info_ss / N
    info_mm = np.einsum("b,bij->ij", n, A)
    if kind == "expected":
        info_ms = np.zeros((p, p * (p + 1) // 2))
    else:
        Ad = np.einsum("bij,bj->bi", A, d)
        T = np.einsum("b,bmj,bk->mjk", n, A, Ad).reshape(p, p * p)
        info_ms = _vech_reduce_cols(T, p)
    top = np.hstack([info_mm, info_ms])
    bottom = np.hstack([info_ms.T, info_ss])
    return np.vstack([top, bottom]) / N


def casewise_scores(pdata: PatternData, mu: np.ndarray, Sigma: np.ndarray, *,
                    meanstructure: bool) -> np.ndarray:
    """(n, dim) scores of every row with respect to (mu, vech Sigma) (vech part only without means)."""
    A, _ = embedded_inverse(pdata, Sigma)
    dev = np.where(pdata.observed, pdata.X - mu[None, :], 0.0)
    Z = np.empty_like(dev)
    for b, rows in enumerate(pdata.rows):
        Z[rows] = dev[rows] @ A[b]
    r, c = vech_index(pdata.p)
    factor = np.where(r == c, 0.5, 1.0)           # off-diagonal vech elements count twice
    s_sigma = factor * (Z[:, r] * Z[:, c] - A[:, r, c][pdata.row_pattern])
    if not meanstructure:
        return s_sigma
    return np.hstack([Z, s_sigma])


def h1_firstorder(pdata, mu, Sigma, *, meanstructure: bool) -> np.ndarray:
    """Unit first-order information (crossproduct of casewise scores / n) of the saturated moments."""
    S = casewise_scores(pdata, mu, Sigma, meanstructure=meanstructure)
    return S.T @ S / pdata.ntotal


# ----------------------------------------------------------------------------- EM for H1

@dataclass
class H1:
    mu: np.ndarray
    Sigma: np.ndarray
    logl: float
    iterations: int
    converged: bool


def em_saturated(pdata: PatternData, *, max_iter: int = 500, tol: float = 1e-5) -> H1:
    """Saturated moments by EM, run as lavaan 0.6.14 runs it (same start and stopping rule)."""
    X = pdata.X
    N = pdata.ntotal
    p = pdata.p
    mu = np.nanmean(X, axis=0)
    var0 = np.nanmean((X - mu) ** 2, axis=0)
    var0 = np.where(np.isfinite(var0) & (var0 != 0), var0, 1.0)
    Sigma = np.diag(var0)
    n = pdata.n
    nmean = n[:, None] * pdata.mean
    T2obs = n[:, None, None] * (pdata.cov + pdata.mean[:, :, None] * pdata.mean[:, None, :])
    r, c = vech_index(p)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        A, _ = embedded_inverse(pdata, Sigma)
        L = Sigma[None, :, :] @ A                   # rows o: [I 0]; rows m: [B 0]
        cvec = mu[None, :] - np.einsum("bij,j->bi", L, mu)
        C = Sigma[None, :, :] - Sigma[None, :, :] @ A @ Sigma[None, :, :]
        Ly = np.einsum("bij,bj->bi", L, nmean)      # L (n ybar)
        T1 = (n[:, None] * cvec + Ly).sum(axis=0)
        T2 = (L @ T2obs @ L.transpose(0, 2, 1)
              + cvec[:, :, None] * Ly[:, None, :] + Ly[:, :, None] * cvec[:, None, :]
              + n[:, None, None] * (cvec[:, :, None] * cvec[:, None, :] + C)).sum(axis=0)
        mu_new = T1 / N
        Sigma_new = T2 / N - np.outer(mu_new, mu_new)
        Sigma_new = 0.5 * (Sigma_new + Sigma_new.T)
        if np.linalg.eigvalsh(Sigma_new).min() < 1e-6:
            Sigma_new[np.diag_indices(p)] += np.diag(Sigma_new).max() * 1e-8
        delta = max(np.abs(mu_new - mu).max(), np.abs(Sigma_new[r, c] - Sigma[r, c]).max())
        mu, Sigma = mu_new, Sigma_new
        if delta < tol:
            converged = True
            break
    return H1(mu, Sigma, loglik(pdata, mu, Sigma), it, converged)


# ----------------------------------------------------------------------------- model pieces

def model_delta(model, theta, *, meanstructure: bool, implied=None):
    """Per group the Jacobian (dim x npar) of (mu, vech Sigma) with respect to theta."""
    derivs = model.derivatives(theta, implied)
    p = model.nobs
    r, c = vech_index(p)
    out = []
    for dS, dm in derivs:
        rows = dS[:, r, c].T
        if meanstructure:
            rows = np.vstack([dm.T, rows])
        out.append(rows)
    return out


def structured_moments(model, theta, pdatas, *, meanstructure: bool, sample_means=None):
    """Implied (mu, Sigma) per group; without a mean structure mu is the saturated mean."""
    out = []
    for g, (sigma, mu, *_r) in enumerate(model.implied(theta)):
        if not meanstructure:
            mu = sample_means[g]
        out.append((mu, sigma))
    return out


def _objective(model, theta, pdatas, N):
    """F = -logl/N over groups; inf where some implied matrix is not positive definite."""
    try:
        total = 0.0
        for g, (sigma, mu, *_r) in enumerate(model.implied(theta)):
            total += loglik(pdatas[g], mu, sigma)
    except NotPositiveDefinite:
        return np.inf
    return -total / N


def _objective_grad_info(model, theta, pdatas, N, *, want_info=True):
    implied = model.implied(theta)
    deltas = model_delta(model, theta, meanstructure=True, implied=implied)
    f = 0.0
    grad = np.zeros(model.npar)
    info = np.zeros((model.npar, model.npar)) if want_info else None
    p = model.nobs
    r, c = vech_index(p)
    for g, (sigma, mu, *_r) in enumerate(implied):
        pd_ = pdatas[g]
        terms = _pattern_terms(pd_, mu, sigma)
        logl, g_mu, G = loglik_grad(pd_, mu, sigma, terms=terms)
        f -= logl / N
        gv = np.concatenate([g_mu, np.where(r == c, 1.0, 2.0) * G[r, c]])
        Dg = deltas[g]
        grad -= Dg.T @ gv / N
        if want_info:
            I1 = _complete_expected_information(sigma)
            info += (pd_.ntotal / N) * Dg.T @ I1 @ Dg
    return f, grad, info


def _complete_expected_information(Sigma):
    """Complete-data expected unit information of (mu, vech Sigma): the Fisher-scoring metric.

    Cheap (no pattern loop) and close to the FIML expected information when the share of
    missing answers is modest; the iterations converge at the rate of the missing information.
    """
    p = Sigma.shape[0]
    inv = np.linalg.inv(Sigma)
    ss = _bilinear(np.array([0.5]), inv[None], inv[None], p)
    nv = ss.shape[0]
    return np.block([[inv, np.zeros((p, nv))], [np.zeros((nv, p)), ss]])


def fiml_optimize(model, pdatas, start, *, maxit: int = 200, gtol: float = 1e-9):
    """Fisher scoring with backtracking on F = -logl/N; returns (theta, F, converged, iterations, gmax)."""
    N = sum(pd_.ntotal for pd_ in pdatas)
    theta = np.asarray(start, float).copy()
    if not np.isfinite(_objective(model, theta, pdatas, N)):
        raise FitError("the starting values give a non-positive-definite implied covariance matrix "
                       "under FIML; check the model or give start values")
    from ..optimize import newton_minimize

    res = newton_minimize(theta, lambda th: _objective(model, th, pdatas, N),
                          lambda th: _objective_grad_info(model, th, pdatas, N), maxit=maxit, gtol=gtol,
                          relative=False)
    return res.theta, res.fmin, res.converged, res.iterations, res.grad_max


# ----------------------------------------------------------------------------- baseline

def baseline_fiml(pdatas, x_idx=()):
    """Independence model under FIML: per variable the available-case mean and variance (ML).

    With a diagonal covariance matrix the observed-data likelihood factors over variables, so
    the FIML estimates are the univariate ML estimates from the available answers. Fixed-x
    covariates (complete by construction) keep their sample means and covariance block; their
    likelihood is conditioned out, as for the model. Returns per group (mu, Sigma) and logl.
    """
    out = []
    logl = 0.0
    y_idx = [i for i in range(pdatas[0].p) if i not in set(x_idx)]
    for pd_ in pdatas:
        X = pd_.X
        mu = np.nanmean(X, axis=0)
        var = np.nanmean((X - mu) ** 2, axis=0)
        nobs = (~np.isnan(X)).sum(axis=0)
        logl += float(np.sum((-0.5 * nobs * (LOG2PI + np.log(var) + 1.0))[y_idx]))
        Sb = np.diag(var)
        if len(x_idx):
            Xx = X[:, x_idx]
            Sb[np.ix_(x_idx, x_idx)] = np.cov(Xx.T, bias=True).reshape(len(x_idx), len(x_idx))
        out.append((mu, Sb))
    return out, logl


def loglik_x(pdatas, x_idx) -> float:
    """Saturated log-likelihood of the fixed-x covariates (subtracted: lavaan's conditional logl)."""
    if not len(x_idx):
        return 0.0
    total = 0.0
    q = len(x_idx)
    for pd_ in pdatas:
        Xx = pd_.X[:, x_idx]
        S = np.cov(Xx.T, bias=True).reshape(q, q)
        n = Xx.shape[0]
        total += -0.5 * n * (q * LOG2PI + np.linalg.slogdet(S)[1] + q)
    return float(total)


def baseline_delta(p: int, *, meanstructure: bool = True):
    """Jacobian of (mu, vech Sigma) for the independence model (means then variances)."""
    r, c = vech_index(p)
    nv = len(r)
    dvar = np.zeros((nv, p))
    diag_pos = np.where(r == c)[0]
    dvar[diag_pos, r[diag_pos]] = 1.0
    if not meanstructure:
        return dvar
    top = np.hstack([np.eye(p), np.zeros((p, p))])
    bottom = np.hstack([np.zeros((nv, p)), dvar])
    return np.vstack([top, bottom])


# ----------------------------------------------------------------------------- the fit
