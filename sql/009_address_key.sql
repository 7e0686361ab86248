-- 009_address_key.sql - one way to compare addresses, here and in
-- rebond's C code (core/strutil.h, addr_key): the ASCII white space
-- around an address trimmed, its ASCII letters lowercased, every other
-- byte as it is. Before, SQL compared lower(btrim(x)): btrim took spaces
-- only (a stored "ann@example.org<TAB>" matched no bounce), and lower()
-- folds non-ASCII capitals by the database's locale while rebond's C
-- code, which keys the recipients of bounces and signs VERP tags, folds
-- none (a bounce to "ÉLODIE@example.org" missed its account in a UTF-8
-- database). Applied by `rebond migrate` in one transaction; never
-- edited once shipped.

CREATE FUNCTION rebond.addr_key(address text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.translate(pg_catalog.btrim(address,
    E' \t\r\n\x0b\f'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    'abcdefghijklmnopqrstuvwxyz') $$;
-- (callable by everyone: the indexes below call it for whoever writes
-- to accounts)

-- The account lookup's indexes, by key. (Built in this transaction:
-- writes to accounts wait for them, seconds for a million rows.) 001's
-- indexes go only if they are 001's: a platform's own index that had
-- the name first (CREATE INDEX ON accounts (primary_email) is named so)
-- stays.
DO $$
DECLARE
	col text;
BEGIN
	FOREACH col IN ARRAY ARRAY['primary_email', 'secondary_email',
	    'pending_email'] LOOP
		IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i
		    WHERE i.indexrelid = pg_catalog.to_regclass(
			'public.accounts_' || col || '_idx')
			AND i.indrelid = 'public.accounts'::pg_catalog.regclass
			AND NOT i.indisunique AND i.indpred IS NULL
			AND i.indnatts = 1
			AND pg_catalog.pg_get_expr(i.indexprs, i.indrelid) =
			    'lower(btrim(' || col || '))') THEN
			EXECUTE pg_catalog.format('DROP INDEX public.%I',
			    'accounts_' || col || '_idx');
		END IF;
	END LOOP;
END $$;
CREATE INDEX accounts_primary_email_key_idx
	ON public.accounts (rebond.addr_key(primary_email));
CREATE INDEX accounts_secondary_email_key_idx
	ON public.accounts (rebond.addr_key(secondary_email));
CREATE INDEX accounts_pending_email_key_idx
	ON public.accounts (rebond.addr_key(pending_email));

-- The functions that compared addresses, the same but by key (bodies of
-- 006, 002, 002 and 008). The reset trigger now runs with the definer's
-- rights, as the other trigger does: whoever changes an address (the
-- platform's role too) needs no right on the rebond schema for the
-- key function.
CREATE OR REPLACE FUNCTION rebond.accounts_reset_state() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cleared boolean := false;
BEGIN
	IF rebond.addr_key(NEW.primary_email) IS DISTINCT FROM
	    rebond.addr_key(OLD.primary_email) THEN
		NEW.primary_state := 'ok';
		NEW.primary_state_since := NULL;
		IF rebond.addr_key(NEW.login_alert_address) =
		    rebond.addr_key(OLD.primary_email) THEN
			NEW.login_alert := NULL;
			NEW.login_alert_address := NULL;
			cleared := true;
		END IF;
	END IF;
	IF rebond.addr_key(NEW.secondary_email) IS DISTINCT FROM
	    rebond.addr_key(OLD.secondary_email) THEN
		NEW.secondary_state := 'ok';
		NEW.secondary_state_since := NULL;
		IF rebond.addr_key(NEW.login_alert_address) =
		    rebond.addr_key(OLD.secondary_email) THEN
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

CREATE OR REPLACE FUNCTION rebond.accounts_resolve_problems() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF rebond.addr_key(NEW.primary_email) IS DISTINCT FROM
	    rebond.addr_key(OLD.primary_email) THEN
		UPDATE rebond.problems SET resolved_at = now(),
		    resolution = 'primary_changed'
		WHERE account_id = NEW.id AND resolved_at IS NULL
		    AND role IN ('primary', 'invitation');
	END IF;
	IF rebond.addr_key(NEW.secondary_email) IS DISTINCT FROM
	    rebond.addr_key(OLD.secondary_email) THEN
		UPDATE rebond.problems SET resolved_at = now(),
		    resolution = 'secondary_changed'
		WHERE account_id = NEW.id AND resolved_at IS NULL
		    AND role = 'secondary';
	END IF;
	RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION rebond.confirm_primary_email(token text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ch rebond.email_changes%ROWTYPE;
BEGIN
	SELECT * INTO ch FROM rebond.email_changes c
	WHERE c.token_sha256 = encode(sha256(convert_to(
	    confirm_primary_email.token, 'UTF8')), 'hex')
	    AND c.status = 'pending'
	FOR UPDATE;
	IF NOT FOUND OR ch.deadline < now() THEN
		RETURN false;
	END IF;
	UPDATE public.accounts a SET primary_email = ch.new_email,
	    pending_email = NULL, pending_deadline = NULL
	WHERE a.id = ch.account_id
	    AND rebond.addr_key(a.pending_email) =
	    rebond.addr_key(ch.new_email);
	IF NOT FOUND THEN
		UPDATE rebond.email_changes c SET status = 'cancelled',
		    closed_at = now() WHERE c.id = ch.id;
		RETURN false;
	END IF;
	UPDATE rebond.email_changes c SET status = 'confirmed',
	    closed_at = now() WHERE c.id = ch.id;
	UPDATE rebond.problems p SET resolved_at = now(),
	    resolution = 'confirmed'
	WHERE p.account_id = ch.account_id AND p.role = 'pending'
	    AND p.resolved_at IS NULL;
	RETURN true;
END $$;

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
			AND e.recipient = rebond.addr_key(a.secondary_email)
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

-- The two triggers fire on every UPDATE that names an address column,
-- whatever its value: rebond's own batch update names secondary_email
-- (to clear a dead one) on every account it flags, and paid for two
-- trigger calls per account. Called now only when a raw value changed
-- (a change of key implies one; the functions still compare keys).
DROP TRIGGER accounts_reset_state ON public.accounts;
CREATE TRIGGER accounts_reset_state
	BEFORE UPDATE OF primary_email, secondary_email ON public.accounts
	FOR EACH ROW WHEN (OLD.primary_email IS DISTINCT FROM
	    NEW.primary_email OR OLD.secondary_email IS DISTINCT FROM
	    NEW.secondary_email)
	EXECUTE FUNCTION rebond.accounts_reset_state();
DROP TRIGGER accounts_resolve_problems ON public.accounts;
CREATE TRIGGER accounts_resolve_problems
	AFTER UPDATE OF primary_email, secondary_email ON public.accounts
	FOR EACH ROW WHEN (OLD.primary_email IS DISTINCT FROM
	    NEW.primary_email OR OLD.secondary_email IS DISTINCT FROM
	    NEW.secondary_email)
	EXECUTE FUNCTION rebond.accounts_resolve_problems();
