-- 001_schema.sql - rebond's data model (DESIGN.md "Data model").
-- Applied by `rebond migrate` inside one transaction; never edited once
-- shipped: later changes are new numbered files.

CREATE SCHEMA IF NOT EXISTS rebond;

-- The platform's accounts. A platform with its own table maps it to this
-- shape with a view; rebond only reads and writes these columns.
CREATE TABLE IF NOT EXISTS public.accounts (
	id			bigserial PRIMARY KEY,
	primary_email		text NOT NULL,
	secondary_email		text,
	phone			text,
	status			text NOT NULL DEFAULT 'active'
		CHECK (status IN ('active', 'invited', 'unsubscribed',
		    'invitation_expired')),
	primary_state		text NOT NULL DEFAULT 'ok'
		CHECK (primary_state IN ('ok', 'hard', 'quota', 'spf', 'spam',
		    'complaint', 'soft')),
	primary_state_since	timestamptz,
	secondary_state		text NOT NULL DEFAULT 'ok'
		CHECK (secondary_state IN ('ok', 'hard', 'quota', 'spf',
		    'spam', 'complaint', 'soft')),
	secondary_state_since	timestamptz,
	login_alert		text CHECK (login_alert IN ('hard', 'spam')),
	login_alert_address	text,
	pending_email		text,
	pending_deadline	timestamptz,
	invitation_expires_at	timestamptz
);
CREATE INDEX IF NOT EXISTS accounts_primary_email_idx
	ON public.accounts (lower(btrim(primary_email)));
CREATE INDEX IF NOT EXISTS accounts_secondary_email_idx
	ON public.accounts (lower(btrim(secondary_email)));
CREATE INDEX IF NOT EXISTS accounts_pending_email_idx
	ON public.accounts (lower(btrim(pending_email)));

-- Categories: the help page's words for each kind of problem.
CREATE TABLE rebond.categories (
	category	text PRIMARY KEY,
	label		text NOT NULL,	-- what happened, in French
	action_primary	text,		-- what the admin does, primary address
	action_secondary text		-- what the admin does, secondary address
);

-- One row per processed message: its digest (SHA-256 of the fetched bytes,
-- hex) is what makes processing idempotent across crashes, UIDVALIDITY
-- changes and replays.
CREATE TABLE rebond.messages (
	digest		text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
	mailbox		text NOT NULL,
	uidvalidity	bigint NOT NULL,
	uid		bigint NOT NULL,
	message_id	text,
	bounce_date	timestamptz,
	processed_at	timestamptz NOT NULL DEFAULT now(),
	outcome		text NOT NULL
		CHECK (outcome IN ('archived', 'review', 'ignored')),
	report_type	text NOT NULL,
	recipients	integer NOT NULL,
	flags		integer NOT NULL DEFAULT 0
);

-- Append-only: one row per recipient per bounce. occurred_at is the
-- bounce's own date, so a replayed backlog never looks fresh.
CREATE TABLE rebond.events (
	id		bigserial PRIMARY KEY,
	occurred_at	timestamptz NOT NULL,
	recorded_at	timestamptz NOT NULL DEFAULT now(),
	mailbox		text NOT NULL,
	uidvalidity	bigint NOT NULL,
	uid		bigint NOT NULL,
	digest		text NOT NULL,
	rcpt_index	integer NOT NULL,
	message_id	text,
	recipient	text,
	account_id	bigint,
	role		text CHECK (role IN ('primary', 'secondary', 'pending',
			    'invitation')),
	action		text,
	status		text,
	reply_code	integer,
	diagnostic	text,
	remote_mta	text,
	reason		text NOT NULL,
	category	text NOT NULL REFERENCES rebond.categories,
	rule		text NOT NULL,
	matched		text,
	verified	boolean NOT NULL DEFAULT false,
	replayed	boolean NOT NULL DEFAULT false,
	UNIQUE (digest, rcpt_index)
);
CREATE INDEX events_account_idx ON rebond.events (account_id, occurred_at);
CREATE INDEX events_recipient_idx ON rebond.events (recipient, occurred_at);

INSERT INTO rebond.categories (category, label, action_primary,
    action_secondary) VALUES
('hard', 'Adresse définitivement invalide (utilisateur inconnu, domaine '
	'disparu, boîte supprimée)',
	'Recontacter l''utilisateur, puis changer l''email ou le désinscrire',
	'Corriger l''adresse professionnelle ou vider le champ'),
('quota', 'Boîte pleine',
	'Aucune : l''utilisateur a été invité à libérer de la place',
	'Aucune : l''utilisateur a été invité à libérer de la place'),
('blocked', 'Serveur de la plateforme limité ou bloqué par le destinataire',
	'Contacter l''opérateur (OPPI)', 'Contacter l''opérateur (OPPI)'),
('spf', 'Échec SPF : adresse de redirection',
	'Demander à l''utilisateur d''enregistrer son adresse réelle '
	'plutôt qu''une adresse de redirection',
	'Demander à l''utilisateur d''enregistrer son adresse réelle '
	'plutôt qu''une adresse de redirection'),
('spam', 'Message classé comme spam par le destinataire',
	'Demander à l''utilisateur de marquer les mails de la plateforme '
	'comme légitimes',
	'Demander à l''utilisateur de marquer les mails de la plateforme '
	'comme légitimes'),
('transient', 'Échec temporaire (délai, file d''attente, réseau)',
	'Aucune tant que l''échec ne se répète pas',
	'Aucune tant que l''échec ne se répète pas'),
('soft', 'Échecs temporaires répétés',
	'Vérifier l''adresse avec l''utilisateur',
	'Vérifier l''adresse avec l''utilisateur ou vider le champ'),
('complaint', 'L''utilisateur a signalé un mail de la plateforme comme '
	'spam',
	'Vérifier avec l''utilisateur s''il souhaite encore recevoir nos mails',
	'Vérifier avec l''utilisateur s''il souhaite encore recevoir nos mails'),
('autoreply', 'Réponse automatique (absence) : pas un rejet', NULL, NULL),
('delivered', 'Avis de remise : pas un rejet', NULL, NULL),
('unknown', 'Message non reconnu : à examiner dans le dossier de revue',
	NULL, NULL);
