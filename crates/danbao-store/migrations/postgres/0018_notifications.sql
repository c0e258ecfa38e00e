-- Issue 15: an outbox of notifications (the seller reminded to deliver, the admins alerted
-- to an overdue case). Written in the transaction that decided to notify; a job delivers
-- each through the configured channel and records when and how, so none is lost or sent
-- twice by a crash between the decision and the sending.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    -- A user id, or a role as "role:admin".
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The order or complaint it is about.
    subject_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    channel TEXT
);
CREATE INDEX notifications_recipient ON notifications (recipient, created_at);
CREATE INDEX notifications_subject ON notifications (subject_id);
