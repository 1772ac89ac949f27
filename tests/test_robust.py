"""MLR (Huber-White SEs, Yuan-Bentler Mplus scaled test, scaled and robust fit indices) against
lavaan 0.6.14 ``estimator = "MLR"`` on complete data (listwise), and the pieces it is built from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.engine.estimators.robust import incremental_indices, rmsea_interval, rmsea_value

from refcases import merged_estimates, reference_case

EST_ATOL = 0.001     # estimates and std. estimates (the promised agreement with lavaan)
SE_ATOL = 0.001      # (robust) standard errors
CHISQ_RTOL = 1e-4    # chi-square (plain and scaled), logl, AIC, BIC: 0.01 %
INDEX_ATOL = 0.001   # CFI/TLI/RMSEA (+ interval)/SRMR, scaled and robust versions, scaling factors

MLR_CASES = ["bfi5_mlr", "med9_mlr"]

STAT_KEYS = ["chisq", "chisq.scaled", "baseline.chisq", "baseline.chisq.scaled", "logl",
             "unrestricted.logl", "aic", "bic"]
INDEX_KEYS = ["chisq.scaling.factor", "baseline.chisq.scaling.factor", "scaling.factor.h1",
              "scaling.factor.h0", "pvalue.scaled", "cfi", "tli", "cfi.scaled", "tli.scaled",
              "cfi.robust", "tli.robust", "nnfi.robust", "rni.robust", "nfi.scaled", "rfi.scaled",
              "ifi.scaled", "pnfi.scaled", "rni.scaled", "rmsea", "rmsea.scaled",
              "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.robust",
              "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "rmsea.pvalue.robust",
              "rmsea.notclose.pvalue.robust", "rmsea.notclose.pvalue.scaled", "srmr"]
COUNT_KEYS = ["npar", "df", "df.scaled", "baseline.df.scaled", "ntotal"]


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            case = reference_case(name)
            cache[name] = (case, fit_sem(case.model, case.data, estimator="MLR"))
        return cache[name]
    return get


@pytest.mark.parametrize("name", MLR_CASES)
def test_mlr_estimates_and_robust_se_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert res.converged
    assert res.estimator == "MLR"
    both = merged_estimates(res, case)
    assert len(res.estimates) == len(case.estimates)
    assert not both["est"].isna().any()
    for col, tol in (("est", EST_ATOL), ("se", SE_ATOL), ("std.all", EST_ATOL), ("std.lv", EST_ATOL),
                     ("ci.lower", SE_ATOL * 2), ("ci.upper", SE_ATOL * 2)):
        np.testing.assert_allclose(both[col].astype(float), both[col + "_lav"].astype(float),
                                   atol=tol, err_msg=col)


@pytest.mark.parametrize("name", MLR_CASES)
def test_mlr_fit_measures_match_lavaan(fitted, name):
    case, res = fitted(name)
    lav = case.fit
    for key in STAT_KEYS:
        assert res.fit[key] == pytest.approx(lav[key], rel=CHISQ_RTOL), key
    for key in INDEX_KEYS:
        assert res.fit[key] == pytest.approx(lav[key], abs=INDEX_ATOL), key
    for key in COUNT_KEYS:
        assert res.fit[key] == lav[key], key


def test_robust_se_differ_from_ml_se():
    """The sandwich changes the SEs on non-normal Likert data (else the test above proves little)."""
    case = reference_case("bfi5_mlr")
    ml = reference_case("bfi5_ml").estimates
    lav = case.estimates
    both = lav.merge(ml, on=["lhs", "op", "rhs"], suffixes=("", "_ml"))
    assert (both["se"] - both["se_ml"]).abs().max() > 0.005


def test_incremental_indices_follow_lavaan_definitions():
    # bfi5_mlr: chisq, df, baseline chisq/df and lavaan's rfi/ifi/pnfi
    ref = reference_case("bfi5_mlr").fit
    ind = incremental_indices(ref["chisq"], ref["df"], ref["baseline.chisq"], ref["baseline.df"])
    for key in ("cfi", "tli", "nfi", "rfi", "pnfi", "ifi", "rni"):
        assert ind[key] == pytest.approx(ref[key], abs=1e-9), key


def test_rmsea_helpers_reproduce_lavaan_plain_rmsea():
    ref = reference_case("bfi5_mlr").fit
    N, df, x2 = ref["ntotal"], ref["df"], ref["chisq"]
    assert rmsea_value(x2, df, N) == pytest.approx(ref["rmsea"], abs=1e-9)
    lo, hi = rmsea_interval(x2, df, N)
    assert lo == pytest.approx(ref["rmsea.ci.lower"], abs=1e-6)
    assert hi == pytest.approx(ref["rmsea.ci.upper"], abs=1e-6)
