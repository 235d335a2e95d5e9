/*
 * flotilla promote REV --wave W: the annotated tag of SPEC 6 that lets a
 * commit (and every commit before it) past W's manual gate.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/remote_repo.h"
#include "reconcile/rollout/rollout.h"
#include "core/banned.h"

int cmd_promote(int argc, char **argv)
{
	const char *repo = NULL, *rev = NULL, *wave = NULL, *message = NULL;
	const struct fl_opt opts[] = {
		{ FL_OPT_ARG, "REV", 0, NULL, "the commit to promote", &rev, true },
		{ FL_OPT_VALUE, "wave", 'w', "W", "the wave whose gate it passes", &wave, true },
		{ FL_OPT_VALUE, "message", 'm', "MESSAGE", "why (the tag's message)", &message, false },
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)", &repo, false },
		FL_OPT_CACHE_DIR,
		{ .kind = FL_OPT_END },
	};
	struct fl_session s = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	char tag[256], msg[512];
	int rc = fl_opt_parse(fl_cmd_find("promote"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	if ((rc = fl_session_open(&s, repo, rev, NULL)))
		return rc;
	int w = fl_fleet_wave_index(s.fleet, wave);
	if (w < 0) {
		fprintf(stderr, "error: fleet '%s' has no wave '%s'\n", s.fleet->name, wave);
		rc = FL_EXIT_ERROR;
		goto out;
	}
	if (!s.fleet->waves[w].gate_manual)
		fprintf(stderr, "note: wave '%s' has no manual gate; the promotion is recorded anyway\n", wave);
	fl_promotion_tag(tag, sizeof(tag), wave, &s.commit);
	snprintf(msg, sizeof(msg), "%s\n", message ? message : "promoted with flotilla promote");
	if (fl_repo_tag_create(s.repo, tag, &s.commit, msg, &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
		goto out;
	}
	printf("promoted %.12s into wave %s: tag %s\n", s.fleet->revision, wave, tag);
	rc = fl_remote_publish(&s, true);
out:
	fl_session_close(&s);
	return rc;
}
