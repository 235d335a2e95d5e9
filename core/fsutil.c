/* File reads with limits, atomic replacement, directory creation and file locks. */
#define _DEFAULT_SOURCE 1 /* flock(); CMake sets only _POSIX_C_SOURCE */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/banned.h"

static int io_error(struct fl_error *err, const char *what, const char *path)
{
	int code = errno == ENOENT ? FL_ENOTFOUND : FL_EIO;
	return fl_error_set(err, code, "%s '%s': %s", what, path, strerror(errno));
}

static int read_fd(struct fl_buf *out, int fd, const char *path, size_t max, struct fl_error *err)
{
	char chunk[65536];
	size_t total = 0;
	for (;;) {
		size_t want = sizeof(chunk);
		if (max && max - total < want)
			want = max - total;
		if (want == 0)
			break;
		ssize_t n = read(fd, chunk, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return io_error(err, "cannot read", path);
		}
		if (n == 0)
			break;
		if (fl_buf_put(out, chunk, (size_t)n))
			return fl_error_set(err, FL_ELIMIT, "'%s' is larger than the limit of %zu bytes",
					    path, out->max);
		total += (size_t)n;
	}
	return 0;
}

int fl_file_read(struct fl_buf *out, const char *path, struct fl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, "cannot open", path);
	int rc = read_fd(out, fd, path, 0, err);
	close(fd);
	return rc;
}

int fl_file_read_head(struct fl_buf *out, const char *path, size_t max, struct fl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, "cannot open", path);
	int rc = read_fd(out, fd, path, max, err);
	close(fd);
	return rc;
}

int fl_dir_sync(const char *dir, struct fl_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, "cannot open directory", dir);
	int rc = 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = io_error(err, "cannot sync directory", dir);
	close(fd);
	return rc;
}

static int fsync_dir_of(const char *path, struct fl_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		size_t len = (size_t)(slash - path);
		if (len == 0)
			len = 1;
		if (len >= sizeof(dir))
			return fl_error_set(err, FL_EIO, "path too long: '%s'", path);
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	return fl_dir_sync(dir, err);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "." name ".tmp." pid "." and mkstemp's six letters and digits. */
#define TEMP_MID ".tmp."
#define TEMP_MID_LEN (sizeof(TEMP_MID) - 1)
#define TEMP_RANDOM_LEN 6

/*
 * The template of path's temporary file, ".<name>.tmp.<pid>.XXXXXX" beside
 * it: the leading dot keeps it apart from every file named by a region,
 * resource or account (they start with a letter or a digit), so no such
 * file can ever look like another one's temporary; the pid says which
 * process left it, for whoever reads the directory.
 */
static int temp_template(char *out, size_t size, const char *path)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) + 1 : 0;
	int n = snprintf(out, size, "%.*s.%s" TEMP_MID "%ld.XXXXXX", dirlen, path, path + dirlen,
			 (long)getpid());
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

bool fl_file_is_temp(const char *name)
{
	size_t len = strlen(name);
	/* Parsed from the end: the name itself may hold ".tmp." and digits. */
	if (len < 1 + 1 + TEMP_MID_LEN + 1 + 1 + TEMP_RANDOM_LEN || name[0] != '.')
		return false;
	const char *p = name + len - TEMP_RANDOM_LEN;
	for (size_t i = 0; i < TEMP_RANDOM_LEN; i++)
		if (!is_alnum(p[i]))
			return false;
	if (*--p != '.')
		return false;
	const char *digits_end = p;
	while (p > name && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == digits_end || (size_t)(p - name) < 1 + 1 + TEMP_MID_LEN)
		return false;
	return memcmp(p - TEMP_MID_LEN, TEMP_MID, TEMP_MID_LEN) == 0;
}

int fl_file_write_atomic_unsynced(const char *path, const void *data, size_t len, struct fl_error *err)
{
	char tmp[PATH_MAX];
	int fd = -1, rc = 0;
	if (temp_template(tmp, sizeof(tmp), path))
		return fl_error_set(err, FL_EIO, "path too long: '%s'", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return io_error(err, "cannot create a temporary file for", path);
	if (write_all(fd, data, len) < 0) {
		rc = io_error(err, "cannot write", tmp);
		goto out;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		rc = io_error(err, "cannot sync", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = io_error(err, "cannot close", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = io_error(err, "cannot rename into", path);
		goto out;
	}
	return 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int fl_file_write_atomic(const char *path, const void *data, size_t len, struct fl_error *err)
{
	int rc = fl_file_write_atomic_unsynced(path, data, len, err);
	return rc ? rc : fsync_dir_of(path, err);
}

int fl_mkdir_p(const char *dir, struct fl_error *err)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path))
		return fl_error_set(err, FL_EIO, "bad directory path '%s'", dir);
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char saved = path[i];
		path[i] = '\0';
		struct stat st;
		if (mkdir(path, 0777) < 0 && (errno != EEXIST || stat(path, &st) < 0 || !S_ISDIR(st.st_mode))) {
			if (errno == EEXIST)
				errno = ENOTDIR;
			return io_error(err, "cannot create directory", path);
		}
		path[i] = saved;
	}
	return 0;
}

int fl_file_lock(int *fd, const char *path, struct fl_error *err)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return io_error(err, "cannot open", path);
	while (flock(*fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int rc = io_error(err, "cannot lock", path);
			close(*fd);
			*fd = -1;
			return rc;
		}
	}
	return 0;
}

void fl_file_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only descriptor drops the lock */
}
