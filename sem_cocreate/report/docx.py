"""Word renderer (python-docx, a regular dependency): real Word headings and APA tables
(horizontal rules only), A4 pages, header rows repeated on every page, wide tables in landscape
sections, figures as pictures. python-docx is imported inside the functions."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import OptionError
from .context import Report

_NOTE = {"en": "Note.", "zh": "注："}
_WARN_RGB = "A40000"


def check_docx_available() -> None:
    """Raise :class:`OptionError` when python-docx is not installed."""
    try:
        import docx  # noqa: F401
    except ImportError:
        raise OptionError("--format docx needs python-docx; reinstall sem_cocreate (pip install .), which depends on it") from None


def _border(parent, tag: str, edges: dict[str, tuple[str, int]]):
    """Set ``w:<tag>`` borders (e.g. tblBorders, tcBorders, pBdr) on an element's properties."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    borders = parent.find(qn(f"w:{tag}"))
    if borders is None:
        borders = OxmlElement(f"w:{tag}")
        parent.append(borders)
    for edge, (val, size) in edges.items():
        el = borders.find(qn(f"w:{edge}"))
        if el is None:
            el = OxmlElement(f"w:{edge}")
            borders.append(el)
        el.set(qn("w:val"), val)
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000" if val != "nil" else "auto")
    return borders


def _shade(parent, fill: str):
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    parent.append(shd)


def _text_width(text: str) -> int:
    """Display width: CJK characters count double."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _column_widths(df, *, total_cm: float, char_cm: float = 0.17, min_cm: float = 1.1):
    """Column widths: each column's natural width (longest cell), the widest ones capped so that
    the table fits ``total_cm`` (water-filling), none narrower than ``min_cm``."""
    from docx.shared import Cm

    natural = []
    for j, col in enumerate(df.columns):
        longest = max([_text_width(str(v)) for v in df.iloc[:, j]] + [1])
        # a header never breaks inside a word: its longest word sets a floor
        word = max([_text_width(w) for w in str(col).split()] + [1]) * 1.15
        header = max(_text_width(str(col)) * 1.15 + 1, longest)
        natural.append(max(min_cm, header * char_cm + 0.35, word * char_cm + 0.45))
    floors = [max(min_cm, max([_text_width(w) for w in str(c).split()] + [1]) * 1.15 * char_cm + 0.45)
              for c in df.columns]
    if sum(natural) > total_cm:
        lo, hi = min_cm, max(natural)
        for _ in range(50):                     # bisection on the cap
            cap = (lo + hi) / 2
            if sum(min(n, cap) for n in natural) > total_cm:
                hi = cap
            else:
                lo = cap
        natural = [max(f, min(n, lo)) for n, f in zip(natural, floors)]
    return [Cm(w) for w in natural]


def _apa_table(doc, df, *, font_pt: float, total_cm: float = 17.0):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    bold = set(map(tuple, df.attrs.get("bold", [])))
    table = doc.add_table(rows=len(df) + 1, cols=len(df.columns))
    tbl_pr = table._tbl.tblPr
    _border(tbl_pr, "tblBorders", {"top": ("single", 12), "bottom": ("single", 12), "left": ("nil", 0),
                                   "right": ("nil", 0), "insideH": ("nil", 0), "insideV": ("nil", 0)})

    def put(cell, text, *, is_bold=False, center=False):
        par = cell.paragraphs[0]
        par.paragraph_format.space_after = Pt(0)
        if center:
            par.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = par.add_run(text)
        run.font.size = Pt(font_pt)
        run.bold = is_bold

    rows = list(table.rows)
    center_ok = df.attrs.get("align") != "left"
    widths = _column_widths(df, total_cm=total_cm, char_cm=0.16 if font_pt >= 9 else 0.14)
    table.autofit = False
    keep = len(df) <= 20             # keep small tables on one page
    for col, w in zip(table.columns, widths):
        col.width = w
    for row in rows:
        for cell, w in zip(row.cells, widths):
            cell.width = w
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")          # repeat the header row on every page
    header.set(qn("w:val"), "true")
    tr_pr.append(header)
    no_split = OxmlElement("w:cantSplit")
    tr_pr.append(no_split)
    for j, (cell, col) in enumerate(zip(rows[0].cells, df.columns)):
        put(cell, str(col), is_bold=True, center=center_ok and j > 0)
        _border(cell._tc.get_or_add_tcPr(), "tcBorders", {"bottom": ("single", 6)})
    for i, (row, values) in enumerate(zip(rows[1:], df.itertuples(index=False))):
        for j, (cell, v) in enumerate(zip(row.cells, values)):
            text = "" if v is None else str(v)
            put(cell, text, is_bold=(i, j) in bold and bool(text), center=center_ok and j > 0 and len(text) <= 16)
    if keep:
        for row in rows[:-1]:
            for cell in row.cells:
                cell.paragraphs[0].paragraph_format.keep_with_next = True
    return table


def _section(doc, *, landscape: bool):
    """Start a new A4 section, landscape or portrait."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Cm

    sec = doc.add_section(WD_SECTION.NEW_PAGE)
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = (Cm(29.7), Cm(21.0)) if landscape else (Cm(21.0), Cm(29.7))
    sec.left_margin = sec.right_margin = sec.top_margin = sec.bottom_margin = Cm(2.0)
    return sec


def write_docx(report: Report, path) -> Path:
    """Write ``report`` as a Word document at ``path``.

    Raises
    ------
    OptionError
        python-docx is not installed.
    """
    check_docx_available()
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)          # A4
    sec.left_margin = sec.right_margin = Cm(2.0)
    sec.top_margin = sec.bottom_margin = Cm(2.0)
    east_asian = "SimSun" if report.lang == "zh" else None
    for style_name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "Heading 4", "List Bullet"):
        try:
            style = doc.styles[style_name]
        except KeyError:
            continue
        if style_name == "Normal":
            style.font.name = "Times New Roman"
            style.font.size = Pt(11)
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        if east_asian:
            fonts.set(qn("w:eastAsia"), east_asian)
    # the document language, so Word proofs Chinese as Chinese
    doc.core_properties.language = "zh-CN" if report.lang == "zh" else "en-US"
    doc.core_properties.title = report.title

    doc.add_heading(report.title, level=0)
    if report.subtitle:
        p = doc.add_paragraph()
        r = p.add_run(report.subtitle)
        r.italic = True
    note_word = _NOTE.get(report.lang, "Note.")
    for b in report.blocks:
        if b.kind == "heading":
            doc.add_heading(b.text, level=max(1, min(b.level - 1, 4)))
        elif b.kind == "para":
            p = doc.add_paragraph()
            r = p.add_run(b.text)
            if b.style == "note":
                r.italic = True
                r.font.size = Pt(9)
            elif b.style == "lead":
                r.bold = True
        elif b.kind == "list":
            for item in b.items:
                doc.add_paragraph(item, style="List Bullet")
        elif b.kind == "banner":
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _shade(p._p.get_or_add_pPr(), _WARN_RGB)
            r = p.add_run(b.text)
            r.bold = True
            r.font.size = Pt(16)
            r.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
            for item in b.items:
                r2 = p.add_run("\n" + item)
                r2.font.size = Pt(10)
                r2.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        elif b.kind == "warning":
            p = doc.add_paragraph()
            edge = ("single", 18)
            borders = _border(p._p.get_or_add_pPr(), "pBdr", {"top": edge, "left": edge, "bottom": edge, "right": edge})
            for el in borders:
                el.set(qn("w:color"), _WARN_RGB)
            r = p.add_run("⚠ " + b.text)
            r.bold = True
            r.font.color.rgb = RGBColor(0xA4, 0x00, 0x00)
            for item in b.items:
                r2 = p.add_run("\n• " + item)
                r2.bold = True
        elif b.kind == "code":
            p = doc.add_paragraph()
            r = p.add_run(b.text)
            r.font.name = "Courier New"
            r.font.size = Pt(9)
        elif b.kind == "table":
            if b.caption:
                cap = doc.add_paragraph()
                cap.paragraph_format.keep_with_next = True
                cap.paragraph_format.space_before = Pt(8)
                rc = cap.add_run(b.caption)
                rc.bold = True
            ncol = len(b.table.columns)
            wide = ncol > 9
            if wide:
                _section(doc, landscape=True)
            _apa_table(doc, b.table, font_pt=8 if ncol > 9 else 9, total_cm=25.7 if wide else 17.0)
            if b.note:
                p = doc.add_paragraph()
                p.paragraph_format.space_before = Pt(2)
                rn = p.add_run(note_word + " ")
                rn.italic = True
                rn.font.size = Pt(8.5)
                r2 = p.add_run(b.note)
                r2.font.size = Pt(8.5)
            else:
                doc.add_paragraph()
            if wide:
                _section(doc, landscape=False)
        elif b.kind == "figure":
            if b.png and Path(b.png).is_file():
                pic = doc.add_paragraph()
                pic.alignment = WD_ALIGN_PARAGRAPH.CENTER
                pic.paragraph_format.keep_with_next = True
                pic.add_run().add_picture(b.png, width=Cm(16.5))
            cap = doc.add_paragraph()
            rc = cap.add_run(b.caption)
            rc.italic = True
            rc.font.size = Pt(9)
    import io

    from ..files import write_bytes

    buf = io.BytesIO()
    doc.save(buf)
    return write_bytes(Path(path), buf.getvalue())   # never through a symbolic link
