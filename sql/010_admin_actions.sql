-- 010_admin_actions.sql - what a review of the admin functions found:
-- a dismissal of a problem the admin never saw, two accounts with one
-- login, a change that strands an account that is not active, replaced
-- validation and invitation mails still sent, a deleted account's
-- problems left in the queue, and locks taken in another order than a
-- run's. Applied by `rebond migrate` in one transaction; never edited
-- once shipped.

-- The login alert that an account's states call for: the worst problem
-- (hard before spam), the primary before the secondary; none when both
-- are fine. One definition for the reset trigger, a dismissal and a new
-- invitation (it was written out in 006's and 009's trigger, and again
-- in 008's reinvite).
CREATE FUNCTION rebond.login_alert_for(primary_email text,
    primary_state text, secondary_email text, secondary_state text,
    OUT login_alert text, OUT login_alert_address text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN 'hard' IN (primary_state, secondary_state)
		THEN 'hard'
	    WHEN 'spam' IN (primary_state, secondary_state) THEN 'spam' END,
	    CASE WHEN primary_state = 'hard' THEN primary_email
	    WHEN secondary_state = 'hard' THEN secondary_email
	    WHEN primary_state = 'spam' THEN primary_email
	    WHEN secondary_state = 'spam' THEN secondary_email END
$$;
REVOKE ALL ON FUNCTION rebond.login_alert_for(text, text, text, text)
	FROM PUBLIC;

-- 009's reset trigger, its alert from rebond.login_alert_for.
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
			cleared := true;
		END IF;
	END IF;
	IF rebond.addr_key(NEW.secondary_email) IS DISTINCT FROM
	    rebond.addr_key(OLD.secondary_email) THEN
		NEW.secondary_state := 'ok';
		NEW.secondary_state_since := NULL;
		IF rebond.addr_key(NEW.login_alert_address) =
		    rebond.addr_key(OLD.secondary_email) THEN
			cleared := true;
		END IF;
	END IF;
	IF cleared THEN
		SELECT l.login_alert, l.login_alert_address
		INTO NEW.login_alert, NEW.login_alert_address
		FROM rebond.login_alert_for(NEW.primary_email,
		    NEW.primary_state, NEW.secondary_email,
		    NEW.secondary_state) l;
	END IF;
	RETURN NEW;
END $$;

-- The other account, if any, whose primary or pending address has the
-- key of address (rebond.addr_key): confirmed, both would log in with
-- it. Takes the key's transaction lock first, so that two admin calls
-- giving one address to two accounts see each other (the second waits
-- for the first to commit). Callers lock their account row before.
CREATE FUNCTION rebond.address_holder(address text, except_account bigint,
    OUT account_id bigint, OUT role text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text := rebond.addr_key(address);
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('rebond address ' ||
	    k, 0));
	SELECT a.id, CASE WHEN rebond.addr_key(a.primary_email) = k
		THEN 'primary' ELSE 'pending' END
	INTO account_id, role
	FROM public.accounts a
	WHERE (rebond.addr_key(a.primary_email) = k OR
	    rebond.addr_key(a.pending_email) = k)
	    AND a.id <> except_account
	ORDER BY a.id LIMIT 1;
END $$;
REVOKE ALL ON FUNCTION rebond.address_holder(text, bigint) FROM PUBLIC;

-- What a new address change or invitation replaces: the pending change,
-- cancelled, and its unsent validation or invitation mail, cancelled
-- with its token dropped (before, both mails went, the first with a
-- dead token). For change_primary_email and reinvite.
CREATE FUNCTION rebond.cancel_replaced(account bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE rebond.email_changes c SET status = 'cancelled',
	    closed_at = now()
	WHERE c.account_id = account AND c.status = 'pending';
	UPDATE rebond.outbox o SET cancelled_at = now(),
	    params = o.params - 'token'
	WHERE o.account_id = account
	    AND o.template IN ('validation', 'invitation')
	    AND o.channel IN ('email', 'sms') AND o.sent_at IS NULL
	    AND o.failed_at IS NULL AND o.cancelled_at IS NULL;
$$;
REVOKE ALL ON FUNCTION rebond.cancel_replaced(bigint) FROM PUBLIC;

-- change_primary_email, again (002's):
-- * only for an active account: an invited one (or one whose invitation
--   expired) logs in with no address yet, and an unsubscribed one is not
--   to be mailed; their new address is a new invitation
--   (rebond.reinvite). A change there left the account stuck.
-- * never another account's primary or pending address (23505).
-- * the unsent validation or invitation mail of what it replaces is
--   cancelled (and its token dropped), as unsubscribe cancels warnings:
--   before, both mails went, the first with a dead token.
-- * the mail's deadline is also given as an instant (deadline_at), which
--   the run writes as a date in the database's time zone: to_char here
--   used the admin session's zone (a day off from Tokyo). reinvite too.
CREATE OR REPLACE FUNCTION rebond.change_primary_email(account_id bigint,
    new_email text, valid_for interval DEFAULT '14 days') RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	acc public.accounts%ROWTYPE;
	addr text := btrim(new_email);
	token text;
	deadline timestamptz := now() + valid_for;
	other bigint;
	other_role text;
BEGIN
	IF NOT rebond.valid_address(addr) THEN
		RAISE EXCEPTION 'rebond.change_primary_email: invalid address %',
		    quote_nullable(new_email) USING ERRCODE = '22023';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'rebond.change_primary_email: valid_for must be '
		    'positive' USING ERRCODE = '22023';
	END IF;
	SELECT * INTO acc FROM public.accounts a
	WHERE a.id = change_primary_email.account_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.change_primary_email: no account %',
		    change_primary_email.account_id USING ERRCODE = 'P0002';
	END IF;
	IF acc.status <> 'active' THEN
		RAISE EXCEPTION 'rebond.change_primary_email: account % is %, '
		    'not active', acc.id, acc.status USING ERRCODE = '22023',
		    HINT = 'Invite it at the new address: rebond.reinvite(' ||
		    acc.id || ', ''<address>'').';
	END IF;
	SELECT h.account_id, h.role INTO other, other_role
	FROM rebond.address_holder(addr, acc.id) h;
	IF other IS NOT NULL THEN
		RAISE EXCEPTION 'rebond.change_primary_email: % is the % '
		    'address of account %', addr, other_role, other
		    USING ERRCODE = '23505';
	END IF;
	token := replace(gen_random_uuid()::text, '-', '') ||
	    replace(gen_random_uuid()::text, '-', '');
	PERFORM rebond.cancel_replaced(acc.id);
	UPDATE rebond.problems p SET resolved_at = now(),
	    resolution = 'new_change'
	WHERE p.account_id = acc.id AND p.role = 'pending'
	    AND p.resolved_at IS NULL;
	INSERT INTO rebond.email_changes (account_id, old_email, new_email,
	    token_sha256, deadline)
	VALUES (acc.id, acc.primary_email, addr,
	    encode(sha256(convert_to(token, 'UTF8')), 'hex'), deadline);
	UPDATE public.accounts a SET pending_email = addr,
	    pending_deadline = deadline
	WHERE a.id = acc.id;
	INSERT INTO rebond.outbox (account_id, channel, destination, template,
	    params)
	VALUES (acc.id, 'email', addr, 'validation',
	    jsonb_build_object('token', token, 'address', addr,
	    'deadline', to_char(deadline, 'DD/MM/YYYY'),
	    'deadline_at', floor(extract(epoch FROM deadline))::bigint));
	RETURN token;
END $$;

-- reinvite, again (008's): the account locked first; never another
-- account's primary or pending address (23505); the unsent invitation or
-- validation mail it replaces cancelled; the alert from
-- rebond.login_alert_for (the secondary's, as 008 kept it).
CREATE OR REPLACE FUNCTION rebond.reinvite(account_id bigint, new_email text,
    valid_for interval DEFAULT '3 months') RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	addr text := btrim(new_email);
	expires timestamptz := now() + valid_for;
	other bigint;
	other_role text;
BEGIN
	IF NOT rebond.valid_address(addr) THEN
		RAISE EXCEPTION 'rebond.reinvite: invalid address %',
		    quote_nullable(new_email) USING ERRCODE = '22023';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'rebond.reinvite: valid_for must be positive'
		    USING ERRCODE = '22023';
	END IF;
	PERFORM 1 FROM public.accounts a WHERE a.id = reinvite.account_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.reinvite: no account %',
		    reinvite.account_id USING ERRCODE = 'P0002';
	END IF;
	SELECT h.account_id, h.role INTO other, other_role
	FROM rebond.address_holder(addr, reinvite.account_id) h;
	IF other IS NOT NULL THEN
		RAISE EXCEPTION 'rebond.reinvite: % is the % address of '
		    'account %', addr, other_role, other
		    USING ERRCODE = '23505';
	END IF;
	UPDATE public.accounts a SET status = 'invited', primary_email = addr,
	    primary_state = 'ok', primary_state_since = NULL,
	    (login_alert, login_alert_address) = (SELECT l.login_alert,
		l.login_alert_address FROM rebond.login_alert_for(addr, 'ok',
		a.secondary_email, a.secondary_state) l),
	    pending_email = NULL, pending_deadline = NULL,
	    invitation_expires_at = expires
	WHERE a.id = reinvite.account_id;
	PERFORM rebond.cancel_replaced(reinvite.account_id);
	UPDATE rebond.problems p SET resolved_at = now(),
	    resolution = 'reinvited'
	WHERE p.account_id = reinvite.account_id AND p.resolved_at IS NULL
	    AND p.role IN ('primary', 'pending', 'invitation');
	INSERT INTO rebond.outbox (account_id, channel, destination, template,
	    params)
	VALUES (reinvite.account_id, 'email', addr, 'invitation',
	    jsonb_build_object('address', addr,
	    'deadline', to_char(expires, 'DD/MM/YYYY'),
	    'deadline_at', floor(extract(epoch FROM expires))::bigint));
END $$;

-- Dismiss what the admin saw. A run replaces an open problem in place
-- (same id: one open problem per account and role), so an admin who read
-- "quota" could dismiss the "hard" that replaced it, and clear the dead
-- address's flag. seen_category is the category the admin read
-- (admin_queue.category); another one now is an error 40001: read the
-- queue again. The account first, then its problem (as 008). The
-- address's state goes back to ok if the problem was about it, and a
-- login alert that named the address follows what is left
-- (rebond.login_alert_for, as the reset trigger does).
CREATE FUNCTION rebond.dismiss_problem(problem_id bigint,
    seen_category text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p rebond.problems%ROWTYPE;
	acc public.accounts%ROWTYPE;
	addr text;
	cleared boolean := false;
BEGIN
	IF seen_category IS NULL THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: the category seen '
		    'is required' USING ERRCODE = '22023';
	END IF;
	SELECT * INTO acc FROM public.accounts a
	WHERE a.id = (SELECT q.account_id FROM rebond.problems q
	    WHERE q.id = dismiss_problem.problem_id)
	FOR UPDATE;
	SELECT * INTO p FROM rebond.problems q
	WHERE q.id = dismiss_problem.problem_id AND q.resolved_at IS NULL
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: no open problem %',
		    dismiss_problem.problem_id USING ERRCODE = 'P0002';
	END IF;
	IF p.category <> seen_category THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: problem % is now %, '
		    'not %: it changed since it was read', p.id, p.category,
		    seen_category USING ERRCODE = '40001',
		    HINT = 'Read rebond.admin_queue again.';
	END IF;
	UPDATE rebond.problems q SET resolved_at = now(),
	    resolution = 'dismissed'
	WHERE q.id = p.id;
	IF acc.id IS NULL THEN
		RETURN;		-- the account is gone
	END IF;
	IF p.role = 'primary' AND acc.primary_state = p.category THEN
		acc.primary_state := 'ok';
		acc.primary_state_since := NULL;
		addr := acc.primary_email;
		cleared := true;
	ELSIF p.role = 'secondary' AND acc.secondary_state = p.category THEN
		acc.secondary_state := 'ok';
		acc.secondary_state_since := NULL;
		addr := acc.secondary_email;
		cleared := true;
	END IF;
	IF NOT cleared THEN
		RETURN;
	END IF;
	IF rebond.addr_key(acc.login_alert_address) =
	    rebond.addr_key(addr) THEN
		SELECT l.login_alert, l.login_alert_address
		INTO acc.login_alert, acc.login_alert_address
		FROM rebond.login_alert_for(acc.primary_email,
		    acc.primary_state, acc.secondary_email,
		    acc.secondary_state) l;
	END IF;
	UPDATE public.accounts a SET primary_state = acc.primary_state,
	    primary_state_since = acc.primary_state_since,
	    secondary_state = acc.secondary_state,
	    secondary_state_since = acc.secondary_state_since,
	    login_alert = acc.login_alert,
	    login_alert_address = acc.login_alert_address
	WHERE a.id = acc.id;
END $$;

-- The one-argument form (002, 008) cannot tell what the admin saw: kept
-- for the tools that call it, it refuses the problems whose dismissal
-- unseen does harm (a dead address mailed again, a login alert gone,
-- mail to a user who reported it as spam): hard, spam, complaint. Those
-- take the category seen. The others it dismisses as before.
CREATE OR REPLACE FUNCTION rebond.dismiss_problem(problem_id bigint)
    RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat text;
BEGIN
	SELECT q.category INTO cat FROM rebond.problems q
	WHERE q.id = dismiss_problem.problem_id AND q.resolved_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: no open problem %',
		    dismiss_problem.problem_id USING ERRCODE = 'P0002';
	END IF;
	IF cat IN ('hard', 'spam', 'complaint') THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: problem % is a % '
		    'problem: name the category you read',
		    dismiss_problem.problem_id, cat USING ERRCODE = '22023',
		    HINT = 'rebond.dismiss_problem(' ||
		    dismiss_problem.problem_id || ', ''' || cat || ''')';
	END IF;
	-- (if it changed since, to hard say, this refuses with 40001)
	PERFORM rebond.dismiss_problem(dismiss_problem.problem_id, cat);
END $$;

REVOKE ALL ON FUNCTION rebond.dismiss_problem(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rebond.dismiss_problem(bigint, text)
	TO rebond_admin;

-- confirm_primary_email, again (009's): the account row first, then the
-- change, the order in which a run's batch (it marks a change bounced)
-- and the admin functions take them. 009 locked the change, then waited
-- for the account: with a batch holding the account and waiting for the
-- change, one of them was aborted (deadlock). The change is looked up
-- without a lock, its account locked, and the change locked and read
-- again: a batch may have closed it meanwhile.
CREATE OR REPLACE FUNCTION rebond.confirm_primary_email(token text)
    RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	hash text := encode(sha256(convert_to(confirm_primary_email.token,
	    'UTF8')), 'hex');
	ch rebond.email_changes%ROWTYPE;
BEGIN
	SELECT * INTO ch FROM rebond.email_changes c
	WHERE c.token_sha256 = hash AND c.status = 'pending';
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM 1 FROM public.accounts a WHERE a.id = ch.account_id
	FOR UPDATE;
	SELECT * INTO ch FROM rebond.email_changes c
	WHERE c.token_sha256 = hash AND c.status = 'pending'
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

-- expire_deadlines, again (002's and 005's): the accounts locked in id
-- order, as a run's account lookup locks them (002 and 005 locked them
-- in the order of the scan, and could deadlock with a batch of another
-- mailbox).
CREATE OR REPLACE FUNCTION rebond.expire_deadlines(OUT validations integer,
    OUT invitations integer)
LANGUAGE plpgsql AS $$
BEGIN
	WITH x AS (
		SELECT a.id, a.pending_email, a.pending_deadline
		FROM public.accounts a
		WHERE a.pending_email IS NOT NULL AND a.pending_deadline < now()
		ORDER BY a.id
		FOR UPDATE
	), u AS (
		UPDATE public.accounts a SET pending_email = NULL,
		    pending_deadline = NULL
		FROM x WHERE a.id = x.id RETURNING a.id
	), c AS (
		UPDATE rebond.email_changes c SET status = 'expired',
		    closed_at = now()
		FROM x WHERE c.account_id = x.id AND c.status = 'pending'
		RETURNING c.id
	)
	INSERT INTO rebond.problems AS p (account_id, role, category,
	    address, since, reason)
	SELECT x.id, 'pending', 'validation_expired', x.pending_email,
	    x.pending_deadline, 'expired'
	FROM x
	ON CONFLICT (account_id, role) WHERE resolved_at IS NULL DO UPDATE
	SET category = EXCLUDED.category, address = EXCLUDED.address,
	    since = EXCLUDED.since, reason = EXCLUDED.reason,
	    warning_id = NULL, auto_cleared = false, digest_id = NULL,
	    created_at = now();
	GET DIAGNOSTICS validations = ROW_COUNT;

	WITH x AS (
		SELECT a.id, a.primary_email, a.invitation_expires_at
		FROM public.accounts a
		WHERE a.status = 'invited' AND a.invitation_expires_at < now()
		ORDER BY a.id
		FOR UPDATE
	), u AS (
		UPDATE public.accounts a SET status = 'invitation_expired'
		FROM x WHERE a.id = x.id RETURNING a.id
	)
	INSERT INTO rebond.problems AS p (account_id, role, category,
	    address, since, reason)
	SELECT x.id, 'invitation', 'invitation_expired', x.primary_email,
	    x.invitation_expires_at, 'expired'
	FROM x
	ON CONFLICT (account_id, role) WHERE resolved_at IS NULL DO UPDATE
	SET category = EXCLUDED.category, address = EXCLUDED.address,
	    since = EXCLUDED.since, reason = EXCLUDED.reason,
	    warning_id = NULL, auto_cleared = false, digest_id = NULL,
	    created_at = now();
	GET DIAGNOSTICS invitations = ROW_COUNT;
END $$;

CREATE OR REPLACE FUNCTION rebond.expire_deadlines(validation_days integer,
    invitation_days integer, OUT validations integer,
    OUT invitations integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF validation_days IS NULL OR validation_days < 1 OR
	    invitation_days IS NULL OR invitation_days < 1 THEN
		RAISE EXCEPTION 'expire_deadlines: days must be positive';
	END IF;
	UPDATE public.accounts a
	SET pending_deadline = now() + make_interval(days => validation_days)
	WHERE a.id IN (SELECT b.id FROM public.accounts b
	    WHERE b.pending_email IS NOT NULL AND b.pending_deadline IS NULL
	    ORDER BY b.id FOR UPDATE);
	UPDATE public.accounts a
	SET invitation_expires_at = now() +
	    make_interval(days => invitation_days)
	WHERE a.id IN (SELECT b.id FROM public.accounts b
	    WHERE b.status = 'invited' AND b.invitation_expires_at IS NULL
	    ORDER BY b.id FOR UPDATE);
	SELECT e.validations, e.invitations INTO validations, invitations
	FROM rebond.expire_deadlines() e;
END $$;

-- The platform deletes an account (DELETE FROM accounts): its open
-- problems leave the admin queue ('account_deleted'), its unsent mails
-- and SMS are cancelled (as unsubscribe does) and its pending change
-- too. Nothing of rebond's refers to accounts by a foreign key, so
-- nothing did this before: the problems stayed open for ever. Its
-- events stay (the history). One call per statement, with the definer's
-- rights (the platform's role has none on the rebond schema).
-- (TRUNCATE fires no DELETE trigger.)
CREATE FUNCTION rebond.accounts_forget_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE rebond.problems p SET resolved_at = now(),
	    resolution = 'account_deleted'
	FROM deleted d
	WHERE p.account_id = d.id AND p.resolved_at IS NULL;
	UPDATE rebond.email_changes c SET status = 'cancelled',
	    closed_at = now()
	FROM deleted d
	WHERE c.account_id = d.id AND c.status = 'pending';
	UPDATE rebond.outbox o SET cancelled_at = now(),
	    params = o.params - 'token'
	FROM deleted d
	WHERE o.account_id = d.id AND o.channel IN ('email', 'sms')
	    AND o.sent_at IS NULL AND o.failed_at IS NULL
	    AND o.cancelled_at IS NULL;
	RETURN NULL;
END $$;
CREATE TRIGGER accounts_forget_deleted
	AFTER DELETE ON public.accounts
	REFERENCING OLD TABLE AS deleted
	FOR EACH STATEMENT EXECUTE FUNCTION rebond.accounts_forget_deleted();

-- Accounts deleted before this migration: the same, once (outbox rows
-- without an account, the admins' and the operator's, are not theirs).
UPDATE rebond.problems p SET resolved_at = now(),
    resolution = 'account_deleted'
WHERE p.resolved_at IS NULL AND NOT EXISTS (SELECT 1 FROM public.accounts a
    WHERE a.id = p.account_id);
UPDATE rebond.email_changes c SET status = 'cancelled', closed_at = now()
WHERE c.status = 'pending' AND NOT EXISTS (SELECT 1 FROM public.accounts a
    WHERE a.id = c.account_id);
UPDATE rebond.outbox o SET cancelled_at = now(), params = o.params - 'token'
WHERE o.account_id IS NOT NULL AND o.channel IN ('email', 'sms')
    AND o.sent_at IS NULL AND o.failed_at IS NULL AND o.cancelled_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM public.accounts a
	WHERE a.id = o.account_id);

-- The admin queue names the account too: its login (primary address),
-- phone and status, and the address change waiting for validation with
-- its deadline: a row about a secondary or a pending address showed the
-- account's number only. New columns go last (CREATE OR REPLACE VIEW).
CREATE OR REPLACE VIEW rebond.admin_queue AS
SELECT q.account_id, q.address, q.role, q.category, q.what, q.action,
	q.notified, q.since, q.problem_id, a.primary_email AS login,
	a.phone, a.status, a.pending_email, a.pending_deadline
FROM rebond.problem_details q
LEFT JOIN public.accounts a ON a.id = q.account_id
WHERE q.resolved_at IS NULL;

-- Every recorded bounce of an account, newest first (as its comment in
-- 002 said; it had no ORDER BY).
CREATE OR REPLACE VIEW rebond.account_history AS
SELECT account_id, occurred_at, recipient, role, category, reason, status,
	reply_code, diagnostic, rule, mailbox, uid
FROM rebond.events
WHERE account_id IS NOT NULL
ORDER BY occurred_at DESC, id DESC;
