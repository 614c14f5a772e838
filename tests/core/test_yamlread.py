"""YAML people write is read within bounds: hostile files are refused in one short sentence on
their line, in milliseconds, and a key written twice is refused instead of silently replaced."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.yamlread import MAX_BYTES, YamlProblem, decode, excerpt, load


def laughs(levels: int = 9, fan: int = 9) -> str:
    """The "billion laughs": each anchor is a list of `fan` aliases of the one before."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]")
    return "\n".join(lines) + "\n"


def refusal(text: str) -> YamlProblem:
    with pytest.raises(YamlProblem) as caught:
        load(text)
    return caught.value


def test_billion_laughs_is_refused_at_once_without_building_it() -> None:
    text = laughs()
    assert len(text) < 600
    problem = refusal(text)

    assert "aliases expand" in problem.message


def test_a_few_aliases_of_a_shared_list_are_read() -> None:
    root, data = load("sre: &sre [a@example.com, b@example.com]\nx: *sre\ny: *sre\n")

    assert data == {"sre": ["a@example.com", "b@example.com"]} | {
        "x": ["a@example.com", "b@example.com"],
        "y": ["a@example.com", "b@example.com"],
    }
    assert root is not None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "the key `a` is written twice (first on line 1)"),
        ("{a: 1, a: 2}\n", 1, "the key `a` is written twice (first on line 1)"),
        ("x:\n  prod-db: 1\n  y: 2\n  prod-db: 3\n", 4, "`prod-db` is written twice"),
        ("[" * 5000, 1, "nested more than 64 levels deep"),
        ("v: " + "9" * 5000 + "\n", 1, "a number of more than 40 characters"),
        ("ok: 1\nd: 2026-02-30\n", 2, "cannot read the value `2026-02-30`"),
        ("a: b\nc: \x00\n", 2, "a character YAML does not allow"),
        ("a: &a [*a]\n", 1, "an alias here refers to itself"),
        ("a: [\n", 2, "expected"),
    ],
    ids=[
        "duplicate",
        "duplicate-flow",
        "duplicate-nested",
        "deep",
        "huge-int",
        "no-such-date",
        "nul",
        "self-alias",
        "unclosed",
    ],
)
def test_hostile_or_broken_yaml_is_one_sentence_on_its_line(
    text: str, line: int, words: str
) -> None:
    problem = refusal(text)

    assert problem.line == line
    assert words in problem.message
    assert len(problem.message) < 200


def test_merge_keys_are_not_duplicates() -> None:
    _, data = load("base: &b {x: 1}\nz: {<<: *b, y: 2}\n")

    assert data["z"] == {"x": 1, "y": 2}


def test_an_oversized_file_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(YamlProblem, match="the most this reads is"):
        decode(b"a: b\n" * (MAX_BYTES // 5 + 1))


def test_bytes_that_are_not_utf8_are_refused_on_their_line() -> None:
    with pytest.raises(YamlProblem) as caught:
        decode(b"a: b\nc: \xff\xfe\n")

    assert (caught.value.line, caught.value.message) == (2, "the file is not UTF-8 text")


def test_an_excerpt_of_a_huge_value_is_short() -> None:
    _, data = load(laughs(levels=4))

    assert len(excerpt(data)) < 200
    assert len(excerpt("x" * 10**6)) <= 40


YAML_PIECES = st.sampled_from(
    [
        "a", "b", ":", ": ", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "&y ", "*y", "<<: ",
        "\n", "\n  ", "  ", "'", '"', "!!int ", "!!binary ", "!!python/object ", "? ", "#",
        "9" * 60, "2026-02-30", "0x", "1:2:3", "~", "\t", "\x00", "\ud800", "é", "|\n  x",
        "version: 1\n", "resources:\n", "prod-db:\n",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(YAML_PIECES, max_size=40).map("".join) | st.text(max_size=200))
def test_any_text_is_read_or_refused_with_a_short_sentence(text: str) -> None:
    try:
        load(text)
    except YamlProblem as problem:
        assert len(problem.message) <= 200
        assert problem.line is None or 1 <= problem.line <= text.count("\n") + 2
