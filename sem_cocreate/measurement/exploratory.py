"""Exploratory checks before a CFA: KMO, Bartlett's sphericity, parallel analysis, ML EFA.

Written with numpy/scipy (no ``factor_analyzer``) and checked against psych 2.2.9 / GPArotation.
Every function assumes reverse-keyed items are already recoded (the data stage recodes them once).
Correlations are Pearson correlations of pairwise-complete observations, as psych's ``use="pairwise"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import DataError, FitWarning, OptionError


def _items_frame(data: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame) or data.shape[1] < 2:
        raise DataError("data= must be a pandas DataFrame with two or more item columns.")
    x = data.apply(pd.to_numeric, errors="coerce")
    bad = [c for c in x.columns if x[c].notna().sum() < 3 or not x[c].std() > 0]
    if bad:
        raise DataError(f"item column(s) {', '.join(map(str, bad))} have no variance or too few answers; drop them.")
    return x


def pairwise_cor(data: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlations of pairwise-complete observations (psych's ``cor(x, use="pairwise")``)."""
    return _items_frame(data).corr()


def _smc(r: np.ndarray) -> np.ndarray:
    return 1.0 - 1.0 / np.diag(np.linalg.inv(r))


def kmo(data: pd.DataFrame) -> dict:
    """Kaiser-Meyer-Olkin measure of sampling adequacy, as ``psych::KMO()``.

    Parameters
    ----------
    data : pandas.DataFrame
        Item columns only.

    Returns
    -------
    dict
        ``overall`` (float) and ``items`` (pandas.Series of per-item MSA).

    Notes
    -----
    With ``Q`` the anti-image (partial) correlations from ``inv(R)``,
    ``MSA = sum r_ij^2 / (sum r_ij^2 + sum q_ij^2)`` over ``i != j``; per item the sums run over its column.
    """
    rdf = pairwise_cor(data)
    r = rdf.to_numpy()
    inv = np.linalg.inv(r)
    d = 1 / np.sqrt(np.diag(inv))
    q = inv * np.outer(d, d)
    np.fill_diagonal(q, 0)
    r0 = r.copy()
    np.fill_diagonal(r0, 0)
    r2, q2 = (r0 ** 2), (q ** 2)
    return {"overall": float(r2.sum() / (r2.sum() + q2.sum())),
            "items": pd.Series(r2.sum(0) / (r2.sum(0) + q2.sum(0)), index=rdf.columns, name="msa")}


def bartlett_sphericity(data: pd.DataFrame, *, n: int | None = None) -> dict:
    """Bartlett's test that the correlation matrix is an identity, as ``psych::cortest.bartlett()``.

    Parameters
    ----------
    data : pandas.DataFrame
        Item columns only.
    n : int, optional
        Sample size (default: the number of rows, as psych uses with raw data).

    Returns
    -------
    dict
        ``chisq = -ln|R| (n - 1 - (2p + 5)/6)``, ``df = p(p-1)/2``, ``pvalue``, ``n``.
    """
    from ..engine._distributions import chi2

    r = pairwise_cor(data).to_numpy()
    n = int(data.shape[0] if n is None else n)
    p = r.shape[0]
    _, logdet = np.linalg.slogdet(r)
    chisq = -logdet * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) / 2
    return {"chisq": float(chisq), "df": df, "pvalue": float(chi2.sf(chisq, df)), "n": n}


# ---------------------------------------------------------------------------------------- factoring
def _ml_objective(psi: np.ndarray, r: np.ndarray, nf: int):
    sc = 1 / np.sqrt(psi)
    rs = r * np.outer(sc, sc)
    e, v = np.linalg.eigh(rs)
    e, v = e[::-1], v[:, ::-1]
    rest = e[nf:]
    f = -(np.sum(np.log(rest) - rest) - nf + r.shape[0])
    lam = v[:, :nf] * np.sqrt(np.maximum(e[:nf] - 1, 0))
    load = lam / sc[:, None]
    g = load @ load.T + np.diag(psi) - r
    grad = np.diag(g) / psi ** 2
    return f, grad


def _ml_loadings(r: np.ndarray, nf: int) -> tuple[np.ndarray, np.ndarray, float, bool]:
    from scipy.optimize import minimize

    smc = _smc(r)
    start = np.diag(r) - smc
    upper = max(float(smc.max()), 1.0)
    res = minimize(_ml_objective, start, args=(r, nf), jac=True, method="L-BFGS-B",
                   bounds=[(0.005, upper)] * r.shape[0], options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 5000})
    psi = res.x
    sc = 1 / np.sqrt(psi)
    e, v = np.linalg.eigh(r * np.outer(sc, sc))
    e, v = e[::-1], v[:, ::-1]
    load = (v[:, :nf] * np.sqrt(np.maximum(e[:nf] - 1, 0))) / sc[:, None]
    return load, psi, float(res.fun), bool(res.success)


def _oblimin(a: np.ndarray, *, gamma: float = 0.0, eps: float = 1e-5, maxit: int = 1000):
    """Gradient projection oblique rotation (Bernaards & Jennrich 2005), oblimin criterion."""
    p, k = a.shape
    nmat = np.ones((k, k)) - np.eye(k)

    def crit(lam):
        l2 = lam ** 2
        cm = np.eye(p) - gamma / p * np.ones((p, p))
        x = cm @ l2 @ nmat
        return float((l2 * x).sum() / 4), lam * x

    t = np.eye(k)
    lam = a @ np.linalg.inv(t).T
    f, gq = crit(lam)
    grad = -(lam.T @ gq @ np.linalg.inv(t)).T
    step = 1.0
    converged = False
    for _ in range(maxit + 1):
        gp = grad - t @ np.diag((t * grad).sum(0))
        s = np.sqrt((gp ** 2).sum())
        if s < eps:
            converged = True
            break
        step *= 2
        for _ in range(11):
            x = t - step * gp
            tt = x / np.sqrt((x ** 2).sum(0))
            lam = a @ np.linalg.inv(tt).T
            ft, gq = crit(lam)
            if f - ft > 0.5 * s ** 2 * step:
                break
            step /= 2
        t, f = tt, ft
        grad = -(lam.T @ gq @ np.linalg.inv(tt)).T
    return lam, t.T @ t, converged


def _varimax(x: np.ndarray, *, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Kaiser-normalized varimax by the SVD iteration (stats::varimax defaults)."""
    p, k = x.shape
    sc = np.sqrt((x ** 2).sum(1))
    z0 = x / sc[:, None]
    rot = np.eye(k)
    d = 0.0
    for _ in range(1000):
        z = z0 @ rot
        b = z0.T @ (z ** 3 - z @ np.diag((z ** 2).sum(0)) / p)
        u, sv, vt = np.linalg.svd(b)
        rot = u @ vt
        dpast, d = d, sv.sum()
        if d < dpast * (1 + eps):
            break
    return (z0 @ rot) * sc[:, None], rot


def _promax(a: np.ndarray, *, m: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Promax after Kaiser row normalization, as psych::fa(rotate="promax")."""
    h = np.sqrt((a ** 2).sum(1))
    w = a / h[:, None]
    x, rot = _varimax(w)
    q = x * np.abs(x) ** (m - 1)
    u = np.linalg.lstsq(x, q, rcond=None)[0]
    d = np.diag(np.linalg.inv(u.T @ u))
    u = u @ np.diag(np.sqrt(d))
    z = x @ u
    ui = np.linalg.inv(rot @ u)
    return z * h[:, None], ui @ ui.T


@dataclass(frozen=True)
class EFAResult:
    """An exploratory factor solution.

    Attributes
    ----------
    loadings : pandas.DataFrame
        Items by factors (``F1``..``Fk``, ordered by sum of squared loadings, signs making column sums
        positive).
    phi : pandas.DataFrame
        Factor correlations (identity for orthogonal rotations).
    uniquenesses : pandas.Series
    objective : float
        ML discrepancy at the optimum (psych's ``objective`` before its n-correction is the same function).
    rotation : str
    n_obs : int
    converged : bool
    """

    loadings: pd.DataFrame
    phi: pd.DataFrame
    uniquenesses: pd.Series
    objective: float
    rotation: str
    n_obs: int
    converged: bool


def efa(data: pd.DataFrame, n_factors: int, *, rotate: str = "oblimin") -> EFAResult:
    """Maximum-likelihood exploratory factor analysis, as ``psych::fa(fm="ml")``.

    Parameters
    ----------
    data : pandas.DataFrame
        Item columns only (pairwise-complete correlations are analysed).
    n_factors : int
        Number of factors.
    rotate : {"oblimin", "promax", "varimax", "none"}
        ``oblimin``: GPA direct quartimin (gamma 0) from the identity, unnormalized (GPArotation's
        ``oblimin`` defaults used by psych). ``promax``: Kaiser-normalized, power 4 (psych's
        ``kaiser(rotate="Promax")``). ``varimax``: Kaiser-normalized varimax.

    Returns
    -------
    EFAResult

    Notes
    -----
    The uniquenesses minimise ``F(psi) = -sum_{j>k} (ln e_j - e_j) - k + p`` with ``e_j`` the
    eigenvalues of ``psi^-1/2 R psi^-1/2`` (bounds 0.005..1, L-BFGS-B from ``1 - SMC``); loadings are
    ``psi^1/2 V (E - 1)^1/2``. A converged ML solution is unique up to rotation, so loadings agree with
    psych up to column order and sign (checked within 0.005).
    """
    import warnings

    rotate = str(rotate).lower()
    if rotate not in {"oblimin", "promax", "varimax", "none"}:
        raise OptionError(f"rotate= must be oblimin, promax, varimax or none, got {rotate!r}.")
    rdf = pairwise_cor(data)
    p = rdf.shape[0]
    if not isinstance(n_factors, (int, np.integer)) or not 1 <= n_factors < p:
        raise OptionError(f"n_factors= must be a whole number from 1 to {p - 1}, got {n_factors!r}.")
    r = rdf.to_numpy()
    load, psi, obj, ok = _ml_loadings(r, int(n_factors))
    phi = np.eye(n_factors)
    if n_factors > 1 and rotate == "oblimin":
        load, phi, rot_ok = _oblimin(load)
        ok = ok and rot_ok
    elif n_factors > 1 and rotate == "promax":
        load, phi = _promax(load)
    elif n_factors > 1 and rotate == "varimax":
        load, _ = _varimax(load)
    if not ok:
        warnings.warn("EFA did not converge; treat the loadings with caution.", FitWarning, stacklevel=2)
    sign = np.where(load.sum(0) < 0, -1.0, 1.0)
    load = load * sign
    phi = phi * np.outer(sign, sign)
    order = np.argsort(-(load ** 2).sum(0), kind="stable")
    load, phi = load[:, order], phi[np.ix_(order, order)]
    names = [f"F{i + 1}" for i in range(n_factors)]
    return EFAResult(loadings=pd.DataFrame(load, index=rdf.index, columns=names),
                     phi=pd.DataFrame(phi, index=names, columns=names),
                     uniquenesses=pd.Series(psi, index=rdf.index, name="uniqueness"),
                     objective=obj, rotation=rotate, n_obs=int(data.shape[0]), converged=ok)


def _uls_one_factor_values(r: np.ndarray) -> np.ndarray:
    """Eigenvalues of R with communalities of a one-factor minres (ULS) fit on the diagonal."""
    from scipy.optimize import minimize

    off = ~np.eye(r.shape[0], dtype=bool)

    def f(l):
        res = (r - np.outer(l, l)) * off
        return float((res ** 2).sum()), -4 * res @ l

    start = np.sqrt(np.clip(_smc(r), 0.01, 1))
    lam = minimize(f, start, jac=True, method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-10}).x
    rr = r.copy()
    np.fill_diagonal(rr, lam ** 2)
    return np.sort(np.linalg.eigvalsh(rr))[::-1]


@dataclass(frozen=True)
class ParallelResult:
    """Parallel analysis: observed against random-data eigenvalues.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per eigenvalue: ``number``, ``pc_observed``, ``pc_simulated``, ``fa_observed``,
        ``fa_simulated`` (simulated = mean over the random data sets, or the ``quantile`` if given).
    n_factors, n_components : int
        Leading observed eigenvalues above the simulated ones (factors: reduced matrix; components:
        full correlation matrix).
    n_iter : int
    seed : object
    """

    table: pd.DataFrame
    n_factors: int
    n_components: int
    n_iter: int
    seed: object


def parallel_analysis(data: pd.DataFrame, *, n_iter: int = 20, quantile: float | None = None,
                      seed: int | None = None) -> ParallelResult:
    """Horn's parallel analysis for components and factors, in the manner of ``psych::fa.parallel()``.

    Parameters
    ----------
    data : pandas.DataFrame
        Item columns only.
    n_iter : int, default 20
        Random normal data sets of the same size (psych's default 20).
    quantile : float, optional
        Compare with this quantile of the simulated eigenvalues instead of their mean.
    seed : int, optional
        Data set ``b`` uses ``default_rng(SeedSequence(seed).spawn(n_iter)[b])``.

    Returns
    -------
    ParallelResult

    Notes
    -----
    Observed component eigenvalues are those of the pairwise correlation matrix (psych's
    ``pc.values``); factor eigenvalues those of the matrix with one-factor minres communalities on the
    diagonal (psych's ``fa.values`` with ``fm="minres"``). The random data differ from R's, so the
    suggested numbers can differ from psych's by one in borderline cases.
    """
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise OptionError(f"n_iter= must be a whole number >= 1, got {n_iter!r}.")
    x = _items_frame(data)
    r = x.corr().to_numpy()
    n, p = x.shape
    pc_obs = np.sort(np.linalg.eigvalsh(r))[::-1]
    fa_obs = _uls_one_factor_values(r)
    pcs, fas = np.empty((n_iter, p)), np.empty((n_iter, p))
    for b, child in enumerate(np.random.SeedSequence(seed).spawn(n_iter)):
        z = np.random.default_rng(child).standard_normal((n, p))
        rz = np.corrcoef(z, rowvar=False)
        pcs[b] = np.sort(np.linalg.eigvalsh(rz))[::-1]
        fas[b] = _uls_one_factor_values(rz)
    agg = (lambda a: a.mean(0)) if quantile is None else (lambda a: np.quantile(a, quantile, axis=0))
    pc_sim, fa_sim = agg(pcs), agg(fas)

    def leading(obs, sim):
        below = np.nonzero(~(obs > sim))[0]
        return int(below[0]) if below.size else p

    table = pd.DataFrame({"number": np.arange(1, p + 1), "pc_observed": pc_obs, "pc_simulated": pc_sim,
                          "fa_observed": fa_obs, "fa_simulated": fa_sim})
    return ParallelResult(table=table, n_factors=leading(fa_obs, fa_sim),
                          n_components=leading(pc_obs, pc_sim), n_iter=int(n_iter), seed=seed)
