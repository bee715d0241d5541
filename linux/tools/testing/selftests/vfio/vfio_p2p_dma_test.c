// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_dma_test: real peer-to-peer DMA through a type1 container.
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
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_util.h"

#define IOVA_RAM	0x10000000ULL	/* at 256 MiB: catches a 28-bit edu dma_mask */
#define IOVA_BAR	0x40000000ULL
#define RAM_SIZE	0x10000UL
#define DMA_LEN		EDU_DMA_MAX

/* What the DMA helpers need; the fixture is just this. */
struct p2p_ctx {
	int container;
	struct vfio_p2p_dev edu;
	struct vfio_p2p_dev shm;
	struct vfio_p2p_region bar2;
	void *edu_regs;
	uint8_t *ram;
};

FIXTURE(p2p) {
	struct p2p_ctx c;
};

FIXTURE_VARIANT(p2p) {
	int iommu_type;
};

FIXTURE_VARIANT_ADD(p2p, type1) {
	.iommu_type = VFIO_TYPE1_IOMMU,
};

FIXTURE_VARIANT_ADD(p2p, type1v2) {
	.iommu_type = VFIO_TYPE1v2_IOMMU,
};

FIXTURE_SETUP(p2p)
{
	struct p2p_ctx *c = &self->c;
	struct vfio_p2p_region bar0;
	char edu_bdf[16], shm_bdf[16];

	c->container = -1;
	c->edu.fd = -1;
	c->edu.group_fd = -1;
	c->shm.fd = -1;
	c->shm.group_fd = -1;
	c->edu_regs = MAP_FAILED;
	c->ram = MAP_FAILED;
	c->bar2.map = MAP_FAILED;

	if (vfio_p2p_find(EDU_VENDOR, EDU_DEVICE, 0, edu_bdf, sizeof(edu_bdf)))
		SKIP(return, "no edu device bound to vfio-pci");
	if (vfio_p2p_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE, 0, shm_bdf, sizeof(shm_bdf)))
		SKIP(return, "no ivshmem device bound to vfio-pci");

	c->container = vfio_p2p_container_open();
	ASSERT_LE(0, c->container);
	if (ioctl(c->container, VFIO_CHECK_EXTENSION, variant->iommu_type) != 1)
		SKIP(return, "IOMMU type %d not supported", variant->iommu_type);

	ASSERT_EQ(0, vfio_p2p_dev_open(&c->edu, edu_bdf, c->container,
				       variant->iommu_type));
	ASSERT_EQ(0, vfio_p2p_dev_open(&c->shm, shm_bdf, c->container, 0));
	ASSERT_NE(c->edu.group_id, c->shm.group_id);

	ASSERT_EQ(0, vfio_p2p_region_info(&c->edu, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_TRUE(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP);
	c->edu_regs = vfio_p2p_region_mmap(&c->edu, &bar0, 0, getpagesize(),
					   PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, c->edu_regs);
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->edu, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0));
	ASSERT_TRUE(edu_alive(c->edu_regs));

	ASSERT_EQ(0, vfio_p2p_region_info(&c->shm, IVSHMEM_BAR, &c->bar2));
	ASSERT_TRUE(c->bar2.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ASSERT_LE(4 * RAM_SIZE, c->bar2.size);
	c->bar2.map = MAP_FAILED;

	c->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c->ram);
	memset(c->ram, 0, RAM_SIZE);
	ASSERT_EQ(0, vfio_p2p_map(c->container, c->ram, IOVA_RAM, RAM_SIZE,
				  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
}

FIXTURE_TEARDOWN(p2p)
{
	struct p2p_ctx *c = &self->c;

	if (c->bar2.map != MAP_FAILED)
		munmap(c->bar2.map, c->bar2.size);
	if (c->ram != MAP_FAILED)
		munmap(c->ram, RAM_SIZE);
	if (c->edu_regs != MAP_FAILED)
		munmap(c->edu_regs, getpagesize());
	vfio_p2p_dev_close(&c->shm);
	vfio_p2p_dev_close(&c->edu);
	if (c->container >= 0)
		close(c->container);
}

/* mmap the whole of BAR2; @touch faults every page in before it is mapped. */
static uint8_t *map_bar2(struct __test_metadata *_metadata, struct p2p_ctx *c,
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
static void ram_to_bar(struct __test_metadata *_metadata, struct p2p_ctx *c,
		       uint8_t *bar, uint64_t bar_off, uint32_t seed)
{
	vfio_p2p_fill(c->ram, DMA_LEN, seed);
	ASSERT_EQ(0, edu_dma_from_iova(c->edu_regs, IOVA_RAM, DMA_LEN));
	ASSERT_EQ(0, edu_dma_to_iova(c->edu_regs, IOVA_BAR + bar_off, DMA_LEN));
	ASSERT_EQ(-1, vfio_p2p_check(bar + bar_off, DMA_LEN, seed));
}

/* CPU writes the BAR, then BAR -> edu -> RAM; the bytes must show in RAM. */
static void bar_to_ram(struct __test_metadata *_metadata, struct p2p_ctx *c,
		       uint8_t *bar, uint64_t bar_off, uint32_t seed)
{
	vfio_p2p_fill(bar + bar_off, DMA_LEN, seed);
	memset(c->ram, 0, RAM_SIZE);
	ASSERT_EQ(0, edu_dma_from_iova(c->edu_regs, IOVA_BAR + bar_off, DMA_LEN));
	ASSERT_EQ(0, edu_dma_to_iova(c->edu_regs, IOVA_RAM, DMA_LEN));
	ASSERT_EQ(-1, vfio_p2p_check(c->ram, DMA_LEN, seed));
}

static void round_trip(struct __test_metadata *_metadata, struct p2p_ctx *c,
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
	struct p2p_ctx *c = &self->c;
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

	vfio_p2p_fill(c->ram, DMA_LEN, seed + 1);
	ASSERT_EQ(0, edu_dma_from_iova(c->edu_regs, IOVA_RAM, DMA_LEN));
	ASSERT_EQ(0, edu_dma_to_iova(c->edu_regs, IOVA_BAR + bar_off, DMA_LEN));
	/* The BAR still holds the old bytes, none of the new. */
	ASSERT_EQ(-1, vfio_p2p_check(bar + bar_off, DMA_LEN, seed));
	ASSERT_NE(-1, vfio_p2p_check(bar + bar_off, DMA_LEN, seed + 1));
	vfio_p2p_host_expect(c->shm.bdf, bar_off, DMA_LEN, seed);
}

TEST_HARNESS_MAIN
