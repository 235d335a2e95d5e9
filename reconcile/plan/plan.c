/*
 * Planning: render each tenant-region, observe it, and diff the two; or,
 * when every region's marker holds the tenant's inputs fingerprint, know it
 * converged without doing either. Tenants run in parallel on a pool of
 * threads and are delivered in order through a bounded window of slots.
 */
#include "reconcile/plan/plan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

/* Bumped whenever rendering could produce other bytes from the same inputs. */
#define FL_RENDER_FORMAT "flotilla-render-1"

const char *fl_op_name(enum fl_op op)
{
	switch (op) {
	case FL_OP_CREATE: return "create";
	case FL_OP_UPDATE: return "update";
	case FL_OP_DELETE: return "delete";
	}
	return "unknown";
}

void fl_tenant_plan_init(struct fl_tenant_plan *tp)
{
	memset(tp, 0, sizeof(*tp));
	fl_arena_init(&tp->arena, 16 * 1024);
}

void fl_tenant_plan_release(struct fl_tenant_plan *tp)
{
	fl_arena_release(&tp->arena);
	memset(tp, 0, sizeof(*tp));
	fl_arena_init(&tp->arena, 16 * 1024);
}

void fl_inputs_fp(struct fl_fp *out, const struct fl_fleet *fleet, const struct fl_tenant *tenant)
{
	unsigned char in[sizeof(FL_RENDER_FORMAT) + 3 * sizeof(struct fl_oid)];
	size_t n = sizeof(FL_RENDER_FORMAT);
	memcpy(in, FL_RENDER_FORMAT, n);
	memcpy(in + n, fleet->fleet_blob.id, sizeof(fleet->fleet_blob.id));
	n += sizeof(fleet->fleet_blob.id);
	memcpy(in + n, fleet->release_tree.id, sizeof(fleet->release_tree.id));
	n += sizeof(fleet->release_tree.id);
	memcpy(in + n, tenant->blob.id, sizeof(tenant->blob.id));
	n += sizeof(tenant->blob.id);
	fl_fp_of(out, in, n);
}

bool fl_plan_mass_delete(const struct fl_plan_summary *s, unsigned max_delete_percent)
{
	if (s->deletes == 0)
		return false;
	if (s->observed == 0)
		return true;
	return (double)s->deletes * 100.0 > (double)max_delete_percent * (double)s->observed;
}

/* Per-thread scratch, reused from tenant to tenant. */
struct plan_scratch {
	struct fl_render render;
	struct fl_observed obs;
	struct fl_buf account;
	struct fl_diff_scratch diff;
	struct fl_secret_values secrets;   /* of the tenant being planned: never shown */
	struct fl_change *changes;
	size_t nchanges, cap;
};

static void scratch_init(struct plan_scratch *s)
{
	memset(s, 0, sizeof(*s));
	fl_render_init(&s->render);
	fl_observed_init(&s->obs);
	fl_buf_init(&s->account, 4096);
	fl_diff_scratch_init(&s->diff);
	fl_secret_values_init(&s->secrets);
}

static void scratch_release(struct plan_scratch *s)
{
	fl_render_release_buf(&s->render);
	fl_observed_release(&s->obs);
	fl_buf_release(&s->account);
	fl_diff_scratch_release(&s->diff);
	fl_secret_values_release(&s->secrets);
	free(s->changes);
}

static struct fl_change *push_change(struct plan_scratch *s, enum fl_op op, const char *kind,
				     const char *name)
{
	FL_GROW(s->changes, s->cap, s->nchanges + 1);
	struct fl_change *c = &s->changes[s->nchanges++];
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->kind = kind;
	c->name = name;
	return c;
}

/*
 * True when every region's marker proves the tenant converged to these
 * inputs; the markers are read unless known has them.
 */
static bool converged_by_markers(struct fl_tenant_plan *tp, struct fl_driver *driver,
				 const struct fl_tenant *tenant, const struct fl_known_markers *known)
{
	if (!driver->ops->marker)
		return false;
	size_t resources = 0;
	for (size_t i = 0; i < tenant->nregions; i++) {
		struct fl_marker read;
		const struct fl_marker *m = known ? &known->m[i] : &read;
		bool found = known && known->found[i];
		struct fl_error ignored = FL_ERROR_INIT;
		if (!known && driver->ops->marker(driver->self, tenant, tenant->regions[i], &read, &found, &ignored))
			return false;
		if (!found || !fl_fp_equal(&m->inputs_fp, &tp->inputs_fp))
			return false;
		resources += m->resources;
	}
	tp->resources = tp->observed = resources;
	return true;
}

static const struct fl_observed_res *match_observed(const struct fl_observed *obs, size_t hint,
						    const struct fl_template *tpl)
{
	/* Accounts keep release order, so the resource at the same index is the usual match. */
	if (hint < obs->len) {
		const struct fl_observed_res *o = &obs->items[hint];
		if (strcmp(o->kind, tpl->kind) == 0 && strcmp(o->name, tpl->name) == 0)
			return o;
	}
	return fl_observed_find(obs, tpl->kind, tpl->name);
}

static bool rendered_is(const struct fl_render *r, size_t i, const struct fl_observed_res *o)
{
	const struct fl_template *tpl = r->items[i].tpl;
	return strcmp(o->kind, tpl->kind) == 0 && strcmp(o->name, tpl->name) == 0;
}

static bool rendered_has(const struct fl_render *r, size_t hint, const struct fl_observed_res *o)
{
	/* Accounts keep release order: the same index is the usual match. */
	if (hint < r->len && rendered_is(r, hint, o))
		return true;
	for (size_t i = 0; i < r->len; i++) {
		const struct fl_template *tpl = r->items[i].tpl;
		if (strcmp(o->kind, tpl->kind) == 0 && strcmp(o->name, tpl->name) == 0)
			return true;
	}
	return false;
}


/* Creates and updates, in release order, for one region. */
static int plan_desired(struct plan_scratch *s, struct fl_tenant_plan *tp, struct fl_region_plan *rp,
			struct fl_hasher *tenant_hash, struct fl_error *err)
{
	for (size_t i = 0; i < s->render.len; i++) {
		const struct fl_rendered *item = &s->render.items[i];
		const struct fl_template *tpl = item->tpl;
		const char *spec = fl_rendered_json(&s->render, item);
		fl_hasher_update_field(tenant_hash, tpl->kind, strlen(tpl->kind));
		fl_hasher_update_field(tenant_hash, tpl->name, strlen(tpl->name));
		fl_hasher_update(tenant_hash, item->fp.b, sizeof(item->fp.b));
		tp->resources++;
		const struct fl_observed_res *o = match_observed(&s->obs, i, tpl);
		if (o && fl_fp_equal(&o->fp, &item->fp)) {
			rp->unchanged++;
			continue;
		}
		struct fl_change *c = push_change(s, o ? FL_OP_UPDATE : FL_OP_CREATE, tpl->kind, tpl->name);
		c->tpl = tpl;
		c->new_fp = item->fp;
		c->spec = fl_arena_strndup(&tp->arena, spec, item->len);
		c->spec_len = item->len;
		if (!o) {
			tp->creates++;
			continue;
		}
		c->old_fp = o->fp;
		tp->updates++;
		int rc = fl_diff_specs_scratch(&s->diff, &c->diff, &c->ndiff, &tp->arena, o->spec, o->spec_len,
					       c->spec, c->spec_len, tpl, &s->secrets, err);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Resources someone else put in the account: only what flotilla created
 * may be deleted (SPEC 3), so these are reported and left alone.
 */
static void plan_unmanaged(struct plan_scratch *s, struct fl_tenant_plan *tp, struct fl_region_plan *rp)
{
	size_t n = 0;
	for (size_t i = 0; i < s->obs.len; i++)
		n += !s->obs.items[i].managed && !rendered_has(&s->render, i, &s->obs.items[i]);
	if (!n)
		return;
	rp->unmanaged = fl_arena_calloc(&tp->arena, n, sizeof(*rp->unmanaged));
	for (size_t i = 0; i < s->obs.len; i++) {
		const struct fl_observed_res *o = &s->obs.items[i];
		if (o->managed || rendered_has(&s->render, i, o))
			continue;
		rp->unmanaged[rp->nunmanaged++] = (struct fl_res_key){ fl_arena_strdup(&tp->arena, o->kind),
								       fl_arena_strdup(&tp->arena, o->name) };
	}
	tp->unmanaged += n;
}

/* Deletes, in reverse order, of managed resources the release no longer has. */
static void plan_deletes(struct plan_scratch *s, struct fl_tenant_plan *tp, struct fl_region_plan *rp,
			 bool prune)
{
	for (size_t i = s->obs.len; i-- > 0;) {
		const struct fl_observed_res *o = &s->obs.items[i];
		if (!o->managed || rendered_has(&s->render, i, o))
			continue;
		if (!prune) {
			rp->withheld++;
			tp->withheld++;
			continue;
		}
		struct fl_change *c = push_change(s, FL_OP_DELETE, fl_arena_strdup(&tp->arena, o->kind),
						  fl_arena_strdup(&tp->arena, o->name));
		c->old_fp = o->fp;
		tp->deletes++;
	}
}

static int plan_region(struct plan_scratch *s, struct fl_tenant_plan *tp, struct fl_region_plan *rp,
		       struct fl_driver *driver, const struct fl_fleet *fleet, bool render, bool prune,
		       struct fl_hasher *tenant_hash, struct fl_error *err)
{
	const struct fl_tenant *tenant = tp->tenant;
	int rc = 0;
	s->nchanges = 0;
	s->render.len = 0;
	fl_buf_clear(&s->render.json);
	fl_observed_clear(&s->obs);
	if (render && (rc = fl_render_tenant_region(&s->render, fleet, tenant, rp->region, err)))
		return rc;
	if (!tp->bootstrap && (rc = driver->ops->observe(driver->self, tenant, rp->region, &s->obs, err)))
		return rc;
	for (size_t i = 0; i < s->obs.len; i++)
		tp->observed += s->obs.items[i].managed;
	fl_hasher_update_field(tenant_hash, rp->region, strlen(rp->region));
	if ((rc = plan_desired(s, tp, rp, tenant_hash, err)))
		return rc;
	plan_deletes(s, tp, rp, prune);
	plan_unmanaged(s, tp, rp);
	rp->nchanges = s->nchanges;
	rp->changes = fl_arena_calloc(&tp->arena, s->nchanges, sizeof(*rp->changes));
	if (s->nchanges)
		memcpy(rp->changes, s->changes, s->nchanges * sizeof(*rp->changes));
	return 0;
}

struct region_list {
	const char **items;
	size_t len, cap;
	struct fl_arena *arena;
	const struct fl_tenant *tenant;
};

static int add_extra_region(const char *region, void *payload)
{
	struct region_list *l = payload;
	for (size_t i = 0; i < l->tenant->nregions; i++)
		if (strcmp(l->tenant->regions[i], region) == 0)
			return 0;
	FL_GROW(l->items, l->cap, l->len + 1);
	l->items[l->len++] = fl_arena_strdup(l->arena, region);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The manifest's regions, then regions the account holds that the manifest dropped. */
static int list_regions(struct fl_tenant_plan *tp, struct fl_driver *driver, struct fl_error *err)
{
	const struct fl_tenant *tenant = tp->tenant;
	struct region_list extra = { NULL, 0, 0, &tp->arena, tenant };
	int rc = 0;
	if (!tp->bootstrap && driver->ops->regions &&
	    (rc = driver->ops->regions(driver->self, tenant, add_extra_region, &extra, err)))
		goto out;
	if (extra.len > 1)
		qsort(extra.items, extra.len, sizeof(*extra.items), cmp_str);
	tp->nregions = tenant->nregions + extra.len;
	tp->regions = fl_arena_calloc(&tp->arena, tp->nregions, sizeof(*tp->regions));
	for (size_t i = 0; i < tp->nregions; i++) {
		struct fl_region_plan *rp = &tp->regions[i];
		rp->in_manifest = i < tenant->nregions;
		rp->region = rp->in_manifest ? tenant->regions[i] : extra.items[i - tenant->nregions];
	}
out:
	free(extra.items);
	return rc;
}

static int identity_in(struct fl_buf *account, struct fl_driver *driver, const struct fl_tenant *tenant,
		       bool *found, struct fl_error *err)
{
	*found = false;
	fl_buf_clear(account);
	int rc = driver->ops->identity(driver->self, tenant, account, found, err);
	if (rc || !*found)
		return rc;
	if (strcmp(account->ptr, tenant->account) != 0)
		return fl_error_set(err, FL_EIDENTITY,
				    "the account reports id '%s', but the manifest names '%s': nothing is written",
				    account->ptr, tenant->account);
	return 0;
}

int fl_tenant_identity(bool *found, struct fl_driver *driver, const struct fl_tenant *tenant,
		       struct fl_error *err)
{
	struct fl_buf account = FL_BUF_INIT;
	int rc = identity_in(&account, driver, tenant, found, err);
	fl_buf_release(&account);
	return rc;
}

static int check_identity(struct plan_scratch *s, struct fl_tenant_plan *tp, struct fl_driver *driver,
			  struct fl_error *err)
{
	bool found = false;
	int rc = identity_in(&s->account, driver, tp->tenant, &found, err);
	tp->bootstrap = !rc && !found;
	return rc;
}

/*
 * True when the identity still has to be checked; false when the caller
 * checked it already (known), whose finding of a missing account is kept.
 */
static bool identity_unchecked(struct fl_tenant_plan *tp, const struct fl_known_markers *known)
{
	if (!known || !known->identity_checked)
		return true;
	tp->bootstrap = !known->account_found;
	return false;
}

/* After check_identity: renders, observes and diffs every region. */
static int plan_tenant_full(struct plan_scratch *s, struct fl_tenant_plan *tp, const struct fl_fleet *fleet,
			    struct fl_driver *driver, const struct fl_plan_opts *opts, struct fl_error *err)
{
	const struct fl_tenant *tenant = tp->tenant;
	bool decommission = tenant->state == FL_TENANT_DECOMMISSIONED;
	struct fl_hasher h;
	int rc = 0;
	if (decommission && tp->bootstrap) {
		tp->bootstrap = false; /* no account, nothing to delete */
		return 0;
	}
	if ((rc = list_regions(tp, driver, err)))
		return rc;
	/* Diffs mask these wherever they appear: a field the template dropped may still hold one. */
	if ((rc = fl_secret_values_set(&s->secrets, fleet, tenant, err)))
		return rc;
	fl_hasher_init(&h);
	for (size_t i = 0; i < tp->nregions && !rc; i++) {
		struct fl_region_plan *rp = &tp->regions[i];
		/* Decommissioning deletes everything flotilla made, whatever prune says. */
		bool render = rp->in_manifest && !decommission;
		bool prune = opts->prune || decommission;
		rc = plan_region(s, tp, rp, driver, fleet, render, prune, &h, err);
		if (rc)
			fl_error_prefix(err, "region '%s': ", rp->region);
	}
	fl_hasher_final(&tp->tenant_fp, &h);
	fl_hasher_release(&h);
	return rc;
}

static void plan_tenant_with(struct plan_scratch *s, struct fl_tenant_plan *tp, const struct fl_fleet *fleet,
			     struct fl_driver *driver, const struct fl_tenant *tenant,
			     const struct fl_plan_opts *opts, const struct fl_known_markers *known)
{
	tp->tenant = tenant;
	fl_inputs_fp(&tp->inputs_fp, fleet, tenant);
	if (tenant->state == FL_TENANT_SUSPENDED) {
		tp->outcome = FL_TENANT_SKIPPED;
	} else if (identity_unchecked(tp, known) && check_identity(s, tp, driver, &tp->error)) {
		/* First, converged or not: a marker in the wrong account proves nothing. */
		tp->outcome = FL_TENANT_FAILED;
	} else if (tenant->state == FL_TENANT_ACTIVE && !opts->refresh && !tp->bootstrap &&
		   converged_by_markers(tp, driver, tenant, known)) {
		tp->outcome = FL_TENANT_CONVERGED;
		tp->from_marker = true;
	} else if (plan_tenant_full(s, tp, fleet, driver, opts, &tp->error)) {
		tp->outcome = FL_TENANT_FAILED;
	} else {
		tp->outcome = tp->creates + tp->updates + tp->deletes || tp->bootstrap ? FL_TENANT_CHANGES
										      : FL_TENANT_CONVERGED;
	}
}

void fl_plan_tenant_known(struct fl_tenant_plan *tp, const struct fl_fleet *fleet, struct fl_driver *driver,
			  const struct fl_tenant *tenant, const struct fl_plan_opts *opts,
			  const struct fl_known_markers *known)
{
	struct plan_scratch s;
	scratch_init(&s);
	plan_tenant_with(&s, tp, fleet, driver, tenant, opts, known);
	scratch_release(&s);
}

void fl_plan_tenant(struct fl_tenant_plan *tp, const struct fl_fleet *fleet, struct fl_driver *driver,
		    const struct fl_tenant *tenant, const struct fl_plan_opts *opts)
{
	fl_plan_tenant_known(tp, fleet, driver, tenant, opts, NULL);
}

/*
 * The run: workers take tenants by index and plan them into a window of
 * slots; whoever finishes the oldest undelivered tenant delivers every
 * finished one in order, so the callback sees name order and memory holds
 * at most WINDOW tenant plans.
 */
#define WINDOW_PER_THREAD 32

struct run {
	const struct fl_fleet *fleet;
	struct fl_driver *driver;
	const struct fl_plan_opts *opts;
	const struct fl_tenant **tenants;
	size_t n, window;
	fl_plan_cb cb;
	void *payload;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t next, delivered;
	bool delivering;
	int stop;
	struct fl_tenant_plan *slots;
	bool *done;
	struct fl_plan_summary *sum;
};

static void count(struct fl_plan_summary *sum, const struct fl_tenant_plan *tp)
{
	sum->tenants++;
	sum->tenants_changed += tp->outcome == FL_TENANT_CHANGES;
	sum->tenants_failed += tp->outcome == FL_TENANT_FAILED;
	sum->tenants_suspended += tp->outcome == FL_TENANT_SKIPPED;
	sum->creates += tp->creates;
	sum->updates += tp->updates;
	sum->deletes += tp->deletes;
	sum->withheld += tp->withheld;
	sum->unmanaged += tp->unmanaged;
	sum->resources += tp->resources;
	sum->observed += tp->observed;
}

/* Called with the lock held; drops it around each callback. */
static void deliver(struct run *run)
{
	run->delivering = true;
	while (!run->stop && run->delivered < run->n && run->done[run->delivered % run->window]) {
		size_t slot = run->delivered % run->window;
		struct fl_tenant_plan *tp = &run->slots[slot];
		pthread_mutex_unlock(&run->lock);
		count(run->sum, tp);
		int rc = run->cb ? run->cb(tp, run->payload) : 0;
		fl_tenant_plan_release(tp);
		pthread_mutex_lock(&run->lock);
		run->done[slot] = false;
		run->delivered++;
		if (rc)
			run->stop = rc;
		pthread_cond_broadcast(&run->cond);
	}
	run->delivering = false;
}

static void *worker(void *arg)
{
	struct run *run = arg;
	struct plan_scratch s;
	scratch_init(&s);
	pthread_mutex_lock(&run->lock);
	for (;;) {
		while (!run->stop && run->next < run->n && run->next >= run->delivered + run->window)
			pthread_cond_wait(&run->cond, &run->lock);
		if (run->stop || run->next >= run->n)
			break;
		size_t idx = run->next++;
		pthread_mutex_unlock(&run->lock);
		plan_tenant_with(&s, &run->slots[idx % run->window], run->fleet, run->driver,
				 run->tenants[idx], run->opts, NULL);
		pthread_mutex_lock(&run->lock);
		run->done[idx % run->window] = true;
		if (!run->delivering)
			deliver(run);
	}
	/* The last worker out delivers what others finished while it was busy. */
	if (!run->delivering)
		deliver(run);
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	scratch_release(&s);
	return NULL;
}

static int select_tenants(const struct fl_tenant ***out, size_t *n, const struct fl_fleet *fleet,
			  const struct fl_plan_opts *opts, struct fl_error *err)
{
	size_t want = opts->tenants ? opts->ntenants : fleet->ntenants;
	const struct fl_tenant **list = fl_calloc(want, sizeof(*list));
	for (size_t i = 0; i < want; i++) {
		list[i] = opts->tenants ? fl_fleet_tenant(fleet, opts->tenants[i]) : &fleet->tenants[i];
		if (!list[i]) {
			free(list);
			return fl_error_set(err, FL_EUSAGE, "unknown tenant '%s'", opts->tenants[i]);
		}
	}
	*out = list;
	*n = want;
	return 0;
}

/*
 * One planner per core for a CPU-bound driver. An io_bound one (exec, http)
 * waits on round trips: as many planners as the widest wave may apply at
 * once, and at least FL_PLAN_IO_THREADS, since the account API is sized
 * for that many requests in flight. fl_plan_run caps it by the tenants.
 */
static unsigned thread_count(const struct fl_plan_opts *opts, const struct fl_driver *driver,
			     const struct fl_fleet *fleet)
{
	if (opts->threads)
		return opts->threads;
	if (!driver->ops->io_bound) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
	}
	unsigned widest = FL_PLAN_IO_THREADS;
	for (size_t w = 0; w < fleet->nwaves; w++) {
		unsigned p = fl_amount_resolve(&fleet->waves[w].max_parallel, fleet->waves[w].ntenants, true);
		widest = p > widest ? p : widest;
	}
	return widest > FL_PLAN_IO_THREADS_MAX ? FL_PLAN_IO_THREADS_MAX : widest;
}

/*
 * The guard's denominator is the whole fleet's whatever subset is planned
 * (plan --since, apply --tenant), so that a subset's deletes are judged as
 * the full plan judges them: the tenants not planned count what their
 * markers say they hold, as a converged tenant of the full plan does, and
 * suspended ones nothing, as there. A marker that cannot be read counts
 * nothing, which can only make the guard stricter.
 */
struct unplanned {
	const struct fl_fleet *fleet;
	struct fl_driver *driver;
	const bool *planned;             /* by index into fleet->tenants */
	pthread_mutex_t lock;
	size_t next, resources;
};

static size_t marker_resources(struct fl_driver *driver, const struct fl_tenant *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nregions; i++) {
		struct fl_marker m;
		bool found = false;
		struct fl_error ignored = FL_ERROR_INIT;
		if (driver->ops->marker(driver->self, t, t->regions[i], &m, &found, &ignored) == 0 && found)
			n += m.resources;
	}
	return n;
}

static void *count_worker(void *arg)
{
	struct unplanned *u = arg;
	size_t sum = 0;
	for (;;) {
		pthread_mutex_lock(&u->lock);
		size_t i = u->next++;
		pthread_mutex_unlock(&u->lock);
		if (i >= u->fleet->ntenants)
			break;
		const struct fl_tenant *t = &u->fleet->tenants[i];
		if (!u->planned[i] && t->state != FL_TENANT_SUSPENDED)
			sum += marker_resources(u->driver, t);
	}
	pthread_mutex_lock(&u->lock);
	u->resources += sum;
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* mark: by index into fleet->tenants, the tenants planned (owned, freed here). */
static size_t count_unplanned(const struct fl_fleet *fleet, struct fl_driver *driver, bool *mark,
			      unsigned nthreads)
{
	struct unplanned u = { .fleet = fleet, .driver = driver };
	pthread_t *threads = fl_calloc(nthreads ? nthreads : 1, sizeof(*threads));
	unsigned started = 0;
	u.planned = mark;
	pthread_mutex_init(&u.lock, NULL);
	for (unsigned i = 1; i < nthreads && pthread_create(&threads[i], NULL, count_worker, &u) == 0; i++)
		started++;
	count_worker(&u);
	for (unsigned i = 1; i <= started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&u.lock);
	free(threads);
	free(mark);
	return u.resources;
}

size_t fl_plan_count_rest(const struct fl_fleet *fleet, struct fl_driver *driver, const struct fl_plan_opts *opts)
{
	if (!driver->ops->marker || !fleet->ntenants)
		return 0;
	bool *mark = fl_calloc(fleet->ntenants, sizeof(*mark));
	for (size_t i = 0; opts->tenants && i < opts->ntenants; i++) {
		const struct fl_tenant *t = fl_fleet_tenant(fleet, opts->tenants[i]);
		if (t)
			mark[t - fleet->tenants] = true;
	}
	unsigned n = thread_count(opts, driver, fleet);
	return count_unplanned(fleet, driver, mark, fleet->ntenants < n ? (unsigned)fleet->ntenants : n);
}

int fl_plan_run(struct fl_plan_summary *out, const struct fl_fleet *fleet, struct fl_driver *driver,
		const struct fl_plan_opts *opts, fl_plan_cb cb, void *payload, struct fl_error *err)
{
	struct run run;
	unsigned nthreads = thread_count(opts, driver, fleet);
	pthread_t *threads = NULL;
	unsigned started = 0;
	memset(out, 0, sizeof(*out));
	memset(&run, 0, sizeof(run));
	int rc = select_tenants(&run.tenants, &run.n, fleet, opts, err);
	if (rc)
		return rc;
	/* No more planners, and no larger a window, than tenants to plan (plan --tenant: one). */
	if (run.n && run.n < nthreads)
		nthreads = (unsigned)run.n;
	run.fleet = fleet;
	run.driver = driver;
	run.opts = opts;
	run.cb = cb;
	run.payload = payload;
	run.sum = out;
	run.window = (size_t)nthreads * WINDOW_PER_THREAD;
	run.slots = fl_calloc(run.window, sizeof(*run.slots));
	run.done = fl_calloc(run.window, sizeof(*run.done));
	for (size_t i = 0; i < run.window; i++)
		fl_tenant_plan_init(&run.slots[i]);
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.cond, NULL);
	threads = fl_calloc(nthreads, sizeof(*threads));
	for (unsigned i = 1; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker, &run) != 0)
			break;
		started++;
	}
	worker(&run);
	for (unsigned i = 1; i <= started; i++)
		pthread_join(threads[i], NULL);
	/* Workers may all have left before the last plan was handed over. */
	pthread_mutex_lock(&run.lock);
	deliver(&run);
	pthread_mutex_unlock(&run.lock);
	rc = run.stop;
	/* Without deletes the guard cannot trip: the other tenants' markers are not read. */
	size_t rest = fleet->ntenants > run.n ? fleet->ntenants - run.n : 0;
	if (!rc && opts->tenants && out->deletes && rest && driver->ops->marker) {
		unsigned n = thread_count(opts, driver, fleet);
		bool *mark = fl_calloc(fleet->ntenants, sizeof(*mark));
		for (size_t i = 0; i < run.n; i++)
			mark[run.tenants[i] - fleet->tenants] = true;
		out->observed += count_unplanned(fleet, driver, mark, rest < n ? (unsigned)rest : n);
	}
	for (size_t i = 0; i < run.window; i++)
		fl_tenant_plan_release(&run.slots[i]);
	pthread_mutex_destroy(&run.lock);
	pthread_cond_destroy(&run.cond);
	free(threads);
	free(run.slots);
	free(run.done);
	free(run.tenants);
	return rc;
}
