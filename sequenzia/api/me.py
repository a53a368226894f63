"""`GET /api/v1/me`: who the caller is, and the CSRF token a page needs for its requests."""

from __future__ import annotations

from typing import Any

from sequenzia.api.router import Call, Route


class MeApi:
    def __init__(self, database: Any) -> None:
        self._db = database

    async def me(self, call: Call) -> tuple[int, Any]:
        who = call.who

        def user(txn: Any) -> dict[str, Any] | None:
            txn.execute("SELECT username, global_name FROM users WHERE id = ?", (who.user_id,))
            row = txn.fetchone()
            return {"username": row[0], "global_name": row[1]} if row else None

        body = {
            "user_id": str(who.user_id),
            "user": await self._db.runInteraction("me", user),
            "via": who.via,
            "scope": who.scope,
            "sees_everything": who.everything,
            "readable_channels": sorted(str(c) for c in who.readable),
        }
        if who.csrf_token:
            body["csrf_token"] = who.csrf_token
        return 200, body

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/me", self.me, "read", "Who the caller is (and a session's CSRF token)")
        ]
