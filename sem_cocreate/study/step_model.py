"""Step 2 — the model: the user's lavaan syntax as written, or the model built from the hypotheses.

    syntax <- read(--model)                        (fitted as written, never rebuilt)
           |  build_model_syntax(instrument)       (hypotheses H1..Hk, labelled paths, := effects)
    effects <- indirect_paths(instrument)          (names and kinds of the defined effects; built model only)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import InputFileError
from .options import StudyOptions


@dataclass(frozen=True)
class ModelChoice:
    syntax: str
    source: str                     # "my_model.lav" or "built from <instrument> (hypotheses)"
    path: Path | None               # the --model file, if any
    effects: Any = None             # DataFrame of the built model's defined effects, or None
    built: bool = False             # True when built from the instrument's hypotheses


def read_model_file(path) -> str:
    """The text of a lavaan-syntax model file (UTF-8, BOM allowed)."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"--model {path}: file not found; give a text file with lavaan syntax")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"--model {path}: not a UTF-8 text file; save the lavaan syntax as UTF-8") from None


def choose_model(options: StudyOptions, inputs) -> ModelChoice:
    if options.model is not None:
        return ModelChoice(read_model_file(options.model), str(options.model), Path(options.model))
    from ..survey.modelbuild import build_model_syntax, indirect_paths

    return ModelChoice(build_model_syntax(inputs.instrument), f"built from {inputs.instrument_path} (hypotheses)",
                       None, effects=indirect_paths(inputs.instrument), built=True)
