"""A lavaan-like text summary of a fitted model (``summary(fit, fit.measures = TRUE, standardized = TRUE)``)."""

from __future__ import annotations

import math

_SECTIONS = (("=~", "Latent Variables"), ("~", "Regressions"), ("~~", "Covariances"),
             ("~1", "Intercepts"), ("|", "Thresholds"), ("~~v", "Variances"), (":=", "Defined Parameters"))


def _num(x, width=9, digits=3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return " " * width
    if math.isnan(x):
        return " " * width
    return f"{x:{width}.{digits}f}"


def _fit_lines(fit) -> list[str]:
    def g(name):
        return fit.get(name, float("nan"))
    robust = "chisq.scaled" in fit.index
    rows = [("Model Test User Model:", None), ("  Test statistic", "chisq"), ("  Degrees of freedom", "df"),
            ("  P-value (Chi-square)", "pvalue")]
    if robust:
        rows += [("  Scaled test statistic", "chisq.scaled"), ("  Scaling correction factor", "chisq.scaling.factor"),
                 ("  P-value (scaled)", "pvalue.scaled")]
    rows += [("", None), ("User Model versus Baseline Model:", None), ("  Comparative Fit Index (CFI)", "cfi"),
             ("  Tucker-Lewis Index (TLI)", "tli")]
    if robust:
        rows += [("  Robust CFI", "cfi.robust"), ("  Robust TLI", "tli.robust")]
    rows += [("", None), ("Loglikelihood and Information Criteria:", None), ("  Loglikelihood user model (H0)", "logl"),
             ("  Akaike (AIC)", "aic"), ("  Bayesian (BIC)", "bic"), ("", None),
             ("Root Mean Square Error of Approximation:", None), ("  RMSEA", "rmsea"),
             ("  90 Percent confidence interval - lower", "rmsea.ci.lower"),
             ("  90 Percent confidence interval - upper", "rmsea.ci.upper"),
             ("  P-value H_0: RMSEA <= 0.050", "rmsea.pvalue")]
    if robust:
        rows += [("  Robust RMSEA", "rmsea.robust")]
    rows += [("", None), ("Standardized Root Mean Square Residual:", None), ("  SRMR", "srmr")]
    out = []
    for text, key in rows:
        if key is None:
            out.append(text)
        elif key == "df":
            out.append(f"{text:<44}{int(g(key)):>12d}" if not math.isnan(g(key)) else text)
        elif key in fit.index:
            out.append(f"{text:<44}{_num(g(key), 12)}")
    return out


def summary_text(result) -> str:
    """The text lavaan's ``summary(fit, fit.measures = TRUE, standardized = TRUE)`` prints, in its layout.

    Sections: header (estimator, convergence, sample size), fit measures, then parameter blocks
    (Latent Variables, Regressions, Covariances, Intercepts, Thresholds, Variances, Defined Parameters)
    with ``Estimate  Std.Err  z-value  P(>|z|)  Std.lv  Std.all``, per group in multi-group models.
    """
    fit = result.fit
    est = result.estimates
    lines = [f"sem_cocreate {_version()} "
             f"{'ended normally' if result.converged else 'did NOT converge'}",
             "",
             f"  Estimator{result.estimator:>47}",
             f"  Number of model parameters{int(fit.get('npar', 0)):>30d}",
             f"  Number of observations{result.n_obs:>34d}",
             f"  Missing-data handling{result.missing:>35}", ""]
    lines += _fit_lines(fit)
    lines.append("")
    lines.append("Parameter Estimates:")
    groups = sorted(est["group"].unique()) if "group" in est.columns else [None]
    names = result.spec.groups
    endogenous = (set(est.loc[est["op"] == "~", "lhs"]) | set(est.loc[est["op"] == "=~", "rhs"])
                  | set(result.spec.ov_names))
    head = f"{'':<24}{'Estimate':>9}{'Std.Err':>9}{'z-value':>9}{'P(>|z|)':>9}{'Std.lv':>9}{'Std.all':>9}"
    for g in groups:
        sub = est if g is None else est[est["group"] == g]
        if g is not None and len(groups) > 1:
            lines += ["", f"Group {int(g)} [{names[int(g) - 1]}]:"]
        for op, title in _SECTIONS:
            if op == "~~v":
                rows = sub[(sub["op"] == "~~") & (sub["lhs"] == sub["rhs"])]
            elif op == "~~":
                rows = sub[(sub["op"] == "~~") & (sub["lhs"] != sub["rhs"])]
            else:
                rows = sub[sub["op"] == op]
            if not len(rows):
                continue
            lines += ["", f"{title}:", head]
            current = None
            for row in rows.to_dict("records"):
                label = f" ({row['label']})" if row.get("label") else ""
                if op in ("=~", "~") or (op == "~~" and title == "Covariances"):
                    if row["lhs"] != current:
                        sym = {"=~": "=~", "~": "~", "~~": "~~"}[op]
                        lines.append(f"  {row['lhs']} {sym}")
                        current = row["lhs"]
                    name = f"    {row['rhs']}{label}"
                elif op == ":=":
                    name = f"    {row['lhs']}"
                elif op == "|":
                    name = f"    {row['lhs']}|{row['rhs']}{label}"
                else:
                    dot = "." if row["lhs"] in endogenous else " "
                    name = f"   {dot}{row['lhs']}{label}"
                se = row.get("se")
                free = se is not None and not (isinstance(se, float) and math.isnan(se)) and float(se) > 0
                vals = _num(row["est"]) + (_num(se) + _num(row.get("z"), 9, 3) + _num(row.get("pvalue"))
                                           if free else " " * 27)
                lines.append(f"{name:<24.24}{vals}{_num(row.get('std.lv'))}{_num(row.get('std.all'))}")
    if result.notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _version() -> str:
    from .._version import __version__

    return __version__
