"""The mediation table: effects read from the estimates (delta method against lavaan's med9 reference),
inferred or given effect lists, proportion mediated and the Zhao, Lynch & Chen (2010) typology."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from refcases import reference_case

from sem_cocreate.exceptions import FitWarning, OptionError
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.inference.mediation import INDIRECT_COLUMNS, NO_DIRECT, indirect_table, infer_effects
from sem_cocreate.survey.modelbuild import indirect_paths

EST_ATOL = 0.001    # estimates and delta-method SEs: the promised agreement with lavaan


@pytest.fixture(scope="module")
def med9():
    case = reference_case("med9")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return case, fit_sem(case.model, case.data)


def test_delta_method_rows_match_lavaan(med9):
    case, res = med9
    tab = indirect_table(res)
    assert list(tab.columns) == INDIRECT_COLUMNS
    lav = case.estimates
    lav_def = lav[lav["op"] == ":="].set_index("lhs")
    ind = tab[tab["kind"] != "direct"].set_index("name")
    assert sorted(ind.index) == sorted(lav_def.index)           # every := row, once
    for col in ("est", "se", "ci.lower", "ci.upper", "std.all"):
        np.testing.assert_allclose(ind[col], lav_def.loc[ind.index, col], atol=EST_ATOL, err_msg=col)
    direct = tab[tab["kind"] == "direct"].set_index("name")
    assert set(direct.index) == {"cp1", "cp2"}                   # VCC ~ cp1*PS + cp2*TC
    lav_dir = lav[(lav["op"] == "~") & (lav["lhs"] == "VCC") & (lav["rhs"] == "PS")].iloc[0]
    assert direct.loc["cp1", "est"] == pytest.approx(lav_dir["est"], abs=EST_ATOL)
    assert (tab["method"] == "delta").all() and (tab["n_boot"] == 0).all()


def test_inferred_kinds_paths_and_proportions(med9):
    _case, res = med9
    tab = indirect_table(res).set_index("name")
    assert tab.loc["ind_PS_RI_KS_VCC", "path"] == "PS -> RI -> KS -> VCC"
    assert tab.loc["ind_PS_RI_KS_VCC", "through"] == "RI>KS"
    # total_ind_PS / total_PS carry no outcome in their names; the values identify VCC
    assert tab.loc["total_ind_PS", ["kind", "to"]].tolist() == ["total_indirect", "VCC"]
    assert tab.loc["total_PS", ["kind", "to"]].tolist() == ["total", "VCC"]
    assert tab.loc["diff_RI_KS_PS", ["kind", "from", "through"]].tolist() == ["contrast", "PS", "RI vs KS"]
    total = tab.loc["total_PS", "est"]
    assert tab.loc["ind_PS_RI_VCC", "proportion_mediated"] == pytest.approx(tab.loc["ind_PS_RI_VCC", "est"] / total)
    assert tab.loc["total_ind_PS", "est"] + tab.loc["cp1", "est"] == pytest.approx(total)
    # no direct TR -> VCC path: the total is the sum of TR's specific effects
    tr = tab[(tab["from"] == "TR") & (tab["kind"] == "specific") & (tab["to"] == "VCC")]
    assert tr["proportion_mediated"].sum() == pytest.approx(1.0)
    assert (tr["mediation_type"] == NO_DIRECT).all()
    # PS: indirect and direct both significant and positive; TC: the direct path is not significant
    assert tab.loc["ind_PS_RI_VCC", "mediation_type"] == "complementary"
    assert tab.loc["ind_TC_RI_VCC", "mediation_type"] == "indirect-only"
    assert tab.loc["diff_RI_KS_PS", "significant"] == False  # noqa: E712 - numpy bool


def test_effects_from_modelbuild_are_used_and_checked(med9):
    _case, res = med9
    effects = indirect_paths([("PS", "RI"), ("PS", "KS"), ("RI", "KS"), ("TC", "RI"), ("TC", "KS"), ("EM", "KS"),
                              ("IM", "KS"), ("TR", "RI"), ("RI", "VCC"), ("KS", "VCC"), ("PS", "VCC"),
                              ("TC", "VCC"), ("VCC", "SAT")], outcome="VCC", mediators=["RI", "KS"])
    with pytest.raises(OptionError, match="not ':=' parameters of the model"):
        indirect_table(res, effects=effects)
    present = effects[effects["name"].isin(res.estimates["lhs"])]
    assert len(present) == 11
    tab = indirect_table(res, effects=present, method="bootstrap-perc", n_boot=1000, n_failed=3)
    assert (tab["n_boot"] == 1000).all() and (tab["n_failed"] == 3).all()
    assert tab.loc[tab["name"] == "ind_PS_VCC_SAT", "through"].item() == "VCC"


def _toy(a_ci, b_ci, c_ci=None):
    """Estimates of X -> M -> Y with the given intervals (est = interval midpoint)."""
    def row(lhs, op, rhs, label, ci):
        lo, hi = ci
        return {"lhs": lhs, "op": op, "rhs": rhs, "label": label, "est": (lo + hi) / 2, "se": (hi - lo) / 3.92,
                "z": np.nan, "pvalue": np.nan, "ci.lower": lo, "ci.upper": hi, "std.lv": np.nan, "std.all": np.nan}
    rows = [row("M", "~", "X", "a", a_ci), row("Y", "~", "M", "b", b_ci)]
    if c_ci is not None:
        rows.append(row("Y", "~", "X", "c", c_ci))
    rows.append(row("ind_X_M_Y", ":=", "a*b", "ind_X_M_Y", b_ci))   # interval of the indirect = b's, for the test
    return pd.DataFrame(rows)


class _Result:
    def __init__(self, estimates):
        self.estimates = estimates


@pytest.mark.parametrize("ind_ci, direct_ci, expected", [
    ((0.1, 0.3), (0.2, 0.4), "complementary"),
    ((0.1, 0.3), (-0.4, -0.2), "competitive"),
    ((0.1, 0.3), (-0.1, 0.2), "indirect-only"),
    ((-0.1, 0.3), (0.2, 0.4), "direct-only"),
    ((-0.1, 0.3), (-0.2, 0.1), "no-effect"),
    ((0.1, 0.3), None, NO_DIRECT),
])
def test_zhao_lynch_chen_typology(ind_ci, direct_ci, expected):
    est = _toy((0.5, 0.7), ind_ci, direct_ci)
    tab = indirect_table(_Result(est), estimates=est).set_index("name")
    assert tab.loc["ind_X_M_Y", "mediation_type"] == expected
    if direct_ci is not None:
        assert tab.loc["c", "kind"] == "direct"
        assert tab.loc["c", "mediation_type"] == ""


def test_infer_effects_names():
    eff = infer_effects(["ind_X_M1_M2_Y", "totind_X_Y", "total_X_Y", "diff_X_M1_vs_M2_Y", "ab"]).set_index("name")
    assert eff.loc["ind_X_M1_M2_Y", ["kind", "from", "to", "through"]].tolist() == ["specific", "X", "Y", "M1>M2"]
    assert eff.loc["totind_X_Y", "kind"] == "total_indirect"
    assert eff.loc["total_X_Y", ["kind", "to"]].tolist() == ["total", "Y"]
    assert eff.loc["diff_X_M1_vs_M2_Y", "through"] == "M1 vs M2"
    assert eff.loc["ab", "kind"] == "defined"


def test_bootstrap_indirect_table(med9):
    from sem_cocreate.inference.mediation import bootstrap_indirect

    _case, res = med9
    tab = bootstrap_indirect(res, n_boot=40, seed=3, ci="bc", jobs=1, progress=False)
    assert (tab["method"] == "bootstrap-bc").all() and (tab["n_boot"] == 40).all()
    assert {"std.se", "std.ci.lower", "std.ci.upper"} <= set(tab.columns)
    row = tab.set_index("name").loc["ind_PS_RI_VCC"]
    assert row["std.ci.lower"] < row["std.all"] < row["std.ci.upper"]
    mc = bootstrap_indirect(res, n_boot=0, seed=3, ci="mc", n_draws=2000)
    assert (mc["method"] == "monte-carlo").all()
    delta = bootstrap_indirect(res, n_boot=0, seed=None)
    pd.testing.assert_frame_equal(delta, indirect_table(res))


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.05, 1.0])), min_size=1, max_size=40),
       st.sampled_from(["holm", "bonferroni", "fdr_bh"]))
def test_own_p_adjust_equals_statsmodels(p, method):
    """holm / bonferroni / BH are computed without statsmodels' module (it imports scipy.stats): the same
    numbers as multipletests (and so R's p.adjust), ties and p = 0 or 1 included."""
    from statsmodels.stats.multitest import multipletests

    from sem_cocreate.inference.mediation import adjust_pvalues

    p = np.array(p)
    np.testing.assert_allclose(adjust_pvalues(p, method=method), multipletests(p, method=method)[1],
                               rtol=1e-12, atol=1e-15)


def test_p_adjust_matches_r():
    """R 4: p.adjust(c(0.01, 0.04, 0.03, 0.2, NA), "holm") and "BH" on the non-missing four."""
    from sem_cocreate.inference.mediation import adjust_pvalues

    p = [0.01, 0.04, 0.03, 0.2, np.nan]
    np.testing.assert_allclose(adjust_pvalues(p)[:4], [0.04, 0.09, 0.09, 0.2])
    assert np.isnan(adjust_pvalues(p)[4])
    np.testing.assert_allclose(adjust_pvalues(p, method="fdr_bh")[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
