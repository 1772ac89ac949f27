"""Survey responses in: read an export as it came from the platform, map it to the instrument, validate it.

Formats (chosen by extension, then by content):

* CSV / TSV / TXT in UTF-8 (with or without BOM), UTF-16 (BOM) or GBK / GB18030 (decoded by trial, then
  ``charset-normalizer`` as a last resort);
* Excel ``.xlsx`` / ``.xlsm`` (openpyxl) and ``.xls`` (xlrd, when installed);
* SPSS ``.sav`` / ``.zsav`` and Stata ``.dta`` (pyreadstat, ``apply_value_formats=False``): SPSS user-missing
  codes become NaN, value labels are kept as metadata;
* a Qualtrics CSV (or Excel) export: three header rows, the third made of ``{"ImportId": ...}`` JSON cells;
* a Wenjuanxing (问卷星) export, CSV or Excel, "by option number" or "by option text": metadata columns
  序号 / 提交答卷时间 / 所用时间 (``508秒`` → 508 seconds) / 来源 / 来源详情 / 来自IP, question columns
  ``N、题干`` / ``N.题干`` / ``N：题干`` and matrix sub-items ``N(子项)`` or ``N、题干—子项``.

The input file is only ever opened for reading. The readers per platform live in
:mod:`sem_cocreate.survey.readers`, validation in :mod:`sem_cocreate.survey.validation`; this module maps
the columns to the instrument (ids, labels, wording, approximate wording, role blocks) and re-exports
``validate_responses`` so that ``from sem_cocreate.survey.responses import ...`` keeps working.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..exceptions import DataError, DataWarning, InputFileError, OptionError
from .instrument import Instrument

from .readers import (  # noqa: F401  (re-exported: survey.responses stays the one import place)
    MISSING_NUMBERS, MISSING_TOKENS, REVERSE_MARKER, Responses, _EXCEL_EXT, _TEXT_EXT, _WJX_META, _WJX_QUESTION,
    _Raw, _cell_text, _decode, _is_text, _norm_id, _norm_text, _number_or_text, _option_lookup,
    _parse_duration, _read_excel, _read_spss, _read_stata, _read_text_table, _soft_numeric, _table_to_raw, map_cells)
from .validation import _is_missing_cell, _looks_like_date, validate_responses  # noqa: F401

__all__ = ["Responses", "read_responses", "read_mapping", "validate_responses", "MISSING_TOKENS",
           "REVERSE_MARKER"]


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------

def read_responses(path, *, instrument: Instrument | None = None, mapping=None,
                   sheet: str | int | None = None, missing_fields: str = "error") -> Responses:
    """Read a survey export (csv, xlsx, xls, sav, dta, Qualtrics, Wenjuanxing) into :class:`Responses`.

    Parameters
    ----------
    path : str or path-like
        The export, exactly as downloaded; it is never written.
    instrument : Instrument, optional
        When given, columns are mapped to item and field ids (see Notes) and option text is turned into
        codes through the instrument's anchors (``非常同意`` → 7).
    mapping : str, path-like or dict, optional
        Explicit ``column → item_id`` mapping: a dict, or a YAML / CSV (``column,item_id``) file. It takes
        precedence over automatic matching.
    sheet : str or int, optional
        Excel sheet (default: the first).
    missing_fields : {"error", "warn"}, default "error"
        What to do when a declared field of an essential kind (attention, consent, duration, role)
        matches no column: raise a :class:`DataError` naming it, or (``"warn"``) go on with a
        :class:`DataWarning` and a note, so that the report says the rule behind it did not run.

    Returns
    -------
    Responses

    Raises
    ------
    InputFileError
        The file is missing, empty or of an unknown format / encoding.
    DataError
        An instrument item matches no column (the message names the three closest columns), or two columns.

    Notes
    -----
    Items are matched, in order, by the explicit mapping; by id (case-insensitive, then ignoring
    ``_``/``-``/spaces); by ``Item.source_labels`` (column name, Qualtrics ImportId, question text or SPSS
    variable label); by the item's Chinese or English wording contained in the header, or by a header
    that is the start of the wording (SPSS cuts variable labels at 255 bytes); then by approximate
    wording (normalised text, similarity >= 0.85, for edited headers). The notes say which item or field
    was matched how. In a role-split export (one block of columns per role, the other block skipped),
    an item's role-specific wording is matched to its own block and each respondent's answer is taken
    from the block of their role.
    """
    if missing_fields not in ("error", "warn"):
        raise OptionError(f"missing_fields must be 'error' or 'warn', got {missing_fields!r}")
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"data file {str(p)!r} does not exist; check the path")
    if p.is_dir():
        raise InputFileError(f"data path {str(p)!r} is a folder; give the export file itself")
    if p.stat().st_size == 0:
        raise InputFileError(f"data file {str(p)!r} is empty; export the responses again")
    ext = p.suffix.lower()
    if ext in (".sav", ".zsav", ".por"):
        raw = _read_spss(p)
    elif ext == ".dta":
        raw = _read_stata(p)
    elif ext in _EXCEL_EXT:
        raw = _table_to_raw(_read_excel(p, sheet=sheet), source_format=ext.lstrip("."), notes=[])
    elif ext in _TEXT_EXT or ext == "":
        table, notes = _read_text_table(p)
        raw = _table_to_raw(table, source_format="csv", notes=notes)
    else:
        raise InputFileError(f"data file {p.name!r}: unknown extension {ext!r}; use csv, xlsx, xls, sav or dta")

    if raw.frame.shape[1] == 0:
        raise InputFileError(f"data file {p.name!r} has no columns; check the export")
    explicit = read_mapping(mapping) if mapping is not None else {}
    column_map: dict[str, str] = {}
    frame = raw.frame
    if instrument is not None or explicit:
        frame, column_map = _map_columns(raw, instrument, explicit, missing_fields=missing_fields)
        if instrument is not None and raw.role_columns:
            frame = _combine_roles(frame, instrument, raw, column_map)
        if instrument is not None:
            frame = _codes_from_text(frame, instrument, raw, column_map)
    frame = frame.copy()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row") if frame.index.name != "row" else frame.index
    return Responses(data=frame, source_format=raw.source_format, column_map=column_map,
                     notes=tuple(raw.notes), value_labels=dict(raw.value_labels), path=str(p),
                     header_rows=raw.header_rows)


# ----------------------------------------------------------------------------------------------
# mapping columns to the instrument
# ----------------------------------------------------------------------------------------------

def read_mapping(mapping) -> dict[str, str]:
    """Read an explicit ``column → item_id`` mapping from a dict, a YAML file or a CSV ``column,item_id``.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    OptionError
        The content is not a column → id mapping.
    """
    if isinstance(mapping, Mapping):
        return {str(k): str(v) for k, v in mapping.items()}
    p = Path(mapping)
    if not p.exists():
        raise InputFileError(f"mapping file {str(p)!r} does not exist; check the --mapping path")
    text, _ = _decode(p.read_bytes(), p.name)
    if p.suffix.lower() in (".csv", ".tsv", ".txt"):
        rows = list(csv.reader(io.StringIO(text), delimiter="\t" if p.suffix.lower() == ".tsv" else ","))
        rows = [r for r in rows if r and any(c.strip() for c in r)]
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["column", "item_id"]:
            rows = rows[1:]
        bad = [i + 2 for i, r in enumerate(rows) if len(r) < 2 or not r[0].strip() or not r[1].strip()]
        if bad:
            raise OptionError(f"mapping file {p.name!r}: line {bad[0]} is not 'column,item_id'; fix that line")
        return {r[0].strip(): r[1].strip() for r in rows}
    import yaml

    try:
        from .safe_yaml import load_yaml

        obj = load_yaml(text)   # limits on size, depth, aliases
    except yaml.YAMLError as err:
        raise InputFileError(f"mapping file {p.name!r} is not valid YAML ({' '.join(str(err).split())})") from None
    if isinstance(obj, dict) and "columns" in obj and isinstance(obj["columns"], (dict, list)):
        obj = obj["columns"]
    if isinstance(obj, list):
        try:
            return {str(e["column"]): str(e["item_id"]) for e in obj}
        except (TypeError, KeyError):
            raise OptionError(f"mapping file {p.name!r}: list entries need 'column' and 'item_id'") from None
    if not isinstance(obj, dict) or not obj:
        raise OptionError(f"mapping file {p.name!r} must map column names to item ids (column: item_id)")
    return {str(k): str(v) for k, v in obj.items()}


def _header_texts(keys: list[str]) -> list[str]:
    """Texts to search for item wording: the header, its Wenjuanxing parts, question text, labels."""
    out = []
    for k in keys:
        if k.startswith("@"):
            continue
        out.append(k)
        m = _WJX_QUESTION.match(k)
        if m and (m.group("sub") or m.group("stem")):
            for part in (m.group("stem"), m.group("sub")):
                if part:
                    out.extend(re.split(r"[—–]+|-{2,}| - ", part))
        elif re.search(r"[—–]+|-{2,}| - ", k):          # Qualtrics / SPSS labels: "stem - item wording"
            out.extend(re.split(r"[—–]+|-{2,}| - ", k))
    return [t for t in (_norm_text(x) for x in out) if t]


def _wording(obj) -> list[str]:
    texts = [getattr(obj, "text_zh", ""), getattr(obj, "text_en", "")]
    for rt in getattr(obj, "role_text", ()):
        texts.extend(rt[1:])
    return [t for t in (_norm_text(x) for x in texts if x) if len(t) >= 4]


def _text_match(wording: list[str], header: list[str]) -> int:
    """Length of the best wording match (0 = none): wording in header, or a truncated header in wording."""
    best = 0
    for w in wording:
        for h in header:
            if w in h:
                best = max(best, len(w))
            elif len(h) >= 6 and h in w and len(h) >= 0.5 * len(w):
                best = max(best, len(h))
            elif len(h) >= 12 and w.startswith(h):     # a label cut short (SPSS: 255 bytes)
                best = max(best, len(h))
    return best


def _similarity(wording: list[str], header: list[str]) -> float:
    """Best difflib ratio between any wording and any header text (normalised; 0..1)."""
    best = 0.0
    for w in wording:
        for h in header:
            if abs(len(w) - len(h)) > 0.3 * max(len(w), len(h)):
                continue
            best = max(best, difflib.SequenceMatcher(None, w, h, autojunk=False).ratio())
    return best


def _role_wordings(obj) -> dict[str | None, list[str]]:
    """Wording per role for an item with role-specific text ({role: texts}); {None: texts} otherwise."""
    rt = getattr(obj, "role_text", ())
    if not rt:
        return {None: _wording(obj)}
    out: dict[str | None, list[str]] = {}
    specific = {r for r, _, _ in rt}
    for role in getattr(obj, "roles", ()) or ():
        if role in specific:
            out[role] = [t for t in (_norm_text(x) for r, en, zh in rt if r == role for x in (zh, en) if x)
                         if len(t) >= 4]
        else:
            out[role] = [t for t in (_norm_text(x) for x in (obj.text_zh, obj.text_en) if x) if len(t) >= 4]
    return out


_ESSENTIAL_KINDS = ("attention", "consent", "duration", "role")


def _map_columns(raw: _Raw, instrument: Instrument | None, explicit: dict[str, str], *,
                 missing_fields: str = "error"):
    frame = raw.frame
    cols = list(frame.columns)
    targets: list[tuple[str, object]] = []
    if instrument is not None:
        targets = [(it.id, it) for it in instrument.items()] + [(f.id, f) for f in instrument.fields]
    target_ids = {t for t, _ in targets}
    assigned: dict[str, str] = {}      # target id -> column
    used: set[str] = set()
    how_of: dict[str, str] = {}

    def take(tid: str, col: str, how: str) -> None:
        if tid in assigned:
            return
        if col in used:
            return
        assigned[tid] = col
        used.add(col)
        how_of[tid] = how

    # 1. explicit mapping
    for col, tid in explicit.items():
        hits = [c for c in cols if c == col] or [c for c in cols if col in raw.keys.get(c, [])]
        if not hits:
            close = difflib.get_close_matches(col, cols, n=3, cutoff=0)
            raise DataError(f"mapping names column {col!r}, which the data lack; closest columns: "
                            f"{', '.join(map(repr, close))}; fix the mapping file")
        if instrument is not None and tid not in target_ids:
            raise DataError(f"mapping sends column {col!r} to {tid!r}, which is no item or field of "
                            f"instrument {instrument.id!r}; use one of its item ids")
        if tid in assigned:
            raise DataError(f"mapping sends two columns to {tid!r} ({assigned[tid]!r}, {col!r}); keep one")
        assigned[tid] = hits[0]
        used.add(hits[0])
    if instrument is None:
        return _rename(frame, assigned, raw), {k: v for k, v in assigned.items()}

    # 2. id, case-insensitive; then ignoring separators
    lower = {}
    for c in cols:
        lower.setdefault(c.strip().lower(), c)
    for tid, _ in targets:
        c = lower.get(tid.lower())
        if c is not None:
            take(tid, c, "id")
    loose: dict[str, list[str]] = {}
    for c in cols:
        loose.setdefault(_norm_id(c), []).append(c)
    for tid, _ in targets:
        if tid not in assigned:
            hits = [c for c in loose.get(_norm_id(tid), []) if c not in used]
            if len(hits) == 1:
                take(tid, hits[0], "id")
    # 3. source labels (items) against every key of a column
    for tid, obj in targets:
        if tid in assigned:
            continue
        labels = {s.strip().lower() for s in getattr(obj, "source_labels", ())}
        if not labels:
            continue
        hits = [c for c in cols if c not in used and any(k.strip().lower() in labels for k in raw.keys[c])]
        if len(hits) > 1:
            raise DataError(f"item {tid} matches columns {', '.join(map(repr, hits[:3]))} by its source_labels; "
                            "give --mapping to choose one")
        if hits:
            take(tid, hits[0], "label")
    # 4. standard fields from platform metadata (duration, respondent id)
    for tid, obj in targets:
        kind = getattr(obj, "kind", None)
        if tid in assigned or kind not in ("duration", "id"):
            continue
        hits = [c for c in cols if c not in used and f"@{kind}" in raw.keys[c]]
        if hits:
            take(tid, hits[0], "meta")
    # 5. wording contained in the header (longest wording wins per column); role-specific wording per role
    best_for_col: dict[str, tuple[int, str, str | None]] = {}
    role_words = {tid: _role_wordings(obj) for tid, obj in targets}
    for c in cols:
        if c in used:
            continue
        htexts = _header_texts(raw.keys[c])
        for tid, obj in targets:
            if tid in assigned:
                continue
            for role, words in role_words[tid].items():
                score = _text_match(words, htexts)
                if score and score > best_for_col.get(c, (0, "", None))[0]:
                    best_for_col[c] = (score, tid, role)
    by_target: dict[str, list[tuple[str, str | None]]] = {}
    for c, (_, tid, role) in best_for_col.items():
        by_target.setdefault(tid, []).append((c, role))
    role_columns: dict[str, dict[str, str]] = {}
    generic_multi: dict[str, list[str]] = {}
    for tid, hits in by_target.items():
        roles = [r for _, r in hits]
        if len(hits) > 1 and None not in roles and len(set(roles)) == len(roles):
            role_columns[tid] = {r: c for c, r in hits}            # a role-split export
            take(tid, hits[0][0], "role-specific wording")
            used.update(c for c, _ in hits)
        elif len(hits) > 1:
            generic_multi[tid] = [c for c, _ in hits]
        else:
            c0 = hits[0][0]
            ht = _header_texts(raw.keys[c0])
            cut = not any(w in h for w in _wording(next(o for t, o in targets if t == tid)) for h in ht)
            take(tid, c0, "start of the wording (label cut short)" if cut else "wording")
    if generic_multi:
        # items worded alike for both roles in a role-split export: each hit belongs to the role block
        # (the span of columns of that role's role-specific items) that contains it
        # (the role of the nearest role-specific column before it, else the first one after it)
        pos = {c: i for i, c in enumerate(cols)}
        marks = sorted((pos[c], r) for rc in role_columns.values() for r, c in rc.items())
        for tid, hits in generic_multi.items():
            owner = {}
            for c in hits:
                before = [r for q, r in marks if q < pos[c]]
                after_ = [r for q, r in marks if q > pos[c]]
                r = before[-1] if before else (after_[0] if after_ else None)
                if r is not None and r not in owner:
                    owner[r] = c
            if marks and len(owner) == len(hits):
                role_columns[tid] = owner
                take(tid, hits[0], "wording, role block")
                used.update(hits)
            else:
                raise DataError(f"item {tid} matches columns {', '.join(map(repr, hits[:3]))} by its wording; "
                                "give --mapping to choose one (for an export with one block per role, give the "
                                "item role_text so that each block can be told apart)")
    # 6. approximate wording (a header edited after launch: a typo fixed, a word changed)
    free = [c for c in cols if c not in used and not any(k.startswith("@") for k in raw.keys[c])
            and c not in _WJX_META]
    approx: list[tuple[float, str, str]] = []
    for tid, obj in targets:
        if tid in assigned or not _wording(obj):
            continue
        scored = sorted(((_similarity(_wording(obj), _header_texts(raw.keys[c])), c) for c in free),
                        reverse=True)
        if scored and scored[0][0] >= 0.85 and (len(scored) == 1 or scored[1][0] < scored[0][0] - 0.05):
            approx.append((scored[0][0], tid, scored[0][1]))
    for score, tid, c in sorted(approx, reverse=True):
        if c not in used and tid not in assigned:
            take(tid, c, f"approximate wording (similarity {score:.2f})")
    # unmatched items are errors; unmatched essential fields too, unless missing_fields="warn"
    items = instrument.item_ids()
    missing = [t for t in items if t not in assigned]
    if missing:
        free = [c for c in cols if c not in used and not any(k.startswith("@") for k in raw.keys[c])
                and c not in _WJX_META] or cols
        obj = next(o for t, o in targets if t == missing[0])
        words = _wording(obj)
        ranked = sorted(free, key=lambda c: -max(
            _similarity(words, _header_texts(raw.keys[c])) if words else 0.0,
            difflib.SequenceMatcher(None, missing[0].lower(), c.lower()).ratio()))
        close = ranked[:3]
        more = f" (and {len(missing) - 1} more item(s): {', '.join(missing[1:6])})" if len(missing) > 1 else ""
        raise DataError(f"item {missing[0]} of instrument {instrument.id!r} matches no data column{more}; "
                        f"closest columns: {', '.join(map(repr, close))}; rename the column or give --mapping "
                        "(column,item_id)")
    absent = [f for f in instrument.fields if f.id not in assigned]
    essential = [f for f in absent if f.kind in _ESSENTIAL_KINDS]
    if essential:
        f = essential[0]
        what = f"{f.kind} field {f.id}" + (f" ({(f.text_en or f.text_zh)[:60]!r})" if (f.text_en or f.text_zh) else "")
        others = f" (and {', '.join(g.id for g in essential[1:])})" if len(essential) > 1 else ""
        if missing_fields == "error":
            raise DataError(f"{what}{others} of instrument {instrument.id!r} matches no data column, so its "
                            "screening rule could not run; rename the column, give --mapping (column,field_id), "
                            "or accept it with --missing-fields warn (missing_fields='warn')")
        import warnings as _w

        msg = (f"{', '.join(g.kind + ' field ' + g.id for g in essential)} not in the data: the screening "
               "rule(s) behind them did not run")
        _w.warn(msg, DataWarning, stacklevel=3)
        raw.notes.append("WARNING: " + msg)
    if absent:
        raw.notes.append(f"field(s) not in the data: {', '.join(f.id for f in absent)}")
    raw.notes.append(f"mapped {len(items)} item(s) and {len(instrument.fields) - len(absent)} field(s) "
                     "to data columns")
    counts: dict[str, int] = {}
    for tid, how in how_of.items():
        counts[how.split(" (")[0]] = counts.get(how.split(" (")[0], 0) + 1
    raw.notes.append("matched by " + ", ".join(f"{h} {n}" for h, n in counts.items()))
    for tid, how in how_of.items():
        if how.startswith(("approximate", "wording", "role")) or (how == "label" and tid not in items):
            if tid in role_columns:
                raw.notes.append(f"{tid}: read per role from " + ", ".join(
                    f"{r} column {c!r}" for r, c in role_columns[tid].items()) + f" (matched by {how})")
            elif not how.startswith("wording") or tid not in items:
                raw.notes.append(f"{tid} <- column {assigned[tid]!r} by {how}")
    raw.role_columns = role_columns
    renamed = _rename(frame, assigned, raw)
    order = [t for t, _ in targets if t in assigned]
    rest = [c for c in renamed.columns if c not in order]
    return renamed[order + rest], dict(assigned)


def _combine_roles(frame: pd.DataFrame, instrument: Instrument, raw: _Raw,
                   column_map: dict[str, str]) -> pd.DataFrame:
    """Role-split export: each respondent's answer to an item comes from the block of their role."""
    rf = instrument.field_of_kind("role")
    if rf is None or rf.id not in frame.columns:
        raise DataError("the export has one block of columns per role (items "
                        f"{', '.join(sorted(raw.role_columns)[:3])} ...) but no role column to choose the block; "
                        "map the role field (--mapping column,role)")
    role_name = map_cells(frame[rf.id], lambda v: rf.name_for(rf.code_for(v)) if rf.code_for(v) is not None else None)
    out = frame.copy()
    n_other = 0
    tokens = {t.lower() for t in MISSING_TOKENS}
    for tid, by_role in raw.role_columns.items():
        here = {r: (tid if c == column_map.get(tid) else c) for r, c in by_role.items()}
        vals = pd.Series(np.nan, index=out.index, dtype=object)
        for r, c in here.items():
            mine = (role_name == r).to_numpy()
            vals[mine] = frame.loc[mine, c].astype(object)
            other = ~mine & role_name.notna().to_numpy()
            answered = map_cells(frame.loc[other, c], lambda v: not _is_missing_cell(v, tokens))
            n_other += int(answered.sum())
        out[tid] = vals
        out = out.drop(columns=[c for r, c in here.items() if c != tid])
        column_map[tid] = " | ".join(f"{r}: {c}" for r, c in by_role.items())
    n_norole = int(role_name.isna().sum())
    raw.notes.append(f"role-split export: {len(raw.role_columns)} item(s) read from the block of each "
                     f"respondent's role ({', '.join(sorted({r for d in raw.role_columns.values() for r in d}))})")
    if n_other:
        raw.notes.append(f"{n_other} answer(s) in the other role's block ignored")
    if n_norole:
        raw.notes.append(f"{n_norole} respondent(s) without a readable role: their role-split items are missing")
    return out


def _rename(frame: pd.DataFrame, assigned: dict[str, str], raw: _Raw) -> pd.DataFrame:
    inv = {col: tid for tid, col in assigned.items()}
    taken = set(assigned)
    new = []
    for c in frame.columns:
        if c in inv:
            new.append(inv[c])
        elif c in taken:
            new.append(f"{c}.orig")        # an unmapped column that carries a mapped id's name
        else:
            new.append(c)
    out = frame.copy()
    out.columns = new
    # standard names for platform metadata when the instrument has no such field
    for kind in ("duration", "id"):
        if kind in out.columns:
            continue
        srcs = [c for c in frame.columns if f"@{kind}" in raw.keys.get(c, []) and c not in inv]
        if srcs:
            out = out.rename(columns={srcs[0]: kind})
    raw.value_labels = {inv.get(k, k): v for k, v in raw.value_labels.items()}
    return out


def _codes_from_text(frame: pd.DataFrame, instrument: Instrument, raw: _Raw,
                     column_map: dict[str, str]) -> pd.DataFrame:
    """Option text → codes (scale anchors for items, options for fields); Wenjuanxing option numbers."""
    anchors = {**{_norm_text(k): v for k, v in instrument.anchors("en").items()},
               **{_norm_text(k): v for k, v in instrument.anchors("zh").items()}}
    codes = [p.code for p in instrument.scale]
    n_text = 0
    out = frame.copy()
    for it in instrument.item_ids():
        col = out[it]
        if _is_text(col):
            mapped = map_cells(col, lambda v: anchors.get(_norm_text(v), v) if isinstance(v, str) else v)
            if not mapped.equals(col):
                n_text += 1
            num = _soft_numeric(map_cells(mapped, lambda v: str(v) if isinstance(v, (int, np.integer)) else v))
            out[it] = num if pd.api.types.is_numeric_dtype(num) else map_cells(num, _number_or_text).astype(object)
    if n_text:
        raw.notes.append(f"option text mapped to scale codes in {n_text} item column(s)")
    if raw.wjx and n_text == 0 and codes != list(range(1, len(codes) + 1)):
        # by-option-number export: sequence numbers 1..k stand for the k scale points in order
        pos = {float(i + 1): float(c) for i, c in enumerate(codes)}
        for it in instrument.item_ids():
            if pd.api.types.is_numeric_dtype(out[it]):
                out[it] = map_cells(out[it], lambda v: pos.get(v, v))
        raw.notes.append("Wenjuanxing option numbers 1.." + str(len(codes)) + " mapped to scale codes " +
                         ", ".join(map(str, codes)))
    for f in instrument.fields:
        if f.id in out.columns and f.options and _is_text(out[f.id]):
            opts = _option_lookup(f)
            out[f.id] = _soft_numeric(map_cells(out[f.id],
                lambda v: str(opts.get(_norm_text(v), v)) if isinstance(v, str) else v))
    return out
