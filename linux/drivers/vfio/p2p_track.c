// SPDX-License-Identifier: GPL-2.0-only
/*
 * P2P mapping lifetime: an IOMMU mapping of a peer device's memory lives no
 * longer than that memory is the peer's and usable.
 *
 * The objects
 * -----------
 * space: one per IOMMU context of a backend (a type1 container).  Its lock
 *	is the listener lock of the device notifier contract (p2p_notify.c).
 *	The backend's ops map and unmap a run in every domain of the context.
 * peer: one per (space, device) that the space maps memory of.  It is
 *	registered on the device's notifier and holds a reference on the
 *	device and on its driver's module, so that it can always unregister.
 * link: one per run of device pfns the space maps: iova, pfn, npages,
 *	prot, and a state: MAPPED, REVOKED (DISABLE unmapped it, ENABLE will
 *	map it again) or DEAD (the peer was released; it is never mapped
 *	again).  A link is on its peer's list and on an owner list of the
 *	backend (type1: the vfio_dma whose range it is part of), which keeps
 *	the range reserved until the user unmaps it.
 *
 * Who holds whom
 * --------------
 *   backend owner --owner list--> link --peer--> peer --device--> device
 *   space --peers--> peer (until the peer is released or has no users)
 * peer->users counts its links plus vfio_p2p_map() calls in progress.  The
 * peer is torn down (notifier unregistered, references dropped) when users
 * reaches zero, by whoever drops it, never from inside a notifier callback
 * (unregistering there would deadlock on the chain): a RELEASE that drops
 * the last user hands the teardown to a work item.
 *
 * Locking
 * -------
 * space->lock guards the peers list, every peer's links, users, seq,
 * released and dying, and every link's state and peer; the backend holds it
 * while it changes the set of domains its ops map into, so a callback
 * always sees a stable set.  Lock order (see p2p_notify.c): the backend's
 * own lock (type1: iommu->lock) -> mmap_lock, and separately, driver memory
 * lock -> event_lock -> chain rwsem -> space->lock.  So nothing here takes
 * mmap_lock or registers a notifier with space->lock held.
 *
 * vfio_p2p_map() cannot hold space->lock across the lookup, which needs
 * mmap_lock.  It reads peer->seq, which DISABLE and RELEASE bump under
 * space->lock, before the lookup, and maps and records the link only if seq
 * is unchanged under space->lock: either the event came first and the lookup
 * saw the memory disabled (vfio_vma_to_pfn() refuses) or the lookup is
 * retried, or the event comes after and finds the link.  peer->space is
 * written only by the peer's own RELEASE callback, so later callbacks of the
 * same device (serialized by its event_lock) read it without a lock.
 *
 * The rule
 * --------
 * No IOMMU mapping outlives the BAR it points at: DISABLE and RELEASE
 * unmap every link of the peer before they return, which is before the
 * device memory goes away.
 */
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>

#include "p2p.h"

enum { LINK_MAPPED, LINK_REVOKED, LINK_DEAD };

struct vfio_p2p_peer {
	struct vfio_p2p_space *space;	/* NULL once released, see above */
	struct vfio_device *device;	/* counted */
	struct module *owner;		/* the device driver's, counted */
	struct notifier_block nb;
	struct list_head space_node;	/* on space->peers */
	struct list_head links;
	unsigned int users;
	unsigned int seq;
	bool released;			/* RELEASE came: off space->peers */
	bool dying;			/* no users: off space->peers */
	struct work_struct teardown_work;
};

/**
 * vfio_p2p_space_init() - set up a backend's P2P space
 * @space: the space, embedded in the backend's IOMMU context
 * @ops: how the backend maps and unmaps a run in all its domains
 */
void vfio_p2p_space_init(struct vfio_p2p_space *space,
			 const struct vfio_p2p_space_ops *ops)
{
	mutex_init(&space->lock);
	INIT_LIST_HEAD(&space->peers);
	space->ops = ops;
}
EXPORT_SYMBOL_GPL(vfio_p2p_space_init);

static void peer_teardown(struct vfio_p2p_peer *peer)
{
	vfio_device_unregister_notifier(peer->device, &peer->nb);
	put_device(&peer->device->device);
	module_put(peer->owner);
	kfree(peer);
}

static void peer_teardown_work(struct work_struct *work)
{
	peer_teardown(container_of(work, struct vfio_p2p_peer, teardown_work));
}

/* Drop a user, space->lock held; true if the caller must tear it down. */
static bool peer_unuse(struct vfio_p2p_peer *peer)
{
	if (--peer->users)
		return false;
	if (!peer->released) {
		list_del(&peer->space_node);
		peer->dying = true;
	}
	return true;
}

static void unmap_link(struct vfio_p2p_space *space, struct vfio_p2p_link *link)
{
	if (link->state == LINK_MAPPED)
		space->ops->unmap(space, link->iova, link->npages);
}

static int peer_event(struct notifier_block *nb, unsigned long event, void *data)
{
	struct vfio_p2p_peer *peer = container_of(nb, struct vfio_p2p_peer, nb);
	struct vfio_p2p_space *space = peer->space;
	struct vfio_p2p_link *link, *tmp;
	bool teardown = false;

	if (!space)
		return NOTIFY_DONE;
	mutex_lock(&space->lock);
	if (peer->dying)
		goto out;
	switch (event) {
	case VFIO_DEVICE_EVENT_DISABLE:
		peer->seq++;
		list_for_each_entry(link, &peer->links, peer_node) {
			unmap_link(space, link);
			link->state = LINK_REVOKED;
		}
		break;
	case VFIO_DEVICE_EVENT_ENABLE:
		list_for_each_entry(link, &peer->links, peer_node) {
			if (link->state != LINK_REVOKED)
				continue;
			if (space->ops->map(space, link->iova, link->pfn,
					    link->npages, link->prot))
				dev_warn_ratelimited(peer->device->dev,
						     "vfio: cannot restore a P2P mapping at iova 0x%llx\n",
						     (unsigned long long)link->iova);
			else
				link->state = LINK_MAPPED;
		}
		break;
	case VFIO_DEVICE_EVENT_RELEASE:
		peer->seq++;
		list_for_each_entry_safe(link, tmp, &peer->links, peer_node) {
			unmap_link(space, link);
			link->state = LINK_DEAD;
			link->peer = NULL;
			list_del_init(&link->peer_node);
			peer->users--;
		}
		list_del_init(&peer->space_node);
		peer->released = true;
		peer->space = NULL;
		/* A vfio_p2p_map() in progress tears it down otherwise. */
		teardown = !peer->users;
		break;
	}
out:
	mutex_unlock(&space->lock);
	if (teardown)
		schedule_work(&peer->teardown_work);
	return NOTIFY_OK;
}

/* The live peer of @device in @space, with a user taken; space->lock held. */
static struct vfio_p2p_peer *peer_find(struct vfio_p2p_space *space,
				       struct vfio_device *device)
{
	struct vfio_p2p_peer *peer;

	list_for_each_entry(peer, &space->peers, space_node) {
		if (peer->device == device) {
			peer->users++;
			return peer;
		}
	}
	return NULL;
}

/*
 * Find or make the peer of @device, consuming the device and module
 * references the caller took.
 */
static struct vfio_p2p_peer *peer_get(struct vfio_p2p_space *space,
				      struct vfio_device *device,
				      struct module *owner)
{
	struct vfio_p2p_peer *peer, *new;
	int ret;

	mutex_lock(&space->lock);
	peer = peer_find(space, device);
	mutex_unlock(&space->lock);
	if (peer)
		goto drop_refs;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new) {
		peer = ERR_PTR(-ENOMEM);
		goto drop_refs;
	}
	new->space = space;
	new->device = device;
	new->owner = owner;
	new->nb.notifier_call = peer_event;
	new->users = 1;
	INIT_LIST_HEAD(&new->links);
	INIT_LIST_HEAD(&new->space_node);
	INIT_WORK(&new->teardown_work, peer_teardown_work);
	ret = vfio_device_register_notifier(device, &new->nb);
	if (ret) {
		kfree(new);
		peer = ERR_PTR(ret);
		goto drop_refs;
	}

	mutex_lock(&space->lock);
	peer = peer_find(space, device);
	if (!peer && !new->released)
		list_add(&new->space_node, &space->peers);
	mutex_unlock(&space->lock);
	if (!peer)
		return new;
	peer_teardown(new);	/* lost a race with another mapper */
	return peer;

drop_refs:
	put_device(&device->device);
	module_put(owner);
	return peer;
}

static void peer_put(struct vfio_p2p_space *space, struct vfio_p2p_peer *peer)
{
	bool teardown;

	mutex_lock(&space->lock);
	teardown = peer_unuse(peer);
	mutex_unlock(&space->lock);
	if (teardown)
		peer_teardown(peer);
}

/* Device memory only: never a page the kernel manages. */
static bool is_device_pfn(unsigned long pfn)
{
	return !pfn_valid(pfn) || PageReserved(pfn_to_page(pfn));
}

/*
 * The device of the vfio VMA at @vaddr, with references on it and on its
 * driver's module; NULL if @vaddr is not in a vfio VMA.
 */
static struct vfio_device *vaddr_to_device(struct mm_struct *mm,
					   unsigned long vaddr,
					   struct module **owner)
{
	struct vfio_device *device = NULL;
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, vaddr);
	if (vma && vfio_vma_private(vma)) {
		device = vfio_device_get_from_vma(vma);
		/* The VMA holds the device fd open, so the driver is bound. */
		*owner = device->dev->driver->owner;
		__module_get(*owner);
	}
	mmap_read_unlock(mm);
	return device;
}

/* One lookup of the run at @vaddr; 0 or -errno (-EOPNOTSUPP: not capable). */
static int lookup_run(struct mm_struct *mm, struct vfio_p2p_peer *peer,
		      unsigned long vaddr, int prot, unsigned long *pfn,
		      unsigned long *nr)
{
	struct vfio_vma_private_data *priv;
	struct vm_area_struct *vma;
	int ret = -EFAULT;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, vaddr);
	priv = vma ? vfio_vma_private(vma) : NULL;
	if (!priv || priv->device != peer->device)
		goto out;
	/* The VMA's permissions, as a fault would check them. */
	if (((prot & IOMMU_WRITE) && !(vma->vm_flags & VM_WRITE)) ||
	    ((prot & IOMMU_READ) && !(vma->vm_flags & VM_ACCESS_FLAGS)))
		goto out;
	ret = vfio_vma_to_pfn(vma, vaddr, pfn, nr);
out:
	mmap_read_unlock(mm);
	return ret;
}

/**
 * vfio_p2p_map() - map a peer device's memory behind a user address
 * @space: the backend's space
 * @mm: the mm @vaddr belongs to
 * @vaddr: the user address, in a vfio device mmap or not
 * @iova: where to map it
 * @npages: at most this many pages
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 * @owner: the backend's list that keeps the new link
 *
 * Resolves the run of device pfns at @vaddr in one step (no fault-in, no
 * page-table walk), maps it through the space's ops, and tracks it: DISABLE
 * revokes it, ENABLE restores it, RELEASE kills it, until
 * vfio_p2p_unmap_links() drops it.  Called with no space lock held (it takes
 * mmap_lock), typically under the backend's own lock.
 *
 * Return: the number of pages mapped; 0 if @vaddr is not in a P2P-capable
 * vfio device mmap (the backend's other paths decide); -EFAULT for a mapping
 * that may not be used (permissions, memory disabled, not device memory);
 * -EAGAIN if device events kept racing the lookup; or another -errno.
 */
long vfio_p2p_map(struct vfio_p2p_space *space, struct mm_struct *mm,
		  unsigned long vaddr, dma_addr_t iova, unsigned long npages,
		  int prot, struct list_head *owner)
{
	struct vfio_p2p_link *link;
	struct vfio_p2p_peer *peer;
	struct vfio_device *device;
	struct module *module;
	unsigned long pfn, nr;
	unsigned int seq, tries;
	long ret;

	device = vaddr_to_device(mm, vaddr, &module);
	if (!device)
		return 0;
	peer = peer_get(space, device, module);
	if (IS_ERR(peer))
		return PTR_ERR(peer);
	link = kzalloc(sizeof(*link), GFP_KERNEL_ACCOUNT);
	if (!link) {
		ret = -ENOMEM;
		goto out;
	}

	for (tries = 0; tries < 8; tries++) {
		mutex_lock(&space->lock);
		seq = peer->seq;
		mutex_unlock(&space->lock);

		ret = lookup_run(mm, peer, vaddr, prot, &pfn, &nr);
		if (ret == -EOPNOTSUPP) {
			ret = 0;
			goto out;
		}
		if (ret)
			goto fault;
		nr = min(nr, npages);
		if (!is_device_pfn(pfn) || !is_device_pfn(pfn + nr - 1))
			goto fault;

		mutex_lock(&space->lock);
		if (peer->released || seq != peer->seq) {
			/* An event came between: look again. */
			mutex_unlock(&space->lock);
			continue;
		}
		ret = space->ops->map(space, iova, pfn, nr, prot);
		if (!ret) {
			link->iova = iova;
			link->npages = nr;
			link->pfn = pfn;
			link->prot = prot;
			link->state = LINK_MAPPED;
			link->peer = peer;
			peer->users++;
			list_add_tail(&link->peer_node, &peer->links);
			list_add_tail(&link->owner_node, owner);
			link = NULL;
			ret = nr;
		}
		mutex_unlock(&space->lock);
		goto out;
	}
	ret = -EAGAIN;
	goto out;
fault:
	ret = -EFAULT;
out:
	kfree(link);
	peer_put(space, peer);
	return ret;
}
EXPORT_SYMBOL_GPL(vfio_p2p_map);

/**
 * vfio_p2p_range_live() - whether the device memory in a range is mapped
 * @space: the backend's space
 * @owner: the owner list of the range's links, as given to vfio_p2p_map()
 * @iova: where the range starts
 * @len: its length in bytes
 *
 * For a backend that also reaches its ranges without the IOMMU (type1's
 * vfio_dma_rw() copies through the user's address): such an access must
 * fail where a DMA would, once a link in the range is revoked or dead.  The
 * caller keeps @owner stable (type1: iommu->lock); takes space->lock.
 *
 * Return: false if a link overlapping the range is not mapped, else true.
 */
bool vfio_p2p_range_live(struct vfio_p2p_space *space, struct list_head *owner,
			 dma_addr_t iova, size_t len)
{
	struct vfio_p2p_link *link;
	bool live = true;

	if (list_empty(owner) || !len)
		return true;
	mutex_lock(&space->lock);
	list_for_each_entry(link, owner, owner_node) {
		dma_addr_t end = link->iova + ((dma_addr_t)link->npages << PAGE_SHIFT);

		if (link->iova < iova + len && iova < end &&
		    link->state != LINK_MAPPED) {
			live = false;
			break;
		}
	}
	mutex_unlock(&space->lock);
	return live;
}
EXPORT_SYMBOL_GPL(vfio_p2p_range_live);

/**
 * vfio_p2p_unmap_links() - unmap and forget every link on an owner list
 * @space: the backend's space
 * @owner: the list passed to vfio_p2p_map()
 *
 * Unmaps the links still mapped, drops revoked and dead ones, and tears down
 * the peers left without users.  Called with no space lock held.
 */
void vfio_p2p_unmap_links(struct vfio_p2p_space *space, struct list_head *owner)
{
	struct vfio_p2p_peer *peer, *tmp_peer;
	struct vfio_p2p_link *link, *tmp;
	LIST_HEAD(teardown);

	mutex_lock(&space->lock);
	list_for_each_entry_safe(link, tmp, owner, owner_node) {
		unmap_link(space, link);
		peer = link->peer;
		if (peer) {
			list_del(&link->peer_node);
			if (peer_unuse(peer))
				list_add(&peer->space_node, &teardown);
		}
		list_del(&link->owner_node);
		kfree(link);
	}
	mutex_unlock(&space->lock);

	list_for_each_entry_safe(peer, tmp_peer, &teardown, space_node)
		peer_teardown(peer);
}
EXPORT_SYMBOL_GPL(vfio_p2p_unmap_links);

/**
 * vfio_p2p_map_live_links() - map every mapped link into a new domain
 * @space: the backend's space; the caller holds space->lock, and adds the
 *	new domain to the set the ops map into before dropping it
 * @fn: maps one run into the new domain
 * @arg: for @fn
 *
 * Return: 0, or @fn's first error.
 */
int vfio_p2p_map_live_links(struct vfio_p2p_space *space,
			    int (*fn)(void *arg, dma_addr_t iova, unsigned long pfn,
				      unsigned long npages, int prot),
			    void *arg)
{
	struct vfio_p2p_link *link;
	struct vfio_p2p_peer *peer;
	int ret;

	lockdep_assert_held(&space->lock);
	list_for_each_entry(peer, &space->peers, space_node) {
		list_for_each_entry(link, &peer->links, peer_node) {
			if (link->state != LINK_MAPPED)
				continue;
			ret = fn(arg, link->iova, link->pfn, link->npages, link->prot);
			if (ret)
				return ret;
		}
	}
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_p2p_map_live_links);
