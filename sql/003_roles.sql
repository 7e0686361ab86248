-- 003_roles.sql - least privilege: a role for the job, one for admins.
--
-- rebond_job: what `rebond run` and `rebond report` need, nothing more
-- (no DDL, no DELETE, only the accounts columns it reads and writes).
-- rebond_admin: read everything of rebond's, call the admin functions;
-- changes to accounts go through those functions only.
-- Both are NOLOGIN group roles: grant them to login roles, e.g.
--   CREATE ROLE rebond LOGIN IN ROLE rebond_job;
--   GRANT rebond_admin TO alice;
--
-- Roles belong to the whole cluster, databases do not: several databases
-- of one cluster may run this at the same time. Creating a role that
-- exists (or that another session is creating right now) is not an
-- error here. Creating one needs CREATEROLE (or a superuser); without it
-- this migration fails, unless both roles were created beforehand.

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['rebond_job', 'rebond_admin'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION
				WHEN duplicate_object OR unique_violation THEN
					NULL;	-- created meanwhile elsewhere
			END;
		END IF;
	END LOOP;
END $$;

-- Functions are callable by everyone unless told otherwise.
REVOKE ALL ON FUNCTION rebond.change_primary_email(bigint, text, interval),
	rebond.confirm_primary_email(text), rebond.unsubscribe(bigint),
	rebond.reinvite(bigint, text, interval),
	rebond.dismiss_problem(bigint), rebond.expire_deadlines()
	FROM PUBLIC;

-- The job.
GRANT USAGE ON SCHEMA rebond TO rebond_job;
GRANT SELECT (id, primary_email, secondary_email, phone, status,
	primary_state, primary_state_since, secondary_state,
	secondary_state_since, login_alert, login_alert_address,
	pending_email, pending_deadline, invitation_expires_at)
	ON public.accounts TO rebond_job;
-- States and login alerts; secondary_email (clear_secondary_on_hard),
-- pending_* (a bounced or expired change), status (expired invitation).
GRANT UPDATE (primary_state, primary_state_since, secondary_state,
	secondary_state_since, login_alert, login_alert_address,
	secondary_email, pending_email, pending_deadline, status)
	ON public.accounts TO rebond_job;
GRANT SELECT ON rebond.schema_version, rebond.categories,
	rebond.notify_reasons, rebond.problem_details, rebond.admin_queue
	TO rebond_job;
GRANT SELECT, INSERT ON rebond.messages, rebond.events TO rebond_job;
GRANT SELECT, INSERT, UPDATE ON rebond.outbox, rebond.problems,
	rebond.ops_alerts TO rebond_job;
GRANT SELECT, UPDATE ON rebond.email_changes TO rebond_job;
GRANT USAGE ON SEQUENCE rebond.events_id_seq, rebond.outbox_id_seq,
	rebond.problems_id_seq TO rebond_job;
GRANT EXECUTE ON FUNCTION rebond.expire_deadlines() TO rebond_job;

-- Admins.
GRANT USAGE ON SCHEMA rebond TO rebond_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA rebond TO rebond_admin;
GRANT SELECT ON public.accounts TO rebond_admin;
GRANT EXECUTE ON FUNCTION rebond.change_primary_email(bigint, text, interval),
	rebond.confirm_primary_email(text), rebond.unsubscribe(bigint),
	rebond.reinvite(bigint, text, interval),
	rebond.dismiss_problem(bigint) TO rebond_admin;
