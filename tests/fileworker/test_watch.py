"""`sequenzia watch`: folders to channels, sidecars, settling, files moved aside."""

from __future__ import annotations

import json
import os
import time

from tests.fileworker.conftest import Cli, Server


def test_watch_once_maps_sub_folders_to_channels_and_moves_files_aside(
    cli: Cli, server: Server
) -> None:
    general = server.channel_id("general")
    photos = server.create_channel("photos")
    inbox = cli.cwd / "inbox"
    (inbox / "photos" / "2024").mkdir(parents=True)
    (inbox / general).mkdir()  # a folder named by channel id
    (inbox / "nowhere").mkdir()
    (inbox / ".partial").mkdir()
    (inbox / "top.txt").write_text("top")
    (inbox / "top.txt.json").write_text(json.dumps({"text": "from the sidecar"}))
    (inbox / "photos" / "2024" / "cat.jpg").write_bytes(b"cat" * 1000)
    (inbox / general / "by-id.txt").write_text("by id")
    (inbox / "nowhere" / "stays.txt").write_text("no channel of that name")
    (inbox / ".partial" / "hidden.txt").write_text("a tool's temporary file")
    (inbox / ".dotfile").write_text("hidden")

    result = cli.run("watch", "inbox", "--to", "general", "--once", "--settle", "0", "--json")
    assert result.returncode == 0, result.stderr
    lines = {line["path"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert sorted(lines) == sorted(["top.txt", "photos/2024/cat.jpg", f"{general}/by-id.txt"])
    assert "inbox/nowhere is named like no channel; its files stay" in result.stderr

    channels = {"top.txt": general, "photos/2024/cat.jpg": photos, f"{general}/by-id.txt": general}
    for path, line in lines.items():
        _, body = server.api("GET", f"/records/{line['eid']}")
        assert body["record"]["channel_id"] == channels[path], path
        assert body["record"]["file"]["name"] == os.path.basename(path)
        assert line["moved_to"] == f"inbox/.sequenzia-done/{path}"  # as DIR was given
        assert (inbox / ".sequenzia-done" / path).exists() and not (inbox / path).exists()
    _, top = server.api("GET", f"/records/{lines['top.txt']['eid']}")
    assert top["record"]["content"] == "from the sidecar"
    assert (inbox / ".sequenzia-done" / "top.txt.json").exists()
    assert not (inbox / "top.txt.json").exists()
    for stays in ("nowhere/stays.txt", ".partial/hidden.txt", ".dotfile"):
        assert (inbox / stays).exists(), stays

    # the next run has nothing to do; a file of the same name later does not overwrite
    again = cli.run("watch", "inbox", "--to", "general", "--once", "--settle", "0", "--json")
    assert again.returncode == 0 and again.stdout == ""
    (inbox / "top.txt").write_text("top, second edition")
    third = cli.run("watch", "inbox", "--to", "general", "--once", "--settle", "0", "--json")
    (line,) = map(json.loads, third.stdout.splitlines())
    assert line["moved_to"] == "inbox/.sequenzia-done/top (2).txt"
    assert (inbox / ".sequenzia-done" / "top.txt").read_text() == "top"


def test_a_file_still_changing_waits_and_a_bad_sidecar_fails(cli: Cli, tmp_path) -> None:
    inbox = cli.cwd / "inbox"
    inbox.mkdir()
    done = tmp_path / "done-elsewhere"
    old = time.time() - 60
    (inbox / "settled.txt").write_text("old")
    os.utime(inbox / "settled.txt", (old, old))
    (inbox / "fresh.txt").write_text("just written")
    (inbox / "bad.txt").write_text("b")
    (inbox / "bad.txt.json").write_text("{not json")
    os.utime(inbox / "bad.txt", (old, old))
    os.utime(inbox / "bad.txt.json", (old, old))

    result = cli.run(
        "watch", "inbox", "--to", "general", "--once", "--settle", "1", "--done", str(done)
    )
    assert result.returncode == 1, result.stderr
    assert "bad.txt: inbox/bad.txt.json is not readable JSON" in result.stderr
    assert "1 file(s) were not stored" in result.stderr and "Traceback" not in result.stderr
    stored = sorted(line.split(" stored as record ")[0] for line in result.stdout.splitlines())
    assert stored == ["fresh.txt", "settled.txt"]  # fresh.txt after it held still for 1 s
    assert (done / "fresh.txt").exists() and (done / "settled.txt").exists()
    assert (inbox / "bad.txt").exists() and (inbox / "bad.txt.json").exists()


def test_watch_needs_a_directory_and_a_channel(cli: Cli) -> None:
    result = cli.run("watch", "missing", "--to", "general", "--once")
    assert result.returncode == 2 and "there is no directory missing to watch" in result.stderr
    (cli.cwd / "inbox").mkdir()
    result = cli.run("watch", "inbox", "--to", "nope", "--once")
    assert result.returncode == 2 and "there is no channel 'nope'" in result.stderr
