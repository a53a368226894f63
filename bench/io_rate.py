"""Discord I/O's sending rate under Discord's default rate limits, against their ceiling.

200 uploads of 1 MiB, as post jobs spread over the server's pool of 4 data channels (the
io role provisions them at connect), through the io role (journal → executor →
discord.py) to devcord with Discord's default limits (5 messages per 5 s per channel,
50 requests per second in all). The ceiling those limits allow is 4 channels × 1
message/s; the figure is achieved/ceiling (goal >= 0.9), with the 429s devcord had to
send (goal: near zero). The time runs to the last job's end: discord.py hands back the
post that spends a bucket only when the bucket resets, so 50 posts per channel take 10
whole windows. The journal is a temporary SQLite file, or the (empty, new) MariaDB
database `--database` names; `--journal-latency S` adds S seconds to each of the
executor's journal interactions (claim, commit), as a loaded database would.

    .venv/bin/python bench/io_rate.py [--uploads N] [--channels C] [--kib K]
        [--database URL] [--journal-latency S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import defer, reactor, task

from sequenzia.config import load_config
from sequenzia.db import migrations
from sequenzia.db.pool import Database
from sequenzia.db.url import DatabaseURL, parse_database_url
from sequenzia.devcord.service import DevcordService
from sequenzia.discordio import journal
from sequenzia.discordio.service import DiscordIOService


class Holder:
    def __init__(self, database: Database) -> None:
        self.database = database


def slow_journal(database: Database, latency: float) -> None:
    """Delay the answer of each journal interaction (not the bench's own counting)."""
    run = database.runInteraction

    def delayed(desc: str, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        d = run(desc, *args, **kwargs)
        if desc.startswith("journal."):
            d.addCallback(lambda result: task.deferLater(reactor, latency, lambda: result))
        return d

    database.runInteraction = delayed  # type: ignore[method-assign]


async def main(
    uploads: int,
    channels: int,
    kib: int,
    database_url: str | None = None,
    journal_latency: float = 0.0,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        devcord = DevcordService(
            root / "devcord", "tcp:0:interface=127.0.0.1", reactor
        )  # default limits
        waiting = devcord.when_listening()
        devcord.startService()
        info = await waiting
        url = (
            parse_database_url(database_url)
            if database_url
            else DatabaseURL(dialect="sqlite", database=str(root / "db.sqlite3"))
        )
        migrations.upgrade(url)
        database = Database.from_url(url)
        if journal_latency:
            slow_journal(database, journal_latency)
        config = load_config(env={}, cwd=root, overrides={"discord.data_channels": channels})
        io = DiscordIOService(config, Holder(database), reactor, devcord, holder="bench")
        io.startService()
        while io.state != "connected":
            await task.deferLater(reactor, 0.05, lambda: None)
        pool = io.servers[int(info["guild_id"])].data_channel_ids
        staged = []
        for n in range(uploads):
            path = root / f"part{n}.bin"
            path.write_bytes(os.urandom(kib * 1024))
            staged.append(path)
        await io.mirror.idle()  # the gateway echoes of the provisioned channels are in
        before_429 = devcord.faults.received_429
        started = time.perf_counter()
        for path in staged:
            payload: dict[str, Any] = {
                "channel_ids": pool,
                "files": [{"path": str(path), "filename": path.name}],
            }
            await database.runInteraction("e", journal.enqueue, "post", payload)
        io.wake()
        while True:
            counts = await database.runInteraction("n", journal.counts)
            if counts["done"] + counts["failed"] >= uploads:
                break
            await task.deferLater(reactor, 0.1, lambda: None)
        elapsed = time.perf_counter() - started
        too_many = devcord.faults.received_429 - before_429
        parked = await database.runInteraction("l", journal.list_jobs, "failed", 1)
        if parked:
            print(f"a parked job: {parked[0].last_error}", file=sys.stderr)
        await io.stopService()
        database.close()
        await devcord.stopService()
    rate = uploads / elapsed
    ceiling = channels * 5 / 5.0
    print(
        f"uploads: {uploads} x {kib} KiB over {channels} data channels; done {counts['done']}, failed {counts['failed']}"
    )
    print(f"achieved: {rate:.2f} messages/s in {elapsed:.1f} s")
    print(f"ceiling:  {ceiling:.2f} messages/s (5 per 5 s per channel)")
    print(f"ratio achieved/ceiling: {rate / ceiling:.2f}  (goal >= 0.90)")
    print(f"429 answers: {too_many}  (goal: near zero)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--kib", type=int, default=1024)
    parser.add_argument("--database", help="mysql://user:pass@host:port/db (empty); default SQLite")
    parser.add_argument("--journal-latency", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args()
    result = defer.ensureDeferred(
        main(args.uploads, args.channels, args.kib, args.database, args.journal_latency)
    )
    result.addErrback(lambda f: print(f.getTraceback(), file=sys.stderr))
    result.addBoth(lambda _: reactor.stop())
    reactor.run()
