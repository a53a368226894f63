"""The span cache: reassembled spanned files on storage that every web node shares.

Layout: a complete file is `<root>/<first two characters of the key>/<key>`; a file being
written is `<root>/<ab>/.partial-<key>-<random>` beside it. A file appears under its final
name only when complete (written, fsynced, renamed into place), so whoever finds it can
serve all of it. A key is a spanned file's id and the bytes under it never change, which is
why two writers racing for one key need no lock: the last rename wins and either result is
right.

Several processes, possibly on several hosts over NFS-like storage, share the directory and
coordinate through the file system alone:

- "Used" is a file's access time, set explicitly by `lookup` from the cache's clock, so
  mount options (noatime, relatime) don't matter. Hosts' clocks must agree (NTP). The
  modification time is left alone: Nginx derives Last-Modified and the ETag from it.
- `evict` removes the least recently used files while the complete files exceed the budget,
  but never one used within the grace period: a file just looked up is about to be served
  through X-Accel-Redirect. Just before removing a file it opens it and reads its times
  again: another process may have used it since the scan, and on NFS an open revalidates
  the attributes the client caches (close-to-open consistency), which a plain stat may not.
  What remains is a window of microseconds between that check and the unlink; a lookup
  landing in it gets a path that is gone and that one request fails.
- Two processes evicting at once walk the same order; a file the other one removed first
  (FileNotFoundError) counts as removed.
- On local storage a file unlinked while Nginx reads it stays readable until Nginx closes
  it. On NFS, a file unlinked by another host breaks a read in progress (ESTALE): there,
  choose a grace period longer than the downloads to protect, or evict on the Nginx host.
- A `.partial-*` file untouched for `partial_max_age` is taken for a crashed writer's and
  removed; a writer that stalls that long finds its file gone at `publish`.
- Directories are created 0755 and published files 0644 whatever the umask: Nginx's workers
  run as another user (www-data, nobody) and read these files directly. The web processes
  themselves all run as one user: setting a file's times explicitly needs its owner.

Everything here is blocking file I/O. Reactor code calls it in a thread (`deferToThread`);
this module imports nothing from Twisted so that it can run there. A `SpanCache` holds no
state beyond its settings, so one instance serves any number of threads.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
INTERNAL_LOCATION = "/_sequenzia_cache/"
PARTIAL_PREFIX = ".partial-"
DIR_MODE = 0o755
FILE_MODE = 0o644
DEFAULT_GRACE_SECONDS = 60.0
DEFAULT_PARTIAL_MAX_AGE_SECONDS = 3600.0


class CacheKeyError(ValueError):
    """A key that is not a spanned-file id: it could name a path outside the cache."""


def check_key(key: str) -> str:
    """Return `key` if it is 1 to 64 of `[A-Za-z0-9_-]`, else raise CacheKeyError."""
    if not isinstance(key, str) or KEY_PATTERN.fullmatch(key) is None:
        raise CacheKeyError(f"not a cache key (1-64 of A-Z a-z 0-9 _ -): {key!r}")
    return key


@dataclass(frozen=True)
class CacheStats:
    count: int
    """Complete files."""
    bytes: int
    """Their total size."""
    budget_bytes: int
    partials: int
    """Files being written (or left by a crashed writer)."""


@dataclass(frozen=True)
class _Entry:
    key: str
    path: Path
    atime: float
    size: int


class SpanCache:
    """The cache directory shared by the web nodes; see the module's docstring."""

    def __init__(
        self,
        root: Path,
        budget_bytes: int,
        clock: Callable[[], float] = time.time,
        *,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        partial_max_age_seconds: float = DEFAULT_PARTIAL_MAX_AGE_SECONDS,
        internal_location: str = INTERNAL_LOCATION,
    ) -> None:
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, not {budget_bytes}")
        if grace_seconds < 0 or partial_max_age_seconds < 0:
            raise ValueError("grace_seconds and partial_max_age_seconds must be >= 0")
        if not (internal_location.startswith("/") and internal_location.endswith("/")):
            raise ValueError(
                f"internal_location must start and end with '/': {internal_location!r}"
            )
        self.root = Path(root)
        self.budget_bytes = budget_bytes
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.partial_max_age_seconds = partial_max_age_seconds
        self.internal_location = internal_location

    def path(self, key: str) -> Path:
        """Where the complete file for `key` is (or would be)."""
        check_key(key)
        return self.root / key[:2] / key

    def internal_path(self, key: str) -> str:
        """The URI path of `key` under Nginx's internal location, for X-Accel-Redirect."""
        check_key(key)
        return f"{self.internal_location}{key[:2]}/{key}"

    def lookup(self, key: str) -> Path | None:
        """The complete file for `key`, marked used now; None when it is not cached."""
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            # Through the descriptor, so the times go to the file just found even if a
            # racing publish replaces the name meanwhile; the mtime is kept for Nginx's ETag.
            st = os.fstat(fd)
            os.utime(fd, ns=(self._now_ns(), st.st_mtime_ns))
        finally:
            os.close(fd)
        return path

    def writer(self, key: str) -> CacheWriter:
        """A writer for a new entry for `key`: `write()`, then `publish()` or `abort()`.

        Also a context manager that aborts unless published.
        """
        final = self.path(key)
        self._make_dir(self.root)
        self._make_dir(final.parent)
        fd, partial = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{key}-", dir=final.parent)
        return CacheWriter(self, key, fd, Path(partial), final)

    def remove(self, key: str) -> bool:
        """Remove the cached file for `key` (its spanned file was deleted); False if absent."""
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            return False
        return True

    def evict(self) -> list[str]:
        """Remove least recently used files until within budget; return the keys removed.

        Files used within the grace period stay even over budget. Stale partial files are
        removed on the way.
        """
        now = self.clock()
        entries, _ = self._scan(now, clean_partials=True)
        entries.sort(key=lambda e: e.atime)
        total = sum(e.size for e in entries)
        removed: list[str] = []
        for entry in entries:
            if total <= self.budget_bytes:
                break
            if now - entry.atime < self.grace_seconds:
                break  # sorted by use: every later entry was used as recently or more
            fresh = self._reread(entry.path)
            if fresh is None:  # another process removed it
                total -= entry.size
                continue
            atime, size = fresh
            if now - atime < self.grace_seconds:
                continue  # used since the scan
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass  # another process evicting at the same time was first
            else:
                removed.append(entry.key)
            total -= size
        return removed

    def keys(self) -> list[str]:
        """The keys of the complete files in the cache."""
        entries, _ = self._scan(self.clock(), clean_partials=False)
        return [e.key for e in entries]

    def stats(self) -> CacheStats:
        entries, partials = self._scan(self.clock(), clean_partials=False)
        return CacheStats(
            count=len(entries),
            bytes=sum(e.size for e in entries),
            budget_bytes=self.budget_bytes,
            partials=partials,
        )

    def _now_ns(self) -> int:
        return int(self.clock() * 1_000_000_000)

    def _make_dir(self, directory: Path) -> None:
        if directory == self.root:
            directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            return
        os.chmod(directory, DIR_MODE)  # the umask may have taken bits Nginx's workers need

    def _scan(self, now: float, clean_partials: bool) -> tuple[list[_Entry], int]:
        """Complete files, and the number of partial files left (stale ones removed if asked)."""
        entries: list[_Entry] = []
        partials = 0
        try:
            subdirs = [d for d in os.scandir(self.root) if d.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return entries, partials
        for subdir in subdirs:
            try:
                files = list(os.scandir(subdir.path))
            except FileNotFoundError:
                continue
            for f in files:
                try:
                    st = f.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # published over, aborted or evicted since the listing
                if f.name.startswith(PARTIAL_PREFIX):
                    if clean_partials and now - st.st_mtime > self.partial_max_age_seconds:
                        Path(f.path).unlink(missing_ok=True)
                    else:
                        partials += 1
                elif (
                    KEY_PATTERN.fullmatch(f.name)
                    and f.name[:2] == subdir.name
                    and f.is_file(follow_symlinks=False)
                ):
                    entries.append(_Entry(f.name, Path(f.path), st.st_atime, st.st_size))
                # Anything else (NFS's .nfs* placeholders among them) is not ours to touch.
        return entries, partials

    @staticmethod
    def _reread(path: Path) -> tuple[float, int] | None:
        """The file's current access time and size, through an open; None if it is gone."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        return st.st_atime, st.st_size


class CacheWriter:
    """One new cache entry being written to a partial file beside its final name."""

    def __init__(self, cache: SpanCache, key: str, fd: int, partial: Path, final: Path) -> None:
        self.cache = cache
        self.key = key
        self.partial = partial
        self.final = final
        self.size = 0
        # unbuffered: what write() returns from is in the file, for readers who follow it
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._finished = False

    def write(self, data: bytes | memoryview) -> None:
        if self._finished:
            raise ValueError(f"cache writer for {self.key} is already finished")
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            if not written:
                raise OSError(f"cannot write the cache file for {self.key}")
            view = view[written:]
        self.size += len(data)

    def publish(self) -> Path:
        """Make the written bytes the cached file for the key, atomically; return its path.

        Raises FileNotFoundError if the partial file was removed as stale meanwhile.
        """
        if self._finished:
            raise ValueError(f"cache writer for {self.key} is already finished")
        self._finished = True
        try:
            self._file.flush()
            fd = self._file.fileno()
            os.fchmod(fd, FILE_MODE)
            # Used now, so that an eviction running before it is first served keeps it.
            now = self.cache._now_ns()
            os.utime(fd, ns=(now, now))
            os.fsync(fd)
            self._file.close()
            os.replace(self.partial, self.final)
        except BaseException:
            self._discard()
            raise
        _fsync_dir(self.final.parent)
        return self.final

    def abort(self) -> None:
        """Drop what was written; the final name is left as it was. Safe to call twice."""
        if self._finished:
            return
        self._finished = True
        self._discard()

    def _discard(self) -> None:
        try:
            self._file.close()
        finally:
            # Gone already if the stale-partial sweep took it.
            self.partial.unlink(missing_ok=True)

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        # Some network file systems refuse fsync on a directory; the rename is done and its
        # durability is then the server's.
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
