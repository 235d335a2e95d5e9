/*
 * The aws driver (SPEC 8a): each tenant's account reached with a role
 * assumed per tenant (STS AssumeRole, cached for the run), its identity
 * from sts:GetCallerIdentity, its resources managed through Cloud Control
 * (every kind is a CloudFormation type name), and the marker with the map
 * of identifiers in a state parameter per region, written last
 * (driver_aws_state.c). One operation at a time per tenant, in the order
 * the write gives; every mutation waits until the service reports it done.
 */
#include "reconcile/drivers/driver_aws.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/aws_sts.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/json_patch.h"
#include "reconcile/drivers/driver_answer.h"
#include "reconcile/drivers/driver_conf.h"
#include "reconcile/fleet/check.h"
#include "reconcile/fleet/syntax.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

#define DEFAULT_SESSION "flotilla-{{tenant.name}}"
#define DEFAULT_STATE "/flotilla/state"
#define DEFAULT_DURATION_S 3600
#define DEFAULT_POLL_S 1
#define MAX_REGIONS 64
/*
 * How long a state read by a plan is used again instead of asking (the
 * marker, the regions and observe of one tenant read the same parameter).
 * An apply always reads it afresh, and keeps what it wrote.
 */
#define STATE_CACHE_MS 30000

/* A state parameter's Value as last read or written. */
struct cached_state {
	char *region;
	char *value; /* NULL: no parameter */
	long long at_ms;
};

/* A tenant's credentials for the run, the account they were seen to act in, its states. */
struct session {
	char *tenant;
	struct fl_aws_creds_packed creds; /* buf NULL: none yet */
	char account[FL_AWS_ACCOUNT_LEN + 1]; /* "" until GetCallerIdentity answered */
	struct cached_state *cache;
	size_t ncache;
};

struct aws_driver {
	char *role, *external_id, *session_name, *state_parameter;
	unsigned duration_s, poll_s;
	struct fl_aws_creds_provider *base;
	pthread_mutex_t lock;
	struct session *sessions; /* open addressing by tenant name */
	size_t nsessions, cap;
};

/* ---- sessions ---- */

static size_t slot_of(const struct aws_driver *d, const char *tenant)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = tenant; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	size_t i = (size_t)h & (d->cap - 1);
	while (d->sessions[i].tenant && strcmp(d->sessions[i].tenant, tenant) != 0)
		i = (i + 1) & (d->cap - 1);
	return i;
}

/* The session of tenant, created empty; under d->lock. */
static struct session *session_of(struct aws_driver *d, const char *tenant)
{
	if (2 * (d->nsessions + 1) > d->cap) {
		struct session *old = d->sessions;
		size_t oldcap = d->cap;
		d->cap = oldcap ? oldcap * 2 : 64;
		d->sessions = fl_calloc(d->cap, sizeof(*d->sessions));
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].tenant)
				d->sessions[slot_of(d, old[i].tenant)] = old[i];
		free(old);
	}
	struct session *s = &d->sessions[slot_of(d, tenant)];
	if (!s->tenant) {
		s->tenant = fl_strdup(tenant);
		d->nsessions++;
	}
	return s;
}

static int expand(struct fl_buf *out, const char *tmpl, const char *key, const struct fl_tenant *t,
		  struct fl_error *err)
{
	char where[32];
	struct fl_template_tenant names = { t, NULL, false, false, where };
	snprintf(where, sizeof(where), "driver %s", key);
	return fl_template_expand(out, tmpl, where, fl_template_tenant_lookup, &names, err);
}

static int sts_endpoint(struct fl_aws_endpoint *ep, const struct fl_tenant *t, struct fl_error *err)
{
	return fl_aws_endpoint_resolve(ep, &fl_aws_env_process, FL_AWS_STS, t->regions[0], err);
}

/* Assumes the tenant's role with the base credentials into out. */
static int assume(struct fl_aws_creds *out, struct aws_driver *d, const struct fl_tenant *t,
		  struct fl_error *err)
{
	struct fl_buf role = FL_BUF_INIT, ext = FL_BUF_INIT, name = FL_BUF_INIT;
	struct fl_aws_creds *base = fl_calloc(1, sizeof(*base));
	struct fl_aws_endpoint ep;
	int rc = fl_aws_creds_get(base, d->base, fl_now(), err);
	if (rc) {
		fl_error_prefix(err, "AWS credentials: ");
		goto out;
	}
	if (!d->role) {
		*out = *base;
		goto out;
	}
	if ((rc = expand(&role, d->role, "role", t, err)) ||
	    (d->external_id && (rc = expand(&ext, d->external_id, "external_id", t, err))) ||
	    (rc = expand(&name, d->session_name, "session_name", t, err)) || (rc = sts_endpoint(&ep, t, err)))
		goto out;
	struct fl_aws_assume a = { role.ptr, name.ptr, d->external_id ? ext.ptr : NULL, d->duration_s };
	if ((rc = fl_aws_assume_role(out, &ep, base, &a, err)))
		fl_error_prefix(err, "assuming role %.200s: ", role.ptr);
out:
	fl_aws_creds_wipe(base);
	free(base);
	fl_buf_release(&role);
	fl_buf_release(&ext);
	fl_buf_release(&name);
	return rc;
}

static bool fresh(long long expiration)
{
	return expiration == 0 || expiration - fl_now() > FL_AWS_CREDS_REFRESH_S;
}

/*
 * The tenant's credentials into out, assumed again when they are about to
 * expire; *account gets the account they were seen to act in ("" if not yet).
 */
static int creds_of(struct fl_aws_creds *out, char account[FL_AWS_ACCOUNT_LEN + 1], struct aws_driver *d,
		    const struct fl_tenant *t, struct fl_error *err)
{
	pthread_mutex_lock(&d->lock);
	struct session *s = session_of(d, t->name);
	bool have = s->creds.buf && fresh(s->creds.expiration);
	if (have) {
		fl_aws_creds_unpack(out, &s->creds);
		memcpy(account, s->account, sizeof(s->account));
	}
	pthread_mutex_unlock(&d->lock);
	if (have)
		return 0;
	int rc = assume(out, d, t, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&d->lock);
	s = session_of(d, t->name);
	fl_aws_creds_pack(&s->creds, out);
	/* New credentials: which account they act in is asked again. */
	s->account[0] = '\0';
	account[0] = '\0';
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void remember_account(struct aws_driver *d, const struct fl_tenant *t, const char *account)
{
	pthread_mutex_lock(&d->lock);
	memcpy(session_of(d, t->name)->account, account, FL_AWS_ACCOUNT_LEN + 1);
	pthread_mutex_unlock(&d->lock);
}

/* The cached state of region, for lookups under d->lock. */
static struct cached_state *cache_slot(struct session *s, const char *region)
{
	for (size_t i = 0; i < s->ncache; i++)
		if (strcmp(s->cache[i].region, region) == 0)
			return &s->cache[i];
	s->cache = fl_reallocarray(s->cache, s->ncache + 1, sizeof(*s->cache));
	s->cache[s->ncache] = (struct cached_state){ fl_strdup(region), NULL, -1 };
	return &s->cache[s->ncache++];
}

/* A state read less than STATE_CACHE_MS ago into value (*exists false: none); false when there is none. */
static bool cache_get(struct fl_buf *value, bool *exists, struct aws_driver *d, const struct fl_tenant *t,
		      const char *region)
{
	pthread_mutex_lock(&d->lock);
	struct cached_state *c = cache_slot(session_of(d, t->name), region);
	bool hit = c->at_ms >= 0 && fl_mono_ms() - c->at_ms < STATE_CACHE_MS;
	if (hit) {
		*exists = c->value != NULL;
		fl_buf_clear(value);
		fl_buf_puts(value, c->value ? c->value : "");
	}
	pthread_mutex_unlock(&d->lock);
	return hit;
}

/* Remembers the state of region: value (NULL: no parameter), or nothing when forget. */
static void cache_put(struct aws_driver *d, const struct fl_tenant *t, const char *region, const char *value,
		      bool forget)
{
	pthread_mutex_lock(&d->lock);
	struct cached_state *c = cache_slot(session_of(d, t->name), region);
	free(c->value);
	c->value = value ? fl_strdup(value) : NULL;
	c->at_ms = forget ? -1 : fl_mono_ms();
	pthread_mutex_unlock(&d->lock);
}

/* ---- one operation on one tenant-region ---- */

struct op {
	struct aws_driver *d;
	const struct fl_tenant *t;
	const char *region;
	struct fl_aws_creds creds;
	char account[FL_AWS_ACCOUNT_LEN + 1];
	struct fl_aws_endpoint ep;
	struct fl_cc cc;
};

static void prefix(struct fl_error *err, const char *what, const struct op *o)
{
	if (o->region)
		fl_error_prefix(err, "aws %s of tenant '%s' in region '%s': ", what, o->t->name, o->region);
	else
		fl_error_prefix(err, "aws %s of tenant '%s': ", what, o->t->name);
}

static void op_release(struct op *o)
{
	fl_aws_creds_wipe(&o->creds);
}

/* The account the op's credentials act in, asked once per set of credentials. */
static int op_account(struct op *o, struct fl_error *err)
{
	struct fl_aws_endpoint sts;
	if (o->account[0])
		return 0;
	int rc = sts_endpoint(&sts, o->t, err);
	if (!rc)
		rc = fl_aws_caller_account(o->account, &sts, &o->creds, err);
	if (!rc)
		remember_account(o->d, o->t, o->account);
	return rc;
}

/*
 * Credentials and the Cloud Control endpoint for region (NULL: none). With
 * must_match, the credentials must act in the manifest's account: nothing is
 * read from or written to another account.
 */
static int op_init(struct op *o, struct aws_driver *d, const struct fl_tenant *t, const char *region,
		   bool must_match, struct fl_error *err)
{
	memset(o, 0, sizeof(*o));
	o->d = d;
	o->t = t;
	o->region = region;
	int rc = creds_of(&o->creds, o->account, d, t, err);
	if (!rc && must_match && !(rc = op_account(o, err)) && strcmp(o->account, t->account) != 0)
		rc = fl_error_set(err, FL_EIDENTITY,
				  "the role lands in account %s, but the manifest names %s: nothing is written",
				  o->account, t->account);
	if (!rc && region)
		rc = fl_aws_endpoint_resolve(&o->ep, &fl_aws_env_process, FL_AWS_CLOUDCONTROL, region, err);
	o->cc = (struct fl_cc){ &o->ep, &o->creds, d->poll_s * 1000, 0, 0 };
	return rc;
}

/* The region's state, from what this run read or wrote a moment ago, else from the account. */
static int read_state(struct fl_aws_state *st, struct op *o, struct fl_error *err)
{
	struct fl_buf value = FL_BUF_INIT;
	bool exists = false;
	int rc = 0;
	if (!cache_get(&value, &exists, o->d, o->t, o->region)) {
		rc = fl_aws_state_fetch(&value, &exists, &o->cc, o->d->state_parameter, err);
		if (!rc)
			cache_put(o->d, o->t, o->region, exists ? value.ptr : NULL, false);
	}
	if (!rc)
		rc = fl_aws_state_load(st, exists ? value.ptr : NULL, o->d->state_parameter, err);
	fl_buf_release(&value);
	return rc;
}

/* ---- identity, observe, marker, regions ---- */

static int aws_identity(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			struct fl_error *err)
{
	struct op o;
	*found = false;
	int rc = op_init(&o, self, tenant, NULL, false, err);
	if (!rc)
		rc = op_account(&o, err);
	if (!rc) {
		fl_buf_clear(account);
		fl_buf_puts(account, o.account);
		*found = true;
	}
	if (rc)
		prefix(err, "identity", &o);
	op_release(&o);
	return rc;
}

/* Appends one observed resource, its spec projected on the properties flotilla sets. */
static int observe_one(struct fl_buf *list, struct op *o, const struct fl_aws_res *r, struct fl_error *err)
{
	struct fl_buf props = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_node *root = NULL;
	bool found = false;
	fl_arena_init(&arena, 0);
	int rc = fl_cc_get(&props, &found, &o->cc, r->kind, r->id, err);
	if (rc || !found)
		goto out;
	struct fl_source src = { r->id, props.ptr, props.len };
	struct fl_error jerr = FL_ERROR_INIT;
	if (fl_json_parse(&root, &arena, &src, &jerr) || root->type != FL_NODE_MAP) {
		rc = fl_error_set(err, FL_EDRIVER, "the properties of %s/%s are not a JSON object", r->kind, r->name);
		goto out;
	}
	fl_buf_puts(list, list->len > 1 ? ",{\"kind\":" : "{\"kind\":");
	fl_json_put_str(list, r->kind, strlen(r->kind));
	fl_buf_puts(list, ",\"managed\":true,\"name\":");
	fl_json_put_str(list, r->name, strlen(r->name));
	fl_buf_puts(list, ",\"spec\":");
	rc = fl_json_canonical(list, fl_aws_project(&arena, root, r->keys, r->nkeys), err);
	fl_buf_putc(list, '}');
out:
	fl_arena_release(&arena);
	fl_buf_release(&props);
	return rc;
}

static int observe_all(struct fl_observed *out, struct op *o, struct fl_aws_state *st, struct fl_error *err)
{
	struct fl_buf list = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_node *root = NULL;
	int rc = 0;
	fl_arena_init(&arena, 0);
	fl_buf_putc(&list, '[');
	for (size_t i = 0; !rc && i < st->nres; i++)
		rc = observe_one(&list, o, &st->res[i], err);
	fl_buf_putc(&list, ']');
	struct fl_source src = { "observed", list.ptr, list.len };
	if (!rc && !(rc = fl_json_parse(&root, &arena, &src, err)))
		rc = fl_answer_resources(out, root, true, err);
	fl_arena_release(&arena);
	fl_buf_release(&list);
	return rc;
}

static int aws_observe(void *self, const struct fl_tenant *tenant, const char *region, struct fl_observed *out,
		       struct fl_error *err)
{
	struct aws_driver *d = self;
	struct fl_aws_state st;
	struct op o;
	fl_aws_state_init(&st);
	fl_observed_clear(out);
	int rc = op_init(&o, d, tenant, region, true, err);
	if (!rc)
		rc = read_state(&st, &o, err);
	if (!rc && st.exists) {
		out->exists = true;
		out->has_marker = st.has_marker;
		out->marker = st.marker;
		rc = observe_all(out, &o, &st, err);
	}
	if (rc)
		prefix(err, "observe", &o);
	fl_aws_state_release(&st);
	op_release(&o);
	return rc;
}

static int aws_marker(void *self, const struct fl_tenant *tenant, const char *region, struct fl_marker *out,
		      bool *found, struct fl_error *err)
{
	struct aws_driver *d = self;
	struct fl_aws_state st;
	struct op o;
	fl_aws_state_init(&st);
	*found = false;
	int rc = op_init(&o, d, tenant, region, true, err);
	if (!rc)
		rc = read_state(&st, &o, err);
	if (!rc && st.has_marker) {
		*out = st.marker;
		*found = true;
	}
	if (rc)
		prefix(err, "marker", &o);
	fl_aws_state_release(&st);
	op_release(&o);
	return rc;
}

static bool listed(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/*
 * The tenant's regions and every region a state parameter names (a region
 * removed from the manifest still holds resources until they are deleted);
 * cb gets those that hold state.
 */
static int aws_regions(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
		       struct fl_error *err)
{
	struct aws_driver *d = self;
	struct fl_arena names;
	const char *todo[MAX_REGIONS];
	size_t n = 0;
	int rc = 0;
	fl_arena_init(&names, 0);
	for (size_t i = 0; i < tenant->nregions && n < MAX_REGIONS; i++)
		if (!listed(todo, n, tenant->regions[i]))
			todo[n++] = tenant->regions[i];
	for (size_t i = 0; !rc && i < n; i++) {
		struct fl_aws_state st;
		struct op o;
		fl_aws_state_init(&st);
		rc = op_init(&o, d, tenant, todo[i], true, err);
		if (!rc)
			rc = read_state(&st, &o, err);
		if (rc)
			prefix(err, "regions", &o);
		for (size_t k = 0; !rc && k < st.nregions && n < MAX_REGIONS; k++)
			if (!listed(todo, n, st.regions[k]))
				todo[n++] = fl_arena_strdup(&names, st.regions[k]);
		if (!rc && st.exists)
			rc = cb(todo[i], payload);
		fl_aws_state_release(&st);
		op_release(&o);
	}
	fl_arena_release(&names);
	return rc;
}

/* ---- apply ---- */

struct write {
	struct op o;
	struct fl_aws_state st;
	const char *seed[3]; /* revision, tenant, region */
	char generation[24];
};

static void op_token(char out[33], const struct write *w, const char *kind, const char *name, const char *op)
{
	const char *parts[] = { w->seed[0], w->seed[1], w->seed[2], kind, name, op, w->generation };
	fl_cc_client_token(out, parts, sizeof(parts) / sizeof(parts[0]));
}

static int parse_spec(struct fl_node **out, struct fl_arena *arena, const char *what, const char *json,
		      size_t len, struct fl_error *err)
{
	struct fl_source src = { what, json, len };
	return fl_json_parse(out, arena, &src, err);
}

static int create(struct write *w, const struct fl_put_res *p, const struct fl_node *spec, struct fl_error *err)
{
	struct fl_cc_event ev;
	char tok[33];
	op_token(tok, w, p->kind, p->name, "create");
	int rc = fl_cc_create(&ev, &w->o.cc, p->kind, p->spec, p->spec_len, tok, err);
	if (!rc)
		rc = fl_cc_wait(&ev, &w->o.cc, err);
	if (!rc && !ev.identifier[0])
		rc = fl_error_set(err, FL_EDRIVER, "the service gave no Identifier");
	if (!rc)
		fl_aws_state_put(&w->st, p->kind, p->name, ev.identifier, spec);
	return rc;
}

/*
 * Patches the resource from what it holds now (on the properties flotilla
 * set) to spec, after checking that this is what the plan saw. A resource
 * that holds spec already is done: another run made this very change.
 */
static int update(struct write *w, const struct fl_put_res *p, const struct fl_aws_res *r, const struct fl_node *props,
		  const struct fl_node *spec, struct fl_arena *arena, struct fl_error *err)
{
	struct fl_buf now = FL_BUF_INIT, patch = FL_BUF_INIT;
	struct fl_cc_event ev;
	struct fl_fp fp;
	char tok[33];
	const struct fl_node *held = fl_aws_project(arena, props, r->keys, r->nkeys);
	int rc = fl_json_canonical(&now, held, err);
	if (rc || (rc = fl_json_patch_diff(&patch, held, spec, err)))
		goto out;
	fl_fp_of(&fp, now.ptr, now.len);
	bool done = strcmp(patch.ptr, "[]") == 0;
	if (!done && p->if_match && !fl_fp_equal(&fp, p->if_match)) {
		rc = fl_error_set(err, FL_EDRIVER, "it changed since the plan was made; plan again");
		goto out;
	}
	if (!done) {
		op_token(tok, w, p->kind, p->name, "update");
		if (!(rc = fl_cc_update(&ev, &w->o.cc, p->kind, r->id, patch.ptr, patch.len, tok, err)))
			rc = fl_cc_wait(&ev, &w->o.cc, err);
	}
	if (!rc)
		fl_aws_state_put(&w->st, p->kind, p->name, r->id, spec);
out:
	fl_buf_release(&now);
	fl_buf_release(&patch);
	return rc;
}

/* Creates or updates one resource: an identifier on record that still exists is updated. */
static int put(struct write *w, const struct fl_put_res *p, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_buf props = FL_BUF_INIT;
	struct fl_node *spec = NULL, *held = NULL;
	struct fl_aws_res *r = fl_aws_state_find(&w->st, p->kind, p->name);
	bool found = false;
	fl_arena_init(&arena, 0);
	int rc = parse_spec(&spec, &arena, "spec", p->spec, p->spec_len, err);
	if (!rc && spec->type != FL_NODE_MAP)
		rc = fl_error_set(err, FL_EINPUT, "the spec of a Cloud Control resource must be a mapping");
	if (!rc && r)
		rc = fl_cc_get(&props, &found, &w->o.cc, p->kind, r->id, err);
	if (!rc && found && !(rc = parse_spec(&held, &arena, r->id, props.ptr, props.len, err)))
		rc = update(w, p, r, held, spec, &arena, err);
	else if (!rc)
		rc = create(w, p, spec, err);
	if (rc)
		fl_error_prefix(err, "%s/%s: ", p->kind, p->name);
	fl_buf_release(&props);
	fl_arena_release(&arena);
	return rc;
}

static int del(struct write *w, const struct fl_res_key *k, struct fl_error *err)
{
	const struct fl_aws_res *r = fl_aws_state_find(&w->st, k->kind, k->name);
	struct fl_cc_event ev;
	char tok[33];
	/* Only what flotilla created is deleted, and it knows only those identifiers. */
	if (!r)
		return 0;
	op_token(tok, w, k->kind, k->name, "delete");
	int rc = fl_cc_delete(&ev, &w->o.cc, k->kind, r->id, tok, err);
	if (!rc && (rc = fl_cc_wait(&ev, &w->o.cc, err)) && strcmp(ev.error_code, "NotFound") == 0)
		rc = 0;
	if (rc)
		fl_error_prefix(err, "deleting %s/%s: ", k->kind, k->name);
	else
		fl_aws_state_remove(&w->st, k->kind, k->name);
	return rc;
}

/* The state last: the new marker, or no parameter at all for a decommissioned tenant. */
static int write_state(struct write *w, const struct fl_region_write *rw, struct fl_error *err)
{
	struct fl_buf written = FL_BUF_INIT;
	bool gone = w->o.t->state == FL_TENANT_DECOMMISSIONED && w->st.nres == 0;
	int rc;
	if (gone) {
		rc = w->st.exists ? fl_aws_state_delete(&w->st, &w->o.cc, w->o.d->state_parameter, w->seed, err) : 0;
	} else {
		w->st.has_marker = true;
		w->st.marker = *rw->marker;
		for (size_t i = 0; i < w->o.t->nregions; i++)
			fl_aws_state_add_region(&w->st, w->o.t->regions[i]);
		rc = fl_aws_state_write(&written, &w->st, &w->o.cc, w->o.d->state_parameter, w->seed, err);
	}
	cache_put(w->o.d, w->o.t, w->o.region, gone ? NULL : written.ptr, rc != 0);
	fl_buf_release(&written);
	return rc;
}

/*
 * Creates and updates in release order, then deletes, one at a time; the
 * state last. A failure still records what was done (the identifiers of
 * what was created, the old marker), so nothing is lost or done twice.
 */
static int aws_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *rw,
		     struct fl_error *err)
{
	struct aws_driver *d = self;
	struct write w;
	int rc;
	fl_aws_state_init(&w.st);
	if ((rc = fl_region_write_check(rw, err)))
		return rc;
	w.seed[0] = rw->marker->revision;
	w.seed[1] = tenant->name;
	w.seed[2] = rw->region;
	if ((rc = op_init(&w.o, d, tenant, rw->region, true, err)) ||
	    (rc = fl_aws_state_read(&w.st, &w.o.cc, d->state_parameter, err)))
		goto out;
	snprintf(w.generation, sizeof(w.generation), "%lld", w.st.generation);
	for (size_t i = 0; !rc && i < rw->nput; i++)
		rc = put(&w, &rw->put[i], err);
	for (size_t i = 0; !rc && i < rw->ndel; i++)
		rc = del(&w, &rw->del[i], err);
	if (!rc) {
		rc = write_state(&w, rw, err);
	} else {
		/* The marker stays where it was; the identifiers are kept. */
		struct fl_error serr = FL_ERROR_INIT;
		for (size_t i = 0; i < tenant->nregions; i++)
			fl_aws_state_add_region(&w.st, tenant->regions[i]);
		fl_aws_state_write(NULL, &w.st, &w.o.cc, d->state_parameter, w.seed, &serr);
		cache_put(d, tenant, rw->region, NULL, true);
	}
out:
	if (rc)
		prefix(err, "apply", &w.o);
	fl_aws_state_release(&w.st);
	op_release(&w.o);
	return rc;
}

static void aws_free(void *self)
{
	struct aws_driver *d = self;
	if (!d)
		return;
	for (size_t i = 0; i < d->cap; i++) {
		for (size_t k = 0; k < d->sessions[i].ncache; k++) {
			free(d->sessions[i].cache[k].region);
			free(d->sessions[i].cache[k].value);
		}
		free(d->sessions[i].cache);
		free(d->sessions[i].tenant);
		fl_aws_creds_packed_release(&d->sessions[i].creds);
	}
	free(d->sessions);
	fl_aws_creds_provider_free(d->base);
	pthread_mutex_destroy(&d->lock);
	free(d->role);
	free(d->external_id);
	free(d->session_name);
	free(d->state_parameter);
	free(d);
}

static const struct fl_driver_ops aws_ops = {
	.type = "aws",
	.io_bound = true,
	.identity = aws_identity,
	.observe = aws_observe,
	.marker = aws_marker,
	.regions = aws_regions,
	.apply = aws_apply,
	.bootstrap = NULL,
	.free = aws_free,
};

/* ---- the entry in fleet.yaml ---- */

static const struct fl_driver_key aws_keys[] = {
	{ "role", FL_DRIVER_STRING, false },	     { "external_id", FL_DRIVER_STRING, false },
	{ "session_name", FL_DRIVER_STRING, false }, { "duration", FL_DRIVER_STRING, false },
	{ "state_parameter", FL_DRIVER_STRING, false }, { "poll_interval", FL_DRIVER_STRING, false },
	{ NULL, 0, false },
};

/* The keys that take a duration, and the range of each. */
static const struct timed_key {
	const char *name;
	unsigned lo, hi;
	const char *range;
} timed_keys[] = {
	{ "duration", 900, 43200, "a duration from 15m to 12h" }, /* what STS allows */
	{ "poll_interval", 0, 60, "a duration from 0s to 1m" },
};

static bool seconds_of(unsigned *out, const struct timed_key *k, const char *v)
{
	return fl_duration_parse(out, v) && *out >= k->lo && *out <= k->hi;
}

/* state_parameter is an SSM parameter name: /path/segments of [A-Za-z0-9_.-]. */
static bool parameter_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 1011 || s[0] != '/' || s[n - 1] == '/' || strstr(s, "//"))
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("/_.-", *p) && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return false;
	return strncasecmp(s + 1, "aws", 3) != 0 && strncasecmp(s + 1, "ssm", 3) != 0;
}

static void aws_check(struct fl_vctx *c, const struct fl_node *entry)
{
	unsigned s;
	fl_driver_check_keys(c, entry, "aws", aws_keys);
	for (size_t i = 0; i < sizeof(timed_keys) / sizeof(timed_keys[0]); i++) {
		const struct timed_key *k = &timed_keys[i];
		const struct fl_node *v = fl_node_get(entry, k->name);
		if (v && v->type == FL_NODE_STR && !seconds_of(&s, k, v->v.str.ptr))
			fl_verr(c, v, "invalid %s '%s' (expected %s)", k->name, v->v.str.ptr, k->range);
	}
	const struct fl_node *p = fl_node_get(entry, "state_parameter");
	if (p && p->type == FL_NODE_STR && !parameter_valid(p->v.str.ptr))
		fl_verr(c, p, "invalid state_parameter '%s' (expected an SSM parameter name like /flotilla/state, "
			"not under /aws or /ssm)", p->v.str.ptr);
}

static char *dup_or_null(const char *s)
{
	return s ? fl_strdup(s) : NULL;
}

static int aws_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	const char *role = fl_driver_conf_str(conf, "role");
	const char *ext = fl_driver_conf_str(conf, "external_id");
	const char *name = fl_driver_conf_str(conf, "session_name");
	const char *dur = fl_driver_conf_str(conf, "duration");
	const char *poll = fl_driver_conf_str(conf, "poll_interval");
	const char *param = fl_driver_conf_str(conf, "state_parameter");
	struct fl_buf scratch = FL_BUF_INIT;
	unsigned duration = DEFAULT_DURATION_S, poll_s = DEFAULT_POLL_S;
	int rc = 0;
	out->ops = NULL;
	out->self = NULL;
	if (dur && !seconds_of(&duration, &timed_keys[0], dur))
		return fl_error_set(err, FL_EINPUT, "invalid duration '%s' (expected %s)", dur, timed_keys[0].range);
	if (poll && !seconds_of(&poll_s, &timed_keys[1], poll))
		return fl_error_set(err, FL_EINPUT, "invalid poll_interval '%s' (expected %s)", poll,
				    timed_keys[1].range);
	if (param && !parameter_valid(param))
		return fl_error_set(err, FL_EINPUT, "invalid state_parameter '%s'", param);
	/* Every template is checked once here, before any tenant. */
	if ((role && (rc = expand(&scratch, role, "role", NULL, err))) ||
	    (ext && (rc = expand(&scratch, ext, "external_id", NULL, err))) ||
	    (name && (rc = expand(&scratch, name, "session_name", NULL, err)))) {
		fl_buf_release(&scratch);
		return rc;
	}
	fl_buf_release(&scratch);
	struct aws_driver *d = fl_calloc(1, sizeof(*d));
	d->role = dup_or_null(role);
	d->external_id = dup_or_null(ext);
	d->session_name = fl_strdup(name ? name : DEFAULT_SESSION);
	d->state_parameter = fl_strdup(param ? param : DEFAULT_STATE);
	d->duration_s = duration;
	d->poll_s = poll_s;
	d->base = fl_aws_creds_provider_new(&fl_aws_env_process);
	pthread_mutex_init(&d->lock, NULL);
	out->ops = &aws_ops;
	out->self = d;
	return 0;
}

const struct fl_driver_type fl_driver_aws_type = { "aws", aws_check, aws_open, "role", false };
