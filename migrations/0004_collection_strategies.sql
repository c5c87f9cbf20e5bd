-- Collection strategies: the rules that rank the worklist, held as data and versioned.
-- Durable (a supervisor's decision, not derived from events), so it lives here and not in
-- projections/. A strategy is a code with numbered versions; a version is never changed once
-- written (a change is a new version), so an old ranking can always be explained again.
-- One version is active per segment, and one default (segment NULL) ranks the customers of
-- segments without their own. The definition's format and its checks are in
-- src/ledger_collect/worklist_strategy.py.
CREATE TABLE collection_strategies (
    code text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]*$'),
    version integer NOT NULL CHECK (version > 0),
    segment text CHECK (segment <> ''),          -- NULL: the default strategy
    description text NOT NULL DEFAULT '',
    definition jsonb NOT NULL,                   -- {"dunning_notice_days", "recent_days", "rules"}
    active boolean NOT NULL DEFAULT false,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, version)
);

-- One active version per segment (and one default), and per code.
CREATE UNIQUE INDEX collection_strategies_active_segment
    ON collection_strategies ((coalesce(segment, ''))) WHERE active;
CREATE UNIQUE INDEX collection_strategies_active_code
    ON collection_strategies (code) WHERE active;

INSERT INTO collection_strategies (code, version, segment, description, definition, active,
                                   created_by)
VALUES ('default', 1, NULL,
        'Large and old overdue amounts first, then broken promises, repeated dunning and risk.',
        '{"dunning_notice_days": 14, "recent_days": 90, "rules": [
            {"name": "large overdue amount", "kind": "overdue_amount", "at_least": "10000.00", "points": 30},
            {"name": "overdue amount", "kind": "overdue_amount", "at_least": "1000.00", "points": 10},
            {"name": "long overdue", "kind": "days_overdue", "more_than": 90, "points": 25},
            {"name": "overdue over a month", "kind": "days_overdue", "more_than": 30, "points": 10},
            {"name": "broken promise", "kind": "broken_promises", "at_least": 1, "points": 30},
            {"name": "dunned twice or more", "kind": "dunning_level", "at_least": 2, "points": 15},
            {"name": "high risk", "kind": "risk_class", "in": ["D", "E"], "points": 20},
            {"name": "open dispute", "kind": "open_disputes", "at_least": 1, "points": 5}
        ]}'::jsonb,
        true, 'migration');
