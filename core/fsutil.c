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
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, "cannot open directory", dir);
	int rc = 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = io_error(err, "cannot sync directory", dir);
	close(fd);
	return rc;
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

int fl_file_write_atomic(const char *path, const void *data, size_t len, struct fl_error *err)
{
	char tmp[PATH_MAX];
	int fd = -1, rc = 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
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
	rc = fsync_dir_of(path, err);
	return rc;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
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
