"""Factor scores, as lavaan's ``lavPredict()``: the regression and the Bartlett method.

With ``Sigma`` and ``mu`` the implied moments of the observed variables, ``C = Cov(eta, y)`` the
implied covariances of the latent with the observed variables and ``alpha`` the implied latent means:

- ``regression`` (Thurstone): ``eta_hat = alpha + C Sigma^-1 (y - mu)``;
- ``bartlett``: ``eta_hat = alpha + (L' Theta^-1 L)^-1 L' Theta^-1 (y - mu)`` with ``L`` the loadings
  of the observed variables on the latent variables and ``Theta`` the residual covariance matrix
  (first-order factors; needs ``L'Theta^-1 L`` invertible, so not for a second-order factor).

Without a mean structure ``mu`` is the sample mean and ``alpha`` is 0, as in lavaan. Rows are the
respondents the model was fitted to (listwise-complete rows), in data order.

Checked against lavaan 0.6.14 ``lavPredict(fit, method = "regression" | "Bartlett")``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import OptionError


def predict(result, method: str = "regression") -> pd.DataFrame:
    """Factor scores of every respondent the model was fitted to.

    Parameters
    ----------
    result : SEMResult
        An ML / MLR fit to complete (listwise) data with at least one latent variable.
    method : {"regression", "bartlett"}

    Returns
    -------
    pandas.DataFrame
        One row per respondent (the data's index), one column per latent variable (+ ``group``
        with several groups).

    Notes
    -----
    lavaan: ``lavPredict(fit, method = "regression" | "Bartlett")``.
    """
    method = str(method).lower()
    if method not in ("regression", "bartlett"):
        raise OptionError(f"factor-score method {method!r} is not supported; use regression or bartlett")
    if "frames" not in result.internals or result.missing != "listwise" or result.estimator == "WLSMV":
        raise OptionError("factor scores need an ML or MLR fit to complete (listwise) data")
    spec = result.spec
    if not spec.lv_names:
        raise OptionError("the model has no latent variable to score")
    model = result.internals["model"]
    stats = result.internals["stats"]
    theta = np.asarray(result.theta, float)
    implied = model.implied(theta)
    mats = model.matrices(theta)
    p = len(model.ov)
    parts = []
    for g, frame in enumerate(result.internals["frames"]):
        sigma, mu, E, full, mean_full = implied[g]
        Y = frame[list(spec.ov_names)].to_numpy(float)
        if spec.meanstructure:
            center, alpha = mu, mean_full[p:]
        else:
            center, alpha = stats.mean[g], np.zeros(len(model.lv))
        D = Y - center
        if method == "regression":
            C = full[p:, :p]
            W = np.linalg.solve(sigma, C.T)            # Sigma^-1 C'
            scores = alpha + D @ W
        else:
            L = mats[g].A[:p, p:]
            Theta = mats[g].S[:p, :p]
            try:
                TiL = np.linalg.solve(Theta, L)
                M = L.T @ TiL
                scores = alpha + D @ TiL @ np.linalg.inv(M).T
            except np.linalg.LinAlgError:
                raise OptionError("Bartlett scores need every latent variable measured by observed indicators "
                                  "with positive residual variances (not a second-order or single-indicator "
                                  "factor); use method='regression'") from None
        df = pd.DataFrame(scores, columns=list(spec.lv_names), index=frame.index)
        if len(spec.groups) > 1:
            df.insert(0, "group", spec.groups[g])
        parts.append(df)
    return pd.concat(parts) if len(parts) > 1 else parts[0]
