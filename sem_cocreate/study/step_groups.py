"""Step 6 — groups: measurement invariance and structural paths compared across groups.

    group  <- --group with --invariance, or (default study) the instrument's role field
    invariance   <- configural -> metric -> scalar -> strict on the measurement model (Δχ², ΔCFI, ΔRMSEA)
    scores       <- score tests of the scalar model's constraints (which to free)
    group_paths  <- Wald test of each structural path across groups
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import SemCocreateError
from .notes import NoteLog
from .options import StudyOptions


def group_label_data(data: pd.DataFrame, group: str, instrument) -> pd.DataFrame:
    """Replace role codes by their names (1 → solver) so tables say which group is which."""
    if instrument is None:
        return data
    fld = next((f for f in instrument.fields if f.id == group and f.options), None)
    if fld is None:
        return data
    out = data.copy()
    out[group] = out[group].map(lambda v: fld.name_for(v) if pd.notna(v) and fld.name_for(v) else v)
    return out


def comparison_group(options: StudyOptions, inputs, log: NoteLog) -> str | None:
    """The grouping column of the invariance step, or None."""
    if options.invariance:
        return options.group
    if options.default_study and inputs.instrument is not None:
        role = inputs.instrument.field_of_kind("role")
        data = inputs.data
        if role is not None and role.id in data.columns and data[role.id].dropna().nunique() >= 2:
            log.add("groups", f"measurement invariance and paths compared across the groups of '{role.id}'")
            return role.id          # the default study compares solvers and seekers
    return None


def group_comparisons(options: StudyOptions, inputs, choice, fits, log: NoteLog) -> dict:
    group = comparison_group(options, inputs, log)
    if group is None:
        return {}
    if options.estimator == "wlsmv":
        log.add("groups", "invariance tests are not run with WLSMV (multi-group WLSMV is not supported)")
        return {}
    from ..inference.invariance import invariance_models, invariance_table, path_wald_tests, score_tests

    estimator = options.estimator.upper()
    cfa = fits.measurement_syntax or choice.syntax
    gdata = group_label_data(inputs.data, group, inputs.instrument)
    out: dict[str, pd.DataFrame] = {}
    with log.capture("invariance models"):
        models = invariance_models(cfa, gdata, group=group, estimator=estimator, missing=options.missing,
                                   free=tuple(options.free))
        out["invariance"] = invariance_table(models)
    if "scalar" in models:
        try:
            with log.capture("score tests"):
                out["invariance_scores"] = score_tests(models["scalar"])
        except SemCocreateError as err:
            log.add("score tests", f"not computed: {err}")
    try:
        with log.capture("group path comparison"):
            out["group_paths"] = path_wald_tests(choice.syntax, gdata, group=group, estimator=estimator,
                                                 missing=options.missing)
    except SemCocreateError as err:
        log.add("group path comparison", f"structural paths not compared across groups: {err}")
    return out
