"""Step 1 — inputs: the instrument, the survey export, validation and careless-responding screening.

    instrument  <- load_instrument(--instrument | default)      (none with --model and no --instrument)
    responses   <- read_responses(--data | demo data, mapping)   (readers per platform, column mapping)
    data        <- validate_responses(responses, instrument)     (ranges, missing codes, reverse-keying once)
    screened    <- screen(data, instrument, config)              (unless --no-screening or no instrument)
    data        <- analysis_sample(data, ...)                    (ONE sample for every table: complete cases of
                                                                  the model variables, all rows under FIML)

Returns :class:`Inputs`: the data every later step analyses, and what the report says about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import InputFileError
from .notes import NoteLog
from .options import DEFAULT_DATA_RELPATH, StudyOptions


@dataclass(frozen=True)
class Inputs:
    """The study's inputs after validation and screening."""

    instrument: Any                 # Instrument or None
    instrument_path: Path | None
    data_path: Path
    data: pd.DataFrame              # validated (and screened) responses: the analysis data
    screened: Any = None            # survey.screening.Screened, or None when not screened
    analysis_sample: Any = None     # {"n", "n_screened", "n_incomplete", "missing", "variables"}


def resource_path(relpath: str) -> Path:
    """``relpath`` in the current directory if present, else the copy packaged in ``sem_cocreate/resources``."""
    local = Path(relpath)
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[1] / "resources" / relpath


def default_data_path() -> Path:
    """``data/cocreation_demo.csv`` in the current directory if present, else the packaged copy."""
    return resource_path(DEFAULT_DATA_RELPATH)


def read_inputs(options: StudyOptions, log: NoteLog) -> Inputs:
    from ..survey.instrument_file import default_instrument_path, load_instrument
    from ..survey.responses import read_responses, validate_responses

    instrument = instrument_path = None
    if options.instrument:
        instrument_path = Path(options.instrument)
    elif options.default_study or options.model is None:
        instrument_path = default_instrument_path()
    if instrument_path is not None:
        with log.capture("instrument"):
            instrument = load_instrument(instrument_path)
    data_path = Path(options.data) if options.data else default_data_path()
    if not data_path.is_file():
        raise InputFileError(f"--data {data_path}: file not found; give the survey export (csv, xlsx, sav, dta)")
    with log.capture("data import"):
        responses = read_responses(data_path, instrument=instrument, mapping=options.mapping,
                                   missing_fields=options.missing_fields)
    log.extend("data import", responses.notes)
    screened = None
    if instrument is None:
        log.add("data import", "no instrument given: data checked for numeric values only; "
                               "no careless-responding screening")
        return Inputs(instrument, None, data_path, responses.data, None)
    with log.capture("data import"):
        data = validate_responses(responses, instrument)
    if not options.no_screening:
        from ..survey.screening import load_screening_config, screen

        config = load_screening_config(options.screening) if options.screening else None
        with log.capture("screening"):
            screened = screen(data, instrument, config=config)
        data = screened.data
    recoded = list(data.attrs.get("reverse_recoded") or ())
    if recoded:
        log.add("data import", f"reverse-keyed item(s) recoded once (min + max − x): {', '.join(recoded)}")
    data, sample = analysis_sample(data, instrument, options)
    log.add("data import", f"analysis sample: n = {sample['n']} ({sample['how']}); every table (reliability, "
                           "validity, item statistics, models) uses it")
    return Inputs(instrument, instrument_path, data_path, data, screened, sample)


def analysis_sample(data: pd.DataFrame, instrument, options: StudyOptions) -> tuple[pd.DataFrame, dict]:
    """The one sample every table is computed on: complete cases of the model variables (FIML: all rows).

    The model variables are the instrument's items (or, with ``--model``, the data columns the model file
    names) and the ``--group`` column. lavaan's ``missing = "listwise"`` drops the same rows, so α (psych)
    and ω / CR / AVE (semTools, from the fitted model) describe the same respondents.
    """
    import re

    cols = set(map(str, data.columns))
    if options.model is not None and Path(options.model).is_file():
        text = Path(options.model).read_text(encoding="utf-8-sig", errors="replace")
        names = [c for c in dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text)) if c in cols]
    else:
        names = [i for i in instrument.item_ids() if i in cols]
    if options.group and options.group in cols:
        names.append(options.group)
    n0 = len(data)
    if (options.missing or "listwise").lower() == "fiml":
        return data, {"n": n0, "n_screened": n0, "n_incomplete": 0, "missing": "fiml", "variables": names,
                      "how": "FIML: every screened respondent"}
    keep = data[names].notna().all(axis=1) if names else pd.Series(True, index=data.index)
    out = data.loc[keep].copy()
    out.attrs = dict(data.attrs)
    dropped = int((~keep).sum())
    return out, {"n": int(keep.sum()), "n_screened": n0, "n_incomplete": dropped, "missing": "listwise",
                 "variables": names, "how": f"complete cases of the {len(names)} model variables; {dropped} of "
                                            f"{n0} screened respondent(s) with a missing answer dropped listwise"}


def is_simulated(path: Path) -> bool:
    """True for the demo data (the simulator writes a marker column and the file name says so)."""
    try:
        head = Path(path).read_text(encoding="utf-8", errors="ignore")[:2000]
    except OSError:
        return False
    return "simulated" in Path(path).name.lower() or "cocreation_demo" in Path(path).name or "SIMULATED" in head
