-- 008_locks.sql - what a review of 006 found: the soft-score decay and
-- the admin functions under concurrency, forged failures, reinvite.
-- Applied by `rebond migrate` in one transaction; never edited once
-- shipped.

-- decay_soft, again:
-- * The soft accounts are locked first, in id order (as a batch's
--   account lookup locks them), then updated by statements that start
--   after the lock: a batch of another mailbox that held one of them and
--   recorded a transient failure has committed by then, and the failure
--   is seen. (006 updated at once: an UPDATE that waits for a row sees
--   the row's new version but not the other tables, so the new failure
--   was missed and the fresh soft state reset.)
-- * Only failures applied to an account count: with [verp] mode =
--   require, forged (unverified) bounces are recorded without an
--   account, and must not keep an address soft.
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
			AND e.recipient = lower(btrim(a.primary_email))
			AND e.account_id IS NOT NULL
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
			AND e.recipient = lower(btrim(a.secondary_email))
			AND e.account_id IS NOT NULL
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

-- dismiss_problem, again: the account first, then its problem, the order
-- a run takes them in (its batch and decay_soft), so that an admin and a
-- run never wait for each other in a circle (a deadlock aborted one).
CREATE OR REPLACE FUNCTION rebond.dismiss_problem(problem_id bigint)
    RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p rebond.problems%ROWTYPE;
BEGIN
	PERFORM 1 FROM public.accounts a
	WHERE a.id = (SELECT q.account_id FROM rebond.problems q
	    WHERE q.id = dismiss_problem.problem_id)
	FOR UPDATE;
	UPDATE rebond.problems q SET resolved_at = now(),
	    resolution = 'dismissed'
	WHERE q.id = dismiss_problem.problem_id AND q.resolved_at IS NULL
	RETURNING * INTO p;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: no open problem %',
		    dismiss_problem.problem_id USING ERRCODE = 'P0002';
	END IF;
	IF p.role = 'primary' THEN
		UPDATE public.accounts a SET primary_state = 'ok',
		    primary_state_since = NULL
		WHERE a.id = p.account_id AND a.primary_state = p.category;
	ELSIF p.role = 'secondary' THEN
		UPDATE public.accounts a SET secondary_state = 'ok',
		    secondary_state_since = NULL
		WHERE a.id = p.account_id AND a.secondary_state = p.category;
	END IF;
END $$;

-- reinvite, again: the new invitation clears the primary's state and its
-- alert, not the secondary's: a dead secondary keeps the login alert
-- (hard before spam), as 006's trigger does for a changed primary.
CREATE OR REPLACE FUNCTION rebond.reinvite(account_id bigint, new_email text,
    valid_for interval DEFAULT '3 months') RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	addr text := btrim(new_email);
	expires timestamptz := now() + valid_for;
BEGIN
	IF NOT rebond.valid_address(addr) THEN
		RAISE EXCEPTION 'rebond.reinvite: invalid address %',
		    quote_nullable(new_email) USING ERRCODE = '22023';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'rebond.reinvite: valid_for must be positive'
		    USING ERRCODE = '22023';
	END IF;
	UPDATE public.accounts a SET status = 'invited', primary_email = addr,
	    primary_state = 'ok', primary_state_since = NULL,
	    login_alert = CASE WHEN a.secondary_state IN ('hard', 'spam')
		THEN a.secondary_state END,
	    login_alert_address = CASE WHEN a.secondary_state IN ('hard',
		'spam') THEN a.secondary_email END,
	    pending_email = NULL, pending_deadline = NULL,
	    invitation_expires_at = expires
	WHERE a.id = reinvite.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.reinvite: no account %',
		    reinvite.account_id USING ERRCODE = 'P0002';
	END IF;
	UPDATE rebond.email_changes c SET status = 'cancelled',
	    closed_at = now()
	WHERE c.account_id = reinvite.account_id AND c.status = 'pending';
	UPDATE rebond.problems p SET resolved_at = now(),
	    resolution = 'reinvited'
	WHERE p.account_id = reinvite.account_id AND p.resolved_at IS NULL
	    AND p.role IN ('primary', 'pending', 'invitation');
	INSERT INTO rebond.outbox (account_id, channel, destination, template,
	    params)
	VALUES (reinvite.account_id, 'email', addr, 'invitation',
	    jsonb_build_object('address', addr,
	    'deadline', to_char(expires, 'DD/MM/YYYY')));
END $$;
