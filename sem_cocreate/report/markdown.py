"""Markdown renderer: GitHub pipe tables, headings, block quotes for the banner and warnings."""

from __future__ import annotations

import pandas as pd

from .context import Block, Report

_NOTE = {"en": "Note.", "zh": "注："}


def _cell(text) -> str:
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def pipe_table(df: pd.DataFrame) -> str:
    """A GitHub pipe table; cells listed in ``df.attrs["bold"]`` are set in bold.

    Examples
    --------
    >>> print(pipe_table(pd.DataFrame({"a": ["1"], "b": ["x|y"]})))
    | a | b |
    | --- | --- |
    | 1 | x\\|y |
    """
    bold = set(map(tuple, df.attrs.get("bold", [])))
    lines = ["| " + " | ".join(_cell(c) for c in df.columns) + " |",
             "| " + " | ".join("---" for _ in df.columns) + " |"]
    for i, row in enumerate(df.itertuples(index=False)):
        cells = []
        for j, v in enumerate(row):
            s = _cell(v)
            cells.append(f"**{s}**" if (i, j) in bold and s else s)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _block(b: Block, lang: str) -> str:
    if b.kind == "heading":
        return "#" * max(1, min(b.level, 6)) + " " + b.text
    if b.kind == "para":
        if b.style == "note":
            return f"*{b.text}*"
        if b.style == "lead":
            return f"**{b.text}**"
        return b.text
    if b.kind == "list":
        return "\n".join(f"- {_cell(i)}" for i in b.items)
    if b.kind == "banner":
        return "\n".join([f"> **{b.text}**", ">"] + [f"> {i}" for i in b.items])
    if b.kind == "warning":
        return "\n".join([f"> **⚠ {b.text}**", ">"] + [f"> - **{i}**" for i in b.items])
    if b.kind == "figure":
        from pathlib import Path

        rel = "/".join(Path(b.path).parts[-2:])
        return f"![{b.caption}]({rel})\n\n*{b.caption}*"
    if b.kind == "code":
        return f"```\n{b.text}\n```"
    if b.kind == "table":
        parts = []
        if b.caption:
            parts.append(f"**{b.caption}**\n")
        parts.append(pipe_table(b.table))
        if b.note:
            parts.append(f"\n*{_NOTE.get(lang, 'Note.')}* {b.note}")
        return "\n".join(parts)
    raise ValueError(f"unknown block kind {b.kind!r}")


def render_markdown(report: Report) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    out = [f"# {report.title}"]
    if report.subtitle:
        out.append(f"*{report.subtitle}*")
    out += [_block(b, report.lang) for b in report.blocks]
    return "\n\n".join(out) + "\n"
