"""Run a whole study: raw survey export → screening → models → analyses → :class:`StudyResult`.

    options  <- StudyOptions(**options).resolved()          (every option checked once, up front)
    inputs   <- step_inputs.read_inputs                      (instrument, responses, validation, screening)
    model    <- step_model.choose_model                      (the user's syntax, or built from hypotheses)
    fits     <- step_fit.fit_models                          (structural model, then measurement model)
    pending  <- step_mediation.start_bootstrap               (its chunks shared with one worker meanwhile)
    quality  <- step_measurement.measurement_quality         (reliability, validity, CMV)
    groups   <- step_groups.group_comparisons                (invariance, score tests, path Wald tests)
             +  step_compare.compare_competing               (competing models, mediation types)
    effects  <- step_mediation.mediation(pending)            (bootstrap / MC / delta intervals, hypotheses;
                                                              the path diagram is started once the
                                                              estimates are final)
    figures  <- report.start_figures                         (drawn by the worker from here on)
    diagnostics, paper <- step_diagnostics, step_tables      (modification indices, residuals; VIF, f²)
    result   <- StudyResult(...)                             (.write() writes the folder and the report)

Every warning raised on the way becomes a note saying which model or analysis it concerns
(:mod:`.notes`). Nothing here sees argparse: ``cli.py`` builds the options and calls :func:`run_study`.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from .notes import NoteLog
from .options import StudyOptions
from .result import StudyResult

__all__ = ["run_study", "StudyResult", "StudyOptions"]


def run_study(options: StudyOptions | None = None, **kwargs) -> StudyResult:
    """Run the ``fit`` command's study from Python and return everything it computed.

    Parameters
    ----------
    options : StudyOptions, optional
        All options at once; or give them as keywords (``data=``, ``model=``, ``instrument=``,
        ``estimator=``, ``missing=``, ``group=``, ``invariance=``, ``bootstrap=``, ``ci=``, ``seed=``,
        ``jobs=``, ``scheduler=``, ``screening=``, ``no_screening=``, ``out=``, ``formats=``, ``langs=``).
        No data and no model: the embedded default study (SIMULATED demo data).

    Returns
    -------
    StudyResult
        ``.result`` (structural model), ``.measurement`` (CFA), ``.tables`` (every results file by key),
        ``.notes``; ``.write(out_dir)`` writes the results folder and the report.

    Raises
    ------
    SemCocreateError
        Bad input (a one-line message naming the file, column, row or option); :class:`FitError` when
        the model is not identified.

    Examples
    --------
    >>> import sem_cocreate as sc
    >>> study = sc.run_study(bootstrap=0)                  # doctest: +SKIP
    >>> study.tables["fit"]["cfi"] > 0.9                   # doctest: +SKIP
    True
    """
    from . import step_diagnostics, step_fit, step_groups, step_inputs, step_measurement, step_mediation, step_model

    if options is None:
        options = StudyOptions(**kwargs)
    elif kwargs:
        import dataclasses

        options = dataclasses.replace(options, **kwargs)
    started = datetime.now(timezone.utc)
    options = options.resolved()
    log = NoteLog()
    from .._blas import one_blas_thread

    # small dense matrices everywhere: one BLAS thread is faster than several (and workers are parallel)
    with one_blas_thread():
        if options.scheduler is None:
            from ..inference.parallel import run_in_background, start_background
            from ..report.figures import warm_up

            # the worker starts while the data are read and the models fitted: it is up for the bootstrap
            start_background("sem_cocreate.inference.bootstrap", "sem_cocreate.engine.fit", jobs=options.jobs)

            # then matplotlib for the report's figures, while the data are still read (it would be idle)
            run_in_background(warm_up, jobs=options.jobs)     # (deferred, i.e. never run, with --jobs N)
        inputs = step_inputs.read_inputs(options, log)
        choice = step_model.choose_model(options, inputs)
        fits = step_fit.fit_models(options, inputs, choice, log)
        # with a second CPU, the bootstrap's chunks are shared with one worker process from here on
        pending = step_mediation.start_bootstrap(options, fits, log)
        quality = step_measurement.measurement_quality(options, inputs, fits, log)
        groups = step_groups.group_comparisons(options, inputs, choice, fits, log)
        from ..report import start_figures

        fig_jobs = options.jobs if options.scheduler is None else 1
        # the invariance figure is drawn in the worker meanwhile (the others once their tables are final)
        figures = start_figures(invariance=groups.get("invariance"), only=("invariance_fit",), jobs=fig_jobs)
        from .step_compare import compare_competing

        groups.update(compare_competing(options, inputs, choice, fits, log))
        result = fits.result
        r2 = result.r2.copy()
        if len(result.spec.groups) == 1:
            r2 = r2.drop(columns="group")

        def draw_path_diagram(estimates):      # as soon as the estimates are final (indirect effects next)
            figures.update(start_figures(estimates=estimates, r2=r2, jobs=fig_jobs, only=("path_diagram",)))

        effects = step_mediation.mediation(options, inputs, choice, fits, log, pending=pending,
                                           on_estimates=draw_path_diagram)
        # the last figure is drawn in the worker while the diagnostics and the paper's tables are computed
        figures.update(start_figures(estimates=effects.estimates, r2=r2, indirect=effects.indirect,
                                     invariance=groups.get("invariance"), jobs=fig_jobs,
                                     only=("indirect_effects",)))
        diagnostics = step_diagnostics.diagnostics(options, fits, log)
        from . import step_tables

        paper = step_tables.paper_tables(options, inputs, choice, fits, quality, log)
    tables: dict = {"estimates": effects.estimates, "fit": _fit_dict(result)}
    tables["r2"] = r2
    tables["indirect"] = effects.indirect
    tables["hypotheses"] = effects.hypotheses
    if fits.measurement is not None:
        tables["measurement_estimates"] = fits.measurement.estimates
        tables["measurement_fit"] = {k: (None if pd.isna(v) else float(v)) for k, v in fits.measurement.fit.items()}
    tables.update(quality)
    tables.update(groups)
    tables.update(diagnostics)
    tables.update(paper)
    return StudyResult(options=options, inputs=inputs, model=choice, result=result, measurement=fits.measurement,
                       tables=tables, notes=log.frozen(), started=started,
                       simulated=step_inputs.is_simulated(inputs.data_path), figures=figures)


def _fit_dict(result) -> dict:
    fit = {k: (None if pd.isna(v) else float(v)) for k, v in result.fit.items()}
    fit["converged"] = bool(result.converged)
    fit["estimator"] = result.estimator
    fit["missing"] = result.missing
    return fit
