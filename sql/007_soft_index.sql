-- 007_soft_index.sql - every run decays soft scores (006,
-- rebond.decay_soft): find the soft addresses without reading every
-- account. Applied by `rebond migrate` in one transaction; never edited
-- once shipped.
--
-- Without these, each run, even one with an empty mailbox, scanned the
-- whole accounts table twice: 111 ms instead of about 50 for an empty
-- run with 190,000 accounts (tests/bench/mailbox-bench.sh). Partial
-- indexes: they hold only the few soft addresses.
CREATE INDEX IF NOT EXISTS accounts_primary_soft_idx
	ON public.accounts (id) WHERE primary_state = 'soft';
CREATE INDEX IF NOT EXISTS accounts_secondary_soft_idx
	ON public.accounts (id) WHERE secondary_state = 'soft';
