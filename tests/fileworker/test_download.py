"""`sequenzia download` through the CDS: byte-exact, verified, resumable, never wrong bytes."""

from __future__ import annotations

import os
import urllib.request

import pytest

from sequenzia.spans.hashing import xxh3_128_hex
from tests.fileworker.conftest import Cli, MiB, Server


def _upload(cli: Cli, *names: str) -> dict[str, dict]:
    lines = cli.json_lines(cli.run("upload", *names, "--to", "general", "--json"))
    return {line["name"]: line for line in lines}


def _attachment_id(server: Server, eid: int) -> int:
    """The Discord attachment behind an ordinary file record (from its CDN URL)."""
    _, body = server.api("GET", f"/records/{eid}")
    record = body["record"]
    message = server.devcord_call(
        "GET",
        f"/channels/{record['channel_id']}/messages/{record['message_id']}",
        None,
        f"Bot {server.devcord['bot_token']}",
    )
    return int(message["attachments"][0]["id"])


@pytest.mark.parametrize("size", [0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 5], ids=lambda s: f"{s}B")
def test_round_trip_is_byte_exact(cli: Cli, size: int) -> None:
    data = os.urandom(size)
    (cli.cwd / "original.bin").write_bytes(data)
    line = _upload(cli, "original.bin")["original.bin"]
    result = cli.run("download", str(line["eid"]), "-o", "copy.bin", "--json")
    (shown,) = cli.json_lines(result)
    assert (cli.cwd / "copy.bin").read_bytes() == data
    assert shown == {
        "eid": line["eid"],
        "name": "original.bin",
        "size": size,
        "xxh3_128": xxh3_128_hex(data),
        "path": "copy.bin",
        "verified": True,
    }
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["copy.bin", "original.bin"]


def test_download_into_a_directory_keeps_the_name(cli: Cli) -> None:
    (cli.cwd / "photo.jpg").write_bytes(b"jpeg" * 100)
    eid = _upload(cli, "photo.jpg")["photo.jpg"]["eid"]
    (cli.cwd / "out").mkdir()
    result = cli.run("download", str(eid), "-o", "out")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "out/photo.jpg (400 B, xxh3-128 verified)\n"
    assert (cli.cwd / "out" / "photo.jpg").read_bytes() == b"jpeg" * 100


def test_a_cut_connection_resumes_with_range(cli: Cli, server: Server) -> None:
    data = os.urandom(600_000)
    (cli.cwd / "cut.bin").write_bytes(data)
    eid = _upload(cli, "cut.bin")["cut.bin"]["eid"]
    # the CDN promises the whole file, sends 40,000 bytes and hangs up, once (more than
    # Twisted's 64 KiB write buffer would make devcord hold the connection for a minute)
    server.fault({"fault": "truncate_cdn", "at_bytes": 40_000, "reads": 1})
    result = cli.run("download", str(eid), "-o", "cut-copy.bin")
    assert result.returncode == 0, result.stderr
    assert "connection lost after 40000 of 600000 bytes; trying again" in result.stderr
    assert "resumed at byte 40000 of 600000" in result.stderr
    assert (cli.cwd / "cut-copy.bin").read_bytes() == data


def test_a_partial_download_left_by_an_earlier_run_is_continued(cli: Cli) -> None:
    data = os.urandom(2 * MiB + 7)
    (cli.cwd / "big.bin").write_bytes(data)
    eid = _upload(cli, "big.bin")["big.bin"]["eid"]
    # what a run stopped by Ctrl-C leaves: the first bytes under the hidden name
    partial = cli.cwd / f".big-copy.bin.{eid}.sequenzia-partial"
    partial.write_bytes(data[:MiB])
    result = cli.run("download", str(eid), "-o", "big-copy.bin")
    assert result.returncode == 0, result.stderr
    assert f"resumed at byte {MiB} of {len(data)}" in result.stderr
    assert (cli.cwd / "big-copy.bin").read_bytes() == data and not partial.exists()


def test_a_stale_partial_download_is_taken_again_whole(cli: Cli) -> None:
    data = os.urandom(300_000)
    (cli.cwd / "f.bin").write_bytes(data)
    eid = _upload(cli, "f.bin")["f.bin"]["eid"]
    partial = cli.cwd / f".g.bin.{eid}.sequenzia-partial"
    partial.write_bytes(b"\0" * 1000)  # bytes of something else: the hash will not match
    result = cli.run("download", str(eid), "-o", "g.bin")
    assert result.returncode == 0, result.stderr
    assert (cli.cwd / "g.bin").read_bytes() == data


def test_corrupted_bytes_are_refused_and_nothing_is_saved(cli: Cli, server: Server) -> None:
    data = os.urandom(50_000)
    (cli.cwd / "victim.bin").write_bytes(data)
    eid = _upload(cli, "victim.bin")["victim.bin"]["eid"]
    # one byte flipped in Discord's copy, behind everyone's back
    server.fault({"fault": "alter_attachment", "attachment_id": _attachment_id(server, eid)})
    (cli.cwd / "keep").mkdir()
    result = cli.run("download", str(eid), "-o", "keep/victim.bin")
    assert result.returncode == 1, result.stderr
    assert f"victim.bin (record {eid}) came with xxh3-128 " in result.stderr
    assert f"not the {xxh3_128_hex(data)} the record says" in result.stderr
    assert "Traceback" not in result.stderr
    assert list((cli.cwd / "keep").iterdir()) == [], "a wrong file (or its partial) was left"


def test_a_response_that_keeps_breaking_fails_and_keeps_the_part_for_later(
    cli: Cli, server: Server
) -> None:
    data = os.urandom(200_000)
    (cli.cwd / "flaky.bin").write_bytes(data)
    eid = _upload(cli, "flaky.bin")["flaky.bin"]["eid"]
    # every read cut after 1000 bytes; the faulty CDN also ignores Range (a 200 from the
    # start), which the client takes as a restart: the second try reads twice
    server.fault({"fault": "truncate_cdn", "at_bytes": 1000, "reads": 3})
    result = cli.run("download", str(eid), "-o", "flaky-copy.bin", "--retries", "1")
    assert result.returncode == 1, result.stderr
    assert "downloading flaky.bin failed 2 times; last: connection lost" in result.stderr
    assert not (cli.cwd / "flaky-copy.bin").exists()
    partial = cli.cwd / f".flaky-copy.bin.{eid}.sequenzia-partial"
    assert partial.stat().st_size == 1000
    # the next run continues from there and checks the whole
    result = cli.run("download", str(eid), "-o", "flaky-copy.bin")
    assert result.returncode == 0, result.stderr
    assert "resumed at byte 1000 of 200000" in result.stderr
    assert (cli.cwd / "flaky-copy.bin").read_bytes() == data and not partial.exists()


def test_unknown_records_and_bad_arguments(cli: Cli) -> None:
    result = cli.run("download", "999999", "-o", "x")
    assert result.returncode == 1 and "there is no record 999999" in result.stderr
    result = cli.run("download", "abc")
    assert result.returncode == 2 and "EID must be a record id" in result.stderr
    result = cli.run("download", "1", "-o", "no/such/dir/file")
    assert result.returncode == 2 and "there is no directory no/such/dir" in result.stderr


def test_upload_json_url_is_the_link_download_reads(cli: Cli, server: Server) -> None:
    """The `url` printed by upload --json serves the bytes to a reader with the key."""
    (cli.cwd / "page.txt").write_text("hello")
    line = _upload(cli, "page.txt")["page.txt"]
    assert line["url"] == f"{server.url}/f/{line['eid']}/page.txt"
    request = urllib.request.Request(line["url"], headers={"Authorization": f"Bearer {server.key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == b"hello"
