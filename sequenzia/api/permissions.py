"""Administering who may do what: the permissions channels need and the roles that grant them.

GET /permissions                        every server's channels (with what they need) and roles
                                        (with what they grant)
PUT /channels/{id}/permissions          {read, write, manage}: a permission name each, or null
PUT /roles/{id}/permissions             {permissions: [names]}: what the role grants

Admins only (the owner key, or the session of a server owner or administrator). Roles and
channels come from Discord (the mirror keeps them); the mapping between them is ours.
"""

from __future__ import annotations

import re
from typing import Any

from sequenzia.api.router import ApiError, Call, Route
from sequenzia.authware.access import Authenticator

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
RIGHTS = ("read", "write", "manage")
MAX_PER_ROLE = 100

_NAME_SCHEMA = {"type": ["string", "null"], "pattern": NAME.pattern}
CHANNEL_BODY = {
    "type": "object",
    "properties": {right: _NAME_SCHEMA for right in RIGHTS},
    "additionalProperties": False,
}
ROLE_BODY = {
    "type": "object",
    "required": ["permissions"],
    "properties": {
        "permissions": {
            "type": "array",
            "maxItems": MAX_PER_ROLE,
            "items": {"type": "string", "pattern": NAME.pattern},
        }
    },
    "additionalProperties": False,
}


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ApiError(
            400,
            f"{what} must be a permission name (1 to 64 letters, digits, '_', '.', ':' or '-',"
            f" starting with a letter or digit), not {value!r}",
        )
    return value


def overview(txn: Any) -> list[dict[str, Any]]:
    txn.execute("SELECT id, name FROM servers ORDER BY position, id")
    servers = {int(r[0]): {"id": str(r[0]), "name": r[1], "channels": [], "roles": []}
               for r in txn.fetchall()}  # fmt: skip
    txn.execute(
        "SELECT id, server_id, name, kind, is_data, perm_read, perm_write, perm_manage"
        " FROM channels WHERE deleted = 0 AND kind IN ('text', 'news', 'thread', 'forum')"
        " ORDER BY server_id, position, id"
    )
    for cid, sid, name, kind, is_data, read, write, manage in txn.fetchall():
        if int(sid) in servers and not is_data:
            servers[int(sid)]["channels"].append(
                {"id": str(cid), "name": name, "kind": kind,
                 "read": read, "write": write, "manage": manage}
            )  # fmt: skip
    txn.execute("SELECT role_id, permission FROM role_permissions ORDER BY permission")
    granted: dict[int, list[str]] = {}
    for role_id, permission in txn.fetchall():
        granted.setdefault(int(role_id), []).append(str(permission))
    txn.execute("SELECT id, server_id, name FROM roles ORDER BY server_id, position DESC, id")
    for rid, sid, name in txn.fetchall():
        if int(sid) in servers:
            servers[int(sid)]["roles"].append(
                {"id": str(rid), "name": name, "permissions": granted.get(int(rid), [])}
            )
    return list(servers.values())


def set_channel(txn: Any, channel_id: int, needs: dict[str, str | None]) -> bool:
    txn.execute("SELECT 1 FROM channels WHERE id = ? AND deleted = 0", (channel_id,))
    if txn.fetchone() is None:
        return False
    txn.execute(
        "UPDATE channels SET perm_read = ?, perm_write = ?, perm_manage = ? WHERE id = ?",
        (needs["read"], needs["write"], needs["manage"], channel_id),
    )
    return True


def set_role(txn: Any, role_id: int, permissions: list[str]) -> bool:
    txn.execute("SELECT 1 FROM roles WHERE id = ?", (role_id,))
    if txn.fetchone() is None:
        return False
    txn.execute("DELETE FROM role_permissions WHERE role_id = ?", (role_id,))
    for permission in permissions:
        txn.execute(
            "INSERT INTO role_permissions (role_id, permission) VALUES (?, ?)",
            (role_id, permission),
        )
    return True


class PermissionsApi:
    def __init__(self, database: Any, authenticator: Authenticator) -> None:
        self._db = database
        self._auth = authenticator

    async def overview(self, call: Call) -> tuple[int, Any]:
        return 200, {"servers": await self._db.runInteraction("permissions", overview)}

    async def channel(self, call: Call) -> tuple[int, Any]:
        channel_id, body = call.param_id("channel_id"), call.body()
        unknown = sorted(set(body) - set(RIGHTS))
        if unknown:
            raise ApiError(
                400, f"unknown field {unknown[0]!r}; a channel needs read, write, manage"
            )
        needs = {
            right: None if body.get(right) is None else _name(body[right], f"'{right}'")
            for right in RIGHTS
        }
        if not await self._db.runInteraction("permissions.channel", set_channel, channel_id, needs):
            raise ApiError(404, f"there is no channel {channel_id}")
        self._auth.forget()
        return 200, {"channel_id": str(channel_id), **needs}

    async def role(self, call: Call) -> tuple[int, Any]:
        role_id, body = call.param_id("role_id"), call.body()
        raw = body.get("permissions")
        if not isinstance(raw, list) or len(raw) > MAX_PER_ROLE:
            raise ApiError(
                400, f"'permissions' must be a list of at most {MAX_PER_ROLE} permission names"
            )
        permissions = sorted({_name(p, "each of 'permissions'") for p in raw})
        if not await self._db.runInteraction("permissions.role", set_role, role_id, permissions):
            raise ApiError(404, f"there is no role {role_id}")
        self._auth.forget()
        return 200, {"role_id": str(role_id), "permissions": permissions}

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/permissions", self.overview, "admin", "Channels with the permissions they need, roles with those they grant"),
            Route("PUT", "/channels/{channel_id}/permissions", self.channel, "admin", "Set the permissions a channel needs to read, write and manage it (null: none)", CHANNEL_BODY),
            Route("PUT", "/roles/{role_id}/permissions", self.role, "admin", "Set the permissions a role grants", ROLE_BODY),
        ]  # fmt: skip
