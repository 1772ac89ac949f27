"""modindices(), lavTestLRT(), resid() and lavPredict() against lavaan 0.6.14, through the public API.

Reference cases diag_hs, diag_hs_groups, lrt_ml, lrt_mlr (tests/reference/R/make_reference_models.R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sem_cocreate as sc
from sem_cocreate.exceptions import OptionError

from refcases import CHISQ_RTOL, reference_case

EST_ATOL = 0.001     # epc, sepc.*, residuals, factor scores: the contract's estimate tolerance
MI_RTOL = 1e-3       # mi is a score statistic evaluated at an optimum converged to ~1e-6 in theta
MI_ATOL = 0.005      # (multi-group: differences of 1.5e-3 on mi of ~25)
Z_ATOL = 0.001       # standardized residuals


@pytest.fixture(scope="module")
def hs():
    case = reference_case("diag_hs")
    return case, sc.cfa(case.model, case.data)


@pytest.mark.parametrize("name, group", [("diag_hs", None), ("diag_hs_groups", "school"), ("diag_pol", None),
                                         ("mod_mimic", None), ("mod_growth", None),
                                         ("diag_hs_metric", "school")])
def test_modindices_match_lavaan(name, group):
    case = reference_case(name)
    if case.meta.get("fun") == "growth":      # fixed loadings and intercepts are scored too
        res = sc.growth(case.model, case.data)
    else:
        equal = [case.meta["group_equal"]] if case.meta.get("group_equal") else []
        res = sc.cfa(case.model, case.data, group=group, group_equal=equal)
    ours = sc.modindices(res)
    lav = pd.read_csv(case.file("modindices.csv"), dtype={"rhs": str})
    lav["rhs"] = lav["rhs"].fillna("")
    keys = ["lhs", "op", "rhs"] + (["group"] if group else [])
    assert list(ours.columns) == keys + ["mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"]
    both = lav.merge(ours, on=keys, suffixes=("_lav", ""), how="left")
    assert len(ours) == len(lav) == len(both)
    assert not both["mi"].isna().any()
    np.testing.assert_allclose(both["mi"], both["mi_lav"], rtol=MI_RTOL, atol=MI_ATOL)
    for col in ("epc", "sepc.lv", "sepc.all", "sepc.nox"):
        np.testing.assert_allclose(both[col], both[col + "_lav"], atol=EST_ATOL, err_msg=col)
    assert ours["mi"].is_monotonic_decreasing


@pytest.mark.parametrize("kind", ["raw", "cor", "standardized"])
def test_residuals_match_lavaan(hs, kind):
    case, res = hs
    lav = pd.read_csv(case.file(f"resid_{kind}.csv"), index_col=0)
    ours = sc.residuals(res, type=kind)["cov"]
    assert list(ours.index) == list(lav.index)
    np.testing.assert_allclose(ours.loc[lav.index, lav.columns], lav,
                               atol=Z_ATOL if kind == "standardized" else EST_ATOL)


def test_residual_type_is_checked(hs):
    with pytest.raises(OptionError, match="residual type 'normal'"):
        sc.residuals(hs[1], type="normal")


@pytest.mark.parametrize("method, file", [("regression", "predict_regression.csv"),
                                          ("bartlett", "predict_bartlett.csv")])
def test_factor_scores_match_lavaan(hs, method, file):
    case, res = hs
    lav = pd.read_csv(case.file(file))
    ours = sc.predict(res, method=method)
    assert list(ours.columns) == list(lav.columns)
    np.testing.assert_allclose(ours.to_numpy(), lav.to_numpy(), atol=EST_ATOL)


def test_factor_scores_with_a_mean_structure_match_lavaan():
    case = reference_case("diag_hs")
    res = sc.fit_sem(case.model, case.data, meanstructure=True)
    lav = pd.read_csv(case.file("predict_regression_means.csv"))
    np.testing.assert_allclose(sc.predict(res).to_numpy(), lav.to_numpy(), atol=EST_ATOL)


def test_bartlett_scores_refused_for_a_second_order_factor():
    case = reference_case("mod_second")
    res = sc.cfa(case.model, case.data)
    with pytest.raises(OptionError, match="method='regression'"):
        sc.predict(res, method="bartlett")


@pytest.mark.parametrize("est", ["ml", "mlr"])
def test_compare_models_matches_lavtestlrt(est):
    case = reference_case(f"lrt_{est}")
    f1 = sc.cfa(case.model, case.data, estimator=est.upper())
    f0 = sc.cfa(case.file("model_orthogonal.lav").read_text(), case.data, estimator=est.upper())
    ours = sc.compare_models(f0, f1, names=["f0", "f1"])
    lav = pd.read_csv(case.file("lrt.csv"))
    assert list(ours["model"]) == list(lav["model"])
    for ours_col, lav_col in [("df", "Df"), ("aic", "AIC"), ("bic", "BIC"), ("chisq", "Chisq")]:
        np.testing.assert_allclose(ours[ours_col], lav[lav_col], rtol=CHISQ_RTOL)
    assert ours["chisq.diff"].iloc[1] == pytest.approx(lav["Chisq diff"].iloc[1], rel=CHISQ_RTOL)
    assert ours["df.diff"].iloc[1] == lav["Df diff"].iloc[1]
    assert ours["pvalue"].iloc[1] == pytest.approx(lav["Pr(>Chisq)"].iloc[1], rel=1e-3)
    if "RMSEA" in lav:
        assert ours["rmsea.diff"].iloc[1] == pytest.approx(lav["RMSEA"].iloc[1], abs=0.001)
    assert np.isnan(ours["chisq.diff"].iloc[0])


def test_compare_models_refuses_mixed_estimators():
    case = reference_case("lrt_ml")
    with pytest.raises(OptionError, match="different estimators"):
        sc.compare_models(sc.cfa(case.model, case.data), sc.cfa(case.model, case.data, estimator="MLR"))


def test_compare_models_needs_two():
    case = reference_case("lrt_ml")
    with pytest.raises(OptionError, match="two or more"):
        sc.compare_models(sc.cfa(case.model, case.data))


@pytest.fixture(scope="module")
def hs_groups():
    case = reference_case("diag_hs_groups")
    return case, sc.cfa(case.model, case.data, group="school")


@pytest.mark.parametrize("kind", ["raw", "cor", "standardized"])
@pytest.mark.parametrize("group", ["Pasteur", "Grant-White"])
def test_multigroup_residuals_with_means_match_lavaan(hs_groups, kind, group):
    case, res = hs_groups
    ours = sc.residuals(res, type=kind)[group]
    lav = pd.read_csv(case.file(f"resid_{kind}_{group}.csv"), index_col=0)
    lav_mean = pd.read_csv(case.file(f"resid_{kind}_{group}_mean.csv")).set_index("variable")["mean"]
    tol = Z_ATOL if kind == "standardized" else EST_ATOL
    np.testing.assert_allclose(ours["cov"].loc[lav.index, lav.columns], lav, atol=tol)
    np.testing.assert_allclose(ours["mean"].loc[lav_mean.index], lav_mean, atol=tol)


def test_multigroup_factor_scores_match_lavaan(hs_groups):
    case, res = hs_groups
    ours = sc.predict(res)
    for group in ("Pasteur", "Grant-White"):
        lav = pd.read_csv(case.file(f"predict_regression_{group}.csv"))
        mine = ours[ours["group"] == group].drop(columns="group")
        np.testing.assert_allclose(mine.to_numpy(), lav.to_numpy(), atol=EST_ATOL)


@pytest.mark.parametrize("name, group", [("diag_hs", None), ("diag_hs_groups", "school"), ("mod_growth", None),
                                         ("diag_hs_metric", "school")])
def test_score_information_blocks_equal_the_whole_information(name, group):
    """modindices() reads the score test's blocks (I11, I12, diag I22) from FastML.score_information,
    which never forms the candidates-by-candidates block; they equal the whole matrix's slices."""
    from sem_cocreate.engine.estimators._fastml import FastML, Moments

    case = reference_case(name)
    if case.meta.get("fun") == "growth":
        res = sc.growth(case.model, case.data)
    else:
        equal = [case.meta["group_equal"]] if case.meta.get("group_equal") else []
        res = sc.cfa(case.model, case.data, group=group, group_equal=equal)
    model, stats = res.internals["model"], res.internals["stats"]
    theta = np.asarray(res.theta, float)
    fast = FastML(model)
    mom = Moments(stats.n, stats.cov, stats.mean)
    _f, grad_full, info = fast.value_grad_info(theta, mom)
    for split in (model.npar // 3, model.npar - 1):
        grad, i11, i12, d22 = fast.score_information(theta, mom, split)
        np.testing.assert_allclose(grad, grad_full, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(i11, info[:split, :split], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(i12, info[:split, split:], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(d22, np.diag(info)[split:], rtol=1e-10, atol=1e-12)


def test_score_information_declines_a_scored_parameter_with_two_positions():
    from sem_cocreate.engine.estimators._fastml import FastML, Moments

    case = reference_case("diag_hs")
    res = sc.cfa("visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6", case.data)
    model, stats = res.internals["model"], res.internals["stats"]
    fast = FastML(model)
    shared = int(res.spec.partable.loc[res.spec.partable["label"] == "a", "free"].iloc[0]) - 1
    mom = Moments(stats.n, stats.cov, stats.mean)
    assert fast.score_information(np.asarray(res.theta, float), mom, shared) is None
    assert fast.score_information(np.asarray(res.theta, float), mom, shared + 1) is not None
