"""Step 3 — fit: the structural model as written, then its measurement model (CFA).

    result      <- fit_sem(syntax, data, estimator, missing, group)   (stops with exit 3 if not identified)
    constructs  <- latent variables with observed indicators, from the fitted specification
    measurement <- fit_sem(measurement_syntax(spec), data, ...)       (only when the model has constructs)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import FitError
from .notes import NoteLog
from .options import StudyOptions


@dataclass(frozen=True)
class Fits:
    result: Any                          # SEMResult of the structural model
    measurement: Any                     # SEMResult of the measurement model, or None
    measurement_syntax: str | None
    constructs: dict[str, list[str]]     # construct -> its observed indicators


def measurement_syntax(spec) -> str:
    """The CFA (measurement part) of the user's model, as written (:mod:`..engine.measurement_part`):
    ``=~`` lines with fixed values, labels, ``NA*``, ``start()``, residual covariances, higher-order factors."""
    from ..engine.measurement_part import measurement_syntax as user_measurement

    return user_measurement(spec) + "\n"


def constructs_of(spec) -> dict[str, list[str]]:
    """Latent variables with at least one observed indicator, and those indicators."""
    pt = spec.partable
    out = {}
    for lv in spec.lv_names:
        inds = pt[(pt["op"] == "=~") & (pt["lhs"] == lv) & (pt["group"] == 1)]["rhs"].tolist()
        obs = [i for i in inds if i in spec.ov_names]
        if obs:
            out[lv] = obs
    return out


def fit_models(options: StudyOptions, inputs, choice, log: NoteLog) -> Fits:
    from ..engine.fit import fit_sem

    estimator = options.estimator.upper()
    with log.capture("structural model"):
        result = fit_sem(choice.syntax, inputs.data, estimator=estimator, missing=options.missing,
                         group=options.group, information=options.information)
    log.extend("structural model", [n for n in result.notes if not _is_warning_note(n)])
    if not result.internals.get("identified", True):
        raise FitError("the model is not identified (singular information matrix); fix a loading or variance "
                       "per factor, or check that every latent variable has at least 2-3 indicators")
    constructs = constructs_of(result.spec)
    measurement = cfa = None
    if constructs:
        cfa = measurement_syntax(result.spec)
        with log.capture("measurement model"):
            measurement = fit_sem(cfa, inputs.data, estimator=estimator, missing=options.missing,
                                  information=options.information)
        constructs = _item_based(result.spec, constructs, log)
    return Fits(result, measurement, cfa, constructs)


def _item_based(spec, constructs: dict, log: NoteLog) -> dict:
    """The constructs reliability / AVE / HTMT apply to; a note for each one skipped."""
    from ..engine.measurement_part import construct_analyses

    table = construct_analyses(spec).set_index("construct")
    for lv in table.index[~table["reliability"].astype(bool)]:
        log.add("measurement model", f"reliability, AVE and HTMT skipped for {lv}: {table.loc[lv, 'note']}")
    return {lv: items for lv, items in constructs.items()
            if lv not in table.index or bool(table.loc[lv, "reliability"])}


def _is_warning_note(note: str) -> bool:
    # these notes were also raised as FitWarning and are captured as warnings already
    low = note.lower()
    return any(k in low for k in ("heywood", "not identified", "did not converge", "not positive"))
