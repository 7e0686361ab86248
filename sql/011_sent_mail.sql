-- 011_sent_mail.sql - the platform's sent mail, for [verp] mode = require;
-- soft scores count only the failures recorded for their account; and
-- "non prévenu" says so when a phone went unused for want of [sms].
--
-- DESIGN.md "Identifying the account": with mode = require, a bounce
-- changes an account only when it is certain to answer a mail the
-- platform sent: a signed VERP tag in the address it came back to, or a
-- matching sent Message-ID. The platform records here the Message-ID of
-- each mail it sends to one recipient (without its angle brackets), as
-- a member of rebond_sender, before it sends it; a bounce whose returned
-- original carries that Message-ID, for that recipient, is as certain as
-- a tag.
-- Message-IDs must be unguessable (a random part): a forger who knows
-- one could flag its recipient.
--
-- Each run drops rows older than 30 days (rebond.purge_sent_mail): a
-- bounce comes back within days (5 at most for a delayed one).

-- The role first, as 003 does for its two: several databases of one
-- cluster may migrate at once, and this session may find the role that
-- another has just created. Named by a GRANT in the very next statement,
-- it was then "role does not exist" (5 of 40 pairs of concurrent
-- migrations); with the table created in between, whose new locks make
-- the session read the catalogs afresh, 0 of 40.
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

CREATE TABLE rebond.sent_mail (
	-- One recipient per Message-ID: the Message-ID of a mail to several
	-- recipients is read by each of them, and cannot vouch for one.
	message_id	text PRIMARY KEY
			CHECK (message_id <> '' AND message_id !~ '^<|>$'),
	recipient	text NOT NULL,
	sent_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sent_mail_sent_at_idx ON rebond.sent_mail (sent_at);

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

-- decay_soft, again (009's): an address stays soft only for transient
-- failures recorded for its own account. A bounce applied to another
-- account (say by that account's own valid VERP tag, in a DSN naming
-- this address) said nothing of this one, and kept it from decaying.
CREATE OR REPLACE FUNCTION rebond.decay_soft(soft_window_days integer,
    OUT decayed integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ids bigint[];
	n integer;
BEGIN
	IF soft_window_days IS NULL OR soft_window_days < 1 THEN
		RAISE EXCEPTION 'decay_soft: days must be positive';
	END IF;
	SELECT array_agg(s.id) INTO ids FROM (
		SELECT a.id FROM public.accounts a
		WHERE a.primary_state = 'soft' OR a.secondary_state = 'soft'
		ORDER BY a.id FOR UPDATE) s;
	decayed := 0;
	IF ids IS NULL THEN
		RETURN;
	END IF;
	WITH d AS (
		UPDATE public.accounts a
		SET primary_state = 'ok', primary_state_since = NULL
		WHERE a.id = ANY(ids) AND a.primary_state = 'soft' AND
		    NOT EXISTS (
		    SELECT 1 FROM rebond.events e
		    WHERE e.category = 'transient'
			AND e.recipient = rebond.addr_key(a.primary_email)
			AND e.account_id = a.id
			AND e.occurred_at >= now() -
			    make_interval(days => soft_window_days))
		RETURNING a.id
	), r AS (
		UPDATE rebond.problems p
		SET resolved_at = now(), resolution = 'soft_decayed'
		FROM d
		WHERE p.account_id = d.id AND p.resolved_at IS NULL
		    AND p.category = 'soft'
		    AND p.role IN ('primary', 'invitation')
	)
	SELECT count(*) INTO n FROM d;
	decayed := decayed + n;
	WITH d AS (
		UPDATE public.accounts a
		SET secondary_state = 'ok', secondary_state_since = NULL
		WHERE a.id = ANY(ids) AND a.secondary_state = 'soft' AND
		    NOT EXISTS (
		    SELECT 1 FROM rebond.events e
		    WHERE e.category = 'transient'
			AND e.recipient = rebond.addr_key(a.secondary_email)
			AND e.account_id = a.id
			AND e.occurred_at >= now() -
			    make_interval(days => soft_window_days))
		RETURNING a.id
	), r AS (
		UPDATE rebond.problems p
		SET resolved_at = now(), resolution = 'soft_decayed'
		FROM d
		WHERE p.account_id = d.id AND p.resolved_at IS NULL
		    AND p.category = 'soft' AND p.role = 'secondary'
	)
	SELECT count(*) INTO n FROM d;
	decayed := decayed + n;
END $$;

-- A user with a phone, no other working address, and no [sms] command
-- configured: the admins read that the phone exists (no_channel said
-- "pas de téléphone").
INSERT INTO rebond.notify_reasons (reason, label) VALUES
('no_sms', 'pas d''autre adresse qui fonctionne ; un téléphone est connu, '
	'mais l''envoi de SMS n''est pas configuré ([sms] command)');
