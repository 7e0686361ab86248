-- 011_sent_mail.sql - the platform's sent mail, for [verp] mode = require.
--
-- DESIGN.md "Identifying the account": with mode = require, a bounce
-- changes an account only when it is certain to answer a mail the
-- platform sent: a signed VERP tag in the address it came back to, or a
-- matching sent Message-ID. The platform records here the Message-ID of
-- each mail it sends (without its angle brackets), once per recipient,
-- as a member of rebond_sender; a bounce whose returned original
-- carries that Message-ID, for that recipient, is as certain as a tag.
-- Message-IDs must be unguessable (a random part): a forger who knows
-- one could flag its recipient.
--
-- Each run drops rows older than 30 days (rebond.purge_sent_mail): a
-- bounce comes back within days (5 at most for a delayed one).

CREATE TABLE rebond.sent_mail (
	message_id	text NOT NULL
			CHECK (message_id <> '' AND message_id !~ '^<|>$'),
	recipient	text NOT NULL,
	sent_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (message_id, recipient)
);
CREATE INDEX sent_mail_sent_at_idx ON rebond.sent_mail (sent_at);

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles
	    WHERE rolname = 'rebond_sender') THEN
		BEGIN
			CREATE ROLE rebond_sender NOLOGIN;
		EXCEPTION
			WHEN duplicate_object OR unique_violation THEN
				NULL;	-- created meanwhile elsewhere
		END;
	END IF;
END $$;

GRANT USAGE ON SCHEMA rebond TO rebond_sender;
GRANT INSERT ON rebond.sent_mail TO rebond_sender;
GRANT SELECT ON rebond.sent_mail TO rebond_job, rebond_admin;

-- The job may not DELETE: it purges through this function.
CREATE FUNCTION rebond.purge_sent_mail(keep_days integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM rebond.sent_mail
	WHERE sent_at < now() - make_interval(days => keep_days);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION rebond.purge_sent_mail(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rebond.purge_sent_mail(integer) TO rebond_job;
