"""Step 5b — model diagnostics of the structural model, and the ``compare`` command.

    modindices <- modindices(result)[:50]            (lavaan modindices(fit, sort. = TRUE), top 50 by mi)
    residuals  <- residuals(result, raw | cor | standardized), one row per pair of observed variables
    compare    <- fit every --model file on the same screened data; compare_models()  (lavTestLRT)

Diagnostics are advisory: where they do not apply (WLSMV, FIML, constrained models) the step adds a
note and writes nothing, never refusing the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import SemCocreateError
from .notes import NoteLog
from .options import StudyOptions

TOP_MI = 50
RESIDUAL_COLUMNS = ["lhs", "rhs", "raw", "cor", "standardized"]


def diagnostics(options: StudyOptions, fits, log: NoteLog) -> dict:
    """``modindices`` (50 largest) and ``residuals`` tables of the structural model."""
    from ..engine.modindices import modindices
    from ..engine.residuals import residuals

    result = fits.result
    out: dict = {}
    if not result.converged:
        return out
    try:
        with log.capture("modification indices"):
            out["modindices"] = modindices(result).head(TOP_MI).reset_index(drop=True)
    except SemCocreateError as err:
        log.add("modification indices", f"not computed: {err}")
    try:
        with log.capture("residuals"):
            mats = {t: residuals(result, type=t) for t in ("raw", "cor", "standardized")}
        out["residuals"] = residual_table(mats, result.spec)
    except SemCocreateError as err:
        log.add("residuals", f"not computed: {err}")
    return out


def residual_table(mats: dict, spec) -> pd.DataFrame:
    """One row per pair (lower triangle with the diagonal) of observed variables: raw, cor, standardized."""
    groups = spec.groups
    names = list(spec.ov_names)
    # the pairs column by column: (a, b) = (names[i], names[j]) for j = 0.., i = j..
    jj, ii = np.triu_indices(len(names))
    lhs, rhs = np.asarray(names, dtype=object)[ii], np.asarray(names, dtype=object)[jj]
    parts = []
    for g, label in enumerate(groups):
        part = {"lhs": lhs, "rhs": rhs}
        if len(groups) > 1:
            part["group"] = np.full(len(ii), g + 1)
        for t, m in mats.items():
            cov = (m if len(groups) == 1 else m[label])["cov"]
            part[t] = cov.loc[names, names].to_numpy(dtype=float)[ii, jj]
        parts.append(pd.DataFrame(part))
    cols = RESIDUAL_COLUMNS[:2] + (["group"] if len(groups) > 1 else []) + RESIDUAL_COLUMNS[2:]
    return pd.concat(parts, ignore_index=True).reindex(columns=cols)


def run_compare(options: StudyOptions, model_paths, log: NoteLog | None = None) -> pd.DataFrame:
    """Fit two or more model files on the same (screened) data and compare them (``compare`` command).

    Returns
    -------
    pandas.DataFrame
        The contract's ``model_comparison.csv`` columns ``model, chisq, df, cfi, tli, rmsea, srmr, aic,
        bic, chisq.diff, df.diff, pvalue`` (each model against the one with the next fewer df, as
        ``lavTestLRT``), then ``rmsea.diff`` (ML) or ``chisq.scaled`` (MLR) and ``converged``;
        ``model`` is the file name.
    """
    from ..engine.compare import compare_models
    from ..engine.fit import fit_sem
    from ..exceptions import OptionError
    from . import step_inputs
    from .step_model import read_model_file

    if len(model_paths) < 2:
        raise OptionError("compare needs two or more --model files")
    log = log or NoteLog()
    options = options.resolved()
    inputs = step_inputs.read_inputs(options, log)
    results, names = [], []
    for path in model_paths:
        syntax = read_model_file(path)
        res = fit_sem(syntax, inputs.data, estimator=options.estimator.upper(), missing=options.missing,
                      group=options.group, information=options.information)
        results.append(res)
        names.append(str(path))
    table = compare_models(*results, names=names)
    by_name = dict(zip(names, results))
    for key in ("cfi", "tli", "rmsea", "srmr"):
        table[key] = [float(by_name[m].fit.get(key, np.nan)) for m in table["model"]]
    table["converged"] = [bool(by_name[m].converged) for m in table["model"]]
    first = ["model", "chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic", "chisq.diff", "df.diff",
             "pvalue"]
    return table[first + [c for c in table.columns if c not in first]]
