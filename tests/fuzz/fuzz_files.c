/* Splitting a fuzz input into fleet files and loading them; see fuzz_files.h. */
#include "tests/fuzz/fuzz_files.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/banned.h"

static bool name_ok(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* True for a path the fleet loader reads, and git accepts. */
static bool fleet_path(const char *path)
{
	if (strcmp(path, "fleet.yaml") == 0)
		return true;
	if (strncmp(path, "release/", 8) == 0)
		return name_ok(path + 8);
	if (strncmp(path, "tenants/", 8) == 0)
		return name_ok(path + 8);
	return false;
}

static void add(struct fl_fuzz_files *out, const char *path, const char *data, size_t len)
{
	if (fleet_path(path)) {
		if (out->nfiles < FL_FUZZ_MAX_FILES)
			out->files[out->nfiles++] = (struct fl_repo_file){ path, data, len };
	} else if (out->nextra < FL_FUZZ_MAX_FILES) {
		out->extra[out->nextra++] = (struct fl_repo_file){ path, data, len };
	}
}

void fl_fuzz_files_split(struct fl_fuzz_files *out, const uint8_t *data, size_t size, const char *first_path)
{
	char *s = fl_malloc(size + 1);
	const char *path = first_path;
	size_t start = 0, i = 0;

	memcpy(s, data, size);
	s[size] = '\0';
	out->copy = s;
	out->nfiles = out->nextra = 0;
	while (i < size) {
		/* A header starts at the beginning of a line. */
		if ((i == 0 || s[i - 1] == '\n') && size - i >= 4 && memcmp(s + i, "### ", 4) == 0) {
			char *nl = memchr(s + i, '\n', size - i);
			size_t end = nl ? (size_t)(nl - s) : size;
			if (i > start || path != first_path)
				add(out, path, s + start, i - start);
			s[end] = '\0';
			path = s + i + 4;
			start = i = end < size ? end + 1 : size;
			continue;
		}
		i++;
	}
	if (size > start || path != first_path)
		add(out, path, s + start, size - start);
}

void fl_fuzz_files_release(struct fl_fuzz_files *files)
{
	free(files->copy);
	files->copy = NULL;
}

static struct fl_repo *repo;

static void die(const char *what, const struct fl_error *err)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, err->msg);
	abort();
}

int fl_fuzz_load(struct fl_fleet **out, const struct fl_repo_file *base, size_t nbase,
		 const struct fl_fuzz_files *files)
{
	struct fl_repo_file all[2 * FL_FUZZ_MAX_FILES];
	struct fl_error err = FL_ERROR_INIT;
	struct fl_diags diags = { 0 };
	struct fl_fleet_load_opts opts = { .threads = 1 };
	struct fl_oid commit;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!repo && fl_repo_new_memory(&repo, &err))
		die("cannot make the repository", &err);
	/* Emptied each time, so that a long run does not grow. */
	if (fl_repo_memory_reset(repo, &err))
		die("cannot empty the repository", &err);
	for (size_t i = 0; i < nbase && n < 2 * FL_FUZZ_MAX_FILES; i++)
		all[n++] = base[i];
	for (size_t i = 0; i < files->nfiles; i++)
		all[n++] = files->files[i];
	rc = fl_repo_commit_files(&commit, repo, all, n, "fuzz", &err);
	if (rc) {
		/* git refuses some trees: a file and a directory of one name. */
		if (rc == FL_EGIT && strstr(err.msg, "cannot write a tree"))
			return rc;
		die("cannot commit", &err);
	}
	rc = fl_fleet_load(out, repo, &commit, &opts, &diags, &err);
	fl_diags_release(&diags);
	return rc;
}
