// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_map_test: how type1 and iommufd map a peer BAR, proven by DMA.
 *
 * Every mapping here is checked by making edu DMA through it, both ways,
 * and reading the bytes back through the CPU's view of the same memory: the
 * BAR mmap, or the anonymous pages.  Every refused mapping is checked by
 * making edu DMA to the IOVA it would have used: nothing may arrive.
 *
 *  - the whole BAR, never touched before the map;
 *  - one page in the middle of the BAR, and not its neighbours;
 *  - a vaddr and an IOVA that are page-aligned but not huge-page-aligned;
 *  - BAR pages and anonymous pages interleaved in one MAP_DMA;
 *  - a foreign PFNMAP (the sysfs resource2 mmap of the same BAR): refused
 *    in strict mode, mapped with strict_mmio_maps=N (type1's knob: iommufd,
 *    and its type1-compat container, refuse it with EFAULT either way);
 *  - bad requests (read-only mmap mapped writable, a range running into a
 *    hole, overlapping IOVAs, iova+size overflowing, misalignment, a vaddr
 *    already unmapped): each fails with its errno, leaves its IOVA
 *    unmapped and the container usable, and UNMAP_ALL then returns exactly
 *    what was mapped;
 *  - MAP_DMA during a reset of the peer waits for the reset to end, as a CPU
 *    fault on the mmap does (stock type1 faults it in, and the fault waits),
 *    and succeeds; while memory decode is off it fails with EFAULT, as stock
 *    does, and works again once decode is back;
 *  - the links of a container are capped (dma_entry_limit): a MAP_DMA past
 *    the cap fails with ENOSPC and maps nothing (type1's knob: an IOAS, and
 *    the compat container, are not bound by it, and map the same range).
 *
 * Each test runs in every IOMMU mode (vfio_p2p_iommu_modes.h): a
 * VFIO_TYPE1_IOMMU and a VFIO_TYPE1v2_IOMMU container, and iommufd (cdev +
 * IOAS), where MAP_DMA and UNMAP_DMA are IOMMU_IOAS_MAP and _UNMAP and a
 * bad request fails with iommufd's errno where it has its own.  On the
 * compat kernel the type1 modes are iommufd's type1-compat container, with
 * iommufd's errnos (vfio_p2p_mode_is_iommufd()).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"

#define PG		4096UL
#define HUGE		(2UL << 20)
#define DMA_LEN		EDU_DMA_MAX
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

#define IOVA_BAR	0x40000000ULL
#define IOVA_PAGE	0x50000000ULL
#define IOVA_MIS	(0x60000000ULL + 3 * PG)
#define IOVA_MIX	0x70000000ULL
#define IOVA_ERR	0x80000000ULL

#define IOVA_RESET	0x90000000ULL
#define IOVA_LIMIT	0xa0000000ULL

#define STRICT_PARAM	"/sys/module/vfio_iommu_type1/parameters/strict_mmio_maps"

FIXTURE(map) {
	struct vfio_p2p_ctx c;
	bool restore_strict;
};

FIXTURE_VARIANT(map) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE map
#include "vfio_p2p_iommu_modes.h"

static int set_strict(bool on)
{
	return vfio_p2p_sysfs_write(STRICT_PARAM, on ? "Y" : "N");
}

FIXTURE_SETUP(map)
{
	const char *what;
	int ret = vfio_p2p_ctx_open(&self->c, variant->iommu_type, &what);

	self->restore_strict = false;
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
}

FIXTURE_TEARDOWN(map)
{
	if (self->restore_strict)
		set_strict(true);
	vfio_p2p_ctx_close(&self->c);
}

/* mmap @len bytes of BAR2 from @bar_off, at @addr if not NULL (MAP_FIXED). */
static uint8_t *bar_mmap(struct vfio_p2p_ctx *c, void *addr, uint64_t bar_off,
			 size_t len, int prot)
{
	void *p = mmap(addr, len, prot, MAP_SHARED | (addr ? MAP_FIXED : 0),
		       c->shm.fd, c->bar2.offset + bar_off);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Both directions through @iova, checked in @view, the CPU's mapping of
 * the same memory: RAM -> edu -> @iova shows in @view, and what the CPU
 * writes to @view comes back through @iova -> edu -> RAM.  A last DMA puts
 * fresh bytes in; when @view is the BAR (at @bar_off, else -1), the rig
 * finds them in the host's backing file.
 */
static void round_trip(struct __test_metadata *_metadata, struct vfio_p2p_ctx *c,
		       uint64_t iova, uint8_t *view, int64_t bar_off)
{
	uint32_t seed = vfio_p2p_seed();

	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, iova, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(view, DMA_LEN, seed))
		TH_LOG("DMA to iova 0x%llx did not land", (unsigned long long)iova);
	vfio_p2p_fill(view, DMA_LEN, seed + 1);
	ASSERT_EQ(0, vfio_p2p_iova_to_ram(c, iova, DMA_LEN));
	ASSERT_EQ(-1, vfio_p2p_check(c->ram, DMA_LEN, seed + 1))
		TH_LOG("DMA from iova 0x%llx did not read it", (unsigned long long)iova);
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, iova, DMA_LEN, seed + 2));
	ASSERT_EQ(-1, vfio_p2p_check(view, DMA_LEN, seed + 2));
	if (bar_off >= 0)
		vfio_p2p_host_expect(c->shm.bdf, bar_off, DMA_LEN, seed + 2);
}

/*
 * A DMA to @iova must not reach @view, the BAR at @bar_off, which the CPU
 * fills with a known pattern first (the host must see that one).
 */
static void does_not_land(struct __test_metadata *_metadata,
			  struct vfio_p2p_ctx *c, uint64_t iova, uint8_t *view,
			  uint64_t bar_off)
{
	uint32_t seed = vfio_p2p_seed();

	vfio_p2p_fill(view, DMA_LEN, seed);
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, iova, DMA_LEN, seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(view, DMA_LEN, seed))
		TH_LOG("DMA to unmapped iova 0x%llx reached the BAR",
		       (unsigned long long)iova);
	vfio_p2p_host_expect(c->shm.bdf, bar_off, DMA_LEN, seed);
}

TEST_F_TIMEOUT(map, whole_bar_untouched, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t size = c->bar2.size;
	uint64_t offs[] = { 0, size / 2 + PG, size - PG };
	uint8_t *bar;
	unsigned int i;

	bar = bar_mmap(c, NULL, 0, size, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, bar);
	c->bar2.map = bar;
	/* No access at all before the map. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_BAR, size, RW));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		round_trip(_metadata, c, IOVA_BAR + offs[i], bar + offs[i], offs[i]);
	ASSERT_EQ((int64_t)size, vfio_p2p_unmap(c->container, IOVA_BAR, size, 0));
}

TEST_F_TIMEOUT(map, one_page_mid_bar, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t mid = c->bar2.size / 2;
	uint8_t *bar;

	bar = bar_mmap(c, NULL, 0, c->bar2.size, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, bar);
	c->bar2.map = bar;
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar + mid, IOVA_PAGE, PG, RW));
	round_trip(_metadata, c, IOVA_PAGE, bar + mid, mid);
	/* Exactly one page: its neighbours' IOVAs reach nothing. */
	does_not_land(_metadata, c, IOVA_PAGE + PG, bar + mid + PG, mid + PG);
	does_not_land(_metadata, c, IOVA_PAGE - PG, bar + mid - PG, mid - PG);
	ASSERT_EQ((int64_t)PG, vfio_p2p_unmap(c->container, IOVA_PAGE, PG, 0));
}

TEST_F_TIMEOUT(map, misaligned_vaddr_and_iova, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t size = c->bar2.size, len = size - 2 * HUGE;
	uint64_t offs[] = { 0, HUGE - PG, len - PG };
	uint8_t *area, *base, *bar;
	unsigned int i;

	/* A VMA that starts one page past a huge-page boundary. */
	area = mmap(NULL, size + 2 * HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	base = (uint8_t *)(((uintptr_t)area + HUGE - 1) & ~(HUGE - 1)) + PG;
	bar = bar_mmap(c, base, 0, size, PROT_READ | PROT_WRITE);
	ASSERT_EQ(base, bar);
	vfio_p2p_touch(bar, size);	/* huge pfnmaps where they fit */

	/* From one page in, at an IOVA three pages past a huge boundary. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar + PG, IOVA_MIS, len, RW));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		round_trip(_metadata, c, IOVA_MIS + offs[i], bar + PG + offs[i],
			   PG + offs[i]);
	ASSERT_EQ((int64_t)len, vfio_p2p_unmap(c->container, IOVA_MIS, len, 0));
	munmap(area, size + 2 * HUGE);
}

TEST_F_TIMEOUT(map, bar_anon_interleaved, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t bar_off[4] = { 8 * PG, 0, 24 * PG, 0 };
	uint32_t seed = vfio_p2p_seed();
	uint8_t *area, *check;
	unsigned int i;

	/* BAR page, anonymous page, BAR page, anonymous page. */
	area = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	memset(area, 0, 4 * PG);
	ASSERT_EQ(area, bar_mmap(c, area, bar_off[0], PG, PROT_READ | PROT_WRITE));
	ASSERT_EQ(area + 2 * PG, bar_mmap(c, area + 2 * PG, bar_off[2], PG,
					  PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, vfio_p2p_map(c->container, area, IOVA_MIX, 4 * PG, RW));

	/* Each page gets its own bytes, in its own memory. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_MIX + i * PG, DMA_LEN, seed + i));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(-1, vfio_p2p_check(area + i * PG, DMA_LEN, seed + i))
			TH_LOG("page %u of the interleaved map got the wrong bytes", i);
	/* The BAR pages are the BAR: a second view of it sees the bytes. */
	check = bar_mmap(c, NULL, 0, c->bar2.size, PROT_READ);
	ASSERT_NE(NULL, check);
	ASSERT_EQ(-1, vfio_p2p_check(check + bar_off[0], DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(check + bar_off[2], DMA_LEN, seed + 2));
	munmap(check, c->bar2.size);
	for (i = 0; i < 4; i++)
		round_trip(_metadata, c, IOVA_MIX + i * PG, area + i * PG,
			   i % 2 ? -1 : (int64_t)bar_off[i]);

	ASSERT_EQ((int64_t)(4 * PG), vfio_p2p_unmap(c->container, IOVA_MIX, 4 * PG, 0));
	munmap(area, 4 * PG);
}

TEST_F_TIMEOUT(map, foreign_pfnmap, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t off = 0x30000;
	char path[128];
	uint8_t *res;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 c->shm.bdf, IVSHMEM_BAR);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	res = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	close(fd);
	ASSERT_NE(MAP_FAILED, res);

	/* Strict (the default): not a vfio device mmap, so refused. */
	ASSERT_EQ(-EFAULT, vfio_p2p_map(c->container, res, IOVA_ERR, 4 * PG, RW));
	does_not_land(_metadata, c, IOVA_ERR, res, off);

	/*
	 * strict_mmio_maps=N: the legacy page-table walk maps it.  It is
	 * type1's knob: iommufd still will not pin a PFNMAP, and its compat
	 * container has no such knob.
	 */
	if (vfio_p2p_mode_is_iommufd(variant->iommu_type)) {
		if (vfio_p2p_have_type1()) {
			ASSERT_EQ(0, set_strict(false));
			self->restore_strict = true;
			ASSERT_EQ(-EFAULT, vfio_p2p_map(c->container, res, IOVA_ERR,
							4 * PG, RW));
			ASSERT_EQ(0, set_strict(true));
			self->restore_strict = false;
			does_not_land(_metadata, c, IOVA_ERR, res, off);
		}
		munmap(res, 4 * PG);
		return;
	}
	ASSERT_EQ(0, set_strict(false));
	self->restore_strict = true;
	ASSERT_EQ(0, vfio_p2p_map(c->container, res, IOVA_ERR, 4 * PG, RW));
	ASSERT_EQ(0, set_strict(true));
	self->restore_strict = false;
	round_trip(_metadata, c, IOVA_ERR + 3 * PG, res + 3 * PG, off + 3 * PG);
	ASSERT_EQ((int64_t)(4 * PG), vfio_p2p_unmap(c->container, IOVA_ERR, 4 * PG, 0));
	munmap(res, 4 * PG);
}

TEST_F_TIMEOUT(map, bad_requests_leave_nothing_mapped, 180)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t size = c->bar2.size, mapped = VFIO_P2P_RAM_SIZE;
	uint8_t *bar, *ro, *hole, *gone;

	bar = bar_mmap(c, NULL, 0, size, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, bar);
	c->bar2.map = bar;

	/* A read-only mmap cannot be mapped for the device to write. */
	ro = bar_mmap(c, NULL, 0x40000, 4 * PG, PROT_READ);
	ASSERT_NE(NULL, ro);
	ASSERT_EQ(-EFAULT, vfio_p2p_map(c->container, ro, IOVA_ERR, 4 * PG, RW));
	does_not_land(_metadata, c, IOVA_ERR, bar + 0x40000, 0x40000);
	munmap(ro, 4 * PG);

	/* A range running past the VMA's end into a hole: nothing stays. */
	hole = bar_mmap(c, NULL, 0x50000, 8 * PG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(0, munmap(hole + 4 * PG, 4 * PG));
	ASSERT_EQ(-EFAULT, vfio_p2p_map(c->container, hole, IOVA_ERR + 0x100000,
					8 * PG, RW));
	does_not_land(_metadata, c, IOVA_ERR + 0x100000, bar + 0x50000, 0x50000);
	munmap(hole, 4 * PG);

	/* Overlapping IOVAs: the second fails, the first still works. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar + 0x60000, IOVA_ERR + 0x200000,
				  4 * PG, RW));
	mapped += 4 * PG;
	ASSERT_EQ(-EEXIST, vfio_p2p_map(c->container, bar + 0x70000,
					IOVA_ERR + 0x200000 + PG, 4 * PG, RW));
	round_trip(_metadata, c, IOVA_ERR + 0x200000 + 3 * PG, bar + 0x60000 + 3 * PG,
		   0x60000 + 3 * PG);
	does_not_land(_metadata, c, IOVA_ERR + 0x200000 + 4 * PG, bar + 0x70000 + 3 * PG,
		      0x70000 + 3 * PG);

	/* iova + size wrapping around. */
	ASSERT_EQ(vfio_p2p_mode_is_iommufd(variant->iommu_type) ? -EOVERFLOW : -EINVAL,
		  vfio_p2p_map(c->container, bar, ~0ULL - PG + 1, 2 * PG, RW));

	/* Misaligned vaddr, iova or size. */
	ASSERT_EQ(-EINVAL, vfio_p2p_map(c->container, bar + 1, IOVA_ERR + 0x300000, PG, RW));
	ASSERT_EQ(-EINVAL, vfio_p2p_map(c->container, bar, IOVA_ERR + 0x300000 + 1, PG, RW));
	ASSERT_EQ(-EINVAL, vfio_p2p_map(c->container, bar, IOVA_ERR + 0x300000, PG + 1, RW));
	does_not_land(_metadata, c, IOVA_ERR + 0x300000, bar, 0);

	/* A vaddr whose mmap is already gone. */
	gone = bar_mmap(c, NULL, 0x80000, PG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, gone);
	ASSERT_EQ(0, munmap(gone, PG));
	ASSERT_EQ(-EFAULT, vfio_p2p_map(c->container, gone, IOVA_ERR + 0x400000, PG, RW));
	does_not_land(_metadata, c, IOVA_ERR + 0x400000, bar + 0x80000, 0x80000);

	/* The container is still usable: the whole BAR maps and works. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_BAR, size, RW));
	mapped += size;
	round_trip(_metadata, c, IOVA_BAR + size - PG, bar + size - PG, size - PG);

	/* UNMAP_ALL returns exactly what was mapped: the failures left nothing. */
	if (variant->iommu_type != VFIO_P2P_IOMMUFD)
		ASSERT_EQ(1, ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	ASSERT_EQ((int64_t)mapped,
		  vfio_p2p_unmap(c->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
}

struct resetter {
	int fd;
	atomic_bool stop;
	atomic_bool in_reset;
	atomic_int resets;
	atomic_int errors;
};

static void *reset_loop(void *arg)
{
	struct resetter *r = arg;

	while (!atomic_load(&r->stop)) {
		atomic_store(&r->in_reset, true);
		if (ioctl(r->fd, VFIO_DEVICE_RESET))
			atomic_fetch_add(&r->errors, 1);
		atomic_store(&r->in_reset, false);
		atomic_fetch_add(&r->resets, 1);
		usleep(500);
	}
	return NULL;
}

TEST_F_TIMEOUT(map, map_waits_out_reset, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int maps = 0, began_in_reset = 0, failed = 0, last_err = 0;
	struct resetter r = { .fd = c->shm.fd };
	struct timespec t0, t;
	pthread_t thread;
	uint8_t *bar;

	ASSERT_EQ(0, ioctl(c->shm.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset method", c->shm.bdf);
	bar = bar_mmap(c, NULL, 0, HUGE, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, bar);
	c->bar2.map = bar;

	ASSERT_EQ(0, pthread_create(&thread, NULL, reset_loop, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		bool in_reset = atomic_load(&r.in_reset);
		int ret = vfio_p2p_map(c->container, bar, IOVA_RESET, HUGE, RW);

		maps++;
		began_in_reset += in_reset;
		if (ret) {
			failed++;
			last_err = ret;
		} else {
			ASSERT_EQ((int64_t)HUGE, vfio_p2p_unmap(c->container,
								IOVA_RESET, HUGE, 0));
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 3000 ||
		 atomic_load(&r.resets) < 20);
	atomic_store(&r.stop, true);
	pthread_join(thread, NULL);

	TH_LOG("%d MAP_DMAs across %d resets, %d of them issued during one: %d failed",
	       maps, atomic_load(&r.resets), began_in_reset, failed);
	ASSERT_EQ(0, atomic_load(&r.errors));
	EXPECT_EQ(0, failed) TH_LOG("MAP_DMA during a reset failed: %s",
				    strerror(-last_err));
	/* Else the test proved nothing: some maps began inside a reset. */
	EXPECT_LT(0, began_in_reset);

	/* The mapping works after the resets. */
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_RESET, HUGE, RW));
	round_trip(_metadata, c, IOVA_RESET + PG, bar + PG, PG);

	/* Decode off: refused as stock refuses it; decode on: it maps again. */
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, 0, PCI_COMMAND_MEMORY));
	ASSERT_EQ(-EFAULT, vfio_p2p_map(c->container, bar, IOVA_RESET + HUGE,
					HUGE, RW));
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_RESET + HUGE, HUGE, RW));
	round_trip(_metadata, c, IOVA_RESET + HUGE + 2 * PG, bar + 2 * PG, 2 * PG);
}

#define DMA_ENTRY_LIMIT	"/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"
#define LINKS		64

/*
 * A BAR mmap split into many VMAs maps as one link per VMA.  With the
 * container's limit (dma_entry_limit, which also caps links) at LINKS, one
 * read-only MAP_DMA over LINKS + 1 VMAs fails with ENOSPC and maps nothing;
 * over LINKS VMAs it maps, and the device reads every page.
 */
TEST_F_TIMEOUT(map, link_limit, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	size_t len = (LINKS + 1) * PG;
	const char *what;
	uint8_t *bar, *view;
	char old[32];
	int i, ret;

	/*
	 * The limit applies to containers opened after it is set.  The compat
	 * container has no such knob, and is bound by none.
	 */
	if (vfio_p2p_have_type1()) {
		ASSERT_EQ(0, vfio_p2p_sysfs_read(DMA_ENTRY_LIMIT, old, sizeof(old)));
		vfio_p2p_ctx_close(c);
		ASSERT_EQ(0, vfio_p2p_sysfs_write(DMA_ENTRY_LIMIT, "64"));
		ret = vfio_p2p_ctx_open(c, variant->iommu_type, &what);
		ASSERT_EQ(0, vfio_p2p_sysfs_write(DMA_ENTRY_LIMIT, old));
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	}

	view = bar_mmap(c, NULL, 0x100000, len, PROT_READ | PROT_WRITE);
	bar = bar_mmap(c, NULL, 0x100000, len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, view);
	ASSERT_NE(NULL, bar);
	c->bar2.map = view;
	/* Alternate protections: every page its own VMA (PFNMAPs never merge). */
	for (i = 1; i < LINKS + 1; i += 2)
		ASSERT_EQ(0, mprotect(bar + i * PG, PG, PROT_READ));

	if (vfio_p2p_mode_is_iommufd(variant->iommu_type)) {
		/* type1's cap: the IOAS maps all LINKS + 1 VMAs, one area each. */
		ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_LIMIT, len,
					  VFIO_DMA_MAP_FLAG_READ));
		ASSERT_EQ((int64_t)len, vfio_p2p_unmap(c->container, IOVA_LIMIT,
						       len, 0));
	} else {
		ASSERT_EQ(-ENOSPC, vfio_p2p_map(c->container, bar, IOVA_LIMIT, len,
						VFIO_DMA_MAP_FLAG_READ));
		/* Nothing of it stayed mapped. */
		ASSERT_EQ(0, vfio_p2p_unmap(c->container, IOVA_LIMIT, len, 0));
	}
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_LIMIT, len - PG,
				  VFIO_DMA_MAP_FLAG_READ));
	for (i = 0; i < LINKS; i += 21) {
		uint32_t seed = vfio_p2p_seed();

		vfio_p2p_fill(view + i * PG, PG - 1, seed);
		ASSERT_EQ(0, vfio_p2p_iova_to_ram(c, IOVA_LIMIT + i * PG, PG - 1));
		ASSERT_EQ(-1, vfio_p2p_check(c->ram, PG - 1, seed))
			TH_LOG("the device did not read page %d of the split BAR", i);
	}
	ASSERT_EQ((int64_t)(len - PG), vfio_p2p_unmap(c->container, IOVA_LIMIT,
						      len - PG, 0));
	munmap(bar, len);
}

TEST_HARNESS_MAIN
