"""Questionnaire export (read back with small independent readers) and the `questionnaire` CLI."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sem_cocreate.cli import main
from sem_cocreate.exceptions import OptionError
from sem_cocreate.survey.instrument_file import load_instrument
from sem_cocreate.survey.questionnaire import CODEBOOK_COLUMNS, export_instrument, validate_instrument_file

REPO = Path(__file__).resolve().parents[1]
REPO_YAML = REPO / "questionnaires" / "cocreation.yaml"
ALL_FORMATS = ["html", "md", "qualtrics", "limesurvey", "codebook"]


@pytest.fixture(scope="module")
def inst():
    return load_instrument(REPO_YAML)


@pytest.fixture(scope="module")
def exported(inst, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    paths = export_instrument(inst, formats=ALL_FORMATS, langs=["en", "zh"], out_dir=out)
    return out, paths


def lang_pick(en, zh, lang):
    return zh if lang == "zh" else en


# --- a small reader of Qualtrics Advanced Format TXT ----------------------------------------------------

def read_qualtrics(path: Path) -> dict:
    """Parse the tags we use: ED, Block, Question (+ID, text), AdvancedChoices/Choice:N, AdvancedAnswers/Answer:N."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[[AdvancedFormat]]"
    survey = {"ed": {}, "blocks": [], "questions": {}}
    question = None
    section = None
    pending = None
    for line in lines[1:]:
        tag = re.fullmatch(r"\[\[(.+)\]\]", line.strip())
        if tag:
            parts = tag.group(1).split(":")
            head = parts[0]
            if head == "ED":
                survey["ed"][parts[1]] = ":".join(parts[2:])
            elif head == "Block":
                survey["blocks"].append({"name": ":".join(parts[1:]), "questions": []})
            elif head == "Question":
                question = {"type": ":".join(parts[1:]), "id": None, "text": None, "choices": {}, "answers": {}}
                section = "text"
            elif head == "ID":
                question["id"] = parts[1]
                survey["questions"][parts[1]] = question
                survey["blocks"][-1]["questions"].append(parts[1])
            elif head in ("AdvancedChoices", "AdvancedAnswers"):
                section = "choices" if head == "AdvancedChoices" else "answers"
            elif head in ("Choice", "Answer"):
                pending = (section, int(parts[1]))
            elif head == "PageBreak":
                pass
            else:
                raise AssertionError(f"unexpected tag {line}")
            continue
        if not line.strip():
            continue
        if pending is not None:
            sec, code = pending
            assert code not in question[sec], f"code {code} twice in {question['id']}"
            question[sec][code] = line
            pending = None
        elif section == "text" and question is not None and question["text"] is None:
            question["text"] = line
        else:
            raise AssertionError(f"stray line {line!r}")
    return survey


@pytest.mark.parametrize("role", ["solver", "seeker"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_qualtrics_reads_back(inst, exported, role, lang):
    out, _ = exported
    survey = read_qualtrics(out / f"cocreation_qualtrics_{role}_{lang}.txt")
    assert survey["ed"] == {"instrument": "cocreation", "version": "2", "role": role, "lang": lang}
    qs = survey["questions"]
    for c in inst.constructs:
        q = qs[c.id]
        assert q["type"] == "Matrix:SingleAnswer"
        # every item, in order, with this role's wording
        assert q["choices"] == {k: it.text_for(role, lang) for k, it in enumerate(c.items, start=1)}
        # all seven scale points with their codes
        assert q["answers"] == {p.code: lang_pick(p.label_en, p.label_zh, lang) for p in inst.scale}
    for f in inst.attention_checks():
        assert qs[f.id]["type"].startswith("MC:SingleAnswer")
        assert sorted(qs[f.id]["choices"]) == list(range(1, 8))
        assert f.correct in qs[f.id]["choices"]
    assert qs["role"]["choices"] == {1: lang_pick("Solver (I take on tasks)", "服务商（承接任务）", lang),
                                     2: lang_pick("Seeker (I post tasks)", "雇主（发布任务）", lang)}
    assert set(qs["consent"]["choices"]) == {1, 2}
    assert qs["tenure"]["type"] == "TE:SingleLine"
    assert "id" not in qs and "duration" not in qs          # recorded by the survey software
    # one block per construct, attention checks inside the block they follow
    names = [b["name"] for b in survey["blocks"]]
    assert names[:2] == ([lang_pick("Consent", "知情同意", lang), lang_pick("About you", "基本信息", lang)])
    assert [n.split(" ")[0] for n in names[2:]] == inst.construct_ids()
    tm_block = next(b for b in survey["blocks"] if b["name"].startswith("TM "))
    assert tm_block["questions"] == ["TM", "attn1"]


# --- LimeSurvey TSV -------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["solver", "seeker"])
def test_limesurvey_reads_back(inst, exported, role):
    out, _ = exported
    path = out / f"cocreation_limesurvey_{role}.txt"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")          # UTF-8 with BOM
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quotechar='"'))
    assert list(rows[0].keys())[:7] == ["id", "related_id", "class", "type/scale", "name", "relevance", "text"]
    settings = {r["name"]: r["text"] for r in rows if r["class"] == "S"}
    assert settings == {"format": "G", "language": "en", "additional_languages": "zh-Hans"}
    titles = {r["language"]: r["text"] for r in rows if r["class"] == "SL"}
    assert titles == {"en": inst.title_en, "zh-Hans": inst.title_zh}

    for lang, code in (("en", "en"), ("zh", "zh-Hans")):
        block = [r for r in rows if r["class"] in ("G", "Q", "SQ", "A") and r["language"] == code]
        # walk the block: a Q row owns the SQ and A rows after it
        questions = {}
        current = None
        for r in block:
            if r["class"] == "Q":
                current = {"row": r, "sq": [], "a": []}
                questions[r["name"]] = current
            elif r["class"] == "SQ":
                current["sq"].append((r["name"], r["text"]))
            elif r["class"] == "A":
                assert r["id"] == current["row"]["id"]
                current["a"].append((r["name"], r["text"]))
        for c in inst.constructs:
            q = questions[c.id]
            assert q["row"]["type/scale"] == "F"
            assert q["sq"] == [(it.id, it.text_for(role, lang)) for it in c.items]
            assert q["a"] == [(str(p.code), lang_pick(p.label_en, p.label_zh, lang)) for p in inst.scale]
        for f in inst.attention_checks():
            assert questions[f.id]["row"]["type/scale"] == "L"
            assert [a for a, _ in questions[f.id]["a"]] == [str(c) for c in range(1, 8)]
        assert questions["consent"]["row"]["mandatory"] == "Y"
        assert [a for a, _ in questions["role"]["a"]] == ["1", "2"]
        assert questions["tenure"]["row"]["type/scale"] == "N"
        groups = [r for r in block if r["class"] == "G"]
        assert len(groups) == 2 + len(inst.constructs)
        assert [g["type/scale"] for g in groups] == [f"G{i}" for i in range(len(groups))]
    # question ids are the same in every language block
    ids = {lang: [(r["name"], r["id"]) for r in rows if r["class"] == "Q" and r["language"] == lang]
           for lang in ("en", "zh-Hans")}
    assert ids["en"] == ids["zh-Hans"]


# --- codebook, html, markdown -----------------------------------------------------------------------------

def test_codebook(inst, exported):
    out, _ = exported
    with open(out / "cocreation_codebook.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys())[:9] == CODEBOOK_COLUMNS
    items = [r for r in rows if r["kind"] == "item"]
    assert [r["item_id"] for r in items] == inst.item_ids()
    assert [r["item_id"] for r in items if r["reverse"] == "true"] == ["po4"]
    assert {r["reverse"] for r in items} == {"true", "false"}
    assert {(r["scale_min"], r["scale_max"]) for r in items} == {("1", "7")}
    assert all(r["roles"] == "solver,seeker" and r["sources"] and r["text_zh"] for r in items)
    sv1 = next(r for r in items if r["item_id"] == "sv1")
    assert sv1["text_en_seeker"] == inst.construct("SV").items[0].text_for("seeker", "en")
    fields = {r["item_id"]: r for r in rows if r["kind"] != "item"}
    assert set(fields) == {f.id for f in inst.fields}
    assert "correct: 5" in fields["attn1"]["text_en"]
    assert fields["duration"]["kind"] == "duration [seconds]"


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"id": a.get("id"), "anchors": [], "rows": [], "boxes": []})
        elif tag == "th" and a.get("class") == "anchor":
            self._cell = "anchor"
            self.tables[-1]["anchors"].append("")
        elif tag == "tr" and a.get("id", "").startswith("r-"):
            self.tables[-1]["rows"].append(a["id"][2:])
            self.tables[-1]["boxes"].append(0)
        elif tag == "td" and a.get("class") == "box":
            self.tables[-1]["boxes"][-1] += 1

    def handle_endtag(self, tag):
        if tag == "th":
            self._cell = None

    def handle_data(self, data):
        if self._cell == "anchor":
            self.tables[-1]["anchors"][-1] += data


def test_html_one_table_per_construct_with_seven_anchors(inst, exported):
    out, _ = exported
    text = (out / "cocreation.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(text)
    assert [t["id"] for t in parser.tables] == [f"t-{c}" for c in inst.construct_ids()]
    for t, c in zip(parser.tables, inst.constructs):
        assert len(t["anchors"]) == 7
        assert t["anchors"] == [f"{p.code}{p.label_en}{p.label_zh}" for p in inst.scale]
        extra = [f.id for f in inst.attention_checks() if f.after == c.id]
        assert t["rows"] == [it.id for it in c.items] + extra
        assert set(t["boxes"]) == {7}
    # bilingual with both roles' wording where it differs
    assert inst.construct("SV").items[0].text_for("seeker", "zh") in text
    assert inst.construct("SV").items[0].text_for("solver", "en") in text
    assert "<title>" in text and "@media print" in text


def test_markdown_lists_every_item(inst, exported):
    out, _ = exported
    text = (out / "cocreation.md").read_text(encoding="utf-8")
    for it in inst.items():
        assert re.search(rf"^\| {it.id}( \(R\))? \|", text, flags=re.M), it.id
    assert "| po4 (R) |" in text
    assert "| H9c | PV → PO | + |" in text
    assert text.count("| ○ | ○ | ○ | ○ | ○ | ○ | ○ |") == len(inst.items()) + len(inst.attention_checks())


def test_export_file_names(exported):
    out, paths = exported
    assert [p.name for p in paths] == [
        "cocreation.html", "cocreation.md",
        "cocreation_qualtrics_solver_en.txt", "cocreation_qualtrics_solver_zh.txt",
        "cocreation_qualtrics_seeker_en.txt", "cocreation_qualtrics_seeker_zh.txt",
        "cocreation_limesurvey_solver.txt", "cocreation_limesurvey_seeker.txt",
        "cocreation_codebook.csv"]
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths)


def test_role_export_uses_that_roles_wording(inst, tmp_path):
    paths = export_instrument(inst, formats=["qualtrics", "html", "codebook"], langs=["zh"], out_dir=tmp_path,
                              role="发包方")
    assert [p.name for p in paths] == ["cocreation_qualtrics_seeker_zh.txt", "cocreation_seeker.html",
                                       "cocreation_seeker_codebook.csv"]
    html = paths[1].read_text(encoding="utf-8")
    em1 = inst.construct("SV").items[0]
    assert em1.text_for("seeker", "zh") in html and em1.text_for("solver", "zh") not in html
    assert "Strongly disagree" not in html and "非常不同意" in html


@pytest.mark.parametrize("kw, match", [
    ({"formats": ["pdf"]}, r"--format pdf: unknown export format"),
    ({"langs": ["fr"]}, r"--lang fr: unknown language"),
    ({"role": "platform"}, r"--role platform: unknown role; choose one of solver, seeker"),
])
def test_bad_export_options(inst, tmp_path, kw, match):
    args = {"formats": ["md"], "langs": ["en"], "out_dir": tmp_path / "o"} | kw
    with pytest.raises(OptionError, match=match):
        export_instrument(inst, **args)
    assert not (tmp_path / "o").exists()


# --- CLI ----------------------------------------------------------------------------------------------------

def test_cli_validate(capsys):
    assert main(["questionnaire", "validate", str(REPO_YAML)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"{REPO_YAML}: valid — 11 constructs, 43 items, 17 hypotheses"


def test_cli_validate_default_file(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["questionnaire", "validate"]) == 0
    assert capsys.readouterr().out.strip() == "questionnaires/cocreation.yaml: valid — 11 constructs, 43 items, " \
                                              "17 hypotheses"


def test_cli_validate_bad_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(REPO_YAML.read_text(encoding="utf-8").replace("reverse: true", "reverse: maybe"), encoding="utf-8")
    assert main(["questionnaire", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}: constructs[9].items[3].reverse: must be true or false (got 'maybe')"
    assert main(["questionnaire", "validate", str(tmp_path / "none.yaml")]) == 2
    assert "instrument file not found" in capsys.readouterr().err


def test_cli_export_refuses_non_empty_folder(capsys, tmp_path):
    out = tmp_path / "q"
    args = ["questionnaire", "export", str(REPO_YAML), "--format", "md,codebook", "--lang", "en,zh", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["cocreation.md", "cocreation_codebook.csv"]
    assert main(args) == 2
    assert "folder exists and is not empty" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert main(["questionnaire", "export", str(REPO_YAML), "--format", "docx", "--out", str(tmp_path / "z")]) == 2
    assert "unknown export format" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()


def test_cli_export_default_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # no questionnaires/ here: the packaged copy is used
    assert main(["questionnaire", "export", "--role", "solver", "--format", "limesurvey"]) == 0
    assert (tmp_path / "questionnaire_export" / "cocreation_limesurvey_solver.txt").is_file()


def test_validate_instrument_file_returns_instrument():
    inst = validate_instrument_file(REPO_YAML)
    assert inst.id == "cocreation" and len(inst.items()) == 43


def test_respondent_form_shows_no_construct_names_or_item_ids(inst, exported):
    """Construct names and item ids would cue respondents; the HTML form shows neither (ids stay in attributes)."""
    import re

    out, _ = exported
    text = (out / "cocreation.html").read_text(encoding="utf-8")
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S))
    for c in inst.constructs:
        assert c.name_en not in visible and c.name_zh not in visible, c.id
        for it in c.items:
            assert not re.search(rf"(?<![\w-]){it.id}(?![\w-])", visible), it.id
