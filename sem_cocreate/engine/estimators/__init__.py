"""Estimators that plug into :func:`sem_cocreate.engine.fit.fit_sem`: MLR, FIML, WLSMV and the batched
ML engine used by the bootstrap."""
