-- The optional admin index: a global listing of every cold segment object, for cleanup
-- and operations. Stream objects write it in the background; nothing reads it on the
-- request path. Apply with: npx wrangler d1 migrations apply <database> [--local]
CREATE TABLE IF NOT EXISTS segments_admin (
    object_key TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL,
    incarnation INTEGER NOT NULL,
    read_seq INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    object_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS segments_admin_stream ON segments_admin (stream_id, incarnation, read_seq);
