"""CLI commands that run the bot: serve, demo, console, sync, status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from adapters.console.notifier import ConsoleNotifier
from adapters.console.repl import run_console
from bot.chat_config import chat_from
from bot.clock import SystemClock
from bot.demo import INTRO, demo_files
from bot.heap import freeze_startup_heap
from bot.http import DRAINING_KEY, make_app
from bot.policy_source import policy_or_empty
from bot.progress import readings, watch_sync
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.shutdown import finish_within
from bot.slack_wiring import SLACK_KEY, mount_slack
from bot.teams_wiring import mount_teams
from bot.wiring import Bot, build
from core.identity import Actor, is_email

log = logging.getLogger(__name__)


def _write(line: str) -> None:
    print(line, flush=True)


async def _console_session(bot: Bot, actor: Actor) -> int:
    scheduler = Scheduler(bot)
    for outcome in await scheduler.sync_if_stale():
        if not outcome.ok:
            _write(f"Roster sync failed: {outcome.error}")
    stop = asyncio.Event()
    background = asyncio.create_task(scheduler.run(stop))
    try:
        await run_console(bot.dispatcher, actor, write=_write, before_each=scheduler.run_lifecycle)
        return 0
    finally:
        stop.set()
        await background


async def console(settings: Settings, args: argparse.Namespace) -> int:
    if not is_email(args.as_email):
        print(
            f"oncall-access: --as needs an email address, not `{args.as_email}`.", file=sys.stderr
        )
        return 2
    try:
        ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(
            f"oncall-access: `{args.tz}` is not a time zone (e.g. Europe/Berlin, UTC).",
            file=sys.stderr,
        )
        return 2
    bot = await build(settings, notifiers=[ConsoleNotifier(_write)])
    try:
        return await _console_session(bot, Actor(args.as_email, surface="console", tz=args.tz))
    finally:
        await bot.close()


async def demo(settings: Settings, args: argparse.Namespace) -> int:
    folder = args.dir
    try:
        policy, roster = demo_files(folder, SystemClock().now())
    except OSError as exc:
        print(f"oncall-access: cannot use {folder} for the demo: {exc.strerror}.", file=sys.stderr)
        return 1
    db = folder / "demo.db"
    demo_settings = settings.model_copy(
        update={
            "database_url": f"sqlite+aiosqlite:///{db}",
            "policy_file": policy,
            "roster_file": roster,
            "admins_text": "lead@example.com",
        }
    )
    bot = await build(demo_settings, notifiers=[ConsoleNotifier(_write)])
    try:
        outcome = await bot.syncer.sync(bot.providers[0])  # the rota was just rewritten around now
        if not outcome.ok:
            _write(f"Demo roster sync failed: {outcome.error}")
            return 1
        _write(INTRO.format(db=db))
        return await _console_session(bot, Actor("alice@example.com", surface="console"))
    finally:
        await bot.close()


async def sync(settings: Settings, args: argparse.Namespace) -> int:
    bot = await build(settings, policy=policy_or_empty(settings.policy_file))
    try:
        if not bot.providers:
            print(
                "No roster provider is configured (set ONCALL_ACCESS_ROSTER_FILE or connect one).",
                file=sys.stderr,
            )
            return 1
        outcomes = await watch_sync(bot.syncer.sync_all(), lambda: readings(bot))
        for outcome in outcomes:
            print(outcome.summary())
        return 0 if all(o.ok for o in outcomes) else 1
    finally:
        await bot.close()


async def serve(settings: Settings, args: argparse.Namespace) -> int:
    try:
        bot = await build(settings, chat=chat_from(settings))
    except ValueError as exc:  # e.g. SingleTenant without MICROSOFT_APP_TENANT_ID
        print(f"oncall-access: invalid Teams settings: {exc}", file=sys.stderr)
        return 2
    scheduler = Scheduler(bot)
    app = make_app(bot)
    if bot.oauth is not None and bot.admin is not None:
        app.router.add_routes([bot.oauth.route(bot.admin.complete_user_flow)])
    mount_slack(bot, app)
    mount_teams(app, bot)
    # In-flight requests get their time while draining; what is left when the site closes, 1 s.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    port = args.port if args.port is not None else settings.port
    try:
        site = web.TCPSite(runner, args.host, port)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await bot.close()
        print(
            f"oncall-access: cannot listen on {args.host}:{port}: {exc.strerror}.", file=sys.stderr
        )
        return 1
    log.info("serving on %s:%s", args.host, port)
    freeze_startup_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, scheduler.reload_policy_soon)
    try:
        scheduled = asyncio.create_task(_scheduled_work(scheduler, stop))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({scheduled, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():  # the scheduler ends only when told to, or when it failed
            stopping.cancel()
            await scheduled  # its error is the command's (main maps it to an exit code)
        await _drain(app, scheduler, scheduled, settings.shutdown_seconds)
        return 0
    finally:
        await runner.cleanup()
        await bot.close()


async def _scheduled_work(scheduler: Scheduler, stop: asyncio.Event) -> None:
    for outcome in await scheduler.sync_if_stale():
        (log.info if outcome.ok else log.warning)("%s", outcome.summary())
    await scheduler.run(stop)


async def _drain(
    app: web.Application, scheduler: Scheduler, scheduled: asyncio.Task[None], seconds: float
) -> None:
    """On SIGTERM: take no new work, finish what is in flight within `seconds`, cancel the
    rest, and give up every job lease at once (see bot/shutdown.py)."""
    log.info("stopping: no new work taken; finishing what is in flight (at most %g s)", seconds)
    draining, slack = app[DRAINING_KEY], app.get(SLACK_KEY)
    draining.stop_taking_work()
    scheduler.stopping = True
    deadline = asyncio.get_running_loop().time() + seconds

    async def inbound_then_background() -> None:
        await draining.idle()  # the requests being handled may still leave work behind
        if slack is not None:
            await slack.drain(max(deadline - asyncio.get_running_loop().time(), 0.0))

    late = await finish_within(
        seconds,
        [scheduled, inbound_then_background()],
        ["the scheduled job", "chat requests and their answers"],
    )
    if slack is not None:
        await slack.drain(0)  # whatever is still running is cancelled now
    if late:
        log.warning(
            "stopped before %s finished (ONCALL_ACCESS_SHUTDOWN_SECONDS=%g)",
            " and ".join(late),
            seconds,
        )
    try:
        released = await scheduler.release_leases()
    except Exception as exc:  # they run out by themselves within seconds
        log.warning("could not release the job leases: %s", type(exc).__name__)
    else:
        log.info("stopped; %d job lease(s) released", released)
