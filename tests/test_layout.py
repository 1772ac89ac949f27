"""The package layout: no import cycle among its modules (imports inside functions count too), and
stages import in one direction only (survey -> engine -> measurement / inference -> report -> study -> cli; the report renders a results folder and never sees the study, which writes and renders it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from sem_cocreate.survey._graph import find_cycle

PKG = Path(__file__).resolve().parents[1] / "sem_cocreate"

# lower number = earlier stage; a module may import from its own stage or an earlier one
STAGE = {"exceptions": 0, "_version": 0, "files": 0, "_warnings": 0, "_blas": 0, "survey": 1, "engine": 2,
         "measurement": 3, "inference": 3, "report": 4, "study": 5, "cli": 6, "__main__": 6, "__init__": 7}


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(PKG).with_suffix("").parts)
        out[".".join(parts)] = p
    return out


def _package_of(mod: str, path: Path) -> list[str]:
    parts = mod.split(".")
    return parts[:-1] if path.name != "__init__.py" else parts[:-1]


def _import_edges() -> dict[str, set[str]]:
    """module -> modules of this package it imports (explicitly; at any depth of the file)."""
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        pkg = _package_of(mod, path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[: len(pkg) - node.level + 1] if node.level > 1 else pkg
                    stem = ".".join(base + (node.module.split(".") if node.module else []))
                elif node.module and node.module.split(".")[0] == "sem_cocreate":
                    stem = ".".join(node.module.split(".")[1:])
                else:
                    continue
                for alias in node.names:
                    sub = f"{stem}.{alias.name}".strip(".")
                    if sub in mods:
                        targets.append(sub)
                    elif stem in mods:
                        targets.append(stem)
                    elif f"{stem}.__init__".strip(".") in mods:
                        targets.append(f"{stem}.__init__".strip("."))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "sem_cocreate":
                        sub = ".".join(alias.name.split(".")[1:])
                        targets.append(sub if sub in mods else f"{sub}.__init__".strip("."))
            edges[mod].update(t for t in targets if t != mod)
    return edges


def _stage(mod: str) -> int:
    return STAGE[mod.split(".")[0]]


def test_the_edge_finder_sees_imports_inside_functions():
    edges = _import_edges()
    # cli imports the study inside cmd_fit, not at module level
    assert any(t.startswith("study.") for t in edges["cli"])
    assert "engine.result" in edges["engine.estimators.fiml"]


def test_no_import_cycle_among_the_package_modules():
    edges = _import_edges()
    cycle = find_cycle((a, b) for a, ts in edges.items() for b in ts)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_reports_a_planted_cycle():
    assert find_cycle([("a", "b"), ("b", "c"), ("c", "a")]) == ["a", "b", "c", "a"]


def test_imports_point_down_the_pipeline():
    wrong = [f"{a} -> {b}" for a, ts in _import_edges().items() for b in ts
             if a != "__init__" and _stage(b) > _stage(a)]
    assert not wrong, "imports against the pipeline order: " + ", ".join(sorted(wrong))


def test_import_sem_cocreate_is_light():
    code = ("import sys, sem_cocreate as sc; sc.__version__; "
            "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'semopy') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", ["sem", "cfa", "fit_sem", "SEMResult", "load_instrument", "read_responses",
                                  "validate_responses", "screen", "run_study", "StudyResult"])
def test_public_api_names_resolve(name):
    import sem_cocreate as sc

    assert callable(getattr(sc, name))
