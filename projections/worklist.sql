-- Worklist read model: what a collection strategy scores about each customer, kept so that
-- ranking a whole portfolio is one query over one row per customer. A customer is on a list
-- on a day when something is overdue, or a follow-up or activity of theirs falls due that day
-- (or fell due and is still open). Rebuildable from events
-- (ledger-collect projections rebuild worklist). Nothing time-dependent is stored: days
-- overdue, the overdue amount on a day, recent broken promises, current dunning notices and
-- follow-ups still to come are computed at query time from the stored dates.

CREATE TABLE worklist_customers (
    id uuid PRIMARY KEY,
    number text NOT NULL,
    name text NOT NULL,
    segment text NOT NULL,
    currency text NOT NULL,                       -- amounts below are of items in this currency
    risk_class text NOT NULL,
    specialist text,                              -- NULL: unassigned
    -- Open items by due date: due_dates ascending and distinct, open_by_due[i] the open amount
    -- of the items due on or before due_dates[i] (running total). The overdue amount on day D
    -- is open_by_due[width_bucket(D - 1, due_dates)].
    due_dates date[] NOT NULL DEFAULT '{}',
    open_by_due numeric(18, 2)[] NOT NULL DEFAULT '{}',
    oldest_due date,                              -- due_dates[1]
    open_amount numeric(18, 2) NOT NULL DEFAULT 0,
    dunning_level integer NOT NULL DEFAULT 0,     -- highest of the open items
    broken_promises date[] NOT NULL,              -- days promises were valued broken, ascending
    open_disputes integer NOT NULL DEFAULT 0,
    disputed_amount numeric(18, 2) NOT NULL DEFAULT 0,  -- still disputed by the open ones
    follow_ups date[] NOT NULL DEFAULT '{}',      -- open customer-level follow-ups, ascending
    resubmitted_until date,                       -- the last of them: off the list while later
    tasks_from date                               -- the first open follow-up or activity (of
                                                  -- any kind): on the list from that day on
);

-- A specialist's (or the unassigned) customers with something overdue on a day.
CREATE INDEX worklist_customers_specialist_idx ON worklist_customers (specialist, oldest_due);

-- One row per invoice not cleared nor written off: what decides whether it is to be collected
-- on a day.
CREATE TABLE worklist_items (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    document_number text NOT NULL,
    currency text NOT NULL,
    due_date date NOT NULL,
    open_amount numeric(18, 2) NOT NULL,
    dunning_level integer NOT NULL,
    last_dunned_on date,                          -- a notice is current for N days after it
    promise_id uuid,                              -- its unconfirmed promise to pay, if any
    promised numeric(18, 2)                       -- what of that promise is still to be paid
);

-- Fully paid items stay until cleared (a reversed payment reopens them), but every reader
-- asks for open ones: six of seven rows at 100,000 customers are paid, so the index holds the
-- open ones only (a worklist page's query ran in 1.8 ms instead of 2.8).
CREATE INDEX worklist_items_customer_idx ON worklist_items (customer_id, due_date)
    WHERE open_amount > 0;

CREATE TABLE worklist_disputes (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    invoice_ids uuid[] NOT NULL,
    currency text NOT NULL,
    amount numeric(18, 2) NOT NULL,               -- still disputed
    active boolean NOT NULL                       -- open or in process
);

CREATE INDEX worklist_disputes_customer_idx ON worklist_disputes (customer_id) WHERE active;

CREATE TABLE worklist_follow_ups (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    invoice_ids uuid[] NOT NULL,                  -- empty: the whole customer
    follow_up_date date NOT NULL,
    open boolean NOT NULL
);

CREATE INDEX worklist_follow_ups_customer_idx ON worklist_follow_ups (customer_id) WHERE open;

-- One row per activity (a task for a specialist about a customer, due on a day): an open one
-- due on the day or before brings its customer onto the list.
CREATE TABLE worklist_activities (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    due_date date NOT NULL,
    open boolean NOT NULL
);

CREATE INDEX worklist_activities_customer_idx ON worklist_activities (customer_id) WHERE open;

-- Casework recorded for a customer on a business day (contacts, promises, disputes,
-- follow-ups, notes, emails), and by whom: the "processed today" marker.
CREATE TABLE worklist_processed (
    customer_id uuid NOT NULL,
    day date NOT NULL,
    actors text[] NOT NULL,
    events integer NOT NULL,
    PRIMARY KEY (customer_id, day)
);

CREATE INDEX worklist_processed_day_idx ON worklist_processed (day, customer_id);

-- What each stream added to the processed marks (casework events and their actors, by
-- business day) and to the broken promises (valuations by as-of day): when a stream is purged,
-- its customer's marks and broken promises are summed again from the streams still in the
-- store, as a rebuild has them.
CREATE TABLE worklist_stream_marks (
    stream_id uuid NOT NULL,
    day date NOT NULL,
    customer_id uuid NOT NULL,
    actors text[] NOT NULL,
    events integer NOT NULL,
    broken integer NOT NULL,
    PRIMARY KEY (stream_id, day)
);

CREATE INDEX worklist_stream_marks_customer_idx ON worklist_stream_marks (customer_id, day);

-- Rankings already computed: one per day and set of strategy versions asked for, kept in step
-- by the writer (every page rescores the customers it touched, in its own transaction) so that
-- a page of a list of 100,000 customers is an index range scan. A cache: dropped with the
-- model, built again by the first reader that needs it (under the model's lock, so that no
-- page of events falls between its build and its upkeep). Keys are stored negated so that the
-- ranking (score and overdue amount highest first, then oldest due date, then number) is one
-- ascending index order, and a cursor is a row comparison on it.
CREATE TABLE worklist_snapshots (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day date NOT NULL,
    strategies text NOT NULL,                     -- StrategySet.key
    built_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (day, strategies)
);

CREATE TABLE worklist_scores (
    snapshot integer NOT NULL,                    -- worklist_snapshots.id
    customer_id uuid NOT NULL,
    specialist text NOT NULL,                     -- '' for the unassigned (an equality keeps
                                                  -- the index order usable for them too)
    processed boolean NOT NULL,                   -- casework recorded on the snapshot's day
    neg_score integer NOT NULL,
    neg_overdue numeric(18, 2) NOT NULL,
    oldest_due date NOT NULL,
    number text NOT NULL,
    strategy smallint NOT NULL,                   -- position in StrategySet.all
    PRIMARY KEY (snapshot, customer_id)
);

CREATE INDEX worklist_scores_rank_idx
    ON worklist_scores (snapshot, specialist, neg_score, neg_overdue, oldest_due, number)
    INCLUDE (processed, customer_id, strategy);
CREATE INDEX worklist_scores_processed_idx
    ON worklist_scores (snapshot, specialist, neg_score, neg_overdue, oldest_due, number)
    INCLUDE (customer_id, strategy) WHERE processed;

-- The day's generated lists (DailyWorklist events): each segment's list of the day as its
-- current version has it (header and one row per customer), which the lists read on a day
-- that has generated lists. Lists of days long past are dropped as newer days are written:
-- such a day is ranked in the query again, as a day without generated lists.

CREATE TABLE daily_worklists (
    id uuid PRIMARY KEY,                       -- the DailyWorklist aggregate's
    segment text NOT NULL,
    day date NOT NULL,
    version integer NOT NULL,                  -- the generation now current, from 1
    strategy_code text NOT NULL,
    strategy_version integer NOT NULL,
    team boolean NOT NULL,                     -- false: the segment had no team
    present text[] NOT NULL,                   -- specialists present, the list dealt over
    absent text[] NOT NULL,                    -- specialists away that day
    substitutes text[] NOT NULL,               -- of absent[i]; null: nobody named
    people text[] NOT NULL,                    -- the version's owners and workers, by name
    customers integer NOT NULL,
    own integer NOT NULL,                      -- customers by where they went
    substitute integer NOT NULL,
    unassigned integer NOT NULL,
    owner_away integer NOT NULL,
    unplaced integer NOT NULL,
    generated_on date NOT NULL,
    generated_by text NOT NULL,
    generated_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX daily_worklists_day_idx ON daily_worklists (day, segment);

-- One row per customer of a current version: who works it (worker '' for nobody), why (kind:
-- own, substitute, unassigned, owner_away, unplaced; owner: its assigned specialist) and the
-- keys it was ranked by, stored as the worklist's rankings store them (negated: one ascending
-- index order, and a cursor is a row comparison on it).
CREATE TABLE daily_worklist_entries (
    segment text NOT NULL,
    day date NOT NULL,
    customer_id uuid NOT NULL,
    worker text NOT NULL,
    kind text NOT NULL,
    owner text,
    neg_score integer NOT NULL,
    neg_overdue numeric(18, 2) NOT NULL,
    oldest_due date NOT NULL,
    number text NOT NULL,
    PRIMARY KEY (segment, day, customer_id)
);

CREATE INDEX daily_worklist_entries_rank_idx
    ON daily_worklist_entries (day, worker, neg_score, neg_overdue, oldest_due, number)
    INCLUDE (customer_id, kind, owner, segment);
