"""The CLI on lavaan models beyond plain CFAs (issue 11): the report's measurement model is the user's,
single-indicator and second-order constructs are fitted and skipped with a note, modindices.csv and
residuals.csv are written, --information observed, and the compare command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sem_cocreate.cli import main

from refcases import CHISQ_RTOL, reference_case

ROOT = Path(__file__).resolve().parents[1]
HS = ROOT / "tests" / "reference" / "data" / "HolzingerSwineford1939.csv"
EST_ATOL = 0.001
SE_ATOL = 0.001


def run(argv, capsys):
    argv = [str(a) for a in argv]
    if argv[0] == "fit" and "--bootstrap" not in argv:
        argv += ["--bootstrap", "0"]      # these tests check analytic SEs; user data default to 5,000 resamples
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def write_model(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_fit_measurement_tables_are_the_users_model(tmp_path, capsys):
    case = reference_case("mod_rescov")         # CFA + x7 ~~ x8: lavaan chisq(23)
    model = write_model(tmp_path, "m.lav", case.model + "\nspeed ~ visual + textual\n")
    out = tmp_path / "res"
    code, _, err = run(["fit", "--data", HS, "--model", model, "--out", out, "--no-screening"], capsys)
    assert code == 0, err
    mfit = json.loads((out / "measurement" / "fit.json").read_text())
    assert mfit["df"] == case.fit["df"] == 23
    assert mfit["chisq"] == pytest.approx(case.fit["chisq"], rel=CHISQ_RTOL)
    md = (out / "report.md").read_text(encoding="utf-8")
    row = next(ln for ln in md.splitlines() if ln.startswith("| Measurement model (CFA) |"))
    assert f"| {case.fit['chisq']:.2f} | 23 |" in row
    mi = pd.read_csv(out / "modindices.csv")
    assert list(mi.columns[:4]) == ["lhs", "op", "rhs", "mi"] and len(mi) <= 50
    assert mi["mi"].is_monotonic_decreasing
    res = pd.read_csv(out / "residuals.csv")
    assert list(res.columns) == ["lhs", "rhs", "raw", "cor", "standardized"]
    assert len(res) == 9 * 10 // 2


def test_fit_single_indicator_and_second_order_models(tmp_path, capsys):
    for name in ("mod_single", "mod_second"):
        case = reference_case(name)
        model = write_model(tmp_path, f"{name}.lav", case.model)
        out = tmp_path / name
        code, _, err = run(["fit", "--data", HS, "--model", model, "--out", out, "--no-screening"], capsys)
        assert code == 0, err
        fit = json.loads((out / "fit.json").read_text())
        assert fit["chisq"] == pytest.approx(case.fit["chisq"], rel=CHISQ_RTOL)
        assert fit["df"] == case.fit["df"]
        rel = pd.read_csv(out / "reliability.csv")
        assert "S" not in set(rel["construct"]) and "g" not in set(rel["construct"])
    notes = (tmp_path / "mod_single" / "notes.json").read_text()
    assert "single indicator" in notes


def test_fit_information_observed_matches_lavaan(tmp_path, capsys):
    case = reference_case("diag_hs_observed")
    model = write_model(tmp_path, "m.lav", case.model)
    out = tmp_path / "res"
    code, _, err = run(["fit", "--data", HS, "--model", model, "--out", out, "--no-screening",
                        "--information", "observed", "--bootstrap", "0"], capsys)
    assert code == 0, err
    est = pd.read_csv(out / "estimates.csv", keep_default_na=False, na_values=[""])
    both = case.estimates.merge(est, on=["lhs", "op", "rhs"], suffixes=("_lav", ""))
    assert len(both) == len(case.estimates)
    np.testing.assert_allclose(both["se"], both["se_lav"], atol=SE_ATOL)
    assert json.loads((out / "manifest.json").read_text())["options"]["information"] == "observed"


def test_information_observed_with_fiml_is_one_line_error(tmp_path, capsys):
    model = write_model(tmp_path, "m.lav", reference_case("hs_cfa").model)
    code, _, err = run(["fit", "--data", HS, "--model", model, "--out", tmp_path / "o", "--missing", "fiml",
                        "--information", "observed"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--information observed" in err


@pytest.mark.parametrize("est", ["ml", "mlr"])
def test_compare_command_writes_lavtestlrt_table(tmp_path, capsys, est):
    case = reference_case(f"lrt_{est}")
    m1 = write_model(tmp_path, "three.lav", case.model)
    m0 = write_model(tmp_path, "orth.lav", case.file("model_orthogonal.lav").read_text())
    out = tmp_path / "cmp"
    code, _, err = run(["compare", "--data", HS, "--model", m0, "--model", m1, "--out", out,
                        "--estimator", est, "--no-screening"], capsys)
    assert code == 0, err
    table = pd.read_csv(out / "model_comparison.csv")
    lav = pd.read_csv(case.file("lrt.csv"))
    assert [Path(m).stem for m in table["model"]] == ["three", "orth"]
    np.testing.assert_allclose(table["chisq"], lav["Chisq"], rtol=CHISQ_RTOL)
    assert table["chisq.diff"].iloc[1] == pytest.approx(lav["Chisq diff"].iloc[1], rel=CHISQ_RTOL)
    np.testing.assert_allclose(table["aic"], lav["AIC"], rtol=CHISQ_RTOL)
    assert {"cfi", "tli", "rmsea", "srmr"} <= set(table.columns)


def test_compare_needs_two_models(tmp_path, capsys):
    m = write_model(tmp_path, "a.lav", reference_case("hs_cfa").model)
    code, _, err = run(["compare", "--data", HS, "--model", m, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "two or more" in err and len(err.strip().splitlines()) == 1


def test_fit_with_one_item_based_construct_skips_pairwise_analyses(tmp_path, capsys):
    model = write_model(tmp_path, "one.lav", "A =~ x1 + x2 + x3\nS =~ x4\nA ~ S\n")
    out = tmp_path / "res"
    code, _, err = run(["fit", "--data", HS, "--model", model, "--out", out, "--no-screening"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    notes = (out / "notes.json").read_text()
    assert "two or more constructs" in notes and "single indicator" in notes
    assert list(pd.read_csv(out / "reliability.csv")["construct"]) == ["A"]
