"""sem_cocreate: survey SEM for value co-creation in crowdsourcing innovation.

Import is light on purpose: heavy libraries (semopy, statsmodels, pingouin) load only
inside the functions that need them, so ``python -m sem_cocreate --help`` starts fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
