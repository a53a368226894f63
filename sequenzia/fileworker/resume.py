"""What an interrupted upload needs to carry on: a small JSON file per file being uploaded.

Kept under `$XDG_CACHE_HOME/sequenzia/uploads/` (else `~/.cache/...`), named by a hash of
the server, the file's absolute path, its size and its mtime: a file that changed gets a
new upload, never parts of the old one. The entry holds the upload id (the server knows
which parts arrived) and the file's xxh3-128, so a resumed multi-GiB upload does not hash
the whole file again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_AGE_S = 14 * 24 * 3600  # far beyond any server's upload expiry


@dataclass(frozen=True)
class ResumeEntry:
    upload_id: str
    xxh3_128: str
    channel_id: str
    name: str
    content: str


def default_root(env: Mapping[str, str]) -> Path:
    """`$XDG_CACHE_HOME/sequenzia/uploads`, else `~/.cache/sequenzia/uploads`."""
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sequenzia" / "uploads"


def entry_key(server: str, path: Path, size: int, mtime_ns: int) -> str:
    identity = json.dumps([server, str(path.absolute()), size, mtime_ns])
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


class ResumeStore:
    """Entries on disk; every method tolerates a missing or unwritable directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def load(self, key: str) -> ResumeEntry | None:
        try:
            raw = json.loads(self._path(key).read_text(encoding="utf-8"))
            return ResumeEntry(**{k: str(raw[k]) for k in ResumeEntry.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none, or unreadable: start afresh (the server expires the old one)

    def save(self, key: str, entry: ResumeEntry) -> None:
        """Write the entry atomically; OSError if the cache directory cannot be written."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(asdict(entry)), encoding="utf-8")
        os.replace(temp, path)

    def forget(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> None:
        """Drop entries too old for any server to still hold their upload."""
        limit = (time.time() if now is None else now) - MAX_AGE_S
        try:
            for path in self.root.glob("*.json"):
                if path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
        except OSError:
            pass  # a cache that cannot be tidied is no reason to fail an upload
