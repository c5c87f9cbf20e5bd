-- A read model that cannot apply an event: what went wrong, at which event, since when and how
-- often it was tried again. The model keeps its position (the failing page rolled back) while the
-- other models go on; the projector retries it with a growing pause. The row goes when the
-- model's position passes the event (a fixed writer deployed, a rebuild, a transient error gone).
CREATE TABLE projection_failures (
    name text PRIMARY KEY,
    notification_id bigint,                       -- the event it failed at; NULL: not at an event
    error text NOT NULL,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    failed_at timestamptz NOT NULL DEFAULT now(), -- the latest attempt
    attempts integer NOT NULL DEFAULT 1
);
