"""The semopy boundary: semopy fits the same model from our explicit parameter table."""

import numpy as np
import pytest

from refcases import reference_case
from sem_cocreate.engine._semopy import semopy_estimates, semopy_start, semopy_syntax
from sem_cocreate.engine.fit import fit_sem

SEMOPY_ATOL = 0.005   # semopy's SLSQP default stops ~1e-3 short of the optimum (semopy-notes.md)


@pytest.mark.parametrize("name", ["hs_cfa", "pol_dem"])
def test_semopy_agrees_with_engine(name):
    case = reference_case(name)
    res = fit_sem(case.model, case.data)
    sp = semopy_estimates(res.spec, res.internals["frames"][0])
    ours = res.estimates[res.estimates["op"] != ":="]
    both = ours.merge(sp, on=["lhs", "op", "rhs"], suffixes=("", "_semopy"))
    assert len(both) >= len(ours[ours["op"].isin(["=~", "~"])])
    np.testing.assert_allclose(both["est"], both["est_semopy"], atol=SEMOPY_ATOL)


def test_semopy_syntax_writes_fixed_values_explicitly():
    case = reference_case("hs_fixed")
    res = fit_sem(case.model, case.data)
    text = semopy_syntax(res.spec)
    assert "textual =~ 1*x4 + 1*x5" in text          # both fixed loadings written out
    assert "visual =~ x1 + l2*x2" in text             # NA* first loading stays free


def test_semopy_start_seeds_the_same_optimum():
    case = reference_case("hs_cfa")
    res = fit_sem(case.model, case.data)
    theta = semopy_start(res.spec, res.internals["model"], res.internals["frames"][0])
    assert theta is not None
    again = fit_sem(case.model, case.data, start=theta)
    # both runs stop at a Newton decrement of 1e-12, i.e. within ~1e-6 of the optimum each
    np.testing.assert_allclose(again.theta, res.theta, atol=1e-5)
