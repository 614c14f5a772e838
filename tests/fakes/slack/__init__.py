"""Slack test harness: request signing, inbound payload builders and a fake Web API.

Import from here in adapter tests; see ``fake_api.FakeSlackApi`` for the Web API fake and
``payloads`` for the request bodies Slack would send.
"""

from tests.fakes.slack import constants, payloads
from tests.fakes.slack.fake_api import (
    RESPONSE_URL,
    CallTimeout,
    FakeSlackApi,
    FakeUser,
    RecordedCall,
)
from tests.fakes.slack.server import HttpReply, post_raw, send_signed, serve
from tests.fakes.slack.signing import sign, signature, signed_headers

__all__ = [
    "RESPONSE_URL",
    "CallTimeout",
    "FakeSlackApi",
    "FakeUser",
    "HttpReply",
    "RecordedCall",
    "constants",
    "payloads",
    "post_raw",
    "send_signed",
    "serve",
    "sign",
    "signature",
    "signed_headers",
]
