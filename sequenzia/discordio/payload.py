"""Reading a job's payload: every check parks a bad job at once with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sequenzia.discordio import operations


class BadJob(Exception):
    """A job whose payload can never succeed; it is parked with this message."""


def job_int(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadJob(f"'{key}' must be a Discord id (a whole number), not {value!r}")
    return int(value)


def job_text(
    payload: dict[str, Any], key: str, *, required: bool = False, limit: int = 2000
) -> str:
    value = payload.get(key, None)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadJob(f"'{key}' must be text, not {value!r}")
    if len(value) > limit:
        raise BadJob(f"'{key}' is {len(value)} characters; Discord allows {limit}")
    return value


def job_files(payload: dict[str, Any]) -> list[operations.OutgoingFile]:
    files = payload.get("files", [])
    if not isinstance(files, list) or len(files) > 10:
        raise BadJob("'files' must be a list of at most 10 {path, filename} objects")
    out = []
    for n, f in enumerate(files):
        if (
            not isinstance(f, dict)
            or not isinstance(f.get("path"), str)
            or not isinstance(f.get("filename"), str)
        ):
            raise BadJob(f"files[{n}] must be an object with 'path' and 'filename'")
        if not Path(f["path"]).is_file():
            raise BadJob(f"files[{n}]: staged file {f['path']} does not exist")
        out.append(operations.OutgoingFile(f["path"], f["filename"]))
    return out
