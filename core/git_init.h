/*
 * libgit2's one start for the process, shared by git.c, remote.c and the
 * floor program, with the system's CA certificates and libssh2's start
 * put off until a network operation needs them. See git_init.c for why and how.
 */
#ifndef FL_GIT_INIT_H
#define FL_GIT_INIT_H

#include <stdbool.h>

/*
 * Starts libgit2 once per process and sets flotilla's cache options.
 * Returns 0, or libgit2's negative error code (git_error_last() says why);
 * every call after the first returns the first one's result.
 */
int fl_git_init(void);

/*
 * Loads the CA certificates libgit2's start put off, and starts libssh2,
 * whose start it put off too, once per process.
 * Call before any fetch or push. Returns 0 (also when nothing was put off),
 * or libgit2's negative error code; TLS then trusts no server, as it would
 * had libgit2 failed to load them itself.
 */
int fl_git_load_ca(void);

/* What the deferrals did, for tests. */
struct fl_git_ca_state {
	const char *deferred; /* the file libgit2 asked to parse at its start; NULL if none */
	unsigned parsed;      /* files parsed for real since */
	bool ssh_deferred;    /* libgit2's start called libssh2_init, which did nothing then */
	unsigned ssh_started; /* libssh2_init calls handed to libssh2 since */
};
struct fl_git_ca_state fl_git_ca_state(void);

#endif
