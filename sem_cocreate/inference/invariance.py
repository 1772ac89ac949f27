"""Measurement invariance across groups (e.g. solvers vs seekers) and cross-group path comparisons.

- :func:`invariance_models` fits the configural, metric (equal loadings), scalar (+ equal
  intercepts; latent means free in groups 2+) and strict (+ equal residual variances) models, as
  lavaan 0.6.14's ``group.equal`` does; ``free`` is lavaan's ``group.partial`` (partial invariance).
- :func:`invariance_table` compares consecutive nested models as ``lavTestLRT`` does: the models
  sorted by df, the chi-square difference test (Satorra-Bentler 2001 scaled difference under MLR,
  lavTestLRT's default for MLR), ΔCFI and ΔRMSEA.
- :func:`score_tests` is ``lavTestScore(fit)$uni``: the univariate score (Lagrange multiplier)
  test of releasing each cross-group equality constraint, i.e. which ``--free`` to try;
  :func:`score_test_total` is ``lavTestScore(fit)$test``.
- :func:`path_wald_tests` tests, for every regression path ``y ~ x``, whether it is equal across
  groups (``lavTestWald(fit, "b1 == b2")`` in a model with group-specific paths and, by default,
  equal loadings).

Checked against lavaan 0.6.14 in tests/test_invariance.py (reference cases bfi5_invariance and
roles_invariance).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd

from ..exceptions import FitWarning, OptionError

LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}

TABLE_COLUMNS = ["model", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic",
                 "delta.chisq", "delta.df", "delta.pvalue", "delta.cfi", "delta.rmsea", "rmsea.d", "npar",
                 "group.partial"]
ROBUST_COLUMNS = ["chisq.scaled", "chisq.scaling.factor", "pvalue.scaled", "cfi.robust", "tli.robust",
                  "rmsea.robust", "delta.scaling.factor", "delta.cfi.robust", "delta.rmsea.robust"]


# ----------------------------------------------------------------------------- the model chain

def invariance_models(
    model_syntax: str,
    data: pd.DataFrame,
    *,
    group: str,
    estimator: str = "ML",
    missing: str = "listwise",
    levels: tuple[str, ...] = ("configural", "metric", "scalar", "strict"),
    free: tuple[str, ...] = (),
) -> dict:
    """Fit the invariance models of a multi-group CFA/SEM.

    Parameters
    ----------
    model_syntax : str
        lavaan model syntax (the same for every level).
    data : DataFrame
        Responses with the ``group`` column; groups in order of first appearance (lavaan's order).
    group : str
        Column defining the groups.
    estimator, missing : str
        As :func:`sem_cocreate.fit.fit_sem`.
    levels : tuple of str
        Any of ``configural``, ``metric``, ``scalar``, ``strict``, in this order of restriction.
    free : tuple of str
        Parameters released from the equality constraints (lavaan's ``group.partial``), such as
        ``"ks3~1"`` (an intercept) or ``"RI=~ri2"`` (a loading); applied at every level where that
        kind of parameter is constrained.

    Returns
    -------
    dict of str to SEMResult
        One fitted model per level, in the order of ``levels``. ``result.internals["invariance"]``
        holds the ``group_equal`` and the ``group_partial`` that changed the model.

    Raises
    ------
    OptionError
        Unknown level or no group column.
    ModelSyntaxError
        A ``free`` parameter is not in the model.
    """
    from ..engine.fit import fit_sem, group_levels
    from ..engine.spec import build_spec

    if not group:
        raise OptionError("invariance models need a group column; give --group COLUMN")
    levels = tuple(levels)
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        raise OptionError(f"invariance level {unknown[0]!r} is unknown; use {', '.join(LEVELS)}")
    if not levels:
        raise OptionError("no invariance level requested; use e.g. configural, metric, scalar")
    free = tuple(str(f) for f in free)
    groups = group_levels(data, group)
    out: dict = {}
    used: set[str] = set()
    for level in sorted(levels, key=list(LEVELS).index):
        equal = LEVELS[level]
        partial: tuple[str, ...] = ()
        if equal and free:
            # keep only the freed parameters that change this level's model (for the table)
            kw = dict(data_columns=data.columns, groups=groups, group_equal=equal)
            full = build_spec(model_syntax, **kw)
            partial = tuple(f for f in free
                            if build_spec(model_syntax, group_partial=(f,), **kw).npar != full.npar)
            used.update(partial)
        res = fit_sem(model_syntax, data, estimator=estimator, missing=missing, group=group,
                      group_equal=equal, group_partial=free if equal else ())
        res = dataclasses.replace(res, internals=dataclasses.replace(
            res.internals, invariance={"level": level, "group_equal": equal, "group_partial": partial}))
        out[level] = res
    unused = [f for f in free if f not in used]
    if unused:
        warnings.warn(f"free={', '.join(unused)}: not constrained in any of the invariance models "
                      f"({', '.join(out)}); ignored", FitWarning, stacklevel=2)
    return out


def _sb2001(t0, r0, c0, t1, r1, c1):
    """Satorra-Bentler (2001) scaled difference of a restricted (0) and a less restricted (1) model."""
    m = r0 - r1
    if m == 0:
        return t0 - t1, math.nan
    if r1 == 0:          # saturated less-restricted model (lavaan sets its scaling factor to 1)
        c1 = 1.0
    cd = (r0 * c0 - r1 * c1) / m
    if not cd > 0:
        warnings.warn("the scaled chi-square difference has a negative scaling factor; "
                      "delta.chisq is missing (use the unscaled difference with care)", FitWarning, stacklevel=3)
        return math.nan, cd
    return (t0 - t1) / cd, cd


def invariance_table(results: dict) -> pd.DataFrame:
    """Fit of each invariance model and the difference tests between consecutive models.

    Parameters
    ----------
    results : dict of str to SEMResult
        Fitted multi-group models (e.g. from :func:`invariance_models`), all with the same
        estimator, data and groups. As ``lavTestLRT`` does, they are sorted by df (least restricted
        first, ties keep their order) and each is compared with the one before it; they should form
        a nested chain.

    Returns
    -------
    DataFrame
        One row per model: ``model, chisq, df, pvalue, cfi, tli, rmsea, srmr, aic, bic,
        delta.chisq, delta.df, delta.pvalue, delta.cfi, delta.rmsea, rmsea.d, npar,
        group.partial``; under MLR also ``chisq.scaled, chisq.scaling.factor, pvalue.scaled,
        cfi.robust, tli.robust, rmsea.robust, delta.scaling.factor, delta.cfi.robust,
        delta.rmsea.robust``. The first row's ``delta.*`` are missing.

    Notes
    -----
    ``delta.chisq``: under ML the plain difference of the chi-squares (``lavTestLRT``'s
    ``Chisq diff``); under MLR the Satorra-Bentler (2001) scaled difference
    ``(T0 - T1) / cd`` with ``cd = (df0 c0 - df1 c1) / (df0 - df1)`` from the unscaled statistics
    ``T`` and the scaling factors ``c`` (lavTestLRT's default for MLR, ``satorra.bentler.2001``).
    ``delta.cfi`` and ``delta.rmsea`` are the restricted minus the less restricted model's index
    (ΔCFI ≤ -0.01 or ΔRMSEA ≥ 0.015 are Chen's 2007 flags). ``rmsea.d`` is lavTestLRT's
    ``RMSEA`` column, the RMSEA of the difference test
    ``sqrt(max(Δχ²/(N Δdf) - 1/N, 0)) sqrt(G)`` (ML only). Checked against ``lavTestLRT``.
    """
    from ..engine._distributions import chi2

    if not isinstance(results, dict) or not results:
        raise OptionError("invariance_table needs a non-empty dict of fitted models")
    items = list(results.items())
    estimators = {r.estimator for _, r in items}
    if len(estimators) > 1:
        raise OptionError(f"the models use different estimators ({', '.join(sorted(estimators))}); "
                          "fit them all with the same --estimator")
    robust = estimators == {"MLR"}
    items.sort(key=lambda kv: kv[1].fit["df"])          # stable: ties keep the given order
    rows = []
    prev = None
    for name, res in items:
        f = res.fit
        inv = res.internals.invariance or {}
        row = {"model": name}
        for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic", "npar"):
            row[k] = float(f.get(k, np.nan))
        row["group.partial"] = "; ".join(inv.get("group_partial", ()))
        if robust:
            for k in ("chisq.scaled", "chisq.scaling.factor", "pvalue.scaled", "cfi.robust", "tli.robust",
                      "rmsea.robust"):
                row[k] = float(f.get(k, np.nan))
        for k in ("delta.chisq", "delta.df", "delta.pvalue", "delta.cfi", "delta.rmsea", "rmsea.d"):
            row[k] = np.nan
        if robust:
            for k in ("delta.scaling.factor", "delta.cfi.robust", "delta.rmsea.robust"):
                row[k] = np.nan
        if prev is not None:
            pf = prev.fit
            ddf = row["df"] - float(pf["df"])
            raw = row["chisq"] - float(pf["chisq"])
            if raw < -(np.finfo(float).eps ** (1 / 3)):
                warnings.warn(f"model {name!r} fits better than the less restricted model before it "
                              f"(chi-square difference {raw:.4g}): the models are not nested or one did "
                              "not reach its optimum", FitWarning, stacklevel=2)
            if robust:
                dchi, cd = _sb2001(row["chisq"], row["df"], float(f["chisq.scaling.factor"]),
                                   float(pf["chisq"]), float(pf["df"]), float(pf["chisq.scaling.factor"]))
                row["delta.scaling.factor"] = cd
                row["delta.cfi.robust"] = row["cfi.robust"] - float(pf["cfi.robust"])
                row["delta.rmsea.robust"] = row["rmsea.robust"] - float(pf["rmsea.robust"])
            else:
                dchi = raw
                if ddf > 0:
                    N, G = float(f["ntotal"]), len(res.spec.groups)
                    row["rmsea.d"] = math.sqrt(max(dchi / (N * ddf) - 1.0 / N, 0.0)) * math.sqrt(G)
            row["delta.chisq"] = dchi
            row["delta.df"] = ddf
            row["delta.pvalue"] = float(chi2.sf(dchi, ddf)) if ddf > 0 and np.isfinite(dchi) else np.nan
            row["delta.cfi"] = row["cfi"] - float(pf["cfi"])
            row["delta.rmsea"] = row["rmsea"] - float(pf["rmsea"])
        rows.append(row)
        prev = res
    cols = TABLE_COLUMNS[:-2] + (ROBUST_COLUMNS if robust else []) + TABLE_COLUMNS[-2:]
    return pd.DataFrame(rows)[cols]


# ----------------------------------------------------------------------------- score tests

def _complete_ml_parts(result):
    """(stats, model) of a complete-data ML/MLR fit, or an OptionError."""
    if result.missing != "listwise" or result.estimator not in ("ML", "MLR"):
        raise OptionError(f"score and Wald tests of invariance need a complete-data ML or MLR fit "
                          f"(this one: estimator {result.estimator}, missing {result.missing}); "
                          "refit with --missing listwise")
    if not result.converged:
        raise OptionError("the model did not converge; score tests need a converged fit")
    return result.internals["stats"], result.internals["model"]


def _fixed_x_values(stats, ov_names):
    index = {v: i for i, v in enumerate(ov_names)}

    def get(g, lhs, op, rhs):
        if op == "~~":
            return stats.cov[g][index[lhs], index[rhs]]
        if op == "~1":
            return stats.mean[g][index[lhs]]
        return np.nan
    return get


def _equality_constraints(pt):
    """Pairs (reference row, other row) of partable rows forced equal (same free parameter)."""
    pairs = []
    first: dict[int, int] = {}
    for r, f in enumerate(pt["free"].to_numpy()):
        if f <= 0:
            continue
        if f in first:
            pairs.append((first[f], r))
        else:
            first[f] = r
    return pairs


def _score_parts(result):
    """Score pieces in the parameterisation without equality constraints ('unco').

    Returns the unit gradient of the log-likelihood ``s`` (lavaan's ``gradient.logl``), the unit
    expected information ``I``, the map ``K`` (unco x npar) from the model's parameters to the
    unco ones (its columns span the null space of the constraint Jacobian ``R``), ``R``, the unco
    position of the second parameter of each constraint, the constrained row pairs and N.
    """
    from ..engine.estimate import ml_value_grad_info
    from ..engine.model import RAMModel

    stats, _model = _complete_ml_parts(result)
    spec = result.spec
    pt = spec.partable.copy()
    pairs = _equality_constraints(pt)
    if not pairs:
        raise OptionError("the model has no equality constraints to release; fit a metric or scalar model")
    free = pt["free"].to_numpy()
    free_rows = np.flatnonzero(free > 0)
    unco_index = np.zeros(len(pt), dtype=int)
    unco_index[free_rows] = np.arange(1, len(free_rows) + 1)
    theta_unco = result.theta[free[free_rows] - 1]
    K = np.zeros((len(free_rows), len(result.theta)))
    K[np.arange(len(free_rows)), free[free_rows] - 1] = 1.0
    pt["free"] = unco_index
    spec_u = dataclasses.replace(spec, partable=pt, defined=(), constraints=())
    model_u = RAMModel(spec_u, fixed_x_values=_fixed_x_values(stats, spec.ov_names))
    _, grad, info = ml_value_grad_info(model_u, theta_unco, stats)
    score = -0.5 * grad            # d logl / d theta / N  (F = -2 logl / N + const)
    R = np.zeros((len(pairs), len(free_rows)))
    for i, (a, b) in enumerate(pairs):
        R[i, unco_index[a] - 1] = 1.0
        R[i, unco_index[b] - 1] = -1.0
    other = [unco_index[b] - 1 for _a, b in pairs]
    return score, 0.5 * (info + info.T), K, R, other, pairs, stats.ntotal


def _readable(pt, groups, a, b) -> tuple[str, str]:
    ra, rb = pt.iloc[a], pt.iloc[b]
    par = f"{ra['lhs']}{ra['op']}{ra['rhs']}"
    if (rb["lhs"], rb["op"], rb["rhs"]) != (ra["lhs"], ra["op"], ra["rhs"]):
        parb = f"{rb['lhs']}{rb['op']}{rb['rhs']}"
        return par, f"{par} (group {groups[int(ra['group']) - 1]}) = {parb} (group {groups[int(rb['group']) - 1]})"
    return par, f"{par} (group {groups[int(ra['group']) - 1]} = group {groups[int(rb['group']) - 1]})"


def score_tests(result) -> pd.DataFrame:
    """Univariate score tests of releasing each equality constraint (``lavTestScore(fit)$uni``).

    Parameters
    ----------
    result : SEMResult
        A converged complete-data ML (or MLR) multi-group fit with equality constraints, e.g. the
        scalar model of :func:`invariance_models`.

    Returns
    -------
    DataFrame
        One row per equality constraint, in lavaan's order: ``lhs, op, rhs`` (lavaan's plabels,
        e.g. ``.p37. == .p82.``), ``X2, df, p.value``, ``parameter`` (what to pass to ``free`` /
        ``--free``, e.g. ``ks3~1``) and ``constraint`` (readable, e.g.
        ``ks3~1 (group solver = group seeker)``).

    Notes
    -----
    With ``s`` the unit gradient of the log-likelihood and ``I`` the unit expected information,
    both in the parameterisation where the equal parameters are separate, and ``R`` the
    constraint Jacobian: ``X2_r = N s' J_r s`` where ``J_r = Z (Z' I Z)^+ Z'`` and ``Z`` spans
    the null space of ``R`` without row ``r`` (the constraint released, all others kept), as
    lavaan 0.6.14's ``lavTestScore`` (expected information; under MLR lavaan also falls back to
    this ordinary test). Checked against lavTestScore.
    """
    from ..engine._distributions import chi2

    score, info, K, _R, other, pairs, N = _score_parts(result)
    pt = result.spec.partable
    # releasing constraint r (theta_a == theta_b, b in no other constraint) adds the direction e_b
    # to the null space of the kept constraints, which the columns of K span: with Z = [K, e_b],
    # J_r = Z (Z' I Z)^-1 Z'; the quadratic form follows from the Schur complement of K' I K
    A_inv = np.linalg.pinv(K.T @ info @ K, hermitian=True)
    u = K.T @ score
    base = float(u @ A_inv @ u)
    rows = []
    for (a, b), j in zip(pairs, other):
        c = K.T @ info[:, j]
        Ac = A_inv @ c
        schur = info[j, j] - c @ Ac
        q = base
        if schur > 1e-12 * max(info[j, j], 1e-300):     # else not identified when released: ginv drops it
            q += (score[j] - Ac @ u) ** 2 / schur
        x2 = float(N * q)
        par, readable = _readable(pt, result.spec.groups, a, b)
        rows.append({"lhs": pt["plabel"].iloc[a], "op": "==", "rhs": pt["plabel"].iloc[b], "X2": x2, "df": 1,
                     "p.value": float(chi2.sf(x2, 1)), "parameter": par, "constraint": readable})
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "X2", "df", "p.value", "parameter", "constraint"])


def score_test_total(result) -> pd.DataFrame:
    """The total score test of releasing all equality constraints (``lavTestScore(fit)$test``).

    Returns
    -------
    DataFrame
        One row: ``test`` ("score"), ``X2``, ``df`` (number of constraints), ``p.value``.

    Notes
    -----
    ``X2 = N s' I^+ s`` with the Moore-Penrose inverse of the unconstrained information, as
    lavaan 0.6.14 (which uses ``MASS::ginv``).
    """
    from ..engine._distributions import chi2

    score, info, _K, R, _other, _pairs, N = _score_parts(result)
    x2 = float(N * score @ np.linalg.pinv(info, hermitian=True) @ score)
    df = R.shape[0]
    return pd.DataFrame([{"test": "score", "X2": x2, "df": df, "p.value": float(chi2.sf(x2, df))}])


# ----------------------------------------------------------------------------- Wald tests of paths

def _renumber_free(pt) -> None:
    """Number free parameters 1..npar in row order; rows with the same label share a number."""
    free = np.zeros(len(pt), dtype=int)
    seen: dict[str, int] = {}
    k = 0
    for r, (f, lab) in enumerate(zip(pt["free"].to_numpy(), pt["label"])):
        if f <= 0:
            continue
        if lab and lab in seen:
            free[r] = seen[lab]
            continue
        k += 1
        free[r] = k
        if lab:
            seen[lab] = k
    pt["free"] = free
    pt["fixed"] = free == 0


def _release_paths(spec):
    """The same model with every regression path free per group (labels made group-specific)."""
    pt = spec.partable.copy()
    reg = (pt["op"] == "~") & (pt["free"] > 0)
    labels = pt["label"].astype(str).to_numpy().copy()
    groups = pt["group"].to_numpy()
    for lab in set(labels[reg.to_numpy()]) - {""}:
        rows = np.flatnonzero(labels == lab)
        if len(set(groups[rows])) > 1:
            for r in rows:
                labels[r] = "" if lab.startswith(".eq.") else f"{lab}.g{groups[r]}"
    pt["label"] = labels
    _renumber_free(pt)
    return dataclasses.replace(spec, partable=pt, defined=(), constraints=())


def path_wald_tests(
    result_or_syntax,
    data: pd.DataFrame | None = None,
    *,
    group: str | None = None,
    group_equal: tuple[str, ...] = ("loadings",),
    estimator: str = "ML",
    missing: str = "listwise",
) -> pd.DataFrame:
    """Wald test of equality across groups of every regression path ``y ~ x``.

    Parameters
    ----------
    result_or_syntax : SEMResult or str
        A multi-group fit whose paths are free per group (used as is), or lavaan syntax: then the
        model is fitted with ``group_equal`` (default equal loadings, the metric model, so that the
        paths are on a common scale) and every regression path free per group (a path label
        ``a*x`` that would make it equal across groups becomes group-specific; ``:=`` lines are
        dropped in this model).
    data : DataFrame, optional
        Needed with syntax, or to refit a result whose paths are constrained equal.
    group : str, optional
        The group column (with syntax).
    group_equal, estimator, missing
        As :func:`sem_cocreate.fit.fit_sem` (with syntax).

    Returns
    -------
    DataFrame
        One row per path: ``lhs, op, rhs``, ``est_<group>`` for each group (lavaan's order),
        ``diff`` (first minus second group; missing with more than two groups), ``se_diff``,
        ``chisq`` (Wald statistic of all groups equal), ``df`` (groups - 1), ``pvalue``.

    Notes
    -----
    ``chisq = (R b)' (R V R')^-1 (R b)`` with ``V`` the covariance matrix of the estimates
    (expected information under ML, sandwich under MLR) and ``R`` the contrasts of the first group
    with each other group, as ``lavTestWald(fit, "b1 == b2")``. Checked against lavaan 0.6.14.
    """
    from ..engine._distributions import chi2

    from ..engine.fit import SEMResult, fit_sem, group_levels
    from ..engine.spec import build_spec

    if isinstance(result_or_syntax, SEMResult):
        res = result_or_syntax
        if len(res.spec.groups) < 2:
            raise OptionError("path comparisons need a multi-group model; fit it with --group")
        pt = res.spec.partable
        constrained = any(
            len(set(pt.loc[(pt["op"] == "~") & (pt["lhs"] == r.lhs) & (pt["rhs"] == r.rhs), "free"])) == 1
            for r in pt[(pt["op"] == "~") & (pt["free"] > 0)].itertuples(index=False))
        if constrained:
            if data is None or group is None:
                raise OptionError("the model's paths are equal across groups; give data= and group= so "
                                  "they can be refitted free per group")
            res = fit_sem(_release_paths(res.spec), data, estimator=res.estimator, missing=res.missing,
                          group=group)
    else:
        if data is None or not group:
            raise OptionError("path_wald_tests with model syntax needs data= and group=")
        groups = group_levels(data, group)
        spec = build_spec(result_or_syntax, data_columns=data.columns, groups=groups,
                          group_equal=tuple(group_equal))
        res = fit_sem(_release_paths(spec), data, estimator=estimator, missing=missing, group=group)
    if not res.converged:
        raise OptionError("the model with group-specific paths did not converge; no Wald tests")
    spec = res.spec
    pt = spec.partable
    groups = spec.groups
    G = len(groups)
    values = res.estimates.iloc[: len(pt)]["est"].to_numpy()
    V = res.vcov
    rows = []
    paths = list(dict.fromkeys((r.lhs, r.rhs) for r in pt[pt["op"] == "~"].itertuples(index=False)))
    for lhs, rhs in paths:
        sel = pt.index[(pt["op"] == "~") & (pt["lhs"] == lhs) & (pt["rhs"] == rhs)]
        by_group = {int(pt.at[i, "group"]): i for i in sel}
        row = {"lhs": lhs, "op": "~", "rhs": rhs}
        for g, name in enumerate(groups, start=1):
            row[f"est_{name}"] = float(values[by_group[g]]) if g in by_group else np.nan
        row.update({"diff": np.nan, "se_diff": np.nan, "chisq": np.nan, "df": G - 1, "pvalue": np.nan})
        idx = [int(pt.at[by_group[g], "free"]) if g in by_group else 0 for g in range(1, G + 1)]
        if all(k > 0 for k in idx) and len(set(idx)) == G:
            R = np.zeros((G - 1, len(res.theta)))
            for j in range(1, G):
                R[j - 1, idx[0] - 1] = 1.0
                R[j - 1, idx[j] - 1] = -1.0
            d = R @ res.theta
            W = R @ V @ R.T
            stat = float(d @ np.linalg.solve(W, d))
            row["chisq"] = stat
            row["pvalue"] = float(chi2.sf(stat, G - 1))
            if G == 2:
                row["diff"] = float(d[0])
                row["se_diff"] = float(math.sqrt(W[0, 0]))
        rows.append(row)
    cols = ["lhs", "op", "rhs"] + [f"est_{g}" for g in groups] + ["diff", "se_diff", "chisq", "df", "pvalue"]
    return pd.DataFrame(rows, columns=cols)
