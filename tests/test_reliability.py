"""reliability.py against psych 2.2.9 / semTools 0.5.6 references (tests/reference/meas_*/).

The functions get lavaan's own estimates.csv, so every number is a deterministic function of the
same inputs as in R and is compared tightly.
"""

import doctest
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.measurement import reliability
from sem_cocreate.exceptions import DataError, OptionError
from sem_cocreate.measurement.reliability import (item_stats, latent_cov, mardia, measurement_flags, observed_cov,
                                      reliability_table)

REF = Path(__file__).parent / "reference"
CASES = ["meas_bfi", "meas_med9"]
EXACT_ATOL = 1e-6     # closed-form statistics computed from the same inputs as R (alpha, describe, omega, AVE)
MARDIA_RTOL = 1e-8    # Mardia statistics are large numbers (b2p ~ 700, skew ~ 10^4): relative


def load_case(case):
    ref = REF / case
    meta = json.loads((ref / "meta.json").read_text())
    data = pd.read_csv(ref / meta["data"])
    for item, rule in meta["recode"].items():
        assert rule == "7-x"
        data[item] = 7 - data[item]
    est = pd.read_csv(ref / "estimates.csv")
    return ref, data, est


@pytest.mark.parametrize("case", CASES)
def test_reliability_table_matches_psych_and_semtools(case):
    ref, data, est = load_case(case)
    got = reliability_table(est, data)
    want = pd.read_csv(ref / "reliability.csv")
    assert list(got.columns) == ["construct", "n_items", "alpha", "omega", "cr", "ave"]
    assert got["construct"].tolist() == want["construct"].tolist()
    assert got["n_items"].tolist() == want["n_items"].tolist()
    for col in ["alpha", "omega", "cr", "ave"]:
        np.testing.assert_allclose(got[col], want[col], atol=EXACT_ATOL, err_msg=col)


@pytest.mark.parametrize("case", CASES)
def test_sample_cov_is_lavaans_listwise_n_divisor(case):
    ref, data, est = load_case(case)
    want = pd.read_csv(ref / "sample_cov.csv", index_col=0)
    got = observed_cov(data, list(want.index))
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_item_stats_match_describe_and_alpha(case):
    ref, data, est = load_case(case)
    got = item_stats(est, data)
    desc = pd.read_csv(ref / "describe.csv")
    alpha = pd.read_csv(ref / "alpha_items.csv")
    assert got["item"].tolist() == desc["item"].tolist() == alpha["item"].tolist()
    assert got["n"].tolist() == desc["n"].tolist() == alpha["n"].tolist()
    for col in ["mean", "sd", "skew", "kurtosis"]:
        np.testing.assert_allclose(got[col], desc[col], atol=EXACT_ATOL, err_msg=col)
    np.testing.assert_allclose(got["r_drop"], alpha["r.drop"], atol=EXACT_ATOL)
    np.testing.assert_allclose(got["alpha_if_deleted"], alpha["alpha.drop"], atol=EXACT_ATOL)
    loads = est[est["op"] == "=~"].set_index("rhs")
    np.testing.assert_allclose(got["loading"], loads.loc[got["item"], "std.all"], atol=1e-12)
    np.testing.assert_allclose(got["missing"], 1 - got["n"] / len(data), atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_mardia_matches_psych_on_complete_cases(case):
    ref, data, est = load_case(case)
    items = pd.read_csv(ref / "describe.csv")["item"].tolist()
    got = mardia(data[items])
    want = json.loads((ref / "mardia.json").read_text())
    assert got["n_obs"] == want["n.obs"] and got["n_var"] == want["n.var"]
    for mine, theirs in [("b1p", "b1p"), ("b2p", "b2p"), ("skew", "skew"), ("small_skew", "small.skew"),
                         ("kurtosis", "kurtosis")]:
        np.testing.assert_allclose(got[mine], want[theirs], rtol=MARDIA_RTOL, err_msg=mine)
    for mine, theirs in [("p_skew", "p.skew"), ("p_small", "p.small"), ("p_kurt", "p.kurt")]:
        np.testing.assert_allclose(got[mine], want[theirs], atol=1e-10, err_msg=mine)


def test_flags_name_weak_loadings_and_low_cr_ave():
    ref, data, est = load_case("meas_bfi")
    flags = measurement_flags(reliability_table(est, data), item_stats(est, data))
    assert set(flags.loc[flags["statistic"] == "cr", "name"]) == {"O"}          # CR(O) = 0.608
    assert set(flags.loc[flags["statistic"] == "ave", "name"]) == {"A", "C", "E", "N", "O"}
    assert set(flags.loc[flags["statistic"] == "loading", "name"]) == {"A1", "O2", "O4", "O5"}
    ref, data, est = load_case("meas_med9")
    flags = measurement_flags(reliability_table(est, data), item_stats(est, data))
    assert "cr" not in set(flags["statistic"])


def test_constructs_subset_and_order():
    ref, data, est = load_case("meas_bfi")
    got = reliability_table(est, data, constructs=["O", "A"])
    assert got["construct"].tolist() == ["O", "A"]


def test_latent_cov_of_a_structural_model():
    # F1 -> F2 with b = 0.5, var(F1) = 2, residual var(F2) = 1: var(F2) = 0.25 * 2 + 1, cov = 0.5 * 2
    est = pd.DataFrame({"lhs": ["F1", "F1", "F2", "F2", "F2", "F1", "F2"],
                        "op": ["=~", "=~", "=~", "=~", "~", "~~", "~~"],
                        "rhs": ["a", "b", "c", "d", "F1", "F1", "F2"],
                        "est": [1, 1, 1, 1, 0.5, 2.0, 1.0], "std.all": [0.7] * 7})
    cov = latent_cov(est)
    np.testing.assert_allclose(cov.to_numpy(), [[2.0, 1.0], [1.0, 1.5]])


def test_errors_name_the_problem():
    ref, data, est = load_case("meas_bfi")
    with pytest.raises(DataError, match="lacks item column"):
        reliability_table(est, data.drop(columns=["A3"]))
    with pytest.raises(OptionError, match="unknown construct"):
        reliability_table(est, data, constructs=["X"])
    with pytest.raises(DataError, match="lacks column"):
        reliability_table(est.drop(columns=["std.all"]), data)
    with pytest.raises(DataError, match="more rows than items"):
        mardia(data[["A1", "A2", "A3"]].head(3))


def test_docstring_examples():
    assert doctest.testmod(reliability, raise_on_error=False).failed == 0
