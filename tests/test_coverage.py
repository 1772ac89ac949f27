"""Coverage study machinery (sem_cocreate.inference.coverage): seeds, schedulers, the null path, the table.

A few replications of a small SIMULATED population model (PS -> RI -> VCC, direct PS -> VCC planted at 0)
with a small bootstrap: the point is the machinery and its seeds (serial == local processes == a Dask
LocalCluster, blocks pool to the single run), not the coverage itself, which benchmarks/coverage.py
measures with 500 replications.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sem_cocreate.exceptions import OptionError
from sem_cocreate.inference.coverage import COVERAGE_COLUMNS, METHODS, plant_null, simulate_coverage, summarize
from sem_cocreate.survey.instrument_file import load_instrument
from sem_cocreate.survey.simulate import load_population

REPO = Path(__file__).resolve().parents[1]
KW = dict(n_values=[120], reps=3, n_boot=30, n_mc=300, seed=7, null_paths=["VCC~PS"], population_n=5000,
          progress=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cov3")
    base = yaml.safe_load((REPO / "tests" / "fixtures" / "cocreation_v1.yaml").read_text(encoding="utf-8"))  # v1 ids
    keep = ["PS", "RI", "VCC"]
    base["id"] = "small"
    base["constructs"] = [c for c in base["constructs"] if c["id"] in keep]
    base["fields"] = [f for f in base["fields"] if f.get("kind") != "attention" or f.get("after") in keep]
    base["hypotheses"] = [{"id": f"H{i + 1}", "from": a, "to": b, "sign": "+",
                           "text": {"en": f"{a} increases {b}.", "zh": f"{a}正向影响{b}。"}}
                          for i, (a, b) in enumerate([("PS", "RI"), ("RI", "VCC"), ("PS", "VCC")])]
    base["mediators"] = [m for m in base.get("mediators", []) if m in keep]
    (folder / "small.yaml").write_text(yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8")
    paths = {"RI~PS": 0.4, "VCC~RI": 0.4, "VCC~PS": 0.2}     # VCC~PS is planted at 0 by the study
    pop = {"instrument": "small.yaml", "loadings": {"default_loading": 0.75}, "exogenous_correlation": 0.3,
           "paths": {"solver": paths, "seeker": paths}, "role_shares": {"solver": 1.0, "seeker": 0.0},
           "thresholds": [-2.1, -1.5, -0.85, -0.2, 0.5, 1.3]}
    (folder / "pop.yaml").write_text(yaml.safe_dump(pop, sort_keys=False), encoding="utf-8")
    return load_instrument(folder / "small.yaml"), load_population(folder / "pop.yaml")


@pytest.fixture(scope="module")
def serial(small):
    inst, pop = small
    return simulate_coverage(inst, pop, jobs=1, keep_raw=True, **KW)


def test_table_rows_and_null_flags(serial):
    assert list(serial.columns) == COVERAGE_COLUMNS
    assert set(serial["method"]) == set(METHODS)
    assert set(serial["parameter"]) == {"b_RI_PS", "b_VCC_RI", "b_VCC_PS", "ind_PS_RI_VCC"}
    null = serial.drop_duplicates("parameter").set_index("parameter")
    assert bool(null.loc["b_VCC_PS", "null"]) and null.loc["b_VCC_PS", "true_value"] == 0.0
    assert not null.loc["ind_PS_RI_VCC", "null"] and null.loc["ind_PS_RI_VCC", "true_value"] > 0.05
    # the Monte Carlo interval exists for := effects only
    assert set(serial.loc[serial["method"] == "mc", "parameter"]) == {"ind_PS_RI_VCC"}
    for col in ("coverage", "reject"):
        assert serial[col].between(0, 1).all()
    assert (serial["n_ok"] == 3).all() and (serial["n_failed"] == 0).all()
    assert (serial["mean_width"] > 0).all()
    # bias is the same whatever the interval; its MCSE is sd / sqrt(R)
    raw = serial.attrs["raw"]
    est = np.stack([r["est"] for r in raw])
    meta = serial.attrs["meta"]
    j = meta["names"].index("b_RI_PS")
    row = serial[(serial["parameter"] == "b_RI_PS") & (serial["method"] == "perc")].iloc[0]
    assert row["bias"] == pytest.approx(est[:, j].mean() - meta["true"][j], abs=1e-12)
    assert row["bias_mcse"] == pytest.approx(est[:, j].std(ddof=1) / np.sqrt(3), abs=1e-12)


def test_processes_and_dask_give_identical_numbers(small, serial):
    distributed = pytest.importorskip("dask.distributed")
    inst, pop = small
    procs = simulate_coverage(inst, pop, jobs=2, **KW)
    pd.testing.assert_frame_equal(serial, procs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = simulate_coverage(inst, pop, scheduler=cluster.scheduler_address, **KW)
    pd.testing.assert_frame_equal(serial, dask)


def test_blocks_pool_to_the_single_run_and_seeds_matter(small, serial):
    inst, pop = small
    kw = dict(KW, reps=1)
    parts = [simulate_coverage(inst, pop, jobs=1, first_rep=k, keep_raw=True, **{**kw, "reps": r})
             for k, r in ((0, 2), (2, 1))]
    raw = parts[0].attrs["raw"] + parts[1].attrs["raw"]
    tasks = parts[0].attrs["tasks"] + parts[1].attrs["tasks"]
    pooled = summarize(raw, tasks, **parts[0].attrs["meta"])
    pd.testing.assert_frame_equal(serial.reset_index(drop=True), pooled, check_like=False)
    other = simulate_coverage(inst, pop, jobs=1, **{**KW, "seed": 8})
    assert not np.allclose(other["bias"], serial["bias"])


def test_plant_null_and_bad_options(small):
    inst, pop = small
    planted = plant_null(pop, ["VCC~PS"])
    assert planted.paths["solver"][("VCC", "PS")] == 0.0 and pop.paths["solver"][("VCC", "PS")] == 0.2
    with pytest.raises(OptionError, match="TO~FROM"):
        plant_null(pop, ["VCC-PS"])
    with pytest.raises(OptionError, match="unknown interval method"):
        simulate_coverage(inst, pop, **{**KW, "methods": ("perc", "student")})
    with pytest.raises(OptionError, match="at least 10"):
        simulate_coverage(inst, pop, **{**KW, "n_boot": 3})
    with pytest.raises(OptionError, match="null path KS~TR is not a structural path"):
        simulate_coverage(inst, pop, **{**KW, "null_paths": ["KS~TR"]})


def test_null_flags_of_products_sums_and_contrasts():
    from sem_cocreate.inference.coverage import _is_null

    exprs = {"ind_A_M_Y": "b_M_A*b_Y_M", "ind_A_K_Y": "b_K_A*b_Y_K", "diff_A": "ind_A_M_Y - ind_A_K_Y",
             "tot_A": "ind_A_M_Y + ind_A_K_Y"}
    one, both = {"b_K_A"}, {"b_K_A", "b_M_A"}
    assert _is_null("b_K_A", exprs, one) and not _is_null("b_M_A", exprs, one)
    assert _is_null(exprs["ind_A_K_Y"], exprs, one) and not _is_null(exprs["ind_A_M_Y"], exprs, one)
    # a sum or contrast is 0 only when every term is
    assert not _is_null(exprs["diff_A"], exprs, one) and not _is_null(exprs["tot_A"], exprs, one)
    assert _is_null(exprs["diff_A"], exprs, both) and _is_null(exprs["tot_A"], exprs, both)


def test_simulate_study_command(small, tmp_path, capsys):
    from sem_cocreate.cli import main

    pop_path = Path(small[0].source_path).parent / "pop.yaml"
    out = tmp_path / "study"
    argv = ["simulate-study", "--model", str(pop_path), "--n", "120", "--reps", "2", "--bootstrap", "20",
            "--mc", "200", "--null", "VCC~PS", "--methods", "perc,mc", "--jobs", "1", "--seed", "3",
            "--out", str(out)]
    assert main(argv) == 0
    tab = pd.read_csv(out / "coverage.csv")
    assert set(tab["method"]) == {"perc", "mc"}
    assert "b_VCC_PS" in (out / "coverage.md").read_text(encoding="utf-8")
    assert (out / "manifest.json").is_file()
    assert main(argv[:-2] + ["--methods", "student", "--out", str(tmp_path / "bad")]) == 2
    assert "unknown interval method" in capsys.readouterr().err
