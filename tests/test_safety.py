"""Hostile inputs and faults (issue 17): never write through a link or over an input, no live script or
spreadsheet formula in any export, limits on YAML, one-line errors, the hang of the method-factor model.

Each test asserts the exit status, the one-line message and that no input changed (sha256).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from sem_cocreate import files as F
from sem_cocreate.cli import main
from sem_cocreate.exceptions import OutputError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "cocreation_demo.csv"
INSTRUMENT = ROOT / "questionnaires" / "cocreation.yaml"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = {
    "ia1": "<script>alert('ia1')</script> The platform protects me.",
    "ia2": "<img src=x onerror=alert(2)> Disputes are handled fairly.",
    "ia3": "[click me](javascript:alert(3)) The rating system is reliable.",
    "ia4": "=cmd|' /C calc'!A0",
}


def sha(p: Path) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def hashes(*paths) -> dict:
    return {Path(p): sha(p) for p in paths}


def unchanged(before: dict) -> None:
    for p, h in before.items():
        assert sha(p) == h, f"input {p} changed"


def one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(DATA, d / "data.csv")
    shutil.copy(INSTRUMENT, d / "instrument.yaml")
    return d / "data.csv", d / "instrument.yaml"


def live_cells(path: Path, delimiter=",") -> list[str]:
    """Cells a spreadsheet would evaluate (text, not a plain number, starting with = + - @ tab CR)."""
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            for cell in row:
                if cell.startswith(FORMULA_START) and cell not in ("=~", "~~", ":=", "~1"):
                    try:
                        float(cell)
                    except ValueError:
                        out.append(cell)
    return out


# --------------------------------------------------------------------------- output safety

def test_symlinked_results_file_is_not_written_through(tmp_path, inputs, capsys):
    data, inst = inputs
    victim = tmp_path / "victim.csv"
    victim.write_text("precious,data\n1,2\n")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("estimates.csv", "model.lav", "report.html"):
        (out / name).symlink_to(victim)
    (out / "manifest.json").symlink_to(data)          # a link to the user's data file
    before = hashes(victim, data, inst)
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--bootstrap", "0",
                 "--out", str(out), "--overwrite"])
    assert code == 0
    unchanged(before)
    for name in ("estimates.csv", "model.lav", "report.html", "manifest.json"):
        assert not (out / name).is_symlink() and (out / name).is_file()
    assert "lhs,op,rhs" in (out / "estimates.csv").read_text()
    # report DIR over a link planted afterwards: the link is replaced, its target untouched
    (out / "report.md").unlink()
    (out / "report.md").symlink_to(victim)
    assert main(["report", str(out), "--format", "md"]) == 0
    assert not (out / "report.md").is_symlink()
    unchanged(before)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]   # no staging left


def test_write_bytes_replaces_a_link_not_its_target(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "fit.json"
    link.symlink_to(victim)
    F.write_json(link, {"a": 1})
    assert victim.read_text() == "keep" and not link.is_symlink()


def test_out_containing_an_input_is_refused(tmp_path, inputs, capsys):
    data, inst = inputs
    before = hashes(data, inst)
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--out", str(data.parent), "--overwrite"])
    assert code == 2
    assert one_line(capsys.readouterr().err) == (
        f"error: --out {data.parent} contains the input file {data}; choose another results folder "
        "(inputs are never written)")
    unchanged(before)


def test_simulate_refuses_to_overwrite_its_instrument(tmp_path, inputs, capsys):
    _, inst = inputs
    before = hashes(inst)
    code = main(["simulate", "--instrument", str(inst), "--n", "10", "--out", str(inst), "--overwrite"])
    assert code == 2
    assert "is an input file" in one_line(capsys.readouterr().err)
    unchanged(before)


def test_a_second_run_on_one_out_is_refused(tmp_path, inputs, capsys):
    data, inst = inputs
    out = tmp_path / "out"
    before = hashes(data, inst)
    with F.claim_out_dir(out, overwrite=False):       # another run holds --out (same lock a run takes)
        proc = subprocess.run(
            [sys.executable, "-m", "sem_cocreate", "fit", "--data", str(data), "--instrument", str(inst),
             "--out", str(out)], env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert one_line(proc.stderr) == (f"error: --out {out} is being written by another run; wait for it to end "
                                     "or choose another folder")
    assert not out.exists()
    unchanged(before)


def test_two_fit_runs_started_together_on_one_out(tmp_path, inputs):
    # two real processes race for the same --out: exactly one is refused at once, with the one line;
    # the other runs (here ended by SIGTERM to keep the test short) and neither leaves a mixed folder
    import signal
    import time

    data, inst = inputs
    out = tmp_path / "shared"
    before = hashes(data, inst)
    cmd = [sys.executable, "-m", "sem_cocreate", "fit", "--data", str(data), "--instrument", str(inst),
           "--bootstrap", "5000", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            time.sleep(0.1)
        done = [p for p in procs if p.poll() is not None]
        assert len(done) == 1, "neither run was refused within 120 s"
        refused, running = done[0], next(p for p in procs if p is not done[0])
        _, err = refused.communicate()
        assert refused.returncode == 2
        assert one_line(err) == (f"error: --out {out} is being written by another run; wait for it to end "
                                 "or choose another folder")
        time.sleep(1.0)
        assert running.poll() is None          # the winner is still at work, undisturbed
        running.send_signal(signal.SIGTERM)
        _, err2 = running.communicate(timeout=60)
        assert running.returncode == 143 and one_line(err2).startswith("terminated (SIGTERM)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert not out.exists() and not [p.name for p in tmp_path.iterdir() if p.name.startswith(".shared")]
    unchanged(before)


def test_a_failed_run_leaves_no_folder(tmp_path):
    out = tmp_path / "res"
    with pytest.raises(RuntimeError):
        with F.results_folder(out, overwrite=False) as stage:
            (stage.tmp / "estimates.csv").write_text("half")
            raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with F.results_folder(out, overwrite=False) as stage:     # the same command simply runs again
        F.write_text(stage.tmp / "fit.json", "{}")
    assert (out / "fit.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_read_only_folder(tmp_path, inputs, capsys):
    data, inst = inputs
    if os.geteuid() == 0:            # root ignores permission bits; /sys is mounted read-only
        parent = Path("/sys")
        expected = "permission denied"
    else:
        parent = tmp_path / "ro"
        parent.mkdir()
        parent.chmod(0o555)
        expected = "permission denied"
    before = hashes(data, inst)
    out = parent / "results"
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--out", str(out)])
    assert code == 2
    assert one_line(capsys.readouterr().err) == f"error: --out {out}: cannot write ({expected}); choose another --out"
    unchanged(before)


@pytest.mark.parametrize("kind", ["long_name", "file_in_the_way"])
def test_unwritable_out_is_one_line(tmp_path, inputs, capsys, kind):
    data, inst = inputs
    if kind == "long_name":
        out = tmp_path / ("a" * 300)
        want = "is longer than the file system allows (255 bytes); choose a shorter name"
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "results"
        want = "cannot write (a file is in the way of a folder); choose another --out"
    before = hashes(data, inst)
    assert main(["fit", "--data", str(data), "--instrument", str(inst), "--out", str(out)]) == 2
    assert one_line(capsys.readouterr().err).endswith(want)
    unchanged(before)


# --------------------------------------------------------------------------- hostile content

def _hostile_instrument(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for c in doc["constructs"]:
        for it in c["items"]:
            if it["id"] in HOSTILE:
                it["text"]["en"] = HOSTILE[it["id"]]
                it.pop("role_text", None)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_hostile_instrument_through_every_export(tmp_path, inputs, capsys):
    _, inst = inputs
    _hostile_instrument(inst)
    before = hashes(inst)
    out = tmp_path / "export"
    code = main(["questionnaire", "export", str(inst), "--format", "html,md,qualtrics,limesurvey,codebook",
                 "--lang", "en,zh", "--out", str(out)])
    assert code == 0
    files = sorted(out.iterdir())
    assert {p.suffix for p in files} == {".html", ".md", ".txt", ".csv"}
    for p in files:
        if p.suffix == ".csv":     # the codebook is for spreadsheets, not rendered as HTML: formulas below
            continue
        text = p.read_text(encoding="utf-8-sig")
        for bad in ("<script", "<img", "onerror=alert(2)>"):
            assert bad not in text, (p.name, bad)
        if p.suffix == ".md":      # no Markdown link: its brackets are escaped
            assert "[click me](" not in text.replace("\\[", "").replace("\\]", ""), p.name
        if "_zh" not in p.name:    # English wording present: the text is kept, made inert
            assert "The platform protects me." in text and "script&gt;" in text, p.name
    assert live_cells(next(p for p in files if p.suffix == ".csv")) == []
    for p in files:
        if "limesurvey" in p.name:
            assert live_cells(p, delimiter="\t") == []
    unchanged(before)


def test_hostile_instrument_and_ids_through_fit(tmp_path, inputs, capsys):
    data, inst = inputs
    _hostile_instrument(inst)
    rows = data.read_text(encoding="utf-8").splitlines()
    head, body = rows[0], rows[1:]
    body = [f"=HYPERLINK(\"http://x\"){k}" + r[r.index(","):] if k % 2 else f"@SUM(1){k}" + r[r.index(","):]
            for k, r in enumerate(body)]
    data.write_text("\n".join([head, *body]) + "\n", encoding="utf-8")
    before = hashes(data, inst)
    out = tmp_path / "out"
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--bootstrap", "0", "--out", str(out),
                 "--format", "html,md,docx"])
    assert code == 0
    for p in out.rglob("*"):
        if p.suffix in (".html", ".md", ".json"):
            text = p.read_text(encoding="utf-8")
            assert "<script" not in text and "<img" not in text, p.name
            if p.suffix == ".md":
                assert "[click me](javascript" not in text, p.name
    for p in out.rglob("*.csv"):
        assert live_cells(p) == [], p.name
    assert "'=HYPERLINK" in (out / "exclusions.csv").read_text(encoding="utf-8") + \
        (out / "cleaned_data.csv").read_text(encoding="utf-8")
    unchanged(before)


def test_inert_cell_follows_owasp():
    assert [F.inert_cell(x) for x in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "-1", "+2.5"]] == \
        ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "plain", "-1", "+2.5"]
    assert F.inert_cell("=~") == "=~"      # lavaan's operator column stays lavaan's


# --------------------------------------------------------------------------- YAML limits

def _alias_bomb() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_instrument(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    before = hashes(bomb)
    assert main(["questionnaire", "validate", str(bomb)]) == 2
    msg = one_line(capsys.readouterr().err)
    assert "alias bomb" in msg and len(msg) < 300
    unchanged(before)


def test_alias_bomb_mapping(tmp_path, inputs, capsys):
    data, inst = inputs
    bomb = tmp_path / "mapping.yaml"
    bomb.write_text(_alias_bomb())
    before = hashes(bomb, data, inst)
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--mapping", str(bomb),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    msg = one_line(capsys.readouterr().err)
    assert "alias bomb" in msg and len(msg) < 300
    assert not (tmp_path / "out").exists()
    unchanged(before)


def test_yaml_limits_depth_and_aliases():
    from sem_cocreate.survey.safe_yaml import YAMLLimitError, load_yaml

    with pytest.raises(YAMLLimitError, match="nested more than 64 levels"):
        load_yaml("[" * 100 + "]" * 100)
    with pytest.raises(YAMLLimitError, match="more than 1,000 aliases"):
        load_yaml("a: &a 1\nb: [" + ", ".join(["*a"] * 1001) + "]\n")
    assert load_yaml("x: &v [1, 2]\ny: *v\n") == {"x": [1, 2], "y": [1, 2]}


# --------------------------------------------------------------------------- one-line errors

@pytest.mark.parametrize("value", ["inf", "-inf", "1e308"])
def test_non_finite_item_values(tmp_path, inputs, capsys, value):
    data, inst = inputs
    rows = data.read_text(encoding="utf-8").splitlines()
    head = rows[0].split(",")
    k = head.index("ia1")
    cells = rows[3].split(",")
    cells[k] = value
    rows[3] = ",".join(cells)
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = hashes(data, inst)
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--out", str(tmp_path / "out")])
    assert code == 2
    msg = one_line(capsys.readouterr().err)
    assert msg.startswith(f"error: item ia1: value {value if value != '1e308' else '1e+308'}") and "row 3" in msg
    unchanged(before)


def test_oversized_model_says_what_is_too_large(tmp_path, inputs, capsys):
    data, inst = inputs
    items = ["ia1", "ia2", "ia3", "ia4", "pi1", "pi2", "pi3", "pi4", "rc1", "rc2", "rc3", "rc4", "tm1"]
    model = tmp_path / "m200.lav"
    model.write_text("\n".join(f"F{k} =~ " + " + ".join(items[(k + j) % len(items)] for j in range(3))
                               for k in range(200)) + "\n")
    before = hashes(data, inst, model)
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--model", str(model),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    msg = one_line(capsys.readouterr().err)
    assert "the model is too large" in msg and "200 latent variables" in msg
    unchanged(before)


@pytest.mark.parametrize("address, want", [
    ("::not an address", "is not an address like tcp://10.0.0.5:8786"),
    ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"),
])
def test_scheduler_checked_before_any_work(tmp_path, inputs, capsys, address, want):
    data, inst = inputs
    out = tmp_path / "out"
    code = main(["fit", "--data", str(data), "--instrument", str(inst), "--scheduler", address, "--out", str(out)])
    assert code == 2
    assert want in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_argparse_error_is_short(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--bootstrap", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 3 and err[-1] == "error: argument --bootstrap: expected a whole number, got 'many'"


def _results_folder(tmp_path) -> Path:
    """A small results folder written by `fit` (the embedded test fixture from the committed example)."""
    src = ROOT / "reports" / "cocreation_demo"
    out = tmp_path / "res"
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("report*", "figures"))
    return out


@pytest.mark.parametrize("tamper, want", [
    (lambda d: (d / "fit.json").write_text('{"cfi": "high", "chisq": 1}'), "fit.json has 'cfi' = 'high', not a number"),
    (lambda d: (d / "fit.json").write_text("[1, 2]"), "fit.json holds a list, not an object"),
    (lambda d: (d / "notes.json").write_text('{"notes": "not a list"}'), "notes.json has 'notes' that is not a list"),
])
def test_report_on_a_tampered_folder(tmp_path, capsys, tamper, want):
    out = _results_folder(tmp_path)
    tamper(out)
    before = hashes(*[p for p in out.rglob("*") if p.is_file()])
    assert main(["report", str(out), "--format", "html,md"]) == 2
    msg = one_line(capsys.readouterr().err)
    assert want in msg and "re-run `fit`" in msg
    unchanged(before)


def test_control_characters_reach_docx_safely(tmp_path, capsys):
    pytest.importorskip("docx")
    import json

    out = _results_folder(tmp_path)
    notes = json.loads((out / "notes.json").read_text())
    notes["notes"] = list(notes.get("notes", [])) + ["bell\x07 and escape\x1b[31m in a note"]
    (out / "notes.json").write_text(json.dumps(notes))
    assert main(["report", str(out), "--format", "docx,md"]) == 0
    assert "\x07" not in (out / "report.md").read_text()


# --------------------------------------------------------------------------- the hang

HANG_SCRIPT = textwrap.dedent("""
    import numpy as np, pandas as pd, sys
    rng = np.random.default_rng(2)       # data on which our own optimizer fails the method-factor model
    n = 500
    X = rng.normal(size=n); M = 0.5 * X + rng.normal(size=n) * 0.8; Y = 0.4 * M + 0.2 * X + rng.normal(size=n) * 0.8
    cols = {}
    for name, f in (("x", X), ("m", M), ("y", Y)):
        for j in range(1, 5):
            cols[f"{name}{j}"] = np.clip(np.round(0.7 * f + rng.normal(size=n) * 0.6 + 3), 1, 5).astype(int)
    pd.DataFrame(cols).to_csv(sys.argv[1], index=False)
""")


def test_latent_mediation_with_method_factor_finishes(tmp_path):
    """The 3-factor, 12-item latent mediation model (n = 500) whose common-method side model sent semopy's
    starting values into an endless loop: `fit` now ends with a note (bounded by `timeout`, not timed)."""
    import json

    data = tmp_path / "med.csv"
    subprocess.run([sys.executable, "-c", HANG_SCRIPT, str(data)], check=True, timeout=60)
    model = tmp_path / "med.lav"
    model.write_text("X =~ x1 + x2 + x3 + x4\nM =~ m1 + m2 + m3 + m4\nY =~ y1 + y2 + y3 + y4\n"
                     "M ~ a*X\nY ~ b*M + X\nind := a*b\n")
    before = hashes(data, model)
    out = tmp_path / "out"
    proc = subprocess.run(["timeout", "150", sys.executable, "-m", "sem_cocreate", "fit", "--data", str(data),
                           "--model", str(model), "--bootstrap", "0", "--out", str(out)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]
    notes = json.loads((out / "notes.json").read_text())
    text = " ".join(notes["notes"] + notes["warnings"])
    assert "the method-factor model did not converge" in text
    unchanged(before)


def test_semopy_is_not_given_a_factor_without_marker():
    import numpy as np
    import pandas as pd

    from sem_cocreate.engine._semopy import semopy_start
    from sem_cocreate.engine.model import RAMModel
    from sem_cocreate.engine.spec import build_spec

    rng = np.random.default_rng(0)
    f = rng.normal(size=300)
    df = pd.DataFrame({f"x{j}": 0.7 * f + rng.normal(size=300) for j in range(1, 5)})
    spec = build_spec("F =~ NA*x1 + l*x2 + l*x3 + l*x4\nF ~~ 1*F")
    notes: list[str] = []
    assert semopy_start(spec, RAMModel(spec), df, notes=notes) is None
    assert notes == ["semopy's second opinion not used: factor(s) F have no fixed loading, on which semopy's "
                     "starting values loop"]


def test_screen_refuses_the_data_folder_and_a_mapping_inside_out(tmp_path, inputs, capsys):
    data, inst = inputs
    out = tmp_path / "screened"
    out.mkdir()
    mapping = out / "mapping.yaml"
    mapping.write_text("columns: {}\n")
    before = hashes(data, inst, mapping)
    assert main(["screen", "--data", str(data), "--instrument", str(inst), "--out", str(data.parent),
                 "--overwrite"]) == 2
    assert one_line(capsys.readouterr().err).startswith(f"error: --out {data.parent} contains the input file")
    assert main(["screen", "--data", str(data), "--instrument", str(inst), "--mapping", str(mapping),
                 "--out", str(out), "--overwrite"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"error: --out {out} contains the input file {mapping}; choose another results folder "
        "(inputs are never written)")
    unchanged(before)


def test_every_minimisation_has_a_time_budget():
    # issue 17: an optimisation ends in a note when its time is spent, not in a wait
    import time

    import numpy as np

    from sem_cocreate.engine.optimize import newton_minimize

    def value(t):
        return (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2

    def vgh(t):
        time.sleep(0.05)
        x, y = t
        g = np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])
        H = np.array([[2 - 400 * (y - 3 * x ** 2), -400 * x], [-400 * x, 200.0]])
        return value(t), g, H

    free = newton_minimize(np.array([-1.2, 1.0]), value, vgh, maxit=200, gtol=1e-10)
    assert free.converged and free.iterations > 5          # Rosenbrock needs many Newton steps
    t0 = time.monotonic()
    res = newton_minimize(np.array([-1.2, 1.0]), value, vgh, maxit=200, gtol=1e-10, max_seconds=0.12)
    assert time.monotonic() - t0 < 1.0
    assert not res.converged and res.message.startswith("time budget of 0.12 s spent after ")
    assert 1 <= res.iterations < free.iterations and np.isfinite(res.fmin)
