"""Sample statistics for ordinal data: thresholds, polychoric correlations and their asymptotic
covariance matrix (lavaan 0.6.14's ``muthen1984`` / ``lav_samplestats_step2``, no covariates).

- Thresholds per variable: univariate probit, ``tau_k = Phi^-1(cumulative proportion of categories
  1..k)``; categories are the *observed* values in sorted order (unobserved scale points are
  dropped, as lavaan's ``as.integer(ordered(y))``).
- Polychoric correlation per pair: two-step ML, thresholds fixed at their univariate values, the
  bivariate-normal rectangle probabilities computed with Genz's (2004) BVN algorithm vectorised over
  the table's cells, maximised in ``rho`` on ``[-0.999, 0.999]`` (lavaan's bounds).
- Empty cells: nothing is added for tables larger than 2 x 2 (lavaan's ``zero.add = c(0.5, 0)``:
  the 0 applies); a 2 x 2 table with one empty cell gets 0.5 moved into it keeping the margins
  (``zero.keep.margins = TRUE``); two empty cells in a 2 x 2 table give rho = +-1.
- Gamma (``NACOV``): casewise scores of the univariate (thresholds) and bivariate (rho) log-
  likelihoods, ``INNER = SC'SC``, ``A11`` = per-variable threshold blocks of ``INNER``, ``A21`` =
  cross-products of the rho scores with the threshold derivatives of the bivariate log-likelihood,
  ``A22 = diag(sum of squared rho scores)``, ``B = [[A11, 0], [A21, A22]]`` and
  ``Gamma = N * B^-1 INNER B^-T`` (lavaan's ``WLS.W * nobs``; ``gamma.n.minus.one = FALSE``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

_TWO_PI = 2.0 * math.pi

# Gauss-Legendre half-nodes/weights (Genz 2004, "Numerical computation of rectangular bivariate and
# trivariate normal and t probabilities"), for 6, 12 and 20 points.
_GL = {
    6: (np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904]),
        np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970])),
    12: (np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
                   0.2031674267230659, 0.2334925365383547, 0.2491470458134029]),
         np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
                   0.5873179542866171, 0.3678314989981802, 0.1252334085114692])),
    20: (np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906,
                   0.08327674157670475, 0.1019301198172404, 0.1181945319615184,
                   0.1316886384491766, 0.1420961093183821, 0.1491729864726037,
                   0.1527533871307259]),
         np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259,
                   0.8391169718222188, 0.7463319064601508, 0.6360536807265150,
                   0.5108670019508271, 0.3737060887154196, 0.2277858511416451,
                   0.07652652113349733])),
}


def _bvnu(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    """P(X > h, Y > k) for a standard bivariate normal with correlation ``r``; finite h, k arrays."""
    h = np.asarray(h, float)
    k = np.asarray(k, float)
    if r == 0.0:
        return ndtr(-h) * ndtr(-k)
    ar = abs(r)
    n = 6 if ar < 0.3 else (12 if ar < 0.75 else 20)
    w, x = _GL[n]
    w = np.concatenate([w, w])
    x = np.concatenate([1.0 - x, 1.0 + x])
    hk = h * k
    if ar < 0.925:
        hs = (h * h + k * k) / 2.0
        asr = math.asin(r) / 2.0
        sn = np.sin(asr * x)                                  # (m,)
        e = np.exp((sn[:, None] * hk.ravel()[None, :] - hs.ravel()[None, :]) / (1.0 - sn * sn)[:, None])
        bvn = (w @ e).reshape(h.shape) * asr / _TWO_PI + ndtr(-h) * ndtr(-k)
        return np.clip(bvn, 0.0, 1.0)
    if r < 0:
        k = -k
        hk = -hk
    bvn = np.zeros(np.broadcast(h, k).shape)
    if ar < 1.0:
        as_ = (1.0 - r) * (1.0 + r)
        a = math.sqrt(as_)
        bs = (h - k) ** 2
        asr = -(bs / as_ + hk) / 2.0
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 80.0
        t1 = a * np.exp(np.maximum(asr, -745.0)) * (1.0 - c * (bs - as_) * (1.0 - d * bs) / 3.0 + c * d * as_ * as_)
        bvn = np.where(asr > -100.0, t1, 0.0)
        b = np.sqrt(bs)
        sp = math.sqrt(_TWO_PI) * ndtr(-b / a)
        t2 = np.exp(-np.maximum(hk, -100.0) / 2.0) * sp * b * (1.0 - c * bs * (1.0 - d * bs) / 3.0)
        bvn = bvn - np.where(hk > -100.0, t2, 0.0)
        a2 = a / 2.0
        xs = (a2 * x) ** 2                                    # (m,)
        asr2 = -(bs.ravel()[None, :] / xs[:, None] + hk.ravel()[None, :]) / 2.0
        sp2 = 1.0 + c.ravel()[None, :] * xs[:, None] * (1.0 + 5.0 * d.ravel()[None, :] * xs[:, None])
        rs = np.sqrt(1.0 - xs)
        ep = np.exp(-(hk.ravel()[None, :] / 2.0) * (xs / (1.0 + rs) ** 2)[:, None]) / rs[:, None]
        terms = np.where(asr2 > -100.0, np.exp(np.maximum(asr2, -745.0)) * (sp2 - ep), 0.0)
        bvn = (a2 * (w @ terms).reshape(bvn.shape) - bvn) / _TWO_PI
    if r > 0:
        bvn = bvn + ndtr(-np.maximum(h, k))
    else:
        L = np.where(h < 0, ndtr(k) - ndtr(h), ndtr(-h) - ndtr(-k))
        bvn = np.where(h >= k, -bvn, L - bvn)
    return np.clip(bvn, 0.0, 1.0)


def _bvnu_vec(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """:func:`_bvnu` with an array of correlations (broadcast with h, k); 20-point rule throughout."""
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    out = np.empty(h.shape)
    small = np.abs(r) < 0.925
    w, x = _GL[20]
    w = np.concatenate([w, w])
    x = np.concatenate([1.0 - x, 1.0 + x])
    if small.any():
        hh, kk, rr = h[small], k[small], r[small]
        hs = (hh * hh + kk * kk) / 2.0
        asr = np.arcsin(rr) / 2.0
        sn = np.sin(asr[None, :] * x[:, None])               # (m, n)
        e = np.exp((sn * (hh * kk)[None, :] - hs[None, :]) / (1.0 - sn * sn))
        out[small] = (w @ e) * asr / _TWO_PI + ndtr(-hh) * ndtr(-kk)
    big = ~small
    if big.any():
        idx = np.flatnonzero(big.ravel())
        hv, kv, rv = h.ravel()[idx], k.ravel()[idx], r.ravel()[idx]
        res = np.empty(len(idx))
        for val in np.unique(rv):
            m = rv == val
            res[m] = _bvnu(hv[m], kv[m], float(val))
        flat = out.ravel()
        flat[idx] = res
        out = flat.reshape(h.shape)
    return np.clip(out, 0.0, 1.0)


def bvn_cdf(h, k, r: float) -> np.ndarray:
    """Standard bivariate normal CDF ``Phi2(h, k; r)`` for finite arrays ``h``, ``k`` (scalar ``r``).

    Notes
    -----
    Genz (2004) algorithm (Drezner-Wesolowsky type Gauss-Legendre quadrature on ``asin(r)`` for
    ``|r| < 0.925``, an asymptotic expansion otherwise); absolute error about 1e-15. Checked against
    ``scipy.stats.multivariate_normal.cdf`` in tests/test_ordinal.py.
    """
    h, k = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float))
    return _bvnu(-h, -k, float(r))


def _bvn_pdf(h, k, r):
    R2 = 1.0 - r * r
    return np.exp(-(h * h - 2.0 * r * h * k + k * k) / (2.0 * R2)) / (_TWO_PI * math.sqrt(R2))


@dataclass
class _Pair:
    """Cell-level quantities of one bivariate table at the polychoric estimate."""

    P: np.ndarray        # (K1, K2) cell probabilities
    dP: np.ndarray       # (K1, K2) derivative wrt rho
    freq: np.ndarray     # (K1, K2) observed counts


def _cell_probs(t1, t2, r):
    """Cell probabilities (K1 x K2) and their rho derivatives for thresholds t1, t2."""
    F = np.zeros((len(t1) + 2, len(t2) + 2))
    F[-1, 1:-1] = ndtr(t2)
    F[1:-1, -1] = ndtr(t1)
    F[-1, -1] = 1.0
    F[1:-1, 1:-1] = bvn_cdf(t1[:, None], t2[None, :], r)
    P = F[1:, 1:] - F[:-1, 1:] - F[1:, :-1] + F[:-1, :-1]
    D = np.zeros_like(F)
    D[1:-1, 1:-1] = _bvn_pdf(t1[:, None], t2[None, :], r)
    dP = D[1:, 1:] - D[:-1, 1:] - D[1:, :-1] + D[:-1, :-1]
    return P, dP


def _loglik(freq, t1, t2, r):
    P, dP = _cell_probs(t1, t2, r)
    pos = freq > 0
    Pp = np.maximum(P[pos], 1e-300)
    ll = float((freq[pos] * np.log(Pp)).sum())
    grad = float((freq[pos] * dP[pos] / Pp).sum())
    N = freq.sum()
    ok = P > 1e-300
    info = float(N * (dP[ok] ** 2 / P[ok]).sum())
    return ll, grad, info


RHO_BOUND = 0.999   # lavaan's nlminb bounds for a polychoric correlation


def polychoric_pair(freq: np.ndarray, t1: np.ndarray, t2: np.ndarray, *, start: float = 0.0,
                    tol: float = 1e-11) -> float:
    """Two-step ML polychoric correlation of a contingency table with fixed thresholds.

    Parameters
    ----------
    freq : ndarray (K1, K2)
        Observed counts (already adjusted for empty cells where lavaan does).
    t1, t2 : ndarray
        Thresholds of the row and column variable (K1 - 1 and K2 - 1 values).
    start : float
        Starting value (lavaan: the Pearson correlation of the category codes).

    Returns
    -------
    float
        The maximiser of ``sum n_ab log P_ab(rho)`` on ``[-0.999, 0.999]``.
    """
    r = float(np.clip(start, -0.99, 0.99))
    ll, g, info = _loglik(freq, t1, t2, r)
    for _ in range(100):
        if info <= 0 or not np.isfinite(info):
            break
        step = g / info
        new = float(np.clip(r + step, -RHO_BOUND, RHO_BOUND))
        ll_new, g_new, info_new = _loglik(freq, t1, t2, new)
        half = 0
        while ll_new < ll - 1e-12 and half < 30:
            new = (r + new) / 2.0
            ll_new, g_new, info_new = _loglik(freq, t1, t2, new)
            half += 1
        if abs(new - r) < tol:
            r, g = new, g_new
            break
        r, ll, g, info = new, ll_new, g_new, info_new
    else:  # pragma: no cover - Newton did not settle: bounded 1-D search
        from scipy.optimize import minimize_scalar

        res = minimize_scalar(lambda x: -_loglik(freq, t1, t2, x)[0], bounds=(-RHO_BOUND, RHO_BOUND),
                              method="bounded", options={"xatol": 1e-12})
        r = float(res.x)
    if abs(r) >= RHO_BOUND - 1e-12:
        return float(np.sign(r) * RHO_BOUND)
    return r


_BIG = 40.0     # stands in for an infinite threshold (Phi(40) == 1 in double precision)


def _batch_tables(freqs, ths1, ths2, kmax1, kmax2):
    """Stack tables and thresholds of several pairs, padded to a common shape."""
    n = len(freqs)
    F = np.zeros((n, kmax1, kmax2))
    T1 = np.full((n, kmax1 + 1), _BIG)
    T2 = np.full((n, kmax2 + 1), _BIG)
    T1[:, 0] = -_BIG
    T2[:, 0] = -_BIG
    for m, (f, a, b) in enumerate(zip(freqs, ths1, ths2)):
        F[m, :f.shape[0], :f.shape[1]] = f
        T1[m, 1:len(a) + 1] = a
        T2[m, 1:len(b) + 1] = b
    return F, T1, T2


def _batch_probs(T1, T2, r):
    """Cell probabilities and rho derivatives for stacked (padded) pairs with correlations r."""
    H = T1[:, :, None]
    K = T2[:, None, :]
    R = r[:, None, None]
    Fc = _bvnu_vec(-H, -K, R)
    R2 = 1.0 - R * R
    D = np.exp(-(H * H - 2.0 * R * H * K + K * K) / (2.0 * R2)) / (_TWO_PI * np.sqrt(R2))
    P = Fc[:, 1:, 1:] - Fc[:, :-1, 1:] - Fc[:, 1:, :-1] + Fc[:, :-1, :-1]
    dP = D[:, 1:, 1:] - D[:, :-1, 1:] - D[:, 1:, :-1] + D[:, :-1, :-1]
    return P, dP


def _batch_loglik(F, T1, T2, r):
    P, dP = _batch_probs(T1, T2, r)
    pos = F > 0
    Pp = np.where(pos, np.maximum(P, 1e-300), 1.0)
    ll = (F * np.log(Pp)).sum(axis=(1, 2))
    grad = (np.where(pos, F * dP / Pp, 0.0)).sum(axis=(1, 2))
    N = F.sum(axis=(1, 2))
    ok = P > 1e-300
    info = N * np.where(ok, dP * dP / np.where(ok, P, 1.0), 0.0).sum(axis=(1, 2))
    return ll, grad, info


def polychoric_batch(freqs, ths1, ths2, starts, *, tol: float = 1e-11, maxit: int = 100) -> np.ndarray:
    """:func:`polychoric_pair` for many tables at once (Fisher scoring with step halving)."""
    kmax1 = max(f.shape[0] for f in freqs)
    kmax2 = max(f.shape[1] for f in freqs)
    F, T1, T2 = _batch_tables(freqs, ths1, ths2, kmax1, kmax2)
    r = np.clip(np.asarray(starts, float), -0.99, 0.99)
    ll, g, info = _batch_loglik(F, T1, T2, r)
    active = np.ones(len(r), bool)
    for _ in range(maxit):
        a = np.flatnonzero(active)
        if not len(a):
            break
        step = np.where(info[a] > 0, g[a] / np.where(info[a] > 0, info[a], 1.0), 0.0)
        new = np.clip(r[a] + step, -RHO_BOUND, RHO_BOUND)
        lln, gn, infn = _batch_loglik(F[a], T1[a], T2[a], new)
        for _h in range(30):
            worse = lln < ll[a] - 1e-12
            if not worse.any():
                break
            wi = np.flatnonzero(worse)
            new[wi] = (r[a][wi] + new[wi]) / 2.0
            l2, g2, i2 = _batch_loglik(F[a][wi], T1[a][wi], T2[a][wi], new[wi])
            lln[wi], gn[wi], infn[wi] = l2, g2, i2
        done = np.abs(new - r[a]) < tol
        r[a], ll[a], g[a], info[a] = new, lln, gn, infn
        active[a[done]] = False
    if active.any():  # pragma: no cover - rare: finish those pairs one by one
        for m in np.flatnonzero(active):
            K1, K2 = freqs[m].shape
            r[m] = polychoric_pair(freqs[m], ths1[m], ths2[m], start=r[m], tol=tol)
    return np.where(np.abs(r) >= RHO_BOUND - 1e-12, np.sign(r) * RHO_BOUND, r)


def category_codes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed categories as codes 0..K-1 (sorted unique values) and the category values."""
    values, codes = np.unique(x, return_inverse=True)
    return codes.astype(np.intp), values


def univariate_thresholds(codes: np.ndarray, ncat: int) -> np.ndarray:
    """Probit thresholds ``Phi^-1`` of the cumulative proportions of categories 1..K-1."""
    counts = np.bincount(codes, minlength=ncat).astype(float)
    cum = np.cumsum(counts)[:-1] / counts.sum()
    return ndtri(cum)


def adjust_empty_cells(freq: np.ndarray) -> tuple[np.ndarray, float | None]:
    """lavaan's default empty-cell handling; returns (counts, fixed rho or None)."""
    freq = freq.astype(float)
    if freq.shape == (2, 2):
        zero = np.flatnonzero(freq.ravel() == 0)
        if len(zero) == 2:
            return freq, (1.0 if freq[0, 0] > 0 else -1.0)
        if len(zero) == 1:
            z = zero[0]
            sign = 1.0 if z in (0, 3) else -1.0
            freq = freq + sign * 0.5 * np.array([[1.0, -1.0], [-1.0, 1.0]])
        if freq[0, 0] * freq[1, 1] == freq[0, 1] * freq[1, 0]:
            return freq, 0.0
    return freq, None


@dataclass(frozen=True)
class OrdinalStats:
    """Thresholds, polychoric correlations and Gamma for one group.

    Attributes
    ----------
    n : int
    thresholds : list of ndarray, one per variable
    levels : list of ndarray, observed category values per variable
    cor : ndarray (p, p)
        Polychoric correlation matrix.
    wls_obs : ndarray
        ``(thresholds of all variables, vech(cor) without diagonal)``, lavaan's ``WLS.obs`` order
        (lower triangle column by column).
    gamma : ndarray
        ``NACOV``: N times the asymptotic covariance matrix of ``wls_obs``.
    pairs : list of (i, j)
        Variable indices of each correlation in ``wls_obs`` (i > j).
    empty_pairs : list of (i, j)
        Pairs whose contingency table has an empty cell.
    """

    n: int
    thresholds: list
    levels: list
    cor: np.ndarray
    wls_obs: np.ndarray
    gamma: np.ndarray
    pairs: list
    empty_pairs: list

    @property
    def nth(self) -> int:
        return int(sum(len(t) for t in self.thresholds))


def ordinal_stats(X: np.ndarray, *, gamma: bool = True) -> OrdinalStats:
    """Thresholds, polychoric correlations and (optionally) Gamma of complete ordinal data ``X``.

    Parameters
    ----------
    X : ndarray (N, p)
        Item responses (any ordered numeric codes; no missing values).
    gamma : bool
        Also compute the asymptotic covariance matrix (needed for DWLS weights and robust SEs).

    Returns
    -------
    OrdinalStats
    """
    X = np.asarray(X, float)
    N, p = X.shape
    codes, levels, ths = [], [], []
    for i in range(p):
        c, v = category_codes(X[:, i])
        codes.append(c)
        levels.append(v)
        ths.append(univariate_thresholds(c, len(v)))
    th_start = np.cumsum([0] + [len(t) for t in ths])
    T = int(th_start[-1])
    pairs = [(i, j) for j in range(p - 1) for i in range(j + 1, p)]
    npair = len(pairs)
    R = np.eye(p)
    empty = []
    # lavaan's start: Pearson correlation of the (ordered-integer) codes
    C = np.column_stack(codes).astype(float)
    pear = np.corrcoef(C, rowvar=False) if p > 1 else np.eye(1)
    pearson = np.where(np.isfinite(pear), pear, 0.0)
    pair_info = []
    todo = []            # (pair, adjusted table, start) for the ML step
    for (i, j) in pairs:
        K1, K2 = len(levels[i]), len(levels[j])
        freq = np.bincount(codes[i] * K2 + codes[j], minlength=K1 * K2).reshape(K1, K2).astype(float)
        if (freq == 0).any():
            empty.append((i, j))
        adj, fixed = adjust_empty_cells(freq)
        if fixed is not None:
            R[i, j] = R[j, i] = fixed
        else:
            st = pearson[i, j] if abs(pearson[i, j]) < 1 else 0.0
            todo.append(((i, j), adj, st))
        pair_info.append(freq)
    if todo:
        rs = polychoric_batch([t[1] for t in todo], [ths[t[0][0]] for t in todo],
                              [ths[t[0][1]] for t in todo], [t[2] for t in todo])
        for ((i, j), _adj, _st), r in zip(todo, rs):
            R[i, j] = R[j, i] = r
    wls_obs = np.concatenate([np.concatenate(ths) if T else np.zeros(0),
                              np.array([R[i, j] for (i, j) in pairs])])
    G = None
    if gamma:
        from ..._blas import one_blas_thread

        with one_blas_thread():   # small GEMMs: 1 thread is much faster here
            G = _gamma(codes, ths, th_start, pairs, pair_info, R, N)
    return OrdinalStats(n=N, thresholds=ths, levels=levels, cor=R, wls_obs=wls_obs, gamma=G,
                        pairs=pairs, empty_pairs=empty)


def _threshold_scores(codes, t, N):
    """Casewise scores of the univariate probit log-likelihood wrt the thresholds (N x K-1)."""
    K = len(t) + 1
    cum = np.concatenate([[0.0], ndtr(t), [1.0]])
    prob = np.diff(cum)                       # category probabilities
    dens = np.exp(-0.5 * t * t) / math.sqrt(_TWO_PI)
    S = np.zeros((N, K - 1))
    rows = np.arange(N)
    up = codes < K - 1                        # threshold codes[n] is the upper bound
    S[rows[up], codes[up]] += dens[codes[up]]
    lo = codes > 0                            # threshold codes[n]-1 is the lower bound
    S[rows[lo], codes[lo] - 1] -= dens[codes[lo] - 1]
    return S / prob[codes][:, None]


def _pair_derivatives(t1, t2, r):
    """Cell probabilities P, dP/drho and dP/dtau for both variables' thresholds.

    Returns P (K1,K2), dPr (K1,K2), dP1 (K1,K2,K1-1), dP2 (K1,K2,K2-1).
    """
    P, dPr = _cell_probs(t1, t2, r)
    K1, K2 = len(t1) + 1, len(t2) + 1
    Rr = math.sqrt(1.0 - r * r)
    u2 = np.concatenate([t2, [np.inf]])      # upper bound of each column category
    l2 = np.concatenate([[-np.inf], t2])
    u1 = np.concatenate([t1, [np.inf]])
    l1 = np.concatenate([[-np.inf], t1])
    phi1 = np.exp(-0.5 * t1 * t1) / math.sqrt(_TWO_PI)
    phi2 = np.exp(-0.5 * t2 * t2) / math.sqrt(_TWO_PI)
    # G1[m, b] = d/dh of the column-b strip at h = t1[m]
    G1 = phi1[:, None] * (ndtr((u2[None, :] - r * t1[:, None]) / Rr) - ndtr((l2[None, :] - r * t1[:, None]) / Rr))
    G2 = phi2[:, None] * (ndtr((u1[None, :] - r * t2[:, None]) / Rr) - ndtr((l1[None, :] - r * t2[:, None]) / Rr))
    dP1 = np.zeros((K1, K2, K1 - 1))
    for m in range(K1 - 1):
        dP1[m, :, m] += G1[m]
        dP1[m + 1, :, m] -= G1[m]
    dP2 = np.zeros((K1, K2, K2 - 1))
    for m in range(K2 - 1):
        dP2[:, m, m] += G2[m]
        dP2[:, m + 1, m] -= G2[m]
    return P, dPr, dP1, dP2


def _gamma(codes, ths, th_start, pairs, freqs, R, N):
    T = int(th_start[-1])
    npair = len(pairs)
    SC = np.zeros((N, T + npair))
    for i, t in enumerate(ths):
        SC[:, th_start[i]:th_start[i + 1]] = _threshold_scores(codes[i], t, N)
    A21 = np.zeros((npair, T))
    tiny = math.sqrt(np.finfo(float).eps)
    for k, (i, j) in enumerate(pairs):
        P, dPr, dP1, dP2 = _pair_derivatives(ths[i], ths[j], R[i, j])
        ok = P > tiny                     # lavaan sets scores of (near-)impossible cells to NA
        Ps = np.where(ok, P, 1.0)
        s_rho = np.where(ok, dPr / Ps, 0.0)
        SC[:, T + k] = s_rho[codes[i], codes[j]]
        w = freqs[k] * s_rho / Ps         # n_ab * s_rho(ab) / P_ab
        A21[k, th_start[i]:th_start[i + 1]] = np.einsum("ab,abm->m", w, dP1)
        A21[k, th_start[j]:th_start[j + 1]] = np.einsum("ab,abm->m", w, dP2)
    INNER = SC.T @ SC
    A11inv = np.zeros((T, T))
    for i in range(len(ths)):
        sl = slice(th_start[i], th_start[i + 1])
        A11inv[sl, sl] = np.linalg.inv(INNER[sl, sl])
    a22 = np.diag(INNER)[T:]
    A22inv = 1.0 / a22
    Binv = np.zeros((T + npair, T + npair))
    Binv[:T, :T] = A11inv
    Binv[T:, :T] = -(A22inv[:, None] * A21) @ A11inv
    Binv[T:, T:] = np.diag(A22inv)
    return N * (Binv @ INNER @ Binv.T)
