"""The options of a study run (the ``fit`` command's options as one frozen value).

``cli.py`` parses arguments into :class:`StudyOptions`; :func:`sem_cocreate.run_study` takes the
same options as keywords. :meth:`StudyOptions.resolved` checks every combination once, up front,
and fills the defaults that depend on others (the default study, the seed, the bootstrap size).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import OptionError

DEFAULT_SEED = 20260101
DEFAULT_DATA_RELPATH = "data/cocreation_demo.csv"
DEFAULT_OUT = "reports/cocreation_demo"
DEFAULT_STUDY_BOOTSTRAP = 2000
USER_DATA_BOOTSTRAP = 5000      # percentile bootstrap by default on user data too (issue 13)
FORMATS = ("html", "md", "docx")
LANGS = ("en", "zh")


@dataclass(frozen=True)
class StudyOptions:
    """Everything that decides what a study run computes and where it writes.

    ``data``, ``model`` and ``instrument`` are file paths (``None``: the embedded default study's files
    where that applies). ``bootstrap=None`` means the default: 2,000 resamples for the default study,
    5,000 on user data (``bootstrap=0``: the delta method; ``--ci mc`` and WLSMV: no resampling).
    """

    data: Path | None = None
    model: Path | None = None
    instrument: Path | None = None
    mapping: Path | None = None
    missing_fields: str = "error"         # a declared essential field absent from the data: "error" or "warn"
    estimator: str = "ml"
    missing: str | None = None
    information: str = "expected"
    group: str | None = None
    invariance: bool = False
    free: tuple[str, ...] = ()
    bootstrap: int | None = None
    ci: str = "perc"
    seed: int | None = None
    jobs: int | None = None
    scheduler: str | None = None
    screening: Path | None = None
    no_screening: bool = False
    out: Path | None = None
    overwrite: bool = False
    formats: tuple[str, ...] = ("html", "md")
    langs: tuple[str, ...] = ("en",)
    argv: tuple[str, ...] | None = None

    @property
    def default_study(self) -> bool:
        """No data and no model given: the embedded default study."""
        return self.data is None and self.model is None

    def resolved(self) -> "StudyOptions":
        """Check the options and fill the defaults; raises :class:`OptionError` naming the option."""
        o = self
        est = (o.estimator or "ml").lower()
        if est not in ("ml", "mlr", "wlsmv"):
            raise OptionError(f"--estimator {o.estimator}: use ml, mlr or wlsmv")
        missing = (o.missing or "listwise").lower()
        if missing not in ("listwise", "fiml"):
            raise OptionError(f"--missing {o.missing}: use listwise or fiml")
        if missing == "fiml" and est == "wlsmv":
            raise OptionError("--missing fiml works with --estimator ml or mlr; WLSMV uses listwise/pairwise data")
        information = (o.information or "expected").lower()
        if information not in ("expected", "observed"):
            raise OptionError(f"--information {o.information}: use expected or observed")
        if information == "observed" and (est != "ml" or missing != "listwise"):
            raise OptionError("--information observed works with --estimator ml and --missing listwise")
        if o.invariance and not o.group:
            raise OptionError("--invariance needs --group COLUMN (the column that defines the groups)")
        ci = (o.ci or "perc").lower()
        if ci not in ("perc", "bc", "bca", "mc"):
            raise OptionError(f"--ci {o.ci}: use perc, bc, bca or mc")
        if o.bootstrap is not None and o.bootstrap < 0:
            raise OptionError(f"--bootstrap {o.bootstrap}: give a number of resamples >= 0")
        if o.bootstrap and ci == "mc":
            raise OptionError("--ci mc draws Monte Carlo intervals without resampling; drop --bootstrap or use "
                              "--ci perc|bc|bca")
        if o.bootstrap and est == "wlsmv":
            raise OptionError("--bootstrap is implemented for ml and mlr; use --ci mc with wlsmv")
        for fmt in o.formats:
            if fmt not in FORMATS:
                raise OptionError(f"--format {fmt}: use html, md or docx")
        for lang in o.langs:
            if lang not in LANGS:
                raise OptionError(f"--lang {lang}: use en or zh")
        bootstrap = o.bootstrap
        if bootstrap is None:
            # percentile bootstrap intervals for every defined effect: 2,000 resamples for the default
            # study, 5,000 on user data (Zhao et al. 2010 advise against delta-method intervals);
            # --ci mc and wlsmv use Monte Carlo / delta intervals instead
            bootstrap = (0 if ci == "mc" or est == "wlsmv"
                         else DEFAULT_STUDY_BOOTSTRAP if o.default_study else USER_DATA_BOOTSTRAP)
        return dataclasses.replace(
            o, estimator=est, missing=missing, information=information, ci=ci, bootstrap=bootstrap,
            seed=DEFAULT_SEED if o.seed is None else o.seed,
            data=_path(o.data), model=_path(o.model), instrument=_path(o.instrument), mapping=_path(o.mapping),
            screening=_path(o.screening), out=_path(o.out), free=tuple(o.free),
            formats=tuple(o.formats), langs=tuple(o.langs))

    def manifest_options(self) -> dict:
        """The options recorded in ``manifest.json``."""
        return {"estimator": self.estimator.upper(), "missing": self.missing, "information": self.information,
                "group": self.group,
                "invariance": self.invariance, "bootstrap": self.bootstrap, "ci": self.ci, "jobs": self.jobs,
                "scheduler": self.scheduler, "free": list(self.free)}


def _path(p) -> Path | None:
    return None if p is None else Path(p)
