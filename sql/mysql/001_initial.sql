-- Sequenzia schema v1 (MySQL 8 / MariaDB >= 10.11). The SQLite twin is
-- sql/sqlite/001_initial.sql: both must end with the same tables and columns.
-- Conventions: times are BIGINT milliseconds since the Unix epoch, named *_ts; Discord ids
-- (snowflakes) are BIGINT; flags are SMALLINT 0/1; InnoDB, utf8mb4, utf8mb4_unicode_ci
-- (accepted by both servers). A component owns its tables.

-- Discord guilds we index.
CREATE TABLE servers (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  short_name VARCHAR(32) NULL,
  icon VARCHAR(100) NULL,
  position INT NOT NULL DEFAULT 0,
  archive_channel_id BIGINT NULL,
  data_category_id BIGINT NULL,
  upload_limit BIGINT NULL,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Classes group channels in the sidebar (one class per channel).
CREATE TABLE classes (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  description TEXT NULL,
  icon VARCHAR(100) NULL,
  position INT NOT NULL DEFAULT 0,
  UNIQUE KEY classes_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Discord channels and categories: JuneFS folders.
CREATE TABLE channels (
  id BIGINT NOT NULL PRIMARY KEY,
  server_id BIGINT NOT NULL,
  parent_id BIGINT NULL,
  kind VARCHAR(16) NOT NULL,
  name VARCHAR(100) NOT NULL,
  topic TEXT NULL,
  position INT NOT NULL DEFAULT 0,
  class_id INT NULL,
  nsfw SMALLINT NOT NULL DEFAULT 0,
  perm_read VARCHAR(64) NULL,
  perm_write VARCHAR(64) NULL,
  perm_manage VARCHAR(64) NULL,
  is_data SMALLINT NOT NULL DEFAULT 0,
  deleted SMALLINT NOT NULL DEFAULT 0,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  FOREIGN KEY (server_id) REFERENCES servers (id),
  FOREIGN KEY (class_id) REFERENCES classes (id),
  KEY channels_server (server_id, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Virtual channels: named sets of channels shown as one folder.
CREATE TABLE virtual_channels (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  description TEXT NULL,
  position INT NOT NULL DEFAULT 0,
  UNIQUE KEY virtual_channels_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Which channels a virtual channel shows.
CREATE TABLE virtual_channel_members (
  virtual_id INT NOT NULL,
  channel_id BIGINT NOT NULL,
  PRIMARY KEY (virtual_id, channel_id),
  FOREIGN KEY (virtual_id) REFERENCES virtual_channels (id),
  KEY virtual_channel_members_channel (channel_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One stored item = one Discord message. eid is stable across moves; message_id changes.
CREATE TABLE records (
  eid BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  message_id BIGINT NOT NULL,
  channel_id BIGINT NOT NULL,
  server_id BIGINT NOT NULL,
  author_id BIGINT NULL,
  posted_ts BIGINT NOT NULL,
  edited_ts BIGINT NULL,
  indexed_ts BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  content TEXT NULL,
  nonce VARCHAR(64) NULL,
  pinned SMALLINT NOT NULL DEFAULT 0,
  attachment_id BIGINT NULL,
  attachment_name VARCHAR(255) NULL,
  attachment_size BIGINT NULL,
  content_type VARCHAR(127) NULL,
  width INT NULL,
  height INT NULL,
  avg_color INT NULL,
  url TEXT NULL,
  url_expires_ts BIGINT NULL,
  file_id CHAR(32) NULL,
  rand_key INT NOT NULL,
  UNIQUE KEY records_message (message_id),
  KEY records_channel_posted (channel_id, posted_ts),
  KEY records_posted (posted_ts),
  KEY records_rand (rand_key),
  KEY records_file (file_id),
  KEY records_nonce (nonce),
  KEY records_url_expiry (url_expires_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Files stored as parts in data channels plus a header message (the record).
CREATE TABLE spanned_files (
  id CHAR(32) NOT NULL PRIMARY KEY,
  eid BIGINT NULL,
  server_id BIGINT NULL,
  channel_id BIGINT NULL,
  header_message_id BIGINT NULL,
  name VARCHAR(255) NOT NULL,
  size BIGINT NULL,
  xxh3_128 CHAR(32) NULL,
  part_count INT NULL,
  part_size BIGINT NULL,
  state VARCHAR(16) NOT NULL,
  legacy SMALLINT NOT NULL DEFAULT 0,
  preview_url TEXT NULL,
  preview_expires_ts BIGINT NULL,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  KEY spanned_files_eid (eid),
  KEY spanned_files_state (state, updated_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The parts of spanned files: one attachment each, in a data channel.
CREATE TABLE file_parts (
  file_id CHAR(32) NOT NULL,
  idx INT NOT NULL,
  message_id BIGINT NOT NULL,
  channel_id BIGINT NOT NULL,
  attachment_id BIGINT NULL,
  size BIGINT NOT NULL,
  xxh3_128 CHAR(32) NULL,
  url TEXT NULL,
  url_expires_ts BIGINT NULL,
  PRIMARY KEY (file_id, idx),
  KEY file_parts_message (message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- People who log in (Discord users).
CREATE TABLE users (
  id BIGINT NOT NULL PRIMARY KEY,
  username VARCHAR(100) NOT NULL,
  global_name VARCHAR(100) NULL,
  avatar VARCHAR(100) NULL,
  is_admin SMALLINT NOT NULL DEFAULT 0,
  nsfw_enabled SMALLINT NOT NULL DEFAULT 0,
  created_ts BIGINT NOT NULL,
  last_login_ts BIGINT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Discord roles of the indexed guilds.
CREATE TABLE roles (
  id BIGINT NOT NULL PRIMARY KEY,
  server_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  position INT NOT NULL DEFAULT 0,
  color INT NOT NULL DEFAULT 0,
  KEY roles_server (server_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who has which role (mirrored from guild members).
CREATE TABLE user_roles (
  user_id BIGINT NOT NULL,
  role_id BIGINT NOT NULL,
  server_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, role_id),
  KEY user_roles_role (role_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Roles map to permission names; channels name the permission they need.
CREATE TABLE role_permissions (
  role_id BIGINT NOT NULL,
  permission VARCHAR(64) NOT NULL,
  PRIMARY KEY (role_id, permission),
  KEY role_permissions_permission (permission)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Browser sessions; id is the SHA-256 of the cookie's token, never the token.
CREATE TABLE sessions (
  id CHAR(64) NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  csrf_token CHAR(64) NOT NULL,
  created_ts BIGINT NOT NULL,
  expires_ts BIGINT NOT NULL,
  last_seen_ts BIGINT NOT NULL,
  ip VARCHAR(45) NULL,
  user_agent VARCHAR(255) NULL,
  KEY sessions_user (user_id),
  KEY sessions_expires (expires_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Static login keys and API keys: only a bcrypt hash is kept; the prefix finds the row.
CREATE TABLE static_keys (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  name VARCHAR(100) NOT NULL,
  key_prefix CHAR(12) NOT NULL,
  key_hash VARCHAR(100) NOT NULL,
  scope VARCHAR(32) NOT NULL DEFAULT 'read',
  created_ts BIGINT NOT NULL,
  last_used_ts BIGINT NULL,
  revoked_ts BIGINT NULL,
  UNIQUE KEY static_keys_prefix (key_prefix),
  KEY static_keys_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A user's favourite records.
CREATE TABLE favourites (
  user_id BIGINT NOT NULL,
  eid BIGINT NOT NULL,
  created_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, eid),
  KEY favourites_user_created (user_id, created_ts),
  KEY favourites_eid (eid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Albums of records, private or shared by token.
CREATE TABLE albums (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  owner_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  privacy VARCHAR(16) NOT NULL DEFAULT 'private',
  share_token CHAR(32) NULL,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  UNIQUE KEY albums_share (share_token),
  KEY albums_owner (owner_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Records in albums.
CREATE TABLE album_items (
  album_id INT NOT NULL,
  eid BIGINT NOT NULL,
  added_ts BIGINT NOT NULL,
  PRIMARY KEY (album_id, eid),
  FOREIGN KEY (album_id) REFERENCES albums (id),
  KEY album_items_eid (eid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What a user opened, newest last.
CREATE TABLE history (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  eid BIGINT NOT NULL,
  seen_ts BIGINT NOT NULL,
  KEY history_user_seen (user_id, seen_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every file access and every change: who, what, when, how many bytes, cache hit or miss.
CREATE TABLE audit_log (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ts BIGINT NOT NULL,
  user_id BIGINT NULL,
  key_id INT NULL,
  action VARCHAR(32) NOT NULL,
  eid BIGINT NULL,
  bytes BIGINT NULL,
  cache_hit SMALLINT NULL,
  ip VARCHAR(45) NULL,
  detail TEXT NULL,
  KEY audit_log_ts (ts),
  KEY audit_log_eid (eid),
  KEY audit_log_user (user_id, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The Discord I/O job journal: every write to Discord is a row here first.
CREATE TABLE io_jobs (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(32) NOT NULL,
  priority SMALLINT NOT NULL,
  state VARCHAR(16) NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key VARCHAR(128) NULL,
  attempts INT NOT NULL DEFAULT 0,
  max_attempts INT NOT NULL,
  not_before_ts BIGINT NOT NULL,
  last_error TEXT NULL,
  result TEXT NULL,
  claimed_by VARCHAR(128) NULL,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL,
  UNIQUE KEY io_jobs_idempotency (idempotency_key),
  KEY io_jobs_due (state, priority, not_before_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Named leases: which process is the one active writer.
CREATE TABLE leases (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  holder VARCHAR(128) NOT NULL,
  token CHAR(32) NOT NULL,
  acquired_ts BIGINT NOT NULL,
  expires_ts BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
