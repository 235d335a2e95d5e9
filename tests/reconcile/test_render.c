/*
 * Tests of reconcile/render*.c: typed and embedded substitution, canonical
 * output (checked against fl_json_canonical of a tree substituted by hand),
 * service filtering, missing labels and vars, compile errors with their
 * positions, plain strings and secret paths, and the limits on rendered
 * JSON per resource and per tenant and region.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/yaml.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

/* Fails the test, naming the case, when cond is false. */
#define CHECK(name, cond, ...)                                                      \
	do {                                                                        \
		if (!(cond)) {                                                      \
			print_error("case '%s': ", (name));                          \
			print_error(__VA_ARGS__);                                   \
			print_error("\n");                                          \
			fail();                                                     \
		}                                                                   \
	} while (0)

enum { VAR_DISPLAY, VAR_SEATS, VAR_ENABLED, VAR_RATIO, VAR_WHOLE, VAR_PASSWORD, VAR_NOTHING,
       VAR_UNSET, VAR_ODD, NVARS };

/* A fleet built by hand: vars of every type, one tenant, templates added per test. */
struct fx {
	struct fl_fleet fleet;
	struct fl_var_decl vars[NVARS];
	const struct fl_node *tenant_vars[NVARS];
	struct fl_label labels[2];
	struct fl_tenant tenant;
	struct fl_template templates[80];
	struct fl_source sources[80];
	char paths[80][32];
	struct fl_diags diags;
	struct fl_render r;
};

static const char *const services[] = { "api", "portal", "reports" };

static struct fl_node *new_node(struct fl_arena *arena, enum fl_node_type type)
{
	struct fl_node *n = fl_arena_alloc(arena, sizeof(*n));
	n->type = type;
	return n;
}

static struct fl_node *new_str(struct fl_arena *arena, const char *s)
{
	struct fl_node *n = new_node(arena, FL_NODE_STR);
	n->v.str.len = strlen(s);
	n->v.str.ptr = fl_arena_strndup(arena, s, n->v.str.len);
	return n;
}

static void fx_vars(struct fx *fx)
{
	static const char *const names[NVARS] = { "display_name", "seats", "enabled", "ratio",
						   "whole", "db_password", "nothing", "unset",
						   "odd" };
	struct fl_arena *a = &fx->fleet.arena;
	struct fl_node *n;

	for (size_t i = 0; i < NVARS; i++)
		fx->vars[i].name = names[i];
	fx->vars[VAR_PASSWORD].secret = true;
	fx->tenant_vars[VAR_DISPLAY] = new_str(a, "Acme \"Health\"\n\xc3\xa9\\");
	n = new_node(a, FL_NODE_INT);
	n->v.i = 3;
	fx->tenant_vars[VAR_SEATS] = n;
	n = new_node(a, FL_NODE_BOOL);
	n->v.b = true;
	fx->tenant_vars[VAR_ENABLED] = n;
	n = new_node(a, FL_NODE_FLOAT);
	n->v.f = 0.25;
	fx->tenant_vars[VAR_RATIO] = n;
	n = new_node(a, FL_NODE_FLOAT);
	n->v.f = 2.0;
	fx->tenant_vars[VAR_WHOLE] = n;
	fx->tenant_vars[VAR_PASSWORD] = new_str(a, "hunter2");
	fx->tenant_vars[VAR_NOTHING] = new_node(a, FL_NODE_NULL);
	fx->tenant_vars[VAR_UNSET] = NULL;
	fx->tenant_vars[VAR_ODD] = new_str(a, "tab\there \x01 {{region}}");
}

static struct fx *fx_new(void)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fl_arena_init(&fx->fleet.arena, 0);
	fx_vars(fx);
	fx->fleet.vars = fx->vars;
	fx->fleet.nvars = NVARS;
	fl_fleet_index_vars(&fx->fleet);
	fx->fleet.services = (const char **)services;
	fx->fleet.nservices = 3;
	fx->fleet.templates = fx->templates;
	fx->labels[0] = (struct fl_label){ "ring", "early" };
	fx->labels[1] = (struct fl_label){ "size", "x\"l" };
	fx->tenant = (struct fl_tenant){ .name = "acme", .account = "123456789012",
					 .labels = fx->labels, .nlabels = 2,
					 .services = 1u | 2u, .vars = fx->tenant_vars };
	fl_render_init(&fx->r);
	return fx;
}

static void fx_free(struct fx *fx)
{
	fl_render_release(&fx->fleet);
	fl_render_release_buf(&fx->r);
	/* Not fl_diags_release: that is fleet.c's, and this test links without it. */
	free(fx->diags.items);
	fl_arena_release(&fx->fleet.arena);
	free(fx);
}


/* Adds a template whose spec is the YAML text, for service (NULL: all). */
static struct fl_template *fx_add(struct fx *fx, const char *yaml, const char *service)
{
	size_t i = fx->fleet.ntemplates++;
	struct fl_template *tpl = &fx->templates[i];
	struct fl_source *src = &fx->sources[i];
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node **docs = NULL;
	size_t ndocs = 0;

	snprintf(fx->paths[i], sizeof(fx->paths[i]), "release/t%zu.yaml", i);
	*src = (struct fl_source){ fx->paths[i], fl_arena_strdup(&fx->fleet.arena, yaml),
				   strlen(yaml) };
	if (fl_yaml_load(&docs, &ndocs, &fx->fleet.arena, src, NULL, &err) != 0) {
		print_error("yaml: %s:%u:%u: %s\n", err.path, err.line, err.col, err.msg);
		fail();
	}
	*tpl = (struct fl_template){ .kind = "service", .name = fx->paths[i], .service = service,
				     .spec = ndocs ? docs[0] : NULL, .path = fx->paths[i],
				     .line = 1, .col = 1, .index = i };
	return tpl;
}

static int fx_compile(struct fx *fx)
{
	struct fl_render_sources sources = { fx->sources, fx->fleet.ntemplates };
	return fl_render_compile(&fx->fleet, &sources, &fx->diags);
}

/* ---- substitution by hand, the reference the renderer must match ---- */

static const struct fl_node *value_of(struct fx *fx, const char *name, size_t len,
				      struct fl_arena *a, const char *region)
{
	char key[128];
	const struct fl_node *v = NULL;

	snprintf(key, sizeof(key), "%.*s", (int)len, name);
	if (strcmp(key, "tenant.name") == 0)
		v = new_str(a, fx->tenant.name);
	else if (strcmp(key, "tenant.account") == 0)
		v = new_str(a, fx->tenant.account);
	else if (strcmp(key, "region") == 0)
		v = new_str(a, region);
	else if (strncmp(key, "tenant.labels.", 14) == 0)
		for (size_t i = 0; i < fx->tenant.nlabels; i++)
			if (strcmp(fx->tenant.labels[i].key, key + 14) == 0)
				v = new_str(a, fx->tenant.labels[i].value);
	for (size_t i = 0; i < NVARS && !v; i++)
		if (strncmp(key, "vars.", 5) == 0 && strcmp(fx->vars[i].name, key + 5) == 0)
			v = fx->tenant_vars[i];
	assert_non_null(v);
	return v;
}

static void text_of(struct fl_buf *out, const struct fl_node *v)
{
	if (v->type == FL_NODE_STR)
		fl_buf_put(out, v->v.str.ptr, v->v.str.len);
	else if (v->type != FL_NODE_NULL)
		fl_json_canonical(out, v, NULL);
}

/* The name inside {{ }} at s, trimmed; its length in *len; *end past "}}". */
static const char *ref_name(const char *s, size_t *len, const char **end)
{
	const char *close = strstr(s + 2, "}}");
	const char *a = s + 2, *b = close;

	while (*a == ' ')
		a++;
	while (b > a && b[-1] == ' ')
		b--;
	*len = (size_t)(b - a);
	*end = close + 2;
	return a;
}

static struct fl_node *subst_str(struct fx *fx, const struct fl_node *n, struct fl_arena *a,
				 const char *region)
{
	const char *s = n->v.str.ptr, *open = strstr(s, "{{"), *end;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_node *res;
	size_t len;

	if (open == s) {
		const char *name = ref_name(s, &len, &end);
		if (*end == '\0')
			return (struct fl_node *)value_of(fx, name, len, a, region);
	}
	while ((open = strstr(s, "{{")) != NULL) {
		const char *name = ref_name(open, &len, &end);
		fl_buf_put(&out, s, (size_t)(open - s));
		text_of(&out, value_of(fx, name, len, a, region));
		s = end;
	}
	fl_buf_puts(&out, s);
	res = new_str(a, out.ptr);
	res->v.str.len = out.len;
	fl_buf_release(&out);
	return res;
}

static struct fl_node *subst(struct fx *fx, const struct fl_node *n, struct fl_arena *a,
			     const char *region)
{
	struct fl_node *c;

	if (!n)
		return new_node(a, FL_NODE_NULL);
	if (n->type == FL_NODE_STR)
		return subst_str(fx, n, a, region);
	c = new_node(a, n->type);
	*c = *n;
	if (n->type == FL_NODE_SEQ) {
		c->v.seq.items = fl_arena_calloc(a, n->v.seq.len + 1, sizeof(*c->v.seq.items));
		for (size_t i = 0; i < n->v.seq.len; i++)
			c->v.seq.items[i] = subst(fx, n->v.seq.items[i], a, region);
	} else if (n->type == FL_NODE_MAP) {
		c->v.map.items = fl_arena_calloc(a, n->v.map.len + 1, sizeof(*c->v.map.items));
		for (size_t i = 0; i < n->v.map.len; i++) {
			c->v.map.items[i].key = n->v.map.items[i].key;
			c->v.map.items[i].value = subst(fx, n->v.map.items[i].value, a, region);
		}
	}
	return c;
}

/* ---- rendering ---- */

struct render_case {
	const char *name;
	const char *yaml;
	const char *json;   /* the expected canonical spec */
};

static const struct render_case render_cases[] = {
	{ "int var keeps its type", "replicas: \"{{vars.seats}}\"", "{\"replicas\":3}" },
	{ "bool var keeps its type", "on: '{{ vars.enabled }}'", "{\"on\":true}" },
	{ "float vars", "a: \"{{vars.ratio}}\"\nb: \"{{vars.whole}}\"\nc: \"r={{vars.ratio}},{{vars.whole}}\"",
	  "{\"a\":0.25,\"b\":2.0,\"c\":\"r=0.25,2.0\"}" },
	{ "null var", "a: \"{{vars.nothing}}\"\nb: \"<{{vars.nothing}}>\"", "{\"a\":null,\"b\":\"<>\"}" },
	{ "embedded int makes a string", "x: \"n={{vars.seats}}\"", "{\"x\":\"n=3\"}" },
	{ "embedded bool makes a string", "x: \"{{vars.enabled}} \"", "{\"x\":\"true \"}" },
	{ "two refs make a string", "x: \"{{vars.seats}}{{vars.seats}}\"", "{\"x\":\"33\"}" },
	{ "tenant fields", "n: \"{{tenant.name}}\"\nacct: \"{{ tenant.account }}\"\nr: \"{{region}}\"",
	  "{\"acct\":\"123456789012\",\"n\":\"acme\",\"r\":\"eu-west-1\"}" },
	{ "labels", "l: \"{{tenant.labels.ring}}/{{tenant.labels.size}}\"\nm: \"{{tenant.labels.size}}\"",
	  "{\"l\":\"early/x\\\"l\",\"m\":\"x\\\"l\"}" },
	{ "keys sorted bytewise", "b: 1\na: 2\naa: 3\n\"\": 0\nB: x\n\xc3\xa9: 4\n",
	  "{\"\":0,\"B\":\"x\",\"a\":2,\"aa\":3,\"b\":1,\"\xc3\xa9\":4}" },
	{ "nested sorting", "z:\n  y: [3, {b: 1, a: 2}]\n  x: {}\na: []",
	  "{\"a\":[],\"z\":{\"x\":{},\"y\":[3,{\"a\":2,\"b\":1}]}}" },
	{ "literal escapes", "s: \"q\\\"uo\\nte\\u00e9\\t\\u0001\\\\\"",
	  "{\"s\":\"q\\\"uo\\nte\xc3\xa9\\t\\u0001\\\\\"}" },
	{ "key escapes", "\"a\\\"b\\n\": 1", "{\"a\\\"b\\n\":1}" },
	{ "substituted escapes", "t: \"{{vars.display_name}}\"\nu: \"<{{vars.display_name}}>\"",
	  "{\"t\":\"Acme \\\"Health\\\"\\n\xc3\xa9\\\\\",\"u\":\"<Acme \\\"Health\\\"\\n\xc3\xa9\\\\>\"}" },
	{ "substituted text is not re-expanded", "o: \"{{vars.odd}}\"",
	  "{\"o\":\"tab\\there \\u0001 {{region}}\"}" },
	{ "literal scalars", "i: -42\nf: 1.5\ng: 1e3\nt: true\nn: null\nm: ~\ns: '007'",
	  "{\"f\":1.5,\"g\":1000.0,\"i\":-42,\"m\":null,\"n\":null,\"s\":\"007\",\"t\":true}" },
	{ "braces that are not templates", "a: \"}} {x} { {y} }\"\nb: \"{\"",
	  "{\"a\":\"}} {x} { {y} }\",\"b\":\"{\"}" },
	{ "list of refs", "ports: [80, \"{{vars.seats}}\", \"{{region}}\", \"p{{vars.seats}}\"]",
	  "{\"ports\":[80,3,\"eu-west-1\",\"p3\"]}" },
	{ "secret var renders", "pw: \"{{vars.db_password}}\"", "{\"pw\":\"hunter2\"}" },
	{ "top-level list", "- a\n- \"{{tenant.name}}\"", "[\"a\",\"acme\"]" },
	{ "top-level ref", "\"{{vars.seats}}\"", "3" },
	{ "empty spec", "", "null" },
	{ "unicode text", "u: \"h\xc3\xa9llo \xe2\x9c\x93 {{tenant.name}} \xf0\x9f\x9a\x80\"",
	  "{\"u\":\"h\xc3\xa9llo \xe2\x9c\x93 acme \xf0\x9f\x9a\x80\"}" },
};

static void test_render_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *c = &render_cases[i];
		struct fx *fx = fx_new();
		struct fl_error err = FL_ERROR_INIT;
		struct fl_fp fp;
		int rc;

		fx_add(fx, c->yaml, NULL);
		rc = fx_compile(fx);
		CHECK(c->name, rc == 0, "compile: %d (%s)", rc, fx->diags.len ? fx->diags.items[0].msg : "");
		rc = fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, "eu-west-1", &err);
		CHECK(c->name, rc == 0, "render: %s", err.msg);
		CHECK(c->name, fx->r.len == 1, "%zu items", fx->r.len);
		CHECK(c->name, fx->r.items[0].len == strlen(c->json) &&
			       strcmp(fl_rendered_json(&fx->r, &fx->r.items[0]), c->json) == 0,
		      "got %s, want %s", fl_rendered_json(&fx->r, &fx->r.items[0]), c->json);
		fl_fp_of(&fp, c->json, strlen(c->json));
		CHECK(c->name, fl_fp_equal(&fp, &fx->r.items[0].fp), "fingerprint");
		fx_free(fx);
	}
}

/* Property: output equals fl_json_canonical of the tree substituted by hand. */
static void test_render_matches_canonical(void **state)
{
	static const char *const regions[] = { "us-east-1", "eu-west-1", "a\"b\n" };
	struct fx *fx = fx_new();
	struct fl_error err = FL_ERROR_INIT;
	struct fl_arena scratch;
	struct fl_buf want = FL_BUF_INIT;

	(void)state;
	fl_arena_init(&scratch, 0);
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++)
		fx_add(fx, render_cases[i].yaml, NULL);
	fx_add(fx, "kind: x\nspec:\n  env:\n    TENANT: \"{{tenant.name}}\"\n    TITLE: \"{{vars.display_name}}\"\n"
		   "    REGION: \"{{region}}\"\n    SEATS: \"{{vars.seats}}\"\n  image: reg/api:1.42\n"
		   "  replicas: 3\n  ports:\n    - {port: 80, name: http}\n    - {name: \"{{ region }}-b\", port: 443}\n"
		   "  ratio: 0.1\n  '\"q\"': [true, false, null, \"{{vars.enabled}}\"]\n", NULL);
	assert_int_equal(fx_compile(fx), 0);
	for (size_t r = 0; r < 3; r++) {
		assert_int_equal(fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, regions[r], &err), 0);
		assert_int_equal(fx->r.len, fx->fleet.ntemplates);
		for (size_t i = 0; i < fx->r.len; i++) {
			const struct fl_rendered *it = &fx->r.items[i];
			fl_buf_clear(&want);
			assert_int_equal(fl_json_canonical(&want, subst(fx, it->tpl->spec, &scratch, regions[r]), NULL), 0);
			CHECK(it->tpl->path, it->len == want.len &&
				  memcmp(fl_rendered_json(&fx->r, it), want.ptr, want.len) == 0,
			      "region %zu: got %.*s, want %s", r, (int)it->len, fl_rendered_json(&fx->r, it), want.ptr);
		}
	}
	fl_buf_release(&want);
	fl_arena_release(&scratch);
	fx_free(fx);
}

static void test_service_filter(void **state)
{
	struct fx *fx = fx_new();
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	fx_add(fx, "a: 1", "api");
	fx_add(fx, "b: 2", "reports");
	fx_add(fx, "c: 3", NULL);
	fx_add(fx, "d: 4", "portal");
	fx_add(fx, "e: 5", "unknown");
	assert_int_equal(fx_compile(fx), 0);
	assert_int_equal(fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, "r1", &err), 0);
	assert_int_equal(fx->r.len, 3);
	assert_ptr_equal(fx->r.items[0].tpl, &fx->templates[0]);
	assert_ptr_equal(fx->r.items[1].tpl, &fx->templates[2]);
	assert_ptr_equal(fx->r.items[2].tpl, &fx->templates[3]);
	assert_int_equal(fx->r.items[1].len, 7);
	assert_memory_equal(fl_rendered_json(&fx->r, &fx->r.items[1]), "{\"c\":3}", 7);
	assert_int_equal(fx->r.items[2].off, strlen("{\"a\":1}{\"c\":3}"));
	/* r is reused: the second call starts empty. */
	fx->tenant.services = 4;
	assert_int_equal(fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, "r1", &err), 0);
	assert_int_equal(fx->r.len, 2);
	assert_string_equal(fx->r.json.ptr, "{\"b\":2}{\"c\":3}");
	fx_free(fx);
}

struct missing_case {
	const char *name;
	const char *yaml;
	const char *msg;
};

static void test_missing_values(void **state)
{
	static const struct missing_case cases[] = {
		{ "missing label", "a: \"{{tenant.labels.zone}}\"",
		  "tenant 'acme' has no label 'zone' used by release/t1.yaml" },
		{ "unset var", "a: \"x{{vars.unset}}\"",
		  "tenant 'acme' does not set var 'unset' and it has no default" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *fx = fx_new();
		struct fl_error err = FL_ERROR_INIT;
		struct fl_template *tpl;

		fx_add(fx, "fine: \"{{tenant.labels.ring}}\"", NULL);
		tpl = fx_add(fx, cases[i].yaml, NULL);
		tpl->line = 4;
		tpl->col = 1;
		assert_int_equal(fx_compile(fx), 0);
		CHECK(cases[i].name, fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, "r", &err) == FL_EINPUT,
		      "no error");
		CHECK(cases[i].name, strcmp(err.msg, cases[i].msg) == 0, "message %s", err.msg);
		CHECK(cases[i].name, strcmp(err.path, "release/t1.yaml") == 0 && err.line == 4 && err.col == 1,
		      "at %s:%u:%u", err.path, err.line, err.col);
		fx_free(fx);
	}
}

struct compile_case {
	const char *name;
	const char *yaml;
	const char *error;   /* "line:col: message" of the first diag */
	size_t ndiags;
};

static const struct compile_case compile_cases[] = {
	{ "unknown var", "a: \"{{vars.nope}}\"", "1:5: unknown template variable 'vars.nope'", 1 },
	{ "unknown name, plain scalar", "a: x{{region}}y {{bad}}", "1:17: unknown template variable 'bad'", 1 },
	{ "spaces inside", "a: 'ab {{  tenant.nam  }}'", "1:8: unknown template variable 'tenant.nam'", 1 },
	{ "unterminated", "a: \"x{{region\"", "1:6: unterminated '{{' in template", 1 },
	{ "unterminated after a ref", "a: \"{{region}}{{\"", "1:15: unterminated '{{' in template", 1 },
	{ "empty", "a: \"{{}}\"", "1:5: empty '{{}}' in template", 1 },
	{ "blank", "a: \"{{  }}\"", "1:5: empty '{{}}' in template", 1 },
	{ "template in key", "\"{{region}}\": 1", "1:2: templates are not allowed in keys", 1 },
	{ "unterminated in key", "k{{: 1", "1:2: templates are not allowed in keys", 1 },
	{ "nested line", "x: 1\nb:\n  c: \"{{ vars.nope }}\"\n  d: [1, \"{{tenant}}\"]",
	  "3:7: unknown template variable 'vars.nope'", 2 },
	{ "label without key", "a: \"{{tenant.labels.}}\"", "1:5: unknown template variable 'tenant.labels.'", 1 },
	{ "vars prefix only", "a: \"{{vars.}}\"", "1:5: unknown template variable 'vars.'", 1 },
	{ "escape before the ref: scalar position", "a: \"\\t{{bad}}\"", "1:4: unknown template variable 'bad'", 1 },
	{ "folded over lines: scalar position", "a: \"x\n  {{bad}}\"", "1:4: unknown template variable 'bad'", 1 },
	{ "block scalar: scalar position", "a: |\n  {{bad}}\n", "1:4: unknown template variable 'bad'", 1 },
	{ "many errors", "[\"{{a}}\", \"{{b}}\", \"{{c\"]", "1:3: unknown template variable 'a'", 3 },
};

static void test_compile_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(compile_cases) / sizeof(compile_cases[0]); i++) {
		const struct compile_case *c = &compile_cases[i];
		struct fx *fx = fx_new();
		char got[600];
		const struct fl_error *e;

		fx_add(fx, "ok: \"{{region}}\"", NULL);
		fx_add(fx, c->yaml, NULL);
		CHECK(c->name, fx_compile(fx) == FL_EINPUT, "compiled");
		CHECK(c->name, fx->diags.len == c->ndiags, "%zu diags", fx->diags.len);
		e = &fx->diags.items[0];
		snprintf(got, sizeof(got), "%u:%u: %s", e->line, e->col, e->msg);
		CHECK(c->name, strcmp(got, c->error) == 0, "got '%s', want '%s'", got, c->error);
		CHECK(c->name, strcmp(e->path, "release/t1.yaml") == 0 && e->code == FL_EINPUT, "path %s", e->path);
		CHECK(c->name, strncmp(e->srcline, c->yaml, strlen(e->srcline)) == 0 || e->line > 1,
		      "source line '%s'", e->srcline);
		fx_free(fx);
	}
}

static void test_compile_diag_limit(void **state)
{
	struct fx *fx = fx_new();
	struct fl_buf yaml = FL_BUF_INIT;

	(void)state;
	for (int i = 0; i < FL_FLEET_MAX_DIAGS + 10; i++)
		fl_buf_printf(&yaml, "- \"{{nope%d}}\"\n", i);
	fx_add(fx, yaml.ptr, NULL);
	assert_int_equal(fx_compile(fx), FL_EINPUT);
	assert_int_equal(fx->diags.len, FL_FLEET_MAX_DIAGS);
	assert_int_equal(fx->diags.dropped, 10);
	assert_string_equal(fx->diags.items[49].msg, "unknown template variable 'nope49'");
	assert_int_equal(fx->diags.items[49].line, 50);
	assert_int_equal(fx->diags.items[49].col, 4);
	fl_buf_release(&yaml);
	fx_free(fx);
}

struct string_case {
	const char *name;
	const char *tmpl;
	const char *region;
	int rc;
	const char *want;   /* output, or the error message */
};

static void test_render_string(void **state)
{
	static const struct string_case cases[] = {
		{ "argv", "ci/smoke {{tenant.name}} {{ region }}", "us-east-1", 0, "ci/smoke acme us-east-1" },
		{ "no refs", "plain {x} }}", "r", 0, "plain {x} }}" },
		{ "empty", "", "r", 0, "" },
		{ "typed vars as text", "{{vars.seats}}/{{vars.enabled}}/{{vars.ratio}}/{{vars.whole}}", "r", 0,
		  "3/true/0.25/2.0" },
		{ "null as nothing", "[{{vars.nothing}}]", "r", 0, "[]" },
		{ "strings unescaped", "{{vars.display_name}}", "r", 0, "Acme \"Health\"\n\xc3\xa9\\" },
		{ "label and account", "{{tenant.labels.size}}@{{tenant.account}}", "r", 0, "x\"l@123456789012" },
		{ "unknown", "x {{vars.nope}}", "r", FL_EINPUT, "unknown template variable 'vars.nope'" },
		{ "unterminated", "x {{region", "r", FL_EINPUT, "unterminated '{{' in template" },
		{ "empty ref", "x {{ }}", "r", FL_EINPUT, "empty '{{}}' in template" },
		{ "missing label", "{{tenant.labels.zone}}", "r", FL_EINPUT, "tenant 'acme' has no label 'zone'" },
		{ "unset var", "{{vars.unset}}", "r", FL_EINPUT,
		  "tenant 'acme' does not set var 'unset' and it has no default" },
		{ "no region", "{{region}}", NULL, FL_EINPUT, "unknown template variable 'region'" },
	};
	struct fx *fx = fx_new();
	struct fl_buf out = FL_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct string_case *c = &cases[i];
		struct fl_error err = FL_ERROR_INIT;
		int rc;

		fl_buf_puts(&out, "stale");
		rc = fl_render_string(&out, &fx->fleet, &fx->tenant, c->region, c->tmpl, &err);
		CHECK(c->name, rc == c->rc, "rc %d", rc);
		CHECK(c->name, strcmp(rc ? err.msg : out.ptr, c->want) == 0, "got '%s'", rc ? err.msg : out.ptr);
		CHECK(c->name, rc == 0 || out.len == 0, "output left on error");
	}
	fl_buf_release(&out);
	fx_free(fx);
}

struct secret_case {
	const char *path;
	bool secret;
};

static void test_secret_paths(void **state)
{
	static const struct secret_case cases[] = {
		{ "env.PASSWORD", true }, { "env.DSN", true }, { "env", true }, { "", true },
		{ "env.PASSWORD.x", true }, { "env.PASS", false }, { "env.PASSWORDS", false },
		{ "env.USER", false }, { "plain", false }, { "list[0]", true }, { "list", true },
		{ "list[1]", false }, { "list[0]x", false }, { "envx", false }, { "[\"a.b\"]", true },
		{ "[\"a.b\"].c", true }, { "[\"a\"]", false }, { "deep.x[1].y", true },
		{ "deep.x[1]", true }, { "deep.x[0]", false }, { "whole", true },
	};
	struct fx *fx = fx_new();
	struct fl_template *tpl, *other;

	(void)state;
	tpl = fx_add(fx, "env:\n  PASSWORD: \"{{vars.db_password}}\"\n  USER: \"{{tenant.name}}\"\n"
			 "  DSN: \"pg://u:{{vars.db_password}}@{{region}}/{{vars.db_password}}\"\n"
			 "list: [\"{{ vars.db_password }}\", \"{{vars.seats}}\"]\nplain: x\n"
			 "\"a.b\": \"{{vars.db_password}}\"\ndeep: {x: [1, {y: \"{{vars.db_password}}\"}]}\n"
			 "whole: \"{{vars.db_password}}\"\n", NULL);
	other = fx_add(fx, "env: {PASSWORD: x}", NULL);
	assert_int_equal(fx_compile(fx), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(cases[i].path, fl_template_path_secret(tpl, cases[i].path) == cases[i].secret,
		      "want %d", cases[i].secret);
	assert_false(fl_template_path_secret(other, "env.PASSWORD"));
	assert_false(fl_template_path_secret(other, ""));
	assert_false(fl_template_path_secret(NULL, ""));
	fx_free(fx);
}

struct path_case {
	const char *key;
	const char *want;
};

static void test_path_syntax(void **state)
{
	static const struct path_case cases[] = {
		{ "env", "a.env" }, { "a-b_C9", "a.a-b_C9" }, { "a.b", "a[\"a.b\"]" },
		{ "", "a[\"\"]" }, { "q\"", "a[\"q\\\"\"]" }, { "\xc3\xa9", "a[\"\xc3\xa9\"]" },
	};
	struct fl_buf p = FL_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fl_buf_clear(&p);
		fl_spec_path_key(&p, "a", 1);
		fl_spec_path_key(&p, cases[i].key, strlen(cases[i].key));
		CHECK(cases[i].want, strcmp(p.ptr, cases[i].want) == 0, "got %s", p.ptr);
	}
	fl_buf_clear(&p);
	fl_spec_path_index(&p, 3);
	fl_spec_path_key(&p, "x", 1);
	fl_spec_path_index(&p, 0);
	assert_string_equal(p.ptr, "[3].x[0]");
	fl_buf_release(&p);
}

static void test_no_templates(void **state)
{
	struct fx *fx = fx_new();
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	assert_int_equal(fx_compile(fx), 0);
	assert_int_equal(fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, "r", &err), 0);
	assert_int_equal(fx->r.len, 0);
	fx_free(fx);
}

/* ---- limits on rendered JSON ---- */

/* The limits of SPEC 9, written out: the test holds the code to the spec. */
#define MIB ((size_t)1 << 20)
#define MAX_RESOURCE MIB
#define MAX_REGION (16 * MIB)

struct limit_case {
	const char *name;
	size_t title_len;   /* vars.display_name: this many 'x' */
	size_t uses;        /* refs to it in each big template: a list when more than 1 */
	size_t nbig;        /* templates of the title */
	bool one_more;      /* then one template rendering one byte, "1" */
	int rc;
	size_t bad;         /* the template of the error */
	const char *msg;    /* %s: that template's name */
};

static const struct limit_case limit_cases[] = {
	{ "resource at the limit", MAX_RESOURCE - 2, 1, 1, false, 0, 0, NULL },
	{ "resource one byte past", MAX_RESOURCE - 1, 1, 1, false, FL_ELIMIT, 0,
	  "rendered JSON of resource kind 'service' name '%s' exceeds the limit of 1048576 bytes per "
	  "resource (tenant 'acme', region 'eu-west-1')" },
	{ "var used 3,000 times", 40000, 3000, 1, false, FL_ELIMIT, 0,
	  "rendered JSON of resource kind 'service' name '%s' exceeds the limit of 1048576 bytes per "
	  "resource (tenant 'acme', region 'eu-west-1')" },
	{ "region at the limit", MAX_RESOURCE - 2, 1, 16, false, 0, 0, NULL },
	{ "region one byte past", MAX_RESOURCE - 2, 1, 16, true, FL_ELIMIT, 16,
	  "rendered JSON of tenant 'acme' in region 'eu-west-1' exceeds the limit of 16777216 bytes per "
	  "tenant and region at resource kind 'service' name '%s'" },
	{ "region past by a resource", MAX_RESOURCE - 2, 1, 17, false, FL_ELIMIT, 16,
	  "rendered JSON of tenant 'acme' in region 'eu-west-1' exceeds the limit of 16777216 bytes per "
	  "tenant and region at resource kind 'service' name '%s'" },
};

/* A template of uses references to the title: the ref itself, or a list of them. */
static char *title_template(size_t uses)
{
	static const char ref[] = "\"{{vars.display_name}}\"";
	struct fl_buf b = FL_BUF_INIT;
	size_t len;

	for (size_t i = 0; i < uses; i++)
		fl_buf_printf(&b, "%s%s", uses == 1 ? "" : i ? ", " : "[", ref);
	if (uses > 1)
		fl_buf_putc(&b, ']');
	return fl_buf_detach(&b, &len);
}

/* A fixture for case c: its templates added and compiled. */
static struct fx *limit_fx(const struct limit_case *c)
{
	struct fx *fx = fx_new();
	char *title = malloc(c->title_len + 1), *yaml = title_template(c->uses);

	assert_non_null(title);
	memset(title, 'x', c->title_len);
	title[c->title_len] = '\0';
	fx->tenant_vars[VAR_DISPLAY] = new_str(&fx->fleet.arena, title);
	for (size_t i = 0; i < c->nbig; i++)
		fx_add(fx, yaml, NULL)->line = (uint32_t)(i + 3);
	if (c->one_more)
		fx_add(fx, "1", NULL)->line = (uint32_t)(c->nbig + 3);
	assert_int_equal(fx_compile(fx), 0);
	free(yaml);
	free(title);
	return fx;
}

static void check_limit_error(const struct limit_case *c, struct fx *fx, const struct fl_error *err,
			      const char *how)
{
	const char *hole = strstr(c->msg, "%s");
	char want[FL_ERROR_MSG_MAX];

	snprintf(want, sizeof(want), "%.*s%s%s", (int)(hole - c->msg), c->msg, fx->paths[c->bad], hole + 2);
	CHECK(c->name, strcmp(err->msg, want) == 0, "%s: message %s", how, err->msg);
	CHECK(c->name, strcmp(err->path, fx->paths[c->bad]) == 0 && err->line == c->bad + 3 && err->col == 1,
	      "%s: at %s:%u:%u", how, err->path, err->line, err->col);
}

static void test_render_limits(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		const struct limit_case *c = &limit_cases[i];
		struct fx *fx = limit_fx(c);
		struct fl_error err = FL_ERROR_INIT;
		int rc = fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, "eu-west-1", &err);
		size_t total = 0;

		CHECK(c->name, rc == c->rc, "render: rc %d (%s), want %d", rc, err.msg, c->rc);
		for (size_t k = 0; k < fx->r.len; k++)
			total += fx->r.items[k].len;
		if (c->rc) {
			check_limit_error(c, fx, &err, "render");
			/* Stopped before the bytes: the buffer grew (by doubling) to hold
			 * what fit, never to what was asked for. */
			CHECK(c->name, fx->r.json.cap <= 2 * MAX_REGION, "buffer of %zu bytes", fx->r.json.cap);
			CHECK(c->name, fx->r.len == c->bad, "%zu resources rendered", fx->r.len);
		} else {
			CHECK(c->name, fx->r.len == c->nbig && total == c->nbig * MAX_RESOURCE,
			      "%zu resources, %zu bytes", fx->r.len, total);
		}
		fx_free(fx);
	}
}

/* The check at load time finds what rendering finds, without rendering. */
static void test_render_check_tenant(void **state)
{
	static const char *regions[] = { "eu-west-1", "us-east-1" };

	(void)state;
	for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		const struct limit_case *c = &limit_cases[i];
		struct fx *fx = limit_fx(c);
		struct fl_error err = FL_ERROR_INIT;
		int rc;

		/* The first region past a limit is the one named. */
		fx->tenant.regions = regions;
		fx->tenant.nregions = 2;
		rc = fl_render_check_tenant(&fx->fleet, &fx->tenant, &err);
		CHECK(c->name, rc == c->rc, "check: rc %d (%s), want %d", rc, err.msg, c->rc);
		if (c->rc)
			check_limit_error(c, fx, &err, "check");
		CHECK(c->name, fx->r.json.cap == 0, "the check rendered");
		fx_free(fx);
	}
}

/* Every kind of value, in each form (typed, then embedded in text). */
static const char *const sized_refs[] = {
	"{{tenant.name}}", "{{tenant.account}}", "{{region}}", "{{tenant.labels.size}}",
	"{{vars.display_name}}", "{{vars.seats}}", "{{vars.enabled}}", "{{vars.ratio}}",
	"{{vars.nothing}}", "{{vars.odd}}",
};

/*
 * A fixture of one template for service: yaml, or when NULL
 * ["{{tenant.labels.ring}}", "<ref>"], its ref typed or embedded as <ref>;
 * label ring and var db_password are escaped bytes 0x01 (six bytes each in
 * JSON), then pad x's.
 */
static struct fx *sized_fx(const char *ref, const char *yaml, bool embedded, const char *service,
			   size_t escaped, size_t pad)
{
	struct fx *fx = fx_new();
	char *ring = malloc(escaped + pad + 1), text[128];

	assert_non_null(ring);
	memset(ring, 1, escaped);
	memset(ring + escaped, 'x', pad);
	ring[escaped + pad] = '\0';
	fx->labels[0].value = fl_arena_strdup(&fx->fleet.arena, ring);
	fx->tenant_vars[VAR_PASSWORD] = new_str(&fx->fleet.arena, ring);
	fx->tenant.name = "ac\"me\x1f";
	if (!yaml) {
		snprintf(text, sizeof(text), "[\"{{tenant.labels.ring}}\", \"%s%s%s\"]", embedded ? "<" : "",
			 ref, embedded ? ">" : "");
		yaml = text;
	}
	fx_add(fx, yaml, service);
	CHECK(yaml, fx_compile(fx) == 0, "compile: %s", fx->diags.len ? fx->diags.items[0].msg : "");
	free(ring);
	return fx;
}

/*
 * The check measures each value as rendering writes it, to the byte: at
 * exactly the limit it passes, one byte past it fails, for every kind of
 * value in both forms, escapes included.
 */
static void test_check_measures_values(void **state)
{
	static const char *regions[] = { "eu\"west\x01" };

	(void)state;
	for (size_t i = 0; i < 2 * sizeof(sized_refs) / sizeof(sized_refs[0]); i++) {
		const char *ref = sized_refs[i / 2];
		bool embedded = i % 2;
		struct fx *fx = sized_fx(ref, NULL, embedded, NULL, 0, 0);
		struct fl_error err = FL_ERROR_INIT;
		size_t base;

		int rc = fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, regions[0], &err);
		CHECK(ref, rc == 0, "render: %s", err.msg);
		base = fx->r.items[0].len;
		fx_free(fx);
		for (size_t past = 0; past < 2; past++) {
			struct fl_error cerr = FL_ERROR_INIT;
			fx = sized_fx(ref, NULL, embedded, NULL, 0, MAX_RESOURCE - base + past);
			fx->tenant.regions = regions;
			fx->tenant.nregions = 1;
			rc = fl_render_check_tenant(&fx->fleet, &fx->tenant, &cerr);
			CHECK(ref, rc == (past ? FL_ELIMIT : 0), "%s, %s the limit: check rc %d (%s)",
			      embedded ? "embedded" : "typed", past ? "past" : "at", rc, cerr.msg);
			fx_free(fx);
		}
	}
}

struct sums_case {
	const char *name;
	const char *service;  /* of the template: NULL every tenant's; the tenant has api and portal */
	size_t nregions;      /* the first this many of sums_regions */
	const char *worst;    /* the region that renders the most: its size decides */
	size_t past;          /* bytes past the limit there */
	bool escaped;         /* made of bytes that escape to six, rather than of x's */
	bool in_var;          /* the bytes in a var, rather than in a label */
	int rc;
};

/* Escaped, "a\x01" renders the most: more than "abcd" though shorter as bytes. */
static const char *sums_regions[] = { "abcd", "a\x01", "abc" };

static const struct sums_case sums_cases[] = {
	{ "second region at the limit", NULL, 3, "a\x01", 0, false, false, 0 },
	{ "second region one byte past", NULL, 3, "a\x01", 1, false, false, FL_ELIMIT },
	{ "first region one byte past", NULL, 1, "abcd", 1, false, false, FL_ELIMIT },
	{ "service of the tenant one byte past", "portal", 1, "abcd", 1, false, false, FL_ELIMIT },
	{ "service of the tenant at the limit", "portal", 1, "abcd", 0, false, false, 0 },
	{ "service not the tenant's past", "reports", 1, "abcd", 100, false, false, 0 },
	{ "escaped label at the limit", NULL, 1, "abcd", 0, true, false, 0 },
	{ "escaped label one byte past", NULL, 1, "abcd", 1, true, false, FL_ELIMIT },
	{ "escaped var at the limit", NULL, 1, "abcd", 0, true, true, 0 },
	{ "escaped var one byte past", NULL, 1, "abcd", 1, true, true, FL_ELIMIT },
};

/* The sums bound every region and service the tenant renders, and no other. */
static void test_check_sums(void **state)
{
	static const char label_yaml[] = "[\"{{tenant.labels.ring}}\", \"{{region}}\"]";
	static const char var_yaml[] = "[\"{{vars.db_password}}\", \"{{region}}\"]";

	(void)state;
	for (size_t i = 0; i < sizeof(sums_cases) / sizeof(sums_cases[0]); i++) {
		const struct sums_case *c = &sums_cases[i];
		struct fl_error err = FL_ERROR_INIT;
		const char *yaml = c->in_var ? var_yaml : label_yaml;
		size_t base;
		int rc;

		/* Rendered for every tenant, to learn its size. */
		struct fx *fx = sized_fx(NULL, yaml, false, NULL, 0, 0);
		assert_int_equal(fl_render_tenant_region(&fx->r, &fx->fleet, &fx->tenant, c->worst, &err), 0);
		base = fx->r.items[0].len;
		fx_free(fx);

		size_t more = MAX_RESOURCE - base + c->past, escaped = c->escaped ? more / 6 : 0;
		fx = sized_fx(NULL, yaml, false, c->service, escaped, more - 6 * escaped);
		fx->tenant.regions = sums_regions;
		fx->tenant.nregions = c->nregions;
		rc = fl_render_check_tenant(&fx->fleet, &fx->tenant, &err);
		CHECK(c->name, rc == c->rc, "check: rc %d (%s), want %d", rc, err.msg, c->rc);
		CHECK(c->name, !c->rc || strstr(err.msg, c->worst), "check: %s", err.msg);
		fx_free(fx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_cases),
		cmocka_unit_test(test_render_matches_canonical),
		cmocka_unit_test(test_service_filter),
		cmocka_unit_test(test_missing_values),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_compile_diag_limit),
		cmocka_unit_test(test_render_string),
		cmocka_unit_test(test_secret_paths),
		cmocka_unit_test(test_path_syntax),
		cmocka_unit_test(test_no_templates),
		cmocka_unit_test(test_render_limits),
		cmocka_unit_test(test_render_check_tenant),
		cmocka_unit_test(test_check_measures_values),
		cmocka_unit_test(test_check_sums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
