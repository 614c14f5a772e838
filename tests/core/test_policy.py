"""The policy file: the DESIGN.md example parses, and every problem names `file:line:`.

In each broken policy below, the line a person should be sent to is marked `# <- here`; the test
finds it, so the expected line number is never a bare constant.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.errors import PolicyError
from core.groups import GroupRef
from core.policy import parse_policy
from tests.core.builders import PLATFORM, PRIMARY, SECONDARY

DESIGN_EXAMPLE = """\
version: 1
defaults: {default_duration: 1h, max_duration: 8h, approval_timeout: 30m}
resources:
  prod-db:
    description: Read-write on the production database
    request:                      # who may ask: any one of these suffices
      on_call: ["pagerduty:schedule/Primary SRE"]   # on call right now
      members: []                 # any member of these groups, on call or not
      people: []                  # these emails
    approve:
      auto_if_on_call: false      # true: an on-call requester is approved at once
      on_call: ["pagerduty:schedule/Secondary SRE"] # whoever is on call there now may approve
      people: ["lead@example.com"]
      required: 1                 # distinct approvers; the requester never counts
    default_duration: 1h
    max_duration: 4h
    require_reason: true
    grant: {type: record}         # record | webhook | opsgenie-role | pagerduty-role
  grafana-admin:
    description: Admin in Grafana
    request: {on_call: ["opsgenie:schedule/Platform"]}
    approve: {auto_if_on_call: true, people: ["Lead@Example.com"]}
    grant: {type: webhook, url: "https://automation.example.com/grant", secret_env: GRANT_HOOK_SECRET}
birthright:                       # access for as long as someone is on call
  - {resource: grafana-admin, on_call: ["opsgenie:schedule/Platform"]}
"""


def test_design_example_policy_parses_into_what_it_says() -> None:
    policy = parse_policy(DESIGN_EXAMPLE)
    prod = policy.resources["prod-db"]
    assert prod.name == "prod-db"
    assert prod.description == "Read-write on the production database"
    assert prod.request.on_call == (PRIMARY,)
    assert prod.approve.on_call == (SECONDARY,)
    assert prod.approve.people == ("lead@example.com",)
    assert prod.approve.required == 1
    assert not prod.approve.auto_if_on_call
    assert policy.default_duration(prod) == timedelta(hours=1)
    assert policy.max_duration(prod) == timedelta(hours=4)
    assert policy.approval_timeout(prod) == timedelta(minutes=30)
    assert policy.require_reason(prod) is True
    assert prod.grants[0].type == "record"


def test_resource_without_its_own_limits_takes_the_defaults() -> None:
    policy = parse_policy(DESIGN_EXAMPLE)
    grafana = policy.resources["grafana-admin"]
    assert policy.default_duration(grafana) == timedelta(hours=1)
    assert policy.max_duration(grafana) == timedelta(hours=8)
    assert policy.require_reason(grafana) is False


def test_grant_options_and_emails_are_read_as_written_but_emails_lowercased() -> None:
    grafana = parse_policy(DESIGN_EXAMPLE).resources["grafana-admin"]
    assert grafana.grants[0].type == "webhook"
    assert grafana.grants[0].options == {
        "url": "https://automation.example.com/grant",
        "secret_env": "GRANT_HOOK_SECRET",
    }
    assert grafana.approve.people == ("lead@example.com",)


def test_birthright_names_a_defined_resource_and_its_groups() -> None:
    policy = parse_policy(DESIGN_EXAMPLE)
    (rule,) = policy.birthright
    assert rule.resource == "grafana-admin"
    assert rule.on_call == (GroupRef.parse("opsgenie:schedule/Platform"),)


def test_policy_groups_lists_every_group_it_names_once() -> None:
    text = DESIGN_EXAMPLE.replace(
        "members: []", 'members: ["opsgenie:team/Platform", "pagerduty:schedule/Primary SRE"]'
    )
    assert parse_policy(text).groups() == {
        PRIMARY,
        SECONDARY,
        PLATFORM,
        GroupRef.parse("opsgenie:schedule/Platform"),
    }


def test_durations_may_be_written_as_whole_seconds() -> None:
    policy = parse_policy("version: 1\ndefaults: {max_duration: 7200}\n")
    assert policy.defaults.max_duration == timedelta(hours=2)


# -- errors ---------------------------------------------------------------------------------------

_PROBLEM = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<message>.+)$")


def _marked_line(text: str) -> int:
    (line,) = [n for n, body in enumerate(text.splitlines(), 1) if "# <- here" in body]
    return line


def _only_problem(text: str, filename: str = "policy.yaml") -> tuple[str, int, str]:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, filename)
    assert len(refused.value.problems) == 1, refused.value.problems
    found = _PROBLEM.match(refused.value.problems[0])
    assert found, refused.value.problems[0]
    return found["file"], int(found["line"]), found["message"]


BROKEN = {
    "unknown-key-typo": (
        """\
version: 1
resources:
  prod-db:
    approve:
      peeple: [lead@example.com]   # <- here
""",
        "resources.prod-db.approve.peeple: unknown key (check the spelling)",
    ),
    "unknown-key-in-defaults": (
        """\
version: 1
defaults:
  max_durration: 2h   # <- here
""",
        "defaults.max_durration: unknown key",
    ),
    "bad-group-kind": (
        """\
version: 1
resources:
  prod-db:
    request:
      on_call: ["pagerduty:rota/Primary SRE"]   # <- here
    approve: {people: [lead@example.com]}
""",
        "`rota` is not a group kind (one of schedule, team, escalation_policy, service)",
    ),
    "bad-provider": (
        """\
version: 1
resources:
  prod-db:
    request:
      members:
        - "opsgenie:team/Platform"
        - "victorops:schedule/Primary"   # <- here
    approve: {people: [lead@example.com]}
""",
        "`victorops` is not a provider (one of pagerduty, opsgenie, jsm, file)",
    ),
    "group-without-kind": (
        """\
version: 1
resources:
  prod-db:
    approve:
      on_call: ["Primary SRE"]   # <- here
""",
        "is not a group; write PROVIDER:KIND/NAME",
    ),
    "bad-email": (
        """\
version: 1
resources:
  prod-db:
    approve:
      people:
        - lead@example.com
        - bob   # <- here
""",
        "resources.prod-db.approve.people.1: 'bob' is not an email address",
    ),
    "bad-duration": (
        """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
    max_duration: 4 hours   # <- here
""",
        "resources.prod-db.max_duration: '4 hours' is not a duration",
    ),
    "zero-duration": (
        """\
version: 1
defaults:
  approval_timeout: 0m   # <- here
""",
        "'0m' is not a positive duration",
    ),
    "unknown-grant-type": (
        """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
    grant: {type: ldap}   # <- here
""",
        "resources.prod-db.grant.type:",
    ),
    "version-2": (
        """\
# comment lines first
version: 2   # <- here
""",
        "version: only version 1 is supported",
    ),
    "missing-version": (
        """\
resources: {}   # <- here
""",
        "version: Field required",
    ),
    "not-a-mapping": (
        """\
- prod-db   # <- here
- grafana-admin
""",
        "a policy is a mapping with `version: 1` and `resources`",
    ),
    "yaml-syntax": (
        """\
version: 1
resources:
  prod-db:
    approve:
   people: [lead@example.com]   # <- here
""",
        "expected <block end>",
    ),
    "approve-names-nobody": (
        """\
version: 1
resources:
  prod-db:
    approve:   # <- here
      required: 1
""",
        "resources.prod-db: approve names nobody",
    ),
    "required-more-than-people": (
        """\
version: 1
resources:
  prod-db:
    approve:   # <- here
      people: [lead@example.com]
      required: 2
""",
        "approve.required is 2 but only 1 people may approve",
    ),
    "auto-approve-without-on-call-rule": (
        """\
version: 1
resources:
  prod-db:
    approve:   # <- here
      auto_if_on_call: true
      people: [lead@example.com]
""",
        "auto_if_on_call needs request.on_call groups",
    ),
    "resource-name-with-space": (
        """\
version: 1
resources:
  prod db:   # <- here
    approve: {people: [lead@example.com]}
""",
        "must be one word, like prod-db",
    ),
    "webhook-over-plain-http": (
        """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
    grant: {type: webhook, url: "http://hooks.example.com/x", secret_env: HOOK}   # <- here
""",
        "a webhook grant needs `url: https://...` (plain http only to this machine)",
    ),
    "webhook-signed-with-the-bots-own-secret": (
        """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
    grant: {type: webhook, url: "https://hooks.example.com/x", secret_env: slack_signing_secret}   # <- here
""",
        "secret_env slack_signing_secret is one of the bot's own settings",
    ),
}


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/grant", "http://127.0.0.1:8080/x", "http://localhost/x"]
)
def test_webhook_urls_over_https_or_to_this_machine_are_accepted(url: str) -> None:
    text = f"""\
version: 1
resources:
  prod-db:
    approve: {{people: [lead@example.com]}}
    grant: {{type: webhook, url: "{url}", secret_env: GRANT_HOOK_SECRET}}
"""
    assert parse_policy(text, "policy.yaml").resources["prod-db"].grants[0].type == "webhook"


@pytest.mark.parametrize(
    "secret_env", ["ONCALL_ACCESS_SECRET_KEY", "SLACK_BOT_TOKEN", "MICROSOFT_APP_PASSWORD"]
)
def test_webhook_secret_env_may_not_name_the_bots_own_settings(secret_env: str) -> None:
    text = f"""\
version: 1
resources:
  prod-db:
    approve: {{people: [lead@example.com]}}
    grant: {{type: webhook, url: "https://hooks.example.com/x", secret_env: {secret_env}}}
"""
    with pytest.raises(PolicyError, match="one of the bot's own settings"):
        parse_policy(text, "policy.yaml")


@pytest.mark.parametrize(("text", "phrase"), BROKEN.values(), ids=BROKEN.keys())
def test_policy_problem_names_file_and_line(text: str, phrase: str) -> None:
    filename, line, message = _only_problem(text, "team/policy.yaml")
    assert filename == "team/policy.yaml"
    assert line == _marked_line(text)
    assert phrase in message


def test_every_problem_is_listed_at_once() -> None:
    text = """\
version: 1
resources:
  prod-db:
    approve:
      people: [bob]
    max_duration: forever
"""
    with pytest.raises(PolicyError) as refused:
        parse_policy(text)
    problems = refused.value.problems
    assert [p.split(":")[1] for p in problems] == ["5", "6"]
    assert "'bob' is not an email address" in problems[0]
    assert "'forever' is not a duration" in problems[1]
    assert refused.value.message == "; ".join(problems)


BROKEN_WRONG_LINE = {
    "unknown-key-with-block-value": (
        """\
version: 1
resources:
  prod-db:
    requst:   # <- here
      on_call: ["pagerduty:schedule/Primary SRE"]
    approve: {people: [lead@example.com]}
""",
        "resources.prod-db.requst: unknown key",
    ),
    "default-longer-than-max": (
        """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
    default_duration: 2h   # <- here
    max_duration: 1h
""",
        "default_duration is longer than max_duration",
    ),
    "default-longer-than-max-by-defaults": (
        """\
version: 1
defaults: {default_duration: 2h}
resources:
  prod-db:
    approve: {people: [lead@example.com]}
    max_duration: 1h   # <- here
""",
        "default_duration is longer than max_duration",
    ),
    "birthright-unknown-resource": (
        """\
version: 1
resources:
  prod-db:
    approve: {people: [lead@example.com]}
birthright:
  - {resource: grafana-admin, on_call: ["opsgenie:schedule/Platform"]}   # <- here
""",
        "birthright names resource 'grafana-admin', which is not defined",
    ),
    "approve-names-nobody-after-description": (
        """\
version: 1
resources:
  prod-db:
    description: the production database
    approve:   # <- here
      required: 1
""",
        "approve names nobody",
    ),
}


@pytest.mark.parametrize(
    ("text", "phrase"), BROKEN_WRONG_LINE.values(), ids=BROKEN_WRONG_LINE.keys()
)
def test_policy_problem_points_at_the_line_to_fix(text: str, phrase: str) -> None:
    _, line, message = _only_problem(text)
    assert phrase in message
    assert line == _marked_line(text)


def test_required_approvals_count_distinct_people() -> None:
    text = """\
version: 1
resources:
  prod-db:
    approve:
      people: [lead@example.com, LEAD@example.com]
      required: 2
"""
    with pytest.raises(PolicyError) as refused:
        parse_policy(text)
    assert "approve.required is 2 but only 1 people may approve" in refused.value.message
