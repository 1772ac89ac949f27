"""HTML renderer: one self-contained, print-friendly file (inline CSS, no external assets)."""

from __future__ import annotations

import re
from pathlib import Path

from .context import Report

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_NUMERIC = re.compile(r"^[\s\d.,\[\]\-−<>*%—()]+$")
_HEX = re.compile(r"^[0-9a-f]{32,}$")
_NOTE = {"en": "Note.", "zh": "注："}
_HTML_LANG = {"en": "en", "zh": "zh-CN"}


def _cell_class(text: str, emphasised: bool) -> str:
    cls = []
    if text and _NUMERIC.match(text):
        cls.append("num")
    elif _HEX.match(text):
        cls.append("code")
    if emphasised and text:
        cls.append("em")
    return " ".join(cls)


def _table_view(b) -> dict:
    df = b.table
    bold = set(map(tuple, df.attrs.get("bold", [])))
    left = df.attrs.get("align") == "left"
    rows = []
    for i, row in enumerate(df.itertuples(index=False)):
        cells = []
        for j, v in enumerate(row):
            text = "" if v is None else str(v)
            cls = _cell_class(text, (i, j) in bold)
            if left:
                cls = " ".join(c for c in cls.split() if c != "num")
            cells.append({"text": text, "cls": cls})
        rows.append(cells)
    return {"kind": "table", "caption": b.caption, "note": b.note, "columns": [str(c) for c in df.columns],
            "rows": rows, "left": left}


def _figure_view(b) -> dict:
    """A figure inlined as SVG (the XML prolog and DOCTYPE dropped; width set by CSS)."""
    from markupsafe import Markup

    svg = Path(b.path).read_text(encoding="utf-8")
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'(<svg[^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r"\1", svg, count=1)
    return {"kind": "figure", "caption": b.caption, "svg": Markup(svg),
            "small": not Path(b.path).stem.startswith("path_diagram")}


def render_html(report: Report) -> str:
    """The whole report as a single HTML document (UTF-8, ``lang`` set, APA tables)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
    blocks = [(_table_view(b) if b.kind == "table" else _figure_view(b) if b.kind == "figure" else b)
              for b in report.blocks]
    return env.get_template("report.html.j2").render(report=report, blocks=blocks,
                                                     html_lang=_HTML_LANG.get(report.lang, report.lang),
                                                     note_word=_NOTE.get(report.lang, "Note."))
