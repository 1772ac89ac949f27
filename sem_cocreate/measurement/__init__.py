"""Measurement quality: reliability, validity (HTMT, Fornell-Larcker), exploratory checks, common-method
variance. Works on data and fitted :class:`~sem_cocreate.engine.result.SEMResult` objects."""
