"""The instrument YAML schema (pydantic v2) and its conversion to the frozen dataclasses.

Two layers of checks:

1. *Shape* — pydantic models with ``extra="forbid"`` mirror the YAML key for key, so every
   problem is reported with the YAML's own field path, e.g.
   ``questionnaires/x.yaml: constructs[3].items[1].text.zh: missing``.
2. *Consistency* — ids unique across constructs, items and fields; hypotheses naming known
   constructs and forming no cycle; scale codes unique and increasing; attention checks whose
   correct answer is one of their options; at least 2 items per construct (a warning below 3);
   roles known; missing codes distinct from scale codes.

The first problem is raised as one :class:`~sem_cocreate.exceptions.InstrumentError` line
(``(and N more problems)`` is appended when there are several).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints
from pydantic import ValidationError, field_validator

from ..exceptions import InputFileError, InstrumentError
from .instrument import (
    DEFAULT_INSTRUMENT_RELPATH,
    Construct,
    Field as FieldDC,
    Hypothesis,
    Instrument,
    InstrumentWarning,
    Item,
    Moderator,
    ScalePoint,
)

ITEM_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
CONSTRUCT_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"
_PATTERN_TEXT = {
    ITEM_ID_PATTERN: "must start with a letter and hold only letters, digits and _",
    CONSTRUCT_ID_PATTERN: "must start with a letter and hold only letters and digits (no _: it separates "
                          "construct ids in effect names such as ind_PS_RI_VCC)",
}

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ItemId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=ITEM_ID_PATTERN)]
ConstructId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CONSTRUCT_ID_PATTERN)]
Stage = Literal["antecedent", "process", "outcome", "marker"]
Actor = Literal["seeker", "solver", "platform", "dyad"]
FieldKind = Literal["id", "role", "categorical", "numeric", "duration", "attention", "consent", "text",
                    "status"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Bilingual(_Model):
    en: Text
    zh: Text


class OptionalBilingual(_Model):
    en: str = ""
    zh: str = ""


class ScalePointModel(_Model):
    code: StrictInt
    en: Text
    zh: Text
    name: str = ""
    aliases: list[str] = []


class MissingCodeModel(_Model):
    code: StrictInt | Text
    en: Text
    zh: Text


class ItemModel(_Model):
    id: ItemId
    text: Bilingual
    reverse: StrictBool = False
    roles: list[Text] | None = None
    role_text: dict[str, Bilingual] = {}
    source_labels: list[Text] = []
    source: str = ""                      # the scale and original item this item adapts


class ConstructModel(_Model):
    id: ConstructId
    stage: Stage
    name: Bilingual
    definition: Bilingual
    roles: list[Text] = ["solver", "seeker"]
    sources: list[Text] = []
    actor: Actor | None = None            # whose value or behaviour the construct is about
    marker: StrictBool = False            # theoretically unrelated marker construct (CFA marker technique)
    items: list[ItemModel]


class FieldModel(_Model):
    id: ItemId
    kind: FieldKind
    text: OptionalBilingual = OptionalBilingual()
    options: list[ScalePointModel] | None = None
    correct: StrictInt | None = None
    unit: str = ""
    after: str = ""
    min: float | None = None
    max: float | None = None
    required: StrictBool = False


class HypothesisModel(_Model):
    id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^H[0-9]+[a-z]?$")]
    from_: str = Field(alias="from")
    to: str
    sign: int = 1
    text: OptionalBilingual = OptionalBilingual()
    rationale: OptionalBilingual = OptionalBilingual()   # why this path (from the paper's account)
    sources: list[Text] = []                               # literature behind the path

    @field_validator("sign", mode="before")
    @classmethod
    def _sign(cls, value: Any) -> int:
        table = {"+": 1, "-": -1, "positive": 1, "negative": -1, "1": 1, "-1": -1, "+1": 1}
        if isinstance(value, bool):
            raise ValueError(f"must be '+' or '-' (got {value!r})")
        if isinstance(value, int) and value in (1, -1):
            return value
        if isinstance(value, str) and value.strip().lower() in table:
            return table[value.strip().lower()]
        raise ValueError(f"must be '+' or '-' (got {value!r})")


class ModeratorModel(_Model):
    id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^H[A-Za-z0-9]+$")]
    field: str                                              # grouping field (e.g. role, mode)
    text: OptionalBilingual = OptionalBilingual()
    rationale: OptionalBilingual = OptionalBilingual()
    sources: list[Text] = []


class InstrumentModel(_Model):
    id: ItemId
    version: str | int = "1"
    title: Bilingual
    instructions: OptionalBilingual = OptionalBilingual()
    meta: dict[str, str | int | float] = {}
    scale: list[ScalePointModel]
    missing_codes: list[MissingCodeModel] = []
    constructs: list[ConstructModel]
    fields: list[FieldModel] = []
    hypotheses: list[HypothesisModel] = []
    mediators: list[str] = []
    controls: list[str] = []                               # fields entered as observed covariates of the outcomes
    moderators: list[ModeratorModel] = []                  # multi-group comparisons, each with its hypothesis


# --- reading ------------------------------------------------------------------------------------

_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)     # libyaml when available: ~10x faster


class _UniqueKeyLoader(_SafeBase):
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Read a YAML file; InputFileError if it is missing, InstrumentError (with line) if malformed."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{path}: instrument file not found; pass an existing questionnaire YAML "
                             f"(e.g. questionnaires/cocreation.yaml).")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: cannot be read as UTF-8 text ({err}); save it as UTF-8.") from None
    try:
        from .safe_yaml import load_yaml

        return load_yaml(text, loader=_UniqueKeyLoader)   # limits on size, depth, aliases
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = err.problem or err.context or "cannot be parsed"
        raise InstrumentError(f"{path}: {where}YAML syntax error: {problem}; fix the YAML there.") from None
    except yaml.YAMLError as err:
        raise InstrumentError(f"{path}: YAML syntax error: {' '.join(str(err).split())}") from None


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_problem(err: dict[str, Any]) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "unknown key (check its spelling against the schema)"
    if kind == "string_too_short":
        return "empty"
    if kind == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern", "")
        return f"{_PATTERN_TEXT.get(pattern, 'has an invalid form')} (got {got!r})"
    if kind == "bool_type":
        return f"must be true or false (got {got!r})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number (got {got!r})"
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return f"must be one of {expected} (got {got!r})"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list (got {type(got).__name__})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys to values (got {type(got).__name__})"
    if kind == "string_type":
        return f"must be text (got {got!r})"
    msg = str(err.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg[:1].lower() + msg[1:]


def _raise(path: str | os.PathLike[str], problems: list[tuple[str, str]]) -> None:
    where, what = problems[0]
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    prefix = f"{where}: " if where else ""
    raise InstrumentError(f"{path}: {prefix}{what}{more}")


def _shape_errors(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        loc = tuple(e["loc"])
        # union members add their type name to the location (e.g. code.int); drop it
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("int", "str"))))
        out.append((_loc_text(loc), _pydantic_problem(e)))
    # one line per location: keep the first problem at each path
    seen: dict[str, str] = {}
    for where, what in out:
        seen.setdefault(where, what)
    return list(seen.items())


# --- consistency ----------------------------------------------------------------------------------

def check_consistency(m: InstrumentModel) -> tuple[list[tuple[str, str]], list[str]]:
    """Semantic checks on a shape-valid instrument: (errors as (path, problem), warnings)."""
    errors: list[tuple[str, str]] = []
    warns: list[str] = []

    # response scale
    if len(m.scale) < 2:
        errors.append(("scale", f"needs at least 2 response options (got {len(m.scale)})"))
    codes = [p.code for p in m.scale]
    for i, p in enumerate(m.scale):
        if codes.index(p.code) != i:
            errors.append((f"scale[{i}].code", f"duplicate code {p.code} (also scale[{codes.index(p.code)}])"))
        elif i and p.code <= codes[i - 1]:
            errors.append((f"scale[{i}].code", f"codes must increase down the list ({codes[i - 1]} then {p.code})"))
    seen_missing: dict[str, int] = {}
    for i, mc in enumerate(m.missing_codes):
        key = str(mc.code)
        if key in seen_missing:
            errors.append((f"missing_codes[{i}].code", f"duplicate missing code {key}"))
        seen_missing.setdefault(key, i)
        if isinstance(mc.code, int) and mc.code in codes:
            errors.append((f"missing_codes[{i}].code", f"{mc.code} is also a response-scale code; use a code "
                                                       f"outside {min(codes)}..{max(codes)} (e.g. 99 or -99)"))

    # roles
    role_fields = [(i, f) for i, f in enumerate(m.fields) if f.kind == "role"]
    if len(role_fields) > 1:
        errors.append((f"fields[{role_fields[1][0]}].kind", "only one field may have kind 'role'"))
    known_roles = ["solver", "seeker"]
    if role_fields:
        i, rf = role_fields[0]
        names = []
        for j, opt in enumerate(rf.options or []):
            if not opt.name:
                errors.append((f"fields[{i}].options[{j}].name", "missing (role options need a machine name, "
                                                                  "e.g. solver)"))
            names.append(opt.name)
        if rf.options:
            known_roles = [n for n in names if n]

    # unique ids across constructs, items and fields
    where_id: dict[str, str] = {}

    def claim(ident: str, path: str) -> None:
        if ident in where_id:
            errors.append((path, f"duplicate id {ident!r} (also {where_id[ident]}); ids of constructs, items "
                                 f"and fields must be unique"))
        else:
            where_id[ident] = path

    construct_ids = [c.id for c in m.constructs]
    for ci, c in enumerate(m.constructs):
        claim(c.id, f"constructs[{ci}].id")
        for r_i, role in enumerate(c.roles):
            if role not in known_roles:
                errors.append((f"constructs[{ci}].roles[{r_i}]",
                               f"unknown role {role!r} (known: {', '.join(known_roles)})"))
        if len(c.items) < 2:
            errors.append((f"constructs[{ci}].items", f"construct {c.id} has {len(c.items)} item(s); a "
                                                      f"reflective construct needs at least 2 (better 3)"))
        elif len(c.items) < 3:
            warns.append(f"constructs[{ci}].items: construct {c.id} has only {len(c.items)} items; "
                         f"3 or more make it identified on its own and its reliability estimable")
        for ii, it in enumerate(c.items):
            base = f"constructs[{ci}].items[{ii}]"
            claim(it.id, f"{base}.id")
            item_roles = c.roles if it.roles is None else it.roles
            for r_i, role in enumerate(it.roles or []):
                if role not in c.roles:
                    errors.append((f"{base}.roles[{r_i}]",
                                   f"role {role!r} is not asked construct {c.id} (its roles: {', '.join(c.roles)})"))
            for role in it.role_text:
                if role not in item_roles:
                    errors.append((f"{base}.role_text.{role}",
                                   f"role {role!r} is not among the item's roles ({', '.join(item_roles)})"))

    for fi, f in enumerate(m.fields):
        base = f"fields[{fi}]"
        claim(f.id, f"{base}.id")
        if f.kind in ("role", "categorical", "consent") and not f.options:
            errors.append((f"{base}.options", f"missing (a {f.kind} field needs its answer options)"))
        opts = f.options if f.options is not None else (m.scale if f.kind == "attention" else [])
        opt_codes = [o.code for o in opts]
        for j, code in enumerate(opt_codes if f.options is not None else []):
            if opt_codes.index(code) != j:
                errors.append((f"{base}.options[{j}].code", f"duplicate code {code}"))
        if f.kind == "attention":
            if f.correct is None:
                errors.append((f"{base}.correct", "missing (an attention check needs its correct answer code)"))
            elif f.correct not in opt_codes:
                errors.append((f"{base}.correct", f"{f.correct} is not one of the options ({', '.join(map(str, opt_codes))})"))
        elif f.kind == "consent" and f.correct is not None:
            if f.correct not in opt_codes:
                errors.append((f"{base}.correct", f"{f.correct} is not one of the options ({', '.join(map(str, opt_codes))})"))
        elif f.correct is not None:
            errors.append((f"{base}.correct", f"only attention fields have a correct answer, and consent "
                                              f"fields their agreeing code (kind is {f.kind!r})"))
        if f.after and f.after not in construct_ids:
            errors.append((f"{base}.after", f"unknown construct {f.after!r} (known: {', '.join(construct_ids)})"))
        if f.min is not None and f.max is not None and f.min > f.max:
            errors.append((f"{base}.min", f"{f.min} is above max {f.max}"))

    # hypotheses
    seen_h: dict[str, int] = {}
    seen_edge: dict[tuple[str, str], str] = {}
    good_edges: list[tuple[str, str]] = []
    for hi, h in enumerate(m.hypotheses):
        base = f"hypotheses[{hi}]"
        if h.id in seen_h:
            errors.append((f"{base}.id", f"duplicate hypothesis id {h.id!r} (also hypotheses[{seen_h[h.id]}])"))
        seen_h.setdefault(h.id, hi)
        ok = True
        for key, value in (("from", h.from_), ("to", h.to)):
            if value not in construct_ids:
                errors.append((f"{base}.{key}", f"unknown construct {value!r} (known: {', '.join(construct_ids)})"))
                ok = False
        if ok and h.from_ == h.to:
            errors.append((base, f"{h.id} goes from {h.from_} to itself"))
            ok = False
        if ok and (h.from_, h.to) in seen_edge:
            errors.append((base, f"{h.id} repeats the path {h.from_} -> {h.to} of {seen_edge[(h.from_, h.to)]}"))
            ok = False
        if ok:
            seen_edge[(h.from_, h.to)] = h.id
            good_edges.append((h.from_, h.to))
    from ._graph import find_cycle

    cycle = find_cycle(good_edges)
    if cycle:
        ids = [seen_edge[(a, b)] for a, b in zip(cycle, cycle[1:])]
        errors.append(("hypotheses", f"cycle {' -> '.join(cycle)} ({', '.join(ids)}); the structural model "
                                     f"must be recursive (no feedback loops)"))
    markers = {c.id for c in m.constructs if c.marker or c.stage == "marker"}
    for hi, h in enumerate(m.hypotheses):
        for key, value in (("from", h.from_), ("to", h.to)):
            if value in markers:
                errors.append((f"hypotheses[{hi}].{key}", f"{value} is a marker construct; a marker must stay "
                                                          f"theoretically unrelated (no hypothesis)"))
    field_ids = [f.id for f in m.fields]
    for ci_, ctrl in enumerate(m.controls):
        if ctrl not in field_ids:
            errors.append((f"controls[{ci_}]", f"unknown field {ctrl!r} (fields: {', '.join(field_ids)})"))
    for gi, g in enumerate(m.moderators):
        if g.field not in field_ids:
            errors.append((f"moderators[{gi}].field", f"unknown field {g.field!r} (fields: {', '.join(field_ids)})"))
    for mi, med in enumerate(m.mediators):
        if med not in construct_ids:
            errors.append((f"mediators[{mi}]", f"unknown construct {med!r} (known: {', '.join(construct_ids)})"))
    return errors, warns


# --- conversion -----------------------------------------------------------------------------------

def _point(p: ScalePointModel) -> ScalePoint:
    return ScalePoint(code=p.code, label_en=p.en, label_zh=p.zh, name=p.name, aliases=tuple(p.aliases))


def to_instrument(m: InstrumentModel, *, source_path: str = "") -> Instrument:
    """Convert a validated :class:`InstrumentModel` to the frozen :class:`Instrument`."""
    scale = tuple(_point(p) for p in m.scale)
    constructs = []
    for c in m.constructs:
        items = tuple(
            Item(
                id=it.id,
                construct=c.id,
                text_en=it.text.en,
                text_zh=it.text.zh,
                reverse=it.reverse,
                roles=tuple(c.roles if it.roles is None else it.roles),
                role_text=tuple((r, t.en, t.zh) for r, t in it.role_text.items()),
                source_labels=tuple(it.source_labels),
                source=it.source,
            )
            for it in c.items
        )
        constructs.append(Construct(
            id=c.id, name_en=c.name.en, name_zh=c.name.zh, definition_en=c.definition.en,
            definition_zh=c.definition.zh, stage=c.stage, items=items, sources=tuple(c.sources),
            roles=tuple(c.roles), actor=c.actor or "", marker=c.marker,
        ))
    fields = []
    for f in m.fields:
        if f.options is not None:
            options = tuple(_point(p) for p in f.options)
        else:
            options = scale if f.kind == "attention" else ()
        fields.append(FieldDC(
            id=f.id, kind=f.kind, text_en=f.text.en, text_zh=f.text.zh, options=options, correct=f.correct,
            unit=f.unit, after=f.after, minimum=f.min, maximum=f.max, required=f.required,
        ))
    hypotheses = tuple(
        Hypothesis(id=h.id, from_=h.from_, to=h.to, sign=h.sign, text_en=h.text.en, text_zh=h.text.zh,
                   rationale_en=h.rationale.en, rationale_zh=h.rationale.zh, sources=tuple(h.sources))
        for h in m.hypotheses
    )
    return Instrument(
        id=m.id,
        title_en=m.title.en,
        title_zh=m.title.zh,
        scale=scale,
        constructs=tuple(constructs),
        fields=tuple(fields),
        hypotheses=hypotheses,
        missing_codes=tuple((str(mc.code), f"{mc.en} ({mc.zh})") for mc in m.missing_codes),
        mediators=tuple(m.mediators),
        controls=tuple(m.controls),
        moderators=tuple(Moderator(id=g.id, field=g.field, text_en=g.text.en, text_zh=g.text.zh,
                                   rationale_en=g.rationale.en, rationale_zh=g.rationale.zh,
                                   sources=tuple(g.sources)) for g in m.moderators),
        version=str(m.version),
        meta=tuple((k, str(v)) for k, v in m.meta.items()),
        instructions_en=m.instructions.en,
        instructions_zh=m.instructions.zh,
        source_path=source_path,
    )


def parse_instrument_data(data: Any, *, path: str | os.PathLike[str] = "<instrument>") -> Instrument:
    """Validate already-loaded YAML data (a dict) and convert it; see :func:`parse_instrument_file`."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise InstrumentError(f"{path}: the file is {kind}, not a mapping with keys id, title, scale, "
                              f"constructs, ...; see questionnaires/cocreation.yaml for the layout.")
    try:
        model = InstrumentModel.model_validate(data)
    except ValidationError as err:
        _raise(path, _shape_errors(err))
    errors, warns = check_consistency(model)
    if errors:
        _raise(path, errors)
    for w in warns:
        warnings.warn(f"{path}: {w}", InstrumentWarning, stacklevel=3)
    return to_instrument(model, source_path=str(path))


def parse_instrument_file(path: str | os.PathLike[str]) -> Instrument:
    """Read, validate and convert an instrument YAML file (the work behind ``load_instrument``)."""
    return parse_instrument_data(read_yaml(path), path=path)


def default_instrument_path() -> Path:
    """The default instrument: ``questionnaires/cocreation.yaml`` in the current directory if it
    exists, else the copy packaged in ``sem_cocreate/resources/questionnaires/``."""
    local = Path(DEFAULT_INSTRUMENT_RELPATH)
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[1] / "resources" / DEFAULT_INSTRUMENT_RELPATH


def load_instrument(path: str | os.PathLike[str] | None = None) -> Instrument:
    """Read a questionnaire YAML, validate it against the schema and return an :class:`Instrument`.

    Parameters
    ----------
    path : str or path-like, optional
        The YAML file; default :func:`default_instrument_path`.

    Returns
    -------
    Instrument

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    InstrumentError
        YAML syntax error (with its line) or a schema / consistency problem, as
        ``<file>: <field path>: <problem>``, e.g. ``x.yaml: constructs[3].items[1].text.zh: missing``.

    Warns
    -----
    InstrumentWarning
        A construct has fewer than 3 items.
    """
    return parse_instrument_file(default_instrument_path() if path is None else path)
