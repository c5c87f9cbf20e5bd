-- Customer directory read model: master data, assignment, collection contacts and notes, as the
-- customer overview and the customer search show them. Rebuildable from the Customer events
-- (ledger-collect projections rebuild customers). Contact names, emails, phones and note texts
-- are personal data: the API serves them only through its personal-data guard, and erasing a
-- customer's key followed by a rebuild leaves them reading "[erased]".

CREATE TABLE customers (
    id uuid PRIMARY KEY,
    number text NOT NULL,
    name text NOT NULL,
    number_key text NOT NULL,                  -- number and name folded for search (case,
    name_key text NOT NULL,                    -- accents): see records.search_key
    segment text NOT NULL,
    specialist text,                           -- null: unassigned
    head_office_id uuid,                       -- null: a head office or a stand-alone customer
    credit_limit numeric(18, 2) NOT NULL,
    currency text NOT NULL,
    risk_class text NOT NULL,
    default_contact_id text,
    registered_on date NOT NULL,
    changed_on date NOT NULL,                  -- the last change: business date, actor and
    changed_by text NOT NULL,                  -- record time of the customer's latest event
    changed_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX customers_number_idx ON customers (number);
CREATE INDEX customers_number_key_idx ON customers (number_key COLLATE "C");
CREATE INDEX customers_name_key_idx ON customers (name_key COLLATE "C");
CREATE INDEX customers_segment_idx ON customers (segment, number);
CREATE INDEX customers_specialist_idx ON customers (specialist, number);
CREATE INDEX customers_head_office_idx ON customers (head_office_id, number)
    WHERE head_office_id IS NOT NULL;

-- The people to contact at a customer. Removed ones stay (removed_on set) so that conversations
-- held with them still name them; the overview lists only current ones.
CREATE TABLE contact_persons (
    id uuid PRIMARY KEY,                       -- derived from customer id and contact id
    customer_id uuid NOT NULL,
    contact_id text NOT NULL,
    name text NOT NULL,
    email text,
    phone text,
    role text,
    ordinal integer NOT NULL,                  -- customer event version that added it: order
    removed_on date
);

CREATE UNIQUE INDEX contact_persons_customer_idx ON contact_persons (customer_id, contact_id);

CREATE TABLE customer_notes (
    id uuid PRIMARY KEY,                       -- derived from customer id and note id
    customer_id uuid NOT NULL,
    note_id text NOT NULL,
    text text NOT NULL,
    ordinal integer NOT NULL,
    written_on date NOT NULL,
    written_by text NOT NULL
);

CREATE INDEX customer_notes_customer_idx ON customer_notes (customer_id, ordinal);
