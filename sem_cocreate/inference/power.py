"""Monte Carlo power and sample-size planning for the structural model (SIMULATED data).

For every sample size ``n`` the population model (``questionnaires/cocreation-population.yaml``:
standardized loadings and paths, Likert thresholds) generates ``reps`` SIMULATED data sets with
:func:`sem_cocreate.simulate.simulate_responses`; each is recoded as the data stage would (reverse-keyed
items ``min + max - x``) and fitted with the model the instrument's hypotheses define
(:func:`sem_cocreate.modelbuild.build_model_syntax`, ML, listwise) by :func:`sem_cocreate.fit.fit_sem`.
The table reports, per ``(n, parameter)``, the mean standardized estimate, its bias and RMSE against the
population value, the power (share of converged replications with ``p < alpha``) and the coverage of
the 95% Wald interval.

Which numbers are compared with what
------------------------------------
- ``population`` is the standardized (``std.all``) population value: the path from the YAML, or for a
  defined effect the same expression evaluated on the population paths (a specific indirect effect is
  the product of its paths, a total the sum of its specific effects). Every latent variable has
  variance 1 in the population model, so these are exactly the values ``std.all`` estimates.
  ``mean_est``, ``bias`` and ``rmse`` are on that scale.
- ``power`` uses each row's own p-value: the Wald z test of the unstandardized estimate for a path,
  and for an indirect (or any defined) effect the **delta-method** p-value of its ``:=`` row (first-order
  Sobel-type test, as lavaan's ``parameterEstimates()`` gives it). Delta-method tests of products of
  paths are conservative at small n; bootstrap power would be somewhat higher and is not simulated here.
- ``coverage`` is about the unstandardized 95% Wald interval (``ci.lower``, ``ci.upper``), whose scale
  depends on the marker items and on how the data are cut into categories. Its true value
  (``population_unstd``) is therefore taken from one very large SIMULATED sample (``population_n``,
  default 100,000) fitted with the same model: the pseudo-true value ML converges to on Likert data
  from this population. Its own Monte Carlo error (about ``se(n=200) * sqrt(200 / 100000)``, i.e.
  4-5% of the standard error at n = 200) is small next to the width of the intervals it is checked against.

Replications
------------
Each replication draws from its own child seed: ``SeedSequence(seed)`` → one child per sample size
(``spawn_key=(n,)``, so the n = 300 results are the same whether or not n = 200 is also run) → ``reps``
children with ``spawn()``. Results therefore do not depend on ``jobs``, the scheduler or the order in
which replications finish. Every replication starts the optimizer at the large-sample solution (as
Mplus' Monte Carlo facility starts at the population values); one that does not converge from there is
refitted from the engine's own starting values before it counts as failed. Non-converged fits are
excluded from every summary and counted in ``n_failed``.

Speed (measured on this 2-core machine, BLAS limited to one thread)
-----------------------------------------------------------------
One replication of the full co-creation model (11 constructs, 37 items, 14 paths, 96 defined effects)
at n = 300 takes about 0.15 s of CPU (``benchmarks/bench_power.py``: 29.3 s for 200 replications, against
80.3 s for a loop of lavaan 0.6.14 ``sem()`` + ``parameterEstimates()`` on the same population model):
simulation 0.02 s, Fisher scoring from the large-sample solution (``_Replication._quick_fit``), and the
engine's tables (delta-method standard errors of the 96 defined effects, the standardized solution, fit
measures). ``--reps 500`` at three sample sizes (1,500 fits) is therefore about 4 CPU minutes: roughly
4 minutes on one idle core, 2 with ``--jobs 2``, plus 10-20 s for the n = 100,000 population fit;
``--scheduler`` spreads the replications over a Dask cluster. On a busy machine wall-clock time grows
with the load (the 100-replication run at n = 200, 300, 500 took 6 minutes here with load 8-9 on 2 cores).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import InputFileError, OptionError, SemCocreateError

SIMULATED_POWER_LABEL = "SIMULATED (sem_cocreate power)"
POWER_COLUMNS = ["n", "parameter", "kind", "population", "population_unstd", "mean_est", "bias", "rmse",
                 "power", "power_mcse", "coverage", "n_converged", "n_failed", "data_source"]
SUMMARY_COLUMNS = ["parameter", "kind", "population", "target", "min_n", "power_at_min_n", "max_n_tried",
                   "power_at_max_n", "data_source"]
DEFAULT_OUT = "power_results"
DEFAULT_SEED = 20260101
QUICK_GTOL = 1e-6        # largest gradient element at which a replication's Fisher scoring stops
CI_LEVEL = 0.95          # fit_sem's Wald intervals (lavaan's default level)
_FIELDS = ("est", "pvalue", "ci.lower", "ci.upper", "std.all")


# ----------------------------------------------------------------------------- parameters

def _parameters(instrument, syntax_effects) -> pd.DataFrame:
    """Structural paths (``b_TO_FROM``) and defined effects in model order: ``parameter, kind, expression``."""
    from ..survey.modelbuild import path_label

    rows = [{"parameter": path_label(h.from_, h.to), "kind": "path", "expression": ""}
            for h in instrument.hypotheses]
    rows = list({r["parameter"]: r for r in rows}.values())
    for e in syntax_effects.itertuples(index=False):
        rows.append({"parameter": e.name, "kind": e.kind, "expression": e.expression})
    return pd.DataFrame(rows, columns=["parameter", "kind", "expression"])


def population_values(instrument, pop, params: pd.DataFrame, *, role: str = "solver") -> pd.Series:
    """Standardized population value of every path and defined effect (indexed by ``parameter``).

    A path is read from the population model (``0`` if the model has no such population path: the
    analysis model hypothesises a path that is absent in the population). A defined effect evaluates its
    ``:=`` expression on these values, in model order (so totals see their specific effects).
    """
    from ..engine.defined import compile_expression
    from ..survey.simulate import standardized_effects

    paths = standardized_effects(instrument, pop, role)
    env: dict[str, float] = {}
    out: dict[str, float] = {}
    for r in params.itertuples(index=False):
        if r.kind == "path":
            val = float(paths.get(r.parameter, 0.0))
        else:
            val = float(np.real(compile_expression(r.expression, name=r.parameter)(env)))
        env[r.parameter] = val
        out[r.parameter] = val
    return pd.Series(out, name="population")


# ----------------------------------------------------------------------------- one replication

def _recode_reverse(df: pd.DataFrame, instrument) -> pd.DataFrame:
    lo, hi = instrument.scale_min, instrument.scale_max
    for it in instrument.reverse_items():
        if it in df.columns:
            df[it] = lo + hi - df[it]
    return df


@dataclass(frozen=True)
class _Replication:
    """Simulate one SIMULATED data set, fit it, return the rows of interest (picklable for workers)."""

    instrument: object
    pop: object
    spec: object
    params: tuple[str, ...]
    roles: bool
    start: np.ndarray | None = None

    def draw(self, n: int, seed) -> pd.DataFrame:
        from ..survey.simulate import simulate_responses

        df = simulate_responses(self.instrument, self.pop, n=n, seed=seed, roles=self.roles)
        return _recode_reverse(df, self.instrument)

    def fit(self, df: pd.DataFrame, *, start=None):
        """``fit_sem`` (engine defaults); with ``start``, first a quick fit from there (see ``_quick_fit``)."""
        import warnings

        from ..exceptions import FitWarning
        from ..engine.fit import fit_sem

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            if start is not None and not len(self.spec.ov_x):
                res = self._quick_fit(df, start)
                if res is not None and res.converged:
                    return res
            return fit_sem(self.spec, df)

    def _quick_fit(self, df: pd.DataFrame, start):
        """Fisher scoring from ``start`` to a gradient of ``QUICK_GTOL``, then the engine's own tables.

        ``fit_sem`` iterates to a largest gradient element of 1e-9; for the 37-item model at n = 300
        that is below the attainable precision in about one replication in four, which then runs to the
        300-iteration limit (about 5 s instead of 0.2 s) and is still accepted as converged because its
        gradient is below 1e-6. Stopping at 1e-6 gives the same estimates to about 1e-6 (checked in
        tests/test_power.py) and the same acceptance rule. Models with fixed exogenous observed
        variables go through ``fit_sem``.
        """
        from ..engine.estimate import fisher_scoring, sample_stats
        from ..engine.result import assemble_result, prepare_data
        from ..engine.model import RAMModel

        frames, _dropped = prepare_data(self.spec, df, group=None, missing="listwise")
        stats = sample_stats(frames, self.spec.ov_names)
        if np.any(np.diag(stats.cov[0]) <= 0):
            return None
        model = RAMModel(self.spec)
        opt = fisher_scoring(model, stats, np.asarray(start, float), gtol=QUICK_GTOL)
        if not opt.converged:
            return None
        return assemble_result(self.spec, model, stats, opt.theta, estimator="ML", missing="listwise",
                               frames=frames, converged=True, notes=[], fmin=opt.fmin)

    def extract(self, result) -> np.ndarray:
        est = result.estimates
        est = est[est["label"].astype(str).isin(self.params)].drop_duplicates("label").set_index("label")
        return est.reindex(list(self.params))[list(_FIELDS)].to_numpy(dtype=float)

    def __call__(self, task):
        n, seed = task
        from .._blas import one_blas_thread

        with one_blas_thread():
            df = self.draw(n, np.random.default_rng(seed))
            try:
                res = self.fit(df, start=self.start)
            except (SemCocreateError, np.linalg.LinAlgError, FloatingPointError, ValueError):
                return None
            if not res.converged:
                return None
            vals = self.extract(res)
        return vals if np.all(np.isfinite(vals)) else None


# ----------------------------------------------------------------------------- the simulation

def _check_inputs(n_values, reps, alpha, n_min):
    try:
        ns = [int(v) for v in n_values]
    except (TypeError, ValueError):
        raise OptionError(f"n_values must be whole numbers, got {n_values!r}") from None
    if not ns:
        raise OptionError("n_values is empty; give at least one sample size, e.g. 200,300,500")
    small = [v for v in ns if v <= n_min]
    if small:
        raise OptionError(f"sample size {small[0]} is too small: the model has {n_min} observed variables, "
                          f"so n must be larger than that; use e.g. --n 200,300,500")
    if len(set(ns)) != len(ns):
        raise OptionError(f"sample sizes repeat in {ns}; give each once")
    if not isinstance(reps, (int, np.integer)) or reps < 1:
        raise OptionError(f"--reps must be at least 1, got {reps!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise OptionError(f"--alpha must be between 0 and 1 (e.g. 0.05), got {alpha!r}")
    return sorted(ns)


def _root_seed(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (int, np.integer)) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise OptionError(f"seed must be a whole number >= 0, got {seed!r}")


def child_seeds(seed, n: int, reps: int) -> list[np.random.SeedSequence]:
    """The ``reps`` child seeds of sample size ``n``: ``SeedSequence(seed, spawn_key=(n,)).spawn(reps)``."""
    root = _root_seed(seed)
    return np.random.SeedSequence(root.entropy, spawn_key=(int(n),)).spawn(int(reps))


def simulate_power(instrument, pop=None, *, n_values, reps: int, alpha: float = 0.05, seed,
                   jobs: int | None = None, scheduler=None, progress: bool = True, roles: bool = False,
                   population_n: int = 100_000, outcome: str | None = "auto") -> pd.DataFrame:
    """Monte Carlo power, bias, RMSE and coverage of every structural path and defined effect (SIMULATED).

    Parameters
    ----------
    instrument : Instrument
        Its hypotheses define the analysis model (:func:`~sem_cocreate.modelbuild.build_model_syntax`).
    pop : Population, optional
        The population model (default: :func:`~sem_cocreate.simulate.load_population`).
    n_values : sequence of int
        Sample sizes.
    reps : int
        Replications per sample size.
    alpha : float, default 0.05
        Significance level of the power.
    seed : int or numpy SeedSequence or None
        Root seed; each replication gets its own child seed (see the module docstring).
    jobs, scheduler, progress
        Passed to :func:`sem_cocreate.parallel.parallel_map`.
    roles : bool, default False
        Simulate solvers and seekers (each with its own population paths) and fit one pooled model.
        Then there is no single standardized population value: ``population`` is the pooled large-sample
        ``std.all`` instead of the YAML value (likewise when the analysis model omits a population path;
        ``attrs["population_source"]`` says which).
    population_n : int, default 100000
        Size of the SIMULATED sample whose fit gives ``population_unstd`` (for coverage).
    outcome : str or None, default "auto"
        Focal outcome of the defined effects (:func:`~sem_cocreate.modelbuild.build_model_syntax`);
        ``"auto"``: ``VCC`` if the hypotheses name it, else effects on every endogenous construct.

    Returns
    -------
    pandas.DataFrame
        One row per ``(n, parameter)``: ``n``, ``parameter`` (``b_TO_FROM`` path label or the name of a
        ``:=`` effect), ``kind`` (``path``, ``specific``, ``total_indirect``, ``total``, ``contrast``),
        ``population`` (standardized true value), ``population_unstd`` (unstandardized pseudo-true value
        from the large sample), ``mean_est`` (mean ``std.all``), ``bias`` (``mean_est - population``),
        ``rmse`` (root mean squared error of ``std.all``), ``power`` (share of converged replications with
        ``p < alpha``; delta-method p for defined effects), ``power_mcse`` (its Monte Carlo standard error),
        ``coverage`` (share of 95% Wald intervals containing ``population_unstd``), ``n_converged``,
        ``n_failed``, ``data_source`` (``"SIMULATED ..."``). ``attrs`` hold the seed entropy, alpha, reps,
        the population fit's notes and the wall-clock (``seconds``) and this process's CPU time
        (``cpu_seconds_this_process``; all of it with ``jobs=1``) of the replications.

    Raises
    ------
    OptionError
        Bad sample sizes, ``reps`` or ``alpha``.
    FitError
        The model does not converge even on the large population sample.
    """
    from ..exceptions import FitError
    from ..survey.modelbuild import build_model_syntax, indirect_paths
    from .parallel import parallel_map
    from ..survey.simulate import load_population
    from ..engine.spec import build_spec

    pop = pop or load_population()
    if outcome == "auto":
        named = {c for edge in instrument.hypothesis_edges() for c in edge}
        outcome = "VCC" if "VCC" in named else None
    syntax = build_model_syntax(instrument, outcome=outcome)
    effects = indirect_paths(instrument, outcome=outcome) if instrument.hypotheses else indirect_paths([])
    params = _parameters(instrument, effects)
    if params.empty:
        raise OptionError("the instrument has no hypotheses, so there is no structural path to plan for; "
                          "add hypotheses to the instrument")
    probe = pd.DataFrame(columns=[*instrument.item_ids(), *instrument.controls])
    spec = build_spec(syntax, data_columns=probe.columns)
    ns = _check_inputs(n_values, reps, alpha, len(spec.ov_names))
    root = _root_seed(seed)
    names = tuple(params["parameter"])

    # "population" fit: one very large SIMULATED sample gives the unstandardized pseudo-true values
    rep = _Replication(instrument, pop, spec, names, roles)
    big = rep.draw(int(population_n), np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(0,))))
    big_fit = rep.fit(big)
    if not big_fit.converged:
        raise FitError(f"the analysis model did not converge on {population_n} simulated respondents; "
                       "check the population model (paths, loadings) before planning power")
    big_vals = rep.extract(big_fit)
    pop_unstd = pd.Series(big_vals[:, 0], index=names)
    from ..survey.simulate import standardized_effects

    omitted = sorted(set(standardized_effects(instrument, pop, "solver")) - set(names))
    if roles or omitted:
        # no single standardized population value of the analysis model: use its large-sample std.all
        pop_std = pd.Series(big_vals[:, 4], index=names)
        population_source = (f"std.all of the n = {population_n} SIMULATED sample ("
                             + ("two roles pooled" if roles else f"the model omits population path(s) "
                                                                   f"{', '.join(omitted)}") + ")")
    else:
        pop_std = population_values(instrument, pop, params)
        population_source = "population model (standardized paths; effects as products and sums of them)"
    rep = _Replication(instrument, pop, spec, names, roles, start=np.asarray(big_fit.theta, float))

    tasks = [(n, s) for n in ns for s in child_seeds(root, n, reps)]
    started, cpu_started = time.perf_counter(), time.process_time()
    results = parallel_map(rep, tasks, jobs=jobs, scheduler=scheduler, progress=progress,
                           desc="power replications")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    rows = []
    z_pop_std = pop_std.reindex(names).to_numpy(float)
    z_pop_un = pop_unstd.reindex(names).to_numpy(float)
    for n in ns:
        got = [r for (nn, _s), r in zip(tasks, results) if nn == n]
        ok = [r for r in got if r is not None]
        n_conv, n_fail = len(ok), len(got) - len(ok)
        if ok:
            arr = np.stack(ok)                      # (reps_ok, params, fields)
            est, p, lo, hi, std = (arr[:, :, k] for k in range(5))
            mean_std = std.mean(axis=0)
            rmse = np.sqrt(((std - z_pop_std) ** 2).mean(axis=0))
            power = (p < alpha).mean(axis=0)
            cover = ((lo <= z_pop_un) & (z_pop_un <= hi)).mean(axis=0)
        else:
            mean_std = rmse = power = cover = np.full(len(names), np.nan)
        for j, name in enumerate(names):
            pw = float(power[j])
            rows.append({
                "n": n, "parameter": name, "kind": params["kind"].iloc[j],
                "population": z_pop_std[j], "population_unstd": z_pop_un[j],
                "mean_est": float(mean_std[j]), "bias": float(mean_std[j] - z_pop_std[j]),
                "rmse": float(rmse[j]), "power": pw,
                "power_mcse": math.sqrt(pw * (1 - pw) / n_conv) if n_conv else np.nan,
                "coverage": float(cover[j]), "n_converged": n_conv, "n_failed": n_fail,
                "data_source": SIMULATED_POWER_LABEL,
            })
    table = pd.DataFrame(rows, columns=POWER_COLUMNS)
    table.attrs.update({
        "seed_entropy": int(root.entropy) if isinstance(root.entropy, (int, np.integer)) else str(root.entropy),
        "alpha": float(alpha), "reps": int(reps), "ci_level": CI_LEVEL, "population_n": int(population_n),
        "roles": bool(roles), "seconds": round(elapsed, 3),
        "cpu_seconds_this_process": round(cpu, 3),
        "population_fit_notes": list(big_fit.notes), "population_source": population_source,
    })
    return table


def min_n_for_power(table: pd.DataFrame, *, target: float = 0.8) -> pd.DataFrame:
    """The smallest simulated n whose power reaches ``target``, per parameter.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`simulate_power`.
    target : float, default 0.8

    Returns
    -------
    pandas.DataFrame
        One row per parameter (in the table's order): ``parameter``, ``kind``, ``population``, ``target``,
        ``min_n`` (NaN if no simulated n reaches the target), ``power_at_min_n``, ``max_n_tried``,
        ``power_at_max_n``, ``data_source``. Only the simulated sample sizes are candidates: nothing is
        interpolated.
    """
    if not 0 < target < 1:
        raise OptionError(f"target power must be between 0 and 1, got {target!r}")
    need = {"n", "parameter", "power"}
    if not need <= set(table.columns):
        raise OptionError(f"table lacks column(s) {', '.join(sorted(need - set(table.columns)))}; "
                          "pass the output of simulate_power")
    rows = []
    for name, sub in table.groupby("parameter", sort=False):
        sub = sub.sort_values("n")
        hit = sub[sub["power"] >= target]
        first = hit.iloc[0] if len(hit) else None
        last = sub.iloc[-1]
        rows.append({
            "parameter": name,
            "kind": sub["kind"].iloc[0] if "kind" in sub else "",
            "population": sub["population"].iloc[0] if "population" in sub else np.nan,
            "target": float(target),
            "min_n": float(first["n"]) if first is not None else np.nan,
            "power_at_min_n": float(first["power"]) if first is not None else np.nan,
            "max_n_tried": float(last["n"]),
            "power_at_max_n": float(last["power"]),
            "data_source": SIMULATED_POWER_LABEL,
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# ----------------------------------------------------------------------------- CLI

def _parse_n_list(values) -> list[int]:
    out = []
    for v in values or []:
        try:
            k = int(str(v).strip())
        except ValueError:
            raise OptionError(f"--n must be comma-separated whole numbers such as 200,300,500, got {v!r}") from None
        if k < 1:
            raise OptionError(f"--n must be positive sample sizes, got {k}")
        out.append(k)
    if not out:
        raise OptionError("--n is empty; give sample sizes such as 200,300,500")
    return out


def _instrument_for_population(pop_path: Path):
    """The instrument named by the population YAML's ``instrument:`` entry (relative to the YAML), else
    the default instrument."""
    import yaml

    from ..survey.instrument_file import default_instrument_path, load_instrument

    try:
        from ..survey.safe_yaml import load_yaml

        raw = load_yaml(pop_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    name = raw.get("instrument") if isinstance(raw, dict) else None
    if name:
        p = Path(name)
        if not p.is_absolute():
            p = pop_path.parent / p
        if not p.is_file():
            raise InputFileError(f"population model {pop_path}: its instrument {name!r} was not found next to "
                                 "it; fix the 'instrument:' entry")
        return load_instrument(p), p
    p = default_instrument_path()
    return load_instrument(p), p


def _short_table(table: pd.DataFrame, summary: pd.DataFrame) -> str:
    keep = table[(table["kind"] == "path") |
                 ((table["kind"] == "specific") & table["parameter"].str.endswith("_VCC"))]
    wide = keep.pivot_table(index="parameter", columns="n", values="power", sort=False)
    wide.columns = [f"power n={c}" for c in wide.columns]
    pops = keep.drop_duplicates("parameter").set_index("parameter")["population"]
    mins = summary.set_index("parameter")["min_n"]
    wide.insert(0, "population", pops.reindex(wide.index).round(3))
    wide["min n (80%)"] = mins.reindex(wide.index).map(lambda v: "-" if pd.isna(v) else f"{int(v)}")
    return wide.round(3).to_string()


def run_power(args) -> int:
    """The ``power`` command: write ``power.csv``, ``power_summary.csv`` and ``manifest.json`` into ``--out``."""
    from datetime import datetime, timezone

    from ..files import build_manifest, prepare_out_dir, write_csv, write_json
    from ..survey.simulate import default_population_path, load_population

    started = datetime.now(timezone.utc)
    ns = _parse_n_list(args.n)
    if args.reps is None or args.reps < 1:
        raise OptionError(f"--reps must be at least 1, got {args.reps}")
    if not 0 < args.alpha < 1:
        raise OptionError(f"--alpha must be between 0 and 1 (e.g. 0.05), got {args.alpha}")
    pop_path = Path(args.model) if args.model else default_population_path()
    if not pop_path.is_file():
        raise InputFileError(f"--model {pop_path}: population model file not found; give a population YAML "
                             "such as questionnaires/cocreation-population.yaml")
    pop = load_population(pop_path)
    instrument, inst_path = _instrument_for_population(pop_path)
    seed = DEFAULT_SEED if args.seed is None else int(args.seed)
    out = prepare_out_dir(args.out or DEFAULT_OUT, overwrite=args.overwrite, inputs=(pop_path, inst_path))

    table = simulate_power(instrument, pop, n_values=ns, reps=int(args.reps), alpha=float(args.alpha),
                           seed=seed, jobs=args.jobs, scheduler=args.scheduler, progress=True)
    summary = min_n_for_power(table, target=0.8)
    write_csv(out / "power.csv", table, index=False)
    write_csv(out / "power_summary.csv", summary, index=False)
    files = ["power.csv", "power_summary.csv", "manifest.json"]
    notes = [
        "All data are SIMULATED from the population model; no real respondents.",
        "power: share of converged replications with p < alpha; defined (indirect) effects use the "
        "delta-method p-value of their := row.",
        "population: standardized population value, from the " + table.attrs["population_source"]
        + "; mean_est, bias and rmse are on the std.all scale.",
        f"coverage: share of 95% Wald intervals containing population_unstd, the estimate from one "
        f"SIMULATED sample of {table.attrs['population_n']} respondents.",
    ]
    man = build_manifest(argv=getattr(args, "_argv", None), seed=seed,
                         inputs={"population": pop_path, "instrument": inst_path}, started=started,
                         options={"n": ns, "reps": int(args.reps), "alpha": float(args.alpha),
                                  "jobs": args.jobs, "scheduler": args.scheduler, "target_power": 0.8,
                                  "population_n": table.attrs["population_n"]},
                         files=files, extra={"data_source": SIMULATED_POWER_LABEL, "notes": notes,
                                             "replication_seconds": table.attrs["seconds"]})
    write_json(out / "manifest.json", man)
    fails = table.drop_duplicates("n")[["n", "n_converged", "n_failed"]]
    print(f"SIMULATED Monte Carlo power ({args.reps} replications per n, alpha {args.alpha}, seed {seed}); "
          "indirect effects: delta-method p")
    print(_short_table(table, summary))
    print("converged/failed per n: " + ", ".join(f"n={r.n}: {r.n_converged}/{r.n_failed}"
                                                 for r in fails.itertuples(index=False)))
    print(f"wrote {out / 'power.csv'}, {out / 'power_summary.csv'} and {out / 'manifest.json'}")
    return 0


def cross_role_sample_size(result, *, delta: float = 0.15, power: float = 0.80, alpha: float = 0.05,
                           share: float = 0.5):
    """Sample size per role that detects a cross-role difference ``delta`` in a standardized path.

    Parameters
    ----------
    result : SEMResult
        A fit of the model on pilot or simulated data (pooled over the roles); its standard errors give
        each path's standard error at one respondent, ``se1 = se(std.all) * sqrt(n)``.
    delta : float, default 0.15
        The difference in standardized β between the roles to detect.
    power, alpha : float
        Target power and two-sided level of the Wald test of equal paths.
    share : float, default 0.5
        The share of the smaller role in the sample (0.5: equal groups).

    Returns
    -------
    pandas.DataFrame
        One row per structural path: ``lhs, op, rhs, label, std.all, se1, n_per_role, n_total``, with
        ``n_per_role`` the size of the smaller group.

    Notes
    -----
    Two independent groups, each path estimated with ``se_g = se1 / sqrt(n_g)``:
    ``se_diff = se1 * sqrt(1/n_1 + 1/n_2)``; the Wald test of ``beta_1 = beta_2`` has power
    ``1 - beta`` when ``delta / se_diff = z_{1-alpha/2} + z_{power}``, so with ``n_1 = share * N``:
    ``N = se1^2 (1/share + 1/(1 - share)) (z_{1-alpha/2} + z_{power})^2 / delta^2``. This is the
    large-sample normal approximation behind ``lavTestWald`` (R: the same arithmetic with ``qnorm``);
    :func:`simulate_power` checks it by Monte Carlo for a chosen n.
    """
    import numpy as np
    import pandas as pd
    from ..engine._distributions import norm

    if not 0 < delta:
        raise OptionError(f"delta={delta}: give a positive difference in standardized beta")
    if not 0 < power < 1 or not 0 < alpha < 1 or not 0 < share < 1:
        raise OptionError("power, alpha and share must lie strictly between 0 and 1")
    est = result.estimates
    reg = est[est["op"] == "~"].copy()
    n = float(result.n_obs)
    # the standard error of the standardized path: the unstandardized SE rescaled like the estimate
    ratio = (reg["std.all"] / reg["est"]).where(reg["est"].abs() > 1e-12, 1.0)
    se1 = (reg["se"] * ratio.abs()) * np.sqrt(n)
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    total = se1 ** 2 * (1 / share + 1 / (1 - share)) * z ** 2 / delta ** 2
    out = pd.DataFrame({"lhs": reg["lhs"], "op": "~", "rhs": reg["rhs"], "label": reg.get("label", ""),
                        "std.all": reg["std.all"], "se1": se1,
                        "n_per_role": np.ceil(total * min(share, 1 - share)), "n_total": np.ceil(total)})
    return out.reset_index(drop=True)
