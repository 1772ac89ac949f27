"""Common-method variance checks: Harman's single factor, single-factor CFA, latent method factor (ULMC).

Every function assumes reverse-keyed items are already recoded (the data stage recodes them once).
Model fitting is delegated to a ``fit`` callable, ``fit(syntax: str, data: DataFrame)``, returning
an object with ``.estimates`` (``parameterEstimates()`` columns) and ``.fit`` (a Series indexed by
lavaan ``fitMeasures()`` names), such as a wrapper of :func:`sem_cocreate.fit.fit_sem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import DataError, ModelSyntaxError, OptionError

COMPARISON_COLUMNS = ["model", "npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic",
                      "delta.chisq", "delta.df", "delta.pvalue"]
METHOD_FACTOR = "METHOD"
SINGLE_FACTOR = "G"


def harman_single_factor(data: pd.DataFrame, *, method: str = "pc") -> dict:
    """Harman's single-factor test: the share of item variance taken by one unrotated factor.

    Parameters
    ----------
    data : pandas.DataFrame
        Item columns only (pairwise-complete correlations, as psych).
    method : {"pc", "pa"}
        ``pc`` (default, the classic test as usually run): first eigenvalue of the correlation matrix
        divided by the number of items (unrotated principal component). ``pa``: sum of squared
        loadings of a one-factor iterated principal-axis solution divided by the number of items, as
        ``psych::fa(nfactors=1, rotate="none", fm="pa")`` (SMC start, stop when the communality sum
        changes by less than 0.001, at most 50 iterations).

    Returns
    -------
    dict
        ``method``, ``n_items``, ``share``, ``exceeds_half`` (share > 0.5: a general factor
        dominates, the usual warning sign), ``loadings`` (pandas.Series, ``pa`` only, else None).

    Notes
    -----
    The test is weak evidence either way (Podsakoff et al. 2003); report it with the CFA-based checks.
    """
    from .exploratory import pairwise_cor

    method = str(method).lower()
    if method not in {"pc", "pa"}:
        raise OptionError(f"method= must be 'pc' or 'pa', got {method!r}.")
    rdf = pairwise_cor(data)
    r = rdf.to_numpy()
    p = r.shape[0]
    loadings = None
    if method == "pc":
        share = float(np.linalg.eigvalsh(r)[-1] / p)
    else:
        rm = r.copy()
        np.fill_diagonal(rm, 1 - 1 / np.diag(np.linalg.inv(r)))
        comm = np.trace(rm)
        for _ in range(50):
            e, v = np.linalg.eigh(rm)
            lam = v[:, -1] * np.sqrt(e[-1])
            new = lam ** 2
            err = abs(comm - new.sum())
            comm = new.sum()
            np.fill_diagonal(rm, new)
            if err <= 0.001:
                break
        lam = lam if lam.sum() >= 0 else -lam
        loadings = pd.Series(lam, index=rdf.index, name="loading")
        share = float((lam ** 2).sum() / p)
    return {"method": method, "n_items": p, "share": share, "exceeds_half": share > 0.5, "loadings": loadings}


def _measurement_items(syntax: str) -> dict[str, list[str]]:
    """Factors and indicators of the ``=~`` lines (modifiers such as ``NA*`` or ``l1*`` dropped)."""
    out: dict[str, list[str]] = {}
    for line in re.split(r"[\n;]", syntax):
        line = line.split("#", 1)[0].strip()
        if "=~" not in line:
            continue
        lhs, rhs = (s.strip() for s in line.split("=~", 1))
        for term in rhs.split("+"):
            name = term.strip().split("*")[-1].strip()
            if name and name not in out.setdefault(lhs, []):
                out[lhs].append(name)
    if not out:
        raise ModelSyntaxError("syntax= has no '=~' lines; pass the measurement model (e.g. 'TR =~ tr1 + tr2 + tr3').")
    return out


def _observed(fi: dict[str, list[str]]) -> list[str]:
    return list(dict.fromkeys(i for its in fi.values() for i in its if i not in fi))


def single_factor_syntax(syntax: str) -> str:
    """One factor ``G`` on every observed indicator of the measurement model."""
    return f"{SINGLE_FACTOR} =~ " + " + ".join(_observed(_measurement_items(syntax)))


def ulmc_syntax(syntax: str, *, method_loadings: str = "free") -> str:
    """Measurement model plus an unmeasured latent method factor on every item.

    The method factor ``METHOD`` has variance 1 and zero covariances with the traits; its loadings are
    free (``"free"``) or one common value labelled ``m`` (``"equal"``).
    """
    if method_loadings not in {"free", "equal"}:
        raise OptionError(f"method_loadings= must be 'free' or 'equal', got {method_loadings!r}.")
    fi = _measurement_items(syntax)
    items = _observed(fi)
    if METHOD_FACTOR in fi:
        raise ModelSyntaxError(f"syntax= already has a factor named {METHOD_FACTOR}; rename it.")
    terms = [f"NA*{items[0]}"] + (items[1:] if method_loadings == "free" else [f"m*{i}" for i in items])
    lines = [syntax.rstrip("\n"), f"{METHOD_FACTOR} =~ " + " + ".join(terms), f"{METHOD_FACTOR} ~~ 1*{METHOD_FACTOR}"]
    lines += [f"{METHOD_FACTOR} ~~ 0*{f}" for f in fi]
    return "\n".join(lines)


def _fit_row(name: str, res) -> dict:
    f = res.fit
    return {"model": name, **{k: float(f[k]) if k in f.index else np.nan
                              for k in ["npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic"]}}


def _compare(base: dict, other: dict) -> dict:
    from ..engine._distributions import chi2

    dchi = other["chisq"] - base["chisq"]
    ddf = other["df"] - base["df"]
    if ddf < 0:   # the less constrained model has fewer df: keep the difference positive
        dchi, ddf = -dchi, -ddf
    p = float(chi2.sf(dchi, ddf)) if ddf > 0 else np.nan
    return {**other, "delta.chisq": dchi, "delta.df": ddf, "delta.pvalue": p}


def _check_fit(fit) -> None:
    if not callable(fit):
        raise OptionError("fit= must be a callable fit(syntax, data) returning an object with .estimates and .fit.")


def _heywood(res, label: str) -> list[str]:
    e = res.estimates
    neg = e[(e["op"] == "~~") & (e["lhs"] == e["rhs"]) & (e["est"] < 0)]
    return [f"{label}: negative variance of {v} ({x:.3f}); improper solution" for v, x in zip(neg["lhs"], neg["est"])]


def single_factor_test(syntax: str, data: pd.DataFrame, *, fit: Callable, measurement=None) -> pd.DataFrame:
    """Single-factor CFA against the measurement model (chi-square difference test).

    Parameters
    ----------
    syntax : str
        The measurement model (lavaan syntax, ``=~`` lines).
    data : pandas.DataFrame
        Item responses (reverse-keyed items already recoded).
    fit : callable
        ``fit(syntax, data)`` -> object with ``.estimates`` and ``.fit``.
    measurement : object, optional
        An existing fit of ``syntax`` (skips refitting it).

    Returns
    -------
    pandas.DataFrame
        Rows ``measurement`` and ``single_factor``; columns ``model, npar, chisq, df, pvalue, cfi,
        tli, rmsea, srmr, aic, bic, delta.chisq, delta.df, delta.pvalue`` (the deltas on the second row,
        as ``lavTestLRT()`` for ML: plain chi-square difference). A significantly worse single factor
        argues against one common-method factor explaining the covariances.
    """
    _check_fit(fit)
    if not isinstance(data, pd.DataFrame):
        raise DataError("data= must be a pandas DataFrame of item responses.")
    meas = measurement if measurement is not None else fit(syntax, data)
    one = fit(single_factor_syntax(syntax), data)
    base = _fit_row("measurement", meas)
    rows = [base, _compare(base, _fit_row("single_factor", one))]
    return pd.DataFrame(rows).reindex(columns=COMPARISON_COLUMNS)


@dataclass(frozen=True)
class ULMCResult:
    """Unmeasured latent method construct comparison.

    Attributes
    ----------
    comparison : pandas.DataFrame
        Rows ``measurement`` and ``ulmc`` with fit measures and the chi-square difference.
    loadings : pandas.DataFrame
        One row per item: ``construct``, ``item``, ``loading`` (std.all, without the method factor),
        ``loading_ulmc`` (with it), ``diff`` (``loading_ulmc - loading``), ``method_loading``
        (std.all), ``trait_share`` (``loading_ulmc^2``), ``method_share`` (``method_loading^2``).
    syntax : str
        The ULMC model fitted.
    method_loadings : str
    mean_trait_share, mean_method_share : float
        Average variance explained by traits and by the method factor (Liang et al. 2007).
    notes : tuple of str
        Improper solutions (negative variances) in either fit.
    """

    comparison: pd.DataFrame
    loadings: pd.DataFrame
    syntax: str
    method_loadings: str
    mean_trait_share: float
    mean_method_share: float
    notes: tuple[str, ...] = ()


def ulmc_test(syntax: str, data: pd.DataFrame, *, fit: Callable, method_loadings: str = "free",
              measurement=None) -> ULMCResult:
    """Add an unmeasured latent method factor and compare loadings and fit with and without it.

    Parameters
    ----------
    syntax : str
        The measurement model (lavaan syntax, ``=~`` lines).
    data : pandas.DataFrame
        Item responses (reverse-keyed items already recoded).
    fit : callable
        ``fit(syntax, data)`` -> object with ``.estimates`` and ``.fit``.
    method_loadings : {"free", "equal"}
        Free method loadings (identified like a bifactor model; can give improper solutions when there
        is little method variance) or one equal loading ``m``.
    measurement : object, optional
        An existing fit of ``syntax``.

    Returns
    -------
    ULMCResult
    """
    _check_fit(fit)
    if not isinstance(data, pd.DataFrame):
        raise DataError("data= must be a pandas DataFrame of item responses.")
    usyn = ulmc_syntax(syntax, method_loadings=method_loadings)
    meas = measurement if measurement is not None else fit(syntax, data)
    ul = fit(usyn, data)
    base = _fit_row("measurement", meas)
    comp = pd.DataFrame([base, _compare(base, _fit_row("ulmc", ul))]).reindex(columns=COMPARISON_COLUMNS)
    fi = _measurement_items(syntax)

    def loadings(est: pd.DataFrame) -> dict:
        lam = est[est["op"] == "=~"]
        out: dict = {}
        for key, v in zip(zip(lam["lhs"], lam["rhs"]), lam["std.all"].astype(float)):
            out.setdefault(key, v)                     # the first row, as a filtered lookup takes it
        return out

    lam_meas, lam_ul = loadings(meas.estimates), loadings(ul.estimates)

    def std(lam: dict, lhs: str, rhs: str) -> float:
        return float(lam.get((lhs, rhs), np.nan))

    rows = []
    for c, items in fi.items():
        for i in items:
            if i in fi:
                continue
            a, b, m = std(lam_meas, c, i), std(lam_ul, c, i), std(lam_ul, METHOD_FACTOR, i)
            rows.append({"construct": c, "item": i, "loading": a, "loading_ulmc": b, "diff": b - a,
                         "method_loading": m, "trait_share": b ** 2, "method_share": m ** 2})
    lt = pd.DataFrame(rows)
    notes = tuple(_heywood(meas, "measurement model") + _heywood(ul, "ULMC model"))
    return ULMCResult(comparison=comp, loadings=lt, syntax=usyn, method_loadings=method_loadings,
                      mean_trait_share=float(lt["trait_share"].mean()),
                      mean_method_share=float(lt["method_share"].mean()), notes=notes)
