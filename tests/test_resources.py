"""The packaged copies of the default study equal the repository files, and the demo data
regenerate byte for byte from the command in data/README.md."""

import hashlib
from pathlib import Path

from sem_cocreate.cli import main

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "sem_cocreate" / "resources"


def test_packaged_copies_are_identical():
    pairs = [
        (ROOT / "data" / "cocreation_demo.csv", RES / "data" / "cocreation_demo.csv"),
        (ROOT / "questionnaires" / "cocreation-population.yaml", RES / "questionnaires" / "cocreation-population.yaml"),
        (ROOT / "questionnaires" / "cocreation.yaml", RES / "questionnaires" / "cocreation.yaml"),
    ]
    for repo_file, packaged in pairs:
        assert repo_file.read_bytes() == packaged.read_bytes(), repo_file


def test_demo_data_regenerates_byte_for_byte(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "demo.csv"
    code = main(["simulate", "--n", "600", "--seed", "20260101", "--roles", "--missing", "0.003",
                 "--careless", "0.05", "--out", str(out)])
    assert code == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == \
        hashlib.sha256((ROOT / "data" / "cocreation_demo.csv").read_bytes()).hexdigest()
    text = out.read_text()
    assert "SIMULATED" in text.splitlines()[1]
