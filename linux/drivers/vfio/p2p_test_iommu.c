// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-p2p test IOMMU: a software IOMMU with the strictness of real page
 * tables, so that the rig can run type1 containers with several domains.
 * Test-only (CONFIG_VFIO_P2P_TEST_IOMMU).
 *
 * The model:
 *  - P2P_TEST_IOMMU_COUNT instances, each a struct iommu_device with its own
 *    software fwnode, and each with one client platform device
 *    ("vfio-p2p-test-dev.<n>") whose fwspec names that fwnode.  Each client
 *    is alone in its IOMMU group.
 *  - A paging domain belongs to the instance it was allocated for and
 *    refuses (-EINVAL) a device of another instance, as two hardware IOMMUs
 *    cannot share a page table: a type1 container holding both clients
 *    has one domain per instance.
 *  - A domain is an xarray of 4 KiB entries, IOVA >> PAGE_SHIFT -> pfn and
 *    prot.  Mapping over a mapped entry is refused with -EEXIST, and
 *    unmapping stops at the first hole, returning what it unmapped before
 *    it, as io-pgtable-arm and AMD v1 do.  Both WARN (unless a KUnit case
 *    asked for quiet), so a caller that breaks the IOMMU API fails the
 *    rig's run.
 *  - The blocked domain is the default one: a client does no DMA unless a
 *    paging domain is attached.
 *  - Dirty tracking, for iommufd's IOMMU_HWPT_ALLOC_DIRTY_TRACKING: while a
 *    domain tracks, a client's DMA write sets the dirty bit of each entry
 *    it goes through, and the dirty walk reports and clears those bits.  A
 *    walk over a hole WARNs and fails with -EINVAL, as io-pgtable-arm's
 *    does, so that a caller that walks a revoked range fails the run.
 *
 * Per instance, debugfs vfio-p2p-test-iommu/<n>/ shows the attached domain
 * ("mappings", "stats"), the client's refused DMA ("faults") and takes a
 * fault-injection count ("fail_map": fail that many map calls with
 * -ENOMEM; "fail_iova": only calls whose range holds that IOVA count, all
 * of them when it is ~0; and each map call is a fail-nth site, see
 * p2p_ti_fail_nth_here()).  "freed_mapped_pages" counts the entries still
 * mapped in the instance's domains when they were freed, so a test can see
 * what a failed attach left behind in a domain it can no longer read.
 * Locking: ti->lock guards the instance's domain list and which
 * domain is attached; a domain's entries are guarded by the xarray's lock.
 */
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/init.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pfn.h>
#include <linux/platform_device.h>
#include <linux/property.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <uapi/linux/iommufd.h>

#include "p2p_test_iommu.h"

#define P2P_TI_PROT_MASK	(IOMMU_READ | IOMMU_WRITE)
#define P2P_TI_DIRTY		BIT(2)	/* written while the domain tracked */
#define P2P_TI_PROT_BITS	3
#define P2P_TI_IOVA_BITS	48

struct p2p_ti {
	struct iommu_device iommu;
	struct fwnode_handle *fwnode;
	struct platform_device *client;
	struct mutex lock;		/* domains, attached */
	struct list_head domains;
	struct p2p_ti_domain *attached;
	atomic_t fail_map;
	u64 fail_iova;			/* ~0: any */
	atomic64_t freed_mapped_pages;
	atomic_t faults;
	unsigned int id;
};

struct p2p_ti_domain {
	struct iommu_domain domain;
	struct p2p_ti *ti;
	struct xarray ptes;
	struct list_head node;		/* in ti->domains */
	unsigned int id;
	bool quiet;
	bool dirty_tracking;		/* READ_ONCE: set by ->set_dirty_tracking() */
	atomic64_t map_calls;
	atomic64_t unmap_calls;
	atomic64_t iotlb_sync;
	atomic64_t iotlb_sync_map;
	atomic64_t flush_all;
	atomic64_t violations;
	atomic64_t mapped_pages;
};

static struct p2p_ti p2p_ti[P2P_TEST_IOMMU_COUNT];
static atomic_t p2p_ti_domain_ids;
static struct dentry *p2p_ti_debugfs;
static const struct iommu_domain_ops p2p_ti_paging_ops;
static const struct iommu_dirty_ops p2p_ti_dirty_ops;

static struct p2p_ti_domain *to_p2p_ti_domain(struct iommu_domain *domain)
{
	if (domain->ops != &p2p_ti_paging_ops)
		return NULL;
	return container_of(domain, struct p2p_ti_domain, domain);
}

static struct p2p_ti *dev_to_p2p_ti(struct device *dev)
{
	struct iommu_fwspec *fwspec = dev_iommu_fwspec_get(dev);
	int i;

	if (!fwspec)
		return NULL;
	for (i = 0; i < P2P_TEST_IOMMU_COUNT; i++)
		if (p2p_ti[i].fwnode && p2p_ti[i].fwnode == fwspec->iommu_fwnode)
			return &p2p_ti[i];
	return NULL;
}

static int p2p_ti_blocked_attach(struct iommu_domain *domain,
				 struct device *dev)
{
	struct p2p_ti *ti = dev_iommu_priv_get(dev);

	mutex_lock(&ti->lock);
	ti->attached = NULL;
	mutex_unlock(&ti->lock);
	return 0;
}

static const struct iommu_domain_ops p2p_ti_blocked_ops = {
	.attach_dev = p2p_ti_blocked_attach,
};

static struct iommu_domain p2p_ti_blocked_domain = {
	.type = IOMMU_DOMAIN_BLOCKED,
	.ops = &p2p_ti_blocked_ops,
};

static struct p2p_ti_domain *p2p_ti_domain_new(struct p2p_ti *ti)
{
	struct p2p_ti_domain *d;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return NULL;
	d->ti = ti;
	d->id = atomic_inc_return(&p2p_ti_domain_ids);
	xa_init(&d->ptes);
	d->domain.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G;
	d->domain.geometry.aperture_start = 0;
	d->domain.geometry.aperture_end = BIT_ULL(P2P_TI_IOVA_BITS) - 1;
	d->domain.geometry.force_aperture = true;
	mutex_lock(&ti->lock);
	list_add_tail(&d->node, &ti->domains);
	mutex_unlock(&ti->lock);
	return d;
}

static struct iommu_domain *p2p_ti_domain_alloc_paging(struct device *dev)
{
	struct p2p_ti_domain *d = p2p_ti_domain_new(dev_iommu_priv_get(dev));

	return d ? &d->domain : ERR_PTR(-ENOMEM);
}

/*
 * iommufd allocates every domain here: a paging domain, and with
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING one that can track dirty entries.
 */
static struct iommu_domain *
p2p_ti_domain_alloc_user(struct device *dev, u32 flags,
			 struct iommu_domain *parent,
			 const struct iommu_user_data *user_data)
{
	struct p2p_ti_domain *d;

	if (parent || user_data || flags & ~IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
		return ERR_PTR(-EOPNOTSUPP);
	d = p2p_ti_domain_new(dev_iommu_priv_get(dev));
	if (!d)
		return ERR_PTR(-ENOMEM);
	d->domain.type = IOMMU_DOMAIN_UNMANAGED;
	d->domain.ops = &p2p_ti_paging_ops;
	if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
		d->domain.dirty_ops = &p2p_ti_dirty_ops;
	return &d->domain;
}

static void p2p_ti_domain_free(struct iommu_domain *domain)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);
	struct p2p_ti *ti = d->ti;

	mutex_lock(&ti->lock);
	if (ti->attached == d)
		ti->attached = NULL;
	list_del(&d->node);
	mutex_unlock(&ti->lock);
	atomic64_add(atomic64_read(&d->mapped_pages), &ti->freed_mapped_pages);
	xa_destroy(&d->ptes);
	kfree(d);
}

static int p2p_ti_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);
	struct p2p_ti *ti = dev_iommu_priv_get(dev);

	/* Another IOMMU instance cannot walk this domain's page table. */
	if (d->ti != ti)
		return -EINVAL;
	mutex_lock(&ti->lock);
	ti->attached = d;
	mutex_unlock(&ti->lock);
	return 0;
}

static void p2p_ti_violation(struct p2p_ti_domain *d)
{
	atomic64_inc(&d->violations);
}

/*
 * Every map call is a fault-injection site of its own, which only
 * /proc/<pid>/fail-nth arms (the attribute's probability stays 0): the call
 * then fails as a hardware IOMMU's does when it cannot allocate a page-table
 * page, -ENOMEM with nothing mapped, so that a test reaches each map call of
 * a P2P path, not only those that happen to allocate an xarray node.  Not
 * ALLOW_ERROR_INJECTION and fail_function: on x86 their kprobe runs from
 * the int3 trap, which is not task context, and fail-nth counts only sites
 * reached in task context.
 */
#ifdef CONFIG_FAULT_INJECTION
static DECLARE_FAULT_ATTR(p2p_ti_fail_nth);

static bool p2p_ti_fail_nth_here(void)
{
	return should_fail_ex(&p2p_ti_fail_nth, 1, FAULT_NOWARN);
}
#else
static bool p2p_ti_fail_nth_here(void)
{
	return false;
}
#endif

/* Does fault injection aim at a map call of [@iova, @iova + @len)? */
static bool p2p_ti_fail_here(struct p2p_ti *ti, unsigned long iova, size_t len)
{
	u64 at = READ_ONCE(ti->fail_iova);

	return at == U64_MAX || (at >= iova && at - iova < len);
}

static int p2p_ti_map_pages(struct iommu_domain *domain, unsigned long iova,
			    phys_addr_t paddr, size_t pgsize, size_t pgcount,
			    int prot, gfp_t gfp, size_t *mapped)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);
	size_t len = pgsize * pgcount, done;
	unsigned long pfn = PHYS_PFN(paddr);
	int ret;

	atomic64_inc(&d->map_calls);
	if ((p2p_ti_fail_here(d->ti, iova, len) &&
	     atomic_add_unless(&d->ti->fail_map, -1, 0)) ||
	    p2p_ti_fail_nth_here()) {
		pr_info("p2p-test-iommu%u: domain %u: injected -ENOMEM, map of IOVA %#lx\n",
			d->ti->id, d->id, iova);
		return -ENOMEM;
	}
	if (iova + len - 1 > domain->geometry.aperture_end || iova + len < iova)
		return -EINVAL;
	if (!(prot & P2P_TI_PROT_MASK))
		return -EINVAL;

	for (done = 0; done < len; done += PAGE_SIZE, pfn++) {
		unsigned long v = pfn << P2P_TI_PROT_BITS | (prot & P2P_TI_PROT_MASK);
		unsigned long idx = (iova + done) >> PAGE_SHIFT;

		ret = xa_insert(&d->ptes, idx, xa_mk_value(v), gfp);
		if (ret == -EBUSY) {
			p2p_ti_violation(d);
			WARN(!d->quiet,
			     "p2p-test-iommu%u: domain %u: map over mapped IOVA %#lx\n",
			     d->ti->id, d->id, iova + done);
			ret = -EEXIST;
		}
		if (ret)
			break;
		atomic64_inc(&d->mapped_pages);
	}
	/* What was mapped stays mapped: the core unrolls it on an error. */
	*mapped += done;
	return ret;
}

static size_t p2p_ti_unmap_pages(struct iommu_domain *domain,
				 unsigned long iova, size_t pgsize,
				 size_t pgcount,
				 struct iommu_iotlb_gather *gather)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);
	size_t len = pgsize * pgcount, done;

	atomic64_inc(&d->unmap_calls);
	for (done = 0; done < len; done += PAGE_SIZE) {
		if (!xa_erase(&d->ptes, (iova + done) >> PAGE_SHIFT)) {
			/*
			 * Stop here; the core calls again from the hole, and
			 * that call (done == 0) reports it, once.
			 */
			if (done)
				break;
			p2p_ti_violation(d);
			WARN(!d->quiet,
			     "p2p-test-iommu%u: domain %u: unmap of a hole at IOVA %#lx\n",
			     d->ti->id, d->id, iova);
			break;
		}
		atomic64_dec(&d->mapped_pages);
	}
	if (done)
		iommu_iotlb_gather_add_range(gather, iova, done);
	return done;
}

static phys_addr_t p2p_ti_iova_to_phys(struct iommu_domain *domain,
				       dma_addr_t iova)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);
	void *e = xa_load(&d->ptes, iova >> PAGE_SHIFT);

	if (!e)
		return 0;
	return PFN_PHYS(xa_to_value(e) >> P2P_TI_PROT_BITS) | offset_in_page(iova);
}

static void p2p_ti_flush_iotlb_all(struct iommu_domain *domain)
{
	atomic64_inc(&to_p2p_ti_domain(domain)->flush_all);
}

static int p2p_ti_iotlb_sync_map(struct iommu_domain *domain,
				 unsigned long iova, size_t size)
{
	atomic64_inc(&to_p2p_ti_domain(domain)->iotlb_sync_map);
	return 0;
}

static void p2p_ti_iotlb_sync(struct iommu_domain *domain,
			      struct iommu_iotlb_gather *gather)
{
	atomic64_inc(&to_p2p_ti_domain(domain)->iotlb_sync);
}

static const struct iommu_domain_ops p2p_ti_paging_ops = {
	.attach_dev = p2p_ti_attach_dev,
	.map_pages = p2p_ti_map_pages,
	.unmap_pages = p2p_ti_unmap_pages,
	.iova_to_phys = p2p_ti_iova_to_phys,
	.flush_iotlb_all = p2p_ti_flush_iotlb_all,
	.iotlb_sync_map = p2p_ti_iotlb_sync_map,
	.iotlb_sync = p2p_ti_iotlb_sync,
	.free = p2p_ti_domain_free,
};

static int p2p_ti_set_dirty_tracking(struct iommu_domain *domain, bool enable)
{
	WRITE_ONCE(to_p2p_ti_domain(domain)->dirty_tracking, enable);
	return 0;
}

/*
 * Report, and unless IOMMU_DIRTY_NO_CLEAR clear, the dirty entries of
 * [@iova, @iova + @size).  The range must be mapped: a hole stops the walk
 * with a WARN and -EINVAL, as it does io-pgtable-arm's.
 */
static int p2p_ti_read_and_clear_dirty(struct iommu_domain *domain,
				       unsigned long iova, size_t size,
				       unsigned long flags,
				       struct iommu_dirty_bitmap *dirty)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);
	unsigned long at, end = iova + size;

	if (!READ_ONCE(d->dirty_tracking) && dirty->bitmap)
		return -EINVAL;
	for (at = ALIGN_DOWN(iova, PAGE_SIZE); at < end; at += PAGE_SIZE) {
		unsigned long idx = at >> PAGE_SHIFT, v;
		void *e = xa_load(&d->ptes, idx);

		if (!e) {
			p2p_ti_violation(d);
			WARN(!d->quiet,
			     "p2p-test-iommu%u: domain %u: dirty walk over a hole at IOVA %#lx\n",
			     d->ti->id, d->id, at);
			return -EINVAL;
		}
		v = xa_to_value(e);
		if (!(v & P2P_TI_DIRTY))
			continue;
		iommu_dirty_bitmap_record(dirty, at, PAGE_SIZE);
		if (!(flags & IOMMU_DIRTY_NO_CLEAR))
			xa_cmpxchg(&d->ptes, idx, e, xa_mk_value(v & ~P2P_TI_DIRTY),
				   GFP_ATOMIC);
	}
	return 0;
}

static const struct iommu_dirty_ops p2p_ti_dirty_ops = {
	.set_dirty_tracking = p2p_ti_set_dirty_tracking,
	.read_and_clear_dirty = p2p_ti_read_and_clear_dirty,
};

static struct iommu_device *p2p_ti_probe_device(struct device *dev)
{
	struct p2p_ti *ti = dev_to_p2p_ti(dev);

	if (!ti)
		return ERR_PTR(-ENODEV);
	dev_iommu_priv_set(dev, ti);
	return &ti->iommu;
}

static bool p2p_ti_capable(struct device *dev, enum iommu_cap cap)
{
	return cap == IOMMU_CAP_CACHE_COHERENCY ||
	       cap == IOMMU_CAP_DIRTY_TRACKING;
}

static const struct iommu_ops p2p_ti_ops = {
	/* IOMMU_DOMAIN_BLOCKED is 0: def_domain_type() cannot return it. */
	.default_domain = &p2p_ti_blocked_domain,
	.blocked_domain = &p2p_ti_blocked_domain,
	.owner = THIS_MODULE,
	.pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G,
	.capable = p2p_ti_capable,
	.domain_alloc_paging = p2p_ti_domain_alloc_paging,
	.domain_alloc_user = p2p_ti_domain_alloc_user,
	.probe_device = p2p_ti_probe_device,
	.device_group = generic_device_group,
	.default_domain_ops = &p2p_ti_paging_ops,
};

/**
 * p2p_test_iommu_translate() - translate a DMA as the client's IOMMU would
 * @dev: a client device of the test IOMMU
 * @iova: the bus address the device accesses
 * @write: the access is a write
 * @phys: where the physical address goes
 *
 * Walks the domain attached to @dev now.  A write the entry permits, while
 * that domain tracks dirty entries, sets the entry's dirty bit.
 *
 * Return: 0; -EFAULT when no paging domain is attached or @iova is not
 * mapped there (the IOMMU would report a translation fault); -EPERM when
 * the entry does not permit the access.
 */
int p2p_test_iommu_translate(struct device *dev, u64 iova, bool write,
			     phys_addr_t *phys)
{
	struct p2p_ti *ti = dev_iommu_priv_get(dev);
	unsigned long idx = iova >> PAGE_SHIFT, v;
	struct p2p_ti_domain *d;
	int ret = -EFAULT;
	void *e;

	mutex_lock(&ti->lock);
	d = ti->attached;
	e = d ? xa_load(&d->ptes, idx) : NULL;
	if (e) {
		v = xa_to_value(e);
		ret = 0;
		if (!(v & (write ? IOMMU_WRITE : IOMMU_READ)))
			ret = -EPERM;
		else if (write && READ_ONCE(d->dirty_tracking) &&
			 !(v & P2P_TI_DIRTY))
			xa_cmpxchg(&d->ptes, idx, e, xa_mk_value(v | P2P_TI_DIRTY),
				   GFP_KERNEL);
		*phys = PFN_PHYS(v >> P2P_TI_PROT_BITS) | offset_in_page(iova);
	}
	mutex_unlock(&ti->lock);
	return ret;
}

/**
 * p2p_test_iommu_count_fault() - count a DMA the client's IOMMU refused
 * @dev: a client device of the test IOMMU
 */
void p2p_test_iommu_count_fault(struct device *dev)
{
	struct p2p_ti *ti = dev_iommu_priv_get(dev);

	atomic_inc(&ti->faults);
}

/**
 * p2p_test_iommu_instance() - the instance a client device sits behind
 * @dev: a client device of the test IOMMU
 *
 * Return: the instance number, the <n> of debugfs vfio-p2p-test-iommu/<n>.
 */
unsigned int p2p_test_iommu_instance(struct device *dev)
{
	struct p2p_ti *ti = dev_iommu_priv_get(dev);

	return ti->id;
}

/**
 * p2p_test_iommu_client() - the client device of an instance
 * @instance: the instance number
 *
 * Return: the device, or NULL if the instance does not exist.
 */
struct device *p2p_test_iommu_client(unsigned int instance)
{
	if (instance >= P2P_TEST_IOMMU_COUNT || !p2p_ti[instance].client)
		return NULL;
	return &p2p_ti[instance].client->dev;
}

/**
 * p2p_test_iommu_alloc_user_domain() - allocate a domain as iommufd does
 * @dev: a client device of the test IOMMU
 * @flags: IOMMU_HWPT_ALLOC_* flags, as ->domain_alloc_user() takes them
 *
 * For the KUnit suite, which cannot reach the device's iommu_ops: the domain
 * comes from ->domain_alloc_user() and gets its owner set, as
 * iommufd_hwpt_paging_alloc() does.  Free it with iommu_domain_free().
 *
 * Return: the domain, or an ERR_PTR().
 */
struct iommu_domain *p2p_test_iommu_alloc_user_domain(struct device *dev,
						      u32 flags)
{
	struct iommu_domain *domain;

	domain = p2p_ti_ops.domain_alloc_user(dev, flags, NULL, NULL);
	if (!IS_ERR(domain))
		domain->owner = &p2p_ti_ops;
	return domain;
}

/**
 * p2p_test_iommu_set_quiet() - count strictness violations without a WARN
 * @domain: a paging domain of the test IOMMU
 * @quiet: true for KUnit cases that commit violations on purpose
 */
void p2p_test_iommu_set_quiet(struct iommu_domain *domain, bool quiet)
{
	to_p2p_ti_domain(domain)->quiet = quiet;
}

/**
 * p2p_test_iommu_get_stats() - read a domain's counters
 * @domain: a paging domain of the test IOMMU
 * @st: where the counters go
 */
void p2p_test_iommu_get_stats(struct iommu_domain *domain,
			      struct p2p_test_iommu_stats *st)
{
	struct p2p_ti_domain *d = to_p2p_ti_domain(domain);

	st->map_calls = atomic64_read(&d->map_calls);
	st->unmap_calls = atomic64_read(&d->unmap_calls);
	st->iotlb_sync = atomic64_read(&d->iotlb_sync);
	st->iotlb_sync_map = atomic64_read(&d->iotlb_sync_map);
	st->flush_all = atomic64_read(&d->flush_all);
	st->violations = atomic64_read(&d->violations);
	st->mapped_pages = atomic64_read(&d->mapped_pages);
}

/* One line per run of contiguous IOVAs and pfns: "iova pfn pages prot". */
static void p2p_ti_show_run(struct seq_file *s, unsigned long idx,
			    unsigned long pfn, unsigned long n, int prot)
{
	if (!n)
		return;
	seq_printf(s, "%#lx %#lx %lu %c%c\n", idx << PAGE_SHIFT, pfn, n,
		   prot & IOMMU_READ ? 'r' : '-', prot & IOMMU_WRITE ? 'w' : '-');
}

static int p2p_ti_mappings_show(struct seq_file *s, void *unused)
{
	struct p2p_ti *ti = s->private;
	unsigned long idx, start = 0, pfn0 = 0, n = 0;
	int prot0 = 0;
	void *e;

	mutex_lock(&ti->lock);
	if (!ti->attached) {
		seq_puts(s, "domain none\n");
		goto out;
	}
	seq_printf(s, "domain %u\n", ti->attached->id);
	xa_for_each(&ti->attached->ptes, idx, e) {
		unsigned long v = xa_to_value(e);
		unsigned long pfn = v >> P2P_TI_PROT_BITS;
		int prot = v & P2P_TI_PROT_MASK;

		if (n && idx == start + n && pfn == pfn0 + n && prot == prot0) {
			n++;
			continue;
		}
		p2p_ti_show_run(s, start, pfn0, n, prot0);
		start = idx;
		pfn0 = pfn;
		prot0 = prot;
		n = 1;
	}
	p2p_ti_show_run(s, start, pfn0, n, prot0);
out:
	mutex_unlock(&ti->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(p2p_ti_mappings);

static int p2p_ti_stats_show(struct seq_file *s, void *unused)
{
	struct p2p_ti *ti = s->private;
	struct p2p_test_iommu_stats st;

	mutex_lock(&ti->lock);
	if (!ti->attached) {
		seq_puts(s, "domain none\n");
		goto out;
	}
	p2p_test_iommu_get_stats(&ti->attached->domain, &st);
	seq_printf(s, "domain %u\n", ti->attached->id);
	seq_printf(s, "map_calls %llu\n", st.map_calls);
	seq_printf(s, "unmap_calls %llu\n", st.unmap_calls);
	seq_printf(s, "iotlb_sync %llu\n", st.iotlb_sync);
	seq_printf(s, "iotlb_sync_map %llu\n", st.iotlb_sync_map);
	seq_printf(s, "flush_all %llu\n", st.flush_all);
	seq_printf(s, "violations %llu\n", st.violations);
	seq_printf(s, "mapped_pages %llu\n", st.mapped_pages);
out:
	seq_printf(s, "freed_mapped_pages %lld\n",
		   (long long)atomic64_read(&ti->freed_mapped_pages));
	mutex_unlock(&ti->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(p2p_ti_stats);

static int __init p2p_ti_add(struct p2p_ti *ti, unsigned int id)
{
	struct platform_device *client;
	struct dentry *dir;
	char name[16];
	int ret;

	ti->id = id;
	mutex_init(&ti->lock);
	INIT_LIST_HEAD(&ti->domains);
	ti->fwnode = fwnode_create_software_node(NULL, NULL);
	if (IS_ERR(ti->fwnode)) {
		ret = PTR_ERR(ti->fwnode);
		ti->fwnode = NULL;
		return ret;
	}
	ret = iommu_device_sysfs_add(&ti->iommu, NULL, NULL, "p2p-test-iommu%u", id);
	if (ret)
		goto err_fwnode;
	/* Clients find the instance by this fwnode (iommu_ops_from_fwnode()). */
	ti->iommu.fwnode = ti->fwnode;
	ret = iommu_device_register(&ti->iommu, &p2p_ti_ops, NULL);
	if (ret)
		goto err_sysfs;

	client = platform_device_alloc(P2P_TEST_DEV_NAME, id);
	if (!client) {
		ret = -ENOMEM;
		goto err_unregister;
	}
	mutex_lock(&iommu_probe_device_lock);
	ret = iommu_fwspec_init(&client->dev, ti->fwnode);
	mutex_unlock(&iommu_probe_device_lock);
	if (ret)
		goto err_put;
	ti->client = client;

	snprintf(name, sizeof(name), "%u", id);
	dir = debugfs_create_dir(name, p2p_ti_debugfs);
	debugfs_create_file("mappings", 0400, dir, ti, &p2p_ti_mappings_fops);
	debugfs_create_file("stats", 0400, dir, ti, &p2p_ti_stats_fops);
	debugfs_create_atomic_t("fail_map", 0600, dir, &ti->fail_map);
	ti->fail_iova = U64_MAX;
	debugfs_create_x64("fail_iova", 0600, dir, &ti->fail_iova);
	debugfs_create_atomic_t("faults", 0400, dir, &ti->faults);

	/* The IOMMU core probes the client here, through its fwspec. */
	ret = platform_device_add(client);
	if (ret) {
		ti->client = NULL;
		debugfs_remove_recursive(dir);
		goto err_put;
	}
	return 0;

err_put:
	platform_device_put(client);
err_unregister:
	iommu_device_unregister(&ti->iommu);
err_sysfs:
	iommu_device_sysfs_remove(&ti->iommu);
err_fwnode:
	fwnode_remove_software_node(ti->fwnode);
	ti->fwnode = NULL;
	return ret;
}

static int __init p2p_ti_init(void)
{
	unsigned int i;
	int ret;

	p2p_ti_debugfs = debugfs_create_dir("vfio-p2p-test-iommu", NULL);
	for (i = 0; i < P2P_TEST_IOMMU_COUNT; i++) {
		ret = p2p_ti_add(&p2p_ti[i], i);
		if (ret) {
			pr_err("p2p-test-iommu%u: setup failed: %d\n", i, ret);
			return ret;
		}
	}
	pr_info("p2p-test-iommu: %d test-only IOMMU instances, one client each\n",
		P2P_TEST_IOMMU_COUNT);
	return 0;
}

/* After vfio core and the client driver (device_initcall) are up. */
late_initcall(p2p_ti_init);
