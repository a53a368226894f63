"""The resumable upload API: create, send parts in any order and in parallel, complete.

    POST   /uploads                 {name, size, xxh3_128, channel_id, content?} → the plan
    PUT    /uploads/{id}/parts/{n}  the part's bytes; header X-Xxh3-128: its hash
    GET    /uploads/{id}            what has arrived (resume from here)
    POST   /uploads/{id}/complete   hand the file to Discord I/O (?wait=S for the record)
    DELETE /uploads/{id}            give up

Parts are the Discord parts: the server plans their size from the live limits, so a part
received is a part posted. Each is checked against its length and hash before a byte is
kept, and acknowledged only once on disk (fsync). Uploads not completed in time expire.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

from twisted.internet import threads

from sequenzia.api.jobs import JobsApi
from sequenzia.api.router import ApiError, Call, Route
from sequenzia.config import Config
from sequenzia.discordio.payload import BadJob
from sequenzia.discordio.relocate import POSTABLE, valid_file_name
from sequenzia.junefs import store
from sequenzia.spans.hashing import hash_file
from sequenzia.spans.plan import SpanPlan, part_size_for
from sequenzia.uploads import staging
from sequenzia.uploads import store as uploads

MiB = 1024 * 1024
MAX_SIZE = 1 << 40  # 1 TiB
MAX_NOTE = 1000  # the header caption carries it, within Discord's 2000 characters
HASH = re.compile(r"^[0-9a-f]{32}$")


def public_upload(upload: dict[str, Any], received: dict[int, str]) -> dict[str, Any]:
    return {
        "id": upload["id"],
        "name": upload["name"],
        "size": upload["size"],
        "xxh3_128": upload["xxh3_128"],
        "channel_id": str(upload["channel_id"]),
        "part_size": upload["part_size"],
        "part_count": upload["part_count"],
        "received": sorted(received),
        "state": upload["state"],
        "eid": upload["eid"],
        "error": upload["error"],
        "expires_ts": upload["expires_ts"],
    }


class UploadsApi:
    def __init__(self, database: Any, jobs: JobsApi, config: Config) -> None:
        self._db = database
        self._jobs = jobs
        self._config = config
        self.staging_dir = config.data_dir / "staging" / "uploads"

    async def _part_size(self, server_id: int) -> int:
        server = await self._db.runInteraction("server", store.server_row, server_id)
        discord = self._config.discord
        file_limit = discord.file_limit_mib * MiB
        if server is not None and server["upload_limit"]:
            file_limit = min(file_limit, int(server["upload_limit"]))  # learnt from a refusal
        return part_size_for(
            file_limit, discord.request_limit_mib * MiB, self._config.spans.part_size_mib * MiB
        )

    async def _upload(self, call: Call) -> dict[str, Any]:
        upload_id = call.params["upload_id"]
        upload = None
        if re.fullmatch(r"[0-9a-f]{32}", upload_id):
            upload = await self._db.runInteraction("upload", uploads.get, upload_id)
        who = call.who
        if upload is None or (not who.everything and upload["user_id"] != who.user_id):
            raise ApiError(404, f"there is no upload {upload_id[:40]!r}")
        return upload

    async def create(self, call: Call) -> tuple[int, Any]:
        body = call.body()
        try:
            name = valid_file_name(body.get("name"))
        except BadJob as e:
            raise ApiError(400, str(e)) from None
        size = body.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            raise ApiError(400, f"'size' must be a whole number of bytes from 0 to {MAX_SIZE}")
        digest = body.get("xxh3_128")
        if not isinstance(digest, str) or not HASH.match(digest):
            raise ApiError(400, "'xxh3_128' must be the file's xxh3-128 as 32 lowercase hex digits")
        content = body.get("content", "")
        if not isinstance(content, str) or len(content) > MAX_NOTE:
            raise ApiError(400, f"'content' must be text of at most {MAX_NOTE} characters")
        raw = body.get("channel_id")
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
            raise ApiError(400, f"'channel_id' must be a channel id (a whole number), not {raw!r}")
        channel = await self._db.runInteraction("channel", store.channel_row, int(raw))
        if channel is None or channel["deleted"] or channel["kind"] not in POSTABLE:
            raise ApiError(404, f"there is no text channel {raw}")
        if not call.who.can_write(int(raw)):
            raise ApiError(403, f"you may not upload to channel {raw}")
        part_size = await self._part_size(int(channel["server_id"]))
        upload_id = uuid.uuid4().hex
        now = int(time.time() * 1000)
        upload = {
            "id": upload_id,
            "user_id": call.who.user_id,
            "name": name,
            "size": size,
            "xxh3_128": digest,
            "channel_id": int(raw),
            "server_id": int(channel["server_id"]),
            "content": content,
            "part_size": part_size,
            "part_count": SpanPlan(size, part_size).count,
            "expires_ts": now + self._config.spans.upload_expiry_hours * 3600 * 1000,
        }
        await threads.deferToThread(staging.create, self.staging_dir, upload_id, size)
        await self._db.runInteraction("upload.create", uploads.create, upload)
        created = await self._db.runInteraction("upload", uploads.get, upload_id)
        call.response_headers["Location"] = f"/api/v1/uploads/{upload_id}"
        return 201, {"upload": public_upload(created, {})}

    async def status(self, call: Call) -> tuple[int, Any]:
        upload = await self._upload(call)
        received = await self._db.runInteraction("parts", uploads.parts, upload["id"])
        return 200, {"upload": public_upload(upload, received)}

    async def put_part(self, call: Call) -> tuple[int, Any]:
        upload = await self._upload(call)
        if upload["state"] != "receiving":
            raise ApiError(
                409, f"upload {upload['id']} is {upload['state']}; it takes no more parts"
            )
        index = call.param_id("index")
        plan = SpanPlan(int(upload["size"]), int(upload["part_size"]))
        if index >= plan.count:
            raise ApiError(
                400, f"part {index} is out of range: this upload has parts 0 to {plan.count - 1}"
            )
        digest = (call.request.getHeader("x-xxh3-128") or "").strip().lower()
        if not HASH.match(digest):
            raise ApiError(
                400, "header 'X-Xxh3-128' must carry the part's xxh3-128 (32 hex digits)"
            )
        offset, length = plan.part_range(index)
        content = call.request.content
        if content is None:
            raise ApiError(400, "the part's bytes are missing")
        path = staging.staged_path(self.staging_dir, upload["id"])
        try:
            await threads.deferToThread(
                staging.write_part, path, offset, length, content, digest, f"part {index}"
            )
        except staging.PartRefused as e:
            raise ApiError(400, str(e)) from None
        except FileNotFoundError:
            raise ApiError(409, f"upload {upload['id']} has no staged file any more") from None
        await self._db.runInteraction(
            "upload.part", uploads.record_part, upload["id"], index, length, digest
        )
        received = await self._db.runInteraction("parts", uploads.parts, upload["id"])
        return 200, {"part": index, "received": len(received), "part_count": plan.count}

    async def complete(self, call: Call) -> tuple[int, Any]:
        upload = await self._upload(call)
        received = await self._db.runInteraction("parts", uploads.parts, upload["id"])
        if upload["state"] == "receiving":
            missing = [n for n in range(int(upload["part_count"])) if n not in received]
            if missing:
                shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
                raise ApiError(409, f"{len(missing)} part(s) have not arrived: {shown}")
            path = staging.staged_path(self.staging_dir, upload["id"])
            whole = await threads.deferToThread(hash_file, path)
            if whole != upload["xxh3_128"]:
                raise ApiError(
                    409,
                    f"the parts add up to xxh3-128 {whole}, not the {upload['xxh3_128']} "
                    "the upload was created with",
                )
            payload = {
                "upload_id": upload["id"],
                "path": str(path),
                "channel_id": upload["channel_id"],
                "server_id": upload["server_id"],
                "part_size": upload["part_size"],
            }
            status, answer = await self._jobs.submit(
                call, "store_upload", payload, idempotency_key=f"upload:{upload['id']}"
            )
            await self._db.runInteraction(
                "upload.storing", _storing, upload["id"], answer["job"]["id"]
            )
        elif upload["state"] in ("storing", "stored", "failed") and upload["job_id"]:
            status, answer = await self._jobs.wait_for(call, int(upload["job_id"]))
        else:
            raise ApiError(409, f"upload {upload['id']} is {upload['state']}")
        upload = await self._db.runInteraction("upload", uploads.get, upload["id"])
        return status, {**answer, "upload": public_upload(upload, received)}

    async def abort(self, call: Call) -> tuple[int, Any]:
        upload = await self._upload(call)
        if upload["state"] != "receiving":
            raise ApiError(409, f"upload {upload['id']} is {upload['state']}; it cannot be aborted")
        await self._db.runInteraction("upload.abort", uploads.set_state, upload["id"], "aborted")
        await threads.deferToThread(staging.remove, self.staging_dir, upload["id"])
        return 200, {"upload": public_upload({**upload, "state": "aborted"}, {})}

    def routes(self) -> list[Route]:
        create = {
            "type": "object",
            "required": ["name", "size", "xxh3_128", "channel_id"],
            "properties": {
                "name": {"type": "string", "maxLength": 255},
                "size": {"type": "integer", "minimum": 0},
                "xxh3_128": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "channel_id": {"type": "string"},
                "content": {"type": "string", "maxLength": MAX_NOTE},
            },
        }
        return [
            Route("POST", "/uploads", self.create, "write", "Start an upload: the server answers with its part size and count", create),
            Route("GET", "/uploads/{upload_id}", self.status, "write", "An upload's state and the parts received so far"),
            Route("PUT", "/uploads/{upload_id}/parts/{index}", self.put_part, "write", "Send part N (0-based); header X-Xxh3-128 carries its hash"),
            Route("POST", "/uploads/{upload_id}/complete", self.complete, "write", "All parts are in: verify the whole and store it in Discord"),
            Route("DELETE", "/uploads/{upload_id}", self.abort, "write", "Abandon an upload and its staged parts"),
        ]  # fmt: skip


def _storing(txn: Any, upload_id: str, job_id: int) -> None:
    upload = uploads.get(txn, upload_id)
    if upload is None:
        return
    # the job may have finished already (it runs at once): keep its state, add the job
    state = "storing" if upload["state"] == "receiving" else upload["state"]
    uploads.set_state(txn, upload_id, state, job_id=job_id)


async def expire_uploads(database: Any, staging_dir: Path) -> int:
    """Abandoned uploads: staged bytes removed, marked expired. Returns how many."""
    gone = await database.runInteraction("uploads.expired", uploads.expired)
    for upload_id in gone:
        await threads.deferToThread(staging.remove, staging_dir, upload_id)
        await database.runInteraction("upload.expire", uploads.set_state, upload_id, "expired")
    return len(gone)
