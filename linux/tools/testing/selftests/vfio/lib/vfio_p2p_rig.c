// SPDX-License-Identifier: GPL-2.0-only
/*
 * What only the rig gives the vfio-p2p selftests (vfio_p2p_rig.h): the
 * host-file expectations it checks after power-off, the kernel log, sysfs,
 * the holders of a busy group, make check BREAK=1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_p2p_pattern.h"
#include "vfio_p2p_rig.h"

void vfio_p2p_host_expect_bytes(const char *bdf, uint64_t offset,
				const void *buf, size_t len)
{
	printf("# vfio-p2p-host-expect: bdf=%s offset=0x%llx len=%zu fnv1a64=0x%016llx\n",
	       bdf, (unsigned long long)offset, len,
	       (unsigned long long)vfio_p2p_fnv1a64(buf, len));
	fflush(stdout);
}

void vfio_p2p_host_expect(const char *bdf, uint64_t offset, size_t len,
			  uint32_t seed)
{
	uint8_t *buf = malloc(len);

	if (!buf)
		return;
	vfio_p2p_fill(buf, len, seed);
	vfio_p2p_host_expect_bytes(bdf, offset, buf, len);
	free(buf);
}

int vfio_p2p_sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int vfio_p2p_sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int vfio_p2p_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	lseek(fd, 0, SEEK_END);
	return fd;
}

bool vfio_p2p_kmsg_wait(int fd, const char *needle, int timeout_ms)
{
	char rec[1024];
	ssize_t n;
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 10) {
		while ((n = read(fd, rec, sizeof(rec) - 1)) > 0) {
			rec[n] = '\0';
			if (strstr(rec, needle))
				return true;
		}
		if (n < 0 && errno != EAGAIN && errno != EPIPE)
			return false;
		usleep(10000);
	}
	return false;
}

bool vfio_p2p_break_requested(void)
{
	const char *v = getenv("VFIO_P2P_SELFTEST_BREAK");

	return v && *v && strcmp(v, "0");
}

/* "S (sleeping)"-style state and the wait channel of @pid, into @buf. */
static void task_state(const char *pid, char *buf, size_t len)
{
	char path[PATH_MAX], state[64] = "?", wchan[64] = "?";
	char line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "State: %63[^\n]", state) == 1)
				break;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%s/wchan", pid);
	vfio_p2p_sysfs_read(path, wchan, sizeof(wchan));
	snprintf(buf, len, "state %s, wchan %s", state, wchan);
}

void vfio_p2p_report_holders(void)
{
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	int n = 0;

	proc = opendir("/proc");
	if (!proc)
		return;
	while ((pe = readdir(proc))) {
		char dir[PATH_MAX], target[PATH_MAX], st[160];
		int groups = 0, devices = 0;
		ssize_t len;

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/fd", pe->d_name);
		fds = opendir(dir);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			len = readlinkat(dirfd(fds), fe->d_name, target, sizeof(target) - 1);
			if (len < 0)
				continue;
			target[len] = '\0';
			if (!strncmp(target, "/dev/vfio/", 10) && target[10] >= '0' &&
			    target[10] <= '9')
				groups++;
			else if (strstr(target, "[vfio-device]") ||
				 !strncmp(target, "/dev/vfio/devices/", 18))
				devices++;
		}
		closedir(fds);
		if (!groups && !devices)
			continue;
		task_state(pe->d_name, st, sizeof(st));
		fprintf(stderr, "# vfio holder: pid %s (%s): %d group fd(s), %d device fd(s)\n",
			pe->d_name, st, groups, devices);
		n++;
	}
	closedir(proc);
	if (!n)
		fprintf(stderr, "# vfio holder: no process holds a vfio group or device fd\n");
}
