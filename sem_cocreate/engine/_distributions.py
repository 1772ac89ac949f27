"""Normal and chi-square distribution functions on ``scipy.special`` (no ``scipy.stats`` import).

``scipy.stats`` costs about a second to import, and the fit path needs only a handful of its
functions. These objects offer the same calls (``norm.cdf/sf/ppf``, ``chi2.cdf/sf``, ``ncx2.cdf/sf``)
and the same numbers: ``scipy.stats`` evaluates them with the same ``scipy.special`` kernels. R's
counterparts are ``pnorm``/``qnorm`` and ``pchisq`` (with ``ncp=``).
"""

from __future__ import annotations

import numpy as np
from scipy import special as _sp


class _Norm:
    """Standard normal: ``pnorm``, ``qnorm`` (``scipy.stats.norm`` without location/scale)."""

    @staticmethod
    def cdf(x):
        return _sp.ndtr(x)

    @staticmethod
    def sf(x):
        return _sp.ndtr(np.negative(x))

    @staticmethod
    def ppf(q):
        return _sp.ndtri(q)


class _Chi2:
    """Central chi-square: ``pchisq(x, df)`` and ``pchisq(x, df, lower.tail = FALSE)``."""

    @staticmethod
    def cdf(x, df):
        return _sp.chdtr(df, x)

    @staticmethod
    def sf(x, df):
        return _sp.chdtrc(df, x)


class _NCX2:
    """Noncentral chi-square: ``pchisq(x, df, ncp)``."""

    @staticmethod
    def cdf(x, df, nc):
        return _sp.chndtr(x, df, nc)

    @staticmethod
    def sf(x, df, nc):
        return 1.0 - _sp.chndtr(x, df, nc)


norm = _Norm()
chi2 = _Chi2()
ncx2 = _NCX2()
