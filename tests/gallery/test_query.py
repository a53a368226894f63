"""The query language over a small library, through /api/v1/records, on both databases."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
import pytest_twisted

from sequenzia.authware import keys
from sequenzia.bus import LocalBus
from sequenzia.db.pool import Database
from sequenzia.gallery import store as gallery_store
from sequenzia.gallery.query import Parser, QueryError, build, match_folder, tokenize
from tests.api.test_api import serve

DAY = 86_400_000
NOW = int(time.time() * 1000)

# eid: (channel, kind, content, name, content_type, width, height, size, age in days)
LIBRARY = {
    1: (10, "file", "sunset over the beach", "IMG_001.jpg", "image/jpeg", 1920, 1080, 500, 0),
    2: (10, "file", "dawn at the lake", "IMG_002.png", "image/png", 1080, 1920, 900, 3),
    3: (11, "file", "draft sunset", "draft.jpg", "image/jpeg", 1000, 1000, 100, 10),
    4: (11, "message", "just words about the beach", None, None, None, None, None, 1),
    5: (12, "file", "holiday film", "film.mkv", "video/x-matroska", 1280, 720, 5000, 40),
    6: (12, "file", "100% done_ok", "notes_v2.txt", "text/plain", None, None, 10, 2),
}


def fill(txn: Any) -> None:
    txn.execute("INSERT INTO servers (id, name, created_ts, updated_ts) VALUES (1, 'home', 0, 0)")
    txn.execute("INSERT INTO servers (id, name, created_ts, updated_ts) VALUES (2, 'work', 0, 0)")
    for cid, server, parent, kind, name in [
        (9, 1, None, "category", "Photos"),
        (10, 1, 9, "text", "holidays"),
        (11, 1, 9, "text", "drafts"),
        (12, 2, None, "text", "films"),
    ]:
        txn.execute(
            "INSERT INTO channels (id, server_id, parent_id, kind, name, created_ts, updated_ts)"
            " VALUES (?, ?, ?, ?, ?, 0, 0)",
            (cid, server, parent, kind, name),
        )
    for eid, (channel, kind, content, name, ctype, w, h, size, age) in LIBRARY.items():
        txn.execute(
            "INSERT INTO records (eid, message_id, channel_id, server_id, posted_ts, indexed_ts, kind,"
            " content, attachment_name, content_type, width, height, attachment_size, rand_key)"
            " VALUES (?, ?, ?, 1, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                eid,
                1000 + eid,
                channel,
                NOW - age * DAY - eid,
                kind,
                content,
                name,
                ctype,
                w,
                h,
                size,
                eid * 7919 % 1000,
            ),
        )
    txn.execute("INSERT INTO favourites (user_id, eid, created_ts) VALUES (0, 2, 0)")


CASES = [
    ("q=sunset", [1, 3]),
    ("q=sunset -draft", [1]),
    ("q=sunset !draft", [1]),
    ("q=sunset OR dawn", [1, 2, 3]),
    ("q=(sunset | dawn) -draft", [1, 2]),
    ("q=beach", [1, 4]),
    ("q=name:IMG_*", [1, 2]),
    ("q=name:^IMG", [1, 2]),
    ("q=name:.png$", [2]),
    ('q=text:"the beach"', [1, 4]),
    ("q=full:draft sunset", []),  # full: takes one word; 'sunset' is a second term
    ('q=full:"draft sunset"', [3]),
    ("q=100%", [6]),  # % is literal
    ("q=done_ok", [6]),
    ("q=id:1003", [3]),
    ("q=eid:5", [5]),
    ("q=ext:mkv", [5]),
    ("q=type:video", [5]),
    ("q=in:/home/Photos/holidays", [1, 2]),
    ("q=in:home:/Photos", [1, 2, 3, 4]),
    ("q=in:/home/*/draft*", [3, 4]),
    ("q=in:/work", [5, 6]),
    ('q=in:"/home/Photos/holidays|drafts" -type:image', [4]),
    ("q=channel:12", [5, 6]),
    ("days=1", [1]),
    ("days=3", [1, 4, 6]),
    ("media=image", [1, 2, 3]),
    ("ratio=wide", [1, 5]),
    ("ratio=portrait", [2]),
    ("ratio=square", [3]),
    ("ratio=16:9", [1, 5]),
    ("ratio=1.0-1.5", [3]),
    ("minres=1900", [1, 2]),
    ("fav=1", [2]),
    ("sort=size", [5, 2, 1, 3, 6, 4]),
    ("sort=size&reverse=1", [4, 6, 3, 1, 2, 5]),
    ("sort=name&media=image", [3, 1, 2]),
    ("sort=ext&media=image", [1, 3, 2]),  # jpg, jpg, png (by name it is 3, 1, 2)
    ("sort=ext&reverse=1", [6, 2, 5, 3, 1, 4]),  # txt png mkv jpg jpg (no name last)
    ("sort=upload", [6, 5, 4, 3, 2, 1]),
]


async def fetch_all(api: Any, query: str, limit: int = 2) -> list[int]:
    """Every page, following 'next', so paging is tested with every case."""
    found, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        status, body, _ = await api.call("GET", f"/records?{query}&limit={limit}{suffix}")
        assert status == 200, body
        found += [int(r["eid"]) for r in body["records"]]
        cursor = body["next"]
        if cursor is None:
            return found


@pytest_twisted.ensureDeferred
async def test_the_query_language(tmp_path, database: Database) -> None:
    await database.runInteraction("fill", fill)
    async for api in serve(tmp_path, database, LocalBus()):
        for query, expected in CASES:
            found = await fetch_all(api, query)
            if "sort=" in query:
                assert found == expected, query
            else:
                assert sorted(found) == sorted(expected), query
        default = await fetch_all(api, "q=")
        assert default == [1, 4, 6, 2, 3, 5], "newest first by default"
        seeded = await fetch_all(api, "sort=random&seed=42")
        assert sorted(seeded) == [1, 2, 3, 4, 5, 6] and seeded == await fetch_all(
            api, "sort=random&seed=42", 4
        )
        backwards = await fetch_all(api, "sort=random&seed=42&reverse=1", 4)
        assert backwards == seeded[::-1], "reverse walks the same order back"
        for bad, parameter in [
            ("q=(sunset", "q"),
            ("q=sunset)", "q"),
            ("q=OR sunset", "q"),
            ("q=type:hologram", "q"),
            ("q=eid:five", "q"),
            ("days=zero", "days"),
            ("days=0", "days"),
            ("from=yesterday", "from"),
            ("media=smell", "media"),
            ("ratio=tall", "ratio"),
            ("ratio=2-1", "ratio"),
            ("sort=colour", "sort"),
            ("fav=maybe", "fav"),
            ("limit=1000", "limit"),
            ("cursor=abc", "cursor"),
            ("colour=red", "colour"),
            ("sort=fav&fav=0", "sort"),
            ("packed=yes", "packed"),
            ("shown=never", "shown"),
            ("display=../../x", "display"),
        ]:
            status, body, _ = await api.call("GET", f"/records?{bad}")
            assert status == 400 and f"parameter '{parameter}'" in body["error"]["message"], (
                bad,
                body,
            )


def random_library(txn: Any) -> None:
    """50 records with rand_keys spread over their whole range, as junefs gives them."""
    fill(txn)
    keys_ = random.Random(6).sample(range(2**31), 44)
    for eid, rand_key in enumerate(keys_[:-4], start=100):
        txn.execute(
            "INSERT INTO records (eid, message_id, channel_id, server_id, posted_ts, indexed_ts,"
            " kind, attachment_name, content_type, rand_key) VALUES (?, ?, 10, 1, ?, 0, 'file',"
            " 'a.jpg', 'image/jpeg', ?)",
            (eid, 5000 + eid, NOW - eid, rand_key),
        )
    # ties: equal rand_keys are ordered by eid
    for eid in (200, 201, 202, 203):
        txn.execute(
            "INSERT INTO records (eid, message_id, channel_id, server_id, posted_ts, indexed_ts,"
            " kind, rand_key) VALUES (?, ?, 10, 1, 0, 0, 'message', ?)",
            (eid, 5000 + eid, keys_[-1]),
        )
    txn.execute(
        "INSERT INTO records (eid, message_id, channel_id, server_id, posted_ts, indexed_ts,"
        " kind, rand_key) VALUES (300, 5300, 10, 1, 0, 0, 'part', 5)"
    )


def random_pages(txn: Any, params: dict[str, str], readable: frozenset[int] | None) -> list[int]:
    """Every eid of a seeded random listing, page by page through the cursors."""
    found: list[int] = []
    cursor = None
    while True:
        query = build({**params, **({"cursor": cursor} if cursor else {})}, lambda p: set(), NOW, 0)
        page, cursor = gallery_store.list_records(txn, query, readable)
        found += [int(r["eid"]) for r in page]
        if cursor is None:
            return found


@pytest_twisted.ensureDeferred
async def test_seeded_random_pages_without_repeats_and_seeds_differ(database: Database) -> None:
    await database.runInteraction("fill", random_library)
    everything = await database.runInteraction("all", random_pages, {"sort": "random"}, None)
    assert len(everything) == 6 + 40 + 4 and 300 not in everything
    orders = set()
    for seed in range(12):
        for limit in ("1", "7", "60"):
            params = {"sort": "random", "seed": str(seed), "limit": limit}
            order = await database.runInteraction("pages", random_pages, params, None)
            assert sorted(order) == sorted(everything), (seed, limit, "each record exactly once")
            backwards = await database.runInteraction(
                "back", random_pages, {**params, "reverse": "1"}, None
            )
            assert backwards == order[::-1], (seed, limit)
            orders.add(tuple(order))
        # a listing of some channels only still pages through each of its records once
        some = await database.runInteraction(
            "some", random_pages, {"sort": "random", "seed": str(seed), "limit": "3"},
            frozenset({11, 12}),
        )  # fmt: skip
        assert sorted(some) == [3, 4, 5, 6]
    assert len(orders) >= 10, "different seeds give different orders"
    tied = [e for e in everything if e >= 200]
    assert tied == [203, 202, 201, 200] or tied == [200, 201, 202, 203]


def test_parser_units() -> None:
    assert [k for k, _ in tokenize('a -b (c | d) name:"x y"')] == [
        "word",
        "not",
        "word",
        "lp",
        "word",
        "or",
        "word",
        "rp",
        "word",
    ]
    with pytest.raises(QueryError):
        Parser(tokenize("a AND"), lambda p: set()).parse()
    channels = [
        {
            "id": 1,
            "server_id": 5,
            "server_name": "home",
            "parent_id": None,
            "kind": "category",
            "name": "Photos",
        },
        {
            "id": 2,
            "server_id": 5,
            "server_name": "home",
            "parent_id": 1,
            "kind": "text",
            "name": "cats",
        },
    ]
    assert match_folder("home:/Photos/cats", channels) == {2}
    assert match_folder("/5/1/2", channels) == {2}, "ids work in every segment"
    assert match_folder("/other", channels) == set()
    with pytest.raises(QueryError):
        match_folder("/a/b/c/d", channels)
    with pytest.raises(QueryError):
        build({"q": "", "sort": "name", "cursor": "12.3"}, lambda p: set(), NOW, 0)


@pytest_twisted.ensureDeferred
async def test_colour_tone_and_nsfw_filters(tmp_path, database: Database) -> None:
    await database.runInteraction("fill", fill)

    def paint(txn: Any) -> None:
        for eid, colour in ((1, 0xFA781E), (2, 0x141428), (3, 0xF0F0F0)):
            txn.execute("UPDATE records SET avg_color = ? WHERE eid = ?", (colour, eid))
        txn.execute("UPDATE channels SET nsfw = 1 WHERE id = 12")
        txn.execute("INSERT INTO users (id, username, created_ts) VALUES (7, 'member', 0)")
        for role, server in ((1, 1), (2, 2)):
            txn.execute(
                "INSERT INTO user_roles (user_id, role_id, server_id) VALUES (7, ?, ?)",
                (role, server),
            )

    await database.runInteraction("paint", paint)
    member = keys.new_key()
    await database.runInteraction(
        "k", keys.register_key, member, user_id=7, kind="api", name="m", scope="write"
    )
    async for api in serve(tmp_path, database, LocalBus()):
        assert await fetch_all(api, "tone=dark") == [2]
        assert await fetch_all(api, "tone=light") == [3]
        assert await fetch_all(api, "colour=f07820&near=30") == [1]
        assert await fetch_all(api, "colour=%23f07820&near=0") == []
        for bad, parameter in (("tone=grey", "tone"), ("colour=zzz", "colour"), ("near=5", "near")):
            status, body, _ = await api.call("GET", f"/records?{bad}")
            assert status == 400 and f"parameter '{parameter}'" in body["error"]["message"], bad

        async def seen(api: Any = api) -> list[int]:
            status, body, _ = await api.call("GET", "/records?limit=50", key=member)
            return sorted(int(r["eid"]) for r in body["records"])

        assert await seen() == [1, 2, 3, 4], "NSFW channels stay out until the user asks"
        status, body, _ = await api.call("PUT", "/me/nsfw", {"enabled": True}, key=member)
        assert status == 200
        assert await seen() == [1, 2, 3, 4, 5, 6]
        status, body, _ = await api.call("PUT", "/me/nsfw", {"enabled": "yes"}, key=member)
        assert status == 400


def test_average_colour() -> None:
    import io as bytes_io

    from PIL import Image

    from sequenzia.spans.preview import average_colour

    out = bytes_io.BytesIO()
    Image.new("RGB", (40, 30), (250, 120, 30)).save(out, format="PNG")
    assert average_colour(out.getvalue()) == 0xFA781E
    assert average_colour(b"not an image") is None


def add_spanned_and_favourites(txn: Any) -> None:
    for eid, file_id in ((7, "a" * 32), (8, "b" * 32)):
        txn.execute(
            "INSERT INTO records (eid, message_id, channel_id, server_id, posted_ts, indexed_ts,"
            " kind, attachment_name, file_id, rand_key) VALUES (?, ?, 10, 1, ?, 0, 'spanned', ?, ?, 1)",
            (eid, 1000 + eid, NOW - eid, f"big{eid}.bin", file_id),
        )
    txn.execute("INSERT INTO favourites (user_id, eid, created_ts) VALUES (0, 5, 10)")
    txn.execute("INSERT INTO favourites (user_id, eid, created_ts) VALUES (0, 8, 5)")
    txn.execute("INSERT INTO favourites (user_id, eid, created_ts) VALUES (9, 1, 99)")


@pytest_twisted.ensureDeferred
async def test_favourite_order_and_packed_state(tmp_path, database: Database) -> None:
    from cds.cache import SpanCache
    from sequenzia.authware.access import Identity
    from sequenzia.gallery.search import find_records

    await database.runInteraction("fill", fill)
    await database.runInteraction("more", add_spanned_and_favourites)
    async for api in serve(tmp_path, database, LocalBus()):
        assert await fetch_all(api, "sort=fav") == [5, 8, 2], "newest favourite first, mine only"
        assert await fetch_all(api, "sort=fav&reverse=1", 1) == [2, 8, 5]
        assert await fetch_all(api, "sort=fav&fav=1&media=video") == [5]
    cache = SpanCache(tmp_path / "cache", 0)
    with cache.writer("b" * 32) as writer:
        writer.write(b"assembled")
        writer.publish()
    owner = Identity(0, "admin", "key", everything=True)

    async def eids(params: dict[str, str]) -> list[int]:
        rows, _ = await find_records(database, owner, params, cache)
        return sorted(int(r["eid"]) for r in rows)

    assert await eids({"packed": "1"}) == [7], "still in parts"
    assert await eids({"packed": "0"}) == [8], "assembled in the cache"
    assert await eids({"packed": "0", "q": "big7"}) == []
    cache.remove("b" * 32)
    assert await eids({"packed": "1"}) == [7, 8]


def shows(txn: Any) -> None:
    from sequenzia.collections.store import record_shown

    record_shown(txn, 0, "kitchen frame", 1, 100)
    record_shown(txn, 0, "kitchen frame", 1, 200)  # shown again: one row, the later time
    record_shown(txn, 0, "desk", 5)
    record_shown(txn, 9, "kitchen frame", 2)  # someone else's display


@pytest_twisted.ensureDeferred
async def test_shown_on_a_display_and_never_shown(tmp_path, database: Database) -> None:
    from sequenzia.collections.store import record_shown

    await database.runInteraction("fill", fill)
    await database.runInteraction("shows", shows)
    rows = await database.runQuery("shown", "SELECT shown_ts FROM display_history WHERE eid = 1")
    assert [r[0] for r in rows] == [200]
    with pytest.raises(ValueError, match="display name"):
        await database.runInteraction("bad", record_shown, 0, "../x", 1)
    async for api in serve(tmp_path, database, LocalBus()):
        assert sorted(await fetch_all(api, "shown=1")) == [1, 5], "on any of my displays"
        assert sorted(await fetch_all(api, "shown=0")) == [2, 3, 4, 6], "never on mine"
        assert await fetch_all(api, "display=kitchen frame") == [1]
        assert await fetch_all(api, "shown=1&display=desk") == [5]
        assert sorted(await fetch_all(api, "shown=0&display=desk")) == [1, 2, 3, 4, 6]
        assert await fetch_all(api, "shown=1&media=video") == [5]
