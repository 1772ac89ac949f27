"""exploratory.py against psych 2.2.9 KMO, cortest.bartlett, fa(fm="ml"), fa.parallel (tests/reference/meas_*/)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from sem_cocreate.exceptions import DataError, OptionError
from sem_cocreate.measurement.exploratory import bartlett_sphericity, efa, kmo, parallel_analysis

REF = Path(__file__).parent / "reference"
CASES = ["meas_bfi", "meas_med9"]
EXACT_ATOL = 1e-6    # KMO, eigenvalues: closed forms on the same pairwise correlations as psych
EFA_ATOL = 0.005     # ML EFA loadings/Phi/uniquenesses: two optimisers stop at slightly different points
FA_VALUES_ATOL = 1e-4  # eigenvalues with one-factor minres communalities (optimiser tolerance)


def load_items(case):
    ref = REF / case
    meta = json.loads((ref / "meta.json").read_text())
    data = pd.read_csv(ref / meta["data"])
    for item in meta["recode"]:
        data[item] = 7 - data[item]
    items = pd.read_csv(ref / "describe.csv")["item"].tolist()
    return ref, data[items]


def align(want: np.ndarray, got: np.ndarray):
    """Column permutation and signs of ``got`` that best match ``want``."""
    rows, cols = linear_sum_assignment(-np.abs(want.T @ got))
    perm = cols[np.argsort(rows)]
    signs = np.sign((want * got[:, perm]).sum(0))
    return perm, signs


@pytest.mark.parametrize("case", CASES)
def test_kmo_matches_psych(case):
    ref, x = load_items(case)
    got = kmo(x)
    want = json.loads((ref / "kmo.json").read_text())
    assert got["overall"] == pytest.approx(want["MSA"], abs=EXACT_ATOL)
    assert list(got["items"].index) == list(want["MSAi"])
    np.testing.assert_allclose(got["items"], list(want["MSAi"].values()), atol=EXACT_ATOL)


@pytest.mark.parametrize("case", CASES)
def test_bartlett_matches_psych(case):
    ref, x = load_items(case)
    got = bartlett_sphericity(x)
    want = json.loads((ref / "bartlett.json").read_text())
    assert got["chisq"] == pytest.approx(want["chisq"], rel=1e-9)
    assert got["df"] == want["df"]
    assert got["pvalue"] == pytest.approx(want["p.value"], abs=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("rotate", ["oblimin", "promax"])
def test_ml_efa_matches_psych_fa(case, rotate):
    ref, x = load_items(case)
    want = pd.read_csv(ref / f"efa_{rotate}.csv", index_col=0)
    want_phi = pd.read_csv(ref / f"efa_{rotate}_phi.csv", index_col=0).to_numpy()
    extra = json.loads((ref / f"efa_{rotate}.json").read_text())
    res = efa(x, want.shape[1], rotate=rotate)
    assert res.converged
    assert list(res.loadings.index) == list(want.index)
    perm, signs = align(want.to_numpy(), res.loadings.to_numpy())
    got = res.loadings.to_numpy()[:, perm] * signs
    np.testing.assert_allclose(got, want.to_numpy(), atol=EFA_ATOL)
    phi = res.phi.to_numpy()[np.ix_(perm, perm)] * np.outer(signs, signs)
    np.testing.assert_allclose(phi, want_phi, atol=EFA_ATOL)
    np.testing.assert_allclose(res.uniquenesses, list(extra["uniquenesses"].values()), atol=EFA_ATOL)
    assert res.objective == pytest.approx(extra["objective"], abs=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_parallel_analysis_observed_values_and_suggestion(case):
    ref, x = load_items(case)
    want = json.loads((ref / "parallel.json").read_text())
    res = parallel_analysis(x, n_iter=4, seed=11)
    np.testing.assert_allclose(res.table["pc_observed"], want["pc.values"], atol=EXACT_ATOL)
    np.testing.assert_allclose(res.table["fa_observed"], want["fa.values"], atol=FA_VALUES_ATOL)
    # random data differ from R's: the suggested numbers may differ by one in borderline cases
    assert abs(res.n_components - want["ncomp"]) <= 1
    assert abs(res.n_factors - want["nfact"]) <= 1
    again = parallel_analysis(x, n_iter=4, seed=11)
    pd.testing.assert_frame_equal(res.table, again.table)


def test_errors_name_the_problem():
    ref, x = load_items("meas_med9")
    with pytest.raises(OptionError, match="rotate"):
        efa(x, 2, rotate="quartimax")
    with pytest.raises(OptionError, match="n_factors"):
        efa(x, 0)
    with pytest.raises(DataError, match="no variance"):
        kmo(x.assign(ps1=1))
    with pytest.raises(OptionError, match="n_iter"):
        parallel_analysis(x, n_iter=0)
