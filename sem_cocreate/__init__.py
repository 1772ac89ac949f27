"""sem_cocreate: survey SEM for value co-creation in crowdsourcing innovation.

The public API (names fixed in the project's contract) is imported lazily: ``import sem_cocreate``
loads no numpy, pandas or scipy, so ``python -m sem_cocreate --help`` starts fast; the first use of a
name imports its module.

>>> import sem_cocreate as sc
>>> sorted(n for n in sc.__all__ if not n.startswith("_"))[:4]
['DataError', 'DataWarning', 'FitError', 'FitWarning']
"""

from __future__ import annotations

from importlib import import_module

from ._version import __version__

# public name -> module that defines it (relative to this package)
_API = {
    "sem": "engine.api",
    "cfa": "engine.api",
    "growth": "engine.api",
    "fit_sem": "engine.fit",
    "modindices": "engine.api",
    "compare_models": "engine.api",
    "residuals": "engine.api",
    "predict": "engine.api",
    "measurement_syntax": "engine.measurement_part",
    "SEMResult": "engine.result",
    "load_instrument": "survey.instrument_file",
    "Instrument": "survey.instrument",
    "read_responses": "survey.responses",
    "validate_responses": "survey.responses",
    "screen": "survey.screening",
    "run_study": "study.run",
    "StudyResult": "study.result",
    "StudyOptions": "study.options",
    "SemCocreateError": "exceptions",
    "DataError": "exceptions",
    "InputFileError": "exceptions",
    "InstrumentError": "exceptions",
    "ModelSyntaxError": "exceptions",
    "OptionError": "exceptions",
    "OutputError": "exceptions",
    "FitError": "exceptions",
    "SemCocreateWarning": "exceptions",
    "FitWarning": "exceptions",
    "DataWarning": "exceptions",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    try:
        module = _API[name]
    except KeyError:
        raise AttributeError(f"module 'sem_cocreate' has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
