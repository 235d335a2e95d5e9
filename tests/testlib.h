/*
 * What unit tests share: running a shell command (git, mkdir, rm) that must
 * succeed, and the git command line that makes commits without touching
 * the user's configuration.
 */
#ifndef FL_TESTLIB_H
#define FL_TESTLIB_H

/* git with an author, a default branch and no signing, whatever ~/.gitconfig says. */
#define FL_TEST_GIT \
	"git -c user.name=Tester -c user.email=tester@example.com -c init.defaultBranch=main" \
	" -c commit.gpgsign=false -c tag.gpgsign=false"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Runs the formatted shell command; fails the current test if it does not exit 0. */
void fl_test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether path names anything (a file, a directory, ...). */
bool fl_test_exists(const char *path);

struct fl_buf;
struct fl_oid;

/*
 * Runs the formatted shell command and appends its standard output to out,
 * minus a final newline; fails the current test if it does not exit 0.
 */
void fl_test_capture(struct fl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The 40 hex digits of hex into out; fails the current test if they are not. */
void fl_test_parse_oid(struct fl_oid *out, const char *hex);

/*
 * Makes a new directory /tmp/fl-test-<name>.XXXXXX into root (cap bytes)
 * and keeps the user's and the system's git configuration out of what runs
 * after: HOME and XDG_CONFIG_HOME are root, GIT_CONFIG_NOSYSTEM is set.
 * 0, or -1 as a cmocka group setup returns it.
 */
int fl_test_git_home(char *root, size_t cap, const char *name);

/* A loopback test server of tests/servers/ (it prints "PORT <n>" first). */
struct fl_test_server {
	pid_t pid;
	int in_fd; /* its stdin: closing it stops the server */
	int port;
};

/* The path of tests/servers/<name>, found from FL_FIXTURES or this file's place. */
void fl_test_server_script(char *out, size_t cap, const char *name);
/* Starts python3 script with extra arguments (NULL-terminated, or NULL); 0 or -1. */
int fl_test_server_start(struct fl_test_server *s, const char *script, const char *const *extra);
void fl_test_server_stop(struct fl_test_server *s);

/* A test CA, a server certificate for 127.0.0.1 and a client certificate, in a new directory. */
struct fl_test_certs {
	char dir[64];
	char ca_pem[128], server_pem[128], server_key[128], client_pem[128], client_key[128];
};

/* Makes them with the openssl command under /tmp/fl-test-<prefix>-XXXXXX; 0 or -1. */
int fl_test_certs_make(struct fl_test_certs *c, const char *prefix);

#endif
