/* tt_exit.h - the one exit-status table every ttlc command uses.
 *
 * Documented in ttlc(7) and in each page's EXIT STATUS section. The values
 * follow sysexits.h where one fits, so supervisors and shells can tell a
 * retryable failure (75) from a broken configuration (78).
 */
#ifndef TT_EXIT_H
#define TT_EXIT_H

enum tt_exit {
	TT_EXIT_OK = 0,           /* success */
	TT_EXIT_FAILURE = 1,      /* runtime failure */
	TT_EXIT_USAGE = 2,        /* bad command line */
	TT_EXIT_DATAERR = 65,     /* bad input line under --strict */
	TT_EXIT_NOINPUT = 66,     /* the input named does not exist (a stored session) */
	TT_EXIT_UNAVAILABLE = 69, /* a required service stayed away after retries */
	TT_EXIT_IOERR = 74,       /* output could not be written */
	TT_EXIT_TEMPFAIL = 75,    /* temporary failure: a supervisor should restart */
	TT_EXIT_CONFIG = 78,      /* configuration error */
};

#endif
