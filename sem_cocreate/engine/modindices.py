"""Modification indices (score tests of fixed parameters), as lavaan's ``modindices()``.

For every parameter the model leaves out (a cross-loading ``F =~ x`` of every factor on every
indicator, a covariance ``x ~~ y`` of every pair of indicators' residuals and of every pair of
latent (residual) variables, a regression ``A ~ B`` between variables of the structural equations)
and every parameter the model fixes (growth loadings, intercepts fixed at 0, ``0*`` covariances)
the model is extended with that parameter free, at the fitted solution (its fixed value), and

- ``d = -N/2 * dF/dtheta_k`` (the score of the log-likelihood),
- ``V = N (I_22 - I_21 I_11^-1 I_12)`` with ``I`` the unit expected information of the extended
  model (the free parameters first),
- ``mi = d^2 / V_kk`` (a 1-df chi-square), ``epc = d / V_kk`` (the expected parameter change);
  where ``V_kk < eps^(1/3)`` (a parameter equivalent to the model's own, or one fixed to identify the
  model, such as a marker loading) the row is dropped, as lavaan's ``na.remove``,
- ``sepc.lv``, ``sepc.all``, ``sepc.nox``: the epc standardized as ``standardizedSolution()`` does
  (latent variances; latent and observed variances; as ``sepc.all`` without scaling by fixed-x
  covariates). Residual covariances are divided by the square roots of the residual variances.

Checked against lavaan 0.6.14 ``modindices(fit, sort. = TRUE)``, single- and multi-group
(tests/test_diagnostics_lavaan.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..exceptions import OptionError
from ._frames import frame_rows

MI_COLUMNS = ["lhs", "op", "rhs", "mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"]


def _candidates(spec) -> list[tuple[str, str, str]]:
    """The parameters lavaan's ``modindices()`` scores (``lav_partable_full``), minus those in the model.

    ``F =~ x`` for every factor and observed non-exogenous variable that is in no ``~`` equation;
    ``x ~~ y`` for every pair of indicators; ``F ~~ G`` for every pair of latent variables;
    ``A ~ B`` for every ordered pair of variables in the ``~`` equations, except an indicator
    regressed on a latent variable.
    """
    pt = spec.partable
    lv = list(spec.lv_names)
    ov_x = set(spec.ov_x)
    ov_nox = [v for v in spec.ov_names if v not in ov_x]
    present = set()
    for r in frame_rows(pt):
        present.add((r.lhs, r.op, r.rhs))
        if r.op == "~~":
            present.add((r.rhs, r.op, r.lhs))
    indicators = set(pt.loc[pt["op"] == "=~", "rhs"])
    ov_ind = [v for v in ov_nox if v in indicators]
    reg = pt[pt["op"] == "~"]
    eqs = list(dict.fromkeys(list(reg["lhs"]) + list(reg["rhs"])))
    out = []
    for f in lv:
        for x in ov_nox:
            if x not in eqs and (f, "=~", x) not in present:
                out.append((f, "=~", x))
    for i, a in enumerate(ov_ind):
        for b in ov_ind[i + 1:]:
            if (a, "~~", b) not in present:
                out.append((a, "~~", b))
    for i, a in enumerate(lv):
        for b in lv[i + 1:]:
            if (a, "~~", b) not in present:
                out.append((a, "~~", b))
    for a in eqs:
        for b in eqs:
            if a == b or (a in ov_ind and b in lv) or a in ov_x:
                continue
            if (a, "~", b) not in present:
                out.append((a, "~", b))
    return out


def modindices(result, *, sort: bool = True, minimum_value: float = 0.0) -> pd.DataFrame:
    """Modification indices of a fitted ML model, as ``lavaan::modindices(fit, sort. = TRUE)``.

    Parameters
    ----------
    result : SEMResult
        A model fitted by ML or MLR to complete data (the test uses the expected information).
    sort : bool
        Sort by ``mi``, largest first.
    minimum_value : float
        Drop rows with ``mi`` below this value (lavaan's ``minimum.value``).

    Returns
    -------
    pandas.DataFrame
        ``lhs, op, rhs`` (+ ``group`` with several groups), ``mi, epc, sepc.lv, sepc.all, sepc.nox``.

    Raises
    ------
    OptionError
        For WLSMV, FIML or constrained fits (not implemented) and for a model that did not converge.

    Notes
    -----
    See the module docstring; lavaan: ``modindices()`` (``lav_object_modificationindices``).
    """
    from .model import RAMModel
    from .result import _fixed_x_getter

    if result.estimator not in ("ML", "MLR") or result.missing != "listwise":
        raise OptionError("modification indices need an ML or MLR fit to complete (listwise) data")
    if result.spec.general_constraints:
        raise OptionError("modification indices of a model with general constraints (==, <, >) "
                          "are not implemented")
    if "model" not in result.internals or result.theta is None:
        raise OptionError("this result carries no fitted model to compute modification indices from")
    spec = result.spec
    model = result.internals["model"]
    stats = result.internals["stats"]
    theta = np.asarray(result.theta, float)
    cands = _candidates(spec)
    ngroups = len(spec.groups)
    npar = model.npar
    pt = spec.partable
    rows = []
    nxt = npar
    ext_pt = pt.copy()
    # the model's own fixed (non-exogenous) parameters are scored at their fixed values, as lavaan
    # does (lav_object_extended(all.free = TRUE)); those fixed for identification get V = 0 -> NA
    start_fixed = []
    for idx in ext_pt.index[(ext_pt["free"] == 0) & (ext_pt["exo"] == 0)
                            & ext_pt["op"].isin(["=~", "~", "~~", "~1"])]:
        nxt += 1
        ext_pt.loc[idx, "free"] = nxt
        r = ext_pt.loc[idx]
        rows.append({"lhs": r["lhs"], "op": r["op"], "rhs": r["rhs"], "group": int(r["group"])})
        start_fixed.append(0.0 if np.isnan(r["ustart"]) else float(r["ustart"]))
    new_rows = []
    for g in range(ngroups):
        for lhs, op, rhs in cands:
            nxt += 1
            new_rows.append({"id": 0, "lhs": lhs, "op": op, "rhs": rhs, "user": 0, "group": g + 1,
                             "free": nxt, "ustart": np.nan, "start": np.nan, "label": "", "plabel": "",
                             "exo": 0, "fixed": False, "line": 0})
            rows.append({"lhs": lhs, "op": op, "rhs": rhs, "group": g + 1})
    cols = ["lhs", "op", "rhs"] + (["group"] if ngroups > 1 else []) + MI_COLUMNS[3:]
    if not rows:
        return pd.DataFrame(columns=cols)
    if new_rows:
        ext_pt = pd.concat([ext_pt, pd.DataFrame(new_rows)], ignore_index=True)
    ext_spec = dataclasses.replace(spec, partable=ext_pt)
    ov_index = {v: i for i, v in enumerate(spec.ov_names)}
    ext = RAMModel(ext_spec, fixed_x_values=_fixed_x_getter(stats, ov_index))
    theta_ext = np.concatenate([theta, np.array(start_fixed), np.zeros(len(new_rows))])
    grad, i11, i12, d22 = _score_information(ext, theta_ext, stats, npar)
    N = stats.ntotal
    v_diag = d22 - np.einsum("ij,ij->j", i12, np.linalg.solve(i11, i12))
    V = N * v_diag
    d = -N / 2.0 * grad[npar:]
    # lavaan: a score variance below eps^(1/3) (a parameter equivalent to one in the model) is NA
    ok = v_diag >= np.finfo(float).eps ** (1 / 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(ok, d * d / V, np.nan)
        epc = np.where(ok, d / V, np.nan)
    # standardization at the fitted solution
    implied = model.implied(theta)
    mats = model.matrices(theta)
    out = []
    for k, r in enumerate(rows):
        g = r["group"] - 1
        full = implied[g][3]
        S = mats[g].S
        i = model.index[r["lhs"]]
        j = model.index[r["rhs"]] if r["rhs"] else i
        sd = np.sqrt(np.clip(np.diag(full), 0, None))
        e = epc[k]
        is_lv = lambda v: v in model.lv  # noqa: E731
        if r["op"] == "~1":
            s_lv = e / sd[i] if is_lv(r["lhs"]) else e
            s_all = e / sd[i] if sd[i] > 0 else np.nan
            s_nox = s_all
        elif r["op"] == "=~":
            lv_i, ov_j = i, j
            s_lv = e * sd[lv_i]
            s_all = s_lv / sd[ov_j] if sd[ov_j] > 0 else np.nan
            s_nox = s_all
        elif r["op"] == "~":
            y, x = i, j
            sd_y, sd_x = sd[y], sd[x]
            s_lv = e * (sd_x if is_lv(r["rhs"]) else 1.0) / (sd_y if is_lv(r["lhs"]) else 1.0)
            s_all = e * sd_x / sd_y
            s_nox = e / sd_y if r["rhs"] in spec.ov_x else s_all
        else:  # ~~ between residuals (observed) or latent (residual) variables
            denom = np.sqrt(S[i, i] * S[j, j]) if S[i, i] > 0 and S[j, j] > 0 else np.nan
            s_all = e / denom
            s_lv = s_all if (is_lv(r["lhs"]) and is_lv(r["rhs"])) else e
            s_nox = s_all
        row = {"lhs": r["lhs"], "op": r["op"], "rhs": r["rhs"], "group": r["group"],
               "mi": mi[k], "epc": e, "sepc.lv": s_lv, "sepc.all": s_all, "sepc.nox": s_nox}
        out.append(row)
    table = pd.DataFrame(out)
    table = table[table["mi"].notna()]
    if minimum_value > 0:
        table = table[table["mi"] >= minimum_value]
    if sort:
        table = table.sort_values("mi", ascending=False, kind="stable")
    return table[cols].reset_index(drop=True)


def _score_information(model, theta, stats, npar):
    """(gradient, I11, I12, diag I22) of the extended model's unit expected information, the model's
    own ``npar`` parameters first: the closed-form blocks (``FastML.score_information``: the
    candidates-by-candidates block, (1,200+)^2 cells for the default model, is never formed) where they
    apply, else sliced from the whole matrix."""
    from .estimate import _fast_formulas

    fast = _fast_formulas(model)
    if fast is not None:
        try:
            from .estimators._fastml import Moments

            parts = fast.score_information(theta, Moments(stats.n, stats.cov, stats.mean), npar)
            if parts is not None:
                return parts
        except Exception:  # noqa: BLE001 - fall back to the whole information matrix
            pass
    _, grad, info = _value_grad_info(model, theta, stats)
    return grad, info[:npar, :npar], info[:npar, npar:], np.diag(info)[npar:]


def _value_grad_info(model, theta, stats):
    """F, gradient and expected information of the extended model: the closed-form formulas
    (:class:`~sem_cocreate.engine.estimators._fastml.FastML`) where they represent it, else the general ones."""
    from .estimate import _fast_formulas, ml_value_grad_info

    fast = _fast_formulas(model)
    if fast is not None:
        try:
            from .estimators._fastml import Moments

            return fast.value_grad_info(theta, Moments(stats.n, stats.cov, stats.mean))
        except Exception:  # noqa: BLE001 - fall back to the general formulas
            pass
    return ml_value_grad_info(model, theta, stats)
