"""Reference cases under tests/reference/<case>/ (lavaan / semTools / psych outputs written by the
R scripts in tests/reference/R/). Tests import from here; they never call R."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

REF = Path(__file__).parent / "reference"


@dataclass(frozen=True)
class RefCase:
    name: str
    folder: Path
    meta: dict

    @property
    def model(self) -> str:
        return (self.folder / "model.lav").read_text(encoding="utf-8")

    @property
    def data(self) -> pd.DataFrame:
        return load_case_data(self.name)

    @property
    def estimates(self) -> pd.DataFrame:
        est = pd.read_csv(self.folder / "estimates.csv", keep_default_na=False, na_values=[""],
                          dtype={"label": str, "rhs": str, "lhs": str})
        est["label"] = est["label"].fillna("")
        est["rhs"] = est["rhs"].fillna("")
        return est

    @property
    def fit(self) -> dict:
        return json.loads((self.folder / "fit.json").read_text())

    def file(self, name: str) -> Path:
        return self.folder / name

    def __str__(self) -> str:
        return self.name


@lru_cache(maxsize=None)
def load_case_data(name: str) -> pd.DataFrame:
    case = reference_case(name)
    data = pd.read_csv((case.folder / case.meta["data"]).resolve())
    for col, rule in (case.meta.get("recode") or {}).items():
        if rule.replace(" ", "") == "7-x":
            data[col] = 7 - data[col]
        else:  # pragma: no cover - guard against a new rule nobody implemented
            raise ValueError(f"unknown recode rule {rule!r}")
    return data


def reference_case(name: str) -> RefCase:
    folder = REF / name
    meta = json.loads((folder / "meta.json").read_text())
    return RefCase(name, folder, meta)


def reference_cases(*names: str) -> list[RefCase]:
    return [reference_case(n) for n in names]


def merged_estimates(result, case, keys=("lhs", "op", "rhs")) -> pd.DataFrame:
    """lavaan's rows (suffix ``_lav``) joined to ours on ``keys`` (add ``group`` for multi-group).

    lavaan writes a covariance once, in its own lhs/rhs order; ours may be written the other way
    round, so ``~~`` rows are matched in both orders. Rows of lavaan without a match keep NaN in our
    columns (the tests assert there are none).
    """
    est = result.estimates
    swapped = est[est["op"] == "~~"].rename(columns={"lhs": "rhs", "rhs": "lhs"})
    swapped = swapped[swapped["lhs"] != swapped["rhs"]]
    ours = pd.concat([est, swapped], ignore_index=True).drop_duplicates(subset=list(keys), keep="first")
    return case.estimates.merge(ours, on=list(keys), suffixes=("_lav", ""), how="left")


CHISQ_RTOL = 1e-4    # chi-square, logl, AIC, BIC: the contract's 0.01 %
INDEX_ATOL = 0.001   # CFI, TLI, RMSEA (+ interval and p-close), SRMR, p-values


def assert_fit_measures_match(fit, lav: dict) -> None:
    """Every standard ML fit measure of ``fit`` (a Series) equals lavaan's within the contract."""
    import pytest

    for key in ("chisq", "logl", "aic", "bic", "unrestricted.logl", "baseline.chisq"):
        assert fit[key] == pytest.approx(lav[key], rel=CHISQ_RTOL), key
    for key in ("npar", "df", "ntotal", "baseline.df"):
        assert fit[key] == lav[key], key
    for key in ("cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "pvalue"):
        assert fit[key] == pytest.approx(lav[key], abs=INDEX_ATOL), key
