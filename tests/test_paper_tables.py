"""Paper tables (descriptives, collinearity, f², sample profile) against their R references
(tests/reference/R/make_reference_report_tables.R: lm() closed-form VIF, psych::describe, lavaan refits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from refcases import REF, load_case_data
from sem_cocreate.exceptions import DataError
from sem_cocreate.inference.effect_sizes import drop_path, effect_sizes, f2_size
from sem_cocreate.measurement.collinearity import collinearity_table
from sem_cocreate.measurement.descriptives import construct_scores, descriptives_table, latent_correlations

DESC_ATOL = 1e-8     # means, SDs, skew, kurtosis: closed forms, same arithmetic as R
VIF_ATOL = 1e-8      # VIF from OLS R²: closed form
COR_ATOL = 0.001     # latent correlations: two optimizers (the contract's estimate tolerance)
F2_ATOL = 0.001      # f² and R² from refits: the contract's estimate tolerance

CASE = REF / "report_med9"
CONSTRUCTS = {"PS": [f"ps{i}" for i in range(1, 5)], "TC": [f"tc{i}" for i in range(1, 4)],
              "EM": [f"em{i}" for i in range(1, 4)], "IM": [f"im{i}" for i in range(1, 4)],
              "TR": [f"tr{i}" for i in range(1, 4)], "RI": [f"ri{i}" for i in range(1, 5)],
              "KS": [f"ks{i}" for i in range(1, 5)], "VCC": [f"vcc{i}" for i in range(1, 5)],
              "SAT": [f"sat{i}" for i in range(1, 4)]}


@pytest.fixture(scope="module")
def data():
    return load_case_data("med9")


def _measurement_estimates(data):
    import sem_cocreate as sc

    syntax = "\n".join(f"{c} =~ {' + '.join(items)}" for c, items in CONSTRUCTS.items())
    return sc.cfa(syntax, data).estimates


def test_descriptives_match_psych_and_lavaan(data):
    ref = pd.read_csv(CASE / "descriptives.csv")
    ours = descriptives_table(data, CONSTRUCTS, estimates=_measurement_estimates(data))
    assert list(ours["construct"]) == list(ref["construct"])
    for col in ("mean", "sd", "skew_min", "skew_max", "kurtosis_min", "kurtosis_max"):
        np.testing.assert_allclose(ours[col], ref[col], atol=DESC_ATOL, err_msg=col)
    names = list(CONSTRUCTS)
    ours_cor = ours[names].to_numpy(float)
    ref_cor = ref[names].to_numpy(float)
    off = ~np.eye(len(names), dtype=bool)
    np.testing.assert_allclose(ours_cor[off], ref_cor[off], atol=COR_ATOL)
    assert (ours["cor_source"] == "latent").all()


def test_descriptives_diagonal_is_sqrt_ave(data):
    ave = {c: 0.49 for c in CONSTRUCTS}
    ours = descriptives_table(data, CONSTRUCTS, ave=ave)
    assert np.allclose(np.diag(ours[list(CONSTRUCTS)].to_numpy(float)), 0.7)
    assert (ours["cor_source"] == "scores").all()
    # without estimates, the off-diagonal is the Pearson correlation of the construct scores
    scores = construct_scores(data, CONSTRUCTS)
    assert ours.loc[0, "TC"] == pytest.approx(scores["PS"].corr(scores["TC"]))


def test_latent_correlations_symmetric(data):
    cor = latent_correlations(_measurement_estimates(data), list(CONSTRUCTS))
    assert np.allclose(cor.to_numpy(), cor.to_numpy().T)


def test_descriptives_missing_item_is_an_error(data):
    with pytest.raises(DataError, match="lacks item column"):
        descriptives_table(data.drop(columns=["ps1"]), CONSTRUCTS)


def test_vif_matches_closed_form_in_r(data):
    ref = pd.read_csv(CASE / "collinearity.csv", keep_default_na=False)
    paths = [("RI", x) for x in ("PS", "TC", "TR")] + [("KS", x) for x in ("PS", "TC", "EM", "IM", "RI")] + \
            [("VCC", x) for x in ("RI", "KS", "PS", "TC")] + [("SAT", "VCC")]
    ours = collinearity_table(data, CONSTRUCTS, paths)
    both = ref.merge(ours, on=["kind", "lhs", "rhs"], suffixes=("_r", ""))
    assert len(both) == len(ref) == len(ours)
    np.testing.assert_allclose(both["vif"], both["vif_r"], atol=VIF_ATOL)
    np.testing.assert_allclose(both["vif"], 1 / (1 - both["r2"]), rtol=1e-12)


def test_vif_unknown_predictor_is_an_error(data):
    with pytest.raises(DataError, match="neither a construct nor a data column"):
        collinearity_table(data, CONSTRUCTS, [("RI", "NOPE")])


def test_f2_matches_lavaan_refits(data):
    ref = pd.read_csv(CASE / "effect_sizes.csv")
    ours = effect_sizes((CASE / "model.lav").read_text(), data)
    both = ref.merge(ours, on=["lhs", "op", "rhs"], suffixes=("_r", ""))
    assert len(both) == len(ref) == len(ours) == 13
    for col in ("r2_included", "r2_excluded", "f2"):
        np.testing.assert_allclose(both[col], both[f"{col}_r"], atol=F2_ATOL, err_msg=col)


def test_f2_batched_refits_equal_refits_of_the_reduced_models(data):
    """The batched refits (each path fixed at zero) are the models without the path, fitted in full; paths
    whose removal would change the model otherwise (a predictor used once, an equality label) are left out."""
    from sem_cocreate import sem
    from sem_cocreate.inference.effect_sizes import _batched_r2, _r2_of

    syntax = (CASE / "model.lav").read_text()
    result = sem(syntax, data)
    reg = result.estimates[result.estimates["op"] == "~"]
    paths = list(zip(reg["lhs"], reg["rhs"]))
    got = _batched_r2(result, paths)
    rhs_count = reg["rhs"].value_counts()
    lhs_count = reg["lhs"].value_counts()
    expected = {(a, b) for a, b in paths if rhs_count[b] > 1 and lhs_count[a] > 1}
    assert set(got) == expected and len(expected) >= 8
    for lhs, rhs in sorted(expected)[:4]:
        reduced, _ = drop_path(syntax, lhs, rhs)
        assert got[(lhs, rhs)] == pytest.approx(_r2_of(sem(reduced, data), lhs), abs=1e-6)


def test_f2_batch_leaves_out_paths_sharing_a_label(data):
    from sem_cocreate import sem
    from sem_cocreate.inference.effect_sizes import _batched_r2

    syntax = (CASE / "model.lav").read_text()
    lines = [ln for ln in syntax.splitlines() if ":=" not in ln]
    tied = "\n".join(lines).replace("RI ~ a1*PS + a2*TC", "RI ~ q*PS + q*TC")
    tied_result = sem(tied, data)
    assert tied_result.estimates.query("label == 'q'").shape[0] == 2
    got = _batched_r2(tied_result, [("RI", "PS"), ("RI", "TC"), ("KS", "PS")])
    assert set(got) == {("KS", "PS")}


def test_drop_path_removes_term_label_and_defined():
    syntax = "F =~ a + b + c\nY ~ b1*F + x\nZ ~ y2*Y\nd := b1*y2\n"
    reduced, label = drop_path(syntax, "Y", "F")
    assert label == "b1"
    assert "Y ~ x" in reduced and ":=" not in reduced and "b1" not in reduced
    reduced, _ = drop_path(syntax, "Z", "Y")
    assert "Z ~" not in reduced


@pytest.mark.parametrize("f2,size", [(0.01, "negligible"), (0.02, "small"), (0.15, "medium"), (0.4, "large")])
def test_f2_labels(f2, size):
    assert f2_size(f2) == size


def test_sample_profile_matches_table_in_r():
    from sem_cocreate.survey.instrument_file import default_instrument_path, load_instrument
    from sem_cocreate.survey.profile import sample_profile

    demo = pd.read_csv(REF / ".." / ".." / "sem_cocreate" / "resources" / "data" / "cocreation_demo.csv")
    ours = sample_profile(demo, load_instrument(default_instrument_path()))
    ref = pd.read_csv(CASE / "profile.csv", keep_default_na=False)
    for r in ref[ref["field"] != "tenure"].itertuples():
        row = ours[(ours["field"] == r.field) & (ours["code"] == float(r.code))]
        assert len(row) == 1
        assert int(row["n"].iloc[0]) == r.n
        assert row["share"].iloc[0] == pytest.approx(r.share, abs=1e-12)
    num = pd.read_csv(CASE / "profile_numeric.csv")
    exp = ours[ours["field"] == "tenure"].iloc[0]
    assert exp["mean"] == pytest.approx(num["mean"].iloc[0], abs=1e-12)
    assert exp["sd"] == pytest.approx(num["sd"].iloc[0], abs=1e-12)
