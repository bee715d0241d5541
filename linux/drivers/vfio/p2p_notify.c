// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio device notifier and the state of a device's memory: RELEASE from
 * the last close, DISABLE and ENABLE from the bus driver through
 * vfio_device_mem_update(), each delivered under the device's event lock,
 * and the check a lookup of the device's pfns makes (vfio_device_mem_check()).
 *
 * What the events mean, which driver paths send them and how a listener
 * must order a lookup against them: Documentation/driver-api/vfio-p2p.rst.
 * The lock order: struct vfio_device_p2p in <linux/vfio_p2p.h>.
 */
#include <linux/device.h>
#include <linux/notifier.h>
#include <linux/vfio.h>
#include <linux/vfio_p2p_iommu.h>

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
 * vfio_device_mem_disabled() - whether a device's memory is disabled
 * @device: the device
 *
 * For a driver that must restore the state it reported, after a change it
 * did not start (vfio-pci: a reset by the PCI core).  Call it with the
 * driver's memory lock held for write, under which only the driver's own
 * vfio_device_mem_update() changes the state while the device is open.
 *
 * Return: true if the memory is disabled: the device's last
 * vfio_device_mem_update() since its first open said unusable (the first
 * open starts it usable).
 */
bool vfio_device_mem_disabled(struct vfio_device *device)
{
	return READ_ONCE(device->p2p.mem_disabled);
}
EXPORT_SYMBOL_GPL(vfio_device_mem_disabled);

/**
 * vfio_device_register_notifier() - listen to a device's events
 * @device: the device, for which the caller holds a reference
 * @nb: the listener; nb->notifier_call gets an enum vfio_device_event and
 *	the device
 *
 * What the callback may do: "Lock order" in
 * Documentation/driver-api/vfio-p2p.rst.
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
