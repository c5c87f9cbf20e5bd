-- How far the attempt under way of a job run has got: written by the worker running it, at most
-- about once a second (the first and the last figures always), on a connection of its own, and
-- read beside the job_runs read model (jobRun.progress, `ledger-collect jobs run`). A tick is
-- no fact worth an event; the run's events keep what it did. One row per run, the latest
-- attempt's; it stays after the run ends, showing where it stopped.
CREATE TABLE job_progress (
    run_id uuid PRIMARY KEY,
    attempt integer NOT NULL,
    done bigint NOT NULL,
    total bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
