"""Invariance chain, difference tests, score tests and cross-group Wald tests against lavaan 0.6.14.

References: tests/reference/roles_invariance (SIMULATED solver/seeker data: loadings equal, ks3 and
vcc2 intercepts shifted in seekers, RI -> VCC 0.5 vs 0.2) and tests/reference/bfi5_invariance
(psych::bfi by gender, ML and MLR), written by tests/reference/R/make_reference_estimators.R.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.exceptions import OptionError
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.inference.invariance import (
    invariance_models,
    invariance_table,
    path_wald_tests,
    score_test_total,
    score_tests,
)

from refcases import reference_case

CHISQ_RTOL = 1e-4    # chi-square, AIC, BIC and their differences: 0.01 %
DIFF_ATOL = 0.002    # chi-square differences (lavaan's own optimum is good to ~1e-5 in F x N)
INDEX_ATOL = 0.001   # CFI, TLI, RMSEA, SRMR and their differences
P_ATOL = 0.001       # p-values
SCORE_ATOL = 0.002   # score statistics: computed at two optima that differ by ~1e-5 per estimate
EST_ATOL = 0.001     # estimates and SEs

ROLES_FREE = ("ks3~1", "vcc2~1")


@pytest.fixture(scope="module")
def roles():
    case = reference_case("roles_invariance")
    models = invariance_models(case.model, case.data, group="role", levels=("configural", "metric", "scalar"))
    partial = invariance_models(case.model, case.data, group="role", levels=("scalar",), free=ROLES_FREE)
    return case, models, partial["scalar"]


def _check_lrt(table, ref):
    """Our invariance table against lavTestLRT's (columns Df, AIC, BIC, Chisq, Chisq diff, ...)."""
    assert list(table["model"]) == list(ref["model"])
    np.testing.assert_array_equal(table["df"], ref["Df"])
    for ours, lav in (("chisq", "Chisq"), ("aic", "AIC"), ("bic", "BIC")):
        np.testing.assert_allclose(table[ours], ref[lav], rtol=CHISQ_RTOL)
    np.testing.assert_allclose(table["delta.chisq"][1:], ref["Chisq diff"][1:], rtol=CHISQ_RTOL, atol=DIFF_ATOL)
    np.testing.assert_array_equal(table["delta.df"][1:], ref["Df diff"][1:])
    np.testing.assert_allclose(table["delta.pvalue"][1:], ref["Pr(>Chisq)"][1:], atol=P_ATOL)
    assert table.loc[0, ["delta.chisq", "delta.df", "delta.pvalue", "delta.cfi"]].isna().all()
    if "RMSEA" in ref:
        np.testing.assert_allclose(table["rmsea.d"][1:], ref["RMSEA"][1:], atol=INDEX_ATOL)


def test_roles_lrt_matches_lavtestlrt(roles):
    case, models, partial = roles
    chain = {"configural": models["configural"], "metric": models["metric"], "partial": partial,
             "scalar": models["scalar"]}
    table = invariance_table(chain)
    _check_lrt(table, pd.read_csv(case.file("lavTestLRT.csv")))
    contract = ["model", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic",
                "delta.chisq", "delta.df", "delta.pvalue", "delta.cfi"]
    assert list(table.columns[:len(contract)]) == contract
    assert "chisq.scaled" not in table
    # fit indices and their changes against each model's lavaan fitMeasures
    lav = {m: reference_case(f"roles_{m}").fit for m in ("configural", "metric", "partial", "scalar")}
    for i, m in enumerate(table["model"]):
        for k in ("cfi", "tli", "rmsea", "srmr"):
            assert table.loc[i, k] == pytest.approx(lav[m][k], abs=INDEX_ATOL), (m, k)
        if i:
            prev = table.loc[i - 1, "model"]
            assert table.loc[i, "delta.cfi"] == pytest.approx(lav[m]["cfi"] - lav[prev]["cfi"], abs=INDEX_ATOL)
            assert table.loc[i, "delta.rmsea"] == pytest.approx(lav[m]["rmsea"] - lav[prev]["rmsea"],
                                                                abs=INDEX_ATOL)
    assert table.loc[3, "delta.cfi"] < -0.01          # full scalar invariance fails by construction
    assert table["group.partial"].tolist() == ["", "", "ks3~1; vcc2~1", ""]


def test_table_sorts_by_df_like_lavtestlrt(roles):
    _case, models, _partial = roles
    shuffled = {"scalar": models["scalar"], "configural": models["configural"], "metric": models["metric"]}
    assert invariance_table(shuffled)["model"].tolist() == ["configural", "metric", "scalar"]


def test_partial_model_is_lavaans_group_partial(roles):
    _case, _models, partial = roles
    lav = reference_case("roles_partial")
    assert partial.fit["npar"] == lav.fit["npar"]
    assert partial.fit["chisq"] == pytest.approx(lav.fit["chisq"], rel=CHISQ_RTOL)
    assert partial.internals["invariance"]["group_partial"] == ROLES_FREE
    est = partial.estimates.merge(lav.estimates, on=["lhs", "op", "rhs", "group"], suffixes=("", "_lav"))
    np.testing.assert_allclose(est["est"], est["est_lav"], atol=EST_ATOL)


def test_free_that_constrains_nothing_warns(roles):
    case, _models, _partial = roles
    from sem_cocreate.exceptions import FitWarning

    with pytest.warns(FitWarning, match="ks3~1"):
        out = invariance_models(case.model, case.data, group="role", levels=("metric",), free=("ks3~1",))
    assert out["metric"].internals["invariance"]["group_partial"] == ()


def test_roles_score_tests_match_lavtestscore(roles):
    case, models, _partial = roles
    ours = score_tests(models["scalar"])
    ref = pd.read_csv(case.file("score_scalar.csv"))
    assert ours[["lhs", "op", "rhs"]].values.tolist() == ref[["lhs", "op", "rhs"]].values.tolist()
    np.testing.assert_allclose(ours["X2"], ref["X2"], atol=SCORE_ATOL)
    np.testing.assert_allclose(ours["p.value"], ref["p.value"], atol=P_ATOL)
    assert (ours["df"] == 1).all()
    # the two intercepts shifted in the simulation are the two largest
    top = ours.sort_values("X2", ascending=False)["parameter"].head(2).tolist()
    assert sorted(top) == sorted(ROLES_FREE)
    row = ours[ours["parameter"] == "ks3~1"].iloc[0]
    assert row["constraint"] == "ks3~1 (group solver = group seeker)"
    total = score_test_total(models["scalar"])
    ref_total = pd.read_csv(case.file("score_scalar_total.csv"))
    assert total.loc[0, "df"] == ref_total.loc[0, "df"] == len(ref)
    assert total.loc[0, "X2"] == pytest.approx(ref_total.loc[0, "X2"], abs=SCORE_ATOL)


def test_score_tests_need_constraints(roles):
    _case, models, _partial = roles
    with pytest.raises(OptionError, match="no equality constraints"):
        score_tests(models["configural"])


def _check_wald(table, wald):
    row = table[(table["lhs"] == "VCC") & (table["rhs"] == "RI")].iloc[0]
    assert row["est_solver"] == pytest.approx(wald["b1"], abs=EST_ATOL)
    assert row["est_seeker"] == pytest.approx(wald["b2"], abs=EST_ATOL)
    assert row["chisq"] == pytest.approx(wald["stat"], rel=CHISQ_RTOL)
    assert row["df"] == wald["df"]
    assert row["pvalue"] == pytest.approx(wald["p.value"], abs=P_ATOL)
    assert row["diff"] == pytest.approx(wald["b1"] - wald["b2"], abs=EST_ATOL)
    assert row["diff"] / row["se_diff"] == pytest.approx(np.sqrt(wald["stat"]), rel=CHISQ_RTOL)


def test_path_wald_tests_match_lavtestwald(roles):
    case, models, _partial = roles
    wald = json.loads(case.file("wald_path.json").read_text())
    from_syntax = path_wald_tests(case.model, case.data, group="role")
    assert list(from_syntax.columns) == ["lhs", "op", "rhs", "est_solver", "est_seeker", "diff", "se_diff",
                                         "chisq", "df", "pvalue"]
    assert len(from_syntax) == 2                       # VCC ~ RI and VCC ~ KS
    _check_wald(from_syntax, wald)
    _check_wald(path_wald_tests(case.file("model_wald.lav").read_text(), case.data, group="role"), wald)
    _check_wald(path_wald_tests(models["metric"]), wald)       # a fitted metric model, used as is


def test_path_wald_refits_paths_constrained_equal(roles):
    case, _models, _partial = roles
    wald = json.loads(case.file("wald_path.json").read_text())
    # b*RI written once: the path is one parameter in both groups (lavaan's meaning of a label)
    equal = fit_sem(case.model.replace("VCC ~ RI", "VCC ~ b*RI"), case.data, group="role",
                    group_equal=("loadings",))
    with pytest.raises(OptionError, match="equal across groups"):
        path_wald_tests(equal)
    _check_wald(path_wald_tests(equal, case.data, group="role"), wald)


def test_bad_options(roles):
    case, models, _partial = roles
    with pytest.raises(OptionError, match="partial"):
        invariance_models(case.model, case.data, group="role", levels=("partial",))
    with pytest.raises(OptionError, match="estimators"):
        invariance_table({"configural": models["configural"],
                          "metric": dataclasses.replace(models["metric"], estimator="MLR")})
    with pytest.raises(OptionError, match="group"):
        invariance_models(case.model, case.data, group="")


# ----------------------------------------------------------------------------- bfi by gender

@pytest.fixture(scope="module")
def bfi():
    case = reference_case("bfi5_invariance")
    return case, invariance_models(case.model, case.data, group="gender")


def test_bfi_lrt_and_score_tests(bfi):
    case, models = bfi
    _check_lrt(invariance_table(models), pd.read_csv(case.file("lavTestLRT.csv")))
    ours = score_tests(models["scalar"])
    ref = pd.read_csv(case.file("score_scalar.csv"))
    assert ours[["lhs", "op", "rhs"]].values.tolist() == ref[["lhs", "op", "rhs"]].values.tolist()
    np.testing.assert_allclose(ours["X2"], ref["X2"], atol=SCORE_ATOL)
    np.testing.assert_allclose(ours["p.value"], ref["p.value"], atol=P_ATOL)
    total = pd.read_csv(case.file("score_scalar_total.csv"))
    assert score_test_total(models["scalar"]).loc[0, "X2"] == pytest.approx(total.loc[0, "X2"], abs=SCORE_ATOL)


def test_bfi_mlr_scaled_difference_matches_lavtestlrt():
    """Satorra-Bentler (2001) scaled differences, lavTestLRT's default for MLR."""
    case = reference_case("bfi5_invariance")
    models = invariance_models(case.model, case.data, group="gender", estimator="MLR")
    table = invariance_table(models)
    _check_lrt(table, pd.read_csv(case.file("lavTestLRT_mlr.csv")))
    assert table["rmsea.d"].isna().all()
    fm = pd.read_csv(case.file("fit_mlr.csv"))
    np.testing.assert_allclose(table["chisq.scaled"], fm["chisq.scaled"], rtol=CHISQ_RTOL)
    np.testing.assert_allclose(table["chisq.scaling.factor"], fm["chisq.scaling.factor"], atol=INDEX_ATOL)
    for k in ("cfi.robust", "tli.robust", "rmsea.robust"):
        np.testing.assert_allclose(table[k], fm[k], atol=INDEX_ATOL, err_msg=k)
