"""Instruments (questionnaires): frozen dataclasses, loaded from YAML and validated by a schema.

The dataclasses below are the contract between the instrument and every later stage
(data import, screening, model building, reports). ``load_instrument`` reads a YAML file,
validates it against the schema in :mod:`sem_cocreate._instrument_schema` and returns an
:class:`Instrument`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScalePoint:
    """One response option: its numeric code and its label in English and Chinese."""

    code: int
    label_en: str
    label_zh: str


@dataclass(frozen=True)
class Item:
    """One questionnaire item of a construct."""

    id: str                                   # item id, also the data column name (e.g. "ri1")
    construct: str                            # construct id (e.g. "RI")
    text_en: str
    text_zh: str
    reverse: bool = False                     # reverse-keyed: recoded as (min + max - x) once, on import
    roles: tuple[str, ...] = ("solver", "seeker")
    role_text: tuple[tuple[str, str, str], ...] = ()   # (role, text_en, text_zh) where wording differs
    source_labels: tuple[str, ...] = ()       # other column names / labels this item may carry in exports


@dataclass(frozen=True)
class Construct:
    """A latent construct measured by reflective items."""

    id: str                                   # e.g. "RI"
    name_en: str
    name_zh: str
    definition_en: str
    definition_zh: str
    stage: str                                # "antecedent", "process" or "outcome"
    items: tuple[Item, ...]
    sources: tuple[str, ...] = ()             # references the items adapt
    roles: tuple[str, ...] = ("solver", "seeker")


@dataclass(frozen=True)
class Field:
    """A non-construct survey field: role, platform, experience, duration, attention check, consent."""

    id: str                                   # column name, e.g. "role", "duration", "attn1"
    kind: str                                 # "role", "categorical", "numeric", "duration", "attention", "consent", "id"
    text_en: str = ""
    text_zh: str = ""
    options: tuple[ScalePoint, ...] = ()      # for categorical / role / consent fields
    correct: int | None = None                # attention checks: the correct answer code
    unit: str = ""                            # e.g. "seconds" for duration


@dataclass(frozen=True)
class Hypothesis:
    """A directed structural path ``to ~ from`` with its expected sign (+1 or -1)."""

    id: str                                   # "H1"
    from_: str                                # predictor construct id
    to: str                                   # outcome construct id
    sign: int = 1
    text_en: str = ""
    text_zh: str = ""


@dataclass(frozen=True)
class Instrument:
    """A whole questionnaire: response scale, constructs with items, other fields, hypotheses."""

    id: str
    title_en: str
    title_zh: str
    scale: tuple[ScalePoint, ...]             # ordered response options (e.g. 1..7 agreement)
    constructs: tuple[Construct, ...]
    fields: tuple[Field, ...] = ()
    hypotheses: tuple[Hypothesis, ...] = ()
    missing_codes: tuple[tuple[str, str], ...] = ()   # (code as text, meaning), e.g. ("99", "refused")
    mediators: tuple[str, ...] = ()            # construct ids treated as process mediators (e.g. RI, KS)
    version: str = "1"
    meta: tuple[tuple[str, str], ...] = field(default=())

    # -- convenience lookups (cheap, no caching needed at these sizes) --------------------------
    @property
    def scale_min(self) -> int:
        return min(p.code for p in self.scale)

    @property
    def scale_max(self) -> int:
        return max(p.code for p in self.scale)

    def item_ids(self) -> list[str]:
        return [it.id for c in self.constructs for it in c.items]

    def items(self) -> list[Item]:
        return [it for c in self.constructs for it in c.items]

    def construct(self, construct_id: str) -> Construct:
        for c in self.constructs:
            if c.id == construct_id:
                return c
        raise KeyError(construct_id)

    def construct_ids(self) -> list[str]:
        return [c.id for c in self.constructs]

    def items_of(self, construct_id: str) -> list[str]:
        return [it.id for it in self.construct(construct_id).items]

    def reverse_items(self) -> list[str]:
        return [it.id for it in self.items() if it.reverse]

    def attention_checks(self) -> list[Field]:
        return [f for f in self.fields if f.kind == "attention"]

    def field_of_kind(self, kind: str) -> Field | None:
        for f in self.fields:
            if f.kind == kind:
                return f
        return None

    def anchors(self, lang: str = "zh") -> dict[str, int]:
        """Map response labels (in ``lang``) to codes, e.g. {"非常同意": 7}."""
        return {(p.label_zh if lang == "zh" else p.label_en): p.code for p in self.scale}
