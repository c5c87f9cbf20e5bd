-- Personal data that legal retention still requires after its data subject's erasure, copied
-- out of the events before the customer's data key was deleted, and sealed with a key of its
-- own (subject uuid5(customer, 'restricted') in subject_keys): readable by auditors and
-- compliance only, and deleted when its retention ends (compliance.erasure.expire_restricted).
-- One row per personal field of an event. Not rebuildable: the events now read "[erased]".
CREATE TABLE restricted_personal_data (
    stream_id uuid NOT NULL,
    originator_version integer NOT NULL,
    field text NOT NULL,
    customer_id uuid NOT NULL,
    record_class text NOT NULL,                -- invoice, promise, dispute, email, ...
    topic text NOT NULL,                       -- the event's, e.g. ledger_collect.DisputeCase.NoteAdded
    sealed bytea NOT NULL,                     -- nonce + AES-GCM of the value's JSON
    retained_until date,                       -- null: the stream's trigger has not happened yet
    restricted_on date NOT NULL,
    PRIMARY KEY (stream_id, originator_version, field)
);

CREATE INDEX restricted_personal_data_customer_idx ON restricted_personal_data (customer_id);
CREATE INDEX restricted_personal_data_until_idx ON restricted_personal_data (retained_until);
