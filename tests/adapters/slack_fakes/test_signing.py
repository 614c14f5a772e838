"""The signing helper must match Slack byte for byte, or every inbound test is meaningless."""

from __future__ import annotations

from slack_sdk.signature import Clock, SignatureVerifier

from tests.adapters.slack_fakes._shape import DATA, example
from tests.fakes.slack.signing import sign, signature, signed_headers

DOCS_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_sign_reproduces_slacks_documented_vector() -> None:
    vector = example("signing.docs-test-vector.json")
    body = (DATA / "signing.docs-request.body.txt").read_bytes()
    assert len(body) == 362
    assert body == vector["body"].encode("utf-8")

    headers = sign(body, vector["signing_secret"], int(vector["timestamp"]))

    assert headers == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": DOCS_SIGNATURE,
    }
    assert headers["X-Slack-Signature"] == vector["signature"]


def test_slack_sdk_verifier_accepts_what_sign_produces() -> None:
    body = b"token=x&team_id=T1&text=hello+world"
    ts = 1_700_000_000
    verifier = SignatureVerifier("s3cret", clock=FixedClock(ts + 10))

    assert verifier.is_valid(body, str(ts), signature(body, "s3cret", ts))
    assert not verifier.is_valid(body + b"x", str(ts), signature(body, "s3cret", ts))
    assert not verifier.is_valid(body, str(ts), signature(body, "other", ts))


def test_signed_headers_stamp_now_and_content_type() -> None:
    headers = signed_headers(b"a=b", "application/x-www-form-urlencoded", "s", timestamp=42)
    assert headers == {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": "42",
        "X-Slack-Signature": signature(b"a=b", "s", 42),
    }
    fresh = signed_headers(b"a=b", "application/json", "s")
    verifier = SignatureVerifier("s")
    assert verifier.is_valid(b"a=b", fresh["X-Slack-Request-Timestamp"], fresh["X-Slack-Signature"])
