"""Readers per platform: CSV/TSV (UTF-8, UTF-16, GBK), Excel, SPSS, Stata, Qualtrics and Wenjuanxing exports
into a raw table (column names, match keys per column, string or numeric cells), before any mapping.

Used by :mod:`sem_cocreate.survey.responses` (mapping) and :mod:`sem_cocreate.survey.validation`; the
public entry point is :func:`sem_cocreate.survey.responses.read_responses`.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import InputFileError


#: Cell contents that always mean "no answer" (besides the instrument's own missing codes).
MISSING_TOKENS: tuple[str, ...] = ("", "-", "N/A", "NA", "n/a", "na", "NaN", "nan", "(跳过)", "(空)",
                                   "（跳过）", "（空）", "-99", "99", "-2", "-3")
#: Numeric codes that mean "no answer" when they lie outside the response scale.
MISSING_NUMBERS: tuple[float, ...] = (-99.0, 99.0, -2.0, -3.0)
#: Column written next to recoded data (``cleaned_data.csv``) so that re-reading it never recodes again.
REVERSE_MARKER = "_reverse_recoded"

_TEXT_EXT = {".csv", ".tsv", ".txt", ".dat"}
_EXCEL_EXT = {".xlsx", ".xlsm", ".xls"}

_WJX_META = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP")
_WJX_QUESTION = re.compile(r"^\s*(?:第\s*)?(\d+)\s*(?:题)?\s*(?:[、.．:：]\s*(?P<stem>.*?))?\s*"
                           r"(?:[(（](?P<sub>.*)[)）])?\s*$", re.S)
_DURATION_NAMES = {"用时", "答题用时", "答题时长", "作答时长", "duration", "duration_seconds", "time_taken"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(小时|时|分钟|分|秒|h|m|s)", re.I)


@dataclass(frozen=True)
class Responses:
    """Survey responses as read from an export, with where every column came from.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per respondent; index ``row`` = the 1-based data row in the file (first respondent = 1).
        Item columns are named by item id, fields by field id (``role``, ``duration`` in seconds, attention
        checks, ``id``), then the file's other columns under their own names.
    source_format : str
        ``csv``, ``xlsx``, ``xls``, ``sav``, ``dta``, ``qualtrics`` or ``wenjuanxing``.
    column_map : dict
        Item / field id → the original column name in the file.
    notes : tuple of str
        What the reader detected or converted (encoding, header rows, option text mapped, ...).
    value_labels : dict
        Column (after renaming) → {code: label}, from SPSS/Stata value labels.
    path : str
        The file read.
    header_rows : int
        Lines above the first data row (1, or 3 for a Qualtrics export); line in file = row + header_rows.
    """

    data: pd.DataFrame
    source_format: str
    column_map: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    value_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    path: str = ""
    header_rows: int = 1


@dataclass
class _Raw:
    """A table before mapping: column names, per-column match keys, string or numeric cells."""

    frame: pd.DataFrame                      # columns = output names (unique), index 1..n
    keys: dict[str, list[str]]               # column -> strings that may identify it (name, label, ImportId)
    source_format: str
    notes: list[str]
    value_labels: dict[str, dict] = field(default_factory=dict)
    header_rows: int = 1
    wjx: bool = False
    role_columns: dict[str, dict[str, str]] = field(default_factory=dict)   # item -> {role: column}



def _decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode file bytes: BOMs, then UTF-8, then GBK / GB18030, then charset-normalizer."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for enc in ("utf-8", "gbk", "gb18030"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(data).best()
    except Exception:  # pragma: no cover - library missing or failing
        best = None
    if best is None:
        raise InputFileError(f"data file {name!r}: cannot tell its text encoding; save it as UTF-8 CSV")
    return str(best), best.encoding


def _read_text_table(p: Path) -> tuple[pd.DataFrame, list[str]]:
    text, enc = _decode(p.read_bytes(), p.name)
    notes = [f"read {p.name} as text, encoding {enc}"]
    first = text.split("\n", 1)[0]
    try:
        sep = csv.Sniffer().sniff(first, delimiters=",\t;").delimiter
    except csv.Error:
        sep = ","
    if sep != ",":
        notes.append(f"column separator {sep!r}")
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as err:
        if "Calling read(nbytes) on source failed" in str(err):
            # the text is in memory and cannot fail to read: a Ctrl-C interrupted the parser (seen: a Ctrl-C
            # during the import ended as "not a readable table", exit 2)
            raise KeyboardInterrupt from None
        msg = " ".join(str(err).split())
        raise InputFileError(f"data file {p.name!r} is not a readable table ({msg}); export it as CSV again") from None
    return table, notes


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (pd.Timestamp, datetime.datetime)):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (datetime.time, datetime.date)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return str(v.total_seconds())
    return str(v)


def _read_xlsx(p: Path, *, sheet) -> pd.DataFrame:
    """Cell values of one sheet of an .xlsx workbook, read with openpyxl (read-only, values only).

    openpyxl gives an error cell as its text (``#N/A``, ``#DIV/0!``), which pandas' reader turns into
    NaN without a word; kept as text, :func:`_excel_errors_to_missing` counts it in a note.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as err:  # zip / xml corruption, not a workbook
        raise InputFileError(f"data file {p.name!r} cannot be read as Excel ({type(err).__name__}); "
                             "save it again as .xlsx") from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in wb.sheetnames):
            ws = wb.worksheets[int(sheet)]
        else:
            ws = wb[sheet]
    except (KeyError, IndexError):
        raise InputFileError(f"data file {p.name!r} has no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)}); "
                             "give sheet= by name or number") from None
    try:
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
    except Exception as err:  # noqa: BLE001 - a damaged sheet
        raise InputFileError(f"data file {p.name!r} cannot be read as Excel ({type(err).__name__}); "
                             "save it again as .xlsx") from None
    finally:
        wb.close()
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [None] * (width - len(r)) for r in rows], dtype=object)


def _read_excel(p: Path, *, sheet) -> pd.DataFrame:
    head = p.read_bytes()[:8]
    if head.startswith(b"PK"):
        engine = "openpyxl"
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        engine = "xlrd"
        try:
            import xlrd  # noqa: F401
        except ImportError:
            raise InputFileError(f"data file {p.name!r} is an old Excel .xls; pip install xlrd, or save it as "
                                 ".xlsx or CSV") from None
    else:
        # some platforms name a CSV or tab-separated text ".xls"
        table, _ = _read_text_table(p)
        return table
    if engine == "openpyxl":
        return _read_xlsx(p, sheet=sheet).map(_cell_text)
    try:
        table = pd.read_excel(p, sheet_name=0 if sheet is None else sheet, header=None, dtype=object,
                              engine=engine, keep_default_na=False, na_filter=False)
    except ValueError as err:
        if "not found" in str(err) or "out of range" in str(err) or "index" in str(err).lower():
            raise InputFileError(f"data file {p.name!r} has no sheet {sheet!r}; give sheet= by name or number") from None
        raise InputFileError(f"data file {p.name!r} cannot be read as Excel ({err}); save it again as .xlsx") from None
    except Exception as err:  # zip / xml corruption
        raise InputFileError(f"data file {p.name!r} cannot be read as Excel ({type(err).__name__}); "
                             "save it again as .xlsx") from None
    return table.map(_cell_text)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = n.strip() or f"column{i + 1}"
        if n in seen:
            seen[n] += 1
            n2 = f"{n}.{seen[n]}"
        else:
            seen[n] = 0
            n2 = n
        out.append(n2)
    return out


def _is_import_id(cell: str) -> bool:
    s = cell.strip()
    if not s.startswith("{"):
        return False
    try:
        return "ImportId" in json.loads(s)
    except ValueError:
        return False


def _is_text(col: pd.Series) -> bool:
    """True for object and string columns (pandas 3 reads text as the ``str`` dtype)."""
    return pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)


def _number_or_text(v):
    """A cell as float when it reads as a number, else as given (e.g. ``(跳过)``)."""
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return v.strip()
    return v


def map_cells(col: pd.Series, fn) -> pd.Series:
    """``col.map(fn)`` for a pure per-cell function, evaluated once per distinct value (survey columns hold
    a handful of codes; 100,000 respondents cost a few calls, not 100,000). Same values and dtype as
    ``Series.map``; columns of other than text or numbers (where 1 and 1.0 or True would share a
    hash) are mapped cell by cell."""
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if len(col) < 64 or kind not in ("string", "floating", "integer", "mixed-integer-float", "empty"):
        return col.map(fn)
    return _map_distinct(col, lambda uniq: [fn(u) for u in uniq])


def _map_distinct(col: pd.Series, fn_many) -> pd.Series:
    """``fn_many(distinct values) -> their results``, spread back over ``col`` (dtype inferred)."""
    codes, uniq = pd.factorize(col, use_na_sentinel=False)
    res = np.empty(len(uniq), dtype=object)
    res[:] = list(fn_many(uniq))
    return pd.Series(res[codes], index=col.index, name=col.name).infer_objects()


def _soft_numeric(col: pd.Series) -> pd.Series:
    """Convert a column of strings to numbers when every non-empty cell is a number."""
    if col.dtype != object and not pd.api.types.is_string_dtype(col):
        return col
    s = map_cells(col.astype(object), lambda v: v.strip() if isinstance(v, str) else v).astype(object)
    nonempty = s[map_cells(s, lambda v: not (v is None or v == "" or (isinstance(v, float) and math.isnan(v))))
                 .astype(bool)]
    if nonempty.empty:
        return pd.Series(np.nan, index=col.index, dtype=float)
    num = _map_distinct(nonempty, lambda uniq: pd.to_numeric(pd.Series(uniq, dtype=object), errors="coerce")
                        .to_numpy(dtype=float)).astype(float)      # parse each distinct text once
    if num.isna().any():
        return s
    out = pd.Series(np.nan, index=col.index, dtype=float)
    out.loc[nonempty.index] = num.astype(float)
    return out


def _soft_numeric_table(body: pd.DataFrame) -> pd.DataFrame:
    """:func:`_soft_numeric` of every column of an all-text table at once: each distinct cell text of the
    whole table is stripped and parsed once (``pd.to_numeric``), then every column is numbers (empty cells
    missing) when all its non-empty cells are, else its stripped texts. Same values as column by column."""
    if body.shape[1] == 0 or body.shape[0] == 0:
        return pd.DataFrame({n: _soft_numeric(body[n]) for n in body.columns}, index=body.index)
    V = body.to_numpy(dtype=object)
    codes, uniq = pd.factorize(V.ravel(), use_na_sentinel=False)
    if not all(isinstance(u, str) for u in uniq):          # (not an all-text table: column by column)
        return pd.DataFrame({n: _soft_numeric(body[n]) for n in body.columns}, index=body.index)
    stripped = np.array([u.strip() for u in uniq], dtype=object)
    empty_u = stripped == ""
    num_u = pd.to_numeric(pd.Series(stripped, dtype=object), errors="coerce").to_numpy(dtype=float)
    C = codes.reshape(V.shape)
    empty = empty_u[C]
    text = ~empty & np.isnan(num_u[C])                    # a non-empty cell that is not a number
    numeric_col = ~text.any(axis=0)
    out = {}
    for j, name in enumerate(body.columns):
        if numeric_col[j]:
            out[name] = pd.Series(np.where(empty[:, j], np.nan, num_u[C[:, j]]), index=body.index, dtype=float)
        else:
            out[name] = pd.Series(stripped[C[:, j]], index=body.index, dtype=object)
    return pd.DataFrame(out, index=body.index)


def _table_to_raw(table: pd.DataFrame, *, source_format: str, notes: list[str]) -> _Raw:
    """Header detection (plain, Qualtrics 3-row, Wenjuanxing) on an all-string table."""
    if table.shape[0] == 0:
        raise InputFileError("data file has no header row; export it again with column names")
    table = table.fillna("").astype(str)
    header = [str(c) for c in table.iloc[0]]
    header_rows = 1
    keys_extra: list[list[str]] = [[] for _ in header]
    is_qualtrics = (table.shape[0] >= 3 and
                    sum(_is_import_id(c) for c in table.iloc[2]) >= max(1, table.shape[1] // 2))
    if is_qualtrics:
        header_rows = 3
        for j in range(table.shape[1]):
            text2 = str(table.iat[1, j]).strip()
            imp = str(table.iat[2, j]).strip()
            try:
                imp_id = str(json.loads(imp).get("ImportId", "")) if imp.startswith("{") else ""
            except ValueError:
                imp_id = ""
            keys_extra[j] = [k for k in (imp_id, text2) if k]
        source_format = "qualtrics"
        notes.append("Qualtrics export: 3 header rows (names, question text, ImportId); data from line 4")
    names = _unique_names(header)
    body = table.iloc[header_rows:].reset_index(drop=True)
    body.columns = names
    # drop rows that are entirely empty (trailing Excel rows), keep file row numbers
    body.index = pd.RangeIndex(1, len(body) + 1, name="row")
    empty = (pd.DataFrame({c: map_cells(body[c], lambda v: not str(v).strip()) for c in body.columns},
                          index=body.index).astype(bool).all(axis=1) if body.shape[1]
             else pd.Series(True, index=body.index))
    if empty.any():
        notes.append(f"skipped {int(empty.sum())} empty row(s)")
        body = body.loc[~empty]
    body = _excel_errors_to_missing(body, notes)
    keys = {n: [h.strip(), *extra] for n, h, extra in zip(names, header, keys_extra)}
    wjx = sum(m in names for m in _WJX_META) >= 3 and "序号" in names
    if wjx:
        source_format = "wenjuanxing"
        notes.append("Wenjuanxing (问卷星) export: metadata columns " +
                     ", ".join(m for m in _WJX_META if m in names))
    frame = _soft_numeric_table(body)
    if is_qualtrics and "Finished" in frame.columns:
        unfinished = frame["Finished"].astype(str).str.strip().str.lower().isin(["0", "0.0", "false"])
        if unfinished.any():
            notes.append(f"{int(unfinished.sum())} response(s) with Finished = 0 kept; filter them if the "
                         "study uses completed responses only")
    raw = _Raw(frame=frame, keys=keys, source_format=source_format, notes=notes, header_rows=header_rows,
               wjx=wjx)
    _standard_fields(raw)
    return raw


# the error values a spreadsheet writes into a cell whose formula failed (Excel, LibreOffice, WPS)
EXCEL_ERRORS = frozenset({"#N/A", "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#SPILL!",
                          "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!",
                          "#UNKNOWN!", "Err:502", "Err:504", "Err:511"})


def _excel_errors_to_missing(body: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Spreadsheet error cells (``#N/A``, ``#DIV/0!``, ...) become empty (missing), counted in a note
    that names the columns: they are failed formulas, not answers."""
    hit = body.apply(lambda col: col.astype(str).str.strip().isin(EXCEL_ERRORS))
    k = int(hit.to_numpy().sum())
    if not k:
        return body
    per = hit.sum()
    per = per[per > 0].sort_values(ascending=False)
    kinds = sorted({str(v).strip() for v in body.to_numpy()[hit.to_numpy()]})
    cols = ", ".join(f"{c} ({int(v)})" for c, v in per.head(8).items()) + (" ..." if len(per) > 8 else "")
    notes.append(f"{k} spreadsheet error cell(s) ({', '.join(kinds)}) read as missing, in {int(hit.any(axis=1).sum())} "
                 f"row(s); columns: {cols}; check the formulas in the file")
    return body.mask(hit, "")


def _parse_duration(v) -> float:
    """``508秒`` / ``8分28秒`` / ``1小时2分3秒`` / ``508`` → seconds (NaN when unreadable)."""
    if v is None:
        return np.nan
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    s = str(v).strip()
    if not s:
        return np.nan
    try:
        return float(s)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(s)
    if not parts or _DURATION_PART.sub("", s).strip():
        return np.nan
    factor = {"小时": 3600, "时": 3600, "h": 3600, "分钟": 60, "分": 60, "m": 60, "秒": 1, "s": 1}
    return float(sum(float(num) * factor[unit.lower() if unit.isascii() else unit] for num, unit in parts))


def _standard_fields(raw: _Raw) -> None:
    """Record platform metadata columns as keys of the standard fields (duration, id)."""
    f = raw.frame
    for col, k in raw.keys.items():
        low = [x.lower() for x in k]
        letters = re.sub(r"[^a-z]", "", col.lower())
        if (col == "所用时间" or "duration" in low or letters in ("durationinseconds", "duration")
                or col.strip().lower() in _DURATION_NAMES):
            k.append("@duration")
            if col == "所用时间" or _is_text(f[col]):
                before = f[col].notna() & (f[col].astype(str).str.strip() != "")
                f[col] = f[col].map(_parse_duration)
                bad = int((before & f[col].isna()).sum())
                raw.notes.append(f"{col}: durations converted to seconds" +
                                 (f" ({bad} unreadable cell(s) set missing)" if bad else ""))
        if col == "序号" or "_recordid" in low or col.lower() in ("responseid", "response id"):
            k.append("@id")
        if letters == "status":                     # Qualtrics: 0 IP address, 1 Survey Preview, ...
            k.append("@status")
        if letters in ("finished",):
            k.append("@finished")
        if letters == "distributionchannel":        # Qualtrics: anonymous, email, preview, test, ...
            k.append("@channel")


def _read_spss(p: Path) -> _Raw:
    import pyreadstat

    try:
        if p.suffix.lower() == ".por":
            df, meta = pyreadstat.read_por(str(p), apply_value_formats=False)
        else:
            df, meta = pyreadstat.read_sav(str(p), apply_value_formats=False, user_missing=True)
    except Exception as err:
        raise InputFileError(f"data file {p.name!r} cannot be read as SPSS ({type(err).__name__}: {err}); "
                             "save it again from SPSS") from None
    notes = [f"read {p.name} with pyreadstat (SPSS), {meta.number_rows} rows"]
    missing = getattr(meta, "missing_ranges", None) or {}
    n_set = 0
    for col, ranges in missing.items():
        if col not in df.columns:
            continue
        x = pd.to_numeric(df[col], errors="coerce")
        hit = pd.Series(False, index=df.index)
        for r in ranges:
            if isinstance(r, dict):
                hit |= (x >= r["lo"]) & (x <= r["hi"])
            else:
                hit |= x == r
        if hit.any():
            n_set += int(hit.sum())
            df.loc[hit, col] = np.nan
    if n_set:
        notes.append(f"{n_set} SPSS user-missing value(s) set to missing")
    return _frame_to_raw(df, meta, "sav", notes)


def _read_stata(p: Path) -> _Raw:
    import pyreadstat

    try:
        df, meta = pyreadstat.read_dta(str(p), apply_value_formats=False)
    except Exception as err:
        raise InputFileError(f"data file {p.name!r} cannot be read as Stata ({type(err).__name__}: {err}); "
                             "save it again from Stata") from None
    notes = [f"read {p.name} with pyreadstat (Stata), {meta.number_rows} rows; Stata missing values set missing"]
    return _frame_to_raw(df, meta, "dta", notes)


def _frame_to_raw(df: pd.DataFrame, meta, fmt: str, notes: list[str]) -> _Raw:
    df = df.copy()
    df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    for c in df.columns:
        if _is_text(df[c]):
            df[c] = _soft_numeric(df[c])
    labels = getattr(meta, "column_names_to_labels", None) or {}
    keys = {c: [c] + ([labels[c]] if labels.get(c) else []) for c in df.columns}
    vlabels = {c: dict(v) for c, v in (getattr(meta, "variable_value_labels", None) or {}).items()}
    raw = _Raw(frame=df, keys=keys, source_format=fmt, notes=notes, value_labels=vlabels)
    _standard_fields(raw)
    return raw




def _norm_id(s: str) -> str:
    return re.sub(r"[\s_\-.]+", "", s).lower()


_PUNCT = re.compile(r"[\s\u3000.,;:!?'\"“”‘’。，；：！？、()（）\[\]【】《》<>…—–\-_/\\|*\ufffd]+")


def _norm_text(s: str) -> str:
    return _PUNCT.sub("", s).lower()


def _option_lookup(f) -> dict[str, int]:
    """Normalised option label / name / alias → code for a field with options."""
    out: dict[str, int] = {}
    for p in f.options:
        for lab in (p.label_en, p.label_zh, getattr(p, "name", ""), *getattr(p, "aliases", ())):
            if lab and _norm_text(lab):
                out.setdefault(_norm_text(lab), p.code)
    return out
