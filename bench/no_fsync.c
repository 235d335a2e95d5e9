/*
 * The ceiling of issue 11, item 3 ("fewer syncs"): preloaded into flotilla
 * by bench/fsync_ceiling.sh, it turns every fsync and fdatasync into a
 * no-op, so that an apply with it is what an apply would cost if batching
 * removed every sync. For measurement only: a process that runs with it
 * loses every durability guarantee flotilla makes.
 */
#include <unistd.h>

int fsync(int fd)
{
	(void)fd;
	return 0;
}

int fdatasync(int fd)
{
	(void)fd;
	return 0;
}
