-- Sequenzia schema v1 (SQLite). The MySQL/MariaDB twin is sql/mysql/001_initial.sql:
-- both must end with the same tables and columns (tests/db/test_schema.py checks it).
-- Conventions: times are BIGINT milliseconds since the Unix epoch, named *_ts; Discord ids
-- (snowflakes) are BIGINT; flags are SMALLINT 0/1; a component owns its tables and other
-- components use its functions, never its tables.

-- Discord guilds we index.
CREATE TABLE servers (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  short_name VARCHAR(32),
  icon VARCHAR(100),
  position INT NOT NULL DEFAULT 0,
  archive_channel_id BIGINT,
  data_category_id BIGINT,
  upload_limit BIGINT,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL
);

-- Classes group channels in the sidebar (one class per channel).
CREATE TABLE classes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(100) NOT NULL,
  description TEXT,
  icon VARCHAR(100),
  position INT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX classes_name ON classes (name);

-- Discord channels and categories: JuneFS folders.
CREATE TABLE channels (
  id BIGINT NOT NULL PRIMARY KEY,
  server_id BIGINT NOT NULL,
  parent_id BIGINT,
  kind VARCHAR(16) NOT NULL,
  name VARCHAR(100) NOT NULL,
  topic TEXT,
  position INT NOT NULL DEFAULT 0,
  class_id INT,
  nsfw SMALLINT NOT NULL DEFAULT 0,
  perm_read VARCHAR(64),
  perm_write VARCHAR(64),
  perm_manage VARCHAR(64),
  is_data SMALLINT NOT NULL DEFAULT 0,
  deleted SMALLINT NOT NULL DEFAULT 0,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  FOREIGN KEY (server_id) REFERENCES servers (id),
  FOREIGN KEY (class_id) REFERENCES classes (id)
);

CREATE INDEX channels_server ON channels (server_id, position);

-- Virtual channels: named sets of channels shown as one folder.
CREATE TABLE virtual_channels (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(100) NOT NULL,
  description TEXT,
  position INT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX virtual_channels_name ON virtual_channels (name);

-- Which channels a virtual channel shows.
CREATE TABLE virtual_channel_members (
  virtual_id INT NOT NULL,
  channel_id BIGINT NOT NULL,
  PRIMARY KEY (virtual_id, channel_id),
  FOREIGN KEY (virtual_id) REFERENCES virtual_channels (id)
);

CREATE INDEX virtual_channel_members_channel ON virtual_channel_members (channel_id);

-- One stored item = one Discord message. eid is stable across moves; message_id changes.
CREATE TABLE records (
  eid INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id BIGINT NOT NULL,
  channel_id BIGINT NOT NULL,
  server_id BIGINT NOT NULL,
  author_id BIGINT,
  posted_ts BIGINT NOT NULL,
  edited_ts BIGINT,
  indexed_ts BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  content TEXT,
  nonce VARCHAR(64),
  pinned SMALLINT NOT NULL DEFAULT 0,
  attachment_id BIGINT,
  attachment_name VARCHAR(255),
  attachment_size BIGINT,
  content_type VARCHAR(127),
  width INT,
  height INT,
  avg_color INT,
  url TEXT,
  url_expires_ts BIGINT,
  file_id CHAR(32),
  rand_key INT NOT NULL
);

CREATE UNIQUE INDEX records_message ON records (message_id);

CREATE INDEX records_channel_posted ON records (channel_id, posted_ts);

CREATE INDEX records_posted ON records (posted_ts);

CREATE INDEX records_rand ON records (rand_key);

CREATE INDEX records_file ON records (file_id);

CREATE INDEX records_nonce ON records (nonce);

CREATE INDEX records_url_expiry ON records (url_expires_ts);

-- Files stored as parts in data channels plus a header message (the record).
CREATE TABLE spanned_files (
  id CHAR(32) NOT NULL PRIMARY KEY,
  eid BIGINT,
  server_id BIGINT,
  channel_id BIGINT,
  header_message_id BIGINT,
  name VARCHAR(255) NOT NULL,
  size BIGINT,
  xxh3_128 CHAR(32),
  part_count INT,
  part_size BIGINT,
  state VARCHAR(16) NOT NULL,
  legacy SMALLINT NOT NULL DEFAULT 0,
  preview_url TEXT,
  preview_expires_ts BIGINT,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL
);

CREATE INDEX spanned_files_eid ON spanned_files (eid);

CREATE INDEX spanned_files_state ON spanned_files (state, updated_ts);

-- The parts of spanned files: one attachment each, in a data channel.
CREATE TABLE file_parts (
  file_id CHAR(32) NOT NULL,
  idx INT NOT NULL,
  message_id BIGINT NOT NULL,
  channel_id BIGINT NOT NULL,
  attachment_id BIGINT,
  size BIGINT NOT NULL,
  xxh3_128 CHAR(32),
  url TEXT,
  url_expires_ts BIGINT,
  PRIMARY KEY (file_id, idx)
);

CREATE INDEX file_parts_message ON file_parts (message_id);

-- People who log in (Discord users).
CREATE TABLE users (
  id BIGINT NOT NULL PRIMARY KEY,
  username VARCHAR(100) NOT NULL,
  global_name VARCHAR(100),
  avatar VARCHAR(100),
  is_admin SMALLINT NOT NULL DEFAULT 0,
  nsfw_enabled SMALLINT NOT NULL DEFAULT 0,
  created_ts BIGINT NOT NULL,
  last_login_ts BIGINT
);

-- Discord roles of the indexed guilds.
CREATE TABLE roles (
  id BIGINT NOT NULL PRIMARY KEY,
  server_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  position INT NOT NULL DEFAULT 0,
  color INT NOT NULL DEFAULT 0
);

CREATE INDEX roles_server ON roles (server_id);

-- Who has which role (mirrored from guild members).
CREATE TABLE user_roles (
  user_id BIGINT NOT NULL,
  role_id BIGINT NOT NULL,
  server_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, role_id)
);

CREATE INDEX user_roles_role ON user_roles (role_id);

-- Roles map to permission names; channels name the permission they need.
CREATE TABLE role_permissions (
  role_id BIGINT NOT NULL,
  permission VARCHAR(64) NOT NULL,
  PRIMARY KEY (role_id, permission)
);

CREATE INDEX role_permissions_permission ON role_permissions (permission);

-- Browser sessions; id is the SHA-256 of the cookie's token, never the token.
CREATE TABLE sessions (
  id CHAR(64) NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  csrf_token CHAR(64) NOT NULL,
  created_ts BIGINT NOT NULL,
  expires_ts BIGINT NOT NULL,
  last_seen_ts BIGINT NOT NULL,
  ip VARCHAR(45),
  user_agent VARCHAR(255)
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE INDEX sessions_expires ON sessions (expires_ts);

-- Static login keys and API keys: only a bcrypt hash is kept; the prefix finds the row.
CREATE TABLE static_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  name VARCHAR(100) NOT NULL,
  key_prefix CHAR(12) NOT NULL,
  key_hash VARCHAR(100) NOT NULL,
  scope VARCHAR(32) NOT NULL DEFAULT 'read',
  created_ts BIGINT NOT NULL,
  last_used_ts BIGINT,
  revoked_ts BIGINT
);

CREATE UNIQUE INDEX static_keys_prefix ON static_keys (key_prefix);

CREATE INDEX static_keys_user ON static_keys (user_id);

-- A user's favourite records.
CREATE TABLE favourites (
  user_id BIGINT NOT NULL,
  eid BIGINT NOT NULL,
  created_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, eid)
);

CREATE INDEX favourites_user_created ON favourites (user_id, created_ts);

CREATE INDEX favourites_eid ON favourites (eid);

-- Albums of records, private or shared by token.
CREATE TABLE albums (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  privacy VARCHAR(16) NOT NULL DEFAULT 'private',
  share_token CHAR(32),
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL
);

CREATE UNIQUE INDEX albums_share ON albums (share_token);

CREATE INDEX albums_owner ON albums (owner_id);

-- Records in albums.
CREATE TABLE album_items (
  album_id INT NOT NULL,
  eid BIGINT NOT NULL,
  added_ts BIGINT NOT NULL,
  PRIMARY KEY (album_id, eid),
  FOREIGN KEY (album_id) REFERENCES albums (id)
);

CREATE INDEX album_items_eid ON album_items (eid);

-- What a user opened, newest last.
CREATE TABLE history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  eid BIGINT NOT NULL,
  seen_ts BIGINT NOT NULL
);

CREATE INDEX history_user_seen ON history (user_id, seen_ts);

-- Every file access and every change: who, what, when, how many bytes, cache hit or miss.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts BIGINT NOT NULL,
  user_id BIGINT,
  key_id INT,
  action VARCHAR(32) NOT NULL,
  eid BIGINT,
  bytes BIGINT,
  cache_hit SMALLINT,
  ip VARCHAR(45),
  detail TEXT
);

CREATE INDEX audit_log_ts ON audit_log (ts);

CREATE INDEX audit_log_eid ON audit_log (eid);

CREATE INDEX audit_log_user ON audit_log (user_id, ts);

-- The Discord I/O job journal: every write to Discord is a row here first.
CREATE TABLE io_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind VARCHAR(32) NOT NULL,
  priority SMALLINT NOT NULL,
  state VARCHAR(16) NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key VARCHAR(128),
  attempts INT NOT NULL DEFAULT 0,
  max_attempts INT NOT NULL,
  not_before_ts BIGINT NOT NULL,
  last_error TEXT,
  result TEXT,
  claimed_by VARCHAR(128),
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL
);

CREATE UNIQUE INDEX io_jobs_idempotency ON io_jobs (idempotency_key);

CREATE INDEX io_jobs_due ON io_jobs (state, priority, not_before_ts);

-- Named leases: which process is the one active writer.
CREATE TABLE leases (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  holder VARCHAR(128) NOT NULL,
  token CHAR(32) NOT NULL,
  acquired_ts BIGINT NOT NULL,
  expires_ts BIGINT NOT NULL
);

