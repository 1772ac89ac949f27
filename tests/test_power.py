"""Monte Carlo power (sem_cocreate.inference.power): reproducibility, type I error, power growing with n, the CLI.

Everything here runs on small SIMULATED population models written into the test's tmp folder (an
instrument trimmed from questionnaires/cocreation.yaml plus a population YAML), so the whole file takes
about 15-25 s of CPU. Monte Carlo quantities are checked against bounds derived from their binomial
simulation error, not against our own earlier output.

Speed of the real thing: one replication of the full co-creation model (11 constructs, 37 items, 14 paths,
96 defined effects) at n = 300 takes about 0.15 s of CPU here (benchmarks/bench_power.py: 29.3 s for 200
replications; a plain lavaan 0.6.14 ``sem()`` loop on the same population model took 80.3 s). So
``power --reps 500`` at the default n = 200,300,500 (1,500 fits) is about 4 CPU minutes: about 4 minutes on
one idle core, 2 with ``--jobs 2``, plus 10-20 s for the n = 100,000 population fit. On a loaded machine
wall-clock time grows accordingly (100 replications x 3 sample sizes took 6 minutes at load 8-9 on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import binom

from sem_cocreate.cli import main
from sem_cocreate.exceptions import OptionError
from sem_cocreate.survey.instrument_file import load_instrument
from sem_cocreate.inference.power import POWER_COLUMNS, SUMMARY_COLUMNS, child_seeds, min_n_for_power, simulate_power
from sem_cocreate.survey.simulate import load_population

REPO = Path(__file__).resolve().parents[1]
THRESHOLDS = [-2.1, -1.5, -0.85, -0.2, 0.5, 1.3]
POP_N = 20_000             # large-sample "population" fit; its Monte Carlo error is irrelevant here
ALPHA = 0.05
NULL_REPS = 200            # replications for the type I error check
NULL_BOUND_P = 0.001       # two-sided binomial tail probability of the type I error bounds
EST_ATOL = 1e-5            # quick replication fit vs fit_sem: both stop at a gradient <= 1e-6


def _write_model(folder: Path, constructs, hypotheses, paths, controls=()) -> tuple[Path, Path]:
    """Trim the default instrument to ``constructs`` / ``hypotheses`` and write a population YAML."""
    base = yaml.safe_load((REPO / "questionnaires" / "cocreation.yaml").read_text(encoding="utf-8"))
    base["id"] = "small"
    base["constructs"] = [c for c in base["constructs"] if c["id"] in constructs]
    base["fields"] = [f for f in base["fields"] if f.get("kind") != "attention" or f.get("after") in constructs]
    base["hypotheses"] = [{"id": f"H{i + 1}", "from": a, "to": b, "sign": "+",
                           "text": {"en": f"{a} increases {b}.", "zh": f"{a}正向影响{b}。"}}
                          for i, (a, b) in enumerate(hypotheses)]
    base["mediators"] = [m for m in base.get("mediators", []) if m in constructs]
    base["controls"], base["moderators"] = list(controls), []
    folder.mkdir(parents=True, exist_ok=True)
    inst = folder / "small.yaml"
    inst.write_text(yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8")
    pop = {"instrument": "small.yaml", "loadings": {"default_loading": 0.75}, "exogenous_correlation": 0.3,
           "paths": {"solver": paths, "seeker": paths}, "role_shares": {"solver": 1.0, "seeker": 0.0},
           "thresholds": THRESHOLDS}
    pop_path = folder / "small-population.yaml"
    pop_path.write_text(yaml.safe_dump(pop, sort_keys=False), encoding="utf-8")
    return inst, pop_path


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """IA -> RI -> SV with a direct IA -> SV path that is zero in the population."""
    folder = tmp_path_factory.mktemp("power3")
    inst, pop = _write_model(folder, ["IA", "RI", "SV"], [("IA", "RI"), ("RI", "SV"), ("IA", "SV")],
                             {"RI~IA": 0.2, "SV~RI": 0.3, "SV~IA": 0.0})
    return load_instrument(inst), load_population(pop), pop


@pytest.fixture(scope="module")
def serial(three):
    inst, pop, _path = three
    return simulate_power(inst, pop, n_values=[60, 400], reps=20, seed=11, jobs=1, progress=False,
                          population_n=POP_N)


def test_table_shape_and_labels(serial):
    assert list(serial.columns) == POWER_COLUMNS
    params = ["b_RI_IA", "b_SV_RI", "b_SV_IA", "ind_IA_RI_SV", "total_IA_SV"]   # no totind equal to its one specific effect
    assert serial["parameter"].tolist() == params * 2
    assert serial["n"].tolist() == [60] * 5 + [400] * 5
    assert (serial["data_source"].str.startswith("SIMULATED")).all()
    row = serial.set_index(["n", "parameter"])
    assert row.loc[(60, "ind_IA_RI_SV"), "population"] == pytest.approx(0.2 * 0.3)
    assert row.loc[(60, "total_IA_SV"), "population"] == pytest.approx(0.0 + 0.2 * 0.3)
    assert row.loc[(60, "ind_IA_RI_SV"), "kind"] == "specific"
    assert (serial["n_converged"] + serial["n_failed"] == 20).all()
    assert (serial["n_converged"] >= 18).all()
    ok = serial[["power", "coverage"]]
    assert ((ok >= 0) & (ok <= 1)).all().all()
    np.testing.assert_allclose(serial["bias"], serial["mean_est"] - serial["population"], atol=1e-12)


def test_same_seed_same_numbers_whatever_the_jobs(three, serial):
    inst, pop, _path = three
    parallel = simulate_power(inst, pop, n_values=[400, 60], reps=20, seed=11, jobs=2, progress=False,
                              population_n=POP_N)
    pd.testing.assert_frame_equal(serial, parallel)
    other = simulate_power(inst, pop, n_values=[60], reps=20, seed=12, jobs=1, progress=False,
                           population_n=POP_N)
    assert not np.allclose(other["mean_est"], serial[serial["n"] == 60]["mean_est"])


def test_child_seeds_are_keyed_by_n():
    a = child_seeds(5, 300, 3)
    b = child_seeds(5, 300, 4)[:3]
    assert [s.generate_state(2).tolist() for s in a] == [s.generate_state(2).tolist() for s in b]
    c = child_seeds(5, 200, 3)
    assert a[0].generate_state(2).tolist() != c[0].generate_state(2).tolist()


def test_power_grows_with_n(serial):
    row = serial.set_index(["n", "parameter"])["power"]
    # b_RI_IA = 0.2: power about 0.3 at n = 60 and about 0.98 at n = 400; with 20 replications each the
    # Monte Carlo SE is at most 0.11, so a gap below 0.3 would be a 3-SE event
    assert row[(400, "b_RI_IA")] - row[(60, "b_RI_IA")] > 0.3
    assert row[(400, "b_SV_RI")] >= row[(60, "b_SV_RI")]
    assert row[(400, "b_RI_IA")] >= 0.8


def test_zero_path_rejects_at_about_alpha(tmp_path):
    """Two factors, true path 0: the share of p < .05 lies within the binomial 99.9% band around .05."""
    inst_path, pop_path = _write_model(tmp_path, ["IA", "RI"], [("IA", "RI")], {"RI~IA": 0.0})
    table = simulate_power(load_instrument(inst_path), load_population(pop_path), n_values=[200],
                           reps=NULL_REPS, alpha=ALPHA, seed=7, jobs=1, progress=False, population_n=POP_N)
    row = table.iloc[0]
    assert row["parameter"] == "b_RI_IA" and row["population"] == 0.0
    k = int(row["n_converged"])
    assert k >= NULL_REPS - 2
    lo = binom.ppf(NULL_BOUND_P / 2, k, ALPHA) / k
    hi = binom.ppf(1 - NULL_BOUND_P / 2, k, ALPHA) / k
    assert lo <= row["power"] <= hi, (row["power"], lo, hi)
    # and the 95% intervals cover the (zero) value about 95% of the time
    assert 1 - hi <= row["coverage"] <= 1 - lo
    assert abs(row["mean_est"]) < 3 * row["rmse"] / np.sqrt(k) + 0.01


def test_quick_replication_fit_equals_fit_sem(three):
    """The replications' quick fit (gradient 1e-6, start at the large-sample solution) = fit_sem."""
    from sem_cocreate.engine.fit import fit_sem
    from sem_cocreate.survey.modelbuild import build_model_syntax
    from sem_cocreate.inference.power import _Replication
    from sem_cocreate.engine.spec import build_spec

    inst, pop, _path = three
    spec = build_spec(build_model_syntax(inst), data_columns=inst.item_ids())
    names = ("b_RI_IA", "b_SV_RI", "b_SV_IA", "ind_IA_RI_SV")
    rep = _Replication(inst, pop, spec, names, False)
    start = rep.fit(rep.draw(5000, np.random.default_rng(1))).theta
    for k in range(3):
        df = rep.draw(150, np.random.default_rng(100 + k))
        quick = rep.extract(rep._quick_fit(df, start))
        full = rep.extract(fit_sem(spec, df))
        np.testing.assert_allclose(quick, full, atol=EST_ATOL)


def test_omitted_population_path_uses_large_sample_values(tmp_path):
    """Model IA -> RI -> SV without the population's direct IA -> SV path of 0.3: the standardized
    paths of the analysis model are no longer the YAML values, so the large-sample std.all is used."""
    inst_path, pop_path = _write_model(tmp_path, ["IA", "RI", "SV"], [("IA", "RI"), ("RI", "SV")],
                                       {"RI~IA": 0.4, "SV~RI": 0.3, "SV~IA": 0.3})
    table = simulate_power(load_instrument(inst_path), load_population(pop_path), n_values=[100], reps=2,
                           seed=1, jobs=1, progress=False, population_n=POP_N)
    assert "omits population path(s) b_SV_IA" in table.attrs["population_source"]
    row = table.set_index("parameter")["population"]
    # SV ~ RI alone absorbs the omitted path: corr(RI, SV) = 0.3 + 0.3 * 0.4 = 0.42, not 0.3
    assert row["b_SV_RI"] == pytest.approx(0.42, abs=0.03)


def test_controls_of_the_instrument_enter_the_simulated_model(tmp_path):
    # regression: instrument v2 regresses every outcome on its controls (won, reward, tenure); power and
    # the coverage study built the model against the item columns only and refused it
    from sem_cocreate.inference.coverage import simulate_coverage

    inst_path, pop_path = _write_model(tmp_path, ["IA", "RI", "SV"], [("IA", "RI"), ("RI", "SV")],
                                       {"RI~IA": 0.3, "SV~RI": 0.3}, controls=["won", "tenure"])
    inst, pop = load_instrument(inst_path), load_population(pop_path)
    table = simulate_power(inst, pop, n_values=[150], reps=2, seed=3, jobs=1, progress=False,
                           population_n=5_000)
    assert {"b_RI_IA", "b_SV_RI"} <= set(table["parameter"])
    assert (table.loc[table["parameter"] == "b_SV_RI", "population"].abs() > 0.1).all()
    cov = simulate_coverage(inst, pop, n_values=[150], reps=2, n_boot=20, n_mc=50, seed=3,
                            null_paths=["SV~RI"], methods=["perc", "wald"], jobs=1, progress=False,
                            population_n=5_000)
    assert cov["n_ok"].min() == 2 and cov.loc[cov["parameter"] == "b_SV_RI", "null"].all()


def test_min_n_for_power():
    table = pd.DataFrame({
        "n": [100, 200, 300] * 2,
        "parameter": ["a"] * 3 + ["b"] * 3,
        "kind": ["path"] * 6,
        "population": [0.3] * 3 + [0.05] * 3,
        "power": [0.5, 0.85, 0.95, 0.1, 0.2, 0.3],
    })
    out = min_n_for_power(table, target=0.8)
    assert list(out.columns) == SUMMARY_COLUMNS
    got = out.set_index("parameter")
    assert got.loc["a", "min_n"] == 200 and got.loc["a", "power_at_min_n"] == 0.85
    assert np.isnan(got.loc["b", "min_n"]) and got.loc["b", "power_at_max_n"] == 0.3
    assert min_n_for_power(table, target=0.9).set_index("parameter").loc["a", "min_n"] == 300
    with pytest.raises(OptionError, match="target power"):
        min_n_for_power(table, target=1.5)


def test_bad_arguments_raise(three):
    inst, pop, _path = three
    with pytest.raises(OptionError, match="--reps must be at least 1"):
        simulate_power(inst, pop, n_values=[100], reps=0, seed=1, progress=False)
    with pytest.raises(OptionError, match="too small"):
        simulate_power(inst, pop, n_values=[5], reps=2, seed=1, progress=False)
    with pytest.raises(OptionError, match="--alpha"):
        simulate_power(inst, pop, n_values=[100], reps=2, alpha=1.5, seed=1, progress=False)


# ----------------------------------------------------------------------------- CLI

def test_cli_power_writes_results(three, tmp_path, capsys):
    _inst, _pop, pop_path = three
    out = tmp_path / "out"
    argv = ["power", "--model", str(pop_path), "--n", "60,120", "--reps", "4", "--seed", "3", "--jobs", "1",
            "--out", str(out)]
    assert main(argv) == 0
    table = pd.read_csv(out / "power.csv")
    assert list(table.columns) == POWER_COLUMNS
    assert sorted(table["n"].unique()) == [60, 120]
    summary = pd.read_csv(out / "power_summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["seed"] == 3 and man["options"]["reps"] == 4
    assert set(man["inputs"]) == {"population", "instrument"}
    assert "SIMULATED" in man["data_source"]
    text = capsys.readouterr().out
    assert "SIMULATED" in text and "b_RI_IA" in text
    # an existing non-empty folder is refused without --overwrite, accepted with it
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0


@pytest.mark.parametrize("extra, message", [
    (["--n", "abc"], "--n must be comma-separated whole numbers"),
    (["--n", "100,abc"], "--n must be comma-separated whole numbers"),
    (["--reps", "0"], "--reps must be at least 1"),
    (["--alpha", "2"], "--alpha must be between 0 and 1"),
    (["--n", "5"], "too small"),
])
def test_cli_bad_options_exit_2(three, tmp_path, capsys, extra, message):
    _inst, _pop, pop_path = three
    argv = ["power", "--model", str(pop_path), "--n", "100", "--reps", "2", "--out", str(tmp_path / "o")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error:") and message in err
    assert not (tmp_path / "o" / "power.csv").exists()


def test_cli_missing_population_file_exit_2(tmp_path, capsys):
    assert main(["power", "--model", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.yaml" in err and "not found" in err


# Normal-theory ML standard errors run a little small on skewed 7-point items at n = 300: for b_SV_IA of the
# 3-construct model, 600 replications gave a mean SE of 0.0706-0.0709 against an SD of the estimates of
# 0.073-0.077 (two seeds). SEs 5% too small give a rejection rate of 2 * (1 - Phi(0.95 * 1.96)) = 0.063, so the
# slow check accepts true rates between the nominal 0.05 and that.
SE_SHORTFALL = 0.95


@pytest.mark.slow
def test_paths_type_i_error_and_coverage_slow(three):
    """Slow variant (``pytest -m slow``): 500 replications at n = 300 of the 3-construct model. Each path's
    95% Wald interval covers the large-sample value, and the zero path rejects, at rates within the
    binomial 99.9% band of a true rate between nominal and the one implied by SEs 5% too small."""
    from scipy.stats import norm

    inst, pop, _path = three
    reps = 500
    table = simulate_power(inst, pop, n_values=[300], reps=reps, alpha=ALPHA, seed=2027, jobs=None,
                           progress=False, population_n=100_000)
    paths = table[table["kind"] == "path"].set_index("parameter")
    k = int(paths["n_converged"].min())
    assert k >= reps - 5
    liberal = 2 * norm.sf(SE_SHORTFALL * norm.ppf(1 - ALPHA / 2))
    lo = binom.ppf(NULL_BOUND_P / 2, k, ALPHA) / k
    hi = binom.ppf(1 - NULL_BOUND_P / 2, k, liberal) / k
    assert lo <= paths.loc["b_SV_IA", "power"] <= hi
    assert paths["coverage"].between(1 - hi, 1 - lo).all(), paths["coverage"]


def test_cross_role_sample_size_formula():
    """n per role for a cross-role difference of .15 in beta with 80% power: the Wald-test arithmetic."""
    import numpy as np
    import pandas as pd
    from scipy.stats import norm

    import sem_cocreate as sc
    from sem_cocreate.inference.power import cross_role_sample_size

    rng = np.random.default_rng(3)
    x = rng.standard_normal(500)
    data = pd.DataFrame({"x": x, "y": 0.3 * x + np.sqrt(1 - 0.09) * rng.standard_normal(500)})
    res = sc.sem("y ~ b*x", data)
    tab = cross_role_sample_size(res, delta=0.15, power=0.80)
    row = tab.iloc[0]
    z = norm.ppf(0.975) + norm.ppf(0.80)
    # at n_per_role in each group, delta / se_diff reaches z (up to the ceiling)
    se_diff = row["se1"] * np.sqrt(2 / row["n_per_role"])
    assert 0.15 / se_diff == pytest.approx(z, rel=0.01)
    assert row["n_total"] == pytest.approx(2 * row["n_per_role"], abs=1)
    # a standardized simple-regression slope has se about (1 - beta^2) / sqrt(n): se1 about 0.91
    assert row["se1"] == pytest.approx(1 - 0.09, abs=0.08)
    # unequal groups need more respondents in total; a larger difference fewer
    assert cross_role_sample_size(res, share=0.3).iloc[0]["n_total"] > row["n_total"]
    assert cross_role_sample_size(res, delta=0.3).iloc[0]["n_per_role"] < row["n_per_role"]
    with pytest.raises(OptionError):
        cross_role_sample_size(res, delta=0)
