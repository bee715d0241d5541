/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio P2P for IOMMU backends: recognizing a vfio device mmap, listening to
 * the device's events, and mapping its memory for P2P DMA no longer than it
 * is usable, through the tracker (drivers/vfio/p2p_track.c).  Bus drivers
 * use <linux/vfio_p2p.h>.  The model is in
 * Documentation/driver-api/vfio-p2p.rst; the lock order is on struct
 * vfio_device_p2p in <linux/vfio_p2p.h>.
 */
#ifndef _LINUX_VFIO_P2P_IOMMU_H
#define _LINUX_VFIO_P2P_IOMMU_H

#include <linux/err.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/types.h>

struct module;
struct notifier_block;
struct vfio_device;
struct vfio_p2p_peer;

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
 * vfio_vma_permits() - whether a VMA lets a device access it as @prot asks
 * @vma: the VMA of the user range being mapped for DMA
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 *
 * The check a CPU fault would make, for ranges mapped without one: device
 * writes need VM_WRITE, device reads need some access (not PROT_NONE).
 *
 * Return: true if the mapping may be made with @prot.
 */
static inline bool vfio_vma_permits(struct vm_area_struct *vma, int prot)
{
	if ((prot & IOMMU_WRITE) && !(vma->vm_flags & VM_WRITE))
		return false;
	return !(prot & IOMMU_READ) || vma_is_accessible(vma);
}

/**
 * vfio_pfn_is_device() - whether a pfn is memory the kernel does not manage
 * @pfn: a pfn found behind a user address
 *
 * Device memory (a BAR) has no struct page, or a reserved one: nothing to
 * pin or to account, and nothing the page allocator can hand out again.
 * The one test of that: type1 asks it of every pfn it pins or puts, and
 * the tracker of the ends of a run it is given.  A driver that reserves a
 * compound page reserves each of its pages, so a pfn stands for its page.
 *
 * Return: true for such a pfn, false for a page of RAM.
 */
static inline bool vfio_pfn_is_device(unsigned long pfn)
{
	return !pfn_valid(pfn) || PageReserved(pfn_to_page(pfn));
}

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
 * @keep_peers: the backend calls vfio_p2p_space_fini() before it frees the
 *	space, so the tracker may keep a peer (registered on its device's
 *	notifier, holding its device reference) after its last link goes,
 *	until the device's RELEASE or vfio_p2p_space_fini(): the next map of
 *	the same device then reuses it.  Without it a peer goes with its last
 *	link.
 */
struct vfio_p2p_space_ops {
	int (*map)(struct vfio_p2p_space *space, dma_addr_t iova,
		   unsigned long pfn, unsigned long npages, int prot);
	void (*unmap)(struct vfio_p2p_space *space, dma_addr_t iova,
		      unsigned long npages);
	void (*sync)(struct vfio_p2p_space *space);
	bool keep_peers;
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
 * A backend initializes it with vfio_p2p_space_init(), takes @lock around
 * changes to its set of domains, and, if its ops keep_peers, calls
 * vfio_p2p_space_fini() before it frees it; everything else is the
 * tracker's.
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

/**
 * struct vfio_p2p_tracker - the tracker's calls, for a backend vfio links to
 * @owner: the module the calls live in (vfio.ko); a backend holds a
 *	reference on it while it calls them, and for as long as it has a space
 *	set up with @space_init
 * @vma_check: vfio_vma_p2p_check()
 * @space_init: vfio_p2p_space_init()
 * @space_fini: vfio_p2p_space_fini()
 * @map: vfio_p2p_map()
 * @unmap_links: vfio_p2p_unmap_links()
 * @range_live: vfio_p2p_range_live()
 * @space_retry: vfio_p2p_space_retry()
 * @map_live_links: vfio_p2p_map_live_links()
 * @unmap_live_links: vfio_p2p_unmap_live_links()
 *
 * iommufd cannot call the tracker directly: vfio.ko already links against
 * iommufd.ko, so the reverse would be a module cycle.  vfio hands iommufd
 * this table instead, with iommufd_p2p_register() when it loads and
 * iommufd_p2p_unregister() before it goes (drivers/vfio/p2p_iommufd.c).
 */
struct vfio_p2p_tracker {
	struct module *owner;
	int (*vma_check)(struct vm_area_struct *vma);
	void (*space_init)(struct vfio_p2p_space *space,
			   const struct vfio_p2p_space_ops *ops,
			   unsigned int max_links);
	void (*space_fini)(struct vfio_p2p_space *space);
	long (*map)(struct vfio_p2p_space *space, struct vm_area_struct *vma,
		    unsigned long vaddr, dma_addr_t iova, unsigned long npages,
		    int prot, struct list_head *owner);
	void (*unmap_links)(struct vfio_p2p_space *space,
			    struct list_head *owner);
	bool (*range_live)(struct vfio_p2p_space *space,
			   struct list_head *owner, dma_addr_t iova,
			   size_t len);
	void (*space_retry)(struct vfio_p2p_space *space);
	int (*map_live_links)(struct vfio_p2p_space *space,
			      int (*map)(void *arg, dma_addr_t iova,
					 unsigned long pfn,
					 unsigned long npages, int prot),
			      void (*unmap)(void *arg, dma_addr_t iova,
					    unsigned long npages),
			      void *arg);
	void (*unmap_live_links)(struct vfio_p2p_space *space,
				 void (*unmap)(void *arg, dma_addr_t iova,
					       unsigned long npages),
				 void *arg);
};

#if IS_ENABLED(CONFIG_IOMMUFD) && IS_ENABLED(CONFIG_VFIO_P2P)
void iommufd_p2p_register(const struct vfio_p2p_tracker *tracker);
void iommufd_p2p_unregister(const struct vfio_p2p_tracker *tracker);
#endif

#if IS_ENABLED(CONFIG_VFIO_P2P)
struct vfio_device *vfio_device_get_from_vma(struct vm_area_struct *vma);
void vfio_device_put_from_vma(struct vfio_device *device);
int vfio_vma_p2p_check(struct vm_area_struct *vma);
int vfio_device_register_notifier(struct vfio_device *device,
				  struct notifier_block *nb);
void vfio_device_unregister_notifier(struct vfio_device *device,
				     struct notifier_block *nb);

void vfio_p2p_space_init(struct vfio_p2p_space *space,
			 const struct vfio_p2p_space_ops *ops,
			 unsigned int max_links);
void vfio_p2p_space_fini(struct vfio_p2p_space *space);
long vfio_p2p_map(struct vfio_p2p_space *space, struct vm_area_struct *vma,
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
void vfio_p2p_unmap_live_links(struct vfio_p2p_space *space,
			       void (*unmap)(void *arg, dma_addr_t iova,
					     unsigned long npages),
			       void *arg);

#else
/*
 * Without CONFIG_VFIO_P2P no VMA is a P2P-capable vfio device mmap: a
 * backend maps none through the tracker and keeps its own ways for the
 * rest.  The space still has its lock, which a backend takes around
 * changes to its domains.
 */
static inline struct vfio_device *
vfio_device_get_from_vma(struct vm_area_struct *vma)
{
	return ERR_PTR(-ENODEV);
}

static inline void vfio_device_put_from_vma(struct vfio_device *device)
{
}

static inline int vfio_vma_p2p_check(struct vm_area_struct *vma)
{
	return -ENODEV;
}

static inline int vfio_device_register_notifier(struct vfio_device *device,
						struct notifier_block *nb)
{
	return -EOPNOTSUPP;
}

static inline void
vfio_device_unregister_notifier(struct vfio_device *device,
				struct notifier_block *nb)
{
}

static inline void vfio_p2p_space_init(struct vfio_p2p_space *space,
				       const struct vfio_p2p_space_ops *ops,
				       unsigned int max_links)
{
	mutex_init(&space->lock);
}

static inline void vfio_p2p_space_fini(struct vfio_p2p_space *space)
{
}

static inline long vfio_p2p_map(struct vfio_p2p_space *space,
				struct vm_area_struct *vma, unsigned long vaddr,
				dma_addr_t iova, unsigned long npages,
				int prot, struct list_head *owner)
{
	mmap_read_unlock(vma->vm_mm);
	return 0;
}

static inline void vfio_p2p_unmap_links(struct vfio_p2p_space *space,
					struct list_head *owner)
{
}

static inline bool vfio_p2p_range_live(struct vfio_p2p_space *space,
				       struct list_head *owner,
				       dma_addr_t iova, size_t len)
{
	return true;
}

static inline void vfio_p2p_space_retry(struct vfio_p2p_space *space)
{
}

static inline int
vfio_p2p_map_live_links(struct vfio_p2p_space *space,
			int (*map)(void *arg, dma_addr_t iova,
				   unsigned long pfn, unsigned long npages,
				   int prot),
			void (*unmap)(void *arg, dma_addr_t iova,
				      unsigned long npages),
			void *arg)
{
	return 0;
}

static inline void
vfio_p2p_unmap_live_links(struct vfio_p2p_space *space,
			  void (*unmap)(void *arg, dma_addr_t iova,
					unsigned long npages),
			  void *arg)
{
}
#endif /* CONFIG_VFIO_P2P */

#endif /* _LINUX_VFIO_P2P_IOMMU_H */
