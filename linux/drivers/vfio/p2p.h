/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio core internals of P2P (p2p_vma.c, p2p_notify.c, p2p_track.c), shared
 * with vfio_main.c's hooks and the KUnit suites.  The model:
 * Documentation/driver-api/vfio-p2p.rst.
 */
#ifndef __VFIO_P2P_H__
#define __VFIO_P2P_H__

#include <linux/mm_types.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/vfio.h>

struct vfio_device;

/**
 * struct vfio_vma_private_data - what vfio core knows of one device mmap
 * @device: the device; a counted reference (get_device()), dropped when the
 *	last VMA sharing this is closed
 * @users: VMAs sharing this: the one mmap() made, plus every VMA split,
 *	forked or moved from it (each got ->open, each will get ->close)
 * @driver_ops: the driver's vm_ops, which core's wrapper forwards to
 * @driver_data: the driver's own pointer (vfio_vma_driver_data())
 * @pgoff: vm_pgoff when the driver's .mmap returned
 * @nr_pages: the size of the mmap() in pages: the extent @base_pfn covers
 * @base_pfn: the pfn backing file offset @pgoff, if @has_pfn
 * @has_pfn: the driver called vfio_vma_set_base_pfn()
 * @node: in core's registry of the private data it made (p2p_vma.c)
 * @rcu: frees it after the registry's readers are done
 *
 * Everything but @users (atomic) and @node (under vfio_vma_privs_lock, read
 * under RCU) is written once, in vfio_device_mmap_vma() and the driver's
 * .mmap, before the VMA is visible, and never changes: readers need no lock
 * beyond the mmap_lock that keeps the VMA itself alive.
 */
struct vfio_vma_private_data {
	struct vfio_device *device;
	refcount_t users;
	const struct vm_operations_struct *driver_ops;
	void *driver_data;
	unsigned long pgoff;
	unsigned long nr_pages;
	unsigned long base_pfn;
	bool has_pfn;
	struct hlist_node node;
	struct rcu_head rcu;
};

#if IS_ENABLED(CONFIG_VFIO_P2P)
int vfio_device_mmap_vma(struct vfio_device *device, struct vm_area_struct *vma);
struct vfio_vma_private_data *vfio_vma_private(struct vm_area_struct *vma);

void vfio_device_p2p_init(struct vfio_device *device);
void vfio_device_p2p_first_open(struct vfio_device *device);
void vfio_device_p2p_last_close(struct vfio_device *device);
int vfio_device_mem_check(struct vfio_device *device);
/* The pfns behind a user address of a vfio VMA: see p2p_vma.c. */
int vfio_vma_to_pfn(struct vm_area_struct *vma, unsigned long addr,
		    unsigned long *pfn, unsigned long *nr_pages);

/* p2p_track.c */
int __init vfio_p2p_init(void);
void vfio_p2p_exit(void);
void vfio_p2p_flush(void);

#else
/* Without CONFIG_VFIO_P2P vfio core leaves a device mmap to its driver. */
static inline int vfio_device_mmap_vma(struct vfio_device *device,
				       struct vm_area_struct *vma)
{
	return device->ops->mmap(device, vma);
}

static inline void vfio_device_p2p_init(struct vfio_device *device)
{
}

static inline void vfio_device_p2p_first_open(struct vfio_device *device)
{
}

static inline void vfio_device_p2p_last_close(struct vfio_device *device)
{
}

static inline int vfio_p2p_init(void)
{
	return 0;
}

static inline void vfio_p2p_exit(void)
{
}
#endif /* CONFIG_VFIO_P2P */

#endif /* __VFIO_P2P_H__ */
