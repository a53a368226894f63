"""Discord's limits, error shapes and rate limits, as devcord answers them over HTTP."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
import treq
from twisted.internet import endpoints, protocol, reactor, task

from sequenzia.devcord.ratelimit import RateLimitConfig, RateLimiter
from tests.devcord.conftest import Devcord, quiet_options, start_devcord

MiB = 1024 * 1024


def multipart(payload: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body as discord.py sends it: payload_json, then files[n]."""
    boundary = "devcordtestboundary7MA4YWxkTrZu0gW"
    out = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="payload_json"\r\nContent-Type: application/json\r\n\r\n'.encode(),
        json.dumps(payload).encode(),
        b"\r\n",
    ]
    for n, (name, data) in enumerate(files):
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files[{n}]"; filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        out += [data, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


async def post_files(
    dc: Devcord, channel_id: int, files: list[tuple[str, bytes]], content: str = "x", headers=None
):
    body, content_type = multipart({"content": content}, files)
    return await treq.post(
        f"{dc.api}/channels/{channel_id}/messages",
        data=body,
        headers={**(headers or dc.bot_headers()), "Content-Type": content_type},
    )


async def answer(response) -> tuple[int, dict]:
    return response.code, json.loads(await response.content() or b"null")


@pytest_twisted.ensureDeferred
async def test_bad_requests_get_discords_error_shapes(devcord: Devcord) -> None:
    ch = devcord.text_channel_id()
    h = devcord.bot_headers()
    code, body = await answer(await post_files(devcord, ch, [(f"f{n}", b"x") for n in range(11)]))
    assert code == 400 and body["code"] == 50035 and "attachments" in body["errors"]
    code, body = await answer(
        await treq.post(
            f"{devcord.api}/channels/{ch}/messages", json={"content": "x" * 2001}, headers=h
        )
    )
    assert code == 400 and body["code"] == 50035
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    code, body = await answer(
        await treq.post(f"{devcord.api}/channels/{ch}/messages", json={}, headers=h)
    )
    assert (code, body["code"]) == (400, 50006)
    code, body = await answer(
        await treq.post(f"{devcord.api}/channels/123/messages", json={"content": "x"}, headers=h)
    )
    assert (code, body["code"], body["message"]) == (404, 10003, "Unknown Channel")
    code, body = await answer(
        await treq.post(f"{devcord.api}/channels/{ch}/messages", json={"content": 5}, headers=h)
    )
    assert (code, body["code"]) == (400, 50035)
    code, body = await answer(
        await treq.post(
            f"{devcord.api}/channels/{ch}/messages",
            data=b"{not json",
            headers={**h, "Content-Type": "application/json"},
        )
    )
    assert (code, body["code"]) == (400, 50109)
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=elsewhere"):
        code, body = await answer(
            await treq.post(
                f"{devcord.api}/channels/{ch}/messages",
                data=multipart({"content": "x"}, [("f", b"x")])[0],
                headers={**h, "Content-Type": content_type},
            )
        )
        assert (code, body["code"]) == (400, 50035), content_type
        assert "files" in body["errors"]
    code, body = await answer(
        await treq.post(
            f"{devcord.api}/guilds/{devcord.info['guild_id']}/channels", json={"type": 0}, headers=h
        )
    )
    assert code == 400 and "name" in body["errors"]
    code, body = await answer(await treq.get(f"{devcord.api}/channels/{ch}/messages/1", headers=h))
    assert (code, body["code"]) == (404, 10008)
    code, body = await answer(await treq.get(f"{devcord.api}/channels/not-a-number", headers=h))
    assert (code, body["code"]) == (400, 50035)
    code, body = await answer(
        await treq.get(f"{devcord.api}/users/@me", headers={"Authorization": "Bot wrong"})
    )
    assert (code, body["code"]) == (401, 0)
    code, body = await answer(await treq.get(f"{devcord.api}/users/@me"))
    assert code == 401
    code, body = await answer(await treq.get(f"{devcord.api}/no/such/route", headers=h))
    assert code == 404
    code, body = await answer(
        await treq.post(
            f"{devcord.api}/channels/{ch}/messages/bulk-delete", json={"messages": [1]}, headers=h
        )
    )
    assert (code, body["code"]) == (400, 50035)


@pytest.mark.devcord_limits(file_bytes=1 * MiB, request_bytes=2 * MiB)
@pytest_twisted.ensureDeferred
async def test_size_limits_answer_413_40005(devcord: Devcord) -> None:
    ch = devcord.text_channel_id()
    code, body = await answer(await post_files(devcord, ch, [("big", b"x" * (MiB + 1))]))
    assert (code, body["code"]) == (413, 40005)
    code, body = await answer(
        await post_files(devcord, ch, [("a", b"x" * MiB), ("b", b"x" * MiB), ("c", b"x")])
    )
    assert (code, body["code"]) == (413, 40005), "the whole request is capped too"
    code, body = await answer(await post_files(devcord, ch, [("ok", b"x" * MiB)]))
    assert code == 200 and body["attachments"][0]["size"] == MiB
    # a guild-level limit (boosts, or the old 10 MiB) is switchable at run time
    devcord.service.apply_fault(
        {"fault": "upload_limit", "guild_id": devcord.info["guild_id"], "bytes": 1000}
    )
    code, body = await answer(await post_files(devcord, ch, [("now too big", b"x" * 1001)]))
    assert (code, body["code"]) == (413, 40005)
    uploads = devcord.service.data_dir / "uploads"
    assert list(uploads.iterdir()) == [], "refused uploads leave no file behind"


@pytest_twisted.ensureDeferred
async def test_a_file_part_without_a_filename_is_stored_as_unknown(devcord: Devcord) -> None:
    body, content_type = multipart({"content": "x"}, [("f", b"nameless")])
    body = body.replace(b'; filename="f"', b"")
    r = await treq.post(
        f"{devcord.api}/channels/{devcord.text_channel_id()}/messages",
        data=body,
        headers={**devcord.bot_headers(), "Content-Type": content_type},
    )
    code, message = await answer(r)
    assert code == 200
    assert [(a["filename"], a["size"]) for a in message["attachments"]] == [("unknown", 8)]
    assert list((devcord.service.data_dir / "uploads").iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_an_upload_cut_off_midway_leaves_no_file(devcord: Devcord) -> None:
    body, content_type = multipart({"content": "x"}, [("cut.bin", b"x" * MiB)])
    uploads = devcord.service.data_dir / "uploads"
    head = (
        f"POST /api/v10/channels/{devcord.text_channel_id()}/messages HTTP/1.1\r\n"
        f"Host: devcord\r\nAuthorization: Bot {devcord.info['bot_token']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    port = devcord.service.port.getHost().port  # type: ignore[union-attr]
    client = await endpoints.connectProtocol(
        endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port), protocol.Protocol()
    )
    client.transport.write(head + body[: len(body) // 2])
    for _ in range(100):
        if list(uploads.glob("*")):
            break
        await task.deferLater(reactor, 0.02, lambda: None)
    assert len(list(uploads.iterdir())) == 1, "the attachment is written as it arrives"
    client.transport.abortConnection()
    for _ in range(100):
        if not list(uploads.iterdir()):
            break
        await task.deferLater(reactor, 0.02, lambda: None)
    assert list(uploads.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_rate_limit_headers_and_429(tmp_path) -> None:
    options = quiet_options()
    options.rate_limits.enabled = True
    dc = await start_devcord(tmp_path / "dc", options)
    try:
        ch = dc.text_channel_id()
        url = f"{dc.api}/channels/{ch}/messages"
        codes = []
        for n in range(6):
            r = await treq.post(url, json={"content": str(n)}, headers=dc.bot_headers())
            codes.append(r.code)
            if r.code == 200:
                assert r.headers.getRawHeaders("x-ratelimit-limit") == ["5"]
                assert r.headers.getRawHeaders("x-ratelimit-remaining") == [str(4 - n)]
                assert r.headers.getRawHeaders("x-ratelimit-bucket")
                assert float(r.headers.getRawHeaders("x-ratelimit-reset-after")[0]) <= 5
            await r.content()
        assert codes == [200] * 5 + [429]
        body = json.loads(await r.content())
        assert body["global"] is False and 0 < body["retry_after"] <= 5
        assert r.headers.getRawHeaders("retry-after") and r.headers.getRawHeaders("via")
        assert r.headers.getRawHeaders("x-ratelimit-scope") == ["user"]
        # the bucket is per channel: another channel is not limited
        other = next(
            c["id"] for c in dc.service.world.channels(int(dc.info["guild_id"])) if c["type"] == 4
        )
        r = await treq.get(f"{dc.api}/channels/{other}", headers=dc.bot_headers())
        assert r.code == 200
        assert dc.service.invalid_requests.count() == 1
    finally:
        await dc.service.stopService()
    assert not dc.checker.problems, dc.checker.problems


def test_rate_limit_headers_never_announce_a_reset_before_the_bucket_frees() -> None:
    """A client that waits exactly what X-RateLimit-Reset-After, X-RateLimit-Reset or
    retry_after says finds the bucket reset (rounding must not make it a 429)."""
    route = "/channels/{channel_id}/messages"
    for wait in ("X-RateLimit-Reset-After", "X-RateLimit-Reset", "retry_after"):
        clock = task.Clock()
        clock.advance(1_000_000.0)
        limiter = RateLimiter(RateLimitConfig(), clock=clock.seconds)
        for _ in range(5):
            assert limiter.check("bot", "POST", route, "1").allowed
        clock.advance(0.0006)  # the bucket resets 4.9994 s from now
        spent = limiter.check("bot", "POST", route, "1")
        assert not spent.allowed
        if wait == "retry_after":
            clock.advance(spent.retry_after)
        elif wait == "X-RateLimit-Reset":
            clock.advance(float(spent.headers[wait]) - clock.seconds())
        else:
            clock.advance(float(spent.headers[wait]))
        assert limiter.check("bot", "POST", route, "1").allowed, wait
