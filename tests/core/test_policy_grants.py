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


AWS = """\
    grant:
      type: aws-sso
      instance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef
      permission_set_arn: arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890
      account_id: "012345678901"
      region: eu-west-1
"""


def test_an_aws_sso_grant_is_read_with_its_target() -> None:
    (grant,) = parse_policy(HEAD + AWS).resources["prod-db"].grants
    assert grant.type == "aws-sso"
    assert grant.options["account_id"] == "012345678901"


def test_an_unquoted_aws_account_id_is_refused_on_its_line() -> None:
    (found,) = problems(HEAD + AWS.replace('"012345678901"', "123456789012"))
    assert found.startswith("policy.yaml:5: resources.prod-db: an aws-sso grant needs `account_id")
    assert "quoted" in found


def test_an_aws_sso_grant_names_each_wrong_or_missing_option() -> None:
    text = HEAD + AWS.replace("arn:aws:sso:::instance/ssoins-1234567890abcdef\n", "prod\n")
    text = text.replace("      region: eu-west-1\n", "")
    found = problems(text)
    assert len(found) == 2
    assert "instance_arn: arn:aws:sso:::instance/ssoins-..." in found[0] and "'prod'" in found[0]
    assert "region: us-east-1" in found[1]


def test_a_permission_set_of_another_instance_is_refused() -> None:
    (found,) = problems(
        HEAD
        + AWS.replace(
            "permissionSet/ssoins-1234567890abcdef", "permissionSet/ssoins-ffffffffffffffff"
        )
    )
    assert "permission_set_arn belongs to another instance than instance_arn" in found
