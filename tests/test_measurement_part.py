"""The measurement part of the user's model (measurement_syntax) and construct_analyses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sem_cocreate as sc
from sem_cocreate.engine.measurement_part import construct_analyses, measurement_syntax
from sem_cocreate.engine.spec import build_spec, parse_syntax

from refcases import CHISQ_RTOL, reference_case


def test_measurement_part_of_a_sem_with_a_residual_covariance_is_lavaans_cfa():
    case = reference_case("mod_rescov")          # lavaan: cfa() of the CFA + x7 ~~ x8, chisq(23)
    user = case.model + "\nspeed ~ visual + textual\nx1 ~~ x7"
    meas = measurement_syntax(user)
    assert "speed ~ visual" not in meas and "x7 ~~ x8" in meas and "x1 ~~ x7" in meas
    res = sc.cfa(measurement_syntax(case.model + "\nspeed ~ visual + textual"), case.data)
    assert res.fit["df"] == case.fit["df"] == 23
    assert res.fit["chisq"] == pytest.approx(case.fit["chisq"], rel=CHISQ_RTOL)


def test_fixed_values_labels_start_and_higher_order_are_kept():
    user = ("i =~ 1*t1 + 1*t2 + 1*t3\ns =~ 0*t1 + start(1)*t2 + 2*t3\n"
            "F1 =~ NA*a1 + l2*a2 + a3\nF2 =~ b1 + b2 + b3\ng =~ F1 + F2\nF1 ~~ 1*F1\n"
            "a1 ~ 1\nY ~ g + x\nd := l2 * 2\nl2 > 0\n")
    meas = measurement_syntax(user).splitlines()
    assert meas == ["i =~ 1*t1 + 1*t2 + 1*t3", "s =~ 0*t1 + start(1)*t2 + 2*t3",
                    "F1 =~ NA*a1 + l2*a2 + a3", "F2 =~ b1 + b2 + b3", "g =~ F1 + F2",
                    "F1 ~~ 1*F1", "a1 ~ 1", "l2 > 0"]


def test_construct_analyses_skip_with_a_note():
    spec = build_spec("A =~ a1 + a2 + a3\nB =~ b1 + b2\nS =~ s1\ng =~ A + B\n"
                      "i =~ 1*t1 + 1*t2 + 1*t3\nS ~ g")
    t = construct_analyses(spec).set_index("construct")
    assert t.loc["A", "reliability"] and t.loc["A", "htmt"]
    assert t.loc["S", "kind"] == "single-indicator" and "single indicator" in t.loc["S", "note"]
    assert t.loc["g", "kind"] == "higher-order" and not t.loc["g", "htmt"]
    assert t.loc["i", "kind"] == "fixed-loadings" and not t.loc["i", "reliability"]


_names = st.sampled_from([f"x{i}" for i in range(1, 13)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_names, min_size=1, max_size=4, unique=True), min_size=1, max_size=3),
       st.booleans(), st.integers(min_value=0, max_value=2))
def test_measurement_syntax_keeps_every_loading_and_drops_regressions(factors, add_cov, n_reg):
    lines = [f"F{k} =~ " + " + ".join(items) for k, items in enumerate(factors)]
    if add_cov and len(factors[0]) >= 2:
        lines.append(f"{factors[0][0]} ~~ {factors[0][1]}")
    for k in range(min(n_reg, len(factors) - 1)):
        lines.append(f"F{k + 1} ~ F{k}")
    meas = measurement_syntax("\n".join(lines))
    loads = sorted((s.lhs, s.rhs) for s in parse_syntax(meas) if s.op == "=~")
    assert loads == sorted((f"F{k}", x) for k, items in enumerate(factors) for x in items)
    assert all(s.op != "~" for s in parse_syntax(meas))
    assert ("~~" in meas) == (add_cov and len(factors[0]) >= 2)
