"""The fitted-model type and its assembly from a solution, shared by every estimator.

:class:`SEMResult` is what every estimator returns; :func:`assemble_result` turns a solution
``theta`` into lavaan's tables (``parameterEstimates``, ``fitMeasures``, R²). Data preparation
(:func:`prepare_data`, :func:`group_levels`) and identification counts live here too, so that the
estimators (ML in :mod:`.fit`, MLR, FIML, WLSMV in :mod:`.estimators`) import downwards only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import DataError, FitError, FitWarning, OptionError
from .spec import ModelSpec, build_spec
from ._frames import frame_rows

_EXPR_TOKENS = __import__("re").compile(r"\.?[A-Za-z_][A-Za-z0-9_.]*")

EST_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
               "std.lv", "std.all"]


@dataclass(frozen=True)
class FitInternals:
    """What later stages need to reuse a fit (bootstrap, invariance, score tests), typed and frozen.

    ``model`` is the :class:`~sem_cocreate.engine.model.RAMModel`, ``stats`` the sample statistics,
    ``frames`` the analysed data per group; ``extra`` holds estimator-specific pieces (FIML patterns and
    H1 moments, WLSMV thresholds/polychorics/Gamma, iteration counts); ``invariance`` the level and
    constraints of a model of the invariance chain. Read-only mapping access (``internals["model"]``)
    is kept for existing callers.
    """

    model: Any = None
    stats: Any = None
    frames: tuple = ()
    identified: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)
    invariance: Mapping[str, Any] | None = None

    _FIELDS = ("model", "stats", "frames", "identified", "invariance")

    def __getitem__(self, key: str):
        if key in self._FIELDS:
            value = getattr(self, key)
            if key == "invariance" and value is None:
                raise KeyError(key)
            return value
        return self.extra[key]

    def get(self, key: str, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


@dataclass(frozen=True)
class SEMResult:
    """A fitted model: lavaan-shaped tables plus what later stages need to reuse it.

    Attributes
    ----------
    spec : ModelSpec
    estimates : DataFrame
        ``parameterEstimates(fit, standardized=TRUE)`` columns (+ ``group`` with several groups).
    fit : Series
        Indexed by lavaan ``fitMeasures()`` names.
    n_obs : int
    converged : bool
    notes : tuple of str
    r2 : DataFrame
        ``group, variable, r2`` for every endogenous variable.
    """

    spec: ModelSpec
    estimates: pd.DataFrame
    fit: pd.Series
    n_obs: int
    converged: bool
    notes: tuple[str, ...] = ()
    r2: pd.DataFrame | None = None
    estimator: str = "ML"
    missing: str = "listwise"
    theta: np.ndarray | None = None
    vcov: np.ndarray | None = None
    internals: FitInternals = field(default_factory=FitInternals, repr=False, compare=False)

    def summary(self) -> str:
        """A lavaan-like text summary: ``summary(fit, fit.measures = TRUE, standardized = TRUE)``."""
        from .summary import summary_text

        return summary_text(self)


# ----------------------------------------------------------------------------- data preparation

def _group_frames(spec_groups, data: pd.DataFrame, group: str | None):
    if group is None:
        return [data]
    return [data[data[group].astype(str) == g] for g in spec_groups]


def group_levels(data: pd.DataFrame, group: str) -> tuple[str, ...]:
    """Group labels in lavaan's order (order of first appearance in the data)."""
    if group not in data.columns:
        raise DataError(f"group column {group!r} is not in the data; columns include "
                        f"{', '.join(map(str, list(data.columns)[:8]))}")
    col = data[group].dropna().astype(str)
    levels = tuple(pd.unique(col))
    if len(levels) < 2:
        raise DataError(f"group column {group!r} has fewer than two groups; drop --group or check the column")
    return levels


def prepare_data(spec: ModelSpec, data: pd.DataFrame, *, group: str | None, missing: str):
    """Numeric, listwise-complete (unless FIML) data of the model's observed variables, per group."""
    cols = list(spec.ov_names)
    missing_cols = [c for c in cols if c not in data.columns]
    if missing_cols:
        raise DataError(f"the data lack the model variable(s) {', '.join(missing_cols)}; "
                        "check the model syntax or the column names")
    sub, copied = data[cols], False
    for c in cols:
        if not pd.api.types.is_numeric_dtype(sub[c].dtype):
            conv = pd.to_numeric(sub[c], errors="coerce")
            bad = sub[c][conv.isna() & sub[c].notna()]
            if len(bad):
                raise DataError(f"column {c!r} has non-numeric value {bad.iloc[0]!r} "
                                f"(data row {bad.index[0] + 1 if isinstance(bad.index[0], (int, np.integer)) else bad.index[0]}); "
                                "recode it or mark it missing")
            if not copied:
                sub, copied = sub.copy(), True
            sub[c] = conv
    # one float block (not a conversion per column), the group column beside it
    use = pd.DataFrame(sub.to_numpy(dtype=float), index=data.index, columns=cols)
    keep = np.ones(len(use), dtype=bool)
    if group:
        if group not in cols:
            use[group] = data[group].to_numpy()
        keep &= data[group].notna().to_numpy()
    n_before = int(keep.sum())
    if missing == "listwise":
        keep &= ~np.isnan(use[cols].to_numpy()).any(axis=1) if len(cols) else keep
    if not keep.all():
        use = use[keep]
    if len(use) == 0:
        raise DataError("no complete responses left for the model variables; check the data or use --missing fiml")
    frames = _group_frames(spec.groups, use, group)
    for g, f in zip(spec.groups, frames):
        if len(f) < 2:
            raise DataError(f"group {g!r} has {len(f)} complete response(s); a model needs many more")
    return frames, n_before - len(use)


def _fixed_x_getter(stats, ov_index):
    """Fixed-x values (covariate variances, covariances, means) from the sample moments."""
    def get(g, lhs, op, rhs):
        if op == "~~":
            return stats.cov[g][ov_index[lhs], ov_index[rhs]]
        if op == "~1":
            return stats.mean[g][ov_index[lhs]]
        return np.nan
    return get


def data_moments(spec) -> tuple[int, int]:
    """(number of sample moments, number of fixed exogenous moments) of a model, as lavaan counts them."""
    p = len(spec.ov_names)
    ndat = len(spec.groups) * (p * (p + 1) // 2 + (p if spec.meanstructure else 0))
    nx = len(spec.ov_x)
    nfixedx = len(spec.groups) * (nx * (nx + 1) // 2 + (nx if spec.meanstructure else 0)) if nx else 0
    return ndat, nfixedx


MAX_FREE_PARAMETERS = 3000   # a 3000 x 3000 information matrix and its derivatives: ~0.2 GB


def check_identification_counts(spec, npar: int) -> None:
    """Raise :class:`FitError` when the model has more free parameters than sample moments, and
    :class:`OptionError` when it is too large to fit here (the information matrix is npar x npar)."""
    if npar > MAX_FREE_PARAMETERS:
        gb = 8 * npar * npar * 3 / 1e9
        raise OptionError(
            f"the model is too large: {npar} free parameters ({len(spec.lv_names)} latent variables) — more "
            f"than the {MAX_FREE_PARAMETERS} sem_cocreate fits, whose information matrices would need about "
            f"{gb:.0f} GB; fit fewer factors or split the model")
    ndat, nfixedx = data_moments(spec)
    if npar > ndat - nfixedx:
        raise FitError(
            f"the model is not identified: {npar} free parameters but only {ndat - nfixedx} sample moments "
            f"(df = {ndat - nfixedx - npar}); add indicators, fix parameters or remove paths")


def information_checks(info: np.ndarray, npar: int):
    """Return (vcov_unit, identified, message) from the unit information matrix."""
    if npar == 0:
        return np.zeros((0, 0)), True, ""
    from .linalg import is_singular, smallest_scaled_eigenvalue

    if is_singular(info):
        return None, False, ("the information matrix is singular (smallest eigenvalue "
                             f"{smallest_scaled_eigenvalue(info):.2e} after scaling to unit diagonal): "
                             "the model is not identified")
    return np.linalg.inv(info), True, ""


def assemble_result(spec, model, stats, theta, *, estimator, missing, frames, converged, notes,
                    fmin, vcov=None, test=None, extra_fit=None, chisq=None, internals=None,
                    neq: int = 0) -> SEMResult:
    """Build the estimates table, fit measures and R² for a solution ``theta``.

    Estimators plug in through ``vcov`` (the parameter covariance matrix; default: inverse expected
    information / N), ``chisq`` (default ``N * fmin``) and ``extra_fit`` (more fit measures).
    ``neq`` is the rank of the general equality constraints: lavaan adds it to ``df`` and takes it
    off ``npar`` (:mod:`.constraints`).
    """
    from ._distributions import norm

    from .defined import DefinedParameters
    from .estimate import expected_information
    from .fitindices import fit_measures
    from .standardize import standardize

    notes = list(notes)
    N = stats.ntotal
    npar = model.npar
    implied = model.implied(theta)
    identified = True
    if vcov is None:
        info = expected_information(model, theta, stats)
        vcov_unit, identified, msg = information_checks(info, npar)
        if not identified:
            notes.append(msg)
            vcov = np.full((npar, npar), np.nan)
        else:
            vcov = vcov_unit / N
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None)) if npar else np.zeros(0)
    pt = spec.partable
    values = model.param_values(theta)
    se = np.zeros(len(pt))
    for r, f in enumerate(pt["free"].to_numpy()):
        se[r] = se_free[f - 1] if f > 0 else 0.0
    # labels → values for defined parameters
    label_rows: dict[str, int] = {}
    for r, row in enumerate(frame_rows(pt)):
        if row.label and row.label not in label_rows:
            label_rows[row.label] = r
        label_rows[row.plabel] = r

    def labels_of(vals_by_row):
        return {lab: vals_by_row[r] for lab, r in label_rows.items()}

    # labels → (free index or None, fixed value): the defined parameters see only these
    free_arr = pt["free"].to_numpy()
    label_src = {lab: (int(free_arr[r]) - 1 if free_arr[r] > 0 else None, values[r])
                 for lab, r in label_rows.items()}

    def label_env(th):
        return {lab: (th[k] if k is not None else v) for lab, (k, v) in label_src.items()}

    used = set()
    for _name, expr in spec.defined:
        for tok in _EXPR_TOKENS.findall(expr):
            if tok in label_src and label_src[tok][0] is not None:
                used.add(label_src[tok][0])
    dp = DefinedParameters(spec.defined, label_env)
    std_lv = standardize(model, theta, implied, values, which="std.lv")
    std_all = standardize(model, theta, implied, values, which="std.all")
    rows = []
    z = np.where(se > 0, values / np.where(se > 0, se, 1), np.nan)
    zcrit = norm.ppf(0.975)
    # group.equal labels (.eq.*) are shown as lavaan shows them: the plabel of the first row
    eq_plabel = _eq_plabels(pt)
    for r, row in enumerate(frame_rows(pt)):
        fixed = row.free == 0
        rows.append({
            "lhs": row.lhs, "op": row.op, "rhs": row.rhs,
            "label": _display_label(row.label, eq_plabel),
            "group": int(row.group),
            "est": values[r],
            "se": 0.0 if fixed else se[r],
            "z": np.nan if fixed else z[r],
            "pvalue": np.nan if fixed else 2 * norm.sf(abs(z[r])),
            "ci.lower": values[r] if fixed else values[r] - zcrit * se[r],
            "ci.upper": values[r] if fixed else values[r] + zcrit * se[r],
            "std.lv": std_lv[r], "std.all": std_all[r],
        })
    if len(dp):
        dvals = dp.values(theta)
        if identified:
            dcov = dp.delta_cov(theta, vcov, columns=sorted(used))
            dse = np.sqrt(np.clip(np.diag(dcov), 0, None))
        else:
            dse = np.full(len(dp), np.nan)
        dstd_lv = np.real(dp.values_from_env(labels_of(std_lv)))
        dstd_all = np.real(dp.values_from_env(labels_of(std_all)))
        for i, name in enumerate(dp.names):
            zz = dvals[i] / dse[i] if dse[i] > 0 else np.nan
            rows.append({
                "lhs": name, "op": ":=", "rhs": dp.expressions[i], "label": name, "group": 0,
                "est": dvals[i], "se": dse[i], "z": zz,
                "pvalue": 2 * norm.sf(abs(zz)) if np.isfinite(zz) else np.nan,
                "ci.lower": dvals[i] - zcrit * dse[i], "ci.upper": dvals[i] + zcrit * dse[i],
                "std.lv": dstd_lv[i], "std.all": dstd_all[i],
            })
    est = pd.DataFrame(rows)
    cols = EST_COLUMNS.copy()
    if len(spec.groups) > 1:
        cols.insert(4, "group")
    est = est[cols]
    # fit measures
    ndat, nfixedx = data_moments(spec)
    df = ndat - npar - nfixedx + neq
    if chisq is None:
        chisq = N * fmin
    fm = fit_measures(chisq=chisq, df=df, npar=npar - neq, stats=stats, implied=implied,
                      meanstructure=spec.meanstructure, ngroups=len(spec.groups),
                      x_idx=[spec.ov_names.index(v) for v in spec.ov_x])
    if extra_fit:
        fm.update(extra_fit)
    # checks: Heywood cases, PD
    notes.extend(_solution_notes(spec, est, implied))
    if not identified:
        converged_flag = False
    else:
        converged_flag = converged
    for n in notes:
        if "Heywood" in n or "not identified" in n or "did not converge" in n or "not positive" in n:
            warnings.warn(n, FitWarning, stacklevel=3)
    r2 = _r2_table(spec, model, theta, implied)
    return SEMResult(
        spec=spec, estimates=est, fit=pd.Series(fm, dtype=float), n_obs=N, converged=converged_flag,
        notes=tuple(notes), r2=r2, estimator=estimator, missing=missing, theta=theta, vcov=vcov,
        internals=FitInternals(model=model, stats=stats, frames=tuple(frames), identified=identified,
                               extra=dict(internals or {})),
    )


def _eq_plabels(pt) -> dict[str, str]:
    """lavaan's label for group.equal rows: the plabel of the first row with that label."""
    out: dict[str, str] = {}
    for lab, plab in zip(pt["label"], pt["plabel"]):
        if str(lab).startswith(".eq.") and lab not in out:
            out[lab] = plab
    return out


def _display_label(label, eq_plabel: dict[str, str]) -> str:
    label = "" if label is None else str(label)
    return eq_plabel.get(label, "") if label.startswith(".eq.") else label


def _solution_notes(spec, est, implied) -> list[str]:
    notes = []
    lv = set(spec.lv_names)
    var_rows = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])]
    neg = var_rows[var_rows["est"] < 0]
    for r in frame_rows(neg):
        kind = "latent variance" if r.lhs in lv else "residual variance"
        notes.append(f"Heywood case: negative {kind} of {r.lhs} ({r.est:.3f})")
    load = est[(est["op"] == "=~") & (est["std.all"].abs() > 1)]
    for r in frame_rows(load):
        notes.append(f"Heywood case: standardized loading {r.lhs} =~ {r.rhs} is {list(r)[-1]:.3f} (> 1)")
    for g, (sigma, *_rest, full, _mf) in enumerate(implied):
        nlv = len(spec.lv_names)
        if nlv:
            lvcov = full[len(spec.ov_names):, len(spec.ov_names):]
            ev = np.linalg.eigvalsh(lvcov)
            if ev.min() < -1e-10:
                notes.append("the model-implied latent covariance matrix is not positive definite"
                             + (f" in group {spec.groups[g]}" if len(spec.groups) > 1 else ""))
    return notes


def _r2_table(spec, model, theta, implied) -> pd.DataFrame:
    pt = spec.partable
    rows = []
    endo = set(pt.loc[pt["op"] == "~", "lhs"]) | set(pt.loc[(pt["op"] == "=~"), "rhs"])
    mats = model.matrices(theta)
    for g, (sigma, mu, E, full, mean_full) in enumerate(implied):
        for v in model.vars:
            if v not in endo or v in spec.ov_x:
                continue
            i = model.index[v]
            total = full[i, i]
            resid = mats[g].S[i, i]
            rows.append({"group": g + 1, "variable": v, "r2": 1 - resid / total if total else np.nan})
    return pd.DataFrame(rows, columns=["group", "variable", "r2"])
