/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio P2P: what a vfio device VMA maps, and how long it stays valid.
 *
 * Bus drivers and IOMMU backends include this through <linux/vfio.h>.
 * drivers/vfio/p2p_vma.c and drivers/vfio/p2p_notify.c hold the model;
 * the short version:
 *
 * - vfio core owns vm_private_data of every VMA of a vfio device fd.  A bus
 *   driver's .mmap says where the mapping's memory starts with
 *   vfio_vma_set_base_pfn(), or implements vfio_device_ops.vma_to_pfn when
 *   it knows only at run time, and keeps its own pointer with
 *   vfio_vma_set_driver_data().  A driver that does neither is not
 *   P2P-capable.
 * - An IOMMU backend classifies a VMA with vfio_vma_p2p_check() and maps
 *   it through the P2P tracker, vfio_p2p_map(), which resolves a whole
 *   contiguous run in one call and listens on the device's notifier:
 *   RELEASE, DISABLE and ENABLE say when those pfns stop and start being
 *   usable.  A pfn is valid only under the tracker's lock (p2p_notify.c),
 *   so vfio core does not hand pfns to modules.
 * - The rule that must never break: no IOMMU mapping outlives the BAR it
 *   points at.
 */
#ifndef _LINUX_VFIO_P2P_H
#define _LINUX_VFIO_P2P_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/rwsem.h>
#include <linux/types.h>

struct mm_struct;
struct module;
struct vfio_device;
struct vfio_p2p_peer;
struct vm_area_struct;

/**
 * enum vfio_device_event - what a device notifier tells its listeners
 * @VFIO_DEVICE_EVENT_RELEASE: the device's last user is closing it (which is
 *	also how unbind and unregister end).  Delivered before the driver's
 *	close_device, so before the BARs can be released or handed to anyone
 *	else.  Drop every mapping of the device.
 * @VFIO_DEVICE_EVENT_DISABLE: the device memory is about to become unusable
 *	(memory decode off, reset, low-power state).  Delivered before the
 *	driver zaps its mmaps and before the hardware changes state.  Revoke
 *	every mapping of the device memory.
 * @VFIO_DEVICE_EVENT_ENABLE: the device memory is usable again, at the same
 *	addresses.  Mappings revoked on DISABLE may be restored.
 *
 * The notifier's data argument is the &struct vfio_device.
 */
enum vfio_device_event {
	VFIO_DEVICE_EVENT_RELEASE,
	VFIO_DEVICE_EVENT_DISABLE,
	VFIO_DEVICE_EVENT_ENABLE,
};

/*
 * Per-device P2P state, embedded in struct vfio_device.
 *
 * @event_lock serializes event delivery: listeners see DISABLE and ENABLE
 * alternate, never interleaved, and RELEASE never overlaps either.
 * @mem_disabled is written under @event_lock, before DISABLE is delivered
 * and before ENABLE is delivered; vfio_vma_to_pfn() reads it locklessly (see
 * "Locking" in p2p_notify.c for why that is enough).
 * @owner is the module of the driver the device was made by, written at
 * each mmap (always the same value) and pinned by vfio_device_get_from_vma().
 */
struct vfio_device_p2p {
	struct blocking_notifier_head notifier;
	struct mutex event_lock;	/* serializes events, guards mem_disabled */
	bool mem_disabled;
	struct rw_semaphore *mem_lock;	/* the driver's, set before register */
	struct module *owner;		/* see p2p_vma.c */
};

/* For bus drivers, in their .mmap (and fault handlers for the data). */
void vfio_vma_set_base_pfn(struct vm_area_struct *vma, unsigned long pfn);
void vfio_vma_set_driver_data(struct vm_area_struct *vma, void *data);
void *vfio_vma_driver_data(struct vm_area_struct *vma);

/* For IOMMU backends. */
struct vfio_device *vfio_device_get_from_vma(struct vm_area_struct *vma);
void vfio_device_put_from_vma(struct vfio_device *device);
int vfio_vma_p2p_check(struct vm_area_struct *vma);
int vfio_device_register_notifier(struct vfio_device *device,
				  struct notifier_block *nb);
void vfio_device_unregister_notifier(struct vfio_device *device,
				     struct notifier_block *nb);

/*
 * For bus drivers, where device memory stops or starts being usable: see
 * the kernel-doc of vfio_device_mem_update() in p2p_notify.c.  A driver
 * that makes its mmaps P2P-capable must call it, with @usable false before
 * and true after, around every path that takes the memory away while the
 * device is open: what each in-tree driver covers, and what it cannot,
 *
 * - vfio-pci: memory decode off, D3 and runtime low power, every reset it
 *   does (VFIO_DEVICE_RESET, FLR through config space, hot reset), and the
 *   resets the PCI core does behind its back through reset_prepare and
 *   reset_done (the sysfs reset attribute, a bus or slot reset asked for
 *   by AER recovery or another driver).  Not covered, as nothing can be
 *   told first: a reset or link loss the hardware does by itself (DPC
 *   containment, surprise removal, a fatal error that already made the
 *   BARs unreachable before AER recovery starts).
 * - vfio-platform, vfio-cdx: VFIO_DEVICE_RESET.
 * - vfio-fsl-mc: VFIO_DEVICE_RESET, and a DPRC's reset (ioctl or close)
 *   for every object of its container.
 * - mdev drivers: their emulated decode and reset, and the parent's own
 *   reset for every mdev on it (samples/vfio-mdev/mslice.c).
 * The resets in open_device and close_device need nothing: no mapping of
 * the device exists then.  Drivers with paths they cannot cover must not
 * opt in (i915's kvmgt does not).
 */
void vfio_device_mem_update(struct vfio_device *device, bool usable);
void vfio_device_set_mem_lock(struct vfio_device *device,
			      struct rw_semaphore *lock);

/*
 * P2P mapping lifetime for IOMMU backends (drivers/vfio/p2p_track.c).  A
 * backend embeds one space per IOMMU context; the tracker maps device
 * memory through the space's ops, records each mapped run as a link, and
 * revokes, restores and drops links as the devices' notifiers say.
 */
struct vfio_p2p_space;

/**
 * struct vfio_p2p_space_ops - how a backend maps a run in its IOMMU context
 * @map: map @npages pfns from @pfn at @iova with @prot in every domain of
 *	the space; all or nothing.  Called with the space lock held.
 * @unmap: unmap @npages at @iova from every domain, gathering the IOTLB
 *	invalidation for @sync.  Space lock held.
 * @sync: sync every domain's IOTLB for the unmaps since the last sync.
 *	The tracker calls it once after each batch of @unmap calls, before it
 *	drops the space lock.
 */
struct vfio_p2p_space_ops {
	int (*map)(struct vfio_p2p_space *space, dma_addr_t iova,
		   unsigned long pfn, unsigned long npages, int prot);
	void (*unmap)(struct vfio_p2p_space *space, dma_addr_t iova,
		      unsigned long npages);
	void (*sync)(struct vfio_p2p_space *space);
};

/* See p2p_track.c; a backend only initializes it and takes the lock. */
struct vfio_p2p_space {
	struct mutex lock;		/* the listener lock: links, peers, ops */
	struct list_head peers;		/* under lock */
	const struct vfio_p2p_space_ops *ops;
	unsigned int max_links;		/* fixed at init */
	unsigned int nr_links;		/* under lock */
	bool restore_pending;		/* under lock, read without it */
};

/**
 * struct vfio_p2p_link - one run of device pfns a backend maps
 * @iova: where it starts in the IOMMU address space
 * @npages: how many pages
 * @owner_node: on the backend's list for the object that owns the range
 *
 * The backend reads @iova and @npages (fixed for the link's life) and keeps
 * the link on an owner list; everything else is the tracker's.
 */
struct vfio_p2p_link {
	dma_addr_t iova;
	unsigned long npages;
	struct list_head owner_node;
	/* private: to p2p_track.c */
	unsigned long pfn;
	int prot;
	int state;
	struct vfio_p2p_peer *peer;
	struct list_head peer_node;
};

void vfio_p2p_space_init(struct vfio_p2p_space *space,
			 const struct vfio_p2p_space_ops *ops,
			 unsigned int max_links);
long vfio_p2p_map(struct vfio_p2p_space *space, struct mm_struct *mm,
		  unsigned long vaddr, dma_addr_t iova, unsigned long npages,
		  int prot, struct list_head *owner);
void vfio_p2p_unmap_links(struct vfio_p2p_space *space, struct list_head *owner);
bool vfio_p2p_range_live(struct vfio_p2p_space *space, struct list_head *owner,
			 dma_addr_t iova, size_t len);
void vfio_p2p_space_retry(struct vfio_p2p_space *space);
int vfio_p2p_map_live_links(struct vfio_p2p_space *space,
			    int (*map)(void *arg, dma_addr_t iova,
				       unsigned long pfn, unsigned long npages,
				       int prot),
			    void (*unmap)(void *arg, dma_addr_t iova,
					  unsigned long npages),
			    void *arg);

#endif /* _LINUX_VFIO_P2P_H */
