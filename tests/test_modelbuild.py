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
        "total_X_Y": "b_Y_X + ind_X_M_Y",          # no total indirect equal to its one specific effect
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
        "diff_X_M1_vs_M2_Y": "ind_X_M1_Y - ind_X_M2_Y",
    }                                               # no total equal to the total indirect (no direct path)
    kinds = df.set_index("name")["kind"].to_dict()
    assert kinds["diff_X_M1_vs_M2_Y"] == "contrast" and kinds["totind_X_Y"] == "total_indirect"
    assert df.set_index("name")["family"].to_dict() == {
        "ind_X_M1_Y": "confirmatory", "ind_X_M2_Y": "confirmatory", "ind_X_M1_M2_Y": "confirmatory",
        "totind_X_Y": "confirmatory", "diff_X_M1_vs_M2_Y": "confirmatory"}
    assert df.set_index("name").loc["ind_X_M1_M2_Y", "through"] == "M1>M2"
    assert df.set_index("name").loc["diff_X_M1_vs_M2_Y", "through"] == "M1 vs M2"


def test_downstream_outcomes_and_two_antecedents():
    graph = {"A": ["M"], "B": ["M", "Y"], "M": ["Y"], "Y": ["Z"]}
    df = indirect_paths(graph, outcome="Y")
    assert effects(df) == {
        "ind_A_M_Y": "b_M_A*b_Y_M",
        "ind_A_M_Y_Z": "b_M_A*b_Y_M*b_Z_Y",
        "ind_B_M_Y": "b_M_B*b_Y_M",
        "total_B_Y": "b_Y_B + ind_B_M_Y",
        "ind_B_Y_Z": "b_Y_B*b_Z_Y",
        "ind_B_M_Y_Z": "b_M_B*b_Y_M*b_Z_Y",
        "totind_B_Z": "ind_B_Y_Z + ind_B_M_Y_Z",
    }


def test_effects_on_every_endogenous_construct():
    df = indirect_paths([("X", "M"), ("M", "Y")], outcome=None)
    assert set(df["name"]) == {"ind_X_M_Y"}      # X -> M is direct only; no total equal to the indirect
    df = indirect_paths([("X", "M1"), ("M1", "M2"), ("M2", "Y")], outcome=None)
    assert {n for n in df["name"] if n.startswith("ind_")} == {"ind_X_M1_M2", "ind_X_M1_M2_Y"}


def test_no_indirect_paths_gives_empty_table():
    df = indirect_paths([("X", "Y")], outcome="Y")
    assert df.empty and list(df.columns) == EFFECT_COLUMNS


def test_cocreation_effects(inst):
    """The pre-specified mediation family of the default model (modelbuild._family_effects)."""
    df = indirect_paths(inst)
    counts = df.groupby(["family", "kind"]).size().to_dict()
    # confirmatory, per governance antecedent: A->RI->KS; to SV and PV via RI, KS, RI>KS + contrast; to EV via
    # KS, RI>KS; one total indirect on the final outcome PO = 1 + 4 + 4 + 2 + 1 = 12, x 4 antecedents
    assert counts == {("confirmatory", "specific"): 36, ("confirmatory", "contrast"): 8,
                      ("confirmatory", "total_indirect"): 4, ("exploratory", "specific"): 32,
                      ("exploratory", "total_indirect"): 12}
    e = effects(df)
    assert e["ind_IA_RI_KS"] == "b_RI_IA*b_KS_RI"
    assert e["ind_IA_RI_SV"] == "b_RI_IA*b_SV_RI"
    assert e["ind_IA_RI_KS_SV"] == "b_RI_IA*b_KS_RI*b_SV_KS"
    assert e["diff_PI_RI_vs_KS_PV"] == "ind_PI_RI_PV - ind_PI_KS_PV"
    assert e["totind_TM_PO"].count("ind_TM_") == 8
    fam = df.set_index("name")["family"]
    assert fam["totind_TM_PO"] == "confirmatory" and fam["ind_TM_RI_KS_SV_PO"] == "exploratory"
    assert fam["totind_IA_SV"] == "exploratory"
    assert "diff_IA_RI_vs_KS_EV" not in e                 # EV has no RI path: no contrast
    assert set(df["from"]) == {"IA", "PI", "RC", "TM"}
    assert set(df["to"]) == {"KS", "SV", "EV", "PV", "PO"}
    # no effect twice: names and right-hand sides unique
    assert df["name"].is_unique and df["expression"].is_unique


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
    # one total-indirect effect for each (antecedent, target) pair with two or more paths, one total effect
    # for each pair that also has a direct path: never a row equal to another
    from collections import Counter

    n_paths = Counter((p[0], p[-1]) for p in expected)
    assert len(df[df["kind"] == "total_indirect"]) == sum(1 for v in n_paths.values() if v > 1)
    assert len(df[df["kind"] == "total"]) == sum(1 for pair in n_paths if pair in set(edges))
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

COCREATION_SNAPSHOT = """# cocreation version 2, generated by sem_cocreate.survey.modelbuild
# labels b_Y_X for the path X -> Y; ind_X_..._Y specific, totind_X_Y total indirect, total_X_Y total,
# diff_X_M1_vs_M2_Y contrast of single-mediator effects; c_Y_W for the control W

# measurement model
IA =~ ia1 + ia2 + ia3 + ia4
PI =~ pi1 + pi2 + pi3 + pi4
RC =~ rc1 + rc2 + rc3 + rc4
TM =~ tm1 + tm2 + tm3 + tm4
RI =~ ri1 + ri2 + ri3 + ri4
KS =~ ks1 + ks2 + ks3 + ks4
SV =~ sv1 + sv2 + sv3 + sv4
EV =~ ev1 + ev2 + ev3 + ev4
PV =~ pv1 + pv2 + pv3 + pv4
PO =~ po1 + po2 + po3 + po4

# structural model (hypotheses H1a, H1b, H2a, H2b, H3a, H3b, H4a, H4b, H5, H6a, H6b, H7, H8a, H8b, H9a, H9b, H9c); controls won, reward, tenure
RI ~ b_RI_IA*IA + b_RI_PI*PI + b_RI_RC*RC + b_RI_TM*TM
KS ~ b_KS_IA*IA + b_KS_PI*PI + b_KS_RC*RC + b_KS_TM*TM + b_KS_RI*RI
SV ~ b_SV_RI*RI + b_SV_KS*KS + c_SV_won*won + c_SV_reward*reward + c_SV_tenure*tenure
EV ~ b_EV_KS*KS + c_EV_won*won + c_EV_reward*reward + c_EV_tenure*tenure
PV ~ b_PV_RI*RI + b_PV_KS*KS + c_PV_won*won + c_PV_reward*reward + c_PV_tenure*tenure
PO ~ b_PO_SV*SV + b_PO_EV*EV + b_PO_PV*PV + c_PO_won*won + c_PO_reward*reward + c_PO_tenure*tenure

# defined effects
ind_IA_RI_KS := b_RI_IA*b_KS_RI
ind_IA_RI_SV := b_RI_IA*b_SV_RI
ind_IA_KS_SV := b_KS_IA*b_SV_KS
ind_IA_RI_KS_SV := b_RI_IA*b_KS_RI*b_SV_KS
diff_IA_RI_vs_KS_SV := ind_IA_RI_SV - ind_IA_KS_SV
totind_IA_SV := ind_IA_RI_SV + ind_IA_KS_SV + ind_IA_RI_KS_SV
ind_IA_KS_EV := b_KS_IA*b_EV_KS
ind_IA_RI_KS_EV := b_RI_IA*b_KS_RI*b_EV_KS
totind_IA_EV := ind_IA_KS_EV + ind_IA_RI_KS_EV
ind_IA_RI_PV := b_RI_IA*b_PV_RI
ind_IA_KS_PV := b_KS_IA*b_PV_KS
ind_IA_RI_KS_PV := b_RI_IA*b_KS_RI*b_PV_KS
diff_IA_RI_vs_KS_PV := ind_IA_RI_PV - ind_IA_KS_PV
totind_IA_PV := ind_IA_RI_PV + ind_IA_KS_PV + ind_IA_RI_KS_PV
ind_IA_RI_SV_PO := b_RI_IA*b_SV_RI*b_PO_SV
ind_IA_RI_PV_PO := b_RI_IA*b_PV_RI*b_PO_PV
ind_IA_KS_SV_PO := b_KS_IA*b_SV_KS*b_PO_SV
ind_IA_KS_EV_PO := b_KS_IA*b_EV_KS*b_PO_EV
ind_IA_KS_PV_PO := b_KS_IA*b_PV_KS*b_PO_PV
ind_IA_RI_KS_SV_PO := b_RI_IA*b_KS_RI*b_SV_KS*b_PO_SV
ind_IA_RI_KS_EV_PO := b_RI_IA*b_KS_RI*b_EV_KS*b_PO_EV
ind_IA_RI_KS_PV_PO := b_RI_IA*b_KS_RI*b_PV_KS*b_PO_PV
totind_IA_PO := ind_IA_RI_SV_PO + ind_IA_RI_PV_PO + ind_IA_KS_SV_PO + ind_IA_KS_EV_PO + ind_IA_KS_PV_PO + ind_IA_RI_KS_SV_PO + ind_IA_RI_KS_EV_PO + ind_IA_RI_KS_PV_PO
ind_PI_RI_KS := b_RI_PI*b_KS_RI
ind_PI_RI_SV := b_RI_PI*b_SV_RI
ind_PI_KS_SV := b_KS_PI*b_SV_KS
ind_PI_RI_KS_SV := b_RI_PI*b_KS_RI*b_SV_KS
diff_PI_RI_vs_KS_SV := ind_PI_RI_SV - ind_PI_KS_SV
totind_PI_SV := ind_PI_RI_SV + ind_PI_KS_SV + ind_PI_RI_KS_SV
ind_PI_KS_EV := b_KS_PI*b_EV_KS
ind_PI_RI_KS_EV := b_RI_PI*b_KS_RI*b_EV_KS
totind_PI_EV := ind_PI_KS_EV + ind_PI_RI_KS_EV
ind_PI_RI_PV := b_RI_PI*b_PV_RI
ind_PI_KS_PV := b_KS_PI*b_PV_KS
ind_PI_RI_KS_PV := b_RI_PI*b_KS_RI*b_PV_KS
diff_PI_RI_vs_KS_PV := ind_PI_RI_PV - ind_PI_KS_PV
totind_PI_PV := ind_PI_RI_PV + ind_PI_KS_PV + ind_PI_RI_KS_PV
ind_PI_RI_SV_PO := b_RI_PI*b_SV_RI*b_PO_SV
ind_PI_RI_PV_PO := b_RI_PI*b_PV_RI*b_PO_PV
ind_PI_KS_SV_PO := b_KS_PI*b_SV_KS*b_PO_SV
ind_PI_KS_EV_PO := b_KS_PI*b_EV_KS*b_PO_EV
ind_PI_KS_PV_PO := b_KS_PI*b_PV_KS*b_PO_PV
ind_PI_RI_KS_SV_PO := b_RI_PI*b_KS_RI*b_SV_KS*b_PO_SV
ind_PI_RI_KS_EV_PO := b_RI_PI*b_KS_RI*b_EV_KS*b_PO_EV
ind_PI_RI_KS_PV_PO := b_RI_PI*b_KS_RI*b_PV_KS*b_PO_PV
totind_PI_PO := ind_PI_RI_SV_PO + ind_PI_RI_PV_PO + ind_PI_KS_SV_PO + ind_PI_KS_EV_PO + ind_PI_KS_PV_PO + ind_PI_RI_KS_SV_PO + ind_PI_RI_KS_EV_PO + ind_PI_RI_KS_PV_PO
ind_RC_RI_KS := b_RI_RC*b_KS_RI
ind_RC_RI_SV := b_RI_RC*b_SV_RI
ind_RC_KS_SV := b_KS_RC*b_SV_KS
ind_RC_RI_KS_SV := b_RI_RC*b_KS_RI*b_SV_KS
diff_RC_RI_vs_KS_SV := ind_RC_RI_SV - ind_RC_KS_SV
totind_RC_SV := ind_RC_RI_SV + ind_RC_KS_SV + ind_RC_RI_KS_SV
ind_RC_KS_EV := b_KS_RC*b_EV_KS
ind_RC_RI_KS_EV := b_RI_RC*b_KS_RI*b_EV_KS
totind_RC_EV := ind_RC_KS_EV + ind_RC_RI_KS_EV
ind_RC_RI_PV := b_RI_RC*b_PV_RI
ind_RC_KS_PV := b_KS_RC*b_PV_KS
ind_RC_RI_KS_PV := b_RI_RC*b_KS_RI*b_PV_KS
diff_RC_RI_vs_KS_PV := ind_RC_RI_PV - ind_RC_KS_PV
totind_RC_PV := ind_RC_RI_PV + ind_RC_KS_PV + ind_RC_RI_KS_PV
ind_RC_RI_SV_PO := b_RI_RC*b_SV_RI*b_PO_SV
ind_RC_RI_PV_PO := b_RI_RC*b_PV_RI*b_PO_PV
ind_RC_KS_SV_PO := b_KS_RC*b_SV_KS*b_PO_SV
ind_RC_KS_EV_PO := b_KS_RC*b_EV_KS*b_PO_EV
ind_RC_KS_PV_PO := b_KS_RC*b_PV_KS*b_PO_PV
ind_RC_RI_KS_SV_PO := b_RI_RC*b_KS_RI*b_SV_KS*b_PO_SV
ind_RC_RI_KS_EV_PO := b_RI_RC*b_KS_RI*b_EV_KS*b_PO_EV
ind_RC_RI_KS_PV_PO := b_RI_RC*b_KS_RI*b_PV_KS*b_PO_PV
totind_RC_PO := ind_RC_RI_SV_PO + ind_RC_RI_PV_PO + ind_RC_KS_SV_PO + ind_RC_KS_EV_PO + ind_RC_KS_PV_PO + ind_RC_RI_KS_SV_PO + ind_RC_RI_KS_EV_PO + ind_RC_RI_KS_PV_PO
ind_TM_RI_KS := b_RI_TM*b_KS_RI
ind_TM_RI_SV := b_RI_TM*b_SV_RI
ind_TM_KS_SV := b_KS_TM*b_SV_KS
ind_TM_RI_KS_SV := b_RI_TM*b_KS_RI*b_SV_KS
diff_TM_RI_vs_KS_SV := ind_TM_RI_SV - ind_TM_KS_SV
totind_TM_SV := ind_TM_RI_SV + ind_TM_KS_SV + ind_TM_RI_KS_SV
ind_TM_KS_EV := b_KS_TM*b_EV_KS
ind_TM_RI_KS_EV := b_RI_TM*b_KS_RI*b_EV_KS
totind_TM_EV := ind_TM_KS_EV + ind_TM_RI_KS_EV
ind_TM_RI_PV := b_RI_TM*b_PV_RI
ind_TM_KS_PV := b_KS_TM*b_PV_KS
ind_TM_RI_KS_PV := b_RI_TM*b_KS_RI*b_PV_KS
diff_TM_RI_vs_KS_PV := ind_TM_RI_PV - ind_TM_KS_PV
totind_TM_PV := ind_TM_RI_PV + ind_TM_KS_PV + ind_TM_RI_KS_PV
ind_TM_RI_SV_PO := b_RI_TM*b_SV_RI*b_PO_SV
ind_TM_RI_PV_PO := b_RI_TM*b_PV_RI*b_PO_PV
ind_TM_KS_SV_PO := b_KS_TM*b_SV_KS*b_PO_SV
ind_TM_KS_EV_PO := b_KS_TM*b_EV_KS*b_PO_EV
ind_TM_KS_PV_PO := b_KS_TM*b_PV_KS*b_PO_PV
ind_TM_RI_KS_SV_PO := b_RI_TM*b_KS_RI*b_SV_KS*b_PO_SV
ind_TM_RI_KS_EV_PO := b_RI_TM*b_KS_RI*b_EV_KS*b_PO_EV
ind_TM_RI_KS_PV_PO := b_RI_TM*b_KS_RI*b_PV_KS*b_PO_PV
totind_TM_PO := ind_TM_RI_SV_PO + ind_TM_RI_PV_PO + ind_TM_KS_SV_PO + ind_TM_KS_EV_PO + ind_TM_KS_PV_PO + ind_TM_RI_KS_SV_PO + ind_TM_RI_KS_EV_PO + ind_TM_RI_KS_PV_PO
"""


def test_cocreation_syntax_snapshot(inst):
    """Snapshot test (not a lavaan reference): pinned to our own output for instrument v2 — 17 hypothesised
    paths, 12 control paths, 92 := rows; a change in the builder shows up here as a diff to review."""
    assert build_model_syntax(inst) == COCREATION_SNAPSHOT


def test_syntax_rows(inst):
    syntax = build_model_syntax(inst)
    rows = [line for line in syntax.splitlines() if line and not line.startswith("#")]
    assert "RI =~ ri1 + ri2 + ri3 + ri4" in rows
    assert "KS ~ b_KS_IA*IA + b_KS_PI*PI + b_KS_RC*RC + b_KS_TM*TM + b_KS_RI*RI" in rows
    assert "SV ~ b_SV_RI*RI + b_SV_KS*KS + c_SV_won*won + c_SV_reward*reward + c_SV_tenure*tenure" in rows
    assert "ind_IA_RI_SV := b_RI_IA*b_SV_RI" in rows
    assert "diff_IA_RI_vs_KS_SV := ind_IA_RI_SV - ind_IA_KS_SV" in rows
    assert sum(" =~ " in r for r in rows) == 10            # the marker MK is not in the structural model
    labels = re.findall(r"(b_[A-Za-z0-9]+_[A-Za-z0-9]+)\*", "\n".join(r for r in rows if " ~ " in r))
    assert sorted(labels) == sorted(h.label for h in inst.hypotheses)
    defined = [r.split(" := ")[0] for r in rows if " := " in r]
    assert len(defined) == len(set(defined)) == 92


def test_syntax_is_accepted_by_the_spec_parser(inst):
    """The project's lavaan-syntax parser reads the generated model (fit --model takes the same text)."""
    from sem_cocreate.engine.spec import build_spec

    spec = build_spec(build_model_syntax(inst))
    assert len(spec.defined) == 92
    pt = spec.partable
    assert (pt["op"] == "~").sum() == 17 + 12
    assert set(pt.loc[pt["op"] == "~", "label"]) >= {h.label for h in inst.hypotheses}


def test_competing_models(inst):
    from sem_cocreate.survey.modelbuild import competing_models

    models = competing_models(inst)
    assert list(models) == ["focal", "partial", "reversed", "second_order"]
    assert "SV ~ b_SV_IA*IA + b_SV_PI*PI + b_SV_RC*RC + b_SV_TM*TM + b_SV_RI*RI + b_SV_KS*KS" in models["partial"]
    assert "PO ~ b_PO_IA*IA + b_PO_PI*PI + b_PO_RC*RC + b_PO_TM*TM + b_PO_SV*SV" in models["partial"]
    assert "total_IA_SV := b_SV_IA + totind_IA_SV" in models["partial"]
    assert "RI ~ b_RI_IA*IA + b_RI_PI*PI + b_RI_RC*RC + b_RI_TM*TM + b_RI_KS*KS" in models["reversed"]
    assert "b_KS_RI" not in models["reversed"]
    assert "CC =~ 1*RI + 1*KS" in models["second_order"]
    assert "CC ~ b_CC_IA*IA + b_CC_PI*PI + b_CC_RC*RC + b_CC_TM*TM" in models["second_order"]
    for syntax in models.values():           # the controls are in every model
        assert "c_PO_tenure*tenure" in syntax
    with pytest.raises(OptionError, match="variant='nested'"):
        build_model_syntax(inst, variant="nested")


def test_subset_of_constructs_keeps_hypotheses_among_them(inst):
    syntax = build_model_syntax(inst, constructs=["IA", "RI", "KS", "SV"], controls=())
    rows = [line for line in syntax.splitlines() if line and not line.startswith("#")]
    assert [r for r in rows if "=~" in r] == ["IA =~ ia1 + ia2 + ia3 + ia4", "RI =~ ri1 + ri2 + ri3 + ri4",
                                               "KS =~ ks1 + ks2 + ks3 + ks4", "SV =~ sv1 + sv2 + sv3 + sv4"]
    assert [r for r in rows if " ~ " in r] == ["RI ~ b_RI_IA*IA", "KS ~ b_KS_IA*IA + b_KS_RI*RI",
                                               "SV ~ b_SV_RI*RI + b_SV_KS*KS"]
    assert [r.split(" := ")[0] for r in rows if ":=" in r] == [
        "ind_IA_RI_KS", "ind_IA_RI_SV", "ind_IA_KS_SV", "ind_IA_RI_KS_SV", "diff_IA_RI_vs_KS_SV", "totind_IA_SV"]


def test_hypotheses_by_id_and_pairs(inst):
    by_id = build_model_syntax(inst, hypotheses=["H1a", "H6a", "H1b", "H6b"])
    by_pair = build_model_syntax(inst, hypotheses=[("IA", "RI"), ("RI", "SV"), ("IA", "KS"), ("KS", "SV")])
    strip = lambda s: [r for r in s.splitlines() if not r.startswith("# structural")]  # noqa: E731
    assert strip(by_id) == strip(by_pair)
    assert "totind_IA_SV := ind_IA_RI_SV + ind_IA_KS_SV" in by_id
    assert "total_IA_SV" not in by_id                  # no direct path: the total would repeat the indirect


def test_direct_path_enters_total_effect(inst):
    syntax = build_model_syntax(inst, hypotheses=list(inst.hypotheses) + [Hypothesis("H15", "IA", "SV")])
    assert "total_IA_SV := b_SV_IA + totind_IA_SV" in syntax
    assert "SV ~ b_SV_IA*IA + b_SV_RI*RI + b_SV_KS*KS" in syntax


def test_no_hypotheses_gives_a_cfa(inst):
    syntax = build_model_syntax(inst, hypotheses=[])
    assert sum(" =~ " in r for r in syntax.splitlines()) == 11
    assert " ~ " not in syntax.replace("=~", "") and ":=" not in syntax


def test_unknown_construct_in_hypothesis_raises(inst):
    with pytest.raises(InstrumentError, match=r"hypothesis H99 \(XX -> SV\) names construct 'XX'"):
        build_model_syntax(inst, hypotheses=[Hypothesis("H99", "XX", "SV")])
    with pytest.raises(InstrumentError, match=r"names construct 'sv'"):
        build_model_syntax(inst, hypotheses=[("KS", "sv")])
    with pytest.raises(InstrumentError, match=r"'H42' is not a hypothesis of instrument 'cocreation'"):
        build_model_syntax(inst, hypotheses=["H42"])
    with pytest.raises(InstrumentError, match=r"constructs=: 'XX' not in instrument"):
        build_model_syntax(inst, constructs=["IA", "XX"])


def test_cycle_and_bad_outcome_raise(inst):
    with pytest.raises(ModelSyntaxError, match=r"cycle RI -> SV -> RI"):
        build_model_syntax(inst, hypotheses=[("RI", "SV"), ("SV", "RI")])
    with pytest.raises(OptionError, match=r"outcome='PO' is not in the structural model"):
        build_model_syntax(inst, hypotheses=["H1a", "H6a"], outcome="PO")
    with pytest.raises(OptionError, match=r"H9a \(SV -> PO\) names a construct outside constructs="):
        build_model_syntax(inst, hypotheses=["H9a"], constructs=["SV"])


def test_hypothesis_table(inst):
    tab = hypothesis_table(inst)
    assert list(tab.columns) == ["id", "lhs", "op", "rhs", "label", "sign", "text_en", "text_zh"]
    assert tab.iloc[0][["id", "lhs", "op", "rhs", "label", "sign"]].tolist() == ["H1a", "RI", "~", "IA", "b_RI_IA", 1]
    assert len(tab) == 17
