"""`sequenzia upload` against a running server: what a user sees, and what the server got."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from sequenzia.db.direct import run_interaction
from sequenzia.db.url import parse_database_url
from sequenzia.spans.hashing import xxh3_128_hex
from tests.fileworker.conftest import Cli, MiB, Server, wait_for


def _part_times(server: Server, upload_id: str) -> dict[int, int]:
    """When the server took each part of an upload (a part sent twice would move)."""
    url = parse_database_url(f"sqlite:///{server.data}/sequenzia.sqlite3")

    def read(txn):  # type: ignore[no-untyped-def]
        txn.execute("SELECT idx, received_ts FROM upload_parts WHERE upload_id = ?", (upload_id,))
        return {int(r[0]): int(r[1]) for r in txn.fetchall()}

    return run_interaction(url, read)


def test_upload_json_names_the_record_and_its_absolute_link(cli: Cli, server: Server) -> None:
    general = server.channel_id("general")
    sizes = {"empty.bin": 0, "one.bin": 1, "below.bin": MiB - 1, "above.bin": MiB + 1}
    for name, size in sizes.items():
        (cli.cwd / name).write_bytes(os.urandom(size))
    lines = cli.json_lines(cli.run("upload", *sizes, "--to", "general", "--json"))
    assert sorted(line["name"] for line in lines) == sorted(sizes)
    for line in lines:
        data = (cli.cwd / line["name"]).read_bytes()
        assert line["size"] == len(data) and line["xxh3_128"] == xxh3_128_hex(data)
        assert line["url"] == f"{server.url}/f/{line['eid']}/{line['name']}"
        status, body = server.api("GET", f"/records/{line['eid']}")
        assert status == 200 and body["record"]["channel_id"] == general
        assert body["record"]["file"]["xxh3_128"] == xxh3_128_hex(data)
        assert body["record"]["kind"] == ("spanned" if len(data) > MiB else "file")


def test_a_directory_is_uploaded_recursively_with_the_text(cli: Cli, server: Server) -> None:
    tree = {"album/a.jpg": b"a" * 10, "album/sub/b.png": b"b" * 20, "album/sub/deeper/c": b"c"}
    for relative, data in tree.items():
        (cli.cwd / relative).parent.mkdir(parents=True, exist_ok=True)
        (cli.cwd / relative).write_bytes(data)
    result = cli.run("upload", "album", "--to", "#general", "--json", "--text", "holiday")
    lines = cli.json_lines(result)
    assert sorted(line["path"] for line in lines) == sorted(tree)
    for line in lines:
        _, body = server.api("GET", f"/records/{line['eid']}")
        assert body["record"]["content"] == "holiday"
        assert body["record"]["file"]["size"] == len(tree[line["path"]])


def test_plain_output_is_one_line_per_file(cli: Cli) -> None:
    (cli.cwd / "note.txt").write_text("hello")
    result = cli.run("upload", "note.txt", "--to", "general")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("note.txt (5 B) stored in #general (")
    assert "/f/" in result.stdout and result.stderr == ""


def test_an_unknown_or_ambiguous_channel_is_a_usage_error(cli: Cli, server: Server) -> None:
    (cli.cwd / "a.bin").write_bytes(b"a")
    result = cli.run("upload", "a.bin", "--to", "no-such-channel")
    assert result.returncode == 2
    assert result.stderr.startswith("sequenzia upload: there is no channel 'no-such-channel'")
    assert "#general (" in result.stderr and "Traceback" not in result.stderr

    first = server.create_channel("twin")
    server.create_channel("twin")  # Discord allows two channels of one name
    wait_for(lambda: len(server.api("GET", "/channels?name=twin")[1]["channels"]) == 2, 20, "2")
    result = cli.run("upload", "a.bin", "--to", "twin")
    assert result.returncode == 2, result.stderr
    assert "'twin' names 2 channels" in result.stderr and first in result.stderr
    result = cli.run("upload", "a.bin", "--to", first, "--json")
    assert cli.json_lines(result)[0]["eid"]


def test_a_missing_key_server_or_file_is_one_sentence(cli: Cli, server: Server, tmp_path) -> None:
    (cli.cwd / "a.bin").write_bytes(b"a")
    empty = tmp_path / "empty-data"
    empty.mkdir()
    cases = [
        (["--data", str(empty)], 2, "no server given"),
        (["--server", server.url, "--data", str(empty)], 2, "no key given"),
        (["--key", "not-a-key"], 2, "refused the key"),
        (["--server", "http://127.0.0.1:9"], 1, "cannot reach the server at http://127.0.0.1:9"),
        (["--parallel", "0"], 2, "--parallel must be"),
    ]
    for extra, code, message in cases:
        result = cli.run("upload", "a.bin", "--to", "general", *extra)
        assert result.returncode == code, (extra, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = cli.run("upload", "missing.bin", "--to", "general")
    assert result.returncode == 2 and "there is no file or directory missing.bin" in result.stderr


def test_an_interrupted_upload_resumes_and_sends_each_part_once(cli: Cli, server: Server) -> None:
    data = os.urandom(8 * MiB + 123)
    (cli.cwd / "movie.bin").write_bytes(data)
    cache = Path(cli.env["XDG_CACHE_HOME"]) / "sequenzia" / "uploads"
    slow = ["upload", "movie.bin", "--to", "general", "--limit-rate", "4M", "--parallel", "2"]

    def upload_id() -> str:
        entries = list(cache.glob("*.json"))
        return entries and json.loads(entries[0].read_text())["upload_id"]

    def received() -> list[int]:
        return server.api("GET", f"/uploads/{upload_id()}")[1]["upload"]["received"]

    # Ctrl-C: a clean stop with a hint, no traceback
    client = cli.popen(*slow)
    wait_for(upload_id, 20, "the resume entry")
    wait_for(lambda: len(received()) >= 2, 20, "two parts on the server")
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=20)
    assert client.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    after_interrupt = _part_times(server, upload_id())
    assert 2 <= len(after_interrupt) < 9

    # kill -9 (a crash, a lost machine): the same entry, more parts
    client = cli.popen(*slow)
    wait_for(lambda: len(received()) > len(after_interrupt), 20, "more parts on the server")
    client.kill()
    client.communicate(timeout=20)
    before = _part_times(server, upload_id())
    assert {k: before[k] for k in after_interrupt} == after_interrupt, "a part was sent again"
    assert len(before) < 9, "the kill came too late to test anything"
    the_upload = upload_id()

    result = cli.run("upload", "movie.bin", "--to", "general", "--json")
    (line,) = cli.json_lines(result)
    assert f"resumed, {len(before)} of 9 parts were already there" in result.stderr
    after = _part_times(server, the_upload)
    assert sorted(after) == list(range(9))
    assert {k: after[k] for k in before} == before, "a part the server had was sent again"
    assert line["size"] == len(data) and line["xxh3_128"] == xxh3_128_hex(data)
    _, body = server.api("GET", f"/uploads/{the_upload}")
    assert body["upload"]["state"] == "stored" and body["upload"]["eid"] == line["eid"]
    assert list(cache.glob("*.json")) == [], "the resume entry outlived the upload"


def test_a_file_changed_since_the_interruption_starts_afresh(cli: Cli, server: Server) -> None:
    path = cli.cwd / "grows.bin"
    path.write_bytes(os.urandom(4 * MiB))
    client = cli.popen("upload", "grows.bin", "--to", "general", "--limit-rate", "1M")
    cache = Path(cli.env["XDG_CACHE_HOME"]) / "sequenzia" / "uploads"
    wait_for(lambda: list(cache.glob("*.json")), 20, "the resume entry")
    client.send_signal(signal.SIGINT)
    client.communicate(timeout=20)
    with open(path, "ab") as f:
        f.write(b"more")
    (line,) = cli.json_lines(cli.run("upload", "grows.bin", "--to", "general", "--json"))
    assert line["size"] == 4 * MiB + 4 and line["xxh3_128"] == xxh3_128_hex(path.read_bytes())


def test_progress_stays_off_when_stderr_is_not_a_terminal(cli: Cli) -> None:
    (cli.cwd / "a.bin").write_bytes(os.urandom(2 * MiB))
    result = cli.run("upload", "a.bin", "--to", "general")
    assert result.returncode == 0 and "\r" not in result.stderr and "ETA" not in result.stderr
