-- One data key per data subject (customer), sealed by the master key. Deleting a row erases
-- every personal field ever stored for that subject (crypto-shredding). Not rebuildable.
CREATE TABLE subject_keys (
    subject_id uuid PRIMARY KEY,
    sealed_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Subjects whose key was deleted: new personal data for them is stored as erased, and the
-- compliance trail says when and why.
CREATE TABLE erased_subjects (
    subject_id uuid PRIMARY KEY,
    reason text NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now()
);
