"""Cohen's f² of each structural path: how much R² of the outcome drops when the path is left out."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..engine._frames import frame_rows

COLUMNS = ["lhs", "op", "rhs", "label", "r2_included", "r2_excluded", "f2", "size"]
_REG = re.compile(r"^\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*~(?![~])\s*(.+)$")


def _logical_lines(syntax: str) -> list[str]:
    """Statements of a lavaan model: comments removed, ``;`` split, continuation lines joined."""
    out: list[str] = []
    for raw in syntax.splitlines():
        line = re.split(r"[#!]", raw, maxsplit=1)[0].strip()
        for part in (p.strip() for p in line.split(";")):
            if not part:
                continue
            if out and (out[-1].rstrip().endswith(("+", "*", "=~", "~", "~~")) or part.startswith(("+", "*"))):
                out[-1] = out[-1] + " " + part
            else:
                out.append(part)
    return out


def _split_plus(rhs: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in rhs:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "+" and depth == 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += ch
    terms.append(cur.strip())
    return [t for t in terms if t]


def _is_regression(line: str) -> bool:
    return "=~" not in line and "~~" not in line and ":=" not in line and _REG.match(line) is not None


def drop_path(syntax: str, lhs: str, rhs: str) -> tuple[str, str]:
    """The model ``syntax`` without the regression ``lhs ~ rhs``, and the label that path carried.

    Defined parameters (``:=``) are left out of the reduced model (they may use the label); a
    constraint that names the dropped label is left out too. A regression left without predictors
    is removed (its outcome becomes exogenous, R² = 0).
    """
    lines, label = [], ""
    for line in _logical_lines(syntax):
        if ":=" in line:
            continue
        if _is_regression(line):
            m = _REG.match(line)
            if m.group(1) == lhs:
                keep = []
                for term in _split_plus(m.group(2)):
                    var = term.split("*")[-1].strip()
                    if var == rhs:
                        mod = term.rsplit("*", 1)[0].strip() if "*" in term else ""
                        if mod and re.match(r"^[A-Za-z_.][A-Za-z0-9_.]*$", mod):
                            label = mod
                        continue
                    keep.append(term)
                if keep:
                    lines.append(f"{lhs} ~ " + " + ".join(keep))
                continue
        lines.append(line)
    if label:
        pat = re.compile(rf"(?<![A-Za-z0-9_.]){re.escape(label)}(?![A-Za-z0-9_.])")
        lines = [ln for ln in lines if _is_regression(ln) or "=~" in ln or "~~" in ln or not pat.search(ln)]
    return "\n".join(lines) + "\n", label


def _r2_of(result, var: str) -> float:
    r2 = result.r2
    sub = r2[r2["variable"] == var]
    if "group" in sub.columns and len(sub) > 1:
        sub = sub[sub["group"] == sub["group"].min()]
    return float(sub["r2"].iloc[0]) if len(sub) else 0.0


def _lean_r2(result, reduced: str, lhs: str, data) -> float | None:
    """R² of ``lhs`` in the ``reduced`` model from a bare ML refit (no standard errors, fit indices or
    standardized table: f² needs only R²), started from the focal model's estimates.

    The same estimates as :func:`~sem_cocreate.sem` (the same Fisher scoring to the same tolerance,
    on the same sample moments: the reduced model keeps every observed variable); ``None`` where this
    shortcut does not apply (FIML, WLSMV, several groups, constraints, a variable that leaves the model,
    no convergence), and then the caller refits with :func:`sem`.
    """
    try:
        from ..engine.estimate import fisher_scoring, start_values
        from ..engine.fit import _fixed_x_getter
        from ..engine.model import RAMModel
        from ..engine.result import _r2_table
        from ..engine.spec import build_spec

        stats = result.internals.get("stats")
        if (stats is None or result.missing != "listwise" or str(result.estimator).upper() not in ("ML", "MLR")
                or len(stats.cov) != 1):
            return None
        spec = build_spec(reduced, data_columns=data.columns)
        if list(spec.ov_names) != list(result.spec.ov_names) or spec.general_constraints:
            return None
        model = RAMModel(spec, fixed_x_values=_fixed_x_getter(stats, {v: i for i, v in enumerate(spec.ov_names)}))
        theta = np.asarray(start_values(model, stats), float)
        full = {(r.lhs, r.op, r.rhs): float(r.est) for r in frame_rows(result.estimates)}
        for r in frame_rows(spec.partable):
            v = full.get((r.lhs, r.op, r.rhs))
            if r.free > 0 and v is not None and np.isfinite(v):
                theta[int(r.free) - 1] = v
        opt = fisher_scoring(model, stats, theta)
        if not opt.converged:
            return None
        tab = _r2_table(spec, model, opt.theta, model.implied(opt.theta))
        sub = tab[tab["variable"] == lhs]
        return float(sub["r2"].iloc[0]) if len(sub) else 0.0
    except Exception:  # noqa: BLE001 - any case the shortcut does not cover is refitted in full
        return None


def _batched_r2(result, paths) -> dict:
    """R² of ``lhs`` with each path ``(lhs, rhs)`` fixed at zero, all refits as one batch.

    Fixing a regression at zero gives the same model as dropping it from the syntax when nothing else
    changes: one group, ML/MLR on complete data, no general constraints, the path's parameter not shared
    with another row (an equality label), its outcome keeps other predictors and its predictor still
    predicts something else (so no variable leaves the model or changes from predictor to outcome, which
    would change lavaan's automatic covariances). Those paths are refitted together by
    :meth:`FastML.fit_quasi_newton_batch` on the full sample's moments, each member starting from the
    focal estimates with its path at zero and from the inverse information of the remaining parameters;
    the others (and any member that does not converge) are left out of the result, for the caller's
    one-at-a-time refit.
    """
    try:
        from ..engine.estimators._fastml import BatchMoments, FastML, Moments

        stats = result.internals.get("stats")
        model = result.internals.get("model")
        spec = result.spec
        if (stats is None or model is None or result.missing != "listwise"
                or str(result.estimator).upper() not in ("ML", "MLR") or len(stats.cov) != 1
                or spec.general_constraints or not paths):
            return {}
        pt = spec.partable
        reg = pt[pt["op"] == "~"]
        free = pt["free"].to_numpy()
        members = []
        for lhs, rhs in paths:
            row = reg[(reg["lhs"] == lhs) & (reg["rhs"] == rhs)]
            if len(row) != 1 or int(row["free"].iloc[0]) <= 0:
                continue
            k = int(row["free"].iloc[0])
            if (free == k).sum() != 1 or ((reg["lhs"] == lhs).sum() < 2) or ((reg["rhs"] == rhs).sum() < 2):
                continue
            var = pt[(pt["op"] == "~~") & (pt["lhs"] == lhs) & (pt["rhs"] == lhs)]
            if len(var) != 1:
                continue
            members.append(((lhs, rhs), k - 1, int(var.index[0])))
        if not members:
            return {}
        fast = FastML(model)
        mom = Moments(stats.n, stats.cov, stats.mean)
        theta0 = np.asarray(result.theta, dtype=float)
        _f, _g, info = fast.value_grad_info(theta0, mom)
        H = np.linalg.inv(2.0 * info)
        B, npar = len(members), theta0.size
        starts = np.broadcast_to(theta0, (B, npar)).copy()
        mask = np.ones((B, npar), dtype=bool)
        H0 = np.empty((B, npar, npar))
        for b, (_path, j, _row) in enumerate(members):
            starts[b, j] = 0.0
            mask[b, j] = False
            h = H[:, j]
            H0[b] = H - np.outer(h, h) / h[j]          # the inverse of the block without j, zeros at j
            H0[b, j, :] = 0.0
            H0[b, :, j] = 0.0
        batch = BatchMoments(stats.n, [np.repeat(np.asarray(c)[None], B, axis=0) for c in stats.cov],
                             [np.repeat(np.asarray(m)[None], B, axis=0) for m in stats.mean])
        thetas, ok = fast.fit_quasi_newton_batch(batch, starts, H0, maxit=300, gtol=1e-9, free=mask)
        out = {}
        if ok.any():
            idx = np.flatnonzero(ok)
            row_pos = {r: i for i, r in enumerate(pt.index)}
            _values, std, _improper = fast.solution_batch(thetas[idx], batch.subset(idx))
            for i, b in enumerate(idx):
                path, _j, vrow = members[b]
                out[path] = float(1.0 - std[i, row_pos[vrow]])
        return out
    except Exception:  # noqa: BLE001 - any case the batch does not cover is refitted one at a time
        return {}


def f2_size(f2: float) -> str:
    """Cohen's (1988) label: ``negligible`` below .02, ``small`` from .02, ``medium`` .15, ``large`` .35."""
    if not np.isfinite(f2):
        return ""
    return "large" if f2 >= 0.35 else "medium" if f2 >= 0.15 else "small" if f2 >= 0.02 else "negligible"


def effect_sizes(model: str, data: pd.DataFrame, *, result=None, estimator: str = "ML",
                 missing: str = "listwise", information: str = "expected") -> pd.DataFrame:
    """f² of every structural path (``lhs ~ rhs``) of a lavaan model.

    Parameters
    ----------
    model : str
        lavaan syntax of the fitted (focal) model.
    data : pandas.DataFrame
        The data it was fitted to.
    result : SEMResult, optional
        The fitted focal model (refitted when not given).
    estimator, missing, information : str
        As for :func:`sem_cocreate.sem`; the reduced models are fitted the same way.

    Returns
    -------
    pandas.DataFrame
        One row per regression path: ``lhs``, ``op`` (``~``), ``rhs``, ``label``, ``r2_included``
        (R² of ``lhs`` in the focal model), ``r2_excluded`` (R² of ``lhs`` in the model refitted
        without the path), ``f2`` = (R²incl − R²excl) / (1 − R²incl), ``size`` (Cohen's labels).

    Notes
    -----
    The formula is Cohen's (1988) f², as SmartPLS reports it. R² excluded comes from a refit of
    the whole structural model without that one path (the CB-SEM convention: the path is fixed to
    zero and every other parameter re-estimated, so the other predictors may take over part of its
    variance), not from dropping a column of the latent correlation matrix. Checked against lavaan
    0.6.14: ``lavInspect(sem(reduced), "r2")`` for every path (make_reference_report_tables.R).
    In multi-group models the first group's R² is used.
    """
    from ..engine.api import sem

    opts = dict(estimator=estimator, missing=missing, information=information)
    if result is None:
        result = sem(model, data, **opts)
    est = result.estimates
    reg = est[est["op"] == "~"]
    if "group" in reg.columns:
        reg = reg[reg["group"] == reg["group"].min()]
    rows = []
    batched = (_batched_r2(result, [(str(a), str(b)) for a, b in zip(reg["lhs"], reg["rhs"])])
               if information == "expected" else {})
    for _, r in reg.iterrows():
        lhs, rhs = str(r["lhs"]), str(r["rhs"])
        incl = _r2_of(result, lhs)
        reduced, label = drop_path(model, lhs, rhs)
        still = any(_is_regression(ln) and _REG.match(ln).group(1) == lhs for ln in _logical_lines(reduced))
        if still and (lhs, rhs) in batched:
            excl = batched[(lhs, rhs)]
        elif still:
            import warnings

            from ..exceptions import SemCocreateWarning

            excl = _lean_r2(result, reduced, lhs, data) if information == "expected" else None
            if excl is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SemCocreateWarning)
                    excl = _r2_of(sem(reduced, data, **opts), lhs)
        else:
            excl = 0.0
        f2 = (incl - excl) / (1 - incl) if incl < 1 else np.nan
        rows.append({"lhs": lhs, "op": "~", "rhs": rhs, "label": label or (r.get("label") or ""),
                     "r2_included": incl, "r2_excluded": excl, "f2": f2, "size": f2_size(f2)})
    return pd.DataFrame(rows, columns=COLUMNS)
