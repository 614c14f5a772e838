"""Structured logs: with `ONCALL_ACCESS_LOG_FORMAT=json` a real `serve` process writes one JSON
object a line, each naming the inbound request it belongs to (also from work the request left
to the background), and no secret from the settings ever appears in its output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.constants import EVENTS_PATH
from adapters.storage.crypto import new_key
from bot.logs import MASK, Redactor
from bot.settings import Settings
from tests.bot.serving import base_env, eventually, start_serve
from tests.builders import POLICY, roster_yaml
from tests.fakes.slack import FakeSlackApi, payloads, send_signed
from tests.fakes.slack.constants import SIGNING_SECRET

METRICS_TOKEN = "scrape-token-0123456789"


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def test_json_logs_name_the_request_and_hold_no_secret(tmp_path: Path) -> None:
    secret_key = new_key()
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "roster.yaml").write_text(roster_yaml(datetime.now(UTC)))
    async with FakeSlackApi() as slack:
        slack.add_user("UALICE0001", "alice@example.com", name="alice")
        env = base_env(
            {
                "ONCALL_ACCESS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
                "ONCALL_ACCESS_SECRET_KEY": secret_key,
                "ONCALL_ACCESS_POLICY_FILE": str(tmp_path / "policy.yaml"),
                "ONCALL_ACCESS_ROSTER_FILE": str(tmp_path / "roster.yaml"),
                "ONCALL_ACCESS_METRICS_TOKEN": METRICS_TOKEN,
                "ONCALL_ACCESS_LOG_FORMAT": "json",
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.base_url,
            }
        )
        served = await start_serve(env, tmp_path)
        try:
            events = served.url + EVENTS_PATH
            body, ctype = payloads.slash_command("help", user_id="UALICE0001")
            forged = await send_signed(
                events, body, ctype, secret="not-the-secret",
                extra_headers={"X-Request-Id": "lb-0123456789"},
            )  # fmt: skip
            assert forged.status == 401
            assert forged.headers["X-Request-Id"] == "lb-0123456789"

            # Someone Slack does not know: the lookup fails in work left to the background.
            stranger, ctype = payloads.slash_command("help", user_id="UNKNOWN001")
            reply = await send_signed(events, stranger, ctype, secret=SIGNING_SECRET)
            assert reply.status == 200
            rid = reply.headers["X-Request-Id"]
            assert rid and rid != "lb-0123456789"

            def about(request_id: str, words: str) -> list[dict[str, Any]]:
                return [
                    line
                    for line in _lines(served.log)
                    if line["request_id"] == request_id and words in line["message"]
                ]

            await eventually(
                lambda: _ready(about("lb-0123456789", "refused a Slack request")),
                within=10,
                what="the refusal logged with the caller's request id",
            )
            await eventually(
                lambda: _ready(about(rid, "users.info failed for UNKNOWN001")),
                within=10,
                what="the background lookup logged with the request's id",
            )
        finally:
            await served.stop()
        text = served.log.read_text()
        lines = _lines(served.log)  # every line is one JSON object
        assert {"time", "level", "logger", "message", "request_id"} <= set(lines[0])
        assert [line for line in lines if line["request_id"] is None]  # start-up, off any request
        for secret in (secret_key, slack.token, SIGNING_SECRET, METRICS_TOKEN):
            assert secret not in text


async def _ready(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return found


def test_secrets_are_masked_wherever_they_turn_up() -> None:
    settings = Settings(
        ONCALL_ACCESS_SECRET_KEY="k" * 44,
        SLACK_SIGNING_SECRET="signing-secret-value",
        MICROSOFT_APP_PASSWORD="teams~password.value",
        _env_file=None,  # type: ignore[call-arg]
    )
    redact = Redactor(settings.secret_values())

    text = redact(
        f"key {'k' * 44}, signing-secret-value, teams~password.value, xoxb-1-2-abcdef, "
        "xapp-1-A0-1-ff, Authorization: Bearer eyJhbGciOi.xyz, "
        "postgresql://oncall:hunter22@db.internal:5432/oncall"
    )

    assert text == (
        f"key {MASK}, {MASK}, {MASK}, {MASK}, {MASK}, Authorization: Bearer {MASK}, "
        f"postgresql://{MASK}@db.internal:5432/oncall"
    )


@pytest.mark.parametrize("value", ["xml", "JSONL", ""])
def test_an_unknown_log_format_is_refused_in_one_sentence(value: str) -> None:
    with pytest.raises(ValueError, match="ONCALL_ACCESS_LOG_FORMAT is `text` or `json`"):
        Settings(ONCALL_ACCESS_LOG_FORMAT=value, _env_file=None)  # type: ignore[call-arg]
