// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio device notifier: when the memory behind a device's mmaps stops
 * and starts being usable, told to whoever maps it elsewhere (an IOMMU
 * backend mapping a peer BAR for P2P DMA).
 *
 * The objects
 * -----------
 * Every &struct vfio_device embeds a &struct vfio_device_p2p: a blocking
 * notifier chain, the lock that serializes events, and mem_disabled.
 * Listeners register a notifier_block with vfio_device_register_notifier()
 * and get enum vfio_device_event values, with the device as data.
 *
 * The events, and when they come
 * ------------------------------
 * RELEASE: from vfio_df_device_last_close(), under dev_set->lock, before the
 *	driver's close_device().  Every way a device stops being used ends
 *	here: the last fd closing, and unbind or unregister, which wait for
 *	that.  For vfio-pci it comes while the BARs are still requested and
 *	decoded, so a listener tears its mappings down before the BAR can be
 *	released, reset or assigned to another owner.
 * DISABLE: from the bus driver, through vfio_device_mem_update(dev, false),
 *	before it zaps its mmaps and before the hardware stops decoding.
 *	vfio-pci calls it from vfio_pci_zap_and_down_write_memory_lock(), with
 *	memory_lock held for write: that covers memory decode turned off
 *	through config space, every reset (VFIO_DEVICE_RESET, FLR through
 *	config space, hot reset) and the low-power states (D3 through the PM
 *	capability, runtime PM low-power entry).
 * ENABLE: from the bus driver, through vfio_device_mem_update(dev, true),
 *	once the memory is usable again at the same addresses.  vfio-pci calls
 *	it whenever it drops memory_lock for write, still holding it.
 * DISABLE and ENABLE are edge-triggered: they are delivered only when
 * mem_disabled changes, so listeners see them alternate.  First open starts
 * each session with the memory enabled (the driver's open enables it).
 *
 * Locking
 * -------
 * Lock order, outermost first:
 *   dev_set->lock -> driver memory lock (vfio-pci: memory_lock)
 *     -> p2p.event_lock -> the chain's rwsem -> the listener's own lock
 * and, for a lookup, mmap_lock -> driver memory lock (read), as in a fault.
 * so a listener's callback may take only locks that are never held while
 * waiting for the driver's memory lock: not mmap_lock (the fault handler
 * takes memory_lock under it), and not a lock held across a page fault or
 * across pinning user memory.  Register and unregister must not be called
 * with a lock the callback takes (the chain's rwsem is held around callbacks).
 *
 * mem_disabled is written under event_lock and read without it by
 * vfio_vma_to_pfn() (after waiting for the driver's memory lock, if the
 * driver named it with vfio_device_set_mem_lock(): that is what makes a
 * lookup during a reset wait for its end).  That is enough because of the rule its callers
 * follow: hold, across the lookup and until the mapping is visible to the
 * callback, a lock L the callback takes.  The writer sets mem_disabled
 * before calling the chain, and the callback then takes L.  Either the
 * lookup ran after the callback released L, so the acquire of L orders it
 * after the store and it sees the memory disabled and fails; or it ran
 * before, and the callback finds the new mapping and revokes it.  This is
 * the answer to "a pfn from vma_to_pfn is valid only under the lock": it is
 * valid under the listener's lock, which DISABLE and RELEASE wait for.
 *
 * A listener that cannot hold L across the lookup (it needs mmap_lock, which
 * must not nest inside L) may instead count its DISABLE and RELEASE callbacks
 * under L, read the count under L before the lookup, and make its mapping
 * visible only if, under L again, the count has not moved; otherwise it looks
 * up again.  p2p_track.c does this.
 *
 * The rule
 * --------
 * No IOMMU mapping outlives the BAR it points at: RELEASE and DISABLE are
 * delivered, and return, before the BAR becomes unusable.
 */
#include <linux/device.h>
#include <linux/notifier.h>
#include <linux/vfio.h>

#include "vfio.h"
#include "p2p.h"

void vfio_device_p2p_init(struct vfio_device *device)
{
	BLOCKING_INIT_NOTIFIER_HEAD(&device->p2p.notifier);
	mutex_init(&device->p2p.event_lock);
	device->p2p.mem_disabled = false;
	device->p2p.mem_lock = NULL;
}

/**
 * vfio_device_set_mem_lock() - the lock a driver holds while memory changes
 * @device: the device, before it is registered
 * @lock: held for write by the driver from DISABLE until the memory is
 *	usable again or known to stay off (vfio-pci: memory_lock, across a
 *	reset); taken for read by its CPU fault handler
 *
 * A lookup of the device's memory (vfio_vma_to_pfn()) then waits, as a CPU
 * fault on the mmap does, for a change in progress to end, instead of
 * failing in the middle of a reset: a MAP_DMA during a reset maps once the
 * reset is over, and fails only if the memory stays disabled.
 */
void vfio_device_set_mem_lock(struct vfio_device *device,
			      struct rw_semaphore *lock)
{
	device->p2p.mem_lock = lock;
}
EXPORT_SYMBOL_GPL(vfio_device_set_mem_lock);

/*
 * 0 if the device memory is usable, -EIO if not, -EINTR if a fatal signal
 * came while waiting for the driver's memory lock; mmap_lock held, as a
 * fault holds it, so the lock order is the fault handler's.
 */
int vfio_device_mem_check(struct vfio_device *device)
{
	struct rw_semaphore *lock = device->p2p.mem_lock;
	bool disabled;

	if (lock && down_read_killable(lock))
		return -EINTR;
	disabled = READ_ONCE(device->p2p.mem_disabled);
	if (lock)
		up_read(lock);
	return disabled ? -EIO : 0;
}

/* A new session: the driver's open_device enables the device memory. */
void vfio_device_p2p_first_open(struct vfio_device *device)
{
	mutex_lock(&device->p2p.event_lock);
	WRITE_ONCE(device->p2p.mem_disabled, false);
	mutex_unlock(&device->p2p.event_lock);
}

/* Before the driver's close_device: see RELEASE above. */
void vfio_device_p2p_last_close(struct vfio_device *device)
{
	lockdep_assert_held(&device->dev_set->lock);

	mutex_lock(&device->p2p.event_lock);
	blocking_notifier_call_chain(&device->p2p.notifier,
				     VFIO_DEVICE_EVENT_RELEASE, device);
	mutex_unlock(&device->p2p.event_lock);
}

/**
 * vfio_device_mem_update() - say whether a device's memory is usable
 * @device: the device
 * @usable: false before the memory becomes unusable (the driver has not yet
 *	zapped its mmaps nor changed the hardware); true once it is usable
 *	again
 *
 * Delivers DISABLE or ENABLE to the device's listeners when the state
 * changes, and returns once they have all handled it.  While the memory is
 * disabled, vfio_vma_to_pfn() refuses the device's VMAs.  Called with the
 * driver's memory lock held for write, so that state changes are ordered
 * with the hardware changes they describe.
 */
void vfio_device_mem_update(struct vfio_device *device, bool usable)
{
	mutex_lock(&device->p2p.event_lock);
	if (device->p2p.mem_disabled == !usable)
		goto out;
	WRITE_ONCE(device->p2p.mem_disabled, !usable);
	blocking_notifier_call_chain(&device->p2p.notifier,
				     usable ? VFIO_DEVICE_EVENT_ENABLE :
					      VFIO_DEVICE_EVENT_DISABLE,
				     device);
out:
	mutex_unlock(&device->p2p.event_lock);
}
EXPORT_SYMBOL_GPL(vfio_device_mem_update);

/**
 * vfio_device_register_notifier() - listen to a device's events
 * @device: the device, for which the caller holds a reference
 * @nb: the listener; nb->notifier_call gets an enum vfio_device_event and
 *	the device
 *
 * See "Locking" at the top of p2p_notify.c for what the callback may do.
 *
 * Return: 0, or the notifier chain's error.
 */
int vfio_device_register_notifier(struct vfio_device *device,
				  struct notifier_block *nb)
{
	return blocking_notifier_chain_register(&device->p2p.notifier, nb);
}
EXPORT_SYMBOL_GPL(vfio_device_register_notifier);

/**
 * vfio_device_unregister_notifier() - stop listening to a device's events
 * @device: the device
 * @nb: the listener passed to vfio_device_register_notifier()
 *
 * Waits for a callback in progress to finish.
 */
void vfio_device_unregister_notifier(struct vfio_device *device,
				     struct notifier_block *nb)
{
	blocking_notifier_chain_unregister(&device->p2p.notifier, nb);
}
EXPORT_SYMBOL_GPL(vfio_device_unregister_notifier);
