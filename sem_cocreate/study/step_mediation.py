"""Step 5 — mediation and hypotheses: intervals for every parameter and defined effect, verdicts.

    draws      <- bootstrap_draws(result, n_boot, seed, jobs, scheduler)   (with --bootstrap N > 0)
    estimates  <- bootstrap_estimates(result, draws, ci)                   (perc | bc | bca)
               |  monte_carlo_estimates(result, 20000, seed)               (--ci mc)
               |  result.estimates                                         (delta method)
    indirect   <- indirect_table(...)        (every := row; names/kinds from the built model's effects)
    hypotheses <- one verdict per hypothesis (built model only)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .notes import NoteLog
from .options import StudyOptions


@dataclass(frozen=True)
class Mediation:
    estimates: pd.DataFrame          # parameterEstimates() with bootstrap/MC intervals where asked
    indirect: pd.DataFrame | None
    hypotheses: pd.DataFrame | None
    method: str                      # "delta", "bootstrap-perc", ..., "mc"
    n_boot: int = 0
    n_failed: int = 0
    draws: Any = None


def hypotheses_table(instrument, estimates: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per hypothesis: its path, estimate, standardized estimate, p-value and verdict."""
    from ..survey.modelbuild import hypothesis_table

    hyp = hypothesis_table(instrument)
    rows = []
    for h in hyp.itertuples(index=False):
        m = estimates[(estimates["op"] == "~") & (estimates["lhs"] == h.lhs) & (estimates["rhs"] == h.rhs)]
        base = {"id": h.id, "path": f"{h.rhs} → {h.lhs}", "lhs": h.lhs, "op": "~", "rhs": h.rhs,
                "label": h.label, "sign": h.sign}
        if m.empty:
            rows.append({**base, "est": np.nan, "se": np.nan, "std.all": np.nan, "pvalue": np.nan,
                         "ci.lower": np.nan, "ci.upper": np.nan, "supported": "not in model",
                         "text_en": h.text_en, "text_zh": h.text_zh})
            continue
        r = m.iloc[0]
        sig = bool(r["pvalue"] < alpha) if pd.notna(r["pvalue"]) else False
        right_sign = np.sign(r["est"]) == np.sign(h.sign)
        verdict = "supported" if sig and right_sign else ("opposite sign" if sig else "not supported")
        rows.append({**base, "est": r["est"], "se": r["se"], "std.all": r["std.all"], "pvalue": r["pvalue"],
                     "ci.lower": r["ci.lower"], "ci.upper": r["ci.upper"], "supported": verdict,
                     "text_en": h.text_en, "text_zh": h.text_zh})
    return pd.DataFrame(rows)


def start_bootstrap(options: StudyOptions, fits, log: NoteLog):
    """Start the bootstrap of the structural model (with ``--bootstrap N``), or None: a default-size
    bootstrap runs in a worker process while the other analyses run here (:func:`start_bootstrap
    <sem_cocreate.inference.bootstrap.start_bootstrap>`); :func:`mediation` collects it."""
    if not options.bootstrap:
        return None
    from ..inference.bootstrap import start_bootstrap as start

    with log.capture("bootstrap"):
        return start(fits.result, n_boot=options.bootstrap, seed=options.seed, jobs=options.jobs,
                     scheduler=options.scheduler, progress=sys.stderr.isatty())


def mediation(options: StudyOptions, inputs, choice, fits, log: NoteLog, pending=None,
              on_estimates=None) -> Mediation:
    """The estimates with their intervals, the indirect effects and the hypotheses; ``on_estimates``
    is called with the final estimates table as soon as it is there (the study starts drawing the path
    diagram then, while the indirect effects are tabulated)."""
    result = fits.result
    spec = result.spec
    estimates = result.estimates
    method = "delta"
    n_boot = n_failed = 0
    draws = None
    if options.bootstrap:
        from ..inference.bootstrap import bootstrap_estimates

        with log.capture("bootstrap"):
            if pending is None:
                pending = start_bootstrap(options, fits, log)
            draws = pending.result()
            estimates = bootstrap_estimates(result, draws, ci=options.ci)
        method = f"bootstrap-{options.ci}"
        n_boot, n_failed = draws.n_boot, draws.n_failed
        if n_failed > 0.05 * n_boot:
            log.add("bootstrap", f"{n_failed} of {n_boot} bootstrap resamples failed (> 5%); intervals may be "
                                 "biased — check the model", level="warning")
        elif n_failed:
            log.add("bootstrap", f"{n_failed} of {n_boot} bootstrap resamples failed and were excluded")
    elif options.ci == "mc" and len(spec.defined):
        from ..inference.bootstrap import monte_carlo_estimates

        with log.capture("Monte Carlo intervals"):
            estimates = monte_carlo_estimates(result, n_draws=20000, seed=options.seed)
        method = "mc"
    if on_estimates is not None:
        on_estimates(estimates)
    indirect = None
    if len(spec.defined):
        from ..inference.mediation import indirect_table

        std_estimates = None
        with log.capture("mediation"):
            if draws is not None:
                from ..inference.bootstrap import bootstrap_std_estimates

                std_estimates = bootstrap_std_estimates(result, draws, ci=options.ci)
            indirect = indirect_table(result, estimates=estimates, effects=choice.effects, method=method,
                                      n_boot=n_boot, n_failed=n_failed, std_estimates=std_estimates)
    hypotheses = None
    if inputs.instrument is not None and inputs.instrument.hypotheses and choice.built:
        hypotheses = hypotheses_table(inputs.instrument, estimates)
    return Mediation(estimates, indirect, hypotheses, method, n_boot, n_failed, draws)
