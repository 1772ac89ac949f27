"""Construct descriptives for the paper's correlation table: means, SDs, correlations, √AVE on the diagonal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataError


def construct_scores(data: pd.DataFrame, constructs: dict[str, list[str]]) -> pd.DataFrame:
    """Unit-weighted construct scores: the mean of each construct's items (NaN items skipped).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent; item columns as named in ``constructs``.
    constructs : dict
        Construct id → its item column names, in model order.

    Returns
    -------
    pandas.DataFrame
        One column per construct, same index as ``data`` (R: ``rowMeans(x[items], na.rm = TRUE)``).

    Raises
    ------
    DataError
        An item column named in ``constructs`` is not in ``data``.
    """
    missing = sorted({i for items in constructs.values() for i in items} - set(data.columns))
    if missing:
        raise DataError(f"data= lacks item column(s) {', '.join(missing)}; check the model's indicators")
    return pd.DataFrame({c: data[list(items)].apply(pd.to_numeric, errors="coerce").mean(axis=1)
                         for c, items in constructs.items()}, index=data.index)


def _skew_kurt(x: np.ndarray) -> tuple[float, float]:
    """psych::describe's skew and kurtosis (type 3: b1 and b2 − 3 with the n − 1 SD)."""
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 3:
        return np.nan, np.nan
    d = x - x.mean()
    sd = x.std(ddof=1)
    if sd == 0:
        return np.nan, np.nan
    skew = np.sum(d ** 3) / n / sd ** 3
    kurt = np.sum(d ** 4) / n / sd ** 4 - 3
    return float(skew), float(kurt)


def latent_correlations(estimates: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Latent correlations from a fitted model's standardized estimates (``std.all`` of ``F1 ~~ F2``).

    Returns a symmetric construct × construct DataFrame with 1 on the diagonal; pairs without a
    ``~~`` row are NaN (lavaan: ``lavInspect(fit, "cor.lv")``).
    """
    out = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for _, r in estimates[estimates["op"] == "~~"].iterrows():
        if r["lhs"] in out.index and r["rhs"] in out.index and r["lhs"] != r["rhs"]:
            if "group" in estimates.columns and r.get("group") not in (None, 1, 1.0) and pd.notna(r.get("group")):
                continue
            out.loc[r["lhs"], r["rhs"]] = out.loc[r["rhs"], r["lhs"]] = float(r["std.all"])
    return out


def descriptives_table(data: pd.DataFrame, constructs: dict[str, list[str]], *, ave=None,
                       estimates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Means, SDs and correlations of the constructs, √AVE on the diagonal, item skew/kurtosis ranges.

    Parameters
    ----------
    data : pandas.DataFrame
        The analysed responses (item columns).
    constructs : dict
        Construct id → item columns.
    ave : mapping, optional
        Construct id → AVE (``reliability.csv``); its square root goes on the diagonal
        (Fornell & Larcker, 1981). Without it the diagonal is 1.
    estimates : pandas.DataFrame, optional
        Standardized estimates of the measurement model (``measurement/estimates.csv``): the
        correlations are then the latent correlations (``std.all`` of ``F1 ~~ F2``, lavaan's
        ``lavInspect(fit, "cor.lv")``). Without it they are Pearson correlations of the
        construct scores (``cor(scores, use = "pairwise")``).

    Returns
    -------
    pandas.DataFrame
        One row per construct: ``construct``, ``n_items``, ``mean``, ``sd`` (of the unit-weighted
        construct score, divisor n − 1), ``sqrt_ave``, ``skew_min``, ``skew_max``, ``kurtosis_min``,
        ``kurtosis_max`` (item level, psych::describe type 3, excess kurtosis), ``cor_source``
        (``latent`` or ``scores``), then one column per construct holding the correlation
        (diagonal: √AVE).

    Notes
    -----
    Checked against R: ``rowMeans``, ``mean``, ``sd``, ``psych::describe()$skew/$kurtosis`` and
    ``lavInspect(cfa(...), "cor.lv")`` (tests/reference/R/make_reference_report_tables.R).
    """
    scores = construct_scores(data, constructs)
    names = list(constructs)
    if estimates is not None:
        cor = latent_correlations(estimates, names)
        source = "latent"
    else:
        cor = scores.corr()
        source = "scores"
    rows = []
    for c in names:
        sk = [_skew_kurt(pd.to_numeric(data[i], errors="coerce").to_numpy(float)) for i in constructs[c]]
        a = np.nan if ave is None else float(ave.get(c, np.nan))
        row = {"construct": c, "n_items": len(constructs[c]), "mean": float(scores[c].mean()),
               "sd": float(scores[c].std(ddof=1)), "sqrt_ave": float(np.sqrt(a)) if np.isfinite(a) else np.nan,
               "skew_min": float(np.nanmin([s for s, _ in sk])), "skew_max": float(np.nanmax([s for s, _ in sk])),
               "kurtosis_min": float(np.nanmin([k for _, k in sk])),
               "kurtosis_max": float(np.nanmax([k for _, k in sk])), "cor_source": source}
        for d in names:
            row[d] = float(cor.loc[c, d]) if c != d else (row["sqrt_ave"] if np.isfinite(a) else 1.0)
        rows.append(row)
    return pd.DataFrame(rows)
