-- Sealed evidence leaves (danbao-leaf/v2, issue 8 item 10): the public log holds only a
-- commitment per event; the opening (the leaf's random key and the event it commits to)
-- is kept here, so the order's parties can be given it for as long as the record lasts.
-- It lives with the data it opens (and its backups) rather than in a key file: losing
-- it would leave every sealed leaf unprovable, and a reader of this database already
-- reads the events themselves. Insert-only, like the log.
CREATE TABLE evidence_openings (
    leaf_hash TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    opening TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TRIGGER evidence_openings_no_update BEFORE UPDATE ON evidence_openings
BEGIN
    SELECT RAISE(ABORT, 'evidence_openings is insert-only');
END;
CREATE TRIGGER evidence_openings_no_delete BEFORE DELETE ON evidence_openings
BEGIN
    SELECT RAISE(ABORT, 'evidence_openings is insert-only');
END;
