/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The iommufd mode of the vfio-p2p selftests: devices opened through their
 * vfio cdev (/dev/vfio/devices/vfioN), bound to /dev/iommu and attached to
 * one IOAS, which maps what a type1 container would.  A "container" of
 * this mode is the iommufd fd: vfio_p2p_map() and vfio_p2p_unmap() turn
 * into IOMMU_IOAS_MAP and IOMMU_IOAS_UNMAP on its IOAS.
 */
#ifndef VFIO_P2P_IOMMUFD_H
#define VFIO_P2P_IOMMUFD_H

#include <stdbool.h>
#include <stdint.h>

struct vfio_p2p_dev;

/* Not a VFIO_*_IOMMU type: the iommufd mode of vfio_p2p_ctx_open(). */
#define VFIO_P2P_IOMMUFD	0x10000

/*
 * Open /dev/iommu and allocate an IOAS; returns the fd (its IOAS in *@ioas)
 * or -errno.  The fd is then a "container" for vfio_p2p_map(); close it
 * with vfio_p2p_iommufd_close().  A process with CAP_IPC_LOCK (the
 * tests, as root) is charged nothing for its pins: vfio_p2p_locked_kib()
 * counts only type1's.
 */
int vfio_p2p_iommufd_open(uint32_t *ioas);
void vfio_p2p_iommufd_close(int iommufd);
/* Whether @fd is an iommufd of vfio_p2p_iommufd_open(), and its IOAS. */
bool vfio_p2p_iommufd_ioas(int fd, uint32_t *ioas);

/*
 * Open the vfio cdev of @bdf (a PCI address, an mdev's UUID or a platform
 * device's name), bind it to @iommufd and attach it to @ioas.
 */
int vfio_p2p_cdev_open(struct vfio_p2p_dev *dev, const char *bdf, int iommufd,
		       uint32_t ioas);

/* IOMMU_IOAS_MAP at a fixed IOVA, VFIO_DMA_MAP_FLAG_READ/WRITE flags. */
int vfio_p2p_ioas_map(int iommufd, uint32_t ioas, void *vaddr, uint64_t iova,
		      uint64_t size, uint32_t flags);
/* IOMMU_IOAS_UNMAP; returns the length unmapped, or -errno. */
int64_t vfio_p2p_ioas_unmap(int iommufd, uint32_t ioas, uint64_t iova,
			    uint64_t size);
/* IOMMU_IOAS_COPY of [@src_iova, +@size) of @src to @dst_iova of @dst. */
int vfio_p2p_ioas_copy(int iommufd, uint32_t dst, uint64_t dst_iova,
		       uint32_t src, uint64_t src_iova, uint64_t size);

#endif /* VFIO_P2P_IOMMUFD_H */
