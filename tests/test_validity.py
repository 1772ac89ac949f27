"""validity.py against semTools 0.5.6 htmt() and lavaan's cor.lv / AVE (tests/reference/meas_*/)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.exceptions import OptionError
from sem_cocreate.measurement.reliability import factor_items
from sem_cocreate.measurement.validity import fornell_larcker, htmt, htmt_bootstrap

REF = Path(__file__).parent / "reference"
CASES = ["meas_bfi", "meas_med9"]
EXACT_ATOL = 1e-6     # HTMT, correlations, AVE: closed forms on the same data as R


def load_case(case):
    ref = REF / case
    meta = json.loads((ref / "meta.json").read_text())
    data = pd.read_csv(ref / meta["data"])
    for item in meta["recode"]:
        data[item] = 7 - data[item]
    return ref, data, pd.read_csv(ref / "estimates.csv")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("htmt2", "file"), [(True, "htmt.csv"), (False, "htmt_classic.csv")])
def test_htmt_matches_semtools(case, htmt2, file):
    ref, data, est = load_case(case)
    want = pd.read_csv(ref / file, index_col=0)
    got = htmt(data, factor_items(est), htmt2=htmt2)
    assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=EXACT_ATOL)
    got_from_est = htmt(data, est, htmt2=htmt2)          # constructs read from the '=~' rows
    np.testing.assert_allclose(got_from_est.to_numpy(), want.to_numpy(), atol=EXACT_ATOL)


@pytest.mark.parametrize("case", CASES)
def test_fornell_larcker_matches_cor_lv_and_ave(case):
    ref, data, est = load_case(case)
    fl = fornell_larcker(est, data=data)
    cor = pd.read_csv(ref / "cor_lv.csv", index_col=0)
    ave = pd.read_csv(ref / "reliability.csv").set_index("construct")["ave"]
    off = ~np.eye(len(cor), dtype=bool)
    np.testing.assert_allclose(fl.to_numpy()[off], cor.to_numpy()[off], atol=EXACT_ATOL)
    np.testing.assert_allclose(np.diag(fl.to_numpy()) ** 2, ave.loc[fl.index], atol=EXACT_ATOL)
    # given correlations are used as they are
    fl2 = fornell_larcker(est, data=data, latent_cor=cor)
    np.testing.assert_allclose(fl2.to_numpy()[off], cor.to_numpy()[off], atol=1e-12)


def test_fornell_larcker_without_data_uses_standardized_loadings():
    ref, data, est = load_case("meas_med9")
    fl = fornell_larcker(est)
    ld = est[est["op"] == "=~"]
    want = ld.groupby("lhs", sort=False)["std.all"].apply(lambda s: np.sqrt((s ** 2).mean()))
    np.testing.assert_allclose(np.diag(fl.to_numpy()), want.loc[fl.index], atol=1e-12)


def test_htmt_bootstrap_is_reproducible_and_centred():
    ref, data, est = load_case("meas_med9")
    a = htmt_bootstrap(data, est, n_boot=150, seed=7)
    b = htmt_bootstrap(data, est, n_boot=150, seed=7)
    c = htmt_bootstrap(data, est, n_boot=150, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ci.upper"], c["ci.upper"])
    k = 9
    assert len(a) == k * (k - 1) // 2
    full = htmt(data, est)
    np.testing.assert_allclose(a["htmt"], [full.loc[l, r] for l, r in zip(a["lhs"], a["rhs"])], atol=1e-12)
    assert (a["ci.lower"] < a["htmt"]).all() and (a["htmt"] < a["ci.upper"]).all()
    assert (a["flag_085"] == (a["ci.upper"] >= 0.85)).all()
    # simulated constructs are distinct: no pair's upper bound reaches 1 (HTMT_inference holds)
    assert not a["flag_100"].any()


def test_htmt_bootstrap_flags_identical_constructs():
    ref, data, est = load_case("meas_bfi")
    twin = data.assign(A1b=data["A2"], A2b=data["A3"], A3b=data["A4"])
    cons = {"A": ["A2", "A3", "A4"], "Atwin": ["A1b", "A2b", "A3b"], "N": ["N1", "N2", "N3"]}
    out = htmt_bootstrap(twin, cons, n_boot=100, seed=1)
    row = out[(out["lhs"] == "Atwin") & (out["rhs"] == "A")].iloc[0]
    assert row["htmt"] > 1 and row["flag_085"] and row["flag_090"] and row["flag_100"]


def test_errors_name_the_problem():
    ref, data, est = load_case("meas_bfi")
    with pytest.raises(OptionError, match="fewer than 2 items"):
        htmt(data, {"A": ["A1"], "C": ["C1", "C2"]})
    with pytest.raises(OptionError, match="n_boot"):
        htmt_bootstrap(data, est, n_boot=1, seed=1)
    with pytest.raises(OptionError, match="must map"):
        htmt(data, ["A1", "A2"])


def test_htmt_bootstrap_batched_draws_equal_the_per_resample_loop():
    # the batched kernel (one GEMM for all resampled moments) draws the same rows as
    # x[default_rng(child).integers(0, n, n)] and gives np.corrcoef's HTMT to rounding
    from sem_cocreate.measurement.validity import _htmt_draws, _htmt_from_cor

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 9)) + rng.normal(size=(200, 1))
    blocks = [np.arange(0, 3), np.arange(3, 6), np.arange(6, 9)]
    children = np.random.SeedSequence(11).spawn(40)
    for htmt2 in (True, False):
        got = _htmt_draws(x, blocks, children, htmt2)
        want = np.stack([_htmt_from_cor(np.corrcoef(x[np.random.default_rng(c).integers(0, 200, 200)],
                                                    rowvar=False), blocks, htmt2, True) for c in children])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
