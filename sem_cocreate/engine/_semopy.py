"""The semopy boundary: the only module that imports semopy.

semopy 2.3.11 fits the same ML model from an explicit description of our parameter table
(every fixed value written out, so its own defaults — e.g. freeing a first loading when another
is fixed — never apply). Its output is turned into our shapes: loadings ``x ~ F`` become
``F =~ x``, the ``'-'`` placeholders of fixed parameters become NaN. sem_cocreate uses it as
(1) an independent optimizer whose solution seeds our Fisher scoring when our own starting values
do not converge, and (2) a cross-check in the tests. semopy's default solver stops about 1e-3 short
of the optimum, its SRMR/logl/AIC/BIC differ from lavaan's, and it silently uses rows with NaN —
so estimates, standard errors and fit measures always come from our engine at a tight tolerance,
and data reach semopy complete and as floats.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd


SEMOPY_MAXITER = 200          # SLSQP iterations allowed to semopy when it seeds our optimizer
SEMOPY_MAX_PARAMETERS = 60     # larger models: semopy (SLSQP, Python objective) can take many minutes
SEMOPY_SECONDS = 10.0          # wall-clock budget of one semopy fit; past it the second opinion is dropped


class _Budget(Exception):
    """Raised inside semopy by the interval timer when its time budget is spent."""


def _markerless_latents(spec) -> list[str]:
    """Latent variables none of whose loadings is a fixed value.

    semopy 2.3.11 finds the starting value of a loading by walking ``first_manifs`` (the marker
    indicator of each factor); for a factor without a fixed loading the walk never ends
    (``startingvalues.start_lambda`` loops on ``None``). Such models must not reach semopy.
    """
    pt = spec.partable
    pt = pt[(pt["group"] == 1) & (pt["op"] == "=~")]
    out = []
    for lhs in pd.unique(pt["lhs"]):
        if not (pt.loc[pt["lhs"] == lhs, "free"] == 0).any():
            out.append(str(lhs))
    return out


def _run_with_budget(func, seconds: float):
    """Call ``func()`` with a wall-clock budget (SIGALRM interval timer, main thread on POSIX only;
    elsewhere the iteration limit alone bounds the effort). Raises :class:`_Budget` when spent."""
    import signal
    import threading

    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        return func()
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:   # someone else's timer is running: leave it alone
        return func()

    def _expired(signum, frame):
        raise _Budget()

    old = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return func()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def semopy_syntax(spec) -> str:
    """semopy model description of a single-group parameter table, all fixed values explicit."""
    pt = spec.partable
    pt = pt[pt["group"] == 1]
    lines = []

    def term(row):
        if row.free == 0:
            return f"{float(row.ustart):.12g}*{row.rhs}"
        if row.label and not str(row.label).startswith("."):
            return f"{row.label}*{row.rhs}"
        return row.rhs

    for op in ("=~", "~"):
        for lhs in pd.unique(pt.loc[pt["op"] == op, "lhs"]):
            rows = pt[(pt["op"] == op) & (pt["lhs"] == lhs)]
            lines.append(f"{lhs} {op} " + " + ".join(term(r) for r in rows.itertuples(index=False)))
    for r in pt[pt["op"] == "~~"].itertuples(index=False):
        if r.exo:
            continue
        lines.append(f"{r.lhs} ~~ {term(r)}")
    return "\n".join(lines) + "\n"


def semopy_estimates(spec, frame: pd.DataFrame, *, seconds: float | None = SEMOPY_SECONDS) -> pd.DataFrame:
    """Fit with semopy (its ML objective on the divisor-N covariance) and return ``lhs, op, rhs, est``.

    At most ``SEMOPY_MAXITER`` SLSQP iterations and ``seconds`` of wall-clock time (raises
    ``TimeoutError`` when spent); a model with a factor that has no fixed loading raises ``ValueError``
    (semopy's starting-value routine would loop forever on it).
    """
    import semopy

    markerless = _markerless_latents(spec)
    if markerless:
        raise ValueError(f"factor(s) {', '.join(markerless)} have no fixed loading, on which semopy's "
                         "starting values loop")

    data = frame[list(spec.ov_names)].astype(float)
    if data.isna().any().any():
        raise ValueError("semopy must not see missing values; pass complete data")
    model = semopy.Model(semopy_syntax(spec))
    # lavaan's ML uses the covariance with divisor N; semopy's default estimates it with N - 1,
    # which rescales every variance by N/(N-1). Give semopy the divisor-N matrix itself.
    n = len(data)
    cov = data.cov() * (n - 1) / n
    import logging

    root = logging.getLogger()
    level = root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.setLevel(logging.ERROR)   # semopy logs "No fixed loadings for ..." on the root logger
        try:
            # bounded effort: this is a second opinion, not the estimator of record
            _run_with_budget(lambda: model.fit(cov=cov, n_samples=n, options={"maxiter": SEMOPY_MAXITER}),
                             seconds)
        except _Budget:
            raise TimeoutError(f"semopy did not finish within {seconds:g} s") from None
        finally:
            root.setLevel(level)
        ins = model.inspect()
    lv = set(spec.lv_names)
    rows = []
    for r in ins.itertuples(index=False):
        lval, op, rval, est = r[0], r[1], r[2], r[3]
        est = float(est) if est not in ("-", None) else math.nan
        if op == "~" and rval in lv and lval not in lv and _is_indicator(spec, rval, lval):
            rows.append((rval, "=~", lval, est))
        elif op == "~" and rval in lv and _is_indicator(spec, rval, lval):
            rows.append((rval, "=~", lval, est))
        else:
            rows.append((lval, op, rval, est))
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est"])


def _is_indicator(spec, factor, item) -> bool:
    pt = spec.partable
    return bool(((pt["op"] == "=~") & (pt["lhs"] == factor) & (pt["rhs"] == item)).any())


def semopy_start(spec, model, frame: pd.DataFrame, *, notes: list | None = None) -> np.ndarray | None:
    """Starting values for our free parameters from a semopy fit (None if semopy fails or the model is
    too large for semopy to be a quick second opinion).

    Why semopy was not used (too many parameters, no marker loading, time budget spent, an error) is
    appended to ``notes`` when given, so a skipped second opinion ends in a note, never in a wait.
    """
    def skip(why: str) -> None:
        if notes is not None:
            notes.append(f"semopy's second opinion not used: {why}")

    if model.npar > SEMOPY_MAX_PARAMETERS:
        skip(f"{model.npar} free parameters (more than {SEMOPY_MAX_PARAMETERS} take semopy minutes)")
        return None
    try:
        est = semopy_estimates(spec, frame)
    except TimeoutError as err:
        skip(str(err))
        return None
    except Exception as err:  # semopy is an optional helper here; our own optimizer decides
        skip(str(err).splitlines()[0][:200] if str(err) else type(err).__name__)
        return None
    lookup = {}
    for r in est.itertuples(index=False):
        lookup[(r.lhs, r.op, r.rhs)] = r.est
        if r.op == "~~":
            lookup[(r.rhs, r.op, r.lhs)] = r.est
    theta = np.full(model.npar, np.nan)
    for r in spec.partable.itertuples(index=False):
        if r.free > 0 and np.isnan(theta[r.free - 1]):
            v = lookup.get((r.lhs, r.op, r.rhs))
            if v is not None and np.isfinite(v):
                theta[r.free - 1] = v
    if np.isnan(theta).any():
        return None
    return theta
