-- Resumable uploads (the upload API): a file being received in parts before it is handed to
-- Discord I/O. The SQLite twin is sql/sqlite/002_uploads.sql.

CREATE TABLE uploads (
  id CHAR(32) NOT NULL PRIMARY KEY,
  user_id BIGINT NULL,
  name VARCHAR(255) NOT NULL,
  size BIGINT NOT NULL,
  xxh3_128 CHAR(32) NOT NULL,
  channel_id BIGINT NOT NULL,
  server_id BIGINT NOT NULL,
  content TEXT NULL,
  part_size BIGINT NOT NULL,
  part_count INT NOT NULL,
  state VARCHAR(16) NOT NULL,
  job_id BIGINT NULL,
  eid BIGINT NULL,
  error TEXT NULL,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  expires_ts BIGINT NOT NULL,
  KEY uploads_expiry (state, expires_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE upload_parts (
  upload_id CHAR(32) NOT NULL,
  idx INT NOT NULL,
  size BIGINT NOT NULL,
  xxh3_128 CHAR(32) NOT NULL,
  received_ts BIGINT NOT NULL,
  PRIMARY KEY (upload_id, idx)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The whole file's hash of a record's attachment when Sequenzia uploaded it (spanned files
-- keep theirs in spanned_files): downloads verify against it.
ALTER TABLE records ADD COLUMN xxh3_128 CHAR(32) NULL;
