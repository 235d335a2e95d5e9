/*
 * flotilla watch: a long-lived agent. Every interval it runs apply on the
 * branch's newest commit (fetching first when --repo is a URL): a new
 * commit supersedes the old rollout, bakes end and promotions are picked
 * up on the next round. SIGTERM or SIGINT stops it cleanly once in-flight
 * tenants finish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

/* Parses 30s, 5m, 1h30m (fleet.yaml's durations) or a number of seconds; 0 on error. */
static unsigned parse_interval(const char *s)
{
	unsigned secs = 0;
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (end != s && !*end)
		secs = n <= 7 * 86400 ? (unsigned)n : 0;
	else if (!fl_duration_parse(&secs, s))
		secs = 0;
	return secs <= 7 * 86400 ? secs : 0;
}

/* Sleeps seconds, waking early when a stop signal arrives. */
static void nap(unsigned seconds)
{
	for (unsigned i = 0; i < seconds * 10 && !*fl_stop_flag(); i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int cmd_watch(int argc, char **argv)
{
	const char *repo = NULL, *branch = NULL, *interval_s = NULL, *driver = NULL;
	const struct fl_opt opts[] = {
		{ FL_OPT_VALUE, "repo", 0, "URL", "the fleet repository: a URL or a local path", &repo, true },
		{ FL_OPT_VALUE, "branch", 0, "B", "the branch to follow (default: the repository's HEAD)", &branch, false },
		{ FL_OPT_VALUE, "interval", 0, "DURATION", "how often to look for work (default 30s)", &interval_s, false },
		{ FL_OPT_VALUE, "driver", 0, "TYPE:ARG", "override fleet.yaml's driver, like dir:/tmp/accounts", &driver, false },
		FL_OPT_CACHE_DIR,
		{ .kind = FL_OPT_END },
	};
	int rc = fl_opt_parse(fl_cmd_find("watch"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	unsigned interval = parse_interval(interval_s ? interval_s : "30s");
	if (!interval) {
		fprintf(stderr, "flotilla watch: bad --interval '%s' (expected like 30s, 5m, 1h)\n", interval_s);
		return FL_EXIT_USAGE;
	}
	fl_stop_on_signals();
	printf("watching %s (%s) every %us; SIGTERM or SIGINT stops after in-flight tenants\n", repo,
	       branch ? branch : "HEAD", interval);
	fflush(stdout);
	/*
	 * The branch by its full name, so that a tag or a file of the same name
	 * never stands in for it. A URL's cache mirrors the remote's branches
	 * as its own refs/heads/, so the name means the remote's branch there.
	 */
	char rev[512] = "HEAD";
	if (branch && strncmp(branch, "refs/heads/", 11) == 0)
		branch += 11;
	if (branch && (size_t)snprintf(rev, sizeof(rev), "refs/heads/%s", branch) >= sizeof(rev)) {
		fprintf(stderr, "flotilla watch: --branch is too long\n");
		return FL_EXIT_USAGE;
	}
	while (!*fl_stop_flag()) {
		/* Each round is a plain apply: level-triggered, it picks up where anything left off. */
		const char *args[12] = { "apply", "--repo", repo, "--rev", rev };
		int n = 5;
		if (driver) {
			args[n++] = "--driver";
			args[n++] = driver;
		}
		args[n] = NULL;
		rc = cmd_apply(n, (char **)args);
		printf("watch: round ended with exit %d; next in %us\n", rc, interval);
		fflush(stdout);
		nap(interval);
	}
	printf("watch: stopped\n");
	return FL_EXIT_OK;
}
