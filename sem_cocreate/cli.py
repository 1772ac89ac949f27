"""Command-line interface: a thin wrapper over the public API.

Each subcommand has a parser builder ``_add_<name>`` and a ``cmd_<name>(args) -> int`` that calls
the same functions a notebook would. Heavy libraries are imported inside the ``cmd_`` functions so
that ``--help`` stays fast. :func:`main` turns :class:`SemCocreateError` into one line on stderr
and exit status 2 (3 for a model that did not converge or is not identified).
"""

from __future__ import annotations

import argparse
import sys

from .exceptions import OptionError, SemCocreateError

DEFAULT_INSTRUMENT = "questionnaires/cocreation.yaml"


class _Parser(argparse.ArgumentParser):
    """argparse with a short error: one usage line and the error (not the whole usage block)."""

    def error(self, message: str):  # noqa: D102 - argparse API
        print(f"usage: {self.prog} [options]   (see {self.prog} --help)\nerror: {message}", file=sys.stderr)
        raise SystemExit(2)


class _Terminated(BaseException):
    """SIGTERM turned into an exception, so the run unwinds (staged folder removed, workers ended)."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _finite_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _add_common_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=_positive_int, default=None,
                   help="every random draw follows from it: same seed, same numbers (default: 20260101 for fit)")
    p.add_argument("--jobs", type=int, default=None,
                   help="local worker processes (default: all cores; on two, this process and one "
                        "background worker share the work; N: a pool of N for the resamples; 1 = this "
                        "process only)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run resamples / replications on a Dask distributed cluster at ADDRESS")


def _add_fit(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="screen, fit measurement and structural models, test hypotheses and mediation, write results and report",
        description="Screen the data, fit the measurement and structural models, test the hypotheses and the "
                    "mediation, write the results folder and the report. With no arguments: the embedded "
                    "default study (questionnaires/ instrument, data/ demo data, default model) into "
                    "reports/cocreation_demo/.",
    )
    p.add_argument("--data", metavar="FILE",
                   help="csv, xlsx, sav, dta, a Qualtrics csv export or a Wenjuanxing export")
    p.add_argument("--model", metavar="FILE",
                   help="a lavaan-syntax model (=~ ~ ~~ ~1 := labels, fixed values, equality by label)")
    p.add_argument("--instrument", metavar="FILE", default=None,
                   help=f"a questionnaire YAML (default: {DEFAULT_INSTRUMENT})")
    p.add_argument("--mapping", metavar="FILE", default=None,
                   help="optional YAML/CSV mapping of data columns to item ids")
    p.add_argument("--missing-fields", default="error", choices=["error", "warn"],
                   help="a declared attention/consent/duration/role field absent from the data: error (default) or warn")
    p.add_argument("--estimator", default="ml", type=str.lower, choices=["ml", "mlr", "wlsmv"],
                   help="estimator (default ml)")
    p.add_argument("--missing", default=None, type=str.lower, choices=["listwise", "fiml"],
                   help="listwise (default for ml) or fiml (ml and mlr)")
    p.add_argument("--group", metavar="COLUMN", default=None,
                   help="multi-group model by this column")
    p.add_argument("--information", default="expected", type=str.lower, choices=["expected", "observed"],
                   help="standard errors from the expected (default) or observed information")
    p.add_argument("--invariance", action="store_true",
                   help="with --group: configural, metric, scalar and strict invariance tests")
    p.add_argument("--free", action="append", default=[], metavar="PARAM",
                   help="with --invariance: free this constrained parameter (partial invariance), e.g. 'ks3~1'")
    p.add_argument("--bootstrap", type=_positive_int, default=None, metavar="N",
                   help="bootstrap resamples for indirect effects and other defined parameters (0 = delta method; "
                        "default 5000, and 2000 for the embedded default study)")
    p.add_argument("--ci", default="perc", type=str.lower, choices=["perc", "bc", "bca", "mc"],
                   help="interval for defined parameters: percentile (default), bias-corrected, BCa, Monte Carlo")
    p.add_argument("--screening", metavar="FILE", default=None,
                   help="YAML with screening rule settings (see `screen --help`)")
    p.add_argument("--no-screening", action="store_true", help="skip careless-responding screening")
    _add_common_run(p)
    p.add_argument("--out", metavar="DIR", default=None,
                   help="results folder (created; an existing non-empty one is refused unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="allow writing into an existing non-empty --out")
    p.add_argument("--format", default="html,md", type=_csv_list,
                   help="report formats: html,md,docx (default html,md)")
    p.add_argument("--lang", default="en", type=_csv_list, help="report language(s): en,zh (default en)")
    p.set_defaults(func=cmd_fit)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="(re)render the report of a results folder",
                       description="Render the report of a results folder from its files (never refits).")
    p.add_argument("dir", metavar="DIR", help="a results folder written by `fit`")
    p.add_argument("--format", default="html,md", type=_csv_list, help="html,md,docx (default html,md)")
    p.add_argument("--lang", default="en", type=_csv_list, help="en,zh (default en)")
    p.set_defaults(func=cmd_report)


def _add_screen(sub) -> None:
    p = sub.add_parser("screen", help="data checks and careless-responding screening only",
                       description="Read and validate the data against the instrument, screen for careless "
                                   "responding, write the cleaned data, exclusions.csv and screening.json.")
    p.add_argument("--data", metavar="FILE", required=True, help="the survey export")
    p.add_argument("--instrument", metavar="FILE", default=None,
                   help=f"a questionnaire YAML (default: {DEFAULT_INSTRUMENT})")
    p.add_argument("--mapping", metavar="FILE", default=None, help="column-to-item mapping file")
    p.add_argument("--missing-fields", default="error", choices=["error", "warn"],
                   help="a declared attention/consent/duration/role field absent from the data: error (default) or warn")
    p.add_argument("--config", metavar="FILE", default=None, help="YAML with screening rule settings")
    p.add_argument("--set", action="append", default=[], metavar="RULE.KEY=VALUE",
                   help="override a screening setting, e.g. speeders.fraction_of_median=0.4 or mahalanobis.enabled=false")
    p.add_argument("--out", metavar="DIR", required=True, help="results folder")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_screen)


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="draw SIMULATED Likert survey data from a population model",
                       description="Draw simulated Likert responses from the co-creation population model "
                                   "(or one given in YAML). Output is labelled as simulated.")
    p.add_argument("--n", type=_positive_int, default=600, help="respondents (default 600)")
    p.add_argument("--seed", type=_positive_int, default=None, help="random seed")
    p.add_argument("--out", metavar="FILE", required=True, help="csv file to write")
    p.add_argument("--instrument", metavar="FILE", default=None, help="questionnaire YAML")
    p.add_argument("--population", metavar="FILE", default=None, help="population model YAML")
    p.add_argument("--missing", type=_finite_float, default=0.0, help="MCAR missing rate (default 0)")
    p.add_argument("--mar", type=_finite_float, default=0.0, help="MAR missing rate (default 0)")
    p.add_argument("--careless", type=_finite_float, default=0.0, help="share of careless respondents (default 0)")
    p.add_argument("--roles", action="store_true", help="two respondent roles (solver, seeker) with different paths")
    p.add_argument("--skew", type=_finite_float, default=0.0, help="threshold skew (default 0: symmetric)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_simulate)


def _add_power(sub) -> None:
    p = sub.add_parser("power", help="Monte Carlo power and sample-size planning",
                       description="Monte Carlo power of every structural path and indirect effect, "
                                   "for one or more sample sizes (SIMULATED data).")
    p.add_argument("--model", metavar="FILE", default=None, help="population model YAML (default: the co-creation model)")
    p.add_argument("--n", default="200,300,500", type=_csv_list, help="sample sizes, comma-separated")
    p.add_argument("--reps", type=_positive_int, default=200, help="replications per sample size")
    p.add_argument("--alpha", type=_finite_float, default=0.05)
    _add_common_run(p)
    p.add_argument("--out", metavar="DIR", default=None, help="folder for power.csv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_power)


def _add_simulate_study(sub) -> None:
    p = sub.add_parser("simulate-study", help="coverage, type I error and power of the intervals (SIMULATED)",
                       description="Simulation study: R replications of a population model, each fitted and "
                                   "bootstrapped; coverage of the percentile, BC, BCa, Monte Carlo and Wald "
                                   "intervals, width, bias, type I error of a path planted at 0, power.")
    p.add_argument("--model", metavar="FILE", default=None, help="population model YAML (default: the co-creation model)")
    p.add_argument("--n", default="600", type=_csv_list, help="sample sizes, comma-separated (default 600)")
    p.add_argument("--reps", type=_positive_int, default=500, help="replications per sample size (default 500)")
    p.add_argument("--bootstrap", type=_positive_int, default=499, help="resamples per replication (default 499)")
    p.add_argument("--mc", type=_positive_int, default=5000, help="Monte Carlo draws per replication (default 5000)")
    p.add_argument("--null", default="KS~RC", type=_csv_list, help="paths TO~FROM planted at 0 (default KS~RC)")
    p.add_argument("--methods", default="perc,bc,bca,mc,wald", type=_csv_list, help="intervals to check")
    p.add_argument("--skew", type=float, default=0.0, help="threshold shift: skewed, non-normal items (default 0)")
    _add_common_run(p)
    p.add_argument("--out", metavar="DIR", default=None, help="folder for coverage.csv (default coverage_results)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_simulate_study)


def _add_questionnaire(sub) -> None:
    p = sub.add_parser("questionnaire", help="validate an instrument and export it",
                       description="Validate a questionnaire YAML, or export it for fielding.")
    p.add_argument("action", choices=["validate", "export"], help="validate or export")
    p.add_argument("file", metavar="FILE", nargs="?", default=None,
                   help=f"questionnaire YAML (default: {DEFAULT_INSTRUMENT})")
    p.add_argument("--format", default="html,md", type=_csv_list,
                   help="html,md,qualtrics,limesurvey,codebook (default html,md)")
    p.add_argument("--lang", default="en", type=_csv_list, help="en,zh (default en)")
    p.add_argument("--role", default=None, help="solver or seeker wording (default: all)")
    p.add_argument("--out", metavar="DIR", default=None, help="folder for exported files")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_questionnaire)


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="fit two or more model files on the same data; lavTestLRT-style table",
                       description="Fit two or more lavaan-syntax model files on the same (screened) data and "
                                   "write the lavTestLRT-style comparison (model_comparison.csv): df, AIC, BIC, "
                                   "chi-square, and each model tested against the one with fewer df (scaled "
                                   "difference, Satorra-Bentler 2001, under mlr).")
    p.add_argument("--data", metavar="FILE", required=True, help="the data file (as for fit)")
    p.add_argument("--model", metavar="FILE", action="append", required=True,
                   help="a lavaan-syntax model file; give --model two or more times")
    p.add_argument("--instrument", metavar="FILE", default=None,
                   help=f"a questionnaire YAML (default: {DEFAULT_INSTRUMENT})")
    p.add_argument("--mapping", metavar="FILE", default=None)
    p.add_argument("--estimator", default="ml", type=str.lower, choices=["ml", "mlr"])
    p.add_argument("--group", metavar="COLUMN", default=None)
    p.add_argument("--no-screening", action="store_true", help="skip careless-responding screening")
    p.add_argument("--out", metavar="DIR", required=True, help="folder for model_comparison.csv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_compare)


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(
        prog="python -m sem_cocreate",
        description="Survey SEM for value co-creation in crowdsourcing innovation.",
    )
    parser.add_argument("--version", action="version", version=f"sem_cocreate {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_fit, _add_report, _add_screen, _add_simulate, _add_power, _add_simulate_study,
                _add_questionnaire, _add_compare):
        add(sub)
    return parser


# --- commands -------------------------------------------------------------------------------

def fit_options(args: argparse.Namespace):
    """The ``fit`` arguments as :class:`~sem_cocreate.study.options.StudyOptions` (nothing below sees argparse)."""
    from .study.options import StudyOptions

    return StudyOptions(
        data=args.data, model=args.model, instrument=args.instrument, mapping=args.mapping,
        missing_fields=args.missing_fields, estimator=args.estimator, missing=args.missing, group=args.group,
        invariance=args.invariance, information=args.information,
        free=tuple(args.free), bootstrap=args.bootstrap, ci=args.ci, seed=args.seed, jobs=args.jobs,
        scheduler=args.scheduler, screening=args.screening, no_screening=args.no_screening, out=args.out,
        overwrite=args.overwrite, formats=tuple(args.format), langs=tuple(args.lang),
        argv=tuple(getattr(args, "_argv", None) or ()))


def cmd_fit(args: argparse.Namespace) -> int:
    from .files import claim_out_dir
    from .study.options import DEFAULT_OUT
    from .study.run import run_study

    inputs = [args.data, args.model, args.instrument, args.mapping, args.screening]
    # --out checked (and locked against a second run) before any work
    with claim_out_dir(args.out or DEFAULT_OUT, overwrite=args.overwrite, inputs=inputs,
                       own_folder=args.out is None):
        study = run_study(fit_options(args))
        reports = study.write()
    out = reports[0].parent if reports else study.options.out
    print(f"results: {out}")
    for path in reports:
        print(f"report:  {path}")
    if not study.converged:
        # one line for the one problem; the other notes are in notes.json
        print("error: the model did not converge; results were written for inspection but are not "
              f"trustworthy — check {out}/notes.json, simplify the model or add starting values", file=sys.stderr)
        return 3
    own = study.own_model_warnings()
    for note in own:
        print(f"warning: {note.text()}", file=sys.stderr)
    others = [n for n in study.notes if n.level == "warning" and n not in own]
    if others:
        print(f"note: {len(others)} more warning(s) about auxiliary analyses "
              f"({', '.join(sorted({n.topic for n in others}))}): see {out}/notes.json", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .files import prepare_out_dir
    from .study.options import StudyOptions
    from .study.step_diagnostics import run_compare

    if len(args.model) < 2:
        raise OptionError("compare needs --model two or more times")
    options = StudyOptions(data=args.data, model=args.model[0], instrument=args.instrument, mapping=args.mapping,
                           estimator=args.estimator, group=args.group, no_screening=args.no_screening)
    table = run_compare(options, args.model)
    out = prepare_out_dir(args.out, overwrite=args.overwrite, inputs=[args.data, *args.model])
    from .files import write_csv

    path = write_csv(out / "model_comparison.csv", table, index=False)   # formulas inert, never through a link
    print(table.to_string(index=False))
    print(f"results: {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import render_report

    paths = render_report(args.dir, formats=args.format, langs=args.lang)
    for path in paths:
        print(path)
    return 0


def cmd_screen(args: argparse.Namespace) -> int:
    from .survey.screening import run_screen

    return run_screen(args)


def cmd_simulate(args: argparse.Namespace) -> int:
    from .survey.simulate import run_simulate

    return run_simulate(args)


def cmd_power(args: argparse.Namespace) -> int:
    from .inference.power import run_power

    return run_power(args)


def cmd_simulate_study(args: argparse.Namespace) -> int:
    from .inference.coverage import run_simulate_study

    return run_simulate_study(args)


def cmd_questionnaire(args: argparse.Namespace) -> int:
    from .survey.questionnaire import run_questionnaire

    return run_questionnaire(args)


def run() -> None:
    """The program (``python -m sem_cocreate``, ``sem-cocreate``): :func:`main` on the process arguments,
    then exit with its status."""
    rc = main()
    import gc

    # the process ends here: its objects need no garbage collection, and without this freeze the
    # interpreter's shutdown spent about 0.25 s collecting a study's 90,000 of them (measured by strace:
    # 0.29 s from the last atexit handler to exit_group, 0.05 s with it); files are closed, and the
    # worker pool ended (inference.parallel.shutdown_workers), by then
    gc.freeze()
    raise SystemExit(rc)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: the process arguments); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(argv) if argv is not None else sys.argv[1:]
    from .inference.parallel import use_single_thread_blas

    use_single_thread_blas()      # one BLAS thread for every command (small matrices; processes give parallelism)
    if args.command is None:
        if argv is None and len(sys.argv) <= 1 or argv == []:
            parser.print_help()
            return 0
    import signal

    old_term = None
    if threading_main():
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        scheduler = getattr(args, "scheduler", None)
        if scheduler and isinstance(scheduler, str):
            from .inference.parallel import check_scheduler

            check_scheduler(scheduler)   # before any work, short timeout
        rc = int(args.func(args) or 0)
        _finish_workers()
        return rc
    except SemCocreateError as err:
        _finish_workers()
        if args.debug:
            raise
        msg = " ".join(str(err).split())
        print(f"error: {msg}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        _end_workers(ending=True)
        print("interrupted (Ctrl-C)" + _nothing_written(args), file=sys.stderr)
        return 130
    except _Terminated:
        _end_workers(ending=True)
        print("terminated (SIGTERM)" + _nothing_written(args), file=sys.stderr)
        return 143
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _nothing_written(args) -> str:
    # fit stages its folder (files.results_folder): an interrupted run leaves none
    return "; no results folder was written" if getattr(args, "command", None) == "fit" else ""


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _finish_workers() -> None:
    """End the idle background worker of a finished command now (every result is collected): without
    this the interpreter's exit waits about half a second for it to shut down on its own."""
    if "sem_cocreate.inference.parallel" in sys.modules:
        sys.modules["sem_cocreate.inference.parallel"].shutdown_workers(wait=True)


def _end_workers(*, ending: bool = False) -> None:
    """No worker process outlives an interrupted run (loky's pool; Dask futures are cancelled where
    they were submitted). With ``ending`` (the command is ending) a further Ctrl-C stays ignored until
    the process has exited, so it cannot cut the exit status short."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not interrupt the clean-up
    if ending and hasattr(signal, "pthread_sigmask"):
        # and blocked: a Ctrl-C pending when the interpreter ends cannot cut the exit status short (seen:
        # status -2 after the one-line message, under load, with the background worker busy)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    # the pool's manager thread may raise while its workers are killed: the run is ending, stay quiet
    threading.excepthook = lambda _args: None
    try:
        if "sem_cocreate.inference.parallel" in sys.modules:
            sys.modules["sem_cocreate.inference.parallel"].shutdown_workers()
    finally:
        if not ending:
            signal.signal(signal.SIGINT, signal.default_int_handler)
