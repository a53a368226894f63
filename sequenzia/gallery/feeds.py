"""RSS and Atom feeds of any gallery query: `/feed/atom?...` and `/feed/rss?...`.

Feed readers cannot send headers, so a feed also takes a static key as `key=` in its
address (scope read is enough; make one with `sequenzia keys create`). The rest of the
address is the gallery's query language.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from sequenzia.gallery.pages import GalleryPages
from sequenzia.gallery.query import QueryError


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _rfc822(ms: int) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(ms / 1000))


def atom(base: str, title: str, self_link: str, records: list[dict[str, Any]]) -> str:
    updated = _iso(max((int(r["posted_ts"]) for r in records), default=0))
    entries = []
    for r in records:
        link = f"{base}/item/{r['eid']}"
        enclosure = (
            f'<link rel="enclosure" href={quoteattr(base + r["url"])}/>' if r.get("url") else ""
        )
        entries.append(
            f"<entry><id>{escape(link)}</id><title>{escape(str(r.get('name') or (r.get('content') or '')[:80] or r['eid']))}</title>"
            f"<link href={quoteattr(link)}/>{enclosure}<updated>{_iso(int(r['posted_ts']))}</updated>"
            f"<summary>{escape(str(r.get('content') or ''))}</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{escape(self_link)}</id><title>{escape(title)}</title><updated>{updated}</updated>"
        f'<link rel="self" href={quoteattr(self_link)}/>{"".join(entries)}</feed>\n'
    )


def rss(base: str, title: str, self_link: str, records: list[dict[str, Any]]) -> str:
    items = []
    for r in records:
        link = f"{base}/item/{r['eid']}"
        enclosure = ""
        if r.get("url"):
            enclosure = (
                f'<enclosure url={quoteattr(base + r["url"])} length="{int(r.get("size") or 0)}"'
                f" type={quoteattr(str(r.get('content_type') or 'application/octet-stream'))}/>"
            )
        items.append(
            f'<item><guid isPermaLink="true">{escape(link)}</guid><link>{escape(link)}</link>'
            f"<title>{escape(str(r.get('name') or (r.get('content') or '')[:80] or r['eid']))}</title>"
            f"<description>{escape(str(r.get('content') or ''))}</description>"
            f"<pubDate>{_rfc822(int(r['posted_ts']))}</pubDate>{enclosure}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(self_link)}</link>"
        f"<description>{escape(title)}</description>{''.join(items)}</channel></rss>\n"
    )


class Feed(Resource):
    isLeaf = True
    log = Logger()

    def __init__(self, pages: GalleryPages, kind: str) -> None:
        super().__init__()
        self.pages, self.kind = pages, kind

    def render_GET(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._render(request))
        d.addErrback(lambda f: self.log.failure("feed failed", f))
        return NOT_DONE_YET

    async def _render(self, request: Request) -> None:
        params = {k.decode(): v[-1].decode("utf-8", "replace") for k, v in request.args.items()}
        key = params.pop("key", "")
        who = (
            await self.pages.authenticator.from_key(key)
            if key
            else await self.pages.identify(request)
        )
        status, ctype = (
            200,
            "application/atom+xml" if self.kind == "atom" else "application/rss+xml",
        )
        if who is None:
            status, ctype, body = (
                401,
                "text/plain",
                "a feed needs key=<a static key> in its address",
            )
        else:
            try:
                rows, _ = await self.pages.records(
                    who, {**params, "limit": params.get("limit", "50")}
                )
            except QueryError as e:
                status, ctype, body = 400, "text/plain", f"parameter '{e.parameter}' {e.message}"
            else:
                host = request.getHeader("host") or "127.0.0.1"
                base = f"http://{host}"
                self_link = f"{base}/feed/{self.kind}?" + urlencode(
                    {**params, "key": key} if key else params
                )
                title = f"Sequenzia: {params.get('q') or 'everything'}"
                body = (atom if self.kind == "atom" else rss)(base, title, self_link, rows)
        if request._disconnected:
            return
        request.setResponseCode(status)
        request.setHeader("Content-Type", f"{ctype}; charset=utf-8")
        request.setHeader("Cache-Control", "private, max-age=300")
        request.write(body.encode())
        request.finish()


def feed_resource(pages: GalleryPages) -> Resource:
    feed = Resource()
    feed.putChild(b"atom", Feed(pages, "atom"))
    feed.putChild(b"rss", Feed(pages, "rss"))
    return feed
