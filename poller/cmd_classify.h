/*
 * cmd_classify.h - `rebond classify [--json] PATH...|-`: parse and
 * classify bounces offline (no IMAP, no database).
 */
#ifndef REBOND_CMD_CLASSIFY_H
#define REBOND_CMD_CLASSIFY_H

/*
 * Run the command. argv[0] is "classify". Each PATH is a message file,
 * an mbox (it starts with a "From " line), a directory (each regular file
 * is one message; a directory in it is not read, a notice names it), a
 * Maildir (a directory with new/ or cur/: the files of its cur/ and new/,
 * nothing else), "-" for stdin, or a FIFO or character device
 * (<(command), /dev/stdin), read as stdin is.
 * Any other kind of file (a socket, a block device, a FIFO inside a
 * directory), or a file of a directory that cannot be opened (a loop of
 * links, a link to a file we may not read), is not read: an error line
 * names it. A link to nothing in a directory is named in a notice.
 * Notices go to stderr and leave the exit code as it is.
 * Prints one line per recipient (JSON Lines with --json) on stdout, in
 * the order of the files whatever the number of threads (--jobs N, 1 to
 * 64; by default one per CPU, up to 8).
 * Returns a sysexits code: EX_OK; EX_USAGE for bad arguments;
 * EX_NOINPUT when a path could not be read (the others are still
 * processed); EX_IOERR when stdout fails. Bad mail is never an error: it
 * gets a verdict.
 */
int cmd_classify(int argc, char **argv);

#endif
