"""`grant:` as one mapping or a list of them, each checked by its grant type, every problem on
the line a person has to fix."""

from __future__ import annotations

import pytest

from core.errors import PolicyError
from core.grant_types import names
from core.policy import parse_policy

HEAD = """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, "policy.yaml")
    return refused.value.problems


def test_a_list_of_grants_is_read_in_order() -> None:
    policy = parse_policy(
        HEAD
        + """\
    grant:
      - {type: record}
      - {type: webhook, url: "https://hooks.example.com/a", secret_env: HOOK}
"""
    )
    grants = policy.resources["prod-db"].grants
    assert [g.type for g in grants] == ["record", "webhook"]
    assert grants[1].options["url"] == "https://hooks.example.com/a"


def test_a_resource_without_grant_is_recorded_only() -> None:
    assert [g.type for g in parse_policy(HEAD).resources["prod-db"].grants] == ["record"]


def test_each_grant_in_a_list_is_checked_by_its_type_on_its_own_line() -> None:
    found = problems(
        HEAD
        + """\
    grant:
      - {type: record}
      - {type: webhook, url: "http://hooks.example.com/a", secret_env: HOOK}
"""
    )
    assert found == [
        "policy.yaml:7: resources.prod-db: a webhook grant needs `url: https://...` (plain http only to this machine)"
    ]


def test_an_unknown_type_in_a_list_names_its_index_and_the_known_types() -> None:
    (found,) = problems(HEAD + "    grant:\n      - {type: record}\n      - {type: ldap}\n")
    assert found.startswith(
        "policy.yaml:7: resources.prod-db.grant.1.type: unknown grant type 'ldap'"
    )
    for name in names():
        assert name in found


def test_an_empty_list_of_grants_is_refused() -> None:
    (found,) = problems(HEAD + "    grant: []\n")
    assert "list at least one grant" in found


def test_the_same_grant_twice_is_refused() -> None:
    (found,) = problems(HEAD + "    grant: [{type: record}, {type: record}]\n")
    assert found == "policy.yaml:5: resources.prod-db: the same grant is listed twice"
