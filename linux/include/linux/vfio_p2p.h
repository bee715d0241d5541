/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio P2P for bus drivers: which pfns a device mmap shows, and when the
 * device memory stops and starts being usable.  Included through
 * <linux/vfio.h>; IOMMU backends use <linux/vfio_p2p_iommu.h>.  The model,
 * its terms and its rule (no IOMMU mapping outlives the BAR it points at)
 * are in Documentation/driver-api/vfio-p2p.rst; the lock order is on
 * struct vfio_device_p2p below.
 */
#ifndef _LINUX_VFIO_P2P_H
#define _LINUX_VFIO_P2P_H

#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/rwsem.h>
#include <linux/types.h>

struct module;
struct vfio_device;
struct vm_area_struct;

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
 *     -> the IOMMU backend's locks (type1: iommu->lock; iommufd:
 *        domains_rwsem -> iova_rwsem -> iopt_pages::mutex)
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

#if IS_ENABLED(CONFIG_VFIO_P2P)
/* For bus drivers, in their .mmap (and fault handlers for the data). */
void vfio_vma_set_base_pfn(struct vm_area_struct *vma, unsigned long pfn);
void vfio_vma_set_driver_data(struct vm_area_struct *vma, void *data);
void *vfio_vma_driver_data(struct vm_area_struct *vma);

/*
 * For bus drivers, where device memory stops or starts being usable.  A
 * driver that makes its mmaps P2P-capable calls vfio_device_mem_update()
 * around every path that takes the memory away while the device is open;
 * which paths each in-tree driver covers, and what none can, is in "The
 * events" of Documentation/driver-api/vfio-p2p.rst.
 */
void vfio_device_mem_update(struct vfio_device *device, bool usable);
bool vfio_device_mem_disabled(struct vfio_device *device);
void vfio_device_set_mem_lock(struct vfio_device *device,
			      struct rw_semaphore *lock);
#else
/*
 * Without CONFIG_VFIO_P2P a device mmap is the driver's alone, as it was
 * before vfio P2P: vm_private_data is the driver's, and nobody listens.
 */
static inline void vfio_vma_set_base_pfn(struct vm_area_struct *vma,
					 unsigned long pfn)
{
}

static inline void vfio_vma_set_driver_data(struct vm_area_struct *vma,
					    void *data)
{
	vma->vm_private_data = data;
}

static inline void *vfio_vma_driver_data(struct vm_area_struct *vma)
{
	return vma->vm_private_data;
}

static inline void vfio_device_mem_update(struct vfio_device *device,
					  bool usable)
{
}

static inline bool vfio_device_mem_disabled(struct vfio_device *device)
{
	return false;
}

static inline void vfio_device_set_mem_lock(struct vfio_device *device,
					    struct rw_semaphore *lock)
{
}
#endif /* CONFIG_VFIO_P2P */

#endif /* _LINUX_VFIO_P2P_H */
