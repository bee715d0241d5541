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
 * and it reboots L2 at the end (L2 has no ACPI to power off with; QEMU
 * runs with -no-reboot, so it exits).
 *
 * The checks:
 *  1. edu answers (liveness register) through L2's BAR0 mmap;
 *  2. P2P: a pattern DMA'd into BAR2 at 13 MiB (clear of the offsets the
 *     other tests of the check boot write in the same BAR) reads back in L2's view of
 *     BAR2 (zeroed by the CPU before), and in the host's backing file;
 *  3. decode off: with the peer's memory decode off (L2 COMMAND register,
 *     which QEMU forwards to L1's vfio-pci), a DMA to BAR2 + 13 MiB + 64 KiB
 *     does not land: after decode is back on, L2 reads zeroes there, and
 *     the host file reads zeroes there;
 *  4. decode back on: a DMA to BAR2 + 13 MiB + 128 KiB lands again;
 *  5. reset: L2 resets the peer through its sysfs reset (the method L2's
 *     PCI core picks: the secondary bus reset of L2's root port, which
 *     QEMU turns into a reset of the assigned device in L1).  A DMA
 *     started and finished within that reset's window (the peer's memory
 *     off in L2's view: a marker in BAR2 stops reading back; L2's init is
 *     SCHED_FIFO from then until the DMA is done, so the reset cannot
 *     finish under it) does not land; after the reset a DMA lands;
 *  6. unplug: L2 asks L1 to unplug the peer (QMP device_del, which L2's
 *     pciehp completes) and waits for it to leave L2's sysfs; a DMA to its
 *     former BAR2 then does not land; L2 asks L1 to plug it back (QMP
 *     device_add), waits for pciehp to bring it back, and a DMA to its
 *     BAR2 lands again.
 * Each DMA that must not land is also announced as
 *   nested-l2: fault-expect iova=0x.. WHAT
 * for L1, which looks for a DMAR fault of the edu at that page.  L1's
 * requests are
 *   nested-l2: vmm device_del|device_add
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nested_l2.h"

#define OFF_P2P		0xd00000ULL
#define OFF_OFF		0xd10000ULL
#define OFF_ON		0xd20000ULL
#define OFF_RST		0xd30000ULL
#define OFF_RST_ON	0xd40000ULL
#define OFF_GONE	0xd50000ULL
#define OFF_PLUG	0xd60000ULL
/* Where the reset check's marker sits (not a DMA target). */
#define OFF_MARK	0xdf0000ULL
#define MARK		0x5a17c3e9U

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

static int read_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[256];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = 0;
	if (r && buf[r - 1] == '\n')
		buf[r - 1] = 0;
	return 0;
}

static int set_fifo(int on)
{
	struct sched_param sp = { .sched_priority = on ? 50 : 0 };

	return sched_setscheduler(0, on ? SCHED_FIFO : SCHED_OTHER, &sp);
}

/*
 * 5. Reset the peer through L2's sysfs reset, in a child, and DMA into
 * BAR2 + OFF_RST from within the reset's window.  The window is seen from
 * here as a marker in BAR2 that stops reading back: the reset turned the
 * memory off (L2's PCI core clears the peer's COMMAND before it resets
 * the bus, and restores it after).  Once it is seen, this task is
 * SCHED_FIFO and never sleeps until edu's DMA is done, so the child (which
 * sleeps within the reset) cannot end the window under it; the marker
 * still not reading back after the DMA proves it.  The DMA must not land;
 * after the reset, one must.
 */
static void reset_check(const char *shm_bdf, void *edu, uint8_t *ram, uint64_t ram_pa,
			volatile uint8_t *bar2, uint64_t shm2)
{
	volatile uint32_t *mark = (volatile uint32_t *)(bar2 + OFF_MARK);
	char method[128] = "", path[256];
	int ret, status = 0, in_window = 0, seen = 0;
	double t, t_seen = 0, t_done = 0;
	uint16_t cmd = 0;
	size_t i;
	long bad;
	pid_t pid;

	ret = read_attr(shm_bdf, "reset_method", method, sizeof(method));
	say("# the peer's reset_method in L2: '%s' (%d)", method, ret);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", shm_bdf);
	if (access(path, W_OK)) {
		result(0, "reset: the peer has a sysfs reset in L2 (%s)", strerror(errno));
		return;
	}
	/* The DMA's source, in edu's buffer before the window opens. */
	for (i = 0; i < DMA_LEN; i++)
		ram[i] = pattern_byte(i, 0x5eed0004);
	ret = edu_dma(edu, ram_pa, EDU_BUF_ADDR, DMA_LEN, 0);
	memset((void *)(bar2 + OFF_RST), 0, DMA_LEN);
	*mark = MARK;
	if (ret || *mark != MARK) {
		result(0, "reset: setup (edu dma %d, marker 0x%08x)", ret, *mark);
		return;
	}
	pid = fork();
	if (pid < 0) {
		result(0, "reset: fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		int fd = open(path, O_WRONLY);

		if (fd < 0 || write(fd, "1", 1) != 1)
			_exit(errno ? errno : 1);
		_exit(0);
	}
	t = uptime();
	while (uptime() - t < 120) {
		if (*mark != MARK) {
			set_fifo(1);
			if (*mark == MARK) {
				set_fifo(0);
				continue;
			}
			seen = 1;
			t_seen = uptime();
			edu_w64(edu, EDU_REG_DMA_SRC, EDU_BUF_ADDR);
			edu_w64(edu, EDU_REG_DMA_DST, shm2 + OFF_RST);
			edu_w64(edu, EDU_REG_DMA_COUNT, DMA_LEN);
			edu_w64(edu, EDU_REG_DMA_CMD, EDU_DMA_START | EDU_DMA_TO_BUS);
			while (edu_r64(edu, EDU_REG_DMA_CMD) & EDU_DMA_START)
				if (uptime() - t_seen > 30)
					break;
			t_done = uptime();
			in_window = *mark != MARK;
			set_fifo(0);
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = 0;
			break;
		}
		usleep(1000);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	command(shm_bdf, 0, 0, &cmd);
	say("# reset: the child's write to reset: %s; window seen %d (%.3f s after the write began), DMA done %.3f s later, still in the window %d; COMMAND now 0x%04x, marker 0x%08x",
	    ret ? strerror(ret) : "ok", seen, seen ? t_seen - t : 0.0,
	    seen ? t_done - t_seen : 0.0, in_window, cmd, *mark);
	bad = mismatch(bar2 + OFF_RST, DMA_LEN, 0);
	result(!ret && seen && in_window && bad < 0 && (cmd & PCI_COMMAND_MEMORY) && *mark == MARK,
	       "reset: a DMA to BAR2 + 0x%llx within the window of L2's reset of the peer does not land (reset %s, window seen %d, DMA done within it %d, first non-zero byte %ld, COMMAND 0x%04x after)",
	       OFF_RST, ret ? strerror(ret) : "ok", seen, in_window, bad, cmd);
	fault_expect(shm2 + OFF_RST, "reset");
	host_expect(OFF_RST, 0);

	ret = dma_pattern(edu, ram, ram_pa, shm2 + OFF_RST_ON, 0x5eed0005);
	bad = mismatch(bar2 + OFF_RST_ON, DMA_LEN, 0x5eed0005);
	result(!ret && bad < 0,
	       "reset: after the reset, a DMA to BAR2 + 0x%llx lands (dma %d, first bad byte %ld)",
	       OFF_RST_ON, ret, bad);
	host_expect(OFF_RST_ON, 0x5eed0005);
}

/* Wait up to @secs for the ivshmem to be (@present) or not be in L2's sysfs. */
static int wait_peer(int present, char *bdf, int secs)
{
	double t = uptime();
	char b[64];

	while (uptime() - t < secs) {
		if ((find_dev(SHM_VENDOR, SHM_DEVICE, b) == 0) == present) {
			if (present)
				strcpy(bdf, b);
			return 0;
		}
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/*
 * 6. L1 unplugs the peer (QMP device_del; L2's pciehp ejects it) and plugs
 * it back (device_add), at L2's request.  While it is gone a DMA to its
 * former BAR2 must not land; once it is back, one to its BAR2 must.
 */
static void unplug_check(char *shm_bdf, void *edu, uint8_t *ram, uint64_t ram_pa,
			 volatile uint8_t *bar2, uint64_t shm2, uint64_t shm2_size)
{
	uint64_t old2 = shm2;
	double t = uptime();
	uint16_t cmd;
	long bad;
	int ret;

	munmap((void *)bar2, shm2_size);
	say("vmm device_del");
	ret = wait_peer(0, shm_bdf, 300);
	result(!ret, "unplug: the peer left L2 after QMP device_del (%.1f s)", uptime() - t);
	if (ret)
		return;
	ret = dma_pattern(edu, ram, ram_pa, old2 + OFF_GONE, 0x5eed0006);
	say("# DMA to the unplugged peer's former BAR2 + 0x%llx: edu says %d", OFF_GONE, ret);
	fault_expect(old2 + OFF_GONE, "unplugged");
	host_expect(OFF_GONE, 0);

	t = uptime();
	say("vmm device_add");
	ret = wait_peer(1, shm_bdf, 180);
	if (!ret)
		while (bar_of(shm_bdf, 2, &shm2, &shm2_size) && uptime() - t < 300)
			usleep(100000);
	result(!ret && shm2, "unplug: the peer is back in L2 after QMP device_add (%.1f s), %s BAR2 at 0x%llx",
	       uptime() - t, shm_bdf, (unsigned long long)shm2);
	if (ret || !shm2)
		return;
	unbind(shm_bdf);
	ret = command(shm_bdf, PCI_COMMAND_MEMORY, 0, &cmd);
	say("# ivshmem COMMAND 0x%04x after the re-plug (%d)", cmd, ret);
	bar2 = map_bar(shm_bdf, 2, shm2_size);
	if (bar2 == MAP_FAILED) {
		result(0, "unplug: mmap the re-plugged peer's BAR2: %s", strerror(errno));
		return;
	}
	memset((void *)(bar2 + OFF_PLUG), 0, DMA_LEN);
	ret = dma_pattern(edu, ram, ram_pa, shm2 + OFF_PLUG, 0x5eed0007);
	bad = mismatch(bar2 + OFF_PLUG, DMA_LEN, 0x5eed0007);
	result(!ret && bad < 0,
	       "unplug: after the re-plug, a DMA to BAR2 + 0x%llx lands (dma %d, first bad byte %ld)",
	       OFF_PLUG, ret, bad);
	host_expect(OFF_PLUG, 0x5eed0007);
	bad = mismatch(bar2 + OFF_GONE, DMA_LEN, 0);
	result(bad < 0 && shm2 == old2,
	       "unplug: the DMA while the peer was unplugged did not land (BAR2 0x%llx, before 0x%llx; first non-zero byte at + 0x%llx: %ld)",
	       (unsigned long long)shm2, (unsigned long long)old2, OFF_GONE, bad);
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
	fault_expect(shm2 + OFF_OFF, "decode-off");
	host_expect(OFF_OFF, 0);

	/* 4. Decode back on: DMA lands again. */
	ret = dma_pattern(edu, ram, ram_pa, shm2 + OFF_ON, 0x5eed0003);
	bad = mismatch(bar2 + OFF_ON, DMA_LEN, 0x5eed0003);
	result(!ret && bad < 0,
	       "decode: with decode back on, a DMA to BAR2 + 0x%llx lands (dma %d, first bad byte %ld)",
	       OFF_ON, ret, bad);
	host_expect(OFF_ON, 0x5eed0003);

	reset_check(shm_bdf, edu, ram, ram_pa, bar2, shm2);
	unplug_check(shm_bdf, edu, ram, ram_pa, bar2, shm2, shm2_size);
	finish();
	return 0;
}
