"""The database layer: one connection pool, an engine per dialect, numbered migrations.

Public surface (other components use only this):
- `parse_database_url(url)` → `DatabaseURL` (sequenzia.db.url)
- `Database.from_url(url, ...)`: the async pool; `runInteraction(desc, func, *a, **kw)`
- `migrations.status(url)` / `migrations.upgrade(url)`: synchronous, for start-up and the CLI
"""

from sequenzia.db.url import DatabaseURL, DatabaseURLError, parse_database_url

__all__ = ["DatabaseURL", "DatabaseURLError", "parse_database_url"]
