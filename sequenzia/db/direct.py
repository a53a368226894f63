"""Running one interaction without the pool: for the CLI, which has no reactor running."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sequenzia.db.engines import engine_for
from sequenzia.db.pool import Txn
from sequenzia.db.url import DatabaseURL

T = TypeVar("T")


def run_interaction(url: DatabaseURL, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(txn, *args)` in one transaction on a connection of its own, committed."""
    engine = engine_for(url)
    conn = engine.connect()
    try:
        cursor = conn.cursor()
        result = func(Txn(cursor, engine), *args, **kwargs)
        conn.commit()
        return result
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
