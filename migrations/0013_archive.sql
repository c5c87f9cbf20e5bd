-- The archive's index: which segments the signed manifest lists, and which streams each holds.
-- Durable, not rebuildable from events: once a stream is purged from the hot store, this is
-- where its events are found (the segments themselves live in the archive's storage).
CREATE TABLE archive_segments (
    segment_number integer PRIMARY KEY,
    sha256 text NOT NULL,               -- of the segment object as stored (compressed)
    previous_sha256 text NOT NULL,      -- the chain link: the previous segment's sha256
    event_count integer NOT NULL,
    stream_count integer NOT NULL,
    stored_bytes bigint NOT NULL,
    indexed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per stream and segment holding (a run of) its events.
CREATE TABLE archived_streams (
    stream_id uuid NOT NULL,
    segment_number integer NOT NULL REFERENCES archive_segments (segment_number),
    first_version bigint NOT NULL,
    last_version bigint NOT NULL,
    event_count integer NOT NULL,
    PRIMARY KEY (stream_id, segment_number)
);
CREATE INDEX archived_streams_segment ON archived_streams (segment_number);
