"""The gallery's pages (Jinja2 templates in `web/templates`): home, gallery views, item,
and the viewer's own: albums, history, settings (keys, NSFW, log out everywhere).

Every page needs a login session (or a Bearer key); without one, the home page offers
"Log in with Discord" and the other pages send the browser there. Pages list only what the
viewer's roles let them read, through the same query as `/api/v1/records`.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import static
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

import sequenzia
from sequenzia.api import permissions
from sequenzia.api.keys import may_manage_keys
from sequenzia.api.keys import shown as shown_key
from sequenzia.api.records import public_listing
from sequenzia.authware import keys
from sequenzia.authware.access import Authenticator, Identity, nsfw_enabled
from sequenzia.authware.sessions import COOKIE
from sequenzia.collections import store as collections
from sequenzia.gallery import store as gallery_store
from sequenzia.gallery.query import QueryError
from sequenzia.gallery.search import cached_files, find_records

VIEWS = ("gallery", "files", "cards")
FOLDERS_TTL_S = 30.0
HISTORY_SHOWN = 200


def web_root() -> Path:
    """Where web/ is: beside the source tree, or installed under <prefix>/share/sequenzia."""
    source = Path(sequenzia.__file__).resolve().parents[1] / "web"
    return source if source.is_dir() else Path(sys.prefix) / "share" / "sequenzia" / "web"


def size_text(size: Any) -> str:
    if not size:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def date_text(ms: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(ms) / 1000)) if ms else ""


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    shown = public_listing(row)
    shown["size_text"] = size_text(row.get("size"))
    shown["date"] = date_text(row["posted_ts"])
    return shown


def _counts(txn: Any) -> dict[int, int]:
    """Every channel's number of records (parts of spanned files not counted).

    Reads only the records_channel_kind index, but still all of it: callers remember it.
    """
    txn.execute("SELECT channel_id, COUNT(*) FROM records WHERE kind <> 'part' GROUP BY channel_id")
    return {int(r[0]): int(r[1]) for r in txn.fetchall()}


def _folders(
    txn: Any, readable: frozenset[int] | None, counts: dict[int, int]
) -> list[dict[str, Any]]:
    """Servers → categories → channels the viewer can read, with their record counts."""
    txn.execute(
        "SELECT c.id, c.name, c.kind, c.parent_id, c.server_id, s.name, c.is_data FROM channels c"
        " JOIN servers s ON s.id = c.server_id WHERE c.deleted = 0 ORDER BY s.position, s.id, c.position, c.id"
    )
    rows = txn.fetchall()
    categories = {int(r[0]): r[1] for r in rows if r[2] == "category"}
    servers: dict[int, dict[str, Any]] = {}
    for cid, name, kind, parent, server_id, server_name, is_data in rows:
        if kind not in ("text", "news", "thread") or is_data:
            continue
        if readable is not None and int(cid) not in readable:
            continue
        server = servers.setdefault(int(server_id), {"name": server_name, "groups": {}})
        group = categories.get(int(parent)) if parent else ""
        server["groups"].setdefault(group, []).append(
            {"id": cid, "name": name, "count": counts.get(int(cid), 0)}
        )
    return [
        {
            "name": s["name"],
            "groups": [{"name": g, "channels": cs} for g, cs in s["groups"].items()],
        }
        for s in servers.values()
    ]


def _item(txn: Any, eid: int) -> dict[str, Any] | None:
    txn.execute(
        "SELECT r.eid, r.message_id, r.channel_id, r.kind, r.content, COALESCE(sf.name, r.attachment_name),"
        " COALESCE(sf.size, r.attachment_size), r.content_type, r.width, r.height, r.posted_ts, r.file_id,"
        " r.attachment_name, c.name FROM records r LEFT JOIN spanned_files sf ON sf.id = r.file_id"
        " AND r.kind = 'spanned' LEFT JOIN channels c ON c.id = r.channel_id WHERE r.eid = ?",
        (eid,),
    )
    row = txn.fetchone()
    if row is None:
        return None
    keys = (*gallery_store.COLUMNS, "channel_name")
    return dict(zip(keys, row, strict=True))


def _items(txn: Any, eids: list[int]) -> list[dict[str, Any]]:
    """The records of these eids that still exist, in the order given."""
    return [row for row in (_item(txn, eid) for eid in eids) if row is not None]


def _neighbours(txn: Any, record: dict[str, Any]) -> tuple[int | None, int | None]:
    """The newer and older records of the same channel."""
    channel, ts, eid = record["channel_id"], record["posted_ts"], record["eid"]
    txn.execute(
        "SELECT eid FROM records WHERE channel_id = ? AND kind <> 'part' AND (posted_ts > ? OR (posted_ts = ? AND eid > ?))"
        " ORDER BY posted_ts, eid LIMIT 1",
        (channel, ts, ts, eid),
    )
    newer = txn.fetchone()
    txn.execute(
        "SELECT eid FROM records WHERE channel_id = ? AND kind <> 'part' AND (posted_ts < ? OR (posted_ts = ? AND eid < ?))"
        " ORDER BY posted_ts DESC, eid DESC LIMIT 1",
        (channel, ts, ts, eid),
    )
    older = txn.fetchone()
    return (int(newer[0]) if newer else None, int(older[0]) if older else None)


class Page(Resource):
    """A page rendered asynchronously: `render_page` returns (status, html) or raises."""

    isLeaf = True
    log = Logger()

    def __init__(self, pages: GalleryPages) -> None:
        super().__init__()
        self.pages = pages

    def render_GET(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._render(request))
        d.addErrback(lambda f: self.log.failure("page {uri} failed", f, uri=request.uri))
        return NOT_DONE_YET

    async def _render(self, request: Request) -> None:
        try:
            who = await self.pages.identify(request)
            status, body = await self.render_page(request, who)
        except Exception:
            self.log.failure("page {uri} failed", uri=request.uri)
            status, body = (
                500,
                self.pages.error_page("Something went wrong; the server log has the details."),
            )
        if request._disconnected:
            return
        request.setResponseCode(status)
        if status in (301, 302, 303):
            request.setHeader("Location", body.decode())
            body = b""
        else:
            request.setHeader("Content-Type", "text/html; charset=utf-8")
        request.setHeader("Cache-Control", "private, no-store")
        request.setHeader("X-Frame-Options", "DENY")
        request.write(body)
        request.finish()

    async def render_page(self, request: Request, who: Identity | None) -> tuple[int, bytes]:
        raise NotImplementedError


def _params(request: Request) -> dict[str, str]:
    return {
        k.decode(): v[-1].decode("utf-8", "replace")
        for k, v in request.args.items()
        if k != b"fragment"
    }


class Home(Page):
    async def render_page(self, request: Request, who: Identity | None) -> tuple[int, bytes]:
        if request.postpath not in ([], [b""]):
            return 404, self.pages.error_page("There is nothing at this address.")
        if who is None:
            return 200, self.pages.render("login.html", params={})
        rows, _ = await self.pages.records(who, {"limit": "30"})
        return 200, await self.pages.render_for(who, "home.html", records=rows, params={})


class Gallery(Page):
    async def render_page(self, request: Request, who: Identity | None) -> tuple[int, bytes]:
        if who is None:
            return 302, b"/"
        params = _params(request)
        view = params.get("view") or "gallery"
        if view not in VIEWS:
            return 400, self.pages.error_page(
                f"view must be one of {', '.join(VIEWS)}, not {view!r}"
            )
        if view == "gallery" and "media" not in params and "q" not in params:
            params = {**params, "media": "image"}
        try:
            rows, following = await self.pages.records(who, params)
        except QueryError as e:
            return 400, self.pages.error_page(f"The '{e.parameter}' in this address {e.message}.")
        next_link = "/gallery?" + urlencode({**params, "cursor": following}) if following else None
        if view == "files":  # a spanned file is packed (parts on Discord) or assembled
            assembled = await cached_files(self.pages.cache)
            for row in rows:
                row["state"] = (
                    "single" if row["kind"] != "spanned"
                    else "unpacked" if row.get("file_id") in assembled else "packed"
                )  # fmt: skip
        if request.args.get(b"fragment") == [b"1"]:
            if next_link:
                request.setHeader("X-Next-Page", next_link)
            return 200, self.pages.render("tiles.html", records=rows)

        def view_link(v: str) -> str:
            kept = {k: val for k, val in params.items() if k not in ("cursor", "view", "media")}
            return "/gallery?" + urlencode({**kept, "view": v})

        targets, _ = await self.pages.db.runInteraction("targets", _actions, who.user_id, 0)
        albums = await self.pages.db.runInteraction("albums", collections.albums_of, who.user_id)
        target = re.fullmatch(r"channel:(\d+)", params.get("q", "").strip())
        upload_channel = target[1] if target and who.can_write(int(target[1])) else None
        return 200, await self.pages.render_for(
            who, "gallery.html", records=rows, params=params, view=view, next=following,
            next_link=next_link, view_link=view_link, api_query=urlencode(params),
            upload_channel=upload_channel, albums=albums,
            move_targets=[t for t in targets if who.can_write(int(t["id"]))],
        )  # fmt: skip


class Item(Page):
    async def render_page(self, request: Request, who: Identity | None) -> tuple[int, bytes]:
        if who is None:
            return 302, b"/"
        raw = request.postpath[0].decode("ascii", "replace") if request.postpath else ""
        record = (
            await self.pages.db.runInteraction("item", _item, int(raw))
            if raw.isdigit() and len(raw) < 20
            else None
        )
        if (
            record is None
            or record["kind"] == "part"
            or not who.can_read(int(record["channel_id"]))
        ):
            return 404, self.pages.error_page("There is no such item, or it is not yours to see.")
        newer, older = await self.pages.db.runInteraction("item.neighbours", _neighbours, record)
        shown = {**_shown(record), "channel_name": record["channel_name"]}
        targets, favourite = await self.pages.db.runInteraction(
            "item.actions", _actions, who.user_id, int(record["eid"])
        )
        if who.via == "session":  # a person looked at it (not a script)
            await self.pages.db.runInteraction(
                "history", collections.remember_view, who.user_id, int(record["eid"])
            )
        albums = await self.pages.db.runInteraction("albums", collections.albums_of, who.user_id)
        return 200, await self.pages.render_for(
            who, "item.html", record=shown, previous=newer, following=older, params={},
            can_manage=who.can_manage(int(record["channel_id"])), favourite=favourite, albums=albums,
            move_targets=[t for t in targets if who.can_write(int(t["id"])) and t["id"] != record["channel_id"]],
        )  # fmt: skip


class OwnPage(Page):
    """A page at one address of a logged-in viewer's own (albums, history, settings...)."""

    async def render_page(self, request: Request, who: Identity | None) -> tuple[int, bytes]:
        if who is None:
            return 302, b"/"
        if request.postpath not in ([], [b""]):
            return 404, self.pages.error_page("There is nothing at this address.")
        return await self.render_own(request, who)

    async def render_own(self, request: Request, who: Identity) -> tuple[int, bytes]:
        raise NotImplementedError


class Albums(OwnPage):
    """The viewer's albums: counts of what they may read, links, create, delete, share."""

    async def render_own(self, request: Request, who: Identity) -> tuple[int, bytes]:
        db = self.pages.db
        albums = await db.runInteraction("albums", collections.albums_of, who.user_id)
        counts: dict[int, int] = {}
        for album_id, channel_id, items in await db.runInteraction(
            "albums.channels", collections.album_channels, who.user_id
        ):
            if who.can_read(channel_id):  # roles change: what they lost is not counted
                counts[album_id] = counts.get(album_id, 0) + items
        shown = [
            {**a, "count": counts.get(int(a["id"]), 0), "updated": date_text(a["updated_ts"])}
            for a in albums
        ]
        return 200, await self.pages.render_for(who, "albums.html", albums=shown, params={})


class History(OwnPage):
    """What the viewer looked at, newest first; records they can no longer read drop out."""

    async def render_own(self, request: Request, who: Identity) -> tuple[int, bytes]:
        db = self.pages.db
        seen = await db.runInteraction("history", collections.history, who.user_id, HISTORY_SHOWN)
        when = {entry["eid"]: entry["seen_ts"] for entry in seen}
        rows = await db.runInteraction("history.items", _items, [e["eid"] for e in seen])
        entries = [
            {**_shown(r), "channel_name": r["channel_name"], "seen": date_text(when[int(r["eid"])])}
            for r in rows
            if r["kind"] != "part" and who.can_read(int(r["channel_id"]))
        ]
        return 200, await self.pages.render_for(who, "history.html", entries=entries, params={})


class Settings(OwnPage):
    """Keys (list, create, revoke), the NSFW choice, and logging out everywhere."""

    async def render_own(self, request: Request, who: Identity) -> tuple[int, bytes]:
        db = self.pages.db
        manage = may_manage_keys(who)
        rows = await db.runInteraction("keys", keys.keys_of, who.user_id) if manage else []
        shown = [
            {
                **shown_key(r),
                "created": date_text(r["created_ts"]),
                "revoked_at": date_text(r["revoked_ts"]),
            }
            for r in rows
        ]
        nsfw = await db.runInteraction("nsfw", nsfw_enabled, who.user_id)
        return 200, await self.pages.render_for(
            who, "settings.html", keys=shown, manage_keys=manage, nsfw=nsfw,
            session=who.via == "session", params={},
        )  # fmt: skip


class Admin(OwnPage):
    """The permissions page: what channels need and what roles grant (administrators only)."""

    async def render_own(self, request: Request, who: Identity) -> tuple[int, bytes]:
        if not (who.everything and who.scope == "admin"):
            return 403, self.pages.error_page(
                "Only server owners and administrators may change permissions."
            )
        servers = await self.pages.db.runInteraction("permissions", permissions.overview)
        return 200, await self.pages.render_for(who, "admin.html", servers=servers, params={})


class GalleryPages:
    """The pages and what they share: templates, identity, queries."""

    log = Logger()

    def __init__(
        self,
        database: Any,
        authenticator: Authenticator,
        root: Path | None = None,
        cache: Any = None,
    ) -> None:
        self.db = database
        self.cache = cache  # the CDS's SpanCache: which spanned files are assembled
        self.authenticator = authenticator
        self._sidebars: dict[frozenset[int] | None, tuple[list[dict[str, Any]], float]] = {}
        self._counts: tuple[dict[int, int], float] | None = None
        self._counting = False
        self._count_waiters: list[defer.Deferred[dict[int, int]]] = []
        self.root = root or web_root()
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.root / "templates"),
            autoescape=jinja2.select_autoescape(("html",)),
            undefined=jinja2.StrictUndefined,
        )

    async def identify(self, request: Request) -> Identity | None:
        cookie = request.getCookie(COOKIE.encode())
        return await self.authenticator.identify(
            request.getHeader("authorization"),
            cookie.decode("ascii", "replace") if cookie else None,
        )

    def render(self, template: str, **values: Any) -> bytes:
        values.setdefault("user", None)
        values.setdefault("csrf_token", None)
        values.setdefault("admin", False)
        return self._env.get_template(template).render(**values).encode()

    def error_page(self, message: str) -> bytes:
        return self.render("error.html", params={}, message=message)

    async def render_for(self, who: Identity, template: str, **values: Any) -> bytes:
        readable = None if who.everything else who.readable
        folders = await self._folders(readable)
        user = await self.db.runInteraction("user", _user, who.user_id)
        return self.render(
            template,
            folders=folders,
            user=user,
            csrf_token=who.csrf_token,
            admin=who.everything and who.scope == "admin",
            **values,
        )

    async def _folders(self, readable: frozenset[int] | None) -> list[dict[str, Any]]:
        """The sidebar, remembered briefly per readable set (see `counts`)."""
        now = time.monotonic()
        known = self._sidebars.get(readable)
        if known is not None and known[1] > now:
            return known[0]
        counts = await self.counts()
        folders = await self.db.runInteraction("folders", _folders, readable, counts)
        if len(self._sidebars) > 1000:
            self._sidebars.clear()
        self._sidebars[readable] = (folders, now + FOLDERS_TTL_S)
        return folders

    async def counts(self) -> dict[int, int]:
        """Every channel's record count, shared by all viewers and lagging by up to
        FOLDERS_TTL_S: counting reads a whole index (seconds over millions of records), so
        only pages that find no count at all wait for it; once one is known, an outdated
        count is shown while one refresh runs in the background."""
        known = self._counts
        if known is not None and known[1] > time.monotonic():
            return known[0]
        if not self._counting:
            self._counting = True
            defer.ensureDeferred(self._count())
        if known is not None:
            return known[0]
        waiting: defer.Deferred[dict[int, int]] = defer.Deferred()
        self._count_waiters.append(waiting)
        return await waiting

    async def _count(self) -> None:
        try:
            counts = await self.db.runInteraction("folders.counts", _counts)
        except Exception:
            failure = Failure()
            self.log.failure("counting the records of each channel failed", failure)
            outcome: Any = failure
        else:
            self._counts = (counts, time.monotonic() + FOLDERS_TTL_S)
            outcome = counts
        self._counting = False
        waiters, self._count_waiters = self._count_waiters, []
        for waiting in waiters:
            if isinstance(outcome, Failure):
                waiting.errback(outcome)
            else:
                waiting.callback(outcome)

    async def records(
        self, who: Identity, params: dict[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        rows, following = await find_records(self.db, who, params, self.cache)
        return [_shown(r) for r in rows], following

    def resources(self) -> dict[bytes, Resource]:
        from sequenzia.gallery.feeds import feed_resource  # feeds build on these pages

        return {
            b"": Home(self),
            b"gallery": Gallery(self),
            b"item": Item(self),
            b"admin": Admin(self),
            b"albums": Albums(self),
            b"history": History(self),
            b"settings": Settings(self),
            b"static": static.File(str(self.root / "static")),
            b"feed": feed_resource(self),
        }


def _actions(txn: Any, user_id: int, eid: int) -> tuple[list[dict[str, Any]], bool]:
    """Channels a record could move to, and whether it is the user's favourite."""
    txn.execute(
        "SELECT id, name FROM channels WHERE deleted = 0 AND is_data = 0"
        " AND kind IN ('text', 'news', 'thread') ORDER BY server_id, position, id"
    )
    targets = [{"id": int(r[0]), "name": r[1]} for r in txn.fetchall()]
    txn.execute("SELECT 1 FROM favourites WHERE user_id = ? AND eid = ?", (user_id, eid))
    return targets, txn.fetchone() is not None


def _user(txn: Any, user_id: int) -> dict[str, Any]:
    txn.execute("SELECT username, global_name FROM users WHERE id = ?", (user_id,))
    row = txn.fetchone()
    return (
        {"username": row[0], "global_name": row[1]}
        if row
        else {"username": "owner", "global_name": None}
    )
