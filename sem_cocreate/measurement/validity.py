"""Discriminant validity: HTMT (semTools 0.5.6 ``htmt()``), its bootstrap interval, Fornell-Larcker.

Every function assumes reverse-keyed items are already recoded (the data stage recodes them once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import DataError, OptionError
from .reliability import _check_items, factor_items, latent_cov, reliability_table


def _constructs(constructs) -> dict[str, list[str]]:
    if isinstance(constructs, pd.DataFrame):
        return factor_items(constructs)
    if not isinstance(constructs, Mapping) or not constructs:
        raise OptionError("constructs= must map each construct to its item columns, e.g. {'TR': ['tr1', 'tr2']}.")
    out = {str(c): list(items) for c, items in constructs.items()}
    short = [c for c, items in out.items() if len(items) < 2]
    if short:
        raise OptionError(f"construct(s) {', '.join(short)} have fewer than 2 items; HTMT needs 2 or more.")
    return out


def _complete(data: pd.DataFrame, items: Sequence[str]) -> np.ndarray:
    _check_items(data, items)
    x = data[list(items)].apply(pd.to_numeric, errors="coerce").dropna().to_numpy(float)
    if x.shape[0] < 3:
        raise DataError("data= has fewer than 3 complete rows on the constructs' items; check missing values.")
    return x


def _htmt_from_cor(r: np.ndarray, blocks: list[np.ndarray], htmt2: bool, absolute: bool) -> np.ndarray:
    r = np.abs(r) if (absolute or htmt2) else r.copy()
    k = len(blocks)

    def avg(a: np.ndarray) -> float:
        return float(np.exp(np.log(a).mean())) if htmt2 else float(a.mean())

    within = np.empty(k)
    for i, b in enumerate(blocks):
        sub = r[np.ix_(b, b)]
        within[i] = avg(sub[~np.eye(len(b), dtype=bool)])
    out = np.ones((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = avg(r[np.ix_(blocks[i], blocks[j])]) / np.sqrt(within[i] * within[j])
    return out


_CELLS = 1 << 22          # float64 cells per temporary (32 MB) in the batched bootstrap


def _resampled_cors(x: np.ndarray, children) -> np.ndarray:
    """Correlation matrices of the resamples drawn by ``children``, all moments from one GEMM.

    Resample ``b`` draws ``default_rng(children[b]).integers(0, n, n)`` (the same rows as
    ``x[idx]``); its counts ``w_b`` give the moments ``w_b' [x x']`` of every resample in one
    (resamples x n) @ (n x p^2) product on data centred at the full-sample mean. Returns an array of
    shape (resamples, p, p), equal to ``np.corrcoef(x[idx], rowvar=False)`` to rounding.
    """
    n, p = x.shape
    xc = x - x.mean(axis=0)
    B = len(children)
    w = np.empty((B, n))
    for b, child in enumerate(children):
        w[b] = np.bincount(np.random.default_rng(child).integers(0, n, n), minlength=n)
    m = w @ xc / n                                          # B x p resample means (centred scale)
    cross = np.zeros((B, p * p))
    step = max(1, _CELLS // (p * p))
    for a in range(0, n, step):
        xa = xc[a:a + step]
        cross += w[:, a:a + step] @ (xa[:, :, None] * xa[:, None, :]).reshape(len(xa), p * p)
    cov = cross.reshape(B, p, p) / n - m[:, :, None] * m[:, None, :]
    sd = np.sqrt(np.einsum("bii->bi", cov))
    r = cov / (sd[:, :, None] * sd[:, None, :])
    np.clip(r, -1.0, 1.0, out=r)
    return r


def _htmt_batch(r: np.ndarray, blocks: list[np.ndarray], htmt2: bool) -> np.ndarray:
    """:func:`_htmt_from_cor` (absolute correlations) for a stack of correlation matrices."""
    p = r.shape[-1]
    a = np.abs(r)
    if htmt2:
        with np.errstate(divide="ignore"):
            a = np.log(a)
    idx = np.arange(p)
    a[:, idx, idx] = 0.0
    e = np.zeros((p, len(blocks)))
    for i, b in enumerate(blocks):
        e[b, i] = 1.0
    size = e.sum(axis=0)
    cnt = np.outer(size, size) - np.diag(size)              # off-diagonal pairs within, all between
    avg = np.einsum("pi,bpq,qj->bij", e, a, e, optimize=True) / cnt
    if htmt2:
        avg = np.exp(avg)
    within = np.einsum("bii->bi", avg)
    out = avg / np.sqrt(within[:, :, None] * within[:, None, :])
    k = len(blocks)
    out[:, np.arange(k), np.arange(k)] = 1.0
    return out


def _htmt_draws(x: np.ndarray, blocks: list[np.ndarray], children, htmt2: bool) -> np.ndarray:
    """HTMT matrices (resamples x k x k) of the bootstrap resamples, in batches bounded in memory."""
    n, p = x.shape
    step = max(1, min(512, _CELLS // max(n, p * p)))
    return np.concatenate([_htmt_batch(_resampled_cors(x, children[a:a + step]), blocks, htmt2)
                           for a in range(0, len(children), step)])


def htmt(data: pd.DataFrame, constructs, *, htmt2: bool = True, absolute: bool = True) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations, as ``semTools::htmt()`` 0.5.6.

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses (reverse-keyed items already recoded).
    constructs : mapping or pandas.DataFrame
        construct -> item columns, or a ``parameterEstimates()`` frame whose ``=~`` rows define them.
    htmt2 : bool, default True
        Geometric means of the absolute correlations (HTMT2, Roemer et al. 2021; semTools' default).
        False: arithmetic means (the original HTMT of Henseler et al. 2015).
    absolute : bool, default True
        Use absolute correlations with ``htmt2=False`` too (semTools' default).

    Returns
    -------
    pandas.DataFrame
        Square construct-by-construct matrix, 1 on the diagonal.

    Notes
    -----
    Correlations are Pearson correlations of the rows complete on all listed items (semTools calls
    ``lavCor(missing="listwise")``). Within-construct averages use the off-diagonal correlations;
    ``HTMT_ij = mean(r between i and j) / sqrt(mean(r within i) * mean(r within j))``.
    """
    fi = _constructs(constructs)
    items = [i for its in fi.values() for i in its]
    x = _complete(data, items)
    pos = {v: t for t, v in enumerate(items)}
    blocks = [np.array([pos[i] for i in its]) for its in fi.values()]
    r = np.corrcoef(x, rowvar=False)
    names = list(fi)
    return pd.DataFrame(_htmt_from_cor(r, blocks, htmt2, absolute), index=names, columns=names)


def htmt_bootstrap(data: pd.DataFrame, constructs, *, n_boot: int = 2000,
                   seed: int | np.random.SeedSequence | None = None, ci: float = 0.95,
                   htmt2: bool = True) -> pd.DataFrame:
    """Percentile bootstrap interval of every HTMT, for HTMT-inference (Henseler et al. 2015).

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses (reverse-keyed items already recoded); rows incomplete on the items are dropped.
    constructs : mapping or pandas.DataFrame
        As in :func:`htmt`.
    n_boot : int, default 2000
        Resamples (rows drawn with replacement from the complete rows).
    seed : int, optional
        Resample ``b`` uses ``np.random.default_rng(np.random.SeedSequence(seed).spawn(n_boot)[b])``, so
        the result does not depend on order or parallelism.
    ci : float, default 0.95
        Two-sided percentile interval level.
    htmt2 : bool, default True
        As in :func:`htmt`.

    Returns
    -------
    pandas.DataFrame
        One row per construct pair: ``lhs``, ``rhs``, ``htmt`` (full sample), ``ci.lower``, ``ci.upper``,
        ``flag_085``, ``flag_090``, ``flag_100`` (True when the interval's upper bound reaches 0.85,
        0.90 or 1: discriminant validity not established at that threshold; 1 is HTMT_inference of
        Henseler et al. 2015, 0.85/0.90 the stricter tests of Franke & Sarstedt 2019), ``n_boot``.
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise OptionError(f"n_boot= must be a whole number >= 2, got {n_boot!r}.")
    if not 0 < ci < 1:
        raise OptionError(f"ci= must be between 0 and 1, got {ci!r}.")
    fi = _constructs(constructs)
    items = [i for its in fi.values() for i in its]
    x = _complete(data, items)
    pos = {v: t for t, v in enumerate(items)}
    blocks = [np.array([pos[i] for i in its]) for its in fi.values()]
    full = _htmt_from_cor(np.corrcoef(x, rowvar=False), blocks, htmt2, True)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    n = x.shape[0]
    k = len(blocks)
    iu = np.triu_indices(k, 1)
    draws = _htmt_draws(x, blocks, ss.spawn(n_boot), htmt2)[:, iu[0], iu[1]]
    lo, hi = np.nanquantile(draws, [(1 - ci) / 2, 1 - (1 - ci) / 2], axis=0)
    names = list(fi)
    out = pd.DataFrame({"lhs": [names[j] for j in iu[1]], "rhs": [names[i] for i in iu[0]],
                        "htmt": full[iu], "ci.lower": lo, "ci.upper": hi})
    out["flag_085"] = out["ci.upper"] >= 0.85
    out["flag_090"] = out["ci.upper"] >= 0.90
    out["flag_100"] = out["ci.upper"] >= 1.0
    out["n_boot"] = n_boot
    return out


def fornell_larcker(estimates: pd.DataFrame, *, data: pd.DataFrame | None = None,
                    latent_cor: pd.DataFrame | None = None, ave: pd.Series | None = None) -> pd.DataFrame:
    """Fornell-Larcker matrix: square root of AVE on the diagonal, latent correlations off it.

    Parameters
    ----------
    estimates : pandas.DataFrame
        ``parameterEstimates(fit, standardized=TRUE)`` columns.
    data : pandas.DataFrame, optional
        The item data; when given, AVE is ``semTools::AVE()`` (observed item variances, see
        :func:`~sem_cocreate.reliability.reliability_table`). Without it, AVE is the mean squared
        standardized loading (model-implied variances, ``AVE(obs.var=FALSE)``).
    latent_cor : pandas.DataFrame, optional
        Latent correlation matrix (``lavInspect(fit, "cor.lv")``). Default: the model-implied latent
        covariance from ``estimates`` (``(I-B)^-1 Psi (I-B)^-T``; in a CFA the ``F ~~ G`` rows),
        scaled to correlations, so structural models are handled too.
    ave : pandas.Series, optional
        AVE per construct, overriding both choices above.

    Returns
    -------
    pandas.DataFrame
        Square construct-by-construct matrix; the diagonal is sqrt(AVE). Discriminant validity holds
        for a construct when its diagonal exceeds every correlation in its row and column.
    """
    fi = factor_items(estimates)
    names = [c for c, its in fi.items() if len(its) > 1]
    if ave is None:
        if data is not None:
            ave = reliability_table(estimates, data).set_index("construct")["ave"]
        else:
            ld = estimates[estimates["op"] == "=~"]
            ave = ld.groupby("lhs", sort=False)["std.all"].apply(lambda s: float((s ** 2).mean()))
    if latent_cor is None:
        cov = latent_cov(estimates)
        sd = np.sqrt(np.diag(cov.to_numpy()))
        latent_cor = pd.DataFrame(cov.to_numpy() / np.outer(sd, sd), index=cov.index, columns=cov.columns)
    out = latent_cor.loc[names, names].astype(float).copy()
    for c in names:
        out.loc[c, c] = np.sqrt(float(ave[c])) if pd.notna(ave[c]) and ave[c] >= 0 else np.nan
    return out
