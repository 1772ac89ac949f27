"""The study: options, the steps from raw survey export to results folder, and ``run_study``."""
