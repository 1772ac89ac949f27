"""Notes and warnings of a study, each saying which model or analysis it concerns.

One :class:`NoteLog` per study. Every step runs its models inside ``log.capture(topic)``, which
records every Python warning raised there (ours, numpy's, pandas') as a note of that topic instead
of letting it reach stderr with a source line. ``notes.json`` and the report show all notes; the CLI
prints one line per warning about the user's own model (:data:`OWN_MODEL_TOPICS`) and one line
pointing to ``notes.json`` for the rest.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

#: topics that concern the model the user asked for (warnings about them are shown on stderr)
OWN_MODEL_TOPICS = ("structural model", "measurement model")


@dataclass(frozen=True)
class Note:
    """One note: ``topic`` (e.g. "structural model", "bootstrap", "HTMT"), the message and its level."""

    topic: str
    message: str
    level: str = "info"          # "info" or "warning"

    def text(self) -> str:
        return f"{self.topic}: {self.message}" if self.topic else self.message


@dataclass
class NoteLog:
    """The notes of one study run, in order, without duplicates."""

    entries: list[Note] = field(default_factory=list)

    def add(self, topic: str, message: str, *, level: str = "info") -> None:
        message = " ".join(str(message).split())
        note = Note(topic, message, level)
        if not any(n.topic == topic and n.message == message for n in self.entries):
            self.entries.append(note)

    def extend(self, topic: str, messages, *, level: str = "info") -> None:
        for m in messages:
            self.add(topic, m, level=level)

    @contextmanager
    def capture(self, topic: str):
        """Record every warning raised inside the block as a warning-level note of ``topic``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield self
        for w in caught:
            self.add(topic, _warning_text(w), level="warning")

    def texts(self) -> list[str]:
        return [n.text() for n in self.entries]

    def warnings_for(self, topics=OWN_MODEL_TOPICS) -> list[Note]:
        return [n for n in self.entries if n.level == "warning" and n.topic in topics]

    def frozen(self) -> tuple[Note, ...]:
        return tuple(self.entries)


def _warning_text(w: warnings.WarningMessage) -> str:
    from ..exceptions import SemCocreateWarning

    msg = str(w.message)
    if issubclass(w.category, SemCocreateWarning):
        return msg
    # a library's warning (numpy, pandas, scipy): say what kind, never the source line
    return f"{w.category.__name__}: {msg}"
