/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The IOMMU modes of the vfio-p2p selftests and their "containers":
 * /dev/vfio/vfio with type1 or type1v2 (or, on the compat kernel,
 * iommufd's type1-compat container behind that node), or an iommufd with
 * an IOAS of its own (VFIO_P2P_IOMMUFD, vfio_p2p_iommufd.h).  Map and
 * unmap take either and issue that mode's ioctl.
 */
#ifndef VFIO_P2P_IOMMU_H
#define VFIO_P2P_IOMMU_H

#include <stdint.h>

#include "vfio_p2p_iommufd.h"

/* Open /dev/vfio/vfio; returns the fd or -errno. */
int vfio_p2p_container_open(void);

/*
 * A container of @iommu_type for vfio_p2p_dev_join(): /dev/vfio/vfio (its
 * type is set as its first group joins) or, for VFIO_P2P_IOMMUFD, an
 * iommufd with an IOAS of its own.  fd or -errno; vfio_p2p_container_close()
 * closes either.
 */
int vfio_p2p_container_open_mode(int iommu_type);
void vfio_p2p_container_close(int container);

/*
 * VFIO_IOMMU_MAP_DMA, or in the iommufd mode (@container is the iommufd)
 * IOMMU_IOAS_MAP at @iova.
 */
int vfio_p2p_map(int container, void *vaddr, uint64_t iova, uint64_t size,
		 uint32_t flags);
/* Returns the unmapped size, or -errno; IOMMU_IOAS_UNMAP in the iommufd mode. */
int64_t vfio_p2p_unmap(int container, uint64_t iova, uint64_t size, uint32_t flags);

#endif /* VFIO_P2P_IOMMU_H */
