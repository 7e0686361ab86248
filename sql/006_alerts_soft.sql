-- 006_alerts_soft.sql - the login alert follows the problems that are
-- left; soft scores decay. Applied by `rebond migrate` in one
-- transaction; never edited once shipped.

-- A changed address starts ok: its state, its login alert and its open
-- problems go (as in 002). An alert that named it now names the other
-- address when that one still calls for an alert (hard before spam): a
-- dead primary stays flagged when the secondary is fixed, and the other
-- way round.
CREATE OR REPLACE FUNCTION rebond.accounts_reset_state() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	cleared boolean := false;
BEGIN
	IF lower(btrim(NEW.primary_email)) IS DISTINCT FROM
	    lower(btrim(OLD.primary_email)) THEN
		NEW.primary_state := 'ok';
		NEW.primary_state_since := NULL;
		IF lower(btrim(NEW.login_alert_address)) =
		    lower(btrim(OLD.primary_email)) THEN
			NEW.login_alert := NULL;
			NEW.login_alert_address := NULL;
			cleared := true;
		END IF;
	END IF;
	IF lower(btrim(NEW.secondary_email)) IS DISTINCT FROM
	    lower(btrim(OLD.secondary_email)) THEN
		NEW.secondary_state := 'ok';
		NEW.secondary_state_since := NULL;
		IF lower(btrim(NEW.login_alert_address)) =
		    lower(btrim(OLD.secondary_email)) THEN
			NEW.login_alert := NULL;
			NEW.login_alert_address := NULL;
			cleared := true;
		END IF;
	END IF;
	IF cleared THEN
		IF NEW.primary_state = 'hard' THEN
			NEW.login_alert := 'hard';
			NEW.login_alert_address := NEW.primary_email;
		ELSIF NEW.secondary_state = 'hard' THEN
			NEW.login_alert := 'hard';
			NEW.login_alert_address := NEW.secondary_email;
		ELSIF NEW.primary_state = 'spam' THEN
			NEW.login_alert := 'spam';
			NEW.login_alert_address := NEW.primary_email;
		ELSIF NEW.secondary_state = 'spam' THEN
			NEW.login_alert := 'spam';
			NEW.login_alert_address := NEW.secondary_email;
		END IF;
	END IF;
	RETURN NEW;
END $$;

-- The help page's decaying soft-bounce score: an address that is soft
-- and has had no transient failure for soft_window_days is ok again, and
-- its open soft problem is resolved ('soft_decayed'). Called by each
-- `rebond run` with [policy] soft_window_days; returns how many
-- addresses went back to ok.
CREATE FUNCTION rebond.decay_soft(soft_window_days integer,
    OUT decayed integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
BEGIN
	IF soft_window_days IS NULL OR soft_window_days < 1 THEN
		RAISE EXCEPTION 'decay_soft: days must be positive';
	END IF;
	WITH d AS (
		UPDATE public.accounts a
		SET primary_state = 'ok', primary_state_since = NULL
		WHERE a.primary_state = 'soft' AND NOT EXISTS (
		    SELECT 1 FROM rebond.events e
		    WHERE e.category = 'transient'
			AND e.recipient = lower(btrim(a.primary_email))
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
	SELECT count(*) INTO decayed FROM d;
	WITH d AS (
		UPDATE public.accounts a
		SET secondary_state = 'ok', secondary_state_since = NULL
		WHERE a.secondary_state = 'soft' AND NOT EXISTS (
		    SELECT 1 FROM rebond.events e
		    WHERE e.category = 'transient'
			AND e.recipient = lower(btrim(a.secondary_email))
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

REVOKE ALL ON FUNCTION rebond.decay_soft(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rebond.decay_soft(integer) TO rebond_job;
