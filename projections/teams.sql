-- Teams read model: per collection segment its specialists and their absences, as the team
-- query shows them. Rebuildable from the Team events (ledger-collect projections rebuild
-- teams). The worklist generation reads the Team aggregate itself, not these rows.

CREATE TABLE team_members (
    id uuid PRIMARY KEY,                       -- derived from segment and specialist
    segment text NOT NULL,
    specialist text NOT NULL,
    joined_on date NOT NULL,
    left_on date                               -- null while a member
);

CREATE INDEX team_members_segment_idx ON team_members (segment, specialist);

CREATE TABLE team_absences (
    id uuid PRIMARY KEY,
    segment text NOT NULL,
    specialist text NOT NULL,
    first_day date NOT NULL,
    last_day date NOT NULL,
    substitute text,                           -- null: shared among those present
    recorded_on date NOT NULL,
    recorded_by text NOT NULL,
    cancelled_on date,                         -- cancelled, or the specialist left the team
    cancelled_by text
);

CREATE INDEX team_absences_segment_idx ON team_absences (segment, last_day);
