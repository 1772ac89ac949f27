"""The lavaan-syntax parser and the parameter table (lavaan's defaults), incl. property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refcases import reference_case
from sem_cocreate.exceptions import ModelSyntaxError
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.engine.spec import build_spec, parse_syntax


def rows(spec, op):
    pt = spec.partable
    return pt[pt["op"] == op]


def test_lavaan_defaults_for_a_mediation_model():
    spec = build_spec("X =~ x1 + x2 + x3\nM =~ m1 + m2 + m3\nY =~ y1 + y2 + y3\nZ =~ z1 + z2 + z3\n"
                      "M ~ X\nY ~ M + X\nZ ~ Y\n")
    load = rows(spec, "=~")
    first = load.groupby("lhs").head(1)
    assert (first["free"] == 0).all() and (first["ustart"] == 1).all()       # auto.fix.first
    cov = rows(spec, "~~")
    pairs = {(r.lhs, r.rhs) for r in cov.itertuples() if r.lhs != r.rhs}
    assert pairs == set()          # one exogenous factor, one pure outcome: no default covariances
    assert set(cov[cov["lhs"] == cov["rhs"]]["lhs"]) == {*"XMYZ"} | {f"{v}{i}" for v in "xmyz" for i in (1, 2, 3)}
    two_y = build_spec("X =~ x1 + x2 + x3\nA =~ a1 + a2 + a3\nB =~ b1 + b2 + b3\nA ~ X\nB ~ X\n")
    assert {(r.lhs, r.rhs) for r in rows(two_y, "~~").itertuples() if r.lhs != r.rhs} == {("A", "B")}  # auto.cov.y


def test_modifiers_fixed_free_label_start_and_vectors():
    spec = build_spec("F =~ NA*x1 + a*x2 + 0.5*x3 + start(0.8)*x4\nF ~~ 1*F\n", groups=("g1", "g2"))
    pt = spec.partable
    x1 = pt[(pt["op"] == "=~") & (pt["rhs"] == "x1")]
    assert (x1["free"] > 0).all()
    x2 = pt[(pt["op"] == "=~") & (pt["rhs"] == "x2")]
    assert x2["free"].nunique() == 1 and (x2["label"] == "a").all()          # one label: equal across groups
    x3 = pt[(pt["op"] == "=~") & (pt["rhs"] == "x3")]
    assert (x3["free"] == 0).all() and (x3["ustart"] == 0.5).all()
    assert (pt[(pt["op"] == "=~") & (pt["rhs"] == "x4")]["start"] == 0.8).all()
    per_group = build_spec("F =~ x1 + c(b1, b2)*x2 + x3", groups=("g1", "g2")).partable
    assert per_group[(per_group["op"] == "=~") & (per_group["rhs"] == "x2")]["label"].tolist() == ["b1", "b2"]


def test_equality_constraint_between_labels_equals_a_shared_label():
    case = reference_case("pol_dem")
    shared = fit_sem(case.model, case.data)
    split = fit_sem(case.model.replace("a*y6", "a2*y6") + "\na == a2\n", case.data)
    assert split.fit["df"] == shared.fit["df"] == 38
    assert split.fit["chisq"] == pytest.approx(shared.fit["chisq"], rel=1e-8)


@pytest.mark.parametrize("syntax, match", [
    ("", "empty"),
    ("F =~ x1 + x2\nG x3 + x4\n", "line 2"),
    ("F =~ x1 + + x2", "line 1: empty term"),
    ("F =~ x1 + x2 + 3x", "line 1"),
    ("F =~ x1 + x2 + x3\nF ~ G\nab := a*b", "not a parameter label"),
    ("F =~ x1 + a*x2 + x3\nb > 0", "'b' is not a parameter label"),
    ("F =~ x1 + x2 + x3\nF <~ x4", "not supported"),
])
def test_syntax_errors_name_the_problem(syntax, match):
    with pytest.raises(ModelSyntaxError, match=match):
        build_spec(syntax)


def test_c_vector_length_must_match_groups():
    with pytest.raises(ModelSyntaxError, match="3 values but the model has 2 group"):
        build_spec("F =~ x1 + c(a, b, c)*x2 + x3", groups=("g1", "g2"))


def test_comments_semicolons_and_continuation_lines():
    a = parse_syntax("F =~ x1 + x2 + x3  # first factor\nG =~ y1 + y2 + y3 ! second\nG ~ F")
    b = parse_syntax("F =~ x1 +\n   x2 + x3; G =~ y1\n + y2 + y3\nG ~ F")
    assert [(s.lhs, s.op, s.rhs) for s in a] == [(s.lhs, s.op, s.rhs) for s in b]


def test_data_columns_checked_with_closest_names():
    with pytest.raises(ModelSyntaxError, match=r"ks5 \(closest: ks4"):
        build_spec("KS =~ ks1 + ks2 + ks5", data_columns=["ks1", "ks2", "ks3", "ks4"])


# ------------------------------------------------------------------------------ property tests

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@st.composite
def cfa_models(draw):
    n_factors = draw(st.integers(1, 4))
    items = draw(st.lists(NAMES, min_size=3 * n_factors, max_size=3 * n_factors, unique=True))
    factors = [f"F{i}" for i in range(n_factors)]
    lines = [(f, items[3 * i: 3 * i + 3]) for i, f in enumerate(factors)]
    return factors, lines


@given(cfa_models(), st.sampled_from([" ", "  ", "\t"]), st.sampled_from(["\n", ";", "\n\n", " # c\n"]),
       st.booleans())
@settings(max_examples=60, deadline=None)
def test_white_space_separators_and_comments_do_not_change_the_model(model, space, sep, break_lines):
    factors, lines = model
    canonical = "\n".join(f"{f} =~ " + " + ".join(its) for f, its in lines)
    joiner = f"{space}+\n{space}" if break_lines else f"{space}+{space}"
    variant = sep.join(f"{f}{space}=~{space}" + joiner.join(its) for f, its in lines)
    a = build_spec(canonical).partable[["lhs", "op", "rhs", "free", "ustart"]]
    b = build_spec(variant).partable[["lhs", "op", "rhs", "free", "ustart"]]
    assert a.fillna(-1).values.tolist() == b.fillna(-1).values.tolist()
    # lavaan's counts: 3 items per factor, first loading fixed, all factor covariances free
    k = len(factors)
    assert build_spec(canonical).npar == 2 * k + 3 * k + k + k * (k - 1) // 2


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
@settings(max_examples=200, deadline=None)
def test_parser_never_fails_with_anything_but_a_syntax_error(text):
    try:
        build_spec(text)
    except ModelSyntaxError:
        pass


def test_general_constraints_are_kept_for_the_constraint_machinery():
    spec = build_spec("F =~ x1 + a*x2 + b*x3\na > 0\na == b\nb == 2*a^2")
    assert spec.general_constraints == (("a", ">", "0"), ("b", "==", "2*a^2"))
    assert spec.npar == 5      # a == b shares one loading (+ 3 residuals, 1 factor variance)


def test_auto_fix_single_fixes_the_lone_indicator_residual():
    pt = build_spec("F =~ x1 + x2 + x3\nS =~ y\nF ~ S").partable
    row = pt[(pt["lhs"] == "y") & (pt["op"] == "~~")].iloc[0]
    assert row["free"] == 0 and row["ustart"] == 0
