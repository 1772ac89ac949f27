"""Validation of responses against the instrument: item and field cells, scale range, missing codes,
duplicate ids, reverse-keyed items recoded exactly once (:func:`validate_responses`)."""

from __future__ import annotations

import difflib
import math
import re

import numpy as np
import pandas as pd

from ..exceptions import DataError, DataWarning
from .instrument import Instrument

from .readers import (MISSING_NUMBERS, MISSING_TOKENS, REVERSE_MARKER, Responses, _cell_text, _norm_text, map_cells,
                      _option_lookup, _parse_duration)

__all__ = ["validate_responses"]


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


_DATE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                   r"([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$|^\s*\d{1,2}[-月]\d{1,2}日?\s*$")


def _looks_like_date(v) -> bool:
    """A cell that Excel made into a date (``1900-01-02 00:00:00``, ``2026/1/2``, ``1月2日``, a datetime)."""
    import datetime as _dt

    if isinstance(v, (_dt.date, _dt.datetime, pd.Timestamp)):
        return True
    return isinstance(v, str) and bool(_DATE.match(v))


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
        the scale (names column, row and value); duplicate respondent ids; a cell of an attention,
        consent or role field that is no option code or label (names field, row and cell, and says when
        it looks like a date Excel made of a number). Such cells in other fields are set missing, counted
        in ``attrs["validation"]["notes"]`` and issued as a :class:`DataWarning`.
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
    # fields: cells are checked like item cells; an essential field (attention, consent, role) with a cell
    # that is no option is an error naming row and column, a non-essential one a counted note
    unreadable: dict[str, int] = {}
    field_notes: list[str] = []
    for f in instrument.fields:
        if f.id not in out.columns:
            continue
        col = out[f.id]
        if f.kind == "duration":
            out[f.id] = map_cells(col, _parse_duration).astype(float).mask(lambda s: s < 0)
        elif f.kind == "numeric":
            conv = map_cells(col, lambda v: np.nan if _is_missing_cell(v, tokens) else v)
            x = pd.to_numeric(conv, errors="coerce").astype(float)
            x = x.mask(x.isin(numbers))
            bad_cells = x.isna() & conv.notna()
            if bad_cells.any():
                unreadable[f.id] = int(bad_cells.sum())
                first = bad_cells.idxmax()
                n_dates = int(conv[bad_cells].map(_looks_like_date).sum())
                dates = f", {n_dates} of them dates (Excel turns numbers such as 2 into dates)" if n_dates else ""
                field_notes.append(f"field {f.id}: {int(bad_cells.sum())} cell(s) that are not numbers set missing"
                                   f"{dates}; first {_where(first, header)}: {_cell_text(conv[first])!r}")
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
            conv_col = map_cells(col, conv)
            numeric = pd.to_numeric(conv_col, errors="coerce")
            text_cells = numeric.isna() & conv_col.notna()
            if f.options and f.kind not in ("attention",):
                valid_opts = {float(p.code) for p in f.options}
                text_cells |= numeric.notna() & ~numeric.isin(valid_opts)
            if text_cells.any() and f.kind in ("attention", "consent", "role"):
                row = text_cells.idxmax()
                cell = _cell_text(col[row]).strip()
                hint = (" — it looks like a date: Excel turned a number into a date; format the column as "
                        "numbers and export again" if _looks_like_date(cell) else "")
                more = f" (and {int(text_cells.sum()) - 1} more cell(s))" if text_cells.sum() > 1 else ""
                codes_ = ", ".join(f"{p.code:g}" if isinstance(p.code, float) else str(p.code) for p in f.options)
                raise DataError(f"{f.kind} field {f.id}: {_where(row, header)} holds {cell!r}{more} where one of "
                                f"the option codes {codes_} or their labels is expected{hint}; correct the cell "
                                "(or declare it in the instrument's missing_codes)")
            if text_cells.any():
                row = text_cells.idxmax()
                field_notes.append(f"field {f.id}: {int(text_cells.sum())} cell(s) that are no option set missing; "
                                   f"first {_where(row, header)}: {_cell_text(col[row]).strip()!r}")
                unreadable[f.id] = int(text_cells.sum())
                numeric = numeric.mask(text_cells)
                conv_col = conv_col.mask(text_cells)
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
                            f"({int(dup.sum())} row(s) share an id); remove the repeated submissions from the "
                            "export (from Python, validate_responses(..., allow_duplicate_ids=True) keeps them)")
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
    if field_notes:
        import warnings as _w

        for note in field_notes:
            _w.warn(note, DataWarning, stacklevel=2)
    out.attrs["validation"] = {"missing_codes_set_missing": int(n_missing_codes),
                               "unreadable_field_cells": unreadable, "notes": field_notes,
                               "reverse_recoded": list(recoded), "n": int(len(out))}
    return out
