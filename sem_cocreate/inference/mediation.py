"""The mediation table (``indirect.csv``): specific, total indirect, direct and total effects and contrasts.

Every row comes from the estimates table (``:=`` rows for indirect, total and contrast effects, the
structural path ``Y ~ X`` for a direct effect), so its SE and interval are whatever that table holds:
delta method, bootstrap (:func:`sem_cocreate.bootstrap.bootstrap_estimates`) or Monte Carlo
(:func:`sem_cocreate.bootstrap.monte_carlo_estimates`). The type of mediation follows Zhao, Lynch &
Chen (2010, J. Consumer Research 37, 197-206):

========================  ==========================================================================
``complementary``         indirect and direct effect both significant, same sign
``competitive``           both significant, opposite signs
``indirect-only``         indirect significant, direct not
``direct-only``           direct significant, indirect not
``no-effect``             neither significant
``no direct path in model``  the model has no ``Y ~ X`` path to judge the direct effect by
========================  ==========================================================================

"Significant" means the interval excludes zero (the p-value below ``1 - level`` when there is no interval).

Multiplicity: every row belongs to a ``family``. The ``confirmatory`` family is the pre-specified set of
effects (:func:`sem_cocreate.survey.modelbuild.indirect_paths`: the specific indirect effects of each
antecedent through RI, KS and RI -> KS, the RI-versus-KS contrasts and one total indirect effect per
antecedent and final outcome); its p values are adjusted together by Holm's step-down method
(``statsmodels.stats.multitest.multipletests(p, method="holm")``, R's ``p.adjust(p, "holm")``) into
``pvalue.adj``. Longer chains, other totals and the direct paths are ``exploratory`` (``pvalue.adj``
empty).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..exceptions import OptionError

INDIRECT_COLUMNS = ["name", "path", "est", "se", "ci.lower", "ci.upper", "method", "n_boot", "n_failed",
                    "kind", "from", "to", "through", "std.all", "pvalue", "proportion_mediated",
                    "mediation_type", "significant", "family", "pvalue.adj"]
FAMILIES = ("confirmatory", "exploratory")
ADJUST_METHOD = "holm"
KINDS = ("specific", "total_indirect", "direct", "total", "contrast", "defined")
NO_DIRECT = "no direct path in model"


def infer_effects(defined_names) -> pd.DataFrame:
    """Guess ``kind``, ``from``, ``to``, ``through`` of ``:=`` parameters from their names.

    Recognised: ``ind_X_M1[_M2...]_Y`` (specific), ``totind_X_Y`` / ``total_ind_X[_Y]`` (total
    indirect), ``total_X[_Y]`` (total), ``diff_...`` / ``contrast_...`` (contrast); anything else is
    ``defined``. Returns the columns of :func:`sem_cocreate.modelbuild.indirect_paths` (expression empty).
    """
    rows = []
    for name in defined_names:
        parts = name.split("_")
        row = {"name": name, "kind": "defined", "from": "", "to": "", "through": "", "expression": ""}
        if parts[0] == "ind" and len(parts) >= 4:
            row.update(kind="specific", **{"from": parts[1], "to": parts[-1], "through": ">".join(parts[2:-1])})
        elif parts[0] == "totind" and len(parts) == 3:
            row.update(kind="total_indirect", **{"from": parts[1], "to": parts[2]})
        elif name.startswith("total_ind_") and len(parts) in (3, 4):
            row.update(kind="total_indirect", **{"from": parts[2], "to": parts[3] if len(parts) == 4 else ""})
        elif parts[0] == "total" and len(parts) in (2, 3):
            row.update(kind="total", **{"from": parts[1], "to": parts[2] if len(parts) == 3 else ""})
        elif parts[0] in ("diff", "contrast"):
            m = re.fullmatch(r"(?:diff|contrast)_([^_]+)_([^_]+)_vs_([^_]+)_([^_]+)", name)
            if m:
                row.update(kind="contrast", **{"from": m.group(1), "to": m.group(4),
                                               "through": f"{m.group(2)} vs {m.group(3)}"})
            else:
                row.update(kind="contrast")
        rows.append(row)
    return pd.DataFrame(rows, columns=["name", "kind", "from", "to", "through", "expression"])


def _close(a, b):
    return bool(np.isfinite(a) and np.isfinite(b) and abs(a - b) <= 1e-8 * max(1.0, abs(a)))


def _resolve_by_value(effects: pd.DataFrame, defined: pd.DataFrame, est: pd.DataFrame) -> pd.DataFrame:
    """Fill the outcome of ``total_ind_X`` / ``total_X`` and the parts of ``diff_...`` from the estimates.

    A total indirect effect equals the sum of its specific effects, a total effect adds the direct
    path, a contrast is the difference of two single-mediator effects; the outcome (or mediator pair)
    whose values reproduce the row's estimate is taken. Rows that match nothing stay as they are.
    """
    eff = effects.copy()
    val = {n: float(defined.loc[n, "est"]) for n in eff["name"]}
    spec = eff[eff["kind"] == "specific"]
    reg = est[est["op"] == "~"]
    for i, r in eff.iterrows():
        if r["kind"] in ("total_indirect", "total") and r["from"] and not r["to"]:
            for to in pd.unique(spec.loc[spec["from"] == r["from"], "to"]):
                total = sum(val[n] for n in spec.loc[(spec["from"] == r["from"]) & (spec["to"] == to), "name"])
                if r["kind"] == "total":
                    hit = reg[(reg["lhs"] == to) & (reg["rhs"] == r["from"])]
                    total += float(hit["est"].iloc[0]) if len(hit) else 0.0
                if _close(total, val[r["name"]]):
                    eff.loc[i, "to"] = to
                    break
        elif r["kind"] == "contrast" and not r["from"]:
            single = spec[~spec["through"].str.contains(">")]
            for a in single.to_dict("records"):
                for b in single.to_dict("records"):
                    if (a["name"] != b["name"] and a["from"] == b["from"] and a["to"] == b["to"]
                            and _close(val[a["name"]] - val[b["name"]], val[r["name"]])):
                        eff.loc[i, ["from", "to", "through"]] = [a["from"], a["to"],
                                                                 f"{a['through']} vs {b['through']}"]
                        break
                else:
                    continue
                break
    return eff


def _path_text(kind, frm, to, through):
    if kind == "specific":
        return " -> ".join([frm, *[t for t in through.split(">") if t], to])
    if kind == "total_indirect":
        return f"{frm} -> ... -> {to or '?'} (total indirect)"
    if kind == "direct":
        return f"{frm} -> {to}"
    if kind == "total":
        return f"{frm} -> {to or '?'} (total)"
    if kind == "contrast" and " vs " in through:
        m1, m2 = through.split(" vs ")
        return f"{frm} -> {to}: via {m1} minus via {m2}"
    return ""


def _significant(lo, hi, p, level):
    if np.isfinite(lo) and np.isfinite(hi):
        return bool(lo > 0 or hi < 0)
    if np.isfinite(p):
        return bool(p < 1 - level)
    return False


def _zhao_type(ind_sig, ind_est, direct):
    if direct is None:
        return NO_DIRECT
    d_sig, d_est = direct
    if ind_sig and d_sig:
        return "complementary" if np.sign(ind_est) == np.sign(d_est) else "competitive"
    if ind_sig:
        return "indirect-only"
    if d_sig:
        return "direct-only"
    return "no-effect"


def _default_family(kind: str, through: str) -> str:
    """Family of an effect not pre-specified: specific effects through at most two mediators, their
    contrasts and total indirect effects are confirmatory; longer chains, direct and total effects are not."""
    if kind in ("specific", "contrast", "total_indirect") and str(through).count(">") <= 1:
        return "confirmatory"
    return "exploratory"


def adjust_pvalues(pvalues, mask=None, *, method: str = ADJUST_METHOD) -> np.ndarray:
    """Multiplicity-adjusted p values within the rows selected by ``mask`` (NaN elsewhere).

    Parameters
    ----------
    pvalues : array-like
    mask : array-like of bool, optional
        The family (default: every row). Rows with a missing p value are left out of the family.
    method : str, default "holm"
        Any ``statsmodels.stats.multitest.multipletests`` method. ``holm``, ``bonferroni`` and
        ``fdr_bh`` are computed here (R's ``p.adjust``; the same numbers as statsmodels, tested),
        which spares the study the import of ``scipy.stats`` that statsmodels' module costs (~0.8 s).

    Returns
    -------
    numpy.ndarray
        Adjusted p values, as R's ``p.adjust(p, method = "holm")`` on the family.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    keep = np.ones(len(p), bool) if mask is None else np.asarray(mask, bool)
    keep = keep & np.isfinite(p)
    out = np.full(len(p), np.nan)
    if keep.any():
        out[keep] = _p_adjust(p[keep], method)
    return out


def _p_adjust(p: np.ndarray, method: str) -> np.ndarray:
    """R's p.adjust for holm / bonferroni / BH (step-down / step-up running extremes, capped at 1)."""
    m = p.size
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    elif method == "fdr_bh":
        order = np.argsort(p, kind="stable")[::-1]
        adj = np.minimum(1.0, np.minimum.accumulate(m / (m - np.arange(m)) * p[order]))
    else:
        from statsmodels.stats.multitest import multipletests

        return multipletests(p, method=method)[1]
    out = np.empty(m)
    out[order] = adj
    return out


def _first_rows(table: pd.DataFrame, keys: tuple[str, ...]) -> dict:
    """``{key tuple: row dict}`` with the first row of every key."""
    out: dict = {}
    for row in table.to_dict("records"):
        out.setdefault(tuple(row[k] for k in keys), row)
    return out


def indirect_table(result, *, estimates: pd.DataFrame | None = None, effects: pd.DataFrame | None = None,
                   method: str = "delta", n_boot: int = 0, n_failed: int = 0, level: float = 0.95,
                   std_estimates: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per specific indirect, total indirect, direct and total effect and contrast.

    Parameters
    ----------
    result : SEMResult
    estimates : DataFrame, optional
        The estimates table to read (default ``result.estimates``, delta-method SEs); pass
        :func:`~sem_cocreate.bootstrap.bootstrap_estimates` or
        :func:`~sem_cocreate.bootstrap.monte_carlo_estimates` output for other intervals.
    effects : DataFrame, optional
        :func:`sem_cocreate.modelbuild.indirect_paths` output (``name, kind, from, to, through``);
        default: inferred from the ``:=`` names (:func:`infer_effects`).
    method : str
        Written to the ``method`` column (e.g. ``"delta"``, ``"bootstrap-perc"``, ``"mc"``).
    n_boot, n_failed : int
        Resamples drawn and excluded (written to every row).
    level : float
        Confidence level of the intervals (for ``significant`` when a row has no interval).
    std_estimates : DataFrame, optional
        :func:`~sem_cocreate.bootstrap.bootstrap_std_estimates` output; adds ``std.se``,
        ``std.ci.lower``, ``std.ci.upper`` (intervals of the standardized effects).

    Returns
    -------
    DataFrame
        ``name, path, est, se, ci.lower, ci.upper, method, n_boot, n_failed, kind, from, to, through,
        std.all, pvalue, proportion_mediated, mediation_type, significant, family, pvalue.adj`` (+ the
        ``std.*`` columns). ``family`` is ``confirmatory`` or ``exploratory`` (from ``effects``' own
        ``family`` column when given); ``pvalue.adj`` is Holm-adjusted within the confirmatory rows.
        ``proportion_mediated`` = indirect / total effect of the same antecedent on the same outcome;
        ``mediation_type`` (Zhao et al. 2010) on specific and total-indirect rows.

    Raises
    ------
    OptionError
        ``effects`` names a parameter the model does not define.
    """
    est = result.estimates if estimates is None else estimates
    defined = est[est["op"] == ":="].set_index("lhs")
    if effects is None:
        effects = _resolve_by_value(infer_effects(list(defined.index)), defined, est)
    else:
        effects = effects.copy()
        unknown = [n for n in effects["name"] if n not in defined.index]
        if unknown:
            raise OptionError(f"effect(s) {', '.join(unknown[:5])} are not ':=' parameters of the model; "
                              "build the model and the effects table from the same hypotheses")
    for col in ("from", "to", "through"):
        effects[col] = effects[col].fillna("").astype(str)
    std_defined = None
    if std_estimates is not None:
        std_defined = std_estimates[std_estimates["op"] == ":="].set_index("lhs")
    reg = est[est["op"] == "~"]
    if "group" in reg.columns:
        reg = reg[reg["group"] == reg["group"].min()]
    # rows by key, each the first row of its key (as a filtered lookup's .iloc[0] takes it)
    reg_of = _first_rows(reg, ("lhs", "rhs"))
    defined_of = _first_rows(defined.reset_index(), ("lhs",))
    std_def_of = _first_rows(std_defined.reset_index(), ("lhs",)) if std_defined is not None else {}
    std_reg_of = (_first_rows(std_estimates[std_estimates["op"] == "~"], ("lhs", "rhs"))
                  if std_estimates is not None else {})

    def direct_of(frm, to):
        return reg_of.get((to, frm))

    def std_cols(name, row=None):
        s = std_def_of.get((name,)) if name is not None else None
        if s is None and row is not None:
            s = std_reg_of.get((row["lhs"], row["rhs"]))
        if s is not None:
            return {"std.se": s["se"], "std.ci.lower": s["ci.lower"], "std.ci.upper": s["ci.upper"]}
        return {}

    base = {"method": method, "n_boot": int(n_boot), "n_failed": int(n_failed)}
    rows: list[dict] = []
    for e in effects.to_dict("records"):
        name, kind = e["name"], e["kind"]
        frm, to, through = e["from"], e["to"], e["through"]
        d = defined_of[(name,)]
        rows.append({"name": name, "path": _path_text(kind, frm, to, through), "est": d["est"], "se": d["se"],
                     "ci.lower": d["ci.lower"], "ci.upper": d["ci.upper"], **base, "kind": kind, "from": frm,
                     "to": to, "through": through, "std.all": d.get("std.all", np.nan), "pvalue": d["pvalue"],
                     **std_cols(name)})
    # the direct path of every antecedent-outcome pair with an indirect effect: after its total
    # indirect effect, or after its last specific effect
    pairs = list(dict.fromkeys((r["from"], r["to"]) for r in rows
                               if r["kind"] in ("specific", "total_indirect") and r["from"] and r["to"]))
    for frm, to in pairs:
        drow = direct_of(frm, to)
        if drow is None:
            continue
        at = [i for i, r in enumerate(rows) if (r["from"], r["to"]) == (frm, to) and r["kind"] == "total_indirect"]
        if not at:
            at = [i for i, r in enumerate(rows) if (r["from"], r["to"]) == (frm, to) and r["kind"] == "specific"]
        label = drow["label"] if isinstance(drow["label"], str) and drow["label"] else f"direct_{frm}_{to}"
        rows.insert(at[-1] + 1, {
            "name": label, "path": _path_text("direct", frm, to, ""), "est": drow["est"], "se": drow["se"],
            "ci.lower": drow["ci.lower"], "ci.upper": drow["ci.upper"], **base, "kind": "direct", "from": frm,
            "to": to, "through": "", "std.all": drow.get("std.all", np.nan), "pvalue": drow["pvalue"],
            **std_cols(None, drow)})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=INDIRECT_COLUMNS)
    out["significant"] = [_significant(lo, hi, p, level) for lo, hi, p in
                          zip(out["ci.lower"].astype(float), out["ci.upper"].astype(float), out["pvalue"].astype(float))]
    # totals by (from, to): the total effect row if defined, else direct + total indirect
    totals: dict[tuple[str, str], float] = {}
    for r in out[out["kind"] == "total"].to_dict("records"):
        totals[(r["from"], r["to"])] = r["est"]
    prop, mtype = [], []
    for r in out.to_dict("records"):
        key = (r["from"], r["to"])
        if r["kind"] in ("specific", "total_indirect") and r["from"] and r["to"]:
            total = totals.get(key)
            if total is None:   # no total effect defined: direct path (if any) + every specific effect
                same = (out["from"] == r["from"]) & (out["to"] == r["to"])
                total = float(out.loc[same & out["kind"].isin(["specific", "direct"]), "est"].sum())
            prop.append(r["est"] / total if total and np.isfinite(total) else np.nan)
            drow = direct_of(r["from"], r["to"])
            direct = None if drow is None else (
                _significant(float(drow["ci.lower"]), float(drow["ci.upper"]), float(drow["pvalue"]), level),
                float(drow["est"]))
            mtype.append(_zhao_type(r["significant"], r["est"], direct))
        else:
            prop.append(np.nan)
            mtype.append("")
    out["proportion_mediated"] = prop
    out["mediation_type"] = mtype
    fam = dict(zip(effects["name"], effects["family"])) if "family" in effects.columns else {}
    out["family"] = [fam.get(r["name"]) or _default_family(r["kind"], r["through"]) for r in out.to_dict("records")]
    out["pvalue.adj"] = adjust_pvalues(out["pvalue"], out["family"] == "confirmatory")
    extra = [c for c in ("std.se", "std.ci.lower", "std.ci.upper") if c in out.columns]
    return out[INDIRECT_COLUMNS + extra].reset_index(drop=True)


def bootstrap_indirect(result, *, n_boot: int, seed: int | None, ci: str = "perc", level: float = 0.95,
                       effects: pd.DataFrame | None = None, jobs: int | None = None, scheduler=None,
                       progress: bool = True, n_draws: int = 20000) -> pd.DataFrame:
    """The mediation table with bootstrap (``ci`` = perc, bc, bca) or Monte Carlo (``ci="mc"``) intervals.

    A convenience over :func:`sem_cocreate.bootstrap.bootstrap_draws`,
    :func:`~sem_cocreate.bootstrap.bootstrap_estimates` (and the standardized intervals) or
    :func:`~sem_cocreate.bootstrap.monte_carlo_estimates`, then :func:`indirect_table`. ``n_boot=0``
    with a bootstrap ``ci`` gives the delta-method table. Callers that also need the bootstrap
    estimates table (``estimates.csv``) should call those functions themselves and reuse the draws.

    Returns
    -------
    DataFrame
        See :func:`indirect_table`; ``method`` is ``delta``, ``bootstrap-<ci>`` or ``monte-carlo``.
    """
    from .bootstrap import (bootstrap_draws, bootstrap_estimates, bootstrap_std_estimates,
                            monte_carlo_estimates)

    if ci == "mc":
        est = monte_carlo_estimates(result, n_draws=n_draws, seed=seed, level=level)
        return indirect_table(result, estimates=est, effects=effects, method="monte-carlo", level=level)
    if n_boot == 0:
        return indirect_table(result, effects=effects, method="delta", level=level)
    draws = bootstrap_draws(result, n_boot=n_boot, seed=seed, jobs=jobs, scheduler=scheduler, progress=progress)
    return indirect_table(result, estimates=bootstrap_estimates(result, draws, ci=ci, level=level),
                          std_estimates=bootstrap_std_estimates(result, draws, ci=ci, level=level),
                          effects=effects, method=f"bootstrap-{ci}", n_boot=draws.n_boot,
                          n_failed=draws.n_failed, level=level)
