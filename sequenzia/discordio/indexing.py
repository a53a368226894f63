"""Putting one Discord message into the index: JuneFS record, plus part or header rows.

The one entry point the live mirror, job results and reindexing share.
"""

from __future__ import annotations

from typing import Any

from sequenzia.junefs import store
from sequenzia.junefs.messages import read_message
from sequenzia.spans import store as spans


def index_message(txn: Any, message: dict[str, Any], server_id: int | None = None) -> int:
    """Record a message (Discord's JSON); returns its eid."""
    view = read_message(message)
    eid = store.upsert_record(txn, view, server_id)
    if view.part is not None:
        spans.upsert_part(txn, view)
    elif view.header is not None:
        spans.upsert_header(txn, view, eid)
    return eid
