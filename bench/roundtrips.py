"""Database round trips per chat action: one signed `/access request` (which asks two approvers)
and one Approve click (which grants and updates both copies), each from the moment Slack sends
it until every message it causes has reached the fake Slack Web API.

Counted with SQLAlchemy's own events on the bot's engine: `transactions` is every connection the
bot takes from its pool (each is one BEGIN … COMMIT/ROLLBACK), `statements` every SQL statement
sent. The bot, the real bolt app and the fake Slack API run in this process on a SQLite file (or
the database `--database-url` names).

Run from the repository root:  python bench/roundtrips.py [--database-url URL] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

ALICE, BOB, LEAD = "UALICE0001", "UBOB000001", "ULEAD00001"


@dataclass
class Counts:
    transactions: int = 0
    statements: int = 0


async def _measure(database_url: str | None, runs: int) -> dict[str, list[Counts]]:
    from adapters.slack.constants import APPROVE
    from bot.clock import SystemClock
    from core.commands import Revoke
    from core.identity import Actor
    from tests.adapters.slack.rig import start_rig
    from tests.fakes.slack import FakeSlackApi

    found: dict[str, list[Counts]] = {"request": [], "approve": []}
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        async with FakeSlackApi() as fake:
            fake.add_user(ALICE, "alice@example.com", name="alice")
            fake.add_user(BOB, "bob@example.com", name="bob")
            fake.add_user(LEAD, "lead@example.com", name="lead")
            async with start_rig(fake, Path(tmp), url, SystemClock()) as rig:  # type: ignore[arg-type]
                counts = Counts()

                def on_checkout(*_: Any) -> None:
                    counts.transactions += 1

                def on_statement(*_: Any) -> None:
                    counts.statements += 1

                sync_engine = rig.bot.engine.sync_engine
                event.listen(sync_engine.pool, "checkout", on_checkout)
                event.listen(sync_engine, "before_cursor_execute", on_statement)
                alice = Actor("alice@example.com", surface="slack")
                for run in range(runs + 1):  # the first run warms caches and is not counted
                    posted = len(fake.calls("chat.postMessage"))
                    counts.transactions = counts.statements = 0
                    await rig.command(f"request prod-db 1h INC-{run}", name=f"ask{run}")
                    answer = await rig.answer(f"ask{run}")
                    request_id = answer.split()[1]
                    await fake.wait_until(
                        lambda p=posted: len(fake.calls("chat.postMessage")) >= p + 2,
                        timeout=10,
                        what="both approvers asked",
                    )
                    if run:
                        found["request"].append(Counts(counts.transactions, counts.statements))
                    bob_dm = fake.dm_channel_id(BOB)
                    key = next(
                        k
                        for k, m in fake.messages.items()
                        if k[0] == bob_dm and request_id in str(m.get("blocks"))
                    )
                    updated = len(fake.calls("chat.update"))
                    counts.transactions = counts.statements = 0
                    await rig.click(APPROVE, request_id, user=BOB, message_key=key, name=f"ok{run}")
                    await rig.answer(f"ok{run}")
                    await fake.wait_until(
                        lambda u=updated: len(fake.calls("chat.update")) >= u + 2,
                        timeout=10,
                        what="both copies updated",
                    )
                    if run:
                        found["approve"].append(Counts(counts.transactions, counts.statements))
                    await rig.bot.dispatcher.execute(alice, Revoke(request_id))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    found = asyncio.run(_measure(args.database_url, args.runs))
    print(f"{'action':<10} {'transactions':>12} {'statements':>11}   (median of {args.runs})")
    for action, counts in found.items():
        tx = statistics.median(c.transactions for c in counts)
        st = statistics.median(c.statements for c in counts)
        print(f"{action:<10} {tx:>12g} {st:>11g}")


if __name__ == "__main__":
    main()
