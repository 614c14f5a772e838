"""Work after an ack yields to a burst of acks, and never waits past its patience."""

from __future__ import annotations

import asyncio

from adapters.slack.turns import AckFirstTurns
from tests.bot.serving import eventually


async def _true(value: bool) -> bool:
    return value


async def test_work_waits_while_acks_keep_coming_and_starts_when_they_stop() -> None:
    now = [0.0]  # the turns' clock, moved by the test
    turns = AckFirstTurns(4, quiet=0.05, patience=60, now=lambda: now[0])
    started = asyncio.Event()

    async def work() -> str:
        started.set()
        return "answered"

    turns.acked()
    job = asyncio.ensure_future(turns.run(work()))
    for _ in range(20):  # a burst: acks 10 ms apart, closer together than `quiet`
        await asyncio.sleep(0)  # let the work look
        assert not started.is_set()
        now[0] += 0.01
        turns.acked()

    now[0] += 0.05  # the burst is over
    assert await asyncio.wait_for(job, timeout=10) == "answered"


async def test_a_steady_stream_of_acks_delays_work_by_its_patience_only() -> None:
    turns = AckFirstTurns(4, quiet=3600, patience=0.1)
    turns.acked()  # as if acks never stopped: only patience lets the work start

    assert await asyncio.wait_for(turns.run(asyncio.sleep(0, result="answered")), 10) == "answered"


async def test_at_most_limit_pieces_run_at_once() -> None:
    turns = AckFirstTurns(2)
    running, most = 0, 0
    release = asyncio.Event()

    async def work() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    jobs = [asyncio.ensure_future(turns.run(work())) for _ in range(5)]
    await eventually(lambda: _true(running == 2), within=10, what="two pieces running")
    release.set()
    await asyncio.wait_for(asyncio.gather(*jobs), timeout=10)
    assert most == 2
