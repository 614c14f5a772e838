"""Provider connections: settings in clear, credentials sealed by `SecretBox`, one row each.

Every write moves the row's `revision` on, so each replica can tell, with one cheap query a
tick, that a provider was connected, reconnected, rotated or disconnected elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.crypto import SecretBox
from adapters.storage.sql import upsert
from adapters.storage.tables import connections
from core.audit import UNKEYED, AuditEvent, AuditKeys


@dataclass(frozen=True)
class Connection:
    provider: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    connected_at: datetime
    connected_by: str
    revision: int = 0

    def __repr__(self) -> str:  # never show secrets, also not in tracebacks or logs
        return f"Connection(provider={self.provider!r}, config={self.config!r}, secrets=<{len(self.secrets)} hidden>)"


class SqlConnectionStore:
    def __init__(self, engine: AsyncEngine, box: SecretBox, keys: AuditKeys = UNKEYED) -> None:
        self._engine = engine
        self._box = box
        self._key = keys.signing

    async def save(self, connection: Connection, event: AuditEvent) -> int:
        """Store (or replace) a connection with its audit event; returns its new revision."""
        sealed = self._box.seal(connection.secrets)
        async with self._engine.begin() as conn:
            await append_event(
                conn, event, self._key
            )  # takes the trail's write lock first, as every writer
            revision = (await _revision(conn, connection.provider) or 0) + 1
            await upsert(
                conn,
                connections,
                {"provider": connection.provider},
                {
                    "config": connection.config,
                    "secret": sealed,
                    "connected_at": connection.connected_at,
                    "connected_by": connection.connected_by,
                    "revision": revision,
                },
            )
        return revision

    async def update_secrets(self, provider: str, secrets: dict[str, Any]) -> int | None:
        """Rotated tokens (OAuth refresh) replace the stored ones; returns the new revision, or
        None when the connection is gone."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                connections.update()
                .where(connections.c.provider == provider)
                .values(secret=self._box.seal(secrets), revision=connections.c.revision + 1)
            )
            if not result.rowcount:
                return None
            return await _revision(conn, provider)

    async def revisions(self) -> dict[str, int]:
        """Each connected provider's revision, without decrypting anything."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(connections.c.provider, connections.c.revision))
            ).all()
        return {r.provider: r.revision for r in rows}

    async def get(self, provider: str) -> Connection | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(connections).where(connections.c.provider == provider))
            ).first()
        return self._open(row) if row else None

    async def remove(self, provider: str, event: AuditEvent) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                connections.delete().where(connections.c.provider == provider)
            )
            if result.rowcount:
                await append_event(conn, event, self._key)
            return bool(result.rowcount)

    async def all(self) -> list[Connection]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(connections).order_by(connections.c.provider))).all()
        return [self._open(r) for r in rows]

    def _open(self, row: Any) -> Connection:
        return Connection(
            row.provider,
            row.config or {},
            self._box.open(row.secret),
            row.connected_at,
            row.connected_by,
            row.revision,
        )

    async def providers(self) -> list[str]:
        """Connected providers without decrypting anything."""
        async with self._engine.connect() as conn:
            return [r.provider for r in (await conn.execute(select(connections.c.provider))).all()]


async def _revision(conn: AsyncConnection, provider: str) -> int | None:
    return (
        await conn.execute(select(connections.c.revision).where(connections.c.provider == provider))
    ).scalar_one_or_none()
