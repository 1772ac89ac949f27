"""FIML (``missing = "fiml"``) with ML and MLR against lavaan 0.6.14 (``missing = "ml"``), and the
pattern-wise likelihood machinery against brute-force computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from sem_cocreate.engine.estimators.patterns import (casewise_scores, em_saturated, h1_information, loglik,
                                                  loglik_grad, pattern_data, vech_index)
from sem_cocreate.engine.fit import fit_sem

from refcases import merged_estimates, reference_case

EST_ATOL = 0.001     # estimates and std. estimates (the promised agreement with lavaan)
SE_ATOL = 0.001      # standard errors (observed information; sandwich under MLR)
CHISQ_RTOL = 1e-4    # chi-square (plain and scaled), logl, AIC, BIC: 0.01 %
INDEX_ATOL = 0.001   # CFI/TLI/RMSEA (+ interval)/SRMR, scaled and robust versions

FIML_CASES = ["bfi5_fiml", "bfi5_fiml_mlr", "med9_fiml", "med9_fiml_mlr"]

STAT_KEYS = ["chisq", "baseline.chisq", "logl", "unrestricted.logl", "aic", "bic", "bic2", "fmin"]
INDEX_KEYS = ["pvalue", "cfi", "tli", "nnfi", "nfi", "rfi", "ifi", "rni", "pnfi", "rmsea",
              "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "cfi.robust", "tli.robust", "rni.robust",
              "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust",
              "rmsea.notclose.pvalue.robust"]
MLR_STAT_KEYS = ["chisq.scaled", "baseline.chisq.scaled"]
MLR_INDEX_KEYS = ["chisq.scaling.factor", "baseline.chisq.scaling.factor", "scaling.factor.h1",
                  "scaling.factor.h0", "cfi.scaled", "tli.scaled", "rmsea.scaled",
                  "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled"]


def _estimator(case) -> str:
    return "MLR" if case.meta["options"]["se"] == "robust.huber.white" else "ML"


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            case = reference_case(name)
            cache[name] = (case, fit_sem(case.model, case.data, estimator=_estimator(case),
                                         missing="fiml"))
        return cache[name]
    return get


@pytest.mark.parametrize("name", FIML_CASES)
def test_fiml_estimates_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert res.converged
    assert res.missing == "fiml"
    assert res.n_obs == case.meta["nobs"][0]
    both = merged_estimates(res, case)
    assert len(res.estimates) == len(case.estimates)
    assert not both["est"].isna().any()
    for col, tol in (("est", EST_ATOL), ("se", SE_ATOL), ("std.all", EST_ATOL), ("std.lv", EST_ATOL)):
        np.testing.assert_allclose(both[col].astype(float), both[col + "_lav"].astype(float),
                                   atol=tol, err_msg=col)


@pytest.mark.parametrize("name", FIML_CASES)
def test_fiml_fit_measures_match_lavaan(fitted, name):
    case, res = fitted(name)
    lav = case.fit
    stat_keys = STAT_KEYS + (MLR_STAT_KEYS if _estimator(case) == "MLR" else [])
    index_keys = INDEX_KEYS + (MLR_INDEX_KEYS if _estimator(case) == "MLR" else [])
    for key in stat_keys:
        assert res.fit[key] == pytest.approx(lav[key], rel=CHISQ_RTOL), key
    for key in index_keys:
        assert res.fit[key] == pytest.approx(lav[key], abs=INDEX_ATOL), key
    for key in ("npar", "df", "ntotal", "baseline.df"):
        assert res.fit[key] == lav[key], key
    assert not np.isnan(res.fit.to_numpy()).any(), res.fit[res.fit.isna()]


def test_fiml_reports_patterns(fitted):
    case, res = fitted("med9_fiml")
    X = case.data[list(res.spec.ov_names)]
    npat = len(X.isna().drop_duplicates())
    assert res.fit["npatterns"] == npat
    assert any(f"{npat} missing-data pattern" in n for n in res.notes)


# ----------------------------------------------------------------------------- machinery
# SIMULATED data (seeded): 5 normal variables, 15% of cells missing completely at random.

@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(20240611)
    p, n = 5, 120
    L = rng.normal(size=(p, p))
    Sigma = L @ L.T / p + np.eye(p)
    X = rng.multivariate_normal(np.arange(p, dtype=float), Sigma, size=n)
    X[rng.random(X.shape) < 0.15] = np.nan
    X = X[~np.all(np.isnan(X), axis=1)]
    mu0 = np.nanmean(X, axis=0)
    S0 = np.diag(np.nanvar(X, axis=0)) + 0.3
    return X, mu0, S0


def _vech_to_sym(v, p):
    r, c = vech_index(p)
    S = np.zeros((p, p))
    S[r, c] = v
    S[c, r] = v
    return S


def test_pattern_loglik_equals_rowwise_normal_densities(sim):
    X, mu, S = sim
    brute = 0.0
    for row in X:
        o = ~np.isnan(row)
        brute += multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(row[o])
    assert loglik(pattern_data(X), mu, S) == pytest.approx(brute, rel=1e-12)


def test_gradient_and_scores_match_numerical_derivatives(sim):
    X, mu, S = sim
    pdat = pattern_data(X)
    p = X.shape[1]
    r, c = vech_index(p)
    _, g_mu, G = loglik_grad(pdat, mu, S)
    analytic = np.concatenate([g_mu, np.where(r == c, 1.0, 2.0) * G[r, c]])
    theta = np.concatenate([mu, S[r, c]])

    def f(th):
        return loglik(pdat, th[:p], _vech_to_sym(th[p:], p))

    h = 1e-6
    numeric = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)
    scores = casewise_scores(pdat, mu, S, meanstructure=True)
    np.testing.assert_allclose(scores.sum(axis=0), analytic, rtol=1e-10, atol=1e-10)


def test_observed_h1_information_is_minus_hessian_over_n(sim):
    X, mu, S = sim
    pdat = pattern_data(X)
    p = X.shape[1]
    r, c = vech_index(p)
    theta = np.concatenate([mu, S[r, c]])

    def grad(th):
        _, g_mu, G = loglik_grad(pdat, th[:p], _vech_to_sym(th[p:], p))
        return np.concatenate([g_mu, np.where(r == c, 1.0, 2.0) * G[r, c]])

    h = 1e-6
    hess = np.column_stack([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h)
                            for e in np.eye(len(theta))])
    info = h1_information(pdat, mu, S, meanstructure=True, kind="observed")
    np.testing.assert_allclose(info, -hess / pdat.ntotal, atol=1e-6)


def test_em_reaches_the_saturated_maximum(sim):
    X, _, _ = sim
    pdat = pattern_data(X)
    h1 = em_saturated(pdat, tol=1e-12, max_iter=5000)
    assert h1.converged
    _, g_mu, G = loglik_grad(pdat, h1.mu, h1.Sigma)
    assert np.abs(g_mu).max() < 1e-6 and np.abs(G).max() < 1e-6
    # lavaan's stopping rule (1e-5 on the moments) stops close to the same maximum
    loose = em_saturated(pdat)
    assert loose.logl == pytest.approx(h1.logl, abs=1e-4)


def test_fiml_on_complete_data_equals_listwise_ml():
    case = reference_case("hs_cfa")
    ml = fit_sem(case.model, case.data)
    fi = fit_sem(case.model, case.data, missing="fiml")
    assert fi.fit["npatterns"] == 1
    assert fi.fit["chisq"] == pytest.approx(ml.fit["chisq"], rel=1e-6)
    both = ml.estimates.merge(fi.estimates, on=["lhs", "op", "rhs"], suffixes=("", "_fiml"))
    np.testing.assert_allclose(both["est"], both["est_fiml"], atol=1e-5)


def test_rows_without_any_answer_are_dropped_and_reported():
    case = reference_case("med9_fiml")
    data = case.data
    empty = pd.DataFrame({c: [np.nan, np.nan] for c in data.columns})
    res = fit_sem(case.model, pd.concat([data, empty], ignore_index=True), missing="fiml")
    assert res.n_obs == len(data)
    assert any("2 response(s) with no answer" in n for n in res.notes)
    assert res.fit["chisq"] == pytest.approx(case.fit["chisq"], rel=CHISQ_RTOL)


def test_fiml_with_fixed_x_covariates_on_complete_data_matches_lavaan_ml():
    """paths_obs has observed exogenous covariates (fixed.x): on complete data FIML must give
    lavaan's ML estimates, chi-square and the conditional (fixed-x) log-likelihood."""
    case = reference_case("paths_obs")
    res = fit_sem(case.model, case.data, missing="fiml")
    assert res.converged
    both = merged_estimates(res, case)
    np.testing.assert_allclose(both["est"], both["est_lav"], atol=EST_ATOL)
    # (AIC/BIC differ: FIML adds the saturated intercepts to npar, lavaan's complete ML has none)
    for key in ("chisq", "logl", "unrestricted.logl", "baseline.chisq"):
        assert res.fit[key] == pytest.approx(case.fit[key], rel=CHISQ_RTOL), key
    for key in ("df", "baseline.df"):
        assert res.fit[key] == case.fit[key], key
    for key in ("cfi", "tli", "rmsea"):
        assert res.fit[key] == pytest.approx(case.fit[key], abs=INDEX_ATOL), key


def test_rows_with_a_missing_covariate_are_dropped_under_fixed_x():
    rng = np.random.default_rng(3)       # SIMULATED
    d = pd.DataFrame(rng.normal(size=(60, 3)), columns=["x1", "y1", "y2"])
    d.loc[0, "x1"] = np.nan
    d.loc[1, "y1"] = np.nan
    res = fit_sem("y1 ~ x1\ny2 ~ y1", d, missing="fiml")
    assert res.n_obs == 59
    assert any("1 response(s) with a missing exogenous covariate" in n for n in res.notes)


def test_listwise_deletion_on_the_same_missing_data_matches_lavaan():
    """The default (missing = "listwise") on med9's missing answers: lavaan drops 393 of 500 rows."""
    case = reference_case("med9_listwise_missing")
    res = fit_sem(case.model, case.data)
    assert res.n_obs == case.meta["nobs"][0] == 107
    assert any("393 response(s) with missing answers were dropped" in n for n in res.notes)
    both = merged_estimates(res, case)
    assert len(res.estimates) == len(case.estimates)
    for col, tol in (("est", EST_ATOL), ("se", SE_ATOL), ("std.all", EST_ATOL)):
        np.testing.assert_allclose(both[col].astype(float), both[col + "_lav"].astype(float),
                                   atol=tol, err_msg=col)
    for key in ("chisq", "logl", "aic", "bic"):
        assert res.fit[key] == pytest.approx(case.fit[key], rel=CHISQ_RTOL), key
    for key in ("cfi", "tli", "rmsea", "srmr"):
        assert res.fit[key] == pytest.approx(case.fit[key], abs=INDEX_ATOL), key


@pytest.mark.parametrize("name", ["bfi5_fiml", "med9_fiml_mlr"])
def test_fiml_r2_matches_lavaan(fitted, name):
    import json

    case, res = fitted(name)
    lav = json.loads(case.file("r2.json").read_text())
    ours = dict(zip(res.r2["variable"], res.r2["r2"]))
    assert set(ours) == set(lav)
    for k, v in lav.items():
        assert ours[k] == pytest.approx(v, abs=EST_ATOL), k
