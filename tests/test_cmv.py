"""cmv.py against psych 2.2.9 (Harman) and lavaan 0.6.14 fits of the single-factor and ULMC models.

The CFA-based checks need a model fitter. These tests pass a small stub that returns lavaan's own
reference output (estimates.csv, fit.json) for the syntax it is given, so they test what cmv.py owns:
the generated syntax (compared with the syntax R fitted), the chi-square difference assembly
(compared with lavTestLRT()) and the loading comparison. Fitting itself is tested with the SEM engine.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.measurement.cmv import harman_single_factor, single_factor_syntax, single_factor_test, ulmc_syntax, ulmc_test
from sem_cocreate.exceptions import ModelSyntaxError, OptionError

REF = Path(__file__).parent / "reference"
CASES = ["meas_bfi", "meas_med9"]
EXACT_ATOL = 1e-6    # Harman shares: eigen decompositions of the same pairwise correlations as psych
LRT_RTOL = 1e-9      # chi-square differences from the same lavaan chi-squares


def load_case(case):
    ref = REF / case
    meta = json.loads((ref / "meta.json").read_text())
    data = pd.read_csv(ref / meta["data"])
    for item in meta["recode"]:
        data[item] = 7 - data[item]
    return ref, data, (ref / "model.lav").read_text()


def lavaan_stub(ref):
    """fit(syntax, data) returning lavaan's saved result for the syntax R fitted (see module docstring)."""
    stems = {"model": "", "onefactor": "onefactor_", "ulmc": "ulmc_", "ulmc_equal": "ulmc_equal_"}
    by_syntax = {(ref / f"{k}.lav").read_text().strip(): v for k, v in stems.items()}
    calls = []

    def fit(syntax, data):
        stem = by_syntax[syntax.strip()]            # KeyError: the syntax differs from what R fitted
        calls.append(stem)
        return SimpleNamespace(estimates=pd.read_csv(ref / f"{stem}estimates.csv"),
                               fit=pd.Series(json.loads((ref / f"{stem}fit.json").read_text())))
    fit.calls = calls
    return fit


def lrt_row(ref, name):
    t = pd.read_csv(ref / name)
    return t.dropna(subset=["Chisq diff"]).iloc[0]


@pytest.mark.parametrize("case", CASES)
def test_harman_matches_psych(case):
    ref, data, syntax = load_case(case)
    items = pd.read_csv(ref / "describe.csv")["item"].tolist()
    want = json.loads((ref / "harman.json").read_text())
    pc = harman_single_factor(data[items])
    pa = harman_single_factor(data[items], method="pa")
    assert pc["share"] == pytest.approx(want["pc_share"], abs=EXACT_ATOL)
    assert pa["share"] == pytest.approx(want["pa_share"], abs=EXACT_ATOL)
    np.testing.assert_allclose(pa["loadings"], list(want["pa_loadings"].values()), atol=EXACT_ATOL)
    assert pc["exceeds_half"] is False


@pytest.mark.parametrize("case", CASES)
def test_generated_syntax_is_what_lavaan_fitted(case):
    ref, data, syntax = load_case(case)
    assert single_factor_syntax(syntax) == (ref / "onefactor.lav").read_text().strip()
    assert ulmc_syntax(syntax) == (ref / "ulmc.lav").read_text().strip()
    assert ulmc_syntax(syntax, method_loadings="equal") == (ref / "ulmc_equal.lav").read_text().strip()


@pytest.mark.parametrize("case", CASES)
def test_single_factor_test_matches_lavtestlrt(case):
    ref, data, syntax = load_case(case)
    out = single_factor_test(syntax, data, fit=lavaan_stub(ref))
    want = lrt_row(ref, "onefactor_lrt.csv")
    assert out["model"].tolist() == ["measurement", "single_factor"]
    row = out.iloc[1]
    assert row["delta.chisq"] == pytest.approx(want["Chisq diff"], rel=LRT_RTOL)
    assert row["delta.df"] == want["Df diff"]
    assert row["delta.pvalue"] == pytest.approx(want["Pr(>Chisq)"], abs=1e-12)
    assert row["chisq"] > out.iloc[0]["chisq"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("variant", "stem"), [("free", "ulmc_"), ("equal", "ulmc_equal_")])
def test_ulmc_matches_lavaan(case, variant, stem):
    ref, data, syntax = load_case(case)
    fit = lavaan_stub(ref)
    res = ulmc_test(syntax, data, fit=fit, method_loadings=variant)
    assert fit.calls == ["", stem]
    want = lrt_row(ref, f"{stem}lrt.csv")
    row = res.comparison.iloc[1]
    assert row["delta.chisq"] == pytest.approx(want["Chisq diff"], rel=1e-6)
    assert row["delta.df"] == want["Df diff"]
    est0 = pd.read_csv(ref / "estimates.csv")
    est1 = pd.read_csv(ref / f"{stem}estimates.csv")
    ld0 = est0[est0["op"] == "=~"]
    assert len(res.loadings) == len(ld0)
    np.testing.assert_allclose(res.loadings["loading"], ld0["std.all"], atol=1e-12)
    ld1 = est1[(est1["op"] == "=~") & (est1["lhs"] != "METHOD")]
    m1 = est1[(est1["op"] == "=~") & (est1["lhs"] == "METHOD")].set_index("rhs")
    np.testing.assert_allclose(res.loadings["loading_ulmc"], ld1["std.all"], atol=1e-12)
    np.testing.assert_allclose(res.loadings["method_loading"], m1.loc[res.loadings["item"], "std.all"], atol=1e-12)
    np.testing.assert_allclose(res.loadings["diff"], res.loadings["loading_ulmc"] - res.loadings["loading"])
    assert res.mean_method_share == pytest.approx((m1["std.all"] ** 2).mean())
    negative = est1[(est1["op"] == "~~") & (est1["lhs"] == est1["rhs"]) & (est1["est"] < 0)]
    assert len(res.notes) == len(negative)


def test_ulmc_free_on_simulated_data_reports_improper_solution():
    ref, data, syntax = load_case("meas_med9")
    res = ulmc_test(syntax, data, fit=lavaan_stub(ref))
    assert any("negative variance of PS" in n for n in res.notes)


def test_errors_name_the_problem():
    ref, data, syntax = load_case("meas_med9")
    with pytest.raises(ModelSyntaxError, match="no '=~'"):
        single_factor_syntax("y ~ x")
    with pytest.raises(OptionError, match="method_loadings"):
        ulmc_syntax(syntax, method_loadings="fixed")
    with pytest.raises(OptionError, match="fit= must be a callable"):
        single_factor_test(syntax, data, fit=None)
    with pytest.raises(OptionError, match="method="):
        harman_single_factor(data[["ps1", "ps2"]], method="ml")
