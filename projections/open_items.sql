-- Open items read model: one row per invoice, the disputes that cover invoices, and the
-- credits customers hold on account. Rebuildable from events (ledger-collect projections
-- rebuild open_items). Nothing time-dependent is stored: days overdue and aging buckets are
-- computed at query time from due_date, so they are never stale.

CREATE TABLE open_items (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    document_number text NOT NULL,
    currency text NOT NULL,
    amount numeric(18, 2) NOT NULL,
    paid_amount numeric(18, 2) NOT NULL,       -- payments still applied (reversals taken out)
    credited_amount numeric(18, 2) NOT NULL,   -- credit memos applied to the invoice
    open_amount numeric(18, 2) NOT NULL,       -- 0 once cleared or written off
    posting_date date NOT NULL,
    due_date date NOT NULL,
    status text NOT NULL,                      -- open, cleared, written_off
    closed_on date,                            -- business date of the clearing / write-off
    dunning_level integer NOT NULL,
    last_dunned_on date,
    promise_id uuid,                           -- the invoice's latest promise to pay
    promise_amount numeric(18, 2),
    promise_date date,
    promise_status text,                       -- open, in_process: unconfirmed; else its outcome
    promise_paid numeric(18, 2),               -- what counted towards it so far
    dispute_ids uuid[] NOT NULL,               -- every dispute ever opened over the invoice
    open_disputes integer NOT NULL,            -- of those, still open or in process
    disputed_amount numeric(18, 2) NOT NULL    -- their still-disputed amount on this invoice
);

CREATE INDEX open_items_customer_idx ON open_items (customer_id, due_date);
CREATE INDEX open_items_open_due_idx ON open_items (due_date) INCLUDE (customer_id, currency, open_amount)
    WHERE status = 'open' AND open_amount > 0;  -- OPEN_CONDITION: paid, uncleared items stay out

-- A dispute's still-disputed amount is spread over its invoices in the order they were named,
-- each taking at most what it has open (invoice_amounts: what each had open when the case was
-- opened, for an invoice the writer has no row of).
CREATE TABLE open_item_disputes (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    invoice_ids uuid[] NOT NULL,
    invoice_amounts numeric(18, 2)[] NOT NULL,
    currency text NOT NULL,
    reason text NOT NULL,
    processor text NOT NULL,
    status text NOT NULL,                      -- open, in_process, resolved, closed
    resolution text,                           -- accepted, rejected, written_off
    original_amount numeric(18, 2) NOT NULL,
    still_disputed numeric(18, 2) NOT NULL,
    opened_on date NOT NULL,
    resolved_on date,
    closed_on date
);

CREATE INDEX open_item_disputes_customer_idx ON open_item_disputes (customer_id);

-- Unapplied payments and credit memos on account.
CREATE TABLE customer_credits (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    kind text NOT NULL,                        -- unapplied_payment, credit_memo
    source_id text NOT NULL,
    amount numeric(18, 2) NOT NULL,
    currency text NOT NULL,
    document_date date NOT NULL
);

CREATE INDEX customer_credits_customer_idx ON customer_credits (customer_id, document_date);

-- Per customer and currency, what the supervisor's balance lists rank by: the open amount, the
-- number of open items, the oldest due date (all independent of the as-of date; the overdue
-- part is summed at query time for the rows listed). Kept by the writer for the customers a page
-- touched, so a list reads 20 rows of an index instead of grouping every open item.
CREATE TABLE customer_balances (
    customer_id uuid NOT NULL,
    currency text NOT NULL,
    open_amount numeric(18, 2) NOT NULL,
    items integer NOT NULL,
    oldest_due_date date NOT NULL,
    PRIMARY KEY (customer_id, currency)
);

CREATE INDEX customer_balances_top_idx ON customer_balances (open_amount DESC, customer_id, currency);
CREATE INDEX customer_balances_oldest_idx
    ON customer_balances (oldest_due_date, open_amount DESC, customer_id, currency);
