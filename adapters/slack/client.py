"""The Slack Web API client of the surface: slack_sdk's own, counting the calls that fail (Slack
said no, or could not be reached) for the operators' dashboards. Every Web API method goes
through `api_call`, so one override sees them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.constants import SURFACE
from adapters.slack.identity import SLACK_FAILURES
from core.ports import NO_METRICS, Metrics


class CountingWebClient(AsyncWebClient):
    def __init__(self, *args: Any, metrics: Metrics = NO_METRICS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SLACK_FAILURES:
            self.failed()
            raise

    def failed(self) -> None:
        """Count one call Slack did not take (also an answer on a response_url)."""
        self._metrics.chat_api_failed(SURFACE)


def failed_call(client: AsyncWebClient) -> Callable[[], None]:
    """How to count a failed Slack call made beside `client` (a plain client counts nothing)."""
    return client.failed if isinstance(client, CountingWebClient) else lambda: None
