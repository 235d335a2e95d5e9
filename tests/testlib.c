/* Helpers shared by the unit tests; see testlib.h. */
#include "tests/testlib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/git.h"
#include "core/banned.h"

void fl_test_run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

bool fl_test_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

void fl_test_capture(struct fl_buf *out, const char *fmt, ...)
{
	char cmd[4096], chunk[4096];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	int len = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(len > 0 && (size_t)len < sizeof(cmd));
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(fl_buf_put(out, chunk, n), 0);
	if (pclose(f) != 0)
		fail_msg("command failed: %s", cmd);
	if (out->len && out->ptr[out->len - 1] == '\n')
		fl_buf_truncate(out, out->len - 1);
}

void fl_test_parse_oid(struct fl_oid *out, const char *hex)
{
	assert_int_equal(strlen(hex), FL_OID_HEX_LEN);
	for (size_t i = 0; i < sizeof(out->id); i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out->id[i] = (unsigned char)v;
	}
}

int fl_test_git_home(char *root, size_t cap, const char *name)
{
	int n = snprintf(root, cap, "/tmp/fl-test-%s.XXXXXX", name);
	if (n < 0 || (size_t)n >= cap || !mkdtemp(root))
		return -1;
	setenv("HOME", root, 1);
	setenv("XDG_CONFIG_HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	return 0;
}

void fl_test_server_script(char *out, size_t cap, const char *name)
{
	const char *fixtures = getenv("FL_FIXTURES");
	if (fixtures) {
		snprintf(out, cap, "%s/../tests/servers/%s", fixtures, name);
		if (access(out, R_OK) == 0)
			return;
	}
	const char *here = __FILE__;
	const char *slash = strstr(here, "testlib.c");
	snprintf(out, cap, "%.*sservers/%s", slash ? (int)(slash - here) : 0, here, name);
}

int fl_test_server_start(struct fl_test_server *s, const char *script, const char *const *extra)
{
	int in[2], out[2];
	const char *argv[16] = { "python3", script };
	size_t argc = 2;
	for (; extra && *extra && argc < sizeof(argv) / sizeof(argv[0]) - 1; extra++)
		argv[argc++] = *extra;
	argv[argc] = NULL;

	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->in_fd = in[1];
	FILE *f = fdopen(out[0], "r");
	char line[64];
	s->port = 0;
	if (f && fgets(line, sizeof(line), f))
		sscanf(line, "PORT %d", &s->port);
	if (f)
		fclose(f);
	return s->port > 0 ? 0 : -1;
}

void fl_test_server_stop(struct fl_test_server *s)
{
	if (s->pid <= 0)
		return;
	close(s->in_fd);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

int fl_test_certs_make(struct fl_test_certs *c, const char *prefix)
{
	char cmd[2048];
	snprintf(c->dir, sizeof(c->dir), "/tmp/fl-test-%s-XXXXXX", prefix);
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->ca_pem, sizeof(c->ca_pem), "%s/ca.pem", c->dir);
	snprintf(c->server_pem, sizeof(c->server_pem), "%s/server.pem", c->dir);
	snprintf(c->server_key, sizeof(c->server_key), "%s/server.key", c->dir);
	snprintf(c->client_pem, sizeof(c->client_pem), "%s/client.pem", c->dir);
	snprintf(c->client_key, sizeof(c->client_key), "%s/client.key", c->dir);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && exec >openssl.log 2>&1 && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "  -keyout ca.key -out ca.pem -days 2 -subj /CN=flotilla-test-ca "
		 "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
		 "&& "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "  -CA ca.pem -CAkey ca.key -keyout server.key -out server.pem -days 2 -subj /CN=127.0.0.1 "
		 "  -addext subjectAltName=IP:127.0.0.1,DNS:localhost -addext basicConstraints=CA:FALSE "
		 "  -addext extendedKeyUsage=serverAuth && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "  -CA ca.pem -CAkey ca.key -keyout client.key -out client.pem -days 2 -subj "
		 "/CN=flotilla-client "
		 "  -addext basicConstraints=CA:FALSE -addext extendedKeyUsage=clientAuth",
		 c->dir);
	int rc = system(cmd);
	return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -1;
}
