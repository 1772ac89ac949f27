"""Vectorised ML objective, gradient and expected information for repeated refits (bootstrap, jackknife).

The engine's :meth:`RAMModel.derivatives` builds ``dSigma`` parameter by parameter and
:func:`estimate.ml_value_grad_info` contracts it with ``einsum``; that is fine for one fit but
dominates a bootstrap of thousands of refits. Here the same quantities come from a few matrix
products per group:

- every free position is a rank-two update ``dSigma = c (u v' + v u')`` with ``u = (F E)[:, i]``
  and ``v = (E S E' F')[j, :]`` (directed effect ``A[i, j]``) or ``v = (F E)[:, j]`` (``S[i, j]``,
  ``c = 1/2`` on the diagonal);
- the gradient of ``F`` is ``tr(W dSigma)`` with ``W = Sigma^-1 (Sigma - S - d d') Sigma^-1``,
  i.e. ``2 c u' W v`` read off two ``nvar x nvar`` matrices;
- the unit expected information ``1/2 tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l)`` is, with
  ``a = R' u``, ``b = R' v`` and ``Sigma^-1 = R R'``,
  ``c_k c_l [(a_k.a_l)(b_k.b_l) + (a_k.b_l)(b_k.a_l)]``, summed over the positions of each parameter;
  the mean part is ``dmu_k' Sigma^-1 dmu_l``.

The results equal the engine's (tests/test_bootstrap.py checks F, gradient, information, the
refitted estimates and the standardized solution against :mod:`sem_cocreate.estimate` and
:mod:`sem_cocreate.standardize`). The standardized (``std.all``) solution is vectorised the same way.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack


class NotPositiveDefinite(Exception):
    """The model-implied covariance matrix is not positive definite."""


class FastML:
    """Fast ML refits for one :class:`~sem_cocreate.model.RAMModel` (any number of groups).

    Parameters
    ----------
    model : RAMModel
        The fitted model; its fixed values (including fixed.x moments) are taken as they are.
    """

    def __init__(self, model):
        self.npar = model.npar
        self.nobs = model.nobs
        self.nvar = model.nvar
        self.ngroups = model.ngroups
        self.meanstructure = bool(model.meanstructure)
        self._eye = np.eye(self.nvar)
        self.base = [(b.A.copy(), b.S.copy(), b.m.copy()) for b in model.base]
        # free positions per group and kind: arrays of (k, i, j)
        pos = {(g, kind): [] for g in range(self.ngroups) for kind in "ASm"}
        for k, plist in enumerate(model.positions):
            for (g, kind, i, j) in plist:
                pos[(g, kind)].append((k, i, j))
        self.pos = {key: np.array(v, dtype=int).reshape(-1, 3) for key, v in pos.items()}
        # gradient read-off per group: parameter index, matrix cell and factor (2 for off-diagonal S)
        self._grad_k = []
        self._s_fac = []
        for g in range(self.ngroups):
            pa, ps = self.pos[(g, "A")], self.pos[(g, "S")]
            self._s_fac.append(np.where(ps[:, 1] == ps[:, 2], 1.0, 2.0))
            self._grad_k.append(np.concatenate([pa[:, 0], ps[:, 0]]))
        self.row_pos = model.row_pos
        # fixed.x: exogenous observed moments are fixed at their sample values, which change per resample
        ovi = {v: i for i, v in enumerate(model.ov)}
        self._fixed_x = []
        for r, row in enumerate(model.spec.partable.itertuples(index=False)):
            pos = model.row_pos[r]
            if pos is not None and row.free == 0 and row.exo == 1 and row.op in ("~~", "~1"):
                self._fixed_x.append((pos, row.op, ovi[row.lhs], ovi.get(row.rhs, -1)))
        self._row_index(model)
        self._std_setup(model)

    # ------------------------------------------------------------------ matrices and moments
    def _row_index(self, model):
        """Where each partable row's value lives in the stacked (A, S, m) matrices."""
        nv = self.nvar
        flat = np.full(len(self.row_pos), -1, dtype=int)
        block = nv * nv * 2 + nv
        for r, pos in enumerate(self.row_pos):
            if pos is None:
                continue
            g, kind, i, j = pos
            off = g * block
            if kind == "A":
                flat[r] = off + i * nv + j
            elif kind == "S":
                flat[r] = off + nv * nv + i * nv + j
            else:
                flat[r] = off + 2 * nv * nv + i
        self._flat = flat

    def set_fixed_x(self, stats) -> None:
        """Fix the exogenous observed (co)variances and means at the values of ``stats`` (lavaan's fixed.x)."""
        for (g, kind, i, j), op, a, b in self._fixed_x:
            A, S, m = self.base[g]
            if op == "~~":
                val = stats.cov[g][a, b]
                S[i, j] = S[j, i] = val
            else:
                m[i] = stats.mean[g][a]

    def matrices(self, theta):
        out = []
        for g, (A0, S0, m0) in enumerate(self.base):
            A, S, m = A0.copy(), S0.copy(), m0.copy()
            pa, ps, pm = self.pos[(g, "A")], self.pos[(g, "S")], self.pos[(g, "m")]
            if len(pa):
                A[pa[:, 1], pa[:, 2]] = theta[pa[:, 0]]
            if len(ps):
                S[ps[:, 1], ps[:, 2]] = theta[ps[:, 0]]
                S[ps[:, 2], ps[:, 1]] = theta[ps[:, 0]]
            if len(pm):
                m[pm[:, 1]] = theta[pm[:, 0]]
            out.append((A, S, m))
        return out

    def param_values(self, theta, mats=None):
        """Value of every partable row (NaN for rows without a matrix position)."""
        if mats is None:
            mats = self.matrices(theta)
        stacked = np.concatenate([np.concatenate([A.ravel(), S.ravel(), m]) for A, S, m in mats])
        out = np.full(len(self._flat), np.nan)
        ok = self._flat >= 0
        out[ok] = stacked[self._flat[ok]]
        return out

    def implied(self, mats):
        p = self.nobs
        eye = self._eye
        res = []
        for A, S, m in mats:
            _lu, _piv, E, info = lapack.dgesv(eye - A, eye)
            if info != 0:
                raise NotPositiveDefinite
            FE = E[:p, :]
            SF = E @ (S @ FE.T)              # (nvar, p) = E S E' F'
            sigma = SF[:p, :]
            sigma = 0.5 * (sigma + sigma.T)
            mean_full = E @ m
            res.append((sigma, mean_full[:p], E, FE, SF, mean_full))
        return res

    # ------------------------------------------------------------------ objective and derivatives
    def value(self, theta, stats) -> float:
        """ML discrepancy; ``inf`` where an implied covariance matrix is not positive definite."""
        N = float(sum(stats.n))
        total = 0.0
        try:
            implied = self.implied(self.matrices(theta))
        except NotPositiveDefinite:
            return np.inf
        for g, (sigma, mu, *_r) in enumerate(implied):
            try:
                logdet, inv = _chol_logdet_inv(sigma)
            except NotPositiveDefinite:
                return np.inf
            S = stats.cov[g]
            f = logdet + (S * inv).sum() - stats.logdet_s[g] - S.shape[0]
            if self.meanstructure:
                d = stats.mean[g] - mu
                f += d @ inv @ d
            total += stats.n[g] / N * f
        return float(total)

    def value_grad_info(self, theta, stats, *, want_info=True):
        """F, gradient and unit expected information, as :func:`estimate.ml_value_grad_info`."""
        N = float(sum(stats.n))
        npar = self.npar
        mats = self.matrices(theta)
        f_total = 0.0
        grad = np.zeros(npar)
        info = np.zeros((npar, npar)) if want_info else None
        for g, (sigma, mu, E, FE, SF, mean_full) in enumerate(self.implied(mats)):
            logdet, inv = _chol_logdet_inv(sigma)
            S = stats.cov[g]
            w_g = stats.n[g] / N
            f = logdet + (S * inv).sum() - stats.logdet_s[g] - S.shape[0]
            R = sigma - S
            if self.meanstructure:
                d = stats.mean[g] - mu
                wvec = inv @ d
                f += d @ wvec
                R = R - np.outer(d, d)
            W = inv @ R @ inv
            f_total += w_g * f
            WFE = W @ FE                       # (p, nvar)
            pa, ps, pm = self.pos[(g, "A")], self.pos[(g, "S")], self.pos[(g, "m")]
            # d F / d A[i, j] = 2 (FE' W SF')[i, j];  d F / d S[i, j] = (2 - delta_ij) (FE' W FE)[i, j]
            ga = 2.0 * np.einsum("pi,pi->i", WFE[:, pa[:, 1]], SF[pa[:, 2], :].T)
            gs = np.einsum("pi,pi->i", WFE[:, ps[:, 1]], FE[:, ps[:, 2]]) * self._s_fac[g]
            if self.meanstructure and len(pa):
                ga = ga - 2.0 * (FE.T @ wvec)[pa[:, 1]] * mean_full[pa[:, 2]]
            grad += w_g * np.bincount(self._grad_k[g], weights=np.concatenate([ga, gs]), minlength=npar)
            if len(pm) and self.meanstructure:
                grad += w_g * np.bincount(pm[:, 0], weights=-2.0 * (FE.T @ wvec)[pm[:, 1]], minlength=npar)
            if want_info:
                info += w_g * self._info_group(g, FE, SF, mean_full, inv)
        return f_total, grad, info

    def _info_group(self, g, FE, SF, mean_full, inv):
        npar = self.npar
        pa, ps, pm = self.pos[(g, "A")], self.pos[(g, "S")], self.pos[(g, "m")]
        U = np.concatenate([FE[:, pa[:, 1]], FE[:, ps[:, 1]]], axis=1)          # (p, npos)
        V = np.concatenate([SF[pa[:, 2], :].T, FE[:, ps[:, 2]]], axis=1)
        c = np.concatenate([np.ones(len(pa)), np.where(ps[:, 1] == ps[:, 2], 0.5, 1.0)])
        k = np.concatenate([pa[:, 0], ps[:, 0]])
        iU, iV = inv @ U, inv @ V
        AA, BB, AB = U.T @ iU, V.T @ iV, U.T @ iV        # (R'u).(R'u) etc. with Sigma^-1 = R R'
        M = (AA * BB + AB * AB.T) * np.outer(c, c)
        K = np.zeros((npar, len(k)))
        K[k, np.arange(len(k))] = 1.0
        info = K @ M @ K.T
        if self.meanstructure:
            dm = np.zeros((npar, self.nobs))
            if len(pa):
                np.add.at(dm, pa[:, 0], (FE[:, pa[:, 1]] * mean_full[pa[:, 2]]).T)
            if len(pm):
                np.add.at(dm, pm[:, 0], FE[:, pm[:, 1]].T)
            info += dm @ inv @ dm.T
        return info

    # ------------------------------------------------------------------ optimiser
    def fit(self, stats, start, *, maxit: int = 100, gtol: float = 1e-8):
        """Fisher scoring from ``start`` with backtracking; returns (theta, converged, message)."""
        theta = np.asarray(start, dtype=float).copy()
        last_f = np.inf
        for _ in range(maxit):
            try:
                f, g, info = self.value_grad_info(theta, stats)
            except NotPositiveDefinite:
                return theta, False, "implied covariance not positive definite"
            if not np.all(np.isfinite(g)):
                return theta, False, "non-finite gradient"
            if np.max(np.abs(g)) < gtol:
                return theta, True, "converged"
            H = 2.0 * info
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(H, g, rcond=None)[0]
            if not np.all(np.isfinite(step)) or step @ g <= 0:
                step = g
            t = 1.0
            for _ls in range(30):
                cand = theta - t * step
                fc = self.value(cand, stats)
                if np.isfinite(fc) and fc <= f - 1e-4 * t * (g @ step):
                    break
                t *= 0.5
            else:
                ok = abs(last_f - f) < 1e-13 and np.max(np.abs(g)) < 1e-6
                return theta, ok, "line search stalled"
            theta = cand
            last_f = f
        return theta, False, "iteration limit reached"

    def fit_quasi_newton(self, stats, start, hess_inv0, *, maxit: int = 100, gtol: float = 1e-9):
        """BFGS from ``start`` with the inverse Hessian started at ``hess_inv0``; (theta, converged, message).

        With ``hess_inv0`` the inverse of ``2 I(theta_hat)`` (the expected information at the
        full-sample estimates, which does not depend on the data) the first step is a Fisher-scoring
        step and the BFGS updates make the rest superlinear; each iteration needs only F and its gradient.
        """
        theta = np.asarray(start, dtype=float).copy()
        try:
            f, g, _ = self.value_grad_info(theta, stats, want_info=False)
        except NotPositiveDefinite:
            return theta, False, "implied covariance not positive definite"
        Hinv = hess_inv0.copy()
        npar = theta.size
        for _it in range(maxit):
            gmax = np.max(np.abs(g)) if npar else 0.0
            if not np.isfinite(gmax):
                return theta, False, "non-finite gradient"
            if gmax < gtol:
                return theta, True, "converged"
            step = Hinv @ g
            if not np.all(np.isfinite(step)) or step @ g <= 0:
                Hinv = hess_inv0.copy()
                step = Hinv @ g
            t = 1.0
            accepted = False
            for _ls in range(30):
                cand = theta - t * step
                try:
                    fc, gc, _ = self.value_grad_info(cand, stats, want_info=False)
                except NotPositiveDefinite:
                    t *= 0.5
                    continue
                decrease = f - fc
                if np.isfinite(fc) and (decrease >= 1e-4 * t * (g @ step)
                                        or (gmax < 1e-6 and decrease >= -1e-13 * max(1.0, abs(f)))):
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                return theta, bool(gmax < 1e-6), "line search stalled"
            s_vec = cand - theta
            y_vec = gc - g
            sy = s_vec @ y_vec
            if sy > 1e-14:
                rho = 1.0 / sy
                Hy = Hinv @ y_vec
                Hinv = (Hinv - rho * (np.outer(s_vec, Hy) + np.outer(Hy, s_vec))
                        + (rho * rho * (y_vec @ Hy) + rho) * np.outer(s_vec, s_vec))
            theta, f, g = cand, fc, gc
        return theta, False, "iteration limit reached"

    # ------------------------------------------------------------------ standardized solution
    def _std_setup(self, model):
        pt = model.spec.partable
        idx = model.index
        n = len(pt)
        self._std_kind = np.zeros(n, dtype=int)       # 0 unchanged, 1 =~, 2 ~, 3 var, 4 cov, 5 ~1
        self._std_g = np.zeros(n, dtype=int)
        self._std_l = np.zeros(n, dtype=int)
        self._std_r = np.zeros(n, dtype=int)
        self._std_vl = np.full(n, -1, dtype=int)       # partable row of var(lhs) / var(rhs), for covariances
        self._std_vr = np.full(n, -1, dtype=int)
        var_row = {}
        for r, row in enumerate(pt.itertuples(index=False)):
            if row.op == "~~" and row.lhs == row.rhs:
                var_row[(int(row.group), row.lhs)] = r
        for r, row in enumerate(pt.itertuples(index=False)):
            g = int(row.group)
            if g < 1 or row.op not in ("=~", "~", "~~", "~1"):
                continue
            self._std_g[r] = g - 1
            self._std_l[r] = idx[row.lhs]
            if row.op == "=~":
                self._std_kind[r] = 1
                self._std_r[r] = idx[row.rhs]
            elif row.op == "~":
                self._std_kind[r] = 2
                self._std_r[r] = idx[row.rhs]
            elif row.op == "~~" and row.lhs == row.rhs:
                self._std_kind[r] = 3
            elif row.op == "~~":
                self._std_kind[r] = 4
                self._std_vl[r] = var_row.get((g, row.lhs), -1)
                self._std_vr[r] = var_row.get((g, row.rhs), -1)
            else:
                self._std_kind[r] = 5

    def std_all(self, values, implied):
        """lavaan's ``std.all`` of every partable row, as :func:`standardize.standardize`."""
        sds = np.stack([np.sqrt(np.abs(np.diag(E @ _full_s(E, S)))) for E, S in implied])
        out = values.copy()
        kind, g, l, r = self._std_kind, self._std_g, self._std_l, self._std_r
        sl, sr = sds[g, l], sds[g, r]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(kind == 1, values * sl / sr, out)
            out = np.where(kind == 2, values * sr / sl, out)
            out = np.where(kind == 3, values / (sl * sl), out)
            out = np.where(kind == 5, values / sl, out)
            vl = np.where(self._std_vl >= 0, values[np.maximum(self._std_vl, 0)], np.nan)
            vr = np.where(self._std_vr >= 0, values[np.maximum(self._std_vr, 0)], np.nan)
            out = np.where(kind == 4, values / (np.sqrt(np.abs(vl)) * np.sqrt(np.abs(vr))), out)
        return out

    def solution(self, theta):
        """(row values, std.all row values, improper-solution reason or '') for a solution ``theta``."""
        mats = self.matrices(theta)
        values = self.param_values(theta, mats)
        impl = [(np.linalg.solve(np.eye(self.nvar) - A, np.eye(self.nvar)), S) for A, S, _m in mats]
        std = self.std_all(values, impl)
        return values, std, self._improper(values, mats, impl)

    def _improper(self, values, mats, impl) -> str:
        """lavaan's post-check: negative variances, non-PD latent covariance or residual covariance."""
        var_rows = self._std_kind == 3
        if np.any(values[var_rows] < 0):
            return "negative variance"
        p = self.nobs
        for (E, S), (_A, Smat, _m) in zip(impl, mats):
            if self.nvar > p:
                lv = (E @ S @ E.T)[p:, p:]
                if np.linalg.eigvalsh(lv).min() < -1e-10 * max(1.0, np.abs(lv).max()):
                    return "latent covariance matrix not positive definite"
            theta_ov = Smat[:p, :p]
            if np.linalg.eigvalsh(theta_ov).min() < -1e-10 * max(1.0, np.abs(theta_ov).max()):
                return "residual covariance matrix not positive definite"
        return ""


def _chol_logdet_inv(sigma):
    """log|Sigma| and Sigma^-1 from a Cholesky factor (LAPACK potrf/potri: far less overhead than
    numpy.linalg for these small matrices)."""
    c, info = lapack.dpotrf(sigma, lower=1, clean=1)
    if info != 0:
        raise NotPositiveDefinite
    d = np.diag(c)
    logdet = 2.0 * np.log(d).sum()
    ci, info = lapack.dpotri(c, lower=1)
    if info != 0:
        raise NotPositiveDefinite
    mask = _LOWER.get(ci.shape[0])
    if mask is None:
        mask = _LOWER.setdefault(ci.shape[0], np.tri(ci.shape[0], dtype=bool))
    return logdet, np.where(mask, ci, ci.T)


_LOWER: dict[int, np.ndarray] = {}


def _full_s(E, S):
    return S @ E.T


class Moments:
    """Sample moments for :class:`FastML` (covariance with divisor n, its log-determinant)."""

    __slots__ = ("n", "cov", "mean", "logdet_s")

    def __init__(self, n, cov, mean):
        self.n = list(n)
        self.cov = list(cov)
        self.mean = list(mean)
        self.logdet_s = [np.linalg.slogdet(S)[1] for S in self.cov]

    @property
    def ntotal(self) -> int:
        return int(sum(self.n))
