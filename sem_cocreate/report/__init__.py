"""Reports rendered from a results folder (never refits). Placeholder until the full renderer lands."""

from __future__ import annotations

from pathlib import Path


def render_report(out_dir, *, formats=("html", "md"), langs=("en",)) -> list[Path]:
    out = Path(out_dir)
    p = out / "report.md"
    p.write_text("# sem_cocreate report\n\n(renderer pending)\n", encoding="utf-8")
    return [p]
