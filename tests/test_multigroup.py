"""Multi-group ML fits (configural, metric, scalar, strict, partial) against lavaan 0.6.14.

Reference cases: roles_* (SIMULATED solver/seeker data, tests/reference/data/sim_roles.csv) and
bfi5_* (psych::bfi by gender), written by tests/reference/R/make_reference_estimators.R.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.exceptions import DataError, ModelSyntaxError
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.engine.spec import build_spec

from refcases import assert_fit_measures_match, merged_estimates, reference_case

EST_ATOL = 0.001     # estimates and std. estimates (the promised agreement with lavaan)
SE_ATOL = 0.001      # standard errors
KEYS = ["lhs", "op", "rhs", "group"]

ROLES = ["roles_configural", "roles_metric", "roles_scalar", "roles_partial"]
BFI = ["bfi5_configural", "bfi5_metric", "bfi5_scalar", "bfi5_strict"]
# The bfi cases (real data, 25 items, 105-170 parameters) take a few seconds each since Fisher scoring
# stops on the Newton decrement.
CASES = ROLES + BFI


def _options(case):
    opt = case.meta["options"]
    eq = opt.get("group_equal") or []
    eq = (eq,) if isinstance(eq, str) else tuple(eq)
    partial = opt.get("group_partial") or []
    partial = (partial,) if isinstance(partial, str) else tuple(partial)
    return opt["group"], eq, partial


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            case = reference_case(name)
            group, eq, partial = _options(case)
            cache[name] = (case, fit_sem(case.model, case.data, group=group, group_equal=eq,
                                         group_partial=partial))
        return cache[name]
    return get


@pytest.mark.parametrize("name", CASES)
def test_estimates_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert res.converged
    assert list(res.estimates.columns[:5]) == ["lhs", "op", "rhs", "label", "group"]
    assert len(res.estimates) == len(case.estimates), "same parameter rows as lavaan"
    both = merged_estimates(res, case, KEYS)
    assert len(both) == len(case.estimates)
    assert not both["est"].isna().any(), both.loc[both["est"].isna(), KEYS]
    np.testing.assert_allclose(both["est"], both["est_lav"], atol=EST_ATOL)
    np.testing.assert_allclose(both["se"], both["se_lav"], atol=SE_ATOL)
    np.testing.assert_allclose(both["std.lv"], both["std.lv_lav"], atol=EST_ATOL)
    np.testing.assert_allclose(both["std.all"], both["std.all_lav"], atol=EST_ATOL)
    ok = both["pvalue_lav"].notna()
    np.testing.assert_allclose(both.loc[ok, "pvalue"], both.loc[ok, "pvalue_lav"], atol=0.001)


@pytest.mark.parametrize("name", CASES)
def test_labels_match_lavaan(fitted, name):
    """group.equal rows carry the plabel of the first group's parameter (e.g. .p2.), as in lavaan."""
    case, res = fitted(name)
    both = merged_estimates(res, case, KEYS)
    bad = both[both["label"].fillna("") != both["label_lav"].fillna("")]
    assert bad.empty, bad[KEYS + ["label", "label_lav"]]


@pytest.mark.parametrize("name", CASES)
def test_fit_measures_match_lavaan(fitted, name):
    case, res = fitted(name)
    assert_fit_measures_match(res.fit, case.fit)


@pytest.mark.parametrize("name", ["roles_configural", "roles_scalar"])
def test_group_order_and_r2_per_group(fitted, name):
    case, res = fitted(name)
    assert res.spec.groups == tuple(case.meta["options"]["group_labels"])   # first appearance in the data
    assert list(case.meta["nobs"]) == [int(n) for n in res.internals["stats"].n]
    lav = json.loads(case.file("r2.json").read_text())
    for g, label in enumerate(res.spec.groups, start=1):
        ours = res.r2[res.r2["group"] == g].set_index("variable")["r2"]
        assert set(ours.index) == set(lav[label])
        for var, value in lav[label].items():
            assert ours[var] == pytest.approx(value, abs=EST_ATOL), (label, var)


def test_scalar_frees_latent_means_in_later_groups(fitted):
    _, res = fitted("roles_scalar")
    means = res.estimates[(res.estimates["op"] == "~1") & res.estimates["lhs"].isin(["RI", "KS", "VCC"])]
    assert (means.loc[means["group"] == 1, "se"] == 0).all()
    assert (means.loc[means["group"] == 2, "se"] > 0).all()


def test_per_group_labels_c_syntax(fitted):
    """c(b1, b2)*RI: one path per group with its own label (lavaan's wald model, metric)."""
    case = reference_case("roles_invariance")
    syntax = case.file("model_wald.lav").read_text()
    res = fit_sem(syntax, case.data, group="role", group_equal=("loadings",))
    wald = json.loads(case.file("wald_path.json").read_text())
    est = res.estimates
    path = est[(est["op"] == "~") & (est["rhs"] == "RI")].set_index("group")
    assert path.loc[1, "label"] == "b1" and path.loc[2, "label"] == "b2"
    assert path.loc[1, "est"] == pytest.approx(wald["b1"], abs=EST_ATOL)
    assert path.loc[2, "est"] == pytest.approx(wald["b2"], abs=EST_ATOL)
    _, metric = fitted("roles_metric")
    assert res.fit["chisq"] == pytest.approx(metric.fit["chisq"], rel=1e-8)   # same model as metric


def test_single_label_is_equal_across_groups(fitted):
    """b*RI written once labels the path in every group, which makes it equal (one parameter)."""
    case = reference_case("roles_metric")
    _, metric = fitted("roles_metric")
    syntax = case.model.replace("VCC ~ RI", "VCC ~ b*RI")
    assert syntax != case.model
    res = fit_sem(syntax, case.data, group="role", group_equal=("loadings",))
    path = res.estimates[(res.estimates["op"] == "~") & (res.estimates["rhs"] == "RI")]
    assert list(path["label"]) == ["b", "b"]
    assert path["est"].iloc[0] == path["est"].iloc[1]
    assert res.fit["npar"] == metric.fit["npar"] - 1
    assert res.fit["chisq"] > metric.fit["chisq"]


def test_group_partial_unknown_parameter_is_named():
    case = reference_case("roles_metric")
    with pytest.raises(ModelSyntaxError, match="ks9~1"):
        fit_sem(case.model, case.data, group="role", group_equal=("loadings", "intercepts"),
                group_partial=("ks9~1",))


def test_group_partial_accepts_spaces_and_either_covariance_order(fitted):
    case = reference_case("roles_partial")
    _, ref = fitted("roles_partial")
    groups = ("solver", "seeker")
    spec = build_spec(case.model, groups=groups, group_equal=("loadings", "intercepts"),
                      group_partial=("ks3 ~ 1", " vcc2~1"))
    pd.testing.assert_frame_equal(spec.partable, ref.spec.partable)
    a = build_spec(case.model, groups=groups, group_equal=("lv.covariances",), group_partial=("KS~~RI",))
    b = build_spec(case.model, groups=groups, group_equal=("lv.covariances",), group_partial=("RI ~~ KS",))
    c = build_spec(case.model, groups=groups, group_equal=("lv.covariances",))
    assert a.npar == b.npar == c.npar + 1 == 78      # the covariance is released in both spellings


def test_unknown_group_column_is_a_data_error():
    case = reference_case("roles_configural")
    with pytest.raises(DataError, match="grp"):
        fit_sem(case.model, case.data, group="grp")
