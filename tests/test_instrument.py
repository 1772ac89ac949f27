"""The co-creation instrument, the instrument schema and its error messages."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import sem_cocreate

import pytest
import yaml

from sem_cocreate.exceptions import InputFileError, InstrumentError
from sem_cocreate.survey.instrument import (
    Construct,
    Field,
    Hypothesis,
    Instrument,
    InstrumentWarning,
    Item,
    ScalePoint,
)
from sem_cocreate.survey.instrument_file import default_instrument_path, load_instrument

REPO = Path(__file__).resolve().parents[1]
REPO_YAML = REPO / "questionnaires" / "cocreation.yaml"
PACKAGED_YAML = Path(sem_cocreate.__file__).resolve().parent / "resources" / "questionnaires" / "cocreation.yaml"
REPO_PACKAGED_YAML = REPO / "sem_cocreate" / "resources" / "questionnaires" / "cocreation.yaml"

CONSTRUCT_ITEMS = {
    "IA": ["ia1", "ia2", "ia3", "ia4"], "PI": ["pi1", "pi2", "pi3", "pi4"], "RC": ["rc1", "rc2", "rc3", "rc4"],
    "TM": ["tm1", "tm2", "tm3", "tm4"], "RI": ["ri1", "ri2", "ri3", "ri4"], "KS": ["ks1", "ks2", "ks3", "ks4"],
    "SV": ["sv1", "sv2", "sv3", "sv4"], "EV": ["ev1", "ev2", "ev3", "ev4"], "PV": ["pv1", "pv2", "pv3", "pv4"],
    "PO": ["po1", "po2", "po3", "po4"], "MK": ["mk1", "mk2", "mk3"],
}
GOVERNANCE = ("IA", "PI", "RC", "TM")
EXPECTED_PATHS = ({(a, m) for a in GOVERNANCE for m in ("RI", "KS")}
                  | {("RI", "KS"), ("RI", "SV"), ("KS", "SV"), ("KS", "EV"), ("RI", "PV"), ("KS", "PV"),
                     ("SV", "PO"), ("EV", "PO"), ("PV", "PO")})
SOURCES_MD = REPO / "questionnaires" / "SOURCES.md"


@pytest.fixture(scope="module")
def inst() -> Instrument:
    return load_instrument(REPO_YAML)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@pytest.fixture(scope="module")
def _base() -> dict:
    return yaml.load(REPO_YAML.read_text(encoding="utf-8"), Loader=_LOADER)


@pytest.fixture
def base(_base) -> dict:
    return copy.deepcopy(_base)


def write_yaml(tmp_path: Path, data, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- the instrument itself ------------------------------------------------------------------------

def test_constructs_and_items(inst):
    assert {c.id: [it.id for it in c.items] for c in inst.constructs} == CONSTRUCT_ITEMS
    assert len(inst.item_ids()) == 43
    assert [c.stage for c in inst.constructs] == (["antecedent"] * 4 + ["process"] * 2 + ["outcome"] * 4
                                                  + ["marker"])
    assert all(len(c.items) >= 3 for c in inst.constructs)


def test_actor_stage_and_marker(inst):
    actors = {c.id: c.actor for c in inst.constructs}
    assert actors == {"IA": "platform", "PI": "platform", "RC": "platform", "TM": "platform", "RI": "dyad",
                      "KS": "dyad", "SV": "seeker", "EV": "solver", "PV": "solver", "PO": "platform",
                      "MK": "dyad"}
    assert inst.marker_constructs() == ["MK"]
    assert inst.construct("MK").marker
    # the marker is theoretically unrelated: no hypothesis touches it
    assert all("MK" not in (h.from_, h.to) for h in inst.hypotheses)
    # every actor of the paper has an outcome
    assert {c.actor for c in inst.constructs if c.stage == "outcome"} == {"seeker", "solver", "platform"}


def test_every_construct_is_asked_of_both_roles(inst):
    assert inst.role_names() == ("solver", "seeker")
    for c in inst.constructs:
        assert c.roles == ("solver", "seeker"), c.id
        for it in c.items:
            assert set(it.roles) == {"solver", "seeker"}, it.id
            assert it.text_en and it.text_zh


def test_referent_swapped_core_is_asked_identically(inst):
    # the core items (governance, co-creation activities, platform outcomes) read the same for both roles
    core = [it for cid in ("IA", "PI", "RC", "RI", "KS", "PO") for it in inst.construct(cid).items]
    assert len(core) == 24
    for it in core:
        assert it.role_text == (), it.id
        assert it.text_for("seeker", "zh") == it.text_for("solver", "zh") == it.text_zh
        assert "referent-swapped core" in it.source, it.id
    # items whose content must differ by role say so in their source line
    for it in inst.items():
        if it.role_text:
            assert "role-specific" in it.source or it.id.startswith("tm"), it.id


def test_role_specific_wording(inst):
    for it in inst.construct("SV").items + inst.construct("EV").items:
        assert it.text_for("seeker", "en") != it.text_for("solver", "en")
        assert it.text_for("seeker", "zh") != it.text_for("solver", "zh")
    ri1 = inst.construct("RI").items[0]
    assert ri1.role_text == () and ri1.text_for("seeker", "zh") == ri1.text_zh


def test_platform_terms_and_wording_fixes(inst):
    every_zh = " ".join([it.text_zh for it in inst.items()] + [t for it in inst.items() for _r, _e, t in it.role_text]
                        + [c.definition_zh for c in inst.constructs])
    assert "发包方" not in every_zh and "接包方" not in every_zh
    assert "雇主" in every_zh and "服务商" in every_zh
    role = inst.field_of_kind("role")
    assert [p.label_zh for p in role.options] == ["服务商（承接任务）", "雇主（发布任务）"]
    # the midpoint no longer reads "average" (一般)
    assert inst.scale[3].label_zh == "既不同意也不反对"
    # the former double-barrelled items now ask one thing each; disputes and wins are not presupposed
    ks2 = next(it for it in inst.items() if it.id == "ks2")
    assert " and " not in ks2.text_en and "、" not in ks2.text_zh
    rc3 = next(it for it in inst.items() if it.id == "rc3")
    assert rc3.text_en.startswith("When a disagreement") and "化解" in rc3.text_zh
    ev4 = next(it for it in inst.items() if it.id == "ev4")
    assert "按时" in ev4.text_zh and "on time" in ev4.text_en          # both languages say it, or neither


def test_exactly_one_reverse_keyed_item(inst):
    assert inst.reverse_items() == ["po4"]


def test_scale_is_7_point_labelled_in_both_languages(inst):
    assert [p.code for p in inst.scale] == list(range(1, 8))
    assert (inst.scale_min, inst.scale_max) == (1, 7)
    assert inst.scale[0].label_zh == "非常不同意" and inst.scale[0].label_en == "Strongly disagree"
    assert inst.scale[-1].label_zh == "非常同意" and inst.scale[-1].label_en == "Strongly agree"
    assert all(p.label_en and p.label_zh for p in inst.scale)
    assert inst.anchors("zh")["有点同意"] == 5


def test_fields(inst):
    kinds = {f.id: f.kind for f in inst.fields}
    assert kinds == {"id": "id", "consent": "consent", "role": "role", "platform": "categorical",
                     "mode": "categorical", "task_type": "categorical", "reward": "categorical",
                     "won": "categorical", "gender": "categorical", "age": "numeric", "education": "categorical",
                     "tenure": "numeric", "duration": "duration", "attn1": "attention", "attn2": "attention"}
    assert [p.label_zh for p in inst.get_field("mode").options] == ["悬赏", "招标", "雇佣", "计件"]
    checks = {f.id: f.correct for f in inst.attention_checks()}
    assert checks == {"attn1": 5, "attn2": 2}
    assert inst.get_field("attn1").options == inst.scale
    role = inst.field_of_kind("role")
    assert [(p.code, p.name) for p in role.options] == [(1, "solver"), (2, "seeker")]
    for text, code in [("solver", 1), ("Seeker", 2), ("接包方", 1), ("发包方", 2), ("服务商", 1), ("雇主", 2),
                       (1, 1), ("2", 2), (2.0, 2)]:
        assert role.code_for(text) == code, text
    assert role.code_for("platform") is None
    assert role.name_for(2) == "seeker"
    assert inst.get_field("duration").unit == "seconds"
    assert inst.get_field("tenure").unit == "years"
    assert inst.controls == ("won", "reward", "tenure")
    assert [(m.id, m.field) for m in inst.moderators] == [("HG1", "role"), ("HG2", "mode")]
    assert all(m.text_en and m.text_zh and m.rationale_en and m.sources for m in inst.moderators)


def test_missing_codes(inst):
    assert [c for c, _ in inst.missing_codes] == ["99", "-99", "-2"]
    assert inst.missing_values() == [99.0, -99.0, -2.0]
    assert "拒答" in dict(inst.missing_codes)["99"] and "不适用" in dict(inst.missing_codes)["-2"]


def _source_keys() -> list[str]:
    """The citation keys of questionnaires/SOURCES.md (its '- **key**' lines)."""
    import re

    return re.findall(r"^- \*\*(.+?)\*\*", SOURCES_MD.read_text(encoding="utf-8"), flags=re.M)


def test_definitions_and_sources(inst):
    keys = _source_keys()
    assert len(keys) >= 20
    for c in inst.constructs:
        assert c.name_en and c.name_zh and c.definition_en and c.definition_zh, c.id
        assert len(c.sources) >= 2, c.id
        for s in c.sources:
            assert s in keys, (c.id, s)          # every short citation resolves to a full reference
    for it in inst.items():
        assert it.source, it.id                   # every item names the scale and item it adapts
        assert any(k in it.source for k in keys) or "Written for this project" in it.source, it.id
    for h in inst.hypotheses:
        assert h.rationale_en and h.rationale_zh and h.sources, h.id
        assert all(s in keys for s in h.sources), h.id
    # only [V]/[P] entries of the reference file: a recalled-only reference (e.g. van den Hooff) is absent
    every = SOURCES_MD.read_text(encoding="utf-8")
    assert "Hooff" not in every and "Fornell" not in every
    assert "questionnaires/SOURCES.md" in REPO_YAML.read_text(encoding="utf-8")
    assert "/work/" not in REPO_YAML.read_text(encoding="utf-8")     # the header points inside the repository


def test_hypotheses(inst):
    assert [h.id for h in inst.hypotheses] == ["H1a", "H1b", "H2a", "H2b", "H3a", "H3b", "H4a", "H4b", "H5",
                                               "H6a", "H6b", "H7", "H8a", "H8b", "H9a", "H9b", "H9c"]
    assert {(h.from_, h.to) for h in inst.hypotheses} == EXPECTED_PATHS
    assert all(h.sign == 1 and h.text_en and h.text_zh for h in inst.hypotheses)
    assert inst.mediators == ("RI", "KS")
    assert inst.antecedents() == list(GOVERNANCE)
    assert inst.hypotheses[0].label == "b_RI_IA"


def test_packaged_copy_is_identical():
    assert PACKAGED_YAML.read_bytes() == REPO_YAML.read_bytes()


def test_default_path_prefers_repo_file_then_packaged_copy(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    assert default_instrument_path() == Path("questionnaires/cocreation.yaml")
    monkeypatch.chdir(tmp_path)
    assert default_instrument_path() == PACKAGED_YAML
    assert len(load_instrument().constructs) == 11


def test_dataclass_contract_kept():
    """The fields other modules code against are all still there, in order."""
    names = {cls: [f.name for f in dataclasses.fields(cls)] for cls in
             (ScalePoint, Item, Construct, Field, Hypothesis, Instrument)}
    assert names[ScalePoint][:3] == ["code", "label_en", "label_zh"]
    assert names[Item][:8] == ["id", "construct", "text_en", "text_zh", "reverse", "roles", "role_text",
                               "source_labels"]
    assert names[Construct][:9] == ["id", "name_en", "name_zh", "definition_en", "definition_zh", "stage", "items",
                                    "sources", "roles"]
    assert names[Field][:7] == ["id", "kind", "text_en", "text_zh", "options", "correct", "unit"]
    assert names[Hypothesis][:6] == ["id", "from_", "to", "sign", "text_en", "text_zh"]
    assert names[Instrument][:10] == ["id", "title_en", "title_zh", "scale", "constructs", "fields", "hypotheses",
                                      "missing_codes", "mediators", "version"]
    assert dataclasses.is_dataclass(Instrument) and Instrument.__dataclass_params__.frozen


# --- schema errors ----------------------------------------------------------------------------------

def _set(path, value):
    def apply(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return apply


def _pop(path):
    def apply(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return apply


SCHEMA_CASES = [
    ("item text zh missing", _pop(["constructs", 3, "items", 1, "text", "zh"]),
     r"constructs\[3\]\.items\[1\]\.text\.zh: missing"),
    ("reverse not boolean", _set(["constructs", 4, "items", 2, "reverse"], "yes"),
     r"constructs\[4\]\.items\[2\]\.reverse: must be true or false \(got 'yes'\)"),
    ("reverse as number", _set(["constructs", 4, "items", 2, "reverse"], 1),
     r"constructs\[4\]\.items\[2\]\.reverse: must be true or false"),
    ("misspelt key", _set(["constructs", 0, "items", 0, "revers"], True),
     r"constructs\[0\]\.items\[0\]\.revers: unknown key"),
    ("empty definition", _set(["constructs", 2, "definition", "en"], "  "),
     r"constructs\[2\]\.definition\.en: empty"),
    ("bad stage", _set(["constructs", 0, "stage"], "middle"),
     r"constructs\[0\]\.stage: must be one of 'antecedent', 'process', 'outcome' or 'marker'"),
    ("construct id with underscore", _set(["constructs", 0, "id"], "P_S"),
     r"constructs\[0\]\.id: must start with a letter and hold only letters and digits"),
    ("duplicate item id", _set(["constructs", 1, "items", 0, "id"], "ia1"),
     r"constructs\[1\]\.items\[0\]\.id: duplicate id 'ia1' \(also constructs\[0\]\.items\[0\]\.id\)"),
    ("field id clashes with item", _set(["fields", 3, "id"], "ks1"),
     r"fields\[3\]\.id: duplicate id 'ks1'"),
    ("construct id clashes with field", _set(["fields", 3, "id"], "RI"),
     r"fields\[3\]\.id: duplicate id 'RI' \(also constructs\[4\]\.id\)"),
    ("hypothesis unknown construct", _set(["hypotheses", 2, "from"], "XX"),
     r"hypotheses\[2\]\.from: unknown construct 'XX'"),
    ("hypothesis unknown target", _set(["hypotheses", 0, "to"], "ri"),
     r"hypotheses\[0\]\.to: unknown construct 'ri'"),
    ("hypothesis bad sign", _set(["hypotheses", 0, "sign"], "up"),
     r"hypotheses\[0\]\.sign: must be '\+' or '-' \(got 'up'\)"),
    ("hypothesis self loop", _set(["hypotheses", 0, "to"], "IA"),
     r"hypotheses\[0\]: H1a goes from IA to itself"),
    ("hypothesis repeated", _set(["hypotheses", 1, "to"], "RI"),
     r"hypotheses\[1\]: H1b repeats the path IA -> RI of H1a"),
    ("hypothesis cycle", lambda d: d["hypotheses"].append({"id": "H15", "from": "EV", "to": "RI"}),
     r"hypotheses: cycle RI -> KS -> EV -> RI \(H5, H7, H15\)"),
    ("duplicate hypothesis id", _set(["hypotheses", 1, "id"], "H1a"),
     r"hypotheses\[1\]\.id: duplicate hypothesis id 'H1a'"),
    ("unknown mediator", _set(["mediators"], ["RI", "KQ"]), r"mediators\[1\]: unknown construct 'KQ'"),
    ("scale code duplicated", _set(["scale", 2, "code"], 2), r"scale\[2\]\.code: duplicate code 2"),
    ("scale codes out of order", lambda d: d["scale"].reverse(),
     r"scale\[1\]\.code: codes must increase down the list \(7 then 6\)"),
    ("scale code not a number", _set(["scale", 0, "code"], "one"), r"scale\[0\]\.code: must be a whole number"),
    ("scale label zh missing", _pop(["scale", 6, "zh"]), r"scale\[6\]\.zh: missing"),
    ("missing code equals a scale code", _set(["missing_codes", 0, "code"], 3),
     r"missing_codes\[0\]\.code: 3 is also a response-scale code"),
    ("attention check correct outside options", _set(["fields", 13, "correct"], 9),
     r"fields\[13\]\.correct: 9 is not one of the options \(1, 2, 3, 4, 5, 6, 7\)"),
    ("attention check without correct", _pop(["fields", 14, "correct"]),
     r"fields\[14\]\.correct: missing \(an attention check needs its correct answer code\)"),
    ("correct on a non-attention field", _set(["fields", 3, "correct"], 1),
     r"fields\[3\]\.correct: only attention fields have a correct answer"),
    ("attention placed after unknown construct", _set(["fields", 13, "after"], "XYZ"),
     r"fields\[13\]\.after: unknown construct 'XYZ'"),
    ("bad field kind", _set(["fields", 3, "kind"], "choice"), r"fields\[3\]\.kind: must be one of"),
    ("categorical without options", _pop(["fields", 3, "options"]),
     r"fields\[3\]\.options: missing \(a categorical field needs its answer options\)"),
    ("construct with one item", lambda d: d["constructs"][1]["items"].__delitem__(slice(1, None)),
     r"constructs\[1\]\.items: construct PI has 1 item\(s\); a reflective construct needs at least 2"),
    ("construct without items", _pop(["constructs", 1, "items"]), r"constructs\[1\]\.items: missing"),
    ("unknown role", _set(["constructs", 0, "roles"], ["solver", "platform"]),
     r"constructs\[0\]\.roles\[1\]: unknown role 'platform' \(known: solver, seeker\)"),
    ("role text for a role not asked", _set(["constructs", 3, "items", 1, "roles"], ["solver"]),
     r"constructs\[3\]\.items\[1\]\.role_text\.seeker: role 'seeker' is not among the item's roles"),
    ("items is not a list", _set(["constructs", 0, "items"], "ia1, ia2"),
     r"constructs\[0\]\.items: must be a list"),
    ("title missing", _pop(["title"]), r": title: missing"),
]


@pytest.mark.parametrize("name, mutate, match", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_errors_name_the_field_path(tmp_path, base, name, mutate, match):
    data = copy.deepcopy(base)
    mutate(data)
    path = write_yaml(tmp_path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InstrumentWarning)
        with pytest.raises(InstrumentError, match=match) as info:
            load_instrument(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg


def test_message_format_with_repo_relative_path(tmp_path, base, monkeypatch):
    data = copy.deepcopy(base)
    del data["constructs"][3]["items"][1]["text"]["zh"]
    monkeypatch.chdir(tmp_path)
    write_yaml(tmp_path, data, "questionnaires/x.yaml")
    with pytest.raises(InstrumentError) as info:
        load_instrument("questionnaires/x.yaml")
    assert str(info.value) == "questionnaires/x.yaml: constructs[3].items[1].text.zh: missing"


def test_several_problems_are_counted(tmp_path, base):
    data = copy.deepcopy(base)
    del data["constructs"][0]["name"]["zh"]
    del data["constructs"][1]["name"]["zh"]
    with pytest.raises(InstrumentError, match=r"constructs\[0\]\.name\.zh: missing \(and 1 more problem\)$"):
        load_instrument(write_yaml(tmp_path, data))


def test_two_item_construct_warns(tmp_path, base):
    data = copy.deepcopy(base)
    del data["constructs"][1]["items"][2:]
    with pytest.warns(InstrumentWarning, match=r"constructs\[1\]\.items: construct PI has only 2 items"):
        inst = load_instrument(write_yaml(tmp_path, data))
    assert inst.items_of("PI") == ["pi1", "pi2"]


def test_yaml_syntax_error_gives_line(tmp_path):
    text = REPO_YAML.read_text(encoding="utf-8").splitlines()
    lineno = next(i for i, line in enumerate(text) if line.strip().startswith("- id: tm1"))
    text[lineno] = text[lineno].replace("- id: tm1", "- id: tm1: [")
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(text), encoding="utf-8")
    with pytest.raises(InstrumentError, match=rf"broken\.yaml: line {lineno + 1}, column \d+: YAML syntax error"):
        load_instrument(path)


def test_duplicate_yaml_key_is_an_error(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("id: a\nid: b\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"dup\.yaml: line 2, column 1: YAML syntax error: duplicate key 'id' "
                                              r"\(first on line 1\)"):
        load_instrument(path)


@pytest.mark.parametrize("content, match", [("", r"the file is empty"), ("- a\n- b\n", r"the file is a list")])
def test_not_a_mapping(tmp_path, content, match):
    path = tmp_path / "odd.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InstrumentError, match=match):
        load_instrument(path)


def test_missing_file_is_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match=r"nope\.yaml: instrument file not found"):
        load_instrument(tmp_path / "nope.yaml")


def test_minimal_instrument_defaults(tmp_path):
    data = {
        "id": "mini", "title": {"en": "Mini", "zh": "小"},
        "scale": [{"code": c, "en": f"e{c}", "zh": f"z{c}"} for c in (1, 2, 3)],
        "constructs": [{"id": "A", "stage": "antecedent", "name": {"en": "A", "zh": "甲"},
                        "definition": {"en": "a", "zh": "甲"},
                        "items": [{"id": f"a{i}", "text": {"en": f"a{i}", "zh": f"甲{i}"}} for i in (1, 2, 3)]}],
    }
    inst = load_instrument(write_yaml(tmp_path, data))
    assert inst.fields == () and inst.hypotheses == () and inst.version == "1"
    assert inst.items()[0].roles == ("solver", "seeker") and inst.items()[0].reverse is False
    assert inst.role_names() == ("solver", "seeker")
