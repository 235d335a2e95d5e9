/* flotilla validate: load a fleet at a commit and report every problem. */
#include <stdio.h>

#include "cmd/cmd.h"
#include "core/banned.h"

int cmd_validate(int argc, char **argv)
{
	const char *repo = NULL, *rev = NULL;
	const struct fl_opt opts[] = {
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)", &repo, false },
		FL_OPT_CACHE_DIR,
		{ FL_OPT_VALUE, "rev", 0, "REV", "the commit to validate (default: HEAD)", &rev, false },
		{ .kind = FL_OPT_END },
	};
	int rc = fl_opt_parse(fl_cmd_find("validate"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	struct fl_session s = { 0 };
	if ((rc = fl_session_open(&s, repo, rev, NULL)))
		return rc;
	const struct fl_fleet *f = s.fleet;
	printf("fleet '%s' at %.12s is valid: %zu tenant%s, %zu resource template%s, %zu wave%s (",
	       f->name ? f->name : "", f->revision, f->ntenants, f->ntenants == 1 ? "" : "s", f->ntemplates,
	       f->ntemplates == 1 ? "" : "s", f->nwaves, f->nwaves == 1 ? "" : "s");
	for (size_t i = 0; i < f->nwaves; i++)
		printf("%s%s %zu", i ? ", " : "", f->waves[i].name, f->waves[i].ntenants);
	printf(")\n");
	fl_session_close(&s);
	return FL_EXIT_OK;
}
