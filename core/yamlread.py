"""YAML that people write (the policy, the roster file), read within bounds.

A short hostile file must not take the bot's memory or time: the text is capped in size, nesting
is capped, and what aliases add on top of what the file spells out is capped (a 500-byte "billion
laughs" expands to a few nodes, or is refused). A key written twice in one mapping is refused
rather than letting the second silently replace the reviewed first. Every refusal is a
`YamlProblem` with a line and one sentence; a value is only ever quoted as a short excerpt.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # 1 MiB: a hand-kept policy or roster is a few kilobytes
MAX_DEPTH = 64
MAX_ALIAS_NODES = 50_000  # nodes that aliases may add to those written out
MAX_NUMBER_CHARS = 40  # longer integers are not values these files use (and cost quadratic time)
EXCERPT_CHARS = 40

_excerpt = reprlib.Repr()
_excerpt.maxstring = EXCERPT_CHARS
_excerpt.maxother = EXCERPT_CHARS
_excerpt.maxlevel = 2
_excerpt.maxlist = _excerpt.maxtuple = _excerpt.maxset = _excerpt.maxdict = 3
_excerpt.maxlong = EXCERPT_CHARS


class YamlProblem(Exception):
    """Why a YAML text was not read; `line` is 1-based, None when it is about the whole file."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    def where(self, filename: str) -> str:
        return f"{filename}:{self.line if self.line is not None else 1}: {self.message}"


def excerpt(value: Any) -> str:
    """A short quotation of a value for an error message, however large or deep the value is."""
    if isinstance(value, str | bytes) and len(value) > EXCERPT_CHARS:
        value = value[: EXCERPT_CHARS - 1]
        return (value if isinstance(value, str) else repr(value)) + "…"
    if isinstance(value, str):
        return value
    return _excerpt.repr(value)


def shorten(sentence: str, limit: int = 300) -> str:
    """A sentence cut to `limit` characters, for messages that may quote what a file holds."""
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def decode(raw: bytes) -> str:
    """The text of a file's bytes: UTF-8, at most MAX_BYTES."""
    if len(raw) > MAX_BYTES:
        raise YamlProblem(
            None, f"the file is {len(raw):,} bytes; the most this reads is {MAX_BYTES:,}"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, "the file is not UTF-8 text") from None


def load(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data; raise YamlProblem."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(None, f"the file is longer than {MAX_BYTES:,} characters")
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # refuses characters YAML does not allow, first
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expansion(root)
        return root, loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        raise YamlProblem(mark.line + 1 if mark else None, shorten(problem, 120)) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise YamlProblem(line, f"a character YAML does not allow ({exc.reason})") from None
    except yaml.YAMLError:
        raise YamlProblem(None, "not valid YAML") from None
    finally:
        if loader is not None:
            loader.dispose()


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with a nesting cap while composing, duplicate keys refused, and values that
    cannot be built (a 5,000-digit number, the 30th of February) refused on their line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlProblem(mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: dict[Any, yaml.Node]) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line, ident = key.start_mark.line + 1, (key.tag, key.value)
            if ident in first:
                raise YamlProblem(
                    line,
                    f"the key `{excerpt(key.value)}` is written twice (first on line {first[ident]})",
                )
            first[ident] = line
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        # `2026-02-30`, or an explicit tag on a value it cannot build (`!!int ''`, `!!bool x`)
        except (ValueError, OverflowError, LookupError, AttributeError, TypeError):
            text = node.value if isinstance(node, yaml.ScalarNode) else ""
            raise YamlProblem(
                node.start_mark.line + 1, f"cannot read the value `{excerpt(text)}`"
            ) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(node.value) > MAX_NUMBER_CHARS:
            raise YamlProblem(
                node.start_mark.line + 1,
                f"a number of more than {MAX_NUMBER_CHARS} characters; quote it if it is text",
            )
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand far beyond what it spells out, or loop.

    The node tree shares an anchored node between its aliases, so it stays small; the data built
    from it does too, until something walks it (validation, an error message) once per alias.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)  # exact: ints do not overflow
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if depth[key] > MAX_DEPTH:
                raise YamlProblem(
                    node.start_mark.line + 1,
                    f"aliases here nest more than {MAX_DEPTH} levels deep",
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlProblem(node.start_mark.line + 1, "an alias here refers to itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)
    written = len(size)
    if size[id(root)] - written > MAX_ALIAS_NODES:
        raise YamlProblem(
            None,
            f"aliases expand this file to more than {MAX_ALIAS_NODES:,} values beyond those written",
        )
