/*
 * libgit2's start, and the CA certificates it would parse at once.
 *
 * Debian builds libgit2 on mbedTLS, and its git_libgit2_init parses every
 * certificate of /etc/ssl/certs/ca-certificates.crt: about 6 ms here, more
 * than a --since plan spends reading both its trees. Only fetches and
 * pushes (remote.c) ever open a TLS connection, so the parse is put off
 * until fl_git_load_ca, which remote.c calls before each of them.
 *
 * How: this file defines mbedtls_x509_crt_parse_file. The linker exports
 * it from the executable, because libgit2.so, linked in, refers to it; so
 * libgit2's call binds here before it binds to libmbedx509. While
 * fl_git_init runs git_libgit2_init, the call records the file and parses
 * nothing: libgit2 keeps an empty chain, which trusts no server, so a
 * connection made before fl_git_load_ca fails its certificate check; it
 * never goes unchecked. Every other call is handed to the real function.
 * A libgit2 built on OpenSSL never calls it, and loads its certificates on
 * its own; nothing is put off then.
 *
 * libssh2_init is put off the same way, until fl_git_load_ca: libgit2's
 * start calls it for ssh remotes, and it initialises OpenSSL's libcrypto
 * for libssh2 (its error strings among others: 40 page faults and 1 to
 * 1.5 ms of every run here). Put off, libssh2 counts itself not initialised,
 * and initialises itself at its first session if fl_git_load_ca has not
 * run by then (libssh2_session_init_ex calls libssh2_init then).
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "core/git_init.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>

#include "core/banned.h"

/* mbedTLS's own error for a file it cannot read (MBEDTLS_ERR_X509_FILE_IO_ERROR). */
#define MBEDTLS_FILE_IO_ERROR (-0x2900)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static atomic_bool deferring; /* only while init_libgit2 runs */
static char deferred[PATH_MAX]; /* "" when nothing was put off */
static atomic_uint parsed;
static atomic_bool ssh_deferred;
static int ssh_flags;
static atomic_uint ssh_started;

typedef int parse_file_fn(void *chain, const char *path);

/* mbedTLS's signature, with the chain opaque: flotilla never looks inside it. */
int mbedtls_x509_crt_parse_file(void *chain, const char *path);

int mbedtls_x509_crt_parse_file(void *chain, const char *path)
{
	parse_file_fn *real;
	size_t len = strlen(path);

	if (deferring && len < sizeof(deferred)) {
		memcpy(deferred, path, len + 1);
		return 0;
	}
	/* POSIX's way to take a function from dlsym, which ISO C has no cast for. */
	*(void **)&real = dlsym(RTLD_NEXT, "mbedtls_x509_crt_parse_file");
	if (!real)
		return MBEDTLS_FILE_IO_ERROR;
	parsed++;
	return real(chain, path);
}

typedef int ssh_init_fn(int flags);

int libssh2_init(int flags);

/* libssh2's call; its start, when not put off. */
static int ssh_init_real(int flags)
{
	ssh_init_fn *real;

	*(void **)&real = dlsym(RTLD_NEXT, "libssh2_init");
	if (!real)
		return -1;
	ssh_started++;
	return real(flags);
}

int libssh2_init(int flags)
{
	if (deferring) {
		ssh_flags = flags;
		ssh_deferred = true;
		return 0;
	}
	return ssh_init_real(flags);
}

/*
 * libgit2 is never shut down: its global state stays reachable, so the leak
 * checker does not report it, and no other code can find it gone at exit.
 */
static void init_libgit2(void)
{
	deferring = true;
	init_rc = git_libgit2_init();
	deferring = false;
	if (init_rc < 0)
		return;
	/*
	 * A fleet's tenants/ tree is one object of 40 bytes per tenant; libgit2
	 * caches no tree over 4 KiB by default, so each lookup would inflate it
	 * again. Keep trees cached, and skip re-hashing every object read from
	 * our own object database (git itself does not do it either).
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, (int)GIT_OBJECT_TREE, (size_t)64 * 1024 * 1024);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
}

int fl_git_init(void)
{
	pthread_once(&init_once, init_libgit2);
	return init_rc;
}

static pthread_once_t ca_once = PTHREAD_ONCE_INIT;
static int ca_rc;

static void load_ca(void)
{
	if (ssh_deferred)
		(void)ssh_init_real(ssh_flags); /* libssh2 tries again at its first session */
	if (deferred[0])
		ca_rc = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, deferred, NULL);
}

int fl_git_load_ca(void)
{
	int rc = fl_git_init();

	if (rc < 0)
		return rc;
	pthread_once(&ca_once, load_ca);
	return ca_rc;
}

struct fl_git_ca_state fl_git_ca_state(void)
{
	return (struct fl_git_ca_state){ .deferred = deferred[0] ? deferred : NULL,
					 .parsed = parsed,
					 .ssh_deferred = ssh_deferred,
					 .ssh_started = ssh_started };
}
