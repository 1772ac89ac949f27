"""One YAML loader with limits, for every YAML the package reads (instrument, mapping, screening
config, population model).

PyYAML's safe loader runs no code, but it expands aliases: a 32 KB file of nested anchors
("billion laughs") becomes gigabytes when constructed, and printing the value in an error message
expands it again. :func:`load_yaml` first walks the event stream (libyaml, fast, no construction)
and refuses a document that is too large, too deep, uses too many aliases or would expand to too
many nodes; only then is it constructed, with the ordinary safe loader (or the caller's subclass).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 5_000_000        # 5 MB of text: the co-creation instrument is 40 KB
MAX_DEPTH = 64               # nesting of mappings and sequences
MAX_ALIASES = 1_000          # alias uses (*name) in one document
MAX_NODES = 1_000_000        # nodes after every alias is expanded (the alias-bomb guard)

_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document exceeds a size, depth or alias limit (a ``yaml.YAMLError``, so callers that
    turn YAML errors into one-line messages handle it too)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem=problem, problem_mark=mark)

    def __str__(self) -> str:   # short: never the document's content
        where = f" (line {self.problem_mark.line + 1})" if self.problem_mark is not None else ""
        return f"{self.problem}{where}"


def check_yaml_limits(text: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
                      max_aliases: int = MAX_ALIASES, max_nodes: int = MAX_NODES) -> None:
    """Raise :class:`YAMLLimitError` when ``text`` is too big, too deep or expands too far.

    The walk counts, for each anchored node, how many nodes it holds once its own aliases are
    expanded; an alias adds that count to every enclosing node. No object is constructed.
    """
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > max_bytes else len(text)
    if size > max_bytes:
        raise YAMLLimitError(f"the file is {size:,} bytes, more than the {max_bytes:,} allowed")
    anchors: dict[str, int] = {}
    stack: list[list] = []        # [anchor, expanded node count]
    total = 0
    n_alias = 0

    def add(k: int, mark) -> None:
        nonlocal total
        total += k
        if stack:
            stack[-1][1] += k
        if total > max_nodes:
            raise YAMLLimitError(f"aliases expand the document to more than {max_nodes:,} values "
                                 "(an alias bomb?); write the values out instead", mark)

    for ev in yaml.parse(text, Loader=_SafeBase):
        if isinstance(ev, yaml.AliasEvent):
            n_alias += 1
            if n_alias > max_aliases:
                raise YAMLLimitError(f"more than {max_aliases:,} aliases (*name)", ev.start_mark)
            add(anchors.get(ev.anchor, 1), ev.start_mark)
        elif isinstance(ev, yaml.ScalarEvent):
            if ev.anchor:
                anchors[ev.anchor] = 1
            add(1, ev.start_mark)
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= max_depth:
                raise YAMLLimitError(f"nested more than {max_depth} levels deep", ev.start_mark)
            stack.append([ev.anchor, 0])
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, count = stack.pop()
            count += 1
            if anchor:
                anchors[anchor] = count
            add(1, ev.start_mark)
            if stack:
                stack[-1][1] += count - 1   # the children were already added to the parent by add()
        elif isinstance(ev, yaml.DocumentStartEvent) and total:
            anchors.clear()


def load_yaml(text: str, *, loader=None, **limits) -> Any:
    """Parse one YAML document safely: limits first (:func:`check_yaml_limits`), then the safe loader.

    Parameters
    ----------
    text : str
        The document.
    loader : yaml loader class, optional
        A ``SafeLoader`` subclass (e.g. one refusing duplicate keys); default the (C) safe loader.
    **limits
        ``max_bytes``, ``max_depth``, ``max_aliases``, ``max_nodes`` overrides.

    Raises
    ------
    yaml.YAMLError
        Malformed YAML, or :class:`YAMLLimitError` for a document over a limit.
    """
    check_yaml_limits(text, **limits)
    return yaml.load(text, Loader=loader or _SafeBase)  # noqa: S506 - a SafeLoader (subclass)
