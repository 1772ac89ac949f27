"""Instruments (questionnaires): frozen dataclasses, loaded from YAML and validated by a schema.

The dataclasses below are the contract between the instrument and every later stage
(data import, screening, model building, reports). ``load_instrument`` reads a YAML file,
validates it against the schema in :mod:`sem_cocreate._instrument_schema` and returns an
:class:`Instrument`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import DataWarning

#: The repository-relative location of the default co-creation instrument.
DEFAULT_INSTRUMENT_RELPATH = "questionnaires/cocreation.yaml"


class InstrumentWarning(DataWarning):
    """Something in an instrument deserves attention but is not an error (e.g. a 2-item construct)."""


def _norm(text: object) -> str:
    return " ".join(str(text).split()).casefold()


@dataclass(frozen=True)
class ScalePoint:
    """One response option: its numeric code and its label in English and Chinese."""

    code: int
    label_en: str
    label_zh: str
    name: str = ""                            # machine name, e.g. "solver" for the role option 1
    aliases: tuple[str, ...] = ()             # other texts that mean this option in exports

    def matches(self, value: object) -> bool:
        """True if ``value`` is this option's code (as number or text), name, label or an alias."""
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return float(value) == float(self.code)
        text = _norm(value)
        if not text:
            return False
        try:
            return float(text) == float(self.code)
        except ValueError:
            pass
        names = (self.name, self.label_en, self.label_zh, *self.aliases)
        return any(text == _norm(n) for n in names if n)


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
    source: str = ""                          # the scale and original item this item adapts

    def text_for(self, role: str | None = None, lang: str = "en") -> str:
        """The wording for ``role`` (its role-specific text where one exists) in ``lang`` ("en"/"zh")."""
        for r, en, zh in self.role_text:
            if role is not None and r == role:
                return zh if lang == "zh" else en
        return self.text_zh if lang == "zh" else self.text_en


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
    actor: str = ""                           # "seeker", "solver", "platform" or "dyad" ("" = not stated)
    marker: bool = False                      # marker variable for the CFA marker technique


@dataclass(frozen=True)
class Field:
    """A non-construct survey field: role, platform, experience, duration, attention check, consent."""

    id: str                                   # column name, e.g. "role", "duration", "attn1"
    kind: str                                 # "role", "categorical", "numeric", "duration", "attention", "consent",
    #                                           "id", "text", "status" (Qualtrics Status: 1 = Survey Preview)
    text_en: str = ""
    text_zh: str = ""
    options: tuple[ScalePoint, ...] = ()      # for categorical / role / consent fields
    correct: int | None = None                # attention checks: the correct answer; consent: the agreeing code
    unit: str = ""                            # e.g. "seconds" for duration
    after: str = ""                           # construct id after whose block the field is asked ("" = intro)
    minimum: float | None = None              # numeric / duration fields: plausible range
    maximum: float | None = None
    required: bool = False                    # the survey should force an answer (e.g. consent)

    def code_for(self, value: object) -> int | None:
        """The option code that ``value`` stands for (code, name, label or alias), or None."""
        for p in self.options:
            if p.matches(value):
                return p.code
        return None

    def name_for(self, code: object) -> str | None:
        """The machine name of the option with this code (e.g. 1 -> "solver"), or None."""
        for p in self.options:
            if p.matches(code):
                return p.name or p.label_en
        return None


@dataclass(frozen=True)
class Hypothesis:
    """A directed structural path ``to ~ from`` with its expected sign (+1 or -1)."""

    id: str                                   # "H1"
    from_: str                                # predictor construct id
    to: str                                   # outcome construct id
    sign: int = 1
    text_en: str = ""
    text_zh: str = ""
    rationale_en: str = ""                    # why this path, from the theory
    rationale_zh: str = ""
    sources: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The lavaan label of this path, ``b_<to>_<from>`` (``b_RI_PS`` for ``RI ~ PS``)."""
        return f"b_{self.to}_{self.from_}"


@dataclass(frozen=True)
class Moderator:
    """A multi-group comparison by a field (role, crowdsourcing mode) with its stated hypothesis."""

    id: str                                   # "HG1"
    field: str                                # grouping field id
    text_en: str = ""
    text_zh: str = ""
    rationale_en: str = ""
    rationale_zh: str = ""
    sources: tuple[str, ...] = ()


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
    instructions_en: str = ""                  # matrix stem shown above every construct block
    instructions_zh: str = ""
    source_path: str = ""                      # the file it was loaded from, as given
    controls: tuple[str, ...] = ()             # field ids entered as observed covariates of the outcomes
    moderators: tuple[Moderator, ...] = ()     # multi-group comparisons with their hypotheses

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

    def role_names(self) -> tuple[str, ...]:
        """Machine names of the respondent roles (from the role field; default solver, seeker)."""
        f = self.field_of_kind("role")
        if f is None or not f.options:
            return ("solver", "seeker")
        return tuple(p.name or p.label_en for p in f.options)

    def get_field(self, field_id: str) -> Field:
        """The non-construct field with this id (KeyError if none)."""
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def missing_values(self) -> list[float]:
        """The missing-value codes as numbers (codes that are not numbers are left out)."""
        out = []
        for code, _ in self.missing_codes:
            try:
                out.append(float(code))
            except ValueError:
                continue
        return out

    def marker_constructs(self) -> list[str]:
        """Ids of the marker constructs (``marker: true``), in instrument order."""
        return [c.id for c in self.constructs if c.marker or c.stage == "marker"]

    def hypothesis_edges(self) -> list[tuple[str, str]]:
        """The hypotheses as (from, to) construct pairs, in file order."""
        return [(h.from_, h.to) for h in self.hypotheses]

    def antecedents(self) -> list[str]:
        """Constructs with an outgoing but no incoming hypothesis, in instrument order."""
        targets = {h.to for h in self.hypotheses}
        starts = {h.from_ for h in self.hypotheses}
        return [c for c in self.construct_ids() if c in starts and c not in targets]
