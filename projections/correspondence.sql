-- Correspondence read model: collection emails and customer contacts (conversations), as the
-- customer overview shows them, and the email templates saved (latest version of each). Rebuildable from their events (ledger-collect projections
-- rebuild correspondence). Addresses, delivery errors, summaries and notes are personal data,
-- served only through the API's personal-data guard.

CREATE TABLE collection_emails (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    template text NOT NULL,
    status text NOT NULL,                      -- pending, sent, failed, partly_sent
    attempt integer NOT NULL,
    recipients jsonb NOT NULL,                 -- personal data: {"to": [...], "cc": [...],
                                               -- "bcc": [...]} of the latest attempt
    attachments jsonb NOT NULL,                -- file names
    zipped boolean NOT NULL,
    contact_id uuid,                           -- the conversation it sums up
    last_error text,                           -- personal data (quotes addresses)
    failures jsonb,                            -- personal data: address -> error (partly sent)
    created_on date NOT NULL,
    created_by text NOT NULL,
    status_on date NOT NULL,                   -- business date of the latest status
    language text NOT NULL,                    -- of the template it is composed from
    level integer                              -- a dunning letter's level
);

CREATE INDEX collection_emails_customer_idx ON collection_emails (customer_id, created_on);

CREATE TABLE customer_contacts (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    contact_person_id text,                    -- the collection contact reached, if any
    channel text NOT NULL,
    result text NOT NULL,
    specialist text NOT NULL,
    summary text,                              -- personal data
    notes text,                                -- personal data
    contact_date date NOT NULL,
    recorded_on date NOT NULL,
    recorded_by text NOT NULL,
    promise_ids uuid[] NOT NULL,               -- what came out of the conversation
    dispute_ids uuid[] NOT NULL,
    resubmission_ids uuid[] NOT NULL
);

CREATE INDEX customer_contacts_customer_idx ON customer_contacts (customer_id, contact_date);
CREATE INDEX customer_contacts_specialist_idx ON customer_contacts (specialist, contact_date);

CREATE TABLE email_templates (
    id uuid PRIMARY KEY,                       -- follows from key, language and level
    key text NOT NULL,
    language text NOT NULL,
    level integer,                             -- dunning letters: one template per level
    subject text NOT NULL,                     -- Jinja2 text, checked when saved
    body text NOT NULL,
    revision integer NOT NULL,                 -- versions saved so far (the latest shown)
    saved_by text NOT NULL,
    saved_on date NOT NULL
);
