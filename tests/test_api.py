"""The public Python API: ``sc.sem`` / ``sc.cfa`` on a lavaan model and a DataFrame, ``summary()``,
and ``sc.run_study()`` for the whole study from a notebook."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import sem_cocreate as sc
from refcases import CHISQ_RTOL, assert_fit_measures_match, merged_estimates, reference_case

EST_ATOL = 0.001     # estimates, SEs and std. estimates: the contract's agreement with lavaan


@pytest.mark.parametrize("name", ["pol_dem", "hs_cfa"])
def test_sc_sem_matches_lavaan(name):
    case = reference_case(name)
    res = sc.sem(case.model, case.data)
    both = merged_estimates(res, case)
    assert both["est"].notna().all()
    np.testing.assert_allclose(both["est"], both["est_lav"], atol=EST_ATOL)
    np.testing.assert_allclose(both["se"], both["se_lav"], atol=EST_ATOL)
    assert_fit_measures_match(res.fit, case.fit)


def test_cfa_is_sem_as_in_lavaan():
    case = reference_case("hs_cfa")
    a, b = sc.cfa(case.model, case.data), sc.sem(case.model, case.data)
    assert a.fit["chisq"] == b.fit["chisq"]
    np.testing.assert_array_equal(a.estimates["est"], b.estimates["est"])


def test_summary_prints_lavaan_sections_and_numbers():
    case = reference_case("pol_dem")
    text = sc.sem(case.model, case.data).summary()
    for title in ("Model Test User Model:", "Latent Variables:", "Regressions:", "Covariances:", "Variances:"):
        assert title in text
    stat = float(re.search(r"Test statistic\s+([\d.]+)", text).group(1))
    assert stat == pytest.approx(case.fit["chisq"], rel=1e-3)          # printed with 3 decimals
    assert re.search(r"Degrees of freedom\s+%d\b" % int(case.fit["df"]), text)
    cfi = float(re.search(r"Comparative Fit Index \(CFI\)\s+([\d.]+)", text).group(1))
    assert cfi == pytest.approx(case.fit["cfi"], abs=0.0005)
    assert "ended normally" in text.splitlines()[0]


def test_sem_rejects_an_unknown_information_option():
    case = reference_case("hs_cfa")
    with pytest.raises(sc.OptionError, match="information"):
        sc.sem(case.model, case.data, information="sandwich")


def test_warning_classes_share_one_base_users_can_filter():
    assert issubclass(sc.FitWarning, sc.SemCocreateWarning)
    assert issubclass(sc.DataWarning, sc.SemCocreateWarning)
    assert issubclass(sc.SemCocreateWarning, UserWarning)


def test_run_study_from_python_is_the_fit_command(tmp_path):
    """sc.run_study() runs the default study; its numbers are those of the committed example folder."""
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "reports" / "cocreation_demo"
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # the study captures every warning into its notes
        study = sc.run_study(bootstrap=0, no_screening=False)
    assert isinstance(study, sc.StudyResult)
    assert study.converged
    lav_like = json.loads((committed / "measurement" / "fit.json").read_text())
    assert study.tables["measurement_fit"]["chisq"] == pytest.approx(lav_like["chisq"], rel=CHISQ_RTOL)
    assert study.tables["fit"]["chisq"] == pytest.approx(json.loads((committed / "fit.json").read_text())["chisq"],
                                                         rel=CHISQ_RTOL)
    written = study.write(tmp_path / "out", formats=("md",), langs=("en",))
    assert [p.name for p in written] == ["report.md"]
    notes = json.loads((tmp_path / "out" / "notes.json").read_text())
    assert all({"topic", "message", "level"} <= set(e) for e in notes["entries"])
    assert (tmp_path / "out" / "manifest.json").is_file()
    # the figures were drawn from the study's own tables: the same bytes as drawn again from the folder
    from sem_cocreate.report import render_report

    drawn = {p.name: p.read_bytes() for p in (tmp_path / "out" / "figures").iterdir()}
    assert {"path_diagram.svg", "path_diagram.png", "indirect_effects.svg", "invariance_fit.png"} <= set(drawn)
    render_report(tmp_path / "out", formats=("md",), langs=("en",), jobs=1)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out" / "figures").iterdir()} == drawn


def test_run_study_rejects_bad_options_in_one_line():
    with pytest.raises(sc.OptionError, match="--invariance needs --group"):
        sc.run_study(invariance=True)
