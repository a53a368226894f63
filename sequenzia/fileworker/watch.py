"""Watching a folder: files that stop changing are uploaded, then moved aside.

Files at the top of the folder go to the default channel; a sub-folder named like a
channel (its id or its name) sends everything under it to that channel. A file is taken
once its size and mtime have held still for `settle` seconds (or its mtime is already
older than that when first seen). `<file>.json` beside a file is its sidecar: its "text"
becomes the record's text, and it moves with the file. Stored files go to the done
folder under the same relative path; files that fail stay where they are.

Hidden files and folders (a leading dot) are never taken: the done folder inside the
watched one is `.sequenzia-done`, and many tools write hidden temporary files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sequenzia.fileworker.channels import Channel, ChannelDirectory
from sequenzia.fileworker.errors import FileWorkerError, Misuse, TransferFailed
from sequenzia.fileworker.upload import Stored, Uploader, UploadItem

DONE_DIR = ".sequenzia-done"
SIDECAR = ".json"
RETRY_FAILED_S = 60.0  # a file that failed is tried again after this, or when it changes
CHANNELS_REFRESH_S = 30.0


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time this size and mtime were first seen


@dataclass
class Moved:
    """A stored file and where it went."""

    stored: Stored
    moved_to: Path
    sidecar_moved_to: Path | None = None


@dataclass
class Pass:
    """What one scan-and-upload pass did."""

    moved: list[Moved] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    unsettled: int = 0  # files still changing, left for later


def read_sidecar(path: Path) -> str:
    """The "text" of a sidecar file; TransferFailed if it is not what a sidecar must be."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TransferFailed(f"{path} is not readable JSON: {e}") from None
    if not isinstance(value, dict) or not isinstance(value.get("text", ""), str):
        raise TransferFailed(f'{path} must be a JSON object like {{"text": "..."}}')
    return str(value.get("text", ""))


def free_name(path: Path) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`… if it is taken: done files never overwrite."""
    candidate, n = path, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate


class Watcher:
    """Scans `root`, uploads what has settled, moves it into `done`."""

    def __init__(
        self,
        root: Path,
        default_channel: Channel,
        channels: ChannelDirectory,
        uploader: Uploader,
        *,
        done: Path | None = None,
        settle: float = 5.0,
        warn: Callable[[str], None] = lambda message: None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.done = done if done is not None else root / DONE_DIR
        self._default = default_channel
        self._channels = channels
        self._uploader = uploader
        self._settle = settle
        self._warn = warn
        self._clock = clock
        self._wall = wall
        self._seen: dict[Path, _Seen] = {}
        self._failed: dict[Path, tuple[int, int, float]] = {}  # size, mtime_ns, retry after
        self._warned: set[str] = set()
        self._channels_at = clock()

    # -- finding files

    def _channel_for(self, relative: Path) -> Channel | None:
        if len(relative.parts) == 1:
            return self._default
        folder = relative.parts[0]
        try:
            channel = self._channels.find(folder)
        except Misuse as e:
            self._warn_once(folder, f"{self.root / folder}: {e}; its files stay")
            return None
        if channel is None:
            self._warn_once(
                folder, f"{self.root / folder} is named like no channel; its files stay"
            )
        return channel

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)

    def _files(self) -> list[Path]:
        done = self.done.absolute()
        found: list[Path] = []
        for top, dirs, files in os.walk(self.root):
            here = Path(top)
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and (here / d).absolute() != done
            )
            found.extend(here / name for name in sorted(files) if not name.startswith("."))
        return found

    def _settled(self, path: Path) -> bool | None:
        """True once `path` holds still; None if it vanished."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._seen.pop(path, None)
            return None
        now = self._clock()
        seen = self._seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            self._seen[path] = _Seen(stat.st_size, stat.st_mtime_ns, now)
            # a file untouched for `settle` seconds already is not being written
            return self._wall() - stat.st_mtime >= self._settle
        return now - seen.since >= self._settle

    def _failed_recently(self, path: Path) -> bool:
        failed = self._failed.get(path)
        if failed is None:
            return False
        try:
            stat = path.stat()
        except FileNotFoundError:
            return True
        size, mtime_ns, retry_after = failed
        return (stat.st_size, stat.st_mtime_ns) == (size, mtime_ns) and self._clock() < retry_after

    def scan(self, result: Pass) -> list[UploadItem]:
        """Files ready to upload now, with their channel and sidecar text."""
        if self._clock() - self._channels_at >= CHANNELS_REFRESH_S:
            self._channels.refresh()  # channels created since are found by name
            self._channels_at = self._clock()
        files = self._files()
        present = set(files)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        items = []
        for path in files:
            if path.suffix == SIDECAR and path.with_suffix("") in present:
                continue  # the sidecar of a file; it goes with that file
            if self._failed_recently(path):
                continue
            relative = path.relative_to(self.root)
            channel = self._channel_for(relative)
            if channel is None:
                continue
            sidecar = path.with_name(path.name + SIDECAR)
            ready = self._settled(path)
            if sidecar.exists() and not self._settled(sidecar):
                ready = False
            if ready is None:
                continue
            if not ready:
                result.unsettled += 1
                continue
            try:
                content = read_sidecar(sidecar) if sidecar.exists() else ""
            except TransferFailed as e:
                self._fail(path, str(e), result)
                continue
            items.append(UploadItem(path, channel.id, str(relative), content))
        return items

    # -- uploading and moving aside

    def _fail(self, path: Path, reason: str, result: Pass) -> None:
        try:
            stat = path.stat()
            self._failed[path] = (stat.st_size, stat.st_mtime_ns, self._clock() + RETRY_FAILED_S)
        except OSError:
            pass
        result.failed.append((str(path.relative_to(self.root)), reason))

    def _move_aside(self, stored: Stored) -> Moved:
        path = stored.item.path
        relative = path.relative_to(self.root)
        target = free_name(self.done / relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved = Moved(stored, target)
        sidecar = path.with_name(path.name + SIDECAR)
        if sidecar.exists():
            moved.sidecar_moved_to = free_name(target.with_name(target.name + SIDECAR))
            shutil.move(sidecar, moved.sidecar_moved_to)
        self._seen.pop(path, None)
        self._failed.pop(path, None)
        return moved

    def run_pass(self, on_moved: Callable[[Moved], None]) -> Pass:
        """One scan, then upload what is ready; `on_moved` hears of each file as it is done."""
        result = Pass()
        items = self.scan(result)

        def stored(item: Stored) -> None:
            moved = self._move_aside(item)
            result.moved.append(moved)
            on_moved(moved)

        def failed(item: UploadItem, error: FileWorkerError) -> None:
            if isinstance(error, Misuse):
                raise error  # a refused key is not this file's fault: stop
            self._fail(item.path, str(error), result)

        self._uploader.run(items, stored, failed)
        return result
