/*
 * The Cloud Control API over JSON 1.0: requests built and ProgressEvents
 * read here, operations waited on by polling. See aws_cloudcontrol.h.
 */
#include "core/aws_cloudcontrol.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/node.h"
#include "core/banned.h"


void fl_cc_client_token(char out[33], const char *const *parts, size_t nparts)
{
	struct fl_hasher h;
	struct fl_fp fp;
	fl_hasher_init(&h);
	for (size_t i = 0; i < nparts; i++)
		fl_hasher_update_field(&h, parts[i], strlen(parts[i]));
	fl_hasher_final(&fp, &h);
	fl_hasher_release(&h);
	fl_fp_hex(out, &fp);
}

static void put_member(struct fl_buf *b, const char *name, const char *value, size_t len)
{
	fl_buf_putc(b, b->len > 1 ? ',' : '{');
	fl_json_put_str(b, name, strlen(name));
	fl_buf_putc(b, ':');
	fl_json_put_str(b, value, len);
}

static const char *str_member(const struct fl_node *map, const char *key)
{
	const struct fl_node *v = map && map->type == FL_NODE_MAP ? fl_node_get(map, key) : NULL;
	return v && v->type == FL_NODE_STR ? v->v.str.ptr : NULL;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* Sends operation with body; the parsed answer's root into *root (in arena). */
static int call(const struct fl_node **root, struct fl_arena *arena, struct fl_aws_answer *ans,
		const struct fl_cc *cc, const char *operation, const struct fl_buf *body, struct fl_error *err)
{
	struct fl_aws_call c = { cc->ep, cc->creds, operation, body->ptr, body->len, { 0 }, 0 };
	struct fl_node *node = NULL;
	int rc = fl_aws_call(ans, &c, err);
	if (rc)
		return rc;
	struct fl_source src = { "answer", ans->body.ptr, ans->body.len };
	struct fl_error jerr = FL_ERROR_INIT;
	if (fl_json_parse(&node, arena, &src, &jerr) || node->type != FL_NODE_MAP)
		return fl_error_set(err, FL_EIO, "Cloud Control %s: the answer is not a JSON object", operation);
	*root = node;
	return 0;
}

static int read_event(struct fl_cc_event *ev, const struct fl_node *root, const char *operation,
		      struct fl_error *err)
{
	const struct fl_node *pe = fl_node_get(root, "ProgressEvent");
	const char *token = str_member(pe, "RequestToken");
	const char *status = str_member(pe, "OperationStatus");
	if (!token || !*token || strlen(token) >= sizeof(ev->request_token) || !status)
		return fl_error_set(err, FL_EIO, "Cloud Control %s: the answer has no ProgressEvent with a "
				    "RequestToken and an OperationStatus", operation);
	copy(ev->request_token, sizeof(ev->request_token), token);
	copy(ev->status, sizeof(ev->status), status);
	const char *id = str_member(pe, "Identifier");
	if (id && strlen(id) >= sizeof(ev->identifier))
		return fl_error_set(err, FL_EIO, "Cloud Control %s: the resource's Identifier is too long", operation);
	if (id)
		copy(ev->identifier, sizeof(ev->identifier), id);
	const struct fl_node *after = fl_node_get(pe, "RetryAfter");
	if (after && after->type == FL_NODE_FLOAT)
		ev->retry_after = after->v.f;
	else if (after && after->type == FL_NODE_INT)
		ev->retry_after = (double)after->v.i;
	copy(ev->error_code, sizeof(ev->error_code), str_member(pe, "ErrorCode"));
	copy(ev->message, sizeof(ev->message), str_member(pe, "StatusMessage"));
	return 0;
}

/* Sends a mutation and reads its first event. */
static int mutate(struct fl_cc_event *ev, const struct fl_cc *cc, const char *operation,
		  const struct fl_buf *body, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_aws_answer ans;
	const struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);
	fl_aws_answer_init(&ans);
	memset(ev, 0, sizeof(*ev));
	int rc = call(&root, &arena, &ans, cc, operation, body, err);
	if (!rc)
		rc = read_event(ev, root, operation, err);
	fl_aws_answer_release(&ans);
	fl_arena_release(&arena);
	return rc;
}

int fl_cc_create(struct fl_cc_event *ev, const struct fl_cc *cc, const char *type, const char *desired,
		 size_t desired_len, const char *client_token, struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	put_member(&b, "ClientToken", client_token, strlen(client_token));
	put_member(&b, "DesiredState", desired, desired_len);
	put_member(&b, "TypeName", type, strlen(type));
	fl_buf_putc(&b, '}');
	int rc = mutate(ev, cc, "CreateResource", &b, err);
	fl_buf_release(&b);
	return rc;
}

int fl_cc_update(struct fl_cc_event *ev, const struct fl_cc *cc, const char *type, const char *identifier,
		 const char *patch, size_t patch_len, const char *client_token, struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	put_member(&b, "ClientToken", client_token, strlen(client_token));
	put_member(&b, "Identifier", identifier, strlen(identifier));
	put_member(&b, "PatchDocument", patch, patch_len);
	put_member(&b, "TypeName", type, strlen(type));
	fl_buf_putc(&b, '}');
	int rc = mutate(ev, cc, "UpdateResource", &b, err);
	fl_buf_release(&b);
	return rc;
}

int fl_cc_delete(struct fl_cc_event *ev, const struct fl_cc *cc, const char *type, const char *identifier,
		 const char *client_token, struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	put_member(&b, "ClientToken", client_token, strlen(client_token));
	put_member(&b, "Identifier", identifier, strlen(identifier));
	put_member(&b, "TypeName", type, strlen(type));
	fl_buf_putc(&b, '}');
	int rc = mutate(ev, cc, "DeleteResource", &b, err);
	fl_buf_release(&b);
	return rc;
}

int fl_cc_get(struct fl_buf *props, bool *found, const struct fl_cc *cc, const char *type,
	      const char *identifier, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_aws_answer ans;
	struct fl_buf b = FL_BUF_INIT;
	const struct fl_node *root = NULL;
	struct fl_error cerr = FL_ERROR_INIT;
	*found = false;
	fl_arena_init(&arena, 0);
	fl_aws_answer_init(&ans);
	put_member(&b, "Identifier", identifier, strlen(identifier));
	put_member(&b, "TypeName", type, strlen(type));
	fl_buf_putc(&b, '}');
	int rc = call(&root, &arena, &ans, cc, "GetResource", &b, &cerr);
	if (rc && strcmp(ans.code, "ResourceNotFoundException") == 0) {
		rc = 0;
		goto out;
	}
	if (rc) {
		*err = cerr;
		goto out;
	}
	const char *p = str_member(fl_node_get(root, "ResourceDescription"), "Properties");
	if (!p) {
		rc = fl_error_set(err, FL_EIO, "Cloud Control GetResource: the answer has no "
				  "ResourceDescription.Properties");
		goto out;
	}
	fl_buf_clear(props);
	if ((rc = fl_buf_puts(props, p))) {
		fl_error_set(err, rc, "Cloud Control GetResource: the properties of %s exceed the limit", type);
		goto out;
	}
	*found = true;
out:
	fl_buf_release(&b);
	fl_aws_answer_release(&ans);
	fl_arena_release(&arena);
	return rc;
}

/* Milliseconds until the event's RetryAfter (0 when past), or -1 when it has none. */
static long long until_retry_after(const struct fl_cc_event *ev)
{
	struct timespec now;
	if (ev->retry_after <= 0 || clock_gettime(CLOCK_REALTIME, &now) != 0)
		return -1;
	double ms = (ev->retry_after - (double)now.tv_sec - (double)now.tv_nsec / 1e9) * 1000.0;
	return ms > 0 ? (long long)ms : 0;
}

static bool finished(const struct fl_cc_event *ev)
{
	return strcmp(ev->status, "SUCCESS") == 0 || strcmp(ev->status, "FAILED") == 0 ||
	       strcmp(ev->status, "CANCEL_COMPLETE") == 0;
}

static int outcome(const struct fl_cc_event *ev, struct fl_error *err)
{
	if (strcmp(ev->status, "SUCCESS") == 0)
		return 0;
	if (strcmp(ev->status, "FAILED") == 0)
		return fl_error_set(err, FL_EREFUSED, "%s: %s", ev->error_code[0] ? ev->error_code : "(no ErrorCode)",
				    ev->message);
	return fl_error_set(err, FL_EREFUSED, "the operation ended %s", ev->status);
}

int fl_cc_wait(struct fl_cc_event *ev, const struct fl_cc *cc, struct fl_error *err)
{
	struct fl_aws_poll poll;
	char token[sizeof(ev->request_token)];
	copy(token, sizeof(token), ev->request_token);
	fl_aws_poll_start(&poll, cc->poll_ms, cc->poll_max_ms, cc->timeout_s);
	while (!finished(ev)) {
		if (!fl_aws_poll_wait(&poll, until_retry_after(ev)))
			return fl_error_set(err, FL_EIO, "Cloud Control: request %s still %s after %us", token,
					    ev->status, poll.timeout_s);
		struct fl_buf b = FL_BUF_INIT;
		put_member(&b, "RequestToken", token, strlen(token));
		fl_buf_putc(&b, '}');
		int rc = mutate(ev, cc, "GetResourceRequestStatus", &b, err);
		fl_buf_release(&b);
		if (rc)
			return rc;
	}
	return outcome(ev, err);
}
