-- What each of a user's displays (ADS picture frames, DWS wallpapers) has shown, for the
-- gallery's shown=1|0 and display= filters and for ADS to avoid recent repeats. One row per
-- display and record, with the last time it was shown. The SQLite twin is
-- sql/sqlite/004_display_history.sql.
CREATE TABLE display_history (
  user_id BIGINT NOT NULL,
  display VARCHAR(64) NOT NULL,
  eid BIGINT NOT NULL,
  shown_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, display, eid),
  KEY display_history_eid (eid, user_id),
  KEY display_history_shown (user_id, display, shown_ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
