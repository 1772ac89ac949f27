"""Read a results folder (the files ``fit`` writes) for the report; nothing is recomputed."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import InputFileError, SemCocreateError

REQUIRED = ("estimates.csv", "fit.json")


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

    def opt_csv(name):
        p = path / name
        return _csv(p) if p.is_file() else None

    def opt_json(name):
        p = path / name
        return _json(p) if p.is_file() else None

    estimates = _csv(path / "estimates.csv")
    missing_cols = {"lhs", "op", "rhs", "est"} - set(estimates.columns)
    if missing_cols:
        raise InputFileError(f"{path / 'estimates.csv'}: lacks column(s) {', '.join(sorted(missing_cols))}; "
                             "expected lavaan parameterEstimates() columns")
    for col in ("label", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all"):
        if col not in estimates.columns:
            estimates[col] = float("nan") if col != "label" else ""
    fit = _json(path / "fit.json")
    model = path / "model.lav"
    return ResultsFolder(
        path=path, estimates=estimates, fit=fit,
        notes=opt_json("notes.json") or {}, manifest=opt_json("manifest.json") or {},
        hypotheses=opt_csv("hypotheses.csv"), indirect=opt_csv("indirect.csv"), r2=opt_csv("r2.csv"),
        reliability=opt_csv("reliability.csv"), item_stats=opt_csv("item_stats.csv"),
        flags=opt_csv("measurement_flags.csv"), htmt=opt_csv("validity/htmt.csv"),
        htmt_classic=opt_csv("validity/htmt_classic.csv"),
        fornell_larcker=opt_csv("validity/fornell_larcker.csv"), normality=opt_json("normality.json"),
        measurement_estimates=opt_csv("measurement/estimates.csv"), measurement_fit=opt_json("measurement/fit.json"),
        screening=opt_json("screening.json"), invariance=opt_csv("invariance.csv"),
        group_paths=opt_csv("group_paths.csv"),
        model_syntax=model.read_text(encoding="utf-8") if model.is_file() else None,
        sample_profile=opt_csv("sample_profile.csv"), descriptives=opt_csv("descriptives.csv"),
        collinearity=_csv_keep(path / "collinearity.csv"), effect_sizes=opt_csv("effect_sizes.csv"),
        model_comparison=opt_csv("model_comparison.csv"),
        figures={p.stem: p for p in sorted((path / "figures").glob("*.svg"))} if (path / "figures").is_dir() else {},
    )


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
