"""The human report: every format and language rendered from a real results folder.

The folder is produced once per session by the real ``fit`` command on the embedded (SIMULATED)
demo study; the tests read the written reports and compare their numbers with the folder's CSVs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.report import tables as T
from sem_cocreate.cli import main
from sem_cocreate.exceptions import InputFileError, OptionError
from sem_cocreate.report import render_report
from sem_cocreate.report.context import build_report
from sem_cocreate.report.folder import read_results_folder


REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "reports" / "cocreation_demo"


def _committed_demo() -> bool:
    """True when the demo results folder is committed in git (then the tests re-render a copy of it
    instead of refitting, which takes 20-70 s)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "--error-unmatch",
                              "reports/cocreation_demo/estimates.csv", "reports/cocreation_demo/fit.json",
                              "reports/cocreation_demo/manifest.json"], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """A results folder with reports in all formats and both languages: written by ``fit`` in this
    session, or a copy of the committed demo folder re-rendered by ``report``."""
    out = tmp_path_factory.mktemp("report") / "demo"
    if _committed_demo():
        shutil.copytree(DEMO, out)
        for p in out.glob("report*"):
            p.unlink()
        assert main(["report", str(out), "--format", "html,md,docx", "--lang", "en,zh"]) == 0
    else:
        assert main(["fit", "--out", str(out), "--format", "html,md,docx", "--lang", "en,zh"]) == 0
    return out


@pytest.fixture
def copy(results, tmp_path):
    """A private copy of the results folder that a test may change."""
    dst = tmp_path / "copy"
    shutil.copytree(results, dst)
    for p in dst.glob("report*"):
        p.unlink()
    return dst


def _md_table(text: str, caption_start: str) -> list[list[str]]:
    """The rows (without header) of the pipe table after the caption ``**Table n. <caption_start>...**``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if re.match(r"\*\*(Table|表) \d+\. " + re.escape(caption_start), line))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif rows:
            break
    return rows[2:]


def test_fit_writes_all_report_files(results):
    names = sorted(p.name for p in results.glob("report*"))
    assert names == ["report.docx", "report.html", "report.md", "report.zh.docx", "report.zh.html", "report.zh.md"]


def test_hypotheses_table_numbers_equal_rounded_csv(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    hyp = pd.read_csv(results / "hypotheses.csv")
    rows = _md_table(md, "Hypothesis tests")
    assert len(rows) == len(hyp) == 17
    for row, h in zip(rows, hyp.to_dict("records")):
        h_id, path, beta, b, se, p, ci, verdict = row
        assert h_id == h["id"] and path == h["path"]
        assert float(beta.replace(T.MINUS, "-")) == pytest.approx(round(h["std.all"], 2), abs=1e-9)
        assert float(b.replace(T.MINUS, "-")) == pytest.approx(round(h["est"], 2), abs=1e-9)
        assert float(se) == pytest.approx(round(h["se"], 2), abs=1e-9)
        if h["pvalue"] < 0.001:
            assert p == "< .001"
        else:
            assert float(p) == pytest.approx(round(h["pvalue"], 3), abs=1e-9)
        lo, hi = (float(x.replace(T.MINUS, "-")) for x in ci.strip("[]").split(", "))
        assert (lo, hi) == (pytest.approx(round(h["ci.lower"], 2), abs=1e-9), pytest.approx(round(h["ci.upper"], 2), abs=1e-9))
        assert verdict.strip("*") == {"supported": "Yes", "not supported": "No"}[h["supported"]]


def test_reliability_and_fit_numbers_equal_rounded_csv(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    rel = pd.read_csv(results / "reliability.csv")
    rows = _md_table(md, "Reliability")
    assert len(rows) == len(rel)
    for row, r in zip(rows, rel.to_dict("records")):
        assert row[0].split()[0] == r["construct"]
        for cell, key in zip(row[2:6], ("alpha", "omega", "cr", "ave")):
            assert float(cell.strip("*")) == pytest.approx(round(r[key], 2), abs=1e-9)
    fit = json.loads((results / "fit.json").read_text())
    sem_row = _md_table(md, "Fit of the structural model")[-1]
    assert sem_row[1] == f"{fit['chisq']:.2f}" and sem_row[2] == str(int(fit["df"]))
    assert float(sem_row[4]) == pytest.approx(round(fit["chisq"] / fit["df"], 2))
    assert float(sem_row[5]) == pytest.approx(round(fit["cfi"], 3)) and float(sem_row[10]) == pytest.approx(round(fit["srmr"], 3))


def test_screening_flow_matches_screening_json(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    s = json.loads((results / "screening.json").read_text())
    notes = json.loads((results / "notes.json").read_text())
    rows = _md_table(md, "Screening flow")
    assert rows[0] == ["Responses received", "", "", str(s["n_raw"])]
    assert rows[-1][-1] == f"**{notes['n_obs']}**"
    removed = sum(int(r[2]) for r in rows if r[2] and r[0] not in ("Dropped for missing answers (listwise deletion)",))
    assert removed == s["n_excluded"]
    # every rule is named in words, including the newer consent / preview / zig-zag steps (not its rule id)
    from sem_cocreate.report.i18n import label

    names = [r[0] for r in rows]
    for rule, info in s["rules"].items():
        if info.get("enabled") is not False and info.get("applied", True):
            assert label(f"step_{rule}", "en") in names and rule not in names, rule


def test_simulated_banner_in_every_format(results):
    from docx import Document

    assert "**SIMULATED DATA — for demonstration only**" in (results / "report.md").read_text(encoding="utf-8")
    assert "<strong>SIMULATED DATA — for demonstration only</strong>" in (results / "report.html").read_text(encoding="utf-8")
    assert "模拟数据——仅供演示" in (results / "report.zh.md").read_text(encoding="utf-8")
    assert "模拟数据——仅供演示" in (results / "report.zh.html").read_text(encoding="utf-8")
    texts = [p.text for p in Document(str(results / "report.docx")).paragraphs]
    assert any(t.startswith("SIMULATED DATA — for demonstration only") for t in texts)


def test_chinese_report_headings_and_hypotheses(results):
    md = (results / "report.zh.md").read_text(encoding="utf-8")
    for heading in ("# 结构方程模型分析报告", "## 1 样本与数据筛查", "## 2 测量模型", "### 2.4 区分效度", "## 3 结构模型",
                    "## 4 中介效应", "## 5 测量不变性", "## 6 方法陈述", "## 附录", "### B 软件版本与输入文件",
                    "### 3.4 结果概述", "### 3.5 研究局限"):
        assert heading + "\n" in md, heading
    hyp = pd.read_csv(results / "hypotheses.csv")
    for h in hyp.to_dict("records"):             # the narrative names every hypothesis and its verdict
        verdict = "得到支持" if h["supported"] == "supported" else "未得到支持"
        assert f"{h['id']}（{h['path']}）{verdict}" in md
    assert re.search(r"\*\*表 \d+\. 假设检验（结构路径）\*\*", md)
    assert "| 假设 | 路径 | β | b | SE | p | 95% C.I. | 是否支持 |" in md
    assert "制度安排" in md                  # construct names from the instrument
    assert "Structural model" not in md and "Supported?" not in md


def test_html_is_self_contained(results):
    for name, lang in (("report.html", "en"), ("report.zh.html", "zh-CN")):
        html = (results / name).read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>")
        assert f'<html lang="{lang}">' in html and '<meta charset="utf-8">' in html
        assert "<style>" in html and "@media print" in html
        assert not re.search(r"<(link|script|img)\b", html)
        assert not re.search(r"(src|href)=\"https?://", html)
        assert html.count("<table class=\"apa\">") >= 14


def test_docx_tables_and_headings(results):
    from docx import Document

    folder = read_results_folder(results)
    for name, lang in (("report.docx", "en"), ("report.zh.docx", "zh")):
        doc = Document(str(results / name))
        content = build_report(folder, lang=lang)
        expected = [b.table for b in content.blocks if b.kind == "table"]
        assert len(doc.tables) == len(expected)
        for table, df in zip(doc.tables, expected):
            assert len(table.rows) == len(df) + 1 and len(table.columns) == len(df.columns)
            assert [c.text for c in table.rows[0].cells] == [str(c) for c in df.columns]
        heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
        assert ("3 Structural model" if lang == "en" else "3 结构模型") in heads
    doc = Document(str(results / "report.docx"))
    hyp = next(t for t in doc.tables if t.rows[0].cells[0].text == "H")
    assert len(hyp.rows) == 18
    assert [c.text for c in hyp.rows[1].cells][:2] == ["H1a", "IA → RI"]


def test_report_command_rerenders_identically(results, copy, capsys):
    assert main(["report", str(copy), "--format", "md,html", "--lang", "en,zh"]) == 0
    out = capsys.readouterr().out.split()
    assert [p.split("/")[-1] for p in out] == ["report.md", "report.html", "report.zh.md", "report.zh.html"]
    for name in ("report.md", "report.zh.md"):
        a, b = ((folder / name).read_text(encoding="utf-8").splitlines() for folder in (results, copy))
        assert len(a) == len(b)
        differ = [(x, y) for x, y in zip(a, b) if x != y]
        assert len(differ) == 1 and differ[0][0].startswith(("*Rendered from", "*根据结果文件夹"))


def test_mediation_from_indirect_csv(copy):
    """With an indirect.csv (contract columns; here assembled from the folder's own := rows plus
    bootstrap bookkeeping columns, for rendering only) the method line and Zhao types are shown;
    the confirmatory family is the main table, the rest goes to the appendix."""
    est = pd.read_csv(copy / "estimates.csv")
    ind = T.indirect_from_estimates(est)
    ind["method"] = "bootstrap bca"
    ind["n_boot"] = 5000
    ind["n_failed"] = 2
    ind["proportion_mediated"] = np.where(ind["kind"] == "specific", 0.25, np.nan)
    ind["mediation_type"] = np.where(ind["kind"] == "specific", "indirect-only", "complementary")
    ind["family"] = np.where((ind["kind"] == "specific") & (ind["to"] == ind.loc[ind["kind"] == "specific", "to"].iloc[0]), "confirmatory", "exploratory")
    ind["pvalue.adj"] = np.where(ind["family"] == "confirmatory", 0.004, np.nan)
    ind.to_csv(copy / "indirect.csv", index=False)
    render_report(copy, formats=("md",), langs=("en", "zh"))
    md = (copy / "report.md").read_text(encoding="utf-8")
    assert "Method: bias-corrected and accelerated (BCa) bootstrap (5,000 resamples, 2 failed)." in md
    rows = _md_table(md, "Confirmatory indirect effects")
    conf = ind[ind["family"] == "confirmatory"]
    assert len(rows) == len(conf)
    first = conf.iloc[0]
    assert rows[0][:5] == [first["path"], "specific indirect", T.fmt_num(first["est"], 3), T.fmt_num(first["se"], 3),
                           f"**{T.fmt_ci(first['ci.lower'], first['ci.upper'], 3)}**"]
    assert rows[0][-2:] == [".004", "0.25"]           # Holm p, P_M; the one mediation type is said in the note
    assert "Mediation type (Zhao et al., 2010): indirect-only (full) for every effect in the table." in md
    assert "p (Holm)" in md and "### A Further defined effects" in md
    from sem_cocreate.report.context import APPENDIX_MAX_ROWS

    n_rest = len(ind) - len(conf)
    if n_rest > APPENDIX_MAX_ROWS:        # a long exploratory family is pointed to, not printed
        assert f"The other {n_rest} defined effects" in md and "indirect.csv" in md
    else:
        assert len(_md_table(md, "All other defined effects")) == n_rest
    zh = (copy / "report.zh.md").read_text(encoding="utf-8")
    assert "偏差校正加速（BCa）bootstrap（5,000 次重抽样，2 次失败）" in zh
    assert "仅间接效应（完全中介）" in zh


def test_mediation_table_of_the_pipeline(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    ind = pd.read_csv(results / "indirect.csv")
    caption = "Confirmatory indirect effects" if "family" in ind.columns else "Specific indirect effects"
    rows = _md_table(md, caption)
    from sem_cocreate.report.figures import confirmatory_rows

    main_rows = confirmatory_rows(ind).reset_index(drop=True)
    # the main table is the pre-specified confirmatory family only (the other defined effects: appendix)
    assert len(rows) == len(main_rows) and len(rows) < len(ind)
    for row, r in zip(rows, main_rows.to_dict("records")):
        assert row[2] == T.fmt_num(r["est"], 3) and row[3] == T.fmt_num(r["se"], 3)
        assert row[4].strip("*") == T.fmt_ci(r["ci.lower"], r["ci.upper"], 3)
        assert row[4].startswith("**") == bool(r["ci.lower"] > 0 or r["ci.upper"] < 0)
    method = ind["method"].iloc[0]
    if method == "delta":
        assert "delta method" in md and "not the bootstrap" in md
    else:
        assert "p |" not in md.split(caption)[1].split("\n\n")[1]    # no normal-theory p beside bootstrap intervals
        assert f"({ind['n_boot'].iloc[0]:,} resamples, {ind['n_failed'].iloc[0]} failed)" in md


def test_warning_box_for_non_convergence_and_heywood(copy):
    fit = json.loads((copy / "fit.json").read_text())
    fit["converged"] = False
    (copy / "fit.json").write_text(json.dumps(fit))
    notes = json.loads((copy / "notes.json").read_text())
    notes["entries"].append({"topic": "structural model", "message": "Heywood case: negative variance of ks3 (-0.012)",
                             "level": "warning"})
    notes["entries"].append({"topic": "method-factor model", "message": "the optimizer did not converge",
                             "level": "warning"})   # an auxiliary model: not in the box
    (copy / "notes.json").write_text(json.dumps(notes))
    render_report(copy, formats=("md", "html"), langs=("en",))
    md = (copy / "report.md").read_text(encoding="utf-8")
    assert "> **⚠ Check before using these results**" in md
    assert "> - **The model did not converge: the estimates below are not trustworthy.**" in md
    assert "> - **structural model: Heywood case: negative variance of ks3 (-0.012)**" in md
    assert "method-factor model: the optimizer" not in md.split("Check before using these results")[1].split("\n\n")[0]
    assert '<div class="warning" role="alert">' in (copy / "report.html").read_text(encoding="utf-8")


def test_no_warning_box_for_a_clean_run(results):
    assert "⚠" not in (results / "report.md").read_text(encoding="utf-8")


def test_method_statement(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    man = json.loads((results / "manifest.json").read_text())
    para = next(line for line in md.splitlines() if line.startswith("The hypothesised model was estimated"))
    assert "maximum likelihood (ML) in sem_cocreate 0.1.0 (Python)" in para
    assert "lavaan 0.6.14" in para and f"seed {man['seed']}" in para
    n_obs = json.loads((results / "notes.json").read_text())["n_obs"]
    scr = json.loads((results / "screening.json").read_text())
    assert f"n = {n_obs}" in para and f"Of {scr['n_raw']} responses received, {scr['n_excluded']} were excluded" in para
    assert "removed listwise" in para
    zh = (results / "report.zh.md").read_text(encoding="utf-8")
    assert "本研究采用基于协方差的结构方程模型" in zh and f"最终分析样本量 n = {n_obs}" in zh


def test_reproducibility_section(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    man = json.loads((results / "manifest.json").read_text())
    assert f"| data | {man['inputs']['data']['path']} | {man['inputs']['data']['sha256']} |" in md
    assert f"| Seed | {man['seed']} |" in md
    assert "| Command | python -m sem_cocreate fit " in md


def test_invariance_and_user_model_sections(copy):
    (copy / "hypotheses.csv").unlink()
    pd.DataFrame({"model": ["configural", "metric"], "chisq": [100.0, 110.5], "df": [48, 54],
                  "pvalue": [0.01, 0.02], "cfi": [0.97, 0.965], "tli": [0.96, 0.96], "rmsea": [0.04, 0.041],
                  "srmr": [0.03, 0.035], "aic": [1, 2], "bic": [1, 2], "delta.chisq": [np.nan, 10.5],
                  "delta.df": [np.nan, 6], "delta.pvalue": [np.nan, 0.105], "delta.cfi": [np.nan, -0.005]}
                 ).to_csv(copy / "invariance.csv", index=False)
    render_report(copy, formats=("md",), langs=("en",))
    md = (copy / "report.md").read_text(encoding="utf-8")
    assert "No hypotheses.csv in the results folder" in md
    assert "| KS → SV |" in md                     # all regression paths instead
    rows = _md_table(md, "Measurement invariance")
    assert rows[1] == ["Metric (equal loadings)", "110.50", "54", ".965", ".960", ".041", ".035", "10.50", "6", ".105",
                       f"{T.MINUS}.005"]


def test_minimal_folder_renders_with_notes(copy, tmp_path):
    mini = tmp_path / "mini"
    mini.mkdir()
    for name in ("estimates.csv", "fit.json"):
        shutil.copy(copy / name, mini / name)
    paths = render_report(mini, formats=("md", "html", "docx"), langs=("zh", "en"))
    # each language its own file name, whatever order the languages are asked in
    assert [p.name for p in paths] == ["report.zh.md", "report.zh.html", "report.zh.docx",
                                       "report.md", "report.html", "report.docx"]
    md = (mini / "report.md").read_text(encoding="utf-8")
    assert "Not available: reliability.csv is not in the results folder." in md
    assert "SIMULATED" not in md                       # no notes.json: no claim either way


def test_missing_file_exits_2_with_one_line(copy, capsys):
    (copy / "fit.json").unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fit.json is missing" in err and "Traceback" not in err
    with pytest.raises(InputFileError, match="fit.json is missing"):
        render_report(copy)
    assert main(["report", str(copy / "nowhere")]) == 2
    assert "folder not found" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["--format", "pdf"], "--format pdf: use html, md or docx"),
    (["--lang", "fr"], "--lang fr: use en or zh"),
])
def test_unknown_option_exits_2(copy, capsys, argv, match):
    assert main(["report", str(copy), *argv]) == 2
    assert match in capsys.readouterr().err
    with pytest.raises(OptionError):
        render_report(copy, formats=argv[1] if argv[0] == "--format" else "md",
                      langs=argv[1] if argv[0] == "--lang" else "en")


def test_docx_without_python_docx_says_what_to_install(copy, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        level = args[3] if len(args) > 3 else kwargs.get("level", 0)
        if level == 0 and (name == "docx" or name.startswith("docx.")):
            raise ImportError("no docx")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(OptionError, match="reinstall sem_cocreate"):
        render_report(copy, formats=("docx",))
    assert not (copy / "report.docx").exists()
