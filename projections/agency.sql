-- Collection-agency read model: the criteria for a hand-over, the cases submitted to agencies
-- and, per item, whether an agency holds it (such items are never dunned). Rebuildable from the
-- AgencyCase and DunningSetup events (ledger-collect projections rebuild agency).

CREATE TABLE agency_criteria (
    id uuid PRIMARY KEY,                       -- one row
    minimum_amount numeric(18, 2) NOT NULL,
    days_overdue integer NOT NULL
);

CREATE TABLE agency_cases (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    agency text NOT NULL,
    status text NOT NULL,                      -- submitted, recalled, closed
    reported text,                             -- the agency's last status
    amount numeric(18, 2) NOT NULL,            -- open when submitted
    collected numeric(18, 2) NOT NULL,         -- payments the agency reported
    invoice_ids uuid[] NOT NULL,
    submitted_on date NOT NULL,
    submitted_by text NOT NULL,
    ended_on date                              -- recalled or closed
);

CREATE INDEX agency_cases_customer_idx ON agency_cases (customer_id, submitted_on);

CREATE TABLE agency_items (
    invoice_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,                     -- the latest case that took it
    customer_id uuid NOT NULL,
    status text NOT NULL                       -- the case's: submitted (held), recalled, closed
);
