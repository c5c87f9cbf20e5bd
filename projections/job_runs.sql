-- Job runs read model: each run of a job (requested, its attempts, finished with counts or
-- failed), as the jobRuns / jobRun / scheduledJobs queries show them. Rebuildable from the
-- JobRun events (ledger-collect projections rebuild job_runs). A running job's progress is not
-- here: workers write it to job_progress (migrations/0010), read beside these rows.

CREATE TABLE job_runs (
    id uuid PRIMARY KEY,
    job text NOT NULL,
    run_key text NOT NULL,                     -- due time, business date or manual:<uuid>
    trigger text NOT NULL,                     -- scheduled, catch-up, manual
    status text NOT NULL,                      -- requested, running, retrying, finished, failed
    requested_by text NOT NULL,
    business_date date NOT NULL,               -- the day the job runs for
    requested_at timestamptz NOT NULL,         -- record times of the events
    started_at timestamptz,                    -- the first attempt's start
    attempt_started_at timestamptz,            -- the latest attempt's start
    ended_at timestamptz,                      -- finished, or failed for good
    attempts integer NOT NULL,
    worker text,                               -- host:pid:thread of the latest attempt
    counts jsonb NOT NULL,                     -- [["valued", 12], ["broken", 3]], in order
    error text,                                -- the latest failure (worker's exception text)
    failures jsonb NOT NULL                    -- [{"attempt", "error", "final", "at"}], in order
);

CREATE INDEX job_runs_requested_idx ON job_runs (requested_at, id);
CREATE INDEX job_runs_job_idx ON job_runs (job, requested_at);
CREATE INDEX job_runs_status_idx ON job_runs (status, requested_at);
