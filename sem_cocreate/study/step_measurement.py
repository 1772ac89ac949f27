"""Step 4 — measurement quality of the measurement model, and common-method checks.

    reliability, item_stats, flags   <- alpha (psych), omega (semTools::compRelSEM), CR, AVE per construct
    htmt, htmt_classic, fornell_larcker, htmt_ci (bootstrap)   <- discriminant validity
    normality (Mardia), exploratory (KMO, Bartlett), ordinal-data advice
    cmv: Harman's single factor, single-factor CFA vs the measurement model, latent method factor (ML/MLR)

Returns results-file key -> table (DataFrame) or object (JSON). Each analysis runs under its own note
topic, so a warning from, say, the method-factor model is reported as that model's, not the user's.
"""

from __future__ import annotations

from ..exceptions import SemCocreateError
from .notes import NoteLog
from .options import StudyOptions


def measurement_quality(options: StudyOptions, inputs, fits, log: NoteLog) -> dict:
    if fits.measurement is None:
        return {}
    if not fits.constructs:
        log.add("measurement model", "no construct with two or more items and free loadings: item-based "
                                     "reliability, validity and common-method checks do not apply")
        return {}
    out = _quality(fits.measurement, inputs.data, fits.constructs, seed=options.seed, log=log)
    if options.estimator != "wlsmv":
        out.update(_common_method(fits, inputs.data, estimator=options.estimator.upper(),
                                  missing=options.missing, log=log))
    return out


def _quality(measurement, data, constructs, *, seed, log: NoteLog) -> dict:
    from ..measurement.exploratory import bartlett_sphericity, kmo
    from ..measurement.reliability import item_stats, mardia, measurement_flags, reliability_table
    from ..measurement.validity import fornell_larcker, htmt, htmt_bootstrap

    out: dict = {}
    est = measurement.estimates
    items = [i for its in constructs.values() for i in its]
    with log.capture("reliability"):
        rel = reliability_table(est, data, constructs=constructs)
        ist = item_stats(est, data, constructs=constructs)
    out["reliability"] = rel
    out["item_stats"] = ist
    pairs = len(constructs) >= 2          # HTMT and Fornell-Larcker compare constructs pairwise
    if not pairs:
        log.add("HTMT", "discriminant validity (HTMT, Fornell-Larcker) needs two or more constructs "
                        "with two or more items; skipped")
    if pairs:
        with log.capture("HTMT"):
            out["htmt"] = htmt(data, constructs, htmt2=True)
            out["htmt_classic"] = htmt(data, constructs, htmt2=False)
        with log.capture("Fornell-Larcker"):
            # only the item-based constructs (not single-indicator, higher-order or growth factors),
            # with their latent correlations implied by the whole measurement model
            item_est = est[(est["op"] != "=~") | est["lhs"].isin(list(constructs))]
            out["fornell_larcker"] = fornell_larcker(item_est, ave=rel.set_index("construct")["ave"],
                                                     latent_cor=_latent_cor(measurement))
    try:
        out["measurement_flags"] = measurement_flags(rel, ist)
    except Exception as err:  # noqa: BLE001 - flags are advisory
        log.add("measurement flags", f"not computed: {err}")
    complete = data[items].dropna()
    if len(complete) > len(items):
        with log.capture("normality"):
            out["normality"] = mardia(complete)
    # HTMT inference (Henseler et al. 2015): percentile intervals, upper bound below .85/.90/1
    if pairs:
        with log.capture("HTMT bootstrap"):
            out["htmt_ci"] = htmt_bootstrap(data, constructs, n_boot=1000, seed=seed)
    # sampling adequacy (psych::KMO, psych::cortest.bartlett)
    with log.capture("KMO / Bartlett"):
        k = kmo(data[items])
        b = bartlett_sphericity(data[items])
    out["exploratory"] = {"kmo_overall": k["overall"], "kmo_items": k["items"].to_dict(),
                          "bartlett": {kk: b[kk] for kk in ("chisq", "df", "pvalue", "n")}}
    try:
        from ..engine.estimators.ordinal import recommend_ordinal

        with log.capture("ordinal-data check"):
            advice = recommend_ordinal(data, items)
        if advice:
            log.add("ordinal-data check", advice)
    except Exception as err:  # noqa: BLE001 - advisory only
        log.add("ordinal-data check", f"not run: {err}")
    return out


def _latent_cor(measurement):
    """Model-implied latent correlations of a fitted measurement model (``lavInspect(fit, "cor.lv")``)."""
    import numpy as np
    import pandas as pd

    model = measurement.internals["model"]
    full = model.implied(measurement.theta)[0][3]
    p = len(model.ov)
    cov = full[p:, p:]
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    return pd.DataFrame(cov / np.outer(sd, sd), index=model.lv, columns=model.lv)


def _common_method(fits, data, *, estimator, missing, log: NoteLog) -> dict:
    """Harman's single-factor test, the single-factor CFA and the unmeasured latent method factor."""
    from ..engine.fit import fit_sem
    from ..measurement.cmv import harman_single_factor, single_factor_test, ulmc_test

    constructs = fits.constructs
    items = [i for its in constructs.values() for i in its]
    unconverged: list[str] = []

    def fit(syntax, data):
        res = fit_sem(syntax, data, estimator=estimator, missing=missing)
        if not res.converged:
            unconverged.append(syntax)
        return res

    out: dict = {}
    with log.capture("Harman's single-factor test"):
        harman = harman_single_factor(data[items])
    out["cmv_harman"] = {k: v for k, v in harman.items() if k != "loadings"}
    if len(constructs) < 2:
        # one trait factor: the single-factor model is the measurement model, and a method factor
        # beside one trait factor is not identified
        log.add("method-factor model", "needs two or more constructs with two or more items; skipped")
        return out
    try:
        with log.capture("single-factor model"):
            out["cmv_single_factor"] = single_factor_test(fits.measurement_syntax, data, fit=fit,
                                                          measurement=fits.measurement)
    except SemCocreateError as err:
        log.add("single-factor model", f"not compared: {err}")
    try:
        with log.capture("method-factor model"):
            ul = ulmc_test(fits.measurement_syntax, data, fit=fit, method_loadings="equal",
                           measurement=fits.measurement)
        out["cmv_ulmc_fit"] = ul.comparison
        out["cmv_ulmc_loadings"] = ul.loadings
        ul_notes = list(ul.notes)
        converged = not any(ul.syntax.strip() == u.strip() for u in unconverged)
        if not converged:
            ul_notes.append("the method-factor model did not converge (its loading tends to the boundary 0, where "
                            "the model is not identified): the data show no common-method factor by this check; "
                            "its fit and loadings are not interpretable")
            log.add("method-factor model", ul_notes[-1])
        out["cmv_ulmc"] = {"method_loadings": ul.method_loadings, "mean_trait_share": ul.mean_trait_share,
                           "mean_method_share": ul.mean_method_share, "notes": ul_notes, "converged": converged}
    except SemCocreateError as err:
        log.add("method-factor model", f"not fitted: {err}")
    return out
