"""The command line: every user mistake ends in one line, exit 2 or 3, no traceback, inputs untouched."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sem_cocreate.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "cocreation_demo.csv"
INSTRUMENT = ROOT / "questionnaires" / "cocreation.yaml"
HS = ROOT / "tests" / "reference" / "data" / "HolzingerSwineford1939.csv"
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(argv, capsys):
    argv = [str(a) for a in argv]
    if argv[:1] == ["fit"] and "--data" in argv and "--bootstrap" not in argv and "--ci" not in argv:
        argv += ["--bootstrap", "0"]   # user data default to 5,000 resamples; these tests are not about them
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(err: str, *needles: str):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture
def hs_model(tmp_path):
    p = tmp_path / "hs.lav"
    p.write_text(HS_MODEL)
    return p


def test_fit_generic_model_writes_results(tmp_path, hs_model, capsys):
    out = tmp_path / "res"
    before = sha(HS)
    code, stdout, err = run(["fit", "--data", HS, "--model", hs_model, "--out", out], capsys)
    assert code == 0, err
    assert sha(HS) == before
    est = pd.read_csv(out / "estimates.csv")
    assert list(est.columns) == ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower",
                                 "ci.upper", "std.lv", "std.all"]
    fit = json.loads((out / "fit.json").read_text())
    assert fit["chisq"] == pytest.approx(85.30552177, rel=1e-6)     # lavaan 0.6.14, hs_cfa
    man = json.loads((out / "manifest.json").read_text())
    assert man["inputs"]["data"]["sha256"] == before
    assert man["seed"] is not None and "numpy" in man["versions"]
    assert (out / "reliability.csv").exists() and (out / "validity" / "htmt.csv").exists()
    # measurement-quality extras of issue 4: HTMT inference, common-method checks, KMO/Bartlett
    ci = pd.read_csv(out / "validity" / "htmt_ci.csv")
    assert len(ci) == 3 and (ci["ci.lower"] <= ci["htmt"]).all() and (ci["htmt"] <= ci["ci.upper"]).all()
    single = pd.read_csv(out / "cmv" / "single_factor.csv")
    assert single["model"].tolist() == ["measurement", "single_factor"]
    assert single.loc[0, "chisq"] == pytest.approx(85.30552177, rel=1e-6)
    assert json.loads((out / "cmv" / "harman.json").read_text())["n_items"] == 9
    assert 0 < json.loads((out / "exploratory.json").read_text())["kmo_overall"] < 1
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Common-method variance" in md and "HTMT inference" in md


def test_missing_data_file(tmp_path, hs_model, capsys):
    code, _, err = run(["fit", "--data", tmp_path / "nope.csv", "--model", hs_model, "--out", tmp_path / "o"],
                       capsys)
    assert code == 2
    assert_one_line_error(err, "nope.csv", "not found")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_missing_model_file(tmp_path, capsys):
    code, _, err = run(["fit", "--data", HS, "--model", tmp_path / "m.lav", "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "m.lav")


def test_model_variable_not_in_data(tmp_path, capsys):
    m = tmp_path / "m.lav"
    m.write_text("visual =~ x1 + x2 + xx3\n")
    code, _, err = run(["fit", "--data", HS, "--model", m, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "xx3", "x3")


def test_syntax_error_names_the_line(tmp_path, capsys):
    m = tmp_path / "m.lav"
    m.write_text("visual =~ x1 + x2 + x3\ntextual x4 + x5\n")
    code, _, err = run(["fit", "--data", HS, "--model", m, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "line 2")


def test_out_of_range_answer(tmp_path, capsys):
    df = pd.read_csv(DEMO)
    df.loc[4, "ks2"] = 9
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    before = sha(bad)
    code, _, err = run(["fit", "--data", bad, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "ks2", "9")
    assert sha(bad) == before


def test_text_in_numeric_item(tmp_path, capsys):
    df = pd.read_csv(DEMO).astype({"ri3": object})
    df.loc[10, "ri3"] = "often"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    code, _, err = run(["fit", "--data", bad, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "ri3", "often")


def test_missing_item_column(tmp_path, capsys):
    df = pd.read_csv(DEMO).drop(columns=["sv3"])
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    code, _, err = run(["fit", "--data", bad, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "sv3")


def test_empty_data(tmp_path, hs_model, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(f"x{i}" for i in range(1, 10)) + "\n")
    code, _, err = run(["fit", "--data", empty, "--model", hs_model, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err)


def test_not_identified_model_exits_3(tmp_path, capsys):
    m = tmp_path / "m.lav"
    m.write_text("F =~ x1 + x2\n")          # 3 moments, 4 free parameters
    code, _, err = run(["fit", "--data", HS, "--model", m, "--out", tmp_path / "o"], capsys)
    assert code == 3
    assert_one_line_error(err, "not identified")


def test_empirically_unidentified_model_exits_3(tmp_path, capsys):
    m = tmp_path / "m.lav"
    # first loading freed without fixing the factor variance: scale not identified, df >= 0
    m.write_text("visual =~ NA*x1 + x2 + x3\ntextual =~ x4 + x5 + x6\n")
    code, _, err = run(["fit", "--data", HS, "--model", m, "--out", tmp_path / "o"], capsys)
    assert code == 3
    assert_one_line_error(err, "not identified")


def test_non_convergence_exits_3(tmp_path, hs_model, capsys, monkeypatch):
    """The optimizer is made to stop after one step; the CLI must report it and exit 3."""
    import sem_cocreate.engine.estimate as est

    real = est._fisher_scoring
    monkeypatch.setattr(est, "_fisher_scoring",
                        lambda model, stats, start, *, maxit, gtol: real(model, stats, start, maxit=1, gtol=gtol))
    import sem_cocreate.engine._semopy as sp
    monkeypatch.setattr(sp, "semopy_start", lambda *a, **k: None)
    code, _, err = run(["fit", "--data", HS, "--model", hs_model, "--out", tmp_path / "o"], capsys)
    assert code == 3
    assert_one_line_error(err, "did not converge")
    notes = json.loads((tmp_path / "o" / "notes.json").read_text())
    assert notes["converged"] is False


def test_existing_out_dir_refused(tmp_path, hs_model, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(["fit", "--data", HS, "--model", hs_model, "--out", out], capsys)
    assert code == 2
    assert_one_line_error(err, "--overwrite")
    assert (out / "keep.txt").read_text() == "mine"


def test_out_dir_containing_input_refused(tmp_path, hs_model, capsys):
    data = tmp_path / "hs.csv"
    data.write_bytes(HS.read_bytes())
    code, _, err = run(["fit", "--data", data, "--model", hs_model, "--out", tmp_path, "--overwrite"], capsys)
    assert code == 2
    assert_one_line_error(err, "input")


@pytest.mark.parametrize("argv, needle", [
    (["fit", "--invariance"], "--group"),
    (["fit", "--bootstrap", "10", "--ci", "mc"], "--ci mc"),
    (["fit", "--estimator", "wlsmv", "--missing", "fiml"], "fiml"),
    (["fit", "--format", "pdf"], "--format"),
])
def test_bad_option_combinations(argv, needle, capsys, tmp_path):
    code, _, err = run(argv + ["--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, needle)


def test_group_column_missing(tmp_path, hs_model, capsys):
    code, _, err = run(["fit", "--data", HS, "--model", hs_model, "--group", "nosuch", "--out", tmp_path / "o"],
                       capsys)
    assert code == 2
    assert_one_line_error(err, "nosuch")


def test_help_is_fast():
    """--help must start in under half a second (heavy libraries are imported lazily)."""
    best = min(_time_help() for _ in range(3))
    assert best < 0.5, best


def _time_help() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sem_cocreate", "fit", "--help"], check=True, capture_output=True)
    return time.perf_counter() - t


def test_help_imports_no_heavy_library():
    code = ("import sys, sem_cocreate.cli as c\n"
            "c.build_parser()\n"
            "heavy = [m for m in ('numpy','pandas','scipy','semopy','statsmodels','pingouin') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == ""


def test_fit_on_a_wenjuanxing_export(tmp_path, capsys):
    """Issue 6's done-when: fit reads a realistic 问卷星 export (option text, Chinese headers; SIMULATED)."""
    wjx = ROOT / "tests" / "fixtures" / "wjx_cocreation_simulated.xlsx"
    before = sha(wjx)
    out = tmp_path / "o"
    v1 = ROOT / "tests" / "fixtures" / "cocreation_v1.yaml"       # the fixture follows instrument v1's items
    code, _, err = run(["fit", "--data", wjx, "--instrument", v1, "--out", out], capsys)
    assert code == 0, err
    assert sha(wjx) == before
    screening = json.loads((out / "screening.json").read_text())
    assert (screening["n_raw"], screening["n_analysed"]) == (320, 281)
    assert json.loads((out / "fit.json").read_text())["ntotal"] == 281
    # no method variance was simulated: the method loading runs to its boundary and the report says so
    ulmc = json.loads((out / "cmv" / "ulmc.json").read_text())
    assert ulmc["converged"] is False and "boundary" in ulmc["notes"][-1]
    # the method-factor model's warnings are that model's notes, not raw warnings on stderr
    notes = json.loads((out / "notes.json").read_text())
    topics = {e["topic"] for e in notes["entries"] if e["level"] == "warning"}
    assert "method-factor model" in topics
    assert not topics & {"structural model", "measurement model"}
    assert ".py:" not in err and "Warning:" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "notes.json" in lines[0] and "method-factor model" in lines[0]
