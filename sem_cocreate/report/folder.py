"""Read a results folder (the files ``fit`` writes) for the report; nothing is recomputed."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..files import result_path
from ..exceptions import InputFileError, SemCocreateError

REQUIRED = (result_path("estimates"), result_path("fit"))


@dataclass(frozen=True)
class ResultsFolder:
    """The contents of a results folder. Optional files that are absent are ``None``."""

    path: Path
    estimates: pd.DataFrame
    fit: dict
    notes: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    hypotheses: pd.DataFrame | None = None
    indirect: pd.DataFrame | None = None
    r2: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None
    item_stats: pd.DataFrame | None = None
    flags: pd.DataFrame | None = None
    htmt: pd.DataFrame | None = None
    htmt_classic: pd.DataFrame | None = None
    fornell_larcker: pd.DataFrame | None = None
    normality: dict | None = None
    measurement_estimates: pd.DataFrame | None = None
    measurement_fit: dict | None = None
    screening: dict | None = None
    invariance: pd.DataFrame | None = None
    group_paths: pd.DataFrame | None = None
    model_syntax: str | None = None
    sample_profile: pd.DataFrame | None = None
    descriptives: pd.DataFrame | None = None
    collinearity: pd.DataFrame | None = None
    effect_sizes: pd.DataFrame | None = None
    model_comparison: pd.DataFrame | None = None
    figures: dict = field(default_factory=dict)

    @property
    def n_obs(self) -> int | None:
        n = self.notes.get("n_obs")
        if n is None:
            n = self.fit.get("ntotal")
        return None if n is None else int(n)

    @property
    def estimator(self) -> str:
        return str(self.fit.get("estimator") or (self.manifest.get("options") or {}).get("estimator") or "ML").upper()

    @property
    def converged(self) -> bool:
        return bool(self.fit.get("converged", self.notes.get("converged", True)))

    @property
    def simulated(self) -> bool:
        return bool(self.notes.get("simulated_data", False))


def _csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: cannot be read as a UTF-8 CSV table ({type(err).__name__}); "
                             "re-run `fit` to rewrite the results folder") from None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputFileError(f"{path}: not valid JSON ({type(err).__name__}); re-run `fit` to rewrite the "
                             "results folder") from None


def _complete_estimates(estimates: pd.DataFrame) -> pd.DataFrame:
    for col in ("label", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all"):
        if col not in estimates.columns:
            estimates[col] = float("nan") if col != "label" else ""
    return estimates


def as_read(key: str, table: pd.DataFrame | None) -> pd.DataFrame | None:
    """A study's table as :func:`read_results_folder` will read it back from its CSV file (the same text
    written and parsed): what is drawn from it equals what is drawn from the folder."""
    if table is None:
        return None
    import io

    from ..files import csv_text

    out = pd.read_csv(io.StringIO(csv_text(table)))
    return _complete_estimates(out) if key == "estimates" else out


def read_results_folder(out_dir) -> ResultsFolder:
    """Read every file the report uses from a results folder.

    Parameters
    ----------
    out_dir : str or path-like
        A folder written by ``python -m sem_cocreate fit``.

    Returns
    -------
    ResultsFolder

    Raises
    ------
    InputFileError
        The folder does not exist, lacks ``estimates.csv`` or ``fit.json``, or a file cannot be read.
    """
    path = Path(out_dir)
    if not path.is_dir():
        raise InputFileError(f"report {out_dir}: folder not found; give a results folder written by `fit`")
    for name in REQUIRED:
        if not (path / name).is_file():
            raise InputFileError(f"report {out_dir}: {name} is missing; give a results folder written by `fit` "
                                 "(or re-run `fit --out` to write it)")

    # every file is found by its key in the one registry the study writes with (files.RESULT_FILES)
    def opt_csv(key):
        p = path / result_path(key)
        return _csv(p) if p.is_file() else None

    def opt_json(key):
        p = path / result_path(key)
        return _json(p) if p.is_file() else None

    estimates = _csv(path / result_path("estimates"))
    missing_cols = {"lhs", "op", "rhs", "est"} - set(estimates.columns)
    if missing_cols:
        raise InputFileError(f"{path / result_path('estimates')}: lacks column(s) {', '.join(sorted(missing_cols))}; "
                             "expected lavaan parameterEstimates() columns")
    estimates = _complete_estimates(estimates)
    fit = _json(path / result_path("fit"))
    model = path / result_path("model")
    return _checked(path, ResultsFolder(
        path=path, estimates=estimates, fit=fit,
        notes=opt_json("notes") or {}, manifest=opt_json("manifest") or {},
        hypotheses=opt_csv("hypotheses"), indirect=opt_csv("indirect"), r2=opt_csv("r2"),
        reliability=opt_csv("reliability"), item_stats=opt_csv("item_stats"),
        flags=opt_csv("measurement_flags"), htmt=opt_csv("htmt"),
        htmt_classic=opt_csv("htmt_classic"),
        fornell_larcker=opt_csv("fornell_larcker"), normality=opt_json("normality"),
        measurement_estimates=opt_csv("measurement_estimates"), measurement_fit=opt_json("measurement_fit"),
        screening=opt_json("screening"), invariance=opt_csv("invariance"),
        group_paths=opt_csv("group_paths"),
        model_syntax=model.read_text(encoding="utf-8") if model.is_file() else None,
        sample_profile=opt_csv("sample_profile"), descriptives=opt_csv("descriptives"),
        collinearity=_csv_keep(path / result_path("collinearity")), effect_sizes=opt_csv("effect_sizes"),
        model_comparison=opt_csv("model_comparison"),
        figures={p.stem: p for p in sorted((path / "figures").glob("*.svg"))} if (path / "figures").is_dir() else {},
    ))


# ------------------------------------------------------------------ schema check of a (possibly tampered) folder

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # python-docx (XML) refuses these
_NUMERIC_COLUMNS = ("est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")
_FIT_NUMBERS = frozenset({"npar", "ntotal", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
                          "rmsea.ci.upper", "rmsea.pvalue", "srmr", "aic", "bic", "logl", "unrestricted.logl",
                          "baseline.chisq", "baseline.df", "baseline.pvalue", "chisq.scaling.factor", "nobs"})
_OBJECT_FILES = ("fit", "notes", "manifest", "normality", "measurement_fit", "screening")


def _clean_text(obj):
    """Control characters removed from every string (recursively)."""
    if isinstance(obj, str):
        return _CONTROL.sub("", obj)
    if isinstance(obj, dict):
        return {_clean_text(k): _clean_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean_text(v) for v in obj]
    return obj


def _clean_frame(df):
    if df is None:
        return None
    df = df.copy()
    df.columns = [_clean_text(str(c)) for c in df.columns]
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(_clean_text)
    return df


def _checked(path: Path, folder: ResultsFolder) -> ResultsFolder:
    """Check the shapes the report relies on (a tampered or hand-edited folder gives one line naming
    the file and the key), and strip control characters from every text."""
    import dataclasses
    import numbers

    def bad(name: str, what: str):
        raise InputFileError(f"report {path}: {name} {what}; re-run `fit` to rewrite the results folder")

    values = {}
    for f in dataclasses.fields(folder):
        v = getattr(folder, f.name)
        if f.name in _OBJECT_FILES:
            if f.name in ("fit", "notes", "manifest") or v is not None:
                if not isinstance(v, dict):
                    bad(f"{RESULT_NAMES[f.name]}", f"holds a {type(v).__name__}, not an object")
            v = _clean_text(v)
        elif isinstance(v, pd.DataFrame):
            v = _clean_frame(v)
        elif isinstance(v, str) and f.name == "model_syntax":
            v = _clean_text(v)
        values[f.name] = v
    for key, val in values["fit"].items():
        if val is None or not (key in _FIT_NUMBERS or key.endswith((".scaled", ".robust"))):
            continue
        if isinstance(val, bool) or not isinstance(val, numbers.Real):
            bad("fit.json", f"has {key!r} = {str(val)[:40]!r}, not a number")
    if "converged" in values["fit"] and not isinstance(values["fit"]["converged"], bool):
        bad("fit.json", "has 'converged' that is not true/false")
    notes = values["notes"]
    for key in ("notes", "warnings"):
        if key in notes and not (isinstance(notes[key], list) and all(isinstance(x, str) for x in notes[key])):
            bad("notes.json", f"has {key!r} that is not a list of texts")
    if "n_obs" in notes and notes["n_obs"] is not None and (isinstance(notes["n_obs"], bool)
                                                            or not isinstance(notes["n_obs"], numbers.Real)):
        bad("notes.json", "has 'n_obs' that is not a number")
    est = values["estimates"]
    for col in _NUMERIC_COLUMNS:
        if col in est.columns and not pd.api.types.is_numeric_dtype(est[col]):
            conv = pd.to_numeric(est[col], errors="coerce")
            if (conv.isna() & est[col].notna()).any():
                bad("estimates.csv", f"has text in the numeric column {col!r}")
            est[col] = conv
    for name in ("label",):
        if name in est.columns:
            est[name] = est[name].where(est[name].notna(), "")
    return ResultsFolder(**values)


RESULT_NAMES = {"fit": "fit.json", "notes": "notes.json", "manifest": "manifest.json",
                "normality": "normality.json", "measurement_fit": "measurement/fit.json",
                "screening": "screening.json"}


def _csv_keep(path: Path) -> pd.DataFrame | None:
    """A CSV whose empty text cells stay empty strings (collinearity.csv's ``lhs`` of full-VIF rows)."""
    if not path.is_file():
        return None
    df = _csv(path)
    for col in ("lhs", "rhs", "kind"):
        if col in df.columns:
            df[col] = df[col].fillna("").astype(str)
    return df


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_instrument(folder: ResultsFolder):
    """The instrument the results were fitted with, or ``(None, reason)``.

    The path in ``notes.json`` is tried as given, relative to the results folder and as the packaged
    default; a candidate is used only if its sha256 equals the one in ``manifest.json`` (when recorded),
    so names and wording always belong to the fitted instrument.

    Returns
    -------
    tuple
        ``(Instrument or None, "" | "changed")``.
    """
    rel = folder.notes.get("instrument")
    if not rel:
        return None, ""
    want = ((folder.manifest.get("inputs") or {}).get("instrument") or {}).get("sha256")
    from ..survey.instrument_file import default_instrument_path, load_instrument

    candidates = [Path(rel), folder.path / rel]
    try:
        default = default_instrument_path()
        if default.name == Path(rel).name:
            candidates.append(default)
            candidates.append(Path(__file__).resolve().parent.parent / "resources" / rel)
    except Exception:  # noqa: BLE001 - only a lookup aid
        pass
    seen_changed = False
    for cand in candidates:
        if not cand.is_file():
            continue
        if want and _sha256(cand) != want:
            seen_changed = True
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return load_instrument(cand), ""
        except SemCocreateError:
            continue
    return None, "changed" if seen_changed else ""
