"""Simulation study of the bootstrap and Monte Carlo intervals: coverage, width, bias, type I error, power.

Agreement with lavaan shows that the numbers are computed as lavaan computes them; this module checks
that the intervals behave as they claim. ``R`` replications of a population model (a population YAML
such as ``questionnaires/cocreation-population.yaml``, optionally with paths *planted at 0*) are drawn at
each sample size; each SIMULATED data set is recoded (reverse-keyed items), fitted with the model the
instrument's hypotheses define (ML, as the default study) and bootstrapped as the default study does
(:func:`~sem_cocreate.inference.bootstrap.bootstrap_draws`, then percentile, BC and BCa intervals from
:func:`~sem_cocreate.inference.bootstrap.bootstrap_estimates`, the Monte Carlo interval of every ``:=``
effect from :func:`~sem_cocreate.inference.bootstrap.monte_carlo_estimates`, and the Wald / delta-method
interval of the fit itself).

True values
-----------
Intervals are about the unstandardized parameters, whose scale depends on the marker items and on the
Likert cut points. The true value is therefore the *pseudo-true* value ML converges to on Likert data
from this population: the estimate from one very large SIMULATED sample (``population_n``, default
100,000) fitted with the same model (as :func:`~sem_cocreate.inference.power.simulate_power` does for its
Wald coverage). Its own Monte Carlo error is about ``se(n) * sqrt(n / population_n)`` — 8% of a
standard error at n = 600 — and shifts the coverage of a 95% interval by well under 0.5 points. A path
planted at 0 (and every indirect effect through it) has true value exactly 0 on every scale; for those
the exact 0 is used.

Seeds
-----
Replication ``r`` at sample size ``n`` uses the ``r``-th child of ``SeedSequence(seed, spawn_key=(n,))``
(:func:`~sem_cocreate.inference.power.child_seeds`); inside it, the data come from its child ``(0,)``,
the bootstrap seed from ``(1,)`` and the Monte Carlo seed from ``(2,)``. Nothing depends on the order in
which replications run, so serial, local processes (``jobs``) and a Dask cluster (``scheduler``) give
identical numbers.

Monte Carlo standard errors
---------------------------
Coverage, rejection rate and power are shares ``p`` of ``R_ok`` converged replications: MCSE
``sqrt(p (1 - p) / R_ok)``. Bias is the mean of ``est - true`` with MCSE ``sd / sqrt(R_ok)``; mean width
has MCSE ``sd(width) / sqrt(R_ok)``. With ``B`` bootstrap resamples each interval end has its own
resampling noise; it widens the spread of the end points but leaves the coverage of percentile
intervals nearly unbiased (Booth & Sarkar 1998: B = 500-1000 gives coverage within a few tenths of a
point of the ``B = inf`` interval); the benchmark documents the ``B`` used.

The R counterpart is a loop of ``lavaan::sem(..., se = "bootstrap")`` + ``parameterEstimates(boot.ci.type
= ...)`` (simsem's ``sim()`` does the simulation part); there is no single R function to compare with.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import OptionError, SemCocreateError

SIMULATED_COVERAGE_LABEL = "SIMULATED (sem_cocreate coverage study)"
METHODS = ("perc", "bc", "bca", "mc", "wald")
DEFAULT_NULL_PATHS = ("KS~RC",)
_POPULATION_FITS: dict = {}      # the last large-sample fit (blocks of one study reuse it)
COVERAGE_COLUMNS = ["n", "parameter", "kind", "null", "true_value", "method", "coverage", "coverage_mcse",
                    "mean_width", "width_mcse", "reject", "reject_mcse", "bias", "bias_mcse", "n_ok",
                    "n_failed", "data_source"]


def plant_null(pop, null_paths):
    """A copy of ``pop`` with every path in ``null_paths`` (``"TO~FROM"``) set to 0 in every role."""
    paths = {role: dict(d) for role, d in pop.paths.items()}
    for key in null_paths:
        try:
            to, frm = [s.strip() for s in str(key).split("~")]
        except ValueError:
            raise OptionError(f"null path {key!r} must be written TO~FROM, e.g. KS~RC") from None
        for d in paths.values():
            d[(to, frm)] = 0.0
    return dataclasses.replace(pop, paths=paths)


def _child(seq: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + (k,))


def _int_seed(seq: np.random.SeedSequence) -> int:
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class _CoverageReplication:
    """One replication: simulate, fit, bootstrap, intervals. Picklable for worker processes and Dask."""

    base: object                     # power._Replication (simulate + fit + extract)
    rows: tuple[int, ...]            # row positions of the parameters in result.estimates
    defined: tuple[bool, ...]
    n_boot: int
    n_mc: int
    methods: tuple[str, ...]
    skew: float = 0.0

    def draw(self, n, rng):
        from ..survey.simulate import simulate_responses
        from .power import _recode_reverse

        b = self.base
        df = simulate_responses(b.instrument, b.pop, n=n, seed=rng, roles=b.roles, skew=self.skew)
        return _recode_reverse(df, b.instrument)

    def __call__(self, task):
        import warnings

        from .._blas import one_blas_thread

        from ..exceptions import FitWarning
        from .bootstrap import bootstrap_draws, bootstrap_estimates, monte_carlo_estimates

        n, seq = task
        rows = list(self.rows)
        with one_blas_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            df = self.draw(n, np.random.default_rng(_child(seq, 0)))
            try:
                res = self.base.fit(df, start=self.base.start)
                if not res.converged:
                    return None
                est = res.estimates["est"].to_numpy(float)[rows]
                out = {"est": est}
                wald = res.estimates
                out["wald"] = (wald["ci.lower"].to_numpy(float)[rows], wald["ci.upper"].to_numpy(float)[rows])
                boot = [m for m in self.methods if m in ("perc", "bc", "bca")]
                if boot:
                    draws = bootstrap_draws(res, n_boot=self.n_boot, seed=_int_seed(_child(seq, 1)), jobs=1,
                                            progress=False)
                    for m in boot:
                        tab = bootstrap_estimates(res, draws, ci=m)
                        out[m] = (tab["ci.lower"].to_numpy(float)[rows], tab["ci.upper"].to_numpy(float)[rows])
                    out["n_boot_ok"] = draws.n_ok
                if "mc" in self.methods:
                    tab = monte_carlo_estimates(res, n_draws=self.n_mc, seed=_int_seed(_child(seq, 2)))
                    lo = np.where(self.defined, tab["ci.lower"].to_numpy(float)[rows], np.nan)
                    hi = np.where(self.defined, tab["ci.upper"].to_numpy(float)[rows], np.nan)
                    out["mc"] = (lo, hi)
            except (SemCocreateError, np.linalg.LinAlgError, FloatingPointError, ValueError):
                return None
        if not np.all(np.isfinite(est)):
            return None
        return out


def _confirmatory(params: pd.DataFrame, effects: pd.DataFrame, outcome) -> pd.DataFrame:
    """Structural paths and the confirmatory family of defined effects (the study's pre-specified family
    when ``effects`` carries one: specific effects, contrasts and total indirect effects), else the
    specific indirect effects on the focal outcome."""
    if outcome == "auto" and "family" in effects.columns:
        conf = set(effects.loc[effects["family"] == "confirmatory", "name"])
        keep = (params["kind"] == "path") | params["parameter"].isin(conf)
        return params[keep].reset_index(drop=True)
    to = dict(zip(effects["name"], effects["to"])) if len(effects) else {}
    keep = (params["kind"] == "path") | ((params["kind"] == "specific")
                                         & params["parameter"].map(lambda p: outcome is None or to.get(p) == outcome))
    return params[keep].reset_index(drop=True)


def _is_null(expr: str, exprs: dict, null_labels: set, depth: int = 0) -> bool:
    """True if the effect ``expr`` (a label, a product of labels, or a sum / difference of such terms,
    which may name other defined effects) is exactly 0 when the paths ``null_labels`` are 0."""
    if depth > 20:
        return False
    terms = [t for t in re.split(r"[+-]", str(expr).replace("(", " ").replace(")", " ")) if t.strip()]

    def factor_null(name: str) -> bool:
        name = name.strip()
        if name in exprs and name not in null_labels:
            return _is_null(exprs[name], exprs, null_labels, depth + 1)
        return name in null_labels

    return bool(terms) and all(any(factor_null(f) for f in t.split("*")) for t in terms)


def _share(x: np.ndarray):
    x = x[np.isfinite(x)] if x.dtype.kind == "f" else x
    k = x.size
    if not k:
        return np.nan, np.nan
    p = float(np.mean(x))
    return p, math.sqrt(p * (1 - p) / k)


def _mean(x: np.ndarray):
    x = x[np.isfinite(x)]
    if not x.size:
        return np.nan, np.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else np.nan


def simulate_coverage(instrument, pop=None, *, n_values, reps: int, n_boot: int = 500, n_mc: int = 5000,
                      seed, null_paths=DEFAULT_NULL_PATHS, methods=METHODS, skew: float = 0.0,
                      roles: bool = False, outcome: str | None = "auto", population_n: int = 100_000,
                      jobs: int | None = 1, scheduler=None, progress: bool = True,
                      alpha: float = 0.05, first_rep: int = 0, keep_raw: bool = False) -> pd.DataFrame:
    """Coverage, width, bias, type I error and power of the 95% intervals over SIMULATED replications.

    Parameters
    ----------
    instrument : Instrument
        Its hypotheses define the analysis model (:func:`~sem_cocreate.survey.modelbuild.build_model_syntax`).
    pop : Population, optional
        Population model (default :func:`~sem_cocreate.survey.simulate.load_population`); any population
        YAML read with ``load_population`` works.
    n_values : sequence of int
        Sample sizes.
    reps : int
        Replications per sample size (``R``).
    n_boot : int, default 500
        Bootstrap resamples per replication.
    n_mc : int, default 5000
        Monte Carlo draws per replication (``:=`` effects).
    seed : int
        Root seed (see the module docstring).
    null_paths : sequence of str
        Paths ``"TO~FROM"`` planted at 0 in the population (a true null; default ``KS~RC``, a small hypothesised path of instrument v2).
    methods : sequence of str
        Subset of ``perc, bc, bca, mc, wald``.
    skew : float
        Threshold shift of the simulator (non-normal, skewed items).
    roles, outcome, population_n
        As :func:`~sem_cocreate.inference.power.simulate_power`.
    jobs, scheduler, progress
        :func:`~sem_cocreate.inference.parallel.parallel_map` over replications (each bootstraps serially).
        The progress bar is drawn only when stderr is a terminal.
    alpha : float
        ``1 - level`` is fixed at 95% for the intervals; a rejection is an interval excluding 0.
    first_rep : int, default 0
        Run replications ``first_rep .. first_rep + reps - 1`` (their seeds do not depend on how the
        replications are split into blocks, so blocks can be run one after another and pooled).
    keep_raw : bool, default False
        Keep the per-replication results in ``attrs["raw"]`` (with ``attrs["tasks"]`` and
        ``attrs["meta"]``) so that blocks can be pooled with :func:`summarize`.

    Returns
    -------
    pandas.DataFrame
        One row per ``(n, parameter, method)`` of the confirmatory parameters (structural paths and the
        specific indirect effects on the focal outcome): ``coverage`` and ``coverage_mcse``,
        ``mean_width`` and ``width_mcse``, ``reject`` (interval excludes 0: power, or the type I error
        when ``null`` is true) and ``reject_mcse``, ``bias`` (mean ``est - true_value``, unstandardized)
        and ``bias_mcse``, ``n_ok``, ``n_failed``. ``attrs`` hold the settings and timings.
    """
    import sys

    from ..engine.spec import build_spec
    from ..exceptions import FitError
    from ..survey.modelbuild import build_model_syntax, indirect_paths
    from ..survey.simulate import load_population
    from .parallel import parallel_map
    from .power import _check_inputs, _parameters, _Replication, _root_seed, child_seeds

    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise OptionError(f"unknown interval method {bad[0]!r}; use some of {', '.join(METHODS)}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 10:
        raise OptionError(f"--bootstrap must be at least 10 resamples, got {n_boot!r}")
    if alpha != 0.05:
        raise OptionError("the coverage study uses 95% intervals; alpha must be 0.05")
    pop = plant_null(pop or load_population(), null_paths)
    if outcome == "auto" and not instrument.mediators:
        named = {c for edge in instrument.hypothesis_edges() for c in edge}
        outcome = "VCC" if "VCC" in named else None
    # outcome "auto" with mediators: the model and the effect family the default study fits
    syntax = build_model_syntax(instrument, outcome=outcome)
    effects = indirect_paths(instrument, outcome=outcome)
    params = _parameters(instrument, effects)
    conf = _confirmatory(params, effects, outcome)
    spec = build_spec(syntax, data_columns=pd.DataFrame(columns=[*instrument.item_ids(), *instrument.controls]).columns)
    ns = _check_inputs(n_values, reps, alpha, len(spec.ov_names))
    root = _root_seed(seed)
    names = tuple(conf["parameter"])
    null_labels = {"b_" + "_".join(s.strip() for s in str(k).split("~")) for k in null_paths}
    paths = [p for p, k in zip(conf["parameter"], conf["kind"]) if k == "path"]
    missing = sorted(null_labels - set(paths))
    if missing:
        shown = ", ".join("~".join(p[2:].split("_", 1)) for p in paths[:12]) + (" ..." if len(paths) > 12 else "")
        raise OptionError(f"null path {'~'.join(missing[0][2:].split('_', 1))} is not a structural path of the "
                          f"analysis model; plant one of its paths at 0 (TO~FROM: {shown})")
    # a product is null if one of its paths is planted at 0; a sum or contrast only if every term is
    exprs = dict(zip(effects["name"], effects["expression"])) if len(effects) else {}
    is_null = [bool(_is_null(r.parameter if r.kind == "path" else r.expression, exprs, null_labels))
               for r in conf.itertuples(index=False)]

    base = _Replication(instrument, pop, spec, names, roles)
    key = (repr(pop), syntax, int(population_n), float(skew), bool(roles), str(root.entropy))
    if key not in _POPULATION_FITS:
        big = _CoverageReplication(base, (), (), n_boot, n_mc, (), skew).draw(
            int(population_n), np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(0,))))
        big_fit = base.fit(big)
        if not big_fit.converged:
            raise FitError(f"the analysis model did not converge on {population_n} simulated respondents; "
                           "check the population model")
        _POPULATION_FITS.clear()
        _POPULATION_FITS[key] = (big_fit.estimates.reset_index(drop=True), np.asarray(big_fit.theta, float))
    tab, theta = _POPULATION_FITS[key]
    labels = tab["label"].astype(str).tolist()
    rows = tuple(labels.index(p) for p in names)
    true = np.where(is_null, 0.0, tab["est"].to_numpy(float)[list(rows)])
    defined = tuple(tab["op"].iloc[list(rows)].eq(":=").tolist())
    base = dataclasses.replace(base, start=theta)
    worker = _CoverageReplication(base, rows, defined, int(n_boot), int(n_mc), tuple(methods), float(skew))

    first_rep = int(first_rep)
    tasks = [(n, s) for n in ns for s in child_seeds(root, n, first_rep + reps)[first_rep:]]
    show = bool(progress) and sys.stderr.isatty()
    t0, c0 = time.perf_counter(), time.process_time()
    results = parallel_map(worker, tasks, jobs=jobs, scheduler=scheduler, progress=show,
                           desc="coverage replications")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    meta = {"names": names, "kinds": tuple(conf["kind"]), "is_null": is_null, "true": true,
            "methods": tuple(methods)}
    out = summarize(results, tasks, **meta)
    if keep_raw:
        out.attrs.update({"raw": results, "tasks": tasks, "meta": meta})
    out.attrs.update({
        "seed_entropy": int(root.entropy) if isinstance(root.entropy, (int, np.integer)) else str(root.entropy),
        "reps": int(reps), "n_boot": int(n_boot), "n_mc": int(n_mc), "null_paths": list(null_paths),
        "skew": float(skew), "population_n": int(population_n), "seconds": round(elapsed, 3),
        "cpu_seconds_this_process": round(cpu, 3), "outcome": outcome,
    })
    return out


def summarize(results, tasks, *, names, kinds, is_null, true, methods) -> pd.DataFrame:
    """The coverage table from the per-replication results of :class:`_CoverageReplication`."""
    rows = []
    for n in sorted({t[0] for t in tasks}):
        got = [r for (nn, _s), r in zip(tasks, results) if nn == n]
        ok = [r for r in got if r is not None]
        n_ok, n_fail = len(ok), len(got) - len(ok)
        est = np.stack([r["est"] for r in ok]) if ok else np.full((0, len(names)), np.nan)
        err = est - true
        for m in methods:
            if ok and m in ok[0]:
                lo = np.stack([r[m][0] for r in ok])
                hi = np.stack([r[m][1] for r in ok])
            else:
                lo = hi = np.full((n_ok, len(names)), np.nan)
            for j, name in enumerate(names):
                l, h = lo[:, j], hi[:, j]
                fin = np.isfinite(l) & np.isfinite(h)
                if not fin.any():
                    continue
                cov, cov_se = _share(((l <= true[j]) & (true[j] <= h))[fin])
                rej, rej_se = _share(((l > 0) | (h < 0))[fin])
                wid, wid_se = _mean((h - l)[fin])
                b, b_se = _mean(err[:, j])
                rows.append({"n": n, "parameter": name, "kind": kinds[j], "null": bool(is_null[j]),
                             "true_value": float(true[j]), "method": m, "coverage": cov,
                             "coverage_mcse": cov_se, "mean_width": wid, "width_mcse": wid_se,
                             "reject": rej, "reject_mcse": rej_se, "bias": b, "bias_mcse": b_se,
                             "n_ok": int(fin.sum()), "n_failed": n_fail,
                             "data_source": SIMULATED_COVERAGE_LABEL})
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


# ----------------------------------------------------------------------------- tables and the CLI

def binomial_band(p: float, k: int, z: float = 1.96) -> tuple[float, float]:
    """``p -/+ z sqrt(p (1 - p) / k)``: where a share with true value ``p`` falls in 95% of studies of ``k``."""
    h = z * math.sqrt(p * (1 - p) / k)
    return p - h, p + h


def coverage_markdown(tab: pd.DataFrame, *, note: str = "") -> str:
    """A Markdown table per sample size: coverage (MCSE) of every method, width, bias, rejection rate."""
    lines = []
    for n, sub in tab.groupby("n"):
        k = int(sub["n_ok"].max())
        lo, hi = binomial_band(0.95, k)
        tlo, thi = binomial_band(0.05, k)
        lines.append(f"**n = {n}**, {k} converged replications{note}. Binomial band of the coverage of a "
                     f"95% interval at this R: [{100 * max(lo, 0):.1f}, {100 * min(hi, 1):.1f}]%; of a 5% type I error: "
                     f"[{100 * max(tlo, 0):.1f}, {100 * thi:.1f}]%.\n")
        wide = sub.pivot_table(index="parameter", columns="method", values="coverage", sort=False)
        mcse = sub.pivot_table(index="parameter", columns="method", values="coverage_mcse", sort=False)
        first = sub.drop_duplicates("parameter").set_index("parameter")
        perc = sub[sub["method"] == "perc"].set_index("parameter")
        meths = [m for m in METHODS if m in wide.columns]
        head = (["parameter", "true (unstd)", "null"] + [f"cov {m} % (MCSE)" for m in meths]
                + ["width perc", "bias (MCSE)", "reject perc % (MCSE)"])
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for p in wide.index:
            cells = [p, f"{first.loc[p, 'true_value']:.3f}", "yes" if first.loc[p, "null"] else ""]
            for m in meths:
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


def run_simulate_study(args) -> int:
    """The ``simulate-study`` command: write ``coverage.csv``, ``coverage.md`` and ``manifest.json`` into ``--out``."""
    from datetime import datetime, timezone
    from pathlib import Path

    from ..exceptions import InputFileError
    from ..files import build_manifest, prepare_out_dir, write_csv, write_json
    from ..survey.simulate import default_population_path, load_population
    from .power import DEFAULT_SEED, _instrument_for_population, _parse_n_list

    started = datetime.now(timezone.utc)
    ns = _parse_n_list(args.n)
    pop_path = Path(args.model) if args.model else default_population_path()
    if not pop_path.is_file():
        raise InputFileError(f"--model {pop_path}: population model file not found; give a population YAML "
                             "such as questionnaires/cocreation-population.yaml")
    pop = load_population(pop_path)
    instrument, inst_path = _instrument_for_population(pop_path)
    seed = DEFAULT_SEED if args.seed is None else int(args.seed)
    methods = tuple(args.methods)
    out = prepare_out_dir(args.out or "coverage_results", overwrite=args.overwrite, inputs=(pop_path, inst_path))
    tab = simulate_coverage(instrument, pop, n_values=ns, reps=int(args.reps), n_boot=int(args.bootstrap),
                            n_mc=int(args.mc), seed=seed, null_paths=tuple(args.null), methods=methods,
                            skew=float(args.skew), jobs=args.jobs, scheduler=args.scheduler, progress=True)
    note = (f" of {args.reps}, B = {args.bootstrap}, {args.mc} Monte Carlo draws, seed {seed}, "
            f"null path(s) {', '.join(args.null)} planted at 0" + (f", skew {args.skew}" if args.skew else ""))
    md = coverage_markdown(tab, note=note)
    write_csv(out / "coverage.csv", tab, index=False)
    (out / "coverage.md").write_text(md, encoding="utf-8")
    man = build_manifest(argv=getattr(args, "_argv", None), seed=seed,
                         inputs={"population": pop_path, "instrument": inst_path}, started=started,
                         options={"n": ns, "reps": int(args.reps), "bootstrap": int(args.bootstrap),
                                  "mc": int(args.mc), "null": list(args.null), "methods": list(methods),
                                  "skew": float(args.skew), "jobs": args.jobs, "scheduler": args.scheduler},
                         files=["coverage.csv", "coverage.md", "manifest.json"],
                         extra={"data_source": SIMULATED_COVERAGE_LABEL,
                                "replication_seconds": tab.attrs["seconds"]})
    write_json(out / "manifest.json", man)
    print(f"SIMULATED coverage study ({args.reps} replications per n, seed {seed})")
    print(md)
    print(f"wrote {out / 'coverage.csv'}, {out / 'coverage.md'} and {out / 'manifest.json'}")
    return 0
