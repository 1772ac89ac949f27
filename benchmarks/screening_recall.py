"""Screening precision and recall per kind of careless respondent, at the default settings.

Run from the repository root::

    python benchmarks/screening_recall.py                 # n = 2000, 10% careless, seeds 1..5
    python benchmarks/screening_recall.py --n 1000 --seeds 3

For each seed, ``simulate_responses`` draws SIMULATED respondents of the default instrument with
``careless=`` (straight-liners, random responders, speeders, attention-check failures, evenly); on top of
that the script plants, each on genuine rows, the kinds the simulator does not make: declined consent,
zig-zag responders (alternating two options a step apart or more, checks answered right, normal
duration), double submissions (a copy of a genuine row) and Qualtrics preview rows (``Status`` = 1).
The data are validated and screened with :func:`sem_cocreate.survey.screening.screen` at the defaults.

Printed (Markdown):

* per kind: planted, recall (share excluded by any rule) and recall by the rule meant for that kind;
* per rule: rows flagged, precision (share of the flagged that are planted careless of any kind, the
  copy of a duplicate counted as planted and its original as genuine) and genuine respondents flagged.

Numbers are pooled over the seeds. Nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sem_cocreate.survey.instrument_file import load_instrument  # noqa: E402
from sem_cocreate.survey.responses import validate_responses  # noqa: E402
from sem_cocreate.survey.screening import RULES, screen  # noqa: E402
from sem_cocreate.survey.simulate import simulate_responses  # noqa: E402

INTENDED = {"straightliner": "straightlining", "random": "mahalanobis", "speeder": "speeders",
            "attention": "attention", "consent": "consent", "zigzag": "alternating",
            "duplicate": "duplicates", "preview": "preview"}


def planted_export(inst, *, n: int, careless: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A SIMULATED export with every kind planted; returns it and the kind per row ("" = genuine)."""
    rng = np.random.default_rng(10_000 + seed)
    df = simulate_responses(inst, n=n, seed=seed, careless=careless)
    kinds = df["sim_careless"].fillna("").astype(str).to_numpy(dtype=object)
    items = inst.item_ids()
    per = max(1, int(round(careless * n / 4)))
    genuine = np.flatnonzero(kinds == "")
    pick = rng.choice(genuine, size=3 * per + per // 2, replace=False)
    consent_rows, zz_rows, dup_src = pick[:per], pick[per:2 * per], pick[2 * per:3 * per]
    prev_rows = pick[3 * per:]
    cf = inst.field_of_kind("consent")
    if cf is not None:
        decline = [p.code for p in cf.options if p.code != cf.options[0].code][0]
        df.loc[consent_rows, cf.id] = decline
        kinds[consent_rows] = "consent"
    codes = [p.code for p in inst.scale]
    for r in zz_rows:
        a = int(rng.integers(0, len(codes) - 2))
        b = int(rng.integers(a + 2, len(codes)))
        pattern = np.where(np.arange(len(items)) % 2 == 0, codes[a], codes[b]).astype(float)
        for j, it in enumerate(items):                        # raw answers as given: reverse items too
            df.loc[r, it] = pattern[j]
    kinds[zz_rows] = "zigzag"
    df["Status"] = 0
    df.loc[prev_rows, "Status"] = 1
    kinds[prev_rows] = "preview"
    copies = df.loc[dup_src].copy()
    copies["id"] = [f"D{i:04d}" for i in range(len(copies))]
    df = pd.concat([df, copies], ignore_index=True)
    kinds = np.concatenate([kinds, np.array(["duplicate"] * len(copies), dtype=object)])
    return df.drop(columns=["sim_careless"]), kinds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--careless", type=float, default=0.10)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    inst = load_instrument(ROOT / "questionnaires" / "cocreation.yaml")
    rows = []
    for seed in range(1, args.seeds + 1):
        df, kinds = planted_export(inst, n=args.n, careless=args.careless, seed=seed)
        v = validate_responses(df, inst)
        res = screen(v, inst)
        ex = res.exclusions.set_index("row")
        flags = pd.DataFrame(False, index=v.index, columns=list(RULES))
        flags.loc[ex.index, list(RULES)] = ex[list(RULES)].astype(bool).to_numpy()
        f = flags.reset_index(drop=True)
        f["kind"] = kinds
        rows.append(f)
    allf = pd.concat(rows, ignore_index=True)
    excluded = allf[list(RULES)].any(axis=1)
    print(f"n = {args.n} per seed (+ duplicate copies), {args.seeds} seeds, careless = {args.careless}, "
          "default settings\n")
    print("| kind | planted | recall (any rule) | recall (intended rule) | intended rule |")
    print("| --- | --- | --- | --- | --- |")
    for kind, rule in INTENDED.items():
        m = allf["kind"] == kind
        if not m.any():
            continue
        print(f"| {kind} | {int(m.sum())} | {excluded[m].mean():.3f} | {allf.loc[m, rule].mean():.3f} | {rule} |")
    g = allf["kind"] == ""
    print(f"| genuine | {int(g.sum())} | excluded: {excluded[g].mean():.4f} | | |")
    print("\n| rule | flagged | precision | genuine flagged |")
    print("| --- | --- | --- | --- |")
    for rule in RULES:
        fl = allf[rule]
        if fl.sum() == 0:
            print(f"| {rule} | 0 | – | 0 |")
            continue
        prec = float((fl & ~g).sum() / fl.sum())
        print(f"| {rule} | {int(fl.sum())} | {prec:.3f} | {int((fl & g).sum())} |")
    print(f"\noverall: precision {float((excluded & ~g).sum() / excluded.sum()):.3f}, "
          f"recall {float(excluded[~g].mean()):.3f}, genuine excluded {float(excluded[g].mean()):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
