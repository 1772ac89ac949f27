"""Step 5b — competing models, mediation types and moderation by crowdsourcing mode (default study).

    models     <- competing_models(instrument)            (focal, partial, reversed, second_order)
    fits       <- fit_sem(syntax, analysis sample) each   (same data, estimator and controls as the focal fit)
    comparison <- fit indices + compare_models(focal, m)  (lavTestLRT: Δχ², Δdf, p against the focal model;
                                                           Δdf = 0: an equivalent model, no test)
    types      <- indirect_table(partial)                 (Zhao, Lynch & Chen 2010 types need direct paths)
    moderation <- path_wald_tests(focal, group=<field>)   (every instrument moderator except role, which the
                                                           groups step already compares)

Runs only for a model built from the instrument's hypotheses with two mediators (the default study and
any instrument with ``mediators``); a user's own ``--model`` is fitted as written and compared with
nothing (use the ``compare`` command).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import SemCocreateError
from .notes import NoteLog
from .options import StudyOptions

COMPARISON_COLUMNS = ["model", "description", "npar", "chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic",
                      "bic", "chisq.diff", "df.diff", "pvalue", "converged"]
DESCRIPTIONS = {
    "focal": "hypothesised model: full mediation through RI and KS",
    "partial": "partial mediation: + direct paths from every antecedent to every outcome",
    "reversed": "reversed order of the co-creation activities (KS -> RI)",
    "second_order": "co-creation CC as a second-order factor of RI and KS",
}


def comparison_table(fits: dict) -> pd.DataFrame:
    """Fit indices of every model and its likelihood-ratio test against the focal model.

    Parameters
    ----------
    fits : dict
        Model name -> SEMResult; must hold ``"focal"``.

    Returns
    -------
    pandas.DataFrame
        One row per model (focal first): ``model, description, npar, chisq, df, cfi, tli, rmsea, srmr,
        aic, bic, chisq.diff, df.diff, pvalue, converged``. The difference test is
        :func:`sem_cocreate.engine.compare.compare_models` (``lavTestLRT(focal, model)``); a model with
        the focal model's df is statistically equivalent or not nested: Δχ² is the plain difference and
        ``pvalue`` is empty.
    """
    from ..engine.compare import compare_models

    focal = fits["focal"]
    rows = []
    for name, r in fits.items():
        fm = r.fit
        row = {"model": name, "description": DESCRIPTIONS.get(name, name), "npar": float(fm["npar"]),
               **{k: float(fm[k]) for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic")},
               "chisq.diff": np.nan, "df.diff": np.nan, "pvalue": np.nan, "converged": bool(r.converged)}
        if name != "focal":
            if float(fm["df"]) == float(focal.fit["df"]):
                diff = float(focal.fit["chisq"]) - float(fm["chisq"])
                row["chisq.diff"] = 0.0 if abs(diff) < 1e-6 * max(1.0, float(fm["chisq"])) else diff
                row["df.diff"] = 0.0
            else:
                lrt = compare_models(focal, r, names=["focal", name])
                last = lrt.iloc[-1]
                row["chisq.diff"], row["df.diff"], row["pvalue"] = (float(last["chisq.diff"]),
                                                                    float(last["df.diff"]), float(last["pvalue"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def mediation_types(partial_result, effects: pd.DataFrame | None = None) -> pd.DataFrame:
    """Zhao, Lynch & Chen (2010) mediation types judged in the partial-mediation model.

    Returns
    -------
    pandas.DataFrame
        One row per antecedent-outcome pair with a total indirect effect (or a single specific one):
        ``from, to, indirect, indirect.ci.lower, indirect.ci.upper, direct, direct.pvalue,
        mediation_type``.
    """
    from ..inference.mediation import indirect_table

    tab = indirect_table(partial_result, effects=effects)
    rows = []
    for (frm, to), g in tab.groupby(["from", "to"], sort=False):
        d = g[g["kind"] == "direct"]
        ind = g[g["kind"] == "total_indirect"]
        if ind.empty:
            ind = g[g["kind"] == "specific"]
        if d.empty or ind.empty or len(ind) > 1:
            continue
        i, dd = ind.iloc[0], d.iloc[0]
        rows.append({"from": frm, "to": to, "indirect": i["est"], "indirect.ci.lower": i["ci.lower"],
                     "indirect.ci.upper": i["ci.upper"], "direct": dd["est"], "direct.pvalue": dd["pvalue"],
                     "mediation_type": i["mediation_type"]})
    return pd.DataFrame(rows, columns=["from", "to", "indirect", "indirect.ci.lower", "indirect.ci.upper",
                                       "direct", "direct.pvalue", "mediation_type"])


def compare_competing(options: StudyOptions, inputs, choice, fits, log: NoteLog) -> dict:
    """The results tables of this step by results-file key (empty for a user's own model)."""
    instrument = inputs.instrument
    if not choice.built or instrument is None or len(instrument.mediators) < 2 or options.group:
        return {}
    from ..engine.fit import fit_sem
    from ..survey.modelbuild import competing_models, indirect_paths

    estimator = options.estimator.upper()
    models = competing_models(instrument)
    results = {"focal": fits.result}
    for name, syntax in models.items():
        if name == "focal":
            continue
        try:
            with log.capture(f"competing model ({name})"):
                results[name] = fit_sem(syntax, inputs.data, estimator=estimator, missing=options.missing,
                                        information=options.information)
        except SemCocreateError as err:
            log.add(f"competing model ({name})", f"not fitted: {err}")
    out: dict = {}
    with log.capture("model comparison"):
        out["model_comparison"] = comparison_table(results)
    if "partial" in results:
        effects = indirect_paths([(a, b) for a, b in _edges(results["partial"])],
                                 mediators=list(instrument.mediators))
        with log.capture("mediation types (partial-mediation model)"):
            out["mediation_types"] = mediation_types(results["partial"], effects)
    moderation = []
    for mod in instrument.moderators:
        if mod.field == (instrument.field_of_kind("role").id if instrument.field_of_kind("role") else "role"):
            continue                       # the groups step compares the roles
        if mod.field not in inputs.data.columns or inputs.data[mod.field].dropna().nunique() < 2:
            continue
        from ..inference.invariance import path_wald_tests
        from .step_groups import group_label_data

        gdata = group_label_data(inputs.data, mod.field, instrument)
        try:
            with log.capture(f"group path comparison ({mod.field})"):
                tab = path_wald_tests(choice.syntax, gdata, group=mod.field, estimator=estimator,
                                      missing=options.missing)
            tab.insert(0, "hypothesis", mod.id)
            tab.insert(1, "group", mod.field)
            moderation.append(tab)
            log.add("groups", f"{mod.id}: structural paths compared across the groups of '{mod.field}'")
        except SemCocreateError as err:
            log.add(f"group path comparison ({mod.field})", f"not computed: {err}")
    if moderation:
        out["group_paths_moderators"] = pd.concat(moderation, ignore_index=True)
    return out


def _edges(result):
    """(from, to) of every latent regression of a fitted model (its structural graph)."""
    pt = result.estimates
    lv = set(result.spec.lv_names)
    reg = pt[(pt["op"] == "~") & pt["lhs"].isin(lv) & pt["rhs"].isin(lv)]
    return list(dict.fromkeys(zip(reg["rhs"], reg["lhs"])))
