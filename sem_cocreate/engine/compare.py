"""Likelihood-ratio tests of nested models and information criteria, as lavaan's ``lavTestLRT()``.

The models are sorted by their degrees of freedom (fewest first, lavaan's order); every model after
the first is tested against the one before it:

- ML: ``chisq.diff = chisq_1 - chisq_0``, ``df.diff = df_1 - df_0``, ``pvalue`` from the chi-square
  with ``df.diff`` degrees of freedom; ``rmsea`` of the difference
  ``rmsea.diff = sqrt(max(chisq.diff - df.diff, 0) / (N df.diff)) * sqrt(G)`` (lavaan 0.6.14's RMSEA column);
- MLR (``method = "satorra.bentler.2001"``, lavaan's default for scaled tests): the difference of the
  unscaled statistics divided by ``c_d = (df_1 c_1 - df_0 c_0) / (df_1 - df_0)``, ``c`` the scaling
  factors (``chisq.scaling.factor``).

``aic`` and ``bic`` (from ``fitMeasures()``) let non-nested models be compared too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..exceptions import OptionError

COMPARE_COLUMNS = ["model", "df", "aic", "bic", "chisq", "chisq.diff", "df.diff", "pvalue"]


def compare_models(*results, names=None) -> pd.DataFrame:
    """A lavTestLRT-style table of two or more models fitted to the same data.

    Parameters
    ----------
    *results : SEMResult
        Fitted models (the same data and estimator).
    names : sequence of str, optional
        Model names (default ``model1``, ``model2``, … in the order given).

    Returns
    -------
    pandas.DataFrame
        One row per model sorted by ``df``: ``model, df, aic, bic, chisq, chisq.diff, df.diff,
        pvalue`` (+ ``rmsea.diff`` under ML, lavaan's RMSEA column: the RMSEA of the difference
        test; + ``chisq.scaled`` under MLR). The first row has no difference test (NaN).

    Raises
    ------
    OptionError
        Fewer than two models, different estimators or sample sizes, or two models with the same df.

    Notes
    -----
    lavaan: ``lavTestLRT(fit1, fit2, ...)`` / ``anova()``; checked against lavaan 0.6.14 for ML and
    MLR (tests/test_diagnostics_lavaan.py).
    """
    from ._distributions import chi2

    if len(results) == 1 and isinstance(results[0], (list, tuple)):
        results = tuple(results[0])
    if len(results) < 2:
        raise OptionError("compare_models needs two or more fitted models")
    names = list(names) if names is not None else [f"model{i + 1}" for i in range(len(results))]
    if len(names) != len(results):
        raise OptionError(f"{len(names)} names for {len(results)} models")
    estimators = {r.estimator for r in results}
    if len(estimators) > 1:
        raise OptionError(f"the models use different estimators ({', '.join(sorted(estimators))}); "
                          "fit them with the same one")
    ns = {int(r.n_obs) for r in results}
    if len(ns) > 1:
        raise OptionError(f"the models were fitted to different numbers of respondents ({sorted(ns)}); "
                          "compare models on the same data")
    estimator = estimators.pop()
    scaled = estimator == "MLR"
    order = sorted(range(len(results)), key=lambda i: float(results[i].fit["df"]))
    rows = []
    prev = None
    for i in order:
        r = results[i]
        fm = r.fit
        row = {"model": names[i], "df": float(fm["df"]), "aic": float(fm["aic"]), "bic": float(fm["bic"]),
               "chisq": float(fm["chisq"]), "chisq.diff": np.nan, "df.diff": np.nan, "pvalue": np.nan}
        if scaled:
            row["chisq.scaled"] = float(fm.get("chisq.scaled", np.nan))
        else:
            row["rmsea.diff"] = np.nan
        if prev is not None:
            df_d = row["df"] - prev["df"]
            if df_d == 0:
                raise OptionError(f"models {prev['model']} and {row['model']} have the same df; "
                                  "they are not nested (compare their aic and bic instead)")
            t_d = row["chisq"] - prev["chisq"]
            if scaled:
                c1 = float(r.fit.get("chisq.scaling.factor", np.nan))
                c0 = prev["_c"]
                cd = (row["df"] * c1 - prev["df"] * c0) / df_d
                t_d = t_d / cd
            else:
                G = len(r.spec.groups)
                row["rmsea.diff"] = math.sqrt(max(t_d - df_d, 0.0) / (r.n_obs * df_d)) * math.sqrt(G)
            row["chisq.diff"] = t_d
            row["df.diff"] = df_d
            row["pvalue"] = float(chi2.sf(t_d, df_d)) if t_d >= 0 else 1.0
        row["_c"] = float(r.fit.get("chisq.scaling.factor", 1.0)) if scaled else 1.0
        if scaled and row["df"] == 0:
            row["_c"] = 1.0
        rows.append(row)
        prev = row
    table = pd.DataFrame(rows).drop(columns="_c")
    extra = ["chisq.scaled"] if scaled else ["rmsea.diff"]
    return table[COMPARE_COLUMNS + extra].reset_index(drop=True)
