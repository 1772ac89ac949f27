"""The engine's public entry points with lavaan's names: :func:`sem` and :func:`cfa`.

Both call :func:`~sem_cocreate.engine.fit.fit_sem`. In lavaan 0.6.14 ``cfa()`` and ``sem()`` are the same
wrapper around ``lavaan()`` with the same defaults (``int.ov.free``, ``auto.fix.first``,
``auto.fix.single``, ``auto.var``, ``auto.cov.lv.x``, ``auto.cov.y``, ``fixed.x``); so are these.
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import OptionError
from .compare import compare_models
from .fit import fit_sem
from .modindices import modindices
from .predict import predict
from .residuals import residuals
from .result import SEMResult

__all__ = ["sem", "cfa", "growth", "modindices", "compare_models", "residuals", "predict"]


def sem(model: str, data: pd.DataFrame, *, estimator: str = "ML", missing: str = "listwise",
        group: str | None = None, group_equal=(), group_partial=(),
        information: str = "expected") -> SEMResult:
    """Fit a lavaan-syntax structural equation model to a DataFrame, as ``lavaan::sem()`` does.

    Parameters
    ----------
    model : str
        lavaan model syntax (``=~ ~ ~~ ~1 :=``, labels, fixed values, ``NA*``, ``start()``, ``==``).
    data : pandas.DataFrame
        One row per respondent, the model's observed variables as numeric columns. Raw survey
        exports go through :func:`sem_cocreate.read_responses` and :func:`sem_cocreate.screen` first
        (reverse-coding and careless-responding screening happen there, not here).
    estimator : {"ML", "MLR", "WLSMV"}
    missing : {"listwise", "fiml"}
    group : str, optional
        Column whose levels define a multi-group model (lavaan's ``group =``).
    group_equal, group_partial : sequence of str
        lavaan's ``group.equal`` (``"loadings"``, ``"intercepts"``, ``"residuals"``, …) and
        ``group.partial`` (``"ks3~1"``).
    information : {"expected", "observed"}
        The information matrix behind the standard errors.

    Returns
    -------
    SEMResult
        ``.estimates`` (``parameterEstimates(fit, standardized = TRUE)`` columns), ``.fit``
        (``fitMeasures()`` names), ``.r2``, ``.summary()``.

    Notes
    -----
    lavaan: ``sem(model, data, estimator = , missing = , group = , group.equal = )``. Checked against
    lavaan 0.6.14 in ``tests/test_fit_reference.py`` (estimates and SEs within 0.001, chi-square within
    0.01%).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sem_cocreate as sc
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=300)
    >>> df = pd.DataFrame({f"x{i}": 0.8 * f + rng.normal(scale=0.6, size=300) for i in range(1, 4)})
    >>> r = sc.sem("F =~ x1 + x2 + x3", df)
    >>> int(r.fit["df"]), r.converged
    (0, True)
    >>> print(r.summary().splitlines()[0])  # doctest: +ELLIPSIS
    sem_cocreate ... ended normally
    """
    if information not in ("expected", "observed"):
        raise OptionError(f"information={information!r} is not supported; use 'expected' or 'observed'")
    return fit_sem(model, data, estimator=estimator, missing=missing, group=group,
                   group_equal=tuple(group_equal), group_partial=tuple(group_partial),
                   information=information)


def cfa(model: str, data: pd.DataFrame, **options) -> SEMResult:
    """Fit a confirmatory factor analysis, as ``lavaan::cfa()`` does (same defaults as :func:`sem`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sem_cocreate as sc
    >>> rng = np.random.default_rng(2)
    >>> f = rng.normal(size=(400, 2))
    >>> df = pd.DataFrame({f"y{i}": 0.7 * f[:, i // 3] + rng.normal(scale=0.7, size=400) for i in range(6)})
    >>> r = sc.cfa("A =~ y0 + y1 + y2\\nB =~ y3 + y4 + y5", df)
    >>> int(r.fit["df"])
    8
    """
    return sem(model, data, **options)


def growth(model: str, data: pd.DataFrame, *, group: str | None = None, **options) -> SEMResult:
    """Fit a latent growth curve model, as ``lavaan::growth()`` does.

    The same as :func:`sem` with a mean structure, the intercepts of the observed variables fixed
    to 0 (``int.ov.free = FALSE``) and the latent means free (``int.lv.free = TRUE``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sem_cocreate as sc
    >>> rng = np.random.default_rng(3)
    >>> i, s = rng.normal(size=(2, 300))
    >>> df = pd.DataFrame({f"t{k}": 1 + i + k * (0.5 + 0.3 * s) + rng.normal(scale=0.5, size=300)
    ...                    for k in range(4)})
    >>> r = sc.growth("i =~ 1*t0 + 1*t1 + 1*t2 + 1*t3\\ns =~ 0*t0 + 1*t1 + 2*t2 + 3*t3", df)
    >>> int(r.fit["df"])
    5
    """
    from .result import group_levels
    from .spec import build_spec

    groups = group_levels(data, group) if group else ("",)
    spec = build_spec(model, data_columns=data.columns, groups=groups, meanstructure=True,
                      int_ov_free=False, int_lv_free=True,
                      group_equal=tuple(options.pop("group_equal", ())),
                      group_partial=tuple(options.pop("group_partial", ())))
    information = options.pop("information", "expected")
    return fit_sem(spec, data, group=group, information=information, **options)
