"""pytest fixtures for the Slack harness.

Fixtures defined outside a conftest are invisible to pytest, so a test package opts in with
``from tests.fakes.slack.fixtures import fake_slack, slack_client  # noqa: F401`` in its
``conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.fake_api import FakeSlackApi


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    """A started fake Web API, closed after the test."""
    async with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def slack_client(fake_slack: FakeSlackApi) -> AsyncWebClient:
    """The real SDK client, pointed at the fake with the token it accepts."""
    return AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
