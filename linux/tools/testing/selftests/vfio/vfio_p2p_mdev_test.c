// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_mdev_test: P2P DMA into a mediated device whose BAR is a slice of
 * a parent BAR placed at first touch (samples/vfio-mdev/mslice.c).
 *
 * The parent is the rig's second ivshmem, bound to the mslice driver (found
 * by that driver, not by address).  Each test creates a 1 MiB mdev A and a
 * 4 MiB mdev B and puts them and edu in one container (or IOAS, below):
 *
 *  - untouched_bar_p2p_dma: MAP_DMA of B's never-touched BAR0 mmap places
 *    B's slice (vma_to_pfn) and maps it; edu's DMA lands there, at B's slice
 *    offset in the parent's BAR, and A's slice is unchanged (in the guest,
 *    and in the host's backing file through the rig);
 *  - doorbell_reads_ram_and_p2p: A's device model reads a RAM IOVA and an
 *    IOVA that maps B's BAR with vfio_dma_rw(), and pins them with
 *    vfio_pin_pages(), which cannot pin device memory: a clean errno;
 *  - remove_while_mapped: B is removed while its BAR is mapped; while the
 *    removal waits for B's user no new mdev gets B's slice, and once B is
 *    gone DMA to that IOVA lands nowhere, not even in the mdev that gets
 *    B's slice next, and A's device model cannot read it (vfio_dma_rw())
 *    nor pin it (vfio_pin_pages()), not even with RAM at B's old address;
 *  - exhaust_and_overlap: creating more mdevs than the parent has slices
 *    fails with ENOSPC, available_instances counts right, and no two
 *    slices overlap;
 *  - mmap_beyond_slice: every mapping outside the slice is refused;
 *  - remove_during_map_loop: B is removed while a thread maps and unmaps
 *    its BAR in a loop, a smoke test of that race: no error but EFAULT
 *    (after B is gone its range is PROT_NONE memory), no kernel report;
 *    B holds a pin of RAM (where the mode pins), which its close drops;
 *  - parent_unbind_releases: unbinding the parent waits for the mdevs'
 *    user, and then no DMA reaches either slice; the parent binds again;
 *  - decode_off_revokes: clearing the memory bit of B's emulated command
 *    register revokes the IOMMU mapping of B's BAR0 (edu's DMA does not
 *    land, A's device model cannot read it, BAR0 reads fail, MAP_DMA is
 *    refused); setting it again restores the mapping at the same IOVA;
 *  - parent_reset_revokes: a reset of the parent PCI function through its
 *    sysfs reset attribute, while the BARs are mapped, revokes the
 *    mappings during the reset (each mdev's BAR0 reads fail while the
 *    reset holds the parent) and restores them after it;
 *  - first_domain_attach_fails: in a container of the two mdevs alone (no
 *    IOMMU domain, nothing pinned), the first IOMMU group to attach (a
 *    test-IOMMU client) fails at B's BAR, after type1 pinned the RAM for
 *    it: the pins go again, and a second attach maps RAM and B's BAR.
 *
 * Each test runs in every mode of vfio_p2p_iommu_modes.h: type1, type1v2,
 * and iommufd, where edu's and each mdev's vfio cdev are bound to one
 * iommufd and attached to its IOAS, the mdevs through an iommufd_access
 * (vfio_pin_pages() is iommufd_access_pin_pages(), vfio_dma_rw() is
 * iommufd_access_rw()), and MAP_DMA is IOMMU_IOAS_MAP.  The device model
 * then sees what it sees under type1v2: RAM pins, device memory never
 * (EFAULT); a read of a revoked or released range fails as a DMA would;
 * only a read, or an unmap, of an IOVA nothing maps fails with iommufd's
 * own errno (ENOENT; type1: EINVAL, and 0 bytes unmapped).  Without an
 * mslice parent (the stock kernel) every test skips.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
/* mslice's ABI: the sample's own header, by its path in the tree. */
#include "../../../../samples/vfio-mdev/mslice.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"
#include "vfio_p2p_test_iommu.h"

#define PG		4096UL
#define MIB		0x100000UL
#define DMA_LEN		EDU_DMA_MAX
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA_A		0x40000000ULL
#define IOVA_B		0x80000000ULL
#define IOVA_LOOP	0x100000000ULL
#define IOVA_NONE	0x70000000ULL	/* never mapped */
#define OFF		0x90000UL	/* where in a BAR0 the DMAs go */
#define OFF2		0xa0000UL	/* where the DMAs that must not land go */
#define OFF3		0xb0000UL	/* where the test IOMMU's client writes */
#define MAX_MDEVS	80

struct mdev {
	char uuid[40];
	size_t size;			/* BAR0, the slice */
	struct vfio_p2p_dev dev;
	struct vfio_p2p_region bar0, regs;
	uint8_t *bar;			/* BAR0 mmap, or NULL */
	bool removed;
};

/* The first PCI function bound to the mslice driver: the mdev parent. */
static int find_parent(char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/drivers/mslice");
	struct dirent *de;
	int ret = -ENODEV;

	if (!d)
		return -ENODEV;
	while ((de = readdir(d))) {
		if (strchr(de->d_name, ':') && strlen(de->d_name) < len) {
			memcpy(bdf, de->d_name, strlen(de->d_name) + 1);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* The size of the parent's BAR2, from its sysfs resource table. */
static uint64_t parent_bar_size(const char *bdf)
{
	unsigned long long start, end, flags;
	char path[PATH_MAX];
	uint64_t size = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= IVSHMEM_BAR; i++) {
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			break;
		if (i == IVSHMEM_BAR && end > start)
			size = end - start + 1;
	}
	fclose(f);
	return size;
}

static long available(const char *parent, const char *type)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path),
		 "/sys/class/mdev_bus/%s/mdev_supported_types/%s/available_instances",
		 parent, type);
	if (vfio_p2p_sysfs_read(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static int mdev_create(const char *parent, const char *type, struct mdev *m)
{
	static unsigned int counter;
	char path[PATH_MAX];
	int ret;

	memset(m, 0, sizeof(*m));
	vfio_p2p_dev_init(&m->dev);
	m->removed = true;
	snprintf(m->uuid, sizeof(m->uuid), "%08x-5ce1-4000-8000-%012x",
		 (unsigned int)getpid(), ++counter);
	snprintf(path, sizeof(path), "/sys/class/mdev_bus/%s/mdev_supported_types/%s/create",
		 parent, type);
	ret = vfio_p2p_sysfs_write(path, m->uuid);
	if (!ret)
		m->removed = false;
	return ret;
}

static int mdev_remove(struct mdev *m)
{
	char path[PATH_MAX];
	int ret;

	if (m->removed)
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", m->uuid);
	ret = vfio_p2p_sysfs_write(path, "1");
	if (!ret)
		m->removed = true;
	return ret;
}

/* Where the slice starts in the parent's BAR2; -1 while it has none. */
static int64_t slice_offset(struct mdev *m)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mslice/%s",
		 m->uuid, "slice_offset");
	if (vfio_p2p_sysfs_read(path, buf, sizeof(buf)))
		return -2;
	if (!strncmp(buf, "none", 4))
		return -1;
	return strtoll(buf, NULL, 16);
}

/* How many CPU faults of its BAR0 mmaps the driver served; -1 on error. */
static long mdev_faults(struct mdev *m)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mslice/faults", m->uuid);
	if (vfio_p2p_sysfs_read(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/*
 * The mdev into @container (vfio_p2p_mdev_open(): for the container's first
 * group, @iommu_type; 0 for none), and its regions.
 */
static int mdev_open(struct mdev *m, int container, int iommu_type)
{
	int ret = vfio_p2p_mdev_open(&m->dev, m->uuid, container, iommu_type);

	if (!ret)
		ret = vfio_p2p_region_info(&m->dev, VFIO_PCI_BAR0_REGION_INDEX, &m->bar0);
	if (!ret)
		ret = vfio_p2p_region_info(&m->dev, VFIO_PCI_BAR1_REGION_INDEX, &m->regs);
	if (!ret)
		m->size = m->bar0.size;
	return ret;
}

/* munmap BAR0 and close the fds, the way the mdev's user lets go. */
static void mdev_close(struct mdev *m)
{
	if (m->bar)
		munmap(m->bar, m->size);
	m->bar = NULL;
	vfio_p2p_dev_close(&m->dev);
}

static uint8_t *mdev_map_bar(struct mdev *m)
{
	void *p = vfio_p2p_region_mmap(&m->dev, &m->bar0, 0, m->size,
				       PROT_READ | PROT_WRITE);

	m->bar = p == MAP_FAILED ? NULL : p;
	return m->bar;
}

static int reg_write(struct mdev *m, unsigned int reg, uint64_t val, size_t size)
{
	uint32_t v32 = val;
	const void *p = size == 8 ? (const void *)&val : (const void *)&v32;

	if (pwrite(m->dev.fd, p, size, m->regs.offset + reg) != (ssize_t)size)
		return -errno;
	return 0;
}

static uint64_t reg_read(struct mdev *m, unsigned int reg, size_t size)
{
	uint64_t v64 = 0;
	uint32_t v32 = 0;

	if (size == 8) {
		if (pread(m->dev.fd, &v64, 8, m->regs.offset + reg) != 8)
			return ~0ULL;
		return v64;
	}
	if (pread(m->dev.fd, &v32, 4, m->regs.offset + reg) != 4)
		return ~0ULL;
	return v32;
}

/* Ring @m's doorbell; returns STATUS (0 or -errno), RESULT in *@result. */
static int doorbell(struct mdev *m, uint32_t cmd, uint64_t iova, uint32_t len,
		    uint64_t *result)
{
	int ret;

	ret = reg_write(m, MSLICE_REG_IOVA, iova, 8);
	if (!ret)
		ret = reg_write(m, MSLICE_REG_LEN, len, 4);
	if (!ret)
		ret = reg_write(m, MSLICE_REG_CMD, cmd, 4);
	if (ret)
		return 1;	/* not an errno the device model can give */
	*result = reg_read(m, MSLICE_REG_RESULT, 8);
	return (int32_t)reg_read(m, MSLICE_REG_STATUS, 4);
}

/* Does [a, a + la) overlap [b, b + lb)? */
static bool overlaps(uint64_t a, uint64_t la, uint64_t b, uint64_t lb)
{
	return a < b + lb && b < a + la;
}

/* Wait for available_instances of @type to reach @n: the slice is freed. */
static bool wait_available(const char *parent, const char *type, long n)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (available(parent, type) == n)
			return true;
		usleep(10000);
	}
	return false;
}

FIXTURE(mslice) {
	char parent[16];
	uint64_t bar_size;
	struct vfio_p2p_ctx c;		/* container, edu and RAM only */
	struct mdev a, b;		/* 1 MiB and 4 MiB */
	struct mdev extra[MAX_MDEVS];
	int nr_extra;
	pid_t owner;			/* the process that opened all this */
};

/* The blocks of 4 MiB that mslice carves from the parent's BAR2. */
static long parent_blocks(uint64_t bar_size)
{
	return (bar_size > MSLICE_MAX_BAR ? MSLICE_MAX_BAR : bar_size) /
	       (MSLICE_BLOCK_UNITS * MSLICE_UNIT);
}

/* No mdev holds any of the parent's space (within 5 s). */
static bool parent_idle(const char *parent, uint64_t bar_size)
{
	long blocks = parent_blocks(bar_size);

	return wait_available(parent, "mslice-4m", blocks) &&
	       wait_available(parent, "mslice-1m", 4 * blocks);
}

FIXTURE_VARIANT(mslice) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE mslice
#include "vfio_p2p_iommu_modes.h"

/*
 * Does vfio_pin_pages() pin RAM?  type1v2 and iommufd (its compat container
 * too, for type1); vfio's type1 (v1) never.
 */
static bool mode_pins(int iommu_type)
{
	return iommu_type != VFIO_TYPE1_IOMMU || vfio_p2p_mode_is_iommufd(iommu_type);
}

/* vfio_pin_pages() of device memory, or of a revoked or released IOVA. */
static int pin_device_errno(int iommu_type)
{
	return mode_pins(iommu_type) ? -EFAULT : -EACCES;
}

/*
 * An unmap of a range nothing maps: UNMAP_DMA unmaps 0 bytes (iommufd's
 * compat container too), IOMMU_IOAS_UNMAP fails with ENOENT.
 */
static int unmap_nothing(int iommu_type)
{
	return iommu_type == VFIO_P2P_IOMMUFD ? -ENOENT : 0;
}

/* vfio_dma_rw() of an IOVA nothing maps: each backend's own errno. */
static int unmapped_errno(int iommu_type)
{
	return vfio_p2p_mode_is_iommufd(iommu_type) ? -ENOENT : -EINVAL;
}

FIXTURE_SETUP(mslice)
{
	struct vfio_p2p_ctx *c = &self->c;
	const char *what;
	int ret;

	self->owner = getpid();
	vfio_p2p_ctx_init(c);
	self->a.removed = true;
	self->b.removed = true;
	vfio_p2p_dev_init(&self->a.dev);
	vfio_p2p_dev_init(&self->b.dev);
	self->nr_extra = 0;

	if (find_parent(self->parent, sizeof(self->parent)))
		SKIP(return, "no device bound to the mslice driver (samples/vfio-mdev/mslice.c)");
	self->bar_size = parent_bar_size(self->parent);
	ASSERT_LE(16 * MIB, self->bar_size);

	/* An earlier test's process may still be exiting: wait, boundedly. */
	ret = vfio_p2p_ctx_open_edu_wait(c, variant->iommu_type, &what, 30);
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));

	/*
	 * A test before this one may have left its mdevs' slices to be freed
	 * by the P2P tracker's work item: wait for a parent with nothing on it.
	 */
	ASSERT_TRUE(parent_idle(self->parent, self->bar_size));
	/* No teardown follows a failed setup: undo our part before failing. */
	ret = mdev_create(self->parent, "mslice-1m", &self->a);
	if (!ret)
		ret = mdev_create(self->parent, "mslice-4m", &self->b);
	if (!ret)
		ret = mdev_open(&self->a, c->container, 0);
	if (!ret)
		ret = mdev_open(&self->b, c->container, 0);
	if (!ret && (self->a.size != MIB || self->b.size != 4 * MIB ||
		     reg_read(&self->a, MSLICE_REG_ID, 4) != MSLICE_ID))
		ret = -EPROTO;
	if (ret) {
		mdev_close(&self->a);
		mdev_close(&self->b);
		mdev_remove(&self->a);
		mdev_remove(&self->b);
	}
	ASSERT_EQ(0, ret) TH_LOG("creating and opening two mdevs (BAR0 sizes, ID): %s",
				 strerror(-ret));
}

/*
 * Normally in the harness's process, once the test's has exited, which
 * closed every fd and mapping of the mdevs: only the removal is left.  But
 * after a failed ASSERT the 6.12 harness runs it in the test's process
 * (longjmp() loses which side of its fork() it is on), and there the mdevs
 * must be let go of first, or their removal waits forever.  Either way each
 * slice must come back once nothing maps it.
 */
FIXTURE_TEARDOWN_PARENT(mslice)
{
	int i;

	if (getpid() == self->owner) {
		mdev_close(&self->a);
		mdev_close(&self->b);
		for (i = 0; i < self->nr_extra; i++)
			mdev_close(&self->extra[i]);
		vfio_p2p_ctx_close(&self->c);
	}
	EXPECT_EQ(0, mdev_remove(&self->a));
	EXPECT_EQ(0, mdev_remove(&self->b));
	for (i = 0; i < self->nr_extra; i++)
		EXPECT_EQ(0, mdev_remove(&self->extra[i]));
	if (self->parent[0])
		EXPECT_TRUE(parent_idle(self->parent, self->bar_size));
}

TEST_F_TIMEOUT(mslice, untouched_bar_p2p_dma, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed(), seed_a = seed + 1, seed_a2 = seed + 2;
	int64_t off_a, off_b;
	uint8_t *a, *b, *expect;

	/* Nothing is placed before someone touches or maps the BAR. */
	ASSERT_EQ(-1, slice_offset(&self->a));
	ASSERT_EQ(-1, slice_offset(&self->b));
	a = mdev_map_bar(&self->a);
	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(-1, slice_offset(&self->b));

	/* MAP_DMA of the untouched BAR: vma_to_pfn places B's slice. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, b, IOVA_B, self->b.size, RW));
	off_b = slice_offset(&self->b);
	ASSERT_LE(0, off_b) TH_LOG("MAP_DMA did not place the slice");
	ASSERT_EQ(-1, slice_offset(&self->a));

	/* The CPU's first touch places A's slice (the fault handler). */
	vfio_p2p_fill(a, self->a.size, seed_a);
	ASSERT_LT(0, mdev_faults(&self->a));
	off_a = slice_offset(&self->a);
	ASSERT_LE(0, off_a);
	ASSERT_FALSE(overlaps(off_a, self->a.size, off_b, self->b.size))
		TH_LOG("slices overlap: A at 0x%llx, B at 0x%llx",
		       (unsigned long long)off_a, (unsigned long long)off_b);
	ASSERT_GE(self->bar_size, (uint64_t)off_b + self->b.size);
	ASSERT_GE(self->bar_size, (uint64_t)off_a + self->a.size);

	/* edu writes into B, which the CPU never touched. */
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed));
	/* MAP_DMA did not fault B's mmap in: vma_to_pfn, not the fault path. */
	ASSERT_EQ(0, mdev_faults(&self->b));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed))
		TH_LOG("the DMA did not land in B's BAR");
	/* The slice of the other mdev is unchanged. */
	ASSERT_EQ(-1, vfio_p2p_check(a, self->a.size, seed_a))
		TH_LOG("the DMA into B changed A's slice");

	/* And a touched BAR maps and takes DMA the same way. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, a, IOVA_A, self->a.size, RW));
	ASSERT_EQ(off_a, slice_offset(&self->a));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_A + OFF, DMA_LEN, seed_a2));
	ASSERT_EQ(-1, vfio_p2p_check(a + OFF, DMA_LEN, seed_a2));
	ASSERT_EQ(-1, vfio_p2p_check(a, OFF, seed_a));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed));

	/*
	 * The host reads the parent's backing file: B's DMA at B's slice
	 * offset, and A's slice exactly as the CPU and A's DMA left it.
	 */
	vfio_p2p_host_expect(self->parent, off_b + OFF, DMA_LEN, seed);
	expect = malloc(self->a.size);
	ASSERT_NE(NULL, expect);
	vfio_p2p_fill(expect, self->a.size, seed_a);
	vfio_p2p_fill(expect + OFF, DMA_LEN, seed_a2);
	vfio_p2p_host_expect_bytes(self->parent, off_a, expect, self->a.size);
	free(expect);

	ASSERT_EQ((int64_t)self->b.size, vfio_p2p_unmap(c->container, IOVA_B, self->b.size, 0));
	ASSERT_EQ((int64_t)self->a.size, vfio_p2p_unmap(c->container, IOVA_A, self->a.size, 0));
}

TEST_F_TIMEOUT(mslice, doorbell_reads_ram_and_p2p, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	uint64_t result;
	uint8_t *b;
	int ret;

	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, vfio_p2p_map(c->container, b, IOVA_B, self->b.size, RW));
	vfio_p2p_fill(b + OFF, 2 * PG, seed);
	vfio_p2p_fill(c->ram, VFIO_P2P_RAM_SIZE, seed + 1);

	/* A's device model reads RAM and B's BAR by IOVA. */
	ret = doorbell(&self->a, MSLICE_CMD_SUM, VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE, &result);
	ASSERT_EQ(0, ret) TH_LOG("SUM of RAM: %s", strerror(-ret));
	ASSERT_EQ(vfio_p2p_fnv1a64(c->ram, VFIO_P2P_RAM_SIZE), result);
	ret = doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, 2 * PG, &result);
	ASSERT_EQ(0, ret) TH_LOG("SUM of B's BAR: %s", strerror(-ret));
	ASSERT_EQ(vfio_p2p_fnv1a64(b + OFF, 2 * PG), result);
	/* A read that spans the end of B's mapping stops there. */
	ret = doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + self->b.size - PG, 2 * PG, &result);
	ASSERT_EQ(unmapped_errno(variant->iommu_type), ret);

	/* Bad requests: clean errors. */
	ASSERT_EQ(unmapped_errno(variant->iommu_type),
		  doorbell(&self->a, MSLICE_CMD_SUM, IOVA_NONE, PG, &result));
	ASSERT_EQ(-EINVAL, doorbell(&self->a, MSLICE_CMD_SUM, VFIO_P2P_IOVA_RAM, 0, &result));
	ASSERT_EQ(-EINVAL, doorbell(&self->a, 99, VFIO_P2P_IOVA_RAM, PG, &result));

	/* vfio_pin_pages(): RAM pins (not in type1 v1), device memory never. */
	ret = doorbell(&self->a, MSLICE_CMD_PIN, VFIO_P2P_IOVA_RAM + 8, 0, &result);
	if (mode_pins(variant->iommu_type)) {
		ASSERT_EQ(0, ret) TH_LOG("PIN of RAM: %s", strerror(-ret));
		ASSERT_EQ(*(uint64_t *)(c->ram + 8), result);
	} else {
		/* type1 (v1) pins for no one. */
		ASSERT_EQ(-EACCES, ret);
	}
	ret = doorbell(&self->a, MSLICE_CMD_PIN, IOVA_B + OFF, 0, &result);
	ASSERT_EQ(pin_device_errno(variant->iommu_type), ret)
		TH_LOG("PIN of B's BAR: %d", ret);

	/* And the mapping still works for DMA. */
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed + 2));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed + 2));
	ret = doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, DMA_LEN, &result);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(vfio_p2p_fnv1a64(b + OFF, DMA_LEN), result);
	vfio_p2p_host_expect(self->parent, slice_offset(&self->b) + OFF, DMA_LEN, seed + 2);
}

static void *remove_thread(void *arg)
{
	return (void *)(long)mdev_remove(arg);
}

/*
 * Remove @m from a thread, and let go of it while the removal waits.
 * Meanwhile, if @probe, creating an mdev of @m's type on @parent (full but
 * for @m) must fail: the slice is still @m's and still mapped.
 */
static int remove_and_release(struct __test_metadata *_metadata, struct mdev *m,
			      const char *parent, struct mdev *probe)
{
	struct timespec deadline;
	pthread_t t;
	void *ret;
	int err;

	if (pthread_create(&t, NULL, remove_thread, m))
		return -EAGAIN;
	/* The removal waits for the user to close the mdev; it does. */
	usleep(300000);
	err = pthread_tryjoin_np(t, &ret);
	EXPECT_EQ(EBUSY, err) TH_LOG("removing %s did not wait for its user", m->uuid);
	if (!err)
		return (long)ret;
	if (probe) {
		err = mdev_create(parent, "mslice-4m", probe);
		EXPECT_EQ(-ENOSPC, err)
			TH_LOG("an mdev was created on the slice of one being removed");
		if (!err)
			mdev_remove(probe);
	}
	mdev_close(m);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	if (pthread_timedjoin_np(t, &ret, &deadline)) {
		TH_LOG("removing %s did not complete in 20 s", m->uuid);
		return -ETIMEDOUT;
	}
	return (long)ret;
}

TEST_F_TIMEOUT(mslice, remove_while_mapped, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	uint64_t sum, result;
	struct mdev *n;
	int64_t off_b;
	uint8_t *b;
	int ret;

	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, vfio_p2p_map(c->container, b, IOVA_B, self->b.size, RW));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed));
	off_b = slice_offset(&self->b);
	ASSERT_LE(0, off_b);

	/* Take every other 4 MiB slice, so that B's is the only one left. */
	while (self->nr_extra < MAX_MDEVS) {
		n = &self->extra[self->nr_extra];
		ret = mdev_create(self->parent, "mslice-4m", n);
		if (ret)
			break;
		self->nr_extra++;
	}
	ASSERT_EQ(-ENOSPC, ret) TH_LOG("creating one mdev too many: %s", strerror(-ret));
	ASSERT_EQ(0, available(self->parent, "mslice-4m"));

	/* Remove B with its BAR still mapped in the container. */
	ASSERT_EQ(0, remove_and_release(_metadata, &self->b, self->parent,
					&self->extra[self->nr_extra]));
	ASSERT_TRUE(wait_available(self->parent, "mslice-4m", 1))
		TH_LOG("B's slice did not come back");

	/* The next 4 MiB mdev can only get B's slice. */
	n = &self->extra[self->nr_extra];
	ASSERT_EQ(0, mdev_create(self->parent, "mslice-4m", n));
	self->nr_extra++;
	ASSERT_EQ(0, mdev_open(n, c->container, 0));
	/*
	 * At B's old address, so that B's vfio_dma, which still holds that
	 * address, now points at n's BAR through the CPU's page tables.
	 */
	n->bar = mmap(b, n->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		      n->dev.fd, n->bar0.offset);
	ASSERT_EQ((void *)b, (void *)n->bar);
	vfio_p2p_touch(n->bar, PG);
	ASSERT_EQ(off_b, slice_offset(n));
	ASSERT_EQ(-1, vfio_p2p_check(n->bar + OFF, DMA_LEN, seed));

	/* A DMA to B's old IOVA lands nowhere, not in the new owner's BAR. */
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(n->bar + OFF, DMA_LEN, seed))
		TH_LOG("DMA reached B's slice after B was removed");
	/* Nor does the device model's emulated DMA (vfio_dma_rw()) reach it. */
	ASSERT_EQ(-EFAULT, doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, DMA_LEN, &sum));
	/*
	 * Nor can the device model pin it, even with anonymous memory at B's
	 * old address now: that page is not what the IOVA pointed at.
	 */
	ASSERT_EQ((void *)(b + OFF2), mmap(b + OFF2, PG, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
					   -1, 0));
	memset(b + OFF2, 0x5a, PG);
	ret = doorbell(&self->a, MSLICE_CMD_PIN, IOVA_B + OFF2, 0, &result);
	ASSERT_EQ(pin_device_errno(variant->iommu_type), ret)
		TH_LOG("PIN of B's old IOVA with RAM behind its address: %d", ret);
	vfio_p2p_host_expect(self->parent, off_b + OFF, DMA_LEN, seed);
	/* The IOVA range is still the user's to unmap. */
	ASSERT_EQ((int64_t)4 * MIB, vfio_p2p_unmap(c->container, IOVA_B, 4 * MIB, 0));
}

TEST_F_TIMEOUT(mslice, exhaust_and_overlap, 180)
{
	struct vfio_p2p_ctx *c = &self->c;
	long blocks = parent_blocks(self->bar_size);
	long avail1 = available(self->parent, "mslice-1m");
	long avail4 = available(self->parent, "mslice-4m");
	struct mdev *all[MAX_MDEVS + 2];
	int64_t off[MAX_MDEVS + 2];
	int i, j, nr = 0, ret = 0;
	uint8_t byte;

	/* A (1 MiB) and B (4 MiB) hold their space though not placed yet. */
	ASSERT_EQ(blocks - 2, avail4);
	ASSERT_EQ(4 * (blocks - 1) - 1, avail1);
	ASSERT_GE(MAX_MDEVS, avail1);

	while (self->nr_extra < MAX_MDEVS) {
		ret = mdev_create(self->parent, "mslice-1m", &self->extra[self->nr_extra]);
		if (ret)
			break;
		self->nr_extra++;
	}
	ASSERT_EQ(-ENOSPC, ret);
	ASSERT_EQ(avail1, self->nr_extra);
	ASSERT_EQ(0, available(self->parent, "mslice-1m"));
	ASSERT_EQ(0, available(self->parent, "mslice-4m"));
	ret = mdev_create(self->parent, "mslice-4m", &self->extra[self->nr_extra]);
	if (!ret)
		self->nr_extra++;	/* for the teardown to remove */
	ASSERT_EQ(-ENOSPC, ret);

	/* Place every slice (a read of BAR0 through the fd), then compare. */
	all[nr++] = &self->a;
	all[nr++] = &self->b;
	for (i = 0; i < self->nr_extra; i++) {
		ASSERT_EQ(0, mdev_open(&self->extra[i], c->container, 0));
		all[nr++] = &self->extra[i];
	}
	for (i = 0; i < nr; i++) {
		ASSERT_EQ(1, pread(all[i]->dev.fd, &byte, 1, all[i]->bar0.offset));
		off[i] = slice_offset(all[i]);
		ASSERT_LE(0, off[i]);
		ASSERT_GE(self->bar_size, (uint64_t)off[i] + all[i]->size);
		for (j = 0; j < i; j++)
			ASSERT_FALSE(overlaps(off[i], all[i]->size, off[j], all[j]->size))
				TH_LOG("%s at 0x%llx overlaps %s at 0x%llx", all[i]->uuid,
				       (unsigned long long)off[i], all[j]->uuid,
				       (unsigned long long)off[j]);
	}

	/* Removing them gives their space back. */
	for (i = 0; i < self->nr_extra; i++) {
		mdev_close(&self->extra[i]);
		ASSERT_EQ(0, mdev_remove(&self->extra[i]));
	}
	ASSERT_TRUE(wait_available(self->parent, "mslice-1m", avail1));
	/* A and B are placed now: A's block takes 1 MiB slices only. */
	ASSERT_EQ(blocks - 2, available(self->parent, "mslice-4m"));
}

TEST_F_TIMEOUT(mslice, mmap_beyond_slice, 60)
{
	struct mdev *a = &self->a;
	uint64_t base = a->bar0.offset;
	uint8_t buf[8];
	void *p;

	/* Longer than the slice, past its end, or straddling it. */
	p = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, a->dev.fd, base);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, a->dev.fd, base + MIB);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, a->dev.fd, base + MIB - PG);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	/* Private, the trapped registers, config space. */
	p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, a->dev.fd, base);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, a->dev.fd, a->regs.offset);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	/* The last page is fine. */
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, a->dev.fd, base + MIB - PG);
	ASSERT_NE(MAP_FAILED, p);
	__atomic_store_n((uint8_t *)p, 0x5a, __ATOMIC_RELAXED);
	ASSERT_EQ(0x5a, __atomic_load_n((uint8_t *)p, __ATOMIC_RELAXED));
	munmap(p, PG);
	/* The region fd refuses past the slice, and bad register accesses. */
	ASSERT_EQ(-1, pread(a->dev.fd, buf, 1, base + MIB));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pread(a->dev.fd, buf, 2, a->regs.offset + MSLICE_REG_ID));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pread(a->dev.fd, buf, 8, a->regs.offset + MSLICE_REG_ID));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pwrite(a->dev.fd, buf, 4, a->regs.offset + MSLICE_REG_RESULT));
	ASSERT_EQ(EINVAL, errno);
}

struct map_loop {
	struct vfio_p2p_ctx *c;
	uint8_t *bar;
	size_t size;
	bool stop;		/* __atomic */
	bool gone;		/* __atomic: the test let go of the BAR */
	unsigned long ok, efault, bad_before, bad_after;
	int last_errno;
};

static void *map_loop(void *arg)
{
	struct map_loop *l = arg;
	bool gone;
	int ret;

	while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
		gone = __atomic_load_n(&l->gone, __ATOMIC_ACQUIRE);
		ret = vfio_p2p_map(l->c->container, l->bar, IOVA_LOOP, l->size, RW);
		if (!ret) {
			l->ok++;
			if (vfio_p2p_unmap(l->c->container, IOVA_LOOP, l->size, 0) !=
			    (int64_t)l->size)
				l->bad_after++;
			continue;
		}
		l->last_errno = -ret;
		if (ret == -EFAULT && __atomic_load_n(&l->gone, __ATOMIC_ACQUIRE))
			l->efault++;
		else if (!gone)
			l->bad_before++;
		else
			l->bad_after++;
	}
	return NULL;
}

TEST_F_TIMEOUT(mslice, remove_during_map_loop, 120)
{
	struct map_loop l = { .c = &self->c, .size = self->b.size };
	uint64_t result;
	pthread_t t;
	void *p;

	l.bar = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, l.bar);
	/*
	 * B keeps a pin until its close, as a vGPU does, so that the close
	 * during the removal unpins (dev_set->lock -> the backend's lock)
	 * while the loop maps: lockdep sees both orders if the backend ever
	 * drops a device reference under its own lock.
	 */
	if (mode_pins(variant->iommu_type))
		ASSERT_EQ(0, doorbell(&self->b, MSLICE_CMD_PIN, VFIO_P2P_IOVA_RAM, 0, &result));
	ASSERT_EQ(0, pthread_create(&t, NULL, map_loop, &l));
	usleep(500000);

	/*
	 * Let go of B the way remove_and_release() does, but keep its address
	 * range reserved (PROT_NONE) so that the loop never maps anything else.
	 */
	{
		pthread_t r;
		struct timespec deadline;
		void *ret;

		ASSERT_EQ(0, pthread_create(&r, NULL, remove_thread, &self->b));
		usleep(300000);
		__atomic_store_n(&l.gone, true, __ATOMIC_RELEASE);
		p = mmap(l.bar, l.size, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		ASSERT_EQ((void *)l.bar, p);
		self->b.bar = NULL;
		mdev_close(&self->b);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 20;
		ASSERT_EQ(0, pthread_timedjoin_np(r, &ret, &deadline))
			TH_LOG("the removal did not complete in 20 s");
		ASSERT_EQ(0, (long)ret);
	}
	usleep(300000);
	__atomic_store_n(&l.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	munmap(l.bar, l.size);

	TH_LOG("%lu maps, %lu EFAULT after the removal, %lu other errors (last errno %d)",
	       l.ok, l.efault, l.bad_before + l.bad_after, l.last_errno);
	EXPECT_LT(0, l.ok);
	EXPECT_LT(0, l.efault);
	EXPECT_EQ(0, l.bad_before);
	EXPECT_EQ(0, l.bad_after);
	/* Nothing is left mapped at the loop's IOVA. */
	EXPECT_EQ(unmap_nothing(variant->iommu_type),
		  vfio_p2p_unmap(self->c.container, IOVA_LOOP, l.size, 0));
}

static void *unbind_thread(void *arg)
{
	return (void *)(long)vfio_p2p_sysfs_write("/sys/bus/pci/drivers/mslice/unbind", arg);
}

/*
 * Unbinding the parent removes its mdevs: the unbind waits until their
 * user lets go, the last close sends RELEASE, and no DMA reaches either
 * slice after that, while the IOVA ranges stay the user's to unmap.  The
 * container keeps both ranges across the unbind and the rebind, so the
 * P2P tracker lets go of the mdevs' vfio devices after their parent is
 * gone.  The parent is bound again at the end.
 */
TEST_F_TIMEOUT(mslice, parent_unbind_releases, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	struct timespec deadline;
	int64_t off_a, off_b;
	uint8_t *a, *b, *res;
	char path[PATH_MAX];
	pthread_t t;
	void *ret;
	int fd;

	a = mdev_map_bar(&self->a);
	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, vfio_p2p_map(c->container, a, IOVA_A, self->a.size, RW));
	ASSERT_EQ(0, vfio_p2p_map(c->container, b, IOVA_B, self->b.size, RW));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_A + OFF, DMA_LEN, seed));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(a + OFF, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed + 1));
	off_a = slice_offset(&self->a);
	off_b = slice_offset(&self->b);
	ASSERT_LE(0, off_a);
	ASSERT_LE(0, off_b);

	ASSERT_EQ(0, pthread_create(&t, NULL, unbind_thread, self->parent));
	usleep(300000);
	EXPECT_EQ(EBUSY, pthread_tryjoin_np(t, &ret))
		TH_LOG("the unbind did not wait for the mdevs' user");
	mdev_close(&self->a);
	mdev_close(&self->b);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	ASSERT_EQ(0, pthread_timedjoin_np(t, &ret, &deadline))
		TH_LOG("the unbind did not complete in 20 s");
	ASSERT_EQ(0, (long)ret);
	self->a.removed = true;
	self->b.removed = true;
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/mslice/%s", self->parent);
	ASSERT_NE(0, access(path, F_OK));

	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_A + OFF, DMA_LEN, seed + 2));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed + 3));
	/* Read the parent's BAR2 through sysfs, as its next owner could. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource2", self->parent);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	res = mmap(NULL, self->bar_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, res);
	EXPECT_EQ(-1, vfio_p2p_check(res + off_a + OFF, DMA_LEN, seed))
		TH_LOG("DMA reached A's slice after the parent was unbound");
	EXPECT_EQ(-1, vfio_p2p_check(res + off_b + OFF, DMA_LEN, seed + 1))
		TH_LOG("DMA reached B's slice after the parent was unbound");
	munmap(res, self->bar_size);
	vfio_p2p_host_expect(self->parent, off_a + OFF, DMA_LEN, seed);
	vfio_p2p_host_expect(self->parent, off_b + OFF, DMA_LEN, seed + 1);

	ASSERT_EQ(0, vfio_p2p_sysfs_write("/sys/bus/pci/drivers/mslice/bind", self->parent));
	ASSERT_TRUE(parent_idle(self->parent, self->bar_size));
	ASSERT_EQ((int64_t)self->a.size, vfio_p2p_unmap(c->container, IOVA_A, self->a.size, 0));
	ASSERT_EQ((int64_t)self->b.size, vfio_p2p_unmap(c->container, IOVA_B, self->b.size, 0));
}

/* One u32 read of @m's BAR0 through the fd: 0 or -errno. */
static int bar0_pread(struct mdev *m, uint64_t off, uint32_t *val)
{
	if (pread(m->dev.fd, val, sizeof(*val), m->bar0.offset + off) != sizeof(*val))
		return -errno;
	return 0;
}

/*
 * The memory bit of B's emulated command register decodes B's BAR0: clear,
 * nothing reaches the BAR (edu's DMA through the IOMMU, A's device model
 * through vfio_dma_rw(), the fd), and a new MAP_DMA of it is refused; set
 * again, the mapping made before works at the same IOVA.
 */
TEST_F_TIMEOUT(mslice, decode_off_revokes, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed(), val;
	uint64_t sum;
	int64_t off_b;
	uint8_t *b;
	int ret;

	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, vfio_p2p_map(c->container, b, IOVA_B, self->b.size, RW));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed));
	vfio_p2p_fill(b + OFF2, DMA_LEN, seed + 3);
	off_b = slice_offset(&self->b);
	ASSERT_LE(0, off_b);
	ASSERT_EQ(0, doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, DMA_LEN, &sum));

	ASSERT_EQ(0, vfio_p2p_pci_command(&self->b.dev, 0, PCI_COMMAND_MEMORY));
	ASSERT_EQ(-EIO, bar0_pread(&self->b, OFF, &val));
	/* edu's DMA to the mapped IOVA: the IOMMU must refuse it. */
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF2, DMA_LEN, seed + 1));
	ret = doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, DMA_LEN, &sum);
	ASSERT_GT(0, ret) TH_LOG("A's device model read B's BAR0 with decode off: %d", ret);
	ret = vfio_p2p_map(c->container, b, IOVA_B + 4 * MIB, self->b.size, RW);
	EXPECT_NE(0, ret) TH_LOG("MAP_DMA of B's BAR0 with decode off succeeded");
	if (!ret)
		vfio_p2p_unmap(c->container, IOVA_B + 4 * MIB, self->b.size, 0);

	ASSERT_EQ(0, vfio_p2p_pci_command(&self->b.dev, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, bar0_pread(&self->b, OFF, &val));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF2, DMA_LEN, seed + 3))
		TH_LOG("edu's DMA reached B's BAR0 while its decode was off");
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed + 2));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed + 2))
		TH_LOG("the mapping did not come back with decode on");
	ret = doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, DMA_LEN, &sum);
	ASSERT_EQ(0, ret) TH_LOG("SUM of B's BAR after decode on: %s", strerror(-ret));
	ASSERT_EQ(vfio_p2p_fnv1a64(b + OFF, DMA_LEN), sum);
	vfio_p2p_host_expect(self->parent, off_b + OFF, DMA_LEN, seed + 2);
	ASSERT_EQ((int64_t)self->b.size, vfio_p2p_unmap(c->container, IOVA_B, self->b.size, 0));
}

struct reset_probe {
	struct mdev *m;
	bool stop;			/* __atomic accesses only */
	unsigned long reads, failed;
};

/* Read @m's BAR0 through the fd until told to stop, counting failures. */
static void *reset_probe_thread(void *arg)
{
	struct reset_probe *r = arg;
	uint32_t val;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		r->reads++;
		if (bar0_pread(r->m, OFF, &val) == -EIO)
			r->failed++;
	}
	return NULL;
}

/*
 * A reset of the parent, through its sysfs reset attribute, with both BARs
 * mapped: during the reset each mdev's BAR0 does not decode (a thread
 * reading B's BAR0 sees EIO), and afterwards the mappings made before work
 * again at the same IOVAs.  The rig puts the parent behind a root port, so
 * that it has a reset method (a secondary bus reset).
 */
TEST_F_TIMEOUT(mslice, parent_reset_revokes, 120)
{
	struct reset_probe r = { .m = &self->b };
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	char path[PATH_MAX];
	uint8_t *a, *b;
	uint64_t sum;
	pthread_t t;
	int i, ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", self->parent);
	ASSERT_EQ(0, access(path, W_OK))
		TH_LOG("the mdev parent %s has no reset method", self->parent);
	a = mdev_map_bar(&self->a);
	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, vfio_p2p_map(c->container, a, IOVA_A, self->a.size, RW));
	ASSERT_EQ(0, vfio_p2p_map(c->container, b, IOVA_B, self->b.size, RW));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed));

	ASSERT_EQ(0, pthread_create(&t, NULL, reset_probe_thread, &r));
	for (i = 0; i < 5; i++) {
		ret = vfio_p2p_sysfs_write(path, "1");
		if (ret)
			break;
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	ASSERT_EQ(0, ret) TH_LOG("resetting the parent: %s", strerror(-ret));
	TH_LOG("%lu reads of B's BAR0 during 5 parent resets, %lu refused",
	       r.reads, r.failed);
	EXPECT_LT(0, r.failed) TH_LOG("B's BAR0 decoded all through the parent's resets");

	/* After the reset both mappings work again. */
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_B + OFF, DMA_LEN, seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(b + OFF, DMA_LEN, seed + 1))
		TH_LOG("B's mapping did not come back after the parent's reset");
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_A + OFF, DMA_LEN, seed + 2));
	ASSERT_EQ(-1, vfio_p2p_check(a + OFF, DMA_LEN, seed + 2))
		TH_LOG("A's mapping did not come back after the parent's reset");
	ret = doorbell(&self->a, MSLICE_CMD_SUM, IOVA_B + OFF, DMA_LEN, &sum);
	ASSERT_EQ(0, ret) TH_LOG("SUM of B's BAR after the reset: %s", strerror(-ret));
	ASSERT_EQ(vfio_p2p_fnv1a64(b + OFF, DMA_LEN), sum);
	vfio_p2p_host_expect(self->parent, slice_offset(&self->b) + OFF, DMA_LEN, seed + 1);
	vfio_p2p_host_expect(self->parent, slice_offset(&self->a) + OFF, DMA_LEN, seed + 2);
	ASSERT_EQ((int64_t)self->a.size, vfio_p2p_unmap(c->container, IOVA_A, self->a.size, 0));
	ASSERT_EQ((int64_t)self->b.size, vfio_p2p_unmap(c->container, IOVA_B, self->b.size, 0));
}

/*
 * The first IOMMU domain of a container that holds only mdevs: its replay
 * pins every RAM page the container maps and makes the links of B's BAR,
 * and then B's link fails to map into the new domain (fault injection).
 * What the replay pinned is unpinned and its links dropped; attaching
 * again works.
 */
TEST_F_TIMEOUT(mslice, first_domain_attach_fails, 120)
{
	uint32_t seed = vfio_p2p_seed();
	struct p2p_ti_dev t;
	uint64_t freed0, freed1;
	long locked;
	uint8_t *b, *ram;
	int container;

	if (p2p_ti_present(0))
		SKIP(return, "no test IOMMU (CONFIG_VFIO_P2P_TEST_IOMMU)");
	/* Both mdevs leave the fixture's container for one of their own. */
	mdev_close(&self->a);
	mdev_close(&self->b);
	container = vfio_p2p_container_open_mode(variant->iommu_type);
	ASSERT_LE(0, container);
	ASSERT_EQ(0, mdev_open(&self->a, container, variant->iommu_type));
	ASSERT_EQ(0, mdev_open(&self->b, container, 0));
	b = mdev_map_bar(&self->b);
	ASSERT_NE(NULL, b);
	ram = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ram);
	memset(ram, 0x3c, 16 * PG);
	locked = vfio_p2p_locked_kib();
	ASSERT_LE(0, locked);
	/* No IOMMU domain: MAP_DMA pins nothing. */
	ASSERT_EQ(0, vfio_p2p_map(container, ram, IOVA_A, 16 * PG, RW));
	ASSERT_EQ(0, vfio_p2p_map(container, b, IOVA_B, self->b.size, RW));
	ASSERT_EQ(locked, vfio_p2p_locked_kib());

	ASSERT_EQ(0, p2p_ti_stat(0, "freed_mapped_pages", &freed0));
	ASSERT_EQ(0, p2p_ti_fail_map_at(0, 1, IOVA_B + OFF3));
	EXPECT_EQ(-ENOMEM, p2p_ti_open(&t, 0, container));
	p2p_ti_close(&t);
	ASSERT_EQ(0, p2p_ti_fail_map(0, 0));
	EXPECT_EQ(locked, vfio_p2p_locked_kib())
		TH_LOG("the failed attach left RAM pinned");
	ASSERT_EQ(0, p2p_ti_stat(0, "freed_mapped_pages", &freed1));
	EXPECT_EQ(freed0, freed1) TH_LOG("the failed attach left entries mapped");

	ASSERT_EQ(0, p2p_ti_open(&t, 0, container));
	/* iommufd charges a process with CAP_IPC_LOCK (root) nothing. */
	EXPECT_EQ(locked + (vfio_p2p_mode_is_iommufd(variant->iommu_type) ? 0 : 16 * PG / 1024),
		  vfio_p2p_locked_kib());
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&t, IOVA_B + OFF3, 64, seed));
	ASSERT_EQ(seed, *(uint32_t *)(b + OFF3)) TH_LOG("the DMA did not land in B's BAR");
	/* The host sees it in the parent's backing file, at B's slice. */
	vfio_p2p_host_expect_bytes(self->parent, slice_offset(&self->b) + OFF3, b + OFF3, 64);
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&t, IOVA_A, 64, seed + 1));
	ASSERT_EQ(seed + 1, *(uint32_t *)ram);
	p2p_ti_close(&t);
	ASSERT_EQ((int64_t)self->b.size, vfio_p2p_unmap(container, IOVA_B, self->b.size, 0));
	ASSERT_EQ((int64_t)(16 * PG), vfio_p2p_unmap(container, IOVA_A, 16 * PG, 0));
	EXPECT_EQ(locked, vfio_p2p_locked_kib());
	mdev_close(&self->a);
	mdev_close(&self->b);
	vfio_p2p_container_close(container);
	munmap(ram, 16 * PG);
}

TEST_HARNESS_MAIN
