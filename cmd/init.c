/*
 * flotilla init DIR: a git repository holding an example fleet, committed:
 * eight tenants in three waves (two canaries first, an early ring behind a
 * manual gate, then the rest), some of them in two regions.
 */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/banned.h"

struct example_file {
	const char *path;
	const char *text;
	bool executable;
};

static const char fleet_yaml[] =
	"# The fleet: what every tenant may differ by, and how changes roll out.\n"
	"version: 1\n"
	"name: demo\n"
	"vars:\n"
	"  display_name: { type: string, required: true }\n"
	"  brand_color:  { type: string, pattern: \"#[0-9a-fA-F]{6}\", default: \"#1f6feb\" }\n"
	"  seats:        { type: integer, min: 1, default: 10 }\n"
	"services: [api, portal, reports]\n"
	"waves:\n"
	"  - name: canary\n"
	"    select: { canary: true }\n"
	"    max_parallel: 1\n"
	"    failure_tolerance: 0\n"
	"    verify:\n"
	"      - name: smoke\n"
	"        run: [\"ci/smoke-test\", \"{{tenant.name}}\", \"{{region}}\"]\n"
	"        timeout: 1m\n"
	"  - name: early\n"
	"    select: { labels: { ring: early } }\n"
	"    max_parallel: 50%\n"
	"    failure_tolerance: 0\n"
	"    gate: manual\n"
	"  - name: fleet\n"
	"    select: rest\n"
	"    max_parallel: 4\n"
	"    failure_tolerance: 25%\n"
	"prune: false\n"
	"guard: { max_delete_percent: 10 }\n"
	"driver: { type: dir, root: accounts }\n"
	"status:\n"
	"  - { type: git-notes }\n";

static const char release_base[] =
	"# What every tenant runs, whatever it subscribes to.\n"
	"kind: network\n"
	"name: vpc\n"
	"spec:\n"
	"  cidr: 10.0.0.0/16\n"
	"  region: \"{{region}}\"\n"
	"  tags: { tenant: \"{{tenant.name}}\", account: \"{{tenant.account}}\" }\n"
	"---\n"
	"kind: bucket\n"
	"name: uploads\n"
	"spec:\n"
	"  name: \"{{tenant.name}}-uploads-{{region}}\"\n"
	"  versioning: true\n"
	"  retention_days: 30\n";

static const char release_api[] =
	"kind: service\n"
	"name: api\n"
	"service: api\n"
	"spec:\n"
	"  image: registry.example/api:1.42.0\n"
	"  replicas: 2\n"
	"  seats: \"{{vars.seats}}\"\n"
	"  env:\n"
	"    TENANT: \"{{tenant.name}}\"\n"
	"    TITLE: \"{{vars.display_name}}\"\n"
	"    REGION: \"{{region}}\"\n";

static const char release_portal[] =
	"kind: service\n"
	"name: portal\n"
	"service: portal\n"
	"spec:\n"
	"  image: registry.example/portal:3.1.0\n"
	"  replicas: 2\n"
	"  theme: { title: \"{{vars.display_name}}\", color: \"{{vars.brand_color}}\" }\n";

static const char release_reports[] =
	"kind: job\n"
	"name: nightly-reports\n"
	"service: reports\n"
	"spec:\n"
	"  image: registry.example/reports:0.9.2\n"
	"  schedule: \"0 2 * * *\"\n"
	"  output: \"s3://{{tenant.name}}-uploads-{{region}}/reports/\"\n";

static const char smoke_test[] =
	"#!/bin/sh\n"
	"# The canary wave's verify command: flotilla runs it once per tenant and\n"
	"# region, with FLOTILLA_TENANT, FLOTILLA_REGION and friends set.\n"
	"echo \"smoke test of $1 in $2: ok\"\n";

#define TENANT(n, acct, regions, extra) \
	{ "tenants/" n ".yaml", "name: " n "\naccount: \"" acct "\"\nregions: " regions "\n" extra, false }

static const struct example_file files[] = {
	{ "fleet.yaml", fleet_yaml, false },
	{ "release/00-base.yaml", release_base, false },
	{ "release/api.yaml", release_api, false },
	{ "release/portal.yaml", release_portal, false },
	{ "release/reports.yaml", release_reports, false },
	{ "ci/smoke-test", smoke_test, true },
	{ ".gitignore", "# The dir driver's accounts of the example, when run from here.\naccounts/\n", false },
	TENANT("acme-test", "100000000001", "[us-east-1]",
	       "canary: true\nservices: [api, portal, reports]\nvars: { display_name: \"Acme (test)\" }\n"),
	TENANT("globex-canary", "100000000002", "[eu-west-1]",
	       "canary: true\nservices: [api, portal]\nvars: { display_name: \"Globex canary\" }\n"),
	TENANT("initech", "100000000003", "[us-east-1, eu-west-1]",
	       "labels: { ring: early }\nservices: [api, portal, reports]\n"
	       "vars: { display_name: \"Initech\", brand_color: \"#cc0000\", seats: 250 }\n"),
	TENANT("umbrella", "100000000004", "[eu-central-1]",
	       "labels: { ring: early }\nservices: [api]\nvars: { display_name: \"Umbrella Health\", seats: 40 }\n"),
	TENANT("hooli", "100000000005", "[us-west-2, ap-southeast-2]",
	       "labels: { size: large }\nservices: [api, portal, reports]\n"
	       "vars: { display_name: \"Hooli\", brand_color: \"#00a86b\", seats: 900 }\n"),
	TENANT("stark", "100000000006", "[us-east-1]",
	       "services: [api, reports]\nvars: { display_name: \"Stark Clinics\" }\n"),
	TENANT("wayne", "100000000007", "[us-east-2]",
	       "services: [portal]\nvars: { display_name: \"Wayne Care\", seats: 75 }\n"),
	TENANT("wonka", "100000000008", "[eu-west-1]",
	       "services: [api, portal]\nstate: active\nvars: { display_name: \"Wonka Dental\" }\n"),
};

#define NFILES (sizeof(files) / sizeof(files[0]))

static bool dir_is_empty_or_missing(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT;
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

static int write_file(const char *dir, const struct example_file *f, struct fl_error *err)
{
	char path[PATH_MAX], parent[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, f->path) >= sizeof(path))
		return fl_error_set(err, FL_EIO, "path too long: '%s/%s'", dir, f->path);
	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = '\0';
	int rc = fl_mkdir_p(parent, err);
	if (!rc)
		rc = fl_file_write_atomic(path, f->text, strlen(f->text), err);
	if (!rc && f->executable && chmod(path, 0755) < 0)
		rc = fl_error_set(err, FL_EIO, "cannot make '%s' executable: %s", path, strerror(errno));
	return rc;
}

int cmd_init(int argc, char **argv)
{
	const char *dir = NULL;
	const struct fl_opt opts[] = {
		{ FL_OPT_ARG, "DIR", 0, NULL, "the directory to create (empty or missing)", &dir, true },
		{ .kind = FL_OPT_END },
	};
	int rc = fl_opt_parse(fl_cmd_find("init"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid commit;
	if (!dir_is_empty_or_missing(dir)) {
		fprintf(stderr, "error: '%s' exists and is not empty; flotilla init wants a new directory\n", dir);
		return FL_EXIT_ERROR;
	}
	for (size_t i = 0; i < NFILES && !rc; i++)
		rc = write_file(dir, &files[i], &err);
	if (!rc)
		rc = fl_repo_init_commit_all(&commit, dir, "Example fleet made by flotilla init", &err);
	if (rc) {
		fl_print_error(&err);
		return FL_EXIT_ERROR;
	}
	char hex[FL_OID_HEX_LEN + 1];
	fl_oid_hex(hex, &commit);
	printf("Created an example fleet in %s (commit %.12s): 8 tenants in 3 waves.\n"
	       "Next: cd %s && flotilla validate && flotilla plan --driver dir:/tmp/acc\n",
	       dir, hex, dir);
	return FL_EXIT_OK;
}
