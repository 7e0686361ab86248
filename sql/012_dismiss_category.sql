-- 012_dismiss_category.sql - dismiss_problem(id, category) tells a name
-- that is not a category from a category that changed. Applied by
-- `rebond migrate` in one transaction; never edited once shipped.
--
-- 010's dismiss_problem(id, seen_category) answered every category other
-- than the problem's with 40001 (serialization_failure: "it changed since
-- it was read"), a typo too ('hrad'): some client libraries retry 40001
-- by themselves, and the admin was told to read the queue again when the
-- mistake was his. A name that is not a category is now refused first,
-- with 22023 (invalid_parameter_value) and the categories there are;
-- 40001 is left to a problem whose category really changed. 010's body
-- again (CREATE OR REPLACE takes it whole), with that check; its grants
-- stay.

CREATE OR REPLACE FUNCTION rebond.dismiss_problem(problem_id bigint,
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
	-- (new in 012)
	IF NOT EXISTS (SELECT 1 FROM rebond.categories c
	    WHERE c.category = seen_category) THEN
		RAISE EXCEPTION 'rebond.dismiss_problem: % is not a category',
		    quote_literal(seen_category) USING ERRCODE = '22023',
		    HINT = 'The categories: ' || (SELECT string_agg(c.category,
		    ', ' ORDER BY c.category) FROM rebond.categories c) || '.';
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
