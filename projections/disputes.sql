-- Dispute cases read model: one row per case with its amounts tracked separately, and the
-- notes written on it, as the customer overview and the dispute list show them. Rebuildable
-- from the DisputeCase events (ledger-collect projections rebuild disputes). Notes are free
-- text, personal data, served only through the API's personal-data guard.

CREATE TABLE disputes (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    invoice_ids uuid[] NOT NULL,
    currency text NOT NULL,
    reason text NOT NULL,                      -- reason code: price, quantity, quality, ...
    processor text NOT NULL,
    status text NOT NULL,                      -- open, in_process, resolved, closed
    resolution text,                           -- accepted, rejected, written_off
    original_amount numeric(18, 2) NOT NULL,
    credited numeric(18, 2) NOT NULL,
    paid numeric(18, 2) NOT NULL,
    written_off numeric(18, 2) NOT NULL,
    still_disputed numeric(18, 2) NOT NULL,    -- original - credited - paid - written off
    notes integer NOT NULL,
    opened_on date NOT NULL,
    opened_by text NOT NULL,
    resolved_on date,
    closed_on date,
    changed_on date NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL
);

CREATE INDEX disputes_customer_idx ON disputes (customer_id, opened_on);
CREATE INDEX disputes_processor_idx ON disputes (processor, status, opened_on);
CREATE INDEX disputes_opened_idx ON disputes (opened_on, id);

CREATE TABLE dispute_notes (
    id uuid PRIMARY KEY,                       -- derived from dispute id and note id
    dispute_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    note_id text NOT NULL,
    text text NOT NULL,                        -- personal data
    ordinal integer NOT NULL,                  -- dispute event version: order of writing
    written_on date NOT NULL,
    written_by text NOT NULL
);

CREATE INDEX dispute_notes_dispute_idx ON dispute_notes (dispute_id, ordinal);
