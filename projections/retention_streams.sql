-- Retention read model: what the retention policies need to know of every stream — its
-- record class, customer, disputes, the date its trigger happened (null until then) and the
-- date of its latest event — the date of each customer's own latest event, and the legal
-- holds. A customer's last activity is the latest of its own and its streams' (a view: a
-- purged stream's rows leave, its latest date stays with the customer's own, carried by the
-- purge event, so a rebuild, which never sees its events, agrees). Rebuildable from the events
-- (ledger-collect projections rebuild retention_streams); the compliance job reads it to find what is
-- due (compliance.retention.due_streams).

CREATE TABLE retention_streams (
    stream_id uuid PRIMARY KEY,
    record_class text NOT NULL,                -- invoice, credit, promise, dispute, ...
    customer_id uuid NOT NULL,
    invoice_id uuid,                           -- a promise's invoice
    dispute_ids uuid[] NOT NULL,               -- an invoice's disputes; a dispute: itself
    trigger_on date,                           -- cleared, closed or sent on; null: not yet
    open_amount numeric(18,2),                 -- an invoice's, to see it reach zero
    final boolean NOT NULL,                    -- the trigger can no longer be undone
    last_event_on date NOT NULL                -- the business date of its latest event
);

CREATE INDEX retention_streams_due_idx ON retention_streams (record_class, trigger_on);
CREATE INDEX retention_streams_customer_idx ON retention_streams (customer_id, record_class);
CREATE INDEX retention_streams_activity_idx ON retention_streams (customer_id, last_event_on);
CREATE INDEX retention_streams_invoice_idx ON retention_streams (invoice_id)
    WHERE invoice_id IS NOT NULL;

CREATE TABLE retention_customer_activity (
    customer_id uuid PRIMARY KEY,
    customer_activity date NOT NULL            -- the latest event of the Customer stream and
                                               -- of its purged streams (the purge carries it)
);

-- Each customer's last activity: the latest event of its own stream, of its streams still in
-- the store and of those purged.
CREATE VIEW retention_customers AS
    SELECT c.customer_id, greatest(c.customer_activity, (SELECT max(s.last_event_on)
        FROM retention_streams s WHERE s.customer_id = c.customer_id)) AS last_activity
    FROM retention_customer_activity c;

CREATE TABLE retention_holds (
    hold_id uuid PRIMARY KEY,                  -- the LegalHold aggregate
    subject_kind text NOT NULL,                -- customer or dispute
    subject_id uuid NOT NULL,
    reference text NOT NULL,                   -- the matter's reference (the latest)
    placed_on date NOT NULL,
    released_on date                           -- null while active
);

CREATE INDEX retention_holds_subject_idx ON retention_holds (subject_id);
