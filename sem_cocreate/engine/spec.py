"""Model specification: lavaan syntax → parameter table with lavaan's defaults.

:func:`parse_syntax` reads lavaan model syntax (``=~ ~ ~~ ~1 := ==``, labels ``a*x``, fixed values
``1*x``, ``NA*x``, ``start(0.5)*x``, per-group vectors ``c(a, b)*x``) into statements;
:func:`build_spec` expands them into a parameter table following lavaan 0.6's defaults for
``sem()``/``cfa()``: first loading fixed to 1 (``auto.fix.first``), free (residual) variances
(``auto.var``), free covariances among exogenous latent variables (``auto.cov.lv.x``) and among
pure dependent variables (``auto.cov.y``), observed exogenous covariates fixed at their sample
(co)variances (``fixed.x``), intercepts with a mean structure.

The parameter table has lavaan's columns ``id lhs op rhs user group free ustart label plabel exo``;
``free`` numbers the free parameters 1..npar after equality by label (the same label means the same
parameter), 0 for fixed ones. ``fixed`` is True where ``free == 0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import ModelSyntaxError
from ._frames import frame_rows

OPERATORS = ("=~", ":=", "~~", "==", "<~", "~", "<", ">", "|")
_OP_RE = re.compile(r"(=~|:=|~~|==|<~|~|<|>|\|)")
_NAME_RE = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUM_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Modifier:
    """What stands before ``*`` in a term: fixed value, label, start value (per group or for all)."""

    fixed: tuple = ()        # per group: float, None (NA = free) ; empty = not given
    label: tuple = ()        # per group: str or "" ; empty = not given
    start: tuple = ()        # per group start values


@dataclass(frozen=True)
class Statement:
    lhs: str
    op: str
    rhs: str
    modifier: Modifier
    line: int


@dataclass(frozen=True)
class ModelSpec:
    """A model: its lavaan syntax and the parameter table built from it."""

    syntax: str
    partable: "object"                         # pandas DataFrame (see module docstring)
    ov_names: tuple[str, ...]
    lv_names: tuple[str, ...]
    ov_x: tuple[str, ...] = ()                 # observed exogenous covariates (fixed.x)
    groups: tuple[str, ...] = ("",)            # group labels in lavaan order ("" = one group)
    meanstructure: bool = False
    defined: tuple[tuple[str, str], ...] = ()  # (name, expression) of := lines, in order
    constraints: tuple[tuple[str, str, str], ...] = ()   # (lhs, op, rhs) of == < > lines
    # the constraints that are not a plain ``a == b`` of two labels (those share one parameter):
    # handled by :mod:`sem_cocreate.engine.constraints` (lavaan's ceq / cin functions)
    general_constraints: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def npar(self) -> int:
        return int(self.partable["free"].max()) if len(self.partable) else 0


# --------------------------------------------------------------------------------- parsing

def _strip_comment(line: str) -> str:
    out, quote = [], None
    for ch in line:
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "#!":
            break
        out.append(ch)
    return "".join(out)


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _logical_lines(syntax: str) -> list[tuple[int, str]]:
    """Split into statements (by newline and ';'), joining continuation lines; keep line numbers."""
    raw: list[tuple[int, str]] = []
    for i, line in enumerate(syntax.splitlines(), start=1):
        line = _strip_comment(line)
        for piece in line.split(";"):
            piece = piece.strip()
            if piece:
                raw.append((i, piece))
    out: list[tuple[int, str]] = []
    for lineno, text in raw:
        if out:
            prev_no, prev = out[-1]
            prev_incomplete = prev.endswith(("+", "*", "=~", "~", ",", "(", "-", "/", ":=", "=="))
            if prev_incomplete or text.startswith(("+", "*", ")")) or prev.count("(") > prev.count(")"):
                out[-1] = (prev_no, prev + " " + text)
                continue
        out.append((lineno, text))
    return out


def _parse_value(tok: str, lineno: int):
    tok = tok.strip()
    if tok in ("NA", "na"):
        return None
    if _NUM_RE.match(tok):
        return float(tok)
    if (tok.startswith('"') and tok.endswith('"')) or (tok.startswith("'") and tok.endswith("'")):
        return tok[1:-1]
    if _NAME_RE.match(tok):
        return tok
    raise ModelSyntaxError(f"line {lineno}: cannot read modifier value {tok!r}; use a number, NA or a label")


def _parse_modifier(mods: list[str], lineno: int) -> Modifier:
    fixed: tuple = ()
    label: tuple = ()
    start: tuple = ()
    for m in mods:
        m = m.strip()
        if not m:
            raise ModelSyntaxError(f"line {lineno}: empty modifier before '*'")
        fm = re.match(r"^(c|start|equal|label)\s*\((.*)\)$", m, flags=re.S)
        if fm:
            fun, inner = fm.group(1), fm.group(2)
            values = [_parse_value(v, lineno) for v in _split_top(inner, ",")]
            if fun == "start":
                start = tuple(float(v) if isinstance(v, float) else None for v in values)
            elif fun in ("equal", "label"):
                label = tuple(str(v) for v in values)
            else:  # c(...)
                if all(isinstance(v, str) for v in values):
                    label = tuple(values)
                else:
                    fixed = tuple(values)
            continue
        value = _parse_value(m, lineno)
        if value is None or isinstance(value, float):
            fixed = (value,)
        else:
            label = (value,)
    return Modifier(fixed=fixed, label=label, start=start)


def _check_name(name: str, lineno: int, what: str) -> str:
    name = name.strip()
    if not _NAME_RE.match(name):
        raise ModelSyntaxError(
            f"line {lineno}: {what} {name!r} is not a valid variable name; use letters, digits, '_' or '.'")
    return name


def parse_syntax(syntax: str) -> list[Statement]:
    """Parse lavaan model syntax into a list of :class:`Statement`.

    Raises
    ------
    ModelSyntaxError
        With the line number and what is wrong.
    """
    if not isinstance(syntax, str) or not syntax.strip():
        raise ModelSyntaxError("the model syntax is empty; write at least one line such as 'F =~ x1 + x2 + x3'")
    statements: list[Statement] = []
    for lineno, text in _logical_lines(syntax):
        blk = re.match(r"^\s*(level|group|block)\s*:(?!=)", text)
        if blk:
            raise ModelSyntaxError(
                f"line {lineno}: '{blk.group(1)}:' blocks (multilevel / per-group syntax) are not supported; "
                "fit one level, and use --group for a multi-group model")
        if re.search(r"(?<![A-Za-z0-9_.])efa\s*\(", text):
            raise ModelSyntaxError(
                f"line {lineno}: 'efa()' blocks (exploratory SEM) are not supported; "
                "write the loadings out with '=~' or run the exploratory factor analysis on its own")
        m = _OP_RE.search(text)
        if not m:
            raise ModelSyntaxError(
                f"line {lineno}: no operator in {text!r}; expected one of =~ ~ ~~ := == (e.g. 'F =~ x1 + x2')")
        op = m.group(1)
        lhs_text, rhs_text = text[: m.start()].strip(), text[m.end():].strip()
        if op in (":=", "==", "<", ">"):
            if not lhs_text or not rhs_text:
                raise ModelSyntaxError(f"line {lineno}: incomplete '{op}' statement {text!r}")
            if op == ":=":
                _check_name(lhs_text, lineno, "defined parameter name")
            statements.append(Statement(lhs_text, op, rhs_text, Modifier(), lineno))
            continue
        if op == "<~":
            raise ModelSyntaxError(
                f"line {lineno}: operator '<~' (formative / composite) is not supported; "
                "use reflective '=~'")
        if op == "|":
            raise ModelSyntaxError(
                f"line {lineno}: operator '|' (thresholds in the syntax) is not supported; "
                "thresholds of ordinal items come from --estimator wlsmv")
        if not lhs_text:
            raise ModelSyntaxError(f"line {lineno}: nothing left of '{op}' in {text!r}")
        if not rhs_text:
            raise ModelSyntaxError(f"line {lineno}: nothing right of '{op}' in {text!r}")
        lhs_names = [_check_name(x, lineno, "left-hand side") for x in _split_top(lhs_text, "+")]
        for term in _split_top(rhs_text, "+"):
            term = term.strip()
            if not term:
                raise ModelSyntaxError(f"line {lineno}: empty term in {text!r} (a stray '+'?)")
            pieces = _split_top(term, "*")
            var = pieces[-1].strip()
            if op == "~" and var == "1":
                op_eff, var_eff = "~1", ""
            else:
                op_eff = op
                var_eff = _check_name(var, lineno, "variable")
            mod = _parse_modifier(pieces[:-1], lineno)
            for lhs in lhs_names:
                statements.append(Statement(lhs, op_eff, var_eff, mod, lineno))
    return statements


# --------------------------------------------------------------------------------- partable

def _uniq(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _per_group(values: tuple, g: int, ngroups: int, lineno: int, what: str):
    if not values:
        return "missing"
    if len(values) == 1:
        return values[0]
    if len(values) != ngroups:
        raise ModelSyntaxError(
            f"line {lineno}: c(...) {what} has {len(values)} values but the model has {ngroups} group(s)")
    return values[g]


_EXPR_NAME_RE = re.compile(r"(?<![0-9A-Za-z_.])(?:[A-Za-z_][A-Za-z0-9_.]*|\.[A-Za-z_][A-Za-z0-9_.]*)")


def build_spec(
    syntax: str,
    *,
    data_columns=None,
    groups: tuple[str, ...] = ("",),
    meanstructure: bool | None = None,
    fixed_x: bool = True,
    group_equal: tuple[str, ...] = (),
    group_partial: tuple[str, ...] = (),
    orthogonal: bool = False,
    int_ov_free: bool = True,
    int_lv_free: bool = False,
    auto_fix_single: bool = True,
) -> ModelSpec:
    """Build the parameter table of a lavaan-syntax model with lavaan's ``sem()`` defaults.

    Parameters
    ----------
    syntax : str
        lavaan model syntax.
    data_columns : iterable of str, optional
        Column names of the data; observed variables of the model must be among them.
    groups : tuple of str
        Group labels in order (one group: ``("",)``).
    meanstructure : bool, optional
        Add intercepts; default True with several groups or ``~1`` in the syntax.
    group_equal : tuple of str
        lavaan's ``group.equal``: any of ``loadings``, ``intercepts``, ``residuals``,
        ``residual.covariances``, ``lv.variances``, ``lv.covariances``, ``regressions``, ``means``.
    group_partial : tuple of str
        Parameters (``"ks3~1"``, ``"F=~x2"``) exempt from ``group_equal``.
    int_ov_free, int_lv_free : bool
        lavaan's ``int.ov.free`` / ``int.lv.free``: free intercepts of the observed variables
        (default) and free latent means (``growth()`` sets them False / True).
    auto_fix_single : bool
        lavaan's ``auto.fix.single``: the residual variance of the single indicator of a latent
        variable is fixed to 0 (unless the syntax sets it).

    Returns
    -------
    ModelSpec
    """
    import pandas as pd

    statements = parse_syntax(syntax)
    ngroups = len(groups)
    model_st = [s for s in statements if s.op not in (":=", "==", "<", ">")]
    if not model_st:
        raise ModelSyntaxError("the model has no =~, ~ or ~~ line; nothing to estimate")
    # lavaan writes a defined parameter's expression without white space (deparsed)
    defined = tuple((s.lhs, "".join(s.rhs.split())) for s in statements if s.op == ":=")
    constraints = tuple((s.lhs, s.op, s.rhs) for s in statements if s.op in ("==", "<", ">"))

    lv_names = _uniq(s.lhs for s in model_st if s.op == "=~")
    all_vars = _uniq(
        [v for s in model_st for v in (s.lhs, s.rhs) if v]
    )
    indicators = _uniq(s.rhs for s in model_st if s.op == "=~")
    # observed: in order of first appearance as indicator, then the rest
    ov_names = [v for v in indicators if v not in lv_names] + [
        v for v in all_vars if v not in lv_names and v not in indicators]
    ov_names = _uniq(ov_names)
    if data_columns is not None:
        cols = set(map(str, data_columns))
        missing = [v for v in ov_names if v not in cols]
        if missing:
            import difflib
            hints = []
            for v in missing[:3]:
                close = difflib.get_close_matches(v, list(cols), n=2)
                hints.append(f"{v} (closest: {', '.join(close)})" if close else v)
            raise ModelSyntaxError(
                f"the model uses variable(s) not in the data: {'; '.join(hints)}"
                f"{' …' if len(missing) > 3 else ''}; check spelling or the column names")
    eqs_y = _uniq(s.lhs for s in model_st if s.op == "~")
    eqs_x = _uniq(s.rhs for s in model_st if s.op == "~")
    # exogenous observed covariates (lavaan: in eqs.x, not eqs.y, not indicator, not latent)
    user_cov_vars = set()
    for s in model_st:
        if s.op == "~~":
            user_cov_vars.update([s.lhs, s.rhs])
        if s.op == "~1":
            user_cov_vars.add(s.lhs)
    ov_x = [v for v in ov_names if v in eqs_x and v not in eqs_y and v not in indicators]
    if fixed_x:
        ov_x = [v for v in ov_x if v not in user_cov_vars]
    else:
        ov_x = []
    ov_nox = [v for v in ov_names if v not in ov_x]
    lv_x = [v for v in lv_names if v not in indicators and v not in eqs_y]
    ov_y = [v for v in ov_names if v in eqs_y and v not in indicators and v not in eqs_x]
    lv_y = [v for v in lv_names if v in eqs_y and v not in indicators and v not in eqs_x]
    lvov_y = lv_y + ov_y

    if meanstructure is None:
        meanstructure = ngroups > 1 or any(s.op == "~1" for s in model_st)

    rows: list[dict] = []

    def key(lhs, op, rhs):
        if op == "~~":
            return (lhs, op, rhs) if (lhs, rhs) <= (rhs, lhs) else (rhs, op, lhs)
        return (lhs, op, rhs)

    for g in range(ngroups):
        grows: dict[tuple, dict] = {}
        first_ind: dict[str, str] = {}
        for s in model_st:
            if s.op == "=~" and s.lhs not in first_ind:
                first_ind[s.lhs] = s.rhs
        for s in model_st:
            k = key(s.lhs, s.op, s.rhs)
            fixed = _per_group(s.modifier.fixed, g, ngroups, s.line, "of fixed values")
            label = _per_group(s.modifier.label, g, ngroups, s.line, "of labels")
            start = _per_group(s.modifier.start, g, ngroups, s.line, "of start values")
            row = grows.get(k)
            if row is None:
                row = {"lhs": s.lhs, "op": s.op, "rhs": s.rhs, "user": 1, "group": g + 1,
                       "ustart": np.nan, "free_flag": True, "label": "", "start": np.nan,
                       "line": s.line, "explicit_free": False}
                grows[k] = row
            if fixed != "missing":
                if fixed is None:
                    row["free_flag"] = True
                    row["explicit_free"] = True
                    row["ustart"] = np.nan
                else:
                    row["free_flag"] = False
                    row["ustart"] = float(fixed)
            if label != "missing" and label not in (None, ""):
                row["label"] = str(label)
            if start != "missing" and start is not None:
                row["start"] = float(start)
        # auto.fix.first
        for lv, ind in first_ind.items():
            row = grows[key(lv, "=~", ind)]
            if row["free_flag"] and not row["explicit_free"]:
                row["free_flag"] = False
                row["ustart"] = 1.0
        # variances
        def add_default(lhs, op, rhs, free=True, value=np.nan, exo=0):
            k = key(lhs, op, rhs)
            if k in grows:
                grows[k].setdefault("exo", exo)
                return
            grows[k] = {"lhs": lhs, "op": op, "rhs": rhs, "user": 0, "group": g + 1,
                        "ustart": value, "free_flag": free, "label": "", "start": np.nan,
                        "line": 0, "explicit_free": False, "exo": exo}
        if auto_fix_single:
            for lv in lv_names:
                inds = [s.rhs for s in model_st if s.op == "=~" and s.lhs == lv]
                if len(inds) == 1 and inds[0] not in lv_names:
                    add_default(inds[0], "~~", inds[0], free=False, value=0.0)
        for v in ov_nox + lv_names:
            add_default(v, "~~", v)
        if not orthogonal:
            for i, a in enumerate(lv_x):
                for b in lv_x[i + 1:]:
                    add_default(a, "~~", b)
        for i, a in enumerate(lvov_y):
            for b in lvov_y[i + 1:]:
                add_default(a, "~~", b)
        for i, a in enumerate(ov_x):
            for b in ov_x[i:]:
                add_default(a, "~~", b, free=False, exo=1)
        if meanstructure:
            for v in ov_nox:
                if int_ov_free:
                    add_default(v, "~1", "")
                else:
                    add_default(v, "~1", "", free=False, value=0.0)
            for v in ov_x:
                add_default(v, "~1", "", free=False, exo=1)
            for v in lv_names:
                if int_lv_free:
                    add_default(v, "~1", "")
                else:
                    add_default(v, "~1", "", free=False, value=0.0)
        rows.extend(grows.values())

    pt = pd.DataFrame(rows)
    if "exo" not in pt:
        pt["exo"] = 0
    pt["exo"] = pt["exo"].fillna(0).astype(int)
    # lavaan row order: =~, ~, ~~, ~1 within group, user rows before defaults of the same op
    op_rank = {"=~": 0, "~": 1, "~~": 2, "~1": 3}
    pt["_o"] = pt["op"].map(op_rank)
    pt = pt.sort_values(["group", "user", "_o"], ascending=[True, False, True], kind="stable")
    pt = pt.sort_values(["group", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)

    # group.equal: give equal labels across groups where requested (unless user-labelled / partial)
    if ngroups > 1 and group_equal:
        _apply_group_equal(pt, group_equal, group_partial, lv_names, ov_nox)

    # explicit equality constraints between two labels (a == b) share one parameter, like equal labels
    alias, general = _label_aliases(constraints, set(pt["label"]) - {""})

    # free parameter numbering, equality by label (plain lists: a pandas row loop costs ~50 ms per model)
    free_flag = [bool(v) for v in pt["free_flag"]]
    labels = list(pt["label"])
    ustart = list(pt["ustart"])
    # a label shared by a fixed and a free row: lavaan makes both fixed (at the fixed row's value)
    rows_of: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        if lab:
            rows_of.setdefault(lab, []).append(i)
    for lab, rows_l in rows_of.items():
        flags = [free_flag[i] for i in rows_l]
        if any(flags) and not all(flags):
            value = next(ustart[i] for i in rows_l if not free_flag[i])
            for i in rows_l:
                ustart[i] = value
                free_flag[i] = False
    free = np.zeros(len(pt), dtype=int)
    label_index: dict[str, int] = {}
    counter = 0
    for i, flag in enumerate(free_flag):
        if not flag:
            continue
        lab = alias.get(labels[i], labels[i])
        if lab and lab in label_index:
            free[i] = label_index[lab]
            continue
        counter += 1
        free[i] = counter
        if lab:
            label_index[lab] = counter
    pt["free"] = free
    pt["ustart"] = ustart
    pt["free_flag"] = free_flag
    pt["id"] = np.arange(1, len(pt) + 1)
    pt["plabel"] = [f".p{i}." for i in pt["id"]]
    pt["fixed"] = pt["free"] == 0
    pt = pt[["id", "lhs", "op", "rhs", "user", "group", "free", "ustart", "start", "label", "plabel",
             "exo", "fixed", "line"]]

    # defined parameters: check their names refer to labels
    known = set(pt["label"]) | set(pt["plabel"])
    defined_names: list[str] = []
    for name, expr in defined:
        for tok in _EXPR_NAME_RE.findall(expr):
            if tok in known or tok in defined_names or tok in _ALLOWED_FUNCS:
                continue
            raise ModelSyntaxError(
                f"defined parameter {name} := {expr}: {tok!r} is not a parameter label; "
                "label the path first, e.g. 'M ~ a*X'")
        if name in known:
            raise ModelSyntaxError(f"defined parameter name {name!r} is already used as a label; rename it")
        defined_names.append(name)
    for lhs, op, rhs in constraints:
        for tok in _EXPR_NAME_RE.findall(lhs + " " + rhs):
            if tok not in known and tok not in defined_names and tok not in _ALLOWED_FUNCS:
                raise ModelSyntaxError(f"constraint {lhs} {op} {rhs}: {tok!r} is not a parameter label")
    return ModelSpec(
        syntax=syntax,
        partable=pt,
        ov_names=tuple(ov_names),
        lv_names=tuple(lv_names),
        ov_x=tuple(ov_x),
        groups=tuple(groups),
        meanstructure=bool(meanstructure),
        defined=defined,
        constraints=constraints,
        general_constraints=tuple(general),
    )


_ALLOWED_FUNCS = {"sqrt", "exp", "log", "abs", "pnorm", "min", "max"}


def _label_aliases(constraints, labels: set[str]) -> dict[str, str]:
    """Union of labels tied by ``a == b``, and the other (general) constraints in order.

    lavaan 0.6.14 counts a plain equality of two free labels as one parameter less (``npar`` and
    ``df`` as with a shared label); every other form goes to the constraint machinery.
    """
    parent: dict[str, str] = {}
    general = []

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for lhs, op, rhs in constraints:
        a, b = lhs.strip(), rhs.strip()
        if op != "==" or a not in labels or b not in labels:
            general.append((lhs, op, rhs))
            continue
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    alias = {lab: find(lab) for lab in parent} | {lab: find(lab) for lab in list(parent.values())}
    return alias, general

_GROUP_EQUAL_OPS = {
    "loadings": ("=~", None),
    "regressions": ("~", None),
    "residuals": ("~~", "ov_var"),
    "residual.covariances": ("~~", "ov_cov"),
    "lv.variances": ("~~", "lv_var"),
    "lv.covariances": ("~~", "lv_cov"),
    "intercepts": ("~1", "ov"),
    "means": ("~1", "lv"),
}


def _canonical_par(name: str) -> str:
    """``lhs op rhs`` without spaces; ``a~~b`` and ``b~~a`` are the same parameter."""
    name = "".join(str(name).split())
    if "~~" in name:
        a, b = name.split("~~", 1)
        return "~~".join(sorted((a, b)))
    return name


def _apply_group_equal(pt, group_equal, group_partial, lv_names, ov_nox) -> None:
    """Label parameters equal across groups (lavaan's group.equal), in place."""
    lv = set(lv_names)
    partial = {_canonical_par(p) for p in group_partial}
    known = {_canonical_par(f"{r.lhs}{r.op}{r.rhs}") for r in frame_rows(pt)}
    unknown = [p for p in group_partial if _canonical_par(p) not in known]
    if unknown:
        raise ModelSyntaxError(
            f"group_partial: {unknown[0]!r} is not a parameter of the model; write it as lavaan does, "
            "e.g. 'ks3~1' (intercept), 'RI=~ri2' (loading), 'ri1~~ri1' (residual variance)")
    for what in group_equal:
        if what not in _GROUP_EQUAL_OPS:
            raise ModelSyntaxError(
                f"group_equal: unknown {what!r}; use {', '.join(_GROUP_EQUAL_OPS)}")
        op, kind = _GROUP_EQUAL_OPS[what]
        sel = pt["op"] == op
        if kind == "ov_var":
            sel &= (pt["lhs"] == pt["rhs"]) & ~pt["lhs"].isin(lv)
        elif kind == "ov_cov":
            sel &= (pt["lhs"] != pt["rhs"]) & ~pt["lhs"].isin(lv)
        elif kind == "lv_var":
            sel &= (pt["lhs"] == pt["rhs"]) & pt["lhs"].isin(lv)
        elif kind == "lv_cov":
            sel &= (pt["lhs"] != pt["rhs"]) & pt["lhs"].isin(lv)
        elif kind == "ov":
            sel &= ~pt["lhs"].isin(lv)
        elif kind == "lv":
            sel &= pt["lhs"].isin(lv)
        chosen = pt[sel & pt["free_flag"]]
        new_labels = {}
        for idx, lhs, op_, rhs, label in zip(chosen.index, chosen["lhs"], chosen["op"], chosen["rhs"],
                                             chosen["label"]):
            name = f"{lhs}{op_}{rhs}"
            if label or _canonical_par(name) in partial:
                continue
            new_labels[idx] = f".eq.{name}"
        if new_labels:
            pt.loc[list(new_labels), "label"] = list(new_labels.values())
    # with equal intercepts, latent means become free in groups 2+ (lavaan's default)
    if "intercepts" in group_equal and "means" not in group_equal:
        sel = (pt["op"] == "~1") & pt["lhs"].isin(lv) & (pt["group"] > 1) & (pt["user"] == 0)
        pt.loc[sel, "free_flag"] = True
        pt.loc[sel, "ustart"] = np.nan
