/*
 * What the fleet and render fuzz targets share: one input split into the
 * files of a fleet repository, written as a commit of an in-memory
 * repository that lives as long as the process, and loaded by the real
 * fleet loader.
 */
#ifndef FL_FUZZ_FILES_H
#define FL_FUZZ_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "core/git.h"
#include "reconcile/fleet/fleet.h"

#define FL_FUZZ_MAX_FILES 64

/*
 * The files of one input: lines "### <path>" start a file, whose content is
 * everything up to the next such line. Text before the first header is the
 * file first_path. Paths other than fleet.yaml, release/NAME and
 * tenants/NAME (NAME of [A-Za-z0-9._-], not "." or "..") are kept in
 * extra, not committed, for the target to use as it likes.
 */
struct fl_fuzz_files {
	struct fl_repo_file files[FL_FUZZ_MAX_FILES];
	size_t nfiles;
	struct fl_repo_file extra[FL_FUZZ_MAX_FILES];
	size_t nextra;
	char *copy; /* the input, with each header's path NUL-terminated */
};

void fl_fuzz_files_split(struct fl_fuzz_files *out, const uint8_t *data, size_t size, const char *first_path);
void fl_fuzz_files_release(struct fl_fuzz_files *files);

/*
 * Commits files (after base, which they override path by path) into the
 * process's in-memory repository, emptied first, and loads the fleet of that
 * commit on one thread. Returns the loader's code; *out is the caller's to
 * fl_fleet_free. Aborts when the repository itself fails: that is no finding
 * of the code under test, and must not pass silently.
 */
int fl_fuzz_load(struct fl_fleet **out, const struct fl_repo_file *base, size_t nbase,
		 const struct fl_fuzz_files *files);

#endif
