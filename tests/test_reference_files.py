"""Every lavaan reference case folder under tests/reference/ is complete and readable.

A case folder is any directory under ``tests/reference/`` other than ``R/`` and ``data/``. Each must hold
``model.lav``, ``meta.json``, ``estimates.csv`` and ``fit.json`` in the format of the reference-file notes:
``estimates.csv`` has lavaan's ``parameterEstimates()`` columns and at least one row, and ``meta.json`` names its
case and a data file that exists. Comparison folders (``COMPARISON_CASES``: likelihood-ratio tables over fits
kept in other case folders) need only ``model.lav`` and ``meta.json``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"
NOT_CASES = {"R", "data", "__pycache__"}
REQUIRED_FILES = ("model.lav", "meta.json", "estimates.csv", "fit.json")
REQUIRED_COLUMNS = (
    "lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all",
)
# cases written by tests/reference/R/make_reference_core.R; they must always be present
CORE_CASES = ("pol_dem", "hs_cfa", "hs_fixed", "paths_obs", "med9", "med9_boot", "med9_mc")
# folders that compare several fits held in other case folders (lavTestLRT tables etc.): they have model.lav and
# meta.json but no single-fit estimates.csv / fit.json (written by R/make_reference_estimators.R)
COMPARISON_CASES = {"bfi5_invariance", "roles_invariance"}


def _case_dirs() -> list[Path]:
    return sorted(p for p in REFERENCE_DIR.iterdir() if p.is_dir() and p.name not in NOT_CASES)


def _is_table_case(path: Path) -> bool:
    """Folders of R tables that are not one lavaan fit (psych::describe, lm VIF, ...): their meta.json
    lists the files it holds under ``files``."""
    meta = path / "meta.json"
    return (meta.is_file() and not (path / "estimates.csv").exists()
            and isinstance(json.loads(meta.read_text()).get("files"), dict))


CASE_DIRS = _case_dirs()
TABLE_CASE_DIRS = [p for p in CASE_DIRS if _is_table_case(p)]
FIT_CASE_DIRS = [p for p in CASE_DIRS if p.name not in COMPARISON_CASES and p not in TABLE_CASE_DIRS]


@pytest.mark.parametrize("case_dir", TABLE_CASE_DIRS, ids=lambda p: p.name)
def test_table_case_holds_the_files_its_meta_lists(case_dir: Path) -> None:
    meta = json.loads((case_dir / "meta.json").read_text())
    missing = [f for f in meta["files"] if not (case_dir / f).is_file()]
    assert not missing, f"{case_dir.name}: missing {missing}"
    assert (case_dir / meta["data"]).resolve().is_file() if "data" in meta else True


def test_core_cases_present() -> None:
    names = {p.name for p in CASE_DIRS}
    missing = [c for c in CORE_CASES if c not in names]
    assert not missing, f"reference case folders missing: {missing}"


@pytest.mark.parametrize("case_dir", [p for p in CASE_DIRS if p not in TABLE_CASE_DIRS], ids=lambda p: p.name)
def test_case_has_required_files(case_dir: Path) -> None:
    required = REQUIRED_FILES[:2] if case_dir.name in COMPARISON_CASES else REQUIRED_FILES
    missing = [f for f in required if not (case_dir / f).is_file()]
    assert not missing, f"{case_dir.name}: missing {missing}"
    assert (case_dir / "model.lav").read_text(encoding="utf-8").strip(), f"{case_dir.name}: empty model.lav"


@pytest.mark.parametrize("case_dir", FIT_CASE_DIRS, ids=lambda p: p.name)
def test_estimates_columns_and_rows(case_dir: Path) -> None:
    with open(case_dir / "estimates.csv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [r for r in reader if r]
    absent = [c for c in REQUIRED_COLUMNS if c not in header]
    assert not absent, f"{case_dir.name}/estimates.csv lacks columns {absent}"
    assert rows, f"{case_dir.name}/estimates.csv has no rows"
    assert all(len(r) == len(header) for r in rows), f"{case_dir.name}/estimates.csv has ragged rows"
    est = header.index("est")
    for r in rows:
        float(r[est])  # every estimate is a number


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=lambda p: p.name)
def test_meta_names_case_and_existing_data(case_dir: Path) -> None:
    meta = json.loads((case_dir / "meta.json").read_text(encoding="utf-8"))
    assert meta.get("case") == case_dir.name
    if case_dir in TABLE_CASE_DIRS:       # R tables (psych, lm): the script and R version are recorded
        assert meta.get("script") and (meta.get("R") or meta.get("lavaan") == "0.6.14")
    else:
        assert meta.get("lavaan") == "0.6.14"
    data = meta.get("data")
    assert isinstance(data, str) and data, f"{case_dir.name}/meta.json has no data path"
    assert (case_dir / data).is_file(), f"{case_dir.name}: data file {data} does not exist"


@pytest.mark.parametrize("case_dir", FIT_CASE_DIRS, ids=lambda p: p.name)
def test_fit_json_has_core_measures(case_dir: Path) -> None:
    fit = json.loads((case_dir / "fit.json").read_text(encoding="utf-8"))
    for key in ("npar", "chisq", "df"):
        assert isinstance(fit.get(key), (int, float)), f"{case_dir.name}/fit.json: {key} missing"
