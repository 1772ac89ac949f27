"""The results folder: safe creation, writing tables, and the manifest (versions, seed, input hashes).

Everything the report needs is written here as CSV/JSON, so ``report DIR`` never refits.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import OutputError

DEPENDENCIES = ("numpy", "scipy", "pandas", "semopy", "statsmodels", "pingouin", "pyyaml", "pydantic",
                "jinja2", "openpyxl", "pyreadstat", "joblib", "python-docx", "dask")


def prepare_out_dir(out, *, overwrite: bool, inputs=(), own_folder: bool = False) -> Path:
    """Create ``out`` (refusing an existing non-empty folder unless ``overwrite``) and check that no
    input file lies inside it, so inputs are never written.

    ``own_folder`` marks the embedded default study's folder, which the default run may refresh.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {out}: a file of that name exists; choose a folder name")
    for inp in inputs:
        if inp is None:
            continue
        ip = Path(inp).resolve()
        try:
            ip.relative_to(path.resolve())
            raise OutputError(f"--out {out} contains the input file {inp}; choose another results folder "
                              "(inputs are never written)")
        except ValueError:
            pass
    if path.exists() and any(path.iterdir()) and not overwrite:
        if not (own_folder and (path / "manifest.json").exists()):
            raise OutputError(f"--out {out} exists and is not empty; choose a new folder or add --overwrite")
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from ._version import __version__

    out = {"python": sys.version.split()[0], "sem_cocreate": __version__, "platform": platform.platform()}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _clean(obj: Any):
    """JSON-safe: NaN/inf → None, numpy scalars → Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if (math.isnan(v) or math.isinf(v)) else v
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(obj), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_csv(path, df, *, index: bool | None = None) -> Path:
    """Write a table; a labelled index (e.g. construct-by-construct matrices) is written as the
    first column ``construct`` unless ``index`` says otherwise."""
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if index is None:
        index = not isinstance(df.index, pd.RangeIndex)
    if index and df.index.name is None:
        df = df.rename_axis("construct")
    df.to_csv(path, index=index, float_format="%.10g", lineterminator="\n")
    return path


def read_json(path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def build_manifest(*, argv, seed, inputs: dict[str, Any], started: datetime, options: dict,
                   files: list[str], extra: dict | None = None) -> dict:
    """The manifest: versions, command line, seed, sha256 of every input, start and end time."""
    hashes = {}
    for role, p in inputs.items():
        if p is None:
            continue
        hashes[role] = {"path": str(p), "sha256": sha256_file(p)}
    ended = datetime.now(timezone.utc)
    man = {
        "tool": "sem_cocreate",
        "versions": package_versions(),
        "command": ["python", "-m", "sem_cocreate", *argv] if argv is not None else None,
        "seed": seed,
        "options": options,
        "inputs": hashes,
        "started": started.isoformat(timespec="seconds"),
        "ended": ended.isoformat(timespec="seconds"),
        "seconds": round((ended - started).total_seconds(), 3),
        "files": sorted(files),
    }
    if extra:
        man.update(extra)
    return man


# ----------------------------------------------------------------------------- the results-file registry

#: Every file of a results folder, by key: ``fit``/``StudyResult.write`` writes by these names and
#: ``report DIR`` reads by them (:mod:`sem_cocreate.report.folder`), so the two never disagree.
RESULT_FILES: dict[str, str] = {
    "estimates": "estimates.csv",
    "fit": "fit.json",
    "r2": "r2.csv",
    "indirect": "indirect.csv",
    "hypotheses": "hypotheses.csv",
    "model": "model.lav",
    "notes": "notes.json",
    "manifest": "manifest.json",
    "screening": "screening.json",
    "exclusions": "exclusions.csv",
    "cleaned_data": "cleaned_data.csv",
    "reliability": "reliability.csv",
    "item_stats": "item_stats.csv",
    "measurement_flags": "measurement_flags.csv",
    "htmt": "validity/htmt.csv",
    "htmt_classic": "validity/htmt_classic.csv",
    "htmt_ci": "validity/htmt_ci.csv",
    "fornell_larcker": "validity/fornell_larcker.csv",
    "normality": "normality.json",
    "exploratory": "exploratory.json",
    "measurement_estimates": "measurement/estimates.csv",
    "measurement_fit": "measurement/fit.json",
    "cmv_harman": "cmv/harman.json",
    "cmv_single_factor": "cmv/single_factor.csv",
    "cmv_ulmc_fit": "cmv/ulmc_fit.csv",
    "cmv_ulmc_loadings": "cmv/ulmc_loadings.csv",
    "cmv_ulmc": "cmv/ulmc.json",
    "invariance": "invariance.csv",
    "invariance_scores": "invariance_scores.csv",
    "group_paths": "group_paths.csv",
    "model_comparison": "model_comparison.csv",
    "modindices": "modindices.csv",
    "residuals": "residuals.csv",
    "sample_profile": "sample_profile.csv",
    "descriptives": "descriptives.csv",
    "collinearity": "collinearity.csv",
    "effect_sizes": "effect_sizes.csv",
}


def result_path(key: str) -> str:
    """The relative path of results file ``key`` (see :data:`RESULT_FILES`)."""
    return RESULT_FILES[key]


def write_result(out_dir, key_or_name: str, obj) -> Path:
    """Write one results file by registry key (or relative name): DataFrame → CSV, str → text, else JSON."""
    name = RESULT_FILES.get(key_or_name, key_or_name)
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(obj, "to_csv"):
        return write_csv(path, obj)
    if isinstance(obj, str):
        path.write_text(obj, encoding="utf-8")
        return path
    return write_json(path, obj)
