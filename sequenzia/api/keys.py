"""Your static and API keys from the web: list, create (shown once), revoke.

GET    /keys        your keys, without secrets or hashes
POST   /keys        create one {name, scope: read|write, kind: static|api}; the key, once
DELETE /keys/{id}   revoke one of yours

Only a login session (or the owner key) manages keys: a key must not mint keys, or a
leaked write key could make itself as many successors as it likes.
"""

from __future__ import annotations

from typing import Any

from sequenzia.api.router import ApiError, Call, Route
from sequenzia.authware import keys
from sequenzia.authware.access import OWNER, Identity

SCOPES = ("read", "write")  # never admin: admin is the owner key's alone
KINDS = ("static", "api")
CREATE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
        "scope": {"type": "string", "enum": list(SCOPES), "default": "read"},
        "kind": {"type": "string", "enum": list(KINDS), "default": "static"},
    },
}


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "scope": row["scope"],
        "prefix": row["key_prefix"],
        "created_ts": row["created_ts"],
        "revoked_ts": row["revoked_ts"],
        "revoked": row["revoked_ts"] is not None,
    }


def may_manage_keys(who: Identity) -> bool:
    """A person logged in, or the owner key; never another key."""
    return who.via == "session" or (who.user_id == OWNER and who.scope == "admin")


class KeysApi:
    def __init__(self, database: Any) -> None:
        self._db = database

    def _manager(self, call: Call) -> Identity:
        who = call.who
        if not may_manage_keys(who):
            raise ApiError(
                403, "keys are managed from a login session (the Settings page), not with a key"
            )
        return who

    async def list_keys(self, call: Call) -> tuple[int, Any]:
        who = self._manager(call)
        rows = await self._db.runInteraction("keys.list", keys.keys_of, who.user_id)
        return 200, {"keys": [shown(r) for r in rows]}

    async def create(self, call: Call) -> tuple[int, Any]:
        who = self._manager(call)
        body = call.body()
        name, scope, kind = body.get("name"), body.get("scope", "read"), body.get("kind", "static")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ApiError(400, "'name' must be 1 to 100 characters, not all spaces")
        if scope not in SCOPES:
            raise ApiError(400, f"'scope' must be one of {', '.join(SCOPES)}")
        if kind not in KINDS:
            raise ApiError(400, f"'kind' must be one of {', '.join(KINDS)}")
        secret = keys.new_key()
        key_id = await self._db.runInteraction(
            "keys.create", keys.register_key, secret,
            user_id=who.user_id, kind=kind, name=name.strip(), scope=scope,
        )  # fmt: skip
        rows = await self._db.runInteraction("keys.list", keys.keys_of, who.user_id)
        created = next(r for r in rows if r["id"] == key_id)
        call.response_headers["Location"] = f"/api/v1/keys/{key_id}"
        return 201, {"key": shown(created), "secret": secret}

    async def revoke(self, call: Call) -> tuple[int, Any]:
        who = self._manager(call)
        key_id = call.param_id("key_id")
        row = await self._db.runInteraction("keys.revoke", keys.revoke, who.user_id, key_id)
        if row is None:
            raise ApiError(404, f"you have no key {key_id}")
        return 200, {"key": shown(row)}

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/keys", self.list_keys, "read", "Your static and API keys (a login session or the owner key)"),
            Route("POST", "/keys", self.create, "write", "Create a key; the response holds it, shown this once", CREATE),
            Route("DELETE", "/keys/{key_id}", self.revoke, "write", "Revoke one of your keys (refused from its next request on)"),
        ]  # fmt: skip
