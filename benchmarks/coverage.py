"""Benchmark: simulation study of interval coverage, type I error and power (SIMULATED data).

Runs :func:`sem_cocreate.inference.coverage.simulate_coverage` in blocks of ``--block`` replications
(seeds do not depend on the blocks), and after every block rewrites ``--out``.csv (the full table) and
``--out``.md (a Markdown table of the percentile / BC / BCa / Monte Carlo coverage of every confirmatory
effect, the type I error of the null path and the power), so an interrupted run leaves what finished.

Run (the long run of benchmarks/README.md)::

    timeout 2400 python benchmarks/coverage.py --n 600 --reps 500 --bootstrap 499 --out benchmarks/coverage_n600

Options: ``--population FILE`` (any population YAML; its ``instrument:`` entry gives the instrument),
``--null KS~RC`` (paths planted at 0), ``--skew 0.8`` (skewed thresholds), ``--jobs 2`` (local processes)
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


def _note(args, reps_done: int) -> str:
    return (f" of {reps_done}, B = {args.bootstrap} resamples, {args.mc} Monte Carlo draws, seed {args.seed}, "
            f"null path(s) {', '.join(args.null)} planted at 0" + (f", thresholds shifted by {args.skew}" if args.skew else ""))


def pool(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Pool coverage tables of disjoint replication ranges exactly (shares, means and SDs from their sums)."""
    keys = ["n", "parameter", "kind", "null", "method", "data_source"]   # true_value: the first table's
    both = pd.concat(tables, ignore_index=True)
    k = both["n_ok"].astype(float)
    for col, se in (("coverage", None), ("reject", None), ("bias", "bias_mcse"), ("mean_width", "width_mcse")):
        both[f"_{col}_s1"] = both[col] * k
        if se:
            both[f"_{col}_s2"] = (both[se] ** 2 * k) * (k - 1) + k * both[col] ** 2
    g = both.groupby(keys, sort=False)
    out = g[["n_ok", "n_failed"]].sum().reset_index()
    out["true_value"] = g["true_value"].first().to_numpy()
    s = g[[c for c in both.columns if c.startswith("_")]].sum().reset_index(drop=True)
    kk = out["n_ok"].astype(float)
    for col, se in (("coverage", "coverage_mcse"), ("reject", "reject_mcse")):
        out[col] = s[f"_{col}_s1"] / kk
        out[se] = np.sqrt(out[col] * (1 - out[col]) / kk)
    for col, se in (("bias", "bias_mcse"), ("mean_width", "width_mcse")):
        out[col] = s[f"_{col}_s1"] / kk
        var = (s[f"_{col}_s2"] - kk * out[col] ** 2) / (kk - 1)
        out[se] = np.sqrt(var.clip(lower=0) / kk)
    from sem_cocreate.inference.coverage import COVERAGE_COLUMNS

    return out[COVERAGE_COLUMNS]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[600])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--bootstrap", type=int, default=499)
    ap.add_argument("--mc", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--null", nargs="+", default=["KS~RC"])
    ap.add_argument("--skew", type=float, default=0.0)
    ap.add_argument("--population", default=None)
    ap.add_argument("--population-n", type=int, default=100_000)
    ap.add_argument("--methods", nargs="+", default=["perc", "bc", "bca", "mc", "wald"])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--out", default="benchmarks/coverage_results")
    ap.add_argument("--first-rep", type=int, default=0, help="first replication (blocks run elsewhere pool exactly)")
    ap.add_argument("--from-csv", action="store_true", help="only re-render --out.md from --out.csv")
    ap.add_argument("--pool", nargs="+", default=None, metavar="CSV",
                    help="pool the tables of disjoint replication ranges into --out.csv / --out.md")
    args = ap.parse_args(argv)

    from sem_cocreate.inference.coverage import coverage_markdown

    if args.pool:
        full = pool([pd.read_csv(f) for f in args.pool])
        full.to_csv(f"{args.out}.csv", index=False)
        args.from_csv = True
    if args.from_csv:
        full = pd.read_csv(f"{args.out}.csv")
        done = int(full["n_ok"].max() + full["n_failed"].max())
        Path(f"{args.out}.md").write_text(coverage_markdown(full, note=_note(args, done)), encoding="utf-8")
        print(Path(f"{args.out}.md").read_text(encoding="utf-8"))
        return 0

    from sem_cocreate.inference.coverage import simulate_coverage, summarize
    from sem_cocreate.inference.power import _instrument_for_population
    from sem_cocreate.survey.simulate import default_population_path, load_population

    pop_path = Path(args.population) if args.population else default_population_path()
    pop = load_population(pop_path)
    inst, _ = _instrument_for_population(pop_path)
    raw, tasks, meta = [], [], None
    t0 = time.perf_counter()
    done = args.first_rep
    args.reps += args.first_rep
    while done < args.reps:
        k = min(args.block, args.reps - done)
        tab = simulate_coverage(inst, pop, n_values=args.n, reps=k, first_rep=done, n_boot=args.bootstrap,
                                n_mc=args.mc, seed=args.seed, null_paths=args.null, skew=args.skew, methods=args.methods,
                                population_n=args.population_n, jobs=args.jobs, scheduler=args.scheduler,
                                keep_raw=True)
        raw += tab.attrs["raw"]
        tasks += tab.attrs["tasks"]
        meta = tab.attrs["meta"]
        done += k
        full = summarize(raw, tasks, **meta)
        full.to_csv(f"{args.out}.csv", index=False)
        Path(f"{args.out}.md").write_text(coverage_markdown(full, note=_note(args, done)), encoding="utf-8")
        print(f"{done}/{args.reps} replications, {time.perf_counter() - t0:.0f} s", flush=True)
    print(Path(f"{args.out}.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
