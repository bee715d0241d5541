/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio P2P: the interface for bus drivers (which pfns a device mmap shows,
 * when its memory stops and starts being usable) and for IOMMU backends
 * (mapping that memory for P2P DMA, no longer than it is usable).
 * Included through <linux/vfio.h>.  The model, its terms and its rule (no
 * IOMMU mapping outlives the BAR it points at) are in
 * Documentation/driver-api/vfio-p2p.rst; the lock order is on struct
 * vfio_device_p2p below.
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

/**
 * struct vfio_device_p2p - a device's P2P state, in &struct vfio_device
 * @notifier: the device notifier; its rwsem is held around callbacks
 * @event_lock: serializes the device's events: listeners see DISABLE and
 *	ENABLE alternate, and RELEASE overlaps neither
 * @mem_disabled: the memory is disabled; written under @event_lock before
 *	DISABLE and before ENABLE go out, read without it by lookups (see
 *	"Looking up a pfn safely" in Documentation/driver-api/vfio-p2p.rst)
 * @mem_lock: the driver's memory lock (vfio-pci: memory_lock), or NULL;
 *	set with vfio_device_set_mem_lock() before the device is registered
 * @owner: the module of the device's driver; written at each mmap (always
 *	the same value), pinned by vfio_device_get_from_vma()
 *
 * The lock order of vfio P2P, outermost first::
 *
 *   dev_set->lock
 *     -> the IOMMU backend's lock (type1: iommu->lock)
 *       -> mmap_lock
 *         -> @mem_lock
 *           -> @event_lock
 *             -> @notifier's rwsem
 *               -> the listener lock (vfio_p2p_space.lock)
 *                 -> the IOMMU driver's locks
 *
 * dev_set->lock is held by last close (RELEASE) and by resets, and a
 * driver's close_device may unpin pages, which takes the backend's lock.
 * The backend looks up user memory under its lock (mmap_lock).  A CPU
 * fault, and a lookup of the device's pfns, take @mem_lock for read under
 * mmap_lock.  The driver sends DISABLE and ENABLE with @mem_lock held for
 * write, and every event under @event_lock and the chain's rwsem; the
 * callback takes the listener lock.  The backend also takes the listener
 * lock, under its own, to change the set of IOMMU domains the listener's
 * callbacks walk.  Nothing takes a lock of this list while holding one
 * below it: a callback takes neither mmap_lock nor the backend's lock,
 * nobody registers or unregisters a listener under the listener lock, and
 * no device reference is dropped under the backend's or the listener lock
 * (the last put runs the driver's release, which takes dev_set->lock).
 */
struct vfio_device_p2p {
	struct blocking_notifier_head notifier;
	struct mutex event_lock;	/* see the lock order above */
	bool mem_disabled;		/* written under event_lock */
	struct rw_semaphore *mem_lock;	/* set before register */
	struct module *owner;		/* written at mmap, same value */
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
 * For bus drivers, where device memory stops or starts being usable.  A
 * driver that makes its mmaps P2P-capable calls vfio_device_mem_update()
 * around every path that takes the memory away while the device is open;
 * which paths each in-tree driver covers, and what none can, is in "The
 * events" of Documentation/driver-api/vfio-p2p.rst.
 */
void vfio_device_mem_update(struct vfio_device *device, bool usable);
void vfio_device_set_mem_lock(struct vfio_device *device,
			      struct rw_semaphore *lock);

/*
 * P2P mapping lifetime for IOMMU backends (drivers/vfio/p2p_track.c): a
 * backend embeds one space per IOMMU context, and the tracker maps device
 * memory through the space's ops as links that follow the devices' events.
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

/**
 * struct vfio_p2p_space - a backend's IOMMU context, as the tracker sees it
 * @lock: the listener lock of struct vfio_device_p2p's lock order; guards
 *	the peers, their links and every link's state, and the set of IOMMU
 *	domains the backend's @ops map into (the backend takes it to change
 *	that set)
 * @peers: the peers whose memory the space maps; under @lock
 * @ops: how the backend maps and unmaps a run; fixed at init
 * @max_links: at most this many links at once; fixed at init
 * @nr_links: the links the space has; under @lock
 * @restore_pending: an ENABLE could not restore a link; written under
 *	@lock, read without it by vfio_p2p_space_retry()
 *
 * A backend only initializes it with vfio_p2p_space_init() and takes @lock
 * around changes to its set of domains; everything else is the tracker's.
 */
struct vfio_p2p_space {
	struct mutex lock;			/* the listener lock */
	struct list_head peers;			/* under lock */
	const struct vfio_p2p_space_ops *ops;	/* fixed */
	unsigned int max_links;			/* fixed */
	unsigned int nr_links;			/* under lock */
	bool restore_pending;			/* written under lock */
};

/**
 * struct vfio_p2p_link - one run of device pfns a backend maps
 * @iova: where it starts in the IOMMU address space
 * @npages: how many pages
 * @owner_node: on the backend's list for the object that owns the range;
 *	the backend keeps that list stable (type1: iommu->lock), and the
 *	tracker adds and removes links under vfio_p2p_space.lock too
 *
 * The backend reads @iova and @npages (fixed for the link's life) and keeps
 * the link on an owner list; everything else is the tracker's.  A link is
 * MAPPED, REVOKED or DEAD: see Documentation/driver-api/vfio-p2p.rst.
 */
struct vfio_p2p_link {
	dma_addr_t iova;			/* fixed */
	unsigned long npages;			/* fixed */
	struct list_head owner_node;
	/* private: to p2p_track.c */
	unsigned long pfn;			/* fixed */
	int prot;				/* fixed */
	int state;				/* space lock */
	struct vfio_p2p_peer *peer;		/* space lock; NULL once DEAD */
	struct list_head peer_node;		/* space lock */
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
