"""Provider connections: settings in clear, credentials sealed by `SecretBox`, one row each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.crypto import SecretBox
from adapters.storage.sql import upsert
from adapters.storage.tables import connections
from core.audit import AuditEvent


@dataclass(frozen=True)
class Connection:
    provider: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    connected_at: datetime
    connected_by: str

    def __repr__(self) -> str:  # never show secrets, also not in tracebacks or logs
        return f"Connection(provider={self.provider!r}, config={self.config!r}, secrets=<{len(self.secrets)} hidden>)"


class SqlConnectionStore:
    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box

    async def save(self, connection: Connection, event: AuditEvent) -> None:
        sealed = self._box.seal(connection.secrets)
        async with self._engine.begin() as conn:
            await upsert(
                conn,
                connections,
                {"provider": connection.provider},
                {
                    "config": connection.config,
                    "secret": sealed,
                    "connected_at": connection.connected_at,
                    "connected_by": connection.connected_by,
                },
            )
            await append_event(conn, event)

    async def update_secrets(self, provider: str, secrets: dict[str, Any]) -> None:
        """Rotated tokens (OAuth refresh) replace the stored ones."""
        async with self._engine.begin() as conn:
            await conn.execute(
                connections.update()
                .where(connections.c.provider == provider)
                .values(secret=self._box.seal(secrets))
            )

    async def remove(self, provider: str, event: AuditEvent) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                connections.delete().where(connections.c.provider == provider)
            )
            if result.rowcount:
                await append_event(conn, event)
            return bool(result.rowcount)

    async def all(self) -> list[Connection]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(connections).order_by(connections.c.provider))).all()
        return [
            Connection(
                r.provider, r.config or {}, self._box.open(r.secret), r.connected_at, r.connected_by
            )
            for r in rows
        ]

    async def providers(self) -> list[str]:
        """Connected providers without decrypting anything."""
        async with self._engine.connect() as conn:
            return [r.provider for r in (await conn.execute(select(connections.c.provider))).all()]
