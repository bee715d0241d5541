// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOMMU modes' containers of the vfio-p2p selftests and their map and
 * unmap (vfio_p2p_iommu.h): type1's ioctls on /dev/vfio/vfio, or
 * IOMMU_IOAS_MAP and IOMMU_IOAS_UNMAP when the container is an iommufd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "vfio_p2p_iommu.h"
#include "vfio_p2p_iommufd.h"

int vfio_p2p_container_open(void)
{
	int fd = open("/dev/vfio/vfio", O_RDWR);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int vfio_p2p_container_open_mode(int iommu_type)
{
	uint32_t ioas;

	if (iommu_type == VFIO_P2P_IOMMUFD)
		return vfio_p2p_iommufd_open(&ioas);
	return vfio_p2p_container_open();
}

/*
 * iommufd's type1-compat container is an iommufd behind /dev/vfio/vfio: it
 * takes iommufd's own ioctls too, where vfio's container does not know
 * IOMMU_IOAS_ALLOC (ENOTTY).  Asked once, on a container of its own.
 */
bool vfio_p2p_have_type1(void)
{
	static int type1 = -1;
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int fd;

	if (type1 < 0) {
		fd = vfio_p2p_container_open();
		if (fd < 0)
			return true;
		type1 = ioctl(fd, IOMMU_IOAS_ALLOC, &alloc) != 0;
		close(fd);
	}
	return type1;
}

bool vfio_p2p_mode_is_iommufd(int iommu_type)
{
	return iommu_type == VFIO_P2P_IOMMUFD || !vfio_p2p_have_type1();
}

void vfio_p2p_container_close(int container)
{
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		vfio_p2p_iommufd_close(container);
	else if (container >= 0)
		close(container);
}

int vfio_p2p_map(int container, void *vaddr, uint64_t iova, uint64_t size,
		 uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		return vfio_p2p_ioas_map(container, ioas, vaddr, iova, size, flags);
	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

int64_t vfio_p2p_unmap(int container, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas)) {
		if (flags & VFIO_DMA_UNMAP_FLAG_ALL)
			return vfio_p2p_ioas_unmap(container, ioas, 0, UINT64_MAX);
		if (flags)
			return -EINVAL;
		return vfio_p2p_ioas_unmap(container, ioas, iova, size);
	}
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -errno;
	return unmap.size;
}
