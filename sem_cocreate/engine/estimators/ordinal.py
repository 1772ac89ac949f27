"""Ordinal SEM: DWLS on thresholds and polychoric correlations with robust (WLSMV) inference.

Follows lavaan 0.6.14 ``sem(..., ordered = <all observed variables>, estimator = "WLSMV")``:

- sample statistics (thresholds, polychoric correlations, ``Gamma`` = ``NACOV``) from
  :mod:`sem_cocreate._polychoric`;
- ``parameterization = "delta"``: latent responses ``y*`` have mean 0 and variance 1; loadings,
  regressions, latent (co)variances, residual covariances and thresholds (``x | t1`` rows) are
  free; the residual variances of the ``y*`` are not parameters but computed,
  ``theta_ii = 1 - diag(Lambda Psi Lambda')_ii`` (reported as fixed ``x ~~ x`` rows); the scaling
  factors ``x ~*~ x`` are fixed at 1 and the intercepts ``~1`` at 0;
- DWLS: ``F = sum_k w_k (s_k - sigma_k(theta))^2`` over thresholds and correlations with
  ``w = 1 / diag(Gamma)``; ``chisq = (N - 1) F`` (lavaan's ``fmin = (N - 1) / N * F / 2`` and
  ``chisq = 2 N fmin``);
- robust SEs (``se = "robust.sem"``): ``vcov = E^-1 Delta'W Gamma W Delta E^-1 / (N - 1)`` with
  ``E = Delta'W Delta`` (lavaan divides by ``ntotal - ngroups`` for non-ML estimators);
- ``test = "scaled.shifted"``: ``U = W - W Delta E^-1 Delta'W``; ``a = sqrt(df / tr((U Gamma)^2))``,
  ``chisq.scaled = a chisq + df - a tr(U Gamma)``, ``chisq.scaling.factor = 1 / a``;
- fit measures: the baseline is the independence model (thresholds free, correlations 0), so
  ``baseline.chisq = (N - 1) sum_r w_r r^2``, scaled the same way; RMSEA uses ``N - 1`` (lavaan's
  ``lav_utils_get_ntotal`` for non-ML estimators); SRMR on the correlation residuals, diagonal
  included (``srmr_bentler_nomean``); logl / AIC / BIC do not exist for DWLS (NaN).

Not available: ``cfi.robust`` / ``tli.robust`` / ``rmsea.robust`` (lavaan computes them from an
extra catML refit, ``lav_fit_catml_dwls``), multi-group models, observed exogenous covariates
(``conditional.x``), observed variables that predict other variables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...exceptions import DataError, OptionError

FIT_NAN = ("logl", "unrestricted.logl", "aic", "bic", "bic2", "cfi.robust", "tli.robust",
           "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "rmsea.pvalue.robust")


# ----------------------------------------------------------------------------- the delta model

def _delta_spec(spec, ostats_list):
    """The parameter table of the delta parameterization (thresholds added, y* variances computed)."""
    from dataclasses import replace

    pt = spec.partable
    ov = list(spec.ov_names)
    ovset = set(ov)
    if spec.ov_x:
        raise OptionError(f"WLSMV with observed exogenous covariates ({', '.join(spec.ov_x)}) is not "
                          "supported; model them as single-indicator latent variables or use ML/MLR")
    pred = set(pt.loc[pt["op"] == "~", "rhs"]) | set(pt.loc[pt["op"] == "=~", "lhs"])
    bad = sorted(pred & ovset)
    if bad:
        raise OptionError(f"WLSMV: observed variable(s) {', '.join(bad)} predict other variables; "
                          "this is not supported for ordinal data here, use ML/MLR")
    if spec.constraints:
        raise OptionError("WLSMV with explicit constraints (==, <, >) is not supported; use ML/MLR")
    user_means = pt[(pt["op"] == "~1") & (pt["free"] > 0)]
    if len(user_means):
        raise OptionError("WLSMV (delta parameterization) fixes intercepts at 0; remove the ~1 lines")
    cols = list(pt.columns)
    rows = []
    lv = list(spec.lv_names)

    def new_row(lhs, op, rhs, free, ustart, group=1):
        r = {c: None for c in cols}
        r.update(lhs=lhs, op=op, rhs=rhs, user=0, group=group, free=free, ustart=ustart,
                 start=np.nan, label="", plabel="", exo=0, fixed=free == 0, line=0)
        return r

    keep = pt[pt["op"] != "~1"]
    struct = keep[keep["op"].isin(["=~", "~"])].to_dict("records")
    covs = keep[keep["op"] == "~~"].to_dict("records")
    other = keep[~keep["op"].isin(["=~", "~", "~~"])].to_dict("records")
    for r in covs:
        if r["lhs"] == r["rhs"] and r["lhs"] in ovset:
            r["free"] = 0
            r["ustart"] = np.nan
            r["fixed"] = True
    ths = []
    for g, ost in enumerate(ostats_list):
        for i, v in enumerate(ov):
            for k in range(len(ost.thresholds[i])):
                ths.append(new_row(v, "|", f"t{k + 1}", -1, np.nan, group=g + 1))
    scal = [new_row(v, "~*~", v, 0, 1.0) for v in ov]
    means = [new_row(v, "~1", "", 0, 0.0) for v in ov + lv]
    all_rows = struct + ths + covs + scal + means + other
    # renumber: structural parameters 1..q (equal labels keep one number), thresholds after
    mapping: dict[int, int] = {}
    nxt = 1
    for r in all_rows:
        f = int(r["free"])
        if f > 0 and r["op"] != "|":
            if f not in mapping:
                mapping[f] = nxt
                nxt += 1
            r["free"] = mapping[f]
    q = nxt - 1
    for r in all_rows:
        if r["op"] == "|":
            r["free"] = nxt
            nxt += 1
    newpt = pd.DataFrame(all_rows, columns=cols)
    newpt["id"] = np.arange(1, len(newpt) + 1)
    newpt["free"] = newpt["free"].astype(int)
    newpt["user"] = newpt["user"].astype(int)
    newpt["group"] = newpt["group"].astype(int)
    newpt["exo"] = newpt["exo"].astype(int)
    newpt["fixed"] = newpt["fixed"].astype(bool)
    newpt["line"] = newpt["line"].fillna(0).astype(int)
    newpt["label"] = newpt["label"].fillna("").astype(str)
    pl = newpt["plabel"].fillna("").astype(str).tolist()
    used = set(pl)
    for i, v in enumerate(pl):
        if not v:
            k = i + 1
            while f".p{k}." in used:
                k += 1000
            pl[i] = f".p{k}."
            used.add(pl[i])
    newpt["plabel"] = pl
    newpt["ustart"] = newpt["ustart"].astype(float)
    dspec = replace(spec, partable=newpt, meanstructure=True)
    return dspec, q, mapping


def _delta_model_class():
    from ..model import RAMModel

    class DeltaModel(RAMModel):
        """RAM model whose observed (y*) residual variances make the y* variances 1."""

        def matrices(self, theta):
            out = super().matrices(theta)
            p = self.nobs
            eye = np.eye(self.nvar)
            for M in out:
                M.S[np.arange(p), np.arange(p)] = 0.0
                E = np.linalg.solve(eye - M.A, eye)
                explained = np.einsum("ij,jk,ik->i", E[:p], M.S, E[:p])
                M.S[np.arange(p), np.arange(p)] = 1.0 - explained
            return out

    return DeltaModel


# ----------------------------------------------------------------------------- estimation

def _corr_part(model, theta, pairs):
    """Model-implied correlations (in ``pairs`` order) and their Jacobian (npair x npar)."""
    implied = model.implied(theta)
    sigma = implied[0][0]
    ii = np.array([i for i, _ in pairs], dtype=int)
    jj = np.array([j for _, j in pairs], dtype=int)
    rho = sigma[ii, jj]
    dS = model.derivatives(theta, implied)[0][0]
    J = dS[:, ii, jj].T
    return rho, J


def _gauss_newton(model, theta0, r_obs, w, pairs, q, *, maxit=500, tol=1e-10):
    """Minimise sum w (r_obs - rho(theta))^2 over the first q parameters (Gauss-Newton, line search)."""
    theta = theta0.copy()

    def value(th):
        try:
            rho, _ = _corr_part(model, th, pairs)
        except np.linalg.LinAlgError:
            return np.inf
        d = r_obs - rho
        return float((w * d * d).sum())

    f = value(theta)
    converged = False
    it = 0
    for it in range(1, maxit + 1):
        rho, J = _corr_part(model, theta, pairs)
        J = J[:, :q]
        d = r_obs - rho
        g = J.T @ (w * d)
        H = J.T @ (w[:, None] * J)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while True:
            cand = theta.copy()
            cand[:q] += t * step
            fc = value(cand)
            if fc <= f or t < 1e-8:
                break
            t /= 2
        gmax = float(np.abs(g).max()) if q else 0.0
        if fc > f:  # no decrease possible: at the minimum (or stuck)
            converged = gmax < 1e-6
            break
        theta, f_old, f = cand, f, fc
        if (f_old - f) <= tol * max(1.0, f) and float(np.abs(t * step).max()) < 1e-7:
            converged = True
            break
    return theta, f, converged, it


def _ml_start(spec, R, N):
    """Start values: the engine's (ML) starting values of the original model on the polychoric R."""
    from ..estimate import SampleStats, start_values
    from ..model import RAMModel

    stats = SampleStats([N], [R], [np.zeros(len(R))])
    return start_values(RAMModel(spec), stats)


# ----------------------------------------------------------------------------- robust inference

def _scaled_shifted(chisq, df, UG):
    tr1 = float(np.trace(UG))
    tr2 = float((UG * UG.T).sum())
    if df <= 0 or tr2 <= 0:
        return {"stat": chisq, "scaling": np.nan, "shift": np.nan, "tr1": tr1, "tr2": tr2}
    a = math.sqrt(df / tr2)
    shift = df - a * tr1
    return {"stat": chisq * a + shift, "scaling": 1.0 / a, "shift": shift, "tr1": tr1, "tr2": tr2}


def _incremental(x2, df, x2b, dfb) -> dict:
    t1 = max(x2 - df, 0.0)
    t2 = max(x2 - df, x2b - dfb, 0.0)
    out = {"cfi": 1.0 if (t1 == 0 and t2 == 0) else 1.0 - t1 / t2}
    out["rni"] = 1.0 - (x2 - df) / (x2b - dfb) if x2b != dfb else np.nan
    if df > 0 and dfb > 0:
        out["tli"] = (x2b / dfb - x2 / df) / (x2b / dfb - 1.0)
        out["rfi"] = max(0.0, (x2b / dfb - x2 / df) / (x2b / dfb)) if x2b > 0 else np.nan
    else:
        out["tli"] = 1.0
        out["rfi"] = np.nan
    out["nnfi"] = out["tli"]
    out["nfi"] = (x2b - x2) / x2b if x2b > 0 else np.nan
    out["pnfi"] = (df / dfb) * out["nfi"] if dfb > 0 else np.nan
    out["ifi"] = (x2b - x2) / (x2b - df) if x2b != df else np.nan
    return out


def _rmsea_block(x2, df, N, G, suffix="") -> dict:
    from .._distributions import ncx2

    from ..fitindices import rmsea_measures

    m = rmsea_measures(x2, df, N, G)
    out = {"rmsea" + suffix: m["rmsea"], "rmsea.ci.lower" + suffix: m["rmsea.ci.lower"],
           "rmsea.ci.upper" + suffix: m["rmsea.ci.upper"], "rmsea.pvalue" + suffix: m["rmsea.pvalue"]}
    if df > 0:
        out["rmsea.notclose.pvalue" + suffix] = float(ncx2.cdf(x2, df, N * df * 0.08 ** 2 / G))
    else:
        out["rmsea.notclose.pvalue" + suffix] = np.nan
    return out


def _fit_measures_wlsmv(*, chisq, df, npar, N, ss, base, R, Rhat, nth, wls_resid, w) -> dict:
    from .._distributions import chi2

    out: dict[str, float] = {"npar": float(npar), "fmin": chisq / (2 * N), "chisq": chisq,
                             "df": float(df), "pvalue": float(chi2.sf(chisq, df)) if df > 0 else np.nan}
    out.update({"chisq.scaled": ss["stat"], "df.scaled": float(df),
                "pvalue.scaled": float(chi2.sf(ss["stat"], df)) if df > 0 else np.nan,
                "chisq.scaling.factor": ss["scaling"], "chisq.shift.parameters": ss["shift"]})
    bx2, bdf, bss = base
    out.update({"baseline.chisq": bx2, "baseline.df": float(bdf),
                "baseline.pvalue": float(chi2.sf(bx2, bdf)) if bdf > 0 else np.nan,
                "baseline.chisq.scaled": bss["stat"], "baseline.df.scaled": float(bdf),
                "baseline.pvalue.scaled": float(chi2.sf(bss["stat"], bdf)) if bdf > 0 else np.nan,
                "baseline.chisq.scaling.factor": bss["scaling"]})
    from ..fitindices import incremental_indices

    out.update(incremental_indices(chisq, df, bx2, bdf))
    out.update(incremental_indices(ss["stat"], df, bss["stat"], bdf, suffix=".scaled"))
    Nr = N - 1     # lavaan: ntotal - ngroups for non-ML estimators
    out.update(_rmsea_block(chisq, df, Nr, 1))
    out.update(_rmsea_block(ss["stat"], df, Nr, 1, ".scaled"))
    out["rmsea.ci.level"] = 0.90
    out["rmsea.close.h0"] = 0.05
    out["rmsea.notclose.h0"] = 0.08
    p = R.shape[0]
    res = R - Rhat
    il = np.tril_indices(p)
    ss_cor = float((res[il] ** 2).sum())
    srmr_nomean = math.sqrt(ss_cor / (p * (p + 1) / 2))
    out["srmr"] = out["srmr_bentler_nomean"] = out["rmr_nomean"] = srmr_nomean
    out["srmr_bentler"] = out["rmr"] = math.sqrt(ss_cor / (p * (p + 1) / 2 + nth))
    out["crmr_nomean"] = math.sqrt(ss_cor / (p * (p - 1) / 2)) if p > 1 else np.nan
    out["crmr"] = math.sqrt(ss_cor / (p * (p - 1) / 2 + nth)) if p > 1 else np.nan
    out["wrmr"] = math.sqrt(chisq / len(wls_resid)) if len(wls_resid) else np.nan
    out["ntotal"] = float(N)
    for k in FIT_NAN:
        out[k] = np.nan
    return out


# ----------------------------------------------------------------------------- public

def fit_wlsmv(spec, frames, *, group=None):
    """Fit ``spec`` to ordinal data by DWLS with robust SEs and the scaled-shifted test (WLSMV).

    Parameters
    ----------
    spec : ModelSpec
        Built for ML by :func:`sem_cocreate.spec.build_spec`; converted here to lavaan's delta
        parameterization (thresholds added, y* residual variances computed).
    frames : list of DataFrame
        Per group, the model's observed variables, complete rows; every variable is treated as
        ordered (lavaan ``ordered = TRUE``), its categories are its observed values.
    group : str, optional
        Multi-group WLSMV is not supported (raises :class:`OptionError`).

    Returns
    -------
    SEMResult
        ``estimates`` with ``x | t1`` threshold rows, fixed ``x ~~ x`` (computed), ``x ~*~ x``
        and ``~1`` rows as lavaan's ``parameterEstimates``; ``fit`` with lavaan's WLSMV
        ``fitMeasures`` names (``chisq``, ``chisq.scaled``, ``chisq.scaling.factor``,
        ``chisq.shift.parameters``, ``cfi``/``tli``/``rmsea`` and ``.scaled``, ``srmr``...);
        ``internals["ordinal"]`` holds the sample statistics (thresholds, polychoric matrix, Gamma).

    Raises
    ------
    OptionError
        Multi-group data, observed covariates or predictors, explicit constraints.
    DataError
        A variable with a single observed category.

    Notes
    -----
    Checked against lavaan 0.6.14 ``sem(..., ordered = TRUE, estimator = "WLSMV")`` on
    tests/reference/hs_wlsmv and med9_wlsmv (tests/test_ordinal.py).
    """
    from ..._blas import one_blas_thread

    from ._polychoric import ordinal_stats
    from ..estimate import SampleStats
    from ..result import assemble_result

    if len(frames) != 1:
        raise OptionError("WLSMV with --group is not supported yet; fit the groups separately or use ML/MLR")
    ov = list(spec.ov_names)
    df0 = frames[0]
    X = df0[ov].to_numpy(dtype=float)
    N = X.shape[0]
    for i, v in enumerate(ov):
        if len(np.unique(X[:, i])) < 2:
            raise DataError(f"item {v!r} has a single observed category; drop it from the model for WLSMV")
    with one_blas_thread():
        ost = ordinal_stats(X)
        dspec, q, mapping = _delta_spec(spec, [ost])
        model = _delta_model_class()(dspec)
        npar = model.npar
        nth = ost.nth
        T = nth
        pairs = ost.pairs
        Gam = ost.gamma
        w_full = 1.0 / np.diag(Gam)
        r_obs = ost.wls_obs[T:]
        w_r = w_full[T:]
        # start: ML on the polychoric matrix, mapped to the delta parameters; thresholds = sample
        theta_ml = _ml_start(spec, ost.cor, N)
        theta0 = np.zeros(npar)
        for old, new in mapping.items():
            theta0[new - 1] = theta_ml[old - 1]
        theta0[q:] = ost.wls_obs[:T]
        theta, F, converged, iters = _gauss_newton(model, theta0, r_obs, w_r, pairs, q)
        # Delta (all sample statistics x all parameters)
        rho, Jr = _corr_part(model, theta, pairs)
        Delta = np.zeros((T + len(pairs), npar))
        Delta[:T, q:] = np.eye(T)
        Delta[T:, :] = Jr
        WD = w_full[:, None] * Delta
        E = Delta.T @ WD
        notes: list[str] = []
        try:
            Einv = np.linalg.inv(E)
            ev = np.linalg.eigvalsh(E)
            if ev.min() < 1e-10 * max(abs(ev).max(), 1e-300):
                raise np.linalg.LinAlgError
            identified = True
        except np.linalg.LinAlgError:
            identified = False
            Einv = np.full((npar, npar), np.nan)
            notes.append("the information matrix is singular: the model is not identified")
        # lavaan (DWLS/WLS): fmin_g = (n_g - 1) / n_g * F / 2, chisq = 2 N fmin, vcov = NVarCov / (N - G)
        vcov = Einv @ (WD.T @ Gam @ WD) @ Einv / (N - 1)
        chisq = (N - 1) * F
        ndat = T + len(pairs)
        df = ndat - npar
        # scaled-shifted test
        if identified:
            U = np.diag(w_full) - WD @ Einv @ WD.T
            ss = _scaled_shifted(chisq, df, U @ Gam)
        else:
            ss = {"stat": np.nan, "scaling": np.nan, "shift": np.nan}
        # baseline: thresholds free, correlations 0
        bx2 = float((N - 1) * (w_r * r_obs * r_obs).sum())
        bdf = len(pairs)
        UGb = w_r[:, None] * Gam[T:, T:]
        bss = _scaled_shifted(bx2, bdf, UGb)
        Rhat = model.implied(theta)[0][0]
        resid = ost.wls_obs - np.concatenate([theta[q:], rho])
        fm = _fit_measures_wlsmv(chisq=chisq, df=df, npar=npar, N=N, ss=ss, base=(bx2, bdf, bss),
                                 R=ost.cor, Rhat=Rhat, nth=T, wls_resid=resid, w=w_full)
        stats = SampleStats([N], [ost.cor], [np.zeros(len(ov))])
        if not converged:
            notes.append("the DWLS optimizer did not converge; results are not trustworthy")
        if ost.empty_pairs:
            notes.append(f"{len(ost.empty_pairs)} of {len(pairs)} bivariate tables have empty cells "
                         "(lavaan's defaults: nothing added, except 0.5 moved into the empty cell of a 2 x 2 "
                         "table keeping its margins)")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = assemble_result(dspec, model, stats, theta, estimator="WLSMV", missing="listwise",
                                     frames=frames, converged=converged and identified, notes=notes,
                                     fmin=(N - 1) / N * F / 2, vcov=vcov, chisq=chisq, extra_fit=fm,
                                     internals={"ordinal": ost, "delta": Delta, "iterations": iters})
    _patch_threshold_rows(result, dspec, theta, vcov)
    return result


def _patch_threshold_rows(result, dspec, theta, vcov) -> None:
    """Fill the ``|`` and ``~*~`` rows that the RAM engine does not know."""
    from .._distributions import norm

    est = result.estimates
    pt = dspec.partable
    zcrit = norm.ppf(0.975)
    se_all = np.sqrt(np.clip(np.diag(vcov), 0, None))
    ops = pt["op"].to_numpy()
    th = np.flatnonzero(ops == "|")
    if len(th):
        f = pt["free"].to_numpy()[th] - 1
        v, s = theta[f], se_all[f]
        z = np.where(s > 0, v / np.where(s > 0, s, 1.0), np.nan)
        idx = est.index[th]
        for col, val in (("est", v), ("se", s), ("z", z), ("pvalue", 2 * norm.sf(np.abs(z))),
                         ("ci.lower", v - zcrit * s), ("ci.upper", v + zcrit * s), ("std.lv", v),
                         ("std.all", v)):
            est.loc[idx, col] = val
    sc = est.index[np.flatnonzero(ops == "~*~")]
    if len(sc):
        for col, val in (("est", 1.0), ("se", 0.0), ("ci.lower", 1.0), ("ci.upper", 1.0),
                         ("std.lv", 1.0), ("std.all", 1.0)):
            est.loc[sc, col] = val


# ----------------------------------------------------------------------------- advice

def recommend_ordinal(data: pd.DataFrame, items, *, max_categories: int = 5, skew_limit: float = 2.0,
                      kurtosis_limit: float = 7.0, share: float = 0.25) -> str | None:
    """Say whether WLSMV (ordinal) estimation is advisable for these items, or None.

    Parameters
    ----------
    data : DataFrame
    items : sequence of str
        Item columns.
    max_categories : int
        Items with this many or fewer observed categories are treated as ordinal (Rhemtulla,
        Brosseau-Liard & Savalei 2012: with 5 or fewer categories ML on Pearson correlations is
        biased; with 6-7 it is usually fine).
    skew_limit, kurtosis_limit : float
        |skew| > 2 or |excess kurtosis| > 7 (West, Finch & Curran 1995) mark severe non-normality.
    share : float
        Recommend when at least this share of items is severely non-normal.

    Returns
    -------
    str or None
        A one-sentence recommendation naming the items, or None when ML/MLR is adequate.
    """
    items = list(items)
    missing = [c for c in items if c not in data.columns]
    if missing:
        raise DataError(f"data lack item column(s) {', '.join(missing)}; check the item ids")
    few, nonnormal = [], []
    for c in items:
        x = pd.to_numeric(data[c], errors="coerce").dropna().to_numpy(float)
        if len(x) < 3:
            continue
        k = len(np.unique(x))
        if k <= max_categories:
            few.append(c)
        if k > 1:
            # bias-corrected G1 and excess G2, as scipy.stats.skew/kurtosis(bias=False) and SPSS
            col = pd.Series(x)
            sk, ku = col.skew(), col.kurt()
            if abs(sk) > skew_limit or abs(ku) > kurtosis_limit:
                nonnormal.append(c)
    msgs = []
    if few:
        msgs.append(f"{len(few)} of {len(items)} items have {max_categories} or fewer response categories "
                    f"({', '.join(few[:6])}{', ...' if len(few) > 6 else ''})")
    if items and len(nonnormal) >= max(1, math.ceil(share * len(items))):
        msgs.append(f"{len(nonnormal)} items are severely non-normal (|skew| > {skew_limit:g} or "
                    f"|kurtosis| > {kurtosis_limit:g}: {', '.join(nonnormal[:6])}{', ...' if len(nonnormal) > 6 else ''})")
    if not msgs:
        return None
    return ("; ".join(msgs) + ": treat the items as ordinal (--estimator wlsmv: polychoric correlations, "
            "DWLS with robust standard errors and the scaled-shifted test).")
