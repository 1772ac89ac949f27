"""Model matrices (RAM form) built from a parameter table, the implied moments and their derivatives.

For each group the variables are ``ov_names + lv_names``; ``A`` holds directed effects (loadings
and regressions, ``A[to, from]``), ``S`` (residual) variances and covariances, ``m`` intercepts.
With ``E = (I - A)^-1`` the implied moments of the observed variables are
``Sigma = F E S E' F'`` and ``mu = F E m``. Derivatives are analytic (rank-one/two updates), so
gradients and the expected information cost a few matrix products per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._frames import frame_rows


@dataclass
class GroupMatrices:
    A: np.ndarray
    S: np.ndarray
    m: np.ndarray


class RAMModel:
    """Parameter vector ↔ RAM matrices for every group of a :class:`~sem_cocreate.spec.ModelSpec`."""

    def __init__(self, spec, *, fixed_x_values=None):
        pt = spec.partable
        self.spec = spec
        self.ov = list(spec.ov_names)
        self.lv = list(spec.lv_names)
        self.vars = self.ov + self.lv
        self.nvar = len(self.vars)
        self.nobs = len(self.ov)
        self.ngroups = len(spec.groups)
        self.npar = int(pt["free"].max()) if len(pt) else 0
        self.meanstructure = spec.meanstructure
        index = {v: i for i, v in enumerate(self.vars)}
        self.index = index
        # positions: per free parameter, list of (group, kind, i, j)
        self.positions: list[list[tuple[int, str, int, int]]] = [[] for _ in range(self.npar)]
        self.base = []
        for g in range(self.ngroups):
            A = np.zeros((self.nvar, self.nvar))
            S = np.zeros((self.nvar, self.nvar))
            m = np.zeros(self.nvar)
            self.base.append(GroupMatrices(A, S, m))
        self.row_pos = []   # per partable row: (group, kind, i, j) or None
        for r in frame_rows(pt):
            g = int(r.group) - 1
            if r.op == "=~":
                pos = (g, "A", index[r.rhs], index[r.lhs])
            elif r.op == "~":
                pos = (g, "A", index[r.lhs], index[r.rhs])
            elif r.op == "~~":
                i, j = index[r.lhs], index[r.rhs]
                pos = (g, "S", max(i, j), min(i, j))
            elif r.op == "~1":
                pos = (g, "m", index[r.lhs], 0)
            else:
                pos = None
            self.row_pos.append(pos)
            if pos is None:
                continue
            if r.free > 0:
                self.positions[int(r.free) - 1].append(pos)
            else:
                value = r.ustart
                if r.exo == 1 and fixed_x_values is not None:
                    value = fixed_x_values(g, r.lhs, r.op, r.rhs)
                if value is None or np.isnan(value):
                    value = 0.0
                self._set(self.base[g], pos, value)
        self.F = np.zeros((self.nobs, self.nvar))
        self.F[np.arange(self.nobs), np.arange(self.nobs)] = 1.0

    @staticmethod
    def _set(mats: GroupMatrices, pos, value) -> None:
        _, kind, i, j = pos
        if kind == "A":
            mats.A[i, j] = value
        elif kind == "S":
            mats.S[i, j] = value
            mats.S[j, i] = value
        else:
            mats.m[i] = value

    def matrices(self, theta: np.ndarray) -> list[GroupMatrices]:
        out = [GroupMatrices(b.A.copy(), b.S.copy(), b.m.copy()) for b in self.base]
        for k, plist in enumerate(self.positions):
            for pos in plist:
                self._set(out[pos[0]], pos, theta[k])
        return out

    def implied(self, theta: np.ndarray):
        """Model-implied (Sigma, mu, E, Sigma_full, mean_full) for every group."""
        res = []
        eye = np.eye(self.nvar)
        for mats in self.matrices(theta):
            E = np.linalg.solve(eye - mats.A, eye)
            full = E @ mats.S @ E.T
            mean_full = E @ mats.m
            sigma = full[: self.nobs, : self.nobs]
            mu = mean_full[: self.nobs]
            res.append((sigma, mu, E, full, mean_full))
        return res

    def param_values(self, theta: np.ndarray) -> np.ndarray:
        """Value of every partable row (fixed rows: their fixed value)."""
        mats = self.matrices(theta)
        out = np.full(len(self.row_pos), np.nan)
        for r, pos in enumerate(self.row_pos):
            if pos is None:
                continue
            g, kind, i, j = pos
            M = mats[g]
            out[r] = M.A[i, j] if kind == "A" else (M.S[i, j] if kind == "S" else M.m[i])
        return out

    def derivatives(self, theta: np.ndarray, implied=None):
        """Per group: dSigma (npar, p, p) and dmu (npar, p) with respect to theta."""
        if implied is None:
            implied = self.implied(theta)
        p = self.nobs
        out = []
        for g, (sigma, mu, E, full, mean_full) in enumerate(implied):
            FE = E[:p, :]                      # F E  (p x nvar)
            SF = full[:, :p]                   # Sigma_full F'  (nvar x p)
            dS = np.zeros((self.npar, p, p))
            dm = np.zeros((self.npar, p))
            for k, plist in enumerate(self.positions):
                for pos in plist:
                    if pos[0] != g:
                        continue
                    _, kind, i, j = pos
                    if kind == "A":
                        u = FE[:, i]
                        v = SF[j, :]
                        dS[k] += np.outer(u, v) + np.outer(v, u)
                        dm[k] += u * mean_full[j]
                    elif kind == "S":
                        u, w = FE[:, i], FE[:, j]
                        if i == j:
                            dS[k] += np.outer(u, u)
                        else:
                            dS[k] += np.outer(u, w) + np.outer(w, u)
                    else:
                        dm[k] += FE[:, i]
            out.append((dS, dm))
        return out
