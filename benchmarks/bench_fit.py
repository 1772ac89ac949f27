"""Time one ML fit of a model against lavaan 0.6.14's ``sem()`` in the same run, and print the ratio.

Usage (from the repository root; needs Rscript with lavaan 0.6.14)::

    python benchmarks/bench_fit.py                    # med9: 9 factors, 31 items, n = 500; 5 repeats
    python benchmarks/bench_fit.py --repeat 9 med9 hs_cfa pol_dem bfi5_ml
    python benchmarks/bench_fit.py --no-r             # only our side

Our side: ``fit_sem(model, data)`` — parsing, estimation, standard errors, the 14 ``:=`` parameters
with delta-method SEs, standardized solutions, R² and every fit measure (after one warm-up fit that
pays for the imports). lavaan's side, in one Rscript process: ``sem(model, data)`` followed by
``parameterEstimates(fit, standardized = TRUE)`` and ``fitMeasures(fit)`` (lavaan computes the
baseline model and the standardized solution lazily there; we compute them inside the fit), after a
warm-up fit too. Wall-clock seconds, median and minimum over the repeats, both measured in this run
(these machines are noisy: compare the ratio, not the absolute times). The chi-squares of both sides
are printed so that the two fits can be seen to be the same.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\n")
dat <- read.csv(args[2])
reps <- as.integer(args[3])
one <- function() { fit <- sem(model, data = dat); pe <- parameterEstimates(fit, standardized = TRUE);
                    fitMeasures(fit) }
invisible(one())
times <- numeric(reps)
for (i in seq_len(reps)) times[i] <- system.time(fm <- one())[["elapsed"]]
cat(jsonlite::toJSON(list(times = times, chisq = fm[["chisq"]],
                          version = as.character(packageVersion("lavaan"))), auto_unbox = TRUE, digits = NA))
"""


def time_ours(case, repeat: int) -> dict:
    from sem_cocreate.engine.fit import fit_sem

    data = case.data
    fit_sem(case.model, data)                          # warm-up: imports
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fit_sem(case.model, data)
        times.append(time.perf_counter() - t0)
    return {"times": times, "chisq": float(res.fit["chisq"])}


def time_lavaan(case, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        model = Path(tmp) / "model.lav"
        model.write_text(case.model)
        data = Path(tmp) / "data.csv"
        case.data.to_csv(data, index=False)
        out = subprocess.run(["Rscript", str(script), str(model), str(data), str(repeat)],
                             check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    from refcases import reference_case

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", default=["med9"])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-r", action="store_true")
    args = p.parse_args(argv)
    print(f"{'case':<12} {'ours med (min) s':>18} {'lavaan med (min) s':>20} {'lavaan/ours':>12}  chisq ours / lavaan")
    for name in args.cases:
        case = reference_case(name)
        ours = time_ours(case, args.repeat)
        om, omin = statistics.median(ours["times"]), min(ours["times"])
        if args.no_r:
            print(f"{name:<12} {om:>9.3f} ({omin:.3f})")
            continue
        lav = time_lavaan(case, args.repeat)
        lm, lmin = statistics.median(lav["times"]), min(lav["times"])
        print(f"{name:<12} {om:>9.3f} ({omin:.3f}) {lm:>11.3f} ({lmin:.3f}) {lm / om:>12.2f}  "
              f"{ours['chisq']:.4f} / {lav['chisq']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
