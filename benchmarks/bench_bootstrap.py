"""Benchmark: bootstrap of the 9-factor mediation model (31 items, n = 500) against lavaan, same data, same run.

Run from the repository root (R with lavaan 0.6.14 on the PATH):

    python benchmarks/bench_bootstrap.py                  # 1,000 and 5,000 resamples, 2 worker processes
    python benchmarks/bench_bootstrap.py --n-boot 1000 --jobs 2 --lavaan-parallel

For each number of resamples it times
- sem_cocreate: ``fit_sem`` + ``bootstrap_draws`` + ``bootstrap_estimates`` (percentile), ``--jobs`` processes;
- lavaan: ``sem(model, data, se = "bootstrap", bootstrap = N)`` + ``parameterEstimates`` via Rscript
  (serial, lavaan's default; ``--lavaan-parallel`` adds a run with ``parallel = "multicore", ncpus = jobs``),
  timed inside R with ``system.time`` (R start-up excluded),
and prints both times (wall clock and CPU seconds, the latter robust to other load on the machine),
their ratios, the largest interval difference between the two and the peak memory
(resident set size of this process and of the largest worker process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "tests" / "reference" / "med9"
DATA = ROOT / "tests" / "reference" / "data" / "sim_med9.csv"

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\n")
dat <- read.csv(args[2])
R <- as.integer(args[3]); out <- args[4]; par <- args[5]; ncpus <- as.integer(args[6])
tm <- system.time({
  fit <- sem(model, data = dat, se = "bootstrap", bootstrap = R, iseed = 20240518L,
             parallel = par, ncpus = ncpus)
  pe <- parameterEstimates(fit, boot.ci.type = "perc")
})
write.csv(pe[, c("lhs", "op", "rhs", "est", "se", "ci.lower", "ci.upper")], out, row.names = FALSE)
b <- lavInspect(fit, "boot")
cpu <- sum(tm[c("user.self", "sys.self", "user.child", "sys.child")], na.rm = TRUE)
cat(sprintf('{"elapsed": %.3f, "cpu": %.3f, "n_failed": %d}\n', tm[["elapsed"]], cpu,
            length(attr(b, "error.idx"))))
"""


def _peak_rss_mb(who) -> float:
    # Linux reports ru_maxrss in kilobytes (for RUSAGE_CHILDREN: the largest single terminated child)
    return resource.getrusage(who).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its terminated, waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def run_python(n_boot: int, jobs: int, seed: int):
    sys.path.insert(0, str(ROOT))
    from sem_cocreate.inference.bootstrap import bootstrap_draws, bootstrap_estimates
    from sem_cocreate.engine.fit import fit_sem

    from joblib.externals.loky import get_reusable_executor

    model = (CASE / "model.lav").read_text()
    data = pd.read_csv(DATA)
    get_reusable_executor().shutdown(wait=True)       # fresh workers: their start-up is part of the time
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_sem(model, data)
    t_fit = time.perf_counter() - t0
    draws = bootstrap_draws(res, n_boot=n_boot, seed=seed, jobs=jobs, progress=sys.stderr.isatty())
    tab = bootstrap_estimates(res, draws, ci="perc")
    elapsed = time.perf_counter() - t0
    get_reusable_executor().shutdown(wait=True)       # workers' CPU time is counted once they have exited
    cpu = _cpu_seconds() - cpu0
    return {"elapsed": elapsed, "cpu": cpu, "fit": t_fit, "n_failed": draws.n_failed, "reasons": draws.failed_reasons,
            "table": tab}


def run_lavaan(n_boot: int, *, parallel: str, ncpus: int):
    model_file = CASE / "model.lav"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "boot.R"
        script.write_text(R_SCRIPT)
        out = Path(tmp) / "pe.csv"
        proc = subprocess.run(["Rscript", str(script), str(model_file), str(DATA), str(n_boot), str(out),
                               parallel, str(ncpus)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"Rscript failed:\n{proc.stderr}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        info["table"] = pd.read_csv(out, keep_default_na=False, na_values=[""])
    return info


def _max_ci_diff(ours: pd.DataFrame, lav: pd.DataFrame):
    assert len(ours) == len(lav)
    d = np.maximum(np.abs(ours["ci.lower"].to_numpy() - lav["ci.lower"].to_numpy()),
                   np.abs(ours["ci.upper"].to_numpy() - lav["ci.upper"].to_numpy()))
    defined = ours["op"].to_numpy() == ":="
    paths = ours["op"].isin(["=~", "~", ":="]).to_numpy()
    return float(np.nanmax(d)), float(np.nanmax(d[paths])), float(np.nanmax(d[defined]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20240518)
    ap.add_argument("--lavaan-parallel", action="store_true",
                    help="also time lavaan with parallel = 'multicore', ncpus = --jobs")
    args = ap.parse_args(argv)
    print(f"9-factor mediation model, 31 items, n = 500 ({DATA.relative_to(ROOT)}); machine: "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; sem_cocreate jobs = {args.jobs}")
    for n in args.n_boot:
        py = run_python(n, args.jobs, args.seed)
        rss_main, rss_worker = _peak_rss_mb(resource.RUSAGE_SELF), _peak_rss_mb(resource.RUSAGE_CHILDREN)
        lav = run_lavaan(n, parallel="no", ncpus=1)
        all_d, path_d, def_d = _max_ci_diff(py["table"], lav["table"])
        print(f"\n== {n} resamples ==")
        print(f"sem_cocreate ({args.jobs} processes): {py['elapsed']:8.2f} s wall, {py['cpu']:8.2f} s CPU "
              f"(point fit {py['fit']:.2f} s; {py['n_failed']} failed {py['reasons']})")
        print(f"lavaan 0.6.14 (serial):       {lav['elapsed']:8.2f} s wall, {lav['cpu']:8.2f} s CPU "
              f"({lav['n_failed']} failed)")
        print(f"ratio lavaan / sem_cocreate:  {lav['elapsed'] / py['elapsed']:8.1f}x wall, "
              f"{lav['cpu'] / py['cpu']:.1f}x CPU")
        if args.lavaan_parallel:
            lavp = run_lavaan(n, parallel="multicore", ncpus=args.jobs)
            print(f"lavaan (multicore, {args.jobs} cores): {lavp['elapsed']:8.2f} s  -> ratio "
                  f"{lavp['elapsed'] / py['elapsed']:.1f}x")
        print(f"max |CI difference| vs lavaan (percentile): all rows {all_d:.4f}, loadings/paths/:= {path_d:.4f}, "
              f":= rows {def_d:.4f}")
        print(f"peak memory: main process {rss_main:.0f} MB, largest worker {rss_worker:.0f} MB, "
              f"total at most {rss_main + args.jobs * rss_worker:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
