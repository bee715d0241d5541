// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio device VMAs: vfio core's struct vfio_vma_private_data in every mmap
 * of a vfio device fd, the vm_ops wrapper that keeps it counted across
 * split, fork and mremap, and the one-step pfn lookup (vfio_vma_to_pfn()).
 * What a vfio VMA is, what P2P-capable means, the pfn arithmetic and who
 * holds whom: Documentation/driver-api/vfio-p2p.rst.  What is this file's
 * alone:
 *
 * - The registry.  Every private data core made is in a hash table of
 *   pointers, written under vfio_vma_privs_lock (a leaf spinlock) and read
 *   under RCU, from its allocation until the last ->close; it is freed
 *   after a grace period.  vm_private_data is only compared against the
 *   registry, never dereferenced, until it is found there with the device
 *   of vm_file, so a membership check is safe whatever vm_private_data
 *   holds.
 * - A private data is immutable once .mmap returns, except its users count
 *   (atomic).  Callers of the lookups hold mmap_lock on the VMA's mm,
 *   which keeps the VMA, and so its private data, alive.
 * - Here the rule (no IOMMU mapping outlives the BAR it points at) means:
 *   vfio_vma_to_pfn() never returns a pfn outside the extent the driver
 *   validated at mmap() time, nor one while the device memory is disabled.
 */
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vfio.h>
#include <linux/vfio_p2p_iommu.h>

#include "vfio.h"
#include "p2p.h"

static const struct vm_operations_struct vfio_vma_ops[4];

/* Every private data core made and has not freed: the registry, above. */
#define VFIO_VMA_PRIVS_BITS	8
static DEFINE_HASHTABLE(vfio_vma_privs, VFIO_VMA_PRIVS_BITS);
static DEFINE_SPINLOCK(vfio_vma_privs_lock);

static void vfio_vma_priv_register(struct vfio_vma_private_data *priv)
{
	spin_lock(&vfio_vma_privs_lock);
	hash_add_rcu(vfio_vma_privs, &priv->node, (unsigned long)priv);
	spin_unlock(&vfio_vma_privs_lock);
}

static void vfio_vma_priv_free(struct vfio_vma_private_data *priv)
{
	spin_lock(&vfio_vma_privs_lock);
	hash_del_rcu(&priv->node);
	spin_unlock(&vfio_vma_privs_lock);
	kfree_rcu(priv, rcu);
}

/*
 * The registered private data that vm_private_data of @vma points at, if it
 * belongs to the device of vm_file; NULL otherwise.  @data is only compared,
 * never dereferenced, until it is found registered.
 */
static struct vfio_vma_private_data *
vfio_vma_priv_lookup(struct vm_area_struct *vma)
{
	struct vfio_device_file *df = vma->vm_file->private_data;
	struct vfio_vma_private_data *priv, *found = NULL;
	void *data = vma->vm_private_data;

	rcu_read_lock();
	hash_for_each_possible_rcu(vfio_vma_privs, priv, node,
				   (unsigned long)data) {
		if (priv == data) {
			if (priv->device == df->device)
				found = priv;
			break;
		}
	}
	rcu_read_unlock();
	/* Alive after the unlock: the VMA holds a users count on it. */
	return found;
}

/**
 * vfio_vma_private() - core's private data of a vfio VMA
 * @vma: any VMA
 *
 * Return: the private data, or NULL when @vma is not a vfio VMA, including
 * one whose vm_private_data its driver overwrote after .mmap.
 */
struct vfio_vma_private_data *vfio_vma_private(struct vm_area_struct *vma)
{
	if (!vma->vm_file || vma->vm_file->f_op != &vfio_device_fops)
		return NULL;
	if (vma->vm_ops < vfio_vma_ops ||
	    vma->vm_ops >= vfio_vma_ops + ARRAY_SIZE(vfio_vma_ops))
		return NULL;
	return vfio_vma_priv_lookup(vma);
}

/*
 * For core's vm_ops: the private data, or NULL (logged) when the driver
 * overwrote vm_private_data.  That is a driver bug, but one a user can make
 * visible, so it is logged at a rate, not warned.
 */
static struct vfio_vma_private_data *wrapped_priv(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = vfio_vma_private(vma);

	if (!priv)
		pr_err_ratelimited("vfio: vm_private_data of a vfio device mapping at 0x%lx was overwritten by its driver; mapping refused\n",
				   vma->vm_start);
	return priv;
}

static void vfio_vma_open(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv)
		return;
	refcount_inc(&priv->users);
	if (priv->driver_ops->open)
		priv->driver_ops->open(vma);
}

/*
 * With a forged vm_private_data this frees nothing and forwards nothing:
 * the object is not core's, and which driver callback to call is unknown.
 */
static void vfio_vma_close(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv)
		return;
	if (priv->driver_ops->close)
		priv->driver_ops->close(vma);
	if (refcount_dec_and_test(&priv->users)) {
		put_device(&priv->device->device);
		vfio_vma_priv_free(priv);
	}
}

/*
 * The forwarders.  Where the driver has no callback, each returns what mm
 * does without one, so wrapping changes nothing a driver or user can see.
 * A mapping whose private data was overwritten is refused.
 */
static int vfio_vma_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv)
		return -EINVAL;
	return priv->driver_ops->may_split ?
	       priv->driver_ops->may_split(vma, addr) : 0;
}

static int vfio_vma_mremap(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv)
		return -EINVAL;
	return priv->driver_ops->mremap ? priv->driver_ops->mremap(vma) : 0;
}

static int vfio_vma_mprotect(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end, unsigned long newflags)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv)
		return -EINVAL;
	return priv->driver_ops->mprotect ?
	       priv->driver_ops->mprotect(vma, start, end, newflags) : 0;
}

/* Only in the tables for drivers that have these two. */
static vm_fault_t vfio_vma_fault(struct vm_fault *vmf)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vmf->vma);

	return priv ? priv->driver_ops->fault(vmf) : VM_FAULT_SIGBUS;
}

static vm_fault_t vfio_vma_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vmf->vma);

	return priv ? priv->driver_ops->huge_fault(vmf, order) : VM_FAULT_SIGBUS;
}

static unsigned long vfio_vma_pagesize(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv || !priv->driver_ops->pagesize)
		return PAGE_SIZE;
	return priv->driver_ops->pagesize(vma);
}

static int vfio_vma_access(struct vm_area_struct *vma, unsigned long addr,
			   void *buf, int len, int write)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv || !priv->driver_ops->access)
		return 0;
	return priv->driver_ops->access(vma, addr, buf, len, write);
}

static const char *vfio_vma_name(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv || !priv->driver_ops->name)
		return NULL;
	return priv->driver_ops->name(vma);
}

static struct page *vfio_vma_find_special_page(struct vm_area_struct *vma,
					       unsigned long addr)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	if (!priv || !priv->driver_ops->find_special_page)
		return NULL;
	return priv->driver_ops->find_special_page(vma, addr);
}

/*
 * Whether a VMA has ->fault or ->huge_fault changes what mm does (a VMA
 * without ->fault is retried, not failed, when its pte was only cleared for
 * an update; one with ->huge_fault is offered huge faults), so the wrapper
 * comes in four tables, one per combination, and each driver gets the one
 * that has exactly the callbacks it has.
 */
#define VFIO_VMA_OPS(_fault, _huge_fault) {				\
	.open = vfio_vma_open,						\
	.close = vfio_vma_close,					\
	.may_split = vfio_vma_may_split,				\
	.mremap = vfio_vma_mremap,					\
	.mprotect = vfio_vma_mprotect,					\
	.fault = _fault,						\
	.huge_fault = _huge_fault,					\
	.pagesize = vfio_vma_pagesize,					\
	.access = vfio_vma_access,					\
	.name = vfio_vma_name,						\
	.find_special_page = vfio_vma_find_special_page,		\
}

static const struct vm_operations_struct vfio_vma_ops[4] = {
	VFIO_VMA_OPS(NULL, NULL),
	VFIO_VMA_OPS(vfio_vma_fault, NULL),
	VFIO_VMA_OPS(NULL, vfio_vma_huge_fault),
	VFIO_VMA_OPS(vfio_vma_fault, vfio_vma_huge_fault),
};

static const struct vm_operations_struct *
vfio_vma_ops_for(const struct vm_operations_struct *driver_ops)
{
	return &vfio_vma_ops[(driver_ops->fault ? 1 : 0) |
			     (driver_ops->huge_fault ? 2 : 0)];
}

/*
 * Callbacks whose mere presence changes what mm does (write-notify, NUMA
 * policy, fault-around) cannot be forwarded by one table; no vfio driver
 * has them.  A driver that does keeps its VMAs unwrapped.
 */
static bool vfio_vma_can_wrap(const struct vm_operations_struct *ops)
{
	if (ops->page_mkwrite || ops->pfn_mkwrite || ops->map_pages)
		return false;
#ifdef CONFIG_NUMA
	if (ops->set_policy || ops->get_policy)
		return false;
#endif
	return true;
}

/**
 * vfio_device_mmap_vma() - mmap a vfio device fd through its driver
 * @device: the device the fd belongs to
 * @vma: the new VMA
 *
 * Allocates core's private data and makes it vm_private_data before calling
 * the driver's .mmap, which may fill it in through vfio_vma_set_base_pfn()
 * and vfio_vma_set_driver_data().  On success the driver's vm_ops are
 * wrapped.  A driver that overwrote vm_private_data keeps its VMA as it made
 * it, and that VMA is not a vfio VMA.  The private data is in the registry
 * from before .mmap until the last ->close (or .mmap's failure).  A driver that uses core's private
 * data but has vm_ops the wrapper cannot forward is a bug, refused.
 *
 * Return: what the driver's .mmap returned.
 */
int vfio_device_mmap_vma(struct vfio_device *device, struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv;
	int ret;

	priv = kzalloc(sizeof(*priv), GFP_KERNEL_ACCOUNT);
	if (!priv)
		return -ENOMEM;
	priv->device = device;
	refcount_set(&priv->users, 1);
	vfio_vma_priv_register(priv);
	vma->vm_private_data = priv;

	ret = device->ops->mmap(device, vma);
	if (ret) {
		vma->vm_private_data = NULL;
		vfio_vma_priv_free(priv);
		return ret;
	}
	if (vma->vm_private_data != priv) {
		/* A driver that still owns vm_private_data: leave it be. */
		dev_dbg(device->dev,
			"vfio: %ps sets vm_private_data itself; mapping is not P2P-capable\n",
			device->ops->mmap);
		vfio_vma_priv_free(priv);
		return 0;
	}
	if (WARN_ONCE(!vfio_vma_can_wrap(vma->vm_ops),
		      "vfio: %ps: vm_ops core cannot wrap\n", device->ops->mmap)) {
		vma->vm_private_data = NULL;
		vfio_vma_priv_free(priv);
		return -EINVAL;
	}

	/*
	 * Only now: some drivers rewrite vm_pgoff in .mmap (to the pfn they
	 * map).  VM_PFNMAP VMAs never merge, so both are final here.
	 */
	priv->pgoff = vma->vm_pgoff;
	priv->nr_pages = vma_pages(vma);
	/*
	 * The module vfio_df_device_first_open() pinned for this open, and
	 * vfio_device_get_from_vma() pins again: a vfio_device never changes
	 * driver, so every mmap stores the same value.
	 */
	WRITE_ONCE(device->p2p.owner, device->dev->driver->owner);
	get_device(&device->device);
	priv->driver_ops = vma->vm_ops;
	vma->vm_ops = vfio_vma_ops_for(priv->driver_ops);
	return 0;
}

/*
 * In the driver's .mmap, before core wraps vm_ops: the private data if
 * vm_private_data is still core's.  Logged otherwise: a driver that writes
 * vm_private_data itself must not call the setters.
 */
static struct vfio_vma_private_data *
vfio_vma_mmap_priv(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = NULL;

	if (vma->vm_file && vma->vm_file->f_op == &vfio_device_fops)
		priv = vfio_vma_priv_lookup(vma);
	if (!priv)
		pr_err_ratelimited("vfio: a vfio_vma_set_*() call outside .mmap of a vfio device, or after the driver set vm_private_data; ignored\n");
	return priv;
}

/**
 * vfio_vma_set_base_pfn() - say which pfn backs the start of a device mmap
 * @vma: the VMA being set up, in the driver's .mmap
 * @pfn: the pfn at vma->vm_start; the mapping covers vma_pages(@vma) pfns
 *	from there, which the driver has checked lie inside its region
 *
 * Makes the mapping P2P-capable: IOMMU backends can then map it without
 * faulting it in or walking page tables.  Only for .mmap of a vfio device.
 */
void vfio_vma_set_base_pfn(struct vm_area_struct *vma, unsigned long pfn)
{
	struct vfio_vma_private_data *priv = vfio_vma_mmap_priv(vma);

	if (!priv)
		return;
	priv->base_pfn = pfn;
	priv->has_pfn = true;
}
EXPORT_SYMBOL_GPL(vfio_vma_set_base_pfn);

/**
 * vfio_vma_set_driver_data() - keep the driver's own pointer with a VMA
 * @vma: the VMA being set up, in the driver's .mmap
 * @data: what vfio_vma_driver_data() will return
 *
 * vm_private_data belongs to vfio core; a vfio driver keeps its per-mapping
 * pointer here instead.
 */
void vfio_vma_set_driver_data(struct vm_area_struct *vma, void *data)
{
	struct vfio_vma_private_data *priv = vfio_vma_mmap_priv(vma);

	if (!priv)
		return;
	priv->driver_data = data;
}
EXPORT_SYMBOL_GPL(vfio_vma_set_driver_data);

/**
 * vfio_vma_driver_data() - the driver's pointer of a vfio VMA
 * @vma: a VMA of a vfio device fd, as seen by the driver's vm_ops
 *
 * Return: what the driver passed to vfio_vma_set_driver_data(); NULL if
 * vm_private_data of @vma was overwritten since .mmap (logged).
 */
void *vfio_vma_driver_data(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = wrapped_priv(vma);

	return priv ? priv->driver_data : NULL;
}
EXPORT_SYMBOL_GPL(vfio_vma_driver_data);

/**
 * vfio_device_get_from_vma() - the vfio device a VMA maps
 * @vma: any VMA; the caller holds mmap_lock on its mm
 *
 * Recognizes a vfio VMA by its file (vfio's device fops) and by core's
 * vm_ops wrapper, never by data a driver could forget or forge.
 *
 * Return: a counted reference to the device and one to the module of the
 * driver bound to it (whose ->release the last device reference runs), both
 * to be dropped with vfio_device_put_from_vma() and by nothing else;
 * ERR_PTR(-ENODEV) if @vma is not a vfio VMA.  The references keep the
 * &struct vfio_device alive and its driver's code loaded, not the device
 * open: they never delay close, unbind or unregister (the module reference
 * does hold off rmmod of the driver until the put).  Listen on the device
 * notifier to learn when the device goes away.
 */
struct vfio_device *vfio_device_get_from_vma(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = vfio_vma_private(vma);

	if (!priv)
		return ERR_PTR(-ENODEV);
	/*
	 * The VMA holds the device fd, so the device is open and its module
	 * already pinned by the open: this cannot fail.
	 */
	__module_get(READ_ONCE(priv->device->p2p.owner));
	get_device(&priv->device->device);
	return priv->device;
}
EXPORT_SYMBOL_GPL(vfio_device_get_from_vma);

/**
 * vfio_device_put_from_vma() - drop the references vfio_device_get_from_vma()
 *	took
 * @device: the device it returned
 *
 * Drops the device reference, which may free the device through its
 * driver's ->release, and then the driver's module reference.  May sleep;
 * must not be called under a lock that the driver's ->release, or closing
 * the device, takes (e.g. an IOMMU backend's own lock: kvmgt's close takes
 * dev_set->lock then type1's iommu->lock).
 */
void vfio_device_put_from_vma(struct vfio_device *device)
{
	struct module *owner = READ_ONCE(device->p2p.owner);

	put_device(&device->device);
	module_put(owner);
}
EXPORT_SYMBOL_GPL(vfio_device_put_from_vma);

/*
 * P2P-capable (Documentation/driver-api/vfio-p2p.rst): shared, since in a
 * private mapping a written page is an anonymous copy; VM_PFNMAP or VM_IO,
 * so that GUP never pins it as RAM and backends look for it where it fails;
 * and the driver tells its pfns.
 */
static bool vma_p2p_capable(struct vm_area_struct *vma,
			    struct vfio_vma_private_data *priv)
{
	return !is_cow_mapping(vma->vm_flags) &&
	       (vma->vm_flags & (VM_PFNMAP | VM_IO)) &&
	       (priv->has_pfn || priv->device->ops->vma_to_pfn);
}

/**
 * vfio_vma_p2p_check() - what kind of mapping a VMA is, for an IOMMU backend
 * @vma: any VMA; the caller holds mmap_lock on its mm
 *
 * Classifies @vma without looking up, allocating or faulting any pfn: the
 * answer says whether a P2P mapping of it may be attempted (through
 * vfio_p2p_map()), not that one will succeed.
 *
 * Return: 0 if @vma is a P2P-capable vfio device mmap whose device memory
 * is usable now; -ENODEV if @vma is not a vfio device mmap; -EOPNOTSUPP if
 * it is one but not P2P-capable (a private mapping, one that is neither
 * VM_PFNMAP nor VM_IO, or a driver that does not tell its pfns); -EIO
 * while the device memory is disabled (decode off, reset, low power).
 * -ENODEV and -EOPNOTSUPP hold while the caller holds mmap_lock; 0 and
 * -EIO are only advice and may change any time, so the path that maps must
 * still follow "Looking up a pfn safely" in
 * Documentation/driver-api/vfio-p2p.rst.
 */
int vfio_vma_p2p_check(struct vm_area_struct *vma)
{
	struct vfio_vma_private_data *priv = vfio_vma_private(vma);

	if (!priv)
		return -ENODEV;
	if (!vma_p2p_capable(vma, priv))
		return -EOPNOTSUPP;
	if (READ_ONCE(priv->device->p2p.mem_disabled))
		return -EIO;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_vma_p2p_check);

/**
 * vfio_vma_to_pfn() - the pfns behind a user address of a vfio VMA
 * @vma: the VMA holding @addr; the caller holds mmap_lock on its mm
 * @addr: a user address inside @vma
 * @pfn: returns the pfn backing @addr
 * @nr_pages: returns how many pfns from *@pfn on are contiguous and belong
 *	to @vma from @addr on: at least 1, at most up to vm_end
 *
 * The one lookup IOMMU backends use: base_pfn + offset, or the driver's
 * vma_to_pfn op.  It never faults the mapping in and never walks page
 * tables, so an untouched mapping resolves exactly like a touched one.
 *
 * The result is valid only until the device notifier says otherwise: the
 * caller must be registered on the device's notifier, and must hold, from
 * before this call until its use of the pfns is visible to its notifier
 * callback, a lock that callback takes, or check under that lock that no
 * DISABLE or RELEASE came in between: "Looking up a pfn safely" in
 * Documentation/driver-api/vfio-p2p.rst.
 *
 * Return: 0; -ENODEV if @vma is not a vfio VMA; -EOPNOTSUPP if it is not
 * P2P-capable (as vfio_vma_p2p_check() says); -EIO while
 * the device memory is disabled (decode off, reset, low power); -EFAULT if
 * @addr is outside @vma; or the driver op's error.
 */
int vfio_vma_to_pfn(struct vm_area_struct *vma, unsigned long addr,
		    unsigned long *pfn, unsigned long *nr_pages)
{
	struct vfio_vma_private_data *priv = vfio_vma_private(vma);
	unsigned long idx, left = (vma->vm_end - (addr & PAGE_MASK)) >> PAGE_SHIFT;
	struct vfio_device *device;
	int ret;

	if (!priv)
		return -ENODEV;
	device = priv->device;
	if (addr < vma->vm_start || addr >= vma->vm_end)
		return -EFAULT;
	if (!vma_p2p_capable(vma, priv))
		return -EOPNOTSUPP;
	/* Waits for a reset in progress, as the CPU fault handler does. */
	ret = vfio_device_mem_check(device);
	if (ret)
		return ret;

	if (priv->has_pfn) {
		idx = vma->vm_pgoff - priv->pgoff +
		      ((addr - vma->vm_start) >> PAGE_SHIFT);
		/* Split and mremap never grow a mapping past its mmap(). */
		if (WARN_ON_ONCE(idx >= priv->nr_pages))
			return -EFAULT;
		*pfn = priv->base_pfn + idx;
		*nr_pages = min(left, priv->nr_pages - idx);
		return 0;
	}

	ret = device->ops->vma_to_pfn(device, vma, addr, pfn, nr_pages);
	if (ret)
		return ret;
	if (WARN_ON_ONCE(!*nr_pages))
		return -EFAULT;
	*nr_pages = min(*nr_pages, left);
	return 0;
}
