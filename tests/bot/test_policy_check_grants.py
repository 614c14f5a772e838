"""`oncall-access policy check` on resources that list several grants: each grant is checked by
its type and every problem is printed on the line to fix, before anything is granted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.clirun import fresh_directory, run

GOOD = """\
version: 1
resources:
  prod-admin:
    approve: {people: [lead@example.com]}
    grant:
      - type: aws-sso
        instance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef
        permission_set_arn: arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890
        account_id: "123456789012"
        region: us-east-1
      - {type: webhook, url: "https://automation.example.com/access", secret_env: HOOK}
"""


def test_policy_check_accepts_several_grants_of_different_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    (tmp_path / "policy.yaml").write_text(GOOD)
    ran = run(capsys, "policy", "check", "policy.yaml")
    assert ran.code == 0, ran.text
    assert "policy.yaml: OK, 1 resources, 0 birthright rules." in ran.out


def test_policy_check_names_each_bad_grant_on_its_own_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    bad = GOOD.replace('account_id: "123456789012"', "account_id: 123456789012").replace(
        "https://automation", "http://automation"
    )
    (tmp_path / "policy.yaml").write_text(bad)
    ran = run(capsys, "policy", "check", "policy.yaml")
    assert ran.code == 1
    assert "policy.yaml:6: resources.prod-admin: an aws-sso grant needs `account_id" in ran.err
    assert (
        "policy.yaml:11: resources.prod-admin: a webhook grant needs `url: https://...`" in ran.err
    )
    assert "policy.yaml: 2 problem(s); the policy was not accepted." in ran.err
    assert "Traceback" not in ran.text
