-- Dunning read model: the procedures and which one applies, blocks, and the letters issued with
-- what each did to its items, as the dunning proposal reads them. Rebuildable from the
-- DunningSetup, DunningLetter, Customer, Invoice and CollectionEmail events (ledger-collect
-- projections rebuild dunning). Open amounts, due dates, levels, promises and disputes are read
-- from the open_items model; contacts and emails from the customers and correspondence models.

CREATE TABLE dunning_procedures (
    id uuid PRIMARY KEY,                       -- derived from the code
    code text NOT NULL,
    definition jsonb NOT NULL,                 -- DunningProcedure.as_data()
    saved_on date NOT NULL,
    saved_by text NOT NULL
);

CREATE UNIQUE INDEX dunning_procedures_code_idx ON dunning_procedures (code);

-- Which procedure a segment follows; segment '' is the default.
CREATE TABLE dunning_assignments (
    id uuid PRIMARY KEY,                       -- derived from the segment
    segment text NOT NULL,
    code text NOT NULL
);

CREATE UNIQUE INDEX dunning_assignments_segment_idx ON dunning_assignments (segment);

-- Customers that follow a procedure of their own, whatever their segment's.
CREATE TABLE dunning_customer_procedures (
    customer_id uuid PRIMARY KEY,
    code text NOT NULL
);

-- Blocks in force or ended by date (a released block is deleted). It holds through
-- blocked_until (null: until released).
CREATE TABLE dunning_blocks (
    id uuid PRIMARY KEY,                       -- the customer's or the invoice's id
    kind text NOT NULL,                        -- customer, invoice
    customer_id uuid NOT NULL,
    reason text NOT NULL,                      -- personal data (free text)
    blocked_until date,
    blocked_on date NOT NULL,
    blocked_by text NOT NULL
);

CREATE INDEX dunning_blocks_customer_idx ON dunning_blocks (customer_id);

CREATE TABLE dunning_letters (
    id uuid PRIMARY KEY,
    email_id uuid NOT NULL,                    -- the collection email carrying it
    customer_id uuid NOT NULL,
    procedure text NOT NULL,
    currency text NOT NULL,
    kind text NOT NULL,                        -- reminder, dunning
    level integer NOT NULL,                    -- the highest level it announces
    invoice_ids uuid[] NOT NULL,               -- item n is element n of both arrays
    levels integer[] NOT NULL,
    amount numeric(18, 2) NOT NULL,
    fee numeric(18, 2) NOT NULL,
    interest numeric(18, 2) NOT NULL,
    issued_on date NOT NULL,
    issued_by text NOT NULL,
    status text NOT NULL,                      -- its email's: pending, sent, failed, partly_sent
    status_on date NOT NULL
);

CREATE UNIQUE INDEX dunning_letters_email_idx ON dunning_letters (email_id);
CREATE INDEX dunning_letters_customer_idx ON dunning_letters (customer_id, issued_on);

-- Per item, what its letters did: a letter awaiting delivery keeps it out of the next
-- proposal; a delivered one counts as its level and date even before the invoice shows them.
CREATE TABLE dunning_items (
    invoice_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    pending_letter_id uuid,                    -- a letter listing it, not delivered yet
    letter_level integer NOT NULL,             -- the highest level a delivered letter announced
    letter_on date,                            -- when the latest delivered dunning letter went
    reminded_on date                           -- when its pre-due reminder went
);
