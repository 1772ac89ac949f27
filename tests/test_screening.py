"""Careless-responding screening: each rule, its settings, the outputs, robustness, and a planted-careless
simulation at the default settings (SIMULATED data, drawn in this file)."""

from __future__ import annotations

import importlib.util
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sem_cocreate.survey.responses import validate_responses
from sem_cocreate.exceptions import DataError, InputFileError, OptionError, OutputError
from sem_cocreate.survey.instrument import Construct, Field, Instrument, Item, ScalePoint
from sem_cocreate.survey.screening import (DEFAULT_CONFIG, RULES, apply_overrides, load_screening_config, resolve_config,
                                    screen, write_screening)

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_fixtures", FIX / "make_fixtures.py")
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)

SCALE = tuple(ScalePoint(i + 1, en, zh) for i, (en, zh) in enumerate(zip(mf.AGREE_EN, mf.AGREE_ZH)))


def make_instrument(n_factors: int = 3, per: int = 5, *, reverse_last: bool = True) -> Instrument:
    """``n_factors`` constructs F1.. of ``per`` items f1_1..; the last item of each reverse-keyed."""
    cons = []
    for f in range(n_factors):
        items = tuple(Item(id=f"f{f + 1}_{j + 1}", construct=f"F{f + 1}", text_en=f"statement {f + 1}.{j + 1}",
                           text_zh=f"陈述{f + 1}.{j + 1}", reverse=reverse_last and j == per - 1)
                      for j in range(per))
        cons.append(Construct(id=f"F{f + 1}", name_en=f"F{f + 1}", name_zh=f"F{f + 1}", definition_en="",
                              definition_zh="", stage="process", items=items))
    fields = (Field(id="duration", kind="duration", unit="seconds"),
              Field(id="attn1", kind="attention", options=SCALE, correct=2),
              Field(id="id", kind="id"))
    return Instrument(id="sim", title_en="sim", title_zh="模拟", scale=SCALE, constructs=tuple(cons),
                      fields=fields)


def simulate_clean(inst: Instrument, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """SIMULATED answers as given (reverse items already reversed) from a 3-factor normal model cut to 1..7."""
    k_f = len(inst.constructs)
    per = len(inst.constructs[0].items)
    phi = np.full((k_f, k_f), 0.4) + 0.6 * np.eye(k_f)
    eta = rng.multivariate_normal(np.zeros(k_f), phi, size=n, method="cholesky")
    lam = 0.75
    z = np.repeat(eta, per, axis=1) * lam + rng.normal(scale=np.sqrt(1 - lam ** 2), size=(n, k_f * per))
    cuts = np.array([-1.9, -1.2, -0.6, 0.0, 0.7, 1.4])          # slightly agreeable, like real Likert data
    x = 1 + np.searchsorted(cuts, z).astype(float)
    ids = inst.item_ids()
    df = pd.DataFrame(x, columns=ids)
    for it in inst.reverse_items():
        df[it] = 8 - df[it]                                         # the respondent sees the reversed wording
    return df


def clean_sample(n=500, seed=20260101):
    inst = make_instrument()
    rng = np.random.default_rng(seed)
    df = simulate_clean(inst, n, rng)
    df["duration"] = np.exp(rng.normal(np.log(420), 0.35, size=n))
    df["attn1"] = 2.0
    df["id"] = np.arange(1, n + 1)
    return inst, df, rng


# --- the planted-careless simulation at the DEFAULT settings -----------------------------------

def test_default_rules_find_planted_careless_respondents():
    inst, clean, rng = clean_sample()
    k = len(inst.item_ids())
    n_plant = 25
    fresh = simulate_clean(inst, 3 * n_plant, rng)             # careless ones get their own answer vectors
    fresh["duration"] = np.exp(rng.normal(np.log(420), 0.35, size=3 * n_plant))
    fresh["attn1"] = 2.0
    fresh["id"] = 0
    straight = fresh.iloc[:n_plant].copy()
    straight[inst.item_ids()] = np.repeat(rng.integers(1, 8, size=(n_plant, 1)), k, axis=1).astype(float)
    speed = fresh.iloc[n_plant:2 * n_plant].copy()
    speed[inst.item_ids()] = rng.integers(1, 8, size=(n_plant, k)).astype(float)      # random, and fast
    speed["duration"] = rng.uniform(25, 150, size=n_plant)
    attn = fresh.iloc[2 * n_plant:].copy()
    attn["attn1"] = rng.choice([1.0, 3.0, 4.0, 5.0, 6.0, 7.0], size=n_plant)            # instructed item failed
    planted = pd.concat([straight, speed, attn], ignore_index=True)
    data = pd.concat([clean, planted], ignore_index=True)
    data["id"] = np.arange(1, len(data) + 1)
    order = rng.permutation(len(data))
    data = data.iloc[order].reset_index(drop=True)
    is_planted = order >= len(clean)

    valid = validate_responses(data, inst)
    res = screen(valid, inst)
    excluded = np.isin(valid.index, res.exclusions["row"])
    recall = excluded[is_planted].mean()
    false_pos = excluded[~is_planted].mean()
    by_rule = {r: int(res.exclusions.set_index("row").loc[valid.index[excluded & ~is_planted], r].sum())
               for r in RULES}
    assert recall >= 0.95, f"recall {recall:.3f}"
    assert false_pos < 0.02, f"clean excluded {false_pos:.3f} {by_rule}"
    # each planted kind is caught by its own rule
    by_row = res.exclusions.set_index("row")
    rows = valid.index[is_planted]
    kinds = np.repeat(["straightlining", "speeders", "attention"], n_plant)[order[is_planted] - len(clean)]
    for kind in ("straightlining", "speeders", "attention"):
        hit = [r for r, kk in zip(rows, kinds) if kk == kind and r in by_row.index and by_row.loc[r, kind]]
        assert len(hit) >= 0.95 * n_plant, kind
    assert res.summary["n_raw"] == len(data)
    assert res.summary["n_analysed"] == len(data) - len(res.exclusions) == len(res.data)


# --- rules one by one --------------------------------------------------------------------------

def small_frame():
    inst, df, _ = clean_sample(n=60, seed=5)
    return inst, validate_responses(df, inst)


def test_speeders_threshold_is_max_of_floor_and_median_fraction():
    inst, v = small_frame()
    v = v.copy()
    v["duration"] = 400.0
    v.loc[1, "duration"] = 159.0       # 0.4 × 400 = 160 > 2 s × 15 items = 30
    v.loc[2, "duration"] = 161.0
    res = screen(v, inst, config={"mahalanobis": False})
    assert res.summary["rules"]["speeders"]["threshold"] == pytest.approx(160.0)
    assert res.exclusions.loc[res.exclusions["speeders"], "row"].tolist() == [1]
    # the absolute floor wins when it is larger
    res2 = screen(v, inst, config={"speeders": {"min_seconds": 170}, "mahalanobis": False})
    assert res2.summary["rules"]["speeders"]["threshold"] == 170.0
    assert res2.exclusions.loc[res2.exclusions["speeders"], "row"].tolist() == [1, 2]


def test_attention_failures_and_allowance():
    inst, v = small_frame()
    v = v.copy()
    v.loc[3, "attn1"] = 6.0
    v.loc[4, "attn1"] = np.nan
    v["attn1"] = v["attn1"].astype(object)
    v.loc[5, "attn1"] = "乱填"
    res = screen(v, inst, config={"mahalanobis": False})
    assert res.exclusions.loc[res.exclusions["attention"], "row"].tolist() == [3, 4, 5]
    res = screen(v, inst, config={"attention": {"missing_is_failure": False}, "mahalanobis": False})
    assert res.exclusions.loc[res.exclusions["attention"], "row"].tolist() == [3, 5]
    res = screen(v, inst, config={"attention": {"max_failed": 1}, "mahalanobis": False})
    assert not res.exclusions["attention"].any()


def test_straightlining_longstring_and_flat_constructs():
    inst, v = small_frame()
    v = v.copy()
    items = inst.item_ids()
    raw = np.array([[3, 4, 5, 2, 6], [5, 2, 3, 6, 1], [2, 5, 6, 3, 4]], dtype=float).ravel()
    # row 1: a run of 8 identical answers (threshold: ceil(0.5 × 15) = 8)
    row1 = raw.copy()
    row1[3:11] = 4
    # row 2: a run of 7 only
    row2 = raw.copy()
    row2[3:10] = 4
    # row 3: each construct flat on its own option (5,5,5,5,5 | 2,... | 6,...): contradicts the reverse items
    row3 = np.repeat([5.0, 2.0, 6.0], 5)
    for r, vals in ((1, row1), (2, row2), (3, row3)):
        s = pd.Series(vals, index=items)
        for it in inst.reverse_items():
            s[it] = 8 - s[it]                       # validate_responses stored them recoded
        v.loc[r, items] = s.to_numpy()
    res = screen(v, inst, config={"mahalanobis": False, "irv": False, "speeders": False})
    flagged = res.exclusions.loc[res.exclusions["straightlining"], "row"].tolist()
    assert flagged == [1, 3]
    assert res.summary["rules"]["straightlining"]["threshold"] == 8
    assert res.exclusions.set_index("row").loc[1, "longstring"] == 8
    off = screen(v, inst, config={"straightlining": {"flat_constructs": False}, "mahalanobis": False,
                                  "irv": False, "speeders": False})
    assert off.exclusions.loc[off.exclusions["straightlining"], "row"].tolist() == [1]


def test_flat_constructs_needs_a_reverse_item_by_default():
    inst = make_instrument(reverse_last=False)
    rng = np.random.default_rng(1)
    df = simulate_clean(inst, 40, rng)
    df.loc[0, inst.item_ids()] = np.repeat([5.0, 2.0, 6.0], 5)
    v = validate_responses(df, inst)
    res = screen(v, inst, config={"mahalanobis": False, "irv": False})
    assert not res.exclusions["straightlining"].any()
    assert "no reverse item" in res.summary["rules"]["straightlining"]["note"]
    res = screen(v, inst, config={"straightlining": {"require_reverse": False}, "mahalanobis": False,
                                  "irv": False})
    assert res.exclusions.loc[res.exclusions["straightlining"], "row"].tolist() == [1]


def test_irv_threshold():
    inst, v = small_frame()
    v = v.copy()
    items = inst.item_ids()
    near = np.array([6.0] * 14 + [5.0])                         # SD = 0.258 < 0.3
    s = pd.Series(near, index=items)
    for it in inst.reverse_items():
        s[it] = 8 - s[it]
    v.loc[7, items] = s.to_numpy()
    res = screen(v, inst, config={"straightlining": False, "mahalanobis": False})
    ex = res.exclusions.set_index("row")
    assert ex.loc[7, "irv"] and ex.loc[7, "reasons"] == "irv"
    assert ex.loc[7, "irv_sd"] == pytest.approx(np.std(near, ddof=1))
    res = screen(v, inst, config={"straightlining": False, "mahalanobis": False, "irv": {"min_sd": 0.2}})
    assert 7 not in res.exclusions["row"].tolist()


def test_missingness_and_duplicates():
    inst, v = small_frame()
    v = v.copy()
    items = inst.item_ids()
    v.loc[9, items[:8]] = np.nan                                # 8/15 = 0.53 > 0.5
    v.loc[10, items[:7]] = np.nan                               # 7/15 = 0.47
    v.loc[12, items] = v.loc[11, items].to_numpy()              # a double submission
    res = screen(v, inst, config={"mahalanobis": False})
    ex = res.exclusions.set_index("row")
    assert ex.loc[9, "missingness"] and 10 not in ex.index
    assert ex.loc[12, "duplicates"] and 11 not in ex.index
    last = screen(v, inst, config={"mahalanobis": False, "duplicates": {"keep": "last"}})
    assert 11 in last.exclusions["row"].tolist() and 12 not in last.exclusions["row"].tolist()


def test_mahalanobis_flags_a_gross_outlier():
    inst, clean, _ = clean_sample(n=300, seed=11)
    items = inst.item_ids()
    clean.loc[0, items] = [7, 1, 7, 1, 1, 1, 7, 1, 7, 7, 7, 1, 7, 1, 1]   # against every correlation
    v = validate_responses(clean, inst)
    res = screen(v, inst)
    ex = res.exclusions.set_index("row")
    assert ex.loc[1, "mahalanobis"]
    rule = res.summary["rules"]["mahalanobis"]
    assert rule["df"] == 15
    from scipy import stats
    assert rule["threshold"] == pytest.approx(stats.chi2.isf(0.001, 15))
    assert ex.loc[1, "mahalanobis_p"] < 0.001
    # not enough complete cases: skipped with a note, not an error
    small = screen(v.iloc[:10], inst)
    assert not small.exclusions["mahalanobis"].any()
    assert "needs more than items + 1" in small.summary["rules"]["mahalanobis"]["note"]


def test_flow_and_exclusion_columns():
    inst, v = small_frame()
    v = v.copy()
    v.loc[1, "duration"] = 5.0
    v.loc[1, "attn1"] = 7.0
    res = screen(v, inst)
    ex = res.exclusions
    assert list(ex.columns[:3 + len(RULES)]) == ["row", "id", "reasons", *RULES]
    row1 = ex.set_index("row").loc[1]
    assert row1["reasons"] == "speeders;attention" and row1["id"] == 1
    flow = res.summary["flow"]
    assert flow[0] == {"step": "raw", "removed": 0, "n": 60}
    # the small instrument has no consent field and the data no Status column: those rules are no step
    assert [f["step"] for f in flow[1:-1]] == [r for r in RULES if r not in ("preview", "consent")]
    assert flow[-1]["n"] == res.summary["n_analysed"] == len(res.data)
    assert sum(f["removed"] for f in flow) == len(ex)
    assert res.summary["rules"]["speeders"]["removed"] == 1 and res.summary["rules"]["attention"]["flagged"] == 1
    assert res.summary["rules"]["attention"]["removed"] == 0   # already removed as a speeder


def test_disabled_rule_and_missing_fields():
    inst, v = small_frame()
    res = screen(v.drop(columns=["duration"]), inst, config={"attention": {"enabled": False}})
    assert "no duration column" in res.summary["rules"]["speeders"]["note"]
    assert "attention" not in [f["step"] for f in res.summary["flow"]]
    assert not res.summary["rules"]["attention"]["enabled"]


def test_screen_needs_items():
    inst, v = small_frame()
    with pytest.raises(DataError, match="screening needs item column f1_1"):
        screen(v.drop(columns=["f1_1"]), inst)


# --- configuration ------------------------------------------------------------------------------

def test_config_dict_yaml_and_overrides(tmp_path):
    cfg = resolve_config({"irv": {"min_sd": 0.2}, "mahalanobis": False})
    assert cfg["irv"]["min_sd"] == 0.2 and cfg["mahalanobis"]["enabled"] is False
    assert cfg["speeders"] == DEFAULT_CONFIG["speeders"]
    y = tmp_path / "s.yaml"
    y.write_text("speeders:\n  fraction_of_median: 0.3\nduplicates: false\n", encoding="utf-8")
    loaded = load_screening_config(y)
    assert loaded["speeders"]["fraction_of_median"] == 0.3 and loaded["duplicates"]["enabled"] is False
    over = apply_overrides(loaded, ["speeders.min_seconds=90", "mahalanobis.enabled=false", "irv.min_sd=0.25"])
    assert over["speeders"]["min_seconds"] == 90 and over["mahalanobis"]["enabled"] is False
    assert over["irv"]["min_sd"] == 0.25 and over["speeders"]["fraction_of_median"] == 0.3


@pytest.mark.parametrize("config, message", [
    ({"speedy": {}}, "unknown screening rule 'speedy'; rules are preview, consent, missingness, speeders"),
    ({"irv": {"sd": 1}}, r"unknown setting irv.sd; irv has enabled, min_sd, min_items"),
    ({"irv": {"min_sd": "low"}}, "screening setting irv.min_sd must be a number, got 'low'"),
    ({"mahalanobis": {"alpha": 5}}, "mahalanobis.alpha is a share between 0 and 1"),
    ({"duplicates": {"keep": "all"}}, "duplicates.keep must be 'first' or 'last'"),
])
def test_bad_config(config, message):
    with pytest.raises(OptionError, match=message):
        resolve_config(config)


def test_bad_override_and_file(tmp_path):
    with pytest.raises(OptionError, match="is not RULE.KEY=VALUE"):
        apply_overrides(None, ["speeders=0.4"])
    with pytest.raises(InputFileError, match="does not exist"):
        load_screening_config(tmp_path / "none.yaml")


# --- outputs and CLI ----------------------------------------------------------------------------

def test_write_screening(tmp_path):
    inst, v = small_frame()
    v = v.copy()
    v.loc[2, "duration"] = 3.0
    res = screen(v, inst)
    paths = write_screening(res, tmp_path / "out")
    assert [p.name for p in paths] == ["screening.json", "exclusions.csv", "cleaned_data.csv"]
    js = json.loads(paths[0].read_text(encoding="utf-8"))
    assert js["n_raw"] == 60 and js["settings"]["irv"]["min_sd"] == 0.3
    ex = pd.read_csv(paths[1])
    assert 2 in ex["row"].tolist()
    cleaned = pd.read_csv(paths[2])
    assert len(cleaned) == js["n_analysed"] and "row" == cleaned.columns[0] and 2 not in cleaned["row"].tolist()
    assert (cleaned["_reverse_recoded"] == "f1_5;f2_5;f3_5").all()


def _cocreation_csv(path: Path, n: int = 80) -> None:
    from sem_cocreate.survey.instrument_file import load_instrument

    inst = load_instrument(ROOT / "questionnaires" / "cocreation.yaml")
    rng = np.random.default_rng(3)
    k = len(inst.item_ids())
    eta = rng.normal(size=(n, 1))
    z = 0.7 * eta + rng.normal(scale=0.7, size=(n, k))
    x = 1 + np.searchsorted([-1.9, -1.2, -0.6, 0.0, 0.7, 1.4], z)
    df = pd.DataFrame(x, columns=inst.item_ids())
    for it in inst.reverse_items():
        df[it] = 8 - df[it]
    df["duration"] = np.round(np.exp(rng.normal(np.log(600), 0.3, size=n)))
    for f in inst.attention_checks():
        df[f.id] = f.correct
    df.loc[0, "duration"] = 40
    df["id"] = np.arange(1, n + 1)
    for f in inst.fields:                       # every declared field present (by kind, not by id)
        if f.kind in ("consent", "role", "categorical") and f.id not in df.columns:
            df[f.id] = f.options[0].code
    df.to_csv(path, index=False)


def test_cli_screen(tmp_path, capsys):
    from sem_cocreate.cli import main

    data = tmp_path / "survey.csv"
    _cocreation_csv(data)
    before = data.read_bytes()
    out = tmp_path / "res"
    rc = main(["screen", "--data", str(data), "--instrument", str(ROOT / "questionnaires" / "cocreation.yaml"),
               "--set", "mahalanobis.enabled=false", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    # instrument v2 (43 items): the speeder planted below and one respondent with a long identical run
    assert "screened 80 responses (csv): excluded 2 (consent 0, missingness 0, speeders 1," in printed
    assert data.read_bytes() == before
    js = json.loads((out / "screening.json").read_text(encoding="utf-8"))
    assert js["settings"]["mahalanobis"]["enabled"] is False and js["n_analysed"] == 78
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["inputs"]["data"]["sha256"] == hashlib.sha256(before).hexdigest()
    assert man["options"]["set"] == ["mahalanobis.enabled=false"] and "numpy" in man["versions"]
    # an existing non-empty --out is refused; --overwrite allows it
    rc = main(["screen", "--data", str(data), "--out", str(out),
               "--instrument", str(ROOT / "questionnaires" / "cocreation.yaml")])
    assert rc == 2 and "exists and is not empty" in capsys.readouterr().err
    # never write over the input: data named like an output inside --out
    inside = out / "cleaned_data.csv"
    rc = main(["screen", "--data", str(inside), "--out", str(out), "--overwrite",
               "--instrument", str(ROOT / "questionnaires" / "cocreation.yaml")])
    assert rc == 2 and "would overwrite the input file" in capsys.readouterr().err
    rc = main(["screen", "--data", str(data), "--out", str(tmp_path / "r2"), "--set", "irv.bogus=1",
               "--instrument", str(ROOT / "questionnaires" / "cocreation.yaml")])
    assert rc == 2 and "unknown setting irv.bogus" in capsys.readouterr().err


def test_output_error_class():
    from sem_cocreate.survey.screening import _check_out_dir

    with pytest.raises(OutputError, match="is a file; give a folder"):
        _check_out_dir(Path(__file__), False, [])


# --- screening never crashes on a frame of valid shape -------------------------------------------

cell = st.one_of(st.integers(1, 7).map(float), st.just(np.nan))


@st.composite
def frames(draw):
    n = draw(st.integers(0, 25))
    inst = make_instrument(n_factors=draw(st.integers(1, 3)), per=draw(st.integers(1, 4)),
                           reverse_last=draw(st.booleans()))
    items = inst.item_ids()
    mode = draw(st.sampled_from(["random", "constant", "all_missing_rows", "identical"]))
    rows = [[draw(cell) for _ in items] for _ in range(n)]
    x = np.array(rows, dtype=float).reshape(n, len(items))
    if mode == "constant" and n:
        x[:, 0] = 4.0
    elif mode == "all_missing_rows" and n:
        x[: max(1, n // 2)] = np.nan
    elif mode == "identical" and n:
        x[:] = x[0]
    df = pd.DataFrame(x, columns=items)
    df["duration"] = [draw(st.one_of(st.floats(0, 5000), st.just(np.nan))) for _ in range(n)]
    df["attn1"] = [draw(st.one_of(st.integers(1, 7).map(float), st.just(np.nan))) for _ in range(n)]
    df["id"] = np.arange(1, n + 1)
    df.index = pd.RangeIndex(1, n + 1, name="row")
    return inst, df


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_screen_never_crashes(case):
    inst, df = case
    try:
        res = screen(df, inst)
    except DataError as err:                 # the only refusal: one rule would remove every respondent
        assert "would exclude all" in str(err) and "--set" in str(err)
        return
    n = len(df)
    assert len(res.data) + len(res.exclusions) == n
    assert res.summary["n_analysed"] == len(res.data)
    ns = [f["n"] for f in res.summary["flow"]]
    assert ns == sorted(ns, reverse=True) and ns[0] == n
    assert set(res.exclusions["row"]) <= set(df.index)
    json.dumps(res.summary, default=str)


def test_realistic_wenjuanxing_export_of_the_default_instrument(tmp_path):
    """The committed SIMULATED 问卷星 export (text mode, Chinese headers) through read → validate → screen."""
    from sem_cocreate.survey.responses import read_responses
    from sem_cocreate.survey.instrument_file import load_instrument

    inst = load_instrument(FIX / "cocreation_v1.yaml")     # the fixture was written from instrument v1
    path = FIX / "wjx_cocreation_simulated.xlsx"
    r = read_responses(path, instrument=inst)
    assert r.source_format == "wenjuanxing" and r.data.shape[0] == 320
    assert set(inst.item_ids()) <= set(r.data.columns)
    v = validate_responses(r, inst)
    assert v.loc[1, ["duration", "role", "platform", "experience", "consent", "attn1", "attn2"]].tolist() == \
        [680.0, 1.0, 3.0, 5.0, 1.0, 5.0, 2.0]
    res = screen(v, inst)
    planted = json.loads((FIX / "wjx_cocreation_simulated.planted.json").read_text(encoding="utf-8"))
    ex = res.exclusions.set_index("id")
    for kind, ids in planted.items():
        assert all(ex.loc[i, kind] for i in ids), kind
    all_planted = {i for ids in planted.values() for i in ids}
    clean_excluded = set(ex.index) - all_planted
    assert len(clean_excluded) < 0.02 * (320 - len(all_planted))


# --- issue 14: consent, preview, zig-zag, a rule removing everyone, double reverse coding ---------

PLANTED = json.loads((FIX / "issue14.planted.json").read_text(encoding="utf-8"))


def _screen_fixture(name, inst=None, **kw):
    from sem_cocreate.survey.responses import read_responses

    inst = inst or mf.wide_instrument()
    v = validate_responses(read_responses(FIX / name, instrument=inst), inst)
    return screen(v, inst, **kw)


def test_declined_or_missing_consent_is_excluded_and_counted():
    res = _screen_fixture("consent_declined.csv")
    ex = res.exclusions
    assert ex.loc[ex["consent"], "row"].tolist() == PLANTED["consent_declined.csv"]      # 3 declined, 1 blank
    assert res.summary["rules"]["consent"]["removed"] == 4
    assert res.summary["flow"][1] == {"step": "consent", "removed": 4, "n": 36}
    res = _screen_fixture("consent_declined.csv", config={"consent": {"missing_is_decline": False}})
    assert res.exclusions.loc[res.exclusions["consent"], "row"].tolist() == [3, 7, 12]


def test_consent_rule_reports_when_it_cannot_run():
    inst, v = small_frame()
    res = screen(v, inst)
    assert res.summary["rules"]["consent"]["note"] == "the instrument has no consent field: rule not applied"
    assert res.summary["rules"]["consent"]["applied"] is False
    assert res.summary["rules"]["speeders"]["applied"] is True


def test_qualtrics_preview_rows_are_excluded():
    res = _screen_fixture("qualtrics_long_labels.sav")
    ex = res.exclusions
    assert ex.loc[ex["preview"], "row"].tolist() == PLANTED["qualtrics_long_labels.sav"]
    assert res.summary["rules"]["preview"]["columns"] == ["Status", "DistributionChannel"]
    assert res.summary["rules"]["speeders"]["applied"]            # Duration__in_seconds_ was recognised


def test_zigzag_responders_are_caught_by_the_alternating_rule():
    res = _screen_fixture("zigzag.csv")
    ex = res.exclusions
    assert ex.loc[ex["alternating"], "row"].tolist() == PLANTED["zigzag.csv"]
    assert (ex.loc[ex["alternating"], "zigzag"] == 15).all()
    res = _screen_fixture("zigzag.csv", config={"alternating": False})
    assert "alternating" not in ";".join(map(str, res.exclusions["reasons"]))


def test_alternating_rule_false_positive_rate_on_clean_simulated_data():
    """Clean SIMULATED respondents of the default instrument: the zig-zag rule flags none of 5,000."""
    from sem_cocreate.survey.instrument_file import load_instrument
    from sem_cocreate.survey.simulate import simulate_responses

    inst = load_instrument(ROOT / "questionnaires" / "cocreation.yaml")
    df = simulate_responses(inst, n=5000, seed=14, careless=0.0)
    v = validate_responses(df, inst)
    only = {r: r == "alternating" for r in RULES}
    res = screen(v, inst, config=only)
    fpr = res.summary["rules"]["alternating"]["flagged"] / 5000
    assert fpr == 0.0
    inst2, clean, _ = clean_sample(n=2000)                       # a 15-item instrument, threshold 8
    res = screen(validate_responses(clean, inst2), inst2, config=only)
    assert res.summary["rules"]["alternating"]["flagged"] / 2000 < 0.001


def test_longest_runs_match_a_plain_loop():
    from sem_cocreate.survey.screening import _longest_run, _longest_zigzag

    rng = np.random.default_rng(5)
    x = rng.integers(1, 4, size=(200, 12)).astype(float)
    x[rng.random(x.shape) < 0.1] = np.nan

    def loop_run(r):
        best = run = 0
        prev = np.nan
        for v in r:
            run = 0 if np.isnan(v) else (run + 1 if run and v == prev else 1)
            prev = v
            best = max(best, run)
        return best

    def loop_zz(r):
        best = run = 0
        for i in range(2, len(r)):
            ok = r[i] == r[i - 2] and r[i] != r[i - 1] and not np.isnan(r[i - 1])
            run = run + 1 if ok else 0
            best = max(best, run)
        return best + 2 if best else 0

    assert _longest_run(x).tolist() == [loop_run(r) for r in x]
    assert _longest_zigzag(x).tolist() == [loop_zz(r) for r in x]


def test_a_rule_that_would_remove_everyone_stops_naming_rule_and_column():
    with pytest.raises(DataError, match=r"^screening rule attention \(column attn1, attn2\) would exclude all 30 "
                                        r"respondents.*--set attention.enabled=false"):
        _screen_fixture("attention_all_skipped.csv")


def test_double_reverse_scored_item_gets_a_warning_naming_it():
    from sem_cocreate.exceptions import DataWarning

    with pytest.warns(DataWarning, match=r"check the reverse coding of w2_5: .*double reverse coding"):
        res = _screen_fixture("double_reverse.csv")
    assert len(res.summary["warnings"]) == 1 and "w2_5" in res.summary["warnings"][0]
    with warnings_as_errors():                                   # the correctly coded file: no warning
        _screen_fixture("zigzag.csv")


def warnings_as_errors():
    import warnings

    class _Ctx:
        def __enter__(self):
            self.c = warnings.catch_warnings()
            self.c.__enter__()
            warnings.simplefilter("error")

        def __exit__(self, *a):
            return self.c.__exit__(*a)

    return _Ctx()


def test_study_hands_one_analysis_sample_to_every_table(tmp_path):
    """α and ω/CR/AVE, item statistics and the models all describe the same respondents (listwise)."""
    from sem_cocreate.study.notes import NoteLog
    from sem_cocreate.study.options import StudyOptions
    from sem_cocreate.study.step_inputs import read_inputs

    log = NoteLog()
    inputs = read_inputs(StudyOptions().resolved(), log)
    s = inputs.analysis_sample
    assert s["n"] == len(inputs.data) == inputs.data[inputs.instrument.item_ids()].dropna().shape[0]
    assert s["n_screened"] == inputs.screened.summary["n_analysed"] and s["n_incomplete"] == s["n_screened"] - s["n"]
    assert any(f"analysis sample: n = {s['n']}" in n.message for n in log.entries)
    # the n is the model's n: a listwise fit on these data drops nothing more
    fiml = read_inputs(StudyOptions(missing="fiml").resolved(), NoteLog())
    assert fiml.analysis_sample["n"] == s["n_screened"] and fiml.analysis_sample["missing"] == "fiml"


def test_a_declared_field_called_status_is_not_taken_for_qualtrics_preview():
    inst, v = small_frame()
    inst = Instrument(id=inst.id, title_en="", title_zh="", scale=inst.scale, constructs=inst.constructs,
                      fields=inst.fields + (Field(id="Status", kind="categorical",
                                                  options=(ScalePoint(1, "employed", "在职"),
                                                           ScalePoint(2, "student", "学生"))),))
    v = v.copy()
    v["Status"] = 1.0
    res = screen(v, inst)
    assert res.summary["rules"]["preview"]["applied"] is False and not res.exclusions["preview"].any()


def test_cli_names_an_absent_consent_field_or_warns_with_the_option(tmp_path, capsys):
    from sem_cocreate.cli import main

    data = tmp_path / "survey.csv"
    _cocreation_csv(data)
    from sem_cocreate.survey.instrument_file import load_instrument

    inst = load_instrument(ROOT / "questionnaires" / "cocreation.yaml")
    consent = inst.field_of_kind("consent").id
    pd.read_csv(data).drop(columns=[consent]).to_csv(data, index=False)
    rc = main(["screen", "--data", str(data), "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc == 2 and f"consent field {consent}" in err and "--missing-fields warn" in err
    assert len(err.strip().splitlines()) == 1
    rc = main(["screen", "--data", str(data), "--missing-fields", "warn", "--out", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert rc == 0 and "consent 0" not in out
    assert f"  warning: consent field {consent} not in the data" in out and capsys.readouterr().err == ""
