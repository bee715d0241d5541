// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_iommufd_test: the peer BAR mapped over iommufd (cdev + IOAS),
 * by its mmap, in one IOMMU_IOAS_MAP, no longer than the BAR is usable.
 *
 * edu and ivshmem are opened through their vfio cdevs, bound to one
 * iommufd and attached to one IOAS, which maps RAM and the BAR2 mmap.
 * Each test moves bytes with edu's DMA engine and checks them in the guest
 * (and, for the last pattern at OFF, in the host's backing file):
 *
 *  - mixed: one IOAS_MAP of a range that is RAM, then the BAR mmap;
 *  - decode: memory decode off revokes the BAR's IOVA (DMA faults at the
 *    IOMMU: a DMAR record), on restores it at the same IOVA;
 *  - release: the peer's last fd closes; DMA stops; IOAS_UNMAP succeeds;
 *  - attach later: the BAR is mapped into an IOAS with no domain yet; the
 *    domain edu's attach makes gets the live run;
 *  - copy: IOMMU_IOAS_COPY of the BAR's IOVA into a second IOAS, which
 *    edu then uses;
 *  - dirty tracking: where the IOMMU has none (the rig's Intel IOMMU) a
 *    p2p area answers EOPNOTSUPP, as any area does; over the test IOMMU,
 *    which has it, the RAM a client wrote is reported dirty and the BAR
 *    never is, live or revoked;
 *  - reset: VFIO_DEVICE_RESET of the peer, then DMA lands again at the
 *    same IOVA (vfio_p2p_lifetime_test shows the revoke inside it);
 *  - refused: a foreign PFNMAP (the sysfs resource2 mmap of the same BAR)
 *    fails with EFAULT, and so does a partial IOAS_UNMAP of the BAR's area
 *    (ENOENT, as for any area).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_test_iommu.h"
#include "vfio_p2p_util.h"

#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA_BAR	0x40000000ULL
#define OFF		0xa00000UL	/* where in the BAR these tests write */
#define DMA_LEN		EDU_DMA_MAX
#define GROUP_WAIT_S	30

FIXTURE(ufd) {
	struct vfio_p2p_ctx c;
	uint32_t ioas;
	uint8_t *bar;
};

FIXTURE_SETUP(ufd)
{
	struct vfio_p2p_ctx *c = &self->c;
	const char *what;
	int ret = vfio_p2p_ctx_open_wait(c, VFIO_P2P_IOMMUFD, &what,
					 GROUP_WAIT_S);

	self->bar = NULL;
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	ASSERT_TRUE(vfio_p2p_iommufd_ioas(c->container, &self->ioas));
	self->bar = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
					 PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->bar);
	c->bar2.map = self->bar;
	ASSERT_LE(OFF + DMA_LEN, c->bar2.size);
}

FIXTURE_TEARDOWN(ufd)
{
	vfio_p2p_ctx_close(&self->c);
}

/* RAM -> edu -> @iova with @seed's bytes. */
static int dma_to(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t seed)
{
	return vfio_p2p_ram_to_iova(c, iova, DMA_LEN, seed);
}

TEST_F(ufd, mixed_ram_then_bar_in_one_map)
{
	struct vfio_p2p_ctx *c = &self->c;
	size_t ram_len = 4 * getpagesize(), win = 2 * 1024 * 1024;
	uint64_t iova = 0x80000000ULL;
	uint32_t seed = vfio_p2p_seed();
	uint8_t *va, *bar;

	/* RAM, and right after it a window of the BAR at OFF, in one range. */
	va = mmap(NULL, ram_len + win, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, va);
	bar = mmap(va + ram_len, win, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, c->shm.fd,
		   c->bar2.offset + (OFF & ~(win - 1)));
	ASSERT_EQ(va + ram_len, bar);
	memset(va, 0, ram_len);

	ASSERT_EQ(0, vfio_p2p_map(c->container, va, iova, ram_len + win, RW));
	/* Into the BAR part of the range... */
	ASSERT_EQ(0, dma_to(c, iova + ram_len + (OFF & (win - 1)), seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	/* ...and into its RAM part. */
	ASSERT_EQ(0, dma_to(c, iova + getpagesize(), seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(va + getpagesize(), DMA_LEN, seed + 1));
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);

	/* The two areas unmap together, as one range. */
	ASSERT_EQ((int64_t)(ram_len + win),
		  vfio_p2p_unmap(c->container, iova, ram_len + win, 0));
	munmap(va, ram_len + win);
}

TEST_F_TIMEOUT(ufd, decode_off_revokes_on_restores, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	char needle[64];
	int kmsg;

	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));

	/* DMAR fault messages are rate-limited: 10 per 5 s. */
	sleep(6);
	snprintf(needle, sizeof(needle), "fault addr 0x%llx",
		 (unsigned long long)(IOVA_BAR + OFF));
	kmsg = vfio_p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, 0, PCI_COMMAND_MEMORY));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed + 1));
	/* The IOMMU, not the undecoded BAR, stopped it. */
	EXPECT_TRUE(vfio_p2p_kmsg_wait(kmsg, needle, 3000))
		TH_LOG("no IOMMU fault for iova 0x%llx while decode was off",
		       (unsigned long long)(IOVA_BAR + OFF));
	close(kmsg);
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0));

	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	/* Restored at the same IOVA, with nothing for the user to do. */
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed + 2));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed + 2))
		TH_LOG("DMA did not land after decode came back");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed + 2);
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

TEST_F(ufd, release_stops_dma_unmap_succeeds)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	uint8_t *view;

	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));

	/* The peer's user lets go: munmap, then the last fd. */
	munmap(self->bar, c->bar2.size);
	self->bar = NULL;
	c->bar2.map = NULL;
	close(c->shm.fd);
	c->shm.fd = -1;
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed + 1));

	ASSERT_LE(0, vfio_p2p_dev_reopen(&c->shm));
	view = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
				    PROT_READ);
	ASSERT_NE(MAP_FAILED, view);
	c->bar2.map = view;
	ASSERT_EQ(-1, vfio_p2p_check(view + OFF, DMA_LEN, seed))
		TH_LOG("DMA reached the BAR after its device was released");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
	/* The IOVA range is still the user's to unmap. */
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

TEST_F(ufd, domain_attached_later_gets_live_run)
{
	struct vfio_p2p_ctx *c = &self->c;
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	uint32_t seed = vfio_p2p_seed();

	/* A second IOAS, with no device: its maps have no domain to go to. */
	ASSERT_EQ(0, ioctl(c->container, IOMMU_IOAS_ALLOC, &alloc));
	ASSERT_EQ(0, vfio_p2p_ioas_map(c->container, alloc.out_ioas_id, c->ram,
				       VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE, RW));
	ASSERT_EQ(0, vfio_p2p_ioas_map(c->container, alloc.out_ioas_id,
				       self->bar, IOVA_BAR, c->bar2.size, RW));

	/* edu moves there: the new domain its attach makes gets the run. */
	ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	attach.pt_id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
		TH_LOG("a domain attached after the map did not get the BAR");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);

	ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_ioas_unmap(c->container, alloc.out_ioas_id, IOVA_BAR,
				      c->bar2.size));
}

TEST_F(ufd, copy_to_second_ioas)
{
	struct vfio_p2p_ctx *c = &self->c;
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	uint32_t seed = vfio_p2p_seed();

	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ASSERT_EQ(0, ioctl(c->container, IOMMU_IOAS_ALLOC, &alloc));
	ASSERT_EQ(0, vfio_p2p_ioas_copy(c->container, alloc.out_ioas_id,
					IOVA_BAR, self->ioas, IOVA_BAR,
					c->bar2.size));
	ASSERT_EQ(0, vfio_p2p_ioas_copy(c->container, alloc.out_ioas_id,
					VFIO_P2P_IOVA_RAM, self->ioas,
					VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE));
	/* edu moves to the copy (a replace), and DMA lands through it. */
	attach.pt_id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
		TH_LOG("DMA through the copied IOAS did not land");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
	attach.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
}

TEST_F(ufd, foreign_pfnmap_and_partial_unmap_refused)
{
	struct vfio_p2p_ctx *c = &self->c;
	char path[96];
	void *res;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 c->shm.bdf, IVSHMEM_BAR);
	fd = open(path, O_RDWR | O_SYNC);
	ASSERT_LE(0, fd);
	res = mmap(NULL, 2 * 1024 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	ASSERT_NE(MAP_FAILED, res);
	/* Nobody would tell iommufd when that memory goes away. */
	EXPECT_EQ(-EFAULT, vfio_p2p_map(c->container, res, IOVA_BAR,
					2 * 1024 * 1024, RW));
	munmap(res, 2 * 1024 * 1024);
	close(fd);

	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	EXPECT_EQ(-ENOENT, vfio_p2p_unmap(c->container, IOVA_BAR,
					  c->bar2.size / 2, 0));
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

/* IOMMU_HWPT_GET_DIRTY_BITMAP of [@iova, @iova + @pages pages) into @bitmap. */
static int get_dirty(int iommufd, uint32_t hwpt, uint64_t iova, size_t pages,
		     uint64_t *bitmap)
{
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get),
		.hwpt_id = hwpt,
		.iova = iova,
		.length = pages * getpagesize(),
		.page_size = getpagesize(),
		.data = (uintptr_t)bitmap,
	};

	memset(bitmap, 0, (pages + 63) / 64 * 8);
	return ioctl(iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get) ? -errno : 0;
}

static int set_dirty(int iommufd, uint32_t hwpt, bool on)
{
	struct iommu_hwpt_set_dirty_tracking set = {
		.size = sizeof(set), .hwpt_id = hwpt,
		.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
	};

	return ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set) ? -errno : 0;
}

/* A word of the BAR mmap, read once: a DMA wrote it, not this program. */
static uint32_t bar_word(const uint8_t *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

static bool bit(const uint64_t *bitmap, size_t n)
{
	return bitmap[n / 64] & (1ULL << (n % 64));
}

/*
 * The rig's Intel IOMMU has no dirty tracking: over a p2p area, as for
 * any, iommufd refuses a dirty-tracking HWPT and the dirty ioctls of edu's
 * own HWPT with EOPNOTSUPP, and the area goes on working.
 */
TEST_F(ufd, dirty_tracking_unsupported_answers_eopnotsupp)
{
	struct vfio_p2p_ctx *c = &self->c;
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = self->ioas,
	};
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.dev_id = c->edu.devid,
		.pt_id = self->ioas,
	};
	uint64_t bitmap[1];
	uint32_t seed = vfio_p2p_seed();
	int ret;

	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ret = ioctl(c->container, IOMMU_HWPT_ALLOC, &alloc) ? -errno : 0;
	if (!ret)
		SKIP(return, "this IOMMU tracks dirty entries: see dirty_tracking_skips_p2p_area");
	ASSERT_EQ(-EOPNOTSUPP, ret);
	ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	EXPECT_EQ(-EOPNOTSUPP, set_dirty(c->container, attach.pt_id, true));
	EXPECT_EQ(-EOPNOTSUPP, get_dirty(c->container, attach.pt_id, IOVA_BAR,
					 64, bitmap));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

#define IOVA_RAM	0x30000000ULL	/* clear of VFIO_P2P_IOVA_RAM and IOVA_BAR */
#define DIRTY_PAGES	64	/* the BAR pages from OFF that the walks cover */

/*
 * Over the test IOMMU, which tracks dirty entries: its client writes RAM
 * and the peer BAR through a dirty-tracking HWPT.  The RAM page it wrote is
 * reported dirty, once; the BAR page never is, since device memory is no
 * RAM to migrate.  While decode is off the BAR's run is a hole in the
 * domain, which the test IOMMU's dirty walk, as io-pgtable-arm's, does not
 * accept (a WARN): a walk of that range still answers, clean.
 */
TEST_F(ufd, dirty_tracking_skips_p2p_area)
{
	struct vfio_p2p_ctx *c = &self->c;
	size_t pg = getpagesize(), ram_len = 4 * pg;
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.pt_id = self->ioas,
	};
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	uint64_t bitmap[DIRTY_PAGES / 64];
	struct p2p_ti_dev t;
	uint32_t pattern = vfio_p2p_seed() | 1;
	uint8_t *ram;
	int i;

	if (p2p_ti_present(0))
		SKIP(return, "no test IOMMU (CONFIG_VFIO_P2P_TEST_IOMMU)");
	ASSERT_LE(OFF + DIRTY_PAGES * pg, c->bar2.size);
	ram = mmap(NULL, ram_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ram);
	memset(ram, 0, ram_len);
	ASSERT_EQ(0, p2p_ti_bind(&t, 0, c->container));
	alloc.dev_id = t.dev.devid;
	ASSERT_EQ(0, ioctl(c->container, IOMMU_HWPT_ALLOC, &alloc))
		TH_LOG("dirty-tracking HWPT: %s", strerror(errno));
	ASSERT_EQ(0, p2p_ti_attach(&t, alloc.out_hwpt_id));
	ASSERT_EQ(0, vfio_p2p_map(c->container, ram, IOVA_RAM, ram_len, RW));
	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ASSERT_EQ(0, set_dirty(c->container, alloc.out_hwpt_id, true));

	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&t, IOVA_RAM + pg, 64, pattern));
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&t, IOVA_BAR + OFF, 64, pattern));
	/* Both writes landed: the BAR's is P2P through the test IOMMU. */
	ASSERT_EQ(pattern, *(uint32_t *)(ram + pg));
	ASSERT_EQ(pattern, bar_word(self->bar + OFF));

	ASSERT_EQ(0, get_dirty(c->container, alloc.out_hwpt_id, IOVA_RAM, 4,
			       bitmap));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(i == 1, bit(bitmap, i)) TH_LOG("RAM page %d", i);
	/* Read and cleared. */
	ASSERT_EQ(0, get_dirty(c->container, alloc.out_hwpt_id, IOVA_RAM, 4,
			       bitmap));
	EXPECT_EQ(0, bitmap[0]);

	ASSERT_EQ(0, get_dirty(c->container, alloc.out_hwpt_id, IOVA_BAR + OFF,
			       DIRTY_PAGES, bitmap));
	for (i = 0; i < DIRTY_PAGES; i++)
		EXPECT_FALSE(bit(bitmap, i)) TH_LOG("BAR page %d reported dirty", i);

	/* Revoked: a hole in the domain, and still a clean answer. */
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, 0, PCI_COMMAND_MEMORY));
	EXPECT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&t, IOVA_BAR + OFF, 64,
						    pattern));
	EXPECT_EQ(0, get_dirty(c->container, alloc.out_hwpt_id, IOVA_BAR + OFF,
			       DIRTY_PAGES, bitmap));
	EXPECT_EQ(0, bitmap[0]);
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0));
	EXPECT_EQ(0, p2p_ti_dma_write_pattern(&t, IOVA_BAR + OFF, 64, ~pattern));
	EXPECT_EQ(~pattern, bar_word(self->bar + OFF));

	ASSERT_EQ(0, set_dirty(c->container, alloc.out_hwpt_id, false));
	/* Unbound, the client leaves the HWPT, which then goes. */
	p2p_ti_close(&t);
	destroy.id = alloc.out_hwpt_id;
	EXPECT_EQ(0, ioctl(c->container, IOMMU_DESTROY, &destroy));
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
	ASSERT_EQ((int64_t)ram_len,
		  vfio_p2p_unmap(c->container, IOVA_RAM, ram_len, 0));
	munmap(ram, ram_len);
}

TEST_F_TIMEOUT(ufd, reset_restores_at_same_iova, 120)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();

	ASSERT_EQ(0, ioctl(c->shm.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset method", c->shm.bdf);
	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	ASSERT_EQ(0, ioctl(c->shm.fd, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed + 1))
		TH_LOG("DMA did not land after the reset");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed + 1);
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

TEST_HARNESS_MAIN
