-- Indexes the gallery needs over a large library (bench/gallery.py). The SQLite twin is
-- sql/sqlite/003_gallery_indexes.sql.

-- The sidebar's per-channel record counts (kind <> 'part') read this index alone instead
-- of every row of records.
CREATE INDEX records_channel_kind ON records (channel_id, kind);
