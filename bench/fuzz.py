"""Fuzz every inbound surface of a running bot and count what must never happen.

Run from the repository root:  python bench/fuzz.py [--cases 10000] [--seed 1]

One app as `serve` composes it (the bot on SQLite, Slack and Teams mounted, the fake Slack Web
API, the fake Bot Framework identity provider and connector) listens on loopback; `--cases`
generated requests go to each HTTP surface over real HTTP, and as many generated texts and files
to the other surfaces (typed commands through the front door as the console sends them, policy
files, roster files). Counted per surface:

- tracebacks: a log record at ERROR with exception info, an internal-error reply (which carries
  an error id), or, for the files, any exception other than the one-sentence refusal;
- 5xx: HTTP answers of 500 and above (the Bot Framework's 501 for an invoke name the bot does not
  implement is listed apart, as it is the protocol's answer, not a failure);
- refused changed state: a refused or unauthenticated request after which the requests, the audit
  trail or the messages sent to Slack or Teams changed.

Cases are a seeded mix of well-formed requests with hostile text (NUL, lone surrogates, 5,000
digits, quotes, mentions) and malformed ones (bytes that are not UTF-8, deep JSON, odd headers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

INTERNAL = "Something went wrong on our side"
TOKENS = [
    "request", "approve", "deny", "extend", "revoke", "cancel", "review", "why", "identity",
    "list", "mine", "pending", "oncall", "status", "sync", "help", "map", "unmap", "prod-db",
    "grafana-admin", "r7k2m9p", "shift", "ok", "flag", "--break-glass", "1h", "30m", "1h30m",
    "0s", "-5m", "366d", "367d", "9" * 40 + "s", "9" * 3000 + "m", "0" * 500 + "1h",
    "slack:U0123ABCD", "slack:" + "U" * 300, "email:" + "a" * 250 + "@example.com",
    "alice@example.com", "a" * 300 + "@example.com", '"', "'", "“", "”", "\\", "`", "*",
    "<!channel>", "<@U0123ABCD>", "\x00", "\ud800", "\udfff", "\u202e", "\u200b", "é", "\t",
    "\n", "INC-4411", "x" * 5000,
]  # fmt: skip
HOSTILE_BODIES = [
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b"payload=" + b"%5B" * 30_000,
    b'{"type": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\x00payload",
    b"command=/access&text=%FF%FE",
    b"ssl_check=1&token=x",
    b"",
]


@dataclass
class Tally:
    cases: int = 0
    tracebacks: int = 0
    server_errors: int = 0
    unimplemented_invokes: int = 0
    refused_changed_state: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    first_problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, what: Any, case: bytes | str | None = None) -> None:
        if len(self.first_problems) < 5:
            self.first_problems.append(f"{kind}: {str(what)[:300]}")
        if DUMP is not None and case is not None:
            shown = case.decode("utf-8", "replace") if isinstance(case, bytes) else case
            with DUMP.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"kind": kind, "what": str(what), "case": shown}) + "\n")


DUMP: Path | None = None  # --dump: every problem with the case that caused it, as JSON lines


class TracebackCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            where = "".join(traceback.format_exception(*record.exc_info)[-3:]) if DUMP else ""
            self.seen.append(f"{record.getMessage()}: {record.exc_info[1]!r}{where}")


class Generator:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def text(self) -> str:
        r = self.r
        words = [r.choice(TOKENS) for _ in range(r.randint(0, 8))]
        if r.random() < 0.3:
            words.append("".join(chr(r.randint(1, 0x10FFFF)) for _ in range(r.randint(1, 12))))
        return r.choice([" ", "  ", " \t"]).join(words)

    def json_value(self, depth: int = 0) -> Any:
        r = self.r
        kind = r.randint(0, 7 if depth < 4 else 3)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False, 0, -1, 10**30, 1.5e300])
        if kind in (2, 3):
            return self.text()
        if kind in (4, 5):
            return [self.json_value(depth + 1) for _ in range(r.randint(0, 3))]
        keys = ["type", "value", "text", "id", "verb", "action", "data", "name", self.text()]
        return {r.choice(keys): self.json_value(depth + 1) for _ in range(r.randint(0, 4))}

    def body(self) -> bytes:
        r = self.r
        choice = r.randint(0, 4)
        if choice == 0:
            return r.randbytes(r.randint(0, 300))
        if choice == 1:
            return r.choice(HOSTILE_BODIES)
        if choice == 2:
            return json.dumps(self.json_value()).encode()
        if choice == 3:
            return urlencode({"payload": json.dumps(self.json_value())}).encode()
        return urlencode({"command": "/access", "text": self.text()}, errors="replace").encode()


def _activity(gen: Generator, which: int, envelope: dict[str, Any]) -> dict[str, Any]:
    from tests.fakes.teams import activities

    if which == 0:
        return activities.personal_message(gen.text(), **envelope)
    if which == 1:
        verb = gen.r.choice(["approve", "deny", "refresh", "disconnect", gen.text()])
        data = {"id": gen.text(), "request_id": gen.text()}
        return activities.adaptive_card_action(verb, data, **envelope)
    if which == 2:
        return activities.card_submit({"verb": gen.text()}, **envelope)
    if which == 3:
        return activities.task_fetch({"form": gen.text()}, **envelope)
    data = {"form": "request", "resource": gen.text(), "duration": gen.text()}
    return activities.task_submit(data, **envelope)


def _header(text: str) -> str:
    """Any text as a header value aiohttp will send: no control characters, latin-1."""
    latin = text.encode("utf-8", "replace").decode("latin-1")
    return "".join(ch for ch in latin if " " <= ch < "\x7f" or ch >= "\xa0")


def _state_of(rig: Rig) -> Any:
    async def state() -> tuple[int, int, int, int]:
        from core.requests import Status

        requests = await rig.bot.requests.with_status(*Status)
        return (
            len(requests),
            len(await rig.bot.audit.records()),
            len(rig.slack.calls()),
            len(rig.connector.calls),
        )

    return state


@dataclass
class Rig:
    bot: Any
    surface: Any
    slack: Any
    identity: Any
    connector: Any
    base: str
    session: aiohttp.ClientSession

    async def settle(self) -> None:
        tasks = set(self.surface._tasks)  # the Slack surface's work after each ack
        if tasks:
            await asyncio.wait(tasks, timeout=30)


async def fuzz_slack(rig: Rig, gen: Generator, cases: int, logs: TracebackCounter) -> Tally:
    from tests.fakes.slack import payloads
    from tests.fakes.slack.constants import SIGNING_SECRET
    from tests.fakes.slack.signing import signed_headers

    tally, state, url = Tally(), _state_of(rig), rig.base + "/slack/events"
    users = ["UALICE0001", "UBOB000001", "ULEAD00001", "UNOBODY001"]
    seen_calls = 0
    for _ in range(cases):
        r = gen.r
        kind = r.random()
        refused_expected = kind < 0.3
        if refused_expected:  # unsigned, or signed wrongly
            body, content_type = gen.body(), payloads.FORM
            headers = {
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": r.choice(
                    [str(int(time.time())), "9" * 5000, "١٢٣", "", "-1", "1e9", gen.text()[:20]]
                ),
                "X-Slack-Signature": r.choice(["", "v0=é", "v0=" + "0" * 64, gen.text()[:20]]),
            }
            headers = {k: _header(v) for k, v in headers.items()}
        else:
            if kind < 0.5:
                body, content_type = gen.body(), r.choice([payloads.FORM, "application/json"])
            elif kind < 0.8:
                body, content_type = payloads.slash_command(
                    gen.text().encode("utf-8", "replace").decode("utf-8"),
                    user_id=r.choice(users),
                    response_url=rig.slack.response_url("bench"),
                )
            elif kind < 0.9:
                body, content_type = payloads.block_actions(
                    r.choice(["access.approve", "access.deny", "access.give_back", gen.text()]),
                    gen.text(),
                    block_id="decision",
                    user_id=r.choice(users),
                    response_url=rig.slack.response_url("bench"),
                )
            else:
                body, content_type = payloads.view_submission(
                    {
                        b: {"value": payloads.plain_text_input(gen.text())}
                        for b in r.sample(["resource", "duration", "reason", "provider"], 2)
                    },
                    callback_id=r.choice(["access.request_form", "access.deny_form", gen.text()]),
                    private_metadata=r.choice(["", "[" * 5000, json.dumps(gen.json_value())]),
                    user_id=r.choice(users),
                )
            headers = signed_headers(body, content_type, SIGNING_SECRET)
        before = await state()
        logs.seen.clear()
        try:
            async with rig.session.post(url, data=body, headers=headers) as response:
                status = response.status
                await response.read()
        except aiohttp.ClientError as exc:
            status = 599
            tally.problem("client error", exc)
        await rig.settle()
        tally.cases += 1
        tally.statuses[status] += 1
        if status >= 500:
            tally.server_errors += 1
            tally.problem(f"HTTP {status}", body[:200])
        if (refused_expected or status >= 400) and await state() != before:
            tally.refused_changed_state += 1
            tally.problem("refused request changed state", body[:200], body)
        calls = rig.slack.calls()
        said = [json.dumps(c.params, default=str) for c in calls[seen_calls:]]
        seen_calls = len(calls)
        internal = [s for s in said if INTERNAL in s or "Traceback" in s]
        if logs.seen or internal:
            tally.tracebacks += 1
            tally.problem("traceback", (logs.seen or internal)[0], body)
    return tally


async def fuzz_teams(rig: Rig, gen: Generator, cases: int, logs: TracebackCounter) -> Tally:
    from tests.adapters.teams_fakes.conftest import APP_ID

    tally, state, url = Tally(), _state_of(rig), rig.base + "/api/messages"
    people = [
        ("29:alice-teams-id", "00000000-0000-4000-8000-000000000510", "a:alice-chat"),
        ("29:lead-teams-id", "00000000-0000-4000-8000-000000000424", "a:lead-chat"),
    ]
    seen = 0
    for _ in range(cases):
        r = gen.r
        user_id, aad, chat = r.choice(people)
        envelope = {
            "service_url": rig.connector.service_url,
            "user_id": user_id,
            "aad_object_id": aad,
            "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "conversation_id": chat,
        }
        kind = r.random()
        unauthenticated = kind < 0.3
        if kind < 0.15:
            body = gen.body()
        else:
            activity = _activity(gen, r.randrange(5), envelope)
            for _ in range(r.randint(0, 2)):
                activity[
                    r.choice(["value", "text", "type", "name", "conversation", "replyToId", "from"])
                ] = gen.json_value()
            body = json.dumps(activity).encode()
        token = rig.identity.mint_channel_token(APP_ID, rig.connector.service_url)
        authorization = (
            r.choice(["", "Bearer x.y.z", "Bearer " + "a" * 5000, "Basic abc"])
            if unauthenticated
            else f"Bearer {token}"
        )
        headers = {
            "Content-Type": r.choice(["application/json", "application/json; charset=foo"])
            if r.random() < 0.9
            else "text/plain",
            "Authorization": authorization,
        }
        before = await state()
        logs.seen.clear()
        try:
            async with rig.session.post(url, data=body, headers=headers) as response:
                status = response.status
                await response.read()
        except aiohttp.ClientError as exc:
            status = 599
            tally.problem("client error", exc)
        tally.cases += 1
        tally.statuses[status] += 1
        if status == 501 and not unauthenticated and b'"invoke"' in body:
            tally.unimplemented_invokes += 1
        elif status >= 500:
            tally.server_errors += 1
            tally.problem(f"HTTP {status}", body[:300])
        if (unauthenticated or status >= 400) and await state() != before:
            tally.refused_changed_state += 1
            tally.problem("refused request changed state", body[:300], body)
        sent = rig.connector.activities
        said = [json.dumps(a.__dict__, default=str) for a in sent[seen:]]
        seen = len(sent)
        internal = [s for s in said if INTERNAL in s or "Traceback" in s]
        if logs.seen or internal:
            tally.tracebacks += 1
            tally.problem("traceback", (logs.seen or internal)[0], body)
    return tally


async def fuzz_front_door(rig: Rig, gen: Generator, cases: int, logs: TracebackCounter) -> Tally:
    """Typed commands as the console hands them over: the grammar and the dispatcher."""
    from core import commands as c
    from core.errors import CommandError
    from core.identity import Actor

    tally, state = Tally(), _state_of(rig)
    people = [Actor("lead@example.com"), Actor("alice@example.com"), Actor("bob@example.com")]
    for _ in range(cases):
        text = gen.text()
        try:
            c.parse(text)
            refused = False
        except CommandError:
            refused = True
        except Exception as exc:  # the grammar itself must only ever refuse
            refused = True
            tally.tracebacks += 1
            tally.problem("grammar raised", repr(exc))
        before = await state()
        logs.seen.clear()
        reply = await rig.bot.dispatcher.handle(gen.r.choice(people), text)
        tally.cases += 1
        if logs.seen or INTERNAL in reply.text:
            tally.tracebacks += 1
            tally.problem("traceback", (text[:80], reply.text[:200]))
        if refused and await state() != before:
            tally.refused_changed_state += 1
            tally.problem("refused command changed state", text[:200])
    return tally


POLICY_FRAGMENTS = [
    "version: 1\n", "resources:\n", "  prod-db:\n", "    approve: {people: [a@example.com]}\n",
    "    request: {on_call: ['file:schedule/Primary SRE']}\n", "    max_duration: 4h\n",
    "    max_duration: " + "9" * 5000 + "\n", "  prod-db: {}\n", "a: &a [x, x, x, x, x, x, x, x]\n",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n",
    "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n", "x: " + "[" * 3000 + "\n",
    "when: 2026-02-30\n", "\t- bad indent\n", "n: !!int ''\n", "'unclosed\n", "\x00\n",
    "people:\n", "  - {email: a@example.com, name: [1]}\n", "groups:\n",
    "  'schedule/A': {members: [a@example.com], on_call: [{email: a@example.com, start: x}]}\n",
    "  'schedule/A': {}\n", "1: 2\n", "? [a, b]\n: c\n",
]  # fmt: skip


def fuzz_files(gen: Generator, cases: int, which: str) -> Tally:
    from adapters.rosterfile.provider import parse_roster
    from core.errors import DomainError
    from core.policy import parse_policy
    from core.yamlread import YamlProblem, decode

    tally = Tally()
    for _ in range(cases):
        r = gen.r
        pieces = [r.choice(POLICY_FRAGMENTS) for _ in range(r.randint(1, 10))]
        raw = "".join(pieces).encode("utf-8", "surrogatepass")
        if r.random() < 0.1:
            raw = raw[: r.randint(0, len(raw))] + r.randbytes(r.randint(0, 20))
        tally.cases += 1
        try:
            text = decode(raw)
            if which == "policy":
                parse_policy(text, "policy.yaml")
            else:
                from datetime import UTC, datetime

                parse_roster(text, "roster.yaml", datetime(2026, 11, 23, tzinfo=UTC))
        except (DomainError, YamlProblem) as refused:
            said = getattr(refused, "message", str(refused))
            if len(said) > 20_000:
                tally.tracebacks += 1
                tally.problem("refusal too long", len(said))
        except Exception as exc:
            tally.tracebacks += 1
            tally.problem("raised", repr(exc)[:200])
    return tally


async def main(cases: int, seed: int, only: str = "") -> dict[str, Tally]:
    from adapters.slack.app import SlackConfig
    from bot.http import make_app
    from bot.slack_wiring import mount_slack
    from bot.teams_wiring import mount_teams
    from tests.adapters.teams.conftest import ALICE, BOB, CAROL, LEAD
    from tests.adapters.teams_fakes.conftest import APP_ID, APP_PASSWORD
    from tests.builders import make_bot
    from tests.conftest import FakeClock
    from tests.fakes.slack import FakeSlackApi
    from tests.fakes.slack.constants import SIGNING_SECRET
    from tests.fakes.teams.connector import FakeConnector
    from tests.fakes.teams.identity import FakeIdentityProvider

    logs = TracebackCounter()
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger().addHandler(logs)  # and nothing else: the counts are the report
    gen = Generator(seed)
    results: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeSlackApi() as slack,
            FakeIdentityProvider(clients={APP_ID: APP_PASSWORD}) as identity,
        ):
            os.environ["REQUESTS_CA_BUNDLE"] = identity.ca_bundle_path
            os.environ["SSL_CERT_FILE"] = identity.ca_bundle_path
            async with FakeConnector(identity) as connector:
                for user, email in [("UALICE0001", "alice@example.com"),
                                    ("UBOB000001", "bob@example.com"),
                                    ("ULEAD00001", "lead@example.com"),
                                    ("UNOBODY001", None)]:  # fmt: skip
                    slack.add_user(user, email, name=user.lower())
                for person in (ALICE, BOB, LEAD, CAROL):
                    connector.add_member(person.member)
                clock = FakeClock()
                config = SlackConfig(
                    bot_token=slack.token, signing_secret=SIGNING_SECRET, api_url=slack.base_url
                )
                bot = await make_bot(
                    Path(tmp),
                    f"sqlite+aiosqlite:///{tmp}/fuzz.db",
                    clock,
                    slack=config,
                    fields={
                        "microsoft_app_id": APP_ID,
                        "microsoft_app_password": APP_PASSWORD,
                        "microsoft_app_tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                        "microsoft_openid_metadata_url": identity.openid_metadata_url,
                        "microsoft_token_issuer": identity.token_issuer,
                        "microsoft_login_url": identity.login_url,
                    },
                )
                app = make_app(bot)
                surface = mount_slack(bot, app)
                mount_teams(app, bot)
                from aiohttp import web

                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                host, port = runner.addresses[0][:2]
                await slack.next_call("auth.test", timeout=10)
                try:
                    async with aiohttp.ClientSession() as session:
                        rig = Rig(bot, surface, slack, identity, connector,
                                  f"http://{host}:{port}", session)  # fmt: skip
                        for name, run in [("/slack/events", fuzz_slack),
                                          ("/api/messages", fuzz_teams),
                                          ("commands (console, dispatcher)", fuzz_front_door)]:  # fmt: skip
                            if only not in name:
                                continue
                            started = time.perf_counter()
                            results[name] = await run(rig, gen, cases, logs)
                            print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
                            clock.advance(timedelta(minutes=1))
                finally:
                    await runner.cleanup()
                    await bot.close()
    for which in ("policy", "roster"):
        if only not in f"{which} file":
            continue
        started = time.perf_counter()
        results[f"{which} file"] = fuzz_files(gen, cases, which)
        print(f"{which} file: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="per surface")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="surfaces whose name holds this, e.g. /api")
    parser.add_argument("--dump", type=Path, help="append each problem and its case (JSON lines)")
    args = parser.parse_args()
    DUMP = args.dump
    results = asyncio.run(main(args.cases, args.seed, args.only))
    print(
        f"{'surface':32} {'cases':>7} {'tracebacks':>10} {'5xx':>5} {'refused changed state':>22}"
    )
    for name, t in results.items():
        print(
            f"{name:32} {t.cases:>7} {t.tracebacks:>10} {t.server_errors:>5} "
            f"{t.refused_changed_state:>22}"
        )
    for name, t in results.items():
        if t.statuses:
            shown = ", ".join(f"{s}: {n}" for s, n in sorted(t.statuses.items()))
            print(f"  {name} statuses: {shown}")
        if t.unimplemented_invokes:
            print(
                f"  {name}: {t.unimplemented_invokes} x 501 for invoke names the bot does not implement"
            )
        for problem in t.first_problems:
            print(f"  {name}: {problem}")
    failed = any(
        t.tracebacks or t.server_errors or t.refused_changed_state for t in results.values()
    )
    sys.exit(1 if failed else 0)
