"""The hypothesis -> lavaan model builder: measurement and structural rows, labels, defined effects."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sem_cocreate.exceptions import InstrumentError, ModelSyntaxError, OptionError
from sem_cocreate.survey.instrument import Hypothesis
from sem_cocreate.survey.instrument_file import load_instrument
from sem_cocreate.survey.modelbuild import (
    EFFECT_COLUMNS,
    build_model_syntax,
    hypothesis_table,
    indirect_paths,
    path_label,
)

REPO_YAML = Path(__file__).resolve().parents[1] / "questionnaires" / "cocreation.yaml"


@pytest.fixture(scope="module")
def inst():
    return load_instrument(REPO_YAML)


def effects(df):
    return {row["name"]: row["expression"] for _, row in df.iterrows()}


# --- small graphs, expected effects written out by hand ----------------------------------------------

def test_simple_mediation_with_direct_path():
    df = indirect_paths([("X", "M"), ("M", "Y"), ("X", "Y")], outcome="Y")
    assert list(df.columns) == EFFECT_COLUMNS
    assert effects(df) == {
        "ind_X_M_Y": "b_M_X*b_Y_M",
        "totind_X_Y": "ind_X_M_Y",
        "total_X_Y": "b_Y_X + totind_X_Y",
    }
    assert df.set_index("name").loc["ind_X_M_Y", ["kind", "from", "to", "through"]].tolist() == \
        ["specific", "X", "Y", "M"]


def test_parallel_and_serial_mediators():
    graph = [("X", "M1"), ("X", "M2"), ("M1", "M2"), ("M1", "Y"), ("M2", "Y")]
    df = indirect_paths(graph, outcome="Y", mediators=["M1", "M2"])
    assert effects(df) == {
        "ind_X_M1_Y": "b_M1_X*b_Y_M1",
        "ind_X_M2_Y": "b_M2_X*b_Y_M2",
        "ind_X_M1_M2_Y": "b_M1_X*b_M2_M1*b_Y_M2",
        "totind_X_Y": "ind_X_M1_Y + ind_X_M2_Y + ind_X_M1_M2_Y",
        "total_X_Y": "totind_X_Y",
        "diff_X_M1_vs_M2_Y": "ind_X_M1_Y - ind_X_M2_Y",
    }
    kinds = df.set_index("name")["kind"].to_dict()
    assert kinds["diff_X_M1_vs_M2_Y"] == "contrast" and kinds["totind_X_Y"] == "total_indirect"
    assert kinds["total_X_Y"] == "total"
    assert df.set_index("name").loc["ind_X_M1_M2_Y", "through"] == "M1>M2"
    assert df.set_index("name").loc["diff_X_M1_vs_M2_Y", "through"] == "M1 vs M2"


def test_downstream_outcomes_and_two_antecedents():
    graph = {"A": ["M"], "B": ["M", "Y"], "M": ["Y"], "Y": ["Z"]}
    df = indirect_paths(graph, outcome="Y")
    assert effects(df) == {
        "ind_A_M_Y": "b_M_A*b_Y_M",
        "totind_A_Y": "ind_A_M_Y",
        "total_A_Y": "totind_A_Y",
        "ind_A_M_Y_Z": "b_M_A*b_Y_M*b_Z_Y",
        "totind_A_Z": "ind_A_M_Y_Z",
        "total_A_Z": "totind_A_Z",
        "ind_B_M_Y": "b_M_B*b_Y_M",
        "totind_B_Y": "ind_B_M_Y",
        "total_B_Y": "b_Y_B + totind_B_Y",
        "ind_B_Y_Z": "b_Y_B*b_Z_Y",
        "ind_B_M_Y_Z": "b_M_B*b_Y_M*b_Z_Y",
        "totind_B_Z": "ind_B_Y_Z + ind_B_M_Y_Z",
        "total_B_Z": "totind_B_Z",
    }


def test_effects_on_every_endogenous_construct():
    df = indirect_paths([("X", "M"), ("M", "Y")], outcome=None)
    assert set(df["name"]) == {"ind_X_M_Y", "totind_X_Y", "total_X_Y"}      # X -> M is direct only
    df = indirect_paths([("X", "M1"), ("M1", "M2"), ("M2", "Y")], outcome=None)
    assert {n for n in df["name"] if n.startswith("ind_")} == {"ind_X_M1_M2", "ind_X_M1_M2_Y"}


def test_no_indirect_paths_gives_empty_table():
    df = indirect_paths([("X", "Y")], outcome="Y")
    assert df.empty and list(df.columns) == EFFECT_COLUMNS


def test_cocreation_effects(inst):
    df = indirect_paths(inst)
    counts = df["kind"].value_counts().to_dict()
    # PS, TR: 3 paths to VCC and VO, 6 to SAT and CI (via VO or not) = 18 each; TC, EM, IM: 1+1+2+2 = 6 each
    assert counts == {"specific": 54, "total_indirect": 20, "total": 20, "contrast": 2}
    e = effects(df)
    assert e["ind_PS_RI_VCC"] == "b_RI_PS*b_VCC_RI"
    assert e["ind_PS_KS_VCC"] == "b_KS_PS*b_VCC_KS"
    assert e["ind_PS_RI_KS_VCC"] == "b_RI_PS*b_KS_RI*b_VCC_KS"
    assert e["totind_PS_VCC"] == "ind_PS_RI_VCC + ind_PS_KS_VCC + ind_PS_RI_KS_VCC"
    assert e["total_PS_VCC"] == "totind_PS_VCC"
    assert e["diff_PS_RI_vs_KS_VCC"] == "ind_PS_RI_VCC - ind_PS_KS_VCC"
    assert e["diff_TR_RI_vs_KS_VCC"] == "ind_TR_RI_VCC - ind_TR_KS_VCC"
    assert e["ind_TC_KS_VCC_VO_SAT_CI"] == "b_KS_TC*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT"
    assert set(df["from"]) == {"PS", "TC", "EM", "IM", "TR"}
    assert set(df["to"]) == {"VCC", "VO", "SAT", "CI"}
    assert df["name"].is_unique


# --- property: enumerated paths = brute force ----------------------------------------------------------

def brute_force_paths(nodes, edges, targets):
    """Every sequence of distinct nodes (length >= 3) that walks along edges, from a source to a target."""
    edge_set = set(edges)
    has_in = {b for _, b in edges}
    has_out = {a for a, _ in edges}
    found = set()
    for k in range(3, len(nodes) + 1):
        for seq in itertools.permutations(nodes, k):
            if seq[0] in has_in or seq[0] not in has_out or seq[-1] not in targets:
                continue
            if all((a, b) in edge_set for a, b in zip(seq, seq[1:])):
                found.add(seq)
    return found


@st.composite
def small_dags(draw):
    n = draw(st.integers(min_value=2, max_value=6))
    order = draw(st.permutations([f"N{i}" for i in range(n)]))
    pairs = [(order[i], order[j]) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    outcome = draw(st.one_of(st.none(), st.sampled_from(order)))
    return list(order), chosen, outcome


@settings(max_examples=150, deadline=None)
@given(small_dags())
def test_enumerated_paths_match_brute_force(dag):
    nodes, edges, outcome = dag
    edge_nodes = {x for e in edges for x in e}
    if outcome is not None and outcome not in edge_nodes:
        with pytest.raises(OptionError):
            indirect_paths(edges, outcome=outcome)
        return
    if outcome is None:
        targets = {b for _, b in edges}
    else:
        reach = {seq[-1] for seq in brute_force_reach(nodes, edges, outcome)}
        targets = {outcome} | reach
    expected = brute_force_paths(nodes, edges, targets)
    df = indirect_paths(edges, outcome=outcome)
    got = {tuple(name.split("_")[1:]) for name in df.loc[df["kind"] == "specific", "name"]}
    assert len(got) == (df["kind"] == "specific").sum()
    assert got == expected
    # one total-indirect and one total effect for each (antecedent, target) pair that has a path
    pairs = {(p[0], p[-1]) for p in expected}
    assert len(df[df["kind"] == "total_indirect"]) == len(pairs) == len(df[df["kind"] == "total"])
    assert df["name"].is_unique
    # every specific expression is the product of its path labels
    for _, row in df[df["kind"] == "specific"].iterrows():
        seq = row["name"].split("_")[1:]
        assert row["expression"] == "*".join(path_label(a, b) for a, b in zip(seq, seq[1:]))


def brute_force_reach(nodes, edges, start):
    edge_set = set(edges)
    out = []
    for k in range(2, len(nodes) + 1):
        for seq in itertools.permutations(nodes, k):
            if seq[0] == start and all((a, b) in edge_set for a, b in zip(seq, seq[1:])):
                out.append(seq)
    return out


# --- syntax --------------------------------------------------------------------------------------------

COCREATION_SNAPSHOT = """# cocreation version 1, generated by sem_cocreate.survey.modelbuild
# labels b_Y_X for the path X -> Y; ind_X_..._Y specific, totind_X_Y total indirect, total_X_Y total,
# diff_X_M1_vs_M2_Y contrast of single-mediator effects

# measurement model
PS =~ ps1 + ps2 + ps3 + ps4
TC =~ tc1 + tc2 + tc3
EM =~ em1 + em2 + em3
IM =~ im1 + im2 + im3
TR =~ tr1 + tr2 + tr3
RI =~ ri1 + ri2 + ri3 + ri4
KS =~ ks1 + ks2 + ks3 + ks4
VCC =~ vcc1 + vcc2 + vcc3 + vcc4
VO =~ vo1 + vo2 + vo3
SAT =~ sat1 + sat2 + sat3
CI =~ ci1 + ci2 + ci3

# structural model (hypotheses H1, H2, H3, H4, H5, H6, H7, H8, H9, H10, H11, H12, H13, H14)
RI ~ b_RI_PS*PS + b_RI_TR*TR
KS ~ b_KS_PS*PS + b_KS_TC*TC + b_KS_EM*EM + b_KS_IM*IM + b_KS_TR*TR + b_KS_RI*RI
VCC ~ b_VCC_RI*RI + b_VCC_KS*KS
VO ~ b_VO_VCC*VCC
SAT ~ b_SAT_VCC*VCC + b_SAT_VO*VO
CI ~ b_CI_SAT*SAT

# defined effects
ind_PS_RI_VCC := b_RI_PS*b_VCC_RI
ind_PS_KS_VCC := b_KS_PS*b_VCC_KS
ind_PS_RI_KS_VCC := b_RI_PS*b_KS_RI*b_VCC_KS
totind_PS_VCC := ind_PS_RI_VCC + ind_PS_KS_VCC + ind_PS_RI_KS_VCC
total_PS_VCC := totind_PS_VCC
diff_PS_RI_vs_KS_VCC := ind_PS_RI_VCC - ind_PS_KS_VCC
ind_PS_RI_VCC_VO := b_RI_PS*b_VCC_RI*b_VO_VCC
ind_PS_KS_VCC_VO := b_KS_PS*b_VCC_KS*b_VO_VCC
ind_PS_RI_KS_VCC_VO := b_RI_PS*b_KS_RI*b_VCC_KS*b_VO_VCC
totind_PS_VO := ind_PS_RI_VCC_VO + ind_PS_KS_VCC_VO + ind_PS_RI_KS_VCC_VO
total_PS_VO := totind_PS_VO
ind_PS_RI_VCC_SAT := b_RI_PS*b_VCC_RI*b_SAT_VCC
ind_PS_KS_VCC_SAT := b_KS_PS*b_VCC_KS*b_SAT_VCC
ind_PS_RI_KS_VCC_SAT := b_RI_PS*b_KS_RI*b_VCC_KS*b_SAT_VCC
ind_PS_RI_VCC_VO_SAT := b_RI_PS*b_VCC_RI*b_VO_VCC*b_SAT_VO
ind_PS_KS_VCC_VO_SAT := b_KS_PS*b_VCC_KS*b_VO_VCC*b_SAT_VO
ind_PS_RI_KS_VCC_VO_SAT := b_RI_PS*b_KS_RI*b_VCC_KS*b_VO_VCC*b_SAT_VO
totind_PS_SAT := ind_PS_RI_VCC_SAT + ind_PS_KS_VCC_SAT + ind_PS_RI_KS_VCC_SAT + ind_PS_RI_VCC_VO_SAT + ind_PS_KS_VCC_VO_SAT + ind_PS_RI_KS_VCC_VO_SAT
total_PS_SAT := totind_PS_SAT
ind_PS_RI_VCC_SAT_CI := b_RI_PS*b_VCC_RI*b_SAT_VCC*b_CI_SAT
ind_PS_KS_VCC_SAT_CI := b_KS_PS*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_PS_RI_KS_VCC_SAT_CI := b_RI_PS*b_KS_RI*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_PS_RI_VCC_VO_SAT_CI := b_RI_PS*b_VCC_RI*b_VO_VCC*b_SAT_VO*b_CI_SAT
ind_PS_KS_VCC_VO_SAT_CI := b_KS_PS*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
ind_PS_RI_KS_VCC_VO_SAT_CI := b_RI_PS*b_KS_RI*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
totind_PS_CI := ind_PS_RI_VCC_SAT_CI + ind_PS_KS_VCC_SAT_CI + ind_PS_RI_KS_VCC_SAT_CI + ind_PS_RI_VCC_VO_SAT_CI + ind_PS_KS_VCC_VO_SAT_CI + ind_PS_RI_KS_VCC_VO_SAT_CI
total_PS_CI := totind_PS_CI
ind_TC_KS_VCC := b_KS_TC*b_VCC_KS
totind_TC_VCC := ind_TC_KS_VCC
total_TC_VCC := totind_TC_VCC
ind_TC_KS_VCC_VO := b_KS_TC*b_VCC_KS*b_VO_VCC
totind_TC_VO := ind_TC_KS_VCC_VO
total_TC_VO := totind_TC_VO
ind_TC_KS_VCC_SAT := b_KS_TC*b_VCC_KS*b_SAT_VCC
ind_TC_KS_VCC_VO_SAT := b_KS_TC*b_VCC_KS*b_VO_VCC*b_SAT_VO
totind_TC_SAT := ind_TC_KS_VCC_SAT + ind_TC_KS_VCC_VO_SAT
total_TC_SAT := totind_TC_SAT
ind_TC_KS_VCC_SAT_CI := b_KS_TC*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_TC_KS_VCC_VO_SAT_CI := b_KS_TC*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
totind_TC_CI := ind_TC_KS_VCC_SAT_CI + ind_TC_KS_VCC_VO_SAT_CI
total_TC_CI := totind_TC_CI
ind_EM_KS_VCC := b_KS_EM*b_VCC_KS
totind_EM_VCC := ind_EM_KS_VCC
total_EM_VCC := totind_EM_VCC
ind_EM_KS_VCC_VO := b_KS_EM*b_VCC_KS*b_VO_VCC
totind_EM_VO := ind_EM_KS_VCC_VO
total_EM_VO := totind_EM_VO
ind_EM_KS_VCC_SAT := b_KS_EM*b_VCC_KS*b_SAT_VCC
ind_EM_KS_VCC_VO_SAT := b_KS_EM*b_VCC_KS*b_VO_VCC*b_SAT_VO
totind_EM_SAT := ind_EM_KS_VCC_SAT + ind_EM_KS_VCC_VO_SAT
total_EM_SAT := totind_EM_SAT
ind_EM_KS_VCC_SAT_CI := b_KS_EM*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_EM_KS_VCC_VO_SAT_CI := b_KS_EM*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
totind_EM_CI := ind_EM_KS_VCC_SAT_CI + ind_EM_KS_VCC_VO_SAT_CI
total_EM_CI := totind_EM_CI
ind_IM_KS_VCC := b_KS_IM*b_VCC_KS
totind_IM_VCC := ind_IM_KS_VCC
total_IM_VCC := totind_IM_VCC
ind_IM_KS_VCC_VO := b_KS_IM*b_VCC_KS*b_VO_VCC
totind_IM_VO := ind_IM_KS_VCC_VO
total_IM_VO := totind_IM_VO
ind_IM_KS_VCC_SAT := b_KS_IM*b_VCC_KS*b_SAT_VCC
ind_IM_KS_VCC_VO_SAT := b_KS_IM*b_VCC_KS*b_VO_VCC*b_SAT_VO
totind_IM_SAT := ind_IM_KS_VCC_SAT + ind_IM_KS_VCC_VO_SAT
total_IM_SAT := totind_IM_SAT
ind_IM_KS_VCC_SAT_CI := b_KS_IM*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_IM_KS_VCC_VO_SAT_CI := b_KS_IM*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
totind_IM_CI := ind_IM_KS_VCC_SAT_CI + ind_IM_KS_VCC_VO_SAT_CI
total_IM_CI := totind_IM_CI
ind_TR_RI_VCC := b_RI_TR*b_VCC_RI
ind_TR_KS_VCC := b_KS_TR*b_VCC_KS
ind_TR_RI_KS_VCC := b_RI_TR*b_KS_RI*b_VCC_KS
totind_TR_VCC := ind_TR_RI_VCC + ind_TR_KS_VCC + ind_TR_RI_KS_VCC
total_TR_VCC := totind_TR_VCC
diff_TR_RI_vs_KS_VCC := ind_TR_RI_VCC - ind_TR_KS_VCC
ind_TR_RI_VCC_VO := b_RI_TR*b_VCC_RI*b_VO_VCC
ind_TR_KS_VCC_VO := b_KS_TR*b_VCC_KS*b_VO_VCC
ind_TR_RI_KS_VCC_VO := b_RI_TR*b_KS_RI*b_VCC_KS*b_VO_VCC
totind_TR_VO := ind_TR_RI_VCC_VO + ind_TR_KS_VCC_VO + ind_TR_RI_KS_VCC_VO
total_TR_VO := totind_TR_VO
ind_TR_RI_VCC_SAT := b_RI_TR*b_VCC_RI*b_SAT_VCC
ind_TR_KS_VCC_SAT := b_KS_TR*b_VCC_KS*b_SAT_VCC
ind_TR_RI_KS_VCC_SAT := b_RI_TR*b_KS_RI*b_VCC_KS*b_SAT_VCC
ind_TR_RI_VCC_VO_SAT := b_RI_TR*b_VCC_RI*b_VO_VCC*b_SAT_VO
ind_TR_KS_VCC_VO_SAT := b_KS_TR*b_VCC_KS*b_VO_VCC*b_SAT_VO
ind_TR_RI_KS_VCC_VO_SAT := b_RI_TR*b_KS_RI*b_VCC_KS*b_VO_VCC*b_SAT_VO
totind_TR_SAT := ind_TR_RI_VCC_SAT + ind_TR_KS_VCC_SAT + ind_TR_RI_KS_VCC_SAT + ind_TR_RI_VCC_VO_SAT + ind_TR_KS_VCC_VO_SAT + ind_TR_RI_KS_VCC_VO_SAT
total_TR_SAT := totind_TR_SAT
ind_TR_RI_VCC_SAT_CI := b_RI_TR*b_VCC_RI*b_SAT_VCC*b_CI_SAT
ind_TR_KS_VCC_SAT_CI := b_KS_TR*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_TR_RI_KS_VCC_SAT_CI := b_RI_TR*b_KS_RI*b_VCC_KS*b_SAT_VCC*b_CI_SAT
ind_TR_RI_VCC_VO_SAT_CI := b_RI_TR*b_VCC_RI*b_VO_VCC*b_SAT_VO*b_CI_SAT
ind_TR_KS_VCC_VO_SAT_CI := b_KS_TR*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
ind_TR_RI_KS_VCC_VO_SAT_CI := b_RI_TR*b_KS_RI*b_VCC_KS*b_VO_VCC*b_SAT_VO*b_CI_SAT
totind_TR_CI := ind_TR_RI_VCC_SAT_CI + ind_TR_KS_VCC_SAT_CI + ind_TR_RI_KS_VCC_SAT_CI + ind_TR_RI_VCC_VO_SAT_CI + ind_TR_KS_VCC_VO_SAT_CI + ind_TR_RI_KS_VCC_VO_SAT_CI
total_TR_CI := totind_TR_CI
"""


def test_cocreation_syntax_snapshot(inst):
    """Snapshot test: pinned to our own earlier output (checked by lavaan::lavaanify, 96 := rows, 14 ~ paths)."""
    assert build_model_syntax(inst) == COCREATION_SNAPSHOT


def test_syntax_rows(inst):
    syntax = build_model_syntax(inst)
    rows = [line for line in syntax.splitlines() if line and not line.startswith("#")]
    assert "RI =~ ri1 + ri2 + ri3 + ri4" in rows
    assert "KS ~ b_KS_PS*PS + b_KS_TC*TC + b_KS_EM*EM + b_KS_IM*IM + b_KS_TR*TR + b_KS_RI*RI" in rows
    assert "ind_PS_RI_VCC := b_RI_PS*b_VCC_RI" in rows
    assert "ind_PS_RI_KS_VCC := b_RI_PS*b_KS_RI*b_VCC_KS" in rows
    assert "diff_PS_RI_vs_KS_VCC := ind_PS_RI_VCC - ind_PS_KS_VCC" in rows
    assert sum(" =~ " in r for r in rows) == 11
    # every hypothesis has its labelled path; labels are unique
    labels = re.findall(r"(b_[A-Za-z0-9]+_[A-Za-z0-9]+)\*", "\n".join(r for r in rows if " ~ " in r))
    assert sorted(labels) == sorted(h.label for h in inst.hypotheses)
    defined = [r.split(" := ")[0] for r in rows if " := " in r]
    assert len(defined) == len(set(defined)) == 96
    assert defined == indirect_paths(inst)["name"].tolist()


def test_syntax_is_accepted_by_the_spec_parser(inst):
    """The project's lavaan-syntax parser reads the generated model (fit --model takes the same text)."""
    from sem_cocreate.engine.spec import build_spec

    spec = build_spec(build_model_syntax(inst))
    assert len(spec.defined) == 96
    pt = spec.partable
    assert (pt["op"] == "~").sum() == 14
    assert set(pt.loc[pt["op"] == "~", "label"]) == {h.label for h in inst.hypotheses}


def test_subset_of_constructs_keeps_hypotheses_among_them(inst):
    syntax = build_model_syntax(inst, constructs=["PS", "RI", "KS", "VCC"])
    rows = [line for line in syntax.splitlines() if line and not line.startswith("#")]
    assert [r for r in rows if "=~" in r] == ["PS =~ ps1 + ps2 + ps3 + ps4", "RI =~ ri1 + ri2 + ri3 + ri4",
                                               "KS =~ ks1 + ks2 + ks3 + ks4", "VCC =~ vcc1 + vcc2 + vcc3 + vcc4"]
    assert [r for r in rows if " ~ " in r] == ["RI ~ b_RI_PS*PS", "KS ~ b_KS_PS*PS + b_KS_RI*RI",
                                               "VCC ~ b_VCC_RI*RI + b_VCC_KS*KS"]
    assert [r.split(" := ")[0] for r in rows if ":=" in r] == [
        "ind_PS_RI_VCC", "ind_PS_KS_VCC", "ind_PS_RI_KS_VCC", "totind_PS_VCC", "total_PS_VCC",
        "diff_PS_RI_vs_KS_VCC"]


def test_hypotheses_by_id_and_pairs(inst):
    by_id = build_model_syntax(inst, hypotheses=["H1", "H9", "H2", "H10"])
    by_pair = build_model_syntax(inst, hypotheses=[("PS", "RI"), ("RI", "VCC"), ("PS", "KS"), ("KS", "VCC")])
    strip = lambda s: [r for r in s.splitlines() if not r.startswith("# structural")]  # noqa: E731
    assert strip(by_id) == strip(by_pair)
    assert "total_PS_VCC := totind_PS_VCC" in by_id


def test_direct_path_enters_total_effect(inst):
    syntax = build_model_syntax(inst, hypotheses=list(inst.hypotheses) + [Hypothesis("H15", "PS", "VCC")])
    assert "total_PS_VCC := b_VCC_PS + totind_PS_VCC" in syntax
    assert "VCC ~ b_VCC_PS*PS + b_VCC_RI*RI + b_VCC_KS*KS" in syntax


def test_no_hypotheses_gives_a_cfa(inst):
    syntax = build_model_syntax(inst, hypotheses=[])
    assert sum(" =~ " in r for r in syntax.splitlines()) == 11
    assert " ~ " not in syntax.replace("=~", "") and ":=" not in syntax


def test_unknown_construct_in_hypothesis_raises(inst):
    with pytest.raises(InstrumentError, match=r"hypothesis H99 \(XX -> VCC\) names construct 'XX'"):
        build_model_syntax(inst, hypotheses=[Hypothesis("H99", "XX", "VCC")])
    with pytest.raises(InstrumentError, match=r"names construct 'vcc'"):
        build_model_syntax(inst, hypotheses=[("KS", "vcc")])
    with pytest.raises(InstrumentError, match=r"'H42' is not a hypothesis of instrument 'cocreation'"):
        build_model_syntax(inst, hypotheses=["H42"])
    with pytest.raises(InstrumentError, match=r"constructs=: 'XX' not in instrument"):
        build_model_syntax(inst, constructs=["PS", "XX"])


def test_cycle_and_bad_outcome_raise(inst):
    with pytest.raises(ModelSyntaxError, match=r"cycle RI -> VCC -> RI"):
        build_model_syntax(inst, hypotheses=[("RI", "VCC"), ("VCC", "RI")])
    with pytest.raises(OptionError, match=r"outcome='VO' is not in the structural model"):
        build_model_syntax(inst, hypotheses=["H1", "H9"], outcome="VO")
    with pytest.raises(OptionError, match=r"H11 \(VCC -> VO\) names a construct outside constructs="):
        build_model_syntax(inst, hypotheses=["H11"], constructs=["VCC"])


def test_hypothesis_table(inst):
    tab = hypothesis_table(inst)
    assert list(tab.columns) == ["id", "lhs", "op", "rhs", "label", "sign", "text_en", "text_zh"]
    assert tab.iloc[0][["id", "lhs", "op", "rhs", "label", "sign"]].tolist() == ["H1", "RI", "~", "PS", "b_RI_PS", 1]
    assert len(tab) == 14
