"""Time a WLSMV fit against lavaan 0.6.14 in the same run.

Usage (from the repository root; needs Rscript with lavaan 0.6.14)::

    python benchmarks/bench_wlsmv.py                 # cases med9_wlsmv and hs_wlsmv, 3 repeats
    python benchmarks/bench_wlsmv.py --repeat 5 med9_wlsmv
    python benchmarks/bench_wlsmv.py --no-r          # only our side

For each reference case (tests/reference/<case>/: model.lav, meta.json naming the data) it times
``fit_sem(model, data, estimator="WLSMV")`` (after one warm-up fit that pays for imports) and, in a
single Rscript process, ``sem(model, data, ordered = <all observed variables>, estimator = "WLSMV")``
followed by ``fitMeasures()`` (lavaan computes its baseline model lazily there, we compute it inside
the fit), after one warm-up fit as well. Wall-clock seconds, median and minimum over the repeats;
the chi-squares of both sides are printed so that the two fits can be seen to be the same.
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
ov <- lavNames(lavaanify(model), "ov")
one <- function() { fit <- sem(model, data = dat, ordered = ov, estimator = "WLSMV"); fm <- fitMeasures(fit); fm }
invisible(one())
times <- numeric(reps)
for (i in seq_len(reps)) times[i] <- system.time(fm <- one())[["elapsed"]]
cat(jsonlite::toJSON(list(times = times, chisq = fm[["chisq"]], chisq_scaled = fm[["chisq.scaled"]],
                          version = as.character(packageVersion("lavaan"))), auto_unbox = TRUE, digits = NA))
"""


def time_ours(case, repeat: int) -> dict:
    from sem_cocreate.engine.fit import fit_sem

    data = case.data
    fit_sem(case.model, data, estimator="WLSMV")          # warm-up: imports
    times = []
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fit_sem(case.model, data, estimator="WLSMV")
        times.append(time.perf_counter() - t0)
    return {"times": times, "chisq": float(res.fit["chisq"]), "chisq_scaled": float(res.fit["chisq.scaled"])}


def time_lavaan(case, repeat: int) -> dict | None:
    data_path = (case.folder / case.meta["data"]).resolve()
    if case.meta.get("recode"):
        raise SystemExit(f"{case.name}: recoded data are not supported by this benchmark")
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
        script = fh.name
    try:
        out = subprocess.run(["Rscript", script, str(case.folder / "model.lav"), str(data_path), str(repeat)],
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"  lavaan run failed: {exc}", file=sys.stderr)
        return None
    finally:
        Path(script).unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    from refcases import reference_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=["med9_wlsmv", "hs_wlsmv"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true", help="time only sem_cocreate")
    args = ap.parse_args(argv)
    for name in args.cases:
        case = reference_case(name)
        ours = time_ours(case, args.repeat)
        line = (f"{name:12s} sem_cocreate: median {statistics.median(ours['times']):6.2f} s "
                f"(min {min(ours['times']):.2f})  chisq {ours['chisq']:.4f} scaled {ours['chisq_scaled']:.4f}")
        print(line, flush=True)
        if not args.no_r:
            lav = time_lavaan(case, args.repeat)
            if lav:
                t = lav["times"] if isinstance(lav["times"], list) else [lav["times"]]
                print(f"{'':12s} lavaan {lav['version']}: median {statistics.median(t):6.2f} s (min {min(t):.2f})  "
                      f"chisq {lav['chisq']:.4f} scaled {lav['chisq_scaled']:.4f}  "
                      f"-> speed-up x{statistics.median(t) / statistics.median(ours['times']):.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
