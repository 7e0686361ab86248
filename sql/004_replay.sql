-- 004_replay.sql - replay and operations (issue 5). Applied by
-- `rebond migrate` in one transaction; never edited once shipped.

-- What `rebond replay --rescore` found: a verdict of today's rules that
-- differs from the event recorded for the same recipient of the same
-- message (same digest and index). old_* NULL: no event was recorded for
-- that recipient; new_* NULL: today's rules find no such recipient.
-- Accounts are never changed by a rescore: this table is for the admins
-- and for whoever tunes the rules. The same difference is recorded once,
-- however often the folder is replayed.
CREATE TABLE rebond.rescores (
	id		bigserial PRIMARY KEY,
	rescored_at	timestamptz NOT NULL DEFAULT now(),
	version		text NOT NULL,	-- the rebond whose rules rescored
	digest		text NOT NULL,
	rcpt_index	integer NOT NULL,
	message_id	text,
	recipient	text,
	old_reason	text,
	old_category	text,
	old_rule	text,
	new_reason	text,
	new_category	text,
	new_rule	text,
	UNIQUE NULLS NOT DISTINCT (digest, rcpt_index, new_reason,
	    new_category, new_rule)
);

-- The run compares the folder's UIDVALIDITY with the last one recorded.
CREATE INDEX messages_mailbox_processed_idx
	ON rebond.messages (mailbox, processed_at);

-- The job records rescores, the admins read them (roles: 003_roles.sql).
GRANT SELECT, INSERT ON rebond.rescores TO rebond_job;
GRANT USAGE ON SEQUENCE rebond.rescores_id_seq TO rebond_job;
GRANT SELECT ON rebond.rescores TO rebond_admin;
