/*
 * sigv4_sign: signs one request with core/sigv4.c for tests/e2e/sigv4_botocore.sh,
 * which signs the same request with botocore and compares. The request comes
 * from the arguments, the payload from standard input; prints the headers to
 * add ("Name: value", one a line) and then "Query: " and the query string.
 *
 *   sigv4_sign --method M --host H --path P --region R --service S --when EPOCH
 *              --key ID --secret KEY [--token T] [--s3] [--content-sha256]
 *              [--query NAME VALUE]... [--header NAME VALUE]...  < payload
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/sigv4.h"
#include "core/banned.h"

#define PARAMS_MAX 32

static int usage(const char *why)
{
	fprintf(stderr, "sigv4_sign: %s\n", why);
	return 2;
}

static int read_payload(struct fl_buf *out)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (fl_buf_put(out, chunk, n) < 0)
			return -1;
	return ferror(stdin) ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct fl_sigv4_param query[PARAMS_MAX], headers[PARAMS_MAX];
	struct fl_sigv4_request req = { .query = query, .headers = headers, .path = "" };
	struct fl_sigv4_credentials cred = { 0 };
	struct fl_sigv4_scope scope = { 0 };
	struct fl_sigv4_signed s;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf payload = FL_BUF_INIT;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool one = i + 1 < argc, two = i + 2 < argc;
		if (strcmp(a, "--s3") == 0)
			scope.flags |= FL_SIGV4_S3_PATH | FL_SIGV4_CONTENT_SHA256;
		else if (strcmp(a, "--content-sha256") == 0)
			scope.flags |= FL_SIGV4_CONTENT_SHA256;
		else if (strcmp(a, "--query") == 0 && two && req.query_len < PARAMS_MAX) {
			query[req.query_len++] = (struct fl_sigv4_param){ argv[i + 1], argv[i + 2] };
			i += 2;
		} else if (strcmp(a, "--header") == 0 && two && req.headers_len < PARAMS_MAX) {
			headers[req.headers_len++] = (struct fl_sigv4_param){ argv[i + 1], argv[i + 2] };
			i += 2;
		} else if (!one)
			return usage("an option is missing its value, or unknown");
		else if (strcmp(a, "--method") == 0)
			req.method = argv[++i];
		else if (strcmp(a, "--host") == 0)
			req.host = argv[++i];
		else if (strcmp(a, "--path") == 0)
			req.path = argv[++i];
		else if (strcmp(a, "--region") == 0)
			scope.region = argv[++i];
		else if (strcmp(a, "--service") == 0)
			scope.service = argv[++i];
		else if (strcmp(a, "--when") == 0)
			scope.when = (time_t)strtoll(argv[++i], NULL, 10);
		else if (strcmp(a, "--key") == 0)
			cred.access_key_id = argv[++i];
		else if (strcmp(a, "--secret") == 0)
			cred.secret_access_key = argv[++i];
		else if (strcmp(a, "--token") == 0)
			cred.session_token = argv[++i];
		else
			return usage("unknown option");
	}
	if (read_payload(&payload) < 0)
		return usage("cannot read the payload from standard input");
	req.payload = payload.ptr;
	req.payload_len = payload.len;

	rc = fl_sigv4_sign(&s, &req, &cred, &scope, &err);
	if (rc == 0) {
		for (size_t i = 0; i < s.headers_len; i++)
			printf("%s: %s\n", s.headers[i].name, s.headers[i].value);
		printf("Query: %s\n", s.query.ptr);
	} else {
		fprintf(stderr, "sigv4_sign: %s\n", err.msg);
	}
	fl_sigv4_signed_release(&s);
	fl_buf_release(&payload);
	return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}
