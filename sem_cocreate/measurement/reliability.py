"""Reliability of the measurement model: alpha, omega, composite reliability, AVE, item statistics.

Every function assumes reverse-keyed items are already recoded (the data stage recodes them once);
nothing here reverses an item. Numbers are checked against psych 2.2.9 and semTools 0.5.6
(``tests/reference/R/make_reference_measurement.R``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import DataError, OptionError

LOADING_MIN = 0.5   # standardized loading below this: weak indicator (Hair et al.)
CR_MIN = 0.7        # composite reliability below this: unreliable construct
AVE_MIN = 0.5       # AVE below this: less variance captured than error (Fornell & Larcker 1981)


# --------------------------------------------------------------------------------------------- helpers
def factor_items(estimates: pd.DataFrame) -> dict[str, list[str]]:
    """Constructs and their indicators, in the order of the ``=~`` rows of a parameter table.

    Parameters
    ----------
    estimates : pandas.DataFrame
        ``parameterEstimates()`` columns; the ``op == "=~"`` rows are read.

    Returns
    -------
    dict
        construct -> list of indicator names (observed or latent).
    """
    _check_estimates(estimates)
    rows = estimates[estimates["op"] == "=~"]
    out: dict[str, list[str]] = {}
    for lhs, rhs in zip(rows["lhs"], rows["rhs"]):
        out.setdefault(str(lhs), []).append(str(rhs))
    return out


def _check_estimates(estimates: pd.DataFrame) -> None:
    need = {"lhs", "op", "rhs", "est", "std.all"}
    if not isinstance(estimates, pd.DataFrame) or need - set(estimates.columns):
        lacking = sorted(need - set(getattr(estimates, "columns", [])))
        raise DataError(f"estimates= lacks column(s) {', '.join(lacking)}; pass parameterEstimates() columns.")
    if not (estimates["op"] == "=~").any():
        raise DataError("estimates= has no '=~' (loading) rows; pass the estimates of a model with latent factors.")


def _check_items(data: pd.DataFrame, items: Sequence[str], what: str = "data=") -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame with one column per item.")
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"{what} lacks item column(s) {', '.join(missing)}; check the instrument's item ids.")


def _select_constructs(fi: dict[str, list[str]], constructs) -> dict[str, list[str]]:
    if constructs is None:
        return fi
    names = list(constructs.keys()) if isinstance(constructs, Mapping) else list(constructs)
    unknown = [c for c in names if c not in fi]
    if unknown:
        raise OptionError(f"constructs= names unknown construct(s) {', '.join(unknown)}; "
                          f"the model has {', '.join(fi)}.")
    return {c: fi[c] for c in names}


def _observed_in_model(estimates: pd.DataFrame) -> list[str]:
    latent = set(estimates.loc[estimates["op"] == "=~", "lhs"])
    names: list[str] = []
    for _, r in estimates[estimates["op"].isin(["=~", "~", "~~"])].iterrows():
        for v in ((r["rhs"],) if r["op"] == "=~" else (r["lhs"], r["rhs"])):
            if v not in latent and v not in names:
                names.append(str(v))
    return names


def observed_cov(data: pd.DataFrame, items: Sequence[str]) -> pd.DataFrame:
    """Listwise sample covariance with divisor N, as lavaan's ``lavInspect(fit, "sampstat")$cov``.

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses.
    items : sequence of str
        The model's observed variables; rows with a missing value on any of them are dropped.

    Returns
    -------
    pandas.DataFrame
        Square covariance matrix indexed by ``items``.
    """
    _check_items(data, items)
    x = data[list(items)].apply(pd.to_numeric, errors="coerce").dropna().to_numpy(float)
    if x.shape[0] < 2:
        raise DataError("data= has fewer than 2 complete rows on the model's items; check missing values.")
    xc = x - x.mean(axis=0)
    return pd.DataFrame(xc.T @ xc / x.shape[0], index=list(items), columns=list(items))


def latent_cov(estimates: pd.DataFrame) -> pd.DataFrame:
    """Model-implied covariance matrix of the latent variables, as ``lavInspect(fit, "cov.lv")``.

    Built from the unstandardized ``est`` column: ``B`` from latent-on-latent ``~`` rows, ``Psi`` from
    latent ``~~`` rows, ``cov = (I - B)^-1 Psi (I - B)^-T``. In a CFA this is just ``Psi``.

    Raises
    ------
    OptionError
        If a latent variable is regressed on an observed variable (pass ``latent_cov=`` instead).
    """
    _check_estimates(estimates)
    lv = list(dict.fromkeys(estimates.loc[estimates["op"] == "=~", "lhs"].astype(str)))
    pos = {v: i for i, v in enumerate(lv)}
    k = len(lv)
    b = np.zeros((k, k))
    psi = np.zeros((k, k))
    for _, r in estimates.iterrows():
        lhs, op, rhs = str(r["lhs"]), r["op"], str(r["rhs"])
        if op == "~" and lhs in pos:
            if rhs not in pos:
                raise OptionError(f"latent {lhs} is regressed on observed {rhs}; pass latent_cov= "
                                  "(lavInspect(fit, 'cov.lv')) explicitly.")
            b[pos[lhs], pos[rhs]] = float(r["est"])
        elif op == "~~" and lhs in pos and rhs in pos:
            psi[pos[lhs], pos[rhs]] = psi[pos[rhs], pos[lhs]] = float(r["est"])
    ib = np.linalg.inv(np.eye(k) - b)
    return pd.DataFrame(ib @ psi @ ib.T, index=lv, columns=lv)


_implied_latent_cov = latent_cov   # reliability_table's keyword latent_cov= shadows the name


def _loadings(estimates: pd.DataFrame, construct: str) -> pd.DataFrame:
    rows = estimates[(estimates["op"] == "=~") & (estimates["lhs"] == construct)]
    return rows.set_index("rhs")


def _alpha_parts(c: np.ndarray) -> float:
    k = c.shape[0]
    return (1.0 - np.trace(c) / c.sum()) * k / (k - 1)


# --------------------------------------------------------------------------------------------- public
def reliability_table(estimates: pd.DataFrame, data: pd.DataFrame, *, constructs=None,
                      sample_cov: pd.DataFrame | None = None,
                      latent_cov: pd.DataFrame | None = None) -> pd.DataFrame:
    """Alpha, omega, composite reliability and AVE for every latent construct.

    Items must already be recoded (reverse-keyed items reversed by the data stage).

    Parameters
    ----------
    estimates : pandas.DataFrame
        ``parameterEstimates(fit, standardized=TRUE)`` columns of the fitted model.
    data : pandas.DataFrame
        The item responses the model was fitted to (may contain other columns and missing values).
    constructs : sequence of str or mapping, optional
        Constructs to report (default: every factor with at least two indicators).
    sample_cov : pandas.DataFrame, optional
        Observed covariance matrix of the model's items (default: listwise over the model's observed
        variables, divisor N, as lavaan's sample statistics under ``missing="listwise"``).
    latent_cov : pandas.DataFrame, optional
        Model-implied latent covariance matrix (default: computed from ``estimates``).

    Returns
    -------
    pandas.DataFrame
        One row per construct: ``construct``, ``n_items``, ``alpha``, ``omega``, ``cr``, ``ave``.

    Raises
    ------
    DataError
        If ``estimates`` lacks columns or ``data`` lacks an item.

    Notes
    -----
    - ``alpha``: ``k/(k-1) (1 - tr C / sum C)`` with ``C`` the pairwise-complete covariance (N-1) of
      the construct's items, as ``psych::alpha()$total$raw_alpha`` (its default ``use="pairwise"``).
    - ``omega``: ``(sum lambda)^2 phi / sum S_block``, unstandardized loadings, ``phi`` the latent
      variance, ``S`` the observed covariance, as ``semTools::compRelSEM()`` defaults (``obs.var=TRUE``).
    - ``cr``: ``(sum l)^2 / ((sum l)^2 + sum theta)`` from standardized (``std.all``) loadings ``l``
      and residual variances ``theta``.
    - ``ave``: ``sum lambda^2 phi / sum diag(S)``, as ``semTools::AVE()``; NaN if an item cross-loads.

    Examples
    --------
    >>> est = pd.DataFrame({"lhs": ["F"] * 3 + ["a", "b", "c", "F"], "op": ["=~"] * 3 + ["~~"] * 4,
    ...                     "rhs": ["a", "b", "c", "a", "b", "c", "F"], "est": [1, 1, 1, .5, .5, .5, 1.],
    ...                     "std.all": [.82, .82, .82, .33, .33, .33, 1.]})
    >>> data = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 4, 4, 5], "c": [1, 3, 3, 5, 4]})
    >>> print(reliability_table(est, data).round(3).to_string(index=False))
    construct  n_items  alpha  omega    cr   ave
            F        3  0.936   0.65 0.859 0.577
    """
    fi = _select_constructs(factor_items(estimates), constructs)
    fi = {c: its for c, its in fi.items() if len(its) > 1}
    observed = _observed_in_model(estimates)
    _check_items(data, [i for its in fi.values() for i in its])
    s = sample_cov if sample_cov is not None else observed_cov(data, observed)
    phi = latent_cov if latent_cov is not None else _implied_latent_cov(estimates)
    all_load = estimates[estimates["op"] == "=~"]
    var = estimates[(estimates["op"] == "~~") & (estimates["lhs"] == estimates["rhs"])].drop_duplicates("lhs")
    resid_std = dict(zip(var["lhs"], var["std.all"].astype(float)))      # first row of each variable
    rows = []
    for c, items in fi.items():
        ld = _loadings(estimates, c).loc[items]
        lam = ld["est"].to_numpy(float)
        lam_std = ld["std.all"].to_numpy(float)
        theta = np.array([resid_std.get(i, np.nan) for i in items])
        x = data[items].apply(pd.to_numeric, errors="coerce")
        alpha = _alpha_parts(x.cov().to_numpy(float))
        ph = float(phi.loc[c, c])
        sb = s.loc[items, items].to_numpy(float)
        omega = lam.sum() ** 2 * ph / sb.sum()
        cr = lam_std.sum() ** 2 / (lam_std.sum() ** 2 + theta.sum())
        cross = all_load[all_load["rhs"].isin(items) & (all_load["lhs"] != c)
                         & (all_load["est"].round(5) != 0)]
        ave = np.nan if len(cross) else float((lam ** 2).sum() * ph / np.trace(sb))
        rows.append({"construct": c, "n_items": len(items), "alpha": alpha, "omega": omega,
                     "cr": cr, "ave": ave})
    return pd.DataFrame(rows, columns=["construct", "n_items", "alpha", "omega", "cr", "ave"])


def item_stats(estimates: pd.DataFrame, data: pd.DataFrame, *, constructs=None) -> pd.DataFrame:
    """Descriptive and psychometric statistics for every indicator.

    Items must already be recoded (reverse-keyed items reversed by the data stage).

    Parameters
    ----------
    estimates : pandas.DataFrame
        ``parameterEstimates(fit, standardized=TRUE)`` columns.
    data : pandas.DataFrame
        Item responses (missing values allowed).
    constructs : sequence of str or mapping, optional
        Constructs to report (default: all).

    Returns
    -------
    pandas.DataFrame
        One row per item: ``item``, ``construct``, ``n``, ``mean``, ``sd``, ``skew``, ``kurtosis``,
        ``missing`` (share of rows missing), ``r_drop`` (corrected item-total correlation),
        ``alpha_if_deleted``, ``loading`` (``std.all``), ``loading_p``.

    Notes
    -----
    ``n``, ``mean``, ``sd``, ``skew``, ``kurtosis`` as ``psych::describe()`` (NAs removed per item,
    type 3: ``skew = m3 / sd^3``, ``kurtosis = m4 / sd^4 - 3`` with ``m_k`` the mean k-th central
    moment and ``sd`` the N-1 standard deviation). ``r_drop`` and ``alpha_if_deleted`` as
    ``psych::alpha()`` ``item.stats$r.drop`` and ``alpha.drop$raw_alpha``, from the construct's
    pairwise-complete covariance matrix ``C``: ``r_drop_i = (sum C[i, ] - C[i, i]) /
    sqrt(C[i, i] * sum C[-i, -i])``.
    """
    fi = _select_constructs(factor_items(estimates), constructs)
    _check_items(data, [i for its in fi.values() for i in its])
    rows = []
    for c, items in fi.items():
        x = data[items].apply(pd.to_numeric, errors="coerce")
        cmat = x.cov().to_numpy(float)
        ld = _loadings(estimates, c)
        k = len(items)
        for j, item in enumerate(items):
            v = x[item].dropna().to_numpy(float)
            n = v.size
            m = v.mean() if n else np.nan
            sd = v.std(ddof=1) if n > 1 else np.nan
            keep = [t for t in range(k) if t != j]
            if k > 1:
                r_drop = (cmat[:, j].sum() - cmat[j, j]) / np.sqrt(cmat[j, j] * cmat[np.ix_(keep, keep)].sum())
            else:
                r_drop = np.nan
            if k > 2:
                a_drop = _alpha_parts(cmat[np.ix_(keep, keep)])
            elif k == 2:   # psych: C[1, 2] / C[other, other]
                a_drop = cmat[0, 1] / cmat[keep[0], keep[0]]
            else:
                a_drop = np.nan
            rows.append({
                "item": item, "construct": c, "n": n, "mean": m, "sd": sd,
                "skew": ((v - m) ** 3).sum() / (n * sd ** 3) if n > 1 else np.nan,
                "kurtosis": ((v - m) ** 4).sum() / (n * sd ** 4) - 3 if n > 1 else np.nan,
                "missing": float(x[item].isna().mean()),
                "r_drop": r_drop, "alpha_if_deleted": a_drop,
                "loading": float(ld.loc[item, "std.all"]),
                "loading_p": float(ld.loc[item, "pvalue"]) if "pvalue" in ld.columns else np.nan,
            })
    return pd.DataFrame(rows)


def measurement_flags(reliability: pd.DataFrame, items: pd.DataFrame | None = None, *,
                      loading_min: float = LOADING_MIN, cr_min: float = CR_MIN,
                      ave_min: float = AVE_MIN) -> pd.DataFrame:
    """Flag weak loadings, low composite reliability and low AVE.

    Parameters
    ----------
    reliability : pandas.DataFrame
        Output of :func:`reliability_table`.
    items : pandas.DataFrame, optional
        Output of :func:`item_stats`.
    loading_min, cr_min, ave_min : float
        Thresholds (defaults 0.5, 0.7, 0.5).

    Returns
    -------
    pandas.DataFrame
        One row per problem: ``name``, ``construct``, ``statistic`` (``loading``, ``cr``, ``ave``),
        ``value``, ``threshold``.
    """
    rows = []
    for _, r in reliability.iterrows():
        for stat, thr in (("cr", cr_min), ("ave", ave_min)):
            if pd.notna(r[stat]) and r[stat] < thr:
                rows.append({"name": r["construct"], "construct": r["construct"], "statistic": stat,
                             "value": float(r[stat]), "threshold": thr})
    if items is not None:
        for _, r in items.iterrows():
            if pd.notna(r["loading"]) and abs(r["loading"]) < loading_min:
                rows.append({"name": r["item"], "construct": r["construct"], "statistic": "loading",
                             "value": float(r["loading"]), "threshold": loading_min})
    return pd.DataFrame(rows, columns=["name", "construct", "statistic", "value", "threshold"])


def _mardia_moments(x: np.ndarray, chunk: int = 2048) -> tuple[float, float]:
    """Mardia's ``b1p`` and ``b2p`` in O(n p + p^3) memory.

    With ``S = L L'`` (divisor ``n - 1``, as psych) and whitened rows ``z_i = L^{-1} (x_i - xbar)``,
    ``d_ij = z_i' z_j``, so ``sum_ij d_ij^3 = sum_abc M_abc^2`` with the third-moment tensor
    ``M_abc = sum_i z_ia z_ib z_ic``, and ``d_ii = |z_i|^2``. No n x n matrix is formed; rows are
    accumulated in chunks of ``chunk``.
    """
    n, p = x.shape
    xc = x - x.mean(axis=0)
    L = np.linalg.cholesky(xc.T @ xc / (n - 1))
    z = np.linalg.solve(L, xc.T).T                      # n x p whitened rows
    m3 = np.zeros((p * p, p))
    for a in range(0, n, chunk):
        zc = z[a:a + chunk]
        m3 += (zc[:, :, None] * zc[:, None, :]).reshape(len(zc), p * p).T @ zc
    dii = np.einsum("ij,ij->i", z, z)
    return float((m3 ** 2).sum() / n ** 2), float((dii ** 2).sum() / n)


def mardia(data: pd.DataFrame) -> dict:
    """Mardia's multivariate skewness and kurtosis, as ``psych::mardia()``.

    Complete cases only (``na.omit``). Items must already be recoded.

    Parameters
    ----------
    data : pandas.DataFrame
        Item columns only.

    Returns
    -------
    dict
        ``n_obs``, ``n_var``, ``b1p``, ``b2p``, ``skew`` (``n b1p / 6``), ``small_skew`` (small-sample
        corrected), ``p_skew``, ``p_small`` (chi-square, ``p(p+1)(p+2)/6`` df), ``kurtosis``
        (``(b2p - p(p+2)) sqrt(n / (8p(p+2)))``) and ``p_kurt`` (two-sided normal).
    """
    from ..engine._distributions import chi2, norm

    if not isinstance(data, pd.DataFrame):
        raise DataError("data= must be a pandas DataFrame with one column per item.")
    x = data.apply(pd.to_numeric, errors="coerce").dropna().to_numpy(float)
    n, p = x.shape
    if n <= p:
        raise DataError(f"data= has {n} complete rows for {p} items; Mardia's test needs more rows than items.")
    b1p, b2p = _mardia_moments(x)
    df = p * (p + 1) * (p + 2) / 6
    k = (p + 1) * (n + 1) * (n + 3) / (n * ((n + 1) * (p + 1) - 6))
    skew = n * b1p / 6
    small = n * k * b1p / 6
    kurt = (b2p - p * (p + 2)) * np.sqrt(n / (8 * p * (p + 2)))
    return {"n_obs": n, "n_var": p, "b1p": b1p, "b2p": b2p, "skew": skew, "small_skew": small,
            "p_skew": float(chi2.sf(skew, df)), "p_small": float(chi2.sf(small, df)),
            "kurtosis": float(kurt), "p_kurt": float(2 * norm.sf(abs(kurt)))}
