"""Average colours for images posted on Discord itself, sampled in the background."""

from __future__ import annotations

import io as bytesio
from typing import Any

import pytest
import pytest_twisted
from PIL import Image
from twisted.internet import reactor, task

from sequenzia.db.pool import Database
from sequenzia.discordio import journal
from sequenzia.discordio.colours import UNKNOWN
from tests.devcord.conftest import Devcord
from tests.discordio.test_jobs import run_io, settled


def png(colour: tuple[int, int, int]) -> bytes:
    out = bytesio.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, format="PNG")
    return out.getvalue()


def _colours(txn: Any) -> dict[str, Any]:
    txn.execute("SELECT attachment_name, avg_color FROM records WHERE kind = 'file'")
    return {str(r[0]): r[1] for r in txn.fetchall()}


async def post(tmp_path, database: Database, devcord: Devcord, name: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    staged = tmp_path / name
    staged.write_bytes(data)
    job_id = await database.runInteraction(
        "e",
        journal.enqueue,
        "post",
        {
            "channel_id": devcord.text_channel_id(),
            "files": [{"path": str(staged), "filename": name}],
        },
    )
    assert (await settled(database, job_id)).state == "done"


@pytest.mark.devcord_limits(url_lifetime_s=2)
@pytest_twisted.ensureDeferred
async def test_images_posted_on_discord_get_their_colour(
    tmp_path, database: Database, devcord: Devcord
) -> None:
    io = await run_io(tmp_path, database, devcord)
    try:
        # sampled by hand below, not by the clock; the run at start must end first, or it
        # may find the first post (it did on MariaDB, once)
        await io.colours.stop()
        await post(tmp_path, database, devcord, "red.png", png((200, 10, 10)))
        await post(tmp_path, database, devcord, "broken.png", b"not a picture at all")
        await post(tmp_path, database, devcord, "notes.txt", b"words")
        await task.deferLater(reactor, 2.2, lambda: None)  # every URL has expired now
        colours = await database.runInteraction("c", _colours)
        assert colours["red.png"] is None, "a post job does not sample"
        assert await io.colours.sample_now() == 2, "both images, through renewed URLs"
        colours = await database.runInteraction("c", _colours)
        assert colours["red.png"] == (200 << 16) | (10 << 8) | 10
        assert colours["broken.png"] == UNKNOWN, "undecodable: not tried again"
        assert colours["notes.txt"] is None, "not an image"
        assert await io.colours.sample_now() == 0
    finally:
        await io.stopService()
