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


from ..linalg import NotPositiveDefinite  # noqa: E402,F401  (one class for every estimator)
from .._frames import frame_rows


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
        self._info_idx = []
        self._s_fac = []
        for g in range(self.ngroups):
            pa, ps = self.pos[(g, "A")], self.pos[(g, "S")]
            self._s_fac.append(np.where(ps[:, 1] == ps[:, 2], 1.0, 2.0))
            self._grad_k.append(np.concatenate([pa[:, 0], ps[:, 0]]))
            # the parameters group g touches, and each position's row among them (the information block)
            pm = self.pos[(g, "m")]
            used, inverse = np.unique(np.concatenate([self._grad_k[-1], pm[:, 0]]), return_inverse=True)
            nk = len(self._grad_k[-1])
            self._info_idx.append((used, inverse[:nk], inverse[:len(pa)], inverse[nk:]))
        self.row_pos = model.row_pos
        # fixed.x: exogenous observed moments are fixed at their sample values, which change per resample
        ovi = {v: i for i, v in enumerate(model.ov)}
        self._fixed_x = []
        self._fixed_x_rows = []
        for r, row in enumerate(frame_rows(model.spec.partable)):
            pos = model.row_pos[r]
            if pos is not None and row.free == 0 and row.exo == 1 and row.op in ("~~", "~1"):
                self._fixed_x.append((pos, row.op, ovi[row.lhs], ovi.get(row.rhs, -1)))
                self._fixed_x_rows.append(r)
        self._row_index(model)
        # E = (I - A)^-1 by blocks when observed variables have no directed effects on anything
        # (A_oo = 0, A_lo = 0, the usual latent-variable model): only the latent block is inverted
        p = self.nobs
        self._block_E = self.nvar > p
        for g in range(self.ngroups):
            A0 = self.base[g][0]
            pa = self.pos[(g, "A")]
            cols = np.concatenate([np.flatnonzero(np.any(A0 != 0, axis=0)), pa[:, 2]])
            if np.any(cols < p):
                self._block_E = False
        # Woodbury inverse of Sigma = Theta + G Psi G' (G = Lambda (I - B)^-1): with the block E, a diagonal
        # residual matrix Theta and no observed-latent covariances, Sigma^-1 and log|Sigma| come from k x k
        # matrices (k latent variables) instead of a p x p factorisation per resample and evaluation
        # acyclic latent regressions: B_ll is nilpotent, (I - B_ll)^-1 = I + B + ... + B^L (L = longest path)
        self._latent_order = [self._path_order(g) for g in range(self.ngroups)] if self._block_E else []
        self._woodbury = []
        for g in range(self.ngroups):
            S0 = self.base[g][1]
            ps = self.pos[(g, "S")]
            off = S0[:p, :p] - np.diag(np.diag(S0[:p, :p]))
            free_oo = [(i, j) for _k, i, j in ps if i < p and j < p and i != j]
            free_ol = [(i, j) for _k, i, j in ps if (i < p) != (j < p)]
            self._woodbury.append(bool(self._block_E and not np.any(off) and not np.any(S0[:p, p:])
                                       and not free_oo and not free_ol))
        # factor blocks (observed = indicators y and fixed.x regressors x): see _FactorBlocks
        self._blocks = [_FactorBlocks.build(self, g) for g in range(self.ngroups)]
        self._row_free = model.spec.partable["free"].to_numpy().astype(int)
        self._fixed_values = model.param_values(np.zeros(model.npar))
        self._fixed_values[self._row_free > 0] = np.nan
        self._std_setup(model)

    def _path_order(self, g):
        """Longest directed path among the latent variables of group g (A_ll's pattern), None if cyclic."""
        p, k = self.nobs, self.nvar - self.nobs
        pat = self.base[g][0][p:, p:] != 0
        for _k, i, j in self.pos[(g, "A")]:
            if i >= p and j >= p:
                pat[i - p, j - p] = True
        reach = np.eye(k, dtype=bool)
        for order in range(k + 1):
            reach = (pat.astype(int) @ reach.astype(int)) > 0
            if not reach.any():
                return order
        return None

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
                used, block = self._info_group(g, FE, SF, mean_full, inv)
                info[np.ix_(used, used)] += w_g * block
        return f_total, grad, info

    def _info_parts(self, g, FE, SF, mean_full):
        """Group ``g``'s pieces of the information: for each covariance position (A entries, then S
        entries) the columns ``U``, ``V`` of dSigma = U V' + V U' and its factor ``c`` (1/2 on S's
        diagonal), and with a mean structure ``dm``, d mu / d parameter on the rows of ``used``
        (:attr:`_info_idx`); ``None`` without one."""
        pa, ps, pm = self.pos[(g, "A")], self.pos[(g, "S")], self.pos[(g, "m")]
        used, _kk, ka, km = self._info_idx[g]
        U = np.concatenate([FE[:, pa[:, 1]], FE[:, ps[:, 1]]], axis=1)          # (p, npos)
        V = np.concatenate([SF[pa[:, 2], :].T, FE[:, ps[:, 2]]], axis=1)
        c = np.concatenate([np.ones(len(pa)), np.where(ps[:, 1] == ps[:, 2], 0.5, 1.0)])
        dm = None
        if self.meanstructure:
            dm = np.zeros((len(used), self.nobs))
            if len(pa):
                np.add.at(dm, ka, (FE[:, pa[:, 1]] * mean_full[pa[:, 2]]).T)
            if len(pm):
                np.add.at(dm, km, FE[:, pm[:, 1]].T)
        return U, V, c, dm

    def _info_group(self, g, FE, SF, mean_full, inv):
        """Group ``g``'s unit information on the parameters it touches: ``(used, block)``, the block
        being ``info[np.ix_(used, used)]`` (a multi-group model's groups share few parameters: the
        full npar x npar matrix per group was most of the cost at 530 parameters)."""
        used, kk = self._info_idx[g][:2]
        m = len(used)
        U, V, c, dm = self._info_parts(g, FE, SF, mean_full)
        iU, iV = inv @ U, inv @ V
        AA, BB, AB = U.T @ iU, V.T @ iV, U.T @ iV        # (R'u).(R'u) etc. with Sigma^-1 = R R'
        M = (AA * BB + AB * AB.T) * np.outer(c, c)
        # info = K M K' with K[k_j, j] = 1: M's entries summed into the parameters' cells (O(npos^2),
        # not the two npar x npos x npos products of multi-group models with hundreds of parameters)
        cells = (kk[:, None] * m + kk[None, :]).ravel()
        block = np.bincount(cells, weights=M.ravel(), minlength=m * m).reshape(m, m)
        if dm is not None:
            block += dm @ inv @ dm.T
        return used, block

    def score_information(self, theta, stats, split: int):
        """The gradient and the parts of the unit expected information a score test needs, with the
        parameters ``[0, split)`` the model's own and ``[split, npar)`` the ones scored (modification
        indices): ``(grad, I11, I12, diag I22)``. The scored-by-scored block, most of the full matrix
        when a thousand parameters are scored, is not formed. ``None`` when a scored parameter has two
        covariance positions in one group (its diagonal would need their cross terms)."""
        _f, grad, _ = self.value_grad_info(theta, stats, want_info=False)
        N = float(sum(stats.n))
        npar = self.npar
        cols = np.zeros((npar, split))            # info[:, :split]
        d22 = np.zeros(npar - split)
        for g, (_sigma, _mu, _E, FE, SF, mean_full) in enumerate(self.implied(self.matrices(theta))):
            _logdet, inv = _chol_logdet_inv(_sigma)
            w_g = stats.n[g] / N
            used, kk = self._info_idx[g][:2]
            kpos = used[kk]                       # the parameter of every covariance position
            own, scored = kpos < split, kpos >= split
            if len(np.unique(kpos[scored])) != int(scored.sum()):
                return None
            U, V, c, dm = self._info_parts(g, FE, SF, mean_full)
            ucols = used[used < split]            # the own parameters this group touches: the columns
            iU, iV = inv @ U[:, own], inv @ V[:, own]
            M = (U.T @ iU * (V.T @ iV) + (U.T @ iV) * (V.T @ iU)) * np.outer(c, c[own])
            col_of = np.searchsorted(ucols, kpos[own])
            cells = (kk[:, None] * len(ucols) + col_of[None, :]).ravel()
            block = np.bincount(cells, weights=M.ravel(), minlength=len(used) * len(ucols)).astype(
                float, copy=False).reshape(len(used), len(ucols))   # (float also when cells is empty)
            Uq, Vq = U[:, scored], V[:, scored]
            iUq, iVq = inv @ Uq, inv @ Vq
            dq = np.zeros(len(used))
            dq[kk[scored]] = ((Uq * iUq).sum(0) * (Vq * iVq).sum(0) + (Uq * iVq).sum(0) ** 2) * c[scored] ** 2
            if dm is not None:
                dmi = dm @ inv
                block += dmi @ dm[np.searchsorted(used, ucols)].T
                dq += np.einsum("ij,ij->i", dmi, dm)
            cols[np.ix_(used, ucols)] += w_g * block
            sc = used >= split
            d22[used[sc] - split] += w_g * dq[sc]
        return grad, cols[:split], cols[split:].T, d22

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

    # ------------------------------------------------------------------ many samples at once
    @property
    def batchable(self) -> bool:
        """Every model FastML represents refits in batches (fixed.x moments are set per sample)."""
        return True

    def _batch_fixed_x(self, g, S, m, batch):
        """Set the fixed.x (co)variances in ``S`` (B, nv, nv) and means in ``m`` (B, nv) of group g from each
        sample's own moments (lavaan rebuilds them from every resample, as :meth:`set_fixed_x` does)."""
        for (gg, _kind, i, j), op, a, b in self._fixed_x:
            if gg != g:
                continue
            if op == "~~":
                S[:, i, j] = S[:, j, i] = batch.cov[g][:, a, b]
            elif m is not None:
                m[:, i] = batch.mean[g][:, a]

    def value_grad_batch(self, thetas, batch):
        """F (B,) and gradients (B, npar) for B parameter vectors, sample b's moments in ``batch``.

        Same formulas as :meth:`value_grad_info`, with every matrix operation stacked over the
        samples so that numpy's per-call overhead is paid once per batch. ``F`` is ``inf`` (and the
        gradient NaN) where an implied covariance matrix is not positive definite. A group with the
        factor-block structure (:class:`_FactorBlocks`) is evaluated on its small blocks; its members
        with a non-positive residual variance or a non-positive-definite latent covariance matrix take
        the general path.
        """
        B = thetas.shape[0]
        N = float(sum(batch.n))
        f_total = np.zeros(B)
        grad = np.zeros((B, self.npar))
        bad = np.zeros(B, dtype=bool)
        for g in range(self.ngroups):
            w_g = batch.n[g] / N
            blocks = self._blocks[g]
            gm = None
            if blocks is not None:
                f, gk, fast = blocks.value_grad(thetas, batch, g)
                slow = np.flatnonzero(~fast)
                if slow.size:
                    f[slow], gk[slow], _gm, bad_s = self._value_grad_group(g, thetas[slow], batch.subset(slow))
                    bad[slow] |= bad_s
            else:
                f, gk, gm, bad_g = self._value_grad_group(g, thetas, batch)
                bad |= bad_g
            grad += w_g * (gk @ self._grad_K(g))
            if gm is not None:
                grad += w_g * gm
            f_total += w_g * f
        f_total[bad] = np.inf
        grad[bad] = np.nan
        return f_total, grad

    def _value_grad_group(self, g, thetas, batch):
        """The general path of :meth:`value_grad_batch` for group g: (F, position gradients, mean-parameter
        gradient or None, not positive definite)."""
        B = thetas.shape[0]
        p, nv, npar = self.nobs, self.nvar, self.npar
        A0, S0, m0 = self.base[g]
        pa, ps, pm = self.pos[(g, "A")], self.pos[(g, "S")], self.pos[(g, "m")]
        A = np.broadcast_to(A0, (B, nv, nv)).copy()
        S = np.broadcast_to(S0, (B, nv, nv)).copy()
        A[:, pa[:, 1], pa[:, 2]] = thetas[:, pa[:, 0]]
        S[:, ps[:, 1], ps[:, 2]] = thetas[:, ps[:, 0]]
        S[:, ps[:, 2], ps[:, 1]] = thetas[:, ps[:, 0]]
        m = None
        if self.meanstructure:
            m = np.broadcast_to(m0, (B, nv)).copy()
            if len(pm):
                m[:, pm[:, 1]] = thetas[:, pm[:, 0]]
        if self._fixed_x:
            self._batch_fixed_x(g, S, m, batch)
        E = self._batch_E(A, g)
        FE = E[:, :p, :]
        if self._woodbury[g]:
            # E = [[I, G], [0, Ell]], S = diag(Theta, Psi): Sigma = Theta + G Psi G', lower rows Ell Psi G'
            G = FE[:, :, p:]
            Q = S[:, p:, p:] @ G.transpose(0, 2, 1)                  # (B, k, p)
            SF = np.empty((B, nv, p))
            SF[:, :p, :] = G @ Q
            dd = np.arange(p)
            SF[:, dd, dd] += S[:, dd, dd]
            SF[:, p:, :] = E[:, p:, p:] @ Q
        else:
            SF = E @ (S @ FE.transpose(0, 2, 1))                     # (B, nv, p)
        sigma = SF[:, :p, :]
        inv, logdet, ok = _sigma_inverse(sigma, S, FE, p, self._woodbury[g])
        Sg = batch.cov[g]
        f = logdet + (Sg * inv).sum(axis=(1, 2)) - batch.logdet_s[g] - p
        R = sigma - Sg
        if self.meanstructure:
            mean_full = np.einsum("bij,bj->bi", E, m)
            d = batch.mean[g] - mean_full[:, :p]
            wvec = np.einsum("bij,bj->bi", inv, d)
            f = f + (d * wvec).sum(axis=1)
            R = R - d[:, :, None] * d[:, None, :]
        W = inv @ R @ inv
        WFE = W @ FE                                                 # (B, p, nv)
        ga = 2.0 * np.einsum("bpi,bip->bi", WFE[:, :, pa[:, 1]], SF[:, pa[:, 2], :])
        gs = np.einsum("bpi,bpi->bi", WFE[:, :, ps[:, 1]], FE[:, :, ps[:, 2]]) * self._s_fac[g]
        gm = None
        if self.meanstructure:
            FEw = np.einsum("bpi,bp->bi", FE, wvec)                   # (B, nv)
            if len(pa):
                ga = ga - 2.0 * FEw[:, pa[:, 1]] * mean_full[:, pa[:, 2]]
            if len(pm):
                K = np.zeros((len(pm), npar))
                K[np.arange(len(pm)), pm[:, 0]] = 1.0
                gm = (-2.0 * FEw[:, pm[:, 1]]) @ K
        return f, np.concatenate([ga, gs], axis=1), gm, ~ok

    def _batch_E(self, A, g=None):
        """(I - A)^-1 for a stack of A matrices (of group ``g``, when given)."""
        p, nv = self.nobs, self.nvar
        if self._block_E:
            order = self._latent_order[g] if g is not None else None
            Ell = _inverse_i_minus(A[:, p:, p:], order)
            E = np.zeros_like(A)
            E[:, np.arange(p), np.arange(p)] = 1.0
            E[:, :p, p:] = A[:, :p, p:] @ Ell
            E[:, p:, p:] = Ell
            return E
        try:
            return np.linalg.inv(self._eye - A)
        except np.linalg.LinAlgError:
            return np.stack([_safe_inv(self._eye - a) for a in A])

    def _grad_K(self, g):
        cache = self.__dict__.setdefault("_gradK_cache", {})
        if g not in cache:
            k = self._grad_k[g]
            K = np.zeros((len(k), self.npar))
            K[np.arange(len(k)), k] = 1.0
            cache[g] = K
        return cache[g]

    def fit_quasi_newton_batch(self, batch, start, hess_inv0, *, maxit: int = 60, gtol: float = 1e-6,
                               free=None):
        """:meth:`fit_quasi_newton` for B samples at once; returns (thetas (B, npar), converged (B,)).

        Each sample keeps its own iterate, step length and BFGS history; the inverse-Hessian
        approximation is applied by the two-loop recursion over the whole history, started from
        ``hess_inv0`` (so the iterates are those of full BFGS, without B dense npar x npar matrices).
        Only the samples not yet converged are evaluated in later iterations.

        ``start`` is one vector (npar,) or one per member (B, npar); ``hess_inv0`` one matrix or one per
        member (B, npar, npar). ``free`` (B, npar) bool, optional: member b keeps the parameters where
        ``free[b]`` is False at their starting values (its gradient there is ignored; its ``hess_inv0[b]``
        must then have zero rows and columns for them, as the inverse of the free block embedded in zeros).
        """
        B = batch.size
        start = np.asarray(start, float)
        npar = start.shape[-1]
        theta = np.broadcast_to(start, (B, npar)).copy()
        S_h = np.zeros((maxit, B, npar))
        Y_h = np.zeros((maxit, B, npar))
        rho_h = np.zeros((maxit, B))
        mask = None if free is None else np.asarray(free, dtype=float)
        value_grad = self.value_grad_batch
        if mask is not None:
            def value_grad(th, bt, _members=None):
                fv, gv = self.value_grad_batch(th, bt)
                return fv, gv * (mask if _members is None else mask[_members])
        f, g = value_grad(theta, batch)
        done = np.zeros(B, dtype=bool)
        failed = ~np.isfinite(f)
        H0T = hess_inv0.transpose(0, 2, 1) if hess_inv0.ndim == 3 else hess_inv0.T
        for it in range(maxit):
            gmax = np.max(np.abs(g), axis=1) if npar else np.zeros(B)
            done |= (gmax < gtol) & ~failed
            failed |= ~np.isfinite(gmax)
            act = np.flatnonzero(~done & ~failed)
            if act.size == 0:
                break
            ga = g[act]
            H0a = H0T[act] if H0T.ndim == 3 else H0T
            step = _two_loop(ga, S_h[:it, act], Y_h[:it, act], rho_h[:it, act], H0a)
            slope = (step * ga).sum(axis=1)
            reset = ~(np.isfinite(slope) & (slope > 0))
            if reset.any():                                 # forget the history of these samples
                rho_h[:, act[reset]] = 0.0
                step[reset] = _apply_h0(ga[reset], H0a[reset] if H0a.ndim == 3 else H0a)
                slope[reset] = (step[reset] * ga[reset]).sum(axis=1)
            t = np.ones(act.size)
            cand = theta[act] - step
            fc, gc = (value_grad(cand, batch.subset(act), act) if mask is not None
                      else value_grad(cand, batch.subset(act)))
            small = gmax[act] < 1e-6
            floor = -1e-13 * np.maximum(1.0, np.abs(f[act]))
            for _ls in range(30):
                dec = f[act] - fc
                okm = np.isfinite(fc) & ((dec >= 1e-4 * t * slope) | (small & (dec >= floor)))
                if okm.all():
                    break
                redo = np.flatnonzero(~okm)
                t[redo] *= 0.5
                cand[redo] = theta[act[redo]] - t[redo, None] * step[redo]
                fc[redo], gc[redo] = (value_grad(cand[redo], batch.subset(act[redo]), act[redo]) if mask is not None
                                      else value_grad(cand[redo], batch.subset(act[redo])))
            stalled = act[~okm]
            done[stalled] = gmax[stalled] < 1e-6
            failed[stalled] |= ~done[stalled]
            acc = np.flatnonzero(okm)
            ia = act[acc]
            s_vec = cand[acc] - theta[ia]
            y_vec = gc[acc] - g[ia]
            sy = (s_vec * y_vec).sum(axis=1)
            use = sy > 1e-14
            S_h[it, ia] = s_vec
            Y_h[it, ia] = y_vec
            rho_h[it, ia] = np.where(use, 1.0 / np.where(use, sy, 1.0), 0.0)
            theta[ia], f[ia], g[ia] = cand[acc], fc[acc], gc[acc]
        return theta, done & ~failed

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
        for r, row in enumerate(frame_rows(pt)):
            if row.op == "~~" and row.lhs == row.rhs:
                var_row[(int(row.group), row.lhs)] = r
        for r, row in enumerate(frame_rows(pt)):
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
        return self._std_from_sds(values, sds)

    def _std_from_sds(self, values, sds):
        """std.all from row values (R,) or (B, R) and total SDs (G, nvar) or (B, G, nvar)."""
        out = values.copy()
        kind, g, l, r = self._std_kind, self._std_g, self._std_l, self._std_r
        sl, sr = sds[..., g, l], sds[..., g, r]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(kind == 1, values * sl / sr, out)
            out = np.where(kind == 2, values * sr / sl, out)
            out = np.where(kind == 3, values / (sl * sl), out)
            out = np.where(kind == 5, values / sl, out)
            vl = np.where(self._std_vl >= 0, values[..., np.maximum(self._std_vl, 0)], np.nan)
            vr = np.where(self._std_vr >= 0, values[..., np.maximum(self._std_vr, 0)], np.nan)
            out = np.where(kind == 4, values / (np.sqrt(np.abs(vl)) * np.sqrt(np.abs(vr))), out)
        return out

    def solution(self, theta):
        """(row values, std.all row values, improper-solution reason or '') for a solution ``theta``."""
        mats = self.matrices(theta)
        values = self.param_values(theta, mats)
        impl = [(np.linalg.solve(np.eye(self.nvar) - A, np.eye(self.nvar)), S) for A, S, _m in mats]
        std = self.std_all(values, impl)
        return values, std, self._improper(values, mats, impl)

    def solution_batch(self, thetas, batch=None):
        """:meth:`solution` for a stack of solutions: values (B, R), std.all (B, R), improper (B,) bool.

        ``batch`` (the samples' moments) sets each solution's fixed.x values; without it they are the
        model's own."""
        B = thetas.shape[0]
        p, nv = self.nobs, self.nvar
        values = np.broadcast_to(self._fixed_values, (B, self._fixed_values.size)).copy()
        fr = self._row_free > 0
        values[:, fr] = thetas[:, self._row_free[fr] - 1]
        if batch is not None:
            for r, ((g, _kind, _i, _j), op, a, b) in zip(self._fixed_x_rows, self._fixed_x):
                values[:, r] = batch.cov[g][:, a, b] if op == "~~" else batch.mean[g][:, a]
        sds = np.empty((B, self.ngroups, nv))
        improper = np.any(values[:, self._std_kind == 3] < 0, axis=1)
        for g, (A0, S0, _m0) in enumerate(self.base):
            if self._blocks[g] is not None:
                sds[:, g, :], imp = self._blocks[g].solution_parts(thetas, batch, g, S0)
                improper |= imp
                continue
            pa, ps = self.pos[(g, "A")], self.pos[(g, "S")]
            A = np.broadcast_to(A0, (B, nv, nv)).copy()
            S = np.broadcast_to(S0, (B, nv, nv)).copy()
            A[:, pa[:, 1], pa[:, 2]] = thetas[:, pa[:, 0]]
            S[:, ps[:, 1], ps[:, 2]] = thetas[:, ps[:, 0]]
            S[:, ps[:, 2], ps[:, 1]] = thetas[:, ps[:, 0]]
            if batch is not None and self._fixed_x:
                self._batch_fixed_x(g, S, None, batch)
            E = self._batch_E(A)
            full = E @ S @ E.transpose(0, 2, 1)
            sds[:, g, :] = np.sqrt(np.abs(np.diagonal(full, axis1=1, axis2=2)))
            for block in ([full[:, p:, p:]] if nv > p else []) + [S[:, :p, :p]]:
                ev = np.linalg.eigvalsh(block).min(axis=1)
                scale = np.maximum(1.0, np.abs(block).max(axis=(1, 2)))
                improper |= ev < -1e-10 * scale
        return values, self._std_from_sds(values, sds), improper

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


def _sigma_inverse(sigma, S, FE, p, woodbury):
    """(Sigma^-1, log|Sigma|, positive definite) for a stack of implied covariance matrices.

    With ``woodbury`` (Sigma = Theta + G Psi G', Theta diagonal, see FastML.__init__): for the samples whose
    residual variances are positive and whose latent covariance Psi = Lp Lp' is positive definite, Sigma is
    positive definite and, with U = G Lp and M = I + U' Theta^-1 U (k x k),
    Sigma^-1 = Theta^-1 - Theta^-1 U M^-1 U' Theta^-1 and log|Sigma| = log|Theta| + log|M|
    (Woodbury identity, matrix determinant lemma). Every other sample: Cholesky of Sigma itself.
    """
    B = sigma.shape[0]
    inv = np.empty_like(sigma)
    logdet = np.empty(B)
    ok = np.ones(B, dtype=bool)
    rest = np.arange(B)
    if woodbury and B:
        d = np.arange(p)
        theta_d = S[:, d, d]
        Psi = S[:, p:, p:]
        Lp, okp = _batch_cholesky(Psi)
        fast = okp & (theta_d > 0).all(axis=1)
        if fast.any():
            idx = np.flatnonzero(fast)
            ti = 1.0 / theta_d[idx]                                     # (b, p)
            U = FE[idx, :, p:] @ Lp[idx]                                # (b, p, k)
            V = ti[:, :, None] * U
            M = np.eye(U.shape[2]) + U.transpose(0, 2, 1) @ V            # (b, k, k), symmetric PD
            Lm = np.linalg.cholesky(M)
            Minv = np.linalg.inv(M)
            w = -(V @ Minv @ V.transpose(0, 2, 1))
            w[:, d, d] += ti
            inv[idx] = w
            logdet[idx] = (np.log(theta_d[idx]).sum(axis=1)
                           + 2.0 * np.log(np.diagonal(Lm, axis1=1, axis2=2)).sum(axis=1))
            rest = np.flatnonzero(~fast)
    if rest.size:
        sub = sigma[rest]
        L, okr = _batch_cholesky(sub)
        ok[rest] = okr
        inv[rest] = np.linalg.inv(np.where(okr[:, None, None], sub, np.eye(p)))
        logdet[rest] = 2.0 * np.log(np.abs(np.diagonal(L, axis1=1, axis2=2))).sum(axis=1)
    return inv, logdet, ok


def _full_s(E, S):
    return S @ E.T


def _two_loop(grad, S_h, Y_h, rho_h, H0T):
    """BFGS inverse-Hessian times ``grad`` for each row, from the pair history (oldest first)."""
    q = grad.copy()
    k = S_h.shape[0]
    alpha = np.zeros((k, grad.shape[0]))
    for i in range(k - 1, -1, -1):
        alpha[i] = rho_h[i] * (S_h[i] * q).sum(axis=1)
        q -= alpha[i][:, None] * Y_h[i]
    r = _apply_h0(q, H0T)
    for i in range(k):
        beta = rho_h[i] * (Y_h[i] * r).sum(axis=1)
        r += (alpha[i] - beta)[:, None] * S_h[i]
    return r


def _apply_h0(q, H0T):
    """Rows of ``q`` times the starting inverse Hessian (transposed): one matrix, or one per row."""
    return np.einsum("bi,bij->bj", q, H0T) if H0T.ndim == 3 else q @ H0T


def _inverse_i_minus(Bm, order):
    """(I - Bm)^-1 for a stack of square matrices: with ``order`` the longest path of an acyclic pattern
    (at most 6), Horner's form of I + Bm + ... + Bm^order (exact, a few small products); else inverted."""
    eye = np.eye(Bm.shape[-1])
    if order is not None and order <= 6:
        M = np.broadcast_to(eye, Bm.shape).copy()
        for _ in range(order):
            M = Bm @ M
            M += eye
        return M
    try:
        return np.linalg.inv(eye - Bm)
    except np.linalg.LinAlgError:
        return np.stack([_safe_inv(eye - b) for b in Bm])


def _safe_inv(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return np.full_like(a, np.nan)


def _batch_cholesky(sigma):
    """Cholesky factors of a stack of matrices and which of them are positive definite."""
    try:
        return np.linalg.cholesky(sigma), np.ones(sigma.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        out = np.empty_like(sigma)
        ok = np.ones(sigma.shape[0], dtype=bool)
        for b, s in enumerate(sigma):
            try:
                out[b] = np.linalg.cholesky(s)
            except np.linalg.LinAlgError:
                out[b] = np.eye(s.shape[0])
                ok[b] = False
        return out, ok


class BatchMoments:
    """Sample moments of B samples with the same group sizes: ``cov[g]`` (B, p, p), ``mean[g]`` (B, p)."""

    def __init__(self, n, cov, mean, logdet_s=None):
        self.n = list(n)
        self.cov = [np.asarray(c) for c in cov]
        self.mean = [np.asarray(m) for m in mean]
        self.logdet_s = (list(logdet_s) if logdet_s is not None
                         else [np.linalg.slogdet(c)[1] for c in self.cov])
        self.derived = {}            # per-batch quantities of the sample moments (kernels' own, subset too)

    @property
    def size(self) -> int:
        return self.cov[0].shape[0]

    def subset(self, idx):
        out = object.__new__(BatchMoments)
        out.n = self.n
        out.cov = [c[idx] for c in self.cov]
        out.mean = [m[idx] for m in self.mean]
        out.logdet_s = [ld[idx] for ld in self.logdet_s]
        out.derived = {key: tuple(a[idx] for a in arrays) for key, arrays in self.derived.items()}
        return out


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


class _FactorBlocks:
    """The ML objective and gradient of one group from its small blocks (factor models with regressions).

    Applies when the observed variables split into indicators ``y`` and exogenous regressors ``x`` of the
    latent variables (lavaan's fixed.x covariates): no directed effects among observed variables or into
    ``x``, residual covariance of ``y`` diagonal (Theta), no observed-latent or y-x covariances, every
    x-x (co)variance fixed at its sample value, no mean structure. With loadings Lambda = A[y, l],
    latent regressions Bm = A[l, l], Gamma = A[l, x], M = (I - Bm)^-1, G = Lambda M and Pi = G Gamma::

        Sigma_yy = Theta + G Psi G' + Pi S_xx Pi',  Sigma_yx = Pi S_xx,  Sigma_xx = S_xx

    so with C = Theta + G Psi G' (the covariance of y given x) the joint ML discrepancy is exactly the
    conditional one, F = log|C| + tr(C^-1 T) + log|S_xx| - log|S| - p_y with
    T = S_yy - Pi S_xy - S_yx Pi' + Pi S_xx Pi'. C^-1 and log|C| come from the Woodbury identity with
    Psi = Lp Lp' (k x k factorisations only), and the gradient from W_c = C^-1 - C^-1 T C^-1 and
    Z = C^-1 (Pi S_xx - S_yx)::

        dF/dTheta_ii = (W_c)_ii    dF/dPsi = G' W_c G    dF/dGamma = 2 G' Z
        dF/dLambda = 2 (W_c G Psi + Z Gamma') M'         dF/dBm = G' dF/dLambda

    (tests/test_bootstrap.py checks F and the gradient against the engine). A member whose residual
    variances are not all positive or whose Psi is not positive definite is flagged for the general path.
    """

    @classmethod
    def build(cls, fast, g):
        if fast.meanstructure or fast.nvar == fast.nobs:
            return None
        p, nv = fast.nobs, fast.nvar
        A0, S0, _m0 = fast.base[g]
        pa, ps = fast.pos[(g, "A")], fast.pos[(g, "S")]
        patA = A0 != 0
        patA[pa[:, 1], pa[:, 2]] = True
        patS = S0 != 0
        patS[ps[:, 1], ps[:, 2]] = True
        patS[ps[:, 2], ps[:, 1]] = True
        if patA[:p, :p].any():
            return None
        x = np.flatnonzero(patA[p:, :p].any(axis=0))
        y = np.setdiff1d(np.arange(p), x)
        if patA[x, :].any() or patS[:p, p:].any() or patS[np.ix_(y, x)].any():
            return None
        if (patS[np.ix_(y, y)] & ~np.eye(y.size, dtype=bool)).any():
            return None
        fixed_cells = {(i, j) for (gg, _kind, i, j), op, a, b in fast._fixed_x
                       if gg == g and op == "~~" and {a, b} == {i, j}}
        fixed_cells |= {(j, i) for i, j in fixed_cells}
        if any((i, j) not in fixed_cells for i in x for j in x):
            return None
        ypos = np.full(p, -1)
        ypos[y] = np.arange(y.size)
        xpos = np.full(p, -1)
        xpos[x] = np.arange(x.size)
        theta0 = np.diag(S0)[y]
        free_theta = {i for _k, i, j in ps if i == j and i < p}
        if any(theta0[ypos[i]] <= 0 for i in y if i not in free_theta):
            return None                          # a fixed zero residual variance: never Woodbury
        self = cls()
        self.py, self.q, self.k = y.size, x.size, nv - p
        py, q, k = self.py, self.q, self.k
        self.y, self.x = y, x
        self.contiguous = bool(np.array_equal(y, np.arange(py)) and np.array_equal(x, np.arange(py, p)))
        self.L0 = A0[np.ix_(y, np.arange(p, nv))]
        self.B0 = A0[p:, p:]
        self.G0 = A0[np.ix_(np.arange(p, nv), x)]
        self.T0 = theta0
        self.P0 = S0[p:, p:]
        self.order = fast._path_order(g)
        # where each free position sits in the small blocks, and in the flat gradient layout
        # [dLambda (py k), dBm (k k), dGamma (k q), dTheta (py), dPsi (k k)]
        offB, offG = py * k, py * k + k * k
        offT = offG + k * q
        offP = offT + py
        L, Bm, Gm, flat = [], [], [], []
        for kk, i, j in pa:
            if i < p:
                L.append((kk, ypos[i], j - p))
                flat.append(ypos[i] * k + j - p)
            elif j >= p:
                Bm.append((kk, i - p, j - p))
                flat.append(offB + (i - p) * k + j - p)
            else:
                Gm.append((kk, i - p, xpos[j]))
                flat.append(offG + (i - p) * q + xpos[j])
        T, P = [], []
        for kk, i, j in ps:
            if i < p:
                T.append((kk, ypos[i]))
                flat.append(offT + ypos[i])
            else:
                P.append((kk, i - p, j - p))
                flat.append(offP + (i - p) * k + j - p)
        self.Lpos = np.array(L, dtype=int).reshape(-1, 3)
        self.Bpos = np.array(Bm, dtype=int).reshape(-1, 3)
        self.Gpos = np.array(Gm, dtype=int).reshape(-1, 3)
        self.Tpos = np.array(T, dtype=int).reshape(-1, 2)
        self.Ppos = np.array(P, dtype=int).reshape(-1, 3)
        self.flat = np.array(flat, dtype=int)
        self.fac = np.concatenate([np.ones(len(pa)), fast._s_fac[g]])
        self.size = offP + k * k
        return self

    def _fill(self, base, pos, thetas, symmetric=False):
        out = np.broadcast_to(base, (thetas.shape[0],) + base.shape).copy()
        if len(pos):
            out[:, pos[:, 1], pos[:, 2]] = thetas[:, pos[:, 0]]
            if symmetric:
                out[:, pos[:, 2], pos[:, 1]] = thetas[:, pos[:, 0]]
        return out

    def solution_parts(self, thetas, batch, g, S0):
        """Total SDs (B, nvar) and lavaan's improper-solution flags (B,) of :meth:`FastML.solution_batch`
        from the blocks: Cov(eta) = M (Psi + Gamma S_xx Gamma') M', var(y) = theta + diag(Lambda Cov(eta)
        Lambda'); improper when Cov(eta) or the observed residual block diag(Theta) + S_xx is not positive
        semi-definite (to -1e-10 of its largest entry, as the general path)."""
        B = thetas.shape[0]
        py, q, k = self.py, self.q, self.k
        p = py + q
        L = self._fill(self.L0, self.Lpos, thetas)
        Ps = self._fill(self.P0, self.Ppos, thetas, symmetric=True)
        th = np.broadcast_to(self.T0, (B, py)).copy()
        if len(self.Tpos):
            th[:, self.Tpos[:, 1]] = thetas[:, self.Tpos[:, 0]]
        M = _inverse_i_minus(self._fill(self.B0, self.Bpos, thetas), self.order)
        if q:
            if batch is not None:
                Sxx = self.sample_blocks(batch, g)[4]
            else:
                Sxx = np.broadcast_to(S0[np.ix_(self.x, self.x)], (B, q, q))
            Gm = self._fill(self.G0, self.Gpos, thetas)
            inner = Ps + Gm @ Sxx @ Gm.transpose(0, 2, 1)
        else:
            inner = Ps
        cov_eta = M @ inner @ M.transpose(0, 2, 1)
        sds = np.empty((B, p + k))
        sds[:, self.y] = np.sqrt(np.abs(th + ((L @ cov_eta) * L).sum(axis=2)))
        sds[:, p:] = np.sqrt(np.abs(np.diagonal(cov_eta, axis1=1, axis2=2)))
        scale_l = np.maximum(1.0, np.abs(cov_eta).max(axis=(1, 2)))
        improper = np.linalg.eigvalsh(cov_eta).min(axis=1) < -1e-10 * scale_l
        scale_o = np.maximum(1.0, np.abs(th).max(axis=1))
        ev_o = th.min(axis=1)
        if q:
            sds[:, self.x] = np.sqrt(np.abs(np.diagonal(Sxx, axis1=1, axis2=2)))
            scale_o = np.maximum(scale_o, np.abs(Sxx).max(axis=(1, 2)))
            ev_o = np.minimum(ev_o, np.linalg.eigvalsh(Sxx).min(axis=1))
        improper |= ev_o < -1e-10 * scale_o
        return sds, improper

    def sample_blocks(self, batch, g):
        """Per member, once per batch: S_c = S_yy - S_yx S_xx^-1 S_xy (the residual covariance of y given x),
        its diagonal, P = S_yx S_xx^-1, L_x = chol(S_xx), S_xx and log|S_xx|."""
        key = ("blocks", g)
        got = batch.derived.get(key)
        if got is None:
            C = batch.cov[g]
            py = self.py
            if self.contiguous:
                Syy, Syx, Sxx = C[:, :py, :py], C[:, :py, py:], C[:, py:, py:]
            else:
                Syy = C[:, self.y[:, None], self.y[None, :]]
                Syx = C[:, self.y[:, None], self.x[None, :]]
                Sxx = C[:, self.x[:, None], self.x[None, :]]
            if self.q:
                Lx = np.linalg.cholesky(Sxx)
                P = np.linalg.solve(Sxx, Syx.transpose(0, 2, 1)).transpose(0, 2, 1)
                Sc = Syy - P @ Syx.transpose(0, 2, 1)
                ld = 2.0 * np.log(np.diagonal(Lx, axis1=1, axis2=2)).sum(axis=1)
            else:
                Lx = P = Sxx
                Sc = Syy
                ld = np.zeros(C.shape[0])
            got = batch.derived[key] = (Sc, np.diagonal(Sc, axis1=1, axis2=2), P, Lx, Sxx, ld)
        return got

    def value_grad(self, thetas, batch, g):
        """(F (B,), position gradients (B, npos) in FastML's [A positions, S positions] order, fast (B,)).

        With D = Theta^-1, H = D G, J = G' H, K = Lp (I + Lp' J Lp)^-1 Lp': C^-1 = D - H K H' and
        T = S_c + R R' (R = (Pi - P) L_x), so every term needs one p_y x p_y product, S_c H; the rest are
        p_y x k and k x k products."""
        B = thetas.shape[0]
        py, q, k = self.py, self.q, self.k
        L = self._fill(self.L0, self.Lpos, thetas)
        Bm = self._fill(self.B0, self.Bpos, thetas)
        Ps = self._fill(self.P0, self.Ppos, thetas, symmetric=True)
        th = np.broadcast_to(self.T0, (B, py)).copy()
        if len(self.Tpos):
            th[:, self.Tpos[:, 1]] = thetas[:, self.Tpos[:, 0]]
        eye = np.eye(k)
        M = _inverse_i_minus(Bm, self.order)
        Lp, fast = _batch_cholesky(Ps)
        fast &= (th > 0).all(axis=1) & np.isfinite(M).all(axis=(1, 2))
        if not fast.all():                        # harmless stand-ins; these members take the general path
            th[~fast] = 1.0
            M[~fast] = eye
        Sc, dSc, P, Lx, Sxx, ld_xx = self.sample_blocks(batch, g)
        tr = lambda a: a.transpose(0, 2, 1)                              # noqa: E731
        G = L @ M                                                       # (B, py, k)
        Gt = tr(G)
        D = 1.0 / th
        H = D[:, :, None] * G
        J = Gt @ H
        Mk = tr(Lp) @ J @ Lp
        Mk[:, np.arange(k), np.arange(k)] += 1.0
        Lm = np.linalg.cholesky(Mk)
        K = Lp @ np.linalg.inv(Mk) @ tr(Lp)
        logdet_c = np.log(th).sum(axis=1) + 2.0 * np.log(np.diagonal(Lm, axis1=1, axis2=2)).sum(axis=1)
        TH = Sc @ H                                                     # the one p_y x p_y product
        diag_t = dSc
        if q:
            Gm = self._fill(self.G0, self.Gpos, thetas)
            Dm = G @ Gm - P                                             # Pi - P, (B, py, q)
            R = Dm @ Lx
            TH = TH + R @ (tr(R) @ H)
            diag_t = dSc + (R * R).sum(axis=2)
        HTH = tr(H) @ TH                                                # H' T H (k x k)
        f = (logdet_c + (D * diag_t).sum(axis=1) - (K * HTH).sum(axis=(1, 2))
             + ld_xx - batch.logdet_s[g] - py)
        IKJ = -(K @ J)
        IKJ[:, np.arange(k), np.arange(k)] += 1.0
        HK = H @ K
        THIKJ = TH @ IKJ                                                # T C^-1 G
        WcG = H @ IKJ - D[:, :, None] * THIKJ + HK @ (HTH @ IKJ)        # C^-1 G - C^-1 T C^-1 G
        diag_ci = D - (HK * H).sum(axis=2)
        diag_citci = (D * D * diag_t - 2.0 * D * ((TH @ K) * H).sum(axis=2)
                      + ((HK @ HTH @ K) * H).sum(axis=2))
        Hs = WcG @ Ps
        if q:
            Y = Dm @ Sxx                                                # Pi S_xx - S_yx
            Z = D[:, :, None] * Y - HK @ (tr(H) @ Y)                    # C^-1 Y
            Hs += Z @ tr(Gm)
        dL = 2.0 * (Hs @ tr(M))
        out = np.empty((B, self.size))
        out[:, :py * k] = dL.reshape(B, -1)
        out[:, py * k:py * k + k * k] = (Gt @ dL).reshape(B, -1)
        off = py * k + k * k
        if q:
            out[:, off:off + k * q] = (2.0 * (Gt @ Z)).reshape(B, -1)
        off += k * q
        out[:, off:off + py] = diag_ci - diag_citci
        out[:, off + py:] = (Gt @ WcG).reshape(B, -1)
        return f, out[:, self.flat] * self.fac, fast
