"""Inference on fitted models: bootstrap and Monte Carlo intervals, mediation tables, measurement
invariance across groups, Monte Carlo power; the process/Dask parallel map."""
