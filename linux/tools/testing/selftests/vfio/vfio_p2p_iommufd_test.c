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
 *  - dirty tracking: over a p2p area it answers as for any area (where the
 *    IOMMU has no dirty tracking, as the rig's: EOPNOTSUPP) and reports
 *    nothing;
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

TEST_F(ufd, dirty_tracking_over_p2p_area_is_defined)
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
	struct iommu_hwpt_set_dirty_tracking set = {
		.size = sizeof(set), .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
	};
	uint64_t bitmap[4096 / 64] = { 0 };
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get),
		.iova = IOVA_BAR,
		.length = 4096ULL * getpagesize(),
		.page_size = getpagesize(),
		.data = (uintptr_t)bitmap,
	};
	uint32_t seed = vfio_p2p_seed();
	int ret;

	ASSERT_LE(4096ULL * getpagesize(), c->bar2.size);
	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
	ret = ioctl(c->container, IOMMU_HWPT_ALLOC, &alloc) ? -errno : 0;
	if (ret == -EOPNOTSUPP) {
		/* No dirty tracking in this IOMMU: edu's own domain says so. */
		ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				   &attach));
		set.hwpt_id = attach.pt_id;
		get.hwpt_id = attach.pt_id;
		EXPECT_EQ(-1, ioctl(c->container, IOMMU_HWPT_SET_DIRTY_TRACKING,
				    &set));
		EXPECT_EQ(EOPNOTSUPP, errno);
		EXPECT_EQ(-1, ioctl(c->container, IOMMU_HWPT_GET_DIRTY_BITMAP,
				    &get));
		EXPECT_EQ(EOPNOTSUPP, errno);
		TH_LOG("this IOMMU has no dirty tracking: EOPNOTSUPP, as for RAM");
	} else {
		ASSERT_EQ(0, ret);
		attach.pt_id = alloc.out_hwpt_id;
		ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				   &attach));
		set.hwpt_id = alloc.out_hwpt_id;
		get.hwpt_id = alloc.out_hwpt_id;
		ASSERT_EQ(0, ioctl(c->container, IOMMU_HWPT_SET_DIRTY_TRACKING,
				   &set));
		ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed));
		ASSERT_EQ(0, ioctl(c->container, IOMMU_HWPT_GET_DIRTY_BITMAP,
				   &get));
		/* The page edu wrote is dirty. */
		EXPECT_TRUE(bitmap[(OFF / getpagesize()) / 64] &
			    (1ULL << ((OFF / getpagesize()) % 64)));
		attach.pt_id = self->ioas;
		ASSERT_EQ(0, ioctl(c->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				   &attach));
	}
	/* The p2p area still works and still unmaps whole. */
	ASSERT_EQ(0, dma_to(c, IOVA_BAR + OFF, seed + 1));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed + 1));
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed + 1);
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
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
