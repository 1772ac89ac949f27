"""Benchmark: Monte Carlo power replications, sem_cocreate vs a plain lavaan loop in R (SIMULATED data).

Both sides run ``--reps`` replications (default 200) of the full co-creation model at ``--n`` (default 300)
on one core:

- Python: :func:`sem_cocreate.inference.power.simulate_power` with ``jobs=1`` (simulate, recode, fit, extract);
  timed is the replication phase only (the n = 100,000 population fit is reported separately).
- R: the ``simsem``-free equivalent, a loop of ``lavaan::sem()`` + ``parameterEstimates(standardized=TRUE)``
  on data simulated in R from the same population model: the latent covariance (``B``, ``Psi``) is taken
  from :func:`sem_cocreate.survey.simulate.latent_covariance` and passed to R with the loadings and thresholds,
  then R draws ``eta = (I - B)^-1 zeta``, items ``lambda * eta + sqrt(1 - lambda^2) e`` and cuts them into
  the 7 categories (already in the recoded direction, so no reverse keying).

It prints both times, the ratio (R / Python), and the power of every structural path from both sides,
which must agree within Monte Carlo error (two independent sets of replications: the difference of two
powers has SE ``sqrt(2 p (1 - p) / reps)``, up to 0.05 at 200 replications; printed per path with its z).
Then, unless ``--unpaired-only``, lavaan refits the very data sets sem_cocreate fitted (written to a CSV
from the same child seeds): a paired comparison with no simulation noise between the sides, in which the
powers must agree up to the odd replication whose p-value sits at alpha.

Run: ``python benchmarks/bench_power.py [--reps 200] [--n 300] [--skip-r]``. Needs Rscript with lavaan
0.6.14 and jsonlite. BLAS is limited to one thread on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
cfg <- fromJSON(args[1])
set.seed(cfg$seed)
B <- as.matrix(cfg$B); Psi <- as.matrix(cfg$Psi)
k <- nrow(B)
E <- solve(diag(k) - B)
L <- chol(Psi)                       # Psi = t(L) %*% L
lat_index <- match(cfg$item_construct, cfg$names)
lam <- cfg$loadings
thr <- cfg$thresholds
labels <- cfg$path_labels
t0 <- proc.time()
pv <- matrix(NA_real_, cfg$reps, length(labels), dimnames = list(NULL, labels))
conv <- logical(cfg$reps)
paired <- !is.null(cfg$data_file) && nzchar(cfg$data_file)
if (paired) all_data <- read.csv(cfg$data_file)
for (r in seq_len(cfg$reps)) {
  if (paired) {                      # the very data sets sem_cocreate fitted (same seeds, same n)
    d <- all_data[all_data$rep == r - 1, cfg$items]
  } else {
    zeta <- matrix(rnorm(cfg$n * k), cfg$n, k) %*% L
    eta <- zeta %*% t(E)
    y <- sapply(seq_along(lam), function(j) lam[j] * eta[, lat_index[j]] + sqrt(1 - lam[j]^2) * rnorm(cfg$n))
    d <- apply(y, 2, function(v) findInterval(v, thr) + 1)
    d <- as.data.frame(d); names(d) <- cfg$items
  }
  fit <- try(sem(cfg$syntax, data = d), silent = TRUE)
  if (inherits(fit, "try-error") || !lavInspect(fit, "converged")) next
  pe <- parameterEstimates(fit, standardized = TRUE)
  conv[r] <- TRUE
  pv[r, ] <- pe$pvalue[match(labels, pe$label)]
}
el <- proc.time() - t0
ok <- conv
power <- colMeans(pv[ok, , drop = FALSE] < cfg$alpha)
cat(toJSON(list(seconds = unname(el[["elapsed"]]), cpu = unname(el[["user.self"]] + el[["sys.self"]]),
                n_converged = sum(ok), power = as.list(power),
                lavaan = as.character(packageVersion("lavaan"))), auto_unbox = TRUE, digits = NA))
"""


def _r_config(inst, pop, *, n, reps, seed, alpha) -> dict:
    from sem_cocreate.survey.modelbuild import build_model_syntax, path_label
    from sem_cocreate.survey.simulate import _loading, latent_covariance

    names, B, Psi = latent_covariance(inst, pop, "solver")
    items = inst.item_ids()
    return {
        "names": names, "B": B.tolist(), "Psi": Psi.tolist(), "items": items,
        "item_construct": [it.construct for it in inst.items()],
        "loadings": [_loading(pop, i) for i in items],
        "thresholds": list(pop.thresholds), "syntax": build_model_syntax(inst),
        "path_labels": list(dict.fromkeys(path_label(h.from_, h.to) for h in inst.hypotheses)),
        "n": n, "reps": reps, "seed": seed, "alpha": alpha,
    }


def write_python_data(inst, pop, *, n, reps, seed, path: Path) -> None:
    """The ``reps`` SIMULATED data sets :func:`simulate_power` fits (same child seeds, recoded), in one CSV."""
    from sem_cocreate.inference.power import _Replication, child_seeds

    rep = _Replication(inst, pop, None, (), False)
    items = inst.item_ids()
    frames = []
    for r, s in enumerate(child_seeds(seed, n, reps)):
        d = rep.draw(n, np.random.default_rng(s))[items].astype(int)
        d.insert(0, "rep", r)
        frames.append(d)
    pd.concat(frames).to_csv(path, index=False)


def run_r(cfg: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = Path(tmp) / "cfg.json"
        cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT, encoding="utf-8")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        proc = subprocess.run(["Rscript", str(script), str(cfg_path)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"R failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--unpaired-only", action="store_true",
                    help="skip the paired lavaan fits of sem_cocreate's own data sets")
    args = ap.parse_args(argv)

    from sem_cocreate.survey.instrument_file import load_instrument
    from sem_cocreate.inference.power import simulate_power
    from sem_cocreate.survey.simulate import load_population

    inst, pop = load_instrument(), load_population()
    if inst.controls:
        # the R loop draws the items from the latent model (controls included there, as latent z's, so the
        # items have the same distribution on both sides) but not the control fields themselves (won is a
        # binary transform of its z): both sides fit the structural model without the control regressions
        import dataclasses

        print(f"controls {', '.join(inst.controls)}: in the population, not in the analysis model of either side")
        inst = dataclasses.replace(inst, controls=())
    t0, c0 = time.perf_counter(), time.process_time()
    table = simulate_power(inst, pop, n_values=[args.n], reps=args.reps, alpha=args.alpha, seed=args.seed,
                           jobs=1, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    py_reps, py_cpu = table.attrs["seconds"], table.attrs["cpu_seconds_this_process"]
    paths = table[table["kind"] == "path"].set_index("parameter")
    print(f"SIMULATED data, full co-creation model, n = {args.n}, {args.reps} replications, one core")
    print(f"sem_cocreate: {py_reps:.1f} s for the replications ({py_reps / args.reps:.3f} s each; "
          f"{int(paths['n_converged'].iloc[0])} converged), CPU {py_cpu:.1f} s ({py_cpu / args.reps:.3f} s each); "
          f"total with the population fit {wall:.1f} s, CPU {cpu:.1f} s")
    if args.skip_r:
        return 0
    cfg = _r_config(inst, pop, n=args.n, reps=args.reps, seed=args.seed, alpha=args.alpha)
    res = run_r(cfg)
    print(f"lavaan {res['lavaan']} loop: {res['seconds']:.1f} s ({res['seconds'] / args.reps:.3f} s each; "
          f"{res['n_converged']} converged), CPU {res['cpu']:.1f} s")
    print(f"ratio lavaan / sem_cocreate (replication phase): wall {res['seconds'] / py_reps:.2f}, "
          f"CPU {res['cpu'] / py_cpu:.2f} (CPU is the fairer figure on a shared machine)")
    both = pd.DataFrame({"population": paths["population"], "power_sem_cocreate": paths["power"],
                         "power_lavaan": pd.Series(res["power"])})
    both["diff"] = both["power_sem_cocreate"] - both["power_lavaan"]
    # independent data on the two sides: SE of a difference of two powers, each from its own reps
    p = both[["power_sem_cocreate", "power_lavaan"]].mean(axis=1)
    both["mcse_diff"] = np.sqrt(2 * p * (1 - p) / args.reps)
    both["z"] = both["diff"] / both["mcse_diff"].where(both["mcse_diff"] > 0)
    print("independent data sets (R simulates its own):")
    print(both.round(3).to_string())
    print(f"largest |diff| {both['diff'].abs().max():.3f}, largest |z| {both['z'].abs().max():.2f} "
          f"({len(both)} paths: with many paths a |z| above 2.7 somewhere is not rare by chance alone)")
    if not args.unpaired_only:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data.csv"
            write_python_data(inst, pop, n=args.n, reps=args.reps, seed=args.seed, path=data)
            paired = run_r(dict(cfg, data_file=str(data)))
        pair = pd.DataFrame({"power_sem_cocreate": paths["power"], "power_lavaan_same_data": pd.Series(paired["power"])})
        pair["diff"] = pair["power_sem_cocreate"] - pair["power_lavaan_same_data"]
        print(f"paired: lavaan on the {args.reps} data sets sem_cocreate fitted ({paired['n_converged']} converged):")
        print(pair.round(3).to_string())
        print(f"largest |diff| on the same data {pair['diff'].abs().max():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
