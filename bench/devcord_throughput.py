"""devcord's upload throughput against a bare Twisted endpoint, in one run.

Posts N messages with one 20 MiB attachment each to devcord (rate limits off), and
POSTs the same bytes N times to a Twisted resource that only reads the body, one of each
per round, taking turns at going first. The figure is the ratio of the two rates (goal
>= 0.7: devcord must not be the bottleneck of later benchmarks), from the median request
times: on a shared machine one stalled request moves the mean-based ratio (also printed)
by 0.1 or more. Loopback only, bounded count.

    .venv/bin/python bench/devcord_throughput.py [--count N] [--mib M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import treq
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.web.resource import Resource
from twisted.web.server import Site

from sequenzia.devcord.service import DevcordOptions, DevcordService


class Sink(Resource):
    isLeaf = True

    def render_POST(self, request):  # type: ignore[no-untyped-def]
        request.content.seek(0, os.SEEK_END)
        return json.dumps({"received": request.content.tell()}).encode()


def multipart(data: bytes) -> tuple[bytes, str]:
    """The body discord.py (aiohttp FormData) sends: its boundary is a uuid4 in hex."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="payload_json"\r\n'
        f'Content-Type: application/json\r\n\r\n{{"content": "bench"}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files[0]"; filename="part.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


async def timed_post(url: str, body: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    r = await treq.post(url, data=body, headers=headers)
    await r.content()
    if r.code != 200:
        raise SystemExit(f"{url} answered {r.code}")
    return time.perf_counter() - started


async def main(count: int, mib: int) -> None:
    data = os.urandom(mib * 1024 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        options = DevcordOptions()
        options.rate_limits.enabled = False
        service = DevcordService(
            Path(tmp) / "devcord", "tcp:0:interface=127.0.0.1", reactor, options
        )
        waiting = service.when_listening()
        service.startService()
        info = await waiting
        channel = next(
            c["id"] for c in service.world.channels(int(info["guild_id"])) if c["type"] == 0
        )
        body, content_type = multipart(data)
        headers = {"Authorization": f"Bot {info['bot_token']}", "Content-Type": content_type}
        sink = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Site(Sink()))
        sink_url = f"http://127.0.0.1:{sink.getHost().port}/"
        messages_url = f"{info['api_base']}/channels/{channel}/messages"
        plain_headers = {"Content-Type": "application/octet-stream"}
        for _ in range(2):  # warm both paths up
            await timed_post(sink_url, data, plain_headers)
            await timed_post(messages_url, body, headers)
        plain_s: list[float] = []
        devcord_s: list[float] = []
        for n in range(count):  # interleaved, so both see the same machine
            plain_first = n % 2 == 0  # and neither always follows the other
            if plain_first:
                plain_s.append(await timed_post(sink_url, data, plain_headers))
            devcord_s.append(await timed_post(messages_url, body, headers))
            if not plain_first:
                plain_s.append(await timed_post(sink_url, data, plain_headers))
        # a fast devcord that stores the wrong bytes would not count
        last = max(service.world.store.channel_message_ids(channel, limit=1))
        stored = service.world.store.get("message", last)["attachments"][0]["id"]
        if service.world.store.attachment_path(stored).read_bytes() != data:
            raise SystemExit("devcord stored other bytes than were sent")
        await sink.stopListening()
        await service.stopService()
    plain, devcord = 1 / statistics.median(plain_s), 1 / statistics.median(devcord_s)
    plain_mean, devcord_mean = count / sum(plain_s), count / sum(devcord_s)
    print(f"payload: {mib} MiB x {count}")
    print(
        f"bare Twisted endpoint: {plain:.2f} uploads/s ({plain * mib:.0f} MiB/s)  {spread(plain_s)}"
    )
    print(
        f"devcord messages:      {devcord:.2f} messages/s ({devcord * mib:.0f} MiB/s)  {spread(devcord_s)}"
    )
    print(f"ratio of the means:    {devcord_mean / plain_mean:.2f}")
    print(f"ratio devcord/plain:   {devcord / plain:.2f}  (goal >= 0.70)")


def spread(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return f"per request min {ms[0]:.1f} / median {statistics.median(ms):.1f} / max {ms[-1]:.1f} ms"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--mib", type=int, default=20)
    args = parser.parse_args()
    result = defer.ensureDeferred(main(args.count, args.mib))
    result.addErrback(lambda f: print(f.getTraceback(), file=sys.stderr))
    result.addBoth(lambda _: reactor.stop())
    reactor.run()
