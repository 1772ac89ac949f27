"""Collinearity: inner-model VIF per predictor and Kock's full-collinearity VIF per construct."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .descriptives import construct_scores

COLUMNS = ["kind", "lhs", "rhs", "r2", "vif"]


def _vifs(frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """VIF (and the R² it comes from) of every column of ``frame`` against the others, with a constant.

    ``1 / (1 - R²)`` with R² of the least-squares regression of the column on a constant and the other
    columns (statsmodels' ``variance_inflation_factor`` with a constant column, R's closed form from
    ``lm``; tests/test_paper_tables.py). Computed here with ``numpy.linalg.lstsq``: statsmodels' module
    imports ``scipy.stats`` (about a second of every run) for this one regression.
    """
    frame = frame.dropna()
    cols = list(frame.columns)
    if len(cols) == 1:
        return {cols[0]: (0.0, 1.0)}
    x = frame.to_numpy(float)
    ones = np.ones((len(frame), 1))
    out = {}
    for j, c in enumerate(cols):
        y = x[:, j]
        z = np.hstack([ones, np.delete(x, j, axis=1)])
        beta = np.linalg.lstsq(z, y, rcond=None)[0]
        ssr = float(((y - z @ beta) ** 2).sum())
        tss = float(((y - y.mean()) ** 2).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = 1.0 - ssr / tss if tss > 0 else np.nan
            vif = 1.0 / (1.0 - r2)
        out[c] = (r2, float(vif))
    return out


def collinearity_table(data: pd.DataFrame, constructs: dict[str, list[str]],
                       paths: list[tuple[str, str]]) -> pd.DataFrame:
    """Inner-model VIF of each predictor of each endogenous construct and full-collinearity VIF.

    Parameters
    ----------
    data : pandas.DataFrame
        The analysed responses.
    constructs : dict
        Construct id → item columns; a construct's score is the mean of its items.
    paths : list of (lhs, rhs)
        The structural regressions ``lhs ~ rhs``. A predictor that is not a construct (an observed
        control) enters with its own column.

    Returns
    -------
    pandas.DataFrame
        ``kind`` (``inner``: predictor ``rhs`` of endogenous ``lhs``; ``full``: construct ``rhs``
        against all other constructs, ``lhs`` empty), ``lhs``, ``rhs``, ``r2`` (of ``rhs`` regressed
        on the other predictors), ``vif`` = 1 / (1 − r2).

    Notes
    -----
    VIFs from least squares on the construct scores with a constant (statsmodels'
    ``variance_inflation_factor``); in R the closed form ``1 / (1 - summary(lm(x_j ~ x_others))$r.squared)`` (``car::vif`` gives
    the same for single-df terms). The full-collinearity VIF (Kock, 2015; Kock & Lynn, 2012)
    regresses each construct on all the others; values above 3.3 suggest common-method bias
    or collinearity. Rows with a missing score are dropped (listwise).

    Raises
    ------
    DataError
        A predictor is neither a construct nor a data column.
    """
    scores = construct_scores(data, constructs)
    rows = []
    by_lhs: dict[str, list[str]] = {}
    for lhs, rhs in paths:
        by_lhs.setdefault(lhs, [])
        if rhs not in by_lhs[lhs]:
            by_lhs[lhs].append(rhs)
    for lhs, preds in by_lhs.items():
        cols = {}
        for p in preds:
            if p in scores.columns:
                cols[p] = scores[p]
            elif p in data.columns:
                cols[p] = pd.to_numeric(data[p], errors="coerce")
            else:
                raise DataError(f"collinearity: predictor {p!r} of {lhs} is neither a construct nor a data column")
        for p, (r2, vif) in _vifs(pd.DataFrame(cols)).items():
            rows.append({"kind": "inner", "lhs": lhs, "rhs": p, "r2": r2, "vif": vif})
    if scores.shape[1] > 1:
        for c, (r2, vif) in _vifs(scores).items():
            rows.append({"kind": "full", "lhs": "", "rhs": c, "r2": r2, "vif": vif})
    return pd.DataFrame(rows, columns=COLUMNS)
