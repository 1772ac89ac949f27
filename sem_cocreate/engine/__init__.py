"""The SEM engine: lavaan syntax and parameter table, RAM matrices, estimators, fit indices, results.

Nothing in here knows about surveys: ``fit_sem(model, data)`` takes lavaan syntax and a DataFrame.
Estimators beyond complete-data ML live in :mod:`sem_cocreate.engine.estimators`.
"""
