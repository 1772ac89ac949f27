"""Benchmark: simulation study of interval coverage, type I error and power (SIMULATED data).

Runs :func:`sem_cocreate.inference.coverage.simulate_coverage` in blocks of ``--block`` replications
(seeds do not depend on the blocks), and after every block rewrites ``--out``.csv (the full table) and
``--out``.md (a Markdown table of the percentile / BC / BCa / Monte Carlo coverage of every confirmatory
effect, the type I error of the null path and the power), so an interrupted run leaves what finished.

Run (the long run of benchmarks/README.md)::

    timeout 2400 python benchmarks/coverage.py --n 600 --reps 500 --bootstrap 499 --out benchmarks/coverage_n600

Options: ``--population FILE`` (any population YAML; its ``instrument:`` entry gives the instrument),
``--null KS~TR`` (paths planted at 0), ``--skew 0.8`` (skewed thresholds), ``--jobs 2`` (local processes)
or ``--scheduler tcp://host:8786`` (a Dask scheduler; same numbers for the same seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def binomial_band(p: float, k: int, z: float = 1.96) -> tuple[float, float]:
    """``p +/- z sqrt(p (1 - p) / k)``: where a share with true value ``p`` falls in 95% of studies."""
    h = z * np.sqrt(p * (1 - p) / k)
    return p - h, p + h


def markdown(tab: pd.DataFrame, *, reps_done: int, args) -> str:
    from sem_cocreate.inference.coverage import METHODS

    lines = []
    for n, sub in tab.groupby("n"):
        k = int(sub["n_ok"].max())
        lo, hi = binomial_band(0.95, k)
        tlo, thi = binomial_band(0.05, k)
        lines.append(f"**n = {n}**, {k} converged replications of {reps_done}, B = {args.bootstrap} resamples, "
                     f"{args.mc} Monte Carlo draws, seed {args.seed}, null path(s) {', '.join(args.null)} planted at 0"
                     + (f", thresholds shifted by {args.skew}" if args.skew else "") + ". "
                     f"Coverage binomial band for 95% at this R: [{100 * lo:.1f}, {100 * hi:.1f}]%; "
                     f"type I error band for 5%: [{100 * tlo:.1f}, {100 * thi:.1f}]%.\n")
        wide = sub.pivot_table(index="parameter", columns="method", values="coverage", sort=False)
        mcse = sub.pivot_table(index="parameter", columns="method", values="coverage_mcse", sort=False)
        first = sub.drop_duplicates("parameter").set_index("parameter")
        perc = sub[sub["method"] == "perc"].set_index("parameter")
        head = ["parameter", "true (unstd)", "null"] + [f"cov {m} %" for m in METHODS if m in wide.columns] + \
               ["width perc", "bias (MCSE)", "reject perc % (MCSE)"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for p in wide.index:
            cells = [p, f"{first.loc[p, 'true_value']:.3f}", "yes" if first.loc[p, "null"] else ""]
            for m in METHODS:
                if m in wide.columns:
                    v = wide.loc[p, m]
                    cells.append("" if pd.isna(v) else f"{100 * v:.1f} ({100 * mcse.loc[p, m]:.1f})")
            if p in perc.index:
                r = perc.loc[p]
                cells += [f"{r['mean_width']:.3f}", f"{r['bias']:+.4f} ({r['bias_mcse']:.4f})",
                          f"{100 * r['reject']:.1f} ({100 * r['reject_mcse']:.1f})"]
            else:
                cells += ["", "", ""]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[600])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--bootstrap", type=int, default=499)
    ap.add_argument("--mc", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--null", nargs="+", default=["KS~TR"])
    ap.add_argument("--skew", type=float, default=0.0)
    ap.add_argument("--population", default=None)
    ap.add_argument("--population-n", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--out", default="benchmarks/coverage_results")
    args = ap.parse_args(argv)

    from sem_cocreate.inference.coverage import simulate_coverage, summarize
    from sem_cocreate.inference.power import _instrument_for_population
    from sem_cocreate.survey.simulate import default_population_path, load_population

    pop_path = Path(args.population) if args.population else default_population_path()
    pop = load_population(pop_path)
    inst, _ = _instrument_for_population(pop_path)
    raw, tasks, meta = [], [], None
    t0 = time.perf_counter()
    done = 0
    while done < args.reps:
        k = min(args.block, args.reps - done)
        tab = simulate_coverage(inst, pop, n_values=args.n, reps=k, first_rep=done, n_boot=args.bootstrap,
                                n_mc=args.mc, seed=args.seed, null_paths=args.null, skew=args.skew,
                                population_n=args.population_n, jobs=args.jobs, scheduler=args.scheduler,
                                keep_raw=True)
        raw += tab.attrs["raw"]
        tasks += tab.attrs["tasks"]
        meta = tab.attrs["meta"]
        done += k
        full = summarize(raw, tasks, **meta)
        full.to_csv(f"{args.out}.csv", index=False)
        Path(f"{args.out}.md").write_text(markdown(full, reps_done=done, args=args), encoding="utf-8")
        print(f"{done}/{args.reps} replications, {time.perf_counter() - t0:.0f} s", flush=True)
    print(Path(f"{args.out}.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
