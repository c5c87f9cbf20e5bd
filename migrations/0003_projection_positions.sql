-- Where each read model stands in the notification log. Written in the same transaction as the
-- read model's rows (exactly-once); not rebuildable, so it lives here and not in projections/.
-- `checksum` is that of projections/<name>.sql the tables were built from: when the file
-- changes, the model must be rebuilt before it is followed again.
CREATE TABLE projection_positions (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    checksum text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
