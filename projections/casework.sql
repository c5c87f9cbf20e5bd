-- Casework read model: promises to pay, follow-ups (resubmissions) and activities, as the
-- customer overview and the casework lists show them. Rebuildable from their events
-- (ledger-collect projections rebuild casework). Free-text reasons, descriptions and notes are
-- personal data, served only through the API's personal-data guard.

CREATE TABLE promises (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    invoice_id uuid NOT NULL,
    document_number text NOT NULL,
    currency text NOT NULL,
    amount numeric(18, 2) NOT NULL,
    paid_amount numeric(18, 2) NOT NULL,       -- counted towards it (received in its window)
    promised_date date NOT NULL,
    tolerance_days integer NOT NULL,
    level integer NOT NULL,
    status text NOT NULL,                      -- open, in_process, kept, partially_kept,
                                               -- broken, withdrawn, closed
    replaces uuid,
    replaced_by uuid,
    contact_id uuid,                           -- the conversation it was made in
    issued_on date NOT NULL,
    issued_by text NOT NULL,
    ended_on date,                             -- business date it was valued, withdrawn, closed
    closed_reason text,                        -- why the system closed it
    withdrawal_reason text,                    -- personal data (free text)
    instalment_dates date[] NOT NULL,          -- instalment n is element n of each array
    instalment_amounts numeric[] NOT NULL,
    instalment_statuses text[] NOT NULL,
    instalment_covered numeric[] NOT NULL
);

CREATE INDEX promises_customer_idx ON promises (customer_id, promised_date);
CREATE INDEX promises_promised_date_idx ON promises (promised_date, id);
CREATE INDEX promises_status_idx ON promises (status, promised_date);

CREATE TABLE resubmissions (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    invoice_ids uuid[] NOT NULL,               -- empty: the whole customer
    follow_up_date date NOT NULL,
    reason text NOT NULL,                      -- personal data: why it was entered
    status text NOT NULL,                      -- open, completed
    moves integer NOT NULL,
    move_reason text,                          -- personal data: why it was last moved
    entered_on date NOT NULL,
    entered_by text NOT NULL,
    completed_on date
);

CREATE INDEX resubmissions_customer_idx ON resubmissions (customer_id, follow_up_date);
CREATE INDEX resubmissions_follow_up_idx ON resubmissions (follow_up_date, id);

CREATE TABLE activities (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    specialist text NOT NULL,
    due_date date NOT NULL,
    description text NOT NULL,                 -- personal data
    status text NOT NULL,                      -- open, closed
    created_on date NOT NULL,
    created_by text NOT NULL,
    closed_on date,
    closing_note text                          -- personal data
);

CREATE INDEX activities_customer_idx ON activities (customer_id, due_date);
CREATE INDEX activities_specialist_idx ON activities (specialist, status, due_date);
CREATE INDEX activities_due_idx ON activities (due_date, id);
