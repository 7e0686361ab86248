/*
 * metrics.h - the cron job's Prometheus textfile ([metrics] textfile),
 * for node_exporter's textfile collector.
 *
 * After every `rebond run` (not a dry run, not a run that found the
 * mailbox busy, not a replay) the file is rewritten: the counters it
 * holds are read back, this run's numbers added, and the result written
 * to a temporary file in the same directory, fsync'ed and renamed over
 * the old one, so a reader never sees half a file. The counters live in
 * the file: losing it restarts them at zero, which Prometheus treats as
 * a counter reset. One file per mailbox (node_exporter refuses the same
 * series in two files).
 *
 * Series, each labelled mailbox="...":
 *   rebond_runs_total{status="ok|stopped|failed"}         counter
 *   rebond_messages_total                                  counter
 *       messages fetched and processed (recorded or already known)
 *   rebond_messages_moved_total{folder="archive|review"}  counter
 *   rebond_bounces_total{category="hard|quota|..."}       counter
 *       recipients classified, one series per category
 *   rebond_errors_total                                    counter
 *   rebond_last_run_duration_seconds                       gauge
 *   rebond_last_run_timestamp_seconds                      gauge
 *   rebond_last_run_exit_code                              gauge
 *   rebond_last_success_timestamp_seconds                  gauge
 *       the end of the last run that exited 0 (kept across failures)
 */
#ifndef REBOND_METRICS_H
#define REBOND_METRICS_H

#include <time.h>

#include "run.h"

/*
 * Add one run (its stats, exit code, duration in seconds, end time) to
 * the textfile at path for mailbox. Returns 0, or -1 after logging one
 * warning (the run's own result does not depend on its metrics).
 */
int metrics_write(const char *path, const char *mailbox,
    const struct run_stats *st, int exit_code, double duration, time_t now);

#endif
