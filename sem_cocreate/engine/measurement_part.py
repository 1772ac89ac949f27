"""The measurement part of a user's model, and which measurement analyses apply to each construct.

:func:`measurement_syntax` cuts the user's own lavaan syntax down to its measurement model, written
as the user wrote it: every ``=~`` line with its fixed values, labels, ``NA*`` and ``start()``,
higher-order factors (``g =~ F1 + F2``), the ``~~`` terms among indicators and among latent
variables (residual covariances, fixed variances such as ``F ~~ 1*F``), the ``~1`` lines of
indicators and latent variables, and the ``==`` / ``<`` / ``>`` constraints whose labels all remain.
Regressions (``~``), observed covariates and ``:=`` lines are left out; in lavaan's ``cfa()`` the
latent variables then covary freely.

:func:`construct_analyses` tells, per construct, whether alpha / omega / CR / AVE and HTMT apply:
they need a first-order factor with two or more observed indicators and at least one free loading
(a growth factor has all loadings fixed). A construct they do not apply to is skipped with the
reason in ``note`` — the caller writes that note in the report instead of refusing the run.
"""

from __future__ import annotations

import re

import pandas as pd

from .spec import _OP_RE, _logical_lines, _split_top, parse_syntax

_LABEL_RE = re.compile(r"(?<![0-9A-Za-z_.])(?:[A-Za-z_][A-Za-z0-9_.]*|\.[A-Za-z_][A-Za-z0-9_.]*)")


def _term_var(term: str) -> str:
    return _split_top(term, "*")[-1].strip()


def _term_labels(term: str) -> set[str]:
    pieces = _split_top(term, "*")[:-1]
    out = set()
    for p in pieces:
        p = p.strip()
        m = re.match(r"^(c|label|equal)\s*\((.*)\)$", p)
        if m:
            out |= {v.strip().strip("'\"") for v in _split_top(m.group(2), ",")
                    if _LABEL_RE.fullmatch(v.strip().strip("'\""))}
        elif _LABEL_RE.fullmatch(p) and p not in ("NA", "start"):
            out.add(p)
    return out


def measurement_syntax(spec_or_syntax) -> str:
    """The measurement model of a user's model, in the user's own lavaan syntax.

    Parameters
    ----------
    spec_or_syntax : ModelSpec or str
        The user's model (its ``syntax`` is used).

    Returns
    -------
    str
        lavaan syntax: the ``=~`` lines verbatim, ``~~`` terms among indicators / latent variables,
        ``~1`` lines of indicators and factors, constraints whose labels all remain (one statement a line).

    Raises
    ------
    ModelSyntaxError
        If the model has no ``=~`` line.

    Notes
    -----
    lavaan has no single counterpart; it is the model a researcher fits with ``cfa()`` before
    the structural model (the "two-step" approach, Anderson & Gerbing 1988).

    Examples
    --------
    >>> print(measurement_syntax("F =~ 1*x1 + a*x2 + x3\\nG =~ y1 + y2\\nx1 ~~ x2\\nG ~ F\\nd := a*2"))
    F =~ 1*x1 + a*x2 + x3
    G =~ y1 + y2
    x1 ~~ x2
    """
    from ..exceptions import ModelSyntaxError

    syntax = spec_or_syntax if isinstance(spec_or_syntax, str) else spec_or_syntax.syntax
    statements = parse_syntax(syntax)
    lv = {s.lhs for s in statements if s.op == "=~"}
    if not lv:
        raise ModelSyntaxError("the model has no '=~' line, so it has no measurement part")
    indicators = {s.rhs for s in statements if s.op == "=~"}
    keep_vars = lv | indicators
    out: list[str] = []
    labels: set[str] = set()
    constraints: list[tuple[str, set[str]]] = []
    for _lineno, text in _logical_lines(syntax):
        m = _OP_RE.search(text)
        if not m:
            continue
        op = m.group(1)
        lhs_text, rhs_text = text[: m.start()].strip(), text[m.end():].strip()
        if op == "=~":
            out.append(f"{lhs_text} =~ {rhs_text}")
            for term in _split_top(rhs_text, "+"):
                labels |= _term_labels(term)
        elif op == "~~":
            lhs_names = [x.strip() for x in _split_top(lhs_text, "+")]
            if not all(x in keep_vars for x in lhs_names):
                continue
            terms = [t.strip() for t in _split_top(rhs_text, "+") if _term_var(t) in keep_vars]
            if terms:
                out.append(f"{lhs_text} ~~ {' + '.join(terms)}")
                for t in terms:
                    labels |= _term_labels(t)
        elif op == "~":
            terms = [t.strip() for t in _split_top(rhs_text, "+")]
            lhs_names = [x.strip() for x in _split_top(lhs_text, "+")]
            ones = [t for t in terms if _term_var(t) == "1"]
            if ones and all(x in keep_vars for x in lhs_names):
                out.append(f"{lhs_text} ~ {' + '.join(ones)}")
                for t in ones:
                    labels |= _term_labels(t)
        elif op in ("==", "<", ">"):
            constraints.append((f"{lhs_text} {op} {rhs_text}", set(_LABEL_RE.findall(lhs_text + " " + rhs_text))))
    funcs = {"sqrt", "exp", "log", "abs"}
    for text, names in constraints:
        if names - funcs and (names - funcs) <= labels:
            out.append(text)
    return "\n".join(out)


ANALYSIS_COLUMNS = ["construct", "kind", "n_indicators", "reliability", "htmt", "note"]


def construct_analyses(spec) -> pd.DataFrame:
    """Which measurement analyses apply to each latent construct of a model.

    Parameters
    ----------
    spec : ModelSpec

    Returns
    -------
    pandas.DataFrame
        One row per latent variable: ``construct``; ``kind`` (``first-order``, ``single-indicator``,
        ``higher-order``, ``fixed-loadings`` for growth factors and other factors whose loadings are
        all fixed); ``n_indicators`` (observed indicators); ``reliability`` and ``htmt`` (bool: alpha,
        omega, CR, AVE and HTMT / Fornell-Larcker apply); ``note`` (why not, for the report).

    Examples
    --------
    >>> from sem_cocreate.engine.spec import build_spec
    >>> t = construct_analyses(build_spec("A =~ a1 + a2 + a3\\nB =~ b1\\ng =~ A + B"))
    >>> t[["construct", "kind", "reliability"]].values.tolist()
    [['A', 'first-order', True], ['B', 'single-indicator', False], ['g', 'higher-order', False]]
    """
    pt = spec.partable
    lv = list(spec.lv_names)
    load = pt[(pt["op"] == "=~") & (pt["group"] == 1)]
    rows = []
    for f in lv:
        mine = load[load["lhs"] == f]
        obs = [x for x in mine["rhs"] if x not in lv]
        latent = [x for x in mine["rhs"] if x in lv]
        free = int((mine["free"] > 0).sum())
        if latent:
            kind, note = "higher-order", (f"{f} is a higher-order factor (measured by {', '.join(latent)}): "
                                          "item-based reliability and HTMT do not apply")
        elif len(obs) < 2:
            kind, note = "single-indicator", (f"{f} has a single indicator: reliability, AVE and HTMT "
                                              "need two or more items")
        elif free == 0:
            kind, note = "fixed-loadings", (f"{f} has all loadings fixed (e.g. a growth factor): "
                                            "reliability, AVE and HTMT do not apply")
        else:
            kind, note = "first-order", ""
        ok = kind == "first-order"
        rows.append({"construct": f, "kind": kind, "n_indicators": len(obs), "reliability": ok,
                     "htmt": ok, "note": note})
    return pd.DataFrame(rows, columns=ANALYSIS_COLUMNS)
