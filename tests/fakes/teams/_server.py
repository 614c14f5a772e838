"""Plumbing shared by the Teams fakes: a threaded aiohttp server and awaitable observations.

The fakes run in their own thread with their own event loop because botbuilder talks to them with
blocking ``requests`` calls made *on the bot's event loop* (MSAL's token request inside
``AppCredentials.signed_session``, the connector client). A fake served from the test's loop would
deadlock on the first such call.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from aiohttp import web

T = TypeVar("T")

_START_TIMEOUT_S = 10.0


class BackgroundServer:
    """Serve a fresh ``make_app()`` on ``127.0.0.1`` at a port the OS picks, from its own thread."""

    def __init__(
        self,
        make_app: Callable[[], web.Application],
        *,
        name: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._make_app = make_app
        self._name = name
        self._ssl_context = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._port is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self._name} is not running")
        return self._port

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._name} already started")
        ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=self._name, daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"{self._name} did not start within {_START_TIMEOUT_S}s")
        if self._error is not None:
            self._thread = None
            raise RuntimeError(f"{self._name} failed to start") from self._error

    def stop(self) -> None:
        loop, stopped, thread = self._loop, self._stopped, self._thread
        if loop is None or stopped is None or thread is None:
            return
        loop.call_soon_threadsafe(stopped.set)
        thread.join(_START_TIMEOUT_S)
        self._thread = self._loop = self._stopped = None
        self._port = None

    def _run(self, ready: threading.Event) -> None:
        try:
            # asyncio.run also drains the loop after cleanup, so closed sockets really close.
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported by start() in the caller's thread
            self._error = exc
        finally:
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
            await site.start()
            self._port = int(runner.addresses[0][1])
            ready.set()
            await self._stopped.wait()
        finally:
            await runner.cleanup()


class ThreadedFake:
    """Start/stop plumbing for a fake served by a ``BackgroundServer``; usable sync or async."""

    _server: BackgroundServer

    def start(self) -> Self:
        self._server.start()
        self._after_start()
        return self

    def stop(self) -> None:
        if self._server.running:
            self._before_stop()
        self._server.stop()
        self._after_stop()

    def _after_start(self) -> None:
        """Hook: the server is listening."""

    def _before_stop(self) -> None:
        """Hook: the server is about to stop."""

    def _after_stop(self) -> None:
        """Hook: the server has stopped (also called when it never started)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


class Observations(Generic[T]):
    """What a fake saw, recorded from its thread and awaited from the test's loop with a deadline.

    Each ``next`` call consumes the oldest matching, not yet consumed record, so a test reads the
    bot's output in order without ever sleeping.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._taken: set[int] = set()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def publish(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            waiters = list(self._waiters)
        for loop, event in waiters:
            # RuntimeError: the waiting loop has closed, nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def all(self) -> list[T]:
        with self._lock:
            return list(self._items)

    async def next(
        self,
        predicate: Callable[[T], bool],
        *,
        timeout: float,  # noqa: ASYNC109 - a per-call deadline is the point of this API
        detail: str = "",
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                event.clear()
                found = self._take(predicate)
                if found is not None:
                    return found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        await event.wait()
                except TimeoutError:
                    pass
            found = self._take(predicate)
            if found is not None:
                return found
            raise TimeoutError(
                f"no {self._what}{detail} within {timeout}s; recorded so far: {self.all()!r}"
            )
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def _take(self, predicate: Callable[[T], bool]) -> T | None:
        with self._lock:
            for index, item in enumerate(self._items):
                if index not in self._taken and predicate(item):
                    self._taken.add(index)
                    return item
        return None
