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

#include <stdbool.h>
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
 * Whether /dev/vfio/vfio is vfio's own container with type1, whose module
 * parameters (strict_mmio_maps, dma_entry_limit, allow_unsafe_interrupts)
 * then exist, or iommufd's type1-compat container
 * (CONFIG_IOMMUFD_VFIO_CONTAINER, the compat check kernel).
 */
bool vfio_p2p_have_type1(void);

/*
 * Whether @iommu_type's container is an iommufd underneath, with iommufd's
 * errnos, accounting and limits: the iommufd mode always, and type1 and
 * type1v2 on a kernel without vfio's type1.
 */
bool vfio_p2p_mode_is_iommufd(int iommu_type);

/*
 * VFIO_IOMMU_MAP_DMA, or in the iommufd mode (@container is the iommufd)
 * IOMMU_IOAS_MAP at @iova.
 */
int vfio_p2p_map(int container, void *vaddr, uint64_t iova, uint64_t size,
		 uint32_t flags);
/* Returns the unmapped size, or -errno; IOMMU_IOAS_UNMAP in the iommufd mode. */
int64_t vfio_p2p_unmap(int container, uint64_t iova, uint64_t size, uint32_t flags);

#endif /* VFIO_P2P_IOMMU_H */
