"""What a fleet of replicas buys: one versus two and three `oncall-access serve` processes on one
PostgreSQL database, under the signed slash-command load of `bench/slack_ack.py`.

Run from the repository root:
    python bench/fleet.py [--commands 2000] [--concurrency 50] [--replicas 1,2,3] [--quick]
                          [--repeat R]   (R interleaved runs of the sizes; medians reported)

For each fleet size: a fresh PostgreSQL database (created, migrated once with `oncall-access db
upgrade`, dropped at the end), N real `oncall-access serve` processes on free loopback ports with
the policy of `tests/builders.py` and a roster file putting every bench user on call for
`file:schedule/Primary SRE`, `SLACK_API_URL` pointing at the fake Slack Web API of
`tests/fakes/slack`. Every replica must answer `GET /readyz` with 200 before the load starts;
at the end each gets SIGTERM, and SIGKILL if it is still running after a deadline.
After a warm-up round (pools, caches, prepared statements), `--commands` signed
`/access request prod-db 1h INC-4411 failover` commands, each from a different Slack user (a
person may have one open request per resource, so every command creates a pending request and
asks both approvers), are sent with `--concurrency` HTTP requests in flight, spread round-robin
over the replicas as a load balancer would. Slack's acknowledgement does not wait for the work,
so the acks outrun the answers and the answers measure how fast the fleet drains the backlog.

Measured, per fleet size, in the same run:
- acknowledged commands per second: HTTP 200 from `POST /slack/events`, first send to last ack;
- answered commands per second: the answer reaching the fake Slack on the command's own
  `response_url` (the bot answers a typed request there, ephemerally, once the request is
  stored and the approvers are asked) and saying the request waits for approval, first send
  to the last such answer; commands answered otherwise (an internal error) or not at all
  within the deadline are counted as failed, and what they said is shown, with the warnings,
  errors and exceptions of the replicas' logs;
- database round trips per command, counted on the wire: every replica talks to PostgreSQL
  through its own counting TCP proxy, which follows the server's message framing and counts
  ReadyForQuery messages. PostgreSQL sends exactly one per simple query and one per extended-
  protocol Sync, so one per round trip the driver waits on: BEGIN, each statement, COMMIT or
  ROLLBACK, the pool's pre-ping; a statement asyncpg has not yet prepared on that connection
  costs one more. The ReadyForQuery that ends a connection's start-up counts as a new
  connection, not a round trip. A transaction is counted when ReadyForQuery's status goes from
  "in a transaction" back to idle; a pre-ping is counted by its EmptyQueryResponse (`;`).
  Why a proxy: `pg_stat_statements` is not preloaded on this server, and `pg_stat_database`
  counts transactions, not round trips, and flushes them lazily. Counts run from the end of the
  warm-up to the last answer (once the counters are still); the replicas' scheduler tick is
  pushed past the run (`--tick`), so the counts are the commands' own work.
- CPU seconds in that window of each replica, of PostgreSQL (whole server, read from /proc
  when it runs here), of the bench's own processes, and how busy the machine was.

The fake Slack and the proxy each run in a child process, the load generator in this one; the
proxy adds a hop and some CPU per round trip (`--direct` leaves it out, and the counts with it).
The machine is shared and noisy: read the ratios to one replica, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

LOOPBACK = "127.0.0.1"
TEXT = "request prod-db 1h INC-4411 failover"
ACCEPTED = "is waiting for approval"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
READY_DEADLINE = 90.0
STOP_DEADLINE = 15.0
REQUEST_TIMEOUT = 60.0
APPROVERS = (("UBENCHBOB", "bob@example.com"), ("UBENCHLEAD", "lead@example.com"))
SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


def _user_id(i: int) -> str:
    return f"UB{i:07d}"


def _email(i: int) -> str:
    return f"bench{i}@example.com"


# --- counting proxy in front of PostgreSQL (child process) ---------------------------------------


@dataclass
class Trips:
    connections: int = 0
    round_trips: int = 0
    transactions: int = 0
    pings: int = 0
    encrypted: int = 0


class _ServerStream:
    """Walks the server-to-client byte stream message by message (type byte, int32 length) and
    counts ReadyForQuery: one per completed round trip."""

    def __init__(self, trips: Trips) -> None:
        self.trips = trips
        self.single_bytes = 0  # answers to SSLRequest / GSSENCRequest: one raw byte each
        self.header = b""
        self.skip = 0
        self.status_next = False
        self.started = False
        self.state = ord("I")
        self.blind = False

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n and not self.blind:
            if self.single_bytes:
                self.single_bytes -= 1
                if data[i] in b"SG":  # TLS or GSS encryption accepted: nothing left to read
                    self.blind = True
                    self.trips.encrypted += 1
                i += 1
            elif self.skip:
                step = min(self.skip, n - i)
                self.skip -= step
                i += step
            elif self.status_next:
                self.status_next = False
                self._ready(data[i])
                i += 1
            else:
                part = data[i : i + 5 - len(self.header)]
                self.header += part
                i += len(part)
                if len(self.header) == 5:
                    kind, length = self.header[0], int.from_bytes(self.header[1:], "big") - 4
                    self.header = b""
                    if kind == ord("Z") and length == 1:
                        self.status_next = True
                    else:
                        self.skip = length
                        self.trips.pings += kind == ord("I")  # EmptyQueryResponse

    def _ready(self, status: int) -> None:
        if not self.started:
            self.started = True
            self.trips.connections += 1
        else:
            self.trips.round_trips += 1
            if self.state != ord("I") and status == ord("I"):
                self.trips.transactions += 1
        self.state = status


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    feed: Callable[[bytes], None] | None = None,
) -> None:
    try:
        while data := await reader.read(65536):
            if feed is not None:
                feed(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _client_side(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: _ServerStream
) -> None:
    """The start-up messages have no type byte; an SSLRequest or GSSENCRequest is answered with
    one raw byte, which the server-side parser must be told to expect."""
    try:
        for _ in range(3):  # at most GSSENCRequest, SSLRequest, then StartupMessage
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8) if length > 8 else b""
            encryption = code in (SSL_REQUEST, GSSENC_REQUEST)
            if encryption:
                stream.single_bytes += 1
            writer.write(head + rest)
            await writer.drain()
            if not encryption:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        writer.close()
        return
    await _pump(reader, writer)


async def _proxy_connection(
    upstream: tuple[str, int],
    trips: Trips,
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(*upstream)
    except OSError:
        client_writer.close()
        return
    stream = _ServerStream(trips)
    await asyncio.gather(
        _client_side(client_reader, server_writer, stream),
        _pump(server_reader, client_writer, stream.feed),
    )


def _proxy_main(conn: Connection, upstream: tuple[str, int], listeners: int) -> None:
    """Child process: one counting proxy listener per replica, until told to stop."""
    asyncio.run(_proxy_async(conn, upstream, listeners))


async def _proxy_async(conn: Connection, upstream: tuple[str, int], listeners: int) -> None:
    trips = [Trips() for _ in range(listeners)]
    servers = [
        await asyncio.start_server(partial(_proxy_connection, upstream, t), LOOPBACK, 0)
        for t in trips
    ]
    conn.send([s.sockets[0].getsockname()[1] for s in servers])
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                message = await loop.run_in_executor(None, conn.recv)
            except EOFError:
                break
            if message != "stats":
                break
            conn.send([asdict(t) for t in trips])
    finally:
        for server in servers:
            server.close()


# --- fake Slack Web API (child process) ----------------------------------------------------------


def _slack_main(conn: Connection, users: int) -> None:
    """Child process: the fake Slack Web API with every bench user and both approvers."""
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_slack_async(conn, users))


async def _slack_async(conn: Connection, users: int) -> None:
    from tests.fakes.slack import RESPONSE_URL, FakeSlackApi

    async with FakeSlackApi() as fake:
        for i in range(users):
            fake.add_user(_user_id(i), _email(i), name=f"bench{i}")
        for user_id, email in APPROVERS:
            fake.add_user(user_id, email, name=email.partition("@")[0])
        conn.send((fake.base_url, fake.root_url))
        loop = asyncio.get_running_loop()
        while True:
            try:
                message = await loop.run_in_executor(None, conn.recv)
            except EOFError:
                break
            if message[0] != "watch":
                break
            _, prefix, expected, timeout = message
            first_call, seen = len(fake.calls()), len(fake.ephemerals)
            conn.send("watching")
            arrivals, kinds, done = await _watch(fake, prefix, expected, timeout, seen)
            methods = Counter(
                c.method for c in fake.calls()[first_call:] if not c.method.startswith(RESPONSE_URL)
            )
            conn.send(
                {"arrivals": arrivals, "kinds": kinds, "done": done, "api_calls": dict(methods)}
            )


async def _watch(
    fake: Any, prefix: str, expected: int, within: float, seen: int
) -> tuple[dict[str, float], dict[str, int], list[str]]:
    """When each command's answer reached its response_url (time.monotonic, which is the same
    clock in every process of this machine), until all `expected` arrived or the deadline; what
    the answers said; which commands got the answer they asked for."""
    from tests.fakes.slack import CallTimeout

    arrivals: dict[str, float] = {}
    kinds: Counter[str] = Counter()
    done: list[str] = []
    deadline = time.monotonic() + within
    while len(arrivals) < expected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        with contextlib.suppress(CallTimeout):
            await fake.wait_until(lambda n=seen: len(fake.ephemerals) > n, timeout=remaining)
        now = time.monotonic()
        for message in fake.ephemerals[seen:]:
            name = str(message.get("response_url") or "")
            if name.startswith(prefix) and name not in arrivals:
                arrivals[name] = now
                text = str(message.get("text") or "")
                kinds[ACCEPTED if ACCEPTED in text else _same(text)] += 1
                if ACCEPTED in text:
                    done.append(name)
        seen = len(fake.ephemerals)
    return arrivals, dict(kinds), done


# --- replicas ------------------------------------------------------------------------------------


@dataclass
class Replica:
    index: int
    port: int
    proc: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _executable() -> str:
    beside = Path(sys.executable).parent / "oncall-access"
    found = str(beside) if beside.exists() else shutil.which("oncall-access")
    if not found:
        raise SystemExit("oncall-access is not installed (pip install -e .)")
    return found


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


async def _run_cli(env: dict[str, str], cwd: Path, *argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        _executable(),
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), READY_DEADLINE)
    if proc.returncode != 0:
        raise RuntimeError(
            f"oncall-access {' '.join(argv)} failed:\n{out.decode(errors='replace')}"
        )


async def _start_replica(index: int, env: dict[str, str], cwd: Path) -> Replica:
    port = _free_port()
    log = cwd / f"replica{index}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            _executable(),
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    return Replica(index, port, proc, log)


async def _wait_ready(session: aiohttp.ClientSession, replica: Replica) -> float:
    """Poll `GET /readyz` until 200 (the roster is synced and the database reachable)."""
    started = time.monotonic()
    deadline = started + READY_DEADLINE
    while time.monotonic() < deadline:
        if replica.proc.returncode is not None:
            raise RuntimeError(
                f"replica {replica.index} exited with {replica.proc.returncode}:\n"
                + _tail(replica.log)
            )
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(
                f"{replica.url}/readyz", timeout=aiohttp.ClientTimeout(total=2)
            ) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise RuntimeError(
        f"replica {replica.index} not ready in {READY_DEADLINE:g}s:\n" + _tail(replica.log)
    )


async def _stop(replicas: list[Replica]) -> list[int | None]:
    """SIGTERM to all, then SIGKILL to whoever is still running after the deadline."""
    for r in replicas:
        if r.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                r.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_DEADLINE
    codes: list[int | None] = []
    for r in replicas:
        try:
            await asyncio.wait_for(r.proc.wait(), max(0.1, deadline - time.monotonic()))
            codes.append(r.proc.returncode)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                r.proc.kill()
            await r.proc.wait()
            codes.append(None)  # had to be killed
    return codes


# --- CPU accounting ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (0: state, 1: ppid, 11/12: utime/stime,
    13/14: cutime/cstime of reaped children); empty when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    fields = _stat(pid)
    if not fields:
        return 0.0
    wanted = fields[11:15] if reaped else fields[11:13]
    return sum(int(v) for v in wanted) / _TICK


def _postgres_cpu(postmaster: int | None) -> float:
    """The local server's CPU: the postmaster, its live children, and the backends it reaped
    (connections that closed); every database of the server, not only the bench's."""
    if postmaster is None:
        return 0.0
    total = _cpu_seconds(postmaster, reaped=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if len(fields) > 12 and fields[1] == str(postmaster):
                total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


@dataclass(frozen=True)
class Cpu:
    """CPU seconds: per replica, the bench's own processes, PostgreSQL, the whole machine."""

    replicas: tuple[float, ...]
    bench: float
    postgres: float
    busy: float
    total: float

    @classmethod
    def sample(cls, replicas: list[Replica], bench: list[int], postmaster: int | None) -> Cpu:
        busy, total = _machine_cpu()
        return cls(
            tuple(_cpu_seconds(r.proc.pid) for r in replicas),
            sum(_cpu_seconds(pid) for pid in bench),
            _postgres_cpu(postmaster),
            busy,
            total,
        )

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(
            tuple(a - b for a, b in zip(self.replicas, other.replicas, strict=True)),
            self.bench - other.bench,
            self.postgres - other.postgres,
            self.busy - other.busy,
            self.total - other.total,
        )


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Load:
    started: float
    sent: dict[str, float] = field(default_factory=dict)
    acked: list[float] = field(default_factory=list)
    ack_seconds: list[float] = field(default_factory=list)
    per_replica: Counter[int] = field(default_factory=Counter)
    errors: int = 0


def _commands(
    prefix: str, first_user: int, count: int, root_url: str, replicas: int
) -> list[tuple[str, int, bytes]]:
    from tests.fakes.slack import payloads

    return [
        (
            f"{prefix}{i}",
            i % replicas,
            payloads.slash_command(
                TEXT,
                user_id=_user_id(first_user + i),
                response_url=f"{root_url}/response_url/{prefix}{i}",
            )[0],
        )
        for i in range(count)
    ]


async def _load(
    replicas: list[Replica], commands: list[tuple[str, int, bytes]], concurrency: int
) -> Load:
    """Send every command once, `concurrency` in flight, command i to replica i mod N."""
    from tests.fakes.slack.constants import SIGNING_SECRET
    from tests.fakes.slack.payloads import FORM
    from tests.fakes.slack.signing import signed_headers

    queue: asyncio.Queue[tuple[str, int, bytes, dict[str, str]]] = asyncio.Queue()
    for name, target, body in commands:
        queue.put_nowait((name, target, body, signed_headers(body, FORM, SIGNING_SECRET)))
    load = Load(started=time.monotonic())

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            name, target, body, headers = queue.get_nowait()
            start = time.monotonic()
            load.sent[name] = start
            try:
                async with session.post(
                    f"{replicas[target].url}/slack/events", data=body, headers=headers
                ) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            end = time.monotonic()
            if ok:
                load.acked.append(end)
                load.ack_seconds.append(end - start)
                load.per_replica[target] += 1
            else:
                load.errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        load.started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return load


# --- one fleet -----------------------------------------------------------------------------------


@dataclass
class Harness:
    slack: Connection
    proxy: Connection
    api_url: str
    root_url: str
    proxy_ports: list[int]
    admin_url: str
    direct: bool
    pids: list[int]
    postmaster: int | None

    async def ask(self, conn: Connection, message: Any) -> Any:
        loop = asyncio.get_running_loop()
        conn.send(message)
        return await loop.run_in_executor(None, conn.recv)

    async def trips(self) -> list[Trips]:
        return [Trips(**t) for t in await self.ask(self.proxy, "stats")]

    async def still_trips(self) -> list[Trips]:
        """The counters once they stop moving (late COMMITs and pool returns), bounded."""
        last = await self.trips()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            now = await self.trips()
            if now == last:
                break
            last = now
        return last


@dataclass
class Round:
    load: Load
    arrivals: dict[str, float]
    kinds: dict[str, int]
    done: list[str]
    api_calls: dict[str, int]


async def _round(
    harness: Harness,
    replicas: list[Replica],
    prefix: str,
    first_user: int,
    count: int,
    concurrency: int,
) -> Round:
    commands = _commands(prefix, first_user, count, harness.root_url, len(replicas))
    timeout = 120 + count * 0.1
    watching = await harness.ask(harness.slack, ("watch", prefix, count, timeout))
    if watching != "watching":
        raise RuntimeError(f"the fake Slack answered {watching!r} to watch")
    load = await _load(replicas, commands, concurrency)
    answers = await asyncio.get_running_loop().run_in_executor(None, harness.slack.recv)
    return Round(load, answers["arrivals"], answers["kinds"], answers["done"], answers["api_calls"])


@dataclass
class Result:
    replicas: int
    commands: int
    acked: int
    errors: int
    answered: int
    done: int
    kinds: dict[str, int]
    ack_rate: float
    answer_rate: float
    ack_p50_ms: float
    ack_p99_ms: float
    answer_p50_ms: float
    answer_p99_ms: float
    counted: bool
    trips: list[int]
    transactions: int
    pings: int
    new_connections: int
    encrypted: int
    per_replica_acks: list[int]
    cpu: Cpu
    api_calls: dict[str, int]
    ready_seconds: list[float]
    exits: list[int | None]
    stored: dict[str, int]
    phases: dict[str, float]
    logged: dict[str, int]

    @property
    def trips_per_command(self) -> float:
        return sum(self.trips) / max(1, self.commands)


def _roster(now: datetime, users: int) -> str:
    def iso(at: datetime) -> str:
        return at.isoformat().replace("+00:00", "Z")

    start, end = iso(now - timedelta(hours=1)), iso(now + timedelta(hours=7))
    emails = [_email(i) for i in range(users)]
    lines = [
        "groups:",
        '  "schedule/Primary SRE":',
        f"    members: [{', '.join(emails)}]",
        "    on_call:",
        *(f'      - {{email: {e}, start: "{start}", end: "{end}"}}' for e in emails),
        '  "schedule/Secondary SRE":',
        "    members: [bob@example.com]",
        "    on_call:",
        f'      - {{email: bob@example.com, start: "{start}", end: "{end}"}}',
    ]
    return "\n".join(lines) + "\n"


def _database_url(admin_url: str, host: str, port: int, database: str) -> str:
    parts = urlsplit(admin_url)
    user = parts.netloc.rpartition("@")[0]
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{database}"


async def _admin(admin_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(admin_url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def _postmaster(admin_url: str) -> int | None:
    """The local PostgreSQL server's main process, when it runs on this machine."""
    if urlsplit(admin_url).hostname not in (LOOPBACK, "localhost", "::1"):
        return None
    conn = await asyncpg.connect(admin_url)
    try:
        fields = _stat(int(await conn.fetchval("SELECT pg_backend_pid()")))
    finally:
        await conn.close()
    return int(fields[1]) if fields else None


async def _fleet(harness: Harness, size: int, args: argparse.Namespace, users: int) -> Result:
    commands, concurrency, warm = args.commands, args.concurrency, args.warm
    started = time.monotonic()
    database = f"oa_fleet_{secrets.token_hex(5)}"
    await _admin(harness.admin_url, f'CREATE DATABASE "{database}"')
    replicas: list[Replica] = []
    exits: list[int | None] = []
    upstream = urlsplit(harness.admin_url)
    direct = _database_url(
        harness.admin_url, upstream.hostname or LOOPBACK, upstream.port or 5432, database
    )
    from tests.builders import POLICY

    try:
        with tempfile.TemporaryDirectory(prefix="oa-fleet-") as tmp_name:
            tmp = Path(tmp_name)
            (tmp / "policy.yaml").write_text(POLICY)
            (tmp / "roster.yaml").write_text(_roster(datetime.now(UTC), users))
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", str(tmp)),
                "ONCALL_ACCESS_DATABASE_URL": direct,
                "ONCALL_ACCESS_POLICY_FILE": str(tmp / "policy.yaml"),
                "ONCALL_ACCESS_ROSTER_FILE": str(tmp / "roster.yaml"),
                "ONCALL_ACCESS_ADMINS": "lead@example.com",
                "ONCALL_ACCESS_TICK_SECONDS": str(args.tick),
                "ONCALL_ACCESS_LOG_LEVEL": "WARNING",
                "SLACK_SIGNING_SECRET": _signing_secret(),
                "SLACK_BOT_TOKEN": _bot_token(),
                "SLACK_API_URL": harness.api_url,
            }
            await _run_cli(env, tmp, "db", "upgrade")
            for i in range(size):
                via_proxy = (
                    direct
                    if harness.direct
                    else _database_url(
                        harness.admin_url, LOOPBACK, harness.proxy_ports[i], database
                    )
                )
                replicas.append(
                    await _start_replica(i, {**env, "ONCALL_ACCESS_DATABASE_URL": via_proxy}, tmp)
                )
            async with aiohttp.ClientSession() as session:
                ready = await asyncio.gather(*(_wait_ready(session, r) for r in replicas))
            setup = time.monotonic()
            await _round(harness, replicas, f"w{size}-", 0, warm, concurrency)
            before = await harness.still_trips()
            cpu_before = Cpu.sample(replicas, harness.pids, harness.postmaster)
            measured = await _round(harness, replicas, f"m{size}-", warm, commands, concurrency)
            after = await harness.still_trips()
            cpu = Cpu.sample(replicas, harness.pids, harness.postmaster) - cpu_before
            run = time.monotonic()
            exits = await _stop(replicas)
            stop = time.monotonic() - run
            logged = _log_lines([r.log for r in replicas])
            rows = await _admin(
                direct, "SELECT status, count(*) AS n FROM requests GROUP BY status"
            )
    finally:
        if replicas and not exits:
            await _stop(replicas)
        with contextlib.suppress(Exception):
            await _admin(harness.admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    load = measured.load
    done = [name for name in measured.done if name in load.sent]
    answered = [measured.arrivals[name] - load.sent[name] for name in done]
    last_answer = max((measured.arrivals[name] for name in done), default=load.started)
    pairs = list(zip(after, before, strict=True))[:size]
    return Result(
        replicas=size,
        commands=commands,
        acked=len(load.acked),
        errors=load.errors,
        answered=len(measured.arrivals),
        done=len(done),
        kinds=measured.kinds,
        ack_rate=len(load.acked) / max(1e-9, max(load.acked, default=0) - load.started),
        answer_rate=len(done) / max(1e-9, last_answer - load.started),
        ack_p50_ms=_quantile(load.ack_seconds, 50),
        ack_p99_ms=_quantile(load.ack_seconds, 99),
        answer_p50_ms=_quantile(answered, 50),
        answer_p99_ms=_quantile(answered, 99),
        counted=not harness.direct,
        trips=[a.round_trips - b.round_trips for a, b in pairs],
        transactions=sum(a.transactions - b.transactions for a, b in pairs),
        pings=sum(a.pings - b.pings for a, b in pairs),
        new_connections=sum(a.connections - b.connections for a, b in pairs),
        encrypted=sum(a.encrypted for a, _ in pairs),
        per_replica_acks=[load.per_replica[i] for i in range(size)],
        cpu=cpu,
        api_calls=measured.api_calls,
        ready_seconds=list(ready),
        exits=exits,
        stored={str(r["status"]): int(r["n"]) for r in rows},
        phases={"start": setup - started, "load": run - setup, "stop": stop},
        logged=logged,
    )


_VARYING = re.compile(
    r"\b(?:[0-9a-f]{8}|ub\d{7}|D\d{9}|(?=[a-z]*\d)[a-z0-9]{6,16}|(?<=for )r[a-z0-9]{6}$)\b"
)


def _same(text: str) -> str:
    """A message with its ids (error ids, users, channels, requests) blanked, to count alike."""
    return _VARYING.sub("…", text)[:160]


def _log_lines(logs: list[Path]) -> dict[str, int]:
    """The replicas' warnings and errors by level, logger and message, and the exception that
    ends each traceback (the last of a chain); time stamps and ids left out."""
    found: Counter[str] = Counter()
    for log in logs:
        with contextlib.suppress(OSError):
            in_traceback, raised = False, ""
            for line in [*log.read_text(errors="replace").splitlines(), "EOF"]:
                parts = line.split(" ", 3)  # date, time, level, "logger: message"
                logged = line == "EOF" or (len(parts) == 4 and parts[0][:4].isdigit())
                if line.startswith("Traceback"):
                    in_traceback, raised = True, ""
                elif line.startswith(("The above exception", "During handling")):
                    raised = ""  # the chain goes on: the next traceback ends it
                elif in_traceback and not logged:
                    if line and not line.startswith(" ") and not raised:
                        raised = line
                else:
                    if raised:
                        found[f"raised {_same(raised)}"] += 1
                    in_traceback, raised = False, ""
                    if logged and parts[2:3] and parts[2] in ("WARNING", "ERROR", "CRITICAL"):
                        found[f"{parts[2]} {_same(parts[3])}"] += 1
    return dict(found)


def _quantile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def _signing_secret() -> str:
    from tests.fakes.slack.constants import SIGNING_SECRET

    return SIGNING_SECRET


def _bot_token() -> str:
    from tests.fakes.slack.constants import BOT_TOKEN

    return BOT_TOKEN


# --- report --------------------------------------------------------------------------------------


def _report(results: list[Result], args: argparse.Namespace) -> None:
    by_size: dict[int, list[Result]] = {}
    for r in results:
        by_size.setdefault(r.replicas, []).append(r)

    def median(size: int, value: Callable[[Result], float]) -> float:
        return statistics.median(value(r) for r in by_size[size])

    base = next(iter(by_size))
    runs = f", median of {args.repeat} interleaved runs" if args.repeat > 1 else ""
    print(
        f"\n{args.commands} signed `/access {TEXT}` commands per fleet size, each from its own "
        f"Slack user, concurrency {args.concurrency}, round-robin over the replicas; one fresh "
        f"PostgreSQL database per fleet size{runs}"
    )
    print(f"ratios (×) are to {base} replica(s), measured in this run\n")
    head = (
        f"{'replicas':>8}{'acked/s':>10}{'answered/s':>12}{'failed':>8}{'DB trips/cmd':>14}"
        f"{'xacts/cmd':>11}"
        f"{'ack p50 ms':>12}{'answer p50 ms':>15}"
        f"{'acked ×':>10}{'answered ×':>12}{'trips/cmd ×':>13}"
    )
    print(head)
    print("-" * len(head))
    base_ack = median(base, lambda r: r.ack_rate)
    base_answer = median(base, lambda r: r.answer_rate)
    base_trips = median(base, lambda r: r.trips_per_command)
    for size in by_size:
        ack, answer = median(size, lambda r: r.ack_rate), median(size, lambda r: r.answer_rate)
        trips_per = median(size, lambda r: r.trips_per_command)
        if all(r.counted for r in by_size[size]):
            xacts = median(size, lambda r: r.transactions / r.commands)
            trips = f"{trips_per:>14.2f}{xacts:>11.2f}"
            trips_ratio = f"{trips_per / max(1e-9, base_trips):>13.2f}"
        else:
            trips, trips_ratio = f"{'n/a':>14}{'n/a':>11}", f"{'n/a':>13}"
        print(
            f"{size:>8}{ack:>10.1f}{answer:>12.1f}"
            f"{median(size, lambda r: r.commands - r.done):>8.0f}{trips}"
            f"{median(size, lambda r: r.ack_p50_ms):>12.1f}"
            f"{median(size, lambda r: r.answer_p50_ms):>15.1f}"
            f"{ack / base_ack:>10.2f}{answer / base_answer:>12.2f}{trips_ratio}"
        )
    print(
        f"answered: the command's response_url got '{ACCEPTED}'; failed: answered otherwise "
        "(see below) or not at all; round trips and transactions are per command sent"
    )
    if args.repeat > 1:
        for size, rs in by_size.items():
            spread = ", ".join(f"{r.answer_rate:.1f}" for r in rs)
            print(f"  answered/s of each run with {size} replica(s): {spread}")
    print()
    for n, r in enumerate(results):
        api = ", ".join(f"{m} {n / max(1, r.commands):.2f}" for m, n in sorted(r.api_calls.items()))
        run = f"run {n // len(by_size) + 1}, " if args.repeat > 1 else ""
        print(
            f"{run}{r.replicas} replica(s): acked {r.acked}/{r.commands} ({r.errors} errors), "
            f"answered {r.done} as asked, {r.answered - r.done} otherwise, "
            f"{r.commands - r.answered} not at all; "
            f"ack p99 {r.ack_p99_ms:.0f} ms, answer p99 {r.answer_p99_ms:.0f} ms"
        )
        cpu, per = r.cpu, 1000 / r.commands
        rest = cpu.busy - sum(cpu.replicas) - cpu.bench - cpu.postgres
        print(
            f"    per replica: acks {r.per_replica_acks}, DB round trips {r.trips}, "
            f"CPU s {[round(c, 1) for c in cpu.replicas]}; ready after "
            f"{[round(s, 1) for s in r.ready_seconds]} s; exit codes {r.exits}"
        )
        print(
            f"    CPU ms per command in the window: replicas {sum(cpu.replicas) * per:.1f}, "
            f"PostgreSQL (whole server) {cpu.postgres * per:.1f}, bench (load, fake Slack, "
            f"proxy) {cpu.bench * per:.1f}, anything else {rest * per:.1f}; machine busy "
            f"{cpu.busy / max(1e-9, cpu.total):.0%} of {os.cpu_count()} CPUs"
        )
        if r.counted:
            print(
                f"    DB: pool pre-pings (EmptyQueryResponse) {r.pings / r.commands:.2f}/cmd, new "
                f"connections in the window {r.new_connections}"
            )
        print(f"    requests stored {r.stored}; Slack Web API calls per command: {api}")
        for text, n in sorted(r.kinds.items(), key=lambda kv: -kv[1]):
            if text != ACCEPTED:
                print(f"    {n} answered otherwise: {text!r}")
        for line, n in sorted(r.logged.items(), key=lambda kv: -kv[1])[:5]:
            print(f"    replica log, {n}×: {line}")
        if r.encrypted:
            print(
                "    WARNING: some connections were encrypted; their round trips were not counted"
            )


def _parse_sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("--replicas needs positive counts, e.g. 1,2,3")
    return sizes


async def _main(args: argparse.Namespace) -> list[Result]:
    ctx = multiprocessing.get_context("spawn")
    users = args.warm + args.commands
    upstream = urlsplit(args.postgres)
    slack_parent, slack_child = ctx.Pipe()
    proxy_parent, proxy_child = ctx.Pipe()
    slack = ctx.Process(target=_slack_main, args=(slack_child, users), daemon=True)
    proxy = ctx.Process(
        target=_proxy_main,
        args=(
            proxy_child,
            (upstream.hostname or LOOPBACK, upstream.port or 5432),
            max(args.replicas),
        ),
        daemon=True,
    )
    slack.start()
    proxy.start()
    loop = asyncio.get_running_loop()
    try:
        api_url, root_url = await loop.run_in_executor(None, slack_parent.recv)
        ports = await loop.run_in_executor(None, proxy_parent.recv)
        harness = Harness(
            slack_parent,
            proxy_parent,
            api_url,
            root_url,
            ports,
            args.postgres,
            args.direct,
            [os.getpid(), slack.pid or 0, proxy.pid or 0],
            await _postmaster(args.postgres),
        )
        results = []
        for size in [size for _ in range(args.repeat) for size in args.replicas]:
            result = await _fleet(harness, size, args, users)
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.phases.items())
            print(
                f"{size} replica(s): {result.ack_rate:.1f} acked/s, {result.answer_rate:.1f} "
                f"answered/s ({phases})",
                flush=True,
            )
            results.append(result)
        return results
    finally:
        for conn in (slack_parent, proxy_parent):
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for process in (slack, proxy):
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--commands", type=int, help="measured commands per fleet size (default 2000)"
    )
    parser.add_argument("--concurrency", type=int, default=50, help="HTTP requests in flight")
    parser.add_argument("--replicas", type=_parse_sizes, default=[1, 2, 3], help="e.g. 1,2,3")
    parser.add_argument(
        "--warm", type=int, help="warm-up commands per fleet size (default 2 × concurrency)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the fleet sizes this many times, interleaved, and report medians",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 150 commands and 25 warm-up commands per fleet size",
    )
    parser.add_argument(
        "--tick",
        type=float,
        default=3600.0,
        help="ONCALL_ACCESS_TICK_SECONDS of the replicas (default: no tick inside the window)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="replicas connect to PostgreSQL directly: no counting proxy, no round-trip counts",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("ONCALL_ACCESS_TEST_POSTGRES_URL", DEFAULT_POSTGRES).replace(
            "+asyncpg", ""
        ),
        help="a database to connect to for CREATE/DROP DATABASE (trust or password in the URL)",
    )
    args = parser.parse_args()
    if args.commands is None:
        args.commands = 150 if args.quick else 2000
    if args.warm is None:
        args.warm = 25 if args.quick else 2 * args.concurrency
    if min(args.commands, args.concurrency, args.warm, args.repeat) < 1:
        parser.error("--commands, --concurrency, --warm and --repeat must be positive")
    results = asyncio.run(_main(args))
    _report(results, args)


if __name__ == "__main__":
    main()
