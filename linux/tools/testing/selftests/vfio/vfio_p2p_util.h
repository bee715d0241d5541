/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the vfio-p2p selftests and the demo.
 *
 * The rig's guest has two assignable PCI devices behind an emulated Intel
 * IOMMU, both bound to vfio-pci:
 *
 *  - QEMU's "edu" device (1234:11e8), whose DMA engine copies between a 4 KiB
 *    internal buffer at device address 0x40000 and any bus address.  Through
 *    vfio, that bus address is an IOVA of the container: the engine is how a
 *    test makes a device do DMA to whatever type1 mapped.
 *  - ivshmem-plain (1af4:1110), whose BAR2 is host memory shared with a file
 *    on the host.  Its BAR2 mmap is the peer BAR that P2P DMA targets; what
 *    lands in it can be read back in the guest through the mmap and on the
 *    host in the backing file.
 *
 * A test opens both devices' groups into one type1 container, maps anonymous
 * memory and the BAR2 mmap at IOVAs of its choosing, and moves bytes through
 * the edu buffer: RAM -> edu -> BAR and BAR -> edu -> RAM.
 */
#ifndef VFIO_P2P_UTIL_H
#define VFIO_P2P_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110

#define EDU_BUF_ADDR		0x40000ULL
/* QEMU 7.2 kills itself on a full 4096-byte transfer (off by one). */
#define EDU_DMA_MAX		4095U

#define IVSHMEM_BAR		2

struct vfio_p2p_dev {
	char bdf[40];		/* PCI address, or an mdev's UUID (cdev mode) */
	int group_id;
	int group_fd;		/* -1 in the iommufd mode (cdev) */
	int fd;
	int iommufd;		/* the iommufd mode: bound to it, else -1 */
	uint32_t ioas;		/* the iommufd mode: attached to it */
	uint32_t devid;		/* the iommufd mode: its iommufd device id */
};

struct vfio_p2p_region {
	void *map;		/* mmap of the region, or NULL */
	uint64_t size;
	uint64_t offset;	/* offset of the region in the device fd */
	uint32_t flags;
};

/* Find the nth (from 0) PCI function with this id that is bound to vfio-pci. */
int vfio_p2p_find(uint16_t vendor, uint16_t device, int nth, char *bdf, size_t len);

/* Open /dev/vfio/vfio; returns the fd or -errno. */
int vfio_p2p_container_open(void);

/*
 * Open the device's group, add it to @container and, when @iommu_type is not
 * zero, set the container's IOMMU type.  Then get the device fd.
 */
int vfio_p2p_dev_open(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type);
void vfio_p2p_dev_close(struct vfio_p2p_dev *dev);
/* Get a new device fd after the last one closed (a new session): fd or -errno. */
int vfio_p2p_dev_reopen(struct vfio_p2p_dev *dev);

/*
 * A container of @iommu_type for vfio_p2p_dev_join(): /dev/vfio/vfio (its
 * type is set as its first group joins) or, for VFIO_P2P_IOMMUFD, an
 * iommufd with an IOAS of its own.  fd or -errno; vfio_p2p_container_close()
 * closes either.
 */
int vfio_p2p_container_open_mode(int iommu_type);
void vfio_p2p_container_close(int container);
/*
 * Open @bdf into @container in its mode: vfio_p2p_dev_open() (@iommu_type
 * for the first group of a type1 container, else 0), or when @container is
 * an iommufd, vfio_p2p_cdev_open() attached to its IOAS.
 */
int vfio_p2p_dev_join(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type);

int vfio_p2p_region_info(struct vfio_p2p_dev *dev, int index,
			 struct vfio_p2p_region *region);
/* mmap @len bytes of a region at @offset in it; MAP_FAILED on error. */
void *vfio_p2p_region_mmap(struct vfio_p2p_dev *dev, struct vfio_p2p_region *region,
			   uint64_t offset, size_t len, int prot);

/* Read-modify-write the PCI command register through the config region. */
int vfio_p2p_pci_command(struct vfio_p2p_dev *dev, uint16_t set, uint16_t clear);

/*
 * VFIO_IOMMU_MAP_DMA, or in the iommufd mode (@container is the iommufd)
 * IOMMU_IOAS_MAP at @iova.
 */
int vfio_p2p_map(int container, void *vaddr, uint64_t iova, uint64_t size,
		 uint32_t flags);
/* Returns the unmapped size, or -errno; IOMMU_IOAS_UNMAP in the iommufd mode. */
int64_t vfio_p2p_unmap(int container, uint64_t iova, uint64_t size, uint32_t flags);

/*
 * The edu DMA engine.  Both calls start a transfer, wait for it to finish
 * (the engine clears its busy bit) and return 0, or -ETIMEDOUT.
 */
int edu_dma_from_iova(void *edu_bar0, uint64_t iova, uint32_t len);
int edu_dma_to_iova(void *edu_bar0, uint64_t iova, uint32_t len);
/*
 * The same, in two steps: start a transfer of the edu buffer to @iova (the
 * engine performs it 100 ms of QEMU's virtual clock later), then wait for it.
 */
int edu_dma_to_iova_start(void *edu_bar0, uint64_t iova, uint32_t len);
/* Copy @len bytes from @buf_off in the edu buffer to @iova: 0 or -errno. */
int edu_dma_buf_to_iova(void *edu_bar0, uint32_t buf_off, uint64_t iova,
			uint32_t len);
int edu_dma_wait(void *edu_bar0);
/* The edu liveness register: reads back the bitwise NOT of what was written. */
bool edu_alive(void *edu_bar0);

/* A byte pattern that depends on @seed, so stale memory cannot pass for it. */
void vfio_p2p_fill(void *buf, size_t len, uint32_t seed);
/* Index of the first byte that differs from the pattern, or -1 if none. */
long vfio_p2p_check(const void *buf, size_t len, uint32_t seed);
uint32_t vfio_p2p_seed(void);
/* Read one byte of every page, so that each is faulted in. */
void vfio_p2p_touch(const void *buf, size_t len);
uint64_t vfio_p2p_fnv1a64(const void *buf, size_t len);

/*
 * Tell the rig what a BAR must hold at the end of the run: after power-off it
 * compares @len bytes at @offset of the device's host backing file with the
 * hash of the pattern.  The last line for an offset wins.
 */
void vfio_p2p_host_expect(const char *bdf, uint64_t offset, size_t len,
			  uint32_t seed);
/* The same for arbitrary bytes. */
void vfio_p2p_host_expect_bytes(const char *bdf, uint64_t offset,
				const void *buf, size_t len);

/*
 * The usual test setup: edu and the first ivshmem in one container of
 * @iommu_type (or VFIO_P2P_IOMMUFD: both attached to one IOAS), edu's
 * registers mmapped with bus mastering on, BAR2's region
 * info, and VFIO_P2P_RAM_SIZE bytes of anonymous memory mapped read/write
 * at VFIO_P2P_IOVA_RAM.
 */
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
 * vfio_p2p_dev_join(), waiting as vfio_p2p_ctx_open_wait() does: a group
 * or cdev another process still holds.
 */
int vfio_p2p_dev_open_wait(struct vfio_p2p_dev *dev, const char *bdf, int container,
			   int iommu_type, int wait_s);
/* Print on stderr every process holding a vfio group or device fd (or cdev). */
void vfio_p2p_report_holders(void);

/* Read a sysfs file into @buf (NUL-terminated), or write @val to one: 0 or -errno. */
int vfio_p2p_sysfs_read(const char *path, char *buf, size_t len);
int vfio_p2p_sysfs_write(const char *path, const char *val);

/* Fill RAM with @seed's pattern, then RAM -> edu -> @iova.  0 or -errno. */
int vfio_p2p_ram_to_iova(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len,
			 uint32_t seed);
/* Zero RAM, then @iova -> edu -> RAM.  0 or -errno. */
int vfio_p2p_iova_to_ram(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len);

/*
 * The kernel log: open /dev/kmsg positioned at its end, then wait up to
 * @timeout_ms for a new record containing @needle.
 */
int vfio_p2p_kmsg_open(void);
bool vfio_p2p_kmsg_wait(int fd, const char *needle, int timeout_ms);

/* Set by the rig (make check BREAK=1) to prove that a wrong result fails. */
bool vfio_p2p_break_requested(void);

#endif /* VFIO_P2P_UTIL_H */
