"""The result of a study run, and writing it as a results folder (the one registry of file names).

:class:`StudyResult` holds every computed table under its results-file key (:data:`files.RESULT_FILES`);
:meth:`StudyResult.write` writes them, ``notes.json`` and ``manifest.json``, then renders the report from
the folder (the report reads only those files, so ``report DIR`` re-renders without refitting).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .. import files as F
from .notes import Note
from .options import DEFAULT_OUT, StudyOptions


@dataclass(frozen=True)
class StudyResult:
    """Everything a study run computed.

    Attributes
    ----------
    options : StudyOptions
        The resolved options.
    inputs : Inputs
        Instrument, data path, the analysis data, the screening.
    model : ModelChoice
        The fitted syntax and where it came from.
    result, measurement : SEMResult
        The structural model and its measurement model (``None`` without latent variables).
    tables : Mapping[str, object]
        Results-file key -> DataFrame / dict / str (see ``sem_cocreate.files.RESULT_FILES``).
    notes : tuple of Note
        Every note and captured warning, with the model or analysis it concerns.
    figures : Mapping[str, object]
        The report's figures, being drawn from these tables (:func:`sem_cocreate.report.start_figures`).
    """

    options: StudyOptions
    inputs: Any
    model: Any
    result: Any
    measurement: Any
    tables: Mapping[str, Any]
    notes: tuple[Note, ...]
    started: datetime
    simulated: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return bool(self.result.converged)

    @property
    def estimates(self) -> pd.DataFrame:
        return self.tables["estimates"]

    def own_model_warnings(self) -> list[Note]:
        """Warning-level notes about the user's own model (structural or measurement model)."""
        from .notes import OWN_MODEL_TOPICS

        return [n for n in self.notes if n.level == "warning" and n.topic in OWN_MODEL_TOPICS]

    def notes_json(self) -> dict:
        inputs = self.inputs
        return {"notes": [n.text() for n in self.notes if n.level != "warning"],
                "warnings": [n.text() for n in self.notes if n.level == "warning"],
                "entries": [{"topic": n.topic, "message": n.message, "level": n.level} for n in self.notes],
                "simulated_data": self.simulated, "model_source": self.model.source,
                "converged": bool(self.result.converged), "n_obs": self.result.n_obs,
                "instrument": str(inputs.instrument_path) if inputs.instrument_path else None,
                "screening": inputs.screened is not None}

    def write(self, out_dir=None, *, formats=None, langs=None, overwrite: bool | None = None) -> list[Path]:
        """Write the results folder and render the report; returns the report files written.

        ``out_dir`` defaults to the options' ``out`` (or ``reports/cocreation_demo`` for the default
        study); ``formats`` / ``langs`` to the options' report formats and languages.
        """
        o = self.options
        out = Path(out_dir) if out_dir is not None else (o.out or Path(DEFAULT_OUT))
        inputs = self.inputs
        input_files = {"data": inputs.data_path, "model": self.model.path, "instrument": inputs.instrument_path,
                       "mapping": o.mapping, "screening": o.screening}
        # staged: written into a fresh folder beside ``out``, moved into place only when complete
        with F.results_folder(out, overwrite=o.overwrite if overwrite is None else overwrite,
                              inputs=list(input_files.values()),
                              own_folder=o.default_study and out_dir is None and o.out is None) as stage:
            reports = self._write_into(stage.tmp, input_files, formats, langs)
        return [stage.final(p) for p in reports]

    def _write_into(self, out_dir: Path, input_files: dict, formats, langs) -> list[Path]:
        o = self.options
        inputs = self.inputs
        written: list[str] = []
        if inputs.screened is not None:
            from ..survey.screening import write_screening

            paths = write_screening(inputs.screened, out_dir, extra={"input": str(inputs.data_path)})
            written.extend(p.name for p in paths)
        F.write_result(out_dir, "model", self.model.syntax)
        written.append(F.result_path("model"))
        for key, obj in self.tables.items():
            if obj is None:
                continue
            F.write_result(out_dir, key, obj)
            written.append(F.result_path(key))
        F.write_result(out_dir, "notes", self.notes_json())
        written.append(F.result_path("notes"))
        manifest = F.build_manifest(argv=list(o.argv) if o.argv is not None else None, seed=o.seed,
                                    inputs=input_files, started=self.started, options=o.manifest_options(),
                                    files=written)
        F.write_result(out_dir, "manifest", manifest)
        from ..report import render_report

        return render_report(out_dir, formats=list(formats or o.formats), langs=list(langs or o.langs),
                             jobs=o.jobs, figures=dict(self.figures) or None)
