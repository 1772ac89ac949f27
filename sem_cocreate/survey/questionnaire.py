"""Validate an instrument file and export it for fielding: HTML, Markdown, Qualtrics, LimeSurvey, codebook.

Layout of every export (the same order everywhere): consent; background questions (role,
platform, experience; every asked field with no ``after``); then one block per construct, each a
7-point matrix of its items, followed by the fields placed ``after`` it (the attention checks).
Fields of kind ``id`` and ``duration`` are recorded by the survey software and only appear in the
codebook.

Formats
-------
``html``        one printable page, one table per construct with every scale anchor as a column;
                all ``langs`` shown together (bilingual page).
``md``          the same questionnaire for researchers, with construct definitions, sources,
                hypotheses and missing-value codes.
``qualtrics``   Qualtrics Advanced Format TXT, one file per role and language
                (``<id>_qualtrics_<role>_<lang>.txt``): ``[[Block:...]]`` per construct,
                ``[[Question:Matrix:SingleAnswer]]`` with ``[[AdvancedChoices]]``/``[[Choice:N]]`` rows
                (N = item position) and ``[[AdvancedAnswers]]``/``[[Answer:code]]`` columns; consent,
                role, platform and attention checks as ``MC:SingleAnswer``.
``limesurvey``  LimeSurvey tab-separated survey structure (.txt, UTF-8 with BOM), one file per role
                (``<id>_limesurvey_<role>.txt``), one block of G/Q/SQ/A rows per language; arrays are
                type ``F`` with the item ids as subquestion codes and the scale codes as answer codes.
``codebook``    CSV (UTF-8 with BOM): ``item_id, construct, text_en, text_zh, reverse, scale_min,
                scale_max, roles, sources``, then ``kind, text_en_<role>, text_zh_<role>`` for every
                role, ``codes`` and ``missing_codes``; one row per item, then one per field.

Qualtrics and LimeSurvey cannot show wording by role without display logic, so with ``role=None``
they get one file per role; HTML, Markdown and the codebook show every role's wording.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import OptionError, OutputError
from .instrument import Construct, Field, Instrument, Item
from .instrument_file import default_instrument_path, load_instrument

FORMATS = ("html", "md", "qualtrics", "limesurvey", "codebook")
LANGS = ("en", "zh")
LIMESURVEY_LANG = {"en": "en", "zh": "zh-Hans"}
LIMESURVEY_COLUMNS = ["id", "related_id", "class", "type/scale", "name", "relevance", "text", "help", "language",
                      "validation", "mandatory", "other", "default", "same_default"]
_PART_HEADING = ("Please rate each statement", "请对每个说法作答")
CODEBOOK_COLUMNS = ["item_id", "construct", "text_en", "text_zh", "reverse", "scale_min", "scale_max", "roles",
                    "sources"]
_UNIT_ZH = {"years": "年", "year": "年", "seconds": "秒", "second": "秒", "months": "月", "minutes": "分钟"}
_ASKED_KINDS = ("consent", "role", "categorical", "numeric", "text", "attention")
_HEADINGS = {
    "consent": {"en": "Consent", "zh": "知情同意"},
    "background": {"en": "About you", "zh": "基本信息"},
    "thanks": {"en": "Thank you for taking part.", "zh": "感谢您的参与！"},
    "role": {"en": "Wording for", "zh": "适用对象"},
}


def validate_instrument_file(path: str | os.PathLike[str] | None = None) -> Instrument:
    """Load and validate an instrument YAML (default :func:`default_instrument_path`).

    Raises
    ------
    InputFileError
        The file is missing.
    InstrumentError
        The file breaks the schema (the message names the field path and the problem).
    """
    return load_instrument(path)


# --- layout shared by every format ----------------------------------------------------------------

@dataclass(frozen=True)
class _Block:
    kind: str                              # "consent", "background" or "construct"
    construct: Construct | None
    items: tuple[Item, ...]
    fields: tuple[Field, ...]              # fields asked in this block (after the items for constructs)


def _layout(instrument: Instrument, role: str | None) -> list[_Block]:
    asked = [f for f in instrument.fields if f.kind in _ASKED_KINDS]
    blocks = []
    consent = tuple(f for f in asked if f.kind == "consent" and not f.after)
    if consent:
        blocks.append(_Block("consent", None, (), consent))
    background = tuple(f for f in asked if f.kind != "consent" and not f.after)
    if background:
        blocks.append(_Block("background", None, (), background))
    for c in instrument.constructs:
        if role is not None and role not in c.roles:
            continue
        items = tuple(it for it in c.items if role is None or role in it.roles)
        after = tuple(f for f in asked if f.after == c.id)
        if items or after:
            blocks.append(_Block("construct", c, items, after))
    return blocks


def _role_label(instrument: Instrument, role: str, lang: str) -> str:
    f = instrument.field_of_kind("role")
    if f is not None:
        for p in f.options:
            if (p.name or p.label_en) == role:
                return p.label_zh if lang == "zh" else p.label_en
    return role


def _variants(instrument: Instrument, item: Item, role: str | None) -> list[tuple[str | None, str, str]]:
    """(role or None, text_en, text_zh) wordings to show for an item."""
    if role is not None or not item.role_text:
        return [(None, item.text_for(role, "en"), item.text_for(role, "zh"))]
    return [(r, item.text_for(r, "en"), item.text_for(r, "zh")) for r in item.roles]


def _pick(en: str, zh: str, lang: str) -> str:
    return zh if lang == "zh" else en


def _unit(unit: str, lang: str) -> str:
    return _UNIT_ZH.get(unit, unit) if lang == "zh" else unit


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_ENTITY_START = {"=": "&#61;", "+": "&#43;", "-": "&#45;", "@": "&#64;"}
_ENTITY_RE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def _no_tags(text: str) -> str:
    """``<`` and ``>`` as entities (no tag, script, event handler or autolink survives), and an ``&``
    that would start a character reference too; other text unchanged (``R&D``, quotes)."""
    return _ENTITY_RE.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def _html_text(text: str) -> str:
    """Text for a target that renders it as HTML (Qualtrics, LimeSurvey): one line, ``< >``
    escaped so no tag, script or link survives; a leading ``= + - @`` written as an entity (the
    platform shows the character, a spreadsheet opening the file sees no formula); Qualtrics'
    ``[[`` directives broken up."""
    out = _no_tags(_one_line(text)).replace("[[", "[&#91;").replace("]]", "]&#93;")
    if out[:1] in _ENTITY_START:
        out = _ENTITY_START[out[0]] + out[1:]
    return out


def _check_options(instrument: Instrument, formats, langs, role) -> tuple[list[str], list[str], str | None]:
    fmts = [str(f).strip().lower() for f in ([formats] if isinstance(formats, str) else formats)]
    fmts = [f for f in dict.fromkeys(fmts) if f]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise OptionError(f"--format {','.join(bad) or '(none)'}: unknown export format; choose from "
                          f"{', '.join(FORMATS)}")
    lgs = [str(x).strip().lower() for x in ([langs] if isinstance(langs, str) else langs)]
    lgs = [x for x in dict.fromkeys(lgs) if x]
    bad = [x for x in lgs if x not in LANGS]
    if bad or not lgs:
        raise OptionError(f"--lang {','.join(bad) or '(none)'}: unknown language; choose en, zh or en,zh")
    if role is not None:
        names = instrument.role_names()
        if role not in names:
            rf = instrument.field_of_kind("role")
            mapped = rf.name_for(role) if rf is not None else None
            if mapped is None:
                raise OptionError(f"--role {role}: unknown role; choose one of {', '.join(names)}")
            role = mapped
    return fmts, lgs, role


# --- html and markdown ----------------------------------------------------------------------------

def _html(instrument: Instrument, langs: list[str], role: str | None) -> str:
    import jinja2

    def texts(en: str, zh: str) -> list[dict[str, str]]:
        return [{"lang": lg, "text": _pick(en, zh, lg)} for lg in langs]

    def field_q(f: Field) -> dict[str, Any]:
        return {"id": f.id, "text": texts(f.text_en, f.text_zh),
                "unit": " / ".join(dict.fromkeys(_unit(f.unit, lg) for lg in langs)),
                "options": [{"code": o.code, "labels": [_pick(o.label_en, o.label_zh, lg) for lg in langs]}
                            for o in f.options]}

    blocks = []
    number = 0
    for b in _layout(instrument, role):
        if b.kind != "construct":
            h = _HEADINGS[b.kind]
            blocks.append({"kind": "fields", "heading": texts(h["en"], h["zh"]),
                           "fields": [field_q(f) for f in b.fields]})
            continue
        number += 1
        c = b.construct
        rows = [{"id": it.id, "variants": [
            {"role": " / ".join(_role_label(instrument, r, lg) for lg in langs) if r else "",
             "text": texts(en, zh)} for r, en, zh in _variants(instrument, it, role)]} for it in b.items]
        scale_codes = [p.code for p in instrument.scale]
        extra = []
        for f in b.fields:
            if f.kind == "attention" and [o.code for o in f.options] == scale_codes:
                rows.append({"id": f.id, "variants": [{"role": "", "text": texts(f.text_en, f.text_zh)}]})
            else:
                extra.append(f)
        # the respondent sees neither construct names nor item ids (they would cue the construct)
        blocks.append({"kind": "construct", "id": c.id, "number": number, "first": number == 1,
                       "heading": texts(*_PART_HEADING), "rows": rows})
        if extra:
            blocks.append({"kind": "fields", "heading": texts(*_PART_HEADING),
                           "fields": [field_q(f) for f in extra]})
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    template = env.from_string((Path(__file__).resolve().parents[1] / "resources" / "questionnaire.html.j2")
                               .read_text(encoding="utf-8"))
    return template.render(
        html_lang="zh-Hans" if langs[0] == "zh" else "en",
        title=" / ".join(_pick(instrument.title_en, instrument.title_zh, lg) for lg in langs),
        title_lines=texts(instrument.title_en, instrument.title_zh),
        instrument_id=instrument.id, version=instrument.version,
        role_label=" / ".join(_role_label(instrument, role, lg) for lg in langs) if role else "",
        instructions=texts(instrument.instructions_en, instrument.instructions_zh),
        anchors=[{"code": p.code, "labels": [_pick(p.label_en, p.label_zh, lg) for lg in langs]}
                 for p in instrument.scale],
        blocks=blocks,
        thanks=texts(_HEADINGS["thanks"]["en"], _HEADINGS["thanks"]["zh"]),
    )


def _md_cell(text: str) -> str:
    """One Markdown table cell / inline text: Markdown renders inline HTML and links, so ``< >``
    become entities and ``\\ ` [ ] |`` are backslash-escaped (no tag, script or link survives)."""
    out = _no_tags(_one_line(text))
    for ch in "\\`[]|":
        out = out.replace(ch, "\\" + ch)
    return out


def _markdown(instrument: Instrument, langs: list[str], role: str | None) -> str:
    def both(en: str, zh: str, sep: str = " / ") -> str:
        return sep.join(_md_cell(_pick(en, zh, lg)) for lg in langs)

    out = [f"# {both(instrument.title_en, instrument.title_zh)}", ""]
    out.append(f"Instrument `{instrument.id}`, version {instrument.version}"
               + (f"; wording for {both(_role_label(instrument, role, 'en'), _role_label(instrument, role, 'zh'))}"
                  if role else "; wording for every role") + ".")
    out.append("")
    out.append("Response scale: " + "; ".join(f"{p.code} = {both(p.label_en, p.label_zh)}" for p in instrument.scale)
               + ".")
    if instrument.missing_codes:
        out.append("Missing-value codes: " + "; ".join(f"{c} = {_md_cell(m)}" for c, m in instrument.missing_codes) + ".")
    recorded = [f for f in instrument.fields if f.kind in ("id", "duration")]
    if recorded:
        out.append("Recorded by the survey software: " + "; ".join(
            f"`{f.id}` ({_md_cell(f.text_en) or f.kind}{', ' + f.unit if f.unit else ''})" for f in recorded) + ".")
    out.append("")
    header = "| id | " + both("Statement", "题项") + " | " + " | ".join(
        f"{p.code} {both(p.label_en, p.label_zh, '<br>')}" for p in instrument.scale) + " |"
    rule = "|---|---|" + "---|" * len(instrument.scale)
    boxes = " | ".join("○" for _ in instrument.scale)
    number = 0
    for b in _layout(instrument, role):
        if b.kind != "construct":
            h = _HEADINGS[b.kind]
            out += [f"## {both(h['en'], h['zh'])}", ""]
            for f in b.fields:
                out.append(f"**{f.id}**. {both(f.text_en, f.text_zh, '<br>')}")
                out.append("")
                if f.options:
                    out += [f"- ○ {o.code} {both(o.label_en, o.label_zh)}" for o in f.options]
                else:
                    out.append(f"- ______ {both(f.unit, _unit(f.unit, 'zh'))}")  # both() escapes
                out.append("")
            continue
        number += 1
        c = b.construct
        out += [f"## {number}. {both(c.name_en, c.name_zh)} (`{c.id}`, {c.stage})", ""]
        out.append(f"*{both(c.definition_en, c.definition_zh, '<br>')}*")
        out.append("")
        if number == 1:
            out += [f"> {both(instrument.instructions_en, instrument.instructions_zh, '<br>')}", ""]
        out += [header, rule]
        for it in b.items:
            cells = "<br>".join(
                (f"**{both(_role_label(instrument, r, 'en'), _role_label(instrument, r, 'zh'))}:** " if r else "")
                + both(en, zh, "<br>") for r, en, zh in _variants(instrument, it, role))
            mark = " (R)" if it.reverse else ""
            out.append(f"| {it.id}{mark} | {cells} | {boxes} |")
        for f in b.fields:
            if f.kind == "attention":
                out.append(f"| {f.id} (check: {f.correct}) | {both(f.text_en, f.text_zh, '<br>')} | {boxes} |")
        out.append("")
        for f in b.fields:
            if f.kind != "attention":
                out.append(f"**{f.id}**. {both(f.text_en, f.text_zh, '<br>')}")
        if c.sources:
            out += ["Adapted from:", ""] + [f"- {_md_cell(src)}" for src in c.sources] + [""]
    out.append("(R) reverse-keyed: recoded as min + max − x before analysis.")
    out.append("")
    if instrument.hypotheses:
        out += ["## " + both("Hypotheses", "研究假设"), "", "| id | path | sign | " + both("hypothesis", "假设") + " |",
                "|---|---|---|---|"]
        for h in instrument.hypotheses:
            out.append(f"| {h.id} | {h.from_} → {h.to} | {'+' if h.sign > 0 else '−'} | "
                       f"{both(h.text_en, h.text_zh, '<br>')} |")
        out.append("")
        if instrument.mediators:
            out += [f"Mediators: {', '.join(instrument.mediators)}.", ""]
    return "\n".join(out)


# --- qualtrics ------------------------------------------------------------------------------------

def _qualtrics(instrument: Instrument, lang: str, role: str) -> str:
    lines = ["[[AdvancedFormat]]", "", f"[[ED:instrument:{instrument.id}]]", f"[[ED:version:{instrument.version}]]",
             f"[[ED:role:{role}]]", f"[[ED:lang:{lang}]]", ""]

    def mc(f: Field, layout: str = "Vertical") -> None:
        lines.extend([f"[[Question:MC:SingleAnswer:{layout}]]", f"[[ID:{f.id}]]",
                      _html_text(_pick(f.text_en, f.text_zh, lang)), "[[AdvancedChoices]]"])
        for o in f.options:
            lines.extend([f"[[Choice:{o.code}]]", _html_text(_pick(o.label_en, o.label_zh, lang))])
        lines.append("")

    def ask(f: Field) -> None:
        if f.options:
            mc(f, "Horizontal" if f.kind == "attention" else "Vertical")
        else:
            unit = f" ({_unit(f.unit, lang)})" if f.unit else ""
            lines.extend(["[[Question:TE:SingleLine]]", f"[[ID:{f.id}]]",
                          _html_text(_pick(f.text_en, f.text_zh, lang)) + unit, ""])

    for b in _layout(instrument, role):
        if b.kind != "construct":
            lines.extend([f"[[Block:{_HEADINGS[b.kind][lang]}]]", ""])
            for f in b.fields:
                ask(f)
            continue
        c = b.construct
        lines.extend([f"[[Block:{c.id} {_html_text(_pick(c.name_en, c.name_zh, lang))}]]", ""])
        if b.items:
            lines.extend(["[[Question:Matrix:SingleAnswer]]", f"[[ID:{c.id}]]",
                          _html_text(_pick(instrument.instructions_en, instrument.instructions_zh, lang)),
                          "[[AdvancedChoices]]"])
            for k, it in enumerate(b.items, start=1):
                lines.extend([f"[[Choice:{k}]]", _html_text(it.text_for(role, lang))])
            lines.append("[[AdvancedAnswers]]")
            for p in instrument.scale:
                lines.extend([f"[[Answer:{p.code}]]", _html_text(_pick(p.label_en, p.label_zh, lang))])
            lines.append("")
        for f in b.fields:
            ask(f)
    return "\n".join(lines)


# --- limesurvey -----------------------------------------------------------------------------------

def _limesurvey(instrument: Instrument, langs: list[str], role: str) -> str:
    rows: list[dict[str, str]] = []

    def row(**kw: Any) -> None:
        rows.append({k: ("" if v is None else str(v)) for k, v in kw.items()})

    base = LIMESURVEY_LANG[langs[0]]
    row(**{"class": "S", "name": "format", "text": "G"})
    row(**{"class": "S", "name": "language", "text": base})
    if len(langs) > 1:
        row(**{"class": "S", "name": "additional_languages", "text": " ".join(LIMESURVEY_LANG[x] for x in langs[1:])})
    for lg in langs:
        row(**{"class": "SL", "name": "surveyls_title", "text": _html_text(_pick(instrument.title_en, instrument.title_zh, lg)),
               "language": LIMESURVEY_LANG[lg]})
    blocks = _layout(instrument, role)
    for lg in langs:
        code = LIMESURVEY_LANG[lg]
        qid = 0
        for g, b in enumerate(blocks, start=1):
            if b.kind == "construct":
                name = f"{b.construct.id} {_pick(b.construct.name_en, b.construct.name_zh, lg)}"
            else:
                name = _HEADINGS[b.kind][lg]
            row(**{"id": g, "class": "G", "type/scale": f"G{g - 1}", "name": _html_text(name), "relevance": "1",
                   "language": code})
            if b.kind == "construct" and b.items:
                qid += 1
                row(**{"id": qid, "class": "Q", "type/scale": "F", "name": b.construct.id, "relevance": "1",
                       "text": _html_text(_pick(instrument.instructions_en, instrument.instructions_zh, lg)),
                       "language": code, "mandatory": "N", "other": "N"})
                for it in b.items:
                    row(**{"class": "SQ", "type/scale": "0", "name": it.id, "relevance": "1",
                           "text": _html_text(it.text_for(role, lg)), "language": code})
                for p in instrument.scale:
                    row(**{"id": qid, "class": "A", "type/scale": "0", "name": p.code,
                           "text": _html_text(_pick(p.label_en, p.label_zh, lg)), "language": code})
            for f in b.fields:
                qid += 1
                qtype = "L" if f.options else ("N" if f.kind in ("numeric", "duration") else "S")
                unit = f" ({_unit(f.unit, lg)})" if f.unit and not f.options else ""
                row(**{"id": qid, "class": "Q", "type/scale": qtype, "name": f.id, "relevance": "1",
                       "text": _html_text(_pick(f.text_en, f.text_zh, lg)) + unit, "language": code,
                       "mandatory": "Y" if f.required else "N", "other": "N"})
                for o in f.options:
                    row(**{"id": qid, "class": "A", "type/scale": "0", "name": o.code,
                           "text": _html_text(_pick(o.label_en, o.label_zh, lg)), "language": code})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LIMESURVEY_COLUMNS, delimiter="\t", quotechar='"',
                            lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# --- codebook -------------------------------------------------------------------------------------

def _codebook(instrument: Instrument, role: str | None) -> str:
    from ..files import inert_cell

    roles = instrument.role_names()
    columns = CODEBOOK_COLUMNS + ["kind"] + [f"text_{lg}_{r}" for r in roles for lg in LANGS] + [
        "codes", "missing_codes"]
    scale_codes = "; ".join(f"{p.code}={p.label_en} ({p.label_zh})" for p in instrument.scale)
    missing = "; ".join(f"{c}={m}" for c, m in instrument.missing_codes)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for c in instrument.constructs:
        if role is not None and role not in c.roles:
            continue
        for it in c.items:
            if role is not None and role not in it.roles:
                continue
            rec = {"item_id": it.id, "construct": c.id, "text_en": it.text_for(role, "en"),
                   "text_zh": it.text_for(role, "zh"), "reverse": str(it.reverse).lower(),
                   "scale_min": instrument.scale_min, "scale_max": instrument.scale_max, "roles": ",".join(it.roles),
                   "sources": " | ".join(c.sources), "kind": "item", "codes": scale_codes, "missing_codes": missing}
            for r in roles:
                for lg in LANGS:
                    rec[f"text_{lg}_{r}"] = it.text_for(r, lg) if r in it.roles else ""
            writer.writerow({k: inert_cell(v) for k, v in rec.items()})
    for f in instrument.fields:
        codes = [o.code for o in f.options]
        lo = min(codes) if codes else ("" if f.minimum is None else f"{f.minimum:g}")
        hi = max(codes) if codes else ("" if f.maximum is None else f"{f.maximum:g}")
        note = f" (correct: {f.correct})" if f.correct is not None else ""
        rec = {"item_id": f.id, "construct": "", "text_en": f.text_en + note, "text_zh": f.text_zh + note,
               "reverse": "", "scale_min": lo, "scale_max": hi, "roles": ",".join(roles), "sources": "",
               "kind": f.kind + (f" [{f.unit}]" if f.unit else ""),
               "codes": "; ".join(f"{o.code}={o.label_en} ({o.label_zh})" for o in f.options),
               "missing_codes": missing if f.kind not in ("id", "duration") else ""}
        writer.writerow({k: inert_cell(v) for k, v in rec.items()})   # no spreadsheet formula survives
    return buf.getvalue()


# --- export ---------------------------------------------------------------------------------------

def export_instrument(instrument: Instrument, *, formats=("html", "md"), langs=("en",),
                      out_dir: str | os.PathLike[str] = "questionnaire_export", role: str | None = None) -> list[Path]:
    """Write the instrument in the requested formats under ``out_dir``.

    Parameters
    ----------
    instrument : Instrument
    formats : sequence of str
        Any of ``html``, ``md``, ``qualtrics``, ``limesurvey``, ``codebook`` (module docstring).
    langs : sequence of str
        ``en``, ``zh`` or both; HTML and Markdown show them together, Qualtrics writes one file per
        language, LimeSurvey one language block per language (the first is the base language).
    out_dir : path
        Folder for the files (created if needed; existing files of the same name are replaced).
    role : str, optional
        ``solver`` or ``seeker`` (or a label/alias of one): only that role's constructs, items and
        wording. Default: every role (one Qualtrics/LimeSurvey file per role).

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.

    Raises
    ------
    OptionError
        Unknown format, language or role.
    OutputError
        ``out_dir`` cannot be created or written.
    """
    fmts, lgs, role = _check_options(instrument, formats, langs, role)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"--out {out}: cannot create the folder ({err.strerror}); choose another path.") from None
    stem = instrument.id + (f"_{role}" if role else "")
    roles = [role] if role else list(instrument.role_names())
    jobs: list[tuple[str, str, str]] = []          # (file name, text, encoding)
    for fmt in fmts:
        if fmt == "html":
            jobs.append((f"{stem}.html", _html(instrument, lgs, role), "utf-8"))
        elif fmt == "md":
            jobs.append((f"{stem}.md", _markdown(instrument, lgs, role), "utf-8"))
        elif fmt == "qualtrics":
            for r in roles:
                for lg in lgs:
                    jobs.append((f"{instrument.id}_qualtrics_{r}_{lg}.txt", _qualtrics(instrument, lg, r), "utf-8"))
        elif fmt == "limesurvey":
            for r in roles:
                jobs.append((f"{instrument.id}_limesurvey_{r}.txt", _limesurvey(instrument, lgs, r), "utf-8-sig"))
        elif fmt == "codebook":
            jobs.append((f"{stem}_codebook.csv", _codebook(instrument, role), "utf-8-sig"))
    written = []
    for name, text, encoding in jobs:
        path = out / name
        try:
            with open(path, "w", encoding=encoding, newline="") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
        except OSError as err:
            raise OutputError(f"{path}: cannot be written ({err.strerror}); check the --out folder.") from None
        written.append(path)
    return written


# --- CLI ------------------------------------------------------------------------------------------

def summary_line(instrument: Instrument, path: str | os.PathLike[str]) -> str:
    """``<path>: valid — 11 constructs, 37 items, 14 hypotheses``."""
    return (f"{path}: valid — {len(instrument.constructs)} constructs, {len(instrument.items())} items, "
            f"{len(instrument.hypotheses)} hypotheses")


def run_questionnaire(args) -> int:
    """``python -m sem_cocreate questionnaire validate|export [FILE]``: see ``--help``.

    ``validate`` prints a one-line summary (warnings on stderr); ``export`` writes the requested
    formats under ``--out`` (default ``questionnaire_export/``), refusing an existing non-empty
    folder unless ``--overwrite``, and prints each file written.
    """
    path = args.file if args.file else default_instrument_path()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        instrument = validate_instrument_file(path)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.action == "validate":
        print(summary_line(instrument, path))
        return 0
    formats = getattr(args, "format", None) or ["html", "md"]
    langs = getattr(args, "lang", None) or ["en"]
    role = getattr(args, "role", None)
    _check_options(instrument, formats, langs, role)       # fail on bad options before touching --out
    out = Path(args.out) if getattr(args, "out", None) else Path("questionnaire_export")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file, not a folder; choose a folder path.")
    if out.is_dir() and any(out.iterdir()) and not getattr(args, "overwrite", False):
        raise OutputError(f"--out {out}: folder exists and is not empty; choose another folder or add --overwrite.")
    for p in export_instrument(instrument, formats=formats, langs=langs, out_dir=out, role=role):
        print(p)
    return 0
