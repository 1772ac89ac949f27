"""The human report, rendered only from a results folder (it never refits).

``render_report(out_dir, formats=("html", "md"), langs=("en",))`` reads the folder's CSV/JSON files
(:mod:`.folder`), builds the content once per language (:mod:`.context`, numbers rounded and
labelled by :mod:`sem_cocreate.tables`) and writes ``report.html`` / ``report.md`` / ``report.docx``
in English and ``report.<lang>.<ext>`` in every other language (``report.zh.docx``), whichever
languages are asked for. Report files of formats or languages not asked for in this run are
removed, so the folder never holds a stale report next to a fresh one.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import OptionError

FORMATS = ("html", "md", "docx")
LANGS = ("en", "zh")


def _as_tuple(value, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    out = tuple(str(v).strip().lower() for v in value if str(v).strip())
    if not out:
        raise OptionError(f"--{what}: give at least one value")
    return tuple(dict.fromkeys(out))


def report_filename(fmt: str, lang: str, *, first: bool = False) -> str:
    """``report.<ext>`` in English, ``report.<lang>.<ext>`` in any other language.

    ``first`` is accepted for old callers and ignored: a language keeps its own file name
    whatever else is rendered in the same run.

    Examples
    --------
    >>> report_filename("docx", "zh")
    'report.zh.docx'
    >>> report_filename("html", "en")
    'report.html'
    """
    return f"report.{fmt}" if lang == "en" else f"report.{lang}.{fmt}"


def start_figures(*, jobs: int | None = None, only=None, **tables) -> dict:
    """Start drawing the figures of a study's tables (``estimates``, ``r2``, ``indirect``, ``invariance``,
    as the results folder will hold them): with a second CPU the background worker draws them while this
    process goes on. Returns ``{stem: job}`` (``only``: just those stems) for :func:`render_report`'s
    ``figures``; a job not started by the worker when it is needed is drawn in this process."""
    from ..inference.parallel import share_work
    from .figures import figure_stems
    from .folder import as_read

    tables = {key: as_read(key, table) for key, table in tables.items()}
    stems = [s for s in figure_stems(**tables) if only is None or s in only]
    return {stem: share_work(_draw_bytes, [(stem, tables)], jobs=jobs, in_flight=1) for stem in stems}


def _draw_bytes(stem, tables):
    from .figures import draw_figure

    return draw_figure(stem, **tables)


def render_report(out_dir, *, formats=("html", "md"), langs=("en",), jobs: int | None = None,
                  figures: dict | None = None) -> list[Path]:
    """Write the report of a results folder in the requested formats and languages.

    Parameters
    ----------
    out_dir : str or path-like
        A results folder written by ``python -m sem_cocreate fit``.
    formats : sequence of str or str
        Any of ``html``, ``md``, ``docx``.
    langs : sequence of str or str
        Any of ``en``, ``zh``; English gets the plain file names.
    jobs : int, optional
        With a second CPU (the default) the figures are drawn in the background worker while the reports
        are composed here; ``1`` draws them in this process.
    figures : dict, optional
        The figures already being drawn from the study's own tables (:func:`start_figures`); used when
        they are the figures this folder gets, drawn here otherwise.

    Returns
    -------
    list of pathlib.Path
        The files written, in order (language, then format).

    Raises
    ------
    OptionError
        Unknown format or language, or python-docx missing for ``docx``.
    InputFileError
        The folder or one of its required files (``estimates.csv``, ``fit.json``) is missing or unreadable.
    """
    formats = _as_tuple(formats, "format")
    langs = _as_tuple(langs, "lang")
    for fmt in formats:
        if fmt not in FORMATS:
            raise OptionError(f"--format {fmt}: use html, md or docx")
    for lang in langs:
        if lang not in LANGS:
            raise OptionError(f"--lang {lang}: use en or zh")
    if "docx" in formats:
        from .docx import check_docx_available

        check_docx_available()

    from .context import build_report
    from .folder import read_results_folder

    from ..files import write_text

    import dataclasses

    from ..inference.parallel import share_work
    from .figures import planned_figures

    folder = read_results_folder(out_dir)
    tables = dict(estimates=folder.estimates, r2=folder.r2, indirect=folder.indirect, invariance=folder.invariance)
    planned = planned_figures(folder.path, **tables)
    if figures is not None and set(figures) == set(planned):
        from .figures import save_drawn

        drawing = None
    else:
        # one task per figure, shared between the background worker and this process
        drawing = share_work(_draw_figure, [(folder.path, tables, stem) for stem in planned], jobs=jobs,
                             in_flight=1)
    # the reports are composed meanwhile, with the figures they will have
    folder = dataclasses.replace(folder, figures=planned)
    reports = [build_report(folder, lang=lang) for lang in langs]
    if drawing is not None:
        drawing.result()
    else:
        for stem in planned:
            save_drawn(folder.path, stem, *figures[stem].result()[0])
    for fmt in FORMATS:                       # no stale report of a format/language not asked for
        for lang in LANGS:
            old = folder.path / report_filename(fmt, lang)
            if (fmt not in formats or lang not in langs) and old.is_file():
                old.unlink()
    written: list[Path] = []
    for lang, report in zip(langs, reports):
        for fmt in formats:
            path = folder.path / report_filename(fmt, lang)
            if fmt == "md":
                from .markdown import render_markdown

                write_text(path, render_markdown(report))   # never through a symbolic link
            elif fmt == "html":
                from .html import render_html

                write_text(path, render_html(report))
            else:
                from .docx import write_docx

                write_docx(report, path)
            written.append(path)
    return written


def _draw_figure(path, tables, stem):
    from .figures import write_figures

    return write_figures(path, **tables, only=stem)


__all__ = ["render_report", "start_figures", "report_filename", "FORMATS", "LANGS"]
