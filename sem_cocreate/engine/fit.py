"""Fit a CFA/SEM by maximum likelihood and return one frozen :class:`SEMResult`.

``fit_sem(model, data, *, estimator="ML", missing="listwise", group=None)`` follows lavaan 0.6.14's
``sem()`` defaults (see :mod:`sem_cocreate.spec`), estimates with analytic derivatives and Fisher
scoring (:mod:`sem_cocreate.estimate`), takes standard errors from the expected information,
adds ``:=`` parameters with delta-method SEs (:mod:`sem_cocreate.defined`), standardized solutions
(:mod:`sem_cocreate.standardize`) and lavaan's fit measures (:mod:`sem_cocreate.fitmeasures`).
The estimator-specific parts (MLR, FIML, WLSMV) live in their own modules and plug in here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError, FitError, FitWarning, OptionError
from .result import (EST_COLUMNS, SEMResult, _fixed_x_getter, assemble_result,  # noqa: F401 (API)
                     check_identification_counts, group_levels, prepare_data)
from .spec import ModelSpec, build_spec


# ----------------------------------------------------------------------------- fitting

def fit_sem(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    estimator: str = "ML",
    missing: str = "listwise",
    group: str | None = None,
    group_equal: tuple[str, ...] = (),
    group_partial: tuple[str, ...] = (),
    meanstructure: bool | None = None,
    start: np.ndarray | None = None,
    raise_on_failure: bool = False,
    information: str = "expected",
) -> SEMResult:
    """Fit a lavaan-syntax model by maximum likelihood (or MLR / FIML / WLSMV).

    Parameters
    ----------
    model : str or ModelSpec
        lavaan syntax or a built specification.
    data : DataFrame
        One row per respondent; the model's observed variables as numeric columns.
    estimator : {"ML", "MLR", "WLSMV"}
    missing : {"listwise", "fiml"}
    group : str, optional
        Column defining groups for a multi-group model.
    group_equal, group_partial : tuple of str
        lavaan's ``group.equal`` / ``group.partial``.
    raise_on_failure : bool
        Raise :class:`FitError` instead of returning ``converged=False``.
    information : {"expected", "observed"}
        Standard errors from the expected or the observed information (lavaan's
        ``information =``; observed: the Hessian of the ML discrepancy, complete-data ML only).

    Returns
    -------
    SEMResult

    Notes
    -----
    Checked against lavaan 0.6.14 ``sem()`` / ``cfa()``: estimates, SEs and std.all within 0.001,
    chi-square within 0.01% (tests/test_fit_reference.py).
    """
    estimator = estimator.upper()
    missing = (missing or "listwise").lower()
    if estimator not in ("ML", "MLR", "WLSMV"):
        raise OptionError(f"estimator {estimator!r} is not supported; use ML, MLR or WLSMV")
    if missing not in ("listwise", "fiml", "ml"):
        raise OptionError(f"missing={missing!r} is not supported; use listwise or fiml")
    if missing == "ml":
        missing = "fiml"
    information = (information or "expected").lower()
    if information not in ("expected", "observed"):
        raise OptionError(f"information={information!r} is not supported; use expected or observed")
    if information == "observed" and (estimator != "ML" or missing != "listwise"):
        raise OptionError("--information observed works with --estimator ml and listwise data only")
    if missing == "fiml" and estimator == "WLSMV":
        raise OptionError("--missing fiml works with ml and mlr only; WLSMV uses pairwise information")
    if not isinstance(data, pd.DataFrame) or len(data) == 0:
        raise DataError("the data are empty; give a file with at least one response row")
    groups = group_levels(data, group) if group else ("",)
    if isinstance(model, ModelSpec):
        spec = model
    else:
        ms = meanstructure
        if ms is None and missing == "fiml":
            ms = True
        spec = build_spec(model, data_columns=data.columns, groups=groups, meanstructure=ms,
                          group_equal=tuple(group_equal), group_partial=tuple(group_partial))
    frames, n_dropped = prepare_data(spec, data, group=group, missing=missing)
    # Small dense matrices: multi-threaded BLAS is slower here (30x on 2 cores for 100 x 961 GEMMs)
    from .._blas import one_blas_thread

    with one_blas_thread():
        return _dispatch(spec, frames, estimator=estimator, missing=missing, group=group,
                         n_dropped=n_dropped, start=start, raise_on_failure=raise_on_failure,
                         information=information)


def _dispatch(spec, frames, *, estimator, missing, group, n_dropped, start, raise_on_failure,
              information="expected"):
    if spec.general_constraints and (estimator == "WLSMV" or missing == "fiml"):
        raise OptionError("constraints other than 'a == b' (==, <, > with arithmetic) work with "
                          "--estimator ml or mlr and listwise data only")
    if estimator == "WLSMV":
        from .estimators.ordinal import fit_wlsmv

        return fit_wlsmv(spec, frames, group=group)
    if missing == "fiml":
        from .estimators.fiml import fit_fiml

        return fit_fiml(spec, frames, estimator=estimator, group=group)
    return _fit_ml_complete(spec, frames, estimator=estimator, n_dropped=n_dropped, start=start,
                            raise_on_failure=raise_on_failure, information=information)


def _fit_ml_complete(spec, frames, *, estimator, n_dropped, start=None, raise_on_failure=False,
                     information="expected"):
    from .estimate import fisher_scoring, sample_stats, start_values
    from .model import RAMModel

    stats = sample_stats(frames, spec.ov_names)
    ov_index = {v: i for i, v in enumerate(spec.ov_names)}
    for g, S in enumerate(stats.cov):
        if np.any(np.diag(S) <= 0):
            const = [spec.ov_names[i] for i in np.where(np.diag(S) <= 0)[0]]
            raise DataError(f"variable(s) {', '.join(const)} have zero variance"
                            f"{' in group ' + spec.groups[g] if len(frames) > 1 else ''}; drop them from the model")
    for g, S in enumerate(stats.cov):
        if np.linalg.eigvalsh(S).min() <= 1e-10 * max(1.0, float(np.abs(np.diag(S)).max())):
            raise DataError(
                f"the sample covariance matrix of the model's {S.shape[0]} observed variables is not positive "
                f"definite{' in group ' + spec.groups[g] if len(frames) > 1 else ''} (n = {stats.n[g]}): "
                "items are collinear or there are too few respondents; drop duplicated items or collect more data")
    model = RAMModel(spec, fixed_x_values=_fixed_x_getter(stats, ov_index))
    cons = None
    neq = 0
    theta0 = start_values(model, stats) if start is None else np.asarray(start, float)
    if spec.general_constraints:
        from .constraints import ConstraintSet, check_constraints, constrained_ml

        check_constraints(spec)
        cons = ConstraintSet.from_spec(spec)
        neq = cons.eq_rank(theta0)
    check_identification_counts(spec, model.npar - neq)
    notes: list[str] = []
    if cons is not None:
        opt = constrained_ml(model, stats, theta0, cons)
    else:
        opt = fisher_scoring(model, stats, theta0)
    if not opt.converged and start is None and len(frames) == 1 and cons is None:
        # second opinion: semopy's optimizer from its own starting values, then our Fisher scoring
        from ._semopy import semopy_start

        theta_s = semopy_start(spec, model, frames[0], notes=notes)
        if theta_s is not None:
            opt2 = fisher_scoring(model, stats, theta_s)
            if opt2.converged:
                opt = opt2
                notes.append("converged from semopy's solution after our starting values failed")
    if n_dropped:
        notes.append(f"{n_dropped} response(s) with missing answers were dropped (listwise deletion)")
    converged = opt.converged
    if not converged:
        notes.append(f"the optimizer did not converge ({opt.message}); results are not trustworthy")
    vcov = extra_fit = None
    if (cons is not None and estimator == "ML") or information == "observed":
        vcov = _vcov_ml(model, stats, opt.theta, cons, information)
        if vcov is None:
            notes.append("the information matrix is singular: the model is not identified")
            vcov = np.full((model.npar, model.npar), np.nan)
    if estimator == "MLR" and converged:
        # Huber-White sandwich SEs, Yuan-Bentler scaled test and robust fit indices
        from .estimators.robust import robust_complete

        vcov, extra_fit = robust_complete(spec, model, stats, frames, opt.theta, constraints=cons)
    result = assemble_result(spec, model, stats, opt.theta, estimator=estimator, missing="listwise",
                             frames=frames, converged=converged, notes=notes, fmin=opt.fmin,
                             vcov=vcov, extra_fit=extra_fit, neq=neq,
                             internals={"information": information, "constraints": cons})
    if raise_on_failure and not result.converged:
        raise FitError("the model did not converge; " + "; ".join(result.notes))
    return result



def observed_information(model, stats, theta: np.ndarray) -> np.ndarray:
    """Unit observed information: half the Hessian of the ML discrepancy F at ``theta``.

    Central differences of the analytic gradient (step 1e-5, symmetrised), as lavaan's
    ``information = "observed"`` (``lav_model_hessian``) does; ``vcov = I_obs^-1 / N``.
    """
    from .estimate import ml_value_grad_info

    k = theta.size
    H = np.zeros((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        tp, tm = theta.copy(), theta.copy()
        tp[j] += h
        tm[j] -= h
        gp = ml_value_grad_info(model, tp, stats, want_info=False)[1]
        gm = ml_value_grad_info(model, tm, stats, want_info=False)[1]
        H[:, j] = (gp - gm) / (2 * h)
    return 0.25 * (H + H.T)


def _vcov_ml(model, stats, theta, cons, information):
    """ML parameter covariance from the expected or observed information, with constraints."""
    from .estimate import ml_value_grad_info
    from .result import information_checks

    if information == "observed":
        info = observed_information(model, stats, theta)
    else:
        info = ml_value_grad_info(model, theta, stats)[2]
    N = stats.ntotal
    if cons is not None:
        from .constraints import constrained_vcov

        jac = cons.active_jac(theta)
        if jac.shape[0]:
            return constrained_vcov(info, jac, N)
    vcov_unit, identified, _msg = information_checks(info, model.npar)
    return vcov_unit / N if identified else None
