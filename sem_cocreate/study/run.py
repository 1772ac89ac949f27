"""The ``fit`` job: data → screening → measurement model → structural model → mediation → results folder → report.

Each stage calls the public function of its module; this file only orders them, keeps the
provenance (options, seed, inputs) and writes the results folder (:mod:`sem_cocreate.results`).
"""

from __future__ import annotations

import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import FitError, InputFileError, OptionError

DEFAULT_SEED = 20260101
DEFAULT_DATA_RELPATH = "data/cocreation_demo.csv"
DEFAULT_OUT = "reports/cocreation_demo"
DEFAULT_STUDY_BOOTSTRAP = 2000


def _resource(relpath: str) -> Path:
    local = Path(relpath)
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[1] / "resources" / relpath


def default_data_path() -> Path:
    """``data/cocreation_demo.csv`` in the current directory if present, else the packaged copy."""
    return _resource(DEFAULT_DATA_RELPATH)


def _read_model_file(path) -> str:
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"--model {path}: file not found; give a text file with lavaan syntax")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"--model {path}: not a UTF-8 text file; save the lavaan syntax as UTF-8") from None


def measurement_syntax(spec) -> str:
    """The CFA (measurement part) of a model: its ``=~`` lines, all factors correlated."""
    pt = spec.partable
    lines = []
    for lv in spec.lv_names:
        inds = pt[(pt["op"] == "=~") & (pt["lhs"] == lv) & (pt["group"] == 1)]["rhs"].tolist()
        lines.append(f"{lv} =~ " + " + ".join(inds))
    return "\n".join(lines) + "\n"


def constructs_of(spec) -> dict[str, list[str]]:
    pt = spec.partable
    out = {}
    for lv in spec.lv_names:
        inds = pt[(pt["op"] == "=~") & (pt["lhs"] == lv) & (pt["group"] == 1)]["rhs"].tolist()
        obs = [i for i in inds if i in spec.ov_names]
        if obs:
            out[lv] = obs
    return out


def hypotheses_table(instrument, estimates: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per hypothesis: its path, estimate, standardized estimate, p-value and verdict."""
    from ..survey.modelbuild import hypothesis_table

    hyp = hypothesis_table(instrument)
    rows = []
    for h in hyp.itertuples(index=False):
        m = estimates[(estimates["op"] == "~") & (estimates["lhs"] == h.lhs) & (estimates["rhs"] == h.rhs)]
        if m.empty:
            rows.append({"id": h.id, "path": f"{h.rhs} → {h.lhs}", "lhs": h.lhs, "op": "~", "rhs": h.rhs,
                         "label": h.label, "sign": h.sign, "est": np.nan, "se": np.nan, "std.all": np.nan,
                         "pvalue": np.nan, "ci.lower": np.nan, "ci.upper": np.nan,
                         "supported": "not in model", "text_en": h.text_en, "text_zh": h.text_zh})
            continue
        r = m.iloc[0]
        sig = bool(r["pvalue"] < alpha) if pd.notna(r["pvalue"]) else False
        right_sign = np.sign(r["est"]) == np.sign(h.sign)
        if sig and right_sign:
            verdict = "supported"
        elif sig:
            verdict = "opposite sign"
        else:
            verdict = "not supported"
        rows.append({"id": h.id, "path": f"{h.rhs} → {h.lhs}", "lhs": h.lhs, "op": "~", "rhs": h.rhs,
                     "label": h.label, "sign": h.sign, "est": r["est"], "se": r["se"], "std.all": r["std.all"],
                     "pvalue": r["pvalue"], "ci.lower": r["ci.lower"], "ci.upper": r["ci.upper"],
                     "supported": verdict, "text_en": h.text_en, "text_zh": h.text_zh})
    return pd.DataFrame(rows)


def _fit_callable(estimator, missing):
    from ..engine.fit import fit_sem

    def fit(syntax, data):
        return fit_sem(syntax, data, estimator=estimator, missing=missing)
    return fit


def run_fit(args, argv=None) -> int:
    """The ``fit`` command. Returns the exit status (0, or 3 when the model did not converge)."""
    from .. import files as R
    from ..engine.fit import fit_sem

    started = datetime.now(timezone.utc)
    default_study = args.data is None and args.model is None
    seed = args.seed if args.seed is not None else DEFAULT_SEED
    if args.bootstrap is None:
        # the default study shows bootstrap intervals; otherwise the delta method unless asked
        args.bootstrap = DEFAULT_STUDY_BOOTSTRAP if (default_study and args.ci != "mc") else 0
    estimator = args.estimator.upper()
    missing = args.missing or "listwise"
    if missing == "fiml" and estimator == "WLSMV":
        raise OptionError("--missing fiml works with --estimator ml or mlr; WLSMV uses listwise/pairwise data")
    if args.invariance and not args.group:
        raise OptionError("--invariance needs --group COLUMN (the column that defines the groups)")
    if args.bootstrap and args.ci == "mc":
        raise OptionError("--ci mc draws Monte Carlo intervals without resampling; drop --bootstrap or use --ci perc|bc|bca")
    if args.bootstrap and estimator == "WLSMV":
        raise OptionError("--bootstrap is implemented for ml and mlr; use --ci mc with wlsmv")
    for fmt in args.format:
        if fmt not in ("html", "md", "docx"):
            raise OptionError(f"--format {fmt}: use html, md or docx")
    for lang in args.lang:
        if lang not in ("en", "zh"):
            raise OptionError(f"--lang {lang}: use en or zh")

    # ---- inputs -------------------------------------------------------------------------------
    from ..survey.instrument_file import default_instrument_path, load_instrument

    instrument = None
    instrument_path = None
    if args.instrument:
        instrument_path = Path(args.instrument)
    elif default_study or args.model is None:
        instrument_path = default_instrument_path()
    if instrument_path is not None:
        instrument = load_instrument(instrument_path)
    data_path = Path(args.data) if args.data else default_data_path()
    if not data_path.is_file():
        raise InputFileError(f"--data {data_path}: file not found; give the survey export (csv, xlsx, sav, dta)")
    model_path = Path(args.model) if args.model else None
    out = Path(args.out) if args.out else Path(DEFAULT_OUT)
    out_dir = R.prepare_out_dir(out, overwrite=args.overwrite,
                                inputs=[data_path, model_path, instrument_path, args.mapping, args.screening],
                                own_folder=default_study and args.out is None)
    files: list[str] = []

    def wcsv(name, df):
        R.write_csv(out_dir / name, df)
        files.append(name)

    def wjson(name, obj):
        R.write_json(out_dir / name, obj)
        files.append(name)

    # ---- data and screening -----------------------------------------------------------------
    from ..survey.responses import read_responses, validate_responses

    notes: list[str] = []
    responses = read_responses(data_path, instrument=instrument, mapping=args.mapping)
    notes.extend(responses.notes)
    screening_summary = None
    if instrument is not None:
        data = validate_responses(responses, instrument)
        if not args.no_screening:
            from ..survey.screening import apply_overrides, load_screening_config, screen, write_screening

            config = load_screening_config(args.screening) if args.screening else None
            screened = screen(data, instrument, config=config)
            written = write_screening(screened, out_dir, extra={"input": str(data_path)})
            files.extend(p.name for p in written)
            data = screened.data
            screening_summary = screened.summary
        recoded = list(data.attrs.get("reverse_recoded") or ())
        if recoded:
            notes.append(f"reverse-keyed item(s) recoded once (min + max − x): {', '.join(recoded)}")
    else:
        data = responses.data
        notes.append("no instrument given: data checked for numeric values only; no careless-responding screening")

    # ---- model ----------------------------------------------------------------------------------
    if model_path is not None:
        syntax = _read_model_file(model_path)
        model_source = str(model_path)
    else:
        from ..survey.modelbuild import build_model_syntax

        syntax = build_model_syntax(instrument)
        model_source = f"built from {instrument_path} (hypotheses)"
    (out_dir / "model.lav").write_text(syntax, encoding="utf-8")
    files.append("model.lav")

    # ---- structural model -----------------------------------------------------------------------
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_sem(syntax, data, estimator=estimator, missing=missing, group=args.group)
    notes.extend(result.notes)
    if not result.internals.get("identified", True):
        raise FitError("the model is not identified (singular information matrix); fix a loading or variance "
                       "per factor, or check that every latent variable has at least 2-3 indicators")
    from ..engine.spec import build_spec  # noqa: F401  (spec is inside result)

    spec = result.spec
    constructs = constructs_of(spec)

    # ---- measurement model (CFA) and measurement quality -----------------------------------------
    measurement = None
    meas = {}
    if constructs:
        cfa_syntax = measurement_syntax(spec)
        measurement = fit_sem(cfa_syntax, data, estimator=estimator, missing=missing) \
            if estimator != "WLSMV" or True else None
        meas = _measurement_quality(measurement, data, constructs, seed=seed, notes=notes)
        if estimator != "WLSMV":
            meas.update(_common_method_checks(cfa_syntax, measurement, data, constructs,
                                              estimator=estimator, missing=missing, notes=notes))

    # ---- mediation --------------------------------------------------------------------------------
    estimates = result.estimates
    indirect_method = "delta"
    n_boot = n_failed = 0
    draws = None
    if args.bootstrap:
        from ..inference.bootstrap import bootstrap_draws, bootstrap_estimates

        draws = bootstrap_draws(result, n_boot=args.bootstrap, seed=seed, jobs=args.jobs,
                                scheduler=args.scheduler, progress=sys.stderr.isatty())
        estimates = bootstrap_estimates(result, draws, ci=args.ci)
        indirect_method = f"bootstrap-{args.ci}"
        n_boot, n_failed = draws.n_boot, draws.n_failed
        if n_failed > 0.05 * n_boot:
            notes.append(f"WARNING: {n_failed} of {n_boot} bootstrap resamples failed (> 5%); "
                         "intervals may be biased — check the model")
        elif n_failed:
            notes.append(f"{n_failed} of {n_boot} bootstrap resamples failed and were excluded")
    elif args.ci == "mc" and len(spec.defined):
        from ..inference.bootstrap import monte_carlo_estimates

        estimates = monte_carlo_estimates(result, n_draws=20000, seed=seed)
        indirect_method = "mc"
    effects = None
    if instrument is not None and model_path is None:
        from ..survey.modelbuild import indirect_paths

        effects = indirect_paths(instrument)
    indirect = None
    if len(spec.defined):
        from ..inference.mediation import indirect_table

        std_estimates = None
        if draws is not None:
            from ..inference.bootstrap import bootstrap_std_estimates

            std_estimates = bootstrap_std_estimates(result, draws, ci=args.ci)
        indirect = indirect_table(result, estimates=estimates, effects=effects, method=indirect_method,
                                  n_boot=n_boot, n_failed=n_failed, std_estimates=std_estimates)

    # ---- write -------------------------------------------------------------------------------------
    wcsv("estimates.csv", estimates)
    fit_dict = {k: (None if pd.isna(v) else float(v)) for k, v in result.fit.items()}
    fit_dict["converged"] = bool(result.converged)
    fit_dict["estimator"] = result.estimator
    fit_dict["missing"] = result.missing
    wjson("fit.json", fit_dict)
    r2 = result.r2.copy()
    if len(spec.groups) == 1:
        r2 = r2.drop(columns="group")
    wcsv("r2.csv", r2)
    if indirect is not None:
        wcsv("indirect.csv", indirect)
    if instrument is not None and instrument.hypotheses and model_path is None:
        wcsv("hypotheses.csv", hypotheses_table(instrument, estimates))
    if measurement is not None:
        wcsv("measurement/estimates.csv", measurement.estimates)
        wjson("measurement/fit.json", {k: (None if pd.isna(v) else float(v)) for k, v in measurement.fit.items()})
        for name, obj in meas.items():
            if isinstance(obj, pd.DataFrame):
                wcsv(name, obj)
            else:
                wjson(name, obj)
    # ---- groups: measurement invariance and structural paths compared across groups --------------
    inv_group = args.group if args.invariance else None
    if inv_group is None and default_study and instrument is not None:
        role = instrument.field_of_kind("role")
        if role is not None and role.id in data.columns and data[role.id].dropna().nunique() >= 2:
            inv_group = role.id          # the default study compares solvers and seekers
            notes.append(f"measurement invariance and paths compared across the groups of '{role.id}'")
    if inv_group is not None and estimator != "WLSMV":
        inv_files = _group_comparisons(syntax, measurement_syntax(spec) if constructs else syntax, data,
                                       group=inv_group, estimator=estimator, missing=missing,
                                       free=tuple(args.free), instrument=instrument, notes=notes)
        for name, df in inv_files.items():
            wcsv(name, df)
    wjson("notes.json", {"notes": notes, "warnings": [str(w.message) for w in caught],
                         "simulated_data": _is_simulated(data_path), "model_source": model_source,
                         "converged": bool(result.converged), "n_obs": result.n_obs,
                         "instrument": str(instrument_path) if instrument_path else None,
                         "screening": screening_summary is not None})
    options = {"estimator": estimator, "missing": missing, "group": args.group, "invariance": args.invariance,
               "bootstrap": args.bootstrap, "ci": args.ci, "jobs": args.jobs, "scheduler": args.scheduler,
               "free": args.free}
    inputs = {"data": data_path, "model": model_path, "instrument": instrument_path,
              "mapping": Path(args.mapping) if args.mapping else None,
              "screening": Path(args.screening) if args.screening else None}
    # ---- report ------------------------------------------------------------------------------------
    from ..report import render_report

    manifest = R.build_manifest(argv=argv if argv is not None else sys.argv[1:], seed=seed, inputs=inputs,
                                started=started, options=options, files=files)
    R.write_json(out_dir / "manifest.json", manifest)
    written = render_report(out_dir, formats=args.format, langs=args.lang)
    print(f"results: {out_dir}")
    for p in written:
        print(f"report:  {p}")
    if not result.converged:
        print("error: the model did not converge; results were written for inspection but are not "
              "trustworthy — check the notes, simplify the model or add starting values", file=sys.stderr)
        return 3
    return 0


def _is_simulated(path: Path) -> bool:
    """True for the demo data (the simulator writes a marker column and the file name says so)."""
    try:
        head = Path(path).read_text(encoding="utf-8", errors="ignore")[:2000]
    except OSError:
        return False
    return "simulated" in Path(path).name.lower() or "cocreation_demo" in Path(path).name or "SIMULATED" in head


def _measurement_quality(measurement, data, constructs, *, seed, notes) -> dict:
    """Reliability, item statistics, validity matrices and normality for the measurement model."""
    from ..measurement.reliability import item_stats, mardia, measurement_flags, reliability_table
    from ..measurement.validity import fornell_larcker, htmt

    out: dict = {}
    est = measurement.estimates
    items = [i for its in constructs.values() for i in its]
    rel = reliability_table(est, data, constructs=constructs)
    out["reliability.csv"] = rel
    ist = item_stats(est, data, constructs=constructs)
    out["item_stats.csv"] = ist
    out["validity/htmt.csv"] = htmt(data, constructs, htmt2=True)
    out["validity/htmt_classic.csv"] = htmt(data, constructs, htmt2=False)
    out["validity/fornell_larcker.csv"] = fornell_larcker(est, data=data)
    try:
        flags = measurement_flags(rel, ist)
        out["measurement_flags.csv"] = flags
    except Exception as err:  # flags are advisory
        notes.append(f"measurement flags not computed: {err}")
    complete = data[items].dropna()
    if len(complete) > len(items):
        out["normality.json"] = mardia(complete)
    # HTMT inference (Henseler et al. 2015): percentile intervals, upper bound below .85/.90/1
    from ..measurement.validity import htmt_bootstrap

    out["validity/htmt_ci.csv"] = htmt_bootstrap(data, constructs, n_boot=1000, seed=seed)
    # sampling adequacy for pilot data (psych::KMO, psych::cortest.bartlett)
    from ..measurement.exploratory import bartlett_sphericity, kmo

    k = kmo(data[items])
    b = bartlett_sphericity(data[items])
    out["exploratory.json"] = {"kmo_overall": k["overall"], "kmo_items": k["items"].to_dict(),
                               "bartlett": {kk: b[kk] for kk in ("chisq", "df", "pvalue", "n")}}
    try:
        from ..engine.estimators.ordinal import recommend_ordinal

        advice = recommend_ordinal(data, items)
        if advice:
            notes.append(advice)
    except Exception as err:  # advisory only
        notes.append(f"ordinal-data check not run: {err}")
    return out


def _common_method_checks(cfa_syntax, measurement, data, constructs, *, estimator, missing, notes) -> dict:
    """Harman's single-factor test, the single-factor CFA and the unmeasured latent method factor."""
    from ..measurement.cmv import harman_single_factor, single_factor_test, ulmc_test
    from ..exceptions import SemCocreateError

    items = [i for its in constructs.values() for i in its]
    base_fit = _fit_callable(estimator, missing)
    unconverged: list[str] = []

    def fit(syntax, data):
        res = base_fit(syntax, data)
        if not res.converged:
            unconverged.append(syntax)
        return res

    out: dict = {}
    harman = harman_single_factor(data[items])
    out["cmv/harman.json"] = {k: v for k, v in harman.items() if k != "loadings"}
    try:
        out["cmv/single_factor.csv"] = single_factor_test(cfa_syntax, data, fit=fit, measurement=measurement)
    except SemCocreateError as err:
        notes.append(f"single-factor CFA not compared: {err}")
    try:
        ul = ulmc_test(cfa_syntax, data, fit=fit, method_loadings="equal", measurement=measurement)
        out["cmv/ulmc_fit.csv"] = ul.comparison
        out["cmv/ulmc_loadings.csv"] = ul.loadings
        ul_notes = list(ul.notes)
        if any(ul.syntax.strip() == u.strip() for u in unconverged):
            ul_notes.append("the method-factor model did not converge (its loading tends to the boundary 0, where "
                            "the model is not identified): the data show no common-method factor by this check; "
                            "its fit and loadings are not interpretable")
            notes.append("latent method factor: " + ul_notes[-1])
        out["cmv/ulmc.json"] = {"method_loadings": ul.method_loadings, "mean_trait_share": ul.mean_trait_share,
                                "mean_method_share": ul.mean_method_share, "notes": ul_notes,
                                "converged": not any(ul.syntax.strip() == u.strip() for u in unconverged)}
    except SemCocreateError as err:
        notes.append(f"latent method factor not fitted: {err}")
    return out


def _group_labels(data: pd.DataFrame, group: str, instrument) -> pd.DataFrame:
    """Replace role codes by their names (1 → solver) so tables say which group is which."""
    if instrument is None:
        return data
    fld = next((f for f in instrument.fields if f.id == group and f.options), None)
    if fld is None:
        return data
    out = data.copy()
    out[group] = out[group].map(lambda v: fld.name_for(v) if pd.notna(v) and fld.name_for(v) else v)
    return out


def _group_comparisons(syntax, cfa_syntax, data, *, group, estimator, missing, free, instrument, notes) -> dict:
    """invariance.csv (configural → strict), score tests for the scalar model, and path Wald tests."""
    from ..exceptions import SemCocreateError
    from ..inference.invariance import invariance_models, invariance_table, path_wald_tests, score_tests

    gdata = _group_labels(data, group, instrument)
    out: dict[str, pd.DataFrame] = {}
    models = invariance_models(cfa_syntax, gdata, group=group, estimator=estimator, missing=missing, free=free)
    out["invariance.csv"] = invariance_table(models)
    if "scalar" in models:
        try:
            out["invariance_scores.csv"] = score_tests(models["scalar"])
        except SemCocreateError as err:
            notes.append(f"score tests not computed: {err}")
    try:
        out["group_paths.csv"] = path_wald_tests(syntax, gdata, group=group, estimator=estimator, missing=missing)
    except SemCocreateError as err:
        notes.append(f"structural paths not compared across groups: {err}")
    return out
