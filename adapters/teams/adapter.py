"""botbuilder's ``CloudAdapter``, counting the connector calls that fail (sends, replies, card
updates and deletions, new 1:1 conversations) for the operators' dashboards. Every message the bot
sends, in a turn or proactively, goes through these methods; member lookups are counted where
they are made (``TeamsIdentity``)."""

from __future__ import annotations

from typing import Any

from botbuilder.integration.aiohttp import CloudAdapter

from adapters.teams.references import SURFACE
from core.ports import NO_METRICS, Metrics


class CountingCloudAdapter(CloudAdapter):
    def __init__(self, *args: Any, metrics: Metrics = NO_METRICS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    async def send_activities(self, context: Any, activities: Any) -> Any:
        try:
            return await super().send_activities(context, activities)
        except Exception:
            self._metrics.chat_api_failed(SURFACE)
            raise

    async def update_activity(self, context: Any, activity: Any) -> Any:
        try:
            return await super().update_activity(context, activity)
        except Exception:
            self._metrics.chat_api_failed(SURFACE)
            raise

    async def delete_activity(self, context: Any, reference: Any) -> Any:
        try:
            return await super().delete_activity(context, reference)
        except Exception:
            self._metrics.chat_api_failed(SURFACE)
            raise

    async def create_conversation(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().create_conversation(*args, **kwargs)
        except Exception:
            self._metrics.chat_api_failed(SURFACE)
            raise
