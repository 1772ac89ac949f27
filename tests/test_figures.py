"""Figures: the path diagram and the indirect/invariance plots are real files with the numbers in them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sem_cocreate.report.figures import confirmatory_rows, stars, structural_layers, write_figures

DEMO = Path(__file__).resolve().parent.parent / "reports" / "cocreation_demo"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig") / "demo"
    shutil.copytree(DEMO, out)
    return out


def test_layers_put_antecedents_left_and_stack_mediators():
    paths = [("RI", "PS"), ("KS", "PS"), ("KS", "RI"), ("VCC", "KS"), ("VCC", "RI"), ("SAT", "VCC")]
    layer, same = structural_layers(paths)
    assert layer["PS"] == 0 and layer["RI"] == layer["KS"] == 1 and ("KS", "RI") in same
    assert layer["VCC"] == 2 and layer["SAT"] == 2 and ("SAT", "VCC") in same


@pytest.mark.parametrize("p,s", [(0.0005, "***"), (0.005, "**"), (0.04, "*"), (0.2, ""), (float("nan"), "")])
def test_stars(p, s):
    assert stars(p) == s


def test_path_diagram_files_show_coefficients_stars_r2_and_dashes(folder):
    est = pd.read_csv(folder / "estimates.csv")
    r2 = pd.read_csv(folder / "r2.csv")
    written = write_figures(folder, estimates=est, r2=r2, indirect=pd.read_csv(folder / "indirect.csv"),
                            invariance=pd.read_csv(folder / "invariance.csv"))
    assert set(written) == {"path_diagram", "indirect_effects", "invariance_fit"}
    for stem in written:
        assert (folder / "figures" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (folder / "figures" / "path_diagram.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # the SVG draws text as glyph paths (no font needed), so the numbers are checked on the figure's text objects
    from sem_cocreate.report.figures import path_diagram

    fig = path_diagram(est, r2=dict(zip(r2["variable"], r2["r2"])))
    texts = [t.get_text() for t in fig.axes[0].texts]
    reg = est[est["op"] == "~"]
    for _, r in reg.iterrows():
        expected = f"{r['std.all']:.2f}".replace("0.", ".") + stars(r["pvalue"])
        assert expected in texts, expected
    for v in ("RI", "KS", "VCC"):
        val = float(r2.loc[r2["variable"] == v, "r2"].iloc[0])
        assert f"R² = {val:.2f}".replace("0.", ".") in texts
    # one dashed arrow per non-significant path
    from matplotlib.patches import FancyArrowPatch

    arrows = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(reg)
    dashed = [a for a in arrows if a.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == int((reg["pvalue"] >= 0.05).sum()) > 0


def test_confirmatory_rows_use_family_when_present(folder):
    ind = pd.read_csv(folder / "indirect.csv")
    fallback = confirmatory_rows(ind)
    assert set(fallback["kind"]) == {"specific"} and set(fallback["to"]) == {"VCC"}
    ind["family"] = "exploratory"
    ind.loc[ind.index[:3], "family"] = "confirmatory"
    assert len(confirmatory_rows(ind)) == 3


def test_report_embeds_the_path_diagram_everywhere(folder):
    pytest.importorskip("docx")
    from docx import Document

    from sem_cocreate.report import render_report

    render_report(folder, formats="html,md,docx", langs="en,zh")
    for name in ("report.html", "report.zh.html"):
        html = (folder / name).read_text(encoding="utf-8")
        assert html.count("<svg") >= 3 and "<?xml" not in html
        assert re.search(r"Figure 1\.|图 1\.", html)
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "](figures/path_diagram.svg)" in md
    for name in ("report.docx", "report.zh.docx"):
        doc = Document(str(folder / name))
        assert len(doc.inline_shapes) >= 3


def test_same_results_same_svg_bytes(folder, tmp_path):
    est = pd.read_csv(folder / "estimates.csv")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_figures(a, estimates=est)
    write_figures(b, estimates=est)
    assert (a / "figures" / "path_diagram.svg").read_bytes() == (b / "figures" / "path_diagram.svg").read_bytes()
