// SPDX-License-Identifier: GPL-2.0-only
/*
 * nested_l2_viommu: /init of the nested guest (L2) of the nested-VMM leg's
 * vIOMMU variant (rig/nested/README).  L1's QEMU gives L2 an Intel IOMMU
 * (-device intel-iommu,caching-mode=on) in front of the edu and the P2P
 * peer ivshmem it assigns from L1.  L2's kernel (flavor l2v) has that
 * IOMMU's driver and vfio-pci; this program binds both devices to L2's
 * vfio-pci, puts their groups in one type1 container and maps IOVAs there
 * itself.  L2's IOMMU driver writes the mappings to the vIOMMU's page
 * tables and, caching mode, invalidates them; QEMU's vIOMMU shadows each
 * invalidated range into L1's type1 container (vfio_iommu_map_notify):
 * an IOVA of the peer's BAR2 (L2's vfio BAR mmap, L2 physical addresses of
 * QEMU's own BAR mmap in L1) becomes an L1 MAP_DMA of L1's BAR mmap, which
 * the series maps peer to peer.  edu's DMAs then go to L2 IOVAs, which are
 * L1 IOVAs, and L1's IOMMU translates them.
 *
 * The checks (the console protocol is nested_l2_lib.c's):
 *  1. setup: both devices on L2's vfio-pci in IOMMU groups of L2's vIOMMU,
 *     one type1v2 container, their device fds, edu answers through its
 *     BAR0 mmap;
 *  2. RAM: a buffer of L2 RAM mapped at IOVA_RAM, edu's DMA source;
 *  3. P2P: a window of the peer's BAR2 (BAR2 + OFF_WIN, WIN_LEN, clear of
 *     the other tests' offsets), mmapped through L2's vfio, mapped at
 *     IOVA_BAR; a DMA to IOVA_BAR lands in L2's view of the window (zeroed
 *     by the CPU before) and in the host's backing file;
 *  4. unmap: after UNMAP_DMA of IOVA_BAR, a DMA to IOVA_BAR + 64 KiB does
 *     not land (L2's view and the host file read zeroes there) and L1's
 *     IOMMU faults at its page (fault-expect);
 *  5. re-map: the window mapped at IOVA_BAR again, a DMA to IOVA_BAR +
 *     128 KiB lands.
 * Each MAP_DMA and UNMAP_DMA is announced, in order, as
 *   nested-l2: trace-expect map|unmap iova=0x.. len=0x.. WHAT
 * for L1, which finds the same in QEMU's vfio_iommu_map_notify trace.
 *
 * nested.break=1 on L2's command line (L1's BREAK=1) leaves out step 3's
 * MAP_DMA of the window (and so its announcement): the P2P landing, the
 * window's first UNMAP_DMA and the host's check there must then fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "nested_l2.h"

/* BAR2 + 14.5 MiB: no other program of the check boot writes there. */
#define OFF_WIN		0xe80000ULL
#define WIN_LEN		0x40000ULL
#define OFF_P2P		0x0ULL		/* within the window */
#define OFF_UNMAPPED	0x10000ULL
#define OFF_REMAP	0x20000ULL
/* IOVAs away from L2's physical addresses, so only a translation gets there. */
#define IOVA_RAM	0x10000000ULL
#define RAM_LEN		0x10000ULL
#define IOVA_BAR	0x40000000ULL

struct vdev {
	char bdf[64];
	int group;		/* L2's IOMMU group number */
	int fd;			/* vfio device fd */
	struct vfio_region_info cfg;
};

static int container = -1;

static int cmdline_has(const char *word)
{
	char buf[4096], *p, *save;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t len;

	if (!f)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	for (p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
		if (!strcmp(p, word))
			return 1;
	return 0;
}

static int write_attr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Bind @bdf to L2's vfio-pci (driver_override), and find its group. */
static int bind_vfio(struct vdev *d)
{
	char path[256], link[PATH_MAX], *slash;
	ssize_t r;
	int ret;

	unbind(d->bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", d->bdf);
	ret = write_attr(path, "vfio-pci");
	if (!ret)
		ret = write_attr("/sys/bus/pci/drivers_probe", d->bdf);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", d->bdf);
	r = readlink(path, link, sizeof(link) - 1);
	if (r < 0)
		return -errno;
	link[r] = 0;
	if (strcmp(strrchr(link, '/') + 1, "vfio-pci"))
		return -ENODEV;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", d->bdf);
	r = readlink(path, link, sizeof(link) - 1);
	if (r < 0)
		return -errno;
	link[r] = 0;
	slash = strrchr(link, '/');
	d->group = atoi(slash ? slash + 1 : link);
	return 0;
}

/*
 * Open @d's group (unless @same_as, an already open one, is it), put it in
 * the container (the first one also sets the type1v2 IOMMU), and get the
 * device fd and its config region.
 */
static int open_vdev(struct vdev *d, int *group_fd, int first)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];

	if (*group_fd < 0) {
		snprintf(path, sizeof(path), "/dev/vfio/%d", d->group);
		*group_fd = open(path, O_RDWR);
		if (*group_fd < 0)
			return -errno;
		if (ioctl(*group_fd, VFIO_GROUP_GET_STATUS, &st))
			return -errno;
		if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
			return -EBUSY;
		if (ioctl(*group_fd, VFIO_GROUP_SET_CONTAINER, &container))
			return -errno;
		if (first && ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
			return -errno;
	}
	d->fd = ioctl(*group_fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->fd < 0)
		return -errno;
	d->cfg.argsz = sizeof(d->cfg);
	d->cfg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &d->cfg))
		return -errno;
	return 0;
}

/* Set bits of @d's COMMAND register through its vfio config region. */
static int vfio_command(struct vdev *d, uint16_t set, uint16_t *now)
{
	uint16_t cmd;

	if (pread(d->fd, &cmd, 2, d->cfg.offset + PCI_COMMAND) != 2)
		return -errno;
	cmd |= set;
	if (pwrite(d->fd, &cmd, 2, d->cfg.offset + PCI_COMMAND) != 2)
		return -errno;
	if (pread(d->fd, &cmd, 2, d->cfg.offset + PCI_COMMAND) != 2)
		return -errno;
	*now = cmd;
	return 0;
}

/* mmap @len bytes at @off of @d's BAR @bar through its vfio device fd. */
static void *vfio_mmap_bar(struct vdev *d, int bar, uint64_t off, size_t len)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = bar };

	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return MAP_FAILED;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || off + len > ri.size) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, ri.offset + off);
}

/* Map @len bytes at @va at @iova, and tell L1 to look for it in QEMU's trace. */
static int map_dma(void *va, uint64_t iova, uint64_t len, const char *what)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va,
		.iova = iova,
		.size = len,
	};
	double t = uptime();
	int ret = ioctl(container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;

	say("# MAP_DMA %s: 0x%llx bytes at IOVA 0x%llx: %d, %.3f s", what,
	    (unsigned long long)len, (unsigned long long)iova, ret, uptime() - t);
	if (!ret)
		say("trace-expect map iova=0x%llx len=0x%llx %s",
		    (unsigned long long)iova, (unsigned long long)len, what);
	return ret;
}

/* Unmap [@iova, @iova + @len); how much the container unmapped, or -errno. */
static long long unmap_dma(uint64_t iova, uint64_t len, const char *what)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = len,
	};
	double t = uptime();
	long long ret = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : (long long)u.size;

	say("# UNMAP_DMA %s: IOVA 0x%llx, 0x%llx bytes: %lld unmapped, %.3f s", what,
	    (unsigned long long)iova, (unsigned long long)len, ret, uptime() - t);
	if (ret > 0)
		say("trace-expect unmap iova=0x%llx len=0x%llx %s",
		    (unsigned long long)iova, (unsigned long long)ret, what);
	return ret;
}

int main(void)
{
	struct vdev edu = { .fd = -1 }, shm = { .fd = -1 };
	int edu_group = -1, shm_group = -1, brk, ret;
	uint64_t shm2, shm2_size;
	volatile uint8_t *win;
	long long unmapped;
	uint16_t cmd;
	uint8_t *ram;
	void *bar0;
	long bad;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	/* vfio's /dev/vfio/vfio and /dev/vfio/N: devtmpfs makes them. */
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	say("# init runs, L2 uptime %.2f s", uptime());
	brk = cmdline_has("nested.break=1");
	if (brk)
		say("# BREAK: the peer's BAR window is not DMA-mapped: the P2P landing must fail");

	if (find_dev(EDU_VENDOR, EDU_DEVICE, edu.bdf) ||
	    find_dev(SHM_VENDOR, SHM_DEVICE, shm.bdf) ||
	    bar_of(shm.bdf, 2, &shm2, &shm2_size) || shm2_size < OFF_WIN + WIN_LEN) {
		result(0, "setup: edu '%s' and ivshmem '%s' (BAR2 of 16 MiB) in L2's sysfs",
		       edu.bdf, shm.bdf);
		finish();
	}
	ret = bind_vfio(&edu);
	if (!ret)
		ret = bind_vfio(&shm);
	result(!ret, "setup: edu %s and ivshmem %s bound to L2's vfio-pci, L2 IOMMU groups %d and %d (%s)",
	       edu.bdf, shm.bdf, edu.group, shm.group, strerror(-ret));
	if (ret)
		finish();

	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0 || ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		result(0, "setup: L2's type1v2 container: %s", strerror(errno));
		finish();
	}
	ret = open_vdev(&edu, &edu_group, 1);
	if (!ret) {
		if (shm.group == edu.group)
			shm_group = edu_group;
		ret = open_vdev(&shm, &shm_group, 0);
	}
	result(!ret, "setup: both groups in one type1v2 container of L2, the device fds (%s)",
	       strerror(-ret));
	if (ret)
		finish();

	ret = vfio_command(&edu, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, &cmd);
	say("# edu COMMAND 0x%04x (%d)", cmd, ret);
	ret = vfio_command(&shm, PCI_COMMAND_MEMORY, &cmd);
	say("# ivshmem COMMAND 0x%04x (%d), BAR2 at L2 physical 0x%llx", cmd, ret,
	    (unsigned long long)shm2);
	bar0 = vfio_mmap_bar(&edu, 0, 0, getpagesize());
	win = vfio_mmap_bar(&shm, 2, OFF_WIN, WIN_LEN);
	ram = mmap(NULL, RAM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bar0 == MAP_FAILED || win == MAP_FAILED || ram == MAP_FAILED) {
		result(0, "setup: mmap edu's BAR0 and the window of the ivshmem's BAR2 through L2's vfio: %s",
		       strerror(errno));
		finish();
	}
	memset(ram, 0, RAM_LEN);
	__atomic_store_n((uint32_t *)((char *)bar0 + EDU_REG_LIVENESS), 0x12345678U,
			 __ATOMIC_RELAXED);
	result(__atomic_load_n((uint32_t *)((char *)bar0 + EDU_REG_LIVENESS), __ATOMIC_RELAXED) ==
	       (uint32_t)~0x12345678U, "edu answers through its BAR0 mmap from L2's vfio");

	/* 2. edu's DMA source: L2 RAM at IOVA_RAM. */
	ret = map_dma(ram, IOVA_RAM, RAM_LEN, "ram");
	result(!ret, "map: L2 RAM, 0x%llx bytes at IOVA 0x%llx (%d)",
	       RAM_LEN, IOVA_RAM, ret);
	if (ret)
		finish();

	/* 3. P2P: the BAR window at IOVA_BAR. */
	memset((void *)(win + OFF_P2P), 0, DMA_LEN);
	if (!brk) {
		ret = map_dma((void *)win, IOVA_BAR, WIN_LEN, "bar");
		result(!ret, "map: the ivshmem's BAR2 + 0x%llx, 0x%llx bytes mmapped through L2's vfio, at IOVA 0x%llx (%d)",
		       OFF_WIN, WIN_LEN, IOVA_BAR, ret);
	}
	ret = dma_pattern(bar0, ram, IOVA_RAM, IOVA_BAR + OFF_P2P, 0x5eed0011);
	bad = mismatch(win + OFF_P2P, DMA_LEN, 0x5eed0011);
	result(!ret && bad < 0,
	       "p2p: edu DMA of %u bytes to IOVA 0x%llx, through L2's vIOMMU, lands in the ivshmem BAR2 + 0x%llx (L2's view; dma %d, first bad byte %ld)",
	       DMA_LEN, IOVA_BAR + OFF_P2P, OFF_WIN + OFF_P2P, ret, bad);
	host_expect(OFF_WIN + OFF_P2P, 0x5eed0011);
	if (brk)
		fault_expect(IOVA_BAR + OFF_P2P, "break-unmapped");

	/* 4. After the unmap, a DMA to the window's IOVA must fault. */
	unmapped = unmap_dma(IOVA_BAR, WIN_LEN, "bar");
	result(unmapped == (long long)WIN_LEN,
	       "unmap: UNMAP_DMA of IOVA 0x%llx unmapped the window's 0x%llx bytes (%lld)",
	       IOVA_BAR, WIN_LEN, unmapped);
	memset((void *)(win + OFF_UNMAPPED), 0, DMA_LEN);
	ret = dma_pattern(bar0, ram, IOVA_RAM, IOVA_BAR + OFF_UNMAPPED, 0x5eed0012);
	say("# DMA to the unmapped IOVA 0x%llx: edu says %d", IOVA_BAR + OFF_UNMAPPED, ret);
	bad = mismatch(win + OFF_UNMAPPED, DMA_LEN, 0);
	result(bad < 0,
	       "unmap: a DMA to IOVA 0x%llx after its UNMAP_DMA does not land in BAR2 + 0x%llx (first non-zero byte %ld)",
	       IOVA_BAR + OFF_UNMAPPED, OFF_WIN + OFF_UNMAPPED, bad);
	fault_expect(IOVA_BAR + OFF_UNMAPPED, "viommu-unmapped");
	host_expect(OFF_WIN + OFF_UNMAPPED, 0);

	/* 5. Mapped again, a DMA lands again. */
	ret = map_dma((void *)win, IOVA_BAR, WIN_LEN, "bar-again");
	memset((void *)(win + OFF_REMAP), 0, DMA_LEN);
	ret = ret ? ret : dma_pattern(bar0, ram, IOVA_RAM, IOVA_BAR + OFF_REMAP, 0x5eed0013);
	bad = mismatch(win + OFF_REMAP, DMA_LEN, 0x5eed0013);
	result(!ret && bad < 0,
	       "remap: with the window mapped at IOVA 0x%llx again, a DMA to IOVA 0x%llx lands in BAR2 + 0x%llx (%d, first bad byte %ld)",
	       IOVA_BAR, IOVA_BAR + OFF_REMAP, OFF_WIN + OFF_REMAP, ret, bad);
	host_expect(OFF_WIN + OFF_REMAP, 0x5eed0013);

	unmapped = unmap_dma(IOVA_BAR, WIN_LEN, "bar-again");
	result(unmapped == (long long)WIN_LEN, "unmap: the window again (%lld)", unmapped);
	unmapped = unmap_dma(IOVA_RAM, RAM_LEN, "ram");
	result(unmapped == (long long)RAM_LEN, "unmap: L2 RAM (%lld)", unmapped);
	finish();
	return 0;
}
