// SPDX-License-Identifier: GPL-2.0-only
/*
 * The usual setup of a vfio-p2p selftest (vfio_p2p_ctx.h): edu and ivshmem
 * in one container of any IOMMU mode, edu's registers, RAM mapped for DMA.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_p2p_ctx.h"
#include "vfio_p2p_edu.h"
#include "vfio_p2p_iommu.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_pattern.h"
#include "vfio_p2p_rig.h"

void vfio_p2p_ctx_init(struct vfio_p2p_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->container = -1;
	vfio_p2p_dev_init(&c->edu);
	vfio_p2p_dev_init(&c->shm);
	c->edu_regs = MAP_FAILED;
	c->ram = MAP_FAILED;
	c->bar2.map = NULL;
}

/* The container of the mode, and edu (and with @peer, ivshmem) in it. */
static int ctx_devices(struct vfio_p2p_ctx *c, int iommu_type, bool peer,
		       const char **what)
{
	char edu_bdf[16], shm_bdf[16];
	bool fd_mode = iommu_type == VFIO_P2P_IOMMUFD;
	int ret;

	*what = peer ? "edu and ivshmem bound to vfio-pci" : "edu bound to vfio-pci";
	if (vfio_p2p_find(EDU_VENDOR, EDU_DEVICE, 0, edu_bdf, sizeof(edu_bdf)) ||
	    (peer && vfio_p2p_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE, 0, shm_bdf,
				   sizeof(shm_bdf))))
		return -ENODEV;
	*what = fd_mode ? "open /dev/iommu and allocate an IOAS" : "open /dev/vfio/vfio";
	c->container = vfio_p2p_container_open_mode(iommu_type);
	if (c->container < 0)
		return c->container;
	*what = "IOMMU type supported";
	if (!fd_mode && ioctl(c->container, VFIO_CHECK_EXTENSION, iommu_type) != 1)
		return -EOPNOTSUPP;
	*what = fd_mode ? "open the edu cdev, bind and attach it" :
			  "open the edu group and device";
	ret = vfio_p2p_dev_join(&c->edu, edu_bdf, c->container, iommu_type);
	if (ret || !peer)
		return ret;
	*what = fd_mode ? "open the ivshmem cdev, bind and attach it" :
			  "open the ivshmem group and device";
	return vfio_p2p_dev_join(&c->shm, shm_bdf, c->container, 0);
}

static int ctx_open(struct vfio_p2p_ctx *c, int iommu_type, bool peer,
		    const char **what)
{
	struct vfio_p2p_region bar0;
	int ret;

	vfio_p2p_ctx_init(c);
	ret = ctx_devices(c, iommu_type, peer, what);
	if (ret)
		return ret;
	*what = "edu BAR0";
	ret = vfio_p2p_region_info(&c->edu, VFIO_PCI_BAR0_REGION_INDEX, &bar0);
	if (ret)
		return ret;
	c->edu_regs = vfio_p2p_region_mmap(&c->edu, &bar0, 0, getpagesize(),
					   PROT_READ | PROT_WRITE);
	if (c->edu_regs == MAP_FAILED)
		return -errno;
	ret = vfio_p2p_pci_command(&c->edu, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0);
	if (ret)
		return ret;
	*what = "edu answers";
	if (!edu_alive(c->edu_regs))
		return -EIO;
	if (peer) {
		*what = "ivshmem BAR2 region info";
		ret = vfio_p2p_region_info(&c->shm, IVSHMEM_BAR, &c->bar2);
		if (ret)
			return ret;
		if (!(c->bar2.flags & VFIO_REGION_INFO_FLAG_MMAP) ||
		    c->bar2.size < 4 * VFIO_P2P_RAM_SIZE)
			return -EINVAL;
	}
	*what = "anonymous memory mapped at VFIO_P2P_IOVA_RAM";
	c->ram = mmap(NULL, VFIO_P2P_RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->ram == MAP_FAILED)
		return -errno;
	memset(c->ram, 0, VFIO_P2P_RAM_SIZE);
	return vfio_p2p_map(c->container, c->ram, VFIO_P2P_IOVA_RAM,
			    VFIO_P2P_RAM_SIZE,
			    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

int vfio_p2p_ctx_open(struct vfio_p2p_ctx *c, int iommu_type, const char **what)
{
	return ctx_open(c, iommu_type, true, what);
}

void vfio_p2p_ctx_close(struct vfio_p2p_ctx *c)
{
	if (c->bar2.map && c->bar2.map != MAP_FAILED)
		munmap(c->bar2.map, c->bar2.size);
	if (c->ram != MAP_FAILED)
		munmap(c->ram, VFIO_P2P_RAM_SIZE);
	if (c->edu_regs != MAP_FAILED)
		munmap(c->edu_regs, getpagesize());
	vfio_p2p_dev_close(&c->shm);
	vfio_p2p_dev_close(&c->edu);
	vfio_p2p_container_close(c->container);
	c->container = -1;
}

static int ctx_open_wait(struct vfio_p2p_ctx *c, int iommu_type, bool peer,
			 const char **what, int wait_s)
{
	struct timespec start, now;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ret = ctx_open(c, iommu_type, peer, what);
		if (ret != -EBUSY)
			return ret;
		vfio_p2p_ctx_close(c);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= wait_s)
			break;
		usleep(200000);
	}
	fprintf(stderr, "# %s: still busy after %d s; the holders:\n", *what, wait_s);
	vfio_p2p_report_holders();
	return -EBUSY;
}

int vfio_p2p_ctx_open_wait(struct vfio_p2p_ctx *c, int iommu_type, const char **what,
			   int wait_s)
{
	return ctx_open_wait(c, iommu_type, true, what, wait_s);
}

int vfio_p2p_ctx_open_edu_wait(struct vfio_p2p_ctx *c, int iommu_type,
			       const char **what, int wait_s)
{
	return ctx_open_wait(c, iommu_type, false, what, wait_s);
}

int vfio_p2p_ram_to_iova(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len,
			 uint32_t seed)
{
	int ret;

	vfio_p2p_fill(c->ram, len, seed);
	ret = edu_dma_from_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, len);
	return ret ? ret : edu_dma_to_iova(c->edu_regs, iova, len);
}

int vfio_p2p_iova_to_ram(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len)
{
	int ret;

	memset(c->ram, 0, VFIO_P2P_RAM_SIZE);
	ret = edu_dma_from_iova(c->edu_regs, iova, len);
	return ret ? ret : edu_dma_to_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, len);
}
