// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_demo: `make run` in one program.  It narrates a peer-to-peer DMA
 * through a type1 container, step by step, in VFIO terms: the devices and
 * their IOMMU groups, the container, each MAP_DMA and its result, the edu DMA
 * into the ivshmem BAR, and what the guest reads back.  The rig then shows
 * what landed in the host's backing file.  Exits non-zero on any failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_p2p_util.h"

#define IOVA_RAM	0x10000000ULL
#define IOVA_BAR	0x40000000ULL
#define RAM_SIZE	0x10000UL

static int step;

#define say(fmt, ...)	printf("[%2d] " fmt "\n", ++step, ##__VA_ARGS__)

static int fail(const char *what)
{
	printf("FAILED: %s\n", what);
	return 1;
}

static const char message[] =
	"Hello from edu: its DMA engine wrote this into ivshmem BAR2 via the IOMMU.";

int main(void)
{
	char edu_bdf[16], shm_bdf[16], *ram, *bar;
	struct vfio_p2p_region bar0, bar2;
	struct vfio_p2p_dev edu, shm;
	size_t len = sizeof(message);
	void *regs;
	int c, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("vfio-p2p demo: peer-to-peer DMA between two devices assigned with VFIO\n");
	if (vfio_p2p_find(EDU_VENDOR, EDU_DEVICE, 0, edu_bdf, sizeof(edu_bdf)) ||
	    vfio_p2p_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE, 0, shm_bdf, sizeof(shm_bdf)))
		return fail("edu and ivshmem must both be bound to vfio-pci");
	say("devices bound to vfio-pci: edu %s (the DMA engine), ivshmem %s (the peer BAR)",
	    edu_bdf, shm_bdf);

	c = vfio_p2p_container_open();
	if (c < 0)
		return fail("open /dev/vfio/vfio");
	ret = vfio_p2p_dev_open(&edu, edu_bdf, c, VFIO_TYPE1v2_IOMMU);
	if (ret)
		return fail("open the edu group and device");
	ret = vfio_p2p_dev_open(&shm, shm_bdf, c, 0);
	if (ret)
		return fail("open the ivshmem group and device");
	say("container /dev/vfio/vfio holds IOMMU group %d (edu) and group %d (ivshmem)",
	    edu.group_id, shm.group_id);
	say("container IOMMU type: VFIO_TYPE1v2_IOMMU");

	if (vfio_p2p_region_info(&edu, VFIO_PCI_BAR0_REGION_INDEX, &bar0))
		return fail("edu BAR0 region info");
	regs = vfio_p2p_region_mmap(&edu, &bar0, 0, getpagesize(), PROT_READ | PROT_WRITE);
	if (regs == MAP_FAILED)
		return fail("mmap edu BAR0");
	vfio_p2p_pci_command(&edu, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0);
	if (!edu_alive(regs))
		return fail("edu does not answer on its liveness register");
	say("edu BAR0 mmapped through the device fd; bus mastering on; the device answers");

	if (vfio_p2p_region_info(&shm, IVSHMEM_BAR, &bar2))
		return fail("ivshmem BAR2 region info");
	bar = vfio_p2p_region_mmap(&shm, &bar2, 0, bar2.size, PROT_READ | PROT_WRITE);
	if (bar == MAP_FAILED)
		return fail("mmap ivshmem BAR2");
	say("ivshmem BAR2 (%llu MiB) mmapped at %p, not touched by the CPU",
	    (unsigned long long)bar2.size >> 20, bar);

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("mmap anonymous memory");
	memset(ram, 0, RAM_SIZE);
	ret = vfio_p2p_map(c, ram, IOVA_RAM, RAM_SIZE,
			   VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	say("VFIO_IOMMU_MAP_DMA anonymous memory, %lu KiB at vaddr %p -> IOVA 0x%llx: %s",
	    RAM_SIZE >> 10, ram, IOVA_RAM, ret ? strerror(-ret) : "ok");
	if (ret)
		return 1;
	ret = vfio_p2p_map(c, bar, IOVA_BAR, bar2.size,
			   VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	say("VFIO_IOMMU_MAP_DMA ivshmem BAR2, %llu MiB at vaddr %p -> IOVA 0x%llx: %s",
	    (unsigned long long)bar2.size >> 20, bar, IOVA_BAR, ret ? strerror(-ret) : "ok");
	if (ret)
		return 1;

	memcpy(ram, message, len);
	if (edu_dma_from_iova(regs, IOVA_RAM, len))
		return fail("edu DMA timed out");
	say("edu DMA: %zu bytes from IOVA 0x%llx (our anonymous memory) into the edu buffer",
	    len, IOVA_RAM);
	if (edu_dma_to_iova(regs, IOVA_BAR, len))
		return fail("edu DMA timed out");
	say("edu DMA: %zu bytes from the edu buffer to IOVA 0x%llx (the peer BAR): peer-to-peer",
	    len, IOVA_BAR);
	if (memcmp(bar, message, len))
		return fail("the BAR2 mmap does not hold the message");
	say("the guest reads the BAR2 mmap: \"%.40s...\": the bytes arrived", bar);

	memset(ram, 0, RAM_SIZE);
	if (edu_dma_from_iova(regs, IOVA_BAR, len) || edu_dma_to_iova(regs, IOVA_RAM, len))
		return fail("edu DMA timed out");
	if (memcmp(ram, message, len))
		return fail("the reverse DMA did not bring the message back");
	say("reverse direction, BAR2 -> edu -> anonymous memory: the message came back intact");

	ret = (int)vfio_p2p_unmap(c, IOVA_BAR, bar2.size, 0);
	say("VFIO_IOMMU_UNMAP_DMA IOVA 0x%llx: %s", IOVA_BAR, ret < 0 ? strerror(-ret) : "ok");
	vfio_p2p_host_expect_bytes(shm.bdf, 0, message, len);
	printf("demo: done; the host will now read the ivshmem backing file\n");
	return ret < 0;
}
