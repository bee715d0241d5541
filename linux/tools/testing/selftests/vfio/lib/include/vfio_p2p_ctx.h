/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The usual setup of a vfio-p2p selftest: edu and the first ivshmem in one
 * container of @iommu_type (or VFIO_P2P_IOMMUFD: both attached to one
 * IOAS), edu's registers mmapped with bus mastering on, BAR2's region
 * info, and VFIO_P2P_RAM_SIZE bytes of anonymous memory mapped read/write
 * at VFIO_P2P_IOVA_RAM; and DMA through edu between that RAM and an IOVA.
 */
#ifndef VFIO_P2P_CTX_H
#define VFIO_P2P_CTX_H

#include <stdint.h>

#include "vfio_p2p_device.h"

#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110
#define IVSHMEM_BAR		2

#define VFIO_P2P_IOVA_RAM	0x10000000ULL	/* 256 MiB: catches a 28-bit dma_mask */
#define VFIO_P2P_RAM_SIZE	0x10000UL

struct vfio_p2p_ctx {
	int container;
	struct vfio_p2p_dev edu;
	struct vfio_p2p_dev shm;
	struct vfio_p2p_region bar2;
	void *edu_regs;
	uint8_t *ram;
};

/*
 * Returns 0; -ENODEV when the rig's devices are not bound to vfio-pci and
 * -EOPNOTSUPP when the IOMMU type is not supported (both mean: skip); any
 * other -errno is a failure, reported in @what.
 */
int vfio_p2p_ctx_open(struct vfio_p2p_ctx *c, int iommu_type, const char **what);
void vfio_p2p_ctx_close(struct vfio_p2p_ctx *c);
/* An empty context (no fd, no mapping) that vfio_p2p_ctx_close() accepts. */
void vfio_p2p_ctx_init(struct vfio_p2p_ctx *c);
/*
 * vfio_p2p_ctx_open(), retried while a group is busy (EBUSY: another process
 * still holds it, such as one of an earlier test that is still exiting), for
 * at most @wait_s seconds.  Still busy then, it names on stderr each process
 * that holds a vfio group or device fd, with its state and wait channel,
 * and returns -EBUSY.
 */
int vfio_p2p_ctx_open_wait(struct vfio_p2p_ctx *c, int iommu_type, const char **what,
			   int wait_s);
/*
 * vfio_p2p_ctx_open_wait() without the peer: the container, edu and the
 * RAM only; c->shm stays closed and c->bar2 empty.  For tests whose peer
 * is another device, such as the mdevs of the mslice sample.
 */
int vfio_p2p_ctx_open_edu_wait(struct vfio_p2p_ctx *c, int iommu_type,
			       const char **what, int wait_s);

/* Fill RAM with @seed's pattern, then RAM -> edu -> @iova.  0 or -errno. */
int vfio_p2p_ram_to_iova(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len,
			 uint32_t seed);
/* Zero RAM, then @iova -> edu -> RAM.  0 or -errno. */
int vfio_p2p_iova_to_ram(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len);

#endif /* VFIO_P2P_CTX_H */
