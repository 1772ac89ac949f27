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

The input file is only ever opened for reading.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import DataError, InputFileError, OptionError
from .instrument import Instrument

__all__ = ["Responses", "read_responses", "read_mapping", "validate_responses", "MISSING_TOKENS",
           "REVERSE_MARKER"]

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


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------

def read_responses(path, *, instrument: Instrument | None = None, mapping=None,
                   sheet: str | int | None = None) -> Responses:
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
    variable label); by the item's Chinese or English wording contained in the header.
    """
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
        frame, column_map = _map_columns(raw, instrument, explicit)
        if instrument is not None:
            frame = _codes_from_text(frame, instrument, raw, column_map)
    frame = frame.copy()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row") if frame.index.name != "row" else frame.index
    return Responses(data=frame, source_format=raw.source_format, column_map=column_map,
                     notes=tuple(raw.notes), value_labels=dict(raw.value_labels), path=str(p),
                     header_rows=raw.header_rows)


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
        msg = " ".join(str(err).split())
        raise InputFileError(f"data file {p.name!r} is not a readable table ({msg}); export it as CSV again") from None
    return table, notes


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


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
    try:
        table = pd.read_excel(p, sheet_name=0 if sheet is None else sheet, header=None, dtype=object,
                              engine=engine)
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


def _soft_numeric(col: pd.Series) -> pd.Series:
    """Convert a column of strings to numbers when every non-empty cell is a number."""
    if col.dtype != object and not pd.api.types.is_string_dtype(col):
        return col
    s = col.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    nonempty = s[s.map(lambda v: not (v is None or v == "" or (isinstance(v, float) and math.isnan(v))))]
    if nonempty.empty:
        return pd.Series(np.nan, index=col.index, dtype=float)
    num = pd.to_numeric(nonempty, errors="coerce")
    if num.isna().any():
        return s
    out = pd.Series(np.nan, index=col.index, dtype=float)
    out.loc[nonempty.index] = num.astype(float)
    return out


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
    empty = body.apply(lambda r: all(not str(v).strip() for v in r), axis=1)
    if empty.any():
        notes.append(f"skipped {int(empty.sum())} empty row(s)")
        body = body.loc[~empty]
    keys = {n: [h.strip(), *extra] for n, h, extra in zip(names, header, keys_extra)}
    wjx = sum(m in names for m in _WJX_META) >= 3 and "序号" in names
    if wjx:
        source_format = "wenjuanxing"
        notes.append("Wenjuanxing (问卷星) export: metadata columns " +
                     ", ".join(m for m in _WJX_META if m in names))
    frame = pd.DataFrame({n: _soft_numeric(body[n]) for n in names}, index=body.index)
    if is_qualtrics and "Finished" in frame.columns:
        unfinished = frame["Finished"].astype(str).str.strip().str.lower().isin(["0", "0.0", "false"])
        if unfinished.any():
            notes.append(f"{int(unfinished.sum())} response(s) with Finished = 0 kept; filter them if the "
                         "study uses completed responses only")
    raw = _Raw(frame=frame, keys=keys, source_format=source_format, notes=notes, header_rows=header_rows,
               wjx=wjx)
    _standard_fields(raw)
    return raw


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
        if (col == "所用时间" or "duration" in low or col.lower().startswith("duration (in seconds)")
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


def _norm_id(s: str) -> str:
    return re.sub(r"[\s_\-.]+", "", s).lower()


_PUNCT = re.compile(r"[\s\u3000.,;:!?'\"“”‘’。，；：！？、()（）\[\]【】《》<>…—–\-_/\\|*]+")


def _norm_text(s: str) -> str:
    return _PUNCT.sub("", s).lower()


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
    return best


def _map_columns(raw: _Raw, instrument: Instrument | None, explicit: dict[str, str]):
    frame = raw.frame
    cols = list(frame.columns)
    targets: list[tuple[str, object]] = []
    if instrument is not None:
        targets = [(it.id, it) for it in instrument.items()] + [(f.id, f) for f in instrument.fields]
    target_ids = {t for t, _ in targets}
    assigned: dict[str, str] = {}      # target id -> column
    used: set[str] = set()

    def take(tid: str, col: str, how: str) -> None:
        if tid in assigned:
            return
        if col in used:
            return
        assigned[tid] = col
        used.add(col)

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
    # 5. wording contained in the header (longest wording wins per column)
    best_for_col: dict[str, tuple[int, str]] = {}
    for c in cols:
        if c in used:
            continue
        htexts = _header_texts(raw.keys[c])
        for tid, obj in targets:
            if tid in assigned:
                continue
            score = _text_match(_wording(obj), htexts)
            if score and score > best_for_col.get(c, (0, ""))[0]:
                best_for_col[c] = (score, tid)
    by_target: dict[str, list[str]] = {}
    for c, (_, tid) in best_for_col.items():
        by_target.setdefault(tid, []).append(c)
    for tid, hits in by_target.items():
        if len(hits) > 1:
            raise DataError(f"item {tid} matches columns {', '.join(map(repr, hits[:3]))} by its wording; "
                            "give --mapping to choose one")
        take(tid, hits[0], "text")
    # unmatched items are errors; unmatched fields are notes
    items = instrument.item_ids()
    missing = [t for t in items if t not in assigned]
    if missing:
        free = [c for c in cols if c not in used] or cols
        close = difflib.get_close_matches(missing[0], free, n=3, cutoff=0)
        more = f" (and {len(missing) - 1} more item(s): {', '.join(missing[1:6])})" if len(missing) > 1 else ""
        raise DataError(f"item {missing[0]} of instrument {instrument.id!r} matches no data column{more}; "
                        f"closest columns: {', '.join(map(repr, close))}; rename the column or give --mapping "
                        "(column,item_id)")
    absent = [f.id for f in instrument.fields if f.id not in assigned]
    if absent:
        raw.notes.append(f"field(s) not in the data: {', '.join(absent)}")
    raw.notes.append(f"mapped {len(items)} item(s) and {len(instrument.fields) - len(absent)} field(s) "
                     "to data columns")
    renamed = _rename(frame, assigned, raw)
    order = [t for t, _ in targets if t in assigned]
    rest = [c for c in renamed.columns if c not in order]
    return renamed[order + rest], dict(assigned)


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


def _option_lookup(f) -> dict[str, int]:
    """Normalised option label / name / alias → code for a field with options."""
    out: dict[str, int] = {}
    for p in f.options:
        for lab in (p.label_en, p.label_zh, getattr(p, "name", ""), *getattr(p, "aliases", ())):
            if lab and _norm_text(lab):
                out.setdefault(_norm_text(lab), p.code)
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
            mapped = col.map(lambda v: anchors.get(_norm_text(v), v) if isinstance(v, str) else v)
            if not mapped.equals(col):
                n_text += 1
            num = _soft_numeric(mapped.map(lambda v: str(v) if isinstance(v, (int, np.integer)) else v))
            out[it] = num if pd.api.types.is_numeric_dtype(num) else num.map(_number_or_text).astype(object)
    if n_text:
        raw.notes.append(f"option text mapped to scale codes in {n_text} item column(s)")
    if raw.wjx and n_text == 0 and codes != list(range(1, len(codes) + 1)):
        # by-option-number export: sequence numbers 1..k stand for the k scale points in order
        pos = {float(i + 1): float(c) for i, c in enumerate(codes)}
        for it in instrument.item_ids():
            if pd.api.types.is_numeric_dtype(out[it]):
                out[it] = out[it].map(lambda v: pos.get(v, v))
        raw.notes.append("Wenjuanxing option numbers 1.." + str(len(codes)) + " mapped to scale codes " +
                         ", ".join(map(str, codes)))
    for f in instrument.fields:
        if f.id in out.columns and f.options and _is_text(out[f.id]):
            opts = _option_lookup(f)
            out[f.id] = _soft_numeric(out[f.id].map(
                lambda v: str(opts.get(_norm_text(v), v)) if isinstance(v, str) else v))
    return out


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

def _missing_sets(instrument: Instrument) -> tuple[set[str], set[float]]:
    tokens = {t.lower() for t in MISSING_TOKENS}
    numbers = set(MISSING_NUMBERS)
    for code, _meaning in instrument.missing_codes:
        tokens.add(str(code).strip().lower())
        try:
            numbers.add(float(code))
        except ValueError:
            pass
    return tokens, numbers


def _is_missing_cell(v, tokens: set[str]) -> bool:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return True
    return isinstance(v, str) and v.strip().lower() in tokens


def _where(row, responses_header: int | None) -> str:
    if responses_header is None:
        return f"row {row}"
    return f"row {row} (line {int(row) + responses_header} of the file)"


def validate_responses(responses, instrument: Instrument, *, allow_duplicate_ids: bool = False) -> pd.DataFrame:
    """Check responses against the instrument and return clean numeric item data.

    Parameters
    ----------
    responses : Responses or pandas.DataFrame
        From :func:`read_responses` (with ``instrument=``), or a frame whose columns are item ids.
    instrument : Instrument
    allow_duplicate_ids : bool, default False
        Accept repeated respondent ids (``id`` field) instead of raising.

    Returns
    -------
    pandas.DataFrame
        Same rows (index ``row``: 1-based data row), item columns as floats (missing = NaN; reverse-keyed
        items recoded as ``min + max - x``), fields (duration in seconds, attention checks, role as codes),
        then the other columns unchanged. ``attrs["reverse_recoded"]`` lists the items recoded and
        ``attrs["validation"]`` counts the missing codes set to NaN. Validating this output again does not
        recode again (it is recognised by ``attrs`` or by the ``_reverse_recoded`` column written with it).

    Raises
    ------
    DataError
        No rows; an item column is absent; text in a numeric item (names column and row); a value outside
        the scale (names column, row and value); duplicate respondent ids.
    """
    header = responses.header_rows if isinstance(responses, Responses) else None
    df = responses.data if isinstance(responses, Responses) else responses
    if not isinstance(df, pd.DataFrame):
        raise DataError("responses must be a Responses object or a pandas DataFrame")
    if df.shape[0] == 0:
        raise DataError("the data have no respondent rows; check the export (were only headers exported?)")
    items = instrument.item_ids()
    absent = [i for i in items if i not in df.columns]
    if absent:
        close = difflib.get_close_matches(absent[0], [str(c) for c in df.columns], n=3, cutoff=0)
        raise DataError(f"item {absent[0]} is not a data column ({len(absent)} item(s) absent); closest columns: "
                        f"{', '.join(map(repr, close))}; read the file with read_responses(instrument=...) or "
                        "give a mapping")
    already = tuple(df.attrs.get("reverse_recoded", ()) or ())
    marked = REVERSE_MARKER in df.columns
    if marked and not already:
        vals = df[REVERSE_MARKER].dropna().astype(str)
        already = tuple(x for x in (vals.iloc[0].split(";") if len(vals) else []) if x)
    done_before = bool(df.attrs.get("validated")) or marked

    out = df.copy()
    if out.index.name != "row":
        out.index = pd.RangeIndex(1, len(out) + 1, name="row")
    tokens, numbers = _missing_sets(instrument)
    anchors = {**{_norm_text(k): v for k, v in instrument.anchors("en").items()},
               **{_norm_text(k): v for k, v in instrument.anchors("zh").items()}}
    codes = sorted({float(p.code) for p in instrument.scale})
    anchor_hint = f"{instrument.scale[0].label_zh}..{instrument.scale[-1].label_zh}" if instrument.scale else ""
    lo, hi = codes[0], codes[-1]
    n_missing_codes = 0
    for it in items:
        col = out[it]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            vals = []
            for row, v in col.items():
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    vals.append(np.nan)
                    continue
                s = str(v).strip()
                if s.lower() in tokens:
                    vals.append(np.nan)
                    n_missing_codes += s != ""
                    continue
                if _norm_text(s) in anchors:
                    vals.append(float(anchors[_norm_text(s)]))
                    continue
                try:
                    vals.append(float(s))
                except ValueError:
                    raise DataError(f"item {it}: {_where(row, header)} holds text {s!r} where a code "
                                    f"{lo:g}..{hi:g} or a scale label ({anchor_hint}) is expected; correct the "
                                    "cell, or declare it in the instrument's missing_codes") from None
            x = pd.Series(vals, index=out.index, dtype=float)
        else:
            x = col.astype(float)
        miss = x.isin(numbers) & ~x.isin(codes)
        n_missing_codes += int(miss.sum())
        x = x.mask(miss)
        bad = x.notna() & ~x.isin(codes)
        if bad.any():
            row = bad.idxmax()
            more = f" (and {int(bad.sum()) - 1} more cell(s))" if bad.sum() > 1 else ""
            raise DataError(f"item {it}: value {x[row]:g} in {_where(row, header)}{more} is outside the scale "
                            f"{lo:g}..{hi:g}; correct the data, or add the code to the instrument's "
                            "missing_codes if it means no answer")
        out[it] = x
    # fields
    unreadable: dict[str, int] = {}
    for f in instrument.fields:
        if f.id not in out.columns:
            continue
        col = out[f.id]
        if f.kind == "duration":
            out[f.id] = col.map(_parse_duration).astype(float).mask(lambda s: s < 0)
        elif f.kind == "numeric":
            conv = col.map(lambda v: np.nan if _is_missing_cell(v, tokens) else v)
            x = pd.to_numeric(conv, errors="coerce").astype(float)
            x = x.mask(x.isin(numbers))
            if (x.isna() & conv.notna()).any():
                unreadable[f.id] = int((x.isna() & conv.notna()).sum())
            lo_f, hi_f = getattr(f, "minimum", None), getattr(f, "maximum", None)
            bad = x.notna() & (((x < lo_f) if lo_f is not None else False) | ((x > hi_f) if hi_f is not None else False))
            if np.any(bad):
                row = bad.idxmax()
                raise DataError(f"field {f.id}: value {x[row]:g} in {_where(row, header)} is outside "
                                f"{lo_f if lo_f is not None else '-inf'}..{hi_f if hi_f is not None else 'inf'}; "
                                "correct the data or the field's minimum/maximum")
            out[f.id] = x
        elif f.options or f.kind in ("attention", "role", "categorical", "consent"):
            opts = {k: float(v) for k, v in _option_lookup(f).items()}
            valid = {float(p.code) for p in f.options} | ({float(f.correct)} if f.correct is not None else set())

            def conv(v, opts=opts, valid=valid):
                if _is_missing_cell(v, tokens):
                    return np.nan
                s = _cell_text(v).strip()
                if _norm_text(s) in opts:
                    return opts[_norm_text(s)]
                try:
                    num = float(s)
                except ValueError:
                    return s                      # kept as given: an attention check counts it as wrong
                return np.nan if (num in numbers and num not in valid) else num
            conv_col = col.map(conv)
            numeric = pd.to_numeric(conv_col, errors="coerce")
            out[f.id] = numeric.astype(float) if (numeric.notna() | conv_col.isna()).all() else conv_col
    # duplicate respondent ids
    idf = instrument.field_of_kind("id")
    id_col = idf.id if idf is not None and idf.id in out.columns else ("id" if "id" in out.columns else None)
    if id_col is not None:
        ids = out[id_col]
        dup = ids.notna() & (ids.astype(str).str.strip() != "") & ids.duplicated(keep=False)
        if pd.api.types.is_float_dtype(ids) and ids.dropna().map(float.is_integer).all():
            out[id_col] = ids = ids.astype("Int64")
        if dup.any() and not allow_duplicate_ids:
            first = ids[dup].iloc[0]
            first = int(first) if isinstance(first, (int, np.integer)) else first
            rows = [str(r) for r in ids.index[dup & (ids == first)]]
            raise DataError(f"respondent id {first!r} occurs in rows {', '.join(rows)} "
                            f"({int(dup.sum())} row(s) share an id); remove the repeats or pass "
                            "allow_duplicate_ids=True")
    # reverse-keyed items: exactly once
    rev = instrument.reverse_items()
    if done_before:
        recoded = tuple(already)
    else:
        for it in rev:
            out[it] = lo + hi - out[it]
        recoded = tuple(rev)
    if REVERSE_MARKER in out.columns:
        out = out.drop(columns=REVERSE_MARKER)
    out.attrs = dict(df.attrs)
    out.attrs["reverse_recoded"] = recoded
    out.attrs["validated"] = True
    out.attrs["scale"] = (lo, hi)
    out.attrs["validation"] = {"missing_codes_set_missing": int(n_missing_codes),
                               "unreadable_field_cells": unreadable,
                               "reverse_recoded": list(recoded), "n": int(len(out))}
    return out
