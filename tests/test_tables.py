"""Display tables: APA formatting helpers and the display DataFrames built from results-folder tables."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from sem_cocreate.report import tables as T

M = T.MINUS


# --- formatting helpers --------------------------------------------------------------------------

@pytest.mark.parametrize("x, digits, lz, expected", [
    (0.2606511107, 2, True, "0.26"),
    (0.125, 2, True, "0.12"),            # round-half-even on the binary value, as Python formats
    (1.005, 3, True, "1.005"),
    (-0.3512, 2, True, f"{M}0.35"),
    (-0.004, 2, True, "0.00"),           # negative zero is shown as zero
    (-0.0004, 3, True, "0.000"),
    (-0.0, 2, True, "0.00"),
    (0.9931680862959401, 3, False, ".993"),
    (-0.125, 3, False, f"{M}.125"),
    (12.3456, 1, False, "12.3"),         # no leading zero to drop
    (659.5467226353185, 2, True, "659.55"),
])
def test_fmt_num(x, digits, lz, expected):
    assert T.fmt_num(x, digits, leading_zero=lz) == expected


@pytest.mark.parametrize("x", [None, float("nan"), np.nan, float("inf"), "abc", pd.NA])
def test_fmt_num_missing_is_dash(x):
    assert T.fmt_num(x) == T.NA


@pytest.mark.parametrize("p, expected", [
    (1.715156661e-05, "< .001"),
    (0.000999, "< .001"),
    (0.001, ".001"),
    (0.00149, ".001"),
    (0.0146476517, ".015"),
    (0.04, ".040"),
    (0.06149536205311417, ".061"),
    (0.9559769586, ".956"),
    (0.9996, "> .999"),
    (1.0, "> .999"),
    (0.0, "< .001"),
    (float("nan"), T.NA),
    (None, T.NA),
])
def test_fmt_p(p, expected):
    assert T.fmt_p(p) == expected


def test_fmt_p_never_has_leading_zero_or_minus():
    for p in np.linspace(0.0011, 0.999, 97):
        s = T.fmt_p(p)
        assert s.startswith("."), s
        assert abs(float(s) - p) <= 0.0005 + 1e-12


@pytest.mark.parametrize("lo, hi, digits, lz, expected", [
    (0.1418192023, 0.379483019, 2, True, "[0.14, 0.38]"),
    (-0.09715694168, 0.1027884378, 2, True, f"[{M}0.10, 0.10]"),
    (-0.001, 0.2, 2, True, "[0.00, 0.20]"),
    (0.0, 0.019738047374959405, 3, False, "[.000, .020]"),
    (float("nan"), 0.2, 2, True, T.NA),
])
def test_fmt_ci(lo, hi, digits, lz, expected):
    assert T.fmt_ci(lo, hi, digits, leading_zero=lz) == expected


def test_fmt_int():
    assert T.fmt_int(600) == "600"
    assert T.fmt_int(9139.0) == "9,139"
    assert T.fmt_int(-3) == f"{M}3"
    assert T.fmt_int(None) == T.NA


# --- display tables --------------------------------------------------------------------------------

def _matrix(ids, values):
    df = pd.DataFrame(values, index=ids, columns=ids)
    return df.rename_axis("construct").reset_index()


def test_htmt_display_lower_triangle_and_marks():
    ids = ["A", "B", "C"]
    m = _matrix(ids, [[1, 0.5, 0.87], [0.5, 1, 0.93], [0.87, 0.93, 1]])
    d = T.htmt_display(m)
    assert list(d.columns) == ["Construct", "A", "B", "C"]
    assert d.iloc[1].tolist() == ["B", ".50", T.NA, ""]
    assert d.iloc[2].tolist() == ["C", ".87*", ".93**", T.NA]
    assert d.iloc[0, 2] == "" and d.iloc[0, 3] == ""          # upper triangle empty
    assert d.attrs["bold"] == [(2, 1), (2, 2)]
    assert T.htmt_max(m) == (0.93, "B–C")


def test_fornell_larcker_counts_violations():
    ids = ["A", "B", "C"]
    # sqrt(AVE) .80, .70, .75; corr(A,B) .72 > .70 violates; corr(A,C) .50 and corr(B,C) .60 do not
    m = _matrix(ids, [[0.80, 0.72, 0.50], [0.72, 0.70, 0.60], [0.50, 0.60, 0.75]])
    d = T.fornell_larcker_display(m)
    assert d.attrs["violations"] == 1
    assert d.iloc[1].tolist() == ["B", ".72*", ".70", ""]
    assert (0, 1) in d.attrs["bold"] and (2, 3) in d.attrs["bold"]


def test_screening_table_adds_listwise_rows():
    s = {"n_raw": 100, "n_analysed": 90, "n_excluded": 10,
         "rules": {"speeders": {"enabled": True, "flagged": 4, "removed": 4},
                   "attention": {"enabled": True, "flagged": 7, "removed": 6},
                   "irv": {"enabled": False, "flagged": 0, "removed": 0}},
         "flow": [{"step": "raw", "removed": 0, "n": 100}, {"step": "speeders", "removed": 4, "n": 96},
                  {"step": "attention", "removed": 6, "n": 90}, {"step": "irv", "removed": 0, "n": 90},
                  {"step": "analysed", "removed": 0, "n": 90}]}
    d = T.screening_table(s, n_obs=85)
    assert d.iloc[:, 0].tolist() == ["Responses received", "Speeders (completion time)", "Failed attention checks",
                                     "Retained after screening", "Dropped for missing answers (listwise deletion)",
                                     "Analysed in the models"]           # the disabled rule is left out
    assert d.iloc[2, 1:].tolist() == ["7", "6", "90"]
    assert d.iloc[4, 2:].tolist() == ["5", "85"]
    zh = T.screening_table(s, n_obs=85, lang="zh")
    assert zh.columns[0] == "步骤" and zh.iloc[0, 0] == "回收问卷"


def test_hypotheses_display_rounds_and_translates():
    h = pd.DataFrame({"id": ["H1", "H4"], "path": ["PS → RI", "EM → KS"], "est": [0.2606511107, 0.002815748079],
                      "se": [0.06062963875, 0.05100741164], "std.all": [0.2385662534, 0.002650634849],
                      "pvalue": [1.715156661e-05, 0.9559769586], "ci.lower": [0.1418192023, -0.09715694168],
                      "ci.upper": [0.379483019, 0.1027884378], "supported": ["supported", "not supported"]})
    d = T.hypotheses_display(h)
    assert list(d.columns) == ["H", "Path", "β", "b", "SE", "p", "95% C.I.", "Supported?"]
    assert d.iloc[0].tolist() == ["H1", "PS → RI", "0.24", "0.26", "0.06", "< .001", "[0.14, 0.38]", "Yes"]
    assert d.iloc[1].tolist() == ["H4", "EM → KS", "0.00", "0.00", "0.05", ".956", f"[{M}0.10, 0.10]", "No"]
    assert T.hypotheses_display(h, lang="zh").iloc[:, -1].tolist() == ["支持", "不支持"]


def test_r2_display_keeps_endogenous_constructs_only():
    est = pd.DataFrame({"lhs": ["F", "F", "G", "H"], "op": ["=~", "=~", "~", "~"], "rhs": ["x1", "x2", "F", "G"]})
    r2 = pd.DataFrame({"variable": ["x1", "x2", "G", "H"], "r2": [0.5, 0.6, 0.3512, 0.0449]})
    d = T.r2_display(r2, est, names={"G": "Gee"})
    assert d.values.tolist() == [["G Gee", ".35"], ["H", ".04"]]


def test_effect_names_from_the_model_builder():
    assert T.effect_kind("ind_PS_RI_KS_VCC") == "specific"
    assert T.effect_kind("totind_PS_VCC") == "total_indirect"
    assert T.effect_kind("total_PS_VCC") == "total"
    assert T.effect_kind("diff_TR_RI_vs_KS_VCC") == "contrast"
    assert T.effect_kind("my_param") == "defined"
    assert T.effect_path("ind_TR_RI_VCC") == "TR → RI → VCC"
    assert T.effect_path("diff_TR_RI_vs_KS_VCC") == f"TR → RI → VCC {M} TR → KS → VCC"


@pytest.mark.parametrize("method, expected", [
    ("delta", "delta method (Wald intervals)"), ("bootstrap perc", "bootstrap percentile"),
    ("bootstrap bc", "bias-corrected bootstrap"), ("bootstrap bca", "bias-corrected and accelerated (BCa) bootstrap"),
    ("Monte Carlo", "Monte Carlo"), ("mc", "Monte Carlo"), ("bootstrap", "bootstrap percentile"),
])
def test_method_label(method, expected):
    assert T.method_label(method) == expected


def test_indirect_display_contract_columns():
    ind = pd.DataFrame({
        "name": ["ind_X_M_Y", "totind_X_Y", "diff_X_M_vs_N_Y", "ind_X_M_Z"],
        "path": ["X → M → Y", "X ⇒ Y", "", "X → M → Z"],
        "est": [0.1234, 0.2, -0.05, 0.01], "se": [0.03, 0.04, 0.02, 0.01],
        "ci.lower": [0.065, 0.12, -0.09, -0.01], "ci.upper": [0.18, 0.28, -0.0101, 0.03],
        "method": "bootstrap bca", "n_boot": 2000, "n_failed": 1,
        "kind": ["specific", "total_indirect", "contrast", "specific"], "to": ["Y", "Y", "Y", "Z"],
        "std.all": [0.11, 0.19, -0.04, 0.01], "pvalue": [0.0001, 0.00002, 0.02, 0.3],
        "proportion_mediated": [0.4567, 1.0, np.nan, 0.2], "mediation_type": ["complementary", "", None, "no-effect"]})
    assert T.indirect_outcomes(ind) == ["Y", "Z"]
    d = T.indirect_display(ind, outcome="Y")
    # bootstrap intervals: no normal-theory p beside them ("C.I." never collides with the construct CI)
    assert list(d.columns) == ["Effect", "Type", "b", "SE", "95% C.I.", "β", "P_M", "Mediation type"]
    assert d.iloc[0].tolist() == ["X → M → Y", "specific indirect", "0.123", "0.030", "[0.065, 0.180]", "0.110",
                                  "0.46", "complementary (partial)"]
    assert d.iloc[2, 0] == f"X → M → Y {M} X → N → Y"          # path derived from the name when empty
    assert d.iloc[2, 6] == ""                                      # no P_M for a contrast
    assert d.attrs["bold"] == [(0, 4), (1, 4), (2, 4)]             # intervals excluding zero
    zh = T.indirect_display(ind, outcome="Z", lang="zh")
    assert zh.iloc[0].tolist()[-1] == "无效应" and zh.iloc[0, 1] == "特定间接效应"


def test_indirect_from_estimates_copies_numbers():
    est = pd.DataFrame({"lhs": ["M", "ind_X_M_Y"], "op": ["~", ":="], "rhs": ["X", "a*b"], "est": [0.5, 0.2],
                        "se": [0.1, 0.05], "pvalue": [0.001, 0.0002], "ci.lower": [0.3, 0.1], "ci.upper": [0.7, 0.3],
                        "std.all": [0.45, 0.18]})
    ind = T.indirect_from_estimates(est, method="delta")
    assert ind[["name", "path", "kind", "from", "to"]].values.tolist() == [["ind_X_M_Y", "X → M → Y", "specific",
                                                                             "X", "Y"]]
    assert ind[["est", "se", "ci.lower", "ci.upper", "std.all", "pvalue"]].values.tolist() == [
        [0.2, 0.05, 0.1, 0.3, 0.18, 0.0002]]


def test_normality_recommendation():
    bad = {"n_obs": 513, "n_var": 37, "p_skew": 0.13, "p_kurt": 0.0146}
    good = {"n_obs": 513, "n_var": 37, "p_skew": 0.13, "p_kurt": 0.3}
    assert "(MLR) is recommended" in T.normality_recommendation(bad, estimator="ML")
    assert "kurtosis p = .015" in T.normality_recommendation(bad, estimator="ML")
    assert T.normality_recommendation(good, estimator="mlr").endswith("This run used MLR.")
    assert "建议采用" in T.normality_recommendation(bad, lang="zh")


def test_fit_row_uses_robust_measures_under_mlr():
    fit = {"estimator": "MLR", "chisq": 700.0, "chisq.scaled": 650.123, "df": 600, "pvalue": 0.001,
           "pvalue.scaled": 0.07, "cfi": 0.90, "cfi.robust": 0.95, "tli": 0.9, "tli.robust": 0.94, "rmsea": 0.05,
           "rmsea.robust": 0.02, "rmsea.ci.lower.robust": 0.01, "rmsea.ci.upper.robust": 0.03, "srmr": 0.04}
    r = T.fit_row(fit)
    assert (r["chisq"], r["p"], r["cfi"], r["rmsea"]) == ("650.12", ".070", ".950", ".020 [.010, .030]")
    fit["estimator"] = "ML"
    assert T.fit_row(fit)["chisq"] == "700.00"


def test_reliability_display_marks_low_values():
    rel = pd.DataFrame({"construct": ["A", "B"], "n_items": [3, 4], "alpha": [0.81, 0.65], "omega": [0.82, 0.66],
                        "cr": [0.8, 0.69], "ave": [0.55, 0.41]})
    flags = pd.DataFrame({"name": ["B", "b3"], "construct": ["B", "B"], "statistic": ["ave", "loading"],
                          "value": [0.41, 0.45], "threshold": [0.5, 0.5]})
    d = T.reliability_display(rel, flags=flags)
    assert d.iloc[1].tolist() == ["B", "4", ".65", ".66", ".69", ".41", "low AVE; b3: weak loading"]
    assert d.attrs["bold"] == [(1, 2), (1, 3), (1, 4), (1, 5)]
    assert T.flag_lines(flags)[1] == "b3 (B): weak loading .45 (threshold .50)"
    assert T.flag_lines(None) == []


def test_group_paths_display():
    gp = pd.DataFrame({"lhs": ["RI", "KS"], "op": ["~", "~"], "rhs": ["PS", "EM"], "est_solver": [0.2782924937, -0.03],
                       "est_seeker": [0.2270506939, 0.06], "diff": [0.05124179981, -0.0967], "se_diff": [0.1249, 0.11],
                       "chisq": [0.1683155648, 5.2], "df": [1, 1], "pvalue": [0.6816131778, 0.0226]})
    d = T.group_paths_display(gp)
    assert list(d.columns) == ["Path", "b (solver)", "b (seeker)", "Difference", "SE", "χ²", "df", "p"]
    assert d.iloc[0].tolist() == ["PS → RI", "0.28", "0.23", "0.05", "0.12", "0.17", "1", ".682"]
    assert d.iloc[1, 1] == f"{M}0.03" and d.attrs["bold"] == [(1, 7)]


def test_indirect_display_delta_keeps_p_and_adds_holm():
    ind = pd.DataFrame({"name": ["ind_X_M_Y", "ind_X_N_Y"], "path": ["X → M → Y", "X → N → Y"], "est": [0.2, 0.001],
                        "se": [0.05, 0.01], "ci.lower": [0.1, -0.02], "ci.upper": [0.3, 0.02], "method": "delta",
                        "kind": "specific", "to": "Y", "pvalue": [0.0001, 0.9], "pvalue.adj": [0.0002, 0.9],
                        "proportion_mediated": [0.5, 1.0], "family": "confirmatory"})
    d = T.indirect_display(ind)
    assert list(d.columns) == ["Effect", "Type", "b", "SE", "95% C.I.", "p", "p (Holm)", "P_M"]
    assert d.iloc[0, 6] == "< .001"
    assert d.iloc[1, 7] == ""          # P_M not shown for an effect whose interval includes zero


def test_normality_negative_kurtosis_does_not_recommend_mlr():
    nm = {"p_skew": 0.13, "p_kurt": 0.015, "kurtosis": -2.44}
    text = T.normality_recommendation(nm, estimator="ML")
    assert "MLR" not in text.split("This run")[0] and "platykurtic" in text
    assert "MLR" in T.normality_recommendation({"p_skew": 0.13, "p_kurt": 0.015, "kurtosis": 2.44})


def test_fit_table_has_chisq_df_ifi_and_pclose():
    fit = {"chisq": 100.0, "df": 50, "pvalue": 0.01, "cfi": 0.97, "tli": 0.96, "rmsea": 0.04, "rmsea.pvalue": 0.8,
           "srmr": 0.03, "aic": 1, "bic": 2, "baseline.chisq": 1000.0, "baseline.df": 66}
    d = T.fit_table({"SEM": fit})
    row = dict(zip(d.columns, d.iloc[0]))
    assert row["χ²/df"] == "2.00" and row["p close"] == ".800"
    assert row["IFI"] == T.fmt_num((1000 - 100) / (1000 - 50), 3, leading_zero=False)


def test_descriptives_and_collinearity_display():
    desc = pd.DataFrame({"construct": ["A", "B"], "n_items": [3, 3], "mean": [4.0, 5.0], "sd": [1.0, 1.2],
                         "sqrt_ave": [0.8, 0.75], "skew_min": [-0.5, -0.4], "skew_max": [-0.1, 0.2],
                         "kurtosis_min": [-0.3, -0.2], "kurtosis_max": [0.1, 0.3], "cor_source": "latent",
                         "A": [0.8, 0.45], "B": [0.45, 0.75]})
    d = T.descriptives_display(desc)
    assert d.iloc[1].tolist()[-2:] == [".45", ".75"] and d.iloc[0].tolist()[-1] == ""
    assert (0, 5) in d.attrs["bold"] and (1, 6) in d.attrs["bold"]
    coll = pd.DataFrame({"kind": ["inner", "full", "full"], "lhs": ["B", "", ""], "rhs": ["A", "A", "B"],
                         "r2": [0.1, 0.2, 0.8], "vif": [1.11, 1.25, 5.0]})
    eff = pd.DataFrame({"lhs": ["B"], "op": ["~"], "rhs": ["A"], "f2": [0.2], "size": ["medium"]})
    c = T.collinearity_display(coll, eff)
    assert c.iloc[0].tolist() == ["A → B", "1.11", "0.200", "medium"]
    f = T.full_vif_display(coll)
    assert f.iloc[0].tolist() == ["1.25", "5.00"] and f.attrs["bold"] == [(0, 1)]
