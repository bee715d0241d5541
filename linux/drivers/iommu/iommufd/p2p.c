// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd areas of vfio device memory: IOMMU_IOAS_MAP (and the type1-compat
 * VFIO_IOMMU_MAP_DMA) of a user range that is, or contains, the mmap of a
 * vfio device's memory, mapped in one step and no longer than the memory
 * is usable.  The rule, the events and the tracker are in
 * Documentation/driver-api/vfio-p2p.rst ("iommufd"); this is what iommufd
 * adds to them.
 *
 * The objects.  An io_pagetable that has mapped device memory owns one
 * struct iommufd_p2p: the tracker's space (struct vfio_p2p_space), whose
 * ops map a run into every domain of the io_pagetable, and a counted
 * reference on the tracker's module.  An area of device memory is an
 * ordinary iopt_area, in the area tree like any other, whose iopt_pages is
 * marked p2p: such pages pin nothing and hold no pfns.  They keep only the
 * user address (uptr) and its mm, like any iopt_pages.  The pfns live in
 * the area's links (iopt_area::p2p_links, the tracker's owner list), one
 * per run, each MAPPED, REVOKED or DEAD as the tracker's model says.
 *
 * Who holds whom:
 *
 *   io_pagetable --p2p--> iommufd_p2p --tracker--> vfio.ko (module ref)
 *   iopt_area --p2p_links--> vfio_p2p_link --peer--> the tracker's peer
 *   iopt_area --pages--> iopt_pages (p2p) --source_mm--> the user's mm
 *
 * Terms.  A p2p segment of an IOAS_MAP is the part of the user range that
 * one P2P-capable vfio VMA covers (vfio_vma_p2p_check() says 0, or -EIO
 * while its memory is disabled); the rest of the range is RAM segments,
 * mapped as iommufd always has.  A range holding a p2p segment becomes one
 * area per segment, in one IOAS_MAP: the areas map all or nothing.  A
 * p2p area's fill resolves its user address again, run by run, through
 * vfio_p2p_map(), so IOMMU_IOAS_COPY of a p2p area maps what the source's
 * user address shows at the time of the copy, in the destination's own
 * space.
 *
 * The events.  The tracker's callbacks revoke, restore and kill links
 * through the space's ops, which walk io_pagetable::domains under the
 * space lock alone: that lock ranks below every iommufd lock (see
 * struct vfio_device_p2p for the order), so a callback takes none of
 * domains_rwsem, iova_rwsem and iopt_pages::mutex, which are held across
 * pinning user memory.  Whoever changes the domains xarray does so under
 * the space lock too (iopt_p2p_domains_lock()): a new domain gets the
 * MAPPED links there, and a domain leaving has them unmapped there, as
 * iommufd unmaps every other area from it.
 * An access (iommufd_access) never pins device memory: it has no page.
 * Its rw of a p2p area works while every link in the range is MAPPED, and
 * fails with -EFAULT otherwise, where a DMA would fault.
 *
 * The rule: no IOMMU mapping outlives the memory it points at.  A p2p area
 * outlives its device: after RELEASE its links are DEAD and unmapped, and
 * the area keeps the IOVA range the user's until IOMMU_IOAS_UNMAP.
 */
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vfio_p2p_iommu.h>

#include "io_pagetable.h"
#include "iommufd_private.h"
#include "p2p.h"

/* As type1's dma_entry_limit: runs of device memory one IOAS maps at once. */
#define IOMMUFD_P2P_MAX_LINKS	U16_MAX

/*
 * The domains, by index in io_pagetable::domains, whose IOTLB invalidation
 * a batch of unmaps gathers for one sync at its end; a domain past them
 * (an IOAS seldom has more than a few) syncs at each unmap instead.
 */
#define IOMMUFD_P2P_GATHERS	8

struct iommufd_p2p {
	struct vfio_p2p_space space;
	const struct vfio_p2p_tracker *tracker;	/* module ref held */
	struct io_pagetable *iopt;
	/* Under space.lock: what the batch's unmaps left to invalidate */
	struct iommu_iotlb_gather gather[IOMMUFD_P2P_GATHERS];
};

static DEFINE_MUTEX(iommufd_p2p_lock);
static const struct vfio_p2p_tracker *iommufd_p2p_tracker; /* under lock */

/**
 * iommufd_p2p_register() - give iommufd the P2P tracker
 * @tracker: vfio's table of tracker calls
 *
 * From then on IOMMU_IOAS_MAP maps P2P-capable vfio device mmaps through
 * @tracker, holding a reference on its module for as long as an IOAS has
 * such memory set up.
 */
void iommufd_p2p_register(const struct vfio_p2p_tracker *tracker)
{
	mutex_lock(&iommufd_p2p_lock);
	WARN_ON(iommufd_p2p_tracker);
	iommufd_p2p_tracker = tracker;
	mutex_unlock(&iommufd_p2p_lock);
}
EXPORT_SYMBOL_NS_GPL(iommufd_p2p_register, IOMMUFD);

/**
 * iommufd_p2p_unregister() - take the P2P tracker back
 * @tracker: what iommufd_p2p_register() was given
 *
 * No new IOAS starts using @tracker.  One that uses it holds its module, so
 * this runs only once none does.
 */
void iommufd_p2p_unregister(const struct vfio_p2p_tracker *tracker)
{
	mutex_lock(&iommufd_p2p_lock);
	WARN_ON(iommufd_p2p_tracker != tracker);
	iommufd_p2p_tracker = NULL;
	mutex_unlock(&iommufd_p2p_lock);
}
EXPORT_SYMBOL_NS_GPL(iommufd_p2p_unregister, IOMMUFD);

#if IS_ENABLED(CONFIG_IOMMUFD_P2P_KUNIT_TEST)
/* KUnit's fake tracker, used instead of vfio's while set; under lock */
static const struct vfio_p2p_tracker *iommufd_p2p_test_tracker;

/**
 * iommufd_p2p_test_override() - have iommufd use a test's tracker, or not
 * @tracker: the tracker to use instead of the registered one, or NULL to
 *	go back to the registered one
 *
 * For p2p_kunit.c only.  What vfio registered stays registered meanwhile:
 * iommufd_p2p_register() and iommufd_p2p_unregister() work as ever, and
 * only the IOASes that set up their P2P state while @tracker is set use it
 * (until they are destroyed).
 */
void iommufd_p2p_test_override(const struct vfio_p2p_tracker *tracker)
{
	mutex_lock(&iommufd_p2p_lock);
	iommufd_p2p_test_tracker = tracker;
	mutex_unlock(&iommufd_p2p_lock);
}

static const struct vfio_p2p_tracker *iommufd_p2p_tracker_locked(void)
{
	lockdep_assert_held(&iommufd_p2p_lock);
	return iommufd_p2p_test_tracker ?: iommufd_p2p_tracker;
}
#else
static const struct vfio_p2p_tracker *iommufd_p2p_tracker_locked(void)
{
	return iommufd_p2p_tracker;
}
#endif

static const struct vfio_p2p_tracker *iommufd_p2p_tracker_get(void)
{
	const struct vfio_p2p_tracker *tracker;

	mutex_lock(&iommufd_p2p_lock);
	tracker = iommufd_p2p_tracker_locked();
	if (tracker && !try_module_get(tracker->owner))
		tracker = NULL;
	mutex_unlock(&iommufd_p2p_lock);
	return tracker;
}

/* The space's ops: every domain of the io_pagetable, space lock held. */
static int iommufd_p2p_map(struct vfio_p2p_space *space, dma_addr_t iova,
			   unsigned long pfn, unsigned long npages, int prot)
{
	struct iommufd_p2p *p2p = container_of(space, struct iommufd_p2p,
					       space);
	struct iommu_domain *domain, *undo;
	unsigned long index, i;
	int rc;

	xa_for_each(&p2p->iopt->domains, index, domain) {
		rc = iommu_map(domain, iova, PFN_PHYS(pfn), npages << PAGE_SHIFT,
			       prot, GFP_KERNEL_ACCOUNT);
		if (rc)
			goto unwind;
	}
	return 0;

unwind:
	xa_for_each(&p2p->iopt->domains, i, undo) {
		if (i == index)
			break;
		iommu_unmap(undo, iova, npages << PAGE_SHIFT);
	}
	return rc;
}

/*
 * The domains cannot change between a batch's unmaps and its sync: both
 * run under the space lock, which whoever changes them takes too.
 */
static void iommufd_p2p_unmap(struct vfio_p2p_space *space, dma_addr_t iova,
			      unsigned long npages)
{
	struct iommufd_p2p *p2p = container_of(space, struct iommufd_p2p,
					       space);
	size_t size = npages << PAGE_SHIFT, unmapped;
	struct iommu_domain *domain;
	unsigned long index;

	/* A MAPPED link is mapped whole in every domain. */
	xa_for_each(&p2p->iopt->domains, index, domain) {
		if (index < IOMMUFD_P2P_GATHERS)
			unmapped = iommu_unmap_fast(domain, iova, size,
						    &p2p->gather[index]);
		else
			unmapped = iommu_unmap(domain, iova, size);
		WARN_ON(unmapped != size);
	}
}

/* One IOTLB sync per domain for a whole batch of unmaps. */
static void iommufd_p2p_sync(struct vfio_p2p_space *space)
{
	struct iommufd_p2p *p2p = container_of(space, struct iommufd_p2p,
					       space);
	struct iommu_domain *domain;
	unsigned long index;

	xa_for_each_range(&p2p->iopt->domains, index, domain, 0,
			  IOMMUFD_P2P_GATHERS - 1)
		iommu_iotlb_sync(domain, &p2p->gather[index]);
}

/* A peer stays until RELEASE or the IOAS's end: iopt_p2p_destroy(). */
static const struct vfio_p2p_space_ops iommufd_p2p_space_ops = {
	.map = iommufd_p2p_map,
	.unmap = iommufd_p2p_unmap,
	.sync = iommufd_p2p_sync,
	.keep_peers = true,
};

/*
 * The io_pagetable's P2P state, made on its first p2p fill, with
 * domains_rwsem held for read (so no domain comes or goes meanwhile);
 * fills racing here agree on one.
 */
static struct iommufd_p2p *iopt_p2p_get(struct io_pagetable *iopt)
{
	struct iommufd_p2p *p2p = READ_ONCE(iopt->p2p);
	struct iommufd_p2p *old;
	unsigned int i;

	lockdep_assert_held(&iopt->domains_rwsem);
	if (p2p)
		return p2p;

	p2p = kzalloc(sizeof(*p2p), GFP_KERNEL_ACCOUNT);
	if (!p2p)
		return ERR_PTR(-ENOMEM);
	p2p->tracker = iommufd_p2p_tracker_get();
	if (!p2p->tracker) {
		kfree(p2p);
		return ERR_PTR(-EFAULT);	/* vfio went away meanwhile */
	}
	p2p->iopt = iopt;
	for (i = 0; i < IOMMUFD_P2P_GATHERS; i++)
		iommu_iotlb_gather_init(&p2p->gather[i]);
	p2p->tracker->space_init(&p2p->space, &iommufd_p2p_space_ops,
				 IOMMUFD_P2P_MAX_LINKS);
	old = cmpxchg(&iopt->p2p, NULL, p2p);
	if (old) {
		module_put(p2p->tracker->owner);
		kfree(p2p);
		return old;
	}
	return p2p;
}

static bool iopt_p2p_vma(const struct vfio_p2p_tracker *tracker,
			 struct vm_area_struct *vma)
{
	int ret = tracker->vma_check(vma);

	/* Disabled memory is still device memory: its map fails cleanly. */
	return !ret || ret == -EIO;
}

/*
 * Where the segment that starts at @cur ends, and whether it is a p2p one:
 * a p2p segment is one P2P-capable VMA; any other runs up to the next.
 */
static unsigned long iopt_p2p_segment(const struct vfio_p2p_tracker *tracker,
				      struct mm_struct *mm, unsigned long cur,
				      unsigned long end, bool *p2p)
{
	VMA_ITERATOR(vmi, mm, cur);
	struct vm_area_struct *vma;

	*p2p = false;
	for_each_vma_range(vmi, vma, end) {
		if (!iopt_p2p_vma(tracker, vma))
			continue;
		if (vma->vm_start > cur)
			return vma->vm_start;
		*p2p = true;
		return min(vma->vm_end, end);
	}
	return end;
}

static int iopt_p2p_add_segment(struct iommufd_ctx *ictx, unsigned long start,
				unsigned long length, bool writable, bool p2p,
				struct list_head *pages_list)
{
	struct iopt_pages_list *elm;

	elm = kzalloc(sizeof(*elm), GFP_KERNEL_ACCOUNT);
	if (!elm)
		return -ENOMEM;
	elm->pages = iopt_alloc_pages((void __user *)start, length,
				      writable);
	if (IS_ERR(elm->pages)) {
		int rc = PTR_ERR(elm->pages);

		kfree(elm);
		return rc;
	}
	elm->pages->p2p = p2p;
	if (ictx->account_mode == IOPT_PAGES_ACCOUNT_MM &&
	    elm->pages->account_mode == IOPT_PAGES_ACCOUNT_USER)
		elm->pages->account_mode = IOPT_PAGES_ACCOUNT_MM;
	elm->start_byte = start - (uintptr_t)elm->pages->uptr;
	elm->length = length;
	list_add_tail(&elm->next, pages_list);
	return 0;
}

/**
 * iopt_p2p_pages_list() - the pages of a user range that holds device memory
 * @ictx: the iommufd context, for its accounting mode
 * @uptr: the user range IOMMU_IOAS_MAP maps
 * @length: its length
 * @writable: whether the mapping is writable
 * @pages_list: gets one &struct iopt_pages_list per segment, in order
 *
 * Return: 1 if the range holds no P2P-capable vfio device mmap, or is not
 * page aligned (the caller maps it as it always has, and pinning refuses
 * any device memory in it); 0 with @pages_list filled; or -errno, with
 * whatever @pages_list got left for iopt_free_pages_list().
 */
int iopt_p2p_pages_list(struct iommufd_ctx *ictx, void __user *uptr,
			unsigned long length, bool writable,
			struct list_head *pages_list)
{
	const struct vfio_p2p_tracker *tracker;
	unsigned long start = (uintptr_t)uptr;
	struct mm_struct *mm = current->mm;
	unsigned long end, cur, next;
	bool p2p, any = false;
	int rc = 0;

	if (!mm || !length || (start | length) & ~PAGE_MASK ||
	    check_add_overflow(start, length, &end))
		return 1;
	tracker = iommufd_p2p_tracker_get();
	if (!tracker)
		return 1;

	mmap_read_lock(mm);
	for (cur = start; cur < end; cur = next) {
		next = iopt_p2p_segment(tracker, mm, cur, end, &p2p);
		if (!p2p && next == end && !any)
			break;		/* no device memory: the usual path */
		any = true;
		rc = iopt_p2p_add_segment(ictx, cur, next - cur, writable, p2p,
					  pages_list);
		if (rc)
			break;
	}
	mmap_read_unlock(mm);
	module_put(tracker->owner);
	return any ? rc : 1;
}

/**
 * iopt_p2p_fill() - map a p2p area into every domain of its io_pagetable
 * @area: the area, not yet visible to attach (area->pages is NULL)
 * @pages: its p2p pages
 *
 * Looks up the area's user address run by run and hands each run to the
 * tracker, which maps it and links it on @area.  Context: domains_rwsem
 * held for read; takes the mmap_lock of @pages' mm.
 *
 * Return: 0, or -errno with nothing of @area mapped.
 */
int iopt_p2p_fill(struct iopt_area *area, struct iopt_pages *pages)
{
	unsigned long iova = iopt_area_iova(area);
	unsigned long length = iopt_area_length(area);
	unsigned long vaddr = (uintptr_t)pages->uptr +
			      iopt_area_start_byte(area, iova);
	unsigned long npages = length >> PAGE_SHIFT;
	struct mm_struct *mm = pages->source_mm;
	/*
	 * Device memory: not cacheable, whatever the domain's coherency (as
	 * dma_map_resource() maps it); io-pgtable-arm makes it Device-nGnRE.
	 */
	int prot = (area->iommu_prot & ~IOMMU_CACHE) | IOMMU_MMIO;
	struct iommufd_p2p *p2p;
	int rc = 0;

	if ((vaddr | iova | length) & ~PAGE_MASK)
		return -EINVAL;
	p2p = iopt_p2p_get(area->iopt);
	if (IS_ERR(p2p))
		return PTR_ERR(p2p);
	if (!mmget_not_zero(mm))
		return -EFAULT;

	while (npages) {
		struct vm_area_struct *vma;
		long ret;

		if (mmap_read_lock_killable(mm)) {
			rc = -EINTR;
			break;
		}
		vma = vma_lookup(mm, vaddr);
		if (!vma) {
			mmap_read_unlock(mm);
			rc = -EFAULT;
			break;
		}
		/* Releases mmap_lock; 0 means no longer a P2P-capable VMA. */
		ret = p2p->tracker->map(&p2p->space, vma, vaddr, iova, npages,
					prot, &area->p2p_links);
		if (ret <= 0) {
			rc = ret ? ret : -EFAULT;
			break;
		}
		vaddr += ret << PAGE_SHIFT;
		iova += ret << PAGE_SHIFT;
		npages -= ret;
	}
	mmput(mm);
	if (rc)
		iopt_p2p_unfill(area);
	return rc;
}

/**
 * iopt_p2p_unfill() - unmap a p2p area from every domain, for good
 * @area: the area, no longer visible to attach
 *
 * Unmaps the area's MAPPED links, and frees all of them, whatever their
 * state.  Context: domains_rwsem held for read.
 */
void iopt_p2p_unfill(struct iopt_area *area)
{
	struct iommufd_p2p *p2p = READ_ONCE(area->iopt->p2p);

	if (p2p && !list_empty(&area->p2p_links))
		p2p->tracker->unmap_links(&p2p->space, &area->p2p_links);
}

/**
 * iopt_p2p_area_live() - whether a range of an area reaches usable memory
 * @area: any area
 * @iova: the start of the range, inside @area
 * @length: its length in bytes
 *
 * For an access's rw, which must fail where a DMA would fault.
 *
 * Return: true for an area of RAM, and for a range of a p2p area whose
 * every link is MAPPED; false otherwise.
 */
bool iopt_p2p_area_live(struct iopt_area *area, unsigned long iova,
			unsigned long length)
{
	struct iommufd_p2p *p2p;

	if (!area->pages || !area->pages->p2p)
		return true;
	p2p = READ_ONCE(area->iopt->p2p);
	return p2p && p2p->tracker->range_live(&p2p->space, &area->p2p_links,
						iova, length);
}

/**
 * iopt_p2p_domains_lock() - hold the listener lock to change the domains
 * @iopt: the io_pagetable whose domains xarray is about to change
 *
 * Context: domains_rwsem held for write, so @iopt->p2p cannot appear.
 */
void iopt_p2p_domains_lock(struct io_pagetable *iopt)
{
	lockdep_assert_held_write(&iopt->domains_rwsem);
	if (iopt->p2p)
		mutex_lock(&iopt->p2p->space.lock);
}

/**
 * iopt_p2p_domains_unlock() - drop what iopt_p2p_domains_lock() took
 * @iopt: the io_pagetable
 */
void iopt_p2p_domains_unlock(struct io_pagetable *iopt)
{
	if (iopt->p2p)
		mutex_unlock(&iopt->p2p->space.lock);
}

static int iopt_p2p_map_one(void *arg, dma_addr_t iova, unsigned long pfn,
			    unsigned long npages, int prot)
{
	return iommu_map(arg, iova, PFN_PHYS(pfn), npages << PAGE_SHIFT, prot,
			 GFP_KERNEL_ACCOUNT);
}

static void iopt_p2p_unmap_one(void *arg, dma_addr_t iova,
			       unsigned long npages)
{
	size_t size = npages << PAGE_SHIFT;

	WARN_ON(iommu_unmap(arg, iova, size) != size);
}

/**
 * iopt_p2p_fill_domain() - map the live links into a domain joining @iopt
 * @iopt: the io_pagetable
 * @domain: the domain, stored into @iopt->domains before the lock drops
 *
 * Revoked links reach @domain when ENABLE restores them.  Context: under
 * iopt_p2p_domains_lock().
 *
 * Return: 0, or -errno with nothing mapped into @domain.
 */
int iopt_p2p_fill_domain(struct io_pagetable *iopt,
			 struct iommu_domain *domain)
{
	if (!iopt->p2p)
		return 0;
	return iopt->p2p->tracker->map_live_links(&iopt->p2p->space,
						  iopt_p2p_map_one,
						  iopt_p2p_unmap_one, domain);
}

/**
 * iopt_p2p_unfill_domain() - unmap the live links from a domain leaving @iopt
 * @iopt: the io_pagetable
 * @domain: the domain, removed from @iopt->domains before the lock drops
 *
 * As iopt_unfill_domain() empties it of every other area: the domain is
 * left holding nothing of device memory, whether it is freed next or not.
 * Context: under iopt_p2p_domains_lock().
 */
void iopt_p2p_unfill_domain(struct io_pagetable *iopt,
			    struct iommu_domain *domain)
{
	if (iopt->p2p)
		iopt->p2p->tracker->unmap_live_links(&iopt->p2p->space,
						     iopt_p2p_unmap_one,
						     domain);
}

/**
 * iopt_p2p_retry() - map again what a failed restore left revoked
 * @iopt: the io_pagetable; called on each map and unmap, holding no lock
 */
void iopt_p2p_retry(struct io_pagetable *iopt)
{
	struct iommufd_p2p *p2p = READ_ONCE(iopt->p2p);

	if (p2p)
		p2p->tracker->space_retry(&p2p->space);
}

/**
 * iopt_p2p_destroy() - free the P2P state of an io_pagetable without areas
 * @iopt: the io_pagetable being destroyed
 *
 * With no area left there is no link; the peers the space kept for the
 * next map go (vfio_p2p_space_fini()), after which no callback can reach
 * the space.  Drops the reference on the tracker's module.  If areas are
 * left (iopt_destroy_table() has WARNed), their links still point at the
 * state, which is leaked with them, module reference included.  Context:
 * no iommufd lock held.
 */
void iopt_p2p_destroy(struct io_pagetable *iopt)
{
	struct iommufd_p2p *p2p = iopt->p2p;

	if (!p2p || !RB_EMPTY_ROOT(&iopt->area_itree.rb_root))
		return;
	p2p->tracker->space_fini(&p2p->space);
	WARN_ON(!list_empty(&p2p->space.peers));
	iopt->p2p = NULL;
	module_put(p2p->tracker->owner);
	kfree(p2p);
}
