// SPDX-License-Identifier: GPL-2.0-only
/*
 * nested_l2_init: /init of the nested guest (L2) of the nested-VMM leg
 * (rig/nested/README).  Built with gcc -static on the host, it is the whole
 * of L2's user space.  L2 runs under Debian's QEMU in the check guest (L1),
 * with L1's edu and the P2P peer ivshmem assigned to it through vfio-pci.
 *
 * It finds edu (1234:11e8) and the ivshmem (1af4:1110) in L2's
 * /sys/bus/pci, unbinds whatever L2 driver took them, turns their decode
 * (and edu's bus mastering) on through sysfs config, maps edu's BAR0 and
 * the ivshmem's BAR2 through sysfs resourceN, and drives edu's DMA engine:
 * L2 RAM (a locked page, its physical address from /proc/self/pagemap) to
 * edu's buffer, edu's buffer to the ivshmem BAR2 at its L2 physical address
 * (sysfs resource).  With no vIOMMU in L2, that address is the IOVA QEMU
 * mapped in L1's type1 container, pointing at L1's BAR mmap: peer to peer.
 *
 * Its results are lines on the console, which L1's script relays:
 *   nested-l2: ok|not ok DESCRIPTION
 *   nested-l2: # ...                     (diagnostics)
 *   nested-l2: host-expect offset=0x.. len=N fnv1a64=0x..  (host file check)
 *   nested-l2: done N FAILED
 * and it powers L2 off at the end.
 *
 * The checks:
 *  1. edu answers (liveness register) through L2's BAR0 mmap;
 *  2. P2P: a pattern DMA'd into BAR2 at 1 MiB reads back in L2's view of
 *     BAR2 (zeroed by the CPU before), and in the host's backing file;
 *  3. decode off: with the peer's memory decode off (L2 COMMAND register,
 *     which QEMU forwards to L1's vfio-pci), a DMA to BAR2 + 1 MiB + 64 KiB
 *     does not land: after decode is back on, L2 reads zeroes there, and
 *     the host file reads zeroes there;
 *  4. decode back on: a DMA to BAR2 + 1 MiB + 128 KiB lands again.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define SHM_VENDOR	0x1af4
#define SHM_DEVICE	0x1110

#define EDU_REG_LIVENESS	0x04
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_BUS		0x2	/* edu buffer -> bus address */
#define EDU_BUF_ADDR		0x40000ULL
/* QEMU 7.2's edu kills QEMU on a full 4096-byte transfer (rig/guest-run.sh). */
#define DMA_LEN			4095U

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

#define OFF_P2P		0x100000ULL
#define OFF_OFF		0x110000ULL
#define OFF_ON		0x120000ULL

static int n, failed;

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("nested-l2: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void result(int ok, const char *fmt, ...)
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

static double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void finish(void)
{
	say("done %d %d", n, failed);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static unsigned long sysfs_ulong(const char *dev, const char *attr)
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

static int find_dev(unsigned int vendor, unsigned int device, char *bdf)
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
static int bar_of(const char *bdf, int bar, uint64_t *start, uint64_t *size)
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

static void unbind(const char *bdf)
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

static int cfg_fd(const char *bdf)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	return open(path, O_RDWR);
}

static int command(const char *bdf, uint16_t set, uint16_t clear, uint16_t *now)
{
	int fd = cfg_fd(bdf);
	uint16_t cmd;

	if (fd < 0)
		return -errno;
	if (pread(fd, &cmd, 2, PCI_COMMAND) != 2)
		goto err;
	cmd = (cmd | set) & ~clear;
	if (pwrite(fd, &cmd, 2, PCI_COMMAND) != 2)
		goto err;
	if (pread(fd, &cmd, 2, PCI_COMMAND) != 2)
		goto err;
	close(fd);
	if (now)
		*now = cmd;
	return 0;
err:
	close(fd);
	return -errno;
}

static void *map_bar(const char *bdf, int bar, size_t len)
{
	char path[256];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return MAP_FAILED;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p;
}

static void edu_w64(void *bar0, unsigned int reg, uint64_t val)
{
	__atomic_store_n((uint64_t *)((char *)bar0 + reg), val, __ATOMIC_RELAXED);
}

static uint64_t edu_r64(void *bar0, unsigned int reg)
{
	return __atomic_load_n((uint64_t *)((char *)bar0 + reg), __ATOMIC_RELAXED);
}

static int edu_dma(void *bar0, uint64_t src, uint64_t dst, uint32_t len, uint64_t dir)
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

static uint8_t pattern_byte(size_t i, uint32_t seed)
{
	uint32_t x = seed ^ (uint32_t)(i * 2654435761U);

	x ^= x >> 15;
	x *= 0x2c1b3c6dU;
	x ^= x >> 12;
	return x & 0xff;
}

static uint64_t fnv1a64(const volatile uint8_t *p, size_t len)
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
static long mismatch(const volatile uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (seed ? pattern_byte(i, seed) : 0))
			return (long)i;
	return -1;
}

/* The physical address of the locked page at @va. */
static uint64_t phys_of(void *va)
{
	uint64_t ent = 0;
	long ps = getpagesize();
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, 8, ((uintptr_t)va / ps) * 8) != 8)
		ent = 0;
	close(fd);
	if (!(ent >> 63) || !(ent & ((1ULL << 55) - 1)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * ps + ((uintptr_t)va % ps);
}

/* What the host's backing file must hold at @off: the pattern of @seed, or zeroes. */
static void host_expect(uint64_t off, uint32_t seed)
{
	static uint8_t want[DMA_LEN];
	size_t i;

	for (i = 0; i < DMA_LEN; i++)
		want[i] = seed ? pattern_byte(i, seed) : 0;
	say("host-expect offset=0x%llx len=%u fnv1a64=0x%016llx",
	    (unsigned long long)off, DMA_LEN, (unsigned long long)fnv1a64(want, DMA_LEN));
}

/* RAM page (pattern @seed) -> edu buffer -> bus address @dst. */
static int dma_pattern(void *edu, uint8_t *ram, uint64_t ram_pa, uint64_t dst, uint32_t seed)
{
	size_t i;
	int ret;

	for (i = 0; i < DMA_LEN; i++)
		ram[i] = pattern_byte(i, seed);
	ret = edu_dma(edu, ram_pa, EDU_BUF_ADDR, DMA_LEN, 0);
	return ret ? ret : edu_dma(edu, EDU_BUF_ADDR, dst, DMA_LEN, EDU_DMA_TO_BUS);
}

int main(void)
{
	char edu_bdf[64] = "", shm_bdf[64] = "";
	uint64_t edu0, edu0_size, shm2, shm2_size, ram_pa;
	volatile uint8_t *bar2;
	uint16_t cmd;
	uint8_t *ram;
	void *edu;
	long bad;
	int ret;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	say("# init runs, L2 uptime %.2f s", uptime());

	if (find_dev(EDU_VENDOR, EDU_DEVICE, edu_bdf) ||
	    find_dev(SHM_VENDOR, SHM_DEVICE, shm_bdf) ||
	    bar_of(edu_bdf, 0, &edu0, &edu0_size) ||
	    bar_of(shm_bdf, 2, &shm2, &shm2_size) || shm2_size < OFF_ON + DMA_LEN) {
		result(0, "setup: edu '%s' and ivshmem '%s' with their BARs in L2's sysfs",
		       edu_bdf, shm_bdf);
		finish();
	}
	result(1, "setup: edu %s BAR0 at 0x%llx (0x%llx bytes), ivshmem %s BAR2 at 0x%llx (0x%llx bytes)",
	       edu_bdf, (unsigned long long)edu0, (unsigned long long)edu0_size,
	       shm_bdf, (unsigned long long)shm2, (unsigned long long)shm2_size);
	unbind(edu_bdf);
	unbind(shm_bdf);
	ret = command(edu_bdf, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0, &cmd);
	say("# edu COMMAND 0x%04x (%d)", cmd, ret);
	ret = command(shm_bdf, PCI_COMMAND_MEMORY, 0, &cmd);
	say("# ivshmem COMMAND 0x%04x (%d)", cmd, ret);

	edu = map_bar(edu_bdf, 0, getpagesize());
	bar2 = map_bar(shm_bdf, 2, shm2_size);
	ram = aligned_alloc(getpagesize(), getpagesize());
	if (edu == MAP_FAILED || bar2 == MAP_FAILED || !ram || mlock(ram, getpagesize())) {
		result(0, "setup: mmap edu BAR0 and ivshmem BAR2 (resourceN), lock a RAM page: %s",
		       strerror(errno));
		finish();
	}
	memset(ram, 0, getpagesize());
	ram_pa = phys_of(ram);
	say("# RAM page at L2 physical 0x%llx", (unsigned long long)ram_pa);
	__atomic_store_n((uint32_t *)((char *)edu + EDU_REG_LIVENESS), 0x12345678U, __ATOMIC_RELAXED);
	result(__atomic_load_n((uint32_t *)((char *)edu + EDU_REG_LIVENESS), __ATOMIC_RELAXED) ==
	       (uint32_t)~0x12345678U, "edu answers through L2's BAR0 mmap");
	if (!ram_pa) {
		result(0, "setup: the RAM page's physical address from /proc/self/pagemap");
		finish();
	}

	/* 2. P2P into the peer's BAR at its L2 physical address. */
	memset((void *)(bar2 + OFF_P2P), 0, DMA_LEN);
	bad = mismatch(bar2 + OFF_P2P, DMA_LEN, 0);
	if (bad >= 0)
		say("# BAR2 + 0x%llx does not read back zeroes after the CPU cleared it (byte %ld)",
		    OFF_P2P, bad);
	ret = dma_pattern(edu, ram, ram_pa, shm2 + OFF_P2P, 0x5eed0001);
	bad = mismatch(bar2 + OFF_P2P, DMA_LEN, 0x5eed0001);
	result(!ret && bad < 0,
	       "p2p: edu DMA of %u bytes to the ivshmem BAR2 + 0x%llx (L2 physical 0x%llx) lands in L2's view of BAR2 (dma %d, first bad byte %ld)",
	       DMA_LEN, OFF_P2P, (unsigned long long)(shm2 + OFF_P2P), ret, bad);
	host_expect(OFF_P2P, 0x5eed0001);

	/* 3. Decode off: the DMA must not land. */
	memset((void *)(bar2 + OFF_OFF), 0, DMA_LEN);
	ret = command(shm_bdf, 0, PCI_COMMAND_MEMORY, &cmd);
	say("# ivshmem COMMAND 0x%04x after turning memory decode off (%d), L2 uptime %.2f s",
	    cmd, ret, uptime());
	ret = dma_pattern(edu, ram, ram_pa, shm2 + OFF_OFF, 0x5eed0002);
	say("# DMA to BAR2 + 0x%llx with decode off: edu says %d", OFF_OFF, ret);
	sleep(1);
	ret = command(shm_bdf, PCI_COMMAND_MEMORY, 0, &cmd);
	say("# ivshmem COMMAND 0x%04x after turning memory decode on (%d), L2 uptime %.2f s",
	    cmd, ret, uptime());
	bad = mismatch(bar2 + OFF_OFF, DMA_LEN, 0);
	result(bad < 0 && (cmd & PCI_COMMAND_MEMORY),
	       "decode: a DMA to BAR2 + 0x%llx while the peer's decode is off does not land (first non-zero byte %ld)",
	       OFF_OFF, bad);
	host_expect(OFF_OFF, 0);

	/* 4. Decode back on: DMA lands again. */
	ret = dma_pattern(edu, ram, ram_pa, shm2 + OFF_ON, 0x5eed0003);
	bad = mismatch(bar2 + OFF_ON, DMA_LEN, 0x5eed0003);
	result(!ret && bad < 0,
	       "decode: with decode back on, a DMA to BAR2 + 0x%llx lands (dma %d, first bad byte %ld)",
	       OFF_ON, ret, bad);
	host_expect(OFF_ON, 0x5eed0003);
	finish();
	return 0;
}
