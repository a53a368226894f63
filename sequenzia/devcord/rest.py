"""devcord's REST API under `/api/v10` (and `/api`, as Discord answers both).

The resource matches the path against Discord's route templates, authenticates (`Bot`
and `Bearer` tokens), counts the rate limits, applies injected faults, parses JSON or
multipart (`payload_json` + `files[n]`) bodies, and turns every failure into a Discord
error body: never a 500.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request

from sequenzia.devcord import errors, multipart
from sequenzia.devcord.errors import DiscordError
from sequenzia.devcord.faults import Faults
from sequenzia.devcord.objects import (
    application_json,
    channel_json,
    guild_json,
    member_json,
    role_json,
    webhook_json,
)
from sequenzia.devcord.ratelimit import InvalidRequestCounter, RateLimiter
from sequenzia.devcord.uploads import UploadRequest, max_body_bytes
from sequenzia.devcord.world import IncomingFile, World

_VERSION = re.compile(r"^/api(?:/v(\d+))?(/.*)$")
_CHUNK = 64 * 1024


@dataclass
class Call:
    """One REST call, parsed."""

    request: Request
    params: dict[str, str]
    user: dict[str, Any] | None
    json: Any
    files: list[IncomingFile]
    query: dict[str, str]

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise errors.invalid_form(
                name, "NUMBER_TYPE_COERCE", f'Value "{self.params[name]}" is not snowflake.'
            ) from None

    @property
    def me(self) -> dict[str, Any]:
        assert self.user is not None
        return self.user

    def body(self) -> dict[str, Any]:
        if not isinstance(self.json, dict):
            raise DiscordError(400, 50109, "The request body contains invalid JSON.")
        return self.json


Handler = Callable[[Call], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    auth: str = "any"  # any | bot | none | webhook
    major: str | None = None  # the top-level parameter that keys the rate-limit bucket

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        want = self.template.strip("/").split("/")
        got = path.strip("/").split("/")
        if len(want) != len(got):
            return None
        params = {}
        for w, g in zip(want, got, strict=True):
            if w.startswith("{"):
                if not g:
                    return None
                params[w[1:-1]] = g
            elif w != g:
                return None
        return params


class RestAPI(Resource):
    isLeaf = True
    log = Logger()

    def __init__(
        self,
        world: World,
        limiter: RateLimiter,
        faults: Faults,
        invalid: InvalidRequestCounter,
        gateway_url: Callable[[], str],
    ) -> None:
        super().__init__()
        self.world = world
        self.limiter = limiter
        self.faults = faults
        self.invalid = invalid
        self._gateway_url = gateway_url
        self.routes = self._routes()
        # (method, route template, status, body) of every answer; tests check them
        # against Discord's OpenAPI document.
        self.observers: list[Callable[[str, str, int, Any], None]] = []

    # -- plumbing ------------------------------------------------------------------

    def render(self, request: Request) -> bytes:
        method = request.method.decode()
        raw_path = request.path.decode("utf-8", "replace")
        m = _VERSION.match(raw_path)
        path = m.group(2) if m else raw_path
        headers: dict[str, str] = {}
        template = path
        try:
            route, params = self._find(method, path)
            template = route.template
            user = self._authenticate(request, route, params)
            verdict = self.limiter.check(
                self._bucket_owner(request, user),
                method,
                route.template,
                params.get(route.major or "", "") if route.major else "",
            )
            headers.update(verdict.headers)
            if not verdict.allowed:
                self.invalid.record(429)
                self.faults.count_429()
                return self._write(
                    request,
                    429,
                    {
                        "message": "The resource is being rate limited."
                        if verdict.scope == "shared"
                        else "You are being rate limited.",
                        "retry_after": verdict.retry_after,
                        "global": verdict.is_global,
                        "code": 0,
                    },
                    headers,
                    template,
                )
            fault = self.faults.rest_fault(method, path)
            if fault is not None:
                return self._write(
                    request,
                    fault,
                    {"message": f"{fault}: injected fault", "code": 0},
                    headers,
                    template,
                )
            body, files = self._parse_body(request)
            query = {k.decode(): v[-1].decode() for k, v in request.args.items()}
            status, answer = route.handler(Call(request, params, user, body, files, query))
        except DiscordError as e:
            self.invalid.record(e.status)
            return self._write(request, e.status, e.body(), headers, template)
        except Exception:
            self.log.failure("devcord: {method} {path} failed", method=method, path=path)
            return self._write(
                request,
                400,
                {"message": "devcord could not handle this request", "code": 0},
                headers,
                template,
            )
        return self._write(request, status, answer, headers, template)

    def _write(
        self, request: Request, status: int, body: Any, headers: dict[str, str], template: str = ""
    ) -> bytes:
        for observe in self.observers:
            observe(request.method.decode(), template, status, body)
        request.setResponseCode(status)
        for k, v in headers.items():
            request.setHeader(k, v)
        if status == 204 or body is None:
            return b""
        request.setHeader(b"Content-Type", b"application/json")  # exactly this (NOTES.md)
        return json.dumps(body, separators=(",", ":")).encode()

    def _find(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
            if route.match(route.method, path) is not None:
                allowed = True
        if allowed:
            raise DiscordError(405, 0, "405: Method Not Allowed")
        raise DiscordError(404, 0, "404: Not Found")

    def _authenticate(
        self, request: Request, route: Route, params: dict[str, str]
    ) -> dict[str, Any] | None:
        if route.auth in ("none", "webhook"):
            return None
        header = (request.getHeader("authorization") or "").strip()
        scheme, _, token = header.partition(" ")
        if scheme == "Bot" and token:
            user = self.world.user_for_token(token)
            if not user.get("bot"):
                raise errors.unauthorized()
            return user
        if scheme == "Bearer" and token:
            from sequenzia.devcord.oauth2 import user_for_bearer

            if route.auth == "bot":
                raise errors.unauthorized()
            return user_for_bearer(self.world, token)
        if scheme == "User" or (header and not token and route.auth == "any"):
            # devcord's own non-bot test users ("another user" in the tests) use `User <token>`.
            user = self.world.user_for_token(token or header)
            return user
        raise errors.unauthorized()

    def _bucket_owner(self, request: Request, user: dict[str, Any] | None) -> str:
        if user is not None:
            return str(user["id"])
        return (
            request.getClientAddress().host
            if hasattr(request.getClientAddress(), "host")
            else "anon"
        )

    def _parse_body(self, request: Request) -> tuple[Any, list[IncomingFile]]:
        if request.method in (b"GET", b"HEAD", b"DELETE") and not request.getHeader("content-type"):
            return None, []
        content_type = request.getHeader("content-type") or ""
        content = request.content
        assert content is not None
        content.seek(0)
        if content_type.startswith("multipart/form-data"):
            return self._parse_multipart(request, content_type)
        raw = content.read()
        if not raw:
            return None, []
        if content_type.startswith("application/x-www-form-urlencoded"):
            from urllib.parse import parse_qs

            return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}, []
        try:
            return json.loads(raw), []
        except (ValueError, UnicodeDecodeError):
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    def _parse_multipart(
        self, request: Request, content_type: str
    ) -> tuple[Any, list[IncomingFile]]:
        form = request.form if isinstance(request, UploadRequest) else None
        if form is None:
            form = self._read_form(request, content_type)
        try:
            parts = form.finish()
        except multipart.BodyTooLarge:
            raise errors.too_large() from None
        except multipart.MultipartError as e:
            raise errors.invalid_form("files", "MULTIPART_INVALID", str(e)) from None
        payload: Any = None
        files: list[IncomingFile] = []
        for part in parts:
            name = part.name
            if name == "payload_json":
                try:
                    payload = json.loads(part.data)
                except ValueError:
                    raise DiscordError(
                        400, 50109, "The request body contains invalid JSON."
                    ) from None
            elif name is not None and name.startswith("file"):
                filename = Path((part.filename or "unknown").replace("\\", "/")).name or "unknown"
                files.append(
                    IncomingFile(
                        filename=filename,
                        path=part.path or self._write_upload(request, part.data),
                        size=part.size,
                        content_type=_content_type(part.content_type, filename),
                    )
                )
        return payload, files

    def _read_form(self, request: Request, content_type: str) -> multipart.MultipartReader:
        """The form of a body twisted.web buffered (a request devcord's site did not make)."""
        try:
            form = multipart.MultipartReader.for_content_type(
                content_type, self._upload_dir(), max_body_bytes(self.world.limits)
            )
        except multipart.MultipartError as e:
            raise errors.invalid_form("files", "MULTIPART_INVALID", str(e)) from None
        request.notifyFinish().addBoth(lambda _: form.discard())
        content = request.content
        assert content is not None
        content.seek(0)
        while chunk := content.read(_CHUNK):
            form.feed(chunk)
        return form

    def _write_upload(self, request: Request, data: bytes) -> Path:
        """A file for a `files[n]` part sent without a filename (the reader kept it in memory).

        Removed with the response, as the reader's files are, unless a message took it.
        """
        fd, name = tempfile.mkstemp(dir=self._upload_dir())
        with open(fd, "wb") as f:
            f.write(data)
        path = Path(name)
        request.notifyFinish().addBoth(lambda _: path.unlink(missing_ok=True))
        return path

    def _upload_dir(self) -> Path:
        path = self.world.store.directory / "uploads"
        path.mkdir(exist_ok=True)
        return path

    # -- routes --------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        """Discord's routes devcord answers (templates as in Discord's OpenAPI document)."""
        r = Route
        # fmt: off
        return [
            r("GET", "/gateway", self.gateway, auth="none"),
            r("GET", "/gateway/bot", self.gateway_bot, auth="bot"),
            r("GET", "/users/@me", self.me),
            r("GET", "/users/@me/guilds", self.my_guilds),
            r("GET", "/users/@me/guilds/{guild_id}/member", self.my_member),
            r("GET", "/oauth2/applications/@me", self.application, auth="bot"),
            r("POST", "/oauth2/token", self.oauth_token, auth="none"),
            r("GET", "/guilds/{guild_id}", self.get_guild, major="guild_id"),
            r("GET", "/guilds/{guild_id}/channels", self.guild_channels, major="guild_id"),
            r("POST", "/guilds/{guild_id}/channels", self.create_channel, major="guild_id"),
            r("GET", "/guilds/{guild_id}/roles", self.guild_roles, major="guild_id"),
            r("GET", "/guilds/{guild_id}/members", self.list_members, major="guild_id"),
            r("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member, major="guild_id"),
            r("PATCH", "/guilds/{guild_id}/members/{user_id}", self.patch_member, major="guild_id"),
            r("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_member_role, major="guild_id"),
            r("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.remove_member_role, major="guild_id"),
            r("GET", "/channels/{channel_id}", self.get_channel, major="channel_id"),
            r("PATCH", "/channels/{channel_id}", self.update_channel, major="channel_id"),
            r("DELETE", "/channels/{channel_id}", self.delete_channel, major="channel_id"),
            r("GET", "/channels/{channel_id}/messages", self.history, major="channel_id"),
            r("POST", "/channels/{channel_id}/messages", self.post_message, major="channel_id"),
            r("POST", "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete, major="channel_id"),
            r("GET", "/channels/{channel_id}/messages/pins", self.pins, major="channel_id"),
            r("PUT", "/channels/{channel_id}/messages/pins/{message_id}", self.pin, major="channel_id"),
            r("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", self.unpin, major="channel_id"),
            r("PUT", "/channels/{channel_id}/pins/{message_id}", self.pin, major="channel_id"),
            r("DELETE", "/channels/{channel_id}/pins/{message_id}", self.unpin, major="channel_id"),
            r("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message, major="channel_id"),
            r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message, major="channel_id"),
            r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message, major="channel_id"),
            r("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.react, major="channel_id"),
            r("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.unreact, major="channel_id"),
            r("POST", "/channels/{channel_id}/threads", self.create_thread, major="channel_id"),
            r("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.create_thread, major="channel_id"),
            r("POST", "/channels/{channel_id}/webhooks", self.create_webhook, major="channel_id"),
            r("GET", "/channels/{channel_id}/webhooks", self.channel_webhooks, major="channel_id"),
            r("POST", "/webhooks/{webhook_id}/{webhook_token}", self.execute_webhook, auth="webhook", major="webhook_id"),
            r("GET", "/webhooks/{webhook_id}/{webhook_token}", self.get_webhook, auth="webhook", major="webhook_id"),
            r("POST", "/attachments/refresh-urls", self.refresh_urls),
        ]
        # fmt: on

    # -- handlers ------------------------------------------------------------------

    def gateway(self, c: Call) -> tuple[int, Any]:
        return 200, {"url": self._gateway_url()}

    def gateway_bot(self, c: Call) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86400000, "max_concurrency": 1}
        return 200, {"url": self._gateway_url(), "shards": 1, "session_start_limit": limit}

    def me(self, c: Call) -> tuple[int, Any]:
        return 200, self.world.user_json(c.me, private=True)

    def create_channel(self, c: Call) -> tuple[int, Any]:
        return 201, channel_json(self.world.create_channel(c.int_param("guild_id"), c.me, c.body()))

    def get_channel(self, c: Call) -> tuple[int, Any]:
        return 200, channel_json(self.world.channel(c.int_param("channel_id"), c.me))

    def update_channel(self, c: Call) -> tuple[int, Any]:
        return 200, channel_json(
            self.world.update_channel(c.int_param("channel_id"), c.me, c.body())
        )

    def delete_channel(self, c: Call) -> tuple[int, Any]:
        return 200, channel_json(self.world.delete_channel(c.int_param("channel_id"), c.me))

    def get_message(self, c: Call) -> tuple[int, Any]:
        message = self.world.message(c.int_param("channel_id"), c.int_param("message_id"), c.me)
        return 200, self.world.render_message(message, c.me["id"])

    def create_thread(self, c: Call) -> tuple[int, Any]:
        from_message = c.int_param("message_id") if "message_id" in c.params else None
        thread = self.world.create_thread(c.int_param("channel_id"), c.me, c.body(), from_message)
        return 201, channel_json(thread)

    def get_webhook(self, c: Call) -> tuple[int, Any]:
        return 200, webhook_json(
            self.world.webhook(c.int_param("webhook_id"), c.params["webhook_token"]), None
        )

    def add_member_role(self, c: Call) -> tuple[int, Any]:
        return self._member_role(c, add=True)

    def remove_member_role(self, c: Call) -> tuple[int, Any]:
        return self._member_role(c, add=False)

    def unpin(self, c: Call) -> tuple[int, Any]:
        return self._set_pin(c, False)

    def react(self, c: Call) -> tuple[int, Any]:
        return self._reaction(c, True)

    def unreact(self, c: Call) -> tuple[int, Any]:
        return self._reaction(c, False)

    def guild_channels(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        return 200, [channel_json(x) for x in self.world.channels(gid)]

    def guild_roles(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        return 200, [role_json(x) for x in self.world.roles(gid)]

    def delete_message(self, c: Call) -> tuple[int, Any]:
        self.world.delete_message(c.int_param("channel_id"), c.int_param("message_id"), c.me)
        return 204, None

    def application(self, c: Call) -> tuple[int, Any]:
        app = self.world.store.get("meta", "application") or {}
        owner = self.world.store.get("user", app.get("owner_id", 0)) or c.me
        return 200, application_json({**app, "bot": c.me}, owner)

    def my_guilds(self, c: Call) -> tuple[int, Any]:
        out = []
        for g in self.world.guilds_of(c.me["id"]):
            out.append(
                {
                    "id": str(g["id"]),
                    "name": g["name"],
                    "icon": None,
                    "banner": None,
                    "owner": g["owner_id"] == c.me["id"],
                    "permissions": "2251799813685247"
                    if g["owner_id"] == c.me["id"]
                    else "104324673",
                    "features": [],
                }
            )
        return 200, out

    def my_member(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        member = self.world.store.get("member", f"{gid}:{c.me['id']}")
        if member is None:
            raise errors.unknown("Guild", errors.UNKNOWN_GUILD)
        return 200, member_json(member, c.me)

    def get_guild(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        guild = self.world.guild(gid, c.me)
        out = guild_json(guild, self.world.roles(gid))
        out.update(
            {
                "approximate_member_count": len(self.world.members(gid)),
                "approximate_presence_count": 0,
            }
        )
        return 200, out

    def list_members(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        limit = int(c.query.get("limit", "1"))
        after = int(c.query.get("after", "0"))
        members = sorted(self.world.members(gid), key=lambda mu: mu[1]["id"])
        return 200, [member_json(m, u) for m, u in members if u["id"] > after][:limit]

    def get_member(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        member = self.world.store.get("member", f"{gid}:{c.int_param('user_id')}")
        user = self.world.store.get("user", c.int_param("user_id"))
        if member is None or user is None:
            raise errors.unknown("Member", errors.UNKNOWN_MEMBER)
        return 200, member_json(member, user)

    def patch_member(self, c: Call) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        body = c.body()
        if "roles" in body:
            if not isinstance(body["roles"], list):
                raise errors.invalid_form("roles", "LIST_TYPE_CONVERT", "Must be an array.")
            member = self.world.set_member_roles(
                gid, c.int_param("user_id"), [int(x) for x in body["roles"]]
            )
        else:
            found = self.world.store.get("member", f"{gid}:{c.int_param('user_id')}")
            if found is None:
                raise errors.unknown("Member", errors.UNKNOWN_MEMBER)
            member = found
        return 200, member_json(member, self.world.store.get("user", c.int_param("user_id")) or {})

    def _member_role(self, c: Call, add: bool) -> tuple[int, Any]:
        gid = c.int_param("guild_id")
        self.world.guild(gid, c.me)
        member = self.world.store.get("member", f"{gid}:{c.int_param('user_id')}")
        if member is None:
            raise errors.unknown("Member", errors.UNKNOWN_MEMBER)
        roles = [r for r in member["roles"] if r != c.int_param("role_id")]
        if add:
            roles.append(c.int_param("role_id"))
        self.world.set_member_roles(gid, c.int_param("user_id"), roles)
        return 204, None

    def history(self, c: Call) -> tuple[int, Any]:
        def opt(name: str) -> int | None:
            value = c.query.get(name)
            if value is None:
                return None
            try:
                return int(value)
            except ValueError:
                raise errors.invalid_form(
                    name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'
                ) from None

        limit = opt("limit") or 50
        messages = self.world.history(
            c.int_param("channel_id"),
            c.me,
            limit=limit,
            before=opt("before"),
            after=opt("after"),
            around=opt("around"),
        )
        return 200, [self.world.render_message(m, c.me["id"]) for m in messages]

    def _message_args(self, c: Call) -> dict[str, Any]:
        body = c.json if c.json is not None else {}
        if not isinstance(body, dict):
            raise DiscordError(400, 50109, "The request body contains invalid JSON.")
        content = body.get("content") or ""
        nonce = body.get("nonce")
        if nonce is not None and not isinstance(nonce, str | int):
            raise errors.invalid_form(
                "nonce", "BASE_TYPE_BAD_TYPE", "Must be a string or an integer."
            )
        if isinstance(nonce, str) and len(nonce) > 25:
            raise errors.invalid_form(
                "nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        meta = body.get("attachments") if isinstance(body.get("attachments"), list) else None
        return {
            "content": content,
            "files": c.files,
            "nonce": nonce,
            "enforce_nonce": bool(body.get("enforce_nonce")),
            "attachment_meta": meta,
        }

    def post_message(self, c: Call) -> tuple[int, Any]:
        message = self.world.create_message(
            c.int_param("channel_id"), c.me, **self._message_args(c)
        )
        return 200, self.world.render_message(message, c.me["id"])

    def edit_message(self, c: Call) -> tuple[int, Any]:
        body = c.json if isinstance(c.json, dict) else {}
        keep = None
        if isinstance(body.get("attachments"), list):
            keep = [int(a["id"]) for a in body["attachments"] if isinstance(a, dict) and "id" in a]
        message = self.world.edit_message(
            c.int_param("channel_id"),
            c.int_param("message_id"),
            c.me,
            content=body.get("content"),
            keep_attachment_ids=keep,
        )
        return 200, self.world.render_message(message, c.me["id"])

    def bulk_delete(self, c: Call) -> tuple[int, Any]:
        body = c.body()
        self.world.bulk_delete(c.int_param("channel_id"), c.me, body.get("messages"))
        return 204, None

    def pins(self, c: Call) -> tuple[int, Any]:
        cid = c.int_param("channel_id")
        pinned = [
            m
            for m in self.world.history(cid, c.me, limit=100, before=None, after=None, around=None)
            if m.get("pinned")
        ]
        return 200, {
            "items": [
                {
                    "pinned_at": self.world.render_message(m)["timestamp"],
                    "message": self.world.render_message(m, c.me["id"]),
                }
                for m in pinned
            ],
            "has_more": False,
        }

    def pin(self, c: Call) -> tuple[int, Any]:
        return self._set_pin(c, True)

    def _set_pin(self, c: Call, pinned: bool) -> tuple[int, Any]:
        self.world.set_pinned(c.int_param("channel_id"), c.int_param("message_id"), c.me, pinned)
        return 204, None

    def _reaction(self, c: Call, add: bool) -> tuple[int, Any]:
        from urllib.parse import unquote

        self.world.react(
            c.int_param("channel_id"),
            c.int_param("message_id"),
            c.me,
            unquote(c.params["emoji"]),
            add,
        )
        return 204, None

    def create_webhook(self, c: Call) -> tuple[int, Any]:
        hook = self.world.create_webhook(c.int_param("channel_id"), c.me, c.body().get("name"))
        return 200, webhook_json(hook, c.me)

    def channel_webhooks(self, c: Call) -> tuple[int, Any]:
        cid = c.int_param("channel_id")
        self.world.channel(cid, c.me)
        return 200, [
            webhook_json(h, None) for h in self.world.store.all("webhook") if h["channel_id"] == cid
        ]

    def execute_webhook(self, c: Call) -> tuple[int, Any]:
        hook = self.world.webhook(c.int_param("webhook_id"), c.params["webhook_token"])
        args = self._message_args(c)
        body = c.json if isinstance(c.json, dict) else {}
        author = self.world.webhook_author(hook, body.get("username"))
        message = self.world.create_message(
            hook["channel_id"], author, webhook_id=hook["id"], **args
        )
        if c.query.get("wait", "false").lower() in ("true", "1"):
            return 200, self.world.render_message(message)
        return 204, None

    def refresh_urls(self, c: Call) -> tuple[int, Any]:
        body = c.body()
        urls = body.get("attachment_urls")
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise errors.invalid_form(
                "attachment_urls", "LIST_TYPE_CONVERT", "Must be an array of strings."
            )
        if not 1 <= len(urls) <= 50:
            raise errors.invalid_form(
                "attachment_urls", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 50 in length."
            )
        return 200, {"refreshed_urls": self.world.refresh(urls)}

    def oauth_token(self, c: Call) -> tuple[int, Any]:
        from sequenzia.devcord.oauth2 import token_exchange

        return token_exchange(self.world, c.request, c.json if isinstance(c.json, dict) else {})


def _content_type(declared: str | None, filename: str) -> str | None:
    """The part's type, or (like Discord) one guessed from the name when it is generic."""
    import mimetypes

    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or declared
