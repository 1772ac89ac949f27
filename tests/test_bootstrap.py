"""Bootstrap and Monte Carlo intervals against lavaan 0.6.14 / semTools 0.5.6 (tests/reference/med9_boot,
med9_mc), the vectorised refits against the engine, reproducibility across workers and failure handling."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from refcases import reference_case
from scipy.stats import norm

from sem_cocreate.inference import bootstrap as bs
from sem_cocreate.engine.estimators._fastml import FastML, Moments
from sem_cocreate.engine.estimate import SampleStats, ml_value, ml_value_grad_info
from sem_cocreate.exceptions import FitWarning, OptionError
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.engine.model import RAMModel
from sem_cocreate.engine.standardize import standardize

EXACT_ATOL = 1e-9          # same quantity, same formula, different arithmetic order
REFIT_GRAD_ATOL = 1e-6     # engine gradient at our refitted solution (bootstrap.REFIT_GTOL)
BOOT_ATOL_5000 = 0.015     # promised agreement with lavaan at 5,000 resamples (CONTRACT.md)
MC_ATOL = 0.01             # promised agreement with semTools' Monte Carlo intervals (20,000 draws)
Z_MC = 4.5                 # Monte Carlo error allowance (in SDs) for the small default-run bootstrap
N_BOOT_FAST = 300          # resamples in the default-run comparison with lavaan
N_BOOT_LAVAAN = 5000


@pytest.fixture(scope="module")
def med9():
    case = reference_case("med9_boot")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return fit_sem(case.model, case.data)


@pytest.fixture(scope="module")
def med9_draws(med9):
    return bs.bootstrap_draws(med9, n_boot=N_BOOT_FAST, seed=20240518, jobs=2, progress=False)


def _lavaan(name):
    case = reference_case("med9_boot")
    return pd.read_csv(case.file(name), keep_default_na=False, na_values=[""])


def _fit(name):
    case = reference_case(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return fit_sem(case.model, case.data)


# ------------------------------------------------------------------ the vectorised ML against the engine

@pytest.mark.parametrize("name", ["med9", "hs_fixed", "pol_dem", "paths_obs"])
def test_fastml_objective_gradient_information_equal_engine(name):
    res = _fit(name)
    model, stats = res.internals["model"], res.internals["stats"]
    fast = FastML(model)
    mom = Moments(stats.n, stats.cov, stats.mean)
    theta = res.theta + 0.02 * np.random.default_rng(1).standard_normal(model.npar)
    f1, g1, i1 = ml_value_grad_info(model, theta, stats)
    f2, g2, i2 = fast.value_grad_info(theta, mom)
    assert f2 == pytest.approx(f1, abs=EXACT_ATOL)
    assert fast.value(theta, mom) == pytest.approx(ml_value(model, theta, stats), abs=EXACT_ATOL)
    np.testing.assert_allclose(g2, g1, atol=EXACT_ATOL)
    np.testing.assert_allclose(i2, i1, atol=EXACT_ATOL)
    values, std, improper = fast.solution(res.theta)
    np.testing.assert_allclose(values, model.param_values(res.theta), atol=EXACT_ATOL)
    std_engine = standardize(model, res.theta, model.implied(res.theta), model.param_values(res.theta),
                             which="std.all")
    np.testing.assert_allclose(std, std_engine, atol=EXACT_ATOL)
    assert improper == ""


@pytest.mark.parametrize("name", ["med9", "fi_mimic_ml", "mod_second", "hs_fixed", "pol_dem", "paths_obs"])
def test_batched_kernel_equals_the_engine_including_heywood_members(name):
    """value_grad_batch (factor blocks with fixed.x regressors, Woodbury inverse, structured Sigma, nilpotent
    (I - B)^-1 where they apply; the plain Cholesky path where not) gives each member the engine's F and
    gradient; a member with a negative residual variance leaves the fast path and is still right (or is
    flagged not positive definite)."""
    from sem_cocreate.engine.estimators._fastml import BatchMoments

    res = _fit(name)
    model, stats = res.internals["model"], res.internals["stats"]
    fast = FastML(model)
    blocks = fast._blocks[0]
    if name == "med9":
        assert fast._woodbury == [True] and fast._latent_order[0] is not None
        assert blocks is not None and blocks.q == 0
    if name == "fi_mimic_ml":                      # latent variables regressed on fixed.x covariates
        assert blocks is not None and blocks.q == 3 and fast._fixed_x
    if name == "mod_second":                       # second-order factor: loadings among latent variables
        assert blocks is not None and blocks.order == 1
    if name == "pol_dem":
        assert fast._woodbury == [False] and blocks is None   # correlated residuals: the general path
    rng = np.random.default_rng(5)
    thetas = res.theta + 0.01 * rng.standard_normal((4, model.npar))
    resid = [k for k, i, j in fast.pos[(0, "S")] if i == j and i < fast.nobs]
    if resid:
        thetas[3, resid[0]] = -0.05 * abs(res.theta[resid[0]]) - 1e-3        # a Heywood member
    mom = Moments(stats.n, stats.cov, stats.mean)
    fast.set_fixed_x(mom)
    batch = BatchMoments(stats.n, [np.stack([c] * 4) for c in stats.cov], [np.stack([m] * 4) for m in stats.mean])
    f, g = fast.value_grad_batch(thetas, batch)
    for b in range(4):
        sig = model.implied(thetas[b])
        pd_ok = all(np.linalg.eigvalsh(s_[0] if isinstance(s_, tuple) else s_).min() > 0
                    for s_ in (sig if isinstance(sig, list) else [sig]))
        if not pd_ok:
            assert not np.isfinite(f[b])
            continue
        f1, g1, _ = ml_value_grad_info(model, thetas[b], stats)
        assert f[b] == pytest.approx(f1, abs=EXACT_ATOL)
        np.testing.assert_allclose(g[b], g1, atol=EXACT_ATOL)


@pytest.mark.parametrize("name", ["med9", "paths_obs", "fi_mimic_ml", "mod_second"])
def test_batched_refits_equal_one_at_a_time_with_fixed_x(name):
    """The batched refit (fixed.x moments set per resample inside the batch) gives every resample the
    values, std.all and status of the one-at-a-time refit (paths_obs has fixed.x covariates)."""
    res = _fit(name)
    r = bs._resampler(res, exclude_improper=True)
    assert r.fast.batchable and (name != "paths_obs" or r.fast._fixed_x)
    vb, sb, stb = r._run_chunk_batch((11, 0, 30))
    for b in range(30):
        v, s, st = r.refit(r._weights(11, b))
        assert st == stb[b]
        if v is not None:
            np.testing.assert_allclose(vb[b], v, atol=1e-9, equal_nan=True)
            np.testing.assert_allclose(sb[b], s, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("name", ["med9", "hs_fixed", "paths_obs"])
def test_refit_is_the_engine_optimum_of_the_resample(name):
    """A resample's refit is a stationary point of the engine's own objective on the resampled data
    (with fixed.x moments taken from the resample, as lavaan rebuilds them)."""
    res = _fit(name)
    worker = bs._resampler(res, exclude_improper=True)
    frame = res.internals["frames"][0]
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(frame), len(frame))
    weights = [np.bincount(idx, minlength=len(frame)).astype(float)]
    values, _std, status = worker.refit(weights)
    assert status in ("", bs.IMPROPER)
    boot = frame.iloc[idx]
    X = boot[list(res.spec.ov_names)].to_numpy(float)
    m = X.mean(axis=0)
    stats = SampleStats([len(X)], [(X - m).T @ (X - m) / len(X)], [m])
    ovi = {v: i for i, v in enumerate(res.spec.ov_names)}

    def fixed_x(g, lhs, op, rhs):
        return stats.cov[g][ovi[lhs], ovi[rhs]] if op == "~~" else stats.mean[g][ovi[lhs]]

    model = RAMModel(res.spec, fixed_x_values=fixed_x)
    free = res.spec.partable["free"].to_numpy()
    theta = np.zeros(model.npar)
    theta[free[free > 0] - 1] = values[free > 0]
    _f, grad, _i = ml_value_grad_info(model, theta, stats)
    assert np.max(np.abs(grad)) < REFIT_GRAD_ATOL
    np.testing.assert_allclose(model.param_values(theta), values, atol=EXACT_ATOL)


# ------------------------------------------------------------------ agreement with lavaan

def _compare(ours, lav, *, atol):
    assert len(ours) == len(lav)
    # same rows in the same order (lavaan writes a covariance F1 ~~ F2 in its own lhs/rhs order)
    def key(t):
        return [(op, *sorted((lhs, rhs))) if op == "~~" else (op, lhs, rhs if op != ":=" else "")
                for lhs, op, rhs in zip(t["lhs"], t["op"], t["rhs"].fillna(""))]
    assert key(ours) == key(lav)
    np.testing.assert_allclose(ours["est"], lav["est"], atol=1e-3)
    free = (lav["se"] > 0).to_numpy()
    for col in ("ci.lower", "ci.upper"):
        diff = np.abs(ours[col].to_numpy() - lav[col].to_numpy())[free]
        tol = atol[free] if np.ndim(atol) else atol
        bad = np.flatnonzero(diff > tol)
        assert bad.size == 0, (col, ours.loc[free].iloc[bad][["lhs", "op", "rhs", col]], lav.loc[free].iloc[bad][col])


def _mc_tolerance(lav, r_ours, r_lav):
    """Allowance for two independent bootstrap estimates of a 2.5%/97.5% quantile.

    The SD of a sample p-quantile is sqrt(p (1 - p) / R) / f(q); with a normal sampling distribution
    of SD s (lavaan's bootstrap SE) that is s * sqrt(p (1-p)) / phi(z_p) / sqrt(R). The difference of
    ours (R = r_ours) and lavaan's (R = r_lav) gets Z_MC of those SDs (plus an estimate-precision floor).
    """
    p = 0.025
    k = np.sqrt(p * (1 - p)) / norm.pdf(norm.ppf(p))
    return Z_MC * k * lav["se"].to_numpy() * np.sqrt(1 / r_ours + 1 / r_lav) + 1e-4


def test_percentile_intervals_agree_with_lavaan_within_monte_carlo_error(med9, med9_draws):
    ours = bs.bootstrap_estimates(med9, med9_draws, ci="perc")
    lav = _lavaan("estimates_perc.csv")
    assert json.loads(reference_case("med9_boot").file("boot_failed.json").read_text())["n_boot"] == N_BOOT_LAVAAN
    _compare(ours, lav, atol=_mc_tolerance(lav, med9_draws.n_ok, N_BOOT_LAVAAN))
    # bootstrap SEs: SD of an SD estimate is about s / sqrt(2 R)
    se_tol = Z_MC * lav["se"].to_numpy() * np.sqrt(1 / (2 * med9_draws.n_ok) + 1 / (2 * N_BOOT_LAVAAN)) + 1e-4
    assert np.all(np.abs(ours["se"].to_numpy() - lav["se"].to_numpy()) <= se_tol)


def test_bias_corrected_intervals_agree_with_lavaan_bca_simple(med9, med9_draws):
    ours = bs.bootstrap_estimates(med9, med9_draws, ci="bc")
    lav = _lavaan("estimates_bca.csv")
    # the bias correction adds the error of w = qnorm(share below est): widen by half
    _compare(ours, lav, atol=1.5 * _mc_tolerance(lav, med9_draws.n_ok, N_BOOT_LAVAAN))


@pytest.fixture(scope="module")
def med9_draws_5000(med9):
    return bs.bootstrap_draws(med9, n_boot=N_BOOT_LAVAAN, seed=20240518, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("ci, file", [("perc", "estimates_perc.csv"), ("bc", "estimates_bca.csv")])
def test_5000_resamples_agree_with_lavaan_within_0015(med9, med9_draws_5000, ci, file):
    """0.015 for loadings, regressions and every := parameter; (co)variances with bootstrap SEs of
    0.1-0.16 get their Monte Carlo allowance instead (at 5,000 vs 5,000 resamples the SD of the
    difference of two 2.5% quantiles is about 0.053 SE, so 0.015 is only ~2 SDs there)."""
    ours = bs.bootstrap_estimates(med9, med9_draws_5000, ci=ci)
    lav = _lavaan(file)
    paths = lav["op"].isin(["=~", "~", ":="]).to_numpy()
    allowance = np.maximum(BOOT_ATOL_5000, _mc_tolerance(lav, med9_draws_5000.n_ok, N_BOOT_LAVAAN))
    _compare(ours, lav, atol=np.where(paths, BOOT_ATOL_5000, allowance))


def test_monte_carlo_intervals_agree_with_semtools(med9):
    ours = bs.monte_carlo_estimates(med9, n_draws=20000, seed=20240519)
    ref = pd.read_csv(reference_case("med9_mc").file("mc_ci.csv"))
    got = ours[ours["op"] == ":="].set_index("lhs").loc[ref["name"]]
    assert len(got) == len(ref) == 14
    for col in ("se", "ci.lower", "ci.upper"):
        np.testing.assert_allclose(got[col].to_numpy(), ref[col].to_numpy(), atol=MC_ATOL, err_msg=col)
    # other rows are untouched
    pd.testing.assert_frame_equal(ours[ours["op"] != ":="], med9.estimates[med9.estimates["op"] != ":="])


# ------------------------------------------------------------------ table semantics

def test_bootstrap_table_conventions(med9, med9_draws):
    tab = bs.bootstrap_estimates(med9, med9_draws, ci="perc")
    pd.testing.assert_frame_equal(tab[["lhs", "op", "rhs", "est", "std.all"]],
                                  med9.estimates[["lhs", "op", "rhs", "est", "std.all"]])
    fixed = med9.spec.partable["free"].to_numpy() == 0
    n_pt = len(fixed)
    assert (tab["se"].to_numpy()[:n_pt][fixed] == 0).all()
    assert (tab["ci.lower"].to_numpy()[:n_pt][fixed] == tab["est"].to_numpy()[:n_pt][fixed]).all()
    D = med9_draws.est
    np.testing.assert_allclose(tab["se"].to_numpy()[:n_pt][~fixed], D[:, :n_pt][:, ~fixed].std(axis=0, ddof=0))
    np.testing.assert_allclose(tab["se"].to_numpy()[n_pt:], D[:, n_pt:].std(axis=0, ddof=1))
    np.testing.assert_allclose(tab["z"], tab["est"] / tab["se"].where(tab["se"] > 0))
    # the := draws are the defined functions of the parameter draws
    a1 = D[:, tab.index[tab["label"] == "a1"][0]]
    c1 = D[:, tab.index[tab["label"] == "c1"][0]]
    np.testing.assert_allclose(D[:, tab.index[tab["lhs"] == "ind_PS_RI_VCC"][0]], a1 * c1)


def test_standardized_indirect_effects_get_intervals(med9, med9_draws):
    std = bs.bootstrap_std_estimates(med9, med9_draws, ci="perc")
    row = std[std["lhs"] == "ind_PS_RI_VCC"].iloc[0]
    assert row["est.std"] == pytest.approx(med9.estimates.loc[std.index[std["lhs"] == "ind_PS_RI_VCC"][0], "std.all"])
    assert row["ci.lower"] < row["est.std"] < row["ci.upper"]
    assert 0 < row["se"] < 0.1


def test_bca_uses_jackknife_acceleration():
    """Simulated data (seed 11): y ~ x has a closed-form slope, so the jackknife acceleration can be
    computed directly and compared with the BCa interval's."""
    rng = np.random.default_rng(11)
    x = rng.exponential(size=60)
    y = 0.5 * x + rng.standard_normal(60) * (0.5 + x)
    res = fit_sem("y ~ b*x", pd.DataFrame({"x": x, "y": y}))
    slopes = []
    for i in range(60):
        keep = np.arange(60) != i
        slopes.append(np.cov(x[keep], y[keep])[0, 1] / np.var(x[keep], ddof=1))
    L = np.mean(slopes) - np.array(slopes)
    a_direct = np.sum(L**3) / (6 * np.sum(L**2) ** 1.5)
    acc = bs._jackknife_acceleration(res, which="est")
    row = res.estimates.index[res.estimates["label"] == "b"][0]
    assert acc[row] == pytest.approx(a_direct, abs=1e-6)
    draws = bs.bootstrap_draws(res, n_boot=300, seed=3, jobs=1, progress=False)
    bca = bs.bootstrap_estimates(res, draws, ci="bca").loc[row]
    bc = bs.bootstrap_estimates(res, draws, ci="bc").loc[row]
    assert abs(acc[row]) > 0.01 and bca["ci.upper"] != bc["ci.upper"]
    assert bca["ci.lower"] < bca["est"] < bca["ci.upper"]


def test_norm_inter_order_statistics_and_interpolation():
    t = np.arange(1.0, 100.0)                 # R = 99
    assert bs._norm_inter(t, [0.05])[0] == 5.0          # (R+1) alpha = 5: the 5th order statistic
    assert bs._norm_inter(t, [0.001])[0] == 1.0         # below the first: the minimum
    z, z1, z2 = norm.ppf(0.025), norm.ppf(2 / 100), norm.ppf(3 / 100)
    assert bs._norm_inter(t, [0.025])[0] == pytest.approx(2 + (z - z1) / (z2 - z1))


# ------------------------------------------------------------------ reproducibility and parallel back-ends

def test_same_seed_same_draws_whatever_the_number_of_jobs(med9):
    one = bs.bootstrap_draws(med9, n_boot=24, seed=99, jobs=1, progress=False, chunk_size=5)
    two = bs.bootstrap_draws(med9, n_boot=24, seed=99, jobs=2, progress=False, chunk_size=5)
    np.testing.assert_array_equal(one.est, two.est)
    np.testing.assert_array_equal(one.std_all, two.std_all)
    # another chunking batches other resamples together: the same draws up to rounding
    rechunked = bs.bootstrap_draws(med9, n_boot=24, seed=99, jobs=2, progress=False, chunk_size=7)
    np.testing.assert_allclose(rechunked.est, one.est, rtol=0, atol=1e-10)
    other = bs.bootstrap_draws(med9, n_boot=24, seed=100, jobs=1, progress=False)
    assert not np.array_equal(one.est, other.est)


def test_dask_cluster_gives_identical_draws(med9):
    distributed = pytest.importorskip("dask.distributed")
    local = bs.bootstrap_draws(med9, n_boot=12, seed=5, jobs=1, progress=False, chunk_size=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = bs.bootstrap_draws(med9, n_boot=12, seed=5, scheduler=cluster.scheduler_address,
                                    progress=False, chunk_size=4)
    np.testing.assert_array_equal(local.est, remote.est)
    np.testing.assert_array_equal(local.std_all, remote.std_all)


# ------------------------------------------------------------------ failures are data

def test_failed_resamples_are_counted_excluded_and_reported():
    """Simulated data (seed 4): one indicator almost equals its factor, so many resamples give a
    negative residual variance (improper); with n = 40 some may not converge."""
    rng = np.random.default_rng(4)
    f = rng.standard_normal(40)
    data = pd.DataFrame({"x1": f + 0.02 * rng.standard_normal(40),
                         "x2": 0.5 * f + rng.standard_normal(40),
                         "x3": 0.4 * f + rng.standard_normal(40)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        res = fit_sem("F =~ x1 + x2 + x3", data)
    with pytest.warns(FitWarning, match="bootstrap resamples .* failed"):
        strict = bs.bootstrap_draws(res, n_boot=40, seed=1, jobs=1, progress=False)
    reasons = strict.failed_reasons
    assert reasons[bs.IMPROPER] > 3                       # > 5% of 40
    assert strict.n_failed == reasons[bs.IMPROPER] + reasons[bs.NOT_CONVERGED]
    assert strict.n_ok + strict.n_failed == 40
    var_rows = (res.estimates["op"] == "~~") & (res.estimates["lhs"] == res.estimates["rhs"])
    assert (strict.est[:, var_rows.to_numpy()] >= 0).all()
    lavaan_rule = bs.bootstrap_draws(res, n_boot=40, seed=1, jobs=1, progress=False, exclude_improper=False)
    assert lavaan_rule.n_failed == lavaan_rule.n_failed_lavaan == reasons[bs.NOT_CONVERGED]
    assert lavaan_rule.n_ok == 40 - reasons[bs.NOT_CONVERGED]
    assert (lavaan_rule.est[:, var_rows.to_numpy()] < 0).any()


def test_bad_options_are_refused(med9, med9_draws):
    with pytest.raises(OptionError, match="positive number of resamples"):
        bs.bootstrap_draws(med9, n_boot=0, seed=1)
    with pytest.raises(OptionError, match="not a bootstrap interval"):
        bs.bootstrap_estimates(med9, med9_draws, ci="basic")
    with pytest.raises(OptionError, match="level must be between 0 and 1"):
        bs.monte_carlo_estimates(med9, seed=1, level=95)


def test_background_bootstrap_gives_the_same_draws(med9, med9_draws):
    """start_bootstrap (the study's: one worker process runs every chunk while the parent goes on) gives
    exactly the draws of bootstrap_draws with the same seed, in or out of the background."""
    import os

    pending = bs.start_bootstrap(med9, n_boot=N_BOOT_FAST, seed=20240518)
    assert pending.in_background == ((os.cpu_count() or 1) >= 2)
    got = pending.result()
    np.testing.assert_array_equal(got.est, med9_draws.est)
    np.testing.assert_array_equal(got.std_all, med9_draws.std_all)
    assert (got.n_failed, got.seed) == (med9_draws.n_failed, med9_draws.seed)
    serial = bs.start_bootstrap(med9, n_boot=60, seed=3, jobs=1)
    assert not serial.in_background
    np.testing.assert_array_equal(serial.result().est, bs.bootstrap_draws(med9, n_boot=60, seed=3, jobs=1).est)
