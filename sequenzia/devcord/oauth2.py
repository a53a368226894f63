"""OAuth2 as "Log in with Discord" needs it (oauth2.mdx): authorize, token, refresh.

`GET /oauth2/authorize` approves at once for a chosen devcord user (`devcord_user=<id>`,
default the guild owner) and redirects back with a code; `POST /api/v10/oauth2/token`
exchanges it (or a refresh token) for a Bearer token that `/users/@me`,
`/users/@me/guilds` and `/users/@me/guilds/{id}/member` accept.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import urlencode

from twisted.web.resource import Resource
from twisted.web.server import Request

from sequenzia.devcord import errors
from sequenzia.devcord.errors import DiscordError
from sequenzia.devcord.world import World

ACCESS_LIFETIME_S = 7 * 24 * 3600
SCOPES = {"identify", "guilds", "guilds.members.read", "email"}


def user_for_bearer(world: World, token: str) -> dict[str, Any]:
    entry = world.store.get("token", f"bearer:{token}")
    if entry is None or entry["expires"] < world.now():
        raise errors.unauthorized()
    user = world.store.get("user", entry["user_id"])
    if user is None:
        raise errors.unauthorized()
    return user


def _oauth_error(status: int, error: str, description: str) -> tuple[int, Any]:
    return status, {"error": error, "error_description": description}


def _issue(world: World, user_id: int, scope: str) -> dict[str, Any]:
    access, refresh = secrets.token_urlsafe(30), secrets.token_urlsafe(30)
    world.store.put(
        "token",
        f"bearer:{access}",
        {"user_id": user_id, "expires": world.now() + ACCESS_LIFETIME_S, "scope": scope},
    )
    world.store.put(
        "token", f"refresh:{refresh}", {"user_id": user_id, "scope": scope, "access": access}
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_LIFETIME_S,
        "refresh_token": refresh,
        "scope": scope,
    }


def token_exchange(world: World, request: Request, form: dict[str, Any]) -> tuple[int, Any]:
    app = world.store.get("meta", "application") or {}
    client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    header = request.getHeader("authorization") or ""
    if header.startswith("Basic "):
        try:
            client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return _oauth_error(401, "invalid_client", "bad Basic credentials")
    if client_id != str(app.get("id")) or not secrets.compare_digest(
        client_secret, str(app.get("client_secret"))
    ):
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = world.store.delete("token", f"code:{form.get('code', '')}")
        if code is None or code["expires"] < world.now():
            return _oauth_error(400, "invalid_grant", 'Invalid "code" in request.')
        if code["redirect_uri"] != form.get("redirect_uri"):
            return _oauth_error(400, "invalid_grant", 'Invalid "redirect_uri" in request.')
        return 200, _issue(world, code["user_id"], code["scope"])
    if grant == "refresh_token":
        old = world.store.delete("token", f"refresh:{form.get('refresh_token', '')}")
        if old is None:
            return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        world.store.delete("token", f"bearer:{old['access']}")
        return 200, _issue(world, old["user_id"], old["scope"])
    return _oauth_error(400, "unsupported_grant_type", f"unsupported grant_type {grant!r}")


class Authorize(Resource):
    """`GET /oauth2/authorize`: approve for the chosen user and redirect with a code."""

    isLeaf = True

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def render_GET(self, request: Request) -> bytes:
        args = {k.decode(): v[-1].decode() for k, v in request.args.items()}
        app = self.world.store.get("meta", "application") or {}
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        if args.get("client_id") != str(app.get("id")):
            request.setResponseCode(400)
            return b"Unknown client_id"
        redirect = args.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            request.setResponseCode(400)
            return b"Invalid redirect_uri"
        if args.get("response_type") != "code":
            request.setResponseCode(400)
            return b"response_type must be code"
        scope = args.get("scope", "identify")
        unknown = set(scope.split()) - SCOPES
        if unknown:
            request.setResponseCode(400)
            return f"Invalid scope: {' '.join(sorted(unknown))}".encode()
        info = self.world.store.get("meta", "bootstrap") or {}
        try:
            user_id = int(args.get("devcord_user") or info.get("owner_user_id", 0))
        except ValueError:
            request.setResponseCode(400)
            return b"devcord_user must be a user id"
        if self.world.store.get("user", user_id) is None:
            request.setResponseCode(400)
            return b"Unknown devcord_user"
        code = secrets.token_urlsafe(24)
        self.world.store.put(
            "token",
            f"code:{code}",
            {
                "user_id": user_id,
                "redirect_uri": redirect,
                "scope": scope,
                "expires": self.world.now() + 600,
            },
        )
        query = {"code": code}
        if "state" in args:
            query["state"] = args["state"]
        sep = "&" if "?" in redirect else "?"
        request.redirect((redirect + sep + urlencode(query)).encode())
        return b""


__all__ = ["Authorize", "DiscordError", "token_exchange", "user_for_bearer"]
