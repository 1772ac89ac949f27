"""ML estimates, standard errors, standardized solutions and fit measures against lavaan 0.6.14."""

from __future__ import annotations

import numpy as np
import pytest

from sem_cocreate.engine.fit import fit_sem

from refcases import assert_fit_measures_match, merged_estimates, reference_case

EST_ATOL = 0.001     # estimates and std. estimates (the promised agreement with lavaan)
SE_ATOL = 0.001      # standard errors

ML_CASES = ["hs_cfa", "pol_dem", "hs_fixed", "paths_obs", "med9", "bfi5_ml"]


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            case = reference_case(name)
            cache[name] = (case, fit_sem(case.model, case.data))
        return cache[name]
    return get


@pytest.mark.parametrize("name", ML_CASES)
def test_estimates_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert res.converged
    both = merged_estimates(res, case)
    assert len(both) == len(case.estimates)
    assert len(res.estimates) == len(case.estimates), "same parameter rows as lavaan"
    assert not both["est"].isna().any(), both.loc[both["est"].isna(), ["lhs", "op", "rhs"]]
    np.testing.assert_allclose(both["est"], both["est_lav"], atol=EST_ATOL)
    np.testing.assert_allclose(both["se"], both["se_lav"], atol=SE_ATOL)
    np.testing.assert_allclose(both["std.all"], both["std.all_lav"], atol=EST_ATOL)
    np.testing.assert_allclose(both["std.lv"], both["std.lv_lav"], atol=EST_ATOL)
    ok = both["pvalue_lav"].notna()
    np.testing.assert_allclose(both.loc[ok, "pvalue"], both.loc[ok, "pvalue_lav"], atol=0.001)
    np.testing.assert_allclose(both["ci.lower"], both["ci.lower_lav"], atol=0.002)


@pytest.mark.parametrize("name", ML_CASES)
def test_fit_measures_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert_fit_measures_match(res.fit, case.fit)


@pytest.mark.parametrize("name", ["pol_dem", "med9", "hs_cfa"])
def test_r2_matches_lavaan(fitted, name):
    import json

    case, res = fitted(name)
    lav = json.loads(case.file("r2.json").read_text())
    ours = dict(zip(res.r2["variable"], res.r2["r2"]))
    assert set(ours) == set(lav)
    for k, v in lav.items():
        assert ours[k] == pytest.approx(v, abs=EST_ATOL), k
