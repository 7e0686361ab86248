/*
 * cmd_report.h - `rebond report [-c FILE | --conninfo STR] [--wide]`: the
 * admin queue (rebond.admin_queue) as a table for a terminal; with
 * --conninfo, an admin's own connection, no configuration file.
 */
#ifndef REBOND_CMD_REPORT_H
#define REBOND_CMD_REPORT_H

/* Widest column of the table unless --wide. */
#define REPORT_COLUMN_MAX 60

/*
 * Run the command. argv[0] is "report". Prints the open problems, oldest
 * first, on stdout (or a line saying there is none). Returns a sysexits
 * code: EX_OK, EX_USAGE, EX_CONFIG (configuration, or an unmigrated
 * database), EX_TEMPFAIL (database unreachable).
 */
int cmd_report(int argc, char **argv);

#endif
