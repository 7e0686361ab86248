-- 005_deadlines.sql - [policy] validation_days and invitation_days.
-- Applied by `rebond migrate` in one transaction; never edited once
-- shipped.
--
-- rebond.change_primary_email and rebond.reinvite set their own deadline
-- (their valid_for argument, the help page's 14 days and 3 months by
-- default). A platform that writes accounts.pending_email or status
-- 'invited' itself, without a deadline, gets one from the configuration:
-- `rebond run` calls this function, which gives such rows now + the
-- configured days, then expires what is past its deadline.
CREATE FUNCTION rebond.expire_deadlines(validation_days integer,
    invitation_days integer, OUT validations integer,
    OUT invitations integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF validation_days IS NULL OR validation_days < 1 OR
	    invitation_days IS NULL OR invitation_days < 1 THEN
		RAISE EXCEPTION 'expire_deadlines: days must be positive';
	END IF;
	UPDATE public.accounts
	SET pending_deadline = now() + make_interval(days => validation_days)
	WHERE pending_email IS NOT NULL AND pending_deadline IS NULL;
	UPDATE public.accounts
	SET invitation_expires_at = now() +
	    make_interval(days => invitation_days)
	WHERE status = 'invited' AND invitation_expires_at IS NULL;
	SELECT e.validations, e.invitations INTO validations, invitations
	FROM rebond.expire_deadlines() e;
END $$;

REVOKE ALL ON FUNCTION rebond.expire_deadlines(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rebond.expire_deadlines(integer, integer)
	TO rebond_job;
