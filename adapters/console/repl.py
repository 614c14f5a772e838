"""The console loop: one command a line from stdin (piped, or interactive with line editing).

`as EMAIL` switches who you are; `quit` or end of input leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from core.dispatcher import Dispatcher
from core.identity import Actor, is_email


async def _read_line(stream: TextIO, prompt: str, interactive: bool) -> str | None:
    if interactive:
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError:
            return None
    line = await asyncio.to_thread(stream.readline)
    return line if line else None


async def run_console(
    dispatcher: Dispatcher,
    actor: Actor,
    *,
    stdin: TextIO | None = None,
    write: Callable[[str], None] = print,
    before_each: Callable[[], Awaitable[object]] | None = None,
) -> int:
    """Serve commands until end of input; returns the number of refusals and errors seen."""
    stdin = stdin or sys.stdin
    interactive = stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (gives input() history and line editing)
    refusals = 0
    while True:
        line = await _read_line(stdin, f"{actor.email}> ", interactive)
        if line is None:
            return refusals
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not interactive:
            write(f"{actor.email}> {text}")
        if text.lower() in ("quit", "exit"):
            return refusals
        if text.lower().startswith("as "):
            email = text[3:].strip()
            if is_email(email):
                actor = Actor(email, surface=actor.surface, tz=actor.tz)
                write(f"You are now {actor.email}.")
            else:
                write(f"`{email}` is not an email address; try `as bob@example.com`.")
                refusals += 1
            continue
        if before_each:
            await before_each()
        reply = await dispatcher.handle(actor, text)
        if not reply.ok:
            refusals += 1
        write(reply.full_text)
