"""Socket Mode: the same bolt app fed over a WebSocket that the bot opens to Slack, for hosts
Slack cannot reach (no public URL). Enabled when an app-level token (`xapp-…`) is configured.

Connecting runs in the background: slack_sdk retries a failed connection and reconnects a lost
one by itself, so a Slack outage at start delays the Slack surface without failing the bot.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)


class SocketModeRunner:
    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self._app = app
        self._token = app_token
        self._handler: AsyncSocketModeHandler | None = None
        self.connected = asyncio.Event()

    async def run(self) -> None:
        # Built here, inside the running loop: the handler opens an aiohttp session at once.
        self._handler = AsyncSocketModeHandler(self._app, self._token, logger=self._app.logger)
        await self._handler.connect_async()
        log.info("connected to Slack in Socket Mode")
        self.connected.set()

    async def close(self) -> None:
        if self._handler is not None:
            handler, self._handler = self._handler, None
            await handler.close_async()
