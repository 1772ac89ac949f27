"""Ctrl-C and SIGTERM during a running bootstrap: exit 130 / 143 with one line, no worker process left
behind, no half-written results folder, inputs unchanged (issue 17)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parents[1]
WAIT_WORKERS = 180    # seconds allowed for the fit to reach the bootstrap on a busy 2-core machine
WAIT_EXIT = 30        # seconds allowed to end after the signal ("within a few seconds", with slack)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _start_bootstrap(tmp_path: Path, *, early: bool = False, jobs: tuple = ("--jobs", "2")):
    data = tmp_path / "in" / "data.csv"
    inst = tmp_path / "in" / "instrument.yaml"
    data.parent.mkdir()
    shutil.copy(ROOT / "data" / "cocreation_demo.csv", data)
    shutil.copy(ROOT / "questionnaires" / "cocreation.yaml", inst)
    hashes = {p: _sha(p) for p in (data, inst)}
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sem_cocreate", "fit", "--data", str(data), "--instrument", str(inst),
         "--bootstrap", "20000", *jobs, "--seed", "1", "--out", str(out)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + WAIT_WORKERS
    workers: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [c for c in parent.children(recursive=True)
                   if "loky" in " ".join(_cmdline(c)) or "joblib" in " ".join(_cmdline(c))]
        if len(workers) >= (1 if early else 2):
            break
        time.sleep(0.2)
    if len(workers) < (1 if early else 2):
        proc.kill()
        proc.communicate()
        pytest.fail("the bootstrap workers did not start")
    if early:         # signal while the first worker is still starting (importing numpy, pandas, ...)
        return proc, parent.children(recursive=True), out, hashes
    time.sleep(1.0)   # the workers are busy with resamples
    workers = parent.children(recursive=True)
    return proc, workers, out, hashes


def _cmdline(p) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _assert_clean_end(proc, workers, out: Path, hashes, *, code: int, line: str):
    try:
        _, err = proc.communicate(timeout=WAIT_EXIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the run did not end within {WAIT_EXIT} s of the signal")
    assert proc.returncode == code, err[-2000:]
    lines = err.strip().splitlines()
    # exactly one line: Ctrl-C reaches the whole process group, and no worker (busy, or still importing
    # when it arrives) prints its own KeyboardInterrupt traceback
    assert lines == [line], err[-2000:]
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"worker processes left behind: {[p.pid for p in alive]}"
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".out.")]
    for p, h in hashes.items():
        assert _sha(p) == h


@pytest.mark.parametrize("jobs", [("--jobs", "2"), ()], ids=["pool", "shared"])
def test_ctrl_c_during_bootstrap(tmp_path, jobs):
    """``--jobs 2``: a pool of two workers; default: this process and one background worker share the
    chunks (a feeder thread hands them out)."""
    proc, workers, out, hashes = _start_bootstrap(tmp_path, jobs=jobs)
    os.killpg(proc.pid, signal.SIGINT)     # a terminal's Ctrl-C reaches the whole process group
    _assert_clean_end(proc, workers, out, hashes, code=130,
                      line="interrupted (Ctrl-C); no results folder was written")


def test_ctrl_c_just_as_the_workers_start(tmp_path):
    proc, workers, out, hashes = _start_bootstrap(tmp_path, early=True)
    os.killpg(proc.pid, signal.SIGINT)
    _assert_clean_end(proc, workers, out, hashes, code=130,
                      line="interrupted (Ctrl-C); no results folder was written")


def test_sigterm_during_bootstrap(tmp_path):
    proc, workers, out, hashes = _start_bootstrap(tmp_path)
    os.kill(proc.pid, signal.SIGTERM)      # kill PID: the main process only
    _assert_clean_end(proc, workers, out, hashes, code=143,
                      line="terminated (SIGTERM); no results folder was written")
