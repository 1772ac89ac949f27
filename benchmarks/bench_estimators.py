"""Benchmark: MLR and FIML (ML, MLR) fits, sem_cocreate against lavaan 0.6.14, timed in the same run.

Run from the repository root (needs Rscript with lavaan 0.6.14 and jsonlite; nothing is written
except a temporary R script)::

    python benchmarks/bench_estimators.py            # 5 timed repetitions of every fit
    python benchmarks/bench_estimators.py --repeat 3 --cases bfi5_fiml,med9_fiml
    python benchmarks/bench_estimators.py --quick     # one run each, no lavaan warm-up

Cases are the committed reference cases (tests/reference/<case>/: model.lav, meta.json, data):

- ``bfi5_mlr``: psych's bfi, 5-factor CFA, 25 items, MLR, listwise (n = 2436);
- ``bfi5_fiml`` / ``bfi5_fiml_mlr``: the same with FIML, n = 2800, 87 missing-data patterns;
- ``med9_mlr``: SIMULATED 9-factor mediation SEM (31 items, n = 500), MLR, complete data;
- ``med9_fiml`` / ``med9_fiml_mlr``: the same with 5 % of the cells missing (MCAR, simulated),
  242 patterns.

Timing: Python times ``fit_sem(...)`` in-process after one warm-up fit (imports and caches
excluded); R times the ``cfa()``/``sem()`` call with ``system.time`` after one warm-up call (R
start-up and ``library(lavaan)`` excluded; ``--quick`` skips lavaan's warm-up, which matters
little next to its run time). The full run takes long: lavaan 0.6.14 needs minutes for the
FIML fits of med9 (242 missing-data patterns), mostly in ``fitMeasures`` (the FIML-corrected
robust indices refit the model and the baseline). Both include everything a user gets from one call
(estimates, SEs, test statistics, fit measures; lavaan computes its fit measures lazily, so the R
timing adds ``fitMeasures(fit)``). The table on stdout gives the median wall-clock seconds, the
ratio ours / lavaan (< 1: we are faster), and the largest absolute differences of the estimates
and SEs and of chisq (and chisq.scaled under MLR) as a correctness check of the timed fits.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CASES = ["bfi5_mlr", "bfi5_fiml", "bfi5_fiml_mlr", "med9_mlr", "med9_fiml", "med9_fiml_mlr"]

R_TEMPLATE = r"""
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
spec <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (cs in spec$cases) {
  dat <- read.csv(cs$data)
  for (v in names(cs$recode)) dat[[v]] <- 7 - dat[[v]]
  model <- paste(readLines(cs$model), collapse = "\n")
  fun <- if (cs$fun == "cfa") lavaan::cfa else lavaan::sem
  run <- function() {
    fit <- fun(model, data = dat, estimator = cs$estimator, missing = cs$missing)
    fm <- fitMeasures(fit)
    fit
  }
  if (isTRUE(spec$warmup)) fit <- run()   # warm-up
  times <- numeric(0)
  for (i in seq_len(spec$repeats)) times <- c(times, system.time(fit <- run())[["elapsed"]])
  fm <- fitMeasures(fit)
  out[[cs$name]] <- list(times = times, chisq = unname(fm["chisq"]),
                         chisq_scaled = if ("chisq.scaled" %in% names(fm)) unname(fm["chisq.scaled"]) else NA,
                         lavaan = as.character(packageVersion("lavaan")))
}
write_json(out, args[2], auto_unbox = TRUE, digits = NA)
"""


def _case_options(name):
    from refcases import reference_case

    case = reference_case(name)
    opts = case.meta["options"]
    estimator = "MLR" if opts.get("se") == "robust.huber.white" else "ML"
    missing = "fiml" if opts.get("missing") == "ml" else "listwise"
    fun = "cfa" if case.meta["call"].startswith("cfa") else "sem"
    return case, estimator, missing, fun


def time_python(names, repeats):
    import numpy as np

    from sem_cocreate.engine.fit import fit_sem

    out = {}
    for name in names:
        case, estimator, missing, _fun = _case_options(name)
        data, model = case.data, case.model
        res = fit_sem(model, data, estimator=estimator, missing=missing)   # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = fit_sem(model, data, estimator=estimator, missing=missing)
            times.append(time.perf_counter() - t0)
        lav = case.estimates
        both = lav.merge(res.estimates, on=["lhs", "op", "rhs"], suffixes=("_lav", ""))
        out[name] = {
            "times": times,
            "est_diff": float(np.abs(both["est"] - both["est_lav"]).max()),
            "se_diff": float(np.abs(both["se"] - both["se_lav"]).max()),
            "chisq": float(res.fit["chisq"]),
            "chisq_scaled": float(res.fit.get("chisq.scaled", float("nan"))),
            "npatterns": int(res.fit.get("npatterns", 1)),
            "n": int(res.n_obs),
        }
    return out


def time_lavaan(names, repeats, warmup=True):
    if shutil.which("Rscript") is None:
        return None
    spec = {"repeats": repeats, "warmup": warmup, "cases": []}
    for name in names:
        case, estimator, missing, fun = _case_options(name)
        spec["cases"].append({
            "name": name, "fun": fun, "estimator": estimator,
            "missing": "ml" if missing == "fiml" else "listwise",
            "data": str((case.folder / case.meta["data"]).resolve()),
            "model": str(case.folder / "model.lav"),
            "recode": {k: v for k, v in (case.meta.get("recode") or {}).items()},
        })
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_TEMPLATE)
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        out_file = Path(tmp) / "out.json"
        subprocess.run(["Rscript", str(script), str(spec_file), str(out_file)], check=True)
        return json.loads(out_file.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions per fit (default 5)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated reference cases")
    ap.add_argument("--quick", action="store_true",
                    help="one timed run each and no lavaan warm-up (lavaan's FIML on med9 takes minutes)")
    args = ap.parse_args(argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    repeats = 1 if args.quick else args.repeat
    py = time_python(names, repeats)
    lav = time_lavaan(names, repeats, warmup=not args.quick)
    print(f"{'case':15s} {'n':>5s} {'pat':>4s} {'ours s':>8s} {'lavaan s':>9s} {'ratio':>6s} "
          f"{'max|dest|':>10s} {'max|dse|':>9s} {'dchisq':>9s} {'dchisq.sc':>10s}")
    for name in names:
        p = py[name]
        ours = statistics.median(p["times"])
        if lav and name in lav:
            lt = lav[name]["times"]
            theirs = statistics.median(lt if isinstance(lt, list) else [lt])
            ratio = ours / theirs if theirs > 0 else float("nan")
            dch = p["chisq"] - lav[name]["chisq"]
            sc = lav[name]["chisq_scaled"]
            dsc = p["chisq_scaled"] - sc if isinstance(sc, (int, float)) else float("nan")
        else:
            theirs = ratio = dch = dsc = float("nan")
        print(f"{name:15s} {p['n']:5d} {p['npatterns']:4d} {ours:8.3f} {theirs:9.3f} {ratio:6.2f} "
              f"{p['est_diff']:10.2e} {p['se_diff']:9.2e} {dch:9.2e} {dsc:10.2e}")
    print(f"\nmedian of {repeats} timed run(s); python {sys.version.split()[0]}, "
          f"lavaan {next(iter(lav.values()))['lavaan'] if lav else 'not run (no Rscript)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
