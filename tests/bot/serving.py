"""One real `oncall-access serve` process for a test: started on a free loopback port with the
settings the test gives, its output kept in a log file, waited for with deadlines."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float, what: str, every: float = 0.05
) -> Any:
    """Poll `check` until it returns something truthy, failing after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(every)


def base_env(settings: dict[str, str]) -> dict[str, str]:
    """This environment without any of our settings, plus `settings`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "SLACK_"))}
    return {**keep, "PYTHONPATH": str(ROOT), **settings}


@dataclass
class Served:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def status(self, path: str) -> int | None:
        """The HTTP status of GET `path`, or None when nothing answers."""
        try:
            async with aiohttp.ClientSession() as http, http.get(self.url + path) as resp:
                return resp.status
        except aiohttp.ClientError:
            return None

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_serve(env: dict[str, str], folder: Path, name: str = "serve") -> Served:
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            cwd=folder, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    served = Served(process, port, log)

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"{name} exited: {log.read_text()[-2000:]}")
        return await served.status("/healthz") == 200

    await eventually(healthy, within=30, what=f"{name} serving")
    return served
