// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for iommufd's areas of vfio device memory (p2p.c), with no
 * vfio device and no IOMMU: they drive the real io_pagetable functions
 * (iopt_map_user_pages() as IOMMU_IOAS_MAP calls it, iopt_unmap_iova(),
 * iopt_table_add_domain() and iopt_table_remove_domain(), iommufd_access_rw()
 * and iopt_destroy_table()) over two fakes that the .init fixture builds:
 *
 * - A fake tracker, installed in vfio's place for the case with
 *   iommufd_p2p_test_override().  Device memory is whatever the case mmaps
 *   of a shmem file of its own: the fake's vma_check says 0 for such a VMA
 *   and -ENODEV for any other, and its map links at most run_pages pages
 *   per call at the fake pfns FAKE_BASE_PFN + file offset (never
 *   dereferenced).  It keeps every link of the space on space->peers, and
 *   the case plays the device's events on them: p2p_revoke() and
 *   p2p_restore() unmap and map a link through the space's ops, as the
 *   real tracker does on DISABLE and ENABLE.
 * - Fake IOMMU domains, strict as a page table: each maps a page once
 *   (a second map of a mapped page fails, and counts as a double map), an
 *   unmap stops at a page that is not mapped (and counts a hole), and the
 *   case can make the map of one IOVA fail.  Each page's pfn and prot are
 *   kept in an xarray for the case to read back.
 *
 * RAM is the case's own anonymous memory, pinned by iommufd as always, so
 * that a range can mix both.  The cases run in the KUnit thread, whose mm
 * kunit_vm_mmap() made; .exit unmaps what a case left and destroys the
 * table from the cleanup thread.
 */
#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/vfio_p2p_iommu.h>
#include <linux/xarray.h>

#include "io_pagetable.h"
#include "iommufd_private.h"
#include "p2p.h"

#define DEV_PAGES	8UL		/* the fake device memory: its file */
#define RAM_PAGES	2UL
#define FAKE_BASE_PFN	0x3ff0000000UL	/* beyond any memory section */
#define IOVA		0x100000UL
#define NO_PFN		ULONG_MAX

/* A fake link's state (link->state is the tracker's, so the fake's). */
enum { FAKE_MAPPED, FAKE_REVOKED };

struct p2p_domain {
	struct iommu_domain domain;
	struct xarray pages;		/* iova page -> (pfn << 8 | prot) */
	unsigned long fail_iova;	/* a map of this page fails; 0: none */
	unsigned int holes;		/* unmaps that met an unmapped page */
	unsigned int double_maps;	/* maps of a mapped page */
	bool attached;
};

struct p2p_fixture {
	struct iommufd_ctx ictx;	/* only its account_mode is read */
	struct iommufd_ioas *ioas;	/* only its iopt is used */
	struct iommufd_access access;	/* only ioas and ioas_lock */
	struct p2p_domain dom[2];
	struct file *dev_file;		/* its mmaps are device memory */
	struct vfio_p2p_tracker tracker;
	struct module *owner;		/* a fake module, if refs are counted */
	bool destroyed;			/* the case destroyed the table */

	/* The fake tracker's knobs and what it saw */
	unsigned long run_pages;	/* at most this many pages per link */
	unsigned int fail_map_call;	/* that map call fails; 0: none */
	unsigned int map_calls;
	unsigned int space_inits;
	unsigned int space_finis;
	struct vfio_p2p_space *space;
};

static struct p2p_fixture *p2p_fake(void)
{
	return kunit_get_current_test()->priv;
}

/* The fake tracker */

static int fake_vma_check(struct vm_area_struct *vma)
{
	return vma->vm_file == p2p_fake()->dev_file ? 0 : -ENODEV;
}

static void fake_space_init(struct vfio_p2p_space *space,
			    const struct vfio_p2p_space_ops *ops,
			    unsigned int max_links)
{
	struct p2p_fixture *f = p2p_fake();

	mutex_init(&space->lock);
	INIT_LIST_HEAD(&space->peers);	/* here: every link, by peer_node */
	space->ops = ops;
	space->max_links = max_links;
	space->nr_links = 0;
	f->space = space;
	f->space_inits++;
}

static void fake_space_fini(struct vfio_p2p_space *space)
{
	struct p2p_fixture *f = p2p_fake();

	WARN_ON(space->nr_links);
	f->space_finis++;
	f->space = NULL;
}

static long fake_map(struct vfio_p2p_space *space, struct vm_area_struct *vma,
		     unsigned long vaddr, dma_addr_t iova, unsigned long npages,
		     int prot, struct list_head *owner)
{
	struct p2p_fixture *f = p2p_fake();
	struct vfio_p2p_link *link;
	unsigned long pfn, n;
	bool ok;
	int rc;

	mmap_assert_locked(vma->vm_mm);
	f->map_calls++;
	if (vma->vm_file != f->dev_file) {
		mmap_read_unlock(vma->vm_mm);
		return 0;
	}
	pfn = FAKE_BASE_PFN + vma->vm_pgoff +
	      ((vaddr - vma->vm_start) >> PAGE_SHIFT);
	n = min3(npages, (vma->vm_end - vaddr) >> PAGE_SHIFT, f->run_pages);
	ok = vfio_vma_permits(vma, prot);
	mmap_read_unlock(vma->vm_mm);
	if (!ok)
		return -EFAULT;
	if (f->map_calls == f->fail_map_call)
		return -ENOMEM;

	link = kzalloc(sizeof(*link), GFP_KERNEL);
	if (!link)
		return -ENOMEM;
	mutex_lock(&space->lock);
	rc = space->ops->map(space, iova, pfn, n, prot);
	if (!rc) {
		link->iova = iova;
		link->npages = n;
		link->pfn = pfn;
		link->prot = prot;
		link->state = FAKE_MAPPED;
		list_add_tail(&link->peer_node, &space->peers);
		list_add_tail(&link->owner_node, owner);
		space->nr_links++;
	}
	mutex_unlock(&space->lock);
	if (rc) {
		kfree(link);
		return rc;
	}
	return n;
}

static void fake_unmap_links(struct vfio_p2p_space *space,
			     struct list_head *owner)
{
	struct vfio_p2p_link *link, *tmp;
	bool unmapped = false;

	mutex_lock(&space->lock);
	list_for_each_entry_safe(link, tmp, owner, owner_node) {
		if (link->state == FAKE_MAPPED) {
			space->ops->unmap(space, link->iova, link->npages);
			unmapped = true;
		}
		list_del(&link->peer_node);
		list_del(&link->owner_node);
		space->nr_links--;
		kfree(link);
	}
	if (unmapped)
		space->ops->sync(space);
	mutex_unlock(&space->lock);
}

static bool fake_range_live(struct vfio_p2p_space *space,
			    struct list_head *owner, dma_addr_t iova,
			    size_t len)
{
	struct vfio_p2p_link *link;
	bool live = true;

	mutex_lock(&space->lock);
	list_for_each_entry(link, owner, owner_node) {
		dma_addr_t end = link->iova + (link->npages << PAGE_SHIFT);

		if (link->iova < iova + len && iova < end &&
		    link->state != FAKE_MAPPED)
			live = false;
	}
	mutex_unlock(&space->lock);
	return live;
}

static void fake_space_retry(struct vfio_p2p_space *space)
{
}

static int fake_map_live_links(struct vfio_p2p_space *space,
			       int (*map)(void *arg, dma_addr_t iova,
					  unsigned long pfn,
					  unsigned long npages, int prot),
			       void (*unmap)(void *arg, dma_addr_t iova,
					     unsigned long npages),
			       void *arg)
{
	struct vfio_p2p_link *link, *undo;
	int rc;

	lockdep_assert_held(&space->lock);
	list_for_each_entry(link, &space->peers, peer_node) {
		if (link->state != FAKE_MAPPED)
			continue;
		rc = map(arg, link->iova, link->pfn, link->npages, link->prot);
		if (rc)
			goto unwind;
	}
	return 0;

unwind:
	list_for_each_entry(undo, &space->peers, peer_node) {
		if (undo == link)
			break;
		if (undo->state == FAKE_MAPPED)
			unmap(arg, undo->iova, undo->npages);
	}
	return rc;
}

static void fake_unmap_live_links(struct vfio_p2p_space *space,
				  void (*unmap)(void *arg, dma_addr_t iova,
						unsigned long npages),
				  void *arg)
{
	struct vfio_p2p_link *link;

	lockdep_assert_held(&space->lock);
	list_for_each_entry(link, &space->peers, peer_node)
		if (link->state == FAKE_MAPPED)
			unmap(arg, link->iova, link->npages);
}

static const struct vfio_p2p_tracker fake_tracker = {
	.vma_check = fake_vma_check,
	.space_init = fake_space_init,
	.space_fini = fake_space_fini,
	.map = fake_map,
	.unmap_links = fake_unmap_links,
	.range_live = fake_range_live,
	.space_retry = fake_space_retry,
	.map_live_links = fake_map_live_links,
	.unmap_live_links = fake_unmap_live_links,
};

static struct vfio_p2p_link *p2p_link_at(struct p2p_fixture *f,
					 unsigned long iova)
{
	struct vfio_p2p_link *link;

	list_for_each_entry(link, &f->space->peers, peer_node)
		if (link->iova == iova)
			return link;
	return NULL;
}

/* DISABLE, for the link at @iova: unmap it from every domain. */
static void p2p_revoke(struct kunit *test, unsigned long iova)
{
	struct p2p_fixture *f = test->priv;
	struct vfio_p2p_link *link;

	KUNIT_ASSERT_NOT_NULL(test, f->space);
	mutex_lock(&f->space->lock);
	link = p2p_link_at(f, iova);
	if (link && link->state == FAKE_MAPPED) {
		f->space->ops->unmap(f->space, link->iova, link->npages);
		f->space->ops->sync(f->space);
		link->state = FAKE_REVOKED;
	}
	mutex_unlock(&f->space->lock);
	KUNIT_ASSERT_NOT_NULL(test, link);
}

/* ENABLE, for the link at @iova: map it into every domain again. */
static void p2p_restore(struct kunit *test, unsigned long iova)
{
	struct p2p_fixture *f = test->priv;
	struct vfio_p2p_link *link;
	int rc = -ENOENT;

	KUNIT_ASSERT_NOT_NULL(test, f->space);
	mutex_lock(&f->space->lock);
	link = p2p_link_at(f, iova);
	if (link && link->state == FAKE_REVOKED) {
		rc = f->space->ops->map(f->space, link->iova, link->pfn,
					link->npages, link->prot);
		if (!rc)
			link->state = FAKE_MAPPED;
	}
	mutex_unlock(&f->space->lock);
	KUNIT_ASSERT_EQ(test, rc, 0);
}

/* The fake domains */

static struct p2p_domain *to_p2p_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct p2p_domain, domain);
}

static int p2p_domain_map_pages(struct iommu_domain *domain,
				unsigned long iova, phys_addr_t paddr,
				size_t pgsize, size_t pgcount, int prot,
				gfp_t gfp, size_t *mapped)
{
	struct p2p_domain *d = to_p2p_domain(domain);
	size_t i;
	int rc;

	for (i = 0; i < pgcount; i++, iova += PAGE_SIZE, paddr += PAGE_SIZE) {
		if (d->fail_iova && iova == d->fail_iova)
			return -ENOMEM;
		rc = xa_insert(&d->pages, iova >> PAGE_SHIFT,
			       xa_mk_value(PHYS_PFN(paddr) << 8 | (prot & 0xff)),
			       GFP_KERNEL);
		if (rc == -EBUSY)
			d->double_maps++;
		if (rc)
			return rc;
		*mapped += PAGE_SIZE;
	}
	return 0;
}

static size_t p2p_domain_unmap_pages(struct iommu_domain *domain,
				     unsigned long iova, size_t pgsize,
				     size_t pgcount,
				     struct iommu_iotlb_gather *gather)
{
	struct p2p_domain *d = to_p2p_domain(domain);
	size_t i;

	for (i = 0; i < pgcount; i++, iova += PAGE_SIZE) {
		if (!xa_erase(&d->pages, iova >> PAGE_SHIFT)) {
			d->holes++;
			break;
		}
	}
	return i * PAGE_SIZE;
}

static phys_addr_t p2p_domain_iova_to_phys(struct iommu_domain *domain,
					   dma_addr_t iova)
{
	void *entry = xa_load(&to_p2p_domain(domain)->pages,
			      iova >> PAGE_SHIFT);

	if (!entry)
		return 0;
	return PFN_PHYS(xa_to_value(entry) >> 8) | (iova & ~PAGE_MASK);
}

static void p2p_domain_iotlb_sync(struct iommu_domain *domain,
				  struct iommu_iotlb_gather *gather)
{
}

static const struct iommu_domain_ops p2p_domain_ops = {
	.map_pages = p2p_domain_map_pages,
	.unmap_pages = p2p_domain_unmap_pages,
	.iova_to_phys = p2p_domain_iova_to_phys,
	.iotlb_sync = p2p_domain_iotlb_sync,
};

/* The pfn mapped at @iova in @d, or NO_PFN; its prot in *@prot. */
static unsigned long dom_pfn(struct p2p_domain *d, unsigned long iova,
			     int *prot)
{
	void *entry = xa_load(&d->pages, iova >> PAGE_SHIFT);

	if (!entry)
		return NO_PFN;
	if (prot)
		*prot = xa_to_value(entry) & 0xff;
	return xa_to_value(entry) >> 8;
}

static unsigned long dom_count(struct p2p_domain *d)
{
	unsigned long index, n = 0;
	void *entry;

	xa_for_each(&d->pages, index, entry)
		n++;
	return n;
}

/* Whether @d maps the @n device pages at @iova, at fake pfns from @pfn. */
static void expect_dev(struct kunit *test, struct p2p_domain *d,
		       unsigned long iova, unsigned long pfn, unsigned long n)
{
	unsigned long i;
	int prot = 0;

	for (i = 0; i < n; i++, iova += PAGE_SIZE) {
		KUNIT_EXPECT_EQ_MSG(test, dom_pfn(d, iova, &prot), pfn + i,
				    "iova %#lx", iova);
		KUNIT_EXPECT_EQ_MSG(test, prot,
				    IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO,
				    "iova %#lx", iova);
	}
}

/* Whether @d maps none of the @n pages at @iova. */
static void expect_none(struct kunit *test, struct p2p_domain *d,
			unsigned long iova, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++, iova += PAGE_SIZE)
		KUNIT_EXPECT_EQ_MSG(test, dom_pfn(d, iova, NULL), NO_PFN,
				    "iova %#lx", iova);
}

/* Whether @d maps the @n pages at @iova as RAM (pinned, not MMIO). */
static void expect_ram(struct kunit *test, struct p2p_domain *d,
		       unsigned long iova, unsigned long n)
{
	unsigned long i, pfn;
	int prot = 0;

	for (i = 0; i < n; i++, iova += PAGE_SIZE) {
		pfn = dom_pfn(d, iova, &prot);
		KUNIT_EXPECT_NE_MSG(test, pfn, NO_PFN, "iova %#lx", iova);
		KUNIT_EXPECT_TRUE_MSG(test, pfn_valid(pfn), "iova %#lx", iova);
		KUNIT_EXPECT_EQ_MSG(test, prot, IOMMU_READ | IOMMU_WRITE,
				    "iova %#lx", iova);
	}
}

static struct io_pagetable *p2p_iopt(struct kunit *test)
{
	return &((struct p2p_fixture *)test->priv)->ioas->iopt;
}

static void p2p_add_domain(struct kunit *test, unsigned int i)
{
	struct p2p_fixture *f = test->priv;

	KUNIT_ASSERT_EQ(test, iopt_table_add_domain(p2p_iopt(test),
						    &f->dom[i].domain), 0);
	f->dom[i].attached = true;
}

static void p2p_remove_domain(struct kunit *test, unsigned int i)
{
	struct p2p_fixture *f = test->priv;

	iopt_table_remove_domain(p2p_iopt(test), &f->dom[i].domain);
	f->dom[i].attached = false;
}

/*
 * @ram pages of anonymous memory, @dev pages of the device file (from its
 * start), @ram pages of anonymous memory again: three VMAs, one range.
 */
static unsigned long p2p_mmap(struct kunit *test, unsigned long ram,
			      unsigned long dev)
{
	struct p2p_fixture *f = test->priv;
	unsigned long addr, d;

	if (ram)
		addr = kunit_vm_mmap(test, NULL, 0, (2 * ram + dev) << PAGE_SHIFT,
				     PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	else
		addr = kunit_vm_mmap(test, f->dev_file, 0, dev << PAGE_SHIFT,
				     PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	KUNIT_ASSERT_FALSE(test, !addr || IS_ERR_VALUE(addr));
	if (ram && dev) {
		d = kunit_vm_mmap(test, f->dev_file, addr + (ram << PAGE_SHIFT),
				  dev << PAGE_SHIFT, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, 0);
		KUNIT_ASSERT_EQ(test, d, addr + (ram << PAGE_SHIFT));
	}
	return addr;
}

/* IOMMU_IOAS_MAP of @pages at @uaddr, read and write, at @iova. */
static int p2p_map(struct kunit *test, unsigned long iova, unsigned long uaddr,
		   unsigned long pages)
{
	struct p2p_fixture *f = test->priv;

	return iopt_map_user_pages(&f->ictx, p2p_iopt(test), &iova,
				   (void __user *)uaddr, pages << PAGE_SHIFT,
				   IOMMU_READ | IOMMU_WRITE, 0);
}

/* The areas of the table, in order: up to @max into @iova, @len, @p2p. */
static unsigned int p2p_areas(struct kunit *test, unsigned long *iova,
			      unsigned long *len, bool *p2p, unsigned int max)
{
	struct io_pagetable *iopt = p2p_iopt(test);
	struct iopt_area *area;
	unsigned int n = 0;

	down_read(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		if (n < max) {
			iova[n] = iopt_area_iova(area);
			len[n] = iopt_area_length(area);
			p2p[n] = area->pages && area->pages->p2p;
		}
		n++;
	}
	up_read(&iopt->iova_rwsem);
	return n;
}

/*
 * A range of RAM, device memory and RAM maps in one IOAS_MAP as three
 * areas, the middle one of device memory in links of run_pages, and each
 * page into the domain as what it is; unmapped, nothing is left.
 */
static void p2p_map_mixed_range(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned long total = 2 * RAM_PAGES + DEV_PAGES;
	unsigned long dev_iova = IOVA + (RAM_PAGES << PAGE_SHIFT);
	unsigned long iova[4], len[4], unmapped, uaddr;
	bool p2p[4];

	f->run_pages = 3;	/* links of 3, 3 and 2 pages */
	p2p_add_domain(test, 0);
	uaddr = p2p_mmap(test, RAM_PAGES, DEV_PAGES);
	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA, uaddr, total), 0);

	KUNIT_ASSERT_EQ(test, p2p_areas(test, iova, len, p2p, 4), 3);
	KUNIT_EXPECT_EQ(test, iova[0], IOVA);
	KUNIT_EXPECT_EQ(test, len[0], RAM_PAGES << PAGE_SHIFT);
	KUNIT_EXPECT_FALSE(test, p2p[0]);
	KUNIT_EXPECT_EQ(test, iova[1], dev_iova);
	KUNIT_EXPECT_EQ(test, len[1], DEV_PAGES << PAGE_SHIFT);
	KUNIT_EXPECT_TRUE(test, p2p[1]);
	KUNIT_EXPECT_EQ(test, iova[2], dev_iova + (DEV_PAGES << PAGE_SHIFT));
	KUNIT_EXPECT_EQ(test, len[2], RAM_PAGES << PAGE_SHIFT);
	KUNIT_EXPECT_FALSE(test, p2p[2]);

	KUNIT_ASSERT_NOT_NULL(test, f->space);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 3);
	expect_ram(test, &f->dom[0], IOVA, RAM_PAGES);
	expect_dev(test, &f->dom[0], dev_iova, FAKE_BASE_PFN, DEV_PAGES);
	expect_ram(test, &f->dom[0], iova[2], RAM_PAGES);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), total);

	KUNIT_EXPECT_EQ(test, iopt_unmap_iova(p2p_iopt(test), IOVA,
					      total << PAGE_SHIFT, &unmapped),
			0);
	KUNIT_EXPECT_EQ(test, unmapped, total << PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), 0);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].holes, 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].double_maps, 0);
}

/*
 * A mixed range maps all or nothing: when the tracker fails its second
 * run, or the domain fails the RAM after the device memory, no area, no
 * link and no mapping is left.
 */
static void p2p_map_all_or_nothing(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned long total = 2 * RAM_PAGES + DEV_PAGES;
	unsigned long iova[4], len[4], uaddr;
	bool p2p[4];

	f->run_pages = 4;
	p2p_add_domain(test, 0);
	uaddr = p2p_mmap(test, RAM_PAGES, DEV_PAGES);

	f->fail_map_call = 2;
	KUNIT_EXPECT_EQ(test, p2p_map(test, IOVA, uaddr, total), -ENOMEM);
	KUNIT_EXPECT_EQ(test, f->map_calls, 2);
	KUNIT_EXPECT_EQ(test, p2p_areas(test, iova, len, p2p, 4), 0);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), 0);
	KUNIT_ASSERT_NOT_NULL(test, f->space);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 0);

	/* The first page of the second RAM segment. */
	f->fail_map_call = 0;
	f->dom[0].fail_iova = IOVA + ((RAM_PAGES + DEV_PAGES) << PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, p2p_map(test, IOVA, uaddr, total), -ENOMEM);
	KUNIT_EXPECT_EQ(test, f->map_calls, 4);
	KUNIT_EXPECT_EQ(test, p2p_areas(test, iova, len, p2p, 4), 0);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), 0);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 0);

	/* And with nothing failing, it maps. */
	f->dom[0].fail_iova = 0;
	KUNIT_EXPECT_EQ(test, p2p_map(test, IOVA, uaddr, total), 0);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), total);
	KUNIT_EXPECT_EQ(test, f->dom[0].holes, 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].double_maps, 0);
}

/*
 * A domain attached later gets the MAPPED links and not the REVOKED one;
 * a restore then maps it into both domains.  With no domain at map time
 * the links exist all the same, and the first domain gets them.
 */
static void p2p_domain_added_later(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned long link2 = IOVA + (2 << PAGE_SHIFT);
	unsigned long uaddr;

	f->run_pages = 2;	/* four links of two pages */
	uaddr = p2p_mmap(test, 0, DEV_PAGES);
	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA, uaddr, DEV_PAGES), 0);
	KUNIT_ASSERT_NOT_NULL(test, f->space);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 4);

	p2p_add_domain(test, 0);
	expect_dev(test, &f->dom[0], IOVA, FAKE_BASE_PFN, DEV_PAGES);

	p2p_revoke(test, link2);
	expect_none(test, &f->dom[0], link2, 2);

	p2p_add_domain(test, 1);
	expect_dev(test, &f->dom[1], IOVA, FAKE_BASE_PFN, 2);
	expect_none(test, &f->dom[1], link2, 2);
	expect_dev(test, &f->dom[1], link2 + (2 << PAGE_SHIFT),
		   FAKE_BASE_PFN + 4, DEV_PAGES - 4);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[1]), DEV_PAGES - 2);

	p2p_restore(test, link2);
	expect_dev(test, &f->dom[0], IOVA, FAKE_BASE_PFN, DEV_PAGES);
	expect_dev(test, &f->dom[1], IOVA, FAKE_BASE_PFN, DEV_PAGES);
	KUNIT_EXPECT_EQ(test, f->dom[0].double_maps + f->dom[1].double_maps, 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].holes + f->dom[1].holes, 0);
}

/*
 * A domain detached has its live links unmapped, and never meets a hole
 * (the revoked link is not unmapped again); the domain that stays, moved
 * to the first slot, keeps all it had and still hears the restore.
 */
static void p2p_domain_removed(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned long total = 2 * RAM_PAGES + DEV_PAGES;
	unsigned long dev_iova = IOVA + (RAM_PAGES << PAGE_SHIFT);
	unsigned long link2 = dev_iova + (4 << PAGE_SHIFT);
	unsigned long uaddr;

	f->run_pages = 4;	/* two links of four pages */
	p2p_add_domain(test, 0);
	p2p_add_domain(test, 1);
	uaddr = p2p_mmap(test, RAM_PAGES, DEV_PAGES);
	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA, uaddr, total), 0);
	p2p_revoke(test, link2);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), total - 4);

	p2p_remove_domain(test, 0);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].holes, 0);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[1]), total - 4);
	expect_ram(test, &f->dom[1], IOVA, RAM_PAGES);
	expect_dev(test, &f->dom[1], dev_iova, FAKE_BASE_PFN, 4);
	expect_none(test, &f->dom[1], link2, 4);

	p2p_restore(test, link2);
	expect_dev(test, &f->dom[1], dev_iova, FAKE_BASE_PFN, DEV_PAGES);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[0]), 0);

	KUNIT_EXPECT_EQ(test, iopt_unmap_all(p2p_iopt(test), NULL), 0);
	KUNIT_EXPECT_EQ(test, dom_count(&f->dom[1]), 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].holes + f->dom[1].holes, 0);
	KUNIT_EXPECT_EQ(test, f->dom[0].double_maps + f->dom[1].double_maps, 0);
}

/*
 * An unmap that cuts a p2p area fails as for any area, and leaves it
 * whole; so does a cut at a link boundary.  The whole p2p area of a mixed
 * range unmaps alone, leaving the RAM around it.
 */
static void p2p_partial_unmap(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned long total = 2 * RAM_PAGES + DEV_PAGES;
	unsigned long dev_iova = IOVA + (RAM_PAGES << PAGE_SHIFT);
	/* The last iova before the second link, as VFIO_IOMMU_UNMAP_DMA cuts */
	unsigned long cut = dev_iova + (4 << PAGE_SHIFT) - 1;
	unsigned long iova[4], len[4], unmapped = 1, uaddr;
	bool p2p[4];

	f->run_pages = 4;
	p2p_add_domain(test, 0);
	uaddr = p2p_mmap(test, RAM_PAGES, DEV_PAGES);
	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA, uaddr, total), 0);

	KUNIT_EXPECT_EQ(test, iopt_unmap_iova(p2p_iopt(test), cut + 1,
					      4 << PAGE_SHIFT, &unmapped),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, unmapped, 0);
	KUNIT_EXPECT_EQ(test, iopt_unmap_iova(p2p_iopt(test), dev_iova,
					      4 << PAGE_SHIFT, &unmapped),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, iopt_cut_iova(p2p_iopt(test), &cut, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, p2p_areas(test, iova, len, p2p, 4), 3);
	KUNIT_EXPECT_EQ(test, len[1], DEV_PAGES << PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 2);
	expect_dev(test, &f->dom[0], dev_iova, FAKE_BASE_PFN, DEV_PAGES);

	KUNIT_EXPECT_EQ(test, iopt_unmap_iova(p2p_iopt(test), dev_iova,
					      DEV_PAGES << PAGE_SHIFT,
					      &unmapped), 0);
	KUNIT_EXPECT_EQ(test, unmapped, DEV_PAGES << PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, p2p_areas(test, iova, len, p2p, 4), 2);
	KUNIT_EXPECT_EQ(test, f->space->nr_links, 0);
	expect_none(test, &f->dom[0], dev_iova, DEV_PAGES);
	expect_ram(test, &f->dom[0], IOVA, RAM_PAGES);
	expect_ram(test, &f->dom[0], dev_iova + (DEV_PAGES << PAGE_SHIFT),
		   RAM_PAGES);
	KUNIT_EXPECT_EQ(test, f->dom[0].holes, 0);
}

/*
 * An access's rw of a p2p area reaches the memory while its links are
 * MAPPED, and fails with -EFAULT over a REVOKED one, as a DMA would
 * fault; the RAM beside it is unaffected.
 */
static void p2p_access_rw(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned long total = 2 * RAM_PAGES + DEV_PAGES;
	unsigned long dev_iova = IOVA + (RAM_PAGES << PAGE_SHIFT);
	unsigned long link2 = dev_iova + (4 << PAGE_SHIFT);
	u32 val = 0x5a5a1234, got = 0;
	unsigned long uaddr;

	f->run_pages = 4;
	uaddr = p2p_mmap(test, RAM_PAGES, DEV_PAGES);
	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA, uaddr, total), 0);

	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, link2, &val,
						sizeof(val),
						IOMMUFD_ACCESS_RW_WRITE), 0);
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, link2, &got,
						sizeof(got), 0), 0);
	KUNIT_EXPECT_EQ(test, got, val);

	p2p_revoke(test, link2);
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, link2, &got,
						sizeof(got), 0), -EFAULT);
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, link2, &val,
						sizeof(val),
						IOMMUFD_ACCESS_RW_WRITE),
			-EFAULT);
	/* A range that only ends in the revoked link fails too. */
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, link2 - 2, &got,
						sizeof(got), 0), -EFAULT);
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, dev_iova, &got,
						sizeof(got), 0), 0);
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, IOVA, &got,
						sizeof(got), 0), 0);

	p2p_restore(test, link2);
	got = 0;
	KUNIT_EXPECT_EQ(test, iommufd_access_rw(&f->access, link2, &got,
						sizeof(got), 0), 0);
	KUNIT_EXPECT_EQ(test, got, val);
}

static int p2p_owner_refs(struct p2p_fixture *f)
{
#ifdef CONFIG_MODULE_UNLOAD
	return module_refcount(f->owner);
#else
	return 0;
#endif
}

/*
 * The IOAS takes the tracker (its space, and a reference on its module)
 * at its first p2p map, not at a RAM one, takes it once, keeps it while it
 * has no area left, and gives it back when it is destroyed.  Without
 * CONFIG_MODULE_UNLOAD there is no reference to count, only the space.
 */
static void p2p_tracker_ref(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	struct io_pagetable *iopt = p2p_iopt(test);
	unsigned long uaddr;

	uaddr = p2p_mmap(test, RAM_PAGES, DEV_PAGES);
	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA, uaddr, RAM_PAGES), 0);
	KUNIT_EXPECT_EQ(test, f->space_inits, 0);
	KUNIT_EXPECT_NULL(test, iopt->p2p);
	KUNIT_EXPECT_EQ(test, p2p_owner_refs(f), 0);

	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA + SZ_1M,
				      uaddr + (RAM_PAGES << PAGE_SHIFT), 2), 0);
	KUNIT_EXPECT_EQ(test, f->space_inits, 1);
	KUNIT_EXPECT_NOT_NULL(test, iopt->p2p);
	if (IS_ENABLED(CONFIG_MODULE_UNLOAD))
		KUNIT_EXPECT_EQ(test, p2p_owner_refs(f), 1);

	KUNIT_ASSERT_EQ(test, p2p_map(test, IOVA + 2 * SZ_1M,
				      uaddr + ((RAM_PAGES + 2) << PAGE_SHIFT),
				      DEV_PAGES - 2), 0);
	KUNIT_EXPECT_EQ(test, f->space_inits, 1);
	if (IS_ENABLED(CONFIG_MODULE_UNLOAD))
		KUNIT_EXPECT_EQ(test, p2p_owner_refs(f), 1);

	KUNIT_EXPECT_EQ(test, iopt_unmap_all(iopt, NULL), 0);
	KUNIT_EXPECT_EQ(test, f->space_finis, 0);
	if (IS_ENABLED(CONFIG_MODULE_UNLOAD))
		KUNIT_EXPECT_EQ(test, p2p_owner_refs(f), 1);

	iopt_destroy_table(iopt);
	f->destroyed = true;
	KUNIT_EXPECT_EQ(test, f->space_finis, 1);
	KUNIT_EXPECT_NULL(test, iopt->p2p);
	KUNIT_EXPECT_EQ(test, p2p_owner_refs(f), 0);
}

static int p2p_init(struct kunit *test)
{
	struct p2p_fixture *f;
	unsigned int i;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->ioas = kunit_kzalloc(test, sizeof(*f->ioas), GFP_KERNEL);
	if (!f->ioas)
		return -ENOMEM;
	f->dev_file = shmem_file_setup("iommufd_p2p_kunit",
				       DEV_PAGES << PAGE_SHIFT, 0);
	if (IS_ERR(f->dev_file))
		return PTR_ERR(f->dev_file);
#ifdef CONFIG_MODULE_UNLOAD
	f->owner = kunit_kzalloc(test, sizeof(*f->owner), GFP_KERNEL);
	if (!f->owner) {
		fput(f->dev_file);
		return -ENOMEM;
	}
	f->owner->state = MODULE_STATE_LIVE;
	atomic_set(&f->owner->refcnt, 1);	/* MODULE_REF_BASE */
#endif
	test->priv = f;

	iopt_init_table(&f->ioas->iopt);
	mutex_init(&f->access.ioas_lock);
	f->access.ioas = f->ioas;
	for (i = 0; i < ARRAY_SIZE(f->dom); i++) {
		struct iommu_domain *domain = &f->dom[i].domain;

		domain->type = IOMMU_DOMAIN_UNMANAGED;
		domain->ops = &p2p_domain_ops;
		domain->pgsize_bitmap = PAGE_SIZE;
		domain->geometry.aperture_end = ULONG_MAX;
		xa_init(&f->dom[i].pages);
	}
	f->run_pages = DEV_PAGES;
	f->tracker = fake_tracker;
	f->tracker.owner = f->owner;
	iommufd_p2p_test_override(&f->tracker);
	return 0;
}

static void p2p_exit(struct kunit *test)
{
	struct p2p_fixture *f = test->priv;
	unsigned int i;

	if (!f->destroyed) {
		iopt_unmap_all(&f->ioas->iopt, NULL);
		for (i = 0; i < ARRAY_SIZE(f->dom); i++)
			if (f->dom[i].attached)
				p2p_remove_domain(test, i);
		iopt_destroy_table(&f->ioas->iopt);
	}
	iommufd_p2p_test_override(NULL);
	for (i = 0; i < ARRAY_SIZE(f->dom); i++)
		xa_destroy(&f->dom[i].pages);
	mutex_destroy(&f->access.ioas_lock);
	fput(f->dev_file);
}

static struct kunit_case iommufd_p2p_cases[] = {
	KUNIT_CASE(p2p_map_mixed_range),
	KUNIT_CASE(p2p_map_all_or_nothing),
	KUNIT_CASE(p2p_domain_added_later),
	KUNIT_CASE(p2p_domain_removed),
	KUNIT_CASE(p2p_partial_unmap),
	KUNIT_CASE(p2p_access_rw),
	KUNIT_CASE(p2p_tracker_ref),
	{}
};

static struct kunit_suite iommufd_p2p_suite = {
	.name = "iommufd_p2p",
	.init = p2p_init,
	.exit = p2p_exit,
	.test_cases = iommufd_p2p_cases,
};

kunit_test_suite(iommufd_p2p_suite);
