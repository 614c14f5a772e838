"""`POST /slack/events` refuses what Slack did not send: bad or missing signatures and stale
timestamps get 401, signed bodies that are not Slack payloads get 400, and nothing changes."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from tests.adapters.slack.rig import ALICE, SlackRig
from tests.fakes.slack import payloads, post_raw, send_signed, signed_headers
from tests.fakes.slack.constants import SIGNING_SECRET

INVALID = {"error": "invalid request"}


async def _assert_nothing_happened(rig: SlackRig) -> None:
    assert [c.method for c in rig.fake.calls()] == ["auth.test"]  # learnt at start only
    assert await rig.requests() == []
    assert [r.event for r in await rig.bot.audit.records() if r.request_id] == []


@pytest.mark.parametrize(
    ("secret", "age"),
    # A minute past Slack's five-minute window each way, so a clock tick cannot bring it back in.
    [("not-the-signing-secret", 0), (SIGNING_SECRET, 360), (SIGNING_SECRET, -360)],
    ids=["wrong-secret", "stale-timestamp", "future-timestamp"],
)
async def test_badly_signed_command_is_refused(rig: SlackRig, secret: str, age: int) -> None:
    body, content_type = payloads.slash_command("request prod-db 1h INC-1", user_id=ALICE)

    reply = await send_signed(
        rig.url, body, content_type, secret=secret, timestamp=int(time.time()) - age
    )

    assert (reply.status, reply.json()) == (401, INVALID)
    await _assert_nothing_happened(rig)


async def test_tampered_body_is_refused(rig: SlackRig) -> None:
    body, content_type = payloads.slash_command("request grafana-admin 1h", user_id=ALICE)
    headers = signed_headers(body, content_type, SIGNING_SECRET)

    reply = await post_raw(rig.url, body.replace(b"grafana-admin", b"prod-db"), headers)

    assert (reply.status, reply.json()) == (401, INVALID)
    await _assert_nothing_happened(rig)


@pytest.mark.parametrize(
    "drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp"], ids=["signature", "timestamp"]
)
async def test_missing_signing_header_is_refused(rig: SlackRig, drop: str) -> None:
    body, content_type = payloads.slash_command("request prod-db 1h INC-1", user_id=ALICE)
    headers = signed_headers(body, content_type, SIGNING_SECRET)
    del headers[drop]

    reply = await post_raw(rig.url, body, headers)

    assert (reply.status, reply.json()) == (401, INVALID)
    await _assert_nothing_happened(rig)


MALFORMED = {
    "payload-not-json": (b"payload=%7Bnot+json", payloads.FORM),
    "payload-a-list": (urlencode({"payload": "[1, 2]"}).encode(), payloads.FORM),
    "json-not-json": (b'{"type": "event_callback",', payloads.JSON),
    "json-a-list": (b"[1, 2]", payloads.JSON),
    "form-not-slack": (b"hello=world", payloads.FORM),
    "payload-unknown-type": (
        urlencode({"payload": '{"type": "nonsense"}'}).encode(),
        payloads.FORM,
    ),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_signed_malformed_body_is_a_bad_request(rig: SlackRig, name: str) -> None:
    body, content_type = MALFORMED[name]

    reply = await send_signed(rig.url, body, content_type, secret=SIGNING_SECRET)

    assert reply.status == 400
    await _assert_nothing_happened(rig)


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_unsigned_malformed_body_is_unauthorized(rig: SlackRig, name: str) -> None:
    body, content_type = MALFORMED[name]

    reply = await post_raw(rig.url, body, {"Content-Type": content_type})

    assert (reply.status, reply.json()) == (401, INVALID)
    await _assert_nothing_happened(rig)


async def test_url_verification_handshake_is_answered(rig: SlackRig) -> None:
    reply = await rig.send(
        payloads.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    )

    assert reply.status == 200
    assert reply.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_health_routes_share_the_app(rig: SlackRig) -> None:
    import aiohttp

    root = rig.url.removesuffix("/slack/events")
    async with aiohttp.ClientSession() as session, session.get(f"{root}/healthz") as resp:
        assert resp.status == 200


async def test_non_numeric_timestamp_is_refused(rig: SlackRig) -> None:
    body, content_type = payloads.slash_command("help", user_id=ALICE)
    headers = signed_headers(body, content_type, SIGNING_SECRET)
    headers["X-Slack-Request-Timestamp"] = "yesterday"

    reply = await post_raw(rig.url, body, headers)

    assert (reply.status, reply.json()) == (401, INVALID)
    await _assert_nothing_happened(rig)
