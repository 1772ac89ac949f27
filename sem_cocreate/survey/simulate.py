"""Simulate Likert survey responses from a standardized population model (SIMULATED data).

The population model (``questionnaires/cocreation-population.yaml``) gives standardized loadings,
correlations among the antecedents and standardized structural paths per respondent role. Latent
scores are drawn from the implied multivariate normal distribution (residual variances chosen so
that every latent variable has variance 1), items are ``lambda * eta + sqrt(1 - lambda^2) * e`` and
are cut into the instrument's response categories at (optionally skewed) thresholds. On request the
simulator adds what real survey data have: MCAR and MAR missing answers and careless respondents
(straight-liners, random responders, speeders, attention-check failures). Every file it writes
carries a ``data_source`` column saying that the data are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import InputFileError, OptionError

DEFAULT_POPULATION_RELPATH = "questionnaires/cocreation-population.yaml"
SIMULATED_LABEL = "SIMULATED (sem_cocreate simulate)"
CARELESS_KINDS = ("straightliner", "random", "speeder", "attention")


@dataclass(frozen=True)
class Population:
    """A standardized population model."""

    loadings: dict[str, float]                 # item id -> standardized loading
    paths: dict[str, dict[tuple[str, str], float]]   # role -> {(to, from): beta}
    exo_cor: dict[tuple[str, str], float]      # pair of antecedents -> correlation
    exo_default: float
    role_shares: dict[str, float]
    thresholds: tuple[float, ...]
    duration_median: float = 420.0
    duration_sdlog: float = 0.35
    seconds_per_item_min: float = 2.0
    controls: dict[str, dict[str, float]] | None = None   # control field -> {outcome construct: beta}


def default_population_path() -> Path:
    local = Path(DEFAULT_POPULATION_RELPATH)
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[1] / "resources" / DEFAULT_POPULATION_RELPATH


def load_population(path=None) -> Population:
    """Read a population-model YAML (default: the co-creation population model)."""
    import yaml

    p = Path(path) if path else default_population_path()
    if not p.is_file():
        raise InputFileError(f"population model {p}: file not found")
    try:
        from .safe_yaml import load_yaml

        raw = load_yaml(p.read_text(encoding="utf-8"))   # limits on size, depth, aliases
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise InputFileError(f"population model {p}: YAML error"
                             f"{f' at line {line + 1}' if line is not None else ''}; fix the syntax") from None
    try:
        loads = dict(raw["loadings"])
        paths = {}
        for role, d in raw["paths"].items():
            paths[role] = {}
            for key, val in d.items():
                to, frm = [s.strip() for s in key.split("~")]
                paths[role][(to, frm)] = float(val)
        exo = {}
        for key, val in (raw.get("exogenous_correlations") or {}).items():
            a, b = [s.strip() for s in key.split("-")]
            exo[(a, b)] = exo[(b, a)] = float(val)
        dur = raw.get("duration") or {}
        return Population(
            loadings={k: float(v) for k, v in loads.items()},
            paths=paths,
            exo_cor=exo,
            exo_default=float(raw.get("exogenous_correlation", 0.3)),
            role_shares={k: float(v) for k, v in (raw.get("role_shares") or {"solver": 1.0}).items()},
            thresholds=tuple(float(t) for t in raw["thresholds"]),
            duration_median=float(dur.get("median_seconds", 420)),
            duration_sdlog=float(dur.get("sdlog", 0.35)),
            seconds_per_item_min=float(dur.get("seconds_per_item_min", 2)),
            controls={str(k): {str(t): float(b) for t, b in (v or {}).items()}
                      for k, v in (raw.get("controls") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputFileError(f"population model {p}: missing or invalid entry ({err}); "
                             "see questionnaires/cocreation-population.yaml for the format") from None


def _loading(pop: Population, item: str) -> float:
    return float(pop.loadings.get(item, pop.loadings.get("default_loading", 0.75)))


def latent_order(instrument, pop: Population, role: str) -> list[str]:
    """Constructs in causal order: antecedents first, then each endogenous after its predictors."""
    cons = [c for c in instrument.construct_ids()]
    preds = {c: [f for (t, f) in pop.paths[role] if t == c] for c in cons}
    order, placed = [], set()
    while len(order) < len(cons):
        progress = False
        for c in cons:
            if c not in placed and all(p in placed for p in preds[c]):
                order.append(c)
                placed.add(c)
                progress = True
        if not progress:
            raise OptionError("the population paths contain a cycle; a recursive model is needed")
    return order


def latent_covariance(instrument, pop: Population, role: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, B, Psi) of the standardized latent model for ``role``; every latent variance is 1."""
    controls = list(pop.controls or {})
    names = controls + latent_order(instrument, pop, role)
    k = len(names)
    idx = {c: i for i, c in enumerate(names)}
    B = np.zeros((k, k))
    for (to, frm), b in pop.paths[role].items():
        if to not in idx or frm not in idx:
            raise OptionError(f"population path {to}~{frm}: unknown construct; use the instrument's construct ids")
        B[idx[to], idx[frm]] = b
    for ctrl, effects in (pop.controls or {}).items():
        for to, b in effects.items():
            if to not in idx:
                raise OptionError(f"population control {ctrl} -> {to}: unknown construct")
            B[idx[to], idx[ctrl]] = b
    endo = {t for (t, _f) in pop.paths[role]} | {t for e in (pop.controls or {}).values() for t in e}
    exo = [c for c in names if c not in endo]
    Psi = np.zeros((k, k))
    for a in exo:
        for b in exo:
            if a == b:
                Psi[idx[a], idx[b]] = 1.0
            elif a in controls or b in controls:
                Psi[idx[a], idx[b]] = 0.0        # controls are independent of the antecedents
            else:
                Psi[idx[a], idx[b]] = pop.exo_cor.get((a, b), pop.exo_default)
    C = np.zeros((k, k))
    for j, c in enumerate(names):
        if c in exo:
            continue
        # covariance of the already placed variables
        done = [i for i in range(j)]
        Cs = _cov_from(B, Psi, done + [])
        b = B[j, done]
        explained = float(b @ Cs @ b)
        if explained >= 1:
            raise OptionError(f"population paths into {c} explain {explained:.2f} ≥ 1 of its variance; lower them")
        Psi[j, j] = 1.0 - explained
    return names, B, Psi


def _cov_from(B, Psi, idx):
    k = B.shape[0]
    E = np.linalg.inv(np.eye(k) - B)
    C = E @ Psi @ E.T
    return C[np.ix_(idx, idx)]


def standardized_effects(instrument, pop: Population, role: str) -> dict[str, float]:
    """Population values of every structural path (``b_TO_FROM``) for recovery checks."""
    return {f"b_{to}_{frm}": b for (to, frm), b in pop.paths[role].items()}


def simulate_responses(instrument, pop: Population | None = None, *, n: int, seed=None,
                       missing: float = 0.0, mar: float = 0.0, careless: float = 0.0,
                       roles: bool = True, skew: float = 0.0) -> pd.DataFrame:
    """Draw ``n`` SIMULATED respondents in the instrument's column names.

    Parameters
    ----------
    instrument : Instrument
    pop : Population, optional
        Default: :func:`load_population`.
    n : int
    seed : int or numpy Generator
    missing : float
        MCAR share of item answers set missing.
    mar : float
        Share of item answers set missing at random: the probability depends on the respondent's
        (observed) experience — less experienced respondents skip more outcome items.
    careless : float
        Share of careless respondents, split evenly over straight-liners, random responders,
        speeders and attention-check failures (column ``sim_careless`` names the kind).
    roles : bool
        Two roles (solver = 1, seeker = 2) with their own paths; otherwise all solvers.
    skew : float
        Shift of all thresholds (positive → more agreement, negative skew of the items).

    Returns
    -------
    DataFrame
        ``id, consent, role, platform, the background fields (mode, task_type, reward, won, gender, age, education, tenure), duration``, the items (with the attention checks
        after their constructs), ``sim_careless`` and ``data_source`` (= "SIMULATED ...").
    """
    if n <= 0:
        raise OptionError("--n must be at least 1")
    for name, v in (("missing", missing), ("mar", mar), ("careless", careless)):
        if not 0 <= v < 1:
            raise OptionError(f"--{name} must be a share between 0 and 1, got {v}")
    pop = pop or load_population()
    rng = np.random.default_rng(seed)
    role_names = ["solver", "seeker"] if roles else ["solver"]
    shares = np.array([pop.role_shares.get(r, 0.0) for r in role_names]) if roles else np.array([1.0])
    shares = shares / shares.sum()
    role_idx = rng.choice(len(role_names), size=n, p=shares)
    items = instrument.items()
    item_ids = [it.id for it in items]
    scores = np.zeros((n, len(items)))
    control_z = {c: np.zeros(n) for c in (pop.controls or {})}
    for r, role in enumerate(role_names):
        rows = np.where(role_idx == r)[0]
        if len(rows) == 0:
            continue
        names, B, Psi = latent_covariance(instrument, pop, role)
        k = len(names)
        E = np.linalg.inv(np.eye(k) - B)
        zeta = rng.multivariate_normal(np.zeros(k), Psi, size=len(rows), method="cholesky")
        eta = zeta @ E.T
        col = {c: i for i, c in enumerate(names)}
        for c in control_z:
            control_z[c][rows] = eta[:, col[c]]
        for j, it in enumerate(items):
            lam = _loading(pop, it.id)
            e = rng.standard_normal(len(rows))
            scores[rows, j] = lam * eta[:, col[it.construct]] + np.sqrt(1 - lam ** 2) * e
    codes = [p.code for p in instrument.scale]
    thr = np.asarray(pop.thresholds) - skew
    if len(thr) != len(codes) - 1:
        raise OptionError(f"the population model has {len(thr)} thresholds but the scale has {len(codes)} points")
    cat = np.searchsorted(thr, scores)              # 0..len(codes)-1
    answers = np.asarray(codes, dtype=float)[cat]
    lo, hi = instrument.scale_min, instrument.scale_max
    for j, it in enumerate(items):
        if it.reverse:
            answers[:, j] = lo + hi - answers[:, j]
    df = pd.DataFrame(answers, columns=item_ids)
    # non-construct fields
    n_items = len(item_ids)
    duration = np.exp(rng.normal(np.log(pop.duration_median), pop.duration_sdlog, size=n))
    duration = np.maximum(duration, pop.seconds_per_item_min * n_items * 1.5)
    fields = _draw_fields(instrument, rng, n, control_z)
    experience = fields["tenure"] if "tenure" in fields else fields["experience"]
    role_codes = np.array([1, 2])[role_idx] if roles else np.ones(n, dtype=int)
    attn = {f.id: np.full(n, float(f.correct)) for f in instrument.attention_checks()}
    kinds = np.array([""] * n, dtype=object)
    # careless respondents
    n_care = int(round(careless * n))
    if n_care:
        who = rng.choice(n, size=n_care, replace=False)
        kinds[who] = np.array(CARELESS_KINDS)[np.arange(n_care) % len(CARELESS_KINDS)]
        for i in who:
            kind = kinds[i]
            if kind == "straightliner":
                v = float(rng.choice(codes))
                df.iloc[i, :] = v
                for a in attn:
                    attn[a][i] = v
            elif kind == "random":
                df.iloc[i, :] = rng.choice(codes, size=n_items).astype(float)
                for a in attn:
                    attn[a][i] = float(rng.choice(codes))
            elif kind == "speeder":
                duration[i] = rng.uniform(0.6, 1.4) * n_items
                df.iloc[i, :] = rng.choice(codes, size=n_items).astype(float)
            elif kind == "attention":
                a = list(attn)[int(rng.integers(len(attn)))] if attn else None
                if a is not None:
                    wrong = [c for c in codes if c != attn[a][i]]
                    attn[a][i] = float(rng.choice(wrong))
    # missing answers (careless respondents keep their patterns complete)
    values = df.to_numpy(dtype=float, copy=True)
    if missing:
        mask = rng.random(values.shape) < missing
        values[mask] = np.nan
    if mar:
        outcome_cols = [j for j, it in enumerate(items)
                        if instrument.construct(it.construct).stage == "outcome"]
        if outcome_cols:
            z = (experience - experience.mean()) / (experience.std() or 1)
            p_row = 1 / (1 + np.exp(-(-1.0 - 1.5 * z)))
            p_row = p_row * (mar / p_row.mean()) * (values.shape[1] / len(outcome_cols))
            p_row = np.clip(p_row, 0, 0.9)
            for j in outcome_cols:
                m = rng.random(n) < p_row
                values[m, j] = np.nan
    df = pd.DataFrame(values, columns=item_ids)
    out = pd.DataFrame({
        "id": [f"S{i + 1:04d}" for i in range(n)],
        "consent": 1,
        "role": role_codes,
        **{k: v for k, v in fields.items()},
        "duration": np.round(duration).astype(int),
    })
    # items in instrument order, with attention checks after the construct they follow
    after = {f.id: getattr(f, "after", None) for f in instrument.attention_checks()}
    cols = {}
    for c in instrument.constructs:
        for it in c.items:
            cols[it.id] = df[it.id]
        for a, cons in after.items():
            if cons == c.id:
                cols[a] = attn[a]
    for a in attn:
        if a not in cols:
            cols[a] = attn[a]
    body = pd.DataFrame(cols)
    out = pd.concat([out, body], axis=1)
    out["sim_careless"] = kinds
    out["data_source"] = SIMULATED_LABEL
    return out


def _code_of(z: np.ndarray, cuts: list[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(cuts), z) + 1


def _draw_fields(instrument, rng, n: int, control_z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The background fields of the v2 instrument (platform, mode, task type, reward, won, gender, age,
    education, tenure). Controls with a population effect (``control_z``) are monotone transforms of
    their standardized latent score; the others are drawn independently."""
    def z_of(name: str) -> np.ndarray:
        return control_z[name] if name in control_z else rng.standard_normal(n)

    out: dict[str, np.ndarray] = {
        "platform": rng.choice([1, 2, 3, 4], size=n, p=[0.45, 0.25, 0.2, 0.1]),
    }
    known = {f.id for f in instrument.fields}
    if "mode" in known:
        out["mode"] = rng.choice([1, 2, 3, 4], size=n, p=[0.45, 0.2, 0.2, 0.15])
    if "task_type" in known:
        out["task_type"] = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.35, 0.25, 0.2, 0.12, 0.08])
    if "reward" in known:
        out["reward"] = _code_of(z_of("reward"), [-0.5, 0.5, 1.4])
    if "won" in known:
        out["won"] = (z_of("won") > 0.3).astype(int)
    if "gender" in known:
        out["gender"] = rng.choice([1, 2, 3], size=n, p=[0.46, 0.5, 0.04])
    if "age" in known:
        out["age"] = np.clip(np.round(rng.normal(31, 7, size=n)), 18, 70).astype(int)
    if "education" in known:
        out["education"] = rng.choice([1, 2, 3, 4], size=n, p=[0.15, 0.3, 0.4, 0.15])
    tenure_z = z_of("tenure") if "tenure" in control_z else None
    if tenure_z is not None:
        out["tenure"] = np.round(np.exp(0.7 + 0.6 * tenure_z), 1)
    else:
        out["tenure"] = np.round(rng.gamma(2.0, 1.5, size=n), 1)
    name = "tenure" if "tenure" in known or "experience" not in known else "experience"
    if name != "tenure":
        out[name] = out.pop("tenure")
    return out


def write_simulated(df: pd.DataFrame, path) -> Path:
    """Write simulated data as UTF-8 CSV, integers without decimals, missing as empty cells."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]) and c not in ("experience", "tenure"):
            out[c] = out[c].astype("Int64")
    out.to_csv(p, index=False, lineterminator="\n")
    return p


def run_simulate(args) -> int:
    """The ``simulate`` command."""
    from ..exceptions import OutputError
    from .instrument_file import default_instrument_path, load_instrument

    instrument = load_instrument(args.instrument or default_instrument_path())
    pop = load_population(args.population)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise OutputError(f"--out {out} exists; choose another file name or add --overwrite")
    for inp in (args.instrument, args.population):
        if inp and Path(inp).resolve() == out.resolve():
            raise OutputError(f"--out {out} is an input file; choose another file name")
    df = simulate_responses(instrument, pop, n=args.n, seed=args.seed, missing=args.missing, mar=args.mar,
                            careless=args.careless, roles=args.roles, skew=args.skew)
    write_simulated(df, out)
    print(f"wrote {len(df)} SIMULATED respondents to {out} (seed {args.seed})")
    return 0
