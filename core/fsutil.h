/*
 * Files: whole-file reads with a size limit, atomic replacement (temporary
 * file, fsync, rename, fsync of the directory) and directory creation.
 */
#ifndef FL_FSUTIL_H
#define FL_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

/*
 * Appends the content of path to out. FL_ENOTFOUND when it does not exist,
 * FL_ELIMIT when it is larger than out's maximum, FL_EIO otherwise.
 */
int fl_file_read(struct fl_buf *out, const char *path, struct fl_error *err);

/*
 * Reads at most max bytes from the start of path into out (for headers).
 * FL_ENOTFOUND when it does not exist.
 */
int fl_file_read_head(struct fl_buf *out, const char *path, size_t max, struct fl_error *err);

/*
 * Replaces path with data atomically: after a crash at any instant, path
 * holds either its old content or all of data, never a mix. The temporary
 * file lives beside path, named ".<name>.tmp.<pid>.XXXXXX", and is removed
 * on failure; a crash can leave it behind (fl_file_is_temp recognises it).
 */
int fl_file_write_atomic(const char *path, const void *data, size_t len, struct fl_error *err);

/*
 * fl_file_write_atomic without the sync of path's directory: after a crash
 * path still holds its old content or all of data, but a power loss may
 * take the replacement back until the caller syncs the directory
 * (fl_dir_sync). For a writer that replaces several files in one
 * directory, where one sync after the last serves them all.
 */
int fl_file_write_atomic_unsynced(const char *path, const void *data, size_t len, struct fl_error *err);

/* Syncs directory dir, so that the renames and creations in it survive a power loss. */
int fl_dir_sync(const char *dir, struct fl_error *err);

/*
 * Whether name (one path component) has the form of fl_file_write_atomic's
 * temporary files. A name that starts with a letter or a digit, like every
 * name fl_ident_valid accepts, never does.
 */
bool fl_file_is_temp(const char *name);

/* Creates dir and its missing parents (mode 0777 & ~umask); existing is fine. */
int fl_mkdir_p(const char *dir, struct fl_error *err);

/*
 * Takes an exclusive advisory lock (flock) on path, creating the file, and
 * waits for it. The kernel drops the lock when its holder dies, so a killed
 * holder never leaves it taken. *fd is the lock; fl_file_unlock() drops it.
 */
int fl_file_lock(int *fd, const char *path, struct fl_error *err);
void fl_file_unlock(int fd);

#endif
