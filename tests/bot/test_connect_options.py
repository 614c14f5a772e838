"""`oncall-access connect PROVIDER`: each provider's options come from its connect form, and a
missing one is named by its option in one line, before anything is stored or called."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.clirun import fresh_directory, run


def test_missing_fields_are_named_by_their_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_directory(monkeypatch, tmp_path)

    ran = run(capsys, "connect", "pagerduty", "--auth", "oauth_client", "--client-id", "cid")

    assert ran.code == 2
    assert ran.err.splitlines() == [
        "oncall-access: --client-secret-file: Enter the OAuth client secret.",
        "oncall-access: --subdomain: Enter the PagerDuty subdomain (acme for acme.pagerduty.com).",
    ]
    assert not (tmp_path / "oncall-access.db").exists()  # refused before the bot was built


def test_each_provider_offers_only_its_own_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "connect", "jsm", "--help")
    jsm = " ".join(capsys.readouterr().out.split())
    assert "--site" in jsm and "--api-token-file FILE" in jsm and "--region" not in jsm

    with pytest.raises(SystemExit) as refused:
        run(capsys, "connect", "opsgenie", "--subdomain", "acme")
    assert refused.value.code == 2
    assert "unrecognized arguments: --subdomain acme" in capsys.readouterr().err


def test_grant_targets_take_their_own_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    with pytest.raises(SystemExit):
        run(capsys, "connect", "github", "--help")
    github = " ".join(capsys.readouterr().out.split())
    assert "--org" in github and "--token-file FILE" in github
    assert "--private-key-file FILE" in github and "--app-id" in github

    ran = run(capsys, "connect", "okta", "--org-url", "https://acme.okta.com")
    assert ran.code == 2
    assert ran.err.splitlines() == [
        "oncall-access: --api-token-file: Enter an API token, or the service app's client id "
        "and private key."
    ]
    ran = run(capsys, "connect", "entra", "--tenant", "contoso.onmicrosoft.com")
    assert ran.code == 2 and "--client-id" in ran.err and "--client-secret-file" in ran.err
    assert not (tmp_path / "oncall-access.db").exists()
