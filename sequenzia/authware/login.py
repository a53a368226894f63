"""Log in with Discord (OAuth2 authorization code), and log out.

    GET  /login            → Discord's authorize page (state kept in a short-lived cookie)
    GET  /oauth2/callback  → code exchanged for a token; who the user is and their roles in
                             each library server are read; a session cookie is set
    POST /logout           → this session ends (`everywhere=1`: all of the user's sessions)

Discord here is the configured one (`discord.api_base`, `auth.client_id/secret`) or, with
no bot token, the embedded devcord (its application, from `<data>/devcord/devcord.json`).
Login attempts are rate limited per client address.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import treq
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from sequenzia.authware import sessions
from sequenzia.config import Config
from sequenzia.junefs import store

STATE_COOKIE = "sq_login_state"
SCOPE = "identify guilds guilds.members.read"
ADMINISTRATOR = 1 << 3


class LoginProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _page(request: Request, status: int, message: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader("Content-Type", "text/html; charset=utf-8")
    request.setHeader("Cache-Control", "no-store")
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Sequenzia: log in</title>"
        '<body style="font-family:system-ui,sans-serif;max-width:36em;margin:4em auto">'
        f"<h1>Log in</h1><p>{html.escape(message)}</p>"
        '<p><a href="/login">Try again</a></p></body></html>'
    ).encode()


class DiscordApp:
    """Where Discord is and which application we log in with."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def details(self) -> tuple[str, str, str, str]:
        """(api_base, authorize_url, client_id, client_secret)."""
        auth, discord = self._config.auth, self._config.discord
        if discord.token:
            api = discord.api_base.rstrip("/")
            client_id, secret = auth.client_id, auth.client_secret
        else:
            path = Path(self._config.data_dir) / "devcord" / "devcord.json"
            try:
                info = json.loads(path.read_text())
            except (OSError, ValueError):
                raise LoginProblem(503, "the embedded Discord (devcord) is not up yet") from None
            api = str(info["api_base"]).rstrip("/")
            client_id = auth.client_id or str(info["client_id"])
            secret = auth.client_secret or str(info["client_secret"])
        if not client_id or not secret:
            raise LoginProblem(503, "login is not configured: set auth.client_id and client_secret")
        parts = urlsplit(api)
        return api, f"{parts.scheme}://{parts.netloc}/oauth2/authorize", client_id, secret


class LoginAttempts:
    """A fixed window of attempts per client address."""

    def __init__(self, clock: Any, per_minute: int) -> None:
        self._clock, self._limit = clock, per_minute
        self._window = -1
        self._counts: dict[str, int] = {}

    def allow(self, address: str) -> bool:
        window = int(self._clock.seconds() // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        self._counts[address] = self._counts.get(address, 0) + 1
        return self._counts[address] <= self._limit


def _address(request: Request) -> str:
    return str(getattr(request.getClientAddress(), "host", "?"))


def _base_url(config: Config, request: Request) -> str:
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    host = (request.getHeader("host") or "127.0.0.1").strip()
    return f"http://{host}"


def _cookie(config: Config, name: str, value: str, max_age: int) -> bytes:
    secure = "; Secure" if config.server.public_url.startswith("https://") else ""
    return f"{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}".encode()


class Login(Resource):
    isLeaf = True

    def __init__(self, config: Config, app: DiscordApp, attempts: LoginAttempts) -> None:
        super().__init__()
        self._config, self._app, self._attempts = config, app, attempts

    def render_GET(self, request: Request) -> bytes:
        if not self._attempts.allow(_address(request)):
            return _page(request, 429, "Too many login attempts; wait a minute.")
        try:
            _, authorize, client_id, _ = self._app.details()
        except LoginProblem as e:
            return _page(request, e.status, e.message)
        state = secrets.token_urlsafe(24)
        query = {
            "client_id": client_id,
            "redirect_uri": _base_url(self._config, request) + "/oauth2/callback",
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
        }
        chosen = request.args.get(b"devcord_user")
        if chosen and not self._config.discord.token:
            query["devcord_user"] = chosen[-1].decode("ascii", "replace")  # devcord: who approves
        request.responseHeaders.addRawHeader(
            b"Set-Cookie", _cookie(self._config, STATE_COOKIE, state, 600)
        )
        request.setResponseCode(302)
        request.setHeader("Location", f"{authorize}?{urlencode(query)}")
        request.setHeader("Cache-Control", "no-store")
        return b""


class Callback(Resource):
    isLeaf = True
    log = Logger()

    def __init__(
        self, config: Config, app: DiscordApp, database: Any, attempts: LoginAttempts
    ) -> None:
        super().__init__()
        self._config, self._app, self._db, self._attempts = config, app, database, attempts

    def render_GET(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._finish(request))
        d.addErrback(lambda f: self.log.failure("login callback failed", f))
        return NOT_DONE_YET

    async def _finish(self, request: Request) -> None:
        try:
            session_id, max_age = await self._login(request)
        except LoginProblem as e:
            body = _page(request, e.status, e.message)
        except Exception:
            self.log.failure("login failed")
            body = _page(request, 502, "Discord could not be asked who you are; try again.")
        else:
            request.responseHeaders.addRawHeader(
                b"Set-Cookie", _cookie(self._config, sessions.COOKIE, session_id, max_age)
            )
            request.responseHeaders.addRawHeader(
                b"Set-Cookie", _cookie(self._config, STATE_COOKIE, "", 0)
            )
            request.setResponseCode(302)
            request.setHeader("Location", "/")
            body = b""
        if not request._disconnected:
            request.write(body)
            request.finish()

    async def _login(self, request: Request) -> tuple[str, int]:
        if not self._attempts.allow(_address(request)):
            raise LoginProblem(429, "Too many login attempts; wait a minute.")
        arg = lambda name: (request.args.get(name.encode()) or [b""])[-1].decode("utf-8", "replace")  # noqa: E731
        if arg("error"):
            raise LoginProblem(403, f"Discord said: {arg('error_description') or arg('error')}")
        state, expected = (
            arg("state"),
            (request.getCookie(STATE_COOKIE.encode()) or b"").decode("ascii", "replace"),
        )
        if not state or not expected or not hmac.compare_digest(state, expected):
            raise LoginProblem(400, "This login link is stale or was not started here.")
        code = arg("code")
        if not code:
            raise LoginProblem(400, "Discord sent no authorization code.")
        api, _, client_id, secret = self._app.details()
        token = await treq.post(
            f"{api}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _base_url(self._config, request) + "/oauth2/callback",
            },
            auth=(client_id, secret),
            timeout=30,
        )
        if token.code != 200:
            raise LoginProblem(403, "Discord did not accept the login (the code expired?).")
        access = (await token.json())["access_token"]
        headers: dict[bytes | str, bytes | str] = {"Authorization": f"Bearer {access}"}
        user = await (await treq.get(f"{api}/users/@me", headers=headers, timeout=30)).json()
        guilds = await (
            await treq.get(f"{api}/users/@me/guilds", headers=headers, timeout=30)
        ).json()
        managed = set(await self._db.runInteraction("servers", _server_ids))
        memberships: dict[int, list[int]] = {}
        admin = False
        for guild in guilds:
            guild_id = int(guild["id"])
            if guild_id not in managed:
                continue
            answer = await treq.get(
                f"{api}/users/@me/guilds/{guild_id}/member", headers=headers, timeout=30
            )
            if answer.code != 200:
                await answer.content()
                continue
            member = await answer.json()
            memberships[guild_id] = [int(r) for r in member.get("roles") or []] + [guild_id]
            admin = (
                admin
                or bool(guild.get("owner"))
                or bool(int(guild.get("permissions") or 0) & ADMINISTRATOR)
            )
        if not memberships:
            raise LoginProblem(403, "You are not a member of any server this library uses.")
        days = self._config.auth.session_days
        session_id, _ = await self._db.runInteraction(
            "login",
            _record_login,
            user,
            memberships,
            admin,
            days,
            _address(request),
            request.getHeader("user-agent"),
        )
        return session_id, days * 24 * 3600


def _server_ids(txn: Any) -> list[int]:
    txn.execute("SELECT id FROM servers")
    return [int(r[0]) for r in txn.fetchall()]


def _record_login(
    txn: Any,
    user: dict[str, Any],
    memberships: dict[int, list[int]],
    admin: bool,
    days: int,
    ip: str,
    user_agent: str | None,
) -> tuple[str, sessions.Session]:
    store.upsert_user(txn, user)
    user_id = int(user["id"])
    txn.execute(
        "UPDATE users SET is_admin = ?, last_login_ts = ? WHERE id = ?",
        (1 if admin else 0, sessions._now(), user_id),
    )
    for server_id, role_ids in memberships.items():
        store.set_member_roles(txn, server_id, user_id, role_ids)
    return sessions.create(txn, user_id, days, ip, user_agent)


class Logout(Resource):
    isLeaf = True
    log = Logger()

    def __init__(self, config: Config, database: Any) -> None:
        super().__init__()
        self._config, self._db = config, database

    def render_POST(self, request: Request) -> Any:
        d = defer.ensureDeferred(self._logout(request))
        d.addErrback(lambda f: self.log.failure("logout failed", f))
        return NOT_DONE_YET

    async def _logout(self, request: Request) -> None:
        cookie = (request.getCookie(sessions.COOKIE.encode()) or b"").decode("ascii", "replace")
        session = await self._db.runInteraction("session", sessions.get, cookie) if cookie else None
        sent = request.getHeader("x-csrf-token") or (request.args.get(b"csrf_token") or [b""])[
            -1
        ].decode("ascii", "replace")
        if session is None:
            body = _page(request, 401, "You are not logged in.")
        elif not hmac.compare_digest(sent, session.csrf_token):
            body = _page(request, 403, "The logout form was not sent from this site.")
        else:
            everywhere = request.args.get(b"everywhere") == [b"1"]
            await self._db.runInteraction("logout", sessions.end, cookie, everywhere=everywhere)
            request.responseHeaders.addRawHeader(
                b"Set-Cookie", _cookie(self._config, sessions.COOKIE, "", 0)
            )
            request.setResponseCode(303)
            request.setHeader("Location", "/")
            body = b""
        if not request._disconnected:
            request.write(body)
            request.finish()


def login_resources(config: Config, database: Any, clock: Any) -> dict[bytes, Resource]:
    app = DiscordApp(config)
    attempts = LoginAttempts(clock, config.auth.logins_per_minute)
    oauth2 = Resource()
    oauth2.putChild(b"callback", Callback(config, app, database, attempts))
    return {
        b"login": Login(config, app, attempts),
        b"oauth2": oauth2,
        b"logout": Logout(config, database),
    }
