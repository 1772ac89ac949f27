"""Careless-responding screening: transparent rules, each with a documented default, each switchable.

Rules run in this order; every rule flags respondents on its own criterion (one boolean column each in
``exclusions``), and the *flow* counts how many are removed at each step (raw n → ... → analysed n).
Answers are judged as the respondent gave them: reverse-keyed items recoded by
:func:`sem_cocreate.data.validate_responses` are turned back (``min + max - x``) for the pattern rules.

==================  ===============================================================================
rule                default (key = value) and reason
==================  ===============================================================================
``preview``         ``enabled = True``: Qualtrics Survey Preview / test responses (``Status`` = 1 or
                    "Survey Preview", ``DistributionChannel`` = "preview", or a ``status`` field).
                    They are the researcher's own test runs, not respondents.
``consent``         ``missing_is_decline = True``: the consent field (kind ``consent``) is not the
                    agreeing option (its ``correct`` code, else the option named ``agree`` / ``yes``,
                    else the first option). Without consent no answer may be analysed, whatever
                    the survey's skip logic did.
``missingness``     ``max_share = 0.5``: more than half of the item answers missing. Such a record
                    carries little information and cannot be judged by the other rules.
``speeders``        ``seconds_per_item = 2``, ``fraction_of_median = 0.4``, ``min_seconds = None``:
                    duration < max(2 s × number of items, 0.4 × median duration). Two seconds per
                    item is the floor Huang et al. (2012, J. Business and Psychology 27, 99–114)
                    proposed as the fastest plausible attentive pace; the relative cut follows
                    Leiner's (2019, Survey Research Methods 13, 229–248) relative speed index, set a
                    little more conservatively than his RSI 2 (0.5 × median), so that genuinely fast
                    readers are not dropped. ``min_seconds`` replaces the 2 s × items floor.
``attention``       ``max_failed = 0``, ``missing_is_failure = True``: any instructed-response
                    (attention) item answered wrongly or skipped. Instructed items are the most
                    direct careless-responding evidence (Meade & Craig 2012, Psychological Methods
                    17, 437–455).
``straightlining``  ``max_run_share = 0.5``, ``min_run = 6``, ``flat_constructs = True``,
                    ``require_reverse = True``: (a) the longest run of identical consecutive answers
                    in questionnaire order (LongString; Johnson 2005) covers at least half of the
                    items (Curran 2016, J. Experimental Social Psychology 66, suggests half the
                    scale length as a first cut) and at least ``min_run`` answers; or (b) every
                    construct is answered with one and the same option throughout while the
                    instrument has a reverse-keyed item — an attentive respondent cannot give the
                    same raw answer to an item and its reversal.
``alternating``     ``max_run_share = 0.5``, ``min_run = 8``: the longest run of a period-two zig-zag
                    (x[i] = x[i-2] != x[i-1], e.g. 3-5-3-5) in questionnaire order covers at least
                    half of the items and ``min_run`` answers — LongString generalised to a pattern
                    of period two (Curran 2016 names such "seesaw" patterns as careless responding
                    that invariance indices miss). On by default: on clean simulated data its
                    false-positive rate is 0 in 5,000 respondents (``tests/test_screening.py``),
                    because attentive answers to correlated items rarely alternate for 8 steps.
``irv``             ``min_sd = 0.3``, ``min_items = 3``: intra-individual response variability
                    (SD of a respondent's raw answers; Dunn et al. 2018) below 0.3 scale points,
                    i.e. at most about one answer in ten differs from the rest by one point.
``duplicates``      ``keep = "first"``: identical full answer vectors (items, missing in the same
                    places); the first is kept, the repeats are excluded (double submissions).
``mahalanobis``     ``alpha = 0.001``: squared Mahalanobis distance D² of the complete item vector
                    from the mean of the respondents not removed by the earlier rules, against
                    chi-square with df = number of items (rank of the covariance), p < .001
                    (Tabachnick & Fidell; Meade & Craig 2012). Complete cases only; skipped with a
                    note when there are not more complete cases than items + 1.
==================  ===============================================================================

Every setting can be changed with a dict (``screen(..., config={"irv": {"min_sd": 0.2}})``), a small YAML
file (:func:`load_screening_config`) or ``--set rule.key=value`` on the command line; ``rule.enabled=false``
(or ``rule: false`` in YAML) switches a rule off.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import DataError, DataWarning, InputFileError, OptionError, OutputError
from .instrument import Instrument

__all__ = ["Screened", "DEFAULT_CONFIG", "RULES", "screen", "load_screening_config", "apply_overrides",
           "resolve_config", "write_screening", "run_screen", "item_total_warnings"]

#: Rules in the order they are applied.
RULES: tuple[str, ...] = ("preview", "consent", "missingness", "speeders", "attention", "straightlining",
                          "alternating", "irv", "duplicates", "mahalanobis")

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "preview": {"enabled": True},
    "consent": {"enabled": True, "missing_is_decline": True},
    "missingness": {"enabled": True, "max_share": 0.5},
    "speeders": {"enabled": True, "seconds_per_item": 2.0, "fraction_of_median": 0.4, "min_seconds": None},
    "attention": {"enabled": True, "max_failed": 0, "missing_is_failure": True},
    "straightlining": {"enabled": True, "max_run_share": 0.5, "min_run": 6, "flat_constructs": True,
                       "require_reverse": True},
    "alternating": {"enabled": True, "max_run_share": 0.5, "min_run": 8},
    "irv": {"enabled": True, "min_sd": 0.3, "min_items": 3},
    "duplicates": {"enabled": True, "keep": "first"},
    "mahalanobis": {"enabled": True, "alpha": 0.001},
}


@dataclass(frozen=True)
class Screened:
    """The outcome of :func:`screen`.

    Attributes
    ----------
    data : pandas.DataFrame
        The respondents kept (index ``row`` as in the input).
    exclusions : pandas.DataFrame
        One row per excluded respondent: ``row``, ``id``, ``reasons`` (rule names joined by ``;``), one
        boolean column per rule, then the indices behind them (``missing_share``, ``duration``,
        ``attention_failed``, ``consent_answer``, ``longstring``, ``zigzag``, ``irv_sd``, ``mahalanobis_d2``, ``mahalanobis_p``).
    summary : dict
        ``n_raw``, ``n_analysed``, ``n_excluded``, ``rules`` (per rule: enabled, flagged, removed,
        threshold, note, applied), ``flow`` (list of ``{"step", "removed", "n"}``), ``settings``,
        ``reverse_recoded`` and ``warnings`` (items with a negative corrected item-total r, see
        :func:`item_total_warnings`; each is also issued as a :class:`DataWarning`).
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame
    summary: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------

def _coerce(rule: str, key: str, value: Any) -> Any:
    default = DEFAULT_CONFIG[rule][key]
    if key == "enabled":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        raise OptionError(f"screening setting {rule}.enabled must be true or false, got {value!r}")
    if key == "keep":
        if value not in ("first", "last"):
            raise OptionError(f"screening setting {rule}.keep must be 'first' or 'last', got {value!r}")
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise OptionError(f"screening setting {rule}.{key} must be true or false, got {value!r}")
    if value is None:
        if default is None:
            return None
        raise OptionError(f"screening setting {rule}.{key} needs a number, got nothing")
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"screening setting {rule}.{key} must be a number, got {value!r}") from None
    if not math.isfinite(num) or num < 0:
        raise OptionError(f"screening setting {rule}.{key} must be a number >= 0, got {value!r}")
    if key in ("alpha", "max_share", "max_run_share", "fraction_of_median") and num > 1:
        raise OptionError(f"screening setting {rule}.{key} is a share between 0 and 1, got {value!r}")
    if key in ("max_failed", "min_run", "min_items"):
        return int(num)
    return num


def resolve_config(config: Mapping | None = None) -> dict[str, dict[str, Any]]:
    """Merge user settings into :data:`DEFAULT_CONFIG`, checking every rule and key.

    Parameters
    ----------
    config : dict, optional
        ``{rule: {key: value}}``; ``{rule: False}`` switches a rule off.

    Raises
    ------
    OptionError
        Unknown rule or key, or a value of the wrong kind.
    """
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    if not config:
        return cfg
    if not isinstance(config, Mapping):
        raise OptionError("screening config must map rule names to settings, e.g. {'irv': {'min_sd': 0.2}}")
    for rule, settings in config.items():
        if rule not in cfg:
            raise OptionError(f"unknown screening rule {rule!r}; rules are {', '.join(RULES)}")
        if isinstance(settings, (bool, str)) and not isinstance(settings, Mapping):
            cfg[rule]["enabled"] = _coerce(rule, "enabled", settings)
            continue
        if settings is None:
            continue
        if not isinstance(settings, Mapping):
            raise OptionError(f"screening rule {rule!r} needs a mapping of settings or true/false")
        for key, value in settings.items():
            if key not in cfg[rule]:
                raise OptionError(f"unknown setting {rule}.{key}; {rule} has {', '.join(cfg[rule])}")
            cfg[rule][key] = _coerce(rule, key, value)
    return cfg


def load_screening_config(path) -> dict[str, dict[str, Any]]:
    """Read screening settings from a YAML file (``rule: {key: value}``) and merge them into the defaults.

    Raises
    ------
    InputFileError
        Missing or unreadable file.
    OptionError
        Unknown rule or key, or a bad value.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"screening config {str(p)!r} does not exist; check the --config / --screening path")
    try:
        from .safe_yaml import load_yaml

        obj = load_yaml(p.read_text(encoding="utf-8-sig"))   # limits on size, depth, aliases
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputFileError(f"screening config {p.name!r} is not valid UTF-8 YAML ({' '.join(str(err).split())})") from None
    if obj is None:
        obj = {}
    if isinstance(obj, Mapping) and "screening" in obj and isinstance(obj["screening"], Mapping):
        obj = obj["screening"]
    return resolve_config(obj)


def apply_overrides(config: Mapping | None, overrides: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Apply ``rule.key=value`` strings (the CLI's ``--set``) on top of ``config``.

    Raises
    ------
    OptionError
        A string not of the form ``rule.key=value``, or an unknown rule / key / bad value.
    """
    import yaml

    cfg = resolve_config(config)
    for text in overrides or ():
        if "=" not in text or "." not in text.split("=", 1)[0]:
            raise OptionError(f"--set {text!r} is not RULE.KEY=VALUE, e.g. speeders.fraction_of_median=0.4")
        lhs, value = text.split("=", 1)
        rule, key = (s.strip() for s in lhs.split(".", 1))
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed = value
        merged = resolve_config({rule: {key: parsed}})
        cfg[rule][key] = merged[rule][key]
    return cfg


# ----------------------------------------------------------------------------------------------
# indices
# ----------------------------------------------------------------------------------------------

def _longest_true_run(mask: np.ndarray) -> np.ndarray:
    """Longest run of consecutive True per row of a boolean (n, m) matrix, vectorised (O(n·m) memory)."""
    n, m = mask.shape
    if m == 0:
        return np.zeros(n, dtype=int)
    c = np.cumsum(mask, axis=1)
    # at each False, remember the count so far; a run length is the count minus the last reset
    reset = np.maximum.accumulate(np.where(mask, 0, c), axis=1)
    return (c - reset).max(axis=1)


def _longest_run(x: np.ndarray) -> np.ndarray:
    """LongString per row: the longest run of identical consecutive answers (missing breaks a run)."""
    n, k = x.shape
    if k == 0:
        return np.zeros(n, dtype=int)
    same = (x[:, 1:] == x[:, :-1])                       # NaN never equals: missing breaks the run
    runs = _longest_true_run(same) + 1
    return np.where((~np.isnan(x)).any(axis=1), runs, 0)


def _longest_zigzag(x: np.ndarray) -> np.ndarray:
    """The longest period-two alternation per row (x[i] = x[i-2] != x[i-1]), in answers (0 when none)."""
    n, k = x.shape
    if k < 3:
        return np.zeros(n, dtype=int)
    alt = (x[:, 2:] == x[:, :-2]) & (x[:, 2:] != x[:, 1:-1]) & ~np.isnan(x[:, 1:-1])
    runs = _longest_true_run(alt)
    return np.where(runs > 0, runs + 2, 0)


def _row_sd(x: np.ndarray, min_items: int) -> np.ndarray:
    """Row SD (ddof=1) over answered items; NaN where fewer than ``max(2, min_items)`` answers."""
    cnt = (~np.isnan(x)).sum(axis=1)
    with np.errstate(all="ignore"):
        mean = np.nansum(x, axis=1) / cnt
        ss = np.nansum((x - mean[:, None]) ** 2, axis=1)
        sd = np.sqrt(ss / (cnt - 1))
    return np.where(cnt >= max(2, min_items), sd, np.nan)


def _agree_code(f) -> float | None:
    """The consent option that means "I agree": ``correct``, else an option named agree/yes, else the first."""
    if getattr(f, "correct", None) is not None:
        return float(f.correct)
    for p in f.options:
        names = {str(p.name).strip().lower(), str(p.label_en).strip().lower()}
        if names & {"agree", "yes", "consent", "i agree", "agree to take part"}:
            return float(p.code)
    return float(f.options[0].code) if f.options else None


def _preview_mask(data: pd.DataFrame, instrument: Instrument) -> tuple[np.ndarray, list[str]]:
    """Qualtrics preview / test rows: Status = 1 or "Survey Preview", DistributionChannel = preview."""
    n = len(data)
    hit = np.zeros(n, dtype=bool)
    used: list[str] = []
    declared = {fl.id for fl in instrument.fields if fl.kind != "status"} | set(instrument.item_ids())
    lower = {str(c).strip().lower(): c for c in data.columns if c not in declared}   # e.g. a "status" question
    f = instrument.field_of_kind("status")
    status_col = f.id if f is not None and f.id in data.columns else lower.get("status")
    if status_col is not None:
        col = data[status_col]
        txt = col.astype(str).str.strip().str.lower()
        num = pd.to_numeric(col, errors="coerce")
        hit |= ((num == 1) | txt.isin(["survey preview", "preview", "survey test", "test"])).to_numpy()
        used.append(str(status_col))
    for name in ("distributionchannel", "distribution_channel"):
        if name in lower:
            txt = data[lower[name]].astype(str).str.strip().str.lower()
            hit |= txt.isin(["preview", "test"]).to_numpy()
            used.append(str(lower[name]))
    return hit, used


def item_total_warnings(data: pd.DataFrame, instrument: Instrument) -> list[dict[str, Any]]:
    """Items whose corrected item-total correlation is negative after reverse recoding.

    A negative corrected item-total r (the item against the sum of the other items of its construct,
    complete pairs) almost always means the item's reverse coding is wrong: recoded twice (already
    reversed by the analyst and declared ``reverse: true``) or not recoded at all. Same statistic as
    ``psych::alpha()``'s ``r.drop``.

    Returns
    -------
    list of dict
        ``item``, ``construct``, ``r_drop`` and ``message`` for every such item.
    """
    out = []
    for c in instrument.constructs:
        ids = [it.id for it in c.items if it.id in data.columns]
        if len(ids) < 3:
            continue
        X = data[ids].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        # an item and the sum of all the others are a complete pair exactly where the row is complete
        Xc = X[~np.isnan(X).any(axis=1)]
        if Xc.shape[0] < 30:                                 # too few pairs to judge a sign
            continue
        rest_all = Xc.sum(axis=1)[:, None] - Xc              # column j: the sum of the other items
        for j, it in enumerate(ids):
            a, b = Xc[:, j], rest_all[:, j]
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                continue
            r = float(np.corrcoef(a, b)[0, 1])
            if r < 0:
                rev = it in instrument.reverse_items()
                cause = ("it is declared reverse-keyed and was recoded: was it already reverse-scored in the "
                         "file (double reverse coding)?" if rev else
                         "it is not declared reverse-keyed: does it need reverse: true (missing reverse coding)?")
                out.append({"item": it, "construct": c.id, "r_drop": r,
                            "message": f"item {it} correlates negatively with the rest of {c.id} "
                                       f"(corrected item-total r = {r:.2f}); check the reverse coding of {it}: "
                                       f"{cause}"})
    return out


def _raw_answers(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    items = instrument.item_ids()
    x = data[items].apply(pd.to_numeric, errors="coerce").astype(float)
    rec = data.attrs.get("reverse_recoded") or ()
    if rec:
        lo, hi = data.attrs.get("scale", (instrument.scale_min, instrument.scale_max))
        for it in rec:
            if it in x.columns:
                x[it] = lo + hi - x[it]
    return x


def _column_of(data: pd.DataFrame, instrument: Instrument, kind: str) -> str | None:
    f = instrument.field_of_kind(kind)
    if f is not None and f.id in data.columns:
        return f.id
    return kind if kind in data.columns else None


def screen(data: pd.DataFrame, instrument: Instrument, *, config: Mapping | None = None) -> Screened:
    """Screen validated responses for careless responding.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`sem_cocreate.data.validate_responses` (item columns numeric; duration in seconds;
        attention-check codes). ``attrs["reverse_recoded"]`` tells which items to turn back for the
        pattern rules.
    instrument : Instrument
    config : dict, optional
        Settings per rule, merged into :data:`DEFAULT_CONFIG` (see the module docstring).

    Returns
    -------
    Screened

    Raises
    ------
    DataError
        An item column is absent; a rule would exclude every respondent (names the rule and column).
    OptionError
        A bad setting.
    """
    cfg = resolve_config(config)
    items = instrument.item_ids()
    absent = [i for i in items if i not in data.columns]
    if absent:
        raise DataError(f"screening needs item column {absent[0]} ({len(absent)} absent); validate the data "
                        "with validate_responses first")
    n = len(data)
    k = len(items)
    raw = _raw_answers(data, instrument)
    x = raw.to_numpy(dtype=float)
    idx = data.index
    answered = (~np.isnan(x)).sum(axis=1) if n else np.zeros(0, dtype=int)
    flags = {r: np.zeros(n, dtype=bool) for r in RULES}
    info: dict[str, dict[str, Any]] = {r: {"enabled": bool(cfg[r]["enabled"]), "note": ""} for r in RULES}
    detail: dict[str, np.ndarray] = {}

    # preview / test responses
    if cfg["preview"]["enabled"]:
        hit, used = _preview_mask(data, instrument)
        if used:
            flags["preview"] = hit
            info["preview"].update(columns=used)
        else:
            info["preview"]["note"] = "no Status / DistributionChannel column: rule not applied"

    # consent
    if cfg["consent"]["enabled"]:
        cf = instrument.field_of_kind("consent")
        if cf is None:
            info["consent"]["note"] = "the instrument has no consent field: rule not applied"
        elif cf.id not in data.columns:
            info["consent"]["note"] = f"consent field {cf.id} is not in the data: rule not applied"
        else:
            agree = _agree_code(cf)
            v = pd.to_numeric(data[cf.id], errors="coerce").to_numpy(dtype=float)
            declined = ~np.isnan(v) & (v != agree)
            if cfg["consent"]["missing_is_decline"]:
                declined |= np.isnan(v)
            flags["consent"] = declined
            detail["consent_answer"] = v
            info["consent"].update(column=cf.id, agree_code=agree)

    # missingness
    miss_share = 1 - answered / k if k else np.zeros(n)
    detail["missing_share"] = miss_share
    if cfg["missingness"]["enabled"]:
        thr = cfg["missingness"]["max_share"]
        flags["missingness"] = miss_share > thr
        info["missingness"]["threshold"] = thr

    # speeders
    if cfg["speeders"]["enabled"]:
        dcol = _column_of(data, instrument, "duration")
        if dcol is None:
            info["speeders"]["note"] = "no duration column: rule not applied"
        else:
            d = pd.to_numeric(data[dcol], errors="coerce").to_numpy(dtype=float)
            detail["duration"] = d
            ok = np.isfinite(d)
            if ok.any():
                s = cfg["speeders"]
                floor = s["min_seconds"] if s["min_seconds"] is not None else s["seconds_per_item"] * k
                med = float(np.median(d[ok]))
                thr = max(float(floor), s["fraction_of_median"] * med)
                flags["speeders"] = ok & (d < thr)
                info["speeders"].update(threshold=thr, median_duration=med, floor_seconds=float(floor))
                if (~ok).any():
                    info["speeders"]["note"] = f"{int((~ok).sum())} respondent(s) without a duration not judged"
            else:
                info["speeders"]["note"] = "duration column is empty: rule not applied"

    # attention checks
    if cfg["attention"]["enabled"]:
        checks = [f for f in instrument.attention_checks() if f.correct is not None and f.id in data.columns]
        if not checks:
            info["attention"]["note"] = "no attention-check column with a correct answer: rule not applied"
        else:
            failed = np.zeros(n, dtype=int)
            for f in checks:
                col = data[f.id]
                present = (col.notna() & (col.astype(str).str.strip() != "")).to_numpy()
                v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
                wrong = present & ~(v == float(f.correct))      # text that is no option code is wrong
                if cfg["attention"]["missing_is_failure"]:
                    wrong |= ~present
                failed += wrong
            detail["attention_failed"] = failed
            flags["attention"] = failed > cfg["attention"]["max_failed"]
            info["attention"].update(threshold=cfg["attention"]["max_failed"], checks=[f.id for f in checks])

    # straight-lining
    if cfg["straightlining"]["enabled"] and k:
        s = cfg["straightlining"]
        runs = _longest_run(x).astype(float)
        detail["longstring"] = runs
        need = max(int(math.ceil(s["max_run_share"] * k)), int(s["min_run"]), 2)
        flag = runs >= need
        info["straightlining"]["threshold"] = need
        if s["flat_constructs"]:
            has_rev = bool(instrument.reverse_items())
            if has_rev or not s["require_reverse"]:
                flat = np.ones(n, dtype=bool)
                judged = np.zeros(n, dtype=bool)
                for c in instrument.constructs:
                    cols = [items.index(it.id) for it in c.items]
                    if len(cols) < 2:
                        continue
                    sub = x[:, cols]
                    cnt = (~np.isnan(sub)).sum(axis=1)
                    with np.errstate(all="ignore"):
                        spread = np.where(cnt >= 2, np.nanmax(np.where(np.isnan(sub), -np.inf, sub), axis=1)
                                          - np.nanmin(np.where(np.isnan(sub), np.inf, sub), axis=1), np.nan)
                    judged |= cnt >= 2
                    flat &= ~(cnt >= 2) | (spread == 0)
                flat &= judged
                flag |= flat
                detail["flat_constructs"] = flat
            else:
                info["straightlining"]["note"] = "flat-constructs check off: the instrument has no reverse item"
        flags["straightlining"] = flag

    # alternating (zig-zag) patterns
    if cfg["alternating"]["enabled"] and k:
        s = cfg["alternating"]
        zz = _longest_zigzag(x).astype(float)
        detail["zigzag"] = zz
        need = max(int(math.ceil(s["max_run_share"] * k)), int(s["min_run"]), 3)
        flags["alternating"] = zz >= need
        info["alternating"]["threshold"] = need

    # intra-individual response variability
    if cfg["irv"]["enabled"] and k:
        s = cfg["irv"]
        sd = _row_sd(x, s["min_items"])
        detail["irv_sd"] = sd
        flags["irv"] = np.isfinite(sd) & (sd < s["min_sd"])
        info["irv"]["threshold"] = s["min_sd"]

    # duplicates (identical answer vectors, missing in the same places)
    if cfg["duplicates"]["enabled"] and n and k:
        # rows equal in every item, missing in the same places (NaN matches NaN), compared column-wise
        vec = pd.DataFrame(np.asarray(raw.round(9), dtype=float) + 0.0)     # + 0.0: -0.0 and 0.0 alike
        flags["duplicates"] = vec.duplicated(keep=cfg["duplicates"]["keep"]).to_numpy()

    # Mahalanobis D² on complete cases, mean/cov from respondents not removed by earlier rules
    if cfg["mahalanobis"]["enabled"] and k:
        earlier = np.zeros(n, dtype=bool)
        for r in RULES[:RULES.index("mahalanobis")]:
            earlier |= flags[r]
        complete = answered == k
        ref = complete & ~earlier
        if ref.sum() <= k + 1:
            info["mahalanobis"]["note"] = (f"not applied: {int(ref.sum())} complete case(s) for {k} items "
                                           "(needs more than items + 1)")
        else:
            from scipy.special import chdtrc, chdtri   # chi-square sf / isf, without scipy.stats

            ref_x = x[ref]
            mu = ref_x.mean(axis=0)
            cov = np.cov(ref_x, rowvar=False)
            cov = np.atleast_2d(cov)
            rank = int(np.linalg.matrix_rank(cov))
            if rank == 0:
                info["mahalanobis"]["note"] = "not applied: every item is constant"
            else:
                inv = np.linalg.pinv(cov)
                dev = x[complete] - mu
                d2_c = np.einsum("ij,jk,ik->i", dev, inv, dev)
                d2 = np.full(n, np.nan)
                d2[complete] = d2_c
                p = np.full(n, np.nan)
                p[complete] = chdtrc(rank, d2_c)
                detail["mahalanobis_d2"] = d2
                detail["mahalanobis_p"] = p
                alpha = cfg["mahalanobis"]["alpha"]
                flags["mahalanobis"] = complete & (p < alpha)
                info["mahalanobis"].update(threshold=float(chdtri(rank, alpha)), df=rank,
                                           alpha=alpha, n_reference=int(ref.sum()))
                if rank < k:
                    info["mahalanobis"]["note"] = f"covariance of rank {rank} < {k} items: pseudo-inverse, df = {rank}"
                if (~complete).any():
                    extra = f"{int((~complete).sum())} incomplete case(s) not judged"
                    info["mahalanobis"]["note"] = "; ".join(t for t in (info["mahalanobis"]["note"], extra) if t)

    # a rule that would remove everyone is a data problem, not a finding
    if n:
        for r in RULES:
            if flags[r].all():
                where = {"consent": info["consent"].get("column"), "attention": ", ".join(
                    info["attention"].get("checks", [])), "speeders": _column_of(data, instrument, "duration"),
                    "preview": ", ".join(info["preview"].get("columns", []))}.get(r)
                col = f" (column {where})" if where else ""
                raise DataError(f"screening rule {r}{col} would exclude all {n} respondents; check that column "
                                f"in the data (skipped, mis-coded or unmapped?) or switch the rule off with "
                                f"--set {r}.enabled=false")
    for r in RULES:
        info[r]["applied"] = bool(cfg[r]["enabled"]) and not info[r]["note"].endswith("rule not applied") \
            and not info[r]["note"].startswith("not applied")

    # flow and tables
    removed = np.zeros(n, dtype=bool)
    flow = [{"step": "raw", "removed": 0, "n": int(n)}]
    for r in RULES:
        new = flags[r] & ~removed
        removed |= flags[r]
        info[r]["flagged"] = int(flags[r].sum())
        info[r]["removed"] = int(new.sum())
        if info[r]["applied"]:                     # a rule that could not run is no step of the flow
            flow.append({"step": r, "removed": int(new.sum()), "n": int(n - removed.sum())})
    flow.append({"step": "analysed", "removed": 0, "n": int(n - removed.sum())})

    idcol = _column_of(data, instrument, "id")
    ex = pd.DataFrame({"row": np.asarray(idx)[removed]})
    ex["id"] = data[idcol].to_numpy()[removed] if idcol else pd.array([pd.NA] * int(removed.sum()))
    ex["reasons"] = [";".join(r for r in RULES if flags[r][i]) for i in np.flatnonzero(removed)]
    for r in RULES:
        ex[r] = flags[r][removed]
    for name in ("consent_answer", "missing_share", "duration", "attention_failed", "longstring", "zigzag", "irv_sd",
                 "mahalanobis_d2", "mahalanobis_p"):
        if name in detail:
            ex[name] = np.asarray(detail[name])[removed]
    kept = data.loc[~removed].copy()
    kept.attrs = dict(data.attrs)
    item_warnings = item_total_warnings(kept, instrument) if len(kept) else []
    for w in item_warnings:
        warnings.warn(w["message"], DataWarning, stacklevel=2)
    summary = {
        "n_raw": int(n),
        "n_analysed": int(n - removed.sum()),
        "n_excluded": int(removed.sum()),
        "n_items": int(k),
        "rules": info,
        "flow": flow,
        "settings": cfg,
        "reverse_recoded": list(data.attrs.get("reverse_recoded") or ()),
        "warnings": [w["message"] for w in item_warnings],
    }
    return Screened(data=kept, exclusions=ex.reset_index(drop=True), summary=summary)


# ----------------------------------------------------------------------------------------------
# output and CLI
# ----------------------------------------------------------------------------------------------

def write_screening(screened: Screened, out_dir, *, extra: Mapping | None = None) -> list[Path]:
    """Write ``screening.json``, ``exclusions.csv`` and ``cleaned_data.csv`` into ``out_dir`` (created).

    ``cleaned_data.csv`` holds the kept rows with a leading ``row`` column (1-based data row of the input)
    and, when items were reverse-recoded, a ``_reverse_recoded`` column naming them, so that reading the
    file back never recodes twice. ``extra`` is merged into ``screening.json`` (e.g. the input path and notes).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from .responses import REVERSE_MARKER
    from ..files import write_csv, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = dict(screened.summary)
    if extra:
        summary.update(extra)
    paths = [out / "screening.json", out / "exclusions.csv", out / "cleaned_data.csv"]
    write_json(paths[0], summary)
    write_csv(paths[1], screened.exclusions, index=False)   # formulas made inert, never through a link
    clean = screened.data.copy()
    rec = screened.data.attrs.get("reverse_recoded") or ()
    if rec:
        clean[REVERSE_MARKER] = ";".join(rec)
    write_csv(paths[2], clean.reset_index() if clean.index.name == "row" else clean, index=False)
    return paths


def _check_out_dir(out: Path, overwrite: bool, inputs: list[Path]) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {str(out)!r} is a file; give a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"--out {str(out)!r} exists and is not empty; choose a new folder or add --overwrite")
    targets = {(out / name).resolve() for name in ("screening.json", "exclusions.csv", "cleaned_data.csv")}
    for p in inputs:
        if p.resolve() in targets or p.resolve() == out.resolve():
            raise OutputError(f"--out {str(out)!r} would overwrite the input file {str(p)!r}; choose another folder")
    from ..files import check_inputs_outside

    check_inputs_outside(out, inputs)   # --out may not be (or contain) the data's or mapping's folder


def run_screen(args) -> int:
    """The ``screen`` command: read, validate, screen, write; print a short summary. Returns 0."""
    from .responses import read_responses, validate_responses
    from .instrument_file import load_instrument

    from datetime import datetime, timezone

    from .instrument_file import default_instrument_path
    from ..files import build_manifest, write_json

    started = datetime.now(timezone.utc)
    data_path = Path(args.data)
    inputs = [data_path] + [Path(p) for p in (args.instrument, args.mapping, args.config) if p]
    out = Path(args.out)
    _check_out_dir(out, bool(getattr(args, "overwrite", False)), inputs)
    instrument = load_instrument(args.instrument)       # None: the packaged default instrument
    cfg = load_screening_config(args.config) if args.config else None
    cfg = apply_overrides(cfg, list(getattr(args, "set", []) or []))
    with warnings.catch_warnings(record=True) as caught:      # our warnings become printed lines
        warnings.simplefilter("always", DataWarning)
        responses = read_responses(data_path, instrument=instrument, mapping=args.mapping,
                                   missing_fields=getattr(args, "missing_fields", None) or "error")
        clean = validate_responses(responses, instrument)
        result = screen(clean, instrument, config=cfg)
    for w in caught:
        if not issubclass(w.category, DataWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    written = write_screening(result, out, extra={"data": str(data_path), "source_format": responses.source_format,
                                                  "read_notes": list(responses.notes),
                                                  "column_map": dict(responses.column_map)})
    man = build_manifest(
        argv=getattr(args, "_argv", None), seed=None, started=started,
        inputs={"data": data_path, "instrument": Path(args.instrument) if args.instrument else default_instrument_path(),
                "mapping": Path(args.mapping) if args.mapping else None,
                "config": Path(args.config) if args.config else None},
        options={"set": list(getattr(args, "set", []) or [])},
        files=[p.name for p in written] + ["manifest.json"])
    write_json(out / "manifest.json", man)
    s = result.summary
    parts = [f"{r} {s['rules'][r]['removed']}" for r in RULES if s["rules"][r].get("applied")]
    print(f"screened {s['n_raw']} responses ({responses.source_format}): excluded {s['n_excluded']} "
          f"({', '.join(parts)}); analysed {s['n_analysed']}")
    for r in RULES:
        if s["rules"][r].get("note"):
            print(f"  note: {r}: {s['rules'][r]['note']}")
    said = set()
    for w in [str(c.message) for c in caught if issubclass(c.category, DataWarning)] + s.get("warnings", []):
        if w not in said:
            said.add(w)
            print(f"  warning: {w}")
    print(f"wrote {out}")
    return 0
