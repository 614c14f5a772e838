"""A TCP proxy on loopback that a test can cut and restore, to play a database outage over the
real wire protocol: cutting closes every connection through it and refuses new ones (or, with
`hang=True`, holds them silent, as a dead network path does); restoring forwards again.
`cut_on(marker)` cuts at the moment a client sends those bytes, before the server sees them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.engine import make_url


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._silent: list[asyncio.StreamWriter] = []
        self._mode = "open"  # open | refuse | hang
        self._marker: bytes | None = None
        self._cutting: asyncio.Task[None] | None = None
        self.tripped = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, database_url: str) -> str:
        """The same database URL, reached through this proxy."""
        through = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return through.render_as_string(hide_password=False)

    async def cut(self, *, hang: bool = False) -> None:
        """Drop every connection now (or, hanging, stop forwarding on it); until `restore`, new
        connections are refused (or hang)."""
        self._mode = "hang" if hang else "refuse"
        links = list(self._links)
        for link in links:
            link.cancel()
        await asyncio.gather(*links, return_exceptions=True)

    def cut_on(self, marker: bytes) -> None:
        """Cut (refusing) when a client next sends `marker`; that message is not forwarded."""
        self._marker = marker
        self.tripped.clear()

    def restore(self) -> None:
        self._mode = "open"
        for writer in self._silent:
            writer.close()
        self._silent.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.cut()
        self.restore()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._mode == "refuse":
            writer.transport.abort()
            return
        if self._mode == "hang":
            self._silent.append(writer)
            return
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection(*self._target)
            await asyncio.gather(
                self._pipe(reader, upstream, watch=True), self._pipe(up_reader, writer)
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            if upstream is not None:
                upstream.transport.abort()
            if self._mode == "hang":
                self._silent.append(writer)  # the client's end stays open and hears nothing
            else:
                writer.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool = False
    ) -> None:
        """Copy one direction; `watch` (client to server) looks for the marker of `cut_on`."""
        while data := await reader.read(65536):
            if watch and self._marker is not None and self._marker in data:
                self._marker = None
                self.tripped.set()
                self._cutting = asyncio.ensure_future(self.cut())
                await asyncio.Event().wait()  # until the cut cancels this link
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


@asynccontextmanager
async def cuttable_proxy(database_url: str) -> AsyncIterator[CuttableProxy]:
    """A started proxy in front of the server of `database_url`."""
    target = make_url(database_url)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def cut_postgres(postgres_url: str) -> AsyncIterator[tuple[str, CuttableProxy]]:
    """A fresh PostgreSQL database (skipped without one) and the URL that reaches it through a
    proxy the test can cut. Fixtures outside a conftest are opted into with an import."""
    async with cuttable_proxy(postgres_url) as proxy:
        yield proxy.url(postgres_url), proxy
