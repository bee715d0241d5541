// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_dma_test: real peer-to-peer DMA, in every IOMMU mode.
 *
 * Both rig devices sit in one container: edu, the DMA engine, and ivshmem,
 * whose BAR2 mmap is the peer BAR.  Each test maps anonymous memory and the
 * BAR2 mmap at fixed IOVAs and moves bytes RAM -> edu -> BAR and
 * BAR -> edu -> RAM, checking them in the guest through the BAR mmap.  The
 * last pattern each test puts in the BAR is announced to the rig, which finds
 * it in the host's backing file after power-off.
 *
 * The negative control unmaps the BAR's IOVA range and runs the same DMA: the
 * bytes must not arrive, which shows the checks here can fail.
 *
 * Two DMAs in a row, the second started before the first has run, must
 * both land: the edu driver waits for an idle engine before a start, which
 * edu would otherwise drop.
 *
 * Each test runs in every IOMMU mode: a VFIO_TYPE1_IOMMU and a
 * VFIO_TYPE1v2_IOMMU container, and iommufd (cdev + IOAS).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"

#define IOVA_RAM	VFIO_P2P_IOVA_RAM
#define IOVA_BAR	0x40000000ULL
#define RAM_SIZE	VFIO_P2P_RAM_SIZE
#define DMA_LEN		EDU_DMA_MAX

FIXTURE(p2p) {
	struct vfio_p2p_ctx c;
};

FIXTURE_VARIANT(p2p) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE p2p
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(p2p)
{
	const char *what;
	int ret = vfio_p2p_ctx_open(&self->c, variant->iommu_type, &what);

	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
}

FIXTURE_TEARDOWN(p2p)
{
	vfio_p2p_ctx_close(&self->c);
}

/* mmap the whole of BAR2; @touch faults every page in before it is mapped. */
static uint8_t *map_bar2(struct __test_metadata *_metadata, struct vfio_p2p_ctx *c,
			 bool touch)
{
	void *p;

	p = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
				 PROT_READ | PROT_WRITE);
	EXPECT_NE(MAP_FAILED, p);
	if (p == MAP_FAILED)
		return NULL;
	c->bar2.map = p;
	if (touch)
		vfio_p2p_touch(p, c->bar2.size);
	return p;
}

/* RAM -> edu -> peer BAR at @bar_off; the bytes must show in the BAR mmap. */
static void ram_to_bar(struct __test_metadata *_metadata, struct vfio_p2p_ctx *c,
		       uint8_t *bar, uint64_t bar_off, uint32_t seed)
{
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_BAR + bar_off, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(bar + bar_off, DMA_LEN, seed));
}

/* CPU writes the BAR, then BAR -> edu -> RAM; the bytes must show in RAM. */
static void bar_to_ram(struct __test_metadata *_metadata, struct vfio_p2p_ctx *c,
		       uint8_t *bar, uint64_t bar_off, uint32_t seed)
{
	vfio_p2p_fill(bar + bar_off, DMA_LEN, seed);
	ASSERT_EQ(0, vfio_p2p_iova_to_ram(c, IOVA_BAR + bar_off, DMA_LEN));
	ASSERT_EQ(-1, vfio_p2p_check(c->ram, DMA_LEN, seed));
}

static void round_trip(struct __test_metadata *_metadata, struct vfio_p2p_ctx *c,
		       bool touch, uint64_t bar_off)
{
	uint32_t seed = vfio_p2p_seed();
	uint8_t *bar;

	bar = map_bar2(_metadata, c, touch);
	ASSERT_NE(NULL, bar);
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_BAR, c->bar2.size,
				  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));

	/* With @touch false, the first access to the BAR is the DMA itself. */
	ram_to_bar(_metadata, c, bar, bar_off, seed);
	bar_to_ram(_metadata, c, bar, bar_off, seed + 1);
	ram_to_bar(_metadata, c, bar, bar_off, seed + 2);
	vfio_p2p_host_expect(c->shm.bdf, bar_off, DMA_LEN, seed + 2);

	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

TEST_F(p2p, bar_untouched)
{
	round_trip(_metadata, &self->c, false, 0);
}

TEST_F(p2p, bar_touched)
{
	round_trip(_metadata, &self->c, true, RAM_SIZE);
}

/* Negative control: with the BAR's IOVA range unmapped the bytes must not land. */
TEST_F(p2p, unmapped_iova_does_not_land)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t bar_off = 2 * RAM_SIZE;
	uint32_t seed = vfio_p2p_seed();
	uint8_t *bar;

	bar = map_bar2(_metadata, c, false);
	ASSERT_NE(NULL, bar);
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_BAR, c->bar2.size,
				  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	/* While mapped, the DMA lands: the path works in this very test. */
	ram_to_bar(_metadata, c, bar, bar_off, seed);
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));

	ASSERT_EQ(0, vfio_p2p_ram_to_iova(c, IOVA_BAR + bar_off, DMA_LEN, seed + 1));
	/* The BAR still holds the old bytes, none of the new. */
	ASSERT_EQ(-1, vfio_p2p_check(bar + bar_off, DMA_LEN, seed));
	ASSERT_NE(-1, vfio_p2p_check(bar + bar_off, DMA_LEN, seed + 1));
	vfio_p2p_host_expect(c->shm.bdf, bar_off, DMA_LEN, seed);
}

/*
 * Two DMAs into the BAR in a row, the second started while the first may
 * still run: edu drops a start while busy, so the driver must wait for the
 * engine to be idle first, or the second DMA never happens.
 */
TEST_F(p2p, back_to_back_dma)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint64_t off1 = 3 * RAM_SIZE, off2 = off1 + 2 * getpagesize();
	uint32_t seed = vfio_p2p_seed();
	uint8_t *bar;

	bar = map_bar2(_metadata, c, true);
	ASSERT_NE(NULL, bar);
	ASSERT_EQ(0, vfio_p2p_map(c->container, bar, IOVA_BAR, c->bar2.size,
				  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	memset(bar + off1, 0, DMA_LEN);
	memset(bar + off2, 0, DMA_LEN);
	vfio_p2p_fill(c->ram, DMA_LEN, seed);
	ASSERT_EQ(0, edu_dma_from_iova(c->edu_regs, IOVA_RAM, DMA_LEN));
	/* The first is not waited for: the engine runs 100 ms later. */
	ASSERT_EQ(0, edu_dma_to_iova_start(c->edu_regs, IOVA_BAR + off1, DMA_LEN));
	ASSERT_EQ(0, edu_dma_to_iova(c->edu_regs, IOVA_BAR + off2, DMA_LEN));
	ASSERT_EQ(-1, vfio_p2p_check(bar + off1, DMA_LEN, seed));
	ASSERT_EQ(-1, vfio_p2p_check(bar + off2, DMA_LEN, seed))
		TH_LOG("the second DMA, started while the first ran, did not land");
	vfio_p2p_host_expect(c->shm.bdf, off1, DMA_LEN, seed);
	vfio_p2p_host_expect(c->shm.bdf, off2, DMA_LEN, seed);
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

TEST_HARNESS_MAIN
