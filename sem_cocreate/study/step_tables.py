"""Step 7 — the paper tables: sample profile, construct descriptives, collinearity, f² effect sizes.

    sample_profile  <- survey.profile.sample_profile           (role, platform, mode, task type, ... fields)
    descriptives    <- measurement.descriptives                (construct M/SD, latent correlations, √AVE)
    collinearity    <- measurement.collinearity                (inner VIF per predictor, Kock's full VIF)
    effect_sizes    <- inference.effect_sizes                  (f²: R² with and without each path, by refit)

Returns results-file key -> DataFrame (see :data:`sem_cocreate.files.RESULT_FILES`). Each table runs
under its own note topic; one that cannot be computed is a note, not a failed study.
"""

from __future__ import annotations

from .notes import NoteLog
from .options import StudyOptions


def paper_tables(options: StudyOptions, inputs, choice, fits, quality: dict, log: NoteLog) -> dict:
    from ..exceptions import SemCocreateError

    out: dict = {}
    data = inputs.data
    constructs = fits.constructs
    if inputs.instrument is not None:
        from ..survey.profile import sample_profile

        with log.capture("sample profile"):
            out["sample_profile"] = sample_profile(data, inputs.instrument)
    if constructs:
        from ..measurement.descriptives import descriptives_table

        rel = quality.get("reliability")
        ave = dict(zip(rel["construct"], rel["ave"])) if rel is not None and len(rel) else None
        est = fits.measurement.estimates if fits.measurement is not None else None
        try:
            with log.capture("descriptives"):
                out["descriptives"] = descriptives_table(data, constructs, ave=ave, estimates=est)
        except SemCocreateError as err:
            log.add("descriptives", f"not computed: {err}")
    est = fits.result.estimates
    reg = est[est["op"] == "~"]
    if "group" in reg.columns:
        reg = reg[reg["group"] == reg["group"].min()]
    paths = list(zip(reg["lhs"].astype(str), reg["rhs"].astype(str)))
    if constructs and paths:
        from ..measurement.collinearity import collinearity_table

        try:
            with log.capture("collinearity"):
                out["collinearity"] = collinearity_table(data, constructs, paths)
        except SemCocreateError as err:
            log.add("collinearity", f"not computed: {err}")
    if paths and not options.group:
        from ..inference.effect_sizes import effect_sizes

        try:
            with log.capture("effect sizes (f²)"):
                out["effect_sizes"] = effect_sizes(choice.syntax, data, result=fits.result,
                                                   estimator=options.estimator.upper(), missing=options.missing)
        except SemCocreateError as err:
            log.add("effect sizes (f²)", f"not computed: {err}")
    return out
