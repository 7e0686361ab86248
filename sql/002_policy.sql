-- 002_policy.sql - the help page, implemented (DESIGN.md "Data model").
--
-- The outbox of notifications, the admin queue (problems and their
-- views), operator alerts, changes of primary address and invitations,
-- and the trigger that resets an address's state when it changes.
-- Applied by `rebond migrate` in one transaction; never edited once
-- shipped.

-- What the admin does, for the two roles 001 did not cover; and the
-- problems that are not bounces (deadlines passed).
ALTER TABLE rebond.categories
	ADD COLUMN action_pending text,
	ADD COLUMN action_invitation text;
UPDATE rebond.categories SET
	action_pending = 'La nouvelle adresse ne reçoit pas nos mails : le '
	    'changement est annulé. Recontacter l''utilisateur pour une autre '
	    'adresse (rebond.change_primary_email)',
	action_invitation = 'L''invitation n''est pas arrivée : vérifier '
	    'l''adresse avec l''utilisateur et réinviter (rebond.reinvite), '
	    'ou supprimer le compte'
WHERE category IN ('hard', 'quota', 'spf', 'spam', 'complaint', 'soft');
INSERT INTO rebond.categories (category, label, action_primary,
    action_secondary, action_pending, action_invitation) VALUES
('validation_expired', 'Nouvelle adresse non validée dans le délai',
	NULL, NULL,
	'Recontacter l''utilisateur : relancer le changement '
	'(rebond.change_primary_email) ou garder l''adresse actuelle', NULL),
('invitation_expired', 'Invitation non utilisée dans le délai',
	NULL, NULL, NULL,
	'Réinviter avec la bonne adresse (rebond.reinvite) ou supprimer le '
	'compte');

-- Why a new problem came without a warning ("non prévenu : ...").
CREATE TABLE rebond.notify_reasons (
	reason	text PRIMARY KEY,
	label	text NOT NULL
);
INSERT INTO rebond.notify_reasons (reason, label) VALUES
('no_channel', 'aucun autre moyen de le joindre (autre adresse absente ou '
	'en erreur, pas de téléphone)'),
('complaint', 'il a signalé nos mails comme spam : on ne lui écrit pas'),
('soft', 'échecs temporaires : pas d''avertissement prévu'),
('pending', 'c''est la nouvelle adresse à valider qui ne reçoit pas nos '
	'mails'),
('invitation', 'c''est l''adresse de l''invitation qui ne reçoit pas nos '
	'mails'),
('old_bounce', 'rejet trop ancien pour prévenir l''utilisateur'),
('expired', 'délai dépassé');

-- Notifications, written in the transaction of the bounce that caused
-- them and sent afterwards, row by row (sent_at). ref names what caused
-- a row ("<message digest>:<recipient index>" for a warning), so a row
-- can never be queued twice for the same cause.
CREATE TABLE rebond.outbox (
	id		bigserial PRIMARY KEY,
	account_id	bigint,
	channel		text NOT NULL
		CHECK (channel IN ('email', 'sms', 'admin', 'ops')),
	destination	text NOT NULL,
	template	text NOT NULL CHECK (template ~ '^[a-z_]{1,40}$'),
	category	text,		-- the warning's category, for renotify
	params		jsonb NOT NULL DEFAULT '{}',
	ref		text UNIQUE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	sent_at		timestamptz,
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	failed_at	timestamptz,	-- refused for good: not retried
	cancelled_at	timestamptz	-- account unsubscribed meanwhile
);
CREATE INDEX outbox_pending_idx ON rebond.outbox (channel, id)
	WHERE sent_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX outbox_account_idx
	ON rebond.outbox (account_id, category, created_at);

-- The admin queue: one row per problem; at most one open problem per
-- account and role (a newer one replaces it in place).
CREATE TABLE rebond.problems (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL,
	role		text NOT NULL CHECK (role IN ('primary', 'secondary',
			    'pending', 'invitation')),
	category	text NOT NULL REFERENCES rebond.categories,
	address		text,
	since		timestamptz NOT NULL,	-- the bounce's own date
	ref		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	warning_id	bigint REFERENCES rebond.outbox,
	reason		text REFERENCES rebond.notify_reasons,
	auto_cleared	boolean NOT NULL DEFAULT false,
	digest_id	bigint REFERENCES rebond.outbox,  -- admin digest
	resolved_at	timestamptz,
	resolution	text
);
CREATE UNIQUE INDEX problems_open_idx ON rebond.problems (account_id, role)
	WHERE resolved_at IS NULL;
CREATE INDEX problems_undigested_idx ON rebond.problems (id)
	WHERE digest_id IS NULL;

-- Server-side blocks, aggregated per remote domain.
CREATE TABLE rebond.ops_alerts (
	remote		text PRIMARY KEY,	-- the recipients' domain
	remote_mta	text,			-- the last MTA that refused
	last_diagnostic	text,
	first_seen	timestamptz NOT NULL,
	last_seen	timestamptz NOT NULL,
	count		bigint NOT NULL DEFAULT 0,
	notified_at	timestamptz		-- last alert queued
);

-- Changes of primary address awaiting validation. Only a hash of the
-- token is kept.
CREATE TABLE rebond.email_changes (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL,
	old_email	text,
	new_email	text NOT NULL,
	token_sha256	text NOT NULL UNIQUE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	deadline	timestamptz NOT NULL,
	status		text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'confirmed', 'expired', 'bounced',
		    'cancelled')),
	closed_at	timestamptz
);
CREATE INDEX email_changes_account_idx ON rebond.email_changes (account_id)
	WHERE status = 'pending';

CREATE INDEX IF NOT EXISTS accounts_pending_deadline_idx
	ON public.accounts (pending_deadline) WHERE pending_email IS NOT NULL;
CREATE INDEX IF NOT EXISTS accounts_invitation_expires_idx
	ON public.accounts (invitation_expires_at) WHERE status = 'invited';
CREATE INDEX events_transient_idx ON rebond.events (recipient, occurred_at)
	WHERE category = 'transient';

-- Every problem with its French texts (the digest lists the new ones).
CREATE VIEW rebond.problem_details AS
SELECT p.id AS problem_id, p.account_id, p.address, p.role, p.category,
	c.label AS what,
	CASE WHEN p.auto_cleared THEN
		'Aucune : l''adresse professionnelle a été vidée '
		'automatiquement'
	     WHEN p.role = 'primary' THEN c.action_primary
	     WHEN p.role = 'secondary' THEN c.action_secondary
	     WHEN p.role = 'pending' THEN c.action_pending
	     ELSE c.action_invitation END AS action,
	CASE WHEN w.sent_at IS NOT NULL THEN
		'prévenu le ' || to_char(w.sent_at, 'DD/MM/YYYY') ||
		CASE w.channel WHEN 'sms' THEN ' (SMS)' ELSE ' (email)' END
	     WHEN w.failed_at IS NOT NULL THEN
		'non prévenu : l''envoi a échoué (' ||
		coalesce(w.last_error, '?') || ')'
	     WHEN w.cancelled_at IS NOT NULL THEN
		'non prévenu : envoi annulé'
	     WHEN w.id IS NOT NULL THEN
		'non prévenu : envoi en attente' ||
		CASE WHEN w.attempts > 0 THEN ' (' || w.attempts ||
		    ' essai(s), dernière erreur : ' ||
		    coalesce(w.last_error, '?') || ')' ELSE '' END
	     ELSE 'non prévenu : ' || coalesce(r.label, p.reason,
		'raison inconnue') END AS notified,
	p.since, p.created_at, p.digest_id, p.resolved_at, p.resolution
FROM rebond.problems p
JOIN rebond.categories c ON c.category = p.category
LEFT JOIN rebond.outbox w ON w.id = p.warning_id
LEFT JOIN rebond.notify_reasons r ON r.reason = p.reason;

-- What admins act on: the open problems.
CREATE VIEW rebond.admin_queue AS
SELECT account_id, address, role, category, what, action, notified, since,
	problem_id
FROM rebond.problem_details
WHERE resolved_at IS NULL;

-- Every recorded bounce of an account, newest first.
CREATE VIEW rebond.account_history AS
SELECT account_id, occurred_at, recipient, role, category, reason, status,
	reply_code, diagnostic, rule, mailbox, uid
FROM rebond.events
WHERE account_id IS NOT NULL;

-- A changed address starts ok: its state, its login alert and its open
-- problems go. Changing the secondary never touches the primary's.
CREATE FUNCTION rebond.accounts_reset_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF lower(btrim(NEW.primary_email)) IS DISTINCT FROM
	    lower(btrim(OLD.primary_email)) THEN
		NEW.primary_state := 'ok';
		NEW.primary_state_since := NULL;
		IF lower(btrim(NEW.login_alert_address)) =
		    lower(btrim(OLD.primary_email)) THEN
			NEW.login_alert := NULL;
			NEW.login_alert_address := NULL;
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
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER accounts_reset_state
	BEFORE UPDATE OF primary_email, secondary_email ON public.accounts
	FOR EACH ROW EXECUTE FUNCTION rebond.accounts_reset_state();

-- Whoever changes the address (the platform, an admin, rebond), its
-- problems are resolved: the definer's rights, so the platform's role
-- needs no grant on rebond's tables.
CREATE FUNCTION rebond.accounts_resolve_problems() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF lower(btrim(NEW.primary_email)) IS DISTINCT FROM
	    lower(btrim(OLD.primary_email)) THEN
		UPDATE rebond.problems SET resolved_at = now(),
		    resolution = 'primary_changed'
		WHERE account_id = NEW.id AND resolved_at IS NULL
		    AND role IN ('primary', 'invitation');
	END IF;
	IF lower(btrim(NEW.secondary_email)) IS DISTINCT FROM
	    lower(btrim(OLD.secondary_email)) THEN
		UPDATE rebond.problems SET resolved_at = now(),
		    resolution = 'secondary_changed'
		WHERE account_id = NEW.id AND resolved_at IS NULL
		    AND role = 'secondary';
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER accounts_resolve_problems
	AFTER UPDATE OF primary_email, secondary_email ON public.accounts
	FOR EACH ROW EXECUTE FUNCTION rebond.accounts_resolve_problems();

-- An address fit for a mail header: local@domain, no blanks, no
-- specials, no control characters.
CREATE FUNCTION rebond.valid_address(address text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT address IS NOT NULL AND length(address) <= 254
	    AND address ~ '^[^@[:space:][:cntrl:]<>()\[\],;:"\\]+@[^@[:space:][:cntrl:]<>()\[\],;:"\\]+$'
$$;

-- Admin: a new primary address. It gets a validation mail and valid_for
-- to be validated; until then the old one stays the login. Returns the
-- validation token (only its hash is kept).
CREATE FUNCTION rebond.change_primary_email(account_id bigint,
    new_email text, valid_for interval DEFAULT '14 days') RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	acc public.accounts%ROWTYPE;
	addr text := btrim(new_email);
	token text;
	deadline timestamptz := now() + valid_for;
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
	IF acc.status = 'unsubscribed' THEN
		RAISE EXCEPTION 'rebond.change_primary_email: account % is '
		    'unsubscribed (rebond.reinvite)', acc.id
		    USING ERRCODE = '22023';
	END IF;
	token := replace(gen_random_uuid()::text, '-', '') ||
	    replace(gen_random_uuid()::text, '-', '');
	UPDATE rebond.email_changes c SET status = 'cancelled',
	    closed_at = now()
	WHERE c.account_id = acc.id AND c.status = 'pending';
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
	    'deadline', to_char(deadline, 'DD/MM/YYYY')));
	RETURN token;
END $$;

-- The user followed the validation link: the new address becomes the
-- login; the old address's flags and login alert clear (trigger).
-- false for an unknown, used, cancelled or expired token.
CREATE FUNCTION rebond.confirm_primary_email(token text) RETURNS boolean
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
	    AND lower(btrim(a.pending_email)) = lower(btrim(ch.new_email));
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

-- Admin: unsubscribe. The row and its history stay (the platform must
-- never mail the dead address again); the secondary address, the phone
-- and any pending change go, with the account's unsent warnings and
-- open problems.
CREATE FUNCTION rebond.unsubscribe(account_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE public.accounts a SET status = 'unsubscribed',
	    secondary_email = NULL, phone = NULL, pending_email = NULL,
	    pending_deadline = NULL, login_alert = NULL,
	    login_alert_address = NULL
	WHERE a.id = unsubscribe.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rebond.unsubscribe: no account %',
		    unsubscribe.account_id USING ERRCODE = 'P0002';
	END IF;
	UPDATE rebond.email_changes c SET status = 'cancelled',
	    closed_at = now()
	WHERE c.account_id = unsubscribe.account_id AND c.status = 'pending';
	UPDATE rebond.problems p SET resolved_at = now(),
	    resolution = 'unsubscribed'
	WHERE p.account_id = unsubscribe.account_id
	    AND p.resolved_at IS NULL;
	UPDATE rebond.outbox o SET cancelled_at = now()
	WHERE o.account_id = unsubscribe.account_id
	    AND o.channel IN ('email', 'sms') AND o.sent_at IS NULL
	    AND o.failed_at IS NULL AND o.cancelled_at IS NULL;
END $$;

-- Admin: invite again, at a new address, for valid_for. The address
-- starts ok; an invitation mail is queued.
CREATE FUNCTION rebond.reinvite(account_id bigint, new_email text,
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
	    login_alert = NULL, login_alert_address = NULL,
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

-- Admin: a problem is dealt with (e.g. a mailbox no longer full); the
-- address's state goes back to ok if the problem was about it.
CREATE FUNCTION rebond.dismiss_problem(problem_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p rebond.problems%ROWTYPE;
BEGIN
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

-- rebond run: changes and invitations past their deadline. Each becomes
-- a problem for the admins. Returns how many of each.
CREATE FUNCTION rebond.expire_deadlines(OUT validations integer,
    OUT invitations integer)
LANGUAGE plpgsql AS $$
BEGIN
	WITH x AS (
		SELECT a.id, a.pending_email, a.pending_deadline
		FROM public.accounts a
		WHERE a.pending_email IS NOT NULL AND a.pending_deadline < now()
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
