"""The span cache on shared storage: atomic publish, LRU eviction, several processes at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cds.cache import CacheKeyError, SpanCache

MiB = 1024 * 1024


class FakeClock:
    """The cache's clock, moved by hand (picklable, for the child processes)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def put(cache: SpanCache, key: str, data: bytes) -> Path:
    with cache.writer(key) as w:
        w.write(data)
        return w.publish()


def set_atime(path: Path, atime: float) -> None:
    """What another process's lookup does to the file."""
    os.utime(path, (atime, path.stat().st_mtime))


def listing(cache: SpanCache, key: str) -> list[str]:
    return sorted(os.listdir(cache.root / key[:2]))


def test_publish_then_lookup_returns_the_bytes_and_marks_the_file_used(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SpanCache(tmp_path / "cache", budget_bytes=10 * MiB, clock=clock)
    data = os.urandom(MiB + 17)

    assert cache.lookup("abcdef") is None
    with cache.writer("abcdef") as w:
        for i in range(0, len(data), 64 * 1024):
            w.write(data[i : i + 64 * 1024])
        path = w.publish()

    assert path == tmp_path / "cache" / "ab" / "abcdef"
    assert cache.internal_path("abcdef") == "/_sequenzia_cache/ab/abcdef"
    mtime_ns = path.stat().st_mtime_ns
    clock.now += 500
    assert cache.lookup("abcdef") == path
    assert path.read_bytes() == data
    assert path.stat().st_atime == pytest.approx(clock.now)
    assert path.stat().st_mtime_ns == mtime_ns, "Nginx's ETag and Last-Modified come from it"
    stats = cache.stats()
    assert (stats.count, stats.bytes, stats.budget_bytes, stats.partials) == (
        1,
        len(data),
        10 * MiB,
        0,
    )


def test_a_partial_file_is_never_visible_under_the_final_name(tmp_path: Path) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    w = cache.writer("key1")
    w.write(b"first half ")

    names = listing(cache, "key1")
    assert len(names) == 1 and names[0].startswith(".partial-key1-")
    assert cache.lookup("key1") is None
    assert cache.stats().count == 0 and cache.stats().partials == 1

    w.write(b"second half")
    w.publish()
    assert listing(cache, "key1") == ["key1"]
    assert (cache.root / "ke" / "key1").read_bytes() == b"first half second half"


def test_abort_removes_the_partial_and_leaves_the_published_file(tmp_path: Path) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    put(cache, "key1", b"complete")

    w = cache.writer("key1")
    w.write(b"half of a new copy")
    w.abort()
    w.abort()
    with pytest.raises(ValueError, match="finished"):
        w.write(b"more")
    assert listing(cache, "key1") == ["key1"]

    with pytest.raises(RuntimeError), cache.writer("key1") as w2:
        w2.write(b"cut off by an error")
        raise RuntimeError("a part failed its hash")
    assert listing(cache, "key1") == ["key1"]
    assert cache.lookup("key1") is not None
    assert (cache.root / "ke" / "key1").read_bytes() == b"complete"


def test_racing_writers_both_publish_and_the_last_one_wins(tmp_path: Path) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    first, second = cache.writer("same"), cache.writer("same")
    assert first.partial != second.partial
    first.write(b"A" * 1000)
    second.write(b"B" * 1000)
    first.write(b"A" * 1000)
    first.publish()
    assert cache.lookup("same") is not None and cache.path("same").read_bytes() == b"A" * 2000
    second.write(b"B" * 1000)
    second.publish()
    assert cache.path("same").read_bytes() == b"B" * 2000
    assert listing(cache, "same") == ["same"]


def test_files_are_readable_by_nginx_whatever_the_umask(tmp_path: Path) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    old = os.umask(0o077)
    try:
        path = put(cache, "abc", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(cache.root.stat().st_mode) == 0o755


def test_eviction_removes_the_least_recently_used_round_after_round(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SpanCache(tmp_path / "cache", budget_bytes=300, clock=clock, grace_seconds=60)
    start = clock.now
    for key in ("aaaa", "bbbb", "cccc"):
        put(cache, key, b"x" * 100)
        clock.now += 1
    clock.now = start + 1000
    assert cache.evict() == [], "within budget"

    cache.lookup("aaaa")  # used: bbbb is now the least recently used
    clock.now += 1
    put(cache, "dddd", b"x" * 100)
    clock.now += 1000
    assert cache.evict() == ["bbbb"]

    # Another process's lookup is only a new access time on the shared file: cccc is now
    # more recent than aaaa and dddd.
    set_atime(cache.path("cccc"), clock.now - 100)
    put(cache, "eeee", b"x" * 100)
    clock.now += 1000
    assert cache.evict() == ["aaaa"]

    put(cache, "ffff", b"x" * 150)
    clock.now += 1000
    assert cache.evict() == ["dddd", "cccc"], "least recently used first"
    assert sorted(os.listdir(cache.root)) == ["aa", "bb", "cc", "dd", "ee", "ff"]
    assert cache.lookup("eeee") is not None and cache.lookup("ffff") is not None
    assert cache.stats().bytes == 250


def test_the_grace_period_keeps_a_recently_used_file_even_over_budget(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SpanCache(tmp_path / "cache", budget_bytes=0, clock=clock, grace_seconds=60)
    put(cache, "old1", b"x" * 100)
    put(cache, "new1", b"x" * 100)
    set_atime(cache.path("old1"), clock.now - 61)
    set_atime(cache.path("new1"), clock.now - 59)
    assert cache.evict() == ["old1"]
    assert cache.lookup("new1") is not None
    assert cache.stats().bytes == 100 > cache.budget_bytes

    clock.now += 59
    assert cache.evict() == [], "looked up again just now: about to be served"
    clock.now += 61
    assert cache.evict() == ["new1"]


def test_eviction_removes_stale_partials_only(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SpanCache(
        tmp_path / "cache", budget_bytes=MiB, clock=clock, partial_max_age_seconds=3600
    )
    crashed = cache.writer("crashed")
    crashed.write(b"left behind by a killed process")
    crashed._file.flush()
    os.utime(crashed.partial, (clock.now - 3601, clock.now - 3601))
    busy = cache.writer("busy")
    busy.write(b"still being written")
    os.utime(busy.partial, (clock.now - 3599, clock.now - 3599))

    assert cache.evict() == []
    assert not crashed.partial.exists()
    assert busy.partial.exists()
    assert cache.stats().partials == 1
    with pytest.raises(FileNotFoundError):
        crashed.publish()
    assert cache.lookup("crashed") is None
    busy.publish()
    assert cache.lookup("busy") is not None


def test_foreign_files_in_the_cache_are_left_alone(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SpanCache(tmp_path / "cache", budget_bytes=0, clock=clock, grace_seconds=0)
    put(cache, "abcd", b"x")
    foreign = [cache.root / "ab" / ".nfs000000001", cache.root / "ab" / "zzzz"]
    for path in foreign:
        path.write_bytes(b"not a cache entry")
    clock.now += 10
    assert cache.evict() == ["abcd"]
    assert all(path.exists() for path in foreign)


def test_remove(tmp_path: Path) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    put(cache, "gone", b"x")
    assert cache.remove("gone") is True
    assert cache.lookup("gone") is None
    assert cache.remove("gone") is False


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "", "a" * 65, "a/b", "..", ".partial-x", "ab\n", "é", "a b"]
)
def test_bad_keys_are_refused(tmp_path: Path, key: str) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    for call in (cache.lookup, cache.writer, cache.internal_path, cache.remove, cache.path):
        with pytest.raises(CacheKeyError):
            call(key)
    assert not (tmp_path / "cache").exists(), "nothing was created"


def test_the_longest_key_is_accepted(tmp_path: Path) -> None:
    cache = SpanCache(tmp_path / "cache", budget_bytes=MiB)
    key = "Az09_-" * 10 + "abcd"
    assert len(key) == 64
    put(cache, key, b"x")
    assert cache.lookup(key) == tmp_path / "cache" / "Az" / key


def content(key: str, size: int) -> bytes:
    return (key.encode() * size)[:size]


def _evict_in_child(root: str, budget: int, clock: FakeClock, barrier: Any, out: str) -> None:
    cache = SpanCache(Path(root), budget, clock=clock, grace_seconds=60)
    barrier.wait(60)
    Path(out).write_text(json.dumps(cache.evict()))


def test_two_processes_evicting_at_once_leave_a_consistent_cache(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SpanCache(tmp_path / "cache", budget_bytes=0, clock=clock)
    count, size, keep = 2000, 100, 500
    keys = [f"k{i:05d}" for i in range(count)]
    for i, key in enumerate(keys):
        # Written directly rather than through writers (2000 fsyncs would be slow): the
        # cache sees the same thing, complete files under their keys.
        path = cache.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content(key, size))
        set_atime(path, clock.now - 10_000 + i)  # k00000 the least recently used

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    outs = [tmp_path / "removed-1.json", tmp_path / "removed-2.json"]
    children = [
        ctx.Process(
            target=_evict_in_child,
            args=(str(cache.root), keep * size, clock, barrier, str(out)),
        )
        for out in outs
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    removed = [json.loads(out.read_text()) for out in outs]

    assert not set(removed[0]) & set(removed[1]), "each file removed once"
    assert sorted(removed[0] + removed[1]) == keys[: count - keep], "exactly the LRU ones"
    stats = cache.stats()
    assert (stats.count, stats.bytes, stats.partials) == (keep, keep * size, 0)
    for key in keys[count - keep :]:
        assert cache.path(key).read_bytes() == content(key, size)
