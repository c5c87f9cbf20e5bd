-- Timeline (contact history) read model: one row per thing that happened with a customer.
-- Rebuildable from events (ledger-collect projections rebuild timeline).
--
-- Order. Newest first is (occurred DESC, recorded_at DESC, seq DESC): the business date, then
-- the record time, then `seq`, the row's place among the events this model has read, in log
-- order (the n-th row written is seq n, in every build of the model, so cursors stay valid
-- across a rebuild).
--
-- Personal data. `description` never holds any: amounts, dates, document numbers, codes.
-- What a person wrote or is called (note texts, conversation summaries, reasons, email
-- addresses) is kept apart in `personal`, so that the API serves it only through the
-- personal-data guard, and an erasure can blank it: UPDATE timeline SET personal = '[erased]'
-- WHERE customer_id = … (a rebuild after the customer's key is deleted gives the same).

CREATE TABLE timeline (
    seq bigint PRIMARY KEY,
    customer_id uuid NOT NULL,
    occurred date NOT NULL,                    -- business date (a conversation: its date)
    recorded_at timestamptz NOT NULL,          -- the event's timestamp
    type text NOT NULL,                        -- invoice, payment, credit_memo, reversal, clearing,
                                               -- write_off, reminder, contact, promise, dispute,
                                               -- resubmission, note, email, activity
    event text NOT NULL,                       -- what happened to it: posted, kept, moved, ...
    actor text NOT NULL,
    description text NOT NULL,
    amount numeric(18, 2),
    currency text,
    personal text,
    object_id uuid NOT NULL,                   -- the record: invoice, promise, dispute, ...
    object_version integer NOT NULL,           -- the event's version in that record's stream
    UNIQUE (object_id, object_version)
);

CREATE INDEX timeline_customer_idx ON timeline (customer_id, occurred DESC, recorded_at DESC,
                                                seq DESC);

-- What later events of a record do not repeat, remembered from its first event.
CREATE TABLE timeline_customers (
    id uuid PRIMARY KEY,
    segment text NOT NULL                      -- decides who sees the personal parts
);

CREATE TABLE timeline_invoices (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    document_number text NOT NULL,
    currency text NOT NULL
);

CREATE TABLE timeline_promises (
    id uuid PRIMARY KEY,
    document_number text NOT NULL,
    amount numeric(18, 2) NOT NULL,
    currency text NOT NULL
);

CREATE TABLE timeline_disputes (
    id uuid PRIMARY KEY,
    currency text NOT NULL
);
