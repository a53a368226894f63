-- Resumable uploads (the upload API): a file being received in parts before it is handed to
-- Discord I/O. The MySQL twin is sql/mysql/002_uploads.sql.

CREATE TABLE uploads (
  id CHAR(32) NOT NULL PRIMARY KEY,
  user_id BIGINT,
  name VARCHAR(255) NOT NULL,
  size BIGINT NOT NULL,
  xxh3_128 CHAR(32) NOT NULL,
  channel_id BIGINT NOT NULL,
  server_id BIGINT NOT NULL,
  content TEXT,
  part_size BIGINT NOT NULL,
  part_count INT NOT NULL,
  state VARCHAR(16) NOT NULL,
  job_id BIGINT,
  eid BIGINT,
  error TEXT,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  expires_ts BIGINT NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (state, expires_ts);

CREATE TABLE upload_parts (
  upload_id CHAR(32) NOT NULL,
  idx INT NOT NULL,
  size BIGINT NOT NULL,
  xxh3_128 CHAR(32) NOT NULL,
  received_ts BIGINT NOT NULL,
  PRIMARY KEY (upload_id, idx)
);

-- The whole file's hash of a record's attachment when Sequenzia uploaded it (spanned files
-- keep theirs in spanned_files): downloads verify against it.
ALTER TABLE records ADD COLUMN xxh3_128 CHAR(32);
