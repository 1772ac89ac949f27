"""Display tables: the numbers of a results folder rounded and labelled in APA style.

This is the only place where numbers are rounded and given labels. Every function takes the
plain tables of a results folder (as written by ``fit``) and returns a *display* DataFrame: all
cells are strings, the columns carry the report's labels in the chosen language. Renderers
(:mod:`sem_cocreate.report`) only lay these out.

A display table may carry ``df.attrs["bold"]``, a list of ``(row, column)`` positions that the
renderers emphasise (e.g. HTMT values above .85, the √AVE diagonal), and ``df.attrs["align"] = "left"``
for tables of text (no centred number columns).

Conventions (APA 7): p-values without a leading zero and ``< .001`` below .001; statistics that
cannot exceed 1 in absolute value (α, ω, CR, AVE, CFI, TLI, RMSEA, SRMR, R², correlations) without
a leading zero; negative numbers with a true minus sign (U+2212); negative zero shown as zero;
confidence intervals as ``[lower, upper]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import pandas as pd

from ..survey.screening import RULES as SCREEN_RULES   # the rules screening applies, in order
from .i18n import label

MINUS = "\u2212"
NA = "—"
DIGITS = 2            # estimates, SE, loadings, reliability, HTMT
FIT_DIGITS = 3        # CFI, TLI, RMSEA, SRMR
P_DIGITS = 3

INVARIANCE_MODELS = ("configural", "metric", "scalar", "strict")


# --- formatting helpers -----------------------------------------------------------------------

def _finite(x) -> bool:
    try:
        return x is not None and not pd.isna(x) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x, digits: int = DIGITS, *, leading_zero: bool = True, na: str = NA) -> str:
    """Round ``x`` to ``digits`` decimals for display.

    Parameters
    ----------
    x : float or None
        The number; None, NaN and infinities show as ``na``.
    digits : int
        Decimals.
    leading_zero : bool
        False for statistics bounded by 1 (APA: ``.95`` not ``0.95``).
    na : str
        Shown for a missing value.

    Returns
    -------
    str
        With a true minus sign; a value that rounds to zero never shows as ``-0.00``.

    Examples
    --------
    >>> fmt_num(0.2606)
    '0.26'
    >>> fmt_num(-0.0004)
    '0.00'
    >>> fmt_num(-0.125, 3, leading_zero=False)
    '−.125'
    """
    if not _finite(x):
        return na
    s = f"{float(x):.{digits}f}"
    if float(s) == 0.0:
        s = f"{0.0:.{digits}f}"
    neg = s.startswith("-")
    body = s[1:] if neg else s
    if not leading_zero and body.startswith("0."):
        body = body[1:]
    return (MINUS if neg else "") + body


def fmt_int(x, *, na: str = NA) -> str:
    """An integer count with thousands separators (``1,234``)."""
    if not _finite(x):
        return na
    v = int(round(float(x)))
    return (MINUS if v < 0 else "") + f"{abs(v):,}"


def fmt_p(p, *, na: str = NA) -> str:
    """A p-value in APA style: three decimals, no leading zero, ``< .001`` and ``> .999`` at the ends.

    Examples
    --------
    >>> fmt_p(0.0000172), fmt_p(0.04), fmt_p(0.95598), fmt_p(1.0)
    ('< .001', '.040', '.956', '> .999')
    """
    if not _finite(p):
        return na
    p = float(p)
    if p < 0.001:
        return "< .001"
    s = f"{p:.{P_DIGITS}f}"
    if float(s) >= 1.0:
        return "> .999"
    if float(s) < 0.001:          # 0.0010 - 0.00149 rounds to .001
        s = "0.001"
    return s[1:]


def fmt_ci(lower, upper, digits: int = DIGITS, *, leading_zero: bool = True, na: str = NA) -> str:
    """A confidence interval ``[lower, upper]``.

    Examples
    --------
    >>> fmt_ci(0.1418, 0.3795)
    '[0.14, 0.38]'
    >>> fmt_ci(-0.0972, 0.1028)
    '[−0.10, 0.10]'
    """
    if not (_finite(lower) and _finite(upper)):
        return na
    return (f"[{fmt_num(lower, digits, leading_zero=leading_zero)}, "
            f"{fmt_num(upper, digits, leading_zero=leading_zero)}]")


def fmt_fixed(text) -> str:
    """Text cells: NaN → the NA dash."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return NA
    return str(text)


def _bold(df: pd.DataFrame, cells) -> pd.DataFrame:
    df.attrs["bold"] = sorted(set(cells))
    return df


def _first_group(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the first group in a multi-group table (the report shows group 1 unless it says otherwise)."""
    if "group" in df.columns and df["group"].notna().any():
        return df[df["group"] == df["group"].dropna().iloc[0]]
    return df


def construct_label(cid: str, names: Mapping[str, str] | None) -> str:
    """``"RI"`` or, with instrument names, ``"RI Relational interaction"``."""
    if names and cid in names and names[cid]:
        return f"{cid} {names[cid]}"
    return cid


# --- 1 sample and screening --------------------------------------------------------------------

def screening_table(screening: Mapping, *, n_obs: int | None = None, lang: str = "en") -> pd.DataFrame:
    """The screening flow: raw n, each rule (flagged, removed, remaining n), retained n and the
    listwise-deleted and analysed n.

    Parameters
    ----------
    screening : mapping
        ``screening.json`` (keys ``n_raw``, ``n_analysed``, ``rules``, ``flow``).
    n_obs : int, optional
        The n the models were estimated on (``notes.json``); adds the listwise-deletion row.
    lang : str

    Returns
    -------
    pandas.DataFrame
        Columns Step, Flagged, Removed, Remaining n.
    """
    rules = screening.get("rules", {}) or {}
    rows = []
    flow = screening.get("flow") or []
    if not flow:
        flow = [{"step": "raw", "removed": 0, "n": screening.get("n_raw")}]
        n = screening.get("n_raw")
        for name in rules:
            removed = rules[name].get("removed", 0) or 0
            n = None if n is None else n - removed
            flow.append({"step": name, "removed": removed, "n": n})
        flow.append({"step": "analysed", "removed": 0, "n": screening.get("n_analysed")})
    for step in flow:
        name = step.get("step")
        rule = rules.get(name, {})
        if name in rules and rule.get("enabled") is False:
            continue
        key = f"step_{name}"
        text = label(key, lang) if name in SCREEN_RULES or name in ("raw", "analysed") else str(name)
        flagged = fmt_int(rule.get("flagged")) if name in rules else ""
        removed = fmt_int(step.get("removed")) if name in rules else ""
        rows.append([text, flagged, removed, fmt_int(step.get("n"))])
    bold = [(len(rows) - 1, 3)] if rows else []
    analysed = screening.get("n_analysed")
    if n_obs is not None and analysed is not None and int(n_obs) != int(analysed):
        rows.append([label("step_listwise", lang), "", fmt_int(int(analysed) - int(n_obs)), fmt_int(n_obs)])
        rows.append([label("step_model", lang), "", "", fmt_int(n_obs)])
        bold = [(len(rows) - 1, 3)]
    cols = [label(k, lang) for k in ("col_step", "col_flagged", "col_removed", "col_remaining")]
    return _bold(pd.DataFrame(rows, columns=cols), bold)


# --- fit -----------------------------------------------------------------------------------------

def _robust(fit: Mapping) -> bool:
    return str(fit.get("estimator", "")).upper() == "MLR" and _finite(fit.get("chisq.scaled"))


def fit_row(fit: Mapping) -> dict[str, str]:
    """The display cells of one model's fit (robust versions under MLR)."""
    r = _robust(fit)
    sfx = ".robust" if r else ""
    chisq = fit.get("chisq.scaled") if r else fit.get("chisq")
    p = fit.get("pvalue.scaled") if r else fit.get("pvalue")
    cfi = fit.get("cfi" + sfx, fit.get("cfi"))
    tli = fit.get("tli" + sfx, fit.get("tli"))
    rmsea = fit.get("rmsea" + sfx, fit.get("rmsea"))
    lo = fit.get("rmsea.ci.lower" + sfx, fit.get("rmsea.ci.lower"))
    hi = fit.get("rmsea.ci.upper" + sfx, fit.get("rmsea.ci.upper"))
    rm = fmt_num(rmsea, FIT_DIGITS, leading_zero=False)
    if _finite(lo) and _finite(hi):
        rm += " " + fmt_ci(lo, hi, FIT_DIGITS, leading_zero=False)
    df = fit.get("df")
    chidf = chisq / df if _finite(chisq) and _finite(df) and df > 0 else float("nan")
    bchi, bdf = fit.get("baseline.chisq.scaled" if r else "baseline.chisq"), fit.get("baseline.df")
    ifi = fit.get("ifi")
    if not _finite(ifi) and _finite(bchi) and _finite(bdf) and _finite(chisq) and bchi - df > 0:
        ifi = (bchi - chisq) / (bchi - df)          # Bollen's (1989) IFI, lavaan's fitMeasures "ifi"
    return {"chisq": fmt_num(chisq, 2), "df": fmt_int(fit.get("df")), "p": fmt_p(p), "chidf": fmt_num(chidf, 2),
            "ifi": fmt_num(ifi, FIT_DIGITS, leading_zero=False), "pclose": fmt_p(fit.get("rmsea.pvalue" + sfx,
                                                                                        fit.get("rmsea.pvalue"))),
            "cfi": fmt_num(cfi, FIT_DIGITS, leading_zero=False), "tli": fmt_num(tli, FIT_DIGITS, leading_zero=False),
            "rmsea": rm, "srmr": fmt_num(fit.get("srmr"), FIT_DIGITS, leading_zero=False),
            "aic": fmt_num(fit.get("aic"), 1), "bic": fmt_num(fit.get("bic"), 1)}


def fit_table(models: Mapping[str, Mapping], *, lang: str = "en") -> pd.DataFrame:
    """One row per model: χ², df, p, CFI, TLI, RMSEA [90% CI], SRMR, AIC, BIC.

    Parameters
    ----------
    models : mapping
        Row label → ``fit.json`` contents (lavaan ``fitMeasures()`` names).

    Returns
    -------
    pandas.DataFrame
    """
    keys = ("chisq", "df", "p", "chidf", "cfi", "tli", "ifi", "rmsea", "pclose", "srmr", "aic", "bic")
    rows = []
    for name, fit in models.items():
        cells = fit_row(fit)
        rows.append([name] + [cells[k] for k in keys])
    cols = [label("col_model", lang)] + [label(f"col_{k}", lang) for k in keys]
    return pd.DataFrame(rows, columns=cols)


# --- 2 measurement -------------------------------------------------------------------------------

def loadings_table(estimates: pd.DataFrame, *, names: Mapping[str, str] | None = None,
                   wording: Mapping[str, str] | None = None, loading_min: float = 0.5,
                   lang: str = "en") -> pd.DataFrame:
    """Standardized loadings per construct: Construct, Item, [Wording], λ (std.), b, SE, p.

    Parameters
    ----------
    estimates : pandas.DataFrame
        ``measurement/estimates.csv`` (lavaan columns); the ``=~`` rows are used.
    names : mapping, optional
        Construct id → name (shown on the first row of each construct).
    wording : mapping, optional
        Item id → item text in ``lang``.
    loading_min : float
        |λ| below this is emphasised.
    """
    est = _std_all(_first_group(estimates))
    rows = []
    bold = []
    last = None
    for r in est[est["op"] == "=~"].itertuples(index=False):
        lhs, rhs = r.lhs, r.rhs
        std = getattr(r, "std_all", None)
        row = [construct_label(lhs, names) if lhs != last else "", rhs]
        if wording:
            row.append(fmt_fixed(wording.get(rhs, "")) or "")
        row += [fmt_num(std), fmt_num(r.est), fmt_num(r.se) if _finite(r.se) and r.se > 0 else NA,
                fmt_p(r.pvalue)]
        if _finite(std) and abs(float(std)) < loading_min:
            bold.append((len(rows), len(row) - 4))
        rows.append(row)
        last = lhs
    cols = [label("col_construct", lang), label("col_item", lang)]
    if wording:
        cols.append(label("col_wording", lang))
    cols += [label(k, lang) for k in ("col_lambda", "col_b", "col_se", "col_p")]
    return _bold(pd.DataFrame(rows, columns=cols), bold)


def _std_all(df: pd.DataFrame) -> pd.DataFrame:
    """itertuples cannot name ``std.all``; expose it as ``std_all``."""
    return df.rename(columns={"std.all": "std_all", "ci.lower": "ci_lower", "ci.upper": "ci_upper",
                              "std.lv": "std_lv"})


def reliability_display(reliability: pd.DataFrame, *, flags: pd.DataFrame | None = None,
                        names: Mapping[str, str] | None = None, lang: str = "en") -> pd.DataFrame:
    """Construct, Items, α, ω, CR, AVE, Flags (CR < .70 or AVE < .50 emphasised).

    Parameters
    ----------
    reliability : pandas.DataFrame
        ``reliability.csv``: ``construct, n_items, alpha, omega, cr, ave``.
    flags : pandas.DataFrame, optional
        ``measurement_flags.csv``: ``name, construct, statistic, value, threshold``.
    """
    rows, bold = [], []
    for i, r in enumerate(reliability.itertuples(index=False)):
        row = [construct_label(r.construct, names), fmt_int(r.n_items)]
        for j, (val, thr) in enumerate(((r.alpha, 0.7), (r.omega, 0.7), (r.cr, 0.7), (r.ave, 0.5))):
            row.append(fmt_num(val, DIGITS, leading_zero=False))
            if _finite(val) and val < thr:
                bold.append((i, 2 + j))
        found = []
        if flags is not None and len(flags):
            for f in flags[flags["construct"] == r.construct].itertuples(index=False):
                what = label(f"flag_{f.statistic}", lang)
                found.append(f"{f.name}: {what}" if f.name != r.construct else what)
        row.append("; ".join(found) if found else "")
        rows.append(row)
    cols = [label(k, lang) for k in ("col_construct", "col_k", "col_alpha", "col_omega", "col_cr", "col_ave",
                                      "col_flags")]
    return _bold(pd.DataFrame(rows, columns=cols), bold)


def flag_lines(flags: pd.DataFrame | None, *, lang: str = "en") -> list[str]:
    """One sentence per measurement flag."""
    if flags is None or not len(flags):
        return []
    out = []
    for f in flags.itertuples(index=False):
        out.append(label("flag_line", lang, name=f.name, construct=f.construct,
                         what=label(f"flag_{f.statistic}", lang),
                         value=fmt_num(f.value, DIGITS, leading_zero=False),
                         threshold=fmt_num(f.threshold, DIGITS, leading_zero=False)))
    return out


def _square(matrix: pd.DataFrame) -> pd.DataFrame:
    m = matrix.copy()
    if "construct" in m.columns:
        m = m.set_index("construct")
    return m.apply(pd.to_numeric, errors="coerce")


def htmt_display(htmt: pd.DataFrame, *, lang: str = "en", warn: float = 0.85,
                 fail: float = 0.90) -> pd.DataFrame:
    """Lower triangle of the HTMT matrix; values above ``warn`` get ``*``, above ``fail`` ``**`` (and bold).

    Parameters
    ----------
    htmt : pandas.DataFrame
        ``validity/htmt.csv`` (first column ``construct``).
    """
    m = _square(htmt)
    ids = list(m.index)
    rows, bold = [], []
    for i, a in enumerate(ids):
        row = [a]
        for j, b in enumerate(ids):
            if j < i:
                v = m.loc[a, b]
                s = fmt_num(v, DIGITS, leading_zero=False)
                if _finite(v) and v > fail:
                    s += "**"
                    bold.append((i, j + 1))
                elif _finite(v) and v > warn:
                    s += "*"
                    bold.append((i, j + 1))
                row.append(s)
            elif j == i:
                row.append(NA)
            else:
                row.append("")
        rows.append(row)
    return _bold(pd.DataFrame(rows, columns=[label("col_construct", lang)] + ids), bold)


def htmt_max(htmt: pd.DataFrame) -> tuple[float, str]:
    """The largest off-diagonal HTMT and its pair (``"KS–VCC"``)."""
    m = _square(htmt)
    ids = list(m.index)
    best, pair = float("nan"), ""
    for i, a in enumerate(ids):
        for b in ids[:i]:
            v = m.loc[a, b]
            if _finite(v) and not (best >= v):
                best, pair = float(v), f"{b}–{a}"
    return best, pair


def fornell_larcker_display(fl: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """√AVE on the diagonal (bold), latent correlations below it; a correlation larger than either
    construct's √AVE gets ``*``.

    Parameters
    ----------
    fl : pandas.DataFrame
        ``validity/fornell_larcker.csv``.

    Returns
    -------
    pandas.DataFrame
        ``df.attrs["violations"]`` holds the number of starred cells.
    """
    m = _square(fl)
    ids = list(m.index)
    rows, bold, viol = [], [], 0
    for i, a in enumerate(ids):
        row = [a]
        for j, b in enumerate(ids):
            v = m.loc[a, b]
            if j < i:
                s = fmt_num(v, DIGITS, leading_zero=False)
                if _finite(v) and abs(v) > min(m.loc[a, a], m.loc[b, b]):
                    s += "*"
                    viol += 1
                row.append(s)
            elif j == i:
                row.append(fmt_num(v, DIGITS, leading_zero=False))
                bold.append((i, j + 1))
            else:
                row.append("")
        rows.append(row)
    out = _bold(pd.DataFrame(rows, columns=[label("col_construct", lang)] + ids), bold)
    out.attrs["violations"] = viol
    return out


def normality_display(normality: Mapping, *, lang: str = "en") -> pd.DataFrame:
    """Mardia's skewness (χ², p) and kurtosis (z, p) as two rows: Statistic, Value, χ²/z, p."""
    p = int(normality.get("n_var", 0) or 0)
    df = p * (p + 1) * (p + 2) / 6
    rows = [
        [label("norm_skew", lang), fmt_num(normality.get("b1p"), 2)],
        [label("norm_skew_chi", lang, df=fmt_int(df)), fmt_num(normality.get("skew"), 2)],
        [label("col_p", lang), fmt_p(normality.get("p_skew"))],
        [label("norm_kurt", lang, expected=fmt_int(p * (p + 2))), fmt_num(normality.get("b2p"), 2)],
        [label("norm_kurt_z", lang), fmt_num(normality.get("kurtosis"), 2)],
        [label("col_p", lang), fmt_p(normality.get("p_kurt"))],
    ]
    return pd.DataFrame(rows, columns=[label("col_statistic", lang), label("col_value", lang)])


def normality_recommendation(normality: Mapping, *, estimator: str = "ML", lang: str = "en",
                             alpha: float = 0.05) -> str:
    """The ML-versus-MLR sentence from Mardia's p-values, followed by what this run used."""
    which = []
    if _finite(normality.get("p_skew")) and normality["p_skew"] < alpha:
        which.append(f"{label('norm_skew_word', lang)} p = {fmt_p(normality['p_skew'])}".replace("p = <", "p <"))
    if _finite(normality.get("p_kurt")) and normality["p_kurt"] < alpha:
        which.append(f"{label('norm_kurt_word', lang)} p = {fmt_p(normality['p_kurt'])}".replace("p = <", "p <"))
    sep = "；" if lang == "zh" else "; "
    skew_sig = _finite(normality.get("p_skew")) and normality["p_skew"] < alpha
    negative_kurt = _finite(normality.get("kurtosis")) and normality["kurtosis"] < 0
    if which and not skew_sig and negative_kurt:
        text = label("norm_reco_negkurt", lang)
    else:
        text = (label("norm_reco_mlr", lang, which=sep.join(which)) if which else label("norm_reco_ml", lang))
    space = "" if lang == "zh" else " "
    return text + space + label("norm_used", lang, estimator=str(estimator).upper())


# --- 3 structural ----------------------------------------------------------------------------------

def hypotheses_display(hypotheses: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """H, Path, β, b, SE, p, 95% CI, Supported? from ``hypotheses.csv``.

    Examples
    --------
    >>> h = pd.DataFrame({"id": ["H1"], "path": ["PS → RI"], "est": [0.2607], "se": [0.0606],
    ...                   "std.all": [0.2386], "pvalue": [1.7e-05], "ci.lower": [0.1418],
    ...                   "ci.upper": [0.3795], "supported": ["supported"]})
    >>> hypotheses_display(h).iloc[0].tolist()
    ['H1', 'PS → RI', '0.24', '0.26', '0.06', '< .001', '[0.14, 0.38]', 'Yes']
    """
    rows = []
    bold = []
    for i, r in enumerate(_std_all(hypotheses).itertuples(index=False)):
        verdict = str(r.supported) if isinstance(r.supported, str) else ""
        shown = label(f"verdict_{verdict}", lang) if verdict else NA
        if verdict == "supported":
            bold.append((i, 7))
        rows.append([r.id, r.path, fmt_num(r.std_all), fmt_num(r.est), fmt_num(r.se), fmt_p(r.pvalue),
                     fmt_ci(r.ci_lower, r.ci_upper), shown])
    cols = [label(k, lang) for k in ("col_h", "col_path", "col_beta", "col_b", "col_se", "col_p", "col_ci",
                                      "col_supported")]
    return _bold(pd.DataFrame(rows, columns=cols), bold)


def paths_display(estimates: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """All regression paths of ``estimates.csv`` (for models without a hypotheses table)."""
    est = _std_all(_first_group(estimates))
    rows = []
    for r in est[est["op"] == "~"].itertuples(index=False):
        rows.append([f"{r.rhs} → {r.lhs}", fmt_num(r.std_all), fmt_num(r.est), fmt_num(r.se), fmt_p(r.pvalue),
                     fmt_ci(r.ci_lower, r.ci_upper)])
    cols = [label(k, lang) for k in ("col_path", "col_beta", "col_b", "col_se", "col_p", "col_ci")]
    return pd.DataFrame(rows, columns=cols)


def endogenous(estimates: pd.DataFrame) -> list[str]:
    """Variables regressed on others (``~`` left-hand sides), in order of appearance."""
    lhs = estimates.loc[estimates["op"] == "~", "lhs"]
    return list(dict.fromkeys(lhs))


def r2_display(r2: pd.DataFrame, estimates: pd.DataFrame, *, names: Mapping[str, str] | None = None,
               lang: str = "en") -> pd.DataFrame:
    """R² of the endogenous constructs (the ``~`` left-hand sides), not of the indicators."""
    endo = endogenous(estimates)
    r2 = _first_group(r2)
    col = "variable" if "variable" in r2.columns else r2.columns[0]
    val = "r2" if "r2" in r2.columns else r2.columns[-1]
    sub = r2[r2[col].isin(endo)].set_index(col)
    rows = [[construct_label(v, names), fmt_num(sub.loc[v, val], DIGITS, leading_zero=False)]
            for v in endo if v in sub.index]
    return pd.DataFrame(rows, columns=[label("col_construct", lang), label("col_r2", lang)])


# --- 4 mediation ----------------------------------------------------------------------------------

_KIND_PREFIX = (("totind_", "total_indirect"), ("total_", "total"), ("diff_", "contrast"), ("ind_", "specific"))


def effect_kind(name: str) -> str:
    """The kind of a defined effect from the model builder's naming (``ind_``, ``totind_``, ``total_``, ``diff_``)."""
    for prefix, kind in _KIND_PREFIX:
        if name.startswith(prefix):
            return kind
    return "defined"


def effect_path(name: str) -> str:
    """A readable path from the model builder's effect names.

    Examples
    --------
    >>> effect_path("ind_PS_RI_KS_VCC")
    'PS → RI → KS → VCC'
    >>> effect_path("totind_PS_VCC"), effect_path("diff_PS_RI_vs_KS_VCC")
    ('PS ⇒ VCC', 'PS → RI → VCC − PS → KS → VCC')
    """
    kind = effect_kind(name)
    parts = name.split("_")[1:]
    if kind == "specific" and len(parts) >= 3:
        return " → ".join(parts)
    if kind in ("total", "total_indirect") and len(parts) == 2:
        return f"{parts[0]} ⇒ {parts[1]}"
    m = re.fullmatch(r"diff_([^_]+)_(.+)_vs_(.+)_([^_]+)", name)
    if m:
        x, a, b, y = m.groups()
        return f"{x} → {a.replace('_', ' → ')} → {y} {MINUS} {x} → {b.replace('_', ' → ')} → {y}"
    return name


def indirect_from_estimates(estimates: pd.DataFrame, *, method: str = "delta", n_boot: int = 0) -> pd.DataFrame:
    """The contract columns of ``indirect.csv`` built from the ``:=`` rows of ``estimates.csv``
    (no new numbers: est, se, CI, p and std.all are copied)."""
    d = _first_group(estimates)
    d = d[d["op"] == ":="]
    rows = []
    for r in d.itertuples(index=False):
        name = r.lhs
        parts = name.split("_")
        kind = effect_kind(name)
        to = parts[-1] if kind != "defined" else ""
        frm = parts[1] if kind != "defined" and len(parts) > 2 else ""
        rows.append({"name": name, "path": effect_path(name), "est": r.est, "se": r.se,
                     "kind": kind, "from": frm, "to": to})
    out = pd.DataFrame(rows)
    if len(out):
        out["ci.lower"] = d["ci.lower"].to_numpy()
        out["ci.upper"] = d["ci.upper"].to_numpy()
        out["std.all"] = d["std.all"].to_numpy() if "std.all" in d else float("nan")
        out["pvalue"] = d["pvalue"].to_numpy() if "pvalue" in d else float("nan")
        out["method"] = method
        out["n_boot"] = n_boot
    return out


def method_label(method, *, lang: str = "en") -> str:
    """``"bootstrap bca"`` → "bias-corrected and accelerated (BCa) bootstrap", and so on."""
    m = str(method or "").strip().lower()
    for key, lab in (("bca", "method_bca"), ("bc", "method_bc"), ("perc", "method_perc"),
                     ("percentile", "method_perc"), ("monte", "method_mc"), ("mc", "method_mc"),
                     ("delta", "method_delta")):
        if key in m.replace("-", " ").split() or (key == "monte" and "monte" in m):
            return label(lab, lang)
    if m == "bootstrap":
        return label("method_perc", lang)
    return str(method) if m else NA


def mediation_type_label(value, *, lang: str = "en") -> str:
    """Zhao, Lynch & Chen (2010) types, translated; other values are shown as given."""
    if not isinstance(value, str) or not value:
        return ""
    key = value.strip().lower().replace("_", "-").replace(" ", "-")
    key = {"no-direct-path-in-model": "no-direct", "indirect-only": "indirect-only", "full": "indirect-only", "direct-only": "direct-only",
           "no-effect": "no-effect", "none": "no-effect", "complementary": "complementary",
           "competitive": "competitive"}.get(key, key)
    text = label(f"medtype_{key}", lang)
    return value if text == f"medtype_{key}" else text


def indirect_outcomes(indirect: pd.DataFrame) -> list[str]:
    """Outcomes (``to``) of the indirect effects in order of appearance ("" when unknown)."""
    if "to" not in indirect.columns:
        return [""]
    return list(dict.fromkeys(indirect["to"].fillna("").astype(str)))


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def indirect_path(row: Mapping) -> str:
    """The display path of an ``indirect.csv`` row, built from ``kind``, ``from``, ``through``, ``to``
    when present (so it needs no translation), else from ``path`` or the effect name.

    Examples
    --------
    >>> indirect_path({"kind": "specific", "from": "PS", "through": "RI>KS", "to": "VCC"})
    'PS → RI → KS → VCC'
    >>> indirect_path({"kind": "contrast", "from": "TR", "through": "RI vs KS", "to": "VCC"})
    'TR → RI → VCC − TR → KS → VCC'
    >>> indirect_path({"path": "PS -> ... -> VCC (total indirect)"})
    'PS → … → VCC (total indirect)'
    """
    kind, frm, to, through = (_text(row.get(k)) for k in ("kind", "from", "to", "through"))
    if frm and to:
        if kind == "specific" and through:
            return " → ".join([frm, *through.split(">"), to])
        if kind in ("total", "total_indirect"):
            return f"{frm} ⇒ {to}"
        if kind == "direct":
            return f"{frm} → {to}"
        if kind == "contrast" and " vs " in through:
            a, b = (x.strip() for x in through.split(" vs ", 1))
            pa = " → ".join([frm, *a.split(">"), to])
            pb = " → ".join([frm, *b.split(">"), to])
            return f"{pa} {MINUS} {pb}"
    path = _text(row.get("path"))
    if path:
        return path.replace("->", "→").replace("...", "…")
    return effect_path(_text(row.get("name")))


def indirect_display(indirect: pd.DataFrame, *, outcome: str | None = None, lang: str = "en") -> pd.DataFrame:
    """Effect (path), Type, b, SE, 95% CI, β, p, [P_M], [mediation type] for one outcome.

    Parameters
    ----------
    indirect : pandas.DataFrame
        ``indirect.csv``: ``name, path, est, se, ci.lower, ci.upper, method, n_boot, n_failed`` and,
        where present, ``kind, from, to, through, std.all, pvalue, proportion_mediated, mediation_type``.
    outcome : str, optional
        Keep the rows with this ``to``.

    Returns
    -------
    pandas.DataFrame
        Intervals whose bounds exclude zero are emphasised.
    """
    d = indirect
    if {"kind", "from", "to", "est"} <= set(d.columns):
        # a total equal to its total indirect effect (no direct path) is shown once
        ti = d[d["kind"] == "total_indirect"].set_index(["from", "to"])["est"]
        dup = d.apply(lambda r: r["kind"] == "total" and (r["from"], r["to"]) in ti.index
                      and abs(ti.loc[(r["from"], r["to"])] - r["est"]) < 1e-12, axis=1)
        d = d[~dup.astype(bool)]
    if outcome is not None and "to" in d.columns:
        d = d[d["to"].fillna("").astype(str) == outcome]
    has_pm = "proportion_mediated" in d.columns and d["proportion_mediated"].notna().any()
    # one mediation type for every row (e.g. no direct paths in the model): said in the note instead
    types = d["mediation_type"].dropna().astype(str) if "mediation_type" in d.columns else pd.Series(dtype=str)
    has_type = len(types) > 0 and (types.nunique() > 1 or len(d) == 1)
    has_std = "std.all" in d.columns and d["std.all"].notna().any()
    boot = "method" in d.columns and d["method"].astype(str).str.contains("boot|perc|bca|bc", regex=True).any()
    # a bootstrap table shows no normal-theory p next to its percentile intervals
    has_p = "pvalue" in d.columns and d["pvalue"].notna().any() and not boot
    has_padj = "pvalue.adj" in d.columns and d["pvalue.adj"].notna().any()
    rows, bold = [], []
    for i, r in enumerate(d.to_dict("records")):
        path = indirect_path(r)
        kind = r.get("kind") if isinstance(r.get("kind"), str) else effect_kind(str(r.get("name", "")))
        kind_text = label(f"kind_{kind}", lang)
        if kind_text.startswith("kind_"):
            kind_text = kind
        row = [path, kind_text, fmt_num(r.get("est"), 3), fmt_num(r.get("se"), 3),
               fmt_ci(r.get("ci.lower"), r.get("ci.upper"), 3)]
        lo, hi = r.get("ci.lower"), r.get("ci.upper")
        if _finite(lo) and _finite(hi) and (lo > 0 or hi < 0):
            bold.append((i, 4))
        if has_std:
            row.append(fmt_num(r.get("std.all"), 3))
        if has_p:
            row.append(fmt_p(r.get("pvalue")))
        if has_padj:
            row.append(fmt_p(r.get("pvalue.adj")))
        if has_pm:
            pm = r.get("proportion_mediated")
            clear = _finite(lo) and _finite(hi) and (lo > 0 or hi < 0) and _finite(pm) and 0 <= pm <= 1
            row.append(fmt_num(pm, 2) if clear and kind in ("specific", "total_indirect") else "")
        if has_type:
            row.append(mediation_type_label(r.get("mediation_type"), lang=lang))
        rows.append(row)
    cols = [label(k, lang) for k in ("col_effect", "col_kind", "col_b", "col_se", "col_ci")]
    if has_std:
        cols.append(label("col_beta", lang))
    if has_p:
        cols.append(label("col_p", lang))
    if has_padj:
        cols.append(label("col_padj", lang))
    if has_pm:
        cols.append(label("col_pm", lang))
    if has_type:
        cols.append(label("col_medtype", lang))
    return _bold(pd.DataFrame(rows, columns=cols), bold)


# --- 5 invariance -----------------------------------------------------------------------------------

def invariance_display(invariance: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Model, χ², df, CFI, TLI, RMSEA, SRMR, Δχ², Δdf, p(Δχ²), ΔCFI from ``invariance.csv``."""
    rows = []
    for r in invariance.to_dict("records"):
        name = str(r.get("model", ""))
        text = label(f"inv_{name}", lang)
        rows.append([name if text == f"inv_{name}" else text, fmt_num(r.get("chisq"), 2), fmt_int(r.get("df")),
                     fmt_num(r.get("cfi"), FIT_DIGITS, leading_zero=False),
                     fmt_num(r.get("tli"), FIT_DIGITS, leading_zero=False),
                     fmt_num(r.get("rmsea"), FIT_DIGITS, leading_zero=False),
                     fmt_num(r.get("srmr"), FIT_DIGITS, leading_zero=False),
                     fmt_num(r.get("delta.chisq"), 2), fmt_int(r.get("delta.df")), fmt_p(r.get("delta.pvalue")),
                     fmt_num(r.get("delta.cfi"), FIT_DIGITS, leading_zero=False)])
    cols = [label(k, lang) for k in ("col_model", "col_chisq", "col_df", "col_cfi", "col_tli", "col_rmsea",
                                      "col_srmr", "col_dchisq", "col_ddf", "col_dp", "col_dcfi")]
    cols[5] = "RMSEA"
    return pd.DataFrame(rows, columns=cols)


def group_paths_display(group_paths: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Path, b per group, difference, SE, χ²(df), p from ``group_paths.csv`` (columns ``lhs, op, rhs,
    est_<group>..., diff, se_diff, chisq, df, pvalue``). Differences with p < .05 are emphasised."""
    groups = [c[4:] for c in group_paths.columns if c.startswith("est_")]
    rows, bold = [], []
    for i, r in enumerate(group_paths.to_dict("records")):
        row = [f"{r['rhs']} → {r['lhs']}" if r.get("op") == "~" else f"{r['lhs']} {r.get('op', '')} {r['rhs']}"]
        row += [fmt_num(r.get(f"est_{g}")) for g in groups]
        row += [fmt_num(r.get("diff")), fmt_num(r.get("se_diff")), fmt_num(r.get("chisq"), 2), fmt_int(r.get("df")),
                fmt_p(r.get("pvalue"))]
        if _finite(r.get("pvalue")) and r["pvalue"] < 0.05:
            bold.append((i, len(row) - 1))
        rows.append(row)
    cols = [label("col_path", lang)] + [f"b ({g})" for g in groups] + [
        label(k, lang) for k in ("col_diff", "col_se", "col_chisq", "col_df", "col_p")]
    return _bold(pd.DataFrame(rows, columns=cols), bold)


# --- 7 reproducibility -------------------------------------------------------------------------------

def key_value_table(pairs, *, lang: str = "en", key_col: str = "col_key", value_col: str = "col_value"
                    ) -> pd.DataFrame:
    """A two-column table from ``(label, value)`` pairs (values shown as given)."""
    out = pd.DataFrame([[k, fmt_fixed(v)] for k, v in pairs], columns=[label(key_col, lang), label(value_col, lang)])
    out.attrs["align"] = "left"
    return out


def inputs_table(manifest: Mapping, *, lang: str = "en") -> pd.DataFrame:
    """Role, File, SHA-256 of every input recorded in ``manifest.json``."""
    rows = []
    for role, info in (manifest.get("inputs") or {}).items():
        text = label(f"role_{role}", lang)
        rows.append([role if text == f"role_{role}" else text, info.get("path", ""), info.get("sha256", "")])
    out = pd.DataFrame(rows, columns=[label(k, lang) for k in ("col_role", "col_file", "col_sha")])
    out.attrs["align"] = "left"
    return out


def versions_table(manifest: Mapping, *, lang: str = "en") -> pd.DataFrame:
    """Package, Version from ``manifest.json``."""
    rows = [[k, str(v)] for k, v in (manifest.get("versions") or {}).items()]
    out = pd.DataFrame(rows, columns=[label("col_package", lang), label("col_version", lang)])
    out.attrs["align"] = "left"
    return out


# ----------------------------------------------------------------------------- common-method variance

def cmv_display(harman: dict | None, single: pd.DataFrame | None, ulmc: dict | None, *, lang: str = "en") -> pd.DataFrame:
    """One row per common-method check: Harman's share, the single-factor CFA comparison, the method factor."""
    from .i18n import label

    rows = []
    if harman:
        share = f"{100 * float(harman['share']):.1f}%"
        rows.append({label("col_check", lang): label("cmv_harman", lang),
                     label("col_result", lang): label("cmv_harman_val", lang, share=share)})
    if single is not None and len(single) >= 2:
        r = single.iloc[1]
        rows.append({label("col_check", lang): label("cmv_single", lang),
                     label("col_result", lang): label("cmv_single_val", lang, df=fmt_int(r["delta.df"]),
                                                      chisq=fmt_num(r["delta.chisq"], 2),
                                                      p=_p_phrase(r["delta.pvalue"]),
                                                      cfi=fmt_num(r["cfi"], 3, leading_zero=False))})
    if ulmc and ulmc.get("converged") is False:
        rows.append({label("col_check", lang): label("cmv_ulmc", lang),
                     label("col_result", lang): label("cmv_ulmc_boundary", lang)})
    elif ulmc:
        rows.append({label("col_check", lang): label("cmv_ulmc", lang),
                     label("col_result", lang): label("cmv_ulmc_val", lang,
                                                      method=f"{100 * float(ulmc['mean_method_share']):.1f}%",
                                                      trait=f"{100 * float(ulmc['mean_trait_share']):.1f}%")})
    return pd.DataFrame(rows)


def _p_phrase(p) -> str:
    text = fmt_p(p)
    return text if text.startswith(("<", ">")) else f"= {text}"


def kmo_sentence(exploratory: dict | None, *, lang: str = "en") -> str:
    from .i18n import label

    if not exploratory:
        return ""
    b = exploratory.get("bartlett", {})
    return label("kmo_sentence", lang, kmo=fmt_num(exploratory.get("kmo_overall"), 2, leading_zero=False),
                 df=fmt_int(b.get("df")), chisq=fmt_num(b.get("chisq"), 1), p=_p_phrase(b.get("pvalue")))


def htmt_ci_display(ci: pd.DataFrame, *, k: int = 10, lang: str = "en") -> pd.DataFrame:
    """The ``k`` largest HTMT ratios with their bootstrap interval and the .85/.90 verdicts."""
    from .i18n import label

    top = ci.sort_values("htmt", ascending=False).head(k)
    rows = []
    for r in top.itertuples(index=False):
        below85 = "✓" if r.ci_upper < 0.85 else "✗"
        below90 = "✓" if r.ci_upper < 0.90 else "✗"
        rows.append({label("col_pair", lang): f"{r.lhs} – {r.rhs}",
                     "HTMT": fmt_num(r.htmt, 2, leading_zero=False),
                     label("col_ci", lang): fmt_ci(r.ci_lower, r.ci_upper, 2),
                     label("col_upper_below", lang): f"{below85} / {below90}"})
    return pd.DataFrame(rows)


# --- paper tables (issue 13) ---------------------------------------------------------------------

def profile_display(profile: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Characteristic, Category, n, %: one row a level (numeric fields as M (SD))."""
    rows, last = [], None
    for r in profile.to_dict("records"):
        field = str(r["field"])
        shown = field if field != last else ""
        last = field
        if r.get("kind") == "numeric":
            rows.append([shown, f"M = {fmt_num(r.get('mean'), 2)} (SD = {fmt_num(r.get('sd'), 2)})",
                         fmt_int(r.get("n")), fmt_num(100 * r["share"], 1) if _finite(r.get("share")) else NA])
        else:
            rows.append([shown, _text(r.get("level")), fmt_int(r.get("n")),
                         fmt_num(100 * r["share"], 1) if _finite(r.get("share")) else NA])
    df = pd.DataFrame(rows, columns=[label(k, lang) for k in ("col_field", "col_level", "col_count", "col_share")])
    df.attrs["align"] = "left"
    return df


def descriptives_display(desc: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Construct, M, SD, skew range, kurtosis range, then the lower-triangle correlations (√AVE diagonal)."""
    names = list(desc["construct"])
    rows, bold = [], []
    for i, r in enumerate(desc.to_dict("records")):
        row = [r["construct"], fmt_num(r["mean"], 2), fmt_num(r["sd"], 2),
               f"{fmt_num(r['skew_min'], 2)}, {fmt_num(r['skew_max'], 2)}",
               f"{fmt_num(r['kurtosis_min'], 2)}, {fmt_num(r['kurtosis_max'], 2)}"]
        for j, c in enumerate(names):
            if j < i:
                row.append(fmt_num(r[c], 2, leading_zero=False))
            elif j == i:
                row.append(fmt_num(r[c], 2, leading_zero=False))
                bold.append((i, 5 + j))
            else:
                row.append("")
        rows.append(row)
    cols = [label("col_construct", lang), "M", "SD", label("col_skew", lang), label("col_kurt", lang)] + names
    return _bold(pd.DataFrame(rows, columns=cols), bold)


def collinearity_display(collinearity: pd.DataFrame | None, effects: pd.DataFrame | None, *,
                         lang: str = "en") -> pd.DataFrame:
    """Path, inner VIF, f², size: one row a structural path."""
    rows = []
    keys = []
    if effects is not None and len(effects):
        keys = [(str(r["lhs"]), str(r["rhs"])) for r in effects.to_dict("records")]
    elif collinearity is not None:
        keys = [(str(r["lhs"]), str(r["rhs"])) for r in collinearity.to_dict("records") if r["kind"] == "inner"]
    inner = {}
    if collinearity is not None:
        inner = {(str(r["lhs"]), str(r["rhs"])): r["vif"] for r in collinearity.to_dict("records")
                 if r["kind"] == "inner"}
    eff = {}
    if effects is not None:
        eff = {(str(r["lhs"]), str(r["rhs"])): r for r in effects.to_dict("records")}
    for k in keys:
        e = eff.get(k, {})
        size = e.get("size") if isinstance(e.get("size"), str) else ""
        rows.append([f"{k[1]} → {k[0]}", fmt_num(inner.get(k), 2), fmt_num(e.get("f2"), 3),
                     label(f"size_{size}", lang) if size else NA])
    return pd.DataFrame(rows, columns=[label(k, lang) for k in ("col_path", "col_vif", "col_f2", "col_size")])


def full_vif_display(collinearity: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """One row: the constructs as columns, their full-collinearity VIF below (values > 3.3 bold)."""
    full = collinearity[collinearity["kind"] == "full"]
    df = pd.DataFrame([[fmt_num(v, 2) for v in full["vif"]]], columns=list(full["rhs"].astype(str)))
    return _bold(df, [(0, j) for j, v in enumerate(full["vif"]) if _finite(v) and v > 3.3])


def model_comparison_display(mc: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Competing models: χ², df, CFI, TLI, RMSEA, SRMR, AIC, BIC, Δχ², Δdf, p."""
    rows = []
    for r in mc.to_dict("records"):
        rows.append([_text(r.get("model")), fmt_num(r.get("chisq"), 2), fmt_int(r.get("df")),
                     fmt_num(r.get("cfi"), 3, leading_zero=False), fmt_num(r.get("tli"), 3, leading_zero=False),
                     fmt_num(r.get("rmsea"), 3, leading_zero=False), fmt_num(r.get("srmr"), 3, leading_zero=False),
                     fmt_num(r.get("aic"), 1), fmt_num(r.get("bic"), 1), fmt_num(r.get("chisq.diff"), 2),
                     fmt_int(r.get("df.diff")), fmt_p(r.get("pvalue"))])
    return pd.DataFrame(rows, columns=["Model", "χ²", "df", "CFI", "TLI", "RMSEA", "SRMR", "AIC", "BIC", "Δχ²",
                                       "Δdf", "p"])
