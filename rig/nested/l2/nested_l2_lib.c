// SPDX-License-Identifier: GPL-2.0-only
/*
 * nested_l2_lib: what both of L2's /init programs share (nested_l2.h).
 * Results go to the console as
 *   nested-l2: ok|not ok DESCRIPTION
 *   nested-l2: # ...                     (diagnostics)
 *   nested-l2: host-expect offset=0x.. len=N fnv1a64=0x..  (host file check)
 *   nested-l2: fault-expect iova=0x.. WHAT   (L1 looks for a DMAR fault)
 *   nested-l2: done N FAILED
 * which L1's script (rig/nested/guest/nested_l2_p2p_test) relays.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#include "nested_l2.h"

int n, failed;

void say(const char *fmt, ...)
{
	va_list ap;

	fputs("nested-l2: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void result(int ok, const char *fmt, ...)
{
	va_list ap;

	n++;
	if (!ok)
		failed++;
	printf("nested-l2: %s ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void finish(void)
{
	say("done %d %d", n, failed);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

unsigned long sysfs_ulong(const char *dev, const char *attr)
{
	char path[256], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtoul(buf, NULL, 0);
}

int find_dev(unsigned int vendor, unsigned int device, char *bdf)
{
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/devices");

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (sysfs_ulong(de->d_name, "vendor") == vendor &&
		    sysfs_ulong(de->d_name, "device") == device) {
			strcpy(bdf, de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -1;
}

/* The L2 physical address and size of BAR @bar, from sysfs resource. */
int bar_of(const char *bdf, int bar, uint64_t *start, uint64_t *size)
{
	char path[256], line[256];
	unsigned long long s, e, fl;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (i = 0; i <= bar; i++)
		if (!fgets(line, sizeof(line), f)) {
			fclose(f);
			return -1;
		}
	fclose(f);
	if (sscanf(line, "%llx %llx %llx", &s, &e, &fl) != 3 || !s)
		return -1;
	*start = s;
	*size = e - s + 1;
	return 0;
}

void unbind(const char *bdf)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	say("# unbinding %s from its L2 driver", bdf);
	if (write(fd, bdf, strlen(bdf)) < 0)
		say("# unbind %s: %s", bdf, strerror(errno));
	close(fd);
}

void edu_w64(void *bar0, unsigned int reg, uint64_t val)
{
	__atomic_store_n((uint64_t *)((char *)bar0 + reg), val, __ATOMIC_RELAXED);
}

uint64_t edu_r64(void *bar0, unsigned int reg)
{
	return __atomic_load_n((uint64_t *)((char *)bar0 + reg), __ATOMIC_RELAXED);
}

int edu_dma(void *bar0, uint64_t src, uint64_t dst, uint32_t len, uint64_t dir)
{
	double t = uptime();

	edu_w64(bar0, EDU_REG_DMA_SRC, src);
	edu_w64(bar0, EDU_REG_DMA_DST, dst);
	edu_w64(bar0, EDU_REG_DMA_COUNT, len);
	edu_w64(bar0, EDU_REG_DMA_CMD, EDU_DMA_START | dir);
	/* The engine runs off a 100 ms timer of L0's QEMU; L2 is slow. */
	while (edu_r64(bar0, EDU_REG_DMA_CMD) & EDU_DMA_START) {
		if (uptime() - t > 60)
			return -ETIMEDOUT;
		usleep(5000);
	}
	return 0;
}

uint8_t pattern_byte(size_t i, uint32_t seed)
{
	uint32_t x = seed ^ (uint32_t)(i * 2654435761U);

	x ^= x >> 15;
	x *= 0x2c1b3c6dU;
	x ^= x >> 12;
	return x & 0xff;
}

uint64_t fnv1a64(const volatile uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The first byte of @p that is not the pattern of @seed (0: zeroes), or -1. */
long mismatch(const volatile uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (seed ? pattern_byte(i, seed) : 0))
			return (long)i;
	return -1;
}

/* What the host's backing file must hold at @off: the pattern of @seed, or zeroes. */
void host_expect(uint64_t off, uint32_t seed)
{
	static uint8_t want[DMA_LEN];
	size_t i;

	for (i = 0; i < DMA_LEN; i++)
		want[i] = seed ? pattern_byte(i, seed) : 0;
	say("host-expect offset=0x%llx len=%u fnv1a64=0x%016llx",
	    (unsigned long long)off, DMA_LEN, (unsigned long long)fnv1a64(want, DMA_LEN));
}

/* A DMA to @iova that must fault in L1's IOMMU: L1 looks for the fault. */
void fault_expect(uint64_t iova, const char *what)
{
	say("fault-expect iova=0x%llx %s", (unsigned long long)iova, what);
}

/* RAM page (pattern @seed) -> edu buffer -> bus address @dst. */
int dma_pattern(void *edu, uint8_t *ram, uint64_t ram_pa, uint64_t dst, uint32_t seed)
{
	size_t i;
	int ret;

	for (i = 0; i < DMA_LEN; i++)
		ram[i] = pattern_byte(i, seed);
	ret = edu_dma(edu, ram_pa, EDU_BUF_ADDR, DMA_LEN, 0);
	return ret ? ret : edu_dma(edu, EDU_BUF_ADDR, dst, DMA_LEN, EDU_DMA_TO_BUS);
}
