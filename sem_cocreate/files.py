"""The results folder: safe creation, writing tables, and the manifest (versions, seed, input hashes).

Everything the report needs is written here as CSV/JSON, so ``report DIR`` never refits.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import OutputError

DEPENDENCIES = ("numpy", "scipy", "pandas", "semopy", "statsmodels", "pingouin", "pyyaml", "pydantic",
                "jinja2", "openpyxl", "pyreadstat", "joblib", "python-docx", "dask")


def _os_message(err: OSError, what: str) -> str:
    """One line for an operating-system error while writing ``what``."""
    import errno

    reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EROFS: "the file system is read-only", errno.ENAMETOOLONG: "a name is too long",
              errno.ENOSPC: "no space left on the device", errno.EISDIR: "a folder is in the way",
              errno.ENOTDIR: "a file is in the way of a folder", errno.ELOOP: "a symbolic link is in the way",
              errno.EEXIST: "a file is in the way"}.get(err.errno, err.strerror or type(err).__name__)
    return f"{what}: cannot write ({reason}); choose another --out"


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def check_inputs_outside(out, inputs=()) -> None:
    """Refuse an ``out`` that is an input file, or contains one (writing or replacing ``out`` would
    overwrite or delete it). Symbolic links are resolved on both sides."""
    target = Path(out).resolve()
    for inp in inputs:
        if inp is None:
            continue
        ip = Path(inp).resolve()
        if ip == target:
            raise OutputError(f"--out {out} is the input file {inp}; choose another name (inputs are never written)")
        if _inside(ip, target):
            raise OutputError(f"--out {out} contains the input file {inp}; choose another results folder "
                              "(inputs are never written)")


def prepare_out_dir(out, *, overwrite: bool, inputs=(), own_folder: bool = False) -> Path:
    """Create ``out`` (refusing an existing non-empty folder unless ``overwrite``) and check that no
    input file lies inside it, so inputs are never written.

    ``own_folder`` marks the embedded default study's folder, which the default run may refresh.
    Writing into the folder goes through :func:`write_bytes` (never through a symbolic link);
    :func:`results_folder` is the staged, locked variant for whole runs.
    """
    path = _check_out(out, overwrite=overwrite, inputs=inputs, own_folder=own_folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
    return path


def _short(p, n: int = 80) -> str:
    s = str(p)
    return s if len(s) <= n else s[:n // 2 - 2] + "…" + s[-(n // 2 - 1):]


class ResultsFolder:
    """A results folder being written: files go into ``tmp`` (a fresh folder beside ``out``) and
    the end of :func:`results_folder` moves it into place."""

    def __init__(self, out: Path, tmp: Path):
        self.out = out
        self.tmp = tmp

    def final(self, path) -> Path:
        """Where a path inside ``tmp`` will be after the commit."""
        p = Path(path)
        return self.out / p.relative_to(self.tmp) if _inside(p, self.tmp) else p


_HELD: dict[str, int] = {}    # lock files this process holds (path -> number of holders)


def _lock(out: Path):
    """An exclusive, non-blocking lock on ``.<name>.lock`` beside ``out`` (released when the process
    ends, however it ends); OutputError if another run holds it. Re-entrant within one process."""
    lock_path = out.parent / f".{out.name}.lock"
    key = str(lock_path.resolve())
    if key in _HELD:
        _HELD[key] += 1
        return None, lock_path
    for _attempt in range(20):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as err:
            raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:   # Windows: no advisory lock; the staged folder still keeps runs apart
            break
        except OSError:
            os.close(fd)
            raise OutputError(f"--out {_short(out)} is being written by another run; wait for it to end "
                              "or choose another folder") from None
        # the run that held the lock unlinks the file when it ends: a lock taken on that unlinked file
        # would not exclude a third run that creates a new one, so lock again until the name is ours
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock_path, follow_symlinks=False))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    else:
        raise OutputError(f"--out {_short(out)}: its lock file {lock_path.name} keeps changing; another run "
                          "is starting there, choose another folder")
    _HELD[key] = 1
    return fd, lock_path


def _unlock(fd, lock_path: Path) -> None:
    key = str(lock_path.resolve())
    _HELD[key] = _HELD.get(key, 1) - 1
    if _HELD[key] > 0:
        return
    del _HELD[key]
    try:
        lock_path.unlink()
    except OSError:
        pass
    if fd is not None:
        os.close(fd)


def _check_names(out: Path) -> None:
    for part in out.parts:
        if len(part.encode("utf-8", "surrogatepass")) > 255:
            raise OutputError(f"--out {_short(out)}: a folder name of {len(part)} characters is longer than the "
                              "file system allows (255 bytes); choose a shorter name")


def _check_out(out, *, overwrite: bool, inputs, own_folder: bool) -> Path:
    """The checks every results folder gets before anything is written (one-line :class:`OutputError`):
    name length, not a symbolic link or a file, no input inside it, not a non-empty folder without
    ``overwrite`` (the embedded default study may refresh its own folder)."""
    path = Path(out)
    _check_names(path)
    if path.is_symlink():
        raise OutputError(f"--out {out} is a symbolic link; give a real folder")
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {out}: a file of that name exists; choose a folder name")
    check_inputs_outside(path, inputs)
    try:
        if path.exists() and any(path.iterdir()) and not overwrite:
            if not (own_folder and (path / "manifest.json").exists()):
                raise OutputError(f"--out {out} exists and is not empty; choose a new folder or add --overwrite")
    except OutputError:       # an OSError subclass: pass it on as it is
        raise
    except OSError as err:
        raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
    return path


@contextmanager
def claim_out_dir(out, *, overwrite: bool, inputs=(), own_folder: bool = False):
    """Check ``out`` before any work and hold its lock for the whole run.

    Refuses (one line, :class:`OutputError`) a symbolic link, a file, a name too long, an existing
    non-empty folder without ``overwrite``, an ``out`` that is or contains an input, a place that
    cannot be written (read-only, no permission: tried by creating a temporary folder there), and an
    ``out`` another run is writing. :func:`results_folder` inside the block reuses the lock.
    """
    import tempfile

    path = _check_out(out, overwrite=overwrite, inputs=inputs, own_folder=own_folder)
    try:
        base = path.absolute().parent
        while not base.exists():
            base = base.parent
        if not base.is_dir():
            raise NotADirectoryError(20, "not a directory")
        os.rmdir(tempfile.mkdtemp(prefix=".sem_cocreate-probe-", dir=base))
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
    fd, lock_path = _lock(path)
    try:
        yield path
    finally:
        _unlock(fd, lock_path)


@contextmanager
def results_folder(out, *, overwrite: bool, inputs=(), own_folder: bool = False):
    """Stage a whole results folder: lock ``out``, write into a fresh temporary folder beside it, move
    it into place when the block ends without error (replacing the old folder under ``overwrite``).

    An interrupted or failed run leaves no half-written ``out`` (the temporary folder is removed), so
    the same command can simply be run again; two runs on one ``out`` cannot mix their files (the
    second is refused); the fresh folder holds no symbolic link to write through; an ``out`` that is or
    contains an input file is refused before anything is written.

    Yields
    ------
    ResultsFolder
        ``.tmp`` is the folder to write into; ``.final(path)`` maps a written path to its final place.
    """
    import shutil
    import tempfile

    path = _check_out(out, overwrite=overwrite, inputs=inputs, own_folder=own_folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
    fd, lock_path = _lock(path)
    tmp = None
    try:
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name[:100]}.tmp-", dir=path.parent))
            # the stage carries out's own name (the report names its folder)
            (tmp / path.name).mkdir(mode=0o777)
            os.chmod(tmp, 0o700)
        except OSError as err:
            raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
        yield ResultsFolder(path, tmp / path.name)
        old = None
        try:
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name[:100]}.old-", dir=path.parent))
                os.replace(path, old / "d")
            os.replace(tmp / path.name, path)
        except OSError as err:
            if old is not None and (old / "d").exists() and not path.exists():
                os.replace(old / "d", path)   # put the previous results back
            raise OutputError(_os_message(err, f"--out {_short(out)}")) from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)   # rmtree removes links, never follows them
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _unlock(fd, lock_path)


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` without following a symbolic link: a fresh temporary file in the same
    folder, then an atomic rename over the name (which replaces a link, never its target).

    Raises OutputError (one line) when the place cannot be written or a folder is in the way.
    """
    import tempfile

    path = Path(path)
    try:
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(21, "is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as err:
        raise OutputError(_os_message(err, _short(path))) from None
    return path


def write_text(path, text: str, *, encoding: str = "utf-8") -> Path:
    """:func:`write_bytes` of ``text`` encoded."""
    return write_bytes(path, text.encode(encoding))


# ------------------------------------------------------------------ spreadsheet formulas (CSV injection)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: lavaan's operators are the ``op`` column of estimates.csv and stay as lavaan writes them (a
#: spreadsheet shows ``=~`` as an error cell, it runs nothing).
_LAVAAN_OPS = frozenset({"=~", "~~", "~", "~1", ":=", "==", "<", ">", "|", "~*~", "<~", "=="})


def inert_cell(value):
    """A text cell a spreadsheet will not evaluate (OWASP CSV-injection guidance): text starting with
    ``= + - @``, tab or carriage return gets a leading ``'``. Numbers, and text that is a plain number
    (``-1``, ``+2.5``), are left alone."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START) or value in _LAVAAN_OPS:
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def inert_frame(df):
    """``df`` with every text cell, column name and index label made inert (:func:`inert_cell`)."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype):
            out[c] = col.astype(object).map(inert_cell)
    out.columns = [inert_cell(c) for c in out.columns]
    if out.index.dtype == object:
        out.index = pd.Index([inert_cell(v) for v in out.index], name=out.index.name)
    return out


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
    return write_text(path, json.dumps(_clean(obj), indent=2, ensure_ascii=False) + "\n")


def write_csv(path, df, *, index: bool | None = None) -> Path:
    """Write a table; a labelled index (e.g. construct-by-construct matrices) is written as the
    first column ``construct`` unless ``index`` says otherwise."""
    import pandas as pd

    return write_text(path, csv_text(df, index=index))


def csv_text(df, *, index: bool | None = None) -> str:
    """The text :func:`write_csv` writes for a table."""
    import pandas as pd

    if index is None:
        index = not isinstance(df.index, pd.RangeIndex)
    if index and df.index.name is None:
        df = df.rename_axis("construct")
    return _whole_floats_as_int(inert_frame(df)).to_csv(index=index, float_format="%.10g", lineterminator="\n")


def _whole_floats_as_int(df):
    """Float columns holding only whole numbers below 1e10 (answers, codes, counts) as nullable integers:
    the same text as ``%.10g`` ("5", "" for missing), written by pandas' vectorised integer path instead of
    one Python format call per cell (the cleaned data of 100,000 respondents: seconds, not tens)."""
    import numpy as np
    import pandas as pd

    out = None
    for j, (name, col) in enumerate(df.items()):
        if col.dtype != np.float64:
            continue
        v = col.to_numpy()
        fin = v[~np.isnan(v)]
        if not fin.size or not (np.isfinite(fin).all() and (np.abs(fin) < 1e10).all()
                                and (fin == np.round(fin)).all() and not np.signbit(fin[fin == 0]).any()):
            continue
        if out is None:
            out = df.copy()
        out.isetitem(j, col.astype("Int64"))
    return df if out is None else out


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
    "mediation_types": "mediation_types.csv",
    "group_paths_moderators": "group_paths_moderators.csv",
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
    if hasattr(obj, "to_csv"):
        return write_csv(path, obj)
    if isinstance(obj, str):
        return write_text(path, obj)
    return write_json(path, obj)
