"""A stand-in for the bot's provider connections (`core.connections.ProviderAdmin`): records
what the Slack surface asked and answers as told."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.provider_forms import FORMS
from core.connection_form import ProviderForm
from core.connections import ConnectForm, ConnectResult


@dataclass
class FakeProviderAdmin:
    result: ConnectResult = field(
        default_factory=lambda: ConnectResult(
            True,
            "Connected PagerDuty (EU) as ops-bot@example.com.",
            sync_summary="PagerDuty: synced 3 schedules, 12 people.",
        )
    )
    connected: list[tuple[ConnectForm, str]] = field(default_factory=list)
    disconnected: list[tuple[str, str]] = field(default_factory=list)
    status: list[str] = field(default_factory=lambda: ["PagerDuty: last good sync 4m ago"])

    def forms(self) -> Sequence[ProviderForm]:
        return FORMS

    first_syncs: set[asyncio.Task[Any]] = field(default_factory=set)

    async def connect(
        self,
        form: ConnectForm,
        actor: str,
        *,
        when_synced: Callable[[str], Awaitable[None]] | None = None,
    ) -> ConnectResult:
        """As the bot's own: with `when_synced`, the sync summary follows the answer."""
        self.connected.append((form, actor))
        if when_synced is None or not self.result.ok or not self.result.sync_summary:
            return self.result
        self.first_syncs.add(asyncio.ensure_future(when_synced(self.result.sync_summary)))
        return replace(self.result, sync_summary="")

    async def disconnect(self, provider: str, actor: str) -> str:
        self.disconnected.append((provider, actor))
        return f"Disconnected {provider}."

    async def status_lines(self) -> list[str]:
        return list(self.status)
