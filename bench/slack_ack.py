"""How fast `/access` is acknowledged: p50 and p99 of the HTTP round trip for signed slash
commands sent to the running server (real aiohttp app, bolt, the bot on SQLite, the fake Slack
Web API), against a bare aiohttp endpoint of the same server measured in the same run.

Run from the repository root:
    python bench/slack_ack.py [--requests 2000] [--concurrency 50] [--rounds 3] [--no-freeze]

Each round starts a fresh server; the summary gives each round and the medians (the machine is
shared and a single round's p99 swings with it). `--no-freeze` leaves out what `serve` does once
it listens (`bot/heap.py`: the startup heap moved out of the cyclic collector's sight), to see
what that is worth.

The server (bot + fake Slack API) runs in a child process, the load generator in this one, so
the two do not share an event loop. Scenario "slow Slack" answers every Web API call and every
response_url 2 s late: the acknowledgement must not notice, since nothing waits on Slack before
the ack.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

USERS = 200
SLOW_METHODS = (
    "users.info",
    "users.lookupByEmail",
    "conversations.open",
    "chat.postMessage",
    "chat.update",
    "views.open",
    "views.update",
    "response_url:bench",
)


def _serve(conn: Connection, slack_delay: float, freeze: bool) -> None:
    """Child process: the bot as `serve` builds it, Slack mounted, plus `/bare`."""
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_serve_async(conn, slack_delay, freeze))


async def _serve_async(conn: Connection, slack_delay: float, freeze: bool) -> None:
    from adapters.slack.app import SlackConfig
    from bot.clock import SystemClock
    from bot.heap import freeze_startup_heap
    from bot.http import make_app
    from bot.slack_wiring import mount_slack
    from tests.builders import make_bot
    from tests.fakes.slack import FakeSlackApi
    from tests.fakes.slack.constants import SIGNING_SECRET

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlackApi() as fake:
            for i in range(USERS):
                fake.add_user(f"UBENCH{i:04d}", f"user{i}@example.com", name=f"user{i}")
            config = SlackConfig(
                bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.base_url
            )
            bot = await make_bot(
                Path(tmp), f"sqlite+aiosqlite:///{tmp}/bench.db", SystemClock(), slack=config
            )
            app = make_app(bot)
            app.router.add_post("/bare", bare)
            mount_slack(bot, app)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            await fake.next_call("auth.test", timeout=10)  # learnt at start
            if freeze:
                freeze_startup_heap()  # as `serve` does once it listens
            for method in SLOW_METHODS:
                fake.delay(method, slack_delay)
            host, port = runner.addresses[0][:2]
            conn.send((f"http://{host}:{port}", fake.response_url("bench")))
            loop = asyncio.get_running_loop()
            expected: int = await loop.run_in_executor(None, conn.recv)
            try:
                await fake.wait_until(
                    lambda: len(fake.calls("response_url:bench")) >= expected,
                    timeout=120,
                    what="every command answered",
                )
            finally:
                conn.send(len(fake.calls("response_url:bench")))
                await runner.cleanup()
                await bot.close()


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p99_ms: float
    errors: int


async def _load(url: str, bodies: list[bytes], concurrency: int) -> Timing:
    from tests.fakes.slack.constants import SIGNING_SECRET
    from tests.fakes.slack.payloads import FORM
    from tests.fakes.slack.signing import signed_headers

    signed = [(b, signed_headers(b, FORM, SIGNING_SECRET)) for b in bodies]
    durations: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for item in signed:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while not queue.empty():
            body, headers = queue.get_nowait()
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                ok = resp.status == 200
            durations.append(time.perf_counter() - start)
            errors += 0 if ok else 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    cuts = statistics.quantiles(durations, n=100)
    return Timing(cuts[49] * 1000, cuts[98] * 1000, errors)


def _bodies(n: int, response_url: str, offset: int, text: str) -> list[bytes]:
    from tests.fakes.slack import payloads

    return [
        payloads.slash_command(
            text,
            user_id=f"UBENCH{(offset + i) % USERS:04d}",
            response_url=response_url,
        )[0]
        for i in range(n)
    ]


@dataclass(frozen=True)
class Round:
    bare: Timing
    slack: Timing
    answered: int
    per_second: float  # commands fully answered a second, from the first send to the last answer

    @property
    def p50_ratio(self) -> float:
        return self.slack.p50_ms / self.bare.p50_ms

    @property
    def p99_ratio(self) -> float:
        return self.slack.p99_ms / self.bare.p99_ms


async def _round(
    slack_delay: float, requests: int, concurrency: int, text: str, freeze: bool
) -> Round:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child, slack_delay, freeze), daemon=True)
    server.start()
    try:
        root, response_url = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        warm = _bodies(max(concurrency, 20), response_url, 0, text)
        await _load(f"{root}/bare", warm, concurrency)
        await _load(f"{root}/slack/events", warm, concurrency)
        bare = await _load(f"{root}/bare", _bodies(requests, response_url, 0, text), concurrency)
        started = time.perf_counter()
        slack = await _load(
            f"{root}/slack/events", _bodies(requests, response_url, 1, text), concurrency
        )
        parent.send(requests + len(warm))
        answered = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        answering = time.perf_counter() - started  # until the last command was fully answered
    finally:
        server.join(timeout=150)
        if server.is_alive():
            server.terminate()
    return Round(bare, slack, answered, requests / answering)


def _report(name: str, delay: float, requests: int, text: str, rounds: list[Round]) -> None:
    print(f"\n{name} (Web API and response_url answer after {delay:g} s)")
    print(f"  {requests} signed `/access {text}` commands a round, {len(rounds)} round(s)")
    print(
        f"  {'round':8}{'bare p50':>10}{'p99':>8}{'slack p50':>11}{'p99':>8}"
        f"{'p50 x':>8}{'p99 x':>8}{'errors':>8}{'answered':>10}{'cmd/s':>8}"
    )
    for i, r in enumerate(rounds, 1):
        print(
            f"  {i:<8}{r.bare.p50_ms:10.2f}{r.bare.p99_ms:8.2f}{r.slack.p50_ms:11.2f}"
            f"{r.slack.p99_ms:8.2f}{r.p50_ratio:7.1f}x{r.p99_ratio:7.1f}x"
            f"{r.bare.errors + r.slack.errors:8d}{r.answered:10d}{r.per_second:8.0f}"
        )
    p50 = statistics.median(r.p50_ratio for r in rounds)
    p99 = statistics.median(r.p99_ratio for r in rounds)
    rate = statistics.median(r.per_second for r in rounds)
    print(f"  median: p50 {p50:.1f}x, p99 {p99:.1f}x the bare endpoint; {rate:.0f} commands/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-freeze", dest="freeze", action="store_false")
    parser.add_argument(
        "--text", default="list", help="what is typed after /access (default: list)"
    )
    args = parser.parse_args()
    for name, delay in (("fast Slack", 0.0), ("slow Slack", 2.0)):
        rounds = [
            asyncio.run(_round(delay, args.requests, args.concurrency, args.text, args.freeze))
            for _ in range(args.rounds)
        ]
        _report(name, delay, args.requests, args.text, rounds)


if __name__ == "__main__":
    main()
