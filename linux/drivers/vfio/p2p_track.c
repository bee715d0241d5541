// SPDX-License-Identifier: GPL-2.0-only
/*
 * The P2P tracker: an IOMMU backend's mappings of peer device memory, as
 * links of a space, revoked on DISABLE, restored on ENABLE and killed on
 * RELEASE.  The objects, their states, the events and the rule are in
 * Documentation/driver-api/vfio-p2p.rst; the lock order is on struct
 * vfio_device_p2p in <linux/vfio_p2p.h>, and space->lock is its listener
 * lock.  What is this file's alone:
 *
 * - A peer (struct vfio_p2p_peer, private here) is counted by its kref:
 *   its links, plus the vfio_p2p_map() calls using it, plus, in a space
 *   whose ops keep_peers, one for being on space->peers: there a peer stays
 *   on its space when its last link goes, so that the next MAP_DMA of the
 *   device finds it registered and counted, and only its RELEASE and
 *   vfio_p2p_space_fini() take it off and drop that reference.
 *   peer_release() is the one release path; it runs under space->lock.
 *   The peer is then unregistered by whoever dropped the last reference
 *   (peer_free()), or by its free work when that was its own RELEASE
 *   callback, which cannot unregister from inside the chain.
 *   The device and module references go only in the free work, on
 *   vfio_p2p_wq, never under a backend's lock or space->lock;
 *   vfio_p2p_exit() flushes the workqueue before vfio.ko can go.
 * - vfio_p2p_map() cannot hold space->lock across the lookup, which may
 *   wait for the driver's memory lock.  DISABLE and RELEASE bump peer->seq
 *   under space->lock; the map reads it before the lookup and maps only if
 *   it is unchanged ("Looking up a pfn safely" in the rst, rule 2), at most
 *   VFIO_P2P_MAP_TRIES times.
 * - peer->space is written only by the peer's own RELEASE callback, so the
 *   later callbacks of the same device (serialized by its event lock) read
 *   it without a lock.
 */
#include <linux/iommu.h>
#include <linux/kref.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/vfio_p2p_iommu.h>
#include <linux/workqueue.h>

#include "p2p.h"

enum { LINK_MAPPED, LINK_REVOKED, LINK_DEAD };

/* Lookups of one run that device events may overtake before it maps. */
#define VFIO_P2P_MAP_TRIES	8

static struct workqueue_struct *vfio_p2p_wq;

struct vfio_p2p_peer {
	struct kref kref;		/* links + maps (+ listed); space->lock */
	struct vfio_p2p_space *space;	/* NULL once released, see above */
	struct vfio_device *device;	/* counted, with its driver's module */
	struct mem_cgroup *memcg;	/* the mapper's, counted; fixed */
	struct notifier_block nb;
	bool registered;		/* nb on the chain; written while unshared */
	struct list_head space_node;	/* on space->peers; space->lock */
	struct list_head links;		/* space->lock */
	unsigned int seq;		/* space->lock */
	bool released;			/* RELEASE came; space->lock */
	bool dead;			/* kref hit zero; space->lock */
	bool disabled;			/* DISABLE came, ENABLE not; space->lock */
	bool restore_failed;		/* ENABLE could not map; space->lock */
	struct work_struct free_work;
};

/**
 * vfio_p2p_space_init() - set up a backend's P2P space
 * @space: the space, embedded in the backend's IOMMU context
 * @ops: how the backend maps and unmaps a run in all its domains
 * @max_links: how many runs of device memory the space may map at once
 */
void vfio_p2p_space_init(struct vfio_p2p_space *space,
			 const struct vfio_p2p_space_ops *ops,
			 unsigned int max_links)
{
	mutex_init(&space->lock);
	INIT_LIST_HEAD(&space->peers);
	space->ops = ops;
	space->max_links = max_links;
	space->nr_links = 0;
	space->restore_pending = false;
}
EXPORT_SYMBOL_GPL(vfio_p2p_space_init);

static void peer_free_work(struct work_struct *work)
{
	struct vfio_p2p_peer *peer = container_of(work, struct vfio_p2p_peer,
						  free_work);

	if (peer->registered)
		vfio_device_unregister_notifier(peer->device, &peer->nb);
	vfio_device_put_from_vma(peer->device);
	mem_cgroup_put(peer->memcg);
	kfree(peer);
}

/*
 * Free a peer that has left its space; not from its own callback, not under
 * space->lock.  Once this returns no callback of the peer runs.
 */
static void peer_free(struct vfio_p2p_peer *peer)
{
	if (peer->registered) {
		vfio_device_unregister_notifier(peer->device, &peer->nb);
		peer->registered = false;
	}
	queue_work(vfio_p2p_wq, &peer->free_work);
}

static void peers_free(struct list_head *dead)
{
	struct vfio_p2p_peer *peer, *tmp;

	list_for_each_entry_safe(peer, tmp, dead, space_node)
		peer_free(peer);
}

/* The one release path: space->lock held; the peer leaves the space. */
static void peer_release(struct kref *kref)
{
	struct vfio_p2p_peer *peer = container_of(kref, struct vfio_p2p_peer,
						  kref);

	list_del_init(&peer->space_node);
	peer->dead = true;
}

/* Drop a reference, space->lock held; a dead peer goes onto @dead. */
static void peer_put_locked(struct vfio_p2p_peer *peer, struct list_head *dead)
{
	if (kref_put(&peer->kref, peer_release))
		list_add(&peer->space_node, dead);
}

/*
 * Take the peer off its space; space->lock held.  True if the space's list
 * held a reference (ops->keep_peers), which the caller then drops.
 */
static bool peer_unlist(struct vfio_p2p_space *space,
			struct vfio_p2p_peer *peer)
{
	if (list_empty(&peer->space_node))
		return false;
	list_del_init(&peer->space_node);
	return space->ops->keep_peers;
}

static void peer_put(struct vfio_p2p_space *space, struct vfio_p2p_peer *peer)
{
	LIST_HEAD(dead);

	mutex_lock(&space->lock);
	peer_put_locked(peer, &dead);
	mutex_unlock(&space->lock);
	peers_free(&dead);
}

/*
 * Map the peer's revoked links again; space->lock held.  ENABLE runs in
 * whichever task re-enabled the device (its reset, say), so what the ops
 * allocate is charged to the memcg of the task that mapped the links, as
 * their first map was.
 */
static void restore_links(struct vfio_p2p_space *space,
			  struct vfio_p2p_peer *peer)
{
	struct mem_cgroup *old_memcg = set_active_memcg(peer->memcg);
	struct vfio_p2p_link *link;
	unsigned int failed = 0;

	list_for_each_entry(link, &peer->links, peer_node) {
		if (link->state != LINK_REVOKED)
			continue;
		if (space->ops->map(space, link->iova, link->pfn, link->npages,
				    link->prot))
			failed++;
		else
			link->state = LINK_MAPPED;
	}
	set_active_memcg(old_memcg);
	peer->restore_failed = failed;
	if (failed) {
		WRITE_ONCE(space->restore_pending, true);
		dev_warn_ratelimited(peer->device->dev,
				     "vfio: cannot restore %u P2P mapping(s) yet; DMA there faults until a later MAP_DMA or UNMAP_DMA restores them\n",
				     failed);
	}
}

/* Unmap every mapped link of the peer, then one IOTLB sync; space->lock held. */
static void revoke_links(struct vfio_p2p_space *space,
			 struct vfio_p2p_peer *peer, int state)
{
	struct vfio_p2p_link *link;
	bool unmapped = false;

	list_for_each_entry(link, &peer->links, peer_node) {
		if (link->state == LINK_MAPPED) {
			space->ops->unmap(space, link->iova, link->npages);
			unmapped = true;
		}
		link->state = state;
	}
	if (unmapped)
		space->ops->sync(space);
}

static int peer_event(struct notifier_block *nb, unsigned long event, void *data)
{
	struct vfio_p2p_peer *peer = container_of(nb, struct vfio_p2p_peer, nb);
	struct vfio_p2p_space *space = peer->space;
	struct vfio_p2p_link *link, *tmp;
	LIST_HEAD(dead);

	if (!space)
		return NOTIFY_DONE;
	mutex_lock(&space->lock);
	if (peer->dead)
		goto out;
	switch (event) {
	case VFIO_DEVICE_EVENT_DISABLE:
		peer->seq++;
		peer->disabled = true;
		revoke_links(space, peer, LINK_REVOKED);
		break;
	case VFIO_DEVICE_EVENT_ENABLE:
		peer->disabled = false;
		restore_links(space, peer);
		break;
	case VFIO_DEVICE_EVENT_RELEASE:
		peer->seq++;
		peer->released = true;
		peer->space = NULL;
		revoke_links(space, peer, LINK_DEAD);
		/* The links stay on their owner lists, for the owner to drop. */
		kref_get(&peer->kref);
		if (peer_unlist(space, peer))
			kref_put(&peer->kref, peer_release);
		list_for_each_entry_safe(link, tmp, &peer->links, peer_node) {
			link->peer = NULL;
			list_del_init(&link->peer_node);
			kref_put(&peer->kref, peer_release);
		}
		/* The last reference unregisters from the free work. */
		if (kref_put(&peer->kref, peer_release))
			queue_work(vfio_p2p_wq, &peer->free_work);
		break;
	}
out:
	mutex_unlock(&space->lock);
	return NOTIFY_OK;
}

/* The live peer of @device in @space, with a reference; space->lock held. */
static struct vfio_p2p_peer *peer_find(struct vfio_p2p_space *space,
				       struct vfio_device *device)
{
	struct vfio_p2p_peer *peer;

	lockdep_assert_held(&space->lock);
	list_for_each_entry(peer, &space->peers, space_node) {
		if (peer->device == device) {
			kref_get(&peer->kref);
			return peer;
		}
	}
	return NULL;
}

/*
 * The peer of the device whose VMA is @vma, made if need be, and in @seq
 * its sequence count, read with the find (a listed peer is not released);
 * mmap_lock held.  Takes a device reference only for a new peer, which
 * keeps it until it leaves the space (RELEASE, or vfio_p2p_space_fini()).
 */
static struct vfio_p2p_peer *peer_get(struct vfio_p2p_space *space,
				      struct vm_area_struct *vma,
				      struct vfio_device *device,
				      unsigned int *seq)
{
	struct vfio_p2p_peer *peer, *new;
	int ret;

	mutex_lock(&space->lock);
	peer = peer_find(space, device);
	if (peer)
		*seq = peer->seq;
	mutex_unlock(&space->lock);
	if (peer)
		return peer;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return ERR_PTR(-ENOMEM);
	new->device = vfio_device_get_from_vma(vma);
	if (IS_ERR(new->device)) {
		ret = PTR_ERR(new->device);
		kfree(new);
		return ERR_PTR(ret);
	}
	new->memcg = get_mem_cgroup_from_mm(current->mm);
	new->space = space;
	new->nb.notifier_call = peer_event;
	kref_init(&new->kref);
	INIT_LIST_HEAD(&new->links);
	INIT_LIST_HEAD(&new->space_node);
	INIT_WORK(&new->free_work, peer_free_work);
	ret = vfio_device_register_notifier(device, &new->nb);
	if (ret) {
		peer_free(new);
		return ERR_PTR(ret);
	}
	new->registered = true;

	mutex_lock(&space->lock);
	peer = peer_find(space, device);
	if (!peer) {
		if (space->ops->keep_peers)
			kref_get(&new->kref);	/* the space's */
		list_add(&new->space_node, &space->peers);
	}
	*seq = (peer ?: new)->seq;
	mutex_unlock(&space->lock);
	if (!peer)
		return new;
	peer_free(new);		/* lost a race with another mapper */
	return peer;
}

/* What one attempt of vfio_p2p_map() found: a run, its peer and seq. */
struct p2p_run {
	struct vfio_p2p_peer *peer;
	unsigned long pfn;
	unsigned long nr;
	unsigned int seq;
};

/*
 * Look up the run at @vaddr of @vma, mmap_lock held: the one lookup of a
 * run.  Return: 1 and @run filled (a peer reference taken), 0 if @vma is
 * not a P2P-capable vfio device mmap, or -errno.
 */
static int lookup_run(struct vfio_p2p_space *space, struct vm_area_struct *vma,
		      unsigned long vaddr, int prot, struct p2p_run *run)
{
	struct vfio_vma_private_data *priv = vfio_vma_private(vma);
	int ret;

	ret = vfio_vma_p2p_check(vma);
	if (!priv || ret == -ENODEV || ret == -EOPNOTSUPP)
		return 0;
	if (!vfio_vma_permits(vma, prot))
		return -EFAULT;
	run->peer = peer_get(space, vma, priv->device, &run->seq);
	if (IS_ERR(run->peer))
		return PTR_ERR(run->peer);
	ret = vfio_vma_to_pfn(vma, vaddr, &run->pfn, &run->nr);
	if (!ret)
		return 1;
	peer_put(space, run->peer);
	/* A signal while waiting out a reset, or a race: passed on. */
	if (ret == -EAGAIN || ret == -EINTR)
		return ret;
	return -EFAULT;
}

/*
 * Map and link what lookup_run() found, without mmap_lock, if no event
 * overtook the lookup (-EAGAIN: look again).  Drops the run's reference.
 */
static long map_run(struct vfio_p2p_space *space, struct p2p_run *run,
		    dma_addr_t iova, unsigned long npages, int prot,
		    struct list_head *owner, struct vfio_p2p_link **linkp)
{
	struct vfio_p2p_link *link = *linkp;
	long ret = -EFAULT;
	LIST_HEAD(dead);

	run->nr = min(run->nr, npages);
	if (!vfio_pfn_is_device(run->pfn) ||
	    !vfio_pfn_is_device(run->pfn + run->nr - 1)) {
		peer_put(space, run->peer);
		return ret;
	}

	mutex_lock(&space->lock);
	if (run->peer->released || run->seq != run->peer->seq) {
		ret = -EAGAIN;		/* an event came between: look again */
	} else if (space->nr_links >= space->max_links) {
		pr_warn_ratelimited("vfio: %s[%d]: limit of %u P2P mappings per container reached\n",
				    current->comm, task_pid_nr(current),
				    space->max_links);
		ret = -ENOSPC;
	} else {
		ret = space->ops->map(space, iova, run->pfn, run->nr, prot);
	}
	if (!ret) {
		link->iova = iova;
		link->npages = run->nr;
		link->pfn = run->pfn;
		link->prot = prot;
		link->state = LINK_MAPPED;
		link->peer = run->peer;
		kref_get(&run->peer->kref);
		list_add_tail(&link->peer_node, &run->peer->links);
		list_add_tail(&link->owner_node, owner);
		space->nr_links++;
		*linkp = NULL;
		ret = run->nr;
	}
	peer_put_locked(run->peer, &dead);
	mutex_unlock(&space->lock);
	peers_free(&dead);
	return ret;
}

/**
 * vfio_p2p_map() - map a peer device's memory behind a user address
 * @space: the backend's space
 * @vma: the VMA holding @vaddr, which the backend has just looked up
 * @vaddr: the user address
 * @iova: where to map it
 * @npages: at most this many pages
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 * @owner: the backend's list that keeps the new link, in iova order
 *
 * Resolves the run of device pfns at @vaddr in one step (no fault-in, no
 * page-table walk, and no second VMA lookup: the backend found @vma and
 * dispatches here), maps it through the space's ops, and tracks it:
 * DISABLE revokes it, ENABLE restores it, RELEASE kills it, until
 * vfio_p2p_unmap_links() drops it.  The lookup happens under the caller's
 * mmap_lock; the IOMMU map after it is released, so that a long map holds
 * off no mmap_lock writer.  Only when a device event came in between does
 * it take mmap_lock again to look the address up anew, at most
 * VFIO_P2P_MAP_TRIES times in all.
 *
 * Context: called with the mmap_lock of @vma's mm held for read, and no
 * space lock; returns with that mmap_lock released, whatever the result.
 * May sleep: a lookup during a reset of the peer waits for the reset to
 * end, as a CPU fault on the mmap would, and the peer's notifier may be
 * registered or unregistered, so the caller holds no lock a notifier
 * callback takes.  Typically called under the backend's own lock; never
 * drops a device reference itself.
 *
 * Return: the number of pages mapped; 0 if @vma is not a P2P-capable vfio
 * device mmap (the backend's other paths decide); -EFAULT for a mapping
 * that may not be used (permissions, memory disabled, not device memory,
 * or the VMA went away while looking again); -ENOSPC at the space's link
 * limit; -EAGAIN if device events kept racing the lookup; -EINTR on a
 * fatal signal while waiting; or another -errno.
 */
long vfio_p2p_map(struct vfio_p2p_space *space, struct vm_area_struct *vma,
		  unsigned long vaddr, dma_addr_t iova, unsigned long npages,
		  int prot, struct list_head *owner)
{
	struct mm_struct *mm = vma->vm_mm;
	struct vfio_p2p_link *link;
	unsigned int tries;
	struct p2p_run run;
	long ret;

	mmap_assert_locked(mm);
	link = kzalloc(sizeof(*link), GFP_KERNEL_ACCOUNT);
	for (tries = 1; ; tries++) {
		ret = link ? lookup_run(space, vma, vaddr, prot, &run) : -ENOMEM;
		mmap_read_unlock(mm);
		if (ret > 0)
			ret = map_run(space, &run, iova, npages, prot, owner,
				      &link);
		if (ret != -EAGAIN || tries == VFIO_P2P_MAP_TRIES)
			break;
		if (mmap_read_lock_killable(mm)) {
			ret = -EINTR;
			break;
		}
		vma = vma_lookup(mm, vaddr);
		if (!vma) {
			mmap_read_unlock(mm);
			ret = -EFAULT;
			break;
		}
	}
	kfree(link);
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
 * vfio_dma_rw() copies through the user's address, vfio_pin_pages() pins
 * what is mapped there now): such an access must fail where a DMA would,
 * once a link in the range is revoked or dead.  The caller keeps @owner
 * stable (type1: iommu->lock); takes space->lock.
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
 * Unmaps the links still mapped from every domain (one IOTLB sync per
 * domain) and drops revoked and dead ones.  A peer left without links
 * goes, unless the space's ops keep_peers: then it stays on the space,
 * registered, for the next map of its device, until its RELEASE or
 * vfio_p2p_space_fini().  Called with no space lock held;
 * never drops a device reference itself, so it may run under the
 * backend's lock.
 */
void vfio_p2p_unmap_links(struct vfio_p2p_space *space, struct list_head *owner)
{
	struct vfio_p2p_link *link, *tmp;
	bool unmapped = false;
	LIST_HEAD(dead);

	if (list_empty(owner))
		return;
	mutex_lock(&space->lock);
	list_for_each_entry_safe(link, tmp, owner, owner_node) {
		if (link->state == LINK_MAPPED) {
			space->ops->unmap(space, link->iova, link->npages);
			unmapped = true;
		}
		if (link->peer) {
			list_del(&link->peer_node);
			peer_put_locked(link->peer, &dead);
		}
		list_del(&link->owner_node);
		space->nr_links--;
		kfree(link);
	}
	if (unmapped)
		space->ops->sync(space);
	mutex_unlock(&space->lock);
	peers_free(&dead);
}
EXPORT_SYMBOL_GPL(vfio_p2p_unmap_links);

/**
 * vfio_p2p_space_fini() - let go of every peer of a space
 * @space: the backend's space, with no links left (type1: every vfio_dma
 *	removed) and no vfio_p2p_map() running
 *
 * The peers of a space whose ops keep_peers outlive their last link, so
 * that mapping the same device again costs no allocation, registration or
 * device reference.  Such a backend calls this before it frees the space
 * (for any other it is a no-op, as it has no peer left): each peer still on it
 * is unregistered and its device and module references go from the
 * tracker's work item.  Once this returns, no callback of a peer of the
 * space runs: not of those still on it, and not of one that a RELEASE took
 * off it and whose callback has yet to return (and drop space->lock, which
 * mutex_unlock() may still touch after another task took it).  Called
 * with no lock a device notifier callback takes (no space lock); it never
 * drops a device reference itself, so it may run under the backend's lock.
 * The space may be used again afterwards.
 */
void vfio_p2p_space_fini(struct vfio_p2p_space *space)
{
	struct vfio_p2p_peer *peer, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&space->lock);
	list_for_each_entry_safe(peer, tmp, &space->peers, space_node) {
		WARN_ON_ONCE(!list_empty(&peer->links));
		if (peer_unlist(space, peer))
			peer_put_locked(peer, &dead);
	}
	mutex_unlock(&space->lock);
	peers_free(&dead);
	/*
	 * A RELEASE that took a peer off before the lock above queued its
	 * free, whose unregistration waits for the callback to return.
	 */
	flush_workqueue(vfio_p2p_wq);
}
EXPORT_SYMBOL_GPL(vfio_p2p_space_fini);

/**
 * vfio_p2p_space_retry() - map again what an ENABLE could not restore
 * @space: the backend's space
 *
 * A link that ENABLE failed to map (say, the IOMMU ran out of memory) stays
 * revoked: DMA to it faults, vfio_p2p_range_live() says so, and the device
 * log says so once.  The backend calls this at each user request that
 * changes its mappings (type1: MAP_DMA and UNMAP_DMA), which retries those
 * links of peers whose memory is enabled.  Cheap when nothing is pending.
 */
void vfio_p2p_space_retry(struct vfio_p2p_space *space)
{
	struct vfio_p2p_peer *peer;

	if (!READ_ONCE(space->restore_pending))
		return;
	mutex_lock(&space->lock);
	WRITE_ONCE(space->restore_pending, false);
	list_for_each_entry(peer, &space->peers, space_node) {
		if (peer->restore_failed && !peer->disabled)
			restore_links(space, peer);
	}
	mutex_unlock(&space->lock);
}
EXPORT_SYMBOL_GPL(vfio_p2p_space_retry);

/* @unmap every mapped link of the space, in list order, up to @stop. */
static void unmap_live_links(struct vfio_p2p_space *space,
			     struct vfio_p2p_link *stop,
			     void (*unmap)(void *arg, dma_addr_t iova,
					   unsigned long npages),
			     void *arg)
{
	struct vfio_p2p_link *link;
	struct vfio_p2p_peer *peer;

	list_for_each_entry(peer, &space->peers, space_node) {
		list_for_each_entry(link, &peer->links, peer_node) {
			if (link == stop)
				return;
			if (link->state == LINK_MAPPED)
				unmap(arg, link->iova, link->npages);
		}
	}
}

/**
 * vfio_p2p_map_live_links() - map every mapped link into a new domain
 * @space: the backend's space; the caller holds space->lock, and adds the
 *	new domain to the set the ops map into before dropping it
 * @map: maps one run into the new domain
 * @unmap: unmaps one run that @map mapped, when a later @map fails
 * @arg: for @map and @unmap
 *
 * Revoked and dead links are not mapped: the new domain gets a revoked link
 * when ENABLE restores it, through the ops.
 *
 * Return: 0, or @map's first error, with every run mapped before it
 * unmapped again.
 */
int vfio_p2p_map_live_links(struct vfio_p2p_space *space,
			    int (*map)(void *arg, dma_addr_t iova,
				       unsigned long pfn, unsigned long npages,
				       int prot),
			    void (*unmap)(void *arg, dma_addr_t iova,
					  unsigned long npages),
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
			ret = map(arg, link->iova, link->pfn, link->npages,
				  link->prot);
			if (ret)
				goto unwind;
		}
	}
	return 0;

unwind:
	unmap_live_links(space, link, unmap, arg);
	return ret;
}
EXPORT_SYMBOL_GPL(vfio_p2p_map_live_links);

/**
 * vfio_p2p_unmap_live_links() - unmap every mapped link from a domain leaving
 * @space: the backend's space; the caller holds space->lock, and removes the
 *	domain from the set the ops map into before dropping it
 * @unmap: unmaps one run from that domain
 * @arg: for @unmap
 *
 * The reverse of vfio_p2p_map_live_links(): the domain holds exactly the
 * mapped links, so @unmap never meets a hole (an IOMMU whose unmap stops at
 * one, or WARNs at a double unmap, is not fed either).
 */
void vfio_p2p_unmap_live_links(struct vfio_p2p_space *space,
			       void (*unmap)(void *arg, dma_addr_t iova,
					     unsigned long npages),
			       void *arg)
{
	lockdep_assert_held(&space->lock);
	unmap_live_links(space, NULL, unmap, arg);
}
EXPORT_SYMBOL_GPL(vfio_p2p_unmap_live_links);

/* Wait for every peer freed so far (KUnit: the references are back). */
void vfio_p2p_flush(void)
{
	flush_workqueue(vfio_p2p_wq);
}

int __init vfio_p2p_init(void)
{
	vfio_p2p_wq = alloc_workqueue("vfio-p2p", WQ_UNBOUND, 0);
	return vfio_p2p_wq ? 0 : -ENOMEM;
}

void vfio_p2p_exit(void)
{
	destroy_workqueue(vfio_p2p_wq);
}
