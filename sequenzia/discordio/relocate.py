"""Moving, renaming, archiving and rotating records: Discord can do none of these, so we re-post.

A record keeps its eid through all of them (favourites, albums and links point at it):

    1. remember the source message in the job (a re-run continues from the same facts)
    2. fetch it fresh (fresh attachment URLs) and download its attachments to staging
    3. rotate: turn the image; rename: give the first attachment its new name
    4. post to the target channel with the job's nonce
    5. repoint the record to the new message (one transaction)
    6. delete the source message, then complete the job

A crash anywhere re-runs the job: the nonce makes Discord answer the repeated post with
the first message, the repoint is skipped when the record already points there, and a
message already deleted is the effect we wanted.

Spanned files: their header message is what moves (parts stay in the server's data
pool); a move to another server first migrates every part into that server's pool, each
verified against its caption's hash. Renaming a spanned file edits its header caption.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import threads

from sequenzia.discordio import journal, operations
from sequenzia.discordio.indexing import index_message
from sequenzia.discordio.journal import Job
from sequenzia.discordio.payload import BadJob, job_int
from sequenzia.junefs import store
from sequenzia.junefs.messages import read_message
from sequenzia.spans import store as spans
from sequenzia.spans.captions import header_caption
from sequenzia.spans.hashing import hash_file

POSTABLE = ("text", "news", "thread")
ROTATIONS = {90: "ROTATE_270", 180: "ROTATE_180", 270: "ROTATE_90"}  # clockwise → PIL's turn


def valid_file_name(name: Any) -> str:
    """A file name a user may give: one path component, printable, at most 255 characters."""
    if not isinstance(name, str) or not name.strip():
        raise BadJob("'name' must be a non-empty file name")
    if len(name) > 255 or "/" in name or "\\" in name or name in (".", ".."):
        raise BadJob(f"'name' must be one file name of at most 255 characters, not {name[:80]!r}")
    if any(ord(ch) < 32 for ch in name):
        raise BadJob("'name' must not contain control characters")
    return name


def rotate_image(path: Path, degrees: int) -> None:
    """Turn the image at `path` clockwise by `degrees`, in place, keeping its format."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            fmt = image.format
            turned = image.transpose(getattr(Image.Transpose, ROTATIONS[degrees]))
    except UnidentifiedImageError:
        raise BadJob(f"{path.name} is not an image that can be rotated") from None
    options: dict[str, Any] = {"quality": 95} if fmt == "JPEG" else {}
    scratch = path.with_name(path.name + ".turned")
    turned.save(scratch, format=fmt, **options)
    scratch.replace(path)


class Relocator:
    """The re-posting operations of the job executor."""

    def __init__(
        self,
        database: Any,
        bridge: Any,
        staging_dir: Path,
        pick: Callable[[list[int]], int],
    ) -> None:
        self._db = database
        self._bridge = bridge
        self._staging = staging_dir
        self._pick = pick

    # -- the operations -----------------------------------------------------------------

    async def move(self, job: Job) -> dict[str, Any]:
        return await self._relocate(job, target=job_int(job.payload, "channel_id"))

    async def archive(self, job: Job) -> dict[str, Any]:
        record = await self._record(job)
        server = await self._db.runInteraction("server", store.server_row, int(record["server_id"]))
        if server is None or server["archive_channel_id"] is None:
            raise BadJob(f"server {record['server_id']} has no archive channel")
        return await self._relocate(job, target=int(server["archive_channel_id"]))

    async def rename(self, job: Job) -> dict[str, Any]:
        name = valid_file_name(job.payload.get("name"))
        record = await self._record(job)
        if record["kind"] == "spanned":
            return await self._rename_spanned(job, record, name)
        if record["attachment_name"] is None:
            raise BadJob(f"record {record['eid']} has no file to rename")
        return await self._relocate(job, target=int(record["channel_id"]), name=name)

    async def rotate(self, job: Job) -> dict[str, Any]:
        degrees = job.payload.get("degrees", 90)
        if degrees not in ROTATIONS or isinstance(degrees, bool):
            raise BadJob(f"'degrees' must be 90, 180 or 270 (clockwise), not {degrees!r}")
        record = await self._record(job)
        content_type = record["content_type"] or ""
        if record["kind"] != "file" or not content_type.startswith("image/"):
            raise BadJob(
                f"record {record['eid']} is not an image ({content_type or record['kind']})"
            )
        return await self._relocate(job, target=int(record["channel_id"]), degrees=degrees)

    # -- the steps ----------------------------------------------------------------------

    async def _record(self, job: Job) -> dict[str, Any]:
        eid = job_int(job.payload, "eid")
        record = await self._db.runInteraction("record", store.record_by_eid, eid)
        if record is None:
            raise BadJob(f"there is no record with eid {eid}")
        if record["kind"] == "part":
            raise BadJob(f"record {eid} is a part of a spanned file; act on the file instead")
        return dict(record)

    async def _target(self, channel_id: int) -> dict[str, Any]:
        channel = await self._db.runInteraction("channel", store.channel_row, channel_id)
        if channel is None or channel["deleted"] or channel["kind"] not in POSTABLE:
            raise BadJob(f"channel {channel_id} is not a text channel Sequenzia knows")
        return dict(channel)

    async def _source(self, job: Job, record: dict[str, Any]) -> tuple[int, int]:
        """(channel, message) the record had when the job first ran; remembered in the job."""
        p = job.payload
        if "from_message_id" not in p:
            p = {
                **p,
                "from_message_id": int(record["message_id"]),
                "from_channel_id": int(record["channel_id"]),
            }
            await self._db.runInteraction("journal.remember", journal.remember, job.id, p)
            job.payload.update(p)
        return int(p["from_channel_id"]), int(p["from_message_id"])

    async def _relocate(
        self, job: Job, *, target: int, name: str | None = None, degrees: int = 0
    ) -> dict[str, Any]:
        record = await self._record(job)
        channel = await self._target(target)
        src_channel, src_message = await self._source(job, record)
        eid = int(record["eid"])
        if int(record["message_id"]) == src_message:
            # not yet re-posted (or re-posted but not yet repointed: the nonce finds it)
            if record["kind"] == "spanned" and int(record["server_id"]) != channel["server_id"]:
                await self._migrate_parts(job, str(record["file_id"]), int(channel["server_id"]))
            message = await self._bridge.call(operations.get_message, src_channel, src_message)
            if message is None:
                raise BadJob(f"message {src_message} of record {eid} is gone from Discord")
            staging = self._staging / f"job-{job.id}"
            try:
                files = await self._stage(staging, message.get("attachments") or [])
                if name is not None and files:
                    files[0] = operations.OutgoingFile(files[0].path, name)
                if degrees and files:
                    await threads.deferToThread(rotate_image, Path(files[0].path), degrees)
                posted = await self._bridge.call(
                    operations.send_message,
                    target,
                    message.get("content") or "",
                    files,
                    f"sq{job.id}",
                )
            finally:
                await threads.deferToThread(shutil.rmtree, staging, True)
            await self._db.runInteraction(
                "relocate.repoint", _repoint, eid, posted, int(channel["server_id"]), bool(degrees)
            )
            new_message, new_channel = int(posted["id"]), target
        else:
            new_message, new_channel = int(record["message_id"]), int(record["channel_id"])
        await self._bridge.call(operations.delete_message, src_channel, src_message)
        result = {"eid": eid, "message_id": str(new_message), "channel_id": str(new_channel)}
        await self._db.runInteraction("journal.complete", journal.complete, job.id, result)
        return result

    async def _stage(
        self, staging: Path, attachments: list[dict[str, Any]]
    ) -> list[operations.OutgoingFile]:
        """Download a message's attachments to staging, each checked against its size."""
        await threads.deferToThread(staging.mkdir, parents=True, exist_ok=True)
        files = []
        for n, attachment in enumerate(attachments):
            data = await self._bridge.call(operations.download, attachment["url"])
            if len(data) != int(attachment["size"]):
                raise RuntimeError(
                    f"attachment {attachment['id']} read {len(data)} bytes of {attachment['size']}"
                )
            path = staging / f"{n}"
            await threads.deferToThread(path.write_bytes, data)
            files.append(operations.OutgoingFile(str(path), str(attachment["filename"])))
        return files

    async def _migrate_parts(self, job: Job, file_id: str, server_id: int) -> None:
        """Re-post every part of a spanned file into `server_id`'s data pool, verified."""
        pool = await self._db.runInteraction("pool", store.data_channels, server_id)
        if not pool:
            raise BadJob(f"server {server_id} has no data channels to take the parts")
        for part in await self._db.runInteraction("parts", spans.parts_of, file_id):
            if int(part["channel_id"]) in pool:
                continue  # moved by an earlier run of this job
            index = int(part["idx"])
            old = await self._bridge.call(
                operations.get_message, int(part["channel_id"]), int(part["message_id"])
            )
            if old is None or not old.get("attachments"):
                raise BadJob(
                    f"part {index + 1} of file {file_id} is gone from Discord; restore it from backup"
                )
            staging = self._staging / f"job-{job.id}-part-{index}"
            try:
                files = await self._stage(staging, old["attachments"][:1])
                if part["xxh3_128"]:
                    digest = await threads.deferToThread(hash_file, Path(files[0].path))
                    if digest != part["xxh3_128"]:
                        raise BadJob(
                            f"part {index + 1} of file {file_id} does not match its hash "
                            f"(got {digest}, expected {part['xxh3_128']}); restore it from backup"
                        )
                posted = await self._bridge.call(
                    operations.send_message,
                    self._pick(pool),
                    old.get("content") or "",
                    files,
                    f"sq{job.id}p{index}",
                )
            finally:
                await threads.deferToThread(shutil.rmtree, staging, True)
            await self._db.runInteraction("relocate.part", index_message, posted, server_id)
            await self._bridge.call(
                operations.delete_message, int(part["channel_id"]), int(part["message_id"])
            )
            await self._db.runInteraction(
                "relocate.part_gone", store.delete_records, [int(part["message_id"])]
            )

    async def _rename_spanned(self, job: Job, record: dict[str, Any], name: str) -> dict[str, Any]:
        """A spanned file's name lives in its header caption: edit it, nothing re-uploads."""
        message = await self._bridge.call(
            operations.get_message, int(record["channel_id"]), int(record["message_id"])
        )
        if message is None:
            raise BadJob(f"the header message of record {record['eid']} is gone from Discord")
        header = read_message(message).header
        if header is None or header.legacy or header.size is None or header.count is None:
            raise BadJob(
                "this is a legacy (Kanmi) spanned file: its header has no size or hash to "
                "rewrite, so it cannot be renamed"
            )
        note = "\n".join(str(message.get("content") or "").split("\n")[2:])
        content = header_caption(
            header.file_id, name, header.count, header.size, str(header.xxh3_128), note
        )
        edited = await self._bridge.call(
            operations.edit_content, int(record["channel_id"]), int(record["message_id"]), content
        )
        result = {"eid": int(record["eid"]), "name": name}

        def commit(txn: Any) -> None:
            index_message(txn, edited, int(record["server_id"]))
            journal.complete(txn, job.id, result)

        await self._db.runInteraction("journal.complete", commit)
        return result


def _repoint(
    txn: Any, eid: int, message: dict[str, Any], server_id: int, new_bytes: bool = False
) -> None:
    view = read_message(message)
    store.repoint_record(txn, eid, view, server_id)
    if new_bytes:  # a rotated image: the hash we knew is not this file's
        txn.execute("UPDATE records SET xxh3_128 = NULL WHERE eid = ?", (eid,))
    if view.header is not None:
        spans.upsert_header(txn, view, eid)
