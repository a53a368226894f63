"""Mirroring Discord into JuneFS: gateway events become index changes, in order.

The pool runs interactions concurrently; events must apply in the order Discord sent
them (a create before its delete), so each waits for the one before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from sequenzia.discordio.indexing import index_message
from sequenzia.junefs import store

Txn = Any


def _message_create(txn: Txn, d: dict[str, Any]) -> None:
    index_message(txn, d)


def _message_update(txn: Txn, d: dict[str, Any]) -> None:
    if "channel_id" in d and "author" in d and "attachments" in d:
        index_message(txn, d)
    else:
        store.update_record_fields(txn, d)


def _message_delete(txn: Txn, d: dict[str, Any]) -> None:
    store.delete_records(txn, [int(d["id"])])


def _message_delete_bulk(txn: Txn, d: dict[str, Any]) -> None:
    store.delete_records(txn, [int(i) for i in d.get("ids", [])])


def _channel_upsert(txn: Txn, d: dict[str, Any]) -> None:
    store.upsert_channel(txn, d)


def _channel_delete(txn: Txn, d: dict[str, Any]) -> None:
    store.delete_channel(txn, int(d["id"]))


def _member_update(txn: Txn, d: dict[str, Any]) -> None:
    user = d.get("user") or {}
    if user.get("id") and d.get("guild_id"):
        store.upsert_user(txn, user)
        store.set_member_roles(
            txn, int(d["guild_id"]), int(user["id"]), [int(r) for r in d.get("roles") or []]
        )


def _role_upsert(txn: Txn, d: dict[str, Any]) -> None:
    store.upsert_roles(txn, int(d["guild_id"]), [d["role"]])


def _guild(txn: Txn, d: dict[str, Any]) -> None:
    if not d.get("unavailable"):
        store.apply_guild(txn, d)


HANDLERS: dict[str, Callable[[Txn, dict[str, Any]], None]] = {
    "GUILD_CREATE": _guild,
    "GUILD_UPDATE": lambda txn, d: store.upsert_server(txn, d),
    "GUILD_ROLE_CREATE": _role_upsert,
    "GUILD_ROLE_UPDATE": _role_upsert,
    "GUILD_MEMBER_UPDATE": _member_update,
    "GUILD_MEMBER_REMOVE": lambda txn, d: store.remove_member(
        txn, int(d["guild_id"]), int((d.get("user") or {})["id"])
    ),
    "GUILD_ROLE_DELETE": lambda txn, d: store.delete_role(txn, int(d["role_id"])),
    "CHANNEL_CREATE": _channel_upsert,
    "CHANNEL_UPDATE": _channel_upsert,
    "CHANNEL_DELETE": _channel_delete,
    "THREAD_CREATE": _channel_upsert,
    "THREAD_UPDATE": _channel_upsert,
    "THREAD_DELETE": _channel_delete,
    "MESSAGE_CREATE": _message_create,
    "MESSAGE_UPDATE": _message_update,
    "MESSAGE_DELETE": _message_delete,
    "MESSAGE_DELETE_BULK": _message_delete_bulk,
}


class Mirror:
    """Applies gateway events to the database one after another."""

    log = Logger()

    def __init__(self, database: Any) -> None:
        self._database = database
        self._tail: defer.Deferred[None] = defer.succeed(None)
        self.applied = 0

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        handler = HANDLERS.get(name)
        if handler is None:
            return
        self._tail.addCallback(lambda _: self._apply(name, handler, data))

    def _apply(
        self, name: str, handler: Callable[[Txn, dict[str, Any]], None], data: dict[str, Any]
    ) -> defer.Deferred[None]:
        d = self._database.runInteraction(f"mirror.{name.lower()}", handler, data)

        def done(_: Any) -> None:
            self.applied += 1

        def failed(f: Any) -> None:
            # One bad event must not stop the mirror; reindexing repairs what it missed.
            self.log.failure("mirroring {event} failed", f, event=name)

        return d.addCallbacks(done, failed)

    def idle(self) -> defer.Deferred[None]:
        """Fires once every event received so far has been applied."""
        waiter: defer.Deferred[None] = defer.Deferred()
        self._tail.addCallback(lambda _: waiter.callback(None))
        return waiter
