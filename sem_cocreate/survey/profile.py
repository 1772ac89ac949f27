"""The sample profile: who answered (role, platform, mode, task type, experience and other declared fields)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PROFILE_KINDS = ("role", "categorical", "numeric")
PROFILE_COLUMNS = ["field", "kind", "level", "code", "n", "share", "mean", "sd"]


def sample_profile(data: pd.DataFrame, instrument) -> pd.DataFrame:
    """Counts and shares of every categorical field the instrument declares; mean and SD of numeric ones.

    Parameters
    ----------
    data : pandas.DataFrame
        The analysed responses (after screening), one row per respondent, field columns as coded
        in the instrument (option codes or option names).
    instrument : Instrument
        Its ``fields`` of kind ``role`` and ``categorical`` (role, platform, mode, task type,
        gender, ...) are counted; fields of kind ``numeric`` (experience, age) are summarised.
        Identifiers, consent, attention checks and durations are screening fields and left out.

    Returns
    -------
    pandas.DataFrame
        One row per level of a categorical field (and a ``missing`` row when answers are missing),
        one row per numeric field: ``field``, ``kind``, ``level`` (the option's English label),
        ``code``, ``n``, ``share`` (of all analysed respondents), ``mean``, ``sd`` (numeric fields;
        ``sd`` with divisor n − 1).

    Notes
    -----
    The counts are R's ``table(x, useNA = "ifany")`` and the shares ``prop.table()`` of it; the SD
    is ``sd(x, na.rm = TRUE)``.

    Examples
    --------
    >>> from sem_cocreate.survey.instrument_file import load_instrument, default_instrument_path
    >>> ins = load_instrument(default_instrument_path())
    >>> sample_profile(pd.DataFrame({"role": [1, 1, 2]}), ins)[["code", "n"]].values.tolist()
    [[1, 2], [2, 1]]
    """
    rows = []
    n_total = len(data)
    for f in instrument.fields:
        if f.kind not in PROFILE_KINDS or f.id not in data.columns:
            continue
        col = data[f.id]
        if f.kind == "numeric":
            x = pd.to_numeric(col, errors="coerce").dropna()
            rows.append({"field": f.id, "kind": f.kind, "level": "", "code": np.nan, "n": int(len(x)),
                         "share": len(x) / n_total if n_total else np.nan,
                         "mean": float(x.mean()) if len(x) else np.nan,
                         "sd": float(x.std(ddof=1)) if len(x) > 1 else np.nan})
            continue
        codes = col.map(lambda v: f.code_for(v) if pd.notna(v) else None)
        seen = set()
        for opt in f.options:
            n = int((codes == opt.code).sum())
            seen.add(opt.code)
            rows.append({"field": f.id, "kind": f.kind, "level": opt.label_en or opt.name or str(opt.code),
                         "code": opt.code, "n": n, "share": n / n_total if n_total else np.nan,
                         "mean": np.nan, "sd": np.nan})
        n_missing = int(codes.isna().sum())
        if n_missing:
            rows.append({"field": f.id, "kind": f.kind, "level": "missing", "code": np.nan, "n": n_missing,
                         "share": n_missing / n_total, "mean": np.nan, "sd": np.nan})
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)
