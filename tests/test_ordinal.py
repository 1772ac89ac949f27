"""WLSMV (ordinal) against lavaan 0.6.14: thresholds, polychoric correlations, DWLS estimates, robust
SEs, the scaled-shifted test and fit measures (tests/reference/{hs_wlsmv,med9_wlsmv,ord_zero})."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.exceptions import DataError, OptionError
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.engine.estimators.ordinal import recommend_ordinal
from sem_cocreate.engine.estimators._polychoric import adjust_empty_cells, bvn_cdf, ordinal_stats

from refcases import merged_estimates, reference_case

EST_ATOL = 0.001       # estimates, thresholds, std. estimates (the promised agreement with lavaan)
SE_ATOL = 0.001        # robust standard errors
POLY_ATOL = 1e-6       # polychoric correlations and thresholds: both are exact ML solutions (seen: 3e-8)
CHISQ_RTOL = 1e-4      # chisq, chisq.scaled, baseline chi-squares: 0.01 %
INDEX_ATOL = 0.001     # CFI, TLI, RMSEA (+ interval), SRMR, scaling factor
BVN_ATOL = 1e-12       # Genz's BVN and the Owen's-T closed form are both accurate to ~1e-15

CASES = ["hs_wlsmv", "med9_wlsmv", "ord_zero"]


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            case = reference_case(name)
            with pytest.warns(Warning) if name == "ord_zero" else _nullcontext():
                res = fit_sem(case.model, case.data, estimator="WLSMV")
            cache[name] = (case, res)
        return cache[name]
    return get


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _bvn_owen(h, k, r):
    """Independent reference: Phi2 through Owen's T function (Owen 1956), h, k != 0."""
    from scipy.special import ndtr, owens_t

    s = math.sqrt(1 - r * r)
    ah = (k - r * h) / (h * s)
    ak = (h - r * k) / (k * s)
    beta = 0.5 if (h * k < 0) else 0.0
    return 0.5 * ndtr(h) + 0.5 * ndtr(k) - owens_t(h, ah) - owens_t(k, ak) - beta


def test_bvn_cdf_matches_owens_t():
    rng = np.random.default_rng(7)
    for r in (-0.999, -0.95, -0.93, -0.6, -0.1, 0.0, 0.35, 0.8, 0.92, 0.93, 0.99, 0.999):
        h, k = rng.normal(scale=1.5, size=20), rng.normal(scale=1.5, size=20)
        ref = [_bvn_owen(a, b, r) for a, b in zip(h, k)]
        np.testing.assert_allclose(bvn_cdf(h, k, r), ref, atol=BVN_ATOL, err_msg=f"r={r}")


@pytest.mark.parametrize("name", CASES)
def test_thresholds_and_polychorics_match_lavaan(name):
    case = reference_case(name)
    pc = pd.read_csv(case.file("polychoric.csv"), index_col=0)
    st = ordinal_stats(case.data[list(pc.columns)].to_numpy(float))
    np.testing.assert_allclose(st.cor, pc.to_numpy(), atol=POLY_ATOL)
    th = pd.read_csv(case.file("thresholds.csv"))
    assert th["lhs"].tolist() == [v for i, v in enumerate(pc.columns) for _ in st.thresholds[i]]
    np.testing.assert_allclose(np.concatenate(st.thresholds), th["est"], atol=POLY_ATOL)


@pytest.mark.parametrize("name", CASES)
def test_estimates_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert res.converged
    both = merged_estimates(res, case)
    assert len(res.estimates) == len(case.estimates), "same parameter rows as lavaan"
    assert not both["est"].isna().any(), both.loc[both["est"].isna(), ["lhs", "op", "rhs"]]
    assert (both["op"] == "|").sum() == (case.estimates["op"] == "|").sum()
    for col, tol in (("est", EST_ATOL), ("se", SE_ATOL), ("std.lv", EST_ATOL), ("std.all", EST_ATOL)):
        np.testing.assert_allclose(both[col], both[col + "_lav"], atol=tol, err_msg=col)
    ok = both["pvalue_lav"].notna()
    np.testing.assert_allclose(both.loc[ok, "pvalue"], both.loc[ok, "pvalue_lav"], atol=0.001)
    np.testing.assert_allclose(both["ci.lower"], both["ci.lower_lav"], atol=0.002)


@pytest.mark.parametrize("name", CASES)
def test_fit_measures_match_lavaan(fitted, name):
    case, res = fitted(name)
    lav = case.fit
    for key in ("npar", "df", "baseline.df"):
        assert res.fit[key] == lav[key], key
    for key in ("chisq", "fmin", "chisq.scaled", "baseline.chisq", "baseline.chisq.scaled"):
        assert res.fit[key] == pytest.approx(lav[key], rel=CHISQ_RTOL), key
    for key in ("chisq.scaling.factor", "baseline.chisq.scaling.factor", "pvalue", "pvalue.scaled",
                "cfi", "tli", "cfi.scaled", "tli.scaled", "nfi", "rfi", "ifi", "rni", "nfi.scaled",
                "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "rmsea.notclose.pvalue",
                "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.pvalue.scaled",
                "srmr", "srmr_bentler", "crmr", "wrmr"):
        assert res.fit[key] == pytest.approx(lav[key], abs=INDEX_ATOL), key
    for key in ("logl", "aic", "bic", "cfi.robust", "rmsea.robust"):
        assert math.isnan(res.fit[key]), key          # not defined / not computed for DWLS here


@pytest.mark.parametrize("name", ["hs_wlsmv", "med9_wlsmv"])
def test_r2_matches_lavaan(fitted, name):
    case, res = fitted(name)
    lav = json.loads(case.file("r2.json").read_text())
    ours = dict(zip(res.r2["variable"], res.r2["r2"]))
    for v, val in lav.items():
        assert ours[v] == pytest.approx(val, abs=EST_ATOL), v


def test_empty_cells_as_lavaan(fitted):
    """ord_zero: one 2x2 table with an empty cell (0.5 moved in, margins kept) and a 3x3 one (nothing added)."""
    case, res = fitted("ord_zero")
    st = res.internals["ordinal"]
    names = list(res.spec.ov_names)
    ours = sorted("_".join(sorted((names[i], names[j]))) for i, j in st.empty_pairs)
    lav = sorted("_".join(sorted(t.split("_"))) for t in pd.read_csv(case.file("zero_cells.csv"))["table"])
    assert ours == lav
    assert any("empty cells" in n for n in res.notes)
    assert any("Heywood" in n and "x7d" in n for n in res.notes)   # lavaan: negative ov variance too


def test_adjust_empty_cells_2x2_rules():
    f, fixed = adjust_empty_cells(np.array([[201, 0], [52, 48]]))
    assert fixed is None
    np.testing.assert_allclose(f, [[200.5, 0.5], [52.5, 47.5]])     # margins kept
    assert f.sum(axis=0).tolist() == [253, 48] and f.sum(axis=1).tolist() == [201, 100]
    f, fixed = adjust_empty_cells(np.array([[0, 10], [20, 30]]))
    np.testing.assert_allclose(f, [[0.5, 9.5], [19.5, 30.5]])
    assert adjust_empty_cells(np.array([[5, 0], [0, 7]]))[1] == 1.0
    assert adjust_empty_cells(np.array([[0, 5], [7, 0]]))[1] == -1.0
    f, fixed = adjust_empty_cells(np.array([[3, 0, 2], [1, 4, 0]]))   # larger tables: nothing added
    np.testing.assert_array_equal(f, [[3, 0, 2], [1, 4, 0]])


def test_wlsmv_refuses_what_it_cannot_do():
    case = reference_case("hs_wlsmv")
    data = case.data.copy()
    with pytest.raises(OptionError, match="group"):
        fit_sem(case.model, data, estimator="WLSMV", group="school")
    data["x1"] = 2
    with pytest.raises(DataError, match="single observed category"):
        fit_sem(case.model, data, estimator="WLSMV")
    with pytest.raises(OptionError, match="predict"):
        fit_sem("visual =~ x1 + x2 + x3\nx2 ~ x3", case.data, estimator="WLSMV")
    with pytest.raises(OptionError, match="exogenous covariates"):
        fit_sem("visual =~ x1 + x2 + x3\nvisual ~ x4", case.data, estimator="WLSMV")


def test_recommend_ordinal():
    hs = reference_case("hs_wlsmv").data
    msg = recommend_ordinal(hs, ["x1", "x2", "x3"])
    assert msg is not None and "3 of 3 items" in msg and "wlsmv" in msg
    rng = np.random.default_rng(1)
    normal = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])    # SIMULATED
    assert recommend_ordinal(normal, ["a", "b", "c"]) is None
    skewed = pd.DataFrame(np.round(rng.lognormal(sigma=1.2, size=(300, 3)) * 3), columns=["a", "b", "c"])
    assert "non-normal" in recommend_ordinal(skewed, ["a", "b", "c"])
    with pytest.raises(DataError, match="lack item"):
        recommend_ordinal(hs, ["nope"])
