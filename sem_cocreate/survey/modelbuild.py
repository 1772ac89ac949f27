"""Turn an instrument and its hypotheses into lavaan model syntax, with every indirect effect defined.

Label scheme
------------
- Structural path ``Y ~ X`` (hypothesis ``X -> Y``): label ``b_Y_X`` (lavaan order: outcome first),
  e.g. ``RI ~ b_RI_PS*PS``. :attr:`Hypothesis.label <sem_cocreate.instrument.Hypothesis.label>` gives it.
- Specific indirect effect along ``X -> M1 -> ... -> Y``: ``ind_X_M1_..._Y`` = product of the path labels,
  e.g. ``ind_PS_RI_KS_VCC := b_RI_PS*b_KS_RI*b_VCC_KS``.
- Total indirect effect of ``X`` on ``Y``: ``totind_X_Y`` = sum of its specific indirect effects.
- Total effect: ``total_X_Y`` = direct path (``b_Y_X``, if hypothesised) + ``totind_X_Y``.
- Contrast of two single-mediator effects: ``diff_X_M1_vs_M2_Y`` = ``ind_X_M1_Y - ind_X_M2_Y``.

Which effects are defined
-------------------------
Every directed path with at least two arrows in the hypothesis graph that starts at an *antecedent*
(a construct with no incoming hypothesis) and ends at a *target*: the focal ``outcome`` (default
``VCC``) and every construct downstream of it (``VO``, ``SAT``, ``CI``), or, with ``outcome=None``,
every endogenous construct. Contrasts are formed, for each antecedent, between its single-mediator
effects on the focal outcome through each pair of the instrument's ``mediators`` (``RI``, ``KS``).
Construct ids hold no ``_`` (the schema enforces it), so every name reads back unambiguously.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from ..exceptions import InstrumentError, ModelSyntaxError, OptionError
from ._graph import find_cycle  # noqa: F401  (re-exported: modelbuild.find_cycle)
from .instrument import Hypothesis, Instrument

EFFECT_COLUMNS = ["name", "kind", "from", "to", "through", "expression", "family"]
COMPETING_MODELS = ("partial", "reversed", "second_order")


def path_label(from_: str, to: str) -> str:
    """The lavaan label of the structural path ``to ~ from``: ``b_<to>_<from>``."""
    return f"b_{to}_{from_}"


# --- the hypothesis graph -------------------------------------------------------------------------


class _Graph:
    """A small directed graph: nodes in a fixed order, edges in insertion order."""

    def __init__(self, edges: Sequence[tuple[str, str]], nodes: Sequence[str] = ()):
        order: list[str] = list(dict.fromkeys(nodes))
        for a, b in edges:
            for n in (a, b):
                if n not in order:
                    order.append(n)
        self.nodes = order
        self.edges = list(dict.fromkeys((str(a), str(b)) for a, b in edges))
        rank = {n: i for i, n in enumerate(order)}
        self.succ: dict[str, list[str]] = {n: [] for n in order}
        self.pred: dict[str, list[str]] = {n: [] for n in order}
        for a, b in self.edges:
            if a == b:
                raise ModelSyntaxError(f"hypothesis {a} -> {b} is a self-loop; a construct cannot predict itself")
            self.succ[a].append(b)
            self.pred[b].append(a)
        for n in order:  # deterministic: neighbours in node order
            self.succ[n].sort(key=rank.__getitem__)
            self.pred[n].sort(key=rank.__getitem__)
        cycle = self._cycle()
        if cycle:
            raise ModelSyntaxError(f"the hypotheses form a cycle {' -> '.join(cycle)}; the structural model "
                                   f"must be recursive, drop or reverse one of these paths")

    def _cycle(self) -> list[str] | None:
        return find_cycle([(a, b) for a in self.nodes for b in self.succ[a]])

    def antecedents(self) -> list[str]:
        return [n for n in self.nodes if self.succ[n] and not self.pred[n]]

    def endogenous(self) -> list[str]:
        return [n for n in self.nodes if self.pred[n]]

    def descendants(self, start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for m in self.succ[todo.pop()]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    def paths_from(self, start: str) -> list[list[str]]:
        """Every directed path from ``start`` (as node lists of length >= 2), depth first."""
        out: list[list[str]] = []

        def walk(path: list[str]) -> None:
            for m in self.succ[path[-1]]:
                nxt = path + [m]
                out.append(nxt)
                walk(nxt)

        walk([start])
        return out


def _edges_of(obj: Any) -> tuple[list[tuple[str, str]], list[str], tuple[str, ...] | None]:
    """(edges, node order, mediators) of an Instrument, hypotheses, (from, to) pairs or a mapping."""
    if isinstance(obj, Instrument):
        return obj.hypothesis_edges(), obj.construct_ids(), obj.mediators
    if isinstance(obj, Mapping):
        return [(str(a), str(b)) for a, bs in obj.items() for b in bs], [str(a) for a in obj], None
    edges = []
    for e in obj:
        if isinstance(e, Hypothesis):
            edges.append((e.from_, e.to))
        elif isinstance(e, Sequence) and not isinstance(e, str) and len(e) == 2:
            edges.append((str(e[0]), str(e[1])))
        else:
            raise OptionError(f"cannot read {e!r} as a hypothesis; give Hypothesis objects or (from, to) pairs")
    return edges, [], None


# --- effects --------------------------------------------------------------------------------------

def _effects(graph: _Graph, *, outcome: str | None, mediators: Sequence[str] | None) -> list[dict[str, str]]:
    if outcome is not None and outcome not in graph.nodes:
        known = ", ".join(graph.nodes) or "none"
        raise OptionError(f"outcome={outcome!r} is not in the structural model (constructs: {known}); "
                          f"pass one of them, or outcome=None for effects on every endogenous construct")
    if outcome is None:
        targets = graph.endogenous()
    else:
        below = graph.descendants(outcome)
        targets = [n for n in graph.nodes if n == outcome or n in below]
    if mediators is None:
        mediators = [n for n in graph.nodes if graph.pred[n] and graph.succ[n]]
    direct = set(graph.edges)
    rows: list[dict[str, str]] = []
    for a in graph.antecedents():
        found = graph.paths_from(a)
        order = {tuple(p): k for k, p in enumerate(found)}
        # shorter paths first, depth-first order within a length: ind_PS_RI_VCC, ind_PS_KS_VCC, ind_PS_RI_KS_VCC
        paths = sorted((p for p in found if len(p) >= 3), key=lambda p: (len(p), order[tuple(p)]))
        for t in targets:
            specific = [p for p in paths if p[-1] == t]
            if not specific:
                continue
            names = []
            for p in specific:
                name = "ind_" + "_".join(p)
                names.append(name)
                rows.append({"name": name, "kind": "specific", "from": a, "to": t, "through": ">".join(p[1:-1]),
                             "expression": "*".join(path_label(x, y) for x, y in zip(p, p[1:]))})
            # no effect twice: a total indirect equal to its one specific effect and a total equal to the
            # total indirect (no direct path) are not defined
            tot = f"totind_{a}_{t}" if len(names) > 1 else names[0]
            if len(names) > 1:
                rows.append({"name": tot, "kind": "total_indirect", "from": a, "to": t, "through": "",
                             "expression": " + ".join(names)})
            if (a, t) in direct:
                rows.append({"name": f"total_{a}_{t}", "kind": "total", "from": a, "to": t, "through": "",
                             "expression": f"{path_label(a, t)} + {tot}"})
            if outcome is None or t == outcome:
                simple = {p[1]: "ind_" + "_".join(p) for p in specific if len(p) == 3}
                present = [m for m in mediators if m in simple]
                for m1, m2 in combinations(present, 2):
                    rows.append({"name": f"diff_{a}_{m1}_vs_{m2}_{t}", "kind": "contrast", "from": a, "to": t,
                                 "through": f"{m1} vs {m2}", "expression": f"{simple[m1]} - {simple[m2]}"})
    for r in rows:
        r.setdefault("family", "confirmatory" if r["through"].count(">") <= 1 else "exploratory")
    seen: set[str] = set()
    for r in rows:
        if r["name"] in seen:
            raise ModelSyntaxError(f"two defined effects share the name {r['name']!r}; construct ids must be "
                                   f"distinct and hold no '_'")
        seen.add(r["name"])
    return rows


def _family_effects(graph: _Graph, mediators: Sequence[str]) -> list[dict[str, str]]:
    """The pre-specified mediation family of an antecedent - process - outcome model.

    Confirmatory, for each antecedent ``A`` (no incoming path):

    - its specific indirect effect on each co-creation activity through the other (``A -> M1 -> M2``),
    - on each value outcome ``O`` (a construct with a mediator among its predictors): the specific
      indirect effects whose intermediate constructs are one mediator (``A -> RI -> O``, ``A -> KS -> O``)
      or the mediator chain (``A -> RI -> KS -> O``), and the contrast of the two single-mediator effects
      (``diff_A_RI_vs_KS_O``),
    - one total indirect effect on each final outcome (a construct with no outgoing path):
      ``totind_A_F``, the sum of every chain from ``A`` to ``F``.

    Exploratory: the longer chains that make up that total, total indirect effects on the value outcomes,
    and total effects where the model has a direct path. An effect equal to another row is never defined
    twice (a sum of one term is the term itself).
    """
    meds = [m for m in mediators if m in graph.nodes]
    medset = set(meds)
    direct = set(graph.edges)
    value_outcomes = [n for n in graph.nodes if n not in medset and any(p in medset for p in graph.pred[n])]
    finals = [n for n in graph.nodes if graph.pred[n] and not graph.succ[n] and n not in medset]
    rows: list[dict[str, str]] = []
    seen_expr: set[str] = set()

    def add(name, kind, a, t, through, expr, family):
        key = " + ".join(sorted(x.strip() for x in expr.split("+")))
        if key in seen_expr:
            return
        seen_expr.add(key)
        rows.append({"name": name, "kind": kind, "from": a, "to": t, "through": through, "expression": expr,
                     "family": family})

    def chain_expr(p):
        return "*".join(path_label(x, y) for x, y in zip(p, p[1:]))

    for a in graph.antecedents():
        if a in medset:
            continue
        found = graph.paths_from(a)
        order = {tuple(p): k for k, p in enumerate(found)}
        paths = sorted((p for p in found if len(p) >= 3), key=lambda p: (len(p), order[tuple(p)]))
        # effects on the co-creation activities themselves
        for p in paths:
            if p[-1] in medset and all(x in medset for x in p[1:-1]):
                add("ind_" + "_".join(p), "specific", a, p[-1], ">".join(p[1:-1]), chain_expr(p), "confirmatory")
        for t in value_outcomes:
            specific = [p for p in paths if p[-1] == t]
            core = [p for p in specific if all(x in medset for x in p[1:-1])]
            for p in core:
                add("ind_" + "_".join(p), "specific", a, t, ">".join(p[1:-1]), chain_expr(p), "confirmatory")
            simple = {p[1]: "ind_" + "_".join(p) for p in core if len(p) == 3}
            present = [m for m in meds if m in simple]
            for m1, m2 in combinations(present, 2):
                add(f"diff_{a}_{m1}_vs_{m2}_{t}", "contrast", a, t, f"{m1} vs {m2}",
                    f"{simple[m1]} - {simple[m2]}", "confirmatory")
            names = ["ind_" + "_".join(p) for p in specific]
            for p in specific:
                if p not in core:
                    add("ind_" + "_".join(p), "specific", a, t, ">".join(p[1:-1]), chain_expr(p), "exploratory")
            if len(names) > 1:
                add(f"totind_{a}_{t}", "total_indirect", a, t, "", " + ".join(names), "exploratory")
            if names and (a, t) in direct:
                tot = f"totind_{a}_{t}" if len(names) > 1 else names[0]
                add(f"total_{a}_{t}", "total", a, t, "", f"{path_label(a, t)} + {tot}", "exploratory")
        for t in finals:
            if t in value_outcomes:
                continue
            specific = [p for p in paths if p[-1] == t]
            if not specific:
                continue
            names = ["ind_" + "_".join(p) for p in specific]
            for p in specific:
                add("ind_" + "_".join(p), "specific", a, t, ">".join(p[1:-1]), chain_expr(p), "exploratory")
            if len(names) > 1:
                add(f"totind_{a}_{t}", "total_indirect", a, t, "", " + ".join(names), "confirmatory")
            else:
                rows[-1]["family"] = "confirmatory"
            if (a, t) in direct:
                tot = f"totind_{a}_{t}" if len(names) > 1 else names[0]
                add(f"total_{a}_{t}", "total", a, t, "", f"{path_label(a, t)} + {tot}", "exploratory")
    # the rows a total refers to must precede it; keep confirmatory rows first within that order
    names = [r["name"] for r in rows]
    if len(set(names)) != len(names):
        raise ModelSyntaxError("two defined effects share a name; construct ids must be distinct and hold no '_'")
    return rows


def indirect_paths(instrument_or_graph: Any, *, outcome: str | None = "auto",
                   mediators: Sequence[str] | None = None):
    """Every indirect, total-indirect, total and contrast effect the model builder defines.

    Parameters
    ----------
    instrument_or_graph : Instrument, sequence of Hypothesis or (from, to) pairs, or mapping
        The hypothesis graph. A mapping is ``{from: [to, ...]}``.
    outcome : str or None, default "auto"
        ``"auto"``: the pre-specified mediation family (:func:`_family_effects`) when mediators are known
        (the instrument's ``mediators`` or ``mediators=``), else every endogenous construct.
        A construct id: effects on it and on every construct downstream of it.
        ``None``: on every endogenous construct (contrasts too).
    mediators : sequence of str, optional
        Mediators whose single-mediator effects are contrasted pairwise. Default: the instrument's
        ``mediators``; for a plain graph, every construct with both incoming and outgoing paths.

    Returns
    -------
    pandas.DataFrame
        One row per defined effect: ``name``, ``kind`` (``specific``, ``total_indirect``, ``total``,
        ``contrast``), ``from``, ``to``, ``through`` (e.g. ``"RI>KS"``; ``"RI vs KS"`` for a contrast),
        ``expression`` (the right-hand side of its ``:=`` row), ``family`` (``confirmatory`` /
        ``exploratory``). No two rows define the same effect.

    Raises
    ------
    ModelSyntaxError
        The hypotheses form a cycle or a self-loop.
    OptionError
        ``outcome`` is not in the graph.

    Examples
    --------
    >>> indirect_paths([("X", "M"), ("M", "Y"), ("X", "Y")], outcome="Y")["name"].tolist()
    ['ind_X_M_Y', 'total_X_Y']
    """
    import pandas as pd

    edges, nodes, inst_mediators = _edges_of(instrument_or_graph)
    graph = _Graph(edges, nodes)
    meds = mediators if mediators is not None else inst_mediators
    if outcome == "auto":
        if meds:
            return pd.DataFrame(_family_effects(graph, list(meds)), columns=EFFECT_COLUMNS)
        outcome = None
    rows = _effects(graph, outcome=outcome, mediators=list(meds) if meds else None)
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


# --- syntax ---------------------------------------------------------------------------------------

def _resolve_hypotheses(instrument: Instrument, hypotheses: Iterable[Any] | None) -> list[Hypothesis]:
    if hypotheses is None:
        return list(instrument.hypotheses)
    by_id = {h.id: h for h in instrument.hypotheses}
    out: list[Hypothesis] = []
    for k, h in enumerate(hypotheses):
        if isinstance(h, Hypothesis):
            out.append(h)
        elif isinstance(h, str):
            if h not in by_id:
                raise InstrumentError(f"hypotheses=: {h!r} is not a hypothesis of instrument {instrument.id!r} "
                                      f"(known: {', '.join(by_id) or 'none'})")
            out.append(by_id[h])
        elif isinstance(h, Sequence) and len(h) == 2:
            out.append(Hypothesis(id=f"P{k + 1}", from_=str(h[0]), to=str(h[1])))
        else:
            raise OptionError(f"hypotheses=: cannot read {h!r}; give Hypothesis objects, ids such as 'H1', "
                              f"or (from, to) pairs")
    known = set(instrument.construct_ids())
    for h in out:
        for c in (h.from_, h.to):
            if c not in known:
                raise InstrumentError(f"hypothesis {h.id} ({h.from_} -> {h.to}) names construct {c!r}, which "
                                      f"instrument {instrument.id!r} does not have "
                                      f"(constructs: {', '.join(instrument.construct_ids())})")
    return out


def build_model_syntax(instrument: Instrument, *, hypotheses: Iterable[Any] | None = None,
                       outcome: str | None = "auto", constructs: Sequence[str] | None = None,
                       variant: str = "focal", controls: Sequence[str] | None = None) -> str:
    """lavaan syntax for the measurement and structural model of the hypotheses, with every
    indirect, total and contrast effect defined as a ``:=`` row.

    Parameters
    ----------
    instrument : Instrument
    hypotheses : iterable, optional
        Default: the instrument's hypotheses. Hypothesis objects, hypothesis ids (``"H3"``) or
        (from, to) construct pairs.
    outcome : str or None, default "auto"
        Focal outcome of the defined effects (see :func:`indirect_paths`); ``"auto"`` defines the
        pre-specified mediation family when the instrument names its mediators.
    constructs : sequence of str, optional
        Constructs in the model (measurement part). Default: every construct a hypothesis names (all
        constructs if there are no hypotheses: a CFA). With the instrument's own hypotheses, only those
        between the listed constructs are kept; explicit ``hypotheses`` must stay within them.
    variant : {"focal", "partial", "reversed", "second_order"}
        ``focal``: the hypotheses as given (full mediation). The competing models of
        :func:`competing_models`: ``partial`` adds a direct path from every antecedent to every outcome
        (a construct downstream of the mediators); ``reversed`` reverses the path between the two
        mediators (``KS -> RI`` instead of ``RI -> KS``); ``second_order`` makes co-creation ``CC`` a
        second-order factor of the mediators (``CC =~ 1*RI + 1*KS``), predicted by the antecedents and
        predicting the outcomes.
    controls : sequence of str, optional
        Observed covariates regressed into every outcome (default: the instrument's ``controls``;
        ``()`` for none). The data must hold them as numeric columns.

    Returns
    -------
    str
        lavaan model syntax: ``F =~ x1 + x2 + ...`` rows, ``Y ~ b_Y_X*X + ...`` rows (controls as
        ``c_Y_W*W``) and ``name := expr`` rows (label scheme in the module docstring). Reverse-keyed
        items appear as they are: they are recoded on import.

    Raises
    ------
    InstrumentError
        A hypothesis or ``constructs`` entry names a construct the instrument does not have.
    ModelSyntaxError
        The hypotheses form a cycle.
    OptionError
        An explicit hypothesis leaves ``constructs``, ``outcome`` is not in the structural model, or
        ``variant`` is unknown.

    Notes
    -----
    The R counterpart is writing the same model by hand for ``lavaan::sem()``.
    """
    if variant not in ("focal",) + COMPETING_MODELS:
        raise OptionError(f"variant={variant!r}: use one of focal, {', '.join(COMPETING_MODELS)}")
    explicit = hypotheses is not None
    hyps = _resolve_hypotheses(instrument, hypotheses)
    all_ids = instrument.construct_ids()
    if constructs is not None:
        unknown = [c for c in constructs if c not in all_ids]
        if unknown:
            raise InstrumentError(f"constructs=: {', '.join(map(repr, unknown))} not in instrument "
                                  f"{instrument.id!r} (constructs: {', '.join(all_ids)})")
        chosen = set(constructs)
        outside = [h for h in hyps if h.from_ not in chosen or h.to not in chosen]
        if explicit and outside:
            h = outside[0]
            raise OptionError(f"hypothesis {h.id} ({h.from_} -> {h.to}) names a construct outside constructs=; "
                              f"add it to constructs or drop the hypothesis")
        hyps = [h for h in hyps if h.from_ in chosen and h.to in chosen]
    else:
        named = {c for h in hyps for c in (h.from_, h.to)}
        chosen = named if hyps else set(all_ids)
    model_ids = [c for c in all_ids if c in chosen]
    meds = [m for m in instrument.mediators if m in chosen]

    edges = [(h.from_, h.to) for h in hyps]
    base = _Graph(edges, model_ids) if edges else None
    title = "hypotheses " + ", ".join(h.id for h in hyps)
    second = ""
    if variant != "focal":
        if base is None or len(meds) < 2:
            raise OptionError(f"variant={variant!r} needs hypotheses and two mediators in the instrument")
        m1, m2 = meds[0], meds[1]
        ante = [a for a in base.antecedents() if a not in meds]
        outcomes = [n for n in model_ids if n not in meds and n not in ante and n in
                    set().union(*(base.descendants(m) for m in meds))]
        if variant == "partial":
            extra = [(a, o) for a in ante for o in outcomes if (a, o) not in set(edges)]
            edges = edges + extra
            title += "; partial mediation: + direct paths from each antecedent to each outcome"
        elif variant == "reversed":
            edges = [(m2, m1) if (x, y) == (m1, m2) else (x, y) for x, y in edges]
            if (m2, m1) not in edges:
                edges.append((m2, m1))
            title += f"; reversed order {m2} -> {m1}"
        else:
            cc = "CC"
            new = []
            for x, y in edges:
                if x in meds and y in meds:
                    continue
                x2, y2 = (cc if x in meds else x), (cc if y in meds else y)
                if (x2, y2) not in new:
                    new.append((x2, y2))
            edges = new
            second = f"{cc} =~ 1*{m1} + 1*{m2}"
            model_ids = model_ids + [cc]
            meds = [cc]
            title += f"; {cc} second-order factor of {m1} and {m2}"
    graph = _Graph(edges, model_ids) if edges else None
    if graph is not None and variant == "second_order":
        effects = _effects(graph, outcome=None, mediators=None)
    elif graph is not None:
        effects = indirect_paths(edges if not meds else _Graph(edges, model_ids).edges, outcome=outcome,
                                 mediators=meds or None).to_dict("records") if outcome == "auto" else \
            _effects(graph, outcome=outcome, mediators=list(instrument.mediators) or None)
    else:
        effects = []
    ctrl = list(instrument.controls) if controls is None else list(controls)
    ends = [n for n in model_ids if graph is not None and graph.pred[n] and n not in meds
            and n not in instrument.mediators] if ctrl else []

    lines = [f"# {instrument.id} version {instrument.version}, generated by sem_cocreate.survey.modelbuild"
             + ("" if variant == "focal" else f" (competing model: {variant})"),
             "# labels b_Y_X for the path X -> Y; ind_X_..._Y specific, totind_X_Y total indirect, total_X_Y total,",
             "# diff_X_M1_vs_M2_Y contrast of single-mediator effects; c_Y_W for the control W",
             "", "# measurement model"]
    for cid in model_ids:
        if cid == "CC" and second:
            continue
        lines.append(f"{cid} =~ " + " + ".join(instrument.items_of(cid)))
    if second:
        lines.append(second)
    if graph is not None:
        lines += ["", f"# structural model ({title})" + (f"; controls {', '.join(ctrl)}" if ends else "")]
        for y in model_ids:
            preds = graph.pred[y]
            if preds:
                terms = [f"{path_label(x, y)}*{x}" for x in preds]
                if y in ends:
                    terms += [f"c_{y}_{w}*{w}" for w in ctrl]
                lines.append(f"{y} ~ " + " + ".join(terms))
    if effects:
        lines += ["", "# defined effects"]
        lines += [f"{e['name']} := {e['expression']}" for e in effects]
    return "\n".join(lines) + "\n"


def competing_models(instrument: Instrument, *, controls: Sequence[str] | None = None) -> dict[str, str]:
    """The focal model and its competitors as lavaan syntax, keyed by model name.

    Returns
    -------
    dict
        ``{"focal": ..., "partial": ..., "reversed": ..., "second_order": ...}`` (see
        :func:`build_model_syntax`, ``variant=``). All share the measurement model and the controls, so
        they are fitted to the same data; ``partial`` nests ``focal`` (Δdf = number of added paths).
    """
    out = {"focal": build_model_syntax(instrument, controls=controls)}
    for v in COMPETING_MODELS:
        out[v] = build_model_syntax(instrument, variant=v, controls=controls)
    return out


def hypothesis_table(instrument: Instrument):
    """The hypotheses as lavaan rows: one row each, ``id, lhs, op, rhs, label, sign, text_en, text_zh``.

    ``lhs ~ rhs`` is the regression the hypothesis tests, ``label`` its path label (``b_RI_PS``).
    """
    import pandas as pd

    rows = [{"id": h.id, "lhs": h.to, "op": "~", "rhs": h.from_, "label": path_label(h.from_, h.to),
             "sign": h.sign, "text_en": h.text_en, "text_zh": h.text_zh} for h in instrument.hypotheses]
    return pd.DataFrame(rows, columns=["id", "lhs", "op", "rhs", "label", "sign", "text_en", "text_zh"])
